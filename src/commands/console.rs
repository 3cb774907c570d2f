//! `baynet console` (and `baynet` without arguments): the terminal console on the built-in
//! simulation, or on an offline input directory.

use anyhow::{Context, bail};
use baynet::analysis::AnalysisConfig;
use baynet::console::theme::{Palette, Theme};
use baynet::live::{PastIncident, Retriever, SimSettings, start_offline, start_simulation};
use baynet::scenario;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args, Default)]
pub struct ConsoleArgs {
    /// Show an offline input directory (traces.json, metrics.json, logs.json…) instead of the
    /// live simulation; it is analysed once.
    #[arg(long, conflicts_with_all = ["speed", "scenario", "no_cycle"])]
    input: Option<PathBuf>,
    /// Simulated seconds per wall second.
    #[arg(long)]
    speed: Option<f64>,
    /// Play only this built-in scenario (name or number), over and over.
    #[arg(long)]
    scenario: Option<String>,
    /// Play the scenarios with their full baseline/fault/recovery lengths instead of the
    /// shortened 3/4/2 minutes.
    #[arg(long)]
    no_cycle: bool,
    /// Colour palette: `default` (green/yellow/red) or `cb` (colour-blind safe). NO_COLOR
    /// turns colour off.
    #[arg(long, default_value = "default")]
    palette: String,
    /// Random seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The user knowledge directory searched for similar past incidents (the curated
    /// `knowledge/` is always included).
    #[arg(long, env = "BAYNET_KB_DIR")]
    kb_dir: Option<PathBuf>,
    /// Do not search the knowledge base (the Incidents view stays empty).
    #[arg(long)]
    no_kb: bool,
    /// Configuration file (default `$BAYNET_CONFIG` or `~/.config/baynet/config.toml`); the
    /// console reads its key bindings from `[console.keys]`.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Past incidents like the current analysis. The knowledge base is opened for each search and
/// closed again (keeping the loaded embedding model), so `baynet kb add` or a recorded
/// experiment in another terminal is never locked out and new records show up at the next
/// analysis.
fn retriever(kb_dir: Option<PathBuf>) -> Retriever {
    let mut kept: Option<Box<dyn baynet::knowledge::vectors::TextEmbedder>> = None;
    Box::new(move |analysis| {
        let embedder = match kept.take() {
            Some(embedder) => embedder,
            None => super::kb::embedder().map_err(|error| format!("{error:#}"))?,
        };
        let paths = baynet::knowledge::KbPaths::resolve(kb_dir.clone())?;
        let mut kb = baynet::knowledge::KnowledgeBase::open(paths, embedder)
            .map_err(|error| format!("knowledge base unavailable: {error}"))?;
        let similar = baynet::knowledge::similar_incidents(&mut kb.store, analysis, 5)
            .map_err(|error| format!("knowledge base search failed: {error}"));
        let found = similar.map(|similar| {
            similar
                .into_iter()
                .filter_map(|similar| {
                    let stored = kb.store.get(&similar.id)?;
                    let markdown = baynet::knowledge::record::render(&stored.postmortem()).ok()?;
                    Some(PastIncident { similar, markdown })
                })
                .collect()
        });
        kept = Some(kb.store.into_embedder());
        found
    })
}

pub fn run(args: &ConsoleArgs) -> anyhow::Result<()> {
    let palette: Palette = args.palette.parse().map_err(anyhow::Error::msg)?;
    let theme = Theme::from_env(palette);
    if !std::io::stdout().is_terminal() {
        bail!("the console needs a terminal; for scripts use `baynet sim run` or `baynet detect`");
    }
    let settings = baynet::config::load(
        args.config.as_deref(),
        &baynet::config::Overrides::default(),
        &|name| std::env::var(name).ok(),
    )
    .context("reading the configuration")?;
    let keymap = baynet::console::keys::Keymap::with_overrides(&settings.console_keys)
        .map_err(anyhow::Error::msg)
        .context("in the configuration's [console.keys]")?;
    let config = AnalysisConfig::default();
    let past = (!args.no_kb).then(|| retriever(args.kb_dir.clone()));
    let live = if let Some(dir) = &args.input {
        let dataset = baynet::input_dir::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?;
        start_offline(dataset, format!("input: {}", dir.display()), config, past)?
    } else {
        let scenarios = match &args.scenario {
            Some(name) => vec![scenario::resolve(name)?],
            None => scenario::builtin()?,
        };
        let mut settings = SimSettings::new(scenarios);
        settings.seed = args.seed;
        if let Some(speed) = args.speed {
            settings.speed = speed;
        }
        if args.no_cycle {
            settings.phases = None;
        }
        start_simulation(settings, config, past)?
    };
    baynet::console::run(live, theme, keymap)?;
    Ok(())
}
