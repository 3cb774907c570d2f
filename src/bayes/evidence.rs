//! Evidence: hard findings (`VAR=STATE`) and soft/virtual evidence
//! (`VAR=l1,l2,...`, a likelihood vector à la Pearl that is multiplied into the
//! joint distribution as a unary factor).
//!
//! Evidence is resolved against a [`Network`] when it is added, so unknown
//! variables or states and wrong likelihood lengths are reported immediately.
//! Several findings on one variable multiply (two different hard states make the
//! evidence impossible, which inference reports as "evidence has probability zero").
//!
//! Invariant: pure (no I/O).

use super::error::BayesError;
use super::network::{Network, VarId};

/// One finding on one variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The variable is observed in this state (index into its states).
    Hard(usize),
    /// Likelihood vector, one non-negative entry per state (not all zero).
    Soft(Vec<f64>),
}

/// A set of findings, resolved to variable ids of one network.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    findings: Vec<(VarId, Finding)>,
}

impl Evidence {
    /// No evidence.
    pub fn new() -> Self {
        Self::default()
    }
    /// True when there are no findings.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }
    /// All findings in insertion order.
    pub fn findings(&self) -> &[(VarId, Finding)] {
        &self.findings
    }
    /// Add hard evidence `var = state` by names.
    pub fn hard(&mut self, net: &Network, var: &str, state: &str) -> Result<&mut Self, BayesError> {
        let id = net.require_id(var)?;
        let s = net.require_state(id, state)?;
        self.findings.push((id, Finding::Hard(s)));
        Ok(self)
    }
    /// Add soft (virtual) evidence on `var`: one likelihood per state.
    pub fn soft(
        &mut self,
        net: &Network,
        var: &str,
        likelihood: Vec<f64>,
    ) -> Result<&mut Self, BayesError> {
        let id = net.require_id(var)?;
        let v = net
            .variable(id)
            .ok_or_else(|| BayesError::UnknownVariable(var.to_string()))?;
        check_likelihood(v.name(), v.states(), &likelihood)?;
        self.findings.push((id, Finding::Soft(likelihood)));
        Ok(self)
    }
    /// Add a finding by ids; it is validated (against the network the query
    /// uses) when inference runs.
    pub fn push(&mut self, var: VarId, finding: Finding) -> &mut Self {
        self.findings.push((var, finding));
        self
    }
    /// Parse and add hard evidence written as `VAR=STATE`.
    pub fn parse_hard(&mut self, net: &Network, spec: &str) -> Result<&mut Self, BayesError> {
        let (var, state) = split_spec(spec, "VAR=STATE")?;
        self.hard(net, var, state)
    }
    /// Parse and add soft evidence written as `VAR=l1,l2,...` (one likelihood per state).
    pub fn parse_soft(&mut self, net: &Network, spec: &str) -> Result<&mut Self, BayesError> {
        let (var, rest) = split_spec(spec, "VAR=l1,l2,...")?;
        let mut lik = Vec::new();
        for part in rest.split(',') {
            let t = part.trim();
            let x: f64 = t.parse().map_err(|_| {
                BayesError::Evidence(format!(
                    "`{spec}`: `{t}` is not a number (expected VAR=l1,l2,... with one likelihood per state)"
                ))
            })?;
            lik.push(x);
        }
        self.soft(net, var, lik)
    }

    /// Combine all findings into one likelihood vector per variable
    /// (`None` = unobserved), validating them against `cards`.
    pub(crate) fn likelihoods(&self, cards: &[usize]) -> Result<Vec<Option<Vec<f64>>>, BayesError> {
        let mut out: Vec<Option<Vec<f64>>> = vec![None; cards.len()];
        for (var, f) in &self.findings {
            let card = *cards.get(*var).ok_or_else(|| {
                BayesError::Evidence(format!("variable id {var} is not in the network"))
            })?;
            let lik = match f {
                Finding::Hard(s) => {
                    if *s >= card {
                        return Err(BayesError::Evidence(format!(
                            "variable id {var}: state index {s} out of range (card {card})"
                        )));
                    }
                    let mut l = vec![0.0; card];
                    l[*s] = 1.0;
                    l
                }
                Finding::Soft(l) => {
                    if l.len() != card || l.iter().any(|x| !x.is_finite() || *x < 0.0) {
                        return Err(BayesError::Evidence(format!(
                            "variable id {var}: likelihood vector must have {card} finite non-negative entries"
                        )));
                    }
                    l.clone()
                }
            };
            match &mut out[*var] {
                Some(acc) => acc.iter_mut().zip(&lik).for_each(|(a, b)| *a *= b),
                slot => *slot = Some(lik),
            }
        }
        if out.iter().flatten().any(|l| l.iter().all(|x| *x == 0.0)) {
            return Err(BayesError::ZeroProbabilityEvidence);
        }
        Ok(out)
    }
}

fn split_spec<'a>(spec: &'a str, form: &str) -> Result<(&'a str, &'a str), BayesError> {
    let (var, rest) = spec
        .split_once('=')
        .ok_or_else(|| BayesError::Evidence(format!("`{spec}`: expected {form} (missing `=`)")))?;
    let (var, rest) = (var.trim(), rest.trim());
    if var.is_empty() || rest.is_empty() {
        return Err(BayesError::Evidence(format!(
            "`{spec}`: expected {form} (empty variable or value)"
        )));
    }
    Ok((var, rest))
}

fn check_likelihood(name: &str, states: &[String], lik: &[f64]) -> Result<(), BayesError> {
    if lik.len() != states.len() {
        return Err(BayesError::Evidence(format!(
            "variable `{name}` has {} states ({}) but {} likelihoods were given",
            states.len(),
            states.join(", "),
            lik.len()
        )));
    }
    if let Some(x) = lik.iter().find(|x| !x.is_finite() || **x < 0.0) {
        return Err(BayesError::Evidence(format!(
            "variable `{name}`: likelihood {x} is negative or not finite (likelihoods must be >= 0)"
        )));
    }
    if lik.iter().all(|x| *x == 0.0) {
        return Err(BayesError::Evidence(format!(
            "variable `{name}`: all likelihoods are zero (at least one must be positive)"
        )));
    }
    Ok(())
}
