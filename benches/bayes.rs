//! Criterion benchmarks: all posterior marginals via `infer` (junction tree
//! compile + query) on Asia, a random 37-variable network, the ALARM-like
//! network, and noisy-OR service graphs of 14, 1,000 and 10,000 nodes; plus the
//! query alone on a precompiled 10,000-node junction tree.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use baynet::bayes::generate::{alarm_like, asia, layered_service_like, random_network};
use baynet::bayes::{Evidence, InferOptions, JunctionTree, Network, Posteriors, infer};
use criterion::{Criterion, criterion_group, criterion_main};

fn check(p: &Posteriors) {
    assert!(p.algorithm.is_exact());
    for m in &p.marginals {
        assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}

fn bench_net(c: &mut Criterion, name: &str, net: &Network, ev: &Evidence) {
    let opts = InferOptions::default();
    check(&infer(net, ev, &opts).unwrap());
    c.bench_function(name, |b| {
        b.iter(|| {
            let p = infer(black_box(net), black_box(ev), &opts).unwrap();
            assert!((p.marginals[0].iter().sum::<f64>() - 1.0).abs() < 1e-9);
            p
        })
    });
}

fn benches_all(c: &mut Criterion) {
    let net = asia().unwrap();
    let mut ev = Evidence::new();
    ev.hard(&net, "smoke", "yes")
        .unwrap()
        .hard(&net, "xray", "yes")
        .unwrap();
    ev.hard(&net, "dysp", "yes").unwrap();
    let p = infer(&net, &ev, &InferOptions::default()).unwrap();
    assert!((p.prob(&net, "lung", "yes").unwrap() - 0.7237140153108922).abs() < 1e-12);
    bench_net(c, "asia_all_marginals", &net, &ev);

    let net = random_network(37, 3, 3, 2024).unwrap();
    let mut ev = Evidence::new();
    ev.hard(&net, "X36", "s0")
        .unwrap()
        .hard(&net, "X20", "s1")
        .unwrap();
    bench_net(c, "random37_all_marginals", &net, &ev);

    let net = alarm_like(1).unwrap();
    let mut ev = Evidence::new();
    ev.hard(&net, "HRBP", "HIGH")
        .unwrap()
        .hard(&net, "SAO2", "LOW")
        .unwrap();
    bench_net(c, "alarm_like37_all_marginals", &net, &ev);

    for n in [14usize, 1000, 10_000] {
        let net = layered_service_like(n, 7).unwrap();
        let mut ev = Evidence::new();
        ev.hard(&net, &format!("svc{}", n - 1), "fail").unwrap();
        ev.hard(&net, &format!("svc{}", n / 2), "fail").unwrap();
        bench_net(c, &format!("services{n}_all_marginals"), &net, &ev);
        if n == 10_000 {
            let jt = JunctionTree::compile(&net, 1 << 23).unwrap();
            c.bench_function("services10000_query_only", |b| {
                b.iter(|| {
                    let r = jt.query(black_box(&ev)).unwrap();
                    assert!((r.marginals[0].iter().sum::<f64>() - 1.0).abs() < 1e-9);
                    r
                })
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches_all
}
criterion_main!(benches);
