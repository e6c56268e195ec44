//! `wait::…`: block until a container reaches a state.

use rhai::plugin::*;

use super::container::{health_of, ContainerH};
use super::{fail, RResult};

#[export_module]
pub mod api {
    use super::*;

    /// Wait until the container's health check finds it healthy (at most
    /// 60 seconds). An error if it becomes unhealthy first, stops, has no
    /// health check, or the time runs out.
    ///
    /// ```rhai
    /// let web = container::run("web", [], #{detach: true});
    /// wait::healthy(web);
    /// ```
    #[rhai_fn(global, name = "healthy", return_raw)]
    pub fn healthy(ctx: NativeCallContext, c: ContainerH) -> RResult<()> {
        healthy_within(ctx, c, 60)
    }

    /// `wait::healthy(c)` with a limit of `seconds`.
    ///
    /// ```rhai
    /// wait::healthy(container::get("db"), 120);
    /// ```
    #[rhai_fn(global, name = "healthy", return_raw)]
    pub fn healthy_within(ctx: NativeCallContext, c: ContainerH, seconds: i64) -> RResult<()> {
        crate::dsl::here(&ctx, until_healthy(&c, seconds))
    }
}

fn until_healthy(c: &ContainerH, seconds: i64) -> RResult<()> {
    if seconds < 0 {
        return fail(
            "invalid",
            format!("invalid timeout '{seconds}': expected seconds >= 0"),
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds as u64);
    let name = super::with(|e| e.container(&c.id)).map(|x| x.name)?;
    let has_check = super::with(|e| e.container(&c.id)).map(|x| x.healthcheck.is_some())?;
    if !has_check {
        return fail(
            "state",
            format!("container '{name}' has no health check (HEALTHCHECK or health_cmd)"),
        );
    }
    loop {
        match health_of(&c.id)?.as_str() {
            "healthy" => return Ok(()),
            "unhealthy" => return fail("state", format!("container '{name}' is unhealthy")),
            "" if !super::with(|e| e.container(&c.id)).map(|x| x.status.is_running())? => {
                return fail("state", format!("container '{name}' is not running"))
            }
            _ => {}
        }
        if std::time::Instant::now() >= deadline {
            return fail(
                "timeout",
                format!("container '{name}' was not healthy within {seconds} s"),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_static_module("wait", rhai::exported_module!(api).into());
}
