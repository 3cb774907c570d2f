//! Command-line definitions (clap) and dispatch. Commands that report results take `--json`.

mod analyze;
mod bn;
mod chat;
mod detect;
mod eval;
mod kb;
mod sim;

use clap::{Parser, Subcommand};

/// Baynet: names the failing service of a microservice system, shows why, and remembers
/// every incident and chaos experiment.
#[derive(Debug, Parser)]
#[command(name = "baynet", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Detect anomalies in an offline input directory (traces and metrics).
    Detect(detect::DetectArgs),
    /// Evaluate against the simulator's ground truth.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// The incident knowledge base: postmortems and playbooks, hybrid search, similar incidents.
    Kb(kb::KbArgs),
}

/// Runs the command; no command runs the built-in simulation live.
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
        Some(Command::Eval(command)) => eval::run(command),
        Some(Command::Kb(args)) => kb::run(args),
        None => sim::run_default(),
    }
}
