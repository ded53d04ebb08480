//! Archives skopeo writes (OCI archive, docker-archive) load into Berth and run from the
//! mounted snapshot.

mod common;

use std::process::Command;

use berth_image::{mount_all, unmount};
use common::*;

fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runs_busybox(s: &berth_image::ImageStore, name: &str, dir: &std::path::Path) -> String {
    let mnt = dir.join(berth_testkit::unique_name("mnt"));
    std::fs::create_dir(&mnt).unwrap();
    mount_all(
        &s.prepare(&berth_testkit::unique_name("c"), name).unwrap(),
        &mnt,
    )
    .unwrap();
    let out = Command::new("chroot")
        .arg(&mnt)
        .args(["/bin/sh", "-c", "echo ran in $(pwd)"])
        .output();
    unmount(&mnt).unwrap();
    String::from_utf8_lossy(&out.unwrap().stdout).into_owned()
}

#[test]
fn oci_and_docker_archives_written_by_skopeo_load_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let src = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    let oci = dir.path().join("oci.tar");
    skopeo(&[
        "copy",
        &format!("docker-archive:{}", src.display()),
        &format!("oci-archive:{}:busybox:oci", oci.display()),
    ]);
    let s = store(dir.path());
    let out = s.load(std::fs::File::open(&oci).unwrap()).unwrap();
    assert_eq!(out, vec!["Loaded image: busybox:oci"]);
    assert_eq!(runs_busybox(&s, "busybox:oci", dir.path()), "ran in /\n");

    // skopeo's docker-archive of the OCI image, gzip layers and all, loads to the same ID.
    let da = dir.path().join("da.tar");
    skopeo(&[
        "copy",
        &format!("oci-archive:{}:busybox:oci", oci.display()),
        &format!("docker-archive:{}:busybox:da", da.display()),
    ]);
    let out = s.load(std::fs::File::open(&da).unwrap()).unwrap();
    assert_eq!(out, vec!["Loaded image: busybox:da"]);
    assert_eq!(
        s.resolve("busybox:da").unwrap().id,
        s.resolve("busybox:oci").unwrap().id
    );
    assert_eq!(runs_busybox(&s, "busybox:da", dir.path()), "ran in /\n");
}

#[test]
fn archives_with_missing_or_bad_parts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let err = s.load(&raw_tar(&[E::File("hello", b"x")])[..]).unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
    let err = s
        .load(
            &raw_tar(&[E::File(
                "manifest.json",
                br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}]"#,
            )])[..],
        )
        .unwrap_err();
    assert!(err.to_string().contains("c.json"), "{err}");
    let err = s
        .load(&raw_tar(&[E::File("index.json", b"{not json")])[..])
        .unwrap_err();
    assert!(err.to_string().contains("index.json"), "{err}");
    assert!(s.list().unwrap().is_empty());
}
