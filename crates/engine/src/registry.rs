//! Pull and push through berth-image, as Docker's JSON progress stream (jsonmessage lines).

use std::sync::Arc;

pub use berth_image::Credentials;
use berth_image::Progress;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::Engine;
use crate::error::{Error, Result};

/// `X-Registry-Auth`: base64url (or standard) JSON credentials; `{}` or empty means anonymous.
pub fn decode_auth(header: &str) -> Option<Credentials> {
    use base64::Engine as _;
    let h = header.trim();
    if h.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(h)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(h))
        .ok()?;
    let c: Credentials = serde_json::from_slice(&bytes).ok()?;
    (!c.username.is_empty() || c.identity_token.is_some()).then_some(c)
}

fn human(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.3}GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.3}MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.3}kB", n / 1e3)
    } else {
        format!("{n}B")
    }
}

fn bar(current: u64, total: u64) -> String {
    let width = 50u64;
    let filled = (current.min(total) * width).checked_div(total).unwrap_or(0) as usize;
    let mut b = "=".repeat(filled.saturating_sub(1));
    if filled > 0 {
        b.push('>');
    }
    format!("[{b:<50}] {:>8}/{}", human(current), human(total))
}

/// One progress event as Docker's jsonmessage (`push` picks the push wording).
pub fn progress_message(p: &Progress, push: bool) -> Value {
    match p {
        Progress::Resolved { reference } if push => {
            json!({"status": format!("The push refers to repository [{reference}]")})
        }
        Progress::Resolved { reference } => {
            let (repo, tag) = reference
                .rsplit_once(':')
                .filter(|(_, t)| !t.contains('/'))
                .unwrap_or((reference, "latest"));
            json!({"status": format!("Pulling from {repo}"), "id": tag})
        }
        Progress::Pending { id } => {
            json!({"status": if push { "Preparing" } else { "Pulling fs layer" }, "progressDetail": {}, "id": id})
        }
        Progress::Exists { id } => {
            json!({"status": if push { "Layer already exists" } else { "Already exists" }, "progressDetail": {}, "id": id})
        }
        Progress::Transfer { id, current, total } => json!({
            "status": if push { "Pushing" } else { "Downloading" },
            "progressDetail": {"current": current, "total": total},
            "progress": bar(*current, *total),
            "id": id,
        }),
        Progress::Done { id, status } => json!({"status": status, "progressDetail": {}, "id": id}),
        Progress::Digest { digest } => json!({"status": format!("Digest: {digest}")}),
    }
}

pub fn error_message(e: &Error) -> Value {
    json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()})
}

/// A running pull or push: its progress lines; an error before the first line is returned
/// instead (so the API can answer with a status, as Docker does for an unknown manifest).
pub struct Transfer {
    pub rx: mpsc::UnboundedReceiver<Value>,
}

impl Engine {
    pub async fn pull_image(
        self: &Arc<Self>,
        reference: String,
        auth: Option<Credentials>,
        platform: Option<String>,
    ) -> Result<Transfer> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
        let engine = self.clone();
        let r2 = reference.clone();
        tokio::spawn(async move {
            let ptx = tx.clone();
            let fetched = std::sync::atomic::AtomicBool::new(false);
            let cb = |p: Progress| {
                if matches!(p, Progress::Pending { .. }) {
                    fetched.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let _ = ptx.send(progress_message(&p, false));
            };
            let res = engine
                .images
                .pull(&r2, auth.as_ref(), platform.as_deref(), &cb)
                .await;
            match res {
                Ok(img) => {
                    let shown = img.repo_tags.first().cloned().unwrap_or(r2.clone());
                    let status = if fetched.load(std::sync::atomic::Ordering::Relaxed) {
                        format!("Status: Downloaded newer image for {shown}")
                    } else {
                        format!("Status: Image is up to date for {shown}")
                    };
                    let _ = tx.send(json!({"status": status}));
                    engine
                        .events
                        .publish("image", "pull", &shown, Default::default());
                }
                Err(e) => {
                    let _ =
                        tx.send(json!({"__error": Error::from(e).to_string(), "__kind": "err"}));
                }
            }
        });
        first_or_error(&mut rx, &reference).await.map(|first| {
            let (tx2, rx2) = mpsc::unbounded_channel();
            let _ = tx2.send(first);
            tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    if tx2.send(fix_error(m)).is_err() {
                        return;
                    }
                }
            });
            Transfer { rx: rx2 }
        })
    }

    pub async fn push_image(
        self: &Arc<Self>,
        reference: String,
        auth: Option<Credentials>,
    ) -> Result<Transfer> {
        let name = reference.clone();
        self.with_images(move |s| Ok(s.resolve(&name).map(|_| ())?))
            .await?;
        let (tx, rx) = mpsc::unbounded_channel::<Value>();
        let engine = self.clone();
        tokio::spawn(async move {
            let ptx = tx.clone();
            let cb = |p: Progress| {
                let _ = ptx.send(progress_message(&p, true));
            };
            match engine.images.push(&reference, auth.as_ref(), &cb).await {
                Ok(digest) => {
                    let tag = reference
                        .rsplit_once(':')
                        .map(|(_, t)| t)
                        .filter(|t| !t.contains('/'))
                        .unwrap_or("latest")
                        .to_string();
                    let _ = tx.send(json!({"status": format!("{tag}: digest: {digest} size: 0")}));
                    let _ = tx.send(json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": 0}}));
                    engine
                        .events
                        .publish("image", "push", &reference, Default::default());
                }
                Err(e) => {
                    let _ = tx.send(error_message(&Error::from(e)));
                }
            }
        });
        Ok(Transfer { rx })
    }
}

fn fix_error(m: Value) -> Value {
    match m.get("__error").and_then(|e| e.as_str()) {
        Some(msg) => json!({"errorDetail": {"message": msg}, "error": msg}),
        None => m,
    }
}

/// Waits for the first line: an error there becomes the call's error.
async fn first_or_error(rx: &mut mpsc::UnboundedReceiver<Value>, reference: &str) -> Result<Value> {
    match rx.recv().await {
        Some(m) => match m.get("__error").and_then(|e| e.as_str()) {
            Some(msg)
                if msg.contains("not found")
                    || msg.contains("No such image")
                    || msg.contains("manifest unknown") =>
            {
                Err(Error::NotFound(msg.to_string()))
            }
            Some(msg) if msg.contains("invalid reference") => {
                Err(Error::InvalidParameter(msg.to_string()))
            }
            Some(msg) if msg.contains("unauthorized") => Err(Error::Internal(msg.to_string())),
            Some(msg) => Err(Error::Internal(msg.to_string())),
            None => Ok(m),
        },
        None => Err(Error::Internal(format!(
            "pull of {reference} ended without a result"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_header_decodes_and_empty_is_anonymous() {
        assert!(decode_auth("e30=").is_none());
        assert!(decode_auth("").is_none());
        let h = "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==";
        let c = decode_auth(h).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
    }

    #[test]
    fn progress_lines_use_dockers_words() {
        let m = progress_message(&Progress::Pending { id: "abc".into() }, false);
        assert_eq!(m["status"], "Pulling fs layer");
        let m = progress_message(
            &Progress::Transfer {
                id: "abc".into(),
                current: 50,
                total: 100,
            },
            true,
        );
        assert_eq!(m["status"], "Pushing");
        assert_eq!(m["progressDetail"]["total"], 100);
    }
}
