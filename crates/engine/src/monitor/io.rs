//! The monitor's plumbing: the json-file log writer, attach clients, raw fd helpers.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::protocol::{LogSpec, frame_header};

/// Docker's json-file log: one JSON object per line, partial lines held until their newline.
/// Rotated as moby's `loggerutils.LogFile` does: once the file has reached `max-size`, the next
/// entry first shifts `<log>.N-1` .. `<log>.1` up by one, renames the live file to `<log>.1`
/// (compressed to `<log>.1.gz` by a short-lived child when asked) and starts a new file.
pub struct JsonLog {
    /// `None` for the `none` driver.
    file: Option<File>,
    path: PathBuf,
    size: u64,
    spec: LogSpec,
    /// A pidfd of the child compressing the last rotated file, waited for before the next
    /// rotation (a pidfd, not the pid: `reap` may collect the child first and the pid be reused).
    compressing: Option<OwnedFd>,
    partial: [Vec<u8>; 3],
}

impl JsonLog {
    pub fn open(path: &Path, spec: &LogSpec) -> io::Result<JsonLog> {
        let mut file = None;
        let mut size = 0;
        if !spec.none {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            size = f.metadata()?.len();
            file = Some(f);
        }
        Ok(JsonLog {
            file,
            path: path.to_path_buf(),
            size,
            spec: spec.clone(),
            compressing: None,
            partial: [vec![], vec![], vec![]],
        })
    }

    pub fn write(&mut self, stream: u8, data: &[u8]) {
        if self.file.is_none() {
            return;
        }
        let s = stream as usize % 3;
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[s]);
            line.extend_from_slice(&rest[..=nl]);
            self.entry(stream, &line);
            rest = &rest[nl + 1..];
        }
        self.partial[s].extend_from_slice(rest);
        if self.partial[s].len() >= 16 * 1024 {
            let line = std::mem::take(&mut self.partial[s]);
            self.entry(stream, &line);
        }
    }

    pub fn flush_partial(&mut self) {
        for s in 1..3u8 {
            let line = std::mem::take(&mut self.partial[s as usize]);
            if !line.is_empty() {
                self.entry(s, &line);
            }
        }
    }

    fn entry(&mut self, stream: u8, line: &[u8]) {
        let mut rec = serde_json::json!({
            "log": String::from_utf8_lossy(line),
            "stream": if stream == 2 { "stderr" } else { "stdout" },
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        });
        if let Some(a) = &self.spec.attrs {
            rec["attrs"] = serde_json::Value::Object(a.clone());
        }
        let mut out = rec.to_string().into_bytes();
        out.push(b'\n');
        if self.spec.max_size.is_some_and(|max| self.size >= max) {
            self.rotate();
        }
        if let Some(f) = &mut self.file
            && f.write_all(&out).is_ok()
        {
            self.size += out.len() as u64;
        }
    }

    fn numbered(&self, n: u32, gz: bool) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}{}", if gz { ".gz" } else { "" }));
        PathBuf::from(p)
    }

    /// moby's `rotate`: drop the oldest, shift the rest, live file to `.1`, reopen truncated.
    fn rotate(&mut self) {
        let keep = self.spec.max_file.max(1);
        let compress = self.spec.compress && keep > 1;
        if let Some(pidfd) = self.compressing.take() {
            let mut pfd = libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own; a pidfd turns readable once the child exited.
            unsafe { libc::poll(&mut pfd, 1, -1) };
        }
        self.file = None;
        if keep > 1 {
            let _ = std::fs::remove_file(self.numbered(keep - 1, compress));
            for i in (2..keep).rev() {
                let _ = std::fs::rename(self.numbered(i - 1, compress), self.numbered(i, compress));
            }
            let _ = std::fs::rename(&self.path, self.numbered(1, false));
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
            .ok();
        self.size = 0;
        if compress {
            self.compressing = spawn_compress(&self.numbered(1, false));
        }
    }
}

/// Compresses `src` to `src.gz` in a forked child (the monitor is single-threaded, so fork is
/// sound), so a big rotated file never stalls the container's output. The `.gz` appears whole
/// (written under a temporary name, then renamed) before `src` is removed.
fn spawn_compress(src: &Path) -> Option<OwnedFd> {
    // SAFETY: the monitor is single-threaded; the child only does file I/O and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return None;
    }
    if pid > 0 {
        // SAFETY: pidfd_open on our own child, not yet reaped (`reap` runs after we return).
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        // SAFETY: a new fd returned by pidfd_open, owned by nobody else.
        return (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    }
    let ok = (|| -> io::Result<()> {
        let mut dst = src.to_path_buf().into_os_string();
        dst.push(".gz");
        let mut tmp = dst.clone();
        tmp.push(".tmp");
        let mut input = File::open(src)?;
        let out = File::create(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut input, &mut enc)?;
        enc.finish()?.sync_all()?;
        std::fs::rename(&tmp, &dst)?;
        std::fs::remove_file(src)
    })()
    .is_ok();
    // SAFETY: leave the forked child without running the parent's destructors or atexit hooks.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// An attach connection: gets the output streams it asked for; its bytes are stdin.
pub struct Client {
    pub stream: UnixStream,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Still polled for reading (stdin data or hang-up).
    pub reading: bool,
    pub dead: bool,
    pub watch: bool,
}

impl Client {
    pub fn send(&mut self, tty: bool, stream: u8, data: &[u8]) {
        if self.dead || self.watch {
            return;
        }
        let wanted = if stream == 2 {
            self.stderr
        } else {
            self.stdout
        };
        if !wanted {
            return;
        }
        let r = if tty {
            self.stream.write_all(data)
        } else {
            let h = frame_header(stream, data.len());
            self.stream
                .write_all(&h)
                .and_then(|_| self.stream.write_all(data))
        };
        if r.is_err() {
            self.dead = true;
        }
    }
}

/// Reads once from a raw fd; EIO (a pty whose slave side closed) counts as EOF.
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable buffer of the given length; `fd` is owned by the caller.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EIO) {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

pub fn write_fd(fd: &OwnedFd, data: &[u8]) -> io::Result<()> {
    // SAFETY: the fd stays open for the File's lifetime; ManuallyDrop keeps it from closing it.
    let mut f = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd.as_raw_fd()) });
    f.write_all(data)
}

/// A pipe with both ends close-on-exec (the runtime installs the child's end as 0/1/2).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

pub fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on an fd we own; failure only leaves it blocking.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

/// Sets a pty's window size.
pub fn resize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads one line (up to 64 KiB) byte by byte, so nothing after it is consumed.
pub fn read_line(s: &mut UnixStream) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if s.read(&mut b)? == 0 {
            break;
        }
        if b[0] == b'\n' {
            break;
        }
        out.push(b[0]);
        if out.len() > 65536 {
            return Err(io::Error::other("request line too long"));
        }
    }
    String::from_utf8(out).map_err(|_| io::Error::other("request is not UTF-8"))
}
