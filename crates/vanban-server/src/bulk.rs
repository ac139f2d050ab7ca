//! Many signed documents at once, for the issuing benchmark and the crash test: one document
//! is drafted, rendered and signed by the leader for real; its copies go through the same
//! store operations (draft, version, submit, approve, the two revisions) with the same signed
//! file, so what is measured afterwards (numbering, the agency signature, delivery) does the
//! same work per document as in production.

use vanban_domain::{DocumentId, OutgoingAction, OutgoingMetadata};
use vanban_store::{NewDraft, NewRevision, Owner, RevisionKind, Scope, Transition};

use crate::AppState;
use crate::auth::Session;
use crate::error::AppError;

/// A session for `username` (no HTTP request): for commands and seeding.
pub async fn session_for(state: &AppState, username: &str) -> Result<Session, AppError> {
    let user_id = state.store.find_user_id(username).await?.ok_or(vanban_store::StoreError::NotFound)?;
    let caller = state.store.caller_for(user_id).await?;
    let scope = Scope::of(&caller);
    let user = state.store.get_user(&scope, user_id).await?;
    let agency = state.store.get_agency(caller.agency_id).await?;
    Ok(Session {
        caller,
        user,
        agency,
        csrf_token: String::new(),
        token_hash: String::new(),
        ip: Some("seed".to_owned()),
    })
}

/// Drafts, renders and has `leader` sign one document of the drafter's agency, then makes `n`
/// signed copies of it. Returns the copies' ids (the original is signed too, and first).
pub async fn seed_signed_copies(
    state: &AppState,
    drafter: &Session,
    leader: &Session,
    pin: &str,
    n: usize,
    priority: u8,
) -> Result<Vec<DocumentId>, AppError> {
    let subject = "Về việc triển khai kế hoạch chuyển đổi số năm 2026";
    let input = crate::api::DraftInput {
        doc_type: "cong_van".to_owned(),
        subject: subject.to_owned(),
        description: None,
        priority: Some(priority),
        due_date: None,
        recipients: Vec::new(),
    };
    let doc = crate::api::create_draft_as(state, drafter, &input).await?;
    let content: crate::drafting::DraftContent = serde_json::from_value(serde_json::json!({
        "subject": subject,
        "unit_abbreviation": "VP",
        "addressees": ["Các sở, ban, ngành tỉnh"],
        "body": ["Thực hiện kế hoạch chuyển đổi số năm 2026, đề nghị các cơ quan triển khai ký số toàn bộ văn bản đi và báo cáo kết quả trước ngày 15 tháng 12."],
        "recipients": ["Như trên;"],
        "archive_units": ["VP"],
        "signer": { "position": leader.user.user.position.as_ref().map_or("Chủ tịch", |p| p.as_str()), "full_name": leader.user.user.full_name.as_str() }
    }))
    .map_err(|e| AppError::Internal(e.to_string()))?;
    crate::drafting::save_version(state, drafter, doc.id, content.clone(), None).await?;
    let (da, ds) = (drafter.actor(), drafter.scope());
    state
        .store
        .transition(&da, &ds, doc.id, Transition { action: OutgoingAction::SubmitForReview, reason: None })
        .await?;
    state
        .store
        .transition(
            &leader.actor(),
            &leader.scope(),
            doc.id,
            Transition { action: OutgoingAction::Approve, reason: None },
        )
        .await?;
    let cert = state
        .store
        .list_certificates(&leader.scope(), Owner::User(leader.caller.user_id))
        .await?
        .into_iter()
        .find(|c| c.status == vanban_store::CertStatus::Active)
        .ok_or(AppError::Refused { code: "no_certificate", message_vi: "Lãnh đạo chưa có chứng thư số." })?;
    let signed = crate::signing::sign_document(state, leader, doc.id, cert.id, pin.to_owned()).await?;
    let revisions = state.store.list_revisions(&ds, doc.id).await?;
    let render = revisions.first().ok_or(vanban_store::StoreError::NotFound)?.clone();
    let metadata: OutgoingMetadata =
        serde_json::from_value(doc.metadata.clone()).map_err(|e| AppError::Internal(e.to_string()))?;
    let value = serde_json::to_value(&content).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut ids = vec![doc.id];
    for _ in 0..n {
        let copy = state.store.create_draft(&da, &ds, NewDraft { metadata: metadata.clone() }).await?;
        state.store.add_version(&da, &ds, copy.id, value.clone(), None).await?;
        state
            .store
            .transition(&da, &ds, copy.id, Transition { action: OutgoingAction::SubmitForReview, reason: None })
            .await?;
        state
            .store
            .transition(
                &leader.actor(),
                &leader.scope(),
                copy.id,
                Transition { action: OutgoingAction::Approve, reason: None },
            )
            .await?;
        let rev = |base: Option<String>, kind, sha: &str, size, cert| NewRevision {
            base_sha256: base,
            kind,
            pdf_sha256: sha.to_owned(),
            pdf_size: size,
            certificate_id: cert,
            signer_name: None,
            signed_at: None,
            validation: None,
        };
        state
            .store
            .append_revision(
                &da,
                &ds,
                copy.id,
                rev(None, RevisionKind::Render, &render.pdf_sha256, render.pdf_size, None),
                None,
            )
            .await?;
        let r = rev(
            Some(render.pdf_sha256.clone()),
            RevisionKind::Signer,
            &signed.pdf_sha256,
            signed.pdf_size,
            Some(cert.id),
        );
        // The same bytes as the signed original: its validation at signing holds for them.
        let r = NewRevision { validation: signed.validation.clone(), ..r };
        state.store.append_revision(&leader.actor(), &leader.scope(), copy.id, r, Some(OutgoingAction::Sign)).await?;
        ids.push(copy.id);
    }
    Ok(ids)
}
