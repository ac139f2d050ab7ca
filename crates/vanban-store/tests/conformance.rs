//! The storage conformance suite.
//!
//! Every test is written once, as an `async fn(Ctx)`, and run on both backends by
//! [`conformance!`]: on SQLite in a fresh temporary directory, and on PostgreSQL in a fresh
//! database created on the server named by `VANBAN_TEST_PG_URL` (and dropped afterwards).
//!
//! Without `VANBAN_TEST_PG_URL` the PostgreSQL half is skipped locally, and fails when
//! `CI=true`: CI must prove both backends behave the same.
//!
//! ```sh
//! VANBAN_TEST_PG_URL=postgres://postgres@127.0.0.1:55432/postgres \
//!     cargo test -p vanban-store --test conformance
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sqlx::Connection as _;
use uuid::Uuid;
use vanban_domain::{
    Abbreviation, AgencyCode, AgencyId, AgencyLevel, AgencyName, Caller, DocumentId, DocumentType, DomainError,
    FullName, OutgoingAction, OutgoingMetadata, Role, SigningAuthority, UnitId, UserId, Username,
};
use vanban_store::{
    Actor, AdminScope, AgencyImport, AgencyRecord, AuditEvent, AuditQuery, AuthorityRole, BlobStore, CertKind,
    CertOwner, CertStatus, ChainReport, ImageOwner, KeyProvider, NewAgency, NewAuthority, NewCertificate,
    NewDelegation, NewDraft, NewFile, NewRevision, NewSigningSession, NewUnit, NewUser, PgStore, ReviewDecision,
    RevisionKind, Scope, SessionRecord, SessionState, SigningKind, SqliteStore, Store, StoreError, Transition,
    UserRecord,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// What a conformance test gets: the store under test, and the URL of its database for the
/// tests that go around the store with a raw connection.
struct Ctx {
    store: Arc<dyn Store>,
    url: String,
    backend: &'static str,
}

impl Ctx {
    fn s(&self) -> &dyn Store {
        &*self.store
    }
}

/// Runs one test on a fresh SQLite database in a temporary directory.
async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_dir(dir.path()).await.expect("open the SQLite store");
    assert_eq!(store.backend(), "sqlite");
    let url = format!("sqlite://{}", dir.path().join("vanban.db").display());
    test(Ctx { store: Arc::new(store), url, backend: "sqlite" }).await;
    drop(dir);
}

/// The PostgreSQL server to test on, or `None` when the test is to be skipped.
fn pg_base_url(test: &str) -> Option<String> {
    match std::env::var("VANBAN_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("VANBAN_TEST_PG_URL is not set; CI must run the conformance suite on PostgreSQL");
            }
            println!("skipped {test} on PostgreSQL: VANBAN_TEST_PG_URL is not set");
            None
        }
    }
}

/// `base` with its database name replaced by `db`.
fn with_database(base: &str, db: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let server = match head[authority_start..].find('/') {
        Some(i) => &head[..authority_start + i],
        None => head,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// Runs one test on a fresh PostgreSQL database, dropped afterwards even when the test fails.
async fn run_postgres<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = pg_base_url(name) else { return };
    let db = format!("vanban_t_{}", Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to VANBAN_TEST_PG_URL ({base}): {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {db}: {e}"));
    let url = with_database(&base, &db);
    let outcome = tokio::spawn(async move {
        let store = PgStore::connect(&url).await.expect("connect the PostgreSQL store");
        assert_eq!(store.backend(), "postgres");
        test(Ctx { store: Arc::new(store), url, backend: "postgres" }).await;
    })
    .await;
    // Best effort: a leftover database is harmless, a failed test must still report.
    if let Err(e) =
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&mut admin).await
    {
        eprintln!("could not drop test database {db}: {e}");
    }
    let _ = admin.close().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// Declares each named test on both backends.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                crate::run_sqlite(super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                crate::run_postgres(stringify!($name), super::$name).await;
            }
        }
    )+};
}

conformance!(
    agencies_hierarchy,
    agency_import_is_all_or_nothing,
    units_are_scoped,
    users_are_scoped,
    roles_and_admin_reach,
    bulk_users_are_all_or_nothing,
    login_bookkeeping,
    set_password_clears_lock_and_sessions,
    deactivation_ends_sessions_and_respects_reach,
    delegations_in_force,
    draft_versions_and_comments,
    review_rounds_gate_approval,
    sessions,
    documents_are_scoped,
    document_lifecycle,
    audit_events_are_recorded,
    audit_is_scoped_to_subtree,
    audit_log_is_append_only,
    audit_chain_detects_edits,
    audit_chain_detects_deletions,
    concurrent_audit_appends,
    concurrent_writes,
    cancelled_writers_do_not_stall_the_others,
    a_conflict_is_told_once_the_winner_is_visible,
    concurrent_transitions_of_one_document,
    concurrent_login_failures_are_all_counted,
    concurrent_bulk_imports_conflict_cleanly,
    authorities_are_put_once,
    concurrent_authority_puts_one_wins,
    certificates_are_scoped,
    certificate_revocation,
    concurrent_crl_numbers_are_unique,
    signing_images_upsert,
    revisions_follow_the_head,
    issuing_context_is_the_separate_reads_in_one,
    concurrent_appends_on_one_head,
    signing_session_lifecycle,
);

#[path = "conformance/issuing.rs"]
mod issuing;

/// A raw database connection that bypasses the store.
enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Raw {
    async fn connect(ctx: &Ctx) -> Raw {
        match ctx.backend {
            "sqlite" => {
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&ctx.url).expect("SQLite URL");
                Raw::Sqlite(sqlx::SqliteConnection::connect_with(&opts).await.expect("raw SQLite connection"))
            }
            _ => Raw::Pg(sqlx::PgConnection::connect(&ctx.url).await.expect("raw PostgreSQL connection")),
        }
    }

    async fn exec(&mut self, sql: &'static str) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query(sql).execute(c).await?.rows_affected(),
            Raw::Pg(c) => sqlx::query(sql).execute(c).await?.rows_affected(),
        })
    }

    async fn exec_seq(&mut self, sql: &'static str, seq: i64) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query(sql).bind(seq).execute(c).await?.rows_affected(),
            Raw::Pg(c) => sqlx::query(sql).bind(seq).execute(c).await?.rows_affected(),
        })
    }

    async fn count_audit(&mut self) -> i64 {
        let q = "SELECT COUNT(*) FROM audit_events";
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar(q).fetch_one(c).await.expect("count"),
            Raw::Pg(c) => sqlx::query_scalar(q).fetch_one(c).await.expect("count"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn sys() -> Actor {
    Actor::system("conformance")
}

fn code(s: &str) -> AgencyCode {
    AgencyCode::parse(s).expect("agency code")
}

fn abbr(s: &str) -> Abbreviation {
    Abbreviation::parse(s).expect("abbreviation")
}

fn new_agency(parent: Option<AgencyId>, c: &str, level: AgencyLevel, name: &str) -> NewAgency {
    NewAgency {
        parent_id: parent,
        code: code(c),
        name: AgencyName::parse(name).expect("agency name"),
        parent_name: None,
        abbreviation: abbr("UBND"),
        level,
        place: "Bình An".to_owned(),
    }
}

fn import(parent_code: Option<&str>, c: &str, level: AgencyLevel, name: &str) -> AgencyImport {
    AgencyImport { parent_code: parent_code.map(code), agency: new_agency(None, c, level, name) }
}

/// The agency tree most tests use: a province, one of its departments, a district and one of
/// the district's communes.
struct Tree {
    root: AgencyRecord,
    dept: AgencyRecord,
    district: AgencyRecord,
    commune: AgencyRecord,
}

async fn tree(store: &dyn Store) -> Tree {
    let root = store
        .create_agency(
            &sys(),
            new_agency(None, "000.00.00.H58", AgencyLevel::Provincial, "Ủy ban nhân dân tỉnh Bình An"),
        )
        .await
        .expect("create root");
    let dept = store
        .create_agency(
            &sys(),
            new_agency(Some(root.agency.id), "000.00.01.H58", AgencyLevel::Provincial, "Sở Tài chính"),
        )
        .await
        .expect("create department");
    let district = store
        .create_agency(
            &sys(),
            new_agency(Some(root.agency.id), "000.00.41.H58", AgencyLevel::District, "Ủy ban nhân dân huyện Đông Sơn"),
        )
        .await
        .expect("create district");
    let commune = store
        .create_agency(
            &sys(),
            new_agency(Some(district.agency.id), "001.00.41.H58", AgencyLevel::Commune, "Ủy ban nhân dân xã Đông Hòa"),
        )
        .await
        .expect("create commune");
    Tree { root, dept, district, commune }
}

/// An administrator of `agency` (not backed by a stored user).
fn admin_of(agency: AgencyId) -> Caller {
    Caller { user_id: UserId::from_uuid(Uuid::now_v7()), agency_id: agency, roles: BTreeSet::from([Role::Admin]) }
}

/// A caller of `agency` holding `roles`.
fn caller_in(agency: AgencyId, roles: &[Role]) -> Caller {
    Caller { user_id: UserId::from_uuid(Uuid::now_v7()), agency_id: agency, roles: roles.iter().copied().collect() }
}

fn new_user(agency: AgencyId, username: &str, roles: &[Role]) -> NewUser {
    NewUser {
        agency_id: agency,
        unit_id: None,
        username: Username::parse(username).expect("username"),
        full_name: FullName::parse("Nguyễn Văn An").expect("full name"),
        email: None,
        position: None,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$fake${username}"),
        roles: roles.iter().copied().collect(),
    }
}

/// A stored user and the caller identity they have.
async fn user(store: &dyn Store, agency: AgencyId, username: &str, roles: &[Role]) -> (UserRecord, Caller) {
    let rec = store
        .create_user(&sys(), &AdminScope::whole_instance(), new_user(agency, username, roles))
        .await
        .unwrap_or_else(|e| panic!("create user {username}: {e}"));
    let caller = store.caller_for(rec.user.id).await.expect("caller_for");
    (rec, caller)
}

fn draft(subject: &str) -> NewDraft {
    NewDraft { metadata: OutgoingMetadata::new(DocumentType::CongVan, subject, "Sở Tài chính tỉnh Bình An") }
}

fn act(action: OutgoingAction) -> Transition {
    Transition { action, reason: None }
}

async fn chain(store: &dyn Store) -> ChainReport {
    store.verify_audit_chain().await.expect("verify_audit_chain")
}

/// Every audit event with an agency, oldest first.
async fn all_events(store: &dyn Store) -> Vec<AuditEvent> {
    let mut v = store.list_audit(&AdminScope::whole_instance(), 100_000).await.expect("list_audit");
    v.reverse();
    v
}

fn count_action(events: &[AuditEvent], action: &str) -> usize {
    events.iter().filter(|e| e.action == action).count()
}

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).expect("in range")
}

#[track_caller]
fn expect_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[track_caller]
fn expect_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, code: &str) {
    match r {
        Err(StoreError::Conflict { code: c }) if c == code => {
            assert!(StoreError::conflict_message_vi(code).is_some(), "conflict {code} has no Vietnamese message");
        }
        other => panic!("expected Conflict {{ code: {code:?} }}, got {other:?}"),
    }
}

#[track_caller]
fn expect_domain<T: std::fmt::Debug>(r: Result<T, StoreError>, code: &str) -> DomainError {
    match r {
        Err(StoreError::Domain(e)) if e.code() == code => e,
        other => panic!("expected domain error {code:?}, got {other:?}"),
    }
}

fn codes(list: &[AgencyRecord]) -> Vec<String> {
    list.iter().map(|a| a.agency.code.as_str().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Agencies
// ---------------------------------------------------------------------------------------------

async fn agencies_hierarchy(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;

    // Records as created.
    assert_eq!(t.root.agency.parent_id, None);
    assert_eq!(t.root.path, format!("/{}/", t.root.agency.id));
    assert_eq!(t.dept.agency.parent_id, Some(t.root.agency.id));
    assert_eq!(t.dept.path, format!("{}{}/", t.root.path, t.dept.agency.id));
    assert_eq!(t.commune.path, format!("{}{}/", t.district.path, t.commune.agency.id));
    assert_eq!(t.district.agency.level, AgencyLevel::District);

    // Read back by id and by code.
    for rec in [&t.root, &t.dept, &t.district, &t.commune] {
        let by_id = s.get_agency(rec.agency.id).await.expect("get_agency");
        assert_eq!(by_id.agency, rec.agency);
        assert_eq!(by_id.path, rec.path);
        assert_eq!(by_id.created_at, rec.created_at);
        let by_code = s.get_agency_by_code(&rec.agency.code).await.expect("get_agency_by_code");
        assert_eq!(by_code.agency, rec.agency);
    }
    let commune = s.get_agency_by_code(&code("001.00.41.h58")).await.expect("codes are upper-cased");
    assert_eq!(commune.agency.parent_id, Some(t.district.agency.id));
    assert_eq!(commune.agency.level, AgencyLevel::Commune);
    assert_eq!(commune.agency.name.as_str(), "Ủy ban nhân dân xã Đông Hòa");
    expect_not_found(s.get_agency(AgencyId::from_uuid(Uuid::now_v7())).await);
    expect_not_found(s.get_agency_by_code(&code("000.00.00.H41")).await);

    // The listing walks the tree: every parent before its children.
    let list = s.list_agencies().await.expect("list_agencies");
    assert_eq!(list.len(), 4);
    let pos: BTreeMap<AgencyId, usize> = list.iter().enumerate().map(|(i, a)| (a.agency.id, i)).collect();
    assert_eq!(pos[&t.root.agency.id], 0);
    for a in &list {
        if let Some(p) = a.agency.parent_id {
            assert!(pos[&p] < pos[&a.agency.id], "{} listed before its parent", a.agency.code);
        }
    }
    // Depth-first: each agency's descendants follow it, contiguously.
    for (i, a) in list.iter().enumerate() {
        let below: Vec<usize> =
            list.iter().enumerate().filter(|(j, b)| *j != i && b.path.starts_with(&a.path)).map(|(j, _)| j).collect();
        assert_eq!(
            below,
            ((i + 1)..(i + 1 + below.len())).collect::<Vec<_>>(),
            "subtree of {} is split",
            a.agency.code
        );
    }

    let before_chain = chain(s).await;
    assert_eq!(before_chain.events, 4);

    // A duplicate code conflicts, and nothing is written.
    let dup = s
        .create_agency(
            &sys(),
            new_agency(Some(t.root.agency.id), "000.00.01.H58", AgencyLevel::Provincial, "Sở Tài chính (bản sao)"),
        )
        .await;
    expect_conflict(dup, "duplicate_agency_code");
    let dup_root =
        s.create_agency(&sys(), new_agency(None, "000.00.00.H58", AgencyLevel::Provincial, "Tỉnh khác")).await;
    expect_conflict(dup_root, "duplicate_agency_code");

    // A code that is not under the parent's code.
    let foreign = s
        .create_agency(
            &sys(),
            new_agency(Some(t.root.agency.id), "000.00.01.H41", AgencyLevel::Provincial, "Sở Tài chính tỉnh khác"),
        )
        .await;
    let e = expect_domain(foreign, "code_not_under_parent");
    assert!(matches!(e, DomainError::CodeNotUnderParent { .. }));
    let sideways = s
        .create_agency(
            &sys(),
            new_agency(Some(t.district.agency.id), "001.00.42.H58", AgencyLevel::Commune, "Xã của huyện khác"),
        )
        .await;
    expect_domain(sideways, "code_not_under_parent");

    // A commune cannot parent a provincial agency, nor a district.
    let upside_down = s
        .create_agency(
            &sys(),
            new_agency(Some(t.commune.agency.id), "002.00.41.H58", AgencyLevel::Provincial, "Sở ngược"),
        )
        .await;
    let e = expect_domain(upside_down, "agency_level_mismatch");
    assert_eq!(e, DomainError::AgencyLevelMismatch { parent: "commune", child: "provincial" });
    let under_commune = s
        .create_agency(
            &sys(),
            new_agency(Some(t.commune.agency.id), "001.01.41.H58", AgencyLevel::District, "Huyện ngược"),
        )
        .await;
    expect_domain(under_commune, "agency_level_mismatch");

    // An unknown parent.
    let orphan = s
        .create_agency(
            &sys(),
            new_agency(Some(AgencyId::from_uuid(Uuid::now_v7())), "000.00.02.H58", AgencyLevel::Provincial, "Mồ côi"),
        )
        .await;
    expect_not_found(orphan);

    // None of the refused creations wrote anything.
    let after = s.list_agencies().await.expect("list_agencies");
    assert_eq!(codes(&after), codes(&list));
    let after_chain = chain(s).await;
    assert!(after_chain.is_intact());
    assert_eq!(after_chain.events, before_chain.events);
    assert_eq!(after_chain.head_hash, before_chain.head_hash);

    // Each creation is audited, about the agency created.
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "agency.create"), 4);
    for rec in [&t.root, &t.dept, &t.district, &t.commune] {
        let e = events.iter().find(|e| e.object_id == rec.agency.id.to_string()).expect("agency.create event");
        assert_eq!(e.action, "agency.create");
        assert_eq!(e.object_type, "agency");
        assert_eq!(e.agency_id, Some(rec.agency.id));
        assert_eq!(e.from.as_deref(), Some("conformance"));
        assert_eq!(e.detail["code"], rec.agency.code.as_str());
    }
}

async fn agency_import_is_all_or_nothing(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let before = codes(&s.list_agencies().await.unwrap());
    let before_events = chain(s).await.events;

    let bad_batches: Vec<(Vec<AgencyImport>, &str)> = vec![
        // Third row duplicates a stored code.
        (
            vec![
                import(Some("000.00.00.H58"), "000.00.42.H58", AgencyLevel::District, "Huyện Tây Sơn"),
                import(Some("000.00.42.H58"), "001.00.42.H58", AgencyLevel::Commune, "Xã Tây Hòa"),
                import(Some("000.00.00.H58"), "000.00.01.H58", AgencyLevel::Provincial, "Sở Tài chính (trùng)"),
            ],
            "duplicate_agency_code",
        ),
        // Third row duplicates the first row of the same batch.
        (
            vec![
                import(Some("000.00.00.H58"), "000.00.42.H58", AgencyLevel::District, "Huyện Tây Sơn"),
                import(Some("000.00.42.H58"), "001.00.42.H58", AgencyLevel::Commune, "Xã Tây Hòa"),
                import(Some("000.00.00.H58"), "000.00.42.H58", AgencyLevel::District, "Huyện Tây Sơn (trùng)"),
            ],
            "duplicate_agency_code",
        ),
        // Third row names a parent code nobody has.
        (
            vec![
                import(Some("000.00.00.H58"), "000.00.42.H58", AgencyLevel::District, "Huyện Tây Sơn"),
                import(Some("000.00.42.H58"), "001.00.42.H58", AgencyLevel::Commune, "Xã Tây Hòa"),
                import(Some("000.00.43.H58"), "001.00.43.H58", AgencyLevel::Commune, "Xã không có huyện"),
            ],
            "invalid_value",
        ),
        // Third row breaks the hierarchy rules.
        (
            vec![
                import(Some("000.00.00.H58"), "000.00.42.H58", AgencyLevel::District, "Huyện Tây Sơn"),
                import(Some("000.00.42.H58"), "001.00.42.H58", AgencyLevel::Commune, "Xã Tây Hòa"),
                import(Some("001.00.42.H58"), "002.00.42.H58", AgencyLevel::District, "Huyện dưới xã"),
            ],
            "agency_level_mismatch",
        ),
    ];
    for (batch, expected) in bad_batches {
        let r = s.import_agencies(&sys(), batch).await;
        match r {
            Err(e) => assert_eq!(e.code(), expected, "{e:?}"),
            Ok(n) => panic!("a batch with a bad third row imported {n} rows"),
        }
        assert_eq!(codes(&s.list_agencies().await.unwrap()), before, "a failed import left rows behind");
        let c = chain(s).await;
        assert!(c.is_intact());
        assert_eq!(c.events, before_events, "a failed import left audit events behind");
        expect_not_found(s.get_agency_by_code(&code("000.00.42.H58")).await);
    }

    // A valid batch: parents named by code, stored or earlier in the same batch.
    let n = s
        .import_agencies(
            &sys(),
            vec![
                import(Some("000.00.00.H58"), "000.00.42.H58", AgencyLevel::District, "Huyện Tây Sơn"),
                import(Some("000.00.42.H58"), "001.00.42.H58", AgencyLevel::Commune, "Xã Tây Hòa"),
                import(Some("000.00.42.H58"), "002.00.42.H58", AgencyLevel::Commune, "Xã Tây Bình"),
                import(Some("000.00.41.H58"), "002.00.41.H58", AgencyLevel::Commune, "Xã Đông Bình"),
                import(None, "000.00.00.H41", AgencyLevel::Provincial, "Ủy ban nhân dân tỉnh Khác"),
            ],
        )
        .await
        .expect("valid import");
    assert_eq!(n, 5);
    let district = s.get_agency_by_code(&code("000.00.42.H58")).await.unwrap();
    assert_eq!(district.agency.parent_id, Some(t.root.agency.id));
    assert!(district.path.starts_with(&t.root.path));
    for c in ["001.00.42.H58", "002.00.42.H58"] {
        let commune = s.get_agency_by_code(&code(c)).await.unwrap();
        assert_eq!(commune.agency.parent_id, Some(district.agency.id));
        assert_eq!(commune.path, format!("{}{}/", district.path, commune.agency.id));
    }
    let other = s.get_agency_by_code(&code("002.00.41.H58")).await.unwrap();
    assert_eq!(other.agency.parent_id, Some(t.district.agency.id));
    let root2 = s.get_agency_by_code(&code("000.00.00.H41")).await.unwrap();
    assert_eq!(root2.agency.parent_id, None);

    let list = s.list_agencies().await.unwrap();
    assert_eq!(list.len(), before.len() + 5);
    let c = chain(s).await;
    assert!(c.is_intact());
    assert_eq!(c.events, before_events + 5);
    assert_eq!(count_action(&all_events(s).await, "agency.create"), 9);
    let _ = (t.dept, t.commune);
}

// ---------------------------------------------------------------------------------------------
// 3. Units
// ---------------------------------------------------------------------------------------------

fn new_unit(agency: AgencyId, name: &str, a: &str) -> NewUnit {
    NewUnit { agency_id: agency, parent_id: None, name: name.to_owned(), abbreviation: abbr(a) }
}

async fn units_are_scoped(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let root_admin = admin_of(t.root.agency.id);
    let district_admin = admin_of(t.district.agency.id);
    let root_scope = s.admin_scope(&root_admin).await.expect("admin scope of root");
    assert_eq!(root_scope.agency_id(), t.root.agency.id);
    let district_scope = s.admin_scope(&district_admin).await.expect("admin scope of district");
    assert_eq!(district_scope.agency_id(), t.district.agency.id);
    let actor = Actor::user(&root_admin, Some("203.0.113.7".to_owned()));

    let vp = s
        .create_unit(&actor, &root_scope, new_unit(t.root.agency.id, "  Văn phòng  ", "VP"))
        .await
        .expect("create unit");
    assert_eq!(vp.agency_id, t.root.agency.id);
    assert_eq!(vp.name, "Văn phòng", "the name is trimmed");
    assert_eq!(vp.abbreviation.as_str(), "VP");
    let events = chain(s).await.events;

    // Duplicate abbreviation in the same agency.
    expect_conflict(
        s.create_unit(&actor, &root_scope, new_unit(t.root.agency.id, "Văn phòng 2", "VP")).await,
        "duplicate_unit",
    );
    assert_eq!(chain(s).await.events, events, "a refused unit was audited");

    // Same abbreviation in another agency is fine; the root's admin reaches the district.
    let dvp = s
        .create_unit(&actor, &root_scope, new_unit(t.district.agency.id, "Văn phòng huyện", "VP"))
        .await
        .expect("VP in district");
    assert_eq!(dvp.agency_id, t.district.agency.id);

    // A district admin cannot reach up to the province or sideways to the department.
    let d_actor = Actor::user(&district_admin, None);
    expect_not_found(s.create_unit(&d_actor, &district_scope, new_unit(t.root.agency.id, "Phòng Tổ chức", "TC")).await);
    expect_not_found(s.create_unit(&d_actor, &district_scope, new_unit(t.dept.agency.id, "Phòng Tổ chức", "TC")).await);
    expect_not_found(
        s.create_unit(&d_actor, &district_scope, new_unit(AgencyId::from_uuid(Uuid::now_v7()), "Phòng", "P")).await,
    );
    // …but reaches its own agency and the communes below it.
    let tckh = s
        .create_unit(&d_actor, &district_scope, new_unit(t.district.agency.id, "Phòng Tài chính - Kế hoạch", "TCKH"))
        .await
        .expect("unit in own agency");
    let nested = NewUnit { parent_id: Some(tckh.id), ..new_unit(t.district.agency.id, "Tổ Ngân sách", "NS") };
    let ns = s.create_unit(&d_actor, &district_scope, nested).await.expect("nested unit");
    assert_eq!(ns.parent_id, Some(tckh.id));
    s.create_unit(&d_actor, &district_scope, new_unit(t.commune.agency.id, "Văn phòng xã", "VP"))
        .await
        .expect("unit in commune");
    // The whole instance reaches everything.
    s.create_unit(&sys(), &AdminScope::whole_instance(), new_unit(t.dept.agency.id, "Văn phòng Sở", "VP"))
        .await
        .expect("whole instance");

    // A parent unit from another agency is refused.
    let cross = NewUnit { parent_id: Some(vp.id), ..new_unit(t.district.agency.id, "Tổ lạc", "TL") };
    expect_domain(s.create_unit(&d_actor, &district_scope, cross).await, "invalid_value");
    let ghost = NewUnit {
        parent_id: Some(UnitId::from_uuid(Uuid::now_v7())),
        ..new_unit(t.district.agency.id, "Tổ ma", "TM")
    };
    expect_domain(s.create_unit(&d_actor, &district_scope, ghost).await, "invalid_value");
    // A blank name is refused.
    expect_domain(
        s.create_unit(&d_actor, &district_scope, new_unit(t.district.agency.id, "   ", "TR")).await,
        "field_required",
    );

    // list_units shows the caller's own agency only.
    let root_units = s.list_units(&Scope::of(&caller_in(t.root.agency.id, &[Role::Specialist]))).await.unwrap();
    assert_eq!(root_units.iter().map(|u| u.id).collect::<Vec<_>>(), vec![vp.id]);
    let district_units = s.list_units(&Scope::of(&caller_in(t.district.agency.id, &[Role::Clerk]))).await.unwrap();
    let ids: BTreeSet<UnitId> = district_units.iter().map(|u| u.id).collect();
    assert_eq!(ids, BTreeSet::from([dvp.id, tckh.id, ns.id]));
    assert!(district_units.iter().all(|u| u.agency_id == t.district.agency.id));
    let commune_units = s.list_units(&Scope::of(&caller_in(t.commune.agency.id, &[Role::Clerk]))).await.unwrap();
    assert_eq!(commune_units.len(), 1);
    assert_eq!(commune_units[0].name, "Văn phòng xã");

    // list_units_admin within reach only.
    assert_eq!(s.list_units_admin(&root_scope, t.district.agency.id).await.unwrap().len(), 3);
    assert_eq!(s.list_units_admin(&district_scope, t.commune.agency.id).await.unwrap().len(), 1);
    expect_not_found(s.list_units_admin(&district_scope, t.root.agency.id).await);
    expect_not_found(s.list_units_admin(&district_scope, t.dept.agency.id).await);

    let all = all_events(s).await;
    assert_eq!(count_action(&all, "unit.create"), 6);
    let e = all.iter().find(|e| e.object_id == vp.id.to_string()).expect("unit.create event");
    assert_eq!(e.action, "unit.create");
    assert_eq!(e.agency_id, Some(t.root.agency.id));
    assert_eq!(e.actor_user_id, Some(root_admin.user_id));
    assert_eq!(e.actor_agency_id, Some(t.root.agency.id));
    assert_eq!(e.from.as_deref(), Some("203.0.113.7"));
    assert!(chain(s).await.is_intact());
}

// ---------------------------------------------------------------------------------------------
// 4. Users
// ---------------------------------------------------------------------------------------------

async fn users_are_scoped(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let root_admin = admin_of(t.root.agency.id);
    let root_scope = s.admin_scope(&root_admin).await.unwrap();
    let actor = Actor::user(&root_admin, None);
    let vp = s.create_unit(&actor, &root_scope, new_unit(t.root.agency.id, "Văn phòng", "VP")).await.unwrap();
    let dvp =
        s.create_unit(&actor, &root_scope, new_unit(t.district.agency.id, "Văn phòng huyện", "VP")).await.unwrap();

    let mut nu = new_user(t.root.agency.id, "NguyenVanA", &[Role::Specialist, Role::Leader]);
    nu.unit_id = Some(vp.id);
    nu.email = Some(vanban_domain::Email::parse("an@binhan.gov.vn").unwrap());
    nu.position = Some(vanban_domain::Position::parse("Chuyên viên").unwrap());
    let a = s.create_user(&actor, &root_scope, nu).await.expect("create user");
    assert_eq!(a.user.username.as_str(), "nguyenvana");
    assert_eq!(a.user.agency_id, t.root.agency.id);
    assert_eq!(a.user.unit_id, Some(vp.id));
    assert!(a.user.active);
    assert_eq!(a.roles, BTreeSet::from([Role::Specialist, Role::Leader]));

    let mut nd = new_user(t.district.agency.id, "tranthib", &[Role::Clerk]);
    nd.unit_id = Some(dvp.id);
    let d = s.create_user(&actor, &root_scope, nd).await.expect("user in the district");
    let b = s
        .create_user(&actor, &root_scope, new_user(t.root.agency.id, "lethic", &[]))
        .await
        .expect("user without roles");
    assert!(b.roles.is_empty());

    // Reads through a Scope see the caller's own agency only.
    let root_scope_user = Scope::of(&caller_in(t.root.agency.id, &[Role::Specialist]));
    let district_scope_user = Scope::of(&caller_in(t.district.agency.id, &[Role::Specialist]));
    let got = s.get_user(&root_scope_user, a.user.id).await.expect("same agency");
    assert_eq!(got.user, a.user);
    assert_eq!(got.roles, a.roles);
    assert_eq!(got.created_at, a.created_at);
    expect_not_found(s.get_user(&district_scope_user, a.user.id).await);
    expect_not_found(s.get_user(&root_scope_user, d.user.id).await);
    expect_not_found(s.get_user(&root_scope_user, UserId::from_uuid(Uuid::now_v7())).await);

    let root_users = s.list_users(&root_scope_user).await.unwrap();
    let names: Vec<&str> = root_users.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["lethic", "nguyenvana"], "ordered by username, own agency only");
    assert_eq!(root_users[1].roles, a.roles);
    let district_users = s.list_users(&district_scope_user).await.unwrap();
    assert_eq!(district_users.len(), 1);
    assert_eq!(district_users[0].user, d.user);
    assert_eq!(district_users[0].roles, BTreeSet::from([Role::Clerk]));
    assert!(s.list_users(&Scope::of(&caller_in(t.dept.agency.id, &[]))).await.unwrap().is_empty());

    let count = s.count_users().await.unwrap();
    assert_eq!(count, 3);
    let events = chain(s).await.events;

    // Usernames are unique across the instance (after normalisation).
    expect_conflict(
        s.create_user(&actor, &root_scope, new_user(t.district.agency.id, "  NGUYENVANA ", &[Role::Clerk])).await,
        "duplicate_username",
    );
    // A unit of another agency is refused.
    let mut wrong_unit = new_user(t.root.agency.id, "phamvand", &[]);
    wrong_unit.unit_id = Some(dvp.id);
    expect_domain(s.create_user(&actor, &root_scope, wrong_unit).await, "invalid_value");
    let mut ghost_unit = new_user(t.root.agency.id, "phamvane", &[]);
    ghost_unit.unit_id = Some(UnitId::from_uuid(Uuid::now_v7()));
    expect_domain(s.create_user(&actor, &root_scope, ghost_unit).await, "invalid_value");
    // Nothing was written.
    assert_eq!(s.count_users().await.unwrap(), count);
    assert_eq!(s.find_user_id("phamvand").await.unwrap(), None);
    let c = chain(s).await;
    assert!(c.is_intact());
    assert_eq!(c.events, events);

    assert_eq!(s.find_user_id("nguyenvana").await.unwrap(), Some(a.user.id));
    assert_eq!(s.find_user_id("nobody").await.unwrap(), None);

    let all = all_events(s).await;
    assert_eq!(count_action(&all, "user.create"), 3);
    let e = all.iter().find(|e| e.object_id == a.user.id.to_string()).unwrap();
    assert_eq!(e.action, "user.create");
    assert_eq!(e.object_type, "user");
    assert_eq!(e.agency_id, Some(t.root.agency.id));
    assert_eq!(e.detail["username"], "nguyenvana");
}

async fn roles_and_admin_reach(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (a, a_caller) = user(s, t.root.agency.id, "nguyenvana", &[Role::Specialist, Role::Leader]).await;
    let (d, _) = user(s, t.district.agency.id, "tranthib", &[Role::Clerk]).await;
    let (c, _) = user(s, t.commune.agency.id, "lethic", &[Role::Clerk]).await;
    let (p, _) = user(s, t.dept.agency.id, "phamvand", &[Role::Clerk]).await;

    // caller_for: the agency and the roles held there.
    assert_eq!(a_caller.user_id, a.user.id);
    assert_eq!(a_caller.agency_id, t.root.agency.id);
    assert_eq!(a_caller.roles, BTreeSet::from([Role::Specialist, Role::Leader]));
    expect_not_found(s.caller_for(UserId::from_uuid(Uuid::now_v7())).await);

    // Only administrators get an AdminScope.
    let e = expect_domain(s.admin_scope(&a_caller).await, "forbidden");
    assert_eq!(e, DomainError::Forbidden("manage_users"));
    expect_domain(s.admin_scope(&caller_in(t.root.agency.id, &[])).await, "forbidden");

    // set_roles replaces the set.
    let root_admin = admin_of(t.root.agency.id);
    let root_scope = s.admin_scope(&root_admin).await.unwrap();
    let actor = Actor::user(&root_admin, None);
    s.set_roles(&actor, &root_scope, a.user.id, BTreeSet::from([Role::Clerk, Role::Admin])).await.expect("set_roles");
    let now = s.caller_for(a.user.id).await.unwrap();
    assert_eq!(now.roles, BTreeSet::from([Role::Clerk, Role::Admin]));
    let scope_a = Scope::of(&now);
    assert_eq!(s.get_user(&scope_a, a.user.id).await.unwrap().roles, now.roles);
    // Now an administrator: the user's own AdminScope works.
    assert_eq!(s.admin_scope(&now).await.unwrap().agency_id(), t.root.agency.id);
    s.set_roles(&actor, &root_scope, a.user.id, BTreeSet::new()).await.expect("clear roles");
    assert!(s.caller_for(a.user.id).await.unwrap().roles.is_empty());
    s.set_roles(&actor, &root_scope, a.user.id, BTreeSet::from([Role::Leader])).await.unwrap();
    assert_eq!(s.caller_for(a.user.id).await.unwrap().roles, BTreeSet::from([Role::Leader]));
    // The root admin reaches the commune's users.
    s.set_roles(&actor, &root_scope, c.user.id, BTreeSet::from([Role::Archivist])).await.expect("reach into commune");
    assert_eq!(s.caller_for(c.user.id).await.unwrap().roles, BTreeSet::from([Role::Archivist]));

    let set_roles_events = count_action(&all_events(s).await, "user.set_roles");
    assert_eq!(set_roles_events, 4);

    // A district administrator reaches the district and its communes, nothing above or beside.
    let district_admin = admin_of(t.district.agency.id);
    let ds = s.admin_scope(&district_admin).await.unwrap();
    let events = chain(s).await.events;
    expect_not_found(
        s.set_roles(&Actor::user(&district_admin, None), &ds, a.user.id, BTreeSet::from([Role::Admin])).await,
    );
    assert_eq!(
        s.caller_for(a.user.id).await.unwrap().roles,
        BTreeSet::from([Role::Leader]),
        "refused set_roles changed roles"
    );
    assert_eq!(chain(s).await.events, events);
    expect_not_found(s.set_roles(&sys(), &ds, UserId::from_uuid(Uuid::now_v7()), BTreeSet::new()).await);

    expect_not_found(s.get_user_admin(&ds, a.user.id).await);
    expect_not_found(s.get_user_admin(&ds, p.user.id).await);
    assert_eq!(s.get_user_admin(&ds, d.user.id).await.expect("own agency").user, d.user);
    assert_eq!(s.get_user_admin(&ds, c.user.id).await.expect("child agency").user, c.user);
    assert_eq!(s.get_user_admin(&root_scope, d.user.id).await.expect("child agency").user, d.user);
    assert_eq!(s.get_user_admin(&root_scope, p.user.id).await.expect("child agency").user, p.user);
    expect_not_found(s.get_user_admin(&root_scope, UserId::from_uuid(Uuid::now_v7())).await);

    let listed = s.list_users_admin(&ds, t.commune.agency.id).await.expect("list_users_admin");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user.id, c.user.id);
    expect_not_found(s.list_users_admin(&ds, t.root.agency.id).await);
    expect_not_found(s.list_users_admin(&ds, t.dept.agency.id).await);
    assert_eq!(s.list_users_admin(&root_scope, t.root.agency.id).await.unwrap().len(), 1);

    // An administrator cannot create users outside their reach.
    let count = s.count_users().await.unwrap();
    expect_not_found(
        s.create_user(
            &Actor::user(&district_admin, None),
            &ds,
            new_user(t.root.agency.id, "hoangvang", &[Role::Admin]),
        )
        .await,
    );
    s.create_user(&Actor::user(&district_admin, None), &ds, new_user(t.commune.agency.id, "hoangvanh", &[Role::Clerk]))
        .await
        .expect("create in a commune of the district");
    assert_eq!(s.count_users().await.unwrap(), count + 1);
    assert_eq!(s.find_user_id("hoangvang").await.unwrap(), None);
}

async fn bulk_users_are_all_or_nothing(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (existing, _) = user(s, t.root.agency.id, "nguyenvana", &[Role::Admin]).await;
    let count = s.count_users().await.unwrap();
    let events = chain(s).await.events;

    // Second of three duplicates a stored user.
    let batch = vec![
        new_user(t.root.agency.id, "user.one", &[Role::Clerk]),
        new_user(t.district.agency.id, "nguyenvana", &[Role::Clerk]),
        new_user(t.district.agency.id, "user.three", &[Role::Leader]),
    ];
    expect_conflict(s.create_users(&sys(), batch).await, "duplicate_username");
    // Third duplicates the first of the same batch.
    let batch = vec![
        new_user(t.root.agency.id, "user.one", &[Role::Clerk]),
        new_user(t.root.agency.id, "user.two", &[Role::Clerk]),
        new_user(t.district.agency.id, "USER.ONE", &[]),
    ];
    expect_conflict(s.create_users(&sys(), batch).await, "duplicate_username");
    // Second has a unit of another agency.
    let unit = s
        .create_unit(&sys(), &AdminScope::whole_instance(), new_unit(t.dept.agency.id, "Văn phòng Sở", "VP"))
        .await
        .unwrap();
    let events = events + 1;
    let mut bad = new_user(t.root.agency.id, "user.two", &[]);
    bad.unit_id = Some(unit.id);
    let batch = vec![
        new_user(t.root.agency.id, "user.one", &[Role::Clerk]),
        bad,
        new_user(t.root.agency.id, "user.three", &[]),
    ];
    expect_domain(s.create_users(&sys(), batch).await, "invalid_value");

    assert_eq!(s.count_users().await.unwrap(), count, "a failed bulk creation left users behind");
    assert_eq!(s.find_user_id("user.one").await.unwrap(), None);
    let c = chain(s).await;
    assert!(c.is_intact());
    assert_eq!(c.events, events, "a failed bulk creation left audit events behind");
    let scope = Scope::of(&caller_in(t.root.agency.id, &[]));
    assert_eq!(s.list_users(&scope).await.unwrap().len(), 1);

    // A valid batch.
    let mut with_unit = new_user(t.dept.agency.id, "user.three", &[Role::Clerk, Role::Archivist]);
    with_unit.unit_id = Some(unit.id);
    let batch = vec![
        new_user(t.root.agency.id, "user.one", &[Role::Clerk]),
        new_user(t.district.agency.id, "user.two", &[Role::Leader, Role::UnitHead]),
        with_unit,
    ];
    assert_eq!(s.create_users(&sys(), batch).await.expect("valid batch"), 3);
    assert_eq!(s.count_users().await.unwrap(), count + 3);
    let two = s.find_user_id("user.two").await.unwrap().expect("user.two");
    let caller = s.caller_for(two).await.unwrap();
    assert_eq!(caller.agency_id, t.district.agency.id);
    assert_eq!(caller.roles, BTreeSet::from([Role::Leader, Role::UnitHead]));
    let c = chain(s).await;
    assert!(c.is_intact());
    assert_eq!(c.events, events + 3);
    assert_eq!(count_action(&all_events(s).await, "user.create"), 4);
    let _ = existing;
}

// ---------------------------------------------------------------------------------------------
// 5. Login bookkeeping
// ---------------------------------------------------------------------------------------------

async fn login_bookkeeping(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (a, a_caller) = user(s, t.district.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let (b, _) = user(s, t.district.agency.id, "tranthib", &[Role::Specialist]).await;

    let login = s.find_login("nguyenvana").await.unwrap().expect("find_login");
    assert_eq!(login.user_id, a.user.id);
    assert_eq!(login.agency_id, t.district.agency.id);
    assert_eq!(login.password_hash, new_user(t.district.agency.id, "nguyenvana", &[]).password_hash);
    assert!(login.active);
    assert_eq!(login.failed_logins, 0);
    assert_eq!(login.locked_until, None);
    assert!(s.find_login("nobody").await.unwrap().is_none());

    let now = micros(Utc::now());
    let lock_for = Duration::minutes(15);
    let f1 = s.record_login_failure(a.user.id, now, 3, lock_for, Some("10.0.0.9")).await.expect("failure 1");
    assert_eq!((f1.failed_logins, f1.locked_until), (1, None));
    let failed = s
        .search_audit(
            &AdminScope::whole_instance(),
            &AuditQuery { action: Some("auth.login_failed".into()), ..AuditQuery::newest(5) },
        )
        .await
        .unwrap();
    assert_eq!(failed[0].from.as_deref(), Some("10.0.0.9"), "the failed attempt's address is kept");
    let f2 = s.record_login_failure(a.user.id, now, 3, lock_for, None).await.expect("failure 2");
    assert_eq!((f2.failed_logins, f2.locked_until), (2, None));
    assert_eq!(s.find_login("nguyenvana").await.unwrap().unwrap().failed_logins, 2);
    // The third failure locks the account and resets the counter.
    let f3 = s.record_login_failure(a.user.id, now, 3, lock_for, None).await.expect("failure 3");
    assert_eq!(f3.failed_logins, 0);
    assert_eq!(f3.locked_until, Some(now + lock_for));
    let stored = s.find_login("nguyenvana").await.unwrap().unwrap();
    assert_eq!(stored.failed_logins, 0);
    assert_eq!(stored.locked_until, Some(now + lock_for));
    // Failures of one account do not touch another.
    let other = s.find_login("tranthib").await.unwrap().unwrap();
    assert_eq!((other.failed_logins, other.locked_until), (0, None));
    // A further failure while locked counts again, keeping the lock.
    let f4 = s.record_login_failure(a.user.id, now, 3, lock_for, None).await.unwrap();
    assert_eq!(f4.failed_logins, 1);
    assert_eq!(f4.locked_until, Some(now + lock_for));

    // Success clears both.
    s.record_login_success(&Actor::user(&a_caller, Some("198.51.100.2".to_owned())), a.user.id)
        .await
        .expect("login success");
    let cleared = s.find_login("nguyenvana").await.unwrap().unwrap();
    assert_eq!((cleared.failed_logins, cleared.locked_until), (0, None));

    expect_not_found(s.record_login_failure(UserId::from_uuid(Uuid::now_v7()), now, 3, lock_for, None).await);
    expect_not_found(s.record_login_success(&sys(), UserId::from_uuid(Uuid::now_v7())).await);

    let events = all_events(s).await;
    let failed: Vec<&AuditEvent> = events.iter().filter(|e| e.action == "auth.login_failed").collect();
    assert_eq!(failed.len(), 4);
    assert!(failed.iter().all(|e| e.object_id == a.user.id.to_string() && e.agency_id == Some(t.district.agency.id)));
    assert_eq!(failed.iter().filter(|e| e.detail["locked"] == true).count(), 1);
    let ok: Vec<&AuditEvent> = events.iter().filter(|e| e.action == "auth.login").collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].from.as_deref(), Some("198.51.100.2"));
    assert!(chain(s).await.is_intact());
    let _ = b;
}

fn session(user: UserId, token: &str, expires_in: Duration) -> SessionRecord {
    let now = micros(Utc::now());
    SessionRecord {
        token_hash: format!("{token:0>64}"),
        user_id: user,
        csrf_token: format!("csrf-{token}"),
        created_at: now,
        expires_at: now + expires_in,
        ip: Some("192.0.2.1".to_owned()),
    }
}

async fn set_password_clears_lock_and_sessions(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (a, _) = user(s, t.root.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let (b, _) = user(s, t.root.agency.id, "tranthib", &[Role::Specialist]).await;
    let now = micros(Utc::now());
    for _ in 0..2 {
        s.record_login_failure(a.user.id, now, 2, Duration::hours(1), None).await.unwrap();
    }
    s.record_login_failure(a.user.id, now, 5, Duration::hours(1), None).await.unwrap();
    let locked = s.find_login("nguyenvana").await.unwrap().unwrap();
    assert_eq!(locked.locked_until, Some(now + Duration::hours(1)));
    assert_eq!(locked.failed_logins, 1);

    s.create_session(session(a.user.id, "a1", Duration::hours(8))).await.unwrap();
    s.create_session(session(a.user.id, "a2", Duration::hours(8))).await.unwrap();
    s.create_session(session(b.user.id, "b1", Duration::hours(8))).await.unwrap();

    s.set_password(&sys(), a.user.id, "new-hash".to_owned()).await.expect("set_password");
    let after = s.find_login("nguyenvana").await.unwrap().unwrap();
    assert_eq!(after.password_hash, "new-hash");
    assert_eq!((after.failed_logins, after.locked_until), (0, None));
    assert!(s.get_session(&format!("{:0>64}", "a1")).await.unwrap().is_none());
    assert!(s.get_session(&format!("{:0>64}", "a2")).await.unwrap().is_none());
    assert!(s.get_session(&format!("{:0>64}", "b1")).await.unwrap().is_some(), "another user's session was deleted");
    let other = s.find_login("tranthib").await.unwrap().unwrap();
    assert_ne!(other.password_hash, "new-hash");

    expect_not_found(s.set_password(&sys(), UserId::from_uuid(Uuid::now_v7()), "x".to_owned()).await);
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "user.set_password"), 1);
    assert!(!events.iter().any(|e| e.detail.to_string().contains("new-hash")), "the hash leaked into the audit log");
}

async fn deactivation_ends_sessions_and_respects_reach(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (a, _) = user(s, t.commune.agency.id, "xa.vanthu", &[Role::Clerk]).await;
    let (b, _) = user(s, t.commune.agency.id, "xa.chuyenvien", &[Role::Specialist]).await;
    s.create_session(session(a.user.id, "a1", Duration::hours(8))).await.unwrap();
    s.create_session(session(b.user.id, "b1", Duration::hours(8))).await.unwrap();

    // An administrator of a sibling branch does not reach the commune.
    let dept_admin = s.admin_scope(&admin_of(t.dept.agency.id)).await.unwrap();
    expect_not_found(s.set_active(&sys(), &dept_admin, a.user.id, false).await);
    assert!(s.caller_for(a.user.id).await.is_ok(), "nothing changed");

    // The district's administrator does.
    let district_admin = s.admin_scope(&admin_of(t.district.agency.id)).await.unwrap();
    s.set_active(&sys(), &district_admin, a.user.id, false).await.expect("deactivate");
    assert!(!s.find_login("xa.vanthu").await.unwrap().unwrap().active);
    expect_not_found(s.caller_for(a.user.id).await);
    assert!(s.get_session(&format!("{:0>64}", "a1")).await.unwrap().is_none(), "sessions end with the account");
    assert!(s.get_session(&format!("{:0>64}", "b1")).await.unwrap().is_some(), "another user's session was ended");
    let listed = s.list_users_admin(&district_admin, t.commune.agency.id).await.unwrap();
    assert!(listed.iter().any(|u| u.user.id == a.user.id && !u.user.active), "a deactivated user stays on record");

    s.set_active(&sys(), &district_admin, a.user.id, true).await.expect("reactivate");
    assert_eq!(s.caller_for(a.user.id).await.unwrap().roles, BTreeSet::from([Role::Clerk]));
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "user.deactivate"), 1);
    assert_eq!(count_action(&events, "user.activate"), 1);
    assert!(chain(s).await.is_intact());
}

fn delegation(to: UserId, authority: SigningAuthority, from_days: i64, until_days: i64) -> NewDelegation {
    let now = Utc::now();
    NewDelegation {
        to_user: to,
        authority,
        valid_from: now + Duration::days(from_days),
        valid_until: now + Duration::days(until_days),
        basis: "Giấy ủy quyền số 12/GUQ-STC".to_owned(),
    }
}

async fn delegations_in_force(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let dept = Scope::of(&caller_in(t.dept.agency.id, &[]));
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let (head, head_c) = user(s, t.dept.agency.id, "truongphong", &[Role::UnitHead]).await;
    let (spec, spec_c) = user(s, t.dept.agency.id, "chuyenvien", &[Role::Specialist]).await;
    let (outsider, _) = user(s, t.district.agency.id, "huyen.chuyenvien", &[Role::Specialist]).await;
    let as_user = |c: &Caller| Actor::user(c, None);

    // A leader grants TUQ. to the unit head for a year.
    let tuq = s
        .create_delegation(
            &as_user(&leader),
            &dept,
            delegation(head.user.id, SigningAuthority::ByAuthorisation, -1, 365),
        )
        .await
        .expect("grant");
    assert_eq!(tuq.delegation.from_user, leader.user_id);
    assert_eq!(tuq.to_name, "Nguyễn Văn An");
    let now = Utc::now();
    assert_eq!(s.delegations_to(&dept, head.user.id, now).await.unwrap().len(), 1);
    assert!(s.delegations_to(&dept, head.user.id, now + Duration::days(400)).await.unwrap().is_empty(), "expired");

    // Power held by authorisation cannot be passed on; a specialist holds no power at all.
    expect_domain(
        s.create_delegation(&as_user(&head_c), &dept, delegation(spec.user.id, SigningAuthority::ByOrder, 0, 30)).await,
        "invalid_delegation",
    );
    expect_domain(
        s.create_delegation(&as_user(&spec_c), &dept, delegation(head.user.id, SigningAuthority::ByOrder, 0, 30)).await,
        "forbidden",
    );
    // The grantee must be a colleague of the same agency.
    expect_not_found(
        s.create_delegation(&as_user(&leader), &dept, delegation(outsider.user.id, SigningAuthority::ByOrder, 0, 30))
            .await,
    );
    // A TL. holder may pass TL. on (it is not an authorisation).
    let tl = s
        .create_delegation(&as_user(&leader), &dept, delegation(spec.user.id, SigningAuthority::ByOrder, 0, 30))
        .await
        .unwrap();
    assert_eq!(tl.delegation.received_via, None, "the leader's own power");

    // Scoped: another agency sees none of it.
    let district = Scope::of(&caller_in(t.district.agency.id, &[]));
    assert!(s.list_delegations(&district).await.unwrap().is_empty());
    expect_not_found(s.get_delegation(&district, tuq.delegation.id).await);
    expect_not_found(s.revoke_delegation(&sys(), &district, tuq.delegation.id).await);
    assert_eq!(s.list_delegations(&dept).await.unwrap().len(), 2);

    // Revoked: no longer in force, kept on record; revoking twice is refused.
    let revoked = s.revoke_delegation(&as_user(&leader), &dept, tuq.delegation.id).await.unwrap();
    assert!(revoked.delegation.revoked_at.is_some());
    assert!(s.delegations_to(&dept, head.user.id, Utc::now()).await.unwrap().is_empty());
    expect_domain(s.revoke_delegation(&as_user(&leader), &dept, tuq.delegation.id).await, "invalid_delegation");
    assert!(s.get_delegation(&dept, tuq.delegation.id).await.unwrap().delegation.revoked_at.is_some());
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "delegation.create"), 2);
    assert_eq!(count_action(&events, "delegation.revoke"), 1);
    assert!(chain(s).await.is_intact());
}

async fn draft_versions_and_comments(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (_, spec) = user(s, t.dept.agency.id, "chuyenvien", &[Role::Specialist]).await;
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let scope = Scope::of(&spec);
    let me = Actor::user(&spec, None);
    let doc = s.create_draft(&me, &scope, draft("Dự thảo ban đầu")).await.unwrap();
    let content = |subject: &str, body: &str| serde_json::json!({ "subject": subject, "body": [body] });

    let v1 = s.add_version(&me, &scope, doc.id, content("V/v lập dự toán 2027", "Đoạn một."), None).await.unwrap();
    let v2 = s
        .add_version(
            &me,
            &scope,
            doc.id,
            content("V/v lập dự toán năm 2027", "Đoạn một, sửa."),
            Some("Sửa trích yếu".into()),
        )
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v2.author_name, "Nguyễn Văn An");
    assert_eq!(
        s.get_document(&scope, doc.id).await.unwrap().subject,
        "V/v lập dự toán năm 2027",
        "the subject follows"
    );
    let all = s.list_versions(&scope, doc.id).await.unwrap();
    assert_eq!(all.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(all[0].content["body"][0], "Đoạn một.", "earlier versions are kept as they were");
    assert_eq!(s.get_version(&scope, doc.id, 2).await.unwrap().note.as_deref(), Some("Sửa trích yếu"));
    expect_not_found(s.get_version(&scope, doc.id, 3).await);
    expect_domain(s.add_version(&me, &scope, doc.id, content(&"ạ".repeat(501), "x"), None).await, "field_too_long");
    assert_eq!(s.list_versions(&scope, doc.id).await.unwrap().len(), 2, "nothing written");

    // Comments on a version that exists, by a colleague.
    let c = s.add_comment(&Actor::user(&leader, None), &scope, doc.id, 1, "Bổ sung căn cứ pháp lý.").await.unwrap();
    assert_eq!((c.version, c.body.as_str()), (1, "Bổ sung căn cứ pháp lý."));
    expect_not_found(s.add_comment(&me, &scope, doc.id, 9, "Phiên bản không có").await);
    expect_domain(s.add_comment(&me, &scope, doc.id, 1, "   ").await, "field_required");
    assert_eq!(s.list_comments(&scope, doc.id).await.unwrap().len(), 1);

    // Another agency sees nothing.
    let other = Scope::of(&caller_in(t.district.agency.id, &[Role::Leader]));
    expect_not_found(s.list_versions(&other, doc.id).await);
    expect_not_found(s.list_comments(&other, doc.id).await);
    expect_not_found(s.add_version(&me, &other, doc.id, content("x", "y"), None).await);

    // Once submitted for review, the content is frozen.
    s.transition(&me, &scope, doc.id, act(OutgoingAction::SubmitForReview)).await.unwrap();
    expect_domain(s.add_version(&me, &scope, doc.id, content("x", "y"), None).await, "illegal_transition");
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "document.add_version"), 2);
    assert_eq!(count_action(&events, "document.comment"), 1);
    assert!(chain(s).await.is_intact());
}

async fn review_rounds_gate_approval(ctx: Ctx) {
    use vanban_domain::{ReviewMode, StepState};
    let s = ctx.s();
    let t = tree(s).await;
    let (_, drafter) = user(s, t.dept.agency.id, "chuyenvien", &[Role::Specialist]).await;
    let (_, head) = user(s, t.dept.agency.id, "truongphong", &[Role::UnitHead]).await;
    let (_, deputy) = user(s, t.dept.agency.id, "phogiamdoc", &[Role::Leader]).await;
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let (outsider, _) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    let scope = Scope::of(&drafter);
    let a = |c: &Caller| Actor::user(c, None);
    let doc = s.create_draft(&a(&drafter), &scope, draft("Kế hoạch chuyển đổi số")).await.unwrap();
    let reviewers = vec![head.user_id, deputy.user_id];

    // Nothing to review without content; reviewers must be colleagues.
    expect_domain(
        s.submit_for_review(&a(&drafter), &scope, doc.id, reviewers.clone(), ReviewMode::Sequential).await,
        "empty_draft",
    );
    s.add_version(&a(&drafter), &scope, doc.id, serde_json::json!({ "subject": "Kế hoạch", "body": ["x"] }), None)
        .await
        .unwrap();
    expect_not_found(
        s.submit_for_review(&a(&drafter), &scope, doc.id, vec![outsider.user.id], ReviewMode::Parallel).await,
    );
    expect_domain(
        s.submit_for_review(&a(&drafter), &scope, doc.id, vec![drafter.user_id], ReviewMode::Parallel).await,
        "invalid_value",
    );
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "draft", "nothing written");

    // In sequence: the deputy waits for the unit head.
    s.submit_for_review(&a(&drafter), &scope, doc.id, reviewers.clone(), ReviewMode::Sequential).await.unwrap();
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "in_review");
    assert_eq!(s.review_inbox(&scope, head.user_id).await.unwrap().len(), 1);
    assert!(s.review_inbox(&scope, deputy.user_id).await.unwrap().is_empty());
    expect_domain(
        s.review(&a(&deputy), &scope, doc.id, ReviewDecision::Approve { initials: true }).await,
        "illegal_transition",
    );
    // The leader cannot approve before the reviewers have.
    expect_domain(s.transition(&a(&leader), &scope, doc.id, act(OutgoingAction::Approve)).await, "illegal_transition");
    let step = s.review(&a(&head), &scope, doc.id, ReviewDecision::Approve { initials: true }).await.unwrap();
    assert_eq!((step.state, step.initialled, step.version), (StepState::Approved, true, Some(1)));
    // The deputy returns it, with the reason: the draft goes back; the round is over.
    expect_domain(
        s.review(&a(&deputy), &scope, doc.id, ReviewDecision::Return { reason: " ".into() }).await,
        "field_required",
    );
    s.review(&a(&deputy), &scope, doc.id, ReviewDecision::Return { reason: "Bổ sung kinh phí".into() }).await.unwrap();
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "draft");

    // A new round, in parallel: both at once; then the leader may approve.
    s.add_version(&a(&drafter), &scope, doc.id, serde_json::json!({ "subject": "Kế hoạch", "body": ["y"] }), None)
        .await
        .unwrap();
    s.submit_for_review(&a(&drafter), &scope, doc.id, reviewers.clone(), ReviewMode::Parallel).await.unwrap();
    assert_eq!(s.review_inbox(&scope, deputy.user_id).await.unwrap().len(), 1);
    s.review(&a(&deputy), &scope, doc.id, ReviewDecision::Approve { initials: false }).await.unwrap();
    expect_domain(
        s.review(&a(&deputy), &scope, doc.id, ReviewDecision::Approve { initials: false }).await,
        "forbidden",
    );
    expect_domain(s.transition(&a(&leader), &scope, doc.id, act(OutgoingAction::Approve)).await, "illegal_transition");
    s.review(&a(&head), &scope, doc.id, ReviewDecision::Approve { initials: true }).await.unwrap();
    s.transition(&a(&leader), &scope, doc.id, act(OutgoingAction::Approve)).await.expect("approve after review");
    let steps = s.review_steps(&scope, doc.id).await.unwrap();
    assert_eq!(steps.iter().map(|x| x.round).collect::<Vec<_>>(), [1, 1, 2, 2]);
    assert_eq!(steps[1].reason.as_deref(), Some("Bổ sung kinh phí"));
    assert_eq!(steps[2].version, Some(2), "the second round reviewed the second version");
    let other = Scope::of(&caller_in(t.district.agency.id, &[Role::Leader]));
    expect_not_found(s.review_steps(&other, doc.id).await);
    expect_not_found(
        s.review(
            &Actor::user(&caller_in(t.district.agency.id, &[]), None),
            &other,
            doc.id,
            ReviewDecision::Approve { initials: true },
        )
        .await,
    );
    assert!(chain(s).await.is_intact());
}

// ---------------------------------------------------------------------------------------------
// 6. Sessions
// ---------------------------------------------------------------------------------------------

async fn sessions(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (a, _) = user(s, t.root.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let live = session(a.user.id, "live", Duration::hours(8));
    let expired = session(a.user.id, "expired", Duration::minutes(-1));
    let long_expired = session(a.user.id, "old", Duration::days(-3));
    for x in [&live, &expired, &long_expired] {
        s.create_session(x.clone()).await.expect("create_session");
    }
    let got = s.get_session(&live.token_hash).await.unwrap().expect("get_session");
    assert_eq!(got.token_hash, live.token_hash);
    assert_eq!(got.user_id, a.user.id);
    assert_eq!(got.csrf_token, live.csrf_token);
    assert_eq!(got.created_at, live.created_at);
    assert_eq!(got.expires_at, live.expires_at);
    assert_eq!(got.ip, live.ip);
    assert!(s.get_session("nope").await.unwrap().is_none());

    // A token hash is unique.
    assert!(s.create_session(live.clone()).await.is_err(), "a duplicate session token was accepted");

    let now = Utc::now();
    assert_eq!(s.purge_sessions(now).await.unwrap(), 2);
    assert!(s.get_session(&live.token_hash).await.unwrap().is_some());
    assert!(s.get_session(&expired.token_hash).await.unwrap().is_none());
    assert!(s.get_session(&long_expired.token_hash).await.unwrap().is_none());
    assert_eq!(s.purge_sessions(now).await.unwrap(), 0);

    s.delete_session(&live.token_hash).await.unwrap();
    assert!(s.get_session(&live.token_hash).await.unwrap().is_none());
    s.delete_session(&live.token_hash).await.expect("deleting twice is fine");

    // An expiry later than now is kept, one at or before is purged.
    let mut later = session(a.user.id, "later", Duration::seconds(30));
    later.ip = None;
    s.create_session(later.clone()).await.unwrap();
    assert_eq!(s.get_session(&later.token_hash).await.unwrap().unwrap().ip, None);
    assert_eq!(s.purge_sessions(later.expires_at - Duration::seconds(1)).await.unwrap(), 0);
    assert_eq!(s.purge_sessions(later.expires_at + Duration::seconds(1)).await.unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// 7. Documents
// ---------------------------------------------------------------------------------------------

async fn documents_are_scoped(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (_, drafter) = user(s, t.dept.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let (_, other) = user(s, t.root.agency.id, "tranthib", &[Role::Specialist, Role::Leader]).await;
    let scope_a = Scope::of(&drafter);
    let scope_b = Scope::of(&other);
    let actor = Actor::user(&drafter, Some("10.0.0.5".to_owned()));

    let mut meta = OutgoingMetadata::new(
        DocumentType::CongVan,
        "  Về việc báo cáo tình hình thu ngân sách quý I  ",
        "Sở Tài chính",
    );
    meta.page_amount = Some(2);
    let doc = s.create_draft(&actor, &scope_a, NewDraft { metadata: meta }).await.expect("create_draft");
    assert_eq!(doc.agency_id, t.dept.agency.id);
    assert_eq!(doc.state, "draft");
    assert_eq!(doc.direction, vanban_store::Direction::Outgoing);
    assert_eq!(doc.doc_type, DocumentType::CongVan);
    assert_eq!(doc.subject, "Về việc báo cáo tình hình thu ngân sách quý I", "the subject is validated and trimmed");
    assert_eq!(doc.created_by, drafter.user_id);
    assert_eq!(doc.metadata["subject"], doc.subject.as_str());
    assert_eq!(doc.metadata["page_amount"], 2);

    let got = s.get_document(&scope_a, doc.id).await.expect("get_document in own agency");
    assert_eq!(got.id, doc.id);
    assert_eq!(got.agency_id, doc.agency_id);
    assert_eq!(got.state, doc.state);
    assert_eq!(got.subject, doc.subject);
    assert_eq!(got.metadata, doc.metadata);
    assert_eq!(got.created_by, doc.created_by);
    assert_eq!(got.created_at, doc.created_at);
    assert_eq!(got.updated_at, doc.updated_at);
    let back: OutgoingMetadata = serde_json::from_value(got.metadata.clone()).expect("stored metadata parses");
    assert_eq!(back.page_amount, Some(2));

    // The parent agency does not see its department's documents.
    expect_not_found(s.get_document(&scope_b, doc.id).await);
    expect_not_found(s.get_document(&scope_a, DocumentId::from_uuid(Uuid::now_v7())).await);
    let second = s.create_draft(&actor, &scope_a, draft("Về việc thứ hai")).await.unwrap();
    let b_doc = s.create_draft(&Actor::user(&other, None), &scope_b, draft("Văn bản của tỉnh")).await.unwrap();

    let list_a = s.list_documents(&scope_a, None, 100).await.unwrap();
    let ids: BTreeSet<DocumentId> = list_a.iter().map(|d| d.id).collect();
    assert_eq!(ids, BTreeSet::from([doc.id, second.id]));
    assert_eq!(s.list_documents(&scope_a, Some("draft"), 100).await.unwrap().len(), 2);
    assert!(s.list_documents(&scope_a, Some("in_review"), 100).await.unwrap().is_empty());
    assert_eq!(s.list_documents(&scope_a, None, 1).await.unwrap().len(), 1, "limit");
    let list_b = s.list_documents(&scope_b, None, 100).await.unwrap();
    assert_eq!(list_b.iter().map(|d| d.id).collect::<Vec<_>>(), vec![b_doc.id]);
    assert!(s.list_documents(&Scope::of(&caller_in(t.district.agency.id, &[])), None, 100).await.unwrap().is_empty());

    let events = chain(s).await.events;
    // Invalid metadata: nothing written.
    let e = expect_domain(s.create_draft(&actor, &scope_a, draft(&"a".repeat(501))).await, "field_too_long");
    assert!(matches!(e, DomainError::FieldTooLong { max: 500, actual: 501, .. }), "{e:?}");
    expect_domain(s.create_draft(&actor, &scope_a, draft("   ")).await, "field_required");
    // A draft needs a drafter.
    expect_domain(s.create_draft(&sys(), &scope_a, draft("Không có người soạn")).await, "field_required");
    assert_eq!(s.list_documents(&scope_a, None, 100).await.unwrap().len(), 2);
    assert_eq!(chain(s).await.events, events);

    // Another agency cannot move a document.
    expect_not_found(
        s.transition(&Actor::user(&other, None), &scope_b, doc.id, act(OutgoingAction::SubmitForReview)).await,
    );
    assert_eq!(s.get_document(&scope_a, doc.id).await.unwrap().state, "draft");
    assert_eq!(chain(s).await.events, events);

    let all = all_events(s).await;
    let e = all.iter().find(|e| e.object_id == doc.id.to_string()).expect("document.create_draft event");
    assert_eq!(e.action, "document.create_draft");
    assert_eq!(e.object_type, "document");
    assert_eq!(e.agency_id, Some(t.dept.agency.id));
    assert_eq!(e.actor_user_id, Some(drafter.user_id));
    assert_eq!(e.from.as_deref(), Some("10.0.0.5"));
    assert_eq!(count_action(&all, "document.create_draft"), 3);
}

async fn document_lifecycle(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (_, drafter) = user(s, t.district.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let (_, leader) = user(s, t.district.agency.id, "tranthib", &[Role::Leader]).await;
    let (_, outsider) = user(s, t.commune.agency.id, "lethic", &[Role::Leader]).await;
    let scope = Scope::of(&drafter);
    let by_drafter = Actor::user(&drafter, None);
    let by_leader = Actor::user(&leader, None);

    let doc = s.create_draft(&by_drafter, &scope, draft("Về việc tổ chức hội nghị")).await.unwrap();
    let idle = s.create_draft(&by_drafter, &scope, draft("Dự thảo chưa gửi")).await.unwrap();

    let r = s.transition(&by_drafter, &scope, doc.id, act(OutgoingAction::SubmitForReview)).await.expect("submit");
    assert_eq!(r.state, "in_review");
    assert!(r.updated_at >= doc.updated_at);
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "in_review");

    let events = chain(s).await.events;
    // Returning needs a reason; a blank one is none.
    for reason in [None, Some(""), Some("   ")] {
        let tr = Transition { action: OutgoingAction::ReturnToDrafter, reason: reason.map(str::to_owned) };
        let e = expect_domain(s.transition(&by_leader, &scope, doc.id, tr).await, "field_required");
        assert_eq!(e, DomainError::FieldRequired { field: "reason" });
    }
    let too_long = Transition { action: OutgoingAction::ReturnToDrafter, reason: Some("x".repeat(501)) };
    expect_domain(s.transition(&by_leader, &scope, doc.id, too_long).await, "field_too_long");
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "in_review");
    assert_eq!(chain(s).await.events, events);

    let back =
        Transition { action: OutgoingAction::ReturnToDrafter, reason: Some("  Sửa lại trích yếu ".to_owned()) };
    assert_eq!(s.transition(&by_leader, &scope, doc.id, back).await.expect("return").state, "draft");
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "draft");
    assert_eq!(
        s.transition(&by_drafter, &scope, doc.id, act(OutgoingAction::SubmitForReview)).await.unwrap().state,
        "in_review"
    );
    let approved = s.transition(&by_leader, &scope, doc.id, act(OutgoingAction::Approve)).await.expect("approve");
    assert_eq!(approved.state, "approved");
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "approved");

    // Illegal actions change nothing.
    let events = chain(s).await.events;
    for a in [OutgoingAction::Sign, OutgoingAction::Approve, OutgoingAction::Issue, OutgoingAction::Revoke] {
        let e = expect_domain(s.transition(&by_leader, &scope, idle.id, act(a)).await, "illegal_transition");
        assert_eq!(e, DomainError::IllegalTransition { from: "draft", action: a.as_str() });
    }
    expect_domain(s.transition(&by_leader, &scope, doc.id, act(OutgoingAction::Approve)).await, "illegal_transition");
    expect_domain(
        s.transition(&by_leader, &scope, doc.id, act(OutgoingAction::SubmitForReview)).await,
        "illegal_transition",
    );
    assert_eq!(s.get_document(&scope, idle.id).await.unwrap().state, "draft");
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "approved");
    // Out of scope and unknown documents.
    expect_not_found(
        s.transition(&Actor::user(&outsider, None), &Scope::of(&outsider), doc.id, act(OutgoingAction::Sign)).await,
    );
    expect_not_found(
        s.transition(&by_leader, &scope, DocumentId::from_uuid(Uuid::now_v7()), act(OutgoingAction::Sign)).await,
    );
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "approved");
    assert_eq!(chain(s).await.events, events);

    // The rest of the path to issue.
    for (a, state) in [
        (OutgoingAction::Sign, "signed"),
        (OutgoingAction::AssignNumber, "numbered"),
        (OutgoingAction::Issue, "issued"),
        (OutgoingAction::Update, "issued"),
    ] {
        assert_eq!(s.transition(&by_leader, &scope, doc.id, act(a)).await.unwrap().state, state);
    }

    let counts: BTreeMap<String, i64> =
        s.count_by_state(&scope).await.unwrap().into_iter().map(|c| (c.state, c.count)).collect();
    assert_eq!(counts, BTreeMap::from([("draft".to_owned(), 1), ("issued".to_owned(), 1)]));
    assert!(s.count_by_state(&Scope::of(&outsider)).await.unwrap().is_empty());
    assert_eq!(s.list_documents(&scope, Some("issued"), 10).await.unwrap().len(), 1);

    let all = all_events(s).await;
    let about: Vec<&AuditEvent> = all.iter().filter(|e| e.object_id == doc.id.to_string()).collect();
    let actions: Vec<&str> = about.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "document.create_draft",
            "document.submit_for_review",
            "document.return_to_drafter",
            "document.submit_for_review",
            "document.approve",
            "document.sign",
            "document.assign_number",
            "document.issue",
            "document.update",
        ]
    );
    let ret = about[2];
    assert_eq!(ret.detail["reason"], "Sửa lại trích yếu");
    assert_eq!(ret.detail["from"], "in_review");
    assert_eq!(ret.detail["to"], "draft");
    assert_eq!(ret.actor_user_id, Some(leader.user_id));
    assert_eq!(about[4].detail["to"], "approved");
    assert!(chain(s).await.is_intact());
}

// ---------------------------------------------------------------------------------------------
// 8. Audit
// ---------------------------------------------------------------------------------------------

async fn audit_events_are_recorded(ctx: Ctx) {
    let s = ctx.s();
    assert_eq!(chain(s).await.events, 0);
    assert_eq!(chain(s).await.head_hash, vanban_store::AUDIT_GENESIS);
    let t = tree(s).await;
    let (_, spec) = user(s, t.root.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let scope = Scope::of(&spec);
    let actor = Actor {
        on_behalf_of: Some(UserId::from_uuid(Uuid::now_v7())),
        ..Actor::user(&spec, Some("10.1.2.3".to_owned()))
    };
    let doc = s.create_draft(&actor, &scope, draft("Về việc kiểm tra nhật ký")).await.unwrap();
    s.transition(&actor, &scope, doc.id, act(OutgoingAction::SubmitForReview)).await.unwrap();
    s.append_audit(
        &actor,
        Some(t.root.agency.id),
        "auth.logout",
        "user",
        &spec.user_id.to_string(),
        serde_json::json!({"why": "bấm đăng xuất"}),
    )
    .await
    .unwrap();
    s.append_audit(&sys(), None, "system.start", "system", "-", serde_json::json!({})).await.unwrap();

    let report = chain(s).await;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 4 + 1 + 2 + 2);

    // Events with an agency are listed newest first, linked hash to hash.
    let newest_first = s.list_audit(&AdminScope::whole_instance(), 100).await.unwrap();
    assert_eq!(newest_first.len(), 8, "the event without an agency is in no agency's log");
    assert!(newest_first.windows(2).all(|w| w[0].seq > w[1].seq));
    let actions: Vec<&str> = newest_first.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "agency.create",
            "agency.create",
            "agency.create",
            "agency.create",
            "user.create",
            "document.create_draft",
            "document.submit_for_review",
            "auth.logout",
        ]
    );
    let oldest = newest_first.last().unwrap();
    assert_eq!(oldest.prev_hash, vanban_store::AUDIT_GENESIS);
    for w in newest_first.windows(2) {
        assert_eq!(w[0].prev_hash, w[1].hash, "events {} and {} are not linked", w[1].seq, w[0].seq);
        assert_eq!(w[0].hash.len(), 64);
    }
    assert_ne!(report.head_hash, newest_first[0].hash, "the system event is the head");
    let logout = &newest_first[0];
    assert_eq!(logout.actor_user_id, Some(spec.user_id));
    assert_eq!(logout.actor_username.as_deref(), Some("nguyenvana"), "listed with the actor's username");
    assert!(newest_first.iter().filter(|e| e.action == "agency.create").all(|e| e.actor_username.is_none()));
    assert_eq!(logout.actor_agency_id, Some(t.root.agency.id));
    assert_eq!(logout.on_behalf_of, actor.on_behalf_of);
    assert_eq!(logout.from.as_deref(), Some("10.1.2.3"));
    assert_eq!(logout.detail, serde_json::json!({"why": "bấm đăng xuất"}));
    assert_eq!(logout.object_type, "user");

    // The limit keeps the newest.
    let two = s.list_audit(&AdminScope::whole_instance(), 2).await.unwrap();
    assert_eq!(two.iter().map(|e| e.seq).collect::<Vec<_>>(), [newest_first[0].seq, newest_first[1].seq]);

    // Filters combine; a page continues below the last event seen.
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery::newest(100);
        f(&mut q);
        q
    };
    let seqs = |v: Vec<AuditEvent>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    let whole = AdminScope::whole_instance();
    let by_actor = s.search_audit(&whole, &q(|q| q.actor = Some("nguyenvana".into()))).await.unwrap();
    assert!(!by_actor.is_empty() && by_actor.iter().all(|e| e.actor_username.as_deref() == Some("nguyenvana")));
    assert_eq!(
        by_actor.len(),
        newest_first.iter().filter(|e| e.actor_username.as_deref() == Some("nguyenvana")).count()
    );
    let family = s.search_audit(&whole, &q(|q| q.action = Some("document.".into()))).await.unwrap();
    assert_eq!(
        family.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["document.submit_for_review", "document.create_draft"]
    );
    let exact = s.search_audit(&whole, &q(|q| q.action = Some("document.create_draft".into()))).await.unwrap();
    assert_eq!(exact.len(), 1);
    assert!(
        s.search_audit(&whole, &q(|q| q.action = Some("document".into()))).await.unwrap().is_empty(),
        "a code without its dot is exact"
    );
    assert!(
        s.search_audit(&whole, &q(|q| q.action = Some("%.".into()))).await.unwrap().is_empty(),
        "wildcards are literal"
    );
    let object = exact[0].object_id.clone();
    let history = s
        .search_audit(&whole, &AuditQuery { object_id: Some(object.clone()), ..AuditQuery::newest(100) })
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "a document's id lists its whole history");
    assert!(history.iter().all(|e| e.object_id == object));
    let page = s
        .search_audit(&whole, &AuditQuery { before_seq: Some(newest_first[2].seq), ..AuditQuery::newest(3) })
        .await
        .unwrap();
    assert_eq!(seqs(page), seqs(newest_first[3..6].to_vec()));
    let at = newest_first[4].at;
    let since = s.search_audit(&whole, &AuditQuery { from: Some(at), ..AuditQuery::newest(100) }).await.unwrap();
    assert!(since.iter().all(|e| e.at >= at) && since.iter().any(|e| e.seq == newest_first[4].seq));
    let before = s.search_audit(&whole, &AuditQuery { until: Some(at), ..AuditQuery::newest(100) }).await.unwrap();
    assert!(before.iter().all(|e| e.at < at) && !before.iter().any(|e| e.seq == newest_first[4].seq));
    assert_eq!(since.len() + before.len(), newest_first.len());

    // A failing write leaves the chain as it was; the next one links to the head.
    let head = chain(s).await.head_hash;
    assert!(
        s.create_user(&sys(), &AdminScope::whole_instance(), new_user(t.root.agency.id, "nguyenvana", &[]))
            .await
            .is_err()
    );
    assert_eq!(chain(s).await.head_hash, head);
    s.append_audit(&sys(), Some(t.dept.agency.id), "test.after", "test", "1", serde_json::json!({"n": 1}))
        .await
        .unwrap();
    let after = s.list_audit(&AdminScope::whole_instance(), 1).await.unwrap();
    assert_eq!(after[0].action, "test.after");
    assert_eq!(after[0].prev_hash, head);
    let report = chain(s).await;
    assert!(report.is_intact());
    assert_eq!(report.events, 10);
    assert_eq!(report.head_hash, after[0].hash);
}

async fn audit_is_scoped_to_subtree(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let whole = AdminScope::whole_instance();
    for a in [&t.root, &t.dept, &t.district, &t.commune] {
        s.create_unit(&sys(), &whole, new_unit(a.agency.id, "Văn phòng", "VP")).await.unwrap();
        s.append_audit(
            &sys(),
            Some(a.agency.id),
            "test.event",
            "agency",
            &a.agency.id.to_string(),
            serde_json::json!({}),
        )
        .await
        .unwrap();
    }
    let district_admin = admin_of(t.district.agency.id);
    let ds = s.admin_scope(&district_admin).await.unwrap();
    let events = s.list_audit(&ds, 1000).await.unwrap();
    let subtree = BTreeSet::from([t.district.agency.id, t.commune.agency.id]);
    assert_eq!(events.len(), 6, "agency.create, unit.create and test.event for each of two agencies");
    assert!(
        events.iter().all(|e| e.agency_id.is_some_and(|a| subtree.contains(&a))),
        "an event outside the subtree leaked"
    );
    assert!(events.iter().any(|e| e.agency_id == Some(t.commune.agency.id)));

    let commune_admin = admin_of(t.commune.agency.id);
    let cs = s.admin_scope(&commune_admin).await.unwrap();
    let events = s.list_audit(&cs, 1000).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.agency_id == Some(t.commune.agency.id)));

    let dept_admin = admin_of(t.dept.agency.id);
    let events = s.list_audit(&s.admin_scope(&dept_admin).await.unwrap(), 1000).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.agency_id == Some(t.dept.agency.id)));

    let root_admin = admin_of(t.root.agency.id);
    assert_eq!(s.list_audit(&s.admin_scope(&root_admin).await.unwrap(), 1000).await.unwrap().len(), 12);
    assert_eq!(s.list_audit(&whole, 1000).await.unwrap().len(), 12);
    let report = chain(s).await;
    assert!(report.is_intact());
    assert_eq!(report.events, 12);
}

async fn audit_log_is_append_only(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let before = chain(s).await;
    assert_eq!(before.events, 4);
    let mut raw = Raw::connect(&ctx).await;
    assert_eq!(raw.count_audit().await, 4);

    let upd = raw.exec("UPDATE audit_events SET action = 'x'").await;
    assert!(upd.is_err(), "UPDATE of audit_events succeeded: {upd:?}");
    let upd_one = raw.exec_seq("UPDATE audit_events SET detail = '{}' WHERE seq = $1", 2).await;
    assert!(upd_one.is_err(), "UPDATE of one audit event succeeded: {upd_one:?}");
    let del = raw.exec("DELETE FROM audit_events").await;
    assert!(del.is_err(), "DELETE FROM audit_events succeeded: {del:?}");
    let del_one = raw.exec_seq("DELETE FROM audit_events WHERE seq = $1", 4).await;
    assert!(del_one.is_err(), "DELETE of one audit event succeeded: {del_one:?}");
    if ctx.backend == "postgres" {
        let trunc = raw.exec("TRUNCATE audit_events").await;
        assert!(trunc.is_err(), "TRUNCATE audit_events succeeded: {trunc:?}");
    }

    assert_eq!(raw.count_audit().await, 4);
    let after = chain(s).await;
    assert!(after.is_intact());
    assert_eq!(after.events, before.events);
    assert_eq!(after.head_hash, before.head_hash);
    assert!(all_events(s).await.iter().all(|e| e.action == "agency.create"));
    // The store still appends after the refused statements.
    s.append_audit(&sys(), Some(t.root.agency.id), "test.after", "test", "1", serde_json::json!({})).await.unwrap();
    assert_eq!(chain(s).await.events, 5);
}

/// Events for the tamper tests: the tree, then a few more.
async fn tamper_fixture(s: &dyn Store) -> Vec<AuditEvent> {
    let t = tree(s).await;
    for i in 0..4 {
        s.append_audit(
            &sys(),
            Some(t.district.agency.id),
            "test.event",
            "test",
            &i.to_string(),
            serde_json::json!({"i": i}),
        )
        .await
        .unwrap();
    }
    let events = all_events(s).await;
    assert_eq!(events.len(), 8);
    assert!(chain(s).await.is_intact());
    events
}

async fn audit_chain_detects_edits(ctx: Ctx) {
    let s = ctx.s();
    let events = tamper_fixture(s).await;
    let victim = events[5].seq;
    let mut raw = Raw::connect(&ctx).await;
    match ctx.backend {
        "sqlite" => raw.exec("DROP TRIGGER audit_events_no_update").await.expect("drop trigger"),
        _ => raw.exec("DROP TRIGGER audit_events_no_update ON audit_events").await.expect("drop trigger"),
    };
    let n = raw
        .exec_seq("UPDATE audit_events SET detail = '{\"i\":99}' WHERE seq = $1", victim)
        .await
        .expect("UPDATE without the trigger");
    assert_eq!(n, 1);
    let report = chain(s).await;
    assert_eq!(report.events, 8);
    assert_eq!(report.first_broken_seq, Some(victim));
    assert!(!report.is_intact());
}

async fn audit_chain_detects_deletions(ctx: Ctx) {
    let s = ctx.s();
    let events = tamper_fixture(s).await;
    let victim = events[3].seq;
    let mut raw = Raw::connect(&ctx).await;
    match ctx.backend {
        "sqlite" => raw.exec("DROP TRIGGER audit_events_no_delete").await.expect("drop trigger"),
        _ => raw.exec("DROP TRIGGER audit_events_no_update ON audit_events").await.expect("drop trigger"),
    };
    let n = raw.exec_seq("DELETE FROM audit_events WHERE seq = $1", victim).await.expect("DELETE without the trigger");
    assert_eq!(n, 1);
    let report = chain(s).await;
    assert_eq!(report.events, 7);
    assert_eq!(report.first_broken_seq, Some(events[4].seq), "the event after the deleted one no longer links");
}

// ---------------------------------------------------------------------------------------------
// 9. Concurrency
// ---------------------------------------------------------------------------------------------

const TASKS: usize = 20;

async fn concurrent_audit_appends(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let base = chain(ctx.s()).await.events;
    let per_task = 10;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&ctx.store);
        let agency = if task % 2 == 0 { t.district.agency.id } else { t.commune.agency.id };
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                store
                    .append_audit(
                        &sys(),
                        Some(agency),
                        "test.concurrent",
                        "task",
                        &format!("{task}/{i}"),
                        serde_json::json!({"task": task, "i": i}),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("task {task} append {i}: {e}"));
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let report = chain(ctx.s()).await;
    assert!(report.is_intact(), "concurrent appends broke the chain: {report:?}");
    assert_eq!(report.events, base + (TASKS * per_task) as u64);
    let events = all_events(ctx.s()).await;
    let ids: BTreeSet<&str> =
        events.iter().filter(|e| e.action == "test.concurrent").map(|e| e.object_id.as_str()).collect();
    assert_eq!(ids.len(), TASKS * per_task);
    let seqs: BTreeSet<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), events.len());
}

/// Writers share batched transactions (group commit): a writer given up at any point — waiting
/// for the batch, inside its savepoint, waiting for the COMMIT — neither stalls the writers
/// after it nor leaves half of itself behind.
async fn cancelled_writers_do_not_stall_the_others(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let base_users = ctx.s().count_users().await.unwrap();
    let base_creates = count_action(&all_events(ctx.s()).await, "user.create") as i64;
    let whole = AdminScope::whole_instance();
    let mut handles = Vec::new();
    for task in 0..40u64 {
        let store = Arc::clone(&ctx.store);
        let whole = whole.clone();
        let agency = t.dept.agency.id;
        handles.push(tokio::spawn(async move {
            let actor = sys();
            let fut = store.create_user(&actor, &whole, new_user(agency, &format!("cancel{task:02}"), &[]));
            if task % 2 == 0 {
                // Cancelled after 0, 40, 80 … µs: before, during or after its transaction.
                let _ = tokio::time::timeout(std::time::Duration::from_micros(40 * task), fut).await;
                false
            } else {
                fut.await.unwrap_or_else(|e| panic!("task {task}: {e}"));
                true
            }
        }));
    }
    // A writer cancelled while it opened a batch once left its connection in the pool inside
    // a transaction holding the lock, and every later writer waited for it forever: a stall
    // fails here instead of hanging the suite.
    let kept = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut kept = 0;
        for h in handles {
            kept += usize::from(h.await.expect("task"));
        }
        kept
    })
    .await
    .expect("the writers that were not cancelled finish: cancelled ones must not stall them");
    assert_eq!(kept, 20);
    // The next write goes through at once: no batch was left open.
    let late = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        ctx.s().create_user(&sys(), &whole, new_user(t.dept.agency.id, "after_cancel", &[])),
    )
    .await
    .expect("a write after cancelled writers is not stalled");
    late.unwrap();
    let s = ctx.s();
    let users = s.count_users().await.unwrap() - base_users;
    let report = chain(s).await;
    assert!(report.is_intact(), "cancelled writers broke the chain: {report:?}");
    // Each user that exists was written whole, with its audit event; none without.
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "user.create") as i64 - base_creates, users);
    for task in (1..40).step_by(2) {
        assert!(s.find_user_id(&format!("cancel{task:02}")).await.unwrap().is_some(), "task {task} was kept");
    }
}

/// A writer that fails because of what an earlier member of its batch wrote ("this username
/// is taken") is told so only once that write is visible to every connection: a caller that
/// answers a conflict by reading the winner's row finds it (the pattern of "create the
/// default register, or list the one a concurrent request created").
async fn a_conflict_is_told_once_the_winner_is_visible(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let whole = AdminScope::whole_instance();
    for round in 0..8 {
        let mut handles = Vec::new();
        for task in 0..16 {
            let store = Arc::clone(&ctx.store);
            let whole = whole.clone();
            let agency = t.dept.agency.id;
            handles.push(tokio::spawn(async move {
                let name = format!("taken{round}");
                match store.create_user(&sys(), &whole, new_user(agency, &name, &[])).await {
                    Ok(_) => true,
                    Err(StoreError::Conflict { .. }) => {
                        let seen = store.find_user_id(&name).await.unwrap();
                        assert!(seen.is_some(), "round {round} task {task}: told taken, but the winner is not visible");
                        false
                    }
                    Err(e) => panic!("round {round} task {task}: {e}"),
                }
            }));
        }
        let mut won = 0;
        for h in handles {
            won += usize::from(h.await.expect("task"));
        }
        assert_eq!(won, 1, "round {round}: exactly one writer creates the user");
    }
}

async fn concurrent_writes(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let base_events = chain(ctx.s()).await.events;
    let whole = AdminScope::whole_instance();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&ctx.store);
        let whole = whole.clone();
        let agency = [t.root.agency.id, t.dept.agency.id, t.district.agency.id, t.commune.agency.id][task % 4];
        handles.push(tokio::spawn(async move {
            let s = &*store;
            let u = s
                .create_user(&sys(), &whole, new_user(agency, &format!("user{task:02}"), &[Role::Specialist]))
                .await
                .unwrap_or_else(|e| panic!("task {task} create_user: {e}"));
            let caller = s.caller_for(u.user.id).await.unwrap();
            let scope = Scope::of(&caller);
            let actor = Actor::user(&caller, None);
            let d = s
                .create_draft(&actor, &scope, draft(&format!("Văn bản số {task}")))
                .await
                .unwrap_or_else(|e| panic!("task {task} create_draft: {e}"));
            s.transition(&actor, &scope, d.id, act(OutgoingAction::SubmitForReview))
                .await
                .unwrap_or_else(|e| panic!("task {task} transition: {e}"));
            s.record_login_failure(u.user.id, Utc::now(), 5, Duration::minutes(5), None)
                .await
                .unwrap_or_else(|e| panic!("task {task} login failure: {e}"));
            s.create_users(
                &sys(),
                vec![
                    new_user(agency, &format!("bulk{task:02}a"), &[]),
                    new_user(agency, &format!("bulk{task:02}b"), &[]),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("task {task} create_users: {e}"));
            // A conflicting write in the middle of the others must fail cleanly.
            let dup = s.create_user(&sys(), &whole, new_user(agency, &format!("user{task:02}"), &[])).await;
            assert!(matches!(dup, Err(StoreError::Conflict { code: "duplicate_username" })), "task {task}: {dup:?}");
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let s = ctx.s();
    assert_eq!(s.count_users().await.unwrap(), (TASKS * 3) as i64);
    let report = chain(s).await;
    assert!(report.is_intact(), "concurrent writes broke the chain: {report:?}");
    // user.create, document.create_draft, document.submit_for_review, auth.login_failed, 2 × user.create
    assert_eq!(report.events, base_events + (TASKS * 6) as u64);
    let events = all_events(s).await;
    assert_eq!(count_action(&events, "user.create"), TASKS * 3);
    assert_eq!(count_action(&events, "document.submit_for_review"), TASKS);
    let mut in_review = 0;
    for a in [&t.root, &t.dept, &t.district, &t.commune] {
        let scope = Scope::of(&caller_in(a.agency.id, &[]));
        let docs = s.list_documents(&scope, Some("in_review"), 100).await.unwrap();
        assert_eq!(docs.len(), TASKS / 4);
        in_review += docs.len();
    }
    assert_eq!(in_review, TASKS);
}

/// Many reviewers approve the same document at once: exactly one approval happens.
async fn concurrent_transitions_of_one_document(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let (_, leader) = user(ctx.s(), t.district.agency.id, "nguyenvana", &[Role::Leader, Role::Specialist]).await;
    let scope = Scope::of(&leader);
    let actor = Actor::user(&leader, None);
    let doc = ctx.s().create_draft(&actor, &scope, draft("Về việc duyệt đồng thời")).await.unwrap();
    ctx.s().transition(&actor, &scope, doc.id, act(OutgoingAction::SubmitForReview)).await.unwrap();
    let base = chain(ctx.s()).await.events;

    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&ctx.store);
        let actor = actor.clone();
        handles.push(tokio::spawn(async move {
            store.transition(&actor, &scope, doc.id, act(OutgoingAction::Approve)).await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.expect("task") {
            Ok(d) => {
                assert_eq!(d.state, "approved");
                ok += 1;
            }
            Err(e) => assert_eq!(e.code(), "illegal_transition", "{e:?}"),
        }
    }
    assert_eq!(ok, 1, "{ok} concurrent approvals of one document succeeded");
    let s = ctx.s();
    assert_eq!(s.get_document(&scope, doc.id).await.unwrap().state, "approved");
    let report = chain(s).await;
    assert!(report.is_intact());
    assert_eq!(report.events, base + 1);
    assert_eq!(count_action(&all_events(s).await, "document.approve"), 1);
}

/// Parallel wrong passwords are all counted: a burst cannot outrun the lockout.
async fn concurrent_login_failures_are_all_counted(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let (a, _) = user(ctx.s(), t.root.agency.id, "nguyenvana", &[Role::Specialist]).await;
    let now = micros(Utc::now());
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&ctx.store);
        handles.push(tokio::spawn(async move {
            store.record_login_failure(a.user.id, now, 7, Duration::minutes(10), None).await
        }));
    }
    for h in handles {
        h.await.expect("task").expect("record_login_failure");
    }
    let s = ctx.s();
    // 20 failures with a lock every 7: locked twice, 6 counted since.
    let login = s.find_login("nguyenvana").await.unwrap().unwrap();
    assert_eq!(login.failed_logins, (TASKS % 7) as i32, "lost updates of the failure counter");
    assert_eq!(login.locked_until, Some(now + Duration::minutes(10)));
    let events = all_events(s).await;
    let failed: Vec<&AuditEvent> = events.iter().filter(|e| e.action == "auth.login_failed").collect();
    assert_eq!(failed.len(), TASKS);
    assert_eq!(failed.iter().filter(|e| e.detail["locked"] == true).count(), TASKS / 7);
    assert!(chain(s).await.is_intact());
}

/// Bulk imports that race for the same username: one wins, the others conflict cleanly
/// (no deadlock, no partial writes).
async fn concurrent_bulk_imports_conflict_cleanly(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let base = chain(ctx.s()).await.events;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&ctx.store);
        let agency = t.commune.agency.id;
        handles.push(tokio::spawn(async move {
            // Half the batches name the contested user first, half after one of their own.
            let mut batch = vec![
                new_user(agency, &format!("own{task:02}a"), &[Role::Clerk]),
                new_user(agency, "shared", &[Role::Clerk]),
                new_user(agency, &format!("own{task:02}b"), &[Role::Clerk]),
            ];
            if task % 2 == 0 {
                batch.swap(0, 1);
            }
            store.create_users(&sys(), batch).await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.expect("task") {
            Ok(n) => {
                assert_eq!(n, 3);
                ok += 1;
            }
            Err(e) => assert!(matches!(e, StoreError::Conflict { code: "duplicate_username" }), "{e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let s = ctx.s();
    assert_eq!(s.count_users().await.unwrap(), 3);
    let report = chain(s).await;
    assert!(report.is_intact());
    assert_eq!(report.events, base + 3);
}

// ---------------------------------------------------------------------------------------------
// 10. Certificates, signing images, signed revisions
// ---------------------------------------------------------------------------------------------

/// A DER SEQUENCE of `len` bytes of `fill` (the long length form from 128 bytes on).
fn der(fill: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0x30];
    match u8::try_from(len) {
        Ok(n) if n < 0x80 => v.push(n),
        _ => {
            v.push(0x82);
            v.extend(u16::try_from(len).expect("short enough").to_be_bytes());
        }
    }
    v.extend(std::iter::repeat_n(fill, len));
    v
}

const ISSUER: &str = "CN=vanban CA cấp chứng thư,O=UBND tỉnh Bình An,C=VN";

fn new_cert(owner: CertOwner, serial: &str, fill: u8) -> NewCertificate {
    let now = Utc::now();
    NewCertificate {
        owner,
        serial_hex: serial.to_owned(),
        issuer: ISSUER.to_owned(),
        subject: format!("CN=Người ký {fill},O=Sở Tài chính,C=VN"),
        not_before: now - Duration::days(1),
        not_after: now + Duration::days(365),
        cert_der: der(fill, 60),
        chain_der: vec![der(0xc1, 300), der(0xc0, 40)],
        provider: KeyProvider::Software,
        sealed_key: Some(vec![fill; 48]),
    }
}

fn authority(role: AuthorityRole, fill: u8) -> NewAuthority {
    NewAuthority { role, cert_der: der(fill, 50), sealed_key: vec![fill; 32] }
}

/// The blob address of a made-up PDF.
fn pdf(n: u32) -> String {
    sha256_hex(format!("%PDF-1.7 revision {n}").as_bytes())
}

fn revision(base: Option<&str>, kind: RevisionKind, pdf_sha256: &str) -> NewRevision {
    NewRevision {
        base_sha256: base.map(str::to_owned),
        kind,
        pdf_sha256: pdf_sha256.to_owned(),
        pdf_size: 48_213,
        certificate_id: None,
        signer_name: None,
        signed_at: None,
        validation: None,
    }
}

async fn authorities_are_put_once(ctx: Ctx) {
    let s = ctx.s();
    assert!(s.get_authorities().await.unwrap().is_empty());
    expect_domain(s.put_authorities(&sys(), vec![]).await, "field_required");
    expect_domain(
        s.put_authorities(
            &sys(),
            vec![NewAuthority { cert_der: b"not DER".to_vec(), ..authority(AuthorityRole::Root, 1) }],
        )
        .await,
        "invalid_value",
    );
    s.put_authorities(&sys(), vec![authority(AuthorityRole::Root, 1), authority(AuthorityRole::Issuing, 2)])
        .await
        .expect("first put");
    let events = chain(s).await.events;

    // A set with one role already stored writes none of its roles.
    expect_conflict(
        s.put_authorities(&sys(), vec![authority(AuthorityRole::Tsa, 3), authority(AuthorityRole::Root, 9)]).await,
        "authorities_exist",
    );
    let stored = s.get_authorities().await.unwrap();
    assert_eq!(stored.iter().map(|a| a.role).collect::<Vec<_>>(), [AuthorityRole::Issuing, AuthorityRole::Root]);
    let root = stored.iter().find(|a| a.role == AuthorityRole::Root).unwrap();
    assert_eq!((root.cert_der.clone(), root.sealed_key.clone()), (der(1, 50), vec![1; 32]), "the first root stays");
    assert_eq!(chain(s).await.events, events);

    // Roles not yet stored can still be added.
    s.put_authorities(&sys(), vec![authority(AuthorityRole::Tsa, 3), authority(AuthorityRole::Ocsp, 4)]).await.unwrap();
    assert_eq!(s.get_authorities().await.unwrap().len(), 4);
    let report = chain(s).await;
    assert!(report.is_intact());
    assert_eq!(report.events, events + 1);
}

/// Nodes starting at once each try to create the CA: exactly one does.
async fn concurrent_authority_puts_one_wins(ctx: Ctx) {
    let mut handles = Vec::new();
    for task in 0..8u8 {
        let store = Arc::clone(&ctx.store);
        handles.push(tokio::spawn(async move {
            let set = AuthorityRole::ALL.iter().map(|r| authority(*r, task)).collect();
            (task, store.put_authorities(&Actor::system(&format!("node{task}")), set).await)
        }));
    }
    let mut winners = Vec::new();
    for h in handles {
        match h.await.expect("task") {
            (task, Ok(())) => winners.push(task),
            (_, Err(e)) => assert!(matches!(e, StoreError::Conflict { code: "authorities_exist" }), "{e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?} all created the CA");
    let stored = ctx.s().get_authorities().await.unwrap();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|a| a.cert_der == der(winners[0], 50)), "a loser's key was stored");
    let report = chain(ctx.s()).await;
    assert!(report.is_intact());
    assert_eq!(report.events, 1);
}

async fn certificates_are_scoped(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let (_, admin) = user(s, t.dept.agency.id, "quantri", &[Role::Admin]).await;
    let (outsider, outsider_c) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    let dept = Scope::of(&admin);
    let district = Scope::of(&outsider_c);
    let by_admin = Actor::user(&admin, None);

    let mut input = new_cert(CertOwner::User(leader.user_id), " 0A1B2C ", 1);
    input.chain_der = vec![der(0xc1, 300), der(0xc0, 40)];
    let person = s.create_certificate(&by_admin, &dept, input.clone()).await.expect("person certificate");
    assert_eq!(person.kind, CertKind::Person);
    assert_eq!((person.agency_id, person.user_id), (t.dept.agency.id, Some(leader.user_id)));
    assert_eq!(person.serial_hex, "0a1b2c", "serials are stored trimmed and in lower case");
    assert_eq!(person.fingerprint, sha256_hex(&input.cert_der), "the store computes the fingerprint");
    assert_eq!(person.chain_der, input.chain_der, "the chain comes back certificate by certificate");
    assert_eq!(person.sealed_key.as_deref(), Some(&[1u8; 48][..]));
    assert_eq!((person.status, person.revoked_at.is_none()), (CertStatus::Active, true));
    assert_eq!(person.not_before, micros(input.not_before));
    assert_eq!(person.created_by, Some(admin.user_id));

    let mut org_input = new_cert(CertOwner::Agency, "ff01", 2);
    org_input.chain_der = vec![];
    org_input.provider = KeyProvider::Pkcs11;
    org_input.sealed_key = None;
    let org = s.create_certificate(&sys(), &dept, org_input).await.expect("organisation certificate");
    assert_eq!((org.kind, org.user_id, org.created_by), (CertKind::Organisation, None, None));
    assert!(org.chain_der.is_empty());

    // Listed by owner, without sealed keys; read one with its key.
    let mine = s.list_certificates(&dept, CertOwner::User(leader.user_id)).await.unwrap();
    assert_eq!(mine.iter().map(|c| c.id).collect::<Vec<_>>(), [person.id]);
    assert!(mine[0].sealed_key.is_none(), "a list carries no keys");
    assert_eq!(mine[0].cert_der, person.cert_der);
    let orgs = s.list_certificates(&dept, CertOwner::Agency).await.unwrap();
    assert_eq!(orgs.iter().map(|c| c.id).collect::<Vec<_>>(), [org.id]);
    let got = s.get_certificate(&dept, person.id).await.unwrap();
    assert_eq!(got.sealed_key, person.sealed_key);
    assert_eq!((got.fingerprint, got.created_at), (person.fingerprint.clone(), person.created_at));
    assert_eq!(s.get_certificate(&dept, org.id).await.unwrap().sealed_key, None, "a token keeps its key");

    // Another agency sees none of it.
    expect_not_found(s.get_certificate(&district, person.id).await);
    expect_not_found(s.get_certificate(&district, org.id).await);
    assert!(s.list_certificates(&district, CertOwner::User(leader.user_id)).await.unwrap().is_empty());
    assert!(s.list_certificates(&district, CertOwner::Agency).await.unwrap().is_empty());
    expect_not_found(s.get_certificate(&dept, Uuid::now_v7()).await);

    let events = chain(s).await.events;
    // A person of another agency, or nobody, cannot get a certificate here.
    expect_not_found(
        s.create_certificate(&by_admin, &dept, new_cert(CertOwner::User(outsider.user.id), "01", 3)).await,
    );
    expect_not_found(
        s.create_certificate(&by_admin, &dept, new_cert(CertOwner::User(UserId::from_uuid(Uuid::now_v7())), "02", 3))
            .await,
    );
    // The same certificate, or the same issuer and serial, is stored once.
    expect_conflict(s.create_certificate(&by_admin, &dept, input.clone()).await, "duplicate_certificate");
    expect_conflict(
        s.create_certificate(&by_admin, &dept, new_cert(CertOwner::User(leader.user_id), "0A1B2C", 4)).await,
        "duplicate_certificate",
    );
    // Malformed input.
    let bad: Vec<(NewCertificate, &str)> = vec![
        (NewCertificate { sealed_key: None, ..new_cert(CertOwner::Agency, "03", 5) }, "invalid_value"),
        (NewCertificate { provider: KeyProvider::Remote, ..new_cert(CertOwner::Agency, "03", 5) }, "invalid_value"),
        (NewCertificate { serial_hex: "xyz".into(), ..new_cert(CertOwner::Agency, "03", 5) }, "invalid_value"),
        (NewCertificate { cert_der: b"PEM?".to_vec(), ..new_cert(CertOwner::Agency, "03", 5) }, "invalid_value"),
        (
            NewCertificate { chain_der: vec![[der(1, 5), der(2, 5)].concat()], ..new_cert(CertOwner::Agency, "03", 5) },
            "invalid_value",
        ),
        (NewCertificate { subject: " ".into(), ..new_cert(CertOwner::Agency, "03", 5) }, "field_required"),
    ];
    for (input, code) in bad {
        expect_domain(s.create_certificate(&by_admin, &dept, input).await, code);
    }
    let mut backwards = new_cert(CertOwner::Agency, "03", 5);
    backwards.not_after = backwards.not_before;
    let e = expect_domain(s.create_certificate(&by_admin, &dept, backwards).await, "invalid_value");
    assert!(!e.message_vi().contains("valid_from"), "the period error is translated: {}", e.message_vi());
    assert_eq!(chain(s).await.events, events, "a refused certificate was audited");
    assert_eq!(s.list_certificates(&dept, CertOwner::Agency).await.unwrap().len(), 1);

    // Found by serial whoever asks (OCSP), without the key; two issuers with one serial are ambiguous.
    let found = s.find_certificate_by_serial("0A1B2C").await.unwrap().expect("by serial");
    assert_eq!((found.id, found.sealed_key), (person.id, None));
    assert!(s.find_certificate_by_serial("abcdef").await.unwrap().is_none());
    expect_domain(s.find_certificate_by_serial("0x12").await, "invalid_value");
    let other_ca = NewCertificate {
        issuer: "CN=Ban Cơ yếu Chính phủ,C=VN".into(),
        ..new_cert(CertOwner::Agency, "ff01", 6)
    };
    s.create_certificate(&sys(), &district, other_ca).await.expect("same serial, another issuer");
    expect_conflict(s.find_certificate_by_serial("FF01").await, "ambiguous_serial");

    let all = all_events(s).await;
    assert_eq!(count_action(&all, "certificate.create"), 3);
    let e = all.iter().find(|e| e.object_id == person.id.to_string()).unwrap();
    assert_eq!((e.object_type.as_str(), e.agency_id), ("certificate", Some(t.dept.agency.id)));
    assert_eq!(e.detail["fingerprint"], person.fingerprint.as_str());
    assert!(!e.detail.to_string().contains("sealed"), "key material in the audit log");
    assert!(chain(s).await.is_intact());
}

async fn certificate_revocation(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let (_, outsider) = user(s, t.district.agency.id, "huyen.quantri", &[Role::Admin]).await;
    let dept = Scope::of(&leader);
    let a = s.create_certificate(&sys(), &dept, new_cert(CertOwner::User(leader.user_id), "a1", 1)).await.unwrap();
    let b = s.create_certificate(&sys(), &dept, new_cert(CertOwner::Agency, "b2", 2)).await.unwrap();
    s.create_certificate(&sys(), &dept, new_cert(CertOwner::Agency, "c3", 3)).await.unwrap();
    assert!(s.revoked_certificates().await.unwrap().is_empty());

    let later = Utc::now() - Duration::minutes(5);
    let earlier = later - Duration::hours(2);
    let by = Actor::user(&leader, None);
    expect_domain(s.revoke_certificate(&by, &dept, a.id, "  ".into(), later).await, "field_required");
    expect_not_found(s.revoke_certificate(&by, &Scope::of(&outsider), a.id, "keyCompromise".into(), later).await);
    let r = s.revoke_certificate(&by, &dept, a.id, " keyCompromise ".into(), later).await.expect("revoke");
    assert_eq!(
        (r.status, r.revoked_at, r.revocation_reason.as_deref()),
        (CertStatus::Revoked, Some(micros(later)), Some("keyCompromise"))
    );
    let stored = s.get_certificate(&dept, a.id).await.unwrap();
    assert_eq!((stored.status, stored.revoked_at), (CertStatus::Revoked, Some(micros(later))));
    assert_eq!(s.find_certificate_by_serial("a1").await.unwrap().unwrap().status, CertStatus::Revoked);

    // Revoking again is refused, and writes nothing.
    let events = chain(s).await.events;
    expect_conflict(
        s.revoke_certificate(&by, &dept, a.id, "superseded".into(), Utc::now()).await,
        "certificate_revoked",
    );
    assert_eq!(s.get_certificate(&dept, a.id).await.unwrap().revocation_reason.as_deref(), Some("keyCompromise"));
    assert_eq!(chain(s).await.events, events);

    s.revoke_certificate(&by, &dept, b.id, "cessationOfOperation".into(), earlier).await.unwrap();
    let crl = s.revoked_certificates().await.unwrap();
    assert_eq!(crl.iter().map(|x| x.serial_hex.as_str()).collect::<Vec<_>>(), ["b2", "a1"], "oldest revocation first");
    assert_eq!(
        (crl[1].issuer.as_str(), crl[1].revoked_at, crl[1].reason.as_str()),
        (ISSUER, micros(later), "keyCompromise")
    );
    let all = all_events(s).await;
    assert_eq!(count_action(&all, "certificate.revoke"), 2);
    assert!(chain(s).await.is_intact());
}

async fn concurrent_crl_numbers_are_unique(ctx: Ctx) {
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&ctx.store);
        handles.push(tokio::spawn(async move { store.next_crl_number().await }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.expect("task").expect("next_crl_number"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=TASKS as i64).collect::<Vec<_>>(), "CRL numbers repeated or skipped");
    assert_eq!(ctx.s().next_crl_number().await.unwrap(), TASKS as i64 + 1);
    let report = chain(ctx.s()).await;
    assert!(report.is_intact());
    assert_eq!(report.events, TASKS as u64 + 1);
}

async fn signing_images_upsert(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let (_, clerk) = user(s, t.dept.agency.id, "vanthu", &[Role::Clerk]).await;
    let (outsider, outsider_c) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    let dept = Scope::of(&leader);
    let district = Scope::of(&outsider_c);
    let me = ImageOwner::User(leader.user_id);
    assert!(s.get_signing_image(&dept, me).await.unwrap().is_none());

    s.set_signing_image(&Actor::user(&leader, None), &dept, me, pdf(1).to_uppercase(), 600, 240).await.unwrap();
    let got = s.get_signing_image(&dept, me).await.unwrap().expect("image");
    assert_eq!((got.owner, got.agency_id, got.sha256.as_str()), (me, t.dept.agency.id, pdf(1).as_str()));
    assert_eq!((got.width_px, got.height_px, got.updated_by), (600, 240, Some(leader.user_id)));
    // Replaced, not added.
    s.set_signing_image(&Actor::user(&leader, None), &dept, me, pdf(2), 800, 320).await.unwrap();
    let got = s.get_signing_image(&dept, me).await.unwrap().unwrap();
    assert_eq!((got.sha256.as_str(), got.width_px, got.height_px), (pdf(2).as_str(), 800, 320));
    // The agency's seal, set by the clerk.
    s.set_signing_image(&Actor::user(&clerk, None), &dept, ImageOwner::Agency, pdf(3), 500, 500).await.unwrap();
    let seal = s.get_signing_image(&dept, ImageOwner::Agency).await.unwrap().unwrap();
    assert_eq!((seal.sha256.as_str(), seal.updated_by), (pdf(3).as_str(), Some(clerk.user_id)));

    // Scoped: another agency neither reads nor writes them.
    assert!(s.get_signing_image(&district, me).await.unwrap().is_none());
    assert!(s.get_signing_image(&district, ImageOwner::Agency).await.unwrap().is_none(), "the district has no seal");
    let events = chain(s).await.events;
    expect_not_found(s.set_signing_image(&sys(), &district, me, pdf(4), 10, 10).await);
    expect_not_found(s.set_signing_image(&sys(), &dept, ImageOwner::User(outsider.user.id), pdf(4), 10, 10).await);
    expect_domain(s.set_signing_image(&sys(), &dept, me, "abc".into(), 10, 10).await, "invalid_value");
    expect_domain(s.set_signing_image(&sys(), &dept, me, pdf(4), 0, 10).await, "invalid_value");
    expect_domain(s.set_signing_image(&sys(), &dept, me, pdf(4), 10, 10_001).await, "invalid_value");
    assert_eq!(chain(s).await.events, events);
    assert_eq!(s.get_signing_image(&dept, me).await.unwrap().unwrap().sha256, pdf(2));

    let all = all_events(s).await;
    let sets: Vec<&AuditEvent> = all.iter().filter(|e| e.action == "signing_image.set").collect();
    assert_eq!(sets.len(), 3);
    assert_eq!(sets[1].detail["before"], pdf(1).as_str());
    assert_eq!(sets[1].detail["sha256"], pdf(2).as_str());
    assert!(chain(s).await.is_intact());
}

/// A drafter, a leader with a personal certificate, and a document of the department.
struct Signing {
    dept: Scope,
    drafter: Caller,
    leader: Caller,
    cert: Uuid,
    doc: DocumentId,
}

async fn signing_fixture(s: &dyn Store, t: &Tree, approved: bool) -> Signing {
    let (_, drafter) = user(s, t.dept.agency.id, "chuyenvien", &[Role::Specialist]).await;
    let (_, leader) = user(s, t.dept.agency.id, "giamdoc", &[Role::Leader]).await;
    let dept = Scope::of(&drafter);
    let cert = s.create_certificate(&sys(), &dept, new_cert(CertOwner::User(leader.user_id), "5e", 7)).await.unwrap();
    let doc = s.create_draft(&Actor::user(&drafter, None), &dept, draft("Về việc ký số")).await.unwrap();
    if approved {
        s.transition(&Actor::user(&drafter, None), &dept, doc.id, act(OutgoingAction::SubmitForReview)).await.unwrap();
        s.transition(&Actor::user(&leader, None), &dept, doc.id, act(OutgoingAction::Approve)).await.unwrap();
    }
    Signing { dept, drafter, leader, cert: cert.id, doc: doc.id }
}

/// `issuing_context` reads in one statement what `get_document`, `head_revision`,
/// `list_files` and `list_versions` read apart, with the same scope.
async fn issuing_context_is_the_separate_reads_in_one(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let f = signing_fixture(s, &t, false).await;
    let (_, outsider) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    let other = Scope::of(&outsider);
    let by = Actor::user(&f.drafter, None);

    // A new draft: nothing but the document.
    let c = s.issuing_context(&f.dept, f.doc).await.unwrap();
    assert_eq!(json(&c.document), json(&s.get_document(&f.dept, f.doc).await.unwrap()));
    assert!(c.head.is_none());
    assert_eq!(c.files, 0);
    assert_eq!(c.latest_content, None);

    // Two versions and two attachments, then revisions 0 and 1 once it is approved.
    let content = |subject: &str| serde_json::json!({ "subject": subject, "body": ["Đoạn một."] });
    s.add_version(&by, &f.dept, f.doc, content("V/v thứ nhất"), None).await.unwrap();
    s.add_version(&by, &f.dept, f.doc, content("V/v thứ hai"), None).await.unwrap();
    let files = (0..2)
        .map(|i| NewFile {
            kind: "attachment",
            file_name: format!("Phụ lục {i}.pdf"),
            media_type: "application/pdf".into(),
            sha256: pdf(50 + i),
            size: 1000,
            checks: None,
        })
        .collect();
    s.add_files(&by, &f.dept, f.doc, files).await.unwrap();
    s.transition(&by, &f.dept, f.doc, act(OutgoingAction::SubmitForReview)).await.unwrap();
    s.transition(&Actor::user(&f.leader, None), &f.dept, f.doc, act(OutgoingAction::Approve)).await.unwrap();
    s.append_revision(&by, &f.dept, f.doc, revision(None, RevisionKind::Render, &pdf(0)), None).await.unwrap();
    let signer = NewRevision {
        certificate_id: Some(f.cert),
        signer_name: Some("Nguyễn Văn An".into()),
        signed_at: Some(Utc::now()),
        validation: Some(serde_json::json!({ "verdict": "valid" })),
        ..revision(Some(&pdf(0)), RevisionKind::Signer, &pdf(1))
    };
    s.append_revision(&Actor::user(&f.leader, None), &f.dept, f.doc, signer, Some(OutgoingAction::Sign)).await.unwrap();

    let c = s.issuing_context(&f.dept, f.doc).await.unwrap();
    let head = s.head_revision(&f.dept, f.doc).await.unwrap().expect("a head");
    assert_eq!((head.seq, head.pdf_sha256.as_str()), (1, pdf(1).as_str()));
    assert_eq!(json(&c.head), json(&Some(head)), "the head, every field");
    assert_eq!(json(&c.document), json(&s.get_document(&f.dept, f.doc).await.unwrap()));
    assert_eq!(c.document.state, "signed");
    assert_eq!(c.files, 2);
    assert_eq!(c.latest_content, Some(content("V/v thứ hai")));
    let versions = s.list_versions(&f.dept, f.doc).await.unwrap();
    assert_eq!(c.latest_content.as_ref(), versions.last().map(|v| &v.content));

    // Another agency reads nothing of it; an unknown id is not found.
    expect_not_found(s.issuing_context(&other, f.doc).await);
    expect_not_found(s.issuing_context(&f.dept, DocumentId::from_uuid(Uuid::now_v7())).await);
}

/// A record as JSON, to compare records that have no `PartialEq`.
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("serialisable")
}

async fn revisions_follow_the_head(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let f = signing_fixture(s, &t, true).await;
    let (_, outsider) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    let other = Scope::of(&outsider);
    assert!(s.head_revision(&f.dept, f.doc).await.unwrap().is_none());
    assert!(s.list_revisions(&f.dept, f.doc).await.unwrap().is_empty());

    // Revision 0, the rendering: no base.
    let by_drafter = Actor::user(&f.drafter, None);
    let mut render = revision(None, RevisionKind::Render, &pdf(0));
    render.validation = Some(serde_json::json!({ "pdfa": "2b" }));
    let r0 = s.append_revision(&by_drafter, &f.dept, f.doc, render, None).await.expect("render");
    assert_eq!(
        (r0.seq, r0.kind, r0.agency_id, r0.created_by),
        (0, RevisionKind::Render, t.dept.agency.id, Some(f.drafter.user_id))
    );
    assert_eq!(r0.validation, Some(serde_json::json!({ "pdfa": "2b" })));
    assert_eq!(s.get_document(&f.dept, f.doc).await.unwrap().state, "approved", "no action, no move");

    // A revision that is not on the head writes nothing: a stale base, or none with a head.
    let events = chain(s).await.events;
    expect_conflict(
        s.append_revision(&by_drafter, &f.dept, f.doc, revision(Some(&pdf(99)), RevisionKind::Signer, &pdf(1)), None)
            .await,
        "stale_revision",
    );
    expect_conflict(
        s.append_revision(&by_drafter, &f.dept, f.doc, revision(None, RevisionKind::Render, &pdf(1)), None).await,
        "stale_revision",
    );
    // Another agency can neither append nor read.
    expect_not_found(
        s.append_revision(&sys(), &other, f.doc, revision(Some(&pdf(0)), RevisionKind::Signer, &pdf(1)), None).await,
    );
    expect_not_found(s.list_revisions(&other, f.doc).await);
    expect_not_found(s.head_revision(&other, f.doc).await);
    expect_domain(
        s.append_revision(&by_drafter, &f.dept, f.doc, revision(Some(&pdf(0)), RevisionKind::Signer, "nope"), None)
            .await,
        "invalid_value",
    );
    assert_eq!(chain(s).await.events, events);
    assert_eq!(s.list_revisions(&f.dept, f.doc).await.unwrap().len(), 1);

    // The leader's signature on the head moves the approved document to signed, in one go.
    let signed_at = Utc::now();
    let signer = NewRevision {
        certificate_id: Some(f.cert),
        signer_name: Some("Nguyễn Văn An".into()),
        signed_at: Some(signed_at),
        ..revision(Some(&pdf(0).to_uppercase()), RevisionKind::Signer, &pdf(1))
    };
    let r1 = s
        .append_revision(&Actor::user(&f.leader, None), &f.dept, f.doc, signer, Some(OutgoingAction::Sign))
        .await
        .expect("sign");
    assert_eq!((r1.seq, r1.kind, r1.certificate_id), (1, RevisionKind::Signer, Some(f.cert)));
    assert_eq!((r1.signer_name.as_deref(), r1.signed_at), (Some("Nguyễn Văn An"), Some(micros(signed_at))));
    assert_eq!(s.get_document(&f.dept, f.doc).await.unwrap().state, "signed");
    let list = s.list_revisions(&f.dept, f.doc).await.unwrap();
    assert_eq!(list.iter().map(|r| (r.seq, r.pdf_sha256.clone())).collect::<Vec<_>>(), [(0, pdf(0)), (1, pdf(1))]);
    assert_eq!(s.head_revision(&f.dept, f.doc).await.unwrap().unwrap().pdf_sha256, pdf(1));

    // Signing twice is refused by the lifecycle, even on the right head.
    let events = chain(s).await.events;
    expect_domain(
        s.append_revision(
            &sys(),
            &f.dept,
            f.doc,
            revision(Some(&pdf(1)), RevisionKind::Signer, &pdf(2)),
            Some(OutgoingAction::Sign),
        )
        .await,
        "illegal_transition",
    );
    // A revoked certificate signs nothing.
    s.revoke_certificate(&sys(), &f.dept, f.cert, "keyCompromise".into(), Utc::now()).await.unwrap();
    let with_revoked =
        NewRevision { certificate_id: Some(f.cert), ..revision(Some(&pdf(1)), RevisionKind::Agency, &pdf(2)) };
    expect_conflict(s.append_revision(&sys(), &f.dept, f.doc, with_revoked, None).await, "certificate_revoked");
    assert_eq!(s.list_revisions(&f.dept, f.doc).await.unwrap().len(), 2);
    assert_eq!(chain(s).await.events, events + 1, "only the revocation was written");

    // A signer's revision on a draft: the lifecycle refuses, nothing is written.
    let draft_doc = s.create_draft(&by_drafter, &f.dept, draft("Dự thảo chưa duyệt")).await.unwrap();
    s.append_revision(&by_drafter, &f.dept, draft_doc.id, revision(None, RevisionKind::Render, &pdf(10)), None)
        .await
        .unwrap();
    let events = chain(s).await.events;
    let e = expect_domain(
        s.append_revision(
            &Actor::user(&f.leader, None),
            &f.dept,
            draft_doc.id,
            revision(Some(&pdf(10)), RevisionKind::Signer, &pdf(11)),
            Some(OutgoingAction::Sign),
        )
        .await,
        "illegal_transition",
    );
    assert_eq!(e, DomainError::IllegalTransition { from: "draft", action: "sign" });
    assert_eq!(s.list_revisions(&f.dept, draft_doc.id).await.unwrap().len(), 1);
    assert_eq!(s.get_document(&f.dept, draft_doc.id).await.unwrap().state, "draft");
    assert_eq!(chain(s).await.events, events);

    // Audited with the file's hash; the signature as the document's `sign` event.
    let all = all_events(s).await;
    let about: Vec<&AuditEvent> = all.iter().filter(|e| e.object_id == f.doc.to_string()).collect();
    let actions: Vec<&str> = about.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "document.create_draft",
            "document.submit_for_review",
            "document.approve",
            "document.revision",
            "document.sign"
        ]
    );
    let sign = about[4];
    assert_eq!(sign.detail["pdf_sha256"], pdf(1).as_str());
    assert_eq!(sign.detail["base_sha256"], pdf(0).as_str());
    assert_eq!((sign.detail["from"].as_str(), sign.detail["to"].as_str()), (Some("approved"), Some("signed")));
    assert_eq!(sign.actor_user_id, Some(f.leader.user_id));
    assert_eq!(about[3].detail["pdf_sha256"], pdf(0).as_str());
    assert!(chain(s).await.is_intact());
}

/// Signers racing on one head: exactly one revision is appended, the others are stale.
async fn concurrent_appends_on_one_head(ctx: Ctx) {
    let t = tree(ctx.s()).await;
    let f = signing_fixture(ctx.s(), &t, true).await;
    let by = Actor::user(&f.drafter, None);
    ctx.s().append_revision(&by, &f.dept, f.doc, revision(None, RevisionKind::Render, &pdf(0)), None).await.unwrap();
    let base = chain(ctx.s()).await.events;
    let mut handles = Vec::new();
    for task in 0..10u32 {
        let store = Arc::clone(&ctx.store);
        let (by, scope, doc) = (Actor::user(&f.leader, None), f.dept, f.doc);
        handles.push(tokio::spawn(async move {
            let new = revision(Some(&pdf(0)), RevisionKind::Signer, &pdf(100 + task));
            store.append_revision(&by, &scope, doc, new, Some(OutgoingAction::Sign)).await
        }));
    }
    let mut won = Vec::new();
    for h in handles {
        match h.await.expect("task") {
            Ok(r) => won.push(r),
            Err(e) => assert!(matches!(e, StoreError::Conflict { code: "stale_revision" }), "{e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "{} concurrent appends on one head succeeded", won.len());
    let s = ctx.s();
    let list = s.list_revisions(&f.dept, f.doc).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].pdf_sha256, won[0].pdf_sha256);
    assert_eq!(s.get_document(&f.dept, f.doc).await.unwrap().state, "signed");
    let report = chain(s).await;
    assert!(report.is_intact());
    assert_eq!(report.events, base + 1);
}

async fn signing_session_lifecycle(ctx: Ctx) {
    let s = ctx.s();
    let t = tree(s).await;
    let f = signing_fixture(s, &t, true).await;
    let (_, outsider) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    s.append_revision(
        &Actor::user(&f.drafter, None),
        &f.dept,
        f.doc,
        revision(None, RevisionKind::Render, &pdf(0)),
        None,
    )
    .await
    .unwrap();
    let org = s.create_certificate(&sys(), &f.dept, new_cert(CertOwner::Agency, "0e", 8)).await.unwrap();
    let leader_scope = Scope::of(&f.leader);
    let by_leader = Actor::user(&f.leader, None);
    let session = |kind: SigningKind, cert: Uuid, base: String| NewSigningSession {
        document_id: f.doc,
        kind,
        certificate_id: cert,
        prepared_sha256: pdf(50),
        base_sha256: base,
        to_be_signed: vec![0x31, 0x03, 0x02, 0x01, 0x01],
        digest_hex: sha256_hex(b"signed attributes").to_uppercase(),
        expires_at: Utc::now() + Duration::minutes(10),
    };

    let events = chain(s).await.events;
    // The certificate must fit the signature; the base must be the head; the expiry ahead.
    expect_domain(
        s.create_signing_session(&by_leader, &leader_scope, session(SigningKind::Signer, org.id, pdf(0))).await,
        "invalid_value",
    );
    expect_domain(
        s.create_signing_session(&by_leader, &leader_scope, session(SigningKind::Agency, f.cert, pdf(0))).await,
        "invalid_value",
    );
    expect_domain(
        s.create_signing_session(&Actor::user(&f.drafter, None), &f.dept, session(SigningKind::Signer, f.cert, pdf(0)))
            .await,
        "invalid_value",
    );
    expect_conflict(
        s.create_signing_session(&by_leader, &leader_scope, session(SigningKind::Signer, f.cert, pdf(7))).await,
        "stale_revision",
    );
    let past = NewSigningSession {
        expires_at: Utc::now() - Duration::seconds(1),
        ..session(SigningKind::Signer, f.cert, pdf(0))
    };
    expect_domain(s.create_signing_session(&by_leader, &leader_scope, past).await, "invalid_value");
    expect_not_found(
        s.create_signing_session(&by_leader, &leader_scope, session(SigningKind::Signer, Uuid::now_v7(), pdf(0))).await,
    );
    assert_eq!(chain(s).await.events, events);

    let new = session(SigningKind::Signer, f.cert, pdf(0));
    let rec = s.create_signing_session(&by_leader, &leader_scope, new.clone()).await.expect("prepare");
    assert_eq!(
        (rec.state, rec.user_id, rec.agency_id, rec.kind),
        (SessionState::Pending, f.leader.user_id, t.dept.agency.id, SigningKind::Signer)
    );
    assert_eq!(
        (rec.to_be_signed.clone(), rec.digest_hex.clone()),
        (new.to_be_signed.clone(), new.digest_hex.to_lowercase())
    );
    assert_eq!((rec.prepared_sha256.as_str(), rec.base_sha256.as_str()), (pdf(50).as_str(), pdf(0).as_str()));
    let got = s.get_signing_session(&leader_scope, rec.id).await.unwrap();
    assert_eq!((got.id, got.state, got.expires_at), (rec.id, SessionState::Pending, micros(new.expires_at)));
    // Only the session's own user sees it and completes it.
    expect_not_found(s.get_signing_session(&f.dept, rec.id).await);
    expect_not_found(s.get_signing_session(&Scope::of(&outsider), rec.id).await);
    expect_not_found(s.complete_signing_session(&Actor::user(&f.drafter, None), &f.dept, rec.id).await);
    expect_not_found(s.get_signing_session(&leader_scope, Uuid::now_v7()).await);

    s.complete_signing_session(&by_leader, &leader_scope, rec.id).await.expect("complete");
    assert_eq!(s.get_signing_session(&leader_scope, rec.id).await.unwrap().state, SessionState::Completed);
    let events = chain(s).await.events;
    expect_conflict(s.complete_signing_session(&by_leader, &leader_scope, rec.id).await, "signing_session_completed");
    assert_eq!(chain(s).await.events, events);

    // A session not completed in time expires.
    let short = NewSigningSession {
        expires_at: Utc::now() + Duration::milliseconds(300),
        ..session(SigningKind::Agency, org.id, pdf(0))
    };
    let late = s.create_signing_session(&by_leader, &leader_scope, short).await.unwrap();
    assert_eq!(late.state, SessionState::Pending);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(s.get_signing_session(&leader_scope, late.id).await.unwrap().state, SessionState::Expired);
    expect_conflict(s.complete_signing_session(&by_leader, &leader_scope, late.id).await, "signing_session_expired");

    let all = all_events(s).await;
    assert_eq!(count_action(&all, "document.prepare_signature"), 2);
    assert_eq!(count_action(&all, "document.complete_signature"), 1);
    let prep = all.iter().find(|e| e.action == "document.prepare_signature").unwrap();
    assert_eq!(
        (prep.object_id.as_str(), prep.detail["session_id"].as_str()),
        (f.doc.to_string().as_str(), Some(rec.id.to_string().as_str()))
    );
    assert!(chain(s).await.is_intact());
}

// ---------------------------------------------------------------------------------------------
// 11. Blobs
// ---------------------------------------------------------------------------------------------

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn blob_contract(blobs: &BlobStore) {
    let data = bytes::Bytes::from_static("Công văn số 12/STC-VP — nội dung".as_bytes());
    let r = blobs.put(data.clone()).await.expect("put");
    assert_eq!(r.sha256, sha256_hex(&data));
    assert_eq!(r.size, data.len() as u64);
    let again = blobs.put(data.clone()).await.expect("putting the same bytes twice");
    assert_eq!(again, r);
    assert_eq!(blobs.get(&r.sha256).await.expect("get"), data);
    assert!(blobs.exists(&r.sha256).await.unwrap());

    let empty = blobs.put(bytes::Bytes::new()).await.expect("empty blob");
    assert_eq!(empty.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(empty.size, 0);
    assert!(blobs.get(&empty.sha256).await.unwrap().is_empty());

    let unknown = sha256_hex(b"never stored");
    assert!(!blobs.exists(&unknown).await.unwrap());
    expect_not_found(blobs.get(&unknown).await);
    let malformed = [
        String::new(),
        "abc".to_owned(),
        "../../etc/passwd".to_owned(),
        r.sha256.to_uppercase(),
        format!("{}0", r.sha256),
        r.sha256[..63].to_owned(),
        format!("../{}", &r.sha256[3..]),
    ];
    for bad in &malformed {
        expect_not_found(blobs.get(bad).await);
        assert!(matches!(blobs.exists(bad).await, Err(StoreError::NotFound) | Ok(false)), "{bad}");
    }
}

#[tokio::test]
async fn blobs_in_memory() {
    blob_contract(&BlobStore::in_memory()).await;
}

#[tokio::test]
async fn blobs_local() {
    let dir = tempfile::tempdir().unwrap();
    blob_contract(&BlobStore::local(&dir.path().join("blobs")).expect("local blob store")).await;
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn blobs_local_detect_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::local(dir.path()).unwrap();
    let data = bytes::Bytes::from_static(b"%PDF-1.7 signed document");
    let r = blobs.put(data.clone()).await.unwrap();
    let other = blobs.put(bytes::Bytes::from_static(b"another")).await.unwrap();

    let files = files_under(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let file = files.iter().find(|p| p.file_name().unwrap() == r.sha256.as_str()).expect("blob file named by its hash");
    let rel = file.strip_prefix(dir.path()).unwrap();
    let expected: PathBuf = ["sha256", &r.sha256[..2], &r.sha256].iter().collect();
    assert_eq!(rel, expected);
    assert_eq!(std::fs::read(file).unwrap(), data);

    let mut perms = std::fs::metadata(file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(file, perms).unwrap();
    std::fs::write(file, b"%PDF-1.7 forged document").unwrap();
    match blobs.get(&r.sha256).await {
        Err(StoreError::BlobCorrupt(h)) => assert_eq!(h, r.sha256),
        other => panic!("expected BlobCorrupt, got {other:?}"),
    }
    assert!(blobs.exists(&r.sha256).await.unwrap());
    assert_eq!(blobs.get(&other.sha256).await.unwrap(), bytes::Bytes::from_static(b"another"));

    // A blob store reopened on the same directory reads what was stored.
    let reopened = BlobStore::local(dir.path()).unwrap();
    assert_eq!(reopened.get(&other.sha256).await.unwrap(), bytes::Bytes::from_static(b"another"));
    assert!(matches!(reopened.get(&r.sha256).await, Err(StoreError::BlobCorrupt(_))));

    // Storing the right bytes again repairs the damaged copy; a sound copy is left alone.
    assert_eq!(reopened.put(data.clone()).await.unwrap(), r);
    assert_eq!(reopened.get(&r.sha256).await.unwrap(), data);
    let before = std::fs::metadata(
        files_under(dir.path()).iter().find(|p| p.file_name().unwrap() == other.sha256.as_str()).unwrap(),
    )
    .unwrap()
    .modified()
    .unwrap();
    reopened.put(bytes::Bytes::from_static(b"another")).await.unwrap();
    let after = std::fs::metadata(
        files_under(dir.path()).iter().find(|p| p.file_name().unwrap() == other.sha256.as_str()).unwrap(),
    )
    .unwrap()
    .modified()
    .unwrap();
    assert_eq!(before, after, "a sound blob is never rewritten");
}

/// Blobs written in the earlier two-level layout (`sha256/ab/cd/abcd…`) are still found, read
/// and verified, on the local-file path and through `object_store`.
#[tokio::test]
async fn blobs_local_read_the_two_level_layout() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let data = b"%PDF-1.7 stored by an older vanban";
    let sha = hex::encode(sha2::Sha256::digest(data));
    let old: PathBuf = [dir.path(), Path::new("sha256"), Path::new(&sha[..2]), Path::new(&sha[2..4])].iter().collect();
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join(&sha), data).unwrap();
    let blobs = BlobStore::local(dir.path()).unwrap();
    assert_eq!(blobs.get(&sha).await.unwrap(), bytes::Bytes::from_static(data));
    assert_eq!(blobs.get_blocking(&sha).unwrap().unwrap(), bytes::Bytes::from_static(data));
    assert!(blobs.exists(&sha).await.unwrap());
    let through_object_store =
        BlobStore::new(Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap()));
    assert_eq!(through_object_store.get(&sha).await.unwrap(), bytes::Bytes::from_static(data));
    assert!(through_object_store.exists(&sha).await.unwrap());
    // A damaged old copy is still told apart from a missing one.
    std::fs::write(old.join(&sha), b"forged").unwrap();
    assert!(matches!(blobs.get(&sha).await, Err(StoreError::BlobCorrupt(_))));
}

#[test]
fn pg_url_rewriting() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
    assert_eq!(with_database("postgresql://h:1", "x"), "postgresql://h:1/x");
}
