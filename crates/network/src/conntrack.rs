//! Forgetting NAT state of unpublished UDP ports. A UDP "flow" lives in conntrack for as long as
//! packets keep coming, so without this a client that keeps sending from one socket would keep
//! reaching the old container (or nothing) after the port moved. Docker flushes these too.
//! One ctnetlink dump, then one delete per matching entry, all in the caller's namespace.

use std::io;
use std::net::Ipv4Addr;

use rtnetlink::sys::Socket;

const NETLINK_NETFILTER: isize = 12;
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const AF_INET: u8 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPPROTO_UDP: u8 = 17;

/// Iterates over the netlink attributes of `buf` as (type without flags, payload).
fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off + 4 > buf.len() {
            return None;
        }
        let len = u16::from_ne_bytes([buf[off], buf[off + 1]]) as usize;
        let ty = u16::from_ne_bytes([buf[off + 2], buf[off + 3]]) & 0x3fff;
        if len < 4 || off + len > buf.len() {
            return None;
        }
        let item = (ty, &buf[off + 4..off + len]);
        off += (len + 3) & !3;
        Some(item)
    })
}

fn find(buf: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(buf).find(|(t, _)| *t == ty).map(|(_, v)| v)
}

/// (protocol, source address, destination port) of a tuple.
fn tuple(t: &[u8]) -> Option<(u8, Ipv4Addr, u16)> {
    let ip = find(t, CTA_TUPLE_IP)?;
    let src: [u8; 4] = find(ip, CTA_IP_V4_SRC)?.try_into().ok()?;
    let proto = find(t, CTA_TUPLE_PROTO)?;
    let num = *find(proto, CTA_PROTO_NUM)?.first()?;
    let dport: [u8; 2] = find(proto, CTA_PROTO_DST_PORT)?.try_into().ok()?;
    Some((num, Ipv4Addr::from(src), u16::from_be_bytes(dport)))
}

fn header(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, payload_len: usize) {
    buf.extend_from_slice(&((20 + payload_len) as u32).to_ne_bytes());
    buf.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | ty).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[AF_INET, 0, 0, 0]);
}

fn open() -> io::Result<Socket> {
    let sock = crate::nl_sync::open_blocking(NETLINK_NETFILTER)?;
    Ok(sock)
}

/// Deletes the UDP entries whose original destination port is one of `host_ports` and, when
/// `reply_src` is given, whose reply comes from that address (the container they were DNAT'ed
/// to). Returns how many were deleted.
pub(crate) fn forget_udp(reply_src: Option<Ipv4Addr>, host_ports: &[u16]) -> io::Result<usize> {
    if host_ports.is_empty() {
        return Ok(0);
    }
    let sock = open()?;
    let mut req = Vec::new();
    header(
        &mut req,
        IPCTNL_MSG_CT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
        0,
    );
    sock.send(&req, 0)?;
    // Collect the raw original tuples to delete.
    let mut doomed: Vec<Vec<u8>> = Vec::new();
    let mut rbuf = vec![0u8; 65536];
    'dump: loop {
        let n = sock.recv(&mut &mut rbuf[..], 0)?;
        let mut off = 0;
        while off + 20 <= n {
            let len =
                u32::from_ne_bytes(rbuf[off..off + 4].try_into().unwrap_or_default()) as usize;
            let ty = u16::from_ne_bytes([rbuf[off + 4], rbuf[off + 5]]);
            if len < 16 || off + len > n {
                break;
            }
            if ty == NLMSG_DONE || ty == NLMSG_ERROR {
                break 'dump;
            }
            let body = &rbuf[off + 20..off + len];
            if let (Some(orig), Some(reply)) =
                (find(body, CTA_TUPLE_ORIG), find(body, CTA_TUPLE_REPLY))
                && let (Some((IPPROTO_UDP, _, dport)), Some((_, src, _))) =
                    (tuple(orig), tuple(reply))
                && reply_src.is_none_or(|ip| ip == src)
                && host_ports.contains(&dport)
            {
                doomed.push(orig.to_vec());
            }
            off += (len + 3) & !3;
        }
    }
    let mut deleted = 0;
    for (i, orig) in doomed.iter().enumerate() {
        let mut msg = Vec::new();
        let attr_len = 4 + orig.len();
        header(
            &mut msg,
            IPCTNL_MSG_CT_DELETE,
            NLM_F_REQUEST | NLM_F_ACK,
            i as u32 + 2,
            (attr_len + 3) & !3,
        );
        msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
        msg.extend_from_slice(&(CTA_TUPLE_ORIG | 0x8000).to_ne_bytes());
        msg.extend_from_slice(orig);
        while !msg.len().is_multiple_of(4) {
            msg.push(0);
        }
        sock.send(&msg, 0)?;
        let n = sock.recv(&mut &mut rbuf[..], 0)?;
        if n >= 20 && u16::from_ne_bytes([rbuf[4], rbuf[5]]) == NLMSG_ERROR {
            let code = i32::from_ne_bytes(rbuf[16..20].try_into().unwrap_or_default());
            // ENOENT: the entry expired meanwhile.
            if code == 0 {
                deleted += 1;
            } else if -code != libc::ENOENT {
                return Err(io::Error::from_raw_os_error(-code));
            }
        }
    }
    Ok(deleted)
}
