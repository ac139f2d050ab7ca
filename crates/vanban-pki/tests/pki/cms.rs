//! CMS SignedData for PAdES: assembled by us and verified by OpenSSL; made by OpenSSL and
//! parsed and verified by us; the /Contents size estimate against real output.

use crate::common;

use common::*;
use vanban_pki::{
    DigestAlg, KeyAlgorithm, SignedAttrs, assemble_signed_data, parse_signed_data, sha256, signed_data_len_max,
};

#[test]
fn detached_pades_signature_verifies_with_openssl() {
    for alg in KeyAlgorithm::ALL {
        let pki = pki(alg);
        let (signer, key) = pki.person(person_subject()).unwrap();
        let data = "%PDF-1.7 nội dung văn bản ".repeat(200);
        let digest = sha256(data.as_bytes());
        let attrs = SignedAttrs::pades(&digest, &signer).unwrap();
        let signature = key.sign(&attrs.to_be_signed()).unwrap();
        let chain = [signer.clone(), pki.issuing.cert.clone()];
        let token = pki.tsa.stamp_digest(&sha256(&signature), now()).unwrap();
        for with_token in [false, true] {
            let token = with_token.then_some(token.as_slice());
            let der = assemble_signed_data(&attrs, alg, &signature, &signer, &chain, token).unwrap();
            let s = Scratch::new();
            let dir = s.dir.path();
            s.write("sig.der", &der);
            s.write("data.bin", &data);
            s.write_pem("root.pem", &[&pki.root.cert]);
            let out = cms_verify(dir, "sig.der", "data.bin", "root.pem").expect_ok();
            assert!(out.contains("Verification successful"), "{alg}: {out}");
            let text = openssl_ok(dir, &["cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der"]);
            assert!(text.contains("id-smime-aa-signingCertificateV2"), "{text}");
            assert!(!text.contains("signingTime"), "{text}");
            assert_eq!(text.contains("id-smime-aa-timeStampToken"), with_token, "{text}");
            s.write("other.bin", format!("{data}x"));
            let out = cms_verify(dir, "sig.der", "other.bin", "root.pem");
            assert!(!out.ok, "openssl accepted other content");

            // Our parser, with the PDF's zero padding.
            let mut padded = der.clone();
            padded.resize(der.len() + 1000, 0);
            let parsed = parse_signed_data(&padded).unwrap();
            assert_eq!(parsed.signer.as_ref(), Some(&signer));
            assert_eq!(parsed.digest_alg, DigestAlg::Sha256);
            assert_eq!(parsed.message_digest.as_deref(), Some(&digest[..]));
            assert_eq!(parsed.signed_attrs_der.as_deref(), Some(attrs.der()));
            assert!(parsed.has_signing_certificate_v2);
            assert_eq!(parsed.signing_certificate_matches, Some(true));
            assert_eq!(parsed.signing_time, None);
            assert_eq!(parsed.timestamp_token.as_deref(), token);
            assert_eq!(parsed.certs.len(), 2);
            parsed.verify().unwrap();
            parsed.verify_detached(data.as_bytes()).unwrap();
            assert_eq!(parsed.verify_detached(b"other").unwrap_err().code(), "bad_signature");
            let mut wrong = parsed.clone();
            wrong.signature[5] ^= 1;
            assert_eq!(wrong.verify().unwrap_err().code(), "bad_signature");
            // Something other than zeros after the DER is not padding.
            let mut junk = der.clone();
            junk.extend_from_slice(b"\x00\x01");
            assert!(parse_signed_data(&junk).is_err());
        }
    }
}

#[test]
fn size_estimate_is_never_short() {
    for alg in KeyAlgorithm::ALL {
        let pki = pki(alg);
        let (signer, key) = pki.person(person_subject()).unwrap();
        let chains: [Vec<vanban_pki::Cert>; 3] = [
            vec![],
            vec![signer.clone(), pki.issuing.cert.clone()],
            vec![signer.clone(), pki.issuing.cert.clone(), pki.root.cert.clone()],
        ];
        for chain in &chains {
            for round in 0..12 {
                let digest = sha256(format!("{round}").as_bytes());
                let attrs = SignedAttrs::pades(&digest, &signer).unwrap();
                let signature = key.sign(&attrs.to_be_signed()).unwrap();
                let token = pki.tsa.stamp_digest(&sha256(&signature), now()).unwrap();
                for token in [None, Some(token.as_slice())] {
                    let real = assemble_signed_data(&attrs, alg, &signature, &signer, chain, token).unwrap().len();
                    let max = signed_data_len_max(attrs.der_len(), alg, &signer, chain, token.map(<[u8]>::len));
                    assert!(max >= real, "{alg}: estimate {max} < real {real}");
                    // RSA signatures have one length: the estimate is exact up to a few bytes.
                    // ECDSA ones vary by up to two bytes below the maximum.
                    assert!(max - real <= 16, "{alg}: estimate {max} too far above {real}");
                    if alg.is_rsa() {
                        assert_eq!(max, real, "{alg}");
                    }
                }
            }
        }
    }
}

#[test]
fn foreign_signatures_made_by_openssl_parse_and_verify() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let pki = pki(alg);
        let (signer, key) = pki.person(person_subject()).unwrap();
        let s = Scratch::new();
        let dir = s.dir.path();
        s.write("key.der", key.to_pkcs8_der());
        openssl_ok(dir, &["pkey", "-inform", "DER", "-in", "key.der", "-out", "key.pem"]);
        s.write_pem("signer.pem", &[&signer]);
        s.write_pem("chain.pem", &[&pki.issuing.cert]);
        let data = "tài liệu ngoài".repeat(30);
        s.write("data.bin", &data);
        let base = [
            "cms",
            "-sign",
            "-binary",
            "-in",
            "data.bin",
            "-signer",
            "signer.pem",
            "-inkey",
            "key.pem",
            "-certfile",
            "chain.pem",
            "-outform",
            "DER",
            "-md",
        ];
        let variants: [(&str, &[&str]); 6] = [
            // Streaming output is BER with indefinite lengths.
            ("stream", &["sha256", "-stream"]),
            ("plain", &["sha256"]),
            ("sha384", &["sha384"]),
            ("cades", &["sha256", "-cades"]),
            ("keyid", &["sha256", "-keyid"]),
            ("noattr", &["sha256", "-noattr"]),
        ];
        let pss: [(&str, &[&str]); 1] =
            [("pss", &["sha256", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:32"])];
        let variants = variants.iter().chain(if alg.is_rsa() { pss.iter() } else { [].iter() });
        for &(name, extra) in variants {
            let out = format!("{name}.der");
            let mut args: Vec<&str> = base.to_vec();
            args.extend_from_slice(extra);
            args.extend_from_slice(&["-out", &out]);
            openssl_ok(dir, &args);
            if name == "stream" {
                assert_eq!(s.read(&out)[1], 0x80, "openssl's streaming output should be BER");
            }
            let parsed = parse_signed_data(&s.read(&out)).unwrap_or_else(|e| panic!("{alg} {name}: {e}"));
            assert_eq!(parsed.signer.as_ref(), Some(&signer), "{alg} {name}");
            parsed.verify_detached(data.as_bytes()).unwrap_or_else(|e| panic!("{alg} {name}: {e}"));
            assert!(parsed.verify_detached(b"khac").is_err());
            match name {
                "noattr" => {
                    assert!(parsed.signed_attrs_der.is_none());
                    assert!(parsed.message_digest.is_none());
                    assert!(parsed.verify().is_err());
                }
                "sha384" => {
                    assert_eq!(parsed.digest_alg, DigestAlg::Sha384);
                    assert!(parsed.signing_time.is_some());
                }
                "pss" => {
                    assert_eq!(parsed.signature_alg.oid, vanban_pki::oid::RSASSA_PSS);
                    parsed.verify().unwrap();
                }
                "cades" => {
                    assert!(parsed.has_signing_certificate_v2);
                    assert_eq!(parsed.signing_certificate_matches, Some(true));
                }
                _ => {
                    assert!(parsed.signing_time.is_some(), "{name}");
                    parsed.verify().unwrap();
                }
            }
        }
    }
}
