//! The requests `berth` sends, recorded by a logging proxy on a UNIX socket in front of the test
//! daemon, are the ones the stock docker CLI sends for the same command (the per-command table of
//! the team's docker-api notes).

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{Env, text};

/// Relays every connection to `upstream` and records the request lines clients send.
struct Proxy {
    path: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

fn request_lines(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split("\r\n")
        .filter(|l| {
            l.ends_with(" HTTP/1.1")
                && ["GET ", "POST ", "HEAD ", "PUT ", "DELETE "]
                    .iter()
                    .any(|m| l.starts_with(m))
        })
        .map(|l| l.trim_end_matches(" HTTP/1.1").to_string())
        .collect()
}

impl Proxy {
    fn start(dir: &Path, upstream: PathBuf) -> Proxy {
        let path = dir.join("proxy.sock");
        let listener = UnixListener::bind(&path).expect("bind proxy");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let shared = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = UnixStream::connect(&upstream) else {
                    return;
                };
                let (mut c_read, mut s_write) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let (mut s_read, mut c_write) = (server, client);
                let log = shared.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 {
                            let _ = s_write.shutdown(std::net::Shutdown::Write);
                            break;
                        }
                        if let Ok(mut l) = log.lock() {
                            l.extend(request_lines(&buf[..n]));
                        }
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Proxy { path, log }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// The requests since the last call, versions and IDs normalised.
    fn take(&self) -> Vec<String> {
        let lines = std::mem::take(&mut *self.log.lock().expect("log"));
        lines.into_iter().map(|l| normalise(&l)).collect()
    }
}

fn normalise(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let is_version = part.starts_with('v')
            && part[1..]
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if i == 1 && is_version {
            out.push_str("vX");
        } else if part.len() >= 64 && part[..64].chars().all(|c| c.is_ascii_hexdigit()) {
            out.push_str("{id}");
            out.push_str(&part[64..]);
        } else {
            out.push_str(part);
        }
    }
    out.replace("/vX/", "/")
}

#[test]
fn run_sends_the_docker_cli_sequence() {
    let env = Env::start();
    let proxy = Proxy::start(
        env.dir.path(),
        PathBuf::from(env.host().trim_start_matches("unix://")),
    );
    let run = |cmd: &mut std::process::Command, args: &[&str]| {
        let o = cmd
            .env("DOCKER_HOST", proxy.host())
            .args(args)
            .output()
            .expect("run");
        (text(&o), o.status.code(), proxy.take())
    };
    let name = berth_testkit::unique_name("tr");
    let _c = common::Cleanup(&env, vec![name.clone()]);
    env.berth_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    for args in [
        &["run", "--rm", "busybox", "sh", "-c", "exit 3"][..],
        &["run", "-d", "--rm", "busybox", "true"][..],
        &["exec", &name, "true"][..],
        &["logs", &name][..],
        &["top", &name][..],
        &["restart", "-t", "0", &name][..],
        &["stop", "-t", "0", &name][..],
        &["start", &name][..],
        &["rm", "-f", "nosuch-container"][..],
        &["inspect", "busybox"][..],
        &["rmi", "nosuch:1"][..],
        &["network", "ls"][..],
        &["run", "busybox", "true"][..],
        &["ps", "-a"][..],
        &["images"][..],
        &["volume", "ls"][..],
        &["version"][..],
    ] {
        let (b_out, b_code, b_reqs) = run(&mut env.berth(), args);
        let (d_out, d_code, d_reqs) = run(&mut env.docker_cmd(), args);
        assert_eq!(b_code, d_code, "{args:?}: {b_out:?} / {d_out:?}");
        assert_eq!(b_reqs, d_reqs, "{args:?} requests differ");
        if args[0] == "run" {
            assert_eq!(b_reqs[0], "HEAD /_ping");
            assert!(
                b_reqs
                    .iter()
                    .any(|r| r.starts_with("POST /containers/{id}/wait?condition=")),
                "{b_reqs:?}"
            );
        }
    }
}
