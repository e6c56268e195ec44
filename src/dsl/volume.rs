//! `volume::…`: named storage for containers; the `Volume` handle.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use rhai::plugin::*;
use rhai::{Array, Dynamic};

use super::{with, RResult};

/// A volume.
#[derive(Debug, Clone)]
pub struct VolumeH(pub crate::engine::Volume);

#[export_module]
pub mod api {
    use super::*;

    /// Create a volume (an existing one is returned as it is).
    ///
    /// ```rhai
    /// let data = volume::create("data");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn create(ctx: NativeCallContext, name: &str) -> RResult<VolumeH> {
        crate::dsl::here(&ctx, with(|e| e.volume_create(name)).map(VolumeH))
    }
    /// All volumes, newest first.
    ///
    /// ```rhai
    /// for v in volume::list() { print(v.name); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn list(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| e.volumes())
                    .map(|v| v.into_iter().map(|x| Dynamic::from(VolumeH(x))).collect())
            })(),
        )
    }
    /// Look a volume up by name.
    ///
    /// ```rhai
    /// let v = volume::get("data");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(ctx: NativeCallContext, name: &str) -> RResult<VolumeH> {
        crate::dsl::here(&ctx, with(|e| e.volume(name)).map(VolumeH))
    }
    /// Remove a volume; refused while a container uses it.
    ///
    /// ```rhai
    /// volume::remove("data");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn remove(ctx: NativeCallContext, name: &str) -> RResult<String> {
        crate::dsl::here(&ctx, with(|e| e.volume_remove(name)).map(|v| v.name))
    }
    /// Remove every volume no container uses; returns their names.
    ///
    /// ```rhai
    /// let gone = volume::prune();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn prune(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            with(|e| e.volume_prune()).map(|v| v.into_iter().map(Dynamic::from).collect()),
        )
    }
    /// The volume's name.
    #[rhai_fn(global, get = "name", pure)]
    pub fn name(v: &mut VolumeH) -> String {
        v.0.name.clone()
    }
    /// Where its files are on the host.
    #[rhai_fn(global, get = "mountpoint", pure)]
    pub fn mountpoint(v: &mut VolumeH) -> String {
        v.0.mountpoint.clone()
    }
    /// When it was created.
    #[rhai_fn(global, get = "created", pure)]
    pub fn created(v: &mut VolumeH) -> String {
        v.0.created.clone()
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_type_with_name::<VolumeH>("Volume");
    e.register_static_module("volume", rhai::exported_module!(api).into());
}
