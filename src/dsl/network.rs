//! `network::…`: networks and connections, the same on Linux (bridges,
//! veths, nftables) and FreeBSD (ifconfig, jail parameters, pf); see
//! docs/networking.md.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};

use super::image::{opt_bool, opt_str};
use super::{with, RResult};
use crate::engine::network::NetworkConfig;

fn to_map<T: serde::Serialize>(v: &T) -> RResult<Dynamic> {
    rhai::serde::to_dynamic(v)
}

#[export_module]
pub mod api {
    use super::*;

    /// Create a network. Options as `klee network create`: `type`
    /// (loopback, bridge, custom), `interface`, `subnet`, `subnet6`,
    /// `gateway`, `gateway6` (an address or `"<auto>"`), `nat` (true, false
    /// or an interface), `icc`, `internal`. Returns the network as a map.
    ///
    /// ```rhai
    /// let net = network::create("backend", #{type: "bridge", subnet: "10.2.0.0/24", gateway: "<auto>"});
    /// print(net.interface);   // kleene0
    /// ```
    #[rhai_fn(return_raw)]
    pub fn create(ctx: NativeCallContext, name: &str, opts: Map) -> RResult<Dynamic> {
        crate::dsl::here(
            &ctx,
            (|| {
                let nat = match opts.get("nat") {
                    None => None,
                    Some(v) if v.is_bool() => {
                        if v.as_bool().unwrap_or(true) {
                            None
                        } else {
                            Some(String::new())
                        }
                    }
                    Some(v) => Some(v.to_string()),
                };
                let cfg = NetworkConfig {
                    name: name.to_string(),
                    kind: opt_str(&opts, "type")?.unwrap_or_else(|| "loopback".into()),
                    interface: opt_str(&opts, "interface")?.unwrap_or_default(),
                    subnet: opt_str(&opts, "subnet")?.unwrap_or_default(),
                    subnet6: opt_str(&opts, "subnet6")?.unwrap_or_default(),
                    gateway: opt_str(&opts, "gateway")?.unwrap_or_default(),
                    gateway6: opt_str(&opts, "gateway6")?.unwrap_or_default(),
                    nat,
                    icc: opt_bool(&opts, "icc", true)?,
                    internal: opt_bool(&opts, "internal", false)?,
                };
                let n = with(|e| e.network_create(&cfg))?;
                to_map(&n)
            })(),
        )
    }

    /// The host route `subnet` overlaps (`"10.89.0.0/24 dev kleene3"`), or
    /// `""`: whether the host already uses the range (another program's or
    /// another kleene root's network), before picking it as a free one.
    ///
    /// ```rhai
    /// if network::host_route("10.89.0.0/24") == "" { network::create("app", #{type: "bridge", subnet: "10.89.0.0/24"}); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn host_route(ctx: NativeCallContext, subnet: &str) -> RResult<String> {
        crate::dsl::here(
            &ctx,
            with(|e| e.subnet_routed(subnet)).map(Option::unwrap_or_default),
        )
    }

    /// All networks, by name.
    ///
    /// ```rhai
    /// for n in network::list() { print(n.name); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn list(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| e.networks())?
                    .iter()
                    .map(to_map)
                    .collect::<RResult<Array>>()
            })(),
        )
    }

    /// Look a network up by name, ID or unique ID prefix.
    ///
    /// ```rhai
    /// let n = network::get("backend");
    /// print(n.subnet);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(ctx: NativeCallContext, ident: &str) -> RResult<Dynamic> {
        crate::dsl::here(&ctx, (|| to_map(&with(|e| e.network(ident))?))())
    }

    /// Remove a network (its containers are disconnected). Returns its ID.
    ///
    /// ```rhai
    /// network::remove("backend");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn remove(ctx: NativeCallContext, ident: &str) -> RResult<String> {
        crate::dsl::here(&ctx, with(|e| e.network_remove(ident)).map(|n| n.id))
    }

    /// Remove networks without containers; returns their IDs.
    ///
    /// ```rhai
    /// network::prune();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn prune(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            with(|e| e.network_prune()).map(|v| v.into_iter().map(Dynamic::from).collect()),
        )
    }

    /// Connect a container to a network with allocated addresses (IPv4, and
    /// IPv6 when the network has an IPv6 subnet); returns
    /// the endpoint (`#{ip_address, ip_address6, …}`).
    ///
    /// ```rhai
    /// let ep = network::connect("backend", "web");
    /// print(ep.ip_address);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn connect(ctx: NativeCallContext, network: &str, container: &str) -> RResult<Dynamic> {
        crate::dsl::here(
            &ctx,
            (|| {
                to_map(&with(|e| {
                    e.network_connect(network, container, "<auto>", "<auto>")
                })?)
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
        crate::dsl::here(&ctx, with(|e| e.network_disconnect(network, container)))
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_static_module("network", rhai::exported_module!(api).into());
}
