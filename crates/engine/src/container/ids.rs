//! Container IDs (64 hex digits) and names (Docker's random `adjective_surname` and its rules).

use rand::Rng;

pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "focused",
    "gallant",
    "happy",
    "jolly",
    "keen",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "pensive",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];
const SURNAMES: &[&str] = &[
    "albattani",
    "babbage",
    "curie",
    "darwin",
    "euler",
    "fermi",
    "galileo",
    "hopper",
    "jepsen",
    "knuth",
    "lovelace",
    "meitner",
    "noether",
    "pasteur",
    "ritchie",
    "shannon",
    "turing",
    "volta",
    "wozniak",
    "yalow",
];

pub fn random_name() -> String {
    let mut rng = rand::rng();
    format!(
        "{}_{}{}",
        ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        rng.random_range(0..10000)
    )
}

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, an optional leading `/` is dropped.
pub fn validate_name(name: &str) -> Result<String, String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let ok = n.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(n.to_string())
    } else {
        Err(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert_eq!(validate_name("/web-1").unwrap(), "web-1");
        assert!(validate_name("a").is_err());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name(&random_name()).is_ok());
    }
}
