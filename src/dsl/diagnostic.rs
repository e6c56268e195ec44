//! Script errors as codespan-reporting diagnostics: the message, the primary
//! span in the file where it happened (script or stdlib module), and a
//! secondary label at each call site on the way there.

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer};
use rhai::{EvalAltResult, Position};

/// The user-facing message of an error value thrown by a script or the engine.
pub fn message_of(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => match v.read_lock::<rhai::Map>() {
            Some(m) => m.get("message").map(|m| m.to_string()).unwrap_or_else(|| v.to_string()),
            None => v.to_string(),
        },
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => message_of(inner),
        EvalAltResult::ErrorTooManyOperations(_) => {
            "too many operations: the script ran past its operation limit (raise it with --max-operations)".into()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "stack overflow: functions nested deeper than the call depth limit (raise it with --max-call-depth)".into()
        }
        other => {
            // rhai appends " (line N, position M)"; the diagnostic shows that.
            let s = other.to_string();
            match s.rfind(" (line ") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// Byte offset of a rhai position (1-based line, 1-based char column).
fn offset(src: &str, pos: Position) -> Option<usize> {
    let (line, col) = (pos.line()?, pos.position().unwrap_or(1));
    let mut start = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let byte = l
                .char_indices()
                .nth(col.saturating_sub(1))
                .map(|(b, _)| b)
                .unwrap_or(0);
            return Some(start + byte);
        }
        start += l.len();
    }
    None
}

/// The span of the token at `off`: to the end of the identifier or one char.
fn token(src: &str, off: usize) -> std::ops::Range<usize> {
    let rest = &src[off.min(src.len())..];
    let len: usize = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == ':')
        .last()
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or_else(|| rest.chars().next().map(char::len_utf8).unwrap_or(0));
    off..(off + len).min(src.len())
}

/// Render `err` from the script at `path` (whose text is `src`).
pub fn render(path: &str, src: &str, err: &EvalAltResult) -> String {
    let mut files = SimpleFiles::new();
    let main = files.add(path.to_string(), src.to_string());
    let mut labels = Vec::new();
    // Walk the chain: each wrapper is a call site in the current file, the
    // innermost error is where it happened.
    let mut file = main;
    let mut file_src = src.to_string();
    let mut cur = err;
    loop {
        match cur {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, pos) => {
                if let Some(o) = offset(&file_src, *pos) {
                    labels.push(
                        Label::secondary(file, token(&file_src, o))
                            .with_message(format!("in this call to '{name}'")),
                    );
                }
                if !source.is_empty() {
                    if let Some(text) = super::stdlib::source_text(source) {
                        file = files.add(source.clone(), text.clone());
                        file_src = text;
                    }
                }
                cur = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                if let Some(o) = offset(&file_src, *pos) {
                    labels.push(
                        Label::secondary(file, token(&file_src, o))
                            .with_message(format!("importing '{name}'")),
                    );
                }
                if let Some(text) = super::stdlib::source_text(name) {
                    file = files.add(name.clone(), text.clone());
                    file_src = text;
                }
                cur = inner;
            }
            other => {
                let pos = other.position();
                match offset(&file_src, pos) {
                    Some(o) => {
                        labels.push(Label::primary(file, token(&file_src, o)).with_message("here"))
                    }
                    // Errors from native functions called by module path carry
                    // no position: the innermost call site is the best place.
                    None => {
                        if let Some(last) = labels.pop() {
                            labels.push(
                                Label::primary(last.file_id, last.range).with_message(last.message),
                            );
                        }
                    }
                }
                break;
            }
        }
    }
    labels.reverse();
    let d = Diagnostic::error()
        .with_message(message_of(err))
        .with_labels(labels);
    let mut buf = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let _ = term::emit(&mut buf, &term::Config::default(), &files, &d);
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}
