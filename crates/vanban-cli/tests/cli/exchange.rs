//! Two vanban instances (a province and a district), each its own process and database, and a
//! `vanban hub` between them, all on loopback. A document issued in one arrives in the other,
//! the statuses flow back to the sender's tracking view, a revocation follows; then a fault
//! run: documents are issued while the hub and the receiving instance are killed (SIGKILL) and
//! restarted, and in the end every document arrived exactly once and every status came back.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Served, api, login, serve_with, spawn_announced, text, try_api, vanban};

const SECRET_A: &str = "tinh-binh-an-secret-0001";
const SECRET_B: &str = "huyen-hoa-binh-secret-02";
const B_CODE: &str = "000.00.77.H58";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `vanban hub` on `port`, its data in `dir`.
fn hub(dir: &Path, port: u16) -> Served {
    let (served, line) = spawn_announced(
        Command::new(env!("CARGO_BIN_EXE_vanban"))
            .args(["hub", "--listen", &format!("127.0.0.1:{port}"), "--data-dir", dir.to_str().unwrap()])
            .args(["--system", &format!("tinh:{SECRET_A}"), "--system", &format!("huyen:{SECRET_B}")]),
    );
    assert!(line.starts_with("vanban hub: http://"), "{line}");
    served
}

fn create_user(dir: &Path, data: &Path, username: &str, full_name: &str, role: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(["admin", "create-user", "--data-dir", data.to_str().unwrap(), "--agency-code", B_CODE])
        .args(["--username", username, "--full-name", full_name, "--role", role, "--password-stdin"])
        .env("VANBAN_DATA_DIR", dir)
        .env_remove("VANBAN_DATABASE_URL")
        .env_remove("VANBAN_CONFIG")
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"vanban@2026\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn root_pem(addr: &str) -> String {
    let (st, _, body) = super::http(addr, "GET", "/pki/ca/root.pem", "", "", "text/plain", b"");
    assert_eq!(st, 200);
    String::from_utf8(body).unwrap()
}

fn write_config(path: &Path, hub_port: u16, system: &str, secret: &str, anchor: &Path) {
    let text = format!(
        "trust_anchors = [{anchor:?}]\n\n[exchange]\nendpoint = \"http://127.0.0.1:{hub_port}\"\nsystem_id = \"{system}\"\nsecret = \"{secret}\"\npoll_wait_ms = 1000\n",
        anchor = anchor.to_str().unwrap()
    );
    std::fs::write(path, text).unwrap();
}

/// Polls `f` until it returns Some, for at most `secs` seconds.
fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct World {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    hub_dir: PathBuf,
    hub_port: u16,
    a_conf: PathBuf,
    b_conf: PathBuf,
    ids: Vec<String>,
}

/// Province A (the demo, with `count` signed documents waiting for issue), district B (one
/// agency, a clerk, a leader, a specialist), each trusting the other's CA.
fn world(count: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let out = vanban(dir.path(), &["demo", "--no-serve", "--no-history", "--data-dir", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out =
        vanban(dir.path(), &["seed-signed", "--count", &(count - 1).to_string(), "--data-dir", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let ids: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), count);
    let out = vanban(
        dir.path(),
        &[
            "admin",
            "create-agency",
            "--data-dir",
            b.to_str().unwrap(),
            "--code",
            B_CODE,
            "--name",
            "UBND huyện Hòa Bình",
            "--abbreviation",
            "UBND",
            "--level",
            "district",
            "--place",
            "Hòa Bình",
            "--parent-name",
            "Tỉnh Bình An",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    create_user(dir.path(), &b, "hb.vanthu", "Lê Thị Văn Thư", "clerk");
    create_user(dir.path(), &b, "hb.lanhdao", "Trần Văn Lãnh Đạo", "leader");
    create_user(dir.path(), &b, "hb.chuyenvien", "Phạm Thị Chuyên Viên", "specialist");
    create_user(dir.path(), &b, "hb.admin", "Hoàng Văn Quản Trị", "admin");
    // Each instance's root CA, for the other to trust (packages and PDFs are signed under it).
    let (sa, addr_a) = serve_with(&a, None);
    let pem_a = root_pem(&addr_a);
    drop(sa);
    let (sb, addr_b) = serve_with(&b, None);
    let pem_b = root_pem(&addr_b);
    drop(sb);
    std::fs::write(dir.path().join("a-root.pem"), pem_a).unwrap();
    std::fs::write(dir.path().join("b-root.pem"), pem_b).unwrap();
    let hub_port = free_port();
    let a_conf = dir.path().join("a.toml");
    let b_conf = dir.path().join("b.toml");
    write_config(&a_conf, hub_port, "tinh", SECRET_A, &dir.path().join("b-root.pem"));
    write_config(&b_conf, hub_port, "huyen", SECRET_B, &dir.path().join("a-root.pem"));
    let hub_dir = dir.path().join("hub");
    World { a, b, hub_dir, hub_port, a_conf, b_conf, ids, _dir: dir }
}

fn deliveries(addr: &str, who: &(String, String), id: &str) -> serde_json::Value {
    api(addr, who, "GET", &format!("/api/v1/documents/{id}/deliveries"), serde_json::Value::Null).1
}

fn b_delivery(t: &serde_json::Value) -> Option<serde_json::Value> {
    t["deliveries"].as_array()?.iter().find(|d| d["recipient_code"] == B_CODE).cloned()
}

fn incoming(addr: &str, who: &(String, String)) -> Vec<serde_json::Value> {
    api(addr, who, "GET", "/api/v1/incoming?limit=5000", serde_json::Value::Null)
        .1
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A's clerk issues signed document `id` to B; the answer's JSON.
fn issue_to_b(a: &str, clerk: &(String, String), id: &str) -> serde_json::Value {
    let (st, out) = api(
        a,
        clerk,
        "POST",
        &format!("/api/v1/documents/{id}/issue"),
        serde_json::json!({ "pin": "123456", "recipients": [B_CODE] }),
    );
    assert_eq!(st, 201, "{out}");
    out
}

#[test]
fn a_document_crosses_the_hub_and_its_statuses_come_back() {
    let w = world(3);
    let _hub = hub(&w.hub_dir, w.hub_port);
    let (_sa, a) = serve_with(&w.a, Some(&w.a_conf));
    let (_sb, b) = serve_with(&w.b, Some(&w.b_conf));
    let clerk = login(&a, "vanthu");
    let id = &w.ids[0];
    let out = issue_to_b(&a, &clerk, id);
    let symbol = out["entry"]["symbol"].as_str().unwrap().to_owned();

    // It arrives at B, with A's signatures valid, and A hears 01.
    let b_clerk = login(&b, "hb.vanthu");
    let item = eventually(60, "the document at B", || incoming(&b, &b_clerk).into_iter().next());
    assert_eq!(item["symbol"], symbol.as_str());
    assert_eq!(item["sender_code"], "000.00.00.H58");
    assert_eq!(item["state"], "arrived");
    let inc = item["document"]["id"].as_str().unwrap().to_owned();
    let (st, _, pdf) =
        super::http(&b, "GET", &format!("/api/v1/incoming/{inc}/pdf"), &b_clerk.0, &b_clerk.1, "application/json", b"");
    assert_eq!((st, &pdf[..5]), (200, &b"%PDF-"[..]));
    eventually(30, "status 01 at A", || b_delivery(&deliveries(&a, &clerk, id)).filter(|d| d["status"] == "01"));

    // B registers (03), its leader assigns (04), the specialist starts (05) and finishes (06).
    let (st, r) = api(&b, &b_clerk, "POST", &format!("/api/v1/incoming/{inc}/register"), serde_json::json!({}));
    assert_eq!(st, 200, "{r}");
    let handler = login(&b, "hb.chuyenvien");
    let (_, me) = api(&b, &handler, "GET", "/api/v1/me", serde_json::Value::Null);
    let lead = me.pointer("/user/id").or_else(|| me.pointer("/user/user/id")).unwrap().clone();
    let b_leader = login(&b, "hb.lanhdao");
    let (st, r) = api(
        &b,
        &b_leader,
        "POST",
        &format!("/api/v1/incoming/{inc}/assign"),
        serde_json::json!({ "lead": lead, "note": "Đề nghị tham mưu" }),
    );
    assert_eq!(st, 200, "{r}");
    let (st, r) = api(&b, &handler, "POST", &format!("/api/v1/incoming/{inc}/start"), serde_json::json!({}));
    assert_eq!(st, 200, "{r}");
    let (st, r) = api(
        &b,
        &handler,
        "POST",
        &format!("/api/v1/incoming/{inc}/finish"),
        serde_json::json!({ "note": "Đã hoàn thành" }),
    );
    assert_eq!(st, 200, "{r}");

    // A's tracking view: B "Hoàn thành" with 01, 03, 04, 05, 06 in order.
    // Packages may arrive in any order; the view orders them by the time B reported them.
    let d = eventually(60, "statuses 03 to 06 at A", || {
        b_delivery(&deliveries(&a, &clerk, id))
            .filter(|d| d["status"] == "06" && d["events"].as_array().unwrap().len() == 5)
    });
    let codes: Vec<&str> = d["events"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["01", "03", "04", "05", "06"], "{d}");
    assert_eq!(d["status_label"], "Hoàn thành");
    let (st, _, page) = super::http(&a, "GET", &format!("/documents/{id}/tracking"), &clerk.0, "", "text/html", b"");
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&page).contains("Hoàn thành"));

    // A revokes: B's copy is withdrawn and its clerk agrees (15), which A sees.
    let (st, r) = api(
        &a,
        &clerk,
        "POST",
        &format!("/api/v1/documents/{id}/change"),
        serde_json::json!({ "kind": "revoke", "reason": "Ban hành sai thẩm quyền" }),
    );
    assert_eq!(st, 200, "{r}");
    let item = eventually(60, "the revocation at B", || {
        incoming(&b, &b_clerk).into_iter().find(|i| i["state"] == "withdrawn" && i["change_state"] == "pending")
    });
    assert!(item["change_reason"].as_str().unwrap().contains("Ban hành sai thẩm quyền"), "{item}");
    let (st, r) =
        api(&b, &b_clerk, "POST", &format!("/api/v1/incoming/{inc}/answer"), serde_json::json!({ "accept": true }));
    assert_eq!(st, 200, "{r}");
    eventually(60, "status 15 at A", || b_delivery(&deliveries(&a, &clerk, id)).filter(|d| d["status"] == "15"));

    // A replacement: the second document is replaced by the third. The package carries the
    // new one (B has it already: received once) and withdraws the replaced one.
    let (doc2, doc3) = (&w.ids[1], &w.ids[2]);
    for d in [doc2, doc3] {
        let body = serde_json::json!({ "pin": "123456", "recipients": [B_CODE] });
        let (st, out) = api(&a, &clerk, "POST", &format!("/api/v1/documents/{d}/issue"), body);
        assert_eq!(st, 201, "{out}");
    }
    eventually(60, "both documents at B", || (incoming(&b, &b_clerk).len() == 3).then_some(()));
    let body = serde_json::json!({ "kind": "replace", "reason": "Sai số liệu", "replacement_id": doc3 });
    let (st, r) = api(&a, &clerk, "POST", &format!("/api/v1/documents/{doc2}/change"), body);
    assert_eq!(st, 200, "{r}");
    let replaced = eventually(60, "the replacement at B", || {
        incoming(&b, &b_clerk).into_iter().find(|i| i["change_kind"] == "replace" && i["state"] == "withdrawn")
    });
    assert!(replaced["change_reason"].as_str().unwrap().contains("Sai số liệu"), "{replaced}");
    assert_eq!(incoming(&b, &b_clerk).len(), 3, "the new document was not received twice");

    // A corrects the third document's metadata (an update, business type 2, its header the
    // corrected one): B's clerk sees what changes, agrees (15), and B's copy takes it.
    let new_subject = "Về việc triển khai văn bản điện tử (sửa đổi trích yếu)";
    let body = serde_json::json!({
        "kind": "update", "reason": "Sửa trích yếu và hạn trả lời",
        "update": { "subject": new_subject, "priority": "very_urgent", "due_date": "2026-12-31" },
    });
    let (st, r) = api(&a, &clerk, "POST", &format!("/api/v1/documents/{doc3}/change"), body);
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["subject"], new_subject, "{r}");
    let pending = eventually(60, "the update at B", || {
        incoming(&b, &b_clerk).into_iter().find(|i| i["change_kind"] == "update" && i["change_state"] == "pending")
    });
    assert_eq!(pending["change_update"]["subject"], new_subject, "{pending}");
    assert_eq!(pending["change_update"]["priority"], "very_urgent", "{pending}");
    assert_eq!(pending["change_update"]["due_date"], "2026-12-31", "{pending}");
    assert_ne!(pending["document"]["subject"], new_subject, "not applied before the clerk agrees");
    let inc3 = pending["document"]["id"].as_str().unwrap().to_owned();
    let (st, r) =
        api(&b, &b_clerk, "POST", &format!("/api/v1/incoming/{inc3}/answer"), serde_json::json!({ "accept": true }));
    assert_eq!(st, 200, "{r}");
    assert_eq!((&r["document"]["subject"], &r["priority"]), (&new_subject.into(), &"very_urgent".into()), "{r}");
    assert_eq!(r["document"]["metadata"]["due_date"], "2026-12-31", "{r}");
    eventually(60, "status 15 for the update at A", || {
        b_delivery(&deliveries(&a, &clerk, doc3)).filter(|d| d["status"] == "15")
    });

    // A package B cannot take (an attachment whose base64 is broken) is refused with the
    // reason, and its sender is told with status 02.
    let mut edoc = vanban_edxml::Edoc::default();
    edoc.header.from = vanban_edxml::Organization {
        organ_id: "000.00.00.H58".into(),
        organ_name: "UBND tỉnh Bình An".into(),
        ..Default::default()
    };
    edoc.header.to = vec![vanban_edxml::Organization {
        organ_id: B_CODE.into(),
        organ_name: "UBND huyện Hòa Bình".into(),
        ..Default::default()
    }];
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    edoc.header.document_id = vanban_edxml::document_id("000.00.00.H58", day, "99", "UBND-VP");
    edoc.header.code = vanban_edxml::Code { number: "99".into(), notation: "UBND-VP".into() };
    edoc.header.promulgation_date = vanban_edxml::EdDate::from_date(day);
    edoc.header.subject = "Về việc thử gói tin hỏng".into();
    edoc.header.document_type.type_name = "Công văn".into();
    edoc.trace.business.document_id = edoc.header.document_id.clone();
    edoc.trace.business.reason = "Văn bản điện tử mới".into();
    edoc.attachments.push(vanban_edxml::Attachment {
        content_id: "cid:1".into(),
        name: "vb.pdf".into(),
        description: "vb.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.7 not really".to_vec(),
        zipped: false,
    });
    let good = String::from_utf8(vanban_edxml::build_edoc(&edoc, None).unwrap()).unwrap();
    let open = good.find("<edXML:ContentTransferEncoded").unwrap();
    let at = open + good[open..].find('>').unwrap() + 1;
    let broken = format!("{}@@not base64@@{}", &good[..at], &good[at..]);
    let tinh = vanban_axis::AxisClient::new(
        &format!("http://127.0.0.1:{}", w.hub_port),
        vanban_axis::Credentials { system_id: "tinh".into(), secret: SECRET_A.into() },
        vec![],
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sent = rt.block_on(tinh.send("edoc", "000.00.00.H58", "broken:1", broken.into_bytes().into())).unwrap();
    let b_admin = login(&b, "hb.admin");
    let refused = eventually(60, "the refusal at B", || {
        let (_, ex) = api(&b, &b_admin, "GET", "/api/v1/exchange", serde_json::Value::Null);
        ex["inbox"].as_array()?.iter().find(|i| i["remote_id"] == sent.doc_id.as_str()).cloned()
    });
    assert_eq!(refused["outcome"], "rejected", "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("base64"), "{refused}");
    let admin = login(&a, "admin");
    eventually(60, "status 02 back at A", || {
        let (_, ex) = api(&a, &admin, "GET", "/api/v1/exchange", serde_json::Value::Null);
        ex["inbox"].as_array()?.iter().find(|i| i["kind"] == "status" && i["detail"]["status_code"] == "02").cloned()
    });

    // The operators' view lists the packages both ways.
    let (st, ex) = api(&a, &admin, "GET", "/api/v1/exchange", serde_json::Value::Null);
    assert_eq!(st, 200, "{ex}");
    assert!(ex["outbox"].as_array().unwrap().iter().all(|o| o["state"] == "sent"), "{ex}");
    assert!(
        ex["inbox"].as_array().unwrap().iter().any(|i| i["kind"] == "status" && i["outcome"] == "accepted"),
        "{ex}"
    );
    for data in [&w.a, &w.b] {
        let out = vanban(data, &["admin", "verify-audit", "--data-dir", data.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// Documents issued from A while the hub and B are killed and restarted several times:
/// every document arrives at B exactly once, and A hears status 01 for every one of them.
/// Both instances start while the hub is down, so their first registration of their agencies
/// fails; once the hub is up they register within seconds (not at the next hourly round), and
/// a document goes through. (Before, the axis refused every package of A for an hour:
/// `sender_not_registered`.)
#[test]
fn instances_started_before_the_hub_register_once_it_is_up() {
    let w = world(1);
    let (_sa, a) = serve_with(&w.a, Some(&w.a_conf));
    let (_sb, b) = serve_with(&w.b, Some(&w.b_conf));
    std::thread::sleep(Duration::from_millis(500));
    let _hub = hub(&w.hub_dir, w.hub_port);
    let clerk = login(&a, "vanthu");
    let id = &w.ids[0];
    issue_to_b(&a, &clerk, id);
    let b_clerk = login(&b, "hb.vanthu");
    let item = eventually(90, "the document at B", || incoming(&b, &b_clerk).into_iter().next());
    assert_eq!(item["sender_code"], "000.00.00.H58");
    eventually(60, "status 01 at A", || b_delivery(&deliveries(&a, &clerk, id)).filter(|d| d["status"] == "01"));
}

/// A TCP relay on `port` to `to` that can cut the line: while cut, it closes every connection
/// it holds and every new one at once (what a worker sees of an axis it cannot reach). The
/// port stays bound throughout, so no other process of a parallel test can take it meanwhile.
struct Relay {
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn start(port: u16, to: u16) -> Relay {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let relay = Relay { cut: Default::default(), open: Default::default() };
        let (cut, open) = (relay.cut.clone(), relay.open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else { continue };
                open.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut into) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut into);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        relay
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
        if cut {
            for s in self.open.lock().unwrap().drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// The line to the hub is cut for a while: a document issued meanwhile fails to go four times
/// and waits out a back-off of 16 s or more. The line comes back; the worker notices within
/// seconds (its receive loops look every few seconds) and sends the waiting row at once, not
/// when its back-off ends (after a long outage, up to ten minutes later).
#[test]
fn after_an_outage_of_the_hub_waiting_rows_go_at_once() {
    let w = world(2);
    // The instances reach the hub through a relay on the port their configuration names.
    let hub_port = free_port();
    let _hub = hub(&w.hub_dir, hub_port);
    let relay = Relay::start(w.hub_port, hub_port);
    let (_sa, a) = serve_with(&w.a, Some(&w.a_conf));
    let (_sb, b) = serve_with(&w.b, Some(&w.b_conf));
    let (clerk, b_clerk, admin) = (login(&a, "vanthu"), login(&b, "hb.vanthu"), login(&a, "admin"));
    // Both instances registered: a first document goes through.
    issue_to_b(&a, &clerk, &w.ids[0]);
    eventually(60, "the first document at B", || incoming(&b, &b_clerk).into_iter().next());
    relay.set_cut(true);
    issue_to_b(&a, &clerk, &w.ids[1]);
    // The first document's row is sent: the one queued is the second's.
    let waiting = eventually(60, "four failed attempts", || {
        let (_, ex) = api(&a, &admin, "GET", "/api/v1/exchange", serde_json::Value::Null);
        ex["outbox"].as_array()?.iter().find(|o| o["state"] == "queued" && o["attempts"].as_i64() >= Some(4)).cloned()
    });
    let due: chrono::DateTime<chrono::Utc> = serde_json::from_value(waiting["next_attempt_at"].clone()).unwrap();
    assert!(due - chrono::Utc::now() > chrono::Duration::seconds(10), "{waiting}");
    relay.set_cut(false);
    eventually(60, "the second document at B", || (incoming(&b, &b_clerk).len() == 2).then_some(()));
    let (_, ex) = api(&a, &admin, "GET", "/api/v1/exchange", serde_json::Value::Null);
    let sent = ex["outbox"].as_array().unwrap().iter().find(|o| o["id"] == waiting["id"]).unwrap().clone();
    let sent_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(sent["sent_at"].clone()).unwrap();
    assert!(sent_at < due, "expected it sent before its back-off ended at {due}, it was sent at {sent_at}: {sent}");
}

#[test]
fn exchange_survives_sigkill_of_the_hub_and_the_receiver() {
    let docs: usize = std::env::var("VANBAN_EXCHANGE_FAULT_DOCS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let w = world(docs);
    let mut the_hub = Some(hub(&w.hub_dir, w.hub_port));
    let (_sa, a) = serve_with(&w.a, Some(&w.a_conf));
    let (sb, _) = serve_with(&w.b, Some(&w.b_conf));
    let mut the_b = Some(sb);
    let clerk = login(&a, "vanthu");
    // Clerks issue in the background; the killer below takes the hub and B down meanwhile.
    let queue = std::sync::Arc::new(std::sync::Mutex::new(w.ids.clone()));
    let issuers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, a, clerk) = (queue.clone(), a.clone(), clerk.clone());
            std::thread::spawn(move || {
                let body = serde_json::json!({ "pin": "123456", "recipients": [B_CODE] });
                while let Some(id) = queue.lock().unwrap().pop() {
                    match try_api(&a, &clerk, "POST", &format!("/api/v1/documents/{id}/issue"), &body) {
                        Some((201, _)) => {}
                        other => panic!("issue {id}: {other:?}"),
                    }
                }
            })
        })
        .collect();
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("random seed {seed}");
    let mut rand = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let (mut hub_kills, mut b_kills) = (0, 0);
    for round in 0..8 {
        std::thread::sleep(Duration::from_millis(300 + rand(1200)));
        if round % 2 == 0 {
            drop(the_hub.take()); // SIGKILL
            hub_kills += 1;
            std::thread::sleep(Duration::from_millis(rand(500)));
            the_hub = Some(hub(&w.hub_dir, w.hub_port));
        } else {
            drop(the_b.take()); // SIGKILL
            b_kills += 1;
            std::thread::sleep(Duration::from_millis(rand(500)));
            the_b = Some(serve_with(&w.b, Some(&w.b_conf)).0);
        }
    }
    for t in issuers {
        t.join().unwrap();
    }
    println!("{hub_kills} hub kills, {b_kills} receiver kills");
    let (_sb2, b) = {
        drop(the_b.take());
        serve_with(&w.b, Some(&w.b_conf))
    };
    let b_clerk = login(&b, "hb.vanthu");
    // A transport error while B drains its backlog is retried, and said with whether B is still
    // running (a B that died makes every later poll fail, and the wait times out).
    let mut b_process = _sb2;
    let got = eventually(600, "every document at B", || {
        let path = "/api/v1/incoming?limit=5000";
        match super::try_http(&b, "GET", path, &b_clerk.0, &b_clerk.1, "application/json", b"null") {
            Ok((_, _, body)) => {
                let list = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                (list.len() >= docs).then_some(list)
            }
            Err(e) => {
                eprintln!("polling B: {e}; B's process: {:?}", b_process.0.try_wait());
                None
            }
        }
    });
    let symbols: std::collections::BTreeSet<&str> = got.iter().map(|i| i["symbol"].as_str().unwrap()).collect();
    assert_eq!(got.len(), docs, "every document arrived exactly once");
    assert_eq!(symbols.len(), docs);
    // Every status 01 came back to A (each round asks again only for those still missing).
    let mut missing: Vec<&String> = w.ids.iter().collect();
    eventually(600, "status 01 for every document at A", || {
        missing.retain(|id| !b_delivery(&deliveries(&a, &clerk, id)).is_some_and(|d| d["status"] == "01"));
        println!("{} documents without status 01 at A yet", missing.len());
        missing.is_empty().then_some(())
    });
    // And nothing was recorded twice on A's side either: one delivery and one 01 per document.
    for id in &w.ids {
        let t = deliveries(&a, &clerk, id);
        assert_eq!(t["deliveries"].as_array().unwrap().len(), 1, "{t}");
        let events = b_delivery(&t).unwrap()["events"].as_array().unwrap().iter().filter(|e| e["code"] == "01").count();
        assert_eq!(events, 1, "status 01 recorded once: {t}");
    }
}
