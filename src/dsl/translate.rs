//! `klee dockerfile translate`: a Dockerfile as an equivalent, readable
//! `.rhai` script on the `build` module. Each instruction becomes one call;
//! what has no plain method (heredocs, HEALTHCHECK, ONBUILD, flags other
//! than `--from`/`--chown`) goes through `b.dockerfile("…")`, which runs it
//! exactly as `klee build` does.

use crate::dockerfile::parse::{Dockerfile, Instruction};

/// A Rhai string literal for `s`.
pub fn rhai_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Control characters are all in the BMP: Rhai's `\uXXXX`.
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn array(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| rhai_string(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn call(method: &str, args: &[String]) -> String {
    format!("b.{method}({});", args.join(", "))
}

fn one(i: &Instruction) -> Option<String> {
    let plain = i.heredocs.is_empty();
    let q = |s: &String| rhai_string(s);
    Some(match (i.name.as_str(), i.args.as_slice()) {
        ("from", [image]) if i.flags.is_empty() => call("from", &[q(image)]),
        ("from", [image, as_, name]) if i.flags.is_empty() && as_.eq_ignore_ascii_case("as") => {
            call("from", &[q(image), q(name)])
        }
        ("run", args) if plain && i.flags.is_empty() => {
            if i.json {
                call("run", &[array(args)])
            } else {
                call("run", &[q(args.first()?)])
            }
        }
        ("copy" | "add", args) if plain && args.len() >= 2 => {
            let (srcs, dest) = args.split_at(args.len() - 1);
            let mut opts = Vec::new();
            for f in &i.flags {
                let (k, v) = f.strip_prefix("--")?.split_once('=')?;
                if !matches!(k, "from" | "chown") || (k == "from" && i.name == "add") {
                    return None;
                }
                opts.push(format!("{k}: {}", rhai_string(v)));
            }
            let mut a = vec![array(srcs), q(&dest[0])];
            if !opts.is_empty() {
                a.push(format!("#{{{}}}", opts.join(", ")));
            }
            call(&i.name, &a)
        }
        // One pair per call; several pairs stay one instruction (their values
        // see the environment from before it).
        ("env" | "label", triples) if i.flags.is_empty() && triples.len() == 3 => {
            let calls: Vec<String> = triples
                .chunks(3)
                .map(|kv| call(&i.name, &[q(&kv[0]), q(&kv[1])]))
                .collect();
            calls.join("\n")
        }
        ("arg", words) if i.flags.is_empty() => words
            .iter()
            .map(|w| call("arg", &[q(w)]))
            .collect::<Vec<_>>()
            .join("\n"),
        ("workdir" | "user" | "stopsignal", [a]) if i.flags.is_empty() => call(&i.name, &[q(a)]),
        ("cmd" | "entrypoint", args) if i.flags.is_empty() => {
            if i.json {
                call(&i.name, &[array(args)])
            } else {
                call(&i.name, &[q(args.first()?)])
            }
        }
        ("shell", args) if i.json && i.flags.is_empty() => call("shell", &[array(args)]),
        ("expose", ports) if i.flags.is_empty() => ports
            .iter()
            .map(|p| call("expose", &[q(p)]))
            .collect::<Vec<_>>()
            .join("\n"),
        ("volume", paths) if i.flags.is_empty() => paths
            .iter()
            .map(|p| call("volume", &[q(p)]))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    })
}

/// The script for `df` (from `file`).
pub fn translate(df: &Dockerfile, file: &str, source: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "// {file}, translated by `klee dockerfile translate`: the same build as\n\
         // `klee build`, step by step, on the `build` module.\n\
         // Run it with: klee script THIS_FILE [CONTEXT] [TAG] [BUILD_ARG=VALUE]...\n\n\
         let context = if ARGS.len() > 0 {{ ARGS[0] }} else {{ \".\" }};\n\
         let tag = if ARGS.len() > 1 {{ ARGS[1] }} else {{ \"\" }};\n\
         let build_args = #{{}};\n\
         if ARGS.len() > 2 {{\n\
         \x20   for n in 2..ARGS.len() {{\n\
         \x20       let kv = ARGS[n];\n\
         \x20       let i = kv.index_of(\"=\");\n\
         \x20       if i < 0 {{ throw `build argument '${{kv}}' is not KEY=VALUE`; }}\n\
         \x20       build_args[kv.sub_string(0, i)] = kv.sub_string(i + 1);\n\
         \x20   }}\n\
         }}\n"
    ));
    let escape = if df.escape == '`' {
        ", escape: \"`\""
    } else {
        ""
    };
    out.push_str(&format!(
        "let b = build::start(context, #{{build_args: build_args{escape}}});\n\n"
    ));
    let lines: Vec<&str> = source.lines().collect();
    for i in &df.instructions {
        let text = lines
            .get(i.start_line.saturating_sub(1)..i.end_line.min(lines.len()))
            .map(|l| l.join("\n"))
            .unwrap_or_else(|| i.original.clone());
        out.push_str(&format!(
            "// {}\n",
            i.original.lines().next().unwrap_or_default()
        ));
        match one(i) {
            Some(c) => out.push_str(&c),
            None => out.push_str(&call("dockerfile", &[rhai_string(&text)])),
        }
        out.push('\n');
    }
    out.push_str("\nlet image = b.commit(tag);\nprint(`built ${image.id}`);\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(rhai_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn instructions_become_calls() {
        let src = "FROM base AS b\nRUN echo \"$X\"\nCOPY --from=b --chown=1 a c /d/\nENV A=1\nENV B=\"two\" C=3\nCMD [\"x\"]\nHEALTHCHECK CMD true\nRUN <<EOF\nhi\nEOF\n";
        let df = crate::dockerfile::parse(src).unwrap();
        let s = translate(&df, "Dockerfile", src);
        assert!(s.contains("b.from(\"base\", \"b\");"), "{s}");
        assert!(s.contains("b.run(\"echo \\\"$X\\\"\");"), "{s}");
        assert!(
            s.contains("b.copy([\"a\", \"c\"], \"/d/\", #{from: \"b\", chown: \"1\"});"),
            "{s}"
        );
        assert!(s.contains("b.env(\"A\", \"1\");"), "{s}");
        assert!(
            s.contains("b.dockerfile(\"ENV B=\\\"two\\\" C=3\");"),
            "{s}"
        );
        assert!(s.contains("b.cmd([\"x\"]);"), "{s}");
        assert!(s.contains("b.dockerfile(\"HEALTHCHECK CMD true\");"), "{s}");
        assert!(s.contains("b.dockerfile(\"RUN <<EOF\\nhi\\nEOF\");"), "{s}");
    }
}
