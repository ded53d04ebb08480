//! Executing a parsed template against JSON data, printing values as Go's fmt does.

use serde_json::Value;

use super::TemplateError;
use super::parse::{Command, List, Node, Operand, Pipeline};

/// An evaluated value; `None` is Go's "no value" (a missing map key).
type Val = Option<Value>;

struct Scope<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
}

impl Scope<'_> {
    fn var(&self, name: &str) -> Result<Value, TemplateError> {
        if name.is_empty() {
            return Ok(self.root.clone());
        }
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TemplateError::exec(format!("undefined variable: ${name}")))
    }
}

pub fn execute(list: &List, data: &Value, out: &mut String) -> Result<(), TemplateError> {
    let mut scope = Scope {
        root: data,
        vars: Vec::new(),
    };
    walk(list, data, &mut scope, out)
}

fn walk(
    list: &List,
    dot: &Value,
    scope: &mut Scope,
    out: &mut String,
) -> Result<(), TemplateError> {
    for node in list {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = pipeline(p, dot, scope)?;
                if p.decl.is_empty() {
                    out.push_str(&print(&v));
                }
            }
            Node::If(p, body, alt) => {
                let mark = scope.vars.len();
                let v = pipeline(p, dot, scope)?;
                let r = walk(if truthy(&v) { body } else { alt }, dot, scope, out);
                scope.vars.truncate(mark);
                r?;
            }
            Node::With(p, body, alt) => {
                let mark = scope.vars.len();
                let v = pipeline(p, dot, scope)?;
                let r = if truthy(&v) {
                    walk(body, &v.unwrap_or(Value::Null), scope, out)
                } else {
                    walk(alt, dot, scope, out)
                };
                scope.vars.truncate(mark);
                r?;
            }
            Node::Range(p, body, alt) => range(p, body, alt, dot, scope, out)?,
        }
    }
    Ok(())
}

fn range(
    p: &Pipeline,
    body: &List,
    alt: &List,
    dot: &Value,
    scope: &mut Scope,
    out: &mut String,
) -> Result<(), TemplateError> {
    let plain = Pipeline {
        decl: Vec::new(),
        cmds: p.cmds.clone(),
    };
    let v = pipeline(&plain, dot, scope)?.unwrap_or(Value::Null);
    let items: Vec<(Value, Value)> = match v {
        Value::Array(a) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i), v))
            .collect(),
        Value::Object(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
        Value::Null => Vec::new(),
        Value::Number(n) if n.is_u64() => (0..n.as_u64().unwrap_or(0))
            .map(|i| (Value::from(i), Value::from(i)))
            .collect(),
        other => {
            return Err(TemplateError::exec(format!(
                "range can't iterate over {}",
                print(&Some(other))
            )));
        }
    };
    if items.is_empty() {
        return walk(alt, dot, scope, out);
    }
    for (key, item) in items {
        let mark = scope.vars.len();
        match p.decl.as_slice() {
            [] => {}
            [v] => scope.vars.push((v.clone(), item.clone())),
            [k, v] => {
                scope.vars.push((k.clone(), key));
                scope.vars.push((v.clone(), item.clone()));
            }
            _ => return Err(TemplateError::parse("too many declarations in range")),
        }
        let r = walk(body, &item, scope, out);
        scope.vars.truncate(mark);
        r?;
    }
    Ok(())
}

fn pipeline(p: &Pipeline, dot: &Value, scope: &mut Scope) -> Result<Val, TemplateError> {
    let mut last: Option<Val> = None;
    for cmd in &p.cmds {
        last = Some(command(cmd, dot, scope, last)?);
    }
    let v = last.unwrap_or(None);
    if let Some(name) = p.decl.first() {
        scope
            .vars
            .push((name.clone(), v.clone().unwrap_or(Value::Null)));
    }
    Ok(v)
}

fn command(
    cmd: &Command,
    dot: &Value,
    scope: &mut Scope,
    piped: Option<Val>,
) -> Result<Val, TemplateError> {
    let first = &cmd.args[0];
    if let Operand::Func(name) = first {
        let mut args = Vec::new();
        for a in &cmd.args[1..] {
            args.push(operand(a, dot, scope)?);
        }
        if let Some(p) = piped {
            args.push(p);
        }
        return call(name, args);
    }
    if cmd.args.len() > 1 || piped.is_some() {
        return Err(TemplateError::exec("can't give argument to non-function"));
    }
    operand(first, dot, scope)
}

fn operand(op: &Operand, dot: &Value, scope: &mut Scope) -> Result<Val, TemplateError> {
    Ok(match op {
        Operand::Field(path) => fields(Some(dot.clone()), path)?,
        Operand::Var(name, path) => fields(Some(scope.var(name)?), path)?,
        Operand::Str(s) => Some(Value::String(s.clone())),
        Operand::Num(n, true) => Some(Value::from(*n as i64)),
        Operand::Num(n, false) => Some(Value::from(*n)),
        Operand::Bool(b) => Some(Value::Bool(*b)),
        Operand::Nil => Some(Value::Null),
        Operand::Func(name) => call(name, Vec::new())?,
        Operand::Sub(p, path) => fields(pipeline(p, dot, scope)?, path)?,
    })
}

fn fields(mut v: Val, path: &[String]) -> Result<Val, TemplateError> {
    for name in path {
        v = match v {
            Some(Value::Object(mut m)) => Some(m.remove(name).ok_or_else(|| {
                TemplateError::exec(format!("map has no entry for key {name:?}"))
            })?),
            Some(Value::Null) | None => {
                return Err(TemplateError::exec(format!(
                    "nil pointer evaluating .{name}"
                )));
            }
            Some(other) => {
                return Err(TemplateError::exec(format!(
                    "can't evaluate field {name} in type {}",
                    type_name(&other)
                )));
            }
        };
    }
    Ok(v)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Go's `%v`.
pub fn print(v: &Val) -> String {
    match v {
        None => "<no value>".to_string(),
        Some(v) => print_value(v),
    }
}

fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(print_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", print_value(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// `json.Marshal` output: compact, with Go's HTML escaping.
pub fn to_go_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return Err(TemplateError::exec(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn as_str(v: &Val) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        other => print(other),
    }
}

fn as_int(name: &str, v: &Val) -> Result<i64, TemplateError> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| TemplateError::exec(format!("{name}: bad number"))),
        _ => Err(TemplateError::exec(format!(
            "{name}: expected an integer, got {}",
            print(v)
        ))),
    }
}

fn compare(a: &Val, b: &Val) -> Result<std::cmp::Ordering, TemplateError> {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .ok_or_else(|| TemplateError::exec("incomparable numbers")),
        (Some(Value::String(x)), Some(Value::String(y))) => Ok(x.cmp(y)),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => Ok(x.cmp(y)),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ok(std::cmp::Ordering::Equal),
        _ => Err(TemplateError::exec("incompatible types for comparison")),
    }
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, TemplateError> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "json" => {
            arity(name, &args, 1)?;
            s(to_go_json(args[0].as_ref().unwrap_or(&Value::Null)))
        }
        "join" => {
            arity(name, &args, 2)?;
            let sep = as_str(&args[1]);
            match &args[0] {
                Some(Value::Array(a)) => s(a
                    .iter()
                    .map(|v| as_str(&Some(v.clone())))
                    .collect::<Vec<_>>()
                    .join(&sep)),
                None | Some(Value::Null) => s(String::new()),
                other => Err(TemplateError::exec(format!(
                    "join: expected a list, got {}",
                    print(other)
                ))),
            }
        }
        "split" => {
            arity(name, &args, 2)?;
            let parts = as_str(&args[0])
                .split(&as_str(&args[1]))
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Some(Value::Array(parts)))
        }
        "lower" => {
            arity(name, &args, 1)?;
            s(as_str(&args[0]).to_lowercase())
        }
        "upper" => {
            arity(name, &args, 1)?;
            s(as_str(&args[0]).to_uppercase())
        }
        "title" => {
            arity(name, &args, 1)?;
            let t = as_str(&args[0]);
            let mut out = String::new();
            let mut start = true;
            for c in t.chars() {
                out.extend(if start {
                    c.to_uppercase().collect::<Vec<_>>()
                } else {
                    vec![c]
                });
                start = !c.is_alphanumeric();
            }
            s(out)
        }
        "pad" => {
            arity(name, &args, 3)?;
            let pre = as_int(name, &args[1])?.max(0) as usize;
            let post = as_int(name, &args[2])?.max(0) as usize;
            s(format!(
                "{}{}{}",
                " ".repeat(pre),
                as_str(&args[0]),
                " ".repeat(post)
            ))
        }
        "truncate" => {
            arity(name, &args, 2)?;
            let n = as_int(name, &args[1])?.max(0) as usize;
            s(as_str(&args[0]).chars().take(n).collect())
        }
        "len" => {
            arity(name, &args, 1)?;
            let n = match &args[0] {
                Some(Value::String(x)) => x.len(),
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(m)) => m.len(),
                Some(Value::Null) => 0,
                other => return Err(TemplateError::exec(format!("len of {}", print(other)))),
            };
            Ok(Some(Value::from(n)))
        }
        "index" => {
            let mut it = args.into_iter();
            let mut v = it
                .next()
                .ok_or_else(|| TemplateError::exec("index of nothing"))?;
            for key in it {
                v = match (v, key) {
                    (Some(Value::Object(mut m)), Some(Value::String(k))) => m.remove(&k),
                    (Some(Value::Array(a)), k @ Some(Value::Number(_))) => {
                        let i = as_int("index", &k)?;
                        let item = usize::try_from(i).ok().and_then(|i| a.get(i).cloned());
                        Some(item.ok_or_else(|| {
                            TemplateError::exec(format!("index out of range: {i}"))
                        })?)
                    }
                    (None | Some(Value::Null), _) => Some(Value::Null),
                    (v, k) => {
                        return Err(TemplateError::exec(format!(
                            "can't index item of type {} with {}",
                            type_name(v.as_ref().unwrap_or(&Value::Null)),
                            print(&k)
                        )));
                    }
                };
            }
            Ok(v)
        }
        "print" | "println" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = |v: &Val| matches!(v, Some(Value::String(_)));
                if i > 0 && (name == "println" || (!is_str(a) && !is_str(&args[i - 1]))) {
                    out.push(' ');
                }
                out.push_str(&print(a));
            }
            if name == "println" {
                out.push('\n');
            }
            s(out)
        }
        "printf" => {
            let mut it = args.into_iter();
            let fmt = as_str(&it.next().unwrap_or(None));
            s(printf(&fmt, it.collect())?)
        }
        "eq" => {
            if args.len() < 2 {
                return Err(TemplateError::exec("missing argument for comparison"));
            }
            let eq = args[1..]
                .iter()
                .any(|b| compare(&args[0], b).is_ok_and(|o| o.is_eq()));
            Ok(Some(Value::Bool(eq)))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let o = compare(&args[0], &args[1])?;
            let r = match name {
                "ne" => o.is_ne(),
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            };
            Ok(Some(Value::Bool(r)))
        }
        "and" => Ok(args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(None)),
        "or" => Ok(args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(None)),
        "not" => {
            arity(name, &args, 1)?;
            Ok(Some(Value::Bool(!truthy(&args[0]))))
        }
        _ => Err(TemplateError::parse(format!(
            "function {name:?} not defined"
        ))),
    }
}

/// The common verbs of Go's Sprintf: `%s %v %d %q %%` with an optional width.
fn printf(fmt: &str, args: Vec<Val>) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut args = args.into_iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut width = String::new();
        let mut left = false;
        if chars.peek() == Some(&'-') {
            left = true;
            chars.next();
        }
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(*d);
            chars.next();
        }
        let verb = chars
            .next()
            .ok_or_else(|| TemplateError::exec("printf: missing verb"))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args
            .next()
            .ok_or_else(|| TemplateError::exec("printf: missing argument"))?;
        let text = match verb {
            's' | 'v' | 'd' => print(&arg),
            'q' => serde_json::to_string(&as_str(&arg)).unwrap_or_default(),
            other => {
                return Err(TemplateError::exec(format!(
                    "printf: verb %{other} is not supported"
                )));
            }
        };
        let w: usize = width.parse().unwrap_or(0);
        let pad = w.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    Ok(out)
}
