//! Hostile layers: every entry that would write outside the layer, or that the unpacker cannot
//! trust, is rejected with an error naming it, and nothing of the layer is left behind.

mod common;

use std::fs;
use std::path::Path;

use berth_image::Error;
use common::*;

fn assert_rejected(tar: &[u8], entry: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let err = s.import(tar, Some("evil:1"), &[]).unwrap_err();
    match &err {
        Error::HostileEntry { entry: e, .. } => assert_eq!(e, entry, "{err}"),
        other => panic!("expected a rejection of {entry:?}, got {other}"),
    }
    assert!(err.to_string().contains(entry), "{err}");
    let root = dir.path().join("image");
    assert_eq!(
        count(&root.join("overlay/tmp")),
        0,
        "temporary unpack left behind"
    );
    assert_eq!(
        count(&root.join("overlay/snapshots")),
        0,
        "snapshot left behind"
    );
    assert_eq!(
        count(&root.join("content/blobs/sha256")),
        0,
        "blob left behind"
    );
    assert_eq!(count(&root.join("content/ingest")), 0, "ingest left behind");
    assert!(s.resolve("evil:1").is_err());
    assert!(!dir.path().join("pwned").exists());
    assert!(!Path::new("/tmp/berth-pwned").exists());
}

fn count(p: &Path) -> usize {
    fs::read_dir(p).map(|r| r.count()).unwrap_or(0)
}

#[test]
fn dot_dot_entries_are_rejected() {
    assert_rejected(&raw_tar(&[E::File("a/../../pwned", b"x")]), "a/../../pwned");
}

#[test]
fn absolute_entries_are_rejected() {
    assert_rejected(
        &raw_tar(&[E::File("/tmp/berth-pwned", b"x")]),
        "/tmp/berth-pwned",
    );
}

#[test]
fn writes_through_an_absolute_symlink_are_rejected() {
    assert_rejected(
        &raw_tar(&[
            E::Symlink("escape", "/tmp"),
            E::File("escape/berth-pwned", b"x"),
        ]),
        "escape/berth-pwned",
    );
}

#[test]
fn writes_through_a_relative_symlink_out_of_the_layer_are_rejected() {
    assert_rejected(
        &raw_tar(&[
            E::Dir("d/"),
            E::Symlink("d/up", "../../../.."),
            E::File("d/up/pwned", b"x"),
        ]),
        "d/up/pwned",
    );
}

#[test]
fn hardlinks_out_of_the_layer_are_rejected() {
    assert_rejected(
        &raw_tar(&[E::Hardlink("passwd", "../../../../etc/passwd")]),
        "passwd",
    );
    assert_rejected(&raw_tar(&[E::Hardlink("passwd", "/etc/passwd")]), "passwd");
    assert_rejected(
        &raw_tar(&[
            E::Symlink("etc", "/etc"),
            E::Hardlink("passwd", "etc/passwd"),
        ]),
        "passwd",
    );
}

#[test]
fn oversized_extension_headers_are_rejected() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_path("PaxHeaders/big").unwrap();
    let data = vec![b'a'; 2 * 1024 * 1024];
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, &data[..]).unwrap();
    assert_rejected(&b.into_inner().unwrap(), "PaxHeaders/big");
}

#[test]
fn a_bad_entry_late_in_the_layer_leaves_nothing() {
    assert_rejected(
        &raw_tar(&[
            E::Dir("usr/"),
            E::File("usr/ok", b"fine"),
            E::File("../pwned", b"x"),
        ]),
        "../pwned",
    );
}
