//! `baynet detect`: runs the log, trace and metric detectors over an offline input directory.

use anyhow::{Context, bail};
use baynet::detect::logs::{Embed, LogConfig, detect_logs};
use baynet::detect::window::parse_range;
use baynet::detect::{DetectInput, Detectors, changes_from_series};
use baynet::embed::{EmbedError, Embedder};
use baynet::model::{Dataset, TimeRange, Timestamp};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Offline input directory (traces.json, metrics.json, …).
    #[arg(long)]
    input: PathBuf,
    /// Baseline range START..END: RFC 3339 times or offsets from the data start (`0m..8m`);
    /// an empty end means the data end. Default: the first 40 % of the data.
    #[arg(long)]
    baseline: Option<String>,
    /// Range to score, same syntax. Default: from the baseline end to the data end.
    #[arg(long)]
    window: Option<String>,
    /// Window length (default 60s).
    #[arg(long, default_value = "60s")]
    step: String,
    /// Sequence embeddings of the log family: `auto` uses the model when one is installed.
    #[arg(long, value_enum, default_value = "auto")]
    log_embeddings: Embeddings,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
}

fn data_range(dataset: &Dataset) -> Option<TimeRange> {
    let times = dataset
        .spans
        .iter()
        .map(|s| s.start)
        .chain(
            dataset
                .series
                .iter()
                .flat_map(|s| s.samples.iter().map(|p| p.timestamp)),
        )
        .chain(dataset.logs.iter().map(|l| l.timestamp));
    let (mut first, mut last) = (Timestamp(i64::MAX), Timestamp(i64::MIN));
    for t in times {
        first = first.min(t);
        last = last.max(t);
    }
    TimeRange::new(first, last)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Embeddings {
    /// Use the model when found, else the model-free log detectors.
    Auto,
    /// Require the model.
    On,
    /// Model-free log detectors only.
    Off,
}

fn embedder(choice: Embeddings) -> anyhow::Result<Option<Embedder>> {
    match choice {
        Embeddings::Off => Ok(None),
        Embeddings::On => Ok(Some(Embedder::discover()?)),
        Embeddings::Auto => match Embedder::discover() {
            Ok(embedder) => Ok(Some(embedder)),
            Err(error @ EmbedError::ModelNotFound { .. }) => {
                eprintln!(
                    "log family: model-free detectors only (no sequence embeddings): {error}"
                );
                Ok(None)
            }
            Err(error) => Err(error.into()),
        },
    }
}

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let dataset = baynet::input_dir::read_dir(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let Some(data) = data_range(&dataset) else {
        bail!("{} holds no spans, series or logs", args.input.display());
    };
    let baseline = match &args.baseline {
        Some(text) => parse_range(text, data)?,
        None => TimeRange {
            start: data.start,
            end: data.start.plus(data.duration().mul_f64(0.4)),
        },
    };
    let window = match &args.window {
        Some(text) => parse_range(text, data)?,
        None => TimeRange::new(baseline.end, data.end).context("baseline ends after the data")?,
    };
    let step = baynet::model::time::parse_duration(&args.step).map_err(anyhow::Error::msg)?;
    let changes = changes_from_series(&dataset.series);
    let mut detectors = Detectors::default();
    detectors.config.window = step;
    let mut embedder = if dataset.logs.is_empty() {
        None
    } else {
        embedder(args.log_embeddings)?
    };
    let logs = detect_logs(
        &dataset.logs,
        baseline,
        &detectors.grid(window),
        &LogConfig::default(),
        embedder.as_mut().map(|e| e as &mut dyn Embed),
    )?;
    let report = detectors.run(&DetectInput {
        spans: &dataset.spans,
        series: &dataset.series,
        golden: None,
        changes: &changes,
        log_scores: Some(&logs.family),
        baseline,
        window,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "baseline {} .. {}; scored {} .. {} in {} windows",
        report.baseline.start,
        report.baseline.end,
        report.window.start,
        report.window.end,
        report.system_scores.len()
    );
    for (index, services) in report.anomalous_services.iter().enumerate() {
        if services.is_empty() {
            continue;
        }
        let start = report.timeline.window_starts[index];
        println!(
            "{start}  score {:.2}  {}",
            report.system_scores[index],
            services.join(", ")
        );
    }
    println!("{} events", report.events.len());
    Ok(())
}
