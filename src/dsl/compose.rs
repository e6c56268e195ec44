//! `compose::load`: a compose project as the normalized map `stack`
//! takes (the same `klee compose config` prints).

use rhai::plugin::*;
use rhai::{Dynamic, NativeCallContext};

use super::{fail, RResult};

#[export_module]
pub mod api {
    use super::*;

    /// Load compose file `path` (with its `.env` and this process's
    /// environment for interpolation) as the normalized model: a map of
    /// `name`, `services`, `networks`, `volumes`, ready for `stack::up`.
    /// Errors name the file, line and column.
    ///
    /// ```rhai
    /// import "stack" as stack;
    /// let p = compose::load("compose.yaml");
    /// print(p.services.keys());
    /// stack::up(p, #{});
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load(ctx: NativeCallContext, path: &str) -> RResult<Dynamic> {
        let opts = crate::compose::LoadOptions {
            files: vec![path.into()],
            project_name: None,
            dir: std::env::current_dir().unwrap_or_default(),
            env: crate::compose::load::process_env(),
        };
        let loaded = crate::compose::load(&opts).or_else(|e| {
            let place = e.location().map(|l| format!("{l}: ")).unwrap_or_default();
            crate::dsl::here(&ctx, fail("invalid", format!("{place}{}", e.message)))
        })?;
        rhai::serde::to_dynamic(&loaded.project)
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_static_module("compose", rhai::exported_module!(api).into());
}
