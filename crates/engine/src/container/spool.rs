//! Receiving an upload (`PUT /containers/{id}/archive`): the body is copied to an unnamed
//! file in the daemon's scratch folder, decompressed on the way when it is a compressed tar,
//! so it can be checked whole before anything is written into the container.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

fn bad(msg: String) -> Error {
    Error::InvalidParameter(msg)
}

/// The compressions moby's `DecompressStream` recognises, by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Compression {
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

fn detect(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Compression::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(Compression::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Compression::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else {
        None
    }
}

/// Copies an upload into an unnamed file in `scratch`, decompressed when it is a gzip, bzip2,
/// xz or zstd stream (as moby accepts for `PUT /containers/{id}/archive`).
pub fn spool(mut upload: impl Read, scratch: &Path) -> Result<File> {
    std::fs::create_dir_all(scratch)
        .map_err(|e| Error::io(format!("create {}", scratch.display()), e))?;
    let temp = || tempfile::tempfile_in(scratch).map_err(|e| Error::io("spool the upload", e));
    let mut raw = temp()?;
    std::io::copy(&mut upload, &mut raw).map_err(|e| Error::io("read the upload", e))?;
    raw.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("rewind the upload", e))?;
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(Error::io("read the upload", e)),
        }
    }
    raw.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("rewind the upload", e))?;
    let Some(kind) = detect(&head[..got]) else {
        return Ok(raw);
    };
    let mut out = temp()?;
    let bad =
        |e: std::io::Error| bad(format!("invalid {kind:?} compressed archive: {e}").to_lowercase());
    match kind {
        Compression::Gzip => {
            std::io::copy(&mut flate2::read::MultiGzDecoder::new(raw), &mut out).map_err(bad)?;
        }
        Compression::Bzip2 => {
            std::io::copy(&mut bzip2::read::MultiBzDecoder::new(raw), &mut out).map_err(bad)?;
        }
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(raw).map_err(bad)?;
            std::io::copy(&mut d, &mut out).map_err(bad)?;
        }
        Compression::Xz => {
            let mut r = std::io::BufReader::new(raw);
            let mut w = std::io::BufWriter::new(&mut out);
            lzma_rs::xz_decompress(&mut r, &mut w)
                .map_err(|e| bad(std::io::Error::other(e.to_string())))?;
            std::io::Write::flush(&mut w).map_err(|e| Error::io("spool the upload", e))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::extract::tests::{file, tar_of};

    #[test]
    fn compressed_uploads_are_spooled_as_plain_tars() {
        use std::io::Write;
        let t = tar_of(|b| file(b, "f", b"compressed"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&t).unwrap();
        let mut xz = vec![];
        lzma_rs::xz_compress(&mut &t[..], &mut xz).unwrap();
        let zst = zstd::encode_all(&t[..], 1).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        for data in [
            t.clone(),
            gz.finish().unwrap(),
            bz.finish().unwrap(),
            xz,
            zst,
        ] {
            let mut f = spool(&data[..], scratch.path()).unwrap();
            f.seek(SeekFrom::Start(0)).unwrap();
            let mut plain = vec![];
            f.read_to_end(&mut plain).unwrap();
            assert_eq!(plain, t);
        }
        let err = spool(&[0x1f, 0x8b, 0x08, 0, 0, 0, 1, 2, 3][..], scratch.path()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid gzip compressed archive"),
            "{err}"
        );
    }
}
