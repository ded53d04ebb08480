//! `docker cp` and `docker export` with volumes and bind mounts, with the stock docker CLI: a
//! stopped container's volumes are mounted for the copy as moby does (a file copied into a
//! volume path lands in the volume, reading one returns the volume's content), a running one
//! is seen through its mount namespace, `export` leaves volumes out, read-only volumes and
//! rootfs follow moby's rules, symlinks inside volumes never reach the host, and
//! `PUT /containers/{id}/archive` takes gzip, bzip2, xz and zstd tars (raw HTTP: the CLI only
//! sends plain ones).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::files::{
    cat_via_cp, cleanup, docker_bytes, fails_with, in_volume, raw_tar, stderr_of, tar_list,
    wait_exec,
};
use common::{daemon_with_busybox, http};

fn mountpoint(d: &Daemon, volume: &str) -> std::path::PathBuf {
    d.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", volume])
        .trim()
        .into()
}

/// The names in a tar archive.
fn tar_names(tar: &[u8], dir: &Path) -> Vec<String> {
    tar_list(tar, dir)
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect()
}

/// No temporary rootfs mount of this daemon is visible in the host's mount table.
fn no_leftover_mounts(d: &Daemon) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let scratch = d.data_root.join("engine/rootfs-mounts");
    assert!(
        !mounts.contains(scratch.to_str().unwrap()),
        "a copy's mount leaked into the host:\n{mounts}"
    );
}

/// Copies a new host file `file` holding `content` into `/data/` and `/mnt/bind/` of `name`,
/// and checks it landed in both host directories behind them.
fn copy_into_both(d: &Daemon, name: &str, file: &Path, content: &str, behind: [&Path; 2]) {
    std::fs::write(file, content).unwrap();
    for dst in ["/data/", "/mnt/bind/"] {
        d.docker_ok(&["cp", file.to_str().unwrap(), &format!("{name}:{dst}")]);
    }
    let leaf = file.file_name().unwrap();
    for dir in behind {
        assert_eq!(
            std::fs::read_to_string(dir.join(leaf)).unwrap(),
            content,
            "{}",
            dir.display()
        );
    }
}

#[test]
fn cp_reaches_the_volumes_and_binds_of_stopped_and_running_containers() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cpv");
    let vol = unique_name("cpvol");
    let _c = cleanup(&d, &[&name], &[]).with_volumes(&[&vol]);
    let host = t.path();
    let bind = host.join("bind");
    std::fs::create_dir(&bind).unwrap();
    std::fs::write(bind.join("hostfile"), "on the host\n").unwrap();
    d.docker_ok(&["volume", "create", &vol]);
    in_volume(&d, &vol, "/data", "echo in the volume > /data/fromvol");
    let vdir = mountpoint(&d, &vol);
    // Never started: neither /data nor /mnt/bind exists in its rootfs yet.
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/data"),
        "-v",
        &format!("{}:/mnt/bind", bind.display()),
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        cat_via_cp(&d, &name, "/data/fromvol", host),
        "in the volume\n"
    );
    assert_eq!(
        cat_via_cp(&d, &name, "/mnt/bind/hostfile", host),
        "on the host\n"
    );
    copy_into_both(
        &d,
        &name,
        &host.join("f"),
        "copied while stopped\n",
        [&vdir, &bind],
    );
    // A whole directory out of the volume.
    let out = host.join("out");
    std::fs::create_dir(&out).unwrap();
    d.docker_ok(&["cp", &format!("{name}:/data"), out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("data/fromvol")).unwrap(),
        "in the volume\n"
    );
    no_leftover_mounts(&d);
    // Export is the rootfs alone.
    let names = tar_names(&docker_bytes(&d, &["export", &name]), host);
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    for gone in ["data/f", "data/fromvol", "mnt/bind/hostfile", "mnt/bind/f"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} exported");
    }

    // Running: the same through the container's own mounts.
    d.docker_ok(&["start", &name]);
    wait_exec(&d, &name, &["cat", "/data/f"]);
    assert_eq!(
        cat_via_cp(&d, &name, "/data/f", host),
        "copied while stopped\n"
    );
    copy_into_both(
        &d,
        &name,
        &host.join("g"),
        "copied while running\n",
        [&vdir, &bind],
    );
    assert_eq!(
        d.docker_ok(&["exec", &name, "cat", "/data/g", "/mnt/bind/hostfile"]),
        "copied while running\non the host\n"
    );
    let names = tar_names(&docker_bytes(&d, &["export", &name]), host);
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(!names.iter().any(|n| n == "data/g" || n == "mnt/bind/g"));

    // Stopped again: what was copied in while running is read back from the volume.
    d.docker_ok(&["stop", "-t", "0", &name]);
    assert_eq!(
        cat_via_cp(&d, &name, "/data/g", host),
        "copied while running\n"
    );
    no_leftover_mounts(&d);
}

#[test]
fn read_only_volumes_and_rootfs_follow_mobys_rules() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cpro");
    let rw = unique_name("cprw");
    let ro = unique_name("cpro-vol");
    let _c = cleanup(&d, &[&name], &[]).with_volumes(&[&rw, &ro]);
    in_volume(&d, &ro, "/ro", "echo read me > /ro/r");
    d.docker_ok(&[
        "create",
        "--read-only",
        "--name",
        &name,
        "-v",
        &format!("{rw}:/rw"),
        "-v",
        &format!("{ro}:/ro:ro"),
        "busybox",
        "sleep",
        "1000",
    ]);
    let f = t.path().join("f");
    std::fs::write(&f, "x\n").unwrap();
    let f = f.to_str().unwrap();
    for state in ["stopped", "running"] {
        if state == "running" {
            d.docker_ok(&["start", &name]);
            wait_exec(&d, &name, &["true"]);
        }
        // A read-only rootfs still takes copies into a writable volume.
        d.docker_ok(&["cp", f, &format!("{name}:/rw/{state}")]);
        assert_eq!(
            std::fs::read_to_string(mountpoint(&d, &rw).join(state)).unwrap(),
            "x\n"
        );
        fails_with(
            &d,
            &["cp", f, &format!("{name}:/ro/")],
            "mounted volume is marked read-only",
        );
        fails_with(
            &d,
            &["cp", f, &format!("{name}:/tmp/")],
            "container rootfs is marked read-only",
        );
        assert_eq!(cat_via_cp(&d, &name, "/ro/r", t.path()), "read me\n");
    }
    assert_eq!(
        std::fs::read_dir(mountpoint(&d, &ro)).unwrap().count(),
        1,
        "the read-only volume was written"
    );
}

#[test]
fn symlinks_inside_volumes_never_lead_to_the_host() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cpvl");
    let vol = unique_name("cpvl-vol");
    let _c = cleanup(&d, &[&name], &[]).with_volumes(&[&vol]);
    let host_dir = t.path().join("hostdir");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("secret"), "host secret\n").unwrap();
    let hd = host_dir.display().to_string();
    // The volume's content points absolute and climbing links at the host directory.
    in_volume(
        &d,
        &vol,
        "/data",
        &format!(
            "ln -s {hd} /data/evil && ln -s {hd}/secret /data/evil-secret && ln -s ../../../../../../.. /data/up"
        ),
    );
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sleep",
        "1000",
    ]);
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = out.to_str().unwrap();
    std::fs::write(t.path().join("drop"), "dropped\n").unwrap();
    let drop = t.path().join("drop");
    for state in ["stopped", "running"] {
        if state == "running" {
            d.docker_ok(&["start", &name]);
            wait_exec(&d, &name, &["true"]);
        }
        fails_with(
            &d,
            &["cp", &format!("{name}:/data/evil/secret"), o],
            "Could not find the file",
        );
        let (ok, err) = stderr_of(
            &d,
            &["cp", "-L", &format!("{name}:/data/evil-secret"), o],
            None,
        );
        assert!(!ok, "{state}: a link out was followed: {err}");
        fails_with(
            &d,
            &["cp", &format!("{name}:/data/up{hd}/secret"), o],
            "Could not find the file",
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "{state}");
        // Writing through the links never reaches the host directory, whatever the CLI
        // makes of the destination.
        let _ = stderr_of(
            &d,
            &["cp", drop.to_str().unwrap(), &format!("{name}:/data/evil/")],
            None,
        );
        let _ = stderr_of(
            &d,
            &[
                "cp",
                drop.to_str().unwrap(),
                &format!("{name}:/data/up{hd}/"),
            ],
            None,
        );
        let tar = raw_tar(&[("evil/x", b'0', "", b"pwned\n")]);
        let _ = stderr_of(&d, &["cp", "-", &format!("{name}:/data")], Some(&tar));
        let names: Vec<_> = std::fs::read_dir(&host_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["secret"], "{state}: the host directory changed");
    }
    no_leftover_mounts(&d);
}

/// `data` through `prog -c` (gzip, bzip2, xz, zstd).
fn compress(prog: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(prog)
        .args(["-c", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{prog} failed");
    out.stdout
}

#[test]
fn put_archive_takes_compressed_tars_as_moby_does() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cpz");
    let _c = cleanup(&d, &[&name], &[]);
    d.docker_ok(&["create", "--name", &name, "busybox", "sleep", "1000"]);
    let put = |body: &[u8]| {
        http::request(
            &d,
            "PUT",
            &format!("/v1.44/containers/{name}/archive?path=/tmp"),
            "application/x-tar",
            body,
        )
    };
    for state in ["stopped", "running"] {
        if state == "running" {
            d.docker_ok(&["start", &name]);
            wait_exec(&d, &name, &["true"]);
        }
        for prog in ["gzip", "bzip2", "xz", "zstd"] {
            let file = format!("{state}-{prog}");
            let content = format!("through {prog}\n");
            let tar = raw_tar(&[(&file, b'0', "", content.as_bytes())]);
            let (code, body) = put(&compress(prog, &tar));
            assert_eq!(code, 200, "{prog}: {body}");
            assert_eq!(
                cat_via_cp(&d, &name, &format!("/tmp/{file}"), t.path()),
                content
            );
        }
        // A plain tar still works, and a broken compressed stream is a clear 400.
        let tar = raw_tar(&[("plain", b'0', "", b"plain\n")]);
        assert_eq!(put(&tar).0, 200);
        let mut broken = compress("gzip", &tar);
        broken.truncate(20);
        let (code, body) = put(&broken);
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("invalid gzip compressed archive"), "{body}");
        // A hostile entry inside a compressed tar is refused as a plain one is.
        let evil = raw_tar(&[("../../escape", b'0', "", b"x\n")]);
        let (code, body) = put(&compress("xz", &evil));
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("leads out of the destination"), "{body}");
    }
}

#[test]
fn cp_reaches_a_mount_bind_of_a_stopped_container() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cpm");
    let _c = cleanup(&d, &[&name], &[]);
    let host = t.path();
    let bind = host.join("mbind");
    std::fs::create_dir(&bind).unwrap();
    std::fs::write(bind.join("hostfile"), "through --mount\n").unwrap();
    d.docker_ok(&[
        "create",
        "--name",
        &name,
        "--mount",
        &format!("type=bind,src={},dst=/mnt/m", bind.display()),
        "busybox",
        "true",
    ]);
    assert_eq!(
        cat_via_cp(&d, &name, "/mnt/m/hostfile", host),
        "through --mount\n"
    );
    std::fs::write(host.join("up"), "copied in\n").unwrap();
    d.docker_ok(&[
        "cp",
        host.join("up").to_str().unwrap(),
        &format!("{name}:/mnt/m/up"),
    ]);
    assert_eq!(
        std::fs::read_to_string(bind.join("up")).unwrap(),
        "copied in\n"
    );
}
