//! `baynet analyze`: detectors and the root-cause network on an offline input directory.

use anyhow::Context;
use baynet::analysis::{
    Analysis, AnalysisConfig, AnalysisInput, RecordLogs, analyze, data_range_with_logs,
};
use baynet::detect::window::parse_range;
use baynet::rca::LinkStrengths;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Offline input directory (traces.json, metrics.json, logs.json, graph.json; any mix).
    #[arg(long)]
    input: PathBuf,
    /// Baseline range START..END (RFC 3339 times or offsets from the data start such as
    /// `0m..8m`). Default: before the incident, which is found automatically.
    #[arg(long)]
    baseline: Option<String>,
    /// Range to analyse, same syntax. Default: from the baseline end to the data end.
    #[arg(long)]
    window: Option<String>,
    /// Detector window length.
    #[arg(long, default_value = "60s")]
    step: String,
    /// Print the full result as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads an offline input directory and runs the whole pipeline on it. `baseline` and
/// `window` are range texts (`0m..8m`, RFC 3339 times); `None` lets the pipeline find them.
pub fn analyze_dir(
    input: &Path,
    baseline: Option<&str>,
    window: Option<&str>,
    config: &AnalysisConfig,
) -> anyhow::Result<Analysis> {
    let dataset = baynet::input_dir::read_dir(input)
        .with_context(|| format!("reading {}", input.display()))?;
    let data = data_range_with_logs(&dataset.spans, &dataset.series, &dataset.logs).with_context(
        || {
            format!(
                "{} holds no traces, metrics or logs to analyse",
                input.display()
            )
        },
    )?;
    let baseline = baseline
        .map(|text| parse_range(text, data))
        .transpose()
        .context("--baseline")?;
    let window = window
        .map(|text| parse_range(text, data))
        .transpose()
        .context("--window")?;
    let log_family = RecordLogs::new(&dataset.logs);
    Ok(analyze(
        &AnalysisInput {
            spans: &dataset.spans,
            series: &dataset.series,
            graph: dataset.graph.as_ref(),
            logs: Some(&log_family),
            baseline,
            window,
            data: Some(data),
        },
        config,
        LinkStrengths::new(),
    )?)
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<()> {
    let mut config = AnalysisConfig::default();
    config.detect.window =
        baynet::model::time::parse_duration(&args.step).map_err(anyhow::Error::msg)?;
    let analysis = analyze_dir(
        &args.input,
        args.baseline.as_deref(),
        args.window.as_deref(),
        &config,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&analysis)?);
        return Ok(());
    }
    println!("{}", analysis.ranking.verdict);
    match analysis.incident_start {
        Some(start) => println!(
            "incident from {}; ranked on {} .. {}",
            start, analysis.focus.start, analysis.focus.end
        ),
        None => println!(
            "no sustained anomaly; ranked on the latest windows {} .. {}",
            analysis.focus.start, analysis.focus.end
        ),
    }
    println!(
        "{:<16} {:>8} {:>8} {:>7}  evidence",
        "service", "P(root)", "P(out)", "band"
    );
    for service in &analysis.ranking.ranking {
        let evidence: Vec<String> = service
            .evidence
            .iter()
            .take(2)
            .map(|e| e.description.chars().filter(|c| !c.is_control()).collect())
            .collect();
        println!(
            "{:<16} {:>7.1}% {:>7.1}% {:>7}  {}",
            service.service,
            service.p_root_cause * 100.0,
            service.p_outage * 100.0,
            format!("{:?}", service.band).to_lowercase(),
            evidence.join("; ")
        );
    }
    Ok(())
}
