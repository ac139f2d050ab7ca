//! The document exchange axis as vanban speaks it, on both sides: the API shape of the
//! national axis (standards.md §3.1: `/sendEdoc`, `/getReceivedEdocList`, `/getEdoc`,
//! `/updateStatus`, `/getSentEdocList`, the agency directory), its HMAC-signed request headers
//! ([`auth`]), the JSON answers ([`Answer`] and friends) and an HTTP client ([`AxisClient`])
//! used by each instance's exchange worker. `vanban-hub` is the server side.
//!
//! Knows nothing of edXML's insides: packages are bytes here.

#![forbid(unsafe_code)]

pub mod auth;
mod client;

pub use auth::{AuthError, Credentials};
pub use client::{AxisClient, ClientError, https_connector};
use serde::{Deserialize, Serialize};

/// The answer of every operation: `status` OK or FAIL, and on failure a stable code and a
/// description. `DocID` is the id the axis gave a sent package.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    pub status: String,
    #[serde(rename = "ErrorCode", default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    #[serde(rename = "ErrorDesc", default, skip_serializing_if = "String::is_empty")]
    pub error_desc: String,
    #[serde(rename = "DocID", default, skip_serializing_if = "String::is_empty")]
    pub doc_id: String,
    /// Set when a resend was recognised: the package was already stored under `DocID`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

impl Answer {
    pub fn ok() -> Self {
        Answer { status: "OK".to_owned(), ..Answer::default() }
    }
    pub fn fail(code: &str, desc: impl Into<String>) -> Self {
        Answer { status: "FAIL".to_owned(), error_code: code.to_owned(), error_desc: desc.into(), ..Answer::default() }
    }
    pub fn is_ok(&self) -> bool {
        self.status == "OK"
    }
}

/// A package waiting for the caller (`/getReceivedEdocList`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReceivedItem {
    #[serde(rename = "docId")]
    pub doc_id: String,
    #[serde(rename = "serviceType", default)]
    pub service_type: String,
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(default)]
    pub from: String,
    /// The caller's agencies it is addressed to.
    #[serde(default)]
    pub to: Vec<String>,
    /// When the axis stored it (RFC 3339).
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub size: u64,
}

/// A package the caller sent, and where each addressee stands (`/getSentEdocList`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SentItem {
    #[serde(rename = "docId")]
    pub doc_id: String,
    #[serde(rename = "messageType")]
    pub message_type: String,
    pub from: String,
    pub created: String,
    pub addressees: Vec<AddresseeState>,
}

/// One addressee system of a package: `pending`, `processing`, `done` or `fail`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddresseeState {
    pub codes: Vec<String>,
    pub state: String,
    #[serde(default)]
    pub fetched: bool,
    #[serde(default)]
    pub acked_at: Option<String>,
}

/// An agency in the axis's directory (`/getAgenciesList`, `/registerAgency`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Agency {
    /// The code (QCVN 102 or QĐ 20/2020).
    pub code: String,
    /// The parent's code, if any.
    #[serde(default)]
    pub pcode: String,
    pub name: String,
    #[serde(default)]
    pub mail: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub fax: String,
    /// The connected system that receives for it (filled by the axis).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system: String,
}

/// A list answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListAnswer<T> {
    pub status: String,
    #[serde(rename = "ErrorCode", default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    #[serde(rename = "ErrorDesc", default, skip_serializing_if = "String::is_empty")]
    pub error_desc: String,
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

impl<T> ListAnswer<T> {
    pub fn ok(data: Vec<T>) -> Self {
        ListAnswer { status: "OK".to_owned(), error_code: String::new(), error_desc: String::new(), data }
    }
}

/// The pickup acknowledgements of `/updateStatus` (not the business status of a document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pickup {
    Processing,
    Done,
    Fail,
}

impl Pickup {
    pub fn as_str(self) -> &'static str {
        match self {
            Pickup::Processing => "processing",
            Pickup::Done => "done",
            Pickup::Fail => "fail",
        }
    }
    pub fn parse(s: &str) -> Option<Pickup> {
        match s {
            "processing" => Some(Pickup::Processing),
            "done" => Some(Pickup::Done),
            "fail" => Some(Pickup::Fail),
            _ => None,
        }
    }
}
