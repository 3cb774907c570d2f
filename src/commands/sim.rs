//! `baynet sim …`: run a scenario to an offline input directory, serve a live simulation over
//! the Loki/Tempo/Prometheus APIs, list the built-in scenarios.

use anyhow::{Context, bail};
use baynet::model::FaultClass;
use baynet::scenario::{self, Scenario};
use baynet::sim::{SimConfig, run as sim_run};
use baynet::sim_server::{ServeOptions, serve};
use clap::{Args, Subcommand};
use rand::SeedableRng;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Simulate a whole experiment (baseline, fault, recovery) and write an offline input
    /// directory: traces.json, logs.json, metrics.json, graph.json and labels.json.
    Run(RunArgs),
    /// Serve a live simulation over Loki, Tempo and Prometheus-exposition HTTP APIs.
    Serve(ServeArgs),
    /// List the built-in scenarios.
    Scenarios {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Scenario: a Chaos Mesh manifest file, or a built-in name or number (`12`).
    #[arg(long)]
    scenario: Option<String>,
    /// Random seed; the same seed gives the same telemetry.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inject the fault into this service instead (with --fault).
    #[arg(long, requires = "fault")]
    target: Option<String>,
    /// Fault class to inject (pod-failure, network-partition, network-delay, bandwidth,
    /// io-fault, cpu-stress, memory-stress, http-abort, …); parameters are randomised.
    #[arg(long, requires = "target")]
    fault: Option<String>,
    /// Simulate without any fault.
    #[arg(long, conflicts_with_all = ["scenario", "target"])]
    no_fault: bool,
    /// Baseline length (default: the scenario's, or 10m).
    #[arg(long)]
    baseline: Option<String>,
    /// Fault length (default: the scenario's, or 10m).
    #[arg(long)]
    fault_duration: Option<String>,
    /// Recovery length (default: the scenario's, or 10m).
    #[arg(long)]
    recovery: Option<String>,
    /// Mean user actions per second of the load generator.
    #[arg(long, default_value_t = 6.0)]
    load: f64,
    /// Share of traces kept (0–1).
    #[arg(long, default_value_t = 0.2)]
    trace_sampling: f64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    fault: FaultArgs,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Play in simulated time N times faster than real time instead of as fast as possible.
    #[arg(long)]
    speed: Option<f64>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    fault: FaultArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9480")]
    listen: SocketAddr,
    /// Compress the scenario's schedule N times (10m phases last 1m at 10).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
}

fn duration(text: Option<&String>, default: Duration) -> anyhow::Result<Duration> {
    match text {
        Some(text) => baynet::model::time::parse_duration(text).map_err(anyhow::Error::msg),
        None => Ok(default),
    }
}

fn config_from(args: &FaultArgs) -> anyhow::Result<SimConfig> {
    let mut config = SimConfig {
        seed: args.seed,
        load_per_sec: args.load,
        trace_sample_rate: args.trace_sampling,
        ..SimConfig::default()
    };
    if !(0.0..=1.0).contains(&args.trace_sampling) {
        bail!("--trace-sampling must be between 0 and 1");
    }
    if !(args.load > 0.0 && args.load <= 500.0) {
        bail!("--load must be between 0 and 500 user actions per second");
    }
    let scenario = match &args.scenario {
        Some(argument) => Some(scenario::resolve(argument)?),
        None if args.no_fault || args.target.is_some() => None,
        None => Some(scenario::resolve("01")?),
    };
    if let Some(scenario) = &scenario {
        config = SimConfig {
            load_per_sec: config.load_per_sec,
            trace_sample_rate: config.trace_sample_rate,
            ..baynet::sim::run::config_for(scenario, args.seed)
        };
    }
    if let (Some(target), Some(fault)) = (&args.target, &args.fault) {
        let class: FaultClass = fault.parse().map_err(anyhow::Error::msg)?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
        let spec =
            baynet::sim::random::fault_for(target, class, &mut rng).map_err(anyhow::Error::msg)?;
        config.scenario = format!("{target}-{class}");
        config.fault = Some(spec);
    }
    if args.no_fault {
        config.fault = None;
        config.scenario = "no-fault".to_owned();
    }
    config.baseline = duration(args.baseline.as_ref(), config.baseline)?;
    config.fault_duration = duration(args.fault_duration.as_ref(), config.fault_duration)?;
    config.recovery = duration(args.recovery.as_ref(), config.recovery)?;
    Ok(config)
}

pub fn run(command: SimCommand) -> anyhow::Result<()> {
    match command {
        SimCommand::Run(args) => run_to_dir(&args),
        SimCommand::Serve(args) => {
            let config = config_from(&args.fault)?;
            serve_blocking(
                ServeOptions {
                    listen: args.listen,
                    config,
                    speed: args.speed,
                    max_log_lines: 300_000,
                    max_traces: 30_000,
                },
                false,
            )
        }
        SimCommand::Scenarios { json } => list_scenarios(json),
    }
}

fn serve_blocking(options: ServeOptions, summary: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = options.listen;
        // Ctrl-C or SIGTERM (a service manager's stop) ends it gracefully, with status 0.
        let server = tokio::spawn(serve(options, super::serve::shutdown_signal()));
        eprintln!("serving the simulation on http://{listen} (Loki /loki/api/v1/…, Tempo /api/…, Prometheus /metrics)");
        if summary {
            let client_loop = tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_secs(10));
                loop {
                    interval.tick().await;
                    eprintln!("{} simulation running; scrape http://{listen}/metrics", chrono::Utc::now().format("%H:%M:%S"));
                }
            });
            let result = server.await;
            client_loop.abort();
            result.context("server task failed")?.map_err(anyhow::Error::from)
        } else {
            server.await.context("server task failed")?.map_err(anyhow::Error::from)
        }
    })
}

fn run_to_dir(args: &RunArgs) -> anyhow::Result<()> {
    let config = config_from(&args.fault)?;
    let started = Instant::now();
    let dataset = match args.speed {
        None => sim_run::run(config).map_err(anyhow::Error::msg)?,
        Some(speed) if speed > 0.0 => paced_run(config, speed)?,
        Some(_) => bail!("--speed must be positive"),
    };
    let simulated = started.elapsed();
    baynet::input_dir::write_dir(&args.out, &dataset)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let traces = dataset
        .spans
        .iter()
        .map(|s| s.trace_id)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let truth = dataset.ground_truth.as_ref();
    let summary = serde_json::json!({
        "out": args.out.display().to_string(),
        "scenario": truth.map(|t| t.scenario.clone()),
        "root_cause": truth.map(|t| t.root_cause.clone()),
        "fault_class": truth.map(|t| t.fault_class.to_string()),
        "fault_start": truth.map(|t| t.fault_start.to_rfc3339()),
        "fault_end": truth.map(|t| t.fault_end.to_rfc3339()),
        "log_lines": dataset.logs.len(),
        "spans": dataset.spans.len(),
        "traces": traces,
        "series": dataset.series.len(),
        "simulated_ms": simulated.as_millis(),
        "total_ms": started.elapsed().as_millis(),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "wrote {}: {} log lines, {} spans in {} traces, {} metric series ({} ms)",
            args.out.display(),
            dataset.logs.len(),
            dataset.spans.len(),
            traces,
            dataset.series.len(),
            started.elapsed().as_millis()
        );
        if let Some(truth) = truth {
            println!(
                "fault: {} on {} from {} to {}",
                truth.fault_class, truth.root_cause, truth.fault_start, truth.fault_end
            );
        }
    }
    Ok(())
}

/// Runs the simulation paced against the wall clock: `speed` simulated seconds per second.
fn paced_run(config: SimConfig, speed: f64) -> anyhow::Result<baynet::model::Dataset> {
    let started = Instant::now();
    let start = config.start;
    sim_run::run_with(config, |now| {
        let due = Duration::from_secs_f64(now.since(start).as_secs_f64() / speed);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    })
    .map_err(anyhow::Error::msg)
}

fn list_scenarios(json: bool) -> anyhow::Result<()> {
    let scenarios: Vec<Scenario> = scenario::builtin()?;
    if json {
        let rows: Vec<serde_json::Value> = scenarios
            .iter()
            .zip(scenario::BUILTIN.iter())
            .map(|(s, (file, _))| {
                serde_json::json!({"file": file, "name": s.name, "kind": s.kind.as_str(), "root_cause": s.fault.target, "fault_class": s.fault.class.to_string(), "description": s.description})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for (s, (file, _)) in scenarios.iter().zip(scenario::BUILTIN.iter()) {
            println!(
                "{file:<42} {:<13} {:<18} {}",
                s.fault.target, s.fault.class, s.description
            );
        }
    }
    Ok(())
}
