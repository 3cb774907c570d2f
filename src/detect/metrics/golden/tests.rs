use super::*;

fn series(pairs: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
    Series {
        labels: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        samples: points
            .iter()
            .map(|(secs, value)| Sample {
                timestamp: Timestamp::from_secs(*secs),
                value: *value,
            })
            .collect(),
    }
}

fn at(signals: &GoldenSignals, signal: &Signal, secs: i64) -> f64 {
    signals.signals[signal]
        .iter()
        .find(|p| p.timestamp == Timestamp::from_secs(secs))
        .map_or(f64::NAN, |p| p.value)
}

#[test]
fn histogram_quantile_matches_a_hand_computation() {
    // 10 obs ≤ 10 ms, 30 ≤ 50, 40 ≤ 100, 40 in +Inf. p50: rank 20 in (10, 50]:
    // 10 + 40 · (20 − 10) / (30 − 10) = 30.
    let buckets = [
        (10.0, 10.0),
        (50.0, 30.0),
        (100.0, 40.0),
        (f64::INFINITY, 40.0),
    ];
    assert!((histogram_quantile(0.5, &buckets) - 30.0).abs() < 1e-12);
    // p25: rank 10 falls in the first bucket, interpolated from 0: 0 + 10 · 10 / 10.
    assert!((histogram_quantile(0.25, &buckets) - 10.0).abs() < 1e-12);
    // p99: rank 39.6 in (50, 100]: 50 + 50 · 9.6 / 10 = 98.
    assert!((histogram_quantile(0.99, &buckets) - 98.0).abs() < 1e-12);
    // Rank in +Inf → highest finite bound.
    let heavy = [(10.0, 1.0), (f64::INFINITY, 10.0)];
    assert_eq!(histogram_quantile(0.9, &heavy), 10.0);
    assert!(histogram_quantile(0.5, &[(10.0, 0.0), (f64::INFINITY, 0.0)]).is_nan());
    assert!(histogram_quantile(0.5, &[(10.0, 3.0)]).is_nan());
}

#[test]
fn the_decision_p99_is_not_set_by_the_slowest_request_alone() {
    // 60 requests in a 60 s range (bucket rates per second): 59 at ≤ 25 ms (15 of them ≤ 10),
    // one at (100, 250]. The plain p99 (rank 59.4) lands on the slow one: 100 + 150 · 0.4 = 160.
    // The decision rank is min(59.4, 60 − 1.5) = 58.5, inside (10, 25]:
    // 10 + 15 · (58.5 − 15) / (59 − 15) = 24.83.
    let per_s = |n: f64| n / 60.0;
    let one_slow = [
        (10.0, per_s(15.0)),
        (25.0, per_s(59.0)),
        (50.0, per_s(59.0)),
        (100.0, per_s(59.0)),
        (250.0, per_s(60.0)),
        (f64::INFINITY, per_s(60.0)),
    ];
    let range = Duration::from_secs(60);
    assert!((histogram_quantile(0.99, &one_slow) - 160.0).abs() < 1e-9);
    assert!((decision_quantile(0.99, &one_slow, range) - (10.0 + 15.0 * 43.5 / 44.0)).abs() < 1e-9);
    // Two slow requests: rank 58.5 in (100, 250], 100 + 150 · (58.5 − 58) / 2 = 137.5.
    let two_slow = [
        (10.0, per_s(15.0)),
        (25.0, per_s(58.0)),
        (100.0, per_s(58.0)),
        (250.0, per_s(60.0)),
        (f64::INFINITY, per_s(60.0)),
    ];
    assert!((decision_quantile(0.99, &two_slow, range) - 137.5).abs() < 1e-9);
    // From 150 requests up it is the p99 itself (rank 0.99 · 200 = 198 ≤ 198.5).
    let busy = [
        (25.0, per_s(190.0)),
        (250.0, per_s(200.0)),
        (f64::INFINITY, per_s(200.0)),
    ];
    assert_eq!(
        decision_quantile(0.99, &busy, range),
        histogram_quantile(0.99, &busy)
    );
}

#[test]
fn counter_resets_nan_gaps_and_irregular_steps() {
    // 1/s, reset to 0 at t=45 (restart), a NaN at 30, an irregular sample at 52.
    let counter = series(
        &[
            ("__name__", "istio_requests_total"),
            ("reporter", "destination"),
            ("destination_workload", "carts"),
            ("response_code", "200"),
        ],
        &[
            (0, 100.0),
            (15, 115.0),
            (30, f64::NAN),
            (45, 5.0),
            (52, 12.0),
            (60, 20.0),
        ],
    );
    let golden = golden_signals_from_series(&[counter], Duration::from_secs(15));
    let carts = &golden["carts"];
    // Over (0, 60]: 15 + reset(5) + 7 + 8 = 35 in 60 s.
    assert!((at(carts, &Signal::Traffic, 60) - 35.0 / 60.0).abs() < 1e-12);
    // Over (-45, 15]: data starts at 0, so 15 over 15 s.
    assert!((at(carts, &Signal::Traffic, 15) - 1.0).abs() < 1e-12);
    assert_eq!(at(carts, &Signal::ErrorRatio, 60), 0.0);
}

#[test]
fn error_ratio_prefers_client_reports_and_counts_late_series_from_zero() {
    let ok = series(
        &[
            ("__name__", "istio_requests_total"),
            ("reporter", "source"),
            ("destination_workload", "user"),
            ("response_code", "200"),
        ],
        &[(0, 0.0), (15, 30.0), (30, 60.0), (45, 60.0), (60, 60.0)],
    );
    // A 503 series that first appears at t=45 with value 30 (pod failure).
    let failing = series(
        &[
            ("__name__", "istio_requests_total"),
            ("reporter", "source"),
            ("destination_workload", "user"),
            ("response_code", "503"),
            ("response_flags", "UH"),
        ],
        &[(45, 30.0), (60, 60.0)],
    );
    let served = series(
        &[
            ("__name__", "istio_requests_total"),
            ("reporter", "destination"),
            ("destination_workload", "user"),
            ("response_code", "200"),
        ],
        &[(0, 0.0), (15, 30.0), (30, 60.0), (45, 60.0), (60, 60.0)],
    );
    let golden = golden_signals_from_series(&[ok, failing, served], Duration::from_secs(15));
    let user = &golden["user"];
    // (0, 60]: 60 ok + 60 failed → ratio 0.5; traffic (server side) 1/s.
    assert!((at(user, &Signal::ErrorRatio, 60) - 0.5).abs() < 1e-12);
    assert!((at(user, &Signal::Traffic, 60) - 1.0).abs() < 1e-12);
}

#[test]
fn tcp_failures_saturation_and_other_series_get_their_services() {
    let failures = series(
        &[
            ("__name__", "istio_tcp_connections_opened_total"),
            ("reporter", "source"),
            ("destination_workload", "carts-db"),
            ("response_flags", "UF"),
        ],
        &[(30, 6.0), (60, 12.0)],
    );
    let old_pod = series(
        &[
            ("__name__", "container_memory_working_set_bytes"),
            ("container", "carts"),
            ("pod", "carts-7b9f6d8c4-x2x7k"),
        ],
        &[(0, 100.0), (15, 100.0), (30, 100.0)],
    );
    let new_pod = series(
        &[
            ("__name__", "container_memory_working_set_bytes"),
            ("container", "carts"),
            ("pod", "carts-7b9f6d8c4-abcde"),
        ],
        &[(30, 50.0), (45, 60.0), (60, 70.0)],
    );
    let cpu = series(
        &[
            ("__name__", "container_cpu_usage_seconds_total"),
            ("container", "carts"),
            ("pod", "carts-7b9f6d8c4-abcde"),
        ],
        &[(0, 0.0), (15, 3.0), (30, 6.0), (45, 9.0), (60, 12.0)],
    );
    let queue = series(
        &[
            ("__name__", "rabbitmq_queue_messages_ready"),
            ("queue", "shipping-task"),
        ],
        &[(0, 4.0), (60, 9.0)],
    );
    let golden = golden_signals_from_series(
        &[failures, old_pod, new_pod, cpu, queue],
        Duration::from_secs(15),
    );
    assert!((at(&golden["carts-db"], &Signal::TcpFailures, 60) - 12.0 / 60.0).abs() < 1e-12);
    // At t=30 both pods have a sample: only those at the newest scrape count (both, 150).
    assert_eq!(at(&golden["carts"], &Signal::Memory, 30), 150.0);
    // At t=45 the old pod is stale.
    assert_eq!(at(&golden["carts"], &Signal::Memory, 45), 60.0);
    assert!((at(&golden["carts"], &Signal::Cpu, 60) - 0.2).abs() < 1e-12);
    let queue_signal = Signal::Other("rabbitmq_queue_messages_ready".into());
    assert_eq!(at(&golden["rabbitmq"], &queue_signal, 60), 9.0);
}

#[test]
fn scrape_durations_take_the_slowest_pod_of_the_workload_named_by_the_pod() {
    let scrape = |pod: &str, points: &[(i64, f64)]| {
        series(
            &[
                ("__name__", "scrape_duration_seconds"),
                ("job", "kubernetes-pods"),
                ("namespace", "sock-shop"),
                ("pod", pod),
            ],
            points,
        )
    };
    let golden = golden_signals_from_series(
        &[
            scrape("carts-7b9f6d8c4-abcde", &[(0, 0.02), (15, 0.03), (30, 2.1)]),
            scrape(
                "carts-7b9f6d8c4-fghij",
                &[(0, 0.04), (15, 0.01), (30, 0.02)],
            ),
            // `carts-db`'s pod must not count as carts'.
            scrape(
                "carts-db-5c8d9f7b6-klmno",
                &[(0, 9.0), (15, 9.0), (30, 9.0)],
            ),
        ],
        Duration::from_secs(15),
    );
    assert_eq!(at(&golden["carts"], &Signal::ScrapeDuration, 0), 0.04);
    assert_eq!(at(&golden["carts"], &Signal::ScrapeDuration, 15), 0.03);
    assert_eq!(at(&golden["carts"], &Signal::ScrapeDuration, 30), 2.1);
    assert_eq!(at(&golden["carts-db"], &Signal::ScrapeDuration, 30), 9.0);
    assert_eq!(Signal::ScrapeDuration.name(), "scrape_duration_s");
    assert_eq!(Signal::ScrapeDuration.direction(), Direction::Up);
}
