//! parse-dockerfile's syntax tree → typed [`Instruction`]s, with Docker's checks and messages.

use parse_dockerfile as pd;

use super::words::{arg_pairs, name_values};
use super::{
    CommandLine, CopyArgs, CopySource, Dockerfile, HealthcheckArgs, Heredoc, Instruction, Located,
    ParseError, RunFlags,
};

struct Ctx<'t> {
    text: &'t str,
    escape: char,
}

impl Ctx<'_> {
    fn error(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let before = &self.text[..pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    fn line_of(&self, pos: usize) -> usize {
        self.text[..pos.min(self.text.len())].matches('\n').count() + 1
    }
}

pub(super) fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let parsed = pd::parse(text).map_err(map_syntax_error)?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map(|d| d.value.value)
        .unwrap_or('\\');
    let syntax = parsed
        .parser_directives
        .syntax
        .as_ref()
        .map(|d| d.value.value.to_owned());
    let ctx = Ctx { text, escape };
    let mut instructions = Vec::with_capacity(parsed.instructions.len());
    for pi in &parsed.instructions {
        let start = keyword_start(pi);
        let instruction = convert(&ctx, pi)?;
        let heredoc = matches!(
            &instruction,
            Instruction::Run { heredocs, .. } if !heredocs.is_empty()
        ) || matches!(
            &instruction,
            Instruction::Copy(c) | Instruction::Add(c)
                if c.sources.iter().any(|s| matches!(s, crate::dockerfile::CopySource::Heredoc(_)))
        );
        instructions.push(Located {
            line: ctx.line_of(start),
            original: original_text(&text[start..], escape, heredoc),
            instruction,
        });
    }
    Ok(Dockerfile {
        syntax,
        escape,
        instructions,
    })
}

/// moby's `node.Original` of the instruction that starts `rest`: the first line, then while
/// a line ends with the escape character (blanks after it allowed) the next line is appended
/// without it; comment lines and empty lines inside are dropped; the whole trimmed.
fn original_text(rest: &str, escape: char, first_line_only: bool) -> String {
    let mut out = String::new();
    for (i, line) in rest.lines().enumerate() {
        if i > 0 && (line.trim_start().starts_with('#') || line.trim().is_empty()) {
            continue;
        }
        let trimmed = line.trim_end();
        match trimmed.strip_suffix(escape) {
            Some(head) if !first_line_only => out.push_str(head),
            _ => {
                out.push_str(line);
                break;
            }
        }
    }
    out.trim().to_owned()
}

/// parse-dockerfile's messages, reworded the way Docker words them.
fn map_syntax_error(e: pd::Error) -> ParseError {
    let raw = format!("{e:#}");
    let message = if let Some(word) = raw
        .strip_prefix("unknown instruction '")
        .and_then(|r| r.strip_suffix('\''))
    {
        if word.is_empty() {
            // Only a bare `ONBUILD` leaves no word after it.
            "ONBUILD requires at least one argument".to_owned()
        } else {
            format!("unknown instruction: {}", word.to_uppercase())
        }
    } else if let Some(name) = raw
        .strip_prefix("duplicate stage name '")
        .and_then(|r| r.strip_suffix('\''))
    {
        format!("duplicate stage name {name:?}")
    } else {
        match raw.as_str() {
            "expected at least one FROM instruction" | "expected FROM" => {
                "no build stage in current context".to_owned()
            }
            "expected AS" | "expected newline or eof" => {
                "FROM requires either one or three arguments".to_owned()
            }
            "expected JSON array" => "SHELL requires the arguments to be in JSON form".to_owned(),
            "expected CMD or NONE" => "Unknown type in HEALTHCHECK (try CMD)".to_owned(),
            _ => raw.replace(" instruction requires ", " requires "),
        }
    };
    ParseError {
        line: e.line(),
        column: e.column(),
        message,
    }
}

fn keyword_start(pi: &pd::Instruction<'_>) -> usize {
    use pd::Instruction as I;
    match pi {
        I::Add(i) => i.add.span.start,
        I::Arg(i) => i.arg.span.start,
        I::Cmd(i) => i.cmd.span.start,
        I::Copy(i) => i.copy.span.start,
        I::Entrypoint(i) => i.entrypoint.span.start,
        I::Env(i) => i.env.span.start,
        I::Expose(i) => i.expose.span.start,
        I::From(i) => i.from.span.start,
        I::Healthcheck(i) => i.healthcheck.span.start,
        I::Label(i) => i.label.span.start,
        I::Maintainer(i) => i.maintainer.span.start,
        I::Onbuild(i) => i.onbuild.span.start,
        I::Run(i) => i.run.span.start,
        I::Shell(i) => i.shell.span.start,
        I::Stopsignal(i) => i.stopsignal.span.start,
        I::User(i) => i.user.span.start,
        I::Volume(i) => i.volume.span.start,
        I::Workdir(i) => i.workdir.span.start,
        _ => 0,
    }
}

/// Flags as (name, value), checked against the names the instruction accepts.
struct Flags {
    list: Vec<(String, Option<String>, usize)>,
}

impl Flags {
    fn new(
        ctx: &Ctx<'_>,
        flags: &[pd::Flag<'_>],
        allowed: &[&str],
        instruction: &str,
    ) -> Result<Flags, ParseError> {
        let mut list: Vec<(String, Option<String>, usize)> = Vec::new();
        for f in flags {
            let name = f.name.value.to_string();
            let pos = f.flag_span().start;
            if !allowed.contains(&name.as_str()) {
                let message = if allowed.is_empty() {
                    format!("{instruction} does not accept flags: --{name}")
                } else {
                    format!("Unknown flag: {name}")
                };
                return Err(ctx.error(pos, message));
            }
            // Only --exclude and --mount may repeat.
            if name != "exclude" && name != "mount" && list.iter().any(|(n, _, _)| *n == name) {
                return Err(ctx.error(pos, format!("Duplicate flag specified: {name}")));
            }
            list.push((name, f.value.as_ref().map(|v| v.value.to_string()), pos));
        }
        Ok(Flags { list })
    }

    /// A string flag: `--name=value` (a value is required).
    fn string(&self, ctx: &Ctx<'_>, name: &str) -> Result<Option<String>, ParseError> {
        match self.list.iter().find(|(n, _, _)| n == name) {
            None => Ok(None),
            Some((_, Some(v), _)) => Ok(Some(v.clone())),
            Some((_, None, pos)) => {
                Err(ctx.error(*pos, format!("Missing a value on flag: {name}")))
            }
        }
    }

    fn strings(&self, ctx: &Ctx<'_>, name: &str) -> Result<Vec<String>, ParseError> {
        self.list
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, v, pos)| {
                v.clone()
                    .ok_or_else(|| ctx.error(*pos, format!("Missing a value on flag: {name}")))
            })
            .collect()
    }

    /// A boolean flag: `--link`, `--link=true|false`.
    fn boolean(&self, ctx: &Ctx<'_>, name: &str) -> Result<bool, ParseError> {
        match self.list.iter().find(|(n, _, _)| n == name) {
            None => Ok(false),
            Some((_, None, _)) => Ok(true),
            Some((_, Some(v), pos)) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(ctx.error(
                    *pos,
                    format!("expecting boolean value for flag {name}, not: {v}"),
                )),
            },
        }
    }
}

fn command(ctx: &Ctx<'_>, c: &pd::Command<'_>) -> CommandLine {
    match c {
        pd::Command::Exec(args) => {
            CommandLine::Exec(args.value.iter().map(|a| a.value.to_string()).collect())
        }
        pd::Command::Shell(s) => CommandLine::Shell(join_continuations(s.value, ctx.escape)),
        _ => CommandLine::Shell(String::new()),
    }
}

/// Removes line continuations the way Docker's parser does: an escape at the end of a line joins
/// it with the next; comment and blank lines inside the continuation are dropped.
pub(super) fn join_continuations(raw: &str, escape: char) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        let trimmed = line.trim_end_matches([' ', '\t']);
        match trimmed.strip_suffix(escape) {
            Some(joined) => out.push_str(joined),
            None => out.push_str(line),
        }
    }
    out.trim().to_owned()
}

/// Parses a heredoc token `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` into (name, strip_tabs, quoted).
fn heredoc_token(token: &str) -> Option<(String, bool, bool)> {
    let rest = token.strip_prefix("<<")?;
    let (strip, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let quoted = rest.len() >= 2
        && ((rest.starts_with('"') && rest.ends_with('"'))
            || (rest.starts_with('\'') && rest.ends_with('\'')));
    let name = if quoted {
        &rest[1..rest.len() - 1]
    } else {
        rest
    };
    if name.is_empty() {
        return None;
    }
    Some((name.to_owned(), strip, quoted))
}

/// The heredoc tokens on the first line of an instruction, in order.
fn heredoc_tokens(text: &str, start: usize) -> Vec<(String, bool, bool)> {
    let first_line = text[start..].split('\n').next().unwrap_or("");
    first_line
        .split_whitespace()
        .filter_map(heredoc_token)
        .collect()
}

fn copy_args(
    ctx: &Ctx<'_>,
    start: usize,
    keyword: &str,
    options: &[pd::Flag<'_>],
    src: &[pd::Source<'_>],
    dest: &pd::UnescapedString<'_>,
) -> Result<CopyArgs, ParseError> {
    let allowed: &[&str] = if keyword == "COPY" {
        &["from", "chown", "chmod", "link", "parents", "exclude"]
    } else {
        &[
            "chown",
            "chmod",
            "link",
            "checksum",
            "keep-git-dir",
            "exclude",
        ]
    };
    let flags = Flags::new(ctx, options, allowed, keyword)?;
    let mut names = heredoc_tokens(ctx.text, start).into_iter();
    let mut sources = Vec::with_capacity(src.len());
    for s in src {
        match s {
            pd::Source::Path(p) => sources.push(CopySource::Path(p.value.to_string())),
            pd::Source::HereDoc(h) => {
                let (name, strip_tabs, _) = names.next().unwrap_or(("EOF".into(), false, false));
                sources.push(CopySource::Heredoc(Heredoc {
                    name,
                    strip_tabs,
                    expand: h.expand,
                    content: h.value.to_string(),
                }));
            }
            _ => return Err(ctx.error(start, format!("unsupported {keyword} source"))),
        }
    }
    let json = ctx.text[start..].split('\n').next().is_some_and(|l| {
        let after = l.trim_start()[keyword.len()..].trim_start();
        let after = skip_flags(after);
        after.starts_with('[') && !after.starts_with("[[")
    });
    Ok(CopyArgs {
        sources,
        dest: dest.value.to_string(),
        json,
        from: flags.string(ctx, "from")?,
        chown: flags.string(ctx, "chown")?,
        chmod: flags.string(ctx, "chmod")?,
        link: flags.boolean(ctx, "link")?,
        parents: flags.boolean(ctx, "parents")?,
        exclude: flags.strings(ctx, "exclude")?,
        checksum: flags.string(ctx, "checksum")?,
        keep_git_dir: flags.string(ctx, "keep-git-dir")?,
    })
}

fn skip_flags(mut s: &str) -> &str {
    while s.starts_with("--") {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        s = s[end..].trim_start();
    }
    s
}

/// BuildKit's rule for stage names.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn convert(ctx: &Ctx<'_>, pi: &pd::Instruction<'_>) -> Result<Instruction, ParseError> {
    use pd::Instruction as I;
    let start = keyword_start(pi);
    Ok(match pi {
        I::From(f) => {
            let flags = Flags::new(ctx, &f.options, &["platform"], "FROM")?;
            let name = match &f.as_ {
                Some((_, n)) => {
                    if !valid_stage_name(&n.value) {
                        return Err(ctx.error(
                            n.span.start,
                            format!(
                                "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                                n.value
                            ),
                        ));
                    }
                    Some(n.value.to_lowercase())
                }
                None => None,
            };
            Instruction::From {
                image: f.image.value.to_string(),
                name,
                platform: flags.string(ctx, "platform")?,
            }
        }
        I::Run(r) => {
            let flags = Flags::new(ctx, &r.options, &["mount", "network", "security"], "RUN")?;
            let flags = RunFlags {
                mounts: flags.strings(ctx, "mount")?,
                network: flags.string(ctx, "network")?,
                security: flags.string(ctx, "security")?,
            };
            if let Some(n) = &flags.network
                && !matches!(n.as_str(), "default" | "none" | "host")
            {
                return Err(ctx.error(start, format!("unsupported network mode {n:?}")));
            }
            if r.here_docs.is_empty() {
                Instruction::Run {
                    command: command(ctx, &r.arguments),
                    heredocs: vec![],
                    flags,
                }
            } else {
                let pd::Command::Shell(args) = &r.arguments else {
                    return Err(ctx.error(start, "heredoc with an exec-form RUN"));
                };
                // parse-dockerfile gives the text after the delimiter; the delimiter token sits
                // just before it.
                let token_start = ctx.text[..args.span.start]
                    .rfind("<<")
                    .unwrap_or(args.span.start);
                let line = join_continuations(&ctx.text[token_start..args.span.end], ctx.escape);
                let tokens = heredoc_tokens(ctx.text, token_start);
                let heredocs = r
                    .here_docs
                    .iter()
                    .zip(tokens)
                    .map(|(h, (name, strip_tabs, _))| Heredoc {
                        name,
                        strip_tabs,
                        expand: h.expand,
                        content: h.value.to_string(),
                    })
                    .collect();
                Instruction::Run {
                    command: CommandLine::Shell(line),
                    heredocs,
                    flags,
                }
            }
        }
        I::Cmd(c) => Instruction::Cmd(command(ctx, &c.arguments)),
        I::Entrypoint(e) => Instruction::Entrypoint(command(ctx, &e.arguments)),
        I::Env(e) => {
            let (pairs, legacy) = name_values("ENV", &e.arguments.value, ctx.escape)
                .map_err(|m| ctx.error(start, m))?;
            Instruction::Env { pairs, legacy }
        }
        I::Label(l) => {
            let (pairs, legacy) = name_values("LABEL", &l.arguments.value, ctx.escape)
                .map_err(|m| ctx.error(start, m))?;
            if legacy {
                return Err(ctx.error(
                    start,
                    format!(
                        "Syntax error - can't find = in {:?}. Must be of the form: name=value",
                        pairs[0].0
                    ),
                ));
            }
            Instruction::Label(pairs)
        }
        I::Arg(a) => {
            let pairs =
                arg_pairs(&a.arguments.value, ctx.escape).map_err(|m| ctx.error(start, m))?;
            Instruction::Arg(pairs)
        }
        I::Expose(e) => {
            Instruction::Expose(e.arguments.iter().map(|a| a.value.to_string()).collect())
        }
        I::Workdir(w) => Instruction::Workdir(w.arguments.value.to_string()),
        I::User(u) => Instruction::User(u.arguments.value.to_string()),
        I::Volume(v) => {
            let (paths, json): (Vec<String>, bool) = match &v.arguments {
                pd::JsonOrStringArray::Json(a) => {
                    (a.value.iter().map(|s| s.value.to_string()).collect(), true)
                }
                pd::JsonOrStringArray::String(a) => {
                    (a.iter().map(|s| s.value.to_string()).collect(), false)
                }
            };
            if paths.is_empty() || paths.iter().any(|p| p.trim().is_empty()) {
                return Err(ctx.error(start, "VOLUME specified can not be an empty string"));
            }
            Instruction::Volume { paths, json }
        }
        I::Copy(c) => {
            Instruction::Copy(copy_args(ctx, start, "COPY", &c.options, &c.src, &c.dest)?)
        }
        I::Add(a) => Instruction::Add(copy_args(ctx, start, "ADD", &a.options, &a.src, &a.dest)?),
        I::Healthcheck(h) => {
            let flags = Flags::new(
                ctx,
                &h.options,
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
                "HEALTHCHECK",
            )?;
            match &h.arguments {
                pd::HealthcheckArguments::None { .. } => {
                    if !flags.list.is_empty() {
                        return Err(ctx.error(start, "HEALTHCHECK NONE takes no arguments"));
                    }
                    Instruction::Healthcheck(HealthcheckArgs::None)
                }
                pd::HealthcheckArguments::Cmd { arguments, .. } => {
                    Instruction::Healthcheck(HealthcheckArgs::Cmd {
                        command: command(ctx, arguments),
                        interval: flags.string(ctx, "interval")?,
                        timeout: flags.string(ctx, "timeout")?,
                        start_period: flags.string(ctx, "start-period")?,
                        start_interval: flags.string(ctx, "start-interval")?,
                        retries: flags.string(ctx, "retries")?,
                    })
                }
                _ => return Err(ctx.error(start, "unsupported HEALTHCHECK form")),
            }
        }
        I::Shell(s) => {
            Instruction::Shell(s.arguments.iter().map(|a| a.value.to_string()).collect())
        }
        I::Stopsignal(s) => Instruction::Stopsignal(s.arguments.value.to_string()),
        I::Maintainer(m) => Instruction::Maintainer(m.name.value.to_string()),
        I::Onbuild(o) => {
            let inner = convert(ctx, &o.instruction)?;
            match &inner {
                Instruction::Onbuild(_) => {
                    return Err(ctx.error(
                        start,
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                    ));
                }
                Instruction::From { .. } | Instruction::Maintainer(_) => {
                    return Err(ctx.error(
                        start,
                        format!("{} isn't allowed as an ONBUILD trigger", inner.keyword()),
                    ));
                }
                _ => {}
            }
            Instruction::Onbuild(Box::new(inner))
        }
        _ => return Err(ctx.error(start, "unsupported instruction")),
    })
}
