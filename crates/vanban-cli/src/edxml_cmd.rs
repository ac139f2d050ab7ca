//! `vanban edxml …`: read, build and check edXML (QCVN 102:2016) packages.

use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(clap::Subcommand)]
pub enum EdxmlCommand {
    /// Parse a package and print a summary (or, with --json, everything but the file contents).
    Parse {
        /// The .edxml file.
        file: PathBuf,
        /// Print the parsed package as JSON (attachments as name, size and SHA-256).
        #[arg(long)]
        json: bool,
    },
    /// Build a document package from a JSON description (an Edoc without attachment data).
    Build {
        /// The Edoc JSON; its `attachments` (if any) are ignored, give files with --attach.
        spec: PathBuf,
        /// Where to write the .edxml package.
        #[arg(short, long)]
        output: PathBuf,
        /// A file to attach (repeatable).
        #[arg(long = "attach")]
        attach: Vec<PathBuf>,
        /// The signing key, PKCS#8 PEM (signs when --cert is also given).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The signer's certificate, PEM.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Send the files raw instead of zipped.
        #[arg(long)]
        raw: bool,
    },
    /// Check the package's XML signature.
    Verify {
        /// The .edxml file.
        file: PathBuf,
    },
}

/// A refused package: the stable code, the Vietnamese reason (what a status 02 reply would say)
/// and the English one.
fn refused(path: &Path, e: &vanban_edxml::EdxmlError) -> anyhow::Error {
    anyhow::anyhow!("{}: {} — {}\n{}: {e}", path.display(), e.code(), e.message_vi(), e.code())
}

pub fn run(cmd: EdxmlCommand) -> anyhow::Result<()> {
    match cmd {
        EdxmlCommand::Parse { file, json } => parse(&file, json),
        EdxmlCommand::Build { spec, output, attach, key, cert, raw } => {
            build(&spec, &output, &attach, key.as_deref(), cert.as_deref(), raw)
        }
        EdxmlCommand::Verify { file } => verify(&file),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn parse(file: &Path, json: bool) -> anyhow::Result<()> {
    use vanban_edxml::Package;
    let bytes = read(file)?;
    let parsed = vanban_edxml::parse(&bytes, &vanban_edxml::Limits::default()).map_err(|e| refused(file, &e))?;
    if json {
        let mut value = serde_json::to_value(&parsed)?;
        // Attachments: name, size and SHA-256 instead of the data.
        if let (Package::Edoc(e), Some(list)) =
            (&parsed.package, value.pointer_mut("/package/Edoc/attachments").and_then(|v| v.as_array_mut()))
        {
            for (slot, a) in list.iter_mut().zip(&e.attachments) {
                *slot = serde_json::json!({
                    "content_id": a.content_id,
                    "name": a.name,
                    "description": a.description,
                    "content_type": a.content_type,
                    "zipped": a.zipped,
                    "size": a.data.len(),
                    "sha256": hex::encode(vanban_pki::sha256(&a.data)),
                });
            }
        }
        // The certificate as its SHA-256 fingerprint rather than an array of bytes.
        if let Some(sig) = value.pointer_mut("/signature").and_then(|v| v.as_object_mut()) {
            let der = parsed.signature.as_ref().and_then(|s| s.certificate_der.as_ref());
            sig.remove("certificate_der");
            sig.insert("certificate_sha256".into(), der.map(|d| hex::encode(vanban_pki::sha256(d))).into());
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    match &parsed.package {
        Package::Edoc(e) => {
            let h = &e.header;
            println!("edoc ({:?}) {}", e.trace.business.doc_type, h.document_id);
            println!("  from:    {} {}", h.from.organ_id, h.from.organ_name);
            for to in &h.to {
                println!("  to:      {} {}", to.organ_id, to.organ_name);
            }
            println!("  số, ký hiệu: {}/{}  ngày {}", h.code.number, h.code.notation, h.promulgation_date.raw);
            println!("  subject: {}", h.subject);
            for a in &e.attachments {
                println!(
                    "  attachment {} {} ({} bytes{}, sha256 {})",
                    a.content_id,
                    a.name,
                    a.data.len(),
                    if a.zipped { ", was zipped" } else { "" },
                    hex::encode(vanban_pki::sha256(&a.data))
                );
            }
        }
        Package::Status(s) => {
            println!("status {} from {} {}", s.status_code, s.from.organ_id, s.from.organ_name);
            println!("  for:     {}", s.response_for.document_id);
            println!("  at:      {}", s.timestamp.raw);
            println!("  note:    {}", s.description);
        }
    }
    match &parsed.signature {
        Some(sig) => println!(
            "  signature: {} ({}) — run `vanban edxml verify` to check it",
            sig.signature_method,
            sig.subject_name.as_deref().unwrap_or("no subject name")
        ),
        None => println!("  unsigned"),
    }
    for w in &parsed.warnings {
        println!("  warning {} at {}: {}", w.code, w.element, w.message);
    }
    Ok(())
}

fn build(
    spec: &Path,
    output: &Path,
    attach: &[PathBuf],
    key: Option<&Path>,
    cert: Option<&Path>,
    raw: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(spec).with_context(|| format!("cannot read {}", spec.display()))?;
    let mut edoc: vanban_edxml::Edoc =
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid Edoc JSON", spec.display()))?;
    edoc.attachments = attach
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(vanban_edxml::Attachment {
                content_id: format!("cid:{}", i + 1),
                description: name.clone(),
                name,
                content_type: String::new(),
                data: read(path)?,
                zipped: false,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let keys = match (key, cert) {
        (Some(k), Some(c)) => {
            let pem = std::fs::read_to_string(k).with_context(|| format!("cannot read {}", k.display()))?;
            let (_, der) = vanban_pki::pem_decode(&pem).with_context(|| format!("{} is not PEM", k.display()))?;
            let key = vanban_pki::SoftKey::from_pkcs8_der(&der)
                .with_context(|| format!("{} is not a PKCS#8 private key", k.display()))?;
            let pem = std::fs::read_to_string(c).with_context(|| format!("cannot read {}", c.display()))?;
            // The signer's certificate first, then its CAs (written into X509Data).
            let mut certs = vanban_pki::Cert::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", c.display()))?
                .into_iter();
            let cert = certs.next().with_context(|| format!("{} holds no certificate", c.display()))?;
            Some((key, cert, certs.collect::<Vec<_>>()))
        }
        (None, None) => None,
        _ => anyhow::bail!("--key and --cert go together"),
    };
    let signer = keys.as_ref().map(|(key, certificate, chain)| vanban_edxml::PackageSigner { key, certificate, chain });
    let file = std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    vanban_edxml::write_edoc(&edoc, signer.as_ref(), !raw, std::io::BufWriter::new(file))
        .map_err(|e| refused(spec, &e))?;
    println!(
        "{}: {} ({} attachment(s){})",
        output.display(),
        edoc.header.document_id,
        edoc.attachments.len(),
        if signer.is_some() { ", signed" } else { "" }
    );
    Ok(())
}

fn verify(file: &Path) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let v = vanban_edxml::verify_signature(&bytes).map_err(|e| refused(file, &e))?;
    let subject = vanban_pki::Cert::from_der(&v.certificate_der).map(|c| c.subject_string()).unwrap_or_default();
    println!("{}: signature valid ({}), signed by {subject}", file.display(), v.signature_method);
    Ok(())
}
