//! PAdES's integration tests, one binary: the attacks and appearances (`pades`), and independent
//! validators judging vanban's files and vanban judging theirs (`interop`).

mod common;
mod interop;
mod pades;
