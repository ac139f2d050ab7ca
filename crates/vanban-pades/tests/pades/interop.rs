//! Interoperability with independent validators and signers.
//!
//! - vanban's signatures (both Decree 30 signatures with every key algorithm, and B-LT/B-LTA)
//!   must be accepted by poppler's `pdfsig` (NSS) and by pyHanko, and `qpdf --check` must find
//!   the files well formed;
//! - signatures made by pyHanko must be judged correctly by vanban: valid, expired, revoked,
//!   untrusted and tampered — and pyHanko's own judgement of the same files agrees.
//!
//! The tools are external. With `CI=true` a missing tool fails the test; elsewhere the test is
//! skipped with a reason on stderr. pyHanko is found through `VANBAN_PYHANKO` (the `pyhanko`
//! executable), then the venv `target/bench-venv` that `scripts/test.sh` creates, then `PATH`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use common::{FIXTURE, World};
use vanban_pades::verify::{Policy, Report, SignatureReport, Verdict, verify_pdf};
use vanban_pki::{
    Cert, CertProfile, CertificateAuthority, Crl, IssueRequest, KeyAlgorithm, RevocationReason, RevokedEntry, SoftKey,
    SubjectInfo, TestPki, TrustStore,
};

// ---------------------------------------------------------------------------------------------
// Finding and running the tools
// ---------------------------------------------------------------------------------------------

const PYHANKO_HINT: &str =
    "pyHanko==0.38.0 and pyhanko-cli in target/bench-venv (scripts/test.sh), or set VANBAN_PYHANKO";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

/// Reports a missing tool: a failure with `CI=true`, a skip (with the reason) otherwise.
fn missing(why: &str) {
    assert!(!in_ci(), "CI=true and {why}");
    eprintln!("skipped: {why}");
}

/// A tool on `PATH`.
fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = on_path(name);
    if found.is_none() {
        missing(&format!("`{name}` is not on PATH (Debian package {package})"));
    }
    found
}

/// `VANBAN_PYHANKO`, else `target/bench-venv/bin/pyhanko`, else `pyhanko` on `PATH`.
fn pyhanko() -> Option<PathBuf> {
    let found = match std::env::var_os("VANBAN_PYHANKO").filter(|p| !p.is_empty()) {
        // An explicit choice that does not exist is reported, not replaced by another pyHanko.
        Some(p) if !p.to_string_lossy().contains('/') => on_path(&p.to_string_lossy()),
        Some(p) => Some(PathBuf::from(p)).filter(|p| is_executable(p)),
        None => Some(workspace_root().join("target/bench-venv/bin/pyhanko"))
            .filter(|p| is_executable(p))
            .or_else(|| on_path("pyhanko")),
    };
    if found.is_none() {
        missing(&format!("pyhanko not found: {PYHANKO_HINT}"));
    }
    found
}

/// The Python that runs `pyhanko` (its shebang), for the checks the CLI does not print.
fn pyhanko_python(pyhanko: &Path) -> Option<PathBuf> {
    let text = std::fs::read(pyhanko).unwrap_or_default();
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let found = std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix("#!"))
        .and_then(|l| {
            let mut words = l.split_whitespace();
            let interp = words.next()?;
            if interp.ends_with("/env") { on_path(words.next()?) } else { Some(PathBuf::from(interp)) }
        })
        .filter(|p| is_executable(p))
        .or_else(|| pyhanko.parent().map(|d| d.join("python3")).filter(|p| is_executable(p)));
    if found.is_none() {
        missing(&format!("no Python interpreter for {}: {PYHANKO_HINT}", pyhanko.display()));
    }
    found
}

struct Tools {
    pdfsig: PathBuf,
    certutil: PathBuf,
    qpdf: PathBuf,
    pyhanko: PathBuf,
    python: PathBuf,
}

/// Every validator, or `None` when one is missing (outside CI).
fn validators() -> Option<Tools> {
    let pdfsig = tool("pdfsig", "poppler-utils");
    let certutil = tool("certutil", "libnss3-tools");
    let qpdf = tool("qpdf", "qpdf");
    let pyhanko = pyhanko()?;
    let python = pyhanko_python(&pyhanko)?;
    Some(Tools { pdfsig: pdfsig?, certutil: certutil?, qpdf: qpdf?, pyhanko, python })
}

struct Output {
    code: Option<i32>,
    /// stdout then stderr.
    text: String,
}

impl Output {
    fn success(&self) -> bool {
        self.code == Some(0)
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Output { code: out.status.code(), text }
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// Key material as files
// ---------------------------------------------------------------------------------------------

fn pem(label: &str, der: &[u8]) -> String {
    vanban_pki::pem_block(label, der)
}

// ---------------------------------------------------------------------------------------------
// The validators
// ---------------------------------------------------------------------------------------------

/// An NSS database that trusts `root` for everything (what a user does for Okular or Evince).
fn nss_db(t: &Tools, dir: &Path, root: &Path) -> String {
    let db = dir.join("nss");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    let o = run(Command::new(&t.certutil).args(["-N", "-d", &db, "--empty-password"]));
    assert!(o.success(), "certutil -N:\n{}", o.text);
    let o = run(Command::new(&t.certutil).args(["-A", "-d", &db, "-n", "root", "-t", "CT,C,C", "-i"]).arg(root));
    assert!(o.success(), "certutil -A:\n{}", o.text);
    db
}

/// `pdfsig -nssdir DB FILE`: the whole output and one section per signature.
fn pdfsig(t: &Tools, db: &str, pdf: &Path) -> (String, Vec<String>) {
    // No `-no-ocsp`: with it poppler 22.12 reports "Certificate Validation: Unknown issue with
    // Certificate or corrupted data." for the very chain it otherwise trusts. The test
    // certificates name no OCSP responder (no AIA), so nothing goes online either way.
    let o = run(Command::new(&t.pdfsig).arg("-nssdir").arg(db).arg(pdf));
    let sections = o.text.split("\nSignature #").skip(1).map(|s| format!("{s}\n")).collect();
    (o.text, sections)
}

fn assert_pdfsig_valid_and_trusted(all: &str, section: &str, what: &str) {
    assert!(section.contains("  - Signature Validation: Signature is Valid.\n"), "pdfsig, {what}:\n{all}");
    assert!(section.contains("  - Certificate Validation: Certificate is Trusted.\n"), "pdfsig, {what}:\n{all}");
}

/// `pyhanko sign <command> --trust ROOT --trust-replace [extra] --pretty-print FILE`.
fn pyhanko_cli(pyhanko: &Path, command: &str, root: &Path, extra: &[&str], pdf: &Path) -> Output {
    run(Command::new(pyhanko)
        .args(["sign", command, "--trust"])
        .arg(root)
        .arg("--trust-replace")
        .args(extra)
        .arg("--pretty-print")
        .arg(pdf))
}

/// `pyhanko sign validate`, the reference check: only `root` trusted, no revocation check.
fn pyhanko_validate(pyhanko: &Path, root: &Path, pdf: &Path) -> Output {
    pyhanko_cli(pyhanko, "validate", root, &["--no-revocation-check"], pdf)
}

/// The pretty-printed report split per field: (field name, its text).
fn pyhanko_fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let header = line
            .strip_prefix("Field ")
            .and_then(|rest| rest.split_once(": "))
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if let Some((_, name)) = header {
            out.push((name.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// pyHanko's CLI prints regular signatures only; its API validates the document timestamps.
const PYHANKO_DOC_TIMESTAMPS: &str = r#"
import sys
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

root = load_cert_from_pemder(sys.argv[1])
with open(sys.argv[2], 'rb') as f:
    r = PdfFileReader(f)
    tss = r.embedded_timestamp_signatures
    print(f"document timestamps: {len(tss)}")
    for ts in tss:
        vc = ValidationContext(trust_roots=[root], allow_fetching=False)
        st = validate_pdf_timestamp(ts, validation_context=vc)
        print(f"field {ts.field_name}: {st.summary()}")
        print(f"  intact={st.intact} valid={st.valid} trusted={st.trusted} revoked={st.revoked}")
        print(f"  coverage={st.coverage.name} modification_level={st.modification_level}")
        print(f"  time={st.timestamp.isoformat()} tsa={st.signing_cert.subject.human_friendly}")
"#;

fn qpdf_check(t: &Tools, pdf: &Path) {
    let o = run(Command::new(&t.qpdf).arg("--check").arg(pdf));
    assert!(o.success(), "qpdf --check {} (exit {:?}):\n{}", pdf.display(), o.code, o.text);
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

        let db = nss_db(&t, dir.path(), &root);
        let (text, sigs) = pdfsig(&t, &db, &pdf);
        assert_eq!(sigs.len(), 2, "{alg:?}: pdfsig sees two signatures:\n{text}");
        assert!(sigs[0].contains("Signature Field Name: vb_signature_signer"), "{alg:?}:\n{text}");
        assert!(sigs[1].contains("Signature Field Name: vb_signature_agency"), "{alg:?}:\n{text}");
        assert!(sigs[1].contains("  - Total document signed\n"), "{alg:?}:\n{text}");
        for (i, s) in sigs.iter().enumerate() {
            assert!(s.contains("  - Signature Type: ETSI.CAdES.detached\n"), "{alg:?}:\n{text}");
            assert_pdfsig_valid_and_trusted(&text, s, &format!("{alg:?} signature #{}", i + 1));
        }

        let o = pyhanko_validate(&t.pyhanko, &root, &pdf);
        assert!(o.success(), "{alg:?}: pyhanko sign validate failed:\n{}", o.text);
        let fields = pyhanko_fields(&o.text);
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["vb_signature_signer", "vb_signature_agency"], "{alg:?}:\n{}", o.text);
        for (name, body) in &fields {
            assert!(body.contains("The signer's certificate is trusted."), "{alg:?} {name}:\n{}", o.text);
            assert!(body.contains("The signature is cryptographically sound."), "{alg:?} {name}:\n{}", o.text);
            assert!(body.contains("The TSA certificate is trusted."), "{alg:?} {name} is B-T:\n{}", o.text);
            assert!(body.contains("The signature is judged VALID."), "{alg:?} {name}:\n{}", o.text);
        }
        assert!(
            fields[0].1.contains("All modifications relate to signing and form filling operations"),
            "{alg:?}: pyHanko must see the number and date as form filling:\n{}",
            o.text
        );
        assert!(fields[1].1.contains("The signature covers the entire file."), "{alg:?}:\n{}", o.text);

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

    // The control: pyHanko's AdES validation, which checks revocation, refuses B-T (no CRL
    // for the issuing CA anywhere) — so accepting B-LT below means it used vanban's DSS.
    let bt = write(dir.path(), "b-t.pdf", &signed);
    let o = pyhanko_cli(&t.pyhanko, "adesverify", &root, &[], &bt);
    assert!(!o.success(), "pyhanko adesverify must refuse B-T without revocation data:\n{}", o.text);
    assert!(o.text.contains("no revocation information could be found"), "{}", o.text);

    for (level, bytes, signatures) in [("b-lt", &lt, 2), ("b-lta", &lta, 3)] {
        let pdf = write(dir.path(), &format!("{level}.pdf"), bytes);

        let (text, sigs) = pdfsig(&t, &db, &pdf);
        assert_eq!(sigs.len(), signatures, "{level}: pdfsig:\n{text}");
        for (i, s) in sigs.iter().enumerate().take(2) {
            assert_pdfsig_valid_and_trusted(&text, s, &format!("{level} signature #{}", i + 1));
        }
        if level == "b-lta" {
            // poppler 22.12 lists an ETSI.RFC3161 document timestamp ("Signature Type: unknown")
            // but cannot validate one ("Unimplemented Feature (0): Unable to validate this type
            // of signature"): here it is only seen covering the file; pyHanko validates it.
            let ts = &sigs[2];
            assert!(ts.contains("Signer Certificate Common Name: Bình An TSA"), "{level}:\n{text}");
            assert!(ts.contains("  - Total document signed\n"), "{level}:\n{text}");
        }

        // The plain check, as for B-T.
        let o = pyhanko_validate(&t.pyhanko, &root, &pdf);
        assert!(o.success(), "{level}: pyhanko sign validate failed:\n{}", o.text);
        let fields = pyhanko_fields(&o.text);
        assert_eq!(fields.len(), 2, "{level}: the CLI prints the two signatures:\n{}", o.text);
        for (name, body) in &fields {
            assert!(body.contains("The signature is judged VALID."), "{level} {name}:\n{}", o.text);
        }
        assert!(fields[0].1.contains("form filling"), "{level}:\n{}", o.text);
        // After the agency signature: the DSS ("signature maintenance"), then for B-LTA the
        // document timestamp's new field ("signing and form filling operations").
        let after = if level == "b-lt" { "signature maintenance" } else { "signing and form filling operations" };
        assert!(
            fields[1].1.contains(&format!("All modifications relate to {after}, and they appear to be compatible")),
            "{level}: only the DSS (and the document timestamp) follow the agency signature:\n{}",
            o.text
        );

        // AdES validation with revocation checking: only the CRLs in the DSS can satisfy it.
        let o = pyhanko_cli(&t.pyhanko, "adesverify", &root, &[], &pdf);
        assert!(o.success(), "{level}: pyhanko adesverify failed:\n{}", o.text);
        let fields = pyhanko_fields(&o.text);
        assert_eq!(fields.len(), 2, "{level}:\n{}", o.text);
        for (name, body) in &fields {
            assert!(body.contains("The signer's certificate is trusted."), "{level} {name}:\n{}", o.text);
            assert!(body.contains("The signature is judged VALID."), "{level} {name}:\n{}", o.text);
        }

        // The document timestamp, through pyHanko's API.
        let script = write(dir.path(), "doc_timestamps.py", PYHANKO_DOC_TIMESTAMPS);
        let o = run(Command::new(&t.python).arg(&script).arg(&root).arg(&pdf));
        assert!(o.success(), "{level}: pyHanko document timestamp check failed:\n{}", o.text);
        if level == "b-lt" {
            assert!(o.text.contains("document timestamps: 0\n"), "{}", o.text);
        } else {
            assert!(o.text.contains("document timestamps: 1\n"), "{}", o.text);
            assert!(o.text.contains(": INTACT:TRUSTED\n"), "{level}: the document timestamp:\n{}", o.text);
            assert!(o.text.contains("intact=True valid=True trusted=True revoked=False"), "{}", o.text);
            assert!(o.text.contains("coverage=ENTIRE_FILE"), "{}", o.text);
        }

        qpdf_check(&t, &pdf);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. pyHanko signs, vanban judges
// ---------------------------------------------------------------------------------------------

/// A person's certificate from `ca` with the given validity.
fn issue_person(
    ca: &CertificateAuthority,
    cn: &str,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> (Cert, SoftKey) {
    let key = SoftKey::generate(ca.key.algorithm()).unwrap();
    let mut subject = SubjectInfo::new(cn);
    subject.organization = Some("Ủy ban nhân dân tỉnh Bình An".into());
    let cert = ca
        .issue(&IssueRequest {
            subject,
            profile: CertProfile::Person,
            public_key_der: key.public_key_der().to_vec(),
            not_before,
            not_after,
        })
        .unwrap();
    (cert, key)
}

/// Files for one pyHanko signer: `<tag>-root.pem` and what `pemder` reads.
struct PemIdentity {
    key: PathBuf,
    cert: PathBuf,
    chain: PathBuf,
    root: PathBuf,
}

impl PemIdentity {
    /// `chain`: the issuing CA then the root.
    fn write(dir: &Path, tag: &str, cert: &Cert, key: &SoftKey, chain: &[Cert]) -> PemIdentity {
        PemIdentity {
            // Unencrypted PKCS#8, what `pemder --no-pass` reads.
            key: write(dir, &format!("{tag}-key.pem"), pem("PRIVATE KEY", &key.to_pkcs8_der())),
            cert: write(dir, &format!("{tag}-cert.pem"), cert.to_pem()),
            chain: write(dir, &format!("{tag}-chain.pem"), chain.iter().map(Cert::to_pem).collect::<String>()),
            root: write(dir, &format!("{tag}-root.pem"), chain.last().unwrap().to_pem()),
        }
    }
}

/// pyHanko signs the fixture PAdES-style (B-B: no TSA here) in a new visible field "Sig1" on
/// page 1 and returns the file, or pyHanko's output when it refuses.
fn pyhanko_sign(pyhanko: &Path, dir: &Path, tag: &str, id: &PemIdentity) -> Result<(PathBuf, Vec<u8>), String> {
    pyhanko_sign_into(pyhanko, dir, tag, id, FIXTURE, "1/100,100,300,150/Sig1")
}

/// pyHanko signs `input` in `field` (a name, or PAGE/X1,Y1,X2,Y2/NAME for a new one).
fn pyhanko_sign_into(
    pyhanko: &Path,
    dir: &Path,
    tag: &str,
    id: &PemIdentity,
    input: &[u8],
    field: &str,
) -> Result<(PathBuf, Vec<u8>), String> {
    let input = write(dir, &format!("{tag}-in.pdf"), input);
    let out = dir.join(format!("{tag}.pdf"));
    let o = run(Command::new(pyhanko)
        .args(["sign", "addsig", "--field", field, "--use-pades", "pemder", "--key"])
        .arg(&id.key)
        .arg("--cert")
        .arg(&id.cert)
        .arg("--chain")
        .arg(&id.chain)
        .arg("--no-pass")
        .arg(&input)
        .arg(&out));
    if !o.success() {
        return Err(o.text);
    }
    let bytes = std::fs::read(&out).unwrap();
    Ok((out, bytes))
}

fn only_signature(r: &Report) -> &SignatureReport {
    assert_eq!(r.signatures.len(), 1, "{r:#?}");
    let s = &r.signatures[0];
    assert_eq!(s.field, "Sig1", "{r:#?}");
    assert_eq!(s.sub_filter, "ETSI.CAdES.detached", "{r:#?}");
    s
}

/// The verdict of the file, and of its one signature with its reason.
fn judged(r: &Report) -> (Verdict, Verdict, &'static str) {
    let s = only_signature(r);
    (r.verdict, s.verdict, s.reason)
}

fn policy_trusting(root: &Cert) -> Policy {
    Policy { trust: TrustStore::new(vec![root.clone()]), ..Default::default() }
}

#[test]
fn vanban_judges_pyhanko_signatures() {
    let Some(pyhanko) = pyhanko() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = World::new(KeyAlgorithm::Rsa2048);
    let policy = w.policy();

    // (a) A certificate of the trusted test PKI: valid.
    let id = PemIdentity::write(dir, "good", &w.person.0, &w.person.1, &w.chain());
    let (path, good) = pyhanko_sign(&pyhanko, dir, "good", &id).unwrap_or_else(|e| panic!("pyhanko addsig:\n{e}"));
    assert!(good.starts_with(FIXTURE), "pyHanko signs as an incremental update");
    let r = verify_pdf(&good, &policy).unwrap();
    assert_eq!(judged(&r), (Verdict::Valid, Verdict::Valid, "ok"), "{r:#?}");
    let s = only_signature(&r);
    assert!(s.intact && s.trusted && s.covers_whole_file, "{r:#?}");
    assert_eq!(s.signer.as_ref().and_then(|c| c.uid.clone()).as_deref(), Some("CCCD:001090012345"));
    let o = pyhanko_validate(&pyhanko, &id.root, &path);
    assert!(o.success() && o.text.contains("The signature is judged VALID."), "pyHanko agrees:\n{}", o.text);

    // (e) One byte of revision 0 (page content, far from the signature) changed.
    let mut tampered = good.clone();
    let at = tampered.windows(6).position(|x| x == b"stream").unwrap() + 20;
    tampered[at] ^= 0x01;
    let r = verify_pdf(&tampered, &policy).unwrap();
    assert_eq!(judged(&r), (Verdict::Invalid, Verdict::Invalid, "digest_mismatch"), "{r:#?}");
    assert!(!only_signature(&r).intact, "{r:#?}");
    let path = write(dir, "tampered.pdf", &tampered);
    let o = pyhanko_validate(&pyhanko, &id.root, &path);
    assert!(!o.success() && o.text.contains("The signature is judged INVALID."), "pyHanko agrees:\n{}", o.text);
    assert!(o.text.contains("The signature is cryptographically unsound."), "pyHanko agrees:\n{}", o.text);

    // (c) Revoked an hour before pyHanko signed; the CRL comes from outside the file.
    let before = Utc::now();
    let revoked =
        issue_person(&w.pki.issuing, "Trần Thị Bình", w.pki.issuing.cert.not_before(), before + Duration::days(365));
    let entry = RevokedEntry {
        serial: revoked.0.serial(),
        revoked_at: before - Duration::hours(1),
        reason: RevocationReason::KeyCompromise,
    };
    let crl = w.pki.issuing.crl(&[entry], before - Duration::minutes(30), before + Duration::days(7), 2).unwrap();
    let id = PemIdentity::write(dir, "revoked", &revoked.0, &revoked.1, &w.chain());
    let (_, signed) =
        pyhanko_sign(&pyhanko, dir, "revoked", &id).unwrap_or_else(|e| panic!("pyhanko addsig (revoked):\n{e}"));
    let mut with_crl = w.policy();
    with_crl.revocation.crls = vec![Crl::from_der(&crl).unwrap()];
    let r = verify_pdf(&signed, &with_crl).unwrap();
    assert_eq!(judged(&r), (Verdict::Invalid, Verdict::Invalid, "revoked"), "{r:#?}");
    assert_eq!(only_signature(&r).revocation, "revoked", "{r:#?}");
    // The same file without the CRL: nothing says it was revoked (soft fail, like pyHanko's).
    let r = verify_pdf(&signed, &policy).unwrap();
    assert_eq!(judged(&r), (Verdict::Valid, Verdict::Valid, "ok"), "{r:#?}");

    // (d) A certificate of another PKI, whose root is not trusted.
    let other = World::new(KeyAlgorithm::EcdsaP256);
    let id = PemIdentity::write(dir, "untrusted", &other.person.0, &other.person.1, &other.chain());
    let (path, signed) =
        pyhanko_sign(&pyhanko, dir, "untrusted", &id).unwrap_or_else(|e| panic!("pyhanko addsig (other PKI):\n{e}"));
    let r = verify_pdf(&signed, &policy).unwrap();
    assert_eq!(judged(&r), (Verdict::Indeterminate, Verdict::Indeterminate, "untrusted_chain"), "{r:#?}");
    assert!(only_signature(&r).intact, "{r:#?}");
    // ... valid once that root is trusted.
    let r = verify_pdf(&signed, &other.policy()).unwrap();
    assert_eq!(judged(&r), (Verdict::Valid, Verdict::Valid, "ok"), "{r:#?}");
    // pyHanko trusting our root only: not trusted either.
    let ours = write(dir, "ours-root.pem", w.pki.root.cert.to_pem());
    let o = pyhanko_validate(&pyhanko, &ours, &path);
    assert!(o.text.contains("The signer's certificate is untrusted."), "pyHanko agrees:\n{}", o.text);
    assert!(o.text.contains("The signature is cryptographically sound."), "pyHanko agrees:\n{}", o.text);

    // (b) A certificate that expired a month ago, from a PKI made three years ago (its issuing
    // CA is still valid). No timestamp proves the signature existed before it expired.
    // pyHanko 0.38 signs with an expired certificate without complaint.
    let then = Utc::now() - Duration::days(3 * 365);
    let old = TestPki::generate("Bình An", KeyAlgorithm::Rsa2048, then, None).unwrap();
    let expired =
        issue_person(&old.issuing, "Lê Văn Cường", old.issuing.cert.not_before(), Utc::now() - Duration::days(30));
    let old_chain = [old.issuing.cert.clone(), old.root.cert.clone()];
    let id = PemIdentity::write(dir, "expired", &expired.0, &expired.1, &old_chain);
    let (path, signed) =
        pyhanko_sign(&pyhanko, dir, "expired", &id).unwrap_or_else(|e| panic!("pyhanko addsig (expired):\n{e}"));
    let r = verify_pdf(&signed, &policy_trusting(&old.root.cert)).unwrap();
    assert_eq!(judged(&r), (Verdict::Indeterminate, Verdict::Indeterminate, "expired_no_poe"), "{r:#?}");
    assert!(only_signature(&r).intact, "{r:#?}");
    let o = pyhanko_validate(&pyhanko, &id.root, &path);
    assert!(!o.success() && o.text.contains("The signature is judged INVALID."), "pyHanko agrees:\n{}", o.text);
    assert!(o.text.contains("because the end-entity certificate expired"), "pyHanko agrees:\n{}", o.text);
}

/// vanban certifies (DocMDP P=2), then pyHanko signs the empty agency field Decree 30 left for
/// it. pyHanko 0.38 rewrites the catalog's XMP metadata stream when it signs (xmptk
/// "pyHanko 0.38.0", a new ModifyDate) and its own diff policy permits that: both signatures
/// VALID, the first with "All modifications relate to signing and form filling operations".
/// vanban reports the first signature Invalid/`disallowed_changes` with `later_changes:
/// ["r3: object 94: object replaced"]` (object 94 is the fixture's `/Type /Metadata /Subtype
/// /XML` stream) until the change analysis learnt that an XMP update is metadata only.
#[test]
fn vanban_accepts_a_pyhanko_countersignature_after_its_certification() {
    let Some(pyhanko) = pyhanko() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = World::new(KeyAlgorithm::Rsa2048);
    let certified = w.sign_signer(FIXTURE);
    let id = PemIdentity::write(dir, "mixed", &w.org.0, &w.org.1, &w.chain());
    let (path, signed) = pyhanko_sign_into(&pyhanko, dir, "mixed", &id, &certified, "vb_signature_agency")
        .unwrap_or_else(|e| panic!("pyhanko addsig (after vanban):\n{e}"));
    assert!(signed.starts_with(&certified));

    let o = pyhanko_validate(&pyhanko, &id.root, &path);
    assert!(o.success(), "pyhanko sign validate:\n{}", o.text);
    let fields = pyhanko_fields(&o.text);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["vb_signature_signer", "vb_signature_agency"], "{}", o.text);
    assert!(fields[0].1.contains("All modifications relate to signing and form filling operations"), "{}", o.text);
    assert!(fields.iter().all(|(_, b)| b.contains("The signature is judged VALID.")), "{}", o.text);

    let r = verify_pdf(&signed, &w.policy()).unwrap();
    let fields: Vec<&str> = r.signatures.iter().map(|s| s.field.as_str()).collect();
    assert_eq!(fields, ["vb_signature_signer", "vb_signature_agency"], "{r:#?}");
    assert_eq!(r.signatures[1].reason, "ok", "{r:#?}");
    assert_eq!(r.signatures[0].reason, "ok_permitted_changes", "{:?}", r.signatures[0].later_changes);
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
}
