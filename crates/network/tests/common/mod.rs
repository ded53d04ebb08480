//! Test fixtures: a manager with its own state folder, nftables table and subnets, namespaces
//! standing in for containers, and a guard that removes whatever a failed test left behind.
#![allow(dead_code)]

pub mod servers;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_network::{
    EndpointSpec, ManagerOptions, NetworkManager, NetworkSpec, create_netns, remove_netns,
};

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("run sh");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

pub async fn sh_async(cmd: &str) -> (bool, String) {
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .await
        .expect("run sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A random 10.x.y.0/24 that no host route or address uses.
/// Tests running at the same time hold a lock file per subnet they picked (until their process
/// exits), so two of them never pick the same one between checking and using it.
pub fn free_subnet() -> String {
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("berth-network-test-subnets");
    std::fs::create_dir_all(&dir).expect("subnet lock dir");
    let routes = sh("ip -4 route show table all; ip -4 -o addr");
    loop {
        let x = 64 + rand_u8() % 64;
        let y = rand_u8();
        let prefix = format!("10.{x}.{y}.");
        if routes.contains(&prefix) || routes.contains(&format!("10.{x}.0.0/16")) {
            continue;
        }
        let file = std::fs::File::create(dir.join(format!("10.{x}.{y}.0"))).expect("subnet lock");
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            HELD.lock().unwrap_or_else(|p| p.into_inner()).push(file);
            return format!("{prefix}0/24");
        }
    }
}

/// An interface name no other test uses: `prefix` and 8 random hex digits (keep `prefix` under
/// 8 characters: names are at most 15).
pub fn unique_ifname(prefix: &str) -> String {
    let r: String = (0..4).map(|_| format!("{:02x}", rand_u8())).collect();
    format!("{prefix}{r}")
}

fn rand_u8() -> u8 {
    let mut b = [0u8; 1];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .expect("urandom");
    b[0]
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub table: String,
    pub default_bridge: Option<String>,
    netns: Vec<PathBuf>,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
            table: berth_testkit::unique_name("bt"),
            default_bridge: None,
            netns: Vec::new(),
        }
    }

    pub fn options(&self) -> ManagerOptions {
        ManagerOptions {
            default_bridge: self.default_bridge.clone(),
            nft_table: self.table.clone(),
            dns_upstreams: Some(Vec::new()),
            ..ManagerOptions::default()
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub async fn open(&self) -> NetworkManager {
        NetworkManager::open(&self.state_dir(), self.options())
            .await
            .expect("open manager")
    }

    pub async fn open_with(&self, opts: ManagerOptions) -> NetworkManager {
        NetworkManager::open(&self.state_dir(), opts)
            .await
            .expect("open manager")
    }

    /// A new namespace standing in for a container.
    pub fn netns(&mut self, name: &str) -> PathBuf {
        let p = self.dir.path().join(format!("ns-{name}"));
        create_netns(&p).expect("create netns");
        self.netns.push(p.clone());
        p
    }

    /// A new namespace made with a prepared veth pair whose host end is `host`.
    pub fn netns_with_veth(&mut self, name: &str, host: &str) -> PathBuf {
        let p = self.dir.path().join(format!("ns-{name}"));
        berth_network::create_netns_with_veth(&p, host).expect("create netns with veth");
        self.netns.push(p.clone());
        p
    }

    pub fn drop_netns(&mut self, p: &Path) {
        remove_netns(p).expect("remove netns");
        self.netns.retain(|x| x != p);
    }

    /// Our links still on the host (bridges and veths named in the state file).
    pub fn leftover_links(&self, names: &[String]) -> Vec<String> {
        let links = sh("ip -o link show");
        names
            .iter()
            .filter(|n| links.contains(&format!(": {n}:")) || links.contains(&format!(": {n}@")))
            .cloned()
            .collect()
    }

    pub fn table_exists(&self) -> bool {
        sh("nft list tables")
            .lines()
            .any(|l| l.trim() == format!("table ip {}", self.table))
    }

    pub fn iptables_rules(&self) -> usize {
        sh("iptables-save 2>/dev/null")
            .lines()
            .filter(|l| l.contains(&format!("berth:{}", self.table)))
            .count()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Safety net for failed tests: remove our links, table, rules and namespaces.
        let read = |name: &str| -> serde_json::Value {
            std::fs::read(self.state_dir().join(name))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        };
        for e in read("endpoints.json")["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(n) = e["host_veth"].as_str() {
                sh(&format!("ip link del {n} 2>/dev/null"));
            }
        }
        for n in read("networks.json")["networks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(b) = n["bridge"].as_str() {
                sh(&format!("ip link del {b} 2>/dev/null"));
            }
        }
        sh(&format!("nft delete table ip {} 2>/dev/null", self.table));
        let tag = format!("berth:{}", self.table);
        for line in sh("iptables -w -S FORWARD 2>/dev/null")
            .lines()
            .filter(|l| l.contains(&tag))
        {
            sh(&format!(
                "iptables -w {} 2>/dev/null",
                line.replacen("-A", "-D", 1)
            ));
        }
        for p in &self.netns {
            let _ = remove_netns(p);
        }
    }
}

pub fn user_net(name: &str, subnet: &str) -> NetworkSpec {
    NetworkSpec {
        name: name.to_string(),
        driver: "bridge".into(),
        subnet: Some(subnet.to_string()),
        ..Default::default()
    }
}

pub fn named(name: &str) -> EndpointSpec {
    EndpointSpec {
        name: name.to_string(),
        ..Default::default()
    }
}

/// Runs a command inside a namespace (busybox applets, as a container would).
pub async fn in_ns(netns: &Path, cmd: &str) -> (bool, String) {
    sh_async(&format!("nsenter --net={} {cmd}", netns.display())).await
}

/// Sends a DNS query from inside `netns` to the embedded server and returns the reply.
pub async fn dns_query(
    netns: &Path,
    name: &str,
    qtype: hickory_proto::rr::RecordType,
) -> hickory_proto::op::Message {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::Name;
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    let bytes = msg.to_vec().expect("encode");
    let ns = netns.to_path_buf();
    let reply = tokio::task::spawn_blocking(move || {
        berth_network::in_netns(&ns, move || {
            let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.connect("127.0.0.11:53")?;
            s.send(&bytes)?;
            let mut buf = vec![0u8; 4096];
            let n = s.recv(&mut buf)?;
            buf.truncate(n);
            Ok(buf)
        })
    })
    .await
    .expect("join")
    .expect("dns query");
    Message::from_vec(&reply).expect("decode reply")
}

pub fn a_records(m: &hickory_proto::op::Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// A global IPv4 address of the host that is not on `skip_bridge`.
pub fn host_address() -> Ipv4Addr {
    for line in sh("ip -4 -o addr show scope global").lines() {
        let mut w = line.split_whitespace();
        let (_, dev, _, cidr) = (
            w.next(),
            w.next().unwrap_or(""),
            w.next(),
            w.next().unwrap_or(""),
        );
        if dev.starts_with("br-")
            || dev.starts_with("bt")
            || dev.starts_with("veth")
            || dev.starts_with("docker")
            || dev.starts_with("berth")
            || dev.starts_with("vo")
        {
            continue;
        }
        if let Some(ip) = cidr.split('/').next().and_then(|ip| ip.parse().ok()) {
            return ip;
        }
    }
    panic!("no global IPv4 address on this host");
}

/// The same over TCP (2-byte length prefix), as a client does after a truncated answer.
pub async fn dns_query_tcp(
    netns: &Path,
    name: &str,
    qtype: hickory_proto::rr::RecordType,
) -> hickory_proto::op::Message {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::Name;
    use std::io::{Read, Write};
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    let bytes = msg.to_vec().expect("encode");
    let ns = netns.to_path_buf();
    let reply = tokio::task::spawn_blocking(move || {
        berth_network::in_netns(&ns, move || {
            let mut s = std::net::TcpStream::connect("127.0.0.11:53")?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(&(bytes.len() as u16).to_be_bytes())?;
            s.write_all(&bytes)?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut buf)?;
            Ok(buf)
        })
    })
    .await
    .expect("join")
    .expect("dns query over tcp");
    Message::from_vec(&reply).expect("decode reply")
}
