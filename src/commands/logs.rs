//! `baynet logs templates`: mines Drain templates from a file and prints, for every line, its
//! template id and template.

use anyhow::{Context, bail};
use baynet::detect::logs::drain::{Drain, DrainConfig};
use baynet::model::LogRecord;
use baynet::wire::loki::{LokiData, decode_query_range};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Print the template id and template of every input line (Drain, masked variables).
    Templates(TemplateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One log line per line.
    Raw,
    /// A Loki `query_range` JSON response (streams).
    Loki,
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// Input file.
    #[arg(long)]
    input: PathBuf,
    /// Input format.
    #[arg(long, value_enum, default_value = "raw")]
    format: Format,
    /// Service of raw lines.
    #[arg(long, default_value = "unknown")]
    service: String,
    /// Similarity threshold of the miner.
    #[arg(long, default_value_t = 0.4)]
    similarity: f64,
    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
}

pub fn run(command: LogsCommand) -> anyhow::Result<()> {
    let LogsCommand::Templates(args) = command;
    if !(0.0..=1.0).contains(&args.similarity) {
        bail!("--similarity must be within 0..=1");
    }
    let bytes =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let records: Vec<(String, String)> = match args.format {
        Format::Raw => String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| (args.service.clone(), line.to_owned()))
            .collect(),
        Format::Loki => {
            let data = decode_query_range(&bytes)
                .with_context(|| format!("decoding {}", args.input.display()))?;
            let LokiData::Streams(mut streams) = data else {
                bail!(
                    "{} is a metric response, not log streams",
                    args.input.display()
                );
            };
            streams.sort_by_key(|r: &LogRecord| r.timestamp);
            streams.into_iter().map(|r| (r.service, r.line)).collect()
        }
    };
    let mut miner = Drain::new(DrainConfig {
        similarity: args.similarity,
        ..DrainConfig::default()
    });
    let clusters: Vec<usize> = records
        .iter()
        .map(|(service, line)| miner.add(service, line))
        .collect();
    let templates: Vec<String> = (0..miner.clusters().len())
        .map(|i| miner.template_text(i))
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for ((service, line), cluster) in records.iter().zip(clusters) {
        let id = miner
            .cluster(cluster)
            .map(|c| c.id.to_string())
            .unwrap_or_default();
        let template = templates.get(cluster).map_or("", String::as_str);
        if args.json {
            let object = serde_json::json!({
                "service": service,
                "template_id": id,
                "template": template,
                "line": line,
            });
            writeln!(out, "{object}")?;
        } else {
            writeln!(out, "{id}\t{service}\t{template}")?;
        }
    }
    out.flush()?;
    if !args.json {
        eprintln!("{} lines, {} templates", records.len(), templates.len());
    }
    Ok(())
}
