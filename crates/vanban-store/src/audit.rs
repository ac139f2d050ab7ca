//! The audit hash chain: each event's hash covers its content and the previous hash, so an
//! edit or deletion anywhere breaks every later link.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an event that its hash covers.
pub struct HashInput<'a> {
    pub prev_hash: &'a str,
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor_agency_id: Option<uuid::Uuid>,
    pub on_behalf_of: Option<uuid::Uuid>,
    pub agency_id: Option<uuid::Uuid>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub detail: &'a str,
    pub from: Option<&'a str>,
}

/// Truncates an instant to microseconds, the precision both backends keep.
pub fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// SHA-256 (hex) of an event: fields joined by a unit separator, so no field can run into
/// the next one.
pub fn event_hash(e: &HashInput<'_>) -> String {
    fn opt(u: Option<uuid::Uuid>) -> String {
        u.map(|u| u.to_string()).unwrap_or_default()
    }
    let parts = [
        e.prev_hash.to_owned(),
        e.id.to_string(),
        e.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        opt(e.actor_user_id),
        opt(e.actor_agency_id),
        opt(e.on_behalf_of),
        opt(e.agency_id),
        e.action.to_owned(),
        e.object_type.to_owned(),
        e.object_id.to_owned(),
        e.detail.to_owned(),
        e.from.unwrap_or_default().to_owned(),
    ];
    let mut h = Sha256::new();
    for p in &parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}
