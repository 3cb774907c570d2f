//! `baynet serve`: the live Bayesian graph for Grafana's Node Graph API datasource, scores and
//! Baynet's own health on `/metrics` for Prometheus, anomaly events over `POST /api/v1/events`
//! and (optionally) an AWS SQS queue. The telemetry is the built-in simulation in accelerated
//! time, or an offline input directory.

use anyhow::{Context, bail};
use baynet::analysis::AnalysisConfig;
use baynet::live::SimSettings;
use baynet::model::time::parse_duration;
use baynet::scenario;
use baynet::serve::feed::{OfflineSource, SimSource, SourceFeed};
use baynet::serve::server::{ServerConfig, Shared, consume_sqs, now, run};
use baynet::serve::snapshot::Snapshot;
use baynet::serve::sqs::{SqsClient, SqsConfig, credentials_from_environment};
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable holding the bearer token (never a flag: flags show in `ps`).
const TOKEN_ENV: &str = "BAYNET_SERVE_TOKEN";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Keep it on loopback unless a token is set and a proxy terminates
    /// TLS in front.
    #[arg(long, env = "BAYNET_SERVE_LISTEN", default_value = "127.0.0.1:9481")]
    listen: SocketAddr,
    /// File holding the bearer token every request must present (`Authorization: Bearer …`).
    /// Alternatively set BAYNET_SERVE_TOKEN. Without either, no authentication.
    #[arg(long, env = "BAYNET_SERVE_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// How often the analysis is refreshed and external events are re-ranked.
    #[arg(long, default_value = "1s")]
    update_every: String,
    /// How long an external anomaly event counts as evidence after it ends (or starts).
    #[arg(long, default_value = "15m")]
    event_ttl: String,
    /// Serve an offline input directory (analysed once, re-ranked with external events)
    /// instead of the live simulation.
    #[arg(long, conflicts_with_all = ["speed", "scenario", "full_phases", "seed"])]
    input: Option<PathBuf>,
    /// Simulated seconds per wall second of the built-in simulation (default 20; at most 300
    /// simulated seconds are stepped per update).
    #[arg(long)]
    speed: Option<f64>,
    /// Play only this built-in scenario (name or number), over and over; default: all 12 in
    /// turn.
    #[arg(long)]
    scenario: Option<String>,
    /// Play the scenarios with their full baseline/fault/recovery lengths instead of the
    /// shortened 3/4/2 minutes.
    #[arg(long)]
    full_phases: bool,
    /// Random seed of the simulation.
    #[arg(long)]
    seed: Option<u64>,
    /// System name shown as the nodes' subtitle (default: `sock-shop`, or the input
    /// directory's name).
    #[arg(long)]
    namespace: Option<String>,
    /// Consume anomaly events from this SQS queue URL as well. Credentials come from
    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN) or the AWS_PROFILE profile
    /// of ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE).
    #[arg(long, env = "BAYNET_SQS_QUEUE_URL")]
    sqs_queue_url: Option<String>,
    /// AWS region of the queue (default: AWS_REGION, AWS_DEFAULT_REGION, or the queue URL's
    /// host).
    #[arg(long, requires = "sqs_queue_url")]
    sqs_region: Option<String>,
    /// SQS endpoint, for LocalStack or moto (default: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL,
    /// or the queue URL's host).
    #[arg(long, requires = "sqs_queue_url")]
    sqs_endpoint: Option<String>,
    /// Long-polling wait per receive, 0–20 s.
    #[arg(long, default_value_t = 20, requires = "sqs_queue_url")]
    sqs_wait: u32,
    /// Visibility timeout of received messages, seconds: a malformed message comes back after
    /// it (and goes to the dead-letter queue after the queue's maxReceiveCount).
    #[arg(long, default_value_t = 60, requires = "sqs_queue_url")]
    sqs_visibility_timeout: u32,
}

/// The token from BAYNET_SERVE_TOKEN or `--token-file`, checked; never printed.
fn load_token(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let (text, origin) = match (file, std::env::var(TOKEN_ENV)) {
        (Some(_), Ok(_)) => {
            bail!("give the token either in {TOKEN_ENV} or with --token-file, not both")
        }
        (Some(path), Err(_)) => {
            let size = std::fs::metadata(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .len();
            if size > 4096 {
                bail!(
                    "the token file {} is {size} bytes; a token is one short line",
                    path.display()
                );
            }
            warn_if_readable_by_others(path);
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?;
            (text, format!("the token file {}", path.display()))
        }
        (None, Ok(text)) => (text, TOKEN_ENV.to_owned()),
        (None, Err(_)) => return Ok(None),
    };
    let token = text.trim();
    if token.is_empty() {
        bail!("{origin} is empty; put the token in it or unset it");
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        bail!(
            "the token in {origin} must be printable ASCII without spaces (it travels in an HTTP header)"
        );
    }
    Ok(Some(token.to_owned()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the token file {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// The region of an SQS queue URL such as `https://sqs.eu-west-1.amazonaws.com/123/q`.
fn region_of_queue_url(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split(['/', ':']).next()?;
    let mut parts = host.split('.');
    match (parts.next(), parts.next()) {
        (Some("sqs"), Some(region)) if host.ends_with(".amazonaws.com") => Some(region.to_owned()),
        (Some(region), Some("queue")) if host.ends_with(".amazonaws.com") => {
            Some(region.to_owned())
        }
        _ => None,
    }
}

fn sqs_config(args: &ServeArgs, queue_url: &str) -> anyhow::Result<SqsConfig> {
    let region = args
        .sqs_region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .or_else(|| region_of_queue_url(queue_url))
        .filter(|r| !r.is_empty())
        .context("no AWS region for the SQS queue: pass --sqs-region or set AWS_REGION")?;
    let endpoint = args
        .sqs_endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_SQS").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.is_empty());
    if args.sqs_wait > 20 {
        bail!("--sqs-wait is at most 20 seconds (the SQS long-polling limit)");
    }
    if args.sqs_visibility_timeout > 43_200 {
        bail!("--sqs-visibility-timeout is at most 43200 seconds (12 hours)");
    }
    Ok(SqsConfig {
        queue_url: queue_url.to_owned(),
        endpoint,
        region,
        wait_time_secs: args.sqs_wait,
        visibility_timeout_secs: args.sqs_visibility_timeout,
        max_messages: 10,
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// In-flight requests get this long to finish after a shutdown signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

pub fn run_serve(args: &ServeArgs) -> anyhow::Result<()> {
    let token = load_token(args.token_file.as_deref())?;
    let update_every = parse_duration(&args.update_every)
        .map_err(anyhow::Error::msg)
        .context("--update-every")?;
    if update_every < Duration::from_millis(50) || update_every > Duration::from_secs(3600) {
        bail!("--update-every must be between 50ms and 1h");
    }
    let event_ttl = parse_duration(&args.event_ttl)
        .map_err(anyhow::Error::msg)
        .context("--event-ttl")?;
    if event_ttl.is_zero() {
        bail!("--event-ttl must be longer than 0s");
    }
    if token.is_none() && !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: listening on {} without a bearer token: anyone who can reach it can read the analysis and post events (set {TOKEN_ENV} or --token-file)",
            args.listen
        );
    }
    let sqs = match &args.sqs_queue_url {
        Some(url) => {
            let config = sqs_config(args, url)?;
            let credentials = credentials_from_environment()?;
            Some(SqsClient::new(config, credentials)?)
        }
        None => None,
    };
    let config = ServerConfig {
        listen: args.listen,
        token,
        update_every,
        event_ttl,
    };
    let auth = if config.token.is_some() {
        "bearer token required"
    } else {
        "no authentication"
    };
    let started = now();
    if let Some(dir) = &args.input {
        let dataset = baynet::input_dir::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?;
        let name = dir
            .file_name()
            .map_or_else(|| "input".to_owned(), |n| n.to_string_lossy().into_owned());
        let namespace = args.namespace.clone().unwrap_or_else(|| name.clone());
        let feed = SourceFeed::new(
            OfflineSource::new(&format!("input:{name}"), dataset),
            &namespace,
            AnalysisConfig::default(),
        );
        eprintln!(
            "baynet serve: http://{} ({auth}); offline input {} analysed once, re-ranked with external events",
            args.listen,
            dir.display()
        );
        serve(config, &namespace, feed, sqs, started)
    } else {
        let scenarios = match &args.scenario {
            Some(name) => vec![scenario::resolve(name)?],
            None => scenario::builtin()?,
        };
        let mut settings = SimSettings::new(scenarios);
        if let Some(seed) = args.seed {
            settings.seed = seed;
        }
        if let Some(speed) = args.speed {
            settings.speed = speed;
        }
        if args.full_phases {
            settings.phases = None;
        }
        let count = settings.scenarios.len();
        let speed = settings.speed;
        let source = SimSource::new(settings, started).map_err(anyhow::Error::msg)?;
        let namespace = args
            .namespace
            .clone()
            .unwrap_or_else(|| "sock-shop".to_owned());
        let feed = SourceFeed::new(source, &namespace, AnalysisConfig::default());
        eprintln!(
            "baynet serve: http://{} ({auth}); built-in simulation, {count} scenario(s) at {speed}x",
            args.listen
        );
        serve(config, &namespace, feed, sqs, started)
    }
}

fn serve(
    config: ServerConfig,
    namespace: &str,
    feed: impl baynet::serve::server::AnalysisFeed,
    sqs: Option<SqsClient>,
    started: baynet::model::Timestamp,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("baynet-serve")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let shared = Shared::new(Snapshot::empty(namespace, started), config.event_ttl);
    let listen = config.listen;
    if sqs.is_some() {
        shared.register_source("sqs");
    }
    let result = runtime.block_on(async move {
        let consumer = sqs.map(|client| {
            let shared = std::sync::Arc::clone(&shared);
            tokio::spawn(async move {
                if let Err(error) = consume_sqs(shared, client).await {
                    tracing::error!(%error, "the SQS consumer stopped; events still arrive over HTTP");
                    eprintln!("error: the SQS consumer stopped: {error}");
                }
            })
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut server = tokio::spawn(run(config, shared, feed, async move {
            let _ = stopped.await;
        }));
        let outcome = tokio::select! {
            finished = &mut server => Some(finished),
            () = shutdown_signal() => None,
        };
        if let Some(consumer) = &consumer {
            consumer.abort();
        }
        match outcome {
            Some(finished) => finished
                .context("the server task failed")?
                .with_context(|| format!("cannot serve on {listen}")),
            None => {
                eprintln!("baynet serve: shutting down");
                let _ = stop.send(());
                match tokio::time::timeout(DRAIN_LIMIT, server).await {
                    Ok(finished) => finished.context("the server task failed")?.context("serving"),
                    Err(_) => {
                        eprintln!("baynet serve: requests still open after {DRAIN_LIMIT:?}; closing them");
                        Ok(())
                    }
                }
            }
        }
    });
    // An analysis may be running in a blocking thread; do not wait for it long.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_aws_queue_urls_only() {
        assert_eq!(
            region_of_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/anomalies")
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_queue_url("https://us-east-2.queue.amazonaws.com/1/q").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_of_queue_url("http://127.0.0.1:5000/123/q"), None);
        assert_eq!(region_of_queue_url("not a url"), None);
    }
}
