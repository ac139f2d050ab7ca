//! Visible appearances (Decree 30/2020, Appendix I): the signer's handwritten signature image,
//! the agency's red seal over the left third of it, the image-less agency stamp (appendices
//! in separate files, electronic copies), and the filled number and date.

use std::io::Write as _;

use crate::error::{PadesError, Result};
use crate::font::{Font, TextRun, glyph_string};
use crate::pdf::{Dict, Object, Ref, Update, fmt_real};

/// Largest image accepted, in pixels per side.
pub const MAX_IMAGE_SIDE: u32 = 4000;

/// A decoded PNG ready for embedding: colour samples and an alpha mask.
#[derive(Clone, Debug)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// DeviceRGB samples, 8 bits (shared: the seal is cloned for every document issued).
    rgb: std::sync::Arc<Vec<u8>>,
    /// Alpha, 8 bits, when the image is not fully opaque.
    alpha: Option<std::sync::Arc<Vec<u8>>>,
    /// The same, compressed once (a holder's image is stamped on many documents).
    rgb_z: std::sync::Arc<Vec<u8>>,
    alpha_z: Option<std::sync::Arc<Vec<u8>>>,
}

impl Image {
    /// Decodes a PNG (any colour type and depth). Signature and seal images must be PNG with a
    /// transparent background (Decree 30, Appendix I); an opaque image is accepted but noted
    /// by [`Image::is_transparent`].
    pub fn from_png(bytes: &[u8]) -> Result<Image> {
        let bad = |e: &dyn std::fmt::Display| PadesError::BadImage(e.to_string());
        let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
        dec.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = dec.read_info().map_err(|e| bad(&e))?;
        let (w, h) = (reader.info().width, reader.info().height);
        if w == 0 || h == 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
            return Err(PadesError::BadImage(format!("{w}×{h} pixels")));
        }
        let size = reader.output_buffer_size().ok_or_else(|| PadesError::BadImage("too large".into()))?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
        buf.truncate(info.buffer_size());
        let px = (w * h) as usize;
        let mut rgb = Vec::with_capacity(px * 3);
        let mut alpha = Vec::with_capacity(px);
        match info.color_type {
            png::ColorType::Rgba => {
                for p in buf.chunks_exact(4) {
                    rgb.extend_from_slice(&p[..3]);
                    alpha.push(p[3]);
                }
            }
            png::ColorType::Rgb => rgb = buf,
            png::ColorType::GrayscaleAlpha => {
                for p in buf.chunks_exact(2) {
                    rgb.extend_from_slice(&[p[0], p[0], p[0]]);
                    alpha.push(p[1]);
                }
            }
            png::ColorType::Grayscale => {
                for p in &buf {
                    rgb.extend_from_slice(&[*p, *p, *p]);
                }
            }
            png::ColorType::Indexed => return Err(PadesError::BadImage("indexed colour after expansion".into())),
        }
        if rgb.len() != px * 3 {
            return Err(PadesError::BadImage("short image data".into()));
        }
        let alpha = (alpha.len() == px && alpha.iter().any(|&a| a != 255)).then_some(alpha);
        let rgb_z = std::sync::Arc::new(deflate(&rgb)?);
        let alpha_z = match &alpha {
            Some(a) => Some(std::sync::Arc::new(deflate(a)?)),
            None => None,
        };
        Ok(Image { width: w, height: h, rgb: rgb.into(), alpha: alpha.map(Into::into), rgb_z, alpha_z })
    }

    /// Whether the background is transparent.
    pub fn is_transparent(&self) -> bool {
        self.alpha.is_some()
    }

    /// The dominant hue of the opaque pixels: used to check that a signature is blue and a
    /// seal is red.
    pub fn dominant_colour(&self) -> Colour {
        let (mut r, mut g, mut b, mut n) = (0u64, 0u64, 0u64, 0u64);
        for (i, p) in self.rgb.chunks_exact(3).enumerate() {
            let a = self.alpha.as_ref().map_or(255, |a| a[i]);
            let dark = u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2]) < 600;
            if a > 128 && dark {
                r += u64::from(p[0]);
                g += u64::from(p[1]);
                b += u64::from(p[2]);
                n += 1;
            }
        }
        if n == 0 {
            return Colour::Other;
        }
        let (r, g, b) = (r / n, g / n, b / n);
        if b > r + 40 && b > g + 20 {
            Colour::Blue
        } else if r > g + 60 && r > b + 60 {
            Colour::Red
        } else {
            Colour::Other
        }
    }

    /// Embeds the image (and its soft mask) and returns the XObject.
    pub fn embed(&self, up: &mut Update<'_, '_>) -> Result<Ref> {
        let smask = self.alpha_z.as_ref().map(|a| {
            up.add(Object::Stream(
                Dict::new()
                    .with("Type", Object::name("XObject"))
                    .with("Subtype", Object::name("Image"))
                    .with("Width", Object::Int(i64::from(self.width)))
                    .with("Height", Object::Int(i64::from(self.height)))
                    .with("ColorSpace", Object::name("DeviceGray"))
                    .with("BitsPerComponent", Object::Int(8))
                    .with("Filter", Object::name("FlateDecode")),
                a.to_vec(),
            ))
        });
        let mut d = Dict::new()
            .with("Type", Object::name("XObject"))
            .with("Subtype", Object::name("Image"))
            .with("Width", Object::Int(i64::from(self.width)))
            .with("Height", Object::Int(i64::from(self.height)))
            .with("ColorSpace", Object::name("DeviceRGB"))
            .with("BitsPerComponent", Object::Int(8))
            .with("Filter", Object::name("FlateDecode"));
        if let Some(m) = smask {
            d.set("SMask", Object::Ref(m));
        }
        Ok(up.add(Object::Stream(d, self.rgb_z.to_vec())))
    }
}

/// A coarse colour class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Blue,
    Red,
    Other,
}

fn deflate(data: &[u8]) -> Result<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).map_err(|e| PadesError::BadImage(e.to_string()))?;
    z.finish().map_err(|e| PadesError::BadImage(e.to_string()))
}

/// A form XObject of `w`×`h` points with the given content and resources.
pub fn form(up: &mut Update<'_, '_>, w: f64, h: f64, content: Vec<u8>, resources: Dict) -> Ref {
    up.add(Object::Stream(
        Dict::new()
            .with("Type", Object::name("XObject"))
            .with("Subtype", Object::name("Form"))
            .with("BBox", Object::Array(vec![Object::Int(0), Object::Int(0), Object::Real(w), Object::Real(h)]))
            .with("Resources", resources),
        content,
    ))
}

/// The largest box of the image's aspect ratio inside `w`×`h`, centred: (x, y, width, height).
pub fn fit(img: &Image, w: f64, h: f64) -> (f64, f64, f64, f64) {
    let ar = f64::from(img.width) / f64::from(img.height);
    let (iw, ih) = if w / h > ar { (h * ar, h) } else { (w, w / ar) };
    ((w - iw) / 2.0, (h - ih) / 2.0, iw, ih)
}

/// An appearance that draws an image fitted in the box.
pub fn image_appearance(up: &mut Update<'_, '_>, img: &Image, w: f64, h: f64) -> Result<Ref> {
    let xobj = img.embed(up)?;
    let (x, y, iw, ih) = fit(img, w, h);
    let content = format!("q {} 0 0 {} {} {} cm /Im0 Do Q", fmt_real(iw), fmt_real(ih), fmt_real(x), fmt_real(y));
    let res = Dict::new().with("XObject", Dict::new().with("Im0", Object::Ref(xobj)));
    Ok(form(up, w, h, content.into_bytes(), res))
}

/// How text lines are placed in their box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A font subset embedded once in an update, shared by every text appearance of it.
pub struct EmbeddedFont {
    font: Font,
    r: Ref,
    remap: std::collections::BTreeMap<u16, u16>,
    run: TextRun,
}

impl EmbeddedFont {
    /// Embeds the glyphs of every text the update will show.
    pub fn new(up: &mut Update<'_, '_>, font: &Font, texts: &[&str]) -> Result<EmbeddedFont> {
        let mut run = TextRun::new(font);
        for t in texts {
            run.encode(t)?;
        }
        let (r, remap) = run.embed(up)?;
        Ok(EmbeddedFont { font: font.clone(), r, remap, run })
    }
}

/// An appearance of text lines (black, `size` points), top to bottom, in an embedded font.
pub fn text_appearance(
    up: &mut Update<'_, '_>,
    ef: &mut EmbeddedFont,
    lines: &[String],
    size: f64,
    align: Align,
    w: f64,
    h: f64,
) -> Result<Ref> {
    let font = ef.font.clone();
    let font = &font;
    let encoded: Vec<Vec<u16>> = lines.iter().map(|l| ef.run.encode(l)).collect::<Result<_>>()?;
    let (font_ref, remap) = (ef.r, &ef.remap);
    let leading = size * 1.15;
    let block = leading * lines.len() as f64;
    let mut y = (h + block) / 2.0 - size * 0.95;
    let mut content = b"/Tx BMC q BT 0 g ".to_vec();
    content.extend_from_slice(format!("/F0 {} Tf ", fmt_real(size)).as_bytes());
    for (line, glyphs) in lines.iter().zip(&encoded) {
        let lw = font.width(line, size);
        let x = match align {
            Align::Left => 1.0,
            Align::Center => (w - lw) / 2.0,
            Align::Right => w - lw - 1.0,
        };
        content.extend_from_slice(format!("1 0 0 1 {} {} Tm ", fmt_real(x), fmt_real(y)).as_bytes());
        content.extend_from_slice(&glyph_string(glyphs, remap));
        content.extend_from_slice(b" Tj ");
        y -= leading;
    }
    content.extend_from_slice(b"ET Q EMC");
    let res = Dict::new().with("Font", Dict::new().with("F0", Object::Ref(font_ref)));
    Ok(form(up, w, h, content, res))
}
