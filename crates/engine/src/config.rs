//! Where the engine keeps its data and how it finds its helper binaries.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent data: `<data-root>/engine` (store, volumes), `<data-root>/image`, ...
    pub data_root: PathBuf,
    /// Runtime state: `<exec-root>/containers/<id>` (monitor socket, exit file, bundle).
    pub exec_root: PathBuf,
    /// The `berth-monitor` binary.
    pub monitor_path: PathBuf,
    /// Bridge of the default network (`berth0`); `None` for no default network.
    pub bridge: Option<String>,
    /// The default bridge's address, like dockerd's `--bip` (`172.18.0.1/16`).
    pub bip: Option<String>,
    /// The init binary bind-mounted at `/dev/init` for `--init`, like dockerd's `--init-path`;
    /// `None` searches `docker-init` then `tini-static` in `PATH` and the usual directories.
    pub init_path: Option<PathBuf>,
    /// Warnings `docker info` shows (dockerd's notices about a TCP API without TLS or without
    /// client verification).
    pub info_warnings: Vec<String>,
    /// dockerd's `--seccomp-profile`: the profile of containers that name none.
    pub seccomp: crate::container::seccomp::DaemonSeccomp,
}

impl EngineConfig {
    pub fn new(data_root: PathBuf, exec_root: PathBuf, monitor_path: PathBuf) -> Self {
        EngineConfig {
            data_root,
            exec_root,
            monitor_path,
            bridge: Some("berth0".into()),
            bip: None,
            init_path: None,
            info_warnings: vec![],
            seccomp: Default::default(),
        }
    }

    pub fn engine_dir(&self) -> PathBuf {
        self.data_root.join("engine")
    }

    pub fn container_data_dir(&self, id: &str) -> PathBuf {
        self.data_root.join("engine/containers").join(id)
    }

    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    /// The binary mounted at `/dev/init` for `--init`: `init_path` when set, else the first of
    /// `docker-init`, `tini-static` found in `PATH`, `/usr/bin`, `/usr/libexec/docker`,
    /// `/usr/local/bin` (dockerd's lookup, with Debian's static tini as a fallback).
    pub fn init_binary(&self) -> Result<PathBuf, String> {
        if let Some(p) = &self.init_path {
            return if p.is_file() {
                Ok(p.clone())
            } else {
                Err(format!(
                    "init binary {} (--init-path) does not exist",
                    p.display()
                ))
            };
        }
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(
            ["/usr/bin", "/usr/libexec/docker", "/usr/local/bin"]
                .iter()
                .map(PathBuf::from),
        );
        for name in ["docker-init", "tini-static"] {
            for d in &dirs {
                let p = d.join(name);
                if is_executable(&p) {
                    return Ok(p);
                }
            }
        }
        Err(
            "no init binary found for --init: looked for docker-init and tini-static in PATH, \
             /usr/bin, /usr/libexec/docker and /usr/local/bin (install tini or set the daemon's \
             --init-path)"
                .into(),
        )
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runtime")
    }
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_init_path_is_named() {
        let mut c = EngineConfig::new("/d".into(), "/e".into(), "/m".into());
        c.init_path = Some("/nonexistent/docker-init".into());
        let err = c.init_binary().unwrap_err();
        assert!(err.contains("/nonexistent/docker-init"), "{err}");
        c.init_path = Some("/bin/sh".into());
        assert_eq!(c.init_binary().unwrap(), PathBuf::from("/bin/sh"));
    }
}
