//! RUN steps: an OCI bundle over the mounted snapshot, executed by spawning the
//! `berth-runtime run` binary. The runtime library makes the container's init a child of the
//! caller and must not be driven by forking a multi-threaded process (the daemon is tokio), so
//! the builder always runs it in a separate process; the runtime process is single-threaded.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::BuildError;
use crate::fsutil::{Scope, resolve_in};

/// The network a RUN step gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// The host's network namespace (with the host's resolv.conf); the default until the
    /// builder is given bridge networking.
    #[default]
    Host,
    /// A private network namespace with only loopback.
    None,
}

impl NetworkMode {
    /// Docker's `networkmode` query values: `default`, `host`, `none` (`bridge` maps to host
    /// for now).
    pub fn parse(s: &str) -> Result<NetworkMode, BuildError> {
        match s {
            "" | "default" | "host" | "bridge" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            other => Err(BuildError::Other(format!(
                "network mode {other:?} is not supported for builds"
            ))),
        }
    }
}

/// What to run.
pub struct RunSpec<'a> {
    pub id: &'a str,
    pub rootfs: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub network: NetworkMode,
    /// A script to expose at `/dev/pipes/<name>` (heredoc with a shebang).
    pub script: Option<(String, String)>,
    /// `linux.seccomp` of the step's container.
    pub seccomp: Option<&'a serde_json::Value>,
}

const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Resolves Docker's `USER` (`name`, `uid`, `name:group`, `uid:gid`) against the rootfs'
/// `/etc/passwd` and `/etc/group`.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32), BuildError> {
    if user.is_empty() {
        return Ok((0, 0));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let read = |p: &str| {
        resolve_in(rootfs, p, Scope::Chroot, true)
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let passwd = read("/etc/passwd");
    let (uid, primary) = match u.parse::<u32>() {
        Ok(n) => {
            let gid = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[2] == u)
                .and_then(|f| f[3].parse().ok())
                .unwrap_or(0);
            (n, gid)
        }
        Err(_) => passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == u)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .ok_or_else(|| {
                BuildError::Step(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                ))
            })?,
    };
    let gid = match g {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => read("/etc/group")
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    BuildError::Step(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        },
    };
    Ok((uid, gid))
}

/// The caller's own open-files limit: a build step may not raise it (no CAP_SYS_RESOURCE).
fn nofile_limit() -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return (1024, 1024);
    }
    (r.rlim_cur, r.rlim_max)
}

fn bundle_config(
    spec: &RunSpec<'_>,
    uid: u32,
    gid: u32,
    script: Option<&Path>,
) -> serde_json::Value {
    let (soft, hard) = nofile_limit();
    let mut v = serde_json::to_value(oci_spec::runtime::Spec::default()).unwrap_or_default();
    let caps: Vec<&str> = DOCKER_CAPS.to_vec();
    v["root"] = serde_json::json!({ "path": spec.rootfs, "readonly": false });
    v["hostname"] = serde_json::json!(&spec.id[..spec.id.len().min(12)]);
    v["process"] = serde_json::json!({
        "terminal": false,
        "user": { "uid": uid, "gid": gid },
        "args": spec.args,
        "env": spec.env,
        "cwd": spec.cwd,
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": hard, "soft": soft }],
        "noNewPrivileges": false,
    });
    let mut mounts = v["mounts"].as_array().cloned().unwrap_or_default();
    if spec.network == NetworkMode::Host {
        for f in ["/etc/resolv.conf", "/etc/hosts"] {
            if Path::new(f).exists() {
                mounts.push(serde_json::json!({
                    "destination": f, "type": "bind", "source": f, "options": ["rbind", "ro"]
                }));
            }
        }
        if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
    }
    if let (Some(host), Some((name, _))) = (script, &spec.script) {
        mounts.push(serde_json::json!({
            "destination": format!("/dev/pipes/{name}"), "type": "bind",
            "source": host, "options": ["rbind", "ro"]
        }));
    }
    v["mounts"] = serde_json::Value::Array(mounts);
    // No cgroup limits for build steps, but Docker's device rules: every device denied but
    // those the runtime allows every container (null, zero, tty, ...).
    if let Some(linux) = v["linux"].as_object_mut() {
        linux.insert(
            "resources".into(),
            serde_json::json!({ "devices": [{ "allow": false, "access": "rwm" }] }),
        );
        if let Some(s) = spec.seccomp {
            linux.insert("seccomp".into(), s.clone());
        }
    }
    v
}

/// Files the bundle bind-mounts over; created empty when missing and removed afterwards so
/// they do not end up in the layer.
fn mount_targets(spec: &RunSpec<'_>) -> Vec<&'static str> {
    if spec.network == NetworkMode::Host {
        vec!["etc/resolv.conf", "etc/hosts"]
    } else {
        vec![]
    }
}

/// Runs the step; `output` receives the process' combined stdout and stderr as it comes.
/// Returns the exit code.
pub fn run_step(
    runtime: &Path,
    state: &Path,
    spec: &RunSpec<'_>,
    cancel: &super::Cancel,
    output: &mut dyn FnMut(&str),
) -> Result<i32, BuildError> {
    let err = |what: &str, e: std::io::Error| BuildError::Other(format!("{what}: {e}"));
    let (uid, gid) = resolve_user(spec.rootfs, &spec.user)?;
    let bundle = state.join("bundles").join(spec.id);
    std::fs::create_dir_all(&bundle).map_err(|e| err("create bundle", e))?;
    let _cleanup = RemoveDir(bundle.clone());
    let script_path = match &spec.script {
        Some((_, content)) => {
            use std::os::unix::fs::PermissionsExt;
            let p = bundle.join("script");
            std::fs::write(&p, content).map_err(|e| err("write script", e))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| err("chmod script", e))?;
            Some(p)
        }
        None => None,
    };
    let mut created: BTreeSet<PathBuf> = BTreeSet::new();
    for t in mount_targets(spec) {
        let p = spec.rootfs.join(t);
        if std::fs::symlink_metadata(&p).is_err() && p.parent().is_some_and(|d| d.is_dir()) {
            std::fs::write(&p, b"").map_err(|e| err("create mount target", e))?;
            created.insert(p);
        }
    }
    let config = bundle_config(spec, uid, gid, script_path.as_deref());
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&config).unwrap_or_default(),
    )
    .map_err(|e| err("write config.json", e))?;
    let (mut reader, writer) = std::io::pipe().map_err(|e| err("pipe", e))?;
    let writer2 = writer.try_clone().map_err(|e| err("pipe", e))?;
    let mut child = Command::new(runtime)
        .arg("--root")
        .arg(state.join("runtime"))
        .arg("run")
        .arg("--bundle")
        .arg(&bundle)
        .arg(spec.id)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .spawn()
        .map_err(|e| err(&format!("start {}", runtime.display()), e))?;
    // While the step runs, a watcher kills its container if the build is cancelled; the
    // runtime's `run` then removes it and exits, which ends the output below.
    let running = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|s| {
        s.spawn(|| {
            while running.load(std::sync::atomic::Ordering::SeqCst) {
                if cancel.is_cancelled() {
                    let _ = Command::new(runtime)
                        .arg("--root")
                        .arg(state.join("runtime"))
                        .args(["kill", spec.id, "KILL"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        let r = forward_output(&mut reader, output);
        running.store(false, std::sync::atomic::Ordering::SeqCst);
        r
    })?;
    let status = child.wait().map_err(|e| err("wait for runtime", e))?;
    for p in created {
        if std::fs::metadata(&p).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&p);
        }
    }
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
}

/// Forwards a step's output until the pipe closes, in whole UTF-8 pieces.
fn forward_output(
    reader: &mut std::io::PipeReader,
    output: &mut dyn FnMut(&str),
) -> Result<(), BuildError> {
    let err = |what: &str, e: std::io::Error| BuildError::Other(format!("{what}: {e}"));
    let mut buf = [0u8; 8192];
    let mut pending = Vec::new();
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                // Forward whole UTF-8 prefixes only.
                let valid = match std::str::from_utf8(&pending) {
                    Ok(s) => s.len(),
                    Err(e) => e.valid_up_to(),
                };
                if valid > 0 {
                    output(&String::from_utf8_lossy(&pending[..valid]));
                    pending.drain(..valid);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err("read step output", e)),
        }
    }
    if !pending.is_empty() {
        output(&String::from_utf8_lossy(&pending));
    }
    Ok(())
}

struct RemoveDir(PathBuf);
impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The runtime binary: `BERTH_RUNTIME`, else `berth-runtime` next to the current executable
/// (or its parent, for test binaries in `target/*/deps`), else on `PATH`.
pub fn find_runtime() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_RUNTIME") {
        return Some(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        for d in [Some(dir), dir.parent()].into_iter().flatten() {
            let p = d.join("berth-runtime");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("berth-runtime"))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_from_the_rootfs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(resolve_user(d.path(), "").unwrap(), (0, 0));
        assert_eq!(resolve_user(d.path(), "app").unwrap(), (1000, 1001));
        assert_eq!(resolve_user(d.path(), "app:staff").unwrap(), (1000, 50));
        assert_eq!(resolve_user(d.path(), "1000").unwrap(), (1000, 1001));
        assert_eq!(resolve_user(d.path(), "42:43").unwrap(), (42, 43));
        let e = resolve_user(d.path(), "nobody").unwrap_err();
        assert!(e.to_string().contains("unable to find user nobody"), "{e}");
        assert!(resolve_user(d.path(), "app:nogroup").is_err());
    }
}
