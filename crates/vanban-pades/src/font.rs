//! Text in appearance streams (the filled number and date, the agency stamp): a subset of
//! Liberation Serif (metric-compatible with Times New Roman, as Decree 30 prescribes) embedded
//! as a CIDFontType2 with Identity-H and a ToUnicode map, so the text is searchable and the
//! file stays PDF/A (every font embedded).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::{PadesError, Result};
use crate::pdf::{Dict, Object, Ref, Update};

/// Where the regular serif font is looked for (the same families the renderer uses).
pub const DEFAULT_FONT_FILES: &[&str] = &[
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/msttcorefonts/Times_New_Roman.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
];

/// A TrueType font's bytes, shared.
#[derive(Clone)]
pub struct Font {
    data: Arc<Vec<u8>>,
    name: String,
    /// Subsets already made, by glyph set (the agency stamp and the filled number and date
    /// use a few digits: issuing a document mostly reuses one).
    subsets: Arc<std::sync::Mutex<std::collections::HashMap<Vec<u16>, Arc<Subset>>>>,
}

/// A subset of the font, compressed for a FontFile2 stream.
struct Subset {
    compressed: Vec<u8>,
    len: usize,
    remap: BTreeMap<u16, u16>,
}

/// Subsets kept per font before the cache starts over.
const MAX_SUBSETS: usize = 1024;

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Font({})", self.name)
    }
}

impl Font {
    pub fn from_bytes(data: Vec<u8>) -> Result<Font> {
        let face = ttf_parser::Face::parse(&data, 0).map_err(|e| PadesError::Font(e.to_string()))?;
        let name = face
            .names()
            .into_iter()
            .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .and_then(|n| n.to_string())
            .unwrap_or_else(|| "Font".to_owned());
        Ok(Font { data: Arc::new(data), name, subsets: Arc::default() })
    }

    /// The first of [`DEFAULT_FONT_FILES`] that exists, or a file named by the caller.
    pub fn load(path: Option<&Path>) -> Result<Font> {
        let candidates: Vec<&Path> = match path {
            Some(p) => vec![p],
            None => DEFAULT_FONT_FILES.iter().map(Path::new).collect(),
        };
        for p in candidates {
            if let Ok(bytes) = std::fs::read(p) {
                return Font::from_bytes(bytes);
            }
        }
        Err(PadesError::Font("no Liberation Serif or Times New Roman font file found".to_owned()))
    }

    /// The subset holding `glyphs` (sorted, with glyph 0), compressed; made once per set.
    fn subset(&self, glyphs: &[u16]) -> Result<Arc<Subset>> {
        if let Some(s) = self.subsets.lock().ok().and_then(|m| m.get(glyphs).cloned()) {
            return Ok(s);
        }
        let mapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(glyphs);
        let subset = subsetter::subset(&self.data, 0, &mapper).map_err(|e| PadesError::Font(format!("{e:?}")))?;
        let mut remap = BTreeMap::new();
        for g in glyphs {
            if let Some(n) = mapper.get(*g) {
                remap.insert(*g, n);
            }
        }
        let mut compressed = Vec::new();
        {
            use std::io::Write as _;
            let mut z = flate2::write::ZlibEncoder::new(&mut compressed, flate2::Compression::default());
            z.write_all(&subset).map_err(|e| PadesError::Font(e.to_string()))?;
            z.finish().map_err(|e| PadesError::Font(e.to_string()))?;
        }
        let made = Arc::new(Subset { compressed, len: subset.len(), remap });
        if let Ok(mut m) = self.subsets.lock() {
            if m.len() >= MAX_SUBSETS {
                m.clear();
            }
            m.insert(glyphs.to_vec(), made.clone());
        }
        Ok(made)
    }

    fn face(&self) -> Result<ttf_parser::Face<'_>> {
        ttf_parser::Face::parse(&self.data, 0).map_err(|e| PadesError::Font(e.to_string()))
    }

    /// The width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f64) -> f64 {
        let Ok(face) = self.face() else { return 0.0 };
        let upm = f64::from(face.units_per_em());
        text.chars()
            .map(|c| face.glyph_index(c).and_then(|g| face.glyph_hor_advance(g)).map_or(0.0, f64::from))
            .sum::<f64>()
            * size
            / upm
    }
}

/// Text shown with one font in one appearance; collects glyphs, then embeds the subset.
pub struct TextRun {
    font: Font,
    /// old glyph id → (unicode text for ToUnicode, advance in font units)
    used: BTreeMap<u16, (String, u16)>,
}

impl TextRun {
    pub fn new(font: &Font) -> TextRun {
        TextRun { font: font.clone(), used: BTreeMap::new() }
    }

    /// Encodes `text` as a hex string of original glyph ids (remapped at [`TextRun::embed`]).
    pub fn encode(&mut self, text: &str) -> Result<Vec<u16>> {
        let face = self.font.face()?;
        let mut out = Vec::new();
        for c in text.chars() {
            let g = face.glyph_index(c).map(|g| g.0).unwrap_or(0);
            let adv = face.glyph_hor_advance(ttf_parser::GlyphId(g)).unwrap_or(0);
            self.used.entry(g).or_insert_with(|| (c.to_string(), adv));
            out.push(g);
        }
        Ok(out)
    }

    /// Embeds the subset and returns the Type0 font reference and a function that turns the
    /// glyph ids returned by [`TextRun::encode`] into the content-stream string.
    pub fn embed(&self, up: &mut Update<'_, '_>) -> Result<(Ref, BTreeMap<u16, u16>)> {
        let face = self.font.face()?;
        let upm = f64::from(face.units_per_em());
        let mut glyphs: Vec<u16> = self.used.keys().copied().collect();
        if !glyphs.contains(&0) {
            glyphs.insert(0, 0);
        }
        let sub = self.font.subset(&glyphs)?;
        let remap = &sub.remap;
        let scale = |v: i16| (f64::from(v) * 1000.0 / upm).round() as i64;
        let bbox = face.global_bounding_box();
        let tag = subset_tag(&glyphs);
        let base = format!("{tag}+{}", self.font.name);

        let file = up.add(Object::Stream(
            Dict::new().with("Filter", Object::name("FlateDecode")).with("Length1", Object::Int(sub.len as i64)),
            sub.compressed.clone(),
        ));
        let descriptor = up.add(Object::Dict(
            Dict::new()
                .with("Type", Object::name("FontDescriptor"))
                .with("FontName", Object::Name(base.as_bytes().to_vec()))
                .with("Flags", Object::Int(6))
                .with(
                    "FontBBox",
                    Object::Array(vec![
                        Object::Int(scale(bbox.x_min)),
                        Object::Int(scale(bbox.y_min)),
                        Object::Int(scale(bbox.x_max)),
                        Object::Int(scale(bbox.y_max)),
                    ]),
                )
                .with("ItalicAngle", Object::Int(0))
                .with("Ascent", Object::Int(scale(face.ascender())))
                .with("Descent", Object::Int(scale(face.descender())))
                .with("CapHeight", Object::Int(scale(face.capital_height().unwrap_or(face.ascender()))))
                .with("StemV", Object::Int(80))
                .with("FontFile2", Object::Ref(file)),
        ));
        // Widths per new glyph id.
        let mut w = Vec::new();
        for (old, (_, adv)) in &self.used {
            if let Some(new) = remap.get(old) {
                w.push(Object::Int(i64::from(*new)));
                w.push(Object::Array(vec![Object::Int((f64::from(*adv) * 1000.0 / upm).round() as i64)]));
            }
        }
        let cid = up.add(Object::Dict(
            Dict::new()
                .with("Type", Object::name("Font"))
                .with("Subtype", Object::name("CIDFontType2"))
                .with("BaseFont", Object::Name(base.as_bytes().to_vec()))
                .with(
                    "CIDSystemInfo",
                    Dict::new()
                        .with("Registry", Object::string("Adobe"))
                        .with("Ordering", Object::string("Identity"))
                        .with("Supplement", Object::Int(0)),
                )
                .with("FontDescriptor", Object::Ref(descriptor))
                .with("DW", Object::Int(0))
                .with("W", Object::Array(w))
                .with("CIDToGIDMap", Object::name("Identity")),
        ));
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<(u16, &String)> =
            self.used.iter().filter_map(|(old, (t, _))| remap.get(old).map(|n| (*n, t))).collect();
        for chunk in entries.chunks(100) {
            cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
            for (n, t) in chunk {
                let hex: String = t.encode_utf16().map(|u| format!("{u:04X}")).collect();
                cmap.push_str(&format!("<{n:04X}> <{hex}>\n"));
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        let to_unicode = up.add(Object::Stream(Dict::new(), cmap.into_bytes()));
        let font = up.add(Object::Dict(
            Dict::new()
                .with("Type", Object::name("Font"))
                .with("Subtype", Object::name("Type0"))
                .with("BaseFont", Object::Name(base.as_bytes().to_vec()))
                .with("Encoding", Object::name("Identity-H"))
                .with("DescendantFonts", Object::Array(vec![Object::Ref(cid)]))
                .with("ToUnicode", Object::Ref(to_unicode)),
        ));
        Ok((font, remap.clone()))
    }
}

/// Six capital letters derived from the glyph set (ISO 32000 §9.6.4).
fn subset_tag(glyphs: &[u16]) -> String {
    let mut h: u32 = 2166136261;
    for g in glyphs {
        h = (h ^ u32::from(*g)).wrapping_mul(16777619);
    }
    (0..6)
        .map(|i| {
            let v = (h >> (i * 5)) % 26;
            char::from(b'A' + v as u8)
        })
        .collect()
}

/// The content-stream string for glyphs after remapping.
pub fn glyph_string(glyphs: &[u16], remap: &BTreeMap<u16, u16>) -> Vec<u8> {
    let mut s = vec![b'<'];
    for g in glyphs {
        let n = remap.get(g).copied().unwrap_or(0);
        s.extend_from_slice(format!("{n:04X}").as_bytes());
    }
    s.push(b'>');
    s
}
