//! Chain validation: path building, time, CA flags, revocation from OCSP and CRLs.

use crate::common;

use chrono::Duration;
use common::*;
use vanban_pki::{
    CertStatus, CertificateAuthority, Crl, KeyAlgorithm, OcspResponse, RevocationCheck, RevocationData,
    RevocationReason, RevokedEntry, SoftKey, SubjectInfo, TrustStore, ocsp_request, validate_chain,
};

fn codes(report: &vanban_pki::ChainReport) -> Vec<&'static str> {
    report.problems.iter().map(|p| p.code()).collect()
}

#[test]
fn a_good_chain_with_ocsp_and_crl() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let (leaf, _) = pki.person(person_subject()).unwrap();
    let trust = TrustStore::new(vec![pki.root.cert.clone()]);
    let now = now();
    let pool = [pki.issuing.cert.clone()];

    // No revocation data: trusted path, but the problem is reported for both non-anchors.
    let report = validate_chain(&leaf, &pool, &trust, now, &RevocationData::default());
    assert!(report.trusted);
    assert_eq!(report.path, vec![leaf.clone(), pki.issuing.cert.clone(), pki.root.cert.clone()]);
    assert_eq!(codes(&report), vec!["no_revocation_data", "no_revocation_data"]);
    assert!(!report.is_valid());

    // OCSP for the leaf, the root's CRL for the issuing CA.
    let req = ocsp_request(&leaf, &pki.issuing.cert).unwrap();
    let ocsp = OcspResponse::from_der(&pki.ocsp.respond(&req, now, |_| CertStatus::Good).unwrap()).unwrap();
    let root_crl = Crl::from_der(&pki.root.crl(&[], now, now + Duration::days(30), 1).unwrap()).unwrap();
    let data = RevocationData { crls: vec![root_crl.clone()], ocsp: vec![ocsp] };
    let report = validate_chain(&leaf, &pool, &trust, now, &data);
    assert!(report.is_valid(), "{:?}", report.problems);
    assert_eq!(
        report.revocation,
        vec![RevocationCheck::Good { source: "ocsp" }, RevocationCheck::Good { source: "crl" }]
    );

    // The issuing CA's CRL instead of OCSP.
    let crl = Crl::from_der(&pki.issuing.crl(&[], now, now + Duration::days(7), 1).unwrap()).unwrap();
    let data = RevocationData { crls: vec![crl, root_crl], ocsp: vec![] };
    let report = validate_chain(&leaf, &pool, &trust, now, &data);
    assert!(report.is_valid(), "{:?}", report.problems);
    assert_eq!(report.revocation[0], RevocationCheck::Good { source: "crl" });

    // The delegated OCSP responder's certificate needs no check (id-pkix-ocsp-nocheck).
    let report = validate_chain(&pki.ocsp.cert, &pool, &trust, now, &RevocationData::default());
    assert_eq!(report.revocation[0], RevocationCheck::Good { source: "ocsp_nocheck" });
}

#[test]
fn revocation_before_and_after_the_signing_time() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let (leaf, _) = pki.person(person_subject()).unwrap();
    let trust = TrustStore::new(vec![pki.root.cert.clone()]);
    let pool = [pki.issuing.cert.clone()];
    let now = now();
    let revoked_at = now - Duration::minutes(10);
    let crl_der = pki
        .issuing
        .crl(
            &[RevokedEntry { serial: leaf.serial(), revoked_at, reason: RevocationReason::KeyCompromise }],
            now,
            now + Duration::days(7),
            2,
        )
        .unwrap();
    let root_crl = Crl::from_der(&pki.root.crl(&[], now, now + Duration::days(30), 1).unwrap()).unwrap();
    let data = RevocationData { crls: vec![Crl::from_der(&crl_der).unwrap(), root_crl], ocsp: vec![] };

    let report = validate_chain(&leaf, &pool, &trust, now, &data);
    assert_eq!(codes(&report), vec!["revoked"]);
    assert_eq!(
        report.revocation[0],
        RevocationCheck::Revoked { at: revoked_at, reason: RevocationReason::KeyCompromise }
    );
    assert!(report.problems[0].message_vi().contains("Khóa bí mật bị lộ"));

    // A signature proven (timestamped) before the revocation holds.
    let before = revoked_at - Duration::minutes(5);
    let report = validate_chain(&leaf, &pool, &trust, before, &data);
    assert!(report.is_valid(), "{:?}", report.problems);

    // OCSP says the same, and is preferred.
    let req = ocsp_request(&leaf, &pki.issuing.cert).unwrap();
    let answer = pki
        .ocsp
        .respond(&req, now, |_| CertStatus::Revoked { at: revoked_at, reason: RevocationReason::Superseded })
        .unwrap();
    let data = RevocationData { crls: data.crls.clone(), ocsp: vec![OcspResponse::from_der(&answer).unwrap()] };
    let report = validate_chain(&leaf, &pool, &trust, now, &data);
    assert_eq!(report.revocation[0], RevocationCheck::Revoked { at: revoked_at, reason: RevocationReason::Superseded });
}

#[test]
fn forged_revocation_data_is_ignored() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let other = common::pki(KeyAlgorithm::EcdsaP256);
    let (leaf, _) = pki.person(person_subject()).unwrap();
    let trust = TrustStore::new(vec![pki.root.cert.clone()]);
    let now = now();
    // A CRL and an OCSP response from strangers say "good": they count for nothing.
    let req = ocsp_request(&leaf, &pki.issuing.cert).unwrap();
    let rogue = vanban_pki::OcspResponder {
        cert: other.ocsp.cert.clone(),
        key: SoftKey::from_pkcs8_der(&other.ocsp.key.to_pkcs8_der()).unwrap(),
        issuer: pki.issuing.cert.clone(),
    };
    let ocsp = OcspResponse::from_der(&rogue.respond(&req, now, |_| CertStatus::Good).unwrap()).unwrap();
    let crl = Crl::from_der(&other.issuing.crl(&[], now, now + Duration::days(1), 1).unwrap()).unwrap();
    let data = RevocationData { crls: vec![crl], ocsp: vec![ocsp] };
    let report = validate_chain(&leaf, std::slice::from_ref(&pki.issuing.cert), &trust, now, &data);
    assert_eq!(report.revocation[0], RevocationCheck::NoData);
}

#[test]
fn time_trust_and_ca_problems() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let (leaf, leaf_key) = pki.person(person_subject()).unwrap();
    let pool = [pki.issuing.cert.clone()];
    let trust = TrustStore::new(vec![pki.root.cert.clone()]);
    let none = RevocationData::default();

    let report = validate_chain(&leaf, &pool, &trust, leaf.not_after() + Duration::days(1), &none);
    assert!(codes(&report).contains(&"expired"));
    let report = validate_chain(&leaf, &pool, &trust, leaf.not_before() - Duration::days(1), &none);
    assert!(codes(&report).contains(&"not_yet_valid"));

    // Missing intermediate: the path stops at the leaf.
    let report = validate_chain(&leaf, &[], &trust, now(), &none);
    assert!(!report.trusted);
    assert!(codes(&report).contains(&"untrusted_root"));
    // Another root is not ours.
    let other = common::pki(KeyAlgorithm::EcdsaP256);
    let report = validate_chain(&leaf, &pool, &TrustStore::new(vec![other.root.cert.clone()]), now(), &none);
    assert!(!report.trusted && codes(&report).contains(&"untrusted_root"));

    // A certificate "issued" by an end entity: not a CA.
    let fake_ca = CertificateAuthority {
        cert: leaf.clone(),
        key: leaf_key,
        chain: vec![pki.issuing.cert.clone(), pki.root.cert.clone()],
        base_url: None,
    };
    let key = SoftKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let victim = fake_ca
        .issue(&vanban_pki::IssueRequest {
            subject: SubjectInfo::new("Nạn nhân"),
            profile: vanban_pki::CertProfile::Person,
            public_key_der: key.public_key_der().to_vec(),
            not_before: leaf.not_before(),
            not_after: leaf.not_before() + Duration::days(10),
        })
        .unwrap();
    let report = validate_chain(&victim, &[leaf.clone(), pki.issuing.cert.clone()], &trust, now(), &none);
    assert!(codes(&report).contains(&"not_a_ca"), "{:?}", report.problems);
    // A CA certificate as a signer: key usage.
    let report = validate_chain(&pki.issuing.cert, &[], &trust, now(), &none);
    assert!(codes(&report).contains(&"key_usage"));
}

#[test]
fn trust_store_from_pem_files() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let s = Scratch::new();
    let a = s.write_pem("a.pem", &[&pki.root.cert]);
    let b = s.write_pem("b.pem", &[&pki.issuing.cert, &pki.tsa.cert]);
    let store = TrustStore::from_pem_files(&[a, b]).unwrap();
    assert_eq!(store.anchors().len(), 3);
    let err = TrustStore::from_pem_files(&[s.path("missing.pem")]).unwrap_err();
    assert_eq!(err.code(), "io_error");
}
