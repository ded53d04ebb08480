//! The runtime's security properties, each shown by a real container.

mod common;

use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;

use common::{Ct, ok, stderr};
use serde_json::json;

/// Runs `cmd` with `fd` installed as `target` in the child (not close-on-exec).
fn with_fd(cmd: &mut std::process::Command, fd: RawFd, target: RawFd) {
    // SAFETY: dup2 is async-signal-safe; it only runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn no_host_fd_leaks_into_the_container() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "secret").unwrap();
    let f = std::fs::File::open(secret.path()).unwrap();
    let c = Ct::new(&["ls", "/proc/self/fd"], |_| {});
    let mut cmd = c.cmd(&["run", "--bundle", c.bundle().to_str().unwrap(), &c.id]);
    with_fd(&mut cmd, f.as_raw_fd(), 7);
    let out = cmd.output().unwrap();
    let fds: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!fds.contains(&"7".to_string()), "host fd 7 leaked: {fds:?}");
    assert!(
        fds.iter()
            .all(|f| ["0", "1", "2", "3"].contains(&f.as_str())),
        "{fds:?}"
    );

    // --preserve-fds 1 passes fd 3, and only it
    let c = Ct::new(
        &["sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '"],
        |_| {},
    );
    let mut cmd = c.cmd(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        c.bundle().to_str().unwrap(),
        &c.id,
    ]);
    with_fd(&mut cmd, f.as_raw_fd(), 3);
    let out = ok(cmd.output().unwrap());
    assert!(out.starts_with("secret"), "{out}");
}

#[test]
fn cwd_cannot_resolve_outside_the_rootfs() {
    let host_root = std::fs::File::open("/").unwrap();
    let c = Ct::new(&["pwd"], |v| v["process"]["cwd"] = json!("/proc/self/fd/7"));
    let mut cmd = c.cmd(&["run", "--bundle", c.bundle().to_str().unwrap(), &c.id]);
    with_fd(&mut cmd, host_root.as_raw_fd(), 7);
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "container started with a host cwd: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr(&out).contains("cwd"), "{}", stderr(&out));
    assert!(!c.root().join(&c.id).exists());
}

#[test]
fn runtime_binary_is_not_reachable_through_proc_exe() {
    // While created, the init is still the runtime binary; a process exec'd into the container
    // (root, default capabilities) must not be able to open it through /proc/1/exe.
    let c = Ct::new(&["true"], |_| {});
    assert!(c.create().status.success());
    let out = ok(c.exec(&["sh", "-c", "cat /proc/1/exe > /dev/null 2>&1 && echo opened || echo denied; readlink /proc/1/exe || echo no-link"]));
    assert!(out.starts_with("denied"), "{out}");
    assert!(out.contains("no-link"), "{out}");
}

#[test]
fn mount_targets_stay_inside_the_rootfs() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_path_buf();
    let c = Ct::new(
        &[
            "sh",
            "-c",
            "echo inside > /evil/sub/file && cat /evil/sub/file",
        ],
        |v| {
            v["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"}));
        },
    );
    std::os::unix::fs::symlink(&target, c.bundle().join("rootfs/evil")).unwrap();
    let out = c.run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "inside\n",
        "{}",
        stderr(&out)
    );
    assert!(
        !target.join("sub").exists(),
        "mount point created outside the rootfs"
    );
    let inside = c
        .bundle()
        .join("rootfs")
        .join(target.strip_prefix("/").unwrap())
        .join("sub");
    assert!(
        inside.is_dir(),
        "the symlink was resolved inside the rootfs"
    );
}

#[test]
fn pty_is_sent_over_the_console_socket() {
    let c = Ct::new(&["sh", "-c", "tty; echo hello-tty"], |v| {
        v["process"]["terminal"] = json!(true)
    });
    let sock = c.dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let err_file = std::fs::File::create(c.dir.path().join("err")).unwrap();
    let mut create = c
        .cmd(&[
            "create",
            "--bundle",
            c.bundle().to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
            &c.id,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(err_file)
        .spawn()
        .unwrap();
    let master = receive_pty(&listener);
    assert!(
        create.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(c.dir.path().join("err")).unwrap()
    );
    ok(c.rt(&["start", &c.id]));
    let text = read_until(master, "hello-tty");
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("hello-tty"), "{text}");
}

fn receive_pty(listener: &std::os::unix::net::UnixListener) -> OwnedFd {
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    for cm in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = cm {
            // SAFETY: the fd was just received and is ours.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received over the console socket");
}

fn read_until(master: OwnedFd, want: &str) -> String {
    let mut f = std::fs::File::from(master);
    let mut text = String::new();
    let mut chunk = [0u8; 256];
    while !text.contains(want) {
        match f.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&chunk[..n])),
        }
    }
    text
}

#[test]
fn exec_tty_over_the_console_socket_detached() {
    // containerd's `exec -t`: --process with terminal, --console-socket, --detach, --pid-file
    let c = Ct::new(&["sleep", "100"], |_| {});
    c.start_detached();
    let sock = c.dir.path().join("exec-console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let proc_file = c.dir.path().join("process.json");
    std::fs::write(
        &proc_file,
        serde_json::to_vec(&json!({"terminal": true, "args": ["sh", "-c", "tty; echo exec-tty; sleep 1"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]})).unwrap(),
    )
    .unwrap();
    let pid_file = c.dir.path().join("exec.pid");
    let mut exec = c
        .cmd(&[
            "exec",
            "--process",
            proc_file.to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &c.id,
        ])
        .spawn()
        .unwrap();
    let master = receive_pty(&listener);
    assert!(exec.wait().unwrap().success());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(
        c.rt(&["ps", "--format", "json", &c.id])
            .stdout
            .windows(pid.to_string().len())
            .any(|w| w == pid.to_string().as_bytes())
    );
    let text = read_until(master, "exec-tty");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("exec-tty"), "{text}");
}
