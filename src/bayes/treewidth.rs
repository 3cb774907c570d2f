//! Moral graph, greedy weighted min-fill elimination ordering, and the
//! treewidth / clique-table-size estimate derived from the elimination order.
//!
//! The elimination order drives both the junction tree (`exact.rs`) and the
//! facade's decision between exact and approximate inference: the estimate is
//! the exact cost of the junction tree that would be built from this order.
//!
//! Heuristic: repeatedly eliminate the variable whose elimination adds the
//! least *weighted* fill (sum of `card(a) * card(b)` over missing neighbour
//! pairs), ties broken by the size of the clique it creates, then by id. For
//! neighbourhoods larger than [`EXACT_FILL_DEGREE`] the fill is bounded by all
//! pairs instead of counted (keeps hubs from costing O(d^2) per update). The
//! search stops early when a clique exceeds the caller's budget.
//!
//! Invariant: pure and deterministic (no I/O, no randomness).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::network::{Network, VarId};

/// Above this many neighbours the fill is not counted but bounded by all pairs.
pub const EXACT_FILL_DEGREE: usize = 48;

/// Result of a greedy elimination.
#[derive(Debug, Clone, PartialEq)]
pub struct EliminationOrder {
    /// Variables in elimination order (complete only if `complete`).
    pub order: Vec<VarId>,
    /// `cliques[k]` = `order[k]` followed by its not-yet-eliminated neighbours
    /// (sorted) at the time it was eliminated.
    pub cliques: Vec<Vec<VarId>>,
    /// Largest clique size minus one (an upper bound on the true treewidth).
    pub treewidth: usize,
    /// Largest clique table (product of cardinalities).
    pub max_clique_entries: u128,
    /// Sum of all clique tables: the junction tree's memory in table entries.
    pub total_entries: u128,
    /// False when the search stopped because `total_entries` exceeded the budget.
    pub complete: bool,
}

/// Undirected moral graph: parents of each child are married; sorted adjacency lists.
pub fn moral_graph(net: &Network) -> Vec<Vec<VarId>> {
    let n = net.len();
    let mut adj: Vec<Vec<VarId>> = vec![Vec::new(); n];
    for (c, v) in net.variables().iter().enumerate() {
        let ps = v.parents();
        for (i, &p) in ps.iter().enumerate() {
            adj[p].push(c);
            adj[c].push(p);
            for &q in &ps[i + 1..] {
                adj[p].push(q);
                adj[q].push(p);
            }
        }
    }
    for a in &mut adj {
        a.sort_unstable();
        a.dedup();
    }
    adj
}

fn contains(sorted: &[VarId], x: VarId) -> bool {
    sorted.binary_search(&x).is_ok()
}

fn insert(sorted: &mut Vec<VarId>, x: VarId) -> bool {
    match sorted.binary_search(&x) {
        Ok(_) => false,
        Err(i) => {
            sorted.insert(i, x);
            true
        }
    }
}

type Score = (u128, u128, VarId);

fn score(adj: &[Vec<VarId>], cards: &[u128], v: VarId) -> Score {
    let nb = &adj[v];
    let weight = nb
        .iter()
        .fold(cards[v], |acc, &u| acc.saturating_mul(cards[u]));
    let mut fill: u128 = 0;
    if nb.len() > EXACT_FILL_DEGREE {
        let s: u128 = nb.iter().map(|&u| cards[u]).sum();
        let sq: u128 = nb.iter().map(|&u| cards[u] * cards[u]).sum();
        fill = s.saturating_mul(s).saturating_sub(sq) / 2;
    } else {
        for (i, &a) in nb.iter().enumerate() {
            for &b in &nb[i + 1..] {
                if !contains(&adj[a], b) {
                    fill = fill.saturating_add(cards[a] * cards[b]);
                }
            }
        }
    }
    (fill, weight, v)
}

/// Greedy weighted min-fill elimination of all variables of `net`. Stops early
/// (with `complete = false`) once the accumulated clique tables exceed
/// `budget` entries (`None` = no limit).
pub fn min_fill_order(net: &Network, budget: Option<u128>) -> EliminationOrder {
    let n = net.len();
    let cards: Vec<u128> = net.variables().iter().map(|v| v.card() as u128).collect();
    let mut adj = moral_graph(net);
    let mut version = vec![0u32; n];
    let mut done = vec![false; n];
    let mut heap: BinaryHeap<Reverse<(Score, u32)>> = (0..n)
        .map(|v| Reverse((score(&adj, &cards, v), 0)))
        .collect();
    let mut out = EliminationOrder {
        order: Vec::with_capacity(n),
        cliques: Vec::with_capacity(n),
        treewidth: 0,
        max_clique_entries: 0,
        total_entries: 0,
        complete: true,
    };
    let mut touched: Vec<VarId> = Vec::new();
    let mut mark = vec![false; n];
    while let Some(Reverse(((_, weight, v), ver))) = heap.pop() {
        if done[v] || ver != version[v] {
            continue;
        }
        let nb = std::mem::take(&mut adj[v]);
        out.treewidth = out.treewidth.max(nb.len());
        out.max_clique_entries = out.max_clique_entries.max(weight);
        out.total_entries = out.total_entries.saturating_add(weight);
        let mut clique = Vec::with_capacity(nb.len() + 1);
        clique.push(v);
        clique.extend_from_slice(&nb);
        out.order.push(v);
        out.cliques.push(clique);
        done[v] = true;
        if budget.is_some_and(|b| out.total_entries > b) {
            out.complete = false;
            return out;
        }
        // connect the neighbours, remove v
        touched.clear();
        for (i, &a) in nb.iter().enumerate() {
            if let Ok(pos) = adj[a].binary_search(&v) {
                adj[a].remove(pos);
            }
            for &b in &nb[i + 1..] {
                if insert(&mut adj[a], b) {
                    insert(&mut adj[b], a);
                    for &x in [a, b].iter() {
                        if !mark[x] {
                            mark[x] = true;
                            touched.push(x);
                        }
                    }
                }
            }
        }
        // rescore neighbours, and neighbours of endpoints of new fill edges
        let mut rescore: Vec<VarId> = nb.clone();
        for &x in &touched {
            mark[x] = false;
            rescore.extend(adj[x].iter().copied());
        }
        rescore.sort_unstable();
        rescore.dedup();
        for u in rescore {
            if !done[u] {
                version[u] = version[u].wrapping_add(1);
                heap.push(Reverse((score(&adj, &cards, u), version[u])));
            }
        }
    }
    out
}

/// Treewidth and junction-tree size estimate of a network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreewidthEstimate {
    /// Upper bound on the treewidth (largest clique minus one).
    pub treewidth: usize,
    /// Largest clique table in entries.
    pub max_clique_entries: u128,
    /// Total clique table entries of the junction tree.
    pub total_entries: u128,
}

/// Estimate treewidth and table sizes from the min-fill elimination order.
pub fn estimate(net: &Network) -> TreewidthEstimate {
    let o = min_fill_order(net, None);
    TreewidthEstimate {
        treewidth: o.treewidth,
        max_clique_entries: o.max_clique_entries,
        total_entries: o.total_entries,
    }
}
