//! Signing through PKCS#11, on a SoftHSM2 token set up in a scratch directory.
//!
//! Needs the softhsm2 package (the module and softhsm2-util). With CI=true a missing SoftHSM2 is
//! a failure; elsewhere the test says why it skips.

#![cfg(feature = "pkcs11")]

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;
use vanban_pki::{
    KeyAlgorithm, Pkcs11Token, RawSigner, SignedAttrs, ToBeSigned, assemble_signed_data, sha256, verify_signature,
};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn softhsm_available() -> bool {
    let util = Command::new("softhsm2-util").arg("--version").output().is_ok_and(|o| o.status.success());
    let ok = util && Path::new(MODULE).exists();
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "CI=true but SoftHSM2 is missing ({MODULE} and softhsm2-util): install the softhsm2 package");
        eprintln!("skipping: SoftHSM2 is not installed ({MODULE}, softhsm2-util)");
    }
    ok
}

fn softhsm(conf: &Path, args: &[&str]) {
    let out = Command::new("softhsm2-util").args(args).env("SOFTHSM2_CONF", conf).output().expect("softhsm2-util");
    assert!(
        out.status.success(),
        "softhsm2-util {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sign_with_rsa_and_ecdsa_keys_on_softhsm() {
    if !softhsm_available() {
        return;
    }
    let s = Scratch::new();
    let dir = s.dir.path();
    std::fs::create_dir(s.path("tokens")).unwrap();
    let conf = s.write(
        "softhsm2.conf",
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            s.path("tokens").display()
        ),
    );
    // The module reads its configuration when it is initialised, which happens once in this
    // process (this is the only test in this binary that touches it).
    // SAFETY: no other thread of this test binary reads or writes the environment.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    softhsm(&conf, &["--init-token", "--free", "--label", "vanban", "--pin", "123456", "--so-pin", "12345678"]);

    let mut expected = Vec::new();
    for (i, alg) in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa3072].into_iter().enumerate() {
        let pki = pki(alg);
        let (cert, key) = pki.person(person_subject()).unwrap();
        let name = format!("k{i}");
        s.write(format!("{name}.der").as_str(), key.to_pkcs8_der());
        openssl_ok(dir, &["pkey", "-inform", "DER", "-in", &format!("{name}.der"), "-out", &format!("{name}.pem")]);
        let id = format!("0{}", i + 1);
        softhsm(
            &conf,
            &[
                "--import",
                &s.path(&format!("{name}.pem")).display().to_string(),
                "--label",
                &name,
                "--id",
                &id,
                "--pin",
                "123456",
                "--token",
                "vanban",
            ],
        );
        expected.push((alg, vec![(i + 1) as u8], cert, pki));
    }

    let token = Pkcs11Token::open(Path::new(MODULE), Some("vanban"), "123456").unwrap();
    assert_eq!(token.label(), "vanban");
    // Certificates go on the token through our own API.
    for (_, id, cert, _) in &expected {
        token.import_certificate(id, "cert", cert).unwrap();
    }
    let signers = token.signers().unwrap();
    assert_eq!(signers.len(), expected.len(), "{signers:?}");
    for (alg, id, cert, pki) in &expected {
        let key = signers.iter().find(|k| &k.id == id).expect("key by id");
        assert_eq!(key.algorithm(), *alg);
        assert_eq!(key.certificate.as_ref(), Some(cert));
        let tbs = ToBeSigned::new(b"ky bang token".to_vec());
        let sig = key.sign(&tbs).unwrap();
        verify_signature(&cert.spki_der(), &alg.x509_signature_algorithm(), None, &tbs.message, &sig).unwrap();

        // A whole CMS signature made on the token satisfies OpenSSL.
        let data = b"van ban ky so tren token".repeat(10);
        let attrs = SignedAttrs::pades(&sha256(&data), cert).unwrap();
        let sig = key.sign(&attrs.to_be_signed()).unwrap();
        let cms =
            assemble_signed_data(&attrs, *alg, &sig, cert, std::slice::from_ref(&pki.issuing.cert), None).unwrap();
        s.write("sig.der", &cms);
        s.write("data.bin", &data);
        s.write_pem("root.pem", &[&pki.root.cert]);
        let out = cms_verify(dir, "sig.der", "data.bin", "root.pem").expect_ok();
        assert!(out.contains("Verification successful"), "{alg}: {out}");
    }

    // Signers are usable from other threads.
    let first = signers[0].clone();
    std::thread::spawn(move || first.sign(&ToBeSigned::new(b"x".to_vec())).unwrap()).join().unwrap();

    let err = Pkcs11Token::open(Path::new(MODULE), Some("khong-co"), "123456").unwrap_err();
    assert_eq!(err.code(), "token_not_found");
    // While the token is logged in, another open must still give the right PIN.
    let err = Pkcs11Token::open(Path::new(MODULE), Some("vanban"), "654321").unwrap_err();
    assert_eq!(err.code(), "wrong_pin", "{err}");
    let again = Pkcs11Token::open(Path::new(MODULE), None, "123456").unwrap();
    assert_eq!(again.signers().unwrap().len(), expected.len());
    // Once every handle is gone the token itself judges the PIN.
    drop((again, token, signers));
    let err = Pkcs11Token::open(Path::new(MODULE), Some("vanban"), "654321").unwrap_err();
    assert_eq!(err.code(), "wrong_pin", "{err}");
    let token = Pkcs11Token::open(Path::new(MODULE), Some("vanban"), "123456").unwrap();
    assert_eq!(token.signers().unwrap().len(), expected.len());
}
