//! The registry client against a real `docker-registry`, and interop with skopeo both ways.

mod common;

use std::process::Command;
use std::sync::Mutex;

use berth_image::{Error, ImageStore, Progress};
use berth_testkit::registry::Registry;
use common::*;

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo_digest(image: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", image])).unwrap();
    v["Digest"].as_str().unwrap().to_owned()
}

struct Events(Mutex<Vec<Progress>>);
impl Events {
    fn new() -> Events {
        Events(Mutex::new(Vec::new()))
    }
    fn push(&self, p: Progress) {
        self.0.lock().unwrap().push(p);
    }
    fn all(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn pushed_image_pulls_back_identical_and_skopeo_reads_its_digest() {
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = store_with_busybox(dir.path(), "busybox:latest");
    let name = format!("{}/test/busybox:1", reg.host());
    a.tag("busybox", &name).unwrap();
    let ev = Events::new();
    let digest = a.push(&name, None, &|p| ev.push(p)).await.unwrap();
    assert!(
        ev.all()
            .iter()
            .any(|p| matches!(p, Progress::Done { status, .. } if status == "Pushed"))
    );
    assert_eq!(skopeo_digest(&format!("docker://{name}")), digest);

    let other = tempfile::tempdir().unwrap();
    let b = ImageStore::open(other.path()).unwrap();
    let ev = Events::new();
    let img = b.pull(&name, None, None, &|p| ev.push(p)).await.unwrap();
    assert_eq!(img.id, a.resolve("busybox").unwrap().id);
    assert_eq!(img.repo_tags, vec![name.clone()]);
    assert_eq!(
        img.repo_digests,
        vec![format!("{}/test/busybox@{digest}", reg.host())]
    );
    assert!(
        ev.all()
            .iter()
            .any(|p| matches!(p, Progress::Transfer { .. }))
    );
    // Pulling again fetches no layer.
    let ev = Events::new();
    b.pull(&name, None, None, &|p| ev.push(p)).await.unwrap();
    let all = ev.all();
    assert!(
        all.iter().any(|p| matches!(p, Progress::Exists { .. })),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|p| matches!(p, Progress::Transfer { .. })),
        "{all:?}"
    );
    // The pulled layers mount.
    let m = b.prepare(&berth_testkit::unique_name("c"), &name).unwrap();
    assert!(m[0].options[0].starts_with("lowerdir="));
    // A second repository on the same registry gets the layer by cross-repo mount.
    let name2 = format!("{}/other/busybox:2", reg.host());
    b.tag(&name, &name2).unwrap();
    let ev = Events::new();
    b.push(&name2, None, &|p| ev.push(p)).await.unwrap();
    let all = ev.all();
    assert!(
        all.iter().any(
            |p| matches!(p, Progress::Done { status, .. } if status.starts_with("Mounted from"))
        ),
        "{all:?}"
    );
}

#[tokio::test]
async fn image_copied_by_skopeo_is_pulled_and_saved_archive_is_read_by_skopeo() {
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    let dest = format!("{}/sk/busybox:1", reg.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", tar.display()),
        &format!("docker://{dest}"),
    ]);
    let want = skopeo_digest(&format!("docker://{dest}"));
    let s = store(dir.path());
    let img = s
        .pull(&dest, None, Some("linux/amd64"), &|_| {})
        .await
        .unwrap();
    assert!(
        img.repo_digests[0].ends_with(&want),
        "{:?} vs {want}",
        img.repo_digests
    );
    assert_eq!(
        img.config.config.as_ref().unwrap().cmd.as_ref().unwrap()[0],
        "sh"
    );
    // Berth's save is read back by skopeo with the same config.
    let saved = dir.path().join("saved.tar");
    s.save(&[dest.as_str()], std::fs::File::create(&saved).unwrap())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("docker-archive:{}", saved.display()),
    ]))
    .unwrap();
    assert_eq!(v["config"]["Cmd"][0], "sh");
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--config",
        &format!("oci-archive:{}", saved.display()),
    ]);
    assert_eq!(format!("sha256:{}", sha256(raw.as_bytes())), img.id);
}

fn sha256(b: &[u8]) -> String {
    use std::io::Write;
    let mut c = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_blob_whose_bytes_do_not_match_its_digest_is_refused_and_nothing_is_stored() {
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = store_with_busybox(dir.path(), "busybox:latest");
    let name = format!("{}/bad/busybox:1", reg.host());
    a.tag("busybox", &name).unwrap();
    a.push(&name, None, &|_| {}).await.unwrap();
    let img = a.resolve(&name).unwrap();
    let layer = a.manifest(&img).unwrap().layers[0].digest.clone();
    let path = reg.blob_path(layer.as_str());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 2000] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let other = tempfile::tempdir().unwrap();
    let b = ImageStore::open(other.path()).unwrap();
    let err = b.pull(&name, None, None, &|_| {}).await.unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { .. } | Error::InvalidLayer(_)),
        "unexpected error: {err}"
    );
    assert!(b.resolve(&name).is_err());
    let blobs = std::fs::read_dir(other.path().join("content/blobs/sha256")).unwrap();
    let names: Vec<String> = blobs
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.contains(&layer.hex().to_owned()),
        "corrupt layer stored: {names:?}"
    );
    assert_eq!(
        std::fs::read_dir(other.path().join("overlay/snapshots"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(other.path().join("overlay/tmp"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(other.path().join("content/ingest"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn unknown_tags_and_platforms_give_clear_errors() {
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let err = s
        .pull(
            &format!("{}/nothing/here:1", reg.host()),
            None,
            None,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(s.pull("Bad/Name", None, None, &|_| {}).await.is_err());
    assert!(
        s.pull(
            &format!("{}/x:1", reg.host()),
            None,
            Some("a/b/c/d"),
            &|_| {}
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn bearer_token_auth_grants_push_and_pull_only_with_credentials() {
    let reg = Registry::start_with_token_auth("alice", "s3cret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = store_with_busybox(dir.path(), "busybox:latest");
    let name = format!("{}/private/busybox:1", reg.host());
    a.tag("busybox", &name).unwrap();
    let err = a.push(&name, None, &|_| {}).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    let wrong = berth_image::Credentials {
        username: "alice".into(),
        password: "nope".into(),
        identity_token: None,
    };
    assert!(a.push(&name, Some(&wrong), &|_| {}).await.is_err());
    let creds = berth_image::Credentials {
        username: "alice".into(),
        password: "s3cret".into(),
        identity_token: None,
    };
    let digest = a.push(&name, Some(&creds), &|_| {}).await.unwrap();

    let other = tempfile::tempdir().unwrap();
    let b = ImageStore::open(other.path()).unwrap();
    let err = b.pull(&name, None, None, &|_| {}).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    // Credentials from a docker config.json, as `docker login` stores them.
    let cfg = other.path().join("config.json");
    // `docker login` checks the credentials, then stores them.
    let err = b.login(&reg.host(), &wrong, &cfg).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    assert!(!cfg.exists());
    b.login(&reg.host(), &creds, &cfg).await.unwrap();
    let stored = berth_image::registry::load_credentials(&cfg, &reg.host())
        .unwrap()
        .unwrap();
    assert_eq!(stored.password, "s3cret");
    let b = ImageStore::open_with(
        &other.path().join("store2"),
        berth_image::RegistryConfig {
            insecure: vec![],
            auth_config: Some(cfg),
        },
    )
    .unwrap();
    let img = b.pull(&name, None, None, &|_| {}).await.unwrap();
    assert!(img.repo_digests[0].ends_with(&digest));
    // An identity token (X-Registry-Auth's `identitytoken`) is exchanged as a refresh token.
    let token: berth_image::Credentials =
        serde_json::from_str(r#"{"identitytoken": "s3cret", "serveraddress": "x"}"#).unwrap();
    let c = ImageStore::open(&other.path().join("store3")).unwrap();
    c.pull(&name, Some(&token), None, &|_| {}).await.unwrap();
    let bad: berth_image::Credentials =
        serde_json::from_str(r#"{"identitytoken": "wrong"}"#).unwrap();
    let d = ImageStore::open(&other.path().join("store4")).unwrap();
    assert!(d.pull(&name, Some(&bad), None, &|_| {}).await.is_err());
}

#[tokio::test]
async fn a_manifest_list_is_resolved_to_the_requested_platform() {
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let other = s
        .import(
            &raw_tar(&[E::File("arm", b"arm64 rootfs")])[..],
            Some("armish:1"),
            &[],
        )
        .unwrap();
    let amd = format!("{}/multi:amd", reg.host());
    let arm = format!("{}/multi:arm", reg.host());
    s.tag("busybox", &amd).unwrap();
    s.tag("armish:1", &arm).unwrap();
    let d_amd = s.push(&amd, None, &|_| {}).await.unwrap();
    let d_arm = s.push(&arm, None, &|_| {}).await.unwrap();
    let size = |name: &str| {
        let img = s.resolve(name).unwrap();
        std::fs::metadata(
            dir.path()
                .join("image/content/blobs/sha256")
                .join(img.manifest_digest.hex()),
        )
        .unwrap()
        .len()
    };
    let list = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": d_arm, "size": size(&arm),
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": d_amd, "size": size(&amd),
             "platform": {"architecture": "amd64", "os": "linux"}},
        ]
    });
    let resp = reqwest::Client::new()
        .put(format!("http://{}/v2/multi/manifests/1", reg.host()))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(serde_json::to_vec(&list).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let list_digest = berth_image::Digest::of(&serde_json::to_vec(&list).unwrap());
    let name = format!("{}/multi:1", reg.host());
    let d2 = tempfile::tempdir().unwrap();
    let b = ImageStore::open(d2.path()).unwrap();
    let ev = Events::new();
    let img = b.pull(&name, None, None, &|p| ev.push(p)).await.unwrap();
    assert_eq!(img.id, s.resolve("busybox").unwrap().id);
    // Docker records the digest the name resolved to: the list's.
    assert_eq!(
        img.repo_digests,
        vec![format!("{}/multi@{list_digest}", reg.host())]
    );
    assert!(ev.all().contains(&Progress::Digest {
        digest: list_digest.to_string()
    }));
    let img = b
        .pull(&name, None, Some("linux/arm64"), &|_| {})
        .await
        .unwrap();
    assert_eq!(img.id, other);
    let err = b
        .pull(&name, None, Some("linux/s390x"), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoMatchingPlatform(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_of_one_image_share_its_layers() {
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let name = format!("{}/conc/busybox:1", reg.host());
    s.tag("busybox", &name).unwrap();
    s.push(&name, None, &|_| {}).await.unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let b = ImageStore::open(d2.path()).unwrap();
    let (x, y) = tokio::join!(
        b.pull(&name, None, None, &|_| {}),
        b.pull(&name, None, None, &|_| {})
    );
    assert_eq!(x.unwrap().id, y.unwrap().id);
    assert_eq!(
        std::fs::read_dir(d2.path().join("overlay/snapshots"))
            .unwrap()
            .count(),
        1
    );
    let t = d2.path().join("mnt");
    std::fs::create_dir(&t).unwrap();
    let m = b.prepare(&berth_testkit::unique_name("c"), &name).unwrap();
    berth_image::mount_all(&m, &t).unwrap();
    let ok = t.join("bin/busybox").is_file();
    berth_image::unmount(&t).unwrap();
    assert!(ok);
}

/// Run by `a_pull_killed_midway_and_retried_leaves_a_consistent_store` in a child process.
#[tokio::test]
#[ignore]
async fn child_pull() {
    let (Ok(root), Ok(name)) = (
        std::env::var("BERTH_CHILD_ROOT"),
        std::env::var("BERTH_CHILD_REF"),
    ) else {
        return;
    };
    let s = ImageStore::open(std::path::Path::new(&root)).unwrap();
    s.pull(&name, None, None, &|_| {}).await.unwrap();
}

#[tokio::test]
async fn a_pull_killed_midway_and_retried_leaves_a_consistent_store() {
    use std::io::Read;
    let reg = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut big = vec![0u8; 64 * 1024 * 1024];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut big)
        .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(big.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "big.bin", &big[..]).unwrap();
    let tar = b.into_inner().unwrap();
    drop(big);
    let name = format!("{}/kill/big:1", reg.host());
    s.import(&tar[..], Some(&name), &[]).unwrap();
    drop(tar);
    s.push(&name, None, &|_| {}).await.unwrap();

    let root = dir.path().join("victim");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_pull", "--ignored", "--nocapture"])
        .env("BERTH_CHILD_ROOT", &root)
        .env("BERTH_CHILD_REF", &name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the layer is partly written.
    let ingest = root.join("content/ingest");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let partial = std::fs::read_dir(&ingest)
            .map(|r| {
                r.flatten()
                    .any(|e| e.metadata().map(|m| m.len() > 1024 * 1024).unwrap_or(false))
            })
            .unwrap_or(false);
        if partial || std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the pull ended before it could be killed: {status}"
    );

    let v = ImageStore::open(&root).unwrap();
    assert_eq!(std::fs::read_dir(&ingest).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(root.join("overlay/tmp")).unwrap().count(),
        0
    );
    // Every visible blob is whole: its bytes hash to its name.
    for e in std::fs::read_dir(root.join("content/blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let bytes = std::fs::read(e.path()).unwrap();
        assert_eq!(
            sha256(&bytes),
            e.file_name().to_string_lossy(),
            "partial blob visible"
        );
    }
    let img = v.pull(&name, None, None, &|_| {}).await.unwrap();
    assert_eq!(img.id, s.resolve(&name).unwrap().id);
    v.prepare(&berth_testkit::unique_name("c"), &name).unwrap();
}
