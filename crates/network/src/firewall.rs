//! Packet rules. Berth keeps everything in its own nftables table (family `ip`), rebuilt from
//! the state and replaced in one `nft -f` transaction: masquerade per network, isolation
//! between networks, DNAT for published ports from the host's addresses (prerouting) and from
//! the host itself including 127.0.0.1 (output; the bridges have `route_localnet=1`).
//!
//! Coexistence: when an iptables `filter` table with a `FORWARD` chain exists (dockerd sets its
//! policy to DROP), a drop there cannot be overridden from our table, so Berth also inserts
//! `-i/-o <bridge> -j ACCEPT` rules there, tagged with a comment naming its table.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Result};
use crate::state::Published;
use crate::types::{Network, Protocol};

pub(crate) struct Firewall {
    table: String,
    compat: bool,
    /// Bridges that have iptables accept rules (None: not yet synced since open).
    compat_bridges: std::sync::Mutex<Option<BTreeSet<String>>>,
    /// Whether the iptables `filter` table existed at the last sync.
    filter_seen: std::sync::atomic::AtomicBool,
}

/// Renders Berth's table. Pure, so it is unit-tested.
pub(crate) fn render(table: &str, networks: &[Network], published: &[Published]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "table ip {table} {{");
    s.push_str("  set bridges {\n    type ifname\n");
    if !networks.is_empty() {
        let names: Vec<String> = networks
            .iter()
            .map(|n| format!("\"{}\"", n.bridge))
            .collect();
        let _ = writeln!(s, "    elements = {{ {} }}", names.join(", "));
    }
    s.push_str("  }\n");

    let mut dnat = String::new();
    for p in published {
        for b in &p.bindings {
            let proto = match b.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            let dst = match b.host_ip {
                Some(ip) => format!("ip daddr {ip}"),
                None => "fib daddr type local".to_string(),
            };
            let _ = writeln!(
                dnat,
                "    {dst} {proto} dport {} dnat to {}:{} comment \"{}\"",
                b.host_port, p.container_ip, b.container_port, p.container_id
            );
        }
    }
    let _ = write!(
        s,
        "  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n{dnat}  }}\n"
    );
    let _ = write!(
        s,
        "  chain output {{\n    type nat hook output priority -100; policy accept;\n{dnat}  }}\n"
    );

    s.push_str(
        "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n",
    );
    for n in networks {
        let (br, sub) = (&n.bridge, n.subnet);
        // Host-local clients (127.0.0.1) reaching a published port: give them a routable source.
        let _ = writeln!(s, "    oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade");
        // Hairpin: a container reaching its own network's published port through the host.
        let _ = writeln!(
            s,
            "    oifname \"{br}\" ip saddr {sub} ct status dnat masquerade"
        );
        let masquerade = n
            .options
            .get("com.docker.network.bridge.enable_ip_masquerade")
            .map(String::as_str)
            != Some("false");
        if !n.internal && masquerade {
            let _ = writeln!(s, "    ip saddr {sub} oifname != \"{br}\" masquerade");
        }
    }
    s.push_str("  }\n");

    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    for n in networks {
        let br = &n.bridge;
        if n.internal {
            let _ = writeln!(s, "    iifname \"{br}\" oifname != \"{br}\" drop");
            let _ = writeln!(s, "    oifname \"{br}\" iifname != \"{br}\" drop");
        } else {
            let _ = writeln!(
                s,
                "    iifname \"{br}\" oifname @bridges oifname != \"{br}\" drop"
            );
        }
        if n.options
            .get("com.docker.network.bridge.enable_icc")
            .map(String::as_str)
            == Some("false")
        {
            let _ = writeln!(s, "    iifname \"{br}\" oifname \"{br}\" drop");
        }
    }
    s.push_str("  }\n}\n");
    s
}

async fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Firewall(format!("run nft: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| Error::Firewall(format!("write to nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| Error::Firewall(format!("wait for nft: {e}")))?;
    if !out.status.success() {
        return Err(Error::Firewall(format!(
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

async fn run_quiet(cmd: &str, args: &[&str]) -> Result<bool> {
    let st = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| Error::Firewall(format!("run {cmd}: {e}")))?;
    Ok(st.success())
}

async fn output(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Firewall(format!("run {cmd}: {e}")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Firewall {
    pub fn new(table: &str, compat: bool) -> Self {
        Firewall {
            table: table.to_string(),
            compat,
            compat_bridges: std::sync::Mutex::new(None),
            filter_seen: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Replaces Berth's table with the rules for `networks` and `published`, atomically.
    pub async fn apply(&self, networks: &[Network], published: &[Published]) -> Result<()> {
        let t = &self.table;
        let script = format!(
            "table ip {t} {{}}\ndelete table ip {t}\n{}",
            render(t, networks, published)
        );
        nft(&script).await?;
        self.sync_compat(networks).await
    }

    /// Removes Berth's table and its iptables accept rules.
    pub async fn remove_all(&self) -> Result<()> {
        let t = &self.table;
        nft(&format!("table ip {t} {{}}\ndelete table ip {t}\n")).await?;
        self.sync_compat(&[]).await
    }

    /// Called on each attach: when an iptables `filter` table has appeared since the last sync
    /// (dockerd started after us), add the accept rules now. Costs one netlink round trip.
    pub async fn recheck_compat(&self, networks: &[Network]) -> Result<()> {
        if !self.compat || self.filter_seen.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        if !crate::nft_netlink::ip_table_exists("filter").unwrap_or(false) {
            return Ok(());
        }
        if let Ok(mut g) = self.compat_bridges.lock() {
            *g = None;
        }
        self.sync_compat(networks).await
    }

    fn comment(&self) -> String {
        format!("berth:{}", self.table)
    }

    async fn sync_compat(&self, networks: &[Network]) -> Result<()> {
        if !self.compat {
            return Ok(());
        }
        let want: BTreeSet<String> = networks.iter().map(|n| n.bridge.clone()).collect();
        if self
            .compat_bridges
            .lock()
            .map(|g| g.as_ref() == Some(&want))
            .unwrap_or(false)
        {
            return Ok(());
        }
        // No iptables filter table: nothing can drop our forwarded traffic, and calling
        // iptables would create one.
        if !run_quiet("nft", &["list", "chain", "ip", "filter", "FORWARD"]).await? {
            if let Ok(mut g) = self.compat_bridges.lock() {
                *g = Some(want);
            }
            self.filter_seen
                .store(false, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        self.filter_seen
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let comment = self.comment();
        let listing = output("iptables", &["-w", "-S", "FORWARD"]).await?;
        let mut have = BTreeSet::new();
        for line in listing.lines().filter(|l| l.contains(&comment)) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(pos) = words.iter().position(|w| *w == "-i" || *w == "-o") else {
                continue;
            };
            let Some(br) = words.get(pos + 1) else {
                continue;
            };
            if want.contains(*br) {
                have.insert((*br).to_string());
                continue;
            }
            let mut args = vec!["-w", "-D"];
            args.extend(words.iter().skip(1).map(|w| w.trim_matches('"')));
            if !run_quiet("iptables", &args).await? {
                tracing::warn!("could not delete stale iptables rule {line}");
            }
        }
        for br in want.iter().filter(|b| !have.contains(*b)) {
            for dir in ["-i", "-o"] {
                let args = [
                    "-w",
                    "-I",
                    "FORWARD",
                    dir,
                    br.as_str(),
                    "-m",
                    "comment",
                    "--comment",
                    &comment,
                    "-j",
                    "ACCEPT",
                ];
                if !run_quiet("iptables", &args).await? {
                    return Err(Error::Firewall(format!(
                        "iptables could not accept forwarding for bridge {br}"
                    )));
                }
            }
        }
        if let Ok(mut g) = self.compat_bridges.lock() {
            *g = Some(want);
        }
        Ok(())
    }
}

/// Enables what published ports and NAT need: IPv4 forwarding, and `route_localnet` on a
/// bridge so that DNAT of 127.0.0.1 to a container is routed.
pub(crate) fn enable_forwarding() -> Result<()> {
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
}

pub(crate) fn enable_route_localnet(bridge: &str) -> Result<()> {
    write_sysctl(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )
}

fn write_sysctl(path: &str, value: &str) -> Result<()> {
    if std::fs::read_to_string(path)
        .map(|v| v.trim() == value)
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(path, value).map_err(|e| Error::io(format!("write {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PortBinding;

    #[test]
    fn rules_cover_nat_isolation_and_ports() {
        let mut a = crate::ipam::tests_support::network("a", "bra", "10.7.1.0/24");
        let b = crate::ipam::tests_support::network("b", "brb", "10.7.2.0/24");
        a.internal = false;
        let p = Published {
            container_id: "c1".into(),
            container_ip: "10.7.1.2".parse().unwrap(),
            bindings: vec![
                PortBinding::new(8080, 80, Protocol::Tcp),
                PortBinding {
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    ..PortBinding::new(5353, 53, Protocol::Udp)
                },
            ],
        };
        let r = render("t1", &[a, b], &[p]);
        assert!(
            r.contains("fib daddr type local tcp dport 8080 dnat to 10.7.1.2:80"),
            "{r}"
        );
        assert!(
            r.contains("ip daddr 127.0.0.1 udp dport 5353 dnat to 10.7.1.2:53"),
            "{r}"
        );
        assert!(
            r.contains("ip saddr 10.7.1.0/24 oifname != \"bra\" masquerade"),
            "{r}"
        );
        assert!(
            r.contains("iifname \"brb\" oifname @bridges oifname != \"brb\" drop"),
            "{r}"
        );
        assert!(r.contains("elements = { \"bra\", \"brb\" }"), "{r}");
        let mut c = crate::ipam::tests_support::network("c", "brc", "10.7.3.0/24");
        c.options.insert(
            "com.docker.network.bridge.enable_ip_masquerade".into(),
            "false".into(),
        );
        c.options.insert(
            "com.docker.network.bridge.enable_icc".into(),
            "false".into(),
        );
        let r = render("t2", &[c], &[]);
        assert!(
            !r.contains("ip saddr 10.7.3.0/24 oifname != \"brc\" masquerade"),
            "{r}"
        );
        assert!(r.contains("iifname \"brc\" oifname \"brc\" drop"), "{r}");
    }
}
