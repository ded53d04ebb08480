//! Tests that need a network namespace to themselves: coexistence with dockerd's
//! `iptables -P FORWARD DROP` (which must not touch the host's or other tests' traffic), and an
//! exact before/after comparison of the whole ruleset and link list.

mod common;

use common::*;

const INNER: &str = "BERTH_NETWORK_PRIVATE_NETNS";

/// Runs `scenario` in a private network namespace: the test re-runs its own binary for just
/// itself under `unshare -n`, and the inner run (marked by INNER) does the work.
fn in_private_netns<F: std::future::Future<Output = ()>>(name: &str, scenario: impl FnOnce() -> F) {
    if std::env::var(INNER).ok().as_deref() != Some(name) {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("unshare")
            .arg("-n")
            .arg(exe)
            .args(["--exact", name, "--nocapture"])
            .env(INNER, name)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    sh("ip link set lo up");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario());
}

#[test]
fn forward_drop_policy_of_iptables_does_not_cut_containers_off() {
    in_private_netns(
        "forward_drop_policy_of_iptables_does_not_cut_containers_off",
        scenario,
    );
}

#[test]
fn teardown_leaves_ruleset_and_links_exactly_as_before() {
    in_private_netns(
        "teardown_leaves_ruleset_and_links_exactly_as_before",
        || async {
            // Alone in this namespace, the whole ruleset and link list can be compared.
            sh("iptables -w -P FORWARD DROP");
            let snapshot = || {
                sh(
                    "nft list ruleset; iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; ip -o link | cut -d' ' -f2; ip -4 -o addr",
                )
            };
            let before = snapshot();
            let mut fx = Fixture::new();
            fx.default_bridge = Some(berth_testkit::unique_name("bd"));
            let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
            let mgr = fx.open().await;
            mgr.create_network(user_net("one", &free_subnet()))
                .await
                .unwrap();
            let mut internal = user_net("two", &free_subnet());
            internal.internal = true;
            mgr.create_network(internal).await.unwrap();
            let a = mgr.attach("one", "c-a", &a_ns, named("a")).await.unwrap();
            mgr.attach("two", "c-a", &a_ns, named("a")).await.unwrap();
            mgr.attach("bridge", "c-b", &b_ns, named("b"))
                .await
                .unwrap();
            let mut ports = berth_network::parse_port_spec("8080:80").unwrap();
            ports.extend(berth_network::parse_port_spec("53/udp").unwrap());
            mgr.publish("c-a", a.ipv4, &ports).await.unwrap();
            assert_ne!(snapshot(), before);
            mgr.release("c-b").await.unwrap();
            mgr.detach("two", "c-a").await.unwrap();
            mgr.purge().await.unwrap();
            // release() leaves the veth deletion to the background (or the namespace removal).
            fx.drop_netns(&b_ns);
            for _ in 0..50 {
                if snapshot() == before {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert_eq!(snapshot(), before);
        },
    );
}

async fn scenario() {
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
