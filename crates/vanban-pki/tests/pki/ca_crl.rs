//! The built-in CA and its CRLs, checked by OpenSSL.

use crate::common;

use chrono::Duration;
use common::*;
use vanban_pki::{
    CertProfile, Crl, IssueRequest, KeyAlgorithm, RevocationReason, RevokedEntry, SoftKey, SubjectInfo, oid,
};

#[test]
fn hierarchy_is_accepted_by_openssl_for_every_algorithm() {
    for alg in KeyAlgorithm::ALL {
        let pki = pki(alg);
        let s = Scratch::new();
        let (person, key) = pki.person(person_subject()).unwrap();
        let (org, _) = pki.organisation(organisation_subject()).unwrap();
        assert_eq!(key.algorithm(), alg);
        s.write_pem("root.pem", &[&pki.root.cert]);
        s.write_pem("issuing.pem", &[&pki.issuing.cert]);
        s.write_pem("person.pem", &[&person]);
        s.write_pem("org.pem", &[&org]);
        s.write_pem("tsa.pem", &[&pki.tsa.cert]);
        s.write_pem("ocsp.pem", &[&pki.ocsp.cert]);
        let dir = s.dir.path();
        for leaf in ["person.pem", "org.pem", "ocsp.pem"] {
            let out = openssl_ok(dir, &["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", leaf]);
            assert!(out.contains(": OK"), "{alg}: {out}");
        }
        let out = openssl_ok(
            dir,
            &["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "-purpose", "timestampsign", "tsa.pem"],
        );
        assert!(out.contains(": OK"), "{alg}: {out}");
        let out = openssl_ok(dir, &["verify", "-CAfile", "root.pem", "-purpose", "crlsign", "issuing.pem"]);
        assert!(out.contains(": OK"), "{alg}: {out}");

        // Our own view agrees.
        assert!(person.issued_by(&pki.issuing.cert));
        assert!(pki.issuing.cert.issued_by(&pki.root.cert));
        assert!(pki.root.cert.issued_by(&pki.root.cert));
        assert!(!person.issued_by(&pki.root.cert));
        assert!(pki.root.cert.is_ca() && pki.issuing.cert.is_ca() && !person.is_ca());
        assert_eq!(pki.issuing.cert.path_len(), Some(0));
        assert!(person.key_usage_allows_signing());
        assert!(!pki.root.cert.key_usage_allows_signing());
        assert!(pki.tsa.cert.has_eku(oid::KP_TIME_STAMPING));
        assert!(pki.ocsp.cert.has_eku(oid::KP_OCSP_SIGNING));
        assert_eq!(person.spki_der(), key.public_key_der());
    }
}

#[test]
fn subject_shows_vietnamese_text_and_uid() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let (person, _) = pki.person(person_subject()).unwrap();
    let (org, _) = pki.organisation(organisation_subject()).unwrap();
    let s = Scratch::new();
    s.write_pem("person.pem", &[&person]);
    s.write_pem("org.pem", &[&org]);
    let text = openssl_ok(
        s.dir.path(),
        &["x509", "-in", "org.pem", "-noout", "-text", "-nameopt", "utf8,sep_comma_plus_space"],
    );
    assert!(text.contains("UID=MST:0101234567"), "{text}");
    assert!(text.contains("O=Ủy ban nhân dân tỉnh Bình An"), "{text}");
    assert!(text.contains("CN=Sở Nội vụ tỉnh Bình An"), "{text}");
    assert!(text.contains("ST=Bình An"), "{text}");
    assert!(text.contains("CA Issuers - URI:https://vanban.example.gov.vn/pki/ca/"), "{text}");
    assert!(text.contains("OCSP - URI:https://vanban.example.gov.vn/pki/ocsp"), "{text}");
    assert!(text.contains("Digital Signature, Non Repudiation"), "{text}");

    assert_eq!(org.uid().as_deref(), Some("MST:0101234567"));
    assert_eq!(org.common_name().as_deref(), Some("Sở Nội vụ tỉnh Bình An"));
    assert_eq!(org.organization().as_deref(), Some("Ủy ban nhân dân tỉnh Bình An"));
    assert_eq!(person.uid().as_deref(), Some("CCCD:001090012345"));
    let subject = person.subject_string();
    assert!(
        subject.starts_with("emailAddress=anh.nv@binhan.gov.vn,UID=CCCD:001090012345,CN=Nguyễn Văn Ánh"),
        "{subject}"
    );
    assert!(subject.ends_with("C=VN"), "{subject}");
    let hex16 = pki.issuing.cert.fingerprint_hex16();
    assert_eq!(person.crl_urls(), vec![format!("https://vanban.example.gov.vn/pki/crl/{hex16}.crl")]);
    assert_eq!(person.ocsp_urls(), vec!["https://vanban.example.gov.vn/pki/ocsp".to_owned()]);
    assert_eq!(person.issuer_string(), pki.issuing.cert.subject_string());
    assert_eq!(person.serial_hex().len(), 32);
    // PEM round trip, several blocks.
    let pem = format!("{}{}", person.to_pem(), org.to_pem());
    let back = vanban_pki::Cert::from_pem(&pem).unwrap();
    assert_eq!(back, vec![person, org]);
}

#[test]
fn issuance_stays_within_the_ca_validity() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let key = SoftKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let req = IssueRequest {
        subject: SubjectInfo::new("Trần Thị B"),
        profile: CertProfile::Person,
        public_key_der: key.public_key_der().to_vec(),
        not_before: pki.issuing.cert.not_before(),
        not_after: pki.issuing.cert.not_after() + Duration::days(1),
    };
    assert_eq!(pki.issuing.issue(&req).unwrap_err().code(), "invalid_validity");
    let inverted = IssueRequest { not_after: req.not_before - Duration::days(1), ..req.clone() };
    assert_eq!(pki.issuing.issue(&inverted).unwrap_err().code(), "invalid_validity");
    // pathLen 0: the issuing CA may not make CAs.
    let sub = IssueRequest { profile: CertProfile::IssuingCa, not_after: req.not_before + Duration::days(30), ..req };
    assert_eq!(pki.issuing.issue(&sub).unwrap_err().code(), "invalid_request");
    let bad_country = SubjectInfo { country: "Vietnam".into(), ..SubjectInfo::new("X") };
    assert_eq!(bad_country.to_name().unwrap_err().code(), "invalid_request");
}

#[test]
fn crl_is_accepted_by_openssl_and_lists_reasons() {
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let pki = pki(alg);
        let (person, _) = pki.person(person_subject()).unwrap();
        let (org, _) = pki.organisation(organisation_subject()).unwrap();
        let (other, _) = pki.person(SubjectInfo::new("Lê Văn C")).unwrap();
        let now = now();
        let revoked_at = common::fixed_time();
        let der = pki
            .issuing
            .crl(
                &[
                    RevokedEntry { serial: person.serial(), revoked_at, reason: RevocationReason::KeyCompromise },
                    RevokedEntry { serial: org.serial(), revoked_at, reason: RevocationReason::Unspecified },
                ],
                now,
                now + Duration::days(7),
                42,
            )
            .unwrap();
        let s = Scratch::new();
        s.write("crl.der", &der);
        s.write_pem("issuing.pem", &[&pki.issuing.cert]);
        s.write_pem("root.pem", &[&pki.root.cert]);
        s.write_pem("person.pem", &[&person]);
        let dir = s.dir.path();
        let out = openssl_ok(
            dir,
            &["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "issuing.pem", "-verify", "-noout", "-text"],
        );
        assert!(out.contains("verify OK"), "{out}");
        assert!(out.contains("Key Compromise"), "{out}");
        assert!(out.contains(&person.serial_hex().to_uppercase()), "{out}");
        assert!(out.contains("X509v3 CRL Number:") && out.contains("42"), "{out}");
        // openssl verify with CRL checking sees the revocation.
        openssl_ok(dir, &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"]);
        let root_crl = pki.root.crl(&[], now, now + Duration::days(30), 1).unwrap();
        s.write("root-crl.der", &root_crl);
        openssl_ok(dir, &["crl", "-inform", "DER", "-in", "root-crl.der", "-out", "root-crl.pem"]);
        let out = openssl(
            dir,
            &[
                "verify",
                "-crl_check_all",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                "-CRLfile",
                "crl.pem",
                "-CRLfile",
                "root-crl.pem",
                "person.pem",
            ],
        );
        assert!(!out.ok && out.text.contains("certificate revoked"), "{}", out.text);

        let crl = Crl::from_der(&der).unwrap();
        crl.verify(&pki.issuing.cert).unwrap();
        assert!(crl.issued_by_name(&pki.issuing.cert));
        assert!(!crl.issued_by_name(&pki.root.cert));
        assert_eq!(crl.verify(&pki.root.cert).unwrap_err().code(), "bad_signature");
        assert_eq!(crl.revocation_of(&person.serial()), Some((revoked_at, RevocationReason::KeyCompromise)));
        assert_eq!(crl.revocation_of(&org.serial()), Some((revoked_at, RevocationReason::Unspecified)));
        assert_eq!(crl.revocation_of(&other.serial()), None);
        assert_eq!(crl.crl_number(), Some(vec![42]));
        assert_eq!(crl.len(), 2);
        assert_eq!(crl.this_update().timestamp(), now.timestamp());
        assert_eq!(crl.next_update().map(|t| t.timestamp()), Some((now + Duration::days(7)).timestamp()));

        // A flipped byte inside the signed part breaks the signature.
        let mut tampered = der.clone();
        let pos = tampered.len() / 3;
        tampered[pos] ^= 0x01;
        match Crl::from_der(&tampered) {
            Ok(bad) => assert!(bad.verify(&pki.issuing.cert).is_err()),
            Err(e) => assert_eq!(e.code(), "malformed"),
        }
        // Changing a serial keeps the DER well-formed: the signature must catch it.
        let serial = person.serial();
        let at = der.windows(serial.len()).position(|w| w == serial.as_slice()).unwrap();
        let mut tampered = der.clone();
        tampered[at + 3] ^= 0x55;
        let bad = Crl::from_der(&tampered).unwrap();
        assert_eq!(bad.verify(&pki.issuing.cert).unwrap_err().code(), "bad_signature");
    }
}

#[test]
fn reasons_have_codes_and_labels() {
    for r in RevocationReason::ALL {
        assert_eq!(RevocationReason::from_code(r.code()), Some(r));
        assert!(!r.label_vi().is_empty());
    }
    assert_eq!(RevocationReason::CertificateHold.rfc5280_code(), 6);
}
