//! `baynet experiment run|list|show`: run a chaos experiment on the simulator or a live cluster,
//! watch it with the detectors and the Bayesian network, record it as a postmortem in the
//! knowledge base.

use anyhow::{Context, bail};
use baynet::analysis::Analysis;
use baynet::experiment::kubectl::{Kubectl, KubectlControl};
use baynet::experiment::live::{
    FetchTelemetry, NoTelemetry, SourceFetch, WallClockSource, wall_now,
};
use baynet::experiment::recorder::{Observation, Schedule};
use baynet::experiment::runner::{
    NoControl, Recorded, RunError, RunSettings, SimSource, SourceError, TelemetrySource, Timing,
    run_experiment, sim_config,
};
use baynet::experiment::slo::SloConfig;
use baynet::knowledge::KnowledgeBase;
use baynet::knowledge::draft::{ExperimentMeta, from_experiment};
use baynet::knowledge::record::{self, Postmortem, Source};
use baynet::model::Timestamp;
use baynet::model::time::{format_duration, parse_duration};
use baynet::scenario::Scenario;
use clap::{ArgGroup, Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// The user knowledge directory (default `$XDG_DATA_HOME/baynet/knowledge`).
    #[arg(long, env = "BAYNET_KB_DIR", global = true)]
    kb_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: ExperimentCommand,
}

#[derive(Debug, Subcommand)]
enum ExperimentCommand {
    /// Run a scenario, watch it live (detectors + Bayesian network on sliding windows) and
    /// record the postmortem in the knowledge base.
    Run(Box<RunArgs>),
    /// List the recorded experiments.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one recorded experiment's postmortem.
    Show {
        /// Record id.
        id: String,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["sim", "live"])))]
struct RunArgs {
    /// Scenario file (`scenarios/06-payment-pod-failure-one.yaml`), built-in name or number.
    scenario: String,
    /// Run on the built-in simulator in accelerated time.
    #[arg(long)]
    sim: bool,
    /// Record on a live cluster (wall-clock time).
    #[arg(long)]
    live: bool,
    /// With --live: `kubectl apply -f` the manifest at the fault start and delete it at the
    /// fault end (Ctrl-C and errors delete it too).
    #[arg(long, requires = "live")]
    apply: bool,
    /// Simulator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Simulated seconds per wall second (default: as fast as the analysis allows).
    #[arg(long)]
    speed: Option<f64>,
    /// Baseline length (default: the scenario's `baynet.io/baseline`, usually 10m).
    #[arg(long)]
    baseline: Option<String>,
    /// Fault length (default: the scenario's `spec.duration`).
    #[arg(long)]
    fault: Option<String>,
    /// Recovery length (default: the scenario's `baynet.io/recovery`).
    #[arg(long)]
    recovery: Option<String>,
    /// With --live and no --apply: when someone else injected the fault (RFC 3339, UTC).
    #[arg(long, requires = "live", conflicts_with = "apply")]
    fault_start: Option<String>,
    /// With --live and no --apply: when the fault was removed (RFC 3339, UTC).
    #[arg(long, requires = "fault_start")]
    fault_end: Option<String>,
    /// Analysis step.
    #[arg(long, default_value = "60s")]
    step: String,
    /// Add the model-free log family (templates, keywords, sequences) to traces and metrics
    /// in a simulated run; about ten times slower, since it re-mines the whole window every
    /// step. A live run always reads the logs (a step takes about a second of its minute).
    #[arg(long)]
    logs: bool,
    /// With --live: leave the log family out (traces and metrics only).
    #[arg(long, requires = "live", conflicts_with = "logs")]
    no_logs: bool,
    /// SLO per service: SERVICE=AVAILABILITY[:P99] (repeatable; `default=` for the rest),
    /// e.g. `--slo orders=99.9:500ms`. Default 99.5 % and 1 s.
    #[arg(long)]
    slo: Vec<String>,
    /// Also write the postmortem to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not add the postmortem to the knowledge base.
    #[arg(long)]
    no_kb: bool,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    json: bool,
    /// kubectl program.
    #[arg(long, default_value = "kubectl")]
    kubectl: PathBuf,
    /// With --live: where the telemetry comes from (as for `baynet doctor`).
    #[command(flatten)]
    sources: super::doctor::SourceArgs,
    /// kubectl `--context`.
    #[arg(long)]
    context: Option<String>,
}

/// The knowledge base with the configured backend and the same embedder as `baynet kb`, so a
/// recorded experiment's vectors match the ones already stored.
fn open_kb(kb_dir: Option<PathBuf>) -> anyhow::Result<KnowledgeBase> {
    super::kb::open(kb_dir)
}

pub fn run(args: ExperimentArgs) -> anyhow::Result<()> {
    match args.command {
        ExperimentCommand::Run(run_args) => run_one(*run_args, args.kb_dir),
        ExperimentCommand::List { json } => {
            let kb = open_kb(args.kb_dir)?;
            let experiments: Vec<&Postmortem> = kb
                .store
                .records()
                .map(|s| &s.record)
                .filter(|r| r.source == Source::ChaosExperiment)
                .collect();
            if json {
                let rows: Vec<serde_json::Value> = experiments
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id,
                            "title": r.title,
                            "scenario": r.scenario,
                            "started": r.started,
                            "fault_class": r.fault_class,
                            "root_cause_service": r.root_cause_service,
                            "mttd_secs": r.mttd_secs,
                            "mttr_secs": r.mttr_secs,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if experiments.is_empty() {
                println!(
                    "no recorded experiments; record one with `baynet experiment run SCENARIO --sim`"
                );
            }
            let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s"));
            for r in experiments {
                println!(
                    "{:<48} {:<22} {:>6} {:>6}  {}",
                    r.id,
                    r.started.as_deref().unwrap_or("-"),
                    secs(r.mttd_secs),
                    secs(r.mttr_secs),
                    r.title
                );
            }
            Ok(())
        }
        ExperimentCommand::Show { id } => {
            let kb = open_kb(args.kb_dir)?;
            let stored = kb.store.get(&id).with_context(|| {
                format!("no recorded experiment with id `{id}` (see `baynet experiment list`)")
            })?;
            if stored.record.source != Source::ChaosExperiment {
                bail!(
                    "`{id}` is a {} record, not an experiment; `baynet kb show {id}` prints it",
                    stored.record.source.as_str()
                );
            }
            print!(
                "{}",
                record::render(&stored.postmortem()).map_err(anyhow::Error::msg)?
            );
            Ok(())
        }
    }
}

fn duration_arg(flag: &str, value: Option<&String>, default: Duration) -> anyhow::Result<Duration> {
    match value {
        Some(text) => parse_duration(text).map_err(|e| anyhow::anyhow!("--{flag} {text}: {e}")),
        None => Ok(default),
    }
}

fn progress_line(start: Timestamp, observation: &Observation, analysis: Option<&Analysis>) {
    let flagged: Vec<&str> = observation
        .flags
        .iter()
        .filter(|(_, f)| **f)
        .map(|(k, _)| k.as_str())
        .collect();
    eprintln!(
        "[{}] {}{}",
        format_duration(observation.at.since(start)),
        match analysis {
            None => "learning normal behaviour".to_owned(),
            Some(_) if flagged.is_empty() => "quiet".to_owned(),
            Some(_) => format!("flagged by {}", flagged.join(", ")),
        },
        observation
            .top_service
            .as_ref()
            .map(|s| format!("; top suspect {s}"))
            .unwrap_or_default()
    );
}

/// Sets the flag on SIGINT or SIGTERM (installed before returning).
fn install_interrupt() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = Arc::clone(&flag);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal handler")?;
    let (ready, registered) = std::sync::mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("baynet-signals".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (mut interrupt, mut terminate) = match (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) {
                        (Ok(i), Ok(t)) => (i, t),
                        (Err(e), _) | (_, Err(e)) => {
                            let _ = ready.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                #[cfg(not(unix))]
                {
                    let _ = ready.send(Ok(()));
                    let _ = tokio::signal::ctrl_c().await;
                }
                setter.store(true, Ordering::SeqCst);
            });
        })
        .context("starting the signal handler thread")?;
    registered
        .recv_timeout(Duration::from_secs(5))
        .context("the signal handler did not start")?
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(flag)
}

struct Plan {
    timing: Timing,
    schedule_start: Timestamp,
}

fn run_one(args: RunArgs, kb_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let scenario = baynet::scenario::resolve(&args.scenario)?;
    let step =
        parse_duration(&args.step).map_err(|e| anyhow::anyhow!("--step {}: {e}", args.step))?;
    if step < Duration::from_secs(15) {
        bail!("--step must be at least 15s (the metrics scrape interval)");
    }
    let baseline = duration_arg("baseline", args.baseline.as_ref(), scenario.baseline)?;
    let fault = duration_arg("fault", args.fault.as_ref(), scenario.fault_duration)?;
    let recovery = duration_arg("recovery", args.recovery.as_ref(), scenario.recovery)?;
    if baseline < Duration::from_secs(120) && args.sim {
        bail!("--baseline must be at least 2m: the detectors learn normal from its first half");
    }
    let overridden = args.baseline.is_some() || args.fault.is_some() || args.recovery.is_some();
    let settings = RunSettings {
        step,
        logs: args.logs || (args.live && !args.no_logs),
        slo: SloConfig::default()
            .with_overrides(&args.slo)
            .map_err(anyhow::Error::msg)?,
        ..RunSettings::default()
    };
    let mut notes = Vec::new();
    if overridden {
        notes.push(format!(
            "phases set on the command line: baseline {}, fault {}, recovery {} (the scenario says {}, {}, {})",
            format_duration(baseline),
            format_duration(fault),
            format_duration(recovery),
            format_duration(scenario.baseline),
            format_duration(scenario.fault_duration),
            format_duration(scenario.recovery)
        ));
    }
    let (recorded, id, environment) = if args.sim {
        if let Some(speed) = args.speed
            && !(speed.is_finite() && speed > 0.0)
        {
            bail!("--speed must be a positive number of simulated seconds per second");
        }
        let recorded = record_sim(&scenario, &args, (baseline, fault, recovery), &settings)?;
        let mut id = format!("exp-sim-{}-s{}", scenario.name, args.seed);
        if overridden {
            id.push_str(&format!(
                "-{}-{}-{}",
                baseline.as_secs(),
                fault.as_secs(),
                recovery.as_secs()
            ));
        }
        (recorded, id, format!("simulator, seed {}", args.seed))
    } else {
        let (recorded, environment) = record_live(
            &scenario,
            &args,
            (baseline, fault, recovery),
            &settings,
            &mut notes,
        )?;
        let stamp = recorded.schedule.fault_start.format("%Y%m%dT%H%M%SZ");
        (
            recorded,
            format!("exp-{}-{stamp}", scenario.name),
            environment,
        )
    };
    let meta = ExperimentMeta {
        id,
        scenario: &scenario,
        environment,
        simulated: args.sim,
        notes,
    };
    let postmortem = from_experiment(&meta, &recorded);
    let text = record::render(&postmortem).map_err(anyhow::Error::msg)?;
    // What goes into the knowledge base must parse back under its schema.
    record::parse(
        std::path::Path::new(&format!("{}.md", postmortem.id)),
        &text,
    )
    .context("the recorded postmortem does not validate (a bug: please report it)")?;
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    }
    let stored = if args.no_kb {
        None
    } else {
        let mut kb = open_kb(kb_dir)?;
        Some(kb.record(&postmortem)?)
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "id": postmortem.id,
                "path": stored,
                "report": recorded.report,
                "schedule": {
                    "start": recorded.schedule.start.to_rfc3339(),
                    "fault_start": recorded.schedule.fault_start.to_rfc3339(),
                    "fault_end": recorded.schedule.fault_end.to_rfc3339(),
                    "end": recorded.end.to_rfc3339(),
                    "detected": recorded.schedule_detected,
                },
                "analysed_steps": recorded.analysed_steps,
                "problems": recorded.problems.len(),
            }))?
        );
    } else {
        println!("{}", postmortem.summary());
        match &stored {
            Some(path) => println!("recorded {} ({})", postmortem.id, path.display()),
            None => println!(
                "not added to the knowledge base (--no-kb): {}",
                postmortem.id
            ),
        }
    }
    Ok(())
}

fn record_sim(
    scenario: &Scenario,
    args: &RunArgs,
    phases: (Duration, Duration, Duration),
    settings: &RunSettings,
) -> anyhow::Result<Recorded> {
    let mut source = SimSource::new(sim_config(scenario, args.seed, Some(phases)))
        .map_err(anyhow::Error::msg)?;
    if let Some(speed) = args.speed {
        let wall = Instant::now();
        let origin = source.now();
        source.set_after_tick(move |now| {
            let due = Duration::from_secs_f64(now.since(origin).as_secs_f64() / speed);
            if let Some(wait) = due.checked_sub(wall.elapsed()) {
                std::thread::sleep(wait);
            }
            Ok(())
        });
    }
    let schedule = source.schedule();
    let end = source.end();
    let start = schedule.start;
    run_experiment(
        &mut source,
        &mut NoControl,
        Timing::Known { schedule, end },
        Some(&scenario.fault.target),
        settings,
        |observation, analysis| progress_line(start, observation, analysis),
    )
    .map_err(|error| anyhow::anyhow!("{}: {error}", scenario.name))
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse_rfc3339(text).with_context(|| {
        format!("--{flag} `{text}` is not an RFC 3339 time (2026-05-01T10:00:00Z)")
    })
}

fn record_live(
    scenario: &Scenario,
    args: &RunArgs,
    (baseline, fault, recovery): (Duration, Duration, Duration),
    settings: &RunSettings,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Recorded, String)> {
    let mut config = baynet::config::load(
        args.sources.config.as_deref(),
        &baynet::config::Overrides {
            loki: args.sources.loki.clone(),
            tempo: args.sources.tempo.clone(),
            prometheus: args.sources.prometheus.clone(),
            kiali: args.sources.kiali.clone(),
            namespace: args.sources.namespace.clone(),
        },
        &baynet::config::process_env,
    )
    .context("configuration")?;
    if !config.namespace_configured {
        // The telemetry that shows the fault is the targeted pods' namespace, not `default`.
        config.namespace.clone_from(&scenario.target_namespace);
        let note = format!(
            "reading namespace `{}`, the scenario's target (none configured; --namespace overrides)",
            config.namespace
        );
        eprintln!("{note}");
        notes.push(note);
    }
    let telemetry: Box<dyn FetchTelemetry> = if config.has_sources() {
        let source = baynet::source::LiveSource::new(&config)
            .context("setting up the live sources (check them with `baynet doctor`)")?;
        Box::new(SourceFetch::new(Box::new(source), 300).map_err(anyhow::Error::msg)?)
    } else {
        Box::new(NoTelemetry)
    };
    let connected = telemetry.connected();
    if !connected {
        let message = "no live telemetry source is configured (config file, BAYNET_*_URL or --loki/--tempo/--prometheus): the schedule (and, with --apply, kubectl apply/delete) is carried out and recorded; detection, MTTD, MTTR and golden signals are not";
        eprintln!("warning: {message}");
        notes.push(message.to_owned());
    }
    let plan = if args.apply {
        let start = wall_now();
        let schedule = Schedule {
            start,
            fault_start: start.plus(baseline),
            fault_end: start.plus(baseline + fault),
        };
        Plan {
            timing: Timing::Known {
                schedule,
                end: schedule.fault_end.plus(recovery),
            },
            schedule_start: start,
        }
    } else if let Some(fault_start) = &args.fault_start {
        let fault_start = parse_time("fault-start", fault_start)?;
        let fault_end = match &args.fault_end {
            Some(text) => parse_time("fault-end", text)?,
            None => fault_start.plus(fault),
        };
        if fault_end <= fault_start {
            bail!("--fault-end must be after --fault-start");
        }
        let schedule = Schedule {
            start: fault_start.minus(baseline),
            fault_start,
            fault_end,
        };
        Plan {
            timing: Timing::Known {
                schedule,
                end: fault_end.plus(recovery),
            },
            schedule_start: schedule.start,
        }
    } else {
        if !connected {
            bail!(
                "--live without --apply needs --fault-start (and --fault-end) when no live telemetry source is configured: the fault window cannot be detected from no telemetry"
            );
        }
        let start = wall_now();
        Plan {
            timing: Timing::Detect {
                start,
                end: start.plus(baseline + fault + recovery),
                baseline,
            },
            schedule_start: start,
        }
    };
    let environment = format!(
        "live cluster{}; {}",
        args.context
            .as_ref()
            .map(|c| format!(" (context {c})"))
            .unwrap_or_default(),
        telemetry.describe()
    );
    let interrupted = install_interrupt()?;
    let mut source = WallClockSource::new(telemetry, plan.schedule_start, Arc::clone(&interrupted));
    let start = plan.schedule_start;
    let expected = Some(scenario.fault.target.as_str());
    let progress = |observation: &Observation, analysis: Option<&Analysis>| {
        progress_line(start, observation, analysis);
    };
    let result = if args.apply {
        let kubectl = Kubectl {
            program: args.kubectl.clone(),
            context: args.context.clone(),
        };
        eprintln!(
            "applying {} at {} and deleting it at {}",
            scenario.name,
            match plan.timing {
                Timing::Known { schedule, .. } => schedule.fault_start.to_rfc3339(),
                Timing::Detect { .. } => "-".to_owned(),
            },
            match plan.timing {
                Timing::Known { schedule, .. } => schedule.fault_end.to_rfc3339(),
                Timing::Detect { .. } => "-".to_owned(),
            },
        );
        let mut control = KubectlControl::new(&kubectl, &scenario.manifest);
        let result = run_experiment(
            &mut source,
            &mut control,
            plan.timing,
            expected,
            settings,
            progress,
        );
        let was_applied = control.is_applied();
        // Dropping the control deletes a resource still applied (error, Ctrl-C); a panic
        // unwinding through `run_experiment` drops it the same way.
        drop(control);
        if was_applied {
            eprintln!("deleted the chaos resource {}", scenario.name);
        }
        result
    } else {
        run_experiment(
            &mut source,
            &mut NoControl,
            plan.timing,
            expected,
            settings,
            progress,
        )
    };
    match result {
        Ok(recorded) => Ok((recorded, environment)),
        Err(RunError::Source(SourceError::Interrupted)) => {
            bail!(
                "interrupted: the experiment was stopped and no postmortem was written (any applied chaos resource was deleted first)"
            )
        }
        Err(error) => Err(anyhow::anyhow!("{error}")),
    }
}
