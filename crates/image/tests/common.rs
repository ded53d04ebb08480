//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use berth_image::ImageStore;

pub fn store(dir: &Path) -> ImageStore {
    ImageStore::open(&dir.join("image")).unwrap()
}

/// A store with the testkit's busybox loaded as `tag`.
pub fn store_with_busybox(dir: &Path, tag: &str) -> ImageStore {
    let s = store(dir);
    let tar = berth_testkit::images::busybox_archive(dir, tag).unwrap();
    let out = s.load(std::fs::File::open(tar).unwrap()).unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    s
}

/// Builds a tar from (name, kind, data/link) with raw names, bypassing the tar crate's checks.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

pub fn raw_tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        let (name, data): (&str, &[u8]) = match e {
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                (n, d)
            }
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, b"")
            }
            E::Symlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                set_raw(&mut h.as_old_mut().linkname, t);
                (n, b"")
            }
            E::Hardlink(n, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                set_raw(&mut h.as_old_mut().linkname, t);
                (n, b"")
            }
            E::Char(n, maj, min) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                (n, b"")
            }
        };
        set_raw(&mut h.as_old_mut().name, name);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn set_raw(field: &mut [u8], s: &str) {
    field.fill(0);
    field[..s.len()].copy_from_slice(s.as_bytes());
}
