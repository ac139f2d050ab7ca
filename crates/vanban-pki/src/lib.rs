//! Certificates, keys, revocation and timestamps for vanban.
//!
//! - [`keys`]: key algorithms, in-memory keys ([`SoftKey`]), the [`RawSigner`] seam, signature
//!   verification.
//! - [`cert`]: a parsed certificate ([`Cert`]) with the accessors the rest of vanban needs.
//! - [`ca`]: the built-in certificate authority for self-hosted and test deployments.
//! - [`revocation`]: CRLs and OCSP (requests, a responder, responses).
//! - [`tsa`]: RFC 3161 timestamps (a TSA, requests, token verification).
//! - [`cms`]: CMS SignedData for PAdES signatures (assembly, sizing, parsing).
//! - [`chain`]: path building and validation against a trust store, with revocation.
//! - [`keystore`]: keys sealed at rest under the holder's PIN; PKCS#12 import.
//! - `pkcs11` (feature `pkcs11`): signing with keys on hardware tokens.

pub mod ca;
pub mod cert;
pub mod chain;
pub mod cms;
pub mod error;
pub mod keys;
pub mod keystore;
pub mod oid;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
pub mod revocation;
pub mod tsa;
mod util;

pub use ca::{CertProfile, CertificateAuthority, IssueRequest, RevokedEntry, SubjectInfo, TestPki};
pub use cert::{Cert, pem_block, pem_decode};
pub use chain::{ChainProblem, ChainReport, RevocationCheck, RevocationData, TrustStore, validate_chain};
pub use cms::{
    ParsedSignature, SignedAttrs, assemble_signed_data, parse_signed_data, parse_signed_data_with_certs,
    signed_data_len_max,
};
pub use error::{PkiError, Result};
pub use keys::{
    DigestAlg, KeyAlgorithm, RawSigner, SoftKey, ToBeSigned, ecdsa_signature_to_der, sha256, verify_signature,
};
pub use keystore::{SealedKey, check_pin_policy, import_pkcs12};
#[cfg(feature = "pkcs11")]
pub use pkcs11::{Pkcs11Key, Pkcs11Token};
pub use revocation::{CertStatus, Crl, OcspResponder, OcspResponse, RevocationReason, SingleStatus, ocsp_request};
pub use tsa::{
    TimestampAuthority, TimestampToken, parse_and_verify_token, parse_and_verify_token_with_certs, timestamp_request,
    token_from_response,
};
