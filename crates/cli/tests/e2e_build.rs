//! `build` through the daemon's legacy builder: step output as docker prints it, `-q`,
//! `--iidfile`, `-f` outside the context, `.dockerignore`, and the image runs.

mod common;

use common::{Env, text, write};

/// Replaces 12- and 64-hex IDs so two builds of one Dockerfile compare equal.
fn ids_out(s: &str) -> String {
    let mut out = String::new();
    for word in s.split_inclusive(|c: char| c.is_whitespace() || c == ':') {
        let core = word.trim_end_matches(|c: char| c.is_whitespace() || c == ':');
        if (core.len() == 12 || core.len() == 64) && core.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push_str("ID");
            out.push_str(&word[core.len()..]);
        } else {
            out.push_str(word);
        }
    }
    out
}

#[test]
fn build_output_and_result_match_docker() {
    let env = Env::start();
    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).expect("context dir");
    write(
        &ctx.join("Dockerfile"),
        "FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo built > /built\nLABEL stage=test\nCMD [\"cat\", \"/hello.txt\", \"/built\"]\n",
    );
    write(&ctx.join("hello.txt"), "hello from the context\n");
    write(&ctx.join("secret.txt"), "must not be sent\n");
    write(&ctx.join(".dockerignore"), "secret.txt\n");
    let ctx_s = ctx.to_str().expect("utf-8");
    let tag_b = berth_testkit::unique_name("bb");
    let tag_d = berth_testkit::unique_name("bd");
    let b = env.run(&["build", "--no-cache", "-t", &tag_b, ctx_s]);
    let d = env
        .docker_cmd()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--no-cache", "-t", &tag_d, ctx_s])
        .output()
        .expect("docker build");
    assert_eq!(b.status.code(), Some(0), "{:?}", text(&b));
    assert_eq!(
        ids_out(&text(&b).0.replace(&tag_b, "TAG")),
        ids_out(&text(&d).0.replace(&tag_d, "TAG")),
        "build output differs"
    );
    assert!(
        text(&b).0.contains("Step 1/5 : FROM busybox\n"),
        "{}",
        text(&b).0
    );
    assert_eq!(
        env.berth_ok(&["run", "--rm", &tag_b]),
        "hello from the context\nbuilt\n"
    );
    let o = env.run(&["run", "--rm", &tag_b, "ls", "/"]);
    assert!(!text(&o).0.contains("secret.txt"));
    let iid = env.path("iid");
    let quiet = env.berth_ok(&[
        "build",
        "-q",
        "--iidfile",
        iid.to_str().expect("utf-8"),
        ctx_s,
    ]);
    assert!(quiet.starts_with("sha256:"), "{quiet}");
    assert_eq!(
        std::fs::read_to_string(&iid).expect("iidfile"),
        quiet.trim()
    );
    // A Dockerfile outside the context travels as .dockerfile.<random>.
    let outside = env.path("Other.Dockerfile");
    write(&outside, "FROM busybox\nCMD [\"echo\", \"from outside\"]\n");
    let tag_o = berth_testkit::unique_name("bo");
    env.berth_ok(&[
        "build",
        "-f",
        outside.to_str().expect("utf-8"),
        "-t",
        &tag_o,
        ctx_s,
    ]);
    assert_eq!(env.berth_ok(&["run", "--rm", &tag_o]), "from outside\n");
    let bad = env.run(&["build", env.path("missing").to_str().expect("utf-8")]);
    assert_eq!(bad.status.code(), Some(1));
}
