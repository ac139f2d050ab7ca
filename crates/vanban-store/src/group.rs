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
//!   writer never undoes another's work. The writer that opens a batch needs no savepoint:
//!   when it fails, the batch holds nothing else and is rolled back whole.
//! - Round trips are what a serial writer pays for on PostgreSQL, so the control statements
//!   travel together: the batch's opening statements in one, a writer's release with the next
//!   writer's savepoint (or with the COMMIT, which releases it anyway), a rollback to the
//!   savepoint with its release.
//! - The audit chain's last hash is known to the batch once one of its writers has read or
//!   appended it (the batch holds the chain's lock, so nobody else can append meanwhile):
//!   `write_audit` reads it from the database only once per batch.
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
//! - BEGIN, savepoints, COMMIT and rollbacks run in spawned tasks that own the lock, so a
//!   caller that goes away (a dropped request) cannot leave the batch half-started or
//!   half-finished.

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
const RELEASE_AND_SAVEPOINT: &str = "RELEASE SAVEPOINT vanban_write; SAVEPOINT vanban_write";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT vanban_write; RELEASE SAVEPOINT vanban_write";

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
    /// What opens a batch, sent in one round trip: `BEGIN IMMEDIATE`, or `BEGIN` and the
    /// audit chain's lock.
    begin: String,
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
    /// Whether the running writer is inside its savepoint (the batch's first writer is not).
    in_savepoint: bool,
    /// Whether the last writer's savepoint is still to be released (with the next writer's
    /// savepoint, or by the COMMIT).
    release_pending: bool,
    /// The audit chain's last hash in this batch's transaction, once read or written.
    audit_tail: Option<String>,
    /// A control statement failed: the transaction may be aborted (where PostgreSQL would
    /// answer COMMIT with a silent rollback), so the batch is rolled back and its members told.
    poisoned: bool,
}

/// One writer's transaction: derefs to the connection, inside the writer's savepoint.
pub(crate) struct WriteTx<DB: Database>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    guard: Option<OwnedMutexGuard<State<DB>>>,
    writer: GroupWriter<DB>,
    /// The batch's audit tail when this writer began (restored if it is rolled back).
    tail_before: Option<String>,
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
    pub(crate) fn new(pool: Pool<DB>, begin: &[&str]) -> Self {
        GroupWriter {
            inner: Arc::new(Inner {
                pool,
                begin: begin.join("; "),
                state: Arc::new(Mutex::new(State { open: None })),
                waiting: AtomicUsize::new(0),
                batches: AtomicU64::new(0),
            }),
        }
    }

    /// Starts a write transaction: joins the open batch or opens one.
    pub(crate) async fn begin(&self) -> crate::Result<WriteTx<DB>> {
        let guard = {
            let _waiting = Waiting::new(&self.inner.waiting);
            self.inner.state.clone().lock_owned().await
        };
        // The batch's control statements run in a task of their own, which owns the lock: a
        // caller that goes away meanwhile (a dropped request) must not leave a connection
        // inside a transaction that holds the write lock (or on PostgreSQL the audit chain's
        // lock) back in the pool, where every later writer would wait for it forever. A
        // batch opened for a caller that is gone is ended by its timer.
        let guard = tokio::spawn(self.clone().enter(guard)).await.map_err(|e| {
            crate::StoreError::Database(sqlx::Error::Protocol(format!("a batch could not start: {e}")))
        })??;
        let tail_before = guard.open.as_ref().and_then(|o| o.audit_tail.clone());
        Ok(WriteTx { guard: Some(guard), writer: self.clone(), tail_before })
    }

    /// Opens a batch (the first writer: no savepoint, see the module's rules) or enters the
    /// open one in a savepoint of its own.
    async fn enter(self, mut guard: OwnedMutexGuard<State<DB>>) -> crate::Result<OwnedMutexGuard<State<DB>>> {
        match guard.open.as_mut() {
            None => {
                let mut conn = self.inner.pool.acquire().await?;
                if let Err(e) = run(&mut conn, &self.inner.begin).await {
                    let _ = run(&mut conn, "ROLLBACK").await;
                    return Err(e.into());
                }
                let id = self.inner.batches.fetch_add(1, Ordering::Relaxed);
                guard.open = Some(Open {
                    id,
                    conn,
                    members: 0,
                    started: Instant::now(),
                    done: watch::channel(None).0,
                    in_savepoint: false,
                    release_pending: false,
                    audit_tail: None,
                    poisoned: false,
                });
                self.arm_timer(id);
            }
            Some(open) => {
                let sql = if open.release_pending { RELEASE_AND_SAVEPOINT } else { SAVEPOINT };
                if let Err(e) = run(&mut open.conn, sql).await {
                    // The batch's transaction is unusable: end it, telling its members.
                    open.poisoned = true;
                    self.finish(guard).await;
                    return Err(e.into());
                }
                open.in_savepoint = true;
                open.release_pending = false;
            }
        }
        Ok(guard)
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
        } else if open.poisoned {
            let _ = run(&mut open.conn, "ROLLBACK").await;
            Err("a control statement of the batch failed".to_owned())
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
    /// The batch's first writer has none: its batch is rolled back whole (it holds nothing
    /// else).
    async fn abandon(self, mut guard: OwnedMutexGuard<State<DB>>, tail_before: Option<String>) {
        let Some(open) = guard.open.as_mut() else { return };
        let undone = open.in_savepoint && run(&mut open.conn, ROLLBACK_TO).await.is_ok();
        open.poisoned |= open.in_savepoint && !undone;
        open.in_savepoint = false;
        open.audit_tail = tail_before;
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

    /// The audit chain's last hash as this batch knows it (`None`: not read yet).
    pub(crate) fn audit_tail(&self) -> Option<&str> {
        self.guard.as_ref().and_then(|g| g.open.as_ref()).and_then(|o| o.audit_tail.as_deref())
    }

    /// Records the hash this writer appended to the audit chain.
    pub(crate) fn set_audit_tail(&mut self, hash: String) {
        if let Some(open) = self.guard.as_mut().and_then(|g| g.open.as_mut()) {
            open.audit_tail = Some(hash);
        }
    }

    /// Keeps this writer's changes; returns when the batch holding them has committed.
    pub(crate) async fn commit(mut self) -> crate::Result<()> {
        let mut guard = self.guard.take().expect("an uncommitted transaction holds the batch");
        let open = guard.open.as_mut().expect("a batch is open");
        // Released with the next writer's savepoint, or by the COMMIT: a failure of either
        // fails the batch, which this writer waits for below.
        open.release_pending = std::mem::take(&mut open.in_savepoint);
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
        let tail_before = self.tail_before.take();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(writer.abandon(guard, tail_before));
            }
            // No runtime (a test tearing down): the open transaction dies with its connection.
            Err(_) => drop(guard),
        }
    }
}
