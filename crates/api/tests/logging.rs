//! End to end: json-file rotation (`--log-opt max-size/max-file/compress`), `docker logs` across
//! rotated files and `logs -f` across a rotation, `--log-driver none`, and Docker's refusals of
//! bad log options.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::{daemon_with_busybox, http, inspect_f, poll, run_detached};

fn log_dir(d: &Daemon, id: &str) -> PathBuf {
    d.data_root.join("engine/containers").join(id)
}

/// The log file names in the container's directory, sorted.
fn log_files(d: &Daemon, id: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(log_dir(d, id))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-json.log"))
        .collect();
    v.sort();
    v
}

/// The numbers of `line-N` lines, checked to be consecutive.
fn numbers(out: &str) -> Vec<u32> {
    let v: Vec<u32> = out
        .lines()
        .map(|l| {
            l.strip_prefix("line-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected log line {l:?}"))
        })
        .collect();
    for w in v.windows(2) {
        assert_eq!(w[1], w[0] + 1, "log lines out of order or missing: {out}");
    }
    v
}

fn wait_exit(d: &Daemon, name: &str) {
    let code = d.docker_ok(&["wait", name]);
    assert_eq!(code.trim(), "0");
}

/// A script printing `line-0` to `line-{n-1}`, `pause` after each.
fn lines_script(n: u32, pause: &str) -> String {
    format!("i=0; while [ $i -lt {n} ]; do echo line-$i; i=$((i+1)); {pause}done")
}

/// Runs `busybox sh -c SCRIPT` detached as `name`, each of `opts` given as a `--log-opt`;
/// returns the container's ID.
fn run_logging(d: &Daemon, name: &str, opts: &[&str], script: &str) -> String {
    let mut args = vec![];
    for o in opts {
        args.extend_from_slice(&["--log-opt", o]);
    }
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    run_detached(d, name, &args)
}

/// `docker logs -f NAME` to its end (the container's exit): the line numbers it printed.
fn follow_numbers(d: &Daemon, name: &str) -> Vec<u32> {
    let out = d
        .docker()
        .args(["logs", "-f", name])
        .output()
        .expect("docker logs -f");
    assert!(out.status.success());
    numbers(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn rotation_keeps_max_file_files_and_logs_reads_them_oldest_first() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("rot");
    let id = run_logging(
        &d,
        &name,
        &["max-size=10k", "max-file=3"],
        &lines_script(2000, ""),
    );
    wait_exit(&d, &name);
    let base = format!("{id}-json.log");
    assert_eq!(
        log_files(&d, &id),
        vec![base.clone(), format!("{base}.1"), format!("{base}.2")]
    );
    for f in [format!("{base}.1"), format!("{base}.2")] {
        let len = std::fs::metadata(log_dir(&d, &id).join(&f)).unwrap().len();
        // rotated once it reached 10000 bytes: at most one entry (< 200 bytes) beyond
        assert!((10_000..10_200).contains(&len), "{f}: {len} bytes");
    }
    let out = d.docker_ok(&["logs", &name]);
    let n = numbers(&out);
    assert_eq!(*n.last().unwrap(), 1999);
    // three files of about 10 kB hold far fewer than the 2000 lines written
    assert!(n.len() > 200 && n.len() < 600, "{} lines kept", n.len());
    let tail = d.docker_ok(&["logs", "--tail", "5", &name]);
    assert_eq!(numbers(&tail), (1995..2000).collect::<Vec<_>>());
    let inspect = inspect_f(
        &d,
        &name,
        "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}",
    );
    assert_eq!(inspect, "json-file 10k 3");
}

#[test]
fn max_file_one_truncates_and_compress_gzips_rotated_files() {
    let (d, _t) = daemon_with_busybox();
    let one = unique_name("rot1");
    let id = run_logging(&d, &one, &["max-size=2k"], &lines_script(500, ""));
    wait_exit(&d, &one);
    assert_eq!(log_files(&d, &id), vec![format!("{id}-json.log")]);
    let n = numbers(&d.docker_ok(&["logs", &one]));
    assert_eq!(*n.last().unwrap(), 499);
    assert!(n.len() < 40, "{} lines kept in one 2k file", n.len());

    let gz = unique_name("rotgz");
    let id = run_logging(
        &d,
        &gz,
        &["max-size=5k", "max-file=4", "compress=true"],
        &lines_script(1000, ""),
    );
    wait_exit(&d, &gz);
    let base = format!("{id}-json.log");
    // the compressing child may still be finishing the newest rotated file
    let want = vec![
        base.clone(),
        format!("{base}.1.gz"),
        format!("{base}.2.gz"),
        format!("{base}.3.gz"),
    ];
    let files = poll(
        Duration::from_secs(5),
        Duration::from_millis(100),
        || log_files(&d, &id),
        |f| *f == want,
    );
    assert_eq!(files, want);
    let n = numbers(&d.docker_ok(&["logs", &gz]));
    assert_eq!(*n.last().unwrap(), 999);
    assert!(n.len() > 150, "{} lines kept", n.len());
}

#[test]
fn logs_follow_goes_on_across_rotations() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("rotf");
    run_logging(
        &d,
        &name,
        &["max-size=2k", "max-file=2"],
        &format!("sleep 1; {}", lines_script(300, "usleep 5000; ")),
    );
    // started before the first line: every line must arrive, across about 15 rotations
    assert_eq!(follow_numbers(&d, &name), (0..300).collect::<Vec<_>>());
}

#[test]
fn logs_follow_reads_files_rotated_between_two_polls() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("rotb");
    // bursts of 30 lines (about 2.4 kB): two or three 1k rotations at a time, faster than the
    // follower polls; four files keep a whole burst on disk
    run_logging(
        &d,
        &name,
        &["max-size=1k", "max-file=4"],
        "sleep 1; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); \
         [ $((i % 30)) = 0 ] && sleep 0.3; done; true",
    );
    assert_eq!(follow_numbers(&d, &name), (0..300).collect::<Vec<_>>());
}

#[test]
fn labels_env_and_tag_become_attrs_shown_by_details() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("attrs");
    d.docker_ok(&[
        "run",
        "--name",
        &name,
        "--label",
        "team=core",
        "--label",
        "other=x",
        "-e",
        "MODE=prod",
        "-e",
        "X_A=1 2",
        "--log-opt",
        "labels=team",
        "--log-opt",
        "env=MODE",
        "--log-opt",
        "env-regex=^X_",
        "--log-opt",
        "tag={{.Name}}/{{.ID}}",
        "busybox",
        "echo",
        "hello",
    ]);
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", &name]);
    let id = id.trim();
    let raw = std::fs::read_to_string(log_dir(&d, id).join(format!("{id}-json.log"))).unwrap();
    let entry: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    let tag = format!("{name}/{}", &id[..12]);
    assert_eq!(
        entry["attrs"],
        serde_json::json!({"MODE": "prod", "X_A": "1 2", "tag": tag, "team": "core"}),
        "{raw}"
    );
    let plain = d.docker_ok(&["logs", &name]);
    assert_eq!(plain, "hello\n");
    let details = d.docker_ok(&["logs", "--details", &name]);
    assert_eq!(
        details,
        format!(
            "MODE=prod,X_A=1+2,tag={name}%2F{},team=core hello\n",
            &id[..12]
        )
    );

    for (opt, msg) in [
        ("env-regex=(", "error parsing regexp"),
        ("tag={{.Nope}}", "can't evaluate field Nope"),
    ] {
        let out = d.docker_run(&["create", "--log-opt", opt, "busybox", "true"]);
        assert!(!out.status.success(), "{opt} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{opt}: {err}");
    }
}

#[test]
fn log_driver_none_keeps_no_log() {
    let (d, _t) = daemon_with_busybox();
    let name = unique_name("nolog");
    let id = d.docker_ok(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hello",
    ]);
    // the attached client still sees the output
    assert_eq!(id.trim(), "hello");
    let out = d.docker_run(&["logs", &name]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    let path = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.LogPath}}|{{.HostConfig.LogConfig.Type}}",
        &name,
    ]);
    assert_eq!(path.trim(), "|none");
    let cid = d.docker_ok(&["inspect", "-f", "{{.Id}}", &name]);
    let files = std::fs::read_dir(log_dir(&d, cid.trim()))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "a none-driver container wrote files");
    let (status, body) = http::json(&d, "GET", &format!("/containers/{name}/logs?stdout=1"), "");
    assert_eq!(status, 501, "{body}");
}

#[test]
fn bad_log_options_are_refused_with_dockers_messages() {
    let (d, _t) = daemon_with_busybox();
    let cases: &[(&[&str], &str)] = &[
        (&["--log-opt", "max-size=abc"], "invalid size: 'abc'"),
        (&["--log-opt", "max-size=10q"], "invalid suffix: 'q'"),
        (
            &["--log-opt", "max-size=0"],
            "max-size must be a positive number",
        ),
        (
            &["--log-opt", "max-file=0"],
            "max-file cannot be less than 1",
        ),
        (
            &["--log-opt", "max-file=x"],
            "strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            &["--log-opt", "foo=bar"],
            "unknown log opt 'foo' for json-file log driver",
        ),
        (
            &["--log-opt", "compress=true", "--log-opt", "max-size=1k"],
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
        (
            &["--log-driver", "syslog"],
            "logger: no log driver named 'syslog' is registered",
        ),
    ];
    for (flags, msg) in cases {
        let name = unique_name("badlog");
        let mut args = vec!["create", "--name", &name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = d.docker_run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} accepted");
        assert!(err.contains(msg), "{flags:?}: {err}");
        // nothing half-made
        assert!(!d.docker_run(&["inspect", &name]).status.success());
    }
    let (status, body) = http::json(
        &d,
        "POST",
        "/containers/create",
        r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-file":"-1"}}}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("max-file cannot be less than 1"), "{body}");
}
