//! PDF objects as read and written by the signer: just enough of ISO 32000 to find fields,
//! follow revisions, and append incremental updates. Strings are raw bytes (already
//! unescaped); dictionaries keep their key order so a rewritten object looks like the old one.

use std::fmt::Write as _;

/// An indirect reference `n g R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    pub num: u32,
    pub generation: u16,
}

impl Ref {
    pub const fn new(num: u32, generation: u16) -> Ref {
        Ref { num, generation }
    }
}

/// A PDF object.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Name(Vec<u8>),
    /// A string's bytes; `hex` says how it was (or will be) written.
    Str {
        bytes: Vec<u8>,
        hex: bool,
    },
    Array(Vec<Object>),
    Dict(Dict),
    /// A stream: its dictionary and its raw (still encoded) data.
    Stream(Dict, Vec<u8>),
    Ref(Ref),
    /// Bytes written verbatim (placeholders the signer patches in place). Never parsed.
    Raw(Vec<u8>),
}

/// A dictionary, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dict(pub Vec<(Vec<u8>, Object)>);

impl Dict {
    pub fn new() -> Dict {
        Dict(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&Object> {
        self.0.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets a key, replacing its value in place when present.
    pub fn set(&mut self, key: &str, value: impl Into<Object>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key.as_bytes()) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.as_bytes().to_vec(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Object> {
        let i = self.0.iter().position(|(k, _)| k == key.as_bytes())?;
        Some(self.0.remove(i).1)
    }

    pub fn with(mut self, key: &str, value: impl Into<Object>) -> Dict {
        self.set(key, value);
        self
    }

    pub fn name(&self, key: &str) -> Option<&[u8]> {
        self.get(key).and_then(Object::as_name)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Object::as_int)
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(|(k, _)| k.as_slice())
    }
}

impl Object {
    pub fn name(s: &str) -> Object {
        Object::Name(s.as_bytes().to_vec())
    }

    /// A literal string.
    pub fn string(s: impl AsRef<[u8]>) -> Object {
        Object::Str { bytes: s.as_ref().to_vec(), hex: false }
    }

    /// A text string: PDFDocEncoding-safe ASCII stays literal; anything else is UTF-16BE with a BOM.
    pub fn text(s: &str) -> Object {
        if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            Object::string(s)
        } else {
            let mut bytes = vec![0xfe, 0xff];
            for u in s.encode_utf16() {
                bytes.extend_from_slice(&u.to_be_bytes());
            }
            Object::Str { bytes, hex: true }
        }
    }

    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Object::Dict(d) | Object::Stream(d, _) => Some(d),
            _ => None,
        }
    }

    pub fn as_name(&self) -> Option<&[u8]> {
        match self {
            Object::Name(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Object::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Object::Int(i) => Some(*i as f64),
            Object::Real(r) => Some(*r),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Object]> {
        match self {
            Object::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_ref(&self) -> Option<Ref> {
        match self {
            Object::Ref(r) => Some(*r),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Object::Str { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// A text string decoded (UTF-16BE with BOM, or PDFDocEncoding read as Latin-1).
    pub fn as_text(&self) -> Option<String> {
        let b = self.as_bytes()?;
        Some(decode_text(b))
    }
}

/// Decodes a PDF text string.
pub fn decode_text(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        b.iter().map(|&c| c as char).collect()
    }
}

impl From<Dict> for Object {
    fn from(d: Dict) -> Object {
        Object::Dict(d)
    }
}
impl From<Ref> for Object {
    fn from(r: Ref) -> Object {
        Object::Ref(r)
    }
}
impl From<i64> for Object {
    fn from(i: i64) -> Object {
        Object::Int(i)
    }
}
impl From<f64> for Object {
    fn from(v: f64) -> Object {
        Object::Real(v)
    }
}
impl From<bool> for Object {
    fn from(v: bool) -> Object {
        Object::Bool(v)
    }
}
impl From<Vec<Object>> for Object {
    fn from(v: Vec<Object>) -> Object {
        Object::Array(v)
    }
}

/// Writes an object in PDF syntax.
pub fn write_object(out: &mut Vec<u8>, obj: &Object) {
    match obj {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        // The shortest text that reads back as the same number: rewritten objects compare equal.
        Object::Real(r) if r.is_finite() => out.extend_from_slice(format!("{r}").as_bytes()),
        Object::Real(_) => out.push(b'0'),
        Object::Name(n) => write_name(out, n),
        Object::Str { bytes, hex } => {
            if *hex {
                out.push(b'<');
                out.extend_from_slice(hex::encode(bytes).as_bytes());
                out.push(b'>');
            } else {
                out.push(b'(');
                for &c in bytes {
                    match c {
                        b'(' | b')' | b'\\' => {
                            out.push(b'\\');
                            out.push(c);
                        }
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        _ => out.push(c),
                    }
                }
                out.push(b')');
            }
        }
        Object::Array(a) => {
            out.push(b'[');
            for (i, o) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, o);
            }
            out.push(b']');
        }
        Object::Dict(d) => write_dict(out, d),
        Object::Stream(d, data) => {
            let mut d = d.clone();
            d.set("Length", Object::Int(data.len() as i64));
            write_dict(out, &d);
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\nendstream");
        }
        Object::Raw(b) => out.extend_from_slice(b),
        Object::Ref(r) => {
            let mut s = String::new();
            let _ = write!(s, "{} {} R", r.num, r.generation);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn write_dict(out: &mut Vec<u8>, d: &Dict) {
    out.extend_from_slice(b"<<");
    for (k, v) in &d.0 {
        write_name(out, k);
        out.push(b' ');
        write_object(out, v);
    }
    out.extend_from_slice(b">>");
}

fn write_name(out: &mut Vec<u8>, n: &[u8]) {
    out.push(b'/');
    for &c in n {
        if c.is_ascii_alphanumeric() || b"-_.+:*,;".contains(&c) {
            out.push(c);
        } else {
            out.extend_from_slice(format!("#{c:02X}").as_bytes());
        }
    }
}

/// A real number without exponent, at most 4 decimals.
pub fn fmt_real(r: f64) -> String {
    if !r.is_finite() {
        return "0".to_owned();
    }
    let s = format!("{r:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() { "0".to_owned() } else { s.to_owned() }
}
