//! Two-phase PAdES signing: [`prepare`] appends the signature revision with a placeholder of
//! exactly the reserved size and returns the digest of its byte ranges; the signature value
//! comes back from wherever the key lives; [`Prepared::embed`] writes the CMS into the hole.
//! Nothing before the new revision is ever rewritten.

use chrono::{DateTime, FixedOffset, Utc};
use sha2::{Digest, Sha256};
use vanban_pki::{Cert, KeyAlgorithm, RawSigner, SignedAttrs, assemble_signed_data, signed_data_len_max};

use crate::appearance::{Align, EmbeddedFont, Image, image_appearance, text_appearance};
use crate::error::{PadesError, Result};
use crate::font::Font;
use crate::pdf::{Dict, Object, PdfFile, Ref, Update};

/// Files larger than this are refused before parsing.
pub const MAX_PDF_BYTES: usize = 200 * 1024 * 1024;

/// What the signature shows.
#[derive(Clone, Debug)]
pub enum Visual {
    /// The signer's handwritten signature (blue PNG, transparent), fitted in the field.
    SignerImage(Image),
    /// The agency seal (red PNG, transparent) at the field's size: the layout puts the agency
    /// field at the seal's real size over the left third of the signer's box.
    Seal(Image),
    /// Text only, no image, at the top right of page 1 (appendices in separate files and
    /// electronic copies; Times New Roman 10 pt, black). A new field is created.
    Stamp { lines: Vec<String> },
    /// No appearance (a new zero-size field when the named one does not exist).
    Invisible,
}

/// What to sign and how.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// The signature field (e.g. `vb_signature_signer`); created when missing and the visual
    /// is a stamp or invisible.
    pub field: String,
    pub visual: Visual,
    /// Make this a certification signature with DocMDP P=2 (form filling and signing stay
    /// permitted). Only for the first signature in the file.
    pub certify: bool,
    /// Text fields filled in the same revision (number, day, month), with appearances.
    pub fill: Vec<(String, String)>,
    pub time: DateTime<Utc>,
    pub name: Option<String>,
    pub reason: Option<String>,
    pub location: Option<String>,
    /// The font for filled fields and stamps.
    pub font: Option<Font>,
}

impl SignOptions {
    pub fn new(field: &str, visual: Visual, time: DateTime<Utc>) -> SignOptions {
        SignOptions {
            field: field.to_owned(),
            visual,
            certify: false,
            fill: Vec::new(),
            time,
            name: None,
            reason: None,
            location: None,
            font: None,
        }
    }
}

/// Vietnam time (UTC+07:00).
pub fn vn_offset() -> FixedOffset {
    use chrono::Offset as _;
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `D:YYYYMMDDHHmmSS+07'00'` in Vietnam time.
pub fn pdf_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn_offset()).format("D:%Y%m%d%H%M%S+07'00'").to_string()
}

/// ISO 8601 with the Vietnam offset, as the agency stamp prints it.
pub fn iso_vn(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn_offset()).format("%Y-%m-%dT%H:%M:%S+07:00").to_string()
}

/// A revision with a placeholder, waiting for its signature value.
#[derive(Clone, Debug)]
pub struct Prepared {
    pdf: Vec<u8>,
    /// Offsets of the hex digits inside `<…>`.
    hole: (usize, usize),
    pub byte_range: [usize; 4],
    pub digest: [u8; 32],
}

impl Prepared {
    /// The prepared file (store it between the two phases).
    pub fn pdf(&self) -> &[u8] {
        &self.pdf
    }

    /// The capacity of the placeholder in bytes.
    pub fn capacity(&self) -> usize {
        (self.hole.1 - self.hole.0) / 2
    }

    /// Finds the placeholder of the last revision in a prepared file read back from storage:
    /// the last `/ByteRange` whose ranges cover the whole file around an all-zero hole.
    pub fn from_pdf(pdf: Vec<u8>) -> Result<Prepared> {
        let mut before = pdf.len();
        while let Some(at) = crate::pdf::parse::rfind(&pdf, b"/ByteRange", before) {
            before = at;
            if let Some(br) = Self::placeholder_at(&pdf, at) {
                let digest = range_digest(&pdf, &br);
                return Ok(Prepared { hole: (br[1] + 1, br[2] - 1), byte_range: br, digest, pdf });
            }
        }
        Err(PadesError::PreparedMismatch)
    }

    fn placeholder_at(pdf: &[u8], at: usize) -> Option<[usize; 4]> {
        let (arr, _) = crate::pdf::parse::parse_direct(pdf, at + 10).ok()?;
        let br: Vec<usize> =
            arr.as_array()?.iter().filter_map(|v| v.as_int().and_then(|i| usize::try_from(i).ok())).collect();
        let [a, b, c, d] = br[..] else { return None };
        let whole = a == 0 && c.checked_add(d) == Some(pdf.len()) && b + 2 <= c;
        let hole = whole && pdf.get(b) == Some(&b'<') && pdf.get(c - 1) == Some(&b'>');
        (hole && pdf[b + 1..c - 1].iter().all(|&x| x == b'0')).then_some([a, b, c, d])
    }

    /// Writes `contents` (a DER CMS or timestamp token) into the placeholder.
    pub fn embed(mut self, contents: &[u8]) -> Result<Vec<u8>> {
        let have = self.capacity();
        if contents.len() > have {
            return Err(PadesError::PlaceholderTooSmall { need: contents.len(), have });
        }
        // Upper-case hexadecimal straight into the hole (`hex::encode_upper` took 8 ns a byte).
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        let hole = &mut self.pdf[self.hole.0..self.hole.0 + 2 * contents.len()];
        for (pair, b) in hole.chunks_exact_mut(2).zip(contents) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0x0f)];
        }
        Ok(self.pdf)
    }
}

fn range_digest(pdf: &[u8], br: &[usize; 4]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&pdf[br[0]..br[0] + br[1]]);
    h.update(&pdf[br[2]..br[2] + br[3]]);
    h.finalize().into()
}

/// A form field found in the AcroForm.
#[derive(Clone, Debug)]
pub struct Field {
    pub r: Ref,
    pub dict: Dict,
    pub name: String,
    pub rect: [f64; 4],
}

impl Field {
    pub fn width(&self) -> f64 {
        (self.rect[2] - self.rect[0]).abs()
    }
    pub fn height(&self) -> f64 {
        (self.rect[3] - self.rect[1]).abs()
    }
}

/// The AcroForm as of the latest revision: where it lives (its own object, or inline in the
/// catalog) and its dictionary.
fn acroform(file: &PdfFile<'_>) -> Result<(Option<Ref>, Dict)> {
    let (_, cat) = file.catalog_at(file.revisions() - 1)?;
    match cat.get("AcroForm") {
        Some(Object::Ref(r)) => match file.get(*r)? {
            Some(Object::Dict(d)) => Ok((Some(*r), d)),
            _ => Ok((Some(*r), Dict::new())),
        },
        Some(Object::Dict(d)) => Ok((None, d.clone())),
        _ => Ok((None, Dict::new())),
    }
}

/// Every terminal field with its full name.
pub fn fields(file: &PdfFile<'_>, rev: usize) -> Result<Vec<Field>> {
    let (_, cat) = file.catalog_at(rev)?;
    let form = match cat.get("AcroForm") {
        Some(o) => file.resolve_at(o, rev)?,
        None => return Ok(Vec::new()),
    };
    let Some(form) = form.as_dict() else { return Ok(Vec::new()) };
    let top = match form.get("Fields") {
        Some(o) => file.resolve_at(o, rev)?,
        None => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    let mut stack: Vec<(Ref, String, usize)> =
        top.as_array().unwrap_or(&[]).iter().rev().filter_map(|o| o.as_ref()).map(|r| (r, String::new(), 0)).collect();
    let mut visited = std::collections::HashSet::new();
    while let Some((r, prefix, depth)) = stack.pop() {
        if depth > 32 || out.len() > 10_000 || visited.len() > 100_000 {
            break;
        }
        if !visited.insert(r) {
            continue;
        }
        let Some(Object::Dict(d)) = file.get_at(r, rev)? else { continue };
        let part = d.get("T").and_then(Object::as_text).unwrap_or_default();
        let name = match (prefix.is_empty(), part.is_empty()) {
            (true, _) => part,
            (false, true) => prefix.clone(),
            (false, false) => format!("{prefix}.{part}"),
        };
        let kids: Vec<Ref> = match d.get("Kids") {
            Some(k) => file.resolve_at(k, rev)?.as_array().unwrap_or(&[]).iter().filter_map(Object::as_ref).collect(),
            None => Vec::new(),
        };
        // Kids that are widgets only (no /T) belong to this field; take the field itself.
        let field_kids: Vec<Ref> = kids
            .iter()
            .copied()
            .filter(|k| matches!(file.get_at(*k, rev), Ok(Some(Object::Dict(kd))) if kd.contains("T")))
            .collect();
        if field_kids.is_empty() {
            let rect = rect_of(&d);
            out.push(Field { r, dict: d, name, rect });
        } else {
            for k in field_kids.into_iter().rev() {
                stack.push((k, name.clone(), depth + 1));
            }
        }
    }
    Ok(out)
}

fn rect_of(d: &Dict) -> [f64; 4] {
    let v: Vec<f64> =
        d.get("Rect").and_then(Object::as_array).unwrap_or(&[]).iter().filter_map(Object::as_f64).collect();
    match v[..] {
        [a, b, c, e] => [a.min(c), b.min(e), a.max(c), b.max(e)],
        _ => [0.0; 4],
    }
}

/// The field type, inherited through /Parent when needed.
pub fn field_type(file: &PdfFile<'_>, f: &Field, rev: usize) -> Option<Vec<u8>> {
    if let Some(t) = f.dict.name("FT") {
        return Some(t.to_vec());
    }
    let p = f.dict.get("Parent")?.as_ref()?;
    let pd = file.get_at(p, rev).ok()??;
    pd.as_dict()?.name("FT").map(<[u8]>::to_vec)
}

/// The DocMDP permission level of the file's certification signature, if any.
pub fn docmdp_level(file: &PdfFile<'_>) -> Result<Option<i64>> {
    let (_, cat) = file.catalog_at(file.revisions() - 1)?;
    let Some(perms) = cat.get("Perms") else { return Ok(None) };
    let perms = file.resolve(perms)?;
    let Some(sig) = perms.as_dict().and_then(|p| p.get("DocMDP")) else { return Ok(None) };
    let sig = file.resolve(sig)?;
    let refs = match sig.as_dict().and_then(|s| s.get("Reference")) {
        Some(r) => file.resolve(r)?,
        None => return Ok(Some(2)),
    };
    for r in refs.as_array().unwrap_or(&[]) {
        let r = file.resolve(r)?;
        let Some(rd) = r.as_dict() else { continue };
        if rd.name("TransformMethod") == Some(b"DocMDP") {
            let params = match rd.get("TransformParams") {
                Some(p) => file.resolve(p)?,
                None => return Ok(Some(2)),
            };
            return Ok(Some(params.as_dict().and_then(|p| p.int("P")).unwrap_or(2)));
        }
    }
    Ok(Some(2))
}

/// Appends the signature revision (appearance, filled fields, signature dictionary with a
/// zeroed placeholder of `reserve` bytes) and returns the digest to sign.
pub fn prepare(pdf: &[u8], opts: &SignOptions, reserve: usize) -> Result<Prepared> {
    prepare_kind(pdf, opts, reserve, false)
}

fn prepare_kind(pdf: &[u8], opts: &SignOptions, reserve: usize, doc_timestamp: bool) -> Result<Prepared> {
    if pdf.len() > MAX_PDF_BYTES {
        return Err(PadesError::TooLarge { size: pdf.len(), limit: MAX_PDF_BYTES });
    }
    let file = PdfFile::parse(pdf)?;
    if file.trailer().contains("Encrypt") {
        return Err(PadesError::Encrypted);
    }
    if docmdp_level(&file)? == Some(1) {
        return Err(PadesError::NoChangesPermitted);
    }
    let last = file.revisions() - 1;
    let all = fields(&file, last)?;
    let mut up = Update::new(&file);
    let (form_ref, mut form) = acroform(&file)?;
    let mut form_changed = false;

    // One font subset for every text this revision shows (filled fields, a stamp).
    let mut texts: Vec<&str> = opts.fill.iter().map(|(_, v)| v.as_str()).collect();
    if let Visual::Stamp { lines } = &opts.visual {
        texts.extend(lines.iter().map(String::as_str));
    }
    let mut embedded = match (texts.is_empty(), &opts.font) {
        (true, _) => None,
        (false, Some(font)) => Some(EmbeddedFont::new(&mut up, font, &texts)?),
        (false, None) => return Err(PadesError::Font("no font for filled fields or the stamp".into())),
    };

    // Filled text fields.
    for (name, value) in &opts.fill {
        let f = all.iter().find(|f| &f.name == name).ok_or_else(|| PadesError::FieldNotFound(name.clone()))?;
        let ef = embedded.as_mut().ok_or_else(|| PadesError::Font("no font for filled fields".into()))?;
        let size = da_size(&f.dict).unwrap_or(13.0);
        let ap = text_appearance(&mut up, ef, std::slice::from_ref(value), size, Align::Center, f.width(), f.height())?;
        let mut d = f.dict.clone();
        d.set("V", Object::text(value));
        d.set("AP", Dict::new().with("N", Object::Ref(ap)));
        up.set(f.r, Object::Dict(d));
    }

    // The signature field: existing, or new for stamps and invisible signatures.
    let existing = all.iter().find(|f| f.name == opts.field);
    let (field_ref, mut field_dict, w, h) = match existing {
        Some(f) => {
            if field_type(&file, f, last).as_deref() != Some(b"Sig") {
                return Err(PadesError::FieldNotFound(opts.field.clone()));
            }
            if f.dict.contains("V") {
                return Err(PadesError::AlreadySigned(opts.field.clone()));
            }
            (f.r, f.dict.clone(), f.width(), f.height())
        }
        None => {
            let rect = match &opts.visual {
                Visual::Invisible => [0.0; 4],
                Visual::Stamp { lines } => stamp_rect(&file, opts, lines)?,
                _ => return Err(PadesError::FieldNotFound(opts.field.clone())),
            };
            let page = *file.pages_at(last)?.first().ok_or_else(|| PadesError::Malformed("no pages".into()))?;
            let r = up.alloc();
            let d = Dict::new()
                .with("Type", Object::name("Annot"))
                .with("Subtype", Object::name("Widget"))
                .with("FT", Object::name("Sig"))
                .with("T", Object::text(&opts.field))
                .with("Rect", Object::Array(rect.iter().map(|v| Object::Real(*v)).collect()))
                .with("F", Object::Int(132))
                .with("P", Object::Ref(page));
            // The page lists the new widget.
            let Some(Object::Dict(mut pd)) = file.get(page)? else {
                return Err(PadesError::Malformed("page 1 is missing".into()));
            };
            let mut annots = match pd.get("Annots") {
                Some(a) => file.resolve(a)?.as_array().map(<[Object]>::to_vec).unwrap_or_default(),
                None => Vec::new(),
            };
            annots.push(Object::Ref(r));
            pd.set("Annots", Object::Array(annots));
            up.set(page, Object::Dict(pd));
            let mut fields_arr = match form.get("Fields") {
                Some(a) => file.resolve(a)?.as_array().map(<[Object]>::to_vec).unwrap_or_default(),
                None => Vec::new(),
            };
            fields_arr.push(Object::Ref(r));
            form.set("Fields", Object::Array(fields_arr));
            form_changed = true;
            (r, d, rect[2] - rect[0], rect[3] - rect[1])
        }
    };

    // The appearance.
    let ap = match &opts.visual {
        Visual::SignerImage(img) | Visual::Seal(img) => Some(image_appearance(&mut up, img, w, h)?),
        Visual::Stamp { lines } => {
            let ef = embedded.as_mut().ok_or_else(|| PadesError::Font("no font for the stamp".into()))?;
            Some(text_appearance(&mut up, ef, lines, 10.0, Align::Left, w, h)?)
        }
        Visual::Invisible => None,
    };
    match ap {
        Some(ap) => field_dict.set("AP", Dict::new().with("N", Object::Ref(ap))),
        None if w <= 0.0 || h <= 0.0 => {
            let empty = crate::appearance::form(&mut up, 0.0, 0.0, Vec::new(), Dict::new());
            field_dict.set("AP", Dict::new().with("N", Object::Ref(empty)));
        }
        None => {}
    }

    // The signature dictionary.
    let sig_ref = up.alloc();
    let mut sig = Dict::new();
    // The placeholders come first, so no text value written before them (a name, a reason)
    // can be mistaken for them when they are patched.
    sig.set("ByteRange", Object::Raw(b"[0 0000000000 0000000000 0000000000]".to_vec()));
    let mut hole = Vec::with_capacity(reserve * 2 + 2);
    hole.push(b'<');
    hole.resize(reserve * 2 + 1, b'0');
    hole.push(b'>');
    sig.set("Contents", Object::Raw(hole));
    if doc_timestamp {
        sig.set("Type", Object::name("DocTimeStamp"));
        sig.set("Filter", Object::name("Adobe.PPKLite"));
        sig.set("SubFilter", Object::name("ETSI.RFC3161"));
    } else {
        sig.set("Type", Object::name("Sig"));
        sig.set("Filter", Object::name("Adobe.PPKLite"));
        sig.set("SubFilter", Object::name("ETSI.CAdES.detached"));
        sig.set("M", Object::string(pdf_date(opts.time)));
        if let Some(n) = &opts.name {
            sig.set("Name", Object::text(n));
        }
        if let Some(r) = &opts.reason {
            sig.set("Reason", Object::text(r));
        }
        if let Some(l) = &opts.location {
            sig.set("Location", Object::text(l));
        }
        if opts.certify {
            sig.set(
                "Reference",
                Object::Array(vec![Object::Dict(
                    Dict::new()
                        .with("Type", Object::name("SigRef"))
                        .with("TransformMethod", Object::name("DocMDP"))
                        .with(
                            "TransformParams",
                            Dict::new()
                                .with("Type", Object::name("TransformParams"))
                                .with("P", Object::Int(2))
                                .with("V", Object::name("1.2")),
                        ),
                )]),
            );
        }
    }
    up.set(sig_ref, Object::Dict(sig));
    field_dict.set("V", Object::Ref(sig_ref));
    up.set(field_ref, Object::Dict(field_dict));

    // The form says the file is signed (and append-only); the catalog carries the DocMDP.
    if form.int("SigFlags") != Some(3) {
        form.set("SigFlags", Object::Int(3));
        form_changed = true;
    }
    let (cat_ref, mut cat) = file.catalog_at(last)?;
    let mut cat_changed = false;
    if opts.certify && !doc_timestamp {
        if cat.contains("Perms") {
            return Err(PadesError::NoChangesPermitted);
        }
        cat.set("Perms", Dict::new().with("DocMDP", Object::Ref(sig_ref)));
        cat_changed = true;
    }
    if form_changed {
        match form_ref {
            Some(r) => up.set(r, Object::Dict(form)),
            None => {
                cat.set("AcroForm", Object::Dict(form));
                cat_changed = true;
            }
        }
    }
    if cat_changed {
        up.set(cat_ref, Object::Dict(cat));
    }

    let written = up.write();
    let mut out = written.bytes;
    let sig_at = *written.offsets.get(&sig_ref.num).ok_or_else(|| PadesError::Malformed("signature object".into()))?;
    let br_at = crate::pdf::parse::find(&out, b"/ByteRange [0 0000000000", sig_at)
        .ok_or_else(|| PadesError::Malformed("placeholder".into()))?;
    let c_at = crate::pdf::parse::find(&out, b"/Contents <", sig_at)
        .ok_or_else(|| PadesError::Malformed("placeholder".into()))?;
    let start = c_at + 10;
    let end = start + reserve * 2 + 2;
    let br = [0, start, end, out.len() - end];
    let text = format!("[0 {:<10} {:<10} {:<10}]", br[1], br[2], br[3]);
    let slot = br_at + 11;
    out[slot..slot + text.len()].copy_from_slice(text.as_bytes());
    let digest = range_digest(&out, &br);
    Ok(Prepared { pdf: out, hole: (start + 1, end - 1), byte_range: br, digest })
}

/// The font size in a field's /DA (`/F1 13 Tf`).
fn da_size(d: &Dict) -> Option<f64> {
    let da = d.get("DA")?.as_bytes()?;
    let s = String::from_utf8_lossy(da);
    let toks: Vec<&str> = s.split_whitespace().collect();
    let i = toks.iter().position(|t| *t == "Tf")?;
    toks.get(i.checked_sub(1)?)?.parse().ok().filter(|v: &f64| *v > 0.0)
}

/// The stamp's box at the top right of page 1: 20 mm from the right edge, 10 mm from the top.
fn stamp_rect(file: &PdfFile<'_>, opts: &SignOptions, lines: &[String]) -> Result<[f64; 4]> {
    let font = opts.font.as_ref().ok_or_else(|| PadesError::Font("no font for the stamp".into()))?;
    let last = file.revisions() - 1;
    let page = *file.pages_at(last)?.first().ok_or_else(|| PadesError::Malformed("no pages".into()))?;
    let media: Vec<f64> = match file.get(page)? {
        Some(Object::Dict(d)) => {
            d.get("MediaBox").and_then(Object::as_array).unwrap_or(&[]).iter().filter_map(Object::as_f64).collect()
        }
        _ => Vec::new(),
    };
    let (pw, ph) = match media[..] {
        [x0, y0, x1, y1] => (x1 - x0, y1 - y0),
        _ => (595.276, 841.89),
    };
    let mm = 72.0 / 25.4;
    let w = lines.iter().map(|l| font.width(l, 10.0)).fold(0.0, f64::max) + 4.0;
    let h = 11.5 * lines.len() as f64 + 4.0;
    let right = pw - 20.0 * mm;
    let top = ph - 10.0 * mm;
    Ok([right - w, top - h, right, top])
}

/// Produces RFC 3161 timestamp tokens (an in-process TSA, or a client of a remote one).
pub trait Timestamper: Send + Sync {
    /// A TimeStampToken (CMS ContentInfo DER) over a SHA-256 digest.
    fn stamp(&self, digest: &[u8; 32]) -> Result<Vec<u8>>;
    /// The largest token this TSA returns (used to reserve space).
    fn token_len_max(&self) -> usize;
}

/// Everything the in-process signer needs about the certificate.
pub struct Identity<'a> {
    pub key: &'a dyn RawSigner,
    pub cert: &'a Cert,
    /// Issuer chain to embed (without the signer).
    pub chain: &'a [Cert],
}

/// The bytes to reserve for a CMS signature.
pub fn reserve_for(alg: KeyAlgorithm, cert: &Cert, chain: &[Cert], tsa: Option<&dyn Timestamper>) -> Result<usize> {
    let attrs = SignedAttrs::pades(&[0u8; 32], cert)?;
    let attrs_len = attrs.to_be_signed().message.len();
    let mut certs = vec![cert.clone()];
    certs.extend_from_slice(chain);
    Ok(signed_data_len_max(attrs_len, alg, cert, &certs, tsa.map(|t| t.token_len_max())) + 32)
}

/// Signs in one call with a key held in this process (or a token reachable from it).
pub fn sign(pdf: &[u8], opts: &SignOptions, id: &Identity<'_>, tsa: Option<&dyn Timestamper>) -> Result<Vec<u8>> {
    let alg = id.key.algorithm();
    let reserve = reserve_for(alg, id.cert, id.chain, tsa)?;
    let prepared = prepare(pdf, opts, reserve)?;
    let attrs = SignedAttrs::pades(&prepared.digest, id.cert)?;
    let value = id.key.sign(&attrs.to_be_signed())?;
    let cms = finish_cms(&attrs, alg, &value, id.cert, id.chain, tsa)?;
    prepared.embed(&cms)
}

/// The CMS for a signature value, with a signature timestamp when a TSA is given (B-T).
pub fn finish_cms(
    attrs: &SignedAttrs,
    alg: KeyAlgorithm,
    value: &[u8],
    cert: &Cert,
    chain: &[Cert],
    tsa: Option<&dyn Timestamper>,
) -> Result<Vec<u8>> {
    let token = match tsa {
        Some(t) => Some(t.stamp(&Sha256::digest(value).into())?),
        None => None,
    };
    let mut certs = vec![cert.clone()];
    certs.extend_from_slice(chain);
    Ok(assemble_signed_data(attrs, alg, value, cert, &certs, token.as_deref())?)
}

/// Appends a document timestamp (PAdES B-LTA's archive timestamp).
pub fn timestamp_document(pdf: &[u8], tsa: &dyn Timestamper, time: DateTime<Utc>) -> Result<Vec<u8>> {
    let file = PdfFile::parse(pdf)?;
    let n = fields(&file, file.revisions() - 1)?.len();
    let opts = SignOptions::new(&format!("vb_timestamp_{}", n + 1), Visual::Invisible, time);
    let prepared = prepare_kind(pdf, &opts, tsa.token_len_max() + 32, true)?;
    let token = tsa.stamp(&prepared.digest)?;
    prepared.embed(&token)
}

/// Appends validation data (certificates, OCSP responses, CRLs) in the Document Security
/// Store, merged with what is there already (PAdES B-LT).
pub fn add_dss(pdf: &[u8], certs: &[Vec<u8>], ocsps: &[Vec<u8>], crls: &[Vec<u8>]) -> Result<Vec<u8>> {
    let file = PdfFile::parse(pdf)?;
    let last = file.revisions() - 1;
    let (cat_ref, mut cat) = file.catalog_at(last)?;
    let old = match cat.get("DSS") {
        Some(o) => file.resolve(o)?.as_dict().cloned().unwrap_or_default(),
        None => Dict::new(),
    };
    let mut up = Update::new(&file);
    let mut dss = Dict::new().with("Type", Object::name("DSS"));
    for (key, items) in [("Certs", certs), ("OCSPs", ocsps), ("CRLs", crls)] {
        let mut arr = match old.get(key) {
            Some(a) => file.resolve(a)?.as_array().map(<[Object]>::to_vec).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for o in &arr {
            if let Some(r) = o.as_ref()
                && let Ok(Some(Object::Stream(d, raw))) = file.get(r)
                && let Ok(data) = crate::pdf::decode_stream(&d, &raw)
            {
                seen.insert(Sha256::digest(&data).to_vec());
            }
        }
        for item in items {
            if seen.insert(Sha256::digest(item).to_vec()) {
                arr.push(Object::Ref(up.add(Object::Stream(Dict::new(), item.clone()))));
            }
        }
        if !arr.is_empty() {
            dss.set(key, Object::Array(arr));
        }
    }
    let dss_ref = up.add(Object::Dict(dss));
    cat.set("DSS", Object::Ref(dss_ref));
    up.set(cat_ref, Object::Dict(cat));
    Ok(up.write().bytes)
}
