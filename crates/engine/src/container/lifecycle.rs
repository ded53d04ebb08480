//! start, stop, kill, restart, pause, unpause, remove, rename, wait, and what happens when a
//! container exits (state, events, restart policy, auto-remove).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::create::now;
use super::monitor_client;
use super::record::{Container, ContainerRecord};
use crate::Engine;
use crate::error::{Error, Result};
use crate::model::{WaitError, WaitResponse};
use crate::monitor::protocol::{EXIT_FILE, ExitRecord, MonitorSpec, Request};

/// Signal names and numbers as Docker accepts them (`KILL`, `SIGKILL`, `9`).
pub fn parse_signal(s: &str) -> Result<i32> {
    if s.is_empty() {
        return Ok(libc::SIGKILL);
    }
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::InvalidParameter(format!("Invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let sig = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => return Err(Error::InvalidParameter(format!("Invalid signal: {s}"))),
    };
    Ok(sig)
}

fn not_running(id: &str) -> Error {
    Error::Conflict(format!("Container {id} is not running"))
}

impl Engine {
    pub(crate) fn persist(&self, c: &Container) -> Result<()> {
        let rec = c.snapshot();
        self.store
            .update_container(&rec.id, &rec.name, &serde_json::to_string(&rec)?)
    }

    pub(crate) fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let rec = c.rec();
        let mut attrs = BTreeMap::new();
        attrs.insert("image".to_string(), rec.image.clone());
        attrs.insert("name".to_string(), rec.name.clone());
        for (k, v) in &rec.config.labels {
            attrs.insert(k.clone(), v.clone());
        }
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        drop(rec);
        self.events.publish("container", action, &c.id, attrs);
    }

    /// Writes the bundle and the monitor spec, starts the monitor, connects waiting attaches,
    /// then lets the container run.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<()> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        let res = self.start_locked(&c).await;
        // as moby: a container that fails to start with AutoRemove goes away (`run --rm`
        // waits for its removal)
        if let Err(e) = &res
            && !matches!(e, Error::NotModified)
            && c.rec().host_config.auto_remove
        {
            let engine = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move {
                let _ = engine.remove_container(&id, true, true).await;
            });
        }
        res
    }

    async fn start_locked(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let rec = c.snapshot();
        if rec.removing {
            return Err(Error::Conflict(format!(
                "container {} is marked for removal and cannot be started",
                rec.id
            )));
        }
        if rec.state.running {
            return Err(Error::NotModified);
        }
        let run_dir = self.config().container_run_dir(&rec.id);
        let t0 = std::time::Instant::now();
        let launched = match self.take_prelaunch(c) {
            Some(p) => Ok(p.state),
            None => self.launch(&rec, &run_dir).await.map(|(state, _)| state),
        };
        let netstate = match launched {
            Ok(n) => n,
            Err(e) => {
                // waiting attaches end: the client then reports the start error
                c.pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
                {
                    let mut r = c.rec();
                    r.state.error = e.to_string();
                    r.state.exit_code = start_error_code(&r.state.error);
                }
                let _ = self.persist(c);
                return Err(e);
            }
        };
        c.rec().network = netstate;
        // a volume taken from another container is filled (or not) by that one's first start
        for m in c.rec().volumes.clone().into_iter().filter(|m| !m.inherited) {
            let _ = self.mark_volume_initialized(&m.name);
        }
        let pending: Vec<_> =
            std::mem::take(&mut *c.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for p in pending {
            let req = Request::Attach {
                stdin: p.stdin,
                stdout: p.stdout,
                stderr: p.stderr,
            };
            if let Ok(s) = monitor_client::request(&run_dir, &req).await {
                let _ = p.reply.send(s);
            }
        }
        tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros(), "start: launched");
        let watch = match monitor_client::request(&run_dir, &Request::StartWatch).await {
            Ok(w) => w,
            Err(e) => {
                let _ = monitor_client::request(
                    &run_dir,
                    &Request::Kill {
                        signal: libc::SIGKILL,
                        all: true,
                    },
                )
                .await;
                {
                    let mut r = c.rec();
                    r.state.error = e.to_string();
                    r.state.exit_code = start_error_code(&r.state.error);
                }
                self.release_network(c).await;
                self.release_shm(&c.id);
                let _ = self.persist(c);
                return Err(e);
            }
        };
        let pid = std::fs::read_to_string(run_dir.join("init.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        {
            let mut r = c.rec();
            r.state.status = "running".into();
            r.state.running = true;
            r.state.paused = false;
            r.state.restarting = false;
            r.state.pid = pid;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.started_at = now();
            r.state.finished_at = crate::model::ZERO_TIME.into();
            r.manually_stopped = false;
        }
        tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros(), "start: started");
        self.persist(c)?;
        tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros(), "start: persisted");
        // off the latency path now: the directories the next create takes
        self.refill_spares();
        c.lifecycle.send_modify(|l| l.running = true);
        self.watch_exit(c.clone(), watch);
        self.container_event(c, "start", &[]);
        self.start_health(c);
        Ok(())
    }

    /// Everything of a start up to the OCI "created" state: the sandbox, the monitor's
    /// runtime create and the network endpoints. Returns the network's state and namespace.
    pub(super) async fn launch(
        &self,
        rec: &ContainerRecord,
        run_dir: &std::path::Path,
    ) -> Result<(crate::network::NetworkState, Option<std::path::PathBuf>)> {
        let joins = self.namespace_joins(rec, run_dir)?;
        let res = self.launch_joined(rec, run_dir, &joins).await;
        if res.is_err() {
            self.release_shm(&rec.id);
        }
        res
    }

    async fn launch_joined(
        &self,
        rec: &ContainerRecord,
        run_dir: &std::path::Path,
        joins: &super::shared_ns::Joins,
    ) -> Result<(crate::network::NetworkState, Option<std::path::PathBuf>)> {
        let _ = std::fs::remove_dir_all(run_dir.join("bundle/rootfs"));
        for f in [EXIT_FILE, "init.pid"] {
            let _ = std::fs::remove_file(run_dir.join(f));
        }
        let bundle = run_dir.join("bundle");
        std::fs::create_dir_all(&bundle)
            .map_err(|e| Error::io(format!("create {}", bundle.display()), e))?;
        let etc = run_dir.join("etc");
        std::fs::create_dir_all(&etc)
            .map_err(|e| Error::io(format!("create {}", etc.display()), e))?;
        let t0 = std::time::Instant::now();
        let mut sandbox = self.prepare_network(rec, run_dir, &etc).await?;
        tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros(), "start: sandbox prepared");
        let netns = sandbox.netns.clone();
        // the endpoints (veth, address, ports) are attached while the monitor creates the
        // container: the runtime needs only the namespace, and the process cannot run before
        // `Start`
        // `join!` polls in order: the monitor's launch first, so its process is under way
        // before the attach's synchronous parts (netlink, nftables) take this thread
        let (launched, attached) = tokio::join!(
            self.launch_monitor(rec, run_dir, &bundle, &etc, netns.as_deref(), joins),
            async {
                let r = self.attach_network(rec, &etc, &mut sandbox).await;
                tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros(), "start: network attached");
                r
            },
        );
        let res = match (attached, launched) {
            (Ok(()), Ok(())) => return Ok((sandbox.state, netns)),
            (Err(e), Ok(())) => {
                self.abandon_created(run_dir).await;
                Err(e)
            }
            (_, Err(e)) => Err(e),
        };
        if rec.host_config.network_mode.starts_with("container:") {
            self.teardown_network(&rec.id, None).await;
        } else {
            self.teardown_network(&rec.id, netns.as_deref()).await;
        }
        res
    }

    /// Kills a container its monitor created but that will not start, and waits for the
    /// monitor to clean up and exit.
    pub(super) async fn abandon_created(&self, run_dir: &std::path::Path) {
        let watch = monitor_client::request(run_dir, &Request::Watch).await.ok();
        kill_created(run_dir, watch).await;
    }

    async fn launch_monitor(
        &self,
        rec: &ContainerRecord,
        run_dir: &std::path::Path,
        bundle: &std::path::Path,
        etc: &std::path::Path,
        netns: Option<&std::path::Path>,
        joins: &super::shared_ns::Joins,
    ) -> Result<()> {
        let mut volume_mounts = vec![];
        for b in rec.host_config.binds.iter().flatten() {
            let (src, dst, ro) = super::spec::parse_bind(b)?;
            if !src.starts_with('/') {
                continue;
            }
            if !std::path::Path::new(&src).exists() {
                std::fs::create_dir_all(&src)
                    .map_err(|e| Error::io(format!("create bind source {src}"), e))?;
            }
            volume_mounts.push((src, dst, ro));
        }
        for b in &rec.binds_from {
            volume_mounts.push((b.source.clone(), b.destination.clone(), b.read_only));
        }
        let mut copy_up = vec![];
        for (src, dst, ro, fresh) in self.resolve_volume_mounts(&rec.volumes)? {
            if fresh {
                copy_up.push((dst.clone(), std::path::PathBuf::from(&src)));
            }
            volume_mounts.push((src, dst, ro));
        }
        let init = match rec.host_config.init {
            Some(true) => Some(self.config().init_binary().map_err(Error::Internal)?),
            _ => None,
        };
        let config = super::spec::oci_config(
            rec,
            etc,
            &volume_mounts,
            netns,
            init.as_deref(),
            &self.config().seccomp,
            joins,
        )?;
        super::fsutil::write_atomic(&bundle.join("config.json"), config.to_string().as_bytes())?;
        let spec = MonitorSpec {
            id: rec.id.clone(),
            bundle: bundle.to_path_buf(),
            copy_up,
            rootfs_mounts: rec.rootfs_mounts.clone(),
            runtime_root: self.config().runtime_root(),
            tty: rec.config.tty,
            open_stdin: rec.config.open_stdin,
            stdin_once: rec.config.stdin_once,
            log_path: rec.log_path.clone().into(),
            log: super::logopts::monitor_spec(rec)?,
            user: rec.config.user.clone(),
            group_add: super::hostopts::group_add(&rec.host_config)?,
            console_size: rec
                .host_config
                .console_size
                .filter(|[h, w]| *h > 0 && *w > 0)
                .map(|[h, w]| (h as u16, w as u16)),
        };
        super::fsutil::write_atomic(
            &run_dir.join(crate::monitor::protocol::SPEC_FILE),
            &serde_json::to_vec(&spec)?,
        )?;
        let t0 = std::time::Instant::now();
        tracing::debug!(id = %rec.id, "start: spec written");
        let pid = self.monitors.spawn(run_dir).await?;
        tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros(), "start: monitor created the container");
        let _ = std::fs::write(run_dir.join("init.pid"), pid.to_string());
        Ok(())
    }

    /// Frees what the network layer gave a container that stopped.
    pub(crate) async fn release_network(&self, c: &Container) {
        let (mode, key) = {
            let mut r = c.rec();
            let key = std::mem::take(&mut r.network.sandbox_key);
            r.network = Default::default();
            (r.host_config.network_mode.clone(), key)
        };
        if mode == "host" || mode.starts_with("container:") {
            return;
        }
        let ns = (!key.is_empty()).then(|| std::path::PathBuf::from(key));
        self.teardown_network(&c.id, ns.as_deref()).await;
    }

    /// Follows a monitor's watch connection; when it ends, the container has exited.
    pub(crate) fn watch_exit(
        self: &Arc<Self>,
        c: Arc<Container>,
        mut watch: tokio::net::UnixStream,
    ) {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = watch.read_to_end(&mut buf).await;
            if let Some(engine) = engine.upgrade() {
                engine.on_exit(&c).await;
            }
        });
    }

    /// Records an exit (from the monitor's exit file) and applies the restart policy or
    /// auto-remove.
    pub(crate) async fn on_exit(self: &Arc<Self>, c: &Arc<Container>) {
        tracing::debug!(id = %c.id, "exit: seen");
        let run_dir = self.config().container_run_dir(&c.id);
        let exit: ExitRecord = std::fs::read(run_dir.join(EXIT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(ExitRecord {
                exit_code: 255,
                finished_at: now(),
                error: "the container's monitor disappeared".into(),
            });
        let (auto_remove, policy, retries, manually) = {
            let mut r = c.rec();
            r.state.status = "exited".into();
            r.state.running = false;
            r.state.paused = false;
            r.state.pid = 0;
            r.state.exit_code = exit.exit_code;
            r.state.finished_at = exit.finished_at.clone();
            r.state.error = exit.error.clone();
            (
                r.host_config.auto_remove,
                r.host_config.restart_policy.name.clone(),
                r.host_config.restart_policy.maximum_retry_count,
                r.manually_stopped,
            )
        };
        let t0 = std::time::Instant::now();
        self.release_network(c).await;
        self.release_shm(&c.id);
        tracing::debug!(id = %c.id, us = t0.elapsed().as_micros(), "exit: network released");
        let _ = self.persist(c);
        self.container_event(c, "die", &[("exitCode", exit.exit_code.to_string())]);
        c.lifecycle.send_modify(|l| {
            l.exits += 1;
            l.exit_code = exit.exit_code;
            l.running = false;
        });
        if auto_remove {
            let engine = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move {
                let _ = engine.remove_container(&id, true, false).await;
            });
            return;
        }
        let count = c.rec().restart_count;
        let restart = !manually
            && match policy.as_str() {
                "always" | "unless-stopped" => true,
                "on-failure" => exit.exit_code != 0 && (retries <= 0 || count < retries),
                _ => false,
            };
        if restart {
            let engine = self.clone();
            let c = c.clone();
            tokio::spawn(async move {
                let delay = Duration::from_millis(100u64 << count.clamp(0, 10));
                {
                    let mut r = c.rec();
                    r.state.restarting = true;
                    r.state.status = "restarting".into();
                }
                tokio::time::sleep(delay.min(Duration::from_secs(60))).await;
                let _op = c.op.lock().await;
                if c.rec().manually_stopped || c.rec().removing {
                    c.rec().state.restarting = false;
                    return;
                }
                c.rec().restart_count += 1;
                if engine.start_locked(&c).await.is_err() {
                    let mut r = c.rec();
                    r.state.restarting = false;
                    r.state.status = "exited".into();
                }
            });
        }
    }

    /// `POST /containers/{id}/wait`: resolves the condition now, returns a future for the body.
    pub fn wait(
        &self,
        name: &str,
        condition: &str,
    ) -> Result<impl std::future::Future<Output = WaitResponse> + Send + 'static> {
        let c = self.containers.get(name)?;
        let mut rx = c.lifecycle.subscribe();
        let start = rx.borrow().clone();
        let cond = match condition {
            "" | "not-running" => 0,
            "next-exit" => 1,
            "removed" => 2,
            other => {
                return Err(Error::InvalidParameter(format!(
                    "invalid condition: \"{other}\""
                )));
            }
        };
        drop(c);
        Ok(async move {
            if cond == 0 && !start.running {
                return WaitResponse {
                    status_code: start.exit_code,
                    error: None,
                };
            }
            loop {
                let l = rx.borrow().clone();
                let done = match cond {
                    2 => l.removed,
                    _ => l.exits > start.exits,
                };
                if done {
                    return WaitResponse {
                        status_code: l.exit_code,
                        error: None,
                    };
                }
                if rx.changed().await.is_err() {
                    let l = rx.borrow().clone();
                    return WaitResponse {
                        status_code: l.exit_code,
                        error: (cond != 2).then(|| WaitError {
                            message: "container removed".into(),
                        }),
                    };
                }
            }
        })
    }

    pub async fn kill(&self, name: &str, signal: &str) -> Result<()> {
        let sig = parse_signal(signal)?;
        let c = self.containers.get(name)?;
        if !c.rec().state.running {
            return Err(not_running(&c.id));
        }
        let run_dir = self.config().container_run_dir(&c.id);
        if sig == libc::SIGKILL {
            c.rec().manually_stopped = true;
        }
        monitor_client::request(
            &run_dir,
            &Request::Kill {
                signal: sig,
                all: false,
            },
        )
        .await?;
        self.container_event(&c, "kill", &[("signal", sig.to_string())]);
        Ok(())
    }

    /// StopSignal, then SIGKILL after the timeout (`t`, else StopTimeout, else 10 s).
    pub async fn stop(&self, name: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<()> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        self.stop_locked(&c, timeout, signal).await
    }

    async fn stop_locked(
        &self,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let (running, stop_signal, stop_timeout) = {
            let mut r = c.rec();
            r.manually_stopped = true;
            (
                r.state.running,
                r.config.stop_signal.clone(),
                r.config.stop_timeout,
            )
        };
        let _ = self.persist(c);
        if !running {
            return Err(Error::NotModified);
        }
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None if !stop_signal.is_empty() => parse_signal(&stop_signal)?,
            None => libc::SIGTERM,
        };
        let t = timeout.or(stop_timeout).unwrap_or(10);
        let mut rx = c.lifecycle.subscribe();
        let before = rx.borrow().exits;
        let run_dir = self.config().container_run_dir(&c.id);
        let _ = monitor_client::request(
            &run_dir,
            &Request::Kill {
                signal: sig,
                all: false,
            },
        )
        .await;
        let exited = async {
            while rx.borrow().exits == before {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        };
        let in_time = if t < 0 {
            exited.await;
            true
        } else {
            tokio::time::timeout(Duration::from_secs(t as u64), exited)
                .await
                .is_ok()
        };
        if !in_time {
            let _ = monitor_client::request(
                &run_dir,
                &Request::Kill {
                    signal: libc::SIGKILL,
                    all: true,
                },
            )
            .await;
            let mut rx = c.lifecycle.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(30), async {
                while rx.borrow().exits == before {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await;
        }
        self.container_event(c, "stop", &[]);
        Ok(())
    }

    pub async fn restart(self: &Arc<Self>, name: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        match self.stop_locked(&c, timeout, None).await {
            Ok(()) | Err(Error::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.start_locked(&c).await?;
        self.container_event(&c, "restart", &[]);
        Ok(())
    }

    pub async fn pause(&self, name: &str, pause: bool) -> Result<()> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        let (running, paused) = {
            let r = c.rec();
            (r.state.running, r.state.paused)
        };
        if !running {
            return Err(not_running(&c.id));
        }
        if pause && paused {
            return Err(Error::Conflict(format!(
                "Container {} is already paused",
                c.id
            )));
        }
        if !pause && !paused {
            return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
        }
        let run_dir = self.config().container_run_dir(&c.id);
        monitor_client::request(
            &run_dir,
            if pause {
                &Request::Pause
            } else {
                &Request::Resume
            },
        )
        .await?;
        {
            let mut r = c.rec();
            r.state.paused = pause;
            r.state.status = if pause { "paused" } else { "running" }.into();
        }
        self.persist(&c)?;
        self.container_event(&c, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    pub async fn resize(&self, name: &str, height: u16, width: u16) -> Result<()> {
        let c = self.containers.get(name)?;
        if !c.rec().state.running {
            return Err(Error::Conflict(format!(
                "cannot resize a stopped container: {}",
                c.id
            )));
        }
        let run_dir = self.config().container_run_dir(&c.id);
        monitor_client::request(&run_dir, &Request::Resize { height, width }).await?;
        Ok(())
    }

    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let new = super::ids::validate_name(new_name).map_err(Error::InvalidParameter)?;
        let c = self.containers.get(name)?;
        let old = c.rec().name.clone();
        if old == new {
            return Err(Error::InvalidParameter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(holder) = self.containers.by_name(&new) {
            return Err(Error::Conflict(format!(
                "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                holder.id
            )));
        }
        // a launch done ahead registered the old name with the network's DNS
        let _op = if c.rec().state.running {
            None
        } else {
            let op = c.op.lock().await;
            self.undo_prelaunch(&c).await;
            Some(op)
        };
        c.rec().name = new.clone();
        if let Err(e) = self.persist(&c) {
            c.rec().name = old;
            return Err(e);
        }
        self.container_event(&c, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    /// `DELETE /containers/{id}`: a running container needs `force`.
    pub async fn remove_container(&self, name: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.containers.get(name)?;
        let _op = c.op.lock().await;
        self.undo_prelaunch(&c).await;
        if c.rec().removing && !self.containers.all().iter().any(|x| x.id == c.id) {
            return Ok(());
        }
        if c.rec().state.running {
            if !force {
                return Err(Error::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            c.rec().manually_stopped = true;
            let mut rx = c.lifecycle.subscribe();
            let before = rx.borrow().exits;
            let run_dir = self.config().container_run_dir(&c.id);
            let _ = monitor_client::request(
                &run_dir,
                &Request::Kill {
                    signal: libc::SIGKILL,
                    all: true,
                },
            )
            .await;
            let _ = tokio::time::timeout(Duration::from_secs(30), async {
                while rx.borrow().exits == before {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await;
        }
        c.rec().removing = true;
        self.persist(&c)?;
        let anonymous: Vec<String> = c
            .rec()
            .volumes
            .iter()
            .filter(|v| !v.inherited)
            .map(|v| v.name.clone())
            .collect();
        self.finish_remove(&c).await?;
        if volumes || c.rec().host_config.auto_remove {
            for v in anonymous {
                if self.inspect_volume(&v).is_ok_and(|v| v.anonymous) {
                    let _ = self.remove_volume(&v, false);
                }
            }
        }
        Ok(())
    }

    /// The part of a remove that a restart after a crash can redo.
    pub(crate) async fn finish_remove(&self, c: &Arc<Container>) -> Result<()> {
        let run_dir = self.config().container_run_dir(&c.id);
        // a monitor still alive (a remove cut short by a crash) is stopped first
        for _ in 0..200 {
            let kill = Request::Kill {
                signal: libc::SIGKILL,
                all: true,
            };
            match monitor_client::request(&run_dir, &kill).await {
                Err(Error::Io { .. }) => break,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let t0 = std::time::Instant::now();
        self.release_network(c).await;
        let netns = run_dir.join("netns");
        if netns.exists() {
            self.teardown_network(&c.id, Some(&netns)).await;
        }
        tracing::debug!(id = %c.id, us = t0.elapsed().as_micros(), "remove: network released");
        self.release_shm(&c.id);
        let rootfs = run_dir.join("bundle/rootfs");
        let _ = berth_image::unmount(&rootfs);
        tracing::debug!(id = %c.id, us = t0.elapsed().as_micros(), "remove: rootfs unmounted");
        // the slow recursive deletes happen after the remove answers (container/trash.rs)
        let key = c.id.clone();
        let layer = match self
            .with_images(move |s| Ok(s.detach_snapshot(&key)?))
            .await
        {
            Ok(p) => p,
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let trashed: Vec<_> = layer
            .into_iter()
            .chain(self.to_trash(&run_dir))
            .chain(self.to_trash(&self.config().container_data_dir(&c.id)))
            .collect();
        tracing::debug!(id = %c.id, us = t0.elapsed().as_micros(), "remove: files moved to the trash");
        self.store.delete_container(&c.id)?;
        tracing::debug!(id = %c.id, us = t0.elapsed().as_micros(), "remove: record deleted");
        super::trash::delete_later(trashed);
        self.forget_execs(&c.id);
        self.containers.remove(&c.id);
        c.lifecycle.send_modify(|l| l.removed = true);
        self.container_event(c, "destroy", &[]);
        Ok(())
    }
}

/// SIGKILLs a created container through its monitor and waits (up to 10 s) for the end of the
/// monitor's `watch` connection, i.e. for the monitor to have cleaned up and exited.
pub(crate) async fn kill_created(run_dir: &std::path::Path, watch: Option<tokio::net::UnixStream>) {
    let kill = Request::Kill {
        signal: libc::SIGKILL,
        all: true,
    };
    let _ = monitor_client::request(run_dir, &kill).await;
    if let Some(mut w) = watch {
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), w.read_to_end(&mut sink)).await;
    }
}

/// Docker's exit codes for a failed start: 127 when the command is missing, 126 when it
/// cannot run.
fn start_error_code(msg: &str) -> i64 {
    if msg.contains("not found") || msg.contains("No such file") || msg.contains("no such file") {
        127
    } else if msg.contains("ermission denied") {
        126
    } else {
        128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_docker() {
        assert_eq!(parse_signal("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("15").unwrap(), 15);
        assert_eq!(parse_signal("").unwrap(), libc::SIGKILL);
        assert!(
            parse_signal("NOPE")
                .unwrap_err()
                .to_string()
                .contains("Invalid signal: NOPE")
        );
        assert!(parse_signal("99").is_err());
    }
}
