//! Publishing container ports on the host: hold the host ports, then DNAT to the container
//! (rules in `firewall.rs`).

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::manager::NetworkManager;
use crate::ports::reserve;
use crate::state::Published;
use crate::types::{PortBinding, Protocol};

impl NetworkManager {
    /// Publishes `ports` of the container at `container_ip` (reachable from the host's
    /// addresses and from 127.0.0.1). Returns the bindings with their actual host ports
    /// (ephemeral ones chosen). A port already taken fails the whole call, holding nothing.
    pub async fn publish(
        &self,
        container_id: &str,
        container_ip: Ipv4Addr,
        ports: &[PortBinding],
    ) -> Result<Vec<PortBinding>> {
        let _g = self.op.lock().await;
        // The network's default host address (`com.docker.network.bridge.host_binding_ipv4`).
        let default_ip: Option<Ipv4Addr> = {
            let s = self.st();
            let ep = s
                .endpoints
                .iter()
                .find(|e| e.ipv4 == container_ip && e.container_id == container_id)
                .ok_or_else(|| Error::InvalidAddress {
                    value: container_ip.to_string(),
                    reason: format!("container {container_id} has no endpoint with this address"),
                })?;
            s.networks
                .iter()
                .find(|n| n.id == ep.network_id)
                .and_then(|n| n.options.get("com.docker.network.bridge.host_binding_ipv4"))
                .and_then(|v| v.parse::<Ipv4Addr>().ok())
                .filter(|ip| !ip.is_unspecified())
        };
        let ports: Vec<PortBinding> = ports
            .iter()
            .map(|b| PortBinding {
                host_ip: b.host_ip.or(default_ip),
                ..*b
            })
            .collect();
        let mut sockets = Vec::new();
        let mut actual = Vec::new();
        for b in &ports {
            if b.container_port == 0 {
                return Err(Error::InvalidPortSpec {
                    value: format!("{b:?}"),
                    reason: "container port 0 is not a port".into(),
                });
            }
            let (sock, bound) = reserve(b)?;
            sockets.push(sock);
            actual.push(bound);
        }
        {
            let mut s = self.st();
            match s
                .published
                .iter_mut()
                .find(|p| p.container_id == container_id && p.container_ip == container_ip)
            {
                Some(p) => p.bindings.extend(actual.iter().copied()),
                None => s.published.push(Published {
                    container_id: container_id.to_string(),
                    container_ip,
                    bindings: actual.clone(),
                }),
            }
        }
        let done = async {
            self.save()?;
            self.apply_firewall().await
        }
        .await;
        if let Err(e) = done {
            {
                let mut s = self.st();
                for p in s
                    .published
                    .iter_mut()
                    .filter(|p| p.container_id == container_id)
                {
                    p.bindings.retain(|b| !actual.contains(b));
                }
                s.published.retain(|p| !p.bindings.is_empty());
            }
            let _ = self.save();
            let _ = self.apply_firewall().await;
            return Err(e);
        }
        if let Ok(mut h) = self.held_ports.lock() {
            h.entry(container_id.to_string())
                .or_default()
                .extend(sockets);
        }
        // Flows that reached the host port before the rule existed would bypass it.
        let udp: Vec<u16> = actual
            .iter()
            .filter(|b| b.protocol == Protocol::Udp)
            .map(|b| b.host_port)
            .collect();
        forget_udp_flows(None, &udp);
        Ok(actual)
    }

    /// Removes every published port of the container and releases the host ports.
    pub async fn unpublish(&self, container_id: &str) -> Result<()> {
        let _g = self.op.lock().await;
        let removed: Vec<Published> = {
            let mut s = self.st();
            let (gone, kept) = s
                .published
                .drain(..)
                .partition(|p| p.container_id == container_id);
            s.published = kept;
            gone
        };
        if !removed.is_empty() {
            self.save()?;
            self.apply_firewall().await?;
            forget_published_udp(&removed);
        }
        if let Ok(mut h) = self.held_ports.lock() {
            h.remove(container_id);
        }
        Ok(())
    }

    /// The container's published ports.
    pub fn published(&self, container_id: &str) -> Vec<PortBinding> {
        self.st()
            .published
            .iter()
            .filter(|p| p.container_id == container_id)
            .flat_map(|p| p.bindings.iter().copied())
            .collect()
    }
}

/// Drops the conntrack state of unpublished UDP ports (after their rules are gone).
pub(crate) fn forget_published_udp(removed: &[Published]) {
    for p in removed {
        let udp: Vec<u16> = p
            .bindings
            .iter()
            .filter(|b| b.protocol == Protocol::Udp)
            .map(|b| b.host_port)
            .collect();
        forget_udp_flows(Some(p.container_ip), &udp);
    }
}

fn forget_udp_flows(reply_src: Option<Ipv4Addr>, ports: &[u16]) {
    if ports.is_empty() {
        return;
    }
    if let Err(e) = crate::conntrack::forget_udp(reply_src, ports) {
        tracing::warn!("cannot drop conntrack entries of udp ports {ports:?}: {e}");
    }
}
