//! `vanban admin …`: what an operator does from a shell, with the database's own authority.
//! Every change still goes through the store, so it is validated and audited like any other.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};
use vanban_domain::{Abbreviation, AgencyCode, AgencyLevel, AgencyName, Email, FullName, Position, Role, Username};
use vanban_store::{Actor, AdminScope, AgencyImport, NewAgency, NewUser, Store};

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Create one agency (a root when --parent-code is absent).
    CreateAgency {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        abbreviation: String,
        /// provincial, district or commune.
        #[arg(long)]
        level: String,
        /// Place name written on the date line (e.g. "Bình An").
        #[arg(long)]
        place: String,
        #[arg(long)]
        parent_code: Option<String>,
        /// Name of the managing agency printed above the agency's name.
        #[arg(long)]
        parent_name: Option<String>,
    },
    /// Import agencies from a CSV file with the header
    /// code,parent_code,name,parent_name,abbreviation,level,place — all rows or none.
    ImportAgencies { file: PathBuf },
    /// Create a user. Without --password-stdin a password is generated and printed.
    CreateUser {
        #[arg(long)]
        agency_code: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        full_name: String,
        #[arg(long)]
        position: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// A role (admin, clerk, specialist, unit_head, leader, archivist); repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password. Without --password-stdin one is generated and printed.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Re-compute the audit hash chain and report whether it is intact.
    VerifyAudit,
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
        Ok((s.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        // 16 random hex characters from the same generator as session tokens.
        Ok((vanban_server::auth::random_token()[..16].to_owned(), true))
    }
}

fn hash(password: &str) -> anyhow::Result<String> {
    vanban_server::auth::hash_password(password).map_err(|e| anyhow::anyhow!("{}", e.message_vi()))
}

/// One CSV row of an agency import.
#[derive(serde::Deserialize)]
struct CsvAgency {
    code: String,
    #[serde(default)]
    parent_code: String,
    name: String,
    #[serde(default)]
    parent_name: String,
    abbreviation: String,
    level: String,
    place: String,
}

fn parse_csv(file: &PathBuf) -> anyhow::Result<Vec<AgencyImport>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut rows = Vec::new();
    for (i, rec) in reader.deserialize::<CsvAgency>().enumerate() {
        let line = i + 2;
        let r = rec.with_context(|| format!("{}: line {line}: malformed row", file.display()))?;
        let parse = || -> Result<AgencyImport, vanban_domain::DomainError> {
            Ok(AgencyImport {
                parent_code: Some(r.parent_code.as_str())
                    .filter(|c| !c.is_empty())
                    .map(AgencyCode::parse)
                    .transpose()?,
                agency: NewAgency {
                    parent_id: None,
                    code: AgencyCode::parse(&r.code)?,
                    name: AgencyName::parse(&r.name)?,
                    parent_name: Some(r.parent_name.as_str())
                        .filter(|c| !c.is_empty())
                        .map(AgencyName::parse)
                        .transpose()?,
                    abbreviation: Abbreviation::parse(&r.abbreviation)?,
                    level: AgencyLevel::from_str(&r.level)?,
                    place: vanban_domain::clean_text("place", &r.place, 50, true)?,
                },
            })
        };
        rows.push(parse().map_err(|e| anyhow::anyhow!("{}: line {line}: {} ({})", file.display(), e, e.code()))?);
    }
    Ok(rows)
}

pub async fn run(store: &dyn Store, cmd: AdminCommand) -> anyhow::Result<()> {
    let actor = Actor::system("vanban admin");
    match cmd {
        AdminCommand::CreateAgency { code, name, abbreviation, level, place, parent_code, parent_name } => {
            let parent_id = match parent_code {
                Some(pc) => Some(
                    store
                        .get_agency_by_code(&AgencyCode::parse(&pc)?)
                        .await
                        .with_context(|| format!("no agency has the code {pc}"))?
                        .agency
                        .id,
                ),
                None => None,
            };
            let new = NewAgency {
                parent_id,
                code: AgencyCode::parse(&code)?,
                name: AgencyName::parse(&name)?,
                parent_name: parent_name.as_deref().map(AgencyName::parse).transpose()?,
                abbreviation: Abbreviation::parse(&abbreviation)?,
                level: AgencyLevel::from_str(&level)?,
                place: vanban_domain::clean_text("place", &place, 50, true)?,
            };
            let a = store.create_agency(&actor, new).await?;
            println!("created agency {} {} ({})", a.agency.code, a.agency.name, a.agency.id);
        }
        AdminCommand::ImportAgencies { file } => {
            let rows = parse_csv(&file)?;
            let n = store.import_agencies(&actor, rows).await.context("import failed; nothing was written")?;
            println!("imported {n} agencies");
        }
        AdminCommand::CreateUser { agency_code, username, full_name, position, email, roles, password_stdin } => {
            let agency = store
                .get_agency_by_code(&AgencyCode::parse(&agency_code)?)
                .await
                .with_context(|| format!("no agency has the code {agency_code}"))?;
            let roles = roles.iter().map(|r| Role::from_str(r)).collect::<Result<BTreeSet<_>, _>>()?;
            let (password, generated) = read_password(password_stdin)?;
            let new = NewUser {
                agency_id: agency.agency.id,
                unit_id: None,
                username: Username::parse(&username)?,
                full_name: FullName::parse(&full_name)?,
                email: email.as_deref().map(Email::parse).transpose()?,
                position: position.as_deref().map(Position::parse).transpose()?,
                password_hash: hash(&password)?,
                roles,
            };
            let u = store.create_user(&actor, &AdminScope::whole_instance(), new).await?;
            println!("created user {} in {}", u.user.username, agency.agency.name);
            if generated {
                println!("password: {password}");
            }
        }
        AdminCommand::ResetPassword { username, password_stdin } => {
            let name = Username::parse(&username)?;
            let Some(id) = store.find_user_id(name.as_str()).await? else { bail!("no user is named {username}") };
            let (password, generated) = read_password(password_stdin)?;
            store.set_password(&actor, id, hash(&password)?).await?;
            println!("password of {username} was reset");
            if generated {
                println!("password: {password}");
            }
        }
        AdminCommand::VerifyAudit => {
            let r = store.verify_audit_chain().await?;
            match r.first_broken_seq {
                None => println!("audit chain intact: {} events, head {}", r.events, r.head_hash),
                Some(seq) => bail!("audit chain BROKEN at event {seq} (of {} events)", r.events),
            }
        }
    }
    Ok(())
}
