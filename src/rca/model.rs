//! Builds the root-cause network from a service graph and evidence, runs inference, and turns
//! posteriors into a ranking with bands and explanations.

use super::links::LinkStrengths;
use crate::bayes::{BayesError, Evidence, Finding, InferOptions, NetworkBuilder, infer};
use crate::model::ServiceGraph;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Tunables of the root-cause model, with documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RcaConfig {
    /// Prior probability that a healthy-looking service is at fault.
    pub base_prior: f64,
    /// Added to the prior in proportion to `1 - health` (MAIA health score 0 → +this).
    pub health_prior_weight: f64,
    /// Added to the prior when the service was deployed recently.
    pub deploy_prior: f64,
    /// P(degraded | own fault).
    pub own_degrade_strength: f64,
    /// P(starved | own fault): a failing service usually stops answering too.
    pub own_starve_strength: f64,
    /// Default P(caller degraded | callee degraded) before learning.
    pub default_link: f64,
    /// P(callee starved | caller starved).
    pub starve_link: f64,
    /// Leak: symptoms without any modelled cause.
    pub leak: f64,
    /// Parents per noisy-OR node before it is split into a chain (keeps CPTs small).
    pub max_parents: usize,
    /// Scores are clamped to [floor, 1 - floor], so no detector score is taken as certain.
    pub evidence_floor: f64,
    /// Share of windows a detector flags in normal operation: a score `s` becomes the
    /// likelihood ratio odds(s) / odds(base rate).
    pub detector_base_rate: f64,
}

impl Default for RcaConfig {
    fn default() -> Self {
        Self {
            base_prior: 0.01,
            health_prior_weight: 0.15,
            deploy_prior: 0.05,
            own_degrade_strength: 0.95,
            own_starve_strength: 0.6,
            default_link: 0.7,
            starve_link: 0.8,
            leak: 0.001,
            max_parents: 8,
            evidence_floor: 0.002,
            detector_base_rate: 0.05,
        }
    }
}

/// One piece of evidence about a service, as shown to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceItem {
    /// Signal kind: `logs`, `traces`, `metrics`, `deploy`, …
    pub kind: String,
    /// What was seen (untrusted text may appear in it; sanitise before drawing).
    pub description: String,
    /// Anomaly score in [0, 1].
    pub score: f64,
}

/// What the detectors say about one service. Scores are in [0, 1]; `None` means no data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceEvidence {
    /// Errors, latency, log anomalies.
    pub degraded: Option<f64>,
    /// Lost traffic or silence.
    pub starved: Option<f64>,
    /// MAIA health score in [0, 1].
    pub health: Option<f64>,
    /// Deployed or restarted within the deploy TTL.
    pub deployed_recently: bool,
    /// The items behind the scores.
    pub items: Vec<EvidenceItem>,
}

/// The paper's colour bands of an outage probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// 0–15 %.
    Green,
    /// 16–45 %.
    Yellow,
    /// 46–100 %.
    Red,
}

impl Band {
    /// Band of a probability, by whole percent as displayed.
    #[must_use]
    pub fn of(probability: f64) -> Self {
        let percent = (probability * 100.0).round();
        if percent <= 15.0 {
            Self::Green
        } else if percent <= 45.0 {
            Self::Yellow
        } else {
            Self::Red
        }
    }
}

/// One service in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedService {
    /// Service name.
    pub service: String,
    /// Probability that this service is the single root cause (odds of its own fault,
    /// normalised against the other services and "no fault").
    pub p_root_cause: f64,
    /// Probability that the service itself has failed, with inherited symptoms explained away.
    pub p_outage: f64,
    /// Colour band of `p_outage`.
    pub band: Band,
    /// Probability the service shows degradation (own or inherited).
    pub p_degraded: f64,
    /// Evidence that raised it.
    pub evidence: Vec<EvidenceItem>,
    /// Paths along which its failure explains other services' symptoms
    /// (`["front-end", "orders", "shipping"]` = front-end suffers through orders).
    pub explains: Vec<Vec<String>>,
}

/// The result of ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// Services, most likely root cause first.
    pub ranking: Vec<RankedService>,
    /// A one-line verdict; says so when nothing is wrong.
    pub verdict: String,
    /// Whether any service is above the green band.
    pub incident: bool,
    /// Inference algorithm used.
    pub algorithm: String,
}

/// Errors building or solving the model.
#[derive(Debug, thiserror::Error)]
pub enum RcaError {
    /// The graph has no services.
    #[error(
        "the service graph is empty: no services to rank (check that the sources return telemetry)"
    )]
    EmptyGraph,
    /// Inference failed.
    #[error("root-cause inference failed: {0}")]
    Inference(#[from] BayesError),
}

const NO_YES: [&str; 2] = ["no", "yes"];

fn fault_var(service: &str) -> String {
    format!("fault.{service}")
}
fn degraded_var(service: &str) -> String {
    format!("degraded.{service}")
}
fn starved_var(service: &str) -> String {
    format!("starved.{service}")
}

/// Noisy-OR table over `strengths` (parent order = table order, last parent fastest), states
/// `[no, yes]`, with a leak.
fn noisy_or_table(strengths: &[f64], leak: f64) -> Vec<f64> {
    let n = strengths.len();
    let mut table = Vec::with_capacity(2 << n);
    for configuration in 0..(1_usize << n) {
        let mut stays_ok = 1.0 - leak;
        for (index, strength) in strengths.iter().enumerate() {
            if (configuration >> (n - 1 - index)) & 1 == 1 {
                stays_ok *= 1.0 - strength;
            }
        }
        table.push(stays_ok);
        table.push(1.0 - stays_ok);
    }
    table
}

/// Adds `child = noisy-OR(parents)`; when there are more than `max_parents` parents, the extra
/// ones are folded into a chain of intermediate OR nodes (exact for noisy-OR).
fn add_noisy_or(
    builder: &mut NetworkBuilder,
    child: &str,
    parents: &[(String, f64)],
    leak: f64,
    max_parents: usize,
) {
    let max_parents = max_parents.max(2);
    if parents.len() <= max_parents {
        let names: Vec<&str> = parents.iter().map(|(name, _)| name.as_str()).collect();
        let strengths: Vec<f64> = parents.iter().map(|(_, strength)| *strength).collect();
        builder.cpt(child, names, noisy_or_table(&strengths, leak));
        return;
    }
    // First max_parents - 1 parents feed an intermediate node; it joins the rest with strength 1.
    let (head, tail) = parents.split_at(max_parents - 1);
    let intermediate = format!("{child}~{}", tail.len());
    builder.variable(intermediate.as_str(), NO_YES);
    add_noisy_or(builder, &intermediate, tail, 0.0, max_parents);
    let mut joined: Vec<(String, f64)> = head.to_vec();
    joined.push((intermediate, 1.0));
    add_noisy_or(builder, child, &joined, leak, max_parents);
}

/// Soft evidence for a binary `[no, yes]` node from an anomaly score: the likelihood ratio is
/// the score's odds over the detector's base-rate odds (a calibrated score `s` is the detector's
/// posterior under its own prior; dividing that prior out leaves the evidence).
fn likelihood(score: f64, config: &RcaConfig) -> Vec<f64> {
    let floor = config.evidence_floor.clamp(1e-6, 0.49);
    let score = if score.is_finite() {
        score.clamp(floor, 1.0 - floor)
    } else {
        config.detector_base_rate
    };
    let base = config.detector_base_rate.clamp(floor, 1.0 - floor);
    let ratio = (score / (1.0 - score)) / (base / (1.0 - base));
    vec![1.0 / (1.0 + ratio), ratio / (1.0 + ratio)]
}

/// Edges of the call graph whose removal leaves it acyclic (DFS back edges), as (caller, callee).
fn back_edges(graph: &ServiceGraph) -> BTreeSet<(String, String)> {
    let names: Vec<String> = graph.services().map(|s| s.name.clone()).collect();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on stack, 2 = done
    let mut back = BTreeSet::new();
    for root in &names {
        if state.contains_key(root.as_str()) {
            continue;
        }
        // Iterative DFS: (node, next callee index).
        let mut stack: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
        state.insert(root.as_str(), 1);
        while let Some((node, next)) = stack.pop() {
            let callees = graph.callees(node);
            if let Some(callee) = callees.get(next) {
                stack.push((node, next + 1));
                let callee_name = names
                    .iter()
                    .find(|n| n.as_str() == *callee)
                    .map_or(*callee, String::as_str);
                match state.get(callee_name) {
                    Some(1) => {
                        back.insert((node.to_owned(), callee_name.to_owned()));
                    }
                    Some(_) => {}
                    None => {
                        state.insert(callee_name, 1);
                        stack.push((callee_name, 0));
                    }
                }
            } else {
                state.insert(node, 2);
            }
        }
    }
    back
}

/// Ranks every service of `graph` given the evidence.
///
/// # Errors
/// When the graph is empty or inference fails (which a well-formed model does not).
pub fn rank(
    graph: &ServiceGraph,
    evidence: &BTreeMap<String, ServiceEvidence>,
    links: &LinkStrengths,
    config: &RcaConfig,
) -> Result<Ranking, RcaError> {
    let mut services: Vec<String> = graph.services().map(|s| s.name.clone()).collect();
    // Services with evidence but missing from the graph still get ranked (isolated nodes).
    for name in evidence.keys() {
        if !services.contains(name) {
            services.push(name.clone());
        }
    }
    if services.is_empty() {
        return Err(RcaError::EmptyGraph);
    }
    services.sort();
    let back = back_edges(graph);
    let no_evidence = ServiceEvidence::default();
    let mut builder = NetworkBuilder::new("baynet_rca");
    for service in &services {
        builder.variable(fault_var(service), NO_YES);
        builder.variable(degraded_var(service), NO_YES);
        builder.variable(starved_var(service), NO_YES);
    }
    for service in &services {
        let facts = evidence.get(service).unwrap_or(&no_evidence);
        let health_penalty = facts.health.map_or(0.0, |h| {
            if h.is_finite() {
                1.0 - h.clamp(0.0, 1.0)
            } else {
                0.0
            }
        });
        let prior = (config.base_prior
            + config.health_prior_weight * health_penalty
            + if facts.deployed_recently {
                config.deploy_prior
            } else {
                0.0
            })
        .clamp(1e-4, 0.5);
        builder.cpt(
            fault_var(service),
            Vec::<String>::new(),
            vec![1.0 - prior, prior],
        );
        let mut degrade_parents = vec![(fault_var(service), config.own_degrade_strength)];
        for callee in graph.callees(service) {
            let strength = links.strength(service, callee, config.default_link);
            let parent = if back.contains(&(service.clone(), callee.to_owned())) {
                fault_var(callee)
            } else {
                degraded_var(callee)
            };
            degrade_parents.push((parent, strength));
        }
        add_noisy_or(
            &mut builder,
            &degraded_var(service),
            &degrade_parents,
            config.leak,
            config.max_parents,
        );
        let mut starve_parents = vec![(fault_var(service), config.own_starve_strength)];
        for caller in graph.callers(service) {
            let parent = if back.contains(&(caller.to_owned(), service.clone())) {
                fault_var(caller)
            } else {
                starved_var(caller)
            };
            starve_parents.push((parent, config.starve_link));
        }
        add_noisy_or(
            &mut builder,
            &starved_var(service),
            &starve_parents,
            config.leak,
            config.max_parents,
        );
    }
    let network = builder.build()?;
    let mut findings = Evidence::new();
    for service in &services {
        let Some(facts) = evidence.get(service) else {
            continue;
        };
        if let (Some(score), Some(id)) = (facts.degraded, network.id(&degraded_var(service))) {
            findings.push(id, Finding::Soft(likelihood(score, config)));
        }
        if let (Some(score), Some(id)) = (facts.starved, network.id(&starved_var(service))) {
            findings.push(id, Finding::Soft(likelihood(score, config)));
        }
    }
    let posteriors = infer(&network, &findings, &InferOptions::default())?;
    let probability = |name: &str| posteriors.prob(&network, name, "yes").unwrap_or(0.0);
    let p_outage: BTreeMap<&str, f64> = services
        .iter()
        .map(|s| (s.as_str(), probability(&fault_var(s))))
        .collect();
    let p_degraded: BTreeMap<&str, f64> = services
        .iter()
        .map(|s| (s.as_str(), probability(&degraded_var(s))))
        .collect();
    let odds: BTreeMap<&str, f64> = p_outage
        .iter()
        .map(|(s, p)| (*s, p / (1.0 - p).max(1e-12)))
        .collect();
    let total_odds: f64 = 1.0 + odds.values().sum::<f64>();
    let mut ranking: Vec<RankedService> = services
        .iter()
        .map(|service| {
            let p = p_outage[service.as_str()];
            let mut items = evidence
                .get(service)
                .map(|e| e.items.clone())
                .unwrap_or_default();
            items.sort_by(|a, b| b.score.total_cmp(&a.score));
            RankedService {
                service: service.clone(),
                p_root_cause: odds[service.as_str()] / total_odds,
                p_outage: p,
                band: Band::of(p),
                p_degraded: p_degraded[service.as_str()],
                evidence: items,
                explains: explanation_paths(graph, service, &p_outage, &p_degraded),
            }
        })
        .collect();
    ranking.sort_by(|a, b| {
        b.p_root_cause
            .total_cmp(&a.p_root_cause)
            .then_with(|| a.service.cmp(&b.service))
    });
    let incident = ranking.iter().any(|r| r.band != Band::Green);
    let verdict = match ranking.first() {
        Some(top) if incident => {
            let symptoms: Vec<&str> = top
                .explains
                .iter()
                .filter_map(|path| path.first().map(String::as_str))
                .collect();
            if symptoms.is_empty() {
                format!(
                    "{} is the most likely root cause ({:.0} % outage probability)",
                    top.service,
                    top.p_outage * 100.0
                )
            } else {
                format!(
                    "{} is the most likely root cause ({:.0} % outage probability); it explains the symptoms of {}",
                    top.service,
                    top.p_outage * 100.0,
                    symptoms.join(", ")
                )
            }
        }
        _ => "no service is likely failing: every outage probability is in the green band (≤ 15 %)"
            .to_owned(),
    };
    Ok(Ranking {
        ranking,
        verdict,
        incident,
        algorithm: posteriors.algorithm.name().to_owned(),
    })
}

/// Callers (transitively) that look degraded but are not failing themselves, reached from
/// `service` through degraded callers: the paths along which its failure explains them.
fn explanation_paths(
    graph: &ServiceGraph,
    service: &str,
    p_outage: &BTreeMap<&str, f64>,
    p_degraded: &BTreeMap<&str, f64>,
) -> Vec<Vec<String>> {
    if p_outage.get(service).copied().unwrap_or(0.0) <= 0.15 {
        return Vec::new();
    }
    let mut paths = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::from([service.to_owned()]);
    let mut queue: VecDeque<Vec<String>> = VecDeque::from([vec![service.to_owned()]]);
    while let Some(path) = queue.pop_front() {
        let Some(last) = path.last() else { continue };
        for caller in graph.callers(last) {
            if seen.contains(caller) || p_degraded.get(caller).copied().unwrap_or(0.0) < 0.5 {
                continue;
            }
            seen.insert(caller.to_owned());
            let mut longer = path.clone();
            longer.push(caller.to_owned());
            if p_outage.get(caller).copied().unwrap_or(0.0) < 0.15 {
                let mut shown = longer.clone();
                shown.reverse();
                paths.push(shown);
            }
            queue.push_back(longer);
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallEdge;

    fn sock_shop() -> ServiceGraph {
        crate::sim::topology::service_graph()
    }

    fn degraded(score: f64) -> ServiceEvidence {
        ServiceEvidence {
            degraded: Some(score),
            starved: Some(0.0),
            health: Some(1.0 - score * 0.6),
            ..ServiceEvidence::default()
        }
    }

    fn calm() -> ServiceEvidence {
        ServiceEvidence {
            degraded: Some(0.02),
            starved: Some(0.02),
            health: Some(1.0),
            ..ServiceEvidence::default()
        }
    }

    fn evidence(pairs: &[(&str, ServiceEvidence)]) -> BTreeMap<String, ServiceEvidence> {
        let mut all: BTreeMap<String, ServiceEvidence> = sock_shop()
            .services()
            .map(|s| (s.name.clone(), calm()))
            .collect();
        for (name, facts) in pairs {
            all.insert((*name).to_owned(), facts.clone());
        }
        all
    }

    #[test]
    fn a_failing_dependency_explains_its_callers_away() {
        // The paper's case: shipping fails, orders and front-end show the symptoms.
        let facts = evidence(&[
            ("shipping", degraded(0.95)),
            ("orders", degraded(0.9)),
            ("front-end", degraded(0.8)),
        ]);
        let ranking = rank(
            &sock_shop(),
            &facts,
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .expect("ranks");
        let top = &ranking.ranking[0];
        assert_eq!(top.service, "shipping");
        assert_eq!(top.band, Band::Red);
        let orders = ranking
            .ranking
            .iter()
            .find(|r| r.service == "orders")
            .expect("present");
        assert!(
            orders.p_outage < 0.3 * top.p_outage,
            "orders {} vs shipping {}",
            orders.p_outage,
            top.p_outage
        );
        assert!(
            orders.p_degraded > 0.8,
            "orders is degraded, just not the cause"
        );
        assert!(
            top.explains.contains(&vec![
                "front-end".to_owned(),
                "orders".to_owned(),
                "shipping".to_owned()
            ]),
            "{:?}",
            top.explains
        );
        assert!(
            ranking
                .verdict
                .starts_with("shipping is the most likely root cause"),
            "{}",
            ranking.verdict
        );
        let total: f64 = ranking.ranking.iter().map(|r| r.p_root_cause).sum();
        assert!(total < 1.0 && total > 0.5);
    }

    #[test]
    fn nothing_wrong_means_everything_green_and_says_so() {
        let ranking = rank(
            &sock_shop(),
            &evidence(&[]),
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .expect("ranks");
        assert!(!ranking.incident);
        assert!(
            ranking
                .ranking
                .iter()
                .all(|r| r.band == Band::Green && r.p_outage < 0.15),
            "{:?}",
            ranking
                .ranking
                .iter()
                .map(|r| (&r.service, r.p_outage))
                .collect::<Vec<_>>()
        );
        assert!(ranking.verdict.starts_with("no service is likely failing"));
    }

    #[test]
    fn a_dead_entry_point_explains_the_silence_behind_it() {
        let mut dead = degraded(0.3);
        dead.starved = Some(0.98);
        let quiet = ServiceEvidence {
            degraded: Some(0.05),
            starved: Some(0.9),
            health: Some(1.0),
            ..ServiceEvidence::default()
        };
        let facts = evidence(&[
            ("front-end", dead),
            ("catalogue", quiet.clone()),
            ("carts", quiet.clone()),
            ("orders", quiet.clone()),
            ("user", quiet),
        ]);
        let ranking = rank(
            &sock_shop(),
            &facts,
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .expect("ranks");
        assert_eq!(ranking.ranking[0].service, "front-end");
        let carts = ranking
            .ranking
            .iter()
            .find(|r| r.service == "carts")
            .expect("present");
        assert_eq!(carts.band, Band::Green);
    }

    #[test]
    fn recent_deploys_and_low_health_raise_the_prior() {
        let mut deployed = calm();
        deployed.degraded = Some(0.5);
        let base = rank(
            &sock_shop(),
            &evidence(&[("payment", deployed.clone())]),
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .expect("ranks");
        deployed.deployed_recently = true;
        let raised = rank(
            &sock_shop(),
            &evidence(&[("payment", deployed)]),
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .expect("ranks");
        let p = |r: &Ranking| {
            r.ranking
                .iter()
                .find(|s| s.service == "payment")
                .map_or(0.0, |s| s.p_outage)
        };
        assert!(
            p(&raised) > p(&base) * 1.5,
            "{} vs {}",
            p(&raised),
            p(&base)
        );
    }

    #[test]
    fn cycles_and_new_services_are_handled() {
        let mut graph = ServiceGraph::new();
        graph.set_edge("a", "b", CallEdge::default());
        graph.set_edge("b", "c", CallEdge::default());
        graph.set_edge("c", "a", CallEdge::default());
        let mut facts = BTreeMap::new();
        facts.insert("c".to_owned(), degraded(0.95));
        facts.insert("b".to_owned(), degraded(0.85));
        facts.insert(
            "a".to_owned(),
            ServiceEvidence {
                degraded: Some(0.05),
                ..ServiceEvidence::default()
            },
        );
        facts.insert("newcomer".to_owned(), degraded(0.1));
        let ranking = rank(&graph, &facts, &LinkStrengths::new(), &RcaConfig::default())
            .expect("cyclic graphs rank");
        assert_eq!(ranking.ranking[0].service, "c");
        assert!(ranking.ranking.iter().any(|r| r.service == "newcomer"));
        assert!(matches!(
            rank(
                &ServiceGraph::new(),
                &BTreeMap::new(),
                &LinkStrengths::new(),
                &RcaConfig::default()
            ),
            Err(RcaError::EmptyGraph)
        ));
    }

    #[test]
    fn hubs_with_many_callers_stay_tractable() {
        let mut graph = ServiceGraph::new();
        for index in 0..40 {
            graph.set_edge(&format!("svc{index}"), "db", CallEdge::default());
        }
        let mut facts: BTreeMap<String, ServiceEvidence> = (0..40)
            .map(|i| (format!("svc{i}"), degraded(0.8)))
            .collect();
        facts.insert("db".to_owned(), degraded(0.9));
        let ranking =
            rank(&graph, &facts, &LinkStrengths::new(), &RcaConfig::default()).expect("ranks");
        assert_eq!(ranking.ranking[0].service, "db");
        assert_eq!(ranking.algorithm, "junction_tree");
    }

    #[test]
    fn learned_links_change_the_explanation() {
        let facts = evidence(&[("shipping", degraded(0.6)), ("orders", degraded(0.9))]);
        let mut links = LinkStrengths::new();
        let prior = rank(&sock_shop(), &facts, &links, &RcaConfig::default()).expect("ranks");
        links.observe("orders", "shipping", 0.0, 200.0);
        let learned = rank(&sock_shop(), &facts, &links, &RcaConfig::default()).expect("ranks");
        let p = |r: &Ranking, s: &str| {
            r.ranking
                .iter()
                .find(|x| x.service == s)
                .map_or(0.0, |x| x.p_outage)
        };
        assert!(
            p(&learned, "orders") > p(&prior, "orders"),
            "shipping no longer explains orders once we learn it never propagates"
        );
    }
}
