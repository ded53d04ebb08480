//! `docker build` (the stock CLI's legacy builder, `DOCKER_BUILDKIT=0`) against berthd: a
//! multi-stage build whose image runs, the cache on a rebuild, build args, `--target`, `-q`,
//! `--iidfile`, `.dockerignore`, Docker's syntax error, and how step images are listed/removed.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;

const MULTI_STAGE: &str = r#"FROM busybox AS base
ARG MSG=default
RUN echo "built $MSG" > /msg && mkdir /out && echo side > /out/side
FROM base AS extra
RUN echo extra > /extra
FROM busybox
COPY --from=base /msg /msg
COPY . /ctx/
ENV GREETING=hi
CMD ["sh", "-c", "cat /msg; echo $GREETING; ls /ctx"]
"#;

fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = d.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    d
}

/// `DOCKER_BUILDKIT=0 docker build ARGS CONTEXT`.
fn build(d: &Daemon, ctx: &Path, args: &[&str]) -> Output {
    d.docker()
        .env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(args)
        .arg(ctx)
        .output()
        .expect("run docker build")
}

fn build_ok(d: &Daemon, ctx: &Path, args: &[&str]) -> String {
    let out = build(d, ctx, args);
    assert!(
        out.status.success(),
        "docker build {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn image_id(d: &Daemon, name: &str) -> String {
    d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

fn image_ids(d: &Daemon, all: bool) -> Vec<String> {
    let mut args = vec!["images", "-q", "--no-trunc"];
    if all {
        args.push("-a");
    }
    d.docker_ok(&args).lines().map(str::to_owned).collect()
}

#[test]
fn docker_build_multi_stage_runs_and_rebuilds_from_cache() {
    let (d, _dir) = common::daemon_with_busybox();
    let ctx = context(&[
        ("Dockerfile", MULTI_STAGE),
        ("app.txt", "app\n"),
        ("keep.log", "kept\n"),
        ("debug.log", "ignored\n"),
        ("secret/key", "ignored\n"),
        (".dockerignore", "secret\n*.log\n!keep.log\n"),
    ]);
    let name = format!("{}:1", unique_name("built"));
    let out = build_ok(&d, ctx.path(), &["-t", &name, "--build-arg", "MSG=hello"]);
    // As moby's legacy builder: every stage up to the target is built and numbered, the
    // `extra` stage too although the final image does not use it.
    assert!(out.contains("Step 1/10 : FROM busybox AS base"), "{out}");
    assert!(out.contains("Step 4/10 : FROM base AS extra"), "{out}");
    assert!(out.contains("Step 5/10 : RUN echo extra > /extra"), "{out}");
    assert!(out.contains("Step 10/10 : CMD"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(
        out.contains(&format!("Successfully tagged {name}")),
        "{out}"
    );
    let id = image_id(&d, &name);
    assert!(
        out.contains(&format!("Successfully built {}", &id[7..19])),
        "{out}"
    );

    let ran = d.docker_ok(&["run", "--rm", &name]);
    let lines: Vec<&str> = ran.lines().collect();
    assert_eq!(lines[..2], ["built hello", "hi"], "{ran}");
    let mut listed: Vec<&str> = lines[2..].to_vec();
    listed.sort();
    assert_eq!(listed, ["Dockerfile", "app.txt", "keep.log"], "{ran}");

    // Nothing changed: every step comes from the cache, and the image is the same.
    let again = build_ok(&d, ctx.path(), &["-t", &name, "--build-arg", "MSG=hello"]);
    assert!(again.contains("Using cache"), "{again}");
    assert!(!again.contains("Running in"), "{again}");
    assert_eq!(image_id(&d, &name), id);

    // A changed build arg rebuilds the RUN that uses it.
    let other = build_ok(&d, ctx.path(), &["--build-arg", "MSG=bye", "-q"]);
    let other_id = other.trim();
    assert!(other_id.starts_with("sha256:") && other_id != id, "{other}");
    let ran = d.docker_ok(&["run", "--rm", other_id, "cat", "/msg"]);
    assert_eq!(ran, "built bye\n");

    // Step images are untagged parents: hidden from `docker images`, shown by `-a`.
    let shown = image_ids(&d, false);
    let all = image_ids(&d, true);
    assert!(shown.contains(&id), "{shown:?}");
    let parent = d
        .docker_ok(&["image", "inspect", "--format", "{{.Parent}}", &name])
        .trim()
        .to_string();
    assert!(parent.starts_with("sha256:"), "{parent:?}");
    assert!(!shown.contains(&parent), "{shown:?}");
    assert!(all.contains(&parent), "{all:?}");
    assert!(all.len() > shown.len() + 2, "{all:?} vs {shown:?}");
    let table = d.docker_ok(&["images"]);
    assert!(
        table.lines().filter(|l| l.starts_with("<none>")).count() < all.len() - shown.len(),
        "{table}"
    );
    // `image prune` removes the dangling `MSG=bye` image (no tag, no child) and keeps the
    // untagged parents of the tagged image.
    let pruned = d.docker_ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {other_id}")), "{pruned}");
    let all = image_ids(&d, true);
    assert!(!all.contains(&other_id.to_string()), "{all:?}");
    assert!(all.contains(&parent) && all.contains(&id), "{all:?}");
    // A parent cannot be deleted by ID while its child is there.
    let out = d.docker_run(&["rmi", &parent]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("image has dependent child images"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Removing the image removes its own untagged parents too.
    let removed = d.docker_ok(&["rmi", &name]);
    assert!(removed.contains(&format!("Deleted: {id}")), "{removed}");
    assert!(removed.contains(&format!("Deleted: {parent}")), "{removed}");
    assert!(!image_ids(&d, true).contains(&parent));
}

#[test]
fn docker_build_target_quiet_and_iidfile() {
    let (d, dir) = common::daemon_with_busybox();
    let ctx = context(&[("Dockerfile", MULTI_STAGE), ("app.txt", "app\n")]);
    let iid = dir.path().join("iid");
    let out = build_ok(
        &d,
        ctx.path(),
        &[
            "-q",
            "--target",
            "extra",
            "--iidfile",
            iid.to_str().unwrap(),
        ],
    );
    let id = out.trim();
    assert!(
        id.starts_with("sha256:") && id.len() == 71 && !id.contains('\n'),
        "-q printed more than the ID: {out:?}"
    );
    // With -q the CLI writes the streamed text, newline included, as Docker's does.
    assert_eq!(fs::read_to_string(&iid).unwrap().trim_end(), id);
    // The `extra` stage is the image: it has /extra and the base stage's default arg.
    let ran = d.docker_ok(&["run", "--rm", id, "cat", "/extra", "/msg"]);
    assert_eq!(ran, "extra\nbuilt default\n");
    // Another Dockerfile name and a target that does not exist.
    fs::write(
        ctx.path().join("Other.Dockerfile"),
        "FROM busybox\nRUN true\n",
    )
    .unwrap();
    let other = ctx.path().join("Other.Dockerfile");
    let out = build(
        &d,
        ctx.path(),
        &["-f", other.to_str().unwrap(), "--target", "nope"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn docker_build_reports_dockerfile_errors_like_docker() {
    let (d, _dir) = common::daemon_with_busybox();
    let ctx = context(&[("Dockerfile", "FROM busybox\nFOO bar\n")]);
    let out = build(&d, ctx.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Error response from daemon: dockerfile parse error on line 2: unknown instruction: FOO"
        ),
        "{err}"
    );
    // A failing RUN: the step's error after the streamed steps, exit status non-zero.
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo before; exit 3\n")]);
    let out = build(&d, ctx.path(), &["-t", "never:1"]);
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("before"), "{all}");
    assert!(all.contains("returned a non-zero code: 3"), "{all}");
    assert!(
        !d.docker_run(&["image", "inspect", "never:1"])
            .status
            .success()
    );
    // A missing base image with no registry reachable: a clear error, not a hang.
    let ctx = context(&[("Dockerfile", "FROM 127.0.0.1:1/nosuch:1\nRUN true\n")]);
    let out = build(&d, ctx.path(), &[]);
    assert!(!out.status.success());
}

#[test]
fn docker_build_pulls_a_missing_base_image_through_the_daemon() {
    let (d, _dir) = common::daemon_with_busybox();
    let reg = berth_testkit::registry::Registry::start().unwrap();
    let base = format!("{}/{}:1", reg.host(), unique_name("base"));
    d.docker_ok(&["tag", "busybox", &base]);
    d.docker_ok(&["push", &base]);
    d.docker_ok(&["rmi", &base]);
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM {base}\nRUN echo pulled > /p\nCMD [\"cat\", \"/p\"]\n"),
    )]);
    let name = unique_name("frompulled");
    build_ok(&d, ctx.path(), &["-t", &name]);
    assert!(d.docker_run(&["image", "inspect", &base]).status.success());
    assert_eq!(d.docker_ok(&["run", "--rm", &name]), "pulled\n");
    // --pull fetches again even though the base is present, its progress in the output.
    let out = build_ok(&d, ctx.path(), &["--pull", "-t", &name]);
    assert!(out.contains("Successfully tagged"), "{out}");
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert!(
        out.contains(&format!("Status: Image is up to date for {base}")),
        "{out}"
    );
}

#[test]
fn docker_build_output_follows_the_legacy_builder() {
    let (d, _dir) = common::daemon_with_busybox();
    let ctx = context(&[(
        "Dockerfile",
        "ARG BASE=busybox\nFROM $BASE\nENV A=1\nRUN echo ran\nCMD [\"sh\"]\n",
    )]);
    let name = unique_name("legacyout");
    let out = build_ok(
        &d,
        ctx.path(),
        &["-t", &name, "--label", "b=2", "--label", "a=1"],
    );
    let id = image_id(&d, &name);
    let short = &id[7..19];
    // The global ARG is step 1, each --label a LABEL step of its own, sorted by key.
    let steps: Vec<&str> = out.lines().filter(|l| l.starts_with("Step ")).collect();
    assert_eq!(
        steps,
        [
            "Step 1/7 : ARG BASE=busybox",
            "Step 2/7 : FROM $BASE",
            "Step 3/7 : ENV A=1",
            "Step 4/7 : RUN echo ran",
            "Step 5/7 : CMD [\"sh\"]",
            "Step 6/7 : LABEL a=1",
            "Step 7/7 : LABEL b=2",
        ],
        "{out}"
    );
    // A RUN: its container, its output, the container removed, the step's image.
    let run_at = out.find("Step 4/7").unwrap();
    let after: Vec<&str> = out[run_at..].lines().skip(1).take(4).collect();
    assert!(after[0].starts_with(" ---> Running in "), "{out}");
    let container = after[0].trim_start_matches(" ---> Running in ");
    assert_eq!(container.len(), 12, "{out}");
    assert_eq!(after[1], "ran", "{out}");
    assert_eq!(
        after[2],
        format!("Removing intermediate container {container}"),
        "{out}"
    );
    assert!(
        after[3].starts_with(" ---> ") && after[3].len() == 18,
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "Successfully built {short}\nSuccessfully tagged {name}:latest\n"
        )),
        "{out}"
    );
    // The rebuild: every step from the cache.
    let again = build_ok(
        &d,
        ctx.path(),
        &["-t", &name, "--label", "b=2", "--label", "a=1"],
    );
    assert_eq!(again.matches(" ---> Using cache\n").count(), 5, "{again}");
    assert_eq!(image_id(&d, &name), id);
    // --rm=false: no "Removing intermediate container"; --force-rm: even for a failed RUN.
    let kept = build_ok(&d, ctx.path(), &["--no-cache", "--rm=false"]);
    assert!(kept.contains(" ---> Running in "), "{kept}");
    assert!(!kept.contains("Removing intermediate container"), "{kept}");
    let bad = context(&[("Dockerfile", "FROM busybox\nRUN echo failing; exit 2\n")]);
    let out = build(&d, bad.path(), &["--force-rm"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failing\nRemoving intermediate container "),
        "{text}"
    );
}

#[test]
fn docker_builder_prune_forgets_unused_then_all_cache() {
    let (d, _dir) = common::daemon_with_busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nARG MSG=hi\nRUN echo \"$MSG\" > /msg\n",
    )]);
    let name = unique_name("pruned");
    build_ok(&d, ctx.path(), &["-t", &name]);
    // An untagged build: its RUN's image is used by no tagged image.
    build_ok(&d, ctx.path(), &["--build-arg", "MSG=other"]);
    let out = d.docker_ok(&["builder", "prune", "-f"]);
    assert!(out.contains("Deleted build cache objects:"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()))
            .count(),
        1,
        "only the untagged build's RUN is forgotten: {out}"
    );
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let tagged = build_ok(&d, ctx.path(), &["-t", &name]);
    assert!(!tagged.contains("Running in"), "{tagged}");
    let other = build_ok(&d, ctx.path(), &["--build-arg", "MSG=other"]);
    assert!(other.contains("Running in"), "{other}");
    // `until` keeps what is newer; an unknown filter is refused.
    let out = d.docker_ok(&["builder", "prune", "-af", "--filter", "until=1h"]);
    assert!(!out.contains("Deleted build cache objects"), "{out}");
    let out = d.docker_run(&["builder", "prune", "-f", "--filter", "color=red"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid filter 'color'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // -a: everything, so the tagged image's steps run again.
    let out = d.docker_ok(&["builder", "prune", "-af"]);
    assert!(out.contains("Deleted build cache objects:"), "{out}");
    let again = build_ok(&d, ctx.path(), &["-t", &name]);
    assert!(again.contains("Running in"), "{again}");
    assert!(!again.contains("Using cache"), "{again}");
}

/// Processes whose command line contains `needle`, with their pids.
fn pids_with(needle: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push((pid, cmd));
            }
        }
    }
    found
}

fn processes_with(needle: &str) -> Vec<String> {
    pids_with(needle).into_iter().map(|(_, c)| c).collect()
}

/// Kills what a failed run of the test left (the RUN's unique sleep).
struct Reaper(String);

impl Drop for Reaper {
    fn drop(&mut self) {
        for (pid, _) in pids_with(&self.0) {
            // SAFETY: kill has no memory effects; the pid is one of this test's sleeps.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn a_client_that_goes_away_cancels_the_build_and_its_run() {
    use std::io::BufRead;
    let (d, _dir) = common::daemon_with_busybox();
    // A sleep no other test runs, so its process can be looked for.
    let secs = 4000 + std::process::id() % 1000;
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM busybox\nRUN echo started; sleep {secs}\nRUN echo never\n"),
    )]);
    let name = unique_name("cancelled");
    let mut cli = d
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", &name])
        .arg(ctx.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(cli.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        seen.push_str(&l);
        seen.push('\n');
        if l == "started" {
            break;
        }
    }
    assert!(seen.contains("started"), "{seen}");
    let needle = format!("sleep {secs}");
    let _reaper = Reaper(needle.clone());
    // "started" is printed just before the shell execs the sleep; while the exec
    // is under way /proc/<pid>/cmdline can read empty, so look again for a while.
    let seen_by = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while processes_with(&needle).is_empty() {
        assert!(
            std::time::Instant::now() < seen_by,
            "the RUN is running\n{:?}\n{}",
            processes_with("sleep"),
            d.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cli.kill().unwrap();
    cli.wait().unwrap();
    // The daemon notices, kills the RUN's container and removes what the step made.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let build = d.data_root.join("build");
    // (the runtime's compiled seccomp filters stay: `seccomp:cache` is not a container's)
    let empty = |sub: &str| {
        fs::read_dir(build.join(sub))
            .map(|r| {
                r.flatten()
                    .filter(|e| e.file_name() != "seccomp:cache")
                    .count()
                    == 0
            })
            .unwrap_or(true)
    };
    loop {
        let gone = processes_with(&needle).is_empty()
            && empty("runtime")
            && empty("bundles")
            && empty("mnt");
        if gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cancelled build left {:?} and {:?}\n{}",
            processes_with(&needle),
            fs::read_dir(build.join("runtime"))
                .map(|r| r.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default(),
            d.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!d.docker_run(&["image", "inspect", &name]).status.success());
    // The daemon is fine: the next build works.
    let ok = context(&[("Dockerfile", "FROM busybox\nRUN echo fine\n")]);
    build_ok(&d, ok.path(), &[]);
}

#[test]
fn docker_build_reads_compressed_contexts() {
    let (d, _dir) = common::daemon_with_busybox();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n",
        ),
        ("hello.txt", "hello from a compressed context\n"),
    ]);
    // The context as tar, gzip, bzip2 and xz archives, made by GNU tar.
    let archives = tempfile::tempdir().unwrap();
    let mut made = Vec::new();
    for (what, flag) in [("gzip", "-z"), ("bzip2", "-j"), ("xz", "-J")] {
        let path = archives.path().join(format!("ctx.{what}"));
        let ok = std::process::Command::new("tar")
            .arg("-C")
            .arg(ctx.path())
            .args(["-c", flag, "-f"])
            .arg(&path)
            .arg(".")
            .status()
            .unwrap();
        assert!(ok.success(), "tar {flag}");
        made.push((what, fs::read(&path).unwrap()));
    }
    for (what, bytes) in made {
        // `docker build -` sends an archive on stdin to the daemon as it is.
        let name = unique_name(what);
        let mut cli = d
            .docker()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &name, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut cli.stdin.take().unwrap(), &bytes).unwrap();
        let out = cli.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            d.log()
        );
        assert_eq!(
            d.docker_ok(&["run", "--rm", &name]),
            "hello from a compressed context\n",
            "{what}"
        );
    }
    // `--compress`: the CLI gzips the context it tars.
    let name = unique_name("compress");
    build_ok(&d, ctx.path(), &["--compress", "-t", &name]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name]),
        "hello from a compressed context\n"
    );
    // A corrupt xz stream is refused with a clear error.
    let mut cli = d
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut bad = vec![0xfd, b'7', b'z', b'X', b'Z', 0];
    bad.extend_from_slice(&[0x55; 600]);
    std::io::Write::write_all(&mut cli.stdin.take().unwrap(), &bad).unwrap();
    let out = cli.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("xz"), "{err}");
}

#[test]
fn run_steps_get_the_default_seccomp_profile_and_device_rules() {
    let (d, _t) = common::daemon_with_busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN grep '^Seccomp:' /proc/self/status > /seccomp; (unshare -U true && echo ok || echo refused) > /unshare; mknod /dev/k c 1 11 && ( (exec 3>/dev/k) 2>/dev/null && echo opened || echo denied) > /device\n",
    )]);
    let tag = berth_testkit::unique_name("sc");
    build_ok(&d, ctx.path(), &["-q", "-t", &tag]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        &tag,
        "cat",
        "/seccomp",
        "/unshare",
        "/device",
    ]);
    // and the device cgroup's deny-all: a node made with mknod cannot be opened
    assert_eq!(out, "Seccomp:\t2\nrefused\ndenied\n");
}
