//! The normalized project as a Rhai program over the stdlib's `stack`
//! (what `klee compose translate` prints and every `klee compose` command
//! runs), and as YAML (`klee compose config`).

use serde_json::Value;

use super::model::Project;

/// `v` as a Rhai literal (maps `#{…}`, arrays, strings, numbers, `()`).
pub fn literal(v: &Value, indent: usize) -> String {
    let pad = "    ".repeat(indent + 1);
    let end = "    ".repeat(indent);
    match v {
        Value::Null => "()".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            format!(
                "[{}]",
                a.iter()
                    .map(|x| literal(x, indent))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Value::Array(a) => format!(
            "[\n{}\n{end}]",
            a.iter()
                .map(|x| format!("{pad}{}", literal(x, indent + 1)))
                .collect::<Vec<_>>()
                .join(",\n")
        ),
        Value::Object(m) if m.is_empty() => "#{}".into(),
        Value::Object(m) => format!(
            "#{{\n{}\n{end}}}",
            m.iter()
                .map(|(k, x)| format!("{pad}{}: {}", key(k), literal(x, indent + 1)))
                .collect::<Vec<_>>()
                .join(",\n")
        ),
    }
}

fn string(s: &str) -> String {
    crate::dsl::translate::rhai_string(s)
}

/// Words Rhai reserves, which cannot be bare map keys.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "let",
    "const",
    "if",
    "else",
    "switch",
    "do",
    "while",
    "until",
    "loop",
    "for",
    "in",
    "continue",
    "break",
    "return",
    "throw",
    "try",
    "catch",
    "import",
    "export",
    "as",
    "global",
    "private",
    "fn",
    "this",
    "default",
    "case",
    "public",
    "protected",
    "super",
    "new",
    "use",
    "module",
    "package",
    "var",
    "static",
    "shared",
    "with",
    "each",
    "then",
    "goto",
    "exit",
    "match",
    "async",
    "await",
    "yield",
    "spawn",
    "thread",
    "go",
    "sync",
    "Fn",
    "call",
    "curry",
    "type_of",
    "print",
    "debug",
    "eval",
    "is_def_fn",
    "is_def_var",
    "is_shared",
    "void",
    "null",
    "nil",
    "function",
    "macro",
    "include",
    "unset",
];

/// A map key: bare when it is an identifier Rhai does not reserve, else
/// quoted.
fn key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&k);
    if ident {
        k.to_string()
    } else {
        string(k)
    }
}

/// The program that does `call` (e.g. `stack::up(project, #{})`) on
/// `project`, read from `files`.
pub fn program(project: &Project, files: &[String], call: &str) -> String {
    let model = serde_json::to_value(project).expect("serialisable");
    format!(
        "// {} as a kleene script (klee compose translate); run it with\n\
         // `klee script FILE`: the same as `klee compose up`.\n\
         import \"stack\" as stack;\n\n\
         let project = {};\n\n\
         {call};\n",
        files.join(", "),
        literal(&model, 0)
    )
}

/// `project` as YAML, for `klee compose config`.
pub fn yaml(project: &Project) -> String {
    let model = serde_json::to_value(project).expect("serialisable");
    let mut out = String::new();
    let mut e = yaml_rust2::YamlEmitter::new(&mut out);
    let _ = e.dump(&to_yaml(&model));
    out.trim_start_matches("---\n").to_string() + "\n"
}

fn to_yaml(v: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => n
            .as_i64()
            .map(Yaml::Integer)
            .unwrap_or_else(|| Yaml::Real(n.to_string())),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(a) => Yaml::Array(a.iter().map(to_yaml).collect()),
        Value::Object(m) => Yaml::Hash(
            m.iter()
                .map(|(k, x)| (Yaml::String(k.clone()), to_yaml(x)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_rhai_reads_back() {
        let v = serde_json::json!({"name": "p", "a-b": [1, "x\"y\n\u{1}"], "m": {"k": true, "n": null, "default": 1, "fn": 2}});
        let text = literal(&v, 0);
        let e = rhai::Engine::new();
        let back: rhai::Map = e.eval(&text).unwrap();
        assert_eq!(back["name"].clone().into_string().unwrap(), "p");
        let arr = back["a-b"].clone().into_array().unwrap();
        assert_eq!(arr[1].clone().into_string().unwrap(), "x\"y\n\u{1}");
        assert!(back["m"].clone().cast::<rhai::Map>()["n"].is_unit());
    }
}
