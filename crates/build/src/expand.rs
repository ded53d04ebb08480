//! Variable substitution as Docker applies it to instruction arguments (BuildKit's `shell.Lex`):
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
//! `${VAR:?msg}`, single and double quotes, and the escape character.

use std::iter::Peekable;
use std::str::Chars;

/// Looks a variable up; `None` means unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A substitution error (`${X:?}` on an unset variable, an unterminated quote or brace).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub String);

/// Expands one word: quotes removed, variables substituted, the result kept as one string.
pub fn expand_word(word: &str, escape: char, lookup: Lookup<'_>) -> Result<String, ExpandError> {
    let mut lex = Lexer {
        chars: word.chars().peekable(),
        escape,
        lookup,
        raw: false,
    };
    let words = lex.process(None, false)?;
    Ok(words.into_iter().next().unwrap_or_default())
}

/// Expands variables only, keeping quotes and escapes as written (heredoc bodies, as BuildKit's
/// `RawQuotes`/`RawEscapes` lexer mode).
pub fn expand_raw(text: &str, lookup: Lookup<'_>) -> Result<String, ExpandError> {
    let mut lex = Lexer {
        chars: text.chars().peekable(),
        escape: '\\',
        lookup,
        raw: true,
    };
    let words = lex.process(None, false)?;
    Ok(words.into_iter().next().unwrap_or_default())
}

/// Expands and splits into words on unquoted whitespace (used by `EXPOSE`), as `ProcessWords`.
pub fn expand_words(
    text: &str,
    escape: char,
    lookup: Lookup<'_>,
) -> Result<Vec<String>, ExpandError> {
    let mut lex = Lexer {
        chars: text.chars().peekable(),
        escape,
        lookup,
        raw: false,
    };
    let words = lex.process(None, true)?;
    Ok(words.into_iter().filter(|w| !w.is_empty()).collect())
}

struct Lexer<'a, 'l> {
    chars: Peekable<Chars<'a>>,
    escape: char,
    lookup: Lookup<'l>,
    raw: bool,
}

/// Accumulates words; in splitting mode unquoted whitespace separates them.
struct Words {
    split: bool,
    done: Vec<String>,
    current: String,
    started: bool,
}

impl Words {
    fn push(&mut self, c: char) {
        self.current.push(c);
        self.started = true;
    }
    fn push_str(&mut self, s: &str) {
        self.current.push_str(s);
        self.started = true;
    }
    /// Text from an unquoted expansion: split on whitespace when splitting.
    fn push_unquoted_expansion(&mut self, s: &str) {
        if !self.split {
            return self.push_str(s);
        }
        for (i, part) in s.split(char::is_whitespace).enumerate() {
            if i > 0 {
                self.boundary();
            }
            if !part.is_empty() {
                self.push_str(part);
            }
        }
    }
    fn boundary(&mut self) {
        if self.started {
            self.done.push(std::mem::take(&mut self.current));
            self.started = false;
        }
    }
    fn finish(mut self) -> Vec<String> {
        if self.started || (!self.split && self.done.is_empty()) {
            self.done.push(self.current);
        }
        self.done
    }
}

impl Lexer<'_, '_> {
    fn process(&mut self, stop: Option<char>, split: bool) -> Result<Vec<String>, ExpandError> {
        let mut words = Words {
            split,
            done: Vec::new(),
            current: String::new(),
            started: false,
        };
        loop {
            let Some(&c) = self.chars.peek() else {
                if stop.is_some() {
                    return Err(ExpandError("bad substitution: missing '}'".into()));
                }
                break;
            };
            if Some(c) == stop {
                self.chars.next();
                break;
            }
            self.chars.next();
            if self.raw {
                match c {
                    '$' => {
                        let s = self.dollar()?;
                        words.push_str(&s);
                    }
                    c if c == self.escape => {
                        words.push(c);
                        if let Some(n) = self.chars.next() {
                            words.push(n);
                        }
                    }
                    c => words.push(c),
                }
                continue;
            }
            match c {
                '\'' => {
                    let s = self.single_quoted()?;
                    words.push_str(&s);
                }
                '"' => {
                    let s = self.double_quoted()?;
                    words.push_str(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    words.push_unquoted_expansion(&s);
                }
                c if c == self.escape => match self.chars.next() {
                    Some(next) => words.push(next),
                    None => break,
                },
                c if split && c.is_whitespace() => words.boundary(),
                c => words.push(c),
            }
        }
        Ok(words.finish())
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        let mut out = String::new();
        for c in self.chars.by_ref() {
            if c == '\'' {
                return Ok(out);
            }
            out.push(c);
        }
        Err(ExpandError(
            "unexpected end of statement while looking for matching single-quote".into(),
        ))
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        let mut out = String::new();
        while let Some(c) = self.chars.next() {
            match c {
                '"' => return Ok(out),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape => match self.chars.peek() {
                    Some(&n) if n == '"' || n == '$' || n == self.escape => {
                        out.push(n);
                        self.chars.next();
                    }
                    Some(_) => out.push(c),
                    None => {}
                },
                c => out.push(c),
            }
        }
        Err(ExpandError(
            "unexpected end of statement while looking for matching double-quote".into(),
        ))
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.chars.next();
            } else {
                break;
            }
        }
        name
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        if self.chars.peek() != Some(&'{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.chars.next();
        let name = self.name();
        if name.is_empty() {
            return Err(ExpandError("bad substitution: empty variable name".into()));
        }
        let value = (self.lookup)(&name);
        let Some(c) = self.chars.next() else {
            return Err(ExpandError(format!(
                "bad substitution: missing '}}' after ${{{name}"
            )));
        };
        let (colon, modifier) = match c {
            '}' => return Ok(value.unwrap_or_default()),
            ':' => match self.chars.next() {
                Some(m) => (true, m),
                None => return Err(ExpandError("bad substitution: missing modifier".into())),
            },
            m => (false, m),
        };
        if !matches!(modifier, '-' | '+' | '?') {
            return Err(ExpandError(format!(
                "unsupported modifier ({modifier}) in substitution"
            )));
        }
        let word = self
            .process(Some('}'), false)?
            .into_iter()
            .next()
            .unwrap_or_default();
        // With the colon an empty value counts as unset.
        let set = match &value {
            Some(v) => !colon || !v.is_empty(),
            None => false,
        };
        Ok(match modifier {
            '-' => {
                if set {
                    value.unwrap_or_default()
                } else {
                    word
                }
            }
            '+' => {
                if set {
                    word
                } else {
                    String::new()
                }
            }
            _ => {
                if set {
                    value.unwrap_or_default()
                } else if word.is_empty() {
                    return Err(ExpandError(format!("{name}: parameter not set")));
                } else {
                    return Err(ExpandError(format!("{name}: {word}")));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "E" => Some(String::new()),
            "S" => Some("x y".into()),
            _ => None,
        }
    }

    fn w(s: &str) -> String {
        expand_word(s, '\\', &env).unwrap()
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(w("$A/${A}/$NOPE/x"), "alpha/alpha//x");
        assert_eq!(w("$"), "$");
        assert_eq!(w("a$"), "a$");
        assert_eq!(w("${A}_1"), "alpha_1");
    }

    #[test]
    fn modifiers_follow_docker() {
        assert_eq!(w("${NOPE:-def}"), "def");
        assert_eq!(w("${E:-def}"), "def");
        assert_eq!(w("${E-def}"), "");
        assert_eq!(w("${A:-def}"), "alpha");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${E:+alt}"), "");
        assert_eq!(w("${E+alt}"), "alt");
        assert_eq!(w("${NOPE:+alt}"), "");
        assert_eq!(w("${NOPE:-${A}}"), "alpha");
        assert_eq!(
            expand_word("${NOPE:?need it}", '\\', &env).unwrap_err().0,
            "NOPE: need it"
        );
        assert!(expand_word("${A", '\\', &env).is_err());
        assert!(expand_word("${A%%x}", '\\', &env).is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w(r#""$A x"'$A'"#), "alpha x$A");
        assert_eq!(w(r"\$A"), "$A");
        assert_eq!(w(r#""a\"b\$A\n""#), r#"a"b$A\n"#);
        assert_eq!(w(r"a\ b"), "a b");
        assert_eq!(expand_word("`$A", '`', &env).unwrap(), "$A");
        assert!(expand_word("'abc", '\\', &env).is_err());
        assert!(expand_word("\"abc", '\\', &env).is_err());
    }

    #[test]
    fn raw_mode_keeps_quotes() {
        assert_eq!(
            expand_raw("say \"$A\" '$A' \\n", &env).unwrap(),
            "say \"alpha\" 'alpha' \\n"
        );
    }

    #[test]
    fn words_split_unquoted_expansions() {
        assert_eq!(
            expand_words("80 $S \"$S\"", '\\', &env).unwrap(),
            vec!["80", "x", "y", "x y"]
        );
    }
}
