//! Host-side links over rtnetlink (async, on the caller's tokio runtime): bridges with their
//! gateway address, veth pairs whose peer is created directly inside a container's namespace,
//! deletion, and the dumps reconciliation needs.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

use crate::error::{Error, Result};

const ENODEV: i32 = libc::ENODEV;
const EEXIST: i32 = libc::EEXIST;

/// One link of a dump.
#[derive(Debug, Clone)]
pub(crate) struct LinkSummary {
    pub index: u32,
    pub name: String,
    pub controller: Option<u32>,
    pub alias: Option<String>,
    pub kind: Option<String>,
}

#[derive(Clone)]
pub(crate) struct Links {
    handle: Handle,
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

impl Links {
    /// Opens a netlink connection driven by a task on the current tokio runtime.
    pub fn new() -> Result<Self> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| Error::io("open netlink socket", e))?;
        tokio::spawn(conn);
        Ok(Links { handle })
    }

    pub async fn index_of(&self, name: &str) -> Result<Option<u32>> {
        let mut s = self.handle.link().get().match_name(name).execute();
        match s.try_next().await {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(Error::netlink(format!("look up link {name}"), e)),
        }
    }

    /// Creates (or adopts) bridge `name`, up, with `gateway/prefix` and `alias`.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        gateway: Ipv4Addr,
        prefix: u8,
        mtu: u32,
        alias: &str,
    ) -> Result<u32> {
        let ctx = |what: &str| format!("{what} bridge {name}");
        let index = match self.index_of(name).await? {
            Some(i) => i,
            None => {
                let msg = LinkBridge::new(name).mtu(mtu).build();
                self.handle
                    .link()
                    .add(msg)
                    .execute()
                    .await
                    .map_err(|e| Error::netlink(ctx("create"), e))?;
                self.index_of(name)
                    .await?
                    .ok_or_else(|| Error::netlink(ctx("find"), "vanished after creation"))?
            }
        };
        let set = LinkUnspec::new_with_index(index).alias(alias).up().build();
        self.handle
            .link()
            .set(set)
            .execute()
            .await
            .map_err(|e| Error::netlink(ctx("set alias on"), e))?;
        match self
            .handle
            .address()
            .add(index, IpAddr::V4(gateway), prefix)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EEXIST) => {}
            Err(e) => {
                return Err(Error::netlink(
                    format!("add {gateway}/{prefix} to bridge {name}"),
                    e,
                ));
            }
        }
        Ok(index)
    }

    /// Deletes a link by name; a missing link is not an error.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let Some(index) = self.index_of(name).await? else {
            return Ok(());
        };
        self.delete_index(index, name).await
    }

    pub async fn delete_index(&self, index: u32, name: &str) -> Result<()> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(()),
            Err(e) => Err(Error::netlink(format!("delete link {name}"), e)),
        }
    }

    /// Creates veth `host` (on bridge `bridge_index`, up) whose peer `peer` is created straight
    /// inside the namespace `netns_fd` with `mac`. One netlink request.
    pub async fn create_veth(
        &self,
        host: &str,
        bridge_index: u32,
        mtu: u32,
        peer: &str,
        netns_fd: RawFd,
        mac: [u8; 6],
    ) -> Result<()> {
        let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer)
            .mtu(mtu)
            .address(mac.to_vec())
            .setns_by_fd(netns_fd)
            .build();
        let msg = LinkVeth::new(host, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
            .mtu(mtu)
            .controller(bridge_index)
            .up()
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("create veth {host} with peer {peer}"), e))
    }

    /// Puts the host end `host` of a prepared veth pair on bridge `bridge_index` with `mtu`,
    /// up. One netlink request.
    pub async fn adopt_veth(&self, host: &str, bridge_index: u32, mtu: u32) -> Result<()> {
        let msg = LinkUnspec::new_with_name(host)
            .controller(bridge_index)
            .mtu(mtu)
            .up()
            .build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("put veth {host} on its bridge"), e))
    }

    /// Hairpin mode on a bridge port: a container can reach its own published ports through
    /// the host's address (the DNAT sends the packet back out the port it came in).
    pub async fn set_hairpin(&self, port: &str) -> Result<()> {
        let msg = LinkMessageBuilder::<LinkBridgePort>::default()
            .name(port)
            .set_port_kind(rtnetlink::packet_route::link::InfoPortKind::Bridge)
            .hairpin(true)
            .build();
        self.handle
            .link()
            .set_port(msg)
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("set hairpin mode on {port}"), e))
    }

    pub async fn dump(&self) -> Result<Vec<LinkSummary>> {
        let mut out = Vec::new();
        let mut s = self.handle.link().get().execute();
        while let Some(m) = s
            .try_next()
            .await
            .map_err(|e| Error::netlink("dump links", e))?
        {
            let mut l = LinkSummary {
                index: m.header.index,
                name: String::new(),
                controller: None,
                alias: None,
                kind: None,
            };
            for a in m.attributes {
                match a {
                    LinkAttribute::IfName(n) => l.name = n,
                    LinkAttribute::Controller(c) => l.controller = Some(c),
                    LinkAttribute::IfAlias(a) => l.alias = Some(a),
                    LinkAttribute::LinkInfo(infos) => {
                        for i in infos {
                            if let LinkInfo::Kind(k) = i {
                                l.kind = Some(match k {
                                    InfoKind::Bridge => "bridge".to_string(),
                                    InfoKind::Veth => "veth".to_string(),
                                    other => format!("{other:?}").to_lowercase(),
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            out.push(l);
        }
        Ok(out)
    }

    /// Every IPv4 destination prefix in the host's routing tables and every host address:
    /// subnets picked for new networks must avoid them.
    pub async fn used_prefixes(&self) -> Result<Vec<Ipv4Net>> {
        let mut out = Vec::new();
        let mut s = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute();
        while let Some(r) = s
            .try_next()
            .await
            .map_err(|e| Error::netlink("dump routes", e))?
        {
            let len = r.header.destination_prefix_length;
            if len == 0 {
                continue;
            }
            for a in &r.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(d)) = a
                    && let Ok(n) = Ipv4Net::new(*d, len)
                {
                    out.push(n.trunc());
                }
            }
        }
        let mut s = self.handle.address().get().execute();
        while let Some(m) = s
            .try_next()
            .await
            .map_err(|e| Error::netlink("dump addresses", e))?
        {
            for a in &m.attributes {
                if let AddressAttribute::Address(IpAddr::V4(ip)) = a
                    && let Ok(n) = Ipv4Net::new(*ip, m.header.prefix_len)
                {
                    out.push(n.trunc());
                }
            }
        }
        Ok(out)
    }
}
