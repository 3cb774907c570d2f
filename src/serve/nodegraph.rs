//! The Grafana Node Graph API datasource contract (`/api/graph/fields`, `/api/graph/data`):
//! a node per service with its outage probability as the main statistic and its colour band,
//! an edge per call edge. Pure: snapshot in, JSON out.

use super::snapshot::Snapshot;
use crate::rca::Band;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The colour of a band as Grafana understands it.
#[must_use]
pub fn band_color(band: Band) -> &'static str {
    match band {
        Band::Green => "green",
        Band::Yellow => "yellow",
        Band::Red => "red",
    }
}

/// `/api/graph/fields`: constant, so it always succeeds and matches every `/data` answer.
#[must_use]
pub fn fields() -> Value {
    json!({
        "nodes_fields": [
            {"field_name": "id", "type": "string"},
            {"field_name": "title", "type": "string"},
            {"field_name": "subtitle", "type": "string"},
            {"field_name": "mainstat", "type": "string", "displayName": "P(outage)"},
            {"field_name": "secondarystat", "type": "number", "displayName": "Health score"},
            {"field_name": "color", "type": "string"},
            {"field_name": "detail__band", "type": "string", "displayName": "Band"},
            {"field_name": "detail__p_root_cause", "type": "number", "displayName": "P(root cause)"},
            {"field_name": "detail__evidence", "type": "string", "displayName": "Evidence"}
        ],
        "edges_fields": [
            {"field_name": "id", "type": "string"},
            {"field_name": "source", "type": "string"},
            {"field_name": "target", "type": "string"},
            {"field_name": "mainstat", "type": "string"},
            {"field_name": "thickness", "type": "number"},
            {"field_name": "color", "type": "string"}
        ]
    })
}

fn finite_or_null(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}

/// `/api/graph/data`. Query parameters (the panel's query string): `service=NAME` keeps that
/// service and its direct callers and callees; unknown parameters are ignored.
#[must_use]
pub fn data(snapshot: &Snapshot, params: &BTreeMap<String, String>) -> Value {
    let ranked: BTreeMap<&str, &crate::rca::RankedService> = snapshot
        .ranking
        .ranking
        .iter()
        .map(|r| (r.service.as_str(), r))
        .collect();
    let mut names: BTreeSet<String> = snapshot.graph.services().map(|s| s.name.clone()).collect();
    names.extend(ranked.keys().map(|s| (*s).to_owned()));
    if let Some(focus) = params.get("service").filter(|s| !s.is_empty()) {
        let mut keep: BTreeSet<String> = BTreeSet::from([focus.clone()]);
        keep.extend(snapshot.graph.callers(focus).into_iter().map(str::to_owned));
        keep.extend(snapshot.graph.callees(focus).into_iter().map(str::to_owned));
        names.retain(|name| keep.contains(name));
    }
    let nodes: Vec<Value> = names
        .iter()
        .map(|name| {
            let ranked = ranked.get(name.as_str());
            let p_outage = ranked.map_or(0.0, |r| r.p_outage);
            let band = ranked.map_or(Band::Green, |r| r.band);
            let evidence: Vec<String> = ranked.map(|r| r.evidence.iter().take(3).map(|e| format!("{}: {}", e.kind, e.description)).collect()).unwrap_or_default();
            let subtitle = snapshot.graph.service(name).map_or_else(|| snapshot.namespace.clone(), |s| format!("{} · {:?}", snapshot.namespace, s.role).to_lowercase());
            json!({
                "id": name,
                "title": name,
                "subtitle": subtitle,
                "mainstat": format!("{:.0}%", p_outage * 100.0),
                "secondarystat": finite_or_null(snapshot.health.get(name).copied().unwrap_or(f64::NAN)),
                "color": band_color(band),
                "detail__band": format!("{band:?}").to_lowercase(),
                "detail__p_root_cause": ranked.map_or(0.0, |r| r.p_root_cause),
                "detail__evidence": if evidence.is_empty() { "no anomaly".to_owned() } else { evidence.join("; ") },
            })
        })
        .collect();
    let edges: Vec<Value> = snapshot
        .graph
        .edges()
        .into_iter()
        .filter(|(caller, callee, _)| names.contains(*caller) && names.contains(*callee))
        .map(|(caller, callee, edge)| {
            let failing = edge.error_rate.is_finite() && edge.error_rate > 0.05;
            let callee_red = ranked.get(callee).is_some_and(|r| r.band == Band::Red);
            let label = match edge.protocol {
                crate::model::Protocol::Tcp => format!("{:.0} B/s", edge.bytes_rate),
                _ if edge.error_rate.is_finite() => format!(
                    "{:.1} rps, {:.0}% err",
                    edge.request_rate,
                    edge.error_rate * 100.0
                ),
                _ => format!("{:.1} rps", edge.request_rate),
            };
            json!({
                "id": format!("{caller}->{callee}"),
                "source": caller,
                "target": callee,
                "mainstat": label,
                "thickness": 1.0 + (edge.request_rate.max(0.0) + 1.0).log10().min(4.0),
                "color": if failing || callee_red { "red" } else { "gray" },
            })
        })
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallEdge, ServiceGraph, Timestamp};
    use crate::rca::{LinkStrengths, RcaConfig, ServiceEvidence, rank};

    fn snapshot() -> Snapshot {
        let graph = crate::sim::topology::service_graph();
        let mut evidence: BTreeMap<String, ServiceEvidence> = BTreeMap::new();
        evidence.insert(
            "shipping".into(),
            ServiceEvidence {
                degraded: Some(0.95),
                ..ServiceEvidence::default()
            },
        );
        evidence.insert(
            "orders".into(),
            ServiceEvidence {
                degraded: Some(0.9),
                ..ServiceEvidence::default()
            },
        );
        evidence.insert(
            "front-end".into(),
            ServiceEvidence {
                degraded: Some(0.8),
                ..ServiceEvidence::default()
            },
        );
        let ranking = rank(
            &graph,
            &evidence,
            &LinkStrengths::new(),
            &RcaConfig::default(),
        )
        .expect("ranks");
        let mut snapshot = Snapshot::empty("sock-shop", Timestamp(0));
        snapshot.graph = graph;
        snapshot.graph.set_edge(
            "orders",
            "shipping",
            CallEdge {
                request_rate: 2.0,
                error_rate: 0.5,
                ..CallEdge::default()
            },
        );
        snapshot.ranking = ranking;
        snapshot.health.insert("shipping".into(), 0.2);
        snapshot
    }

    #[test]
    fn every_edge_points_at_existing_nodes_and_fields_cover_every_key() {
        let snapshot = snapshot();
        let data = data(&snapshot, &BTreeMap::new());
        let fields = fields();
        let node_fields: BTreeSet<&str> = fields["nodes_fields"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|f| f["field_name"].as_str())
            .collect();
        let edge_fields: BTreeSet<&str> = fields["edges_fields"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|f| f["field_name"].as_str())
            .collect();
        let nodes = data["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 14);
        let ids: BTreeSet<&str> = nodes.iter().filter_map(|n| n["id"].as_str()).collect();
        for node in nodes {
            assert!(
                node.as_object()
                    .expect("object")
                    .keys()
                    .all(|k| node_fields.contains(k.as_str()))
            );
        }
        let edges = data["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), 15);
        for edge in edges {
            assert!(
                ids.contains(edge["source"].as_str().expect("source"))
                    && ids.contains(edge["target"].as_str().expect("target"))
            );
            assert!(
                edge.as_object()
                    .expect("object")
                    .keys()
                    .all(|k| edge_fields.contains(k.as_str()))
            );
        }
        let shipping = nodes
            .iter()
            .find(|n| n["id"] == "shipping")
            .expect("shipping");
        assert_eq!(shipping["color"], "red");
        assert!(shipping["mainstat"].as_str().expect("text").ends_with('%'));
        assert_eq!(shipping["secondarystat"], 0.2);
        let edge = edges
            .iter()
            .find(|e| e["id"] == "orders->shipping")
            .expect("edge");
        assert_eq!(edge["mainstat"], "2.0 rps, 50% err");
        assert_eq!(edge["color"], "red");
    }

    #[test]
    fn service_parameter_keeps_the_neighbourhood_and_empty_is_valid() {
        let snapshot = snapshot();
        let params = BTreeMap::from([
            ("service".to_owned(), "shipping".to_owned()),
            ("window".to_owned(), "5m".to_owned()),
        ]);
        let data = data(&snapshot, &params);
        let ids: BTreeSet<&str> = data["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter_map(|n| n["id"].as_str())
            .collect();
        assert_eq!(ids, BTreeSet::from(["orders", "rabbitmq", "shipping"]));
        assert_eq!(data["edges"].as_array().expect("edges").len(), 2);
        let empty = super::data(&Snapshot::empty("x", Timestamp(0)), &BTreeMap::new());
        assert_eq!(empty, json!({"nodes": [], "edges": []}));
        let _ = ServiceGraph::new();
    }
}
