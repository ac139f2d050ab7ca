//! Signing and validation throughput on one thread, keys parsed once and held in memory, as a
//! server signs documents all day: PAdES B-B and B-T signatures of the leader (certification,
//! blue signature image), both Decree 30 signatures on one document (leader, then the clerk
//! filling number and date with the agency seal), validation of a two-signature file, and
//! ECDSA P-256 B-B. Ends with a breakdown of where one signature's and one validation's time
//! goes. `bench/signing.sh` runs this beside pyHanko and `openssl speed`.
//!
//! With `VANBAN_BENCH_OUT=<dir>` it first writes the signer's key, certificate and chain as
//! PEM, the trust root and signed samples there, for the pyHanko side of the comparison.
//!
//! cargo bench -p vanban-pades --bench signing [-- N]

#[path = "../tests/pades/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::{FIXTURE, Tsa, World};
use sha2::{Digest, Sha256};
use vanban_pades::appearance::{Align, EmbeddedFont, text_appearance};
use vanban_pades::pdf::{Object, PdfFile, Update};
use vanban_pades::verify::{Policy, Verdict, verify_pdf};
use vanban_pades::{Font, Identity, SignOptions, Timestamper, Visual, finish_cms, prepare, reserve_for};
use vanban_pki::{
    Cert, KeyAlgorithm, RawSigner, RevocationData, SignedAttrs, SoftKey, parse_and_verify_token, parse_signed_data,
    validate_chain,
};

/// The leader's certification signature with the blue image, as `common::World::sign_signer`.
fn signer_opts(w: &World) -> SignOptions {
    let mut opts = SignOptions::new("vb_signature_signer", Visual::SignerImage(common::signature_image()), w.now);
    opts.certify = true;
    opts.name = Some("Nguyễn Văn An".into());
    opts.reason = Some("Ký ban hành".into());
    opts
}

/// The clerk's agency signature with the seal and number/date filled, as `sign_agency`; the
/// font is loaded once, as a server holds it.
fn agency_opts(w: &World, font: &Font, number: u32) -> SignOptions {
    let mut opts = SignOptions::new("vb_signature_agency", Visual::Seal(common::seal_image()), w.now);
    opts.fill = vec![
        ("vb_number".into(), number.to_string()),
        ("vb_day".into(), "30".into()),
        ("vb_month".into(), "11".into()),
    ];
    opts.font = Some(font.clone());
    opts
}

fn sign(
    pdf: &[u8],
    opts: &SignOptions,
    key: &SoftKey,
    cert: &Cert,
    chain: &[Cert],
    tsa: Option<&dyn Timestamper>,
) -> Vec<u8> {
    let id = Identity { key, cert, chain };
    vanban_pades::sign(pdf, opts, &id, tsa).expect("sign")
}

/// Runs `f` `n` times and returns the elapsed time.
fn time(n: usize, mut f: impl FnMut(usize)) -> StdDuration {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    t.elapsed()
}

fn per_s(n: usize, d: StdDuration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn line(what: &str, n: usize, unit: &str, d: StdDuration) {
    let ms = d.as_secs_f64() * 1000.0 / n as f64;
    println!("  {what:<58} {n:>5} {unit} in {:>6.2} s = {ms:>7.3} ms = {:>7.0} {unit}/s", d.as_secs_f64(), 1000.0 / ms);
}

fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in der.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            s.push(if k <= c.len() { B64[(n >> (18 - 6 * k) & 63) as usize] as char } else { '=' });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for l in s.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(l).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), data).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

/// The /Contents and /ByteRange of every signature in the file, in field order.
fn signatures_of(pdf: &[u8]) -> Vec<(Vec<u8>, [usize; 4])> {
    let file = PdfFile::parse(pdf).expect("parse");
    let last = file.revisions() - 1;
    vanban_pades::sign::fields(&file, last)
        .expect("fields")
        .iter()
        .filter_map(|f| f.dict.get("V").map(|v| file.resolve(v).expect("V")))
        .filter_map(|v| {
            let d = v.as_dict()?;
            let contents = d.get("Contents").and_then(Object::as_bytes)?.to_vec();
            let br: Vec<usize> = d
                .get("ByteRange")
                .and_then(Object::as_array)?
                .iter()
                .filter_map(|o| o.as_int().and_then(|i| usize::try_from(i).ok()))
                .collect();
            Some((contents, br.try_into().ok()?))
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let t = Instant::now();
    let w = World::new(KeyAlgorithm::Rsa2048);
    let font = Font::load(None).expect("font");
    let chain = w.chain();
    let (pcert, pkey) = (&w.person.0, &w.person.1);
    let (ocert, okey) = (&w.org.0, &w.org.1);
    let setup = t.elapsed();

    // Samples, and the files the validation runs on (vanban's and pyHanko's).
    let bb = sign(FIXTURE, &signer_opts(&w), pkey, pcert, &chain, None);
    let two_bt = w.sign_agency(&w.sign_signer(FIXTURE));
    let two_bb = sign(&bb, &agency_opts(&w, &font, 125), okey, ocert, &chain, None);
    let policy = w.policy();
    for (name, pdf) in [("signer B-B", &bb), ("two signatures B-T", &two_bt), ("two signatures B-B", &two_bb)] {
        let report = verify_pdf(pdf, &policy).expect("verify");
        assert_eq!(report.verdict, Verdict::Valid, "{name}: {report:#?}");
    }
    if let Some(dir) = std::env::var_os("VANBAN_BENCH_OUT") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).expect("output directory");
        write(dir, "signer_key.pem", pem("PRIVATE KEY", &pkey.to_pkcs8_der()));
        write(dir, "signer_cert.pem", pcert.to_pem());
        write(dir, "chain.pem", chain.iter().map(Cert::to_pem).collect::<String>());
        write(dir, "issuing.pem", w.pki.issuing.cert.to_pem());
        write(dir, "root.pem", w.pki.root.cert.to_pem());
        write(dir, "signed_bb.pdf", &bb);
        write(dir, "two_signatures_bt.pdf", &two_bt);
        write(dir, "two_signatures_bb.pdf", &two_bb);
    }

    // For a profiler: one loop only (`VANBAN_BENCH_ONLY=sign|both|validate perf record ...`).
    if let Ok(only) = std::env::var("VANBAN_BENCH_ONLY") {
        let opts = signer_opts(&w);
        let aopts = agency_opts(&w, &font, 125);
        for _ in 0..n {
            match only.as_str() {
                "sign" => drop(black_box(sign(FIXTURE, &opts, pkey, pcert, &chain, None))),
                "both" => {
                    let s = sign(FIXTURE, &opts, pkey, pcert, &chain, None);
                    drop(black_box(sign(&s, &aopts, okey, ocert, &chain, None)));
                }
                "validate" => drop(black_box(verify_pdf(&two_bt, &policy).expect("verify"))),
                other => panic!("VANBAN_BENCH_ONLY={other}: sign, both or validate"),
            }
        }
        return;
    }

    println!("vanban PAdES (vanban-pades, ring RSA/ECDSA), one thread, keys parsed once and held in memory:");
    println!(
        "  fixture {} bytes; test PKI set up in {:.0} ms (not counted)",
        FIXTURE.len(),
        setup.as_secs_f64() * 1000.0
    );
    println!(
        "  signed sizes: signer B-B {} bytes, two signatures B-B {} bytes, two signatures B-T {} bytes",
        bb.len(),
        two_bb.len(),
        two_bt.len()
    );

    // Warm-up (page faults, allocator, caches).
    for _ in 0..5 {
        black_box(sign(FIXTURE, &signer_opts(&w), pkey, pcert, &chain, None));
    }

    // B-B: the leader's certification signature, no timestamp. A different time (so a
    // different file) each time.
    let mut opts = signer_opts(&w);
    let d_bb = time(n, |i| {
        opts.time = w.now + Duration::seconds(i as i64);
        black_box(sign(FIXTURE, &opts, pkey, pcert, &chain, None));
    });
    line("B-B signer signature (RSA-2048, image, certification)", n, "sig", d_bb);

    // B-T: the same with a signature timestamp from the in-process TSA (one more RSA signature).
    let d_bt = time(n, |i| {
        opts.time = w.now + Duration::seconds(i as i64);
        let tsa = Tsa(&w.pki.tsa, opts.time);
        black_box(sign(FIXTURE, &opts, pkey, pcert, &chain, Some(&tsa)));
    });
    line("B-T signer signature (+ in-process TSA token)", n, "sig", d_bt);

    // Both signatures on one document, B-B: leader, then clerk with number and date filled.
    let mut aopts = agency_opts(&w, &font, 1);
    let d_both = time(n, |i| {
        opts.time = w.now + Duration::seconds(i as i64);
        let signed = sign(FIXTURE, &opts, pkey, pcert, &chain, None);
        aopts.fill[0].1 = (i + 1).to_string();
        black_box(sign(&signed, &aopts, okey, ocert, &chain, None));
    });
    line("both signatures B-B (signer + agency with number/date)", n, "doc", d_both);

    // Validation of the two-signature B-T file (as common::sign_signer + sign_agency make it),
    // trusting the test root, no revocation required (soft-fail).
    let d_val_bt = time(n, |_| {
        black_box(verify_pdf(&two_bt, &policy).expect("verify"));
    });
    let sigs = 2 * n;
    line("validation, two-signature B-T file (2 sig + 2 timestamps)", sigs, "sig", d_val_bt);
    let d_val_bb = time(n, |_| {
        black_box(verify_pdf(&two_bb, &policy).expect("verify"));
    });
    line("validation, two-signature B-B file", sigs, "sig", d_val_bb);

    // ECDSA P-256 B-B.
    let we = World::new(KeyAlgorithm::EcdsaP256);
    let echain = we.chain();
    let mut eopts = signer_opts(&we);
    let d_ec = time(n, |i| {
        eopts.time = we.now + Duration::seconds(i as i64);
        black_box(sign(FIXTURE, &eopts, &we.person.1, &we.person.0, &echain, None));
    });
    line("B-B signer signature (ECDSA P-256, image, certification)", n, "sig", d_ec);

    breakdown(&w, &font, &two_bt, &policy, n);

    println!("VANBAN_BB_PER_S={:.1}", per_s(n, d_bb));
    println!("VANBAN_BT_PER_S={:.1}", per_s(n, d_bt));
    println!("VANBAN_BOTH_PER_S={:.1}", per_s(n, d_both));
    println!("VANBAN_VALIDATE_SIG_PER_S={:.1}", per_s(sigs, d_val_bt));
    println!("VANBAN_VALIDATE_BB_SIG_PER_S={:.1}", per_s(sigs, d_val_bb));
    println!("VANBAN_ECDSA_BB_PER_S={:.1}", per_s(n, d_ec));
}

/// Prints how long one run of `f` takes, the mean of `n` runs.
fn step(what: &str, n: usize, f: impl FnMut(usize)) {
    let us = time(n, f).as_secs_f64() * 1e6 / n as f64;
    println!("    {what:<66} {us:>8.1} µs");
}

/// Where one B-B signature's and one validation's time goes: each step timed alone over `n`
/// runs, through the crate's public API.
fn breakdown(w: &World, font: &Font, two_bt: &[u8], policy: &Policy, n: usize) {
    let chain = w.chain();
    let (cert, key) = (&w.person.0, &w.person.1);
    let opts = signer_opts(w);
    let (img, seal) = (common::signature_image(), common::seal_image());
    let rsa = KeyAlgorithm::Rsa2048;

    println!("  breakdown of one B-B signer signature (each step alone, mean of {n}):");
    let reserve = reserve_for(rsa, cert, &chain, None).expect("reserve");
    step("reserve_for (dummy signed attributes + CMS sizing)", n, |_| {
        black_box(reserve_for(rsa, cert, &chain, None).expect("reserve"));
    });
    let file = PdfFile::parse(FIXTURE).expect("parse");
    step("PdfFile::parse of the fixture", n, |_| drop(black_box(PdfFile::parse(FIXTURE).expect("parse"))));
    step("fields() of the fixture (AcroForm walk)", n, |_| {
        black_box(vanban_pades::sign::fields(&file, 0).expect("fields"));
    });
    let label = format!("signature image XObject ({}×{}, compressed once when loaded)", img.width, img.height);
    step(&label, n, |_| {
        let mut up = Update::new(&file);
        black_box(img.embed(&mut up).expect("embed"));
    });
    let image_update = {
        let mut up = Update::new(&file);
        img.embed(&mut up).expect("embed");
        up.write().bytes.len() - FIXTURE.len()
    };
    println!("      (the image was compressed when loaded; {image_update} bytes written per signature)");
    step("prepare() total (parse, appearance, update, placeholder, digest)", n, |_| {
        black_box(prepare(FIXTURE, &opts, reserve).expect("prepare"));
    });
    let prepared = prepare(FIXTURE, &opts, reserve).expect("prepare");
    let pdf = prepared.pdf().to_vec();
    step(&format!("  of which SHA-256 of the byte ranges (≈ {} bytes)", pdf.len()), n, |_| {
        black_box(Sha256::digest(&pdf));
    });
    step("SignedAttrs::pades (signed attributes DER)", n, |_| {
        black_box(SignedAttrs::pades(&prepared.digest, cert).expect("attrs"));
    });
    let attrs = SignedAttrs::pades(&prepared.digest, cert).expect("attrs");
    let tbs = attrs.to_be_signed();
    step("RSA-2048 PKCS#1 v1.5 sign (ring, SoftKey::sign)", n, |_| {
        black_box(key.sign(&tbs).expect("sign"));
    });
    let value = RawSigner::sign(key, &tbs).expect("sign");
    step("finish_cms (CMS SignedData assembly, 3 certificates)", n, |_| {
        black_box(finish_cms(&attrs, rsa, &value, cert, &chain, None).expect("cms"));
    });
    let cms = finish_cms(&attrs, rsa, &value, cert, &chain, None).expect("cms");
    step(&format!("Prepared::embed (hex of {} bytes into {} reserved)", cms.len(), reserve), n, |_| {
        black_box(prepared.clone().embed(&cms).expect("embed"));
    });
    let tsa = Tsa(&w.pki.tsa, w.now);
    let digest: [u8; 32] = Sha256::digest(&value).into();
    step("B-T only: TSA token (in-process, one more RSA-2048 sign)", n, |_| {
        black_box(tsa.stamp(&digest).expect("stamp"));
    });

    println!("  what the agency signature adds (each alone, mean of {n}):");
    let fill = |up: &mut Update<'_, '_>, v: &str| {
        let mut ef = EmbeddedFont::new(up, font, &[v]).expect("font");
        text_appearance(up, &mut ef, &[v.to_owned()], 13.0, Align::Center, 40.0, 20.0).expect("text");
    };
    step("one filled field's appearance (font subset + deflate + form)", n, |_| {
        let mut up = Update::new(&file);
        fill(&mut up, "125");
        black_box(up);
    });
    let (one, three) = {
        let mut up = Update::new(&file);
        fill(&mut up, "125");
        let one = up.write().bytes.len() - FIXTURE.len();
        let mut up = Update::new(&file);
        let values = ["125", "30", "11"];
        let mut ef = EmbeddedFont::new(&mut up, font, &values).expect("font");
        for v in values {
            text_appearance(&mut up, &mut ef, &[v.to_owned()], 13.0, Align::Center, 40.0, 20.0).expect("text");
        }
        (one, up.write().bytes.len() - FIXTURE.len())
    };
    println!("      (number, day and month share one font subset: {one} bytes one field, {three} bytes the three)");
    let label = format!("seal image XObject ({}×{}, compressed once when loaded)", seal.width, seal.height);
    step(&label, n, |_| {
        let mut up = Update::new(&file);
        black_box(seal.embed(&mut up).expect("embed"));
    });
    let signed = {
        let id = Identity { key, cert, chain: &chain };
        vanban_pades::sign(FIXTURE, &opts, &id, None).expect("sign")
    };
    step(&format!("PdfFile::parse of the signed file ({} bytes)", signed.len()), n, |_| {
        drop(black_box(PdfFile::parse(&signed).expect("parse")));
    });

    println!("  breakdown of validating the two-signature B-T file (per file = 2 signatures, mean of {n}):");
    step("verify_pdf total", n, |_| drop(black_box(verify_pdf(two_bt, policy).expect("verify"))));
    step(&format!("PdfFile::parse ({} bytes, 3 revisions)", two_bt.len()), n, |_| {
        drop(black_box(PdfFile::parse(two_bt).expect("parse")));
    });
    let vfile = PdfFile::parse(two_bt).expect("parse");
    step("fields() of every revision (3 walks; analyse_changes walks again)", n, |_| {
        for rev in 0..vfile.revisions() {
            black_box(vanban_pades::sign::fields(&vfile, rev).expect("fields"));
        }
    });
    let sig_refs: Vec<_> = vanban_pades::sign::fields(&vfile, vfile.revisions() - 1)
        .expect("fields")
        .iter()
        .filter_map(|f| f.dict.get("V").and_then(Object::as_ref))
        .collect();
    step(&format!("PdfFile::get of the {} signature dictionaries (lexes /Contents)", sig_refs.len()), n, |_| {
        for r in &sig_refs {
            black_box(vfile.get(*r).expect("get"));
        }
    });
    step("docmdp_level (resolves /Perms → a signature dictionary)", n, |_| {
        black_box(vanban_pades::sign::docmdp_level(&vfile).expect("docmdp"));
    });
    let sigs = signatures_of(two_bt);
    assert_eq!(sigs.len(), 2, "two signatures");
    let covered: usize = sigs.iter().map(|(_, br)| br[1] + br[3]).sum();
    step(&format!("SHA-256 of both signatures' byte ranges ({covered} bytes)"), n, |_| {
        for (_, br) in &sigs {
            let mut h = Sha256::new();
            h.update(&two_bt[br[0]..br[0] + br[1]]);
            h.update(&two_bt[br[2]..br[2] + br[3]]);
            black_box(h.finalize());
        }
    });
    step(&format!("SHA-256 of the whole file for Report::sha256 ({} bytes)", two_bt.len()), n, |_| {
        black_box(Sha256::digest(two_bt));
    });
    let hexed: Vec<String> = sigs.iter().map(|(c, _)| hex::encode_upper(c)).collect();
    let digits: usize = hexed.iter().map(String::len).sum();
    step(&format!("hex-decode of both /Contents holes ({digits} hex digits)"), n, |_| {
        for h in &hexed {
            black_box(hex::decode(h).expect("hex"));
        }
    });
    step(&format!("  the same with the PDF lexer's decoder ({digits} hex digits)"), n, |_| {
        for h in &hexed {
            black_box(vanban_pades::pdf::parse::decode_hex(h.as_bytes()).expect("hex"));
        }
    });
    step("parse_signed_data ×2 (CMS + certificates)", n, |_| {
        for (c, _) in &sigs {
            black_box(parse_signed_data(c).expect("cms"));
        }
    });
    let parsed: Vec<_> = sigs.iter().map(|(c, _)| parse_signed_data(c).expect("cms")).collect();
    step("CMS signature verify ×2 (RSA-2048 public operation)", n, |_| {
        for p in &parsed {
            p.verify().expect("verify");
        }
    });
    let tokens: Vec<Vec<u8>> = parsed.iter().filter_map(|p| p.timestamp_token.clone()).collect();
    step(&format!("parse_and_verify_token ×{} (signature timestamps)", tokens.len()), n, |_| {
        for t in &tokens {
            black_box(parse_and_verify_token(t).expect("token"));
        }
    });
    let none = RevocationData::default();
    let tok: Vec<_> = tokens.iter().map(|t| parse_and_verify_token(t).expect("token")).collect();
    let label = format!("validate_chain ×{} (2 signers + 2 TSAs: ≈5 RSA verifications each)", parsed.len() + tok.len());
    step(&label, n, |_| {
        for p in &parsed {
            let s = p.signer.as_ref().expect("signer");
            black_box(validate_chain(s, &p.certs, &policy.trust, w.now, &none));
        }
        for t in &tok {
            let s = t.signer.as_ref().expect("tsa");
            let mut pool = t.certs.clone();
            pool.extend(parsed[0].certs.iter().cloned());
            black_box(validate_chain(s, &pool, &policy.trust, t.gen_time, &none));
        }
    });
    let issuing = &w.pki.issuing.cert;
    step("  of which one certificate signature check (Cert::verify_signature_with)", n, |_| {
        cert.verify_signature_with(issuing).expect("issued by");
    });
}
