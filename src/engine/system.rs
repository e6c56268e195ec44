//! `system df` (space per kind of object, and how much could go) and
//! `system prune` (every kind's prune at once).

use std::collections::HashSet;

use serde::Serialize;

use super::error::Result;
use super::Engine;
use crate::platform::fsutil;

/// One line of `system df`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Usage {
    /// `Images`, `Containers`, `Local Volumes`, `Build Cache`.
    pub kind: &'static str,
    pub total: usize,
    /// In use: images with containers, running containers, volumes some
    /// container mounts.
    pub active: usize,
    /// Bytes on disk.
    pub size: u64,
    /// Bytes a prune of that kind would free.
    pub reclaimable: u64,
}

impl Usage {
    fn new(kind: &'static str) -> Usage {
        Usage {
            kind,
            total: 0,
            active: 0,
            size: 0,
            reclaimable: 0,
        }
    }
}

/// What `system prune` removes besides stopped containers, unused networks
/// and the build cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Every image no container uses, not just untagged ones.
    pub all_images: bool,
    /// Volumes no container uses.
    pub volumes: bool,
}

/// What `system prune` removed, by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pruned {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub images: Vec<String>,
    pub build_cache: Vec<String>,
    pub volumes: Vec<String>,
}

impl Engine {
    /// Space used per kind of object.
    pub fn system_df(&self) -> Result<Vec<Usage>> {
        let layer_size = |l: &str| fsutil::disk_usage(&self.platform.layer_path(&self.root, l));
        let images = self.images()?;
        let containers = self.containers(true)?;
        let used_images: HashSet<&str> = containers.iter().map(|c| c.image_id.as_str()).collect();
        let image_layers: HashSet<&str> = images
            .iter()
            .flat_map(|i| i.layers.iter().map(String::as_str))
            .collect();
        let kept: HashSet<&str> = images
            .iter()
            .filter(|i| used_images.contains(i.id.as_str()))
            .flat_map(|i| i.layers.iter().map(String::as_str))
            .chain(
                containers
                    .iter()
                    .flat_map(|c| c.layers.iter().map(String::as_str)),
            )
            .collect();
        let mut img = Usage {
            kind: "Images",
            total: images.len(),
            active: images
                .iter()
                .filter(|i| used_images.contains(i.id.as_str()))
                .count(),
            size: 0,
            reclaimable: 0,
        };
        for l in &image_layers {
            let n = layer_size(l);
            img.size += n;
            if !kept.contains(l) {
                img.reclaimable += n;
            }
        }
        let mut ctr = Usage {
            kind: "Containers",
            total: containers.len(),
            active: containers.iter().filter(|c| c.status.is_running()).count(),
            size: 0,
            reclaimable: 0,
        };
        for c in &containers {
            let n = fsutil::disk_usage(&self.platform.container_dir(&self.root, &c.id));
            ctr.size += n;
            if !c.status.is_running() && !c.persist {
                ctr.reclaimable += n;
            }
        }
        let mut vol = Usage::new("Local Volumes");
        let mounted: HashSet<&str> = containers
            .iter()
            .flat_map(|c| c.mounts.iter())
            .filter(|m| m.kind == "volume")
            .map(|m| m.source.as_str())
            .collect();
        for v in self.volumes()? {
            let n = fsutil::disk_usage(&self.platform.volume_path(&self.root, &v.name));
            vol.total += 1;
            vol.size += n;
            if mounted.contains(v.name.as_str()) {
                vol.active += 1;
            } else {
                vol.reclaimable += n;
            }
        }
        let mut cache = Usage::new("Build Cache");
        for l in self.cache_only_layers()? {
            let n = layer_size(&l);
            cache.total += 1;
            cache.size += n;
            cache.reclaimable += n;
        }
        Ok(vec![img, ctr, vol, cache])
    }

    /// Layers only the build cache refers to.
    fn cache_only_layers(&self) -> Result<Vec<String>> {
        let in_use = self.layers_in_use()?;
        let cached: Vec<String> = self.store.read(|c| {
            let mut st = c.prepare("SELECT DISTINCT layer FROM build_cache WHERE layer <> ''")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        Ok(cached.into_iter().filter(|l| !in_use.contains(l)).collect())
    }

    /// Empty the build cache: its entries, and the layers only it refers to
    /// (leased while they are destroyed, like an image's).
    pub fn cache_prune(&mut self) -> Result<Vec<String>> {
        let platform = self.platform;
        let path = self.store.path().to_path_buf();
        let victims = self.store.write(|tx| {
            let mut st = tx
                .prepare("SELECT DISTINCT layer FROM build_cache WHERE layer <> ''")
                .map_err(|e| super::store::store_err(&path, e))?;
            let cached: Vec<String> = st
                .query_map([], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(|e| super::store::store_err(&path, e))?;
            // Entries of layers in use stay; so do "no change" entries,
            // which hold nothing.
            super::lease::claim_unused_tx(tx, platform, &cached)
        })?;
        self.destroy_leased(&victims)?;
        Ok(victims)
    }

    /// Stopped containers, unused networks, dangling (or, with
    /// `all_images`, unused) images, the build cache, and with `volumes`
    /// unused volumes.
    pub fn system_prune(&mut self, opts: PruneOptions) -> Result<Pruned> {
        let mut out = Pruned {
            containers: self.container_prune()?,
            ..Pruned::default()
        };
        out.networks = self.network_prune()?;
        out.images = self.image_prune(opts.all_images)?;
        out.build_cache = self.cache_prune()?;
        if opts.volumes {
            out.volumes = self.volume_prune()?;
        }
        Ok(out)
    }
}
