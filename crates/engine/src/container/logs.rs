//! `GET /containers/{id}/logs`: the json-file log in Docker's wire format, with follow, since,
//! until, tail, timestamps and stream selection.

use std::io::{BufRead, BufReader};

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::Engine;
use crate::error::Result;
use crate::monitor::protocol::frame_header;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Unix seconds (fractional) bounds; 0 means none.
    pub since: f64,
    pub until: f64,
    pub timestamps: bool,
    /// Lines from the end; None for all.
    pub tail: Option<usize>,
}

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

pub struct LogStream {
    pub tty: bool,
    pub rx: mpsc::Receiver<Bytes>,
}

fn render(e: &Entry, opts: &LogOptions, tty: bool) -> Option<Bytes> {
    let stream = if e.stream == "stderr" { 2 } else { 1 };
    if (stream == 1 && !opts.stdout) || (stream == 2 && !opts.stderr) {
        return None;
    }
    if opts.since > 0.0 || opts.until > 0.0 {
        let t = chrono::DateTime::parse_from_rfc3339(&e.time).ok()?;
        let secs = t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9;
        if opts.since > 0.0 && secs < opts.since {
            return None;
        }
        if opts.until > 0.0 && secs > opts.until {
            return None;
        }
    }
    let mut payload = Vec::new();
    if opts.timestamps {
        payload.extend_from_slice(e.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(e.log.as_bytes());
    if tty {
        return Some(Bytes::from(payload));
    }
    let mut out = frame_header(stream, payload.len()).to_vec();
    out.extend_from_slice(&payload);
    Some(Bytes::from(out))
}

impl Engine {
    pub fn logs(&self, name: &str, opts: LogOptions) -> Result<LogStream> {
        let c = self.containers.get(name)?;
        let (path, tty) = {
            let r = c.rec();
            (r.log_path.clone(), r.config.tty)
        };
        let (tx, rx) = mpsc::channel(64);
        let lifecycle = c.lifecycle.subscribe();
        tokio::task::spawn_blocking(move || {
            let Ok(file) = std::fs::File::open(&path) else {
                return;
            };
            let mut reader = BufReader::new(file);
            let mut lines: Vec<String> = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line.ends_with('\n') {
                    lines.push(std::mem::take(&mut line));
                } else {
                    break;
                }
            }
            let start = match opts.tail {
                Some(n) => lines.len().saturating_sub(n),
                None => 0,
            };
            for l in &lines[start..] {
                if let Ok(e) = serde_json::from_str::<Entry>(l)
                    && let Some(b) = render(&e, &opts, tty)
                    && tx.blocking_send(b).is_err()
                {
                    return;
                }
            }
            if !opts.follow {
                return;
            }
            // follow: keep reading the same open file (it may be removed with the container
            // while the client still reads) until the container stops and it is drained
            let mut partial = line;
            loop {
                let running = lifecycle.borrow().running;
                let mut got = false;
                loop {
                    match reader.read_line(&mut partial) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    if !partial.ends_with('\n') {
                        break;
                    }
                    got = true;
                    if let Ok(e) = serde_json::from_str::<Entry>(&partial)
                        && let Some(b) = render(&e, &opts, tty)
                        && tx.blocking_send(b).is_err()
                    {
                        return;
                    }
                    partial.clear();
                }
                if (!running && !got) || tx.is_closed() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        Ok(LogStream { tty, rx })
    }
}
