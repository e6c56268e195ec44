//! Documentation of the DSL from the engine's own function metadata: the
//! REPL's `help(name)` and completion, and `docs/dsl.md`.

use std::collections::BTreeMap;

/// One documented function.
#[derive(Debug, Clone)]
pub struct FnDoc {
    /// `image`, `container`, … or `None` for methods and global functions.
    pub module: Option<String>,
    pub name: String,
    /// A readable signature, e.g. `image::get(ident: String) -> Image`.
    pub signature: String,
    pub doc: String,
    /// A property getter (`c.status`).
    pub getter: bool,
}

impl FnDoc {
    pub fn qualified(&self) -> String {
        match &self.module {
            Some(m) => format!("{m}::{}", self.name),
            None => self.name.clone(),
        }
    }
}

fn pretty_type(t: &str) -> String {
    let t = t.trim();
    let t = t
        .strip_prefix("&mut ")
        .or_else(|| t.strip_prefix('&'))
        .unwrap_or(t);
    if let Some(inner) = t.strip_prefix("RResult<").and_then(|x| x.strip_suffix('>')) {
        return pretty_type(inner);
    }
    if t.starts_with("core::result::Result<()") || t.starts_with("Result<()") {
        return "()".into();
    }
    match t {
        "str" | "String" => "String".into(),
        "ImageH" => "Image".into(),
        "ContainerH" => "Container".into(),
        "VolumeH" => "Volume".into(),
        "BuildH" => "Build".into(),
        "i64" => "int".into(),
        "f64" => "float".into(),
        other => other.rsplit("::").next().unwrap_or(other).to_string(),
    }
}

fn doc_text(comments: &serde_json::Value) -> String {
    comments
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str())
                .flat_map(|c| c.lines())
                .map(|l| {
                    l.trim_start()
                        .strip_prefix("///")
                        .map(|r| r.strip_prefix(' ').unwrap_or(r))
                        .unwrap_or(l)
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn entry(module: Option<&str>, f: &serde_json::Value) -> Option<FnDoc> {
    let raw = f["name"].as_str()?;
    let doc = doc_text(&f["docComments"]);
    let (getter, name) = match raw.strip_prefix("get$") {
        Some(p) => (true, p.to_string()),
        None => (false, raw.to_string()),
    };
    let params: Vec<(String, String)> = f["params"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("_").to_string(),
                        pretty_type(p["type"].as_str().unwrap_or("?")),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let ret = pretty_type(f["returnType"].as_str().unwrap_or("()"));
    let is_method = module.is_none() || f["namespace"].as_str() == Some("global");
    let (module, signature) = if getter {
        let on = params.first().map(|p| p.1.clone()).unwrap_or_default();
        (None, format!("{on}.{name} -> {ret}"))
    } else if is_method
        && module.is_some()
        && !params.is_empty()
        && ["Image", "Container", "Volume", "Build"].contains(&params[0].1.as_str())
    {
        let rest: Vec<String> = params[1..]
            .iter()
            .map(|(n, t)| format!("{n}: {t}"))
            .collect();
        (
            None,
            format!("{}.{name}({}) -> {ret}", params[0].1, rest.join(", ")),
        )
    } else {
        let ps: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        let prefix = module.map(|m| format!("{m}::")).unwrap_or_default();
        (
            module.map(str::to_string),
            format!("{prefix}{name}({}) -> {ret}", ps.join(", ")),
        )
    };
    Some(FnDoc {
        module,
        name,
        signature,
        doc,
        getter,
    })
}

/// Every documented kleene function of `engine` (Rhai's own standard
/// library is left out), in a stable order.
pub fn collect(engine: &rhai::Engine) -> Vec<FnDoc> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(mods) = v["modules"].as_object() {
        for (m, body) in mods {
            for f in body["functions"].as_array().into_iter().flatten() {
                out.extend(entry(Some(m), f));
            }
        }
    }
    for f in v["functions"].as_array().into_iter().flatten() {
        out.extend(entry(None, f));
    }
    out.retain(|d| !d.doc.is_empty() || d.module.is_some());
    out.sort_by(|a, b| {
        (
            a.module.is_none(),
            a.module.clone(),
            a.getter,
            a.name.clone(),
            a.signature.clone(),
        )
            .cmp(&(
                b.module.is_none(),
                b.module.clone(),
                b.getter,
                b.name.clone(),
                b.signature.clone(),
            ))
    });
    out.dedup_by(|a, b| a.signature == b.signature);
    out
}

/// `help(name)`: the signatures and docs of everything called `name`
/// (`image::list`, `list`, `exec`, `status`).
pub fn help(engine: &rhai::Engine, name: &str) -> Option<String> {
    let docs: Vec<FnDoc> = collect(engine)
        .into_iter()
        .filter(|d| d.qualified() == name || d.name == name)
        .collect();
    if docs.is_empty() {
        return None;
    }
    Some(
        docs.iter()
            .map(|d| format!("{}\n{}\n", d.signature, indent(&d.doc)))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The DSL reference as Markdown (docs/dsl.md).
pub fn markdown(engine: &rhai::Engine) -> String {
    let mut by: BTreeMap<String, Vec<FnDoc>> = BTreeMap::new();
    for d in collect(engine) {
        let section = match (&d.module, d.signature.split_once('.')) {
            (Some(m), _) => format!("module `{m}`"),
            (None, Some((ty, _))) if !ty.contains('(') => format!("type `{ty}`"),
            _ => "global functions".to_string(),
        };
        by.entry(section).or_default().push(d);
    }
    let mut out = String::from(
        "# The kleene DSL (generated)\n\n\
         Generated from the engine's function metadata by `klee dsl-docs`; a test fails when\n\
         this file is stale. Scripts run with `klee script FILE [ARGS…]`; errors thrown by these\n\
         functions are maps `#{kind, message}` that `try { … } catch (e) { … }` can inspect.\n",
    );
    for (section, docs) in by {
        out.push_str(&format!("\n## {section}\n"));
        for d in docs {
            out.push_str(&format!("\n### `{}`\n\n", d.signature));
            if !d.doc.is_empty() {
                out.push_str(&d.doc);
                out.push('\n');
            }
        }
    }
    out
}
