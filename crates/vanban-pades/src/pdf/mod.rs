//! The PDF layer: objects, a revision-aware reader and an incremental-update writer.

pub mod file;
pub mod object;
pub mod parse;
pub mod testing;
pub mod write;

pub use file::{Entry, PdfFile, Section, decode_stream};
pub use object::{Dict, Object, Ref, decode_text, fmt_real, write_object};
pub use write::{Update, Written};
