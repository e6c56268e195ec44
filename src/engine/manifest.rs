//! FreeBSD release distribution sets are listed with their SHA-256 in the
//! release directory's `MANIFEST` (`base.txz<TAB>sha256<TAB>files<TAB>…`);
//! a downloaded `base.txz` is checked against it before it is unpacked.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::{Error, Result};

/// The MANIFEST URL for a distribution set's URL, when it names one
/// (`…/14.1-RELEASE/base.txz` → `…/14.1-RELEASE/MANIFEST`).
pub fn manifest_url(url: &str) -> Option<(String, &str)> {
    let (dir, file) = url.rsplit_once('/')?;
    file.ends_with(".txz")
        .then(|| (format!("{dir}/MANIFEST"), file))
}

/// The SHA-256 MANIFEST gives for `file`.
pub fn expected(manifest: &str, file: &str) -> Option<String> {
    manifest.lines().find_map(|l| {
        let mut f = l.split('\t');
        (f.next()? == file)
            .then(|| f.next().map(|h| h.trim().to_ascii_lowercase()))
            .flatten()
            .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
    })
}

/// The hex SHA-256 of a file.
pub fn sha256_file(p: &Path) -> Result<String> {
    let mut f = std::fs::File::open(p).map_err(|e| Error::io("cannot open", p, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io("cannot read", p, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Check `archive` (downloaded from `url`) against `manifest`'s entry.
pub fn verify(url: &str, manifest: &str, archive: &Path) -> Result<()> {
    let file = url.rsplit('/').next().unwrap_or(url);
    let want = expected(manifest, file).ok_or_else(|| {
        Error::invalid(
            "download",
            url,
            format!("the release's MANIFEST lists no checksum for {file}"),
        )
    })?;
    let got = sha256_file(archive)?;
    if got != want {
        return Err(Error::invalid(
            "download",
            url,
            format!("its SHA-256 is {got}, the release's MANIFEST says {want}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "base-dbg.txz\t0000000000000000000000000000000000000000000000000000000000000000\t1\tbase_dbg\t\"Base system (Debugging)\"\toff\n\
base.txz\t2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\t27\tbase\t\"Base system (MANDATORY)\"\ton\n";

    #[test]
    fn manifest_entries_and_checks() {
        assert_eq!(
            manifest_url("https://download.freebsd.org/releases/amd64/amd64/14.1-RELEASE/base.txz"),
            Some((
                "https://download.freebsd.org/releases/amd64/amd64/14.1-RELEASE/MANIFEST".into(),
                "base.txz"
            ))
        );
        assert_eq!(manifest_url("https://example.org/rootfs.tar"), None);
        assert_eq!(
            expected(M, "base.txz").as_deref(),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert_eq!(expected(M, "lib32.txz"), None);
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("base.txz");
        std::fs::write(&f, "hello").unwrap();
        verify("https://x/base.txz", M, &f).unwrap();
        std::fs::write(&f, "hellO").unwrap();
        let e = verify("https://x/base.txz", M, &f).unwrap_err().to_string();
        assert!(e.contains("the release's MANIFEST says 2cf24dba"), "{e}");
        let e = verify("https://x/lib32.txz", M, &f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lists no checksum for lib32.txz"), "{e}");
    }
}
