//! `vanban hub`: the document exchange hub as its own process (vanban-hub).

use std::path::PathBuf;

use anyhow::{Context, bail};

/// The hub takes the global `--listen` (default 127.0.0.1:7400), `--data-dir` (default
/// `hub-data`: package bodies and the SQLite database), `--database-url` (`postgres://…` for
/// several hub nodes, with `--bodies-dir` on storage they all mount) and `--config` (a TOML
/// file of `[[systems]]` tables with `id` and `secret`, optionally `agencies = ["*.H58"]`:
/// the connected systems).
#[derive(clap::Args)]
pub struct HubArgs {
    /// A connected system as ID:SECRET[:AGENCIES] (repeatable; for tests and small set-ups;
    /// the secret then shows in the process list: prefer --config). AGENCIES: comma-separated
    /// codes it may hold, `*.H58` for every code ending so.
    #[arg(long = "system")]
    systems: Vec<String>,
    /// Largest package accepted, in MiB.
    #[arg(long, default_value_t = 64)]
    max_package_mib: u64,
    /// Where package bodies live (default: DATA_DIR/packages). For several hub nodes on one
    /// PostgreSQL database: a directory every node mounts (NFS or the like).
    #[arg(long)]
    bodies_dir: Option<PathBuf>,
    /// Accept requests that sign only the national axis's headers (SDK clients), not their
    /// path and body as vanban's client does.
    #[arg(long)]
    lenient_signing: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HubFile {
    #[serde(default)]
    systems: Vec<vanban_hub::SystemConfig>,
}

pub async fn run(args: HubArgs, common: &crate::config::CommonArgs) -> anyhow::Result<()> {
    let mut systems = Vec::new();
    if let Some(path) = &common.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: HubFile =
            toml::from_str(&text).with_context(|| format!("{} is not a hub configuration", path.display()))?;
        systems.extend(file.systems);
    }
    for s in &args.systems {
        let mut parts = s.splitn(3, ':');
        let (Some(id), Some(secret)) = (parts.next(), parts.next()) else {
            bail!("--system takes ID:SECRET[:AGENCIES], not {s:?}")
        };
        let agencies = parts.next().map(|a| a.split(',').map(str::to_owned).collect()).unwrap_or_default();
        systems.push(vanban_hub::SystemConfig { id: id.to_owned(), secret: secret.to_owned(), agencies });
    }
    if systems.is_empty() {
        bail!("no connected system: give --system ID:SECRET or --config with [[systems]]");
    }
    for s in &systems {
        if s.id.trim().is_empty() || s.secret.len() < 16 {
            bail!("system {:?}: an id and a secret of 16 characters or more are required", s.id);
        }
    }
    let data_dir = common.data_dir.clone().unwrap_or_else(|| PathBuf::from("hub-data"));
    let listen: std::net::SocketAddr =
        common.listen.as_deref().unwrap_or("127.0.0.1:7400").parse().context("--listen takes HOST:PORT")?;
    let mut config = vanban_hub::HubConfig::new(data_dir, systems);
    config.max_package_bytes = args.max_package_mib * 1024 * 1024;
    config.strict_signing = !args.lenient_signing;
    config.bodies_dir = args.bodies_dir;
    let state = vanban_hub::HubState::open(config, common.database_url.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the hub's storage: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = state.backend(), "vanban hub is serving");
    println!("vanban hub: http://{addr}/");
    vanban_hub::serve(listener, state).await?;
    Ok(())
}
