//! Integration tests of the HTTP edge: one test binary (link time on 2 cores), the real
//! router over a real SQLite store in a temporary directory, requests through
//! `tower::ServiceExt::oneshot` (no socket; the browser test covers the socket).

mod authz;
mod drafting;
mod harness;
mod history;
mod input;
mod issuing;
mod login;
mod mail;
mod pages;
mod scan;
mod signing;
