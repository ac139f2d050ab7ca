//! `vanban verify FILE.pdf`: validates every signature in a PDF and prints the findings.
//!
//! Exit codes: 0 all signatures valid; 3 some signature invalid; 4 indeterminate (untrusted,
//! no signatures, …); 2 the file could not be read as a PDF.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use vanban_pades::verify::{Policy, Report, Verdict, verify_pdf};
use vanban_pki::{Crl, RevocationData, TrustStore};

/// Options of `vanban verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The signed PDF.
    pub file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// A trust anchor (PEM, one or more certificates); repeatable. Without one, no chain is
    /// trusted and signatures are at best indeterminate.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// A CRL (DER or PEM) to use for revocation checks; repeatable.
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// Treat missing revocation information as indeterminate (ETSI EN 319 102-1).
    #[arg(long)]
    pub strict: bool,
    /// Fetch the CRLs that the certificates in the file point to (their CAs' distribution
    /// points, over HTTP(S)).
    #[arg(long)]
    pub fetch: bool,
}

fn load_crl(p: &Path) -> anyhow::Result<Crl> {
    let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    let der = if bytes.starts_with(b"-----BEGIN") {
        let (_, der) = vanban_pki::pem_decode(&String::from_utf8_lossy(&bytes))
            .map_err(|e| anyhow::anyhow!("{} is not a PEM CRL: {e}", p.display()))?;
        der
    } else {
        bytes
    };
    Crl::from_der(&der).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}

/// The CRLs the file's certificates name, fetched (unreachable ones are reported, not fatal).
fn fetch_crls(pdf: &[u8]) -> anyhow::Result<Vec<Crl>> {
    let certs = vanban_pades::verify::certificates_in(pdf).unwrap_or_default();
    let mut urls: Vec<String> = Vec::new();
    for c in &certs {
        for u in c.crl_urls() {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let fetcher = vanban_server::fetch::CrlFetcher::new().map_err(|e| anyhow::anyhow!(e))?;
        let mut out = Vec::new();
        for u in urls.iter().take(16) {
            match fetcher.get(u).await {
                Some(der) => out.push(Crl::from_der(&der).map_err(|e| anyhow::anyhow!("{u}: {e}"))?),
                None => eprintln!("warning: cannot fetch the CRL at {u}"),
            }
        }
        Ok(out)
    })
}

/// Runs the command.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let pdf = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut anchors = Vec::new();
    for t in &args.trust {
        let text = std::fs::read_to_string(t).with_context(|| format!("cannot read {}", t.display()))?;
        let certs = vanban_pki::Cert::from_pem(&text).map_err(|e| anyhow::anyhow!("{}: {e}", t.display()))?;
        anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", t.display());
        anchors.extend(certs);
    }
    let mut revocation = RevocationData::default();
    for c in &args.crl {
        revocation.crls.push(load_crl(c)?);
    }
    if args.fetch {
        revocation.crls.extend(fetch_crls(&pdf)?);
    }
    let policy = Policy {
        trust: TrustStore::new(anchors),
        revocation,
        require_revocation: args.strict,
        now: None,
        earlier: None,
    };
    let report = match verify_pdf(&pdf, &policy) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e} [{}]", args.file.display(), e.code());
            eprintln!("lỗi: {}", e.message_vi());
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&args.file, &report);
    }
    Ok(match report.verdict {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(3),
        Verdict::Indeterminate => ExitCode::from(4),
    })
}

fn print_report(path: &Path, r: &Report) {
    println!("{}: {} bytes, {} revision(s), sha256 {}", path.display(), r.size, r.revisions, r.sha256);
    for (i, s) in r.signatures.iter().enumerate() {
        let who =
            s.signer.as_ref().map_or("?".to_owned(), |c| c.common_name.clone().unwrap_or_else(|| c.subject.clone()));
        println!("signature {} ({}, field {}): {} [{}]", i + 1, s.kind, s.field, verdict_en(s.verdict), s.reason);
        println!("  {} — {}", s.verdict.label_vi(), s.reason_vi);
        println!("  signer: {who}");
        if let Some(c) = &s.signer {
            if let Some(uid) = &c.uid {
                println!("  uid: {uid}");
            }
            println!("  issuer: {}", c.issuer);
        }
        println!(
            "  revision {}/{}{}, intact: {}, trusted: {}, revocation: {}",
            s.revision,
            s.revisions,
            if s.covers_whole_file { " (whole file)" } else { "" },
            s.intact,
            s.trusted,
            s.revocation
        );
        if let Some(t) = &s.timestamp {
            println!("  timestamp: {} (trusted: {})", t.time_vn, t.trusted);
        } else if let Some(c) = s.claimed_time {
            println!("  claimed time: {}", vanban_pades::iso_vn(c));
        }
        if let Some(p) = s.docmdp {
            println!("  certification: DocMDP P={p}");
        }
        println!("  changes after it: {:?}", s.modification);
        for c in &s.later_changes {
            println!("    {c}");
        }
        for p in &s.chain_problems {
            println!("  problem: {p}");
        }
    }
    println!("verdict: {} [{}] — {}", verdict_en(r.verdict), r.reason, r.reason_vi);
}

fn verdict_en(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "VALID",
        Verdict::Invalid => "INVALID",
        Verdict::Indeterminate => "INDETERMINATE",
    }
}
