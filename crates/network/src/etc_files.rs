//! The /etc/hosts, /etc/resolv.conf and /etc/hostname Docker writes for a container.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::types::EMBEDDED_DNS;

/// `/etc/hostname`: the name and a newline.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// `/etc/hosts` as Docker builds it: the fixed localhost/IPv6 lines, then `--add-host` entries,
/// then one line per container address naming the container (`hostname.domain hostname` when
/// a domain is set). `addresses` is empty for `--network none`.
pub fn hosts_file(
    hostname: &str,
    domainname: Option<&str>,
    addresses: &[Ipv4Addr],
    extra_hosts: &[(String, IpAddr)],
) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra_hosts {
        let _ = writeln!(s, "{ip}\t{name}");
    }
    let names = match domainname.filter(|d| !d.is_empty()) {
        Some(d) => format!("{hostname}.{d} {hostname}"),
        None => hostname.to_string(),
    };
    for ip in addresses {
        let _ = writeln!(s, "{ip}\t{names}");
    }
    s
}

/// `/etc/resolv.conf` for a container, from the host's file (`host`):
/// - on a user-defined network (`embedded_dns`): `nameserver 127.0.0.11` and `ndots:0`, the
///   real servers being the embedded server's upstreams;
/// - else the `--dns` servers, or the host's servers without loopback ones (unreachable from a
///   container), or Google's public servers when nothing is left, as Docker does.
///
/// `search` and `options` (`--dns-search`, `--dns-option`) replace the host's when non-empty.
pub fn resolv_conf(
    host: &str,
    embedded_dns: bool,
    dns: &[IpAddr],
    search: &[String],
    options: &[String],
) -> String {
    let mut host_ns = Vec::new();
    let mut host_search: Vec<String> = Vec::new();
    let mut host_opts: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(ip) = w.next().and_then(|ip| ip.parse::<IpAddr>().ok()) {
                    host_ns.push(ip);
                }
            }
            Some("search") | Some("domain") => host_search = w.map(String::from).collect(),
            Some("options") => host_opts.extend(w.map(String::from)),
            _ => {}
        }
    }
    let search = if search.is_empty() {
        host_search
    } else {
        search.to_vec()
    };
    let mut opts = if options.is_empty() {
        host_opts
    } else {
        options.to_vec()
    };
    let servers: Vec<IpAddr> = if embedded_dns {
        if !opts.iter().any(|o| o.starts_with("ndots:")) {
            opts.insert(0, "ndots:0".to_string());
        }
        vec![IpAddr::V4(EMBEDDED_DNS)]
    } else if !dns.is_empty() {
        dns.to_vec()
    } else {
        let usable: Vec<IpAddr> = host_ns.into_iter().filter(|ip| !ip.is_loopback()).collect();
        if usable.is_empty() {
            vec![
                IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
                IpAddr::V4(Ipv4Addr::new(8, 8, 4, 4)),
            ]
        } else {
            usable
        }
    };
    let mut s = String::new();
    for ip in servers {
        let _ = writeln!(s, "nameserver {ip}");
    }
    if !search.is_empty() {
        let _ = writeln!(s, "search {}", search.join(" "));
    }
    if !opts.is_empty() {
        let _ = writeln!(s, "options {}", opts.join(" "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_matches_dockers_layout() {
        let h = hosts_file(
            "abc123",
            None,
            &[Ipv4Addr::new(172, 17, 0, 2)],
            &[("db".into(), "10.0.0.5".parse().unwrap())],
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.ends_with("10.0.0.5\tdb\n172.17.0.2\tabc123\n"), "{h}");
        let d = hosts_file(
            "web",
            Some("example.org"),
            &[Ipv4Addr::new(10, 0, 0, 2)],
            &[],
        );
        assert!(d.ends_with("10.0.0.2\tweb.example.org web\n"), "{d}");
        assert_eq!(hostname_file("web"), "web\n");
    }

    #[test]
    fn resolv_conf_points_user_networks_at_the_embedded_server() {
        let host = "nameserver 10.255.255.53\nsearch corp.example\noptions edns0\n";
        let r = resolv_conf(host, true, &[], &[], &[]);
        assert_eq!(
            r,
            "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0 edns0\n"
        );
        let r = resolv_conf(host, false, &[], &[], &[]);
        assert_eq!(
            r,
            "nameserver 10.255.255.53\nsearch corp.example\noptions edns0\n"
        );
        let r = resolv_conf("nameserver 127.0.0.53\n", false, &[], &[], &[]);
        assert_eq!(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        let r = resolv_conf(
            host,
            false,
            &["1.1.1.1".parse().unwrap()],
            &["x.test".into()],
            &["ndots:2".into()],
        );
        assert_eq!(r, "nameserver 1.1.1.1\nsearch x.test\noptions ndots:2\n");
    }
}
