//! Drafting: the content of a draft (what the drafter writes), its versions and comments, and
//! its rendering to PDF in the Decree 30 layout. The agency's own data (names, abbreviation,
//! place) comes from the agency record, so a draft never restates it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vanban_domain::{DocumentId, Permission, Priority};
use vanban_render::{AppendixSpec, DocumentSpec, RenderOptions, SignerSpec};
use vanban_store::{DocumentRecord, VersionRecord};

use crate::AppState;
use crate::auth::Session;
use crate::error::AppError;

/// What the drafter writes; the rest of the document comes from the agency and the register.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftContent {
    pub subject: String,
    #[serde(default)]
    pub addressees: Vec<String>,
    pub body: Vec<Value>,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub archive_units: Vec<String>,
    #[serde(default)]
    pub signer: Option<SignerSpec>,
    #[serde(default)]
    pub appendices: Vec<AppendixSpec>,
    #[serde(default)]
    pub unit_abbreviation: Option<String>,
    #[serde(default)]
    pub typer_initials: Option<String>,
    #[serde(default)]
    pub copies: Option<u16>,
}

/// Today in Vietnam.
pub fn today_vn() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&crate::pages::vn_offset()).date_naive()
}

/// The full document a draft's content makes in the caller's agency.
pub fn spec_of(s: &Session, doc: &DocumentRecord, content: &DraftContent) -> DocumentSpec {
    let agency = &s.agency.agency;
    let priority: Priority =
        doc.metadata.get("priority").and_then(|p| serde_json::from_value(p.clone()).ok()).unwrap_or_default();
    DocumentSpec {
        doc_type: doc.doc_type.as_str().to_owned(),
        parent_agency: agency.parent_name.as_ref().map(|n| n.as_str().to_owned()),
        agency: agency.name.as_str().to_owned(),
        agency_abbreviation: agency.abbreviation.as_str().to_owned(),
        unit_abbreviation: content.unit_abbreviation.clone(),
        notation: None,
        number: None,
        place: agency.place.clone(),
        date: None,
        year: None,
        subject: content.subject.clone(),
        priority: priority.code(),
        secrecy: None,
        addressees: content.addressees.clone(),
        body: content.body.clone(),
        recipients: content.recipients.clone(),
        archive_units: content.archive_units.clone(),
        signer: content.signer.clone(),
        appendices: content.appendices.clone(),
        typer_initials: content.typer_initials.clone(),
        copies: content.copies,
    }
}

/// Saves a new version after checking it renders: an invalid draft is refused whole and the
/// previous version stays the latest.
pub async fn save_version(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    content: DraftContent,
    note: Option<String>,
) -> Result<VersionRecord, AppError> {
    s.caller.require(Permission::CreateDraft)?;
    let doc = state.store.get_document(&s.scope(), id).await?;
    spec_of(s, &doc, &content).check(today_vn())?;
    let value = serde_json::to_value(&content).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(state.store.add_version(&s.actor(), &s.scope(), id, value, note).await?)
}

/// Renders a version (or unsaved content, for a preview) to PDF, off the async threads.
pub async fn render_pdf(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    content: DraftContent,
) -> Result<Vec<u8>, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let doc = state.store.get_document(&s.scope(), id).await?;
    let spec = spec_of(s, &doc, &content);
    let renderer: Arc<vanban_render::Renderer> = state.renderer()?;
    let rendered = tokio::task::spawn_blocking(move || renderer.render(&spec, RenderOptions::on(today_vn())))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(rendered.pdf)
}

/// The content of a saved version.
pub async fn version_content(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    version: i32,
) -> Result<DraftContent, AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let v = state.store.get_version(&s.scope(), id, version).await?;
    serde_json::from_value(v.content).map_err(|e| AppError::Internal(format!("stored version: {e}")))
}

/// Reads the editor form's plain text: paragraphs separated by blank lines; lines starting
/// with "- " are list items; lines of cells between "|" are a table (the first row is its
/// header); "**…**" marks bold, "*…*" italic.
pub fn body_from_text(text: &str) -> Vec<Value> {
    let text = text.replace("\r\n", "\n");
    let mut blocks = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<&str> = para.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if lines.iter().all(|l| l.starts_with('|') && l.ends_with('|') && l.len() > 1) {
            let cells =
                |l: &str| -> Vec<String> { l[1..l.len() - 1].split('|').map(|c| c.trim().to_owned()).collect() };
            let header = cells(lines[0]);
            let rows: Vec<Value> =
                lines[1..].iter().map(|l| Value::Array(cells(l).iter().map(|c| runs_from_text(c)).collect())).collect();
            blocks.push(serde_json::json!({ "table": { "header": header, "rows": rows } }));
        } else if lines.iter().all(|l| l.starts_with("- ")) {
            let items: Vec<Value> = lines.iter().map(|l| runs_from_text(l.trim_start_matches("- "))).collect();
            blocks.push(serde_json::json!({ "list": items }));
        } else {
            blocks.push(runs_from_text(&lines.join(" ")));
        }
    }
    blocks
}

fn runs_from_text(s: &str) -> Value {
    if !s.contains('*') {
        return Value::String(s.to_owned());
    }
    let mut runs = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('*') {
        let (marker, key) = if rest[start..].starts_with("**") { ("**", "b") } else { ("*", "i") };
        let after = &rest[start + marker.len()..];
        let Some(end) = after.find(marker) else { break };
        if start > 0 {
            runs.push(Value::String(rest[..start].to_owned()));
        }
        runs.push(serde_json::json!({ key: &after[..end] }));
        rest = &after[end + marker.len()..];
    }
    if !rest.is_empty() {
        runs.push(Value::String(rest.to_owned()));
    }
    Value::Array(runs)
}

/// Reads the editor's appendices: each starts with a line "# Title", its body follows in the
/// same plain text as the main body.
pub fn appendices_from_text(text: &str) -> Vec<AppendixSpec> {
    let text = text.replace("\r\n", "\n");
    let mut out: Vec<AppendixSpec> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(title) = line.trim().strip_prefix("# ") {
            if let Some((t, b)) = current.take() {
                out.push(AppendixSpec { title: t, body: body_from_text(&b) });
            }
            current = Some((title.trim().to_owned(), String::new()));
        } else if let Some((_, b)) = current.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    if let Some((t, b)) = current {
        out.push(AppendixSpec { title: t, body: body_from_text(&b) });
    }
    out
}

/// The editor's text for saved appendices (the inverse of [`appendices_from_text`]).
pub fn text_from_appendices(appendices: &[AppendixSpec]) -> String {
    appendices.iter().map(|a| format!("# {}\n{}", a.title, text_from_body(&a.body))).collect::<Vec<_>>().join("\n\n")
}

/// The editor's plain text for a saved body (the inverse of [`body_from_text`]).
pub fn text_from_body(body: &[Value]) -> String {
    fn runs(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(rs) => rs.iter().map(runs).collect(),
            Value::Object(o) => match o.iter().next() {
                Some((k, Value::String(t))) if k == "b" => format!("**{t}**"),
                Some((k, Value::String(t))) if k == "i" || k == "bi" => format!("*{t}*"),
                Some((_, v)) => runs(v),
                None => String::new(),
            },
            _ => String::new(),
        }
    }
    let row = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    body.iter()
        .map(|b| {
            if let Some(items) = b.get("list").and_then(Value::as_array) {
                return items.iter().map(|i| format!("- {}", runs(i))).collect::<Vec<_>>().join("\n");
            }
            if let Some(t) = b.get("table") {
                let header: Vec<String> =
                    t["header"].as_array().map(|h| h.iter().map(runs).collect()).unwrap_or_default();
                let mut lines = vec![row(header)];
                for r in t["rows"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    lines.push(row(r.as_array().map(|c| c.iter().map(runs).collect()).unwrap_or_default()));
                }
                return lines.join("\n");
            }
            runs(b.get("p").or(b.get("heading")).or(b.get("center")).unwrap_or(b))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// An uploaded file. A PDF is kept as an attachment (an appendix or supporting document in a
/// separate file); a DOCX/ODT draft is converted by LibreOffice (off the async threads),
/// checked, and kept with its PDF rendition. Nothing is recorded when anything fails.
pub async fn upload(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    file_name: String,
    bytes: bytes::Bytes,
) -> Result<Vec<vanban_store::FileRecord>, AppError> {
    s.caller.require(Permission::CreateDraft)?;
    state.store.get_document(&s.scope(), id).await?;
    if bytes.starts_with(b"%PDF-") {
        let (pages, issues) = vanban_render::office::check_layout(&bytes)
            .map_err(|_| vanban_render::RenderError::NotOffice("a damaged PDF".into()))?;
        let blob = state.blobs.put(bytes).await?;
        let file = vanban_store::NewFile {
            kind: "attachment",
            file_name,
            media_type: "application/pdf".to_owned(),
            sha256: blob.sha256,
            size: i64::try_from(blob.size).unwrap_or(i64::MAX),
            checks: Some(serde_json::json!({ "pages": pages, "issues": issues })),
        };
        return Ok(state.store.add_files(&s.actor(), &s.scope(), id, vec![file]).await?);
    }
    let input = bytes.clone();
    let converted = tokio::task::spawn_blocking(move || {
        vanban_render::office::convert(&input, std::time::Duration::from_secs(120))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    let original = state.blobs.put(bytes).await?;
    let pdf = state.blobs.put(bytes::Bytes::from(converted.pdf)).await?;
    let stem = file_name.rsplit_once('.').map(|(s, _)| s.to_owned()).unwrap_or_else(|| file_name.clone());
    let checks = serde_json::json!({ "pages": converted.pages, "issues": converted.issues });
    let files = vec![
        vanban_store::NewFile {
            kind: "original",
            file_name: file_name.clone(),
            media_type: converted.kind.media_type().to_owned(),
            sha256: original.sha256,
            size: i64::try_from(original.size).unwrap_or(i64::MAX),
            checks: None,
        },
        vanban_store::NewFile {
            kind: "rendition",
            file_name: format!("{stem}.pdf"),
            media_type: "application/pdf".to_owned(),
            sha256: pdf.sha256,
            size: i64::try_from(pdf.size).unwrap_or(i64::MAX),
            checks: Some(checks),
        },
    ];
    Ok(state.store.add_files(&s.actor(), &s.scope(), id, files).await?)
}

/// A file of a document in the caller's agency, with its bytes (verified against the address).
pub async fn file(
    state: &AppState,
    s: &Session,
    id: DocumentId,
    file_id: uuid::Uuid,
) -> Result<(vanban_store::FileRecord, bytes::Bytes), AppError> {
    s.caller.require(Permission::ViewDocuments)?;
    let f = state
        .store
        .list_files(&s.scope(), id)
        .await?
        .into_iter()
        .find(|f| f.id == file_id)
        .ok_or(AppError::Store(vanban_store::StoreError::NotFound))?;
    let bytes = state.blobs.get(&f.sha256).await?;
    Ok((f, bytes))
}

/// A file answer with its type and name.
pub fn file_response(f: &vanban_store::FileRecord, bytes: bytes::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let disposition = if f.media_type == "application/pdf" { "inline" } else { "attachment" };
    let ascii: String =
        f.file_name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    (
        [
            (axum::http::header::CONTENT_TYPE, f.media_type.clone()),
            (axum::http::header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"{ascii}\"")),
            (axum::http::header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Reads the one file of a multipart upload (and, for forms, the CSRF field).
pub async fn read_upload(
    mut multipart: axum::extract::Multipart,
) -> Result<(Option<String>, String, bytes::Bytes), AppError> {
    let mut csrf = None;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(multipart_error)?),
            Some("file") => {
                let name = vanban_domain::nfc(field.file_name().unwrap_or("du-thao.docx"));
                let data = field.bytes().await.map_err(multipart_error)?;
                file = Some((name, data));
            }
            _ => {}
        }
    }
    let (name, data) = file.ok_or(vanban_domain::DomainError::FieldRequired { field: "file" })?;
    Ok((csrf, name, data))
}

pub(crate) fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::BadRequest(e.body_text())
    }
}

/// One difference between two versions of a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field: "subject", "addressees", "body", "recipients", "archive_units", "signer".
    pub field: &'static str,
    /// "removed" or "added" (a line of a list field, or a paragraph of the body).
    pub kind: &'static str,
    pub text: String,
}

/// Removed and added lines between two lists, in order (longest common subsequence).
fn diff_lines(field: &'static str, old: &[String], new: &[String], out: &mut Vec<Change>) {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push(Change { field, kind: "added", text: new[j].clone() });
            j += 1;
        } else {
            out.push(Change { field, kind: "removed", text: old[i].clone() });
            i += 1;
        }
    }
}

/// What changed in the text fields from one version to the next.
pub fn diff(old: &DraftContent, new: &DraftContent) -> Vec<Change> {
    let mut out = Vec::new();
    let one = |s: &str| vec![s.to_owned()];
    diff_lines("subject", &one(&old.subject), &one(&new.subject), &mut out);
    diff_lines("addressees", &old.addressees, &new.addressees, &mut out);
    let paragraphs = |c: &DraftContent| -> Vec<String> {
        text_from_body(&c.body).split("\n\n").map(str::to_owned).filter(|p| !p.is_empty()).collect()
    };
    diff_lines("body", &paragraphs(old), &paragraphs(new), &mut out);
    diff_lines("recipients", &old.recipients, &new.recipients, &mut out);
    diff_lines("archive_units", &old.archive_units, &new.archive_units, &mut out);
    let signer = |c: &DraftContent| {
        c.signer.as_ref().map(|s| vec![format!("{} {} ({})", s.authority, s.full_name, s.position)]).unwrap_or_default()
    };
    diff_lines("signer", &signer(old), &signer(new), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: &str, body: &str) -> DraftContent {
        DraftContent {
            subject: subject.into(),
            body: body_from_text(body),
            recipients: vec!["Như trên;".into()],
            ..DraftContent::default()
        }
    }

    #[test]
    fn appendices_round_trip() {
        let text =
            "# Danh mục nhiệm vụ\n| STT | Nhiệm vụ |\n| 1 | Số hóa |\n\n# Dự toán kinh phí\nTổng kinh phí: 2 tỷ đồng.";
        let a = appendices_from_text(text);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].title, "Danh mục nhiệm vụ");
        assert_eq!(a[1].body[0], "Tổng kinh phí: 2 tỷ đồng.");
        assert_eq!(text_from_appendices(&a), text);
    }

    #[test]
    fn diffs_name_the_changed_paragraphs() {
        let a = content("V/v dự toán", "Đoạn một.\n\nĐoạn hai.\n\nĐoạn ba.");
        let b = content("V/v dự toán năm 2027", "Đoạn một.\n\nĐoạn hai, sửa.\n\nĐoạn ba.\n\nĐoạn bốn.");
        let changes = diff(&a, &b);
        let view: Vec<(&str, &str, &str)> = changes.iter().map(|c| (c.field, c.kind, c.text.as_str())).collect();
        assert_eq!(
            view,
            [
                ("subject", "removed", "V/v dự toán"),
                ("subject", "added", "V/v dự toán năm 2027"),
                ("body", "removed", "Đoạn hai."),
                ("body", "added", "Đoạn hai, sửa."),
                ("body", "added", "Đoạn bốn."),
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn editor_text_round_trips() {
        let text = "Thực hiện **Quyết định số 12**, Sở hướng dẫn *như sau*:\n\n- Mục một;\n- Mục hai.\n\n| STT | Nội dung |\n| 1 | Rà soát |\n\nĐoạn cuối./.";
        let body = body_from_text(text);
        assert_eq!(body.len(), 4);
        assert_eq!(body[2]["table"]["header"], serde_json::json!(["STT", "Nội dung"]));
        assert_eq!(body[2]["table"]["rows"][0][1], "Rà soát");
        assert_eq!(body[0][1], serde_json::json!({ "b": "Quyết định số 12" }));
        assert_eq!(body[1]["list"][1], "Mục hai.");
        assert_eq!(text_from_body(&body), text);
    }
}
