//! `baynet eval …`: evaluations against the simulator's ground truth. Bare `baynet eval`
//! records every scenario as an experiment and prints one table.

use baynet::eval::detectors::{EvalConfig, evaluate_with};
use baynet::eval::experiments::{self, ExperimentEvalConfig, ExperimentScore};
use baynet::eval::rca::RcaEvalConfig;
use baynet::knowledge::draft::{ExperimentMeta, from_experiment};
use baynet::knowledge::record::Postmortem;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// Randomised faults recorded after the scenarios (seeds 5000, 5001, …).
    #[arg(long, default_value_t = 0)]
    random: u64,
    /// Phases of every run, BASELINE/FAULT/RECOVERY (default: as each scenario says, 10m/10m/10m
    /// for random faults).
    #[arg(long)]
    phases: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run_args(args: EvalArgs) -> anyhow::Result<()> {
    match args.command {
        Some(command) => run(command),
        None => run_table(&args.table),
    }
}

#[derive(serde::Serialize)]
struct TableRow {
    #[serde(flatten)]
    score: ExperimentScore,
    /// Whether the top three retrieved records include one of the same fault class.
    retrieval_hit3: Option<bool>,
    /// Fault classes of the top three retrieved records.
    retrieved: Vec<String>,
}

fn run_table(args: &TableArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let phases = match &args.phases {
        None => None,
        Some(text) => {
            let parts: Vec<&str> = text.split('/').collect();
            let [b, f, r] = parts.as_slice() else {
                anyhow::bail!("--phases {text}: write BASELINE/FAULT/RECOVERY, e.g. 6m/4m/4m");
            };
            let parse = |p: &str| {
                baynet::model::time::parse_duration(p)
                    .map_err(|e| anyhow::anyhow!("--phases {text}: {e}"))
            };
            Some((parse(b)?, parse(f)?, parse(r)?))
        }
    };
    let config = ExperimentEvalConfig {
        random_seeds: (5000..5000 + args.random).collect(),
        phases,
        ..ExperimentEvalConfig::default()
    };
    let runs = experiments::scenarios(&config).map_err(anyhow::Error::msg)?;
    let recorded = experiments::record_all(&runs, config.phases, &config.settings, config.threads)
        .map_err(anyhow::Error::msg)?;
    let recorded_secs = started.elapsed().as_secs_f64();
    let postmortems: Vec<(Postmortem, Option<&baynet::analysis::Analysis>)> = runs
        .iter()
        .zip(&recorded)
        .map(|((scenario, seed), rec)| {
            let meta = ExperimentMeta {
                id: format!("eval-{}-s{seed}", scenario.name),
                scenario,
                environment: format!("simulator, seed {seed}"),
                simulated: true,
                notes: Vec::new(),
            };
            (from_experiment(&meta, rec), rec.detection.as_ref())
        })
        .collect();
    let store =
        std::env::temp_dir().join(format!("baynet-eval-experiments-{}", std::process::id()));
    let curated = baynet::knowledge::KbPaths::resolve(None)
        .map(|p| p.curated)
        .unwrap_or_default();
    let retrieved = baynet::knowledge::evaluate::leave_one_out(&store, &postmortems, &curated);
    let _ = std::fs::remove_dir_all(&store);
    let retrieved = retrieved.map_err(anyhow::Error::msg)?;
    let rows: Vec<TableRow> = runs
        .iter()
        .zip(&recorded)
        .zip(retrieved)
        .map(|(((scenario, _), rec), hits)| {
            let score = experiments::score(scenario, rec);
            let class = score.fault_class.clone();
            TableRow {
                retrieval_hit3: hits.as_ref().map(|h| h.contains(&class)),
                retrieved: hits.unwrap_or_default(),
                score,
            }
        })
        .collect();
    let total_secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let mean = |values: Vec<f64>| {
        if values.is_empty() {
            f64::NAN
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let summary = |rows: &[&TableRow]| {
        serde_json::json!({
            "runs": rows.len(),
            "precision": mean(rows.iter().map(|r| r.score.precision).collect()),
            "recall": mean(rows.iter().map(|r| r.score.recall).collect()),
            "f1": mean(rows.iter().map(|r| r.score.f1).collect()),
            "mttd_secs": mean(rows.iter().filter_map(|r| r.score.mttd_secs).collect()),
            "detected": rows.iter().filter(|r| r.score.mttd_secs.is_some()).count(),
            "mttr_secs": mean(rows.iter().filter_map(|r| r.score.mttr_secs).collect()),
            "top1": mean(rows.iter().map(|r| f64::from(u8::from(r.score.position == 1))).collect()),
            "top3": mean(rows.iter().map(|r| f64::from(u8::from((1..=3).contains(&r.score.position)))).collect()),
            "retrieval_hit3": mean(rows.iter().filter_map(|r| r.retrieval_hit3.map(|h| f64::from(u8::from(h)))).collect()),
        })
    };
    let scenario_rows: Vec<&TableRow> = rows
        .iter()
        .filter(|r| !r.score.name.starts_with("random-"))
        .collect();
    let random_rows: Vec<&TableRow> = rows
        .iter()
        .filter(|r| r.score.name.starts_with("random-"))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "runs": rows,
                "scenarios": summary(&scenario_rows),
                "random": summary(&random_rows),
                "seconds": total_secs,
            }))?
        );
        return Ok(());
    }
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s"));
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!(
        "{:<36} {:<18} {:<13} {:>5} {:>5} {:>5} {:>6} {:>6} {:>5} {:>5} {:>6}",
        "scenario", "fault", "root cause", "P", "R", "F1", "MTTD", "MTTR", "top1", "top3", "ret@3"
    );
    for row in &rows {
        let s = &row.score;
        println!(
            "{:<36} {:<18} {:<13} {:>5.2} {:>5.2} {:>5.2} {:>6} {:>6} {:>5} {:>5} {:>6}",
            s.name,
            s.fault_class,
            s.root_cause,
            s.precision,
            s.recall,
            s.f1,
            secs(s.mttd_secs),
            secs(s.mttr_secs),
            yes(s.position == 1),
            yes((1..=3).contains(&s.position)),
            row.retrieval_hit3.map_or("-", yes),
        );
    }
    for (label, set) in [("scenarios", &scenario_rows), ("random", &random_rows)] {
        if set.is_empty() {
            continue;
        }
        let s = summary(set);
        let f = |key: &str| s[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "{label:<9} runs {} P {:.2} R {:.2} F1 {:.2} MTTD {:.0}s (detected {}) MTTR {:.0}s top-1 {:.2} top-3 {:.2} retrieval hit@3 {:.2}",
            set.len(),
            f("precision"),
            f("recall"),
            f("f1"),
            f("mttd_secs"),
            s["detected"],
            f("mttr_secs"),
            f("top1"),
            f("top3"),
            f("retrieval_hit3"),
        );
    }
    println!(
        "recorded {} runs in {recorded_secs:.1}s, retrieval done at {total_secs:.1}s ({} threads)",
        rows.len(),
        config.threads
    );
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Window-level precision/recall/F1 and time to detect of the trace and metric detectors on
    /// the 12 built-in scenarios and randomised faults.
    Detectors(DetectorArgs),
    /// Root-cause ranking of the whole pipeline (detectors → Bayesian network): top-1/top-3 on
    /// the built-in scenarios and randomised faults, false alarms on fault-free runs.
    Rca(RcaArgs),
    /// Knowledge-base retrieval: postmortems drafted from simulated incidents, leave one out,
    /// top-1/top-3 same-fault-class hit rate.
    Retrieval(RetrievalArgs),
}

#[derive(Debug, Args)]
pub struct RcaArgs {
    /// Number of random faults (seeds 2000, 2001, …).
    #[arg(long, default_value_t = 100)]
    random: u64,
    /// First random-fault seed (a subset while iterating: `--random-from 2040 --random 10`).
    #[arg(long, default_value_t = 2000)]
    random_from: u64,
    /// Number of fault-free 30-minute runs (seeds 3000, 3001, …).
    #[arg(long, default_value_t = 10)]
    quiet: u64,
    /// First fault-free seed.
    #[arg(long, default_value_t = 3000)]
    quiet_from: u64,
    /// Only scenarios whose name contains this.
    #[arg(long, default_value = "")]
    scenario: String,
    /// Leave the log family out (traces and metrics only), for comparison.
    #[arg(long)]
    no_logs: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RetrievalArgs {
    /// Number of random faults added to the 12 scenarios (seeds 4000, 4001, …).
    #[arg(long, default_value_t = 24)]
    random: u64,
    /// First random-fault seed (a held-out set: `--random-from 5000 --random 48`).
    #[arg(long, default_value_t = 4000)]
    random_from: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn run_retrieval(args: &RetrievalArgs) -> anyhow::Result<()> {
    let store = std::env::temp_dir().join(format!("baynet-eval-retrieval-{}", std::process::id()));
    let seeds: Vec<u64> =
        (args.random_from..args.random_from.saturating_add(args.random)).collect();
    // The same embedder choice as the knowledge base (`BAYNET_KB_EMBEDDER`, default MiniLM
    // when the model is installed, else the hashed bag of words).
    let embedder = super::kb::embedder()?;
    let report =
        baynet::knowledge::evaluate::evaluate(&store, &seeds, embedder).map_err(anyhow::Error::msg);
    let _ = std::fs::remove_dir_all(&store);
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for run in &report.runs {
        println!(
            "{:<44} {:<26} {:<14} top3 [{}]{}",
            run.name,
            run.fault_class,
            run.root_cause,
            run.top.join(", "),
            if run.answerable {
                ""
            } else {
                " (no other run of its class)"
            }
        );
    }
    println!(
        "answerable {}: same-class top-1 {:.2}, top-3 {:.2} (embedder {})",
        report.answerable, report.hit_rate_top1, report.hit_rate_top3, report.embedder
    );
    Ok(())
}

fn run_rca(args: RcaArgs) -> anyhow::Result<()> {
    let config = RcaEvalConfig {
        random_seeds: (args.random_from..args.random_from.saturating_add(args.random)).collect(),
        quiet_seeds: (args.quiet_from..args.quiet_from.saturating_add(args.quiet)).collect(),
        scenario_filter: args.scenario,
        logs: !args.no_logs,
        ..RcaEvalConfig::default()
    };
    let report = baynet::eval::rca::evaluate(&config).map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{:<40} {:>4} {:>8} {:>8}  top three (P outage)",
        "run", "pos", "P(out)", "detect"
    );
    for run in &report.runs {
        let top: Vec<String> = run
            .top
            .iter()
            .map(|(service, p)| format!("{service} {:.0}%", p * 100.0))
            .collect();
        println!(
            "{:<40} {:>4} {:>7.0}% {:>8}  {}",
            if run.root_cause.is_empty() {
                run.name.clone()
            } else {
                format!("{} ({} {})", run.name, run.fault_class, run.root_cause)
            },
            if run.root_cause.is_empty() {
                "-".to_owned()
            } else {
                run.position.to_string()
            },
            run.p_outage * 100.0,
            run.detection_offset_secs
                .map_or_else(|| "-".to_owned(), |s| format!("{s:+.0}s")),
            top.join(", ")
        );
    }
    for (label, s) in [("scenarios", report.scenarios), ("random", report.random)] {
        println!(
            "{label:<9} runs {} top-1 {:.2} top-3 {:.2} incident found in {}",
            s.runs, s.top1, s.top3, s.detected
        );
    }
    println!(
        "fault-free runs with a service above 15 %: {}/{}",
        report.quiet_false_alarms, report.quiet_runs
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// Number of random faults (seeds 1000, 1001, …).
    #[arg(long, default_value_t = 50)]
    random: u64,
    /// Only scenarios whose name contains this.
    #[arg(long, default_value = "")]
    scenario: String,
    /// Leave the log family out of the combination (an ablation; its own P/R still print).
    #[arg(long)]
    no_logs_in_combined: bool,
    /// Also run the log family's sequence embeddings (needs the all-MiniLM-L6-v2 model; slow).
    #[arg(long)]
    log_embeddings: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    let args = match command {
        EvalCommand::Detectors(args) => args,
        EvalCommand::Rca(args) => return run_rca(args),
        EvalCommand::Retrieval(args) => return run_retrieval(&args),
    };
    let config = EvalConfig {
        random_seeds: (1000..1000 + args.random).collect(),
        scenario_filter: args.scenario,
        logs_in_combined: !args.no_logs_in_combined,
        ..EvalConfig::default()
    };
    let mut embedder = if args.log_embeddings {
        Some(baynet::embed::Embedder::discover()?)
    } else {
        eprintln!(
            "log family: model-free detectors (templates, keywords, sequences, volume); pass --log-embeddings for MAIA embeddings"
        );
        None
    };
    let report = evaluate_with(
        &config,
        embedder
            .as_mut()
            .map(|e| e as &mut dyn baynet::detect::logs::Embed),
    )
    .map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{:<36} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}  ranking",
        "run", "P(lo)", "R(lo)", "P(tr)", "R(tr)", "P(me)", "R(me)", "P", "R", "TTD"
    );
    for run in &report.runs {
        let f = |family: &str| run.families.get(family).copied().unwrap_or_default();
        let (l, t, m, c) = (f("logs"), f("traces"), f("metrics"), f("combined"));
        println!(
            "{:<36} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6}  {}",
            format!("{} ({} {})", run.name, run.fault_class, run.root_cause),
            l.precision,
            l.recall,
            t.precision,
            t.recall,
            m.precision,
            m.recall,
            c.precision,
            c.recall,
            run.time_to_detect_secs
                .get("combined")
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s")),
            run.ranking
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    for (label, totals) in [
        ("scenarios", &report.scenarios_total),
        ("random", &report.random_total),
    ] {
        for (family, m) in totals {
            println!(
                "{label:<9} {family:<8} P {:.3} (strict {:.3}; after-effect windows flagged {}/{}) R {:.3} F1 {:.3} MTTD {} detected {}/{}",
                m.precision,
                m.precision_strict,
                m.after_effect_flagged,
                m.after_effect_windows,
                m.recall,
                m.f1,
                m.mean_time_to_detect_secs
                    .map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s")),
                m.runs_detected,
                m.runs
            );
        }
    }
    println!(
        "localisation hit@1 {:.2} hit@3 {:.2}; scenarios meeting P,R ≥ 0.95: {}/{} (strict precision: {})",
        report.localisation_hit1,
        report.localisation_hit3,
        report.scenarios_meeting_target.len(),
        report.scenarios_total.get("combined").map_or(0, |m| m.runs),
        report.scenarios_meeting_target_strict.len()
    );
    Ok(())
}
