//! `.dockerignore` with moby's patternmatcher rules: patterns are cleaned and made relative,
//! `*` and `?` do not cross `/`, `**` matches any number of directories, a `!` pattern is an
//! exception, the last matching pattern wins, and a pattern matching a parent directory matches
//! everything under it.

use regex::Regex;

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    exclusion: bool,
    regex: Regex,
}

/// A set of ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

/// A pattern that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid .dockerignore pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// `filepath.Clean` for slash paths.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn compile(pattern: &str) -> Result<Regex, PatternError> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => match chars.next() {
                Some(n) => re.push_str(&regex::escape(&n.to_string())),
                None => re.push_str(r"\\"),
            },
            '[' => {
                // A character class: copied through, `!` negation as in Go.
                re.push('[');
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    chars.next();
                    re.push('^');
                }
                let mut closed = false;
                for n in chars.by_ref() {
                    if n == ']' {
                        closed = true;
                        break;
                    }
                    if n == '\\' || n == '[' {
                        re.push('\\');
                    }
                    re.push(n);
                }
                if !closed {
                    return Err(PatternError {
                        pattern: pattern.into(),
                        reason: "syntax error in pattern".into(),
                    });
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| PatternError {
        pattern: pattern.into(),
        reason: e.to_string(),
    })
}

impl DockerIgnore {
    /// Parses `.dockerignore` text (`#` comments, blank lines skipped).
    pub fn parse(text: &str) -> Result<DockerIgnore, PatternError> {
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        DockerIgnore::from_patterns(&lines)
    }

    /// Compiles a list of patterns (also used for `COPY --exclude`).
    pub fn from_patterns<S: AsRef<str>>(lines: &[S]) -> Result<DockerIgnore, PatternError> {
        let mut patterns = Vec::new();
        for line in lines {
            let mut p = line.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err(PatternError {
                        pattern: line.as_ref().into(),
                        reason: "illegal exclusion pattern: \"!\"".into(),
                    });
                }
            }
            let mut text = clean(p);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            let regex = compile(&text)?;
            patterns.push(Pattern {
                text,
                exclusion,
                regex,
            });
        }
        Ok(DockerIgnore { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is an exception (then an excluded directory must still be walked).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded.
    pub fn matches(&self, path: &str) -> bool {
        let path = clean(path);
        let path = path.trim_start_matches('/');
        let parents: Vec<&str> = path.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                // An exclusion can only flip a match; an inclusion only a non-match.
                continue;
            }
            let mut hit = p.regex.is_match(path);
            if !hit && parents.len() > 1 {
                for i in 1..parents.len() {
                    if p.regex.is_match(&parents[..i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// The patterns as cleaned (for tests and debugging).
    pub fn patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                if p.exclusion {
                    format!("!{}", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn star_does_not_cross_directories() {
        let i = ig("*.md\n");
        assert!(i.matches("README.md"));
        assert!(!i.matches("docs/README.md"));
        let i = ig("*/*.md");
        assert!(i.matches("docs/README.md"));
    }

    #[test]
    fn double_star_matches_any_depth() {
        let i = ig("**/*.go\n");
        assert!(i.matches("main.go"));
        assert!(i.matches("a/b/c.go"));
        assert!(!i.matches("a/b/c.rs"));
        let i = ig("node_modules/**");
        assert!(i.matches("node_modules/x/y"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let i = ig("*.md\n!README.md\n");
        assert!(i.matches("CHANGES.md"));
        assert!(!i.matches("README.md"));
        let i = ig("!README.md\n*.md\n");
        assert!(i.matches("README.md"));
    }

    #[test]
    fn parent_directory_match_excludes_children() {
        let i = ig("# comment\n\n/build/\n.git\n");
        assert_eq!(i.patterns(), vec!["build", ".git"]);
        assert!(i.matches("build/out/a.o"));
        assert!(i.matches(".git/HEAD"));
        assert!(!i.matches("src/build.rs"));
        let i = ig("temp?\nsub/../x\n");
        assert!(i.matches("temp1"));
        assert!(!i.matches("temp12"));
        assert!(i.matches("x"));
    }

    #[test]
    fn classes_and_bad_patterns() {
        let i = ig("file[0-9].txt\n");
        assert!(i.matches("file3.txt"));
        assert!(!i.matches("filex.txt"));
        assert!(DockerIgnore::parse("[abc\n").is_err());
        assert!(DockerIgnore::parse("!\n").is_err());
    }
}
