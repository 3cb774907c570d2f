//! `baynet detect`: runs the trace and metric detectors over an offline input directory.

use anyhow::{Context, bail};
use baynet::detect::window::parse_range;
use baynet::detect::{DetectInput, Detectors, changes_from_series};
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
    let report = detectors.run(&DetectInput {
        spans: &dataset.spans,
        series: &dataset.series,
        golden: None,
        changes: &changes,
        log_scores: None,
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
