//! Network namespaces pinned by a bind mount, and running code inside one on a dedicated
//! thread (setns and unshare act on the calling thread only, so the caller's threads and the
//! tokio runtime are never moved).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rtnetlink::LinkUnspec;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rustix::mount::{UnmountFlags, mount_bind, unmount};
use rustix::thread::{LinkNameSpaceType, UnshareFlags, move_into_link_name_space, unshare_unsafe};

use crate::error::{Error, Result};
use crate::nl_sync::SyncNetlink;

fn netns_err(path: &Path, source: io::Error) -> Error {
    Error::Netns {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a new network namespace and pins it at `path` (a new file, bind-mounted with the
/// namespace), with `lo` up. The work happens on a short-lived thread of its own.
pub fn create_netns(path: &Path) -> Result<()> {
    let path = path.to_path_buf();
    let p = path.clone();
    std::thread::spawn(move || create_on_this_thread(&p))
        .join()
        .map_err(|_| netns_err(&path, io::Error::other("netns thread panicked")))?
}

fn create_on_this_thread(path: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| netns_err(path, e))?;
    let pinned = (|| -> io::Result<()> {
        // SAFETY: only CLONE_NEWNET is unshared, on a thread that exits right after; the file
        // descriptor table stays shared, so no fd is made invisible to other threads.
        unsafe { unshare_unsafe(UnshareFlags::NEWNET) }?;
        mount_bind("/proc/thread-self/ns/net", path)?;
        Ok(())
    })();
    if let Err(e) = pinned {
        let _ = std::fs::remove_file(path);
        return Err(netns_err(path, e));
    }
    if let Err(e) = loopback_up() {
        let _ = remove_netns(path);
        return Err(netns_err(path, e));
    }
    Ok(())
}

fn loopback_up() -> io::Result<()> {
    let mut nl = SyncNetlink::open()?;
    // `lo` is always interface 1 in a new namespace.
    let msg = LinkUnspec::new_with_index(1).up().build();
    nl.change(RouteNetlinkMessage::SetLink(msg))
}

/// Moves a namespace pinned at `spare` (by [`create_netns`], made ahead of need) to `path`: a
/// new file bind-mounted with the same namespace, then `spare` is removed. A bind mount costs
/// a fraction of a new namespace, which is what makes a spare worth keeping. On error `path`
/// is not left behind and `spare` is untouched.
pub fn adopt_netns(spare: &Path, path: &Path) -> Result<()> {
    share_netns(spare, path)?;
    remove_netns(spare)
}

/// Pins the namespace pinned at `pinned` at `path` too (a new file, bind-mounted). The caller
/// removes `pinned` when it likes: [`adopt_netns`] at once, a daemon's start path later, off
/// its critical path (the detaching unmount costs up to a millisecond). On error `path` is not
/// left behind.
pub fn share_netns(pinned: &Path, path: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| netns_err(path, e))?;
    if let Err(e) = mount_bind(pinned, path) {
        let _ = std::fs::remove_file(path);
        return Err(netns_err(path, e.into()));
    }
    Ok(())
}

/// Unmounts and removes a namespace pinned by [`create_netns`]. A missing file is not an error.
pub fn remove_netns(path: &Path) -> Result<()> {
    match unmount(path, UnmountFlags::DETACH) {
        Ok(()) => {}
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(netns_err(path, e.into())),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(netns_err(path, e)),
    }
}

/// Runs `f` on a new thread that has entered the network namespace at `netns`, and returns its
/// result. Sockets created by `f` belong to that namespace and may be used from any thread.
pub fn in_netns<T, F>(netns: &Path, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let ns = File::open(netns).map_err(|e| netns_err(netns, e))?;
    let path: PathBuf = netns.to_path_buf();
    let result = std::thread::spawn(move || -> io::Result<T> {
        move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))?;
        f()
    })
    .join()
    .map_err(|_| netns_err(&path, io::Error::other("netns thread panicked")))?;
    result.map_err(|e| netns_err(&path, e))
}

/// [`in_netns`] for async callers: the dedicated thread reports back over a channel, so no
/// runtime thread blocks on the join.
pub async fn in_netns_async<T, F>(netns: &Path, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let ns = File::open(netns).map_err(|e| netns_err(netns, e))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
            .map_err(io::Error::from)
            .and_then(|()| f());
        let _ = tx.send(result);
    });
    let result = rx
        .await
        .map_err(|_| netns_err(netns, io::Error::other("netns thread panicked")))?;
    result.map_err(|e| netns_err(netns, e))
}
