//! What a document says, as JSON (the input of `vanban render` and of the drafting pages),
//! and its preparation into the exact strings the layout prints.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vanban_domain::{DocumentType, Priority, Secrecy, SigningAuthority};

use crate::RenderError;

/// A document to render.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    /// One of the 29 Decree 30 types: code (`cong_van`), abbreviation (`QĐ`) or name.
    pub doc_type: String,
    /// The managing agency printed above the issuing agency (cơ quan chủ quản), if any.
    #[serde(default)]
    pub parent_agency: Option<String>,
    /// The issuing agency.
    pub agency: String,
    /// Its abbreviation in symbols ("UBND", "STC").
    pub agency_abbreviation: String,
    /// The drafting unit's or field's abbreviation, for a công văn's symbol ("VP" → "UBND-VP").
    #[serde(default)]
    pub unit_abbreviation: Option<String>,
    /// The symbol, when it is not the one Decree 30 builds from the type and abbreviations.
    #[serde(default)]
    pub notation: Option<String>,
    /// The number, once the clerk has assigned it; until then the layout leaves a field.
    #[serde(default)]
    pub number: Option<u32>,
    /// The place on the date line ("Bình An").
    pub place: String,
    /// The issue date, once assigned; until then the layout leaves fields for day and month.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// The year printed on an undated date line (defaults to the render date's year).
    #[serde(default)]
    pub year: Option<i32>,
    /// The excerpt (trích yếu): "Về việc …" under the type name, or "V/v …" for a công văn.
    pub subject: String,
    /// Urgency: 0 normal, 1 Khẩn, 2 Thượng khẩn, 3 Hỏa tốc, 4 Hỏa tốc hẹn giờ.
    #[serde(default)]
    pub priority: u8,
    /// Secrecy: normal, confidential (Mật), secret (Tối mật), top_secret (Tuyệt mật).
    #[serde(default)]
    pub secrecy: Option<String>,
    /// "Kính gửi:" addressees (công văn, tờ trình…).
    #[serde(default)]
    pub addressees: Vec<String>,
    /// The body: paragraphs (a string, or runs with bold/italic), headings, centred lines,
    /// lists, tables.
    pub body: Vec<Value>,
    /// "Nơi nhận:" items, without the final "Lưu:" line.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Units keeping a copy, on the "Lưu: VT, …" line.
    #[serde(default)]
    pub archive_units: Vec<String>,
    /// Who signs, with what authority.
    #[serde(default)]
    pub signer: Option<SignerSpec>,
    #[serde(default)]
    pub appendices: Vec<AppendixSpec>,
    /// Drafter's initials and the number of copies issued ("PL.(300)").
    #[serde(default)]
    pub typer_initials: Option<String>,
    #[serde(default)]
    pub copies: Option<u16>,
}

/// The signer of a document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignerSpec {
    /// direct, on_behalf_of (TM.), acting (Q.), for_head (KT.), by_order (TL.), by_authorisation (TUQ.).
    #[serde(default = "direct")]
    pub authority: String,
    /// For TM.: the collective body ("Ủy ban nhân dân"); with KT. it adds the "TM." line.
    #[serde(default)]
    pub collective: Option<String>,
    /// For KT./Q./TL./TUQ.: the head's title ("Chủ tịch", "Giám đốc").
    #[serde(default)]
    pub head_title: Option<String>,
    /// The signer's position ("Phó Chủ tịch").
    pub position: String,
    pub full_name: String,
}

fn direct() -> String {
    "direct".to_owned()
}

/// An appendix in the same file (numbered Phụ lục I, II, …).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppendixSpec {
    pub title: String,
    pub body: Vec<Value>,
}

/// What the layout prints, every string final.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Prepared {
    pub title_plain: String,
    pub parent_agency: Option<String>,
    pub agency: String,
    pub number: Option<String>,
    pub notation: String,
    pub place: String,
    /// "ngày 05 tháng 12 năm 2026", or `None` for fields.
    pub date: Option<String>,
    pub year: i32,
    pub cong_van: bool,
    pub type_title: String,
    pub subject: String,
    pub marks: Vec<String>,
    pub addressees: Vec<String>,
    pub body: Vec<Value>,
    pub recipients: Vec<String>,
    pub archive: String,
    pub authority_lines: Vec<String>,
    pub signer_name: String,
    pub appendices: Vec<PreparedAppendix>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PreparedAppendix {
    pub heading: String,
    pub title: String,
    pub reference: String,
    pub body: Vec<Value>,
}

/// "ngày 05 tháng 02 năm 2026": days below 10 and months 1 and 2 are zero-padded (Appendix I).
pub fn vietnamese_date(d: NaiveDate) -> String {
    let (day, month) = vanban_domain::decree_day_month(d);
    format!("ngày {day} tháng {month} năm {}", d.year())
}

/// Roman numerals for appendix numbers.
fn roman(mut n: usize) -> String {
    const TABLE: [(usize, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut s = String::new();
    for (v, r) in TABLE {
        while n >= v {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

fn text(field: &'static str, s: &str, max: usize, required: bool) -> Result<String, RenderError> {
    Ok(vanban_domain::clean_text(field, s, max, required)?)
}

/// Checks the shape of body blocks, NFC-normalising their text, so the layout never meets
/// what it cannot show. `path` names the place in errors ("body[3].table.rows[1][0]").
fn check_blocks(path: &str, blocks: &[Value]) -> Result<Vec<Value>, RenderError> {
    fn runs(path: &str, v: &Value) -> Result<Value, RenderError> {
        match v {
            Value::String(s) => Ok(Value::String(vanban_domain::nfc(s))),
            Value::Array(items) => items.iter().enumerate().map(|(i, r)| run(&format!("{path}[{i}]"), r)).collect(),
            _ => Err(RenderError::Body(format!("{path}: expected text or a list of runs"))),
        }
    }
    fn run(path: &str, v: &Value) -> Result<Value, RenderError> {
        match v {
            Value::String(s) => Ok(Value::String(vanban_domain::nfc(s))),
            Value::Object(o) if o.len() == 1 => {
                let (k, t) = o.iter().next().ok_or_else(|| RenderError::Body(path.to_owned()))?;
                match (k.as_str(), t) {
                    ("b" | "i" | "bi", Value::String(s)) => Ok(serde_json::json!({ k: vanban_domain::nfc(s) })),
                    _ => Err(RenderError::Body(format!("{path}: a run is text or {{\"b\"|\"i\"|\"bi\": text}}"))),
                }
            }
            _ => Err(RenderError::Body(format!("{path}: a run is text or {{\"b\"|\"i\"|\"bi\": text}}"))),
        }
    }
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let p = format!("{path}[{i}]");
            match b {
                Value::String(_) | Value::Array(_) => runs(&p, b),
                Value::Object(o) if o.len() == 1 => {
                    let (k, v) = o.iter().next().ok_or_else(|| RenderError::Body(p.clone()))?;
                    match k.as_str() {
                        "p" | "heading" | "center" => Ok(serde_json::json!({ k: runs(&format!("{p}.{k}"), v)? })),
                        "list" => {
                            let items =
                                v.as_array().ok_or_else(|| RenderError::Body(format!("{p}.list: expected a list")))?;
                            let items: Result<Vec<_>, _> =
                                items.iter().enumerate().map(|(j, it)| runs(&format!("{p}.list[{j}]"), it)).collect();
                            Ok(serde_json::json!({ "list": items? }))
                        }
                        "table" => {
                            let header = v.get("header").and_then(Value::as_array);
                            let rows = v.get("rows").and_then(Value::as_array);
                            let (Some(header), Some(rows)) = (header, rows) else {
                                return Err(RenderError::Body(format!("{p}.table: needs \"header\" and \"rows\"")));
                            };
                            if header.is_empty() {
                                return Err(RenderError::Body(format!("{p}.table.header: empty")));
                            }
                            let header = header
                                .iter()
                                .map(|h| h.as_str().map(|s| Value::String(vanban_domain::nfc(s))))
                                .collect::<Option<Vec<_>>>()
                                .ok_or_else(|| RenderError::Body(format!("{p}.table.header: expected text")))?;
                            let mut out_rows = Vec::new();
                            for (j, row) in rows.iter().enumerate() {
                                let cells = row.as_array().filter(|c| c.len() == header.len()).ok_or_else(|| {
                                    RenderError::Body(format!("{p}.table.rows[{j}]: expected {} cells", header.len()))
                                })?;
                                let cells: Result<Vec<_>, _> = cells
                                    .iter()
                                    .enumerate()
                                    .map(|(c, v)| runs(&format!("{p}.table.rows[{j}][{c}]"), v))
                                    .collect();
                                out_rows.push(Value::Array(cells?));
                            }
                            Ok(serde_json::json!({ "table": { "header": header, "rows": out_rows } }))
                        }
                        other => Err(RenderError::Body(format!("{p}: unknown block \"{other}\""))),
                    }
                }
                _ => Err(RenderError::Body(format!("{p}: expected a paragraph, heading, list or table"))),
            }
        })
        .collect()
}

impl DocumentSpec {
    /// Checks everything a render would check, without rendering.
    pub fn check(&self, today: NaiveDate) -> Result<(), RenderError> {
        self.prepare(today).map(|_| ())
    }

    /// Validates the document and computes every printed string. `today` gives the year of
    /// an undated date line when `year` is absent.
    pub(crate) fn prepare(&self, today: NaiveDate) -> Result<Prepared, RenderError> {
        let doc_type: DocumentType = self.doc_type.parse()?;
        let cong_van = doc_type == DocumentType::CongVan;
        let agency = text("agency", &self.agency, 200, true)?;
        let issuer = vanban_domain::Abbreviation::parse(&self.agency_abbreviation)?;
        let unit = self.unit_abbreviation.as_deref().map(vanban_domain::Abbreviation::parse).transpose()?;
        let notation = match &self.notation {
            Some(n) => vanban_domain::Notation::parse(n)?,
            None => vanban_domain::notation_for(doc_type, &issuer, unit.as_ref())?,
        };
        let number = self.number.map(vanban_domain::DocumentNumber::new).transpose()?.map(|n| n.to_string());
        // Letters, slips and passes have no excerpt in the decree's forms.
        let no_excerpt = matches!(
            doc_type,
            DocumentType::ThuCong
                | DocumentType::GiayGioiThieu
                | DocumentType::GiayNghiPhep
                | DocumentType::PhieuGui
                | DocumentType::PhieuChuyen
                | DocumentType::PhieuBao
        );
        let subject = text("Subject", &self.subject, 500, !no_excerpt)?;
        let subject = if cong_van && !subject.is_empty() && !subject.starts_with("V/v") {
            format!("V/v {subject}")
        } else {
            subject
        };
        let priority = Priority::from_code(self.priority)
            .ok_or(vanban_domain::DomainError::InvalidValue { field: "Priority", reason: "0 to 4" })?;
        let secrecy = match &self.secrecy {
            Some(s) => Secrecy::from_snake(s).ok_or(vanban_domain::DomainError::InvalidValue {
                field: "secrecy",
                reason: "unknown secrecy level",
            })?,
            None => Secrecy::Normal,
        };
        let mut marks = Vec::new();
        if priority.is_urgent() {
            marks.push(priority.label_vi().to_uppercase());
        }
        if secrecy != Secrecy::Normal {
            marks.push(secrecy.label_vi().to_uppercase());
        }
        let signer = self.signer.as_ref().ok_or(vanban_domain::DomainError::FieldRequired { field: "signer" })?;
        let authority: SigningAuthority = signer.authority.parse()?;
        let position = text("SignerInfo.Position", &signer.position, 100, true)?;
        let full_name = text("SignerInfo.FullName", &signer.full_name, 50, true)?;
        let head = signer.head_title.as_deref().unwrap_or(&position);
        let authority_lines = match signer.collective.as_deref() {
            // "TM. ỦY BAN NHÂN DÂN" (/ "KT. CHỦ TỊCH") / "PHÓ CHỦ TỊCH"
            Some(c) => vanban_domain::collective_authority_lines(c, authority, head, &position),
            None => vanban_domain::authority_lines(authority, head, &position),
        };
        let year = self.year.or(self.date.map(|d| d.year())).unwrap_or(today.year());
        // A letter (thư công) carries no type name.
        let type_title =
            if doc_type == DocumentType::ThuCong { String::new() } else { doc_type.name_vi().to_uppercase() };
        let reference_of = |what: &str| match (&number, self.date) {
            (Some(n), Some(d)) => format!("(Kèm theo {what} số {n}/{notation} {} của {agency})", vietnamese_date(d)),
            _ => format!("(Kèm theo {what} số      /{notation} ngày      tháng      năm {year} của {agency})"),
        };
        let appendices = self
            .appendices
            .iter()
            .enumerate()
            .map(|(i, a)| {
                Ok(PreparedAppendix {
                    heading: format!("Phụ lục {}", roman(i + 1)),
                    title: text("appendix.title", &a.title, 250, true)?,
                    reference: reference_of(doc_type.name_vi()),
                    body: check_blocks(&format!("appendices[{i}].body"), &a.body)?,
                })
            })
            .collect::<Result<Vec<_>, RenderError>>()?;
        let mut archive = String::from("Lưu: VT");
        for u in &self.archive_units {
            archive.push_str(", ");
            archive.push_str(&text("archive_units", u, 30, true)?);
        }
        if let Some(t) = &self.typer_initials {
            archive.push_str(", ");
            archive.push_str(&text("TyperNotation", t, 10, true)?);
            if let Some(c) = self.copies {
                archive.push_str(&format!(".({c})"));
            }
        }
        archive.push('.');
        if self.body.is_empty() {
            return Err(vanban_domain::DomainError::FieldRequired { field: "body" }.into());
        }
        Ok(Prepared {
            title_plain: format!("{} {}", doc_type.name_vi(), subject).trim().to_owned(),
            parent_agency: self.parent_agency.as_deref().map(|p| text("parent_agency", p, 200, true)).transpose()?,
            agency,
            number,
            notation: notation.as_str().to_owned(),
            place: text("place", &self.place, 50, true)?,
            date: self.date.map(vietnamese_date),
            year,
            cong_van,
            type_title,
            subject,
            marks,
            addressees: self.addressees.iter().map(|a| text("addressees", a, 200, true)).collect::<Result<_, _>>()?,
            body: check_blocks("body", &self.body)?,
            recipients: self.recipients.iter().map(|r| text("recipients", r, 200, true)).collect::<Result<_, _>>()?,
            archive,
            authority_lines,
            signer_name: full_name,
            appendices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_padded_as_the_decree_says() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(vietnamese_date(d(2026, 2, 5)), "ngày 05 tháng 02 năm 2026");
        assert_eq!(vietnamese_date(d(2026, 1, 15)), "ngày 15 tháng 01 năm 2026");
        assert_eq!(vietnamese_date(d(2026, 3, 9)), "ngày 09 tháng 3 năm 2026");
        assert_eq!(vietnamese_date(d(2026, 12, 31)), "ngày 31 tháng 12 năm 2026");
    }

    #[test]
    fn roman_numerals() {
        assert_eq!((1..=6).map(roman).collect::<Vec<_>>(), ["I", "II", "III", "IV", "V", "VI"]);
        assert_eq!(roman(14), "XIV");
    }

    #[test]
    fn body_blocks_are_checked_and_named() {
        let ok = serde_json::json!(["Đoạn một.", {"p": ["Có ", {"b": "chữ đậm"}, " và ", {"i": "nghiêng"}]},
            {"heading": "Điều 1."}, {"list": ["a", "b"]}, {"table": {"header": ["STT", "Nội dung"], "rows": [["1", "x"]]}}]);
        assert_eq!(check_blocks("body", ok.as_array().unwrap()).unwrap().len(), 5);
        let bad = serde_json::json!(["ok", {"table": {"header": ["A", "B"], "rows": [["only one"]]}}]);
        let e = check_blocks("body", bad.as_array().unwrap()).unwrap_err().to_string();
        assert!(e.contains("body[1].table.rows[0]"), "{e}");
        let bad = serde_json::json!([{"image": "x.png"}]);
        assert!(check_blocks("body", bad.as_array().unwrap()).unwrap_err().to_string().contains("unknown block"));
        let bad = serde_json::json!([{"p": [{"u": "gạch chân"}]}]);
        assert!(check_blocks("body", bad.as_array().unwrap()).is_err());
        let nfd = serde_json::json!(["Quye\u{0302}\u{0301}t đi\u{0323}nh"]);
        assert_eq!(check_blocks("body", nfd.as_array().unwrap()).unwrap()[0], "Quyết định");
    }
}
