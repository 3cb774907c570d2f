//! Runs a whole simulation as fast as possible into a [`Dataset`]: logs, spans, metrics sampled
//! at the scrape interval, the service graph and the ground truth.

use super::engine::{Emitted, SimConfig, Simulation};
use super::metrics::{SeriesKey, describe};
use crate::model::{Dataset, Sample, Series, Timestamp};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::time::Duration;

/// Prometheus scrape interval used when sampling metrics.
pub const SCRAPE_INTERVAL: Duration =
    Duration::from_secs(super::engine::SCRAPE_INTERVAL_SECS.unsigned_abs());

/// A simulator configuration for a scenario.
#[must_use]
pub fn config_for(scenario: &Scenario, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        baseline: scenario.baseline,
        fault_duration: scenario.fault_duration,
        recovery: scenario.recovery,
        fault: Some(scenario.fault.clone()),
        scenario: scenario.name.clone(),
        ..SimConfig::default()
    }
}

/// Simulates `config` from start to end and collects everything.
///
/// # Errors
/// When the configuration names an unknown service.
pub fn run(config: SimConfig) -> Result<Dataset, String> {
    run_with(config, |_| {})
}

/// Like [`run`], calling `after_tick` with the simulated time after every one-second tick (the
/// command line uses it to pace a run against the wall clock).
///
/// # Errors
/// When the configuration names an unknown service.
pub fn run_with(
    config: SimConfig,
    mut after_tick: impl FnMut(Timestamp),
) -> Result<Dataset, String> {
    let mut simulation = Simulation::new(config)?;
    let mut emitted = Emitted::default();
    let mut samples: BTreeMap<SeriesKey, Vec<Sample>> = BTreeMap::new();
    let end = simulation.end();
    let mut next_scrape = simulation.now();
    while simulation.now() < end {
        let now = simulation.now();
        if now >= next_scrape {
            scrape(&simulation, now, &mut samples);
            next_scrape = next_scrape.plus(SCRAPE_INTERVAL);
        }
        simulation.step(&mut emitted);
        after_tick(simulation.now());
    }
    scrape(&simulation, end, &mut samples);
    emitted.logs.sort_by_key(|record| record.timestamp);
    let pod_name = |service, generation| simulation.pod_name(service, generation);
    let series = samples
        .into_iter()
        .map(|(key, samples)| {
            let (name, mut labels) = describe(key, &pod_name);
            labels.insert("__name__".to_owned(), name);
            Series { labels, samples }
        })
        .collect();
    Ok(Dataset {
        logs: emitted.logs,
        spans: emitted.spans,
        series,
        graph: Some(super::topology::service_graph()),
        ground_truth: simulation.ground_truth().map(|mut truth| {
            truth.acted_traces = std::mem::take(&mut emitted.fault_acted);
            truth
        }),
    })
}

/// One scrape of `simulation`'s metrics at `at`: every series with its single current sample
/// (the live console appends these to its own bounded buffers).
#[must_use]
pub fn scrape_series(simulation: &Simulation, at: Timestamp) -> Vec<Series> {
    let pod_name = |service, generation| simulation.pod_name(service, generation);
    simulation
        .scrape_snapshot()
        .into_iter()
        .map(|(key, value)| {
            let (name, mut labels) = describe(key, &pod_name);
            labels.insert("__name__".to_owned(), name);
            Series {
                labels,
                samples: vec![Sample {
                    timestamp: at,
                    value,
                }],
            }
        })
        .collect()
}

fn scrape(simulation: &Simulation, at: Timestamp, samples: &mut BTreeMap<SeriesKey, Vec<Sample>>) {
    for (key, value) in simulation.scrape_snapshot() {
        samples.entry(key).or_default().push(Sample {
            timestamp: at,
            value,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FaultClass, TimeRange};
    use crate::scenario::{FaultParams, FaultSpec};

    fn short_config(fault: Option<FaultSpec>, seed: u64) -> SimConfig {
        SimConfig {
            seed,
            baseline: Duration::from_secs(120),
            fault_duration: Duration::from_secs(120),
            recovery: Duration::from_secs(120),
            fault,
            ..SimConfig::default()
        }
    }

    fn spec(class: FaultClass, target: &str) -> FaultSpec {
        FaultSpec {
            class,
            target: target.to_owned(),
            peer: None,
            params: FaultParams {
                mode: "all".to_owned(),
                ..FaultParams::default()
            },
        }
    }

    /// Requests counted by `reporter` into `destination` with a 5xx code, increase over the range.
    fn errors_into(dataset: &Dataset, destination: &str, reporter: &str, range: TimeRange) -> f64 {
        dataset
            .series
            .iter()
            .filter(|s| {
                s.name() == "istio_requests_total"
                    && s.label("destination_workload") == Some(destination)
                    && s.label("reporter") == Some(reporter)
                    && s.label("response_code").is_some_and(|c| c.starts_with('5'))
            })
            .map(|s| {
                let at = |t: Timestamp| {
                    s.samples
                        .iter()
                        .take_while(|p| p.timestamp <= t)
                        .last()
                        .map_or(0.0, |p| p.value)
                };
                at(range.end) - at(range.start)
            })
            .sum()
    }

    #[test]
    fn same_seed_same_telemetry_and_different_seed_differs() {
        let a = run(short_config(Some(spec(FaultClass::PodFailure, "user")), 7)).expect("runs");
        let b = run(short_config(Some(spec(FaultClass::PodFailure, "user")), 7)).expect("runs");
        let c = run(short_config(Some(spec(FaultClass::PodFailure, "user")), 8)).expect("runs");
        assert_eq!(a.logs, b.logs);
        assert_eq!(a.spans, b.spans);
        assert_eq!(a.series, b.series);
        assert_ne!(a.logs, c.logs);
    }

    #[test]
    fn pod_failure_silences_the_pod_and_fails_its_callers() {
        let dataset =
            run(short_config(Some(spec(FaultClass::PodFailure, "user")), 3)).expect("runs");
        let truth = dataset.ground_truth.clone().expect("labelled");
        assert_eq!(truth.root_cause, "user");
        let fault = TimeRange::new(truth.fault_start, truth.fault_end).expect("ordered");
        let baseline = TimeRange::new(truth.start, truth.fault_start).expect("ordered");
        assert!(errors_into(&dataset, "user", "source", fault) > 10.0);
        assert!(errors_into(&dataset, "user", "source", baseline) <= 2.0);
        // The paused pod writes nothing during the fault, then restarts.
        let user_lines_in_fault = dataset
            .logs
            .iter()
            .filter(|r| r.service == "user" && fault.contains(r.timestamp))
            .count();
        assert_eq!(user_lines_in_fault, 0);
        assert!(dataset.logs.iter().any(|r| r.service == "user"
            && r.timestamp >= truth.fault_end
            && r.line.contains("transport=HTTP port=80")));
        // Callers log connection failures.
        assert!(dataset.logs.iter().any(|r| r.service == "front-end"
            && fault.contains(r.timestamp)
            && r.line.contains("ECONNREFUSED")));
        let restarts = dataset
            .series
            .iter()
            .find(|s| {
                s.name() == "kube_pod_container_status_restarts_total"
                    && s.label("container") == Some("user")
            })
            .expect("restarts series");
        assert_eq!(restarts.samples.last().map(|s| s.value), Some(1.0));
    }

    /// The ground truth says how long the fault's consequences outlast it: a pod failure's
    /// restart keeps the pod down for its start-up time after the fault end; an HTTP abort
    /// ends with its last aborted request; a cut queue connection leaves a backlog that drains
    /// after the fault. The after-effects are written to `labels.json` and read back.
    #[test]
    fn the_ground_truth_records_how_long_the_fault_outlasts_its_removal() {
        let user = super::super::topology::index_of("user").expect("user");
        let startup = super::super::topology::SERVICES[user].startup_secs;
        let dataset =
            run(short_config(Some(spec(FaultClass::PodFailure, "user")), 3)).expect("runs");
        let truth = dataset.ground_truth.clone().expect("labelled");
        let after = truth
            .effects_end
            .expect("the restart outlasts the fault")
            .since(truth.fault_end)
            .as_secs_f64();
        assert!(
            after >= startup && after < startup + 11.0,
            "effects end {after} s after the fault, start-up {startup} s"
        );
        assert!(truth.impact_end() > truth.fault_end);
        let dir = tempfile::tempdir().expect("tempdir");
        crate::input_dir::write_dir(dir.path(), &dataset).expect("writes");
        let back = crate::input_dir::read_dir(dir.path()).expect("reads");
        assert_eq!(
            back.ground_truth.and_then(|t| t.effects_end),
            truth.effects_end
        );

        let dataset = run(short_config(
            Some(spec(FaultClass::HttpAbort, "catalogue")),
            3,
        ))
        .expect("runs");
        let truth = dataset.ground_truth.expect("labelled");
        let after = truth.impact_end().since(truth.fault_end).as_secs_f64();
        assert!(
            after < 1.0,
            "an abort is over {after} s after the fault end"
        );

        let mut partition = spec(FaultClass::NetworkPartition, "rabbitmq");
        partition.peer = Some("queue-master".to_owned());
        let dataset = run(short_config(Some(partition), 3)).expect("runs");
        let truth = dataset.ground_truth.expect("labelled");
        let after = truth.impact_end().since(truth.fault_end).as_secs_f64();
        assert!(
            (1.0..60.0).contains(&after),
            "the backlog drains {after} s after the fault end"
        );
    }

    /// The lines of one stream (service, container, pod) share one label map; a deployed pod
    /// is a new stream with its own map.
    #[test]
    fn the_lines_of_a_stream_share_one_label_map() {
        use crate::model::Labels;
        use std::sync::Arc;
        let mut redeployed = None;
        for seed in 1..=10 {
            let dataset = run(short_config(None, seed)).expect("runs");
            let mut streams: BTreeMap<(String, String, String), &Arc<Labels>> = BTreeMap::new();
            for record in &dataset.logs {
                let labels = &record.labels;
                let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
                assert_eq!(
                    keys,
                    [
                        "container",
                        "job",
                        "name",
                        "namespace",
                        "pod",
                        "service_name"
                    ]
                );
                assert_eq!(labels["namespace"], "sock-shop");
                assert_eq!(labels["name"], record.service);
                assert_eq!(labels["service_name"], record.service);
                assert_eq!(labels["job"], format!("sock-shop/{}", record.service));
                assert!(labels["pod"].starts_with(&format!("{}-", record.service)));
                let key = (
                    record.service.clone(),
                    labels["container"].clone(),
                    labels["pod"].clone(),
                );
                let shared = streams.entry(key).or_insert(labels);
                assert!(Arc::ptr_eq(shared, labels), "one map per stream");
            }
            assert!(streams.len() < 60, "{} streams", streams.len());
            let mut pods: BTreeMap<&str, usize> = BTreeMap::new();
            for (service, container, _) in streams.keys() {
                if service == container {
                    *pods.entry(service.as_str()).or_default() += 1;
                }
            }
            if let Some((service, _)) = pods.iter().find(|(_, n)| **n > 1) {
                redeployed = Some((seed, (*service).to_owned()));
                break;
            }
        }
        assert!(redeployed.is_some(), "a routine deploy in the first seeds");
    }

    /// `scrape_duration_seconds` of `service`'s pods: (timestamp, seconds) per scrape.
    fn scrape_seconds(dataset: &Dataset, service: &str) -> Vec<(Timestamp, f64)> {
        let mut points: Vec<(Timestamp, f64)> = dataset
            .series
            .iter()
            .filter(|s| s.name() == "scrape_duration_seconds" && s.label("app") == Some(service))
            .flat_map(|s| s.samples.iter().map(|p| (p.timestamp, p.value)))
            .collect();
        points.sort_by_key(|(t, _)| *t);
        points
    }

    #[test]
    fn egress_faults_slow_the_scrape_of_the_target_only() {
        let scraped_in = |dataset: &Dataset, service: &str, during: bool| -> Vec<f64> {
            let truth = dataset.ground_truth.clone().expect("labelled");
            // A query at t sees the scrape that started 15 s earlier.
            let seen = |t: Timestamp| {
                let started = t.minus(SCRAPE_INTERVAL);
                started >= truth.fault_start && started < truth.fault_end
            };
            scrape_seconds(dataset, service)
                .into_iter()
                .filter(|(t, _)| seen(*t) == during)
                .map(|(_, v)| v)
                .collect()
        };
        let mut bandwidth = spec(FaultClass::Bandwidth, "shipping");
        bandwidth.params.bandwidth_bytes_per_sec = Some(200_000.0);
        let dataset = run(short_config(Some(bandwidth), 5)).expect("runs");
        let during = scraped_in(&dataset, "shipping", true);
        let outside = scraped_in(&dataset, "shipping", false);
        assert_eq!(during.len(), 8, "two minutes of 15-second scrapes");
        // 400 KB at 200 KB/s, plus whatever was already queued.
        assert!(
            during.iter().all(|&v| (2.0..3.0).contains(&v)),
            "{during:?}"
        );
        assert!(outside.iter().all(|&v| v < 0.1), "{outside:?}");
        let others = scraped_in(&dataset, "orders", true);
        assert!(others.iter().all(|&v| v < 0.1), "{others:?}");
        // A tighter limit runs into Prometheus's 10 s scrape timeout.
        let mut tight = spec(FaultClass::Bandwidth, "shipping");
        tight.params.bandwidth_bytes_per_sec = Some(25_000.0);
        let dataset = run(short_config(Some(tight), 5)).expect("runs");
        let during = scraped_in(&dataset, "shipping", true);
        assert!(
            during.iter().all(|&v| (v - 10.0).abs() < 1e-9),
            "{during:?}"
        );
        // An added 200 ms delay costs about five round trips.
        let mut delay = spec(FaultClass::NetworkDelay, "shipping");
        delay.params.latency = Some(Duration::from_millis(200));
        let dataset = run(short_config(Some(delay), 5)).expect("runs");
        let during = scraped_in(&dataset, "shipping", true);
        assert!(
            during.iter().all(|&v| (1.0..1.2).contains(&v)),
            "{during:?}"
        );
        // No fault: a few tens of milliseconds, and the seed decides the noise.
        let quiet = run(short_config(None, 5)).expect("runs");
        let values: Vec<f64> = scrape_seconds(&quiet, "catalogue")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert!(
            values.iter().all(|&v| (0.005..0.1).contains(&v)),
            "{values:?}"
        );
        let other_seed = run(short_config(None, 6)).expect("runs");
        assert_ne!(
            scrape_seconds(&other_seed, "catalogue"),
            scrape_seconds(&quiet, "catalogue")
        );
    }

    #[test]
    fn delay_adds_latency_seen_by_callers() {
        let mut fault = spec(FaultClass::NetworkDelay, "shipping");
        fault.params.latency = Some(Duration::from_millis(200));
        let dataset = run(short_config(Some(fault), 5)).expect("runs");
        let truth = dataset.ground_truth.clone().expect("labelled");
        let client_spans: Vec<&crate::model::Span> = dataset
            .spans
            .iter()
            .filter(|s| s.service == "orders" && s.name.starts_with("shipping."))
            .collect();
        let mean = |inside: bool| {
            let durations: Vec<f64> = client_spans
                .iter()
                .filter(|s| (s.start >= truth.fault_start && s.start < truth.fault_end) == inside)
                .map(|s| s.duration().as_secs_f64() * 1000.0)
                .collect();
            durations.iter().sum::<f64>() / durations.len().max(1) as f64
        };
        assert!(
            mean(true) > mean(false) + 150.0,
            "fault {} vs normal {}",
            mean(true),
            mean(false)
        );
    }

    #[test]
    fn http_abort_is_reported_as_no_response_by_the_server_side() {
        let dataset = run(short_config(
            Some(spec(FaultClass::HttpAbort, "payment")),
            9,
        ))
        .expect("runs");
        let no_response = dataset.series.iter().find(|s| {
            s.name() == "istio_requests_total"
                && s.label("reporter") == Some("destination")
                && s.label("destination_workload") == Some("payment")
                && s.label("response_code") == Some("0")
        });
        let last = no_response
            .and_then(|s| s.samples.last())
            .map_or(0.0, |p| p.value);
        assert!(
            last > 0.0,
            "response_code=\"0\" series present and counting"
        );
        let truth = dataset.ground_truth.clone().expect("labelled");
        let fault = TimeRange::new(truth.fault_start, truth.fault_end).expect("ordered");
        assert!(errors_into(&dataset, "payment", "source", fault) > 0.0);
    }

    fn acted_traces(
        dataset: &crate::model::Dataset,
    ) -> std::collections::HashSet<crate::model::TraceId> {
        let acted = dataset
            .ground_truth
            .as_ref()
            .map(|truth| truth.acted_traces.clone())
            .unwrap_or_default();
        let roots: std::collections::HashSet<_> = dataset
            .spans
            .iter()
            .filter(|s| s.parent_span_id.is_none())
            .map(|s| s.trace_id)
            .collect();
        for id in &acted {
            assert!(roots.contains(id), "every marked trace was sampled");
        }
        for span in &dataset.spans {
            assert!(
                !span.attributes.iter().any(|(key, _)| key.contains("fault")),
                "no ground truth leaks into the telemetry: {:?}",
                span.attributes
            );
        }
        acted.into_iter().collect()
    }

    #[test]
    fn io_faults_mark_only_the_traces_whose_database_call_failed() {
        let mut config = short_config(Some(spec(FaultClass::IoFault, "catalogue-db")), 13);
        config.trace_sample_rate = 1.0;
        let dataset = run(config).expect("runs");
        let truth = dataset.ground_truth.clone().expect("labelled");
        let acted = acted_traces(&dataset);
        let touching: std::collections::HashSet<crate::model::TraceId> = dataset
            .spans
            .iter()
            .filter(|s| {
                s.service == "catalogue" && s.start >= truth.fault_start && s.end <= truth.fault_end
            })
            .map(|s| s.trace_id)
            .collect();
        assert!(!acted.is_empty());
        for id in &acted {
            let spans: Vec<_> = dataset.spans.iter().filter(|s| s.trace_id == *id).collect();
            assert!(spans.iter().any(|s| s.service == "catalogue"));
            let root = spans
                .iter()
                .find(|s| s.parent_span_id.is_none())
                .expect("root");
            assert!(root.start >= truth.fault_start && root.start < truth.fault_end);
        }
        // Only some of the calls fail: most traces through catalogue stay unmarked.
        assert!(
            acted.len() < touching.len(),
            "{} marked of {} touching catalogue",
            acted.len(),
            touching.len()
        );
    }

    #[test]
    fn fault_free_runs_have_no_ground_truth_and_few_errors() {
        let dataset = run(short_config(None, 11)).expect("runs");
        assert!(dataset.ground_truth.is_none());
        assert!(acted_traces(&dataset).is_empty());
        let all = TimeRange::new(Timestamp(0), Timestamp(i64::MAX)).expect("ordered");
        let errors: f64 = crate::sim::topology::SERVICES
            .iter()
            .map(|s| errors_into(&dataset, s.name, "destination", all))
            .sum();
        let total: f64 = dataset
            .series
            .iter()
            .filter(|s| {
                s.name() == "istio_requests_total" && s.label("reporter") == Some("destination")
            })
            .filter_map(|s| s.samples.last().map(|p| p.value))
            .sum();
        assert!(total > 1000.0);
        assert!(errors / total < 0.005, "{errors} of {total}");
    }
}
