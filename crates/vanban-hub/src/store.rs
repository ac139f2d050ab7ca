//! The hub's storage: package metadata and who must still pick each package up, in SQLite
//! (default, one file in the data directory) or PostgreSQL (`postgres://…`). The package
//! bodies are files in the bodies directory (by default the data directory's `packages/`),
//! written and synced before their row commits, removed once every addressee has
//! acknowledged them.
//!
//! Several hub nodes may share one PostgreSQL database (and one bodies directory that every
//! node mounts): a PostgreSQL store is [`shared`](HubStore::shared), so the replay check of
//! signed requests ([`first_use`](HubStore::first_use)) and the wake-up of long polls (a
//! NOTIFY in the transaction that stores a package, heard by each node's
//! [`watch`](HubStore::watch)) go through the database rather than one node's memory.
//!
//! The SQL is written once and expanded for both backends by `impl_hub_store!`.

use std::sync::Arc;

use async_trait::async_trait;
use vanban_axis::{AddresseeState, Agency, ReceivedItem, SentItem};

pub type Result<T> = std::result::Result<T, HubStoreError>;

#[derive(Debug, thiserror::Error)]
pub enum HubStoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Conflict(&'static str),
}

/// A package to store, with the systems that must pick it up.
#[derive(Debug, Clone)]
pub struct NewPackage {
    pub id: String,
    pub sender_system: String,
    pub from_code: String,
    pub kind: String,
    pub document_id: String,
    pub business: Option<String>,
    pub status_code: Option<String>,
    pub sha256: String,
    pub size: i64,
    pub idem_key: String,
    /// (system, the codes of its agencies the package is addressed to).
    pub addressees: Vec<(String, Vec<String>)>,
    pub created_at: i64,
}

/// What the hub knows of a stored package.
#[derive(Debug, Clone)]
pub struct PackageMeta {
    pub id: String,
    pub sender_system: String,
    pub kind: String,
    pub size: i64,
    pub purged: bool,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct HubStats {
    pub packages: i64,
    /// (system, packages it has not acknowledged yet).
    pub pending: Vec<(String, i64)>,
    pub agencies: i64,
}

/// Called with a system's id when a package arrived for it (see [`HubStore::watch`]).
pub type Wake = Arc<dyn Fn(&str) + Send + Sync>;

/// The PostgreSQL channel on which nodes announce arrivals (the payload is a system id).
const CHANNEL: &str = "vanban_hub";

#[async_trait]
pub trait HubStore: Send + Sync {
    fn backend(&self) -> &'static str;
    /// Whether several hub nodes may use this store at once (PostgreSQL). A store that is not
    /// shared leaves the replay check and long-poll wake-ups to the one node's memory.
    fn shared(&self) -> bool {
        false
    }
    /// Records the first use of a request signature `mac`, remembered until `expires_at`
    /// (ms); false when it was used before and has not expired: a replay. Only a shared
    /// store keeps these.
    async fn first_use(&self, _mac: &str, _expires_at: i64, _now: i64) -> Result<bool> {
        Ok(true)
    }
    /// Calls `wake` whenever a node announces an arrival, until the process ends.
    async fn watch(&self, _wake: Wake) -> Result<()> {
        Ok(())
    }
    /// The package a sender already stored under `idem_key`, if any.
    async fn find_by_key(&self, sender_system: &str, idem_key: &str) -> Result<Option<String>>;
    /// Stores a package; a concurrent resend with the same key gets the first one's id.
    async fn insert_package(&self, p: &NewPackage) -> Result<(String, bool)>;
    async fn received(&self, system: &str, kind: &str, limit: i64) -> Result<Vec<ReceivedItem>>;
    /// A package the system may read: an addressee's or the sender's own.
    async fn package_for(&self, system: &str, id: &str) -> Result<Option<PackageMeta>>;
    async fn mark_fetched(&self, system: &str, id: &str, at: i64) -> Result<()>;
    /// Records an addressee's pickup state; true when every addressee has now finished
    /// (`done` or `fail`), so the body may go.
    async fn ack(&self, system: &str, id: &str, state: &str, at: i64) -> Result<Option<bool>>;
    async fn mark_purged(&self, id: &str, at: i64) -> Result<()>;
    async fn sent(&self, system: &str, doc_id: Option<&str>, limit: i64) -> Result<Vec<SentItem>>;
    async fn agencies(&self) -> Result<Vec<Agency>>;
    async fn agency_system(&self, code: &str) -> Result<Option<String>>;
    /// Registers or updates an agency for `system`; an agency another system holds is refused.
    async fn upsert_agency(&self, system: &str, a: &Agency, at: i64) -> Result<()>;
    async fn delete_agency(&self, system: &str, code: &str) -> Result<bool>;
    async fn stats(&self) -> Result<HubStats>;
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS hub_agencies (
        code TEXT PRIMARY KEY NOT NULL, system_id TEXT NOT NULL, pcode TEXT NOT NULL, name TEXT NOT NULL,
        mail TEXT NOT NULL, mobile TEXT NOT NULL, fax TEXT NOT NULL, updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS hub_packages (
        id TEXT PRIMARY KEY NOT NULL, sender_system TEXT NOT NULL, from_code TEXT NOT NULL, kind TEXT NOT NULL,
        document_id TEXT NOT NULL, business TEXT, status_code TEXT, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
        idem_key TEXT NOT NULL, created_at BIGINT NOT NULL, purged_at BIGINT,
        UNIQUE (sender_system, idem_key))",
    "CREATE TABLE IF NOT EXISTS hub_addressees (
        package_id TEXT NOT NULL REFERENCES hub_packages(id), system_id TEXT NOT NULL, codes TEXT NOT NULL,
        kind TEXT NOT NULL, state TEXT NOT NULL, fetched_at BIGINT, acked_at BIGINT, created_at BIGINT NOT NULL,
        PRIMARY KEY (package_id, system_id))",
    "CREATE INDEX IF NOT EXISTS hub_addressees_pending ON hub_addressees (system_id, kind, state, created_at)",
    "CREATE INDEX IF NOT EXISTS hub_packages_sender ON hub_packages (sender_system, created_at)",
    // Signatures of requests already accepted, until their expiry (shared stores only).
    "CREATE TABLE IF NOT EXISTS hub_seen (mac TEXT PRIMARY KEY NOT NULL, expires_at BIGINT NOT NULL)",
];

macro_rules! impl_hub_store {
    ($Store:ty, $Db:ty, $name:literal { $($extra:tt)* }) => {
        #[async_trait]
        impl HubStore for $Store {
            fn backend(&self) -> &'static str {
                $name
            }

            $($extra)*

            async fn find_by_key(&self, sender_system: &str, idem_key: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar::<$Db, String>("SELECT id FROM hub_packages WHERE sender_system = $1 AND idem_key = $2")
                    .bind(sender_system)
                    .bind(idem_key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn insert_package(&self, p: &NewPackage) -> Result<(String, bool)> {
                let mut tx = self.writer.begin().await?;
                let existing: Option<String> =
                    sqlx::query_scalar("SELECT id FROM hub_packages WHERE sender_system = $1 AND idem_key = $2")
                        .bind(&p.sender_system)
                        .bind(&p.idem_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(id) = existing {
                    tx.commit().await?;
                    return Ok((id, false));
                }
                sqlx::query(
                    "INSERT INTO hub_packages (id, sender_system, from_code, kind, document_id, business, status_code, sha256, size, idem_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&p.id)
                .bind(&p.sender_system)
                .bind(&p.from_code)
                .bind(&p.kind)
                .bind(&p.document_id)
                .bind(&p.business)
                .bind(&p.status_code)
                .bind(&p.sha256)
                .bind(p.size)
                .bind(&p.idem_key)
                .bind(p.created_at)
                .execute(&mut *tx)
                .await?;
                for (system, codes) in &p.addressees {
                    sqlx::query(
                        "INSERT INTO hub_addressees (package_id, system_id, codes, kind, state, created_at) VALUES ($1, $2, $3, $4, 'pending', $5)",
                    )
                    .bind(&p.id)
                    .bind(system)
                    .bind(codes.join(","))
                    .bind(&p.kind)
                    .bind(p.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                Self::announce_in(&mut tx, &p.addressees).await?;
                tx.commit().await?;
                Ok((p.id.clone(), true))
            }

            async fn received(&self, system: &str, kind: &str, limit: i64) -> Result<Vec<ReceivedItem>> {
                let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
                    "SELECT p.id, p.kind, p.from_code, a.codes, p.created_at, p.size FROM hub_addressees a \
                     JOIN hub_packages p ON p.id = a.package_id \
                     WHERE a.system_id = $1 AND a.kind = $2 AND a.state IN ('pending', 'processing') \
                     ORDER BY a.created_at, a.package_id LIMIT $3",
                )
                .bind(system)
                .bind(kind)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, kind, from, codes, created, size)| ReceivedItem {
                        doc_id: id,
                        service_type: "eDoc".to_owned(),
                        message_type: kind,
                        from,
                        to: codes.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
                        created: millis_rfc3339(created),
                        size: size as u64,
                    })
                    .collect())
            }

            async fn package_for(&self, system: &str, id: &str) -> Result<Option<PackageMeta>> {
                let row: Option<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT p.id, p.sender_system, p.kind, p.size, p.purged_at FROM hub_packages p WHERE p.id = $1 \
                     AND (p.sender_system = $2 OR EXISTS (SELECT 1 FROM hub_addressees a WHERE a.package_id = p.id AND a.system_id = $2))",
                )
                .bind(id)
                .bind(system)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(id, sender_system, kind, size, purged)| PackageMeta {
                    id,
                    sender_system,
                    kind,
                    size,
                    purged: purged.is_some(),
                }))
            }

            async fn mark_fetched(&self, system: &str, id: &str, at: i64) -> Result<()> {
                sqlx::query("UPDATE hub_addressees SET fetched_at = $1 WHERE package_id = $2 AND system_id = $3 AND fetched_at IS NULL")
                    .bind(at)
                    .bind(id)
                    .bind(system)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn ack(&self, system: &str, id: &str, state: &str, at: i64) -> Result<Option<bool>> {
                let mut tx = self.writer.begin().await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT state FROM hub_addressees WHERE package_id = $1 AND system_id = $2")
                        .bind(id)
                        .bind(system)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(current) = current else {
                    tx.commit().await?;
                    return Ok(None);
                };
                // done and fail are final: a late "processing" changes nothing.
                if current != "done" && current != "fail" {
                    sqlx::query("UPDATE hub_addressees SET state = $1, acked_at = $2 WHERE package_id = $3 AND system_id = $4")
                        .bind(state)
                        .bind(at)
                        .bind(id)
                        .bind(system)
                        .execute(&mut *tx)
                        .await?;
                }
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM hub_addressees WHERE package_id = $1 AND state NOT IN ('done', 'fail')",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(open == 0))
            }

            async fn mark_purged(&self, id: &str, at: i64) -> Result<()> {
                sqlx::query("UPDATE hub_packages SET purged_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn sent(&self, system: &str, doc_id: Option<&str>, limit: i64) -> Result<Vec<SentItem>> {
                let rows: Vec<(String, String, String, i64, String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT p.id, p.kind, p.from_code, p.created_at, a.codes, a.state, a.fetched_at, a.acked_at \
                     FROM hub_packages p JOIN hub_addressees a ON a.package_id = p.id \
                     WHERE p.id IN (SELECT id FROM hub_packages WHERE sender_system = $1 AND ($2 IS NULL OR id = $2) ORDER BY created_at DESC LIMIT $3) \
                     ORDER BY p.created_at DESC, p.id, a.system_id",
                )
                .bind(system)
                .bind(doc_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut out: Vec<SentItem> = Vec::new();
                for (id, kind, from, created, codes, state, fetched, acked) in rows {
                    let a = AddresseeState {
                        codes: codes.split(',').map(str::to_owned).collect(),
                        state,
                        fetched: fetched.is_some(),
                        acked_at: acked.map(millis_rfc3339),
                    };
                    match out.last_mut() {
                        Some(last) if last.doc_id == id => last.addressees.push(a),
                        _ => out.push(SentItem { doc_id: id, message_type: kind, from, created: millis_rfc3339(created), addressees: vec![a] }),
                    }
                }
                Ok(out)
            }

            async fn agencies(&self) -> Result<Vec<Agency>> {
                let rows: Vec<(String, String, String, String, String, String, String)> = sqlx::query_as(
                    "SELECT code, pcode, name, mail, mobile, fax, system_id FROM hub_agencies ORDER BY code",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(code, pcode, name, mail, mobile, fax, system)| Agency { code, pcode, name, mail, mobile, fax, system })
                    .collect())
            }

            async fn agency_system(&self, code: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar::<$Db, String>("SELECT system_id FROM hub_agencies WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn upsert_agency(&self, system: &str, a: &Agency, at: i64) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                let owner: Option<String> = sqlx::query_scalar("SELECT system_id FROM hub_agencies WHERE code = $1")
                    .bind(&a.code)
                    .fetch_optional(&mut *tx)
                    .await?;
                match owner {
                    Some(o) if o != system => return Err(HubStoreError::Conflict("agency_held_by_another_system")),
                    Some(_) => {
                        sqlx::query("UPDATE hub_agencies SET pcode = $1, name = $2, mail = $3, mobile = $4, fax = $5, updated_at = $6 WHERE code = $7")
                            .bind(&a.pcode)
                            .bind(&a.name)
                            .bind(&a.mail)
                            .bind(&a.mobile)
                            .bind(&a.fax)
                            .bind(at)
                            .bind(&a.code)
                            .execute(&mut *tx)
                            .await?;
                    }
                    None => {
                        sqlx::query("INSERT INTO hub_agencies (code, system_id, pcode, name, mail, mobile, fax, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                            .bind(&a.code)
                            .bind(system)
                            .bind(&a.pcode)
                            .bind(&a.name)
                            .bind(&a.mail)
                            .bind(&a.mobile)
                            .bind(&a.fax)
                            .bind(at)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_agency(&self, system: &str, code: &str) -> Result<bool> {
                let r = sqlx::query("DELETE FROM hub_agencies WHERE code = $1 AND system_id = $2")
                    .bind(code)
                    .bind(system)
                    .execute(&self.writer)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn stats(&self) -> Result<HubStats> {
                let packages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hub_packages").fetch_one(&self.pool).await?;
                let agencies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hub_agencies").fetch_one(&self.pool).await?;
                let pending: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT system_id, COUNT(*) FROM hub_addressees WHERE state IN ('pending', 'processing') GROUP BY system_id ORDER BY system_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(HubStats { packages, pending, agencies })
            }
        }
    };
}

fn millis_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// SQLite: readers on a pool, writes queued on one connection (WAL).
pub struct SqliteHubStore {
    pool: sqlx::SqlitePool,
    writer: sqlx::SqlitePool,
}

impl SqliteHubStore {
    /// One node: its long polls are woken in memory.
    async fn announce_in(
        _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        _addressees: &[(String, Vec<String>)],
    ) -> Result<()> {
        Ok(())
    }

    pub async fn open(path: &std::path::Path) -> Result<Self> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A stored package is acknowledged to its sender: its row must survive a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(30));
        // No ping before each use (a connection to a local file does not go stale; the ping is
        // a round trip to the connection's thread). The writer keeps its worker thread, unlike
        // the instance's store: each commit here waits for an fsync (synchronous=FULL), which
        // must not hold up a runtime thread.
        let writer =
            SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(opts.clone()).await?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&writer).await?;
        }
        let pool = SqlitePoolOptions::new().max_connections(8).test_before_acquire(false).connect_with(opts).await?;
        Ok(SqliteHubStore { pool, writer })
    }
}

/// PostgreSQL: one pool (several hub nodes may share the database).
pub struct PgHubStore {
    pool: sqlx::PgPool,
    writer: sqlx::PgPool,
    /// For the replay check: commits without waiting for the WAL to be flushed (a signature
    /// forgotten in a crash could be replayed within its window, as after a restart of a
    /// node that keeps them in memory; each request does not wait for a disk flush).
    seen: sqlx::PgPool,
    /// Calls of [`HubStore::first_use`], to prune expired signatures every so often.
    uses: std::sync::atomic::AtomicU64,
}

impl PgHubStore {
    /// Tells every node, when the transaction commits, for which systems a package arrived.
    async fn announce_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        addressees: &[(String, Vec<String>)],
    ) -> Result<()> {
        let systems: Vec<&str> = addressees.iter().map(|(s, _)| s.as_str()).collect();
        sqlx::query("SELECT pg_notify($1, s) FROM unnest($2::text[]) AS s")
            .bind(CHANNEL)
            .bind(systems)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn connect(url: &str) -> Result<Self> {
        use std::str::FromStr as _;
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect_with(opts.clone()).await?;
        // Two nodes creating the schema at once would race on the catalog: serialise.
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7400102)").execute(&mut *tx).await?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let seen = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(opts.options([("synchronous_commit", "off")]))
            .await?;
        Ok(PgHubStore { writer: pool.clone(), pool, seen, uses: Default::default() })
    }
}

impl_hub_store!(SqliteHubStore, sqlx::Sqlite, "sqlite" {});
impl_hub_store!(PgHubStore, sqlx::Postgres, "postgres" {
    fn shared(&self) -> bool {
        true
    }

    async fn first_use(&self, mac: &str, expires_at: i64, now: i64) -> Result<bool> {
        if self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1024 == 1023 {
            sqlx::query("DELETE FROM hub_seen WHERE expires_at <= $1").bind(now).execute(&self.seen).await?;
        }
        // A new signature is inserted; an expired one is taken over; a live one is a replay.
        let done = sqlx::query(
            "INSERT INTO hub_seen (mac, expires_at) VALUES ($1, $2) \
             ON CONFLICT (mac) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE hub_seen.expires_at <= $3",
        )
        .bind(mac)
        .bind(expires_at)
        .bind(now)
        .execute(&self.seen)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn watch(&self, wake: Wake) -> Result<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(n) => wake(n.payload()),
                    // Reconnected on the next call; what was announced meanwhile is found by
                    // the long polls' periodic look (see `received_list`).
                    Err(e) => {
                        tracing::warn!(error = %e, "the hub's LISTEN connection failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }
});
