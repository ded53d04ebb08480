//! End to end: seccomp and `--security-opt` as dockerd applies them. Every container gets
//! Docker's default profile (filter mode in /proc/self/status, `unshare` refused without
//! CAP_SYS_ADMIN); `seccomp=unconfined` and `--privileged` run unfiltered; a profile file given
//! to the CLI is what the container gets; bad options and profiles fail the create with moby's
//! messages and leave no container.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use berth_testkit::daemon::Daemon;
use berth_testkit::unique_name;
use common::daemon_with_busybox;

/// The `Seccomp:` and `NoNewPrivs:` lines of the container's /proc/self/status, then whether
/// `unshare -U` (a new user namespace, which needs no capability but is refused by the default
/// profile) worked.
const PROBE: &str = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
                     unshare -U true && echo unshare=ok || echo unshare=refused";

fn run(d: &Daemon, opts: &[&str], cmd: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["busybox", "sh", "-c", cmd]);
    d.docker_ok(&args)
}

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

/// One raw request on the daemon's socket: (status, body).
fn request(d: &Daemon, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = d.host();
    let socket = host.strip_prefix("unix://").expect("a unix socket");
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let code = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (code, body.to_string())
}

fn no_containers(d: &Daemon) {
    let ps = d.docker_ok(&["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "containers left: {ps}");
}

#[test]
fn default_profile_filters_run_and_exec() {
    let (d, _t) = daemon_with_busybox();
    // what `docker info` claims is what containers get
    let info = d.docker_ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert_eq!(info.trim(), r#"["name=seccomp,profile=builtin"]"#);
    let out = run(&d, &[], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    assert_eq!(field(&out, "NoNewPrivs:"), "0", "{out}");
    assert!(out.contains("unshare=refused"), "{out}");
    // explicitly asking for the builtin profile is the same
    let out = run(&d, &["--security-opt", "seccomp=builtin"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    assert!(out.contains("unshare=refused"), "{out}");
    // the refusal is the profile's EPERM, not a missing capability
    let o = d.docker_run(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Operation not permitted"), "{err}");
    // exec'd processes get the container's filter too
    let name = unique_name("secx");
    d.docker_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    let out = d.docker_ok(&["exec", &name, "sh", "-c", PROBE]);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    assert!(out.contains("unshare=refused"), "{out}");
    d.docker_ok(&["rm", "-f", &name]);
}

#[test]
fn unconfined_privileged_and_sys_admin() {
    let (d, _t) = daemon_with_busybox();
    let out = run(&d, &["--security-opt", "seccomp=unconfined"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    assert!(out.contains("unshare=ok"), "{out}");
    // the deprecated `:` spelling compose files still carry
    let out = run(&d, &["--security-opt", "seccomp:unconfined"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    let out = run(&d, &["--privileged"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    assert!(out.contains("unshare=ok"), "{out}");
    // CAP_SYS_ADMIN brings in the profile's admin group (unshare, mount, ...): still filtered
    let out = run(&d, &["--cap-add", "SYS_ADMIN"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    assert!(out.contains("unshare=ok"), "{out}");
    // no capabilities and another user: the filter is loaded before the runtime drops them
    let out = run(&d, &["--cap-drop", "ALL", "--user", "1000:1000"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    assert!(out.contains("unshare=refused"), "{out}");
    let out = run(
        &d,
        &[
            "--cap-drop",
            "ALL",
            "--user",
            "1000",
            "--security-opt",
            "no-new-privileges",
        ],
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; id -u",
    );
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    assert_eq!(field(&out, "NoNewPrivs:"), "1", "{out}");
    assert_eq!(out.lines().last(), Some("1000"), "{out}");
    // no-new-privileges in its spellings
    let out = run(&d, &["--security-opt", "no-new-privileges=true"], PROBE);
    assert_eq!(field(&out, "NoNewPrivs:"), "1", "{out}");
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    let out = run(&d, &["--security-opt", "no-new-privileges:false"], PROBE);
    assert_eq!(field(&out, "NoNewPrivs:"), "0", "{out}");
    // apparmor and label are accepted and have nothing to apply on this host (as dockerd)
    let out = run(
        &d,
        &[
            "--security-opt",
            "apparmor=unconfined",
            "--security-opt",
            "label=disable",
        ],
        PROBE,
    );
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
}

#[test]
fn custom_profile_file_is_applied_and_inspected() {
    let (d, t) = daemon_with_busybox();
    // Docker's format: mkdir is EPERM (no errnoRet), chmod is EACCES, the rest allowed; a
    // group for another architecture and one needing CAP_SYS_ADMIN are left out
    let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},{"names":["chmod","fchmodat","fchmodat2"],"action":"SCMP_ACT_ERRNO","errnoRet":13},{"names":["rmdir"],"action":"SCMP_ACT_ERRNO","includes":{"arches":["s390x"]}},{"names":["rmdir"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#;
    let path = t.path().join("deny-mkdir.json");
    std::fs::write(&path, profile).unwrap();
    let opt = format!("seccomp={}", path.display());
    let name = unique_name("secp");
    let o = d.docker_run(&[
        "run",
        "--name",
        &name,
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /x; chmod 600 /etc/hostname; \
         echo ok > /tmp/f && cat /tmp/f; rmdir /tmp && echo rmdir=ok",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}{err}");
    assert!(
        err.contains("mkdir: can't create directory '/x': Operation not permitted"),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "chmod: {err}");
    assert!(out.contains("\nok\n"), "{out}");
    // the rmdir groups were left out: the kernel answers, not the filter
    assert!(err.contains("Directory not empty"), "{err}");
    // inspect shows the option as the CLI sent it: the file's content
    let opts = d.docker_ok(&["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", &name]);
    let opts: Vec<String> = serde_json::from_str(opts.trim()).unwrap();
    assert_eq!(opts, [format!("seccomp={profile}")]);
    let opts = d.docker_ok(&["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", &{
        let n = unique_name("secu");
        d.docker_ok(&[
            "create",
            "--name",
            &n,
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "no-new-privileges",
            "busybox",
        ]);
        n
    }]);
    assert_eq!(opts.trim(), r#"["seccomp=unconfined","no-new-privileges"]"#);
    // Docker's default profile with another defaultErrnoRet: what the default action returns
    let mut default: serde_json::Value = serde_json::from_str(include_str!(
        "../../engine/src/container/seccomp_default.json"
    ))
    .unwrap();
    default["defaultErrnoRet"] = serde_json::json!(13);
    let path = t.path().join("eacces.json");
    std::fs::write(&path, default.to_string()).unwrap();
    let opt = format!("seccomp={}", path.display());
    let o = d.docker_run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "unshare",
        "-U",
        "true",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Permission denied"), "{err}");
    // an OCI-format profile (plain architectures) reads the same way
    let oci = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":28}]}"#;
    let path = t.path().join("oci.json");
    std::fs::write(&path, oci).unwrap();
    let opt = format!("seccomp={}", path.display());
    let o = d.docker_run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/y",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("No space left on device"), "{err}");
}

#[test]
fn bad_options_and_profiles_fail_the_create_and_leave_nothing() {
    let (d, t) = daemon_with_busybox();
    let fails = |args: &[&str], msg: &str| {
        let o = d.docker_run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(msg), "{args:?}: {err}");
    };
    fails(
        &["run", "--security-opt", "foo=bar", "busybox", "true"],
        r#"Error response from daemon: invalid --security-opt 2: "foo=bar""#,
    );
    fails(
        &[
            "create",
            "--security-opt",
            "no-new-privileges=maybe",
            "busybox",
        ],
        r#"invalid --security-opt 2: "no-new-privileges=maybe""#,
    );
    // JSON, but not a profile
    let path = t.path().join("wrong.json");
    std::fs::write(&path, r#"{"defaultAction": 5}"#).unwrap();
    let opt = format!("seccomp={}", path.display());
    fails(
        &["run", "--security-opt", &opt, "busybox", "true"],
        "Error response from daemon: Decoding seccomp profile failed: ",
    );
    // a profile the runtime could not load fails at create, not at start
    std::fs::write(&path, r#"{"defaultAction":"SCMP_ACT_SOMETIMES"}"#).unwrap();
    fails(
        &["run", "--security-opt", &opt, "busybox", "true"],
        "invalid seccomp profile: unknown variant `SCMP_ACT_SOMETIMES`",
    );
    no_containers(&d);

    // what the CLI cannot send: moby's status (500) and messages
    let create = |opts: &str| {
        request(
            &d,
            "POST",
            "/v1.44/containers/create",
            &format!(
                r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{"SecurityOpt":{opts}}}}}"#
            ),
        )
    };
    let (code, body) = create(r#"["foo"]"#);
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains(r#"invalid --security-opt 1: \"foo\""#),
        "{body}"
    );
    // dockerd does not know the CLI's systempaths option
    let (code, body) = create(r#"["systempaths=unconfined"]"#);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("invalid --security-opt 2"), "{body}");
    let (code, body) = create(r#"["seccomp={\"defaultAction\":"]"#);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("Decoding seccomp profile failed: "), "{body}");
    // a path where the content belongs (what docker-py users send): Go's words
    let (code, body) = create(r#"["seccomp=/etc/seccomp.json"]"#);
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains(
            "Decoding seccomp profile failed: invalid character '/' looking for beginning of value"
        ),
        "{body}"
    );
    no_containers(&d);
    // and a good one through the same path works
    let (code, body) = create(r#"["seccomp=unconfined","label=disable","apparmor=unconfined"]"#);
    assert_eq!(code, 201, "{body}");
}

#[cfg(target_arch = "x86_64")]
/// A static i386 ELF that calls `mkdir("/x", 0755)` through `int 0x80` (the 32-bit syscall
/// table, mkdir = 39) and exits with the errno (0 on success).
fn mkdir32(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    const BASE: u32 = 0x0804_8000;
    let path_at = BASE + 52 + 32 + 28;
    let mut code = vec![0xB8, 39, 0, 0, 0, 0xBB]; // mov eax, 39; mov ebx, path
    code.extend_from_slice(&path_at.to_le_bytes());
    code.extend_from_slice(&[0xB9, 0xED, 0x01, 0, 0, 0xCD, 0x80]); // mov ecx, 0755; int 0x80
    code.extend_from_slice(&[0xF7, 0xD8, 0x89, 0xC3]); // neg eax; mov ebx, eax
    code.extend_from_slice(&[0xB8, 1, 0, 0, 0, 0xCD, 0x80]); // exit(ebx)
    assert_eq!(code.len(), 28);
    code.extend_from_slice(b"/x\0");
    let total = (52 + 32 + code.len()) as u32;
    let mut elf = b"\x7fELF\x01\x01\x01\x00\0\0\0\0\0\0\0\0".to_vec();
    for h in [2u16, 3] {
        elf.extend_from_slice(&h.to_le_bytes()); // ET_EXEC, EM_386
    }
    for w in [1u32, BASE + 84, 52, 0, 0] {
        elf.extend_from_slice(&w.to_le_bytes()); // version, entry, phoff, shoff, flags
    }
    for h in [52u16, 32, 1, 0, 0, 0] {
        elf.extend_from_slice(&h.to_le_bytes()); // ehsize, phentsize, phnum, sh*
    }
    for w in [1u32, 0, BASE, BASE, total, total, 5, 0x1000] {
        elf.extend_from_slice(&w.to_le_bytes()); // PT_LOAD r-x of the whole file
    }
    elf.extend_from_slice(&code);
    let p = dir.join("mkdir32");
    std::fs::write(&p, elf).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_syscalls_follow_the_profile_architectures() {
    let (d, t) = daemon_with_busybox();
    let bin = t.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    mkdir32(&bin);
    let vol = format!("{}:/t:ro", bin.display());
    let status_of = |opts: &[&str]| {
        let mut args = vec!["run", "--rm", "-v", &vol];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["busybox", "sh", "-c", "/t/mkdir32; echo rc=$?"]);
        field(&d.docker_ok(&args), "rc=")
    };
    // unconfined: the kernel makes the directory (a kernel without IA32 emulation cannot run
    // the binary at all: nothing to check there)
    let unconfined = status_of(&["--security-opt", "seccomp=unconfined"]);
    if unconfined == "126" {
        eprintln!("skipped: this kernel runs no i386 binaries");
        return;
    }
    assert_eq!(unconfined, "0");
    // Docker's default profile covers the x86 and x32 ABIs of an amd64 host: allowed
    assert_eq!(status_of(&[]), "0");
    // a profile's archMap brings in the 32-bit table: its mkdir (39, not 83) is denied too
    let profile = t.path().join("deny.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    assert_eq!(status_of(&["--security-opt", &opt]), "1", "EPERM");
    // an OCI profile naming only x86_64: a 32-bit syscall is a foreign arch, which the filter
    // answers with libseccomp's default bad-arch action, killing the process (SIGSYS)
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    assert_eq!(status_of(&["--security-opt", &opt]), "159", "128 + SIGSYS");
}

#[test]
fn systempaths_unconfined_leaves_proc_unmasked_and_inspect_shows_the_lists() {
    let (d, _t) = daemon_with_busybox();
    // mount points of a masked (/proc/keys) and a read-only (/proc/sys) path
    let probe = "grep -cE ' /proc/(keys|sys) ' /proc/self/mountinfo || true";
    assert_eq!(run(&d, &[], probe).trim(), "2");
    assert_eq!(
        run(&d, &["--security-opt", "systempaths=unconfined"], probe).trim(),
        "0"
    );
    let name = unique_name("sp");
    d.docker_ok(&["create", "--name", &name, "busybox", "true"]);
    let masked = d.docker_ok(&["inspect", "-f", "{{json .HostConfig.MaskedPaths}}", &name]);
    assert!(masked.contains("\"/proc/keys\""), "{masked}");
    let ro = d.docker_ok(&["inspect", "-f", "{{json .HostConfig.ReadonlyPaths}}", &name]);
    assert!(ro.contains("\"/proc/sys\""), "{ro}");
    d.docker_ok(&["rm", &name]);
    // a relative or escaping entry is refused at create
    let mut s = UnixStream::connect(d.root().join("berth.sock")).unwrap();
    let body = r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"MaskedPaths":["proc/x"]}}"#;
    write!(
        s,
        "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("invalid MaskedPaths entry"), "{resp}");
    assert!(d.docker_ok(&["ps", "-aq"]).trim().is_empty());
}

/// dockerd's `--seccomp-profile`: a file's profile for every container that names none
/// (`docker info` says which, with dockerd's warning), `builtin` and `unconfined` in
/// SecurityOpt still win; `unconfined` for the daemon runs containers unfiltered; a file that
/// cannot be read stops the daemon at start with dockerd's message.
#[test]
fn the_daemons_seccomp_profile_is_the_default_of_containers() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let d = Daemon::start_with(berth_testkit::daemon::Options {
        args: vec!["--seccomp-profile".into(), profile.display().to_string()],
        ..Default::default()
    });
    let tar = berth_testkit::images::busybox_archive(dir.path(), "busybox:latest").unwrap();
    d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{json .SecurityOptions}} {{json .Warnings}}",
    ]);
    assert!(
        info.contains(&format!("name=seccomp,profile={}", profile.display())),
        "{info}"
    );
    assert!(
        info.contains("WARNING: daemon is not using the default seccomp profile"),
        "{info}"
    );
    const MKDIR: &str = "mkdir /made && echo mkdir=ok || echo mkdir=refused; \
                         unshare -U true && echo unshare=ok || echo unshare=refused";
    let out = run(&d, &[], MKDIR);
    assert!(out.contains("mkdir=refused"), "{out}");
    // not Docker's default: that one refuses unshare, this one allows it
    assert!(out.contains("unshare=ok"), "{out}");
    let out = run(&d, &["--security-opt", "seccomp=builtin"], MKDIR);
    assert!(
        out.contains("mkdir=ok") && out.contains("unshare=refused"),
        "{out}"
    );
    let out = run(&d, &["--security-opt", "seccomp=unconfined"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    drop(d);

    let d = Daemon::start_with(berth_testkit::daemon::Options {
        args: vec!["--seccomp-profile".into(), "unconfined".into()],
        ..Default::default()
    });
    d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    let info = d.docker_ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert_eq!(info.trim(), r#"["name=seccomp,profile=unconfined"]"#);
    let out = run(&d, &[], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "0", "{out}");
    let out = run(&d, &["--security-opt", "seccomp=builtin"], PROBE);
    assert_eq!(field(&out, "Seccomp:"), "2", "{out}");
    drop(d);

    // an unreadable profile: the daemon does not start, and says why
    let missing = dir.path().join("missing.json");
    let root = tempfile::tempdir().unwrap();
    // berthd on its own roots with this profile, as far as it gets
    let start_with = |profile: &std::path::Path| {
        std::process::Command::new(berth_testkit::daemon::workspace_bin("berthd", "BERTHD"))
            .arg("--data-root")
            .arg(root.path().join("data"))
            .arg("--exec-root")
            .arg(root.path().join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", root.path().join("s.sock").display()))
            .arg("--pidfile")
            .arg(root.path().join("pid"))
            .arg("--seccomp-profile")
            .arg(profile)
            .output()
            .unwrap()
    };
    let o = start_with(&missing);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "opening seccomp profile ({}) failed",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        !root.path().join("pid").exists(),
        "pidfile written by a daemon that did not start"
    );
    // a profile that is not one: refused at start too
    std::fs::write(&missing, "{\"defaultAction\": 7}").unwrap();
    let o = start_with(&missing);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("Decoding seccomp profile failed"),
        "{err}"
    );
}
