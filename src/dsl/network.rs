//! `network::…`: the script API networks will have. Linux networking is
//! issue #6; until it lands every call fails with a catchable
//! `unsupported` error, so scripts can be written against the final API.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use rhai::plugin::*;
use rhai::{Array, Map};

use super::{fail, RResult};

const WHY: &str = "networks are not supported on Linux yet (containers have loopback only)";

#[export_module]
pub mod api {
    use super::*;

    /// Create a network. Options as `klee network create`: `type`,
    /// `subnet`, `subnet6`, `gateway`, `nat`, `icc`, `internal`.
    ///
    /// ```rhai
    /// try { network::create("backend", #{type: "bridge", subnet: "10.2.0.0/24"}); }
    /// catch (e) { print(e.kind); }   // "unsupported" until networking lands
    /// ```
    #[rhai_fn(return_raw)]
    pub fn create(ctx: NativeCallContext, name: &str, opts: Map) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let _ = (name, opts);
                fail("unsupported", WHY)
            })(),
        )
    }
    /// All networks.
    ///
    /// ```rhai
    /// let nets = network::list();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn list(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(&ctx, fail("unsupported", WHY))
    }
    /// Look a network up.
    ///
    /// ```rhai
    /// let n = network::get("backend");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(ctx: NativeCallContext, ident: &str) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let _ = ident;
                fail("unsupported", WHY)
            })(),
        )
    }
    /// Remove a network.
    ///
    /// ```rhai
    /// network::remove("backend");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn remove(ctx: NativeCallContext, ident: &str) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let _ = ident;
                fail("unsupported", WHY)
            })(),
        )
    }
    /// Remove networks without containers.
    ///
    /// ```rhai
    /// network::prune();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn prune(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(&ctx, fail("unsupported", WHY))
    }
    /// Connect a container to a network.
    ///
    /// ```rhai
    /// network::connect("backend", "web");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn connect(ctx: NativeCallContext, network: &str, container: &str) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let _ = (network, container);
                fail("unsupported", WHY)
            })(),
        )
    }
    /// Disconnect a container from a network.
    ///
    /// ```rhai
    /// network::disconnect("backend", "web");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn disconnect(ctx: NativeCallContext, network: &str, container: &str) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let _ = (network, container);
                fail("unsupported", WHY)
            })(),
        )
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_static_module("network", rhai::exported_module!(api).into());
}
