//! Notifications that leave the application: e-mail for the notifications the store marks
//! `pending`, and the periodic work behind them (deadline reminders).
//!
//! [`run_workers`] runs for as long as the server does: once at start and then every hour it
//! writes the reminders due today (the store writes each once, so several nodes may do it),
//! and every minute it sends the pending e-mails through the configured [`Mailer`]. A message
//! the SMTP server refuses for good is given up at once; a transient failure is retried on
//! the next rounds, [`MAX_ATTEMPTS`] times in all. When the server cannot be reached at all,
//! the round stops at the first message (the others keep their attempts) and the worker waits
//! longer before the next round, up to an hour.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Duration;

use vanban_store::{NotificationRecord, PendingEmail};

use crate::AppState;
use crate::error::AppError;
use crate::mail::{Mail, MailError, Mailer};

/// Pending e-mails taken in one round.
pub const BATCH: i64 = 100;
/// Attempts after which a transiently failing message is given up (its state `failed`).
pub const MAX_ATTEMPTS: i32 = 5;
/// The last line of every message.
pub const FOOTER: &str = "Thư này được gửi tự động từ hệ thống văn bản điện tử vanban; vui lòng không trả lời.";

const SEND_EVERY: Duration = Duration::from_secs(60);
/// The longest wait between rounds while the SMTP server is unreachable.
const SEND_BACKOFF_MAX: Duration = Duration::from_secs(3600);
const REMIND_EVERY: Duration = Duration::from_secs(3600);

/// Where in the application a notification leads: the sender's tracking page for the status
/// reports of an issued document, the incoming document otherwise.
pub fn link_for(public_url: &str, n: &NotificationRecord) -> String {
    let base = public_url.trim_end_matches('/');
    match n.document_id {
        Some(d) if n.kind.starts_with("status_") => format!("{base}/documents/{d}/tracking"),
        Some(d) => format!("{base}/incoming/{d}"),
        None => format!("{base}/notifications"),
    }
}

/// The e-mail for one pending notification (plain text, Vietnamese).
pub fn compose(p: &PendingEmail, public_url: Option<&str>) -> Mail {
    let n = &p.notification;
    let mut text = format!("Kính gửi {},\n\n{}\n", p.full_name, n.title);
    if let Some(url) = public_url.map(str::trim).filter(|u| !u.is_empty()) {
        text.push_str(&format!("\nXem chi tiết: {}\n", link_for(url, n)));
    }
    text.push_str(&format!("\n{FOOTER}\n"));
    Mail {
        to: vec![(p.email.clone(), Some(p.full_name.clone()))],
        subject: format!("[vanban] {}", n.title),
        text,
        html: None,
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Round {
    sent: usize,
    failed: usize,
    /// The round stopped early: the SMTP server could not be reached.
    unreachable: bool,
}

/// Failures that concern the server, not the message: trying the rest of the round now
/// would only spend their attempts.
fn server_unreachable(e: &MailError) -> bool {
    matches!(e, MailError::Connect(_) | MailError::Timeout(_))
}

async fn send_round(state: &AppState, mailer: &Mailer, public_url: Option<&str>) -> Result<Round, AppError> {
    // Claimed, not just read: another node's worker does not take the same ones.
    let pending = state.store.claim_emails(BATCH, chrono::Utc::now()).await?;
    let mut round = Round::default();
    for (i, p) in pending.iter().enumerate() {
        let id = p.notification.id;
        match mailer.send(&compose(p, public_url)).await {
            Ok(()) => {
                state.store.mark_email(id, true, None, false).await?;
                round.sent += 1;
            }
            Err(e) => {
                let attempt = p.attempts.saturating_add(1);
                let give_up = !e.is_transient() || attempt >= MAX_ATTEMPTS;
                // The recipient's address stays out of the log; the notification id finds it.
                tracing::warn!(
                    notification = %id,
                    code = e.code(),
                    error = %e,
                    attempt,
                    give_up,
                    "could not send a notification e-mail"
                );
                state.store.mark_email(id, false, Some(e.code().to_owned()), give_up).await?;
                round.failed += 1;
                if server_unreachable(&e) {
                    round.unreachable = true;
                    // The rest go back untried, for the next round (of any node).
                    let rest = pending.iter().skip(i + 1).map(|p| p.notification.id).collect();
                    state.store.release_emails(rest).await?;
                    break;
                }
            }
        }
    }
    Ok(round)
}

/// Sends up to [`BATCH`] pending notification e-mails, oldest first, each marked `sent`, kept
/// `pending` (a transient failure, fewer than [`MAX_ATTEMPTS`] attempts) or `failed`. Stops at
/// the first message when the SMTP server cannot be reached. Returns (sent, failed).
pub async fn send_pending_emails(
    state: &AppState,
    mailer: &Mailer,
    public_url: Option<&str>,
) -> Result<(usize, usize), AppError> {
    let round = send_round(state, mailer, public_url).await?;
    Ok((round.sent, round.failed))
}

/// The background work of one node: reminders every hour (and at start), e-mail every minute
/// when a mailer is configured. Runs forever; failures are logged and retried.
pub async fn run_workers(state: AppState, mailer: Option<Mailer>) {
    match mailer {
        Some(mailer) => {
            tokio::join!(remind_loop(state.clone()), send_loop(state, mailer));
        }
        None => remind_loop(state).await,
    }
}

async fn remind_loop(state: AppState) {
    let mut tick = tokio::time::interval(REMIND_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.store.create_reminders(crate::drafting::today_vn(), crate::incoming::REMIND_DAYS).await {
            Ok(n) if n > 0 => tracing::info!(reminders = n, "wrote deadline reminders"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not write deadline reminders"),
        }
    }
}

async fn send_loop(state: AppState, mailer: Mailer) {
    let public_url = state.config.public_url.clone();
    if public_url.is_none() {
        tracing::info!("public_url is not configured: notification e-mails carry no link");
    }
    let mut wait = SEND_EVERY;
    loop {
        wait = match send_round(&state, &mailer, public_url.as_deref()).await {
            Ok(round) => {
                if round.sent > 0 || round.failed > 0 {
                    tracing::info!(sent = round.sent, failed = round.failed, "sent notification e-mails");
                }
                if round.unreachable {
                    let next = wait.saturating_mul(2).min(SEND_BACKOFF_MAX);
                    tracing::warn!(retry_in_secs = next.as_secs(), "the SMTP server is unreachable");
                    next
                } else {
                    SEND_EVERY
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not send notification e-mails");
                SEND_EVERY
            }
        };
        tokio::time::sleep(wait).await;
    }
}
