//! `HostConfig.SecurityOpt` and seccomp, as dockerd does: the options are parsed as moby's
//! `parseSecurityOpt` (same messages), and the container's `linux.seccomp` is Docker's default
//! profile, none (`seccomp=unconfined`, `--privileged`) or the profile the client sent (the
//! docker CLI reads `--security-opt seccomp=<file>` and sends the file's content), turned into
//! the OCI section as moby's `setupSeccomp`: the archMap entry of the host's architecture, and
//! each syscall group kept or dropped by its includes/excludes (capabilities in the container's
//! bounding set, architecture, minimum kernel). A profile in the OCI format (plain
//! `architectures`, no includes) reads the same way.
//!
//! `seccomp_default.json` is Docker's default profile (moby `profiles/seccomp/default.json`,
//! Apache-2.0): everything is EPERM but the syscalls listed, some only with a capability.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::model::HostConfig;

/// Errors of SecurityOpt and of a seccomp profile, with moby's messages where moby has one.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// An option that is neither `key=value`, `key:value` nor a bare known word.
    #[error("invalid --security-opt 1: {0:?}")]
    Format(String),
    /// An unknown key, or a `no-new-privileges` value that is not a boolean.
    #[error("invalid --security-opt 2: {0:?}")]
    Unknown(String),
    /// The profile is not JSON of the profile's shape.
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(String),
    #[error(
        "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"
    )]
    BothArchitectures,
    #[error(
        "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"
    )]
    BothNames,
    /// Decoded, but not something the runtime can load (an unknown action, arch or operator).
    #[error("invalid seccomp profile: {0}")]
    Invalid(String),
    #[error("cannot read the kernel version for the seccomp profile's minKernel: {0}")]
    HostKernel(String),
    /// dockerd's words when `--seccomp-profile` names a file it cannot read.
    #[error("opening seccomp profile ({path}) failed: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// dockerd's `--seccomp-profile`: the profile of containers whose SecurityOpt names none.
#[derive(Clone, Debug, Default)]
pub enum DaemonSeccomp {
    /// Docker's default profile (`builtin`, the default).
    #[default]
    Builtin,
    /// No filter (`unconfined`).
    Unconfined,
    /// The profile in this file, read and checked when the daemon started (as dockerd does).
    File {
        path: PathBuf,
        profile: Arc<Profile>,
    },
}

impl DaemonSeccomp {
    /// The flag's value: `builtin`, `unconfined` or the path of a profile in Docker's format.
    pub fn from_flag(value: &str) -> Result<DaemonSeccomp, SeccompError> {
        match value {
            "" | "builtin" => Ok(DaemonSeccomp::Builtin),
            "unconfined" => Ok(DaemonSeccomp::Unconfined),
            path => {
                let path = Path::new(path).to_path_buf();
                let body = std::fs::read_to_string(&path).map_err(|source| SeccompError::Open {
                    path: path.clone(),
                    source,
                })?;
                let profile = decode(&body)?;
                // what a default container would get must be loadable: refused now, not at
                // every start
                let caps = crate::container::spec::capabilities(&HostConfig::default());
                setup(
                    &profile,
                    &Target {
                        arch: native_arch(),
                        kernel: host_kernel(),
                        caps: &caps,
                    },
                )?;
                Ok(DaemonSeccomp::File {
                    path,
                    profile: Arc::new(profile),
                })
            }
        }
    }

    /// How `docker info` names it: `name=seccomp,profile=<this>`.
    pub fn name(&self) -> String {
        match self {
            DaemonSeccomp::Builtin => "builtin".into(),
            DaemonSeccomp::Unconfined => "unconfined".into(),
            DaemonSeccomp::File { path, .. } => path.display().to_string(),
        }
    }
}

/// moby answers these from `containerCreate` (options) and `createSpec` (profile) as plain
/// errors: 500 with the message.
impl From<SeccompError> for Error {
    fn from(e: SeccompError) -> Self {
        Error::Internal(e.to_string())
    }
}

/// What `HostConfig.SecurityOpt` asks for.
#[derive(Debug, Default, PartialEq)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    /// The `seccomp=` value: `unconfined`, `builtin`, empty (the default) or a profile's JSON.
    pub seccomp: Option<String>,
    /// Accepted and not applied: this host has no AppArmor (moby skips it the same way).
    pub apparmor: Option<String>,
    /// Accepted and not applied: this host has no SELinux (`label.InitLabels` is a no-op).
    pub labels: Vec<String>,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// moby's `parseSecurityOpt`: `key=value` (or the deprecated `key:value`) for `label`,
/// `apparmor`, `seccomp`, `no-new-privileges`; bare `no-new-privileges` and `disable`.
/// `systempaths=unconfined` is the CLI's (it sends empty MaskedPaths/ReadonlyPaths instead),
/// so dockerd refuses it like any unknown key.
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, SeccompError> {
    let mut s = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            s.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            s.labels.push(opt.clone());
            continue;
        }
        let kv = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((k, v)) = kv else {
            return Err(SeccompError::Format(opt.clone()));
        };
        match k {
            "label" => s.labels.push(v.to_string()),
            "apparmor" => s.apparmor = Some(v.to_string()),
            "seccomp" => s.seccomp = Some(v.to_string()),
            "no-new-privileges" => {
                s.no_new_privileges =
                    parse_bool(v).ok_or_else(|| SeccompError::Unknown(opt.clone()))?;
            }
            _ => return Err(SeccompError::Unknown(opt.clone())),
        }
    }
    Ok(s)
}

/// A kernel version `<kernel>.<major>` (moby's `KernelVersion`); "" means none.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct KernelVersion(u64, u64);

impl KernelVersion {
    fn parse(v: &str) -> Option<KernelVersion> {
        let (k, m) = v.split_once('.')?;
        let k = k.parse().ok()?;
        let m = m.parse().ok()?;
        (k, m).ne(&(0, 0)).then_some(KernelVersion(k, m))
    }

    /// The running kernel's from its release ("6.18.44-fc-v782" → 6.18).
    fn of_release(release: &str) -> Option<KernelVersion> {
        let mut it = release.split(|c: char| !c.is_ascii_digit());
        Some(KernelVersion(
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
        ))
    }
}

fn min_kernel<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<KernelVersion>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => KernelVersion::parse(v).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid kernel version: \"{v}\", expected \"<kernel>.<major>\""
            ))
        }),
    }
}

/// A profile in Docker's format (a superset of the OCI `linux.seccomp`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    default_action: Option<String>,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<ArchMap>>,
    flags: Option<Vec<String>>,
    syscalls: Option<Vec<Syscall>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Syscall {
    name: Option<String>,
    names: Option<Vec<String>>,
    #[serde(default)]
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<Arg>>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    #[serde(default, deserialize_with = "min_kernel")]
    min_kernel: Option<KernelVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// What the groups are filtered by: the host's architecture (libseccomp's names: amd64,
/// arm64, ...), its kernel, and the container's bounding capabilities.
struct Target<'a> {
    arch: &'a str,
    kernel: Option<KernelVersion>,
    caps: &'a [String],
}

impl Target<'_> {
    fn kernel_at_least(&self, v: KernelVersion) -> Result<bool, SeccompError> {
        let k = self.kernel.ok_or_else(|| {
            SeccompError::HostKernel("/proc/sys/kernel/osrelease unreadable".into())
        })?;
        Ok(k >= v)
    }

    /// moby's include/exclude rules for one group.
    fn keeps(&self, call: &Syscall) -> Result<bool, SeccompError> {
        let has = |l: &Option<Vec<String>>, x: &str| l.iter().flatten().any(|c| c == x);
        if let Some(ex) = &call.excludes {
            if has(&ex.arches, self.arch) {
                return Ok(false);
            }
            if ex.caps.iter().flatten().any(|c| self.caps.contains(c)) {
                return Ok(false);
            }
            if let Some(v) = ex.min_kernel
                && self.kernel_at_least(v)?
            {
                return Ok(false);
            }
        }
        if let Some(inc) = &call.includes {
            if inc.arches.as_ref().is_some_and(|a| !a.is_empty()) && !has(&inc.arches, self.arch) {
                return Ok(false);
            }
            if inc.caps.iter().flatten().any(|c| !self.caps.contains(c)) {
                return Ok(false);
            }
            if let Some(v) = inc.min_kernel
                && !self.kernel_at_least(v)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// libseccomp's name of the architecture this daemon was built for (moby's `goToNative`).
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "x86",
        "x86_64" => "amd64",
        "arm" => "arm",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "s390x" => "s390x",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        "mips" if cfg!(target_endian = "little") => "mipsel",
        "mips" => "mips",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// moby's `nativeToSeccomp`: the archMap key of a native architecture.
fn seccomp_arch(native: &str) -> Option<&'static str> {
    Some(match native {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64n32" => "SCMP_ARCH_MIPS64N32",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "mipsel64n32" => "SCMP_ARCH_MIPSEL64N32",
        "mipsel" => "SCMP_ARCH_MIPSEL",
        "ppc" => "SCMP_ARCH_PPC",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => return None,
    })
}

/// Flags berth-runtime can set on the filter.
const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
];

/// moby's `setupSeccomp`: the OCI section for `target`, or None when the profile has neither a
/// default action nor syscalls (seccomp off). The result is checked against the OCI types the
/// runtime reads, so a profile the runtime would refuse fails here, at create.
fn setup(p: &Profile, target: &Target) -> Result<Option<Value>, SeccompError> {
    let default_action = p.default_action.clone().unwrap_or_default();
    if default_action.is_empty() && p.syscalls.as_ref().is_none_or(|s| s.is_empty()) {
        return Ok(None);
    }
    let map = p.arch_map.as_deref().unwrap_or_default();
    let mut arches = p.architectures.clone().unwrap_or_default();
    if !arches.is_empty() && !map.is_empty() {
        return Err(SeccompError::BothArchitectures);
    }
    if let Some(native) = seccomp_arch(target.arch)
        && let Some(m) = map.iter().find(|m| m.architecture == native)
    {
        arches.push(m.architecture.clone());
        arches.extend(m.sub_architectures.iter().flatten().cloned());
    }
    let mut syscalls = vec![];
    for call in p.syscalls.iter().flatten() {
        let mut names = call.names.clone().unwrap_or_default();
        if let Some(n) = call.name.as_ref().filter(|n| !n.is_empty()) {
            if !names.is_empty() {
                return Err(SeccompError::BothNames);
            }
            names.push(n.clone());
        }
        if !target.keeps(call)? {
            continue;
        }
        let mut s = json!({"names": names, "action": call.action});
        if let Some(e) = call.errno_ret {
            s["errnoRet"] = json!(e);
        }
        if let Some(args) = call.args.as_ref().filter(|a| !a.is_empty()) {
            s["args"] = args
                .iter()
                .map(|a| json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}))
                .collect();
        }
        syscalls.push(s);
    }
    let mut out = json!({"defaultAction": default_action, "syscalls": syscalls});
    if let Some(e) = p.default_errno_ret {
        out["defaultErrnoRet"] = json!(e);
    }
    if !arches.is_empty() {
        out["architectures"] = json!(arches);
    }
    if let Some(flags) = p.flags.as_ref().filter(|f| !f.is_empty()) {
        if let Some(f) = flags.iter().find(|f| !FLAGS.contains(&f.as_str())) {
            return Err(SeccompError::Invalid(format!("flag {f} is not supported")));
        }
        out["flags"] = json!(flags);
    }
    check_runtime_can_load(&out)?;
    Ok(Some(out))
}

/// The OCI types berth-runtime reads `linux.seccomp` with: unknown actions, operators and
/// architectures are refused by name; SCMP_ACT_NOTIFY has no agent here.
fn check_runtime_can_load(v: &Value) -> Result<(), SeccompError> {
    use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
    let s: LinuxSeccomp =
        serde_json::from_value(v.clone()).map_err(|e| SeccompError::Invalid(e.to_string()))?;
    let notify = s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .iter()
            .flatten()
            .any(|c| c.action() == LinuxSeccompAction::ScmpActNotify);
    if notify {
        return Err(SeccompError::Invalid(
            "SCMP_ACT_NOTIFY is not supported".into(),
        ));
    }
    Ok(())
}

fn default_profile() -> &'static Profile {
    static P: OnceLock<Profile> = OnceLock::new();
    P.get_or_init(|| {
        // a unit test decodes the embedded file, so this cannot fail in a build that passed
        serde_json::from_str(include_str!("seccomp_default.json")).unwrap_or_default()
    })
}

fn host_kernel() -> Option<KernelVersion> {
    static K: OnceLock<Option<KernelVersion>> = OnceLock::new();
    *K.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|r| KernelVersion::of_release(r.trim()))
    })
}

/// The container's OCI `linux.seccomp` (moby's `WithSeccomp`): none when privileged or
/// `seccomp=unconfined`, Docker's default for `builtin`, the daemon's (`--seccomp-profile`) for
/// no option or an empty value, else the profile sent in the option. `caps` is the container's
/// bounding set.
pub fn linux_seccomp(
    hc: &HostConfig,
    caps: &[String],
    daemon: &DaemonSeccomp,
) -> Result<Option<Value>, SeccompError> {
    let opts = parse_security_opts(hc.security_opt.as_deref().unwrap_or_default())?;
    if hc.privileged {
        return Ok(None);
    }
    let target = Target {
        arch: native_arch(),
        kernel: host_kernel(),
        caps,
    };
    match opts.seccomp.as_deref() {
        Some("unconfined") => Ok(None),
        Some("builtin") => setup(default_profile(), &target),
        None | Some("") => match daemon {
            DaemonSeccomp::Builtin => setup(default_profile(), &target),
            DaemonSeccomp::Unconfined => Ok(None),
            DaemonSeccomp::File { profile, .. } => setup(profile, &target),
        },
        Some(body) => setup(&decode(body)?, &target),
    }
}

/// The profile sent in the option, keys matched as Go does. Go's words for the usual mistake, a
/// path sent where the content belongs (docker-py and compose send the value as given):
/// `invalid character '/' looking for beginning of value`; serde's otherwise.
fn decode(body: &str) -> Result<Profile, SeccompError> {
    if let Some(c) = body.trim_start().chars().next()
        && !matches!(c, '{' | '[' | '"' | '-' | '0'..='9' | 't' | 'f' | 'n')
    {
        return Err(SeccompError::Decode(format!(
            "invalid character '{c}' looking for beginning of value"
        )));
    }
    let mut v: Value =
        serde_json::from_str(body).map_err(|e| SeccompError::Decode(e.to_string()))?;
    go_keys(&mut v);
    serde_json::from_value(v).map_err(|e| SeccompError::Decode(e.to_string()))
}

/// The profile's keys, for Go's case-insensitive matching of object keys to fields.
const KEYS: &[&str] = &[
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "archMap",
    "architecture",
    "subArchitectures",
    "flags",
    "syscalls",
    "name",
    "names",
    "action",
    "errnoRet",
    "args",
    "index",
    "value",
    "valueTwo",
    "op",
    "includes",
    "excludes",
    "caps",
    "arches",
    "minKernel",
];

/// Renames keys that match a profile key but for case (`DefaultAction`, `names` as `Names`), as
/// Go's encoding/json accepts them; an exact key wins.
fn go_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let renames: Vec<(String, &str)> = m
                .keys()
                .filter_map(|k| {
                    let canon = KEYS.iter().find(|c| c.eq_ignore_ascii_case(k))?;
                    (k != canon && !m.contains_key(*canon)).then(|| (k.clone(), *canon))
                })
                .collect();
            for (from, to) in renames {
                if let Some(x) = m.remove(&from) {
                    m.insert(to.to_string(), x);
                }
            }
            m.values_mut().for_each(go_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(go_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
