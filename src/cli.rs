//! Command line: `dxcp serve` (default), `dxcp migrate`, `dxcp schema`.

use clap::{Parser, Subcommand};

use crate::{app::Application, config::Config, graphql, store::Store, telemetry};

#[derive(Parser)]
#[command(name = "dxcp", version, about = "DXCP, the Delivery Experience Control Plane")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
    /// Fill the database with a realistic deployment history (benchmarks, demos).
    SeedHistory {
        /// How many deployment records to write.
        #[arg(long)]
        records: usize,
        /// Seed of the random generator, for repeatable data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    let config = Config::from_env()?;
    let _telemetry = telemetry::init(config.log_format, config.otlp_endpoint.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => {
                let store = Store::connect(&config.database_url).await?;
                store.migrate().await?;
                tracing::info!("migrations applied");
                Ok(())
            }
            Command::SeedHistory { records, seed } => {
                let store = Store::connect(&config.database_url).await?;
                store.migrate().await?;
                crate::app::seed_first_start(&store, &config).await?;
                let started = std::time::Instant::now();
                let written = crate::seed::seed_history(&store, records, seed, chrono::Utc::now()).await?;
                tracing::info!(written, seconds = started.elapsed().as_secs_f64(), "history seeded");
                Ok(())
            }
            Command::Serve | Command::Schema => {
                let app = Application::build(config).await?;
                tracing::info!(address = %app.local_addr()?, "dxcp listening; GraphQL at /graphql");
                app.run_until_stopped().await?;
                Ok(())
            }
        }
    })
}
