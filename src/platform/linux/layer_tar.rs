//! A kleene layer (an overlayfs lower directory) as an OCI layer tar, for
//! `klee image push`: entries in a stable order with their owners, modes
//! and times; overlayfs's whiteouts (0:0 character devices) become
//! `.wh.NAME` files and opaque directories (`trusted.overlay.opaque=y`)
//! get a `.wh..wh..opq` entry, as the image spec writes them.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::platform::{Error, Result};

fn opaque(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: valid path and name; the buffer's length is given.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

fn walk(b: &mut tar::Builder<&mut dyn Write>, root: &Path, rel: &Path) -> std::io::Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    if !rel.as_os_str().is_empty() && opaque(&dir) {
        crate::platform::layer_diff::whiteout(b, &rel.join(".wh..wh..opq"))?;
    }
    for name in names {
        let r = rel.join(&name);
        let full = root.join(&r);
        let md = std::fs::symlink_metadata(&full)?;
        if md.file_type().is_char_device() && md.rdev() == 0 {
            let mut wh = std::ffi::OsString::from(".wh.");
            wh.push(&name);
            crate::platform::layer_diff::whiteout(b, &rel.join(wh))?;
            continue;
        }
        b.append_path_with_name(&full, &r)?;
        if md.is_dir() {
            walk(b, root, &r)?;
        }
    }
    Ok(())
}

/// Write layer directory `dir` to `out` as an uncompressed tar.
pub fn write(dir: &Path, out: &mut dyn Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    walk(&mut b, dir, Path::new(""))
        .and_then(|_| b.finish())
        .map_err(|e| Error::io("cannot pack layer", dir, e))
}
