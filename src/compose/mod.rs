//! Compose: `compose.yaml` projects run on the engine's primitives. The
//! files are read, interpolated, merged and checked here, in Rust, into
//! one normalized [`model::Project`]; what runs it is the stdlib's
//! `stack.rhai`, through the same interpreter as any script, so `klee
//! compose up` and the script `klee compose translate` prints are the
//! same program (see docs/compose.md).

pub mod convert;
pub mod interpolate;
pub mod keys;
pub mod load;
pub mod model;
pub mod script;
pub mod yaml;

pub use load::{load, ComposeError, LoadOptions, Loaded};
