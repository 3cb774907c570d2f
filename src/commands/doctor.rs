//! `baynet doctor`: checks the configured live sources and prints a report. Also holds the
//! source flags shared with `baynet fetch`.

use anyhow::Context;
use baynet::config::{self, Config, Overrides};
use baynet::model::Timestamp;
use baynet::source::doctor::{diagnose, render_text};
use clap::Args;
use std::path::PathBuf;

/// Where the live sources are (config file, environment, flags).
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// Config file (default: $BAYNET_CONFIG, else ~/.config/baynet/config.toml if it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Loki base URL (overrides the config and BAYNET_LOKI_URL).
    #[arg(long)]
    pub loki: Option<String>,
    /// Tempo base URL.
    #[arg(long)]
    pub tempo: Option<String>,
    /// Prometheus base URL (or a Grafana datasource-proxy URL).
    #[arg(long)]
    pub prometheus: Option<String>,
    /// Kiali base URL, including its web root (`/kiali`).
    #[arg(long)]
    pub kiali: Option<String>,
    /// Kubernetes namespace of the application.
    #[arg(long)]
    pub namespace: Option<String>,
}

impl SourceArgs {
    /// Loads and validates the configuration.
    pub fn load(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            loki: self.loki.clone(),
            tempo: self.tempo.clone(),
            prometheus: self.prometheus.clone(),
            kiali: self.kiali.clone(),
            namespace: self.namespace.clone(),
        };
        let config = config::load(self.config.as_deref(), &overrides, &config::process_env)
            .context("configuration")?;
        if !config.has_sources() {
            anyhow::bail!(
                "no live source is configured: write a config file (see config.example.toml) or give --loki/--tempo/--prometheus/--kiali URLs"
            );
        }
        Ok(config)
    }
}

/// Wall-clock now.
pub fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    sources: SourceArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<()> {
    let config = args.sources.load()?;
    let report = runtime()?.block_on(diagnose(&config, now()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_text(&report));
    }
    if report.any_failed() {
        anyhow::bail!("at least one source failed its checks (see above)");
    }
    Ok(())
}
