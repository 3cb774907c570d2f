//! `baynet kb …`: the incident knowledge base — add, reindex, search, similar, show, list,
//! rm, export, import.

use anyhow::Context;
use baynet::analysis::{AnalysisConfig, AnalysisInput, analyze, data_range};
use baynet::knowledge::record::{self, Postmortem};
use baynet::knowledge::store::{Hit, SearchQuery};
use baynet::knowledge::vectors::{HashedBagOfWords, TextEmbedder};
use baynet::knowledge::{KbPaths, KnowledgeBase, query_for_analysis};
use baynet::rca::LinkStrengths;
use clap::{Args, Subcommand};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct KbArgs {
    /// The user knowledge directory (default `$XDG_DATA_HOME/baynet/knowledge`).
    #[arg(long, env = "BAYNET_KB_DIR", global = true)]
    kb_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: KbCommand,
}

#[derive(Debug, Subcommand)]
enum KbCommand {
    /// Validate Markdown postmortems, copy them into the user directory and index them.
    Add {
        /// Files to add.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Rebuild the store from the Markdown files (curated and user directories).
    Reindex {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hybrid search (BM25 + vectors) with filters.
    Search {
        /// Free text.
        text: String,
        /// Only records about this service.
        #[arg(long)]
        service: Option<String>,
        /// Only records of this fault class.
        #[arg(long)]
        fault: Option<String>,
        /// Only records with this tag (repeatable).
        #[arg(long)]
        tag: Vec<String>,
        /// Results.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Records similar to an incident: an offline input directory (analysed) or a record id.
    Similar {
        /// Input directory or record id.
        #[arg(long)]
        to: String,
        /// Results.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one record as Markdown.
    Show {
        /// Record id.
        id: String,
    },
    /// List the records.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a record and its file from the user directory.
    Rm {
        /// Record id.
        id: String,
    },
    /// Write every record as JSON lines (`{"path", "markdown"}`) to stdout.
    Export,
    /// Read JSON lines written by `kb export` from FILE (or `-` for stdin) and add them.
    Import {
        /// The file.
        file: PathBuf,
    },
}

/// The embedder of the knowledge base's vectors: `BAYNET_KB_EMBEDDER` = `minilm` (required),
/// `hashed` (the model-free hashed bag of words) or `auto` (the default: MiniLM when the model
/// is installed, else hashed). Changing it re-embeds the stored records at the next open.
pub(super) fn embedder() -> anyhow::Result<Box<dyn TextEmbedder>> {
    let choice = std::env::var("BAYNET_KB_EMBEDDER").unwrap_or_else(|_| "auto".to_owned());
    match choice.as_str() {
        "hashed" => Ok(Box::new(HashedBagOfWords::default())),
        "minilm" => Ok(Box::new(
            baynet::embed::Embedder::discover().context("BAYNET_KB_EMBEDDER=minilm")?,
        )),
        "auto" | "" => Ok(match baynet::embed::Embedder::discover() {
            Ok(model) => Box::new(model),
            Err(baynet::embed::EmbedError::ModelNotFound { .. }) => {
                Box::new(HashedBagOfWords::default())
            }
            Err(error) => {
                return Err(error).context(
                    "loading the embedding model for the knowledge base (BAYNET_KB_EMBEDDER=hashed skips it)",
                );
            }
        }),
        other => {
            anyhow::bail!("BAYNET_KB_EMBEDDER must be `auto`, `minilm` or `hashed`, not `{other}`")
        }
    }
}

pub(super) fn open(kb_dir: Option<PathBuf>) -> anyhow::Result<KnowledgeBase> {
    let paths = KbPaths::resolve(kb_dir).map_err(anyhow::Error::msg)?;
    KnowledgeBase::open(paths, embedder()?).context("opening the knowledge base")
}

fn print_hits(hits: &[Hit], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no matching records");
    }
    for hit in hits {
        println!(
            "{:>5.2}  {:<36} {:<24} {:<12} {}",
            hit.similarity, hit.id, hit.fault_class, hit.root_cause_service, hit.title
        );
    }
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ExportLine {
    id: String,
    path: String,
    markdown: String,
}

pub fn run(args: KbArgs) -> anyhow::Result<()> {
    let mut kb = open(args.kb_dir)?;
    match args.command {
        KbCommand::Add { files } => {
            let mut stdout = std::io::stdout();
            kb.add_files(&files, |id| {
                // Printed only after the record's durable commit (the crash test relies on it).
                let _ = writeln!(stdout, "added {id}");
                let _ = stdout.flush();
            })?;
        }
        KbCommand::Reindex { json } => {
            let report = kb.reindex()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("indexed {} records", report.indexed);
                for skipped in &report.skipped {
                    eprintln!("skipped: {skipped}");
                }
            }
        }
        KbCommand::Search {
            text,
            service,
            fault,
            tag,
            limit,
            json,
        } => {
            if let Some(fault) = &fault {
                fault
                    .parse::<baynet::model::FaultClass>()
                    .map_err(anyhow::Error::msg)?;
            }
            let hits = kb.store.search(&SearchQuery {
                text,
                service,
                fault_class: fault,
                tags: tag,
                limit,
                ..SearchQuery::default()
            })?;
            print_hits(&hits, json)?;
        }
        KbCommand::Similar { to, limit, json } => {
            let query = if Path::new(&to).is_dir() {
                let dir = PathBuf::from(&to);
                let dataset = baynet::input_dir::read_dir(&dir)
                    .with_context(|| format!("reading {}", dir.display()))?;
                let data = data_range(&dataset.spans, &dataset.series).with_context(|| {
                    format!(
                        "{} holds no traces and no metrics to analyse",
                        dir.display()
                    )
                })?;
                let analysis = analyze(
                    &AnalysisInput {
                        spans: &dataset.spans,
                        series: &dataset.series,
                        graph: dataset.graph.as_ref(),
                        logs: None,
                        baseline: None,
                        window: None,
                        data: Some(data),
                    },
                    &AnalysisConfig::default(),
                    LinkStrengths::new(),
                )?;
                query_for_analysis(&analysis, limit)
            } else {
                let stored = kb.store.get(&to).with_context(|| {
                    format!("`{to}` is neither an input directory nor a record id")
                })?;
                baynet::knowledge::recall::query_for_record(&stored.postmortem(), limit)
            };
            let hits = kb.store.search(&query)?;
            print_hits(&hits, json)?;
        }
        KbCommand::Show { id } => {
            let stored = kb
                .store
                .get(&id)
                .with_context(|| format!("no knowledge record with id `{id}`"))?;
            println!("# {}\n", stored.path.display());
            print!(
                "{}",
                record::render(&stored.postmortem()).map_err(anyhow::Error::msg)?
            );
        }
        KbCommand::List { json } => {
            let records: Vec<&Postmortem> = kb.store.records().map(|s| &s.record).collect();
            if json {
                let rows: Vec<serde_json::Value> = kb
                    .store
                    .records()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.record.id,
                            "title": s.record.title,
                            "source": s.record.source.as_str(),
                            "fault_class": s.record.fault_class,
                            "root_cause_service": s.record.root_cause_service,
                            "path": s.path,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for record in records {
                    println!(
                        "{:<36} {:<16} {:<24} {}",
                        record.id,
                        record.source.as_str(),
                        record.fault_class,
                        record.title
                    );
                }
            }
        }
        KbCommand::Rm { id } => {
            let removed = kb.remove(&id)?;
            println!("removed {id} ({})", removed.path.display());
        }
        KbCommand::Export => {
            let mut stdout = std::io::stdout().lock();
            for stored in kb.store.records() {
                let line = ExportLine {
                    id: stored.record.id.clone(),
                    path: stored.path.to_string_lossy().into_owned(),
                    markdown: record::render(&stored.postmortem()).map_err(anyhow::Error::msg)?,
                };
                writeln!(stdout, "{}", serde_json::to_string(&line)?)?;
            }
        }
        KbCommand::Import { file } => {
            let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file)
                        .with_context(|| format!("opening {}", file.display()))?,
                ))
            };
            let staging = tempdir_in(&kb.paths.store_dir)?;
            let mut files = Vec::new();
            for (number, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("reading {}", file.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let parsed: ExportLine = serde_json::from_str(&line)
                    .with_context(|| format!("{} line {}", file.display(), number + 1))?;
                let name = format!("line-{}.md", number + 1);
                let path = staging.join(name);
                std::fs::write(&path, parsed.markdown.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                files.push(path);
            }
            // Curated records already present with the same content are skipped by add.
            let result = kb.add_files(&files, |id| println!("imported {id}"));
            let _ = std::fs::remove_dir_all(&staging);
            result?;
        }
    }
    Ok(())
}

fn tempdir_in(base: &Path) -> anyhow::Result<PathBuf> {
    let dir = base.join(format!("import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
