//! The parent/child synchronisation channel: one SOCK_SEQPACKET socket pair carrying small
//! typed messages, with an optional file descriptor (SCM_RIGHTS).

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// One message between the runtime and a container process being set up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    /// parent → child: id maps written; go on.
    Go,
    /// parent → child: the cgroup exists with its limits applied; join it.
    Placed,
    /// child → parent: mounts are done, run prestart/createRuntime hooks now.
    HooksRequest,
    /// parent → child: hooks ran.
    HooksDone,
    /// child → parent: the pty master follows as the attached fd.
    Console,
    /// child → parent: setup finished; the process waits for start (or execs).
    Ready,
    /// child → parent: setup failed.
    Failed(String),
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Go => b"G".to_vec(),
            Msg::Placed => b"P".to_vec(),
            Msg::HooksRequest => b"H".to_vec(),
            Msg::HooksDone => b"h".to_vec(),
            Msg::Console => b"C".to_vec(),
            Msg::Ready => b"R".to_vec(),
            Msg::Failed(m) => {
                let mut v = b"F".to_vec();
                v.extend_from_slice(m.as_bytes());
                v
            }
        }
    }

    fn decode(b: &[u8]) -> io::Result<Msg> {
        Ok(match b.first() {
            Some(b'G') => Msg::Go,
            Some(b'P') => Msg::Placed,
            Some(b'H') => Msg::HooksRequest,
            Some(b'h') => Msg::HooksDone,
            Some(b'C') => Msg::Console,
            Some(b'R') => Msg::Ready,
            Some(b'F') => Msg::Failed(String::from_utf8_lossy(&b[1..]).into_owned()),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "channel closed",
                ));
            }
            Some(_) => return Err(io::Error::other("unknown message on the sync channel")),
        })
    }
}

pub(crate) struct Channel(pub(crate) OwnedFd);

impl Channel {
    pub(crate) fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = crate::sys::socketpair_seqpacket()?;
        Ok((Channel(a), Channel(b)))
    }

    pub(crate) fn send(&self, msg: &Msg) -> io::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub(crate) fn send_with_fd(&self, msg: &Msg, fd: Option<RawFd>) -> io::Result<()> {
        let buf = msg.encode();
        let iov = [IoSlice::new(&buf)];
        let fds = fd.map(|f| [f]);
        let cmsg: Vec<ControlMessage<'_>> = fds
            .as_ref()
            .map(|f| vec![ControlMessage::ScmRights(f)])
            .unwrap_or_default();
        loop {
            match sendmsg::<()>(
                self.0.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub(crate) fn recv(&self) -> io::Result<(Msg, Option<OwnedFd>)> {
        let mut buf = vec![0u8; 8192];
        let mut cspace = nix::cmsg_space!([RawFd; 1]);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r = recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cspace),
                MsgFlags::MSG_CMSG_CLOEXEC,
            );
            let msg = match r {
                Ok(m) => m,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut fd = None;
            for c in msg.cmsgs()? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for f in fds {
                        // SAFETY: the kernel just installed this descriptor for us.
                        let owned = unsafe { OwnedFd::from_raw_fd(f) };
                        if fd.is_none() {
                            fd = Some(owned);
                        }
                    }
                }
            }
            let n = msg.bytes;
            return Ok((Msg::decode(&buf[..n])?, fd));
        }
    }

    /// Receives and insists on one message kind.
    pub(crate) fn expect(&self, want: Msg) -> Result<(), String> {
        match self.recv() {
            Ok((m, _)) if m == want => Ok(()),
            Ok((Msg::Failed(e), _)) => Err(e),
            Ok((m, _)) => Err(format!("unexpected message {m:?}, wanted {want:?}")),
            Err(e) => Err(format!("sync channel: {e}")),
        }
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Sends `fd` over the UNIX socket at `path` (runc's --console-socket protocol).
pub(crate) fn send_to_console_socket(path: &std::path::Path, fd: RawFd) -> io::Result<()> {
    let sock = std::os::unix::net::UnixStream::connect(path)?;
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [fd];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}
