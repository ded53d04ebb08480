//! Published ports: Docker's `-p` syntax, and holding each host port with a bound socket (as
//! Docker does) so no other program can take it while it is published and a taken port is a
//! clear error before any rule is written.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use crate::error::{Error, Result};
use crate::types::{PortBinding, Protocol};

/// Parses `-p [ip:][hostPort:]containerPort[/tcp|/udp]`, with ranges (`8000-8010:80-90`,
/// `8000-8010:80` = first free host port of the range). An empty or missing host port asks for
/// an ephemeral one. Container port ranges are expanded into one binding per port.
pub fn parse_port_spec(s: &str) -> Result<Vec<PortBinding>> {
    let bad = |reason: &str| Error::InvalidPortSpec {
        value: s.to_string(),
        reason: reason.to_string(),
    };
    let (rest, protocol) = match s.rsplit_once('/') {
        Some((r, "tcp")) => (r, Protocol::Tcp),
        Some((r, "udp")) => (r, Protocol::Udp),
        Some((_, p)) => return Err(bad(&format!("unsupported protocol {p:?} (tcp or udp)"))),
        None => (s, Protocol::Tcp),
    };
    let parts: Vec<&str> = if let Some(after) = rest.strip_prefix('[') {
        let (_, tail) = after
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in host address"))?;
        let _ = tail;
        return Err(bad("IPv6 host addresses are not supported"));
    } else {
        rest.split(':').collect()
    };
    let (ip, host, container) = match parts.as_slice() {
        [c] => (None, "", *c),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (Some(*ip), *h, *c),
        _ => return Err(bad("too many colons")),
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(ip) => match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) if v4.is_unspecified() => None,
            Ok(IpAddr::V4(v4)) => Some(v4),
            Ok(IpAddr::V6(_)) => return Err(bad("IPv6 host addresses are not supported")),
            Err(_) => return Err(bad(&format!("invalid host address {ip:?}"))),
        },
    };
    let (c_start, c_end) = parse_range(container)
        .ok_or_else(|| bad(&format!("invalid container port {container:?}")))?;
    if c_start == 0 {
        return Err(bad("container port 0 is not a port"));
    }
    let (h_start, h_end) = if host.is_empty() {
        (0, 0)
    } else {
        parse_range(host).ok_or_else(|| bad(&format!("invalid host port {host:?}")))?
    };
    let c_len = c_end - c_start;
    let h_len = h_end - h_start;
    if host.is_empty() {
        return Ok((c_start..=c_end)
            .map(|c| PortBinding {
                host_ip,
                host_port: 0,
                host_port_end: 0,
                container_port: c,
                protocol,
            })
            .collect());
    }
    if h_start == 0 {
        return Err(bad(
            "host port 0 is not a port (leave it empty for an ephemeral port)",
        ));
    }
    if c_len == 0 {
        return Ok(vec![PortBinding {
            host_ip,
            host_port: h_start,
            host_port_end: h_end,
            container_port: c_start,
            protocol,
        }]);
    }
    if c_len != h_len {
        return Err(bad("host and container port ranges differ in length"));
    }
    Ok((0..=c_len)
        .map(|i| PortBinding {
            host_ip,
            host_port: h_start + i,
            host_port_end: h_start + i,
            container_port: c_start + i,
            protocol,
        })
        .collect())
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = s.parse().ok()?;
            (p, p)
        }
    };
    (a <= b).then_some((a, b))
}

/// A bound host socket holding a published port.
#[derive(Debug)]
pub(crate) enum HostSocket {
    Tcp(#[allow(dead_code)] TcpListener),
    Udp(#[allow(dead_code)] UdpSocket),
}

/// Binds the binding's host port (or the first free one of its range, or an ephemeral one) and
/// returns the socket with the concrete binding.
pub(crate) fn reserve(b: &PortBinding) -> Result<(HostSocket, PortBinding)> {
    let ip = b.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let end = b.host_port_end.max(b.host_port);
    let mut last_err = None;
    for port in b.host_port..=end {
        let addr = SocketAddrV4::new(ip, port);
        let bound = match b.protocol {
            Protocol::Tcp => TcpListener::bind(addr)
                .and_then(|l| Ok((l.local_addr()?.port(), HostSocket::Tcp(l)))),
            Protocol::Udp => {
                UdpSocket::bind(addr).and_then(|u| Ok((u.local_addr()?.port(), HostSocket::Udp(u))))
            }
        };
        match bound {
            Ok((actual, sock)) => {
                let mut out = *b;
                out.host_port = actual;
                out.host_port_end = actual;
                return Ok((sock, out));
            }
            Err(e) => last_err = Some(e),
        }
    }
    let err = last_err.unwrap_or_else(|| std::io::Error::other("empty port range"));
    if err.kind() == std::io::ErrorKind::AddrInUse {
        let port = if b.host_port_end > b.host_port {
            b.host_port_end
        } else {
            b.host_port
        };
        return Err(Error::PortInUse {
            host_ip: ip.to_string(),
            port,
            proto: b.protocol.to_string(),
        });
    }
    Err(Error::io(
        format!("bind host port {ip}:{}/{}", b.host_port, b.protocol),
        err,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_port_specs_parse() {
        let b = parse_port_spec("8080:80").unwrap();
        assert_eq!(b, vec![PortBinding::new(8080, 80, Protocol::Tcp)]);
        let b = parse_port_spec("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(b[0].host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(b[0].protocol, Protocol::Udp);
        let b = parse_port_spec("80").unwrap();
        assert_eq!(b[0].host_port, 0);
        let b = parse_port_spec("127.0.0.1::80").unwrap();
        assert_eq!(
            (b[0].host_port, b[0].host_ip),
            (0, Some(Ipv4Addr::LOCALHOST))
        );
        let b = parse_port_spec("9000-9002:80-82/tcp").unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!((b[2].host_port, b[2].container_port), (9002, 82));
        let b = parse_port_spec("9000-9010:80").unwrap();
        assert_eq!((b[0].host_port, b[0].host_port_end), (9000, 9010));
        let b = parse_port_spec("0.0.0.0:81:80").unwrap();
        assert_eq!(b[0].host_ip, None);
    }

    #[test]
    fn bad_port_specs_say_why() {
        for (spec, why) in [
            ("80/sctp", "protocol"),
            ("a:b:c:d", "colons"),
            ("99999:80", "host port"),
            ("80:0", "container port 0"),
            ("9000-9001:80-82", "differ"),
            ("x.y:80:80", "host address"),
            ("[::1]:80:80", "IPv6"),
            ("90-80:80", "host port"),
        ] {
            let e = parse_port_spec(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn a_taken_port_is_a_clear_error_and_ranges_skip_it() {
        let (held, b) = reserve(&PortBinding::new(0, 80, Protocol::Tcp)).unwrap();
        let e = reserve(&PortBinding::new(b.host_port, 80, Protocol::Tcp))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{}/tcp", b.host_port)) && e.contains("already in use"),
            "{e}"
        );
        drop(held);
        let e = reserve(&PortBinding {
            host_ip: Some(Ipv4Addr::new(203, 0, 113, 250)),
            ..PortBinding::new(8080, 80, Protocol::Tcp)
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("203.0.113.250:8080/tcp"), "{e}");
        let (_u, ub) = reserve(&PortBinding::new(0, 53, Protocol::Udp)).unwrap();
        assert_ne!(ub.host_port, 0);
    }
}
