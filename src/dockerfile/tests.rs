//! Table-driven tests of the parser and the expander, one rule per case.

use super::expand::Lexer;
use super::parse::parse;

fn one(src: &str) -> super::Instruction {
    let df = parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert_eq!(df.instructions.len(), 1, "{src:?}");
    df.instructions.into_iter().next().unwrap()
}

#[test]
fn instruction_shapes() {
    // (source, name, flags, args, json)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str], bool);
    let cases: &[Case] = &[
        (
            "FROM alpine:3 AS build",
            "from",
            &[],
            &["alpine:3", "AS", "build"],
            false,
        ),
        (
            "from --platform=linux/amd64 x",
            "from",
            &["--platform=linux/amd64"],
            &["x"],
            false,
        ),
        (
            "RUN echo \"$HOME\"   ",
            "run",
            &[],
            &["echo \"$HOME\""],
            false,
        ),
        (
            "RUN [\"echo\", \"a b\"]",
            "run",
            &[],
            &["echo", "a b"],
            true,
        ),
        (
            "RUN [\"unterminated\"",
            "run",
            &[],
            &["[\"unterminated\""],
            false,
        ),
        (
            "RUN --mount=type=cache,target=/c make",
            "run",
            &["--mount=type=cache,target=/c"],
            &["make"],
            false,
        ),
        ("CMD []", "cmd", &[], &[], true),
        (
            "ENTRYPOINT /bin/sh -c",
            "entrypoint",
            &[],
            &["/bin/sh -c"],
            false,
        ),
        (
            "SHELL [\"/bin/bash\", \"-c\"]",
            "shell",
            &[],
            &["/bin/bash", "-c"],
            true,
        ),
        (
            "COPY --from=build --chown=\"1:1\" a b /c/",
            "copy",
            &["--from=build", "--chown=1:1"],
            &["a", "b", "/c/"],
            false,
        ),
        ("ADD [\"a b\", \"/c\"]", "add", &[], &["a b", "/c"], true),
        ("VOLUME /a /b", "volume", &[], &["/a", "/b"], false),
        ("VOLUME [\"/data\"]", "volume", &[], &["/data"], true),
        (
            "EXPOSE 80/tcp  443",
            "expose",
            &[],
            &["80/tcp", "443"],
            false,
        ),
        ("USER www:www", "user", &[], &["www:www"], false),
        ("WORKDIR /a b", "workdir", &[], &["/a b"], false),
        ("STOPSIGNAL SIGTERM", "stopsignal", &[], &["SIGTERM"], false),
        (
            "MAINTAINER Jane <j@x>",
            "maintainer",
            &[],
            &["Jane <j@x>"],
            false,
        ),
        ("ARG A=\"x y\" B", "arg", &[], &["A=\"x y\"", "B"], false),
        (
            "ENV A=1 B=\"two words\"",
            "env",
            &[],
            &["A", "1", "=", "B", "\"two words\"", "="],
            false,
        ),
        (
            "ENV LEGACY rest of  line",
            "env",
            &[],
            &["LEGACY", "rest of  line", ""],
            false,
        ),
        ("LABEL a=b", "label", &[], &["a", "b", "="], false),
        (
            "LABEL old style",
            "label",
            &[],
            &["old", "style", ""],
            false,
        ),
        ("HEALTHCHECK NONE", "healthcheck", &[], &["NONE"], false),
        (
            "HEALTHCHECK --interval=5s CMD curl -f x",
            "healthcheck",
            &["--interval=5s"],
            &["CMD", "curl -f x"],
            false,
        ),
        (
            "HEALTHCHECK CMD [\"true\"]",
            "healthcheck",
            &[],
            &["CMD", "true"],
            true,
        ),
        (
            "FROBNICATE the thing",
            "frobnicate",
            &[],
            &["the thing"],
            false,
        ),
    ];
    for (src, name, flags, args, json) in cases {
        let i = one(src);
        assert_eq!(i.name, *name, "{src}");
        assert_eq!(i.flags, *flags, "{src}");
        assert_eq!(i.args, *args, "{src}");
        assert_eq!(i.json, *json, "{src}");
    }
}

#[test]
fn continuations_comments_and_lines() {
    let df =
        parse("# comment\n\nRUN a \\\n  # dropped comment\n\n  b \\  \n  c\nFROM x\n").unwrap();
    let r = &df.instructions[0];
    assert_eq!(r.args, ["a   b   c"]);
    assert_eq!((r.start_line, r.end_line), (3, 7));
    assert_eq!(
        (df.instructions[1].start_line, df.instructions[1].end_line),
        (8, 8)
    );
    // A continuation at the end of the file just ends.
    assert_eq!(one("RUN a \\").args, ["a"]);
    // Case-insensitive names, CRLF line endings.
    assert_eq!(one("rUn x\r\n").name, "run");
}

#[test]
fn escape_directive_and_backtick() {
    let df = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo").unwrap();
    assert_eq!(df.escape, '`');
    assert_eq!(df.instructions[1].args, ["dir c:\\   && echo"]);
    // Directives only at the very top: after a blank line it is a comment.
    let df = parse("\n# escape=`\nRUN a \\\n b").unwrap();
    assert_eq!(df.instructions[0].args, ["a  b"]);
    // After an instruction too.
    let df = parse("FROM x\n# escape=`\nRUN a \\\n b").unwrap();
    assert_eq!(df.escape, '\\');
    assert!(parse("# escape=x\nFROM a")
        .unwrap_err()
        .message
        .contains("invalid escape token 'x'"));
    assert!(parse("# escape=`\n# escape=\\\nFROM a")
        .unwrap_err()
        .message
        .contains("only one escape"));
}

#[test]
fn heredocs() {
    let src = "FROM x\nRUN <<EOF\necho a\n\techo b\nEOF\nRUN <<-\"END\" 3<<two cat\n\tquoted $x\n\tEND\nline\ntwo\nCOPY <<a <<b /dst/\n1\na\n2\nb\n";
    let df = parse(src).unwrap();
    let r = &df.instructions[1];
    assert_eq!(r.heredocs.len(), 1);
    assert_eq!(r.heredocs[0].name, "EOF");
    assert_eq!(r.heredocs[0].content, "echo a\n\techo b\n");
    assert!(r.heredocs[0].expand && !r.heredocs[0].chomp);
    assert_eq!((r.start_line, r.end_line), (2, 5));
    let r = &df.instructions[2];
    assert_eq!(r.heredocs.len(), 2);
    assert_eq!(
        (
            r.heredocs[0].name.as_str(),
            r.heredocs[0].expand,
            r.heredocs[0].chomp
        ),
        ("END", false, true)
    );
    assert_eq!(r.heredocs[0].content, "\tquoted $x\n");
    assert_eq!((r.heredocs[1].name.as_str(), r.heredocs[1].fd), ("two", 3));
    assert_eq!(r.heredocs[1].content, "line\n");
    let c = &df.instructions[3];
    assert_eq!(
        c.heredocs
            .iter()
            .map(|h| h.content.as_str())
            .collect::<Vec<_>>(),
        ["1\n", "2\n"]
    );
    assert_eq!(c.end_line, 15);
    let e = parse("RUN <<EOF\nno end").unwrap_err();
    assert!(
        e.message.contains("unterminated heredoc 'EOF'"),
        "{}",
        e.message
    );
    // Not for other instructions.
    assert!(one("ENV A=<<EOF").heredocs.is_empty());
}

#[test]
fn onbuild_wraps_one_instruction() {
    let i = one("ONBUILD RUN --network=none echo hi");
    assert_eq!(i.name, "onbuild");
    let sub = i.sub.unwrap();
    assert_eq!(
        (sub.name.as_str(), sub.flags.clone(), sub.args.clone()),
        (
            "run",
            vec!["--network=none".to_string()],
            vec!["echo hi".to_string()]
        )
    );
    assert!(parse("ONBUILD ONBUILD RUN x").is_err());
    assert!(parse("ONBUILD").is_err());
}

#[test]
fn parse_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "file with no instructions"),
        ("# only a comment\n\n", "file with no instructions"),
        ("ENV key", "ENV must have two arguments"),
        ("ENV a=1 b", "can't find = in 'b'"),
        ("LABEL", "LABEL requires at least one argument"),
        ("RUN [\"a\", 1]", "JSON array of strings"),
        ("COPY [1, 2]", "JSON array of strings"),
    ];
    for (src, msg) in cases {
        let e = parse(src).unwrap_err();
        assert!(e.message.contains(msg), "{src:?}: {}", e.message);
        assert!(e.span.end <= src.len());
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".into()),
        "E" => Some(String::new()),
        "S" => Some("a  b c".into()),
        "P" => Some("/usr/local/bin/tool.tar.gz".into()),
        _ => None,
    }
}

#[test]
fn expansion_words() {
    let lx = Lexer::new('\\');
    let cases: &[(&str, &str)] = &[
        ("$A", "alpha"),
        ("${A}x", "alphax"),
        ("$Ax", ""),
        ("${U:-def}", "def"),
        ("${E:-def}", "def"),
        ("${E-def}", ""),
        ("${U-def}", "def"),
        ("${A:+set}", "set"),
        ("${E:+set}", ""),
        ("${E+set}", "set"),
        ("${U+set}", ""),
        ("${A?}", "alpha"),
        ("'$A'", "$A"),
        ("\"$A\"", "alpha"),
        ("\"a\\\"b\\$c\\d\"", "a\"b$c\\d"),
        ("\\$A", "$A"),
        ("a\\ b", "a b"),
        ("$", "$"),
        ("$1x", "x"),
        ("${P#*/}", "usr/local/bin/tool.tar.gz"),
        ("${P##*/}", "tool.tar.gz"),
        ("${P%.*}", "/usr/local/bin/tool.tar"),
        ("${P%%.*}", "/usr/local/bin/tool"),
        ("${P/o/0}", "/usr/l0cal/bin/tool.tar.gz"),
        ("${P//o/0}", "/usr/l0cal/bin/t00l.tar.gz"),
        ("${P/[lt]*ar/X}", "/usr/X.gz"),
        ("${U:-${A}}", "alpha"),
        ("${U:-'q $A'}", "q $A"),
        ("$(touch /tmp/x)", "$(touch /tmp/x)"),
        ("`id`", "`id`"),
    ];
    for (input, want) in cases {
        assert_eq!(lx.word(input, &env).unwrap(), *want, "{input}");
    }
    let bt = Lexer::new('`');
    assert_eq!(bt.word("a`$A", &env).unwrap(), "a$A");
}

#[test]
fn expansion_splits_words() {
    let lx = Lexer::new('\\');
    let w = |s: &str| lx.words(s, &env).unwrap();
    assert_eq!(w("a b  c"), ["a", "b", "c"]);
    assert_eq!(w("\"a b\" c"), ["a b", "c"]);
    assert_eq!(w("$S"), ["a", "b", "c"]);
    assert_eq!(w("\"$S\""), ["a  b c"]);
    assert_eq!(w("x$S"), ["xa", "b", "c"]);
    assert_eq!(w("'' a"), ["a"]);
}

#[test]
fn expansion_errors() {
    let lx = Lexer::new('\\');
    let cases: &[(&str, &str)] = &[
        ("${U?}", "U: is not allowed to be unset"),
        ("${U?custom}", "U: custom"),
        ("${E:?}", "E: is not allowed to be empty"),
        ("${A", "missing '}'"),
        ("${}", "bad substitution"),
        ("${:x}", "bad substitution"),
        ("${A:#x}", "unsupported modifier (:#)"),
        ("${A!}", "unsupported modifier (!)"),
        ("'open", "matching single-quote"),
        ("\"open", "matching double-quote"),
    ];
    for (input, msg) in cases {
        let e = lx.word(input, &env).unwrap_err();
        assert!(e.0.contains(msg), "{input}: {}", e.0);
    }
}
