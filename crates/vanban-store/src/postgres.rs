//! The scale-out backend: PostgreSQL, shared by any number of stateless vanban nodes.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

const BACKEND: &str = "postgres";

/// `Writes` sends its statements as one (data-modifying CTEs): one round trip instead of several.
const COMBINE_WRITES: bool = true;

/// Key of the advisory lock that serialises appends to the audit hash chain.
const AUDIT_CHAIN_LOCK: i64 = 0x7661_6e62_616e; // "vanban"

/// The PostgreSQL implementation of [`crate::Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Write transactions, committed in batches (see `group.rs`).
    group: crate::group::GroupWriter<Postgres>,
}

impl PgStore {
    /// Connects to a `postgres://` URL and applies the migrations.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let opts: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        crate::migrations::postgres().run(&pool).await?;
        let lock = format!("SELECT pg_advisory_xact_lock({AUDIT_CHAIN_LOCK})");
        let group = crate::group::GroupWriter::new(pool.clone(), &["BEGIN", &lock]);
        Ok(PgStore { pool, group })
    }
}

impl PgStore {
    /// Where single-statement writes go (any connection: PostgreSQL has row locks).
    fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where the issuing path's point lookups go (the same pool: a network round trip is
    /// the same on any connection).
    fn point_pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Starts a write transaction, serialised with every other write by the audit-chain lock
/// taken up front (like SQLite's `BEGIN IMMEDIATE`): every write appends an audit event and
/// so holds that lock until commit anyway, and taking it first means the reads a write makes
/// (a document's state, a failure counter) cannot go stale before its update, and no write
/// waits for the lock while holding row or index locks another writer needs (a deadlock).
///
/// The transactions of one node that queue for that lock share one database transaction
/// (see `group.rs`); nodes queue on the lock.
async fn begin_write(store: &PgStore) -> crate::Result<WriteTx> {
    store.group.begin().await
}

/// A write transaction, in the node's open batch.
type WriteTx = crate::group::WriteTx<Postgres>;

/// A commit is on disk when it returns (`synchronous_commit` on, the server's default).
async fn make_durable(_store: &PgStore) -> crate::Result<()> {
    Ok(())
}

/// Appends to the audit chain are serialised across connections and nodes by the lock every
/// write transaction takes when it begins (a `Tx` is only ever made by `begin_write`).
async fn lock_audit_chain(_tx: &mut WriteTx) -> crate::Result<()> {
    Ok(())
}

crate::sql::impl_sql_store!(PgStore, Postgres, sqlx::postgres::PgRow);
crate::sql_issuing::impl_issuing!(PgStore, Postgres, sqlx::postgres::PgRow);
