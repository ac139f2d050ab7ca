//! Text helpers: Unicode NFC normalisation, Vietnamese folding for search,
//! and the common clean-and-check routine used by every validated field.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::error::DomainError;

/// Returns `s` in Unicode Normalisation Form C (TCVN 6909:2001 text is NFC).
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Folds Vietnamese text for comparison and search: lower case, all
/// diacritics removed, `đ`/`Đ` mapped to `d`.
///
/// `fold_vi("Đảng ủy Quyết định") == "dang uy quyet dinh"`.
pub fn fold_vi(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            // Đ/đ, plus the look-alike Ð (U+00D0) that some keyboards produce.
            'Đ' | 'đ' | 'Ð' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Folds with [`fold_vi`], trims, and collapses runs of whitespace to one
/// space: the key used to match user-typed labels.
pub fn fold_key(s: &str) -> String {
    fold_vi(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Normalises `s` to NFC, trims it, and checks it.
///
/// Fails with `FieldRequired` when `required` and the result is empty, and
/// with `FieldTooLong` when it has more than `max` characters. An optional
/// empty field comes back as an empty string.
pub fn clean_text(field: &'static str, s: &str, max: usize, required: bool) -> Result<String, DomainError> {
    let normalised = nfc(s);
    let trimmed = normalised.trim();
    if required && trimmed.is_empty() {
        return Err(DomainError::FieldRequired { field });
    }
    let actual = trimmed.chars().count();
    if actual > max {
        return Err(DomainError::FieldTooLong { field, max, actual });
    }
    Ok(trimmed.to_owned())
}

/// Like [`clean_text`] for an optional field: `None` or a blank value
/// becomes `None`.
pub fn clean_optional(field: &'static str, s: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match s {
        None => Ok(None),
        Some(s) => {
            let cleaned = clean_text(field, s, max, false)?;
            Ok((!cleaned.is_empty()).then_some(cleaned))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    const DECOMPOSED: &str = "Quye\u{0302}\u{0301}t đi\u{0323}nh";

    #[test]
    fn nfc_composes_decomposed_input() {
        assert_ne!(DECOMPOSED, "Quyết định");
        assert_eq!(nfc(DECOMPOSED), "Quyết định");
        assert_eq!(nfc("Quyết định"), "Quyết định");
    }

    #[test]
    fn fold_vi_strips_diacritics_and_d_stroke() {
        assert_eq!(fold_vi("Đảng ủy Quyết định"), "dang uy quyet dinh");
        assert_eq!(fold_vi(DECOMPOSED), "quyet dinh");
        assert_eq!(fold_vi("ĐƯỜNG Hỏa Tốc"), "duong hoa toc");
        assert_eq!(fold_vi("Hoả"), fold_vi("Hỏa"));
        assert_eq!(fold_vi("abc 123"), "abc 123");
    }

    #[test]
    fn fold_key_collapses_whitespace() {
        assert_eq!(fold_key("  Văn   thư \t"), "van thu");
    }

    #[test]
    fn clean_text_normalises_and_trims() {
        let s = clean_text("Subject", &format!("  {DECOMPOSED}  "), 500, true).unwrap();
        assert_eq!(s, "Quyết định");
    }

    #[test]
    fn clean_text_required() {
        assert_eq!(clean_text("Subject", "   ", 10, true), Err(DomainError::FieldRequired { field: "Subject" }));
        assert_eq!(clean_text("Subject", "   ", 10, false).unwrap(), "");
    }

    #[test]
    fn clean_text_counts_chars_after_nfc() {
        // 10 decomposed characters take more than 10 code points before NFC.
        let ten = "ệ".repeat(10);
        let decomposed: String = ten.nfd().collect();
        assert!(decomposed.chars().count() > 10);
        assert_eq!(clean_text("X", &decomposed, 10, true).unwrap(), ten);
        assert_eq!(
            clean_text("X", &"ệ".repeat(11), 10, true),
            Err(DomainError::FieldTooLong { field: "X", max: 10, actual: 11 })
        );
    }

    #[test]
    fn clean_optional_blank_is_none() {
        assert_eq!(clean_optional("D", None, 5).unwrap(), None);
        assert_eq!(clean_optional("D", Some("  "), 5).unwrap(), None);
        assert_eq!(clean_optional("D", Some(" ab "), 5).unwrap(), Some("ab".into()));
        assert!(clean_optional("D", Some("abcdef"), 5).is_err());
    }
}
