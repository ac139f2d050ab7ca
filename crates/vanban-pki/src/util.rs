//! Small helpers shared by the modules: raw DER walking (to keep the exact bytes that were
//! signed), time conversions and random serials.

use chrono::{DateTime, TimeZone, Utc};
use der::asn1::{GeneralizedTime, UtcTime};
use std::time::Duration;
use x509_cert::time::Time;

use crate::error::{PkiError, Result};

/// One TLV as found in a byte string: its tag byte(s), where its value starts and ends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// The first identifier octet (class, constructed bit and low tag number).
    pub tag: u8,
    /// The whole TLV (header and value).
    pub raw: &'a [u8],
    /// The value.
    pub value: &'a [u8],
}

/// A TLV header: where the tag ends, the length (None: indefinite) and where the value starts.
struct Header {
    tag_len: usize,
    len: Option<usize>,
    value_start: usize,
}

fn read_header(input: &[u8], what: &'static str) -> Result<Header> {
    let bad = |d: &str| PkiError::malformed(what, d);
    let first = *input.first().ok_or_else(|| bad("empty input"))?;
    let mut pos = 1;
    if first & 0x1f == 0x1f {
        // High tag number form: skip the continuation octets.
        loop {
            let b = *input.get(pos).ok_or_else(|| bad("truncated tag"))?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let tag_len = pos;
    let len_byte = *input.get(pos).ok_or_else(|| bad("truncated length"))?;
    pos += 1;
    let len = if len_byte < 0x80 {
        Some(len_byte as usize)
    } else if len_byte == 0x80 {
        None
    } else {
        let n = (len_byte & 0x7f) as usize;
        if n > 4 {
            return Err(bad("length too large"));
        }
        let mut len = 0usize;
        for _ in 0..n {
            len = (len << 8) | *input.get(pos).ok_or_else(|| bad("truncated length"))? as usize;
            pos += 1;
        }
        Some(len)
    };
    if let Some(len) = len {
        let end = pos.checked_add(len).ok_or_else(|| bad("length overflow"))?;
        if end > input.len() {
            return Err(bad("value runs past the end"));
        }
    }
    Ok(Header { tag_len, len, value_start: pos })
}

/// Reads the first definite-length TLV of `input`; what follows it is ignored.
pub(crate) fn read_tlv(input: &[u8]) -> Result<Tlv<'_>> {
    let h = read_header(input, "DER")?;
    let len = h.len.ok_or_else(|| PkiError::malformed("DER", "indefinite length"))?;
    let end = h.value_start + len;
    Ok(Tlv { tag: input[0], raw: &input[..end], value: &input[h.value_start..end] })
}

/// The TLVs inside a constructed value, in order.
pub(crate) fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let tlv = read_tlv(rest)?;
        rest = &rest[tlv.raw.len()..];
        out.push(tlv);
    }
    Ok(out)
}

/// Parsed values kept by the SHA-256 of the DER they came from. Validation reads the same
/// certificates, CRLs and OCSP responses in every signature and DSS (the agency's, its CA's,
/// the timestamp authority's), so each is parsed once. A parsed value is immutable and cheap
/// to clone (its parts are shared); at `kept` values the memo starts again, which is simpler
/// than an LRU and as good for a working set far below the bound.
pub(crate) struct Memo<T> {
    map: std::sync::Mutex<Option<std::collections::HashMap<[u8; 32], T>>>,
    kept: usize,
    /// Larger DER (a big CA's CRL) is parsed each time, not kept: the memo's memory stays
    /// within `kept` × `max_len`, whatever files come in.
    max_len: usize,
}

impl<T: Clone> Memo<T> {
    pub(crate) const fn new(kept: usize, max_len: usize) -> Self {
        Memo { map: std::sync::Mutex::new(None), kept, max_len }
    }

    /// The value parsed from `len` bytes of DER whose digest is `key`, parsing it with `parse`
    /// when not kept. Failures are not kept.
    pub(crate) fn get_or_parse(&self, key: [u8; 32], len: usize, parse: impl FnOnce() -> Result<T>) -> Result<T> {
        if len > self.max_len {
            return parse();
        }
        let lock = || self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = lock().as_ref().and_then(|m| m.get(&key)) {
            return Ok(v.clone());
        }
        let v = parse()?;
        let mut map = lock();
        let map = map.get_or_insert_with(Default::default);
        if map.len() >= self.kept {
            map.clear();
        }
        map.insert(key, v.clone());
        Ok(v)
    }
}

const MAX_BER_DEPTH: usize = 64;

/// Re-encodes the first BER value of `input` as DER as far as encodings go: indefinite lengths
/// become definite, lengths minimal, constructed OCTET STRINGs primitive. DER input comes back
/// unchanged. Returns the DER and how many input bytes the value took.
pub(crate) fn ber_to_der(input: &[u8]) -> Result<(std::borrow::Cow<'_, [u8]>, usize)> {
    // Almost every value is DER already (every signature vanban makes): then it is borrowed.
    if let Some(used) = der_extent(input, 0) {
        return Ok((std::borrow::Cow::Borrowed(&input[..used]), used));
    }
    let mut out = Vec::with_capacity(input.len());
    let used = ber_value(input, &mut out, 0)?;
    Ok((std::borrow::Cow::Owned(out), used))
}

/// The length of the first value of `input` when [`ber_value`] would copy it unchanged: every
/// length definite and minimal, no constructed OCTET STRING. `None` otherwise (also for what
/// is malformed, which `ber_value` then reports).
fn der_extent(input: &[u8], depth: usize) -> Option<usize> {
    if depth > MAX_BER_DEPTH {
        return None;
    }
    let h = read_header(input, "BER").ok()?;
    let len = h.len?;
    // Minimal length: the short form below 128, else the fewest octets that hold it.
    let minimal = match h.value_start - h.tag_len {
        1 => true,
        n => len >= 0x80 && n - 1 == (usize::BITS - len.leading_zeros()).div_ceil(8) as usize,
    };
    let first = input[0];
    if !minimal || first == 0x24 {
        return None;
    }
    let end = h.value_start + len;
    if first & 0x20 != 0 {
        let mut at = h.value_start;
        while at < end {
            at += der_extent(&input[at..end], depth + 1)?;
        }
    }
    Some(end)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends the DER of the BER value at the start of `input` to `out`; returns the bytes used.
fn ber_value(input: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<usize> {
    let bad = |d: &str| PkiError::malformed("BER", d);
    if depth > MAX_BER_DEPTH {
        return Err(bad("nested too deeply"));
    }
    let h = read_header(input, "BER")?;
    let first = input[0];
    let tag = &input[..h.tag_len];
    let constructed = first & 0x20 != 0;
    let pos = h.value_start;
    let definite = h.len;
    if definite.is_none() && !constructed {
        return Err(bad("indefinite length on a primitive value"));
    }
    if !constructed {
        let len = definite.unwrap_or(0);
        let end = pos + len;
        out.extend_from_slice(tag);
        push_len(out, len);
        out.extend_from_slice(&input[pos..end]);
        return Ok(end);
    }
    // Constructed: re-encode the children, then wrap them.
    let mut content = Vec::new();
    let end = match definite {
        Some(len) => {
            let end = pos + len;
            let mut at = pos;
            while at < end {
                at += ber_value(&input[at..end], &mut content, depth + 1)?;
            }
            end
        }
        None => {
            let mut at = pos;
            loop {
                match input.get(at..at + 2) {
                    Some([0, 0]) => break at + 2,
                    Some(_) => at += ber_value(&input[at..], &mut content, depth + 1)?,
                    None => return Err(bad("missing end-of-contents")),
                }
            }
        }
    };
    if first == 0x24 {
        // A constructed OCTET STRING: DER wants the concatenated segments, primitive.
        let mut joined = Vec::with_capacity(content.len());
        for seg in children(&content)? {
            joined.extend_from_slice(seg.value);
        }
        out.push(0x04);
        push_len(out, joined.len());
        out.extend_from_slice(&joined);
    } else {
        out.extend_from_slice(tag);
        push_len(out, content.len());
        out.extend_from_slice(&content);
    }
    Ok(end)
}

/// An X.509 `Time` as chrono.
pub(crate) fn time_to_chrono(t: &Time) -> DateTime<Utc> {
    duration_to_chrono(t.to_unix_duration())
}

pub(crate) fn duration_to_chrono(d: Duration) -> DateTime<Utc> {
    Utc.timestamp_opt(d.as_secs() as i64, d.subsec_nanos()).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub(crate) fn generalized_to_chrono(t: &GeneralizedTime) -> DateTime<Utc> {
    duration_to_chrono(t.to_unix_duration())
}

fn der_date_time(dt: DateTime<Utc>) -> Result<der::DateTime> {
    let secs = u64::try_from(dt.timestamp()).map_err(|_| PkiError::InvalidValidity(format!("{dt} is before 1970")))?;
    der::DateTime::from_unix_duration(Duration::from_secs(secs)).map_err(|e| PkiError::InvalidValidity(e.to_string()))
}

/// A chrono instant as a GeneralizedTime, whole seconds.
pub(crate) fn chrono_to_generalized(dt: DateTime<Utc>) -> Result<GeneralizedTime> {
    Ok(GeneralizedTime::from_date_time(der_date_time(dt)?))
}

/// A chrono instant as an X.509 `Time`: UTCTime through 2049, GeneralizedTime after
/// (RFC 5280 section 4.1.2.5).
pub(crate) fn chrono_to_time(dt: DateTime<Utc>) -> Result<Time> {
    let d = der_date_time(dt)?;
    if d.year() < 2050 {
        UtcTime::from_date_time(d).map(Time::UtcTime).map_err(|e| PkiError::InvalidValidity(e.to_string()))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(d)))
    }
}

/// Truncates to whole seconds (what the DER times carry).
pub(crate) fn whole_seconds(dt: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(dt.timestamp(), 0).single().unwrap_or(dt)
}

/// `n` random bytes from the OS generator.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::fill(&mut out[..]);
    out
}

/// A random positive serial of 16 bytes (the top bit cleared, never zero-led so its DER INTEGER
/// has exactly 16 value bytes).
pub(crate) fn random_serial() -> [u8; 16] {
    let mut s = random_bytes::<16>();
    s[0] = (s[0] & 0x7f) | 0x01;
    s
}

/// A big-endian integer magnitude without leading zero bytes (one zero byte for zero).
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_walk() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xff, 0x00, 0x00];
        let t = read_tlv(&der).unwrap();
        assert_eq!(t.raw.len(), 8);
        let kids = children(t.value).unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1].value, &[0xff]);
        assert!(read_tlv(&[0x30, 0x80]).is_err());
        assert!(read_tlv(&[0x30, 0x05, 0x00]).is_err());
    }

    #[test]
    fn ber_is_normalised() {
        // SEQUENCE (indefinite) { INTEGER 5, OCTET STRING constructed (indefinite) { "ab", "c" } }
        let ber =
            [0x30, 0x80, 0x02, 0x01, 0x05, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0, 0, 0, 0, 0xff];
        let (der, used) = ber_to_der(&ber).unwrap();
        assert_eq!(used, ber.len() - 1);
        assert_eq!(der[..], [0x30, 0x08, 0x02, 0x01, 0x05, 0x04, 0x03, b'a', b'b', b'c']);
        // Non-minimal lengths become minimal; DER stays as it is.
        let (der2, _) = ber_to_der(&[0x30, 0x81, 0x03, 0x02, 0x01, 0x05]).unwrap();
        assert_eq!(der2[..], [0x30, 0x03, 0x02, 0x01, 0x05]);
        assert_eq!(ber_to_der(&der).unwrap().0, der);
        assert!(ber_to_der(&[0x30, 0x80, 0x02, 0x01]).is_err());
    }

    #[test]
    fn memo_keeps_small_values_within_its_bound() {
        let memo: Memo<u32> = Memo::new(2, 100);
        let parses = std::cell::Cell::new(0);
        let parse = |v: u32| {
            parses.set(parses.get() + 1);
            Ok(v)
        };
        assert_eq!(memo.get_or_parse([1; 32], 10, || parse(1)).unwrap(), 1);
        assert_eq!(memo.get_or_parse([1; 32], 10, || parse(9)).unwrap(), 1);
        assert_eq!(parses.get(), 1);
        // Failures are not kept.
        assert!(memo.get_or_parse([2; 32], 10, || Err(PkiError::malformed("x", "y"))).is_err());
        assert_eq!(memo.get_or_parse([2; 32], 10, || parse(2)).unwrap(), 2);
        // Too large: parsed every time.
        assert_eq!(memo.get_or_parse([3; 32], 101, || parse(3)).unwrap(), 3);
        assert_eq!(memo.get_or_parse([3; 32], 101, || parse(4)).unwrap(), 4);
        // Full: it starts again.
        assert_eq!(memo.get_or_parse([5; 32], 10, || parse(5)).unwrap(), 5);
        assert_eq!(memo.get_or_parse([1; 32], 10, || parse(6)).unwrap(), 6);
    }

    /// The slow path's answer, for comparing with the borrowed fast path.
    fn re_encoded(input: &[u8]) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let used = ber_value(input, &mut out, 0).unwrap();
        (out, used)
    }

    #[test]
    fn der_is_borrowed_and_anything_else_re_encoded() {
        let long = vec![0x41; 300];
        let mut octets = vec![0x04, 0x82, 0x01, 0x2c];
        octets.extend_from_slice(&long);
        let mut der = vec![0x30, 0x82, 0x01, 0x33, 0x02, 0x01, 0x05];
        der.extend_from_slice(&octets);
        der.extend_from_slice(&[0x31, 0x81, 0x80]);
        der.extend(std::iter::repeat_n([0x05, 0x00], 64).flatten());
        let content = u16::try_from(der.len() - 4).unwrap().to_be_bytes();
        der[2..4].copy_from_slice(&content);
        // DER (long-form lengths of one and two octets included): borrowed, trailing bytes left.
        let mut padded = der.clone();
        padded.extend_from_slice(&[0, 0, 0]);
        let (out, used) = ber_to_der(&padded).unwrap();
        assert!(matches!(out, std::borrow::Cow::Borrowed(_)));
        assert_eq!((out.to_vec(), used), (der.clone(), der.len()));
        assert_eq!(re_encoded(&padded), (der.clone(), der.len()));
        // Not DER, at any depth: re-encoded, as the slow path does.
        let cases: Vec<Vec<u8>> = vec![
            vec![0x30, 0x04, 0x02, 0x81, 0x01, 0x05],       // a child's long form below 128
            vec![0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05], // a leading zero length octet
            vec![0x30, 0x81, 0x7f]
                .into_iter()
                .chain(std::iter::repeat_n([0x05, 0x00], 62).flatten())
                .chain([0x05, 0x01, 0x00])
                .collect(),
            vec![0x30, 0x05, 0x24, 0x03, 0x04, 0x01, b'a'], // a constructed OCTET STRING inside
            vec![0x30, 0x80, 0x05, 0x00, 0x00, 0x00],       // indefinite
        ];
        for case in cases {
            let (out, used) = ber_to_der(&case).unwrap();
            assert!(matches!(out, std::borrow::Cow::Owned(_)), "{case:02x?}");
            assert_eq!((out.to_vec(), used), re_encoded(&case), "{case:02x?}");
        }
    }

    #[test]
    fn times() {
        let t = Utc.with_ymd_and_hms(2049, 12, 31, 23, 59, 59).unwrap();
        assert!(matches!(chrono_to_time(t).unwrap(), Time::UtcTime(_)));
        let t2 = Utc.with_ymd_and_hms(2050, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(chrono_to_time(t2).unwrap(), Time::GeneralTime(_)));
        assert_eq!(time_to_chrono(&chrono_to_time(t).unwrap()), t);
        assert_eq!(strip_leading_zeros(&[0, 0, 1]), &[1]);
        assert_eq!(strip_leading_zeros(&[0]), &[0]);
    }
}
