//! `--log FILE --log-format json|text`: containerd's shim reads the last `"level":"error"` line.

use std::io::Write;
use std::path::PathBuf;

pub struct Log {
    path: Option<PathBuf>,
    json: bool,
}

impl Log {
    pub fn new(path: Option<PathBuf>, format: String) -> Self {
        Log {
            path,
            json: format == "json",
        }
    }

    pub fn error(&self, msg: &str) {
        let Some(p) = &self.path else { return };
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let line = if self.json {
            serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level=error msg={msg:?}")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
