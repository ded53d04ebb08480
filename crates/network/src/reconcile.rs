//! Reconciliation on open: the state file is the truth for networks; the kernel is the truth
//! for whether a container still lives. Endpoints whose namespace is gone are released, links
//! this manager made for deleted networks or dead endpoints are deleted, bridges and rules are
//! rebuilt, held ports re-bound and DNS servers restarted.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::endpoint::is_netns;
use crate::error::Result;
use crate::manager::NetworkManager;
use crate::netns::in_netns_async;
use crate::ports::reserve;

impl NetworkManager {
    pub(crate) async fn reconcile(&self) -> Result<()> {
        let links = self.links.dump().await?;
        let by_name: HashMap<&str, &crate::link::LinkSummary> =
            links.iter().map(|l| (l.name.as_str(), l)).collect();
        let (networks, instance) = {
            let s = self.st();
            (s.networks.clone(), s.instance.clone())
        };
        // Bridges first, so endpoints can be checked against them.
        let mut bridge_index = HashMap::new();
        for n in &networks {
            let idx = self.bring_up_bridge(n).await?;
            bridge_index.insert(n.id.clone(), idx);
        }
        // Endpoints: keep those whose namespace lives and whose veth is on the right bridge.
        let dead: Vec<String> = {
            let s = self.st();
            s.endpoints
                .iter()
                .filter(|e| {
                    let on_bridge = by_name.get(e.host_veth.as_str()).is_some_and(|l| {
                        l.controller.is_some()
                            && l.controller == bridge_index.get(&e.network_id).copied()
                    });
                    !(is_netns(&e.netns) && on_bridge)
                })
                .map(|e| e.id.clone())
                .collect()
        };
        for id in &dead {
            let veth = self
                .st()
                .endpoints
                .iter()
                .find(|e| &e.id == id)
                .map(|e| e.host_veth.clone());
            if let Some(v) = veth {
                self.links.delete(&v).await?;
            }
        }
        {
            let mut s = self.st();
            s.endpoints.retain(|e| !dead.contains(&e.id));
            let live: HashSet<(String, std::net::Ipv4Addr)> = s
                .endpoints
                .iter()
                .map(|e| (e.container_id.clone(), e.ipv4))
                .collect();
            s.published
                .retain(|p| live.contains(&(p.container_id.clone(), p.container_ip)));
        }
        // Orphans: our bridges of deleted networks, and veths on our bridges no endpoint owns.
        let prefix = format!("berth:{instance}:");
        let ids: HashSet<&str> = networks.iter().map(|n| n.id.as_str()).collect();
        let our_bridges: HashSet<u32> = bridge_index.values().copied().collect();
        let veths: HashSet<String> = self
            .st()
            .endpoints
            .iter()
            .map(|e| e.host_veth.clone())
            .collect();
        for l in self.links.dump().await? {
            let stale_bridge = l
                .alias
                .as_deref()
                .and_then(|a| a.strip_prefix(&prefix))
                .is_some_and(|id| !ids.contains(id));
            let stale_veth =
                l.controller.is_some_and(|c| our_bridges.contains(&c)) && !veths.contains(&l.name);
            if stale_bridge || stale_veth {
                tracing::info!("removing leftover link {}", l.name);
                self.links.delete_index(l.index, &l.name).await?;
            }
        }
        self.save_all()?;
        self.apply_firewall().await?;
        self.rebind_ports();
        self.restart_dns().await;
        Ok(())
    }

    fn rebind_ports(&self) {
        let published = self.st().published.clone();
        let mut held = self.held_ports.lock().unwrap_or_else(|p| p.into_inner());
        for p in published {
            for b in &p.bindings {
                match reserve(b) {
                    Ok((sock, _)) => held.entry(p.container_id.clone()).or_default().push(sock),
                    Err(e) => {
                        tracing::warn!("cannot hold published port of {}: {e}", p.container_id)
                    }
                }
            }
        }
    }

    async fn restart_dns(&self) {
        let wanted: Vec<(String, std::path::PathBuf, Vec<SocketAddr>)> = {
            let s = self.st();
            let user: HashSet<&str> = s
                .networks
                .iter()
                .filter(|n| !n.default)
                .map(|n| n.id.as_str())
                .collect();
            let mut seen = HashSet::new();
            s.endpoints
                .iter()
                .filter(|e| {
                    user.contains(e.network_id.as_str()) && seen.insert(e.container_id.clone())
                })
                .map(|e| {
                    (
                        e.container_id.clone(),
                        e.netns.clone(),
                        e.dns_servers
                            .iter()
                            .map(|ip| SocketAddr::new(*ip, 53))
                            .collect(),
                    )
                })
                .collect()
        };
        for (cid, netns, own) in wanted {
            match in_netns_async(&netns, crate::dns::bind_dns_sockets).await {
                Ok(sock) => {
                    if let Err(e) = self.dns.start(&cid, sock, own) {
                        tracing::warn!("embedded dns for {cid}: {e}");
                    }
                }
                Err(e) => tracing::warn!("embedded dns for {cid}: {e}"),
            }
        }
    }
}
