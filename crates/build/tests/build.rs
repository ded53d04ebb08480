//! Real builds: a store with the offline busybox image, RUN steps in containers through the
//! `berth-runtime` binary, layers committed to the store, the cache on a second build.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use berth_build::{BuildContext, BuildEvent, BuildOptions, Builder, NetworkMode};
use berth_image::ImageStore;

struct Env {
    dir: tempfile::TempDir,
    store: std::sync::Arc<ImageStore>,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("image")).unwrap();
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    store.load(fs::File::open(tar).unwrap()).unwrap();
    Env {
        dir,
        store: std::sync::Arc::new(store),
    }
}

fn runtime() -> std::path::PathBuf {
    berth_testkit::daemon::workspace_bin("berth-runtime", "BERTH_RUNTIME")
}

fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = d.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    d
}

fn no_pull(r: &str, _progress: &mut dyn FnMut(serde_json::Value)) -> Result<(), String> {
    Err(format!(
        "pull access denied for {r}: no registry in this test"
    ))
}

/// Builds and returns (result, the streamed text).
fn build(e: &Env, ctx: &Path, opts: &BuildOptions) -> (Result<String, String>, String) {
    let b = Builder::new(e.store.clone(), &e.dir.path().join("build"), &runtime()).unwrap();
    let c = BuildContext::from_dir(ctx).unwrap();
    let mut out = String::new();
    let mut aux = None;
    let r = b.build(&c, opts, &no_pull, &mut |ev| match ev {
        BuildEvent::Stream(s) => out.push_str(&s),
        BuildEvent::Aux(id) => aux = Some(id),
        BuildEvent::Progress(p) => panic!("no pull expected: {p}"),
    });
    b.shutdown();
    let r = r.map(|o| {
        assert_eq!(aux.as_deref(), Some(o.image_id.as_str()));
        o.image_id
    });
    (r.map_err(|e| e.to_string()), out)
}

fn opts() -> BuildOptions {
    BuildOptions {
        network: NetworkMode::None,
        ..Default::default()
    }
}

#[test]
fn multi_stage_build_runs_steps_and_copies_between_stages() {
    let e = env();
    let ctx = context(&[
        (
            "Dockerfile",
            r#"ARG BASE=busybox
FROM $BASE AS builder
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
RUN echo "$GREETING from run" > out.txt && id -u > uid.txt
COPY files/ ./files/
FROM busybox
COPY --from=builder /app /srv
ENV MSG="two words"
EXPOSE 8080 53/udp
LABEL org.example.name="demo app"
CMD ["cat", "/srv/out.txt"]
RUN cat /srv/out.txt /srv/files/a.txt && echo "msg=$MSG"
"#,
        ),
        ("files/a.txt", "file a\n"),
    ]);
    let mut o = opts();
    o.tags = vec!["demo".into(), "demo:v2".into()];
    o.build_args = BTreeMap::from([("GREETING".into(), Some("bonjour".into()))]);
    let (id, out) = build(&e, ctx.path(), &o);
    let id = id.unwrap_or_else(|err| panic!("{err}\n{out}"));
    // The global ARG is a step of its own, as in moby's legacy builder.
    assert!(out.contains("Step 1/14 : ARG BASE=busybox\n"), "{out}");
    assert!(out.contains("Step 2/14 : FROM $BASE AS builder\n"), "{out}");
    assert!(
        out.contains("bonjour from run\nfile a\nmsg=two words\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Successfully built {}\n", &id[7..19])),
        "{out}"
    );
    assert!(
        out.contains("Successfully tagged demo:latest\nSuccessfully tagged demo:v2\n"),
        "{out}"
    );
    let img = e.store.resolve("demo:v2").unwrap();
    assert_eq!(img.id, id);
    let cfg = img.config.config.clone().unwrap();
    assert_eq!(cfg.cmd.unwrap(), vec!["cat", "/srv/out.txt"]);
    assert!(cfg.env.unwrap().contains(&"MSG=two words".to_owned()));
    let ports: Vec<_> = cfg.exposed_ports.unwrap().into_keys().collect();
    assert_eq!(ports, vec!["53/udp", "8080/tcp"]);
    assert_eq!(cfg.labels.unwrap()["org.example.name"], "demo app");
    let history: Vec<String> = img
        .config
        .history
        .iter()
        .filter_map(|h| h.created_by.clone())
        .collect();
    assert!(
        history
            .iter()
            .any(|h| h == "/bin/sh -c #(nop)  ENV MSG=two words"),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h.starts_with("/bin/sh -c #(nop) COPY dir:") && h.ends_with(" in /srv ")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h == "/bin/sh -c cat /srv/out.txt /srv/files/a.txt && echo \"msg=$MSG\""),
        "{history:?}"
    );
    // The builder stage's RUN saw the build arg (recorded as `|1 GREETING=bonjour`).
    let (_, again) = build(
        &e,
        ctx.path(),
        &BuildOptions {
            target: Some("builder".into()),
            ..o.clone()
        },
    );
    assert!(
        again.contains("Step 7/7 : COPY files/ ./files/\n ---> Using cache"),
        "{again}"
    );
}

#[test]
fn second_build_runs_no_step_and_a_touched_file_rebuilds_from_its_copy() {
    let e = env();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN echo first > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt\nENV DONE=1\n",
        ),
        ("a.txt", "one\n"),
    ]);
    let (id1, out1) = build(&e, ctx.path(), &opts());
    let id1 = id1.unwrap_or_else(|err| panic!("{err}\n{out1}"));
    assert_eq!(out1.matches("Running in").count(), 3, "{out1}");
    let (id2, out2) = build(&e, ctx.path(), &opts());
    assert_eq!(id2.unwrap(), id1);
    assert_eq!(out2.matches(" ---> Using cache\n").count(), 4, "{out2}");
    assert!(!out2.contains("Running in"), "{out2}");
    fs::write(ctx.path().join("a.txt"), "two\n").unwrap();
    let (id3, out3) = build(&e, ctx.path(), &opts());
    assert_ne!(id3.unwrap(), id1);
    assert_eq!(
        out3.matches(" ---> Using cache\n").count(),
        1,
        "only the first RUN is cached: {out3}"
    );
    assert!(out3.contains("two\n"), "{out3}");
    let (_, out4) = build(
        &e,
        ctx.path(),
        &BuildOptions {
            no_cache: true,
            ..opts()
        },
    );
    assert!(!out4.contains("Using cache"), "{out4}");
}

#[test]
fn failing_run_and_hostile_copy_report_dockers_messages() {
    let e = env();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo about to fail && exit 3\n",
    )]);
    let (r, out) = build(&e, ctx.path(), &opts());
    assert_eq!(
        r.unwrap_err(),
        "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3"
    );
    assert!(out.contains("about to fail\n"), "{out}");
    let ctx = context(&[("Dockerfile", "FROM busybox\nCOPY ../etc/passwd /x\n")]);
    let (r, _) = build(&e, ctx.path(), &opts());
    assert!(
        r.unwrap_err()
            .contains("forbidden path outside the build context: ../etc/passwd")
    );
    let ctx = context(&[("Dockerfile", "FROM busybox\nFORM x\n")]);
    let (r, _) = build(&e, ctx.path(), &opts());
    assert_eq!(
        r.unwrap_err(),
        "dockerfile parse error on line 2: unknown instruction: FORM"
    );
    let ctx = context(&[("Dockerfile", "FROM nosuchimage\n")]);
    let (r, _) = build(&e, ctx.path(), &opts());
    assert!(
        r.unwrap_err()
            .contains("pull access denied for nosuchimage")
    );
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=cache,target=/c true\n",
    )]);
    let (r, _) = build(&e, ctx.path(), &opts());
    assert!(
        r.unwrap_err()
            .contains("the --mount option requires BuildKit")
    );
}

#[test]
fn heredocs_dockerignore_users_and_onbuild() {
    let e = env();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nARG WHO=world\nCOPY <<EOF /etc/greeting\nhello $WHO\nEOF\nRUN <<EOF\nset -e\ncat /etc/greeting\nEOF\nCOPY --chown=nobody:nogroup --chmod=0640 . /ctx/\nRUN stat -c '%u:%g %a' /ctx/keep.txt\nUSER nobody\nRUN id -u\nONBUILD RUN echo triggered\n",
        ),
        ("keep.txt", "k"),
        ("secret.key", "s"),
        (".dockerignore", "*.key\n"),
    ]);
    let (id, out) = build(
        &e,
        ctx.path(),
        &BuildOptions {
            tags: vec!["base:1".into()],
            ..opts()
        },
    );
    id.unwrap_or_else(|err| panic!("{err}\n{out}"));
    assert!(out.contains("hello world\n"), "{out}");
    assert!(out.contains("65534:65534 640\n"), "{out}");
    assert!(out.contains("65534\n"), "{out}");
    let img = e.store.resolve("base:1").unwrap();
    assert_eq!(
        img.config.config.clone().unwrap().on_build.unwrap(),
        vec!["RUN echo triggered"]
    );
    // The ignored file never reached the image.
    let ctx2 = context(&[(
        "Dockerfile",
        "FROM base:1\nRUN ls /ctx && test ! -e /ctx/secret.key\n",
    )]);
    let (id2, out2) = build(&e, ctx2.path(), &opts());
    id2.unwrap_or_else(|err| panic!("{err}\n{out2}"));
    assert!(out2.contains("# Executing 1 build trigger\n"), "{out2}");
    assert!(out2.contains("triggered\n"), "{out2}");
    assert!(out2.contains("keep.txt\n"), "{out2}");
}

#[test]
fn quiet_build_streams_only_the_id() {
    let e = env();
    let ctx = context(&[("Dockerfile", "FROM busybox\nENV A=1\n")]);
    let (id, out) = build(
        &e,
        ctx.path(),
        &BuildOptions {
            quiet: true,
            ..opts()
        },
    );
    assert_eq!(out, format!("{}\n", id.unwrap()));
}

#[test]
fn source_date_epoch_gives_the_same_image_twice() {
    let e = env();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN echo hi > /x && mkdir -p /d/e\nCOPY a.txt /a\nENV A=1\n",
        ),
        ("a.txt", "a\n"),
    ]);
    let o = BuildOptions {
        no_cache: true,
        source_date_epoch: Some(1_700_000_000),
        tags: vec!["repro:1".into()],
        ..opts()
    };
    let (a, out) = build(&e, ctx.path(), &o);
    let a = a.unwrap_or_else(|err| panic!("{err}\n{out}"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (b, _) = build(&e, ctx.path(), &o);
    assert_eq!(a, b.unwrap());
    let img = e.store.resolve(&a).unwrap();
    assert_eq!(img.config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(img.config.container, None);
    // Built directly: every step's image is the parent of the next, down to busybox.
    let base = e.store.resolve("busybox").unwrap().id;
    let mut chain = vec![a.clone()];
    loop {
        let p = e.store.parent(chain.last().unwrap()).unwrap();
        if p.is_empty() {
            break;
        }
        chain.push(p);
    }
    // RUN, COPY and ENV, then busybox.
    assert_eq!(chain.len(), 4, "{chain:?}");
    assert_eq!(chain.last(), Some(&base));
    for id in &chain[..3] {
        let step = e.store.resolve(id).unwrap();
        assert_eq!(step.config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
        let last = step.config.history.last().unwrap();
        assert_eq!(last.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    }
    // Nothing is left dangling (`docker images -f dangling=true`).
    let dangling: Vec<String> = e
        .store
        .list_images(false)
        .unwrap()
        .into_iter()
        .filter(|i| i.repo_tags.is_empty() && i.repo_digests.is_empty())
        .map(|i| i.id)
        .collect();
    assert!(dangling.is_empty(), "{dangling:?}");
    // Without the epoch the timestamps differ, and so do the IDs.
    let plain = BuildOptions {
        no_cache: true,
        ..opts()
    };
    let (c, _) = build(&e, ctx.path(), &plain);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (d, _) = build(&e, ctx.path(), &plain);
    assert_ne!(c.unwrap(), d.unwrap());
}

#[test]
fn platform_args_labels_and_unused_build_args() {
    let e = env();
    let ctx = context(&[(
        "Dockerfile",
        "FROM --platform=$BUILDPLATFORM busybox AS base\nARG TARGETARCH\nRUN echo arch=$TARGETARCH\nFROM base\n",
    )]);
    let mut o = opts();
    o.build_args = BTreeMap::from([("NOPE".into(), Some("1".into()))]);
    o.labels = BTreeMap::from([("built.by".into(), "berth's builder".into())]);
    let (id, out) = build(&e, ctx.path(), &o);
    let id = id.unwrap_or_else(|err| panic!("{err}\n{out}"));
    assert!(
        out.contains("arch=amd64\n") || out.contains("arch=arm64\n"),
        "{out}"
    );
    assert!(
        out.contains("Step 5/5 : LABEL built.by=berth's builder\n"),
        "{out}"
    );
    assert!(
        out.contains("[Warning] One or more build-args [NOPE] were not consumed\n"),
        "{out}"
    );
    let labels = e
        .store
        .resolve(&id)
        .unwrap()
        .config
        .config
        .unwrap()
        .labels
        .unwrap();
    assert_eq!(labels["built.by"], "berth's builder");
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn api_request_from_a_tar_context_streams_dockers_json() {
    let e = env();
    let b = Builder::new(e.store.clone(), &e.dir.path().join("build"), &runtime()).unwrap();
    let body = tar_of(&[
        (
            "Dockerfile.dev",
            b"FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n",
        ),
        ("hello.txt", b"hello from the tar\n"),
    ]);
    let q: Vec<(String, String)> = [
        ("dockerfile", "Dockerfile.dev"),
        ("t", "fromtar"),
        ("networkmode", "none"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut lines = Vec::new();
    let id =
        berth_build::api::serve_build(&b, &q, &body[..], &no_pull, &Default::default(), &mut |l| {
            lines.push(l)
        });
    let id = id.unwrap_or_else(|| panic!("{lines:?}"));
    let text = lines.concat();
    assert!(
        text.starts_with("{\"stream\":\"Step 1/3 : FROM busybox\\n\"}\r\n"),
        "{text}"
    );
    assert!(
        text.contains("{\"stream\":\"hello from the tar\\n\"}\r\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{{\"aux\":{{\"ID\":\"{id}\"}}}}\r\n")),
        "{text}"
    );
    assert!(
        text.ends_with("{\"stream\":\"Successfully tagged fromtar:latest\\n\"}\r\n"),
        "{text}"
    );
    // A hostile context gets an errorDetail line and nothing lands outside.
    let evil = tar_of(&[("Dockerfile", b"FROM busybox\n"), ("../../evil", b"x")]);
    let mut lines = Vec::new();
    assert!(
        berth_build::api::serve_build(&b, &q, &evil[..], &no_pull, &Default::default(), &mut |l| {
            lines.push(l)
        })
        .is_none()
    );
    assert!(lines.concat().contains("\"errorDetail\":{\"message\":\"invalid build context: entry \\\"../../evil\\\" is outside the context\"}"), "{lines:?}");
    b.shutdown();
    // Unpacked contexts are gone once the cleaner is done.
    assert_eq!(
        fs::read_dir(e.dir.path().join("build/contexts"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn reconcile_removes_what_a_crashed_build_left() {
    let e = env();
    let b = Builder::new(e.store.clone(), &e.dir.path().join("build"), &runtime()).unwrap();
    let leftover = format!("build-{}", "ab".repeat(32));
    let container = berth_testkit::unique_name("ctr");
    e.store.prepare(&leftover, "busybox").unwrap();
    e.store.prepare(&container, "busybox").unwrap();
    fs::create_dir_all(e.dir.path().join("build/bundles/x")).unwrap();
    b.reconcile().unwrap();
    let keys: Vec<String> = e
        .store
        .snapshots()
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        vec![container.clone()],
        "only the build's snapshot goes"
    );
    assert!(!e.dir.path().join("build/bundles/x").exists());
    e.store.remove_snapshot(&container).unwrap();
    b.shutdown();
}

#[test]
fn independent_stages_build_side_by_side_and_report_in_order() {
    let e = env();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox AS a\nRUN echo from-a > /a\nFROM busybox AS b\nRUN echo from-b > /b\nFROM busybox AS unused\nRUN echo unused-ran\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b\n",
    )]);
    let (id, out) = build(&e, ctx.path(), &opts());
    id.unwrap_or_else(|err| panic!("{err}\n{out}"));
    // As moby's legacy builder, a stage the target does not use is built too.
    let steps: Vec<&str> = out.lines().filter(|l| l.starts_with("Step ")).collect();
    assert_eq!(
        steps,
        vec![
            "Step 1/10 : FROM busybox AS a",
            "Step 2/10 : RUN echo from-a > /a",
            "Step 3/10 : FROM busybox AS b",
            "Step 4/10 : RUN echo from-b > /b",
            "Step 5/10 : FROM busybox AS unused",
            "Step 6/10 : RUN echo unused-ran",
            "Step 7/10 : FROM busybox",
            "Step 8/10 : COPY --from=a /a /a",
            "Step 9/10 : COPY --from=b /b /b",
            "Step 10/10 : RUN cat /a /b",
        ],
        "{out}"
    );
    assert!(out.contains("unused-ran\n"), "{out}");
    assert!(out.contains("from-a\nfrom-b\n"), "{out}");
}

#[test]
fn config_instructions_add_archives_and_copy_from_an_image() {
    let e = env();
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    t.append_data(&mut h, "tool/run.sh", &b"ok\n"[..]).unwrap();
    let archive = t.into_inner().unwrap();
    let ctx = tempfile::tempdir().unwrap();
    // ADD unpacks plain, bzip2 and xz tarballs alike (moby's DecompressStream).
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    std::io::Write::write_all(&mut bz, &archive).unwrap();
    fs::write(ctx.path().join("pack.tar.bz2"), bz.finish().unwrap()).unwrap();
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &archive[..], &mut xz).unwrap();
    fs::write(ctx.path().join("pack.tar.xz"), xz).unwrap();
    fs::write(ctx.path().join("pack.tar"), archive).unwrap();
    fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nWORKDIR /opt\nWORKDIR sub\nADD pack.tar .\nADD pack.tar.bz2 /bz/\nADD pack.tar.xz /xz/\nCOPY --from=busybox /bin/busybox /opt/bb\nRUN test -x /opt/sub/tool/run.sh && test -x /opt/bb && cat /bz/tool/run.sh /xz/tool/run.sh && pwd\nSHELL [\"/bin/sh\", \"-ec\"]\nENTRYPOINT echo hi\nCMD [\"--x\"]\nHEALTHCHECK --interval=30s --retries=2 CMD true\nSTOPSIGNAL SIGINT\nVOLUME /data /logs\nUSER nobody\nMAINTAINER someone\n",
    )
    .unwrap();
    let (id, out) = build(&e, ctx.path(), &opts());
    let id = id.unwrap_or_else(|err| panic!("{err}\n{out}"));
    assert!(out.contains("ok\nok\n/opt/sub\n"), "{out}");
    let img = e.store.resolve(&id).unwrap();
    assert_eq!(img.config.author.as_deref(), Some("someone"));
    let c = img.config.config.unwrap();
    assert_eq!(c.working_dir.as_deref(), Some("/opt/sub"));
    assert_eq!(c.entrypoint.unwrap(), vec!["/bin/sh", "-ec", "echo hi"]);
    assert_eq!(c.cmd.unwrap(), vec!["--x"]);
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(c.user.as_deref(), Some("nobody"));
    assert_eq!(c.shell.unwrap(), vec!["/bin/sh", "-ec"]);
    let vols: Vec<_> = c.volumes.unwrap().into_keys().collect();
    assert_eq!(vols, vec!["/data", "/logs"]);
    let hc = c.healthcheck.unwrap();
    assert_eq!(hc["Test"], serde_json::json!(["CMD-SHELL", "true"]));
    assert_eq!(hc["Interval"], 30_000_000_000i64);
    assert_eq!(hc["Retries"], 2);
    let history: Vec<String> = img
        .config
        .history
        .iter()
        .filter_map(|h| h.created_by.clone())
        .collect();
    assert!(
        history.contains(
            &"/bin/sh -ec #(nop)  ENTRYPOINT [\"/bin/sh\" \"-ec\" \"echo hi\"]".to_owned()
        ),
        "{history:?}"
    );
    // Bad values are refused with Docker's words.
    for (df, msg) in [
        ("FROM busybox\nEXPOSE http\n", "Invalid containerPort: http"),
        (
            "FROM busybox\nSTOPSIGNAL SIGNOPE\n",
            "Invalid signal: SIGNOPE",
        ),
        (
            "FROM busybox\nCOPY --chmod=abc Dockerfile /\n",
            "invalid chmod parameter",
        ),
        (
            "FROM busybox\nUSER ghost\nRUN true\n",
            "unable to find user ghost",
        ),
        (
            "FROM busybox\nCOPY a b c\n",
            "must be a directory and end with a /",
        ),
    ] {
        let ctx = context(&[("Dockerfile", df), ("a", "a"), ("b", "b")]);
        let (r, out) = build(&e, ctx.path(), &opts());
        let err = r.unwrap_err();
        assert!(err.contains(msg), "{df}: {err}\n{out}");
    }
}

#[test]
fn a_cached_rebuild_from_a_tar_context_never_writes_the_context_out() {
    let e = env();
    let b = Builder::new(e.store.clone(), &e.dir.path().join("build"), &runtime()).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            (
                format!("files/f{i}.txt"),
                format!("file {i}\n").into_bytes(),
            )
        })
        .collect();
    files.push((
        "Dockerfile".into(),
        b"FROM busybox\nCOPY files/ /files/\nRUN cat /files/f7.txt\n".to_vec(),
    ));
    let tar = |files: &[(String, Vec<u8>)]| {
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        tar_of(&refs)
    };
    let run = |body: &[u8]| {
        let ctx = b.context_from_tar(body).unwrap();
        let mut out = String::new();
        let r = b.build(&ctx, &opts(), &no_pull, &mut |ev| {
            if let BuildEvent::Stream(s) = ev {
                out.push_str(&s)
            }
        });
        let id = r.unwrap_or_else(|err| panic!("{err}\n{out}")).image_id;
        let written = !ctx.in_memory();
        b.discard_context(ctx);
        (id, out, written)
    };
    let (id1, out1, written1) = run(&tar(&files));
    assert!(
        written1,
        "the COPY missed the cache, so the files were written out"
    );
    assert!(out1.contains("file 7\n"), "{out1}");
    let (id2, out2, written2) = run(&tar(&files));
    assert_eq!(id2, id1);
    assert_eq!(out2.matches("Using cache").count(), 2, "{out2}");
    assert!(!written2, "a fully cached build left the context in memory");
    // One changed byte in one file: the COPY misses, the files are written out and copied.
    files[7].1 = b"file 7, changed\n".to_vec();
    let (id3, out3, written3) = run(&tar(&files));
    assert_ne!(id3, id1);
    assert!(written3 && out3.contains("file 7, changed\n"), "{out3}");
    b.shutdown();
}
