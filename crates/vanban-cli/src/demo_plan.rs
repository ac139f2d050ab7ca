//! The demo province, "tỉnh Bình An" (level-1 code `H58`), as plain data.
//!
//! [`plan`] is pure and deterministic: no IO, no clock, no randomness. The
//! same [`Scale`] always gives the same plan, and the small plan is a subset
//! of the full one (same agencies, units and users with identical fields).
//!
//! Codes follow the legacy QCVN 102:2016 form `V1V2V3.Z1Z2.Y1Y2.MX1X2`,
//! read right to left (level 1 `H58`, level 2, level 3, level 4):
//!
//! | Agency                                   | Code            | Level      |
//! |------------------------------------------|-----------------|------------|
//! | UBND tỉnh                                | `000.00.00.H58` | provincial |
//! | Sở, Ban, Văn phòng UBND tỉnh … (NN 01–40) | `000.00.NN.H58` | provincial |
//! | Chi cục, Trung tâm, Bệnh viện … of a Sở   | `000.MM.NN.H58` | provincial |
//! | UBND huyện/thị xã/thành phố (NN 41–99)   | `000.00.NN.H58` | district   |
//! | Phòng, Trung tâm, Trường … of a district  | `000.MM.NN.H58` | district   |
//! | UBND xã/phường/thị trấn                  | `VVV.00.NN.H58` | commune    |
//!
//! Every agency has an admin, a clerk (văn thư), leaders, a unit head per
//! unit and at least one specialist; the provincial and district UBNDs also
//! have an archivist. Every agency except the UBND tỉnh has role logins
//! `<slug>.admin`, `<slug>.vanthu`, `<slug>.lanhdao` and `<slug>.chuyenvien`
//! (district UBNDs also `<slug>.luutru`), e.g. `stc.admin`; the UBND tỉnh has
//! `admin`, `vanthu`, `chuyenvien`, `truongphong`, `lanhdao`, `phochutich`
//! and `luutru`. Everyone else gets a login folded from their name, e.g.
//! `hoa.nv.stc12`.

use std::cmp::Reverse;

use vanban_domain::fold_vi;

/// How big a province to describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The default demo: 15 agencies, about a hundred users.
    Small,
    /// The real province: 510 agencies, 6,812 users.
    Full,
}

/// An agency (cơ quan) to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAgency {
    /// Legacy identifier code, e.g. `000.00.03.H58`.
    pub code: String,
    /// Code of the parent agency; `None` only for the UBND tỉnh.
    pub parent_code: Option<String>,
    /// Full name, e.g. "Sở Tài chính".
    pub name: String,
    /// Managing agency printed above the name (cơ quan chủ quản), if any.
    pub parent_name: Option<String>,
    /// Abbreviation used in document symbols, e.g. "STC".
    pub abbreviation: String,
    /// "provincial", "district" or "commune".
    pub level: &'static str,
    /// Place name for the date line, e.g. "Bình An".
    pub place: String,
}

/// A unit (phòng, ban) inside an agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUnit {
    /// Code of the agency the unit belongs to.
    pub agency_code: String,
    /// Name, e.g. "Phòng Tổng hợp".
    pub name: String,
    /// Abbreviation, unique within the agency, e.g. "TH".
    pub abbreviation: String,
}

/// A user account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    /// Code of the agency the user works for.
    pub agency_code: String,
    /// Abbreviation of the user's unit in that agency, if any.
    pub unit_abbreviation: Option<String>,
    /// Login name, `[a-z0-9._-]{3,64}`.
    pub username: String,
    /// Full name, e.g. "Nguyễn Thị Hương".
    pub full_name: String,
    /// Position title (chức vụ), e.g. "Phó Chủ tịch".
    pub position: String,
    /// Role codes: `admin`, `clerk`, `specialist`, `unit_head`, `leader`,
    /// `archivist`.
    pub roles: Vec<&'static str>,
}

/// The whole demo province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlan {
    /// "tỉnh Bình An".
    pub province_name: String,
    /// Agencies, every parent before its children.
    pub agencies: Vec<DemoAgency>,
    /// Units of the agencies.
    pub units: Vec<DemoUnit>,
    /// Users of the agencies.
    pub users: Vec<DemoUser>,
}

/// Describes the demo province at the given scale.
pub fn plan(scale: Scale) -> DemoPlan {
    let nodes = province_nodes();
    let extras = match scale {
        Scale::Full => full_scale_extras(&nodes),
        Scale::Small => vec![0; nodes.len()],
    };
    let mut plan = DemoPlan {
        province_name: PROVINCE_NAME.to_owned(),
        agencies: Vec::new(),
        units: Vec::new(),
        users: Vec::new(),
    };
    for (node, extra) in nodes.iter().zip(extras) {
        if scale == Scale::Small && !node.small {
            continue;
        }
        plan.units.extend(node.units.iter().map(|&(name, abbreviation)| DemoUnit {
            agency_code: node.agency.code.clone(),
            name: name.to_owned(),
            abbreviation: abbreviation.to_owned(),
        }));
        plan.users.extend(slots(node, extra).into_iter().enumerate().map(|(index, slot)| make_user(node, index, slot)));
        plan.agencies.push(node.agency.clone());
    }
    plan
}

// ---------------------------------------------------------------------------
// Province constants
// ---------------------------------------------------------------------------

/// Name of the province.
pub const PROVINCE_NAME: &str = "tỉnh Bình An";
/// Number of users at [`Scale::Full`].
pub const FULL_USERS: usize = 6_812;

const LEVEL1: &str = "H58";
const PROVINCE_PLACE: &str = "Bình An";
const ROOT_NAME: &str = "Ủy ban nhân dân tỉnh Bình An";
const ROOT_SLUG: &str = "ubnd";
const UBND: &str = "UBND";
const SYSTEM_ADMIN: &str = "Quản trị hệ thống";
/// Level-2 number of the first district UBND (provincial bodies use 01–40).
const FIRST_DISTRICT_L2: usize = 41;

const PROVINCIAL: &str = "provincial";
const DISTRICT: &str = "district";
const COMMUNE: &str = "commune";

/// Provincial bodies kept at [`Scale::Small`] (by abbreviation).
const SMALL_PROVINCIAL: &[&str] = &["VP", "SNV", "STC", "SYT"];
/// Districts kept at [`Scale::Small`] (indexes into [`DISTRICTS`]).
const SMALL_DISTRICTS: &[usize] = &[0, 2];
/// District bodies kept at [`Scale::Small`] (by abbreviation).
const SMALL_DISTRICT_BODIES: &[&str] = &["PTCKH", "PNV"];
/// Communes kept per district at [`Scale::Small`].
const SMALL_COMMUNES: usize = 2;

// ---------------------------------------------------------------------------
// Units (name, abbreviation). The first unit of each list is the office that
// holds the admin, the clerk and the archivist.
// ---------------------------------------------------------------------------

type UnitSpec = (&'static str, &'static str);

const ROOT_UNITS: &[UnitSpec] = &[
    ("Bộ phận Văn thư - Lưu trữ", "VTLT"),
    ("Phòng Tổng hợp", "TH"),
    ("Tổ Thư ký - Giúp việc lãnh đạo", "TK"),
    ("Ban Tiếp công dân tỉnh", "TCD"),
];
const GENERIC_UNITS: &[UnitSpec] = &[("Phòng Hành chính - Tổng hợp", "HCTH"), ("Phòng Nghiệp vụ", "NV")];
const SUBDEPT_UNITS: &[UnitSpec] =
    &[("Phòng Hành chính - Tổng hợp", "HCTH"), ("Phòng Nghiệp vụ", "NV"), ("Phòng Thanh tra - Pháp chế", "TTPC")];
const PROJECT_BOARD_UNITS: &[UnitSpec] = &[
    ("Phòng Hành chính - Tổng hợp", "HCTH"),
    ("Phòng Kế hoạch - Kỹ thuật", "KHKT"),
    ("Phòng Tài chính - Kế toán", "TCKT"),
];
const HOSPITAL_UNITS: &[UnitSpec] = &[
    ("Phòng Tổ chức - Hành chính", "TCHC"),
    ("Phòng Kế hoạch tổng hợp", "KHTH"),
    ("Phòng Tài chính - Kế toán", "TCKT"),
    ("Phòng Điều dưỡng", "ĐD"),
    ("Phòng Quản lý chất lượng", "QLCL"),
];
const SCHOOL_UNITS: &[UnitSpec] =
    &[("Tổ Văn phòng", "VP"), ("Tổ Chuyên môn Tự nhiên", "TN"), ("Tổ Chuyên môn Xã hội", "XH")];
const COLLEGE_UNITS: &[UnitSpec] = &[
    ("Phòng Tổ chức - Hành chính", "TCHC"),
    ("Phòng Đào tạo", "ĐT"),
    ("Phòng Kế hoạch - Tài chính", "KHTC"),
    ("Khoa Khoa học cơ bản", "KHCB"),
];
const NOTARY_UNITS: &[UnitSpec] = &[("Bộ phận Hành chính", "HC"), ("Bộ phận Công chứng", "CC")];
const DISTRICT_UBND_UNITS: &[UnitSpec] =
    &[("Bộ phận Văn thư - Lưu trữ", "VTLT"), ("Bộ phận Tổng hợp", "TH"), ("Ban Tiếp công dân", "TCD")];
const DISTRICT_OFFICE_UNITS: &[UnitSpec] =
    &[("Bộ phận Hành chính - Tổ chức", "HCTC"), ("Bộ phận Tổng hợp", "TH"), ("Bộ phận Một cửa", "MC")];
const DISTRICT_DEPT_UNITS: &[UnitSpec] = &[("Bộ phận Tổng hợp", "TH"), ("Bộ phận Nghiệp vụ", "NV")];
const DISTRICT_INSPECTORATE_UNITS: &[UnitSpec] =
    &[("Bộ phận Tổng hợp", "TH"), ("Bộ phận Tiếp công dân và xử lý đơn thư", "TCD")];
const DISTRICT_HEALTH_UNITS: &[UnitSpec] = &[
    ("Phòng Tổ chức - Hành chính", "TCHC"),
    ("Phòng Kế hoạch - Nghiệp vụ", "KHNV"),
    ("Khoa Kiểm soát bệnh tật", "KSBT"),
];
const DISTRICT_CENTRE_UNITS: &[UnitSpec] = &[("Bộ phận Hành chính - Tổng hợp", "HCTH"), ("Bộ phận Nghiệp vụ", "NV")];
const DISTRICT_SCHOOL_UNITS: &[UnitSpec] = &[("Tổ Văn phòng", "VP"), ("Tổ Chuyên môn", "CM")];

// ---------------------------------------------------------------------------
// Agency kinds: leader titles, number of deputies, specialist positions.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// UBND tỉnh.
    Province,
    /// Sở.
    Department,
    /// Văn phòng UBND tỉnh, Văn phòng HĐND và UBND huyện.
    Office,
    /// Thanh tra tỉnh, Thanh tra huyện.
    Inspectorate,
    /// Ban …
    Board,
    /// Chi cục.
    SubDept,
    /// Trung tâm, Đài, Quỹ, Bảo tàng, Thư viện …
    Centre,
    /// Bệnh viện.
    Hospital,
    /// Trường.
    School,
    /// Phòng Công chứng.
    Notary,
    /// UBND huyện, thị xã, thành phố.
    District,
    /// Phòng of a district.
    DistrictDept,
    /// UBND xã, phường, thị trấn.
    Commune,
}

impl Kind {
    /// Titles of the head and of the deputies.
    const fn titles(self) -> (&'static str, &'static str) {
        match self {
            Kind::Province | Kind::District | Kind::Commune => ("Chủ tịch", "Phó Chủ tịch"),
            Kind::Department | Kind::Centre | Kind::Hospital => ("Giám đốc", "Phó Giám đốc"),
            Kind::Office => ("Chánh Văn phòng", "Phó Chánh Văn phòng"),
            Kind::Inspectorate => ("Chánh Thanh tra", "Phó Chánh Thanh tra"),
            Kind::Board => ("Trưởng ban", "Phó Trưởng ban"),
            Kind::SubDept => ("Chi cục trưởng", "Phó Chi cục trưởng"),
            Kind::School => ("Hiệu trưởng", "Phó Hiệu trưởng"),
            Kind::Notary | Kind::DistrictDept => ("Trưởng phòng", "Phó Trưởng phòng"),
        }
    }

    /// Number of deputy leaders.
    const fn deputies(self) -> usize {
        match self {
            Kind::Province => 3,
            Kind::Department | Kind::District => 2,
            _ => 1,
        }
    }

    /// Positions given to specialists, in turn.
    const fn specialist_positions(self) -> &'static [&'static str] {
        match self {
            Kind::Inspectorate => &["Thanh tra viên", "Thanh tra viên chính"],
            Kind::Hospital => &["Chuyên viên", "Bác sĩ", "Điều dưỡng"],
            Kind::School => &["Giáo viên", "Kế toán", "Giáo viên"],
            Kind::Notary => &["Công chứng viên", "Chuyên viên"],
            Kind::Centre => &["Chuyên viên", "Viên chức"],
            Kind::Commune => &[
                "Công chức Địa chính - Xây dựng",
                "Công chức Tư pháp - Hộ tịch",
                "Công chức Văn hóa - Xã hội",
                "Công chức Tài chính - Kế toán",
            ],
            _ => &["Chuyên viên", "Chuyên viên chính", "Chuyên viên"],
        }
    }
}

/// Title of the head of a unit, from the unit's name.
fn unit_head_title(unit_name: &str) -> &'static str {
    const TITLES: &[(&str, &str)] = &[
        ("Văn phòng", "Chánh Văn phòng"),
        ("Phòng ", "Trưởng phòng"),
        ("Ban ", "Trưởng ban"),
        ("Bộ phận ", "Trưởng bộ phận"),
        ("Tổ ", "Tổ trưởng"),
        ("Khoa ", "Trưởng khoa"),
    ];
    TITLES.iter().find(|(prefix, _)| unit_name.starts_with(prefix)).map_or("Trưởng đơn vị", |(_, title)| title)
}

// ---------------------------------------------------------------------------
// Provincial bodies
// ---------------------------------------------------------------------------

/// An agency in a table: name, abbreviation, kind, headcount aimed at at full
/// scale, units.
struct Body {
    name: &'static str,
    abbr: &'static str,
    kind: Kind,
    size: usize,
    units: &'static [UnitSpec],
}

const fn body(name: &'static str, abbr: &'static str, kind: Kind, size: usize, units: &'static [UnitSpec]) -> Body {
    Body { name, abbr, kind, size, units }
}

/// A body directly under the UBND tỉnh, with its subordinate units.
struct Dept {
    head: Body,
    subs: &'static [Body],
}

const fn school(name: &'static str, abbr: &'static str) -> Body {
    body(name, abbr, Kind::School, 15, SCHOOL_UNITS)
}

const fn centre(name: &'static str, abbr: &'static str, size: usize) -> Body {
    body(name, abbr, Kind::Centre, size, GENERIC_UNITS)
}

const fn subdept(name: &'static str, abbr: &'static str, size: usize) -> Body {
    body(name, abbr, Kind::SubDept, size, SUBDEPT_UNITS)
}

const fn hospital(name: &'static str, abbr: &'static str, size: usize) -> Body {
    body(name, abbr, Kind::Hospital, size, HOSPITAL_UNITS)
}

/// The 20 bodies under the UBND tỉnh (level-2 codes 01–20, in order) and
/// their 75 subordinate units: with the UBND tỉnh, 96 provincial agencies.
const DEPARTMENTS: &[Dept] = &[
    Dept {
        head: body(
            "Văn phòng Ủy ban nhân dân tỉnh",
            "VP",
            Kind::Office,
            90,
            &[
                ("Phòng Hành chính - Tổ chức", "HCTC"),
                ("Phòng Kinh tế", "KT"),
                ("Phòng Khoa giáo - Văn xã", "KGVX"),
                ("Phòng Nội chính", "NC"),
                ("Phòng Kiểm soát thủ tục hành chính", "KSTTHC"),
            ],
        ),
        subs: &[
            centre("Trung tâm Phục vụ hành chính công tỉnh", "TTPVHCC", 40),
            centre("Trung tâm Thông tin - Công báo tỉnh", "TTTTCB", 15),
        ],
    },
    Dept {
        head: body(
            "Sở Nội vụ",
            "SNV",
            Kind::Department,
            80,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Tổ chức, biên chế và tổ chức phi chính phủ", "TCBC"),
                ("Phòng Công chức, viên chức", "CCVC"),
                ("Phòng Xây dựng chính quyền và công tác thanh niên", "XDCQ"),
                ("Phòng Lao động - Việc làm", "LĐVL"),
            ],
        ),
        subs: &[
            body("Ban Thi đua - Khen thưởng", "BTĐKT", Kind::Board, 15, GENERIC_UNITS),
            centre("Trung tâm Lưu trữ lịch sử tỉnh", "TTLTLS", 15),
            centre("Trung tâm Dịch vụ việc làm tỉnh", "TTDVVL", 25),
            centre("Cơ sở Bảo trợ xã hội tổng hợp tỉnh", "CSBTXH", 20),
            centre("Trung tâm Điều dưỡng người có công", "TTĐDNCC", 15),
        ],
    },
    Dept {
        head: body(
            "Sở Tài chính",
            "STC",
            Kind::Department,
            90,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Quản lý ngân sách", "QLNS"),
                ("Phòng Tài chính đầu tư", "TCĐT"),
                ("Phòng Quản lý giá và công sản", "QLGCS"),
                ("Phòng Tổng hợp - Quy hoạch", "THQH"),
            ],
        ),
        subs: &[centre("Trung tâm Xúc tiến đầu tư và Hỗ trợ doanh nghiệp", "TTXTĐT", 20)],
    },
    Dept {
        head: body(
            "Sở Tư pháp",
            "STP",
            Kind::Department,
            45,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Xây dựng và kiểm tra văn bản quy phạm pháp luật", "XDKTVB"),
                ("Phòng Hành chính tư pháp", "HCTP"),
                ("Phòng Bổ trợ tư pháp", "BTTP"),
                ("Phòng Phổ biến, giáo dục pháp luật", "PBGDPL"),
            ],
        ),
        subs: &[
            centre("Trung tâm Trợ giúp pháp lý nhà nước", "TTTGPL", 15),
            body("Phòng Công chứng số 1", "PCC1", Kind::Notary, 10, NOTARY_UNITS),
            body("Phòng Công chứng số 2", "PCC2", Kind::Notary, 8, NOTARY_UNITS),
            centre("Trung tâm Dịch vụ đấu giá tài sản", "TTDVĐGTS", 8),
        ],
    },
    Dept {
        head: body(
            "Sở Công Thương",
            "SCT",
            Kind::Department,
            60,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Quản lý công nghiệp", "QLCN"),
                ("Phòng Quản lý thương mại", "QLTM"),
                ("Phòng Quản lý năng lượng", "QLNL"),
                ("Phòng Kế hoạch - Tài chính", "KHTC"),
            ],
        ),
        subs: &[
            subdept("Chi cục Quản lý thị trường", "CCQLTT", 60),
            centre("Trung tâm Khuyến công và Tư vấn phát triển công nghiệp", "TTKC", 15),
            centre("Trung tâm Xúc tiến thương mại", "TTXTTM", 12),
        ],
    },
    Dept {
        head: body(
            "Sở Xây dựng",
            "SXD",
            Kind::Department,
            75,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Quản lý xây dựng", "QLXD"),
                ("Phòng Quy hoạch - Kiến trúc", "QHKT"),
                ("Phòng Quản lý giao thông", "QLGT"),
                ("Phòng Phát triển đô thị và nhà ở", "PTĐT"),
                ("Phòng Kinh tế và Vật liệu xây dựng", "KTVL"),
            ],
        ),
        subs: &[
            centre("Trung tâm Kiểm định chất lượng xây dựng", "TTKĐXD", 20),
            centre("Trung tâm Đăng kiểm phương tiện giao thông", "TTĐK", 25),
            body("Ban Quản lý bảo trì đường bộ", "BQLBTĐB", Kind::Board, 15, GENERIC_UNITS),
            centre("Cảng vụ Đường thủy nội địa", "CVĐTNĐ", 12),
        ],
    },
    Dept {
        head: body(
            "Sở Nông nghiệp và Môi trường",
            "SNNMT",
            Kind::Department,
            110,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Kế hoạch - Tài chính", "KHTC"),
                ("Phòng Quản lý đất đai", "QLĐĐ"),
                ("Phòng Môi trường", "MT"),
                ("Phòng Tài nguyên nước, khoáng sản và biến đổi khí hậu", "TNN"),
                ("Phòng Kinh tế hợp tác và phát triển nông thôn", "KTHT"),
            ],
        ),
        subs: &[
            subdept("Chi cục Trồng trọt và Bảo vệ thực vật", "CCTTBVTV", 35),
            subdept("Chi cục Chăn nuôi và Thú y", "CCCNTY", 35),
            subdept("Chi cục Kiểm lâm", "CCKL", 80),
            subdept("Chi cục Thủy lợi", "CCTL", 25),
            subdept("Chi cục Thủy sản", "CCTS", 25),
            subdept("Chi cục Quản lý chất lượng nông lâm sản và thủy sản", "CCQLCL", 20),
            centre("Văn phòng Đăng ký đất đai", "VPĐKĐĐ", 60),
            centre("Trung tâm Quan trắc tài nguyên và môi trường", "TTQT", 15),
            centre("Trung tâm Phát triển quỹ đất tỉnh", "TTPTQĐ", 20),
            centre("Trung tâm Khuyến nông", "TTKN", 20),
            centre("Trung tâm Nước sạch và Vệ sinh môi trường nông thôn", "TTNS", 15),
            body("Ban Quản lý rừng phòng hộ", "BQLRPH", Kind::Board, 25, GENERIC_UNITS),
            body("Ban Quản lý cảng cá", "BQLCC", Kind::Board, 12, GENERIC_UNITS),
        ],
    },
    Dept {
        head: body(
            "Sở Khoa học và Công nghệ",
            "SKHCN",
            Kind::Department,
            45,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Quản lý khoa học", "QLKH"),
                ("Phòng Chuyển đổi số", "CĐS"),
                ("Phòng Bưu chính, viễn thông", "BCVT"),
                ("Phòng Tiêu chuẩn đo lường chất lượng", "TĐC"),
            ],
        ),
        subs: &[
            centre("Trung tâm Ứng dụng tiến bộ khoa học và công nghệ", "TTUDKHCN", 15),
            centre("Trung tâm Công nghệ thông tin và Truyền thông", "TTCNTT", 20),
            centre("Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng", "TTKTTĐC", 12),
        ],
    },
    Dept {
        head: body(
            "Sở Giáo dục và Đào tạo",
            "SGDĐT",
            Kind::Department,
            70,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Giáo dục phổ thông", "GDPT"),
                ("Phòng Giáo dục mầm non", "GDMN"),
                ("Phòng Tổ chức cán bộ", "TCCB"),
                ("Phòng Khảo thí và Kiểm định chất lượng giáo dục", "KTKĐ"),
                ("Phòng Kế hoạch - Tài chính", "KHTC"),
            ],
        ),
        subs: &[
            body("Trường Trung học phổ thông chuyên Bình An", "THPTCBA", Kind::School, 20, SCHOOL_UNITS),
            school("Trường Trung học phổ thông Nguyễn Huệ", "THPTNH"),
            school("Trường Trung học phổ thông Trần Hưng Đạo", "THPTTHĐ"),
            school("Trường Trung học phổ thông Lê Lợi", "THPTLL"),
            school("Trường Trung học phổ thông Phan Bội Châu", "THPTPBC"),
            school("Trường Trung học phổ thông Nguyễn Trãi", "THPTNT"),
            school("Trường Trung học phổ thông Quang Trung", "THPTQT"),
            school("Trường Trung học phổ thông Hùng Vương", "THPTHV"),
            school("Trường Trung học phổ thông Nguyễn Du", "THPTND"),
            school("Trường Trung học phổ thông Chu Văn An", "THPTCVA"),
            school("Trường Trung học phổ thông Lương Thế Vinh", "THPTLTV"),
            school("Trường Trung học phổ thông Ngô Quyền", "THPTNQ"),
            school("Trường Trung học phổ thông Lý Thường Kiệt", "THPTLTK"),
            school("Trường Trung học phổ thông Nguyễn Bỉnh Khiêm", "THPTNBK"),
            school("Trường Trung học phổ thông Trần Phú", "THPTTP"),
            school("Trường Trung học phổ thông Lê Quý Đôn", "THPTLQĐ"),
            school("Trường Trung học phổ thông Nguyễn Thị Minh Khai", "THPTNTMK"),
            school("Trường Phổ thông Dân tộc nội trú tỉnh", "PTDTNT"),
            centre("Trung tâm Giáo dục thường xuyên tỉnh", "TTGDTX", 12),
        ],
    },
    Dept {
        head: body(
            "Sở Y tế",
            "SYT",
            Kind::Department,
            70,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Nghiệp vụ Y", "NVY"),
                ("Phòng Nghiệp vụ Dược", "NVD"),
                ("Phòng Kế hoạch - Tài chính", "KHTC"),
                ("Phòng Tổ chức cán bộ", "TCCB"),
            ],
        ),
        subs: &[
            hospital("Bệnh viện Đa khoa tỉnh Bình An", "BVĐK", 150),
            hospital("Bệnh viện Sản - Nhi tỉnh", "BVSN", 70),
            hospital("Bệnh viện Y dược cổ truyền tỉnh", "BVYDCT", 45),
            hospital("Bệnh viện Phổi tỉnh", "BVP", 35),
            hospital("Bệnh viện Tâm thần tỉnh", "BVTT", 30),
            hospital("Bệnh viện Mắt tỉnh", "BVM", 25),
            hospital("Bệnh viện Phục hồi chức năng tỉnh", "BVPHCN", 25),
            centre("Trung tâm Kiểm soát bệnh tật tỉnh", "CDC", 50),
            centre("Trung tâm Pháp y tỉnh", "TTPY", 10),
            centre("Trung tâm Kiểm nghiệm thuốc, mỹ phẩm, thực phẩm", "TTKNT", 12),
            centre("Trung tâm Giám định y khoa", "TTGĐYK", 10),
            subdept("Chi cục Dân số - Kế hoạch hóa gia đình", "CCDS", 15),
            subdept("Chi cục An toàn vệ sinh thực phẩm", "CCATVSTP", 15),
            body("Trường Cao đẳng Y tế Bình An", "CĐYT", Kind::School, 40, COLLEGE_UNITS),
        ],
    },
    Dept {
        head: body(
            "Sở Văn hóa, Thể thao và Du lịch",
            "SVHTTDL",
            Kind::Department,
            55,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Quản lý văn hóa", "QLVH"),
                ("Phòng Quản lý thể dục thể thao", "QLTDTT"),
                ("Phòng Quản lý du lịch", "QLDL"),
                ("Phòng Báo chí - Xuất bản", "BCXB"),
            ],
        ),
        subs: &[
            centre("Bảo tàng tỉnh Bình An", "BT", 15),
            centre("Thư viện tỉnh Bình An", "TV", 12),
            centre("Trung tâm Văn hóa - Điện ảnh tỉnh", "TTVHĐA", 15),
            centre("Trung tâm Huấn luyện và Thi đấu thể dục thể thao", "TTHLTĐ", 20),
            centre("Trung tâm Thông tin xúc tiến du lịch", "TTXTDL", 10),
            centre("Đoàn Nghệ thuật tỉnh Bình An", "ĐNT", 25),
            body("Ban Quản lý di tích tỉnh", "BQLDT", Kind::Board, 12, GENERIC_UNITS),
        ],
    },
    Dept {
        head: body(
            "Thanh tra tỉnh",
            "TTR",
            Kind::Inspectorate,
            45,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Nghiệp vụ 1", "NV1"),
                ("Phòng Nghiệp vụ 2", "NV2"),
                ("Phòng Nghiệp vụ 3", "NV3"),
                ("Phòng Phòng, chống tham nhũng", "PCTN"),
            ],
        ),
        subs: &[],
    },
    Dept {
        head: body(
            "Ban Dân tộc",
            "BDT",
            Kind::Board,
            25,
            &[("Văn phòng", "VP"), ("Phòng Chính sách dân tộc", "CSDT"), ("Phòng Kế hoạch - Tổng hợp", "KHTH")],
        ),
        subs: &[],
    },
    Dept {
        head: body(
            "Ban Quản lý các khu công nghiệp",
            "BQLKCN",
            Kind::Board,
            35,
            &[
                ("Văn phòng", "VP"),
                ("Phòng Quản lý đầu tư", "QLĐT"),
                ("Phòng Quản lý quy hoạch và xây dựng", "QLQHXD"),
                ("Phòng Quản lý doanh nghiệp và lao động", "QLDN"),
            ],
        ),
        subs: &[],
    },
    Dept {
        head: body(
            "Ban Quản lý dự án đầu tư xây dựng các công trình dân dụng và công nghiệp tỉnh",
            "BQLDADDCN",
            Kind::Board,
            30,
            PROJECT_BOARD_UNITS,
        ),
        subs: &[],
    },
    Dept {
        head: body(
            "Ban Quản lý dự án đầu tư xây dựng các công trình giao thông tỉnh",
            "BQLDAGT",
            Kind::Board,
            30,
            PROJECT_BOARD_UNITS,
        ),
        subs: &[],
    },
    Dept {
        head: body(
            "Ban Quản lý dự án đầu tư xây dựng các công trình nông nghiệp và phát triển nông thôn tỉnh",
            "BQLDANN",
            Kind::Board,
            25,
            PROJECT_BOARD_UNITS,
        ),
        subs: &[],
    },
    Dept {
        head: body(
            "Đài Phát thanh và Truyền hình Bình An",
            "PTTH",
            Kind::Centre,
            60,
            &[
                ("Phòng Tổ chức - Hành chính", "TCHC"),
                ("Phòng Thời sự", "TS"),
                ("Phòng Biên tập", "BT"),
                ("Phòng Kỹ thuật - Công nghệ", "KTCN"),
            ],
        ),
        subs: &[],
    },
    Dept { head: body("Trường Cao đẳng Bình An", "CĐBA", Kind::School, 80, COLLEGE_UNITS), subs: &[] },
    Dept {
        head: body(
            "Quỹ Đầu tư phát triển tỉnh Bình An",
            "QĐTPT",
            Kind::Centre,
            20,
            &[("Phòng Hành chính - Tổng hợp", "HCTH"), ("Phòng Tín dụng", "TD"), ("Phòng Kế toán", "KT")],
        ),
        subs: &[],
    },
];

// ---------------------------------------------------------------------------
// Districts
// ---------------------------------------------------------------------------

/// A district: kind ("thành phố", "thị xã", "huyện"), name, prefix of its
/// login slug, number of communes.
struct District {
    kind: &'static str,
    name: &'static str,
    slug_prefix: &'static str,
    communes: usize,
}

const fn district(kind: &'static str, name: &'static str, slug_prefix: &'static str, communes: usize) -> District {
    District { kind, name, slug_prefix, communes }
}

/// 11 districts (level-2 codes 41–51, in order) with 106 communes.
const DISTRICTS: &[District] = &[
    district("thành phố", "Bình An", "tp", 12),
    district("thị xã", "Phú Lộc", "tx", 8),
    district("huyện", "An Hòa", "", 10),
    district("huyện", "Tân Thành", "", 11),
    district("huyện", "Vĩnh Xuân", "", 9),
    district("huyện", "Đông Sơn", "", 10),
    district("huyện", "Hưng Mỹ", "", 9),
    district("huyện", "Thạch Bàn", "", 10),
    district("huyện", "Ngọc Lâm", "", 8),
    district("huyện", "Hải Thanh", "", 9),
    district("huyện", "Trà Giang", "", 10),
];

/// Headcount aimed at for a district UBND at full scale.
const DISTRICT_UBND_SIZE: usize = 25;

/// The 27 bodies of every district (level-3 codes 01–27, in order). Their
/// names get the district appended: "Phòng Nội vụ huyện An Hòa".
const DISTRICT_BODIES: &[Body] = &[
    body("Văn phòng Hội đồng nhân dân và Ủy ban nhân dân", "VP", Kind::Office, 20, DISTRICT_OFFICE_UNITS),
    district_dept("Phòng Nội vụ", "PNV", 10),
    district_dept("Phòng Tài chính - Kế hoạch", "PTCKH", 12),
    district_dept("Phòng Tư pháp", "PTP", 7),
    district_dept("Phòng Y tế", "PYT", 7),
    district_dept("Phòng Giáo dục và Đào tạo", "PGDĐT", 14),
    district_dept("Phòng Kinh tế", "PKT", 10),
    district_dept("Phòng Văn hóa - Thông tin", "PVHTT", 8),
    district_dept("Phòng Tài nguyên và Môi trường", "PTNMT", 12),
    district_dept("Phòng Lao động - Thương binh và Xã hội", "PLĐTBXH", 10),
    district_dept("Phòng Quản lý đô thị", "PQLĐT", 10),
    district_dept("Phòng Dân tộc", "PDT", 6),
    body("Thanh tra", "TTR", Kind::Inspectorate, 8, DISTRICT_INSPECTORATE_UNITS),
    body("Trung tâm Y tế", "TTYT", Kind::Centre, 40, DISTRICT_HEALTH_UNITS),
    district_centre("Trung tâm Văn hóa - Thể thao và Truyền thanh", "TTVHTT", 12),
    body("Ban Quản lý dự án đầu tư xây dựng", "BQLDA", Kind::Board, 12, DISTRICT_CENTRE_UNITS),
    district_centre("Trung tâm Phát triển quỹ đất", "TTPTQĐ", 8),
    district_centre("Trung tâm Giáo dục nghề nghiệp - Giáo dục thường xuyên", "TTGDNNGDTX", 10),
    district_centre("Trung tâm Dịch vụ nông nghiệp", "TTDVNN", 8),
    body("Ban Quản lý chợ", "BQLC", Kind::Board, 5, DISTRICT_CENTRE_UNITS),
    district_school("Trường Trung học cơ sở Lê Quý Đôn", "THCSLQĐ"),
    district_school("Trường Trung học cơ sở Nguyễn Du", "THCSND"),
    district_school("Trường Trung học cơ sở Trần Phú", "THCSTP"),
    district_school("Trường Tiểu học Kim Đồng", "THKĐ"),
    district_school("Trường Tiểu học Võ Thị Sáu", "THVTS"),
    district_school("Trường Mầm non Hoa Sen", "MNHS"),
    district_school("Trường Mầm non Sơn Ca", "MNSC"),
];

const fn district_dept(name: &'static str, abbr: &'static str, size: usize) -> Body {
    body(name, abbr, Kind::DistrictDept, size, DISTRICT_DEPT_UNITS)
}

const fn district_centre(name: &'static str, abbr: &'static str, size: usize) -> Body {
    body(name, abbr, Kind::Centre, size, DISTRICT_CENTRE_UNITS)
}

const fn district_school(name: &'static str, abbr: &'static str) -> Body {
    body(name, abbr, Kind::School, 6, DISTRICT_SCHOOL_UNITS)
}

/// Words combined into commune names ("Tân Lợi", "Phú Hòa" …).
const COMMUNE_FIRST: &[&str] = &[
    "An", "Tân", "Phú", "Hòa", "Bình", "Phước", "Long", "Thạnh", "Vĩnh", "Mỹ", "Hưng", "Đông", "Xuân", "Quảng", "Hải",
    "Thuận", "Kim", "Ngọc", "Cát", "Thành",
];
const COMMUNE_SECOND: &[&str] = &[
    "Phú", "Lợi", "Hòa", "Thành", "Lộc", "Hưng", "Mỹ", "Thịnh", "Sơn", "Điền", "Khánh", "Tiến", "Hiệp", "Bình",
    "Trung", "Nghĩa",
];

/// The first `count` distinct commune names. Pair `k` takes first word
/// `k % F` and second word `(k / F + k % F) % S`, which visits every pair once
/// while varying both words; pairs repeating a word are skipped.
fn commune_names(count: usize) -> Vec<String> {
    let (f, s) = (COMMUNE_FIRST.len(), COMMUNE_SECOND.len());
    (0..f * s)
        .filter_map(|k| {
            let first = pick(COMMUNE_FIRST, k % f);
            let second = pick(COMMUNE_SECOND, (k / f + k % f) % s);
            (first != second).then(|| format!("{first} {second}"))
        })
        .take(count)
        .collect()
}

/// "phường", "xã" or "thị trấn" for the `index`-th of `count` communes of a
/// district.
fn commune_kind(district: &District, index: usize, count: usize) -> &'static str {
    match district.kind {
        "thành phố" if index + 2 < count => "phường",
        "thị xã" if index < count / 2 => "phường",
        "huyện" if index == 0 => "thị trấn",
        _ => "xã",
    }
}

// ---------------------------------------------------------------------------
// Agency tree
// ---------------------------------------------------------------------------

/// An agency with what is needed to staff it.
struct Node {
    agency: DemoAgency,
    kind: Kind,
    /// Headcount aimed at at full scale.
    size: usize,
    units: &'static [UnitSpec],
    /// ASCII prefix/suffix for logins, unique per agency ("stc", "pnv.anhoa").
    slug: String,
    /// Whether the agency is part of [`Scale::Small`].
    small: bool,
}

/// Legacy code `VVV.ZZ.YY.H58` from levels 4, 3 and 2.
fn legacy_code(level4: usize, level3: usize, level2: usize) -> String {
    format!("{level4:03}.{level3:02}.{level2:02}.{LEVEL1}")
}

/// Lower-case ASCII letters and digits of `s`, diacritics folded.
fn ascii_slug(s: &str) -> String {
    fold_vi(s).chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Every agency of the full province, parents before children.
fn province_nodes() -> Vec<Node> {
    let root_code = legacy_code(0, 0, 0);
    let mut nodes = vec![Node {
        agency: DemoAgency {
            code: root_code.clone(),
            parent_code: None,
            name: ROOT_NAME.to_owned(),
            parent_name: None,
            abbreviation: UBND.to_owned(),
            level: PROVINCIAL,
            place: PROVINCE_PLACE.to_owned(),
        },
        kind: Kind::Province,
        size: 20,
        units: ROOT_UNITS,
        slug: ROOT_SLUG.to_owned(),
        small: true,
    }];

    for (i, dept) in DEPARTMENTS.iter().enumerate() {
        let code = legacy_code(0, 0, i + 1);
        let small = SMALL_PROVINCIAL.contains(&dept.head.abbr);
        nodes.push(provincial_node(&dept.head, code.clone(), &root_code, ROOT_NAME, small));
        for (j, sub) in dept.subs.iter().enumerate() {
            let sub_code = legacy_code(0, j + 1, i + 1);
            nodes.push(provincial_node(sub, sub_code, &code, dept.head.name, false));
        }
    }

    let total_communes = DISTRICTS.iter().map(|d| d.communes).sum();
    let mut names = commune_names(total_communes).into_iter();
    for (d, district) in DISTRICTS.iter().enumerate() {
        let level2 = FIRST_DISTRICT_L2 + d;
        let small = SMALL_DISTRICTS.contains(&d);
        let code = legacy_code(0, 0, level2);
        let suffix = format!("{} {}", district.kind, district.name);
        let ubnd_name = format!("Ủy ban nhân dân {suffix}");
        let slug = format!("{}{}", district.slug_prefix, ascii_slug(district.name));
        nodes.push(Node {
            agency: DemoAgency {
                code: code.clone(),
                parent_code: Some(root_code.clone()),
                name: ubnd_name.clone(),
                parent_name: None,
                abbreviation: UBND.to_owned(),
                level: DISTRICT,
                place: district.name.to_owned(),
            },
            kind: Kind::District,
            size: DISTRICT_UBND_SIZE,
            units: DISTRICT_UBND_UNITS,
            slug: slug.clone(),
            small,
        });

        for (j, b) in DISTRICT_BODIES.iter().enumerate() {
            nodes.push(Node {
                agency: DemoAgency {
                    code: legacy_code(0, j + 1, level2),
                    parent_code: Some(code.clone()),
                    name: format!("{} {suffix}", b.name),
                    parent_name: Some(ubnd_name.clone()),
                    abbreviation: b.abbr.to_owned(),
                    level: DISTRICT,
                    place: district.name.to_owned(),
                },
                kind: b.kind,
                size: b.size,
                units: b.units,
                slug: format!("{}.{slug}", ascii_slug(b.abbr)),
                small: small && SMALL_DISTRICT_BODIES.contains(&b.abbr),
            });
        }

        for c in 0..district.communes {
            let name = names.next().unwrap_or_default();
            let kind = commune_kind(district, c, district.communes);
            nodes.push(Node {
                agency: DemoAgency {
                    code: legacy_code(c + 1, 0, level2),
                    parent_code: Some(code.clone()),
                    name: format!("Ủy ban nhân dân {kind} {name}"),
                    parent_name: None,
                    abbreviation: UBND.to_owned(),
                    level: COMMUNE,
                    place: name.clone(),
                },
                kind: Kind::Commune,
                size: if kind == "xã" { 9 } else { 12 },
                units: &[],
                slug: format!("{}.{slug}", ascii_slug(&name)),
                small: small && c < SMALL_COMMUNES,
            });
        }
    }
    nodes
}

/// A provincial agency from a table row.
fn provincial_node(b: &Body, code: String, parent_code: &str, parent_name: &str, small: bool) -> Node {
    Node {
        agency: DemoAgency {
            code,
            parent_code: Some(parent_code.to_owned()),
            name: b.name.to_owned(),
            parent_name: Some(parent_name.to_owned()),
            abbreviation: b.abbr.to_owned(),
            level: PROVINCIAL,
            place: PROVINCE_PLACE.to_owned(),
        },
        kind: b.kind,
        size: b.size,
        units: b.units,
        slug: ascii_slug(b.abbr),
        small,
    }
}

// ---------------------------------------------------------------------------
// Staffing
// ---------------------------------------------------------------------------

/// What a user is in their agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Post {
    Admin,
    Clerk,
    Archivist,
    Head,
    Deputy(usize),
    UnitHead(&'static str),
    Specialist(usize),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    post: Post,
    roles: &'static [&'static str],
    position: &'static str,
    unit: Option<&'static str>,
}

impl Slot {
    const fn new(
        post: Post,
        roles: &'static [&'static str],
        position: &'static str,
        unit: Option<&'static str>,
    ) -> Self {
        Slot { post, roles, position, unit }
    }
}

/// The posts of an agency: the core staff plus `1 + extra` specialists.
fn slots(node: &Node, extra: usize) -> Vec<Slot> {
    let office = node.units.first().map(|&(_, abbr)| abbr);
    let slot = Slot::new;
    let mut out = Vec::new();
    match node.kind {
        Kind::Commune => out.push(slot(Post::Admin, &["admin", "clerk"], "Công chức Văn phòng - Thống kê", None)),
        Kind::Province => {
            out.push(slot(Post::Admin, &["admin"], SYSTEM_ADMIN, None));
            out.push(slot(Post::Clerk, &["clerk"], "Văn thư", office));
        }
        _ => {
            out.push(slot(Post::Admin, &["admin"], "Chuyên viên Công nghệ thông tin", office));
            out.push(slot(Post::Clerk, &["clerk"], "Văn thư", office));
        }
    }
    if matches!(node.kind, Kind::Province | Kind::District) {
        out.push(slot(Post::Archivist, &["archivist"], "Lưu trữ viên", office));
    }
    let (head, deputy) = node.kind.titles();
    out.push(slot(Post::Head, &["leader"], head, None));
    for n in 0..node.kind.deputies() {
        out.push(slot(Post::Deputy(n), &["leader"], deputy, None));
    }
    for &(name, abbr) in node.units {
        out.push(slot(Post::UnitHead(abbr), &["unit_head"], unit_head_title(name), Some(abbr)));
    }
    let positions = node.kind.specialist_positions();
    for n in 0..=extra {
        out.push(slot(Post::Specialist(n), &["specialist"], pick(positions, n), specialist_unit(node.units, n)));
    }
    out
}

/// Unit of the `n`-th specialist: round robin, starting after the office
/// when there is more than one unit.
fn specialist_unit(units: &[UnitSpec], n: usize) -> Option<&'static str> {
    let start = usize::from(units.len() > 1);
    let len = units.len().max(1);
    units.get((start + n) % len).map(|&(_, abbr)| abbr)
}

/// How a user's login is chosen.
enum Login {
    /// A fixed, memorable name ("admin", "lanhdao").
    Fixed(&'static str),
    /// `<slug>.<suffix>` ("stc.admin").
    Role(&'static str),
    /// Folded from the person's name: `<given>.<initials>.<slug><n>`.
    Named,
}

fn login(node: &Node, post: Post) -> Login {
    if node.kind == Kind::Province {
        return match post {
            Post::Admin => Login::Fixed("admin"),
            Post::Clerk => Login::Fixed("vanthu"),
            Post::Archivist => Login::Fixed("luutru"),
            Post::Head => Login::Fixed("lanhdao"),
            Post::Deputy(0) => Login::Fixed("phochutich"),
            Post::UnitHead("TH") => Login::Fixed("truongphong"),
            Post::Specialist(0) => Login::Fixed("chuyenvien"),
            _ => Login::Named,
        };
    }
    match post {
        Post::Admin => Login::Role("admin"),
        Post::Clerk => Login::Role("vanthu"),
        Post::Archivist => Login::Role("luutru"),
        Post::Head => Login::Role("lanhdao"),
        Post::Specialist(0) => Login::Role("chuyenvien"),
        _ => Login::Named,
    }
}

/// The `index`-th user of an agency.
fn make_user(node: &Node, index: usize, slot: Slot) -> DemoUser {
    let person = Person::new(&node.agency.code, index);
    let username = match login(node, slot.post) {
        Login::Fixed(name) => name.to_owned(),
        Login::Role(suffix) => format!("{}.{suffix}", node.slug),
        Login::Named => format!("{}{}{}", person.login_stem(), node.slug, index + 1),
    };
    let full_name = if slot.post == Post::Admin && node.kind == Kind::Province {
        SYSTEM_ADMIN.to_owned()
    } else {
        person.full_name()
    };
    DemoUser {
        agency_code: node.agency.code.clone(),
        unit_abbreviation: slot.unit.map(str::to_owned),
        username,
        full_name,
        position: slot.position.to_owned(),
        roles: slot.roles.to_vec(),
    }
}

/// Extra specialists per agency at full scale, so that the province has
/// exactly [`FULL_USERS`] users, shared in proportion to how far each agency
/// is below its aimed headcount.
fn full_scale_extras(nodes: &[Node]) -> Vec<usize> {
    let bases: Vec<usize> = nodes.iter().map(|n| slots(n, 0).len()).collect();
    let spare = FULL_USERS.saturating_sub(bases.iter().sum());
    let weights: Vec<usize> = nodes.iter().zip(&bases).map(|(n, base)| n.size.saturating_sub(*base)).collect();
    apportion(spare, &weights)
}

/// Splits `total` in proportion to `weights` (largest remainder; ties go to
/// the earlier index). The parts sum to `total` unless all weights are 0.
fn apportion(total: usize, weights: &[usize]) -> Vec<usize> {
    let sum: usize = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<usize> = weights.iter().map(|w| total * w / sum).collect();
    let left = total - shares.iter().sum::<usize>();
    let mut by_remainder: Vec<(usize, usize)> = weights.iter().enumerate().map(|(i, w)| (total * w % sum, i)).collect();
    by_remainder.sort_by_key(|&(rem, i)| (Reverse(rem), i));
    for &(_, i) in by_remainder.iter().take(left) {
        if let Some(share) = shares.get_mut(i) {
            *share += 1;
        }
    }
    shares
}

// ---------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------

const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương",
    "Lý", "Nguyễn", "Trần", "Lê", "Nguyễn",
];
const MALE_MIDDLE_NAMES: &[&str] =
    &["Văn", "Đức", "Minh", "Quang", "Hữu", "Thanh", "Ngọc", "Hoàng", "Công", "Xuân", "Văn"];
const FEMALE_MIDDLE_NAMES: &[&str] = &["Thị", "Thu", "Ngọc", "Thanh", "Minh", "Hồng", "Phương", "Kim", "Thị"];
const MALE_GIVEN_NAMES: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Hải", "Hòa", "Hùng", "Long", "Minh", "Nam", "Quân", "Sơn", "Tâm", "Tuấn", "Thắng",
    "Trung", "Việt", "Khánh", "Phong", "Đạt", "Hiếu", "Lộc", "Tài", "Vinh",
];
const FEMALE_GIVEN_NAMES: &[&str] = &[
    "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Nga", "Phương", "Thảo", "Trang", "Vân", "Yến", "Hoa", "Huyền",
    "Ngân", "Nhung", "Oanh", "Quyên", "Thủy", "Tuyết", "Dung", "Giang", "Ánh", "Hằng",
];

/// A made-up Vietnamese person.
struct Person {
    family: &'static str,
    middle: &'static str,
    given: &'static str,
}

impl Person {
    /// The person for the `index`-th post of the agency `code`: the same
    /// post always gets the same person, at any scale.
    fn new(code: &str, index: usize) -> Self {
        let h = mix(code, index);
        let (middles, givens) =
            if h & 1 == 1 { (FEMALE_MIDDLE_NAMES, FEMALE_GIVEN_NAMES) } else { (MALE_MIDDLE_NAMES, MALE_GIVEN_NAMES) };
        let family = pick(FAMILY_NAMES, narrow(h >> 8));
        let middle = pick(middles, narrow(h >> 24));
        let mut given = pick(givens, narrow(h >> 40));
        if given == middle {
            given = pick(givens, narrow(h >> 40) + 1);
        }
        Person { family, middle, given }
    }

    fn full_name(&self) -> String {
        format!("{} {} {}", self.family, self.middle, self.given)
    }

    /// `<given>.<initials>.`, e.g. "hoa.nv." for Nguyễn Văn Hòa.
    fn login_stem(&self) -> String {
        let initial = |s: &str| ascii_slug(s).chars().next().unwrap_or('x');
        format!("{}.{}{}.", ascii_slug(self.given), initial(self.family), initial(self.middle))
    }
}

/// FNV-1a over the code and index, then a `SplitMix64` finish.
fn mix(code: &str, index: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in code.bytes().chain((index as u64).to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The low 16 bits, as an index.
fn narrow(h: u64) -> usize {
    usize::from((h & 0xffff) as u16)
}

/// `list[n % len]`, or "" for an empty list.
fn pick(list: &[&'static str], n: usize) -> &'static str {
    list.get(n % list.len().max(1)).copied().unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use std::collections::{HashMap, HashSet};

    use super::*;
    use vanban_domain::{Abbreviation, AgencyCode, AgencyLevel, AgencyName, FullName, Position, Role, Username, nfc};

    const FIXED_ROOT: &[(&str, &str, Option<&str>, &[&str])] = &[
        ("admin", SYSTEM_ADMIN, None, &["admin"]),
        ("vanthu", "Văn thư", Some("VTLT"), &["clerk"]),
        ("chuyenvien", "Chuyên viên", Some("TH"), &["specialist"]),
        ("truongphong", "Trưởng phòng", Some("TH"), &["unit_head"]),
        ("lanhdao", "Chủ tịch", None, &["leader"]),
        ("phochutich", "Phó Chủ tịch", None, &["leader"]),
        ("luutru", "Lưu trữ viên", Some("VTLT"), &["archivist"]),
    ];
    const FIXED_STC: &[(&str, &str, &[&str])] = &[
        ("stc.admin", "Chuyên viên Công nghệ thông tin", &["admin"]),
        ("stc.vanthu", "Văn thư", &["clerk"]),
        ("stc.chuyenvien", "Chuyên viên", &["specialist"]),
        ("stc.lanhdao", "Giám đốc", &["leader"]),
    ];

    fn both() -> [DemoPlan; 2] {
        [plan(Scale::Small), plan(Scale::Full)]
    }

    /// `^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$`, by hand.
    fn is_legacy_code(code: &str) -> bool {
        const SHAPE: &[u8; 13] = b"ddd.dd.dd.Ldd";
        code.len() == SHAPE.len()
            && code.bytes().zip(SHAPE).all(|(b, t)| match t {
                b'd' => b.is_ascii_digit(),
                b'L' => b.is_ascii_uppercase(),
                _ => b == *t,
            })
    }

    /// Levels 4, 3, 2 and the level-1 group of a legacy code.
    fn levels(code: &str) -> ([u32; 3], &str) {
        let g: Vec<&str> = code.split('.').collect();
        ([g[0].parse().unwrap(), g[1].parse().unwrap(), g[2].parse().unwrap()], g[3])
    }

    /// Same level 1; every non-zero group of the parent equal in the child;
    /// the child non-zero somewhere the parent is zero.
    fn is_under(child: &str, parent: &str) -> bool {
        let (c, c1) = levels(child);
        let (p, p1) = levels(parent);
        if c1 != p1 {
            return false;
        }
        let mut deeper = false;
        for (p, c) in p.iter().zip(&c) {
            if *p != 0 {
                if p != c {
                    return false;
                }
            } else if *c != 0 {
                deeper = true;
            }
        }
        deeper
    }

    fn is_valid_username(u: &str) -> bool {
        (3..=64).contains(&u.len())
            && u.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    }

    fn is_nfc(s: &str) -> bool {
        // Cross-checked with the domain's own normaliser.
        unicode_normalization::is_nfc(s) && nfc(s) == s
    }

    fn user<'a>(p: &'a DemoPlan, username: &str) -> &'a DemoUser {
        p.users.iter().find(|u| u.username == username).unwrap_or_else(|| panic!("no user {username}"))
    }

    fn count_level(p: &DemoPlan, level: &str) -> usize {
        p.agencies.iter().filter(|a| a.level == level).count()
    }

    #[test]
    fn full_scale_counts() {
        let p = plan(Scale::Full);
        assert_eq!(p.province_name, "tỉnh Bình An");
        assert_eq!(p.agencies.len(), 510);
        assert_eq!(count_level(&p, PROVINCIAL), 96);
        assert_eq!(count_level(&p, DISTRICT), 308);
        assert_eq!(count_level(&p, COMMUNE), 106);
        assert_eq!(p.users.len(), 6_812);
        assert_eq!(p.users.len(), FULL_USERS);
        // 11 district UBNDs, 20 bodies directly under the UBND tỉnh.
        let root = "000.00.00.H58";
        let under_root: Vec<&DemoAgency> =
            p.agencies.iter().filter(|a| a.parent_code.as_deref() == Some(root)).collect();
        assert_eq!(under_root.iter().filter(|a| a.level == DISTRICT).count(), 11);
        assert_eq!(under_root.iter().filter(|a| a.level == PROVINCIAL).count(), 20);
    }

    #[test]
    fn small_scale_counts() {
        let p = plan(Scale::Small);
        assert_eq!(p.agencies.len(), 15);
        assert_eq!(count_level(&p, PROVINCIAL), 5);
        assert_eq!(count_level(&p, DISTRICT), 6);
        assert_eq!(count_level(&p, COMMUNE), 4);
        assert!((60..=120).contains(&p.users.len()), "{} users", p.users.len());
        let names: HashSet<&str> = p.agencies.iter().map(|a| a.name.as_str()).collect();
        for name in [
            "Ủy ban nhân dân tỉnh Bình An",
            "Sở Tài chính",
            "Sở Nội vụ",
            "Văn phòng Ủy ban nhân dân tỉnh",
            "Sở Y tế",
            "Ủy ban nhân dân thành phố Bình An",
            "Phòng Tài chính - Kế hoạch huyện An Hòa",
            "Phòng Nội vụ thành phố Bình An",
        ] {
            assert!(names.contains(name), "{name}");
        }
    }

    #[test]
    fn fixed_usernames_at_both_scales() {
        for p in both() {
            for &(username, position, unit, roles) in FIXED_ROOT {
                let u = user(&p, username);
                assert_eq!(u.agency_code, "000.00.00.H58", "{username}");
                assert_eq!(u.position, position, "{username}");
                assert_eq!(u.unit_abbreviation.as_deref(), unit, "{username}");
                assert_eq!(u.roles, roles, "{username}");
            }
            assert_eq!(user(&p, "admin").full_name, "Quản trị hệ thống");
            let stc = p.agencies.iter().find(|a| a.name == "Sở Tài chính").unwrap();
            assert_eq!(stc.abbreviation, "STC");
            for &(username, position, roles) in FIXED_STC {
                let u = user(&p, username);
                assert_eq!(u.agency_code, stc.code, "{username}");
                assert_eq!(u.position, position, "{username}");
                assert_eq!(u.roles, roles, "{username}");
            }
        }
    }

    #[test]
    fn small_is_a_subset_of_full() {
        let [small, full] = both();
        for a in &small.agencies {
            assert!(full.agencies.contains(a), "{}", a.code);
        }
        for unit in &small.units {
            assert!(full.units.contains(unit), "{unit:?}");
        }
        for u in &small.users {
            assert!(full.users.contains(u), "{}", u.username);
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(plan(Scale::Full), plan(Scale::Full));
        assert_eq!(plan(Scale::Small), plan(Scale::Small));
    }

    #[test]
    fn codes_are_legacy_and_unique() {
        assert!(is_legacy_code("000.00.00.H58"));
        assert!(is_legacy_code("105.00.51.H58"));
        for bad in ["000.00.00.h58", "00.00.00.H58", "000.00.00.H5", "000-00.00.H58", "000.00.00.H588"] {
            assert!(!is_legacy_code(bad), "{bad}");
        }
        for p in both() {
            let mut seen = HashSet::new();
            for a in &p.agencies {
                assert!(is_legacy_code(&a.code), "{}", a.code);
                assert!(a.code.ends_with(".H58"), "{}", a.code);
                assert!(seen.insert(a.code.as_str()), "duplicate {}", a.code);
                let parsed = AgencyCode::parse(&a.code).unwrap();
                assert!(parsed.is_legacy() && parsed.as_str() == a.code, "{}", a.code);
            }
        }
    }

    #[test]
    fn code_numbering_follows_the_plan() {
        let p = plan(Scale::Full);
        for a in &p.agencies {
            let ([l4, l3, l2], _) = levels(&a.code);
            match a.level {
                "provincial" => assert!(l4 == 0 && l2 <= 40, "{}", a.code),
                "district" => assert!(l4 == 0 && (41..=99).contains(&l2), "{}", a.code),
                "commune" => assert!(l4 > 0 && l3 == 0 && (41..=99).contains(&l2), "{}", a.code),
                other => panic!("level {other}"),
            }
        }
    }

    #[test]
    fn under_rule() {
        assert!(is_under("000.00.03.H58", "000.00.00.H58"));
        assert!(is_under("000.02.03.H58", "000.00.03.H58"));
        assert!(is_under("001.00.41.H58", "000.00.41.H58"));
        assert!(is_under("001.00.41.H58", "000.00.00.H58"));
        assert!(!is_under("001.00.41.H58", "000.00.42.H58"));
        assert!(!is_under("000.00.41.H58", "000.00.41.H58"));
        assert!(!is_under("000.00.00.H58", "000.00.41.H58"));
        assert!(!is_under("000.00.41.H58", "000.00.00.H57"));
        assert!(!is_under("001.00.41.H58", "000.01.41.H58"));
    }

    #[test]
    fn parents_come_first_and_codes_nest() {
        for p in both() {
            assert_eq!(p.agencies[0].code, "000.00.00.H58");
            assert_eq!(p.agencies[0].parent_code, None);
            let mut earlier: HashMap<&str, &DemoAgency> = HashMap::new();
            for a in &p.agencies {
                if let Some(parent_code) = &a.parent_code {
                    let parent = earlier
                        .get(parent_code.as_str())
                        .unwrap_or_else(|| panic!("{} before its parent {parent_code}", a.code));
                    assert!(is_under(&a.code, &parent.code), "{} / {}", a.code, parent.code);
                    let (child, par) = (AgencyCode::parse(&a.code).unwrap(), AgencyCode::parse(&parent.code).unwrap());
                    assert!(child.is_under(&par), "{} / {}", a.code, parent.code);
                    let (cl, pl) =
                        (AgencyLevel::from_snake(a.level).unwrap(), AgencyLevel::from_snake(parent.level).unwrap());
                    assert!(pl.can_parent(cl), "{}", a.code);
                    if let Some(parent_name) = &a.parent_name {
                        assert_eq!(parent_name, &parent.name, "{}", a.code);
                    }
                } else {
                    assert!(earlier.is_empty(), "second root {}", a.code);
                }
                earlier.insert(&a.code, a);
            }
        }
    }

    #[test]
    fn district_bodies_name_their_district() {
        let p = plan(Scale::Full);
        let by_code: HashMap<&str, &DemoAgency> = p.agencies.iter().map(|a| (a.code.as_str(), a)).collect();
        for a in p.agencies.iter().filter(|a| a.level == DISTRICT && a.abbreviation != UBND) {
            let parent = by_code[a.parent_code.as_deref().unwrap()];
            assert_eq!(a.parent_name.as_deref(), Some(parent.name.as_str()));
            let district = parent.name.strip_prefix("Ủy ban nhân dân ").unwrap();
            assert!(a.name.ends_with(district), "{}", a.name);
        }
    }

    #[test]
    fn names_and_abbreviations_are_valid() {
        for p in both() {
            assert!(is_nfc(&p.province_name));
            let mut names = HashSet::new();
            for a in &p.agencies {
                assert!(is_nfc(&a.name) && is_nfc(&a.place), "{}", a.name);
                assert!(names.insert(a.name.as_str()), "duplicate name {}", a.name);
                assert_eq!(AgencyName::parse(&a.name).unwrap().as_str(), a.name);
                assert!((1..=50).contains(&a.place.chars().count()), "{}", a.place);
                assert_eq!(a.place.trim(), a.place);
                if let Some(parent_name) = &a.parent_name {
                    assert!(is_nfc(parent_name));
                }
                assert_eq!(Abbreviation::parse(&a.abbreviation).unwrap().as_str(), a.abbreviation);
            }
            for u in &p.units {
                assert!(is_nfc(&u.name) && u.name.chars().count() <= 200, "{}", u.name);
                assert_eq!(Abbreviation::parse(&u.abbreviation).unwrap().as_str(), u.abbreviation);
            }
            for u in &p.users {
                assert!(is_nfc(&u.full_name) && is_nfc(&u.position), "{}", u.username);
                assert_eq!(FullName::parse(&u.full_name).unwrap().as_str(), u.full_name);
                assert_eq!(Position::parse(&u.position).unwrap().as_str(), u.position);
            }
        }
    }

    #[test]
    fn provincial_abbreviations_are_unique() {
        let p = plan(Scale::Full);
        let mut seen = HashSet::new();
        for a in p.agencies.iter().filter(|a| a.level == PROVINCIAL) {
            assert!(seen.insert(a.abbreviation.as_str()), "{}", a.abbreviation);
        }
    }

    #[test]
    fn usernames_are_unique_and_valid() {
        for p in both() {
            let mut seen = HashSet::new();
            for u in &p.users {
                assert!(is_valid_username(&u.username), "{}", u.username);
                assert!(!u.username.contains("..") && !u.username.ends_with('.'), "{}", u.username);
                assert_eq!(Username::parse(&u.username).unwrap().as_str(), u.username);
                assert!(seen.insert(u.username.as_str()), "duplicate {}", u.username);
            }
        }
    }

    #[test]
    fn roles_are_known() {
        for p in both() {
            for u in &p.users {
                assert!(!u.roles.is_empty(), "{}", u.username);
                let distinct: HashSet<&str> = u.roles.iter().copied().collect();
                assert_eq!(distinct.len(), u.roles.len(), "{}", u.username);
                for r in &u.roles {
                    assert_eq!(Role::from_snake(r).map(Role::as_str), Some(*r), "{}", u.username);
                }
            }
        }
    }

    #[test]
    fn every_agency_is_staffed() {
        for p in both() {
            let units: HashMap<&str, Vec<&str>> = p
                .agencies
                .iter()
                .map(|a| {
                    let abbrs =
                        p.units.iter().filter(|u| u.agency_code == a.code).map(|u| u.abbreviation.as_str()).collect();
                    (a.code.as_str(), abbrs)
                })
                .collect();
            for a in &p.agencies {
                let staff: Vec<&DemoUser> = p.users.iter().filter(|u| u.agency_code == a.code).collect();
                let has = |role: &str| staff.iter().filter(|u| u.roles.contains(&role)).count();
                assert!(has("admin") >= 1, "{} admin", a.code);
                assert!(has("clerk") >= 1, "{} clerk", a.code);
                assert!(has("leader") >= 1, "{} leader", a.code);
                assert!(has("specialist") >= 1, "{} specialist", a.code);
                let is_ubnd = a.abbreviation == UBND;
                if is_ubnd && a.level != COMMUNE {
                    assert!(has("archivist") >= 1, "{} archivist", a.code);
                }
                for abbr in &units[a.code.as_str()] {
                    assert!(
                        staff
                            .iter()
                            .any(|u| u.roles.contains(&"unit_head") && u.unit_abbreviation.as_deref() == Some(*abbr)),
                        "{} has no head of {abbr}",
                        a.code
                    );
                }
            }
            // Every user's agency exists.
            for u in &p.users {
                assert!(units.contains_key(u.agency_code.as_str()), "{}", u.username);
            }
        }
    }

    #[test]
    fn units_per_agency() {
        for p in both() {
            for a in &p.agencies {
                let abbrs: Vec<&str> =
                    p.units.iter().filter(|u| u.agency_code == a.code).map(|u| u.abbreviation.as_str()).collect();
                let distinct: HashSet<&&str> = abbrs.iter().collect();
                assert_eq!(distinct.len(), abbrs.len(), "{} unit abbreviations", a.code);
                if a.level == COMMUNE {
                    assert!(abbrs.is_empty(), "{}", a.code);
                } else {
                    assert!((2..=6).contains(&abbrs.len()), "{}: {} units", a.code, abbrs.len());
                }
            }
            let root_units: Vec<&DemoUnit> = p.units.iter().filter(|u| u.agency_code == "000.00.00.H58").collect();
            assert!(root_units.iter().any(|u| u.name == "Phòng Tổng hợp" && u.abbreviation == "TH"));
        }
    }

    #[test]
    fn user_units_exist() {
        for p in both() {
            let units: HashSet<(&str, &str)> =
                p.units.iter().map(|u| (u.agency_code.as_str(), u.abbreviation.as_str())).collect();
            for u in &p.users {
                if let Some(abbr) = &u.unit_abbreviation {
                    assert!(
                        units.contains(&(u.agency_code.as_str(), abbr.as_str())),
                        "{} in unknown unit {abbr}",
                        u.username
                    );
                }
            }
        }
    }

    #[test]
    fn bigger_agencies_get_more_users() {
        let p = plan(Scale::Full);
        let staff = |name: &str| {
            let code = &p.agencies.iter().find(|a| a.name == name).unwrap().code;
            p.users.iter().filter(|u| &u.agency_code == code).count()
        };
        assert!(staff("Sở Nông nghiệp và Môi trường") > staff("Sở Tư pháp"));
        assert!(staff("Bệnh viện Đa khoa tỉnh Bình An") > staff("Trung tâm Pháp y tỉnh"));
        assert!(staff("Ủy ban nhân dân huyện An Hòa") > staff("Phòng Dân tộc huyện An Hòa"));
    }

    #[test]
    fn apportion_is_exact() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0, 2, 5]), vec![0, 2, 5]);
        assert_eq!(apportion(5, &[0, 0]), vec![0, 0]);
        assert_eq!(apportion(100, &[3, 7, 11]).iter().sum::<usize>(), 100);
    }
}
