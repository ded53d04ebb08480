//! Published ports on the real kernel: namespaces stand in for containers.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use berth_network::{Error, PortBinding, Protocol, in_netns, parse_port_spec};
use common::servers::{hello_and_echo_servers, hello_server, tcp_get, udp_ask, user_network};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_tcp_and_udp_ports_are_reachable_from_localhost_and_the_host_address() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let mgr = fx.open().await;
    let net = user_network(&mgr, "pub").await;
    let c = mgr
        .attach("pub", "c-web", &c_ns, named("web"))
        .await
        .unwrap();

    // Servers inside the "container": TCP says hello, UDP echoes upper-cased.
    let ports = hello_and_echo_servers(&c_ns);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_host_port_is_a_clear_error_and_publishes_nothing() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let mgr = fx.open().await;
    user_network(&mgr, "busy").await;
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
async fn containers_reach_published_ports_through_the_host_address_including_their_own() {
    let mut fx = Fixture::new();
    let (a_ns, b_ns) = (fx.netns("a"), fx.netns("b"));
    let mgr = fx.open().await;
    user_network(&mgr, "hp").await;
    mgr.attach("hp", "c-a", &a_ns, named("a")).await.unwrap();
    let b = mgr.attach("hp", "c-b", &b_ns, named("b")).await.unwrap();
    hello_server(&b_ns);
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
    user_network(&mgr, "udp").await;
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

/// Another machine, as far as the host can tell: a namespace behind a veth pair of its own
/// subnet, routed through the host. Its packets enter by prerouting, not by output.
struct Outside {
    ns: std::path::PathBuf,
    link: String,
    host_ip: String,
    peer_ip: String,
}

impl Outside {
    fn new(fx: &mut Fixture) -> Outside {
        let ns = fx.netns("outside");
        let link = berth_testkit::unique_name("vo");
        let subnet = free_subnet();
        let host_ip = subnet.replace(".0/24", ".1");
        let peer_ip = subnet.replace(".0/24", ".2");
        let out = sh(&format!(
            "ip link add {link} type veth peer name eth0 netns {ns} && ip addr add {host_ip}/24 dev {link} && ip link set {link} up && \
             nsenter --net={ns} sh -c 'ip addr add {peer_ip}/24 dev eth0 && ip link set eth0 up && ip route add default via {host_ip}'",
            ns = ns.display()
        ));
        assert!(out.trim().is_empty(), "{out}");
        Outside {
            ns,
            link,
            host_ip,
            peer_ip,
        }
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        sh(&format!("ip link del {} 2>/dev/null", self.link));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_ports_are_reachable_from_another_machine() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let outside = Outside::new(&mut fx);
    let mgr = fx.open().await;
    user_network(&mgr, "ext").await;
    let c = mgr
        .attach("ext", "c-ext", &c_ns, named("ext"))
        .await
        .unwrap();
    // Servers inside the "container": TCP says hello, UDP echoes upper-cased.
    let ports = hello_and_echo_servers(&c_ns);
    let bound = mgr.publish("c-ext", c.ipv4, &ports).await.unwrap();
    let (ok, out) = in_ns(
        &outside.ns,
        &format!("busybox nc -w 2 {} {}", outside.host_ip, bound[0].host_port),
    )
    .await;
    assert!(out.contains("hello"), "tcp from outside ({ok}): {out}");
    let target = (outside.host_ip.clone(), bound[1].host_port);
    let got = in_netns(&outside.ns, move || {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.connect((target.0.as_str(), target.1))?;
        s.send(b"ping")?;
        let mut buf = [0u8; 64];
        let n = s.recv(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    });
    assert_eq!(got.ok().as_deref(), Some("PING"), "udp from outside");
    mgr.purge().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_traffic_is_masqueraded_but_internal_networks_stay_inside() {
    let mut fx = Fixture::new();
    let (c_ns, i_ns) = (fx.netns("c"), fx.netns("i"));
    let outside = Outside::new(&mut fx);
    let mgr = fx.open().await;
    user_network(&mgr, "out").await;
    let mut internal = user_net("inside", &free_subnet());
    internal.internal = true;
    mgr.create_network(internal).await.unwrap();
    mgr.attach("out", "c-out", &c_ns, named("out"))
        .await
        .unwrap();
    mgr.attach("inside", "c-in", &i_ns, named("in"))
        .await
        .unwrap();
    // A server on the other machine that answers with the address it sees.
    let server = in_netns(&outside.ns, || std::net::TcpListener::bind("0.0.0.0:8080")).unwrap();
    std::thread::spawn(move || {
        for s in server.incoming().flatten() {
            let mut s = s;
            let peer = s
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let _ = s.write_all(peer.as_bytes());
        }
    });
    let peer_ip = &outside.peer_ip;
    let (_, out) = in_ns(&c_ns, &format!("busybox nc -w 2 {peer_ip} 8080")).await;
    assert_eq!(
        out.trim(),
        outside.host_ip,
        "the other machine must see the host's address"
    );
    let (ok, out) = in_ns(&i_ns, &format!("busybox nc -w 1 {peer_ip} 8080")).await;
    assert!(
        !ok && out.trim() != outside.host_ip,
        "internal network got out: {out}"
    );
    mgr.purge().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_networks_host_binding_address_is_the_default_for_its_ports() {
    let mut fx = Fixture::new();
    let c_ns = fx.netns("c");
    let mgr = fx.open().await;
    let mut spec = user_net("local", &free_subnet());
    spec.options.insert(
        "com.docker.network.bridge.host_binding_ipv4".into(),
        "127.0.0.1".into(),
    );
    mgr.create_network(spec).await.unwrap();
    let c = mgr.attach("local", "c-l", &c_ns, named("l")).await.unwrap();
    hello_server(&c_ns);
    let bound = mgr
        .publish("c-l", c.ipv4, &parse_port_spec("80").unwrap())
        .await
        .unwrap();
    assert_eq!(bound[0].host_ip, Some(Ipv4Addr::LOCALHOST));
    let port = bound[0].host_port;
    let local = tokio::task::spawn_blocking(move || tcp_get(Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap();
    assert_eq!(local.as_deref(), Some("hello"));
    let host = host_address();
    let remote = tokio::task::spawn_blocking(move || tcp_get(host, port))
        .await
        .unwrap();
    assert_eq!(
        remote, None,
        "bound to 127.0.0.1 only, yet reachable via {host}"
    );
    mgr.purge().await.unwrap();
}
