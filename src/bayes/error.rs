//! Error type of the Bayesian network engine.
//!
//! Every fallible public function of `crate::bayes` returns [`BayesError`]. The
//! messages are meant to be shown to a user as-is: they name the variable, the
//! state, the parent configuration or the BIF line that is wrong.
//!
//! Invariant: pure data, no I/O.

use thiserror::Error;

/// Everything that can go wrong when building, parsing or querying a network.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BayesError {
    /// Two variables share a name.
    #[error("duplicate variable name `{0}`")]
    DuplicateVariable(String),
    /// A variable lists the same state twice.
    #[error("variable `{var}`: duplicate state `{state}`")]
    DuplicateState {
        /// Variable name.
        var: String,
        /// Repeated state.
        state: String,
    },
    /// A variable has no states.
    #[error("variable `{0}` has no states (a discrete variable needs at least one)")]
    NoStates(String),
    /// A name cannot be written to / read from BIF.
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A CPT or evidence mentions a variable that does not exist.
    #[error("unknown variable `{0}`")]
    UnknownVariable(String),
    /// A CPT lists a parent that does not exist.
    #[error("variable `{var}`: unknown parent `{parent}`")]
    UnknownParent {
        /// Child variable.
        var: String,
        /// Missing parent.
        parent: String,
    },
    /// A variable lists the same parent twice (or itself).
    #[error("variable `{var}`: parent `{parent}` listed twice or is the variable itself")]
    DuplicateParent {
        /// Child variable.
        var: String,
        /// Repeated parent.
        parent: String,
    },
    /// A state name is not a state of the variable.
    #[error("variable `{var}` has no state `{state}` (states: {known})")]
    UnknownState {
        /// Variable name.
        var: String,
        /// Requested state.
        state: String,
        /// Comma-separated list of valid states.
        known: String,
    },
    /// A variable has no conditional probability table.
    #[error("variable `{0}` has no probability table")]
    MissingCpt(String),
    /// A variable has two conditional probability tables.
    #[error("variable `{0}` has more than one probability table")]
    DuplicateCpt(String),
    /// The CPT has the wrong number of entries.
    #[error(
        "variable `{var}`: probability table has {got} entries, expected {expected} ({detail})"
    )]
    WrongTableSize {
        /// Variable name.
        var: String,
        /// Number of entries given.
        got: usize,
        /// Number of entries required.
        expected: usize,
        /// How the expected size is made up.
        detail: String,
    },
    /// A CPT entry is negative or not finite.
    #[error(
        "variable `{var}`: CPT row for parents {config} has invalid entry {value} (must be a finite number >= 0)"
    )]
    InvalidProbability {
        /// Variable name.
        var: String,
        /// Parent configuration, e.g. `(Cloudy=T)` or `()`.
        config: String,
        /// Offending value.
        value: f64,
    },
    /// A CPT row does not sum to one.
    #[error("variable `{var}`: CPT row for parents {config} sums to {sum}, expected 1")]
    RowSum {
        /// Variable name.
        var: String,
        /// Parent configuration, e.g. `(Cloudy=T)`.
        config: String,
        /// Actual sum.
        sum: f64,
    },
    /// The parent graph has a directed cycle.
    #[error("cycle: {0}")]
    Cycle(String),
    /// Malformed BIF text.
    #[error("BIF line {line}: {msg}")]
    Bif {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// Malformed evidence specification or likelihood vector.
    #[error("evidence: {0}")]
    Evidence(String),
    /// The evidence is impossible under the model.
    #[error("evidence has probability zero")]
    ZeroProbabilityEvidence,
    /// The exact algorithm would need too much memory.
    #[error(
        "exact inference too expensive: junction tree needs {needed} table entries, budget is {budget}"
    )]
    TooExpensive {
        /// Table entries needed.
        needed: u128,
        /// Configured budget.
        budget: usize,
    },
    /// Invalid inference options.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}
