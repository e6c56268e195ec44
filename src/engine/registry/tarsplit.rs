//! A layer tar's skeleton, kept so the tar can be written again byte for
//! byte: everything in it but its regular files' contents (headers, PAX
//! and long-name records, padding, the end blocks), with, in their place,
//! the path each content is read back from in the unpacked layer. Docker
//! keeps the same for the same reason (its `tar-split`): an image's
//! config names its layers by the digest of their uncompressed tars (the
//! diff IDs), so only the very tar that was pulled keeps the image's
//! identity when it is saved or pushed again. A regenerated tar (other
//! header formats, order, times) has another digest, hence another
//! config and another image ID.
//!
//! The skeleton is recorded while the layer is unpacked (the stream goes
//! through [`Recorder`] on its way to the tar reader), compressed with
//! zstd, and kept next to the layer's origin record; a rebuild is checked
//! against the diff ID by its caller, so a skeleton that does not fit
//! (a tar naming one path twice, a sparse file) only costs the identity.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::{Component, Path};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// Skeletons larger than this are dropped (a tar of mostly non-file data:
/// it is not worth keeping a copy of it).
const LIMIT: usize = 64 << 20;

/// What is recorded so far.
#[derive(Default)]
pub struct Skeleton {
    /// Bytes of the stream read so far.
    pos: u64,
    /// The regular file content being read now: `[start, end)` of the
    /// stream, not recorded.
    skip: (u64, u64),
    /// Recorded bytes not yet written as a record.
    raw: Vec<u8>,
    records: Vec<u8>,
    /// Something did not fit (a file's content before the position, or
    /// the size limit): no skeleton.
    broken: bool,
}

impl Skeleton {
    /// The entry being read is a regular file at `rel` (in the layer)
    /// whose `size` bytes start at `start` in the stream.
    pub fn file(&mut self, rel: &Path, start: u64, size: u64) {
        if self.broken || size == 0 {
            return;
        }
        if start < self.pos {
            self.broken = true;
            return;
        }
        self.flush();
        let path = rel.as_os_str().as_encoded_bytes();
        self.records.push(b'F');
        self.records.extend_from_slice(&size.to_le_bytes());
        self.records
            .extend_from_slice(&(path.len() as u32).to_le_bytes());
        self.records.extend_from_slice(path);
        self.skip = (start, start + size);
    }

    fn flush(&mut self) {
        if self.raw.is_empty() {
            return;
        }
        self.records.push(b'R');
        self.records
            .extend_from_slice(&(self.raw.len() as u64).to_le_bytes());
        self.records.append(&mut self.raw);
        if self.records.len() > LIMIT {
            self.broken = true;
            self.records = Vec::new();
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        let (start, end) = (self.pos, self.pos + bytes.len() as u64);
        self.pos = end;
        if self.broken {
            return;
        }
        // The parts of [start, end) outside the content being skipped.
        let (s0, s1) = self.skip;
        let before = start..end.min(s0).max(start);
        let after = start.max(s1).min(end)..end;
        for r in [before, after] {
            if r.start < r.end {
                self.raw.extend_from_slice(
                    &bytes[(r.start - start) as usize..(r.end - start) as usize],
                );
            }
        }
        if self.raw.len() > LIMIT {
            self.broken = true;
            self.raw = Vec::new();
        }
    }

    /// The skeleton, compressed; `None` if it could not be kept.
    pub fn finish(mut self) -> Option<Vec<u8>> {
        self.flush();
        if self.broken {
            return None;
        }
        zstd::stream::encode_all(&self.records[..], 3).ok()
    }
}

/// A reader that hashes what passes through it and records its skeleton.
pub struct Recorder<R> {
    inner: R,
    pub hash: Sha256,
    pub skeleton: Rc<RefCell<Skeleton>>,
}

impl<R> Recorder<R> {
    pub fn new(inner: R) -> Recorder<R> {
        Recorder {
            inner,
            hash: Sha256::new(),
            skeleton: Rc::default(),
        }
    }
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.skeleton.borrow_mut().take(&buf[..n]);
        Ok(n)
    }
}

/// Write the tar `skeleton` describes to `out`, reading the contents of
/// its files from `layer`. Fails on a skeleton that does not fit the
/// layer (a file missing or of another size, a symlink on the way).
pub fn rebuild(skeleton: &[u8], layer: &Path, out: &mut dyn Write) -> std::io::Result<()> {
    let records = zstd::stream::decode_all(skeleton)?;
    let bad = |why: &str| std::io::Error::other(format!("layer skeleton: {why}"));
    let mut rest = &records[..];
    let mut take = |n: usize| -> std::io::Result<&[u8]> {
        if rest.len() < n {
            return Err(bad("truncated"));
        }
        let (a, b) = rest.split_at(n);
        rest = b;
        Ok(a)
    };
    loop {
        let kind = match take(1) {
            Ok(k) => k[0],
            Err(_) => return Ok(()),
        };
        let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        match kind {
            b'R' => out.write_all(take(len as usize)?)?,
            b'F' => {
                let n = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
                let rel = Path::new(os_str(take(n)?));
                let mut f = open_in(layer, rel)?;
                if f.metadata()?.len() != len {
                    return Err(bad("a file's size changed"));
                }
                let copied = std::io::copy(&mut (&mut f).take(len), out)?;
                if copied != len {
                    return Err(bad("a file is shorter than recorded"));
                }
            }
            _ => return Err(bad("unknown record")),
        }
    }
}

/// Bytes recorded from `OsStr::as_encoded_bytes` on Unix, where any
/// bytes are an `OsStr`.
fn os_str(b: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b)
}

/// Regular file `rel` of `layer`, never through a symlink: a recorded path
/// came from a tar, and a layer's symlink may point anywhere.
fn open_in(layer: &Path, rel: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut here = layer.to_path_buf();
    for c in rel.components() {
        let Component::Normal(c) = c else {
            return Err(std::io::Error::other("layer skeleton: a path that leaves"));
        };
        here.push(c);
        if std::fs::symlink_metadata(&here)?.file_type().is_symlink() {
            return Err(std::io::Error::other("layer skeleton: a symlink on a path"));
        }
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&here)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("layer skeleton: not a regular file"));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar as other tools write them: GNU and ustar headers, a long
    /// name, a hard link, odd sizes, a directory.
    fn sample() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8], kind: tar::EntryType, gnu: bool| {
            let mut h = if gnu {
                tar::Header::new_gnu()
            } else {
                tar::Header::new_ustar()
            };
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_mtime(1_600_000_000);
            h.set_size(data.len() as u64);
            if kind == tar::EntryType::Link {
                h.set_link_name("etc/a").unwrap();
            }
            b.append_data(&mut h, name, data).unwrap();
        };
        add("etc/", b"", tar::EntryType::Directory, true);
        add("etc/a", b"hello\n", tar::EntryType::Regular, false);
        add("etc/b", &[7u8; 1500], tar::EntryType::Regular, true);
        add(
            &format!("etc/{}", "l".repeat(150)),
            b"long",
            tar::EntryType::Regular,
            true,
        );
        add("etc/h", b"", tar::EntryType::Link, true);
        add("etc/empty", b"", tar::EntryType::Regular, true);
        b.into_inner().unwrap()
    }

    fn record(tar: &[u8], dest: &Path) -> Vec<u8> {
        let mut rec = Recorder::new(tar);
        let sk = rec.skeleton.clone();
        {
            let mut a = tar::Archive::new(&mut rec);
            for e in a.entries().unwrap() {
                let mut e = e.unwrap();
                let rel = e.path().unwrap().into_owned();
                if e.header().entry_type() == tar::EntryType::Regular {
                    sk.borrow_mut().file(&rel, e.raw_file_position(), e.size());
                }
                e.unpack_in(dest).unwrap();
            }
        }
        std::io::copy(&mut rec, &mut std::io::sink()).unwrap();
        let taken = std::mem::take(&mut *sk.borrow_mut());
        taken.finish().unwrap()
    }

    #[test]
    fn a_tar_is_rebuilt_byte_for_byte_from_its_skeleton_and_files() {
        let t = tempfile::tempdir().unwrap();
        let tar = sample();
        let sk = record(&tar, t.path());
        // The contents are not in it (1500 bytes of 7s would be).
        assert!(sk.len() < tar.len() / 4, "{} of {}", sk.len(), tar.len());
        let mut out = Vec::new();
        rebuild(&sk, t.path(), &mut out).unwrap();
        assert_eq!(Sha256::digest(&out), Sha256::digest(&tar));
    }

    #[test]
    fn a_skeleton_that_does_not_fit_the_layer_fails() {
        let t = tempfile::tempdir().unwrap();
        let sk = record(&sample(), t.path());
        std::fs::write(t.path().join("etc/a"), b"other size").unwrap();
        assert!(rebuild(&sk, t.path(), &mut Vec::new()).is_err());
        // A file replaced by a symlink out of the layer is not followed.
        std::fs::remove_file(t.path().join("etc/a")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.path().join("etc/a")).unwrap();
        let e = rebuild(&sk, t.path(), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
    }
}
