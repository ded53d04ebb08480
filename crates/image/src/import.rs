//! `docker import`: a one-layer image from a root filesystem tarball, with `--change`
//! instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL).

use std::collections::BTreeMap;
use std::io::Read;

use crate::error::Error;
use crate::layer::LayerExpect;
use crate::reference::Reference;
use crate::store::{ImageStore, now_rfc3339};
use crate::types::{ContainerConfig, History, ImageConfig, RootFs};

/// Applies Dockerfile-style `--change` lines to a container config.
pub fn apply_changes(cfg: &mut ContainerConfig, changes: &[String]) -> Result<(), Error> {
    for line in changes {
        let line = line.trim();
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let bad = |why: &str| Error::InvalidArgument(format!("invalid change {line:?}: {why}"));
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => cfg.cmd = Some(command(rest)),
            "ENTRYPOINT" => cfg.entrypoint = Some(command(rest)),
            "ENV" => {
                let env = cfg.env.get_or_insert_with(Vec::new);
                for (k, v) in key_values(rest).ok_or_else(|| bad("expected KEY=VALUE"))? {
                    env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in key_values(rest).ok_or_else(|| bad("expected KEY=VALUE"))? {
                    labels.insert(k, v);
                }
            }
            "WORKDIR" if !rest.is_empty() => cfg.working_dir = Some(rest.to_owned()),
            "USER" if !rest.is_empty() => cfg.user = Some(rest.to_owned()),
            "STOPSIGNAL" if !rest.is_empty() => cfg.stop_signal = Some(rest.to_owned()),
            "EXPOSE" => {
                let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in rest.split_whitespace() {
                    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                    if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                        return Err(bad("invalid port"));
                    }
                    ports.insert(format!("{num}/{proto}"), serde_json::json!({}));
                }
            }
            "VOLUME" => {
                let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
                let list = serde_json::from_str::<Vec<String>>(rest)
                    .unwrap_or_else(|_| rest.split_whitespace().map(str::to_owned).collect());
                for v in list {
                    vols.insert(v, serde_json::json!({}));
                }
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{instr} is not a valid change command"
                )));
            }
        }
    }
    Ok(())
}

/// JSON form `["a","b"]`, else shell form `/bin/sh -c "..."`.
fn command(rest: &str) -> Vec<String> {
    if rest.starts_with('[')
        && let Ok(v) = serde_json::from_str::<Vec<String>>(rest)
    {
        return v;
    }
    vec!["/bin/sh".into(), "-c".into(), rest.to_owned()]
}

/// `K=V K2="V 2"` or the legacy `K V` form.
fn key_values(rest: &str) -> Option<Vec<(String, String)>> {
    if rest.is_empty() {
        return None;
    }
    if !rest.split_whitespace().next()?.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_owned(), v.trim().to_owned())]);
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        let mut val = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            chars.next();
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => break,
                (_, '\\') => {
                    if let Some(n) = chars.next() {
                        val.push(n);
                    }
                }
                (_, c) => val.push(c),
            }
        }
        if key.is_empty() {
            return None;
        }
        out.push((key, val));
    }
    Some(out)
}

impl ImageStore {
    /// `docker import`: stores `rootfs_tar` (uncompressed, gzip or zstd) as a one-layer image,
    /// tags it `reference` if given, and returns the image ID.
    pub fn import(
        &self,
        rootfs_tar: impl Read,
        reference: Option<&str>,
        changes: &[String],
    ) -> Result<String, Error> {
        let _busy = self.busy();
        let name = match reference {
            Some(r) => {
                let r = Reference::parse_normalized(r)?;
                Some(r.tagged().ok_or_else(|| {
                    Error::InvalidReference("import needs a tag, not a digest".into())
                })?)
            }
            None => None,
        };
        let mut cfg = ContainerConfig::default();
        apply_changes(&mut cfg, changes)?;
        let layer = self.ingest_layer(
            rootfs_tar,
            &LayerExpect {
                media_type: "",
                ..Default::default()
            },
        )?;
        let created = now_rfc3339();
        let config = ImageConfig {
            created: Some(created.clone()),
            architecture: crate::registry::host_arch().into(),
            os: "linux".into(),
            config: Some(cfg),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![layer.blob.diff_id.clone()],
            },
            history: vec![History {
                created: Some(created),
                comment: Some("Imported from -".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let config_bytes = serde_json::to_vec(&config)?;
        let layers = vec![layer.blob];
        let manifest = crate::archive::docker_manifest(&config_bytes, &layers)?;
        self.add_image(
            &config_bytes,
            &manifest,
            &layers,
            &name.into_iter().collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_fill_the_config() {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &[
                "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]".into(),
                "ENTRYPOINT /bin/true".into(),
                "ENV A=1 B=\"two words\"".into(),
                "ENV C 3".into(),
                "WORKDIR /srv".into(),
                "USER nobody".into(),
                "EXPOSE 80 53/udp".into(),
                "LABEL x=y".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap(), vec!["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), vec!["/bin/sh", "-c", "/bin/true"]);
        assert_eq!(c.env.unwrap(), vec!["A=1", "B=two words", "C=3"]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, vec!["53/udp", "80/tcp"]);
        assert_eq!(c.labels.unwrap()["x"], "y");
    }

    #[test]
    fn unknown_changes_are_refused() {
        let mut c = ContainerConfig::default();
        let e = apply_changes(&mut c, &["RUN rm -rf /".into()]).unwrap_err();
        assert!(
            e.to_string().contains("RUN is not a valid change command"),
            "{e}"
        );
        assert!(apply_changes(&mut c, &["EXPOSE http".into()]).is_err());
    }
}
