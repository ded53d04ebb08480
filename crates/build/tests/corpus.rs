//! Every Dockerfile under `tests/corpus/` parses, and printing it back then parsing again gives
//! the same instructions. The corpus as a whole uses every instruction.

use std::collections::BTreeSet;
use std::path::Path;

use berth_build::dockerfile::{Dockerfile, Instruction};

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn strip_lines(d: &Dockerfile) -> Vec<Instruction> {
    d.instructions
        .iter()
        .map(|l| l.instruction.clone())
        .collect()
}

#[test]
fn corpus_parses_and_round_trips() {
    let files = corpus();
    assert!(files.len() >= 100, "only {} corpus files", files.len());
    for (name, text) in &files {
        let first = Dockerfile::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = first.to_text();
        let second = Dockerfile::parse(&printed)
            .unwrap_or_else(|e| panic!("{name}: reparse failed: {e}\n{printed}"));
        assert_eq!(
            strip_lines(&first),
            strip_lines(&second),
            "{name}:\n{printed}"
        );
        assert_eq!(
            (first.escape, &first.syntax),
            (second.escape, &second.syntax),
            "{name}"
        );
        // Printing is stable after one round.
        assert_eq!(printed, second.to_text(), "{name}");
    }
}

#[test]
fn corpus_covers_every_instruction() {
    let mut seen = BTreeSet::new();
    for (_, text) in corpus() {
        for l in Dockerfile::parse(&text).unwrap().instructions {
            seen.insert(l.instruction.keyword());
            if let Instruction::Onbuild(inner) = &l.instruction {
                seen.insert(inner.keyword());
            }
        }
    }
    for kw in [
        "FROM",
        "RUN",
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "ARG",
        "LABEL",
        "EXPOSE",
        "WORKDIR",
        "USER",
        "VOLUME",
        "COPY",
        "ADD",
        "HEALTHCHECK",
        "SHELL",
        "STOPSIGNAL",
        "ONBUILD",
        "MAINTAINER",
    ] {
        assert!(seen.contains(kw), "no corpus file uses {kw}");
    }
}
