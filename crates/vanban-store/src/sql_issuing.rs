//! [`crate::IssuingRepo`] for both SQL backends, written once like [`crate::sql`]: expanded in
//! `sqlite.rs` and `postgres.rs` after `impl_sql_store!`, whose private helpers (`begin_write`,
//! `write_audit`, `apply_action`, `insert_revision`, `document_from_row`, `now`) it uses.
//!
//! Every write runs in one write transaction (serialised: `BEGIN IMMEDIATE` on SQLite, the
//! audit-chain lock on PostgreSQL) with its audit event, so a number is taken, and an arrival
//! is delivered, exactly once or not at all. The unique constraints of migration 0007 (a
//! number per register and year, a symbol per agency and year, a delivery per recipient, an
//! incoming document per delivery) back that up: a bug would fail, not duplicate.

macro_rules! impl_issuing {
    ($Store:ident, $Db:ty, $Row:ty) => {
        mod issuing_impl {
            use super::*;

            use chrono::{DateTime, Datelike as _, NaiveDate, Timelike as _, Utc};
            use sqlx::QueryBuilder;
            use uuid::Uuid;
            use vanban_domain::{
                AgencyId, AssignmentRole, ChangeKind, DocumentId, DocumentType, IncomingAction, IncomingState,
                OutgoingAction, Priority, RegisterDirection, RegisterId, RegisterRule, UnitId, UserId,
            };

            use crate::model_issuing::*;
            use crate::{Result, StoreError};

            fn corrupt(table: &'static str, what: impl std::fmt::Display) -> StoreError {
                StoreError::corrupt(table, what)
            }

            fn clean(field: &'static str, s: &str, max: usize) -> Result<String> {
                Ok(vanban_domain::clean_text(field, s, max, false)?)
            }

            fn clean_opt(field: &'static str, s: Option<&str>, max: usize) -> Result<Option<String>> {
                Ok(s.map(|s| vanban_domain::clean_text(field, s, max, false)).transpose()?.filter(|s| !s.is_empty()))
            }

            // ---------------------------------------------------------------------------
            // Rows
            // ---------------------------------------------------------------------------

            const REGISTER_COLS: &str = "id, agency_id, direction, name, doc_types, secret, suffix, active, created_at";

            fn register_from_row(r: &$Row) -> Result<RegisterRecord> {
                let t = "registers";
                Ok(RegisterRecord {
                    id: RegisterId::from_uuid(r.try_get("id")?),
                    agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                    direction: RegisterDirection::from_snake(&r.try_get::<String, _>("direction")?)
                        .ok_or_else(|| corrupt(t, "direction"))?,
                    name: r.try_get("name")?,
                    doc_types: RegisterRule::parse_doc_types(&r.try_get::<String, _>("doc_types")?),
                    secret: r.try_get("secret")?,
                    suffix: r.try_get("suffix")?,
                    active: r.try_get("active")?,
                    created_at: r.try_get("created_at")?,
                })
            }

            const ENTRY_COLS: &str = "document_id, agency_id, register_id, year, number, symbol, issued_on, state, numbered_by, numbered_at, issued_at, pdf_sha256, appendices";

            fn entry_from_row(r: &$Row) -> Result<OutgoingEntry> {
                Ok(OutgoingEntry {
                    document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                    agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                    register_id: RegisterId::from_uuid(r.try_get("register_id")?),
                    year: r.try_get("year")?,
                    number: r.try_get("number")?,
                    symbol: r.try_get("symbol")?,
                    issued_on: r.try_get("issued_on")?,
                    state: r.try_get("state")?,
                    numbered_by: r.try_get::<Option<Uuid>, _>("numbered_by")?.map(UserId::from_uuid),
                    numbered_at: r.try_get("numbered_at")?,
                    issued_at: r.try_get("issued_at")?,
                    pdf_sha256: r.try_get("pdf_sha256")?,
                    appendices: serde_json::from_str(&r.try_get::<String, _>("appendices")?).map_err(|e| corrupt("outgoing_entries", e))?,
                })
            }

            const DELIVERY_COLS: &str = "id, document_id, recipient_code, recipient_name, recipient_agency_id, incoming_id, channel, status, status_note, status_at";

            fn delivery_from_row(r: &$Row) -> Result<DeliveryRecord> {
                Ok(DeliveryRecord {
                    id: r.try_get("id")?,
                    document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                    recipient_code: r.try_get("recipient_code")?,
                    recipient_name: r.try_get("recipient_name")?,
                    recipient_agency_id: r.try_get::<Option<Uuid>, _>("recipient_agency_id")?.map(AgencyId::from_uuid),
                    incoming_id: r.try_get::<Option<Uuid>, _>("incoming_id")?.map(DocumentId::from_uuid),
                    channel: r.try_get("channel")?,
                    status: r.try_get("status")?,
                    status_note: r.try_get("status_note")?,
                    status_at: r.try_get("status_at")?,
                    events: Vec::new(),
                })
            }

            const OUTBOX_COLS: &str = "id, kind, delivery_id, recipient_code, idempotency_key, payload, state, attempts, next_attempt_at, last_error, created_at, sent_at, remote_id, package_sha256";

            fn outbox_from_row(r: &$Row) -> Result<OutboxRecord> {
                Ok(OutboxRecord {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    delivery_id: r.try_get("delivery_id")?,
                    recipient_code: r.try_get("recipient_code")?,
                    idempotency_key: r.try_get("idempotency_key")?,
                    payload: serde_json::from_str(&r.try_get::<String, _>("payload")?).map_err(|e| corrupt("outbox", e))?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                    remote_id: r.try_get("remote_id")?,
                    package_sha256: r.try_get("package_sha256")?,
                })
            }

            /// The incoming columns, prefixed `i.`, joined with the document's (`d.`).
            const INCOMING_SELECT: &str = "SELECT d.id, d.agency_id, d.direction, d.state, d.doc_type, d.subject, d.metadata, d.created_by, d.created_at, d.updated_at, \
                i.delivery_id, i.sender_code, i.sender_name, i.symbol, i.issued_on, i.priority, i.pdf_sha256, i.ocr_sha256, i.scanned, i.arrived_at, \
                i.register_id, i.year, i.arrival_number, i.registered_at, i.deadline, i.returned_reason, i.change_kind, i.change_reason, i.change_state, i.change_update, \
                i.done_at, i.result_note, i.response_document_id \
                FROM incoming_items i JOIN documents d ON d.id = i.document_id";

            /// Writes a document's subject and metadata as an update corrected them.
            async fn write_correction(tx: &mut Tx, id: DocumentId, subject: &str, metadata: &serde_json::Value) -> Result<()> {
                sqlx::query("UPDATE documents SET subject = $1, metadata = $2, updated_at = $3 WHERE id = $4")
                    .bind(subject)
                    .bind(metadata.to_string())
                    .bind(now())
                    .bind(id.as_uuid())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// An `incoming_items.priority` (the edXML code); an unknown code reads as Thường.
            fn priority_of(code: i32) -> Priority {
                u8::try_from(code).ok().and_then(Priority::from_code).unwrap_or_default()
            }

            fn incoming_from_row(r: &$Row) -> Result<IncomingRecord> {
                let t = "incoming_items";
                let document = document_from_row(r)?;
                let state = IncomingState::from_snake(&document.state).ok_or_else(|| corrupt(t, "state"))?;
                let priority: i32 = r.try_get("priority")?;
                let change_kind: Option<String> = r.try_get("change_kind")?;
                Ok(IncomingRecord {
                    document,
                    state,
                    delivery_id: r.try_get("delivery_id")?,
                    sender_code: r.try_get("sender_code")?,
                    sender_name: r.try_get("sender_name")?,
                    symbol: r.try_get("symbol")?,
                    issued_on: r.try_get("issued_on")?,
                    priority: priority_of(priority),
                    pdf_sha256: r.try_get("pdf_sha256")?,
                    ocr_sha256: r.try_get("ocr_sha256")?,
                    scanned: r.try_get("scanned")?,
                    arrived_at: r.try_get("arrived_at")?,
                    register_id: r.try_get::<Option<Uuid>, _>("register_id")?.map(RegisterId::from_uuid),
                    year: r.try_get("year")?,
                    arrival_number: r.try_get("arrival_number")?,
                    registered_at: r.try_get("registered_at")?,
                    deadline: r.try_get("deadline")?,
                    returned_reason: r.try_get("returned_reason")?,
                    change_kind: change_kind.as_deref().map(|k| ChangeKind::from_snake(k).ok_or_else(|| corrupt(t, "change_kind"))).transpose()?,
                    change_reason: r.try_get("change_reason")?,
                    change_state: r.try_get("change_state")?,
                    change_update: r
                        .try_get::<Option<String>, _>("change_update")?
                        .map(|j| serde_json::from_str(&j).map_err(|_| corrupt(t, "change_update")))
                        .transpose()?,
                    done_at: r.try_get("done_at")?,
                    result_note: r.try_get("result_note")?,
                    response_document_id: r.try_get::<Option<Uuid>, _>("response_document_id")?.map(DocumentId::from_uuid),
                    assignments: Vec::new(),
                })
            }

            async fn assignments_of(tx: &mut Conn, ids: &[Uuid]) -> Result<Vec<(Uuid, AssignmentRecord)>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$Db>::new(
                    "SELECT a.document_id, a.user_id, u.full_name, u.unit_id, a.role, a.deadline, a.note, a.assigned_at, a.active \
                     FROM assignments a JOIN users u ON u.id = a.user_id WHERE a.document_id IN (",
                );
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind(*id);
                }
                q.push(") ORDER BY a.assigned_at, a.role");
                let rows = q.build().fetch_all(&mut *tx).await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<Uuid, _>("document_id")?,
                            AssignmentRecord {
                                user_id: UserId::from_uuid(r.try_get("user_id")?),
                                full_name: r.try_get("full_name")?,
                                unit_id: r.try_get::<Option<Uuid>, _>("unit_id")?.map(UnitId::from_uuid),
                                role: AssignmentRole::from_snake(&r.try_get::<String, _>("role")?)
                                    .ok_or_else(|| corrupt("assignments", "role"))?,
                                deadline: r.try_get("deadline")?,
                                note: r.try_get("note")?,
                                assigned_at: r.try_get("assigned_at")?,
                                active: r.try_get("active")?,
                            },
                        ))
                    })
                    .collect()
            }

            async fn with_assignments(tx: &mut Conn, mut list: Vec<IncomingRecord>) -> Result<Vec<IncomingRecord>> {
                let ids: Vec<Uuid> = list.iter().map(|i| i.document.id.as_uuid()).collect();
                let all = assignments_of(tx, &ids).await?;
                for item in &mut list {
                    let id = item.document.id.as_uuid();
                    item.assignments = all.iter().filter(|(d, _)| *d == id).map(|(_, a)| a.clone()).collect();
                }
                Ok(list)
            }

            fn push_visibility(q: &mut QueryBuilder<$Db>, vis: IncomingVisibility) {
                match vis {
                    IncomingVisibility::All => {}
                    IncomingVisibility::User(u) => {
                        q.push(" AND EXISTS (SELECT 1 FROM assignments a WHERE a.document_id = i.document_id AND a.user_id = ");
                        q.push_bind(u.as_uuid());
                        q.push(")");
                    }
                    IncomingVisibility::Unit(u, unit) => {
                        q.push(" AND EXISTS (SELECT 1 FROM assignments a JOIN users au ON au.id = a.user_id WHERE a.document_id = i.document_id AND (a.user_id = ");
                        q.push_bind(u.as_uuid());
                        q.push(" OR au.unit_id = ");
                        q.push_bind(unit.as_uuid());
                        q.push("))");
                    }
                }
            }

            async fn incoming_in_tx(tx: &mut Conn, scope: &Scope, vis: IncomingVisibility, id: DocumentId) -> Result<IncomingRecord> {
                let mut q = QueryBuilder::<$Db>::new(INCOMING_SELECT);
                q.push(" WHERE i.document_id = ");
                q.push_bind(id.as_uuid());
                q.push(" AND i.agency_id = ");
                q.push_bind(scope.agency_id().as_uuid());
                push_visibility(&mut q, vis);
                let row = q.build().fetch_optional(&mut *tx).await?.ok_or(StoreError::NotFound)?;
                let rec = incoming_from_row(&row)?;
                with_assignments(tx, vec![rec]).await?.pop().ok_or(StoreError::NotFound)
            }

            // ---------------------------------------------------------------------------
            // Writes shared by several operations
            // ---------------------------------------------------------------------------

            /// Whom to notify: (user id, agency id, has e-mail).
            struct Notify {
                user_id: Uuid,
                agency_id: Uuid,
                email: bool,
            }

            fn notify_rows(rows: Vec<$Row>) -> Result<Vec<Notify>> {
                rows.iter()
                    .map(|r| {
                        Ok(Notify {
                            user_id: r.try_get("id")?,
                            agency_id: r.try_get("agency_id")?,
                            email: r.try_get::<Option<String>, _>("email")?.is_some_and(|e| !e.is_empty()),
                        })
                    })
                    .collect()
            }

            async fn users_with_role(tx: &mut Tx, agencies: &[Uuid], role: &str) -> Result<Vec<Notify>> {
                if agencies.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$Db>::new(
                    "SELECT u.id, u.agency_id, u.email FROM users u JOIN role_grants g ON g.user_id = u.id AND g.agency_id = u.agency_id WHERE u.active AND g.role = ",
                );
                q.push_bind(role.to_owned());
                q.push(" AND u.agency_id IN (");
                let mut sep = q.separated(", ");
                for a in agencies {
                    sep.push_bind(*a);
                }
                q.push(")");
                notify_rows(q.build().fetch_all(&mut **tx).await?)
            }

            async fn users_by_id(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<Notify>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$Db>::new("SELECT id, agency_id, email FROM users WHERE active AND id IN (");
                let mut sep = q.separated(", ");
                for a in ids {
                    sep.push_bind(*a);
                }
                q.push(")");
                notify_rows(q.build().fetch_all(&mut **tx).await?)
            }

            /// One notification per (user, document) in `items`, in one statement.
            async fn notify(tx: &mut Tx, items: &[(Notify, Option<Uuid>, String)], kind: &str) -> Result<()> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut q = QueryBuilder::<$Db>::new("");
                push_notifications(&mut q, items, kind, now());
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            /// In-app notifications (and the e-mails they owe), as one INSERT of at least one row.
            fn push_notifications(q: &mut QueryBuilder<$Db>, items: &[(Notify, Option<Uuid>, String)], kind: &str, at: DateTime<Utc>) {
                q.push("INSERT INTO notifications (id, user_id, agency_id, kind, document_id, title, created_at, email_state) ");
                q.push_values(items, |mut b, (n, doc, title)| {
                    b.push_bind(Uuid::now_v7())
                        .push_bind(n.user_id)
                        .push_bind(n.agency_id)
                        .push_bind(kind.to_owned())
                        .push_bind(*doc)
                        .push_bind(title.clone())
                        .push_bind(at)
                        .push_bind(if n.email { "pending" } else { "none" });
                });
            }

            /// Records a status an incoming document's holder reports to its sender: on the
            /// delivery (internal) or as an outbox status package (external).
            async fn report_status(
                tx: &mut Tx,
                item: &IncomingRecord,
                code: &str,
                description: Option<&str>,
                actor_name: Option<&str>,
            ) -> Result<()> {
                let at = now();
                match item.delivery_id {
                    Some(delivery) => {
                        sqlx::query("UPDATE deliveries SET status = $1, status_note = $2, status_at = $3 WHERE id = $4")
                            .bind(code)
                            .bind(description)
                            .bind(at)
                            .bind(delivery)
                            .execute(&mut **tx)
                            .await?;
                        sqlx::query("INSERT INTO delivery_events (id, delivery_id, code, description, actor_name, at) VALUES ($1, $2, $3, $4, $5, $6)")
                            .bind(Uuid::now_v7())
                            .bind(delivery)
                            .bind(code)
                            .bind(description)
                            .bind(actor_name)
                            .bind(at)
                            .execute(&mut **tx)
                            .await?;
                        // The issuing clerk hears of returns, completions and answers.
                        if matches!(code, "02" | "06" | "15" | "16") {
                            let row = sqlx::query(
                                "SELECT e.numbered_by, d.document_id, d.recipient_name FROM deliveries d JOIN outgoing_entries e ON e.document_id = d.document_id WHERE d.id = $1",
                            )
                            .bind(delivery)
                            .fetch_optional(&mut **tx)
                            .await?;
                            if let Some(row) = row {
                                let by: Option<Uuid> = row.try_get("numbered_by")?;
                                let doc: Uuid = row.try_get("document_id")?;
                                let users = users_by_id(tx, &by.into_iter().collect::<Vec<_>>()).await?;
                                let label = vanban_domain::EdxmlStatus::from_code(code).map_or("", |s| s.label_vi());
                                // Which recipient answered: a document goes to many.
                                let recipient: String = row.try_get("recipient_name")?;
                                let title = format!("{} — {}: {recipient} — {label}", item.symbol, short(&item.document.subject));
                                let items: Vec<_> = users.into_iter().map(|n| (n, Some(doc), title.clone())).collect();
                                notify(tx, &items, &format!("status_{code}")).await?;
                            }
                        }
                    }
                    // Paper has no system to report to.
                    None if item.scanned || vanban_domain::AgencyCode::parse(&item.sender_code).is_err() => {}
                    None => {
                        let key = format!("status:{}:{code}:{}", item.document.id, Uuid::now_v7());
                        let payload = serde_json::json!({
                            "status_code": code,
                            "description": description,
                            "staff": actor_name,
                            "response_for": { "symbol": item.symbol, "issued_on": item.issued_on, "sender_code": item.sender_code },
                            "incoming_id": item.document.id,
                            "agency_id": item.document.agency_id,
                            "at": at,
                        });
                        sqlx::query(
                            "INSERT INTO outbox (id, kind, delivery_id, recipient_code, idempotency_key, payload, state, attempts, next_attempt_at, created_at) \
                             VALUES ($1, 'status', NULL, $2, $3, $4, 'queued', 0, $5, $5)",
                        )
                        .bind(Uuid::now_v7())
                        .bind(&item.sender_code)
                        .bind(key)
                        .bind(payload.to_string())
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                    }
                }
                Ok(())
            }

            async fn actor_name(tx: &mut Tx, actor: &Actor) -> Result<Option<String>> {
                let Some(u) = actor.user_id else { return Ok(actor.from.clone()) };
                Ok(sqlx::query_scalar("SELECT full_name FROM users WHERE id = $1").bind(u.as_uuid()).fetch_optional(&mut **tx).await?)
            }

            /// Moves an incoming document by `action` (the domain decides), writes its state.
            async fn move_incoming(tx: &mut Tx, item: &IncomingRecord, action: IncomingAction) -> Result<IncomingState> {
                let to = item.state.apply(action)?;
                sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3")
                    .bind(to.as_str())
                    .bind(now())
                    .bind(item.document.id.as_uuid())
                    .execute(&mut **tx)
                    .await?;
                Ok(to)
            }

            async fn audit_incoming(tx: &mut Tx, actor: &Actor, scope: &Scope, item: &IncomingRecord, action: &str, detail: serde_json::Value) -> Result<()> {
                write_audit(tx, actor, Some(scope.agency_id()), action, "document", &item.document.id.to_string(), detail).await
            }

            /// An active user of the scope's agency, or `not_found`.
            async fn user_of_agency(tx: &mut Tx, scope: &Scope, user: UserId) -> Result<()> {
                let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND agency_id = $2 AND active")
                    .bind(user.as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                found.map(|_| ()).ok_or(StoreError::Domain(vanban_domain::DomainError::InvalidValue {
                    field: "assignee",
                    reason: "not an active user of this agency",
                }))
            }

            fn lead_of(item: &IncomingRecord) -> Option<UserId> {
                item.assignments.iter().find(|a| a.active && a.role == AssignmentRole::Lead).map(|a| a.user_id)
            }

            /// Where incoming documents come from (their `incoming_items` columns).
            struct IncomingSource<'a> {
                sender_code: &'a str,
                sender_name: &'a str,
                symbol: &'a str,
                issued_on: Option<NaiveDate>,
                pdf_sha256: Option<&'a str>,
                ocr_sha256: Option<&'a str>,
                scanned: bool,
            }

            /// The `documents` rows of incoming documents, as one INSERT:
            /// (document, agency, delivery, source key).
            fn push_incoming_documents(
                q: &mut QueryBuilder<$Db>,
                created_by: Uuid,
                draft: &IncomingDraft,
                rows: &[(Uuid, Uuid, Option<Uuid>, Option<String>)],
                at: DateTime<Utc>,
            ) {
                let metadata = draft.metadata.to_string();
                q.push("INSERT INTO documents (id, agency_id, direction, state, doc_type, subject, metadata, created_by, created_at, updated_at) ");
                q.push_values(rows, |mut b, (id, agency, _, _)| {
                    b.push_bind(*id)
                        .push_bind(*agency)
                        .push_bind("incoming")
                        .push_bind(IncomingState::Arrived.as_str())
                        .push_bind(draft.doc_type.as_str())
                        .push_bind(draft.subject.clone())
                        .push_bind(metadata.clone())
                        .push_bind(created_by)
                        .push_bind(at)
                        .push_bind(at);
                });
            }

            /// The `incoming_items` rows of incoming documents (after their documents and
            /// deliveries), as one INSERT.
            fn push_incoming_items(
                q: &mut QueryBuilder<$Db>,
                draft: &IncomingDraft,
                rows: &[(Uuid, Uuid, Option<Uuid>, Option<String>)],
                src: &IncomingSource<'_>,
                at: DateTime<Utc>,
            ) {
                q.push("INSERT INTO incoming_items (document_id, agency_id, delivery_id, source_key, sender_code, sender_name, symbol, issued_on, priority, pdf_sha256, ocr_sha256, scanned, arrived_at) ");
                q.push_values(rows, |mut b, (id, agency, delivery, key)| {
                    b.push_bind(*id)
                        .push_bind(*agency)
                        .push_bind(*delivery)
                        .push_bind(key.clone())
                        .push_bind(src.sender_code.to_owned())
                        .push_bind(src.sender_name.to_owned())
                        .push_bind(src.symbol.to_owned())
                        .push_bind(src.issued_on)
                        .push_bind(i32::from(draft.priority.code()))
                        .push_bind(src.pdf_sha256.map(str::to_owned))
                        .push_bind(src.ocr_sha256.map(str::to_owned))
                        .push_bind(src.scanned)
                        .push_bind(at);
                });
            }

            #[async_trait::async_trait]
            impl IssuingRepo for $Store {
                async fn create_register(&self, actor: &Actor, scope: &Scope, new: NewRegister) -> Result<RegisterRecord> {
                    let name = clean("name", &new.name, 200)?;
                    if name.is_empty() {
                        return Err(vanban_domain::DomainError::FieldRequired { field: "name" }.into());
                    }
                    let rule = RegisterRule { doc_types: new.doc_types.clone(), secret: new.secret };
                    let suffix = new.suffix.trim().to_owned();
                    if suffix.chars().count() > 10 || !suffix.chars().all(char::is_alphanumeric) {
                        return Err(vanban_domain::DomainError::InvalidValue { field: "suffix", reason: "letters and digits, at most 10" }.into());
                    }
                    if new.secret && new.direction == RegisterDirection::Outgoing && suffix.is_empty() {
                        // Its numbers run from 01 beside the ordinary sequence: without a suffix its
                        // symbols would repeat the ordinary ones (unique per agency and year).
                        return Err(vanban_domain::DomainError::FieldRequired { field: "suffix" }.into());
                    }
                    let id = Uuid::now_v7();
                    let at = now();
                    crate::sql::write_tx!(self, |tx| {
                        let inserted = sqlx::query(
                            "INSERT INTO registers (id, agency_id, direction, name, doc_types, secret, suffix, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8) \
                             ON CONFLICT (agency_id, direction, name) DO NOTHING",
                        )
                        .bind(id)
                        .bind(scope.agency_id().as_uuid())
                        .bind(new.direction.as_str())
                        .bind(&name)
                        .bind(rule.doc_types_text())
                        .bind(new.secret)
                        .bind(&suffix)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted == 0 {
                            return Err(StoreError::Conflict { code: "duplicate_register" });
                        }
                        let detail = serde_json::json!({ "name": name, "direction": new.direction.as_str(), "doc_types": rule.doc_types_text(), "secret": new.secret });
                        write_audit(&mut tx, actor, Some(scope.agency_id()), "register.create", "register", &id.to_string(), detail).await?;
                        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {REGISTER_COLS} FROM registers WHERE id = $1")))
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        register_from_row(&row)
                    })
                }

                async fn list_registers(&self, scope: &Scope, direction: RegisterDirection) -> Result<Vec<RegisterRecord>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {REGISTER_COLS} FROM registers WHERE agency_id = $1 AND direction = $2 AND active ORDER BY created_at, id"
                    )))
                    .bind(scope.agency_id().as_uuid())
                    .bind(direction.as_str())
                    .fetch_all(self.point_pool())
                    .await?;
                    rows.iter().map(register_from_row).collect()
                }

                async fn issuing_context(&self, scope: &Scope, id: DocumentId) -> Result<IssuingContext> {
                    // One statement instead of four lookups (the document, its head, its files,
                    // its versions): issuing is where the round trips of a document add up.
                    let sql = format!(
                        "SELECT {}, {}, \
                         (SELECT COUNT(*) FROM document_files f WHERE f.document_id = d.id) AS file_count, \
                         (SELECT v.content FROM document_versions v WHERE v.document_id = d.id ORDER BY v.version DESC LIMIT 1) AS latest_content \
                         FROM documents d LEFT JOIN document_revisions h ON h.document_id = d.id \
                         AND h.seq = (SELECT MAX(r.seq) FROM document_revisions r WHERE r.document_id = d.id) \
                         WHERE d.id = $1 AND d.agency_id = $2 AND d.direction = 'outgoing'",
                        DOC_COLS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", "),
                        REVISION_COLS.split(", ").map(|c| format!("h.{c} AS h_{c}")).collect::<Vec<_>>().join(", "),
                    );
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(id.as_uuid())
                        .bind(scope.agency_id().as_uuid())
                        .fetch_optional(self.point_pool())
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    let head = match row.try_get::<Option<i32>, _>("h_seq")? {
                        Some(_) => Some(revision_from_row(&row, "h_")?),
                        None => None,
                    };
                    let latest_content = row
                        .try_get::<Option<String>, _>("latest_content")?
                        .map(|c| serde_json::from_str(&c).map_err(|e| corrupt("document_versions", e)))
                        .transpose()?;
                    Ok(IssuingContext { document: document_from_row(&row)?, head, files: row.try_get("file_count")?, latest_content })
                }

                async fn number_document(&self, actor: &Actor, scope: &Scope, id: DocumentId, req: NumberRequest) -> Result<OutgoingEntry> {
                    let year = req.issued_on.year();
                    crate::sql::write_tx!(self, |tx| {
                        // Three round trips (see `Writes`): the document with the register, then
                        // its state and the counter, then the audit event and the register line.
                        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT {}, r.id AS register_id, r.doc_types AS register_doc_types, r.secret AS register_secret, r.suffix AS register_suffix \
                             FROM documents d LEFT JOIN registers r ON r.id = $3 AND r.agency_id = d.agency_id AND r.direction = 'outgoing' AND r.active \
                             WHERE d.id = $1 AND d.agency_id = $2",
                            DOC_COLS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ")
                        )))
                        .bind(id.as_uuid())
                        .bind(scope.agency_id().as_uuid())
                        .bind(req.register_id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                        if row.try_get::<Option<Uuid>, _>("register_id")?.is_none() {
                            return Err(StoreError::NotFound);
                        }
                        let doc = document_from_row(&row)?;
                        if doc.direction != Direction::Outgoing {
                            return Err(StoreError::NotFound);
                        }
                        let from = parse("documents", OutgoingState::from_str(&doc.state))?;
                        let to = from.apply(OutgoingAction::AssignNumber)?;
                        // Art. 15: a register takes its own types and secrecy only.
                        let register_secret: bool = row.try_get("register_secret")?;
                        let register_types = RegisterRule::parse_doc_types(&row.try_get::<String, _>("register_doc_types")?);
                        let suffix: String = row.try_get("register_suffix")?;
                        let secret = doc.metadata.get("secrecy").and_then(|v| v.as_str()).is_some_and(|v| v != "normal");
                        if register_secret != secret || !(register_types.is_empty() || register_types.contains(&doc.doc_type)) {
                            return Err(StoreError::Conflict { code: "register_mismatch" });
                        }
                        let at = now();
                        let mut w = crate::sql::Writes::<$Db>::new(COMBINE_WRITES);
                        w.push(&mut tx, |q| {
                            q.push("UPDATE documents SET state = ").push_bind(to.as_str());
                            q.push(", updated_at = ").push_bind(at);
                            q.push(" WHERE id = ").push_bind(id.as_uuid());
                        })
                        .await?;
                        let counter = w
                            .fetch_optional(&mut tx, |q| {
                                q.push("INSERT INTO register_counters (register_id, year, last_number) VALUES (");
                                q.separated(", ").push_bind(req.register_id.as_uuid()).push_bind(year).push_bind(1_i64);
                                q.push(") ON CONFLICT (register_id, year) DO UPDATE SET last_number = register_counters.last_number + 1 RETURNING last_number");
                            })
                            .await?
                            .ok_or_else(|| corrupt("register_counters", "no number returned"))?;
                        let number: i64 = counter.try_get("last_number")?;
                        let number_text = vanban_domain::DocumentNumber::new(u32::try_from(number).map_err(|_| StoreError::Conflict { code: "register_full" })?)?;
                        let symbol = match suffix.as_str() {
                            "" => format!("{number_text}/{}", req.notation),
                            suffix => format!("{number_text}/{}-{suffix}", req.notation),
                        };
                        let detail = serde_json::json!({
                            "from": from.as_str(), "to": "numbered", "register_id": req.register_id, "year": year, "number": number, "symbol": symbol,
                            "issued_on": req.issued_on,
                        });
                        let mut w = crate::sql::Writes::<$Db>::new(COMBINE_WRITES);
                        audit_into(&mut w, &mut tx, actor, Some(scope.agency_id()), "document.assign_number", "document", &id.to_string(), detail).await?;
                        let inserted = w
                            .fetch_optional(&mut tx, |q| {
                                q.push("INSERT INTO outgoing_entries (document_id, agency_id, register_id, year, number, symbol, issued_on, state, numbered_by, numbered_at) VALUES (");
                                q.separated(", ")
                                    .push_bind(id.as_uuid())
                                    .push_bind(scope.agency_id().as_uuid())
                                    .push_bind(req.register_id.as_uuid())
                                    .push_bind(year)
                                    .push_bind(number)
                                    .push_bind(symbol.clone())
                                    .push_bind(req.issued_on)
                                    .push_unseparated(", 'numbered'")
                                    .push_bind(actor.user_id.map(|u| u.as_uuid()))
                                    .push_bind(at);
                                q.push(format_args!(") ON CONFLICT DO NOTHING RETURNING {ENTRY_COLS}"));
                            })
                            .await?;
                        let Some(row) = inserted else {
                            // Another register of the agency already gave this symbol this year
                            // (two catch-all registers with the same abbreviations): nothing is
                            // kept, the counter included.
                            return Err(StoreError::Conflict { code: "duplicate_symbol" });
                        };
                        let entry = entry_from_row(&row)?;
                        tx.commit().await?;
                        Ok(entry)
                    })
                }

                async fn issue_document(&self, actor: &Actor, scope: &Scope, id: DocumentId, req: IssueRequest) -> Result<IssueOutcome> {
                    let subject = clean("subject", &req.incoming.subject, 2000)?;
                    let mut recipients: Vec<NewDelivery> = Vec::new();
                    for r in req.recipients {
                        let code = clean("recipient_code", &r.recipient_code, 64)?;
                        let name = clean("recipient_name", &r.recipient_name, 500)?;
                        if code.is_empty() || recipients.iter().any(|x: &NewDelivery| x.recipient_code == code) {
                            continue;
                        }
                        recipients.push(NewDelivery { recipient_code: code, recipient_name: name });
                    }
                    crate::sql::write_tx!(self, |tx| {
                        // The reads first, in two round trips (the writes then go in one; see
                        // `Writes`). One: the register line, the document's state, its head
                        // revision and the state of the agency's certificate.
                        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT {}, d.state AS document_state, \
                             (SELECT r.seq FROM document_revisions r WHERE r.document_id = e.document_id ORDER BY r.seq DESC LIMIT 1) AS head_seq, \
                             (SELECT r.pdf_sha256 FROM document_revisions r WHERE r.document_id = e.document_id ORDER BY r.seq DESC LIMIT 1) AS head_sha256, \
                             (SELECT c.status FROM certificates c WHERE c.id = $3 AND c.agency_id = e.agency_id) AS certificate_status \
                             FROM outgoing_entries e JOIN documents d ON d.id = e.document_id \
                             WHERE e.document_id = $1 AND e.agency_id = $2",
                            ENTRY_COLS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ")
                        )))
                        .bind(id.as_uuid())
                        .bind(scope.agency_id().as_uuid())
                        .bind(req.revision.certificate_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::Conflict { code: "not_numbered" })?;
                        let mut entry = entry_from_row(&row)?;
                        if entry.state != "numbered" {
                            return Err(StoreError::Conflict { code: "already_issued" });
                        }
                        let from = parse("documents", OutgoingState::from_str(&row.try_get::<String, _>("document_state")?))?;
                        let head = match (row.try_get::<Option<i32>, _>("head_seq")?, row.try_get::<Option<String>, _>("head_sha256")?) {
                            (Some(seq), Some(sha)) => Some((seq, sha)),
                            _ => None,
                        };
                        let certificate_status: Option<String> = row.try_get("certificate_status")?;
                        // Issue, then deliver when there is anyone to deliver to: one state change.
                        let mut to = from.apply(OutgoingAction::Issue)?;
                        if !recipients.is_empty() {
                            to = to.apply(OutgoingAction::Deliver)?;
                        }
                        let at = now();
                        for a in &req.appendices {
                            crate::sql::sha256_hex("appendix", &a.sha256)?;
                        }
                        let appendices = serde_json::to_string(&req.appendices).map_err(|e| corrupt("outgoing_entries", e))?;

                        // Two: the sender, which recipients are agencies of this instance, and
                        // their clerks (to notify).
                        let mut internal: Vec<(String, Uuid, String)> = Vec::new();
                        let mut sender: Option<(String, String)> = None;
                        let mut clerks: Vec<Notify> = Vec::new();
                        {
                            let mut q = QueryBuilder::<$Db>::new(
                                "SELECT a.id, a.code, a.name, u.id AS user_id, u.email FROM agencies a \
                                 LEFT JOIN role_grants g ON g.agency_id = a.id AND g.role = 'clerk' \
                                 LEFT JOIN users u ON u.id = g.user_id AND u.agency_id = a.id AND u.active \
                                 WHERE a.id = ",
                            );
                            q.push_bind(scope.agency_id().as_uuid());
                            if !recipients.is_empty() {
                                q.push(" OR a.code IN (");
                                let mut sep = q.separated(", ");
                                for r in &recipients {
                                    sep.push_bind(r.recipient_code.clone());
                                }
                                q.push(")");
                            }
                            for r in q.build().fetch_all(&mut *tx).await? {
                                let (agency, code, name): (Uuid, String, String) = (r.try_get("id")?, r.try_get("code")?, r.try_get("name")?);
                                let is_recipient = recipients.iter().any(|x| x.recipient_code == code);
                                if agency == scope.agency_id().as_uuid() && sender.is_none() {
                                    sender = Some((code.clone(), name.clone()));
                                }
                                if let (true, Some(user_id)) = (is_recipient, r.try_get::<Option<Uuid>, _>("user_id")?) {
                                    let email = r.try_get::<Option<String>, _>("email")?.is_some_and(|e| !e.is_empty());
                                    clerks.push(Notify { user_id, agency_id: agency, email });
                                }
                                if is_recipient && !internal.iter().any(|(c, _, _)| *c == code) {
                                    internal.push((code, agency, name));
                                }
                            }
                        }
                        let sender = sender.ok_or(StoreError::NotFound)?;
                        let mut deliveries: Vec<DeliveryRecord> = Vec::new();
                        let mut incoming_rows = Vec::new();
                        for r in &recipients {
                            let found = internal.iter().find(|(c, _, _)| *c == r.recipient_code);
                            let agency = found.map(|(_, a, _)| *a);
                            // Unnamed recipients take their name from the directory (or their code).
                            let recipient_name = match (r.recipient_name.is_empty(), found) {
                                (false, _) => r.recipient_name.clone(),
                                (true, Some((_, _, name))) => name.clone(),
                                (true, None) => r.recipient_code.clone(),
                            };
                            let incoming_id = agency.map(|_| Uuid::now_v7());
                            let delivery_id = Uuid::now_v7();
                            if let (Some(a), Some(inc)) = (agency, incoming_id) {
                                incoming_rows.push((inc, a, Some(delivery_id), None::<String>));
                            }
                            deliveries.push(DeliveryRecord {
                                id: delivery_id,
                                document_id: id,
                                recipient_code: r.recipient_code.clone(),
                                recipient_name,
                                recipient_agency_id: agency.map(AgencyId::from_uuid),
                                incoming_id: incoming_id.map(DocumentId::from_uuid),
                                channel: if agency.is_some() { "internal" } else { "external" }.to_owned(),
                                // An internal recipient's system has it at once: status 01 is automatic.
                                status: if agency.is_some() { "01" } else { "00" }.to_owned(),
                                status_note: None,
                                status_at: at,
                                events: Vec::new(),
                            });
                        }

                        // Then the writes, together (see `Writes`).
                        let mut w = crate::sql::Writes::<$Db>::new(COMBINE_WRITES);
                        let (_seq, pdf_sha256, _base, _signer) =
                            revision_into(&mut w, &mut tx, actor, scope, id, &req.revision, head, certificate_status).await?;
                        entry.state = "issued".to_owned();
                        entry.issued_at = Some(at);
                        entry.pdf_sha256 = Some(pdf_sha256.clone());
                        entry.appendices = req.appendices.clone();
                        w.push(&mut tx, |q| {
                            q.push("UPDATE documents SET state = ").push_bind(to.as_str());
                            q.push(", updated_at = ").push_bind(at);
                            q.push(" WHERE id = ").push_bind(id.as_uuid());
                        })
                        .await?;
                        w.push(&mut tx, |q| {
                            q.push("UPDATE outgoing_entries SET state = 'issued', issued_at = ").push_bind(at);
                            q.push(", pdf_sha256 = ").push_bind(pdf_sha256.clone());
                            q.push(", appendices = ").push_bind(appendices);
                            q.push(" WHERE document_id = ").push_bind(id.as_uuid());
                        })
                        .await?;
                        let created_by = actor.user_id.map(|u| u.as_uuid());
                        let draft = IncomingDraft { subject: subject.clone(), ..req.incoming.clone() };
                        if !incoming_rows.is_empty() {
                            let created_by = created_by.ok_or(vanban_domain::DomainError::FieldRequired { field: "created_by" })?;
                            w.push(&mut tx, |q| push_incoming_documents(q, created_by, &draft, &incoming_rows, at)).await?;
                        }
                        if !deliveries.is_empty() {
                            w.push(&mut tx, |q| {
                                q.push("INSERT INTO deliveries (id, document_id, sender_agency_id, recipient_code, recipient_name, recipient_agency_id, incoming_id, channel, status, status_note, status_at, created_at) ");
                                q.push_values(&deliveries, |mut b, d| {
                                    b.push_bind(d.id)
                                        .push_bind(id.as_uuid())
                                        .push_bind(scope.agency_id().as_uuid())
                                        .push_bind(d.recipient_code.clone())
                                        .push_bind(d.recipient_name.clone())
                                        .push_bind(d.recipient_agency_id.map(|a| a.as_uuid()))
                                        .push_bind(d.incoming_id.map(|i| i.as_uuid()))
                                        .push_bind(d.channel.clone())
                                        .push_bind(d.status.clone())
                                        .push_bind(None::<String>)
                                        .push_bind(at)
                                        .push_bind(at);
                                });
                            })
                            .await?;
                        }
                        if !incoming_rows.is_empty() {
                            let source = IncomingSource {
                                sender_code: &sender.0,
                                sender_name: &sender.1,
                                symbol: &entry.symbol,
                                issued_on: Some(entry.issued_on),
                                pdf_sha256: Some(&pdf_sha256),
                                ocr_sha256: None,
                                scanned: false,
                            };
                            w.push(&mut tx, |q| push_incoming_items(q, &draft, &incoming_rows, &source, at)).await?;
                            w.push(&mut tx, |q| {
                                q.push("INSERT INTO delivery_events (id, delivery_id, code, description, actor_name, at) ");
                                q.push_values(&incoming_rows, |mut b, (_, _, delivery, _)| {
                                    b.push_bind(Uuid::now_v7()).push_bind(*delivery).push_bind("01").push_bind(None::<String>).push_bind("vanban").push_bind(at);
                                });
                            })
                            .await?;
                            let urgent = if req.incoming.priority.is_urgent() { format!("[{}] ", req.incoming.priority.label_vi().to_uppercase()) } else { String::new() };
                            // A secret document's subject stays out of notifications (they may go by e-mail).
                            let secret = req.incoming.metadata.get("secrecy").and_then(|v| v.as_str()).is_some_and(|v| v != "normal");
                            let title = if secret {
                                format!("{urgent}Văn bản mật đến {} của {}", entry.symbol, sender.1)
                            } else {
                                format!("{urgent}Văn bản đến {} của {}: {}", entry.symbol, sender.1, short(&subject))
                            };
                            let items: Vec<_> = clerks
                                .into_iter()
                                .map(|n| {
                                    let doc = incoming_rows.iter().find(|(_, a, _, _)| *a == n.agency_id).map(|(d, _, _, _)| *d);
                                    (n, doc, title.clone())
                                })
                                .collect();
                            if !items.is_empty() {
                                w.push(&mut tx, |q| push_notifications(q, &items, "arrived", at)).await?;
                            }
                        }
                        // External recipients: an outbox row each, drained by the exchange worker.
                        let external: Vec<&DeliveryRecord> = deliveries.iter().filter(|d| d.channel == "external").collect();
                        if !external.is_empty() {
                            w.push(&mut tx, |q| {
                                q.push("INSERT INTO outbox (id, kind, delivery_id, recipient_code, idempotency_key, payload, state, attempts, next_attempt_at, created_at) ");
                                q.push_values(&external, |mut b, d| {
                                    let mut payload = req.outbox_payload.clone();
                                    payload["symbol"] = entry.symbol.clone().into();
                                    payload["pdf_sha256"] = pdf_sha256.clone().into();
                                    payload["recipient"] = serde_json::json!({ "code": d.recipient_code, "name": d.recipient_name });
                                    b.push_bind(Uuid::now_v7())
                                        .push_bind("edoc")
                                        .push_bind(d.id)
                                        .push_bind(d.recipient_code.clone())
                                        .push_bind(format!("edoc:{id}:{}", d.recipient_code))
                                        .push_bind(payload.to_string())
                                        .push_bind("queued")
                                        .push_bind(0_i32)
                                        .push_bind(at)
                                        .push_bind(at);
                                });
                            })
                            .await?;
                        }
                        let detail = serde_json::json!({
                            "from": from.as_str(), "to": if recipients.is_empty() { "issued" } else { "delivered" },
                            "symbol": entry.symbol, "pdf_sha256": pdf_sha256,
                            "recipients": deliveries.iter().map(|d| serde_json::json!({ "code": d.recipient_code, "channel": d.channel })).collect::<Vec<_>>(),
                        });
                        audit_into(&mut w, &mut tx, actor, Some(scope.agency_id()), "document.issue", "document", &id.to_string(), detail).await?;
                        w.flush(&mut tx).await?;
                        tx.commit().await?;
                        Ok(IssueOutcome { entry, deliveries })
                    })
                }

                async fn get_outgoing_entry(&self, scope: &Scope, id: DocumentId) -> Result<Option<OutgoingEntry>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ENTRY_COLS} FROM outgoing_entries WHERE document_id = $1 AND agency_id = $2")))
                        .bind(id.as_uuid())
                        .bind(scope.agency_id().as_uuid())
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(entry_from_row).transpose()
                }

                async fn outgoing_entries_of(&self, scope: &Scope, ids: &[DocumentId]) -> Result<Vec<OutgoingEntry>> {
                    let mut out = Vec::with_capacity(ids.len());
                    // Bound parameters stay well under either backend's limit.
                    for chunk in ids.chunks(500) {
                        let mut q = QueryBuilder::<$Db>::new(format!("SELECT {ENTRY_COLS} FROM outgoing_entries WHERE agency_id = "));
                        q.push_bind(scope.agency_id().as_uuid()).push(" AND document_id IN (");
                        let mut list = q.separated(", ");
                        for id in chunk {
                            list.push_bind(id.as_uuid());
                        }
                        q.push(")");
                        let rows = q.build().fetch_all(&self.pool).await?;
                        for r in &rows {
                            out.push(entry_from_row(r)?);
                        }
                    }
                    Ok(out)
                }

                async fn numbered_backlog(&self, limit: i64) -> Result<Vec<NumberedBacklog>> {
                    let rows = sqlx::query("SELECT document_id, agency_id, numbered_by FROM outgoing_entries WHERE state = 'numbered' ORDER BY numbered_at LIMIT $1")
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(NumberedBacklog {
                                document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                                agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                                numbered_by: r.try_get::<Option<Uuid>, _>("numbered_by")?.map(UserId::from_uuid),
                            })
                        })
                        .collect()
                }

                async fn outgoing_register(&self, scope: &Scope, register: Option<RegisterId>, from: NaiveDate, to: NaiveDate) -> Result<Vec<OutgoingRegisterRow>> {
                    const RANGE: &str = "e.agency_id = $1 AND e.issued_on >= $2 AND e.issued_on <= $3 AND ($4 IS NULL OR e.register_id = $4)";
                    let mut tx = self.pool.begin().await?;
                    // Both statements select the register's lines of the period ($1..$4).
                    let ranged = |sql: String| {
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(scope.agency_id().as_uuid())
                            .bind(from)
                            .bind(to)
                            .bind(register.map(|r| r.as_uuid()))
                    };
                    // The signer: as the document names them, else as the leader's signature
                    // (its latest signer revision) names them.
                    let rows = ranged(format!(
                        "SELECT e.document_id, e.agency_id, e.register_id, e.year, e.number, e.symbol, e.issued_on, e.state, e.numbered_by, e.numbered_at, e.issued_at, e.pdf_sha256, e.appendices, \
                         d.doc_type, d.subject, d.metadata, r.name AS register_name, \
                         (SELECT v.signer_name FROM document_revisions v WHERE v.document_id = e.document_id AND v.kind = 'signer' ORDER BY v.seq DESC LIMIT 1) AS revision_signer \
                         FROM outgoing_entries e JOIN documents d ON d.id = e.document_id JOIN registers r ON r.id = e.register_id \
                         WHERE {RANGE} ORDER BY r.created_at, e.year, e.number"
                    ))
                    .fetch_all(&mut *tx)
                    .await?;
                    // Where each was sent: its deliveries, in the order they were made.
                    let sent = ranged(format!(
                        "SELECT dl.document_id, dl.recipient_name FROM deliveries dl JOIN outgoing_entries e ON e.document_id = dl.document_id \
                         WHERE {RANGE} AND dl.sender_agency_id = $1 ORDER BY dl.created_at, dl.id"
                    ))
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    let mut delivered: std::collections::HashMap<Uuid, Vec<String>> = std::collections::HashMap::new();
                    for d in &sent {
                        delivered.entry(d.try_get("document_id")?).or_default().push(d.try_get("recipient_name")?);
                    }
                    rows.iter()
                        .map(|r| {
                            let meta: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("metadata")?).map_err(|e| corrupt("documents", e))?;
                            let entry = entry_from_row(r)?;
                            // Not delivered yet (numbered, or issued before delivery): the
                            // recipients the document names.
                            let recipients = match delivered.remove(&entry.document_id.as_uuid()) {
                                Some(names) => names,
                                None => meta["recipients"]
                                    .as_array()
                                    .map(|a| a.iter().filter_map(|x| x["name"].as_str().map(str::to_owned)).collect())
                                    .unwrap_or_default(),
                            };
                            let named_signer = meta["signer"]["full_name"].as_str().filter(|n| !n.trim().is_empty()).map(str::to_owned);
                            Ok(OutgoingRegisterRow {
                                entry,
                                doc_type: DocumentType::from_snake(&r.try_get::<String, _>("doc_type")?).ok_or_else(|| corrupt("documents", "doc_type"))?,
                                subject: r.try_get("subject")?,
                                signer_name: named_signer.or(r.try_get::<Option<String>, _>("revision_signer")?),
                                recipients,
                                register_name: r.try_get("register_name")?,
                            })
                        })
                        .collect()
                }

                async fn list_deliveries(&self, scope: &Scope, id: DocumentId) -> Result<Vec<DeliveryRecord>> {
                    let mut tx = self.pool.begin().await?;
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {DELIVERY_COLS} FROM deliveries WHERE document_id = $1 AND sender_agency_id = $2 ORDER BY created_at, recipient_code"
                    )))
                    .bind(id.as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut list = rows.iter().map(delivery_from_row).collect::<Result<Vec<_>>>()?;
                    let events = sqlx::query(
                        "SELECT e.delivery_id, e.code, e.description, e.actor_name, e.at FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id \
                         WHERE d.document_id = $1 AND d.sender_agency_id = $2 ORDER BY e.at, e.code, e.id",
                    )
                    .bind(id.as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
                    for e in &events {
                        let delivery: Uuid = e.try_get("delivery_id")?;
                        if let Some(d) = list.iter_mut().find(|d| d.id == delivery) {
                            d.events.push(DeliveryEvent {
                                code: e.try_get("code")?,
                                description: e.try_get("description")?,
                                actor_name: e.try_get("actor_name")?,
                                at: e.try_get("at")?,
                            });
                        }
                    }
                    tx.commit().await?;
                    // Statuses reported by other systems carry whole seconds: within a second,
                    // the workflow's order (03 before 04 before 05 …).
                    for d in &mut list {
                        d.events.sort_by_key(|e| (e.at.timestamp(), e.code.clone()));
                    }
                    Ok(list)
                }

                async fn request_change(&self, actor: &Actor, scope: &Scope, id: DocumentId, req: ChangeRequest) -> Result<DocumentRecord> {
                    let reason = clean("reason", &req.reason, 1000)?;
                    if reason.is_empty() {
                        return Err(vanban_domain::DomainError::FieldRequired { field: "reason" }.into());
                    }
                    let action = match req.kind {
                        ChangeKind::Revoke => OutgoingAction::Revoke,
                        ChangeKind::Update => OutgoingAction::Update,
                        ChangeKind::Replace => OutgoingAction::Replace,
                    };
                    // An update says what it corrects; the other kinds carry no metadata.
                    let update = match (req.kind, req.update) {
                        (ChangeKind::Update, Some(u)) if !u.is_empty() => Some(u.validate()?),
                        (ChangeKind::Update, _) => return Err(vanban_domain::DomainError::FieldRequired { field: "update" }.into()),
                        (_, Some(u)) if !u.is_empty() => return Err(StoreError::Conflict { code: "update_only_for_update" }),
                        (_, _) => None,
                    };
                    crate::sql::write_tx!(self, |tx| {
                        let replacement = match (req.kind, req.replacement) {
                            (ChangeKind::Replace, None) => return Err(vanban_domain::DomainError::FieldRequired { field: "replacement" }.into()),
                            (ChangeKind::Replace, Some(r)) => {
                                let row = sqlx::query("SELECT e.symbol FROM outgoing_entries e JOIN documents d ON d.id = e.document_id WHERE e.document_id = $1 AND e.agency_id = $2 AND e.state = 'issued' AND d.state IN ('issued', 'delivered')")
                                    .bind(r.as_uuid())
                                    .bind(scope.agency_id().as_uuid())
                                    .fetch_optional(&mut *tx)
                                    .await?
                                    .ok_or(StoreError::Conflict { code: "replacement_not_issued" })?;
                                if r == id {
                                    return Err(StoreError::Conflict { code: "replacement_not_issued" });
                                }
                                Some((r, row.try_get::<String, _>("symbol")?))
                            }
                            (_, _) => None,
                        };
                        let (mut doc, from) = apply_action(&mut tx, scope, id, action).await?;
                        if let Some(u) = &update {
                            // The sender's own record is corrected now; its signed file stays.
                            u.apply(&mut doc.subject, &mut doc.metadata);
                            write_correction(&mut tx, id, &doc.subject, &doc.metadata).await?;
                        }
                        let description = match (&replacement, &update) {
                            (Some((_, symbol)), _) => format!("{}: {reason} (thay thế bằng văn bản số {symbol})", req.kind.label_vi()),
                            (None, Some(u)) => format!("{}: {reason} ({})", req.kind.label_vi(), u.describe_vi()),
                            (None, None) => format!("{}: {reason}", req.kind.label_vi()),
                        };
                        let at = now();
                        let deliveries = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE document_id = $1 AND sender_agency_id = $2")))
                            .bind(id.as_uuid())
                            .bind(scope.agency_id().as_uuid())
                            .fetch_all(&mut *tx)
                            .await?
                            .iter()
                            .map(delivery_from_row)
                            .collect::<Result<Vec<_>>>()?;
                        let name = actor_name(&mut tx, actor).await?;
                        let mut notices = Vec::new();
                        for d in &deliveries {
                            sqlx::query("INSERT INTO delivery_events (id, delivery_id, code, description, actor_name, at) VALUES ($1, $2, '13', $3, $4, $5)")
                                .bind(Uuid::now_v7())
                                .bind(d.id)
                                .bind(&description)
                                .bind(name.as_deref())
                                .bind(at)
                                .execute(&mut *tx)
                                .await?;
                            match d.incoming_id {
                                Some(inc) => {
                                    // The recipient's copy: withdrawn at once for a revocation or a
                                    // replacement (its previous state kept, in case the clerk refuses),
                                    // and the clerk asked to answer.
                                    let copy = sqlx::query("SELECT d.state, d.subject, d.metadata, i.priority FROM documents d JOIN incoming_items i ON i.document_id = d.id WHERE d.id = $1")
                                        .bind(inc.as_uuid())
                                        .fetch_one(&mut *tx)
                                        .await?;
                                    let state: String = copy.try_get("state")?;
                                    // What the update changes in this copy (it may have refused an earlier one).
                                    let copy_update = match &update {
                                        Some(u) => {
                                            let metadata: serde_json::Value = serde_json::from_str(&copy.try_get::<String, _>("metadata")?).unwrap_or_default();
                                            let priority = priority_of(copy.try_get("priority")?);
                                            Some(u.clone().against(&copy.try_get::<String, _>("subject")?, priority, &metadata))
                                        }
                                        None => None,
                                    };
                                    let current = IncomingState::from_snake(&state).ok_or_else(|| corrupt("documents", "state"))?;
                                    // The domain says what can be withdrawn (not a copy already returned).
                                    let withdraw = req.kind.withdraws() && current.apply(IncomingAction::Withdraw).is_ok();
                                    sqlx::query(
                                        "UPDATE incoming_items SET change_kind = $1, change_reason = $2, change_state = 'pending', state_before = $3, change_update = $4 WHERE document_id = $5",
                                    )
                                    .bind(req.kind.as_str())
                                    .bind(&description)
                                    .bind(withdraw.then_some(state.clone()))
                                    .bind(copy_update.as_ref().map(|u| serde_json::to_string(u).expect("a change serialises")))
                                    .bind(inc.as_uuid())
                                    .execute(&mut *tx)
                                    .await?;
                                    if withdraw {
                                        sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3")
                                            .bind(IncomingState::Withdrawn.as_str())
                                            .bind(at)
                                            .bind(inc.as_uuid())
                                            .execute(&mut *tx)
                                            .await?;
                                    }
                                    if let Some(a) = d.recipient_agency_id {
                                        notices.push((a.as_uuid(), inc.as_uuid()));
                                        // The recipient's copy changed: its own audit event, in its agency.
                                        let detail = serde_json::json!({ "kind": req.kind.as_str(), "reason": reason, "from": state, "withdrawn": withdraw, "source_document_id": id });
                                        write_audit(&mut tx, actor, Some(a), "incoming.change_requested", "document", &inc.to_string(), detail).await?;
                                    }
                                }
                                None => {
                                    let payload = serde_json::json!({
                                        "business": req.kind.as_str(), "reason": reason, "document_id": id, "update": update,
                                        "replacement": replacement.as_ref().map(|(r, s)| serde_json::json!({ "document_id": r, "symbol": s })),
                                    });
                                    sqlx::query(
                                        "INSERT INTO outbox (id, kind, delivery_id, recipient_code, idempotency_key, payload, state, attempts, next_attempt_at, created_at) \
                                         VALUES ($1, 'edoc', $2, $3, $4, $5, 'queued', 0, $6, $6) ON CONFLICT (idempotency_key) DO NOTHING",
                                    )
                                    .bind(Uuid::now_v7())
                                    .bind(d.id)
                                    .bind(&d.recipient_code)
                                    // A revocation or replacement happens once; updates can repeat.
                                    .bind(match req.kind {
                                        ChangeKind::Update => format!("update:{id}:{}:{}", d.recipient_code, Uuid::now_v7()),
                                        k => format!("{}:{id}:{}", k.as_str(), d.recipient_code),
                                    })
                                    .bind(payload.to_string())
                                    .bind(at)
                                    .execute(&mut *tx)
                                    .await?;
                                }
                            }
                        }
                        let agencies: Vec<Uuid> = notices.iter().map(|(a, _)| *a).collect();
                        let clerks = users_with_role(&mut tx, &agencies, "clerk").await?;
                        let title = format!("{} văn bản: {}", req.kind.label_vi(), short(&doc.subject));
                        let items: Vec<_> = clerks
                            .into_iter()
                            .map(|n| {
                                let inc = notices.iter().find(|(a, _)| *a == n.agency_id).map(|(_, d)| *d);
                                (n, inc, title.clone())
                            })
                            .collect();
                        notify(&mut tx, &items, req.kind.as_str()).await?;
                        let detail = serde_json::json!({
                            "from": from.as_str(), "to": doc.state, "reason": reason, "kind": req.kind.as_str(),
                            "replacement": replacement.as_ref().map(|(r, _)| r.to_string()), "recipients": deliveries.len(),
                            "update": update,
                        });
                        write_audit(&mut tx, actor, Some(scope.agency_id()), &format!("document.{}", action.as_str()), "document", &id.to_string(), detail).await?;
                        tx.commit().await?;
                        Ok(doc)
                    })
                }

                async fn list_outbox(&self, state: Option<&str>, limit: i64) -> Result<Vec<OutboxRecord>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {OUTBOX_COLS} FROM outbox WHERE ($1 IS NULL OR state = $1) ORDER BY created_at, id LIMIT $2"
                    )))
                    .bind(state)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(outbox_from_row).collect()
                }

                async fn mark_outbox(&self, id: Uuid, sent: bool, error: Option<String>, next_attempt_at: DateTime<Utc>) -> Result<()> {
                    crate::sql::write_tx!(self, |tx| {
                        let state: String = sqlx::query_scalar("SELECT state FROM outbox WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?.ok_or(StoreError::NotFound)?;
                        if state == "sent" {
                            // Sent is final: a late failure report of an earlier attempt changes nothing.
                            tx.commit().await?;
                            return Ok(());
                        }
                        let at = now();
                        let error = clean_opt("error", error.as_deref(), 1000)?;
                        sqlx::query(
                            "UPDATE outbox SET state = $1, attempts = attempts + 1, last_error = $2, next_attempt_at = $3, sent_at = $4 WHERE id = $5",
                        )
                        .bind(if sent { "sent" } else { "queued" })
                        .bind(error.as_deref())
                        .bind(crate::audit::truncate_micros(next_attempt_at))
                        .bind(sent.then_some(at))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        write_audit(&mut tx, &Actor::system("exchange"), None, if sent { "outbox.sent" } else { "outbox.attempt_failed" }, "outbox", &id.to_string(), serde_json::json!({ "error": error })).await?;
                        tx.commit().await?;
                        Ok(())
                    })
                }

                async fn receive_incoming(&self, actor: &Actor, scope: &Scope, new: NewIncoming) -> Result<IncomingRecord> {
                    let key = clean("source_key", &new.source_key, 200)?;
                    let sender_code = clean("sender_code", &new.sender_code, 64)?;
                    let sender_name = clean("sender_name", &new.sender_name, 500)?;
                    let symbol = clean("symbol", &new.symbol, 100)?;
                    let subject = clean("subject", &new.draft.subject, 2000)?;
                    if key.is_empty() || sender_name.is_empty() || subject.is_empty() {
                        return Err(vanban_domain::DomainError::FieldRequired { field: if key.is_empty() { "source_key" } else if sender_name.is_empty() { "sender_name" } else { "subject" } }.into());
                    }
                    // A system arrival (the exchange worker) is owned by the scope's user: the agency's clerk.
                    let created_by = actor.user_id.unwrap_or(scope.user_id()).as_uuid();
                    crate::sql::write_tx!(self, |tx| {
                        let existing: Option<Uuid> = sqlx::query_scalar("SELECT document_id FROM incoming_items WHERE source_key = $1 AND agency_id = $2")
                            .bind(&key)
                            .bind(scope.agency_id().as_uuid())
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some(doc) = existing {
                            let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, DocumentId::from_uuid(doc)).await?;
                            tx.commit().await?;
                            return Ok(rec);
                        }
                        let id = Uuid::now_v7();
                        let draft = IncomingDraft { subject, ..new.draft.clone() };
                        let rows = [(id, scope.agency_id().as_uuid(), None, Some(key.clone()))];
                        let source = IncomingSource {
                            sender_code: &sender_code,
                            sender_name: &sender_name,
                            symbol: &symbol,
                            issued_on: new.issued_on,
                            pdf_sha256: new.pdf_sha256.as_deref(),
                            ocr_sha256: new.ocr_sha256.as_deref(),
                            scanned: new.scanned,
                        };
                        let at = now();
                        let mut w = crate::sql::Writes::<$Db>::new(COMBINE_WRITES);
                        w.push(&mut tx, |q| push_incoming_documents(q, created_by, &draft, &rows, at)).await?;
                        w.push(&mut tx, |q| push_incoming_items(q, &draft, &rows, &source, at)).await?;
                        w.flush(&mut tx).await?;
                        let detail = serde_json::json!({ "source_key": key, "sender_code": sender_code, "symbol": symbol, "scanned": new.scanned, "pdf_sha256": new.pdf_sha256 });
                        write_audit(&mut tx, actor, Some(scope.agency_id()), "incoming.receive", "document", &id.to_string(), detail).await?;
                        let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, DocumentId::from_uuid(id)).await?;
                        // Status 01 goes back at once for documents that came through a system.
                        if !new.scanned {
                            report_status(&mut tx, &rec, "01", None, Some("vanban")).await?;
                        }
                        tx.commit().await?;
                        Ok(rec)
                    })
                }

                async fn get_incoming(&self, scope: &Scope, vis: IncomingVisibility, id: DocumentId) -> Result<IncomingRecord> {
                    let mut tx = self.pool.begin().await?;
                    let rec = incoming_in_tx(&mut tx, scope, vis, id).await?;
                    tx.commit().await?;
                    Ok(rec)
                }

                async fn list_incoming(&self, scope: &Scope, vis: IncomingVisibility, filter: IncomingFilter) -> Result<Vec<IncomingRecord>> {
                    let mut tx = self.pool.begin().await?;
                    let mut q = QueryBuilder::<$Db>::new(INCOMING_SELECT);
                    q.push(" WHERE i.agency_id = ");
                    q.push_bind(scope.agency_id().as_uuid());
                    push_visibility(&mut q, vis);
                    if !filter.states.is_empty() {
                        q.push(" AND d.state IN (");
                        let mut sep = q.separated(", ");
                        for s in &filter.states {
                            sep.push_bind(s.as_str());
                        }
                        q.push(")");
                    }
                    if let Some(day) = filter.overdue_on {
                        q.push(" AND i.deadline < ");
                        q.push_bind(day);
                        q.push(" AND d.state IN ('registered', 'assigned', 'in_progress')");
                    }
                    // Arrival days are Vietnam days: UTC+7, so a day starts at 17:00 UTC the day before.
                    if let Some(from) = filter.arrived_from {
                        q.push(" AND i.arrived_at >= ");
                        q.push_bind(vn_day_start(from));
                    }
                    if let Some(to) = filter.arrived_to {
                        q.push(" AND i.arrived_at < ");
                        q.push_bind(vn_day_start(to + chrono::Duration::days(1)));
                    }
                    if let Some(from) = filter.registered_from {
                        q.push(" AND i.registered_at >= ");
                        q.push_bind(vn_day_start(from));
                    }
                    if let Some(to) = filter.registered_to {
                        q.push(" AND i.registered_at < ");
                        q.push_bind(vn_day_start(to + chrono::Duration::days(1)));
                    }
                    q.push(" ORDER BY i.priority DESC, i.arrived_at DESC, i.document_id DESC LIMIT ");
                    q.push_bind(if filter.limit > 0 { filter.limit } else { 200 });
                    if filter.offset > 0 {
                        q.push(" OFFSET ");
                        q.push_bind(filter.offset);
                    }
                    let rows = q.build().fetch_all(&mut *tx).await?;
                    let list = rows.iter().map(incoming_from_row).collect::<Result<Vec<_>>>()?;
                    let list = with_assignments(&mut tx, list).await?;
                    tx.commit().await?;
                    Ok(list)
                }

                async fn incoming_duplicates(&self, scope: &Scope, vis: IncomingVisibility, id: DocumentId) -> Result<Vec<IncomingRecord>> {
                    let mut tx = self.pool.begin().await?;
                    let me = incoming_in_tx(&mut tx, scope, vis, id).await?;
                    let mut q = QueryBuilder::<$Db>::new(INCOMING_SELECT);
                    q.push(" WHERE i.agency_id = ");
                    q.push_bind(scope.agency_id().as_uuid());
                    q.push(" AND i.document_id <> ");
                    q.push_bind(id.as_uuid());
                    q.push(" AND i.sender_code = ");
                    q.push_bind(me.sender_code.clone());
                    q.push(" AND i.symbol = ");
                    q.push_bind(me.symbol.clone());
                    push_visibility(&mut q, vis);
                    q.push(" AND d.state <> 'withdrawn' ORDER BY i.arrived_at");
                    let rows = q.build().fetch_all(&mut *tx).await?;
                    let list = rows.iter().map(incoming_from_row).collect::<Result<Vec<_>>>()?;
                    tx.commit().await?;
                    // The same number/symbol from the same issuer in another year is another document.
                    Ok(list.into_iter().filter(|d| d.issued_on.map(|x| x.year()) == me.issued_on.map(|x| x.year())).collect())
                }

                async fn register_incoming(&self, actor: &Actor, scope: &Scope, id: DocumentId, register: RegisterId, today: NaiveDate) -> Result<IncomingRecord> {
                    let year = today.year();
                    crate::sql::write_tx!(self, |tx| {
                        let item = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        let ok: Option<Uuid> = sqlx::query_scalar("SELECT id FROM registers WHERE id = $1 AND agency_id = $2 AND direction = 'incoming' AND active")
                            .bind(register.as_uuid())
                            .bind(scope.agency_id().as_uuid())
                            .fetch_optional(&mut *tx)
                            .await?;
                        if ok.is_none() {
                            return Err(StoreError::NotFound);
                        }
                        move_incoming(&mut tx, &item, IncomingAction::Register).await?;
                        let number: i64 = sqlx::query_scalar(
                            "INSERT INTO register_counters (register_id, year, last_number) VALUES ($1, $2, 1) \
                             ON CONFLICT (register_id, year) DO UPDATE SET last_number = register_counters.last_number + 1 RETURNING last_number",
                        )
                        .bind(register.as_uuid())
                        .bind(year)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE incoming_items SET register_id = $1, year = $2, arrival_number = $3, registered_at = $4, registered_by = $5 WHERE document_id = $6")
                            .bind(register.as_uuid())
                            .bind(year)
                            .bind(number)
                            .bind(now())
                            .bind(actor.user_id.map(|u| u.as_uuid()))
                            .bind(id.as_uuid())
                            .execute(&mut *tx)
                            .await?;
                        let name = actor_name(&mut tx, actor).await?;
                        report_status(&mut tx, &item, "03", Some(&format!("Số đến {number:02}")), name.as_deref()).await?;
                        let leaders = users_with_role(&mut tx, &[scope.agency_id().as_uuid()], "leader").await?;
                        let title = format!("Văn bản đến số {number:02} cần phân công: {} — {}", item.symbol, short(&item.document.subject));
                        let items: Vec<_> = leaders.into_iter().map(|n| (n, Some(id.as_uuid()), title.clone())).collect();
                        notify(&mut tx, &items, "registered").await?;
                        audit_incoming(&mut tx, actor, scope, &item, "incoming.register", serde_json::json!({ "register_id": register, "year": year, "arrival_number": number })).await?;
                        let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        tx.commit().await?;
                        Ok(rec)
                    })
                }

                async fn return_incoming(&self, actor: &Actor, scope: &Scope, id: DocumentId, reason: String) -> Result<IncomingRecord> {
                    let reason = clean("reason", &reason, 1000)?;
                    if reason.is_empty() {
                        return Err(vanban_domain::DomainError::FieldRequired { field: "reason" }.into());
                    }
                    crate::sql::write_tx!(self, |tx| {
                        let item = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        move_incoming(&mut tx, &item, IncomingAction::Return).await?;
                        sqlx::query("UPDATE incoming_items SET returned_reason = $1 WHERE document_id = $2").bind(&reason).bind(id.as_uuid()).execute(&mut *tx).await?;
                        let name = actor_name(&mut tx, actor).await?;
                        report_status(&mut tx, &item, "02", Some(&reason), name.as_deref()).await?;
                        audit_incoming(&mut tx, actor, scope, &item, "incoming.return", serde_json::json!({ "reason": reason })).await?;
                        let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        tx.commit().await?;
                        Ok(rec)
                    })
                }

                async fn assign_incoming(&self, actor: &Actor, scope: &Scope, id: DocumentId, req: AssignRequest) -> Result<IncomingRecord> {
                    let note = clean_opt("note", req.note.as_deref(), 2000)?;
                    crate::sql::write_tx!(self, |tx| {
                        let item = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        move_incoming(&mut tx, &item, IncomingAction::Assign).await?;
                        let mut people: Vec<(UserId, AssignmentRole)> = vec![(req.lead, AssignmentRole::Lead)];
                        for u in &req.co {
                            if !people.iter().any(|(p, _)| p == u) {
                                people.push((*u, AssignmentRole::Co));
                            }
                        }
                        for u in &req.info {
                            if !people.iter().any(|(p, _)| p == u) {
                                people.push((*u, AssignmentRole::Info));
                            }
                        }
                        for (u, _) in &people {
                            user_of_agency(&mut tx, scope, *u).await?;
                        }
                        // A new assignment replaces the previous one (re-assignment by the leader).
                        sqlx::query("DELETE FROM assignments WHERE document_id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
                        let at = now();
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO assignments (document_id, user_id, agency_id, role, deadline, note, assigned_by, assigned_at, active) ");
                        q.push_values(&people, |mut b, (u, role)| {
                            b.push_bind(id.as_uuid())
                                .push_bind(u.as_uuid())
                                .push_bind(scope.agency_id().as_uuid())
                                .push_bind(role.as_str())
                                .push_bind(req.deadline)
                                .push_bind(note.clone())
                                .push_bind(actor.user_id.map(|x| x.as_uuid()))
                                .push_bind(at)
                                .push_bind(true);
                        });
                        q.build().execute(&mut *tx).await?;
                        sqlx::query("UPDATE incoming_items SET deadline = $1 WHERE document_id = $2").bind(req.deadline).bind(id.as_uuid()).execute(&mut *tx).await?;
                        let name = actor_name(&mut tx, actor).await?;
                        // The leader's instruction stays in the agency: the sender learns who handles it.
                        report_status(&mut tx, &item, "04", None, name.as_deref()).await?;
                        let ids: Vec<Uuid> = people.iter().map(|(u, _)| u.as_uuid()).collect();
                        let users = users_by_id(&mut tx, &ids).await?;
                        let items: Vec<_> = users
                            .into_iter()
                            .map(|n| {
                                let role = people.iter().find(|(u, _)| u.as_uuid() == n.user_id).map_or(AssignmentRole::Info, |(_, r)| *r);
                                let due = req.deadline.map(|d| format!(", hạn {}", d.format("%d/%m/%Y"))).unwrap_or_default();
                                (n, Some(id.as_uuid()), format!("{}: {} — {}{due}", role.label_vi(), item.symbol, short(&item.document.subject)))
                            })
                            .collect();
                        notify(&mut tx, &items, "assigned").await?;
                        let detail = serde_json::json!({
                            "lead": req.lead, "co": req.co, "info": req.info, "deadline": req.deadline, "note": note,
                        });
                        audit_incoming(&mut tx, actor, scope, &item, "incoming.assign", detail).await?;
                        let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        tx.commit().await?;
                        Ok(rec)
                    })
                }

                async fn handle_incoming(&self, actor: &Actor, scope: &Scope, id: DocumentId, step: HandleStep) -> Result<IncomingRecord> {
                    let me = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "user" })?;
                    crate::sql::write_tx!(self, |tx| {
                        let item = incoming_in_tx(&mut tx, scope, IncomingVisibility::User(me), id).await?;
                        let mine = item.assignments.iter().find(|a| a.active && a.user_id == me).map(|a| a.role);
                        let is_lead = lead_of(&item) == Some(me);
                        let name = actor_name(&mut tx, actor).await?;
                        match step {
                            HandleStep::Start => {
                                if !matches!(mine, Some(AssignmentRole::Lead | AssignmentRole::Co)) {
                                    return Err(StoreError::Conflict { code: "not_a_handler" });
                                }
                                if item.state == IncomingState::InProgress {
                                    tx.commit().await?;
                                    return self.get_incoming(scope, IncomingVisibility::User(me), id).await;
                                }
                                move_incoming(&mut tx, &item, IncomingAction::StartWork).await?;
                                report_status(&mut tx, &item, "05", None, name.as_deref()).await?;
                                audit_incoming(&mut tx, actor, scope, &item, "incoming.start_work", serde_json::json!({})).await?;
                            }
                            HandleStep::Forward { to, note } => {
                                if !is_lead {
                                    return Err(StoreError::Conflict { code: "not_the_lead_handler" });
                                }
                                if to == me {
                                    return Err(vanban_domain::DomainError::InvalidValue { field: "to", reason: "forwarding to oneself" }.into());
                                }
                                let note = clean_opt("note", note.as_deref(), 2000)?;
                                user_of_agency(&mut tx, scope, to).await?;
                                move_incoming(&mut tx, &item, IncomingAction::Forward).await?;
                                let deadline = item.deadline;
                                sqlx::query("UPDATE assignments SET role = 'co' WHERE document_id = $1 AND user_id = $2").bind(id.as_uuid()).bind(me.as_uuid()).execute(&mut *tx).await?;
                                sqlx::query("DELETE FROM assignments WHERE document_id = $1 AND user_id = $2").bind(id.as_uuid()).bind(to.as_uuid()).execute(&mut *tx).await?;
                                sqlx::query(
                                    "INSERT INTO assignments (document_id, user_id, agency_id, role, deadline, note, assigned_by, assigned_at, active) VALUES ($1, $2, $3, 'lead', $4, $5, $6, $7, TRUE)",
                                )
                                .bind(id.as_uuid())
                                .bind(to.as_uuid())
                                .bind(scope.agency_id().as_uuid())
                                .bind(deadline)
                                .bind(note.as_deref())
                                .bind(me.as_uuid())
                                .bind(now())
                                .execute(&mut *tx)
                                .await?;
                                let users = users_by_id(&mut tx, &[to.as_uuid()]).await?;
                                let title = format!("Được chuyển xử lý chính: {} — {}", item.symbol, short(&item.document.subject));
                                let items: Vec<_> = users.into_iter().map(|n| (n, Some(id.as_uuid()), title.clone())).collect();
                                notify(&mut tx, &items, "forwarded").await?;
                                // An internal hand-over: its note is for the new handler, not the sender.
                                report_status(&mut tx, &item, "05", None, name.as_deref()).await?;
                                audit_incoming(&mut tx, actor, scope, &item, "incoming.forward", serde_json::json!({ "to": to, "note": note })).await?;
                            }
                            HandleStep::Finish { note, response } => {
                                if !is_lead {
                                    return Err(StoreError::Conflict { code: "not_the_lead_handler" });
                                }
                                let note = clean_opt("note", note.as_deref(), 2000)?;
                                if let Some(r) = response {
                                    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM documents WHERE id = $1 AND agency_id = $2 AND direction = 'outgoing'")
                                        .bind(r.as_uuid())
                                        .bind(scope.agency_id().as_uuid())
                                        .fetch_optional(&mut *tx)
                                        .await?;
                                    if found.is_none() {
                                        return Err(StoreError::NotFound);
                                    }
                                }
                                move_incoming(&mut tx, &item, IncomingAction::Finish).await?;
                                sqlx::query("UPDATE incoming_items SET done_at = $1, result_note = $2, response_document_id = $3 WHERE document_id = $4")
                                    .bind(now())
                                    .bind(note.as_deref())
                                    .bind(response.map(|r| r.as_uuid()))
                                    .bind(id.as_uuid())
                                    .execute(&mut *tx)
                                    .await?;
                                sqlx::query("UPDATE assignments SET active = FALSE WHERE document_id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
                                report_status(&mut tx, &item, "06", note.as_deref(), name.as_deref()).await?;
                                audit_incoming(&mut tx, actor, scope, &item, "incoming.finish", serde_json::json!({ "note": note, "response": response })).await?;
                            }
                        }
                        let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        tx.commit().await?;
                        Ok(rec)
                    })
                }

                async fn answer_change(&self, actor: &Actor, scope: &Scope, id: DocumentId, accept: bool, note: Option<String>) -> Result<IncomingRecord> {
                    let note = clean_opt("note", note.as_deref(), 1000)?;
                    crate::sql::write_tx!(self, |tx| {
                        let item = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        if item.change_state.as_deref() != Some("pending") {
                            return Err(StoreError::Conflict { code: "no_pending_change" });
                        }
                        let before: Option<String> = sqlx::query_scalar("SELECT state_before FROM incoming_items WHERE document_id = $1").bind(id.as_uuid()).fetch_one(&mut *tx).await?;
                        sqlx::query("UPDATE incoming_items SET change_state = $1 WHERE document_id = $2")
                            .bind(if accept { "accepted" } else { "refused" })
                            .bind(id.as_uuid())
                            .execute(&mut *tx)
                            .await?;
                        if !accept && let Some(state) = before {
                            // Refused: the copy comes back as it was.
                            sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3").bind(state).bind(now()).bind(id.as_uuid()).execute(&mut *tx).await?;
                        }
                        if accept && item.change_kind.is_some_and(|k| k.withdraws()) {
                            // Revoked or replaced: nobody works on the copy any more.
                            sqlx::query("UPDATE assignments SET active = FALSE WHERE document_id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
                        }
                        if accept && let Some(u) = &item.change_update {
                            // An update corrects the copy's metadata; its handling goes on.
                            let (mut subject, mut metadata) = (item.document.subject.clone(), item.document.metadata.clone());
                            u.apply(&mut subject, &mut metadata);
                            write_correction(&mut tx, id, &subject, &metadata).await?;
                            if let Some(p) = u.priority {
                                sqlx::query("UPDATE incoming_items SET priority = $1 WHERE document_id = $2")
                                    .bind(i32::from(p.code()))
                                    .bind(id.as_uuid())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                        let name = actor_name(&mut tx, actor).await?;
                        report_status(&mut tx, &item, if accept { "15" } else { "16" }, note.as_deref(), name.as_deref()).await?;
                        audit_incoming(&mut tx, actor, scope, &item, if accept { "incoming.change_accepted" } else { "incoming.change_refused" }, serde_json::json!({ "kind": item.change_kind, "note": note, "update": item.change_update })).await?;
                        let rec = incoming_in_tx(&mut tx, scope, IncomingVisibility::All, id).await?;
                        tx.commit().await?;
                        Ok(rec)
                    })
                }

                async fn list_notifications(&self, scope: &Scope, unread_only: bool, limit: i64) -> Result<Vec<NotificationRecord>> {
                    let rows = sqlx::query(
                        "SELECT id, user_id, kind, document_id, title, created_at, read_at, email_state FROM notifications \
                         WHERE user_id = $1 AND agency_id = $2 AND ($3 = FALSE OR read_at IS NULL) ORDER BY created_at DESC, id DESC LIMIT $4",
                    )
                    .bind(scope.user_id().as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .bind(unread_only)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(notification_from_row).collect()
                }

                async fn mark_notifications_read(&self, scope: &Scope, ids: Option<Vec<Uuid>>) -> Result<u64> {
                    let mut q = QueryBuilder::<$Db>::new("UPDATE notifications SET read_at = ");
                    q.push_bind(now());
                    q.push(" WHERE read_at IS NULL AND user_id = ");
                    q.push_bind(scope.user_id().as_uuid());
                    if let Some(ids) = ids {
                        if ids.is_empty() {
                            return Ok(0);
                        }
                        q.push(" AND id IN (");
                        let mut sep = q.separated(", ");
                        for id in ids {
                            sep.push_bind(id);
                        }
                        q.push(")");
                    }
                    Ok(q.build().execute(self.write_pool()).await?.rows_affected())
                }

                async fn create_reminders(&self, today: NaiveDate, remind_days: i64) -> Result<u64> {
                    crate::sql::write_tx!(self, |tx| {
                        let rows = sqlx::query(
                            "SELECT a.document_id, a.user_id, a.agency_id, a.role, i.deadline, i.symbol, d.subject, u.email FROM assignments a \
                             JOIN incoming_items i ON i.document_id = a.document_id JOIN documents d ON d.id = a.document_id JOIN users u ON u.id = a.user_id \
                             WHERE a.active AND a.role IN ('lead', 'co') AND u.active AND i.deadline IS NOT NULL AND i.deadline <= $1 \
                             AND d.state IN ('assigned', 'in_progress')",
                        )
                        .bind(today + chrono::Duration::days(remind_days))
                        .fetch_all(&mut *tx)
                        .await?;
                        let at = now();
                        let mut made = 0;
                        for r in &rows {
                            let deadline: NaiveDate = r.try_get("deadline")?;
                            let state = vanban_domain::DeadlineState::of(Some(deadline), today, remind_days);
                            let doc: Uuid = r.try_get("document_id")?;
                            let user: Uuid = r.try_get("user_id")?;
                            let symbol: String = r.try_get("symbol")?;
                            let subject: String = r.try_get("subject")?;
                            let has_email = r.try_get::<Option<String>, _>("email")?.is_some_and(|e| !e.is_empty());
                            let title = format!("{}: {symbol} — {} (hạn {})", state.label_vi(), short(&subject), deadline.format("%d/%m/%Y"));
                            made += sqlx::query(
                                "INSERT INTO notifications (id, user_id, agency_id, kind, document_id, title, created_at, email_state, dedupe_key) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
                            )
                            .bind(Uuid::now_v7())
                            .bind(user)
                            .bind(r.try_get::<Uuid, _>("agency_id")?)
                            .bind(format!("reminder_{}", state.as_str()))
                            .bind(doc)
                            .bind(title)
                            .bind(at)
                            .bind(if has_email { "pending" } else { "none" })
                            .bind(format!("remind:{doc}:{user}:{}:{deadline}", state.as_str()))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        }
                        tx.commit().await?;
                        Ok(made)
                    })
                }

                async fn pending_emails(&self, limit: i64) -> Result<Vec<PendingEmail>> {
                    let rows = sqlx::query(
                        "SELECT n.id, n.user_id, n.kind, n.document_id, n.title, n.created_at, n.read_at, n.email_state, n.email_attempts, u.email, u.full_name \
                         FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.email_state = 'pending' ORDER BY n.created_at LIMIT $1",
                    )
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(pending_email_from_row).collect()
                }

                async fn claim_emails(&self, limit: i64, now_: DateTime<Utc>) -> Result<Vec<PendingEmail>> {
                    let at = crate::audit::truncate_micros(now_);
                    crate::sql::write_tx!(self, |tx| {
                        let ids: Vec<Uuid> = sqlx::query_scalar(
                            "SELECT id FROM notifications WHERE email_state = 'pending' OR (email_state = 'sending' AND email_claimed_at < $1) \
                             ORDER BY created_at LIMIT $2",
                        )
                        .bind(at - chrono::Duration::minutes(2))
                        .bind(limit)
                        .fetch_all(&mut *tx)
                        .await?;
                        if ids.is_empty() {
                            tx.commit().await?;
                            return Ok(Vec::new());
                        }
                        let mut q = QueryBuilder::<$Db>::new("UPDATE notifications SET email_state = 'sending', email_claimed_at = ");
                        q.push_bind(at);
                        q.push(" WHERE id IN (");
                        let mut sep = q.separated(", ");
                        for id in &ids {
                            sep.push_bind(*id);
                        }
                        q.push(")");
                        q.build().execute(&mut *tx).await?;
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT n.id, n.user_id, n.kind, n.document_id, n.title, n.created_at, n.read_at, n.email_state, n.email_attempts, u.email, u.full_name \
                             FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.id IN (",
                        );
                        let mut sep = q.separated(", ");
                        for id in &ids {
                            sep.push_bind(*id);
                        }
                        q.push(") ORDER BY n.created_at");
                        let rows = q.build().fetch_all(&mut *tx).await?;
                        tx.commit().await?;
                        rows.iter().map(pending_email_from_row).collect()
                    })
                }

                async fn release_emails(&self, ids: Vec<Uuid>) -> Result<()> {
                    if ids.is_empty() {
                        return Ok(());
                    }
                    let mut q = QueryBuilder::<$Db>::new("UPDATE notifications SET email_state = 'pending', email_claimed_at = NULL WHERE email_state = 'sending' AND id IN (");
                    let mut sep = q.separated(", ");
                    for id in &ids {
                        sep.push_bind(*id);
                    }
                    q.push(")");
                    q.build().execute(self.write_pool()).await?;
                    Ok(())
                }

                async fn mark_email(&self, id: Uuid, sent: bool, error: Option<String>, give_up: bool) -> Result<()> {
                    let state = if sent { "sent" } else if give_up { "failed" } else { "pending" };
                    let error = clean_opt("error", error.as_deref(), 1000)?;
                    sqlx::query("UPDATE notifications SET email_state = $1, email_attempts = email_attempts + 1, email_error = $2 WHERE id = $3 AND email_state IN ('pending', 'sending')")
                        .bind(state)
                        .bind(error)
                        .bind(id)
                        .execute(self.write_pool())
                        .await?;
                    Ok(())
                }
            }

            fn pending_email_from_row(r: &$Row) -> Result<PendingEmail> {
                Ok(PendingEmail {
                    notification: notification_from_row(r)?,
                    email: r.try_get::<Option<String>, _>("email")?.unwrap_or_default(),
                    full_name: r.try_get("full_name")?,
                    attempts: r.try_get("email_attempts")?,
                })
            }

            fn notification_from_row(r: &$Row) -> Result<NotificationRecord> {
                Ok(NotificationRecord {
                    id: r.try_get("id")?,
                    user_id: UserId::from_uuid(r.try_get("user_id")?),
                    kind: r.try_get("kind")?,
                    document_id: r.try_get::<Option<Uuid>, _>("document_id")?.map(DocumentId::from_uuid),
                    title: r.try_get("title")?,
                    created_at: r.try_get("created_at")?,
                    read_at: r.try_get("read_at")?,
                    email_state: r.try_get("email_state")?,
                })
            }

            /// The first 80 characters of a subject, for notification titles.
            fn short(s: &str) -> String {
                let mut out: String = s.chars().take(80).collect();
                if s.chars().nth(80).is_some() {
                    out.push('…');
                }
                out
            }

            /// 00:00 of a Vietnam calendar day, as an instant.
            fn vn_day_start(day: NaiveDate) -> DateTime<Utc> {
                day.and_hms_opt(0, 0, 0).map_or_else(Utc::now, |t| t.and_utc() - chrono::Duration::hours(7))
            }

            crate::sql_exchange::impl_exchange!($Store, $Db, $Row);
        }
    };
}

pub(crate) use impl_issuing;
