//! `baynet fetch`: saves a window of live telemetry as an offline input directory that
//! `baynet analyze --input DIR` reads.

use super::doctor::{SourceArgs, now, runtime};
use anyhow::{Context, bail};
use baynet::model::time::parse_duration;
use baynet::model::{TimeRange, Timestamp};
use baynet::source::fetch::{FetchOptions, fetch};
use baynet::source::{LiveSource, LogSelection, TraceSelection};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    sources: SourceArgs,
    /// Window ending now, e.g. 30m or 2h.
    #[arg(long, conflicts_with_all = ["start", "end"])]
    since: Option<String>,
    /// Window start (RFC 3339), with --end.
    #[arg(long, requires = "end")]
    start: Option<String>,
    /// Window end (RFC 3339), with --start.
    #[arg(long, requires = "start")]
    end: Option<String>,
    /// Output directory (created; existing files are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Only these services' logs and traces (comma-separated; default: the whole namespace).
    #[arg(long, value_delimiter = ',')]
    services: Vec<String>,
    /// At most this many traces.
    #[arg(long, default_value_t = 500)]
    max_traces: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn time(text: &str, flag: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse_rfc3339(text).with_context(|| {
        format!("{flag}: `{text}` is not an RFC 3339 time such as 2025-01-01T00:00:00Z")
    })
}

fn range(args: &FetchArgs) -> anyhow::Result<TimeRange> {
    let (start, end) = match (&args.since, &args.start, &args.end) {
        (Some(since), None, None) => {
            let length = parse_duration(since)
                .map_err(anyhow::Error::msg)
                .context("--since")?;
            let end = now();
            (end.minus(length), end)
        }
        (None, Some(start), Some(end)) => (time(start, "--start")?, time(end, "--end")?),
        (None, None, None) => bail!("give --since DURATION or --start and --end"),
        _ => bail!("give either --since or --start and --end"),
    };
    let range = TimeRange::new(start, end).context("--end is before --start")?;
    if range.duration().is_zero() {
        bail!("the window is empty");
    }
    Ok(range)
}

pub fn run(args: &FetchArgs) -> anyhow::Result<()> {
    let config = args.sources.load()?;
    let range = range(args)?;
    let source = LiveSource::new(&config)?;
    let options = FetchOptions {
        range,
        logs: LogSelection {
            services: args.services.clone(),
            ..LogSelection::default()
        },
        traces: TraceSelection {
            services: args.services.clone(),
            limit: args.max_traces,
            ..TraceSelection::default()
        },
    };
    let (dataset, report) = runtime()?.block_on(fetch(&source, &options));
    if !report.has_telemetry() {
        let reasons: Vec<String> = report
            .parts
            .iter()
            .filter_map(|p| p.error.as_ref().map(|e| format!("{}: {e}", p.part)))
            .collect();
        bail!(
            "nothing fetched from {} to {}{}",
            report.start,
            report.end,
            if reasons.is_empty() {
                " (the sources hold no data for this window)".to_owned()
            } else {
                format!(":\n  {}", reasons.join("\n  "))
            }
        );
    }
    baynet::input_dir::write_dir(&args.out, &dataset)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let manifest = args.out.join("fetch.json");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", manifest.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "fetched {} .. {} from {}",
            report.start, report.end, report.source
        );
        for part in &report.parts {
            match &part.error {
                None => println!("  {:<8} {}", part.part, part.count),
                Some(error) => println!("  {:<8} FAILED: {error}", part.part),
            }
        }
        if let Some(method) = report.graph_method {
            println!(
                "  graph from {}",
                serde_json::to_value(method)?.as_str().unwrap_or("?")
            );
        }
        for change in &report.changes {
            println!(
                "  change {} {:?} {} {}",
                change.at, change.kind, change.service, change.detail
            );
        }
        println!(
            "wrote {} (analyse with: baynet analyze --input {})",
            args.out.display(),
            args.out.display()
        );
    }
    Ok(())
}
