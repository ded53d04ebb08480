use super::*;

fn parse(text: &str) -> Dockerfile {
    Dockerfile::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn unknown_instruction_has_dockers_text() {
    let e = Dockerfile::parse("FROM busybox\nFORM x\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "dockerfile parse error on line 2: unknown instruction: FORM"
    );
    assert_eq!((e.line, e.column), (2, 1));
}

#[test]
fn continuation_and_comments_are_joined() {
    let d = parse("FROM a\nRUN echo hi \\\n  && echo there \\\n# comment\n\n  && echo x\n");
    assert_eq!(
        d.instructions[1].instruction,
        Instruction::Run {
            command: CommandLine::Shell("echo hi   && echo there   && echo x".into()),
            heredocs: vec![],
            flags: RunFlags::default(),
        }
    );
    assert_eq!(d.instructions[1].line, 2);
}

#[test]
fn escape_directive_changes_the_continuation() {
    let d = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  /b\n");
    assert_eq!(d.escape, '`');
    let Instruction::Run {
        command: CommandLine::Shell(s),
        ..
    } = &d.instructions[1].instruction
    else {
        panic!()
    };
    assert_eq!(s, "dir c:\\   /b");
}

#[test]
fn heredocs_keep_names_and_bodies() {
    let d = parse("FROM a\nRUN <<EOF\necho a\nEOF\nCOPY <<-\"X\" /f\n\thello $A\nX\n");
    let Instruction::Run {
        command, heredocs, ..
    } = &d.instructions[1].instruction
    else {
        panic!()
    };
    assert_eq!(command, &CommandLine::Shell("<<EOF".into()));
    assert_eq!(heredocs[0].name, "EOF");
    assert_eq!(heredocs[0].content, "echo a\n");
    let Instruction::Copy(c) = &d.instructions[2].instruction else {
        panic!()
    };
    let CopySource::Heredoc(h) = &c.sources[0] else {
        panic!()
    };
    assert_eq!(
        (h.name.as_str(), h.expand, h.strip_tabs),
        ("X", false, true)
    );
    assert_eq!(h.content, "hello $A\n");
    assert_eq!(c.dest, "/f");
}

#[test]
fn flags_are_checked() {
    let e = Dockerfile::parse("FROM a\nCOPY --bogus=1 a b\n").unwrap_err();
    assert_eq!(e.message, "Unknown flag: bogus");
    assert_eq!((e.line, e.column), (2, 6));
    let e = Dockerfile::parse("FROM a\nADD --from=x a b\n").unwrap_err();
    assert_eq!(e.message, "Unknown flag: from");
    let e = Dockerfile::parse("FROM a\nCOPY --chown a b\n").unwrap_err();
    assert_eq!(e.message, "Missing a value on flag: chown");
    let d = parse("FROM a\nCOPY --link --from=b --chmod=0755 x /y/\n");
    let Instruction::Copy(c) = &d.instructions[1].instruction else {
        panic!()
    };
    assert!(c.link);
    assert_eq!(c.from.as_deref(), Some("b"));
}

#[test]
fn stage_graph_and_global_args() {
    let d = parse(
        "ARG V=1\nFROM --platform=linux/amd64 busybox:$V AS Build\nRUN x\nFROM scratch\nCOPY --from=build /a /a\n",
    );
    assert_eq!(d.global_args().count(), 1);
    let stages = d.stages();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name, Some("build"));
    assert_eq!(stages[0].platform, Some("linux/amd64"));
    assert_eq!(stages[0].instructions.len(), 1);
    assert_eq!(stages[1].image, "scratch");
    let e = Dockerfile::parse("FROM a AS 1x\n").unwrap_err();
    assert!(e.message.contains("invalid name for build stage"), "{e}");
    let e = Dockerfile::parse("FROM a AS x\nFROM b AS x\n").unwrap_err();
    assert!(e.message.contains("duplicate stage name"), "{e}");
}

#[test]
fn onbuild_limits() {
    assert!(Dockerfile::parse("FROM a\nONBUILD ONBUILD RUN x\n").is_err());
    let e = Dockerfile::parse("FROM a\nONBUILD FROM b\n").unwrap_err();
    assert!(
        e.message.contains("isn't allowed as an ONBUILD trigger"),
        "{e}"
    );
    let d = parse("FROM a\nONBUILD RUN echo hi\n");
    assert_eq!(
        d.instructions[1].instruction.to_text(),
        "ONBUILD RUN echo hi"
    );
}

#[test]
fn instruction_before_from_is_refused() {
    let e = Dockerfile::parse("RUN x\nFROM a\n").unwrap_err();
    assert_eq!(e.line, 1);
    let e = Dockerfile::parse("# just a comment\n").unwrap_err();
    assert!(e.to_string().starts_with("dockerfile parse error"), "{e}");
}

#[test]
fn env_label_and_healthcheck_forms() {
    let d = parse(
        "FROM a\nENV A=1 \\\n    B=\"two words\"\nENV PATH /x:/y\nLABEL \"a b\"=c d=e\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f x\nHEALTHCHECK NONE\n",
    );
    assert_eq!(
        d.instructions[1].instruction,
        Instruction::Env {
            pairs: vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into())
            ],
            legacy: false
        }
    );
    assert_eq!(
        d.instructions[2].instruction,
        Instruction::Env {
            pairs: vec![("PATH".into(), "/x:/y".into())],
            legacy: true
        }
    );
    assert_eq!(
        d.instructions[3].instruction,
        Instruction::Label(vec![
            ("\"a b\"".into(), "c".into()),
            ("d".into(), "e".into())
        ])
    );
    assert!(matches!(
        &d.instructions[4].instruction,
        Instruction::Healthcheck(HealthcheckArgs::Cmd { retries: Some(r), .. }) if r == "3"
    ));
    assert!(Dockerfile::parse("FROM a\nHEALTHCHECK --retries=1 NONE\n").is_err());
    assert!(Dockerfile::parse("FROM a\nENV A=1 B\n").is_err());
}

#[test]
fn syntax_errors_use_dockers_words() {
    for (text, line, msg) in [
        (
            "FROM a b\n",
            1,
            "FROM requires either one or three arguments",
        ),
        (
            "FROM a AS b c\n",
            1,
            "FROM requires either one or three arguments",
        ),
        (
            "FROM a\nCOPY x\n",
            2,
            "COPY requires at least two arguments",
        ),
        (
            "FROM a\nEXPOSE\n",
            2,
            "EXPOSE requires at least one argument",
        ),
        ("FROM a\nENV A\n", 2, "ENV must have two arguments"),
        (
            "FROM a\nSHELL sh -c\n",
            2,
            "SHELL requires the arguments to be in JSON form",
        ),
        (
            "FROM a\nHEALTHCHECK --interval=1s\n",
            2,
            "Unknown type in HEALTHCHECK (try CMD)",
        ),
        (
            "FROM a\nONBUILD\n",
            2,
            "ONBUILD requires at least one argument",
        ),
        (
            "FROM a\nRUN <<EOF\nnever ends\n",
            4,
            "expected end of here-document (EOF), but reached eof",
        ),
    ] {
        let e = Dockerfile::parse(text).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (line, msg), "{text:?}");
    }
}

#[test]
fn original_text_is_the_line_as_moby_prints_it() {
    let d = Dockerfile::parse(
        "ARG BASE=busybox\nfrom $BASE AS one\nenv A 1\nRUN echo ran \\\n   && echo two \\\n# a comment\n\n   && echo three\nRUN <<EOF\necho hi\nEOF\nCMD [\"sh\"]   \n",
    )
    .unwrap();
    let originals: Vec<&str> = d.instructions.iter().map(|l| l.original.as_str()).collect();
    assert_eq!(
        originals,
        [
            "ARG BASE=busybox",
            "from $BASE AS one",
            "env A 1",
            "RUN echo ran    && echo two    && echo three",
            "RUN <<EOF",
            "CMD [\"sh\"]",
        ]
    );
}
