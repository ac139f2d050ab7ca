//! The scale-out backend: PostgreSQL, shared by any number of stateless vanban nodes.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

const BACKEND: &str = "postgres";

/// Key of the advisory lock that serialises appends to the audit hash chain.
const AUDIT_CHAIN_LOCK: i64 = 0x7661_6e62_616e; // "vanban"

/// The PostgreSQL implementation of [`crate::Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
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
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }
}

impl PgStore {
    /// Where single-statement writes go (any connection: PostgreSQL has row locks).
    fn write_pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Starts a write transaction, serialised with every other write by the audit-chain lock
/// taken up front (like SQLite's `BEGIN IMMEDIATE`): every write appends an audit event and
/// so holds that lock until commit anyway, and taking it first means the reads a write makes
/// (a document's state, a failure counter) cannot go stale before its update, and no write
/// waits for the lock while holding row or index locks another writer needs (a deadlock).
async fn begin_write(store: &PgStore) -> crate::Result<sqlx::Transaction<'static, Postgres>> {
    let mut tx = store.pool.begin().await?;
    lock_audit_chain(&mut tx).await?;
    Ok(tx)
}

/// Serialises appends to the audit chain across connections and nodes until commit.
async fn lock_audit_chain(tx: &mut sqlx::Transaction<'static, Postgres>) -> crate::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_CHAIN_LOCK).execute(&mut **tx).await?;
    Ok(())
}

crate::sql::impl_sql_store!(PgStore, Postgres, sqlx::postgres::PgRow);
crate::sql_issuing::impl_issuing!(PgStore, Postgres, sqlx::postgres::PgRow);
