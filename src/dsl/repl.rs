//! `klee repl`: an interactive session on the engine. History survives
//! restarts, Tab completes modules, functions, methods and variables (from
//! the engine's metadata), unfinished blocks continue on the next line,
//! functions defined earlier stay callable, `help(name)` shows the docs,
//! `:functions` and `:scope` list what exists, Ctrl-C cancels (the input,
//! or a running script), Ctrl-D leaves.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rhai::{Dynamic, Scope, AST};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper, Highlighter, Hinter};

use super::{diagnostic, docs, new_engine, open, Limits};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "break",
    "continue", "return", "throw", "try", "catch", "import", "export", "as", "true", "false",
    "print", "debug", "type_of", "help",
];

#[derive(Helper, Highlighter, Hinter)]
struct ReplHelper {
    /// Qualified functions and module prefixes (`image::`, `image::list`).
    names: Vec<String>,
    /// Methods and properties (after a `.`).
    methods: Vec<String>,
    variables: RefCell<Vec<String>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == ':')
            .last()
            .map(|(i, _)| i)
            .unwrap_or(pos);
        let word = &before[start..];
        let after_dot = before[..start].ends_with('.');
        let pool: Vec<String> = if after_dot {
            self.methods.clone()
        } else {
            let mut p = self.names.clone();
            p.extend(KEYWORDS.iter().map(|s| s.to_string()));
            p.extend(self.variables.borrow().iter().cloned());
            p
        };
        let mut found: Vec<String> = pool
            .into_iter()
            .filter(|n| n.starts_with(word) && n != word)
            .collect();
        found.sort();
        found.dedup();
        Ok((
            start,
            found
                .into_iter()
                .map(|n| Pair {
                    display: n.clone(),
                    replacement: n,
                })
                .collect(),
        ))
    }
}

/// Incomplete while brackets are open (outside strings and comments).
fn open_brackets(input: &str) -> i32 {
    let mut depth = 0;
    let mut chars = input.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '`' | '\'' => quote = Some(c),
                '/' if chars.peek() == Some(&'/') => {
                    for n in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                }
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' => depth -= 1,
                _ => {}
            },
        }
    }
    depth
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if open_brackets(ctx.input()) > 0 {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

fn history_file() -> PathBuf {
    if let Some(p) = std::env::var_os("KLEENE_HISTORY") {
        return PathBuf::from(p);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
        .join(".klee_history")
}

pub fn run(root: &std::path::Path, limits: Limits) -> i32 {
    if let Err(e) = open(root) {
        eprintln!("error: {e}");
        return 1;
    }
    let cwd = std::env::current_dir().ok();
    let mut engine = new_engine(limits, cwd.as_deref());
    engine.on_progress(|_| {
        INTERRUPTED
            .swap(false, Ordering::Relaxed)
            .then(|| Dynamic::from("interrupted"))
    });
    let engine = Arc::new(engine);
    let all = docs::collect(&engine);
    let mut names: Vec<String> = Vec::new();
    let mut methods: Vec<String> = Vec::new();
    for d in &all {
        match &d.module {
            Some(m) => {
                names.push(format!("{m}::"));
                names.push(d.qualified());
            }
            None if d.signature.contains('.') => methods.push(d.name.clone()),
            None => names.push(d.name.clone()),
        }
    }
    let helper = ReplHelper {
        names,
        methods,
        variables: RefCell::new(vec![]),
    };
    let mut rl = match rustyline::Editor::<ReplHelper, rustyline::history::DefaultHistory>::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return 1;
        }
    };
    rl.set_helper(Some(helper));
    let hist = history_file();
    let _ = rl.load_history(&hist);
    // SAFETY: a handler that only sets an atomic flag.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as usize;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
    crate::outln!(
        "kleene {} — Rhai REPL. help(\"image::list\"), :functions, :scope; Ctrl-D leaves.",
        env!("CARGO_PKG_VERSION")
    );
    let mut scope = Scope::new();
    scope.push_constant("ARGS", rhai::Array::new());
    let mut functions = AST::empty();
    loop {
        let line = match rl.readline("klee> ") {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        let _ = rl.save_history(&hist);
        match input {
            ":quit" | ":q" => break,
            ":functions" => {
                for d in &all {
                    crate::outln!("{}", d.signature);
                }
                for f in functions.iter_functions() {
                    crate::outln!("{}({})  // defined here", f.name, f.params.join(", "));
                }
                continue;
            }
            ":scope" => {
                for (name, constant, value) in scope.iter() {
                    crate::outln!("{}{name} = {value:?}", if constant { "const " } else { "" });
                }
                continue;
            }
            _ => {}
        }
        if let Some(name) = input
            .strip_prefix("help(")
            .and_then(|r| r.strip_suffix(')'))
            .map(|n| n.trim().trim_matches('"'))
        {
            match docs::help(&engine, name) {
                Some(h) => crate::outln!("{h}"),
                None => crate::outln!("no function named '{name}' (try :functions)"),
            }
            continue;
        }
        if input == "help" || input == "help()" {
            crate::outln!("help(\"name\") shows a function's documentation; :functions lists them; :scope lists variables.");
            continue;
        }
        INTERRUPTED.store(false, Ordering::Relaxed);
        let ast = match engine.compile_with_scope(&scope, &line) {
            Ok(a) => a,
            Err(e) => {
                eprint!(
                    "{}",
                    diagnostic::render("<repl>", &line, &rhai::EvalAltResult::from(e))
                );
                continue;
            }
        };
        let merged = functions.merge(&ast);
        match engine.eval_ast_with_scope::<Dynamic>(&mut scope, &merged) {
            Ok(v) if !v.is_unit() => crate::outln!("{v:?}"),
            Ok(_) => {}
            Err(e) => eprint!("{}", diagnostic::render("<repl>", &line, &e)),
        }
        functions = merged.clone_functions_only();
        if let Some(h) = rl.helper_mut() {
            *h.variables.borrow_mut() = scope.iter().map(|(n, _, _)| n.to_string()).collect();
        }
    }
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn brackets() {
        assert_eq!(super::open_brackets("fn f() {"), 1);
        assert_eq!(super::open_brackets("let s = \"{\"; // {"), 0);
        assert_eq!(super::open_brackets("[1, (2"), 2);
    }
}
