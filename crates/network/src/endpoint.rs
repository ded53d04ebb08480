//! Endpoints: a container joining and leaving a network. The host end of a veth pair goes on
//! the network's bridge; the peer is created directly in the container's namespace and given
//! its address, default route and MTU from a thread inside that namespace.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::Path;

use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::{AddressMessageBuilder, LinkUnspec, RouteMessageBuilder};

use crate::dns::{DnsSockets, bind_dns_sockets};
use crate::error::{Error, Result};
use crate::ipam;
use crate::manager::{NetworkManager, find_network, random_hex};
use crate::netns::in_netns_async;
use crate::nl_sync::SyncNetlink;
use crate::types::{Endpoint, EndpointSpec};

/// Filesystem magic of nsfs: a bind-mounted namespace file or /proc/<pid>/ns/net.
const NSFS_MAGIC: u64 = 0x6e73_6673;

pub(crate) fn is_netns(path: &Path) -> bool {
    rustix::fs::statfs(path)
        .map(|s| s.f_type as u64 == NSFS_MAGIC)
        .unwrap_or(false)
}

fn check_dns_name(value: &str, what: &str) -> Result<()> {
    let ok = value.len() <= 253
        && !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            value: value.to_string(),
            reason: format!("{what} must be a DNS name ([a-zA-Z0-9_.-])"),
        })
    }
}

struct NsSetup {
    ifname: String,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Option<Ipv4Addr>,
    bind_dns: bool,
    /// A prepared veth's inner end gets the endpoint's MAC and MTU (a new pair is made with
    /// them).
    link: Option<([u8; 6], u32)>,
}

/// Runs on a thread inside the container's namespace.
fn configure_inside(s: NsSetup) -> io::Result<Option<DnsSockets>> {
    let mut nl = SyncNetlink::open()?;
    let cname = std::ffi::CString::new(s.ifname.clone()).map_err(io::Error::other)?;
    // SAFETY: if_nametoindex reads a NUL-terminated string we own for the call's duration.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::other(format!(
            "interface {} did not appear in the namespace",
            s.ifname
        )));
    }
    match s.link {
        Some((mac, mtu)) => nl.change(RouteNetlinkMessage::SetLink(
            LinkUnspec::new_with_index(index)
                .address(mac.to_vec())
                .mtu(mtu)
                .build(),
        ))?,
        // a prepared pair had its IPv6 turned off ahead
        None => crate::netns::ipv6_off(&s.ifname),
    }
    let addr = AddressMessageBuilder::<Ipv4Addr>::new()
        .index(index)
        .address(s.ip, s.prefix)
        .build();
    nl.create(RouteNetlinkMessage::NewAddress(addr))?;
    nl.change(RouteNetlinkMessage::SetLink(
        LinkUnspec::new_with_index(index).up().build(),
    ))?;
    if let Some(gw) = s.gateway {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .output_interface(index)
            .gateway(gw)
            .build();
        match nl.create(RouteNetlinkMessage::NewRoute(route)) {
            // A default route from an earlier network stays (Docker keeps the first gateway).
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            other => other?,
        }
    }
    if s.bind_dns {
        return Ok(Some(bind_dns_sockets()?));
    }
    Ok(None)
}

impl NetworkManager {
    /// Connects a container (its network namespace at `netns`) to a network: veth pair, the
    /// address (allocated, or `spec.ipv4`), MAC, MTU, default route, and its names in the
    /// embedded DNS server. On error nothing is left behind.
    pub async fn attach(
        &self,
        network: &str,
        container_id: &str,
        netns: &Path,
        mut spec: EndpointSpec,
    ) -> Result<Endpoint> {
        // Docker's API spells names with a leading slash.
        if let Some(n) = spec.name.strip_prefix('/') {
            spec.name = n.to_string();
        }
        let t0 = std::time::Instant::now();
        let _g = self.op.lock().await;
        let locked = t0.elapsed().as_micros();
        if container_id.is_empty()
            || !container_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(Error::InvalidName {
                value: container_id.to_string(),
                reason: "container ids use [a-zA-Z0-9_.-]".into(),
            });
        }
        if !spec.name.is_empty() {
            check_dns_name(&spec.name, "container name")?;
        }
        for a in &spec.aliases {
            check_dns_name(a, "network alias")?;
        }
        if let Some(v) = &spec.prepared_veth {
            crate::manager::check_ifname(v)?;
        }
        let mac = match &spec.mac {
            Some(m) => Some(ipam::parse_mac(m)?),
            None => None,
        };
        if !is_netns(netns) {
            return Err(Error::Netns {
                path: netns.to_path_buf(),
                source: io::Error::other("not a network namespace"),
            });
        }
        let ns_file = File::open(netns).map_err(|e| Error::Netns {
            path: netns.to_path_buf(),
            source: e,
        })?;

        let (net, endpoint, needs_dns, prepared) = {
            let mut s = self.st();
            let net = find_network(&s, network)?.clone();
            // Docker's rules for its default network.
            if net.default && spec.ipv4.is_some() {
                return Err(Error::InvalidOption {
                    key: "ipv4".into(),
                    reason: "user specified IP address is supported on user defined networks only"
                        .into(),
                });
            }
            if net.default && !spec.aliases.is_empty() {
                return Err(Error::InvalidOption {
                    key: "aliases".into(),
                    reason: "network-scoped alias is supported only for containers in user defined networks".into(),
                });
            }
            if s.endpoints
                .iter()
                .any(|e| e.network_id == net.id && e.container_id == container_id)
            {
                let name = if spec.name.is_empty() {
                    container_id.to_string()
                } else {
                    spec.name.clone()
                };
                return Err(Error::EndpointExists {
                    container: name,
                    network: net.name.clone(),
                });
            }
            let used: HashSet<Ipv4Addr> = s
                .endpoints
                .iter()
                .filter(|e| e.network_id == net.id)
                .map(|e| e.ipv4)
                .collect();
            let ip = ipam::allocate(&net, &used, spec.ipv4)?;
            let mac = mac.unwrap_or_else(|| ipam::mac_for(ip));
            let taken: HashSet<&str> = s
                .endpoints
                .iter()
                .filter(|e| e.container_id == container_id)
                .map(|e| e.ifname.as_str())
                .collect();
            let ifname = (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !taken.contains(n.as_str()))
                .unwrap_or_default();
            // a prepared pair serves the namespace's first interface only
            let prepared = spec
                .prepared_veth
                .clone()
                .filter(|_| ifname == crate::netns::PREPARED_IFNAME);
            let user_net = |id: &str| s.networks.iter().any(|n| n.id == id && !n.default);
            let had_dns = s
                .endpoints
                .iter()
                .any(|e| e.container_id == container_id && user_net(&e.network_id));
            let endpoint = Endpoint {
                id: random_hex(32),
                network_id: net.id.clone(),
                network_name: net.name.clone(),
                container_id: container_id.to_string(),
                name: spec.name.clone(),
                aliases: spec.aliases.clone(),
                ipv4: ip,
                prefix_len: net.subnet.prefix_len(),
                gateway: (!net.internal).then_some(net.gateway),
                mac: ipam::format_mac(&mac),
                host_veth: prepared
                    .clone()
                    .unwrap_or_else(|| format!("veth{}", &random_hex(4)[..7])),
                ifname,
                netns: netns.to_path_buf(),
                dns_servers: spec.dns_servers.clone(),
            };
            s.endpoints.push(endpoint.clone());
            let needs_dns = !net.default && !had_dns && !self.dns.is_serving(container_id);
            (net, endpoint, needs_dns, prepared.is_some())
        };
        let undo = |e: Error| {
            self.st().endpoints.retain(|x| x.id != endpoint.id);
            e
        };
        let networks = self.st().networks.clone();
        if let Err(e) = self.firewall.recheck_compat(&networks).await {
            tracing::warn!("iptables coexistence rules: {e}");
        }
        // Persist the allocation first: after a crash, reconciliation finds the veth by name.
        self.save().map_err(undo)?;
        let saved = t0.elapsed().as_micros();
        let made = self
            .plumb(
                &net.bridge,
                net.mtu,
                &endpoint,
                ns_file.as_raw_fd(),
                needs_dns,
                prepared,
            )
            .await;
        tracing::debug!(
            container_id,
            network = %net.name,
            locked,
            saved,
            us = t0.elapsed().as_micros(),
            "endpoint attached"
        );
        match made {
            Ok(sock) => {
                if let Some(sock) = sock {
                    let own: Vec<SocketAddr> = endpoint
                        .dns_servers
                        .iter()
                        .map(|ip| SocketAddr::new(*ip, 53))
                        .collect();
                    if let Err(e) = self.dns.start(container_id, sock, own) {
                        tracing::warn!("embedded dns for {container_id}: {e}");
                    }
                }
                Ok(endpoint)
            }
            Err(e) => {
                let _ = self.links.delete(&endpoint.host_veth).await;
                self.st().endpoints.retain(|x| x.id != endpoint.id);
                let _ = self.save();
                Err(e)
            }
        }
    }

    async fn plumb(
        &self,
        bridge: &str,
        mtu: u32,
        ep: &Endpoint,
        ns_fd: i32,
        bind_dns: bool,
        prepared: bool,
    ) -> Result<Option<DnsSockets>> {
        let bridge_index = self
            .links
            .index_of(bridge)
            .await?
            .ok_or_else(|| Error::netlink(format!("find bridge {bridge}"), "no such device"))?;
        let mac = ipam::parse_mac(&ep.mac)?;
        let t0 = std::time::Instant::now();
        if prepared {
            self.links
                .adopt_veth(&ep.host_veth, bridge_index, mtu)
                .await?;
        } else {
            self.links
                .create_veth(&ep.host_veth, bridge_index, mtu, &ep.ifname, ns_fd, mac)
                .await?;
        }
        let veth = t0.elapsed().as_micros();
        self.links.set_hairpin(&ep.host_veth).await?;
        tracing::debug!(veth, us = t0.elapsed().as_micros(), "endpoint veth made");
        let setup = NsSetup {
            ifname: ep.ifname.clone(),
            ip: ep.ipv4,
            prefix: ep.prefix_len,
            gateway: ep.gateway,
            bind_dns,
            link: prepared.then_some((mac, mtu)),
        };
        let netns = ep.netns.clone();
        in_netns_async(&netns, move || configure_inside(setup)).await
    }

    /// Disconnects a container from a network: deletes its veth pair (and so the address and
    /// routes in the container), its DNS names, and frees its address.
    pub async fn detach(&self, network: &str, container_id: &str) -> Result<()> {
        let _g = self.op.lock().await;
        let ep = {
            let s = self.st();
            let net = find_network(&s, network)?;
            s.endpoints
                .iter()
                .find(|e| e.network_id == net.id && e.container_id == container_id)
                .cloned()
                .ok_or_else(|| Error::EndpointNotFound {
                    container: container_id.to_string(),
                    network: net.name.clone(),
                })?
        };
        self.reaper
            .delete(&ep.host_veth)
            .await
            .map_err(|e| Error::netlink(format!("delete link {}", ep.host_veth), e))?;
        let still_dns = {
            let mut s = self.st();
            s.endpoints.retain(|e| e.id != ep.id);
            let user_nets: HashSet<String> = s
                .networks
                .iter()
                .filter(|n| !n.default)
                .map(|n| n.id.clone())
                .collect();
            s.endpoints
                .iter()
                .any(|e| e.container_id == container_id && user_nets.contains(&e.network_id))
        };
        if !still_dns {
            self.dns.stop(container_id);
        }
        self.save()
    }

    /// Releases every endpoint and published port of a container that is going away: frees
    /// its addresses, names and host ports at once and deletes its veths in the background
    /// (on the reaper's thread and socket, `reaper.rs`, so no other request waits behind them).
    /// The caller then removes the namespace (which destroys the veth pairs anyway); this
    /// keeps the kernel's slow synchronous link deletion (an RCU grace period, ~15 ms) off the
    /// container's stop path, as happens for Docker when a sandbox's namespace is destroyed.
    pub async fn release(&self, container_id: &str) -> Result<()> {
        let _g = self.op.lock().await;
        let (veths, removed): (Vec<String>, Vec<crate::state::Published>) = {
            let mut s = self.st();
            let veths = s
                .endpoints
                .iter()
                .filter(|e| e.container_id == container_id)
                .map(|e| e.host_veth.clone())
                .collect();
            s.endpoints.retain(|e| e.container_id != container_id);
            let (gone, kept) = s
                .published
                .drain(..)
                .partition(|p| p.container_id == container_id);
            s.published = kept;
            (veths, gone)
        };
        self.dns.stop(container_id);
        if let Ok(mut h) = self.held_ports.lock() {
            h.remove(container_id);
        }
        self.save()?;
        if !removed.is_empty() {
            self.apply_firewall().await?;
            crate::publish::forget_published_udp(&removed);
        }
        self.reaper.delete_later(veths);
        Ok(())
    }
}
