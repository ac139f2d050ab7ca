//! The typst "world" of a render: the standard library, the fonts and the templates, loaded
//! once by [`Renderer`], plus the one document's data as a virtual JSON file (`/doc.json`
//! for a document, `/register.json` for a register).

use std::path::{Path, PathBuf};

use chrono::Datelike;
use typst::diag::{FileError, FileResult, Warned};
use typst::foundations::{Bytes, Datetime, Label, Smart};
use typst::introspection::{Introspector, MetadataElem};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::{LazyHash, PicoStr};
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use crate::{DocumentSpec, RenderError, RenderOptions, Rendered, SlotBox, Slots};

/// The layout shipped with vanban.
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/decree30.typ");

/// The layout of the registers (Decree 30, Appendix IV); not adjustable by agencies.
const REGISTER_TEMPLATE: &str = include_str!("../templates/register.typ");

/// Where Debian puts the fonts the layout uses: Times New Roman (if the MS core fonts are
/// installed) and its metric twin Liberation Serif (fonts-liberation2).
pub const DEFAULT_FONT_DIRS: [&str; 3] = [
    "/usr/share/fonts/truetype/msttcorefonts",
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/liberation",
];

fn file_id(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).unwrap_or_else(|_| unreachable!("{path} is a valid virtual path"));
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

/// Fonts, the standard library and the layout template, shared by every render.
pub struct Renderer {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    template: Source,
    register_template: Source,
}

impl Renderer {
    /// The shipped layout with the fonts of [`DEFAULT_FONT_DIRS`].
    pub fn new() -> Result<Self, RenderError> {
        let dirs: Vec<PathBuf> = DEFAULT_FONT_DIRS.iter().map(PathBuf::from).collect();
        Self::with(&dirs, DEFAULT_TEMPLATE)
    }

    /// A layout template (an agency's adjusted copy of the shipped one) with fonts from
    /// `font_dirs`. Fails when no Times New Roman or Liberation Serif is found.
    pub fn with(font_dirs: &[PathBuf], template: &str) -> Result<Self, RenderError> {
        let mut fonts = Vec::new();
        for dir in font_dirs {
            load_fonts(dir, &mut fonts);
        }
        let book = FontBook::from_fonts(&fonts);
        if !["times new roman", "liberation serif"].iter().any(|f| book.contains_family(f)) {
            let dirs: Vec<String> = font_dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(RenderError::FontMissing(dirs.join(", ")));
        }
        Ok(Renderer {
            library: LazyHash::new(Library::builder().build()),
            book: LazyHash::new(book),
            fonts,
            template: Source::new(file_id("/main.typ"), template.to_owned()),
            register_template: Source::new(file_id("/register.typ"), REGISTER_TEMPLATE.to_owned()),
        })
    }

    /// The font families loaded (for diagnostics).
    pub fn families(&self) -> Vec<String> {
        let mut f: Vec<String> = self.book.families().map(|(name, _)| name.to_owned()).collect();
        f.dedup();
        f
    }

    /// Renders one document to PDF/A-2b and reports where its slots are.
    pub fn render(&self, spec: &DocumentSpec, opts: RenderOptions) -> Result<Rendered, RenderError> {
        let prepared = spec.prepare(opts.today)?;
        let data = serde_json::to_vec(&prepared).map_err(|e| RenderError::Layout(e.to_string()))?;
        let rendered = self.compile(&self.template, "/doc.json", data, opts.today).and_then(|doc| {
            let slots = slots_of(&doc, opts.seal_mm)?;
            let pdf = export_pdf(&doc, Some(opts.today))?;
            let pdf = crate::fields::add_fields(&pdf, &slots)?;
            Ok(Rendered { pdf, pages: doc.pages().len(), slots })
        });
        // Keep what the next render of the same layout reuses; drop the rest, so memory
        // stays flat in a long-running server.
        comemo::evict(10);
        rendered
    }

    /// Renders a register (its data prepared as `/register.json`) to PDF/A-2b, created on
    /// `created` if known; returns the PDF and its number of pages.
    pub(crate) fn render_register(
        &self,
        data: Vec<u8>,
        today: chrono::NaiveDate,
        created: Option<chrono::NaiveDate>,
    ) -> Result<(Vec<u8>, usize), RenderError> {
        let rendered = self
            .compile(&self.register_template, "/register.json", data, today)
            .and_then(|doc| Ok((export_pdf(&doc, created)?, doc.pages().len())));
        comemo::evict(10);
        rendered
    }

    /// Compiles `main` with `data` as the virtual JSON file `data_path`.
    fn compile(
        &self,
        main: &Source,
        data_path: &str,
        data: Vec<u8>,
        today: chrono::NaiveDate,
    ) -> Result<PagedDocument, RenderError> {
        let world = DocWorld { r: self, main, data_id: file_id(data_path), data: Bytes::new(data), today };
        let Warned { output, warnings: _ } = typst::compile::<PagedDocument>(&world);
        output.map_err(|errors| {
            RenderError::Layout(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
        })
    }
}

/// Exports a compiled document as PDF/A-2b, created on `date` (midnight UTC) if known.
fn export_pdf(doc: &PagedDocument, date: Option<chrono::NaiveDate>) -> Result<Vec<u8>, RenderError> {
    let timestamp = match date {
        Some(d) => Some(Timestamp::new_utc(
            Datetime::from_ymd_hms(d.year(), d.month() as u8, d.day() as u8, 0, 0, 0)
                .ok_or_else(|| RenderError::Export("date out of range".into()))?,
        )),
        None => None,
    };
    let options = PdfOptions {
        creator: Smart::Custom(Some("vanban".into())),
        timestamp,
        standards: PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| RenderError::Export(e.message().to_string()))?,
        ..PdfOptions::default()
    };
    typst_pdf::pdf(doc, &options).map_err(|errors| {
        RenderError::Export(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
    })
}

fn load_fonts(dir: &Path, out: &mut Vec<Font>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("ttf" | "otf" | "ttc")) {
            continue;
        }
        if let Ok(data) = std::fs::read(&path) {
            out.extend(Font::iter(Bytes::new(data)));
        }
    }
}

/// Reads the `vb-layout` metadata the template writes at its end.
fn slots_of(doc: &PagedDocument, seal_mm: f64) -> Result<Slots, RenderError> {
    let label = Label::new(PicoStr::intern("vb-layout")).ok_or_else(|| RenderError::Layout("label".into()))?;
    let content = doc
        .introspector()
        .query_label(label)
        .map_err(|e| RenderError::Layout(format!("the template reports no slots: {e}")))?;
    let meta =
        content.to_packed::<MetadataElem>().ok_or_else(|| RenderError::Layout("vb-layout is not metadata".into()))?;
    let value = serde_json::to_value(&meta.value).map_err(|e| RenderError::Layout(e.to_string()))?;
    const MM: f64 = 25.4 / 72.0;
    let slot = |name: &str| -> Option<SlotBox> {
        let v = value.get(name)?;
        Some(SlotBox {
            page: usize::try_from(v.get("page")?.as_u64()?).ok()?,
            x_mm: v.get("x")?.as_f64()? * MM,
            y_mm: v.get("y")?.as_f64()? * MM,
            width_mm: v.get("w")?.as_f64()? * MM,
            height_mm: v.get("h")?.as_f64()? * MM,
        })
    };
    let signer = slot("signer");
    // The seal at real size, its right edge a third of the way into the signer's box,
    // centred on it vertically (Decree 30, Appendix I: it covers the left third).
    let seal = signer.map(|s| SlotBox {
        page: s.page,
        x_mm: s.x_mm + s.width_mm / 3.0 - seal_mm,
        y_mm: s.y_mm + s.height_mm / 2.0 - seal_mm / 2.0,
        width_mm: seal_mm,
        height_mm: seal_mm,
    });
    Ok(Slots { number: slot("number"), day: slot("day"), month: slot("month"), signer, seal })
}

struct DocWorld<'a> {
    r: &'a Renderer,
    main: &'a Source,
    data_id: FileId,
    data: Bytes,
    today: chrono::NaiveDate,
}

impl World for DocWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.r.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.r.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotFound(PathBuf::from(id.get().vpath().get_without_slash())))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else if id == self.main.id() {
            Ok(Bytes::from_string(self.main.text().to_owned()))
        } else {
            Err(FileError::NotFound(PathBuf::from(id.get().vpath().get_without_slash())))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.r.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Datetime::from_ymd(self.today.year(), self.today.month() as u8, self.today.day() as u8)
    }
}
