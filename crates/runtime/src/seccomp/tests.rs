use std::os::unix::fs::PermissionsExt;

use super::*;

fn docker_profile() -> LinuxSeccomp {
    serde_json::from_str(include_str!("../../tests/data/docker-default-seccomp.json")).unwrap()
}

fn allow_all() -> LinuxSeccomp {
    serde_json::from_str(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap()
}

fn raw(p: &Program) -> Vec<(u16, u8, u8, u32)> {
    p.insns.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
}

#[test]
fn docker_profile_compiles_and_the_cache_returns_the_same_program() {
    let root = tempfile::tempdir().unwrap();
    let s = docker_profile();
    let direct = compile(&s, None).unwrap();
    assert!(direct.insns.len() > 100, "{direct:?}");
    let first = compile(&s, Some(root.path())).unwrap();
    let key = cache::key(&s).unwrap();
    let file = root.path().join(cache::DIR).join(hex(&key));
    assert!(file.is_file(), "no cache file written");
    let second = compile(&s, Some(root.path())).unwrap();
    assert_eq!(raw(&direct), raw(&first));
    assert_eq!(raw(&direct), raw(&second));
    let mode = std::fs::metadata(root.path().join(cache::DIR))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

fn hex(k: &cache::Key) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn bad_cache_files_are_ignored_and_rebuilt() {
    let root = tempfile::tempdir().unwrap();
    let s = docker_profile();
    let want = raw(&compile(&s, None).unwrap());
    let key = cache::key(&s).unwrap();
    compile(&s, Some(root.path())).unwrap();
    let file = root.path().join(cache::DIR).join(hex(&key));
    let good = std::fs::read(&file).unwrap();

    // an allow-all program, correctly framed for its own key, planted under this key's name
    let weak = export(&allow_all()).unwrap();
    let weak_key = cache::key(&allow_all()).unwrap();
    let mut tampered = good.clone();
    tampered[80] ^= 1;
    let mut short = good.clone();
    short.truncate(good.len() - 3);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", short),
        ("header only", good[..72].to_vec()),
        ("tampered program", tampered),
        ("other key's file", cache::encode(&weak_key, &weak)),
        ("weak program relabelled with this key", {
            let mut v = cache::encode(&weak_key, &weak);
            v[8..40].copy_from_slice(&key);
            v
        }),
    ];
    for (what, bytes) in bad {
        std::fs::write(&file, &bytes).unwrap();
        let got = compile(&s, Some(root.path())).unwrap();
        assert_eq!(raw(&got), want, "{what}: wrong program");
        assert_eq!(std::fs::read(&file).unwrap(), good, "{what}: not rewritten");
    }

    // a sound file that others could have written is not trusted
    std::fs::write(&file, cache::encode(&key, &weak)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(raw(&compile(&s, Some(root.path())).unwrap()), want);
}

#[test]
fn parse_accepts_only_whole_framed_programs_of_its_key() {
    let key = [7u8; 32];
    let prog = vec![0u8; 16];
    let f = cache::encode(&key, &prog);
    assert_eq!(cache::parse(&f, &key), Some(&prog[..]));
    assert_eq!(cache::parse(&f, &[8u8; 32]), None);
    assert_eq!(cache::parse(&f[..f.len() - 8], &key), None);
    let mut m = f.clone();
    m[0] = b'X';
    assert_eq!(cache::parse(&m, &key), None);
    assert!(decode(&[0u8; 12]).is_err());
    assert!(decode(&[]).is_err());
    assert!(decode(&vec![0u8; 8 * (MAX_INSNS + 1)]).is_err());
}

#[test]
fn flags_map_to_seccomp_filter_flags() {
    let s: LinuxSeccomp = serde_json::from_str(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"]}"#,
    )
    .unwrap();
    assert_eq!(load_flags(&s).unwrap(), FLAG_LOG | FLAG_SPEC_ALLOW);
    assert_eq!(compile(&s, None).unwrap().flags, FLAG_LOG | FLAG_SPEC_ALLOW);
}
