use super::*;
use std::os::unix::fs::symlink;

struct Fixture {
    ctx: tempfile::TempDir,
    root: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    fs::create_dir_all(c.join("dir/sub")).unwrap();
    fs::write(c.join("a.txt"), "a").unwrap();
    fs::write(c.join("b.txt"), "b").unwrap();
    fs::write(c.join("dir/one"), "1").unwrap();
    fs::write(c.join("dir/sub/two"), "2").unwrap();
    fs::write(c.join("dir/skip.log"), "no").unwrap();
    Fixture {
        ctx,
        root: tempfile::tempdir().unwrap(),
    }
}

fn spec<'a>(f: &'a Fixture, kw: &'static str, sources: &[&str], dest: &str) -> CopySpec<'a> {
    CopySpec {
        keyword: kw,
        src_root: f.ctx.path(),
        fs: &crate::srcfs::HostFs,
        scope: Scope::Strict,
        ignore: None,
        exclude: None,
        sources: sources.iter().map(|s| Source::Path((*s).into())).collect(),
        dest: dest.into(),
        owner: None,
        chmod: None,
    }
}

fn run(s: &CopySpec<'_>, root: &Path) -> Result<String, BuildError> {
    let items = s.resolve()?;
    let hash = s.content_hash(&items)?;
    s.apply(&items, root)?;
    Ok(hash)
}

#[test]
fn file_and_directory_destination_rules() {
    let f = fixture();
    let r = f.root.path();
    run(&spec(&f, "COPY", &["a.txt"], "/x/"), r).unwrap();
    assert_eq!(fs::read_to_string(r.join("x/a.txt")).unwrap(), "a");
    run(&spec(&f, "COPY", &["a.txt"], "/renamed"), r).unwrap();
    assert_eq!(fs::read_to_string(r.join("renamed")).unwrap(), "a");
    run(&spec(&f, "COPY", &["dir"], "/d"), r).unwrap();
    assert_eq!(fs::read_to_string(r.join("d/sub/two")).unwrap(), "2");
    assert!(
        !r.join("d/dir").exists(),
        "a directory's contents are copied, not the directory"
    );
    let e = run(&spec(&f, "COPY", &["a.txt", "b.txt"], "/multi"), r).unwrap_err();
    assert!(
        e.to_string()
            .contains("must be a directory and end with a /"),
        "{e}"
    );
    run(&spec(&f, "COPY", &["a.txt", "b.txt"], "/multi/"), r).unwrap();
    assert!(r.join("multi/b.txt").is_file());
}

#[test]
fn globs_match_like_filepath_match() {
    let f = fixture();
    let r = f.root.path();
    run(&spec(&f, "COPY", &["*.txt"], "/g/"), r).unwrap();
    assert!(r.join("g/a.txt").is_file() && r.join("g/b.txt").is_file());
    run(&spec(&f, "COPY", &["dir/o?e"], "/h/"), r).unwrap();
    assert!(r.join("h/one").is_file());
    let e = run(&spec(&f, "COPY", &["*.nope"], "/g/"), r).unwrap_err();
    assert_eq!(e.to_string(), "COPY failed: no source files were specified");
}

#[test]
fn hostile_sources_are_refused() {
    let f = fixture();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "s").unwrap();
    symlink(outside.path(), f.ctx.path().join("out")).unwrap();
    symlink("../../etc/passwd", f.ctx.path().join("dir/up")).unwrap();
    let r = f.root.path();
    let e = run(&spec(&f, "COPY", &["../x"], "/"), r).unwrap_err();
    assert!(
        e.to_string()
            .contains("forbidden path outside the build context: ../x"),
        "{e}"
    );
    let e = run(&spec(&f, "COPY", &["out/secret"], "/"), r).unwrap_err();
    assert!(e.to_string().contains("outside the build context"), "{e}");
    // A symlink inside a copied directory is copied as a link, never followed.
    run(&spec(&f, "COPY", &["dir"], "/d/"), r).unwrap();
    assert_eq!(
        fs::read_link(r.join("d/up")).unwrap(),
        Path::new("../../etc/passwd")
    );
    let e = run(&spec(&f, "COPY", &["missing"], "/"), r).unwrap_err();
    assert!(
        e.to_string().contains("file not found in build context"),
        "{e}"
    );
}

#[test]
fn destination_symlinks_stay_in_the_rootfs() {
    let f = fixture();
    let host_target = tempfile::tempdir().unwrap();
    symlink(host_target.path(), f.root.path().join("escape")).unwrap();
    run(&spec(&f, "COPY", &["a.txt"], "/escape/"), f.root.path()).unwrap();
    assert!(!host_target.path().join("a.txt").exists());
    let inside = f
        .root
        .path()
        .join(host_target.path().strip_prefix("/").unwrap())
        .join("a.txt");
    assert!(inside.is_file());
}

#[test]
fn dockerignore_hides_files() {
    let f = fixture();
    let ig = DockerIgnore::parse("*.txt\n!b.txt\ndir/*.log\n").unwrap();
    let mut s = spec(&f, "COPY", &["."], "/all/");
    s.ignore = Some(&ig);
    run(&s, f.root.path()).unwrap();
    let r = f.root.path();
    assert!(!r.join("all/a.txt").exists());
    assert!(r.join("all/b.txt").exists());
    assert!(!r.join("all/dir/skip.log").exists());
    assert!(r.join("all/dir/one").exists());
    let mut s = spec(&f, "COPY", &["a.txt"], "/");
    s.ignore = Some(&ig);
    assert!(run(&s, r).is_err());
}

#[test]
fn chown_chmod_and_the_content_hash() {
    let f = fixture();
    let r = f.root.path();
    let mut s = spec(&f, "COPY", &["dir"], "/o/");
    let plain = run(&s, r).unwrap();
    s.owner = Some((1000, 2000));
    s.chmod = Some(0o700);
    let owned = run(&s, r).unwrap();
    assert_ne!(plain, owned, "ownership and mode are in the hash");
    let m = fs::metadata(r.join("o/one")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1000, 2000, 0o700));
    // Same content, new mtime: same hash. New content: new hash.
    let again = run(&s, r).unwrap();
    assert_eq!(owned, again);
    fs::write(f.ctx.path().join("dir/sub/two"), "changed").unwrap();
    assert_ne!(owned, run(&s, r).unwrap());
}

#[test]
fn add_extracts_local_archives_and_refuses_urls() {
    let f = fixture();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, "inner/file", &b"hello"[..]).unwrap();
    let gz = b.into_inner().unwrap().finish().unwrap();
    fs::write(f.ctx.path().join("pack.tar.gz"), gz).unwrap();
    let r = f.root.path();
    run(&spec(&f, "ADD", &["pack.tar.gz"], "/opt"), r).unwrap();
    assert_eq!(
        fs::read_to_string(r.join("opt/inner/file")).unwrap(),
        "hello"
    );
    // COPY does not extract.
    run(&spec(&f, "COPY", &["pack.tar.gz"], "/c/"), r).unwrap();
    assert!(r.join("c/pack.tar.gz").is_file());
    let e = run(&spec(&f, "ADD", &["https://example.com/x.tgz"], "/"), r).unwrap_err();
    assert!(e.to_string().contains("no network access"), "{e}");
    let e = run(&spec(&f, "COPY", &["https://example.com/x"], "/"), r).unwrap_err();
    assert!(e.to_string().contains("can't be a URL"), "{e}");
}

#[test]
fn heredoc_sources_become_files() {
    let f = fixture();
    let mut s = spec(&f, "COPY", &[], "/etc/");
    s.sources = vec![Source::Inline {
        name: "motd".into(),
        content: "hi\n".into(),
    }];
    run(&s, f.root.path()).unwrap();
    assert_eq!(
        fs::read_to_string(f.root.path().join("etc/motd")).unwrap(),
        "hi\n"
    );
}

#[test]
fn an_existing_directory_destination_gets_the_file_inside() {
    let f = fixture();
    let r = f.root.path();
    fs::create_dir_all(r.join("usr/bin")).unwrap();
    symlink("usr/bin", r.join("bin")).unwrap();
    let host = tempfile::tempdir().unwrap();
    symlink(host.path(), r.join("abs")).unwrap();
    run(&spec(&f, "COPY", &["a.txt"], "/usr/bin"), r).unwrap();
    assert!(r.join("usr/bin/a.txt").is_file());
    run(&spec(&f, "COPY", &["b.txt"], "/bin"), r).unwrap();
    assert!(r.join("usr/bin/b.txt").is_file());
    // An absolute symlink is followed inside the rootfs, never on the host.
    run(&spec(&f, "COPY", &["a.txt"], "/abs"), r).unwrap();
    assert!(!host.path().join("a.txt").exists());
}
