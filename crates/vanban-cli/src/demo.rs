//! Seeds the demo province described by [`crate::demo_plan`] into a store, once.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::str::FromStr;

use anyhow::Context;
use vanban_domain::{Abbreviation, AgencyCode, AgencyLevel, AgencyName, FullName, Position, Role, UnitId, Username};
use vanban_store::{Actor, AdminScope, AgencyImport, NewAgency, NewUnit, NewUser, Store};

use crate::demo_plan::{self, DemoPlan, Scale};

/// The password of every demo account. Demo data only: a real installation creates users
/// with `vanban admin create-user`, which generates a password per user.
pub const DEMO_PASSWORD: &str = "vanban@2026";
/// Leaders who get a certificate and a signature image in the demo (the first one's agency also
/// gets its organisational certificate and seal).
pub const DEMO_SIGNERS: &[&str] = &["lanhdao", "phochutich"];
/// Who gets a certificate and a signature image, and whose agency gets its seal: the
/// People's Committee's signers, and the Director of Sở Tài chính, so that its clerk can
/// sign what the department digitises (scanned paper) and issue its own documents.
pub const DEMO_CERTIFIED: &[&str] = &["lanhdao", "phochutich", "stc.lanhdao"];
/// The PIN of the demo certificates.
pub const DEMO_PIN: &str = "123456";

pub struct Summary {
    pub province: String,
    pub agencies: usize,
    pub users: i64,
    pub seeded_now: bool,
    pub logins: Vec<(String, String, String)>,
}

/// The accounts printed for a newcomer: (username, role, agency).
fn featured(plan: &DemoPlan) -> Vec<(String, String, String)> {
    let wanted = [
        "admin",
        "vanthu",
        "chuyenvien",
        "truongphong",
        "lanhdao",
        "phochutich",
        "luutru",
        "stc.admin",
        "stc.vanthu",
        "stc.chuyenvien",
        "stc.lanhdao",
    ];
    let names: HashMap<&str, &str> = plan.agencies.iter().map(|a| (a.code.as_str(), a.name.as_str())).collect();
    wanted
        .iter()
        .filter_map(|w| plan.users.iter().find(|u| u.username == *w))
        .map(|u| {
            let roles: Vec<&str> =
                u.roles.iter().filter_map(|r| Role::from_str(r).ok()).map(|r| r.label_vi()).collect();
            (u.username.clone(), roles.join(", "), names.get(u.agency_code.as_str()).copied().unwrap_or("").to_owned())
        })
        .collect()
}

pub async fn ensure_seeded(store: &dyn Store, scale: Scale) -> anyhow::Result<Summary> {
    let plan = demo_plan::plan(scale);
    let existing = store.list_agencies().await?.len();
    let seeded_now = existing == 0;
    if seeded_now {
        seed(store, &plan).await?;
    }
    Ok(Summary {
        province: plan.province_name.clone(),
        agencies: store.list_agencies().await?.len(),
        users: store.count_users().await?,
        seeded_now,
        logins: featured(&plan),
    })
}

pub async fn seed(store: &dyn Store, plan: &DemoPlan) -> anyhow::Result<()> {
    let actor = Actor::system("vanban demo");
    let rows = plan
        .agencies
        .iter()
        .map(|a| {
            Ok(AgencyImport {
                parent_code: a.parent_code.as_deref().map(AgencyCode::parse).transpose()?,
                agency: NewAgency {
                    parent_id: None,
                    code: AgencyCode::parse(&a.code)?,
                    name: AgencyName::parse(&a.name)?,
                    parent_name: a.parent_name.as_deref().map(AgencyName::parse).transpose()?,
                    abbreviation: Abbreviation::parse(&a.abbreviation)?,
                    level: AgencyLevel::from_str(a.level)?,
                    place: a.place.clone(),
                },
            })
        })
        .collect::<Result<Vec<_>, vanban_domain::DomainError>>()
        .context("the demo plan has an invalid agency")?;
    store.import_agencies(&actor, rows).await?;

    let ids: HashMap<String, vanban_domain::AgencyId> =
        store.list_agencies().await?.into_iter().map(|a| (a.agency.code.as_str().to_owned(), a.agency.id)).collect();
    let everything = AdminScope::whole_instance();
    let mut units: HashMap<(String, String), UnitId> = HashMap::new();
    for u in &plan.units {
        let agency_id = ids[&u.agency_code];
        let unit = store
            .create_unit(
                &actor,
                &everything,
                NewUnit {
                    agency_id,
                    parent_id: None,
                    name: u.name.clone(),
                    abbreviation: Abbreviation::parse(&u.abbreviation)?,
                },
            )
            .await?;
        units.insert((u.agency_code.clone(), u.abbreviation.clone()), unit.id);
    }

    // One hash for the one demo password: hashing 6,812 times would only slow the demo down.
    let hash = vanban_server::auth::hash_password(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let users = plan
        .users
        .iter()
        .map(|u| {
            Ok(NewUser {
                agency_id: ids[&u.agency_code],
                unit_id: u
                    .unit_abbreviation
                    .as_ref()
                    .and_then(|a| units.get(&(u.agency_code.clone(), a.clone())).copied()),
                username: Username::parse(&u.username)?,
                full_name: FullName::parse(&u.full_name)?,
                email: None,
                position: Some(Position::parse(&u.position)?),
                password_hash: hash.clone(),
                roles: u.roles.iter().map(|r| Role::from_str(r)).collect::<Result<BTreeSet<_>, _>>()?,
            })
        })
        .collect::<Result<Vec<_>, vanban_domain::DomainError>>()
        .context("the demo plan has an invalid user")?;
    store.create_users(&actor, users).await?;
    Ok(())
}

/// The demo's year of documents: the UBND tỉnh drafts, signs and issues to four provincial
/// departments, whose clerks, leaders and specialists take them in.
pub fn history_plan(scale: Scale) -> vanban_server::history::HistoryPlan {
    use vanban_server::history::{HistoryCounts, HistoryPlan, HistoryRecipient};
    let plan = demo_plan::plan(scale);
    let recipients = ["stc", "snv", "syt", "vp"]
        .iter()
        .filter_map(|slug| {
            let clerk = format!("{slug}.vanthu");
            let agency = plan.users.iter().find(|u| u.username == clerk)?.agency_code.clone();
            Some(HistoryRecipient {
                agency_code: agency,
                clerk: Some(clerk),
                leader: Some(format!("{slug}.lanhdao")),
                handler: Some(format!("{slug}.chuyenvien")),
            })
        })
        .collect();
    HistoryPlan {
        drafter: "chuyenvien".to_owned(),
        reviewer: Some("truongphong".to_owned()),
        signers: DEMO_SIGNERS.iter().map(|s| (*s).to_owned()).collect(),
        clerk: "vanthu".to_owned(),
        pin: DEMO_PIN.to_owned(),
        recipients,
        counts: HistoryCounts::DEMO,
    }
}

/// Seeds the year of documents (once) and says how long it took.
pub async fn seed_history(state: &vanban_server::AppState, scale: Scale) -> anyhow::Result<()> {
    use std::io::Write as _;
    print!("  Đang tạo dữ liệu một năm (soạn thảo, ký số, ban hành, văn bản đến)… ");
    let _ = std::io::stdout().flush();
    let s = vanban_server::history::seed_history(state, &history_plan(scale))
        .await
        .map_err(|e| anyhow::anyhow!("demo history: {}: {e}", e.code()))?;
    if s.seeded_now {
        println!(
            "xong: {} văn bản đi ({} đã ban hành, {} chữ ký số), {} văn bản đến, {:.1} giây.",
            s.documents,
            s.issued,
            s.signatures,
            s.incoming,
            s.elapsed.as_secs_f64()
        );
    } else {
        println!("đã có sẵn.");
    }
    Ok(())
}

pub fn print_welcome(s: &Summary, listen: SocketAddr, data_dir: &std::path::Path) {
    let host = if listen.ip().is_unspecified() { "127.0.0.1".to_owned() } else { listen.ip().to_string() };
    println!();
    println!(
        "  vanban — demo {} ({} cơ quan, {} cán bộ){}",
        s.province,
        s.agencies,
        s.users,
        if s.seeded_now { ", vừa tạo" } else { "" }
    );
    println!("  Dữ liệu: {}", data_dir.display());
    println!("  Địa chỉ: http://{host}:{}/", listen.port());
    println!();
    println!("  Ký số: {} có sẵn chứng thư số và ảnh chữ ký, mã PIN {DEMO_PIN}.", DEMO_CERTIFIED.join(", "));
    println!("  Tài khoản demo (mật khẩu chung: {DEMO_PASSWORD}):");
    for (user, roles, agency) in &s.logins {
        println!("    {user:<16} {roles:<22} {agency}");
    }
    println!();
}
