//! `baynet bn …`: the general Bayesian network engine on BIF files.

use anyhow::Context;
use baynet::bayes::{Evidence, InferOptions, Method, bif, infer};
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum BnCommand {
    /// Print every variable's posterior given evidence.
    Marginals {
        /// A network in BIF format (bnlearn repository, pgmpy).
        #[arg(long)]
        bif: PathBuf,
        /// Hard evidence `VAR=STATE`; repeat for more.
        #[arg(long = "evidence", value_name = "VAR=STATE")]
        evidence: Vec<String>,
        /// Soft (virtual) evidence: one likelihood per state, `VAR=p1,p2,…`; repeat for more.
        #[arg(long = "soft", value_name = "VAR=P1,P2,…")]
        soft: Vec<String>,
        /// Inference algorithm; `auto` is exact when the junction tree is affordable.
        #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
        method: MethodArg,
        /// Print `{"VAR": {"STATE": p, …}, …}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    /// Exact if affordable, else likelihood weighting.
    Auto,
    /// Junction tree.
    Exact,
    /// Loopy belief propagation.
    Lbp,
    /// Likelihood weighting.
    Lw,
}

pub fn run(command: BnCommand) -> anyhow::Result<()> {
    let BnCommand::Marginals {
        bif: path,
        evidence,
        soft,
        method,
        json,
    } = command;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let network = bif::parse(&text)
        .with_context(|| format!("{} is not a valid BIF network", path.display()))?;
    let mut findings = Evidence::new();
    for item in &evidence {
        findings.parse_hard(&network, item)?;
    }
    for item in &soft {
        findings.parse_soft(&network, item)?;
    }
    let options = InferOptions {
        method: match method {
            MethodArg::Auto => Method::Auto,
            MethodArg::Exact => Method::Exact,
            MethodArg::Lbp => Method::LoopyBp,
            MethodArg::Lw => Method::LikelihoodWeighting,
        },
        ..InferOptions::default()
    };
    let posteriors = infer(&network, &findings, &options)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&posteriors.to_json(&network))?
        );
        return Ok(());
    }
    println!(
        "algorithm: {} {}",
        posteriors.algorithm.name(),
        posteriors.note
    );
    for (variable, marginal) in network.variables().iter().zip(&posteriors.marginals) {
        let states: Vec<String> = variable
            .states()
            .iter()
            .zip(marginal)
            .map(|(state, p)| format!("{state}={p:.6}"))
            .collect();
        println!("{:<24} {}", variable.name(), states.join("  "));
    }
    Ok(())
}
