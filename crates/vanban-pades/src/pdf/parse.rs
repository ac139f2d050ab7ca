//! A strict, allocation-light reader for PDF object syntax (ISO 32000-1 §7.2–7.3).

use super::object::{Dict, Object, Ref};
use crate::error::{PadesError, Result};

pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, 0 | 9 | 10 | 12 | 13 | 32)
}

fn is_delim(c: u8) -> bool {
    matches!(c, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn malformed(what: &str, at: usize) -> PadesError {
    PadesError::Malformed(format!("{what} at byte {at}"))
}

/// A cursor over the file's bytes.
pub struct Lexer<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Lexer<'a> {
        Lexer { data, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if is_ws(c) {
                self.pos += 1;
            } else if c == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Consumes `kw` (after whitespace) when it is the next token.
    pub fn eat(&mut self, kw: &[u8]) -> bool {
        self.skip_ws();
        let end = self.pos + kw.len();
        if self.data.get(self.pos..end) == Some(kw) && self.data.get(end).is_none_or(|&c| is_ws(c) || is_delim(c)) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, kw: &[u8]) -> Result<()> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(malformed(&format!("expected `{}`", String::from_utf8_lossy(kw)), self.pos))
        }
    }

    /// An unsigned integer token.
    pub fn uint(&mut self) -> Result<u64> {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos || self.pos - start > 18 {
            return Err(malformed("expected a number", start));
        }
        std::str::from_utf8(&self.data[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed("bad number", start))
    }

    /// Reads `n g obj` and returns the reference.
    pub fn obj_header(&mut self) -> Result<Ref> {
        let num = self.uint()?;
        let generation = self.uint()?;
        self.expect(b"obj")?;
        Ok(Ref::new(u32::try_from(num).map_err(|_| malformed("object number", self.pos))?, generation as u16))
    }

    /// Reads one object. Streams are recognised by the caller (see [`Lexer::indirect`]).
    pub fn object(&mut self, depth: usize) -> Result<Object> {
        if depth > 64 {
            return Err(malformed("nesting too deep", self.pos));
        }
        self.skip_ws();
        let start = self.pos;
        let c = self.peek().ok_or_else(|| malformed("unexpected end of file", start))?;
        match c {
            b'/' => {
                self.pos += 1;
                Ok(Object::Name(self.name_body()))
            }
            b'(' => self.literal_string(),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut d = Dict::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b'>') if self.data.get(self.pos + 1) == Some(&b'>') => {
                            self.pos += 2;
                            return Ok(Object::Dict(d));
                        }
                        Some(b'/') => {
                            self.pos += 1;
                            let k = self.name_body();
                            let v = self.object(depth + 1)?;
                            d.0.push((k, v));
                        }
                        _ => return Err(malformed("bad dictionary", self.pos)),
                    }
                }
            }
            b'<' => {
                self.pos += 1;
                let (bytes, end) = hex_string(self.data, self.pos).map_err(|e| match e {
                    HexError::Unterminated => malformed("unterminated hex string", start),
                    HexError::Bad(at) => malformed("bad hex string", at + 1),
                })?;
                self.pos = end;
                Ok(Object::Str { bytes, hex: true })
            }
            b'[' => {
                self.pos += 1;
                let mut a = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        return Ok(Object::Array(a));
                    }
                    if self.peek().is_none() {
                        return Err(malformed("unterminated array", start));
                    }
                    a.push(self.object(depth + 1)?);
                }
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.number_or_ref(),
            _ => {
                if self.eat(b"true") {
                    Ok(Object::Bool(true))
                } else if self.eat(b"false") {
                    Ok(Object::Bool(false))
                } else if self.eat(b"null") {
                    Ok(Object::Null)
                } else {
                    Err(malformed("unexpected token", start))
                }
            }
        }
    }

    fn name_body(&mut self) -> Vec<u8> {
        let mut n = Vec::new();
        while let Some(c) = self.peek() {
            if is_ws(c) || is_delim(c) {
                break;
            }
            self.pos += 1;
            if c == b'#'
                && let (Some(a), Some(b)) = (self.data.get(self.pos), self.data.get(self.pos + 1))
                && a.is_ascii_hexdigit()
                && b.is_ascii_hexdigit()
            {
                n.push((hexval(*a) << 4) | hexval(*b));
                self.pos += 2;
                continue;
            }
            n.push(c);
        }
        n
    }

    fn literal_string(&mut self) -> Result<Object> {
        let start = self.pos;
        self.pos += 1;
        let mut depth = 1usize;
        let mut out = Vec::new();
        loop {
            let c = self.peek().ok_or_else(|| malformed("unterminated string", start))?;
            self.pos += 1;
            match c {
                b'(' => {
                    depth += 1;
                    out.push(c);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Object::Str { bytes: out, hex: false });
                    }
                    out.push(c);
                }
                b'\\' => {
                    let e = self.peek().ok_or_else(|| malformed("unterminated string", start))?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn number_token(&mut self) -> Option<(bool, &'a [u8])> {
        let start = self.pos;
        let mut real = false;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                self.pos += 1;
            } else if c == b'.' && !real {
                real = true;
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start).then(|| (real, &self.data[start..self.pos]))
    }

    fn number_or_ref(&mut self) -> Result<Object> {
        let start = self.pos;
        let (real, tok) = self.number_token().ok_or_else(|| malformed("bad number", start))?;
        let s = std::str::from_utf8(tok).map_err(|_| malformed("bad number", start))?;
        if real {
            return Ok(Object::Real(s.parse::<f64>().unwrap_or(0.0)));
        }
        let n: i64 = s.parse().map_err(|_| malformed("bad number", start))?;
        // Look ahead for `generation R`.
        let save = self.pos;
        self.skip_ws();
        let gstart = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos > gstart && n >= 0 {
            let generation: Option<u16> =
                std::str::from_utf8(&self.data[gstart..self.pos]).ok().and_then(|g| g.parse().ok());
            if let Some(generation) = generation
                && self.eat(b"R")
                && let Ok(num) = u32::try_from(n)
            {
                return Ok(Object::Ref(Ref::new(num, generation)));
            }
        }
        self.pos = save;
        Ok(Object::Int(n))
    }

    /// Reads `n g obj <object> [stream ... endstream] endobj` at the cursor. `length_of`
    /// resolves an indirect /Length.
    pub fn indirect(&mut self, length_of: &dyn Fn(Ref) -> Option<usize>) -> Result<(Ref, Object)> {
        let r = self.obj_header()?;
        let obj = self.object(0)?;
        self.skip_ws_no_comment();
        if self.data.get(self.pos..self.pos + 6) == Some(b"stream") {
            let Object::Dict(dict) = obj else {
                return Err(malformed("stream without a dictionary", self.pos));
            };
            self.pos += 6;
            if self.peek() == Some(b'\r') {
                self.pos += 1;
            }
            if self.peek() == Some(b'\n') {
                self.pos += 1;
            }
            let start = self.pos;
            let declared = match dict.get("Length") {
                Some(Object::Int(n)) => usize::try_from(*n).ok(),
                Some(Object::Ref(lr)) => length_of(*lr),
                _ => None,
            };
            let len = match declared {
                Some(n) if self.data.get(start + n..).is_some_and(ends_stream) => n,
                // A wrong /Length: fall back to the `endstream` keyword.
                _ => find(self.data, b"endstream", start)
                    .map(|e| {
                        let mut e = e;
                        if e > start && self.data[e - 1] == b'\n' {
                            e -= 1;
                        }
                        if e > start && self.data[e - 1] == b'\r' {
                            e -= 1;
                        }
                        e - start
                    })
                    .ok_or_else(|| malformed("unterminated stream", start))?,
            };
            let data = self.data[start..start + len].to_vec();
            self.pos = start + len;
            self.expect(b"endstream")?;
            self.expect(b"endobj")?;
            return Ok((r, Object::Stream(dict, data)));
        }
        self.expect(b"endobj")?;
        Ok((r, obj))
    }

    fn skip_ws_no_comment(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }
}

fn ends_stream(rest: &[u8]) -> bool {
    let mut i = 0;
    while i < rest.len() && i < 4 && is_ws(rest[i]) {
        i += 1;
    }
    rest.get(i..i + 9) == Some(b"endstream")
}

fn hexval(c: u8) -> u8 {
    match HEX[c as usize] {
        v if v < 16 => v,
        _ => 0,
    }
}

/// A hex digit's value, `WS` for PDF white space, `BAD` for anything else.
const HEX: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    let ws = [0u8, 9, 10, 12, 13, 32];
    let mut i = 0;
    while i < ws.len() {
        t[ws[i] as usize] = WS;
        i += 1;
    }
    t
};
const WS: u8 = 0xFE;
const BAD: u8 = 0xFF;

enum HexError {
    Unterminated,
    /// The position of the offending byte.
    Bad(usize),
}

/// Decodes a hex string whose digits start at `from` (just after `<`), up to and including
/// its `>`: the bytes (an odd last digit is followed by an implied 0) and the position after
/// the `>`. A table-driven loop: signature dictionaries carry tens of kilobytes of hex in
/// `/Contents`, and every validation reads them.
fn hex_string(data: &[u8], from: usize) -> std::result::Result<(Vec<u8>, usize), HexError> {
    let rest = &data[from.min(data.len())..];
    let close = rest.iter().position(|&c| c == b'>').ok_or(HexError::Unterminated)?;
    let bytes = hex_digits(&rest[..close]).map_err(|at| HexError::Bad(from + at))?;
    Ok((bytes, from + close + 1))
}

/// Decodes hex digits with white space between them; an odd last digit is followed by an
/// implied 0. The error is the position of the first byte that is neither.
fn hex_digits(digits: &[u8]) -> std::result::Result<Vec<u8>, usize> {
    let mut bytes = Vec::with_capacity(digits.len() / 2 + 1);
    // Most hex strings have no white space: pairs at a time.
    let mut i = 0;
    while i + 1 < digits.len() {
        let (a, b) = (HEX[digits[i] as usize], HEX[digits[i + 1] as usize]);
        if a >= 16 || b >= 16 {
            break;
        }
        bytes.push((a << 4) | b);
        i += 2;
    }
    let mut high: Option<u8> = None;
    for (j, &c) in digits.iter().enumerate().skip(i) {
        match HEX[c as usize] {
            WS => {}
            BAD => return Err(j),
            v => match high.take() {
                Some(h) => bytes.push((h << 4) | v),
                None => high = Some(v),
            },
        }
    }
    if let Some(h) = high {
        bytes.push(h << 4);
    }
    Ok(bytes)
}

/// The first position of `needle` at or after `from`.
pub fn find(data: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= data.len() || needle.is_empty() {
        return None;
    }
    data[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// The last position of `needle` before `before`.
pub fn rfind(data: &[u8], needle: &[u8], before: usize) -> Option<usize> {
    let end = before.min(data.len());
    data[..end].windows(needle.len()).rposition(|w| w == needle)
}

/// Decodes hex digits (white space allowed, an odd last digit followed by an implied 0), as the
/// parser reads a hex string; `None` when anything else is there.
pub fn decode_hex(digits: &[u8]) -> Option<Vec<u8>> {
    hex_digits(digits).ok()
}

/// Parses one direct object from a byte string (for object streams and tests).
pub fn parse_direct(data: &[u8], pos: usize) -> Result<(Object, usize)> {
    let mut lx = Lexer::new(data, pos);
    let o = lx.object(0)?;
    Ok((o, lx.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_strings_with_and_without_white_space() {
        let read = |src: &[u8]| parse_direct(src, 0).map(|(o, _)| o);
        let plain = read(b"<4E6f>").unwrap();
        assert!(matches!(plain, Object::Str { ref bytes, hex: true } if bytes == b"No"));
        // White space anywhere, after the pairs have started, and an odd last digit.
        assert!(matches!(read(b"<4E 6\n f7>").unwrap(), Object::Str { ref bytes, .. } if bytes == &[0x4E, 0x6F, 0x70]));
        assert!(read(b"<4E6G>").is_err());
        assert!(read(b"<4E6f").is_err());
        assert_eq!(decode_hex(b"00ff 10"), Some(vec![0x00, 0xFF, 0x10]));
        assert_eq!(decode_hex(b"0>"), None);
    }

    #[test]
    fn parses_nested_objects() {
        let src = b"<</A 1 0 R/B[1 2.5 -3 (a\\(b\\)c) <48 49>]/C<</D true/E null>>/N#20x /Name>>";
        let (o, _) = parse_direct(src, 0).unwrap();
        let d = o.as_dict().unwrap();
        assert_eq!(d.get("A"), Some(&Object::Ref(Ref::new(1, 0))));
        let b = d.get("B").unwrap().as_array().unwrap();
        assert_eq!(b[0], Object::Int(1));
        assert_eq!(b[1], Object::Real(2.5));
        assert_eq!(b[2], Object::Int(-3));
        assert_eq!(b[3].as_bytes(), Some(&b"a(b)c"[..]));
        assert_eq!(b[4].as_bytes(), Some(&b"HI"[..]));
        assert_eq!(d.get("N x"), Some(&Object::name("Name")));
    }

    #[test]
    fn reads_streams_with_indirect_length_and_errors_on_garbage() {
        let src = b"7 0 obj\n<</Length 8 0 R>>\nstream\nabcdef\nendstream\nendobj\n";
        let mut lx = Lexer::new(src, 0);
        let (r, o) = lx.indirect(&|_| Some(6)).unwrap();
        assert_eq!(r, Ref::new(7, 0));
        assert!(matches!(o, Object::Stream(_, ref d) if d == b"abcdef"));
        let mut lx = Lexer::new(b"7 0 obj <</A (unterminated>> endobj", 0);
        assert!(lx.indirect(&|_| None).is_err());
        let mut lx = Lexer::new(b"<<<<<<", 0);
        assert!(lx.object(0).is_err());
    }
}
