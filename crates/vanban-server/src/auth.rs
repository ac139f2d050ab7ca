//! Passwords (argon2), server-side sessions, CSRF, and the extractors that turn a request
//! into a [`Caller`] — the only way a handler learns who is asking.

use std::net::SocketAddr;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};
use vanban_domain::{Caller, DomainError, Username};
use vanban_store::{Actor, AgencyRecord, Scope, SessionRecord, UserRecord};

use crate::AppState;
use crate::error::{ApiError, AppError, PageError};

pub const SESSION_COOKIE: &str = "vanban_session";
pub const LOGIN_CSRF_COOKIE: &str = "vanban_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    check_password_policy(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// The minimum a password must satisfy.
pub fn check_password_policy(password: &str) -> Result<(), DomainError> {
    if password.chars().count() < 8 {
        return Err(DomainError::InvalidValue { field: "password", reason: "at least 8 characters" });
    }
    if password.len() > 256 {
        return Err(DomainError::FieldTooLong { field: "password", max: 256, actual: password.len() });
    }
    Ok(())
}

fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A hash of a random password, verified against when a username does not exist so that
/// the answer takes as long as for a real account.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// 32 random bytes, hex-encoded.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn client_ip(parts: &Parts) -> Option<String> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// A `Set-Cookie` value for a cookie of this instance.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Checks a username and password, counting failures and locking the account after too
/// many, and opens a session. Returns the session token for the cookie.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    ip: Option<String>,
) -> Result<(String, SessionRecord), AppError> {
    let username = Username::parse(username).ok();
    let record = match &username {
        Some(u) => state.store.find_login(u.as_str()).await?,
        None => None,
    };
    let Some(record) = record else {
        let pw = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || verify_password(&pw, dummy_hash())).await;
        tokio::time::sleep(state.config.login_failure_delay).await;
        return Err(AppError::InvalidCredentials);
    };
    let now = Utc::now();
    if let Some(until) = record.locked_until.filter(|u| *u > now) {
        return Err(AppError::AccountLocked { until: crate::pages::format_vn_time(until) });
    }
    let (pw, hash) = (password.to_owned(), record.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !ok || !record.active {
        let after = state
            .store
            .record_login_failure(
                record.user_id,
                now,
                state.config.login_lock_after,
                state.config.login_lock_for,
                ip.as_deref(),
            )
            .await?;
        // Each failure in a row waits longer, so guessing is slow even before the lock.
        let n = u32::try_from(record.failed_logins.max(0)).unwrap_or(0) + 1;
        tokio::time::sleep(state.config.login_failure_delay * n.min(5)).await;
        if let Some(until) = after.locked_until.filter(|u| *u > now) {
            return Err(AppError::AccountLocked { until: crate::pages::format_vn_time(until) });
        }
        return Err(AppError::InvalidCredentials);
    }
    let actor = Actor {
        user_id: Some(record.user_id),
        agency_id: Some(record.agency_id),
        on_behalf_of: None,
        from: ip.clone(),
    };
    state.store.record_login_success(&actor, record.user_id).await?;
    let token = random_token();
    let session = SessionRecord {
        token_hash: sha256_hex(&token),
        user_id: record.user_id,
        csrf_token: random_token(),
        created_at: now,
        expires_at: now + state.config.session_ttl,
        ip,
    };
    state.store.create_session(session.clone()).await?;
    Ok((token, session))
}

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub user: UserRecord,
    pub agency: AgencyRecord,
    pub csrf_token: String,
    pub token_hash: String,
    pub ip: Option<String>,
}

impl Session {
    pub fn scope(&self) -> Scope {
        Scope::of(&self.caller)
    }

    pub fn actor(&self) -> Actor {
        Actor::user(&self.caller, self.ip.clone())
    }

    /// Checks the CSRF token a form carried.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        if constant_time_eq(token, &self.csrf_token) { Ok(()) } else { Err(AppError::Csrf) }
    }

    async fn from_parts(parts: &Parts, state: &AppState) -> Result<Session, AppError> {
        let token = cookie_value(&parts.headers, SESSION_COOKIE).ok_or(AppError::Unauthenticated)?;
        let token_hash = sha256_hex(token);
        let record = state.store.get_session(&token_hash).await?.ok_or(AppError::Unauthenticated)?;
        if record.expires_at <= Utc::now() {
            state.store.delete_session(&token_hash).await?;
            return Err(AppError::Unauthenticated);
        }
        let caller = match state.store.caller_for(record.user_id).await {
            Ok(c) => c,
            Err(vanban_store::StoreError::NotFound) => return Err(AppError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let user = state.store.get_user(&Scope::of(&caller), caller.user_id).await?;
        let agency = state.store.get_agency(caller.agency_id).await?;
        Ok(Session { caller, user, agency, csrf_token: record.csrf_token, token_hash, ip: client_ip(parts) })
    }
}

/// The client's address as the socket saw it (proxies' headers are not trusted).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// A session for the JSON API. Requests that change state must carry the session's CSRF
/// token in the `X-CSRF-Token` header.
pub struct ApiSession(pub Session);

impl FromRequestParts<AppState> for ApiSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let s = Session::from_parts(parts, state).await?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            s.check_csrf(sent)?;
        }
        Ok(ApiSession(s))
    }
}

/// A session for the pages. Forms carry the CSRF token in a hidden field, checked by the
/// handler with [`Session::check_csrf`].
pub struct PageSession(pub Session);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PageSession(Session::from_parts(parts, state).await?))
    }
}
