//! Registry authentication: `WWW-Authenticate` challenges, and Docker's `config.json` `auths`.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext};
use crate::types::Credentials;

/// A parsed `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="https://auth",service="registry",scope="repository:a:pull"` or `Basic`.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_owned(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.insert(k, v);
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

#[derive(Default, Serialize, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

#[derive(Default, Serialize, Deserialize)]
struct AuthEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identitytoken: String,
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

/// Docker's key for a registry in `auths`: Docker Hub is `https://index.docker.io/v1/`.
pub fn auth_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".into()
        }
        r => r.to_owned(),
    }
}

/// Reads the credentials for `registry` from a Docker `config.json` (None if absent).
pub fn load_credentials(config: &Path, registry: &str) -> Result<Option<Credentials>, Error> {
    let bytes = match std::fs::read(config) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("read {}", config.display()), e)),
    };
    let file: ConfigFile = serde_json::from_slice(&bytes)
        .map_err(|e| Error::format(config.display().to_string(), e.to_string()))?;
    let key = auth_key(registry);
    let entry = file
        .auths
        .get(&key)
        .or_else(|| file.auths.get(&format!("https://{key}")))
        .or_else(|| file.auths.get(&format!("http://{key}")));
    let Some(entry) = entry else { return Ok(None) };
    let mut creds = Credentials::default();
    if !entry.auth.is_empty() {
        let raw = STANDARD
            .decode(entry.auth.trim())
            .map_err(|_| Error::format(config.display().to_string(), "invalid auth field"))?;
        let s = String::from_utf8_lossy(&raw);
        let (u, p) = s
            .split_once(':')
            .ok_or_else(|| Error::format(config.display().to_string(), "invalid auth field"))?;
        creds.username = u.to_owned();
        creds.password = p.to_owned();
    }
    if !entry.identitytoken.is_empty() {
        creds.identity_token = Some(entry.identitytoken.clone());
    }
    Ok(Some(creds))
}

/// Stores credentials for `registry` in a Docker `config.json`, keeping its other contents;
/// written to a temporary file and renamed, mode 0600.
pub fn store_credentials(config: &Path, registry: &str, creds: &Credentials) -> Result<(), Error> {
    let mut file: ConfigFile = match std::fs::read(config) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::format(config.display().to_string(), e.to_string()))?,
        Err(_) => ConfigFile::default(),
    };
    let entry = file.auths.entry(auth_key(registry)).or_default();
    entry.auth = STANDARD.encode(format!("{}:{}", creds.username, creds.password));
    entry.identitytoken = creds.identity_token.clone().unwrap_or_default();
    write_config(config, &file)
}

/// Removes the credentials for `registry` (`docker logout`); true if there were some.
pub fn erase_credentials(config: &Path, registry: &str) -> Result<bool, Error> {
    let Ok(b) = std::fs::read(config) else {
        return Ok(false);
    };
    let mut file: ConfigFile = serde_json::from_slice(&b)
        .map_err(|e| Error::format(config.display().to_string(), e.to_string()))?;
    let had = file.auths.remove(&auth_key(registry)).is_some();
    write_config(config, &file)?;
    Ok(had)
}

fn write_config(config: &Path, file: &ConfigFile) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = config.parent() {
        std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
    }
    let tmp = config.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(file)?)
        .and_then(|_| f.sync_all())
        .ctx(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, config).ctx(|| format!("rename to {}", config.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn credentials_round_trip_through_config_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths":{},"credsStore":"none-here"}"#).unwrap();
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
            identity_token: None,
        };
        store_credentials(&path, "localhost:5000", &c).unwrap();
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            raw["auths"]["localhost:5000"]["auth"],
            STANDARD.encode("u:p:w")
        );
        assert_eq!(raw["credsStore"], "none-here");
        let back = load_credentials(&path, "localhost:5000").unwrap().unwrap();
        assert_eq!(
            (back.username.as_str(), back.password.as_str()),
            ("u", "p:w")
        );
        assert!(load_credentials(&path, "other:1").unwrap().is_none());
        assert!(erase_credentials(&path, "localhost:5000").unwrap());
        assert!(load_credentials(&path, "localhost:5000").unwrap().is_none());
    }
}
