//! Output as Docker prints it: `--format` for lists (table, raw template, `json`), tables aligned
//! by a tabwriter, human sizes and times, and pull/push/build progress.

pub mod human;
pub mod progress;
pub mod tabwriter;

use serde_json::Value;

use crate::template::{Template, TemplateError};

/// A `--format` failure, worded per command family as the docker CLI words it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// A list command (`ps`, `images`...) could not parse its template.
    #[error("failed to parse template: {0}")]
    ListParse(TemplateError),
    /// `inspect -f`, `info -f`, `version -f` could not parse it (the CLI exits 64).
    #[error("template parsing error: {0}")]
    Parse(TemplateError),
    /// Executing the template failed.
    #[error("template parsing error: {0}")]
    Exec(TemplateError),
}

/// Docker's `--format` pre-processing: `table` prefix, literal `\t` and `\n` escapes, `json`.
fn prepare(format: &str) -> (bool, String) {
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body.trim_matches(' ');
    let body = if !table && body == "json" {
        "{{json .}}"
    } else {
        body
    };
    (table, body.replace("\\t", "\t").replace("\\n", "\n"))
}

/// Renders a list with `format` (the command's default table when empty): each row is a
/// formatter context object, `headers` maps its field names to column titles.
pub fn list(
    format: &str,
    default: &str,
    headers: &Value,
    rows: &[Value],
) -> Result<String, FormatError> {
    let format = if format.is_empty() { default } else { format };
    let (table, body) = prepare(format);
    let tmpl = Template::parse(&body).map_err(FormatError::ListParse)?;
    let mut out = String::new();
    if table {
        // A field without a header renders empty, as in Docker.
        let h = tmpl.render(headers).unwrap_or_default();
        out.push_str(&h);
        out.push('\n');
    }
    for row in rows {
        out.push_str(&tmpl.render(row).map_err(FormatError::Exec)?);
        out.push('\n');
    }
    Ok(if table { tabwriter::align(&out) } else { out })
}

/// Renders one object per line with a raw template (`inspect -f`, `info -f`, `version -f`).
pub fn each(format: &str, items: &[Value]) -> Result<String, FormatError> {
    let (_, body) = prepare(format);
    let tmpl = Template::parse(&body).map_err(FormatError::Parse)?;
    let mut out = String::new();
    for item in items {
        out.push_str(&tmpl.render(item).map_err(FormatError::Exec)?);
        out.push('\n');
    }
    Ok(out)
}

/// `docker inspect` without `-f`: a JSON array indented by four spaces, HTML-escaped as Go's
/// encoder does.
pub fn inspect_json(items: &[Value]) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let arr = Value::Array(items.to_vec());
    if serde::Serialize::serialize(&arr, &mut ser).is_err() {
        return "[]\n".into();
    }
    let s = String::from_utf8_lossy(&buf)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    if items.is_empty() {
        "[]\n".into()
    } else {
        s + "\n"
    }
}

/// Docker's `formatter.Ellipsis`: cut to `max` characters, the last one being `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `stringid.TruncateID`: strip an algorithm prefix, keep 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, h)| h);
    id.chars().take(12).collect()
}

/// The `Labels` column: `k=v` pairs joined by commas (sorted by key).
pub fn labels(labels: &Option<std::collections::BTreeMap<String, String>>) -> String {
    labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_get_headers_and_alignment() {
        let headers = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let rows = [
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "defdefdefdef", "Names": "db"}),
        ];
        let out = list("table {{.ID}}\\t{{.Names}}", "", &headers, &rows).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   NAMES\nabc            web\ndefdefdefdef   db\n"
        );
    }

    #[test]
    fn raw_and_json_formats() {
        let rows = [json!({"ID": "a", "N": 1}), json!({"ID": "b", "N": 2})];
        assert_eq!(list("{{.ID}}", "", &json!({}), &rows).unwrap(), "a\nb\n");
        assert_eq!(
            list("json", "", &json!({}), &rows).unwrap(),
            "{\"ID\":\"a\",\"N\":1}\n{\"ID\":\"b\",\"N\":2}\n"
        );
        assert_eq!(
            list("{{.ID}}\\t{{.N}}", "", &json!({}), &rows).unwrap(),
            "a\t1\nb\t2\n"
        );
    }

    #[test]
    fn default_table_is_used_when_no_format() {
        let out = list(
            "",
            "table {{.ID}}",
            &json!({"ID": "ID"}),
            &[json!({"ID": "x"})],
        )
        .unwrap();
        assert_eq!(out, "ID\nx\n");
    }

    #[test]
    fn inspect_output_is_indented_and_escaped() {
        let out = inspect_json(&[json!({"A": "<b>"})]);
        assert_eq!(
            out,
            "[\n    {\n        \"A\": \"\\u003cb\\u003e\"\n    }\n]\n"
        );
        assert_eq!(inspect_json(&[]), "[]\n");
    }

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(
            ellipsis("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(ellipsis("short", 20), "short");
    }
}
