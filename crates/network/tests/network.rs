//! Reachability, isolation and names on the real kernel: namespaces stand in for containers.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

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
