//! `POST /containers/create`: validate, merge the image's config as Docker does, claim the name
//! in the store, prepare the writable layer. A failure leaves nothing behind.

use std::sync::Arc;

use berth_image::ContainerConfig as ImageCfg;

use super::ids;
use super::record::{Container, ContainerRecord};
use crate::Engine;
use crate::error::{Error, Result};
use crate::model::{ContainerState, CreateRequest, CreateResponse, Mount};
use crate::monitor::protocol::RootfsMount;
use crate::volumes::clean_path;

/// Docker's merge (moby `daemon/create.go`, `merge`): the image fills what the user left unset.
pub fn merge_image_config(req: &mut CreateRequest, img: &ImageCfg) {
    let c = &mut req.config;
    if c.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if c.cmd.as_ref().is_none_or(|e| e.is_empty()) {
            c.cmd = img.cmd.clone();
        }
        if c.entrypoint.is_none() {
            c.entrypoint = img.entrypoint.clone();
        }
    }
    let mut env = img.env.clone().unwrap_or_default();
    for e in &c.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    c.env = env;
    if c.user.is_empty() {
        c.user = img.user.clone().unwrap_or_default();
    }
    if c.working_dir.is_empty() {
        c.working_dir = img.working_dir.clone().unwrap_or_default();
    }
    for (k, v) in img.labels.iter().flatten() {
        c.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if let Some(ports) = &img.exposed_ports {
        let mine = c.exposed_ports.get_or_insert_with(Default::default);
        for (k, v) in ports {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(vols) = &img.volumes {
        let mine = c.volumes.get_or_insert_with(Default::default);
        for (k, v) in vols {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if c.stop_signal.is_empty() {
        c.stop_signal = img.stop_signal.clone().unwrap_or_default();
    }
    c.healthcheck = super::health::merge_image(c.healthcheck.take(), img.healthcheck.as_ref());
}

/// moby's `adaptContainerSettings`: a memory limit without a swap limit gets as much swap as
/// memory (MemorySwap = 2 x Memory), or unlimited swap when the kernel cannot limit it.
fn adapt_host_config(hc: &mut crate::model::HostConfig) {
    // as moby's create: the default masked and read-only paths are written into HostConfig
    // (inspect shows them); a privileged container has none
    let defaults = |d: &[&str]| Some(d.iter().map(|p| p.to_string()).collect());
    if hc.privileged {
        hc.masked_paths = None;
        hc.readonly_paths = None;
    } else {
        if hc.masked_paths.is_none() {
            hc.masked_paths = defaults(super::spec::MASKED);
        }
        if hc.readonly_paths.is_none() {
            hc.readonly_paths = defaults(super::spec::READONLY);
        }
    }
    // as moby with its default `default-ipc-mode`: inspect shows "private"
    let ipc = hc.extra.get("IpcMode").and_then(|v| v.as_str());
    if ipc.is_none_or(str::is_empty) {
        hc.extra.insert("IpcMode".into(), "private".into());
    }
    if hc.memory > 0 && hc.memory_swap == 0 {
        let v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers");
        hc.memory_swap = if v1.exists() || v2.exists() {
            hc.memory.saturating_mul(2)
        } else {
            -1
        };
    }
}

fn validate(req: &CreateRequest) -> Result<()> {
    super::health::parse(req.config.healthcheck.as_ref(), &[])?;
    super::logopts::log_spec(&req.host_config.log_config)?;
    let hc = &req.host_config;
    validate_names(req)?;
    super::hostopts::parse(hc, &req.config.hostname)?;
    super::volumes_from::validate(hc)?;
    for (what, paths) in [
        ("MaskedPaths", &hc.masked_paths),
        ("ReadonlyPaths", &hc.readonly_paths),
    ] {
        let paths = paths.iter().flatten();
        if paths.clone().count() > 256 {
            return Err(Error::InvalidParameter(format!("too many {what}")));
        }
        for p in paths {
            if !p.starts_with('/') || p.contains('\0') || p.split('/').any(|c| c == "..") {
                return Err(Error::InvalidParameter(format!(
                    "invalid {what} entry {p:?}: must be an absolute path without '..'"
                )));
            }
        }
    }
    if hc.memory < 0 || hc.nano_cpus < 0 || hc.cpu_shares < 0 {
        return Err(Error::InvalidParameter(
            "resource limits must not be negative".into(),
        ));
    }
    super::spec::check_memory_and_blkio(hc, false)?;
    // the options and a profile sent in them; the daemon's own profile was checked at its
    // start (and Docker's default needs no setting up here)
    super::seccomp::linux_seccomp(
        hc,
        &super::spec::capabilities(hc),
        &super::seccomp::DaemonSeccomp::Unconfined,
    )?;
    if hc.nano_cpus > 0 && (hc.cpu_quota > 0 || hc.cpu_period > 0) {
        return Err(Error::InvalidParameter(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        ));
    }
    match hc.restart_policy.name.as_str() {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
        other => {
            return Err(Error::InvalidParameter(format!(
                "invalid restart policy '{other}'"
            )));
        }
    }
    if hc.auto_remove && !matches!(hc.restart_policy.name.as_str(), "" | "no") {
        return Err(Error::InvalidParameter(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    for b in hc.binds.iter().flatten() {
        let (src, _, _) = super::spec::parse_bind(b)?;
        if src.starts_with('/') {
            continue;
        }
        crate::volumes::validate_name(&src)?;
    }
    validate_mounts(hc)?;
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        super::ports::parse_port_key(port)?;
        for b in bindings.iter().flatten() {
            if !b.host_port.is_empty() {
                super::ports::parse_host_port(&b.host_port)?;
            }
        }
    }
    if let Some([h, w]) = hc.console_size
        && (h > 65535 || w > 65535)
    {
        return Err(Error::InvalidParameter("console size out of range".into()));
    }
    Ok(())
}

/// moby's `errMountConfig`: `invalid mount config for type "T": ...`.
fn mount_err(m: &Mount, msg: impl std::fmt::Display) -> Error {
    Error::InvalidParameter(format!(
        "invalid mount config for type \"{}\": {msg}",
        m.kind
    ))
}

/// What goes into the container's /etc/hostname, /etc/hosts and /etc/resolv.conf: one line
/// each, so no whitespace or control character may split it (a newline would add entries of
/// the client's choosing); nameservers are addresses; a hostname fits the kernel's 64 bytes.
fn validate_names(req: &CreateRequest) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidParameter(m));
    let clean = |v: &str| !v.chars().any(|c| c.is_whitespace() || c.is_control());
    let cfg = &req.config;
    if !clean(&cfg.hostname) || cfg.hostname.len() > 64 {
        return bad(format!("invalid hostname format: {:?}", cfg.hostname));
    }
    if !clean(&cfg.domainname) || cfg.domainname.len() > 255 {
        return bad(format!("invalid domainname format: {:?}", cfg.domainname));
    }
    let hc = &req.host_config;
    for d in hc.dns.iter().flatten() {
        if d.parse::<std::net::IpAddr>().is_err() {
            return bad(format!("bad nameserver address: {d:?}"));
        }
    }
    for (what, list) in [
        ("search domain", &hc.dns_search),
        ("option", &hc.dns_options),
    ] {
        if let Some(v) = list.iter().flatten().find(|v| v.is_empty() || !clean(v)) {
            return bad(format!("invalid DNS {what}: {v:?}"));
        }
    }
    for h in hc.extra_hosts.iter().flatten() {
        crate::network::parse_extra_host(h)?;
        if !clean(h) {
            return bad(format!("bad format for add-host: {h:?}"));
        }
    }
    Ok(())
}

/// moby's `linuxParser.ValidateMountConfig` for each `HostConfig.Mounts` entry, then the
/// duplicate check of `registerMountPoints` across Binds, Mounts and Tmpfs.
fn validate_mount(m: &Mount) -> Result<()> {
    if m.target.is_empty() {
        return Err(mount_err(m, "field Target must not be empty"));
    }
    if clean_path(&m.target) == "/" {
        return Err(mount_err(
            m,
            "invalid specification: destination can't be '/'",
        ));
    }
    let absolute = |p: &str| {
        if p.starts_with('/') {
            Ok(())
        } else {
            Err(mount_err(
                m,
                format!("invalid mount path: '{p}' mount path must be absolute"),
            ))
        }
    };
    absolute(&m.target)?;
    match m.kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(mount_err(m, "field Source must not be empty"));
            }
            if let Some(o) = &m.bind_options
                && !o.propagation.is_empty()
                && !PROPAGATIONS.contains(&o.propagation.as_str())
            {
                return Err(mount_err(
                    m,
                    format!("invalid propagation mode: {}", o.propagation),
                ));
            }
            if m.volume_options.is_some() {
                return Err(mount_err(m, "field VolumeOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(mount_err(m, "field TmpfsOptions must not be specified"));
            }
            absolute(&m.source)?;
            let create = m.bind_options.as_ref().is_some_and(|o| o.create_mountpoint);
            if !create && !std::path::Path::new(&m.source).exists() {
                return Err(mount_err(
                    m,
                    format!("bind source path does not exist: {}", m.source),
                ));
            }
        }
        "volume" => {
            if m.bind_options.is_some() {
                return Err(mount_err(m, "field BindOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(mount_err(m, "field TmpfsOptions must not be specified"));
            }
            let anonymous = m.source.is_empty();
            let opts = m.volume_options.clone().unwrap_or_default();
            if !opts.subpath.is_empty() {
                if anonymous {
                    return Err(mount_err(
                        m,
                        "must not set Subpath when using anonymous volumes",
                    ));
                }
                return Err(mount_err(m, "VolumeOptions.Subpath is not supported"));
            }
            if m.read_only && anonymous {
                return Err(mount_err(
                    m,
                    "must not set ReadOnly mode when using anonymous volumes",
                ));
            }
            if let Some(d) = &opts.driver_config
                && !d.name.is_empty()
                && d.name != "local"
            {
                return Err(Error::NotFound(format!(
                    "error looking up volume plugin {0}: plugin \"{0}\" not found",
                    d.name
                )));
            }
            if !anonymous {
                crate::volumes::validate_name(&m.source)?;
            }
        }
        "tmpfs" => {
            if m.bind_options.is_some() {
                return Err(mount_err(m, "field BindOptions must not be specified"));
            }
            if m.volume_options.is_some() {
                return Err(mount_err(m, "field VolumeOptions must not be specified"));
            }
            if !m.source.is_empty() {
                return Err(mount_err(m, "field Source must not be specified"));
            }
            super::spec::tmpfs_options(m).map_err(|e| mount_err(m, e))?;
        }
        _ => return Err(mount_err(m, "mount type unknown")),
    }
    Ok(())
}

/// moby's Linux propagation modes (`linuxPropagationModes`).
pub const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "slave", "rslave", "shared", "rshared",
];

fn validate_mounts(hc: &crate::model::HostConfig) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for b in hc.binds.iter().flatten() {
        let (_, dst, _) = super::spec::parse_bind(b)?;
        seen.insert(clean_path(&dst));
    }
    for m in hc.mounts.iter().flatten() {
        validate_mount(m)?;
        if !seen.insert(clean_path(&m.target)) {
            return Err(Error::InvalidParameter(format!(
                "Duplicate mount point: {}",
                m.target
            )));
        }
    }
    let targets: Vec<String> = hc
        .mounts
        .iter()
        .flatten()
        .map(|m| clean_path(&m.target))
        .collect();
    for dst in hc.tmpfs.iter().flatten().map(|(d, _)| d) {
        if targets.contains(&clean_path(dst)) {
            return Err(Error::InvalidParameter(format!(
                "Duplicate mount point: {dst}"
            )));
        }
    }
    Ok(())
}

impl Engine {
    pub async fn create_container(
        self: &Arc<Self>,
        name: Option<&str>,
        mut req: CreateRequest,
    ) -> Result<CreateResponse> {
        let given = name.filter(|n| !n.is_empty());
        let generated = given.is_none();
        let name = match given {
            Some(n) => ids::validate_name(n).map_err(Error::InvalidParameter)?,
            None => ids::random_name(),
        };
        validate(&req)?;
        if req.host_config.init == Some(true) {
            self.config()
                .init_binary()
                .map_err(Error::InvalidParameter)?;
        }
        if req.config.image.is_empty() {
            return Err(Error::InvalidParameter(
                "config cannot be empty in order to create a container".into(),
            ));
        }
        let image_name = req.config.image.clone();
        let image = self
            .with_images(move |s| Ok(s.resolve(&image_name)?))
            .await?;
        merge_image_config(&mut req, &image.config.config.clone().unwrap_or_default());
        adapt_host_config(&mut req.host_config);
        let warnings = super::sysinfo::verify_resources(
            &mut req.host_config,
            super::sysinfo::SysInfo::host(),
        )?;
        let mut argv = req.config.entrypoint.clone().unwrap_or_default();
        argv.extend(req.config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(Error::InvalidParameter("no command specified".into()));
        }
        if req.host_config.network_mode.is_empty() || req.host_config.network_mode == "default" {
            req.host_config.network_mode = "bridge".into();
            // the CLI names the default network "default" in EndpointsConfig too
            if let Some(eps) = req
                .networking_config
                .as_mut()
                .and_then(|n| n.get_mut("EndpointsConfig"))
                .and_then(|e| e.as_object_mut())
                && let Some(v) = eps.remove("default")
            {
                eps.entry("bridge").or_insert(v);
            }
        }
        if req.host_config.log_config.kind.is_empty() {
            req.host_config.log_config.kind = "json-file".into();
        }
        let mode = req.host_config.network_mode.clone();
        if let Some(other) = mode.strip_prefix("container:") {
            self.containers.get(other)?;
        } else if !["host", "none"].contains(&mode.as_str()) {
            self.net()?.get(&mode)?;
        }
        for (_, other) in super::shared_ns::joined(&req.host_config) {
            self.containers
                .get(other)
                .map_err(super::volumes_from::unknown)?;
        }
        let links = self.create_links(&req.host_config, req.networking_config.as_ref())?;
        let inherited = self
            .volumes_from(&req.host_config)?
            .without(&super::volumes_from::own_destinations(&req.host_config));
        let id = ids::new_id();
        // Docker leaves LogPath empty for a driver that writes no file
        let log_path = if req.host_config.log_config.kind == "none" {
            std::path::PathBuf::new()
        } else {
            self.config()
                .container_data_dir(&id)
                .join(format!("{id}-json.log"))
        };
        let record = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: now(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            image: req.config.image.clone(),
            image_id: image.id.clone(),
            config: req.config,
            host_config: req.host_config,
            state: ContainerState::default(),
            restart_count: 0,
            log_path: log_path.to_string_lossy().into_owned(),
            rootfs_mounts: vec![],
            removing: false,
            manually_stopped: false,
            networking_config: req.networking_config.clone(),
            network: Default::default(),
            volumes: vec![],
            primary_disconnected: false,
            binds_from: vec![],
            links,
        };
        let mut record = record;
        let claimed = claim_name(
            name,
            generated,
            |n| {
                record.name = n.to_string();
                let json = serde_json::to_string(&record)?;
                self.store.insert_container(&id, n, &json)
            },
            ids::random_name,
        )?;
        let name = match claimed {
            Ok(n) => n,
            Err(taken) => {
                let holder = self
                    .containers
                    .by_name(&taken)
                    .map(|c| c.id.clone())
                    .unwrap_or_default();
                return Err(Error::Conflict(format!(
                    "Conflict. The container name \"/{taken}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
        };
        let (key, image_id) = (id.clone(), image.id.clone());
        let mounts = match self
            .with_images(move |s| Ok(s.prepare(&key, &image_id)?))
            .await
        {
            Ok(m) => m,
            Err(e) => {
                let _ = self.store.delete_container(&id);
                return Err(e);
            }
        };
        self.place_data_dir(&id, std::path::Path::new(&record.log_path));
        record.rootfs_mounts = mounts
            .into_iter()
            .map(|m| RootfsMount {
                fstype: m.fstype,
                source: m.source,
                options: m.options,
            })
            .collect();
        let binds = record.host_config.binds.clone().unwrap_or_default();
        // an image VOLUME gets no anonymous volume where one is taken from another container
        let taken = inherited.destinations();
        let image_vols: Vec<String> = record
            .config
            .volumes
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| !taken.contains(&clean_path(k)))
            .collect();
        let spec_mounts = record.host_config.mounts.clone().unwrap_or_default();
        match self.container_volumes(&binds, &spec_mounts, &image_vols) {
            Ok(v) => {
                record.volumes = v;
                record.volumes.extend(inherited.volumes);
                record.binds_from = inherited.binds;
            }
            Err(e) => {
                self.undo_create(&id).await;
                return Err(e);
            }
        }
        for m in spec_mounts.iter().filter(|m| m.kind == "bind") {
            if m.bind_options.as_ref().is_some_and(|o| o.create_mountpoint) {
                // moby's CreateMountpoint: the missing source is made, as `-v /src:/dst` does
                if let Err(e) = std::fs::create_dir_all(&m.source) {
                    self.undo_create(&id).await;
                    return Err(Error::io(format!("create bind source {}", m.source), e));
                }
            }
        }
        // one write for the snapshot's mounts and the volumes (a daemon killed before it
        // leaves a record without mounts: the next start's reconciliation undoes the create)
        if let Err(e) = serde_json::to_string(&record)
            .map_err(Error::from)
            .and_then(|json| self.store.update_container(&id, &name, &json))
        {
            self.undo_create(&id).await;
            return Err(e);
        }
        let c = Arc::new(Container::new(record));
        self.containers.insert(c.clone());
        self.container_event(&c, "create", &[]);
        self.prelaunch(&c);
        Ok(CreateResponse { id, warnings })
    }
}

impl Engine {
    /// Undoes a create whose record exists, with what it made (snapshot, data directory):
    /// those first, then the record.
    pub(crate) async fn undo_create(&self, id: &str) {
        let key = id.to_string();
        let _ = self
            .with_images(move |s| Ok(s.remove_snapshot(&key)?))
            .await;
        let data = self.to_trash(&self.config().container_data_dir(id));
        super::trash::delete_later(data.into_iter().collect());
        let _ = self.store.delete_container(id);
    }
}

/// How many generated names a create tries before it reports the last one taken.
const GENERATED_NAME_DRAWS: usize = 10;

/// Claims `name` with `insert` (false: taken). A `generated` name that is taken is drawn again
/// with `draw`, up to [`GENERATED_NAME_DRAWS`] names in all, as moby's
/// `generateAndReserveName`. The inner `Err` is the name found taken.
fn claim_name(
    mut name: String,
    generated: bool,
    mut insert: impl FnMut(&str) -> Result<bool>,
    mut draw: impl FnMut() -> String,
) -> Result<std::result::Result<String, String>> {
    let mut draws = 1;
    while !insert(&name)? {
        if !generated || draws >= GENERATED_NAME_DRAWS {
            return Ok(Err(name));
        }
        draws += 1;
        name = draw();
    }
    Ok(Ok(name))
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_name_found_taken_is_drawn_again_and_a_given_one_is_not() {
        let taken = ["a", "b", "c"];
        let mut drawn = ["d", "c", "b"].into_iter().map(String::from);
        let mut tried = vec![];
        let got = claim_name(
            "a".into(),
            true,
            |n| {
                tried.push(n.to_string());
                Ok(!taken.contains(&n))
            },
            || drawn.next().unwrap_or_default(),
        )
        .unwrap();
        assert_eq!(got, Ok("d".to_string()));
        assert_eq!(tried, ["a", "d"]);
        // a name the client gave is never replaced
        let got = claim_name("b".into(), false, |n| Ok(n != "b"), || "x".into()).unwrap();
        assert_eq!(got, Err("b".to_string()));
        // generated names all taken: the last one is reported after the last draw
        let mut draws = 0;
        let got = claim_name(
            "g0".into(),
            true,
            |_| Ok(false),
            || {
                draws += 1;
                format!("g{draws}")
            },
        )
        .unwrap();
        assert_eq!(got, Err(format!("g{}", GENERATED_NAME_DRAWS - 1)));
        assert_eq!(draws, GENERATED_NAME_DRAWS - 1);
        // a store error ends the claim
        assert!(
            claim_name(
                "e".into(),
                true,
                |_| Err(Error::Internal("x".into())),
                String::new
            )
            .is_err()
        );
    }

    fn img(entry: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageCfg {
        ImageCfg {
            entrypoint: entry.map(|v| v.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|v| v.iter().map(|s| s.to_string()).collect()),
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            ..Default::default()
        }
    }

    fn req(body: &str) -> CreateRequest {
        serde_json::from_str(body).unwrap()
    }

    fn mount_err_of(body: &str) -> String {
        validate(&req(body)).unwrap_err().to_string()
    }

    #[test]
    fn mounts_are_checked_as_moby_does() {
        assert!(
            validate(&req(
                r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/tmp","Target":"/a"},
                {"Type":"volume","Target":"/b"},{"Type":"tmpfs","Target":"/c",
                "TmpfsOptions":{"SizeBytes":4096,"Options":[["exec"]]}}]}}"#
            ))
            .is_ok()
        );
        assert_eq!(
            mount_err_of(
                r#"{"HostConfig":{"Binds":["/tmp:/x/"],"Mounts":[{"Type":"tmpfs","Target":"/x"}]}}"#
            ),
            "Duplicate mount point: /x"
        );
        assert_eq!(
            mount_err_of(
                r#"{"HostConfig":{"Mounts":[{"Type":"volume","Target":"/y"},{"Type":"volume","Target":"/y/."}]}}"#
            ),
            "Duplicate mount point: /y/."
        );
        assert_eq!(
            mount_err_of(
                r#"{"HostConfig":{"Tmpfs":{"/z":""},"Mounts":[{"Type":"volume","Target":"/z"}]}}"#
            ),
            "Duplicate mount point: /z"
        );
        assert!(
            mount_err_of(
                r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/tmp","Target":"/a","TmpfsOptions":{}}]}}"#
            )
            .contains("field TmpfsOptions must not be specified")
        );
        assert!(
            mount_err_of(
                r#"{"HostConfig":{"Mounts":[{"Type":"volume","Source":"v1","Target":"/a","VolumeOptions":{"DriverConfig":{"Name":"nfs"}}}]}}"#
            )
            .contains("plugin \"nfs\" not found")
        );
        assert!(
            mount_err_of(
                r#"{"HostConfig":{"Mounts":[{"Type":"volume","Target":"/a","VolumeOptions":{"Subpath":"x"}}]}}"#
            )
            .contains("must not set Subpath when using anonymous volumes")
        );
    }

    #[test]
    fn image_cmd_fills_in_when_the_user_gives_none() {
        let mut r = req(r#"{"Image":"x"}"#);
        merge_image_config(&mut r, &img(None, Some(&["sh"])));
        assert_eq!(r.config.cmd.unwrap(), vec!["sh"]);
        assert_eq!(r.config.env, vec!["PATH=/bin", "A=1"]);
    }

    #[test]
    fn user_cmd_keeps_the_image_entrypoint() {
        let mut r = req(r#"{"Image":"x","Cmd":["hi"],"Env":["A=2"]}"#);
        merge_image_config(&mut r, &img(Some(&["echo"]), Some(&["default"])));
        assert_eq!(r.config.entrypoint.unwrap(), vec!["echo"]);
        assert_eq!(r.config.cmd.unwrap(), vec!["hi"]);
        assert_eq!(r.config.env, vec!["PATH=/bin", "A=2"]);
    }

    #[test]
    fn user_entrypoint_drops_the_image_cmd() {
        let mut r = req(r#"{"Image":"x","Entrypoint":["ls"]}"#);
        merge_image_config(&mut r, &img(Some(&["echo"]), Some(&["default"])));
        assert_eq!(r.config.entrypoint.unwrap(), vec!["ls"]);
        assert!(r.config.cmd.is_none());
    }
}
