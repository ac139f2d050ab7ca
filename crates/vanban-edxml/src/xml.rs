//! Reading XML: junk stripping, positions, namespaces, references, and a small element tree of the
//! package in which attachment contents are decoded from base64 as they are read.

use std::borrow::Cow;

use base64::Engine as _;
use quick_xml::events::{BytesStart, Event};
use unicode_normalization::UnicodeNormalization;

use crate::error::EdxmlError;
use crate::model::Warning;

pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Deeper nesting than this is refused (the package is 6 levels deep).
pub(crate) const MAX_DEPTH: usize = 64;

/// Skips a UTF-8 BOM, whitespace and any junk before the first '<'. Returns the XML bytes, the
/// offset skipped and a warning when there was junk (not just a BOM or whitespace).
pub(crate) fn strip_junk(bytes: &[u8]) -> Result<(&[u8], usize, Option<Warning>), EdxmlError> {
    let Some(start) = bytes.iter().position(|&b| b == b'<') else {
        return Err(EdxmlError::NotXml("no '<' found".to_owned()));
    };
    let prefix = &bytes[..start];
    let prefix = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let warning = if prefix.iter().all(|b| b.is_ascii_whitespace()) {
        None
    } else {
        let shown = String::from_utf8_lossy(&prefix[..prefix.len().min(32)]).into_owned();
        Some(Warning::new(
            "edXML",
            "leading_junk",
            format!("{} byte(s) before the XML declaration were ignored ({shown:?})", prefix.len()),
        ))
    };
    Ok((&bytes[start..], start, warning))
}

/// "line L, column C (byte B)" of a byte offset.
pub(crate) fn position(bytes: &[u8], pos: u64) -> String {
    let pos = (pos as usize).min(bytes.len());
    let before = &bytes[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = pos - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
    format!("line {line}, column {col} (byte {pos})")
}

pub(crate) fn malformed(bytes: &[u8], pos: u64, what: impl std::fmt::Display) -> EdxmlError {
    EdxmlError::Malformed(format!("{what} at {}", position(bytes, pos)))
}

/// A predefined entity or character reference (`amp`, `#x41`); None for anything else.
pub(crate) fn resolve_ref(name: &str) -> Option<String> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            let c = char::from_u32(code)?;
            if c == '\0' {
                return None;
            }
            c
        }
    };
    Some(c.to_string())
}

/// Namespace declarations in scope, innermost last.
#[derive(Default, Clone, Debug)]
pub(crate) struct Scope {
    decls: Vec<(String, String)>,
    frames: Vec<usize>,
}

impl Scope {
    /// Enters an element: records its `xmlns` / `xmlns:p` attributes.
    pub(crate) fn push(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        self.frames.push(self.decls.len());
        for attr in start.attributes() {
            let attr = attr.map_err(|e| e.to_string())?;
            let key = attr.key.0;
            let prefix = if key == "xmlns" {
                ""
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                p
            } else {
                continue;
            };
            let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
            self.decls.push((prefix.to_owned(), value.into_owned()));
        }
        Ok(())
    }

    pub(crate) fn pop(&mut self) {
        if let Some(n) = self.frames.pop() {
            self.decls.truncate(n);
        }
    }

    /// The URI bound to a prefix ("" = default namespace; an empty URI = no namespace).
    pub(crate) fn lookup(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        self.decls.iter().rev().find(|(p, _)| p == prefix).map(|(_, u)| u.as_str()).filter(|u| !u.is_empty())
    }

    /// Every binding in scope (innermost wins), sorted by prefix; the default namespace only if
    /// non-empty.
    pub(crate) fn in_scope(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (p, u) in self.decls.iter().rev() {
            if !out.iter().any(|(q, _)| q == p) {
                out.push((p.clone(), u.clone()));
            }
        }
        out.retain(|(p, u)| !(p.is_empty() && u.is_empty()));
        out.sort();
        out
    }

    /// The namespace of an element name.
    pub(crate) fn element_ns(&self, qname: &str) -> Option<String> {
        let prefix = qname.split_once(':').map_or("", |(p, _)| p);
        self.lookup(prefix).map(str::to_owned)
    }
}

pub(crate) fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l)
}

/// A small element tree: names, attributes, the concatenated text of direct text children (NFC),
/// and for `ContentTransferEncoded` the decoded bytes instead of the text.
#[derive(Debug, Default)]
pub(crate) struct El {
    pub ns: Option<String>,
    pub local: String,
    /// (namespace, local name, value).
    pub attrs: Vec<(Option<String>, String, String)>,
    pub children: Vec<El>,
    pub text: String,
    /// Decoded base64 content; Err when it is not valid base64.
    pub data: Option<Result<Vec<u8>, ()>>,
}

impl El {
    pub(crate) fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.local == name)
    }

    /// The first child with any of the names (tolerated spellings).
    pub(crate) fn child_any(&self, names: &[&str]) -> Option<&El> {
        self.children.iter().find(|c| names.contains(&c.local.as_str()))
    }

    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.local == name)
    }

    /// The trimmed text of a child, "" when absent.
    pub(crate) fn text_of(&self, name: &str) -> String {
        self.child(name).map(|c| c.text.trim().to_owned()).unwrap_or_default()
    }

    pub(crate) fn text_of_any(&self, names: &[&str]) -> String {
        self.child_any(names).map(|c| c.text.trim().to_owned()).unwrap_or_default()
    }

    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs.iter().find(|(_, l, _)| l == local).map(|(_, _, v)| v.as_str())
    }
}

/// Incremental base64 decoding of text chunks (whitespace ignored).
struct B64 {
    pending: Vec<u8>,
    out: Vec<u8>,
    failed: bool,
}

impl B64 {
    fn new() -> B64 {
        B64 { pending: Vec::new(), out: Vec::new(), failed: false }
    }

    fn feed(&mut self, text: &str) {
        if self.failed {
            return;
        }
        self.pending.extend(text.bytes().filter(|b| !b.is_ascii_whitespace()));
        if self.pending.len() >= 64 * 1024 {
            // Keep the last quartet (which may carry padding) for `finish`.
            let n = (self.pending.len() - 4) / 4 * 4;
            let chunk: Vec<u8> = self.pending.drain(..n).collect();
            // Padding can only end the data.
            if chunk.contains(&b'=')
                || base64::engine::general_purpose::STANDARD.decode_vec(&chunk, &mut self.out).is_err()
            {
                self.failed = true;
            }
        }
    }

    fn finish(mut self) -> Result<Vec<u8>, ()> {
        if self.failed {
            return Err(());
        }
        base64::engine::general_purpose::STANDARD.decode_vec(&self.pending, &mut self.out).map_err(|_| ())?;
        Ok(self.out)
    }
}

fn nfc(s: &str) -> Cow<'_, str> {
    if unicode_normalization::is_nfc(s) { Cow::Borrowed(s) } else { Cow::Owned(s.nfc().collect()) }
}

/// Parses the whole document into an [`El`] tree. `xml` starts at the first '<'. Refuses
/// DOCTYPE, undefined entities, truncation and excessive depth.
pub(crate) fn parse_tree(xml: &[u8]) -> Result<El, EdxmlError> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut scope = Scope::default();
    let mut stack: Vec<(El, Option<B64>)> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| malformed(xml, reader.error_position(), e))?;
        match event {
            Event::DocType(_) => return Err(EdxmlError::DoctypeForbidden),
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(malformed(xml, pos, "content after the document element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed(xml, pos, "elements nested too deeply"));
                }
                scope.push(s).map_err(|e| malformed(xml, pos, e))?;
                let qname = s.name().0.to_owned();
                let mut el = El { ns: scope.element_ns(&qname), local: local(&qname).to_owned(), ..El::default() };
                for attr in s.attributes() {
                    let attr = attr.map_err(|e| malformed(xml, pos, e))?;
                    let key = attr.key.0;
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| malformed(xml, pos, e))?;
                    let ns = key.split_once(':').and_then(|(p, _)| scope.lookup(p)).map(str::to_owned);
                    el.attrs.push((ns, local(key).to_owned(), nfc(&value).into_owned()));
                }
                let b64 = (el.local == "ContentTransferEncoded").then(B64::new);
                stack.push((el, b64));
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, &mut scope);
                }
            }
            Event::End(_) => close(&mut stack, &mut root, &mut scope),
            Event::Text(t) => {
                if let Some((el, b64)) = stack.last_mut() {
                    let content = t.xml10_content();
                    match b64 {
                        Some(b) => b.feed(&content),
                        None => el.text.push_str(&content),
                    }
                } else if !t.xml10_content().trim().is_empty() {
                    return Err(malformed(xml, pos, "text outside the document element"));
                }
            }
            Event::CData(t) => {
                if let Some((el, b64)) = stack.last_mut() {
                    let content = t.xml10_content();
                    match b64 {
                        Some(b) => b.feed(&content),
                        None => el.text.push_str(&content),
                    }
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let Some(value) = resolve_ref(&name) else {
                    return Err(malformed(xml, pos, format!("undefined entity &{name};")));
                };
                if let Some((el, b64)) = stack.last_mut() {
                    match b64 {
                        Some(b) => b.feed(&value),
                        None => el.text.push_str(&value),
                    }
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed(
            xml,
            xml.len() as u64,
            format!("unexpected end of file inside <{}>", stack.last().map_or("", |(e, _)| e.local.as_str())),
        ));
    }
    let root = root.ok_or_else(|| EdxmlError::NotXml("no document element".to_owned()))?;
    Ok(root)
}

fn close(stack: &mut Vec<(El, Option<B64>)>, root: &mut Option<El>, scope: &mut Scope) {
    scope.pop();
    let Some((mut el, b64)) = stack.pop() else { return };
    if let Some(b) = b64 {
        el.data = Some(b.finish());
    } else {
        el.text = nfc(&el.text).into_owned();
    }
    match stack.last_mut() {
        Some((parent, _)) => parent.children.push(el),
        None => *root = Some(el),
    }
}
