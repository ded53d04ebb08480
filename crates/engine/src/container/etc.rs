//! The container's generated /etc files: hostname, hosts, resolv.conf.

use std::path::Path;

use super::fsutil::write_atomic;
use super::record::ContainerRecord;
use crate::error::Result;

pub fn write_etc_files(rec: &ContainerRecord, dir: &Path) -> Result<()> {
    let hostname = if rec.config.hostname.is_empty() {
        rec.id[..12].to_string()
    } else {
        rec.config.hostname.clone()
    };
    write_atomic(&dir.join("hostname"), format!("{hostname}\n").as_bytes())?;
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for h in rec.host_config.extra_hosts.iter().flatten() {
        if let Some((name, ip)) = h.split_once(':') {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    write_atomic(&dir.join("hosts"), hosts.as_bytes())?;
    let mut resolv = String::new();
    let dns = rec.host_config.dns.clone().unwrap_or_default();
    if dns.is_empty() {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        for l in host.lines() {
            let local = l.starts_with("nameserver")
                && l.split_whitespace()
                    .nth(1)
                    .is_some_and(|ip| ip.starts_with("127."));
            if !local {
                resolv.push_str(l);
                resolv.push('\n');
            }
        }
    } else {
        for d in dns {
            resolv.push_str(&format!("nameserver {d}\n"));
        }
    }
    write_atomic(&dir.join("resolv.conf"), resolv.as_bytes())
}
