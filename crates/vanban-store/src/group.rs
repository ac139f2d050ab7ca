//! Group commit: the write transactions that queue for the database while one runs share one
//! database transaction, each inside its own savepoint.
//!
//! Every write in vanban appends to the audit hash chain, so writes are serialised anyway: on
//! SQLite by its single writer, on PostgreSQL by the chain's advisory lock (see
//! `postgres.rs`). What a serial writer pays per transaction — the commit (a WAL sync on
//! PostgreSQL; on SQLite the WAL frames of every page touched, which for an issued document
//! with five recipients is about 90 pages) — is paid here once per *batch*: the pages that
//! consecutive writers touch (the recipients' index pages, the register, the audit chain's
//! tail) are written once.
//!
//! The rules:
//! - A writer takes the batch (a FIFO lock), runs in `SAVEPOINT vanban_write`, and either
//!   releases it ([`WriteTx::commit`]) or is rolled back to it (dropped, e.g. by `?`): a failed
//!   writer never undoes another's work.
//! - After a release, the batch stays open for the next queued writer when there is one (up to
//!   [`MAX_MEMBERS`] writers, and no longer than [`MAX_OPEN`] after it opened); otherwise it
//!   commits. With no queue (one clerk at a time) every transaction commits on its own, at once.
//! - [`WriteTx::commit`] returns only when the batch's COMMIT has returned, with its outcome: a
//!   caller is told "written" only when it is durable, and if the COMMIT fails every member is
//!   told so (nothing of theirs was written).
//! - A writer that ends without committing (an error, or an answer it read) is answered only
//!   when its batch has ended too (`write_tx!` in `sql.rs` awaits [`WriteTx::settled`]): it
//!   may have seen the uncommitted rows of earlier members ("this username is taken"), and
//!   its caller's next read, on another connection, must find them.
//! - COMMIT and rollbacks run in spawned tasks that own the lock, so a caller that goes away
//!   (a dropped request) cannot leave the batch half-finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Executor, Pool};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

/// Most writers in one batch.
pub(crate) const MAX_MEMBERS: usize = 64;
/// Longest a batch stays open (its first writer waits at most about this long for the COMMIT).
pub(crate) const MAX_OPEN: Duration = Duration::from_millis(20);

const SAVEPOINT: &str = "SAVEPOINT vanban_write";
const RELEASE: &str = "RELEASE SAVEPOINT vanban_write";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT vanban_write";

/// The outcome of a batch's COMMIT, as every member sees it.
type Outcome = Option<std::result::Result<(), String>>;

/// Serialises write transactions on one backend and commits them in batches.
pub(crate) struct GroupWriter<DB: Database> {
    inner: Arc<Inner<DB>>,
}

impl<DB: Database> Clone for GroupWriter<DB> {
    fn clone(&self) -> Self {
        GroupWriter { inner: self.inner.clone() }
    }
}

struct Inner<DB: Database> {
    pool: Pool<DB>,
    /// What opens a batch: `BEGIN IMMEDIATE`, or `BEGIN` and the audit chain's lock.
    begin: Vec<String>,
    state: Arc<Mutex<State<DB>>>,
    /// Writers waiting for the lock (not counting the batch timers).
    waiting: AtomicUsize,
    batches: AtomicU64,
}

struct State<DB: Database> {
    open: Option<Open<DB>>,
}

struct Open<DB: Database> {
    id: u64,
    conn: PoolConnection<DB>,
    members: usize,
    started: Instant,
    done: watch::Sender<Outcome>,
}

/// One writer's transaction: derefs to the connection, inside the writer's savepoint.
pub(crate) struct WriteTx<DB: Database>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    guard: Option<OwnedMutexGuard<State<DB>>>,
    writer: GroupWriter<DB>,
}

/// Counts a writer as waiting until it has the lock (or gave up waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run<DB: Database>(conn: &mut PoolConnection<DB>, sql: &str) -> Result<(), sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut **conn).await.map(|_| ())
}

impl<DB: Database> GroupWriter<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub(crate) fn new(pool: Pool<DB>, begin: Vec<String>) -> Self {
        GroupWriter {
            inner: Arc::new(Inner {
                pool,
                begin,
                state: Arc::new(Mutex::new(State { open: None })),
                waiting: AtomicUsize::new(0),
                batches: AtomicU64::new(0),
            }),
        }
    }

    /// Starts a write transaction: joins the open batch or opens one.
    pub(crate) async fn begin(&self) -> crate::Result<WriteTx<DB>> {
        let mut guard = {
            let _waiting = Waiting::new(&self.inner.waiting);
            self.inner.state.clone().lock_owned().await
        };
        if guard.open.is_none() {
            let mut conn = self.inner.pool.acquire().await?;
            for sql in &self.inner.begin {
                if let Err(e) = run(&mut conn, sql).await {
                    let _ = run(&mut conn, "ROLLBACK").await;
                    return Err(e.into());
                }
            }
            let id = self.inner.batches.fetch_add(1, Ordering::Relaxed);
            guard.open = Some(Open { id, conn, members: 0, started: Instant::now(), done: watch::channel(None).0 });
            self.arm_timer(id);
        }
        let open = guard.open.as_mut().expect("a batch is open");
        if let Err(e) = run(&mut open.conn, SAVEPOINT).await {
            // The batch's transaction is unusable: end it with what its members released.
            tokio::spawn(self.clone().finish(guard));
            return Err(e.into());
        }
        Ok(WriteTx { guard: Some(guard), writer: self.clone() })
    }

    /// Ends batch `id` once it has been open [`MAX_OPEN`], in case no writer is left to.
    fn arm_timer(&self, id: u64) {
        let w = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(MAX_OPEN).await;
            let guard = w.inner.state.clone().lock_owned().await;
            if guard.open.as_ref().is_some_and(|o| o.id == id) {
                w.finish(guard).await;
            }
        });
    }

    /// Whether the open batch should wait for the next writer instead of committing now.
    fn keep_open(&self, open: &Open<DB>) -> bool {
        self.inner.waiting.load(Ordering::SeqCst) > 0 && open.members < MAX_MEMBERS && open.started.elapsed() < MAX_OPEN
    }

    /// Commits (or, with no member, rolls back) the open batch and tells its members.
    async fn finish(self, mut guard: OwnedMutexGuard<State<DB>>) {
        let Some(mut open) = guard.open.take() else { return };
        let outcome = if open.members == 0 {
            run(&mut open.conn, "ROLLBACK").await.map_err(|e| e.to_string())
        } else {
            match run(&mut open.conn, "COMMIT").await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = run(&mut open.conn, "ROLLBACK").await;
                    Err(e.to_string())
                }
            }
        };
        if outcome.is_err() {
            // A connection whose transaction state is unknown is not given back to the pool.
            let _ = open.conn.close().await;
        }
        open.done.send_replace(Some(outcome));
        drop(guard);
    }

    /// A writer that did not commit: back to its savepoint, then the batch goes on or ends.
    async fn abandon(self, mut guard: OwnedMutexGuard<State<DB>>) {
        let Some(open) = guard.open.as_mut() else { return };
        let undone = match run(&mut open.conn, ROLLBACK_TO).await {
            Ok(()) => run(&mut open.conn, RELEASE).await.is_ok(),
            Err(_) => false,
        };
        if undone && self.keep_open(open) {
            drop(guard);
        } else {
            self.finish(guard).await;
        }
    }
}

impl<DB: Database> WriteTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Resolves when the batch this writer is in has ended (committed or rolled back): at
    /// once after [`WriteTx::commit`] returned, which waits for that anyway.
    pub(crate) fn settled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let open =
            self.guard.as_ref().and_then(|g| g.open.as_ref()).expect("an uncommitted transaction holds the batch");
        let mut done = open.done.subscribe();
        async move {
            // An error means the batch was dropped without an outcome: it has ended too.
            let _ = done.wait_for(Option::is_some).await;
        }
    }

    /// Keeps this writer's changes; returns when the batch holding them has committed.
    pub(crate) async fn commit(mut self) -> crate::Result<()> {
        let mut guard = self.guard.take().expect("an uncommitted transaction holds the batch");
        let open = guard.open.as_mut().expect("a batch is open");
        if let Err(e) = run(&mut open.conn, RELEASE).await {
            self.guard = Some(guard); // dropped below: rolled back to the savepoint
            return Err(e.into());
        }
        open.members += 1;
        let mut done = open.done.subscribe();
        let writer = self.writer.clone();
        if writer.keep_open(open) {
            drop(guard);
        } else {
            tokio::spawn(writer.finish(guard));
        }
        loop {
            if let Some(outcome) = done.borrow_and_update().clone() {
                return outcome.map_err(|e| {
                    crate::StoreError::Database(sqlx::Error::Protocol(format!("the batch's commit failed: {e}")))
                });
            }
            if done.changed().await.is_err() {
                return Err(crate::StoreError::Database(sqlx::Error::Protocol(
                    "the batch ended without an outcome".to_owned(),
                )));
            }
        }
    }
}

impl<DB: Database> std::ops::Deref for WriteTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.guard.as_ref().and_then(|g| g.open.as_ref()).expect("an uncommitted transaction holds the batch").conn
    }
}

impl<DB: Database> std::ops::DerefMut for WriteTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.guard.as_mut().and_then(|g| g.open.as_mut()).expect("an uncommitted transaction holds the batch").conn
    }
}

impl<DB: Database> Drop for WriteTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else { return };
        let writer = self.writer.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(writer.abandon(guard));
            }
            // No runtime (a test tearing down): the open transaction dies with its connection.
            Err(_) => drop(guard),
        }
    }
}
