//! The SQL both backends share, written once as a macro that each backend module expands
//! for its own concrete sqlx types. The SQL is portable (`$N` placeholders work on SQLite and
//! PostgreSQL alike); what differs per backend lives in the backend module:
//!
//! - `begin_write(pool)`: how a write transaction starts. Writes are serialised from their
//!   first statement (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `BEGIN` plus the audit-chain
//!   advisory lock), so a write's reads cannot go stale before its update and no two writers
//!   wait on each other's locks;
//! - `lock_audit_chain(tx)`: how appends to the audit chain are serialised (SQLite: the write
//!   transaction already is; PostgreSQL: the transaction-level advisory lock, already held);
//! - `COMBINE_WRITES`: whether [`Writes`] sends its statements as one (PostgreSQL) or one by
//!   one (SQLite);
//! - the migrations folder.
//!
//! Every method that changes state writes its audit event in the same transaction.

use sha2::Digest as _;
use vanban_domain::DomainError;

// Reasons worded exactly as the domain's own (its `reason` table, not exported), so that
// `DomainError::message_vi` translates them.
pub(crate) const EMPTY_PERIOD: &str = "valid_from must be before valid_until";
pub(crate) const OUT_OF_RANGE: &str = "out of range";
pub(crate) const MUST_BE_POSITIVE: &str = "must be at least 1";

/// Writes of one transaction that answer nothing (INSERTs and UPDATEs without RETURNING),
/// gathered to be sent together. On PostgreSQL they become one statement of data-modifying
/// CTEs (`WITH w0 AS (UPDATE …), w1 AS (INSERT …) SELECT 1`): one round trip instead of one
/// each, and the round trips of the serial writer are what bounds PostgreSQL's write rate.
/// Foreign keys are checked at the end of that statement, so a row may refer to one an
/// earlier part inserts. No two parts may change the same row, and no part sees another's
/// rows: the reads a write depends on come before. On SQLite, where a statement costs no
/// round trip, each part runs as it is pushed.
pub(crate) struct Writes<DB: sqlx::Database> {
    combined: Option<sqlx::QueryBuilder<DB>>,
    combine: bool,
    parts: usize,
}

impl<DB: sqlx::Database> Writes<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: Default + sqlx::IntoArguments<DB>,
{
    pub(crate) fn new(combine: bool) -> Self {
        Writes { combined: None, combine, parts: 0 }
    }

    /// Adds one statement, which `build` writes into an empty builder.
    pub(crate) async fn push(
        &mut self,
        conn: &mut DB::Connection,
        build: impl FnOnce(&mut sqlx::QueryBuilder<DB>),
    ) -> crate::Result<()> {
        if self.combine {
            let q = self.combined.get_or_insert_with(|| sqlx::QueryBuilder::new("WITH "));
            if self.parts > 0 {
                q.push(", ");
            }
            q.push(format_args!("w{} AS (", self.parts));
            build(q);
            q.push(")");
            self.parts += 1;
        } else {
            let mut q = sqlx::QueryBuilder::new("");
            build(&mut q);
            q.build().execute(conn).await?;
        }
        Ok(())
    }

    /// Sends what is gathered followed by one last statement, which `build` writes, and
    /// returns that statement's row (its RETURNING): on PostgreSQL all in one round trip.
    pub(crate) async fn fetch_optional(
        self,
        conn: &mut DB::Connection,
        build: impl FnOnce(&mut sqlx::QueryBuilder<DB>),
    ) -> crate::Result<Option<DB::Row>> {
        let mut q = match self.combined {
            Some(mut q) => {
                q.push(" ");
                q
            }
            None => sqlx::QueryBuilder::new(""),
        };
        build(&mut q);
        Ok(q.build().fetch_optional(conn).await?)
    }

    /// Sends what is gathered (nothing on SQLite: it was sent as pushed).
    pub(crate) async fn flush(self, conn: &mut DB::Connection) -> crate::Result<()> {
        if let Some(mut q) = self.combined {
            q.push(" SELECT 1");
            q.build().execute(conn).await?;
        }
        Ok(())
    }
}

/// Lower-case hexadecimal of `s` (trimmed), at most `max` digits, or `InvalidValue`.
pub(crate) fn hex_text(field: &'static str, s: &str, max: usize) -> crate::Result<String> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DomainError::InvalidValue { field, reason: "expected hexadecimal digits" }.into());
    }
    Ok(s)
}

/// A SHA-256 digest in lower-case hexadecimal (a blob's address), or `InvalidValue`.
pub(crate) fn sha256_hex(field: &'static str, s: &str) -> crate::Result<String> {
    let s = hex_text(field, s, 64)?;
    if s.len() != 64 {
        return Err(
            DomainError::InvalidValue { field, reason: "expected a SHA-256 digest (64 hexadecimal digits)" }.into()
        );
    }
    Ok(s)
}

/// SHA-256 of `bytes`, lower-case hex.
pub(crate) fn sha256_of(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `Ok` when `der` is exactly one DER value of a certificate's shape (a SEQUENCE).
pub(crate) fn one_der(field: &'static str, der: &[u8]) -> crate::Result<()> {
    match crate::model::split_der(der) {
        Some(v) if v.len() == 1 => Ok(()),
        _ => Err(DomainError::InvalidValue { field, reason: "expected one DER certificate" }.into()),
    }
}

/// Runs `$body` as one write transaction `$tx` (see `group.rs`), the body of a store method.
///
/// Whatever the body returns is returned only once the batch it ran in has ended. A body
/// that commits already waited for that; one that ends without committing (an error, or an
/// answer read in the transaction, like "this row exists") may have seen what other members
/// of the open batch wrote and not yet committed, so its caller must not be told before
/// that is visible to every connection: otherwise "already exists" followed by a read could
/// find nothing.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let tx = begin_write($store).await?;
        let settled = tx.settled();
        let out: Result<_> = async move {
            #[allow(unused_mut)]
            let mut $tx = tx;
            $body
        }
        .await;
        settled.await;
        out
    }};
}

pub(crate) use write_tx;

macro_rules! impl_sql_store {
    ($Store:ident, $Db:ty, $Row:ty) => {
        use std::collections::{BTreeSet, HashMap};
        use std::str::FromStr;

        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use futures::TryStreamExt as _;
        use sqlx::Row as _;
        use uuid::Uuid;
        use vanban_domain::{
            Abbreviation, Agency, AgencyCode, AgencyId, AgencyLevel, AgencyName, Caller, Delegation,
            DelegationId, DocumentId, DocumentType, Email, FullName, OutgoingAction, OutgoingState, Position,
            Role, SigningAuthority, Unit, UnitId, User, UserId, Username,
        };

        use crate::audit;
        use crate::model::*;
        use crate::repo::*;
        use crate::{Result, StoreError};

        /// A write transaction (see `begin_write` of each backend and `group.rs`).
        type Tx = crate::group::WriteTx<$Db>;
        /// A connection, in a transaction or not (read helpers take either).
        type Conn = <$Db as sqlx::Database>::Connection;

        fn now() -> DateTime<Utc> {
            audit::truncate_micros(Utc::now())
        }

        fn parse<T, E: std::fmt::Display>(table: &'static str, r: std::result::Result<T, E>) -> Result<T> {
            r.map_err(|e| StoreError::corrupt(table, e))
        }

        const AGENCY_COLS: &str = "id, parent_id, path, code, name, parent_name, abbreviation, level, place, created_at";

        fn agency_from_row(r: &$Row) -> Result<AgencyRecord> {
            let t = "agencies";
            let parent_name: Option<String> = r.try_get("parent_name")?;
            Ok(AgencyRecord {
                agency: Agency {
                    id: AgencyId::from_uuid(r.try_get("id")?),
                    parent_id: r.try_get::<Option<Uuid>, _>("parent_id")?.map(AgencyId::from_uuid),
                    code: parse(t, AgencyCode::parse(&r.try_get::<String, _>("code")?))?,
                    name: parse(t, AgencyName::parse(&r.try_get::<String, _>("name")?))?,
                    parent_name: parent_name.map(|n| parse(t, AgencyName::parse(&n))).transpose()?,
                    abbreviation: parse(t, Abbreviation::parse(&r.try_get::<String, _>("abbreviation")?))?,
                    level: parse(t, AgencyLevel::from_str(&r.try_get::<String, _>("level")?))?,
                    place: r.try_get("place")?,
                },
                path: r.try_get("path")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn unit_from_row(r: &$Row) -> Result<Unit> {
            Ok(Unit {
                id: UnitId::from_uuid(r.try_get("id")?),
                agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                parent_id: r.try_get::<Option<Uuid>, _>("parent_id")?.map(UnitId::from_uuid),
                name: r.try_get("name")?,
                abbreviation: parse("units", Abbreviation::parse(&r.try_get::<String, _>("abbreviation")?))?,
            })
        }

        const USER_COLS: &str = "u.id, u.agency_id, u.unit_id, u.username, u.full_name, u.email, u.position, u.active, u.created_at";

        fn user_from_row(r: &$Row, roles: BTreeSet<Role>) -> Result<UserRecord> {
            let t = "users";
            let email: Option<String> = r.try_get("email")?;
            let position: Option<String> = r.try_get("position")?;
            Ok(UserRecord {
                user: User {
                    id: UserId::from_uuid(r.try_get("id")?),
                    agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                    unit_id: r.try_get::<Option<Uuid>, _>("unit_id")?.map(UnitId::from_uuid),
                    username: parse(t, Username::parse(&r.try_get::<String, _>("username")?))?,
                    full_name: parse(t, FullName::parse(&r.try_get::<String, _>("full_name")?))?,
                    email: email.map(|e| parse(t, Email::parse(&e))).transpose()?,
                    position: position.map(|p| parse(t, Position::parse(&p))).transpose()?,
                    active: r.try_get("active")?,
                },
                roles,
                created_at: r.try_get("created_at")?,
            })
        }

        fn login_from_row(r: &$Row) -> Result<LoginRecord> {
            Ok(LoginRecord {
                user_id: UserId::from_uuid(r.try_get("id")?),
                agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                password_hash: r.try_get("password_hash")?,
                active: r.try_get("active")?,
                failed_logins: r.try_get("failed_logins")?,
                locked_until: r.try_get("locked_until")?,
            })
        }

        const DOC_COLS: &str = "id, agency_id, direction, state, doc_type, subject, metadata, created_by, created_at, updated_at";

        fn document_from_row(r: &$Row) -> Result<DocumentRecord> {
            let t = "documents";
            let direction = match r.try_get::<String, _>("direction")?.as_str() {
                "outgoing" => Direction::Outgoing,
                "incoming" => Direction::Incoming,
                other => return Err(StoreError::corrupt(t, format!("direction {other}"))),
            };
            Ok(DocumentRecord {
                id: DocumentId::from_uuid(r.try_get("id")?),
                agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                direction,
                state: r.try_get("state")?,
                doc_type: parse(t, DocumentType::from_str(&r.try_get::<String, _>("doc_type")?))?,
                subject: r.try_get("subject")?,
                metadata: parse(t, serde_json::from_str(&r.try_get::<String, _>("metadata")?))?,
                created_by: UserId::from_uuid(r.try_get("created_by")?),
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn audit_from_row(r: &$Row) -> Result<AuditEvent> {
            let uid = |c: &str| -> Result<Option<Uuid>> { Ok(r.try_get::<Option<Uuid>, _>(c)?) };
            Ok(AuditEvent {
                seq: r.try_get("seq")?,
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor_username: r.try_get("actor_username")?,
                actor_user_id: uid("actor_user_id")?.map(UserId::from_uuid),
                actor_agency_id: uid("actor_agency_id")?.map(AgencyId::from_uuid),
                on_behalf_of: uid("on_behalf_of")?.map(UserId::from_uuid),
                agency_id: uid("agency_id")?.map(AgencyId::from_uuid),
                action: r.try_get("action")?,
                object_type: r.try_get("object_type")?,
                object_id: r.try_get("object_id")?,
                detail: parse("audit_events", serde_json::from_str(&r.try_get::<String, _>("detail")?))?,
                from: r.try_get("ip")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        }

        /// Appends one event to the hash chain inside the caller's transaction.
        async fn write_audit(
            tx: &mut Tx,
            actor: &Actor,
            agency_id: Option<AgencyId>,
            action: &str,
            object_type: &str,
            object_id: &str,
            detail: serde_json::Value,
        ) -> Result<()> {
            let mut w = crate::sql::Writes::<$Db>::new(false);
            audit_into(&mut w, tx, actor, agency_id, action, object_type, object_id, detail).await
        }

        /// [`write_audit`], its INSERT added to `w` (sent with the writes gathered there).
        #[allow(clippy::too_many_arguments)]
        async fn audit_into(
            w: &mut crate::sql::Writes<$Db>,
            tx: &mut Tx,
            actor: &Actor,
            agency_id: Option<AgencyId>,
            action: &str,
            object_type: &str,
            object_id: &str,
            detail: serde_json::Value,
        ) -> Result<()> {
            lock_audit_chain(tx).await?;
            // The batch knows the chain's tail once one of its writers has read or appended it.
            let prev = match tx.audit_tail() {
                Some(tail) => tail.to_owned(),
                None => sqlx::query_scalar("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut **tx)
                    .await?
                    .unwrap_or_else(|| audit::GENESIS.to_owned()),
            };
            let id = Uuid::now_v7();
            let at = now();
            let detail = detail.to_string();
            let input = audit::HashInput {
                prev_hash: &prev,
                id,
                at,
                actor_user_id: actor.user_id.map(|u| u.as_uuid()),
                actor_agency_id: actor.agency_id.map(|a| a.as_uuid()),
                on_behalf_of: actor.on_behalf_of.map(|u| u.as_uuid()),
                agency_id: agency_id.map(|a| a.as_uuid()),
                action,
                object_type,
                object_id,
                detail: &detail,
                from: actor.from.as_deref(),
            };
            let hash = audit::event_hash(&input);
            w.push(tx, |q| {
                q.push("INSERT INTO audit_events (id, at, actor_user_id, actor_agency_id, on_behalf_of, agency_id, action, object_type, object_id, detail, ip, prev_hash, hash) VALUES (");
                let mut v = q.separated(", ");
                v.push_bind(id)
                    .push_bind(at)
                    .push_bind(input.actor_user_id)
                    .push_bind(input.actor_agency_id)
                    .push_bind(input.on_behalf_of)
                    .push_bind(input.agency_id)
                    .push_bind(action.to_owned())
                    .push_bind(object_type.to_owned())
                    .push_bind(object_id.to_owned())
                    .push_bind(detail.clone())
                    .push_bind(actor.from.clone())
                    .push_bind(prev.clone())
                    .push_bind(hash.clone());
                q.push(")");
            })
            .await?;
            tx.set_audit_tail(hash);
            Ok(())
        }

        async fn agency_in_tx(tx: &mut Tx, id: AgencyId) -> Result<AgencyRecord> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = $1")))
                .bind(id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            agency_from_row(&row)
        }

        /// Inserts an agency after the domain's hierarchy checks; the caller commits.
        async fn insert_agency(tx: &mut Tx, actor: &Actor, new: NewAgency) -> Result<AgencyRecord> {
            let agency = Agency {
                id: AgencyId::from_uuid(Uuid::now_v7()),
                parent_id: new.parent_id,
                code: new.code,
                name: new.name,
                parent_name: new.parent_name,
                abbreviation: new.abbreviation,
                level: new.level,
                place: new.place,
            }
            .validate()?;
            let id = agency.id;
            let parent_path = match agency.parent_id {
                Some(pid) => {
                    let parent = agency_in_tx(tx, pid).await?;
                    vanban_domain::validate_child(&parent.agency, agency.level, &agency.code)?;
                    parent.path
                }
                None => "/".to_owned(),
            };
            let path = format!("{parent_path}{id}/");
            let created_at = now();
            sqlx::query(
                "INSERT INTO agencies (id, parent_id, path, code, name, parent_name, abbreviation, level, place, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id.as_uuid())
            .bind(agency.parent_id.map(|p| p.as_uuid()))
            .bind(&path)
            .bind(agency.code.as_str())
            .bind(agency.name.as_str())
            .bind(agency.parent_name.as_ref().map(|n| n.as_str()))
            .bind(agency.abbreviation.as_str())
            .bind(agency.level.as_str())
            .bind(&agency.place)
            .bind(created_at)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::unique_as("duplicate_agency_code"))?;
            let detail = serde_json::json!({ "code": agency.code.as_str(), "name": agency.name.as_str(), "level": agency.level.as_str() });
            write_audit(tx, actor, Some(id), "agency.create", "agency", &id.to_string(), detail).await?;
            Ok(AgencyRecord { agency, path, created_at })
        }

        async fn roles_in_tx(tx: &mut Conn, user_id: UserId, agency_id: AgencyId) -> Result<BTreeSet<Role>> {
            let rows: Vec<String> = sqlx::query_scalar("SELECT role FROM role_grants WHERE user_id = $1 AND agency_id = $2")
                .bind(user_id.as_uuid())
                .bind(agency_id.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
            rows.iter().map(|r| parse("role_grants", Role::from_str(r))).collect()
        }

        async fn insert_roles(tx: &mut Tx, user_id: UserId, agency_id: AgencyId, roles: &BTreeSet<Role>) -> Result<()> {
            for role in roles {
                sqlx::query("INSERT INTO role_grants (user_id, agency_id, role) VALUES ($1, $2, $3)")
                    .bind(user_id.as_uuid())
                    .bind(agency_id.as_uuid())
                    .bind(role.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        async fn insert_user(tx: &mut Tx, actor: &Actor, new: NewUser) -> Result<UserRecord> {
            if let Some(unit) = new.unit_id {
                let owner: Option<Uuid> = sqlx::query_scalar("SELECT agency_id FROM units WHERE id = $1")
                    .bind(unit.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                if owner != Some(new.agency_id.as_uuid()) {
                    return Err(vanban_domain::DomainError::InvalidValue { field: "unit_id", reason: "unit is not in the user's agency" }.into());
                }
            }
            let id = UserId::from_uuid(Uuid::now_v7());
            let created_at = now();
            sqlx::query(
                "INSERT INTO users (id, agency_id, unit_id, username, full_name, email, position, password_hash, active, failed_logins, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10)",
            )
            .bind(id.as_uuid())
            .bind(new.agency_id.as_uuid())
            .bind(new.unit_id.map(|u| u.as_uuid()))
            .bind(new.username.as_str())
            .bind(new.full_name.as_str())
            .bind(new.email.as_ref().map(|e| e.as_str()))
            .bind(new.position.as_ref().map(|p| p.as_str()))
            .bind(&new.password_hash)
            .bind(true)
            .bind(created_at)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::unique_as("duplicate_username"))?;
            insert_roles(tx, id, new.agency_id, &new.roles).await?;
            let roles: Vec<&str> = new.roles.iter().map(|r| r.as_str()).collect();
            let detail = serde_json::json!({ "username": new.username.as_str(), "roles": roles });
            write_audit(tx, actor, Some(new.agency_id), "user.create", "user", &id.to_string(), detail).await?;
            Ok(UserRecord {
                user: User {
                    id,
                    agency_id: new.agency_id,
                    unit_id: new.unit_id,
                    username: new.username,
                    full_name: new.full_name,
                    email: new.email,
                    position: new.position,
                    active: true,
                },
                roles: new.roles,
                created_at,
            })
        }

        async fn agency_path(tx: &mut Conn, id: AgencyId) -> Result<String> {
            sqlx::query_scalar("SELECT path FROM agencies WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)
        }

        /// Fails with `NotFound` unless the agency is within the administrator's reach.
        async fn check_reach(tx: &mut Conn, scope: &AdminScope, agency_id: AgencyId) -> Result<()> {
            let path = agency_path(tx, agency_id).await?;
            if scope.covers_path(&path) { Ok(()) } else { Err(StoreError::NotFound) }
        }


        /// The state of a document of the scope's agency (`NotFound` for any other).
        async fn state_in_scope(tx: &mut Tx, scope: &Scope, id: DocumentId) -> Result<OutgoingState> {
            let state: String = sqlx::query_scalar("SELECT state FROM documents WHERE id = $1 AND agency_id = $2")
                .bind(id.as_uuid())
                .bind(scope.agency_id().as_uuid())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            parse("documents", OutgoingState::from_str(&state))
        }

        /// Moves an outgoing document of the scope's agency by `action`, inside the caller's
        /// transaction, when the domain's state machine allows it (and, for an approval, when
        /// the current review round is over). Returns the document as moved and the state it
        /// left; the caller writes the audit event.
        async fn apply_action(tx: &mut Tx, scope: &Scope, id: DocumentId, action: OutgoingAction) -> Result<(DocumentRecord, OutgoingState)> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DOC_COLS} FROM documents WHERE id = $1 AND agency_id = $2")))
                .bind(id.as_uuid())
                .bind(scope.agency_id().as_uuid())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let mut doc = document_from_row(&row)?;
            if doc.direction != Direction::Outgoing {
                return Err(StoreError::NotFound);
            }
            let from = parse("documents", OutgoingState::from_str(&doc.state))?;
            let to = from.apply(action)?;
            // The leader approves only after every reviewer of the current round has.
            if action == OutgoingAction::Approve {
                let steps = steps_where(tx, id, true).await?;
                if !steps.is_empty() && vanban_domain::review::outcome(&domain_steps(&steps)) != vanban_domain::RoundOutcome::Approved {
                    return Err(vanban_domain::DomainError::IllegalTransition { from: "review_open", action: "approve" }.into());
                }
            }
            let at = now();
            sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3")
                .bind(to.as_str())
                .bind(at)
                .bind(id.as_uuid())
                .execute(&mut **tx)
                .await?;
            doc.state = to.as_str().to_owned();
            doc.updated_at = at;
            Ok((doc, from))
        }

        /// Fails unless the document is a draft of the scope's agency: only drafts are edited.
        async fn require_draft(tx: &mut Tx, scope: &Scope, id: DocumentId) -> Result<()> {
            match state_in_scope(tx, scope, id).await? {
                OutgoingState::Draft => Ok(()),
                other => Err(vanban_domain::DomainError::IllegalTransition { from: other.as_str(), action: "edit" }.into()),
            }
        }

        /// Fails with `NotFound` unless the document belongs to the scope's agency.
        async fn document_in_scope(conn: &mut Conn, scope: &Scope, id: DocumentId) -> Result<()> {
            let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM documents WHERE id = $1 AND agency_id = $2")
                .bind(id.as_uuid())
                .bind(scope.agency_id().as_uuid())
                .fetch_optional(&mut *conn)
                .await?;
            found.map(|_| ()).ok_or(StoreError::NotFound)
        }

        /// A document's versions (or one); with `agency`, only if the document is that agency's
        /// (an empty list then also when it is not: the caller tells the two apart if needed).
        async fn versions_where(conn: &mut Conn, id: DocumentId, version: Option<i32>, agency: Option<AgencyId>) -> Result<Vec<VersionRecord>> {
            let scoped = if agency.is_some() { "JOIN documents d ON d.id = v.document_id AND d.agency_id = $3" } else { "" };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT v.document_id, v.version, v.content, v.note, v.created_by, v.created_at, u.full_name \
                 FROM document_versions v JOIN users u ON u.id = v.created_by {scoped} \
                 WHERE v.document_id = $1 AND ($2 IS NULL OR v.version = $2) ORDER BY v.version"
            )))
            .bind(id.as_uuid())
            .bind(version);
            let rows = match agency {
                Some(a) => rows.bind(a.as_uuid()),
                None => rows,
            }
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(VersionRecord {
                        document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                        version: r.try_get("version")?,
                        content: parse("document_versions", serde_json::from_str(&r.try_get::<String, _>("content")?))?,
                        note: r.try_get("note")?,
                        created_by: UserId::from_uuid(r.try_get("created_by")?),
                        author_name: r.try_get("full_name")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        }

        async fn comments_where(tx: &mut Conn, id: DocumentId) -> Result<Vec<CommentRecord>> {
            let rows = sqlx::query(
                "SELECT c.id, c.document_id, c.version, c.author, c.body, c.created_at, u.full_name \
                 FROM document_comments c JOIN users u ON u.id = c.author WHERE c.document_id = $1 ORDER BY c.created_at, c.id",
            )
            .bind(id.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(CommentRecord {
                        id: r.try_get("id")?,
                        document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                        version: r.try_get("version")?,
                        author: UserId::from_uuid(r.try_get("author")?),
                        author_name: r.try_get("full_name")?,
                        body: r.try_get("body")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        }


        async fn steps_where(tx: &mut Conn, id: DocumentId, latest_round_only: bool) -> Result<Vec<ReviewStepRecord>> {
            let rows = sqlx::query(
                "SELECT r.id, r.document_id, r.round, r.position, r.reviewer, r.mode, r.state, r.initialled, r.version, r.reason, r.acted_at, u.full_name \
                 FROM review_steps r JOIN users u ON u.id = r.reviewer WHERE r.document_id = $1 ORDER BY r.round, r.position",
            )
            .bind(id.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let t = "review_steps";
            let mut steps: Vec<ReviewStepRecord> = rows
                .iter()
                .map(|r| {
                    Ok(ReviewStepRecord {
                        id: r.try_get("id")?,
                        document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                        round: r.try_get("round")?,
                        position: r.try_get("position")?,
                        reviewer: UserId::from_uuid(r.try_get("reviewer")?),
                        reviewer_name: r.try_get("full_name")?,
                        mode: vanban_domain::ReviewMode::from_snake(&r.try_get::<String, _>("mode")?)
                            .ok_or_else(|| StoreError::corrupt(t, "mode"))?,
                        state: vanban_domain::StepState::from_snake(&r.try_get::<String, _>("state")?)
                            .ok_or_else(|| StoreError::corrupt(t, "state"))?,
                        initialled: r.try_get("initialled")?,
                        version: r.try_get("version")?,
                        reason: r.try_get("reason")?,
                        acted_at: r.try_get("acted_at")?,
                    })
                })
                .collect::<Result<_>>()?;
            if latest_round_only {
                let last = steps.iter().map(|s| s.round).max();
                steps.retain(|s| Some(s.round) == last);
            }
            Ok(steps)
        }

        fn domain_steps(steps: &[ReviewStepRecord]) -> Vec<vanban_domain::ReviewStep> {
            steps.iter().map(ReviewStepRecord::domain).collect()
        }


        /// A document's files; with `agency`, `NotFound` unless the document is that agency's
        /// (one read either way: the document is joined, with no file as one empty row).
        async fn files_where(conn: &mut Conn, id: DocumentId, agency: Option<AgencyId>) -> Result<Vec<FileRecord>> {
            const COLS: &str = "f.id, f.document_id, f.kind, f.file_name, f.media_type, f.sha256, f.size, f.checks, f.created_by, f.created_at";
            let rows = match agency {
                None => {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM document_files f WHERE f.document_id = $1 ORDER BY f.created_at, f.id")))
                        .bind(id.as_uuid())
                        .fetch_all(&mut *conn)
                        .await?
                }
                Some(a) => {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLS} FROM documents d LEFT JOIN document_files f ON f.document_id = d.id \
                         WHERE d.id = $1 AND d.agency_id = $2 ORDER BY f.created_at, f.id"
                    )))
                    .bind(id.as_uuid())
                    .bind(a.as_uuid())
                    .fetch_all(&mut *conn)
                    .await?;
                    if rows.is_empty() {
                        return Err(StoreError::NotFound);
                    }
                    rows
                }
            };
            let mut files = Vec::new();
            for r in &rows {
                if r.try_get::<Option<Uuid>, _>("id")?.is_some() {
                    files.push(r);
                }
            }
            files
                .into_iter()
                .map(|r| {
                    let checks: Option<String> = r.try_get("checks")?;
                    Ok(FileRecord {
                        id: r.try_get("id")?,
                        document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                        kind: r.try_get("kind")?,
                        file_name: r.try_get("file_name")?,
                        media_type: r.try_get("media_type")?,
                        sha256: r.try_get("sha256")?,
                        size: r.try_get("size")?,
                        checks: checks.map(|c| parse("document_files", serde_json::from_str(&c))).transpose()?,
                        created_by: UserId::from_uuid(r.try_get("created_by")?),
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        }

        impl $Store {
            async fn users_where(&self, agency_id: AgencyId, extra: &'static str, id: Option<UserId>) -> Result<Vec<UserRecord>> {
                // One user is a point lookup; a whole agency's list is not.
                let pool = if id.is_some() { self.point_pool() } else { &self.pool };
                let mut tx = pool.begin().await?;
                let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.agency_id = $1 {extra} ORDER BY u.username");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agency_id.as_uuid());
                if let Some(id) = id {
                    q = q.bind(id.as_uuid());
                }
                let rows = q.fetch_all(&mut *tx).await?;
                let grants = sqlx::query("SELECT user_id, role FROM role_grants WHERE agency_id = $1")
                    .bind(agency_id.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
                let mut by_user: HashMap<Uuid, BTreeSet<Role>> = HashMap::new();
                for g in &grants {
                    let role = parse("role_grants", Role::from_str(&g.try_get::<String, _>("role")?))?;
                    by_user.entry(g.try_get("user_id")?).or_default().insert(role);
                }
                tx.commit().await?;
                rows.iter()
                    .map(|r| {
                        let id: Uuid = r.try_get("id")?;
                        user_from_row(r, by_user.remove(&id).unwrap_or_default())
                    })
                    .collect()
            }

            async fn one_user(&self, agency_id: AgencyId, id: UserId) -> Result<UserRecord> {
                self.users_where(agency_id, "AND u.id = $2", Some(id)).await?.pop().ok_or(StoreError::NotFound)
            }

            async fn user_agency(&self, id: UserId) -> Result<AgencyId> {
                let a: Option<Uuid> = sqlx::query_scalar("SELECT agency_id FROM users WHERE id = $1")
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await?;
                a.map(AgencyId::from_uuid).ok_or(StoreError::NotFound)
            }

            async fn login_record(&self, tx: &mut Conn, user_id: UserId) -> Result<LoginRecord> {
                let row = sqlx::query("SELECT id, agency_id, password_hash, active, failed_logins, locked_until FROM users WHERE id = $1")
                    .bind(user_id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                login_from_row(&row)
            }
        }

        #[async_trait]
        impl AgencyRepo for $Store {
            async fn create_agency(&self, actor: &Actor, new: NewAgency) -> Result<AgencyRecord> {
                crate::sql::write_tx!(self, |tx| {
                    let rec = insert_agency(&mut tx, actor, new).await?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn import_agencies(&self, actor: &Actor, rows: Vec<AgencyImport>) -> Result<usize> {
                crate::sql::write_tx!(self, |tx| {
                    let mut by_code: HashMap<String, AgencyId> = HashMap::new();
                    let n = rows.len();
                    for row in rows {
                        let mut new = row.agency;
                        if let Some(pc) = row.parent_code {
                            let pid = match by_code.get(pc.as_str()) {
                                Some(id) => *id,
                                None => {
                                    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM agencies WHERE code = $1")
                                        .bind(pc.as_str())
                                        .fetch_optional(&mut *tx)
                                        .await?;
                                    AgencyId::from_uuid(id.ok_or(vanban_domain::DomainError::InvalidValue {
                                        field: "parent_code",
                                        reason: "no agency has this code",
                                    })?)
                                }
                            };
                            new.parent_id = Some(pid);
                        }
                        let code = new.code.as_str().to_owned();
                        let rec = insert_agency(&mut tx, actor, new).await?;
                        by_code.insert(code, rec.agency.id);
                    }
                    tx.commit().await?;
                    Ok(n)
                })
            }

            async fn update_agency(&self, actor: &Actor, scope: &AdminScope, id: AgencyId, update: AgencyUpdate) -> Result<AgencyRecord> {
                crate::sql::write_tx!(self, |tx| {
                    check_reach(&mut tx, scope, id).await?;
                    let before = agency_in_tx(&mut tx, id).await?;
                    let mut agency = before.agency.clone();
                    agency.name = update.name;
                    agency.parent_name = update.parent_name;
                    agency.abbreviation = update.abbreviation;
                    agency.place = update.place;
                    let agency = agency.validate()?;
                    sqlx::query("UPDATE agencies SET name = $1, parent_name = $2, abbreviation = $3, place = $4 WHERE id = $5")
                        .bind(agency.name.as_str())
                        .bind(agency.parent_name.as_ref().map(|n| n.as_str()))
                        .bind(agency.abbreviation.as_str())
                        .bind(&agency.place)
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    let view = |a: &Agency| serde_json::json!({
                        "name": a.name.as_str(), "parent_name": a.parent_name.as_ref().map(|n| n.as_str()),
                        "abbreviation": a.abbreviation.as_str(), "place": a.place,
                    });
                    let detail = serde_json::json!({ "before": view(&before.agency), "after": view(&agency) });
                    write_audit(&mut tx, actor, Some(id), "agency.update", "agency", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(AgencyRecord { agency, path: before.path, created_at: before.created_at })
                })
            }

            async fn get_agency(&self, id: AgencyId) -> Result<AgencyRecord> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = $1")))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                agency_from_row(&row)
            }

            async fn get_agency_by_code(&self, code: &AgencyCode) -> Result<AgencyRecord> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AGENCY_COLS} FROM agencies WHERE code = $1")))
                    .bind(code.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                agency_from_row(&row)
            }

            async fn list_agencies(&self) -> Result<Vec<AgencyRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AGENCY_COLS} FROM agencies ORDER BY path")))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(agency_from_row).collect()
            }

            async fn admin_scope(&self, caller: &Caller) -> Result<AdminScope> {
                caller.require(vanban_domain::Permission::ManageUsers)?;
                let path: String = sqlx::query_scalar("SELECT path FROM agencies WHERE id = $1")
                    .bind(caller.agency_id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                AdminScope::check(caller, path)
            }

            async fn create_unit(&self, actor: &Actor, scope: &AdminScope, new: NewUnit) -> Result<Unit> {
                let name = vanban_domain::clean_text("name", &new.name, 200, true)?;
                crate::sql::write_tx!(self, |tx| {
                    check_reach(&mut tx, scope, new.agency_id).await?;
                    if let Some(p) = new.parent_id {
                        let owner: Option<Uuid> = sqlx::query_scalar("SELECT agency_id FROM units WHERE id = $1")
                            .bind(p.as_uuid())
                            .fetch_optional(&mut *tx)
                            .await?;
                        if owner != Some(new.agency_id.as_uuid()) {
                            return Err(vanban_domain::DomainError::InvalidValue { field: "parent_id", reason: "parent unit is not in this agency" }.into());
                        }
                    }
                    let id = UnitId::from_uuid(Uuid::now_v7());
                    sqlx::query("INSERT INTO units (id, agency_id, parent_id, name, abbreviation, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(id.as_uuid())
                        .bind(new.agency_id.as_uuid())
                        .bind(new.parent_id.map(|p| p.as_uuid()))
                        .bind(&name)
                        .bind(new.abbreviation.as_str())
                        .bind(now())
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::unique_as("duplicate_unit"))?;
                    let detail = serde_json::json!({ "name": name, "abbreviation": new.abbreviation.as_str() });
                    write_audit(&mut tx, actor, Some(new.agency_id), "unit.create", "unit", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(Unit { id, agency_id: new.agency_id, parent_id: new.parent_id, name, abbreviation: new.abbreviation })
                })
            }

            async fn list_units(&self, scope: &Scope) -> Result<Vec<Unit>> {
                let rows = sqlx::query("SELECT id, agency_id, parent_id, name, abbreviation FROM units WHERE agency_id = $1 ORDER BY name")
                    .bind(scope.agency_id().as_uuid())
                    .fetch_all(self.point_pool())
                    .await?;
                rows.iter().map(unit_from_row).collect()
            }

            async fn list_units_admin(&self, scope: &AdminScope, agency_id: AgencyId) -> Result<Vec<Unit>> {
                let mut tx = self.pool.begin().await?;
                check_reach(&mut tx, scope, agency_id).await?;
                let rows = sqlx::query("SELECT id, agency_id, parent_id, name, abbreviation FROM units WHERE agency_id = $1 ORDER BY name")
                    .bind(agency_id.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows.iter().map(unit_from_row).collect()
            }
        }

        #[async_trait]
        impl UserRepo for $Store {
            async fn create_user(&self, actor: &Actor, scope: &AdminScope, new: NewUser) -> Result<UserRecord> {
                crate::sql::write_tx!(self, |tx| {
                    check_reach(&mut tx, scope, new.agency_id).await?;
                    let rec = insert_user(&mut tx, actor, new).await?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn create_users(&self, actor: &Actor, users: Vec<NewUser>) -> Result<usize> {
                crate::sql::write_tx!(self, |tx| {
                    let n = users.len();
                    for u in users {
                        insert_user(&mut tx, actor, u).await?;
                    }
                    tx.commit().await?;
                    Ok(n)
                })
            }

            async fn get_user(&self, scope: &Scope, id: UserId) -> Result<UserRecord> {
                self.one_user(scope.agency_id(), id).await
            }

            async fn get_user_admin(&self, scope: &AdminScope, id: UserId) -> Result<UserRecord> {
                let agency = self.user_agency(id).await?;
                let mut tx = self.pool.begin().await?;
                check_reach(&mut tx, scope, agency).await?;
                tx.commit().await?;
                self.one_user(agency, id).await
            }

            async fn list_users(&self, scope: &Scope) -> Result<Vec<UserRecord>> {
                self.users_where(scope.agency_id(), "", None).await
            }

            async fn list_users_admin(&self, scope: &AdminScope, agency_id: AgencyId) -> Result<Vec<UserRecord>> {
                let mut tx = self.pool.begin().await?;
                check_reach(&mut tx, scope, agency_id).await?;
                tx.commit().await?;
                self.users_where(agency_id, "", None).await
            }

            async fn find_login(&self, username: &str) -> Result<Option<LoginRecord>> {
                let row = sqlx::query("SELECT id, agency_id, password_hash, active, failed_logins, locked_until FROM users WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(login_from_row).transpose()
            }

            async fn record_login_failure(&self, user_id: UserId, now_: DateTime<Utc>, lock_after: i32, lock_for: chrono::Duration, from: Option<&str>) -> Result<LoginRecord> {
                crate::sql::write_tx!(self, |tx| {
                    let rec = self.login_record(&mut tx, user_id).await?;
                    let failed = rec.failed_logins + 1;
                    let (failed, locked_until) = if failed >= lock_after {
                        (0, Some(audit::truncate_micros(now_ + lock_for)))
                    } else {
                        (failed, rec.locked_until)
                    };
                    sqlx::query("UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3")
                        .bind(failed)
                        .bind(locked_until)
                        .bind(user_id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    let detail = serde_json::json!({ "locked": failed == 0 });
                    let actor = Actor { user_id: Some(user_id), agency_id: Some(rec.agency_id), from: from.map(str::to_owned), ..Actor::default() };
                    write_audit(&mut tx, &actor, Some(rec.agency_id), "auth.login_failed", "user", &user_id.to_string(), detail).await?;
                    let rec = self.login_record(&mut tx, user_id).await?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn record_login_success(&self, actor: &Actor, user_id: UserId) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let agency = self.login_record(&mut tx, user_id).await?.agency_id;
                    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
                        .bind(user_id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    write_audit(&mut tx, actor, Some(agency), "auth.login", "user", &user_id.to_string(), serde_json::json!({})).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn set_password(&self, actor: &Actor, user_id: UserId, password_hash: String) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let agency = self.login_record(&mut tx, user_id).await?.agency_id;
                    sqlx::query("UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE id = $2")
                        .bind(&password_hash)
                        .bind(user_id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    // A new password ends every session of the account.
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id.as_uuid()).execute(&mut *tx).await?;
                    write_audit(&mut tx, actor, Some(agency), "user.set_password", "user", &user_id.to_string(), serde_json::json!({})).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn set_roles(&self, actor: &Actor, scope: &AdminScope, user_id: UserId, roles: BTreeSet<Role>) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let agency = self.login_record(&mut tx, user_id).await?.agency_id;
                    check_reach(&mut tx, scope, agency).await?;
                    let before = roles_in_tx(&mut tx, user_id, agency).await?;
                    sqlx::query("DELETE FROM role_grants WHERE user_id = $1 AND agency_id = $2")
                        .bind(user_id.as_uuid())
                        .bind(agency.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    insert_roles(&mut tx, user_id, agency, &roles).await?;
                    let names = |s: &BTreeSet<Role>| s.iter().map(|r| r.as_str()).collect::<Vec<_>>();
                    let detail = serde_json::json!({ "before": names(&before), "after": names(&roles) });
                    write_audit(&mut tx, actor, Some(agency), "user.set_roles", "user", &user_id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn set_active(&self, actor: &Actor, scope: &AdminScope, user_id: UserId, active: bool) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let agency = self.login_record(&mut tx, user_id).await?.agency_id;
                    check_reach(&mut tx, scope, agency).await?;
                    sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
                        .bind(active)
                        .bind(user_id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    if !active {
                        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id.as_uuid()).execute(&mut *tx).await?;
                    }
                    let action = if active { "user.activate" } else { "user.deactivate" };
                    write_audit(&mut tx, actor, Some(agency), action, "user", &user_id.to_string(), serde_json::json!({})).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn caller_for(&self, user_id: UserId) -> Result<Caller> {
                let mut tx = self.pool.begin().await?;
                let rec = self.login_record(&mut tx, user_id).await?;
                if !rec.active {
                    return Err(StoreError::NotFound);
                }
                let roles = roles_in_tx(&mut tx, user_id, rec.agency_id).await?;
                tx.commit().await?;
                Ok(Caller { user_id, agency_id: rec.agency_id, roles })
            }

            async fn find_user_id(&self, username: &str) -> Result<Option<UserId>> {
                let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(id.map(UserId::from_uuid))
            }

            async fn count_users(&self) -> Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
            }
        }

        #[async_trait]
        impl SessionRepo for $Store {
            async fn create_session(&self, s: SessionRecord) -> Result<()> {
                sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&s.token_hash)
                    .bind(s.user_id.as_uuid())
                    .bind(&s.csrf_token)
                    .bind(s.created_at)
                    .bind(s.expires_at)
                    .bind(s.ip.as_deref())
                    .execute(self.write_pool())
                    .await?;
                Ok(())
            }

            async fn get_session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
                let row = sqlx::query("SELECT token_hash, user_id, csrf_token, created_at, expires_at, ip FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some(SessionRecord {
                    token_hash: r.try_get("token_hash")?,
                    user_id: UserId::from_uuid(r.try_get("user_id")?),
                    csrf_token: r.try_get("csrf_token")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    ip: r.try_get("ip")?,
                }))
            }

            async fn delete_session(&self, token_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(self.write_pool()).await?;
                Ok(())
            }

            async fn purge_sessions(&self, now_: DateTime<Utc>) -> Result<u64> {
                // Compared in Rust: SQLite keeps instants as text.
                let rows = sqlx::query("SELECT token_hash, expires_at FROM sessions").fetch_all(&self.pool).await?;
                let mut n = 0;
                for r in rows {
                    let exp: DateTime<Utc> = r.try_get("expires_at")?;
                    if exp <= now_ {
                        let h: String = r.try_get("token_hash")?;
                        n += sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(h).execute(self.write_pool()).await?.rows_affected();
                    }
                }
                Ok(n)
            }
        }

        #[async_trait]
        impl DocumentRepo for $Store {
            async fn create_draft(&self, actor: &Actor, scope: &Scope, new: NewDraft) -> Result<DocumentRecord> {
                let meta = new.metadata.validate()?;
                let created_by = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "created_by" })?;
                let id = DocumentId::from_uuid(Uuid::now_v7());
                let at = now();
                let metadata = serde_json::to_value(&meta).map_err(|e| StoreError::corrupt("documents", e))?;
                crate::sql::write_tx!(self, |tx| {
                    sqlx::query(
                        "INSERT INTO documents (id, agency_id, direction, state, doc_type, subject, metadata, created_by, created_at, updated_at) \
                         VALUES ($1, $2, 'outgoing', $3, $4, $5, $6, $7, $8, $8)",
                    )
                    .bind(id.as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .bind(OutgoingState::Draft.as_str())
                    .bind(meta.doc_type.as_str())
                    .bind(&meta.subject)
                    .bind(metadata.to_string())
                    .bind(created_by.as_uuid())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    let detail = serde_json::json!({ "doc_type": meta.doc_type.as_str(), "subject": meta.subject });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.create_draft", "document", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(DocumentRecord {
                        id,
                        agency_id: scope.agency_id(),
                        direction: Direction::Outgoing,
                        state: OutgoingState::Draft.as_str().to_owned(),
                        doc_type: meta.doc_type,
                        subject: meta.subject.clone(),
                        metadata,
                        created_by,
                        created_at: at,
                        updated_at: at,
                    })
                })
            }

            // Outgoing documents only: an incoming document is read through `IssuingRepo` with
            // the caller's visibility (a handler sees only what is assigned to them).
            async fn get_document(&self, scope: &Scope, id: DocumentId) -> Result<DocumentRecord> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DOC_COLS} FROM documents WHERE id = $1 AND agency_id = $2 AND direction = 'outgoing'")))
                    .bind(id.as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .fetch_optional(self.point_pool())
                    .await?
                    .ok_or(StoreError::NotFound)?;
                document_from_row(&row)
            }

            async fn list_documents(&self, scope: &Scope, state: Option<&str>, limit: i64) -> Result<Vec<DocumentRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DOC_COLS} FROM documents WHERE agency_id = $1 AND direction = 'outgoing' AND ($2 IS NULL OR state = $2) ORDER BY updated_at DESC, id DESC LIMIT $3"
                )))
                .bind(scope.agency_id().as_uuid())
                .bind(state)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(document_from_row).collect()
            }

            async fn transition(&self, actor: &Actor, scope: &Scope, id: DocumentId, t: Transition) -> Result<DocumentRecord> {
                let reason = t.reason.as_deref().map(|r| vanban_domain::clean_text("reason", r, 500, false)).transpose()?.filter(|r| !r.is_empty());
                if t.action == OutgoingAction::ReturnToDrafter && reason.is_none() {
                    return Err(vanban_domain::DomainError::FieldRequired { field: "reason" }.into());
                }
                crate::sql::write_tx!(self, |tx| {
                    let (doc, from) = apply_action(&mut tx, scope, id, t.action).await?;
                    let detail = serde_json::json!({ "from": from.as_str(), "to": doc.state, "reason": reason });
                    let action = format!("document.{}", t.action.as_str());
                    write_audit(&mut tx, actor, Some(scope.agency_id()), &action, "document", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(doc)
                })
            }

            async fn add_version(
                &self,
                actor: &Actor,
                scope: &Scope,
                id: DocumentId,
                content: serde_json::Value,
                note: Option<String>,
            ) -> Result<VersionRecord> {
                let author = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "created_by" })?;
                let note = note.as_deref().map(|n| vanban_domain::clean_text("note", n, 500, false)).transpose()?.filter(|n| !n.is_empty());
                let subject = match content.get("subject") {
                    Some(serde_json::Value::String(s)) => Some(vanban_domain::clean_text("Subject", s, 500, true)?),
                    Some(_) => return Err(vanban_domain::DomainError::InvalidValue { field: "subject", reason: "expected text" }.into()),
                    None => None,
                };
                crate::sql::write_tx!(self, |tx| {
                    require_draft(&mut tx, scope, id).await?;
                    let last: Option<i32> = sqlx::query_scalar("SELECT MAX(version) FROM document_versions WHERE document_id = $1")
                        .bind(id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                    let version = last.unwrap_or(0) + 1;
                    let at = now();
                    sqlx::query("INSERT INTO document_versions (document_id, version, content, note, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(id.as_uuid())
                        .bind(version)
                        .bind(content.to_string())
                        .bind(note.as_deref())
                        .bind(author.as_uuid())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    if let Some(subject) = &subject {
                        sqlx::query("UPDATE documents SET subject = $1, updated_at = $2 WHERE id = $3")
                            .bind(subject)
                            .bind(at)
                            .bind(id.as_uuid())
                            .execute(&mut *tx)
                            .await?;
                    } else {
                        sqlx::query("UPDATE documents SET updated_at = $1 WHERE id = $2").bind(at).bind(id.as_uuid()).execute(&mut *tx).await?;
                    }
                    let detail = serde_json::json!({ "version": version, "note": note });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.add_version", "document", &id.to_string(), detail).await?;
                    let rec = versions_where(&mut tx, id, Some(version), None).await?.pop().ok_or(StoreError::NotFound)?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn list_versions(&self, scope: &Scope, id: DocumentId) -> Result<Vec<VersionRecord>> {
                let mut conn = self.point_pool().acquire().await?;
                // One read in the usual case (a document has versions): the scope is in the join.
                let list = versions_where(&mut conn, id, None, Some(scope.agency_id())).await?;
                if list.is_empty() {
                    document_in_scope(&mut conn, scope, id).await?;
                }
                Ok(list)
            }

            async fn get_version(&self, scope: &Scope, id: DocumentId, version: i32) -> Result<VersionRecord> {
                let mut tx = self.pool.begin().await?;
                document_in_scope(&mut tx, scope, id).await?;
                let rec = versions_where(&mut tx, id, Some(version), None).await?.pop().ok_or(StoreError::NotFound)?;
                tx.commit().await?;
                Ok(rec)
            }

            async fn add_comment(&self, actor: &Actor, scope: &Scope, id: DocumentId, version: i32, body: &str) -> Result<CommentRecord> {
                let author = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "author" })?;
                let body = vanban_domain::clean_text("comment", body, 2000, true)?;
                crate::sql::write_tx!(self, |tx| {
                    document_in_scope(&mut tx, scope, id).await?;
                    versions_where(&mut tx, id, Some(version), None).await?.pop().ok_or(StoreError::NotFound)?;
                    let cid = Uuid::now_v7();
                    sqlx::query("INSERT INTO document_comments (id, document_id, version, author, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(cid)
                        .bind(id.as_uuid())
                        .bind(version)
                        .bind(author.as_uuid())
                        .bind(&body)
                        .bind(now())
                        .execute(&mut *tx)
                        .await?;
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.comment", "document", &id.to_string(), serde_json::json!({ "version": version })).await?;
                    let rec = comments_where(&mut tx, id).await?.into_iter().find(|c| c.id == cid).ok_or(StoreError::NotFound)?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn list_comments(&self, scope: &Scope, id: DocumentId) -> Result<Vec<CommentRecord>> {
                let mut tx = self.pool.begin().await?;
                document_in_scope(&mut tx, scope, id).await?;
                let list = comments_where(&mut tx, id).await?;
                tx.commit().await?;
                Ok(list)
            }

            async fn submit_for_review(
                &self,
                actor: &Actor,
                scope: &Scope,
                id: DocumentId,
                reviewers: Vec<UserId>,
                mode: vanban_domain::ReviewMode,
            ) -> Result<DocumentRecord> {
                let drafter = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "actor" })?;
                vanban_domain::review::check_reviewers(drafter, &reviewers)?;
                crate::sql::write_tx!(self, |tx| {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DOC_COLS} FROM documents WHERE id = $1 AND agency_id = $2")))
                        .bind(id.as_uuid())
                        .bind(scope.agency_id().as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    let mut doc = document_from_row(&row)?;
                    let from = parse("documents", OutgoingState::from_str(&doc.state))?;
                    let to = from.apply(OutgoingAction::SubmitForReview)?;
                    let version: Option<i32> = sqlx::query_scalar("SELECT MAX(version) FROM document_versions WHERE document_id = $1")
                        .bind(id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                    let version = version.ok_or(vanban_domain::DomainError::EmptyDraft)?;
                    for r in &reviewers {
                        let rec = self.login_record(&mut tx, *r).await?;
                        if rec.agency_id != scope.agency_id() || !rec.active {
                            return Err(StoreError::NotFound);
                        }
                    }
                    let round: Option<i32> = sqlx::query_scalar("SELECT MAX(round) FROM review_steps WHERE document_id = $1")
                        .bind(id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                    let round = round.unwrap_or(0) + 1;
                    for (position, r) in reviewers.iter().enumerate() {
                        sqlx::query(
                            "INSERT INTO review_steps (id, document_id, round, position, reviewer, mode, state, initialled, version) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
                        )
                        .bind(Uuid::now_v7())
                        .bind(id.as_uuid())
                        .bind(round)
                        .bind(i32::try_from(position).unwrap_or(i32::MAX))
                        .bind(r.as_uuid())
                        .bind(mode.as_str())
                        .bind(false)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let at = now();
                    sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3")
                        .bind(to.as_str())
                        .bind(at)
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    let detail = serde_json::json!({ "round": round, "mode": mode.as_str(), "reviewers": reviewers, "version": version });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.submit_for_review", "document", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    doc.state = to.as_str().to_owned();
                    doc.updated_at = at;
                    Ok(doc)
                })
            }

            async fn review(&self, actor: &Actor, scope: &Scope, id: DocumentId, decision: ReviewDecision) -> Result<ReviewStepRecord> {
                let reviewer = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "actor" })?;
                let reason = match &decision {
                    ReviewDecision::Return { reason } => Some(vanban_domain::clean_text("reason", reason, 500, true)?),
                    ReviewDecision::Approve { .. } => None,
                };
                crate::sql::write_tx!(self, |tx| {
                    let state = state_in_scope(&mut tx, scope, id).await?;
                    let steps = steps_where(&mut tx, id, true).await?;
                    let Some(first) = steps.first() else {
                        return Err(vanban_domain::DomainError::IllegalTransition { from: state.as_str(), action: "review" }.into());
                    };
                    if state != OutgoingState::InReview {
                        return Err(vanban_domain::DomainError::IllegalTransition { from: state.as_str(), action: "review" }.into());
                    }
                    let idx = vanban_domain::review::turn_of(first.mode, &domain_steps(&steps), reviewer)?;
                    let step = &steps[idx];
                    let at = now();
                    let (new_state, initialled, action) = match decision {
                        ReviewDecision::Approve { initials } => (vanban_domain::StepState::Approved, initials, "document.review_approve"),
                        ReviewDecision::Return { .. } => (vanban_domain::StepState::Returned, false, "document.review_return"),
                    };
                    sqlx::query("UPDATE review_steps SET state = $1, initialled = $2, reason = $3, acted_at = $4 WHERE id = $5")
                        .bind(new_state.as_str())
                        .bind(initialled)
                        .bind(reason.as_deref())
                        .bind(at)
                        .bind(step.id)
                        .execute(&mut *tx)
                        .await?;
                    if new_state == vanban_domain::StepState::Returned {
                        sqlx::query("UPDATE review_steps SET state = 'cancelled' WHERE document_id = $1 AND round = $2 AND state = 'pending'")
                            .bind(id.as_uuid())
                            .bind(step.round)
                            .execute(&mut *tx)
                            .await?;
                        let to = state.apply(OutgoingAction::ReturnToDrafter)?;
                        sqlx::query("UPDATE documents SET state = $1, updated_at = $2 WHERE id = $3")
                            .bind(to.as_str())
                            .bind(at)
                            .bind(id.as_uuid())
                            .execute(&mut *tx)
                            .await?;
                    }
                    let detail = serde_json::json!({ "round": step.round, "initialled": initialled, "reason": reason, "version": step.version });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), action, "document", &id.to_string(), detail).await?;
                    let rec = steps_where(&mut tx, id, true).await?.into_iter().find(|s| s.id == step.id).ok_or(StoreError::NotFound)?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn review_steps(&self, scope: &Scope, id: DocumentId) -> Result<Vec<ReviewStepRecord>> {
                let mut tx = self.pool.begin().await?;
                document_in_scope(&mut tx, scope, id).await?;
                let steps = steps_where(&mut tx, id, false).await?;
                tx.commit().await?;
                Ok(steps)
            }

            async fn review_inbox(&self, scope: &Scope, user: UserId) -> Result<Vec<DocumentRecord>> {
                let mut tx = self.pool.begin().await?;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DOC_COLS} FROM documents WHERE agency_id = $1 AND state = 'in_review' AND id IN \
                     (SELECT document_id FROM review_steps WHERE reviewer = $2 AND state = 'pending') ORDER BY updated_at"
                )))
                .bind(scope.agency_id().as_uuid())
                .bind(user.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                let mut out = Vec::new();
                for r in &rows {
                    let doc = document_from_row(r)?;
                    let steps = steps_where(&mut tx, doc.id, true).await?;
                    let Some(mode) = steps.first().map(|s| s.mode) else { continue };
                    if vanban_domain::review::waiting_on(mode, &domain_steps(&steps)).contains(&user) {
                        out.push(doc);
                    }
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn add_files(&self, actor: &Actor, scope: &Scope, id: DocumentId, files: Vec<NewFile>) -> Result<Vec<FileRecord>> {
                let author = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "actor" })?;
                crate::sql::write_tx!(self, |tx| {
                    require_draft(&mut tx, scope, id).await?;
                    let at = now();
                    for f in &files {
                        let name = vanban_domain::clean_text("file_name", &f.file_name, 255, true)?;
                        sqlx::query(
                            "INSERT INTO document_files (id, document_id, kind, file_name, media_type, sha256, size, checks, created_by, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(Uuid::now_v7())
                        .bind(id.as_uuid())
                        .bind(f.kind)
                        .bind(&name)
                        .bind(&f.media_type)
                        .bind(&f.sha256)
                        .bind(f.size)
                        .bind(f.checks.as_ref().map(|c| c.to_string()))
                        .bind(author.as_uuid())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let detail = serde_json::json!({ "files": files.iter().map(|f| serde_json::json!({ "kind": f.kind, "name": f.file_name, "sha256": f.sha256 })).collect::<Vec<_>>() });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.add_files", "document", &id.to_string(), detail).await?;
                    let all = files_where(&mut tx, id, None).await?;
                    tx.commit().await?;
                    Ok(all.into_iter().rev().take(files.len()).rev().collect())
                })
            }

            async fn list_files(&self, scope: &Scope, id: DocumentId) -> Result<Vec<FileRecord>> {
                let mut conn = self.point_pool().acquire().await?;
                files_where(&mut conn, id, Some(scope.agency_id())).await
            }

            async fn count_by_state(&self, scope: &Scope) -> Result<Vec<StateCount>> {
                let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM documents WHERE agency_id = $1 AND direction = 'outgoing' GROUP BY state ORDER BY state")
                    .bind(scope.agency_id().as_uuid())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok(StateCount { state: r.try_get("state")?, count: r.try_get("n")? }))
                    .collect()
            }
        }


        const DELEGATION_SELECT: &str = "SELECT d.id, d.agency_id, d.from_user, d.to_user, d.authority, d.valid_from, d.valid_until, d.revoked_at, d.received_via, d.basis, d.created_at, f.full_name AS from_name, t.full_name AS to_name \
             FROM delegations d JOIN users f ON f.id = d.from_user JOIN users t ON t.id = d.to_user";

        fn delegation_from_row(r: &$Row) -> Result<DelegationRecord> {
            let t = "delegations";
            let via: Option<String> = r.try_get("received_via")?;
            Ok(DelegationRecord {
                delegation: Delegation {
                    id: DelegationId::from_uuid(r.try_get("id")?),
                    agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                    from_user: UserId::from_uuid(r.try_get("from_user")?),
                    to_user: UserId::from_uuid(r.try_get("to_user")?),
                    authority: parse(t, SigningAuthority::from_str(&r.try_get::<String, _>("authority")?))?,
                    valid_from: r.try_get("valid_from")?,
                    valid_until: r.try_get("valid_until")?,
                    revoked_at: r.try_get("revoked_at")?,
                    received_via: via.map(|v| parse(t, SigningAuthority::from_str(&v))).transpose()?,
                },
                basis: r.try_get("basis")?,
                from_name: r.try_get("from_name")?,
                to_name: r.try_get("to_name")?,
                created_at: r.try_get("created_at")?,
            })
        }

        async fn delegations_where(tx: &mut Conn, filter: &'static str, scope: &Scope, id: Option<Uuid>) -> Result<Vec<DelegationRecord>> {
            let sql = format!("{DELEGATION_SELECT} WHERE d.agency_id = $1 {filter} ORDER BY d.created_at DESC, d.id DESC");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(scope.agency_id().as_uuid());
            if let Some(id) = id {
                q = q.bind(id);
            }
            q.fetch_all(&mut *tx).await?.iter().map(delegation_from_row).collect()
        }

        #[async_trait]
        impl DelegationRepo for $Store {
            async fn create_delegation(&self, actor: &Actor, scope: &Scope, new: NewDelegation) -> Result<DelegationRecord> {
                let grantor = actor.user_id.ok_or(vanban_domain::DomainError::FieldRequired { field: "from_user" })?;
                let basis = vanban_domain::clean_text("basis", &new.basis, 500, true)?;
                let at = now();
                crate::sql::write_tx!(self, |tx| {
                    // Both people belong to the scope's agency and are active.
                    for user in [grantor, new.to_user] {
                        let rec = self.login_record(&mut tx, user).await?;
                        if rec.agency_id != scope.agency_id() || !rec.active {
                            return Err(StoreError::NotFound);
                        }
                    }
                    // How the grantor holds the power: in their own right as a leader, or through
                    // a delegation in force (authorisation first: it cannot be passed on).
                    let roles = roles_in_tx(&mut tx, grantor, scope.agency_id()).await?;
                    let grantor_power = if roles.contains(&Role::Leader) {
                        None
                    } else {
                        let held: Vec<SigningAuthority> = delegations_where(&mut tx, "AND d.to_user = $2", scope, Some(grantor.as_uuid()))
                            .await?
                            .into_iter()
                            .filter(|d| d.delegation.is_active_at(at))
                            .map(|d| d.delegation.authority)
                            .collect();
                        match held.iter().find(|a| **a == SigningAuthority::ByAuthorisation).or(held.first()) {
                            Some(a) => Some(*a),
                            None => return Err(vanban_domain::DomainError::Forbidden("grant_delegation").into()),
                        }
                    };
                    let d = Delegation::new(
                        DelegationId::from_uuid(Uuid::now_v7()),
                        scope.agency_id(),
                        grantor,
                        new.to_user,
                        new.authority,
                        audit::truncate_micros(new.valid_from),
                        audit::truncate_micros(new.valid_until),
                        grantor_power,
                    )?;
                    sqlx::query(
                        "INSERT INTO delegations (id, agency_id, from_user, to_user, authority, valid_from, valid_until, revoked_at, received_via, basis, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10)",
                    )
                    .bind(d.id.as_uuid())
                    .bind(d.agency_id.as_uuid())
                    .bind(d.from_user.as_uuid())
                    .bind(d.to_user.as_uuid())
                    .bind(d.authority.as_str())
                    .bind(d.valid_from)
                    .bind(d.valid_until)
                    .bind(d.received_via.map(|v| v.as_str()))
                    .bind(&basis)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    let detail = serde_json::json!({
                        "to_user": d.to_user, "authority": d.authority.as_str(), "valid_from": d.valid_from,
                        "valid_until": d.valid_until, "basis": basis,
                    });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "delegation.create", "delegation", &d.id.to_string(), detail).await?;
                    let rec = delegations_where(&mut tx, "AND d.id = $2", scope, Some(d.id.as_uuid())).await?.pop().ok_or(StoreError::NotFound)?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn get_delegation(&self, scope: &Scope, id: DelegationId) -> Result<DelegationRecord> {
                let mut tx = self.pool.begin().await?;
                let rec = delegations_where(&mut tx, "AND d.id = $2", scope, Some(id.as_uuid())).await?.pop().ok_or(StoreError::NotFound)?;
                tx.commit().await?;
                Ok(rec)
            }

            async fn list_delegations(&self, scope: &Scope) -> Result<Vec<DelegationRecord>> {
                let mut tx = self.pool.begin().await?;
                let list = delegations_where(&mut tx, "", scope, None).await?;
                tx.commit().await?;
                Ok(list)
            }

            async fn revoke_delegation(&self, actor: &Actor, scope: &Scope, id: DelegationId) -> Result<DelegationRecord> {
                crate::sql::write_tx!(self, |tx| {
                    let mut rec = delegations_where(&mut tx, "AND d.id = $2", scope, Some(id.as_uuid())).await?.pop().ok_or(StoreError::NotFound)?;
                    let at = now();
                    if rec.delegation.revoked_at.is_some() || at >= rec.delegation.valid_until {
                        return Err(vanban_domain::DomainError::InvalidDelegation("the delegation is no longer in force").into());
                    }
                    rec.delegation.revoke(at);
                    sqlx::query("UPDATE delegations SET revoked_at = $1 WHERE id = $2").bind(at).bind(id.as_uuid()).execute(&mut *tx).await?;
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "delegation.revoke", "delegation", &id.to_string(), serde_json::json!({})).await?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn delegations_to(&self, scope: &Scope, user: UserId, at: DateTime<Utc>) -> Result<Vec<DelegationRecord>> {
                let mut tx = self.pool.begin().await?;
                let list = delegations_where(&mut tx, "AND d.to_user = $2", scope, Some(user.as_uuid())).await?;
                tx.commit().await?;
                Ok(list.into_iter().filter(|d| d.delegation.is_active_at(at)).collect())
            }
        }

        const CERT_COLS: &str = "id, agency_id, user_id, kind, serial_hex, issuer, subject, not_before, not_after, fingerprint, cert_der, chain_der, provider, status, revoked_at, revocation_reason, created_by, created_at";

        fn certificate_from_row(r: &$Row, with_key: bool) -> Result<CertificateRecord> {
            let t = "certificates";
            let chain: Vec<u8> = r.try_get("chain_der")?;
            let chain_der = crate::model::split_der(&chain)
                .ok_or_else(|| StoreError::corrupt(t, "chain_der is not concatenated DER"))?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect();
            let code = |c: &str| -> Result<String> { Ok(r.try_get::<String, _>(c)?) };
            Ok(CertificateRecord {
                id: r.try_get("id")?,
                agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                user_id: r.try_get::<Option<Uuid>, _>("user_id")?.map(UserId::from_uuid),
                kind: CertKind::from_code(&code("kind")?).ok_or_else(|| StoreError::corrupt(t, "kind"))?,
                serial_hex: r.try_get("serial_hex")?,
                issuer: r.try_get("issuer")?,
                subject: r.try_get("subject")?,
                not_before: r.try_get("not_before")?,
                not_after: r.try_get("not_after")?,
                fingerprint: r.try_get("fingerprint")?,
                cert_der: r.try_get("cert_der")?,
                chain_der,
                provider: KeyProvider::from_code(&code("provider")?).ok_or_else(|| StoreError::corrupt(t, "provider"))?,
                sealed_key: if with_key { r.try_get("sealed_key")? } else { None },
                status: CertStatus::from_code(&code("status")?).ok_or_else(|| StoreError::corrupt(t, "status"))?,
                revoked_at: r.try_get("revoked_at")?,
                revocation_reason: r.try_get("revocation_reason")?,
                created_by: r.try_get::<Option<Uuid>, _>("created_by")?.map(UserId::from_uuid),
                created_at: r.try_get("created_at")?,
            })
        }

        /// Which certificates to read.
        enum CertWhere {
            /// Of an agency: a person's (`Some`) or the organisational ones (`None`).
            Owner(AgencyId, Option<UserId>),
            /// One of an agency, by id.
            Id(AgencyId, Uuid),
            /// Any, by serial number (unscoped).
            Serial(String),
        }

        async fn certificates_where(tx: &mut Conn, w: CertWhere, with_key: bool) -> Result<Vec<CertificateRecord>> {
            let filter = match &w {
                CertWhere::Owner(_, Some(_)) => "agency_id = $1 AND user_id = $2",
                CertWhere::Owner(_, None) => "agency_id = $1 AND user_id IS NULL",
                CertWhere::Id(..) => "agency_id = $1 AND id = $2",
                CertWhere::Serial(_) => "serial_hex = $1",
            };
            let key = if with_key { ", sealed_key" } else { "" };
            let sql = format!("SELECT {CERT_COLS}{key} FROM certificates WHERE {filter} ORDER BY created_at DESC, id DESC");
            let q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let q = match w {
                CertWhere::Owner(a, Some(u)) => q.bind(a.as_uuid()).bind(u.as_uuid()),
                CertWhere::Owner(a, None) => q.bind(a.as_uuid()),
                CertWhere::Id(a, id) => q.bind(a.as_uuid()).bind(id),
                CertWhere::Serial(s) => q.bind(s),
            };
            q.fetch_all(&mut *tx).await?.iter().map(|r| certificate_from_row(r, with_key)).collect()
        }

        /// A certificate of the scope's agency that may still sign (`certificate_revoked` if not).
        async fn active_certificate(tx: &mut Tx, scope: &Scope, id: Uuid) -> Result<CertificateRecord> {
            let cert = certificates_where(tx, CertWhere::Id(scope.agency_id(), id), false).await?.pop().ok_or(StoreError::NotFound)?;
            if cert.status == CertStatus::Revoked {
                return Err(StoreError::Conflict { code: "certificate_revoked" });
            }
            Ok(cert)
        }

        /// Fails with `NotFound` unless the user belongs to the scope's agency.
        async fn user_in_scope(tx: &mut Tx, scope: &Scope, user: UserId, active_only: bool) -> Result<()> {
            let row = sqlx::query("SELECT agency_id, active FROM users WHERE id = $1")
                .bind(user.as_uuid())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let agency: Uuid = row.try_get("agency_id")?;
            let active: bool = row.try_get("active")?;
            if agency != scope.agency_id().as_uuid() || (active_only && !active) {
                return Err(StoreError::NotFound);
            }
            Ok(())
        }

        const REVISION_COLS: &str = "document_id, seq, agency_id, kind, pdf_sha256, pdf_size, certificate_id, signer_name, signed_at, validation, created_by, created_at";

        /// A document's revisions in order, or only its head.
        async fn revisions_where(conn: &mut Conn, id: DocumentId, head_only: bool) -> Result<Vec<RevisionRecord>> {
            let order = if head_only { "ORDER BY seq DESC LIMIT 1" } else { "ORDER BY seq" };
            let sql = format!("SELECT {REVISION_COLS} FROM document_revisions WHERE document_id = $1 {order}");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_uuid()).fetch_all(&mut *conn).await?;
            rows.iter().map(|r| revision_from_row(r, "")).collect()
        }

        /// A revision from a row of [`REVISION_COLS`], each named with `prefix` in front
        /// (a revision joined to another table's row).
        fn revision_from_row(r: &$Row, prefix: &str) -> Result<RevisionRecord> {
            let t = "document_revisions";
            let c = |name: &str| -> String { format!("{prefix}{name}") };
            let validation: Option<String> = r.try_get(c("validation").as_str())?;
            Ok(RevisionRecord {
                document_id: DocumentId::from_uuid(r.try_get(c("document_id").as_str())?),
                seq: r.try_get(c("seq").as_str())?,
                agency_id: AgencyId::from_uuid(r.try_get(c("agency_id").as_str())?),
                kind: RevisionKind::from_code(&r.try_get::<String, _>(c("kind").as_str())?).ok_or_else(|| StoreError::corrupt(t, "kind"))?,
                pdf_sha256: r.try_get(c("pdf_sha256").as_str())?,
                pdf_size: r.try_get(c("pdf_size").as_str())?,
                certificate_id: r.try_get(c("certificate_id").as_str())?,
                signer_name: r.try_get(c("signer_name").as_str())?,
                signed_at: r.try_get(c("signed_at").as_str())?,
                validation: validation.map(|v| parse(t, serde_json::from_str(&v))).transpose()?,
                created_by: r.try_get::<Option<Uuid>, _>(c("created_by").as_str())?.map(UserId::from_uuid),
                created_at: r.try_get(c("created_at").as_str())?,
            })
        }

        /// Validates `new` and inserts it on the document's head inside the caller's transaction
        /// (`stale_revision` when the head moved). Returns (seq, pdf_sha256, base, signer_name).
        async fn insert_revision(
            tx: &mut Tx,
            actor: &Actor,
            scope: &Scope,
            document_id: DocumentId,
            new: &NewRevision,
        ) -> Result<(i32, String, Option<String>, Option<String>)> {
            let head = read_head(tx, document_id).await?;
            let cert_status = match new.certificate_id {
                Some(c) => sqlx::query_scalar("SELECT status FROM certificates WHERE agency_id = $1 AND id = $2")
                    .bind(scope.agency_id().as_uuid())
                    .bind(c)
                    .fetch_optional(&mut **tx)
                    .await?,
                None => None,
            };
            let mut w = crate::sql::Writes::<$Db>::new(false);
            revision_into(&mut w, tx, actor, scope, document_id, new, head, cert_status).await
        }

        /// [`insert_revision`] with what it reads already read: the document's head (seq,
        /// pdf_sha256) and the status of the certificate `new` names (`None`: not the scope's
        /// agency's). Its INSERT is added to `w`.
        #[allow(clippy::too_many_arguments)]
        async fn revision_into(
            w: &mut crate::sql::Writes<$Db>,
            tx: &mut Tx,
            actor: &Actor,
            scope: &Scope,
            document_id: DocumentId,
            new: &NewRevision,
            head: Option<(i32, String)>,
            cert_status: Option<String>,
        ) -> Result<(i32, String, Option<String>, Option<String>)> {
            let pdf_sha256 = crate::sql::sha256_hex("pdf_sha256", &new.pdf_sha256)?;
            let base = new.base_sha256.as_deref().map(|b| crate::sql::sha256_hex("base_sha256", b)).transpose()?;
            if new.pdf_size < 1 {
                return Err(vanban_domain::DomainError::InvalidValue { field: "pdf_size", reason: crate::sql::MUST_BE_POSITIVE }.into());
            }
            let signer_name = new.signer_name.as_deref().map(|n| vanban_domain::clean_text("signer_name", n, 200, false)).transpose()?.filter(|n| !n.is_empty());
            let signed_at = new.signed_at.map(audit::truncate_micros);
            if head.as_ref().map(|h| h.1.as_str()) != base.as_deref() {
                return Err(StoreError::Conflict { code: "stale_revision" });
            }
            if new.certificate_id.is_some() {
                match cert_status.as_deref() {
                    None => return Err(StoreError::NotFound),
                    Some(s) if s == CertStatus::Revoked.as_str() => return Err(StoreError::Conflict { code: "certificate_revoked" }),
                    Some(_) => {}
                }
            }
            let seq = head.map_or(0, |h| h.0 + 1);
            let at = now();
            w.push(tx, |q| {
                q.push("INSERT INTO document_revisions (document_id, seq, agency_id, kind, pdf_sha256, pdf_size, certificate_id, signer_name, signed_at, validation, created_by, created_at) VALUES (");
                let mut v = q.separated(", ");
                v.push_bind(document_id.as_uuid())
                    .push_bind(seq)
                    .push_bind(scope.agency_id().as_uuid())
                    .push_bind(new.kind.as_str())
                    .push_bind(pdf_sha256.clone())
                    .push_bind(new.pdf_size)
                    .push_bind(new.certificate_id)
                    .push_bind(signer_name.clone())
                    .push_bind(signed_at)
                    .push_bind(new.validation.as_ref().map(|v| v.to_string()))
                    .push_bind(actor.user_id.map(|u| u.as_uuid()))
                    .push_bind(at);
                q.push(")");
            })
            .await?;
            Ok((seq, pdf_sha256, base, signer_name))
        }

        /// A document's head revision: (seq, pdf_sha256), `None` before the first.
        async fn read_head(tx: &mut Tx, id: DocumentId) -> Result<Option<(i32, String)>> {
            let head = sqlx::query("SELECT seq, pdf_sha256 FROM document_revisions WHERE document_id = $1 ORDER BY seq DESC LIMIT 1")
                .bind(id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
            head.map(|r| Ok((r.try_get::<i32, _>("seq")?, r.try_get::<String, _>("pdf_sha256")?))).transpose()
        }

        /// Fails with `stale_revision` unless `base` is the document's head (`None`: no revision yet).
        async fn check_head(tx: &mut Tx, id: DocumentId, base: Option<&str>) -> Result<()> {
            if read_head(tx, id).await?.as_ref().map(|h| h.1.as_str()) != base {
                return Err(StoreError::Conflict { code: "stale_revision" });
            }
            Ok(())
        }

        const SESSION_COLS: &str = "id, document_id, agency_id, user_id, kind, certificate_id, prepared_sha256, base_sha256, to_be_signed, digest_hex, state, created_at, expires_at";

        /// A signing session of the scope's own user and agency. A pending session past its
        /// expiry reads as expired.
        async fn session_in_scope(tx: &mut Conn, scope: &Scope, id: Uuid) -> Result<SigningSessionRecord> {
            let sql = format!("SELECT {SESSION_COLS} FROM signing_sessions WHERE id = $1 AND agency_id = $2 AND user_id = $3");
            let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(scope.agency_id().as_uuid())
                .bind(scope.user_id().as_uuid())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let t = "signing_sessions";
            let mut rec = SigningSessionRecord {
                id: r.try_get("id")?,
                document_id: DocumentId::from_uuid(r.try_get("document_id")?),
                agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                user_id: UserId::from_uuid(r.try_get("user_id")?),
                kind: SigningKind::from_code(&r.try_get::<String, _>("kind")?).ok_or_else(|| StoreError::corrupt(t, "kind"))?,
                certificate_id: r.try_get("certificate_id")?,
                prepared_sha256: r.try_get("prepared_sha256")?,
                base_sha256: r.try_get("base_sha256")?,
                to_be_signed: r.try_get("to_be_signed")?,
                digest_hex: r.try_get("digest_hex")?,
                state: SessionState::from_code(&r.try_get::<String, _>("state")?).ok_or_else(|| StoreError::corrupt(t, "state"))?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            };
            if rec.state == SessionState::Pending && rec.expires_at <= now() {
                rec.state = SessionState::Expired;
            }
            Ok(rec)
        }

        #[async_trait]
        impl PkiRepo for $Store {
            async fn get_authorities(&self) -> Result<Vec<AuthorityRecord>> {
                let rows = sqlx::query("SELECT role, cert_der, sealed_key, created_at FROM pki_authorities ORDER BY role").fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(AuthorityRecord {
                            role: AuthorityRole::from_code(&r.try_get::<String, _>("role")?).ok_or_else(|| StoreError::corrupt("pki_authorities", "role"))?,
                            cert_der: r.try_get("cert_der")?,
                            sealed_key: r.try_get("sealed_key")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn put_authorities(&self, actor: &Actor, set: Vec<NewAuthority>) -> Result<()> {
                if set.is_empty() {
                    return Err(vanban_domain::DomainError::FieldRequired { field: "authorities" }.into());
                }
                for a in &set {
                    crate::sql::one_der("cert_der", &a.cert_der)?;
                    if a.sealed_key.is_empty() {
                        return Err(vanban_domain::DomainError::FieldRequired { field: "sealed_key" }.into());
                    }
                }
                crate::sql::write_tx!(self, |tx| {
                    let at = now();
                    for a in &set {
                        sqlx::query("INSERT INTO pki_authorities (role, cert_der, sealed_key, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(a.role.as_str())
                            .bind(&a.cert_der)
                            .bind(&a.sealed_key)
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::unique_as("authorities_exist"))?;
                    }
                    let detail = serde_json::json!({
                        "authorities": set.iter().map(|a| serde_json::json!({ "role": a.role.as_str(), "fingerprint": crate::sql::sha256_of(&a.cert_der) })).collect::<Vec<_>>(),
                    });
                    write_audit(&mut tx, actor, None, "pki.create_authorities", "pki", "authorities", detail).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn create_certificate(&self, actor: &Actor, scope: &Scope, new: NewCertificate) -> Result<CertificateRecord> {
                let serial = crate::sql::hex_text("serial_hex", &new.serial_hex, 64)?;
                let issuer = vanban_domain::clean_text("issuer", &new.issuer, 1000, true)?;
                let subject = vanban_domain::clean_text("subject", &new.subject, 1000, true)?;
                let (not_before, not_after) = (audit::truncate_micros(new.not_before), audit::truncate_micros(new.not_after));
                if not_before >= not_after {
                    return Err(vanban_domain::DomainError::InvalidValue { field: "not_after", reason: crate::sql::EMPTY_PERIOD }.into());
                }
                crate::sql::one_der("cert_der", &new.cert_der)?;
                for c in &new.chain_der {
                    crate::sql::one_der("chain_der", c)?;
                }
                match (new.provider, &new.sealed_key) {
                    (KeyProvider::Software, Some(k)) if !k.is_empty() => {}
                    (KeyProvider::Pkcs11 | KeyProvider::Remote, None) => {}
                    _ => {
                        return Err(vanban_domain::DomainError::InvalidValue {
                            field: "sealed_key",
                            reason: "a software key is stored sealed, a token's or a remote service's never",
                        }
                        .into())
                    }
                }
                let (kind, user) = match new.owner {
                    Owner::User(u) => (CertKind::Person, Some(u)),
                    Owner::Agency => (CertKind::Organisation, None),
                };
                let fingerprint = crate::sql::sha256_of(&new.cert_der);
                crate::sql::write_tx!(self, |tx| {
                    if let Some(u) = user {
                        user_in_scope(&mut tx, scope, u, true).await?;
                    }
                    let id = Uuid::now_v7();
                    sqlx::query(
                        "INSERT INTO certificates (id, agency_id, user_id, kind, serial_hex, issuer, subject, not_before, not_after, fingerprint, cert_der, chain_der, provider, sealed_key, status, created_by, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'active', $15, $16)",
                    )
                    .bind(id)
                    .bind(scope.agency_id().as_uuid())
                    .bind(user.map(|u| u.as_uuid()))
                    .bind(kind.as_str())
                    .bind(&serial)
                    .bind(&issuer)
                    .bind(&subject)
                    .bind(not_before)
                    .bind(not_after)
                    .bind(&fingerprint)
                    .bind(&new.cert_der)
                    .bind(new.chain_der.concat())
                    .bind(new.provider.as_str())
                    .bind(new.sealed_key.as_deref())
                    .bind(actor.user_id.map(|u| u.as_uuid()))
                    .bind(now())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::unique_as("duplicate_certificate"))?;
                    let detail = serde_json::json!({
                        "kind": kind.as_str(), "user_id": user, "serial_hex": serial, "issuer": issuer, "subject": subject,
                        "not_before": not_before, "not_after": not_after, "fingerprint": fingerprint, "provider": new.provider.as_str(),
                    });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "certificate.create", "certificate", &id.to_string(), detail).await?;
                    let rec = certificates_where(&mut tx, CertWhere::Id(scope.agency_id(), id), true).await?.pop().ok_or(StoreError::NotFound)?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn list_certificates(&self, scope: &Scope, owner: CertOwner) -> Result<Vec<CertificateRecord>> {
                let user = match owner {
                    Owner::User(u) => Some(u),
                    Owner::Agency => None,
                };
                let mut conn = self.point_pool().acquire().await?;
                certificates_where(&mut conn, CertWhere::Owner(scope.agency_id(), user), false).await
            }

            async fn get_certificate(&self, scope: &Scope, id: Uuid) -> Result<CertificateRecord> {
                let mut tx = self.pool.begin().await?;
                let rec = certificates_where(&mut tx, CertWhere::Id(scope.agency_id(), id), true).await?.pop().ok_or(StoreError::NotFound)?;
                tx.commit().await?;
                Ok(rec)
            }

            async fn find_certificate_by_serial(&self, serial_hex: &str) -> Result<Option<CertificateRecord>> {
                let serial = crate::sql::hex_text("serial_hex", serial_hex, 64)?;
                let mut tx = self.pool.begin().await?;
                let mut found = certificates_where(&mut tx, CertWhere::Serial(serial), false).await?;
                tx.commit().await?;
                if found.len() > 1 {
                    return Err(StoreError::Conflict { code: "ambiguous_serial" });
                }
                Ok(found.pop())
            }

            async fn revoke_certificate(&self, actor: &Actor, scope: &Scope, id: Uuid, reason: String, at: DateTime<Utc>) -> Result<CertificateRecord> {
                let reason = vanban_domain::clean_text("reason", &reason, 200, true)?;
                let at = audit::truncate_micros(at);
                crate::sql::write_tx!(self, |tx| {
                    let mut rec = active_certificate(&mut tx, scope, id).await?;
                    sqlx::query("UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE id = $3")
                        .bind(at)
                        .bind(&reason)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let detail = serde_json::json!({ "serial_hex": rec.serial_hex, "issuer": rec.issuer, "reason": reason, "revoked_at": at });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "certificate.revoke", "certificate", &id.to_string(), detail).await?;
                    tx.commit().await?;
                    rec.status = CertStatus::Revoked;
                    rec.revoked_at = Some(at);
                    rec.revocation_reason = Some(reason);
                    Ok(rec)
                })
            }

            async fn revoked_certificates(&self) -> Result<Vec<RevokedRecord>> {
                let rows = sqlx::query("SELECT issuer, serial_hex, revoked_at, revocation_reason FROM certificates WHERE status = 'revoked'")
                    .fetch_all(&self.pool)
                    .await?;
                let mut list = rows
                    .iter()
                    .map(|r| {
                        Ok(RevokedRecord {
                            issuer: r.try_get("issuer")?,
                            serial_hex: r.try_get("serial_hex")?,
                            revoked_at: r.try_get::<Option<DateTime<Utc>>, _>("revoked_at")?.ok_or_else(|| StoreError::corrupt("certificates", "revoked_at"))?,
                            reason: r.try_get::<Option<String>, _>("revocation_reason")?.unwrap_or_default(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                // Compared in Rust: SQLite keeps instants as text.
                list.sort_by(|a, b| (a.revoked_at, &a.issuer, &a.serial_hex).cmp(&(b.revoked_at, &b.issuer, &b.serial_hex)));
                Ok(list)
            }

            async fn next_crl_number(&self) -> Result<i64> {
                crate::sql::write_tx!(self, |tx| {
                    sqlx::query("UPDATE pki_counters SET value = value + 1 WHERE name = 'crl_number'").execute(&mut *tx).await?;
                    let n: i64 = sqlx::query_scalar("SELECT value FROM pki_counters WHERE name = 'crl_number'").fetch_one(&mut *tx).await?;
                    write_audit(&mut tx, &Actor::system("pki"), None, "pki.crl_number", "pki", "crl_number", serde_json::json!({ "number": n })).await?;
                    tx.commit().await?;
                    Ok(n)
                })
            }

            async fn set_signing_image(&self, actor: &Actor, scope: &Scope, owner: ImageOwner, sha256: String, width_px: i32, height_px: i32) -> Result<()> {
                let sha256 = crate::sql::sha256_hex("sha256", &sha256)?;
                for (field, v) in [("width_px", width_px), ("height_px", height_px)] {
                    if !(1..=10_000).contains(&v) {
                        return Err(vanban_domain::DomainError::InvalidValue { field, reason: crate::sql::OUT_OF_RANGE }.into());
                    }
                }
                crate::sql::write_tx!(self, |tx| {
                    let (kind, owner_id) = match owner {
                        Owner::User(u) => {
                            user_in_scope(&mut tx, scope, u, false).await?;
                            ("user", u.as_uuid())
                        }
                        Owner::Agency => ("agency", scope.agency_id().as_uuid()),
                    };
                    let before: Option<String> = sqlx::query_scalar("SELECT sha256 FROM signing_images WHERE owner_kind = $1 AND owner_id = $2")
                        .bind(kind)
                        .bind(owner_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let sql = if before.is_some() {
                        "UPDATE signing_images SET agency_id = $3, sha256 = $4, width_px = $5, height_px = $6, updated_by = $7, updated_at = $8 WHERE owner_kind = $1 AND owner_id = $2"
                    } else {
                        "INSERT INTO signing_images (owner_kind, owner_id, agency_id, sha256, width_px, height_px, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    };
                    sqlx::query(sql)
                        .bind(kind)
                        .bind(owner_id)
                        .bind(scope.agency_id().as_uuid())
                        .bind(&sha256)
                        .bind(width_px)
                        .bind(height_px)
                        .bind(actor.user_id.map(|u| u.as_uuid()))
                        .bind(now())
                        .execute(&mut *tx)
                        .await?;
                    let detail = serde_json::json!({ "sha256": sha256, "before": before, "width_px": width_px, "height_px": height_px });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "signing_image.set", kind, &owner_id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn get_signing_image(&self, scope: &Scope, owner: ImageOwner) -> Result<Option<SigningImageRecord>> {
                let (kind, owner_id) = match owner {
                    Owner::User(u) => ("user", u.as_uuid()),
                    Owner::Agency => ("agency", scope.agency_id().as_uuid()),
                };
                let row = sqlx::query(
                    "SELECT agency_id, sha256, width_px, height_px, updated_by, updated_at FROM signing_images \
                     WHERE owner_kind = $1 AND owner_id = $2 AND agency_id = $3",
                )
                .bind(kind)
                .bind(owner_id)
                .bind(scope.agency_id().as_uuid())
                .fetch_optional(self.point_pool())
                .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some(SigningImageRecord {
                    owner,
                    agency_id: AgencyId::from_uuid(r.try_get("agency_id")?),
                    sha256: r.try_get("sha256")?,
                    width_px: r.try_get("width_px")?,
                    height_px: r.try_get("height_px")?,
                    updated_by: r.try_get::<Option<Uuid>, _>("updated_by")?.map(UserId::from_uuid),
                    updated_at: r.try_get("updated_at")?,
                }))
            }

            async fn append_revision(
                &self,
                actor: &Actor,
                scope: &Scope,
                document_id: DocumentId,
                new: NewRevision,
                action: Option<OutgoingAction>,
            ) -> Result<RevisionRecord> {
                crate::sql::write_tx!(self, |tx| {
                    document_in_scope(&mut tx, scope, document_id).await?;
                    let (seq, pdf_sha256, base, signer_name) = insert_revision(&mut tx, actor, scope, document_id, &new).await?;
                    let moved = match action {
                        Some(a) => Some((a, apply_action(&mut tx, scope, document_id, a).await?)),
                        None => {
                            sqlx::query("UPDATE documents SET updated_at = $1 WHERE id = $2").bind(now()).bind(document_id.as_uuid()).execute(&mut *tx).await?;
                            None
                        }
                    };
                    let mut detail = serde_json::json!({
                        "seq": seq, "kind": new.kind.as_str(), "pdf_sha256": pdf_sha256, "pdf_size": new.pdf_size,
                        "base_sha256": base, "certificate_id": new.certificate_id, "signer_name": signer_name,
                    });
                    let audit_action = match &moved {
                        Some((a, (doc, from))) => {
                            detail["from"] = from.as_str().into();
                            detail["to"] = doc.state.as_str().into();
                            format!("document.{}", a.as_str())
                        }
                        None => "document.revision".to_owned(),
                    };
                    write_audit(&mut tx, actor, Some(scope.agency_id()), &audit_action, "document", &document_id.to_string(), detail).await?;
                    let rec = revisions_where(&mut tx, document_id, true).await?.pop().ok_or(StoreError::NotFound)?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn list_revisions(&self, scope: &Scope, document_id: DocumentId) -> Result<Vec<RevisionRecord>> {
                let mut tx = self.pool.begin().await?;
                document_in_scope(&mut tx, scope, document_id).await?;
                let list = revisions_where(&mut tx, document_id, false).await?;
                tx.commit().await?;
                Ok(list)
            }

            async fn head_revision(&self, scope: &Scope, document_id: DocumentId) -> Result<Option<RevisionRecord>> {
                let mut conn = self.point_pool().acquire().await?;
                // One read in the usual case: a revision carries its agency.
                match revisions_where(&mut conn, document_id, true).await?.pop() {
                    Some(head) if head.agency_id == scope.agency_id() => Ok(Some(head)),
                    Some(_) => Err(StoreError::NotFound),
                    None => {
                        document_in_scope(&mut conn, scope, document_id).await?;
                        Ok(None)
                    }
                }
            }

            async fn create_signing_session(&self, actor: &Actor, scope: &Scope, new: NewSigningSession) -> Result<SigningSessionRecord> {
                let prepared = crate::sql::sha256_hex("prepared_sha256", &new.prepared_sha256)?;
                let base = crate::sql::sha256_hex("base_sha256", &new.base_sha256)?;
                let digest = crate::sql::hex_text("digest_hex", &new.digest_hex, 128)?;
                if new.to_be_signed.is_empty() {
                    return Err(vanban_domain::DomainError::FieldRequired { field: "to_be_signed" }.into());
                }
                let at = now();
                let expires_at = audit::truncate_micros(new.expires_at);
                if expires_at <= at {
                    return Err(vanban_domain::DomainError::InvalidValue { field: "expires_at", reason: crate::sql::EMPTY_PERIOD }.into());
                }
                let user = scope.user_id();
                crate::sql::write_tx!(self, |tx| {
                    document_in_scope(&mut tx, scope, new.document_id).await?;
                    let cert = active_certificate(&mut tx, scope, new.certificate_id).await?;
                    let fits = match new.kind {
                        SigningKind::Signer => cert.user_id == Some(user),
                        SigningKind::Agency => cert.kind == CertKind::Organisation,
                    };
                    if !fits {
                        return Err(vanban_domain::DomainError::InvalidValue { field: "certificate_id", reason: "not the signer's own certificate, or not the agency's" }.into());
                    }
                    if at < cert.not_before || at >= cert.not_after {
                        return Err(vanban_domain::DomainError::InvalidValue { field: "certificate_id", reason: "the certificate is not valid now" }.into());
                    }
                    check_head(&mut tx, new.document_id, Some(&base)).await?;
                    let id = Uuid::now_v7();
                    sqlx::query(
                        "INSERT INTO signing_sessions (id, document_id, agency_id, user_id, kind, certificate_id, prepared_sha256, base_sha256, to_be_signed, digest_hex, state, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12)",
                    )
                    .bind(id)
                    .bind(new.document_id.as_uuid())
                    .bind(scope.agency_id().as_uuid())
                    .bind(user.as_uuid())
                    .bind(new.kind.as_str())
                    .bind(new.certificate_id)
                    .bind(&prepared)
                    .bind(&base)
                    .bind(&new.to_be_signed)
                    .bind(&digest)
                    .bind(at)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await?;
                    let detail = serde_json::json!({
                        "session_id": id, "kind": new.kind.as_str(), "certificate_id": new.certificate_id, "prepared_sha256": prepared,
                        "base_sha256": base, "digest_hex": digest, "expires_at": expires_at,
                    });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.prepare_signature", "document", &new.document_id.to_string(), detail).await?;
                    let rec = session_in_scope(&mut tx, scope, id).await?;
                    tx.commit().await?;
                    Ok(rec)
                })
            }

            async fn get_signing_session(&self, scope: &Scope, id: Uuid) -> Result<SigningSessionRecord> {
                let mut tx = self.pool.begin().await?;
                let rec = session_in_scope(&mut tx, scope, id).await?;
                tx.commit().await?;
                Ok(rec)
            }

            async fn complete_signing_session(&self, actor: &Actor, scope: &Scope, id: Uuid) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    let rec = session_in_scope(&mut tx, scope, id).await?;
                    match rec.state {
                        SessionState::Pending => {}
                        SessionState::Completed => return Err(StoreError::Conflict { code: "signing_session_completed" }),
                        SessionState::Expired => return Err(StoreError::Conflict { code: "signing_session_expired" }),
                    }
                    sqlx::query("UPDATE signing_sessions SET state = 'completed' WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    let detail = serde_json::json!({ "session_id": id, "kind": rec.kind.as_str(), "digest_hex": rec.digest_hex });
                    write_audit(&mut tx, actor, Some(scope.agency_id()), "document.complete_signature", "document", &rec.document_id.to_string(), detail).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }
        }

        #[async_trait]
        impl AuditRepo for $Store {
            async fn append_audit(&self, actor: &Actor, agency_id: Option<AgencyId>, action: &str, object_type: &str, object_id: &str, detail: serde_json::Value) -> Result<()> {
                crate::sql::write_tx!(self, |tx| {
                    write_audit(&mut tx, actor, agency_id, action, object_type, object_id, detail).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            async fn search_audit(&self, scope: &AdminScope, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
                // An action family ("incoming.") matches by prefix, an action code exactly.
                let (action, family) = match q.action.as_deref() {
                    Some(a) if a.ends_with('.') => (None, Some(format!("{}%", a.replace(['%', '_'], "")))),
                    Some(a) => (Some(a.to_owned()), None),
                    None => (None, None),
                };
                let rows = sqlx::query(
                    "SELECT e.seq, e.id, e.at, e.actor_user_id, e.actor_agency_id, e.on_behalf_of, e.agency_id, e.action, e.object_type, e.object_id, e.detail, e.ip, e.prev_hash, e.hash, u.username AS actor_username \
                     FROM audit_events e JOIN agencies a ON a.id = e.agency_id LEFT JOIN users u ON u.id = e.actor_user_id \
                     WHERE a.path LIKE $1 AND ($3 IS NULL OR e.seq < $3) AND ($4 IS NULL OR u.username = $4) \
                       AND ($5 IS NULL OR e.action = $5) AND ($6 IS NULL OR e.action LIKE $6) AND ($7 IS NULL OR e.object_id = $7) \
                       AND ($8 IS NULL OR e.at >= $8) AND ($9 IS NULL OR e.at < $9) \
                     ORDER BY e.seq DESC LIMIT $2",
                )
                .bind(format!("{}%", scope.path))
                .bind(q.limit())
                .bind(q.before_seq)
                .bind(q.actor.as_deref())
                .bind(action)
                .bind(family)
                .bind(q.object_id.as_deref())
                .bind(q.from)
                .bind(q.until)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn verify_audit_chain(&self) -> Result<ChainReport> {
                let mut rows = sqlx::query(
                    "SELECT seq, id, at, actor_user_id, actor_agency_id, on_behalf_of, agency_id, action, object_type, object_id, detail, ip, prev_hash, hash FROM audit_events ORDER BY seq",
                )
                .fetch(&self.pool);
                let mut prev = audit::GENESIS.to_owned();
                let mut events = 0u64;
                let mut first_broken_seq = None;
                while let Some(r) = rows.try_next().await? {
                    events += 1;
                    let seq: i64 = r.try_get("seq")?;
                    let detail: String = r.try_get("detail")?;
                    let action: String = r.try_get("action")?;
                    let object_type: String = r.try_get("object_type")?;
                    let object_id: String = r.try_get("object_id")?;
                    let from: Option<String> = r.try_get("ip")?;
                    let stored_prev: String = r.try_get("prev_hash")?;
                    let stored: String = r.try_get("hash")?;
                    let input = audit::HashInput {
                        prev_hash: &stored_prev,
                        id: r.try_get("id")?,
                        at: r.try_get("at")?,
                        actor_user_id: r.try_get("actor_user_id")?,
                        actor_agency_id: r.try_get("actor_agency_id")?,
                        on_behalf_of: r.try_get("on_behalf_of")?,
                        agency_id: r.try_get("agency_id")?,
                        action: &action,
                        object_type: &object_type,
                        object_id: &object_id,
                        detail: &detail,
                        from: from.as_deref(),
                    };
                    if first_broken_seq.is_none() && (stored_prev != prev || audit::event_hash(&input) != stored) {
                        first_broken_seq = Some(seq);
                    }
                    prev = stored;
                }
                Ok(ChainReport { events, first_broken_seq, head_hash: prev })
            }
        }

        #[async_trait]
        impl Store for $Store {
            fn backend(&self) -> &'static str {
                BACKEND
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn make_durable(&self) -> Result<()> {
                make_durable(self).await
            }
        }
    };
}

pub(crate) use impl_sql_store;
