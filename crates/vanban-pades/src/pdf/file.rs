//! A PDF file as a stack of revisions: each cross-reference section (and the bytes up to its
//! `%%EOF`) is one revision. Objects are looked up *as of* a revision, which is what signature
//! validation needs ("what did the file say when this signature was made, and what changed
//! after?").

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;

use super::object::{Dict, Object, Ref};
use super::parse::{Lexer, find, parse_direct, rfind};
use crate::error::{PadesError, Result};

/// Where an object lives according to one cross-reference section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    Free,
    InUse { offset: usize, generation: u16 },
    Compressed { stream: u32, index: u32 },
}

/// One cross-reference section and the revision it closes.
#[derive(Clone, Debug)]
pub struct Section {
    /// Offset of the `xref` keyword or of the cross-reference stream object.
    pub offset: usize,
    pub trailer: Dict,
    pub entries: BTreeMap<u32, Entry>,
    /// End of the revision: just after `%%EOF` and its end-of-line.
    pub end: usize,
    pub is_stream: bool,
}

/// A parsed PDF.
pub struct PdfFile<'a> {
    pub data: &'a [u8],
    /// Oldest first.
    pub sections: Vec<Section>,
    /// Objects already parsed, by the offset of their body (signing and validating walk the
    /// same form, pages and signature dictionaries many times: each is parsed once).
    objects: RefCell<HashMap<usize, (u32, Object)>>,
}

/// Most objects a cross-reference section may list (real documents have thousands).
const MAX_ENTRIES: u32 = 2_000_000;

fn malformed(s: impl Into<String>) -> PadesError {
    PadesError::Malformed(s.into())
}

impl<'a> PdfFile<'a> {
    pub fn parse(data: &'a [u8]) -> Result<PdfFile<'a>> {
        if !data.starts_with(b"%PDF-") {
            let head = data.get(..1024).unwrap_or(data);
            if find(head, b"%PDF-", 0).is_none() {
                return Err(PadesError::NotPdf);
            }
        }
        let tail_from = data.len().saturating_sub(2048);
        let sx = rfind(data, b"startxref", data.len())
            .filter(|&p| p >= tail_from)
            .ok_or_else(|| PadesError::Malformed("no startxref at the end of the file (truncated?)".to_owned()))?;
        let mut lx = Lexer::new(data, sx + 9);
        let mut next = Some(usize::try_from(lx.uint()?).map_err(|_| malformed("startxref"))?);
        let mut sections = Vec::new();
        let mut seen = HashSet::new();
        let mut total = 0usize;
        while let Some(off) = next {
            if !seen.insert(off) || sections.len() > 10_000 {
                return Err(malformed("cross-reference sections form a loop"));
            }
            if off >= data.len() {
                return Err(malformed(format!("cross-reference offset {off} is past the end of the file")));
            }
            let mut section = read_section(data, off)?;
            next = section.trailer.int("Prev").and_then(|p| usize::try_from(p).ok());
            // Hybrid files: a classic section may point to a stream with more entries.
            if let Some(xs) = section.trailer.int("XRefStm").and_then(|p| usize::try_from(p).ok())
                && xs < data.len()
                && let Ok(extra) = read_section(data, xs)
            {
                for (k, v) in extra.entries {
                    section.entries.entry(k).or_insert(v);
                }
            }
            total = total.saturating_add(section.entries.len());
            if total > 4 * MAX_ENTRIES as usize {
                return Err(malformed("too many objects across revisions"));
            }
            sections.push(section);
        }
        sections.reverse();
        // A revision ends after the %%EOF that follows its section.
        let ends: Vec<usize> = sections.iter().map(|s| revision_end(data, s.offset)).collect();
        for (s, e) in sections.iter_mut().zip(ends) {
            s.end = e;
        }
        sections.sort_by_key(|s| s.end);
        Ok(PdfFile { data, sections, objects: RefCell::default() })
    }

    /// The number of revisions.
    pub fn revisions(&self) -> usize {
        self.sections.len()
    }

    /// The trailer of the latest revision (merged with older trailers for missing keys).
    pub fn trailer(&self) -> &Dict {
        &self.sections[self.sections.len() - 1].trailer
    }

    /// The entry of an object as of revision `rev`.
    pub fn entry_at(&self, num: u32, rev: usize) -> Option<Entry> {
        self.sections[..=rev.min(self.sections.len() - 1)].iter().rev().find_map(|s| s.entries.get(&num).copied())
    }

    /// The object as of revision `rev` (`None` when missing or free).
    pub fn get_at(&self, r: Ref, rev: usize) -> Result<Option<Object>> {
        self.get_entry(r.num, self.entry_at(r.num, rev), 0)
    }

    /// The object in the latest revision.
    pub fn get(&self, r: Ref) -> Result<Option<Object>> {
        self.get_at(r, self.sections.len() - 1)
    }

    fn get_entry(&self, num: u32, entry: Option<Entry>, depth: usize) -> Result<Option<Object>> {
        match entry {
            None | Some(Entry::Free) => Ok(None),
            Some(Entry::InUse { offset, .. }) => {
                if offset >= self.data.len() {
                    return Err(malformed(format!("object {num} points past the end of the file")));
                }
                if let Some((found, o)) = self.objects.borrow().get(&offset) {
                    if *found != num {
                        return Err(malformed(format!("object {num} expected at {offset}, found {found}")));
                    }
                    return Ok(Some(o.clone()));
                }
                let mut lx = Lexer::new(self.data, offset);
                let resolve = |lr: Ref| -> Option<usize> {
                    if depth > 2 {
                        return None;
                    }
                    match self.get_entry(lr.num, self.entry_at(lr.num, self.sections.len() - 1), depth + 1) {
                        Ok(Some(Object::Int(n))) => usize::try_from(n).ok(),
                        _ => None,
                    }
                };
                let (found, obj) = lx.indirect(&resolve)?;
                if found.num != num {
                    return Err(malformed(format!("object {num} expected at {offset}, found {}", found.num)));
                }
                self.objects.borrow_mut().insert(offset, (num, obj.clone()));
                Ok(Some(obj))
            }
            Some(Entry::Compressed { stream, index }) => {
                if depth > 2 {
                    return Err(malformed("nested object streams"));
                }
                let Some(Object::Stream(d, raw)) =
                    self.get_entry(stream, self.entry_at(stream, self.sections.len() - 1), depth + 1)?
                else {
                    return Err(malformed(format!("object stream {stream} is missing")));
                };
                let data = decode_stream(&d, &raw)?;
                let n = d.int("N").unwrap_or(0).max(0) as usize;
                let first = d.int("First").unwrap_or(0).max(0) as usize;
                let mut lx = Lexer::new(&data, 0);
                let mut offs = Vec::with_capacity(n.min(100_000));
                for _ in 0..n.min(100_000) {
                    let on = lx.uint()?;
                    let oo = lx.uint()? as usize;
                    offs.push((on, oo));
                }
                let (on, oo) = offs.get(index as usize).copied().ok_or_else(|| malformed("object stream index"))?;
                if on != u64::from(num) {
                    return Err(malformed(format!("object {num} not at its object stream index")));
                }
                let (o, _) = parse_direct(&data, first + oo)?;
                Ok(Some(o))
            }
        }
    }

    /// Follows a reference (if it is one) in the latest revision.
    pub fn resolve(&self, o: &Object) -> Result<Object> {
        self.resolve_at(o, self.sections.len() - 1)
    }

    pub fn resolve_at(&self, o: &Object, rev: usize) -> Result<Object> {
        match o {
            Object::Ref(r) => Ok(self.get_at(*r, rev)?.unwrap_or(Object::Null)),
            other => Ok(other.clone()),
        }
    }

    /// The document catalog as of `rev`, with its reference.
    pub fn catalog_at(&self, rev: usize) -> Result<(Ref, Dict)> {
        let r = self.sections[..=rev]
            .iter()
            .rev()
            .find_map(|s| s.trailer.get("Root").and_then(Object::as_ref))
            .ok_or_else(|| malformed("no /Root in the trailer"))?;
        match self.get_at(r, rev)? {
            Some(Object::Dict(d)) => Ok((r, d)),
            _ => Err(malformed("the catalog is missing")),
        }
    }

    /// The highest object number in use + 1 (the next free number), from /Size.
    pub fn size(&self) -> u32 {
        let from_trailer = self.trailer().int("Size").unwrap_or(0).max(0) as u32;
        let from_entries =
            self.sections.iter().filter_map(|s| s.entries.keys().next_back()).max().copied().unwrap_or(0);
        from_trailer.max(from_entries + 1)
    }

    /// Page object references in order, as of `rev`.
    pub fn pages_at(&self, rev: usize) -> Result<Vec<Ref>> {
        let (_, cat) = self.catalog_at(rev)?;
        let root = cat.get("Pages").and_then(Object::as_ref).ok_or_else(|| malformed("no /Pages"))?;
        let mut out = Vec::new();
        let mut stack = vec![root];
        let mut seen = HashSet::new();
        while let Some(r) = stack.pop() {
            if !seen.insert(r) || seen.len() > 100_000 {
                return Err(malformed("page tree loop"));
            }
            let Some(o) = self.get_at(r, rev)? else { continue };
            let Some(d) = o.as_dict() else { continue };
            if d.name("Type") == Some(b"Page") || !d.contains("Kids") {
                out.push(r);
            } else if let Some(kids) = d.get("Kids") {
                let kids = self.resolve_at(kids, rev)?;
                for k in kids.as_array().unwrap_or(&[]).iter().rev() {
                    if let Some(kr) = k.as_ref() {
                        stack.push(kr);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn revision_end(data: &[u8], section_offset: usize) -> usize {
    match find(data, b"%%EOF", section_offset) {
        Some(p) => {
            let mut e = p + 5;
            if data.get(e) == Some(&b'\r') {
                e += 1;
            }
            if data.get(e) == Some(&b'\n') {
                e += 1;
            }
            e
        }
        None => data.len(),
    }
}

fn read_section(data: &[u8], off: usize) -> Result<Section> {
    let mut lx = Lexer::new(data, off);
    if lx.eat(b"xref") {
        let mut entries = BTreeMap::new();
        loop {
            lx.skip_ws();
            if lx.eat(b"trailer") {
                break;
            }
            let start = u32::try_from(lx.uint()?).map_err(|_| malformed("object number too large"))?;
            let count = u32::try_from(lx.uint()?).map_err(|_| malformed("subsection too large"))?;
            if count > MAX_ENTRIES || start.checked_add(count).is_none() {
                return Err(malformed("cross-reference subsection too large"));
            }
            for i in 0..count {
                let o = lx.uint()? as usize;
                let g = lx.uint()? as u16;
                lx.skip_ws();
                let kind = data.get(lx.pos).copied();
                lx.pos += 1;
                let e = match kind {
                    Some(b'n') => Entry::InUse { offset: o, generation: g },
                    Some(b'f') => Entry::Free,
                    _ => return Err(malformed(format!("bad cross-reference entry at {}", lx.pos))),
                };
                // Object 0 is always free; skip it so lookups never see it. A number listed
                // twice is refused: readers disagree on which entry wins.
                if start + i != 0 && entries.insert(start + i, e).is_some() {
                    return Err(malformed(format!(
                        "object {} is listed twice in one cross-reference section",
                        start + i
                    )));
                }
            }
        }
        let trailer = match lx.object(0)? {
            Object::Dict(d) => d,
            _ => return Err(malformed("bad trailer")),
        };
        Ok(Section { offset: off, trailer, entries, end: 0, is_stream: false })
    } else {
        let (_, obj) = lx.indirect(&|_| None)?;
        let Object::Stream(d, raw) = obj else {
            return Err(malformed(format!("no cross-reference at offset {off}")));
        };
        if d.name("Type") != Some(b"XRef") {
            return Err(malformed(format!("no cross-reference at offset {off}")));
        }
        let body = decode_stream(&d, &raw)?;
        let w: Vec<usize> = d
            .get("W")
            .and_then(Object::as_array)
            .ok_or_else(|| malformed("xref stream without /W"))?
            .iter()
            .map(|x| x.as_int().unwrap_or(0).clamp(0, 8) as usize)
            .collect();
        if w.len() != 3 {
            return Err(malformed("xref stream /W"));
        }
        let size = d.int("Size").unwrap_or(0).max(0);
        let index: Vec<i64> = match d.get("Index").and_then(Object::as_array) {
            Some(a) => a.iter().filter_map(Object::as_int).collect(),
            None => vec![0, size],
        };
        let row = w[0] + w[1] + w[2];
        if row == 0 {
            return Err(malformed("xref stream /W"));
        }
        let mut entries = BTreeMap::new();
        let mut rows = body.chunks_exact(row);
        for pair in index.chunks_exact(2) {
            let (first, count) = (pair[0], pair[1]);
            if first < 0
                || !(0..=i64::from(MAX_ENTRIES)).contains(&count)
                || first.checked_add(count).is_none_or(|e| e > i64::from(u32::MAX))
            {
                return Err(malformed("xref stream /Index"));
            }
            for num in first..first + count {
                let Some(r) = rows.next() else { break };
                let field = |i: usize| -> u64 {
                    let s = w[..i].iter().sum::<usize>();
                    r[s..s + w[i]].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b))
                };
                let t = if w[0] == 0 { 1 } else { field(0) };
                let e = match t {
                    0 => Entry::Free,
                    1 => Entry::InUse { offset: field(1) as usize, generation: field(2) as u16 },
                    2 => Entry::Compressed { stream: field(1) as u32, index: field(2) as u32 },
                    _ => continue,
                };
                if num > 0 && entries.insert(num as u32, e).is_some() {
                    return Err(malformed(format!("object {num} is listed twice in one cross-reference stream")));
                }
                if entries.len() > MAX_ENTRIES as usize {
                    return Err(malformed("too many objects"));
                }
            }
        }
        Ok(Section { offset: off, trailer: d, entries, end: 0, is_stream: true })
    }
}

/// Decodes a stream's data (FlateDecode with PNG predictors, or no filter).
pub fn decode_stream(d: &Dict, raw: &[u8]) -> Result<Vec<u8>> {
    let filters: Vec<Vec<u8>> = match d.get("Filter") {
        None => Vec::new(),
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(a)) => a.iter().filter_map(|f| f.as_name().map(<[u8]>::to_vec)).collect(),
        Some(_) => return Err(malformed("bad /Filter")),
    };
    let mut data = raw.to_vec();
    for f in filters {
        match f.as_slice() {
            b"FlateDecode" | b"Fl" => {
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(&data[..])
                    .take(256 * 1024 * 1024)
                    .read_to_end(&mut out)
                    .map_err(|e| malformed(format!("bad compressed stream: {e}")))?;
                data = out;
                if let Some(parms) = d.get("DecodeParms").and_then(Object::as_dict) {
                    let predictor = parms.int("Predictor").unwrap_or(1);
                    if predictor >= 10 {
                        let cols = parms.int("Columns").unwrap_or(1);
                        if !(1..=65_536).contains(&cols) {
                            return Err(malformed("bad /Columns"));
                        }
                        let cols = cols as usize;
                        data = png_unpredict(&data, cols)?;
                    }
                }
            }
            other => {
                return Err(PadesError::Unsupported(format!("stream filter {}", String::from_utf8_lossy(other))));
            }
        }
    }
    Ok(data)
}

fn png_unpredict(data: &[u8], cols: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; cols];
    for row in data.chunks(cols + 1) {
        if row.len() < cols + 1 {
            break;
        }
        let (t, r) = (row[0], &row[1..]);
        let mut cur = vec![0u8; cols];
        for i in 0..cols {
            let left = if i > 0 { cur[i - 1] } else { 0 };
            let up = prev[i];
            let ul = if i > 0 { prev[i - 1] } else { 0 };
            cur[i] = match t {
                0 => r[i],
                1 => r[i].wrapping_add(left),
                2 => r[i].wrapping_add(up),
                3 => r[i].wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => {
                    let p = i16::from(left) + i16::from(up) - i16::from(ul);
                    let (pa, pb, pc) =
                        ((p - i16::from(left)).abs(), (p - i16::from(up)).abs(), (p - i16::from(ul)).abs());
                    let pred = if pa <= pb && pa <= pc {
                        left
                    } else if pb <= pc {
                        up
                    } else {
                        ul
                    };
                    r[i].wrapping_add(pred)
                }
                _ => return Err(malformed("bad PNG predictor")),
            };
        }
        out.extend_from_slice(&cur);
        prev = cur;
    }
    Ok(out)
}
