//! Docker's jsonmessage renderer for pull, push, load, import and build streams: on a terminal,
//! one line per layer id redrawn in place (cursor up/down, clear line); otherwise plain lines,
//! with the progress-bar updates left out.

use std::collections::HashMap;
use std::io::Write;

use serde_json::Value;

use super::human::human_size;
use crate::types::{JsonMessage, ProgressDetail};

/// Renders messages as they arrive.
pub struct Progress<W: Write> {
    out: W,
    tty: bool,
    width: u16,
    ids: HashMap<String, usize>,
    /// `aux` payloads seen (build's image ID, push's digest).
    pub aux: Vec<Value>,
}

/// The bar, counts and time left of one progress update (`JSONProgress.String`).
pub fn progress_string(p: &ProgressDetail, width: u16, now: i64) -> String {
    if p.current <= 0 && p.total <= 0 {
        return String::new();
    }
    if p.total <= 0 {
        return format!("{:>8}", human_size(p.current as f64));
    }
    let percentage = (((p.current as f64 / p.total as f64) * 100.0) as i64 / 2).clamp(0, 50);
    let mut out = String::new();
    if width > 110 {
        out.push('[');
        out.push_str(&"=".repeat(percentage as usize));
        out.push('>');
        out.push_str(&" ".repeat((50 - percentage) as usize));
        out.push_str("] ");
    }
    if !p.hide_counts {
        let current = human_size(p.current as f64);
        if p.current > p.total {
            out.push_str(&format!("{current:>8}"));
        } else {
            out.push_str(&format!("{current:>8}/{}", human_size(p.total as f64)));
        }
    }
    if p.current > 0 && p.start > 0 && percentage < 50 && width > 50 {
        let elapsed = (now - p.start).max(0) as f64;
        let left = ((p.total - p.current) as f64 * elapsed / p.current as f64) as i64;
        out.push(' ');
        out.push_str(&go_duration(left));
    }
    out
}

/// Go's `time.Duration.String()` for whole seconds: `1m5s`, `2h0m0s`, `0s`.
fn go_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

impl<W: Write> Progress<W> {
    pub fn new(out: W, tty: bool, width: u16) -> Self {
        Progress {
            out,
            tty,
            width,
            ids: HashMap::new(),
            aux: Vec::new(),
        }
    }

    /// Renders one message; an in-band error is returned as `Err(message)`.
    pub fn message(&mut self, jm: &JsonMessage) -> Result<(), String> {
        if let Some(aux) = &jm.aux {
            self.aux.push(aux.clone());
            return Ok(());
        }
        let has_progress = jm.progress_detail.is_some() || !jm.progress.is_empty();
        let mut diff = 0;
        if !jm.id.is_empty() && has_progress {
            let n = self.ids.len();
            let line = *self.ids.entry(jm.id.clone()).or_insert(n);
            if line == n && self.tty {
                let _ = writeln!(self.out);
            }
            diff = self.ids.len() - line;
            if self.tty && diff > 0 {
                let _ = write!(self.out, "\x1b[{diff}A");
            }
        } else {
            self.ids.clear();
        }
        let r = self.display(jm);
        if !jm.id.is_empty() && self.tty && diff > 0 {
            let _ = write!(self.out, "\x1b[{diff}B");
        }
        let _ = self.out.flush();
        r
    }

    fn display(&mut self, jm: &JsonMessage) -> Result<(), String> {
        if let Some(e) = jm.error_message() {
            return Err(e);
        }
        let now = chrono::Utc::now().timestamp();
        let bar = jm
            .progress_detail
            .as_ref()
            .map(|p| progress_string(p, self.width, now))
            .unwrap_or_default();
        let mut endl = "";
        if self.tty && jm.stream.is_empty() && jm.progress_detail.is_some() {
            let _ = write!(self.out, "\x1b[2K\r");
            endl = "\r";
        } else if jm.progress_detail.is_some() && !bar.is_empty() {
            return Ok(());
        }
        let o = &mut self.out;
        if !jm.id.is_empty() {
            let _ = write!(o, "{}: ", jm.id);
        }
        if !jm.from.is_empty() {
            let _ = write!(o, "(from {}) ", jm.from);
        }
        let _ = if jm.progress_detail.is_some() && self.tty {
            write!(o, "{} {bar}{endl}", jm.status)
        } else if !jm.progress.is_empty() && jm.progress_detail.is_none() {
            write!(o, "{} {}{endl}", jm.status, jm.progress)
        } else if !jm.stream.is_empty() {
            write!(o, "{}{endl}", jm.stream)
        } else {
            writeln!(o, "{}{endl}", jm.status)
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(lines: &[&str]) -> Vec<JsonMessage> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    const PULL: &[&str] = &[
        r#"{"status":"Pulling from uniq28","id":"1"}"#,
        r#"{"status":"Pulling fs layer","progressDetail":{},"id":"5601a258d5d4"}"#,
        r#"{"status":"Downloading","progressDetail":{"current":3678,"total":300350},"progress":"[>  ]  3.678kB/300.4kB","id":"5601a258d5d4"}"#,
        r#"{"status":"Download complete","progressDetail":{},"id":"5601a258d5d4"}"#,
        r#"{"status":"Pull complete","progressDetail":{},"id":"5601a258d5d4"}"#,
        r#"{"status":"Digest: sha256:32de"}"#,
        r#"{"status":"Status: Downloaded newer image for 127.0.0.1:25123/uniq28:1"}"#,
    ];

    #[test]
    fn plain_output_drops_progress_updates() {
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, false, 80);
        for m in msgs(PULL) {
            p.message(&m).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1: Pulling from uniq28\n5601a258d5d4: Pulling fs layer\n5601a258d5d4: Download complete\n\
             5601a258d5d4: Pull complete\nDigest: sha256:32de\n\
             Status: Downloaded newer image for 127.0.0.1:25123/uniq28:1\n"
        );
    }

    #[test]
    fn terminal_output_redraws_layer_lines() {
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, true, 80);
        for m in msgs(&PULL[..3]) {
            p.message(&m).unwrap();
        }
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "1: Pulling from uniq28\n\n\x1b[1A\x1b[2K\r5601a258d5d4: Pulling fs layer \r\x1b[1B\
             \x1b[1A\x1b[2K\r5601a258d5d4: Downloading  3.678kB/300.4kB\r\x1b[1B"
        );
    }

    #[test]
    fn wide_terminals_get_a_bar() {
        let p = ProgressDetail {
            current: 150,
            total: 300,
            ..Default::default()
        };
        let s = progress_string(&p, 200, 0);
        assert_eq!(
            s,
            format!("[{}>{}]     150B/300B", "=".repeat(25), " ".repeat(25))
        );
        assert_eq!(progress_string(&ProgressDetail::default(), 200, 0), "");
    }

    #[test]
    fn errors_and_aux_are_reported() {
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, false, 80);
        let m = msgs(&[r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#]);
        assert_eq!(p.message(&m[0]), Err("boom".to_string()));
        let m = msgs(&[r#"{"aux":{"ID":"sha256:abc"}}"#]);
        p.message(&m[0]).unwrap();
        assert_eq!(p.aux.len(), 1);
        let m = msgs(&[r#"{"stream":"Step 1/2 : FROM bb\n"}"#]);
        p.message(&m[0]).unwrap();
        drop(p);
        assert_eq!(String::from_utf8(out).unwrap(), "Step 1/2 : FROM bb\n");
    }
}
