//! edXML's integration tests, one binary: the official samples, and packages built, signed
//! and read back (checked against xmlsec1).

mod build;
mod samples;
