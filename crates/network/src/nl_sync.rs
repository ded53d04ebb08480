//! A blocking rtnetlink socket for work done on a thread that has entered another network
//! namespace (a netlink socket talks to the namespace it was created in). Messages are built
//! with rtnetlink's builders; this only sends one request and waits for its acknowledgement.

use std::io;

use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{Socket, protocols::NETLINK_ROUTE};

pub(crate) struct SyncNetlink {
    socket: Socket,
    seq: u32,
}

impl SyncNetlink {
    /// Opens a route netlink socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Self> {
        Ok(SyncNetlink {
            socket: open_blocking(NETLINK_ROUTE)?,
            seq: 0,
        })
    }

    /// Sends a "new" request (create, exclusive) and waits for the kernel's ack.
    pub(crate) fn create(&mut self, msg: RouteNetlinkMessage) -> io::Result<()> {
        self.request(msg, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Sends a change request (no create flags) and waits for the kernel's ack.
    pub(crate) fn change(&mut self, msg: RouteNetlinkMessage) -> io::Result<()> {
        self.request(msg, NLM_F_REQUEST | NLM_F_ACK)
    }

    /// Deletes the link named `name` (a veth takes its peer with it). A link already gone
    /// is not an error.
    pub(crate) fn delete_link(&mut self, name: &str) -> io::Result<()> {
        let msg = rtnetlink::LinkMessageBuilder::<rtnetlink::LinkUnspec>::new()
            .name(name.to_string())
            .build();
        match self.request(RouteNetlinkMessage::DelLink(msg), NLM_F_REQUEST | NLM_F_ACK) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r,
        }
    }

    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut rbuf = vec![0u8; 8192];
        loop {
            let n = self.socket.recv(&mut &mut rbuf[..], 0)?;
            let mut offset = 0;
            while offset < n {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[offset..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == self.seq
                    && let NetlinkPayload::Error(e) = reply.payload
                {
                    return match e.code {
                        None => Ok(()),
                        Some(_) => Err(e.to_io()),
                    };
                }
                if len == 0 {
                    break;
                }
                offset += (len + 3) & !3;
            }
        }
    }
}

/// A bound, connected netlink socket of `protocol` whose reads give up after 5 s, so a kernel
/// that never answers cannot hang a namespace thread forever.
pub(crate) fn open_blocking(protocol: isize) -> io::Result<Socket> {
    let mut socket = Socket::new(protocol)?;
    socket.bind_auto()?;
    socket.connect(&rtnetlink::sys::SocketAddr::new(0, 0))?;
    rustix::net::sockopt::set_socket_timeout(
        &socket,
        rustix::net::sockopt::Timeout::Recv,
        Some(std::time::Duration::from_secs(5)),
    )?;
    Ok(socket)
}
