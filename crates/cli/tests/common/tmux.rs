//! A private tmux server (its own `-L` socket) holding one pane: a real pty for the interactive
//! tests, with keys, resizes and screen captures; killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (run by `sh -c`) in a detached `cols`x`rows` session.
    pub fn start(command: &str, cols: u16, rows: u16) -> Tmux {
        let t = Tmux {
            socket: berth_testkit::unique_name("bt"),
        };
        let ok = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
                command,
            ])
            .status()
            .expect("run tmux");
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// Types a line (with Enter).
    pub fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    /// `tmux send-keys` with raw key names (`C-p`, `Enter`) or `-l` literal text.
    pub fn keys(&self, keys: &[&str]) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "main"]).args(keys);
        assert!(c.status().expect("send-keys").success());
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let ok = self
            .cmd()
            .args([
                "resize-window",
                "-t",
                "main",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .status()
            .expect("resize-window");
        assert!(ok.success());
    }

    /// The pid of the pane's first process.
    pub fn pane_pid(&self) -> u32 {
        let out = self
            .cmd()
            .args(["list-panes", "-t", "main", "-F", "#{pane_pid}"])
            .output()
            .expect("list-panes");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pane pid")
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `text` `count` times; returns the screen.
    pub fn wait_for_n(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if s.matches(text).count() >= count {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?} (x{count}) on screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `stty size` until the pane's program reports `rows cols` (a resize reaches the
    /// container asynchronously: SIGWINCH → berth → the daemon → the pty).
    pub fn wait_for_size(&self, rows: u16, cols: u16) {
        let want = format!("{rows} {cols}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.line("stty size");
            std::thread::sleep(Duration::from_millis(300));
            let s = self.screen();
            if s.lines().any(|l| l.trim() == want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the size never became {want}:\n{s}"
            );
        }
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_n(text, 1)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}
