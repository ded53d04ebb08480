//! The Engine API's side of builds, without HTTP: `POST /build` query parameters → options,
//! progress events → Docker's JSON stream lines. The API route stays a thin translation.

use std::collections::BTreeMap;

use crate::builder::{BuildEvent, BuildOptions, NetworkMode};
use crate::error::BuildError;

/// Docker's boolean query values: empty, `0`, `no`, `false`, `none` are false.
fn truthy(v: &str) -> bool {
    !matches!(
        v.to_ascii_lowercase().as_str(),
        "" | "0" | "no" | "false" | "none"
    )
}

fn json_map<T: serde::de::DeserializeOwned>(
    name: &str,
    v: &str,
) -> Result<BTreeMap<String, T>, BuildError> {
    if v.is_empty() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_str(v).map_err(|e| BuildError::Other(format!("invalid {name} parameter: {e}")))
}

/// Reads `POST /build`'s query (`t` may repeat): t, dockerfile, buildargs, labels, nocache,
/// target, q, pull, networkmode, rm, forcerm; the resource limits are accepted and ignored.
/// `SOURCE_DATE_EPOCH` in buildargs turns on reproducible timestamps, as in BuildKit.
pub fn options_from_query(pairs: &[(String, String)]) -> Result<BuildOptions, BuildError> {
    let mut o = BuildOptions::default();
    let mut rm = None;
    for (k, v) in pairs {
        match k.as_str() {
            "t" if !v.is_empty() => o.tags.push(v.clone()),
            "dockerfile" => o.dockerfile = v.clone(),
            "buildargs" => o.build_args = json_map("buildargs", v)?,
            "labels" => o.labels = json_map("labels", v)?,
            "nocache" => o.no_cache = truthy(v),
            "target" if !v.is_empty() => o.target = Some(v.clone()),
            "q" => o.quiet = truthy(v),
            "pull" => o.pull = truthy(v),
            "rm" => rm = Some(truthy(v)),
            "forcerm" => o.force_remove = truthy(v),
            "networkmode" => o.network = NetworkMode::parse(v)?,
            _ => {}
        }
    }
    // moby: containers are removed unless `rm` is given and false (forcerm implies rm).
    o.keep_containers = !o.force_remove && rm == Some(false);
    if let Some(Some(epoch)) = o.build_args.get("SOURCE_DATE_EPOCH") {
        let n = epoch.trim().parse::<i64>().map_err(|_| {
            BuildError::Other(format!(
                "invalid SOURCE_DATE_EPOCH {epoch:?}: not a number of seconds"
            ))
        })?;
        o.source_date_epoch = Some(n);
    }
    Ok(o)
}

/// One line of Docker's JSON stream for an event (`\r\n`-terminated, as moby's
/// streamformatter writes them).
pub fn event_json(e: &BuildEvent) -> String {
    let v = match e {
        BuildEvent::Stream(s) => serde_json::json!({ "stream": s }),
        BuildEvent::Aux(id) => serde_json::json!({ "aux": { "ID": id } }),
        BuildEvent::Progress(v) => v.clone(),
    };
    format!("{v}\r\n")
}

/// Serves one `POST /build`: reads the tar context from `body`, builds, and hands every JSON
/// stream line to `out` (`{"stream"}`, `{"aux"}`, and `{"errorDetail"}` on failure, which Docker
/// also sends with status 200 once streaming started). Blocking: call it from a blocking thread.
/// Returns the image ID when the build succeeded. Setting `cancel` (the client went away)
/// stops the build and kills a running RUN.
pub fn serve_build(
    builder: &crate::Builder,
    query: &[(String, String)],
    body: impl std::io::Read + Send,
    pull: crate::Puller<'_>,
    cancel: &crate::Cancel,
    out: &mut dyn FnMut(String),
) -> Option<String> {
    let _all = crate::timing::Phase::new("request", "");
    let mut body = body;
    let result = options_from_query(query).and_then(|mut opts| {
        opts.cancel = cancel.clone();
        let ctx = {
            let _p = crate::timing::Phase::new("context", "");
            let ctx = builder.context_from_tar(&mut body);
            // The tar reader stops at the archive's end marker (or at a refused entry): read
            // what the client still sends, so an early answer does not meet a client that
            // is still writing (it would see a broken pipe instead of the error).
            drain(&mut body);
            ctx?
        };
        let r = builder.build(&ctx, &opts, pull, &mut |e| out(event_json(&e)));
        // Deleting the unpacked context can take a while; the response does not wait for it.
        builder.discard_context(ctx);
        r
    });
    match result {
        Ok(o) => Some(o.image_id),
        Err(e) => {
            out(error_json(&e.to_string()));
            None
        }
    }
}

/// Reads and drops what is left of a request body, up to 64 MiB.
fn drain(body: &mut impl std::io::Read) {
    let _ = std::io::copy(
        &mut std::io::Read::take(body, 64 << 20),
        &mut std::io::sink(),
    );
}

/// The stream line for a failed build.
pub fn error_json(message: &str) -> String {
    format!(
        "{}\r\n",
        serde_json::json!({ "errorDetail": { "message": message }, "error": message })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_maps_to_options() {
        let o = options_from_query(&q(&[
            ("t", "a:1"),
            ("t", "b"),
            ("dockerfile", "sub/Dockerfile.dev"),
            (
                "buildargs",
                r#"{"X":"1","Y":null,"SOURCE_DATE_EPOCH":"1700000000"}"#,
            ),
            ("labels", r#"{"l":"v"}"#),
            ("nocache", "1"),
            ("q", "false"),
            ("pull", "1"),
            ("networkmode", "none"),
            ("rm", "1"),
            ("target", "build"),
        ]))
        .unwrap();
        assert_eq!(o.tags, vec!["a:1", "b"]);
        assert_eq!(o.dockerfile, "sub/Dockerfile.dev");
        assert_eq!(o.build_args["X"].as_deref(), Some("1"));
        assert_eq!(o.build_args["Y"], None);
        assert_eq!(o.labels["l"], "v");
        assert!(o.no_cache && o.pull && !o.quiet);
        assert_eq!(o.network, NetworkMode::None);
        assert_eq!(o.target.as_deref(), Some("build"));
        assert_eq!(o.source_date_epoch, Some(1_700_000_000));
        assert!(options_from_query(&q(&[("buildargs", "[1]")])).is_err());
        assert!(options_from_query(&q(&[("networkmode", "container:x")])).is_err());
    }

    #[test]
    fn events_become_dockers_json_lines() {
        assert_eq!(
            event_json(&BuildEvent::Stream("Step 1/2 : FROM a\n".into())),
            "{\"stream\":\"Step 1/2 : FROM a\\n\"}\r\n"
        );
        assert_eq!(
            event_json(&BuildEvent::Aux("sha256:ab".into())),
            "{\"aux\":{\"ID\":\"sha256:ab\"}}\r\n"
        );
        assert_eq!(
            error_json("boom"),
            "{\"error\":\"boom\",\"errorDetail\":{\"message\":\"boom\"}}\r\n"
        );
    }
}
