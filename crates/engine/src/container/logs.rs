//! `GET /containers/{id}/logs`: the json-file log in Docker's wire format, with follow, since,
//! until, tail, timestamps, details and stream selection; rotated files (`<log>.N`,
//! `<log>.N.gz`) are read oldest first and a follower moves on to the new file after a rotation.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::Engine;
use crate::error::{Error, Result};
use crate::monitor::protocol::frame_header;

/// The rotated files of `log`, oldest (highest number) first; `<log>.N` is preferred to
/// `<log>.N.gz` when both exist (compression in progress).
fn rotated_files(log: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(base)) = (log.parent(), log.file_name().and_then(|b| b.to_str())) else {
        return vec![];
    };
    let mut found: std::collections::BTreeMap<u32, PathBuf> = Default::default();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(base)?.strip_prefix('.'))
        else {
            continue;
        };
        let (num, gz) = match rest.strip_suffix(".gz") {
            Some(n) => (n, true),
            None => (rest, false),
        };
        let Ok(n) = num.parse::<u32>() else { continue };
        if !gz || !found.contains_key(&n) {
            found.insert(n, e.path());
        }
    }
    found.into_values().rev().collect()
}

/// Complete lines of a rotated file, decompressed when it is a `.gz`.
fn read_rotated(path: &Path, lines: &mut Vec<String>) {
    let Ok(f) = File::open(path) else { return };
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    for l in BufReader::new(r).lines() {
        match l {
            Ok(l) => lines.push(l + "\n"),
            Err(_) => break,
        }
    }
}

/// The rotated files newer than the one `held` is open on, oldest first (empty when it is no
/// longer among them, e.g. compressed or dropped).
fn newer_rotated(held: &File, log: &Path) -> Vec<PathBuf> {
    let Ok(m) = held.metadata() else {
        return vec![];
    };
    let files = rotated_files(log);
    let mine = files
        .iter()
        .position(|p| std::fs::metadata(p).is_ok_and(|x| x.ino() == m.ino() && x.dev() == m.dev()));
    match mine {
        Some(i) => files[i + 1..].to_vec(),
        None => vec![],
    }
}

fn same_file(a: &File, path: &Path) -> Option<bool> {
    let (ma, mb) = (a.metadata().ok()?, std::fs::metadata(path).ok()?);
    Some(ma.ino() == mb.ino() && ma.dev() == mb.dev())
}

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
    /// `details`: each line starts with its attrs (`k=v,k2=v2 `), as moby does.
    pub details: bool,
}

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
    #[serde(default)]
    attrs: std::collections::BTreeMap<String, String>,
}

/// Go's `url.QueryEscape`, which `docker logs --details` applies to attribute values.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
    if opts.details {
        let attrs: Vec<String> = e
            .attrs
            .iter()
            .map(|(k, v)| format!("{k}={}", query_escape(v)))
            .collect();
        payload.extend_from_slice(attrs.join(",").as_bytes());
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
            if r.host_config.log_config.kind == "none" {
                return Err(Error::NotImplemented(
                    "configured logging driver does not support reading".into(),
                ));
            }
            (PathBuf::from(&r.log_path), r.config.tty)
        };
        let (tx, rx) = mpsc::channel(64);
        let lifecycle = c.lifecycle.subscribe();
        tokio::task::spawn_blocking(move || {
            let mut lines: Vec<String> = Vec::new();
            for p in rotated_files(&path) {
                read_rotated(&p, &mut lines);
            }
            let Ok(file) = File::open(&path) else {
                return;
            };
            let mut reader = BufReader::new(file);
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
            let mut rotated = false;
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
                if !got && same_file(reader.get_ref(), &path) == Some(false) {
                    // rotated: drain this file once more (lines written just before the
                    // rotation), then the new one from its beginning
                    if !rotated {
                        rotated = true;
                        continue;
                    }
                    // files rotated out after ours (several rotations between two polls)
                    let mut missed = Vec::new();
                    for p in newer_rotated(reader.get_ref(), &path) {
                        read_rotated(&p, &mut missed);
                    }
                    for l in &missed {
                        if let Ok(e) = serde_json::from_str::<Entry>(l)
                            && let Some(b) = render(&e, &opts, tty)
                            && tx.blocking_send(b).is_err()
                        {
                            return;
                        }
                    }
                    if let Ok(f) = File::open(&path) {
                        reader = BufReader::new(f);
                        partial.clear();
                        rotated = false;
                        continue;
                    }
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
