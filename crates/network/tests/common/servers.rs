//! Servers inside a namespace standing in for a container, and the host-side clients that ask
//! them through published ports.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use berth_network::{NetworkManager, PortBinding, in_netns, parse_port_spec};

/// Answers every TCP connection with `hello` and closes it.
pub fn serve_hello(tcp: TcpListener) {
    std::thread::spawn(move || {
        for s in tcp.incoming().flatten() {
            let mut s = s;
            let _ = s.write_all(b"hello");
        }
    });
}

/// A TCP `hello` server on port 80 inside `ns`.
pub fn hello_server(ns: &Path) {
    serve_hello(in_netns(ns, || TcpListener::bind("0.0.0.0:80")).expect("bind tcp 80"));
}

/// A TCP `hello` server on port 80 and a UDP server on port 53 that echoes upper-cased,
/// inside `ns`; returns the container ports to publish (`80`, `53/udp`).
pub fn hello_and_echo_servers(ns: &Path) -> Vec<PortBinding> {
    let (tcp, udp) = in_netns(ns, || {
        Ok((
            TcpListener::bind("0.0.0.0:80")?,
            UdpSocket::bind("0.0.0.0:53")?,
        ))
    })
    .expect("bind the servers");
    serve_hello(tcp);
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&buf[..n].to_ascii_uppercase(), peer);
        }
    });
    let mut ports = parse_port_spec("80").expect("port spec");
    ports.extend(parse_port_spec("53/udp").expect("port spec"));
    ports
}

/// A user network `name` on a free subnet of its own.
pub async fn user_network(mgr: &NetworkManager, name: &str) -> berth_network::Network {
    mgr.create_network(super::user_net(name, &super::free_subnet()))
        .await
        .expect("create network")
}

/// What a TCP server at `ip:port` says, or None when it cannot be reached.
pub fn tcp_get(ip: Ipv4Addr, port: u16) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A UDP server's answer to `msg`, or None.
pub fn udp_ask(ip: Ipv4Addr, port: u16, msg: &[u8]) -> Option<String> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.connect((ip, port)).ok()?;
    s.send(msg).ok()?;
    let mut buf = [0u8; 512];
    let n = s.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}
