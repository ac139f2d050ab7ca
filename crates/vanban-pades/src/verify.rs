//! Validation of any signed PDF, ours or foreign. For each signature: integrity (the byte
//! ranges hash to the signed digest and the CMS signature verifies), which revision it covers,
//! the signer's chain to a configured trust anchor and its revocation at the proven signing
//! time, the signature timestamp, and an analysis of every later revision — only signing,
//! form filling and validation data may follow (anything else is an incremental-update or
//! shadow attack). Each signature and the file get a verdict: valid, invalid or
//! indeterminate, with a stable reason code and a Vietnamese explanation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use vanban_pki::{
    Cert, ChainReport, Crl, DigestAlg, OcspResponse, RevocationCheck, RevocationData, TrustStore,
    parse_and_verify_token_with_certs, parse_signed_data_with_certs, validate_chain, verify_signature,
};

use crate::error::{PadesError, Result};
use crate::pdf::{Dict, Entry, Object, PdfFile, Ref, decode_stream};
use crate::sign::{MAX_PDF_BYTES, docmdp_level, fields, iso_vn};

/// The bottom line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Invalid,
    Indeterminate,
}

impl Verdict {
    pub fn label_vi(self) -> &'static str {
        match self {
            Verdict::Valid => "Hợp lệ",
            Verdict::Invalid => "Không hợp lệ",
            Verdict::Indeterminate => "Chưa xác định được",
        }
    }
}

/// What changed in the revisions after a signature, worst first wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Modification {
    /// Nothing after this signature.
    None,
    /// Signatures, document timestamps and validation data only.
    Signing,
    /// Form fields filled (and signatures).
    FormFilling,
    /// Anything else: content, pages, annotations, replaced objects.
    Other,
}

/// Who a certificate names.
#[derive(Clone, Debug, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub common_name: Option<String>,
    pub organization: Option<String>,
    pub uid: Option<String>,
    pub issuer: String,
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl CertSummary {
    pub fn of(c: &Cert) -> CertSummary {
        CertSummary {
            subject: c.subject_string(),
            common_name: c.common_name(),
            organization: c.organization(),
            uid: c.uid(),
            issuer: c.issuer_string(),
            serial: c.serial_hex(),
            not_before: c.not_before(),
            not_after: c.not_after(),
        }
    }
}

/// A signature timestamp or a document timestamp.
#[derive(Clone, Debug, Serialize)]
pub struct TimestampSummary {
    pub time: DateTime<Utc>,
    pub time_vn: String,
    pub tsa: Option<String>,
    pub trusted: bool,
    pub problems: Vec<String>,
}

/// One signature's findings.
#[derive(Clone, Debug, Serialize)]
pub struct SignatureReport {
    pub field: String,
    /// `signature` or `document_timestamp`.
    pub kind: &'static str,
    pub sub_filter: String,
    pub signer: Option<CertSummary>,
    /// The time in /M or the signed signing-time attribute (claimed, not proven).
    pub claimed_time: Option<DateTime<Utc>>,
    pub timestamp: Option<TimestampSummary>,
    /// The time the checks were made at: the timestamp's when there is one, else now.
    pub validation_time: DateTime<Utc>,
    /// The byte ranges hash to the signed digest and the signature verifies.
    pub intact: bool,
    /// 1-based revision the signature closes, and how many revisions the file has.
    pub revision: usize,
    pub revisions: usize,
    pub covers_whole_file: bool,
    pub trusted: bool,
    pub chain: Vec<String>,
    pub chain_problems: Vec<String>,
    /// `good (ocsp)`, `good (crl)`, `revoked`, `no_data`.
    pub revocation: String,
    pub docmdp: Option<i64>,
    /// The cryptographic checks were not run again: the signature lies in a prefix of the
    /// file the caller had validated before ([`Policy::earlier`]), whose verdict it keeps;
    /// only what changed after it was checked here.
    pub validated_earlier: bool,
    pub modification: Modification,
    /// What changed after it, one line per object.
    pub later_changes: Vec<String>,
    pub verdict: Verdict,
    pub reason: &'static str,
    pub reason_vi: String,
}

/// A whole file's findings.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub sha256: String,
    pub size: usize,
    pub revisions: usize,
    pub signatures: Vec<SignatureReport>,
    pub verdict: Verdict,
    pub reason: &'static str,
    pub reason_vi: String,
}

/// What the validator trusts and knows.
#[derive(Clone, Default)]
pub struct Policy {
    pub trust: TrustStore,
    /// Revocation data from outside the file (the built-in CA's own, fetched CRLs).
    pub revocation: RevocationData,
    /// Without revocation data a signature is indeterminate (ETSI EN 319 102-1); when false
    /// (the default, like pyHanko's soft-fail) it is reported but does not decide.
    pub require_revocation: bool,
    pub now: Option<DateTime<Utc>>,
    /// A prefix of the file validated before, with its verdicts: the issuing desk appends the
    /// agency's signature to a file whose leader's signature was validated when it was made,
    /// so only the new signature and the changes after the old ones need checking.
    pub earlier: Option<Earlier>,
}

/// What a caller validated before: the first `len` bytes (checked against `sha256`, or the
/// whole file is validated from scratch) and the verdict of each signature field in them.
#[derive(Clone, Debug, Default)]
pub struct Earlier {
    pub len: usize,
    /// Lower-case hex SHA-256 of those bytes (a blob's address).
    pub sha256: String,
    pub verdicts: BTreeMap<String, Verdict>,
}

fn reason_vi(code: &str) -> &'static str {
    match code {
        "ok" => "Chữ ký hợp lệ, văn bản không bị thay đổi sau khi ký.",
        "ok_permitted_changes" => "Chữ ký hợp lệ; sau khi ký chỉ có các thay đổi được phép (điền số, ngày, ký tiếp).",
        "digest_mismatch" => "Nội dung tệp đã bị sửa sau khi ký (mã băm không khớp).",
        "bad_signature" => "Giá trị chữ ký không đúng với chứng thư số.",
        "malformed_signature" => "Dữ liệu chữ ký bị hỏng.",
        "bad_byte_range" => "Vùng ký (ByteRange) không hợp lệ.",
        "disallowed_changes" => "Văn bản bị thay đổi sau khi ký (thêm trang, sửa nội dung hoặc thay ảnh).",
        "signing_certificate_mismatch" => "Chứng thư số trong chữ ký bị thay thế.",
        "revoked" => "Chứng thư số đã bị thu hồi trước thời điểm ký.",
        "signing_certificate_missing" => "Chữ ký không kèm chứng thư số của người ký.",
        "signature_moved" => "Chữ ký được sao chép sang vị trí khác sau khi ký.",
        "expired_no_poe" => "Chứng thư số đã hết hạn và không có dấu thời gian chứng minh thời điểm ký.",
        "not_yet_valid" => "Chứng thư số chưa có hiệu lực tại thời điểm ký.",
        "untrusted_chain" => "Chứng thư số không thuộc tổ chức cung cấp dịch vụ tin cậy đã cấu hình.",
        "no_revocation_data" => "Không có thông tin thu hồi để kiểm tra chứng thư số.",
        "key_usage" => "Chứng thư số không được phép dùng để ký văn bản.",
        "bad_timestamp" => "Dấu thời gian không hợp lệ.",
        "unsupported" => "Kiểu chữ ký chưa được hỗ trợ.",
        "no_signatures" => "Tệp không có chữ ký số.",
        "trailing_data" => "Có dữ liệu được thêm vào cuối tệp sau chữ ký cuối cùng.",
        "some_invalid" => "Có chữ ký không hợp lệ.",
        "some_indeterminate" => "Có chữ ký chưa xác định được tính hợp lệ.",
        "earlier_invalid" => "Chữ ký đã được xác định là không hợp lệ ở lần kiểm tra trước.",
        "earlier_indeterminate" => "Chữ ký chưa xác định được tính hợp lệ ở lần kiểm tra trước.",
        "all_valid" => "Tất cả chữ ký hợp lệ.",
        _ => "Không xác định.",
    }
}

struct Found {
    field: String,
    sig: Dict,
    /// The signature dictionary's object, when indirect.
    sig_ref: Option<Ref>,
}

/// Validates every signature in a PDF.
pub fn verify_pdf(pdf: &[u8], policy: &Policy) -> Result<Report> {
    if pdf.len() > MAX_PDF_BYTES {
        return Err(PadesError::TooLarge { size: pdf.len(), limit: MAX_PDF_BYTES });
    }
    let now = policy.now.unwrap_or_else(Utc::now);
    let file = PdfFile::parse(pdf)?;
    let last = file.revisions() - 1;
    // Signatures from every revision's form: a later revision cannot hide one by dropping it.
    let mut found: Vec<Found> = Vec::new();
    let mut seen = BTreeSet::new();
    // Each revision's form, walked once for every signature's analysis.
    let by_rev: Vec<Option<Vec<crate::sign::Field>>> = (0..=last).map(|r| fields(&file, r).ok()).collect();
    for rev in (0..=last).rev() {
        for f in by_rev[rev].clone().unwrap_or_default() {
            let Some(v) = f.dict.get("V") else { continue };
            let key = v.as_ref().map_or_else(|| (u32::MAX, f.r.num), |r| (r.num, 0));
            if !seen.insert(key) {
                continue;
            }
            let sig = match file.resolve_at(v, rev)? {
                Object::Dict(d) => d,
                _ => continue,
            };
            if !sig.contains("ByteRange") || !sig.contains("Contents") {
                continue;
            }
            found.push(Found { field: f.name, sig, sig_ref: v.as_ref() });
        }
    }
    // DSS material usable for every signature.
    let dss = dss_material(&file)?;
    let docmdp = docmdp_level(&file).ok().flatten();
    let prefixes = Prefixes::new(pdf);
    let earlier = policy
        .earlier
        .as_ref()
        .filter(|e| e.len <= pdf.len() && hex::encode(prefixes.upto(e.len).finalize()) == e.sha256);
    let mut reports = Vec::new();
    for f in &found {
        reports.push(check_signature(&file, f, &dss, policy, now, docmdp, &by_rev, earlier, &prefixes)?);
    }
    reports.sort_by_key(|r| r.revision);
    let trailing = trailing_garbage(&file);
    let (verdict, reason) = if !reports.iter().any(|r| r.kind == "signature") {
        // Document timestamps alone prove when a file existed, not who issued it.
        (Verdict::Indeterminate, "no_signatures")
    } else if reports.iter().any(|r| r.verdict == Verdict::Invalid) {
        (Verdict::Invalid, "some_invalid")
    } else if trailing {
        (Verdict::Invalid, "trailing_data")
    } else if reports.iter().any(|r| r.verdict == Verdict::Indeterminate) {
        (Verdict::Indeterminate, "some_indeterminate")
    } else {
        (Verdict::Valid, "all_valid")
    };
    Ok(Report {
        sha256: hex::encode(prefixes.upto(pdf.len()).finalize()),
        size: pdf.len(),
        revisions: file.revisions(),
        signatures: reports,
        verdict,
        reason,
        reason_vi: reason_vi(reason).to_owned(),
    })
}

/// Every certificate a file carries (in its signatures and its DSS): what a validator needs
/// revocation data for, e.g. to fetch the CRLs their issuers publish.
pub fn certificates_in(pdf: &[u8]) -> Result<Vec<Cert>> {
    let file = PdfFile::parse(pdf)?;
    let mut out = dss_material(&file)?.certs;
    for rev in 0..file.revisions() {
        for f in fields(&file, rev).unwrap_or_default() {
            let Some(v) = f.dict.get("V") else { continue };
            let Ok(Object::Dict(sig)) = file.resolve_at(v, rev) else { continue };
            let Some(contents) = sig.get("Contents").and_then(Object::as_bytes) else { continue };
            if let Ok(p) = parse_signed_data_with_certs(contents, &[]) {
                out.extend(p.certs);
            } else if let Ok(t) = parse_and_verify_token_with_certs(trim_der(contents), &[]) {
                out.extend(t.certs);
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|c| seen.insert(c.fingerprint_sha256()));
    Ok(out)
}

/// SHA-256 of prefixes of one file: the earlier-validated prefix, each signature's covered
/// bytes and the whole file all start at byte 0, so each is continued from the longest prefix
/// already hashed instead of hashing the file again from its start.
struct Prefixes<'a> {
    data: &'a [u8],
    /// Hash states at the end of prefixes hashed so far, by length.
    done: std::cell::RefCell<BTreeMap<usize, Sha256>>,
}

impl<'a> Prefixes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Prefixes { data, done: std::cell::RefCell::new(BTreeMap::from([(0, Sha256::new())])) }
    }

    /// The hash state after `data[..n]` (`n` ≤ the file's length).
    fn upto(&self, n: usize) -> Sha256 {
        let mut done = self.done.borrow_mut();
        let (&from, state) = done.range(..=n).next_back().expect("the empty prefix is always there");
        let mut h = state.clone();
        h.update(&self.data[from..n]);
        done.insert(n, h.clone());
        h
    }
}

/// Non-whitespace bytes after the last revision's %%EOF.
fn trailing_garbage(file: &PdfFile<'_>) -> bool {
    let end = file.sections.iter().map(|s| s.end).max().unwrap_or(0);
    file.data.get(end..).is_some_and(|rest| rest.iter().any(|&c| !crate::pdf::parse::is_ws(c)))
}

#[derive(Default)]
struct DssMaterial {
    certs: Vec<Cert>,
    revocation: RevocationData,
}

fn dss_material(file: &PdfFile<'_>) -> Result<DssMaterial> {
    let mut out = DssMaterial::default();
    let (_, cat) = file.catalog_at(file.revisions() - 1)?;
    let Some(dss) = cat.get("DSS") else { return Ok(out) };
    let dss = file.resolve(dss)?;
    let Some(dss) = dss.as_dict() else { return Ok(out) };
    let streams = |key: &str| -> Vec<Vec<u8>> {
        let Some(a) = dss.get(key) else { return Vec::new() };
        let Ok(a) = file.resolve(a) else { return Vec::new() };
        a.as_array()
            .unwrap_or(&[])
            .iter()
            .filter_map(|o| match file.resolve(o) {
                Ok(Object::Stream(d, raw)) => decode_stream(&d, &raw).ok(),
                _ => None,
            })
            .collect()
    };
    out.certs = streams("Certs").iter().filter_map(|d| Cert::from_der(d).ok()).collect();
    out.revocation.crls = streams("CRLs").iter().filter_map(|d| Crl::from_der(d).ok()).collect();
    out.revocation.ocsp = streams("OCSPs").iter().filter_map(|d| OcspResponse::from_der(d).ok()).collect();
    Ok(out)
}

fn fail(mut r: SignatureReport, verdict: Verdict, reason: &'static str) -> SignatureReport {
    r.verdict = verdict;
    r.reason = reason;
    r.reason_vi = reason_vi(reason).to_owned();
    r
}

#[allow(clippy::too_many_arguments)]
fn check_signature(
    file: &PdfFile<'_>,
    f: &Found,
    dss: &DssMaterial,
    policy: &Policy,
    now: DateTime<Utc>,
    docmdp: Option<i64>,
    by_rev: &[Option<Vec<crate::sign::Field>>],
    earlier: Option<&Earlier>,
    prefixes: &Prefixes<'_>,
) -> Result<SignatureReport> {
    let data = file.data;
    let is_doc_ts = f.sig.name("Type") == Some(b"DocTimeStamp") || f.sig.name("SubFilter") == Some(b"ETSI.RFC3161");
    let sub_filter = f.sig.name("SubFilter").map(|s| String::from_utf8_lossy(s).into_owned()).unwrap_or_default();
    let claimed = f.sig.get("M").and_then(Object::as_text).and_then(|m| parse_pdf_date(&m));
    let mut r = SignatureReport {
        field: f.field.clone(),
        kind: if is_doc_ts { "document_timestamp" } else { "signature" },
        sub_filter: sub_filter.clone(),
        signer: None,
        claimed_time: claimed,
        timestamp: None,
        validation_time: now,
        intact: false,
        revision: 0,
        revisions: file.revisions(),
        covers_whole_file: false,
        trusted: false,
        chain: Vec::new(),
        chain_problems: Vec::new(),
        revocation: "no_data".to_owned(),
        docmdp: None,
        validated_earlier: false,
        modification: Modification::None,
        later_changes: Vec::new(),
        verdict: Verdict::Indeterminate,
        reason: "unsupported",
        reason_vi: String::new(),
    };

    // Byte ranges: [0 a b c], the hole is exactly the /Contents string, and the end is a
    // revision boundary.
    let br: Vec<i64> =
        f.sig.get("ByteRange").and_then(Object::as_array).unwrap_or(&[]).iter().filter_map(Object::as_int).collect();
    let ok_br = match br[..] {
        [0, a, b, c] if a > 0 && b > a && c >= 0 => {
            let (a, b, c) = (a as usize, b as usize, c as usize);
            b.checked_add(c).is_some_and(|end| end <= data.len())
                && data.get(a) == Some(&b'<')
                && data.get(b - 1) == Some(&b'>')
        }
        _ => false,
    };
    if !ok_br {
        return Ok(fail(r, Verdict::Invalid, "bad_byte_range"));
    }
    let (a, b, c) = (br[1] as usize, br[2] as usize, br[3] as usize);
    let end = b + c;
    let Some(rev) = file.sections.iter().position(|s| s.end == end || trim_eol(data, s.end) == end) else {
        return Ok(fail(r, Verdict::Invalid, "bad_byte_range"));
    };
    r.revision = rev + 1;
    r.covers_whole_file = end == data.len() || trim_eol(data, data.len()) == end;
    // The signature dictionary belongs to the revision it signs and is never redefined: a copy
    // of someone's signature placed on another field later is not a signature.
    if let Some(sr) = f.sig_ref {
        let last_defined = file.sections.iter().rposition(|s| s.entries.contains_key(&sr.num));
        if last_defined != Some(rev) {
            return Ok(fail(r, Verdict::Invalid, "signature_moved"));
        }
    }
    let contents = f.sig.get("Contents").and_then(Object::as_bytes).unwrap_or(&[]);
    // The hole holds exactly the /Contents string (one pass, no copy).
    if !hole_matches(&data[a + 1..b - 1], contents) {
        return Ok(fail(r, Verdict::Invalid, "bad_byte_range"));
    }
    let contents = contents.to_vec();
    let covered = |alg: DigestAlg| -> Vec<u8> {
        match alg {
            DigestAlg::Sha256 => {
                let mut h = prefixes.upto(a);
                h.update(&data[b..end]);
                h.finalize().to_vec()
            }
            other => {
                let mut v = data[..a].to_vec();
                v.extend_from_slice(&data[b..end]);
                other.digest(&v)
            }
        }
    };

    // Later revisions.
    r.docmdp = docmdp;
    let (modification, changes) = analyse_changes(file, rev, by_rev)?;
    r.modification = modification;
    r.later_changes = changes;

    // Inside the prefix validated before: its verdict stands unless what came after broke it.
    if let Some(prior) = earlier.filter(|e| end <= e.len).and_then(|e| e.verdicts.get(&f.field)) {
        r.validated_earlier = true;
        r.intact = *prior != Verdict::Invalid;
        if disallowed_changes(&r) {
            return Ok(fail(r, Verdict::Invalid, "disallowed_changes"));
        }
        return Ok(match prior {
            Verdict::Invalid => fail(r, Verdict::Invalid, "earlier_invalid"),
            Verdict::Indeterminate => fail(r, Verdict::Indeterminate, "earlier_indeterminate"),
            Verdict::Valid if r.modification == Modification::None => fail(r, Verdict::Valid, "ok"),
            Verdict::Valid => fail(r, Verdict::Valid, "ok_permitted_changes"),
        });
    }

    let mut validation_time = now;
    let mut pool: Vec<Cert> = dss.certs.clone();
    let mut revocation = policy.revocation.clone();
    revocation.crls.extend(dss.revocation.crls.iter().cloned());
    revocation.ocsp.extend(dss.revocation.ocsp.iter().cloned());

    if is_doc_ts {
        let token = match parse_and_verify_token_with_certs(trim_der(&contents), &dss.certs) {
            Ok(t) => t,
            Err(_) => return Ok(fail(r, Verdict::Invalid, "bad_timestamp")),
        };
        let want = covered(token.imprint_alg);
        r.intact = want == token.imprint;
        let (ts, chain) = timestamp_summary(&token, &pool, policy, &revocation);
        r.timestamp = Some(ts);
        r.signer = token.signer.as_ref().map(CertSummary::of);
        r.validation_time = token.gen_time;
        if !r.intact {
            return Ok(fail(r, Verdict::Invalid, "digest_mismatch"));
        }
        r.trusted = chain.trusted;
        r.chain = chain.path.iter().map(Cert::subject_string).collect();
        r.chain_problems = chain.problems.iter().map(|p| p.code().to_owned()).collect();
        return Ok(decide(r, policy, &chain));
    }

    if sub_filter != "ETSI.CAdES.detached" && sub_filter != "adbe.pkcs7.detached" {
        return Ok(fail(r, Verdict::Indeterminate, "unsupported"));
    }
    let parsed = match parse_signed_data_with_certs(&contents, &dss.certs) {
        Ok(p) => p,
        Err(_) => return Ok(fail(r, Verdict::Invalid, "malformed_signature")),
    };
    pool.extend(parsed.certs.iter().cloned());
    let Some(signer) = parsed.signer.clone() else {
        // Certificates are embedded but none is the one the signature names: replaced.
        if !parsed.certs.is_empty() {
            return Ok(fail(r, Verdict::Invalid, "signing_certificate_mismatch"));
        }
        return Ok(fail(r, Verdict::Indeterminate, "signing_certificate_missing"));
    };
    r.signer = Some(CertSummary::of(&signer));
    if r.claimed_time.is_none() {
        r.claimed_time = parsed.signing_time;
    }
    let digest = covered(parsed.digest_alg);
    let sig_ok = match (&parsed.message_digest, &parsed.signed_attrs_der) {
        (Some(md), Some(_)) => {
            if *md != digest {
                return Ok(fail(r, Verdict::Invalid, "digest_mismatch"));
            }
            parsed.verify().is_ok()
        }
        _ => {
            // No signed attributes: the signature is over the covered bytes themselves.
            let mut v = data[..a].to_vec();
            v.extend_from_slice(&data[b..end]);
            verify_signature(&signer.spki_der(), &parsed.signature_alg, Some(parsed.digest_alg), &v, &parsed.signature)
                .is_ok()
        }
    };
    if !sig_ok {
        return Ok(fail(r, Verdict::Invalid, "bad_signature"));
    }
    if parsed.signing_certificate_matches == Some(false) {
        return Ok(fail(r, Verdict::Invalid, "signing_certificate_mismatch"));
    }
    r.intact = true;

    // The signature timestamp proves when it existed.
    if let Some(tok) = &parsed.timestamp_token {
        match parse_and_verify_token_with_certs(tok, &dss.certs) {
            Ok(token) => {
                let imprint_ok = token.imprint == token.imprint_alg.digest(&parsed.signature);
                let (mut ts, chain) = timestamp_summary(&token, &pool, policy, &revocation);
                if !imprint_ok {
                    ts.trusted = false;
                    ts.problems.push("imprint_mismatch".to_owned());
                }
                if ts.trusted {
                    validation_time = token.gen_time;
                }
                let _ = chain;
                r.timestamp = Some(ts);
            }
            Err(e) => {
                r.timestamp = None;
                r.chain_problems.push(format!("timestamp: {}", e.code()));
            }
        }
    }
    r.validation_time = validation_time;

    if !r.signer.as_ref().is_some_and(|_| signer.key_usage_allows_signing()) {
        return Ok(fail(r, Verdict::Invalid, "key_usage"));
    }
    let chain = validate_chain(&signer, &pool, &policy.trust, validation_time, &revocation);
    r.trusted = chain.trusted;
    r.chain = chain.path.iter().map(Cert::subject_string).collect();
    r.chain_problems.extend(chain.problems.iter().map(|p| p.code().to_owned()));
    Ok(decide(r, policy, &chain))
}

fn timestamp_summary(
    token: &vanban_pki::TimestampToken,
    pool: &[Cert],
    policy: &Policy,
    revocation: &RevocationData,
) -> (TimestampSummary, ChainReport) {
    let mut p = pool.to_vec();
    p.extend(token.certs.iter().cloned());
    let chain = match &token.signer {
        Some(s) => validate_chain(s, &p, &policy.trust, token.gen_time, revocation),
        None => ChainReport { path: Vec::new(), trusted: false, problems: Vec::new(), revocation: Vec::new() },
    };
    let problems: Vec<String> = chain
        .problems
        .iter()
        .map(|p| p.code().to_owned())
        .filter(|c| policy.require_revocation || c != "no_revocation_data")
        .collect();
    (
        TimestampSummary {
            time: token.gen_time,
            time_vn: iso_vn(token.gen_time),
            tsa: token.signer.as_ref().map(Cert::subject_string),
            trusted: chain.trusted && problems.is_empty(),
            problems,
        },
        chain,
    )
}

/// Whether what changed after a signature breaks it: anything beyond signing and form
/// filling, or any change at all under DocMDP P=1.
fn disallowed_changes(r: &SignatureReport) -> bool {
    r.modification == Modification::Other
        || r.modification != Modification::None && r.docmdp == Some(1) && r.kind == "signature"
}

/// The verdict from the chain and the later changes (integrity already holds).
fn decide(mut r: SignatureReport, policy: &Policy, chain: &ChainReport) -> SignatureReport {
    r.revocation = "no_data".to_owned();
    for rc in &chain.revocation {
        match rc {
            RevocationCheck::Revoked { .. } => r.revocation = "revoked".to_owned(),
            RevocationCheck::Good { source } if r.revocation != "revoked" => r.revocation = format!("good ({source})"),
            _ => {}
        }
    }
    if disallowed_changes(&r) {
        return fail(r, Verdict::Invalid, "disallowed_changes");
    }
    let codes: Vec<&str> = chain.problems.iter().map(|p| p.code()).collect();
    if codes.contains(&"revoked") {
        return fail(r, Verdict::Invalid, "revoked");
    }
    if codes.contains(&"bad_signature") {
        return fail(r, Verdict::Invalid, "bad_signature");
    }
    if !chain.trusted || codes.contains(&"untrusted_root") {
        return fail(r, Verdict::Indeterminate, "untrusted_chain");
    }
    if codes.contains(&"expired") {
        return fail(r, Verdict::Indeterminate, "expired_no_poe");
    }
    if codes.contains(&"not_yet_valid") {
        return fail(r, Verdict::Indeterminate, "not_yet_valid");
    }
    if codes.contains(&"key_usage") || codes.contains(&"not_a_ca") {
        return fail(r, Verdict::Invalid, "key_usage");
    }
    if policy.require_revocation && codes.contains(&"no_revocation_data") {
        return fail(r, Verdict::Indeterminate, "no_revocation_data");
    }
    let reason = if r.modification == Modification::None
        || r.modification == Modification::Signing && r.kind == "document_timestamp"
    {
        "ok"
    } else {
        "ok_permitted_changes"
    };
    fail(r, Verdict::Valid, reason)
}

/// Whether the hex digits of `hole` (whitespace allowed) spell exactly `contents` (a final odd
/// digit counts as followed by 0, as the parser reads it).
fn hole_matches(hole: &[u8], contents: &[u8]) -> bool {
    crate::pdf::parse::decode_hex(hole).is_some_and(|bytes| bytes == contents)
}

fn trim_eol(data: &[u8], mut end: usize) -> usize {
    while end > 0 && matches!(data.get(end - 1), Some(b'\n' | b'\r')) {
        end -= 1;
    }
    end
}

/// A DER value without the zero padding of its PDF placeholder.
fn trim_der(b: &[u8]) -> &[u8] {
    der_len(b).and_then(|n| b.get(..n)).unwrap_or(b)
}

fn der_len(b: &[u8]) -> Option<usize> {
    let l = *b.get(1)? as usize;
    if l < 0x80 {
        return Some(2 + l);
    }
    let n = l & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *b.get(2 + i)? as usize;
    }
    Some(2 + n + len)
}

/// `D:YYYYMMDDHHmmSS+07'00'` → instant.
pub fn parse_pdf_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return None;
    }
    let num = |i: usize, n: usize, d: u32| digits.get(i..i + n).and_then(|x| x.parse::<u32>().ok()).unwrap_or(d);
    let rest = &s[digits.len()..];
    let offset_secs = match rest.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let t: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let h: i32 = t.get(0..2).and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i32 = t.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
            (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 }
        }
        _ => 0,
    };
    let naive = chrono::NaiveDate::from_ymd_opt(num(0, 4, 0) as i32, num(4, 2, 1), num(6, 2, 1))?.and_hms_opt(
        num(8, 2, 0),
        num(10, 2, 0),
        num(12, 2, 0),
    )?;
    Some(DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc) - chrono::Duration::seconds(i64::from(offset_secs)))
}

/// Classifies every change made in the revisions after `rev` (0-based).
fn analyse_changes(
    file: &PdfFile<'_>,
    rev: usize,
    by_rev: &[Option<Vec<crate::sign::Field>>],
) -> Result<(Modification, Vec<String>)> {
    let fields_at = |r: usize| -> Result<BTreeMap<u32, crate::sign::Field>> {
        let list = by_rev.get(r).cloned().flatten().ok_or_else(|| PadesError::Malformed("the form".into()))?;
        Ok(list.into_iter().map(|f| (f.r.num, f)).collect())
    };
    let mut level = Modification::None;
    let mut notes = Vec::new();
    for k in rev + 1..file.revisions() {
        let before = k - 1;
        let (cat_ref_before, cat_before) = file.catalog_at(before)?;
        let (cat_ref_after, _) = file.catalog_at(k)?;
        // A revision that points the trailer at another catalog replaces the whole document.
        if cat_ref_after != cat_ref_before {
            notes.push(format!("r{}: the document catalog was replaced", k + 1));
            level = Modification::Other;
            continue;
        }
        let enc_before = file.sections[..=before].iter().any(|s| s.trailer.contains("Encrypt"));
        if !enc_before && file.sections[k].trailer.contains("Encrypt") {
            notes.push(format!("r{}: encryption was added", k + 1));
            level = Modification::Other;
            continue;
        }
        // Fields known before this revision, by object number.
        let fields_before = fields_at(before)?;
        let fields_after = fields_at(k)?;
        let form_ref = match cat_before.get("AcroForm") {
            Some(Object::Ref(r)) => Some(*r),
            _ => None,
        };
        // Metadata objects as the *signed* revision knew them: a later revision cannot point
        // /Info or /Metadata at page content and then rewrite it as "metadata".
        let (_, cat_signed) = file.catalog_at(rev)?;
        let info_ref = file.sections[..=rev].iter().rev().find_map(|s| s.trailer.get("Info").and_then(Object::as_ref));
        let metadata_ref = cat_signed.get("Metadata").and_then(Object::as_ref);
        let pages_before: BTreeSet<u32> = file.pages_at(before)?.iter().map(|p| p.num).collect();
        let mut rev_level = Modification::Signing;
        let section = &file.sections[k];
        for (&num, entry) in &section.entries {
            let old = match file.entry_at(num, before) {
                None | Some(Entry::Free) => None,
                Some(e) => Some(e),
            };
            // The xref stream of this revision is its own object, unless it reuses an old number.
            if section.is_stream
                && old.is_none()
                && matches!(entry, Entry::InUse { offset, .. } if *offset == section.offset)
            {
                continue;
            }
            let Some(_) = old else { continue }; // new objects only matter if referenced by a change
            let r = Ref::new(num, 0);
            let (Some(o_old), o_new) = (file.get_at(r, before)?, file.get_at(r, k)?) else { continue };
            let Some(o_new) = o_new else {
                notes.push(format!("r{}: object {num} deleted", k + 1));
                rev_level = Modification::Other;
                continue;
            };
            if o_old == o_new {
                continue;
            }
            let existed_when_signed = !matches!(file.entry_at(num, rev), None | Some(Entry::Free));
            let is_info = Some(num) == info_ref.map(|r| r.num) && matches!(o_new, Object::Dict(_));
            let is_metadata = Some(num) == metadata_ref.map(|r| r.num)
                && matches!(&o_new, Object::Stream(d, _) if d.name("Type") == Some(b"Metadata"));
            let verdict = if num == cat_ref_before.num && num == cat_ref_after.num {
                catalog_change(o_old.as_dict(), o_new.as_dict(), file, before, k, rev)
            } else if Some(num) == form_ref.map(|r| r.num) {
                acroform_change(o_old.as_dict(), o_new.as_dict(), file, k)
            } else if is_info || is_metadata {
                Ok(Modification::Signing)
            } else if let Some(fb) = fields_before.get(&num) {
                field_change(file, fb, o_new.as_dict(), before, k)
            } else if pages_before.contains(&num) {
                page_change(o_old.as_dict(), o_new.as_dict(), file, before, k, &fields_after)
            } else if !existed_when_signed && is_dss_object(file, before, r) {
                // Validation data added after this signature, extended later.
                Ok(Modification::Signing)
            } else {
                Err("object replaced")
            };
            match verdict {
                Ok(l) => rev_level = rev_level.max(l),
                Err(why) => {
                    notes.push(format!("r{}: object {num}: {why}", k + 1));
                    rev_level = Modification::Other;
                }
            }
        }
        // Fields that gained a value in this revision but are not signature fields and are new.
        level = level.max(rev_level);
    }
    Ok((level, notes))
}

/// Whether `v` (a field's /V) is a signature dictionary whose byte range ends exactly where
/// revision `k` ends: the field is filled by a signature made in that revision.
fn signed_in(file: &PdfFile<'_>, v: Option<&Object>, k: usize) -> bool {
    let Some(Object::Ref(r)) = v else { return false };
    let Ok(Some(Object::Dict(sig))) = file.get_at(*r, k) else { return false };
    let br: Vec<i64> =
        sig.get("ByteRange").and_then(Object::as_array).unwrap_or(&[]).iter().filter_map(Object::as_int).collect();
    let [0, _, b, c] = br[..] else { return false };
    let Some(end) = b.checked_add(c).and_then(|e| usize::try_from(e).ok()) else { return false };
    let section_end = file.sections[k].end;
    // The dictionary itself is defined in revision k.
    let defined_here = file.sections[k].entries.contains_key(&r.num);
    defined_here && (end == section_end || end == trim_eol(file.data, section_end))
}

fn is_dss_object(file: &PdfFile<'_>, rev: usize, r: Ref) -> bool {
    let Ok((_, cat)) = file.catalog_at(rev) else { return false };
    matches!(cat.get("DSS"), Some(Object::Ref(d)) if *d == r)
}

fn diff_keys(a: &Dict, b: &Dict) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for k in a.keys().chain(b.keys()) {
        let key = String::from_utf8_lossy(k).into_owned();
        if a.get(&key) != b.get(&key) {
            out.insert(key);
        }
    }
    out
}

fn catalog_change(
    old: Option<&Dict>,
    new: Option<&Dict>,
    file: &PdfFile<'_>,
    before: usize,
    k: usize,
    rev: usize,
) -> std::result::Result<Modification, &'static str> {
    let (Some(old), Some(new)) = (old, new) else { return Err("catalog replaced") };
    let mut level = Modification::Signing;
    for key in diff_keys(old, new) {
        match key.as_str() {
            // The DSS is validation data added after signing: a new object, not an old one.
            "DSS" => match new.get("DSS") {
                Some(Object::Ref(d)) if matches!(file.entry_at(d.num, rev), None | Some(Entry::Free)) => {}
                Some(Object::Dict(_)) => {}
                _ => return Err("the DSS points at an object the signature covers"),
            },
            "Extensions" => {}
            "AcroForm" => {
                let o = old.get("AcroForm").and_then(|x| file.resolve_at(x, before).ok());
                let n = new.get("AcroForm").and_then(|x| file.resolve_at(x, k).ok());
                level = level.max(acroform_change(
                    o.as_ref().and_then(Object::as_dict),
                    n.as_ref().and_then(Object::as_dict),
                    file,
                    k,
                )?);
            }
            "Metadata" => {}
            _ => return Err("catalog changed"),
        }
    }
    Ok(level)
}

fn acroform_change(
    old: Option<&Dict>,
    new: Option<&Dict>,
    file: &PdfFile<'_>,
    k: usize,
) -> std::result::Result<Modification, &'static str> {
    let (Some(old), Some(new)) = (old, new) else { return Err("form replaced") };
    for key in diff_keys(old, new) {
        match key.as_str() {
            "SigFlags" | "DR" | "DA" => {}
            "Fields" => {
                // Only new signature fields may be appended.
                let o: Vec<Object> =
                    old.get("Fields").and_then(Object::as_array).map(<[Object]>::to_vec).unwrap_or_default();
                let n: Vec<Object> =
                    new.get("Fields").and_then(Object::as_array).map(<[Object]>::to_vec).unwrap_or_default();
                if n.len() < o.len() || n[..o.len()] != o[..] {
                    return Err("form fields removed or reordered");
                }
                for added in &n[o.len()..] {
                    let is_sig = added
                        .as_ref()
                        .and_then(|r| file.get_at(r, k).ok().flatten())
                        .and_then(|d| d.as_dict().and_then(|d| d.name("FT").map(|t| t == b"Sig")))
                        .unwrap_or(false);
                    if !is_sig {
                        return Err("a non-signature field was added");
                    }
                }
            }
            _ => return Err("form changed"),
        }
    }
    Ok(Modification::Signing)
}

fn field_change(
    file: &PdfFile<'_>,
    before_field: &crate::sign::Field,
    new: Option<&Dict>,
    before: usize,
    k: usize,
) -> std::result::Result<Modification, &'static str> {
    let Some(new) = new else { return Err("field replaced") };
    let old = &before_field.dict;
    let ft = crate::sign::field_type(file, before_field, before);
    let mut level = Modification::Signing;
    for key in diff_keys(old, new) {
        match (ft.as_deref(), key.as_str()) {
            (Some(b"Sig"), "V" | "AP") => {
                if old.contains("V") {
                    return Err("a signed field's signature or appearance was replaced");
                }
                // An empty signature field may only be filled by a signature closing this revision.
                if !signed_in(file, new.get("V"), k) {
                    return Err("a signature field was filled without a signature");
                }
            }
            (Some(b"Sig"), "Lock" | "SV") => {}
            (Some(b"Tx" | b"Ch" | b"Btn"), "V" | "AP" | "AS") => level = level.max(Modification::FormFilling),
            (_, "Rect") => return Err("field moved"),
            _ => return Err("field changed"),
        }
    }
    Ok(level)
}

fn page_change(
    old: Option<&Dict>,
    new: Option<&Dict>,
    file: &PdfFile<'_>,
    before: usize,
    k: usize,
    fields_after: &BTreeMap<u32, crate::sign::Field>,
) -> std::result::Result<Modification, &'static str> {
    let (Some(old), Some(new)) = (old, new) else { return Err("page replaced") };
    for key in diff_keys(old, new) {
        if key != "Annots" {
            return Err("page content changed");
        }
        let o: Vec<Object> = old
            .get("Annots")
            .and_then(|a| file.resolve_at(a, before).ok())
            .and_then(|a| a.as_array().map(<[Object]>::to_vec))
            .unwrap_or_default();
        let n: Vec<Object> = new
            .get("Annots")
            .and_then(|a| file.resolve_at(a, k).ok())
            .and_then(|a| a.as_array().map(<[Object]>::to_vec))
            .unwrap_or_default();
        if n.len() < o.len() || n[..o.len()] != o[..] {
            return Err("annotations removed");
        }
        for added in &n[o.len()..] {
            // Only signature fields, and only invisible ones or ones signed at once: an empty
            // visible "signature" field could lay any appearance over the page.
            let ok = added.as_ref().and_then(|r| fields_after.get(&r.num)).is_some_and(|f| {
                let invisible = f.width() * f.height() < 1.0;
                f.dict.name("FT") == Some(b"Sig") && (invisible || signed_in(file, f.dict.get("V"), k))
            });
            if !ok {
                return Err("an annotation was added");
            }
        }
    }
    Ok(Modification::Signing)
}
