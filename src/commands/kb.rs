//! `baynet kb …`: the incident knowledge base — add, reindex, search, similar, show, list,
//! rm, export, import.

use anyhow::Context;
use baynet::analysis::AnalysisConfig;
use baynet::config::{DEFAULT_QDRANT_URL, KbBackend};
use baynet::knowledge::qdrant::{QdrantSettings, QdrantStore};
use baynet::knowledge::record::{self, Postmortem};
use baynet::knowledge::store::{Hit, SearchQuery, content_hash};
use baynet::knowledge::vectors::{HashedBagOfWords, TextEmbedder};
use baynet::knowledge::{KbPaths, KnowledgeBase, query_for_analysis};
use clap::{Args, Subcommand};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct KbArgs {
    /// The user knowledge directory (default `$XDG_DATA_HOME/baynet/knowledge`).
    #[arg(long, env = "BAYNET_KB_DIR", global = true)]
    kb_dir: Option<PathBuf>,
    /// The index: `embedded` (redb + tantivy, the default) or `qdrant`; overrides
    /// `[knowledge] backend` and `BAYNET_KB_BACKEND`.
    #[arg(long, global = true)]
    backend: Option<KbBackend>,
    /// The configuration file (default `$BAYNET_CONFIG`, else `~/.config/baynet/config.toml`);
    /// only its `[knowledge]` table is read here.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
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
        /// Only records that started at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only records that started before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
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
    /// Write every record as JSON lines (`{"id", "path", "hash", "markdown", "curated"}`, one
    /// record a line) to FILE or stdout; moves a knowledge base between backends with `import`.
    Export {
        /// Write here (atomically) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Add each record's stored vectors and the embedder's name (embedded backend only;
        /// `import` re-embeds with its own embedder either way).
        #[arg(long)]
        with_vectors: bool,
    },
    /// Read JSON lines written by `kb export` from FILE (or `-` for stdin), validate every
    /// line, and add the records. Any invalid line (named by number) stops the import before
    /// anything is stored, unless `--skip-invalid`.
    Import {
        /// The file.
        file: PathBuf,
        /// Import the valid lines and report the invalid ones.
        #[arg(long)]
        skip_invalid: bool,
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

/// Opens the knowledge base with the backend of the configuration (`[knowledge]`,
/// `BAYNET_KB_BACKEND`, `QDRANT_URL`, …) and the embedder of [`embedder`].
pub(super) fn open(kb_dir: Option<PathBuf>) -> anyhow::Result<KnowledgeBase> {
    open_with(kb_dir, None, None, embedder()?)
}

/// Opens the knowledge base: `backend` (else the configuration's) over the directories of
/// `kb_dir`, with `embedder`.
pub(super) fn open_with(
    kb_dir: Option<PathBuf>,
    backend: Option<KbBackend>,
    config: Option<&Path>,
    embedder: Box<dyn TextEmbedder>,
) -> anyhow::Result<KnowledgeBase> {
    let settings = baynet::config::load_knowledge(config, &baynet::config::process_env)
        .context("reading the [knowledge] configuration")?;
    let paths = KbPaths::resolve(kb_dir).map_err(anyhow::Error::msg)?;
    match backend.unwrap_or(settings.backend) {
        KbBackend::Embedded => {
            KnowledgeBase::open(paths, embedder).context("opening the knowledge base")
        }
        KbBackend::Qdrant => {
            let qdrant = QdrantSettings {
                url: settings
                    .qdrant_url
                    .unwrap_or_else(|| DEFAULT_QDRANT_URL.to_owned()),
                collection: settings
                    .collection
                    .unwrap_or_else(|| paths.default_collection()),
                api_key: settings.qdrant_api_key,
                timeout: settings.qdrant_timeout,
            };
            let store = QdrantStore::open(qdrant, embedder)
                .context("opening the knowledge base in Qdrant")?;
            KnowledgeBase::with_index(paths, Box::new(store))
                .context("opening the knowledge base in Qdrant")
        }
    }
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

/// One line of `kb export`.
#[derive(serde::Serialize, serde::Deserialize)]
struct ExportLine {
    id: String,
    #[serde(default)]
    path: String,
    /// SHA-256 of `markdown`; checked on import when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    markdown: String,
    #[serde(default)]
    curated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    embedder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vectors: Option<Vec<Vec<f32>>>,
}

/// The Markdown of a stored record: its file when it still holds what was indexed, else the
/// record rendered again.
fn markdown_of(stored: &baynet::knowledge::store::StoredRecord) -> anyhow::Result<String> {
    if let Ok(bytes) = std::fs::read(&stored.path)
        && content_hash(&bytes) == stored.hash
        && let Ok(text) = String::from_utf8(bytes)
    {
        return Ok(text);
    }
    record::render(&stored.postmortem()).map_err(anyhow::Error::msg)
}

/// Checks one line of an export; the record's Markdown on success, else what is wrong.
fn check_line(line: &[u8]) -> Result<(String, Vec<u8>), String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
    let parsed: ExportLine =
        serde_json::from_str(text).map_err(|e| format!("not an export line ({e})"))?;
    let bytes = parsed.markdown.into_bytes();
    if let Some(hash) = &parsed.hash
        && *hash != content_hash(&bytes)
    {
        return Err(format!(
            "`hash` does not match the Markdown of `{}` (altered or truncated)",
            parsed.id
        ));
    }
    let record = record::parse_bytes(Path::new(&format!("record `{}`", parsed.id)), &bytes)
        .map_err(|e| e.to_string())?;
    if record.id != parsed.id {
        return Err(format!(
            "`id` is {} but the Markdown's front matter says {}",
            parsed.id, record.id
        ));
    }
    Ok((record.id, bytes))
}

/// A staging folder removed when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: KbArgs) -> anyhow::Result<()> {
    let mut kb = open_with(
        args.kb_dir,
        args.backend,
        args.config.as_deref(),
        embedder()?,
    )?;
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
            since,
            until,
            limit,
            json,
        } => {
            for (flag, value) in [("--since", &since), ("--until", &until)] {
                if let Some(value) = value
                    && baynet::knowledge::retrieval::epoch_secs(value).is_none()
                {
                    anyhow::bail!(
                        "{flag} `{value}` is not an RFC 3339 time; write e.g. 2026-03-01T00:00:00Z"
                    );
                }
            }
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
                started_after: since,
                started_before: until,
                limit,
                ..SearchQuery::default()
            })?;
            print_hits(&hits, json)?;
        }
        KbCommand::Similar { to, limit, json } => {
            let query = if Path::new(&to).is_dir() {
                let dir = PathBuf::from(&to);
                // The same analysis as `baynet analyze DIR` (logs included).
                let analysis =
                    super::analyze::analyze_dir(&dir, None, None, &AnalysisConfig::default())?;
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
        KbCommand::Export { out, with_vectors } => {
            let mut text = String::new();
            let mut count = 0;
            for stored in kb.store.records() {
                let markdown = markdown_of(stored)?;
                let (embedder, vectors) = if with_vectors {
                    match kb.store.vectors_of(&stored.record.id) {
                        Some((name, vectors)) => (Some(name), Some(vectors)),
                        None => (None, None),
                    }
                } else {
                    (None, None)
                };
                let line = ExportLine {
                    id: stored.record.id.clone(),
                    path: stored.path.to_string_lossy().into_owned(),
                    hash: Some(content_hash(markdown.as_bytes())),
                    curated: kb.paths.is_curated(&stored.path),
                    markdown,
                    embedder,
                    vectors,
                };
                text.push_str(&serde_json::to_string(&line)?);
                text.push('\n');
                count += 1;
            }
            match out {
                Some(path) => {
                    baynet::knowledge::write_atomic(&path, text.as_bytes())?;
                    eprintln!("exported {count} records to {}", path.display());
                }
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
        }
        KbCommand::Import { file, skip_invalid } => {
            let mut reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file)
                        .with_context(|| format!("opening {}", file.display()))?,
                ))
            };
            // Validate every line first; nothing is stored while any is bad (unless asked).
            let mut good: Vec<(usize, String, Vec<u8>)> = Vec::new();
            let mut bad: Vec<String> = Vec::new();
            let mut first_line_of: std::collections::BTreeMap<String, usize> =
                std::collections::BTreeMap::new();
            let mut buffer = Vec::new();
            let mut number = 0;
            // A line may hold a record of up to 1 MiB, escaped: read at most 8 MiB of one.
            let limit = 8 * record::MAX_FILE_BYTES as u64;
            loop {
                buffer.clear();
                let read = (&mut reader)
                    .take(limit + 1)
                    .read_until(b'\n', &mut buffer)
                    .with_context(|| format!("reading {}", file.display()))?;
                if read == 0 {
                    break;
                }
                number += 1;
                if buffer.len() as u64 > limit && !buffer.ends_with(b"\n") {
                    bad.push(format!("line {number}: longer than {limit} bytes"));
                    // Skip the rest of that line.
                    let mut rest = Vec::new();
                    reader.read_until(b'\n', &mut rest)?;
                    continue;
                }
                let line = buffer.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                match check_line(line) {
                    Ok((id, bytes)) => {
                        if let Some(first) = first_line_of.get(&id) {
                            bad.push(format!(
                                "line {number}: duplicate id `{id}` (first on line {first})"
                            ));
                        } else {
                            first_line_of.insert(id.clone(), number);
                            good.push((number, id, bytes));
                        }
                    }
                    Err(message) => bad.push(format!("line {number}: {message}")),
                }
            }
            for message in &bad {
                eprintln!("{}: {message}", file.display());
            }
            if !bad.is_empty() && !skip_invalid {
                anyhow::bail!(
                    "{} of {number} lines of {} are invalid; nothing was imported (fix them, or \
                     give --skip-invalid to import the rest)",
                    bad.len(),
                    file.display()
                );
            }
            let staging = Staging(tempdir_in(&kb.paths.store_dir)?);
            let mut files = Vec::new();
            for (number, _, bytes) in &good {
                let path = staging.0.join(format!("line-{number}.md"));
                std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                files.push(path);
            }
            // Records already present with the same content are no-ops for add.
            kb.add_files(&files, |id| println!("imported {id}"))?;
            if !bad.is_empty() {
                eprintln!(
                    "imported {} records; {} invalid lines were skipped",
                    good.len(),
                    bad.len()
                );
            }
        }
    }
    Ok(())
}

fn tempdir_in(base: &Path) -> anyhow::Result<PathBuf> {
    let dir = base.join(format!(".import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
