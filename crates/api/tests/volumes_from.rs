//! End to end: `--volumes-from` (HostConfig.VolumesFrom) through the stock docker CLI.

mod common;

use berth_testkit::unique_name;
use common::files::{cleanup, fails_with};
use common::http::{json, message};
use common::{daemon_with_busybox, inspect_f};
use serde_json::Value;

#[test]
fn volumes_from_shares_the_volumes_and_binds_of_another_container() {
    let (d, _t) = daemon_with_busybox();
    let (vol, other) = (unique_name("vfv"), unique_name("vfw"));
    let (a, b, c) = (unique_name("vfa"), unique_name("vfb"), unique_name("vfc"));
    let _c = cleanup(&d, &[&c, &b, &a], &[]).with_volumes(&[&vol, &other]);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("h"), "from the host\n").unwrap();
    let hostdir = host.path().to_str().unwrap();
    // A: a named volume, a read-only bind and an anonymous volume; never started
    d.docker_ok(&[
        "create",
        "--name",
        &a,
        "-v",
        &format!("{vol}:/data"),
        "-v",
        &format!("{hostdir}:/hb:ro"),
        "-v",
        "/anon",
        "--tmpfs",
        "/scratch",
        "busybox",
        "true",
    ]);
    // data written through the volumes-from mount is in the volume, the bind is read-only
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        &a,
        "busybox",
        "sh",
        "-c",
        "echo written > /data/f && cat /hb/h && ! touch /hb/x 2>/dev/null && \
         grep -c ' /scratch ' /proc/mounts || true",
    ]);
    assert_eq!(out, "from the host\n0\n", "{}", d.log());
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/v"),
        "busybox",
        "cat",
        "/v/f",
    ]);
    assert_eq!(out, "written\n");
    // `:ro` makes every taken mount read-only
    let ro = d.docker_run(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{a}:ro"),
        "busybox",
        "sh",
        "-c",
        "cat /data/f && echo x > /data/g",
    ]);
    assert!(!ro.status.success());
    assert_eq!(String::from_utf8_lossy(&ro.stdout), "written\n");
    assert!(
        String::from_utf8_lossy(&ro.stderr).contains("Read-only file system"),
        "{ro:?}"
    );
    // B keeps the mounts as Docker shows them
    d.docker_ok(&[
        "create",
        "--name",
        &b,
        "--volumes-from",
        &format!("{a}:ro"),
        "busybox",
        "true",
    ]);
    assert_eq!(
        inspect_f(&d, &b, "{{json .HostConfig.VolumesFrom}}"),
        format!("[\"{a}:ro\"]")
    );
    let mounts: Vec<Value> = serde_json::from_str(&inspect_f(&d, &b, "{{json .Mounts}}")).unwrap();
    let at = |dst: &str| {
        mounts
            .iter()
            .find(|m| m["Destination"] == dst)
            .unwrap_or_else(|| panic!("no mount at {dst}: {mounts:?}"))
            .clone()
    };
    let data = at("/data");
    assert_eq!(
        (&data["Type"], &data["Name"], &data["RW"], &data["Mode"]),
        (
            &"volume".into(),
            &Value::from(vol.as_str()),
            &false.into(),
            &"".into()
        )
    );
    let hb = at("/hb");
    assert_eq!(
        (&hb["Type"], &hb["Source"], &hb["RW"]),
        (&"bind".into(), &Value::from(hostdir), &false.into())
    );
    assert_eq!(at("/anon")["Type"], "volume");
    assert!(!mounts.iter().any(|m| m["Destination"] == "/scratch"));
    // the volume is in use by both
    let b_id = inspect_f(&d, &b, "{{.Id}}");
    let (ok, err) = common::files::stderr_of(&d, &["volume", "rm", &vol], None);
    assert!(!ok);
    assert!(
        err.contains("volume is in use") && err.contains(&b_id),
        "{err}"
    );
    // docker cp sees the taken bind and volume in the stopped container
    let cp = tempfile::tempdir().unwrap();
    assert_eq!(
        common::files::cat_via_cp(&d, &b, "/hb/h", cp.path()),
        "from the host\n"
    );
    assert_eq!(
        common::files::cat_via_cp(&d, &b, "/data/f", cp.path()),
        "written\n"
    );
    // rm -v of B leaves A's anonymous volume, which A still uses
    let anon = at("/anon")["Name"].as_str().unwrap().to_string();
    d.docker_ok(&["rm", "-v", &b]);
    d.docker_ok(&["volume", "inspect", &anon]);
    // a mount of its own at the same destination wins
    d.docker_ok(&["volume", "create", &other]);
    let out = d.docker_ok(&[
        "run",
        "--name",
        &c,
        "--volumes-from",
        &a,
        "-v",
        &format!("{other}:/data"),
        "busybox",
        "sh",
        "-c",
        "ls /data; cat /hb/h",
    ]);
    assert_eq!(out, "from the host\n");
    d.docker_ok(&["rm", &c]);
    d.docker_ok(&["rm", "-v", &a]);
    let (ok, _) = common::files::stderr_of(&d, &["volume", "inspect", &anon], None);
    assert!(!ok, "A's anonymous volume outlived rm -v");
}

#[test]
fn bad_volumes_from_fail_the_create_and_leave_nothing() {
    let (d, _t) = daemon_with_busybox();
    let a = unique_name("vfa");
    let _c = cleanup(&d, &[&a], &[]);
    d.docker_ok(&["create", "--name", &a, "-v", "/x", "busybox", "true"]);
    let before = d.docker_ok(&["ps", "-aq"]);
    let vols = d.docker_ok(&["volume", "ls", "-q"]);
    fails_with(
        &d,
        &["create", "--volumes-from", "nosuchbox", "busybox", "true"],
        "No such container: nosuchbox",
    );
    fails_with(
        &d,
        &[
            "create",
            "--volumes-from",
            &format!("{a}:rshared"),
            "busybox",
            "true",
        ],
        "invalid mode: rshared",
    );
    let body = r#"{"Image":"busybox","Cmd":["true"],"Volumes":{"/img":{}},"HostConfig":{"VolumesFrom":["nosuchbox"]}}"#;
    let (code, resp) = json(&d, "POST", "/containers/create", body);
    // moby's InvalidParameter: a 404 would make the CLI pull the image
    assert_eq!(code, 400, "{resp}");
    assert_eq!(message(&resp), "No such container: nosuchbox");
    let body = r#"{"Image":"busybox","HostConfig":{"VolumesFrom":[""]}}"#;
    let (code, resp) = json(&d, "POST", "/containers/create", body);
    assert_eq!(code, 400, "{resp}");
    assert!(
        message(&resp).contains("cannot be an empty string"),
        "{resp}"
    );
    assert_eq!(d.docker_ok(&["ps", "-aq"]), before);
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), vols);
}
