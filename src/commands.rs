//! Command-line definitions (clap) and dispatch. Commands that report results take `--json`.

mod analyze;
mod bn;
mod chat;
mod console;
mod detect;
mod doctor;
mod embed;
mod eval;
mod experiment;
mod fetch;
mod kb;
mod logs;
mod serve;
mod sim;
mod traces;

use clap::{Parser, Subcommand};

/// Baynet: names the failing service of a microservice system, shows why, and remembers
/// every incident and chaos experiment.
///
/// Without a command it opens the console; the console's flags work here too (`baynet
/// --scenario 08` is `baynet console --scenario 08`), with the same defaults.
#[derive(Debug, Parser)]
#[command(
    name = "baynet",
    version,
    about,
    long_about = None,
    propagate_version = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The console's arguments when no command is given, parsed by clap like `baynet console`'s
    /// (so both share one set of defaults and environment variables).
    #[command(flatten)]
    console: console::ConsoleArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate the sock-shop shop and its chaos experiments.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Bayesian networks: posterior marginals of a BIF network given evidence.
    #[command(subcommand)]
    Bn(bn::BnCommand),
    /// Rank the root cause of an incident saved as an offline input directory: detectors, then
    /// the Bayesian network over the service graph.
    Analyze(analyze::AnalyzeArgs),
    /// Guided root-cause chat about a saved incident (an LLM when configured, else the offline
    /// analyst).
    Chat(chat::ChatArgs),
    /// The terminal console: live simulation (default) or an offline input directory.
    Console(console::ConsoleArgs),
    /// Detect anomalies in an offline input directory (logs, traces and metrics).
    Detect(detect::DetectArgs),
    /// Log tools: Drain templates of a file.
    #[command(subcommand)]
    Logs(logs::LogsCommand),
    /// Sentence embeddings (all-MiniLM-L6-v2) of stdin lines as JSON lines; `--download` fetches
    /// the model.
    Embed(embed::EmbedArgs),
    /// Check the configured live sources (Loki, Tempo, Prometheus, Kiali): reachable,
    /// credentials, versions, labels and metrics present.
    Doctor(doctor::DoctorArgs),
    /// Save a window of live telemetry as an offline input directory (for `analyze`).
    Fetch(fetch::FetchArgs),
    /// Evaluate against the simulator's ground truth: alone, every scenario recorded as an
    /// experiment in one table; `detectors`, `rca`, `retrieval` for the detailed evaluations.
    Eval(eval::EvalArgs),
    /// Chaos experiments: run one on the simulator or a live cluster and record it as a
    /// postmortem; list and show the recorded ones.
    Experiment(experiment::ExperimentArgs),
    /// The incident knowledge base: postmortems and playbooks, hybrid search, similar incidents.
    Kb(kb::KbArgs),
    /// Serve the live Bayesian graph to Grafana (Node Graph API), scores to Prometheus
    /// (`/metrics`), and take anomaly events over HTTP and AWS SQS.
    Serve(serve::ServeArgs),
    /// Learned trace anomaly detection: train the graph-attention autoencoder, evaluate it.
    #[command(subcommand)]
    Traces(traces::TracesCommand),
}

impl Cli {
    /// Whether this invocation opens the console (which owns the terminal, so logs must not
    /// go to stderr).
    #[must_use]
    pub fn opens_console(&self) -> bool {
        matches!(self.command, None | Some(Command::Console(_)))
    }
}

/// Runs the command; no command opens the console on the built-in simulation.
///
/// # Errors
/// Whatever the command reports.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Sim(command)) => sim::run(command),
        Some(Command::Bn(command)) => bn::run(command),
        Some(Command::Analyze(args)) => analyze::run(args),
        Some(Command::Chat(args)) => chat::run(args),
        Some(Command::Detect(args)) => detect::run(args),
        Some(Command::Logs(command)) => logs::run(command),
        Some(Command::Embed(args)) => embed::run(args),
        Some(Command::Eval(args)) => eval::run_args(args),
        Some(Command::Experiment(args)) => experiment::run(args),
        Some(Command::Kb(args)) => kb::run(args),
        Some(Command::Serve(args)) => serve::run_serve(&args),
        Some(Command::Doctor(args)) => doctor::run(&args),
        Some(Command::Fetch(args)) => fetch::run(&args),
        Some(Command::Traces(command)) => traces::run(command),
        Some(Command::Console(args)) => console::run(&args),
        None => console::run(&cli.console),
    }
}
