//! `POST /containers/{id}/update`: new resource limits and restart policy, applied to a running
//! container's cgroups through the runtime library and kept in the record's HostConfig.

use serde::Deserialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{HostConfig, RestartPolicy};

/// Docker's `UpdateConfig`: zero (or absent) means "leave as it is".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateRequest {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub blkio_weight: u16,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<RestartPolicy>,
}

/// The new HostConfig, or Docker's message naming what is wrong.
pub fn merge(hc: &HostConfig, u: &UpdateRequest) -> Result<HostConfig> {
    let bad = |m: &str| Err(Error::InvalidParameter(m.to_string()));
    for (name, v) in [
        ("Memory", u.memory),
        ("MemoryReservation", u.memory_reservation),
        ("NanoCpus", u.nano_cpus),
        ("CpuShares", u.cpu_shares),
        ("CpuPeriod", u.cpu_period),
        ("CpuQuota", u.cpu_quota),
    ] {
        if v < 0 {
            return Err(Error::InvalidParameter(format!(
                "invalid {name}: {v} is negative"
            )));
        }
    }
    if u.memory_swap < -1 {
        return bad("invalid MemorySwap: must be -1 (unlimited) or a positive size");
    }
    if u.nano_cpus > 0 && (u.cpu_period > 0 || u.cpu_quota > 0) {
        return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if u.cpu_period > 0 && !(1000..=1_000_000).contains(&u.cpu_period) {
        return bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    if u.cpu_quota > 0 && u.cpu_quota < 1000 {
        return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if !u.cpuset_cpus.is_empty() || !u.cpuset_mems.is_empty() {
        let sys = super::sysinfo::SysInfo::host();
        super::sysinfo::check_cpus(&u.cpuset_cpus, &sys.cpus).map_err(Error::InvalidParameter)?;
        super::sysinfo::check_mems(&u.cpuset_mems, &sys.mems).map_err(Error::InvalidParameter)?;
    }
    let mut n = hc.clone();
    if u.memory > 0 {
        n.memory = u.memory;
    }
    if u.memory_swap != 0 {
        n.memory_swap = u.memory_swap;
    }
    if u.memory_reservation != 0 {
        n.memory_reservation = u.memory_reservation;
    }
    if u.blkio_weight != 0 {
        n.blkio_weight = u.blkio_weight;
    }
    // moby's update message when only the memory limit moves past the swap limit
    if u.memory > 0 && u.memory_swap == 0 && n.memory_swap > 0 && n.memory_swap < n.memory {
        return bad(
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
        );
    }
    super::spec::check_memory_and_blkio(&n, true)?;
    if u.nano_cpus > 0 {
        n.nano_cpus = u.nano_cpus;
        n.cpu_period = 0;
        n.cpu_quota = 0;
    }
    if u.cpu_shares > 0 {
        n.cpu_shares = u.cpu_shares;
    }
    if u.cpu_period > 0 || u.cpu_quota > 0 {
        if hc.nano_cpus > 0 {
            return bad(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            );
        }
        if u.cpu_period > 0 {
            n.cpu_period = u.cpu_period;
        }
        if u.cpu_quota > 0 {
            n.cpu_quota = u.cpu_quota;
        }
    }
    if !u.cpuset_cpus.is_empty() {
        n.cpuset_cpus = u.cpuset_cpus.clone();
    }
    if !u.cpuset_mems.is_empty() {
        n.extra
            .insert("CpusetMems".into(), u.cpuset_mems.clone().into());
    }
    if let Some(p) = u.pids_limit {
        n.pids_limit = Some(p);
    }
    if let Some(rp) = u.restart_policy.as_ref().filter(|rp| !rp.name.is_empty()) {
        match rp.name.as_str() {
            "no" | "always" | "unless-stopped" if rp.maximum_retry_count != 0 => {
                return Err(Error::InvalidParameter(format!(
                    "invalid restart policy: maximum retry count can only be used with 'on-failure' (got {})",
                    rp.name
                )));
            }
            "no" | "always" | "unless-stopped" | "on-failure" => {}
            other => {
                return Err(Error::InvalidParameter(format!(
                    "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
                )));
            }
        }
        if rp.maximum_retry_count < 0 {
            return bad("invalid restart policy: maximum retry count cannot be negative");
        }
        if hc.auto_remove && rp.name != "no" {
            return bad(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            );
        }
        n.restart_policy = rp.clone();
    }
    Ok(n)
}

/// The update sets a cpuset limit on a container that had none.
fn cpuset_added(old: &HostConfig, u: &UpdateRequest) -> bool {
    let had = !old.cpuset_cpus.is_empty()
        || super::hostopts::string(old, "CpusetMems").is_ok_and(|m| !m.is_empty());
    !had && (!u.cpuset_cpus.is_empty() || !u.cpuset_mems.is_empty())
}

/// The OCI `linux.resources` for this HostConfig: the bundle's rules (`spec::linux_resources`).
pub fn resources(hc: &HostConfig) -> Result<oci_spec::runtime::LinuxResources> {
    serde_json::from_value(super::spec::linux_resources(hc))
        .map_err(|e| Error::Internal(format!("resources: {e}")))
}

impl Engine {
    /// Applies `u` to the container (its cgroups when it runs) and records it in HostConfig.
    pub async fn update_container(&self, name: &str, u: UpdateRequest) -> Result<Vec<String>> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        let (old, running) = {
            let r = c.rec();
            (r.host_config.clone(), r.state.running)
        };
        let new = merge(&old, &u)?;
        if running && cpuset_added(&old, &u) && !super::sysinfo::SysInfo::host().unified {
            // berth-runtime puts a v1 container in the cpuset hierarchy only when it starts
            // with cpuset limits (runc always does)
            return Err(Error::InvalidParameter(format!(
                "Cannot update container {}: cpuset limits can only be changed on a running container started with --cpuset-cpus or --cpuset-mems (its cgroup has no cpuset); updated while it is stopped, they apply at its next start",
                c.id
            )));
        }
        if running {
            let res = resources(&new)?;
            let root = self.config().runtime_root();
            let id = c.id.clone();
            tokio::task::spawn_blocking(move || {
                berth_runtime::Runtime::new(root)
                    .load(&id)
                    .and_then(|ct| ct.update(&res))
            })
            .await
            .map_err(|e| Error::Internal(format!("update task: {e}")))?
            .map_err(|e| Error::Internal(format!("Cannot update container {}: {e}", c.id)))?;
        }
        c.rec().host_config = new;
        if let Err(e) = self.persist(&c) {
            c.rec().host_config = old;
            return Err(e);
        }
        self.container_event(&c, "update", &[]);
        Ok(vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_unset_fields_and_checks_docker_rules() {
        let hc = HostConfig {
            cpu_shares: 512,
            ..Default::default()
        };
        let u = UpdateRequest {
            memory: 64 << 20,
            pids_limit: Some(50),
            ..Default::default()
        };
        let n = merge(&hc, &u).expect("valid update");
        assert_eq!(n.memory, 64 << 20);
        assert_eq!(n.pids_limit, Some(50));
        assert_eq!(n.cpu_shares, 512);

        let small = UpdateRequest {
            memory: 1024,
            ..Default::default()
        };
        assert!(merge(&hc, &small).is_err());
        let both = UpdateRequest {
            nano_cpus: 1_000_000_000,
            cpu_quota: 50_000,
            ..Default::default()
        };
        assert!(merge(&hc, &both).is_err());
        let bad_policy = UpdateRequest {
            restart_policy: Some(RestartPolicy {
                name: "sometimes".into(),
                maximum_retry_count: 0,
            }),
            ..Default::default()
        };
        assert!(merge(&hc, &bad_policy).is_err());
        let bad_cpus = UpdateRequest {
            cpuset_cpus: "0-".into(),
            ..Default::default()
        };
        assert_eq!(
            merge(&hc, &bad_cpus).unwrap_err().to_string(),
            "Invalid value 0- for cpuset cpus: invalid format: 0-"
        );
    }

    #[test]
    fn resources_follow_the_host_config() {
        let hc = HostConfig {
            memory: 64 << 20,
            pids_limit: Some(50),
            nano_cpus: 500_000_000,
            ..Default::default()
        };
        let r = resources(&hc).expect("resources");
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(64 << 20));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(50));
        assert_eq!(r.cpu().as_ref().and_then(|c| c.quota()), Some(50_000));
    }
}
