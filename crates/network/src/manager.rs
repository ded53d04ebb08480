//! The network manager: networks (bridges), opening with reconciliation, and the shared
//! plumbing of its other parts (`endpoint.rs`, `publish.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::dns::{DnsServers, nameservers};
use crate::error::{Error, Result};
use crate::firewall::{Firewall, enable_forwarding, enable_route_localnet};
use crate::ipam;
use crate::link::Links;
use crate::ports::HostSocket;
use crate::state::{State, StateFile};
use crate::types::{DEFAULT_NETWORK, Endpoint, ManagerOptions, Network, NetworkSpec};

const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const OPT_MTU: &str = "com.docker.network.driver.mtu";

/// Owns Berth's networks. Methods that change something are serialised; `list`/`get` are
/// cheap reads. Cloning is not offered: share it in an `Arc`.
pub struct NetworkManager {
    pub(crate) opts: ManagerOptions,
    pub(crate) file: StateFile,
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) op: tokio::sync::Mutex<()>,
    pub(crate) links: Links,
    /// deletes links (released veths, a disconnect's veth, a removed bridge) off the shared
    /// connection (`reaper.rs`)
    pub(crate) reaper: crate::reaper::LinkReaper,
    pub(crate) firewall: Firewall,
    pub(crate) dns: DnsServers,
    pub(crate) held_ports: Mutex<HashMap<String, Vec<HostSocket>>>,
}

pub(crate) fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

pub(crate) fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':' && b != b'"');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            value: name.to_string(),
            reason: "not a valid interface name (1-15 printable characters)".into(),
        })
    }
}

fn check_network_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            value: name.to_string(),
            reason: "network names start with a letter or digit and contain only [a-zA-Z0-9_.-]"
                .into(),
        })
    }
}

fn check_table_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::InvalidName {
            value: name.to_string(),
            reason: "nftables table names use [a-zA-Z0-9_-]".into(),
        })
    }
}

fn alias_for(instance: &str, network_id: &str) -> String {
    format!("berth:{instance}:{network_id}")
}

impl NetworkManager {
    /// Opens (or creates) the state in `state_dir`, removes leftovers of a crash (links of
    /// dead endpoints and deleted networks, stale rules), re-creates missing bridges and rules,
    /// and makes sure the default network exists. Must run inside a tokio runtime.
    pub async fn open(state_dir: &Path, opts: ManagerOptions) -> Result<Self> {
        check_table_name(&opts.nft_table)?;
        if let Some(br) = &opts.default_bridge {
            check_ifname(br)?;
        }
        let file = StateFile::new(state_dir)?;
        let mut state = file.load()?.unwrap_or_default();
        if state.instance.is_empty() {
            state.instance = random_hex(8);
        }
        let upstreams: Vec<SocketAddr> = match &opts.dns_upstreams {
            Some(u) => u.clone(),
            None => nameservers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()),
        };
        let links = Links::new()?;
        enable_forwarding()?;
        let state = Arc::new(Mutex::new(state));
        let mgr = NetworkManager {
            firewall: Firewall::new(&opts.nft_table, opts.iptables_compat),
            dns: DnsServers::new(state.clone(), upstreams),
            opts,
            file,
            state,
            op: tokio::sync::Mutex::new(()),
            links,
            reaper: crate::reaper::LinkReaper::start()
                .map_err(|e| Error::io("open netlink socket", e))?,
            held_ports: Mutex::new(HashMap::new()),
        };
        // The table the rules were in until now: it follows the default bridge, so a daemon
        // started with another `--bridge` on this data root must take over from it.
        let former_table = std::mem::replace(&mut mgr.st().table, mgr.opts.nft_table.clone());
        {
            let _g = mgr.op.lock().await;
            mgr.reconcile().await?;
        }
        let moved = !former_table.is_empty() && former_table != mgr.opts.nft_table;
        if let Err(e) = mgr.ensure_default_network().await {
            // Refused: the former table still holds the rules; drop the one just made.
            if moved {
                let _ = mgr.firewall.remove_all().await;
                mgr.st().table = former_table;
                let _ = mgr.save_all();
            }
            mgr.shutdown();
            return Err(e);
        }
        if moved {
            tracing::info!(
                "the rules move from nftables table {former_table} to {}",
                mgr.opts.nft_table
            );
            Firewall::new(&former_table, mgr.opts.iptables_compat)
                .remove_all()
                .await?;
        }
        mgr.save_all()?;
        Ok(mgr)
    }

    pub(crate) fn st(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the data consistent (updates are whole-value
        // pushes/removals), so recover the guard.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the endpoints file (allocations, published ports): after every endpoint change.
    pub(crate) fn save(&self) -> Result<()> {
        let snapshot = self.st().clone();
        self.file.save_endpoints(&snapshot)
    }

    /// Saves both files, the networks durably: after network changes.
    pub(crate) fn save_all(&self) -> Result<()> {
        let snapshot = self.st().clone();
        self.file.save_all(&snapshot)
    }

    pub(crate) async fn apply_firewall(&self) -> Result<()> {
        let (nets, published) = {
            let s = self.st();
            (s.networks.clone(), s.published.clone())
        };
        self.firewall.apply(&nets, &published).await
    }

    /// All networks, the default one first.
    pub fn list(&self) -> Vec<Network> {
        let mut v = self.st().networks.clone();
        v.sort_by_key(|n| !n.default);
        v
    }

    /// A network by full id, name, or unique id prefix.
    pub fn get(&self, id_or_name: &str) -> Result<Network> {
        find_network(&self.st(), id_or_name).cloned()
    }

    /// The endpoints of a network (Docker's `Containers` of `network inspect`).
    pub fn endpoints(&self, network: &str) -> Result<Vec<Endpoint>> {
        let s = self.st();
        let net = find_network(&s, network)?;
        Ok(s.endpoints
            .iter()
            .filter(|e| e.network_id == net.id)
            .cloned()
            .collect())
    }

    /// The endpoints of a container, in the order they were attached.
    pub fn container_endpoints(&self, container_id: &str) -> Vec<Endpoint> {
        self.st()
            .endpoints
            .iter()
            .filter(|e| e.container_id == container_id)
            .cloned()
            .collect()
    }

    /// Name of Berth's nftables table.
    pub fn nft_table(&self) -> &str {
        self.firewall.table()
    }

    /// Creates a bridge network (`docker network create`).
    pub async fn create_network(&self, spec: NetworkSpec) -> Result<Network> {
        let _g = self.op.lock().await;
        self.create_locked(spec, false).await
    }

    async fn create_locked(&self, spec: NetworkSpec, default: bool) -> Result<Network> {
        check_network_name(&spec.name)?;
        if !default && ["bridge", "host", "none"].contains(&spec.name.as_str()) {
            return Err(Error::NetworkExists(spec.name));
        }
        if !(spec.driver.is_empty() || spec.driver == "bridge") {
            return Err(Error::InvalidOption {
                key: "driver".into(),
                reason: format!("driver {:?} is not supported (only bridge)", spec.driver),
            });
        }
        if self.st().networks.iter().any(|n| n.name == spec.name) {
            return Err(Error::NetworkExists(spec.name));
        }
        let id = random_hex(32);
        let bridge = match spec.options.get(OPT_BRIDGE_NAME) {
            Some(b) => b.clone(),
            None if default => self
                .opts
                .default_bridge
                .clone()
                .unwrap_or_else(|| "berth0".into()),
            None => format!("br-{}", &id[..12]),
        };
        check_ifname(&bridge)?;
        if self.st().networks.iter().any(|n| n.bridge == bridge)
            || self.links.index_of(&bridge).await?.is_some()
        {
            return Err(Error::InvalidOption {
                key: OPT_BRIDGE_NAME.into(),
                reason: format!("bridge name {bridge} is already in use"),
            });
        }
        let mtu = match spec.options.get(OPT_MTU) {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| Error::InvalidOption {
                    key: OPT_MTU.into(),
                    reason: format!("{v:?} is not an MTU between 68 and 65535"),
                })?,
            None => self.opts.mtu,
        };
        let existing = self.st().networks.clone();
        let subnet = match &spec.subnet {
            Some(s) => {
                let subnet = ipam::parse_subnet(s)?;
                ipam::check_overlap(subnet, &existing)?;
                subnet
            }
            None => {
                let mut taken: Vec<ipnet::Ipv4Net> = existing.iter().map(|n| n.subnet).collect();
                taken.extend(self.links.used_prefixes().await?);
                ipam::pick_subnet(&self.opts.address_pools, &taken)?
            }
        };
        let gateway = match &spec.gateway {
            Some(g) => ipam::parse_host_address(g, subnet, "gateway")?,
            None => ipam::first_host(subnet),
        };
        let ip_range = spec
            .ip_range
            .as_deref()
            .map(|r| ipam::parse_ip_range(r, subnet))
            .transpose()?;
        let net = Network {
            id,
            name: spec.name,
            driver: "bridge".into(),
            bridge,
            subnet,
            gateway,
            ip_range,
            internal: spec.internal,
            default,
            mtu,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            labels: spec.labels,
            options: spec.options,
        };
        self.st().networks.push(net.clone());
        let made = async {
            self.save_all()?;
            self.bring_up_bridge(&net).await?;
            self.apply_firewall().await
        }
        .await;
        if let Err(e) = made {
            self.st().networks.retain(|n| n.id != net.id);
            let _ = self.links.delete(&net.bridge).await;
            let _ = self.save_all();
            let _ = self.apply_firewall().await;
            return Err(e);
        }
        Ok(net)
    }

    pub(crate) async fn bring_up_bridge(&self, net: &Network) -> Result<u32> {
        let instance = self.st().instance.clone();
        let index = self
            .links
            .ensure_bridge(
                &net.bridge,
                net.gateway,
                net.subnet.prefix_len(),
                net.mtu,
                &alias_for(&instance, &net.id),
            )
            .await?;
        enable_route_localnet(&net.bridge)?;
        Ok(index)
    }

    /// Removes a network with no endpoints (`docker network rm`).
    pub async fn remove_network(&self, id_or_name: &str) -> Result<()> {
        let _g = self.op.lock().await;
        let net = self.get(id_or_name)?;
        if net.default {
            return Err(Error::Predefined(net.name));
        }
        self.remove_locked(&net).await
    }

    /// Removes every user-defined network without endpoints (`docker network prune`); returns
    /// their names.
    pub async fn prune(&self) -> Result<Vec<String>> {
        let _g = self.op.lock().await;
        let unused: Vec<Network> = {
            let s = self.st();
            s.networks
                .iter()
                .filter(|n| !n.default && !s.endpoints.iter().any(|e| e.network_id == n.id))
                .cloned()
                .collect()
        };
        let mut removed = Vec::new();
        for n in unused {
            self.remove_locked(&n).await?;
            removed.push(n.name);
        }
        Ok(removed)
    }

    async fn remove_locked(&self, net: &Network) -> Result<()> {
        let in_use: Vec<String> = self
            .st()
            .endpoints
            .iter()
            .filter(|e| e.network_id == net.id)
            .map(|e| e.name.clone())
            .collect();
        if !in_use.is_empty() {
            return Err(Error::NetworkInUse {
                name: net.name.clone(),
                endpoints: in_use.join(", "),
            });
        }
        self.reaper
            .delete(&net.bridge)
            .await
            .map_err(|e| Error::netlink(format!("delete bridge {}", net.bridge), e))?;
        self.st().networks.retain(|n| n.id != net.id);
        self.save_all()?;
        self.apply_firewall().await
    }

    async fn ensure_default_network(&self) -> Result<()> {
        let _g = self.op.lock().await;
        let current = self.st().networks.iter().find(|n| n.default).cloned();
        let Some(bridge) = self.opts.default_bridge.clone() else {
            return Ok(());
        };
        let wanted_bip = self.opts.bip.as_deref().map(parse_bip).transpose()?;
        if let Some(cur) = current {
            let same_bip =
                wanted_bip.is_none_or(|(gw, net)| cur.gateway == gw && cur.subnet == net);
            if cur.bridge == bridge && same_bip {
                return Ok(());
            }
            let mut attached: Vec<String> = self
                .st()
                .endpoints
                .iter()
                .filter(|e| e.network_id == cur.id)
                .map(|e| e.name.clone())
                .collect();
            if !attached.is_empty() {
                attached.sort();
                let wanted = match &self.opts.bip {
                    Some(bip) => format!("bridge {bridge} with bip {bip}"),
                    None => format!("bridge {bridge}"),
                };
                return Err(Error::DefaultNetworkInUse {
                    wanted,
                    current: format!(
                        "bridge {}, bip {}/{}",
                        cur.bridge,
                        cur.gateway,
                        cur.subnet.prefix_len()
                    ),
                    containers: attached.join(", "),
                });
            }
            tracing::info!(
                "the default network moves from bridge {} ({}) to the daemon's settings",
                cur.bridge,
                cur.subnet
            );
            self.remove_locked(&cur).await?;
        }
        let mut spec = NetworkSpec {
            name: DEFAULT_NETWORK.into(),
            driver: "bridge".into(),
            ..Default::default()
        };
        // The options Docker shows on its default network.
        for (k, v) in [
            ("com.docker.network.bridge.default_bridge", "true"),
            ("com.docker.network.bridge.enable_icc", "true"),
            ("com.docker.network.bridge.enable_ip_masquerade", "true"),
            ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ] {
            spec.options.insert(k.into(), v.into());
        }
        spec.options
            .insert(OPT_MTU.into(), self.opts.mtu.to_string());
        spec.options.insert(OPT_BRIDGE_NAME.into(), bridge);
        if let Some((gw, net)) = wanted_bip {
            spec.subnet = Some(net.to_string());
            spec.gateway = Some(gw.to_string());
        }
        self.create_locked(spec, true).await.map(|_| ())
    }

    /// Stops the embedded DNS servers and releases held host ports; leaves links, rules and
    /// state in place for the next `open` (a daemon stopping while containers keep running).
    pub fn shutdown(&self) {
        self.dns.stop_all();
        if let Ok(mut h) = self.held_ports.lock() {
            h.clear();
        }
    }

    /// Removes everything this manager made: endpoints, networks (the default one too), its
    /// nftables table and iptables rules, and its state file.
    pub async fn purge(&self) -> Result<()> {
        let containers: Vec<(String, String)> = self
            .st()
            .endpoints
            .iter()
            .map(|e| (e.network_id.clone(), e.container_id.clone()))
            .collect();
        for (net, c) in containers {
            self.detach(&net, &c).await?;
        }
        let published: Vec<String> = self
            .st()
            .published
            .iter()
            .map(|p| p.container_id.clone())
            .collect();
        for c in published {
            self.unpublish(&c).await?;
        }
        let _g = self.op.lock().await;
        let nets = self.st().networks.clone();
        for n in nets {
            self.remove_locked(&n).await?;
        }
        self.firewall.remove_all().await?;
        self.shutdown();
        self.file.remove()
    }
}

fn parse_bip(bip: &str) -> Result<(std::net::Ipv4Addr, ipnet::Ipv4Net)> {
    let n: ipnet::Ipv4Net = bip.parse().map_err(|_| Error::InvalidSubnet {
        value: bip.into(),
        reason: "bip is not an address with a prefix such as 172.18.0.1/16".into(),
    })?;
    let subnet = ipam::parse_subnet(&n.trunc().to_string())?;
    ipam::check_host_address(n.addr(), subnet, "bip")?;
    Ok((n.addr(), subnet))
}

pub(crate) fn find_network<'a>(s: &'a State, id_or_name: &str) -> Result<&'a Network> {
    if let Some(n) = s
        .networks
        .iter()
        .find(|n| n.id == id_or_name || n.name == id_or_name)
    {
        return Ok(n);
    }
    let mut matches = s
        .networks
        .iter()
        .filter(|n| !id_or_name.is_empty() && n.id.starts_with(id_or_name));
    match (matches.next(), matches.next()) {
        (Some(n), None) => Ok(n),
        _ => Err(Error::NetworkNotFound(id_or_name.to_string())),
    }
}
