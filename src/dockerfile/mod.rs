//! The Dockerfile front end: a buildkit-compatible parser, variable
//! expansion in Rust, and (in `plan.rs`) the translation of a parsed file
//! into the engine's build primitives.

pub mod expand;
pub mod parse;
pub mod plan;
pub mod validate;
mod words;

#[cfg(test)]
mod tests;

pub use expand::{ExpandError, Lexer};
pub use parse::{parse, Dockerfile, Heredoc, Instruction, ParseError};

use std::ops::Range;

/// Render an error at `span` of `source` (named `file`) as a
/// codespan-reporting diagnostic; colour only on a terminal.
pub fn render_diagnostic(
    file: &str,
    source: &str,
    message: &str,
    span: Range<usize>,
    label: &str,
) -> String {
    use codespan_reporting::diagnostic::{Diagnostic, Label};
    use codespan_reporting::files::SimpleFile;
    use codespan_reporting::term::{self, termcolor::Buffer};
    let f = SimpleFile::new(file, source);
    let span = span.start.min(source.len())..span.end.min(source.len());
    let d = Diagnostic::error()
        .with_message(message)
        .with_labels(vec![Label::primary((), span).with_message(label)]);
    let mut buf = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let _ = term::emit(&mut buf, &term::Config::default(), &f, &d);
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}
