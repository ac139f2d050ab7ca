//! The demo's year of history on a small plan: every outgoing and incoming state present,
//! the outgoing register numbered 1..n without gaps on increasing dates, and a second run
//! adds nothing.

use std::time::Instant;

use chrono::Datelike as _;
use vanban_domain::{IncomingState, OutgoingState};
use vanban_server::history::{HistoryCounts, HistoryPlan, HistoryRecipient, seed_history};
use vanban_store::{IncomingFilter, IncomingVisibility, Scope};

use crate::harness::{TestApp, user_in_b_leader};

async fn scope_of(app: &TestApp, username: &str) -> Scope {
    let id = app.store.find_user_id(username).await.unwrap().unwrap();
    Scope::of(&app.store.caller_for(id).await.unwrap())
}

#[tokio::test]
async fn a_year_of_history_in_every_state() {
    let app = TestApp::new().await;
    user_in_b_leader(&app).await;
    vanban_server::signing::seed_demo_signing(&app.state, &["a.leader"], "123456").await.unwrap();
    let b_code = app.store.get_agency(app.b).await.unwrap().agency.code.as_str().to_owned();
    let counts = HistoryCounts { drafts: 1, in_review: 3, approved: 1, signed: 1, issued: 9, revoked: 1 };
    let plan = HistoryPlan {
        drafter: "a.specialist".into(),
        reviewer: Some("a.unithead".into()),
        signers: vec!["a.leader".into()],
        clerk: "a.clerk".into(),
        pin: "123456".into(),
        recipients: vec![HistoryRecipient {
            agency_code: b_code,
            clerk: Some("b.clerk".into()),
            leader: Some("b.leader".into()),
            handler: Some("b.specialist".into()),
        }],
        counts,
    };
    let started = Instant::now();
    let summary = seed_history(&app.state, &plan).await.unwrap();
    println!("history seeded in {:.1} s: {summary:?}", started.elapsed().as_secs_f64());
    assert!(summary.seeded_now);
    assert_eq!((summary.documents, summary.issued, summary.incoming), (15, 9, 9));
    assert_eq!(summary.signatures, 10);

    // Outgoing: every state of the agency's documents.
    let a = scope_of(&app, "a.clerk").await;
    let docs = app.store.list_documents(&a, None, 500).await.unwrap();
    assert_eq!(docs.len(), 15);
    let count = |s: OutgoingState| docs.iter().filter(|d| d.state == s.as_str()).count();
    assert_eq!(count(OutgoingState::Draft), 1);
    assert_eq!(count(OutgoingState::InReview), 3);
    assert_eq!(count(OutgoingState::Approved), 1);
    assert_eq!(count(OutgoingState::Signed), 1);
    assert_eq!(count(OutgoingState::Delivered), 8);
    assert_eq!(count(OutgoingState::Revoked), 1);

    // The register: 1..n without gaps, dates never going back, all in this year.
    let today = vanban_server::drafting::today_vn();
    let jan1 = chrono::NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap();
    let dec31 = chrono::NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap();
    let rows = app.store.outgoing_register(&a, None, jan1, dec31).await.unwrap();
    let numbers: Vec<i64> = rows.iter().map(|r| r.entry.number).collect();
    assert_eq!(numbers, (1..=9).collect::<Vec<_>>());
    assert!(rows.windows(2).all(|w| w[0].entry.issued_on <= w[1].entry.issued_on), "dates follow numbers");
    assert!(rows.iter().all(|r| r.entry.issued_on <= today));
    if today.ordinal() > 10 {
        let weekend = |d: chrono::NaiveDate| matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        assert!(rows.iter().all(|r| !weekend(r.entry.issued_on)), "issued on working days");
        assert!(rows[0].entry.issued_on < rows[8].entry.issued_on, "spread over the year");
    }
    // An issued file: the leader's signature and the agency's, both valid.
    let last = rows.last().unwrap().entry.pdf_sha256.clone().unwrap();
    let pdf = app.state.blobs.get(&last).await.unwrap();
    let report = vanban_server::signing::verify_bytes(&app.state, pdf).await.unwrap();
    assert_eq!(report.signatures.len(), 2, "{report:?}");
    assert!(report.signatures.iter().all(|s| s.verdict == vanban_pades::verify::Verdict::Valid), "{report:?}");
    // Vietnamese text as stored: NFC.
    assert!(docs.iter().all(|d| unicode_normalization::is_nfc(&d.subject)));

    // Incoming at B: every state, and overdue ones.
    let b = scope_of(&app, "b.clerk").await;
    let all = IncomingFilter { limit: 500, ..IncomingFilter::default() };
    let incoming = app.store.list_incoming(&b, IncomingVisibility::All, all).await.unwrap();
    assert_eq!(incoming.len(), 9);
    for s in [
        IncomingState::Arrived,
        IncomingState::Registered,
        IncomingState::Assigned,
        IncomingState::InProgress,
        IncomingState::Done,
        IncomingState::Returned,
        IncomingState::Withdrawn,
    ] {
        assert!(incoming.iter().any(|i| i.state == s), "no incoming document {}", s.as_str());
    }
    let overdue = IncomingFilter { overdue_on: Some(today), limit: 500, ..IncomingFilter::default() };
    let late = app.store.list_incoming(&b, IncomingVisibility::All, overdue).await.unwrap();
    assert_eq!(late.len(), 2, "one assigned and one in progress past their deadline");

    // Twice: nothing more.
    let again = seed_history(&app.state, &plan).await.unwrap();
    assert!(!again.seeded_now);
    assert_eq!(app.store.list_documents(&a, None, 500).await.unwrap().len(), 15);
    let all = IncomingFilter { limit: 500, ..IncomingFilter::default() };
    assert_eq!(app.store.list_incoming(&b, IncomingVisibility::All, all).await.unwrap().len(), 9);
    assert!(app.store.verify_audit_chain().await.unwrap().is_intact());
}
