//! The engine's seam to berth-network: the per-container network namespace, endpoints on the
//! container's networks, published ports and the generated /etc files; and the `/networks`
//! operations. Modes: a network name (`bridge` by default), `host`, `none`, `container:<id>`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use berth_network::{EndpointSpec, Error as NetError, NetworkManager, NetworkSpec, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Engine;
use crate::container::record::ContainerRecord;
use crate::error::{Error, Result};

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        match e {
            NetError::NetworkNotFound(_) | NetError::EndpointNotFound { .. } => {
                Error::NotFound(e.to_string())
            }
            NetError::Predefined(_) => Error::Forbidden(e.to_string()),
            NetError::InvalidSubnet { .. }
            | NetError::InvalidAddress { .. }
            | NetError::InvalidOption { .. }
            | NetError::InvalidName { .. }
            | NetError::InvalidPortSpec { .. } => Error::InvalidParameter(e.to_string()),
            NetError::NetworkExists(_)
            | NetError::NetworkInUse { .. }
            | NetError::DefaultNetworkInUse { .. }
            | NetError::SubnetOverlap { .. }
            | NetError::AddressInUse { .. }
            | NetError::EndpointExists { .. } => Error::Conflict(e.to_string()),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// What a started container got from the network layer (kept in its record for inspect/ps).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkState {
    pub sandbox_key: String,
    pub endpoints: Vec<EndpointState>,
    /// (container port/proto, host ip, host port)
    pub ports: Vec<(String, String, u16)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointState {
    pub network: String,
    pub network_id: String,
    pub endpoint_id: String,
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub mac: String,
    pub aliases: Vec<String>,
}

/// The network namespace a container joins: None for the host's.
pub struct Sandbox {
    pub netns: Option<PathBuf>,
    pub state: NetworkState,
    /// Set when endpoints are still to be attached ([`Engine::attach_network`]): what the
    /// final /etc/hosts needs besides the addresses.
    pending: Option<HostsInput>,
    /// The host end of the veth pair the namespace came with (a spare's), for the first
    /// endpoint.
    prepared_veth: Option<String>,
}

struct HostsInput {
    hostname: String,
    extra_hosts: Vec<(String, IpAddr)>,
}

/// berth-network's options for an engine configuration (the nft table follows the bridge, so
/// daemons with their own bridges never share rules).
pub fn manager_options(config: &crate::EngineConfig) -> berth_network::ManagerOptions {
    berth_network::ManagerOptions {
        default_bridge: config.bridge.clone(),
        bip: config.bip.clone(),
        nft_table: match config.bridge.as_deref() {
            None | Some("berth0") => "berth".to_string(),
            Some(b) => format!("berth_{b}"),
        },
        ..Default::default()
    }
}

/// Removes every network, rule and bridge a daemon with `config` made (for tests and
/// uninstalls; the daemon must not be running).
pub async fn purge(config: &crate::EngineConfig) -> Result<()> {
    let m =
        NetworkManager::open(&config.data_root.join("network"), manager_options(config)).await?;
    m.purge().await?;
    Ok(())
}

/// The magic address of `--add-host NAME:host-gateway`.
const HOST_GATEWAY: &str = "host-gateway";

/// One `HostConfig.ExtraHosts` entry as moby's `ValidateExtraHost`: `NAME:IP`, split at the
/// first colon (so IPv6 addresses work), `IP` an address or `host-gateway` (then `None`).
pub(crate) fn parse_extra_host(entry: &str) -> Result<(String, Option<IpAddr>)> {
    let (name, ip) = entry
        .split_once(':')
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| Error::InvalidParameter(format!("bad format for add-host: {entry:?}")))?;
    if ip == HOST_GATEWAY {
        return Ok((name.to_string(), None));
    }
    let ip = ip
        .parse()
        .map_err(|_| Error::InvalidParameter(format!("invalid IP address in add-host: {ip:?}")))?;
    Ok((name.to_string(), Some(ip)))
}

impl Engine {
    /// The container's extra /etc/hosts entries; `host-gateway` is the default bridge's
    /// gateway (dockerd's default `--host-gateway-ip`).
    fn extra_hosts(&self, rec: &ContainerRecord) -> Result<Vec<(String, IpAddr)>> {
        let mut out = vec![];
        for entry in rec.host_config.extra_hosts.iter().flatten() {
            let (name, ip) = parse_extra_host(entry)?;
            let ip = match ip {
                Some(ip) => ip,
                None => {
                    let gw = self
                        .network
                        .as_ref()
                        .and_then(|n| n.get("bridge").ok())
                        .map(|n| n.gateway)
                        .ok_or_else(|| {
                            Error::InvalidParameter(
                                "unable to derive the IP value for host-gateway".into(),
                            )
                        })?;
                    IpAddr::V4(gw)
                }
            };
            out.push((name, ip));
        }
        Ok(out)
    }

    pub(crate) fn net(&self) -> Result<&NetworkManager> {
        self.network
            .as_ref()
            .ok_or_else(|| Error::Internal("networking is not available in this daemon".into()))
    }

    /// Prepares the container's network before its monitor starts: the hostname and resolver
    /// files and the namespace. For bridge networks the endpoints come after, from
    /// [`Engine::attach_network`], which may run while the monitor creates the container (the
    /// runtime only needs the namespace to exist).
    pub(crate) async fn prepare_network(
        &self,
        rec: &ContainerRecord,
        run_dir: &Path,
        etc: &Path,
    ) -> Result<Sandbox> {
        let mode = rec.host_config.network_mode.clone();
        let hostname = if rec.config.hostname.is_empty() {
            rec.id[..12].to_string()
        } else {
            rec.config.hostname.clone()
        };
        let mut extra_hosts = self.extra_hosts(rec)?;
        extra_hosts.extend(self.link_hosts(rec));
        let dns: Vec<IpAddr> = rec
            .host_config
            .dns
            .iter()
            .flatten()
            .filter_map(|d| d.parse().ok())
            .collect();
        let search = rec.host_config.dns_search.clone().unwrap_or_default();
        let options = rec.host_config.dns_options.clone().unwrap_or_default();
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let write = |name: &str, data: String| {
            crate::container::fsutil::write_atomic(&etc.join(name), data.as_bytes())
        };
        write("hostname", berth_network::hostname_file(&hostname))?;
        if mode == "host" {
            // the host's file, and the container's own names after it (as moby)
            let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            if !hosts.is_empty() && !hosts.ends_with('\n') {
                hosts.push('\n');
            }
            for (name, ip) in &extra_hosts {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
            write("hosts", hosts)?;
            write("resolv.conf", host_resolv)?;
            return Ok(Sandbox {
                netns: None,
                state: NetworkState::default(),
                pending: None,
                prepared_veth: None,
            });
        }
        if let Some(other) = mode.strip_prefix("container:") {
            let c = self.containers.get(other)?;
            let (running, key) = {
                let r = c.rec();
                (r.state.running, r.network.sandbox_key.clone())
            };
            if !running {
                return Err(Error::Conflict(format!(
                    "cannot join network of a non running container: {}",
                    c.id
                )));
            }
            let peer_etc = self.config().container_run_dir(&c.id).join("etc");
            for f in ["hosts", "resolv.conf"] {
                let _ = std::fs::copy(peer_etc.join(f), etc.join(f));
            }
            let netns = if key.is_empty() {
                None
            } else {
                Some(PathBuf::from(key))
            };
            return Ok(Sandbox {
                netns,
                state: NetworkState::default(),
                pending: None,
                prepared_veth: None,
            });
        }
        let netns = run_dir.join("netns");
        let _ = berth_network::remove_netns(&netns);
        // a `none` container must not see the spare's prepared veth
        let prepared_veth = self.netns_spare.take_into(&netns, mode != "none").await?;
        let state = NetworkState {
            sandbox_key: netns.to_string_lossy().into_owned(),
            ..Default::default()
        };
        if mode == "none" {
            write(
                "hosts",
                berth_network::hosts_file(&hostname, None, &[], &extra_hosts),
            )?;
            write(
                "resolv.conf",
                berth_network::resolv_conf(&host_resolv, false, &dns, &search, &options),
            )?;
            return Ok(Sandbox {
                netns: Some(netns),
                state,
                pending: None,
                prepared_veth: None,
            });
        }
        // the addresses are not known yet: /etc/hosts gets them in place (the runtime
        // bind-mounts this inode) once the endpoints are attached
        write(
            "hosts",
            berth_network::hosts_file(&hostname, Some(&rec.config.domainname), &[], &extra_hosts),
        )?;
        let embedded = mode != "bridge";
        write(
            "resolv.conf",
            berth_network::resolv_conf(&host_resolv, embedded, &dns, &search, &options),
        )?;
        Ok(Sandbox {
            netns: Some(netns),
            state,
            pending: Some(HostsInput {
                hostname,
                extra_hosts,
            }),
            prepared_veth,
        })
    }

    /// Attaches the endpoints a [`Engine::prepare_network`] left pending (bridge networks,
    /// published ports) and writes their addresses into /etc/hosts, in place. On error
    /// nothing of the endpoints is left; the namespace stays for the caller's teardown.
    pub(crate) async fn attach_network(
        &self,
        rec: &ContainerRecord,
        etc: &Path,
        sandbox: &mut Sandbox,
    ) -> Result<()> {
        let (Some(pending), Some(netns)) = (sandbox.pending.take(), sandbox.netns.clone()) else {
            return Ok(());
        };
        let mode = rec.host_config.network_mode.clone();
        if let Err(e) = self
            .attach_endpoints(
                rec,
                &mode,
                &netns,
                &mut sandbox.state,
                sandbox.prepared_veth.take(),
            )
            .await
        {
            self.teardown_network(&rec.id, None).await;
            return Err(e);
        }
        let addrs: Vec<std::net::Ipv4Addr> = sandbox
            .state
            .endpoints
            .iter()
            .filter_map(|e| e.ip.parse().ok())
            .collect();
        let hosts = berth_network::hosts_file(
            &pending.hostname,
            Some(&rec.config.domainname),
            &addrs,
            &pending.extra_hosts,
        );
        let path = etc.join("hosts");
        std::fs::write(&path, hosts).map_err(|e| Error::io(format!("write {}", path.display()), e))
    }

    async fn attach_endpoints(
        &self,
        rec: &ContainerRecord,
        mode: &str,
        netns: &Path,
        state: &mut NetworkState,
        mut prepared_veth: Option<String>,
    ) -> Result<()> {
        let net = self.net()?;
        // the NetworkMode network first (unless it was disconnected), then the others of
        // `NetworkingConfig` (and of `network connect` before start)
        let mut names: Vec<String> = vec![];
        if !rec.primary_disconnected {
            names.push(mode.to_string());
        }
        names.extend(
            rec.networking_config
                .as_ref()
                .and_then(|n| n.get("EndpointsConfig"))
                .and_then(|e| e.as_object())
                .map(|o| o.keys().filter(|k| *k != mode).cloned().collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        for name in &names {
            let ep = self
                .attach_one(rec, name, netns, prepared_veth.take())
                .await?;
            state.endpoints.push(ep);
        }
        // published ports go to the first network's address
        let bindings = port_bindings(rec)?;
        if let Some(first) = state.endpoints.first()
            && !bindings.is_empty()
        {
            let ip: std::net::Ipv4Addr = first
                .ip
                .parse()
                .map_err(|_| Error::Internal(format!("bad address {}", first.ip)))?;
            let got = net.publish(&rec.id, ip, &bindings).await?;
            for b in got {
                state.ports.push((
                    format!("{}/{}", b.container_port, b.protocol),
                    b.host_ip
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "0.0.0.0".into()),
                    b.host_port,
                ));
            }
        }
        Ok(())
    }

    async fn attach_one(
        &self,
        rec: &ContainerRecord,
        network: &str,
        netns: &Path,
        prepared_veth: Option<String>,
    ) -> Result<EndpointState> {
        let net = self.net()?;
        let mut aliases = vec![];
        if let Some(cfg) = rec
            .networking_config
            .as_ref()
            .and_then(|n| n.get("EndpointsConfig"))
            .and_then(|e| e.get(network))
        {
            for a in cfg
                .get("Aliases")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(s) = a.as_str() {
                    aliases.push(s.to_string());
                }
            }
        }
        if network != "bridge" {
            aliases.push(rec.id[..12].to_string());
        }
        let spec = EndpointSpec {
            name: rec.name.clone(),
            aliases: aliases.clone(),
            prepared_veth,
            ..Default::default()
        };
        let ep = net.attach(network, &rec.id, netns, spec).await?;
        Ok(EndpointState {
            network: ep.network_name.clone(),
            network_id: ep.network_id.clone(),
            endpoint_id: ep.id.clone(),
            ip: ep.ipv4.to_string(),
            prefix_len: ep.prefix_len,
            gateway: ep.gateway.map(|g| g.to_string()).unwrap_or_default(),
            mac: ep.mac.clone(),
            aliases,
        })
    }

    /// `docker network connect`: a running container gets the endpoint now; a stopped one at
    /// its next start.
    pub async fn connect_network(
        &self,
        network: &str,
        container: &str,
        endpoint_config: Option<Value>,
    ) -> Result<()> {
        predefined_conflict(network)?;
        let n = self.net()?.get(network)?;
        let c = self.containers.get(container)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        let (mode, primary_off) = {
            let r = c.rec();
            (r.host_config.network_mode.clone(), r.primary_disconnected)
        };
        if mode == "host" || n.name == "host" {
            return Err(Error::InvalidParameter(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            ));
        }
        if mode.starts_with("container:") {
            return Err(Error::InvalidParameter(
                "container sharing network namespace with another container or host cannot be connected to any other network"
                    .into(),
            ));
        }
        if (mode == "none" && !primary_off) || n.name == "none" {
            return Err(Error::InvalidParameter(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode"
                    .into(),
            ));
        }
        let reconnect = primary_off && mode == n.name;
        let already = (mode == n.name && !primary_off)
            || c.rec()
                .network
                .endpoints
                .iter()
                .any(|e| e.network_id == n.id);
        if already {
            return Err(Error::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                c.rec().name,
                n.name
            )));
        }
        {
            let mut r = c.rec();
            if reconnect {
                r.primary_disconnected = false;
            }
            let cfg = r
                .networking_config
                .get_or_insert_with(|| serde_json::json!({"EndpointsConfig": {}}));
            if !cfg.get("EndpointsConfig").is_some_and(|e| e.is_object()) {
                cfg["EndpointsConfig"] = serde_json::json!({});
            }
            cfg["EndpointsConfig"][n.name.as_str()] =
                endpoint_config.unwrap_or_else(|| serde_json::json!({}));
        }
        let (running, key) = {
            let r = c.rec();
            (r.state.running, r.network.sandbox_key.clone())
        };
        if running && !key.is_empty() {
            let rec = c.snapshot();
            let ep = self
                .attach_one(&rec, &n.name, Path::new(&key), None)
                .await?;
            c.rec().network.endpoints.push(ep);
        }
        self.persist(&c)?;
        self.events.publish(
            "network",
            "connect",
            &n.id,
            [
                ("container".to_string(), c.id.clone()),
                ("name".to_string(), n.name.clone()),
                ("type".to_string(), "bridge".to_string()),
            ]
            .into(),
        );
        Ok(())
    }

    /// `docker network disconnect`.
    pub async fn disconnect_network(&self, network: &str, container: &str) -> Result<()> {
        predefined_conflict(network)?;
        let n = self.net()?.get(network)?;
        let c = self.containers.get(container)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        let connected = c
            .rec()
            .network
            .endpoints
            .iter()
            .any(|e| e.network_id == n.id);
        let configured = c
            .rec()
            .networking_config
            .as_ref()
            .and_then(|x| x.get("EndpointsConfig"))
            .is_some_and(|e| e.get(&n.name).is_some());
        let primary = {
            let r = c.rec();
            r.host_config.network_mode == n.name && !r.primary_disconnected
        };
        if !connected && !configured && !primary {
            return Err(Error::NotFound(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        }
        if connected {
            self.net()?.detach(&n.id, &c.id).await?;
        }
        {
            let mut r = c.rec();
            r.network.endpoints.retain(|e| e.network_id != n.id);
            if let Some(e) = r
                .networking_config
                .as_mut()
                .and_then(|x| x.get_mut("EndpointsConfig"))
                .and_then(|e| e.as_object_mut())
            {
                e.remove(&n.name);
            }
            // as moby: NetworkMode stays; the network leaves the container's set
            if r.host_config.network_mode == n.name {
                r.primary_disconnected = true;
            }
        }
        self.persist(&c)?;
        self.events.publish(
            "network",
            "disconnect",
            &n.id,
            [
                ("container".to_string(), c.id.clone()),
                ("name".to_string(), n.name.clone()),
                ("type".to_string(), "bridge".to_string()),
            ]
            .into(),
        );
        Ok(())
    }

    /// Frees the container's endpoints, ports and namespace (after its exit).
    pub(crate) async fn teardown_network(&self, id: &str, netns: Option<&Path>) {
        if let Some(net) = &self.network {
            let _ = net.unpublish(id).await;
            let _ = net.release(id).await;
        }
        if let Some(ns) = netns {
            let ns = ns.to_path_buf();
            let _ = tokio::task::spawn_blocking(move || berth_network::remove_netns(&ns)).await;
        }
    }

    pub(crate) fn network_json(&self, n: &berth_network::Network) -> Value {
        let mut containers = serde_json::Map::new();
        if let Ok(eps) = self.net().and_then(|m| Ok(m.endpoints(&n.id)?)) {
            for ep in eps {
                let name = self
                    .containers
                    .get(&ep.container_id)
                    .map(|c| c.rec().name.clone())
                    .unwrap_or_default();
                containers.insert(
                    ep.container_id.clone(),
                    json!({
                        "Name": name, "EndpointID": ep.id, "MacAddress": ep.mac,
                        "IPv4Address": format!("{}/{}", ep.ipv4, ep.prefix_len), "IPv6Address": ""
                    }),
                );
            }
        }
        json!({
            "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": n.driver,
            "EnableIPv6": false, "Internal": n.internal, "Attachable": false, "Ingress": false,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
            "IPAM": {"Driver": "default", "Options": null, "Config": [{"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()}]},
            "Containers": containers, "Options": n.options, "Labels": n.labels,
        })
    }

    pub async fn create_network(&self, body: &Value) -> Result<Value> {
        let name = body
            .get("Name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            return Err(Error::InvalidParameter("network name is required".into()));
        }
        if ["host", "none"].contains(&name.as_str()) {
            return Err(Error::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let driver = body
            .get("Driver")
            .and_then(|v| v.as_str())
            .filter(|d| !d.is_empty())
            .unwrap_or("bridge");
        if driver != "bridge" {
            return Err(Error::NotFound(format!("plugin \"{driver}\" not found")));
        }
        let ipam = body
            .get("IPAM")
            .and_then(|i| i.get("Config"))
            .and_then(|c| c.as_array())
            .and_then(|c| c.first());
        let s = |v: Option<&Value>, k: &str| {
            v.and_then(|x| x.get(k))
                .and_then(|x| x.as_str())
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
        };
        let map = |k: &str| -> BTreeMap<String, String> {
            body.get(k)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default()
        };
        let spec = NetworkSpec {
            name: name.clone(),
            driver: driver.into(),
            subnet: s(ipam, "Subnet"),
            gateway: s(ipam, "Gateway"),
            ip_range: s(ipam, "IPRange"),
            internal: body
                .get("Internal")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            labels: map("Labels"),
            options: map("Options"),
        };
        let n = self.net()?.create_network(spec).await?;
        self.events.publish(
            "network",
            "create",
            &n.id,
            [
                ("name".to_string(), name),
                ("type".to_string(), "bridge".to_string()),
            ]
            .into(),
        );
        Ok(json!({"Id": n.id, "Warning": ""}))
    }

    pub async fn remove_network(&self, name: &str) -> Result<()> {
        if let Some((p, _)) = crate::netlist::PREDEFINED.iter().find(|(p, _)| *p == name) {
            return Err(Error::Forbidden(format!(
                "{p} is a pre-defined network and cannot be removed"
            )));
        }
        let n = self.net()?.get(name)?;
        // a container launched ahead of its start holds an endpoint no client has seen
        self.undo_all_prelaunches().await;
        self.net()?.remove_network(&n.id).await?;
        self.events.publish(
            "network",
            "destroy",
            &n.id,
            [("name".to_string(), n.name)].into(),
        );
        Ok(())
    }
}

/// moby's answers to connecting to (or disconnecting from) `host` and `none`.
fn predefined_conflict(network: &str) -> Result<()> {
    match network {
        "host" => Err(Error::InvalidParameter(
            "container cannot be disconnected from host network or connected to host network".into(),
        )),
        "none" => Err(Error::InvalidParameter(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// `HostConfig.PortBindings` (and `PublishAllPorts` for the exposed ports) as berth-network
/// bindings.
fn port_bindings(rec: &ContainerRecord) -> Result<Vec<berth_network::PortBinding>> {
    let mut out = vec![];
    let hc = &rec.host_config;
    let mut keys: Vec<(String, Vec<crate::model::PortBinding>)> = hc
        .port_bindings
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    if hc.publish_all_ports {
        for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
            if !keys.iter().any(|(x, _)| x == k) {
                keys.push((k.clone(), vec![crate::model::PortBinding::default()]));
            }
        }
    }
    for (key, bindings) in keys {
        let (port, proto) = crate::container::ports::parse_port_key(&key)?;
        let protocol = match proto.as_str() {
            "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            other => {
                return Err(Error::InvalidParameter(format!(
                    "unsupported protocol {other}"
                )));
            }
        };
        let bindings = if bindings.is_empty() {
            vec![crate::model::PortBinding::default()]
        } else {
            bindings
        };
        for b in bindings {
            let (lo, hi) = if b.host_port.is_empty() {
                (0, 0)
            } else {
                crate::container::ports::parse_host_port(&b.host_port)?
            };
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                ip => Some(
                    ip.parse()
                        .map_err(|_| Error::InvalidParameter(format!("invalid host IP: {ip}")))?,
                ),
            };
            out.push(berth_network::PortBinding {
                host_ip,
                host_port: lo,
                host_port_end: hi,
                container_port: port,
                protocol,
            });
        }
    }
    Ok(out)
}
