//! Raw HTTP/1.1 on the daemon's UNIX socket, for what the docker CLI cannot send or show
//! (bad bodies, status codes, query conditions).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use berth_testkit::daemon::Daemon;

/// One request with `Connection: close` on the socket at `socket`, read to the end:
/// (status code, body as text; a chunked body keeps its chunk framing).
pub fn request_at(
    socket: &Path,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = UnixStream::connect(socket).expect("connect to the daemon");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write request");
    s.write_all(body).expect("write body");
    let mut resp = vec![];
    s.read_to_end(&mut resp).expect("read response");
    let text = String::from_utf8_lossy(&resp);
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (code, body.to_string())
}

/// [`request_at`] on `d`'s socket.
pub fn request(
    d: &Daemon,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    request_at(&d.socket, method, path, content_type, body)
}

/// A request with a JSON body (`""` for none): (status code, body).
pub fn json(d: &Daemon, method: &str, path: &str, body: &str) -> (u16, String) {
    request(d, method, path, "application/json", body.as_bytes())
}

/// The `message` of an error body, or the whole body when it has none.
pub fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_string())
}
