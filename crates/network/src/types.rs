//! The data the engine passes in and gets back: specs, networks, endpoints, port bindings.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Name of Docker's default network; Berth's default bridge network has the same name.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Where the embedded DNS server listens inside each container on a user-defined network.
pub const EMBEDDED_DNS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// How the manager is set up; `Default` gives Berth's production defaults.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Bridge of the default network (`"berth0"`); `None` creates no default network.
    pub default_bridge: Option<String>,
    /// Gateway address and prefix of the default bridge, like Docker's `--bip`
    /// (`"172.18.0.1/16"`); `None` picks a free subnet from `address_pools`.
    pub bip: Option<String>,
    /// MTU of the default network's interfaces.
    pub mtu: u32,
    /// Name of Berth's own nftables table (family `ip`).
    pub nft_table: String,
    /// Pools for networks created without a subnet: (pool, size of each subnet).
    pub address_pools: Vec<(Ipv4Net, u8)>,
    /// Upstream resolvers of the embedded DNS server; `None` reads the host's /etc/resolv.conf.
    pub dns_upstreams: Option<Vec<SocketAddr>>,
    /// Add iptables FORWARD accept rules for Berth's bridges when an iptables `filter` table
    /// exists (dockerd sets `FORWARD DROP`, which an nft accept cannot override).
    pub iptables_compat: bool,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        let mut pools = Vec::new();
        for b in 17..=31u8 {
            pools.push((
                Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid"),
                16,
            ));
        }
        pools.push((
            Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid"),
            20,
        ));
        ManagerOptions {
            default_bridge: Some("berth0".to_string()),
            bip: None,
            mtu: 1500,
            nft_table: "berth".to_string(),
            address_pools: pools,
            dns_upstreams: None,
            iptables_compat: true,
        }
    }
}

/// What `docker network create` asks for. Strings are validated by the library.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    /// Only `"bridge"` (or empty, meaning bridge) is supported.
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// Driver options: `com.docker.network.bridge.name`, `com.docker.network.driver.mtu`,
    /// `com.docker.network.bridge.enable_icc` are understood; others are kept as given.
    pub options: BTreeMap<String, String>,
}

/// A network as it exists (Docker's `NetworkResource` minus the container map, see
/// [`crate::NetworkManager::endpoints`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    pub driver: String,
    /// Linux bridge carrying the network.
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    pub internal: bool,
    /// The default network: no embedded DNS, like Docker's `bridge`.
    pub default: bool,
    pub mtu: u32,
    /// RFC 3339 creation time.
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// What the engine knows about a container joining a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointSpec {
    /// Container name (without the leading `/`): answered by the embedded DNS server.
    pub name: String,
    /// Network-scoped aliases (`--network-alias`).
    pub aliases: Vec<String>,
    /// A fixed address (`--ip`); else one is allocated.
    pub ipv4: Option<Ipv4Addr>,
    /// A fixed MAC (`--mac-address`); else derived from the address as Docker does.
    pub mac: Option<String>,
    /// Upstream servers for this container's DNS queries (`--dns`); else the manager's.
    pub dns_servers: Vec<IpAddr>,
    /// The host end of a veth pair made with the namespace ([`crate::create_netns_with_veth`]):
    /// the namespace's first endpoint (`eth0`) takes it instead of making a pair.
    pub prepared_veth: Option<String>,
}

/// A container's attachment to a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// 64 hex digits.
    pub id: String,
    pub network_id: String,
    pub network_name: String,
    pub container_id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub ipv4: Ipv4Addr,
    pub prefix_len: u8,
    /// Default gateway set in the container (`None` on internal networks).
    pub gateway: Option<Ipv4Addr>,
    pub mac: String,
    /// Host end of the veth pair (on the bridge).
    pub host_veth: String,
    /// Interface name inside the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    pub netns: PathBuf,
    pub dns_servers: Vec<IpAddr>,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One published port. `host_port == 0` asks for an ephemeral port (`-P`, or `-p 80`);
/// `host_port_end > host_port` asks for the first free port of that range. Bindings returned
/// by `publish` always have one concrete host port (`host_port_end == host_port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortBinding {
    /// `None` means every host address (`0.0.0.0`).
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub host_port_end: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortBinding {
    /// A binding of `host_port` (0: ephemeral) on every address to `container_port`.
    pub fn new(host_port: u16, container_port: u16, protocol: Protocol) -> Self {
        PortBinding {
            host_ip: None,
            host_port,
            host_port_end: host_port,
            container_port,
            protocol,
        }
    }
}
