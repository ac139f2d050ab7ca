//! The renderer's integration tests, one binary: documents in the Decree 30 layout (read back
//! with poppler), the registers, and office files converted by LibreOffice.

mod office;
mod registers;
mod render;
