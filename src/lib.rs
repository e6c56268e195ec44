//! kleene: a container engine with Docker's model, for FreeBSD jails and
//! Linux namespaces. See DESIGN.md in the repository for the architecture.

pub mod api;
pub mod cli;
pub mod compose;
pub mod dockerfile;
pub mod dsl;
pub mod engine;
pub mod oci;
pub mod platform;
pub mod stdout;
