//! Field checks: the maximum lengths of QCVN 102:2016 as enforced by the national axis' peers,
//! the required elements, duplicate recipients, status codes. Oddities that do not prevent
//! processing (invalid dates, unusual agency codes) are warnings.
//!
//! The limits of OrganName, OrganizationInCharge, OrganAdd, Email, Telephone, Fax, CodeNumber,
//! CodeNotation, Place, TypeName, Subject, Content, SphereOfPromulgation, TyperNotation, Appendix
//! and ToPlaces/Place are those of standards.md §2.2. The others (OrganId 35, Website, SignerInfo,
//! StaffInfo, DocumentId, reasons) are generous bounds of ours [U].

use crate::error::EdxmlError;
use crate::model::*;

fn max_len(element: &str, value: &str, max: usize) -> Result<(), EdxmlError> {
    let len = value.chars().count();
    if len > max { Err(EdxmlError::TooLong { element: element.to_owned(), max, len }) } else { Ok(()) }
}

fn required(element: &str, value: &str) -> Result<(), EdxmlError> {
    if value.trim().is_empty() { Err(EdxmlError::MissingElement(element.to_owned())) } else { Ok(()) }
}

/// Whether an agency code is well formed: the legacy QCVN 102 code `000.00.00.H49`, or a
/// QĐ 20/2020 code (groups of `0-9A-Z` separated by dots, level 1 first, at most 35 characters)
/// whose first group is a level-1 code (a letter and two digits, e.g. `H49.01`).
pub fn is_valid_organ_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('.').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let level1 = |s: &str| {
        let b = s.as_bytes();
        b.len() == 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit()
    };
    let legacy =
        groups.len() == 4 && digits(groups[0], 3) && digits(groups[1], 2) && digits(groups[2], 2) && level1(groups[3]);
    let qd20 = id.len() <= 35
        && groups.iter().all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()))
        && level1(groups[0]);
    legacy || qd20
}

fn organ_id_warning(element: &str, id: &str, warnings: &mut Vec<Warning>) {
    if !id.is_empty() && !is_valid_organ_id(id) {
        warnings.push(Warning::new(
            element,
            "invalid_organ_id",
            format!("{id:?} is neither a QCVN 102:2016 nor a QĐ 20/2020 agency code"),
        ));
    }
}

fn date_warning(element: &str, d: &EdDate, warnings: &mut Vec<Warning>) {
    if !d.raw.is_empty() && d.date.is_none() {
        warnings.push(Warning::new(element, "invalid_date", format!("{:?} is not a valid date", d.raw)));
    }
}

fn document_id_warning(element: &str, id: &str, warnings: &mut Vec<Warning>) {
    if id.is_empty() {
        return;
    }
    match crate::split_document_id(id) {
        Some((organ, date, _)) => {
            organ_id_warning(element, &organ, warnings);
            date_warning(element, &EdDate::parse(&date), warnings);
        }
        None => warnings.push(Warning::new(
            element,
            "invalid_document_id",
            format!("{id:?} is not \"<OrganId>,<yyyy/MM/dd>,<number>/<notation>\""),
        )),
    }
}

fn organization(path: &str, o: &Organization, warnings: &mut Vec<Warning>) -> Result<(), EdxmlError> {
    required(&format!("{path}/OrganId"), &o.organ_id)?;
    max_len(&format!("{path}/OrganId"), &o.organ_id, 35)?;
    max_len(&format!("{path}/OrganName"), &o.organ_name, 200)?;
    max_len(&format!("{path}/OrganizationInCharge"), &o.organization_in_charge, 500)?;
    max_len(&format!("{path}/OrganAdd"), &o.organ_add, 500)?;
    max_len(&format!("{path}/Email"), &o.email, 100)?;
    max_len(&format!("{path}/Telephone"), &o.telephone, 20)?;
    max_len(&format!("{path}/Fax"), &o.fax, 20)?;
    max_len(&format!("{path}/Website"), &o.website, 100)?;
    organ_id_warning(&format!("{path}/OrganId"), &o.organ_id, warnings);
    Ok(())
}

fn staff(path: &str, s: &StaffInfo) -> Result<(), EdxmlError> {
    max_len(&format!("{path}/Department"), &s.department, 200)?;
    max_len(&format!("{path}/Staff"), &s.staff, 100)?;
    max_len(&format!("{path}/Email"), &s.email, 100)?;
    max_len(&format!("{path}/Mobile"), &s.mobile, 20)
}

/// Checks a document package before writing it or after reading it. Errors name the element.
pub fn validate_edoc(e: &Edoc) -> Result<Vec<Warning>, EdxmlError> {
    let mut w = Vec::new();
    let h = &e.header;
    organization("MessageHeader/From", &h.from, &mut w)?;
    if h.to.is_empty() {
        return Err(EdxmlError::MissingElement("MessageHeader/To".to_owned()));
    }
    let mut seen: Vec<&str> = Vec::new();
    for to in &h.to {
        organization("MessageHeader/To", to, &mut w)?;
        if seen.contains(&to.organ_id.as_str()) {
            return Err(EdxmlError::DuplicateRecipient(to.organ_id.clone()));
        }
        seen.push(&to.organ_id);
    }
    required("MessageHeader/DocumentId", &h.document_id)?;
    max_len("MessageHeader/DocumentId", &h.document_id, 100)?;
    document_id_warning("MessageHeader/DocumentId", &h.document_id, &mut w);
    max_len("MessageHeader/Code/CodeNumber", &h.code.number, 11)?;
    max_len("MessageHeader/Code/CodeNotation", &h.code.notation, 30)?;
    max_len("MessageHeader/PromulgationInfo/Place", &h.place, 50)?;
    date_warning("MessageHeader/PromulgationInfo/PromulgationDate", &h.promulgation_date, &mut w);
    max_len("MessageHeader/DocumentType/TypeName", &h.document_type.type_name, 100)?;
    required("MessageHeader/Subject", &h.subject)?;
    max_len("MessageHeader/Subject", &h.subject, 500)?;
    max_len("MessageHeader/Content", &h.content, 500)?;
    max_len("MessageHeader/SignerInfo/Competence", &h.signer.competence, 200)?;
    max_len("MessageHeader/SignerInfo/Position", &h.signer.position, 200)?;
    max_len("MessageHeader/SignerInfo/FullName", &h.signer.full_name, 100)?;
    if let Some(d) = &h.due_date {
        date_warning("MessageHeader/DueDate", d, &mut w);
    }
    let o = &h.other_info;
    if !o.priority.is_empty() && !matches!(o.priority.as_str(), "0" | "1" | "2" | "3" | "4") {
        w.push(Warning::new(
            "MessageHeader/OtherInfo/Priority",
            "invalid_priority",
            format!("{:?} is not a priority code 0..4", o.priority),
        ));
    }
    max_len("MessageHeader/OtherInfo/SphereOfPromulgation", &o.sphere_of_promulgation, 100)?;
    max_len("MessageHeader/OtherInfo/TyperNotation", &o.typer_notation, 10)?;
    for a in &o.appendixes {
        max_len("MessageHeader/OtherInfo/Appendixes/Appendix", a, 250)?;
    }
    for r in &h.response_for {
        organ_id_warning("MessageHeader/ResponseFor/OrganId", &r.organ_id, &mut w);
        date_warning("MessageHeader/ResponseFor/PromulgationDate", &r.promulgation_date, &mut w);
        document_id_warning("MessageHeader/ResponseFor/DocumentId", &r.document_id, &mut w);
    }
    if let Some(s) = &h.steering_type
        && !matches!(s.as_str(), "0" | "1" | "2")
    {
        w.push(Warning::new("MessageHeader/SteeringType", "invalid_steering_type", format!("{s:?} is not 0, 1 or 2")));
    }
    for p in &h.to_places {
        max_len("MessageHeader/ToPlaces/Place", p, 150)?;
    }
    for t in &e.trace.traces {
        if !t.timestamp.raw.is_empty() && t.timestamp.value.is_none() {
            w.push(Warning::new(
                "TraceHeaderList/TraceHeader/Timestamp",
                "invalid_timestamp",
                format!("{:?} is not a valid timestamp", t.timestamp.raw),
            ));
        }
    }
    let b = &e.trace.business;
    document_id_warning("TraceHeaderList/Bussiness/DocumentId", &b.document_id, &mut w);
    max_len("TraceHeaderList/Bussiness/BussinessDocReason", &b.reason, 500)?;
    staff("TraceHeaderList/Bussiness/StaffInfo", &b.staff)?;
    for a in &e.attachments {
        max_len("AttachmentEncoded/Attachment/AttachmentName", &a.name, 255)?;
    }
    Ok(w)
}

/// Checks a status package: the reporting agency, the document reported on, the status code.
pub fn validate_status(s: &StatusPackage) -> Result<Vec<Warning>, EdxmlError> {
    let mut w = Vec::new();
    organization("MessageHeader/From", &s.from, &mut w)?;
    let code = s.status_code.trim();
    let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) && matches!(code.parse::<u8>(), Ok(1..=16));
    if !ok {
        return Err(EdxmlError::Invalid {
            element: "MessageHeader/StatusCode".to_owned(),
            reason: format!("{code:?} is not a status code 01..16"),
        });
    }
    required("MessageHeader/ResponseFor/DocumentId", &s.response_for.document_id)?;
    organ_id_warning("MessageHeader/ResponseFor/OrganId", &s.response_for.organ_id, &mut w);
    date_warning("MessageHeader/ResponseFor/PromulgationDate", &s.response_for.promulgation_date, &mut w);
    document_id_warning("MessageHeader/ResponseFor/DocumentId", &s.response_for.document_id, &mut w);
    staff("MessageHeader/StaffInfo", &s.staff)?;
    max_len("MessageHeader/Description", &s.description, 2000)?;
    if !s.timestamp.raw.is_empty() && s.timestamp.value.is_none() {
        w.push(Warning::new(
            "MessageHeader/Timestamp",
            "invalid_timestamp",
            format!("{:?} is not a valid timestamp", s.timestamp.raw),
        ));
    }
    Ok(w)
}
