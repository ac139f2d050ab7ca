//! Registers, numbering, issuing, delivery, receiving and handling, on both backends.

use super::*;

use chrono::NaiveDate;
use vanban_domain::{AssignmentRole, ChangeKind, IncomingState, Notation, Priority, RegisterDirection};
use vanban_store::{
    AssignRequest, ChangeRequest, HandleStep, IncomingDraft, IncomingFilter, IncomingVisibility, IssueRequest,
    MetadataChange, NewDelivery, NewIncoming, NewRegister, NumberRequest, OutboxOutcome, RemoteChange, RemoteOutcome,
    RemoteStatus,
};

conformance!(
    issue_deliver_register_assign_finish,
    numbering_is_gapless_under_32_clerks,
    a_numbered_document_is_completed_not_renumbered,
    revocation_withdraws_and_recipients_answer,
    handlers_see_only_their_assignments,
    reminders_and_emails_are_written_once,
    outbox_keeps_external_deliveries,
    received_documents_are_stored_once,
    emails_are_claimed_once,
    exchange_claims_once_and_applies_each_package_once,
    a_writer_undone_after_its_audit_event_leaves_the_chain_whole,
);

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn outgoing_register(name: &str) -> NewRegister {
    NewRegister {
        direction: RegisterDirection::Outgoing,
        name: name.into(),
        doc_types: vec![],
        secret: false,
        suffix: String::new(),
    }
}

fn incoming_register() -> NewRegister {
    NewRegister {
        direction: RegisterDirection::Incoming,
        name: "Sổ văn bản đến".into(),
        doc_types: vec![],
        secret: false,
        suffix: String::new(),
    }
}

fn draft_in() -> IncomingDraft {
    IncomingDraft {
        doc_type: DocumentType::CongVan,
        subject: "Về việc kiểm tra công tác văn thư".into(),
        priority: Priority::Urgent,
        metadata: serde_json::json!({ "note": "test" }),
    }
}

fn issue_req(base: Option<String>, n: u32, recipients: &[(&str, &str)]) -> IssueRequest {
    IssueRequest {
        revision: revision(base.as_deref(), RevisionKind::Agency, &pdf(1000 + n)),
        recipients: recipients
            .iter()
            .map(|(c, name)| NewDelivery { recipient_code: (*c).into(), recipient_name: (*name).into() })
            .collect(),
        incoming: draft_in(),
        outbox_payload: serde_json::json!({ "business": "new" }),
        appendices: Vec::new(),
    }
}

/// The sender (the department) with a clerk, a leader and its outgoing register; the
/// district with a clerk, a leader, two specialists and its incoming register.
struct Desk {
    t: Tree,
    clerk: Caller,
    dept: Scope,
    register: vanban_domain::RegisterId,
    d_clerk: Caller,
    d_leader: Caller,
    d_handler: Caller,
    d_other: Caller,
    district: Scope,
    d_register: vanban_domain::RegisterId,
}

async fn desk(s: &dyn Store) -> Desk {
    let t = tree(s).await;
    let (_, clerk) = user(s, t.dept.agency.id, "vanthu", &[Role::Clerk]).await;
    let (_, d_clerk) = user(s, t.district.agency.id, "huyen.vanthu", &[Role::Clerk]).await;
    let (_, d_leader) = user(s, t.district.agency.id, "huyen.lanhdao", &[Role::Leader]).await;
    let (_, d_handler) = user(s, t.district.agency.id, "huyen.chuyenvien", &[Role::Specialist]).await;
    let (_, d_other) = user(s, t.district.agency.id, "huyen.chuyenvien2", &[Role::Specialist]).await;
    let dept = Scope::of(&clerk);
    let district = Scope::of(&d_clerk);
    let register =
        s.create_register(&Actor::user(&clerk, None), &dept, outgoing_register("Sổ văn bản đi")).await.unwrap().id;
    let d_register = s.create_register(&Actor::user(&d_clerk, None), &district, incoming_register()).await.unwrap().id;
    Desk { t, clerk, dept, register, d_clerk, d_leader, d_handler, d_other, district, d_register }
}

/// A document of the department brought to `signed` through the store.
async fn signed_doc(s: &dyn Store, dept: &Scope, clerk: &Caller, subject: &str) -> DocumentId {
    let by = Actor::user(clerk, None);
    let doc = s.create_draft(&by, dept, draft(subject)).await.unwrap();
    for a in [OutgoingAction::SubmitForReview, OutgoingAction::Approve, OutgoingAction::Sign] {
        s.transition(&by, dept, doc.id, act(a)).await.unwrap();
    }
    doc.id
}

fn number_req(register: vanban_domain::RegisterId, on: &str) -> NumberRequest {
    NumberRequest { register_id: register, notation: Notation::parse("STC-VP").unwrap(), issued_on: day(on) }
}

async fn issue_deliver_register_assign_finish(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let doc = signed_doc(s, &d.dept, &d.clerk, "Về việc kiểm tra công tác văn thư").await;

    // The register refuses a document that is not signed yet, and a register of another agency.
    let draft_doc = s.create_draft(&by, &d.dept, draft("Chưa ký")).await.unwrap();
    expect_domain(
        s.number_document(&by, &d.dept, draft_doc.id, number_req(d.register, "2026-03-02")).await,
        "illegal_transition",
    );
    expect_not_found(s.number_document(&by, &d.dept, doc, number_req(d.d_register, "2026-03-02")).await);
    expect_conflict(s.issue_document(&by, &d.dept, doc, issue_req(None, 1, &[])).await, "not_numbered");

    let e = s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-03-02")).await.unwrap();
    assert_eq!((e.number, e.year, e.symbol.as_str(), e.state.as_str()), (1, 2026, "01/STC-VP", "numbered"));
    assert_eq!(s.get_document(&d.dept, doc).await.unwrap().state, "numbered");

    let district_code = d.t.district.agency.code.as_str().to_owned();
    let out = s
        .issue_document(
            &by,
            &d.dept,
            doc,
            issue_req(
                None,
                1,
                &[
                    (&district_code, "UBND huyện Đông Sơn"),
                    ("000.00.00.G01", "Văn phòng Chính phủ"),
                    (&district_code, "again"),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.entry.state, "issued");
    assert_eq!(out.deliveries.len(), 2, "a recipient listed twice is delivered once");
    assert_eq!(s.get_document(&d.dept, doc).await.unwrap().state, "delivered");
    expect_conflict(s.issue_document(&by, &d.dept, doc, issue_req(None, 2, &[])).await, "already_issued");
    let internal = out.deliveries.iter().find(|x| x.channel == "internal").unwrap();
    assert_eq!(internal.status, "01", "arrival is reported at once");
    let incoming_id = internal.incoming_id.unwrap();

    // The district sees it; the department's scope does not reach it, nor does the commune.
    let all = IncomingVisibility::All;
    let list = s.list_incoming(&d.district, all, IncomingFilter::default()).await.unwrap();
    assert_eq!(list.len(), 1);
    let item = &list[0];
    assert_eq!(
        (item.state, item.symbol.as_str(), item.priority),
        (IncomingState::Arrived, "01/STC-VP", Priority::Urgent)
    );
    assert_eq!(item.sender_code, d.t.dept.agency.code.as_str());
    assert_eq!(item.pdf_sha256.as_deref(), Some(pdf(1001).as_str()));
    expect_not_found(s.get_incoming(&d.dept, all, incoming_id).await);
    let (_, commune_clerk) = user(s, d.t.commune.agency.id, "xa.vanthu", &[Role::Clerk]).await;
    assert!(s.list_incoming(&Scope::of(&commune_clerk), all, IncomingFilter::default()).await.unwrap().is_empty());
    // The district's clerk was notified.
    let notes = s.list_notifications(&d.district, true, 10).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].title.contains("01/STC-VP") && notes[0].title.contains("KHẨN"), "{}", notes[0].title);

    // Register (03): incoming number 1 of the year.
    let by_dc = Actor::user(&d.d_clerk, None);
    let reg = s.register_incoming(&by_dc, &d.district, incoming_id, d.d_register, day("2026-03-02")).await.unwrap();
    assert_eq!((reg.state, reg.arrival_number, reg.year), (IncomingState::Registered, Some(1), Some(2026)));
    expect_domain(
        s.register_incoming(&by_dc, &d.district, incoming_id, d.d_register, day("2026-03-02")).await,
        "illegal_transition",
    );

    // Assign (04), start (05), finish (06).
    let by_leader = Actor::user(&d.d_leader, None);
    let assign = AssignRequest {
        lead: d.d_handler.user_id,
        co: vec![d.d_other.user_id],
        info: vec![d.d_clerk.user_id],
        deadline: Some(day("2026-03-10")),
        note: Some("Đề nghị tham mưu trả lời".into()),
    };
    // Nobody outside the agency can be assigned.
    let mut bad = assign.clone();
    bad.lead = d.clerk.user_id;
    expect_domain(s.assign_incoming(&by_leader, &d.district, incoming_id, bad).await, "invalid_value");
    let a = s.assign_incoming(&by_leader, &d.district, incoming_id, assign).await.unwrap();
    assert_eq!(a.state, IncomingState::Assigned);
    assert_eq!(a.assignments.len(), 3);
    assert_eq!(a.assignments.iter().find(|x| x.role == AssignmentRole::Lead).unwrap().user_id, d.d_handler.user_id);
    let by_h = Actor::user(&d.d_handler, None);
    let by_other = Actor::user(&d.d_other, None);
    expect_conflict(
        s.handle_incoming(&by_other, &d.district, incoming_id, HandleStep::Finish { note: None, response: None }).await,
        "not_the_lead_handler",
    );
    s.handle_incoming(&by_h, &d.district, incoming_id, HandleStep::Start).await.unwrap();
    let reply = s.create_draft(&Actor::user(&d.d_handler, None), &d.district, draft("Trả lời")).await.unwrap();
    let done = s
        .handle_incoming(
            &by_h,
            &d.district,
            incoming_id,
            HandleStep::Finish { note: Some("Đã trả lời".into()), response: Some(reply.id) },
        )
        .await
        .unwrap();
    assert_eq!((done.state, done.response_document_id), (IncomingState::Done, Some(reply.id)));
    assert!(done.assignments.iter().all(|a| !a.active));

    // The sender's tracking view: 01, 03, 04, 05, 06, in order, each with who.
    let tracking = s.list_deliveries(&d.dept, doc).await.unwrap();
    let internal = tracking.iter().find(|x| x.channel == "internal").unwrap();
    assert_eq!(internal.status, "06");
    let codes: Vec<&str> = internal.events.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["01", "03", "04", "05", "06"]);
    assert_eq!(internal.events[1].description.as_deref(), Some("Số đến 01"));
    assert!(s.list_deliveries(&d.district, doc).await.unwrap().is_empty(), "tracking is the sender's");
    // The issuing clerk hears of completion.
    assert!(s.list_notifications(&d.dept, true, 10).await.unwrap().iter().any(|n| n.kind == "status_06"));

    // A second document, returned (02) with its reason.
    let doc2 = signed_doc(s, &d.dept, &d.clerk, "Gửi nhầm").await;
    let e2 = s.number_document(&by, &d.dept, doc2, number_req(d.register, "2026-03-03")).await.unwrap();
    assert_eq!(e2.number, 2);
    let out2 =
        s.issue_document(&by, &d.dept, doc2, issue_req(None, 2, &[(&district_code, "UBND huyện")])).await.unwrap();
    let inc2 = out2.deliveries[0].incoming_id.unwrap();
    expect_domain(s.return_incoming(&by_dc, &d.district, inc2, "  ".into()).await, "field_required");
    let r = s.return_incoming(&by_dc, &d.district, inc2, "Gửi nhầm cơ quan".into()).await.unwrap();
    assert_eq!((r.state, r.returned_reason.as_deref()), (IncomingState::Returned, Some("Gửi nhầm cơ quan")));
    let t2 = s.list_deliveries(&d.dept, doc2).await.unwrap();
    assert_eq!((t2[0].status.as_str(), t2[0].status_note.as_deref()), ("02", Some("Gửi nhầm cơ quan")));

    // The outgoing register for the range, in number order.
    let rows = s.outgoing_register(&d.dept, None, day("2026-01-01"), day("2026-12-31")).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.entry.symbol.as_str()).collect::<Vec<_>>(), ["01/STC-VP", "02/STC-VP"]);
    assert_eq!(rows[0].subject, "Về việc kiểm tra công tác văn thư");
    // "Nơi nhận": where each was delivered (the document named none of them).
    assert_eq!(rows[0].recipients, ["UBND huyện Đông Sơn", "Văn phòng Chính phủ"]);
    assert_eq!(rows[1].recipients, ["UBND huyện"]);
    assert!(s.outgoing_register(&d.dept, None, day("2026-03-03"), day("2026-03-03")).await.unwrap().len() == 1);
    assert!(s.outgoing_register(&d.district, None, day("2026-01-01"), day("2026-12-31")).await.unwrap().is_empty());

    let events = all_events(s).await;
    assert_eq!(count_action(&events, "document.assign_number"), 2);
    assert_eq!(count_action(&events, "document.issue"), 2);
    for a in ["incoming.register", "incoming.assign", "incoming.start_work", "incoming.finish", "incoming.return"] {
        assert_eq!(count_action(&events, a), 1, "{a}");
    }
    assert!(chain(s).await.is_intact());
}

/// Inserts `n` documents of `agency` already `signed`, around the store (fast setup).
async fn signed_docs_raw(ctx: &Ctx, agency: AgencyId, created_by: UserId, n: usize) -> Vec<DocumentId> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let meta = serde_json::to_string(&OutgoingMetadata::new(DocumentType::CongVan, "Về việc thử tải", "Sở Tài chính"))
        .unwrap();
    let now = Utc::now();
    // The same statement for either backend's query builder and connection.
    macro_rules! insert {
        ($db:ty, $conn:expr, $chunk:expr) => {{
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO documents (id, agency_id, direction, state, doc_type, subject, metadata, created_by, created_at, updated_at) ",
            );
            q.push_values($chunk, |mut b, id| {
                b.push_bind(*id)
                    .push_bind(agency.as_uuid())
                    .push_bind("outgoing")
                    .push_bind("signed")
                    .push_bind("cong_van")
                    .push_bind("Về việc thử tải")
                    .push_bind(meta.clone())
                    .push_bind(created_by.as_uuid())
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute($conn).await.unwrap();
        }};
    }
    for chunk in ids.chunks(200) {
        match &mut Raw::connect(ctx).await {
            Raw::Sqlite(c) => insert!(sqlx::Sqlite, c, chunk),
            Raw::Pg(c) => insert!(sqlx::Postgres, c, chunk),
        }
    }
    ids.into_iter().map(DocumentId::from_uuid).collect()
}

/// 32 clerks issue 2,000 documents at once from one register: numbers are exactly 1..=2000.
async fn numbering_is_gapless_under_32_clerks(ctx: Ctx) {
    const DOCS: usize = 2000;
    const CLERKS: usize = 32;
    let store = ctx.store.clone();
    let d = desk(store.as_ref()).await;
    let district_code = d.t.district.agency.code.as_str().to_owned();
    let docs = signed_docs_raw(&ctx, d.t.dept.agency.id, d.clerk.user_id, DOCS).await;
    let queue = Arc::new(std::sync::Mutex::new(docs.clone()));
    let mut tasks = Vec::new();
    for _ in 0..CLERKS {
        let (store, queue, dept, clerk, register, code) =
            (store.clone(), queue.clone(), d.dept, d.clerk.clone(), d.register, district_code.clone());
        tasks.push(tokio::spawn(async move {
            let by = Actor::user(&clerk, None);
            let mut mine = Vec::new();
            loop {
                let Some(doc) = queue.lock().unwrap().pop() else { break };
                let e = store.number_document(&by, &dept, doc, number_req(register, "2026-06-15")).await.unwrap();
                let out = store
                    .issue_document(
                        &by,
                        &dept,
                        doc,
                        issue_req(None, u32::try_from(e.number).unwrap(), &[(&code, "UBND huyện")]),
                    )
                    .await
                    .unwrap();
                assert_eq!(out.deliveries.len(), 1);
                mine.push(e.number);
            }
            mine
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.extend(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=DOCS as i64).collect::<Vec<_>>(), "numbers are exactly 1..={DOCS}");
    let rows = store.outgoing_register(&d.dept, Some(d.register), day("2026-01-01"), day("2026-12-31")).await.unwrap();
    assert_eq!(rows.len(), DOCS);
    assert!(rows.iter().all(|r| r.entry.state == "issued"));
    let symbols: BTreeSet<&str> = rows.iter().map(|r| r.entry.symbol.as_str()).collect();
    assert_eq!(symbols.len(), DOCS, "no symbol twice");
    // Every document arrived exactly once.
    let arrived = store
        .list_incoming(&d.district, IncomingVisibility::All, IncomingFilter { limit: 10_000, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(arrived.len(), DOCS);
    let distinct: BTreeSet<&str> = arrived.iter().map(|i| i.symbol.as_str()).collect();
    assert_eq!(distinct.len(), DOCS);
    assert!(store.numbered_backlog(10).await.unwrap().is_empty());
    // A new year starts again at 01.
    let next = signed_doc(store.as_ref(), &d.dept, &d.clerk, "Năm mới").await;
    let e = store
        .number_document(&Actor::user(&d.clerk, None), &d.dept, next, number_req(d.register, "2027-01-01"))
        .await
        .unwrap();
    assert_eq!((e.number, e.year, e.symbol.as_str()), (1, 2027, "01/STC-VP"));
    assert!(chain(store.as_ref()).await.is_intact());
}

/// Writers in one batch share the audit chain's tail (group.rs): a writer rolled back after it
/// appended its event (numbering refused with `duplicate_symbol`, which fails after the audit
/// event is written) must not leave its hash as the tail for the writers after it.
async fn a_writer_undone_after_its_audit_event_leaves_the_chain_whole(ctx: Ctx) {
    let store = ctx.store.clone();
    let d = desk(store.as_ref()).await;
    let by = Actor::user(&d.clerk, None);
    let first = signed_doc(store.as_ref(), &d.dept, &d.clerk, "Số 1").await;
    store.number_document(&by, &d.dept, first, number_req(d.register, "2026-07-01")).await.unwrap();
    // A second catch-all register: its number 1 collides with the first register's symbol.
    let second = store.create_register(&by, &d.dept, outgoing_register("Sổ thứ hai")).await.unwrap().id;
    let docs = signed_docs_raw(&ctx, d.t.dept.agency.id, d.clerk.user_id, 24).await;
    let base = chain(store.as_ref()).await.events;
    let mut tasks = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let (store, by, dept) = (store.clone(), by.clone(), d.dept);
        tasks.push(tokio::spawn(async move {
            for round in 0..4 {
                if i % 2 == 0 {
                    let r = store.number_document(&by, &dept, doc, number_req(second, "2026-07-01")).await;
                    expect_conflict(r, "duplicate_symbol");
                } else {
                    let detail = serde_json::json!({ "task": i, "round": round });
                    store
                        .append_audit(
                            &by,
                            Some(dept.agency_id()),
                            "test.batch",
                            "task",
                            &format!("{i}/{round}"),
                            detail,
                        )
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = chain(store.as_ref()).await;
    assert!(report.is_intact(), "a writer undone after its audit event broke the chain: {report:?}");
    assert_eq!(report.events, base + 12 * 4, "only the kept writers' events are in the chain");
}

async fn a_numbered_document_is_completed_not_renumbered(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let a = signed_doc(s, &d.dept, &d.clerk, "A").await;
    let b = signed_doc(s, &d.dept, &d.clerk, "B").await;
    // A crash after transaction A: the number is taken, the document waits in the backlog.
    let ea = s.number_document(&by, &d.dept, a, number_req(d.register, "2026-05-05")).await.unwrap();
    let backlog = s.numbered_backlog(10).await.unwrap();
    assert_eq!(backlog.len(), 1);
    assert_eq!(
        (backlog[0].document_id, backlog[0].agency_id, backlog[0].numbered_by),
        (a, d.t.dept.agency.id, Some(d.clerk.user_id))
    );
    // Numbering it again is refused (it is no longer signed): a number is never given twice.
    expect_domain(s.number_document(&by, &d.dept, a, number_req(d.register, "2026-05-05")).await, "illegal_transition");
    let eb = s.number_document(&by, &d.dept, b, number_req(d.register, "2026-05-05")).await.unwrap();
    assert_eq!((ea.number, eb.number), (1, 2));
    // A stale base (another revision landed) is refused and changes nothing.
    expect_conflict(s.issue_document(&by, &d.dept, a, issue_req(Some(pdf(5)), 1, &[])).await, "stale_revision");
    assert_eq!(s.get_outgoing_entry(&d.dept, a).await.unwrap().unwrap().state, "numbered");
    // Completed on restart with its own number.
    let out = s.issue_document(&by, &d.dept, a, issue_req(None, 1, &[])).await.unwrap();
    assert_eq!((out.entry.number, out.entry.state.as_str()), (1, "issued"));
    assert_eq!(s.get_document(&d.dept, a).await.unwrap().state, "issued", "no recipients: issued, not delivered");
    assert_eq!(s.numbered_backlog(10).await.unwrap().iter().map(|x| x.document_id).collect::<Vec<_>>(), [b]);
    // The issued revision is the head, of kind agency.
    let head = s.head_revision(&d.dept, a).await.unwrap().unwrap();
    assert_eq!((head.kind, head.pdf_sha256), (RevisionKind::Agency, pdf(1001)));
    // Another agency cannot see the entry.
    assert!(s.get_outgoing_entry(&d.district, a).await.unwrap().is_none());
    // A list's entries in one go: the numbered ones of the agency, none of another's.
    let c = signed_doc(s, &d.dept, &d.clerk, "C (not numbered)").await;
    let mut listed: Vec<(DocumentId, i64)> =
        s.outgoing_entries_of(&d.dept, &[a, b, c]).await.unwrap().iter().map(|e| (e.document_id, e.number)).collect();
    listed.sort_by_key(|x| x.1);
    assert_eq!(listed, [(a, 1), (b, 2)]);
    assert!(s.outgoing_entries_of(&d.district, &[a, b]).await.unwrap().is_empty());
    assert!(s.outgoing_entries_of(&d.dept, &[]).await.unwrap().is_empty());
    // Two registers whose symbols collide: the second is refused whole, its counter untouched.
    let second = s.create_register(&by, &d.dept, outgoing_register("Sổ thứ hai")).await.unwrap().id;
    expect_conflict(s.create_register(&by, &d.dept, outgoing_register("Sổ thứ hai")).await, "duplicate_register");
    let x = signed_doc(s, &d.dept, &d.clerk, "X").await;
    expect_conflict(s.number_document(&by, &d.dept, x, number_req(second, "2026-05-06")).await, "duplicate_symbol");
    assert_eq!(s.get_document(&d.dept, x).await.unwrap().state, "signed");
    // With its own abbreviations the second register starts at 01: the refused attempt took nothing.
    let own = NumberRequest {
        register_id: second,
        notation: Notation::parse("QĐ-STC").unwrap(),
        issued_on: day("2026-05-06"),
    };
    assert_eq!(s.number_document(&by, &d.dept, x, own).await.unwrap().symbol, "01/QĐ-STC");
    let c = signed_doc(s, &d.dept, &d.clerk, "C").await;
    assert_eq!(s.number_document(&by, &d.dept, c, number_req(d.register, "2026-05-06")).await.unwrap().number, 3);

    // A secret register needs a suffix, and its symbols never repeat the ordinary ones.
    let secret = |suffix: &str| NewRegister {
        direction: RegisterDirection::Outgoing,
        name: format!("Sổ văn bản mật {suffix}"),
        doc_types: vec![],
        secret: true,
        suffix: suffix.into(),
    };
    expect_domain(s.create_register(&by, &d.dept, secret("")).await, "field_required");
    let secret_register = s.create_register(&by, &d.dept, secret("M")).await.unwrap().id;
    // An ordinary document is refused by the secret register (and nothing is taken).
    let y = signed_doc(s, &d.dept, &d.clerk, "Y").await;
    expect_conflict(
        s.number_document(&by, &d.dept, y, number_req(secret_register, "2026-05-07")).await,
        "register_mismatch",
    );
    assert_eq!(s.get_document(&d.dept, y).await.unwrap().state, "signed");
}

async fn revocation_withdraws_and_recipients_answer(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let by_dc = Actor::user(&d.d_clerk, None);
    let code = d.t.district.agency.code.as_str().to_owned();
    let mut issued = Vec::new();
    for (i, subject) in ["Thu hồi", "Cập nhật", "Thay thế", "Bản thay thế"].iter().enumerate() {
        let doc = signed_doc(s, &d.dept, &d.clerk, subject).await;
        s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-04-01")).await.unwrap();
        let out = s
            .issue_document(&by, &d.dept, doc, issue_req(None, u32::try_from(i).unwrap(), &[(&code, "UBND huyện")]))
            .await
            .unwrap();
        issued.push((doc, out.deliveries[0].incoming_id.unwrap()));
    }
    let (revoked, inc_r) = issued[0];
    s.register_incoming(&by_dc, &d.district, inc_r, d.d_register, day("2026-04-01")).await.unwrap();
    // Revoke: the sender's copy freezes, the recipient's copy is withdrawn with the reason kept.
    expect_domain(
        s.request_change(
            &by,
            &d.dept,
            revoked,
            ChangeRequest { kind: ChangeKind::Revoke, reason: " ".into(), replacement: None, update: None },
        )
        .await,
        "field_required",
    );
    let doc = s
        .request_change(
            &by,
            &d.dept,
            revoked,
            ChangeRequest {
                kind: ChangeKind::Revoke,
                reason: "Sai thẩm quyền".into(),
                replacement: None,
                update: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(doc.state, "revoked");
    expect_domain(
        s.request_change(
            &by,
            &d.dept,
            revoked,
            ChangeRequest { kind: ChangeKind::Revoke, reason: "lại".into(), replacement: None, update: None },
        )
        .await,
        "illegal_transition",
    );
    let item = s.get_incoming(&d.district, IncomingVisibility::All, inc_r).await.unwrap();
    assert_eq!(item.state, IncomingState::Withdrawn);
    assert_eq!((item.change_kind, item.change_state.as_deref()), (Some(ChangeKind::Revoke), Some("pending")));
    assert!(item.change_reason.as_deref().unwrap().contains("Sai thẩm quyền"));
    let acc = s.answer_change(&by_dc, &d.district, inc_r, true, None).await.unwrap();
    assert_eq!((acc.state, acc.change_state.as_deref()), (IncomingState::Withdrawn, Some("accepted")));
    expect_conflict(s.answer_change(&by_dc, &d.district, inc_r, true, None).await, "no_pending_change");
    let codes: Vec<String> =
        s.list_deliveries(&d.dept, revoked).await.unwrap()[0].events.iter().map(|e| e.code.clone()).collect();
    assert_eq!(codes, ["01", "03", "13", "15"]);

    // Update: it says what it corrects. The sender's record changes at once; the copy only
    // when its clerk agrees (15), never when the clerk refuses (16); its handling goes on.
    let (updated, inc_u) = issued[1];
    let upd = |kind, u: Option<MetadataChange>| ChangeRequest {
        kind,
        reason: "Sửa ngày họp".into(),
        replacement: None,
        update: u,
    };
    let first = MetadataChange {
        subject: Some("Về việc họp giao ban tháng 5".into()),
        priority: Some(Priority::Flash),
        due_date: Some(day("2026-05-20")),
    };
    expect_domain(s.request_change(&by, &d.dept, updated, upd(ChangeKind::Update, None)).await, "field_required");
    expect_domain(
        s.request_change(&by, &d.dept, updated, upd(ChangeKind::Update, Some(MetadataChange::default()))).await,
        "field_required",
    );
    expect_domain(
        s.request_change(
            &by,
            &d.dept,
            updated,
            upd(ChangeKind::Update, Some(MetadataChange { subject: Some("  ".into()), ..Default::default() })),
        )
        .await,
        "field_required",
    );
    expect_conflict(
        s.request_change(&by, &d.dept, updated, upd(ChangeKind::Revoke, Some(first.clone()))).await,
        "update_only_for_update",
    );
    let before = s.get_incoming(&d.district, IncomingVisibility::All, inc_u).await.unwrap();
    let doc = s.request_change(&by, &d.dept, updated, upd(ChangeKind::Update, Some(first.clone()))).await.unwrap();
    assert_eq!((doc.state.as_str(), doc.subject.as_str()), ("delivered", "Về việc họp giao ban tháng 5"));
    let stored = s.get_document(&d.dept, updated).await.unwrap();
    assert_eq!(
        (stored.subject.as_str(), &stored.metadata["due_date"]),
        ("Về việc họp giao ban tháng 5", &serde_json::json!("2026-05-20"))
    );
    assert_eq!(stored.metadata["priority"], "flash");
    let item = s.get_incoming(&d.district, IncomingVisibility::All, inc_u).await.unwrap();
    assert_eq!((item.state, item.change_state.as_deref()), (IncomingState::Arrived, Some("pending")));
    assert_eq!(item.change_update.as_ref(), Some(&first));
    assert!(item.change_reason.as_deref().unwrap().contains("hạn trả lời: 20/05/2026"), "{:?}", item.change_reason);
    assert_eq!(item.document.subject, before.document.subject, "not applied before the clerk agrees");
    let refused = s.answer_change(&by_dc, &d.district, inc_u, false, Some("Đã xử lý xong".into())).await.unwrap();
    assert_eq!((refused.state, refused.change_state.as_deref()), (IncomingState::Arrived, Some("refused")));
    assert_eq!((&refused.document.subject, refused.priority), (&before.document.subject, before.priority));
    // The copy is registered and assigned, then a second update (the deadline moves) is
    // accepted: the copy takes the whole correction and its handlers keep it.
    s.register_incoming(&by_dc, &d.district, inc_u, d.d_register, day("2026-04-02")).await.unwrap();
    let assign = AssignRequest {
        lead: d.d_handler.user_id,
        co: vec![],
        info: vec![],
        deadline: Some(day("2026-05-20")),
        note: None,
    };
    s.assign_incoming(&Actor::user(&d.d_leader, None), &d.district, inc_u, assign).await.unwrap();
    let second = MetadataChange { due_date: Some(day("2026-05-25")), ..first.clone() };
    s.request_change(&by, &d.dept, updated, upd(ChangeKind::Update, Some(second.clone()))).await.unwrap();
    let item = s.get_incoming(&d.district, IncomingVisibility::All, inc_u).await.unwrap();
    assert_eq!(item.change_update.as_ref(), Some(&second), "the copy refused the first: all of it is still a change");
    let accepted = s.answer_change(&by_dc, &d.district, inc_u, true, None).await.unwrap();
    assert_eq!((accepted.state, accepted.change_state.as_deref()), (IncomingState::Assigned, Some("accepted")));
    assert!(
        accepted.assignments.iter().any(|a| a.active && a.user_id == d.d_handler.user_id),
        "the lead still handles it"
    );
    assert_eq!(
        (accepted.document.subject.as_str(), accepted.priority),
        ("Về việc họp giao ban tháng 5", Priority::Flash)
    );
    assert_eq!(accepted.document.metadata["due_date"], "2026-05-25");
    let codes: Vec<String> =
        s.list_deliveries(&d.dept, updated).await.unwrap()[0].events.iter().map(|e| e.code.clone()).collect();
    // (Within one second the view orders events by code.)
    let mut codes = codes;
    codes.sort();
    assert_eq!(codes, ["01", "03", "04", "13", "13", "15", "16"]);

    // Replace: needs another issued document of the agency; the copy is withdrawn, and a
    // refusal brings it back as it was.
    let (old, inc_o) = issued[2];
    let (new_doc, _) = issued[3];
    expect_domain(
        s.request_change(
            &by,
            &d.dept,
            old,
            ChangeRequest { kind: ChangeKind::Replace, reason: "Thay".into(), replacement: None, update: None },
        )
        .await,
        "field_required",
    );
    expect_conflict(
        s.request_change(
            &by,
            &d.dept,
            old,
            ChangeRequest { kind: ChangeKind::Replace, reason: "Thay".into(), replacement: Some(old), update: None },
        )
        .await,
        "replacement_not_issued",
    );
    let doc = s
        .request_change(
            &by,
            &d.dept,
            old,
            ChangeRequest {
                kind: ChangeKind::Replace,
                reason: "Thay".into(),
                replacement: Some(new_doc),
                update: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(doc.state, "replaced");
    let item = s.get_incoming(&d.district, IncomingVisibility::All, inc_o).await.unwrap();
    assert_eq!(item.state, IncomingState::Withdrawn);
    assert!(item.change_reason.unwrap().contains("thay thế bằng văn bản số"));
    let back = s.answer_change(&by_dc, &d.district, inc_o, false, None).await.unwrap();
    assert_eq!(back.state, IncomingState::Arrived);
    let last = s.list_deliveries(&d.dept, old).await.unwrap()[0].clone();
    assert_eq!(last.status, "16");
    // Another agency cannot revoke the department's document.
    expect_not_found(
        s.request_change(
            &by_dc,
            &d.district,
            new_doc,
            ChangeRequest { kind: ChangeKind::Revoke, reason: "x".into(), replacement: None, update: None },
        )
        .await,
    );
}

async fn handlers_see_only_their_assignments(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let by_dc = Actor::user(&d.d_clerk, None);
    let code = d.t.district.agency.code.as_str().to_owned();
    let mut incoming = Vec::new();
    for i in 0..3 {
        let doc = signed_doc(s, &d.dept, &d.clerk, &format!("Văn bản {i}")).await;
        s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-02-02")).await.unwrap();
        let out = s.issue_document(&by, &d.dept, doc, issue_req(None, i, &[(&code, "UBND huyện")])).await.unwrap();
        let inc = out.deliveries[0].incoming_id.unwrap();
        s.register_incoming(&by_dc, &d.district, inc, d.d_register, day("2026-02-02")).await.unwrap();
        incoming.push(inc);
    }
    let by_leader = Actor::user(&d.d_leader, None);
    let req =
        |lead: UserId| AssignRequest { lead, co: vec![], info: vec![], deadline: Some(day("2026-02-10")), note: None };
    s.assign_incoming(&by_leader, &d.district, incoming[0], req(d.d_handler.user_id)).await.unwrap();
    s.assign_incoming(&by_leader, &d.district, incoming[1], req(d.d_other.user_id)).await.unwrap();
    let mine = IncomingVisibility::User(d.d_handler.user_id);
    let list = s.list_incoming(&d.district, mine, IncomingFilter::default()).await.unwrap();
    assert_eq!(list.iter().map(|i| i.document.id).collect::<Vec<_>>(), [incoming[0]]);
    expect_not_found(s.get_incoming(&d.district, mine, incoming[1]).await);
    expect_not_found(s.get_incoming(&d.district, mine, incoming[2]).await);
    // A handler cannot act on another's document.
    expect_not_found(
        s.handle_incoming(&Actor::user(&d.d_handler, None), &d.district, incoming[1], HandleStep::Start).await,
    );
    // Forwarding hands the lead over; the former lead keeps seeing it as a co-handler.
    let by_h = Actor::user(&d.d_handler, None);
    s.handle_incoming(&by_h, &d.district, incoming[0], HandleStep::Start).await.unwrap();
    let fwd = s
        .handle_incoming(
            &by_h,
            &d.district,
            incoming[0],
            HandleStep::Forward { to: d.d_other.user_id, note: Some("Chuyển anh xử lý".into()) },
        )
        .await
        .unwrap();
    let lead = fwd.assignments.iter().find(|a| a.role == AssignmentRole::Lead).unwrap();
    assert_eq!(lead.user_id, d.d_other.user_id);
    assert!(fwd.assignments.iter().any(|a| a.user_id == d.d_handler.user_id && a.role == AssignmentRole::Co));
    expect_conflict(
        s.handle_incoming(&by_h, &d.district, incoming[0], HandleStep::Finish { note: None, response: None }).await,
        "not_the_lead_handler",
    );
    // Overdue lists: past the deadline and not done.
    let overdue = s
        .list_incoming(
            &d.district,
            IncomingVisibility::All,
            IncomingFilter { overdue_on: Some(day("2026-02-11")), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(overdue.len(), 2);
    assert!(
        s.list_incoming(
            &d.district,
            IncomingVisibility::All,
            IncomingFilter { overdue_on: Some(day("2026-02-10")), ..Default::default() }
        )
        .await
        .unwrap()
        .is_empty()
    );
}

async fn reminders_and_emails_are_written_once(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let by_dc = Actor::user(&d.d_clerk, None);
    let code = d.t.district.agency.code.as_str().to_owned();
    let doc = signed_doc(s, &d.dept, &d.clerk, "Nhắc hạn").await;
    s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-02-02")).await.unwrap();
    let inc =
        s.issue_document(&by, &d.dept, doc, issue_req(None, 1, &[(&code, "UBND huyện")])).await.unwrap().deliveries[0]
            .incoming_id
            .unwrap();
    s.register_incoming(&by_dc, &d.district, inc, d.d_register, day("2026-02-02")).await.unwrap();
    let req = AssignRequest {
        lead: d.d_handler.user_id,
        co: vec![d.d_other.user_id],
        info: vec![],
        deadline: Some(day("2026-02-10")),
        note: None,
    };
    s.assign_incoming(&Actor::user(&d.d_leader, None), &d.district, inc, req).await.unwrap();
    assert_eq!(s.create_reminders(day("2026-02-01"), 2).await.unwrap(), 0, "too early");
    assert_eq!(s.create_reminders(day("2026-02-08"), 2).await.unwrap(), 2, "lead and co-handler");
    assert_eq!(s.create_reminders(day("2026-02-09"), 2).await.unwrap(), 0, "once per state");
    assert_eq!(s.create_reminders(day("2026-02-11"), 2).await.unwrap(), 2, "overdue is another reminder");
    let handler = Scope::of(&d.d_handler);
    let notes = s.list_notifications(&handler, true, 20).await.unwrap();
    assert!(notes.iter().any(|n| n.kind == "reminder_due_soon"));
    assert!(notes.iter().any(|n| n.kind == "reminder_overdue" && n.title.contains("Quá hạn")));
    assert!(notes.iter().any(|n| n.kind == "assigned"));
    assert_eq!(s.mark_notifications_read(&handler, None).await.unwrap(), notes.len() as u64);
    assert!(s.list_notifications(&handler, true, 20).await.unwrap().is_empty());
    // Nobody here has an e-mail address: nothing is owed by mail.
    assert!(s.pending_emails(10).await.unwrap().is_empty());
}

async fn outbox_keeps_external_deliveries(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let doc = signed_doc(s, &d.dept, &d.clerk, "Gửi ra ngoài").await;
    s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-02-02")).await.unwrap();
    s.issue_document(
        &by,
        &d.dept,
        doc,
        issue_req(None, 1, &[("000.00.00.G01", "Văn phòng Chính phủ"), ("000.00.00.G02", "Bộ Nội vụ")]),
    )
    .await
    .unwrap();
    let queued = s.list_outbox(Some("queued"), 10).await.unwrap();
    assert_eq!(queued.len(), 2);
    let first = &queued[0];
    assert_eq!(first.kind, "edoc");
    assert_eq!(first.idempotency_key, format!("edoc:{doc}:{}", first.recipient_code));
    assert_eq!(first.payload["symbol"], "01/STC-VP");
    assert_eq!(first.payload["business"], "new");
    // A failed attempt stays queued with its error; a success is final.
    let later = Utc::now() + Duration::minutes(5);
    s.mark_outbox(first.id, false, Some("hub unreachable".into()), later).await.unwrap();
    let again = s.list_outbox(Some("queued"), 10).await.unwrap();
    let f = again.iter().find(|o| o.id == first.id).unwrap();
    assert_eq!((f.attempts, f.last_error.as_deref()), (1, Some("hub unreachable")));
    s.mark_outbox(first.id, true, None, Utc::now()).await.unwrap();
    s.mark_outbox(first.id, false, Some("late".into()), Utc::now()).await.unwrap();
    let sent = s.list_outbox(Some("sent"), 10).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].attempts, sent[0].sent_at.is_some()), (2, true));
    // The outbox survives a reopen (it is in the database, not in memory).
    let tracking = s.list_deliveries(&d.dept, doc).await.unwrap();
    assert!(tracking.iter().all(|t| t.channel == "external" && t.status == "00"));
}

async fn received_documents_are_stored_once(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by_dc = Actor::user(&d.d_clerk, None);
    let new = |key: &str| NewIncoming {
        source_key: key.into(),
        sender_code: "000.00.00.G01".into(),
        sender_name: "Văn phòng Chính phủ".into(),
        symbol: "7816/VPCP-TTĐT".into(),
        issued_on: Some(day("2026-03-01")),
        draft: draft_in(),
        pdf_sha256: Some(pdf(7)),
        ocr_sha256: None,
        scanned: false,
    };
    let a = s.receive_incoming(&by_dc, &d.district, new("edxml:abc")).await.unwrap();
    let again = s.receive_incoming(&by_dc, &d.district, new("edxml:abc")).await.unwrap();
    assert_eq!(a.document.id, again.document.id, "a resend is recognised");
    // The status 01 goes back through the outbox.
    let statuses: Vec<_> = s.list_outbox(None, 10).await.unwrap().into_iter().filter(|o| o.kind == "status").collect();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].payload["status_code"], "01");
    // The same triple under another key is a duplicate the clerk is warned of. A scanned
    // paper copy reports nothing to any system.
    let mut scan = new("scan:1");
    scan.scanned = true;
    let b = s.receive_incoming(&by_dc, &d.district, scan).await.unwrap();
    s.register_incoming(&by_dc, &d.district, b.document.id, d.d_register, day("2026-03-02")).await.unwrap();
    assert_eq!(s.list_outbox(None, 10).await.unwrap().len(), 1, "no status package for paper");
    // The same source in another agency is that agency's own arrival.
    let (_, commune_clerk) = user(s, d.t.commune.agency.id, "xa.vanthu", &[Role::Clerk]).await;
    let other = s
        .receive_incoming(&Actor::user(&commune_clerk, None), &Scope::of(&commune_clerk), new("edxml:abc"))
        .await
        .unwrap();
    assert_ne!(other.document.id, a.document.id);
    let dups = s.incoming_duplicates(&d.district, IncomingVisibility::All, b.document.id).await.unwrap();
    assert_eq!(dups.iter().map(|x| x.document.id).collect::<Vec<_>>(), [a.document.id]);
    // Arrival-day filter (Vietnam days).
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    let f = IncomingFilter { arrived_from: Some(today), arrived_to: Some(today), ..Default::default() };
    assert_eq!(s.list_incoming(&d.district, IncomingVisibility::All, f).await.unwrap().len(), 2);
    let f = IncomingFilter { arrived_to: Some(today - Duration::days(1)), ..Default::default() };
    assert!(s.list_incoming(&d.district, IncomingVisibility::All, f).await.unwrap().is_empty());
}

/// Two mail workers never take the same e-mail; a stale claim is taken again; a released one
/// is pending again.
async fn emails_are_claimed_once(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let mut nu = new_user(d.t.district.agency.id, "huyen.pho", &[Role::Leader]);
    nu.email = Some(vanban_domain::Email::parse("pho@dongson.gov.vn").unwrap());
    s.create_user(&sys(), &AdminScope::whole_instance(), nu).await.unwrap();
    let by = Actor::user(&d.clerk, None);
    let code = d.t.district.agency.code.as_str().to_owned();
    for i in 0..3 {
        let doc = signed_doc(s, &d.dept, &d.clerk, &format!("Thư {i}")).await;
        s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-02-02")).await.unwrap();
        let inc =
            s.issue_document(&by, &d.dept, doc, issue_req(None, i, &[(&code, "UBND huyện")])).await.unwrap().deliveries
                [0]
            .incoming_id
            .unwrap();
        // Registering notifies the district's leaders, the one with an address among them.
        s.register_incoming(&Actor::user(&d.d_clerk, None), &d.district, inc, d.d_register, day("2026-02-02"))
            .await
            .unwrap();
    }
    assert_eq!(s.pending_emails(10).await.unwrap().len(), 3);
    let now = Utc::now();
    let first = s.claim_emails(2, now).await.unwrap();
    let second = s.claim_emails(10, now).await.unwrap();
    assert_eq!((first.len(), second.len()), (2, 1), "claims do not overlap");
    assert!(s.claim_emails(10, now).await.unwrap().is_empty());
    // A worker that died with its claims: taken again after two minutes.
    let later = s.claim_emails(10, now + Duration::minutes(3)).await.unwrap();
    assert_eq!(later.len(), 3);
    s.mark_email(later[0].notification.id, true, None, false).await.unwrap();
    s.release_emails(later.iter().skip(1).map(|p| p.notification.id).collect()).await.unwrap();
    assert_eq!(s.pending_emails(10).await.unwrap().len(), 2);
}

/// The exchange worker's view of the outbox: two nodes never claim one row, a claim runs out,
/// an attempt is settled once (sent is final), a failed row waits for an operator; and what
/// comes back from the axis (a status, a revocation) is applied once per package.
async fn exchange_claims_once_and_applies_each_package_once(ctx: Ctx) {
    let s = ctx.s();
    let d = desk(s).await;
    let by = Actor::user(&d.clerk, None);
    let doc = signed_doc(s, &d.dept, &d.clerk, "Gửi qua trục").await;
    s.number_document(&by, &d.dept, doc, number_req(d.register, "2026-02-02")).await.unwrap();
    s.issue_document(
        &by,
        &d.dept,
        doc,
        issue_req(None, 1, &[("000.00.00.G01", "Văn phòng Chính phủ"), ("000.00.00.G02", "Bộ Nội vụ")]),
    )
    .await
    .unwrap();
    // The package's contents, read without a person's scope.
    let x = s.exchange_document(doc).await.unwrap();
    assert_eq!((x.entry.symbol.as_str(), x.agency.agency.id), ("01/STC-VP", d.dept.agency_id()));
    // Two nodes claim at once: each row goes to one of them.
    let now = Utc::now();
    let (c1, c2) =
        tokio::join!(s.claim_outbox(10, now, Duration::seconds(60)), s.claim_outbox(10, now, Duration::seconds(60)));
    let (c1, c2) = (c1.unwrap(), c2.unwrap());
    assert_eq!(c1.len() + c2.len(), 2, "{c1:?} {c2:?}");
    assert!(c1.iter().all(|a| c2.iter().all(|b| a.id != b.id)));
    assert!(
        s.claim_outbox(10, now, Duration::seconds(60)).await.unwrap().is_empty(),
        "claimed rows are not claimed again"
    );
    // The worker renews the claims of the rows it is still sending: they hold past the lease.
    let ids: Vec<_> = c1.iter().chain(&c2).map(|o| o.id).collect();
    s.extend_outbox_claims(&ids, now + Duration::seconds(120)).await.unwrap();
    assert!(
        s.claim_outbox(10, now + Duration::seconds(61), Duration::seconds(60)).await.unwrap().is_empty(),
        "renewed claims hold past the first lease"
    );
    // A claim that ran out is taken again.
    let later = now + Duration::seconds(121);
    let again = s.claim_outbox(10, later, Duration::seconds(60)).await.unwrap();
    assert_eq!(again.len(), 2);
    let (first, second) = (&again[0], &again[1]);
    s.settle_outbox(first.id, OutboxOutcome::Sent { remote_id: "6752a1b2c3d4e5f601234567".into() }, Some(pdf(9)))
        .await
        .unwrap();
    // A late failure report of an earlier attempt changes nothing.
    s.settle_outbox(first.id, OutboxOutcome::Failed { error: "late".into() }, None).await.unwrap();
    s.settle_outbox(
        second.id,
        OutboxOutcome::Failed { error: "unknown_recipient: 000.00.00.G02".into() },
        Some(pdf(10)),
    )
    .await
    .unwrap();
    let all = s.list_outbox(None, 10).await.unwrap();
    let f = all.iter().find(|o| o.id == first.id).unwrap();
    assert_eq!(
        (f.state.as_str(), f.remote_id.as_deref(), f.package_sha256.clone()),
        ("sent", Some("6752a1b2c3d4e5f601234567"), Some(pdf(9)))
    );
    let g = all.iter().find(|o| o.id == second.id).unwrap();
    assert_eq!(g.state, "failed");
    assert!(
        s.claim_outbox(10, later + Duration::seconds(120), Duration::seconds(60)).await.unwrap().is_empty(),
        "a failed row waits"
    );
    let stats = s.outbox_stats().await.unwrap();
    assert_eq!((stats.queued, stats.sent, stats.failed), (0, 1, 1));
    // The operator retries it; it is due at once and keeps its package.
    s.retry_outbox(&by, second.id).await.unwrap();
    assert!(matches!(s.retry_outbox(&by, second.id).await, Err(StoreError::Conflict { code: "outbox_not_failed" })));
    let retried = s.claim_outbox(10, Utc::now() + Duration::seconds(1), Duration::seconds(60)).await.unwrap();
    assert_eq!(
        retried.iter().map(|o| (o.id, o.package_sha256.clone())).collect::<Vec<_>>(),
        [(second.id, Some(pdf(10)))]
    );
    // A renewal that comes after the row was settled does not claim it again.
    s.settle_outbox(
        second.id,
        OutboxOutcome::Retry { error: "axis_unreachable".into(), next_attempt_at: Utc::now() },
        None,
    )
    .await
    .unwrap();
    s.extend_outbox_claims(&[second.id], Utc::now() + Duration::hours(1)).await.unwrap();
    let due = s.claim_outbox(10, Utc::now() + Duration::seconds(1), Duration::seconds(60)).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.id).collect::<Vec<_>>(),
        [second.id],
        "a settled row is not held by a late renewal"
    );
    // The axis was unreachable for long: the row waits out ten minutes of back-off. Once the
    // axis is back the worker brings forward the rows that failed that way, and only those.
    let waiting = OutboxOutcome::Retry {
        error: "axis_unreachable: axis unreachable: client error (Connect)".into(),
        next_attempt_at: Utc::now() + Duration::minutes(10),
    };
    s.settle_outbox(second.id, waiting, None).await.unwrap();
    let soon = || Utc::now() + Duration::seconds(1);
    assert!(s.claim_outbox(10, soon(), Duration::seconds(60)).await.unwrap().is_empty());
    assert_eq!(s.expedite_outbox("unknown_recipient", Utc::now()).await.unwrap(), 0);
    assert_eq!(s.expedite_outbox("axis_unreachable", Utc::now()).await.unwrap(), 1);
    let due = s.claim_outbox(10, soon(), Duration::seconds(60)).await.unwrap();
    assert_eq!(due.iter().map(|o| o.id).collect::<Vec<_>>(), [second.id], "due at once");
    assert_eq!(s.expedite_outbox("axis_unreachable", Utc::now()).await.unwrap(), 0, "already due");

    // A status from G01 on this document, picked up twice: applied once.
    let st = |remote: &str, code: &str| RemoteStatus {
        remote_id: remote.into(),
        reporter_code: "000.00.00.G01".into(),
        issuer_code: x.agency.agency.code.as_str().to_owned(),
        symbol: "01/STC-VP".into(),
        issued_on: Some(day("2026-02-02")),
        code: code.into(),
        description: Some("Đã đến".into()),
        staff: Some("Nguyễn Thị Ngọc Trâm".into()),
        at: None,
    };
    let ago = |secs: i64| Some(Utc::now() - Duration::seconds(secs));
    let mut s01 = st("p1", "01");
    s01.at = ago(30);
    assert_eq!(s.apply_remote_status(s01.clone()).await.unwrap(), RemoteOutcome::Applied);
    assert_eq!(s.apply_remote_status(s01).await.unwrap(), RemoteOutcome::Duplicate);
    let mut s03 = st("p2", "03");
    s03.at = ago(20);
    assert_eq!(s.apply_remote_status(s03).await.unwrap(), RemoteOutcome::Applied);
    // Packages that arrive out of order: 05 reported after 04, arriving first.
    let mut s05 = st("p5", "05");
    s05.at = ago(5);
    let mut s04 = st("p4", "04");
    s04.at = ago(10);
    assert_eq!(s.apply_remote_status(s05).await.unwrap(), RemoteOutcome::Applied);
    assert_eq!(s.apply_remote_status(s04).await.unwrap(), RemoteOutcome::Applied);
    let mut unknown = st("p3", "01");
    unknown.symbol = "99/STC-VP".into();
    assert_eq!(s.apply_remote_status(unknown).await.unwrap(), RemoteOutcome::Unknown);
    // The same number a year earlier is another document.
    let mut last_year = st("p6", "06");
    last_year.issued_on = Some(day("2025-02-02"));
    assert_eq!(s.apply_remote_status(last_year).await.unwrap(), RemoteOutcome::Unknown);
    let t = s.list_deliveries(&d.dept, doc).await.unwrap();
    let g01 = t.iter().find(|d| d.recipient_code == "000.00.00.G01").unwrap();
    assert_eq!(g01.status, "05", "the latest reported, not the last to arrive");
    assert_eq!(g01.events.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(), ["01", "03", "04", "05"]);
    assert_eq!(g01.events[0].actor_name.as_deref(), Some("Nguyễn Thị Ngọc Trâm"));
    let log = s.list_inbound(10).await.unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(s.inbound_outcome("p3").await.unwrap().as_deref(), Some("ignored"));
    // A revocation never overtakes its document: G01's goes (its document was sent), G02's
    // waits behind its unsent document (which comes back once its claim ran out).
    let revoke =
        ChangeRequest {
            kind: ChangeKind::Revoke, reason: "Sai thẩm quyền".into(), replacement: None, update: None
        };
    s.request_change(&by, &d.dept, doc, revoke).await.unwrap();
    let next = s.claim_outbox(10, Utc::now() + Duration::seconds(300), Duration::seconds(60)).await.unwrap();
    let got: BTreeSet<(String, String)> = next
        .iter()
        .map(|o| (o.recipient_code.clone(), o.payload["business"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let want: BTreeSet<(String, String)> =
        [("000.00.00.G01".into(), "revoke".into()), ("000.00.00.G02".into(), "new".into())].into();
    assert_eq!(got, want);

    // A document that came from another system, then its revocation, picked up twice.
    let clerk = s.agency_user_with_role(d.district.agency_id(), Role::Clerk).await.unwrap().unwrap();
    assert_eq!(clerk, d.d_clerk.user_id);
    let arrived = s
        .receive_incoming(
            &Actor::system("exchange"),
            &d.district,
            NewIncoming {
                source_key: "edxml:000.00.00.G01,2026/03/01,7816/VPCP-TTĐT".into(),
                sender_code: "000.00.00.G01".into(),
                sender_name: "Văn phòng Chính phủ".into(),
                symbol: "7816/VPCP-TTĐT".into(),
                issued_on: Some(day("2026-03-01")),
                draft: draft_in(),
                pdf_sha256: Some(pdf(11)),
                ocr_sha256: None,
                scanned: false,
            },
        )
        .await
        .unwrap();
    let ch = |remote: &str| RemoteChange {
        remote_id: remote.into(),
        agency_id: d.district.agency_id(),
        source_key: "edxml:000.00.00.G01,2026/03/01,7816/VPCP-TTĐT".into(),
        kind: ChangeKind::Revoke,
        reason: "Ban hành nhầm".into(),
        from_code: "000.00.00.G01".into(),
        update: None,
    };
    // An update names every field; what differs from the copy is kept (the urgency is the
    // same), and applied when the clerk agrees.
    let mut update = ch("u1");
    update.kind = ChangeKind::Update;
    update.reason = "Cập nhật văn bản điện tử".into();
    update.update = Some(MetadataChange {
        subject: Some("Về việc kiểm tra công tác văn thư năm 2026".into()),
        priority: Some(Priority::Urgent),
        due_date: Some(day("2026-03-31")),
    });
    assert_eq!(s.apply_remote_change(update).await.unwrap(), RemoteOutcome::Applied);
    let got = s.get_incoming(&d.district, IncomingVisibility::All, arrived.document.id).await.unwrap();
    let want = MetadataChange {
        subject: Some("Về việc kiểm tra công tác văn thư năm 2026".into()),
        priority: None,
        due_date: Some(day("2026-03-31")),
    };
    assert_eq!((got.state, got.change_update.as_ref()), (IncomingState::Arrived, Some(&want)));
    let got =
        s.answer_change(&Actor::user(&d.d_clerk, None), &d.district, arrived.document.id, true, None).await.unwrap();
    assert_eq!(got.document.subject, "Về việc kiểm tra công tác văn thư năm 2026");
    assert_eq!(got.document.metadata["due_date"], "2026-03-31");
    // Another agency cannot take back a document it did not send; nothing is logged.
    let mut forged = ch("r0");
    forged.from_code = "000.00.00.G09".into();
    assert_eq!(s.apply_remote_change(forged).await.unwrap(), RemoteOutcome::Unknown);
    assert_eq!(s.inbound_outcome("r0").await.unwrap(), None);
    assert_eq!(s.apply_remote_change(ch("r1")).await.unwrap(), RemoteOutcome::Applied);
    assert_eq!(s.apply_remote_change(ch("r1")).await.unwrap(), RemoteOutcome::Duplicate);
    let got = s.get_incoming(&d.district, IncomingVisibility::All, arrived.document.id).await.unwrap();
    assert_eq!((got.state, got.change_state.as_deref()), (IncomingState::Withdrawn, Some("pending")));
    assert!(got.change_reason.unwrap().contains("Ban hành nhầm"));
    // The clerk agrees: status 15 goes to the sender through the outbox.
    s.answer_change(&Actor::user(&d.d_clerk, None), &d.district, arrived.document.id, true, None).await.unwrap();
    let statuses: Vec<String> = s
        .list_outbox(None, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.kind == "status")
        .map(|o| o.payload["status_code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["01", "15", "15"]);
    // The identity is written once.
    assert!(s.exchange_identity().await.unwrap().is_none());
    s.put_exchange_identity(der(7, 50), vec![1, 2, 3]).await.unwrap();
    s.put_exchange_identity(der(7, 50), vec![4, 5, 6]).await.unwrap();
    assert_eq!(s.exchange_identity().await.unwrap().unwrap().1, vec![1, 2, 3]);
    assert!(s.verify_audit_chain().await.unwrap().is_intact());
}
