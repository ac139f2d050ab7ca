//! Helpers shared by the integration tests: a scratch directory and the openssl CLI, the
//! independent validator everything we produce must satisfy.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use vanban_pki::{Cert, KeyAlgorithm, SubjectInfo, TestPki};

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }

    pub fn write_pem(&self, name: &str, certs: &[&Cert]) -> PathBuf {
        let text: String = certs.iter().map(|c| c.to_pem()).collect();
        self.write(name, text)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }
}

pub struct Output {
    pub ok: bool,
    pub text: String,
}

impl Output {
    /// The text, after asserting the command succeeded.
    pub fn expect_ok(self) -> String {
        assert!(self.ok, "openssl failed:\n{}", self.text);
        self.text
    }
}

/// `openssl cms -verify` of a detached DER signature over `content`, any purpose, with `ca`.
pub fn cms_verify(dir: &Path, sig: &str, content: &str, ca: &str) -> Output {
    let args = [
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        sig,
        "-content",
        content,
        "-CAfile",
        ca,
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ];
    openssl(dir, &args)
}

/// `openssl ts -verify` with `input` (e.g. `-in resp.tsr -queryfile req.tsq`), trusting `ca`
/// with the `untrusted` intermediates.
pub fn ts_verify(dir: &Path, input: &[&str], ca: &str, untrusted: &str) -> Output {
    let mut args = vec!["ts", "-verify"];
    args.extend_from_slice(input);
    args.extend_from_slice(&["-CAfile", ca, "-untrusted", untrusted]);
    openssl(dir, &args)
}

/// Runs `openssl args...` in `dir`, returning success and stdout+stderr.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Output { ok: out.status.success(), text }
}

/// Like [`openssl`] but panics with the output when the command fails.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl(dir, args);
    assert!(out.ok, "openssl {} failed:\n{}", args.join(" "), out.text);
    out.text
}

/// The current time in whole seconds (what DER times carry).
pub fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(Utc::now().timestamp(), 0).single().expect("time")
}

pub fn fixed_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 30, 0).single().expect("time")
}

/// A person with Vietnamese text in every field.
pub fn person_subject() -> SubjectInfo {
    SubjectInfo {
        common_name: "Nguyễn Văn Ánh".into(),
        organization: Some("Sở Nội vụ tỉnh Bình An".into()),
        organizational_unit: Some("Văn phòng Sở".into()),
        locality: Some("Thành phố Bình An".into()),
        state: Some("Bình An".into()),
        country: "VN".into(),
        uid: Some("CCCD:001090012345".into()),
        email: Some("anh.nv@binhan.gov.vn".into()),
        title: Some("Chánh Văn phòng".into()),
    }
}

pub fn organisation_subject() -> SubjectInfo {
    SubjectInfo {
        common_name: "Sở Nội vụ tỉnh Bình An".into(),
        organization: Some("Ủy ban nhân dân tỉnh Bình An".into()),
        state: Some("Bình An".into()),
        uid: Some("MST:0101234567".into()),
        ..SubjectInfo::new("")
    }
}

pub fn pki(alg: KeyAlgorithm) -> TestPki {
    TestPki::generate("Vanban Thử nghiệm", alg, now(), Some("https://vanban.example.gov.vn/".into())).expect("pki")
}
