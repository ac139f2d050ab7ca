//! The PKI's integration tests, one binary (one link instead of one per file): the CA and its
//! CRL, chain validation, CMS, the keystore, OCSP, PKCS#11 on SoftHSM2 and the TSA, each checked
//! against the OpenSSL CLI where it can be.

mod ca_crl;
mod chain;
mod cms;
mod common;
mod keystore;
mod ocsp;
mod pkcs11;
mod tsa;
