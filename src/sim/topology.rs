//! The sock-shop topology: the 14 services of the MAIA paper's Table 2, their technology (which
//! decides how they log and how fast they restart), resources, and call edges.

use crate::model::{Protocol, ServiceRole};

/// How a service writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStyle {
    /// Spring Boot (Java): carts, orders, shipping, queue-master.
    SpringBoot,
    /// Go kit: catalogue, payment, user.
    GoKit,
    /// Node.js/Express: front-end.
    NodeJs,
    /// MongoDB 3.4 text logs.
    MongoDb,
    /// MySQL 5.7 error log.
    MySql,
    /// Redis.
    Redis,
    /// RabbitMQ 3.6.
    RabbitMq,
}

/// Static description of one service.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// Deployment name (also the `name` pod label).
    pub name: &'static str,
    /// Role.
    pub role: ServiceRole,
    /// Log style.
    pub style: LogStyle,
    /// Port it serves on.
    pub port: u16,
    /// Inbound protocol.
    pub protocol: Protocol,
    /// CPU cores used when idle.
    pub idle_cpu: f64,
    /// CPU seconds per request served.
    pub cpu_per_request: f64,
    /// Working-set memory at rest, MiB.
    pub memory_mib: f64,
    /// Memory limit, MiB.
    pub memory_limit_mib: f64,
    /// Seconds from container start until it serves again.
    pub startup_secs: f64,
}

const fn spec(
    name: &'static str,
    role: ServiceRole,
    style: LogStyle,
    port: u16,
    protocol: Protocol,
    resources: (f64, f64, f64, f64),
    startup_secs: f64,
) -> ServiceSpec {
    ServiceSpec {
        name,
        role,
        style,
        port,
        protocol,
        idle_cpu: resources.0,
        cpu_per_request: resources.1,
        memory_mib: resources.2,
        memory_limit_mib: resources.3,
        startup_secs,
    }
}

/// The 14 sock-shop services (upstream `complete-demo.yaml` limits).
pub const SERVICES: [ServiceSpec; 14] = [
    spec(
        "front-end",
        ServiceRole::Gateway,
        LogStyle::NodeJs,
        8079,
        Protocol::Http,
        (0.02, 0.004, 140.0, 1000.0),
        6.0,
    ),
    spec(
        "catalogue",
        ServiceRole::Service,
        LogStyle::GoKit,
        80,
        Protocol::Http,
        (0.005, 0.001, 12.0, 200.0),
        3.0,
    ),
    spec(
        "catalogue-db",
        ServiceRole::Database,
        LogStyle::MySql,
        3306,
        Protocol::Tcp,
        (0.01, 0.0008, 210.0, 1000.0),
        10.0,
    ),
    spec(
        "carts",
        ServiceRole::Service,
        LogStyle::SpringBoot,
        80,
        Protocol::Http,
        (0.03, 0.006, 320.0, 500.0),
        25.0,
    ),
    spec(
        "carts-db",
        ServiceRole::Database,
        LogStyle::MongoDb,
        27017,
        Protocol::Tcp,
        (0.01, 0.0008, 90.0, 1000.0),
        8.0,
    ),
    spec(
        "orders",
        ServiceRole::Service,
        LogStyle::SpringBoot,
        80,
        Protocol::Http,
        (0.03, 0.008, 330.0, 500.0),
        25.0,
    ),
    spec(
        "orders-db",
        ServiceRole::Database,
        LogStyle::MongoDb,
        27017,
        Protocol::Tcp,
        (0.01, 0.0008, 85.0, 1000.0),
        8.0,
    ),
    spec(
        "payment",
        ServiceRole::Service,
        LogStyle::GoKit,
        80,
        Protocol::Http,
        (0.003, 0.0008, 9.0, 200.0),
        3.0,
    ),
    spec(
        "shipping",
        ServiceRole::Service,
        LogStyle::SpringBoot,
        80,
        Protocol::Http,
        (0.03, 0.006, 300.0, 500.0),
        25.0,
    ),
    spec(
        "queue-master",
        ServiceRole::Service,
        LogStyle::SpringBoot,
        80,
        Protocol::Http,
        (0.025, 0.004, 290.0, 500.0),
        25.0,
    ),
    spec(
        "rabbitmq",
        ServiceRole::Queue,
        LogStyle::RabbitMq,
        5672,
        Protocol::Tcp,
        (0.02, 0.001, 110.0, 1000.0),
        12.0,
    ),
    spec(
        "user",
        ServiceRole::Service,
        LogStyle::GoKit,
        80,
        Protocol::Http,
        (0.004, 0.001, 11.0, 200.0),
        3.0,
    ),
    spec(
        "user-db",
        ServiceRole::Database,
        LogStyle::MongoDb,
        27017,
        Protocol::Tcp,
        (0.01, 0.0008, 80.0, 1000.0),
        8.0,
    ),
    spec(
        "session-db",
        ServiceRole::Cache,
        LogStyle::Redis,
        6379,
        Protocol::Tcp,
        (0.004, 0.0002, 8.0, 1000.0),
        2.0,
    ),
];

/// The call edges caller → callee with their protocol (the reference's expected topology).
pub const EDGES: [(&str, &str, Protocol); 15] = [
    ("front-end", "catalogue", Protocol::Http),
    ("front-end", "carts", Protocol::Http),
    ("front-end", "orders", Protocol::Http),
    ("front-end", "user", Protocol::Http),
    ("front-end", "session-db", Protocol::Tcp),
    ("catalogue", "catalogue-db", Protocol::Tcp),
    ("carts", "carts-db", Protocol::Tcp),
    ("orders", "carts", Protocol::Http),
    ("orders", "user", Protocol::Http),
    ("orders", "payment", Protocol::Http),
    ("orders", "shipping", Protocol::Http),
    ("orders", "orders-db", Protocol::Tcp),
    ("user", "user-db", Protocol::Tcp),
    ("shipping", "rabbitmq", Protocol::Tcp),
    ("queue-master", "rabbitmq", Protocol::Tcp),
];

/// Kubernetes namespace of the simulated shop.
pub const NAMESPACE: &str = "sock-shop";

/// Index of a service in [`SERVICES`].
#[must_use]
pub fn index_of(name: &str) -> Option<usize> {
    SERVICES.iter().position(|service| service.name == name)
}

/// The sock-shop service graph (edges without statistics).
#[must_use]
pub fn service_graph() -> crate::model::ServiceGraph {
    let mut graph = crate::model::ServiceGraph::new();
    for service in &SERVICES {
        graph.add_service_with_role(service.name, service.role);
    }
    for (caller, callee, protocol) in EDGES {
        graph.set_edge(
            caller,
            callee,
            crate::model::CallEdge {
                protocol,
                ..crate::model::CallEdge::default()
            },
        );
    }
    graph
}

/// Whether a fault class can target a service of this role (a database cannot get an HTTP
/// abort; a stateless service has no data directory to break).
#[must_use]
pub fn fault_applies(class: crate::model::FaultClass, service: &ServiceSpec) -> bool {
    use crate::model::FaultClass as F;
    match class {
        F::HttpAbort | F::BadDeploy | F::Overload => service.protocol == Protocol::Http,
        F::IoFault | F::DbConnectionExhaustion => matches!(service.role, ServiceRole::Database),
        F::NetworkPartition => true,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sock_shop_has_fourteen_services_and_known_edges() {
        let graph = service_graph();
        assert_eq!(graph.service_count(), 14);
        assert_eq!(graph.edge_count(), 15);
        assert_eq!(graph.callers("rabbitmq"), vec!["queue-master", "shipping"]);
        assert_eq!(
            graph.callees("orders"),
            vec!["carts", "orders-db", "payment", "shipping", "user"]
        );
        for (caller, callee, _) in EDGES {
            assert!(index_of(caller).is_some() && index_of(callee).is_some());
        }
    }
}
