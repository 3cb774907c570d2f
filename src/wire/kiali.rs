//! Service graphs on the wire: Kiali's `/api/namespaces/graph` JSON and Baynet's simple edge
//! list `{"edges":[{"source":"a","target":"b",…}]}`, decoded to a [`ServiceGraph`].
//!
//! Invariant: node names are workloads (falling back to app, then service), never Kiali's
//! SHA-256 node ids; an edge pointing at an unknown node id is an error, not a silent drop;
//! rates Kiali omits are zero, while error rate and latency that cannot be known are NaN
//! (`null` in the simple form).

use crate::model::graph::ServiceNode;
use crate::model::{CallEdge, Protocol, ServiceGraph, ServiceRole};
use crate::wire::WireError;
use crate::wire::json::{
    MAX_ERROR_TEXT, Path, collapse, float_lenient, object, opt_array, opt_str, parse_document,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Decodes Kiali graph JSON (`{"elements":{"nodes":[…],"edges":[…]}}`) or the simple form
/// (`{"edges":[{"source","target","protocol"?,"request_rate"?,"error_rate"?,"latency_ms"?,
/// "bytes_rate"?}], "services"?:[{"name","role"?}]}`).
///
/// Kiali specifics: box nodes and the `unknown` node (traffic from outside the mesh) are not
/// services and their edges are dropped; HTTP error rate is `(http5xx + httpNoResponse) / http`,
/// gRPC `(grpcErr + grpcNoResponse) / grpc`; TCP edges carry `bytes_rate` and an unknown
/// (NaN) error rate; `responseTime` (ms) becomes `latency_ms`.
///
/// # Errors
/// [`WireError::Server`] for Kiali's `{"error","detail"}` body, [`WireError::NotJson`] for
/// non-JSON, [`WireError::Invalid`] with the path of a bad node, edge or rate.
pub fn decode_graph(bytes: &[u8]) -> Result<ServiceGraph, WireError> {
    decode_graph_value(&parse_document(bytes)?)
}

/// As [`decode_graph`], on a parsed document.
///
/// # Errors
/// As [`decode_graph`].
pub fn decode_graph_value(value: &Value) -> Result<ServiceGraph, WireError> {
    let root = Path::root();
    let obj = object(value, &root)?;
    if let Some(error) = obj.get("error").filter(|e| !e.is_null()) {
        let mut message = match error {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        if let Some(Value::String(detail)) = obj.get("detail")
            && !detail.is_empty()
        {
            message = format!("{message} ({detail})");
        }
        return Err(WireError::Server {
            error_type: "kiali".to_owned(),
            message: collapse(&message, MAX_ERROR_TEXT),
        });
    }
    if let Some(elements) = obj.get("elements") {
        return decode_kiali(elements, &root.key("elements"));
    }
    if obj.contains_key("edges") || obj.contains_key("services") {
        return decode_simple(obj, &root);
    }
    Err(root.err("expected Kiali graph JSON (`elements`) or an edge list (`edges`)"))
}

/// The `data` object of a Kiali node or edge element.
fn element_data<'v>(value: &'v Value, path: &Path) -> Result<&'v Map<String, Value>, WireError> {
    let obj = object(value, path)?;
    match obj.get("data") {
        Some(data) => object(data, &path.key("data")),
        None => Err(path.err("element has no `data`")),
    }
}

fn node_name(data: &Map<String, Value>, path: &Path) -> Result<Option<String>, WireError> {
    let node_type = opt_str(data, "nodeType", path)?.unwrap_or("");
    if node_type == "box" || node_type == "unknown" {
        return Ok(None);
    }
    for key in ["workload", "app", "service"] {
        if let Some(name) = opt_str(data, key, path)?.map(str::trim)
            && !name.is_empty()
            && name != "unknown"
        {
            return Ok(Some(name.to_owned()));
        }
    }
    Ok(None)
}

fn decode_kiali(elements: &Value, path: &Path) -> Result<ServiceGraph, WireError> {
    let obj = object(elements, path)?;
    let mut graph = ServiceGraph::new();
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let nodes = opt_array(obj, "nodes", path)?;
    let nodes_path = path.key("nodes");
    for (i, node) in nodes.iter().enumerate() {
        let node_path = nodes_path.index(i);
        let data = element_data(node, &node_path)?;
        let data_path = node_path.key("data");
        let id =
            opt_str(data, "id", &data_path)?.ok_or_else(|| data_path.err("node has no `id`"))?;
        let name = node_name(data, &data_path)?;
        if let Some(name) = &name {
            graph.add_service(name);
        }
        names.insert(id.to_owned(), name);
    }
    let edges = opt_array(obj, "edges", path)?;
    let edges_path = path.key("edges");
    for (i, edge) in edges.iter().enumerate() {
        let edge_path = edges_path.index(i);
        let data = element_data(edge, &edge_path)?;
        let data_path = edge_path.key("data");
        let mut ends = [None, None];
        for (slot, key) in ends.iter_mut().zip(["source", "target"]) {
            let id = opt_str(data, key, &data_path)?
                .ok_or_else(|| data_path.err(format!("edge has no `{key}`")))?;
            *slot = names
                .get(id)
                .ok_or_else(|| {
                    data_path
                        .key(key)
                        .err(format!("`{}` is not the id of any node", collapse(id, 70)))
                })?
                .clone();
        }
        let [Some(source), Some(target)] = ends else {
            continue;
        };
        let edge = kiali_edge(data, &data_path)?;
        graph.set_edge(&source, &target, edge);
    }
    Ok(graph)
}

fn rate(rates: &Map<String, Value>, key: &str, path: &Path) -> Result<f64, WireError> {
    match rates.get(key) {
        None | Some(Value::Null) => Ok(0.0),
        Some(value) => {
            let rate = float_lenient(value, &path.key(key))?;
            if rate.is_finite() && rate >= 0.0 {
                Ok(rate)
            } else {
                Err(path
                    .key(key)
                    .err(format!("rate {rate} is not a finite non-negative number")))
            }
        }
    }
}

fn ratio(errors: f64, total: f64) -> f64 {
    if total > 0.0 {
        (errors / total).clamp(0.0, 1.0)
    } else {
        f64::NAN
    }
}

fn protocol(text: &str, path: &Path) -> Result<Protocol, WireError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "http" | "https" | "http2" => Ok(Protocol::Http),
        "grpc" => Ok(Protocol::Grpc),
        "tcp" => Ok(Protocol::Tcp),
        other => Err(path.err(format!(
            "unknown protocol `{}` (expected http, grpc or tcp)",
            collapse(other, 40)
        ))),
    }
}

fn kiali_edge(data: &Map<String, Value>, path: &Path) -> Result<CallEdge, WireError> {
    let latency_ms = match data.get("responseTime") {
        None | Some(Value::Null) => f64::NAN,
        Some(value) => float_lenient(value, &path.key("responseTime"))?,
    };
    let empty = Map::new();
    let traffic_path = path.key("traffic");
    let traffic = match data.get("traffic") {
        None | Some(Value::Null) => &empty,
        Some(value) => object(value, &traffic_path)?,
    };
    let protocol = protocol(
        opt_str(traffic, "protocol", &traffic_path)?.unwrap_or(""),
        &traffic_path.key("protocol"),
    )?;
    let rates = match traffic.get("rates") {
        None | Some(Value::Null) => &empty,
        Some(value) => object(value, &traffic_path.key("rates"))?,
    };
    let rates_path = traffic_path.key("rates");
    let mut edge = CallEdge {
        protocol,
        latency_ms,
        ..CallEdge::default()
    };
    match protocol {
        Protocol::Http => {
            edge.request_rate = rate(rates, "http", &rates_path)?;
            let errors =
                rate(rates, "http5xx", &rates_path)? + rate(rates, "httpNoResponse", &rates_path)?;
            edge.error_rate = ratio(errors, edge.request_rate);
        }
        Protocol::Grpc => {
            edge.request_rate = rate(rates, "grpc", &rates_path)?;
            let errors =
                rate(rates, "grpcErr", &rates_path)? + rate(rates, "grpcNoResponse", &rates_path)?;
            edge.error_rate = ratio(errors, edge.request_rate);
        }
        Protocol::Tcp => {
            edge.bytes_rate = rate(rates, "tcp", &rates_path)?;
            edge.error_rate = f64::NAN;
        }
    }
    if let Some(throughput) = data.get("throughput").filter(|v| !v.is_null()) {
        edge.bytes_rate = float_lenient(throughput, &path.key("throughput"))?;
    }
    Ok(edge)
}

fn role_from_text(text: &str, path: &Path) -> Result<ServiceRole, WireError> {
    serde_json::from_value(Value::from(text.trim().to_ascii_lowercase())).map_err(|_| {
        path.err(format!(
            "unknown role `{}` (expected gateway, service, database, cache, queue or unknown)",
            collapse(text, 40)
        ))
    })
}

/// A simple-form number: missing → `default`, `null` → NaN.
fn simple_number(
    obj: &Map<String, Value>,
    key: &str,
    default: f64,
    path: &Path,
) -> Result<f64, WireError> {
    match obj.get(key) {
        None => Ok(default),
        Some(Value::Null) => Ok(f64::NAN),
        Some(value) => float_lenient(value, &path.key(key)),
    }
}

fn decode_simple(obj: &Map<String, Value>, path: &Path) -> Result<ServiceGraph, WireError> {
    let mut graph = ServiceGraph::new();
    // Edges first: `set_edge` re-guesses roles, so explicit roles are applied afterwards.
    let edges = opt_array(obj, "edges", path)?;
    let edges_path = path.key("edges");
    let defaults = CallEdge::default();
    for (i, edge) in edges.iter().enumerate() {
        let edge_path = edges_path.index(i);
        let entry = object(edge, &edge_path)?;
        let mut ends = [String::new(), String::new()];
        for (slot, key) in ends.iter_mut().zip(["source", "target"]) {
            *slot = opt_str(entry, key, &edge_path)?
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| edge_path.err(format!("edge has no `{key}`")))?
                .to_owned();
        }
        let protocol = protocol(
            opt_str(entry, "protocol", &edge_path)?.unwrap_or(""),
            &edge_path.key("protocol"),
        )?;
        let call = CallEdge {
            protocol,
            request_rate: simple_number(entry, "request_rate", defaults.request_rate, &edge_path)?,
            error_rate: simple_number(entry, "error_rate", defaults.error_rate, &edge_path)?,
            latency_ms: simple_number(entry, "latency_ms", defaults.latency_ms, &edge_path)?,
            bytes_rate: simple_number(entry, "bytes_rate", defaults.bytes_rate, &edge_path)?,
        };
        let [source, target] = &ends;
        graph.set_edge(source, target, call);
    }
    let services = opt_array(obj, "services", path)?;
    let services_path = path.key("services");
    for (i, service) in services.iter().enumerate() {
        let service_path = services_path.index(i);
        let entry = object(service, &service_path)?;
        let name = opt_str(entry, "name", &service_path)?
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| service_path.err("service has no `name`"))?;
        match opt_str(entry, "role", &service_path)? {
            Some(role) => {
                let role = role_from_text(role, &service_path.key("role"))?;
                graph.add_service_with_role(name.trim(), role);
            }
            None => {
                graph.add_service(name.trim());
            }
        }
    }
    Ok(graph)
}

fn number_or_null(value: f64) -> Value {
    if value.is_finite() {
        Value::from(value)
    } else {
        Value::Null
    }
}

fn role_text(node: &ServiceNode) -> Value {
    serde_json::to_value(node.role).unwrap_or(Value::Null)
}

/// Encodes a graph in the simple form: `services` (name and role, alphabetical) and `edges`
/// (sorted by caller then callee) with `protocol`, `request_rate`, `error_rate`, `latency_ms`,
/// `bytes_rate`; non-finite numbers are written as `null`.
#[must_use]
pub fn encode_simple_graph(graph: &ServiceGraph) -> Value {
    let services: Vec<Value> = graph
        .services()
        .map(|node| json!({"name": node.name, "role": role_text(node)}))
        .collect();
    let edges: Vec<Value> = graph
        .edges()
        .into_iter()
        .map(|(source, target, edge)| {
            json!({
                "source": source,
                "target": target,
                "protocol": serde_json::to_value(edge.protocol).unwrap_or(Value::Null),
                "request_rate": number_or_null(edge.request_rate),
                "error_rate": number_or_null(edge.error_rate),
                "latency_ms": number_or_null(edge.latency_ms),
                "bytes_rate": number_or_null(edge.bytes_rate),
            })
        })
        .collect();
    json!({"services": services, "edges": edges})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixture;
    use crate::wire::testgen::{arb_exact_f64, arb_json, same_f64};
    use proptest::prelude::*;

    fn same_edge(a: &CallEdge, b: &CallEdge) -> bool {
        a.protocol == b.protocol
            && same_f64(a.request_rate, b.request_rate)
            && same_f64(a.error_rate, b.error_rate)
            && same_f64(a.latency_ms, b.latency_ms)
            && same_f64(a.bytes_rate, b.bytes_rate)
    }

    fn same_graph(a: &ServiceGraph, b: &ServiceGraph) -> bool {
        let names = |g: &ServiceGraph| -> Vec<(String, ServiceRole)> {
            g.services().map(|n| (n.name.clone(), n.role)).collect()
        };
        names(a) == names(b)
            && a.edges().len() == b.edges().len()
            && a.edges()
                .iter()
                .zip(b.edges())
                .all(|(x, y)| x.0 == y.0 && x.1 == y.1 && same_edge(x.2, y.2))
    }

    #[test]
    fn kiali_fixture_maps_ids_to_workloads() {
        let graph = decode_graph(fixture!("kiali/graph.json").as_bytes()).unwrap();
        let names: Vec<&str> = graph.services().map(|n| n.name.as_str()).collect();
        assert_eq!(names, vec!["carts", "carts-db", "front-end"]);
        assert_eq!(
            graph.edge_count(),
            2,
            "the edge from the unknown node is dropped"
        );
        let http = graph.edge("front-end", "carts").unwrap();
        assert_eq!(http.protocol, Protocol::Http);
        assert_eq!(http.request_rate, 12.4);
        assert!((http.error_rate - 3.1 / 12.4).abs() < 1e-12);
        assert_eq!(http.latency_ms, 950.0);
        let tcp = graph.edge("carts", "carts-db").unwrap();
        assert_eq!(tcp.protocol, Protocol::Tcp);
        assert_eq!(tcp.bytes_rate, 830.0);
        assert_eq!(tcp.request_rate, 0.0);
        assert!(tcp.error_rate.is_nan() && tcp.latency_ms.is_nan());
        assert_eq!(
            graph.service("carts-db").unwrap().role,
            ServiceRole::Database
        );
    }

    #[test]
    fn simple_form_and_round_trip() {
        let graph = decode_graph(fixture!("kiali/simple.json").as_bytes()).unwrap();
        assert_eq!(graph.edge_count(), 3);
        let edge = graph.edge("orders", "payment").unwrap();
        assert_eq!(edge.request_rate, 1.93);
        assert_eq!(edge.error_rate, 0.5);
        assert_eq!(edge.latency_ms, 120.0);
        let bare = graph.edge("front-end", "catalogue").unwrap();
        assert_eq!(bare.protocol, Protocol::Http);
        assert_eq!(bare.request_rate, 0.0);
        assert!(bare.latency_ms.is_nan(), "explicit null is unknown");
        assert_eq!(
            graph.edge("shipping", "rabbitmq").unwrap().protocol,
            Protocol::Tcp
        );
        assert_eq!(
            graph.service("edge-router").unwrap().role,
            ServiceRole::Gateway
        );
        assert_eq!(graph.service("lonely").unwrap().role, ServiceRole::Cache);
        let encoded = encode_simple_graph(&graph);
        assert_eq!(encoded["edges"][0]["source"], "front-end");
        assert!(encoded["edges"][0]["latency_ms"].is_null());
        let back = decode_graph_value(&encoded).unwrap();
        assert!(same_graph(&graph, &back));
        let kiali = decode_graph(fixture!("kiali/graph.json").as_bytes()).unwrap();
        assert!(same_graph(
            &kiali,
            &decode_graph_value(&encode_simple_graph(&kiali)).unwrap()
        ));
    }

    #[test]
    fn errors_are_explicit() {
        let error = decode_graph(
            br#"{"error":"At least one namespace must be specified via the namespaces query parameter.","detail":""}"#,
        )
        .unwrap_err();
        assert!(matches!(error, WireError::Server { ref error_type, .. } if error_type == "kiali"));
        let dangling = br#"{"elements":{"nodes":[{"data":{"id":"a","workload":"x"}}],"edges":[{"data":{"source":"a","target":"b"}}]}}"#;
        assert_eq!(
            decode_graph(dangling).unwrap_err().to_string(),
            "elements.edges[0].data.target: `b` is not the id of any node"
        );
        assert!(decode_graph(br#"{"edges":[{"source":"a"}]}"#).is_err());
        assert!(
            decode_graph(br#"{"edges":[{"source":"a","target":"b","protocol":"smtp"}]}"#).is_err()
        );
        assert!(
            decode_graph(br#"{"edges":[{"source":"a","target":"b","request_rate":"lots"}]}"#)
                .is_err()
        );
        assert!(decode_graph(br#"{"nodes":[]}"#).is_err());
        assert!(matches!(
            decode_graph(b"Unauthorized"),
            Err(WireError::NotJson { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn simple_round_trip(edges in prop::collection::vec(
            (0_usize..5, 0_usize..5, 0_usize..3, arb_exact_f64(), prop::option::of(arb_exact_f64()), arb_exact_f64()),
            0..8,
        )) {
            const NAMES: [&str; 5] = ["front-end", "carts", "carts-db", "orders", "rabbitmq"];
            let mut graph = ServiceGraph::new();
            graph.add_service_with_role("lonely", ServiceRole::Unknown);
            for (a, b, p, rate, err, lat) in edges {
                let protocol = [Protocol::Http, Protocol::Grpc, Protocol::Tcp][p];
                graph.set_edge(NAMES[a], NAMES[b], CallEdge {
                    protocol,
                    request_rate: rate.abs(),
                    error_rate: err.unwrap_or(f64::NAN),
                    latency_ms: lat,
                    bytes_rate: 0.0,
                });
            }
            let bytes = serde_json::to_vec(&encode_simple_graph(&graph)).unwrap();
            let back = decode_graph(&bytes).unwrap();
            prop_assert!(same_graph(&graph, &back));
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), value in arb_json()) {
            let _ = decode_graph(&bytes);
            let _ = decode_graph_value(&value);
            let _ = decode_graph_value(&json!({"elements": {"nodes": [value.clone()], "edges": [value.clone()]}}));
            let _ = decode_graph_value(&json!({"edges": [value]}));
        }
    }
}
