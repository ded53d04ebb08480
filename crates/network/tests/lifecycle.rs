//! Bad input, restarts and reconciliation, connect/disconnect, namespaces.

mod common;

use std::net::Ipv4Addr;

use common::*;
use hickory_proto::rr::RecordType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_errors_naming_the_problem_and_leaves_nothing() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let mgr = fx.open().await;
    let subnet = free_subnet();
    let net = mgr.create_network(user_net("good", &subnet)).await.unwrap();

    let inner = subnet.replace(".0/24", ".128/25");
    let e = mgr
        .create_network(user_net("other", &inner))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlaps") && e.contains("good"), "{e}");
    let e = mgr
        .create_network(user_net("other", "10.300.0.0/16"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("10.300.0.0/16"), "{e}");
    let e = mgr
        .create_network(user_net("good", &free_subnet()))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    let e = mgr
        .create_network(user_net("bad name!", &free_subnet()))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad name!"), "{e}");
    let mut gw = user_net("gw", &free_subnet());
    gw.gateway = Some("192.0.2.99".into());
    assert!(
        mgr.create_network(gw)
            .await
            .unwrap_err()
            .to_string()
            .contains("gateway")
    );
    assert_eq!(mgr.list().len(), 1, "a failed create left a network behind");

    let not_ns = fx.dir.path().join("plain-file");
    std::fs::write(&not_ns, b"").unwrap();
    let e = mgr
        .attach("good", "c1", &not_ns, named("x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a network namespace"), "{e}");
    let e = mgr
        .attach("nope", "c1", &c_ns, named("x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("network nope not found"), "{e}");
    mgr.attach("good", "c1", &c_ns, named("x")).await.unwrap();
    let e = mgr
        .attach("good", "c1", &c_ns, named("x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists in network good"), "{e}");
    let e = mgr.remove_network("good").await.unwrap_err().to_string();
    assert!(e.contains("active endpoints") && e.contains('x'), "{e}");
    let e = mgr.detach("good", "c2").await.unwrap_err().to_string();
    assert!(e.contains("c2"), "{e}");
    let e = mgr
        .publish("c1", Ipv4Addr::new(10, 0, 0, 1), &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no endpoint"), "{e}");
    mgr.detach("good", "c1").await.unwrap();
    mgr.remove_network("good").await.unwrap();
    assert!(fx.leftover_links(&[net.bridge]).is_empty());
    mgr.purge().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_addresses_and_reconciliation_removes_leftovers() {
    let mut fx = Fixture::new();
    fx.default_bridge = Some(berth_testkit::unique_name("bd"));
    let mut opts = fx.options();
    opts.bip = Some(free_subnet().replace(".0/24", ".1/24"));
    let (a_ns, b_ns, c_ns) = (fx.netns("a"), fx.netns("b"), fx.netns("c"));
    let mgr = fx.open_with(opts.clone()).await;
    let default = mgr.get("bridge").unwrap();
    assert_eq!(Some(&default.bridge), fx.default_bridge.as_ref());
    let net = mgr
        .create_network(user_net("keep", &free_subnet()))
        .await
        .unwrap();
    let gone = mgr
        .create_network(user_net("gone", &free_subnet()))
        .await
        .unwrap();
    let a = mgr.attach("keep", "c-a", &a_ns, named("a")).await.unwrap();
    let b = mgr.attach("keep", "c-b", &b_ns, named("b")).await.unwrap();
    let mut fixed = named("a");
    fixed.ipv4 = Some(default.gateway);
    let e = mgr
        .attach("bridge", "c-a", &a_ns, fixed)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("user defined networks only"), "{e}");
    let d = mgr
        .attach("bridge", "c-a", &a_ns, named("a"))
        .await
        .unwrap();
    assert_eq!(d.ifname, "eth1");
    let ports = berth_network::parse_port_spec("80").unwrap();
    mgr.publish("c-b", b.ipv4, &ports).await.unwrap();
    let before = sh(&format!("nft list table ip {}", fx.table));
    assert!(
        before.contains(&format!("dnat to {}:80", b.ipv4))
            && before.contains(&gone.subnet.to_string())
    );
    // Simulated crash: the manager goes away without cleaning anything.
    mgr.shutdown();
    drop(mgr);
    // Meanwhile container b dies, a stray veth appears on our bridge, and the state loses
    // network "gone" (as if the daemon died between deleting it and removing its bridge).
    fx.drop_netns(&b_ns);
    let stray = berth_testkit::unique_name("vs");
    sh(&format!(
        "ip link add {stray} type veth peer name {stray}p && ip link set {stray} master {}",
        net.bridge
    ));
    let path = fx.state_dir().join("networks.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["networks"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["name"] != "gone");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();

    let mgr = fx.open_with(opts).await;
    let kept: Vec<_> = mgr.endpoints("keep").unwrap();
    assert_eq!(
        kept.len(),
        1,
        "endpoint of the dead container was not released"
    );
    assert_eq!(kept[0].ipv4, a.ipv4);
    // Stale rules are gone: the dead container's port, the deleted network's NAT.
    let after = sh(&format!("nft list table ip {}", fx.table));
    assert!(
        !after.contains(&b.ipv4.to_string()) && !after.contains(&gone.subnet.to_string()),
        "{after}"
    );
    assert!(after.contains(&net.subnet.to_string()), "{after}");
    assert!(mgr.published("c-b").is_empty());
    assert!(
        fx.leftover_links(&[stray.clone(), b.host_veth.clone(), gone.bridge.clone()])
            .is_empty()
    );
    assert!(
        fx.leftover_links(&[a.host_veth.clone(), net.bridge.clone()])
            .len()
            == 2
    );
    // The live endpoint still answers by name after the restart.
    let c = mgr.attach("keep", "c-c", &c_ns, named("c")).await.unwrap();
    assert_ne!(c.ipv4, a.ipv4, "address handed out twice across a restart");
    assert_eq!(
        a_records(&dns_query(&c_ns, "a", RecordType::A).await),
        vec![a.ipv4]
    );
    assert!(
        in_ns(&c_ns, &format!("busybox ping -c 1 -W 2 {}", a.ipv4))
            .await
            .0
    );
    mgr.purge().await.unwrap();
    assert!(
        fx.leftover_links(&[
            net.bridge,
            default.bridge,
            a.host_veth,
            c.host_veth,
            d.host_veth
        ])
        .is_empty()
    );
    assert!(!fx.table_exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_namespace_connects_and_disconnects() {
    let mut fx = Fixture::new();
    let ns = fx.netns("c");
    let mgr = fx.open().await;
    mgr.create_network(user_net("n1", &free_subnet()))
        .await
        .unwrap();
    let mut spec = user_net("n2", &free_subnet());
    spec.internal = true;
    spec.options
        .insert("com.docker.network.driver.mtu".into(), "1400".into());
    mgr.create_network(spec).await.unwrap();
    let e1 = mgr.attach("n1", "c", &ns, named("c")).await.unwrap();
    let e2 = mgr.attach("n2", "c", &ns, named("c")).await.unwrap();
    assert_eq!((e1.ifname.as_str(), e2.ifname.as_str()), ("eth0", "eth1"));
    assert_eq!(e2.gateway, None, "internal networks give no default route");
    let (_, links) = in_ns(&ns, "ip -o link").await;
    assert!(
        links.contains("eth0") && links.contains("eth1") && links.contains("mtu 1400"),
        "{links}"
    );
    mgr.detach("n1", "c").await.unwrap();
    let (_, links) = in_ns(&ns, "ip -o link").await;
    assert!(!links.contains("eth0") && links.contains("eth1"), "{links}");
    // Still served by the DNS server through n2.
    assert_eq!(
        a_records(&dns_query(&ns, "c.n2", RecordType::A).await),
        vec![e2.ipv4]
    );
    mgr.detach("n2", "c").await.unwrap();
    assert_eq!(mgr.container_endpoints("c").len(), 0);
    mgr.purge().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_frees_at_once_and_deletes_the_veths_while_the_namespace_lives() {
    let mut fx = Fixture::new();
    let ns = fx.netns("r");
    let other = fx.netns("o");
    let mgr = fx.open().await;
    mgr.create_network(user_net("rel", &free_subnet()))
        .await
        .unwrap();
    mgr.create_network(user_net("rel2", &free_subnet()))
        .await
        .unwrap();
    let e1 = mgr.attach("rel", "r", &ns, named("r")).await.unwrap();
    let e2 = mgr.attach("rel2", "r", &ns, named("r")).await.unwrap();
    mgr.release("r").await.unwrap();
    assert_eq!(mgr.container_endpoints("r").len(), 0);
    // the address is free for the next endpoint, which works meanwhile
    let again = mgr.attach("rel", "o", &other, named("o")).await.unwrap();
    assert_eq!(again.ipv4, e1.ipv4);
    // the namespace is still pinned: only the reaper removes the pairs
    let gone = (0..100).any(|_| {
        let links = sh("ip -o link show");
        if !links.contains(&format!(": {}@", e1.host_veth))
            && !links.contains(&format!(": {}@", e2.host_veth))
        {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        false
    });
    assert!(
        gone,
        "{} or {} outlived release",
        e1.host_veth, e2.host_veth
    );
    let (_, inside) = in_ns(&ns, "ip -o link").await;
    assert!(
        !inside.contains("eth0") && !inside.contains("eth1"),
        "{inside}"
    );
    mgr.release("o").await.unwrap();
    mgr.purge().await.unwrap();
}

#[test]
fn netns_create_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ns");
    berth_network::create_netns(&p).unwrap();
    let lo = sh(&format!("nsenter --net={} ip -o link show lo", p.display()));
    assert!(lo.contains("UP"), "{lo}");
    assert!(
        berth_network::create_netns(&p).is_err(),
        "existing file must not be reused"
    );
    berth_network::remove_netns(&p).unwrap();
    assert!(!p.exists());
    berth_network::remove_netns(&p).unwrap();
}

#[test]
fn an_adopted_netns_is_the_same_namespace_at_the_new_path() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let spare = dir.path().join("spare");
    let p = dir.path().join("ns");
    berth_network::create_netns(&spare).unwrap();
    // a mark inside the namespace: lo's MTU
    sh(&format!(
        "nsenter --net={} ip link set lo mtu 1234",
        spare.display()
    ));
    let ino = std::fs::metadata(&spare).unwrap().ino();
    berth_network::adopt_netns(&spare, &p).unwrap();
    assert!(!spare.exists(), "the spare's pin is removed");
    assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
    let lo = sh(&format!("nsenter --net={} ip -o link show lo", p.display()));
    assert!(lo.contains("mtu 1234") && lo.contains("UP"), "{lo}");
    // a target that exists already is refused, and the spare left as it was
    berth_network::create_netns(&spare).unwrap();
    assert!(berth_network::adopt_netns(&spare, &p).is_err());
    assert!(spare.exists());
    berth_network::remove_netns(&spare).unwrap();
    berth_network::remove_netns(&p).unwrap();
    assert!(!p.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_only_unused_user_networks() {
    let mut fx = Fixture::new();
    fx.default_bridge = Some(berth_testkit::unique_name("bd"));
    let ns = fx.netns("c");
    let mut opts = fx.options();
    opts.bip = Some(free_subnet().replace(".0/24", ".1/24"));
    let mgr = fx.open_with(opts).await;
    let used = mgr
        .create_network(user_net("used", &free_subnet()))
        .await
        .unwrap();
    let idle = mgr
        .create_network(user_net("idle", &free_subnet()))
        .await
        .unwrap();
    mgr.attach("used", "c", &ns, named("c")).await.unwrap();
    assert_eq!(mgr.prune().await.unwrap(), vec!["idle".to_string()]);
    let names: Vec<String> = mgr.list().into_iter().map(|n| n.name).collect();
    assert_eq!(names, vec!["bridge".to_string(), "used".to_string()]);
    assert!(fx.leftover_links(&[idle.bridge]).is_empty());
    assert_eq!(fx.leftover_links(&[used.bridge]).len(), 1);
    let e = mgr.remove_network("bridge").await.unwrap_err().to_string();
    assert!(e.contains("pre-defined"), "{e}");
    mgr.purge().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_veth_becomes_the_first_endpoint_and_goes_with_its_namespace() {
    let mut fx = Fixture::new();
    let mgr = fx.open().await;
    let mut spec = user_net("prep", &free_subnet());
    spec.options
        .insert("com.docker.network.driver.mtu".into(), "1420".into());
    let net = mgr.create_network(spec).await.unwrap();
    let host = unique_ifname("vp");
    let ns = fx.netns_with_veth("prepared", &host);
    // made ahead: eth0 inside, the host end outside, both down and on no bridge
    let (_, inner) = in_ns(&ns, "ip -o link show eth0").await;
    assert!(inner.contains("eth0@") && !inner.contains(",UP"), "{inner}");
    let outer = sh(&format!("ip -o link show {host}"));
    assert!(
        !outer.contains("master") && !outer.contains(",UP"),
        "{outer}"
    );
    // a name no interface can have is refused before anything is allocated
    let bad = mgr
        .attach(
            "prep",
            "p1",
            &ns,
            berth_network::EndpointSpec {
                prepared_veth: Some("a/b".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(bad.is_err(), "{bad:?}");
    assert!(mgr.container_endpoints("p1").is_empty());
    let ep = mgr
        .attach(
            "prep",
            "p1",
            &ns,
            berth_network::EndpointSpec {
                name: "p1".into(),
                prepared_veth: Some(host.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (ep.host_veth.as_str(), ep.ifname.as_str()),
        (host.as_str(), "eth0")
    );
    let outer = sh(&format!("ip -o link show {host}"));
    assert!(
        outer.contains(&format!("master {}", net.bridge)) && outer.contains("mtu 1420"),
        "{outer}"
    );
    // the host end, up on the bridge, has no IPv6 of its own (no link-local address or route)
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        let off = std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{host}/disable_ipv6"));
        assert_eq!(off.unwrap().trim(), "1");
        assert_eq!(sh(&format!("ip -o -6 addr show dev {host}")).trim(), "");
    }
    let (_, inner) = in_ns(&ns, "ip -o addr show eth0").await;
    assert!(inner.contains(&format!("{}/", ep.ipv4)), "{inner}");
    let (_, inner) = in_ns(&ns, "ip -o link show eth0").await;
    assert!(
        inner.contains(&ep.mac) && inner.contains("mtu 1420") && inner.contains(",UP"),
        "{inner}"
    );
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        let (_, inner) = in_ns(&ns, "ip -o -6 addr show dev eth0").await;
        assert_eq!(inner.trim(), "", "eth0 has IPv6");
    }
    let gw = ep.gateway.expect("a gateway");
    let (ok, out) = in_ns(&ns, &format!("busybox ping -c1 -W2 {gw}")).await;
    assert!(ok, "{out}");
    // a second endpoint in the same namespace makes its own pair
    mgr.create_network(user_net("prep2", &free_subnet()))
        .await
        .unwrap();
    let ep2 = mgr
        .attach(
            "prep2",
            "p1",
            &ns,
            berth_network::EndpointSpec {
                prepared_veth: Some(host.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ep2.ifname, "eth1");
    assert_ne!(ep2.host_veth, host);
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        let (_, inner) = in_ns(&ns, "ip -o -6 addr show dev eth1").await;
        assert_eq!(inner.trim(), "", "eth1 has IPv6");
    }
    mgr.detach("prep2", "p1").await.unwrap();
    mgr.release("p1").await.unwrap();
    fx.drop_netns(&ns);
    // an unused prepared pair goes with its namespace
    let host2 = unique_ifname("vq");
    let ns2 = fx.netns_with_veth("unused", &host2);
    assert!(sh("ip -o link show").contains(&format!(": {host2}@")));
    fx.drop_netns(&ns2);
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        !sh("ip -o link show").contains(&format!(": {host2}@"))
    });
    assert!(gone, "{host2} outlived its namespace");
    // a taken host name is an error and leaves no namespace
    let ns3 = fx.dir.path().join("ns-taken");
    assert!(berth_network::create_netns_with_veth(&ns3, &net.bridge).is_err());
    assert!(!ns3.exists());
    mgr.purge().await.unwrap();
}
