//! The metadata store: images, references, layer blobs and snapshots in SQLite (WAL mode).
//! One connection behind a mutex: every change is one transaction, so a tag update or a pull's
//! final "image + refs" write is all-or-nothing even if the daemon is killed.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::digest::Digest;
use crate::error::Error;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    size INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    last_tag_time TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE INDEX IF NOT EXISTS refs_by_image ON refs(image_id);
CREATE TABLE IF NOT EXISTS layer_blobs (
    digest TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    source_repo TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS snapshots (
    chain_id TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    diff_id TEXT NOT NULL,
    link TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS active (
    key TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    created INTEGER NOT NULL
);
";

pub struct Meta {
    conn: Mutex<Connection>,
}

#[derive(Clone, Debug)]
pub struct ImageRow {
    pub id: String,
    pub manifest: Digest,
    pub size: u64,
    pub stored_at: i64,
    pub last_tag_time: String,
}

#[derive(Clone, Debug)]
pub struct SnapshotRow {
    pub chain_id: Digest,
    pub parent: String,
    pub diff_id: Digest,
    pub link: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct LayerBlob {
    pub digest: Digest,
    pub diff_id: Digest,
    pub media_type: String,
    pub size: u64,
    pub source_repo: String,
}

fn digest_col(s: String) -> rusqlite::Result<Digest> {
    Digest::parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Meta {
    pub fn open(path: &Path) -> Result<Meta, Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::parents::SCHEMA)?;
        Ok(Meta {
            conn: Mutex::new(conn),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one transaction, committed only if it returns Ok.
    pub fn tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRow>, Error> {
        image_row(&self.lock(), id)
    }

    pub fn images(&self) -> Result<Vec<ImageRow>, Error> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT id, manifest, size, stored_at, last_tag_time FROM images ORDER BY stored_at DESC")?;
        let rows = st.query_map([], map_image)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn ref_target(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self
            .lock()
            .query_row("SELECT image_id FROM refs WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn refs_of(&self, image_id: &str) -> Result<Vec<String>, Error> {
        refs_of(&self.lock(), image_id)
    }

    pub fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT id FROM images WHERE id >= ?1 AND id < ?2")?;
        let hi = format!("{prefix}\u{10ffff}");
        let rows = st.query_map(params![prefix, hi], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn layer_blob(&self, digest: &Digest) -> Result<Option<LayerBlob>, Error> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT digest, diff_id, media_type, size, source_repo FROM layer_blobs WHERE digest = ?1",
                [digest.as_str()],
                map_layer_blob,
            )
            .optional()?)
    }

    pub fn snapshot(&self, chain_id: &Digest) -> Result<Option<SnapshotRow>, Error> {
        snapshot_row(&self.lock(), chain_id)
    }

    pub fn snapshots(&self) -> Result<Vec<SnapshotRow>, Error> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT chain_id, parent, diff_id, link, size FROM snapshots")?;
        let rows = st.query_map([], map_snapshot)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn active(&self, key: &str) -> Result<Option<(String, String)>, Error> {
        Ok(self
            .lock()
            .query_row(
                "SELECT image_id, chain_id FROM active WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn actives(&self) -> Result<Vec<(String, String, String)>, Error> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT key, image_id, chain_id FROM active")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn map_image(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        id: r.get(0)?,
        manifest: digest_col(r.get(1)?)?,
        size: r.get::<_, i64>(2)? as u64,
        stored_at: r.get(3)?,
        last_tag_time: r.get(4)?,
    })
}

fn map_snapshot(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotRow> {
    Ok(SnapshotRow {
        chain_id: digest_col(r.get(0)?)?,
        parent: r.get(1)?,
        diff_id: digest_col(r.get(2)?)?,
        link: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
    })
}

fn map_layer_blob(r: &rusqlite::Row<'_>) -> rusqlite::Result<LayerBlob> {
    Ok(LayerBlob {
        digest: digest_col(r.get(0)?)?,
        diff_id: digest_col(r.get(1)?)?,
        media_type: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        source_repo: r.get(4)?,
    })
}

pub fn image_row(conn: &Connection, id: &str) -> Result<Option<ImageRow>, Error> {
    Ok(conn
        .query_row(
            "SELECT id, manifest, size, stored_at, last_tag_time FROM images WHERE id = ?1",
            [id],
            map_image,
        )
        .optional()?)
}

pub fn snapshot_row(conn: &Connection, chain_id: &Digest) -> Result<Option<SnapshotRow>, Error> {
    Ok(conn
        .query_row(
            "SELECT chain_id, parent, diff_id, link, size FROM snapshots WHERE chain_id = ?1",
            [chain_id.as_str()],
            map_snapshot,
        )
        .optional()?)
}

pub fn refs_of(conn: &Connection, image_id: &str) -> Result<Vec<String>, Error> {
    let mut st = conn.prepare("SELECT name FROM refs WHERE image_id = ?1 ORDER BY name")?;
    let rows = st.query_map([image_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_image(tx: &Transaction<'_>, row: &ImageRow) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO images (id, manifest, size, stored_at, last_tag_time) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET manifest = excluded.manifest",
        params![row.id, row.manifest.as_str(), row.size as i64, row.stored_at, row.last_tag_time],
    )?;
    Ok(())
}

/// Points `name` at `image_id` (moving it from any image it named before).
pub fn set_ref(tx: &Transaction<'_>, name: &str, image_id: &str) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO refs (name, image_id) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        params![name, image_id],
    )?;
    tx.execute(
        "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
        params![image_id, crate::store::now_rfc3339()],
    )?;
    Ok(())
}

pub fn insert_layer_blob(tx: &Transaction<'_>, b: &LayerBlob) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO layer_blobs (digest, diff_id, media_type, size, source_repo) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(digest) DO UPDATE SET source_repo = CASE WHEN excluded.source_repo = '' THEN source_repo ELSE excluded.source_repo END",
        params![b.digest.as_str(), b.diff_id.as_str(), b.media_type, b.size as i64, b.source_repo],
    )?;
    Ok(())
}

pub fn insert_snapshot(conn: &Connection, s: &SnapshotRow) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO snapshots (chain_id, parent, diff_id, link, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.chain_id.as_str(),
            s.parent,
            s.diff_id.as_str(),
            s.link,
            s.size as i64
        ],
    )?;
    Ok(())
}

impl Meta {
    /// A stored layer blob with this diff ID, if any.
    pub fn blob_for_diff(&self, diff_id: &Digest) -> Result<Option<LayerBlob>, Error> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT digest, diff_id, media_type, size, source_repo FROM layer_blobs WHERE diff_id = ?1 LIMIT 1",
                [diff_id.as_str()],
                map_layer_blob,
            )
            .optional()?)
    }
}
