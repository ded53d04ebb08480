//! Container filesystem commands against berthd, compared with the stock docker CLI: cp in and
//! out (files, directories, renames, `-` tar streams), diff, export and commit.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Cleanup, Env, text, write};

fn tar_names(data: &[u8]) -> BTreeSet<String> {
    tar::Archive::new(data)
        .entries()
        .expect("tar")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).expect("prefix").display().to_string());
            if e.file_type().expect("type").is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn cp_diff_export_commit_match_docker() {
    let env = Env::start();
    let name = berth_testkit::unique_name("bc");
    let image = berth_testkit::unique_name("img");
    let _c = Cleanup(&env, vec![name.clone()]);
    env.berth_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    env.berth_ok(&[
        "exec",
        &name,
        "sh",
        "-c",
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && rm /etc/group",
    ]);

    // diff: the same changes, in whatever order the daemon lists them.
    let sorted = |o: std::process::Output| {
        text(&o)
            .0
            .lines()
            .map(String::from)
            .collect::<BTreeSet<_>>()
    };
    let b = sorted(env.run(&["diff", &name]));
    assert_eq!(b, sorted(env.docker(&["diff", &name])));
    assert!(b.contains("A /data") && b.contains("D /etc/group"), "{b:?}");

    // cp out: a file into a directory, a file to a new name, a directory, a tar on stdout.
    for (cli, dir) in [("berth", env.path("out-b")), ("docker", env.path("out-d"))] {
        std::fs::create_dir_all(&dir).expect("dir");
        let d = dir.to_str().expect("utf-8");
        for args in [
            vec![
                "cp".to_string(),
                format!("{name}:/etc/passwd"),
                d.to_string(),
            ],
            vec![
                "cp".to_string(),
                format!("{name}:/data/a"),
                format!("{d}/renamed"),
            ],
            vec![
                "cp".to_string(),
                format!("{name}:/data"),
                format!("{d}/datadir"),
            ],
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = if cli == "berth" {
                env.run(&args)
            } else {
                env.docker(&args)
            };
            assert!(o.status.success(), "{cli} {args:?}: {:?}", text(&o));
        }
    }
    assert_eq!(tree(&env.path("out-b")), tree(&env.path("out-d")));
    assert_eq!(
        std::fs::read_to_string(env.path("out-b/renamed")).expect("renamed"),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("out-b/datadir/sub/b")).expect("nested"),
        "two\n"
    );
    let (b, d) = (
        env.run(&["cp", &format!("{name}:/data"), "-"]),
        env.docker(&["cp", &format!("{name}:/data"), "-"]),
    );
    assert_eq!(tar_names(&b.stdout), tar_names(&d.stdout));

    // cp in: into a directory and to a new name; a missing source is an error.
    let local = env.path("local.txt");
    write(&local, "from the host\n");
    let l = local.to_str().expect("utf-8");
    env.berth_ok(&["cp", l, &format!("{name}:/root/")]);
    env.berth_ok(&["cp", l, &format!("{name}:/root/other.txt")]);
    assert_eq!(
        env.berth_ok(&["exec", &name, "cat", "/root/local.txt", "/root/other.txt"]),
        "from the host\nfrom the host\n"
    );
    let missing = env.run(&[
        "cp",
        env.path("nope").to_str().expect("utf-8"),
        &format!("{name}:/root/"),
    ]);
    assert_eq!(missing.status.code(), Some(1));

    // export: the same entries as docker's.
    let (bt, dt) = (env.path("b.tar"), env.path("d.tar"));
    env.berth_ok(&["export", "-o", bt.to_str().expect("utf-8"), &name]);
    let d = env.docker(&["export", "-o", dt.to_str().expect("utf-8"), &name]);
    assert!(d.status.success(), "{:?}", text(&d));
    let names = tar_names(&std::fs::read(&bt).expect("export"));
    assert_eq!(
        names,
        tar_names(&std::fs::read(&dt).expect("docker export"))
    );
    assert!(names.contains("data/sub/b"), "{names:?}");

    // commit: the new image carries the changes.
    let id = env.berth_ok(&["commit", "-m", "snapshot", &name, &format!("{image}:1")]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(
        env.berth_ok(&["run", "--rm", &format!("{image}:1"), "cat", "/data/a"]),
        "one\n"
    );
}
