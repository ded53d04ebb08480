//! Reading streamed bodies: newline-delimited JSON (pull, push, build, events, stats) and raw
//! chunks (logs, export, save).

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::Response;
use hyper::body::Incoming;

use super::Result;

/// A JSON message line longer than this is refused (a daemon gone wrong, not a message).
const MAX_LINE: usize = 64 << 20;

/// Splits a streamed body into lines, whatever the chunk boundaries.
pub struct LineReader {
    body: Incoming,
    buf: BytesMut,
    done: bool,
}

impl LineReader {
    pub fn new(resp: Response<Incoming>) -> LineReader {
        LineReader {
            body: resp.into_body(),
            buf: BytesMut::new(),
            done: false,
        }
    }

    /// The next non-empty line without its `\r\n`, or `None` at the end of the body.
    pub async fn next_line(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line = self.buf.split_to(pos + 1);
                line.truncate(pos);
                if line.last() == Some(&b'\r') {
                    line.truncate(pos - 1);
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line.freeze()));
            }
            if self.done {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let rest = self.buf.split().freeze();
                return Ok(Some(rest));
            }
            if self.buf.len() > MAX_LINE {
                return Err(super::ClientError::Protocol(format!(
                    "the daemon sent a stream line longer than {} MiB",
                    MAX_LINE >> 20
                )));
            }
            match next_chunk(&mut self.body).await? {
                Some(chunk) => self.buf.extend_from_slice(chunk.chunk()),
                None => self.done = true,
            }
        }
    }
}

/// The next data chunk of a body (trailers skipped), `None` at its end.
pub async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>> {
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}
