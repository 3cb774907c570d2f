use baynet::input_dir::read_dir;
use baynet::model::{FaultClass, Trace};
use baynet::scenario::{BUILTIN, builtin};
use std::process::Command;

/// Every built-in scenario, simulated for its full 30 minutes by the real binary, writes a
/// directory our own decoders read back, with the right ground truth and each fault's signature.
#[test]
fn every_scenario_writes_a_directory_that_reads_back_with_the_right_labels() {
    let scenarios = builtin().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        // Two at a time: the machine has two cores.
        for chunk in BUILTIN.chunks(BUILTIN.len().div_ceil(2)) {
            let root = root.path();
            scope.spawn(move || {
                for (file, _) in chunk {
                    let number = file.split('-').next().unwrap();
                    let out = root.join(number);
                    let status = Command::new(env!("CARGO_BIN_EXE_baynet"))
                        .args([
                            "sim",
                            "run",
                            "--scenario",
                            number,
                            "--seed",
                            "42",
                            "--json",
                            "--out",
                        ])
                        .arg(&out)
                        .output()
                        .unwrap();
                    assert!(
                        status.status.success(),
                        "{file}: {}",
                        String::from_utf8_lossy(&status.stderr)
                    );
                    let summary: serde_json::Value =
                        serde_json::from_slice(&status.stdout).unwrap();
                    assert!(
                        summary["log_lines"].as_u64().unwrap() > 10_000,
                        "{file}: {summary}"
                    );
                }
            });
        }
    });
    for (scenario, (file, _)) in scenarios.iter().zip(BUILTIN.iter()) {
        let dir = root.path().join(file.split('-').next().unwrap());
        let dataset = read_dir(&dir).unwrap_or_else(|e| panic!("{file}: {e}"));
        let truth = dataset.ground_truth.as_ref().unwrap();
        assert_eq!(truth.scenario, scenario.name);
        assert_eq!(truth.root_cause, scenario.fault.target);
        assert_eq!(truth.fault_class, scenario.fault.class);
        assert_eq!(truth.fault_start.since(truth.start), scenario.baseline);
        assert_eq!(
            truth.fault_end.since(truth.fault_start),
            scenario.fault_duration
        );
        assert_eq!(truth.end.since(truth.fault_end), scenario.recovery);
        assert_eq!(truth.seed, 42);
        // All 14 services log; traces are whole (every span's parent is in its trace).
        let services: std::collections::BTreeSet<&str> =
            dataset.logs.iter().map(|r| r.service.as_str()).collect();
        assert_eq!(services.len(), 14, "{file}: {services:?}");
        let traces = Trace::group(dataset.spans.clone());
        assert!(traces.len() > 500, "{file}: {} traces", traces.len());
        for trace in &traces {
            assert!(trace.root().is_some());
            let ids: std::collections::HashSet<_> = trace.spans.iter().map(|s| s.span_id).collect();
            assert!(
                trace
                    .spans
                    .iter()
                    .all(|s| s.parent_span_id.is_none_or(|p| ids.contains(&p))),
                "{file}: orphan span"
            );
        }
        assert_eq!(
            dataset
                .graph
                .as_ref()
                .map(|g| (g.service_count(), g.edge_count())),
            Some((14, 15))
        );
        assert!(
            dataset
                .series
                .iter()
                .any(|s| s.name() == "istio_requests_total")
        );
        assert!(
            dataset
                .series
                .iter()
                .any(|s| s.name() == "istio_tcp_sent_bytes_total")
        );
        // The fault leaves a mark on the root cause or on its callers during the fault window.
        let in_fault = |t: baynet::model::Timestamp| t >= truth.fault_start && t < truth.fault_end;
        let target = truth.root_cause.as_str();
        let mark = match truth.fault_class {
            FaultClass::NetworkDelay | FaultClass::Bandwidth => dataset.spans.iter().any(|s| {
                in_fault(s.start)
                    && s.name.starts_with(&format!("{target}."))
                    && s.duration().as_millis() >= 150
            }),
            FaultClass::NetworkPartition if target == "rabbitmq" => dataset.logs.iter().any(|r| {
                in_fault(r.timestamp)
                    && r.service == "queue-master"
                    && r.line.contains("AmqpConnectException")
            }),
            FaultClass::MemoryStress => dataset.logs.iter().any(|r| {
                in_fault(r.timestamp)
                    && r.service == target
                    && r.line.contains("GC (Allocation Failure)")
            }),
            // A paused pod writes nothing; the load generator has no sidecar, so a dead front-end
            // shows as silence rather than as errors.
            FaultClass::PodFailure => !dataset
                .logs
                .iter()
                .any(|r| in_fault(r.timestamp) && r.service == target),
            _ => {
                dataset
                    .spans
                    .iter()
                    .any(|s| in_fault(s.start) && s.is_error())
                    || dataset
                        .logs
                        .iter()
                        .any(|r| in_fault(r.timestamp) && r.line.contains("ERROR"))
            }
        };
        assert!(
            mark,
            "{file}: no {} signature on {target} during the fault",
            truth.fault_class
        );
    }
}
