//! The software keystore: private keys sealed at rest under the holder's PIN (argon2id, then
//! AES-256-GCM), and PKCS#12 import.

use argon2::{Algorithm, Argon2, Params, Version};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::cert::Cert;
use crate::error::{PkiError, Result};
use crate::keys::{KeyAlgorithm, SoftKey, sha256};
use crate::util;

/// The KDF used for new seals (OWASP's argon2id minimum).
pub const DEFAULT_KDF: &str = "argon2id;m=19456,t=2,p=1";

const MAGIC: &[u8; 4] = b"VBSK";
const FORMAT_VERSION: u8 = 1;

/// A private key encrypted under a PIN.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedKey {
    pub algorithm: KeyAlgorithm,
    /// e.g. "argon2id;m=19456,t=2,p=1".
    pub kdf: String,
    pub salt: Vec<u8>,
    pub nonce: Vec<u8>,
    /// AES-256-GCM of the PKCS#8 DER, tag appended.
    pub ciphertext: Vec<u8>,
    /// SHA-256 of the second half of the derived bytes: tells a wrong PIN from damaged data.
    /// It gives an attacker nothing the GCM tag does not already give (both confirm a PIN guess
    /// at the cost of one argon2id run). Empty in seals that predate it.
    #[serde(default)]
    pub pin_check: Vec<u8>,
}

struct KdfParams {
    m: u32,
    t: u32,
    p: u32,
}

fn parse_kdf(kdf: &str) -> Result<KdfParams> {
    let bad = || PkiError::InvalidSealedKey(format!("unknown KDF {kdf:?}"));
    let rest = kdf.strip_prefix("argon2id;").ok_or_else(bad)?;
    let (mut m, mut t, mut p) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.split_once('=').ok_or_else(bad)?;
        let v: u32 = v.parse().map_err(|_| bad())?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return Err(bad()),
        }
    }
    let params = KdfParams { m: m.ok_or_else(bad)?, t: t.ok_or_else(bad)?, p: p.ok_or_else(bad)? };
    // Bounds: a stored seal must not make us allocate gigabytes or spin for minutes.
    if !(8..=1_048_576).contains(&params.m) || !(1..=16).contains(&params.t) || !(1..=8).contains(&params.p) {
        return Err(bad());
    }
    Ok(params)
}

/// 64 bytes: the AES key, then the PIN check material.
fn derive(pin: &str, salt: &[u8], kdf: &str) -> Result<Zeroizing<[u8; 64]>> {
    let p = parse_kdf(kdf)?;
    let params = Params::new(p.m, p.t, p.p, Some(64)).map_err(|e| PkiError::Crypto(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 64]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, &mut out[..])
        .map_err(|e| PkiError::Crypto(e.to_string()))?;
    Ok(out)
}

fn aad(algorithm: KeyAlgorithm, kdf: &str) -> Vec<u8> {
    format!("vanban-sealed-key/1;{};{kdf}", algorithm.as_str()).into_bytes()
}

fn aead_key(derived: &[u8; 64]) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, &derived[..32]).map(LessSafeKey::new).map_err(|e| PkiError::Crypto(e.to_string()))
}

impl SealedKey {
    /// Seals `key` under `pin` (which must meet [`check_pin_policy`]).
    pub fn seal(key: &SoftKey, pin: &str) -> Result<Self> {
        check_pin_policy(pin)?;
        let kdf = DEFAULT_KDF.to_owned();
        let salt = util::random_bytes::<16>().to_vec();
        let nonce = util::random_bytes::<NONCE_LEN>();
        let derived = derive(pin, &salt, &kdf)?;
        let mut data = Zeroizing::new(key.to_pkcs8_der());
        let tag = aead_key(&derived)?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(key.algorithm(), &kdf)),
                &mut data[..],
            )
            .map_err(|e| PkiError::Crypto(e.to_string()))?;
        let mut ciphertext = data.to_vec();
        ciphertext.extend_from_slice(tag.as_ref());
        Ok(SealedKey {
            algorithm: key.algorithm(),
            kdf,
            salt,
            nonce: nonce.to_vec(),
            ciphertext,
            pin_check: sha256(&derived[32..]).to_vec(),
        })
    }

    /// Opens the seal. A wrong PIN is [`PkiError::WrongPin`]; damaged data
    /// [`PkiError::InvalidSealedKey`].
    pub fn open(&self, pin: &str) -> Result<SoftKey> {
        let nonce: [u8; NONCE_LEN] = self
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| PkiError::InvalidSealedKey("nonce of the wrong length".into()))?;
        let derived = derive(pin, &self.salt, &self.kdf)?;
        if !self.pin_check.is_empty() && !constant_time_eq(&sha256(&derived[32..]), &self.pin_check) {
            return Err(PkiError::WrongPin);
        }
        let mut data = Zeroizing::new(self.ciphertext.clone());
        let plain = aead_key(&derived)?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(self.algorithm, &self.kdf)),
                &mut data[..],
            )
            .map_err(|_| {
                if self.pin_check.is_empty() {
                    PkiError::WrongPin
                } else {
                    PkiError::InvalidSealedKey("the sealed data was altered".into())
                }
            })?;
        let key = SoftKey::from_pkcs8_der(plain)?;
        if key.algorithm() != self.algorithm {
            return Err(PkiError::InvalidSealedKey("the key is not of the recorded algorithm".into()));
        }
        Ok(key)
    }

    /// A small versioned binary form: "VBSK", version 1, then length-prefixed (u32 big-endian)
    /// algorithm, kdf, salt, nonce, ciphertext and pin check.
    pub fn to_bytes(&self) -> Vec<u8> {
        let fields: [&[u8]; 6] = [
            self.algorithm.as_str().as_bytes(),
            self.kdf.as_bytes(),
            &self.salt,
            &self.nonce,
            &self.ciphertext,
            &self.pin_check,
        ];
        let mut out = Vec::with_capacity(5 + fields.iter().map(|f| 4 + f.len()).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        for f in fields {
            out.extend_from_slice(&(f.len() as u32).to_be_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    /// Reads [`SealedKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |d: &str| PkiError::InvalidSealedKey(d.to_owned());
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| bad("not a sealed key"))?;
        let (&version, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        if version != FORMAT_VERSION {
            return Err(bad("unknown version"));
        }
        let mut fields = Vec::with_capacity(6);
        for _ in 0..6 {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| bad("truncated"))?;
            let len = u32::from_be_bytes(*len) as usize;
            if tail.len() < len {
                return Err(bad("truncated"));
            }
            fields.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad("text field is not UTF-8"));
        let algorithm: KeyAlgorithm = text(&fields[0])?.parse().map_err(|_| bad("unknown algorithm"))?;
        Ok(SealedKey {
            algorithm,
            kdf: text(&fields[1])?,
            salt: std::mem::take(&mut fields[2]),
            nonce: std::mem::take(&mut fields[3]),
            ciphertext: std::mem::take(&mut fields[4]),
            pin_check: std::mem::take(&mut fields[5]),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A PIN has at least 6 characters (and at most 128).
pub fn check_pin_policy(pin: &str) -> Result<()> {
    let n = pin.chars().count();
    if n < 6 {
        return Err(PkiError::WeakPin(format!("{n} characters, at least 6 are needed")));
    }
    if n > 128 {
        return Err(PkiError::WeakPin("more than 128 characters".into()));
    }
    Ok(())
}

/// Imports a PKCS#12 (.p12/.pfx) file: the first private key, its certificate and the chain
/// the file carries. Modern (PBES2/AES) and legacy (3DES, RC2-40) files are read. A wrong
/// password is `wrong_password`; keys other than RSA-2048/3072 or ECDSA P-256 are
/// `unsupported_key`.
pub fn import_pkcs12(der: &[u8], password: &str) -> Result<(SoftKey, Cert, Vec<Cert>)> {
    use p12_keystore::error::Error as P12Error;
    let store = p12_keystore::KeyStore::from_pkcs12(der, password).map_err(|e| match e {
        P12Error::MacError(_) | P12Error::UnpadError => PkiError::WrongPassword,
        P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => {
            PkiError::UnsupportedAlgorithm(e.to_string())
        }
        other => PkiError::malformed("PKCS#12", other),
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| PkiError::InvalidRequest("the PKCS#12 file holds no private key".into()))?;
    let key = SoftKey::from_pkcs8_der(chain.key())?;
    let mut certs = chain.chain().iter().map(|c| Cert::from_der(c.as_der())).collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(PkiError::InvalidRequest("the PKCS#12 file holds no certificate for its key".into()));
    }
    let leaf = certs.remove(0);
    let key_bits = spki::SubjectPublicKeyInfoRef::try_from(key.public_key_der())
        .map(|s| s.subject_public_key.raw_bytes().to_vec())
        .map_err(|e| PkiError::malformed("public key", e))?;
    if leaf.public_key_bits() != key_bits.as_slice() {
        return Err(PkiError::InvalidKey("the private key does not match the certificate".into()));
    }
    Ok((key, leaf, certs))
}
