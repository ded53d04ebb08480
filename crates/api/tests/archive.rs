//! End to end with the stock docker CLI: `docker commit`, `docker diff`, `docker export` and
//! `docker cp` both ways, on running and stopped containers, and hostile uploads refused.

mod common;

use std::process::Command;

use berth_testkit::unique_name;
use common::daemon_with_busybox;
use common::files::{cleanup, docker_bytes, raw_tar, run_sh, start_sh, stderr_of, tar_list};

#[test]
fn commit_then_run_the_committed_image() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("commit");
    let repo = unique_name("committed");
    let image = format!("{repo}:v1");
    let live = format!("{image}-live");
    let _c = cleanup(&d, &[&name], &[&image, &live]);
    run_sh(&d, &name, "echo hello from commit > /greeting");
    let id = d.docker_ok(&[
        "commit",
        "-m",
        "a message",
        "-a",
        "Ann Author",
        "--change",
        "ENV COMMITTED=yes",
        "--change",
        r#"CMD ["sh", "-c", "cat /greeting; echo $COMMITTED"]"#,
        &name,
        &image,
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let out = d.docker_ok(&["run", "--rm", &image]);
    assert_eq!(out, "hello from commit\nyes\n");
    let meta = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Comment}}|{{.Author}}|{{json .Config.Cmd}}",
        &image,
    ]);
    assert_eq!(
        meta.trim(),
        r#"a message|Ann Author|["sh","-c","cat /greeting; echo $COMMITTED"]"#
    );

    // A running container is paused for the commit and runs on afterwards.
    let running = unique_name("commit-live");
    let _c2 = cleanup(&d, &[&running], &[]);
    start_sh(&d, &running, "echo live > /live", "/live");
    d.docker_ok(&["commit", &running, &live]);
    let state = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &running]);
    assert_eq!(state.trim(), "running");
    let out = d.docker_ok(&["run", "--rm", &live, "cat", "/live"]);
    assert_eq!(out, "live\n");

    // Unknown container and bad change lines are refused.
    let (ok, err) = stderr_of(&d, &["commit", "no-such-container-xyz"], None);
    assert!(!ok && err.contains("No such container"), "{err}");
    let (ok, err) = stderr_of(&d, &["commit", "--change", "BOGUS x", &name], None);
    assert!(!ok, "{err}");
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("diff");
    let _c = cleanup(&d, &[&name], &[]);
    run_sh(
        &d,
        &name,
        "mkdir /newdir && echo x > /newdir/file && rm /etc/group && echo y >> /etc/passwd",
    );
    let out = d.docker_ok(&["diff", &name]);
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "A /newdir",
        "A /newdir/file",
        "C /etc",
        "D /etc/group",
        "C /etc/passwd",
    ] {
        assert!(lines.contains(&want), "{want} missing from:\n{out}");
    }
    assert!(!lines.iter().any(|l| l.contains("/bin")), "{out}");
    // as Docker's: the mount points of /etc/hosts, hostname and resolv.conf are no change
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("/etc/host") || l.contains("/etc/resolv")),
        "{out}"
    );
}

#[test]
fn export_is_a_tar_of_the_whole_rootfs() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("export");
    let _c = cleanup(&d, &[&name], &[]);
    run_sh(&d, &name, "echo exported > /marker");
    let file = t.path().join("export.tar");
    d.docker_ok(&["export", "-o", file.to_str().unwrap(), &name]);
    let list = Command::new("tar")
        .args(["-tvf", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(list.status.success());
    let list = String::from_utf8_lossy(&list.stdout);
    for want in [
        "bin/busybox",
        "bin/sh -> busybox",
        "etc/passwd",
        "marker",
        "tmp/",
    ] {
        assert!(list.contains(want), "{want} missing from:\n{list}");
    }
    let x = t.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .args([
            "-xf",
            file.to_str().unwrap(),
            "-C",
            x.to_str().unwrap(),
            "marker",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(x.join("marker")).unwrap(),
        "exported\n"
    );
    let (ok, err) = stderr_of(&d, &["export", "no-such-container-xyz"], None);
    assert!(!ok && err.contains("No such container"), "{err}");

    // A running container exports its rootfs as it is now, without its kernel filesystems.
    let live = unique_name("export-live");
    let _c2 = cleanup(&d, &[&live], &[]);
    start_sh(&d, &live, "echo now > /now", "/now");
    let list = tar_list(&docker_bytes(&d, &["export", &live]), t.path());
    assert!(list.lines().any(|l| l == "now"), "{list}");
    assert!(!list.contains("proc/self"), "{list}");
}

#[test]
fn cp_both_ways_on_running_and_stopped_containers() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cp");
    let _c = cleanup(&d, &[&name], &[]);
    start_sh(
        &d,
        &name,
        "mkdir -p /data/sub && echo inside > /data/sub/f && echo top > /data/t",
        "/data/t",
    );
    let host = t.path();
    // Host to running container: a file into a directory, and a directory.
    std::fs::write(host.join("in.txt"), "from host\n").unwrap();
    std::fs::create_dir_all(host.join("tree/deep")).unwrap();
    std::fs::write(host.join("tree/deep/leaf"), "leaf\n").unwrap();
    d.docker_ok(&[
        "cp",
        host.join("in.txt").to_str().unwrap(),
        &format!("{name}:/tmp/"),
    ]);
    d.docker_ok(&[
        "cp",
        host.join("tree").to_str().unwrap(),
        &format!("{name}:/tmp/tree"),
    ]);
    assert_eq!(
        d.docker_ok(&["exec", &name, "cat", "/tmp/in.txt", "/tmp/tree/deep/leaf"]),
        "from host\nleaf\n"
    );
    // Running container to host: a file, a directory, and a directory's content (`/.`).
    let out = host.join("out");
    std::fs::create_dir(&out).unwrap();
    d.docker_ok(&["cp", &format!("{name}:/data/t"), out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out.join("t")).unwrap(), "top\n");
    d.docker_ok(&[
        "cp",
        &format!("{name}:/data"),
        out.join("copy").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("copy/sub/f")).unwrap(),
        "inside\n"
    );
    std::fs::create_dir(out.join("content")).unwrap();
    d.docker_ok(&[
        "cp",
        &format!("{name}:/data/."),
        out.join("content").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("content/sub/f")).unwrap(),
        "inside\n"
    );
    assert!(!out.join("content/data").exists());

    // A missing source is Docker's 404 message.
    let (ok, err) = stderr_of(
        &d,
        &["cp", &format!("{name}:/nope"), out.to_str().unwrap()],
        None,
    );
    assert!(!ok, "{err}");
    assert!(
        err.contains("Could not find the file /nope in container"),
        "{err}"
    );

    // Stopped: both ways, and what was copied in is there on the next start.
    d.docker_ok(&["stop", "-t", "0", &name]);
    d.docker_ok(&[
        "cp",
        &format!("{name}:/tmp/in.txt"),
        out.join("back.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("back.txt")).unwrap(),
        "from host\n"
    );
    std::fs::write(host.join("while-stopped"), "stopped\n").unwrap();
    d.docker_ok(&[
        "cp",
        host.join("while-stopped").to_str().unwrap(),
        &format!("{name}:/data/"),
    ]);
    d.docker_ok(&["start", &name]);
    assert_eq!(
        d.docker_ok(&["exec", &name, "cat", "/data/while-stopped"]),
        "stopped\n"
    );
}

#[test]
fn hostile_uploads_are_refused_and_write_nothing() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cp-hostile");
    let _c = cleanup(&d, &[&name], &[]);
    d.docker_ok(&["create", "--name", &name, "busybox", "true"]);
    let victim = t.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let escape = format!("../../../../../../..{}/escaped", victim.display());
    let link_out = victim.display().to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "leads out of the destination",
            raw_tar(&[("good", b'0', "", b"ok\n"), (&escape, b'0', "", b"pwned\n")]),
        ),
        (
            "absolute paths are not allowed",
            raw_tar(&[
                ("good", b'0', "", b"ok\n"),
                ("/abs-file", b'0', "", b"pwned\n"),
            ]),
        ),
        (
            "goes through the symlink",
            raw_tar(&[
                ("good", b'0', "", b"ok\n"),
                ("out", b'2', &link_out, b""),
                ("out/escaped", b'0', "", b"pwned\n"),
            ]),
        ),
        (
            "leads out of the destination",
            raw_tar(&[
                ("good", b'0', "", b"ok\n"),
                ("hl", b'1', "../../etc/passwd", b""),
            ]),
        ),
    ];
    for (want, tar) in cases {
        let (ok, err) = stderr_of(&d, &["cp", "-", &format!("{name}:/tmp")], Some(&tar));
        assert!(!ok, "hostile archive accepted ({want})");
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    // Nothing was half-written: the good entry before each bad one is absent.
    let (ok, err) = stderr_of(
        &d,
        &[
            "cp",
            &format!("{name}:/tmp/good"),
            t.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(!ok && err.contains("Could not find the file"), "{err}");
    // An archive that is not a tar at all is a bad request, not a crash.
    let (ok, err) = stderr_of(
        &d,
        &["cp", "-", &format!("{name}:/tmp")],
        Some(b"this is not a tar archive, not at all, no headers here"),
    );
    assert!(!ok, "{err}");
    // A read-only rootfs takes no upload.
    let ro = unique_name("cp-ro");
    let _c2 = cleanup(&d, &[&ro], &[]);
    d.docker_ok(&["create", "--read-only", "--name", &ro, "busybox", "true"]);
    std::fs::write(t.path().join("f"), "x").unwrap();
    let (ok, err) = stderr_of(
        &d,
        &[
            "cp",
            t.path().join("f").to_str().unwrap(),
            &format!("{ro}:/tmp/"),
        ],
        None,
    );
    assert!(!ok && err.contains("read-only"), "{err}");
}

#[test]
fn symlinks_in_the_container_never_lead_to_the_host() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cp-link");
    let _c = cleanup(&d, &[&name], &[]);
    // The container points absolute symlinks at a host directory's path (the CVE-2018-15664
    // pattern): resolved in the container's root, they must reach the container's own paths.
    let host_dir = t.path().join("hostdir");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("secret"), "host secret\n").unwrap();
    let hd = host_dir.display().to_string();
    run_sh(
        &d,
        &name,
        &format!(
            "mkdir -p {hd} && ln -s {hd} /evil && ln -s {hd}/secret /evil-secret && ln -s ../../../../../../.. /up"
        ),
    );
    // Reading through the links finds nothing of the host's.
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (ok, err) = stderr_of(
        &d,
        &["cp", &format!("{name}:/evil/secret"), out.to_str().unwrap()],
        None,
    );
    assert!(!ok && err.contains("Could not find the file"), "{err}");
    let (ok, err) = stderr_of(
        &d,
        &[
            "cp",
            "-L",
            &format!("{name}:/evil-secret"),
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(!ok, "{err}");
    let up = format!("{name}:/up{}", host_dir.join("secret").display());
    let (ok, err) = stderr_of(&d, &["cp", &up, out.to_str().unwrap()], None);
    assert!(!ok && err.contains("Could not find the file"), "{err}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    // Writing through the link lands inside the container, not on the host.
    std::fs::write(t.path().join("drop"), "dropped\n").unwrap();
    d.docker_ok(&[
        "cp",
        t.path().join("drop").to_str().unwrap(),
        &format!("{name}:/evil/"),
    ]);
    assert!(!host_dir.join("drop").exists());
    assert_eq!(
        std::fs::read_dir(&host_dir).unwrap().count(),
        1,
        "the host directory changed"
    );
    d.docker_ok(&["cp", &format!("{name}:{hd}/drop"), out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("drop")).unwrap(),
        "dropped\n"
    );
}

#[test]
fn cp_sees_the_containers_mounts_while_it_runs() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cp-mounts");
    let _c = cleanup(&d, &[&name], &[]);
    let bind = t.path().join("bind");
    std::fs::create_dir(&bind).unwrap();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--hostname",
        "cphost",
        "-v",
        &format!("{}:/mnt/bind", bind.display()),
        "busybox",
        "sleep",
        "1000",
    ]);
    // Into a bind mount: the file lands in the host directory behind it.
    std::fs::write(t.path().join("f"), "to the volume\n").unwrap();
    d.docker_ok(&[
        "cp",
        t.path().join("f").to_str().unwrap(),
        &format!("{name}:/mnt/bind/"),
    ]);
    assert_eq!(
        std::fs::read_to_string(bind.join("f")).unwrap(),
        "to the volume\n"
    );
    // The container's own /etc/hostname, not the rootfs underneath.
    let out = d.docker_ok(&["cp", &format!("{name}:/etc/hostname"), "-"]);
    assert!(out.contains("cphost"), "{out}");
    // The whole running filesystem: kernel filesystems are not walked.
    let list = tar_list(
        &docker_bytes(&d, &["cp", &format!("{name}:/"), "-"]),
        t.path(),
    );
    assert!(list.contains("bin/busybox"), "{list}");
    assert!(list.contains("mnt/bind/f"), "{list}");
    assert!(!list.contains("proc/self"), "{list}");
    assert!(!list.contains("sys/kernel"), "{list}");
}

#[test]
fn cp_renames_follows_links_and_works_on_a_paused_container() {
    let (d, t) = daemon_with_busybox();
    let name = unique_name("cp-more");
    let image = unique_name("cp-paused-commit");
    let _c = cleanup(&d, &[&name], &[&image]);
    start_sh(
        &d,
        &name,
        "echo target > /target && ln -s /target /link",
        "/link",
    );
    d.docker_ok(&["pause", &name]);
    let host = t.path();
    // To a new name on either side.
    std::fs::write(host.join("src"), "renamed\n").unwrap();
    d.docker_ok(&[
        "cp",
        host.join("src").to_str().unwrap(),
        &format!("{name}:/tmp/newname"),
    ]);
    d.docker_ok(&[
        "cp",
        &format!("{name}:/tmp/newname"),
        host.join("back").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(host.join("back")).unwrap(),
        "renamed\n"
    );
    // A symlink is copied as a link, or followed with -L.
    d.docker_ok(&[
        "cp",
        &format!("{name}:/link"),
        host.join("l").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_link(host.join("l")).unwrap(),
        std::path::Path::new("/target")
    );
    d.docker_ok(&[
        "cp",
        "-L",
        &format!("{name}:/link"),
        host.join("f").to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "target\n");
    // A paused container commits without being resumed, and stays paused.
    d.docker_ok(&["commit", &name, &image]);
    let state = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", &name]);
    assert_eq!(state.trim(), "paused");
    d.docker_ok(&["unpause", &name]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &image, "cat", "/tmp/newname", "/link"]),
        "renamed\ntarget\n"
    );
    // Into a missing directory: Docker's 404.
    let (ok, err) = stderr_of(
        &d,
        &[
            "cp",
            host.join("src").to_str().unwrap(),
            &format!("{name}:/no/such/dir/"),
        ],
        None,
    );
    assert!(!ok, "{err}");
}

/// Lazily unmounts a path when the test ends, passed or failed.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_restarted_daemon_undoes_temporary_rootfs_mounts_left_by_a_crash() {
    let (mut d, _t) = daemon_with_busybox();
    let stale = d.root().join("data/engine/rootfs-mounts/rootfs-stale");
    std::fs::create_dir_all(&stale).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "stale", stale.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let _guard = Unmount(stale.clone());
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(stale.to_str().unwrap())
    };
    assert!(mounted());
    d.restart();
    assert!(!mounted(), "the stale mount survived the restart");
    assert!(!stale.exists());
}
