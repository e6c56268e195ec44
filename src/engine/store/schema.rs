//! Versioned schema. `PRAGMA user_version` holds the version; each entry of
//! [`MIGRATIONS`] moves a database from version `i` to `i + 1`. Never edit a
//! released migration: add a new one.

/// Migration `i` upgrades a database at version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v0 -> v1: objects as JSON documents, with the columns rules need.
    r#"
    CREATE TABLE images (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL DEFAULT '',
        tag     TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        data    TEXT NOT NULL
    );
    CREATE UNIQUE INDEX images_nametag ON images(name, tag) WHERE name <> '';
    CREATE TABLE containers (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        image_id TEXT NOT NULL REFERENCES images(id),
        created  TEXT NOT NULL,
        data     TEXT NOT NULL
    );
    CREATE TABLE volumes (
        name    TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        data    TEXT NOT NULL
    );
    "#,
    // v1 -> v2: runtime state of containers, kept apart from their
    // configuration because it changes on every start and exit.
    r#"
    ALTER TABLE containers ADD COLUMN state     TEXT NOT NULL DEFAULT 'created';
    ALTER TABLE containers ADD COLUMN pid       INTEGER;
    ALTER TABLE containers ADD COLUMN pid_start INTEGER;
    ALTER TABLE containers ADD COLUMN exit_code INTEGER;
    ALTER TABLE containers ADD COLUMN started   TEXT;
    ALTER TABLE containers ADD COLUMN finished  TEXT;
    "#,
    // v2 -> v3: the build cache: a step's inputs (hashed) -> the layer it
    // made ("" when it changed nothing). Entries whose layer is gone are
    // misses and are dropped.
    r#"
    CREATE TABLE build_cache (
        key     TEXT PRIMARY KEY,
        layer   TEXT NOT NULL,
        created TEXT NOT NULL
    );
    "#,
    // v3 -> v4: networks and the endpoints connecting containers to them.
    r#"
    CREATE TABLE networks (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        data    TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        id           TEXT PRIMARY KEY,
        network_id   TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL REFERENCES containers(id),
        data         TEXT NOT NULL,
        UNIQUE (container_id, network_id)
    );
    "#,
    // v4 -> v5: whether the kernel's OOM killer ended a container's run.
    r#"
    ALTER TABLE containers ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;
    "#,
    // v5 -> v6: crash safety. Leases: layers a live process is making or
    // using that no row refers to yet (a build's, an image being created),
    // by owner (pid and start time), so that nobody takes them for debris
    // while their owner lives. `monitor`: the process that supervises a
    // running container (`<pid>-<start>`), so an exit nobody will record
    // can be told from one that is about to be.
    r#"
    CREATE TABLE leases (
        layer     TEXT NOT NULL,
        pid       INTEGER NOT NULL,
        pid_start INTEGER NOT NULL,
        created   TEXT NOT NULL,
        PRIMARY KEY (layer, pid, pid_start)
    );
    ALTER TABLE containers ADD COLUMN monitor TEXT;
    "#,
    // v6 -> v7: a running container's health (HEALTHCHECK), as JSON.
    r#"
    ALTER TABLE containers ADD COLUMN health TEXT;
    "#,
    // v7 -> v8: a pulled or loaded image's config and manifest as they came
    // (JSON), so that saving or pushing it keeps its identity. Apart from
    // `data`, which `image inspect` shows whole.
    r#"
    ALTER TABLE images ADD COLUMN origin TEXT;
    "#,
];

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;
