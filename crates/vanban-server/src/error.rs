//! The one place where errors become HTTP: a status, a stable code, a Vietnamese message for
//! people and an English one for logs. API handlers answer JSON ([`ApiError`]); page handlers
//! answer an HTML page or a redirect to the login page ([`PageError`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use vanban_domain::DomainError;
use vanban_store::StoreError;

fn signing_status(e: &vanban_pades::PadesError) -> StatusCode {
    use vanban_pades::PadesError as P;
    match e {
        P::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        P::AlreadySigned(_) | P::PreparedMismatch | P::NoChangesPermitted => StatusCode::CONFLICT,
        P::Pki(p) => match p.code() {
            "wrong_pin" | "wrong_password" => StatusCode::FORBIDDEN,
            "internal" | "crypto" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
        P::Font(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Every error a request can end with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not signed in")]
    Unauthenticated,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("account locked until {until}")]
    AccountLocked { until: String },
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    /// An address that only takes a form (opened by typing it, or from a bookmark).
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("this action is carried out by its own flow: {0}")]
    NotHere(&'static str),
    #[error("the document names {named} as its signer")]
    NotTheNamedSigner { named: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] vanban_render::RenderError),
    #[error(transparent)]
    Signing(#[from] vanban_pades::PadesError),
    /// A rule of the workflow refused the request (no agency certificate, no register…): a
    /// stable code and the Vietnamese message that explains what to do.
    #[error("refused: {code}")]
    Refused { code: &'static str, message_vi: &'static str },
    /// A scanned document that does not meet Decree 30's digitisation standard, or OCR failed.
    #[error(transparent)]
    Scan(#[from] crate::scan::ScanError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        AppError::Store(StoreError::Domain(e))
    }
}

impl AppError {
    /// The stable snake_case code clients and the UI rely on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::AccountLocked { .. } => "account_locked",
            AppError::Csrf => "csrf_failed",
            AppError::Forbidden(_) => "forbidden",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::BadRequest(_) => "bad_request",
            AppError::NotHere(_) => "action_not_available",
            AppError::NotTheNamedSigner { .. } => "not_the_named_signer",
            AppError::Store(e) => e.code(),
            AppError::Render(e) => e.code(),
            AppError::Signing(e) => e.code(),
            AppError::Refused { code, .. } => code,
            AppError::Scan(e) => e.code(),
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::AccountLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Csrf | AppError::Forbidden(_) | AppError::NotTheNamedSigner { .. } => StatusCode::FORBIDDEN,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotHere(_) => StatusCode::CONFLICT,
            AppError::Store(e) => match e {
                StoreError::NotFound => StatusCode::NOT_FOUND,
                StoreError::Conflict { .. } => StatusCode::CONFLICT,
                StoreError::Domain(DomainError::Forbidden(_)) => StatusCode::FORBIDDEN,
                StoreError::Domain(DomainError::IllegalTransition { .. }) => StatusCode::CONFLICT,
                StoreError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
                StoreError::UnsupportedUrl(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::Render(e) => match e {
                vanban_render::RenderError::Domain(DomainError::Forbidden(_)) => StatusCode::FORBIDDEN,
                vanban_render::RenderError::Domain(_)
                | vanban_render::RenderError::Body(_)
                | vanban_render::RenderError::NotOffice(_)
                | vanban_render::RenderError::Encrypted
                | vanban_render::RenderError::Conversion(_)
                | vanban_render::RenderError::InvalidRegister(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::Signing(e) => signing_status(e),
            AppError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Scan(e) => match e.code() {
                "ocr_tool_missing" | "ocr_failed" | "ocr_timeout" => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown to people, in Vietnamese.
    pub fn message_vi(&self) -> String {
        match self {
            AppError::Unauthenticated => "Bạn cần đăng nhập để tiếp tục.".into(),
            AppError::InvalidCredentials => "Tên đăng nhập hoặc mật khẩu không đúng.".into(),
            AppError::AccountLocked { until } => {
                format!("Tài khoản tạm khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau {until}.")
            }
            AppError::Csrf => "Phiên làm việc không hợp lệ hoặc biểu mẫu đã hết hạn. Vui lòng tải lại trang.".into(),
            AppError::Forbidden(_) | AppError::Store(StoreError::Domain(DomainError::Forbidden(_))) => {
                "Bạn không có quyền thực hiện thao tác này.".into()
            }
            AppError::PayloadTooLarge => "Dữ liệu gửi lên vượt quá dung lượng cho phép.".into(),
            AppError::MethodNotAllowed => {
                "Địa chỉ này chỉ nhận dữ liệu gửi từ biểu mẫu: hãy quay lại trang trước và dùng nút trên trang.".into()
            }
            AppError::BadRequest(_) => "Yêu cầu không hợp lệ.".into(),
            AppError::NotHere(_) => "Thao tác này được thực hiện ở bước riêng của quy trình (ký số, phát hành).".into(),
            AppError::NotTheNamedSigner { named } => {
                format!("Văn bản ghi người ký là {named}; chỉ người có tên trong văn bản được ký.")
            }
            AppError::Store(StoreError::NotFound) => "Không tìm thấy đối tượng yêu cầu.".into(),
            AppError::Store(StoreError::Conflict { code }) => match *code {
                "duplicate_agency_code" => "Mã định danh cơ quan đã tồn tại.".into(),
                "duplicate_username" => "Tên đăng nhập đã được sử dụng.".into(),
                "duplicate_unit" => "Đơn vị với ký hiệu này đã tồn tại trong cơ quan.".into(),
                "signing_session_closed" => "Phiên ký đã kết thúc hoặc hết hạn. Hãy mở phiên ký mới.".into(),
                "pin_locked" => "Nhập sai mã PIN quá nhiều lần: chứng thư số tạm khóa 15 phút.".into(),
                other => StoreError::conflict_message_vi(other).unwrap_or("Dữ liệu bị trùng.").into(),
            },
            AppError::Store(StoreError::Domain(e)) | AppError::Render(vanban_render::RenderError::Domain(e)) => {
                e.message_vi()
            }
            AppError::Render(vanban_render::RenderError::Body(b)) => format!("Nội dung văn bản không hợp lệ: {b}"),
            AppError::Render(vanban_render::RenderError::FontMissing(_)) => {
                "Máy chủ chưa cài phông chữ Times New Roman hoặc Liberation Serif.".into()
            }
            AppError::Render(vanban_render::RenderError::NotOffice(_)) => {
                "Tệp tải lên không phải văn bản Word (DOCX), LibreOffice (ODT) hoặc PDF.".into()
            }
            AppError::Render(vanban_render::RenderError::Encrypted) => {
                "Tệp được bảo vệ bằng mật khẩu. Hãy gỡ mật khẩu rồi tải lên lại.".into()
            }
            AppError::Render(vanban_render::RenderError::Conversion(_)) => {
                "Không chuyển được tệp sang PDF: tệp có thể bị hỏng.".into()
            }
            AppError::Render(vanban_render::RenderError::ConverterMissing(_)) => {
                "Máy chủ chưa cài LibreOffice để chuyển đổi tệp.".into()
            }
            AppError::Render(vanban_render::RenderError::InvalidRegister(_)) => {
                "Dữ liệu sổ không hợp lệ (khoảng thời gian hoặc số cột).".into()
            }
            AppError::Render(vanban_render::RenderError::Xlsx(_)) => "Không xuất được tệp Excel của sổ.".into(),
            AppError::Render(_) => "Không dựng được bản PDF của văn bản.".into(),
            AppError::Refused { message_vi, .. } => (*message_vi).into(),
            AppError::Scan(e) => e.message_vi(),
            AppError::Signing(e) => e.message_vi(),
            AppError::Store(StoreError::UnsupportedUrl(_)) => "Địa chỉ cơ sở dữ liệu không được hỗ trợ.".into(),
            AppError::Store(_) | AppError::Internal(_) => "Hệ thống gặp lỗi. Vui lòng thử lại sau.".into(),
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request refused");
        }
    }
}

/// The JSON body of every API error.
#[derive(serde::Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
    pub message_vi: String,
}

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let message = match &e {
            // Never leak internals to clients; the log has them.
            AppError::Internal(_)
            | AppError::Store(StoreError::Database(_) | StoreError::Migrate(_) | StoreError::Blob(_)) => {
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody { error: ErrorDetail { code: e.code(), message, message_vi: e.message_vi() } };
        (e.status(), Json(body)).into_response()
    }
}

/// An error answered as an HTML page (or, when not signed in, a redirect to the login page).
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        if matches!(e, AppError::Unauthenticated) {
            return Redirect::to("/login").into_response();
        }
        e.log();
        let page = crate::pages::ErrorPage { status: e.status().as_u16(), code: e.code(), message: e.message_vi() };
        let html = askama::Template::render(&page).unwrap_or_else(|_| e.message_vi());
        (e.status(), Html(html)).into_response()
    }
}
