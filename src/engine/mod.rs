//! The engine: objects, their rules, and the store. It never calls the OS
//! directly; everything OS-specific goes through [`crate::platform::Platform`].

pub mod build;
pub mod check;
pub mod container;
pub mod control;
pub mod copy;
pub mod endpoint;
pub mod error;
pub mod exec;
mod firewall;
pub mod health;
mod hosts;
pub mod id;
pub mod image;
pub mod image_create;
pub mod info;
pub mod ipnet;
pub mod jail_params;
mod lease;
pub mod lifecycle;
pub mod limits;
mod lock;
pub mod logtimes;
pub mod manifest;
pub mod mount;
mod names;
pub mod network;
pub mod ports;
pub mod reference;
pub mod registry;
pub mod security;
pub mod signal;
pub mod status;
pub mod store;
pub mod system;
pub mod time;
pub mod update;
pub mod volume;

use std::path::{Path, PathBuf};

pub use container::{Container, ContainerConfig, MountConfig, RestartPolicy, Status};
pub use error::{Error, Result};
pub use image::Image;
pub use volume::Volume;

use crate::platform::{self, Platform};
use store::Store;

pub use crate::platform::DEFAULT_ROOT;

pub struct Engine {
    root: PathBuf,
    store: Store,
    platform: &'static dyn Platform,
}

impl Engine {
    /// Open the engine on `root`, creating its layout and store if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Engine> {
        Engine::open_on(root, platform::native())
    }

    /// Open the engine on another platform (the FreeBSD back end on a
    /// recording runner, in golden tests).
    pub fn open_on(root: impl Into<PathBuf>, platform: &'static dyn Platform) -> Result<Engine> {
        let root = root.into();
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("cannot resolve root", &root, e))?
                .join(root)
        };
        if !root.join("metadata.sqlite").exists() {
            platform.prepare_root(&root)?;
        }
        let store = Store::open(&root)?;
        Ok(Engine {
            root,
            store,
            platform,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn platform(&self) -> &'static dyn Platform {
        self.platform
    }

    /// Run `f` (which forks) with the store closed, then reopen it. The child
    /// opens its own connection with [`Engine::reopen_store`]: SQLite's lock
    /// state is per process and must never be inherited through a fork.
    pub(crate) fn with_store_closed<T>(&mut self, f: impl FnOnce(&mut Engine) -> T) -> Result<T> {
        let path = self.store.path().to_path_buf();
        self.store = Store::detached(&path)?;
        let out = f(self);
        self.reopen_store()?;
        Ok(out)
    }

    pub(crate) fn reopen_store(&mut self) -> Result<()> {
        self.store = Store::open(&self.root)?;
        Ok(())
    }
}
