//! Signing with keys on PKCS#11 tokens (USB tokens of the Vietnamese CAs, HSMs, SoftHSM).
//!
//! A module is loaded and initialised once per process and kept (finalising it while another
//! token of the same module is open would break that one). A [`Pkcs11Token`] holds one
//! logged-in session behind a mutex; its [`Pkcs11Key`]s sign through it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use der::Encode;

use crate::cert::Cert;
use crate::error::{PkiError, Result};
use crate::keys::{KeyAlgorithm, RawSigner, ToBeSigned, ecdsa_signature_to_der};

/// DER of the OID prime256v1, as CKA_EC_PARAMS holds it.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn ck(e: CkError) -> PkiError {
    match e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => PkiError::WrongPin,
        CkError::Pkcs11(RvError::PinLocked, _) => PkiError::Pkcs11("the PIN is locked".into()),
        other => PkiError::Pkcs11(other.to_string()),
    }
}

fn modules() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn load(module_path: &Path) -> Result<Pkcs11> {
    let mut loaded = modules().lock().map_err(|_| PkiError::Pkcs11("module registry poisoned".into()))?;
    if let Some(ctx) = loaded.get(module_path) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module_path).map_err(ck)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck(e)),
    }
    loaded.insert(module_path.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// The tokens this process has logged in to, by module and slot: PKCS#11 login state belongs to
/// the application, not the session, so a second open must not ride on the first login.
type OpenTokens = Mutex<HashMap<(PathBuf, u64), Weak<TokenInner>>>;

fn open_tokens() -> &'static OpenTokens {
    static OPEN: OnceLock<OpenTokens> = OnceLock::new();
    OPEN.get_or_init(|| Mutex::new(HashMap::new()))
}

struct TokenInner {
    session: Mutex<Session>,
    label: String,
    slot: Slot,
    /// SHA-256 of a per-login random salt and the PIN: checks later opens of the same token.
    pin_check: [u8; 32],
    salt: [u8; 16],
    // Keeps the module loaded for as long as the session lives.
    ctx: Pkcs11,
}

/// A logged-in token.
#[derive(Clone)]
pub struct Pkcs11Token {
    inner: Arc<TokenInner>,
}

impl std::fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Token").field("label", &self.inner.label).finish_non_exhaustive()
    }
}

impl Pkcs11Token {
    /// Loads the module, finds the token (by label, or the first one present) and logs in as
    /// the user. A wrong PIN is `wrong_pin`. Opening a token this process is already logged in
    /// to returns the same session (after checking the PIN against the one that logged in); the
    /// token logs out when the last handle to it (tokens and their keys) is dropped.
    pub fn open(module_path: &Path, token_label: Option<&str>, pin: &str) -> Result<Self> {
        let ctx = load(module_path)?;
        let mut found = None;
        for slot in ctx.get_slots_with_token().map_err(ck)? {
            let info = ctx.get_token_info(slot).map_err(ck)?;
            let label = info.label().trim().to_owned();
            if token_label.is_none_or(|wanted| wanted.trim() == label) {
                found = Some((slot, label));
                break;
            }
        }
        let (slot, label) = found.ok_or_else(|| {
            PkiError::TokenNotFound(token_label.map_or_else(|| "no token present".to_owned(), str::to_owned))
        })?;
        let mut open = open_tokens().lock().map_err(|_| PkiError::Pkcs11("token registry poisoned".into()))?;
        let key = (module_path.to_path_buf(), slot.id());
        if let Some(existing) = open.get(&key).and_then(Weak::upgrade) {
            // Already logged in by this process: the PIN must be the one that logged in.
            if pin_hash(&existing.salt, pin) != existing.pin_check {
                return Err(PkiError::WrongPin);
            }
            return Ok(Pkcs11Token { inner: existing });
        }
        let session = ctx.open_ro_session(slot).map_err(ck)?;
        session.login(UserType::User, Some(&AuthPin::new(pin.into()))).map_err(ck)?;
        let salt = crate::util::random_bytes::<16>();
        let inner = Arc::new(TokenInner {
            session: Mutex::new(session),
            label,
            slot,
            pin_check: pin_hash(&salt, pin),
            salt,
            ctx,
        });
        open.retain(|_, weak| weak.strong_count() > 0);
        open.insert(key, Arc::downgrade(&inner));
        Ok(Pkcs11Token { inner })
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>> {
        self.inner.session.lock().map_err(|_| PkiError::Pkcs11("session lock poisoned".into()))
    }

    /// Writes a certificate onto the token with the CKA_ID of its key (what a CA does after
    /// issuing for a key generated on the token). The user is already logged in; a read-write
    /// session is opened for the write.
    pub fn import_certificate(&self, id: &[u8], label: &str, cert: &Cert) -> Result<()> {
        // Serialise with the signing session: some modules dislike concurrent sessions.
        let _guard = self.session()?;
        let rw = self.inner.ctx.open_rw_session(self.inner.slot).map_err(ck)?;
        let serial = cert.inner().tbs_certificate.serial_number.to_der().map_err(PkiError::der("serial"))?;
        rw.create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Modifiable(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Subject(cert.subject_der()),
            Attribute::Issuer(cert.issuer_der()),
            Attribute::SerialNumber(serial),
            Attribute::Value(cert.der().to_vec()),
        ])
        .map_err(ck)?;
        rw.close().map_err(ck)
    }

    /// The private keys we can sign with (RSA-2048/3072, ECDSA P-256), each with the
    /// certificate that has the same CKA_ID, if any.
    pub fn signers(&self) -> Result<Vec<Pkcs11Key>> {
        let session = self.session()?;
        let handles = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)]).map_err(ck)?;
        let mut out = Vec::new();
        for handle in handles {
            let attrs = session
                .get_attributes(handle, &[AttributeType::Label, AttributeType::Id, AttributeType::KeyType])
                .map_err(ck)?;
            let mut label = String::new();
            let mut id = Vec::new();
            let mut key_type = None;
            for attr in attrs {
                match attr {
                    Attribute::Label(l) => label = String::from_utf8_lossy(&l).trim().to_owned(),
                    Attribute::Id(i) => id = i,
                    Attribute::KeyType(k) => key_type = Some(k),
                    _ => {}
                }
            }
            let certificate = find_certificate(&session, &id)?;
            let algorithm = match &certificate {
                Some(cert) => KeyAlgorithm::from_spki_der(&cert.spki_der()).ok(),
                None => key_algorithm(&session, handle, key_type)?,
            };
            let Some(algorithm) = algorithm else { continue };
            out.push(Pkcs11Key { label, id, certificate, algorithm, handle, token: self.clone() });
        }
        Ok(out)
    }
}

fn pin_hash(salt: &[u8; 16], pin: &str) -> [u8; 32] {
    let mut data = salt.to_vec();
    data.extend_from_slice(pin.as_bytes());
    crate::keys::sha256(&data)
}

fn find_certificate(session: &Session, id: &[u8]) -> Result<Option<Cert>> {
    if id.is_empty() {
        return Ok(None);
    }
    let handles =
        session.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Id(id.to_vec())]).map_err(ck)?;
    for handle in handles {
        for attr in session.get_attributes(handle, &[AttributeType::Value]).map_err(ck)? {
            if let Attribute::Value(der) = attr
                && let Ok(cert) = Cert::from_der(&der)
            {
                return Ok(Some(cert));
            }
        }
    }
    Ok(None)
}

/// The algorithm of a key without a certificate, from its attributes.
fn key_algorithm(session: &Session, handle: ObjectHandle, key_type: Option<KeyType>) -> Result<Option<KeyAlgorithm>> {
    match key_type {
        Some(KeyType::RSA) => {
            let attrs = session.get_attributes(handle, &[AttributeType::Modulus]).map_err(ck)?;
            Ok(attrs.into_iter().find_map(|a| match a {
                Attribute::Modulus(m) => match crate::util::strip_leading_zeros(&m).len() {
                    256 => Some(KeyAlgorithm::Rsa2048),
                    384 => Some(KeyAlgorithm::Rsa3072),
                    _ => None,
                },
                _ => None,
            }))
        }
        Some(KeyType::EC) => {
            let attrs = session.get_attributes(handle, &[AttributeType::EcParams]).map_err(ck)?;
            Ok(attrs.into_iter().find_map(|a| match a {
                Attribute::EcParams(p) if p == P256_PARAMS => Some(KeyAlgorithm::EcdsaP256),
                _ => None,
            }))
        }
        _ => Ok(None),
    }
}

/// A private key on a token.
#[derive(Clone)]
pub struct Pkcs11Key {
    pub label: String,
    pub id: Vec<u8>,
    pub certificate: Option<Cert>,
    algorithm: KeyAlgorithm,
    handle: ObjectHandle,
    token: Pkcs11Token,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("label", &self.label)
            .field("id", &hex::encode(&self.id))
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl RawSigner for Pkcs11Key {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// RSA: CKM_RSA_PKCS over the SHA-256 DigestInfo. ECDSA: CKM_ECDSA over the digest, the raw
    /// r || s turned into DER.
    fn sign(&self, tbs: &ToBeSigned) -> Result<Vec<u8>> {
        let session = self.token.session()?;
        if self.algorithm.is_rsa() {
            session.sign(&Mechanism::RsaPkcs, self.handle, &tbs.digest_info()).map_err(ck)
        } else {
            let raw = session.sign(&Mechanism::Ecdsa, self.handle, &tbs.digest).map_err(ck)?;
            ecdsa_signature_to_der(&raw)
        }
    }
}
