//! The Dockerfile as typed instructions. Syntax comes from `parse-dockerfile`; this module turns
//! its tree into [`Instruction`]s with Docker's validation and error texts, and prints them back
//! ([`Dockerfile::to_text`]) so a parse → print → parse round trip is the identity.

mod convert;
mod print;
pub mod words;

use std::fmt;

/// A parse error with Docker's text: `dockerfile parse error on line 2: unknown instruction: FORM`.
/// `line` and `column` are 1-based; 0 when the error concerns the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "dockerfile parse error: {}", self.message)
        } else {
            write!(
                f,
                "dockerfile parse error on line {}: {}",
                self.line, self.message
            )
        }
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// `# syntax=` directive, if any.
    pub syntax: Option<String>,
    /// The escape character (`\` unless `# escape=` said otherwise).
    pub escape: char,
    /// Every instruction in file order (global `ARG`s first, then stages opened by `FROM`).
    pub instructions: Vec<Located>,
}

/// An instruction with the line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub line: usize,
    pub instruction: Instruction,
    /// The instruction's text as moby's parser keeps it (`node.Original`): its lines joined
    /// with the continuations removed, comment lines dropped, trimmed; the first line only for
    /// heredocs. Empty for instructions made by the builder.
    pub original: String,
}

/// RUN/CMD/ENTRYPOINT/HEALTHCHECK command: JSON (exec) form or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Exec(Vec<String>),
    /// Shell form, line continuations removed.
    Shell(String),
}

/// A here-document attached to `RUN` or used as a `COPY`/`ADD` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`); for COPY it is also the file name.
    pub name: String,
    /// `<<-`: leading tabs stripped.
    pub strip_tabs: bool,
    /// `false` when the delimiter was quoted (no variable expansion).
    pub expand: bool,
    /// The body (tabs already stripped when `strip_tabs`).
    pub content: String,
}

/// A source of `COPY`/`ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    Path(String),
    Heredoc(Heredoc),
}

/// `COPY`/`ADD` arguments (unexpanded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyArgs {
    pub sources: Vec<CopySource>,
    pub dest: String,
    /// Exec form (`COPY ["a", "b"]`) was used.
    pub json: bool,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    pub checksum: Option<String>,
    pub keep_git_dir: Option<String>,
}

/// `HEALTHCHECK` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthcheckArgs {
    None,
    Cmd {
        command: CommandLine,
        interval: Option<String>,
        timeout: Option<String>,
        start_period: Option<String>,
        start_interval: Option<String>,
        retries: Option<String>,
    },
}

/// A `RUN`'s BuildKit-only flags, kept so the builder can refuse them clearly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunFlags {
    pub mounts: Vec<String>,
    pub network: Option<String>,
    pub security: Option<String>,
}

/// One Dockerfile instruction; string arguments are as written (expansion happens at build time,
/// where Docker does it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run {
        command: CommandLine,
        heredocs: Vec<Heredoc>,
        flags: RunFlags,
    },
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// `legacy`: the `ENV key value` form (one pair, value is the rest of the line).
    Env {
        pairs: Vec<(String, String)>,
        legacy: bool,
    },
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Expose(Vec<String>),
    Workdir(String),
    User(String),
    Volume {
        paths: Vec<String>,
        json: bool,
    },
    Copy(CopyArgs),
    Add(CopyArgs),
    Healthcheck(HealthcheckArgs),
    Shell(Vec<String>),
    Stopsignal(String),
    Onbuild(Box<Instruction>),
    Maintainer(String),
}

impl Instruction {
    /// The keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From { .. } => "FROM",
            Instruction::Run { .. } => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env { .. } => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Volume { .. } => "VOLUME",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
            Instruction::Stopsignal(_) => "STOPSIGNAL",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }

    /// The instruction as one Dockerfile line (heredoc bodies follow on the next lines).
    pub fn to_text(&self) -> String {
        print::instruction(self)
    }
}

/// One build stage: its `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage<'a> {
    pub index: usize,
    pub line: usize,
    /// The FROM line as written ([`Located::original`]).
    pub original: &'a str,
    pub image: &'a str,
    pub name: Option<&'a str>,
    pub platform: Option<&'a str>,
    pub instructions: &'a [Located],
}

impl Dockerfile {
    /// Parses Dockerfile text.
    pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
        convert::parse(text)
    }

    /// Prints the Dockerfile back to text (directives, then one instruction per line).
    pub fn to_text(&self) -> String {
        print::dockerfile(self)
    }

    /// `ARG`s before the first `FROM`.
    pub fn global_args(&self) -> impl Iterator<Item = &Located> {
        self.instructions
            .iter()
            .take_while(|l| !matches!(l.instruction, Instruction::From { .. }))
    }

    /// The stages in order.
    pub fn stages(&self) -> Vec<Stage<'_>> {
        let starts: Vec<usize> = self
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l.instruction, Instruction::From { .. }))
            .map(|(i, _)| i)
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(index, &start)| {
                let end = starts
                    .get(index + 1)
                    .copied()
                    .unwrap_or(self.instructions.len());
                let located = &self.instructions[start];
                let Instruction::From {
                    image,
                    name,
                    platform,
                } = &located.instruction
                else {
                    unreachable!("stage starts are FROM instructions")
                };
                Stage {
                    index,
                    line: located.line,
                    original: &located.original,
                    image,
                    name: name.as_deref(),
                    platform: platform.as_deref(),
                    instructions: &self.instructions[start + 1..end],
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
