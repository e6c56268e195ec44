//! The metadata store: one SQLite file per root, WAL mode, and SQLite's own
//! write lock (`BEGIN IMMEDIATE`) as the writer lock, so concurrent `klee`
//! processes and the daemon serialise their writes and never lose one.

pub mod schema;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::engine::error::{Error, Result};

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) `<root>/metadata.sqlite` and bring its schema
    /// up to date.
    pub fn open(root: &Path) -> Result<Store> {
        let path = root.join("metadata.sqlite");
        if !path.exists() {
            // Create it 0600 before SQLite does: the metadata is root's alone.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::io("cannot create metadata store", &path, e))?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| store_err(&path, e))?;
        crate::platform::trace::mark("store: sqlite opened");
        let mut store = Store { conn, path };
        store.configure()?;
        crate::platform::trace::mark("store: configured");
        store.migrate()?;
        Ok(store)
    }

    fn configure(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| store_err(&path, e))?;
        // Every `klee` is a short-lived process and usually the only
        // connection. By default its close would checkpoint the whole WAL
        // (with fsyncs) and delete it, and the next process would recreate it
        // (two more fsyncs). Instead the WAL stays, close does not
        // checkpoint, and checkpoints happen as it grows; the WAL is kept
        // small because the next opener replays it to rebuild its index.
        self.conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .map_err(|e| store_err(&path, e))?;
        // SAFETY: a valid connection handle and a pointer to an int, as the
        // SQLITE_FCNTL_PERSIST_WAL file control expects.
        unsafe {
            let mut on: std::os::raw::c_int = 1;
            rusqlite::ffi::sqlite3_file_control(
                self.conn.handle(),
                c"main".as_ptr(),
                rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
                &mut on as *mut _ as *mut std::os::raw::c_void,
            );
        }
        // WAL: readers never block the writer; NORMAL sync is durable across
        // process crashes, which is what concurrent CLI processes need.
        // WAL mode is kept in the database file: once set, every later
        // connection uses it, and asking again costs each command ~0.2 ms.
        if !wal_already(&path) {
            // Switching a new database to WAL needs it to itself, and SQLite
            // answers "locked" at once instead of waiting (two commands on
            // a fresh root): wait for the other, as the busy timeout would.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                match self.conn.execute_batch("PRAGMA journal_mode=WAL;") {
                    Err(rusqlite::Error::SqliteFailure(f, _))
                        if f.code == rusqlite::ErrorCode::DatabaseBusy
                            && std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    r => break r.map_err(|e| store_err(&path, e))?,
                }
            }
        }
        self.conn
            .execute_batch(
                "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
                 PRAGMA wal_autocheckpoint=64; PRAGMA journal_size_limit=1048576;",
            )
            .map_err(|e| store_err(&path, e))
    }

    fn migrate(&mut self) -> Result<()> {
        let version = self.user_version()?;
        if version == schema::CURRENT_VERSION {
            return Ok(());
        }
        if version > schema::CURRENT_VERSION {
            return Err(Error::Conflict(format!(
                "metadata store '{}' has schema version {version}, newer than this kleene ({}); upgrade kleene",
                self.path.display(),
                schema::CURRENT_VERSION
            )));
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(|e| store_err(&path, e))?;
        // Re-read under the lock: another process may have migrated meanwhile.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store_err(&path, e))?;
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(|e| store_err(&path, e))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(|e| store_err(&path, e))?;
        }
        tx.commit().map_err(|e| store_err(&path, e))?;
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600));
        Ok(())
    }

    /// A store that holds no file open: what an engine keeps while it forks,
    /// because SQLite's per-process lock state must never cross a fork
    /// (a child's WAL writes could otherwise land in an unlinked file).
    pub fn detached(path: &Path) -> Result<Store> {
        let conn = Connection::open_in_memory().map_err(|e| store_err(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn user_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store_err(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run a read-only query.
    /// Every object a `SELECT key, data …` query returns, decoded (a row
    /// that does not decode is a `Corrupt` error naming `kind` and key).
    pub fn objects<T: serde::de::DeserializeOwned>(
        &self,
        kind: &'static str,
        sql: &str,
    ) -> Result<Vec<T>> {
        let rows: Vec<(String, String)> = self.read(|c| {
            let mut st = c.prepare(sql)?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        rows.iter()
            .map(|(id, d)| crate::engine::error::decode(kind, id, d))
            .collect()
    }

    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        f(&self.conn).map_err(|e| store_err(&self.path, e))
    }

    /// Run `f` inside a write transaction that holds the database's write lock
    /// from its first statement; commit if `f` succeeds, roll back otherwise.
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(&path, e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| store_err(&path, e))?;
        Ok(out)
    }
}

/// Wrap a SQLite error with the store path it came from.
/// Is the database at `path` in WAL mode already? (Bytes 18 and 19 of the
/// header, the file format versions, are 2 in WAL mode.)
fn wal_already(path: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut b, 18))
        .is_ok()
        && b == [2, 2]
}

pub fn store_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::Store {
        path: path.to_path_buf(),
        source: e,
    }
}

/// True when `e` is a UNIQUE constraint violation.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_store_is_current_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.user_version().unwrap(), schema::CURRENT_VERSION);
        let mode = std::fs::metadata(s.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // WAL from the start, and still when reopened (without asking again).
        let journal = |s: &Store| -> String {
            s.read(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
                .unwrap()
        };
        assert_eq!(journal(&s), "wal");
        drop(s);
        assert!(wal_already(&dir.path().join("metadata.sqlite")));
        assert_eq!(journal(&Store::open(dir.path()).unwrap()), "wal");
    }

    #[test]
    fn v1_database_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(schema::MIGRATIONS[0]).unwrap();
            c.execute_batch("PRAGMA user_version = 1").unwrap();
            c.execute(
                "INSERT INTO images (id, name, tag, created, data) VALUES ('aaaaaaaaaaaa','base','latest','2024-01-01T00:00:00.000000Z','{}')",
                [],
            )
            .unwrap();
            c.execute(
                "INSERT INTO containers (id, name, image_id, created, data) VALUES ('bbbbbbbbbbbb','web','aaaaaaaaaaaa','2024-01-01T00:00:00.000000Z','{}')",
                [],
            )
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.user_version().unwrap(), schema::CURRENT_VERSION);
        let state: String = s
            .read(|c| {
                c.query_row("SELECT state FROM containers WHERE name='web'", [], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert_eq!(state, "created");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }

    #[test]
    fn many_first_opens_of_a_new_store_at_once_all_succeed() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let opened: Vec<_> = (0..6)
                .map(|_| {
                    let p = dir.path().to_path_buf();
                    std::thread::spawn(move || Store::open(&p).map(drop))
                })
                .collect();
            for t in opened {
                t.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let r: Result<()> = s.write(|tx| {
            tx.execute(
                "INSERT INTO volumes (name, created, data) VALUES ('v','x','{}')",
                [],
            )
            .unwrap();
            Err(Error::Conflict("boom".into()))
        });
        assert!(r.is_err());
        let n: i64 = s
            .read(|c| c.query_row("SELECT count(*) FROM volumes", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 0);
    }
}
