//! The embedded DNS server of user-defined networks.
//!
//! Where it listens: like Docker, at 127.0.0.11:53 (UDP and TCP) *inside* each container's
//! network namespace. The sockets are bound on 127.0.0.11 with random ports from a thread that
//! entered the namespace, and a DNAT rule in that namespace (`table ip berth_dns`, written over
//! netlink) sends port 53 to them, so the container's own programs can still use port 53. They
//! are served by tokio tasks of the daemon, and the socket tells which container asks (names
//! are scoped to that container's networks). The container's resolv.conf says
//! `nameserver 127.0.0.11` (see [`crate::resolv_conf`]).
//!
//! Answers: container names, network aliases, the 12-digit short id, and each of them suffixed
//! with `.<network name>`, from every user-defined network the asking container is on; PTR for
//! their addresses. Other queries are forwarded from the host's namespace to the upstream
//! resolvers (the host's /etc/resolv.conf, or the container's `--dns`); with no upstream, or
//! when every upstream refuses, the answer is SERVFAIL at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::state::State;

const TTL: u32 = 600;
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The embedded server's sockets for one container, bound inside its namespace.
pub(crate) struct DnsSockets {
    pub udp: std::net::UdpSocket,
    pub tcp: std::net::TcpListener,
}

/// Binds the server's sockets on 127.0.0.11 (random ports, UDP and TCP) in the calling
/// thread's namespace and redirects 127.0.0.11:53 to them with a DNAT rule in that namespace,
/// as Docker does: port 53 stays free for the container's own programs.
pub(crate) fn bind_dns_sockets() -> std::io::Result<DnsSockets> {
    let udp = std::net::UdpSocket::bind((crate::types::EMBEDDED_DNS, 0))?;
    let tcp = std::net::TcpListener::bind((crate::types::EMBEDDED_DNS, 0))?;
    crate::nft_netlink::install_dns_redirect(
        crate::types::EMBEDDED_DNS,
        udp.local_addr()?.port(),
        tcp.local_addr()?.port(),
    )?;
    Ok(DnsSockets { udp, tcp })
}
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct DnsServers {
    state: Arc<Mutex<State>>,
    upstreams: Vec<SocketAddr>,
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl DnsServers {
    pub fn new(state: Arc<Mutex<State>>, upstreams: Vec<SocketAddr>) -> Self {
        DnsServers {
            state,
            upstreams,
            tasks: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_serving(&self, container_id: &str) -> bool {
        self.tasks
            .lock()
            .map(|t| t.contains_key(container_id))
            .unwrap_or(false)
    }

    /// Serves the sockets (bound in the container's namespace) for `container_id`.
    pub fn start(
        &self,
        container_id: &str,
        sockets: DnsSockets,
        own_upstreams: Vec<SocketAddr>,
    ) -> std::io::Result<()> {
        sockets.udp.set_nonblocking(true)?;
        sockets.tcp.set_nonblocking(true)?;
        let udp = UdpSocket::from_std(sockets.udp)?;
        let tcp = TcpListener::from_std(sockets.tcp)?;
        let upstreams = if own_upstreams.is_empty() {
            self.upstreams.clone()
        } else {
            own_upstreams
        };
        let ctx = Arc::new(Ctx {
            state: self.state.clone(),
            container_id: container_id.to_string(),
            upstreams,
        });
        let task = tokio::spawn(async move {
            tokio::join!(serve(Arc::new(udp), ctx.clone()), serve_tcp(tcp, ctx));
        });
        if let Ok(mut t) = self.tasks.lock()
            && let Some(old) = t.insert(container_id.to_string(), task)
        {
            old.abort();
        }
        Ok(())
    }

    pub fn stop(&self, container_id: &str) {
        if let Ok(mut t) = self.tasks.lock()
            && let Some(task) = t.remove(container_id)
        {
            task.abort();
        }
    }

    pub fn stop_all(&self) {
        if let Ok(mut t) = self.tasks.lock() {
            for (_, task) in t.drain() {
                task.abort();
            }
        }
    }
}

impl Drop for DnsServers {
    fn drop(&mut self) {
        self.stop_all();
    }
}

struct Ctx {
    state: Arc<Mutex<State>>,
    container_id: String,
    upstreams: Vec<SocketAddr>,
}

async fn serve(socket: Arc<UdpSocket>, ctx: Arc<Ctx>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("embedded dns for {}: {e}", ctx.container_id);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let query = buf[..n].to_vec();
        let (socket, ctx) = (socket.clone(), ctx.clone());
        tokio::spawn(async move {
            if let Some(reply) = handle(&query, &ctx, false).await {
                let _ = socket.send_to(&reply, peer).await;
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(TCP_IDLE, tcp_session(stream, &ctx)).await;
        });
    }
}

/// DNS over TCP: messages prefixed with their 2-byte length, several per connection.
async fn tcp_session(mut stream: TcpStream, ctx: &Ctx) -> std::io::Result<()> {
    loop {
        let len = stream.read_u16().await? as usize;
        let mut query = vec![0u8; len];
        stream.read_exact(&mut query).await?;
        let Some(reply) = handle(&query, ctx, true).await else {
            return Ok(());
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        stream.write_u16(n).await?;
        stream.write_all(&reply).await?;
    }
}

async fn handle(query: &[u8], ctx: &Ctx, via_tcp: bool) -> Option<Vec<u8>> {
    let Ok(req) = Message::from_vec(query) else {
        // Not parseable: answer FORMERR when at least the id is there.
        if query.len() >= 2 {
            let id = u16::from_be_bytes([query[0], query[1]]);
            return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
                .to_vec()
                .ok();
        }
        return None;
    };
    if req.metadata.message_type != MessageType::Query || req.queries.len() != 1 {
        return reply_code(&req, ResponseCode::FormErr);
    }
    let q = &req.queries[0];
    let qname = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let local = {
        let state = ctx.state.lock().ok()?;
        lookup(&state, &ctx.container_id, &qname, q.query_type())
    };
    match local {
        Some(records) => {
            let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
            resp.metadata = Metadata::response_from_request(&req.metadata);
            resp.metadata.authoritative = true;
            resp.metadata.recursion_available = true;
            resp.add_query(q.clone());
            for r in records {
                resp.add_answer(r);
            }
            resp.to_vec().ok()
        }
        None => {
            let forwarded = if via_tcp {
                forward_tcp(query, &ctx.upstreams).await
            } else {
                forward(query, req.metadata.id, &ctx.upstreams).await
            };
            match forwarded {
                Some(reply) => Some(reply),
                None => reply_code(&req, ResponseCode::ServFail),
            }
        }
    }
}

fn reply_code(req: &Message, code: ResponseCode) -> Option<Vec<u8>> {
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata = Metadata::response_from_request(&req.metadata);
    resp.metadata.response_code = code;
    resp.metadata.recursion_available = true;
    for q in &req.queries {
        resp.add_query(q.clone());
    }
    resp.to_vec().ok()
}

/// Records for `qname` as seen by `container_id`, or `None` when the name is not ours.
fn lookup(
    state: &State,
    container_id: &str,
    qname: &str,
    qtype: RecordType,
) -> Option<Vec<Record>> {
    let nets: Vec<&crate::types::Network> = state
        .endpoints
        .iter()
        .filter(|e| e.container_id == container_id)
        .filter_map(|e| {
            state
                .networks
                .iter()
                .find(|n| n.id == e.network_id && !n.default)
        })
        .collect();
    if qtype == RecordType::PTR {
        let ip = parse_reverse(qname)?;
        let ep = state
            .endpoints
            .iter()
            .find(|e| e.ipv4 == ip && nets.iter().any(|n| n.id == e.network_id))?;
        let target = Name::from_ascii(format!("{}.{}.", ep.name, ep.network_name)).ok()?;
        let name = Name::from_ascii(format!("{qname}.")).ok()?;
        return Some(vec![Record::from_rdata(name, TTL, RData::PTR(PTR(target)))]);
    }
    let mut ips: Vec<Ipv4Addr> = Vec::new();
    for net in &nets {
        for e in state.endpoints.iter().filter(|e| e.network_id == net.id) {
            let short = &e.container_id[..e.container_id.len().min(12)];
            let names = std::iter::once(e.name.as_str())
                .chain(e.aliases.iter().map(String::as_str))
                .chain(std::iter::once(short));
            for n in names.filter(|n| !n.is_empty()) {
                let n = n.to_ascii_lowercase();
                let scoped = format!("{n}.{}", net.name.to_ascii_lowercase());
                if (qname == n || qname == scoped) && !ips.contains(&e.ipv4) {
                    ips.push(e.ipv4);
                }
            }
        }
    }
    if ips.is_empty() {
        return None;
    }
    if qtype != RecordType::A {
        return Some(Vec::new());
    }
    let name = Name::from_ascii(format!("{qname}.")).ok()?;
    Some(
        ips.into_iter()
            .map(|ip| Record::from_rdata(name.clone(), TTL, RData::A(A(ip))))
            .collect(),
    )
}

fn parse_reverse(qname: &str) -> Option<Ipv4Addr> {
    let rest = qname.strip_suffix(".in-addr.arpa")?;
    let mut octets: Vec<u8> = rest
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if octets.len() != 4 {
        return None;
    }
    octets.reverse();
    Some(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
}

/// Sends the query to each upstream in turn (from the host's namespace); `None` when none
/// answers. A refused upstream fails at once (ICMP port unreachable on a connected socket).
async fn forward(query: &[u8], id: u16, upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = match up.ip() {
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let Ok(sock) = UdpSocket::bind(bind).await else {
            continue;
        };
        if sock.connect(up).await.is_err() || sock.send(query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        let got = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
            loop {
                let n = sock.recv(&mut buf).await?;
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    return Ok::<usize, std::io::Error>(n);
                }
            }
        })
        .await;
        if let Ok(Ok(n)) = got {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// Forwards over TCP (the client retried after a truncated UDP answer).
async fn forward_tcp(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    let len = u16::try_from(query.len()).ok()?;
    for up in upstreams {
        let exchange = async {
            let mut s = TcpStream::connect(up).await?;
            s.write_u16(len).await?;
            s.write_all(query).await?;
            let n = s.read_u16().await? as usize;
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf).await?;
            Ok::<Vec<u8>, std::io::Error>(buf)
        };
        if let Ok(Ok(reply)) = tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await {
            return Some(reply);
        }
    }
    None
}

/// The nameservers of a resolv.conf, as port-53 socket addresses.
pub(crate) fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        .filter_map(|ip| {
            ip.split('%')
                .next()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_parse() {
        assert_eq!(
            parse_reverse("4.3.2.10.in-addr.arpa"),
            Some(Ipv4Addr::new(10, 2, 3, 4))
        );
        assert_eq!(parse_reverse("example.com"), None);
        assert_eq!(parse_reverse("1.2.3.in-addr.arpa"), None);
    }

    #[test]
    fn nameservers_come_from_resolv_conf() {
        let ns = nameservers("# x\nnameserver 10.0.0.1\nsearch a\nnameserver fe80::1%eth0\n");
        assert_eq!(
            ns,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }
}
