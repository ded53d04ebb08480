//! Test support: a busybox bundle per test, the built binary, and a guard that force-deletes
//! the container whatever happens.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

pub struct Ct {
    pub id: String,
    pub dir: tempfile::TempDir,
}

impl Ct {
    /// A bundle with a busybox rootfs whose config runs `args`; `edit` may change config.json.
    pub fn new(args: &[&str], edit: impl FnOnce(&mut Value)) -> Ct {
        let dir = tempfile::Builder::new()
            .prefix("berth-rt-")
            .tempdir()
            .unwrap();
        let id = berth_testkit::unique_name("rt");
        let bundle = dir.path().join("bundle");
        berth_testkit::busybox_rootfs(&bundle.join("rootfs")).unwrap();
        let spec = berth_runtime::spec::default_spec(false);
        let mut v = serde_json::to_value(&spec).unwrap();
        v["process"]["terminal"] = json!(false);
        v["process"]["args"] = json!(args);
        v["linux"]["cgroupsPath"] = json!(format!("/berth-test/{id}"));
        edit(&mut v);
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&v).unwrap(),
        )
        .unwrap();
        Ct { id, dir }
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(self.root()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs a command with `id` appended (when `with_id`), returning its output.
    pub fn rt(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn run(&self) -> Output {
        self.cmd(&["run", "--bundle", self.bundle().to_str().unwrap(), &self.id])
            .output()
            .unwrap()
    }

    pub fn create(&self) -> Output {
        let pid_file = self.dir.path().join("init.pid");
        self.cmd(&[
            "create",
            "--bundle",
            self.bundle().to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &self.id,
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(self.dir.path().join("create.err")).unwrap())
        .output()
        .map(|mut o| {
            // the init inherits stdio: a pipe would never close, so stderr went to a file
            o.stderr = std::fs::read(self.dir.path().join("create.err")).unwrap_or_default();
            o
        })
        .unwrap()
    }

    /// create + start; panics with the error if either fails.
    pub fn start_detached(&self) {
        let out = self.create();
        assert!(
            out.status.success(),
            "create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ok(self.rt(&["start", &self.id]));
    }

    pub fn state(&self) -> Value {
        let out = self.rt(&["state", &self.id]);
        assert!(
            out.status.success(),
            "state: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap().to_string()
    }

    pub fn exec(&self, args: &[&str]) -> Output {
        let mut a = vec!["exec", self.id.as_str()];
        a.extend_from_slice(args);
        self.rt(&a)
    }

    pub fn cgroup_dir(&self, ctrl: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join("berth-test")
            .join(&self.id)
    }

    pub fn wait_status(&self, want: &str) {
        for _ in 0..500 {
            if self.status() == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("container never reached {want}: {}", self.status());
    }
}

impl Drop for Ct {
    fn drop(&mut self) {
        let _ = self.cmd(&["delete", "--force", &self.id]).output();
    }
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
