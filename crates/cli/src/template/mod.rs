//! `--format`: the part of Go's text/template that Docker users write (`{{.ID}}`, `{{json .}}`,
//! `{{.State.Running}}`, `{{range}}`, `{{if}}`, `{{with}}`, `{{index}}`, `{{join}}`,
//! `{{lower}}`, `{{upper}}`, `{{println}}`, comparisons, `$` variables), run on JSON values. The
//! rest (`define`, `template`, `block`, unknown functions) is refused with a clear error.

mod exec;
mod parse;

use serde_json::Value;

pub use exec::to_go_json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template: :1: {0}")]
    Parse(String),
    #[error("template: :1: executing \"\": {0}")]
    Exec(String),
}

impl TemplateError {
    pub(crate) fn parse(msg: impl Into<String>) -> Self {
        TemplateError::Parse(msg.into())
    }
    pub(crate) fn exec(msg: impl Into<String>) -> Self {
        TemplateError::Exec(msg.into())
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: parse::List,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            nodes: parse::parse(src)?,
        })
    }

    /// Renders the template on `data`.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec::execute(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

/// Renders `src` on `data` at once.
pub fn render(src: &str, data: &Value) -> Result<String, TemplateError> {
    Template::parse(src)?.render(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(src: &str, data: &Value) -> String {
        render(src, data).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn inspect() -> Value {
        json!({
            "Id": "abc123",
            "Name": "/web",
            "State": {"Running": true, "Pid": 42, "ExitCode": 0, "Health": null},
            "Config": {
                "Env": ["A=1", "B=2"],
                "Labels": {"com.x": "1", "team": "core"},
                "Cmd": ["sh", "-c", "echo <hi> & bye"]
            },
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "back": {"IPAddress": "10.0.0.3"}}},
            "Mounts": []
        })
    }

    #[test]
    fn fields_and_nested_fields() {
        let d = inspect();
        assert_eq!(r("{{.Id}}", &d), "abc123");
        assert_eq!(r("{{.State.Running}} {{.State.Pid}}", &d), "true 42");
        assert_eq!(r("id={{ .Id }}!", &d), "id=abc123!");
        assert_eq!(r("{{.State.Health}}", &d), "<nil>");
        assert_eq!(r(r#"{{index .Config.Labels "nope"}}"#, &d), "<no value>");
        let err = render("{{.Nope}}", &d).unwrap_err().to_string();
        assert!(err.contains("map has no entry for key \"Nope\""), "{err}");
        assert_eq!(r("{{.Config.Env}}", &d), "[A=1 B=2]");
        assert_eq!(r("{{.Config.Labels}}", &d), "map[com.x:1 team:core]");
    }

    #[test]
    fn json_escapes_like_go() {
        let d = inspect();
        assert_eq!(r("{{json .Config.Env}}", &d), r#"["A=1","B=2"]"#);
        assert_eq!(
            r("{{json .Config.Cmd}}", &d),
            r#"["sh","-c","echo \u003chi\u003e \u0026 bye"]"#
        );
        assert_eq!(r("{{json .Mounts}}", &d), "[]");
        assert_eq!(r("{{.Config.Env | json}}", &d), r#"["A=1","B=2"]"#);
    }

    #[test]
    fn range_over_lists_and_maps_with_variables() {
        let d = inspect();
        assert_eq!(r("{{range .Config.Env}}[{{.}}]{{end}}", &d), "[A=1][B=2]");
        assert_eq!(
            r(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                &d
            ),
            "com.x=1;team=core;"
        );
        assert_eq!(
            r(
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                &d
            ),
            "10.0.0.3 172.17.0.2 "
        );
        assert_eq!(r("{{range .Mounts}}x{{else}}none{{end}}", &d), "none");
        assert_eq!(
            r("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", &d),
            "0:A=1 1:B=2 "
        );
        assert_eq!(
            r("{{range .Config.Env}}{{$.Id}}{{end}}", &d),
            "abc123abc123"
        );
    }

    #[test]
    fn index_join_split_case_functions() {
        let d = inspect();
        assert_eq!(r(r#"{{index .Config.Labels "com.x"}}"#, &d), "1");
        assert_eq!(r("{{index .Config.Env 1}}", &d), "B=2");
        assert_eq!(
            r(
                r#"{{(index .NetworkSettings.Networks "bridge").IPAddress}}"#,
                &d
            ),
            "172.17.0.2"
        );
        assert_eq!(r(r#"{{join .Config.Env ","}}"#, &d), "A=1,B=2");
        assert_eq!(r(r#"{{split "a/b/c" "/"}}"#, &d), "[a b c]");
        assert_eq!(r("{{lower .Name}}{{upper .Id}}", &d), "/webABC123");
        assert_eq!(r(r#"{{title "hello world"}}"#, &d), "Hello World");
        assert_eq!(r("{{len .Config.Env}}", &d), "2");
        assert_eq!(r(r#"{{.Name | upper}}"#, &d), "/WEB");
        assert_eq!(r(r#"{{truncate .Id 3}}|{{pad "x" 1 2}}|"#, &d), "abc| x  |");
    }

    #[test]
    fn println_print_printf() {
        let d = inspect();
        assert_eq!(r("{{println .Id .State.Pid}}", &d), "abc123 42\n");
        assert_eq!(r("{{print .Id .Name}}", &d), "abc123/web");
        assert_eq!(r("{{print 1 2}}", &d), "1 2");
        assert_eq!(
            r(r#"{{printf "%s-%d|%-5s|%q" .Id .State.Pid "ab" "q"}}"#, &d),
            "abc123-42|ab   |\"q\""
        );
    }

    #[test]
    fn conditionals_and_comparisons() {
        let d = inspect();
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}", &d), "up");
        assert_eq!(r("{{if .State.ExitCode}}bad{{else}}ok{{end}}", &d), "ok");
        assert_eq!(r(r#"{{if eq .Name "/web" "/db"}}y{{end}}"#, &d), "y");
        assert_eq!(r("{{if gt .State.Pid 40}}big{{end}}", &d), "big");
        assert_eq!(
            r(
                "{{if and .State.Running (not .State.ExitCode)}}fine{{end}}",
                &d
            ),
            "fine"
        );
        assert_eq!(
            r(
                "{{if .State.Health}}a{{else if .State.Running}}b{{else}}c{{end}}",
                &d
            ),
            "b"
        );
        assert_eq!(r("{{with .State}}{{.Pid}}{{end}}", &d), "42");
        assert_eq!(
            r("{{with .State.Health}}{{.Status}}{{else}}none{{end}}", &d),
            "none"
        );
        assert_eq!(r("{{$n := .Name}}{{$n}}", &d), "/web");
    }

    #[test]
    fn trim_markers_and_comments() {
        let d = inspect();
        assert_eq!(r("a  {{- .Id -}}  b", &d), "aabc123b");
        assert_eq!(r("x{{/* note */}}y", &d), "xy");
    }

    #[test]
    fn clear_errors_for_unsupported_and_bad_templates() {
        let d = inspect();
        let err = render("{{define \"x\"}}{{end}}", &d).unwrap_err();
        assert!(
            err.to_string().contains("{{define}} is not supported"),
            "{err}"
        );
        let err = render("{{frob .Id}}", &d).unwrap_err();
        assert!(
            err.to_string().contains("function \"frob\" not defined"),
            "{err}"
        );
        assert!(
            render("{{.Id", &d)
                .unwrap_err()
                .to_string()
                .contains("unclosed action")
        );
        assert!(render("{{if .Id}}x", &d).is_err());
        assert!(render("{{end}}", &d).is_err());
        assert!(
            render("{{.Id.Foo}}", &d)
                .unwrap_err()
                .to_string()
                .contains("can't evaluate field Foo")
        );
        assert!(render("{{.State.Health.Status}}", &d).is_err());
        assert!(render("{{.Id 3}}", &d).is_err());
        assert!(render("{{index .Config.Env 9}}", &d).is_err());
    }
}
