//! End to end: berthd on a temp socket, driven by the stock docker CLI and raw HTTP.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use berth_testkit::daemon::Daemon;

fn raw(d: &Daemon, request: &str) -> String {
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn docker_version_and_info_talk_to_berthd() {
    let d = Daemon::start();
    let v = d.docker_ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(v.trim(), "1.44 linux");
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{.OSType}} {{.Containers}} {{.LoggingDriver}}",
    ]);
    assert_eq!(info.trim(), "linux 0 json-file");
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
}

#[test]
fn ping_carries_dockers_headers_for_get_and_head() {
    let d = Daemon::start();
    let get = raw(
        &d,
        "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(get.starts_with("HTTP/1.1 200"), "{get}");
    assert!(get.contains("api-version: 1.44"), "{get}");
    assert!(get.contains("builder-version: 1"), "{get}");
    assert!(get.contains("ostype: linux"), "{get}");
    assert!(get.ends_with("OK"), "{get}");
    let head = raw(
        &d,
        "HEAD /v1.41/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("docker-experimental: false"), "{head}");
}

#[test]
fn versions_outside_the_range_are_refused_with_dockers_message() {
    let d = Daemon::start();
    let new = raw(
        &d,
        "GET /v1.99/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(new.starts_with("HTTP/1.1 400"), "{new}");
    assert!(new.contains("client version 1.99 is too new"), "{new}");
    let old = raw(
        &d,
        "GET /v1.12/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(old.contains("is too old"), "{old}");
    let ok = raw(
        &d,
        "GET /v1.24/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(ok.contains("\"MinAPIVersion\":\"1.24\""), "{ok}");
}
