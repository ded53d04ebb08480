//! Unit tests of SecurityOpt parsing and of the profile's include/exclude expansion.

use super::*;

fn caps(c: &[&str]) -> Vec<String> {
    c.iter().map(|s| s.to_string()).collect()
}

fn target<'a>(arch: &'a str, caps: &'a [String]) -> Target<'a> {
    Target {
        arch,
        kernel: Some(KernelVersion(6, 18)),
        caps,
    }
}

fn names_of(v: &Value) -> Vec<String> {
    v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["names"].as_array().unwrap().clone())
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

fn opts(o: &[&str]) -> Result<SecurityOpts, SeccompError> {
    parse_security_opts(&caps(o))
}

#[test]
fn the_embedded_default_profile_decodes() {
    let p: Profile = serde_json::from_str(include_str!("../seccomp_default.json")).unwrap();
    assert_eq!(p.default_action.as_deref(), Some("SCMP_ACT_ERRNO"));
    assert_eq!(p.default_errno_ret, Some(1));
    assert!(p.syscalls.unwrap().len() > 20);
}

#[test]
fn default_profile_on_amd64_follows_the_capabilities() {
    let c = caps(&["CAP_CHOWN", "CAP_SYS_CHROOT"]);
    let v = setup(default_profile(), &target("amd64", &c))
        .unwrap()
        .unwrap();
    assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(v["defaultErrnoRet"], 1);
    assert_eq!(
        v["architectures"],
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    let n = names_of(&v);
    for yes in [
        "read",
        "chroot",
        "arch_prctl",
        "modify_ldt",
        "ptrace",
        "socket",
    ] {
        assert!(n.iter().any(|x| x == yes), "{yes} missing");
    }
    for no in [
        "mount",
        "unshare",
        "reboot",
        "set_tls",
        "s390_runtime_instr",
        "bpf",
    ] {
        assert!(!n.iter().any(|x| x == no), "{no} allowed");
    }
    // clone without CAP_SYS_ADMIN: only without namespace flags, and clone3 is ENOSYS
    let clone: Vec<&Value> = v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["names"] == json!(["clone"]) || s["names"] == json!(["clone3"]))
        .collect();
    assert_eq!(clone.len(), 2, "{clone:?}");
    assert_eq!(clone[0]["args"][0]["index"], 0);
    assert_eq!(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
    assert_eq!(clone[1]["action"], "SCMP_ACT_ERRNO");
    assert_eq!(clone[1]["errnoRet"], 38);
}

#[test]
fn sys_admin_allows_mount_and_drops_the_clone_restrictions() {
    let c = caps(&["CAP_SYS_ADMIN"]);
    let v = setup(default_profile(), &target("amd64", &c))
        .unwrap()
        .unwrap();
    let n = names_of(&v);
    assert!(n.iter().any(|x| x == "mount"));
    assert!(n.iter().any(|x| x == "unshare"));
    assert!(!n.iter().any(|x| x == "chroot"));
    assert!(
        !v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == "SCMP_ACT_ERRNO"),
        "clone3 stays allowed with CAP_SYS_ADMIN"
    );
}

#[test]
fn arches_pick_the_archmap_entry_and_the_arch_groups() {
    let c = caps(&[]);
    let v = setup(default_profile(), &target("s390x", &c))
        .unwrap()
        .unwrap();
    assert_eq!(
        v["architectures"],
        json!(["SCMP_ARCH_S390X", "SCMP_ARCH_S390"])
    );
    let n = names_of(&v);
    assert!(n.iter().any(|x| x == "s390_runtime_instr"));
    assert!(!n.iter().any(|x| x == "arch_prctl"));
    let clone = v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["names"] == json!(["clone"]))
        .unwrap();
    assert_eq!(clone["args"][0]["index"], 1);
    let v = setup(default_profile(), &target("riscv64", &c))
        .unwrap()
        .unwrap();
    assert_eq!(v["architectures"], json!(["SCMP_ARCH_RISCV64"]));
    // an architecture missing from the map: no architectures, libseccomp's native
    let v = setup(default_profile(), &target("sparc", &c))
        .unwrap()
        .unwrap();
    assert!(v.get("architectures").is_none());
}

#[test]
fn min_kernel_includes_and_excludes() {
    let p: Profile = serde_json::from_str(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
          {"names":["a"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"6.19"}},
          {"names":["b"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"6.18"}},
          {"names":["c"],"action":"SCMP_ACT_ERRNO","excludes":{"minKernel":"5.10"}},
          {"names":["d"],"action":"SCMP_ACT_ERRNO","excludes":{"minKernel":"7.0"}},
          {"names":["e"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":""}}]}"#,
    )
    .unwrap();
    let c = caps(&[]);
    let v = setup(&p, &target("amd64", &c)).unwrap().unwrap();
    assert_eq!(names_of(&v), ["b", "d", "e"]);
    let bad = serde_json::from_str::<Profile>(
        r#"{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"4"}}]}"#,
    )
    .unwrap_err();
    assert!(bad.to_string().contains("invalid kernel version"), "{bad}");
    assert_eq!(
        KernelVersion::of_release("6.18.44-fc-v782"),
        Some(KernelVersion(6, 18))
    );
    assert_eq!(KernelVersion::parse("0.0"), None);
}

#[test]
fn every_include_cap_is_needed_and_any_exclude_cap_drops() {
    let p: Profile = serde_json::from_str(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
          {"names":["both"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_A","CAP_B"]}},
          {"name":"one","action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_A"]}},
          {"names":["notb"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_X","CAP_B"]}}]}"#,
    )
    .unwrap();
    let c = caps(&["CAP_A"]);
    let v = setup(&p, &target("amd64", &c)).unwrap().unwrap();
    assert_eq!(names_of(&v), ["one", "notb"]);
    let c = caps(&["CAP_A", "CAP_B"]);
    let v = setup(&p, &target("amd64", &c)).unwrap().unwrap();
    assert_eq!(names_of(&v), ["both", "one"]);
}

#[test]
fn oci_format_profiles_and_errno_values_pass_through() {
    let p: Profile = serde_json::from_str(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
            "args":[{"index":1,"value":448,"op":"SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap();
    let c = caps(&[]);
    let v = setup(&p, &target("amd64", &c)).unwrap().unwrap();
    assert_eq!(
        v,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
            "errnoRet": 13, "args": [{"index": 1, "value": 448, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]})
    );
    // neither a default action nor syscalls: seccomp off
    assert!(
        setup(&Profile::default(), &target("amd64", &c))
            .unwrap()
            .is_none()
    );
}

#[test]
fn bad_profiles_are_named() {
    let c = caps(&[]);
    let t = target("amd64", &c);
    let err = |j: &str| {
        let p: Profile = serde_json::from_str(j).unwrap();
        setup(&p, &t).unwrap_err().to_string()
    };
    assert!(
        err(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#)
            .starts_with("'architectures' and 'archMap' were specified")
    );
    assert!(
        err(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#)
            .starts_with("'name' and 'names' were specified")
    );
    assert!(err(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).contains("SCMP_ACT_NOPE"));
    assert!(
        err(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}"#)
            .contains("SCMP_CMP_ALMOST")
    );
    assert!(err(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#).contains("SCMP_ACT_NOTIFY"));
    assert!(
        err(r#"{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#)
            .contains("flag SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported")
    );
}

#[test]
fn security_opts_parse_as_mobys() {
    assert_eq!(opts(&[]).unwrap(), SecurityOpts::default());
    let o = opts(&[
        "no-new-privileges",
        "seccomp=unconfined",
        "apparmor:docker-default",
        "label=level:s0:c100,c200",
        "disable",
    ])
    .unwrap();
    assert!(o.no_new_privileges);
    assert_eq!(o.seccomp.as_deref(), Some("unconfined"));
    assert_eq!(o.apparmor.as_deref(), Some("docker-default"));
    assert_eq!(o.labels, ["level:s0:c100,c200", "disable"]);
    assert!(opts(&["no-new-privileges:true"]).unwrap().no_new_privileges);
    assert!(opts(&["no-new-privileges=1"]).unwrap().no_new_privileges);
    assert!(
        !opts(&["no-new-privileges", "no-new-privileges=false"])
            .unwrap()
            .no_new_privileges
    );
    let json = r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#;
    assert_eq!(
        opts(&[json]).unwrap().seccomp.as_deref(),
        Some(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
    );
    let e = |o: &str| opts(&[o]).unwrap_err().to_string();
    assert_eq!(e("foo"), r#"invalid --security-opt 1: "foo""#);
    assert_eq!(e("foo=bar"), r#"invalid --security-opt 2: "foo=bar""#);
    assert_eq!(
        e("systempaths=unconfined"),
        r#"invalid --security-opt 2: "systempaths=unconfined""#
    );
    assert_eq!(
        e("no-new-privileges=maybe"),
        r#"invalid --security-opt 2: "no-new-privileges=maybe""#
    );
}

#[test]
fn container_choices_privileged_unconfined_builtin_custom() {
    let hc = |opts: &[&str], privileged: bool| HostConfig {
        security_opt: Some(caps(opts)),
        privileged,
        ..Default::default()
    };
    let c = caps(&["CAP_CHOWN"]);
    assert!(
        linux_seccomp(&hc(&[], true), &c, &DaemonSeccomp::Builtin)
            .unwrap()
            .is_none()
    );
    assert!(
        linux_seccomp(
            &hc(&["seccomp=unconfined"], false),
            &c,
            &DaemonSeccomp::Builtin
        )
        .unwrap()
        .is_none()
    );
    let d = linux_seccomp(&hc(&[], false), &c, &DaemonSeccomp::Builtin)
        .unwrap()
        .unwrap();
    assert_eq!(
        linux_seccomp(
            &hc(&["seccomp=builtin"], false),
            &c,
            &DaemonSeccomp::Builtin
        )
        .unwrap()
        .unwrap(),
        d
    );
    assert_eq!(
        linux_seccomp(&hc(&["seccomp="], false), &c, &DaemonSeccomp::Builtin)
            .unwrap()
            .unwrap(),
        d
    );
    let e = |o: &str| {
        linux_seccomp(&hc(&[o], false), &c, &DaemonSeccomp::Builtin)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e("seccomp=default"),
        "Decoding seccomp profile failed: invalid character 'd' looking for beginning of value"
    );
    assert_eq!(
        e("seccomp=/etc/profile.json"),
        "Decoding seccomp profile failed: invalid character '/' looking for beginning of value"
    );
    assert!(
        e(r#"seccomp={"defaultAction":5}"#)
            .starts_with("Decoding seccomp profile failed: invalid type: integer `5`"),
    );
    // a bad option fails even with --privileged (moby parses them at create)
    assert!(linux_seccomp(&hc(&["bogus=1"], true), &c, &DaemonSeccomp::Builtin).is_err());
}

#[test]
fn profile_keys_match_whatever_their_case_as_in_go() {
    let p = decode(
        r#"{"DefaultAction":"SCMP_ACT_ALLOW","SYSCALLS":[{"Names":["mkdir"],"Action":"SCMP_ACT_ERRNO",
            "ErrnoRet":13,"Includes":{"MinKernel":"4.8"},"Args":[{"Index":1,"Value":2,"Op":"SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap();
    let c = caps(&[]);
    let v = setup(&p, &target("amd64", &c)).unwrap().unwrap();
    assert_eq!(v["defaultAction"], "SCMP_ACT_ALLOW");
    assert_eq!(
        v["syscalls"],
        json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
            "args": [{"index": 1, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}])
    );
    // the exact key wins over one that differs in case
    let p = decode(r#"{"defaultAction":"SCMP_ACT_LOG","DefaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    assert_eq!(p.default_action.as_deref(), Some("SCMP_ACT_LOG"));
}
