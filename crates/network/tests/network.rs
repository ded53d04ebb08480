//! Networks on the real kernel: namespaces stand in for containers.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use berth_network::{Error, PortBinding, Protocol, in_netns, parse_port_spec};
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_endpoints_on_one_network_reach_each_other_by_name() {
    let mut fx = Fixture::new();
    let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
    let mgr = fx.open().await;
    let net = mgr
        .create_network(user_net("front", &free_subnet()))
        .await
        .unwrap();
    let a = mgr
        .attach("front", "aaaaaaaaaaaa1111", &a_ns, named("/alpha"))
        .await
        .unwrap();
    let mut spec = named("beta");
    spec.aliases = vec!["db".into()];
    let b = mgr
        .attach(&net.id[..10], "bbbbbbbbbbbb2222", &b_ns, spec)
        .await
        .unwrap();
    assert_ne!(a.ipv4, b.ipv4);
    assert_eq!(a.ifname, "eth0");
    assert_eq!(
        a.name, "alpha",
        "Docker's leading slash is not part of the name"
    );

    // Inside the namespace: address, MTU, default route via the gateway.
    let (_, addr) = in_ns(&a_ns, "ip -o -4 addr show dev eth0").await;
    assert!(addr.contains(&format!("{}/24", a.ipv4)), "{addr}");
    let (_, route) = in_ns(&a_ns, "ip route").await;
    assert!(
        route.contains(&format!("default via {}", net.gateway)),
        "{route}"
    );

    // Names through the embedded DNS server, with busybox's resolver and our own query.
    let (ok, out) = in_ns(&a_ns, "busybox nslookup beta 127.0.0.11").await;
    assert!(ok && out.contains(&b.ipv4.to_string()), "{out}");
    for name in ["db", "beta.front", "bbbbbbbbbbbb", "DB.front"] {
        let reply = dns_query(&a_ns, name, RecordType::A).await;
        assert_eq!(a_records(&reply), vec![b.ipv4], "{name}");
    }
    let reply = dns_query(&b_ns, "alpha", RecordType::A).await;
    assert_eq!(a_records(&reply), vec![a.ipv4]);
    let rev = dns_query(
        &b_ns,
        &format!("{}.in-addr.arpa", reverse(a.ipv4)),
        RecordType::PTR,
    )
    .await;
    assert_eq!(rev.answers.len(), 1);
    let (ok, out) = in_ns(&a_ns, &format!("busybox ping -c 1 -W 2 {}", b.ipv4)).await;
    assert!(ok, "ping beta: {out}");
    let (ok, out) = in_ns(&b_ns, &format!("busybox ping -c 1 -W 2 {}", a.ipv4)).await;
    assert!(ok, "ping alpha: {out}");

    let names = vec![net.bridge.clone(), a.host_veth.clone(), b.host_veth.clone()];
    mgr.detach("front", "aaaaaaaaaaaa1111").await.unwrap();
    let (_, links) = in_ns(&a_ns, "ip -o link").await;
    assert!(!links.contains("eth0"), "{links}");
    mgr.detach("front", "bbbbbbbbbbbb2222").await.unwrap();
    mgr.remove_network("front").await.unwrap();
    mgr.purge().await.unwrap();
    assert!(fx.leftover_links(&names).is_empty());
    assert!(!fx.table_exists());
    assert_eq!(fx.iptables_rules(), 0);
}

fn reverse(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_on_different_networks_cannot_reach_each_other() {
    let mut fx = Fixture::new();
    let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
    let mgr = fx.open().await;
    let n1 = mgr
        .create_network(user_net("one", &free_subnet()))
        .await
        .unwrap();
    let n2 = mgr
        .create_network(user_net("two", &free_subnet()))
        .await
        .unwrap();
    let a = mgr.attach("one", "c-a", &a_ns, named("a")).await.unwrap();
    let b = mgr.attach("two", "c-b", &b_ns, named("b")).await.unwrap();
    // Positive control: each reaches its own gateway, so routing is in place.
    assert!(
        in_ns(&a_ns, &format!("busybox ping -c 1 -W 2 {}", n1.gateway))
            .await
            .0
    );
    assert!(
        in_ns(&b_ns, &format!("busybox ping -c 1 -W 2 {}", n2.gateway))
            .await
            .0
    );
    let (ok, out) = in_ns(&a_ns, &format!("busybox ping -c 1 -W 1 {}", b.ipv4)).await;
    assert!(!ok, "isolation broken: {out}");
    let (ok, out) = in_ns(&b_ns, &format!("busybox ping -c 1 -W 1 {}", a.ipv4)).await;
    assert!(!ok, "isolation broken: {out}");
    // Names of the other network are not answered (and with no upstream: SERVFAIL).
    let reply = dns_query(&a_ns, "b", RecordType::A).await;
    assert!(a_records(&reply).is_empty());
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    mgr.purge().await.unwrap();
    assert!(
        fx.leftover_links(&[n1.bridge, n2.bridge, a.host_veth, b.host_veth])
            .is_empty()
    );
    assert!(!fx.table_exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_tcp_and_udp_ports_are_reachable_from_localhost_and_the_host_address() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let mgr = fx.open().await;
    let net = mgr
        .create_network(user_net("pub", &free_subnet()))
        .await
        .unwrap();
    let c = mgr
        .attach("pub", "c-web", &c_ns, named("web"))
        .await
        .unwrap();

    // Servers inside the "container": TCP says hello, UDP echoes upper-cased.
    let (tcp, udp) = in_netns(&c_ns, || {
        Ok((
            std::net::TcpListener::bind("0.0.0.0:80")?,
            UdpSocket::bind("0.0.0.0:53")?,
        ))
    })
    .unwrap();
    std::thread::spawn(move || {
        for s in tcp.incoming().flatten() {
            let mut s = s;
            let _ = s.write_all(b"hello");
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&buf[..n].to_ascii_uppercase(), peer);
        }
    });

    let mut ports = parse_port_spec("80").unwrap();
    ports.extend(parse_port_spec("53/udp").unwrap());
    let bound = mgr.publish("c-web", c.ipv4, &ports).await.unwrap();
    assert!(bound.iter().all(|b| b.host_port != 0));
    assert_eq!(mgr.published("c-web"), bound);
    let tcp_port = bound[0].host_port;
    let udp_port = bound[1].host_port;
    let host = host_address();
    for ip in [Ipv4Addr::LOCALHOST, host] {
        let got = tokio::task::spawn_blocking(move || tcp_get(ip, tcp_port))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("hello"), "tcp via {ip}");
        let got = tokio::task::spawn_blocking(move || udp_ask(ip, udp_port, b"ping"))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("PING"), "udp via {ip}");
    }

    mgr.unpublish("c-web").await.unwrap();
    let got = tokio::task::spawn_blocking(move || tcp_get(Ipv4Addr::LOCALHOST, tcp_port))
        .await
        .unwrap();
    assert_eq!(got, None, "port still forwarded after unpublish");
    mgr.purge().await.unwrap();
    assert!(fx.leftover_links(&[net.bridge, c.host_veth]).is_empty());
    assert!(!fx.table_exists());
}

fn tcp_get(ip: Ipv4Addr, port: u16) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn udp_ask(ip: Ipv4Addr, port: u16, msg: &[u8]) -> Option<String> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.connect((ip, port)).ok()?;
    s.send(msg).ok()?;
    let mut buf = [0u8; 512];
    let n = s.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_host_port_is_a_clear_error_and_publishes_nothing() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let mgr = fx.open().await;
    mgr.create_network(user_net("busy", &free_subnet()))
        .await
        .unwrap();
    let c = mgr
        .attach("busy", "c-busy", &c_ns, named("busy"))
        .await
        .unwrap();
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let ports = [
        PortBinding::new(0, 81, Protocol::Tcp),
        PortBinding::new(port, 80, Protocol::Tcp),
    ];
    let err = mgr.publish("c-busy", c.ipv4, &ports).await.unwrap_err();
    assert!(matches!(err, Error::PortInUse { .. }), "{err}");
    assert!(err.to_string().contains(&format!("{port}/tcp")), "{err}");
    assert!(mgr.published("c-busy").is_empty());
    let rules = sh(&format!("nft list table ip {}", fx.table));
    assert!(!rules.contains("dnat to"), "{rules}");
    // A range skips the taken port.
    let range = PortBinding {
        host_port: port,
        host_port_end: port.saturating_add(20),
        ..PortBinding::new(0, 80, Protocol::Tcp)
    };
    let got = mgr.publish("c-busy", c.ipv4, &[range]).await.unwrap();
    assert!(got[0].host_port > port);
    assert!(
        sh(&format!("nft list table ip {}", fx.table))
            .contains(&format!("dport {} dnat to {}:80", got[0].host_port, c.ipv4))
    );
    mgr.purge().await.unwrap();
}

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
    let d = mgr
        .attach("bridge", "c-a", &a_ns, named("a"))
        .await
        .unwrap();
    assert_eq!(d.ifname, "eth1");
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
async fn dns_forwards_other_names_upstream_and_fails_fast_without_one() {
    use hickory_proto::op::Message;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{RData, Record};
    // A fake upstream resolver on loopback.
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    let up_addr = upstream.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok((n, peer)) = upstream.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.add_query(q.queries[0].clone());
            r.add_answer(Record::from_rdata(
                q.queries[0].name().clone(),
                60,
                RData::A(A(Ipv4Addr::new(203, 0, 113, 7))),
            ));
            let _ = upstream.send_to(&r.to_vec().unwrap(), peer);
        }
    });
    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap(); // dropped: refuses

    let mut fx = Fixture::new();
    let ns = fx.netns("c");
    let mut opts = fx.options();
    opts.dns_upstreams = Some(vec![closed, up_addr]);
    let mgr = fx.open_with(opts).await;
    mgr.create_network(user_net("fwd", &free_subnet()))
        .await
        .unwrap();
    mgr.attach("fwd", "c", &ns, named("c")).await.unwrap();
    let reply = dns_query(&ns, "www.example.test", RecordType::A).await;
    assert_eq!(a_records(&reply), vec![Ipv4Addr::new(203, 0, 113, 7)]);
    // TCP is served too.
    let own = mgr.container_endpoints("c")[0].ipv4;
    assert_eq!(
        a_records(&dns_query_tcp(&ns, "c.fwd", RecordType::A).await),
        vec![own]
    );
    mgr.purge().await.unwrap();

    let mut fx2 = Fixture::new();
    let ns2 = fx2.netns("d");
    let mut opts = fx2.options();
    opts.dns_upstreams = Some(vec![closed]);
    let mgr = fx2.open_with(opts).await;
    mgr.create_network(user_net("nofwd", &free_subnet()))
        .await
        .unwrap();
    mgr.attach("nofwd", "d", &ns2, named("d")).await.unwrap();
    let t = Instant::now();
    let reply = dns_query(&ns2, "www.example.test", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_reach_published_ports_through_the_host_address_including_their_own() {
    let mut fx = Fixture::new();
    let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
    let mgr = fx.open().await;
    mgr.create_network(user_net("hp", &free_subnet()))
        .await
        .unwrap();
    mgr.attach("hp", "c-a", &a_ns, named("a")).await.unwrap();
    let b = mgr.attach("hp", "c-b", &b_ns, named("b")).await.unwrap();
    let tcp = in_netns(&b_ns, || std::net::TcpListener::bind("0.0.0.0:80")).unwrap();
    std::thread::spawn(move || {
        for s in tcp.incoming().flatten() {
            let mut s = s;
            let _ = s.write_all(b"hello");
        }
    });
    let bound = mgr
        .publish("c-b", b.ipv4, &parse_port_spec("80").unwrap())
        .await
        .unwrap();
    let host = host_address();
    let cmd = format!("busybox nc -w 2 {host} {}", bound[0].host_port);
    let (_, out) = in_ns(&a_ns, &cmd).await;
    assert!(out.contains("hello"), "from another container: {out}");
    let (_, out) = in_ns(&b_ns, &cmd).await;
    assert!(
        out.contains("hello"),
        "hairpin, from the container itself: {out}"
    );
    mgr.purge().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_flow_follows_the_port_when_it_moves_to_another_container() {
    let mut fx = Fixture::new();
    let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
    let mgr = fx.open().await;
    mgr.create_network(user_net("udp", &free_subnet()))
        .await
        .unwrap();
    let a = mgr.attach("udp", "c-a", &a_ns, named("a")).await.unwrap();
    let b = mgr.attach("udp", "c-b", &b_ns, named("b")).await.unwrap();
    for (ns, name) in [(&a_ns, "a"), (&b_ns, "b")] {
        let sock = in_netns(ns, || UdpSocket::bind("0.0.0.0:9999")).unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((_, peer)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(name.as_bytes(), peer);
            }
        });
    }
    let bound = mgr
        .publish("c-a", a.ipv4, &parse_port_spec("9999/udp").unwrap())
        .await
        .unwrap();
    let port = bound[0].host_port;
    // One client socket throughout, as a long-lived UDP client (syslog, statsd) would have.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    client.connect(("127.0.0.1", port)).unwrap();
    let ask = |c: &UdpSocket| {
        c.send(b"who").unwrap();
        let mut buf = [0u8; 64];
        let n = c.recv(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(ask(&client), "a");
    mgr.unpublish("c-a").await.unwrap();
    let moved = PortBinding::new(port, 9999, Protocol::Udp);
    mgr.publish("c-b", b.ipv4, &[moved]).await.unwrap();
    assert_eq!(
        ask(&client),
        "b",
        "the old conntrack entry still sends the flow to a"
    );
    mgr.purge().await.unwrap();
}
