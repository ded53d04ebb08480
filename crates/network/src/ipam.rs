//! Address management: validating subnets, choosing a free subnet from the pools, and
//! allocating container addresses (lowest free address of the range). Pure logic: the manager
//! persists the results.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{Error, Result};
use crate::types::Network;

/// Parses a CIDR such as `10.1.2.0/24`; host bits must be zero, as Docker requires.
pub fn parse_subnet(value: &str) -> Result<Ipv4Net> {
    let bad = |reason: &str| Error::InvalidSubnet {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let net: Ipv4Net = value
        .trim()
        .parse()
        .map_err(|_| bad("not an IPv4 CIDR such as 10.1.2.0/24"))?;
    if net.prefix_len() > 30 {
        return Err(bad("prefix longer than /30 leaves no room for containers"));
    }
    if net.prefix_len() < 8 {
        return Err(bad("prefix shorter than /8"));
    }
    if net.network() != net.addr() {
        return Err(bad(&format!(
            "host bits are set, it should be {}",
            net.trunc()
        )));
    }
    let a = net.addr();
    if a.is_loopback()
        || a.is_multicast()
        || a.is_unspecified()
        || a.is_link_local()
        || a.is_broadcast()
    {
        return Err(bad("not a usable unicast range"));
    }
    Ok(net)
}

/// Parses an address that must be a usable host address of `subnet`.
pub fn parse_host_address(value: &str, subnet: Ipv4Net, what: &str) -> Result<Ipv4Addr> {
    let ip: Ipv4Addr = value.trim().parse().map_err(|_| Error::InvalidAddress {
        value: value.to_string(),
        reason: format!("{what} is not an IPv4 address"),
    })?;
    check_host_address(ip, subnet, what)?;
    Ok(ip)
}

pub fn check_host_address(ip: Ipv4Addr, subnet: Ipv4Net, what: &str) -> Result<()> {
    if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
        return Err(Error::InvalidAddress {
            value: ip.to_string(),
            reason: format!("{what} is not a host address of subnet {subnet}"),
        });
    }
    Ok(())
}

/// Parses `--ip-range`: a CIDR inside `subnet`.
pub fn parse_ip_range(value: &str, subnet: Ipv4Net) -> Result<Ipv4Net> {
    let bad = |reason: String| Error::InvalidSubnet {
        value: value.to_string(),
        reason,
    };
    let net: Ipv4Net = value
        .trim()
        .parse()
        .map_err(|_| bad("ip range is not an IPv4 CIDR".into()))?;
    if net.network() != net.addr() {
        return Err(bad(format!(
            "host bits are set, it should be {}",
            net.trunc()
        )));
    }
    if !subnet.contains(&net) {
        return Err(bad(format!("ip range is not inside subnet {subnet}")));
    }
    Ok(net)
}

/// Errors if `subnet` overlaps a subnet of an existing network.
pub fn check_overlap(subnet: Ipv4Net, networks: &[Network]) -> Result<()> {
    for n in networks {
        if overlaps(subnet, n.subnet) {
            return Err(Error::SubnetOverlap {
                subnet: subnet.to_string(),
                other: n.subnet.to_string(),
                network: n.name.clone(),
            });
        }
    }
    Ok(())
}

pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of the pools that overlaps neither `taken` (networks and host routes).
pub fn pick_subnet(pools: &[(Ipv4Net, u8)], taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    for (pool, size) in pools {
        let Ok(subnets) = pool.subnets(*size) else {
            continue;
        };
        for candidate in subnets {
            if !taken.iter().any(|t| overlaps(candidate, *t)) {
                return Ok(candidate);
            }
        }
    }
    Err(Error::NoFreeSubnet)
}

/// The first usable address of a subnet: Docker's default gateway.
pub fn first_host(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// Allocates an address for a container: `requested` if given and free, else the lowest free
/// address of the network's range (skipping network, broadcast and gateway addresses).
pub fn allocate(
    network: &Network,
    used: &HashSet<Ipv4Addr>,
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    let subnet = network.subnet;
    if let Some(ip) = requested {
        check_host_address(ip, subnet, "requested address")?;
        if ip == network.gateway || used.contains(&ip) {
            return Err(Error::AddressInUse {
                ip: ip.to_string(),
                network: network.name.clone(),
            });
        }
        return Ok(ip);
    }
    let range = network.ip_range.unwrap_or(subnet);
    let start = u32::from(range.network());
    let end = u32::from(range.broadcast());
    for n in start..=end {
        let ip = Ipv4Addr::from(n);
        if ip == subnet.network()
            || ip == subnet.broadcast()
            || ip == network.gateway
            || used.contains(&ip)
        {
            continue;
        }
        return Ok(ip);
    }
    Err(Error::PoolExhausted(network.name.clone()))
}

/// Docker's MAC for an address: `02:42` followed by the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff`; rejects multicast addresses.
pub fn parse_mac(value: &str) -> Result<[u8; 6]> {
    let bad = |reason: &str| Error::InvalidAddress {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() != 6 {
        return Err(bad("a MAC address has six colon-separated bytes"));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad("each MAC byte is two hex digits"));
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad("each MAC byte is two hex digits"))?;
    }
    if mac[0] & 1 == 1 {
        return Err(bad("multicast MAC addresses cannot be assigned"));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str, range: Option<&str>) -> Network {
        let mut n = tests_support::network("n", "br", subnet);
        n.ip_range = range.map(|r| r.parse().unwrap());
        n
    }

    #[test]
    fn subnets_are_validated_with_reasons() {
        assert!(parse_subnet("10.1.2.0/24").is_ok());
        let e = parse_subnet("10.1.2.3/24").unwrap_err().to_string();
        assert!(e.contains("10.1.2.0/24"), "{e}");
        assert!(parse_subnet("10.1.2.0/33").is_err());
        assert!(
            parse_subnet("banana")
                .unwrap_err()
                .to_string()
                .contains("banana")
        );
        assert!(parse_subnet("127.0.0.0/8").is_err());
        assert!(parse_subnet("10.0.0.0/31").is_err());
    }

    #[test]
    fn overlapping_subnets_name_the_other_network() {
        let n = net("10.9.0.0/16", None);
        let e =
            check_overlap("10.9.3.0/24".parse().unwrap(), std::slice::from_ref(&n)).unwrap_err();
        assert!(e.to_string().contains("10.9.0.0/16"), "{e}");
        assert!(check_overlap("10.10.0.0/24".parse().unwrap(), &[n]).is_ok());
    }

    #[test]
    fn allocation_skips_gateway_and_used_and_honours_range() {
        let n = net("10.9.0.0/29", None);
        let mut used = HashSet::new();
        let a = allocate(&n, &used, None).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 9, 0, 2));
        used.insert(a);
        assert_eq!(
            allocate(&n, &used, None).unwrap(),
            Ipv4Addr::new(10, 9, 0, 3)
        );
        for i in 3..=6 {
            used.insert(Ipv4Addr::new(10, 9, 0, i));
        }
        assert!(matches!(
            allocate(&n, &used, None),
            Err(Error::PoolExhausted(_))
        ));
        let r = net("10.9.0.0/24", Some("10.9.0.128/25"));
        assert_eq!(
            allocate(&r, &HashSet::new(), None).unwrap(),
            Ipv4Addr::new(10, 9, 0, 128)
        );
        assert!(matches!(
            allocate(
                &r,
                &[Ipv4Addr::new(10, 9, 0, 7)].into(),
                Some(Ipv4Addr::new(10, 9, 0, 7))
            ),
            Err(Error::AddressInUse { .. })
        ));
        assert!(allocate(&r, &HashSet::new(), Some(Ipv4Addr::new(10, 9, 1, 7))).is_err());
    }

    #[test]
    fn pools_skip_taken_subnets() {
        let pools = vec![
            ("172.17.0.0/16".parse().unwrap(), 16),
            ("192.168.0.0/16".parse().unwrap(), 20),
        ];
        let got = pick_subnet(&pools, &["172.17.5.0/24".parse().unwrap()]).unwrap();
        assert_eq!(got.to_string(), "192.168.0.0/20");
    }

    #[test]
    fn macs_round_trip() {
        let m = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(format_mac(&m), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02").unwrap(), m);
        assert!(parse_mac("01:00:00:00:00:00").is_err());
        assert!(parse_mac("zz").is_err());
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn network(name: &str, bridge: &str, subnet: &str) -> Network {
        let subnet: Ipv4Net = subnet.parse().unwrap();
        Network {
            id: format!("{name:0>64}"),
            name: name.into(),
            driver: "bridge".into(),
            bridge: bridge.into(),
            subnet,
            gateway: first_host(subnet),
            ip_range: None,
            internal: false,
            default: false,
            mtu: 1500,
            created: String::new(),
            labels: Default::default(),
            options: Default::default(),
        }
    }
}
