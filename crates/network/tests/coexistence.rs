//! Coexistence with dockerd's `iptables -P FORWARD DROP`. The scenario runs in a private
//! network namespace of its own (the test re-runs itself under `unshare -n`), so the DROP
//! policy it sets never touches the host's or other tests' traffic.

mod common;

use common::*;

const INNER: &str = "BERTH_NETWORK_PRIVATE_NETNS";

#[test]
fn forward_drop_policy_of_iptables_does_not_cut_containers_off() {
    if std::env::var_os(INNER).is_none() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("unshare")
            .arg("-n")
            .arg(exe)
            .args([
                "--exact",
                "forward_drop_policy_of_iptables_does_not_cut_containers_off",
                "--nocapture",
            ])
            .env(INNER, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario());
}

async fn scenario() {
    sh("ip link set lo up");
    // Make bridged traffic visible to iptables in this namespace, as dockerd does.
    sh("echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables");
    // A manager that started before the iptables filter table existed (dockerd started later).
    let mut late = Fixture::new();
    let (p_ns, q_ns) = (late.netns("p"), late.netns("q"));
    let early = late.open().await;
    early
        .create_network(user_net("late", &free_subnet()))
        .await
        .unwrap();
    assert!(!sh("nft list tables").contains("table ip filter"));
    sh("iptables -w -P FORWARD DROP");
    // Control: without the accept rules, the DROP policy does cut the endpoints off.
    let mut off = Fixture::new();
    let (x_ns, y_ns) = (off.netns("x"), off.netns("y"));
    let mut opts = off.options();
    opts.iptables_compat = false;
    let mgr = off.open_with(opts).await;
    mgr.create_network(user_net("off", &free_subnet()))
        .await
        .unwrap();
    mgr.attach("off", "c-x", &x_ns, named("x")).await.unwrap();
    let y = mgr.attach("off", "c-y", &y_ns, named("y")).await.unwrap();
    assert_eq!(off.iptables_rules(), 0);
    let (ok, out) = in_ns(&x_ns, &format!("busybox ping -c 1 -W 1 {}", y.ipv4)).await;
    assert!(
        !ok,
        "FORWARD DROP had no effect, the test proves nothing: {out}"
    );
    mgr.purge().await.unwrap();

    let mut fx = Fixture::new();
    // A rule left by a crash, for a bridge that no longer exists: removed on open.
    sh(&format!(
        "iptables -w -I FORWARD -i br-stale0 -m comment --comment berth:{} -j ACCEPT",
        fx.table
    ));
    assert_eq!(fx.iptables_rules(), 1);
    let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
    let mgr = fx.open().await;
    assert_eq!(
        fx.iptables_rules(),
        0,
        "stale rule survived open: {}",
        sh("iptables -S FORWARD")
    );
    mgr.create_network(user_net("co", &free_subnet()))
        .await
        .unwrap();
    let _a = mgr.attach("co", "c-a", &a_ns, named("a")).await.unwrap();
    let b = mgr.attach("co", "c-b", &b_ns, named("b")).await.unwrap();
    assert_eq!(fx.iptables_rules(), 2, "{}", sh("iptables -S FORWARD"));
    let (ok, out) = in_ns(&a_ns, &format!("busybox ping -c 1 -W 2 {}", b.ipv4)).await;
    assert!(ok, "ping across the bridge under FORWARD DROP: {out}");
    mgr.purge().await.unwrap();
    assert_eq!(fx.iptables_rules(), 0, "{}", sh("iptables -S FORWARD"));

    // The early manager notices the new filter table on its next attach.
    early
        .attach("late", "c-p", &p_ns, named("p"))
        .await
        .unwrap();
    let q = early
        .attach("late", "c-q", &q_ns, named("q"))
        .await
        .unwrap();
    assert_eq!(late.iptables_rules(), 2, "{}", sh("iptables -S FORWARD"));
    let (ok, out) = in_ns(&p_ns, &format!("busybox ping -c 1 -W 2 {}", q.ipv4)).await;
    assert!(ok, "ping after dockerd-style DROP appeared later: {out}");
    early.purge().await.unwrap();
    assert_eq!(late.iptables_rules(), 0);
    assert!(sh("iptables -S FORWARD").contains("-P FORWARD DROP"));
}
