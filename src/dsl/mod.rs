//! The Rhai DSL: every engine primitive as a native function, grouped in
//! one module per object (`image`, `container`, `volume`, `network`,
//! `build`), typed handles with getters and methods, a confined module
//! resolver, limits, and codespan diagnostics. Scripts, the REPL and
//! translated Dockerfiles all run here, on the same engine as the CLI.

mod build;
mod compose;
mod container;
pub mod diagnostic;
pub mod docs;
mod image;
mod network;
pub mod repl;
pub mod resolver;
pub mod stdlib;
mod system;
pub mod translate;
mod volume;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rhai::{Dynamic, EvalAltResult, Map, Position, Scope};

use crate::engine::Engine as Kleene;

/// The one engine scripts drive (a script process has one).
static KLEENE: Mutex<Option<Kleene>> = Mutex::new(None);

pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// `#{kind: …, message: …}`: what `catch (e)` receives.
pub fn error_map(kind: &str, message: &str) -> Dynamic {
    let mut m = Map::new();
    m.insert("kind".into(), kind.into());
    m.insert("message".into(), message.into());
    m.into()
}

pub fn fail<T>(kind: &str, message: impl Into<String>) -> RResult<T> {
    Err(EvalAltResult::ErrorRuntime(error_map(kind, &message.into()), Position::NONE).into())
}

pub(crate) fn to_rhai(e: crate::engine::Error) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(error_map(e.kind(), &e.to_string()), Position::NONE).into()
}

/// Give an error from a native function the position of its call (rhai
/// leaves module-qualified calls without one).
pub fn here<T>(ctx: &rhai::NativeCallContext, r: RResult<T>) -> RResult<T> {
    r.map_err(|mut e| {
        if e.position().is_none() {
            e.set_position(ctx.call_position());
        }
        e
    })
}

/// Run `f` on the engine, turning its errors into catchable script errors.
pub fn with<T>(f: impl FnOnce(&mut Kleene) -> crate::engine::Result<T>) -> RResult<T> {
    let mut g = KLEENE.lock().unwrap_or_else(|p| p.into_inner());
    match g.as_mut() {
        Some(e) => f(e).map_err(to_rhai),
        None => fail("state", "the kleene engine is not open"),
    }
}

/// Limits that stop runaway scripts; every one can be raised by a flag.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub operations: u64,
    pub call_levels: usize,
    pub expr_depth: usize,
    pub string_size: usize,
    pub array_size: usize,
    pub map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            operations: 50_000_000,
            call_levels: 64,
            expr_depth: 64,
            string_size: 16 * 1024 * 1024,
            array_size: 1_000_000,
            map_size: 1_000_000,
        }
    }
}

/// Where `import` may look: the stdlib directory (when there is one; else
/// the embedded stdlib comes first), the script's directory, KLEENE_PATH.
pub fn module_roots(script_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = stdlib_dir().into_iter().collect();
    if let Some(d) = script_dir {
        roots.push(d.to_path_buf());
    }
    if let Some(p) = std::env::var_os("KLEENE_PATH") {
        roots.extend(std::env::split_paths(&p));
    }
    roots
}

/// A stdlib directory in place of the embedded modules: `KLEENE_STDLIB`,
/// else `<prefix>/share/kleene/stdlib` beside the executable's install
/// prefix; `None`: the modules compiled in (`stdlib.rs`).
pub fn stdlib_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KLEENE_STDLIB") {
        return Some(PathBuf::from(d));
    }
    let exe = std::env::current_exe().ok()?;
    let installed = exe.parent()?.parent()?.join("share/kleene/stdlib");
    installed.is_dir().then_some(installed)
}

/// A Rhai engine with the kleene modules, limits and resolver.
pub fn new_engine(limits: Limits, script_dir: Option<&Path>) -> rhai::Engine {
    let mut e = rhai::Engine::new();
    e.set_max_operations(limits.operations)
        .set_max_call_levels(limits.call_levels)
        .set_max_expr_depths(limits.expr_depth, limits.expr_depth)
        .set_max_string_size(limits.string_size)
        .set_max_array_size(limits.array_size)
        .set_max_map_size(limits.map_size)
        .set_max_modules(256);
    e.set_module_resolver(resolver::Confined::new(
        module_roots(script_dir),
        stdlib_dir().is_none(),
    ));
    // Rhai's own print panics when standard output fails (`> /dev/full`).
    e.on_print(|s| crate::outln!("{s}"));
    image::register(&mut e);
    container::register(&mut e);
    volume::register(&mut e);
    network::register(&mut e);
    build::register(&mut e);
    system::register(&mut e);
    compose::register(&mut e);
    // exit(n) ends the script with that exit code (uncatchable); the code is
    // told apart from a script's final value by its type.
    e.register_fn("exit", |n: i64| -> RResult<()> {
        Err(EvalAltResult::Exit(Dynamic::from(ExitCode(n)), Position::NONE).into())
    });
    e.register_fn("exit", || -> RResult<()> {
        Err(EvalAltResult::Exit(Dynamic::from(ExitCode(0)), Position::NONE).into())
    });
    e.register_fn("sleep", |secs: f64| {
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)))
    });
    e.register_fn("sleep", |secs: i64| {
        std::thread::sleep(std::time::Duration::from_secs(secs.max(0) as u64))
    });
    e
}

/// The value `exit(n)` carries.
#[derive(Debug, Clone, Copy)]
struct ExitCode(i64);

/// Open the engine scripts will drive.
pub fn open(root: &Path) -> crate::engine::Result<()> {
    let k = Kleene::open(root)?;
    *KLEENE.lock().unwrap_or_else(|p| p.into_inner()) = Some(k);
    Ok(())
}

/// Run a script file with `args` in `ARGS`; returns the exit code: 0,
/// the value given to `exit(n)`, or 1 after printing the error.
pub fn run_file(path: &Path, args: &[String], limits: Limits) -> i32 {
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read script '{}': {e}", path.display());
            return 1;
        }
    };
    // A shebang line is blanked (keeping the line count for diagnostics).
    let body = match src.strip_prefix("#!") {
        Some(rest) => rest
            .find('\n')
            .map(|i| rest[i..].to_string())
            .unwrap_or_default(),
        None => src.clone(),
    };
    let dir = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    });
    run_source(&path.display().to_string(), &src, &body, dir, args, limits)
}

/// Run script text `body` (shown as `src`, named `name` in diagnostics;
/// `import` also looks in `dir`); returns the exit code as [`run_file`].
pub fn run_source(
    name: &str,
    src: &str,
    body: &str,
    dir: Option<&Path>,
    args: &[String],
    limits: Limits,
) -> i32 {
    run_source_as(name, src, body, dir, args, limits, Errors::Diagnostic)
}

/// How a script's error is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    /// A codespan diagnostic with every call site.
    Diagnostic,
    /// `error: MESSAGE` alone: for programs klee writes itself (the
    /// compose stack program), whose call sites mean nothing to the user.
    Message,
}

/// [`run_source`], telling an error as `errors` says.
pub fn run_source_as(
    name: &str,
    src: &str,
    body: &str,
    dir: Option<&Path>,
    args: &[String],
    limits: Limits,
    errors: Errors,
) -> i32 {
    let engine = new_engine(limits, dir);
    let name = name.to_string();
    let src = src.to_string();
    let body = body.to_string();
    let mut ast = match engine.compile(&body) {
        Ok(a) => a,
        Err(e) => {
            eprint!(
                "{}",
                diagnostic::render(&name, &src, &EvalAltResult::from(e))
            );
            return 1;
        }
    };
    ast.set_source(name.clone());
    let mut scope = Scope::new();
    let argv: rhai::Array = args.iter().map(|a| Dynamic::from(a.clone())).collect();
    scope.push_constant("ARGS", argv);
    match engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast) {
        Ok(v) => v.try_cast::<ExitCode>().map(|c| c.0 as i32).unwrap_or(0),
        Err(err) => {
            if std::env::var_os("KLEENE_DEBUG_SCRIPT").is_some() {
                eprintln!("{err:?}");
            }
            match errors {
                Errors::Message if std::env::var_os("KLEENE_DEBUG_SCRIPT").is_none() => {
                    eprintln!("error: {}", diagnostic::message_of(&err))
                }
                _ => eprint!("{}", diagnostic::render(&name, &src, &err)),
            }
            1
        }
    }
}
