//! Docker's word splitting for `ENV`, `LABEL` and `ARG` (moby's `parseWords`/`parseNameVal`):
//! words split on unquoted whitespace, quotes and escapes kept for the later variable expansion.

/// Splits `rest` into words on whitespace outside quotes. Quotes and escape characters stay in
/// the words (the expansion step removes them), as moby's parser does.
pub fn split_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = rest.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if c == escape && quote != Some('\'') {
            word.push(c);
            if let Some(next) = chars.next() {
                word.push(next);
            }
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            _ => {}
        }
        word.push(c);
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Splits `KEY=VALUE` pairs (the modern form) or `KEY VALUE` (the legacy one-pair form).
/// Returns the pairs and whether the legacy form was used.
pub fn name_values(
    instruction: &str,
    rest: &str,
    escape: char,
) -> Result<(Vec<(String, String)>, bool), String> {
    let words = split_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(format!("{instruction} requires at least one argument"));
    };
    if !first.contains('=') {
        // Legacy `ENV key value...`: the value is the rest of the line as written.
        let trimmed = rest.trim_start();
        let key_end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let value = trimmed[key_end..].trim();
        if value.is_empty() {
            return Err(format!("{instruction} must have two arguments"));
        }
        return Ok((vec![(first.clone(), value.to_owned())], true));
    }
    let mut pairs = Vec::with_capacity(words.len());
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ));
        };
        if key.is_empty() {
            return Err(format!("{instruction} names can not be blank"));
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok((pairs, false))
}

/// `ARG name[=default] ...`.
pub fn arg_pairs(rest: &str, escape: char) -> Result<Vec<(String, Option<String>)>, String> {
    let words = split_words(rest, escape);
    if words.is_empty() {
        return Err("ARG requires at least one argument".into());
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err("ARG names can not be blank".to_owned()),
            Some((k, v)) => Ok((k.to_owned(), Some(v.to_owned()))),
            None => Ok((w, None)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quotes_and_escapes() {
        assert_eq!(
            split_words(r#"A=1 B="two words" C=x\ y"#, '\\'),
            vec!["A=1", r#"B="two words""#, r"C=x\ y"]
        );
        assert_eq!(split_words("  a   b ", '\\'), vec!["a", "b"]);
    }

    #[test]
    fn legacy_and_modern_env_forms() {
        assert_eq!(
            name_values("ENV", "PATH /usr/bin  x", '\\').unwrap(),
            (vec![("PATH".into(), "/usr/bin  x".into())], true)
        );
        let (pairs, legacy) = name_values("ENV", "a=1 b=\"2 3\"", '\\').unwrap();
        assert!(!legacy);
        assert_eq!(pairs[1], ("b".into(), "\"2 3\"".into()));
        assert!(
            name_values("ENV", "a=1 b", '\\')
                .unwrap_err()
                .contains("can't find =")
        );
        assert!(name_values("ENV", "onlykey", '\\').is_err());
    }

    #[test]
    fn arg_defaults() {
        assert_eq!(
            arg_pairs("A B=2", '\\').unwrap(),
            vec![("A".into(), None), ("B".into(), Some("2".into()))]
        );
    }
}
