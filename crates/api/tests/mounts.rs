//! End to end: `HostConfig.Mounts` (`docker run --mount type=...`): volumes, binds and tmpfs
//! through the stock CLI, their inspect shapes, and the daemon's refusals of bad specs.

mod common;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::volumes::{
    assert_volume_in_use, bind_round_trip, import_busybox_with_seed,
    volume_keeps_data_and_read_only_refuses_writes,
};
use common::{daemon_with_busybox, ensure_docker_py, http, stderr};
use serde_json::{Value, json};

/// One raw `POST` of JSON to the daemon: (status code, the error's message or the body).
fn post(d: &Daemon, path: &str, body: &Value) -> (u16, String) {
    let (code, body) = http::json(d, "POST", path, &body.to_string());
    (code, http::message(&body))
}

fn inspect(d: &Daemon, name: &str) -> Value {
    let out = d.docker_ok(&["inspect", name]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn mount_at<'a>(c: &'a Value, dst: &str) -> &'a Value {
    c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == dst)
        .unwrap_or_else(|| panic!("no mount at {dst}: {}", c["Mounts"]))
}

#[test]
fn volume_mount_keeps_data_is_in_use_and_is_filled_from_the_image() {
    let (d, _t) = daemon_with_busybox();
    let vol = unique_name("mvol");
    let rw = format!("type=volume,src={vol},dst=/data,volume-label=team=berth");
    let ro = format!("type=volume,src={vol},dst=/data,readonly");
    volume_keeps_data_and_read_only_refuses_writes(&d, &["--mount", &rw], &["--mount", &ro]);
    let labels = d.docker_ok(&["volume", "inspect", "-f", "{{json .Labels}}", &vol]);
    assert_eq!(labels.trim(), r#"{"team":"berth"}"#);

    // a new volume is filled from the image at its mount point, unless volume-nocopy
    let filled = unique_name("mfill");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={filled},dst=/etc"),
        "busybox",
        "head",
        "-c",
        "5",
        "/etc/passwd",
    ]);
    assert_eq!(out, "root:");
    let bare = unique_name("mbare");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={bare},dst=/etc,volume-nocopy"),
        "busybox",
        "ls",
        "-A",
        "/etc",
    ]);
    assert_eq!(out, "", "volume-nocopy must leave the volume empty");

    // in use: refused removal, found by ps --filter volume=
    let name = unique_name("muse");
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "--mount",
        &format!("type=volume,source={vol},target=/data"),
        "busybox",
        "true",
    ]);
    assert_volume_in_use(&d, &vol);
    let ps = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("volume={vol}"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), name);
    d.docker_ok(&["rm", &name]);
    for v in [&vol, &filled, &bare] {
        d.docker_ok(&["volume", "rm", v]);
    }
}

#[test]
fn anonymous_volume_mount_goes_with_rm_v_and_inspect_shows_every_mount() {
    let (d, _t) = daemon_with_busybox();
    let host = tempfile::tempdir().unwrap();
    let vol = unique_name("mins");
    let name = unique_name("mshape");
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "--mount",
        "type=volume,dst=/anon",
        "--mount",
        &format!("type=volume,src={vol},dst=/named/,readonly"),
        "--mount",
        &format!(
            "type=bind,src={},dst=/b,bind-propagation=rslave",
            host.path().display()
        ),
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "busybox",
        "true",
    ]);
    let c = inspect(&d, &name);
    assert_eq!(c["Mounts"].as_array().unwrap().len(), 4, "{}", c["Mounts"]);
    let anon = mount_at(&c, "/anon");
    let anon_name = anon["Name"].as_str().unwrap().to_string();
    assert_eq!(anon_name.len(), 64, "{anon}");
    assert_eq!(anon["Type"], "volume");
    assert_eq!(anon["Driver"], "local");
    assert_eq!(anon["RW"], true);
    let named = mount_at(&c, "/named");
    assert_eq!(named["Name"], vol.as_str());
    assert_eq!(named["RW"], false);
    assert_eq!(named["Mode"], "");
    let mountpoint = d.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", &vol]);
    assert_eq!(named["Source"], mountpoint.trim());
    assert_eq!(
        *mount_at(&c, "/b"),
        json!({"Type": "bind", "Source": host.path(), "Destination": "/b", "Mode": "",
               "RW": true, "Propagation": "rslave"})
    );
    assert_eq!(
        *mount_at(&c, "/t"),
        json!({"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": true,
               "Propagation": ""})
    );
    // HostConfig.Mounts round-trips what the CLI sent
    let spec = c["HostConfig"]["Mounts"].as_array().unwrap();
    assert_eq!(spec.len(), 4);
    assert_eq!(spec[0], json!({"Type": "volume", "Target": "/anon"}));
    assert_eq!(
        spec[1],
        json!({"Type": "volume", "Source": vol, "Target": "/named/", "ReadOnly": true})
    );
    assert_eq!(spec[2]["BindOptions"], json!({"Propagation": "rslave"}));
    assert_eq!(
        spec[3]["TmpfsOptions"],
        json!({"SizeBytes": 1048576, "Mode": 0o1770})
    );
    assert_volume_in_use(&d, &anon_name);
    d.docker_ok(&["rm", "-v", &name]);
    assert!(
        !d.docker_run(&["volume", "inspect", &anon_name])
            .status
            .success(),
        "rm -v must remove the anonymous volume"
    );
    // a named one stays
    d.docker_ok(&["volume", "rm", &vol]);
}

#[test]
fn bind_and_tmpfs_mounts_behave_in_the_container() {
    let (d, _t) = daemon_with_busybox();
    let host = tempfile::tempdir().unwrap();
    let bind = format!("type=bind,src={},dst=/x", host.path().display());
    let out = bind_round_trip(&d, host.path(), &["--mount", &bind], "");
    assert_eq!(out, "from-host\n");
    let ro = d.docker_run(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={},dst=/x,readonly", host.path().display()),
        "busybox",
        "sh",
        "-c",
        "cat /x/in && touch /x/new",
    ]);
    assert!(!ro.status.success(), "a read-only bind must refuse writes");
    assert_eq!(String::from_utf8_lossy(&ro.stdout), "from-host\n");
    assert!(
        stderr(&ro).contains("Read-only file system"),
        "{}",
        stderr(&ro)
    );
    assert!(!host.path().join("new").exists());

    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "grep ' /t tmpfs' /proc/mounts; stat -c %a /t; echo x > /t/f && cat /t/f",
    ]);
    let mut lines = out.lines();
    let line = lines.next().unwrap_or_default();
    assert!(line.contains("size=1024k"), "{out}");
    assert!(line.contains("noexec"), "{out}");
    assert_eq!(lines.next(), Some("1770"), "{out}");
    assert_eq!(lines.next(), Some("x"), "{out}");
    let ro = d.docker_run(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/t,readonly",
        "busybox",
        "touch",
        "/t/f",
    ]);
    assert!(!ro.status.success(), "a read-only tmpfs must refuse writes");
}

#[test]
fn bad_mounts_are_refused_with_mobys_messages_and_nothing_is_created() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("mbad");
    let missing = format!("/nonexistent-{}", unique_name("src"));
    let bad = d.docker_run(&[
        "run",
        "--name",
        &name,
        "--mount",
        &format!("type=bind,src={missing},dst=/x"),
        "busybox",
        "true",
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {missing}"
        )),
        "{}",
        stderr(&bad)
    );
    let vol = unique_name("mdup");
    let dup = d.docker_run(&[
        "run",
        "--name",
        &name,
        "-v",
        "/tmp:/x",
        "--mount",
        &format!("type=volume,src={vol},dst=/x"),
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&dup).contains("Duplicate mount point: /x"),
        "{}",
        stderr(&dup)
    );
    assert!(
        !d.docker_run(&["volume", "inspect", &vol]).status.success(),
        "a refused create must not make its volumes"
    );
    let dup = d.docker_run(&[
        "run",
        "--name",
        &name,
        "--tmpfs",
        "/t",
        "--mount",
        "type=tmpfs,dst=/t",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&dup).contains("Duplicate mount point: /t"),
        "{}",
        stderr(&dup)
    );
    // the CLI passes these through: the daemon's messages come back
    for (spec, want) in [
        (
            "type=bogus,dst=/x",
            "invalid mount config for type \"bogus\": mount type unknown",
        ),
        (
            "type=tmpfs,src=x,dst=/t",
            "invalid mount config for type \"tmpfs\": field Source must not be specified",
        ),
        (
            "type=volume,dst=rel",
            "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            "type=bind,src=/tmp,dst=/",
            "invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
        ),
        (
            "type=volume,dst=/x,readonly",
            "must not set ReadOnly mode when using anonymous volumes",
        ),
    ] {
        let out = d.docker_run(&[
            "create", "--name", &name, "--mount", spec, "busybox", "true",
        ]);
        assert!(!out.status.success(), "{spec}");
        assert!(
            stderr(&out).contains(want),
            "{spec}: want {want:?}, got {}",
            stderr(&out)
        );
    }
    let all = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.contains(&name), "{all}");

    // what the CLI would not send: the daemon checks it all the same
    let cases = [
        (
            json!({"Type": "bind", "Source": "/tmp"}),
            "invalid mount config for type \"bind\": field Target must not be empty",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "rel"}),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            json!({"Type": "bind", "Target": "/x"}),
            "invalid mount config for type \"bind\": field Source must not be empty",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "/x", "VolumeOptions": {}}),
            "invalid mount config for type \"bind\": field VolumeOptions must not be specified",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "/x", "BindOptions": {"Propagation": "sideways"}}),
            "invalid mount config for type \"bind\": invalid propagation mode: sideways",
        ),
        (
            json!({"Type": "tmpfs", "Source": "x", "Target": "/x"}),
            "invalid mount config for type \"tmpfs\": field Source must not be specified",
        ),
        (
            json!({"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"Options": [["suid"]]}}),
            "invalid mount config for type \"tmpfs\": invalid option: suid",
        ),
        (
            json!({"Type": "volume", "Target": "/x", "ReadOnly": true}),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes",
        ),
        (
            json!({"Type": "volume", "Source": "a/b", "Target": "/x"}),
            "includes invalid characters for a local volume name",
        ),
        (
            json!({"Type": "volume", "Source": "abc", "Target": "/"}),
            "invalid mount config for type \"volume\": invalid specification: destination can't be '/'",
        ),
        (
            json!({"Type": "npipe", "Source": "x", "Target": "/x"}),
            "invalid mount config for type \"npipe\": mount type unknown",
        ),
        (
            json!({"Type": "volume", "Target": "/x", "VolumeOptions": {"NoCopy": "yes"}}),
            "invalid type: string \"yes\", expected a boolean",
        ),
    ];
    for (m, want) in cases {
        let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [m]}});
        let (code, text) = post(&d, &format!("/containers/create?name={name}"), &body);
        assert_eq!(code, 400, "{m}: {text}");
        assert!(text.contains(want), "{m}: want {want:?}, got {text}");
    }
    let all = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.contains(&name), "{all}");
}

/// A host directory bind-mounted onto itself and made a shared mount, with a tmpfs mounted below
/// it later; unmounted (lazily) on drop, even when the test fails.
struct SharedDir {
    dir: tempfile::TempDir,
    sub_mounted: bool,
}

fn run_ok(cmd: &str, args: &[&str]) {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", stderr(&out));
}

impl SharedDir {
    fn new() -> SharedDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_str().unwrap().to_string();
        run_ok("mount", &["--bind", &p, &p]);
        let d = SharedDir {
            dir,
            sub_mounted: false,
        };
        run_ok("mount", &["--make-shared", &p]);
        std::fs::create_dir(d.dir.path().join("sub")).unwrap();
        d
    }

    fn path(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }

    fn mount_sub(&mut self) {
        let sub = format!("{}/sub", self.path());
        run_ok("mount", &["-t", "tmpfs", "-o", "size=64k", "tmpfs", &sub]);
        self.sub_mounted = true;
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        if self.sub_mounted {
            let _ = std::process::Command::new("umount")
                .args(["-l", &format!("{}/sub", self.path())])
                .status();
        }
        let _ = std::process::Command::new("umount")
            .args(["-l", &self.path()])
            .status();
    }
}

#[test]
fn bind_propagation_rslave_sees_host_mounts_and_rprivate_does_not() {
    let (d, _t) = daemon_with_busybox();
    let mut shared = SharedDir::new();
    let slave = unique_name("mslave");
    let private = unique_name("mpriv");
    for (name, prop) in [(&slave, "rslave"), (&private, "rprivate")] {
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--mount",
            &format!(
                "type=bind,src={},dst=/b,bind-propagation={prop}",
                shared.path()
            ),
            "busybox",
            "sleep",
            "60",
        ]);
    }
    shared.mount_sub();
    let seen = |name: &str| {
        d.docker_ok(&["exec", name, "grep", "-c", " /b/sub tmpfs", "/proc/mounts"])
            .trim()
            .to_string()
    };
    let slave_sees = seen(&slave);
    let private_out = d.docker_run(&[
        "exec",
        &private,
        "grep",
        "-c",
        " /b/sub tmpfs",
        "/proc/mounts",
    ]);
    d.docker_ok(&["rm", "-f", &slave, &private]);
    // an rshared bind makes the rootfs rshared (moby): a mount made in the container reaches
    // the host
    let sharer = unique_name("mshared");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &sharer,
        "--privileged",
        "--mount",
        &format!(
            "type=bind,src={},dst=/b,bind-propagation=rshared",
            shared.path()
        ),
        "busybox",
        "sh",
        "-c",
        "mkdir -p /b/fromc && mount -t tmpfs -o size=64k fromc /b/fromc && touch /b/fromc/mounted && sleep 60",
    ]);
    let marker = std::path::Path::new(&shared.path()).join("fromc/mounted");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let _ = std::process::Command::new("umount")
        .args(["-l", &format!("{}/fromc", shared.path())])
        .status();
    d.docker_ok(&["rm", "-f", &sharer]);
    assert!(
        host_mounts.contains(&format!("{}/fromc ", shared.path())),
        "the container's mount did not reach the host"
    );
    // and host mounts reach an rshared bind
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        &format!(
            "type=bind,src={},dst=/b,bind-propagation=rshared",
            shared.path()
        ),
        "busybox",
        "grep",
        "-c",
        " /b/sub tmpfs",
        "/proc/mounts",
    ]);
    assert_eq!(out.trim(), "1");
    assert_eq!(
        slave_sees, "1",
        "an rslave bind must see a mount made on the host later"
    );
    assert_eq!(
        String::from_utf8_lossy(&private_out.stdout).trim(),
        "0",
        "an rprivate bind must not see it"
    );
}

#[test]
fn a_mount_over_an_image_volume_replaces_its_anonymous_volume() {
    let (d, _t) = daemon_with_busybox();
    let image = format!("{}:1", unique_name("mimgvol"));
    import_busybox_with_seed(
        &d,
        &image,
        &["VOLUME /data", "VOLUME /cache", "CMD [\"sh\"]"],
    );
    let vol = unique_name("mover");
    let name = unique_name("mimg");
    let out = d.docker_ok(&[
        "run",
        "--name",
        &name,
        "--mount",
        &format!("type=volume,src={vol},dst=/data/"),
        "--mount",
        "type=tmpfs,dst=/cache",
        &image,
        "sh",
        "-c",
        "cat /data/seed; grep -c ' /cache tmpfs' /proc/mounts",
    ]);
    assert_eq!(
        out, "seeded\n1\n",
        "the named volume is filled from the image"
    );
    let c = inspect(&d, &name);
    let mounts = c["Mounts"].as_array().unwrap();
    assert_eq!(
        mounts.len(),
        2,
        "no anonymous volume under a mount: {mounts:?}"
    );
    assert_eq!(mount_at(&c, "/data")["Name"], vol.as_str());
    assert_eq!(mount_at(&c, "/cache")["Type"], "tmpfs");
    d.docker_ok(&["rm", "-v", &name]);
    // rm -v leaves a named volume
    let kept = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/v"),
        "busybox",
        "cat",
        "/v/seed",
    ]);
    assert_eq!(kept, "seeded\n");
    d.docker_ok(&["volume", "rm", &vol]);
}

#[test]
fn a_bind_source_gone_before_start_is_named_and_create_mountpoint_makes_it() {
    let (d, _t) = daemon_with_busybox();
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let name = unique_name("mgone");
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "--mount",
        &format!("type=bind,src={},dst=/x", src.display()),
        "busybox",
        "true",
    ]);
    std::fs::remove_dir(&src).unwrap();
    let out = d.docker_run(&["start", &name]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            src.display()
        )),
        "{}",
        stderr(&out)
    );
    d.docker_ok(&["rm", &name]);

    // BindOptions.CreateMountpoint (what compose sends): the source is made
    let made = host.path().join("made/deep");
    let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [
        {"Type": "bind", "Source": made, "Target": "/m", "BindOptions": {"CreateMountpoint": true}}
    ]}});
    let (code, text) = post(&d, &format!("/containers/create?name={name}"), &body);
    assert_eq!(code, 201, "{text}");
    assert!(made.is_dir());
    d.docker_ok(&["start", "-a", &name]);
    d.docker_ok(&["rm", &name]);

    // a source that cannot be made (under a file) fails the create and leaves nothing: no
    // container holding the name, no writable layer, no container directory
    let file = host.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [
        {"Type": "bind", "Source": file.join("sub"), "Target": "/m", "BindOptions": {"CreateMountpoint": true}}
    ]}});
    let (code, text) = post(&d, &format!("/containers/create?name={name}"), &body);
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("create bind source"), "{text}");
    assert!(d.docker_ok(&["ps", "-aq"]).trim().is_empty());
    let data = d.root().join("data");
    for dir in ["image/overlay/active", "engine/containers"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let left = loop {
            let left: Vec<_> = std::fs::read_dir(data.join(dir))
                .unwrap()
                .flatten()
                .collect();
            if left.is_empty() || std::time::Instant::now() > deadline {
                break left;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
    d.docker_ok(&["create", "--name", &name, "busybox", "true"]);
    d.docker_ok(&["rm", &name]);
}

/// docker-py's `Mount` (it sends `"Source": null` for tmpfs and anonymous volumes).
const DOCKER_PY: &str = r#"
import sys, docker
from docker.types import Mount
p = sys.argv[1]
c = docker.from_env()
vol = p + "-v"
out = c.containers.run("busybox", ["sh", "-c", "echo hi > /data/f; grep ' /t tmpfs' /proc/mounts"],
    remove=True, mounts=[Mount("/data", vol, labels={"k": "v"}),
                         Mount("/t", None, type="tmpfs", tmpfs_size="2m", tmpfs_mode=0o700)])
assert b"size=2048k" in out and b"mode=700" in out, out
assert c.volumes.get(vol).attrs["Labels"] == {"k": "v"}
out = c.containers.run("busybox", ["cat", "/data/f"], remove=True,
    mounts=[Mount("/data", vol, read_only=True)])
assert out == b"hi\n", out
ctr = c.containers.create("busybox", "true", mounts=[Mount("/anon", None)])
ctr.reload()
assert [m["Type"] for m in ctr.attrs["Mounts"]] == ["volume"], ctr.attrs["Mounts"]
ctr.remove(v=True)
try:
    c.containers.create("busybox", "true", mounts=[Mount("/x", "/nonexistent-" + p, type="bind")])
    raise SystemExit("a bind of a missing source was accepted")
except docker.errors.APIError as e:
    assert e.status_code == 400 and "bind source path does not exist" in str(e), e
c.volumes.get(vol).remove()
print("done")
"#;

#[test]
fn docker_py_mounts_work() {
    ensure_docker_py();
    let (d, _t) = daemon_with_busybox();
    let out = std::process::Command::new("python3")
        .args(["-c", DOCKER_PY, &unique_name("mpy")])
        .env("DOCKER_HOST", d.host())
        .output()
        .expect("run python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"),
        "docker-py mounts failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}
