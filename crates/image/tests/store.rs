//! The image store against the real kernel: load, inspect, snapshots mounted with overlayfs,
//! save/load round trips, import, tag/remove/prune, diff/changes/commit.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use berth_image::{
    ChangeKind, CommitOptions, CommitStamp, Error, ImageStore, RemovedItem, mount_all, unmount,
};
use berth_testkit::unique_name;
use common::*;

/// Unmounts on drop, so a failing test leaves no mount behind.
struct Mounted(std::path::PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = unmount(&self.0);
    }
}

#[test]
fn loaded_busybox_resolves_by_short_name_and_inspects_like_docker() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let img = s.resolve("busybox").unwrap();
    assert_eq!(img.repo_tags, vec!["busybox:latest"]);
    assert_eq!(
        s.resolve("docker.io/library/busybox:latest").unwrap().id,
        img.id
    );
    assert_eq!(s.resolve(&img.id[7..19]).unwrap().id, img.id);
    let v = serde_json::to_value(s.inspect("busybox").unwrap()).unwrap();
    assert_eq!(v["Id"], img.id);
    assert_eq!(v["RepoTags"][0], "busybox:latest");
    assert_eq!(v["Config"]["Cmd"][0], "sh");
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["Os"], "linux");
    assert!(v["Size"].as_i64().unwrap() > 500_000);
    let err = s.resolve("nosuch").unwrap_err();
    assert_eq!(err.to_string(), "No such image: nosuch:latest");
    assert!(err.is_not_found());
    let hist = s.history("busybox").unwrap();
    assert_eq!(hist[0].id, img.id);
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn a_spare_writable_layer_is_taken_by_prepare_and_mounts_like_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let spare_dir = dir.path().join("image/overlay/spare");
    assert_eq!(s.fill_spare_layers(2).unwrap(), 2);
    assert_eq!(fs::read_dir(&spare_dir).unwrap().count(), 2);
    let key = unique_name("c");
    let mounts = s.prepare(&key, "busybox").unwrap();
    assert_eq!(
        fs::read_dir(&spare_dir).unwrap().count(),
        1,
        "prepare took a spare"
    );
    // an existing key is refused and leaves the pool as it was
    assert!(matches!(
        s.prepare(&key, "busybox"),
        Err(Error::SnapshotExists(_))
    ));
    assert_eq!(fs::read_dir(&spare_dir).unwrap().count(), 1);
    let target = dir.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    mount_all(&mounts, &target).unwrap();
    let guard = Mounted(target.clone());
    assert!(target.join("bin/busybox").is_file());
    fs::write(target.join("etc/new"), b"x").unwrap();
    drop(guard);
    let changes = s.changes(&key).unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.path == "/etc/new" && c.kind == ChangeKind::Added),
        "{changes:?}"
    );
    // the pool survives a reopen; an empty pool falls back to making the directories
    drop(s);
    let s = store(dir.path());
    assert_eq!(s.fill_spare_layers(1).unwrap(), 0);
    s.prepare(&unique_name("c"), "busybox").unwrap();
    s.prepare(&unique_name("c"), "busybox").unwrap();
    assert_eq!(fs::read_dir(&spare_dir).unwrap().count(), 0);
    s.remove_snapshot(&key).unwrap();
}

#[test]
fn prepared_snapshot_mounts_with_overlay_and_keeps_writes_in_the_upper_layer() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let key = unique_name("c");
    let mounts = s.prepare(&key, "busybox").unwrap();
    assert_eq!(mounts[0].fstype, "overlay");
    assert!(matches!(
        s.prepare(&key, "busybox"),
        Err(Error::SnapshotExists(_))
    ));
    let target = dir.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    mount_all(&mounts, &target).unwrap();
    let guard = Mounted(target.clone());
    assert!(target.join("bin/busybox").is_file());
    fs::write(target.join("etc/new"), b"x").unwrap();
    fs::remove_file(target.join("etc/group")).unwrap();
    fs::write(target.join("etc/passwd"), b"root:x:0:0::/:/bin/sh\n").unwrap();
    fs::remove_dir_all(target.join("usr")).unwrap();
    fs::create_dir(target.join("usr")).unwrap();
    fs::write(target.join("usr/only"), b"o").unwrap();
    drop(guard);
    let mut layer = Vec::new();
    s.diff(&key, &mut layer).unwrap();
    let names: Vec<String> = tar::Archive::new(&layer[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for want in [
        "etc/new",
        "etc/.wh.group",
        "etc/passwd",
        "usr/.wh..wh..opq",
        "usr/only",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from the diff: {names:?}"
        );
    }
    let changes = s.changes(&key).unwrap();
    let has = |p: &str, k: ChangeKind| changes.iter().any(|c| c.path == p && c.kind == k);
    assert!(has("/etc/new", ChangeKind::Added), "{changes:?}");
    assert!(has("/etc/group", ChangeKind::Deleted), "{changes:?}");
    assert!(has("/etc/passwd", ChangeKind::Modified), "{changes:?}");
    assert!(has("/etc", ChangeKind::Modified), "{changes:?}");
    // The shared layer is untouched.
    let again = s.prepare(&unique_name("c"), "busybox").unwrap();
    let t2 = dir.path().join("rootfs2");
    fs::create_dir(&t2).unwrap();
    mount_all(&again, &t2).unwrap();
    let g2 = Mounted(t2.clone());
    assert!(t2.join("etc/group").exists());
    assert!(!t2.join("etc/new").exists());
    drop(g2);
    // Commit makes a new image whose top layer carries the changes, whiteouts included.
    let id = s
        .commit(&key, &CommitOptions::default(), Some("committed:1"))
        .unwrap();
    let img = s.resolve("committed:1").unwrap();
    assert_eq!(img.id, id);
    assert_eq!(img.config.rootfs.diff_ids.len(), 2);
    let key3 = unique_name("c");
    let t3 = dir.path().join("rootfs3");
    fs::create_dir(&t3).unwrap();
    mount_all(&s.prepare(&key3, "committed:1").unwrap(), &t3).unwrap();
    let g3 = Mounted(t3.clone());
    assert_eq!(fs::read(t3.join("etc/new")).unwrap(), b"x");
    assert!(!t3.join("etc/group").exists());
    assert!(t3.join("usr/only").exists());
    assert!(
        !t3.join("usr/bin").exists(),
        "the opaque directory let the lower usr/bin through"
    );
    drop(g3);
    s.remove_snapshot(&key).unwrap();
    assert!(matches!(s.mounts(&key), Err(Error::NoSuchSnapshot(_))));
}

#[test]
fn save_then_load_round_trips_the_image_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:1");
    let id = s.resolve("busybox:1").unwrap().id;
    let mut tar = Vec::new();
    s.save(&["busybox:1"], &mut tar).unwrap();
    let names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for want in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let other = tempfile::tempdir().unwrap();
    let s2 = ImageStore::open(other.path()).unwrap();
    let out = s2.load(&tar[..]).unwrap();
    assert_eq!(out, vec!["Loaded image: busybox:1"]);
    assert_eq!(s2.resolve("busybox:1").unwrap().id, id);
    // The same tarball read as an OCI layout (without manifest.json) loads too.
    let mut oci = tar::Builder::new(Vec::new());
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().into_owned();
        if p.to_str() == Some("manifest.json") {
            continue;
        }
        let mut h = e.header().clone();
        oci.append_data(&mut h, p, &mut e).unwrap();
    }
    let oci = oci.into_inner().unwrap();
    let third = tempfile::tempdir().unwrap();
    let s3 = ImageStore::open(third.path()).unwrap();
    assert_eq!(s3.load(&oci[..]).unwrap(), vec!["Loaded image: busybox:1"]);
    assert_eq!(s3.resolve("busybox:1").unwrap().id, id);
}

#[test]
fn import_applies_changes_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let tar = raw_tar(&[E::Dir("etc/"), E::File("etc/hello", b"hi\n")]);
    let id = s
        .import(
            &tar[..],
            Some("imported:v1"),
            &[
                "CMD [\"/bin/sh\"]".into(),
                "ENV A=b".into(),
                "WORKDIR /etc".into(),
            ],
        )
        .unwrap();
    let img = s.resolve("imported:v1").unwrap();
    assert_eq!(img.id, id);
    let c = img.config.config.unwrap();
    assert_eq!(c.cmd.unwrap(), vec!["/bin/sh"]);
    assert_eq!(c.env.unwrap(), vec!["A=b"]);
    assert_eq!(c.working_dir.as_deref(), Some("/etc"));
    let err = s.import(&tar[..], None, &["FROM x".into()]).unwrap_err();
    assert!(err.to_string().contains("not a valid change"), "{err}");
}

#[test]
fn tag_remove_and_prune_follow_docker() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let id = s.resolve("busybox").unwrap().id;
    s.tag("busybox", "localhost:5000/mine:2").unwrap();
    assert_eq!(s.resolve("localhost:5000/mine:2").unwrap().id, id);
    assert!(s.tag("busybox", "Bad:tag").is_err());
    // Two names: removing one only untags.
    let out = s.remove("busybox", false, &|_| false).unwrap();
    assert_eq!(out, vec![RemovedItem::Untagged("busybox:latest".into())]);
    // In use by a container: refused without force.
    let key = unique_name("c");
    s.prepare(&key, &id).unwrap();
    let err = s
        .remove("localhost:5000/mine:2", false, &|_| false)
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    s.remove_snapshot(&key).unwrap();
    let out = s.remove(&id[7..], false, &|_| false).unwrap();
    assert!(out.contains(&RemovedItem::Deleted(id.clone())), "{out:?}");
    assert!(s.resolve(&id).is_err());
    assert!(s.list().unwrap().is_empty());
    // Everything the image owned is collected.
    let du = s.disk_usage().unwrap();
    assert_eq!(du.layers_bytes, 0);
    assert_eq!(du.blobs_bytes, 0);
    // Prune removes untagged images only.
    let tar = raw_tar(&[E::File("a", b"1")]);
    let dangling = s.import(&tar[..], None, &[]).unwrap();
    let tar2 = raw_tar(&[E::File("b", b"2")]);
    s.import(&tar2[..], Some("kept:1"), &[]).unwrap();
    let rep = s.prune(true).unwrap();
    assert!(
        rep.images_deleted.contains(&RemovedItem::Deleted(dangling)),
        "{rep:?}"
    );
    assert!(s.resolve("kept:1").is_ok());
}

/// The bottom lowerdir of an overlay mount: for a one-layer image, its layer (the init layer
/// may sit above it).
fn image_lower(m: &berth_image::Mount) -> std::path::PathBuf {
    let lowers = m.options[0].trim_start_matches("lowerdir=");
    std::path::PathBuf::from(lowers.rsplit(':').next().unwrap())
}

#[test]
fn containers_get_the_init_layers_mount_points_unless_the_image_etc_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let key = unique_name("c");
    let mounts = s.prepare(&key, "busybox").unwrap();
    let target = dir.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    mount_all(&mounts, &target).unwrap();
    let guard = Mounted(target.clone());
    for f in berth_image::INIT_FILES {
        let m = fs::metadata(target.join(f)).unwrap();
        assert!(m.is_file() && m.len() == 0, "{f}");
        assert_eq!(m.mode() & 0o7777, 0o644, "{f}");
    }
    // the image's own /etc is still there, and nothing went to the writable layer
    assert!(target.join("etc/passwd").is_file());
    drop(guard);
    assert!(s.changes(&key).unwrap().is_empty());
    assert_eq!(s.mounts(&key).unwrap()[0].options, mounts[0].options);

    // an image whose /etc is a symlink keeps it: no init layer
    let img = raw_tar(&[
        E::Dir("usr/"),
        E::Dir("usr/etc/"),
        E::File("usr/etc/os", b"x"),
        E::Symlink("etc", "usr/etc"),
    ]);
    s.import(&img[..], Some("etclink:1"), &[]).unwrap();
    let m = s.prepare(&unique_name("c"), "etclink:1").unwrap();
    assert!(!m[0].options[0].contains(':'), "{:?}", m[0].options);
    let t2 = dir.path().join("rootfs2");
    fs::create_dir(&t2).unwrap();
    mount_all(&m, &t2).unwrap();
    let g2 = Mounted(t2.clone());
    assert!(fs::symlink_metadata(t2.join("etc")).unwrap().is_symlink());
    assert!(t2.join("etc/os").is_file());
    drop(g2);
}

#[test]
fn whiteouts_and_special_files_unpack_as_overlay_expects() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let base = raw_tar(&[
        E::Dir("d/"),
        E::File("d/a", b"a"),
        E::File("gone", b"g"),
        E::Dir("opq/"),
        E::File("opq/old", b"o"),
        E::File("f", b"data"),
        E::Hardlink("f2", "f"),
        E::Symlink("ln", "/f"),
        E::Char("null", 1, 3),
    ]);
    s.import(&base[..], Some("base:1"), &[]).unwrap();
    let img = s.resolve("base:1").unwrap();
    let mounts = s.prepare(&unique_name("c"), "base:1").unwrap();
    let root = image_lower(&mounts[0]);
    assert_eq!(
        fs::metadata(root.join("f")).unwrap().ino(),
        fs::metadata(root.join("f2")).unwrap().ino()
    );
    assert_eq!(fs::read_link(root.join("ln")).unwrap().to_str(), Some("/f"));
    let null = fs::symlink_metadata(root.join("null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(fs::metadata(root.join("f")).unwrap().mtime(), 1_700_000_000);
    let _ = img;
    // A second layer with whiteouts, unpacked on its own.
    let upper = raw_tar(&[
        E::File("d/.wh.a", b""),
        E::File(".wh.gone", b""),
        E::File("opq/.wh..wh..opq", b""),
        E::File("opq/new", b"n"),
        E::File(".wh..wh.plnk", b""),
    ]);
    s.import(&upper[..], Some("upper:1"), &[]).unwrap();
    let m = s.prepare(&unique_name("c"), "upper:1").unwrap();
    let up = image_lower(&m[0]);
    let wh = fs::symlink_metadata(up.join("gone")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert!(
        fs::symlink_metadata(up.join("d/a"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let mut v = [0u8; 4];
    let n = rustix::fs::getxattr(up.join("opq"), "trusted.overlay.opaque", &mut v).unwrap();
    assert_eq!(&v[..n], b"y");
    assert!(
        fs::symlink_metadata(up.join(".wh.plnk")).is_err(),
        "aufs metadata unpacked"
    );
}

#[test]
fn gzip_and_zstd_layers_import_with_the_uncompressed_diff_id() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let tar = raw_tar(&[E::File("hello", b"world")]);
    let plain = s.import(&tar[..], Some("plain:1"), &[]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    s.import(&gz[..], Some("gz:1"), &[]).unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    s.import(&zst[..], Some("zst:1"), &[]).unwrap();
    let diff = |n: &str| s.resolve(n).unwrap().config.rootfs.diff_ids[0].clone();
    assert_eq!(diff("gz:1"), diff("plain:1"));
    assert_eq!(diff("zst:1"), diff("plain:1"));
    let mt: Vec<String> = ["plain:1", "gz:1", "zst:1"]
        .iter()
        .map(|n| {
            s.manifest(&s.resolve(n).unwrap()).unwrap().layers[0]
                .media_type
                .clone()
        })
        .collect();
    assert_eq!(
        mt,
        vec![
            "application/vnd.docker.image.rootfs.diff.tar",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.diff.tar.zstd"
        ]
    );
    assert!(!plain.is_empty());
}

#[test]
fn owners_setuid_modes_and_xattrs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("SCHILY.xattr.user.berth", &b"kept"[..])])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o4755);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_600_000_000);
    h.set_size(3);
    h.set_cksum();
    b.append_data(&mut h, "suid", &b"abc"[..]).unwrap();
    let mut d = tar::Header::new_gnu();
    d.set_entry_type(tar::EntryType::Directory);
    d.set_mode(0o1777);
    d.set_uid(42);
    d.set_mtime(1_500_000_000);
    d.set_size(0);
    d.set_cksum();
    b.append_data(&mut d, "sticky/", std::io::empty()).unwrap();
    let tar = b.into_inner().unwrap();
    s.import(&tar[..], Some("meta:1"), &[]).unwrap();
    let m = s.prepare(&unique_name("c"), "meta:1").unwrap();
    let root = image_lower(&m[0]);
    let f = fs::metadata(root.join("suid")).unwrap();
    assert_eq!(f.mode() & 0o7777, 0o4755);
    assert_eq!((f.uid(), f.gid()), (1234, 5678));
    assert_eq!(f.mtime(), 1_600_000_000);
    let mut v = [0u8; 8];
    let n = rustix::fs::getxattr(root.join("suid"), "user.berth", &mut v).unwrap();
    assert_eq!(&v[..n], b"kept");
    let d = fs::metadata(root.join("sticky")).unwrap();
    assert_eq!(d.mode() & 0o7777, 0o1777);
    assert_eq!(d.uid(), 42);
    assert_eq!(d.mtime(), 1_500_000_000);
}

/// An image deeper than one page of overlay options mounts through `lowerdir+`.
#[test]
fn a_150_layer_image_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let n = 150;
    let mut b = tar::Builder::new(Vec::new());
    let mut diff_ids = Vec::new();
    let mut layers = Vec::new();
    for i in 0..n {
        let name = format!("layer{i:03}");
        let t = raw_tar(&[E::File(&name, name.as_bytes())]);
        diff_ids.push(format!("sha256:{}", hex_sha(&t)));
        let path = format!("{i}/layer.tar");
        let mut h = tar::Header::new_gnu();
        h.set_size(t.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, &path, &t[..]).unwrap();
        layers.push(path);
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(config.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "config.json", &config[..]).unwrap();
    let manifest = serde_json::to_vec(
        &serde_json::json!([{"Config": "config.json", "RepoTags": ["deep:1"], "Layers": layers}]),
    )
    .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "manifest.json", &manifest[..])
        .unwrap();
    let archive = b.into_inner().unwrap();
    assert_eq!(s.load(&archive[..]).unwrap(), vec!["Loaded image: deep:1"]);
    let mounts = s.prepare(&unique_name("c"), "deep:1").unwrap();
    assert!(mounts[0].options.join(",").len() > 4096);
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    mount_all(&mounts, &mnt).unwrap();
    let g = Mounted(mnt.clone());
    assert_eq!(fs::read(mnt.join("layer000")).unwrap(), b"layer000");
    assert_eq!(fs::read(mnt.join("layer149")).unwrap(), b"layer149");
    drop(g);
}

fn hex_sha(b: &[u8]) -> String {
    berth_image::Digest::of(b).hex().to_owned()
}

#[test]
fn loading_a_tag_that_exists_renames_the_old_image_like_docker() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let tar = raw_tar(&[E::File("one", b"1")]);
    let old = s.import(&tar[..], Some("same:1"), &[]).unwrap();
    let other = tempfile::tempdir().unwrap();
    let s2 = store(other.path());
    let tar2 = raw_tar(&[E::File("two", b"2")]);
    s2.import(&tar2[..], Some("same:1"), &[]).unwrap();
    let mut saved = Vec::new();
    s2.save(&["same:1"], &mut saved).unwrap();
    let out = s.load(&saved[..]).unwrap();
    assert_eq!(
        out,
        vec![
            format!(
                "The image same:1 already exists, renaming the old one with ID {old} to empty string"
            ),
            "Loaded image: same:1".to_owned()
        ]
    );
    let dangling = s.list().unwrap().into_iter().find(|i| i.id == old).unwrap();
    assert!(dangling.repo_tags.is_empty());
}

#[test]
fn a_detached_snapshot_is_forgotten_at_once_and_its_files_go_with_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let key = unique_name("c");
    let mounts = s.prepare(&key, "busybox").unwrap();
    let target = dir.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    mount_all(&mounts, &target).unwrap();
    fs::write(target.join("written"), b"data").unwrap();
    unmount(&target).unwrap();
    let moved = s
        .detach_snapshot(&key)
        .unwrap()
        .expect("the layer's directory moves");
    assert!(moved.join("upper/written").exists());
    assert!(moved.starts_with(dir.path()));
    assert!(matches!(s.mounts(&key), Err(Error::NoSuchSnapshot(_))));
    assert!(s.snapshots().unwrap().iter().all(|(k, _)| k != &key));
    assert!(matches!(
        s.detach_snapshot(&key),
        Err(Error::NoSuchSnapshot(_))
    ));
    // the key is free again at once
    s.prepare(&key, "busybox").unwrap();
    s.remove_snapshot(&key).unwrap();
    // left behind (a crash before the caller deleted it): the next open empties it
    drop(s);
    let _s = ImageStore::open(&dir.path().join("image")).unwrap();
    assert!(!moved.exists());
}

/// Writes `/x` and `/d/y` into a new snapshot of `from` and commits it with `stamp`; returns
/// the new image ID and the snapshot's key.
fn commit_files(
    s: &ImageStore,
    dir: &std::path::Path,
    from: &str,
    stamp: &CommitStamp,
) -> (String, String) {
    let key = unique_name("c");
    let target = dir.join(&key);
    fs::create_dir(&target).unwrap();
    mount_all(&s.prepare(&key, from).unwrap(), &target).unwrap();
    let g = Mounted(target.clone());
    fs::write(target.join("x"), "same\n").unwrap();
    fs::create_dir(target.join("d")).unwrap();
    fs::write(target.join("d/y"), "y\n").unwrap();
    drop(g);
    let opts = CommitOptions {
        created_by: Some("/bin/sh -c echo same > /x".into()),
        ..Default::default()
    };
    let id = s.commit_stamped(&key, &opts, stamp, None).unwrap();
    s.remove_snapshot(&key).unwrap();
    (id, key)
}

#[test]
fn stamped_commits_of_the_same_content_give_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let base = s.resolve("busybox").unwrap().id;
    let stamp = CommitStamp {
        created: chrono::DateTime::from_timestamp(1_700_000_000, 0),
        omit_container: true,
    };
    let (a, _) = commit_files(&s, dir.path(), "busybox", &stamp);
    // The files of the second commit are written a second later: their mtimes are clamped.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (b, _) = commit_files(&s, dir.path(), "busybox", &stamp);
    assert_eq!(a, b);
    assert_eq!(s.parent(&a).unwrap(), base);
    let img = s.resolve(&a).unwrap();
    assert_eq!(img.config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    let last = img.config.history.last().unwrap();
    assert_eq!(last.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(img.config.container, None);
    // The layer carries the epoch as the files' mtime.
    let key = unique_name("c");
    let target = dir.path().join(&key);
    fs::create_dir(&target).unwrap();
    mount_all(&s.prepare(&key, &a).unwrap(), &target).unwrap();
    let g = Mounted(target.clone());
    for p in ["x", "d", "d/y"] {
        let m = fs::symlink_metadata(target.join(p)).unwrap();
        assert_eq!(m.mtime(), 1_700_000_000, "{p}");
    }
    drop(g);
    s.remove_snapshot(&key).unwrap();

    // The default stamps now and the container's key: the same content gives another ID.
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (c, key_c) = commit_files(&s, dir.path(), "busybox", &CommitStamp::default());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (d, _) = commit_files(&s, dir.path(), "busybox", &CommitStamp::default());
    assert_ne!(c, d);
    assert_ne!(c, a);
    let img = s.resolve(&c).unwrap();
    assert_eq!(img.config.container.as_deref(), Some(key_c.as_str()));
    let created = img.config.created.unwrap();
    let t = chrono::DateTime::parse_from_rfc3339(&created).unwrap();
    assert!(t >= before && t <= chrono::Utc::now(), "{created}");
    assert_eq!(img.config.history.last().unwrap().created, Some(created));
}
