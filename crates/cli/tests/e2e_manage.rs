//! `update`, `network connect`/`disconnect`, `import` and the prune commands, end to end against
//! a temporary berthd.

mod common;

use common::{Cleanup, Env};

#[test]
fn update_changes_limits_of_a_running_container() {
    let env = Env::start();
    let c = berth_testkit::unique_name("up");
    let _clean = Cleanup(&env, vec![c.clone()]);
    env.berth_ok(&["run", "-d", "--name", &c, "busybox", "sleep", "60"]);
    env.berth_ok(&["update", "--memory", "64m", "--pids-limit", "50", &c]);
    let out = env.berth_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}",
        &c,
    ]);
    assert_eq!(out.trim(), "67108864 50");
    let bad = env.run(&["update", "--memory", "1k", &c]);
    assert!(!bad.status.success(), "a 1k memory limit must be refused");
}

#[test]
fn network_connect_and_disconnect_a_running_container() {
    let env = Env::start();
    let c = berth_testkit::unique_name("nc");
    let net = berth_testkit::unique_name("nn");
    let _clean = Cleanup(&env, vec![c.clone()]);
    env.berth_ok(&["network", "create", &net]);
    env.berth_ok(&["run", "-d", "--name", &c, "busybox", "sleep", "60"]);
    let networks =
        |env: &Env| env.berth_ok(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", &c]);
    assert!(!networks(&env).contains(&net));
    env.berth_ok(&["network", "connect", &net, &c]);
    assert!(networks(&env).contains(&net), "{}", networks(&env));
    let links = env.berth_ok(&["exec", &c, "ip", "-o", "link"]);
    assert!(
        links.contains("eth1"),
        "a second interface after connect: {links}"
    );
    env.berth_ok(&["network", "disconnect", &net, &c]);
    assert!(!networks(&env).contains(&net), "{}", networks(&env));
    let links = env.berth_ok(&["exec", &c, "ip", "-o", "link"]);
    assert!(
        !links.contains("eth1"),
        "eth1 gone after disconnect: {links}"
    );
    env.berth_ok(&["rm", "-f", &c]);
    env.berth_ok(&["network", "rm", &net]);
}

#[test]
fn import_makes_a_runnable_image_and_prunes_remove_what_is_unused() {
    let env = Env::bare();
    let rootfs = env.path("rootfs");
    berth_testkit::busybox_rootfs(&rootfs).expect("rootfs");
    let tar = env.path("rootfs.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success());
    let image = format!("{}:imported", berth_testkit::unique_name("im"));
    let tar_path = tar.to_str().expect("utf-8 path");
    let id = env.berth_ok(&[
        "import",
        "--change",
        "CMD [\"echo\", \"from import\"]",
        tar_path,
        &image,
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(env.berth_ok(&["run", "--rm", &image]), "from import\n");

    let stopped = berth_testkit::unique_name("pr");
    let _clean = Cleanup(&env, vec![stopped.clone()]);
    env.berth_ok(&["create", "--name", &stopped, &image]);
    let out = env.berth_ok(&["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(!env.run(&["inspect", &stopped]).status.success());

    let net = berth_testkit::unique_name("pn");
    env.berth_ok(&["network", "create", &net]);
    let out = env.berth_ok(&["network", "prune", "-f"]);
    assert!(out.contains(&net), "{out}");
    assert!(!env.run(&["network", "inspect", &net]).status.success());

    env.berth_ok(&["tag", &image, "extra:tag"]);
    env.berth_ok(&["rmi", &image]);
    env.berth_ok(&["rmi", "extra:tag"]);
    let out = env.berth_ok(&["images", "-q"]);
    assert_eq!(out.trim(), "", "no image left");
    let out = env.berth_ok(&["image", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
}
