//! The one error type of the crate: a stable snake_case `code()`, a Vietnamese `message_vi()` for
//! people and an English `Display` for logs.

/// Result with [`PkiError`].
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

/// Everything that can go wrong with keys, certificates, revocation data, timestamps and tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Bytes that should have been a DER structure are not (what is given says which one).
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// PEM text without the expected block, or a block that is not base64.
    #[error("invalid PEM: {0}")]
    InvalidPem(String),
    /// An algorithm (key, signature, digest) this crate does not handle.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// A private key of a kind or size we do not accept (only RSA-2048/3072 and ECDSA P-256).
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// A private key that is well-formed but unusable (inconsistent, wrong curve, too small).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    /// The signer could not produce a signature.
    #[error("signing failed: {0}")]
    SigningFailed(String),
    /// A signature does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// A certificate that cannot be used for what is asked (missing data, wrong profile).
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    /// A validity period that is empty or outside the issuing CA's own.
    #[error("invalid validity period: {0}")]
    InvalidValidity(String),
    /// A request (OCSP, timestamp, issuance) that is not acceptable.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A timestamp authority answered with a status other than granted.
    #[error("timestamp not granted: {0}")]
    TimestampRejected(String),
    /// An OCSP responder answered with an error status, or the response does not fit.
    #[error("OCSP response not usable: {0}")]
    OcspRejected(String),
    /// The PIN does not open the sealed key.
    #[error("wrong PIN")]
    WrongPin,
    /// The PIN does not meet the policy.
    #[error("PIN too weak: {0}")]
    WeakPin(String),
    /// The password does not open the PKCS#12 file.
    #[error("wrong password")]
    WrongPassword,
    /// A sealed key whose stored form is damaged or of an unknown version.
    #[error("invalid sealed key: {0}")]
    InvalidSealedKey(String),
    /// The PKCS#11 module or token reported an error.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// No token with the asked label, or no token at all.
    #[error("token not found: {0}")]
    TokenNotFound(String),
    /// File access failed.
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A cryptographic primitive failed unexpectedly.
    #[error("cryptographic failure: {0}")]
    Crypto(String),
}

impl PkiError {
    /// Stable snake_case code (for the API and the logs).
    pub fn code(&self) -> &'static str {
        match self {
            PkiError::Malformed { .. } => "malformed",
            PkiError::InvalidPem(_) => "invalid_pem",
            PkiError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            PkiError::UnsupportedKey(_) => "unsupported_key",
            PkiError::InvalidKey(_) => "invalid_key",
            PkiError::KeyGeneration(_) => "key_generation_failed",
            PkiError::SigningFailed(_) => "signing_failed",
            PkiError::BadSignature(_) => "bad_signature",
            PkiError::InvalidCertificate(_) => "invalid_certificate",
            PkiError::InvalidValidity(_) => "invalid_validity",
            PkiError::InvalidRequest(_) => "invalid_request",
            PkiError::TimestampRejected(_) => "timestamp_rejected",
            PkiError::OcspRejected(_) => "ocsp_rejected",
            PkiError::WrongPin => "wrong_pin",
            PkiError::WeakPin(_) => "weak_pin",
            PkiError::WrongPassword => "wrong_password",
            PkiError::InvalidSealedKey(_) => "invalid_sealed_key",
            PkiError::Pkcs11(_) => "pkcs11_error",
            PkiError::TokenNotFound(_) => "token_not_found",
            PkiError::Io { .. } => "io_error",
            PkiError::Crypto(_) => "crypto_error",
        }
    }

    /// What a person reads, in Vietnamese.
    pub fn message_vi(&self) -> String {
        match self {
            PkiError::Malformed { what, .. } => format!("Dữ liệu {what} không đúng định dạng"),
            PkiError::InvalidPem(_) => "Tệp PEM không hợp lệ".to_owned(),
            PkiError::UnsupportedAlgorithm(alg) => format!("Thuật toán không được hỗ trợ: {alg}"),
            PkiError::UnsupportedKey(_) => {
                "Loại khóa không được hỗ trợ (chỉ chấp nhận RSA 2048, RSA 3072 hoặc ECDSA P-256)".to_owned()
            }
            PkiError::InvalidKey(_) => "Khóa bí mật không hợp lệ".to_owned(),
            PkiError::KeyGeneration(_) => "Không tạo được cặp khóa".to_owned(),
            PkiError::SigningFailed(_) => "Không tạo được chữ ký số".to_owned(),
            PkiError::BadSignature(_) => "Chữ ký số không hợp lệ".to_owned(),
            PkiError::InvalidCertificate(_) => "Chứng thư số không hợp lệ".to_owned(),
            PkiError::InvalidValidity(_) => "Thời hạn hiệu lực không hợp lệ".to_owned(),
            PkiError::InvalidRequest(_) => "Yêu cầu không hợp lệ".to_owned(),
            PkiError::TimestampRejected(_) => "Máy chủ dấu thời gian từ chối yêu cầu".to_owned(),
            PkiError::OcspRejected(_) => "Không dùng được phản hồi OCSP".to_owned(),
            PkiError::WrongPin => "Mã PIN không đúng".to_owned(),
            PkiError::WeakPin(_) => "Mã PIN phải có ít nhất 6 ký tự".to_owned(),
            PkiError::WrongPassword => "Mật khẩu không đúng".to_owned(),
            PkiError::InvalidSealedKey(_) => "Dữ liệu khóa đã mã hóa bị hỏng".to_owned(),
            PkiError::Pkcs11(_) => "Lỗi thiết bị ký số (PKCS#11)".to_owned(),
            PkiError::TokenNotFound(_) => "Không tìm thấy thiết bị ký số".to_owned(),
            PkiError::Io { .. } => "Không đọc hoặc ghi được tệp".to_owned(),
            PkiError::Crypto(_) => "Lỗi mật mã".to_owned(),
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl std::fmt::Display) -> Self {
        PkiError::Malformed { what, detail: detail.to_string() }
    }

    /// A closure for `map_err` turning any displayable error into [`PkiError::Malformed`].
    pub(crate) fn der(what: &'static str) -> impl Fn(der::Error) -> PkiError {
        move |e| PkiError::malformed(what, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_messages_nfc() {
        use unicode_normalization::is_nfc;
        let io = || std::io::Error::other("x");
        let errors = [
            PkiError::malformed("certificate", "x"),
            PkiError::InvalidPem("x".into()),
            PkiError::UnsupportedAlgorithm("x".into()),
            PkiError::UnsupportedKey("x".into()),
            PkiError::InvalidKey("x".into()),
            PkiError::KeyGeneration("x".into()),
            PkiError::SigningFailed("x".into()),
            PkiError::BadSignature("x".into()),
            PkiError::InvalidCertificate("x".into()),
            PkiError::InvalidValidity("x".into()),
            PkiError::InvalidRequest("x".into()),
            PkiError::TimestampRejected("x".into()),
            PkiError::OcspRejected("x".into()),
            PkiError::WrongPin,
            PkiError::WeakPin("x".into()),
            PkiError::WrongPassword,
            PkiError::InvalidSealedKey("x".into()),
            PkiError::Pkcs11("x".into()),
            PkiError::TokenNotFound("x".into()),
            PkiError::Io { path: "x".into(), source: io() },
            PkiError::Crypto("x".into()),
        ];
        let mut codes = std::collections::HashSet::new();
        for e in errors {
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", e.code());
            assert!(codes.insert(e.code()), "duplicate code {}", e.code());
            let vi = e.message_vi();
            assert!(!vi.is_empty() && is_nfc(&vi), "{vi}");
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(PkiError::WrongPin.message_vi(), "Mã PIN không đúng");
        for r in crate::revocation::RevocationReason::ALL {
            assert!(is_nfc(r.label_vi()));
        }
        let problems = [
            crate::chain::ChainProblem::UntrustedRoot { subject: "CN=Ánh".into() },
            crate::chain::ChainProblem::NoRevocationData { subject: "CN=Ánh".into() },
            crate::chain::ChainProblem::KeyUsage { subject: "CN=Ánh".into() },
            crate::chain::ChainProblem::NotACa { subject: "CN=Ánh".into() },
            crate::chain::ChainProblem::BadSignature { subject: "CN=Ánh".into() },
        ];
        for p in problems {
            assert!(is_nfc(&p.message_vi()), "{}", p.message_vi());
        }
    }
}
