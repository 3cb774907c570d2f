use baynet::model::FaultClass;
use baynet::scenario::{ChaosKind, Scenario};
use std::path::Path;
use std::time::Duration;

fn scenarios_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
}

#[test]
fn the_twelve_paper_experiments_parse_with_their_metadata() {
    let scenarios = Scenario::load_dir(scenarios_dir()).expect("all scenarios parse");
    let summary: Vec<(String, ChaosKind, String, FaultClass)> = scenarios
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.kind,
                s.fault.target.clone(),
                s.fault.class,
            )
        })
        .collect();
    let expected = [
        (
            "user-pod-failure",
            ChaosKind::PodChaos,
            "user",
            FaultClass::PodFailure,
        ),
        (
            "session-db-partition-front-end",
            ChaosKind::NetworkChaos,
            "session-db",
            FaultClass::NetworkPartition,
        ),
        (
            "front-end-pod-failure",
            ChaosKind::PodChaos,
            "front-end",
            FaultClass::PodFailure,
        ),
        (
            "carts-db-io-fault",
            ChaosKind::IoChaos,
            "carts-db",
            FaultClass::IoFault,
        ),
        (
            "catalogue-db-io-fault",
            ChaosKind::IoChaos,
            "catalogue-db",
            FaultClass::IoFault,
        ),
        (
            "payment-pod-failure-one",
            ChaosKind::PodChaos,
            "payment",
            FaultClass::PodFailure,
        ),
        (
            "rabbitmq-partition-queue-master",
            ChaosKind::NetworkChaos,
            "rabbitmq",
            FaultClass::NetworkPartition,
        ),
        (
            "shipping-bandwidth-200kbps",
            ChaosKind::NetworkChaos,
            "shipping",
            FaultClass::Bandwidth,
        ),
        (
            "shipping-pod-failure",
            ChaosKind::PodChaos,
            "shipping",
            FaultClass::PodFailure,
        ),
        (
            "shipping-http-abort",
            ChaosKind::HttpChaos,
            "shipping",
            FaultClass::HttpAbort,
        ),
        (
            "shipping-memory-stress",
            ChaosKind::StressChaos,
            "shipping",
            FaultClass::MemoryStress,
        ),
        (
            "shipping-network-delay",
            ChaosKind::NetworkChaos,
            "shipping",
            FaultClass::NetworkDelay,
        ),
    ];
    let expected: Vec<(String, ChaosKind, String, FaultClass)> = expected
        .iter()
        .map(|(n, k, t, c)| ((*n).to_owned(), *k, (*t).to_owned(), *c))
        .collect();
    assert_eq!(summary, expected);
    for scenario in &scenarios {
        assert_eq!(scenario.namespace, "sock-shop", "{}", scenario.name);
        assert_eq!(
            scenario.baseline,
            Duration::from_secs(600),
            "{}",
            scenario.name
        );
        assert_eq!(
            scenario.fault_duration,
            Duration::from_secs(600),
            "{}",
            scenario.name
        );
        assert_eq!(
            scenario.recovery,
            Duration::from_secs(600),
            "{}",
            scenario.name
        );
        assert!(!scenario.description.is_empty());
        // kubectl receives the file unchanged.
        let on_disk = std::fs::read_to_string(scenario.path.as_ref().unwrap()).unwrap();
        assert_eq!(scenario.manifest, on_disk);
    }
    let by_name = |name: &str| scenarios.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        by_name("session-db-partition-front-end")
            .fault
            .peer
            .as_deref(),
        Some("front-end")
    );
    assert_eq!(
        by_name("rabbitmq-partition-queue-master")
            .fault
            .peer
            .as_deref(),
        Some("queue-master")
    );
    assert_eq!(
        by_name("shipping-network-delay").fault.params.latency,
        Some(Duration::from_millis(200))
    );
    assert_eq!(
        by_name("shipping-bandwidth-200kbps")
            .fault
            .params
            .bandwidth_bytes_per_sec,
        Some(200_000.0)
    );
    assert_eq!(
        by_name("carts-db-io-fault").fault.params.io_error_percent,
        Some(50.0)
    );
    assert_eq!(by_name("carts-db-io-fault").fault.params.errno, Some(5));
    assert_eq!(
        by_name("shipping-memory-stress").fault.params.memory_bytes,
        Some(512_000_000)
    );
    assert_eq!(
        by_name("shipping-memory-stress").fault.params.workers,
        Some(4)
    );
    assert_eq!(
        by_name("shipping-http-abort")
            .fault
            .params
            .http_method
            .as_deref(),
        Some("GET")
    );
    assert_eq!(by_name("payment-pod-failure-one").fault.params.mode, "one");
}
