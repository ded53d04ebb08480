//! Port specs as they arrive in the API (`80/tcp` keys, host ports as strings).

use crate::error::{Error, Result};

/// `80`, `80/tcp`, `53/udp` → (port, protocol).
pub fn parse_port_key(key: &str) -> Result<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::InvalidParameter(format!("invalid proto: {proto}")));
    }
    let p: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        Error::InvalidParameter(format!("invalid port specification: \"{port}\""))
    })?;
    Ok((p, proto))
}

/// A host port: `8080` or a range `8000-8010` (the first free one is taken).
pub fn parse_host_port(s: &str) -> Result<(u16, u16)> {
    let bad = || Error::InvalidParameter(format!("invalid port specification: \"{s}\""));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_and_bad_ones_are_named() {
        assert_eq!(parse_port_key("80/tcp").unwrap(), (80, "tcp".into()));
        assert_eq!(parse_port_key("53/udp").unwrap().1, "udp");
        assert!(
            parse_port_key("x/tcp")
                .unwrap_err()
                .to_string()
                .contains("invalid port")
        );
        assert!(parse_port_key("80/foo").is_err());
        assert_eq!(parse_host_port("8000-8010").unwrap(), (8000, 8010));
        assert!(parse_host_port("99999").is_err());
    }
}
