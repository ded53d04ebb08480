//! Interop: a private containerd (temp root, state and socket) runs a container through its
//! stock runc shim with `--runc-binary berth-runtime`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

struct Containerd {
    child: Child,
    ns: String,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(Path::new("/run/containerd/runc").join(&self.ns));
        // containerd's cgroupsPath is /<namespace>/<id>: the runtime removed the leaf
        if let Ok(ctrls) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in ctrls.flatten() {
                let _ = std::fs::remove_dir(c.path().join(&self.ns));
            }
        }
    }
}

#[test]
fn containerd_runs_a_container_with_berth_runtime() {
    if Command::new("containerd")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("containerd is not installed (scripts/install-deps installs it)");
    }
    let dir = tempfile::Builder::new()
        .prefix("bctd")
        .tempdir_in("/tmp")
        .unwrap();
    let d = dir.path();
    let sock = d.join("c.sock");
    std::fs::write(
        d.join("config.toml"),
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n",
            d.display(),
            sock.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(d.join("containerd.log")).unwrap();
    let child = Command::new("containerd")
        .arg("--config")
        .arg(d.join("config.toml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let ns = berth_testkit::unique_name("bt");
    let _guard = Containerd {
        child,
        ns: ns.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(
            Instant::now() < deadline,
            "containerd did not start: {}",
            std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rootfs = d.join("rootfs");
    berth_testkit::busybox_rootfs(&rootfs).unwrap();
    let id = berth_testkit::unique_name("ctr");
    let out = Command::new("ctr")
        .args([
            "-a",
            sock.to_str().unwrap(),
            "-n",
            &ns,
            "run",
            "--rm",
            "--runc-binary",
            BIN,
            "--rootfs",
        ])
        .arg(&rootfs)
        .args([&id, "/bin/sh", "-c", "echo hello-from-containerd; hostname"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ctr run failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("hello-from-containerd\n"), "{text}");
    // the container's cgroup is gone after --rm
    assert!(
        !Path::new("/sys/fs/cgroup/memory")
            .join(&ns)
            .join(&id)
            .exists()
    );
}
