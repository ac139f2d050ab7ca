//! The OCSP responder, answering requests made by OpenSSL, checked by OpenSSL.

use crate::common;

use chrono::Duration;
use common::*;
use vanban_pki::{CertStatus, KeyAlgorithm, OcspResponse, RevocationReason, SubjectInfo, ocsp_request};

#[test]
fn openssl_requests_get_verified_answers() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let pki = pki(alg);
        let (good, _) = pki.person(person_subject()).unwrap();
        let (revoked, _) = pki.person(SubjectInfo::new("Phạm Thị D")).unwrap();
        let revoked_at = fixed_time();
        let revoked_serial = revoked.serial();
        let good_serial = good.serial();
        let status_of = |serial: &[u8]| {
            if serial == revoked_serial.as_slice() {
                CertStatus::Revoked { at: revoked_at, reason: RevocationReason::Superseded }
            } else if serial == good_serial.as_slice() {
                CertStatus::Good
            } else {
                CertStatus::Unknown
            }
        };
        let s = Scratch::new();
        let dir = s.dir.path();
        s.write_pem("root.pem", &[&pki.root.cert]);
        s.write_pem("issuing.pem", &[&pki.issuing.cert]);
        s.write_pem("good.pem", &[&good]);
        s.write_pem("revoked.pem", &[&revoked]);
        for (name, expect) in [("good", "good"), ("revoked", "revoked")] {
            let req = format!("{name}.req");
            let resp = format!("{name}.resp");
            openssl_ok(dir, &["ocsp", "-issuer", "issuing.pem", "-cert", &format!("{name}.pem"), "-reqout", &req]);
            let answer = pki.ocsp.respond(&s.read(&req), now(), status_of).unwrap();
            s.write(&resp, &answer);
            // Against the original request: the signature, the chain and the echoed nonce
            // (openssl puts one in its requests and fails on a mismatch, warns on a missing one).
            let out = openssl_ok(
                dir,
                &["ocsp", "-reqin", &req, "-respin", &resp, "-CAfile", "root.pem", "-verify_other", "issuing.pem"],
            );
            assert!(out.contains("Response verify OK"), "{alg} {name}: {out}");
            assert!(!out.contains("WARNING: no nonce"), "{out}");
            // The status openssl reads for the certificate.
            let out = openssl_ok(
                dir,
                &[
                    "ocsp",
                    "-respin",
                    &resp,
                    "-no_nonce",
                    "-issuer",
                    "issuing.pem",
                    "-cert",
                    &format!("{name}.pem"),
                    "-CAfile",
                    "root.pem",
                    "-verify_other",
                    "issuing.pem",
                ],
            );
            assert!(out.contains("Response verify OK"), "{alg} {name}: {out}");
            assert!(out.contains(&format!("{name}.pem: {expect}")), "{alg} {name}: {out}");

            let parsed = OcspResponse::from_der(&answer).unwrap();
            assert_eq!(parsed.response_status(), "successful");
            let signer = parsed.verify(&pki.issuing.cert).unwrap();
            assert_eq!(signer, pki.ocsp.cert);
            assert!(parsed.verify(&pki.root.cert).is_err());
            let cert = if name == "good" { &good } else { &revoked };
            let single = parsed.status_for(cert, &pki.issuing.cert).unwrap();
            match single.status {
                CertStatus::Good => assert_eq!(name, "good"),
                CertStatus::Revoked { at, reason } => {
                    assert_eq!(name, "revoked");
                    assert_eq!(at, revoked_at);
                    assert_eq!(reason, RevocationReason::Superseded);
                }
                CertStatus::Unknown => panic!("unknown"),
            }
            assert!(single.next_update.unwrap() > single.this_update);
            assert!(parsed.status_for(&pki.issuing.cert, &pki.root.cert).is_none());
        }
        if alg == KeyAlgorithm::Rsa2048 {
            // openssl's text output of our response, for the curious reader of a failure.
            let text = openssl_ok(dir, &["ocsp", "-respin", "revoked.resp", "-resp_text", "-noverify"]);
            assert!(text.contains("Responder Id: "), "{text}");
            assert!(text.contains("Reason: superseded"), "{text}");
        }
    }
}

#[test]
fn our_requests_are_understood() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let (cert, _) = pki.person(person_subject()).unwrap();
    let req = ocsp_request(&cert, &pki.issuing.cert).unwrap();
    let s = Scratch::new();
    s.write("req.der", &req);
    let text = openssl_ok(s.dir.path(), &["ocsp", "-reqin", "req.der", "-req_text"]);
    assert!(text.contains(&cert.serial_hex().to_uppercase()), "{text}");
    assert!(text.contains("Hash Algorithm: sha1"), "{text}");
    let answer = pki.ocsp.respond(&req, now(), |_| CertStatus::Good).unwrap();
    let parsed = OcspResponse::from_der(&answer).unwrap();
    parsed.verify(&pki.issuing.cert).unwrap();
    assert_eq!(parsed.status_for(&cert, &pki.issuing.cert).unwrap().status, CertStatus::Good);
    assert_eq!(parsed.certs(), vec![pki.ocsp.cert.clone()]);
    let produced = parsed.produced_at().unwrap();
    assert!((now() - produced).abs() < Duration::minutes(1));
}

#[test]
fn a_request_about_another_ca_gets_unknown() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let other = common::pki(KeyAlgorithm::EcdsaP256);
    let (cert, _) = other.person(person_subject()).unwrap();
    let req = ocsp_request(&cert, &other.issuing.cert).unwrap();
    let answer = pki.ocsp.respond(&req, now(), |_| CertStatus::Good).unwrap();
    let parsed = OcspResponse::from_der(&answer).unwrap();
    assert_eq!(parsed.status_for(&cert, &other.issuing.cert).unwrap().status, CertStatus::Unknown);
}

#[test]
fn malformed_request_gets_malformed_request_status() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    for junk in [&b""[..], b"not der", &[0x30, 0x03, 0x02, 0x01, 0x01]] {
        let answer = pki.ocsp.respond(junk, now(), |_| CertStatus::Good).unwrap();
        let parsed = OcspResponse::from_der(&answer).unwrap();
        assert_eq!(parsed.response_status(), "malformed_request");
        assert!(parsed.basic().is_none());
        assert_eq!(parsed.verify(&pki.issuing.cert).unwrap_err().code(), "ocsp_rejected");
        let s = Scratch::new();
        s.write("resp.der", &answer);
        let text = openssl(s.dir.path(), &["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"]).text;
        assert!(text.contains("malformedrequest"), "{text}");
    }
}

#[test]
fn a_response_signed_by_the_ca_itself_verifies() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let (cert, _) = pki.person(person_subject()).unwrap();
    let ca_responder = vanban_pki::OcspResponder {
        cert: pki.issuing.cert.clone(),
        key: vanban_pki::SoftKey::from_pkcs8_der(&pki.issuing.key.to_pkcs8_der()).unwrap(),
        issuer: pki.issuing.cert.clone(),
    };
    let req = ocsp_request(&cert, &pki.issuing.cert).unwrap();
    let parsed = OcspResponse::from_der(&ca_responder.respond(&req, now(), |_| CertStatus::Good).unwrap()).unwrap();
    assert_eq!(parsed.verify(&pki.issuing.cert).unwrap(), pki.issuing.cert);
    // A responder that is not certified by the issuer is refused.
    let (stranger, stranger_key) = pki.person(SubjectInfo::new("Kẻ lạ")).unwrap();
    let rogue = vanban_pki::OcspResponder { cert: stranger, key: stranger_key, issuer: pki.issuing.cert.clone() };
    let parsed = OcspResponse::from_der(&rogue.respond(&req, now(), |_| CertStatus::Good).unwrap()).unwrap();
    assert_eq!(parsed.verify(&pki.issuing.cert).unwrap_err().code(), "ocsp_rejected");
}
