//! Images: a chain of read-only layers plus the configuration containers
//! inherit (cmd, env, user, workdir). Names are `name:tag`, unique; tagging
//! a name another image holds untags that image.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::id::{self, Match};
use super::store::{is_unique_violation, store_err};
use super::Engine;

/// A build snapshot: `image@<id>` is the image's first `layers` layers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub layers: usize,
    #[serde(default)]
    pub instruction: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub tag: String,
    pub created: String,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub workdir: String,
    /// Layer IDs, bottom first.
    #[serde(default)]
    pub layers: Vec<String>,
    /// The image this one was built on ("" for base images).
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How the base image was made (`host`, `dir`, `tar`), or `build`.
    #[serde(default)]
    pub method: String,
    /// The shell for shell-form RUN/CMD/ENTRYPOINT (SHELL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shell: Vec<String>,
    /// EXPOSE'd ports (`80/tcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed_ports: Vec<String>,
    /// VOLUME paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// ONBUILD triggers (the wrapped instruction lines), run by builds FROM this image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub onbuild: Vec<String>,
    /// HEALTHCHECK as written (kept, not acted upon).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub healthcheck: Vec<String>,
    /// The build's instructions and the snapshot each made ("" if none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instructions: Vec<(String, String)>,
}

impl Image {
    /// An image with nothing in it (scratch), not stored.
    pub fn empty() -> Image {
        Image {
            id: String::new(),
            name: String::new(),
            tag: String::new(),
            created: String::new(),
            cmd: vec![],
            entrypoint: vec![],
            env: vec![],
            user: String::new(),
            workdir: String::new(),
            layers: vec![],
            parent: String::new(),
            snapshots: vec![],
            labels: Default::default(),
            method: String::new(),
            shell: vec![],
            exposed_ports: vec![],
            volumes: vec![],
            stop_signal: String::new(),
            onbuild: vec![],
            healthcheck: vec![],
            instructions: vec![],
        }
    }

    pub fn nametag(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("{}:{}", self.name, self.tag)
        }
    }

    /// The layers `image@snap` stands for.
    pub fn layers_at(&self, snapshot: Option<&str>) -> Result<Vec<String>> {
        match snapshot {
            None => Ok(self.layers.clone()),
            Some(s) => {
                let snap = self
                    .snapshots
                    .iter()
                    .find(|x| x.id == s || (!s.is_empty() && x.id.starts_with(s)))
                    .ok_or_else(|| Error::NotFound {
                        kind: "snapshot",
                        ident: format!("{}@{s}", self.display()),
                    })?;
                Ok(self.layers[..snap.layers.min(self.layers.len())].to_vec())
            }
        }
    }

    pub fn display(&self) -> String {
        if self.name.is_empty() {
            self.id.clone()
        } else {
            self.nametag()
        }
    }
}

fn row_to_image(data: String, id: &str) -> Result<Image> {
    super::error::decode("image", id, &data)
}

/// Validate a `name[:tag]` for tagging (Docker's reference grammar,
/// `reference.rs`).
pub fn parse_nametag(s: &str) -> Result<(String, String)> {
    if s.contains('@') {
        return Err(Error::invalid("image name", s, "a name cannot contain '@'"));
    }
    let (name, tag, _) = id::parse_image_ref(s);
    super::reference::check_name(&name)?;
    super::reference::check_tag(&tag)?;
    Ok((name, tag))
}

impl Engine {
    pub fn images(&self) -> Result<Vec<Image>> {
        self.store.objects(
            "image",
            "SELECT id, data FROM images ORDER BY created DESC, id",
        )
    }

    /// Look an image up by ID, ID prefix or `name[:tag]` (`@snap` ignored).
    pub fn image(&self, ident: &str) -> Result<Image> {
        let (base, _) = split_snapshot(ident);
        if base.is_empty() {
            return Err(Error::EmptyIdent { kind: "image" });
        }
        let (name, tag, _) = id::parse_image_ref(base);
        let found: Option<(String, String)> = self.store.read(|c| {
            c.query_row(
                "SELECT id, data FROM images WHERE id = ?1 OR (name = ?2 AND tag = ?3) ORDER BY id = ?1 DESC LIMIT 1",
                params![base, name, tag],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        if let Some((id, data)) = found {
            return row_to_image(data, &id);
        }
        let cands: Vec<(String, String)> = self.store.read(|c| {
            let mut st = c.prepare("SELECT id, CASE WHEN name = '' THEN '' ELSE name || ':' || tag END FROM images WHERE substr(id, 1, length(?1)) = ?1")?;
            let rows = st.query_map([base], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        match id::resolve(base, &cands) {
            Match::One(id) => {
                let id = id.to_string();
                let data: String = self.store.read(|c| {
                    c.query_row("SELECT data FROM images WHERE id = ?1", [&id], |r| r.get(0))
                })?;
                row_to_image(data, &id)
            }
            Match::None => Err(Error::NotFound {
                kind: "image",
                ident: ident.to_string(),
            }),
            Match::Ambiguous(candidates) => Err(Error::Ambiguous {
                kind: "image",
                ident: ident.to_string(),
                candidates,
            }),
        }
    }

    /// Insert or replace an image, untagging the previous holder of its name.
    pub(crate) fn save_image(&mut self, image: &Image) -> Result<()> {
        self.store.write(|tx| save_image_tx(tx, image))
    }

    pub fn image_tag(&mut self, ident: &str, nametag: &str) -> Result<Image> {
        let (name, tag) = parse_nametag(nametag)?;
        let mut image = self.image(ident)?;
        image.name = name;
        image.tag = tag;
        self.save_image(&image)?;
        Ok(image)
    }

    /// Remove an image, refused while containers or images depend on it.
    pub fn image_remove(&mut self, ident: &str) -> Result<Image> {
        let image = self.image(ident)?;
        let containers: Vec<String> = self.store.read(|c| {
            let mut st =
                c.prepare("SELECT name FROM containers WHERE image_id = ?1 ORDER BY name")?;
            let rows = st.query_map([&image.id], |r| r.get(0))?;
            rows.collect()
        })?;
        if !containers.is_empty() {
            return Err(Error::InUse(format!(
                "cannot remove image '{}' ({}): it is used by containers: {}",
                image.display(),
                image.id,
                containers.join(", ")
            )));
        }
        let children: Vec<String> = self
            .images()?
            .into_iter()
            .filter(|i| i.parent == image.id)
            .map(|i| i.display())
            .collect();
        if !children.is_empty() {
            return Err(Error::InUse(format!(
                "cannot remove image '{}' ({}): it is the parent of images: {}",
                image.display(),
                image.id,
                children.join(", ")
            )));
        }
        // The row goes and the layers nothing else uses are leased to us
        // in one write; they are destroyed, then released. A crash in
        // between leaves a dead lease on layers no row refers to, which
        // `system check` removes.
        let platform = self.platform;
        let victims = self.store.write(|tx| {
            let n = tx
                .execute("DELETE FROM images WHERE id = ?1", [&image.id])
                .map_err(|e| store_err(std::path::Path::new("metadata.sqlite"), e))?;
            if n == 0 {
                return Err(Error::NotFound {
                    kind: "image",
                    ident: ident.to_string(),
                });
            }
            super::lease::claim_unused_tx(tx, platform, &image.layers)
        })?;
        crate::platform::failpoint::check("image.remove.layers")?;
        let removed = self
            .platform
            .check_layers_removable(&self.root, &victims)
            .map_err(Error::from)
            .and_then(|_| self.destroy_leased(&victims));
        if let Err(e) = removed {
            // Put the row back: the image stays rather than half-removed.
            self.save_image(&image)?;
            let _ = self.release_layers(&victims);
            return Err(e);
        }
        Ok(image)
    }

    /// Layers an image or a container refers to, or a live process leases.
    pub(crate) fn layers_in_use(&self) -> Result<std::collections::HashSet<String>> {
        let mut set = self.live_leases()?;
        for i in self.images()? {
            set.extend(i.layers);
        }
        for c in self.containers(true)? {
            set.extend(c.layers);
        }
        Ok(set)
    }

    /// Remove unused images: untagged ones, or all with `all`; repeated until
    /// nothing more goes, so parents freed by one pass go in the next.
    pub fn image_prune(&mut self, all: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        loop {
            let images = self.images()?;
            let used: std::collections::HashSet<String> = self
                .containers(true)?
                .into_iter()
                .map(|c| c.image_id)
                .chain(images.iter().map(|i| i.parent.clone()))
                .collect();
            let victims: Vec<Image> = images
                .into_iter()
                .filter(|i| !used.contains(&i.id) && (all || i.name.is_empty()))
                .collect();
            if victims.is_empty() {
                return Ok(removed);
            }
            for v in victims {
                self.image_remove(&v.id)?;
                removed.push(v.id);
            }
        }
    }
}

pub(crate) fn save_image_tx(tx: &Transaction, image: &Image) -> Result<()> {
    let data = serde_json::to_string(image).expect("image serialises");
    let err = |e| store_err(std::path::Path::new("metadata.sqlite"), e);
    if !image.name.is_empty() {
        // Untag whoever holds the name now: the newest image takes it.
        let holders: Vec<(String, String)> = {
            let mut st = tx
                .prepare("SELECT id, data FROM images WHERE name = ?1 AND tag = ?2 AND id <> ?3")
                .map_err(err)?;
            let rows = st
                .query_map(params![image.name, image.tag, image.id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        for (id, d) in holders {
            let mut old = row_to_image(d, &id)?;
            old.name.clear();
            old.tag.clear();
            tx.execute(
                "UPDATE images SET name = '', tag = '', data = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&old).expect("image serialises")],
            )
            .map_err(err)?;
        }
    }
    tx.execute(
        // An upsert, not a replace: a retag keeps the row's `origin`.
        "INSERT INTO images (id, name, tag, created, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, tag = excluded.tag,
           created = excluded.created, data = excluded.data",
        params![image.id, image.name, image.tag, image.created, data],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Conflict(format!("image name '{}' is already taken", image.nametag()))
        } else {
            err(e)
        }
    })?;
    Ok(())
}

/// `ref@snap` → (`ref`, Some(`snap`)).
pub fn split_snapshot(s: &str) -> (&str, Option<&str>) {
    match s.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nametags() {
        assert_eq!(
            parse_nametag("web").unwrap(),
            ("web".into(), "latest".into())
        );
        assert_eq!(
            parse_nametag("web:1.0").unwrap(),
            ("web".into(), "1.0".into())
        );
        for bad in ["", "a b", "x@y", "a:b:c", ":t", "n:"] {
            assert!(parse_nametag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snapshots_select_layers() {
        let img = Image {
            id: "a".into(),
            name: "n".into(),
            tag: "latest".into(),
            created: String::new(),
            cmd: vec![],
            entrypoint: vec![],
            env: vec![],
            user: String::new(),
            workdir: String::new(),
            layers: vec!["l1".into(), "l2".into(), "l3".into()],
            parent: String::new(),
            snapshots: vec![Snapshot {
                id: "s1".into(),
                layers: 2,
                instruction: String::new(),
            }],
            labels: Default::default(),
            method: String::new(),
            ..Image::empty()
        };
        assert_eq!(img.layers_at(Some("s1")).unwrap(), vec!["l1", "l2"]);
        assert_eq!(img.layers_at(None).unwrap().len(), 3);
        assert_eq!(
            img.layers_at(Some("zz")).unwrap_err().to_string(),
            "no such snapshot 'n:latest@zz'"
        );
    }
}
