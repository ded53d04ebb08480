//! The event bus: every lifecycle change is published here and kept in a short in-memory ring
//! for `since`. Shapes follow moby 20.10 (legacy `status`/`id`/`from` kept for compose v1).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

const RING: usize = 1024;

pub struct EventBus {
    tx: broadcast::Sender<Event>,
    ring: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
            ring: Mutex::new(VecDeque::new()),
        }
    }
}

impl EventBus {
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let now = chrono::Utc::now();
        let time_nano = now.timestamp_nanos_opt().unwrap_or(0);
        let legacy = kind == "container" || kind == "image";
        let ev = Event {
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
            from: (kind == "container")
                .then(|| attributes.get("image").cloned())
                .flatten(),
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano / 1_000_000_000,
            time_nano,
        };
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            if ring.len() == RING {
                ring.pop_front();
            }
            ring.push_back(ev.clone());
        }
        let _ = self.tx.send(ev);
    }

    /// Past events (oldest first) and a receiver for the ones that follow, without a gap.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        (ring.iter().cloned().collect(), rx)
    }
}
