//! Interoperability with independent validators and signers.
//!
//! - vanban's signatures (both Decree 30 signatures, every key algorithm, and B-LT/B-LTA) must
//!   be accepted by poppler's `pdfsig` (NSS) and by pyHanko, and `qpdf --check` must find the
//!   files well formed;
//! - signatures made by pyHanko must be judged correctly by vanban: valid, expired, revoked,
//!   untrusted and tampered.
//!
//! The tools are external. With `CI=true` a missing tool fails the test; elsewhere the test is
//! skipped with a reason on stderr. pyHanko is found through `VANBAN_PYHANKO`, then the venv
//! `target/bench-venv` that `scripts/test.sh` creates, then `PATH`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use common::{FIXTURE, World};
use vanban_pades::verify::{Report, Verdict, verify_pdf};
use vanban_pki::{
    Cert, CertProfile, Crl, IssueRequest, KeyAlgorithm, RevocationReason, RevokedEntry, SoftKey, SubjectInfo, TestPki,
};

// ---------------------------------------------------------------------------------------------
// Finding and running the tools
// ---------------------------------------------------------------------------------------------

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The tool, or `None` (skip) outside CI; in CI a missing tool is a failure.
fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = if name == "pyhanko" { pyhanko() } else { on_path(name) };
    if found.is_none() {
        missing(&format!("{name} not found (install {package})"));
    }
    found
}

fn missing(why: &str) {
    if in_ci() {
        panic!("CI=true and {why}");
    }
    eprintln!("skipped: {why}");
}

fn pyhanko() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VANBAN_PYHANKO").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        // An explicit choice that does not exist is not silently replaced by another pyHanko.
        return is_executable(&p).then_some(p);
    }
    let venv = workspace_root().join("target/bench-venv/bin/pyhanko");
    if is_executable(&venv) {
        return Some(venv);
    }
    on_path("pyhanko")
}

struct Tools {
    pdfsig: PathBuf,
    certutil: PathBuf,
    qpdf: PathBuf,
    pyhanko: PathBuf,
}

/// Every validator, or `None` when one is missing (outside CI).
fn validators() -> Option<Tools> {
    let pdfsig = tool("pdfsig", "poppler-utils");
    let certutil = tool("certutil", "libnss3-tools");
    let qpdf = tool("qpdf", "qpdf");
    let pyhanko = tool("pyhanko", "pyHanko and pyhanko-cli in target/bench-venv, or set VANBAN_PYHANKO");
    Some(Tools { pdfsig: pdfsig?, certutil: certutil?, qpdf: qpdf?, pyhanko: pyhanko? })
}

struct Output {
    success: bool,
    code: Option<i32>,
    text: String,
}

/// Runs a command; stdout and stderr together, for matching and for failure messages.
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Output { success: out.status.success(), code: out.status.code(), text }
}

// ---------------------------------------------------------------------------------------------
// Key material as files
// ---------------------------------------------------------------------------------------------

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Unencrypted PKCS#8, as pyHanko's `pemder --no-pass` reads it.
fn key_pem(key: &SoftKey) -> String {
    pem("PRIVATE KEY", &key.to_pkcs8_der())
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// The validators
// ---------------------------------------------------------------------------------------------

/// An NSS database that trusts `root` for everything (what a user does in Okular/Evince).
fn nss_db(t: &Tools, dir: &Path, root: &Path) -> String {
    let db = dir.join("nss");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    let o = run(Command::new(&t.certutil).args(["-N", "-d", &db, "--empty-password"]));
    assert!(o.success, "certutil -N: {}", o.text);
    let o = run(Command::new(&t.certutil).args(["-A", "-d", &db, "-n", "root", "-t", "CT,C,C", "-i"]).arg(root));
    assert!(o.success, "certutil -A: {}", o.text);
    db
}

/// `pdfsig` output split per signature ("Signature #1:" ...).
fn pdfsig(t: &Tools, db: &str, pdf: &Path) -> (String, Vec<String>) {
    // No `-no-ocsp`: with it poppler 22.12 reports "Unknown issue with Certificate or corrupted
    // data" for a chain it otherwise trusts. The test certificates name no OCSP responder (no
    // AIA), so nothing goes online anyway.
    let o = run(Command::new(&t.pdfsig).args(["-nssdir", db]).arg(pdf));
    let mut sections = Vec::new();
    for part in o.text.split("Signature #").skip(1) {
        sections.push(part.to_owned());
    }
    (o.text, sections)
}

fn assert_pdfsig_valid_and_trusted(text: &str, section: &str, what: &str) {
    assert!(section.contains("Signature Validation: Signature is Valid."), "pdfsig, {what}:\n{text}");
    assert!(section.contains("Certificate Validation: Certificate is Trusted."), "pdfsig, {what}:\n{text}");
}

/// `pyhanko sign validate --pretty-print`, trusting only `root`, without revocation checks.
fn pyhanko_validate(t: &Tools, root: &Path, pdf: &Path) -> Output {
    run(Command::new(&t.pyhanko)
        .args(["sign", "validate", "--trust"])
        .arg(root)
        .args(["--trust-replace", "--no-revocation-check", "--pretty-print"])
        .arg(pdf))
}

/// The pretty-printed report split per field: ("name", text).
fn pyhanko_fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Field ")
            && let Some((n, name)) = rest.split_once(':')
            && n.trim().chars().all(|c| c.is_ascii_digit())
        {
            out.push((name.trim().to_owned(), String::new()));
            continue;
        }
        if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn qpdf_check(t: &Tools, pdf: &Path) {
    let o = run(Command::new(&t.qpdf).arg("--check").arg(pdf));
    assert!(o.success && o.code == Some(0), "qpdf --check {} (exit {:?}):\n{}", pdf.display(), o.code, o.text);
    assert!(o.text.contains("No syntax or stream encoding errors found"), "qpdf --check:\n{}", o.text);
}

// ---------------------------------------------------------------------------------------------
// 1. vanban's two signatures, every key algorithm, in pdfsig, pyHanko and qpdf
// ---------------------------------------------------------------------------------------------

#[test]
fn independent_validators_accept_both_decree_30_signatures() {
    let Some(t) = validators() else { return };
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
        let w = World::new(alg);
        let signed = w.sign_agency(&w.sign_signer(FIXTURE));
        let dir = tempfile::tempdir().unwrap();
        let pdf = write(dir.path(), "signed.pdf", &signed);
        let root = write(dir.path(), "root.pem", w.pki.root.cert.to_pem());
        if let Ok(d) = std::env::var("INTEROP_DUMP") {
            std::fs::write(format!("{d}/{alg:?}.pdf"), &signed).unwrap();
            std::fs::write(format!("{d}/{alg:?}-root.pem"), w.pki.root.cert.to_pem()).unwrap();
        }

        let db = nss_db(&t, dir.path(), &root);
        let (text, sigs) = pdfsig(&t, &db, &pdf);
        assert_eq!(sigs.len(), 2, "{alg:?}: pdfsig sees two signatures:\n{text}");
        for (i, s) in sigs.iter().enumerate() {
            assert_pdfsig_valid_and_trusted(&text, s, &format!("{alg:?} signature #{}", i + 1));
        }

        let o = pyhanko_validate(&t, &root, &pdf);
        assert!(o.success, "{alg:?}: pyhanko validate failed:\n{}", o.text);
        let fields = pyhanko_fields(&o.text);
        assert_eq!(
            fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["vb_signature_signer", "vb_signature_agency"],
            "{alg:?}:\n{}",
            o.text
        );
        for (name, body) in &fields {
            assert!(body.contains("The signature is judged VALID"), "{alg:?} {name}:\n{}", o.text);
        }
        assert!(
            fields[0].1.contains("All modifications relate to signing and form filling operations"),
            "{alg:?}: pyHanko must see the number fill as form filling:\n{}",
            o.text
        );

        qpdf_check(&t, &pdf);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. B-LT and B-LTA
// ---------------------------------------------------------------------------------------------

#[test]
fn independent_validators_accept_b_lt_and_b_lta() {
    let Some(t) = validators() else { return };
    let w = World::new(KeyAlgorithm::Rsa2048);
    let signed = w.sign_agency(&w.sign_signer(FIXTURE));
    let crl = w.pki.issuing.crl(&[], w.now, w.now + Duration::days(7), 1).unwrap();
    let root_crl = w.pki.root.crl(&[], w.now, w.now + Duration::days(7), 1).unwrap();
    let certs: Vec<Vec<u8>> = w.chain().iter().map(|c| c.der().to_vec()).collect();
    let lt = vanban_pades::add_dss(&signed, &certs, &[], &[crl, root_crl]).unwrap();
    let lta = vanban_pades::timestamp_document(&lt, &w.tsa(), w.now).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "root.pem", w.pki.root.cert.to_pem());
    let db = nss_db(&t, dir.path(), &root);
    for (level, bytes, fields_expected) in [("b-lt", &lt, 2), ("b-lta", &lta, 3)] {
        let pdf = write(dir.path(), &format!("{level}.pdf"), bytes);
        if let Ok(d) = std::env::var("INTEROP_DUMP") {
            std::fs::write(format!("{d}/{level}.pdf"), bytes).unwrap();
            std::fs::write(format!("{d}/lt-root.pem"), w.pki.root.cert.to_pem()).unwrap();
        }

        let (text, sigs) = pdfsig(&t, &db, &pdf);
        assert_eq!(sigs.len(), fields_expected, "{level}: pdfsig:\n{text}");
        for (i, s) in sigs.iter().enumerate().take(2) {
            assert_pdfsig_valid_and_trusted(&text, s, &format!("{level} signature #{}", i + 1));
        }
        if level == "b-lta" {
            // poppler 22.12 lists an ETSI.RFC3161 document timestamp ("Signature Type: unknown")
            // but cannot validate one ("Unimplemented Feature (0): Unable to validate this type
            // of signature"); pyHanko checks it below. Here: it is seen and covers the file.
            let ts = &sigs[2];
            assert!(
                ts.contains("Signer Certificate Common Name: Bình An TSA"),
                "{level}: the document timestamp:\n{text}"
            );
            assert!(
                ts.contains("  - Total document signed"),
                "{level}: the document timestamp covers the file:\n{text}"
            );
        }

        let o = pyhanko_validate(&t, &root, &pdf);
        assert!(o.success, "{level}: pyhanko validate failed:\n{}", o.text);
        let fields = pyhanko_fields(&o.text);
        assert_eq!(fields.len(), fields_expected, "{level}:\n{}", o.text);
        for (name, body) in &fields[..2] {
            assert!(body.contains("The signature is judged VALID"), "{level} {name}:\n{}", o.text);
        }
        if level == "b-lta" {
            let (name, body) = &fields[2];
            assert!(body.contains("document timestamp"), "{level} {name} is a document timestamp:\n{}", o.text);
            assert!(body.contains("judged VALID"), "{level} {name}:\n{}", o.text);
        }

        qpdf_check(&t, &pdf);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. pyHanko signs, vanban judges
// ---------------------------------------------------------------------------------------------

fn subject(cn: &str) -> SubjectInfo {
    let mut s = SubjectInfo::new(cn);
    s.organization = Some("Ủy ban nhân dân tỉnh Bình An".into());
    s
}

/// A person's certificate from `ca` with the given validity.
fn issue_person(
    ca: &vanban_pki::CertificateAuthority,
    cn: &str,
    nb: DateTime<Utc>,
    na: DateTime<Utc>,
) -> (Cert, SoftKey) {
    let key = SoftKey::generate(ca.key.algorithm()).unwrap();
    let cert = ca
        .issue(&IssueRequest {
            subject: subject(cn),
            profile: CertProfile::Person,
            public_key_der: key.public_key_der().to_vec(),
            not_before: nb,
            not_after: na,
        })
        .unwrap();
    (cert, key)
}

/// pyHanko signs `input` with `key`/`cert` (chain: `chain`, issuing CA first) as PAdES B-B in
/// a new visible field "Sig1" on page 1. Err(output) when pyHanko refuses.
fn pyhanko_sign(
    pyhanko: &Path,
    dir: &Path,
    tag: &str,
    input: &[u8],
    cert: &Cert,
    key: &SoftKey,
    chain: &[Cert],
) -> Result<Vec<u8>, String> {
    let key = write(dir, &format!("{tag}-key.pem"), key_pem(key));
    let cert = write(dir, &format!("{tag}-cert.pem"), cert.to_pem());
    let chain = write(dir, &format!("{tag}-chain.pem"), chain.iter().map(Cert::to_pem).collect::<String>());
    let input = write(dir, &format!("{tag}-in.pdf"), input);
    let out = dir.join(format!("{tag}-out.pdf"));
    let o = run(Command::new(pyhanko)
        .args(["sign", "addsig", "--field", "1/100,100,300,150/Sig1", "--use-pades", "pemder", "--key"])
        .arg(&key)
        .arg("--cert")
        .arg(&cert)
        .arg("--chain")
        .arg(&chain)
        .arg("--no-pass")
        .arg(&input)
        .arg(&out));
    if !o.success {
        return Err(o.text);
    }
    Ok(std::fs::read(&out).unwrap())
}

fn only_signature(r: &Report) -> &vanban_pades::verify::SignatureReport {
    assert_eq!(r.signatures.len(), 1, "{r:#?}");
    let s = &r.signatures[0];
    assert_eq!(s.field, "Sig1", "{r:#?}");
    assert_eq!(s.sub_filter, "ETSI.CAdES.detached", "{r:#?}");
    s
}

#[test]
fn vanban_judges_pyhanko_signatures() {
    let Some(pyhanko) = tool("pyhanko", "pyHanko and pyhanko-cli in target/bench-venv, or set VANBAN_PYHANKO") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(KeyAlgorithm::Rsa2048);
    let chain = w.chain();
    let policy = w.policy();

    // (a) A certificate of the trusted test PKI: valid.
    let good = pyhanko_sign(&pyhanko, dir.path(), "good", FIXTURE, &w.person.0, &w.person.1, &chain)
        .unwrap_or_else(|e| panic!("pyhanko addsig:\n{e}"));
    assert!(good.starts_with(FIXTURE), "pyHanko signs as an incremental update");
    let r = verify_pdf(&good, &policy).unwrap();
    let s = only_signature(&r);
    assert_eq!((r.verdict, s.verdict, s.reason), (Verdict::Valid, Verdict::Valid, "ok"), "{r:#?}");
    assert!(s.intact && s.trusted && s.covers_whole_file, "{r:#?}");
    assert_eq!(s.signer.as_ref().and_then(|c| c.uid.clone()).as_deref(), Some("CCCD:001090012345"));

    // (e) One byte of revision 0 (page content, far from the signature) changed.
    let mut tampered = good.clone();
    let at = tampered.windows(6).position(|x| x == b"stream").unwrap() + 20;
    tampered[at] ^= 0x01;
    let r = verify_pdf(&tampered, &policy).unwrap();
    let s = only_signature(&r);
    assert_eq!((r.verdict, s.verdict, s.reason), (Verdict::Invalid, Verdict::Invalid, "digest_mismatch"), "{r:#?}");

    // (c) Revoked an hour before pyHanko signed; the CRL comes from outside the file.
    let revoked =
        issue_person(&w.pki.issuing, "Trần Thị Bình", w.pki.issuing.cert.not_before(), w.now + Duration::days(365));
    let crl = w
        .pki
        .issuing
        .crl(
            &[RevokedEntry {
                serial: revoked.0.serial(),
                revoked_at: Utc::now() - Duration::hours(1),
                reason: RevocationReason::KeyCompromise,
            }],
            Utc::now() - Duration::minutes(30),
            Utc::now() + Duration::days(7),
            2,
        )
        .unwrap();
    let signed = pyhanko_sign(&pyhanko, dir.path(), "revoked", FIXTURE, &revoked.0, &revoked.1, &chain)
        .unwrap_or_else(|e| panic!("pyhanko addsig (revoked certificate):\n{e}"));
    let mut with_crl = w.policy();
    with_crl.revocation.crls = vec![Crl::from_der(&crl).unwrap()];
    let r = verify_pdf(&signed, &with_crl).unwrap();
    let s = only_signature(&r);
    assert_eq!((r.verdict, s.verdict, s.reason), (Verdict::Invalid, Verdict::Invalid, "revoked"), "{r:#?}");
    assert_eq!(s.revocation, "revoked", "{r:#?}");
    // The same file without the CRL: nothing says it was revoked (pyHanko-like soft fail).
    let r = verify_pdf(&signed, &policy).unwrap();
    assert_eq!(only_signature(&r).verdict, Verdict::Valid, "{r:#?}");

    // (d) A certificate of another PKI, whose root is not trusted.
    let other = World::new(KeyAlgorithm::EcdsaP256);
    let signed =
        pyhanko_sign(&pyhanko, dir.path(), "untrusted", FIXTURE, &other.person.0, &other.person.1, &other.chain())
            .unwrap_or_else(|e| panic!("pyhanko addsig (other PKI):\n{e}"));
    let r = verify_pdf(&signed, &policy).unwrap();
    let s = only_signature(&r);
    assert!(s.intact, "{r:#?}");
    assert_eq!(
        (r.verdict, s.verdict, s.reason),
        (Verdict::Indeterminate, Verdict::Indeterminate, "untrusted_chain"),
        "{r:#?}"
    );
    // ... and valid once that root is trusted.
    let r = verify_pdf(&signed, &other.policy()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");

    // (b) A certificate that expired a month ago, from a PKI made three years ago (the
    // issuing CA is still valid). No timestamp proves the signature existed before.
    let then = Utc::now() - Duration::days(3 * 365);
    let old = TestPki::generate("Bình An", KeyAlgorithm::Rsa2048, then, None).unwrap();
    let expired =
        issue_person(&old.issuing, "Lê Văn Cường", old.issuing.cert.not_before(), Utc::now() - Duration::days(30));
    let old_chain = vec![old.issuing.cert.clone(), old.root.cert.clone()];
    let signed = pyhanko_sign(&pyhanko, dir.path(), "expired", FIXTURE, &expired.0, &expired.1, &old_chain)
        .unwrap_or_else(|e| panic!("pyhanko addsig (expired certificate):\n{e}"));
    let old_policy = vanban_pades::verify::Policy {
        trust: vanban_pki::TrustStore::new(vec![old.root.cert.clone()]),
        ..Default::default()
    };
    let r = verify_pdf(&signed, &old_policy).unwrap();
    let s = only_signature(&r);
    assert!(s.intact, "{r:#?}");
    assert_eq!(
        (r.verdict, s.verdict, s.reason),
        (Verdict::Indeterminate, Verdict::Indeterminate, "expired_no_poe"),
        "{r:#?}"
    );
}
