//! `klee ps` (`container ls`): Docker's options — `-q`, `--filter`,
//! `--no-trunc`, `-n`/`-l`, and `--format table|json|TEMPLATE` with Go-template
//! style placeholders (`{{.ID}}\t{{.Names}}`).

use clap::Args;

use super::{render, CmdResult, Outcome};
use crate::engine::{time, Container, Engine, Error, Status};

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all containers, not only running ones
    #[arg(short, long)]
    all: bool,
    /// Only print container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Filter: status=created|running|exited|removing, name=TEXT, id=PREFIX, ancestor=IMAGE, exited=CODE, network=NAME, label=KEY[=VALUE] (repeatable; all must hold)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Do not shorten the command
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Show the N most recently created containers (all states)
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<usize>,
    /// Show the most recently created container (all states)
    #[arg(short, long)]
    latest: bool,
    /// table, json, or a template such as '{{.ID}}\t{{.Names}}' (fields: ID Names Image Command CreatedAt RunningFor Status State Ports Networks)
    #[arg(long, default_value = "table")]
    format: String,
}

/// What a filter asks for.
struct Filter {
    key: String,
    value: String,
}

fn filters(specs: &[String]) -> Result<Vec<Filter>, Error> {
    specs
        .iter()
        .map(|f| {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Error::invalid("filter", f, "expected KEY=VALUE, e.g. status=running")
            })?;
            match k {
                "status" if !matches!(v, "created" | "running" | "exited" | "removing") => {
                    Err(Error::invalid(
                        "filter",
                        f,
                        "status is one of created, running, exited, removing",
                    ))
                }
                "exited" if v.parse::<i32>().is_err() => {
                    Err(Error::invalid("filter", f, "exited takes an exit code"))
                }
                "health" if !["starting", "healthy", "unhealthy", "none"].contains(&v) => {
                    Err(Error::invalid(
                        "filter",
                        f,
                        "health is one of starting, healthy, unhealthy, none",
                    ))
                }
                "status" | "name" | "id" | "ancestor" | "exited" | "network" | "label"
                | "health" => Ok(Filter {
                    key: k.into(),
                    value: v.into(),
                }),
                _ => Err(Error::invalid(
                    "filter",
                    f,
                    "known keys: status, name, id, ancestor, exited, network, label, health",
                )),
            }
        })
        .collect()
}

fn state(c: &Container) -> &'static str {
    match c.status {
        Status::Created => "created",
        Status::Running { .. } => "running",
        Status::Exited { .. } => "exited",
        Status::Removing => "removing",
    }
}

/// `8080->80/tcp`, `127.0.0.1:8090-8091->80-81/tcp`, as Docker's PORTS.
fn ports_column(p: &crate::engine::ports::PublishedPort) -> String {
    let place = p
        .places()
        .first()
        .map(|a| format!("{a}:"))
        .unwrap_or_default();
    let (host, inside) = p.spans();
    format!("{place}{host}->{inside}/{}", p.protocol)
}

/// One container's fields, by the names Docker's templates use.
struct Row {
    fields: Vec<(&'static str, String)>,
}

impl Row {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Fill `{{.Field}}` placeholders; `\t` and `\n` as escapes.
fn fill(template: &str, row: &Row) -> Result<String, Error> {
    let t = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find("}}")
            .ok_or_else(|| Error::invalid("format", template, "an unclosed {{"))?;
        let name = rest[i + 2..i + j].trim().trim_start_matches('.');
        let v = row.get(name).ok_or_else(|| {
            Error::invalid(
                "format",
                template,
                format!("no field '{name}' (ID, Names, Image, Command, CreatedAt, RunningFor, Status, State, Ports, Networks)"),
            )
        })?;
        out.push_str(v);
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

pub fn ls(e: &mut Engine, a: LsArgs) -> CmdResult {
    let filters = filters(&a.filter)?;
    // A filter on the state (status=exited) looks at every container, as Docker.
    let everything = a.all
        || a.last.is_some()
        || a.latest
        || filters
            .iter()
            .any(|f| f.key == "status" || f.key == "exited");
    let mut list = e.containers(everything)?;
    if a.latest {
        list.truncate(1);
    } else if let Some(n) = a.last {
        list.truncate(n);
    }
    let images = e.images()?;
    let networks = e.networks()?;
    let endpoints = e.endpoints()?;
    let nets_of = |c: &Container| -> Vec<String> {
        endpoints
            .iter()
            .filter(|ep| ep.container_id == c.id)
            .filter_map(|ep| networks.iter().find(|n| n.id == ep.network_id))
            .map(|n| n.name.clone())
            .collect()
    };
    let image_of = |c: &Container| {
        images
            .iter()
            .find(|i| i.id == c.image_id)
            .map(|i| i.display())
            .unwrap_or_else(|| c.image_id.clone())
    };
    list.retain(|c| {
        filters.iter().all(|f| match f.key.as_str() {
            "status" => state(c) == f.value,
            "name" => c.name.contains(&f.value),
            "id" => c.id.starts_with(&f.value),
            "ancestor" => {
                c.image_id.starts_with(&f.value)
                    || image_of(c) == f.value
                    || image_of(c) == format!("{}:latest", f.value)
            }
            "exited" => {
                matches!(c.status, Status::Exited { code: Some(x), .. } if x.to_string() == f.value)
            }
            "network" => nets_of(c).contains(&f.value),
            "health" => health_of(c) == f.value,
            "label" => match f.value.split_once('=') {
                Some((k, v)) => c.labels.get(k).is_some_and(|x| x == v),
                None => c.labels.contains_key(&f.value),
            },
            _ => false,
        })
    });
    if a.quiet {
        for c in &list {
            crate::outln!("{}", c.id);
        }
        return Ok(Outcome::Ok);
    }
    if a.format == "json" {
        render::json(&list);
        return Ok(Outcome::Ok);
    }
    let width = if a.no_trunc { usize::MAX } else { 30 };
    let rows: Vec<Row> = list
        .iter()
        .map(|c| Row {
            fields: vec![
                ("ID", c.id.clone()),
                ("Names", c.name.clone()),
                ("Image", image_of(c)),
                ("Command", render::command(&c.cmd, width)),
                ("CreatedAt", c.created.clone()),
                ("RunningFor", time::human_since(&c.created)),
                ("Status", status_column(c)),
                ("State", state(c).to_string()),
                (
                    "Ports",
                    c.public_ports
                        .iter()
                        .map(ports_column)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ("Networks", nets_of(c).join(",")),
            ],
        })
        .collect();
    if a.format == "table" || a.format.is_empty() {
        let header = [
            "CONTAINER ID",
            "NAME",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
        ];
        let keys = ["ID", "Names", "Image", "Command", "RunningFor", "Status"];
        render::table(
            &header,
            rows.iter()
                .map(|r| {
                    keys.iter()
                        .map(|k| r.get(k).unwrap_or("").to_string())
                        .collect()
                })
                .collect(),
        );
        return Ok(Outcome::Ok);
    }
    // `table {{...}}`: a header row from the field names, as Docker.
    let (template, header) = match a.format.strip_prefix("table ") {
        Some(t) => (t.to_string(), true),
        None => (a.format.clone(), false),
    };
    if header {
        let names = Row {
            fields: rows
                .first()
                .map(|r| {
                    r.fields
                        .iter()
                        .map(|(k, _)| (*k, k.to_ascii_uppercase()))
                        .collect()
                })
                .unwrap_or_else(|| {
                    [
                        "ID",
                        "Names",
                        "Image",
                        "Command",
                        "CreatedAt",
                        "RunningFor",
                        "Status",
                        "State",
                        "Ports",
                        "Networks",
                    ]
                    .iter()
                    .map(|k| (*k, k.to_ascii_uppercase()))
                    .collect()
                }),
        };
        crate::outln!("{}", fill(&template, &names)?);
    }
    for r in &rows {
        crate::outln!("{}", fill(&template, r)?);
    }
    Ok(Outcome::Ok)
}

/// `starting`, `healthy`, `unhealthy` while it runs with a health check;
/// `none` otherwise (Docker's filter values).
fn health_of(c: &crate::engine::Container) -> &'static str {
    c.health_status().map_or("none", |h| h.as_str())
}

/// The status, with the health of a running container (`running (healthy)`).
fn status_column(c: &crate::engine::Container) -> String {
    match health_of(c) {
        "none" => c.status.describe(),
        h => format!("{} ({h})", c.status.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_filters() {
        let r = Row {
            fields: vec![("ID", "abc".into()), ("Names", "web".into())],
        };
        assert_eq!(fill("{{.ID}}\\t{{ .Names }}", &r).unwrap(), "abc\tweb");
        let e = fill("{{.Nope}}", &r).unwrap_err().to_string();
        assert!(e.contains("no field 'Nope'"), "{e}");
        assert!(fill("{{.ID", &r).is_err());
        assert!(filters(&["status=running".into(), "name=we".into()]).is_ok());
        let e = filters(&["status=up".into()]).err().unwrap().to_string();
        assert!(e.contains("status is one of"), "{e}");
        assert!(filters(&["color=red".into()]).is_err());
        assert!(filters(&["nokey".into()]).is_err());
    }
}
