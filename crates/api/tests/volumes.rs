//! End to end: named and anonymous volumes, copy-up, binds and tmpfs.

mod common;

use berth_testkit::unique_name;
use common::daemon_with_busybox;
use common::volumes::{
    assert_volume_in_use, bind_round_trip, import_busybox_with_seed,
    volume_keeps_data_and_read_only_refuses_writes,
};

#[test]
fn named_volume_keeps_data_across_containers() {
    let (d, _t) = daemon_with_busybox();
    let vol = unique_name("vol");
    d.docker_ok(&["volume", "create", &vol]);
    let rw = format!("{vol}:/data");
    let ro = format!("{vol}:/data:ro");
    volume_keeps_data_and_read_only_refuses_writes(&d, &["-v", &rw], &["-v", &ro]);
    let ls = d.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(ls.contains(&vol), "{ls}");
    let name = unique_name("vu");
    d.docker_ok(&["create", "--name", &name, "-v", &rw, "busybox", "true"]);
    assert_volume_in_use(&d, &vol);
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
    import_busybox_with_seed(&d, &image, &["VOLUME /data", "CMD [\"sh\"]"]);
    let name = unique_name("anon");
    let out = d.docker_ok(&["run", "--name", &name, &image, "cat", "/data/seed"]);
    assert_eq!(out, "seeded\n");
    let vname = d.docker_ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", &name]);
    let vname = vname.trim();
    assert_eq!(vname.len(), 64, "{vname}");
    d.docker_ok(&["volume", "inspect", vname]);
    d.docker_ok(&["rm", "-v", &name]);
    assert!(!d.docker_run(&["volume", "inspect", vname]).status.success());
}

#[test]
fn binds_and_tmpfs_are_mounted() {
    let (d, _t) = daemon_with_busybox();
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/x", host.path().display());
    let out = bind_round_trip(
        &d,
        host.path(),
        &["-v", &bind, "--tmpfs", "/scratch"],
        "grep -c ' /scratch tmpfs' /proc/mounts",
    );
    assert_eq!(out, "from-host\n1\n");
    let bad = d.docker_run(&["run", "--rm", "-v", "/x:relative", "busybox", "true"]);
    assert!(!bad.status.success());
}
