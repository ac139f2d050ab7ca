//! A year of history for the demo: documents of one agency in every state of their life —
//! drafts, drafts in review, approved, signed and waiting at the clerk's desk, issued and
//! delivered (numbered over the year, oldest first), revoked — and, at the recipient
//! agencies, incoming documents arrived, registered, assigned, in progress (some overdue),
//! done and returned.
//!
//! Everything goes through the same functions the pages and the API call (drafting, review,
//! signing with the leader's key, the clerk's two issuing transactions, the recipient's
//! register, assign and handle steps), acting as the named users. Only the issue date is
//! chosen here: history items are numbered with a past date, so the outgoing register spans
//! the year. Arrival and handling times are those of the seeding (the store stamps them).

use std::time::{Duration, Instant};

use chrono::{Datelike as _, NaiveDate, Weekday};
use serde_json::{Value, json};
use vanban_domain::{
    Abbreviation, ChangeKind, DocumentId, DocumentType, OutgoingState, Permission, RegisterDirection, UserId,
};
use vanban_render::SignerSpec;
use vanban_store::{
    AssignRequest, CertStatus, ChangeRequest, DocumentRecord, HandleStep, IssueOutcome, NewDelivery, NumberRequest,
    Owner,
};

use crate::AppState;
use crate::api::{DraftInput, ReviewBody, SubmitBody, TransitionBody};
use crate::auth::Session;
use crate::drafting::DraftContent;
use crate::error::AppError;
use crate::issuing;

/// Who acts, and how many documents of each kind to make.
#[derive(Debug, Clone)]
pub struct HistoryPlan {
    /// The specialist who drafts every document (their unit gives công văn their symbol).
    pub drafter: String,
    /// A colleague who reviews some drafts before the leader (optional).
    pub reviewer: Option<String>,
    /// The leaders who approve and sign, in turn; the first is the head of the agency (the
    /// others sign "KT." for them). Each needs a certificate and a signature image.
    pub signers: Vec<String>,
    /// The clerk who numbers and issues (with the agency's certificate and seal).
    pub clerk: String,
    /// The PIN of the leaders' and the agency's demo certificates.
    pub pin: String,
    /// The agencies the issued documents go to, with the people who receive them there.
    pub recipients: Vec<HistoryRecipient>,
    pub counts: HistoryCounts,
}

/// A recipient agency and its people (any of them missing: its copies stay where they are).
#[derive(Debug, Clone)]
pub struct HistoryRecipient {
    /// Its identifier code (QCVN 102), an agency of this instance.
    pub agency_code: String,
    /// The clerk who registers or returns.
    pub clerk: Option<String>,
    /// The leader who assigns.
    pub leader: Option<String>,
    /// The specialist who handles.
    pub handler: Option<String>,
}

/// How many outgoing documents to leave in each state.
#[derive(Debug, Clone, Copy)]
pub struct HistoryCounts {
    pub drafts: usize,
    pub in_review: usize,
    pub approved: usize,
    pub signed: usize,
    /// Issued and delivered over the year (revoked ones included).
    pub issued: usize,
    /// Of the issued ones, how many were later revoked.
    pub revoked: usize,
}

impl HistoryCounts {
    /// The demo's year: about fifty documents.
    pub const DEMO: HistoryCounts =
        HistoryCounts { drafts: 5, in_review: 4, approved: 3, signed: 4, issued: 30, revoked: 2 };

    fn total(&self) -> usize {
        self.drafts + self.in_review + self.approved + self.signed + self.issued
    }
}

/// What [`seed_history`] did.
#[derive(Debug, Clone, Default)]
pub struct HistorySummary {
    /// False when the agency already had documents (nothing was added).
    pub seeded_now: bool,
    /// Outgoing documents created.
    pub documents: usize,
    /// Of them, issued.
    pub issued: usize,
    /// Incoming copies delivered to the recipients.
    pub incoming: usize,
    /// Leaders' signatures made.
    pub signatures: usize,
    pub elapsed: Duration,
}

/// The fate of an incoming copy, by how recent it is at its agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Arrived,
    Registered,
    Assigned { overdue: bool },
    InProgress { overdue: bool },
    Done,
    Returned,
}

/// The newest copies at each agency, newest first; older ones are done (a few returned).
const RECENT: [Fate; 7] = [
    Fate::Arrived,
    Fate::Registered,
    Fate::Assigned { overdue: false },
    Fate::InProgress { overdue: false },
    Fate::Assigned { overdue: true },
    Fate::InProgress { overdue: true },
    Fate::Returned,
];

fn fate(newest_rank: usize) -> Fate {
    match RECENT.get(newest_rank) {
        Some(f) => *f,
        None if newest_rank % 11 == 10 => Fate::Returned,
        None => Fate::Done,
    }
}

/// (type, priority 0..3, subject), in the order of the year: the issued documents take the
/// first ones, then those still at the desk, in approval, in review, being drafted.
const CATALOG: &[(DocumentType, u8, &str)] = &[
    (DocumentType::KeHoach, 0, "Thực hiện nhiệm vụ cải cách hành chính năm {y}"),
    (DocumentType::CongVan, 0, "V/v triển khai Kế hoạch cải cách hành chính năm {y}"),
    (DocumentType::QuyetDinh, 0, "Về việc giao chỉ tiêu thu, chi ngân sách nhà nước năm {y} cho các cơ quan, đơn vị"),
    (DocumentType::CongVan, 1, "V/v bảo đảm trật tự, an toàn giao thông dịp Tết Nguyên đán"),
    (DocumentType::ThongBao, 0, "Kết luận của lãnh đạo tại cuộc họp giao ban tháng 01 năm {y}"),
    (DocumentType::CongVan, 0, "V/v báo cáo tình hình thực hiện dự toán ngân sách quý I năm {y}"),
    (DocumentType::CongVan, 0, "V/v tăng cường công tác phòng cháy, chữa cháy mùa khô năm {y}"),
    (DocumentType::QuyetDinh, 0, "Về việc thành lập Tổ công tác rà soát thủ tục hành chính năm {y}"),
    (DocumentType::CongVan, 2, "V/v triển khai các biện pháp phòng, chống dịch sốt xuất huyết"),
    (DocumentType::KeHoach, 0, "Kiểm tra công tác văn thư, lưu trữ năm {y}"),
    (DocumentType::CongVan, 0, "V/v góp ý dự thảo Quy chế làm việc nhiệm kỳ 2026 - 2031"),
    (
        DocumentType::CongVan,
        0,
        "V/v báo cáo kết quả thực hiện Chương trình mục tiêu quốc gia xây dựng nông thôn mới 6 tháng đầu năm {y}",
    ),
    (DocumentType::ThongBao, 1, "Lịch tiếp công dân định kỳ của lãnh đạo tháng 6 năm {y}"),
    (DocumentType::QuyetDinh, 0, "Về việc phê duyệt danh mục dịch vụ công trực tuyến toàn trình năm {y}"),
    (DocumentType::CongVan, 3, "V/v chủ động ứng phó với áp thấp nhiệt đới và mưa lớn"),
    (DocumentType::CongVan, 0, "V/v báo cáo tình hình thực hiện dự toán ngân sách 6 tháng đầu năm {y}"),
    (DocumentType::KeHoach, 0, "Tổ chức Ngày Chuyển đổi số năm {y}"),
    (DocumentType::CongVan, 0, "V/v đẩy nhanh tiến độ giải ngân vốn đầu tư công năm {y}"),
    (DocumentType::QuyetDinh, 0, "Về việc công bố danh mục thủ tục hành chính mới ban hành trong lĩnh vực nội vụ"),
    (DocumentType::CongVan, 1, "V/v chuẩn bị các điều kiện bảo đảm khai giảng năm học mới"),
    (
        DocumentType::ThongBao,
        0,
        "Kết luận của lãnh đạo tại cuộc họp về tiến độ giải phóng mặt bằng các dự án trọng điểm",
    ),
    (DocumentType::CongVan, 0, "V/v rà soát, sắp xếp lại nhà, đất thuộc sở hữu nhà nước"),
    (DocumentType::CongVan, 0, "V/v báo cáo tình hình thực hiện dự toán ngân sách quý III năm {y}"),
    (DocumentType::KeHoach, 0, "Kiểm tra việc thực hiện chế độ, chính sách đối với người có công năm {y}"),
    (DocumentType::CongVan, 2, "V/v tập trung khắc phục hậu quả mưa lũ, ổn định đời sống Nhân dân"),
    (
        DocumentType::QuyetDinh,
        0,
        "Về việc ban hành Quy chế phối hợp trong công tác tiếp công dân, giải quyết khiếu nại, tố cáo",
    ),
    (
        DocumentType::CongVan,
        0,
        "V/v xây dựng dự toán ngân sách nhà nước năm {y+1} và kế hoạch tài chính - ngân sách 03 năm",
    ),
    (DocumentType::ThongBao, 0, "Kết quả đánh giá Chỉ số cải cách hành chính năm {y-1} của các cơ quan, địa phương"),
    (DocumentType::CongVan, 0, "V/v tổng kết công tác thi đua, khen thưởng năm {y}"),
    (DocumentType::CongVan, 1, "V/v triển khai các giải pháp bảo đảm cân đối cung cầu hàng hóa cuối năm"),
    (DocumentType::KeHoach, 0, "Tổ chức hội nghị tổng kết công tác năm {y} và triển khai nhiệm vụ năm {y+1}"),
    (DocumentType::QuyetDinh, 0, "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số"),
    (DocumentType::CongVan, 3, "V/v triển khai công tác phòng, chống rét cho người, cây trồng, vật nuôi"),
    (DocumentType::CongVan, 2, "V/v tăng cường công tác bảo đảm an ninh, trật tự dịp cuối năm {y}"),
    (DocumentType::QuyetDinh, 0, "Về việc giao dự toán thu, chi ngân sách nhà nước năm {y+1}"),
    (DocumentType::CongVan, 1, "V/v khóa sổ kế toán và lập báo cáo quyết toán ngân sách năm {y}"),
    (DocumentType::ThongBao, 0, "Lịch làm việc của lãnh đạo tháng 12 năm {y}"),
    (DocumentType::KeHoach, 0, "Thực hiện công tác cải cách hành chính năm {y+1}"),
    (DocumentType::CongVan, 0, "V/v chuẩn bị tổ chức Tết Nguyên đán năm {y+1}"),
    (DocumentType::CongVan, 0, "V/v đánh giá, xếp loại chất lượng cán bộ, công chức, viên chức năm {y}"),
    (DocumentType::QuyetDinh, 0, "Về việc phê duyệt Kế hoạch đào tạo, bồi dưỡng cán bộ, công chức năm {y+1}"),
    (DocumentType::CongVan, 0, "V/v báo cáo kết quả thực hiện nhiệm vụ phát triển kinh tế - xã hội năm {y}"),
    (DocumentType::KeHoach, 0, "Kiểm tra công tác văn thư, lưu trữ năm {y+1}"),
    (DocumentType::CongVan, 0, "V/v đề xuất điều chỉnh danh mục dự án đầu tư công trung hạn giai đoạn 2026 - 2030"),
    (DocumentType::ThongBao, 0, "Ý kiến kết luận của lãnh đạo về phương án sắp xếp trụ sở làm việc"),
    (DocumentType::CongVan, 0, "V/v góp ý dự thảo Nghị quyết về chính sách hỗ trợ chuyển đổi số cấp xã"),
    (DocumentType::CongVan, 0, "V/v rà soát, cập nhật cơ sở dữ liệu cán bộ, công chức, viên chức"),
    (DocumentType::CongVan, 0, "V/v tăng cường kỷ luật, kỷ cương hành chính trong thực thi công vụ"),
    (DocumentType::QuyetDinh, 0, "Về việc thành lập Hội đồng thẩm định giá đất cụ thể năm {y+1}"),
    (DocumentType::KeHoach, 0, "Tuyên truyền cải cách hành chính năm {y+1}"),
    (DocumentType::CongVan, 0, "V/v hướng dẫn lập hồ sơ điện tử và nộp lưu vào Lưu trữ cơ quan"),
    (DocumentType::CongVan, 0, "V/v báo cáo công tác phòng, chống tham nhũng, tiêu cực năm {y}"),
];

/// The `n`-th subject of the catalogue for `year` (the catalogue repeats past its end).
fn catalog(n: usize, year: i32) -> (DocumentType, u8, String) {
    let (t, p, s) = CATALOG.get(n % CATALOG.len()).copied().unwrap_or((DocumentType::CongVan, 0, "V/v công tác"));
    let subject = s
        .replace("{y+1}", &(year + 1).to_string())
        .replace("{y-1}", &(year - 1).to_string())
        .replace("{y}", &year.to_string());
    (t, p, subject)
}

/// A session for an optional username that must belong to `agency` (otherwise none).
async fn member(state: &AppState, username: Option<&str>, agency: &str) -> Result<Option<Session>, AppError> {
    let Some(name) = username else { return Ok(None) };
    if state.store.find_user_id(name).await?.is_none() {
        return Ok(None);
    }
    let s = crate::bulk::session_for(state, name).await?;
    Ok((s.agency.agency.code.as_str() == agency).then_some(s))
}

/// A leader who can sign: their session and active certificate.
struct Signer {
    session: Session,
    cert: uuid::Uuid,
    authority: SignerSpec,
}

async fn signers(state: &AppState, plan: &HistoryPlan) -> Result<Vec<Signer>, AppError> {
    let mut out: Vec<Signer> = Vec::new();
    let mut head: Option<(String, Option<String>)> = None;
    for name in &plan.signers {
        if state.store.find_user_id(name).await?.is_none() {
            continue;
        }
        let s = crate::bulk::session_for(state, name).await?;
        let position = s.user.user.position.as_ref().map_or("Thủ trưởng cơ quan", |p| p.as_str()).to_owned();
        // A people's committee signs on behalf of the collective ("TM. ỦY BAN NHÂN DÂN").
        let collective = (s.agency.agency.abbreviation.as_str() == "UBND").then(|| "Ủy ban nhân dân".to_owned());
        let certs = state.store.list_certificates(&s.scope(), Owner::User(s.caller.user_id)).await?;
        let Some(cert) = certs.iter().find(|c| c.status == CertStatus::Active).map(|c| c.id) else { continue };
        let full_name = s.user.user.full_name.as_str().to_owned();
        let authority = match &head {
            None => {
                head = Some((position.clone(), collective.clone()));
                let authority = if collective.is_some() { "on_behalf_of" } else { "direct" };
                SignerSpec { authority: authority.to_owned(), collective, head_title: None, position, full_name }
            }
            Some((head_title, collective)) => SignerSpec {
                authority: "for_head".to_owned(),
                collective: collective.clone(),
                head_title: Some(head_title.clone()),
                position,
                full_name,
            },
        };
        out.push(Signer { session: s, cert, authority });
    }
    if out.is_empty() {
        return Err(AppError::Refused {
            code: "no_signer",
            message_vi: "Chưa có lãnh đạo nào có chứng thư số và ảnh chữ ký để ký văn bản mẫu.",
        });
    }
    Ok(out)
}

/// The issue dates of `n` documents over the year so far, oldest first, on working days,
/// never decreasing.
fn issue_dates(today: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let jan1 = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let end = (today - chrono::Duration::days(1)).max(jan1);
    let start = (jan1 + chrono::Duration::days(4)).min(end);
    let span = (end - start).num_days();
    let steps = i64::try_from(n.saturating_sub(1).max(1)).unwrap_or(1);
    let mut prev = jan1;
    (0..n)
        .map(|k| {
            let k = i64::try_from(k).unwrap_or(0);
            let mut d = start + chrono::Duration::days(span * k / steps);
            d -= chrono::Duration::days(match d.weekday() {
                Weekday::Sat => 1,
                Weekday::Sun => 2,
                _ => 0,
            });
            d = d.max(prev).max(jan1);
            prev = d;
            d
        })
        .collect()
}

fn para(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn bold_lead(lead: &str, rest: &str) -> Value {
    json!([{ "b": lead }, rest])
}

/// Strips the "Về việc"/"V/v" lead of a subject and capitalises what is left.
fn matter(subject: &str) -> String {
    let rest = subject.strip_prefix("V/v ").or_else(|| subject.strip_prefix("Về việc ")).unwrap_or(subject);
    let mut chars = rest.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The lower-cased matter, for use inside a sentence.
fn matter_lower(subject: &str) -> String {
    let m = matter(subject);
    let mut chars = m.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The content a drafter would write for this type and subject.
fn content_for(
    doc_type: DocumentType,
    subject: &str,
    agency: &str,
    unit: Option<&str>,
    addressees: &[String],
    signer: &SignerSpec,
) -> DraftContent {
    let archive = unit.map(|u| vec![u.to_owned()]).unwrap_or_default();
    let mut addressed = Vec::new();
    let (body, recipients): (Vec<Value>, Vec<String>) = match doc_type {
        DocumentType::QuyetDinh => (
            vec![
                json!({ "heading": agency.to_uppercase() }),
                json!([{ "i": "Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025;" }]),
                json!([{ "i": "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư;" }]),
                json!([{ "i": "Theo đề nghị của các cơ quan chuyên môn có liên quan." }]),
                json!({ "heading": "QUYẾT ĐỊNH:" }),
                bold_lead(
                    "Điều 1.",
                    &format!(" {}, với nội dung chi tiết theo hồ sơ trình kèm theo.", matter(subject)),
                ),
                bold_lead(
                    "Điều 2.",
                    " Giao các cơ quan, đơn vị có liên quan tổ chức triển khai thực hiện; định kỳ báo cáo kết quả, khó khăn, vướng mắc (nếu có) để xem xét, giải quyết.",
                ),
                bold_lead(
                    "Điều 3.",
                    " Quyết định này có hiệu lực kể từ ngày ký. Thủ trưởng các cơ quan, đơn vị và cá nhân có liên quan chịu trách nhiệm thi hành Quyết định này./.",
                ),
            ],
            vec!["Như Điều 3;".to_owned(), "Lãnh đạo cơ quan;".to_owned()],
        ),
        DocumentType::KeHoach => (
            vec![
                para(format!("{agency} ban hành Kế hoạch {} như sau:", matter_lower(subject))),
                json!({ "heading": "I. MỤC ĐÍCH, YÊU CẦU" }),
                para(
                    "1. Triển khai đồng bộ, hiệu quả các nhiệm vụ được giao; xác định rõ cơ quan chủ trì, cơ quan phối hợp, thời hạn hoàn thành và sản phẩm cụ thể.",
                ),
                para(
                    "2. Bảo đảm sự phối hợp chặt chẽ giữa các cơ quan, đơn vị; gắn trách nhiệm của người đứng đầu với kết quả thực hiện.",
                ),
                json!({ "heading": "II. NỘI DUNG THỰC HIỆN" }),
                json!({ "list": [
                    "Rà soát, đánh giá kết quả thực hiện thời gian qua; chỉ rõ tồn tại, hạn chế và nguyên nhân.",
                    "Xây dựng kế hoạch chi tiết của từng cơ quan, đơn vị, phân công cụ thể cho từng bộ phận.",
                    "Tổ chức kiểm tra, đôn đốc; sơ kết, tổng kết, khen thưởng kịp thời các tập thể, cá nhân có thành tích.",
                ] }),
                json!({ "heading": "III. TỔ CHỨC THỰC HIỆN" }),
                para(
                    "Các cơ quan, đơn vị căn cứ Kế hoạch này tổ chức thực hiện; báo cáo kết quả về cơ quan thường trực trước ngày 15 tháng 12 để tổng hợp./.",
                ),
            ],
            addressees.iter().map(|a| format!("{a};")).chain(["Lãnh đạo cơ quan;".to_owned()]).collect(),
        ),
        DocumentType::ThongBao => (
            vec![
                para(format!("{agency} thông báo {} như sau:", matter_lower(subject))),
                bold_lead(
                    "1.",
                    " Đánh giá cao sự chủ động của các cơ quan, đơn vị trong thời gian qua; tuy nhiên, một số nhiệm vụ còn chậm so với tiến độ đề ra.",
                ),
                bold_lead(
                    "2.",
                    " Đề nghị các cơ quan, đơn vị tập trung chỉ đạo, khắc phục hạn chế; hoàn thành các nhiệm vụ được giao đúng thời hạn, bảo đảm chất lượng.",
                ),
                bold_lead(
                    "3.",
                    " Văn phòng theo dõi, đôn đốc, tổng hợp kết quả thực hiện, báo cáo lãnh đạo tại cuộc họp giao ban tháng tới.",
                ),
                para(format!("{agency} thông báo để các cơ quan, đơn vị biết, thực hiện./.")),
            ],
            addressees.iter().map(|a| format!("{a};")).chain(["Lãnh đạo cơ quan;".to_owned()]).collect(),
        ),
        _ => {
            addressed = addressees
                .iter()
                .enumerate()
                .map(|(i, a)| format!("{a}{}", if i + 1 == addressees.len() { "." } else { ";" }))
                .collect();
            (
                vec![
                    para(format!(
                        "Thực hiện chương trình công tác năm, {agency} đề nghị các cơ quan, đơn vị {} với các nội dung sau:",
                        matter_lower(subject)
                    )),
                    para(
                        "1. Tổ chức quán triệt, triển khai thực hiện nghiêm túc; phân công lãnh đạo phụ trách, xác định rõ tiến độ và sản phẩm cụ thể.",
                    ),
                    para(
                        "2. Chủ động phối hợp với các cơ quan có liên quan trong quá trình thực hiện; kịp thời báo cáo những khó khăn, vướng mắc vượt thẩm quyền.",
                    ),
                    para(format!(
                        "3. Báo cáo kết quả thực hiện bằng văn bản điện tử về {agency} trước ngày 25 của tháng cuối quý để tổng hợp."
                    )),
                    para("Đề nghị các cơ quan, đơn vị quan tâm phối hợp thực hiện./."),
                ],
                vec!["Như trên;".to_owned(), "Lãnh đạo cơ quan;".to_owned()],
            )
        }
    };
    DraftContent {
        subject: subject.to_owned(),
        addressees: addressed,
        body,
        recipients,
        archive_units: archive,
        signer: Some(signer.clone()),
        appendices: Vec::new(),
        unit_abbreviation: unit.filter(|_| doc_type == DocumentType::CongVan).map(str::to_owned),
        typer_initials: None,
        copies: None,
    }
}

/// Everything one seeding needs to hand around.
struct Ctx<'a> {
    state: &'a AppState,
    plan: &'a HistoryPlan,
    drafter: Session,
    reviewer: Option<Session>,
    signers: Vec<Signer>,
    clerk: Session,
    unit: Option<String>,
    /// (code, name) of each recipient agency.
    recipients: Vec<(String, String)>,
    year: i32,
    next: usize,
    signatures: usize,
}

impl Ctx<'_> {
    fn signer(&self, k: usize) -> Result<&Signer, AppError> {
        // The head signs two of three; deputies the rest.
        let i = if self.signers.len() > 1 && k % 3 == 2 { 1 + (k / 3) % (self.signers.len() - 1) } else { 0 };
        self.signers.get(i).ok_or(AppError::Internal("history: no signer".into()))
    }

    /// The recipients of the `k`-th issued document: one in turn, plans and notices to all,
    /// every third to two.
    fn recipients_of(&self, k: usize, doc_type: DocumentType) -> Vec<(String, String)> {
        let n = self.recipients.len();
        if n == 0 {
            return Vec::new();
        }
        if matches!(doc_type, DocumentType::KeHoach | DocumentType::ThongBao) {
            return self.recipients.clone();
        }
        let mut out = vec![self.recipients[k % n].clone()];
        if k.is_multiple_of(3) && n > 1 {
            out.push(self.recipients[(k + 1) % n].clone());
        }
        out
    }

    /// A new draft with one version, as the drafter writes it.
    async fn draft(
        &mut self,
        priority_floor: u8,
        signer_k: usize,
        addressees: &[(String, String)],
    ) -> Result<(DocumentRecord, DraftContent, usize), AppError> {
        let (doc_type, priority, subject) = catalog(self.next, self.year);
        self.next += 1;
        let names: Vec<String> = addressees.iter().map(|(_, n)| n.clone()).collect();
        let input = DraftInput {
            doc_type: doc_type.as_str().to_owned(),
            subject: subject.clone(),
            description: None,
            priority: Some(priority.max(priority_floor)),
            due_date: None,
            recipients: names.clone(),
        };
        let doc = crate::api::create_draft_as(self.state, &self.drafter, &input).await?;
        let agency = self.drafter.agency.agency.name.as_str().to_owned();
        let signer = self.signer(signer_k)?;
        let content = content_for(doc_type, &subject, &agency, self.unit.as_deref(), &names, &signer.authority);
        crate::drafting::save_version(self.state, &self.drafter, doc.id, content.clone(), Some("Dự thảo lần 1".into()))
            .await?;
        Ok((doc, content, signer_k))
    }

    async fn submit(&self, id: DocumentId, reviewer: Option<UserId>) -> Result<(), AppError> {
        let body = SubmitBody {
            reviewers: reviewer.map(|r| vec![r.to_string()]).unwrap_or_default(),
            mode: Some("sequential".into()),
        };
        crate::api::submit_as(self.state, &self.drafter, id, &body).await?;
        Ok(())
    }

    async fn approve(&self, id: DocumentId, signer_k: usize) -> Result<(), AppError> {
        let leader = &self.signer(signer_k)?.session;
        let body = TransitionBody { action: "approve".into(), reason: None };
        crate::api::transition_as(self.state, leader, id, &body).await?;
        Ok(())
    }

    async fn sign(&mut self, id: DocumentId, signer_k: usize) -> Result<(), AppError> {
        let signer = self.signer(signer_k)?;
        crate::signing::sign_document(self.state, &signer.session, id, signer.cert, self.plan.pin.clone()).await?;
        self.signatures += 1;
        Ok(())
    }

    /// A document up to Signed.
    async fn signed(
        &mut self,
        priority_floor: u8,
        k: usize,
        to: &[(String, String)],
    ) -> Result<DocumentRecord, AppError> {
        let (doc, _, k) = self.draft(priority_floor, k, to).await?;
        self.submit(doc.id, None).await?;
        self.approve(doc.id, k).await?;
        self.sign(doc.id, k).await?;
        Ok(self.state.store.get_document(&self.clerk.scope(), doc.id).await?)
    }

    /// The clerk's issuing with a chosen date: [`issuing::issue`]'s steps, numbered on
    /// `issued_on` instead of today.
    async fn issue_on(
        &self,
        doc: &DocumentRecord,
        issued_on: NaiveDate,
        to: &[(String, String)],
    ) -> Result<IssueOutcome, AppError> {
        let s = &self.clerk;
        s.caller.require(Permission::IssueDocument)?;
        let (scope, actor) = (s.scope(), s.actor());
        let signer = issuing::agency_signer(self.state, &scope, None, &self.plan.pin).await?;
        let list = issuing::registers(self.state, &actor, &scope, RegisterDirection::Outgoing).await?;
        let rules: Vec<_> = list.iter().map(|r| (r.id, r.rule())).collect();
        let register_id = vanban_domain::pick_register(&rules, doc.doc_type, false).ok_or(AppError::Refused {
            code: "no_register",
            message_vi: "Cơ quan chưa có sổ văn bản đi cho loại và độ mật của văn bản này.",
        })?;
        let unit = match doc.doc_type {
            DocumentType::CongVan => self.unit.as_deref().map(Abbreviation::parse).transpose()?,
            _ => None,
        };
        let notation = vanban_domain::notation_for(doc.doc_type, &s.agency.agency.abbreviation, unit.as_ref())?;
        let entry = self
            .state
            .store
            .number_document(&actor, &scope, doc.id, NumberRequest { register_id, notation, issued_on })
            .await?;
        let extra: Vec<NewDelivery> = to
            .iter()
            .map(|(code, name)| NewDelivery { recipient_code: code.clone(), recipient_name: name.clone() })
            .collect();
        let ctx = self.state.store.issuing_context(&scope, doc.id).await?;
        issuing::complete(self.state, &actor, &scope, &ctx, &entry, &signer, &s.agency.agency.place, extra).await
    }
}

/// One recipient agency's people, as sessions.
struct Desk {
    clerk: Option<Session>,
    leader: Option<Session>,
    handler: Option<Session>,
}

/// Takes an incoming copy to its fate, as its agency's people would.
async fn receive(
    state: &AppState,
    desk: &Desk,
    id: DocumentId,
    issued_on: NaiveDate,
    today: NaiveDate,
    fate: Fate,
) -> Result<(), AppError> {
    let Some(clerk) = &desk.clerk else { return Ok(()) };
    if fate == Fate::Arrived {
        return Ok(());
    }
    clerk.caller.require(Permission::RegisterIncoming)?;
    let (cscope, cactor) = (clerk.scope(), clerk.actor());
    if fate == Fate::Returned {
        let reason = "Văn bản không thuộc thẩm quyền giải quyết của cơ quan; đề nghị gửi đúng cơ quan chủ trì.";
        state.store.return_incoming(&cactor, &cscope, id, reason.to_owned()).await?;
        return Ok(());
    }
    let list = issuing::registers(state, &cactor, &cscope, RegisterDirection::Incoming).await?;
    let item = state.store.get_incoming(&cscope, vanban_store::IncomingVisibility::All, id).await?;
    let rules: Vec<_> = list.iter().map(|r| (r.id, r.rule())).collect();
    let Some(register) =
        vanban_domain::pick_register(&rules, item.document.doc_type, false).or_else(|| list.first().map(|r| r.id))
    else {
        return Ok(());
    };
    state.store.register_incoming(&cactor, &cscope, id, register, today).await?;
    if fate == Fate::Registered {
        return Ok(());
    }
    let (Some(leader), Some(handler)) = (&desk.leader, &desk.handler) else { return Ok(()) };
    leader.caller.require(Permission::AssignHandling)?;
    let overdue = matches!(fate, Fate::Assigned { overdue: true } | Fate::InProgress { overdue: true });
    let usual = issued_on + chrono::Duration::days(15);
    let deadline = match fate {
        // Overdue by a few days to three weeks.
        _ if overdue => usual.max(today - chrono::Duration::days(21)).min(today - chrono::Duration::days(3)),
        Fate::Done => usual,
        _ => usual.max(today + chrono::Duration::days(10)),
    };
    let req = AssignRequest {
        lead: handler.caller.user_id,
        co: Vec::new(),
        info: Vec::new(),
        deadline: Some(deadline),
        note: Some("Giao chuyên viên chủ trì nghiên cứu, tham mưu xử lý; báo cáo kết quả trước hạn.".into()),
    };
    state.store.assign_incoming(&leader.actor(), &leader.scope(), id, req).await?;
    if matches!(fate, Fate::Assigned { .. }) {
        return Ok(());
    }
    handler.caller.require(Permission::HandleDocument)?;
    let (hscope, hactor) = (handler.scope(), handler.actor());
    state.store.handle_incoming(&hactor, &hscope, id, HandleStep::Start).await?;
    if fate == Fate::Done {
        let note = Some("Đã tham mưu thực hiện và báo cáo lãnh đạo cơ quan.".to_owned());
        state.store.handle_incoming(&hactor, &hscope, id, HandleStep::Finish { note, response: None }).await?;
    }
    Ok(())
}

/// Seeds a year of documents for the clerk's agency, once: an agency that already has
/// documents is left as it is.
pub async fn seed_history(state: &AppState, plan: &HistoryPlan) -> Result<HistorySummary, AppError> {
    let started = Instant::now();
    let clerk = crate::bulk::session_for(state, &plan.clerk).await?;
    if !state.store.list_documents(&clerk.scope(), None, 1).await?.is_empty() {
        return Ok(HistorySummary { elapsed: started.elapsed(), ..HistorySummary::default() });
    }
    let drafter = crate::bulk::session_for(state, &plan.drafter).await?;
    let agency_code = clerk.agency.agency.code.as_str().to_owned();
    let reviewer = member(state, plan.reviewer.as_deref(), &agency_code).await?;
    let signers = signers(state, plan).await?;
    // The drafting unit's abbreviation for công văn: the drafter's unit, or the agency's first.
    let units = state.store.list_units(&drafter.scope()).await?;
    let unit = drafter
        .user
        .user
        .unit_id
        .and_then(|u| units.iter().find(|x| x.id == u))
        .or_else(|| units.first())
        .map(|u| u.abbreviation.as_str().to_owned());
    let mut recipients = Vec::new();
    let mut desks = Vec::new();
    for r in &plan.recipients {
        let code = vanban_domain::AgencyCode::parse(&r.agency_code)?;
        let agency = state.store.get_agency_by_code(&code).await?;
        recipients.push((code.as_str().to_owned(), agency.agency.name.as_str().to_owned()));
        desks.push(Desk {
            clerk: member(state, r.clerk.as_deref(), code.as_str()).await?,
            leader: member(state, r.leader.as_deref(), code.as_str()).await?,
            handler: member(state, r.handler.as_deref(), code.as_str()).await?,
        });
    }
    let today = crate::drafting::today_vn();
    let mut cx = Ctx {
        state,
        plan,
        drafter,
        reviewer,
        signers,
        clerk,
        unit,
        recipients,
        year: today.year(),
        next: 0,
        signatures: 0,
    };
    let counts = plan.counts;

    // Issued over the year, oldest first (numbers and dates increase together).
    let mut issued: Vec<(DocumentId, NaiveDate)> = Vec::new();
    // Per recipient agency: its incoming copies, oldest first, with their issue dates.
    let mut copies: Vec<Vec<(DocumentId, NaiveDate)>> = vec![Vec::new(); desks.len()];
    for (k, day) in issue_dates(today, counts.issued).into_iter().enumerate() {
        let doc_type = catalog(cx.next, cx.year).0;
        let to = cx.recipients_of(k, doc_type);
        let doc = cx.signed(0, k, &to).await?;
        let out = cx.issue_on(&doc, day, &to).await?;
        for d in &out.deliveries {
            let (Some(inc), Some(i)) = (d.incoming_id, cx.recipients.iter().position(|(c, _)| *c == d.recipient_code))
            else {
                continue;
            };
            if let Some(list) = copies.get_mut(i) {
                list.push((inc, day));
            }
        }
        issued.push((doc.id, day));
    }
    let incoming: usize = copies.iter().map(Vec::len).sum();

    // The recipients take each copy as far as its age says.
    for (desk, list) in desks.iter().zip(&copies) {
        for (rank, (id, day)) in list.iter().rev().enumerate() {
            receive(state, desk, *id, *day, today, fate(rank)).await?;
        }
    }

    // A few of the oldest were revoked later (their copies withdrawn at the recipients).
    for r in 0..counts.revoked.min(counts.issued) {
        let k = (2 * r + 1).min(counts.issued - 1);
        if let Some((id, _)) = issued.get(k) {
            let req = ChangeRequest {
                kind: ChangeKind::Revoke,
                reason: "Văn bản ban hành chưa đúng thẩm quyền; thu hồi để ban hành lại theo quy định.".into(),
                replacement: None,
                update: None,
            };
            let doc = state.store.get_document(&cx.clerk.scope(), *id).await?;
            if doc.state != OutgoingState::Revoked.as_str() {
                state.store.request_change(&cx.clerk.actor(), &cx.clerk.scope(), *id, req).await?;
            }
        }
    }

    // Signed, waiting at the clerk's issuing desk: the first ones urgent.
    for k in 0..counts.signed {
        let floor = [3, 2, 1].get(k).copied().unwrap_or(0);
        let doc_type = catalog(cx.next, cx.year).0;
        let to = cx.recipients_of(k, doc_type);
        cx.signed(floor, counts.issued + k, &to).await?;
    }
    // Approved, waiting for the leader's signature.
    for k in 0..counts.approved {
        let doc_type = catalog(cx.next, cx.year).0;
        let to = cx.recipients_of(k + 1, doc_type);
        let (doc, _, sk) = cx.draft(0, k, &to).await?;
        cx.submit(doc.id, None).await?;
        cx.approve(doc.id, sk).await?;
    }
    // In review: some with a reviewer (one still their turn, one passed to the leader), the
    // rest straight at the leader's.
    for k in 0..counts.in_review {
        let doc_type = catalog(cx.next, cx.year).0;
        let to = cx.recipients_of(k + 2, doc_type);
        let (doc, _, _) = cx.draft(0, 0, &to).await?;
        let reviewer = cx.reviewer.as_ref().filter(|_| k % 2 == 0).map(|r| r.caller.user_id);
        cx.submit(doc.id, reviewer).await?;
        if let Some(r) = cx.reviewer.as_ref().filter(|_| k % 4 == 2) {
            let body = ReviewBody { decision: "approve".into(), initials: true, reason: None };
            crate::api::review_as(state, r, doc.id, &body).await?;
        }
        if k == 1 {
            let leader = &cx.signer(0)?.session;
            let comment =
                "Đề nghị bổ sung số liệu so sánh với cùng kỳ năm trước và làm rõ trách nhiệm của cơ quan chủ trì.";
            state.store.add_comment(&leader.actor(), &leader.scope(), doc.id, 1, comment).await?;
        }
    }
    // Drafts: the first returned by the leader and redrafted.
    for k in 0..counts.drafts {
        let doc_type = catalog(cx.next, cx.year).0;
        let to = cx.recipients_of(k + 3, doc_type);
        let (doc, mut content, _) = cx.draft(0, 0, &to).await?;
        if k == 0 {
            cx.submit(doc.id, None).await?;
            let leader = &cx.signer(0)?.session;
            let reason = Some("Đề nghị bổ sung căn cứ pháp lý và thời hạn thực hiện cụ thể.".to_owned());
            let body = TransitionBody { action: "return_to_drafter".into(), reason };
            crate::api::transition_as(state, leader, doc.id, &body).await?;
            content.body.push(para("Thời hạn hoàn thành: trước ngày 31 tháng 12."));
            let note = Some("Bổ sung theo ý kiến của lãnh đạo".to_owned());
            crate::drafting::save_version(state, &cx.drafter, doc.id, content, note).await?;
        }
    }

    Ok(HistorySummary {
        seeded_now: true,
        documents: counts.total(),
        issued: counts.issued,
        incoming,
        signatures: cx.signatures,
        elapsed: started.elapsed(),
    })
}
