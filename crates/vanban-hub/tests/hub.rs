//! The hub over loopback with real clients: authentication, routing, resends, long polls,
//! acknowledgements and the directory, on SQLite and on PostgreSQL.

use std::time::Duration;

use bytes::Bytes;
use vanban_axis::{AxisClient, Credentials, Pickup};

const A: (&str, &str) = ("tinh", "tinh-secret-0123456789");
const B: (&str, &str) = ("huyen", "huyen-secret-012345678");
/// A third system, allowed only the Government Office's codes.
const C: (&str, &str) = ("vpcp", "vpcp-secret-0123456789");

fn status_package(from: &str, to: &str, code: &str) -> Bytes {
    let st = vanban_edxml::StatusPackage {
        from: vanban_edxml::Organization {
            organ_id: from.into(),
            organ_name: "UBND huyện Hòa Bình".into(),
            ..Default::default()
        },
        response_for: vanban_edxml::ResponseFor {
            organ_id: to.into(),
            code: "31/UBND-TH".into(),
            promulgation_date: vanban_edxml::EdDate::from_date(chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()),
            document_id: format!("{to},2026/12/03,31/UBND-TH"),
        },
        staff: vanban_edxml::StaffInfo { staff: "Lê Thị Văn Thư".into(), ..Default::default() },
        status_code: code.into(),
        description: "Đã đến".into(),
        timestamp: vanban_edxml::EdDateTime::from_naive(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap().and_hms_opt(9, 0, 0).unwrap(),
        ),
    };
    Bytes::from(vanban_edxml::build_status(&st, None).unwrap())
}

async fn start(db: Option<&str>) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (start_node(db, dir.path(), None).await, dir)
}

/// A hub node with its data in `data` and (given) its bodies in `bodies`; its URL.
async fn start_node(db: Option<&str>, data: &std::path::Path, bodies: Option<&std::path::Path>) -> String {
    let mut systems: Vec<_> = [A, B]
        .iter()
        .map(|(id, s)| vanban_hub::SystemConfig { id: (*id).into(), secret: (*s).into(), agencies: vec![] })
        .collect();
    systems.push(vanban_hub::SystemConfig { id: C.0.into(), secret: C.1.into(), agencies: vec!["*.G22".into()] });
    let mut config = vanban_hub::HubConfig::new(data.to_owned(), systems);
    config.max_package_bytes = 256 * 1024;
    config.bodies_dir = bodies.map(ToOwned::to_owned);
    let state = vanban_hub::HubState::open(config, db).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(vanban_hub::serve(listener, state));
    url
}

fn client(url: &str, who: (&str, &str)) -> AxisClient {
    AxisClient::new(url, Credentials { system_id: who.0.into(), secret: who.1.into() }, vec![]).unwrap()
}

/// The province's agency held by `a`, the district's by `b`.
async fn register(a: &AxisClient, b: &AxisClient) {
    a.register_agency(&vanban_axis::Agency {
        code: "000.00.00.H58".into(),
        name: "UBND tỉnh Bình An".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    b.register_agency(&vanban_axis::Agency {
        code: "000.00.77.H58".into(),
        name: "UBND huyện Hòa Bình".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// A status long poll of up to `wait` by `who`, in a task: what it got and how long it took.
fn long_poll(who: &AxisClient, wait: Duration) -> tokio::task::JoinHandle<(Vec<vanban_axis::ReceivedItem>, Duration)> {
    let who = who.clone();
    tokio::spawn(async move {
        let t = std::time::Instant::now();
        let items = who.received("status", 10, Some(wait)).await.unwrap();
        (items, t.elapsed())
    })
}

async fn scenario(db: Option<&str>) {
    let (url, dir) = start(db).await;
    let a = client(&url, A);
    let b = client(&url, B);
    register(&a, &b).await;

    // A wrong secret, an unknown system.
    let bad = client(&url, ("tinh", "not-the-secret-000000"));
    let e = bad.agencies().await.unwrap_err();
    assert_eq!(e.code(), "axis_bad_hmac", "{e}");
    let e = client(&url, ("khac", "khac-secret-0000000000")).agencies().await.unwrap_err();
    assert_eq!(e.code(), "axis_unknown_system", "{e}");
    // An agency another system holds cannot be taken over.
    let e = a
        .register_agency(&vanban_axis::Agency { code: "000.00.77.H58".into(), name: "X".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "agency_held_by_another_system");
    let dir_list = a.agencies().await.unwrap();
    assert_eq!(dir_list.len(), 2);
    assert_eq!(dir_list.iter().find(|x| x.code == "000.00.77.H58").unwrap().system, "huyen");

    // B reports a status to A: routed by ResponseFor/OrganId.
    let pkg = status_package("000.00.77.H58", "000.00.00.H58", "01");
    // A long poll that is woken by the arrival.
    let waiter = long_poll(&a, Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ans = b.send("status", "000.00.77.H58", "status:1", pkg.clone()).await.unwrap();
    assert_eq!(ans.doc_id.len(), 24);
    let (items, waited) = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(5), "the long poll was woken: {waited:?}");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].doc_id, ans.doc_id);
    assert_eq!(items[0].from, "000.00.77.H58");
    // A resend with the same key is recognised: same id, stored once.
    let again = b.send("status", "000.00.77.H58", "status:1", pkg.clone()).await.unwrap();
    assert_eq!((again.doc_id.as_str(), again.duplicate), (ans.doc_id.as_str(), true));
    assert_eq!(a.received("status", 10, None).await.unwrap().len(), 1);
    // Nobody else reads it (a system neither sender nor addressee), nor acknowledges it; an id
    // that is not one is not found either. The addressee gets the exact bytes.
    let c = client(&url, C);
    assert_eq!(c.get(&ans.doc_id).await.unwrap_err().code(), "package_not_found");
    assert_eq!(c.ack(&ans.doc_id, Pickup::Done).await.unwrap_err().code(), "package_not_found");
    assert_eq!(c.get("../../etc/passwd").await.unwrap_err().code(), "package_not_found");
    // A system holds only the agencies its configuration allows.
    let e = c
        .register_agency(&vanban_axis::Agency { code: "000.00.00.H99".into(), name: "X".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "agency_not_allowed");
    let vpcp =
        vanban_axis::Agency {
            code: "000.00.00.G22".into(), name: "Văn phòng Chính phủ".into(), ..Default::default()
        };
    c.register_agency(&vpcp).await.unwrap();
    // A captured request is accepted once, and only at the route it signed.
    let creds = Credentials { system_id: A.0.into(), secret: A.1.into() };
    let signed = vanban_axis::auth::sign(&creds, &[("path", "/getAgenciesList")], chrono::Utc::now());
    assert_eq!(raw(&url, "/getAgenciesList", &signed).0, 200);
    let (st, body) = raw(&url, "/getAgenciesList", &signed);
    assert_eq!(st, 401);
    assert!(body.contains("axis_replay"), "{body}");
    let signed = vanban_axis::auth::sign(&creds, &[("path", "/getAgenciesList")], chrono::Utc::now());
    let (st, body) = raw(&url, "/getSentEdocList", &signed);
    assert_eq!(st, 401);
    assert!(body.contains("axis_wrong_path"), "{body}");
    // Without the path signed (strict signing), refused.
    let signed = vanban_axis::auth::sign(&creds, &[], chrono::Utc::now());
    let (st, body) = raw(&url, "/getAgenciesList", &signed);
    assert_eq!(st, 401);
    assert!(body.contains("axis_path_unsigned"), "{body}");
    assert_eq!(a.get(&ans.doc_id).await.unwrap(), pkg);
    // Sending in another agency's name is refused.
    let e = a.send("status", "000.00.77.H58", "status:x", pkg.clone()).await.unwrap_err();
    assert_eq!(e.code(), "sender_not_registered");
    // An addressee not in the directory: refused, and the client retries it later.
    let e = b
        .send("status", "000.00.77.H58", "status:2", status_package("000.00.77.H58", "000.00.00.H99", "01"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "unknown_recipient");
    assert!(e.is_transient(), "an addressee may register later");
    // Not a package; over the size limit.
    let e = b.send("status", "000.00.77.H58", "status:3", Bytes::from_static(b"<html>no</html>")).await.unwrap_err();
    assert!(e.code().starts_with("edxml_"), "{e}");
    let e = b.send("edoc", "000.00.77.H58", "big", Bytes::from(vec![b'<'; 300 * 1024])).await.unwrap_err();
    assert_eq!(e.code(), "package_too_large");

    // The sender sees the pickup state; processing, then done, and the body goes.
    a.ack(&ans.doc_id, Pickup::Processing).await.unwrap();
    let sent = b.sent(Some(&ans.doc_id)).await.unwrap();
    assert_eq!(sent[0].addressees[0].state, "processing");
    assert!(sent[0].addressees[0].fetched);
    a.ack(&ans.doc_id, Pickup::Done).await.unwrap();
    assert!(a.received("status", 10, None).await.unwrap().is_empty());
    let sent = b.sent(Some(&ans.doc_id)).await.unwrap();
    assert_eq!(sent[0].addressees[0].state, "done");
    let e = a.get(&ans.doc_id).await.unwrap_err();
    assert_eq!(e.code(), "package_purged");
    let left: usize = walk(&dir.path().join("packages"));
    assert_eq!(left, 0, "the body is removed once every addressee acknowledged");
}

fn walk(p: &std::path::Path) -> usize {
    std::fs::read_dir(p).map_or(0, |d| d.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_on_sqlite() {
    scenario(None).await;
}

/// A PostgreSQL URL whose tables live in a fresh schema of their own, so other tests'
/// tables are not touched; None (outside CI) without `VANBAN_TEST_PG_URL`.
async fn pg_schema(schema: &str) -> Option<String> {
    let Ok(url) = std::env::var("VANBAN_TEST_PG_URL") else {
        assert!(std::env::var("CI").is_err(), "CI must give VANBAN_TEST_PG_URL");
        eprintln!("VANBAN_TEST_PG_URL not set: PostgreSQL test skipped");
        return None;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&pool).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&pool).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_on_postgres() {
    let Some(scoped) = pg_schema("hub_test").await else { return };
    scenario(Some(&scoped)).await;
}

/// Two hub nodes on one PostgreSQL database and one bodies directory: a system may use
/// either. What one node stores, the other lists, serves and purges; an arrival through one
/// wakes a long poll on the other; a signed request accepted by one is a replay at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hub_nodes_share_one_database() {
    let Some(db) = pg_schema("hub_nodes_test").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let bodies = dir.path().join("bodies");
    let one = start_node(Some(&db), &dir.path().join("node1"), Some(&bodies)).await;
    let two = start_node(Some(&db), &dir.path().join("node2"), Some(&bodies)).await;
    let (a1, b2) = (client(&one, A), client(&two, B));
    register(&a1, &b2).await;
    // One directory: each node lists both agencies.
    assert_eq!(client(&one, B).agencies().await.unwrap().len(), 2);
    assert_eq!(client(&two, A).agencies().await.unwrap().len(), 2);

    // A long poll on node 1 is woken by a package sent through node 2 (far sooner than its
    // 20 s, though the node's own wake-up never fires: the arrival is on the other node).
    let waiter = long_poll(&a1, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pkg = status_package("000.00.77.H58", "000.00.00.H58", "01");
    let ans = b2.send("status", "000.00.77.H58", "status:1", pkg.clone()).await.unwrap();
    let (items, waited) = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(10), "the long poll on the other node was woken: {waited:?}");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].doc_id, ans.doc_id);
    // A resend through the other node is recognised as the same package.
    let again = client(&one, B).send("status", "000.00.77.H58", "status:1", pkg.clone()).await.unwrap();
    assert_eq!((again.doc_id.as_str(), again.duplicate), (ans.doc_id.as_str(), true));
    // Either node serves the body, byte for byte.
    assert_eq!(a1.get(&ans.doc_id).await.unwrap(), pkg);
    assert_eq!(client(&two, A).get(&ans.doc_id).await.unwrap(), pkg);

    // A signed request captured at one node is refused at the other.
    let creds = Credentials { system_id: A.0.into(), secret: A.1.into() };
    let signed = vanban_axis::auth::sign(&creds, &[("path", "/getAgenciesList")], chrono::Utc::now());
    assert_eq!(raw(&one, "/getAgenciesList", &signed).0, 200);
    let (st, body) = raw(&two, "/getAgenciesList", &signed);
    assert_eq!(st, 401);
    assert!(body.contains("axis_replay"), "{body}");

    // Acknowledged through node 2: the body is gone for both, and from the shared directory.
    client(&two, A).ack(&ans.doc_id, Pickup::Done).await.unwrap();
    assert_eq!(a1.get(&ans.doc_id).await.unwrap_err().code(), "package_purged");
    let sent = client(&one, B).sent(Some(&ans.doc_id)).await.unwrap();
    assert_eq!(sent[0].addressees[0].state, "done");
    assert_eq!(walk(&bodies), 0, "the body is removed once every addressee acknowledged");
}

/// A POST with the given headers over a plain TCP connection: (status, whole response).
fn raw(url: &str, path: &str, headers: &[(String, String)]) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, out)
}
