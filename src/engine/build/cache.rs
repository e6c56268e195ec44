//! The build cache: a step whose inputs hash the same reuses the layer it
//! made before. Keys chain: each step's key includes its parent's.

use std::io::Read;
use std::path::Path;

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::engine::error::Result;
use crate::engine::store::store_err;
use crate::engine::{time, Engine};

/// What a step's cache key is made of.
pub struct Key(Sha256);

impl Key {
    pub fn new(parent: &str) -> Key {
        let mut h = Sha256::new();
        h.update(parent.as_bytes());
        Key(h)
    }
    pub fn add(&mut self, part: &str) -> &mut Key {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part.as_bytes());
        self
    }
    /// Add a file tree's names, modes, owners, link targets and contents.
    pub fn add_tree(&mut self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path)?;
        self.add(&format!("{:o}:{}:{}", meta.mode(), meta.uid(), meta.gid()));
        if meta.file_type().is_symlink() {
            self.add(&std::fs::read_link(path)?.to_string_lossy());
        } else if meta.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path)?
                .flatten()
                .map(|e| e.file_name())
                .collect();
            names.sort();
            for n in names {
                self.add(&n.to_string_lossy());
                self.add_tree(&path.join(n))?;
            }
        } else if meta.is_file() {
            let mut f = std::fs::File::open(path)?;
            let mut buf = vec![0u8; 64 * 1024];
            self.0.update(meta.len().to_le_bytes());
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                self.0.update(&buf[..n]);
            }
        }
        Ok(())
    }
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Engine {
    /// The layer a step with this key made before: `Some("")` for a step
    /// that changed nothing, `None` on a miss (or if its layer is gone).
    pub(crate) fn cache_get(&mut self, key: &str) -> Result<Option<String>> {
        let layer: Option<String> = self.store.read(|c| {
            c.query_row("SELECT layer FROM build_cache WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })?;
        match layer {
            Some(l) if l.is_empty() || self.platform.layer_path(&self.root, &l).is_dir() => {
                Ok(Some(l))
            }
            Some(_) => {
                self.cache_forget_key(key)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Remember the layer a step made. A layer the entry named before (a
    /// `--no-cache` build replacing it) that nothing else uses goes.
    pub(crate) fn cache_put(&mut self, key: &str, layer: &str) -> Result<()> {
        let path = self.store.path().to_path_buf();
        let platform = self.platform;
        let victims = self.store.write(|tx| {
            let old: Option<String> = tx
                .query_row("SELECT layer FROM build_cache WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| store_err(&path, e))?;
            tx.execute(
                "INSERT OR REPLACE INTO build_cache (key, layer, created) VALUES (?1, ?2, ?3)",
                params![key, layer, time::now()],
            )
            .map_err(|e| store_err(&path, e))?;
            match old {
                Some(o) if !o.is_empty() && o != layer => {
                    let still: i64 = tx
                        .query_row(
                            "SELECT count(*) FROM build_cache WHERE layer = ?1",
                            [&o],
                            |r| r.get(0),
                        )
                        .map_err(|e| store_err(&path, e))?;
                    if still > 0 {
                        Ok(vec![])
                    } else {
                        crate::engine::lease::claim_unused_tx(tx, platform, &[o])
                    }
                }
                _ => Ok(vec![]),
            }
        })?;
        self.destroy_leased(&victims)
    }

    fn cache_forget_key(&mut self, key: &str) -> Result<()> {
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute("DELETE FROM build_cache WHERE key = ?1", [key])
                .map_err(|e| store_err(&path, e))
                .map(drop)
        })
    }

    /// Forget cache entries that point at `layer` (it is being removed).
    pub(crate) fn cache_forget_layer(&mut self, layer: &str) -> Result<()> {
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute("DELETE FROM build_cache WHERE layer = ?1", [layer])
                .map_err(|e| store_err(&path, e))
                .map(drop)
        })
    }
}
