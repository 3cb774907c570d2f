//! The service dependency graph: services as nodes, calls as directed edges caller → callee,
//! with per-edge request rate, error rate and latency.

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a service is, as far as fault behaviour and incident similarity are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceRole {
    /// Entry point of user traffic.
    Gateway,
    /// A stateless application service.
    Service,
    /// A database.
    Database,
    /// A cache or session store.
    Cache,
    /// A message broker.
    Queue,
    /// Not known.
    Unknown,
}

impl ServiceRole {
    /// Guesses the role from a service name (`*-db` → database, `rabbitmq` → queue, …).
    #[must_use]
    pub fn guess(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.contains("redis")
            || lower.contains("session")
            || lower.contains("memcache")
            || lower.contains("cache")
        {
            Self::Cache
        } else if lower.ends_with("-db")
            || lower.contains("mongo")
            || lower.contains("mysql")
            || lower.contains("postgres")
        {
            Self::Database
        } else if lower.contains("rabbit")
            || lower.contains("kafka")
            || lower.contains("nats")
            || lower.contains("queue-broker")
        {
            Self::Queue
        } else if lower.contains("front")
            || lower.contains("gateway")
            || lower.contains("ingress")
            || lower == "edge-router"
        {
            Self::Gateway
        } else {
            Self::Service
        }
    }
}

/// Transport of a call edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1 or HTTP/2.
    #[default]
    Http,
    /// gRPC.
    Grpc,
    /// Raw TCP (databases, brokers): no response codes.
    Tcp,
}

/// Observed statistics of one caller → callee edge over some window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CallEdge {
    /// Transport.
    pub protocol: Protocol,
    /// Requests (HTTP) or connections opened (TCP) per second.
    pub request_rate: f64,
    /// Fraction of requests that failed (5xx or no response), in [0, 1]; NaN when unknown.
    pub error_rate: f64,
    /// Latency in milliseconds (p99 when known, mean otherwise); NaN when unknown.
    pub latency_ms: f64,
    /// Bytes per second sent over the edge (TCP); 0 when unknown.
    pub bytes_rate: f64,
}

impl Default for CallEdge {
    /// An HTTP edge with no traffic observed: rates zero, error rate and latency unknown (NaN).
    fn default() -> Self {
        Self {
            protocol: Protocol::Http,
            request_rate: 0.0,
            error_rate: f64::NAN,
            latency_ms: f64::NAN,
            bytes_rate: 0.0,
        }
    }
}

/// A service node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceNode {
    /// Workload name.
    pub name: String,
    /// Role.
    pub role: ServiceRole,
}

/// Directed service graph (caller → callee). Names are unique; indexes are stable across removals.
#[derive(Debug, Clone, Default)]
pub struct ServiceGraph {
    graph: StableDiGraph<ServiceNode, CallEdge>,
    by_name: BTreeMap<String, NodeIndex>,
}

impl ServiceGraph {
    /// An empty graph.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service (or returns the existing one), guessing its role from the name.
    pub fn add_service(&mut self, name: &str) -> NodeIndex {
        self.add_service_with_role(name, ServiceRole::guess(name))
    }

    /// Adds a service with an explicit role; an existing service keeps its node and takes the role.
    pub fn add_service_with_role(&mut self, name: &str, role: ServiceRole) -> NodeIndex {
        if let Some(&index) = self.by_name.get(name) {
            if role != ServiceRole::Unknown {
                self.graph[index].role = role;
            }
            return index;
        }
        let index = self.graph.add_node(ServiceNode {
            name: name.to_owned(),
            role,
        });
        self.by_name.insert(name.to_owned(), index);
        index
    }

    /// Adds or replaces the edge caller → callee. Self-loops are ignored (returns `None`).
    pub fn set_edge(&mut self, caller: &str, callee: &str, edge: CallEdge) -> Option<EdgeIndex> {
        if caller == callee {
            return None;
        }
        let from = self
            .by_name
            .get(caller)
            .copied()
            .unwrap_or_else(|| self.add_service(caller));
        let to = self
            .by_name
            .get(callee)
            .copied()
            .unwrap_or_else(|| self.add_service(callee));
        if let Some(existing) = self.graph.find_edge(from, to) {
            self.graph[existing] = edge;
            return Some(existing);
        }
        Some(self.graph.add_edge(from, to, edge))
    }

    /// Removes a service and its edges.
    pub fn remove_service(&mut self, name: &str) -> bool {
        match self.by_name.remove(name) {
            Some(index) => self.graph.remove_node(index).is_some(),
            None => false,
        }
    }

    /// Number of services.
    #[must_use]
    pub fn service_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of call edges.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Service names in alphabetical order.
    pub fn services(&self) -> impl Iterator<Item = &ServiceNode> {
        self.by_name.values().map(|&index| &self.graph[index])
    }

    /// Looks a service up.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&ServiceNode> {
        self.by_name.get(name).map(|&index| &self.graph[index])
    }

    /// The edge caller → callee, if present.
    #[must_use]
    pub fn edge(&self, caller: &str, callee: &str) -> Option<&CallEdge> {
        let from = *self.by_name.get(caller)?;
        let to = *self.by_name.get(callee)?;
        self.graph.find_edge(from, to).map(|edge| &self.graph[edge])
    }

    /// All edges as (caller, callee, stats), sorted by caller then callee.
    #[must_use]
    pub fn edges(&self) -> Vec<(&str, &str, &CallEdge)> {
        let mut out: Vec<(&str, &str, &CallEdge)> = self
            .graph
            .edge_references()
            .map(|edge| {
                (
                    self.graph[edge.source()].name.as_str(),
                    self.graph[edge.target()].name.as_str(),
                    edge.weight(),
                )
            })
            .collect();
        out.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        out
    }

    /// Services that `name` calls.
    #[must_use]
    pub fn callees(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, petgraph::Direction::Outgoing)
    }

    /// Services that call `name`.
    #[must_use]
    pub fn callers(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, petgraph::Direction::Incoming)
    }

    fn neighbours(&self, name: &str, direction: petgraph::Direction) -> Vec<&str> {
        let Some(&index) = self.by_name.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(index, direction)
            .map(|other| self.graph[other].name.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The underlying petgraph graph, for algorithms (layout, cycles).
    #[must_use]
    pub fn as_petgraph(&self) -> &StableDiGraph<ServiceNode, CallEdge> {
        &self.graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_unique_and_directional() {
        let mut graph = ServiceGraph::new();
        graph.set_edge(
            "front-end",
            "carts",
            CallEdge {
                request_rate: 1.0,
                ..CallEdge::default()
            },
        );
        graph.set_edge(
            "front-end",
            "carts",
            CallEdge {
                request_rate: 2.0,
                ..CallEdge::default()
            },
        );
        graph.set_edge(
            "carts",
            "carts-db",
            CallEdge {
                protocol: Protocol::Tcp,
                ..CallEdge::default()
            },
        );
        assert!(
            graph
                .set_edge("carts", "carts", CallEdge::default())
                .is_none()
        );
        assert_eq!(graph.edge_count(), 2);
        assert_eq!(graph.service_count(), 3);
        assert_eq!(
            graph.edge("front-end", "carts").map(|e| e.request_rate),
            Some(2.0)
        );
        assert_eq!(graph.callers("carts"), vec!["front-end"]);
        assert_eq!(graph.callees("carts"), vec!["carts-db"]);
        assert_eq!(
            graph.service("carts-db").map(|s| s.role),
            Some(ServiceRole::Database)
        );
        assert!(graph.remove_service("carts"));
        assert_eq!(graph.edge_count(), 0);
        assert_eq!(graph.callees("front-end"), Vec::<&str>::new());
    }

    #[test]
    fn roles_are_guessed_from_names() {
        assert_eq!(ServiceRole::guess("session-db"), ServiceRole::Cache);
        assert_eq!(ServiceRole::guess("orders-db"), ServiceRole::Database);
        assert_eq!(ServiceRole::guess("rabbitmq"), ServiceRole::Queue);
        assert_eq!(ServiceRole::guess("front-end"), ServiceRole::Gateway);
        assert_eq!(ServiceRole::guess("shipping"), ServiceRole::Service);
    }
}
