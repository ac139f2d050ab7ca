//! Documents issued and delivered per second: numbered (transaction A), the number and date
//! filled and the agency's PAdES signature with the seal applied (CPU), stored with five
//! internal recipients' incoming documents (transaction B) — `vanban_server::issuing::issue`,
//! the function behind POST /api/v1/documents/{id}/issue, without HTTP.
//!
//! On SQLite and (with `VANBAN_TEST_PG_URL`) PostgreSQL, each with the database first filled
//! to each size in `VANBAN_BENCH_SIZES` (default "10000"; bench/issuing.sh runs 10,000 and
//! 1,000,000). The fill writes history rows around the store (raw SQL): issued outgoing
//! documents with their register lines and deliveries, and incoming documents.
//!
//!   cargo bench -p vanban-server --bench issuing -- [DOCS] [CONCURRENCY]

use std::sync::Arc;
use std::time::Instant;

// The allocator the `vanban` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sqlx::Connection as _;
use vanban_domain::{Abbreviation, AgencyCode, AgencyLevel, AgencyName, FullName, Position, Role, Username};
use vanban_server::issuing::IssueInput;
use vanban_server::{AppState, ServerConfig};
use vanban_store::{Actor, AdminScope, NewAgency, NewUser, Store};

const PIN: &str = "123456";
const RECIPIENTS: usize = 5;

#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

struct Setup {
    state: AppState,
    url: String,
    agency: uuid::Uuid,
    user: uuid::Uuid,
    codes: Vec<String>,
    /// Kept until the bench ends (see [`run`]).
    dir: tempfile::TempDir,
}

async fn agency(
    store: &dyn Store,
    parent: Option<vanban_domain::AgencyId>,
    code: &str,
    name: &str,
    abbr: &str,
) -> vanban_domain::AgencyId {
    let new = NewAgency {
        parent_id: parent,
        code: AgencyCode::parse(code).unwrap(),
        name: AgencyName::parse(name).unwrap(),
        parent_name: None,
        abbreviation: Abbreviation::parse(abbr).unwrap(),
        level: AgencyLevel::Provincial,
        place: "Bình An".into(),
    };
    store.create_agency(&Actor::system("bench"), new).await.unwrap().agency.id
}

async fn user(
    store: &dyn Store,
    agency: vanban_domain::AgencyId,
    username: &str,
    role: Role,
    hash: &str,
) -> uuid::Uuid {
    let new = NewUser {
        agency_id: agency,
        unit_id: None,
        username: Username::parse(username).unwrap(),
        full_name: FullName::parse(&format!("Nguyễn Văn {username}")).unwrap(),
        email: None,
        position: Some(Position::parse("Chủ tịch").unwrap()),
        password_hash: hash.to_owned(),
        roles: [role].into_iter().collect(),
    };
    store.create_user(&Actor::system("bench"), &AdminScope::whole_instance(), new).await.unwrap().user.id.as_uuid()
}

async fn setup(backend: &Backend) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (store, url): (Arc<dyn Store>, String) = match backend {
        Backend::Sqlite => (
            Arc::new(vanban_store::SqliteStore::open_dir(dir.path()).await.unwrap()),
            format!("sqlite://{}", dir.path().join("vanban.db").display()),
        ),
        Backend::Postgres(base) => {
            let db = format!("vanban_bench_{}", uuid::Uuid::now_v7().simple());
            let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut admin).await.unwrap();
            let (head, _) = base.rsplit_once('/').unwrap();
            let url = format!("{head}/{db}");
            (Arc::new(vanban_store::PgStore::connect(&url).await.unwrap()), url)
        }
    };
    let s = store.as_ref();
    let root = agency(s, None, "000.00.00.H58", "Ủy ban nhân dân tỉnh Bình An", "UBND").await;
    let mut codes = Vec::new();
    for i in 1..=RECIPIENTS {
        let code = format!("000.00.{i:02}.H58");
        agency(s, Some(root), &code, &format!("Sở thứ {i}"), &format!("S{i}")).await;
        codes.push(code);
    }
    let hash = vanban_server::auth::hash_password("bench-password").unwrap();
    let leader = user(s, root, "lanhdao", Role::Leader, &hash).await;
    user(s, root, "chuyenvien", Role::Specialist, &hash).await;
    user(s, root, "vanthu", Role::Clerk, &hash).await;
    for (i, _) in codes.iter().enumerate() {
        let a = s.get_agency_by_code(&AgencyCode::parse(&codes[i]).unwrap()).await.unwrap().agency.id;
        user(s, a, &format!("s{i}.vanthu"), Role::Clerk, &hash).await;
    }
    let blobs = vanban_store::BlobStore::local(&dir.path().join("blobs")).unwrap();
    let state = AppState::new(store, blobs, ServerConfig::default());
    vanban_server::signing::seed_demo_signing(&state, &["lanhdao"], PIN).await.unwrap();
    Setup { state, url, agency: root.as_uuid(), user: leader, codes, dir }
}

/// Fills the database to about `size` documents around the store: half issued outgoing
/// documents (register lines of last year, one delivery and three revisions each), half incoming ones.
async fn fill(backend: &Backend, s: &Setup, size: u64) {
    let half = (size / 2) as i64;
    let register: uuid::Uuid = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    let (uuid_fn, series) = match backend {
        Backend::Sqlite => {
            ("randomblob(16)", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)")
        }
        Backend::Postgres(_) => ("gen_random_uuid()", "WITH n(i) AS (SELECT generate_series(1, $1))"),
    };
    let stmts = [
        "INSERT INTO registers (id, agency_id, direction, name, doc_types, secret, active, created_at) SELECT $2, $3, 'outgoing', 'Sổ lịch sử', '', FALSE, FALSE, $4 WHERE $1 > 0 AND $5 IS NOT NULL".to_owned(),
        format!("{series} INSERT INTO documents (id, agency_id, direction, state, doc_type, subject, metadata, created_by, created_at, updated_at) \
                 SELECT {uuid_fn}, $3, 'outgoing', 'delivered', 'cong_van', 'Lịch sử đi ' || i, '{{}}', $5, $4, $4 FROM n WHERE $2 IS NOT NULL"),
        "INSERT INTO outgoing_entries (document_id, agency_id, register_id, year, number, symbol, issued_on, state, numbered_by, numbered_at, issued_at, pdf_sha256) \
         SELECT id, agency_id, $2, 2025, ROW_NUMBER() OVER (ORDER BY id), CAST(ROW_NUMBER() OVER (ORDER BY id) AS TEXT) || '/LS-UBND', $6, 'issued', NULL, $4, $4, NULL \
         FROM documents WHERE subject LIKE 'Lịch sử đi %' AND $1 > 0 AND $3 IS NOT NULL AND $5 IS NOT NULL".to_owned(),
        format!("INSERT INTO deliveries (id, document_id, sender_agency_id, recipient_code, recipient_name, recipient_agency_id, incoming_id, channel, status, status_note, status_at, created_at) \
                 SELECT {uuid_fn}, document_id, agency_id, '000.00.00.G01', 'Văn phòng Chính phủ', NULL, NULL, 'external', '06', NULL, $4, $4 FROM outgoing_entries WHERE register_id = $2 AND $1 > 0 AND $3 IS NOT NULL AND $5 IS NOT NULL"),
        format!("{series} INSERT INTO documents (id, agency_id, direction, state, doc_type, subject, metadata, created_by, created_at, updated_at) \
                 SELECT {uuid_fn}, $3, 'incoming', 'done', 'cong_van', 'Lịch sử đến ' || i, '{{}}', $5, $4, $4 FROM n WHERE $2 IS NOT NULL"),
        // Each issued document's revisions: the rendering, the leader's signature, the agency's.
        "INSERT INTO document_revisions (document_id, seq, agency_id, kind, pdf_sha256, pdf_size, certificate_id, signer_name, signed_at, validation, created_by, created_at) \
         SELECT d.id, s.seq, d.agency_id, CASE s.seq WHEN 0 THEN 'render' WHEN 1 THEN 'signer' ELSE 'agency' END, \
         '0000000000000000000000000000000000000000000000000000000000000000', 100000, NULL, NULL, $4, NULL, $5, $4 \
         FROM documents d CROSS JOIN (SELECT 0 AS seq UNION ALL SELECT 1 UNION ALL SELECT 2) s \
         WHERE d.subject LIKE 'Lịch sử đi %' AND $1 > 0 AND $2 IS NOT NULL AND $3 IS NOT NULL".to_owned(),
        "INSERT INTO incoming_items (document_id, agency_id, delivery_id, source_key, sender_code, sender_name, symbol, issued_on, priority, arrived_at, done_at) \
         SELECT id, agency_id, NULL, 'bench:' || subject, '000.00.00.G01', 'Văn phòng Chính phủ', subject, $6, 0, $4, $4 FROM documents WHERE subject LIKE 'Lịch sử đến %' AND $1 > 0 AND $2 IS NOT NULL AND $3 IS NOT NULL AND $5 IS NOT NULL".to_owned(),
    ];
    let day = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    macro_rules! run {
        ($conn:expr) => {
            for sql in &stmts {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(half)
                    .bind(register)
                    .bind(s.agency)
                    .bind(now)
                    .bind(s.user);
                if sql.contains("$6") {
                    q = q.bind(day);
                }
                q.execute(&mut $conn).await.unwrap();
            }
        };
    }
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.url).await.unwrap();
            run!(c);
        }
        Backend::Postgres(_) => {
            let mut c = sqlx::PgConnection::connect(&s.url).await.unwrap();
            run!(c);
            sqlx::query("ANALYZE").execute(&mut c).await.unwrap();
        }
    }
}

/// Returns the rate and the run's data directory, which the caller keeps until every run is
/// over: deleting tens of thousands of files makes the next runs' file creation slower for
/// a while (ext4 without a journal skips recently freed inodes when it allocates one, at
/// about 1 ms of system time per new file here), and that is not the cost of issuing.
async fn run(backend: &Backend, size: u64, docs: usize, concurrency: usize) -> (f64, tempfile::TempDir) {
    let s = setup(backend).await;
    let t = Instant::now();
    fill(backend, &s, size).await;
    let filled = t.elapsed();
    let drafter = vanban_server::bulk::session_for(&s.state, "chuyenvien").await.unwrap();
    let leader = vanban_server::bulk::session_for(&s.state, "lanhdao").await.unwrap();
    let t = Instant::now();
    let ids = vanban_server::bulk::seed_signed_copies(&s.state, &drafter, &leader, PIN, docs - 1, 0).await.unwrap();
    let seeded = t.elapsed();
    if let Backend::Postgres(_) = backend {
        // A database in use has current statistics (autovacuum analyses about once a minute);
        // the seeding just grew tables from nothing.
        let mut c = sqlx::PgConnection::connect(&s.url).await.unwrap();
        sqlx::query("ANALYZE").execute(&mut c).await.unwrap();
    }
    let clerk = Arc::new(vanban_server::bulk::session_for(&s.state, "vanthu").await.unwrap());
    // The first issue unlocks the agency key (argon2) and warms the caches: not measured.
    let (first, rest) = ids.split_first().unwrap();
    let input =
        IssueInput { certificate_id: None, pin: PIN.to_owned(), register_id: None, recipients: s.codes.clone() };
    vanban_server::issuing::issue(&s.state, &clerk, *first, input.clone()).await.unwrap();
    let queue = Arc::new(std::sync::Mutex::new(rest.to_vec()));
    if let (Backend::Postgres(_), Ok(_)) = (backend, std::env::var("VANBAN_BENCH_PG_STATS")) {
        // Profiling: pg_stat_statements (when the server loads it) counts the issuing only.
        let mut c = sqlx::PgConnection::connect(&s.url).await.unwrap();
        let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(&mut c).await;
        let _ = sqlx::query("SELECT pg_stat_statements_reset()").execute(&mut c).await;
    }
    let cpu = cpu_times();
    let pg_cpu = postgres_cpu();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (state, clerk, queue, input) = (s.state.clone(), clerk.clone(), queue.clone(), input.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(id) = queue.lock().unwrap().pop() else { break };
                let out = vanban_server::issuing::issue(&state, &clerk, id, input.clone()).await.unwrap();
                assert_eq!(out.deliveries.len(), RECIPIENTS);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = rest.len() as f64 / secs;
    let (user, sys) = cpu_times();
    let per_doc = |a: f64, b: f64| (a - b) * 1000.0 / rest.len() as f64;
    let server = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres(_) => format!("; PostgreSQL server CPU {:.2} ms/document", per_doc(postgres_cpu(), pg_cpu)),
    };
    println!(
        "  {:<10} {:>9} documents in the database: {:>5} issued in {:>6.2} s = {:>7.1} documents/s ({} recipients each, {} clerks; fill {:.1} s, seeding {:.1} s; CPU {:.2} ms/document: user {:.2}, system {:.2}{})",
        backend.name(),
        size,
        rest.len(),
        secs,
        rate,
        RECIPIENTS,
        concurrency,
        filled.as_secs_f64(),
        seeded.as_secs_f64(),
        per_doc(user + sys, cpu.0 + cpu.1),
        per_doc(user, cpu.0),
        per_doc(sys, cpu.1),
        server,
    );
    (rate, s.dir)
}

/// The CPU time (user + system, seconds) of every process named `postgres` on this machine
/// (Linux: /proc; elsewhere zero): the server's side of the PostgreSQL runs.
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .map(|stat| {
            let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
            let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
            (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
        })
        .sum()
}

/// This process's user and system CPU time so far, in seconds (Linux: /proc/self/stat,
/// in clock ticks of 1/100 s; elsewhere zero).
fn cpu_times() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name in parentheses, which may itself hold spaces.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (f.get(11).copied().unwrap_or(0.0) / 100.0, f.get(12).copied().unwrap_or(0.0) / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let docs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let sizes: Vec<u64> = std::env::var("VANBAN_BENCH_SIZES")
        .unwrap_or_else(|_| "10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut backends = vec![Backend::Sqlite];
    match std::env::var("VANBAN_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => backends.push(Backend::Postgres(url)),
        _ => println!("(PostgreSQL skipped: VANBAN_TEST_PG_URL is not set)"),
    }
    // VANBAN_BENCH_BACKENDS=postgres (or sqlite) runs one backend only, for profiling.
    if let Ok(only) = std::env::var("VANBAN_BENCH_BACKENDS") {
        backends.retain(|b| only.split(',').any(|o| b.name().to_lowercase().starts_with(&o.trim().to_lowercase())));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!(
        "== issuing and delivering: {docs} documents per run, {concurrency} concurrent clerks, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut results = Vec::new();
    let mut dirs = Vec::new();
    for b in &backends {
        for size in &sizes {
            let (rate, dir) = rt.block_on(run(b, *size, docs, concurrency));
            results.push((b.name(), *size, rate));
            dirs.push(dir);
        }
    }
    let get = |b: &str, size: u64| results.iter().find(|r| r.0 == b && r.1 == size).map(|r| r.2);
    let (small, large) = (sizes.first().copied().unwrap_or(0), sizes.last().copied().unwrap_or(0));
    println!(
        "== ratios (targets: SQLite ≥ 500/s; PostgreSQL within 1.5× of SQLite; < 1.3× slower at the largest size)"
    );
    for size in &sizes {
        if let (Some(s), Some(p)) = (get("SQLite", *size), get("PostgreSQL", *size)) {
            println!("  at {size:>9}: SQLite / PostgreSQL = {:.2}×", s / p);
        }
    }
    if small != large {
        for b in ["SQLite", "PostgreSQL"] {
            if let (Some(a), Some(z)) = (get(b, small), get(b, large)) {
                println!("  {b:<10}: {small} → {large} documents: {:.2}× slower", a / z);
            }
        }
    }
}
