//! `vanban`: the command-line edge. It reads the layered configuration, opens the store and
//! either serves the web application or runs an operator's command.

mod admin;
mod agent;
mod config;
mod demo;
mod demo_plan;
mod edxml_cmd;
mod hub;
mod verify;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{CommonArgs, Settings};

/// vanban — văn bản điện tử: draft, sign, issue and keep official documents.
#[derive(Parser)]
#[command(name = "vanban", version, about)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application and API.
    Serve,
    /// Create (once) a demo province in the data directory, print the logins, and serve it.
    Demo {
        /// `small` (17 agencies) or `full` (510 agencies, 6,812 users, like a real province).
        #[arg(long, default_value = "small")]
        scale: DemoScale,
        /// Seed and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Seed the province without the year of documents (faster; tests).
        #[arg(long)]
        no_history: bool,
    },
    /// Operators' commands.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Render a document described in JSON to PDF/A (see examples/documents/).
    Render {
        /// The document (DocumentSpec JSON).
        input: std::path::PathBuf,
        /// Where to write the PDF.
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Print the pages and the slots (number, date, signature boxes) as JSON.
        #[arg(long)]
        json: bool,
        /// A layout template instead of the shipped one (an agency's adjusted copy).
        #[arg(long)]
        template: Option<std::path::PathBuf>,
    },
    /// Validate every signature in a signed PDF (ours or foreign) and print the findings.
    Verify(verify::VerifyArgs),
    /// Sign a document prepared by the server with a key on a USB token (PKCS#11), on the
    /// signer's own computer.
    SignAgent(agent::AgentArgs),
    /// Read, check, build and verify edXML packages (QCVN 102:2016).
    #[command(subcommand)]
    Edxml(edxml_cmd::EdxmlCommand),
    /// Run a document exchange hub (the national axis's API) for several vanban instances.
    Hub(hub::HubArgs),
    /// Development and tests: make COUNT signed documents waiting for issue (one real leader
    /// signature, copied), for the crash test and the benchmarks. Not for production data.
    #[command(hide = true)]
    SeedSigned {
        #[arg(long, default_value_t = 100)]
        count: usize,
        #[arg(long, default_value = "chuyenvien")]
        drafter: String,
        #[arg(long, default_value = "lanhdao")]
        leader: String,
        #[arg(long, default_value = "123456")]
        pin: String,
        /// 0 normal … 3 Hỏa tốc.
        #[arg(long, default_value_t = 0)]
        priority: u8,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DemoScale {
    Small,
    Full,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("VANBAN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn bind(settings: &Settings) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))
}

async fn serve(
    settings: &Settings,
    store: std::sync::Arc<dyn vanban_store::Store>,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let state = vanban_server::AppState::new(store, settings.blobs()?, settings.server.clone());
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "vanban is serving");
    // Scripts (and the browser test) read this line to find the address.
    println!("vanban: http://{addr}/");
    vanban_server::serve(listener, state).await?;
    Ok(())
}

fn render(
    input: &std::path::Path,
    output: &std::path::Path,
    json: bool,
    template: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input).with_context(|| format!("cannot read {}", input.display()))?;
    let spec: vanban_render::DocumentSpec =
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid document", input.display()))?;
    let renderer = match template {
        Some(t) => {
            let text = std::fs::read_to_string(t).with_context(|| format!("cannot read template {}", t.display()))?;
            let fonts: Vec<std::path::PathBuf> =
                vanban_render::DEFAULT_FONT_DIRS.iter().map(std::path::PathBuf::from).collect();
            vanban_render::Renderer::with(&fonts, &text)?
        }
        None => vanban_render::Renderer::new()?,
    };
    let today =
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).context("offset")?).date_naive();
    let rendered = renderer
        .render(&spec, vanban_render::RenderOptions::on(today))
        .map_err(|e| anyhow::anyhow!("{}: {e} ({})", input.display(), e.code()))?;
    std::fs::write(output, &rendered.pdf).with_context(|| format!("cannot write {}", output.display()))?;
    if json {
        let report =
            serde_json::json!({ "pages": rendered.pages, "bytes": rendered.pdf.len(), "slots": rendered.slots });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}: {} page(s), {} bytes", output.display(), rendered.pages, rendered.pdf.len());
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Edxml(cmd) => edxml_cmd::run(cmd),
        Command::Hub(args) => hub::run(args, &cli.common).await,
        Command::Serve => {
            let mut settings = Settings::resolve(&cli.common, "data")?;
            settings.ensure_pki_passphrase()?;
            let store = settings.open_store().await?;
            let listener = bind(&settings).await?;
            serve(&settings, store, listener).await
        }
        Command::Demo { scale, no_serve, no_history } => {
            let mut settings = Settings::resolve(&cli.common, "vanban-demo")?;
            settings.ensure_pki_passphrase()?;
            let store = settings.open_store().await?;
            let scale = match scale {
                DemoScale::Small => demo_plan::Scale::Small,
                DemoScale::Full => demo_plan::Scale::Full,
            };
            let summary = demo::ensure_seeded(store.as_ref(), scale).await?;
            let state = vanban_server::AppState::new(store.clone(), settings.blobs()?, settings.server.clone());
            vanban_server::signing::seed_demo_signing(&state, demo::DEMO_CERTIFIED, demo::DEMO_PIN)
                .await
                .map_err(|e| anyhow::anyhow!("demo certificates: {e}"))?;
            if !no_history {
                demo::seed_history(&state, scale).await?;
            }
            if no_serve {
                demo::print_welcome(&summary, settings.listen, &settings.data_dir);
                return Ok(());
            }
            let listener = bind(&settings).await?;
            demo::print_welcome(&summary, listener.local_addr()?, &settings.data_dir);
            serve(&settings, store, listener).await
        }
        Command::Render { input, output, json, template } => render(&input, &output, json, template.as_deref()),
        Command::Verify(_) => unreachable!("handled before the runtime starts"),
        Command::SignAgent(args) => agent::run(&args).await,
        Command::SeedSigned { count, drafter, leader, pin, priority } => {
            let mut settings = Settings::resolve(&cli.common, "data")?;
            settings.ensure_pki_passphrase()?;
            let store = settings.open_store().await?;
            let state = vanban_server::AppState::new(store, settings.blobs()?, settings.server.clone());
            let err = |e: vanban_server::error::AppError| anyhow::anyhow!("{}: {e}", e.code());
            let d = vanban_server::bulk::session_for(&state, &drafter).await.map_err(err)?;
            let l = vanban_server::bulk::session_for(&state, &leader).await.map_err(err)?;
            let started = std::time::Instant::now();
            let ids =
                vanban_server::bulk::seed_signed_copies(&state, &d, &l, &pin, count, priority).await.map_err(err)?;
            eprintln!("{} signed documents in {:.1} s", ids.len(), started.elapsed().as_secs_f64());
            for id in ids {
                println!("{id}");
            }
            Ok(())
        }
        Command::Admin(cmd) => {
            let settings = Settings::resolve(&cli.common, "data")?;
            let store = settings.open_store().await?;
            admin::run(store.as_ref(), cmd).await
        }
    }
}

/// mimalloc instead of glibc's malloc: issuing a document allocates thousands of small
/// objects (SQL rows, PDF objects, certificates); the issue bench is about 12% faster with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Verify(args) = &cli.command {
        return verify::run(args).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        });
    }
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
