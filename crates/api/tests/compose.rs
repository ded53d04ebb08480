//! End to end: docker-compose (Debian's 1.29, on docker-py) drives a two-service project
//! against berthd unchanged: a project network with DNS by service name (compose disconnects
//! and reconnects each container with its aliases before the first start), a named volume
//! shared by both services, a published port, a health check, exec, logs, and `down -v`
//! leaving nothing behind.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::daemon_with_busybox;

const COMPOSE_FILE: &str = r#"version: "3.8"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && httpd -f -p 8080 -h /www"]
    volumes:
      - data:/data
    ports:
      - "127.0.0.1::8080"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]
      interval: 1s
  client:
    image: busybox:latest
    command: ["sh", "-c", "until wget -q -O- http://web:8080/ > /data/seen; do sleep 0.2; done; cat /data/seen; sleep 1000"]
    depends_on: [web]
    volumes:
      - data:/data
volumes:
  data: {}
"#;

fn compose(d: &berth_testkit::daemon::Daemon, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new("docker-compose")
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
        .args(args)
        .output()
        .expect("run docker-compose (apt package docker-compose)")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn docker_compose_brings_a_project_up_and_down() {
    let (d, _t) = daemon_with_busybox();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), COMPOSE_FILE).unwrap();
    let project = berth_testkit::unique_name("cp");
    let p = ["-p", project.as_str()];
    ok(compose(&d, dir.path(), &[&p[..], &["up", "-d"]].concat()));
    // the client reached web by its service name and wrote into the shared volume
    let seen = common::poll(
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            let args = [&p[..], &["exec", "-T", "web", "cat", "/data/seen"]].concat();
            String::from_utf8_lossy(&compose(&d, dir.path(), &args).stdout).into_owned()
        },
        |s| s == "hello-from-web\n",
    );
    assert_eq!(seen, "hello-from-web\n", "{}", d.log());
    let logs = ok(compose(
        &d,
        dir.path(),
        &[&p[..], &["logs", "--no-color", "client"]].concat(),
    ));
    assert!(logs.contains("hello-from-web"), "{logs}");
    // the published port answers from the host, and the health check turns healthy
    let web = format!("{project}_web_1");
    let port = d.docker_ok(&["port", &web, "8080/tcp"]);
    let addr = port.lines().next().unwrap().trim().to_string();
    let body = Command::new("busybox")
        .args(["wget", "-q", "-O-", &format!("http://{addr}/")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&body.stdout), "hello-from-web\n");
    common::expect_health(&d, &web, "healthy");
    let ps = ok(compose(&d, dir.path(), &[&p[..], &["ps"]].concat()));
    assert!(ps.contains(&web) && ps.contains("Up"), "{ps}");
    // down -v: containers, the project network and the volume are gone
    ok(compose(
        &d,
        dir.path(),
        &[&p[..], &["down", "-v", "-t", "1"]].concat(),
    ));
    assert!(d.docker_ok(&["ps", "-aq"]).trim().is_empty());
    let nets = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains(&project), "{nets}");
    let vols = d.docker_ok(&["volume", "ls", "-q"]);
    assert!(!vols.contains(&project), "{vols}");
}
