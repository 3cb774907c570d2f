//! Command-line definitions (clap) and dispatch. Commands that report results take `--json`.

mod bn;
mod detect;
mod embed;
mod eval;
mod logs;
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
    /// Detect anomalies in an offline input directory (logs, traces and metrics).
    Detect(detect::DetectArgs),
    /// Log tools: Drain templates of a file.
    #[command(subcommand)]
    Logs(logs::LogsCommand),
    /// Sentence embeddings (all-MiniLM-L6-v2) of stdin lines as JSON lines; `--download` fetches
    /// the model.
    Embed(embed::EmbedArgs),
    /// Evaluate against the simulator's ground truth.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
}

/// Runs the command; no command runs the built-in simulation live.
///
/// # Errors
/// Whatever the command reports.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Sim(command)) => sim::run(command),
        Some(Command::Bn(command)) => bn::run(command),
        Some(Command::Detect(args)) => detect::run(args),
        Some(Command::Logs(command)) => logs::run(command),
        Some(Command::Embed(args)) => embed::run(args),
        Some(Command::Eval(command)) => eval::run(command),
        None => sim::run_default(),
    }
}
