//! The embedded backend: one SQLite file in the data directory, in WAL mode.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

const BACKEND: &str = "sqlite";

/// `Writes` runs each statement as it is pushed (a statement costs no round trip here).
const COMBINE_WRITES: bool = false;

/// The SQLite implementation of [`crate::Store`].
#[derive(Clone)]
pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pool: SqlitePool,
    /// The one connection that writes. SQLite has one writer at a time; queueing writers
    /// here (in order, without sleeping) instead of in SQLite's busy handler (which sleeps
    /// and retries) keeps throughput up when many clerks write at once.
    writer: SqlitePool,
    /// Readers for point lookups by key (the issuing path's document, revision, register,
    /// certificate and seal), run on the caller's thread like the writer: each is a few tens
    /// of microseconds, less than the two wake-ups of a hand-off to a worker thread.
    /// Never used for searches, lists of unbounded size or statistics.
    point: SqlitePool,
    /// The write-ahead log of a database in a file (`make_durable` syncs it); `None` in memory.
    wal: Option<std::path::PathBuf>,
    /// Write transactions, committed in batches on the writer connection (see `group.rs`).
    group: crate::group::GroupWriter<Sqlite>,
}

impl SqliteStore {
    /// Opens (creating if needed) `vanban.db` in `dir` and applies the migrations.
    pub async fn open_dir(dir: &Path) -> crate::Result<Self> {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        Self::open(SqliteConnectOptions::new().filename(dir.join("vanban.db"))).await
    }

    /// Opens a `sqlite://PATH` URL and applies the migrations.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        Self::open(url.parse::<SqliteConnectOptions>()?).await
    }

    async fn open(opts: SqliteConnectOptions) -> crate::Result<Self> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Statement journals (multi-row statements inside a transaction) stay in memory
            // instead of spilling to a temporary file.
            .pragma("temp_store", "memory")
            // 32 MiB of page cache per connection (SQLite's default is 2 MiB): with a million
            // documents the indexes' hot pages (the right edge of each B-tree, the busy
            // agencies' leaves) no longer fit in 2 MiB, and each miss is a read syscall.
            .pragma("cache_size", "-32768")
            .busy_timeout(Duration::from_secs(30));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            // The writer's statements run on the task's own thread, not handed to the
            // connection's worker thread one by one (vendor/sqlx-sqlite/VANBAN.md): an issued
            // document is about 30 statements on this connection, and each hand-off is two
            // wake-ups. Its statements are short; they are serialised anyway.
            .after_connect(|conn, _| Box::pin(async move { conn.run_on_caller_thread().await }))
            .connect_with(opts.clone())
            .await?;
        crate::migrations::sqlite().run(&writer).await?;
        // The readers keep upstream's worker threads: a search or a year's statistics may run
        // for long, and on the caller's thread it would hold up every task of that runtime
        // worker meanwhile. No ping before each use: a connection to a local file does not go
        // stale, and the ping was one more round trip to that thread per read.
        let pool =
            SqlitePoolOptions::new().max_connections(8).test_before_acquire(false).connect_with(opts.clone()).await?;
        // SQLite names a file database's log `<file>-wal`; an in-memory one has none.
        let db_file = opts.get_filename();
        let wal = db_file.is_file().then(|| {
            let mut wal = db_file.as_os_str().to_owned();
            wal.push("-wal");
            std::path::PathBuf::from(wal)
        });
        let point = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(async move { conn.run_on_caller_thread().await }))
            .connect_with(opts)
            .await?;
        // `BEGIN IMMEDIATE` takes the write lock up front (another process on the same file
        // queues on the busy timeout instead of failing on a lock upgrade).
        let group = crate::group::GroupWriter::new(writer.clone(), &["BEGIN IMMEDIATE"]);
        Ok(SqliteStore { pool, writer, point, wal, group })
    }
}

impl SqliteStore {
    /// Where single-statement writes go: the writer connection, queued with the others.
    fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Where point lookups by key go (see the `point` field).
    fn point_pool(&self) -> &SqlitePool {
        &self.point
    }
}

/// A write transaction on the writer connection, in the open batch (see `group.rs`).
type WriteTx = crate::group::WriteTx<Sqlite>;

async fn begin_write(store: &SqliteStore) -> crate::Result<WriteTx> {
    store.group.begin().await
}

/// Syncs the write-ahead log: with `synchronous=NORMAL` SQLite syncs it only at checkpoints,
/// so the last commits before a power failure could be lost (never half-applied). An fsync of
/// the file flushes what every connection wrote to it; a log already checkpointed and reset
/// holds nothing that is not in the (synced) database file.
async fn make_durable(store: &SqliteStore) -> crate::Result<()> {
    let Some(wal) = store.wal.clone() else { return Ok(()) };
    let synced = tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
        Ok(f) => f.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    })
    .await
    .map_err(std::io::Error::other);
    synced.and_then(|r| r).map_err(|e| sqlx::Error::Io(e).into())
}

/// Appends to the audit chain are already serialised by the write transaction.
async fn lock_audit_chain(_tx: &mut WriteTx) -> crate::Result<()> {
    Ok(())
}

crate::sql::impl_sql_store!(SqliteStore, Sqlite, sqlx::sqlite::SqliteRow);
crate::sql_issuing::impl_issuing!(SqliteStore, Sqlite, sqlx::sqlite::SqliteRow);

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in a file syncs its write-ahead log on request (the exchange asks before it
    /// acknowledges a package); one in memory has none to sync.
    #[tokio::test]
    async fn make_durable_syncs_the_log_of_a_file_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteConnectOptions::new().filename(dir.path().join("t.db"))).await.unwrap();
        assert_eq!(store.wal.as_deref(), Some(dir.path().join("t.db-wal").as_path()));
        assert!(store.wal.as_ref().unwrap().is_file(), "WAL mode writes its log beside the database");
        make_durable(&store).await.unwrap();
        let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
        assert!(memory.wal.is_none());
        make_durable(&memory).await.unwrap();
    }

    /// The writer and the point readers run on the caller's thread (the vendored sqlx-sqlite's
    /// patch is in use and switched on); the other readers do not. Fails if the `[patch.crates-io]` line is dropped
    /// (it would not build) or the `after_connect` hook is lost.
    #[tokio::test]
    async fn the_writer_runs_statements_on_the_callers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteConnectOptions::new().filename(dir.path().join("t.db"))).await.unwrap();
        let mut w = store.writer.acquire().await.unwrap();
        assert!(w.runs_on_caller_thread());
        let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut *w).await.unwrap();
        assert_eq!(one, 1);
        let mut tx = sqlx::Connection::begin(&mut *w).await.unwrap();
        sqlx::query("CREATE TABLE t_inline (x INTEGER)").execute(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();
        drop(w);
        let r = store.pool.acquire().await.unwrap();
        assert!(!r.runs_on_caller_thread());
        let mut p = store.point.acquire().await.unwrap();
        assert!(p.runs_on_caller_thread());
        let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut *p).await.unwrap();
        assert_eq!(one, 1);
    }
}
