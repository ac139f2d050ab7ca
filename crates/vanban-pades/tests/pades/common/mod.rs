//! Shared test material: a test PKI, signature and seal images, and the two Decree 30 signatures.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use vanban_pades::{Identity, Image, SignOptions, Timestamper, Visual};
use vanban_pki::{Cert, KeyAlgorithm, SoftKey, SubjectInfo, TestPki, TimestampAuthority};

pub const FIXTURE: &[u8] = include_bytes!("../../fixtures/cong_van.pdf");

pub struct Tsa<'a>(pub &'a TimestampAuthority, pub DateTime<Utc>);

impl Timestamper for Tsa<'_> {
    fn stamp(&self, digest: &[u8; 32]) -> vanban_pades::Result<Vec<u8>> {
        Ok(self.0.stamp_digest(digest, self.1)?)
    }
    fn token_len_max(&self) -> usize {
        self.0.cert.der().len() + self.0.chain.iter().map(|c| c.der().len()).sum::<usize>() + 2048
    }
}

pub struct World {
    pub pki: TestPki,
    pub person: (Cert, SoftKey),
    pub org: (Cert, SoftKey),
    pub now: DateTime<Utc>,
}

impl World {
    pub fn new(alg: KeyAlgorithm) -> World {
        let now = Utc::now();
        let pki = TestPki::generate("Bình An", alg, now - Duration::days(1), None).unwrap();
        let mut p = SubjectInfo::new("Nguyễn Văn An");
        p.uid = Some("CCCD:001090012345".into());
        p.organization = Some("Ủy ban nhân dân tỉnh Bình An".into());
        p.country = "VN".into();
        let person = pki.person(p).unwrap();
        let mut o = SubjectInfo::new("Ủy ban nhân dân tỉnh Bình An");
        o.uid = Some("MST:0101234567".into());
        o.country = "VN".into();
        let org = pki.organisation(o).unwrap();
        World { pki, person, org, now }
    }

    pub fn chain(&self) -> Vec<Cert> {
        vec![self.pki.issuing.cert.clone(), self.pki.root.cert.clone()]
    }

    pub fn tsa(&self) -> Tsa<'_> {
        Tsa(&self.pki.tsa, self.now)
    }

    pub fn trust(&self) -> vanban_pki::TrustStore {
        vanban_pki::TrustStore::new(vec![self.pki.root.cert.clone()])
    }

    pub fn policy(&self) -> vanban_pades::verify::Policy {
        vanban_pades::verify::Policy { trust: self.trust(), ..Default::default() }
    }

    /// The leader's certification signature (DocMDP P=2) with the blue signature image, B-T.
    pub fn sign_signer(&self, pdf: &[u8]) -> Vec<u8> {
        let mut opts = SignOptions::new("vb_signature_signer", Visual::SignerImage(signature_image()), self.now);
        opts.certify = true;
        opts.name = Some("Nguyễn Văn An".into());
        opts.reason = Some("Ký ban hành".into());
        let chain = self.chain();
        let id = Identity { key: &self.person.1, cert: &self.person.0, chain: &chain };
        vanban_pades::sign(pdf, &opts, &id, Some(&self.tsa())).unwrap()
    }

    /// The clerk: number and date filled, then the agency signature with the red seal, B-T.
    pub fn sign_agency(&self, pdf: &[u8]) -> Vec<u8> {
        let mut opts = SignOptions::new("vb_signature_agency", Visual::Seal(seal_image()), self.now);
        opts.fill =
            vec![("vb_number".into(), "125".into()), ("vb_day".into(), "30".into()), ("vb_month".into(), "11".into())];
        opts.font = Some(vanban_pades::Font::load(None).unwrap());
        let chain = self.chain();
        let id = Identity { key: &self.org.1, cert: &self.org.0, chain: &chain };
        vanban_pades::sign(pdf, &opts, &id, Some(&self.tsa())).unwrap()
    }
}

/// The demo's blue signature (PNG, transparent).
pub fn signature_png() -> Vec<u8> {
    vanban_pades::samples::signature_png(0)
}

/// The demo's red seal (PNG, transparent).
pub fn seal_png() -> Vec<u8> {
    vanban_pades::samples::seal_png()
}

pub fn signature_image() -> Image {
    Image::from_png(&signature_png()).unwrap()
}

pub fn seal_image() -> Image {
    Image::from_png(&seal_png()).unwrap()
}
