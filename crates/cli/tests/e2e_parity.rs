//! The same script run with `berth` and with the stock `docker` CLI against one berthd gives the
//! same output, errors and exit codes.

mod common;

/// No name to substitute.
const NONE: (&str, &str) = ("\u{1}", "\u{1}");

use common::{Env, text};

/// Runs `args` with both CLIs (`{n}` replaced by a per-CLI name) and compares stdout, stderr and
/// the exit code once the names are put back to `{n}`.
fn same(env: &Env, args: &[&str], names: (&str, &str)) -> (String, String, Option<i32>) {
    compare(env, args, names, false)
}

/// As [`same`], with the lines sorted: the docker CLI lists the tags of one image
/// in Go's random map order.
fn same_rows(env: &Env, args: &[&str], names: (&str, &str)) -> (String, String, Option<i32>) {
    compare(env, args, names, true)
}

fn sort_rows(s: &str) -> String {
    let mut lines: Vec<&str> = s.lines().collect();
    lines.sort_unstable();
    lines.join("\n")
}

fn compare(
    env: &Env,
    args: &[&str],
    names: (&str, &str),
    sorted: bool,
) -> (String, String, Option<i32>) {
    let sub = |n: &str| args.iter().map(|a| a.replace("{n}", n)).collect::<Vec<_>>();
    let b_args = sub(names.0);
    let d_args = sub(names.1);
    let b = env.run(&b_args.iter().map(String::as_str).collect::<Vec<_>>());
    let d = env.docker(&d_args.iter().map(String::as_str).collect::<Vec<_>>());
    let norm = |s: String, n: &str| {
        let s = s.replace(n, "{n}");
        if sorted { sort_rows(&s) } else { s }
    };
    let (bo, be) = text(&b);
    let (d_out, de) = text(&d);
    let b = (
        norm(bo, names.0),
        norm(be, names.0).replace("berth", "docker"),
        b.status.code(),
    );
    let d = (norm(d_out, names.1), norm(de, names.1), d.status.code());
    assert_eq!(
        b,
        d,
        "berth and docker differ on {args:?}\ndaemon log:\n{}",
        env.log()
    );
    b
}

#[test]
fn image_commands_print_what_docker_prints() {
    let env = Env::start();
    let n = (
        berth_testkit::unique_name("b"),
        berth_testkit::unique_name("d"),
    );
    let names = (n.0.as_str(), n.1.as_str());
    same(&env, &["tag", "busybox", "{n}:1"], names);
    let (images, _, _) = same_rows(&env, &["images"], NONE);
    assert!(
        images.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{images}"
    );
    same_rows(&env, &["images", "-q"], NONE);
    same_rows(
        &env,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
        NONE,
    );
    same_rows(
        &env,
        &["image", "ls", "--format", "table {{.Repository}}\\t{{.ID}}"],
        NONE,
    );
    same(
        &env,
        &[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{json .RepoTags}}",
            "busybox",
        ],
        NONE,
    );
    same(&env, &["history", "busybox"], NONE);
    same(&env, &["history", "-q", "--no-trunc", "busybox"], NONE);
    let (b_tar, d_tar) = (env.path("b.tar"), env.path("d.tar"));
    env.berth_ok(&["save", "-o", b_tar.to_str().unwrap_or_default(), "busybox"]);
    let d = env.docker(&["save", "-o", d_tar.to_str().unwrap_or_default(), "busybox"]);
    assert!(d.status.success(), "{:?}", text(&d));
    let (b_bytes, d_bytes) = (
        std::fs::read(&b_tar).expect("berth's tar"),
        std::fs::read(&d_tar).expect("docker's tar"),
    );
    assert!(
        b_bytes.len() > 1024 && b_bytes == d_bytes,
        "save -o wrote different archives"
    );
    let piped = env
        .berth()
        .args(["save", "busybox"])
        .output()
        .expect("save to a pipe");
    assert_eq!(piped.stdout, b_bytes);
    let (untag, _, _) = same(&env, &["rmi", "{n}:1"], names);
    assert_eq!(untag, "Untagged: {n}:1\n");
    let (_, err, code) = same(&env, &["rmi", "{n}:nosuch"], names);
    assert_eq!(code, Some(1), "{err}");
}

#[test]
fn container_metadata_commands_print_what_docker_prints() {
    let env = Env::start();
    let n = (
        berth_testkit::unique_name("b"),
        berth_testkit::unique_name("d"),
    );
    let names = (n.0.as_str(), n.1.as_str());
    let _cleanup = common::Cleanup(
        &env,
        vec![
            n.0.clone(),
            format!("{}2", n.0),
            n.1.clone(),
            format!("{}2", n.1),
        ],
    );
    let b = env.berth_ok(&[
        "create", "--name", names.0, "-e", "A=1", "-l", "k=v", "busybox", "sleep", "5",
    ]);
    let d = env.docker(&[
        "create", "--name", names.1, "-e", "A=1", "-l", "k=v", "busybox", "sleep", "5",
    ]);
    assert_eq!(b.trim().len(), 64);
    assert_eq!(text(&d).0.trim().len(), 64);
    same(
        &env,
        &[
            "ps",
            "-a",
            "--filter",
            "name={n}",
            "--format",
            "{{.Names}} {{.Image}} {{.Command}} {{.Labels}} {{.State}}",
        ],
        names,
    );
    same(
        &env,
        &[
            "inspect",
            "-f",
            "{{.Name}} {{.Config.Image}} {{json .Config.Cmd}} {{index .Config.Labels \"k\"}}",
            "{n}",
        ],
        names,
    );
    same(
        &env,
        &[
            "container",
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Running}}",
            "{n}",
        ],
        names,
    );
    same(&env, &["rename", "{n}", "{n}2"], names);
    same(
        &env,
        &[
            "ps",
            "-a",
            "--filter",
            "name={n}2",
            "--no-trunc",
            "--format",
            "{{.Names}}",
        ],
        names,
    );
    let (_, warning, _) = same(
        &env,
        &[
            "ps",
            "-a",
            "-q",
            "--filter",
            "name=nothing-matches",
            "--format",
            "{{.Names}}",
        ],
        NONE,
    );
    assert!(warning.contains("Ignoring custom format"), "{warning}");
    let (out, _, _) = same(&env, &["rm", "{n}2"], names);
    assert_eq!(out, "{n}2\n");
}

#[test]
fn errors_and_exit_codes_match_docker() {
    let env = Env::bare();
    let names = NONE;
    let (_, err, code) = same(&env, &["rm", "nosuch-container"], names);
    assert_eq!(
        (err.as_str(), code),
        (
            "Error response from daemon: No such container: nosuch-container\n",
            Some(1)
        )
    );
    same(&env, &["inspect", "nosuch-thing"], names);
    same(&env, &["ps", "--format", "{{.ID"], names);
    same(&env, &["ps", "--format", "{{frob .ID}}"], names);
    let (_, _, code) = same(&env, &["inspect", "-f", "{{.Nope", "x"], names);
    assert_eq!(code, Some(64));
    same(&env, &["run", "-it", "--rm", "busybox", "true"], names);
    same(&env, &["exec", "-it", "nosuch-container", "true"], names);
    same(
        &env,
        &["run", "--rm", "-p", "notaport", "busybox", "true"],
        names,
    );
}

#[test]
fn volume_network_and_system_commands_print_what_docker_prints() {
    let env = Env::bare();
    let n = (
        berth_testkit::unique_name("bv"),
        berth_testkit::unique_name("dv"),
    );
    let names = (n.0.as_str(), n.1.as_str());
    let (out, _, _) = same(&env, &["volume", "create", "--label", "k=v", "{n}"], names);
    assert_eq!(out, "{n}\n");
    same_rows(&env, &["volume", "ls"], NONE);
    same_rows(&env, &["volume", "ls", "-q"], NONE);
    same(
        &env,
        &[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Labels}}",
            "{n}",
        ],
        names,
    );
    same(&env, &["volume", "rm", "{n}"], names);
    let (_, err, code) = same(&env, &["volume", "rm", "{n}"], names);
    assert_eq!(code, Some(1), "{err}");
    let b = env.berth_ok(&["network", "create", names.0]);
    let d = env.docker(&["network", "create", names.1]);
    assert_eq!((b.trim().len(), text(&d).0.trim().len()), (64, 64));
    same_rows(&env, &["network", "ls"], NONE);
    same_rows(
        &env,
        &[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ],
        NONE,
    );
    same(
        &env,
        &["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "{n}"],
        names,
    );
    same(&env, &["network", "rm", "{n}"], names);
    same(&env, &["system", "df"], NONE);
}

#[test]
fn events_print_what_docker_prints() {
    let env = Env::bare();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = berth_testkit::unique_name("ev");
    env.berth_ok(&["volume", "create", &name]);
    env.berth_ok(&["volume", "rm", &name]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = (start + 2).to_string();
    let since = start.to_string();
    let filter = format!("volume={name}");
    let (out, _, _) = same(
        &env,
        &[
            "events", "--since", &since, "--until", &until, "--filter", &filter,
        ],
        NONE,
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&format!("volume create {name}")), "{out}");
    let (out, _, _) = same(
        &env,
        &[
            "system",
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            &filter,
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.ID}}",
        ],
        NONE,
    );
    assert_eq!(
        out,
        format!("volume create {name}\nvolume destroy {name}\n")
    );
}

#[test]
fn info_server_section_matches_docker() {
    let env = Env::bare();
    let server = |o: std::process::Output| {
        let s = text(&o).0;
        s[s.find("Server:").unwrap_or(0)..].to_string()
    };
    let b = server(env.run(&["info"]));
    let d = server(env.docker(&["info"]));
    assert_eq!(b, d);
    assert!(b.contains(" Storage Driver: "), "{b}");
}

#[test]
fn version_server_section_matches_docker() {
    let env = Env::bare();
    let server = |o: std::process::Output| {
        let s = text(&o).0;
        s[s.find("\nServer").unwrap_or(0)..].to_string()
    };
    let b = server(env.run(&["version"]));
    assert_eq!(b, server(env.docker(&["version"])));
    assert!(b.contains(" Engine:\n  Version: "), "{b}");
    let (api, _, _) = same(
        &env,
        &[
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Client.Os}} {{.Server.Version}}",
        ],
        NONE,
    );
    assert!(api.starts_with("1.") && api.contains(" linux "), "{api}");
}
