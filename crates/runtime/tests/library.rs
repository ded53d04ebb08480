//! The library API as the engine calls it, in-process. This binary has no libtest harness: it
//! stays single-threaded because `Runtime::create` and `Container::exec` clone the caller.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use berth_runtime::{CreateOptions, ExecOptions, Runtime, Status};
use serde_json::json;

struct Case {
    _dir: tempfile::TempDir,
    rt: Runtime,
    id: String,
    bundle: std::path::PathBuf,
}

impl Case {
    fn new(args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Case {
        let dir = tempfile::Builder::new()
            .prefix("berth-lib-")
            .tempdir()
            .unwrap();
        let bundle = dir.path().join("bundle");
        berth_testkit::busybox_rootfs(&bundle.join("rootfs")).unwrap();
        let id = berth_testkit::unique_name("lib");
        let mut v = serde_json::to_value(berth_runtime::spec::default_spec(false)).unwrap();
        v["process"]["terminal"] = json!(false);
        v["process"]["args"] = json!(args);
        v["linux"]["cgroupsPath"] = json!(format!("/berth-test/{id}"));
        edit(&mut v);
        std::fs::write(bundle.join("config.json"), serde_json::to_vec(&v).unwrap()).unwrap();
        let rt = Runtime::new(dir.path().join("state"));
        Case {
            _dir: dir,
            rt,
            id,
            bundle,
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if let Ok(c) = self.rt.load(&self.id) {
            let _ = c.delete(true);
        }
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid with a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    libc::WEXITSTATUS(status)
}

fn create_start_wait_delete() {
    let case = Case::new(&["sh", "-c", "echo out; echo err >&2; exit 5"], |_| {});
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let devnull = std::fs::File::open("/dev/null").unwrap();
    let opts = CreateOptions {
        stdio: Some([devnull.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()]),
        ..Default::default()
    };
    let mut c = case.rt.create(&case.id, &case.bundle, &opts).unwrap();
    drop((out_w, err_w));
    assert_eq!(c.status(), Status::Created);
    let pid = c.pid().unwrap();
    assert_eq!(case.rt.list().unwrap()[0].id, case.id);
    c.start().unwrap();
    assert_eq!(
        wait(pid),
        5,
        "the init is our child: waitpid gets its exit code"
    );
    assert_eq!(read_all(out_r), "out\n");
    assert_eq!(read_all(err_r), "err\n");
    assert_eq!(c.status(), Status::Stopped);
    assert_eq!(c.pid(), None);
    c.delete(false).unwrap();
    assert!(!case.rt.root().join(&case.id).exists());
    assert!(
        !Path::new("/sys/fs/cgroup/memory/berth-test")
            .join(&case.id)
            .exists()
    );
}

fn console_is_returned_in_process() {
    let case = Case::new(&["sh", "-c", "echo on-the-tty"], |v| {
        v["process"]["terminal"] = json!(true)
    });
    let mut c = case
        .rt
        .create(&case.id, &case.bundle, &CreateOptions::default())
        .unwrap();
    let master = c
        .take_console()
        .expect("pty master returned without a console socket");
    let pid = c.pid().unwrap();
    c.start().unwrap();
    let mut f = std::fs::File::from(master);
    let mut text = String::new();
    let mut buf = [0u8; 256];
    while !text.contains("on-the-tty") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("on-the-tty"), "{text}");
    assert_eq!(wait(pid), 0);
}

fn exec_stats_pause_update_kill() {
    let case = Case::new(&["sleep", "100"], |_| {});
    let mut c = case
        .rt
        .create(&case.id, &case.bundle, &CreateOptions::default())
        .unwrap();
    let pid = c.pid().unwrap();
    c.start().unwrap();
    assert_eq!(c.status(), Status::Running);
    let mut p = c.spec().process().clone().unwrap();
    p.set_args(Some(vec![
        "sh".into(),
        "-c".into(),
        "hostname; exit 3".into(),
    ]));
    let (r, w) = pipe();
    let devnull = std::fs::File::open("/dev/null").unwrap();
    let h = c
        .exec(
            &p,
            &ExecOptions {
                stdio: Some([devnull.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]),
                ..Default::default()
            },
        )
        .unwrap();
    drop(w);
    assert_eq!(h.wait().unwrap(), 3);
    assert_eq!(read_all(r), "berth\n");
    let bad = c.exec(
        &{
            let mut q = p.clone();
            q.set_args(Some(vec!["/does/not/exist".into()]));
            q
        },
        &ExecOptions::default(),
    );
    assert!(bad.unwrap_err().to_string().contains("/does/not/exist"));
    let st = c.stats().unwrap();
    assert!(st.pids.current >= 1);
    assert!(st.memory.usage.usage > 0);
    assert_eq!(c.processes().unwrap(), vec![pid]);
    c.pause().unwrap();
    assert_eq!(c.status(), Status::Paused);
    c.resume().unwrap();
    let mut res = oci_spec::runtime::LinuxResources::default();
    let mut mem = oci_spec::runtime::LinuxMemory::default();
    mem.set_limit(Some(32 << 20));
    res.set_memory(Some(mem));
    c.update(&res).unwrap();
    assert_eq!(c.stats().unwrap().memory.usage.limit, 32 << 20);
    assert!(c.start().is_err(), "start twice must fail");
    c.kill(libc::SIGKILL, false).unwrap();
    assert_eq!(wait(pid), 0);
    assert_eq!(c.status(), Status::Stopped);
    c.delete(false).unwrap();
}

fn bad_input_leaves_nothing() {
    let case = Case::new(&["true"], |v| {
        v["linux"]["cgroupsPath"] = json!("/../escape")
    });
    let err = case
        .rt
        .create(&case.id, &case.bundle, &CreateOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cgroupsPath"), "{err}");
    assert!(!case.rt.root().join(&case.id).exists());
    let err = case
        .rt
        .create("bad/id", &case.bundle, &CreateOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, berth_runtime::Error::InvalidId(_)));
    assert!(matches!(
        case.rt.load("nope").err().unwrap(),
        berth_runtime::Error::NotFound(_)
    ));
}

const TESTS: &[(&str, fn())] = &[
    ("create_start_wait_delete", create_start_wait_delete),
    (
        "console_is_returned_in_process",
        console_is_returned_in_process,
    ),
    ("exec_stats_pause_update_kill", exec_stats_pause_update_kill),
    ("bad_input_leaves_nothing", bad_input_leaves_nothing),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for (name, _) in TESTS {
                println!("{name}: test");
            }
        }
        return;
    }
    let exact = args.iter().any(|a| a == "--exact");
    let mut filters = vec![];
    let mut skip_next = false;
    for a in &args {
        if skip_next {
            skip_next = false;
        } else if a == "--format" || a == "--test-threads" || a == "--skip" || a == "--color" {
            skip_next = true;
        } else if !a.starts_with("--") {
            filters.push(a.clone());
        }
    }
    let mut failed = 0;
    for (name, f) in TESTS {
        let selected = filters.is_empty()
            || filters.iter().any(|flt| {
                if exact {
                    flt == name
                } else {
                    name.contains(flt.as_str())
                }
            });
        if !selected {
            continue;
        }
        let ok = std::panic::catch_unwind(f).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    if failed > 0 {
        std::process::exit(101);
    }
}
