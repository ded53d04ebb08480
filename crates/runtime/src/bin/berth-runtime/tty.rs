//! `run`/`exec` with a terminal and no console socket: copy between our stdio and the pty
//! master until the process exits.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::Result;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};

pub fn copy_until_exit(master: OwnedFd, pid: i32) -> Result<i32> {
    let stdin = std::io::stdin();
    let saved = tcgetattr(stdin.as_fd()).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        raw.make_raw();
        let _ = tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw);
    }
    let mut buf = [0u8; 8192];
    let mut stdin_open = true;
    loop {
        let mut fds = vec![PollFd::new(&master, PollFlags::IN)];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        let _ = poll(&mut fds, Some(&timeout));
        let m = fds[0].revents();
        let s = fds
            .get(1)
            .map(|f| f.revents())
            .unwrap_or(PollFlags::empty());
        if m.contains(PollFlags::IN) {
            match rustix::io::read(&master, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = rustix::io::write(std::io::stdout(), &buf[..n]);
                }
            }
        } else if m.intersects(PollFlags::HUP | PollFlags::ERR) {
            break;
        }
        if s.contains(PollFlags::IN) {
            match rustix::io::read(&stdin, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = rustix::io::write(&master, &buf[..n]);
                }
            }
        } else if s.intersects(PollFlags::HUP | PollFlags::ERR) {
            stdin_open = false;
        }
        if let Some(code) = crate::commands::try_wait(pid)? {
            drain(&master, &mut buf);
            restore(saved);
            return Ok(code);
        }
    }
    restore(saved);
    let code = loop {
        if let Some(c) = crate::commands::try_wait(pid)? {
            break c;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    Ok(code)
}

/// Copies what the process wrote before it exited and is still buffered in the pty.
fn drain(master: &OwnedFd, buf: &mut [u8]) {
    loop {
        let mut fds = [PollFd::new(master, PollFlags::IN)];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if poll(&mut fds, Some(&zero)).unwrap_or(0) == 0
            || !fds[0].revents().contains(PollFlags::IN)
        {
            return;
        }
        match rustix::io::read(master, &mut *buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let _ = rustix::io::write(std::io::stdout(), &buf[..n]);
            }
        }
    }
}

fn restore(saved: Option<rustix::termios::Termios>) {
    if let Some(t) = saved {
        let _ = tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &t);
    }
}
