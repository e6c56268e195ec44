//! `import` for scripts, confined to allowed roots: the stdlib directory,
//! the script's own directory and `KLEENE_PATH` entries. `..`, absolute
//! paths and symlinks that lead out of a root are refused.

use std::path::{Component, Path, PathBuf};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

type SharedModule = Shared<Module>;

pub struct Confined {
    roots: Vec<PathBuf>,
    /// The embedded stdlib is looked in first.
    embedded: bool,
}

/// Where a module was found.
enum Found {
    File(PathBuf),
    /// An embedded stdlib module: its source name and text.
    Embedded(String, &'static str),
}

impl Confined {
    pub fn new(roots: Vec<PathBuf>, embedded: bool) -> Confined {
        Confined {
            roots: roots
                .into_iter()
                .filter_map(|r| r.canonicalize().ok())
                .collect(),
            embedded,
        }
    }

    fn find(&self, path: &str, pos: Position) -> Result<Found, Box<EvalAltResult>> {
        let refuse = |why: &str| -> Box<EvalAltResult> {
            EvalAltResult::ErrorRuntime(
                crate::dsl::error_map("import", &format!("cannot import '{path}': {why}")),
                pos,
            )
            .into()
        };
        let p = Path::new(path);
        if p.is_absolute() {
            return Err(refuse("absolute paths are not allowed; import by a path relative to the stdlib, the script's directory or KLEENE_PATH"));
        }
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(refuse("'..' is not allowed in import paths"));
        }
        let file = if path.ends_with(".rhai") {
            path.to_string()
        } else {
            format!("{path}.rhai")
        };
        if self.embedded {
            if let Some((name, text)) = super::stdlib::module(&file) {
                return Ok(Found::Embedded(name, text));
            }
        }
        for root in &self.roots {
            let candidate = root.join(&file);
            if let Ok(real) = candidate.canonicalize() {
                if !real.starts_with(root) {
                    return Err(refuse(&format!(
                        "'{}' leads outside '{}'",
                        candidate.display(),
                        root.display()
                    )));
                }
                return Ok(Found::File(real));
            }
        }
        let mut roots: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        if self.embedded {
            roots.insert(0, "the stdlib".into());
        }
        Err(EvalAltResult::ErrorModuleNotFound(
            format!("{path} (searched {})", roots.join(", ")),
            pos,
        )
        .into())
    }
}

impl ModuleResolver for Confined {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let (name, compiled) = match self.find(path, pos)? {
            Found::File(file) => (file.display().to_string(), engine.compile_file(file)),
            Found::Embedded(name, text) => (name, engine.compile(text).map_err(Into::into)),
        };
        let mut ast =
            compiled.map_err(|e| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, pos)))?;
        ast.set_source(name.clone());
        let m = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(name, e, pos)))?;
        Ok(m.into())
    }
}
