//! Request bodies as synchronous readers: image archives are streamed into the (blocking) image
//! store instead of being buffered whole in memory.

use std::io::Read;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// A `Read` fed by an async task that pulls the HTTP body. Use it on a blocking thread.
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    cur: Bytes,
}

impl BodyReader {
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let mut s = body.into_data_stream();
            while let Some(chunk) = s.next().await {
                let item = chunk.map_err(std::io::Error::other);
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}
