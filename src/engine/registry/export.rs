//! A layer written out as a tar for `klee image save` (plain) and
//! `klee image push` (gzip): the very tar it was pulled or loaded as,
//! rebuilt from its skeleton (see [`super::tarsplit`]) when that gives
//! back its diff ID, so the image keeps its config and its ID; otherwise
//! regenerated from the layer's files by the platform.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::origin;
use crate::engine::error::{Error, Result};
use crate::engine::Engine;

/// A writer that hashes and counts what passes through it.
pub(super) struct Counting<W> {
    pub inner: W,
    pub hash: Sha256,
    pub n: u64,
}

impl<W> Counting<W> {
    pub fn new(inner: W) -> Counting<W> {
        Counting {
            inner,
            hash: Sha256::new(),
            n: 0,
        }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A layer written to a file.
pub(super) struct Exported {
    /// The digest of the uncompressed tar.
    pub diff_id: String,
    /// The digest and size of the file (the same as the diff ID's when
    /// not compressed).
    pub digest: String,
    pub size: u64,
}

impl Engine {
    /// Layer `id` as a tar in `path` (gzip-compressed if `gzip`).
    pub(super) fn export_layer(&self, id: &str, path: &Path, gzip: bool) -> Result<Exported> {
        if let (Some(o), Some(skeleton)) = (
            origin::get(&self.root, id),
            origin::skeleton(&self.root, id),
        ) {
            let layer = self.platform.layer_path(&self.root, id);
            let rebuilt = write_tar(path, gzip, &mut |w| {
                super::tarsplit::rebuild(&skeleton, &layer, w)
                    .map_err(|e| Error::io("cannot rebuild layer", &layer, e))
            });
            // A rebuild that is not the tar pulled is no use: the
            // regenerated one is as good and checked by no one.
            if let Ok(e) = rebuilt {
                if e.diff_id == o.diff_id {
                    return Ok(e);
                }
            }
        }
        write_tar(path, gzip, &mut |w| {
            self.platform
                .layer_tar(&self.root, id, w)
                .map_err(Error::from)
        })
    }
}

/// The tar `fill` writes, into `path`.
fn write_tar(
    path: &Path,
    gzip: bool,
    fill: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<Exported> {
    let f = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    let mut file = Counting::new(std::io::BufWriter::new(f));
    // The uncompressed tar's digest: its own (gzip), or the file's.
    let diff_id = if gzip {
        let gz = flate2::write::GzEncoder::new(&mut file, flate2::Compression::fast());
        let mut raw = Counting::new(gz);
        fill(&mut raw)?;
        raw.inner
            .finish()
            .map_err(|e| Error::io("cannot write", path, e))?;
        Some(format!("sha256:{:x}", raw.hash.finalize()))
    } else {
        fill(&mut file)?;
        None
    };
    file.flush()
        .map_err(|e| Error::io("cannot write", path, e))?;
    let digest = format!("sha256:{:x}", file.hash.finalize());
    Ok(Exported {
        diff_id: diff_id.unwrap_or_else(|| digest.clone()),
        digest,
        size: file.n,
    })
}
