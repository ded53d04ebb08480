//! Pull, push and login against a real registry (Debian's docker-registry on loopback), compared
//! with the stock docker CLI: plain output, the final screen of `pull` in an 80x24 terminal, and
//! the credentials stored in config.json.

mod common;

use std::process::Command;

use berth_testkit::registry::Registry;
use common::tmux::Tmux;
use common::{Env, text};

/// Copies the test busybox image into `registry` as `repo:1` with skopeo.
fn seed(env: &Env, registry: &Registry, repo: &str) -> String {
    let archive =
        berth_testkit::images::busybox_archive(env.dir.path(), "busybox:latest").expect("archive");
    let reference = format!("{}/{repo}:1", registry.host());
    let o = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .expect("run skopeo");
    assert!(
        o.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    reference
}

/// The screen a pull leaves in an 80x24 terminal, with the image removed again afterwards.
fn pull_screen(env: &Env, cli: &str, reference: &str) -> String {
    let cmd = format!(
        "env DOCKER_HOST={} DOCKER_CONFIG={} {cli} pull {reference}; echo EXIT=$?; sleep 60",
        env.host(),
        env.config_dir().display()
    );
    let t = Tmux::start(&cmd, 80, 24);
    let screen = t.wait_for("EXIT=");
    let rmi = env.run(&["rmi", reference]);
    assert!(rmi.status.success(), "{:?}", text(&rmi));
    screen.trim_end().to_string()
}

#[test]
fn pull_in_an_80x24_terminal_looks_like_docker() {
    let env = Env::bare();
    let registry = Registry::start().expect("registry");
    let reference = seed(&env, &registry, &berth_testkit::unique_name("pp"));
    let berth = pull_screen(&env, &common::berth_bin().display().to_string(), &reference);
    let docker = pull_screen(&env, "docker", &reference);
    assert_eq!(
        berth, docker,
        "berth's screen:\n{berth}\ndocker's screen:\n{docker}"
    );
    assert!(berth.contains(": Pull complete"), "{berth}");
    assert!(
        berth.contains(&format!("Status: Downloaded newer image for {reference}")),
        "{berth}"
    );
    assert!(berth.ends_with("EXIT=0"), "{berth}");
}

#[test]
fn pull_and_push_print_what_docker_prints() {
    let env = Env::bare();
    let source = Registry::start().expect("registry");
    let reference = seed(&env, &source, "src");
    let pulled = env.berth_ok(&["pull", &reference]);
    assert!(
        pulled.ends_with(&format!(
            "Status: Downloaded newer image for {reference}\n{reference}\n"
        )),
        "{pulled}"
    );
    // Each CLI pushes to its own fresh registry, so both upload every layer.
    let (rb, rd) = (
        Registry::start().expect("registry"),
        Registry::start().expect("registry"),
    );
    let (tb, td) = (
        format!("{}/pushed:1", rb.host()),
        format!("{}/pushed:1", rd.host()),
    );
    env.berth_ok(&["tag", &reference, &tb]);
    env.berth_ok(&["tag", &reference, &td]);
    let b = env.run(&["push", &tb]);
    let d = env.docker(&["push", &td]);
    let (bo, be) = text(&b);
    let (d_out, de) = text(&d);
    assert_eq!(
        (bo.replace(&rb.host(), "REG"), be, b.status.code()),
        (d_out.replace(&rd.host(), "REG"), de, d.status.code())
    );
    assert!(
        bo.starts_with(&format!(
            "The push refers to repository [{}/pushed]\n",
            rb.host()
        )),
        "{bo}"
    );
    let missing = format!("{}/nosuch:1", source.host());
    let b = env.run(&["pull", &missing]);
    let d = env.docker(&["pull", &missing]);
    assert_eq!((text(&b), b.status.code()), (text(&d), d.status.code()));
    assert_eq!(b.status.code(), Some(1));
}

#[test]
fn login_stores_credentials_like_docker_and_push_uses_them() {
    let env = Env::start();
    let registry = Registry::start_with_token_auth("alice", "s3cret").expect("registry");
    let login = |cmd: &mut Command| {
        let mut child = cmd
            .args(["login", "-u", "alice", "--password-stdin", &registry.host()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn login");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"s3cret\n")
            .expect("password");
        drop(child.stdin.take());
        child.wait_with_output().expect("login")
    };
    let b = login(&mut env.berth());
    let d = login(&mut env.docker_cmd());
    assert!(b.status.success(), "{:?}", text(&b));
    assert_eq!(text(&b).0.lines().last(), Some("Login Succeeded"));
    assert_eq!(text(&b).0.lines().last(), text(&d).0.lines().last());
    let read = |dir: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).expect("config.json"))
            .expect("json")
    };
    let (cb, cd) = (
        read(env.config_dir()),
        read(env.dir.path().join("docker-config")),
    );
    assert_eq!(
        cb["auths"][registry.host()]["auth"],
        cd["auths"][registry.host()]["auth"]
    );
    let target = format!("{}/private:1", registry.host());
    env.berth_ok(&["tag", "busybox", &target]);
    let out = env.berth_ok(&["push", &target]);
    assert!(out.contains("digest: sha256:"), "{out}");
    let logout = env.berth_ok(&["logout", &registry.host()]);
    assert_eq!(
        logout,
        format!("Removing login credentials for {}\n", registry.host())
    );
    let denied = env.run(&["push", &target]);
    assert_ne!(denied.status.code(), Some(0), "{:?}", text(&denied));
}
