//! Errors of the storage layer. Each has a stable code; the server maps them to HTTP in one place.

use vanban_domain::DomainError;

/// An error from a store or the blob store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist, or it exists but is outside the caller's scope.
    /// The two are deliberately indistinguishable.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the code names which (e.g. `duplicate_agency_code`).
    #[error("conflict: {code}")]
    Conflict { code: &'static str },
    /// A domain rule refused the change; nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A stored row no longer parses into domain values (edited outside vanban?).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The blob store failed.
    #[error("blob store error: {0}")]
    Blob(#[from] object_store::Error),
    /// A blob's bytes no longer hash to its address.
    #[error("blob {0} failed its SHA-256 check")]
    BlobCorrupt(String),
    /// The database URL names no backend vanban knows.
    #[error("unsupported database URL (expected sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// The stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { code } => code,
            StoreError::Domain(e) => e.code(),
            StoreError::Corrupt { .. } => "corrupt_data",
            StoreError::Database(_) | StoreError::Migrate(_) => "database_error",
            StoreError::Blob(_) => "blob_store_error",
            StoreError::BlobCorrupt(_) => "blob_corrupt",
            StoreError::UnsupportedUrl(_) => "unsupported_database_url",
        }
    }

    /// The Vietnamese message of a [`StoreError::Conflict`] code this store raises, for the
    /// one place that shows errors to people; `None` for a code it does not raise.
    pub fn conflict_message_vi(code: &str) -> Option<&'static str> {
        Some(match code {
            "duplicate_agency_code" => "Mã định danh cơ quan đã tồn tại.",
            "duplicate_username" => "Tên đăng nhập đã được sử dụng.",
            "duplicate_unit" => "Đơn vị với ký hiệu này đã tồn tại trong cơ quan.",
            "authorities_exist" => "Hệ thống chứng thư số của máy chủ đã được khởi tạo.",
            "duplicate_certificate" => "Chứng thư số này đã được lưu.",
            "ambiguous_serial" => "Có nhiều chứng thư số cùng số hiệu; cần chỉ rõ tổ chức cấp.",
            "certificate_revoked" => "Chứng thư số đã bị thu hồi.",
            "stale_revision" => {
                "Văn bản vừa được người khác ký hoặc cập nhật. Vui lòng tải lại trang rồi thực hiện lại."
            }
            "signing_session_completed" => "Phiên ký số này đã hoàn tất.",
            "signing_session_expired" => "Phiên ký số đã hết hạn. Vui lòng thực hiện ký lại.",
            "duplicate_register" => "Cơ quan đã có sổ với tên này.",
            "register_full" => "Sổ đã hết số trong năm.",
            "duplicate_symbol" => {
                "Số, ký hiệu này đã được cấp trong năm ở một sổ khác của cơ quan. Vui lòng kiểm tra cấu hình sổ."
            }
            "not_numbered" => "Văn bản chưa được cấp số.",
            "already_issued" => "Văn bản đã được ban hành.",
            "replacement_not_issued" => "Văn bản thay thế phải là một văn bản khác đã ban hành của cơ quan.",
            "not_a_handler" => "Bạn không được phân công xử lý văn bản này.",
            "not_the_lead_handler" => "Chỉ người chủ trì xử lý mới thực hiện được thao tác này.",
            "register_mismatch" => "Sổ đã chọn không dùng cho loại hoặc độ mật của văn bản này.",
            "no_pending_change" => "Không có yêu cầu thu hồi, cập nhật hay thay thế nào đang chờ trả lời.",
            "update_only_for_update" => {
                "Chỉ yêu cầu cập nhật mới kèm nội dung cập nhật (trích yếu, độ khẩn, hạn trả lời)."
            }
            _ => return None,
        })
    }

    pub(crate) fn corrupt(table: &'static str, reason: impl std::fmt::Display) -> Self {
        StoreError::Corrupt { table, reason: reason.to_string() }
    }

    /// Maps a unique-constraint violation to `Conflict { code }`, anything else unchanged.
    pub(crate) fn unique_as(code: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
        move |e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict { code },
            _ => StoreError::Database(e),
        }
    }
}

/// Result alias of the storage layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
