//! Exact inference: a junction tree (clique tree) built from the weighted
//! min-fill elimination order, calibrated by two-pass Hugin message passing,
//! giving the posterior marginal of every variable in one collect + distribute.
//!
//! Compilation ([`JunctionTree::compile`]) does all the structural work once:
//! cliques, separators, CPT assignment, the initial clique potentials (product
//! of assigned CPTs) and, for every tree edge, the `u32` index maps that
//! project clique entries onto separator entries. A query then only copies the
//! potentials, multiplies the evidence in, and runs flat-array loops
//! (`sep[map[i]] += clique[i]`, `clique[i] *= ratio[map[i]]`): no hash maps and
//! no allocation per entry. Messages are normalised as they are passed and
//! their log-normalisers accumulated, so long chains do not underflow and
//! `log P(evidence)` comes out exactly; a zero normaliser means the evidence is
//! impossible and is reported as [`BayesError::ZeroProbabilityEvidence`].
//!
//! Invariant: pure (no I/O); a compiled tree is immutable and reusable.

use super::error::BayesError;
use super::evidence::Evidence;
use super::factor::{Factor, index_map, scale_axis, strides, sum_axis, table_size};
use super::network::{Network, VarId};
use super::treewidth::min_fill_order;

#[derive(Debug, Clone)]
struct Edge {
    child: usize,
    parent: usize,
    sep_off: usize,
    sep_len: usize,
    map_child: usize,
    map_parent: usize,
}

/// A compiled junction tree for one network.
#[derive(Debug, Clone)]
pub struct JunctionTree {
    cards: Vec<usize>,
    clique_vars: Vec<Vec<VarId>>,
    clique_off: Vec<usize>,
    init: Vec<f64>,
    /// Edges in collect order (children before parents).
    edges: Vec<Edge>,
    sep_total: usize,
    maps: Vec<u32>,
    roots: Vec<usize>,
    /// (clique, stride) where evidence on the variable is multiplied in.
    home: Vec<(usize, usize)>,
    /// (clique, stride) of the smallest clique containing the variable.
    marg: Vec<(usize, usize)>,
    treewidth: usize,
}

/// Result of an exact query.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactResult {
    /// Posterior marginal of every variable (indexed by `VarId`).
    pub marginals: Vec<Vec<f64>>,
    /// Natural log of P(evidence) (0 without evidence).
    pub log_evidence: f64,
}

fn is_subset(small: &[VarId], big: &[VarId]) -> bool {
    small.iter().all(|x| big.binary_search(x).is_ok())
}

impl JunctionTree {
    /// Compile `net`; fails with [`BayesError::TooExpensive`] when the clique
    /// tables would exceed `budget` entries.
    pub fn compile(net: &Network, budget: usize) -> Result<Self, BayesError> {
        let n = net.len();
        let cards: Vec<usize> = net.variables().iter().map(|v| v.card()).collect();
        let order = min_fill_order(net, Some(budget as u128));
        if !order.complete {
            return Err(BayesError::TooExpensive {
                needed: order.total_entries,
                budget,
            });
        }
        let mut pos = vec![0usize; n];
        for (k, &v) in order.order.iter().enumerate() {
            pos[v] = k;
        }
        // Build the clique tree from the elimination cliques, merging an
        // elimination clique into a child clique that contains it.
        let mut clique_vars: Vec<Vec<VarId>> = Vec::new();
        let mut parent: Vec<usize> = Vec::new();
        let mut pending: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut rep = vec![0usize; n];
        let mut roots = Vec::new();
        for (k, &v) in order.order.iter().enumerate() {
            let mut c = order.cliques[k].clone();
            c.sort_unstable();
            let children = std::mem::take(&mut pending[v]);
            let merged = children
                .iter()
                .copied()
                .find(|&ch| clique_vars[ch].len() > c.len() && is_subset(&c, &clique_vars[ch]));
            let id = match merged {
                Some(ch) => ch,
                None => {
                    clique_vars.push(c);
                    parent.push(usize::MAX);
                    clique_vars.len() - 1
                }
            };
            for &ch in &children {
                if ch != id {
                    parent[ch] = id;
                }
            }
            rep[v] = id;
            match order.cliques[k][1..].iter().min_by_key(|&&u| pos[u]) {
                Some(&up) => pending[up].push(id),
                None => roots.push(id),
            }
        }
        let nc = clique_vars.len();
        let clique_cards: Vec<Vec<usize>> = clique_vars
            .iter()
            .map(|vs| vs.iter().map(|&v| cards[v]).collect())
            .collect();
        let mut clique_off = Vec::with_capacity(nc + 1);
        let mut total = 0usize;
        for cc in &clique_cards {
            clique_off.push(total);
            let size = table_size(cc).ok_or(BayesError::TooExpensive {
                needed: u128::MAX,
                budget,
            })?;
            total += size;
        }
        clique_off.push(total);
        // Initial potentials: product of the CPTs assigned to each clique.
        let mut init = vec![1.0; total];
        for (x, v) in net.variables().iter().enumerate() {
            let mut fam = v.parents().to_vec();
            fam.push(x);
            let first = fam.iter().copied().min_by_key(|&u| pos[u]).unwrap_or(x);
            let mut sorted_fam = fam.clone();
            sorted_fam.sort_unstable();
            let c = if is_subset(&sorted_fam, &clique_vars[rep[first]]) {
                rep[first]
            } else {
                (0..nc)
                    .find(|&c| is_subset(&sorted_fam, &clique_vars[c]))
                    .ok_or_else(|| {
                        BayesError::InvalidOption("internal: family not covered".into())
                    })?
            };
            let map = index_map(&clique_vars[c], &clique_cards[c], &fam);
            let pot = &mut init[clique_off[c]..clique_off[c + 1]];
            for (p, &m) in pot.iter_mut().zip(&map) {
                *p *= v.cpt()[m as usize];
            }
        }
        // Tree order: pre-order from the roots, collect = reverse pre-order.
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); nc];
        for (c, &p) in parent.iter().enumerate() {
            if p != usize::MAX {
                kids[p].push(c);
            }
        }
        let mut pre = Vec::with_capacity(nc);
        let mut stack: Vec<usize> = roots.clone();
        while let Some(c) = stack.pop() {
            pre.push(c);
            stack.extend(kids[c].iter().copied());
        }
        let mut edges = Vec::with_capacity(nc);
        let mut maps: Vec<u32> = Vec::new();
        let mut sep_total = 0usize;
        for &c in pre.iter().rev() {
            let p = parent[c];
            if p == usize::MAX {
                continue;
            }
            let sep: Vec<VarId> = clique_vars[c]
                .iter()
                .copied()
                .filter(|x| clique_vars[p].binary_search(x).is_ok())
                .collect();
            let sep_len: usize = sep.iter().map(|&v| cards[v]).product();
            let map_child = maps.len();
            maps.extend(index_map(&clique_vars[c], &clique_cards[c], &sep));
            let map_parent = maps.len();
            maps.extend(index_map(&clique_vars[p], &clique_cards[p], &sep));
            edges.push(Edge {
                child: c,
                parent: p,
                sep_off: sep_total,
                sep_len,
                map_child,
                map_parent,
            });
            sep_total += sep_len;
        }
        let stride_of = |c: usize, v: VarId| -> usize {
            let k = clique_vars[c].binary_search(&v).unwrap_or(0);
            strides(&clique_cards[c])[k]
        };
        let home = (0..n).map(|v| (rep[v], stride_of(rep[v], v))).collect();
        let mut best = vec![(usize::MAX, usize::MAX); n];
        for c in 0..nc {
            let size = clique_off[c + 1] - clique_off[c];
            for &v in &clique_vars[c] {
                if size < best[v].0 {
                    best[v] = (size, c);
                }
            }
        }
        let marg = best
            .iter()
            .enumerate()
            .map(|(v, &(_, c))| (c, stride_of(c, v)))
            .collect();
        Ok(Self {
            cards,
            clique_vars,
            clique_off,
            init,
            edges,
            sep_total,
            maps,
            roots,
            home,
            marg,
            treewidth: order.treewidth,
        })
    }

    /// Treewidth of the elimination order used (largest clique minus one).
    pub fn treewidth(&self) -> usize {
        self.treewidth
    }
    /// Number of cliques.
    pub fn n_cliques(&self) -> usize {
        self.clique_vars.len()
    }
    /// Total clique table entries.
    pub fn table_entries(&self) -> usize {
        self.init.len()
    }

    /// All posterior marginals given `evidence` (hard and soft).
    pub fn query(&self, evidence: &Evidence) -> Result<ExactResult, BayesError> {
        let liks = evidence.likelihoods(&self.cards)?;
        let mut pot = self.init.clone();
        for (v, lik) in liks.iter().enumerate() {
            if let Some(l) = lik {
                let (c, stride) = self.home[v];
                scale_axis(
                    &mut pot[self.clique_off[c]..self.clique_off[c + 1]],
                    stride,
                    l,
                );
            }
        }
        let mut sep = vec![0.0; self.sep_total];
        let mut log_z = 0.0;
        // Collect: child -> parent.
        for e in &self.edges {
            let (c0, c1) = (self.clique_off[e.child], self.clique_off[e.child + 1]);
            let msg = &mut sep[e.sep_off..e.sep_off + e.sep_len];
            let cmap = &self.maps[e.map_child..e.map_child + (c1 - c0)];
            for (x, &m) in pot[c0..c1].iter().zip(cmap) {
                msg[m as usize] += x;
            }
            let s: f64 = msg.iter().sum();
            if s <= 0.0 || !s.is_finite() {
                return Err(BayesError::ZeroProbabilityEvidence);
            }
            let inv = 1.0 / s;
            msg.iter_mut().for_each(|x| *x *= inv);
            log_z += s.ln();
            let (p0, p1) = (self.clique_off[e.parent], self.clique_off[e.parent + 1]);
            let pmap = &self.maps[e.map_parent..e.map_parent + (p1 - p0)];
            for (x, &m) in pot[p0..p1].iter_mut().zip(pmap) {
                *x *= msg[m as usize];
            }
        }
        for &r in &self.roots {
            let p = &mut pot[self.clique_off[r]..self.clique_off[r + 1]];
            let s: f64 = p.iter().sum();
            if s <= 0.0 || !s.is_finite() {
                return Err(BayesError::ZeroProbabilityEvidence);
            }
            log_z += s.ln();
            let inv = 1.0 / s;
            p.iter_mut().for_each(|x| *x *= inv);
        }
        // Distribute: parent -> child, dividing out the collect message.
        let mut new = Vec::new();
        for e in self.edges.iter().rev() {
            let (p0, p1) = (self.clique_off[e.parent], self.clique_off[e.parent + 1]);
            let pmap = &self.maps[e.map_parent..e.map_parent + (p1 - p0)];
            new.clear();
            new.resize(e.sep_len, 0.0);
            for (x, &m) in pot[p0..p1].iter().zip(pmap) {
                new[m as usize] += x;
            }
            let s: f64 = new.iter().sum();
            if s <= 0.0 || !s.is_finite() {
                return Err(BayesError::ZeroProbabilityEvidence);
            }
            let old = &sep[e.sep_off..e.sep_off + e.sep_len];
            for (nw, &o) in new.iter_mut().zip(old) {
                *nw = if o > 0.0 { *nw / (s * o) } else { 0.0 };
            }
            let (c0, c1) = (self.clique_off[e.child], self.clique_off[e.child + 1]);
            let cmap = &self.maps[e.map_child..e.map_child + (c1 - c0)];
            for (x, &m) in pot[c0..c1].iter_mut().zip(cmap) {
                *x *= new[m as usize];
            }
        }
        let mut marginals = Vec::with_capacity(self.cards.len());
        for (v, &(c, stride)) in self.marg.iter().enumerate() {
            let mut out = vec![0.0; self.cards[v]];
            sum_axis(
                &pot[self.clique_off[c]..self.clique_off[c + 1]],
                stride,
                &mut out,
            );
            let s: f64 = out.iter().sum();
            if s <= 0.0 || !s.is_finite() {
                return Err(BayesError::ZeroProbabilityEvidence);
            }
            out.iter_mut().for_each(|x| *x /= s);
            marginals.push(out);
        }
        Ok(ExactResult {
            marginals,
            log_evidence: log_z,
        })
    }
}

/// Posterior marginal of one variable by plain variable elimination over
/// [`Factor`]s with the min-fill order (slower than the junction tree; kept as
/// an independent cross-check and for single queries on small networks).
pub fn variable_elimination(
    net: &Network,
    evidence: &Evidence,
    query: VarId,
) -> Result<Vec<f64>, BayesError> {
    let cards: Vec<usize> = net.variables().iter().map(|v| v.card()).collect();
    let liks = evidence.likelihoods(&cards)?;
    let mut factors: Vec<Factor> = (0..net.len())
        .filter_map(|v| Factor::from_cpt(net, v))
        .collect();
    for (v, l) in liks.iter().enumerate() {
        if let Some(l) = l {
            factors.push(Factor::new(vec![v], vec![cards[v]], l.clone())?);
        }
    }
    let order = min_fill_order(net, None);
    for &v in order.order.iter().filter(|&&v| v != query) {
        let (with, without): (Vec<Factor>, Vec<Factor>) =
            factors.into_iter().partition(|f| f.vars().contains(&v));
        factors = without;
        let mut prod = Factor::unit();
        for f in &with {
            prod = prod.product(f)?;
        }
        let mut summed = prod.sum_out(v);
        summed.normalize();
        factors.push(summed);
    }
    let mut prod = Factor::unit();
    for f in &factors {
        prod = prod.product(f)?;
    }
    let mut m = prod.marginalize(&[query]);
    if m.normalize() <= 0.0 {
        return Err(BayesError::ZeroProbabilityEvidence);
    }
    Ok(m.values().to_vec())
}
