//! The RFC 3161 timestamp authority, answering OpenSSL's queries, checked by OpenSSL.

use crate::common;

use common::*;
use vanban_pki::tsa::response_status;
use vanban_pki::{
    DigestAlg, KeyAlgorithm, parse_and_verify_token, parse_and_verify_token_with_certs, sha256, timestamp_request,
    token_from_response,
};

#[test]
fn openssl_queries_get_tokens_openssl_verifies() {
    for alg in KeyAlgorithm::ALL {
        let pki = pki(alg);
        let s = Scratch::new();
        let dir = s.dir.path();
        let data = "Quyết định số 12/QĐ-UBND về việc ban hành quy chế".repeat(50);
        s.write("data.txt", &data);
        s.write_pem("root.pem", &[&pki.root.cert]);
        s.write_pem("tsa-chain.pem", &[&pki.tsa.cert, &pki.issuing.cert]);
        openssl_ok(dir, &["ts", "-query", "-data", "data.txt", "-sha256", "-cert", "-out", "req.tsq"]);
        let now = now();
        let resp = pki.tsa.respond(&s.read("req.tsq"), now).unwrap();
        s.write("resp.tsr", &resp);
        let out =
            ts_verify(dir, &["-in", "resp.tsr", "-queryfile", "req.tsq"], "root.pem", "tsa-chain.pem").expect_ok();
        assert!(out.contains("Verification: OK"), "{alg}: {out}");
        let out = ts_verify(dir, &["-in", "resp.tsr", "-data", "data.txt"], "root.pem", "tsa-chain.pem").expect_ok();
        assert!(out.contains("Verification: OK"), "{alg}: {out}");
        let text = openssl_ok(dir, &["ts", "-reply", "-in", "resp.tsr", "-text"]);
        assert!(text.contains("Status: Granted."), "{text}");
        assert!(text.contains("Nonce: 0x"), "{text}");

        let token = token_from_response(&resp).unwrap();
        let parsed = parse_and_verify_token(&token).unwrap();
        assert_eq!(parsed.gen_time.timestamp(), now.timestamp());
        assert_eq!(parsed.imprint_alg, DigestAlg::Sha256);
        assert_eq!(parsed.imprint, sha256(data.as_bytes()).to_vec());
        assert!(parsed.covers(data.as_bytes()));
        assert_eq!(parsed.signer.as_ref(), Some(&pki.tsa.cert));
        assert_eq!(parsed.policy, vanban_pki::tsa::DEFAULT_POLICY.to_string());
        assert!(parsed.nonce.is_some());
        assert!(parsed.certs.contains(&pki.issuing.cert));
        assert_eq!(parsed.serial_hex.len(), 32);

        // The token parses the same with the PDF's zero padding behind it.
        let mut padded = token.clone();
        padded.extend(std::iter::repeat_n(0u8, 300));
        assert!(parse_and_verify_token(&padded).is_ok());

        // A flipped byte in the signature value is caught, and so is one in the TSA's
        // certificate (bound by the ESS signingCertificateV2 hash). Other embedded certificates
        // are not covered by the signature: the chain check covers them.
        let tsa_der = pki.tsa.cert.der();
        let cert_at = find(&token, tsa_der).unwrap();
        for pos in [token.len() - 10, cert_at + tsa_der.len() - 5] {
            let mut bad = token.clone();
            bad[pos] ^= 0x01;
            assert!(parse_and_verify_token(&bad).is_err(), "{alg}: flipped byte at {pos} not caught");
        }
        let info_at = find(&token, &sha256(data.as_bytes())).unwrap();
        let mut bad = token.clone();
        bad[info_at] ^= 0x80;
        let err = parse_and_verify_token(&bad).unwrap_err();
        assert_eq!(err.code(), "bad_signature", "{err}");
        let mut bad_resp = resp.clone();
        let at = find(&bad_resp, &sha256(data.as_bytes())).unwrap();
        bad_resp[at] ^= 0x80;
        s.write("bad.tsr", &bad_resp);
        let out = ts_verify(dir, &["-in", "bad.tsr", "-data", "data.txt"], "root.pem", "tsa-chain.pem");
        assert!(!out.ok, "openssl accepted a tampered token: {}", out.text);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn our_requests_and_in_process_stamps() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let digest = sha256(b"noi dung");
    let req = timestamp_request(&digest, Some(0x8000_0000_0000_0001), true).unwrap();
    let s = Scratch::new();
    s.write("req.tsq", &req);
    let text = openssl_ok(s.dir.path(), &["ts", "-query", "-in", "req.tsq", "-text"]);
    assert!(text.contains("Certificate required: yes"), "{text}");
    assert!(text.contains("0x8000000000000001"), "{text}");
    let resp = pki.tsa.respond(&req, now()).unwrap();
    assert_eq!(response_status(&resp).unwrap(), (0, None));
    let token = parse_and_verify_token(&token_from_response(&resp).unwrap()).unwrap();
    assert_eq!(token.nonce, Some(vec![0x80, 0, 0, 0, 0, 0, 0, 1]));

    let direct = pki.tsa.stamp_digest(&digest, now()).unwrap();
    let token = parse_and_verify_token(&direct).unwrap();
    assert_eq!(token.imprint, digest.to_vec());
    assert!(token.nonce.is_none());
    s.write("token.der", &direct);
    s.write_pem("root.pem", &[&pki.root.cert]);
    s.write_pem("chain.pem", &[&pki.issuing.cert]);
    s.write("data.bin", b"noi dung");
    let out = ts_verify(s.dir.path(), &["-token_in", "-in", "token.der", "-data", "data.bin"], "root.pem", "chain.pem")
        .expect_ok();
    assert!(out.contains("Verification: OK"), "{out}");
}

#[test]
fn bad_requests_are_rejected_not_errors() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let resp = pki.tsa.respond(b"garbage", now()).unwrap();
    let (status, fail) = response_status(&resp).unwrap();
    assert_eq!(status, 2);
    assert_eq!(fail, Some(1 << 5)); // badDataFormat
    let err = token_from_response(&resp).unwrap_err();
    assert_eq!(err.code(), "timestamp_rejected");
    let s = Scratch::new();
    s.write("resp.tsr", &resp);
    let text = openssl_ok(s.dir.path(), &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(text.contains("Status: Rejected"), "{text}");
    assert!(text.contains("the data submitted has the wrong format"), "{text}");

    // SHA-1 imprints are refused with badAlg.
    s.write("data.txt", "x");
    openssl_ok(s.dir.path(), &["ts", "-query", "-data", "data.txt", "-sha1", "-out", "sha1.tsq"]);
    let resp = pki.tsa.respond(&s.read("sha1.tsq"), now()).unwrap();
    assert_eq!(response_status(&resp).unwrap(), (2, Some(1)));
    // An unknown policy is refused.
    openssl_ok(
        s.dir.path(),
        &["ts", "-query", "-data", "data.txt", "-sha256", "-tspolicy", "1.2.3.4", "-out", "p.tsq"],
    );
    let resp = pki.tsa.respond(&s.read("p.tsq"), now()).unwrap();
    assert_eq!(response_status(&resp).unwrap(), (2, Some(1 << 15)));
}

#[test]
fn tokens_without_certificates() {
    let pki = pki(KeyAlgorithm::Rsa2048);
    let s = Scratch::new();
    let dir = s.dir.path();
    s.write("data.txt", "công văn");
    openssl_ok(dir, &["ts", "-query", "-data", "data.txt", "-sha256", "-no_nonce", "-out", "req.tsq"]);
    let resp = pki.tsa.respond(&s.read("req.tsq"), now()).unwrap();
    s.write("resp.tsr", &resp);
    s.write_pem("root.pem", &[&pki.root.cert]);
    s.write_pem("chain.pem", &[&pki.tsa.cert, &pki.issuing.cert]);
    let out = ts_verify(dir, &["-in", "resp.tsr", "-queryfile", "req.tsq"], "root.pem", "chain.pem").expect_ok();
    assert!(out.contains("Verification: OK"), "{out}");
    let token = token_from_response(&resp).unwrap();
    assert!(parse_and_verify_token(&token).is_err());
    let parsed = parse_and_verify_token_with_certs(&token, &[pki.issuing.cert.clone(), pki.tsa.cert.clone()]).unwrap();
    assert_eq!(parsed.signer.as_ref(), Some(&pki.tsa.cert));
    assert!(parsed.certs.is_empty());
    assert!(parsed.covers("công văn".as_bytes()));
}
