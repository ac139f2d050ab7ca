//! The data model of edXML packages (QCVN 102:2016): document (`edoc`) and status packages.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A date as written ("yyyy/MM/dd"; "dd/MM/yyyy" and "yyyy-MM-dd" are accepted on input) with its
/// parsed value when it is a real date. Invalid dates are kept (`date` = None) and flagged as a
/// warning, never rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EdDate {
    pub raw: String,
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

impl EdDate {
    /// A date written the way the VNPT library writes it: `yyyy/MM/dd`.
    pub fn from_date(date: NaiveDate) -> EdDate {
        EdDate { raw: date.format("%Y/%m/%d").to_string(), date: Some(date) }
    }

    /// Parses the text of a date element (trimmed); keeps the text whatever it is.
    pub fn parse(raw: &str) -> EdDate {
        let raw = raw.trim();
        let date = ["%Y/%m/%d", "%d/%m/%Y", "%Y-%m-%d"].iter().find_map(|f| NaiveDate::parse_from_str(raw, f).ok());
        EdDate { raw: raw.to_owned(), date }
    }

    /// The text to write: `yyyy/MM/dd` when the date is valid, the original text otherwise.
    pub fn to_wire(&self) -> String {
        match self.date {
            Some(d) => d.format("%Y/%m/%d").to_string(),
            None => self.raw.clone(),
        }
    }

    /// Whether the element was empty.
    pub fn is_empty(&self) -> bool {
        self.raw.trim().is_empty() && self.date.is_none()
    }
}

/// A date and time, "yyyy/MM/dd HH:mm:ss" ("dd/MM/yyyy HH:mm:ss" accepted on input); local
/// Vietnam time, no zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EdDateTime {
    pub raw: String,
    #[serde(default)]
    pub value: Option<NaiveDateTime>,
}

impl EdDateTime {
    /// A timestamp written `yyyy/MM/dd HH:mm:ss` (sub-seconds dropped).
    pub fn from_naive(value: NaiveDateTime) -> EdDateTime {
        let raw = value.format("%Y/%m/%d %H:%M:%S").to_string();
        let value = NaiveDateTime::parse_from_str(&raw, "%Y/%m/%d %H:%M:%S").ok();
        EdDateTime { raw, value }
    }

    /// Parses the text of a timestamp element (trimmed); keeps the text whatever it is.
    pub fn parse(raw: &str) -> EdDateTime {
        let raw = raw.trim();
        let value = ["%Y/%m/%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok());
        EdDateTime { raw: raw.to_owned(), value }
    }

    /// The text to write: `yyyy/MM/dd HH:mm:ss` when valid, the original text otherwise.
    pub fn to_wire(&self) -> String {
        match self.value {
            Some(v) => v.format("%Y/%m/%d %H:%M:%S").to_string(),
            None => self.raw.clone(),
        }
    }
}

/// An agency: the issuer (`From`), a recipient (`To`) or the party reporting a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Organization {
    pub organ_id: String,
    pub organ_name: String,
    pub organization_in_charge: String,
    pub organ_add: String,
    pub email: String,
    pub telephone: String,
    pub fax: String,
    pub website: String,
}

/// "Số, ký hiệu": number and notation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Code {
    pub number: String,
    pub notation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DocumentTypeInfo {
    pub r#type: String,
    pub type_detail: String,
    pub type_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SignerInfo {
    pub competence: String,
    pub position: String,
    pub full_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct OtherInfo {
    /// "0" Thường … "4" Hỏa tốc hẹn giờ.
    pub priority: String,
    pub sphere_of_promulgation: String,
    pub typer_notation: String,
    pub promulgation_amount: String,
    pub page_amount: String,
    pub direction: String,
    pub appendixes: Vec<String>,
}

/// The earlier document a package answers or reports on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ResponseFor {
    pub organ_id: String,
    /// "7816/VPCP-TTĐT".
    pub code: String,
    pub promulgation_date: EdDate,
    pub document_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StaffInfo {
    pub department: String,
    pub staff: String,
    pub email: String,
    pub mobile: String,
}

/// The `MessageHeader` of a document package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct EdocHeader {
    pub from: Organization,
    pub to: Vec<Organization>,
    pub document_id: String,
    pub code: Code,
    pub place: String,
    pub promulgation_date: EdDate,
    pub document_type: DocumentTypeInfo,
    pub subject: String,
    pub content: String,
    pub signer: SignerInfo,
    pub due_date: Option<EdDate>,
    pub other_info: OtherInfo,
    pub response_for: Vec<ResponseFor>,
    pub steering_type: Option<String>,
    pub to_places: Vec<String>,
}

/// `BussinessDocType`: what the package does to the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum BusinessDocType {
    #[default]
    New = 0,
    Revoke = 1,
    Update = 2,
    Replace = 3,
}

impl BusinessDocType {
    /// The wire code 0..3.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The type for a wire code.
    pub fn from_code(code: u8) -> Option<BusinessDocType> {
        match code {
            0 => Some(BusinessDocType::New),
            1 => Some(BusinessDocType::Revoke),
            2 => Some(BusinessDocType::Update),
            3 => Some(BusinessDocType::Replace),
            _ => None,
        }
    }

    /// Parses the element text ("0".."3").
    pub fn from_text(text: &str) -> Option<BusinessDocType> {
        text.trim().parse::<u8>().ok().and_then(BusinessDocType::from_code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TraceHeader {
    pub organ_id: String,
    pub timestamp: EdDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Receiver {
    pub organ_id: String,
    pub receiver_type: String,
}

/// `BussinessDocumentInfo` (updates only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct BusinessDocumentInfo {
    pub document_info: String,
    pub document_receiver: String,
    pub receivers: Vec<Receiver>,
}

/// `ReplacementInfo` (replacements only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ReplacementInfo {
    pub document_id: String,
    pub organ_ids: Vec<String>,
}

/// `Bussiness` (sic) in `TraceHeaderList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Business {
    pub document_id: String,
    pub doc_type: BusinessDocType,
    pub reason: String,
    pub paper: String,
    pub staff: StaffInfo,
    pub document_info: Option<BusinessDocumentInfo>,
    pub replacements: Vec<ReplacementInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TraceHeaderList {
    pub traces: Vec<TraceHeader>,
    pub business: Business,
}

/// An attachment's file as the recipient should store it (unzipped), plus how it travelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Attachment {
    pub content_id: String,
    pub name: String,
    pub description: String,
    /// As declared, e.g. `application/zip`.
    pub content_type: String,
    /// The file itself.
    pub data: Vec<u8>,
    /// Whether it travelled zipped (and was unzipped).
    pub zipped: bool,
}

/// A document package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Edoc {
    pub header: EdocHeader,
    pub trace: TraceHeaderList,
    pub attachments: Vec<Attachment>,
}

/// A status package (`messagetype=status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StatusPackage {
    pub from: Organization,
    pub response_for: ResponseFor,
    pub staff: StaffInfo,
    /// Two digits, "01".."16".
    pub status_code: String,
    pub description: String,
    pub timestamp: EdDateTime,
}

/// A parsed package. (Not boxed: there is one per parse, and callers match on it directly.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Package {
    Edoc(Edoc),
    Status(StatusPackage),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackageKind {
    Edoc,
    Status,
}

/// Something odd in a package that was accepted anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// A path like "MessageHeader/To/OrganId".
    pub element: String,
    /// A stable snake_case code, e.g. "invalid_date".
    pub code: &'static str,
    pub message: String,
}

impl Warning {
    pub(crate) fn new(element: impl Into<String>, code: &'static str, message: impl Into<String>) -> Warning {
        Warning { element: element.into(), code, message: message.into() }
    }
}

/// What the package's `Signature` declares (not whether it is valid: see `verify_signature`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SignatureInfo {
    pub signature_method: String,
    pub digest_method: String,
    pub c14n_method: String,
    /// The X509Certificate, when it decodes to a certificate.
    pub certificate_der: Option<Vec<u8>>,
    pub subject_name: Option<String>,
}

/// A parsed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    pub package: Package,
    pub signature: Option<SignatureInfo>,
    pub warnings: Vec<Warning>,
}

/// Resource limits for parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The whole package: 64 MiB.
    pub max_package_bytes: u64,
    /// One attachment, decompressed: 32 MiB.
    pub max_attachment_bytes: u64,
    /// Decompressed / compressed size above which an archive is a zip bomb (applied above 1 MiB).
    pub max_ratio: u64,
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_package_bytes: 64 << 20, max_attachment_bytes: 32 << 20, max_ratio: 100, max_attachments: 50 }
    }
}

/// Only the routing data of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Routing {
    pub kind: PackageKind,
    /// From/OrganId.
    pub from: String,
    /// To/OrganId (edoc); for a status, ResponseFor/OrganId: the issuer it reports to.
    pub to: Vec<String>,
    /// MessageHeader/DocumentId (edoc) or ResponseFor/DocumentId (status).
    pub document_id: String,
    pub business: Option<BusinessDocType>,
    pub status_code: Option<String>,
}

/// A valid signature: who signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub certificate_der: Vec<u8>,
    /// Further certificates the package carried (the signer's CAs), for path building.
    pub chain_der: Vec<Vec<u8>>,
    pub signature_method: String,
}

/// The key and certificate that sign a package.
pub struct PackageSigner<'a> {
    pub key: &'a dyn vanban_pki::RawSigner,
    pub certificate: &'a vanban_pki::Cert,
    /// The CA certificates up to the root, written after the signer's in `X509Data` so a
    /// receiver that trusts only the root can build the path.
    pub chain: &'a [vanban_pki::Cert],
}
