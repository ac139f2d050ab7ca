//! Sealed keys under a PIN, and PKCS#12 files made by OpenSSL.

use crate::common;

use common::*;
use vanban_pki::{KeyAlgorithm, SealedKey, SoftKey, ToBeSigned, check_pin_policy, import_pkcs12, verify_signature};

#[test]
fn seal_and_open() {
    let key = SoftKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let sealed = SealedKey::seal(&key, "24681357").unwrap();
    assert_eq!(sealed.kdf, "argon2id;m=19456,t=2,p=1");
    assert!(!sealed.ciphertext.windows(8).any(|w| key.to_pkcs8_der().windows(8).any(|k| k == w)));
    let opened = sealed.open("24681357").unwrap();
    assert_eq!(opened.public_key_der(), key.public_key_der());
    assert_eq!(opened.to_pkcs8_der(), key.to_pkcs8_der());

    let err = sealed.open("24681358").unwrap_err();
    assert_eq!(err.code(), "wrong_pin");
    assert_eq!(err.message_vi(), "Mã PIN không đúng");

    // Bytes and serde round trips.
    let bytes = sealed.to_bytes();
    assert_eq!(SealedKey::from_bytes(&bytes).unwrap(), sealed);
    let json = serde_json::to_string(&sealed).unwrap();
    assert_eq!(serde_json::from_str::<SealedKey>(&json).unwrap(), sealed);
    assert_eq!(SealedKey::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err().code(), "invalid_sealed_key");
    assert_eq!(SealedKey::from_bytes(b"junk").unwrap_err().code(), "invalid_sealed_key");

    // Damaged ciphertext is told apart from a wrong PIN.
    let mut tampered = sealed.clone();
    tampered.ciphertext[3] ^= 1;
    assert_eq!(tampered.open("24681357").unwrap_err().code(), "invalid_sealed_key");
    // So is a changed algorithm (it is authenticated data).
    let mut relabelled = sealed.clone();
    relabelled.algorithm = KeyAlgorithm::Rsa2048;
    assert_eq!(relabelled.open("24681357").unwrap_err().code(), "invalid_sealed_key");
    // A KDF that would cost gigabytes is refused before it runs.
    let mut greedy = sealed.clone();
    greedy.kdf = "argon2id;m=99999999,t=2,p=1".into();
    assert_eq!(greedy.open("24681357").unwrap_err().code(), "invalid_sealed_key");
}

#[test]
fn pin_policy() {
    assert_eq!(check_pin_policy("12345").unwrap_err().code(), "weak_pin");
    assert_eq!(check_pin_policy("ắăâđêô").map_err(|e| e.code()), Ok(()));
    let key = SoftKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    assert_eq!(SealedKey::seal(&key, "123").unwrap_err().code(), "weak_pin");
}

fn export(s: &Scratch, name: &str, extra: &[&str]) -> Vec<u8> {
    let out = format!("{name}.p12");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-in",
        "leaf.pem",
        "-inkey",
        "key.pem",
        "-certfile",
        "chain.pem",
        "-passout",
        "pass:Mật khẩu 1",
        "-out",
        &out,
    ];
    args.extend_from_slice(extra);
    openssl_ok(s.dir.path(), &args);
    s.read(&out)
}

#[test]
fn pkcs12_files_from_openssl_import() {
    let legacy_available = openssl(std::path::Path::new("/"), &["list", "-providers", "-provider", "legacy"]).ok;
    for alg in KeyAlgorithm::ALL {
        let pki = pki(alg);
        let (leaf, key) = pki.person(person_subject()).unwrap();
        let s = Scratch::new();
        s.write("key.der", key.to_pkcs8_der());
        openssl_ok(s.dir.path(), &["pkey", "-inform", "DER", "-in", "key.der", "-out", "key.pem"]);
        s.write_pem("leaf.pem", &[&leaf]);
        s.write_pem("chain.pem", &[&pki.issuing.cert, &pki.root.cert]);
        let mut files = vec![
            ("modern", export(&s, "modern", &[])),
            ("3des", export(&s, "3des", &["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"])),
        ];
        if legacy_available {
            files.push(("legacy", export(&s, "legacy", &["-legacy"])));
            files.push((
                "rc2-40",
                export(&s, "rc2", &["-legacy", "-keypbe", "PBE-SHA1-RC2-40", "-certpbe", "PBE-SHA1-RC2-40"]),
            ));
        } else {
            eprintln!("the OpenSSL legacy provider is missing: RC2-40 files are not made here");
        }
        for (name, der) in files {
            let (imported, cert, chain) =
                import_pkcs12(&der, "Mật khẩu 1").unwrap_or_else(|e| panic!("{alg} {name}: {e}"));
            assert_eq!(cert, leaf, "{alg} {name}");
            assert_eq!(imported.algorithm(), alg);
            assert!(chain.contains(&pki.issuing.cert), "{alg} {name}: {chain:?}");
            let tbs = ToBeSigned::new(b"ky thu".to_vec());
            let sig = imported.sign(&tbs).unwrap();
            verify_signature(&cert.spki_der(), &alg.x509_signature_algorithm(), None, &tbs.message, &sig).unwrap();
            let err = import_pkcs12(&der, "sai mật khẩu").unwrap_err();
            assert_eq!(err.code(), "wrong_password", "{alg} {name}: {err}");
        }
    }
}

#[test]
fn pkcs12_with_an_unsupported_key_is_refused() {
    let s = Scratch::new();
    let dir = s.dir.path();
    openssl_ok(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "key.pem"]);
    openssl_ok(dir, &["req", "-new", "-x509", "-key", "key.pem", "-subj", "/CN=p384", "-out", "leaf.pem"]);
    openssl_ok(
        dir,
        &["pkcs12", "-export", "-in", "leaf.pem", "-inkey", "key.pem", "-passout", "pass:abcdef", "-out", "p.p12"],
    );
    let err = import_pkcs12(&s.read("p.p12"), "abcdef").unwrap_err();
    assert_eq!(err.code(), "unsupported_key", "{err}");
    openssl_ok(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa.pem"]);
    openssl_ok(dir, &["req", "-new", "-x509", "-key", "rsa.pem", "-subj", "/CN=rsa1024", "-out", "rsa-leaf.pem"]);
    openssl_ok(
        dir,
        &["pkcs12", "-export", "-in", "rsa-leaf.pem", "-inkey", "rsa.pem", "-passout", "pass:abcdef", "-out", "r.p12"],
    );
    let err = import_pkcs12(&s.read("r.p12"), "abcdef").unwrap_err();
    assert_eq!(err.code(), "unsupported_key", "{err}");
}
