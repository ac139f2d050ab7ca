//! Administrative document types (Decree 30/2020 Art. 7, Appendix III §I)
//! and forms of copy.

use std::str::FromStr;

use crate::error::{DomainError, reason};
use crate::text::{fold_key, nfc};

code_enum! {
    /// The 29 administrative document types of Decree 30/2020 Art. 7.
    pub enum DocumentType {
        /// Nghị quyết (cá biệt), NQ.
        NghiQuyet => "nghi_quyet",
        /// Quyết định (cá biệt), QĐ.
        QuyetDinh => "quyet_dinh",
        /// Chỉ thị, CT.
        ChiThi => "chi_thi",
        /// Quy chế, QC.
        QuyChe => "quy_che",
        /// Quy định, QyĐ.
        QuyDinh => "quy_dinh",
        /// Thông cáo, TC.
        ThongCao => "thong_cao",
        /// Thông báo, TB.
        ThongBao => "thong_bao",
        /// Hướng dẫn, HD.
        HuongDan => "huong_dan",
        /// Chương trình, CTr.
        ChuongTrinh => "chuong_trinh",
        /// Kế hoạch, KH.
        KeHoach => "ke_hoach",
        /// Phương án, PA.
        PhuongAn => "phuong_an",
        /// Đề án, ĐA.
        DeAn => "de_an",
        /// Dự án, DA.
        DuAn => "du_an",
        /// Báo cáo, BC.
        BaoCao => "bao_cao",
        /// Biên bản, BB.
        BienBan => "bien_ban",
        /// Tờ trình, TTr.
        ToTrinh => "to_trinh",
        /// Hợp đồng, HĐ.
        HopDong => "hop_dong",
        /// Công văn (no type abbreviation).
        CongVan => "cong_van",
        /// Công điện, CĐ.
        CongDien => "cong_dien",
        /// Bản ghi nhớ, BGN.
        BanGhiNho => "ban_ghi_nho",
        /// Bản thỏa thuận, BTT.
        BanThoaThuan => "ban_thoa_thuan",
        /// Giấy ủy quyền, GUQ.
        GiayUyQuyen => "giay_uy_quyen",
        /// Giấy mời, GM.
        GiayMoi => "giay_moi",
        /// Giấy giới thiệu, GGT.
        GiayGioiThieu => "giay_gioi_thieu",
        /// Giấy nghỉ phép, GNP.
        GiayNghiPhep => "giay_nghi_phep",
        /// Phiếu gửi, PG.
        PhieuGui => "phieu_gui",
        /// Phiếu chuyển, PC.
        PhieuChuyen => "phieu_chuyen",
        /// Phiếu báo, PB.
        PhieuBao => "phieu_bao",
        /// Thư công (no type abbreviation).
        ThuCong => "thu_cong",
    }
}

impl DocumentType {
    /// The type abbreviation used in symbols; `None` for Công văn and Thư công.
    pub const fn abbreviation(self) -> Option<&'static str> {
        use DocumentType::*;
        Some(match self {
            NghiQuyet => "NQ",
            QuyetDinh => "QĐ",
            ChiThi => "CT",
            QuyChe => "QC",
            QuyDinh => "QyĐ",
            ThongCao => "TC",
            ThongBao => "TB",
            HuongDan => "HD",
            ChuongTrinh => "CTr",
            KeHoach => "KH",
            PhuongAn => "PA",
            DeAn => "ĐA",
            DuAn => "DA",
            BaoCao => "BC",
            BienBan => "BB",
            ToTrinh => "TTr",
            HopDong => "HĐ",
            CongDien => "CĐ",
            BanGhiNho => "BGN",
            BanThoaThuan => "BTT",
            GiayUyQuyen => "GUQ",
            GiayMoi => "GM",
            GiayGioiThieu => "GGT",
            GiayNghiPhep => "GNP",
            PhieuGui => "PG",
            PhieuChuyen => "PC",
            PhieuBao => "PB",
            CongVan | ThuCong => return None,
        })
    }

    /// The Vietnamese type name ("Quyết định", "Công văn", …).
    pub const fn name_vi(self) -> &'static str {
        use DocumentType::*;
        match self {
            NghiQuyet => "Nghị quyết",
            QuyetDinh => "Quyết định",
            ChiThi => "Chỉ thị",
            QuyChe => "Quy chế",
            QuyDinh => "Quy định",
            ThongCao => "Thông cáo",
            ThongBao => "Thông báo",
            HuongDan => "Hướng dẫn",
            ChuongTrinh => "Chương trình",
            KeHoach => "Kế hoạch",
            PhuongAn => "Phương án",
            DeAn => "Đề án",
            DuAn => "Dự án",
            BaoCao => "Báo cáo",
            BienBan => "Biên bản",
            ToTrinh => "Tờ trình",
            HopDong => "Hợp đồng",
            CongVan => "Công văn",
            CongDien => "Công điện",
            BanGhiNho => "Bản ghi nhớ",
            BanThoaThuan => "Bản thỏa thuận",
            GiayUyQuyen => "Giấy ủy quyền",
            GiayMoi => "Giấy mời",
            GiayGioiThieu => "Giấy giới thiệu",
            GiayNghiPhep => "Giấy nghỉ phép",
            PhieuGui => "Phiếu gửi",
            PhieuChuyen => "Phiếu chuyển",
            PhieuBao => "Phiếu báo",
            ThuCong => "Thư công",
        }
    }

    /// The edXML `TypeName` (always filled): the Vietnamese name.
    pub const fn edxml_type_name(self) -> &'static str {
        self.name_vi()
    }

    /// Whether the symbol starts with a type abbreviation (all but Công văn
    /// and Thư công).
    pub const fn is_typed(self) -> bool {
        self.abbreviation().is_some()
    }
}

impl FromStr for DocumentType {
    type Err = DomainError;
    /// Accepts the snake code, the abbreviation (exact letters, any case:
    /// "QĐ", "qđ", "QyĐ"), or the Vietnamese name without regard to case or
    /// diacritics. Abbreviations are not diacritic-folded because ĐA and DA
    /// differ.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = nfc(s.trim());
        let upper = trimmed.to_uppercase();
        let key = fold_key(&trimmed);
        DocumentType::from_snake(&trimmed)
            .or_else(|| {
                DocumentType::ALL.into_iter().find(|t| t.abbreviation().is_some_and(|a| a.to_uppercase() == upper))
            })
            .or_else(|| DocumentType::ALL.into_iter().find(|t| fold_key(t.name_vi()) == key || t.as_str() == key))
            .ok_or_else(|| DomainError::UnknownDocumentType(trimmed.clone()))
    }
}

code_enum! {
    /// Form of a copy (Decree 30/2020 Art. 25).
    pub enum CopyForm {
        /// Bản sao y, SY.
        SaoY => "sao_y",
        /// Bản trích sao, TrS.
        TrichSao => "trich_sao",
        /// Bản sao lục, SL.
        SaoLuc => "sao_luc",
    }
}

impl CopyForm {
    /// Abbreviation used in copy symbols: SY, TrS, SL.
    pub const fn abbreviation(self) -> &'static str {
        match self {
            CopyForm::SaoY => "SY",
            CopyForm::TrichSao => "TrS",
            CopyForm::SaoLuc => "SL",
        }
    }

    /// Vietnamese name ("Sao y", "Trích sao", "Sao lục").
    pub const fn name_vi(self) -> &'static str {
        match self {
            CopyForm::SaoY => "Sao y",
            CopyForm::TrichSao => "Trích sao",
            CopyForm::SaoLuc => "Sao lục",
        }
    }

    /// The upper-case mark printed on a copy ("SAO Y", "TRÍCH SAO", "SAO LỤC").
    pub const fn mark(self) -> &'static str {
        match self {
            CopyForm::SaoY => "SAO Y",
            CopyForm::TrichSao => "TRÍCH SAO",
            CopyForm::SaoLuc => "SAO LỤC",
        }
    }
}

impl FromStr for CopyForm {
    type Err = DomainError;
    /// Accepts the snake code, the abbreviation, or the Vietnamese name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = fold_key(s);
        CopyForm::ALL
            .into_iter()
            .find(|c| key == c.as_str() || key == fold_key(c.abbreviation()) || key == fold_key(c.name_vi()))
            .ok_or(DomainError::InvalidValue { field: "copy_form", reason: reason::UNKNOWN_COPY_FORM })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn there_are_29_types() {
        assert_eq!(DocumentType::ALL.len(), 29);
        let codes: BTreeSet<_> = DocumentType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(codes.len(), 29);
        let names: BTreeSet<_> = DocumentType::ALL.iter().map(|t| t.name_vi()).collect();
        assert_eq!(names.len(), 29);
    }

    #[test]
    fn abbreviations_are_unique_and_only_two_are_missing() {
        let abbrs: Vec<_> = DocumentType::ALL.iter().filter_map(|t| t.abbreviation()).collect();
        assert_eq!(abbrs.len(), 27);
        assert_eq!(abbrs.iter().collect::<BTreeSet<_>>().len(), 27);
        let upper: BTreeSet<_> = abbrs.iter().map(|a| a.to_uppercase()).collect();
        assert_eq!(upper.len(), 27, "abbreviations must differ ignoring case");
        let missing: Vec<_> = DocumentType::ALL.into_iter().filter(|t| !t.is_typed()).collect();
        assert_eq!(missing, [DocumentType::CongVan, DocumentType::ThuCong]);
    }

    #[test]
    fn decree_abbreviations() {
        use DocumentType::*;
        for (t, a) in [
            (NghiQuyet, "NQ"),
            (QuyetDinh, "QĐ"),
            (QuyDinh, "QyĐ"),
            (ChuongTrinh, "CTr"),
            (DeAn, "ĐA"),
            (DuAn, "DA"),
            (ToTrinh, "TTr"),
            (HopDong, "HĐ"),
            (CongDien, "CĐ"),
            (GiayUyQuyen, "GUQ"),
            (PhieuBao, "PB"),
        ] {
            assert_eq!(t.abbreviation(), Some(a), "{t}");
        }
    }

    #[test]
    fn strings_are_nfc() {
        for t in DocumentType::ALL {
            assert_eq!(nfc(t.name_vi()), t.name_vi());
            if let Some(a) = t.abbreviation() {
                assert_eq!(nfc(a), a);
            }
        }
    }

    #[test]
    fn from_str_accepts_code_abbreviation_and_name() {
        for t in DocumentType::ALL {
            assert_eq!(t.as_str().parse::<DocumentType>().unwrap(), t);
            assert_eq!(t.name_vi().parse::<DocumentType>().unwrap(), t);
            assert_eq!(t.name_vi().to_uppercase().parse::<DocumentType>().unwrap(), t);
            assert_eq!(crate::text::fold_vi(t.name_vi()).parse::<DocumentType>().unwrap(), t);
            if let Some(a) = t.abbreviation() {
                assert_eq!(a.parse::<DocumentType>().unwrap(), t);
            }
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(t.edxml_type_name(), t.name_vi());
        }
        assert_eq!("cong_van".parse::<DocumentType>().unwrap(), DocumentType::CongVan);
        assert_eq!("cong van".parse::<DocumentType>().unwrap(), DocumentType::CongVan);
        assert_eq!("qđ".parse::<DocumentType>().unwrap(), DocumentType::QuyetDinh);
        assert_eq!("QYĐ".parse::<DocumentType>().unwrap(), DocumentType::QuyDinh);
        assert_eq!("ĐA".parse::<DocumentType>().unwrap(), DocumentType::DeAn);
        assert_eq!("DA".parse::<DocumentType>().unwrap(), DocumentType::DuAn);
        // Decomposed input.
        assert_eq!("Quye\u{0302}\u{0301}t đi\u{0323}nh".parse::<DocumentType>().unwrap(), DocumentType::QuyetDinh);
        assert_eq!("Bản thoả thuận".parse::<DocumentType>().unwrap(), DocumentType::BanThoaThuan);
    }

    #[test]
    fn unknown_types_are_rejected() {
        assert_eq!("Luật".parse::<DocumentType>(), Err(DomainError::UnknownDocumentType("Luật".into())));
        assert!("".parse::<DocumentType>().is_err());
        assert!("QD-UBND".parse::<DocumentType>().is_err());
    }

    #[test]
    fn copy_forms() {
        let abbrs: Vec<_> = CopyForm::ALL.iter().map(|c| c.abbreviation()).collect();
        assert_eq!(abbrs, ["SY", "TrS", "SL"]);
        let names: Vec<_> = CopyForm::ALL.iter().map(|c| c.name_vi()).collect();
        assert_eq!(names, ["Sao y", "Trích sao", "Sao lục"]);
        for c in CopyForm::ALL {
            assert_eq!(c.abbreviation().parse::<CopyForm>().unwrap(), c);
            assert_eq!(c.name_vi().parse::<CopyForm>().unwrap(), c);
            assert_eq!(c.mark().parse::<CopyForm>().unwrap(), c);
            assert_eq!(c.as_str().parse::<CopyForm>().unwrap(), c);
        }
        assert!("sao chep".parse::<CopyForm>().is_err());
    }
}
