//! Typed instructions back to Dockerfile text.

use super::{CommandLine, CopyArgs, CopySource, Dockerfile, HealthcheckArgs, Heredoc, Instruction};

pub(super) fn dockerfile(d: &Dockerfile) -> String {
    let mut out = String::new();
    if let Some(s) = &d.syntax {
        out.push_str(&format!("# syntax={s}\n"));
    }
    if d.escape != '\\' {
        out.push_str(&format!("# escape={}\n", d.escape));
    }
    for l in &d.instructions {
        out.push_str(&instruction(&l.instruction));
        out.push('\n');
    }
    out
}

fn json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn command(c: &CommandLine) -> String {
    match c {
        CommandLine::Exec(args) => json(args),
        CommandLine::Shell(s) => s.clone(),
    }
}

fn heredoc_bodies(out: &mut String, docs: &[&Heredoc]) {
    for h in docs {
        out.push('\n');
        out.push_str(&h.content);
        if !h.content.is_empty() && !h.content.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&h.name);
    }
}

fn heredoc_token(h: &Heredoc) -> String {
    let dash = if h.strip_tabs { "-" } else { "" };
    if h.expand {
        format!("<<{dash}{}", h.name)
    } else {
        format!("<<{dash}\"{}\"", h.name)
    }
}

fn flag(out: &mut String, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        out.push_str(&format!(" --{name}={v}"));
    }
}

fn copy(kw: &str, c: &CopyArgs) -> String {
    let mut out = kw.to_owned();
    flag(&mut out, "from", &c.from);
    flag(&mut out, "chown", &c.chown);
    flag(&mut out, "chmod", &c.chmod);
    if c.link {
        out.push_str(" --link");
    }
    if c.parents {
        out.push_str(" --parents");
    }
    for e in &c.exclude {
        out.push_str(&format!(" --exclude={e}"));
    }
    flag(&mut out, "checksum", &c.checksum);
    flag(&mut out, "keep-git-dir", &c.keep_git_dir);
    if c.json {
        let mut all: Vec<String> = c
            .sources
            .iter()
            .map(|s| match s {
                CopySource::Path(p) => p.clone(),
                CopySource::Heredoc(h) => heredoc_token(h),
            })
            .collect();
        all.push(c.dest.clone());
        out.push(' ');
        out.push_str(&json(&all));
        return out;
    }
    let mut docs = Vec::new();
    for s in &c.sources {
        out.push(' ');
        match s {
            CopySource::Path(p) => out.push_str(p),
            CopySource::Heredoc(h) => {
                out.push_str(&heredoc_token(h));
                docs.push(h);
            }
        }
    }
    out.push(' ');
    out.push_str(&c.dest);
    heredoc_bodies(&mut out, &docs);
    out
}

pub(super) fn instruction(i: &Instruction) -> String {
    match i {
        Instruction::From {
            image,
            name,
            platform,
        } => {
            let mut out = "FROM".to_owned();
            flag(&mut out, "platform", platform);
            out.push(' ');
            out.push_str(image);
            if let Some(n) = name {
                out.push_str(" AS ");
                out.push_str(n);
            }
            out
        }
        Instruction::Run {
            command: c,
            heredocs,
            flags,
        } => {
            let mut out = "RUN".to_owned();
            for m in &flags.mounts {
                out.push_str(&format!(" --mount={m}"));
            }
            flag(&mut out, "network", &flags.network);
            flag(&mut out, "security", &flags.security);
            out.push(' ');
            out.push_str(&command(c));
            heredoc_bodies(&mut out, &heredocs.iter().collect::<Vec<_>>());
            out
        }
        Instruction::Cmd(c) => format!("CMD {}", command(c)),
        Instruction::Entrypoint(c) => format!("ENTRYPOINT {}", command(c)),
        Instruction::Env {
            pairs,
            legacy: true,
        } if pairs.len() == 1 => {
            format!("ENV {} {}", pairs[0].0, pairs[0].1)
        }
        Instruction::Env { pairs, .. } => format!("ENV {}", kv(pairs)),
        Instruction::Label(pairs) => format!("LABEL {}", kv(pairs)),
        Instruction::Arg(pairs) => {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect();
            format!("ARG {}", parts.join(" "))
        }
        Instruction::Expose(ports) => format!("EXPOSE {}", ports.join(" ")),
        Instruction::Workdir(w) => format!("WORKDIR {w}"),
        Instruction::User(u) => format!("USER {u}"),
        Instruction::Volume { paths, json: true } => format!("VOLUME {}", json(paths)),
        Instruction::Volume { paths, .. } => format!("VOLUME {}", paths.join(" ")),
        Instruction::Copy(c) => copy("COPY", c),
        Instruction::Add(c) => copy("ADD", c),
        Instruction::Healthcheck(HealthcheckArgs::None) => "HEALTHCHECK NONE".into(),
        Instruction::Healthcheck(HealthcheckArgs::Cmd {
            command: c,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }) => {
            let mut out = "HEALTHCHECK".to_owned();
            flag(&mut out, "interval", interval);
            flag(&mut out, "timeout", timeout);
            flag(&mut out, "start-period", start_period);
            flag(&mut out, "start-interval", start_interval);
            flag(&mut out, "retries", retries);
            out.push_str(" CMD ");
            out.push_str(&command(c));
            out
        }
        Instruction::Shell(args) => format!("SHELL {}", json(args)),
        Instruction::Stopsignal(s) => format!("STOPSIGNAL {s}"),
        Instruction::Maintainer(m) => format!("MAINTAINER {m}"),
        Instruction::Onbuild(inner) => format!("ONBUILD {}", instruction(inner)),
    }
}

fn kv(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
