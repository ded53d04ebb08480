//! The local terminal: raw mode with a guard that restores it on every exit path (drop, panic,
//! signal), the window size, and detach-key sequences (`ctrl-p,ctrl-q`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Mutex;

use rustix::termios::{self, OptionalActions, Termios};

/// The state to restore if we die while the terminal is raw (read by the panic hook).
static SAVED: Mutex<Option<(RawFd, Termios)>> = Mutex::new(None);

pub fn is_tty(fd: impl AsFd) -> bool {
    termios::isatty(fd)
}

/// `(rows, columns)` of the terminal on `fd`, if it is one with a size.
pub fn size(fd: impl AsFd) -> Option<(u16, u16)> {
    let ws = termios::tcgetwinsize(fd).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Puts stdin's terminal in raw mode until dropped.
pub struct RawGuard {
    fd: RawFd,
    saved: Termios,
}

impl RawGuard {
    pub fn new(fd: BorrowedFd<'_>) -> std::io::Result<RawGuard> {
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        install_panic_hook();
        if let Ok(mut s) = SAVED.lock() {
            *s = Some((fd.as_raw_fd(), saved.clone()));
        }
        Ok(RawGuard {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

fn restore(fd: RawFd, saved: &Termios) {
    // SAFETY: fd is stdin, which stays open for the life of the process.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let _ = termios::tcsetattr(fd, OptionalActions::Now, saved);
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore(self.fd, &self.saved);
        if let Ok(mut s) = SAVED.lock() {
            *s = None;
        }
    }
}

/// Restores the terminal if the process is about to die abnormally (panic, fatal signal).
pub fn restore_saved() {
    if let Some((fd, saved)) = SAVED.try_lock().ok().as_ref().and_then(|s| s.as_ref()) {
        restore(*fd, saved);
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_saved();
            previous(info);
        }));
    });
}

/// Docker's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parses `--detach-keys` (`ctrl-p,ctrl-q`, `ctrl-@`, `a`): comma-separated single characters or
/// `ctrl-<key>`.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => {
                    return Err(format!(
                        "invalid detach keys ({spec}): unknown character: '{k}'"
                    ));
                }
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(format!(
                "invalid detach keys ({spec}): unknown character: '{k}'"
            ));
        }
    }
    if out.is_empty() {
        return Err(format!("invalid detach keys ({spec})"));
    }
    Ok(out)
}

/// Watches input for the detach sequence, holding back a partial match (Docker's escapeProxy).
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    pub fn new(keys: Vec<u8>) -> Self {
        DetachScanner { keys, matched: 0 }
    }

    /// Returns the bytes to forward and whether the sequence was completed.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            // Mismatch: release what was held back, then reconsider this byte.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q"), Ok(vec![16, 17]));
        assert_eq!(parse_detach_keys("ctrl-@,a"), Ok(vec![0, b'a']));
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }

    #[test]
    fn scanner_detaches_and_releases_partial_matches() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(s.feed(&[16]), (vec![], false));
        assert_eq!(s.feed(b"x"), (vec![16, b'x'], false));
        assert_eq!(s.feed(&[b'a', 16]), (vec![b'a'], false));
        assert_eq!(s.feed(&[17, b'z']), (vec![], true));
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(&[16, 16, 17]), (vec![16], true));
    }

    #[test]
    fn not_a_terminal_has_no_size() {
        let f = tempfile::tempfile().unwrap();
        assert!(!is_tty(&f));
        assert_eq!(size(&f), None);
    }
}
