//! End-to-end: containers that run (run, exec, attach, logs, stop...) against a temporary berthd.

mod common;

use common::{Env, text};

#[test]
#[ignore = "enable when berthd starts containers from its temp exec root"]
fn run_prints_output_and_exits_with_the_container_code() {
    let env = Env::start();
    let o = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hello; echo oops >&2; exit 7",
    ]);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(7),
        "stdout {out} stderr {err}\n{}",
        env.daemon.log()
    );
    assert_eq!(out, "hello\n");
    assert_eq!(err, "oops\n");
}
