//! What the audit log's codes mean, in Vietnamese, for the people who read it.
//!
//! The log stores stable codes ("incoming.assign"); these labels are for display only and
//! may be reworded without touching a stored event or its hash.

/// Families of actions an administrator filters by: (prefix with its dot, label).
pub const ACTION_FAMILIES: &[(&str, &str)] = &[
    ("document.", "Văn bản đi (soạn thảo, ký, ban hành)"),
    ("incoming.", "Văn bản đến (tiếp nhận, xử lý)"),
    ("auth.", "Đăng nhập"),
    ("user.", "Cán bộ"),
    ("agency.", "Cơ quan"),
    ("unit.", "Đơn vị"),
    ("delegation.", "Ủy quyền"),
    ("certificate.", "Chứng thư số"),
    ("signing_image.", "Ảnh chữ ký, con dấu"),
    ("register.", "Sổ văn bản"),
    ("outbox.", "Gửi liên thông"),
    ("exchange.", "Nhận liên thông"),
    ("delivery.", "Trạng thái từ nơi nhận"),
    ("pki.", "Hệ thống chứng thực"),
];

/// The Vietnamese label of an audit action code, if it is one vanban writes.
pub fn action_label_vi(code: &str) -> Option<&'static str> {
    Some(match code {
        "auth.login" => "Đăng nhập",
        "auth.login_failed" => "Đăng nhập không thành công",
        "auth.logout" => "Đăng xuất",
        "user.create" => "Tạo tài khoản cán bộ",
        "user.set_password" => "Đặt lại mật khẩu",
        "user.set_roles" => "Đổi vai trò",
        "user.activate" => "Mở lại tài khoản",
        "user.deactivate" => "Khóa tài khoản",
        "agency.create" => "Tạo cơ quan",
        "agency.update" => "Sửa thông tin cơ quan",
        "unit.create" => "Tạo đơn vị",
        "delegation.create" => "Ủy quyền ký",
        "delegation.revoke" => "Thu hồi ủy quyền",
        "certificate.create" => "Cấp chứng thư số",
        "certificate.revoke" => "Thu hồi chứng thư số",
        "signing_image.set" => "Đặt ảnh chữ ký hoặc con dấu",
        "register.create" => "Mở sổ văn bản",
        "pki.create_authorities" => "Khởi tạo hệ thống chứng thực",
        "pki.crl_number" => "Phát hành danh sách thu hồi",
        "document.create_draft" => "Tạo dự thảo",
        "document.add_version" => "Lưu phiên bản dự thảo",
        "document.add_files" => "Đính kèm tệp",
        "document.comment" => "Góp ý",
        "document.submit_for_review" => "Trình duyệt",
        "document.review_approve" => "Đồng ý (bước duyệt)",
        "document.review_return" => "Trả lại (bước duyệt)",
        "document.return_to_drafter" => "Trả lại người soạn",
        "document.approve" => "Duyệt",
        "document.prepare_signature" => "Chuẩn bị ký số",
        "document.complete_signature" => "Hoàn tất ký số",
        "document.sign" => "Ký số",
        "document.revision" => "Lưu bản ký",
        "document.assign_number" => "Cấp số",
        "document.issue" => "Ban hành",
        "document.deliver" => "Gửi văn bản",
        "document.revoke" => "Thu hồi văn bản",
        "document.replace" => "Thay thế văn bản",
        "document.update" => "Cập nhật văn bản",
        "incoming.receive" => "Nhận văn bản đến",
        "incoming.register" => "Vào sổ văn bản đến",
        "incoming.return" => "Trả lại văn bản đến",
        "incoming.assign" => "Giao xử lý",
        "incoming.start_work" => "Bắt đầu xử lý",
        "incoming.forward" => "Chuyển xử lý",
        "incoming.finish" => "Hoàn thành xử lý",
        "incoming.withdraw" => "Văn bản bị thu hồi",
        "incoming.change_requested" => "Nơi gửi yêu cầu thu hồi, cập nhật hoặc thay thế",
        "incoming.change_accepted" => "Chấp nhận thu hồi, cập nhật hoặc thay thế",
        "incoming.change_refused" => "Từ chối thu hồi, cập nhật hoặc thay thế",
        "outbox.sent" => "Gửi gói tin liên thông",
        "outbox.attempt_failed" => "Gửi liên thông không thành công (sẽ thử lại)",
        "outbox.failed" => "Gửi liên thông thất bại",
        "outbox.retry" => "Gửi lại gói tin liên thông",
        "exchange.identity_created" => "Tạo định danh liên thông",
        "exchange.received" => "Nhận gói tin liên thông",
        "exchange.refused" => "Từ chối gói tin liên thông",
        "delivery.remote_status" => "Nơi nhận báo trạng thái",
        _ => return None,
    })
}

/// The Vietnamese name of an audit event's object type.
pub fn object_label_vi(object_type: &str) -> &'static str {
    match object_type {
        "document" => "Văn bản",
        "user" => "Cán bộ",
        "agency" => "Cơ quan",
        "unit" => "Đơn vị",
        "delegation" => "Ủy quyền",
        "certificate" => "Chứng thư số",
        "register" => "Sổ",
        "outbox" => "Gói tin gửi",
        "package" => "Gói tin",
        "pki" => "Hệ thống chứng thực",
        _ => "Đối tượng",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IncomingAction, OutgoingAction};

    #[test]
    fn every_lifecycle_action_has_a_label() {
        for a in OutgoingAction::ALL {
            let code = format!("document.{}", a.as_str());
            assert!(action_label_vi(&code).is_some(), "{code}");
        }
        for a in IncomingAction::ALL {
            let code = format!("incoming.{}", a.as_str());
            assert!(action_label_vi(&code).is_some(), "{code}");
        }
    }

    #[test]
    fn every_family_prefixes_a_labelled_action() {
        for (prefix, _) in ACTION_FAMILIES {
            assert!(prefix.ends_with('.'));
            assert!(
                [
                    "auth.login",
                    "user.create",
                    "agency.create",
                    "unit.create",
                    "delegation.create",
                    "certificate.create",
                    "signing_image.set",
                    "register.create",
                    "outbox.sent",
                    "exchange.received",
                    "delivery.remote_status",
                    "pki.crl_number",
                    "document.issue",
                    "incoming.assign"
                ]
                .iter()
                .any(|c| c.starts_with(prefix) && action_label_vi(c).is_some()),
                "{prefix}"
            );
        }
        assert_eq!(action_label_vi("no.such"), None);
    }
}
