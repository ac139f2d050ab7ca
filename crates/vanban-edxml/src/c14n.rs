//! A streaming XML canonicaliser (Canonical XML 1.0 inclusive, Exclusive XML Canonicalization
//! 1.0, with or without comments) over quick-xml events: it writes the canonical form as it reads,
//! so the digest of a whole package is computed without a DOM. It can omit one element (the
//! enveloped signature) and can canonicalise a subtree given its namespace context.

use std::io::Write;

use quick_xml::events::{BytesStart, Event};

use crate::error::EdxmlError;
use crate::xml::{self, Scope};

pub(crate) const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub(crate) const C14N_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub(crate) const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// Written by the VNPT library (and in the official samples) for exclusive c14n.
pub(crate) const EXC_C14N_VNPT: &str = "http://www.w3.org/TR/xml-exc-c14n#";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct C14nAlg {
    pub exclusive: bool,
    pub comments: bool,
    /// Exclusive c14n: the InclusiveNamespaces PrefixList ("#default" = "").
    pub inclusive_prefixes: Vec<String>,
}

impl C14nAlg {
    pub(crate) fn from_uri(uri: &str) -> Option<C14nAlg> {
        let (exclusive, comments) = match uri {
            C14N => (false, false),
            C14N_COMMENTS => (false, true),
            EXC_C14N | EXC_C14N_VNPT => (true, false),
            EXC_C14N_COMMENTS => (true, true),
            _ => return None,
        };
        Some(C14nAlg { exclusive, comments, inclusive_prefixes: Vec::new() })
    }
}

pub(crate) fn escape_text(s: &str, out: &mut Vec<u8>) {
    escape(s, out, |c| match c {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

pub(crate) fn escape_attr(s: &str, out: &mut Vec<u8>) {
    escape(s, out, |c| match c {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

/// Copies `s`, replacing the ASCII bytes `special` names; the runs between them (a package's
/// base64 attachments are one long run) are copied whole. A byte of a multi-byte UTF-8
/// character is never ASCII, so working on bytes keeps characters intact.
fn escape(s: &str, out: &mut Vec<u8>, special: impl Fn(u8) -> Option<&'static [u8]>) {
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if let Some(rep) = special(c) {
            out.extend_from_slice(&b[start..i]);
            out.extend_from_slice(rep);
            start = i + 1;
        }
    }
    out.extend_from_slice(&b[start..]);
}

/// Namespace bindings rendered on output ancestors, innermost last.
#[derive(Default)]
struct Rendered {
    decls: Vec<(String, String)>,
    frames: Vec<usize>,
}

impl Rendered {
    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.decls.iter().rev().find(|(p, _)| p == prefix).map(|(_, u)| u.as_str())
    }
}

#[derive(PartialEq)]
enum Where {
    Before,
    Inside,
    After,
}

/// Canonicalises `xml` (a document, or one element whose ancestors' namespace bindings are
/// `context`) into `out`. `omit` is the byte offset of the start tag of an element to leave
/// out with its subtree (the enveloped-signature transform).
pub(crate) fn canonicalize<W: Write>(
    xml: &[u8],
    alg: &C14nAlg,
    context: &Scope,
    omit: Option<u64>,
    out: &mut W,
) -> Result<(), EdxmlError> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut scope = context.clone();
    let mut rendered = Rendered::default();
    let mut depth = 0usize;
    let mut skipping = 0usize;
    let mut place = Where::Before;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml::malformed(xml, reader.error_position(), e))?;
        if skipping > 0 {
            match event {
                Event::Start(_) => skipping += 1,
                Event::End(_) => skipping -= 1,
                Event::Eof => return Err(xml::malformed(xml, pos, "unexpected end of file")),
                Event::DocType(_) => return Err(EdxmlError::DoctypeForbidden),
                _ => {}
            }
            continue;
        }
        match event {
            Event::DocType(_) => return Err(EdxmlError::DoctypeForbidden),
            Event::Decl(_) => {}
            Event::Start(ref s) | Event::Empty(ref s) => {
                let empty = matches!(event, Event::Empty(_));
                if omit == Some(pos) {
                    if !empty {
                        skipping = 1;
                    }
                    continue;
                }
                if depth >= xml::MAX_DEPTH {
                    return Err(xml::malformed(xml, pos, "elements nested too deeply"));
                }
                start_tag(s, alg, &mut scope, &mut rendered, &mut buf).map_err(|e| xml::malformed(xml, pos, e))?;
                depth += 1;
                place = Where::Inside;
                if empty {
                    end_tag(s.name().0, &mut scope, &mut rendered, &mut buf);
                    depth -= 1;
                    if depth == 0 {
                        place = Where::After;
                    }
                }
            }
            Event::End(e) => {
                if depth == 0 {
                    return Err(xml::malformed(xml, pos, "unexpected end tag"));
                }
                end_tag(e.name().0, &mut scope, &mut rendered, &mut buf);
                depth -= 1;
                if depth == 0 {
                    place = Where::After;
                }
            }
            Event::Text(t) => {
                if place == Where::Inside {
                    escape_text(&t.xml10_content(), &mut buf);
                }
            }
            Event::CData(t) => {
                if place == Where::Inside {
                    escape_text(&t.xml10_content(), &mut buf);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let value = xml::resolve_ref(&name)
                    .ok_or_else(|| xml::malformed(xml, pos, format!("undefined entity &{name};")))?;
                if place == Where::Inside {
                    escape_text(&value, &mut buf);
                }
            }
            Event::Comment(c) => {
                if alg.comments {
                    outside_prefix(&place, &mut buf);
                    buf.extend_from_slice(b"<!--");
                    buf.extend_from_slice(c.xml10_content().as_bytes());
                    buf.extend_from_slice(b"-->");
                    outside_suffix(&place, &mut buf);
                }
            }
            Event::PI(p) => {
                outside_prefix(&place, &mut buf);
                buf.extend_from_slice(b"<?");
                buf.extend_from_slice(p.target().as_bytes());
                let content = p.content().trim_start();
                if !content.is_empty() {
                    buf.push(b' ');
                    buf.extend_from_slice(content.replace("\r\n", "\n").as_bytes());
                }
                buf.extend_from_slice(b"?>");
                outside_suffix(&place, &mut buf);
            }
            Event::Eof => break,
        }
        if buf.len() >= 60 * 1024 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    if depth != 0 {
        return Err(xml::malformed(xml, xml.len() as u64, "unexpected end of file"));
    }
    out.write_all(&buf)?;
    Ok(())
}

fn outside_prefix(place: &Where, buf: &mut Vec<u8>) {
    if *place == Where::After {
        buf.push(b'\n');
    }
}

fn outside_suffix(place: &Where, buf: &mut Vec<u8>) {
    if *place == Where::Before {
        buf.push(b'\n');
    }
}

fn start_tag(
    s: &BytesStart<'_>,
    alg: &C14nAlg,
    scope: &mut Scope,
    rendered: &mut Rendered,
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    scope.push(s)?;
    let qname = s.name().0;
    // Ordinary attributes: (namespace URI, local name, qname, value).
    let mut attrs: Vec<(String, String, String, String)> = Vec::new();
    let mut used: Vec<String> = vec![qname.split_once(':').map_or("", |(p, _)| p).to_owned()];
    for a in s.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.0;
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
        let (uri, local) = match key.split_once(':') {
            Some((p, l)) => {
                used.push(p.to_owned());
                (scope.lookup(p).ok_or_else(|| format!("unbound prefix {p}"))?.to_owned(), l.to_owned())
            }
            None => (String::new(), key.to_owned()),
        };
        attrs.push((uri, local, key.to_owned(), value.into_owned()));
    }
    attrs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));

    let mut decls: Vec<(String, String)> = Vec::new();
    let consider = |p: &str, u: &str, decls: &mut Vec<(String, String)>| {
        if p == "xml" || decls.iter().any(|(q, _)| q == p) {
            return;
        }
        let shown = rendered.lookup(p);
        let render = if p.is_empty() && u.is_empty() { shown.is_some_and(|s| !s.is_empty()) } else { shown != Some(u) };
        if render {
            decls.push((p.to_owned(), u.to_owned()));
        }
    };
    if alg.exclusive {
        used.extend(alg.inclusive_prefixes.iter().filter(|p| p.is_empty() || scope.lookup(p).is_some()).cloned());
        for p in &used {
            let u = scope.lookup(p).unwrap_or("");
            if !p.is_empty() && u.is_empty() {
                return Err(format!("unbound prefix {p}"));
            }
            consider(p, u, &mut decls);
        }
    } else {
        for (p, u) in scope.in_scope() {
            consider(&p, &u, &mut decls);
        }
        if scope.lookup("").is_none() {
            consider("", "", &mut decls);
        }
    }
    decls.sort();
    rendered.frames.push(rendered.decls.len());
    rendered.decls.extend(decls.iter().cloned());

    buf.push(b'<');
    buf.extend_from_slice(qname.as_bytes());
    for (p, u) in &decls {
        if p.is_empty() {
            buf.extend_from_slice(b" xmlns=\"");
        } else {
            buf.extend_from_slice(b" xmlns:");
            buf.extend_from_slice(p.as_bytes());
            buf.extend_from_slice(b"=\"");
        }
        escape_attr(u, buf);
        buf.push(b'"');
    }
    for (_, _, q, v) in &attrs {
        buf.push(b' ');
        buf.extend_from_slice(q.as_bytes());
        buf.extend_from_slice(b"=\"");
        escape_attr(v, buf);
        buf.push(b'"');
    }
    buf.push(b'>');
    Ok(())
}

fn end_tag(qname: &str, scope: &mut Scope, rendered: &mut Rendered, buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"</");
    buf.extend_from_slice(qname.as_bytes());
    buf.push(b'>');
    scope.pop();
    if let Some(n) = rendered.frames.pop() {
        rendered.decls.truncate(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_the_special_bytes_and_keeps_characters_whole() {
        let mut out = Vec::new();
        escape_text("Số 15/QĐ-UBND & <Hỏa tốc> \"x\"\r\n\tđ", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "Số 15/QĐ-UBND &amp; &lt;Hỏa tốc&gt; \"x\"&#xD;\n\tđ");
        let mut out = Vec::new();
        escape_attr("a&b<c>\"d\"\t\n\rế", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a&amp;b&lt;c>&quot;d&quot;&#x9;&#xA;&#xD;ế");
        let mut out = Vec::new();
        escape_text("", &mut out);
        escape_text("&", &mut out);
        assert_eq!(out, b"&amp;");
    }
}
