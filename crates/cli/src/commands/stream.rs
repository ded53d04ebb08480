//! Driving a hijacked connection (attach, exec start): stdin → daemon with detach keys and a
//! half-close at EOF; daemon → stdout/stderr, demultiplexing stdcopy frames when there is no
//! TTY; terminal resizes on SIGWINCH.

use std::future::Future;
use std::io::Write;

use anyhow::{Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};

use crate::client::Hijacked;
use crate::tty::DetachScanner;

/// Splits stdcopy frames (`[stream, 0, 0, 0, len BE32] payload`) across reads.
#[derive(Default)]
pub struct Demux {
    buf: Vec<u8>,
}

impl Demux {
    /// Feeds bytes, returning complete `(stream, payload)` frames in order.
    pub fn feed(&mut self, data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.buf.extend_from_slice(data);
        let mut frames = Vec::new();
        loop {
            if self.buf.len() < 8 {
                break;
            }
            let len =
                u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
            if self.buf.len() < 8 + len {
                break;
            }
            let payload = self.buf[8..8 + len].to_vec();
            frames.push((self.buf[0], payload));
            self.buf.drain(..8 + len);
        }
        frames
    }
}

/// Writes one frame where it belongs; stream 3 is an error from the daemon.
fn write_frame(stream: u8, payload: &[u8]) -> Result<()> {
    match stream {
        0 | 1 => {
            let mut o = std::io::stdout().lock();
            o.write_all(payload)?;
            o.flush()?;
        }
        2 => {
            let mut e = std::io::stderr().lock();
            e.write_all(payload)?;
            e.flush()?;
        }
        3 => bail!("{}", String::from_utf8_lossy(payload).trim_end()),
        other => bail!("unrecognized input header: {other}"),
    }
    Ok(())
}

/// How an interactive session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the output stream (the process ended).
    Closed,
    /// The user typed the detach sequence.
    Detached,
    /// SIGTERM or SIGHUP arrived while the terminal was raw; the caller exits 128+15.
    Terminated,
}

/// Copies the session both ways until the output ends or the user detaches. `resize` is called
/// on every SIGWINCH with the new `(rows, cols)`.
pub async fn pump<R, F>(
    io: Hijacked,
    tty: bool,
    stdin: bool,
    detach_keys: Option<Vec<u8>>,
    resize: R,
) -> Result<Ended>
where
    R: Fn(u16, u16) -> F,
    F: Future<Output = ()>,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let output = async move {
        let mut demux = Demux::default();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, anyhow::Error>(Ended::Closed);
            }
            if tty {
                let mut o = std::io::stdout().lock();
                o.write_all(&buf[..n])?;
                o.flush()?;
            } else {
                for (stream, payload) in demux.feed(&buf[..n]) {
                    write_frame(stream, &payload)?;
                }
            }
        }
    };
    let input = async move {
        if !stdin {
            return std::future::pending::<Result<Ended>>().await;
        }
        let mut scanner = detach_keys.map(DetachScanner::new);
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = stdin.read(&mut buf).await?;
            if n == 0 {
                // Half-close: the container sees EOF, we keep reading its output.
                let _ = wr.shutdown().await;
                return std::future::pending::<Result<Ended>>().await;
            }
            let (data, detached) = match scanner.as_mut() {
                Some(s) => s.feed(&buf[..n]),
                None => (buf[..n].to_vec(), false),
            };
            if !data.is_empty() {
                wr.write_all(&data).await?;
                wr.flush().await?;
            }
            if detached {
                return Ok(Ended::Detached);
            }
        }
    };
    let winch = async move {
        if !tty {
            return std::future::pending::<()>().await;
        }
        let Ok(mut sig) = signal(SignalKind::window_change()) else {
            return std::future::pending::<()>().await;
        };
        while sig.recv().await.is_some() {
            if let Some((rows, cols)) = crate::tty::size(std::io::stdout()) {
                resize(rows, cols).await;
            }
        }
    };
    // A fatal signal while the terminal is raw: end the session so the guard restores it.
    let terminate = async {
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = hup.recv() => {},
        }
    };
    tokio::select! {
        r = output => r,
        r = input => r,
        _ = winch => Ok(Ended::Closed),
        _ = terminate, if tty => Ok(Ended::Terminated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_handles_split_and_joined_frames() {
        let mut d = Demux::default();
        let mut data = vec![1, 0, 0, 0, 0, 0, 0, 6];
        data.extend_from_slice(b"hello\n");
        data.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 3]);
        data.extend_from_slice(b"err");
        assert_eq!(d.feed(&data[..5]), vec![]);
        assert_eq!(d.feed(&data[5..16]), vec![(1, b"hello\n".to_vec())]);
        assert_eq!(d.feed(&data[16..]), vec![(2, b"err".to_vec())]);
        assert_eq!(d.feed(&[1, 0, 0, 0, 0, 0, 0, 0]), vec![(1, vec![])]);
    }
}
