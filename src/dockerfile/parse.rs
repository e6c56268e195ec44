//! A Dockerfile parser that follows buildkit's parser on its own rules:
//! parser directives only at the very top, the escape token, line
//! continuations (comments and blank lines inside them dropped), flags,
//! JSON (exec) versus shell form, per-instruction argument shapes, ONBUILD,
//! and heredocs for RUN/COPY/ADD. Nothing is expanded here.

use std::ops::Range;

use serde::Serialize;

use super::words::{extract_flags, parse_words};

/// A heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    pub name: String,
    pub fd: u32,
    /// Unquoted delimiter: variables in the body are expanded.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body when used.
    pub chomp: bool,
    /// The body lines, each with its newline.
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// Lowercased.
    pub name: String,
    pub flags: Vec<String>,
    pub args: Vec<String>,
    pub json: bool,
    pub heredocs: Vec<Heredoc>,
    pub start_line: usize,
    pub end_line: usize,
    pub sub: Option<Box<Instruction>>,
    /// The logical line as written (continuations joined), for build output.
    #[serde(skip)]
    pub original: String,
    /// Byte range of the instruction in the source, for diagnostics.
    #[serde(skip)]
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    pub instructions: Vec<Instruction>,
    #[serde(skip)]
    pub escape: char,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Range<usize>,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn err(message: impl Into<String>, span: Range<usize>) -> ParseError {
    ParseError {
        message: message.into(),
        span,
    }
}

/// One physical line: its text (no newline) and its byte offset.
struct Line<'a> {
    text: &'a str,
    start: usize,
}

fn lines(src: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in src.split_inclusive('\n') {
        let text = piece.strip_suffix('\n').unwrap_or(piece);
        let text = text.strip_suffix('\r').unwrap_or(text);
        out.push(Line { text, start });
        start += piece.len();
    }
    out
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// `# key=value` at the top of the file.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let (k, v) = rest.split_once('=')?;
    let k = k.trim_end();
    let mut chars = k.chars();
    if !chars.next()?.is_ascii_alphabetic() || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    let k = k.to_ascii_lowercase();
    matches!(k.as_str(), "escape" | "syntax" | "check").then(|| (k, v.to_string()))
}

/// Strip a trailing escape token (plus blanks); true if the line continues.
fn continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(rest) => (rest, true),
        None => (line, false),
    }
}

pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    let src_lines = lines(src);
    let mut escape = '\\';
    let mut directives_done = false;
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < src_lines.len() {
        let raw = if i == 0 {
            src_lines[0].text.trim_start_matches('\u{feff}')
        } else {
            src_lines[i].text
        };
        let line_span = src_lines[i].start..src_lines[i].start + src_lines[i].text.len();
        if !directives_done {
            match directive(raw.trim_start()) {
                Some((k, v)) => {
                    if seen.contains(&k) {
                        return Err(err(
                            format!("only one {k} parser directive can be used"),
                            line_span,
                        ));
                    }
                    if k == "escape" {
                        escape = match v.as_str() {
                            "`" => '`',
                            "\\" => '\\',
                            _ => {
                                return Err(err(
                                    format!("invalid escape token '{v}' does not match ` or \\"),
                                    line_span,
                                ))
                            }
                        };
                    }
                    seen.push(k);
                    i += 1;
                    continue;
                }
                None => directives_done = true,
            }
        }
        let start_line = i + 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || is_comment(trimmed) {
            i += 1;
            continue;
        }
        let (first, mut more) = continuation(trimmed, escape);
        let mut logical = first.to_string();
        let mut original = raw.trim().to_string();
        let span_start = src_lines[i].start + (raw.len() - trimmed.len());
        let mut span_end = line_span.end;
        i += 1;
        while more && i < src_lines.len() {
            let l = src_lines[i].text;
            i += 1;
            if is_comment(l) || l.trim().is_empty() {
                continue;
            }
            span_end = src_lines[i - 1].start + l.len();
            original.push('\n');
            original.push_str(l);
            let (text, cont) = continuation(l, escape);
            logical.push_str(text);
            more = cont;
        }
        let mut end_line = i;
        let mut inst = from_line(&logical, escape, span_start..span_end)?;
        inst.original = original;
        // Heredoc bodies follow the instruction line.
        if can_heredoc(&inst.name) || inst.sub.as_ref().is_some_and(|s| can_heredoc(&s.name)) {
            for mut doc in heredocs_in(&logical, escape) {
                let mut terminated = false;
                while i < src_lines.len() {
                    let l = src_lines[i].text;
                    i += 1;
                    let candidate = if doc.chomp {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(l);
                    doc.content.push('\n');
                }
                span_end = src_lines[i - 1].start + src_lines[i - 1].text.len();
                if !terminated {
                    return Err(err(
                        format!(
                            "unterminated heredoc '{}': no line '{}' before the end of the file",
                            doc.name, doc.name
                        ),
                        span_start..span_end,
                    ));
                }
                match inst.sub.as_mut() {
                    Some(sub) => sub.heredocs.push(doc),
                    None => inst.heredocs.push(doc),
                }
            }
            end_line = i;
        }
        inst.start_line = start_line;
        inst.end_line = end_line;
        inst.span = span_start..span_end;
        if let Some(sub) = inst.sub.as_mut() {
            sub.start_line = start_line;
            sub.end_line = end_line;
            sub.span = inst.span.clone();
        }
        out.push(inst);
    }
    if out.is_empty() {
        return Err(err("file with no instructions", 0..src.len()));
    }
    Ok(Dockerfile {
        instructions: out,
        escape,
    })
}

fn can_heredoc(name: &str) -> bool {
    matches!(name, "run" | "copy" | "add")
}

/// The heredocs a logical line opens, in order (`<<EOF`, `<<-EOF`,
/// `<<"EOF"`, `3<<EOF`, several per line).
fn heredocs_in(line: &str, escape: char) -> Vec<Heredoc> {
    let mut out = Vec::new();
    for word in parse_words(line, escape) {
        let digits: String = word.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Some(rest) = word[digits.len()..].strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        // The delimiter with its quotes removed; quoting turns expansion off.
        let name = match super::expand::Lexer::new(escape).word(rest, &|_| None) {
            Ok(n) if !n.is_empty() => n,
            _ => continue,
        };
        out.push(Heredoc {
            expand: name == rest,
            name,
            fd: digits.parse().unwrap_or(0),
            chomp,
            content: String::new(),
        });
    }
    out
}

fn is_json_array(rest: &str) -> Option<Result<Vec<String>, ()>> {
    let t = rest.trim_start();
    if !t.starts_with('[') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(t).ok()?;
    let arr = v.as_array()?;
    Some(
        arr.iter()
            .map(|x| x.as_str().map(str::to_string).ok_or(()))
            .collect(),
    )
}

/// Parse one logical line into an instruction.
fn from_line(line: &str, escape: char, span: Range<usize>) -> Result<Instruction, ParseError> {
    let line = line.trim();
    let (cmd, rest) = match line.find(char::is_whitespace) {
        Some(p) => (&line[..p], line[p..].trim_start()),
        None => (line, ""),
    };
    let name = cmd.to_ascii_lowercase();
    let (flags, rest) = extract_flags(rest);
    let rest = rest.trim();
    let mut inst = Instruction {
        name: name.clone(),
        flags,
        args: vec![],
        json: false,
        heredocs: vec![],
        start_line: 0,
        end_line: 0,
        sub: None,
        original: line.to_string(),
        span: span.clone(),
    };
    let not_strings = || {
        err(
            format!(
                "{} requires the arguments to be a JSON array of strings: {rest}",
                name.to_uppercase()
            ),
            span.clone(),
        )
    };
    let maybe_json = |inst: &mut Instruction, whole: bool| -> Result<(), ParseError> {
        match is_json_array(rest) {
            Some(Ok(v)) => {
                inst.args = v;
                inst.json = true;
            }
            Some(Err(())) => return Err(not_strings()),
            None if rest.is_empty() => {}
            None if whole => inst.args = vec![rest.to_string()],
            None => inst.args = rest.split_whitespace().map(str::to_string).collect(),
        }
        Ok(())
    };
    match name.as_str() {
        "run" | "cmd" | "entrypoint" | "shell" => maybe_json(&mut inst, true)?,
        "add" | "copy" | "volume" => maybe_json(&mut inst, false)?,
        "from" | "expose" => inst.args = rest.split_whitespace().map(str::to_string).collect(),
        "maintainer" | "user" | "workdir" | "stopsignal" => {
            if !rest.is_empty() {
                inst.args = vec![rest.to_string()];
            }
        }
        "arg" => inst.args = parse_words(rest, escape),
        "env" | "label" => inst.args = name_values(rest, &name, escape, &span)?,
        "healthcheck" => {
            if let Some(p) = rest
                .find(char::is_whitespace)
                .or((!rest.is_empty()).then_some(rest.len()))
            {
                inst.args.push(rest[..p].to_string());
                let cmd = rest[p..].trim_start();
                match is_json_array(cmd) {
                    Some(Ok(v)) => {
                        inst.args.extend(v);
                        inst.json = true;
                    }
                    Some(Err(())) => return Err(not_strings()),
                    None if cmd.is_empty() => {}
                    None => inst.args.push(cmd.to_string()),
                }
            }
        }
        "onbuild" => {
            if rest.is_empty() {
                return Err(err("ONBUILD requires an instruction to wrap", span));
            }
            let sub = from_line(rest, escape, span.clone())?;
            if matches!(sub.name.as_str(), "onbuild" | "from" | "maintainer") {
                return Err(err(
                    format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        sub.name.to_uppercase()
                    ),
                    span,
                ));
            }
            inst.sub = Some(Box::new(sub));
        }
        // Unknown instructions are kept for a later stage to judge.
        _ => {
            if !rest.is_empty() {
                inst.args = vec![rest.to_string()];
            }
        }
    }
    Ok(inst)
}

/// ENV/LABEL: `k=v …` or the legacy `k rest of line`, as (key, value, sep)
/// triples.
fn name_values(
    rest: &str,
    name: &str,
    escape: char,
    span: &Range<usize>,
) -> Result<Vec<String>, ParseError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(err(
            format!("{} requires at least one argument", name.to_uppercase()),
            span.clone(),
        ));
    };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, char::is_whitespace);
        let key = parts.next().unwrap_or_default();
        let value = parts.next().map(str::trim_start).unwrap_or_default();
        if value.is_empty() {
            return Err(err(
                format!(
                    "{} must have two arguments: '{key}' has no value",
                    name.to_uppercase()
                ),
                span.clone(),
            ));
        }
        return Ok(vec![key.to_string(), value.to_string(), String::new()]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(err(
                format!("syntax error - can't find = in '{w}'. Must be of the form: name=value"),
                span.clone(),
            ));
        };
        out.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(out)
}
