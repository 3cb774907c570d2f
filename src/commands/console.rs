//! `baynet console` (and `baynet` without arguments): the terminal console on the built-in
//! simulation, on a live cluster (when sources are configured), or on an offline input
//! directory.

use anyhow::{Context, bail};
use baynet::analysis::AnalysisConfig;
use baynet::console::theme::{Palette, Theme};
use baynet::live::{
    PastIncident, PollSettings, Retriever, SimSettings, start_live, start_offline, start_simulation,
};
use baynet::scenario;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
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
    /// Live sources (config file, environment, flags). With any source configured the console
    /// watches the live cluster; the config file's `[console.keys]` remaps keys.
    #[command(flatten)]
    sources: super::doctor::SourceArgs,
    /// Play the built-in simulation even when live sources are configured.
    #[arg(long, conflicts_with = "input")]
    sim: bool,
    /// Live: poll the sources this often [default: 15s].
    #[arg(long, value_name = "DURATION")]
    poll: Option<String>,
    /// Live: the analysed window, the most recent data [default: 10m].
    #[arg(long, value_name = "DURATION")]
    window: Option<String>,
    /// Live: the baseline learned as normal before the window [default: 30m].
    #[arg(long, value_name = "DURATION")]
    baseline: Option<String>,
}

/// Past incidents like the current analysis. The search runs again only when the incident or
/// its top suspects change (the ranking is recomputed every few seconds; the past does not
/// move that fast). The knowledge base is opened for each search and closed again, embedding
/// model included, so `baynet kb add` or a recorded experiment in another terminal is never
/// locked out, new records show up at the next search, and the model's ~150 MB are held only
/// while searching.
fn retriever(kb_dir: Option<PathBuf>, config: Option<PathBuf>) -> Retriever {
    let mut last: Option<(String, Vec<PastIncident>)> = None;
    Box::new(move |analysis| {
        let key = format!(
            "{:?} {}",
            analysis.incident_start,
            analysis
                .ranking
                .ranking
                .iter()
                .take(3)
                .map(|r| r.service.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        if let Some((known, found)) = &last
            && *known == key
        {
            return Ok(found.clone());
        }
        let embedder = super::kb::embedder().map_err(|error| format!("{error:#}"))?;
        let mut kb = super::kb::open_with(kb_dir.clone(), None, config.as_deref(), embedder)
            .map_err(|error| format!("knowledge base unavailable: {error:#}"))?;
        let similar = baynet::knowledge::similar_incidents(kb.store.as_mut(), analysis, 5)
            .map_err(|error| format!("knowledge base search failed: {error}"))?;
        let found: Vec<PastIncident> = similar
            .into_iter()
            .filter_map(|similar| {
                let stored = kb.store.get(&similar.id)?;
                let markdown = baynet::knowledge::record::render(&stored.postmortem()).ok()?;
                Some(PastIncident { similar, markdown })
            })
            .collect();
        last = Some((key, found.clone()));
        Ok(found)
    })
}

/// Writes a postmortem recorded in the console into the user knowledge directory and indexes
/// it (the knowledge base is opened per save, so other processes are not locked out).
fn saver(kb_dir: Option<PathBuf>, config: Option<PathBuf>) -> baynet::console::Saver {
    Box::new(move |record| {
        let embedder = super::kb::embedder().map_err(|error| format!("{error:#}"))?;
        let mut kb = super::kb::open_with(kb_dir.clone(), None, config.as_deref(), embedder)
            .map_err(|error| format!("knowledge base unavailable: {error:#}"))?;
        kb.record(record)
            .map(|path| path.display().to_string())
            .map_err(|error| error.to_string())
    })
}

pub fn run(args: &ConsoleArgs) -> anyhow::Result<()> {
    let palette: Palette = args.palette.parse().map_err(anyhow::Error::msg)?;
    let theme = Theme::from_env(palette);
    if !std::io::stdout().is_terminal() {
        bail!("the console needs a terminal; for scripts use `baynet sim run` or `baynet detect`");
    }
    let sources = &args.sources;
    let overrides = baynet::config::Overrides {
        loki: sources.loki.clone(),
        tempo: sources.tempo.clone(),
        prometheus: sources.prometheus.clone(),
        kiali: sources.kiali.clone(),
        namespace: sources.namespace.clone(),
    };
    let settings = baynet::config::load(
        sources.config.as_deref(),
        &overrides,
        &baynet::config::process_env,
    )
    .context("reading the configuration")?;
    let keymap = baynet::console::keys::Keymap::with_overrides(&settings.console_keys)
        .map_err(anyhow::Error::msg)
        .context("in the configuration's [console.keys]")?;
    let config = AnalysisConfig::default();
    let past = (!args.no_kb).then(|| retriever(args.kb_dir.clone(), args.sources.config.clone()));
    let live = if let Some(dir) = &args.input {
        let dataset = baynet::input_dir::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?;
        start_offline(dataset, format!("input: {}", dir.display()), config, past)?
    } else if settings.has_sources() && !args.sim && args.scenario.is_none() {
        let duration = |text: &Option<String>, flag: &str, default: Duration| match text {
            None => Ok(default),
            Some(text) => baynet::model::time::parse_duration(text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{flag} {text}")),
        };
        let defaults = PollSettings::default();
        let poll = PollSettings {
            every: duration(&args.poll, "--poll", defaults.every)?,
            max_window: duration(&args.window, "--window", defaults.max_window)?,
            baseline: duration(&args.baseline, "--baseline", defaults.baseline)?,
            ..defaults
        };
        let source = baynet::source::LiveSource::new(&settings)
            .context("setting up the live sources (check them with `baynet doctor`)")?;
        start_live(
            std::sync::Arc::new(source),
            std::sync::Arc::new(super::doctor::now),
            poll,
            config,
            past,
        )?
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
    let save = (!args.no_kb).then(|| saver(args.kb_dir.clone(), args.sources.config.clone()));
    baynet::console::run(live, theme, keymap, save)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::super::{Cli, Command};
    use super::ConsoleArgs;
    use baynet::console::theme::Palette;
    use clap::Parser;

    fn console_args(argv: &[&str]) -> ConsoleArgs {
        let cli = Cli::try_parse_from(argv).unwrap();
        match cli.command {
            None => cli.console,
            Some(Command::Console(args)) => args,
            Some(other) => panic!("{argv:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn bare_baynet_has_the_defaults_of_baynet_console() {
        let bare = console_args(&["baynet"]);
        let console = console_args(&["baynet", "console"]);
        assert_eq!(bare.palette, "default");
        assert!(bare.palette.parse::<Palette>().is_ok());
        assert_eq!(bare.seed, 1);
        assert_eq!(format!("{bare:?}"), format!("{console:?}"));
    }

    #[test]
    fn bare_baynet_takes_the_console_flags() {
        let bare = console_args(&["baynet", "--scenario", "08", "--palette", "cb"]);
        assert_eq!(bare.scenario.as_deref(), Some("08"));
        assert_eq!(bare.palette, "cb");
        // A subcommand after console flags is refused rather than silently ignored.
        assert!(Cli::try_parse_from(["baynet", "--seed", "3", "sim", "scenarios"]).is_err());
    }
}
