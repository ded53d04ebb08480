//! `login`/`logout` and registry credentials in Docker's `config.json` (`auths`), sent to the
//! daemon as `X-Registry-Auth` on pull and push.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Value, json};

use super::{Ctx, Outcome, out};
use crate::args::{LoginArgs, LogoutArgs};
use crate::types::{AuthConfig, AuthResponse};

/// The key Docker stores Docker Hub credentials under.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// `--config`, else `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".docker")
}

/// The registry host of an image reference (`docker.io` when it names none).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".to_string(),
    }
}

fn auth_key(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if s == "docker.io"
        || s == "index.docker.io"
        || s == "registry-1.docker.io"
        || s == "index.docker.io/v1"
    {
        INDEX_SERVER.to_string()
    } else {
        s.to_string()
    }
}

fn read_config(dir: &Path) -> Result<Value> {
    let path = dir.join("config.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("loading config file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(anyhow!("loading config file {}: {e}", path.display())),
    }
}

/// Writes config.json atomically (temp file + rename), mode 0600 as Docker does.
fn write_config(dir: &Path, config: &Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        std::io::Write::write_all(&mut f, serde_json::to_string_pretty(config)?.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join("config.json"))?;
    Ok(())
}

/// Stored credentials for a registry, if any.
pub fn credentials(dir: &Path, registry: &str) -> Option<AuthConfig> {
    let config = read_config(dir).ok()?;
    let entry = &config["auths"][auth_key(registry)];
    let auth = entry["auth"].as_str()?;
    let decoded = String::from_utf8(STANDARD.decode(auth).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some(AuthConfig {
        username: user.to_string(),
        password: pass.to_string(),
        serveraddress: registry.to_string(),
        identitytoken: entry["identitytoken"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

/// The `X-Registry-Auth` header value for an image (base64url of the JSON; `{}` when anonymous).
pub fn registry_auth_header(dir: &Path, image: &str) -> String {
    let auth = credentials(dir, &registry_of(image)).unwrap_or_default();
    URL_SAFE.encode(serde_json::to_vec(&auth).unwrap_or_else(|_| b"{}".to_vec()))
}

pub async fn login(ctx: &Ctx, a: &LoginArgs) -> Outcome {
    let server = a.server.clone().unwrap_or_else(|| INDEX_SERVER.to_string());
    let username = match &a.username {
        Some(u) => u.clone(),
        None => {
            eprint!("Username: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_string()
        }
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(_), true) => anyhow::bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p.clone()
        }
        (None, _) => {
            if !a.password_stdin {
                eprint!("Password: ");
            }
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if username.is_empty() || password.is_empty() {
        anyhow::bail!("Error: Username and password are required");
    }
    let auth = AuthConfig {
        username: username.clone(),
        password: password.clone(),
        serveraddress: server.clone(),
        ..Default::default()
    };
    let r: AuthResponse = ctx
        .client
        .post("/auth")
        .json(&auth)?
        .json_response()
        .await?;
    let mut config = read_config(&ctx.config_dir)?;
    if !config["auths"].is_object() {
        config["auths"] = json!({});
    }
    let mut entry = json!({"auth": STANDARD.encode(format!("{username}:{password}"))});
    if !r.identity_token.is_empty() {
        entry["identitytoken"] = json!(r.identity_token);
    }
    config["auths"][auth_key(&server)] = entry;
    write_config(&ctx.config_dir, &config)?;
    out(&format!(
        "{}\n",
        if r.status.is_empty() {
            "Login Succeeded"
        } else {
            &r.status
        }
    ));
    Ok(0)
}

/// `logout` needs no daemon: it only edits config.json.
pub fn logout(config_dir: &Path, a: &LogoutArgs) -> Outcome {
    let server = a.server.clone().unwrap_or_else(|| INDEX_SERVER.to_string());
    let key = auth_key(&server);
    let mut config = read_config(config_dir)?;
    let removed = config["auths"]
        .as_object_mut()
        .and_then(|m| m.remove(&key))
        .is_some();
    if !removed {
        out(&format!("Not logged in to {server}\n"));
        return Ok(0);
    }
    out(&format!("Removing login credentials for {server}\n"));
    write_config(config_dir, &config)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_references() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/bb:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/x"), "localhost");
        assert_eq!(registry_of("ghcr.io/o/r"), "ghcr.io");
    }

    #[test]
    fn credentials_round_trip_through_config_json() {
        let dir = tempfile::tempdir().unwrap();
        let anon = registry_auth_header(dir.path(), "127.0.0.1:5000/x");
        assert_eq!(URL_SAFE.decode(anon).unwrap(), b"{}");
        let config = json!({"auths": {"127.0.0.1:5000": {"auth": STANDARD.encode("me:secret")}}});
        write_config(dir.path(), &config).unwrap();
        let c = credentials(dir.path(), "127.0.0.1:5000").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("me", "secret"));
        let header: Value = serde_json::from_slice(
            &URL_SAFE
                .decode(registry_auth_header(dir.path(), "127.0.0.1:5000/x:1"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            header,
            json!({"username": "me", "password": "secret", "serveraddress": "127.0.0.1:5000"})
        );
        logout(
            dir.path(),
            &LogoutArgs {
                server: Some("127.0.0.1:5000".into()),
            },
        )
        .unwrap();
        assert!(credentials(dir.path(), "127.0.0.1:5000").is_none());
        let mode = std::fs::metadata(dir.path().join("config.json"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
}
