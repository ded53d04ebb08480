//! Networks: bridges, veth endpoints, IPAM, port publishing and the embedded DNS server.
//! Uses nothing of Berth's other crates.
//!
//! Owns `<state_dir>` (persisted IPAM and published ports), the Linux bridges it creates, the
//! host ends of container veths, its own nftables table and its iptables FORWARD accept rules.
//! It must not touch links, rules or files it did not make.
//!
//! The engine's API (async methods need a tokio runtime; their futures are `Send`):
//! ```text
//! NetworkManager::open(state_dir: &Path, opts: ManagerOptions) -> Result<NetworkManager>
//! create_network(&self, spec: NetworkSpec) -> Result<Network>
//! remove_network(&self, id_or_name: &str) -> Result<()>;  prune(&self) -> Result<Vec<String>>
//! list(&self) -> Vec<Network>;  get(&self, id_or_name: &str) -> Result<Network>
//! endpoints(&self, network: &str) -> Result<Vec<Endpoint>>
//! container_endpoints(&self, container_id: &str) -> Vec<Endpoint>
//! attach(&self, network: &str, container_id: &str, netns: &Path, spec: EndpointSpec) -> Result<Endpoint>
//! detach(&self, network: &str, container_id: &str) -> Result<()>      // disconnect, running container
//! release(&self, container_id: &str) -> Result<()>                    // stop path, then remove_netns
//! publish(&self, container_id: &str, container_ip: Ipv4Addr, ports: &[PortBinding]) -> Result<Vec<PortBinding>>
//! unpublish(&self, container_id: &str) -> Result<()>
//! published(&self, container_id: &str) -> Vec<PortBinding>
//! nft_table(&self) -> &str;  shutdown(&self);  purge(&self) -> Result<()>
//!
//! create_netns(path: &Path) -> Result<()>;  remove_netns(path: &Path) -> Result<()>
//! adopt_netns(spare: &Path, path: &Path) -> Result<()>              // a spare made ahead, moved
//! share_netns(pinned: &Path, path: &Path) -> Result<()>             // pinned at a second path too
//! in_netns(path: &Path, f: FnOnce() -> io::Result<T>) -> Result<T>    // and in_netns_async
//! hosts_file(hostname: &str, domainname: Option<&str>, addresses: &[Ipv4Addr], extra_hosts: &[(String, IpAddr)]) -> String
//! resolv_conf(host: &str, embedded_dns: bool, dns: &[IpAddr], search: &[String], options: &[String]) -> String
//! hostname_file(hostname: &str) -> String
//! parse_port_spec(s: &str) -> Result<Vec<PortBinding>>
//! parse_subnet(value: &str) -> Result<ipnet::Ipv4Net>
//! ```
//!
//! `--network host`, `none` and `container:ID` need no call here: use the host's namespace, a
//! bare [`create_netns`], or the other container's namespace path.

mod conntrack;
mod dns;
mod endpoint;
mod error;
mod etc_files;
mod firewall;
mod ipam;
mod link;
mod manager;
mod netns;
mod nft_netlink;
mod nl_sync;
mod ports;
mod publish;
mod reaper;
mod reconcile;
mod state;
mod types;

pub use error::{Error, Result};
pub use etc_files::{hostname_file, hosts_file, resolv_conf};
pub use ipam::parse_subnet;
pub use manager::NetworkManager;
pub use netns::{
    adopt_netns, create_netns, create_netns_with_veth, in_netns, in_netns_async, remove_netns,
    share_netns,
};
pub use ports::parse_port_spec;
pub use types::*;

/// Compile-time check that the manager can be shared between tasks and that its futures can
/// be spawned (the engine and API server run them on a multi-threaded runtime).
#[allow(dead_code)]
fn _futures_are_send(m: &'static NetworkManager, p: &'static std::path::Path) {
    fn is_send<T: Send>(_: T) {}
    fn is_sync<T: Send + Sync>(_: &T) {}
    is_sync(m);
    is_send(NetworkManager::open(p, ManagerOptions::default()));
    is_send(m.create_network(NetworkSpec::default()));
    is_send(m.remove_network(""));
    is_send(m.prune());
    is_send(m.attach("", "", p, EndpointSpec::default()));
    is_send(m.detach("", ""));
    is_send(m.release(""));
    is_send(m.publish("", std::net::Ipv4Addr::LOCALHOST, &[]));
    is_send(m.unpublish(""));
    is_send(m.purge());
}
