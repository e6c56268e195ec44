//! `klee script FILE [ARGS…]`: run a Rhai script on the engine.

use std::path::PathBuf;

use clap::Args;

use crate::dsl::{self, Limits};

#[derive(Args, Debug)]
pub struct ScriptArgs {
    /// Stop the script after this many operations (0: no limit)
    #[arg(long, default_value_t = Limits::default().operations)]
    max_operations: u64,
    /// Maximum depth of function calls
    #[arg(long, default_value_t = Limits::default().call_levels)]
    max_call_depth: usize,
    /// Maximum nesting of expressions
    #[arg(long, default_value_t = Limits::default().expr_depth)]
    max_expr_depth: usize,
    /// Maximum length of a string, in bytes
    #[arg(long, default_value_t = Limits::default().string_size)]
    max_string_size: usize,
    /// Maximum number of elements of an array
    #[arg(long, default_value_t = Limits::default().array_size)]
    max_array_size: usize,
    /// Maximum number of entries of a map
    #[arg(long, default_value_t = Limits::default().map_size)]
    max_map_size: usize,
    /// The script (a shebang line `#!/usr/bin/env -S klee script` is allowed)
    file: PathBuf,
    /// Arguments, available to the script as ARGS
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(root: &std::path::Path, a: ScriptArgs) -> i32 {
    if let Err(e) = dsl::open(root) {
        eprintln!("error: {e}");
        return 1;
    }
    let limits = Limits {
        operations: a.max_operations,
        call_levels: a.max_call_depth,
        expr_depth: a.max_expr_depth,
        string_size: a.max_string_size,
        array_size: a.max_array_size,
        map_size: a.max_map_size,
    };
    dsl::run_file(&a.file, &a.args, limits)
}
