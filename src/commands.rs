//! Command-line definitions (clap) and dispatch. Commands that report results take `--json`.

mod bn;
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
}

/// Runs the command; no command runs the built-in simulation live.
///
/// # Errors
/// Whatever the command reports.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Sim(command)) => sim::run(command),
        Some(Command::Bn(command)) => bn::run(command),
        None => sim::run_default(),
    }
}
