//! Parsing packages: the whole package into the model, or only its routing data.

use std::io::{BufRead, Read as _};

use base64::Engine as _;
use quick_xml::events::Event;

use crate::error::EdxmlError;
use crate::model::*;
use crate::xml::{self, El};
use crate::{DSIG_NS, NS};

/// Decompressed files above this size must also respect `Limits::max_ratio`.
const RATIO_FLOOR: u64 = 1 << 20;

fn org(el: &El) -> Organization {
    Organization {
        organ_id: el.text_of("OrganId"),
        organ_name: el.text_of("OrganName"),
        organization_in_charge: el.text_of("OrganizationInCharge"),
        organ_add: el.text_of("OrganAdd"),
        email: el.text_of("Email"),
        telephone: el.text_of("Telephone"),
        fax: el.text_of("Fax"),
        website: el.text_of("Website"),
    }
}

fn staff(el: Option<&El>) -> StaffInfo {
    el.map(|s| StaffInfo {
        department: s.text_of("Department"),
        staff: s.text_of("Staff"),
        email: s.text_of("Email"),
        mobile: s.text_of("Mobile"),
    })
    .unwrap_or_default()
}

fn response_for(el: &El) -> ResponseFor {
    ResponseFor {
        organ_id: el.text_of("OrganId"),
        code: el.text_of("Code"),
        promulgation_date: EdDate::parse(&el.text_of("PromulgationDate")),
        document_id: el.text_of("DocumentId"),
    }
}

/// Parses a package: an `edoc` or a `status`. Tolerates what real traffic contains (see the crate
/// documentation) and reports it as warnings; refuses what cannot be trusted.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, EdxmlError> {
    if bytes.len() as u64 > limits.max_package_bytes {
        return Err(EdxmlError::TooLarge(format!(
            "{} bytes, at most {} allowed",
            bytes.len(),
            limits.max_package_bytes
        )));
    }
    let (xml_bytes, _, junk) = xml::strip_junk(bytes)?;
    let mut warnings: Vec<Warning> = junk.into_iter().collect();
    let root = xml::parse_tree(xml_bytes)?;
    if root.ns.as_deref() != Some(NS) {
        return Err(EdxmlError::WrongNamespace(root.ns.clone().unwrap_or_default()));
    }
    if root.local != "edXML" {
        return Err(EdxmlError::MissingElement("edXML".to_owned()));
    }
    let envelope = root.child("edXMLEnvelope").ok_or_else(|| EdxmlError::MissingElement("edXMLEnvelope".into()))?;
    let header =
        envelope.child("edXMLHeader").ok_or_else(|| EdxmlError::MissingElement("edXMLEnvelope/edXMLHeader".into()))?;
    let signature = header
        .children
        .iter()
        .chain(envelope.children.iter())
        .find(|c| c.local == "Signature" && matches!(c.ns.as_deref(), Some(DSIG_NS) | Some(NS)))
        .map(|s| signature_info(s, &mut warnings));

    let package = if let Some(status_el) = header.child("Status") {
        Package::Status(status(status_el)?)
    } else {
        let mh = header.child("MessageHeader").ok_or_else(|| EdxmlError::MissingElement("MessageHeader".into()))?;
        if mh.child("StatusCode").is_some() {
            Package::Status(status(mh)?)
        } else {
            Package::Edoc(edoc(&root, envelope, header, mh, limits, &mut warnings)?)
        }
    };
    match &package {
        Package::Edoc(e) => warnings.extend(crate::validate::validate_edoc(e)?),
        Package::Status(s) => warnings.extend(crate::validate::validate_status(s)?),
    }
    Ok(Parsed { package, signature, warnings })
}

fn signature_info(sig: &El, warnings: &mut Vec<Warning>) -> SignatureInfo {
    let signed_info = sig.child("SignedInfo");
    let alg = |name: &str| {
        signed_info.and_then(|si| si.child(name)).and_then(|m| m.attr("Algorithm")).unwrap_or_default().to_owned()
    };
    let digest_method = signed_info
        .and_then(|si| si.child("Reference"))
        .and_then(|r| r.child("DigestMethod"))
        .and_then(|m| m.attr("Algorithm"))
        .unwrap_or_default()
        .to_owned();
    let x509 = sig.child("KeyInfo").and_then(|k| k.child("X509Data"));
    let subject_name = x509.and_then(|x| x.child("X509SubjectName")).map(|s| s.text.trim().to_owned());
    let certificate_der = x509.and_then(|x| x.child("X509Certificate")).and_then(|c| {
        let b64: String = c.text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .filter(|d| vanban_pki::Cert::from_der(d).is_ok());
        if der.is_none() {
            warnings.push(Warning::new(
                "Signature/KeyInfo/X509Data/X509Certificate",
                "certificate_undecodable",
                "the signer certificate cannot be decoded",
            ));
        }
        der
    });
    SignatureInfo {
        signature_method: alg("SignatureMethod"),
        digest_method,
        c14n_method: alg("CanonicalizationMethod"),
        certificate_der,
        subject_name,
    }
}

fn status(mh: &El) -> Result<StatusPackage, EdxmlError> {
    let from = mh.child("From").ok_or_else(|| EdxmlError::MissingElement("MessageHeader/From".into()))?;
    let rf = mh.child("ResponseFor").ok_or_else(|| EdxmlError::MissingElement("MessageHeader/ResponseFor".into()))?;
    if mh.child("StatusCode").is_none() {
        return Err(EdxmlError::MissingElement("MessageHeader/StatusCode".into()));
    }
    Ok(StatusPackage {
        from: org(from),
        response_for: response_for(rf),
        staff: staff(mh.child("StaffInfo")),
        status_code: mh.text_of("StatusCode"),
        description: mh.text_of("Description"),
        timestamp: EdDateTime::parse(&mh.text_of("Timestamp")),
    })
}

fn edoc(
    root: &El,
    envelope: &El,
    header: &El,
    mh: &El,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<Edoc, EdxmlError> {
    let from = mh.child("From").ok_or_else(|| EdxmlError::MissingElement("MessageHeader/From".into()))?;
    let code = mh.child("Code");
    let pinfo = mh.child("PromulgationInfo");
    let dtype = mh.child("DocumentType");
    let signer = mh.child("SignerInfo");
    let other = mh.child("OtherInfo");
    let h = EdocHeader {
        from: org(from),
        to: mh.children_named("To").map(org).collect(),
        document_id: mh.text_of("DocumentId"),
        code: Code {
            number: code.map(|c| c.text_of("CodeNumber")).unwrap_or_default(),
            notation: code.map(|c| c.text_of("CodeNotation")).unwrap_or_default(),
        },
        place: pinfo.map(|p| p.text_of("Place")).unwrap_or_default(),
        promulgation_date: EdDate::parse(&pinfo.map(|p| p.text_of("PromulgationDate")).unwrap_or_default()),
        document_type: DocumentTypeInfo {
            r#type: dtype.map(|d| d.text_of("Type")).unwrap_or_default(),
            type_detail: dtype.map(|d| d.text_of("TypeDetail")).unwrap_or_default(),
            type_name: dtype.map(|d| d.text_of("TypeName")).unwrap_or_default(),
        },
        subject: mh.text_of("Subject"),
        content: mh.text_of("Content"),
        signer: SignerInfo {
            competence: signer.map(|s| s.text_of("Competence")).unwrap_or_default(),
            position: signer.map(|s| s.text_of("Position")).unwrap_or_default(),
            full_name: signer.map(|s| s.text_of("FullName")).unwrap_or_default(),
        },
        due_date: mh.child("DueDate").map(|d| EdDate::parse(&d.text)).filter(|d| !d.is_empty()),
        other_info: other
            .map(|o| OtherInfo {
                priority: o.text_of("Priority"),
                sphere_of_promulgation: o.text_of("SphereOfPromulgation"),
                typer_notation: o.text_of("TyperNotation"),
                promulgation_amount: o.text_of("PromulgationAmount"),
                page_amount: o.text_of("PageAmount"),
                direction: o.text_of("Direction"),
                appendixes: o
                    .child("Appendixes")
                    .map(|a| a.children_named("Appendix").map(|x| x.text.trim().to_owned()).collect())
                    .unwrap_or_default(),
            })
            .unwrap_or_default(),
        response_for: mh.children_named("ResponseFor").map(response_for).collect(),
        steering_type: mh.child("SteeringType").map(|s| s.text.trim().to_owned()).filter(|s| !s.is_empty()),
        to_places: mh
            .child("ToPlaces")
            .map(|p| p.children_named("Place").map(|x| x.text.trim().to_owned()).collect())
            .unwrap_or_default(),
    };
    let trace = trace_list(header.child("TraceHeaderList"), warnings)?;
    let attachments = attachments(root, envelope, limits, warnings)?;
    Ok(Edoc { header: h, trace, attachments })
}

const BUSINESS: &[&str] = &["Bussiness", "Business"];

fn trace_list(el: Option<&El>, warnings: &mut Vec<Warning>) -> Result<TraceHeaderList, EdxmlError> {
    let Some(el) = el else {
        warnings.push(Warning::new("TraceHeaderList", "missing_trace", "no TraceHeaderList: taken as a new document"));
        return Ok(TraceHeaderList::default());
    };
    let traces = el
        .children_named("TraceHeader")
        .map(|t| TraceHeader { organ_id: t.text_of("OrganId"), timestamp: EdDateTime::parse(&t.text_of("Timestamp")) })
        .collect();
    let Some(b) = el.child_any(BUSINESS) else {
        warnings.push(Warning::new(
            "TraceHeaderList/Bussiness",
            "missing_business",
            "no Bussiness element: taken as a new document",
        ));
        return Ok(TraceHeaderList { traces, business: Business::default() });
    };
    let type_text = b.text_of_any(&["BussinessDocType", "BusinessDocType"]);
    let doc_type = if type_text.is_empty() {
        warnings.push(Warning::new(
            "TraceHeaderList/Bussiness/BussinessDocType",
            "missing_business_type",
            "no BussinessDocType: taken as a new document (0)",
        ));
        BusinessDocType::New
    } else {
        BusinessDocType::from_text(&type_text).ok_or_else(|| EdxmlError::Invalid {
            element: "TraceHeaderList/Bussiness/BussinessDocType".into(),
            reason: format!("{type_text:?} is not 0, 1, 2 or 3"),
        })?
    };
    let document_info = b.child_any(&["BussinessDocumentInfo", "BusinessDocumentInfo"]).map(|i| BusinessDocumentInfo {
        document_info: i.text_of("DocumentInfo"),
        document_receiver: i.text_of("DocumentReceiver"),
        receivers: i
            .child("ReceiverList")
            .map(|l| {
                l.children_named("Receiver")
                    .map(|r| Receiver { organ_id: r.text_of("OrganId"), receiver_type: r.text_of("ReceiverType") })
                    .collect()
            })
            .unwrap_or_default(),
    });
    let replacements = b
        .child("ReplacementInfoList")
        .map(|l| {
            l.children_named("ReplacementInfo")
                .map(|r| ReplacementInfo {
                    document_id: r.text_of("DocumentId"),
                    organ_ids: r
                        .child("OrganIdList")
                        .map(|o| o.children_named("OrganId").map(|x| x.text.trim().to_owned()).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TraceHeaderList {
        traces,
        business: Business {
            document_id: b.text_of("DocumentId"),
            doc_type,
            reason: b.text_of_any(&["BussinessDocReason", "BusinessDocReason"]),
            paper: b.text_of("Paper"),
            staff: staff(b.child("StaffInfo")),
            document_info,
            replacements,
        },
    })
}

/// Manifest metadata by content id.
struct Declared {
    content_id: String,
    content_type: String,
    description: String,
    name: String,
}

fn manifest(envelope: &El) -> Vec<Declared> {
    let Some(m) = envelope.child("edXMLBody").and_then(|b| b.child("edXMLManifest")) else { return Vec::new() };
    m.children_named("Reference")
        .map(|r| {
            let mut content_id = r.text_of("ContentId");
            if content_id.is_empty() {
                content_id = r.attr("href").unwrap_or_default().trim().to_owned();
            }
            Declared {
                content_id,
                content_type: r.text_of("ContentType"),
                description: r.text_of("Description"),
                name: r.text_of("AttachmentName"),
            }
        })
        .collect()
}

fn attachments(
    root: &El,
    envelope: &El,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Attachment>, EdxmlError> {
    let declared = manifest(envelope);
    let encoded: Vec<&El> =
        root.child("AttachmentEncoded").map(|a| a.children_named("Attachment").collect()).unwrap_or_default();
    if encoded.len() > limits.max_attachments {
        return Err(EdxmlError::TooLarge(format!(
            "{} attachments, at most {} allowed",
            encoded.len(),
            limits.max_attachments
        )));
    }
    let mut out = Vec::with_capacity(encoded.len());
    for (i, a) in encoded.iter().enumerate() {
        let mut content_id = a.text_of("ContentId");
        if content_id.is_empty() {
            content_id = format!("#{}", i + 1);
        }
        let decl = declared.iter().find(|d| d.content_id == content_id);
        let pick = |own: String, f: fn(&Declared) -> &String| {
            if own.is_empty() { decl.map(|d| f(d).clone()).unwrap_or_default() } else { own }
        };
        let name = pick(a.text_of("AttachmentName"), |d| &d.name);
        let description = pick(a.text_of("Description"), |d| &d.description);
        let content_type = pick(a.text_of("ContentType"), |d| &d.content_type);
        let raw = match a.child("ContentTransferEncoded").and_then(|c| c.data.as_ref()) {
            Some(Ok(d)) => d.clone(),
            Some(Err(())) => return Err(EdxmlError::BadBase64 { content_id }),
            None => {
                return Err(EdxmlError::MissingElement(
                    "AttachmentEncoded/Attachment/ContentTransferEncoded".to_owned(),
                ));
            }
        };
        let (data, zipped) = if content_type.trim().eq_ignore_ascii_case("application/zip") {
            match unzip(&raw, &content_id, limits, warnings)? {
                Some(d) => (d, true),
                None => (raw, false),
            }
        } else {
            (raw, false)
        };
        out.push(Attachment { content_id, name, description, content_type, data, zipped });
    }
    for d in &declared {
        if !out.iter().any(|a| a.content_id == d.content_id) {
            warnings.push(Warning::new(
                "edXMLBody/edXMLManifest/Reference",
                "missing_attachment",
                format!("the manifest declares {} ({}) but the package does not carry it", d.content_id, d.name),
            ));
        }
    }
    Ok(out)
}

/// The single file of a zipped attachment. None (with a warning) when the bytes are not a zip.
fn unzip(
    raw: &[u8],
    content_id: &str,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Vec<u8>>, EdxmlError> {
    let element = "AttachmentEncoded/Attachment/ContentTransferEncoded";
    let not_zip = |warnings: &mut Vec<Warning>, why: String| {
        warnings.push(Warning::new(
            element,
            "attachment_not_zip",
            format!("{content_id} is declared application/zip but {why}: kept as is"),
        ));
        Ok(None)
    };
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(raw)) {
        Ok(a) => a,
        Err(e) => return not_zip(warnings, format!("is not a zip archive ({e})")),
    };
    let files: Vec<usize> =
        (0..archive.len()).filter(|&i| archive.by_index_raw(i).map(|f| !f.is_dir()).unwrap_or(false)).collect();
    let Some(&index) = files.first() else { return not_zip(warnings, "the archive holds no file".to_owned()) };
    if files.len() > 1 {
        warnings.push(Warning::new(
            element,
            "attachment_zip_entries",
            format!("{content_id} holds {} files; only the first was taken", files.len()),
        ));
    }
    let bomb = || EdxmlError::ZipBomb { content_id: content_id.to_owned() };
    let mut file = match archive.by_index(index) {
        Ok(f) => f,
        Err(e) => return not_zip(warnings, format!("its entry cannot be read ({e})")),
    };
    let limit = limits.max_attachment_bytes;
    if file.size() > limit {
        return Err(bomb());
    }
    let compressed = file.compressed_size().max(1);
    let mut data = Vec::with_capacity(file.size().min(limit) as usize);
    match (&mut file).take(limit + 1).read_to_end(&mut data) {
        Ok(_) => {}
        Err(e) => return not_zip(warnings, format!("its entry cannot be decompressed ({e})")),
    }
    let len = data.len() as u64;
    if len > limit || (len > RATIO_FLOOR && len / compressed > limits.max_ratio) {
        return Err(bomb());
    }
    Ok(Some(data))
}

/// Reads only the routing data: stops at the end of `edXMLHeader`, so a hub does not buffer the
/// attachments.
pub fn read_routing<R: BufRead>(mut reader: R) -> Result<Routing, EdxmlError> {
    // Skip a BOM and junk before the first '<'.
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Err(EdxmlError::NotXml("no '<' found".to_owned()));
        }
        match buf.iter().position(|&b| b == b'<') {
            Some(p) => {
                reader.consume(p);
                break;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
    let mut xr = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut scope = xml::Scope::default();
    let mut text = String::new();
    let mut r = Routing {
        kind: PackageKind::Edoc,
        from: String::new(),
        to: Vec::new(),
        document_id: String::new(),
        business: None,
        status_code: None,
    };
    let mut rf_organ = String::new();
    let mut rf_doc = String::new();
    let err = |pos: u64, e: &dyn std::fmt::Display| EdxmlError::Malformed(format!("{e} at byte {pos}"));
    loop {
        buf.clear();
        let event = xr.read_event_into(&mut buf).map_err(|e| err(xr.error_position(), &e))?;
        match event {
            Event::DocType(_) => return Err(EdxmlError::DoctypeForbidden),
            Event::Start(s) => {
                scope.push(&s).map_err(|e| err(xr.buffer_position(), &e))?;
                let q = s.name().0.to_owned();
                if path.is_empty() {
                    let ns = scope.element_ns(&q).unwrap_or_default();
                    if ns != NS {
                        return Err(EdxmlError::WrongNamespace(ns));
                    }
                }
                path.push(xml::local(&q).to_owned());
                if path.len() > xml::MAX_DEPTH {
                    return Err(err(xr.buffer_position(), &"elements nested too deeply"));
                }
                if path.len() == 4 && path[3] == "Status" {
                    r.kind = PackageKind::Status;
                }
                text.clear();
            }
            Event::Empty(s) => {
                if path.is_empty() {
                    return Err(EdxmlError::MissingElement("edXMLEnvelope".into()));
                }
                let _ = s;
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(g) => match xml::resolve_ref(&g.xml10_content()) {
                Some(v) => text.push_str(&v),
                None => return Err(err(xr.buffer_position(), &"undefined entity")),
            },
            Event::End(_) => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = text.trim().to_owned();
                match p.as_slice() {
                    [_, "edXMLEnvelope", "edXMLHeader"] => break,
                    [.., "MessageHeader" | "Status", "From", "OrganId"] if p.len() == 6 => r.from = value,
                    [.., "MessageHeader", "To", "OrganId"] if p.len() == 6 => r.to.push(value),
                    [.., "MessageHeader", "DocumentId"] if p.len() == 5 => r.document_id = value,
                    [.., "MessageHeader" | "Status", "ResponseFor", "OrganId"] if p.len() == 6 => rf_organ = value,
                    [.., "MessageHeader" | "Status", "ResponseFor", "DocumentId"] if p.len() == 6 => rf_doc = value,
                    [.., "MessageHeader" | "Status", "StatusCode"] if p.len() == 5 => {
                        r.kind = PackageKind::Status;
                        r.status_code = Some(value);
                    }
                    [.., "Bussiness" | "Business", "BussinessDocType" | "BusinessDocType"] => {
                        r.business = BusinessDocType::from_text(&value);
                    }
                    _ => {}
                }
                text.clear();
                scope.pop();
                path.pop();
                if path.is_empty() {
                    break;
                }
            }
            Event::Eof => {
                return Err(EdxmlError::Malformed("unexpected end of file before the end of edXMLHeader".into()));
            }
            _ => {}
        }
    }
    if r.kind == PackageKind::Status {
        r.to = if rf_organ.is_empty() { Vec::new() } else { vec![rf_organ] };
        r.document_id = rf_doc;
    } else if r.business.is_none() {
        r.business = Some(BusinessDocType::New);
    }
    if r.from.is_empty() {
        return Err(EdxmlError::MissingElement("MessageHeader/From/OrganId".into()));
    }
    Ok(r)
}
