//! Form fields in revision 0: text fields for the number and the date (filled by the clerk at
//! issuing) and signature fields for the signer and the agency, placed on the slots the
//! layout reported. They must exist before the leader signs: a signature that permits form
//! filling (DocMDP P=2, or field locks) does not permit adding fields afterwards.
//!
//! PDF/A-2b: every widget carries an appearance stream (empty until filled or signed) and the
//! form does not ask viewers to make appearances (no NeedAppearances).

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

use crate::{RenderError, SlotBox, Slots};

/// The names of the fields, for the parts that fill and sign them.
pub mod names {
    pub const NUMBER: &str = "vb_number";
    pub const DAY: &str = "vb_day";
    pub const MONTH: &str = "vb_month";
    pub const SIGNER: &str = "vb_signature_signer";
    pub const AGENCY: &str = "vb_signature_agency";
}

const PT_PER_MM: f64 = 72.0 / 25.4;

fn err(e: lopdf::Error) -> RenderError {
    RenderError::Export(format!("form fields: {e}"))
}

/// The regular serif font the layout embedded, for the fields' default appearance.
fn body_font(doc: &Document) -> Option<ObjectId> {
    let mut candidates: Vec<(ObjectId, String)> = doc
        .objects
        .iter()
        .filter_map(|(id, obj)| {
            let d = obj.as_dict().ok()?;
            let is_type0 = d.get(b"Subtype").ok()?.as_name().ok()? == b"Type0";
            let base = String::from_utf8_lossy(d.get(b"BaseFont").ok()?.as_name().ok()?).into_owned();
            is_type0.then_some((*id, base))
        })
        .collect();
    candidates.sort();
    let regular = |b: &str| !b.contains("Bold") && !b.contains("Italic");
    candidates
        .iter()
        .find(|(_, b)| (b.contains("LiberationSerif") || b.contains("TimesNewRoman")) && regular(b))
        .or_else(|| candidates.first())
        .map(|(id, _)| *id)
}

/// An empty appearance of the given size.
fn empty_appearance(doc: &mut Document, w: f64, h: f64) -> ObjectId {
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"XObject".to_vec()));
    dict.set("Subtype", Object::Name(b"Form".to_vec()));
    dict.set("BBox", Object::Array(vec![0.into(), 0.into(), Object::Real(w as f32), Object::Real(h as f32)]));
    dict.set("Resources", Object::Dictionary(Dictionary::new()));
    doc.add_object(Stream::new(dict, Vec::new()))
}

/// Adds the fields for the slots that exist, and returns the new file.
pub fn add_fields(pdf: &[u8], slots: &Slots) -> Result<Vec<u8>, RenderError> {
    let mut doc = Document::load_mem(pdf).map_err(err)?;
    let pages = doc.get_pages();
    let font = body_font(&doc);
    let mut fields = Vec::new();
    let mut place = |doc: &mut Document, name: &str, slot: &SlotBox, signature: bool| -> Result<(), RenderError> {
        let page_id = *pages
            .get(&u32::try_from(slot.page).unwrap_or(u32::MAX))
            .ok_or_else(|| RenderError::Export(format!("slot {name} on a missing page")))?;
        let media = doc
            .get_dictionary(page_id)
            .and_then(|p| p.get(b"MediaBox"))
            .and_then(Object::as_array)
            .ok()
            .and_then(|a| a.get(3).and_then(|v| v.as_float().ok()))
            .unwrap_or(841.89) as f64;
        let (w, h) = (slot.width_mm * PT_PER_MM, slot.height_mm * PT_PER_MM);
        let x = slot.x_mm * PT_PER_MM;
        let top = media - slot.y_mm * PT_PER_MM;
        let ap = empty_appearance(doc, w, h);
        let mut widget = Dictionary::new();
        widget.set("Type", Object::Name(b"Annot".to_vec()));
        widget.set("Subtype", Object::Name(b"Widget".to_vec()));
        widget.set("FT", Object::Name(if signature { b"Sig".to_vec() } else { b"Tx".to_vec() }));
        widget.set("T", Object::String(name.as_bytes().to_vec(), StringFormat::Literal));
        widget.set(
            "Rect",
            Object::Array(vec![
                Object::Real(x as f32),
                Object::Real((top - h) as f32),
                Object::Real((x + w) as f32),
                Object::Real(top as f32),
            ]),
        );
        // Print, and nothing that hides it (PDF/A).
        widget.set("F", Object::Integer(4));
        widget.set("P", Object::Reference(page_id));
        let mut ap_dict = Dictionary::new();
        ap_dict.set("N", Object::Reference(ap));
        widget.set("AP", Object::Dictionary(ap_dict));
        if !signature {
            widget.set("Q", Object::Integer(1));
            widget.set("DA", Object::String(b"/F1 13 Tf 0 g".to_vec(), StringFormat::Literal));
        }
        let id = doc.add_object(widget);
        let page = doc.get_dictionary_mut(page_id).map_err(err)?;
        match page.get_mut(b"Annots") {
            Ok(Object::Array(a)) => a.push(Object::Reference(id)),
            _ => page.set("Annots", Object::Array(vec![Object::Reference(id)])),
        }
        fields.push(Object::Reference(id));
        Ok(())
    };
    for (name, slot, signature) in [
        (names::NUMBER, slots.number, false),
        (names::DAY, slots.day, false),
        (names::MONTH, slots.month, false),
        (names::SIGNER, slots.signer, true),
        (names::AGENCY, slots.seal, true),
    ] {
        if let Some(s) = slot {
            place(&mut doc, name, &s, signature)?;
        }
    }
    if fields.is_empty() {
        return Ok(pdf.to_vec());
    }
    let mut form = Dictionary::new();
    form.set("Fields", Object::Array(fields));
    if let Some(f) = font {
        let mut fonts = Dictionary::new();
        fonts.set("F1", Object::Reference(f));
        let mut dr = Dictionary::new();
        dr.set("Font", Object::Dictionary(fonts));
        form.set("DR", Object::Dictionary(dr));
        form.set("DA", Object::String(b"/F1 13 Tf 0 g".to_vec(), StringFormat::Literal));
    }
    doc.catalog_mut().map_err(err)?.set("AcroForm", Object::Dictionary(form));
    let mut out = Vec::with_capacity(pdf.len() + 4096);
    doc.save_to(&mut out).map_err(|e| RenderError::Export(format!("form fields: {e}")))?;
    Ok(out)
}
