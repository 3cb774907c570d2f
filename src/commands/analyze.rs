//! `baynet analyze`: detectors and the root-cause network on an offline input directory.

use anyhow::Context;
use baynet::analysis::{
    Analysis, AnalysisConfig, AnalysisInput, RecordLogs, analyze_with_focus, data_range_with_logs,
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
    /// A trace model directory (`baynet traces train`): its per-trace scores join the
    /// detectors' evidence. Off by default.
    #[arg(long)]
    trace_model: Option<PathBuf>,
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
    analyze_dir_with_model(input, baseline, window, config, None)
}

/// [`analyze_dir`], adding the evidence of a learned trace model when a model directory is given.
pub fn analyze_dir_with_model(
    input: &Path,
    baseline: Option<&str>,
    window: Option<&str>,
    config: &AnalysisConfig,
    trace_model: Option<&Path>,
) -> anyhow::Result<Analysis> {
    let dataset = baynet::input_dir::read_dir(input)
        .with_context(|| format!("reading {}", input.display()))?;
    analyze_dataset(
        &dataset,
        &input.display().to_string(),
        baseline,
        window,
        config,
        trace_model,
    )
}

/// Analyses a dataset read from `what` (a directory, a live cluster): explicit `--baseline` and
/// `--window` ranges, or found in the data.
pub fn analyze_dataset(
    dataset: &baynet::model::Dataset,
    what: &str,
    baseline: Option<&str>,
    window: Option<&str>,
    config: &AnalysisConfig,
    trace_model: Option<&Path>,
) -> anyhow::Result<Analysis> {
    let data = data_range_with_logs(&dataset.spans, &dataset.series, &dataset.logs)
        .with_context(|| format!("{what} holds no traces, metrics or logs to analyse"))?;
    let baseline = baseline
        .map(|text| parse_range(text, data))
        .transpose()
        .context("--baseline")?;
    let window = window
        .map(|text| parse_range(text, data))
        .transpose()
        .context("--window")?;
    let log_family = RecordLogs::new(&dataset.logs);
    let scored = match trace_model {
        Some(dir) => Some(score_with_model(dir, dataset)?),
        None => None,
    };
    Ok(analyze_with_focus(
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
        |evidence, focus| {
            if let Some((traces, threshold)) = &scored {
                baynet::traces_gnn::evidence::add_evidence(evidence, traces, focus, *threshold);
            }
        },
    )?)
}

/// Every trace of the dataset scored by the model, with the model's max-aggregation threshold.
fn score_with_model(
    dir: &Path,
    dataset: &baynet::model::Dataset,
) -> anyhow::Result<(Vec<baynet::traces_gnn::evidence::ScoredTrace>, f64)> {
    use baynet::traces_gnn::train::Aggregation;
    let (meta, params) = baynet::traces_gnn::store::load_model(dir)?;
    let threshold = *meta
        .thresholds
        .get(&Aggregation::Max)
        .with_context(|| format!("{} has no threshold; retrain it", dir.display()))?;
    let (graphs, scores) =
        baynet::traces_gnn::score_traces(&meta, &params, &dataset.spans, &dataset.logs, 256)
            .map_err(anyhow::Error::msg)?;
    let traces = graphs
        .iter()
        .zip(&scores)
        .map(|(graph, score)| {
            let value = score.score(Aggregation::Max, meta.model.svdd_weight);
            baynet::traces_gnn::evidence::ScoredTrace::new(graph, score, value)
        })
        .collect();
    Ok((traces, threshold))
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<()> {
    let mut config = AnalysisConfig::default();
    config.detect.window =
        baynet::model::time::parse_duration(&args.step).map_err(anyhow::Error::msg)?;
    let analysis = analyze_dir_with_model(
        &args.input,
        args.baseline.as_deref(),
        args.window.as_deref(),
        &config,
        args.trace_model.as_deref(),
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
