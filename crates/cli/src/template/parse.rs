//! Lexing and parsing the Go text/template subset that `--format` users write.

use super::TemplateError;

/// A parsed template: a list of nodes.
pub type List = Vec<Node>;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, List, List),
    With(Pipeline, List, List),
    Range(Pipeline, List, List),
}

/// `[$a[, $b] :=] cmd | cmd ...`
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

/// A function call or a single operand.
#[derive(Debug, Clone)]
pub struct Command {
    pub args: Vec<Operand>,
}

#[derive(Debug, Clone)]
pub enum Operand {
    /// `.A.B` (empty path is `.`)
    Field(Vec<String>),
    /// `$x.A.B` (`$` alone is the root)
    Var(String, Vec<String>),
    Str(String),
    Num(f64, bool),
    Bool(bool),
    Nil,
    Func(String),
    /// `(pipeline).A.B`
    Sub(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(f64, bool),
    Pipe,
    LParen,
    RParen(Vec<String>),
    Declare,
    Comma,
}

/// Splits the source into text and action sources, honouring `{{-` and `-}}` trimming.
fn split_actions(src: &str) -> Result<Vec<(bool, String)>, TemplateError> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let (after, trim_prev) = match after.strip_prefix("- ") {
            Some(a) => (a, true),
            None => (after, false),
        };
        if trim_prev {
            text = text.trim_end();
        }
        if !text.is_empty() {
            out.push((false, text.to_string()));
        }
        let end = find_close(after).ok_or_else(|| TemplateError::parse("unclosed action"))?;
        let mut inner = &after[..end];
        trim_next = false;
        if let Some(i) = inner.strip_suffix(" -") {
            inner = i;
            trim_next = true;
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            out.push((true, inner.to_string()));
        }
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        out.push((false, text.to_string()));
    }
    Ok(out)
}

/// The index of the `}}` closing an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn take_path(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut path = Vec::new();
    while *i < chars.len() && chars[*i] == '.' {
        let start = *i + 1;
        let mut j = start;
        while j < chars.len() && is_ident_char(chars[j]) {
            j += 1;
        }
        if j == start {
            break;
        }
        path.push(chars[start..j].iter().collect());
        *i = j;
    }
    path
}

fn lex(src: &str) -> Result<Vec<Tok>, TemplateError> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                i += 1;
                toks.push(Tok::RParen(take_path(&chars, &mut i)));
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                return Err(TemplateError::parse("assignment with = is not supported"));
            }
            '.' => {
                let path = take_path(&chars, &mut i);
                if path.is_empty() {
                    i += 1;
                }
                toks.push(Tok::Field(path));
            }
            '$' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && is_ident_char(chars[j]) {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                i = j;
                toks.push(Tok::Var(name, take_path(&chars, &mut i)));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(TemplateError::parse("unterminated quoted string"));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        c => s.push(c),
                    }
                }
                toks.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| TemplateError::parse("unterminated raw quoted string"))?;
                toks.push(Tok::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let n = s
                    .parse::<f64>()
                    .map_err(|_| TemplateError::parse(format!("bad number syntax: {s:?}")))?;
                toks.push(Tok::Num(n, !s.contains('.')));
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            c => {
                return Err(TemplateError::parse(format!("unexpected {c:?} in command")));
            }
        }
    }
    Ok(toks)
}

struct TokStream {
    toks: Vec<Tok>,
    pos: usize,
}

impl TokStream {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
}

fn parse_pipeline(ts: &mut TokStream, allow_decl: bool) -> Result<Pipeline, TemplateError> {
    let mut decl = Vec::new();
    if allow_decl {
        // Look for `$a :=` or `$a, $b :=`.
        let save = ts.pos;
        let mut names = Vec::new();
        while let Some(Tok::Var(name, path)) = ts.peek().cloned() {
            if !path.is_empty() {
                break;
            }
            ts.next();
            names.push(name);
            match ts.peek() {
                Some(Tok::Comma) => {
                    ts.next();
                }
                Some(Tok::Declare) => {
                    ts.next();
                    decl = std::mem::take(&mut names);
                    break;
                }
                _ => break,
            }
        }
        if decl.is_empty() {
            ts.pos = save;
        }
    }
    let mut cmds = Vec::new();
    loop {
        let mut args = Vec::new();
        while let Some(t) = ts.peek() {
            if matches!(t, Tok::Pipe | Tok::RParen(_)) {
                break;
            }
            let t = ts.next().unwrap_or(Tok::Comma);
            args.push(match t {
                Tok::Field(p) => Operand::Field(p),
                Tok::Var(n, p) => Operand::Var(n, p),
                Tok::Str(s) => Operand::Str(s),
                Tok::Num(n, int) => Operand::Num(n, int),
                Tok::Ident(id) => match id.as_str() {
                    "true" => Operand::Bool(true),
                    "false" => Operand::Bool(false),
                    "nil" => Operand::Nil,
                    _ if FUNCTIONS.contains(&id.as_str()) => Operand::Func(id),
                    _ => return Err(TemplateError::parse(format!("function {id:?} not defined"))),
                },
                Tok::LParen => {
                    let inner = parse_pipeline(ts, false)?;
                    match ts.next() {
                        Some(Tok::RParen(path)) => Operand::Sub(Box::new(inner), path),
                        _ => return Err(TemplateError::parse("unclosed left paren")),
                    }
                }
                Tok::Comma | Tok::Declare => {
                    return Err(TemplateError::parse("unexpected token in command"));
                }
                Tok::Pipe | Tok::RParen(_) => unreachable!("checked above"),
            });
        }
        if args.is_empty() {
            return Err(TemplateError::parse("missing value for command"));
        }
        cmds.push(Command { args });
        if ts.peek() == Some(&Tok::Pipe) {
            ts.next();
        } else {
            break;
        }
    }
    Ok(Pipeline { decl, cmds })
}

fn pipeline_of(src: &str, allow_decl: bool) -> Result<Pipeline, TemplateError> {
    let mut ts = TokStream {
        toks: lex(src)?,
        pos: 0,
    };
    let p = parse_pipeline(&mut ts, allow_decl)?;
    if ts.pos < ts.toks.len() {
        return Err(TemplateError::parse(format!(
            "unexpected {:?} in operand",
            ts.toks[ts.pos]
        )));
    }
    Ok(p)
}

/// The functions Docker's templates offer (Go's builtins plus Docker's own).
const FUNCTIONS: &[&str] = &[
    "json", "join", "split", "lower", "upper", "title", "pad", "truncate", "len", "index", "print",
    "println", "printf", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
];

const UNSUPPORTED: &[&str] = &["define", "template", "block", "break", "continue"];

/// Parses a whole template.
pub fn parse(src: &str) -> Result<List, TemplateError> {
    let parts = split_actions(src)?;
    let mut pos = 0;
    let (list, end) = parse_list(&parts, &mut pos)?;
    match end {
        End::Eof => Ok(list),
        End::Close => Err(TemplateError::parse("unexpected {{end}}")),
        End::Else(_) => Err(TemplateError::parse("unexpected {{else}}")),
    }
}

enum End {
    Eof,
    Close,
    /// `{{else}}` or `{{else if ...}}` (the rest after `else`)
    Else(String),
}

fn keyword(src: &str) -> (&str, &str) {
    let word_end = src.find(|c: char| !is_ident_char(c)).unwrap_or(src.len());
    (&src[..word_end], src[word_end..].trim())
}

fn parse_list(parts: &[(bool, String)], pos: &mut usize) -> Result<(List, End), TemplateError> {
    let mut list = Vec::new();
    while *pos < parts.len() {
        let (is_action, src) = &parts[*pos];
        *pos += 1;
        if !is_action {
            list.push(Node::Text(src.clone()));
            continue;
        }
        let (word, rest) = keyword(src);
        match word {
            "end" => return Ok((list, End::Close)),
            "else" => return Ok((list, End::Else(rest.to_string()))),
            "if" | "with" | "range" => {
                list.push(parse_block(word, rest, parts, pos)?);
            }
            w if UNSUPPORTED.contains(&w) => {
                return Err(TemplateError::parse(format!(
                    "{{{{{w}}}}} is not supported by berth's --format"
                )));
            }
            _ => list.push(Node::Action(pipeline_of(src, true)?)),
        }
    }
    Ok((list, End::Eof))
}

fn parse_block(
    word: &str,
    cond: &str,
    parts: &[(bool, String)],
    pos: &mut usize,
) -> Result<Node, TemplateError> {
    if cond.is_empty() {
        return Err(TemplateError::parse(format!("missing value for {word}")));
    }
    let pipe = pipeline_of(cond, true)?;
    let (body, end) = parse_list(parts, pos)?;
    let alt = match end {
        End::Eof => return Err(TemplateError::parse(format!("unexpected EOF in {word}"))),
        End::Close => Vec::new(),
        End::Else(rest) if rest.is_empty() => {
            let (alt, end) = parse_list(parts, pos)?;
            match end {
                End::Close => alt,
                _ => {
                    return Err(TemplateError::parse(format!(
                        "expected {{{{end}}}} for {word}"
                    )));
                }
            }
        }
        End::Else(rest) => {
            // `{{else if x}}` / `{{else with x}}`: a nested block sharing our {{end}}.
            let (w, r) = keyword(&rest);
            if w != "if" && w != "with" {
                return Err(TemplateError::parse(format!(
                    "unexpected {rest:?} after else"
                )));
            }
            vec![parse_block(w, r, parts, pos)?]
        }
    };
    Ok(match word {
        "if" => Node::If(pipe, body, alt),
        "with" => Node::With(pipe, body, alt),
        _ => Node::Range(pipe, body, alt),
    })
}
