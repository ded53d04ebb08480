//! Docker image references: parsing and normalisation (`busybox` is
//! `docker.io/library/busybox:latest`), and the short "familiar" form Docker shows.

use std::fmt;

use crate::digest::Digest;
use crate::error::Error;

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

/// A normalised reference: domain, path, and a tag and/or digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub domain: String,
    /// The repository path inside the registry, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference the way Docker does, without adding a default tag.
    pub fn parse(s: &str) -> Result<Reference, Error> {
        let bad = |why: &str| Error::InvalidReference(format!("{why}: {s:?}"));
        if s.is_empty() {
            return Err(bad("empty reference"));
        }
        if s.len() > 4096 {
            return Err(bad("reference too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(Digest::parse(d).map_err(|_| bad("invalid digest"))?),
            ),
            None => (s, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(rest[i + 1..].to_owned()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad("invalid tag"));
        }
        let (domain, path) = split_domain(name);
        if path.len() > 255 {
            return Err(bad("repository name must not be more than 255 characters"));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(Error::InvalidReference(format!(
                "repository name must be lowercase: {s:?}"
            )));
        }
        if !valid_path(&path) || !valid_domain(&domain) {
            return Err(bad("invalid repository name"));
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Parses and adds the default tag `latest` when neither tag nor digest is given.
    pub fn parse_normalized(s: &str) -> Result<Reference, Error> {
        let mut r = Reference::parse(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }

    /// `docker.io/library/busybox`
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox` for Docker Hub's library images, else the full repository.
    pub fn familiar_repository(&self) -> String {
        familiar(&self.domain, &self.path)
    }

    /// The reference with only its tag (`repo:tag`), as stored; None without a tag.
    pub fn tagged(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|t| format!("{}:{}", self.repository(), t))
    }

    /// The reference with only its digest (`repo@sha256:..`), as stored.
    pub fn digested(&self) -> Option<String> {
        self.digest
            .as_ref()
            .map(|d| format!("{}@{}", self.repository(), d))
    }

    /// Where to send registry requests: Docker Hub's API lives on registry-1.docker.io.
    pub fn registry_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            "registry-1.docker.io"
        } else {
            &self.domain
        }
    }

    /// The tag or the digest, as a registry `reference` path element.
    pub fn tag_or_digest(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.familiar_repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Turns a stored full name (`docker.io/library/busybox:latest`) into Docker's display form
/// (`busybox:latest`).
pub fn familiar_name(full: &str) -> String {
    match Reference::parse(full) {
        Ok(r) => r.to_string(),
        Err(_) => full.to_owned(),
    }
}

fn familiar(domain: &str, path: &str) -> String {
    if domain == DEFAULT_DOMAIN {
        path.strip_prefix("library/")
            .filter(|p| !p.contains('/'))
            .unwrap_or(path)
            .to_owned()
    } else {
        format!("{domain}/{path}")
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_owned()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(valid_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    if host.starts_with('[') {
        return host.ends_with(']');
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// True when `s` looks like a (possibly shortened) image ID rather than a name.
pub(crate) fn looks_like_id(s: &str) -> bool {
    let h = s.strip_prefix("sha256:").unwrap_or(s);
    !h.is_empty()
        && h.len() <= 64
        && h.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_normalise_to_docker_hub_library() {
        let r = Reference::parse_normalized("busybox").unwrap();
        assert_eq!(r.tagged().unwrap(), "docker.io/library/busybox:latest");
        assert_eq!(r.to_string(), "busybox:latest");
        let r = Reference::parse_normalized("user/app:1.0").unwrap();
        assert_eq!(r.tagged().unwrap(), "docker.io/user/app:1.0");
        assert_eq!(r.to_string(), "user/app:1.0");
        let r = Reference::parse_normalized("index.docker.io/library/busybox").unwrap();
        assert_eq!(r.to_string(), "busybox:latest");
    }

    #[test]
    fn registry_with_port_tag_and_digest_parses() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost:5000/a/b:t@{d}")).unwrap();
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.path, "a/b");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.digest.as_ref().unwrap().as_str(), d);
        let r = Reference::parse("127.0.0.1:5000/x").unwrap();
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.tag, None);
        assert_eq!(
            familiar_name("localhost:5000/a/b:t"),
            "localhost:5000/a/b:t"
        );
    }

    #[test]
    fn bad_references_are_rejected() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "a/b/",
            "busybox@sha256:123",
            "-a",
            "a..b",
            "localhost:x/a",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = Reference::parse("Busybox").unwrap_err().to_string();
        assert!(e.contains("must be lowercase"), "{e}");
    }
}
