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
    std::thread::spawn(move || create_on_this_thread(&p, None))
        .join()
        .map_err(|_| netns_err(&path, io::Error::other("netns thread panicked")))?
}

/// The name of a prepared veth's inner end: the first endpoint's interface name.
pub(crate) const PREPARED_IFNAME: &str = "eth0";

/// [`create_netns`], plus a veth pair made ahead of need: `eth0` inside the namespace and
/// `host` in the caller's, both down, on no bridge and without addresses. A container's first
/// endpoint then takes the pair ([`EndpointSpec::prepared_veth`](crate::EndpointSpec)) instead
/// of making one: a veth's creation (two devices registered, the peer moved into the namespace)
/// is most of an attach's kernel work. Both ends have IPv6 off ([`ipv6_off`]).
/// Removing the namespace removes the pair. On error nothing is left behind.
pub fn create_netns_with_veth(path: &Path, host: &str) -> Result<()> {
    crate::manager::check_ifname(host)?;
    let path = path.to_path_buf();
    let (p, h) = (path.clone(), host.to_string());
    std::thread::spawn(move || create_on_this_thread(&p, Some(&h)))
        .join()
        .map_err(|_| netns_err(&path, io::Error::other("netns thread panicked")))??;
    ipv6_off(host);
    Ok(())
}

/// Turns IPv6 off on `ifname` in the calling thread's namespace: both ends of a container's
/// veth pair, before they go up. Berth's networks are IPv4 only (`EnableIPv6` false), as were
/// Docker's before 26, which set the same on the container's interfaces. With it on, every
/// pair added link-local routes to the host's table, which each later port's up and down
/// walks (`rt6_sync_down_dev`), and every interface kept the kernel's multicast listener
/// work going (`mld` kworker): both grew with the running containers. `lo` keeps `::1`. Does
/// nothing without IPv6.
pub(crate) fn ipv6_off(ifname: &str) {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6");
    if let Err(e) = std::fs::write(&path, b"1")
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::debug!("{path}: {e}");
    }
}

fn create_on_this_thread(path: &Path, veth: Option<&str>) -> Result<()> {
    // the caller's namespace, where the veth's host end goes
    let outer = match veth {
        Some(_) => Some(File::open("/proc/thread-self/ns/net").map_err(|e| netns_err(path, e))?),
        None => None,
    };
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
    let setup = loopback_up().and_then(|()| match (veth, &outer) {
        (Some(host), Some(outer)) => prepared_veth(host, outer),
        _ => Ok(()),
    });
    if let Err(e) = setup {
        let _ = remove_netns(path);
        return Err(netns_err(path, e));
    }
    Ok(())
}

/// From inside the new namespace: `eth0` here, its peer `host` in `outer`.
fn prepared_veth(host: &str, outer: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let peer = LinkUnspec::new_with_name(host)
        .setns_by_fd(outer.as_raw_fd())
        .build();
    let msg = rtnetlink::LinkVeth::new(PREPARED_IFNAME, host)
        .set_info_data(rtnetlink::packet_route::link::InfoData::Veth(
            rtnetlink::packet_route::link::InfoVeth::Peer(peer),
        ))
        .build();
    SyncNetlink::open()?.create(RouteNetlinkMessage::NewLink(msg))?;
    ipv6_off(PREPARED_IFNAME);
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
