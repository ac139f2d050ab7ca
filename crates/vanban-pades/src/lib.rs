//! PAdES for vanban: two-phase signing of the PDFs the renderer makes (the signer's signature
//! with the handwritten image, the agency's with the red seal, image-less stamps), document
//! timestamps and validation data (B-T, B-LT, B-LTA), and validation of any signed PDF with
//! revision-by-revision analysis of what changed after each signature.
//!
//! Knows nothing of HTTP or storage: bytes in, bytes (or a report) out.

pub mod appearance;
pub mod error;
pub mod font;
pub mod pdf;
pub mod samples;
pub mod sign;
pub mod verify;

pub use appearance::{Colour, Image};
pub use error::{PadesError, Result};
pub use font::Font;
pub use sign::{
    Identity, Prepared, SignOptions, Timestamper, Visual, add_dss, finish_cms, iso_vn, prepare, reserve_for, sign,
    timestamp_document,
};
