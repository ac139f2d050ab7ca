//! Request authentication of the axis (standards.md §3.1): each logical header is sent as an
//! HTTP header `XroadVnpt-<name>`; all of them, serialised as one JSON object, travel in
//! `XroadVnpt-sign-header`, their names `;`-joined in `XroadVnpt-sign-header-key`, and
//! `XroadVnpt-hash-header` is hex(HMAC-SHA256(secret, that JSON string)).
//!
//! The exact canonical form of the national axis is unconfirmed ([U]): the verifier hashes the
//! JSON string exactly as received, then requires every named header to carry the value the
//! JSON gives, so any client that builds the JSON its own way still verifies.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Prefix of every logical header on the wire.
pub const PREFIX: &str = "XroadVnpt-";
pub const SIGN_HEADER: &str = "XroadVnpt-sign-header";
pub const SIGN_HEADER_KEY: &str = "XroadVnpt-sign-header-key";
pub const HASH_HEADER: &str = "XroadVnpt-hash-header";
pub const VERSION_HEADER: &str = "XroadVnpt-version";
pub const VERSION: &str = "3.0.201608";
/// How far a request's timestamp may be from the hub's clock.
pub const DEFAULT_WINDOW_SECS: i64 = 300;

/// A connected system's identity at the axis.
#[derive(Clone)]
pub struct Credentials {
    pub system_id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("system_id", &self.system_id).finish_non_exhaustive()
    }
}

/// Why a request's headers were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("the signed header list is not a JSON object of strings")]
    BadJson,
    #[error("unknown system {0}")]
    UnknownSystem(String),
    #[error("the HMAC does not match")]
    BadHmac,
    #[error("header {0} differs from its signed value")]
    Mismatch(String),
    #[error("timestamp {0} is missing, malformed or outside the allowed window")]
    BadTimestamp(String),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing(_) => "axis_auth_missing",
            AuthError::BadJson => "axis_auth_malformed",
            AuthError::UnknownSystem(_) => "axis_unknown_system",
            AuthError::BadHmac => "axis_bad_hmac",
            AuthError::Mismatch(_) => "axis_header_mismatch",
            AuthError::BadTimestamp(_) => "axis_bad_timestamp",
        }
    }
}

/// The axis's timestamp pattern `ddMMyyyy'T'HHmmss+SSSS` (Vietnam wall-clock time; the four
/// digits after `+` are milliseconds, as Java's `SSSS` prints them).
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&vietnam());
    format!("{}+{:04}", local.format("%d%m%YT%H%M%S"), local.timestamp_subsec_millis())
}

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let (main, millis) = s.split_once('+')?;
    let naive = NaiveDateTime::parse_from_str(main, "%d%m%YT%H%M%S").ok()?;
    let millis: i64 = millis.parse().ok()?;
    let local = vietnam().from_local_datetime(&naive).single()?;
    Some(local.with_timezone(&Utc) + chrono::Duration::milliseconds(millis))
}

fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("a valid offset")
}

/// The headers of a signed request: the logical headers (`systemid` and `timestamp` added),
/// each as `XroadVnpt-<name>`, plus the signature headers.
pub fn sign(creds: &Credentials, logical: &[(&str, &str)], now: DateTime<Utc>) -> Vec<(String, String)> {
    let mut map = BTreeMap::new();
    for (k, v) in logical {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    map.insert("systemid".to_owned(), creds.system_id.clone());
    map.insert("timestamp".to_owned(), format_timestamp(now));
    let json = serde_json::to_string(&map).expect("a map of strings serialises");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, creds.secret.as_bytes());
    let mac = hex::encode(ring::hmac::sign(&key, json.as_bytes()).as_ref());
    let mut out: Vec<(String, String)> = map.iter().map(|(k, v)| (format!("{PREFIX}{k}"), header_safe(v))).collect();
    out.push((SIGN_HEADER_KEY.to_owned(), map.keys().cloned().collect::<Vec<_>>().join(";")));
    out.push((SIGN_HEADER.to_owned(), header_safe(&json)));
    out.push((HASH_HEADER.to_owned(), mac));
    out.push((VERSION_HEADER.to_owned(), VERSION.to_owned()));
    out
}

/// Header values must be visible ASCII: anything else (Vietnamese text) is percent-encoded.
/// The receiver decodes with [`header_value`].
fn header_safe(v: &str) -> String {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a header value written by [`header_safe`].
pub fn header_value(v: &str) -> String {
    if !v.contains('%') {
        return v.to_owned();
    }
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&v[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request whose signature verified: the system and its logical headers.
#[derive(Debug, Clone)]
pub struct Verified {
    pub system_id: String,
    pub headers: BTreeMap<String, String>,
}

impl Verified {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Verifies a request's headers. `get` reads a raw HTTP header; `secret_of` finds a system's
/// secret.
pub fn verify(
    get: impl Fn(&str) -> Option<String>,
    secret_of: impl Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<Verified, AuthError> {
    let json = header_value(&get(SIGN_HEADER).ok_or(AuthError::Missing(SIGN_HEADER))?);
    let keys = get(SIGN_HEADER_KEY).ok_or(AuthError::Missing(SIGN_HEADER_KEY))?;
    let mac_hex = get(HASH_HEADER).ok_or(AuthError::Missing(HASH_HEADER))?;
    let map: BTreeMap<String, String> = serde_json::from_str(&json).map_err(|_| AuthError::BadJson)?;
    let system = map.get("systemid").ok_or(AuthError::Missing("systemid"))?.clone();
    let secret = secret_of(&system).ok_or_else(|| AuthError::UnknownSystem(system.clone()))?;
    let mac = hex::decode(mac_hex.trim()).map_err(|_| AuthError::BadHmac)?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, json.as_bytes(), &mac).map_err(|_| AuthError::BadHmac)?;
    // Every header the list names must carry its signed value (a proxy cannot swap one).
    for k in keys.split(';').map(str::trim).filter(|k| !k.is_empty()) {
        let signed = map.get(k).ok_or_else(|| AuthError::Mismatch(k.to_owned()))?;
        let sent = get(&format!("{PREFIX}{k}")).map(|v| header_value(&v));
        if sent.as_deref() != Some(signed.as_str()) {
            return Err(AuthError::Mismatch(k.to_owned()));
        }
    }
    // And the list must name everything the JSON holds.
    let named: std::collections::BTreeSet<&str> = keys.split(';').map(str::trim).collect();
    if let Some(k) = map.keys().find(|k| !named.contains(k.as_str())) {
        return Err(AuthError::Mismatch(k.clone()));
    }
    let ts = map.get("timestamp").ok_or_else(|| AuthError::BadTimestamp(String::new()))?;
    let at = parse_timestamp(ts).ok_or_else(|| AuthError::BadTimestamp(ts.clone()))?;
    if (now - at).num_seconds().abs() > window_secs {
        return Err(AuthError::BadTimestamp(ts.clone()));
    }
    Ok(Verified { system_id: system, headers: map })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials { system_id: "vanban.tinh".to_owned(), secret: "bí mật".to_owned() }
    }

    fn lookup(h: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    #[test]
    fn timestamps_round_trip() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 6, 5, 1).unwrap() + chrono::Duration::milliseconds(123);
        let s = format_timestamp(now);
        assert_eq!(s, "03122026T130501+0123");
        assert_eq!(parse_timestamp(&s), Some(now));
    }

    #[test]
    fn signed_headers_verify_and_tampering_is_caught() {
        let now = Utc::now();
        let h = sign(&creds(), &[("messagetype", "edoc"), ("from", "000.00.00.H58"), ("note", "Sở Tài chính")], now);
        let secret = |s: &str| (s == "vanban.tinh").then(|| "bí mật".to_owned());
        let v = verify(lookup(&h), secret, now, 300).unwrap();
        assert_eq!(v.system_id, "vanban.tinh");
        assert_eq!(v.get("note"), Some("Sở Tài chính"));
        assert_eq!(v.get("messagetype"), Some("edoc"));

        // A swapped header value.
        let mut bad = h.clone();
        bad.iter_mut().find(|(k, _)| k == "XroadVnpt-from").unwrap().1 = "000.00.00.G22".to_owned();
        assert_eq!(verify(lookup(&bad), secret, now, 300).unwrap_err(), AuthError::Mismatch("from".into()));
        // A wrong secret.
        assert_eq!(verify(lookup(&h), |_| Some("khác".to_owned()), now, 300).unwrap_err(), AuthError::BadHmac);
        // An unknown system.
        assert!(matches!(verify(lookup(&h), |_| None, now, 300), Err(AuthError::UnknownSystem(_))));
        // Replayed later than the window.
        let later = now + chrono::Duration::seconds(301);
        assert!(matches!(verify(lookup(&h), secret, later, 300), Err(AuthError::BadTimestamp(_))));
        // Missing signature.
        let none: Vec<(String, String)> = h.iter().filter(|(k, _)| k != HASH_HEADER).cloned().collect();
        assert_eq!(verify(lookup(&none), secret, now, 300).unwrap_err(), AuthError::Missing(HASH_HEADER));
    }
}
