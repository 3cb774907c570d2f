//! Discrete Bayesian networks: variables, states, conditional probability
//! tables (CPTs) and validation of the directed acyclic graph.
//!
//! A [`Network`] can only be obtained through [`NetworkBuilder::build`] (or the
//! BIF parser, which uses the builder), so every `Network` value satisfies:
//! names are unique and BIF-safe, every variable has >= 1 distinct states,
//! every parent exists, the parent graph is acyclic, every CPT has exactly
//! `card(child) * prod(card(parents))` finite non-negative entries and every
//! row sums to 1 within [`ROW_SUM_TOLERANCE`].
//!
//! CPT layout (used everywhere in `crate::bayes`): row-major over parent
//! configurations, the *last* parent varying fastest, and inside a row the
//! child's states in declaration order. Entry index =
//! `config * card(child) + child_state`. This is exactly the factor layout of
//! the scope `[parents..., child]` with the last variable fastest.
//!
//! Invariant: pure (no I/O, no clock, no global state).

use std::collections::HashMap;

use super::error::BayesError;

/// Index of a variable inside its [`Network`] (declaration order).
pub type VarId = usize;

/// Absolute tolerance for a CPT row sum to count as 1.
pub const ROW_SUM_TOLERANCE: f64 = 1e-6;

/// One discrete random variable with its CPT.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    name: String,
    states: Vec<String>,
    parents: Vec<VarId>,
    cpt: Vec<f64>,
    properties: Vec<String>,
}

impl Variable {
    /// Variable name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// State names in declaration order.
    pub fn states(&self) -> &[String] {
        &self.states
    }
    /// Number of states.
    pub fn card(&self) -> usize {
        self.states.len()
    }
    /// Parent ids in CPT order (last parent varies fastest in the CPT).
    pub fn parents(&self) -> &[VarId] {
        &self.parents
    }
    /// The CPT, see the module docs for the layout.
    pub fn cpt(&self) -> &[f64] {
        &self.cpt
    }
    /// Free-text `property` lines attached to the variable (BIF round trip).
    pub fn properties(&self) -> &[String] {
        &self.properties
    }
    /// Index of a state by name.
    pub fn state_index(&self, state: &str) -> Option<usize> {
        self.states.iter().position(|s| s == state)
    }
    /// Number of parent configurations (CPT rows).
    pub fn n_rows(&self) -> usize {
        self.cpt.len() / self.card().max(1)
    }
    /// One CPT row: the distribution of this variable for parent configuration `row`.
    pub fn row(&self, row: usize) -> Option<&[f64]> {
        let c = self.card();
        self.cpt.get(row * c..(row + 1) * c)
    }
}

/// A validated discrete Bayesian network (see module docs for the invariants).
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    name: String,
    properties: Vec<String>,
    vars: Vec<Variable>,
    by_name: HashMap<String, VarId>,
    topo: Vec<VarId>,
    children: Vec<Vec<VarId>>,
}

impl Network {
    /// Network name (BIF `network NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Network-level `property` lines.
    pub fn properties(&self) -> &[String] {
        &self.properties
    }
    /// Number of variables.
    pub fn len(&self) -> usize {
        self.vars.len()
    }
    /// True when the network has no variables.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
    /// All variables, indexed by [`VarId`].
    pub fn variables(&self) -> &[Variable] {
        &self.vars
    }
    /// One variable by id.
    pub fn variable(&self, id: VarId) -> Option<&Variable> {
        self.vars.get(id)
    }
    /// Id of a variable by name.
    pub fn id(&self, name: &str) -> Option<VarId> {
        self.by_name.get(name).copied()
    }
    /// Id of a variable by name, or an "unknown variable" error.
    pub fn require_id(&self, name: &str) -> Result<VarId, BayesError> {
        self.id(name)
            .ok_or_else(|| BayesError::UnknownVariable(name.to_string()))
    }
    /// Index of `state` of variable `var`, or an "unknown state" error.
    pub fn require_state(&self, var: VarId, state: &str) -> Result<usize, BayesError> {
        let v = self
            .vars
            .get(var)
            .ok_or_else(|| BayesError::UnknownVariable(format!("#{var}")))?;
        v.state_index(state)
            .ok_or_else(|| BayesError::UnknownState {
                var: v.name.clone(),
                state: state.to_string(),
                known: v.states.join(", "),
            })
    }
    /// A topological order (parents before children).
    pub fn topological_order(&self) -> &[VarId] {
        &self.topo
    }
    /// Children of a variable (empty slice for an unknown id).
    pub fn children(&self, id: VarId) -> &[VarId] {
        self.children.get(id).map_or(&[], Vec::as_slice)
    }
    /// Parent states of CPT row `row` of `var`, e.g. `["T", "F"]` (first parent first).
    pub fn row_parent_states(&self, var: VarId, row: usize) -> Vec<&str> {
        let Some(v) = self.vars.get(var) else {
            return Vec::new();
        };
        let mut out = vec![""; v.parents.len()];
        let mut r = row;
        for (k, &p) in v.parents.iter().enumerate().rev() {
            let pv = &self.vars[p];
            let c = pv.card();
            out[k] = pv.states[r % c].as_str();
            r /= c;
        }
        out
    }
}

/// Collects variables and CPTs by name; [`NetworkBuilder::build`] validates everything.
#[derive(Debug, Clone, Default)]
pub struct NetworkBuilder {
    name: String,
    properties: Vec<String>,
    vars: Vec<(String, Vec<String>, Vec<String>)>,
    cpts: Vec<(String, Vec<String>, Vec<f64>)>,
}

impl NetworkBuilder {
    /// Start a network called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
    /// Add a network-level property line.
    pub fn network_property(&mut self, text: impl Into<String>) -> &mut Self {
        self.properties.push(text.into());
        self
    }
    /// Declare a variable with its states.
    pub fn variable<S: Into<String>>(
        &mut self,
        name: impl Into<String>,
        states: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        let states = states.into_iter().map(Into::into).collect();
        self.vars.push((name.into(), states, Vec::new()));
        self
    }
    /// Attach a property line to the most recently declared variable named `var`
    /// (ignored if no such variable was declared yet).
    pub fn variable_property(&mut self, var: &str, text: impl Into<String>) -> &mut Self {
        if let Some(v) = self.vars.iter_mut().rev().find(|v| v.0 == var) {
            v.2.push(text.into());
        }
        self
    }
    /// Set the CPT of `child` given `parents`, in the layout described in the
    /// module docs (`config * card(child) + child_state`, last parent fastest).
    pub fn cpt<S: Into<String>>(
        &mut self,
        child: impl Into<String>,
        parents: impl IntoIterator<Item = S>,
        table: Vec<f64>,
    ) -> &mut Self {
        let parents = parents.into_iter().map(Into::into).collect();
        self.cpts.push((child.into(), parents, table));
        self
    }

    /// Names and states of the variables declared so far (in order).
    pub(crate) fn declared_variables(&self) -> (Vec<String>, Vec<Vec<String>>) {
        self.vars
            .iter()
            .map(|(n, s, _)| (n.clone(), s.clone()))
            .unzip()
    }

    /// Validate and build the network.
    pub fn build(&self) -> Result<Network, BayesError> {
        let name = if self.name.is_empty() {
            "unknown"
        } else {
            self.name.as_str()
        };
        validate_name(name)?;
        let mut by_name = HashMap::with_capacity(self.vars.len());
        let mut vars = Vec::with_capacity(self.vars.len());
        for (name, states, props) in &self.vars {
            validate_name(name)?;
            if by_name.insert(name.clone(), vars.len()).is_some() {
                return Err(BayesError::DuplicateVariable(name.clone()));
            }
            if states.is_empty() {
                return Err(BayesError::NoStates(name.clone()));
            }
            for (i, s) in states.iter().enumerate() {
                validate_name(s)?;
                if states[..i].contains(s) {
                    return Err(BayesError::DuplicateState {
                        var: name.clone(),
                        state: s.clone(),
                    });
                }
            }
            vars.push(Variable {
                name: name.clone(),
                states: states.clone(),
                parents: Vec::new(),
                cpt: Vec::new(),
                properties: props.clone(),
            });
        }
        let mut has_cpt = vec![false; vars.len()];
        for (child, parents, table) in &self.cpts {
            let c = *by_name
                .get(child)
                .ok_or_else(|| BayesError::UnknownVariable(child.clone()))?;
            if std::mem::replace(&mut has_cpt[c], true) {
                return Err(BayesError::DuplicateCpt(child.clone()));
            }
            let mut pids = Vec::with_capacity(parents.len());
            for p in parents {
                let pid = *by_name.get(p).ok_or_else(|| BayesError::UnknownParent {
                    var: child.clone(),
                    parent: p.clone(),
                })?;
                if pid == c || pids.contains(&pid) {
                    return Err(BayesError::DuplicateParent {
                        var: child.clone(),
                        parent: p.clone(),
                    });
                }
                pids.push(pid);
            }
            vars[c].parents = pids;
            vars[c].cpt = table.clone();
        }
        if let Some(i) = has_cpt.iter().position(|h| !h) {
            return Err(BayesError::MissingCpt(vars[i].name.clone()));
        }
        for c in 0..vars.len() {
            check_cpt(&vars, c)?;
        }
        let topo = topological_sort(&vars)?;
        let mut children = vec![Vec::new(); vars.len()];
        for (c, v) in vars.iter().enumerate() {
            for &p in &v.parents {
                children[p].push(c);
            }
        }
        Ok(Network {
            name: name.to_string(),
            properties: self.properties.clone(),
            vars,
            by_name,
            topo,
            children,
        })
    }
}

fn config_label(vars: &[Variable], parents: &[VarId], row: usize) -> String {
    let mut parts = vec![String::new(); parents.len()];
    let mut r = row;
    for (k, &p) in parents.iter().enumerate().rev() {
        let c = vars[p].card();
        parts[k] = format!("{}={}", vars[p].name, vars[p].states[r % c]);
        r /= c;
    }
    format!("({})", parts.join(", "))
}

fn check_cpt(vars: &[Variable], c: VarId) -> Result<(), BayesError> {
    let v = &vars[c];
    let card = v.card();
    let mut rows: usize = 1;
    let mut detail = vec![format!("{} states of `{}`", card, v.name)];
    for &p in &v.parents {
        rows = rows.saturating_mul(vars[p].card());
        detail.push(format!(
            "{} states of parent `{}`",
            vars[p].card(),
            vars[p].name
        ));
    }
    let expected = rows.saturating_mul(card);
    if v.cpt.len() != expected {
        return Err(BayesError::WrongTableSize {
            var: v.name.clone(),
            got: v.cpt.len(),
            expected,
            detail: detail.join(" x "),
        });
    }
    for (r, row) in v.cpt.chunks_exact(card).enumerate() {
        if let Some(&bad) = row.iter().find(|x| !x.is_finite() || **x < 0.0) {
            return Err(BayesError::InvalidProbability {
                var: v.name.clone(),
                config: config_label(vars, &v.parents, r),
                value: bad,
            });
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(BayesError::RowSum {
                var: v.name.clone(),
                config: config_label(vars, &v.parents, r),
                sum: (sum * 1e9).round() / 1e9,
            });
        }
    }
    Ok(())
}

/// Kahn's algorithm; on failure reports one concrete cycle.
fn topological_sort(vars: &[Variable]) -> Result<Vec<VarId>, BayesError> {
    let n = vars.len();
    let mut indeg: Vec<usize> = vars.iter().map(|v| v.parents.len()).collect();
    let mut children = vec![Vec::new(); n];
    for (c, v) in vars.iter().enumerate() {
        for &p in &v.parents {
            children[p].push(c);
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<VarId> = (0..n).rev().filter(|&i| indeg[i] == 0).collect();
    while let Some(v) = stack.pop() {
        order.push(v);
        for &c in children[v].iter().rev() {
            indeg[c] -= 1;
            if indeg[c] == 0 {
                stack.push(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every remaining node has a remaining parent: walk parents until a repeat.
    let start = indeg.iter().position(|&d| d > 0).unwrap_or(0);
    let mut seen = vec![usize::MAX; n];
    let mut path = Vec::new();
    let mut cur = start;
    while seen[cur] == usize::MAX {
        seen[cur] = path.len();
        path.push(cur);
        match vars[cur].parents.iter().find(|&&p| indeg[p] > 0) {
            Some(&p) => cur = p,
            None => break,
        }
    }
    let from = seen[cur].min(path.len());
    // `path` follows child -> parent edges; print in arrow (parent -> child) direction.
    let mut cyc: Vec<&str> = path[from..]
        .iter()
        .map(|&i| vars[i].name.as_str())
        .collect();
    cyc.reverse();
    if let Some(first) = cyc.first().copied() {
        cyc.push(first);
    }
    Err(BayesError::Cycle(cyc.join(" → ")))
}

/// Check that a name can be written to and read back from BIF.
pub(crate) fn validate_name(name: &str) -> Result<(), BayesError> {
    let bad = |reason: &str| BayesError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(bad("names must not be empty"));
    }
    if let Some(ch) = name
        .chars()
        .find(|c| c.is_whitespace() || "{}()[],;|\"'".contains(*c))
    {
        return Err(bad(&format!(
            "names must not contain whitespace or any of {{}}()[],;|\"' (found {ch:?})"
        )));
    }
    if name.contains("//") || name.contains("/*") {
        return Err(bad("names must not contain comment markers // or /*"));
    }
    Ok(())
}
