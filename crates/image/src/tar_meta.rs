//! Reading tar entries: GNU long names, PAX overrides (path, owners, mtime, xattrs) and the
//! path rules every entry name must pass.

use crate::error::Error;

/// Longest path accepted in a layer (Linux's PATH_MAX).
pub(crate) const MAX_PATH: usize = 4096;

pub(crate) fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// Ownership, mode, times and xattrs of one entry (header values, PAX overrides applied).
pub(crate) struct EntryMeta {
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mtime: u64,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) pax_path: Option<Vec<u8>>,
    pub(crate) pax_link: Option<Vec<u8>>,
    pub(crate) dev: (u32, u32),
}

impl EntryMeta {
    pub(crate) fn from_header(h: &tar::Header) -> EntryMeta {
        EntryMeta {
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            mtime: h.mtime().unwrap_or(0),
            xattrs: Vec::new(),
            pax_path: None,
            pax_link: None,
            dev: (
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            ),
        }
    }

    pub(crate) fn apply_pax(&mut self, data: &[u8]) {
        for ext in tar::PaxExtensions::new(data).flatten() {
            let key = ext.key_bytes();
            let val = ext.value_bytes();
            let num = || {
                std::str::from_utf8(val)
                    .ok()
                    .and_then(|s| s.split('.').next())
                    .and_then(|s| s.parse::<u64>().ok())
            };
            match key {
                b"path" => self.pax_path = Some(val.to_vec()),
                b"linkpath" => self.pax_link = Some(val.to_vec()),
                b"uid" => self.uid = num().unwrap_or(self.uid),
                b"gid" => self.gid = num().unwrap_or(self.gid),
                b"mtime" => self.mtime = num().unwrap_or(self.mtime),
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        self.xattrs.push((name.to_vec(), val.to_vec()));
                    }
                }
            }
        }
    }
}

/// Splits an entry name into clean components; refuses `..`, absolute and over-long names.
pub(crate) fn clean_components(raw: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let name = || String::from_utf8_lossy(raw).into_owned();
    if raw.len() > MAX_PATH {
        return Err(Error::hostile(name(), "path too long"));
    }
    if raw.starts_with(b"/") {
        return Err(Error::hostile(name(), "absolute path"));
    }
    if raw.contains(&0) {
        return Err(Error::hostile(name(), "NUL byte in path"));
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(Error::hostile(name(), "path contains '..'")),
            c if c.len() > 255 => return Err(Error::hostile(name(), "path component too long")),
            c => out.push(c),
        }
    }
    Ok(out)
}
