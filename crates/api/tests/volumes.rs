//! End to end: named and anonymous volumes, copy-up, binds and tmpfs.

mod common;

use berth_testkit::unique_name;
use common::daemon_with_busybox;

#[test]
fn named_volume_keeps_data_across_containers() {
    let (d, _t) = daemon_with_busybox();
    let vol = unique_name("vol");
    d.docker_ok(&["volume", "create", &vol]);
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data:ro"),
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "kept\n");
    let ro = d.docker_run(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data:ro"),
        "busybox",
        "touch",
        "/data/x",
    ]);
    assert!(
        !ro.status.success(),
        "a read-only volume must refuse writes"
    );
    let ls = d.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(ls.contains(&vol), "{ls}");
    let name = unique_name("vu");
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "true",
    ]);
    let busy = d.docker_run(&["volume", "rm", &vol]);
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("volume is in use"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    d.docker_ok(&["rm", &name]);
    d.docker_ok(&["volume", "rm", &vol]);
    let bad = d.docker_run(&["volume", "create", "bad/name"]);
    assert!(!bad.status.success());
}

#[test]
fn new_volume_is_filled_from_the_image_and_anonymous_ones_go_with_rm_v() {
    let (d, _t) = daemon_with_busybox();
    let vol = unique_name("cu");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.starts_with("root:"), "copy-up missing: {out}");
    let image = format!("{}:1", unique_name("withvol"));
    let dir = tempfile::tempdir().unwrap();
    berth_testkit::busybox_rootfs(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/seed"), "seeded\n").unwrap();
    let tar = dir.path().join("../rootfs.tar");
    berth_testkit::images::layer_tar(dir.path(), &tar).unwrap();
    d.docker_ok(&[
        "import",
        "-c",
        "VOLUME /data",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        &image,
    ]);
    let name = unique_name("anon");
    let out = d.docker_ok(&["run", "--name", &name, &image, "cat", "/data/seed"]);
    assert_eq!(out, "seeded\n");
    let vname = d.docker_ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", &name]);
    let vname = vname.trim();
    assert_eq!(vname.len(), 64, "{vname}");
    d.docker_ok(&["volume", "inspect", vname]);
    d.docker_ok(&["rm", "-v", &name]);
    assert!(!d.docker_run(&["volume", "inspect", vname]).status.success());
    let _ = std::fs::remove_file(&tar);
}

#[test]
fn binds_and_tmpfs_are_mounted() {
    let (d, _t) = daemon_with_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in"), "from-host\n").unwrap();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/h", host.path().display()),
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "cat /h/in; echo back > /h/out; grep -c ' /scratch tmpfs' /proc/mounts",
    ]);
    assert_eq!(out, "from-host\n1\n");
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap(),
        "back\n"
    );
    let bad = d.docker_run(&["run", "--rm", "-v", "/x:relative", "busybox", "true"]);
    assert!(!bad.status.success());
}
