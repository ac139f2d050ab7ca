//! [`crate::ExchangeRepo`] for both SQL backends: expanded inside `impl_issuing!`'s module,
//! whose helpers (rows, `report_status`'s siblings, `notify`, `users_with_role`) it uses.
//!
//! Every package picked up is written to `exchange_inbox` in the same transaction as its
//! effect, so fetching a package twice (the worker died before acknowledging it) applies it
//! once.

macro_rules! impl_exchange {
    ($Store:ident, $Db:ty, $Row:ty) => {
        fn inbound_from_row(r: &$Row) -> Result<InboundRecord> {
            Ok(InboundRecord {
                remote_id: r.try_get("remote_id")?,
                kind: r.try_get("kind")?,
                from_code: r.try_get("from_code")?,
                document_id: r.try_get("document_id")?,
                outcome: r.try_get("outcome")?,
                reason: r.try_get("reason")?,
                detail: serde_json::from_str(&r.try_get::<String, _>("detail")?).map_err(|e| corrupt("exchange_inbox", e))?,
                received_at: r.try_get("received_at")?,
            })
        }

        /// Logs a package in the transaction of its effect; false if it was logged before.
        async fn log_inbound(tx: &mut Tx, rec: &InboundRecord) -> Result<bool> {
            let r = sqlx::query(
                "INSERT INTO exchange_inbox (remote_id, kind, from_code, document_id, outcome, reason, detail, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (remote_id) DO NOTHING",
            )
            .bind(&rec.remote_id)
            .bind(&rec.kind)
            .bind(&rec.from_code)
            .bind(&rec.document_id)
            .bind(&rec.outcome)
            .bind(rec.reason.as_deref())
            .bind(rec.detail.to_string())
            .bind(rec.received_at)
            .execute(&mut **tx)
            .await?;
            Ok(r.rows_affected() > 0)
        }

        #[async_trait::async_trait]
        impl crate::ExchangeRepo for $Store {
            async fn exchange_identity(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
                let row = sqlx::query("SELECT cert_der, sealed_key FROM exchange_identity WHERE name = 'instance'")
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Ok((r.try_get("cert_der")?, r.try_get("sealed_key")?))).transpose()
            }

            async fn put_exchange_identity(&self, cert_der: Vec<u8>, sealed_key: Vec<u8>) -> Result<()> {
                crate::sql::one_der("cert_der", &cert_der)?;
                crate::sql::write_tx!(self, |tx| {
                    let r = sqlx::query(
                        "INSERT INTO exchange_identity (name, cert_der, sealed_key, created_at) VALUES ('instance', $1, $2, $3) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(&cert_der)
                    .bind(&sealed_key)
                    .bind(now())
                    .execute(&mut *tx)
                    .await?;
                    if r.rows_affected() > 0 {
                        let detail = serde_json::json!({ "fingerprint": crate::sql::sha256_of(&cert_der) });
                        write_audit(&mut tx, &Actor::system("exchange"), None, "exchange.identity_created", "pki", "exchange", detail).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn claim_outbox(&self, limit: i64, at: DateTime<Utc>, lease: chrono::Duration) -> Result<Vec<OutboxRecord>> {
                let at = crate::audit::truncate_micros(at);
                crate::sql::write_tx!(self, |tx| {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE outbox SET claimed_until = $1 WHERE id IN (SELECT o.id FROM outbox o WHERE o.state = 'queued' AND o.next_attempt_at <= $2 \
                         AND (o.claimed_until IS NULL OR o.claimed_until < $2) \
                         AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.delivery_id = o.delivery_id AND e.state <> 'sent' AND e.created_at < o.created_at) \
                         ORDER BY o.next_attempt_at, o.id LIMIT $3) RETURNING {OUTBOX_COLS}"
                    )))
                    .bind(at + lease)
                    .bind(at)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    let mut list = rows.iter().map(outbox_from_row).collect::<Result<Vec<_>>>()?;
                    list.sort_by(|a, b| a.next_attempt_at.cmp(&b.next_attempt_at).then(a.id.cmp(&b.id)));
                    Ok(list)
                })
            }

            async fn extend_outbox_claims(&self, ids: &[Uuid], until: DateTime<Utc>) -> Result<()> {
                if ids.is_empty() {
                    return Ok(());
                }
                let until = crate::audit::truncate_micros(until);
                crate::sql::write_tx!(self, |tx| {
                    let mut q = QueryBuilder::<$Db>::new("UPDATE outbox SET claimed_until = ");
                    q.push_bind(until).push(" WHERE state = 'queued' AND claimed_until IS NOT NULL AND id IN (");
                    let mut ids_ = q.separated(", ");
                    for id in ids {
                        ids_.push_bind(*id);
                    }
                    q.push(")");
                    q.build().execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn expedite_outbox(&self, error_code: &str, at: DateTime<Utc>) -> Result<u64> {
                let at = crate::audit::truncate_micros(at);
                // `settle_outbox` keeps an attempt's error as "code: message".
                let prefix = format!("{error_code}:");
                crate::sql::write_tx!(self, |tx| {
                    let r = sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $1 WHERE state = 'queued' AND next_attempt_at > $1 \
                         AND substr(last_error, 1, length($2)) = $2",
                    )
                    .bind(at)
                    .bind(&prefix)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(r.rows_affected())
                })
            }

            async fn settle_outbox(&self, id: Uuid, outcome: OutboxOutcome, package_sha256: Option<String>) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let state: String = sqlx::query_scalar("SELECT state FROM outbox WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    if state == "sent" {
                        // Sent is final: a late report of an earlier attempt changes nothing.
                        tx.commit().await?;
                        return Ok(());
                    }
                    let at = now();
                    let (new_state, error, next, remote, action) = match &outcome {
                        OutboxOutcome::Sent { remote_id } => ("sent", None, at, Some(remote_id.clone()), "outbox.sent"),
                        OutboxOutcome::Retry { error, next_attempt_at } => {
                            ("queued", Some(error.clone()), crate::audit::truncate_micros(*next_attempt_at), None, "outbox.attempt_failed")
                        }
                        OutboxOutcome::Failed { error } => ("failed", Some(error.clone()), at, None, "outbox.failed"),
                    };
                    let error = clean_opt("error", error.as_deref(), 1000)?;
                    sqlx::query(
                        "UPDATE outbox SET state = $1, attempts = attempts + 1, last_error = $2, next_attempt_at = $3, sent_at = $4, \
                         remote_id = COALESCE($5, remote_id), package_sha256 = COALESCE($6, package_sha256), claimed_until = NULL WHERE id = $7",
                    )
                    .bind(new_state)
                    .bind(error.as_deref())
                    .bind(next)
                    .bind((new_state == "sent").then_some(at))
                    .bind(remote.as_deref())
                    .bind(package_sha256.as_deref())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    let detail = serde_json::json!({ "error": error, "remote_id": remote, "package_sha256": package_sha256 });
                    write_audit(&mut tx, &Actor::system("exchange"), None, action, "outbox", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn retry_outbox(&self, actor: &Actor, id: Uuid) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let r = sqlx::query("UPDATE outbox SET state = 'queued', next_attempt_at = $1, claimed_until = NULL WHERE id = $2 AND state = 'failed'")
                        .bind(now())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    if r.rows_affected() == 0 {
                        return Err(StoreError::Conflict { code: "outbox_not_failed" });
                    }
                    write_audit(&mut tx, actor, None, "outbox.retry", "outbox", &id.to_string(), serde_json::json!({})).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn outbox_stats(&self) -> Result<OutboxStats> {
                let rows = sqlx::query("SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY state")
                    .fetch_all(&self.pool)
                    .await?;
                let mut s = OutboxStats::default();
                for r in rows {
                    let n: i64 = r.try_get("n")?;
                    match r.try_get::<String, _>("state")?.as_str() {
                        "queued" => {
                            s.queued = n;
                            s.oldest_queued = r.try_get("oldest")?;
                        }
                        "sent" => s.sent = n,
                        _ => s.failed = n,
                    }
                }
                Ok(s)
            }

            async fn exchange_document(&self, id: DocumentId) -> Result<ExchangeDocument> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DOC_COLS} FROM documents WHERE id = $1 AND direction = 'outgoing'")))
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let document = document_from_row(&row)?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = $1")))
                    .bind(document.agency_id.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                let agency = agency_from_row(&row)?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ENTRY_COLS} FROM outgoing_entries WHERE document_id = $1 AND state = 'issued'")))
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::Conflict { code: "not_issued" })?;
                let entry = entry_from_row(&row)?;
                let content: Option<String> =
                    sqlx::query_scalar("SELECT content FROM document_versions WHERE document_id = $1 ORDER BY version DESC LIMIT 1")
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                let content = content.map(|c| serde_json::from_str(&c)).transpose().map_err(|e| corrupt("document_versions", e))?;
                let signer_name: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT signer_name FROM document_revisions WHERE document_id = $1 AND kind = 'signer' ORDER BY seq DESC LIMIT 1",
                )
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ExchangeDocument { document, agency, entry, content, signer_name: signer_name.flatten() })
            }

            async fn agency_user_with_role(&self, agency: AgencyId, role: vanban_domain::Role) -> Result<Option<UserId>> {
                let id: Option<Uuid> = sqlx::query_scalar(
                    "SELECT u.id FROM users u JOIN role_grants g ON g.user_id = u.id AND g.agency_id = u.agency_id \
                     WHERE u.active AND u.agency_id = $1 AND g.role = $2 ORDER BY u.created_at, u.id LIMIT 1",
                )
                .bind(agency.as_uuid())
                .bind(role.as_str())
                .fetch_optional(&self.pool)
                .await?;
                Ok(id.map(UserId::from_uuid))
            }

            async fn record_inbound(&self, rec: InboundRecord) -> Result<bool> {
                crate::sql::write_tx!(self, |tx| {
                    let fresh = log_inbound(&mut tx, &rec).await?;
                    if fresh {
                        let action = if rec.outcome == "rejected" { "exchange.refused" } else { "exchange.received" };
                        let detail = serde_json::json!({ "kind": rec.kind, "from": rec.from_code, "document_id": rec.document_id, "reason": rec.reason });
                        write_audit(&mut tx, &Actor::system("exchange"), None, action, "package", &rec.remote_id, detail).await?;
                    }
                    tx.commit().await?;
                    Ok(fresh)
                })
            }

            async fn inbound_outcome(&self, remote_id: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT outcome FROM exchange_inbox WHERE remote_id = $1")
                    .bind(remote_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_inbound(&self, limit: i64) -> Result<Vec<InboundRecord>> {
                let rows = sqlx::query(
                    "SELECT remote_id, kind, from_code, document_id, outcome, reason, detail, received_at FROM exchange_inbox ORDER BY received_at DESC, remote_id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(inbound_from_row).collect()
            }

            async fn apply_remote_status(&self, st: RemoteStatus) -> Result<RemoteOutcome> {
                let code = clean("status_code", &st.code, 2)?;
                let description = clean_opt("description", st.description.as_deref(), 1000)?;
                let staff = clean_opt("staff", st.staff.as_deref(), 200)?;
                crate::sql::write_tx!(self, |tx| {
                    let row = sqlx::query(
                        "SELECT d.id, d.document_id, e.numbered_by FROM deliveries d JOIN outgoing_entries e ON e.document_id = d.document_id \
                         JOIN agencies a ON a.id = e.agency_id WHERE a.code = $1 AND e.symbol = $2 AND d.recipient_code = $3 \
                         AND ($4 IS NULL OR e.issued_on = $4) ORDER BY e.year DESC LIMIT 1",
                    )
                    .bind(&st.issuer_code)
                    .bind(&st.symbol)
                    .bind(&st.reporter_code)
                    .bind(st.issued_on)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let known = row.is_some();
                    let rec = InboundRecord {
                        remote_id: st.remote_id.clone(),
                        kind: "status".to_owned(),
                        from_code: st.reporter_code.clone(),
                        document_id: format!("{},{}", st.issuer_code, st.symbol),
                        outcome: if known { "accepted" } else { "ignored" }.to_owned(),
                        reason: (!known).then(|| "no such delivery here".to_owned()),
                        detail: serde_json::json!({ "status_code": code, "description": description, "staff": staff }),
                        received_at: now(),
                    };
                    if !log_inbound(&mut tx, &rec).await? {
                        tx.commit().await?;
                        return Ok(RemoteOutcome::Duplicate);
                    }
                    let Some(row) = row else {
                        tx.commit().await?;
                        return Ok(RemoteOutcome::Unknown);
                    };
                    let delivery: Uuid = row.try_get("id")?;
                    let doc: Uuid = row.try_get("document_id")?;
                    let by: Option<Uuid> = row.try_get("numbered_by")?;
                    // Packages can come out of order: the delivery's status is the latest reported
                    // (by the package's Timestamp, to the second, then by code: 03 before 04 in one
                    // second), not the last to arrive.
                    let current = sqlx::query("SELECT status, status_at FROM deliveries WHERE id = $1").bind(delivery).fetch_one(&mut *tx).await?;
                    let (cur_code, cur_at): (String, DateTime<Utc>) = (current.try_get("status")?, current.try_get("status_at")?);
                    // A reporter's clock ahead of ours is taken as now (a far-future time would
                    // freeze the status).
                    let arrival = now();
                    let reported = st.at.map_or(arrival, |t| crate::audit::truncate_micros(t).min(arrival));
                    let cur_sec = cur_at.with_nanosecond(0).unwrap_or(cur_at);
                    let same_second = reported.with_nanosecond(0) == Some(cur_sec);
                    // The first report always replaces "00" (written with this instance's clock).
                    let newer = cur_code == "00" || if same_second { code.as_str() >= cur_code.as_str() } else { reported > cur_at };
                    let at = reported;
                    if newer {
                        sqlx::query("UPDATE deliveries SET status = $1, status_note = $2, status_at = $3 WHERE id = $4")
                            .bind(&code)
                            .bind(description.as_deref())
                            .bind(at)
                            .bind(delivery)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query("INSERT INTO delivery_events (id, delivery_id, code, description, actor_name, at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(Uuid::now_v7())
                        .bind(delivery)
                        .bind(&code)
                        .bind(description.as_deref())
                        .bind(staff.as_deref())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    if matches!(code.as_str(), "02" | "06" | "15" | "16") {
                        let users = users_by_id(&mut tx, &by.into_iter().collect::<Vec<_>>()).await?;
                        let symbol: String = st.symbol.clone();
                        let label = vanban_domain::EdxmlStatus::from_code(&code).map_or("", |s| s.label_vi());
                        let title = format!("{symbol} — {}: {label}", st.reporter_code);
                        let items: Vec<_> = users.into_iter().map(|n| (n, Some(doc), title.clone())).collect();
                        notify(&mut tx, &items, &format!("status_{code}")).await?;
                    }
                    let agency: Uuid = sqlx::query_scalar("SELECT agency_id FROM documents WHERE id = $1").bind(doc).fetch_one(&mut *tx).await?;
                    let detail = serde_json::json!({ "remote_id": st.remote_id, "reporter": st.reporter_code, "status_code": code, "description": description });
                    write_audit(&mut tx, &Actor::system("exchange"), Some(AgencyId::from_uuid(agency)), "delivery.remote_status", "document", &doc.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(RemoteOutcome::Applied)
                })
            }

            async fn apply_remote_change(&self, ch: RemoteChange) -> Result<RemoteOutcome> {
                let reason = clean("reason", &ch.reason, 1000)?;
                crate::sql::write_tx!(self, |tx| {
                    // Only the document's own sender may take it back.
                    let row = sqlx::query("SELECT i.document_id, d.state, d.subject, d.metadata, i.priority, i.change_kind, i.change_state FROM incoming_items i JOIN documents d ON d.id = i.document_id WHERE i.agency_id = $1 AND i.source_key = $2 AND i.sender_code = $3")
                        .bind(ch.agency_id.as_uuid())
                        .bind(&ch.source_key)
                        .bind(&ch.from_code)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(row) = row else {
                        // Not (yet) here: the document may still be on its way. Nothing is logged,
                        // so the caller can wait for it and try again.
                        tx.commit().await?;
                        return Ok(RemoteOutcome::Unknown);
                    };
                    let rec = InboundRecord {
                        remote_id: ch.remote_id.clone(),
                        kind: "edoc".to_owned(),
                        from_code: ch.from_code.clone(),
                        document_id: ch.source_key.trim_start_matches("edxml:").to_owned(),
                        outcome: "accepted".to_owned(),
                        reason: None,
                        detail: serde_json::json!({ "business": ch.kind.as_str(), "reason": reason }),
                        received_at: now(),
                    };
                    if !log_inbound(&mut tx, &rec).await? {
                        tx.commit().await?;
                        return Ok(RemoteOutcome::Duplicate);
                    }
                    let inc: Uuid = row.try_get("document_id")?;
                    let state: String = row.try_get("state")?;
                    let current = IncomingState::from_snake(&state).ok_or_else(|| corrupt("documents", "state"))?;
                    // The domain says what can be withdrawn (not a copy already returned).
                    let withdraw = ch.kind.withdraws() && current.apply(IncomingAction::Withdraw).is_ok();
                    // An update keeps what differs from the copy here (a package repeats every field).
                    let subject: String = row.try_get("subject")?;
                    let metadata: String = row.try_get("metadata")?;
                    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap_or_default();
                    let priority = priority_of(row.try_get("priority")?);
                    let update = match ch.kind {
                        ChangeKind::Update => ch.update.clone().map(MetadataChange::validate).transpose()?.map(|u| u.against(&subject, priority, &metadata)).filter(|u| !u.is_empty()),
                        _ => None,
                    };
                    let description = match &update {
                        Some(u) => format!("{}: {reason} ({})", ch.kind.label_vi(), u.describe_vi()),
                        None => format!("{}: {reason}", ch.kind.label_vi()),
                    };
                    sqlx::query("UPDATE incoming_items SET change_kind = $1, change_reason = $2, change_state = 'pending', state_before = $3, change_update = $4 WHERE document_id = $5")
                        .bind(ch.kind.as_str())
                        .bind(&description)
                        .bind(withdraw.then_some(state.clone()))
                        .bind(update.as_ref().map(|u| serde_json::to_string(u).expect("a change serialises")))
                        .bind(inc)
                        .execute(&mut *tx)
                        .await?;
                    if withdraw {
                        sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3")
                            .bind(IncomingState::Withdrawn.as_str())
                            .bind(now())
                            .bind(inc)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let clerks = users_with_role(&mut tx, &[ch.agency_id.as_uuid()], "clerk").await?;
                    let title = format!("{} văn bản: {}", ch.kind.label_vi(), short(&subject));
                    let items: Vec<_> = clerks.into_iter().map(|n| (n, Some(inc), title.clone())).collect();
                    notify(&mut tx, &items, ch.kind.as_str()).await?;
                    let detail = serde_json::json!({ "kind": ch.kind.as_str(), "reason": reason, "from": state, "withdrawn": withdraw, "remote_id": ch.remote_id, "sender": ch.from_code, "update": update });
                    write_audit(&mut tx, &Actor::system("exchange"), Some(ch.agency_id), "incoming.change_requested", "document", &inc.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(RemoteOutcome::Applied)
                })
            }
        }
    };
}

pub(crate) use impl_exchange;
