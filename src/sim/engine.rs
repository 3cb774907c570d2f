//! The simulation loop: one-second ticks of Locust-like user traffic through the sock-shop mesh,
//! with pods that fail, restart and get deployed, and a fault injected over a window.
//!
//! Invariant: deterministic for a seed — one ChaCha RNG, ordered collections only, no clock.

// Service state lives in arrays parallel to `SERVICES`; loops index both.
#![allow(clippy::needless_range_loop)]

use super::faults::ActiveFault;
use super::logs::{self, CallFailure, QueueEvent};
use super::metrics::{HttpKey, MeshMetrics, Reporter, SeriesKey, ServiceIndex, TcpKey, UNKNOWN};
use super::operations::{Op, Step, USER_ACTIONS};
use super::topology::{LogStyle, NAMESPACE, SERVICES, index_of};
use crate::model::{
    AttributeValue, FaultClass, Labels, LogRecord, Span, SpanId, SpanKind, SpanStatus, StatusCode,
    Timestamp, TraceId,
};
use crate::scenario::FaultSpec;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Poisson};
use std::sync::Arc;
use std::time::Duration;

/// Settings of one simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// RNG seed; equal seeds give equal telemetry.
    pub seed: u64,
    /// Simulated start time.
    pub start: Timestamp,
    /// Normal traffic before the fault.
    pub baseline: Duration,
    /// Fault length.
    pub fault_duration: Duration,
    /// Normal traffic after the fault.
    pub recovery: Duration,
    /// The fault, or `None` for a fault-free run.
    pub fault: Option<FaultSpec>,
    /// Scenario name written to the ground truth.
    pub scenario: String,
    /// Mean user actions per second.
    pub load_per_sec: f64,
    /// Share of traces kept (head sampling at the edge, like Envoy's random sampling).
    pub trace_sample_rate: f64,
    /// Background noise: deploys, random 5xx, slow requests.
    pub noise: bool,
    /// Seconds added to the clock for the daily load curve only (traffic is lowest at 00:00
    /// UTC, 15 % under the mean, and highest at 12:00): a simulation that starts at the wall
    /// clock's now can still be pinned to one time of day.
    pub diurnal_shift_secs: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start: Timestamp::from_secs(1_735_689_600),
            baseline: Duration::from_secs(600),
            fault_duration: Duration::from_secs(600),
            recovery: Duration::from_secs(600),
            fault: None,
            scenario: "none".to_owned(),
            load_per_sec: 6.0,
            trace_sample_rate: 0.2,
            noise: true,
            diurnal_shift_secs: 0,
        }
    }
}

/// Telemetry emitted by ticks, appended until the caller takes it.
#[derive(Debug, Default)]
pub struct Emitted {
    /// Log lines.
    pub logs: Vec<LogRecord>,
    /// Spans of sampled traces.
    pub spans: Vec<Span>,
    /// Sampled traces the fault acted on (simulator ground truth, for evaluation only: it
    /// never appears in the telemetry itself, so nothing served or exported can read it).
    pub fault_acted: Vec<TraceId>,
}

#[derive(Debug, Clone)]
struct ServiceState {
    pods: Vec<String>,
    /// Not accepting connections until then (killed, restarting).
    refusing_until: Timestamp,
    /// Startup logs to write at this time.
    startup_at: Option<Timestamp>,
    /// Stress memory currently allocated, MiB.
    stress_mib: f64,
    /// Bytes queued behind a bandwidth limit, as of `backlog_at`.
    backlog_bytes: f64,
    /// When `backlog_bytes` was last updated.
    backlog_at: Timestamp,
    /// JVM warm-up after a start: slower until then.
    warm_after: Timestamp,
    /// Requests served this tick (for CPU accounting).
    served_this_tick: u32,
    /// Last time a health-probe cycle restarted it.
    probe_cycle_start: Option<Timestamp>,
}

/// Outcome of one call as the caller sees it.
#[derive(Debug, Clone, Copy)]
struct CallOutcome {
    failure: Option<CallFailure>,
    duration_ms: f64,
}

struct TraceContext {
    trace_id: TraceId,
    sampled: bool,
    request_id: String,
}

/// A running simulation of sock-shop.
pub struct Simulation {
    config: SimConfig,
    rng: ChaCha8Rng,
    now: Timestamp,
    end: Timestamp,
    fault: Option<ActiveFault>,
    services: Vec<ServiceState>,
    metrics: MeshMetrics,
    deploys: Vec<(Timestamp, usize)>,
    load_walk: f64,
    counter: u64,
    queue_connected: bool,
    /// Set when the fault acts on the call being simulated (an injected failure, added delay
    /// or slowdown, memory pressure from a stress fault): the ground truth of which traces the
    /// fault actually changed. Read and reset per user request; consumes no randomness.
    fault_acted: std::cell::Cell<bool>,
    /// The latest moment at which a consequence of the fault was still under way: a request
    /// the fault acted on completing, a pod the fault restarted coming back up, the queue's
    /// backlog from a lost connection draining. Ground truth only; consumes no randomness.
    last_effect: Option<Timestamp>,
    /// Set when queue-master reconnects after the fault cut it off, until its backlog is
    /// delivered.
    draining_fault_backlog: bool,
    /// The label map of each log stream (service, proxy container or not), shared by all its
    /// lines; rebuilt when the pod changes (a restart).
    stream_labels: std::collections::HashMap<(ServiceIndex, bool), Arc<Labels>>,
    /// Per service, the duration of its latest completed scrape, seconds
    /// ([`Self::scrape_durations`]).
    scrape_seconds: Vec<f64>,
}

/// Messages queue-master takes from RabbitMQ per second at most.
const QUEUE_DELIVERIES_PER_TICK: f64 = 50.0;

/// Bytes of one scrape of a pod's merged metrics endpoint (Envoy and application stats).
pub const SCRAPE_BYTES: f64 = 400_000.0;

/// Seconds between Prometheus scrapes ([`crate::sim::run::SCRAPE_INTERVAL`]).
pub const SCRAPE_INTERVAL_SECS: i64 = 15;

/// Prometheus's default scrape timeout, seconds.
const SCRAPE_TIMEOUT_SECS: f64 = 10.0;

/// Deterministic noise of one scrape: a uniform in `[0, 1)` and an approximately standard
/// normal (the sum of four uniforms, centred and scaled), from the seed, service and time.
struct ScrapeNoise {
    uniform: f64,
    normal: f64,
}

fn scrape_noise(seed: u64, service: usize, at: Timestamp) -> ScrapeNoise {
    let mut state = seed
        ^ u64::try_from(service)
            .unwrap_or(0)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::try_from(at.as_nanos() / 1_000_000).unwrap_or(0);
    let mut next = || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        #[allow(clippy::cast_precision_loss)]
        let unit = (z ^ (z >> 31)) as f64 / 18_446_744_073_709_551_616.0;
        unit
    };
    let uniform = next();
    let sum: f64 = (0..4).map(|_| next()).sum();
    ScrapeNoise {
        uniform,
        normal: (sum - 2.0) * 3.0_f64.sqrt(),
    }
}

fn pod_name(rng: &mut ChaCha8Rng, service: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    };
    let hash = pick(9);
    let suffix = pick(5);
    format!("{service}-{hash}-{suffix}")
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

impl Simulation {
    /// Starts a simulation.
    ///
    /// # Errors
    /// When the fault names a service sock-shop does not have.
    pub fn new(config: SimConfig) -> Result<Self, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let services = SERVICES
            .iter()
            .map(|spec| ServiceState {
                pods: vec![pod_name(&mut rng, spec.name)],
                refusing_until: config.start,
                startup_at: None,
                stress_mib: 0.0,
                backlog_bytes: 0.0,
                backlog_at: config.start,
                warm_after: config.start,
                served_this_tick: 0,
                probe_cycle_start: None,
            })
            .collect();
        let fault_start = config.start.plus(config.baseline);
        let fault_end = fault_start.plus(config.fault_duration);
        let end = fault_end.plus(config.recovery);
        let fault = match &config.fault {
            Some(spec) => {
                let target = index_of(&spec.target)
                    .ok_or_else(|| format!("sock-shop has no service `{}`", spec.target))?;
                let peer = match &spec.peer {
                    Some(name) => Some(index_of(name).ok_or_else(|| {
                        format!("sock-shop has no service `{name}` (fault peer)")
                    })?),
                    None => None,
                };
                Some(ActiveFault {
                    spec: spec.clone(),
                    target,
                    peer,
                    start: fault_start,
                    end: fault_end,
                })
            }
            None => None,
        };
        let mut metrics = MeshMetrics::new(SERVICES.len());
        for (index, spec) in SERVICES.iter().enumerate() {
            metrics.containers[index].1.memory_bytes = spec.memory_mib * 1_048_576.0;
        }
        let mut simulation = Self {
            config,
            rng,
            now: Timestamp::default(),
            end,
            fault,
            services,
            metrics,
            deploys: Vec::new(),
            load_walk: 1.0,
            counter: 0,
            queue_connected: true,
            fault_acted: std::cell::Cell::new(false),
            last_effect: None,
            draining_fault_backlog: false,
            stream_labels: std::collections::HashMap::new(),
            scrape_seconds: Vec::new(),
        };
        simulation.now = simulation.config.start;
        simulation.scrape_seconds = simulation.measure_scrapes(simulation.now);
        simulation.plan_deploys();
        Ok(simulation)
    }

    /// Routine deploys of stateless services outside the fault window: false-positive bait.
    fn plan_deploys(&mut self) {
        if !self.config.noise {
            return;
        }
        let n_deploys = self.rng.random_range(0..=2);
        let target = self.fault.as_ref().map(|fault| fault.target);
        let candidates: Vec<usize> = SERVICES
            .iter()
            .enumerate()
            .filter(|(index, spec)| {
                spec.protocol == crate::model::Protocol::Http && Some(*index) != target
            })
            .map(|(index, _)| index)
            .collect();
        for _ in 0..n_deploys {
            let service = candidates[self.rng.random_range(0..candidates.len())];
            let baseline = self.config.baseline.as_secs_f64();
            let recovery = self.config.recovery.as_secs_f64();
            let offset = if self.rng.random_bool(0.5) || recovery < 300.0 {
                baseline * self.rng.random_range(0.15..0.7)
            } else {
                baseline
                    + self.config.fault_duration.as_secs_f64()
                    + 240.0
                    + (recovery - 240.0).max(0.0) * self.rng.random_range(0.0..0.8)
            };
            self.deploys.push((
                self.config.start.plus(Duration::from_secs_f64(offset)),
                service,
            ));
        }
        self.deploys.sort();
    }

    /// Current simulated time (start of the next tick).
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// End of the configured run (baseline + fault + recovery).
    #[must_use]
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The fault window, if a fault is configured.
    #[must_use]
    pub fn fault_window(&self) -> Option<(Timestamp, Timestamp)> {
        self.fault.as_ref().map(|fault| (fault.start, fault.end))
    }

    /// Current metric values.
    #[must_use]
    pub fn metrics(&self) -> &MeshMetrics {
        &self.metrics
    }

    /// Name of a service's pod in a generation.
    #[must_use]
    pub fn pod_name(&self, service: ServiceIndex, generation: u32) -> String {
        self.services
            .get(service)
            .and_then(|state| state.pods.get(generation as usize))
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// The ground truth of this run.
    #[must_use]
    pub fn ground_truth(&self) -> Option<crate::model::GroundTruth> {
        self.fault.as_ref().map(|fault| crate::model::GroundTruth {
            scenario: self.config.scenario.clone(),
            fault_class: fault.spec.class,
            root_cause: fault.spec.target.clone(),
            peer: fault.spec.peer.clone(),
            fault_start: fault.start,
            fault_end: fault.end,
            start: self.config.start,
            end: self.end,
            seed: self.config.seed,
            acted_traces: Vec::new(),
            effects_end: self.last_effect.filter(|at| *at > fault.end),
        })
    }

    /// Records that a consequence of the fault lasts until `at`.
    fn note_effect(&mut self, at: Timestamp) {
        self.last_effect = Some(self.last_effect.map_or(at, |last| last.max(at)));
    }

    fn generation(&self, service: ServiceIndex) -> u32 {
        u32::try_from(self.services[service].pods.len().saturating_sub(1)).unwrap_or(0)
    }

    fn current_pod(&self, service: ServiceIndex) -> &str {
        self.services[service]
            .pods
            .last()
            .map_or("unknown", String::as_str)
    }

    fn log(
        &mut self,
        out: &mut Emitted,
        service: ServiceIndex,
        container_is_proxy: bool,
        t: Timestamp,
        line: String,
    ) {
        let name = SERVICES[service].name;
        // The pod of `current_pod`, borrowed from its field only (the cache is written below).
        let pod = self.services[service]
            .pods
            .last()
            .map_or("unknown", String::as_str);
        let known = self
            .stream_labels
            .get(&(service, container_is_proxy))
            .filter(|labels| labels.get("pod").is_some_and(|p| p == pod))
            .cloned();
        let labels = known.unwrap_or_else(|| {
            let mut labels = Labels::new();
            labels.insert("namespace".to_owned(), NAMESPACE.to_owned());
            labels.insert("pod".to_owned(), pod.to_owned());
            labels.insert(
                "container".to_owned(),
                if container_is_proxy {
                    "istio-proxy".to_owned()
                } else {
                    name.to_owned()
                },
            );
            labels.insert("name".to_owned(), name.to_owned());
            labels.insert("service_name".to_owned(), name.to_owned());
            labels.insert("job".to_owned(), format!("{NAMESPACE}/{name}"));
            let labels = Arc::new(labels);
            self.stream_labels
                .insert((service, container_is_proxy), Arc::clone(&labels));
            labels
        });
        out.logs.push(LogRecord {
            timestamp: t,
            service: name.to_owned(),
            labels,
            line,
        });
    }

    fn log_lines(
        &mut self,
        out: &mut Emitted,
        service: ServiceIndex,
        t: Timestamp,
        lines: Vec<String>,
    ) {
        for (offset, line) in lines.into_iter().enumerate() {
            self.log(
                out,
                service,
                false,
                t.plus(Duration::from_micros(offset as u64 * 37)),
                line,
            );
        }
    }

    /// Whether a pod-failure fault has the service paused at `t` (everything stops, logs too).
    fn paused(&self, service: ServiceIndex, t: Timestamp) -> bool {
        self.fault.as_ref().is_some_and(|fault| {
            fault.spec.class == FaultClass::PodFailure && fault.target == service && fault.active(t)
        })
    }

    /// How an inbound connection to `service` at `t` fares before any request is processed.
    fn reachability(
        &self,
        caller: ServiceIndex,
        service: ServiceIndex,
        method: &str,
        t: Timestamp,
    ) -> Option<CallFailure> {
        if let Some(fault) = &self.fault {
            if caller != UNKNOWN && fault.partitioned(caller, service, t) {
                self.fault_acted.set(true);
                return Some(CallFailure::Timeout);
            }
            if fault.spec.class == FaultClass::PodFailure
                && fault.target == service
                && fault.active(t)
            {
                self.fault_acted.set(true);
                // Readiness probes take 3 × 10 s to fail; until then Envoy still routes to the pod.
                return Some(if fault.elapsed_secs(t) < 30.0 {
                    CallFailure::Refused
                } else {
                    CallFailure::NoHealthyUpstream
                });
            }
            if fault.fails_probes(service, t) {
                let phase = fault.elapsed_secs(t) % 85.0;
                if (30.0..60.0).contains(&phase) {
                    self.fault_acted.set(true);
                    return Some(CallFailure::NoHealthyUpstream);
                }
                if phase >= 60.0 {
                    self.fault_acted.set(true);
                    return Some(CallFailure::Refused);
                }
            }
            if fault.aborts(service, method, t) {
                self.fault_acted.set(true);
                return Some(CallFailure::Reset);
            }
        }
        if t < self.services[service].refusing_until {
            self.note_fault_restart(service, t);
            return Some(CallFailure::Refused);
        }
        None
    }

    /// A refused connection to a restarting `service` counts as the fault's doing when the
    /// fault targets it and is active (an OOM kill under memory stress, a probe-failure
    /// restart).
    fn note_fault_restart(&self, service: ServiceIndex, t: Timestamp) {
        if self
            .fault
            .as_ref()
            .is_some_and(|fault| fault.target == service && fault.active(t))
        {
            self.fault_acted.set(true);
        }
    }

    fn egress_delay_ms(&mut self, service: ServiceIndex, t: Timestamp, bytes: f64) -> f64 {
        let Some(fault) = &self.fault else { return 0.0 };
        let mut delay = fault.egress_delay_ms(service, t);
        if delay > 0.0 {
            self.fault_acted.set(true);
            delay += self.rng.random_range(0.0..2.0);
        }
        if let Some(rate) = fault.bandwidth_limit(service, t) {
            delay += self.enqueue_egress(service, t, bytes, rate) / rate * 1000.0;
            self.fault_acted.set(true);
        }
        delay
    }

    /// Queues `bytes` behind a token-bucket limit of `rate` bytes/s (tc `bandwidth`), draining
    /// the queue for the time since the last update; returns the bytes queued up to and
    /// including this payload.
    fn enqueue_egress(
        &mut self,
        service: ServiceIndex,
        t: Timestamp,
        bytes: f64,
        rate: f64,
    ) -> f64 {
        let state = &mut self.services[service];
        let drained = rate * t.since(state.backlog_at).as_secs_f64();
        state.backlog_bytes = (state.backlog_bytes - drained).max(0.0) + bytes;
        state.backlog_at = state.backlog_at.max(t);
        state.backlog_bytes
    }

    fn own_latency_ms(&mut self, service: ServiceIndex, median_ms: f64, t: Timestamp) -> f64 {
        let sigma = 0.35;
        let distribution = LogNormal::new(median_ms.max(0.01).ln(), sigma)
            .unwrap_or_else(|_| LogNormal::new(0.0, 0.35).unwrap_or_else(|_| unreachable!()));
        let mut latency = distribution.sample(&mut self.rng);
        if self.config.noise && self.rng.random_bool(0.004) {
            latency *= self.rng.random_range(4.0..12.0);
        }
        let state = &self.services[service];
        if t < state.warm_after {
            latency *= 1.8;
        }
        if let Some(fault) = &self.fault {
            let slowdown = fault.slowdown(service, t);
            if slowdown > 1.0 {
                self.fault_acted.set(true);
            }
            latency *= slowdown;
        }
        // Memory pressure: a JVM near its limit spends its time in GC.
        let limit = SERVICES[service].memory_limit_mib;
        let used = SERVICES[service].memory_mib + state.stress_mib;
        if used > 0.8 * limit {
            if state.stress_mib > 0.0 {
                self.fault_acted.set(true);
            }
            let pressure = ((used - 0.8 * limit) / (0.2 * limit)).min(1.5);
            latency *= 1.0 + 3.0 * pressure;
            if self.rng.random_bool((0.3 * pressure).min(1.0)) {
                latency += self.rng.random_range(60.0..700.0) * pressure;
            }
        }
        latency
    }

    /// Runs one tick of one second.
    pub fn step(&mut self, out: &mut Emitted) {
        let t = self.now;
        self.update_pods(t, out);
        self.background(t, out);
        let rate = self.traffic_rate(t);
        let n_actions = Poisson::new(rate.max(0.01))
            .map(|p| p.sample(&mut self.rng))
            .unwrap_or(0.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n_actions = n_actions as u32;
        let total_weight: u32 = USER_ACTIONS.iter().map(|(_, w)| w).sum();
        if t.as_secs() % SCRAPE_INTERVAL_SECS == 0 {
            self.scrape_seconds = self.measure_scrapes(t);
            self.scrape_bursts(t);
        }
        let mut offsets: Vec<u64> = (0..n_actions)
            .map(|_| self.rng.random_range(0..1_000_000_000))
            .collect();
        offsets.sort_unstable();
        for offset in offsets {
            let offset = Duration::from_nanos(offset);
            let mut pick = self.rng.random_range(0..total_weight);
            let mut action = Op::FrontHome;
            for (op, weight) in USER_ACTIONS {
                if pick < weight {
                    action = op;
                    break;
                }
                pick -= weight;
            }
            self.user_request(action, t.plus(offset), out);
        }
        self.queue_master(t, out);
        self.account_resources(t);
        self.now = t.plus(Duration::from_secs(1));
    }

    fn traffic_rate(&mut self, t: Timestamp) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let day_phase =
            ((t.as_secs() + self.config.diurnal_shift_secs).rem_euclid(86_400)) as f64 / 86_400.0;
        let diurnal = 1.0 + 0.15 * (std::f64::consts::TAU * (day_phase - 0.25)).sin();
        if self.config.noise {
            let step: f64 = self.rng.random_range(-0.01..0.01);
            self.load_walk = (self.load_walk * (1.0 + step)).clamp(0.85, 1.15);
        }
        self.config.load_per_sec * diurnal * self.load_walk
    }

    fn restart(&mut self, service: ServiceIndex, t: Timestamp) {
        let startup = SERVICES[service].startup_secs;
        let state = &mut self.services[service];
        state.refusing_until = t.plus(Duration::from_secs_f64(startup));
        state.startup_at = Some(state.refusing_until);
        state.warm_after = state.refusing_until.plus(Duration::from_secs(60));
        state.stress_mib = 0.0;
        let stats = &mut self.metrics.containers[service].1;
        stats.restarts += 1.0;
        stats.cpu_seconds = 0.0;
        // Every restart in the simulation is the fault's doing (pod failure ending, OOM kill,
        // failed probes, a crashed database): down until the pod is up again.
        let up = self.services[service].refusing_until;
        self.note_effect(up);
    }

    fn deploy(&mut self, service: ServiceIndex, t: Timestamp) {
        let name = pod_name(&mut self.rng, SERVICES[service].name);
        let state = &mut self.services[service];
        state.pods.push(name);
        state.startup_at = Some(t.plus(Duration::from_secs_f64(SERVICES[service].startup_secs)));
        state.warm_after = t.plus(Duration::from_secs(90));
        self.metrics.generations[service] += 1;
        let generation = self.generation(service);
        self.metrics.containers[service] = (
            generation,
            super::metrics::ContainerStats {
                memory_bytes: SERVICES[service].memory_mib * 1_048_576.0,
                ..Default::default()
            },
        );
    }

    fn update_pods(&mut self, t: Timestamp, out: &mut Emitted) {
        while let Some(&(when, service)) = self.deploys.first() {
            if when > t {
                break;
            }
            self.deploys.remove(0);
            self.deploy(service, when);
        }
        let tick_end = t.plus(Duration::from_secs(1));
        if let Some(fault) = self.fault.clone() {
            let target = fault.target;
            let was_active = fault.active(t.minus(Duration::from_secs(1)));
            let is_active = fault.active(t);
            match fault.spec.class {
                FaultClass::PodFailure if was_active && !is_active => self.restart(target, t),
                FaultClass::BadDeploy if !was_active && is_active => self.deploy(target, t),
                FaultClass::BadDeploy if was_active && !is_active => self.deploy(target, t),
                FaultClass::MemoryStress
                    if is_active && t >= self.services[target].refusing_until =>
                {
                    let total_mib = fault
                        .spec
                        .params
                        .memory_bytes
                        .map_or(512.0, |b| b as f64 / 1_048_576.0);
                    let state = &mut self.services[target];
                    state.stress_mib = (state.stress_mib + total_mib / 60.0).min(total_mib);
                    let used = SERVICES[target].memory_mib + state.stress_mib;
                    if used > SERVICES[target].memory_limit_mib {
                        self.restart(target, t);
                    } else if used > 0.8 * SERVICES[target].memory_limit_mib
                        && self.rng.random_bool(0.5)
                    {
                        let pause = self.rng.random_range(80.0..900.0);
                        let line = logs::gc_pause(t, pause, used);
                        let at = t.plus(Duration::from_millis(self.rng.random_range(0..1000)));
                        self.log(out, target, false, at, line);
                    }
                }
                FaultClass::MemoryStress if was_active && !is_active => {
                    self.services[target].stress_mib = 0.0
                }
                FaultClass::HttpAbort if fault.fails_probes(target, t) => {
                    let phase = fault.elapsed_secs(t) % 85.0;
                    if (60.0..61.0).contains(&phase) {
                        self.restart(target, t);
                        self.services[target].probe_cycle_start = Some(t);
                    }
                }
                FaultClass::IoFault
                    if is_active
                        && SERVICES[target].style == LogStyle::MongoDb
                        && t >= self.services[target].refusing_until
                        && self.rng.random_bool(1.0 / 240.0) =>
                {
                    let lines = logs::db_crash(LogStyle::MongoDb, t);
                    self.log_lines(out, target, t, lines);
                    self.restart(target, t);
                }
                FaultClass::IoFault
                    if is_active
                        && t >= self.services[target].refusing_until
                        && self.rng.random_bool(0.15) =>
                {
                    self.counter += 1;
                    let lines = logs::db_io_error(
                        SERVICES[target].style,
                        t.plus(Duration::from_millis(self.rng.random_range(0..1000))),
                        self.counter,
                    );
                    self.log_lines(out, target, t, lines);
                }
                _ => {}
            }
        }
        for service in 0..SERVICES.len() {
            if let Some(at) = self.services[service].startup_at
                && at < tick_end
                && !self.paused(service, at)
            {
                self.services[service].startup_at = None;
                let lines = logs::startup(SERVICES[service].style, at, SERVICES[service].name);
                for (offset, line) in lines.into_iter().enumerate() {
                    self.log(
                        out,
                        service,
                        false,
                        at.plus(Duration::from_millis(offset as u64 * 150)),
                        line,
                    );
                }
            }
        }
    }

    fn background(&mut self, t: Timestamp, out: &mut Emitted) {
        for service in 0..SERVICES.len() {
            if self.paused(service, t) || t < self.services[service].refusing_until {
                continue;
            }
            let style = SERVICES[service].style;
            let chance = match style {
                LogStyle::MongoDb | LogStyle::RabbitMq => 1.0 / 20.0,
                LogStyle::MySql | LogStyle::Redis => 1.0 / 120.0,
                _ => 1.0 / 10.0,
            };
            if self.rng.random_bool(chance) {
                self.counter += 1;
                let at = t.plus(Duration::from_millis(self.rng.random_range(0..1000)));
                if let Some(line) = logs::background(style, at, self.counter) {
                    self.log(out, service, false, at, line);
                }
            }
        }
    }

    fn account_resources(&mut self, t: Timestamp) {
        for service in 0..SERVICES.len() {
            let spec = &SERVICES[service];
            let paused = self.paused(service, t);
            let state = &mut self.services[service];
            let stats = &mut self.metrics.containers[service].1;
            let mut cpu = if paused || t < state.refusing_until {
                0.0005
            } else {
                spec.idle_cpu + spec.cpu_per_request * f64::from(state.served_this_tick)
            };
            let stress_workers = self
                .fault
                .as_ref()
                .filter(|f| f.target == service && f.active(t));
            if let Some(fault) = stress_workers {
                match fault.spec.class {
                    FaultClass::MemoryStress => {
                        cpu += 0.05 * f64::from(fault.spec.params.workers.unwrap_or(1))
                    }
                    FaultClass::CpuStress => {
                        cpu += 0.9 * f64::from(fault.spec.params.workers.unwrap_or(1)).min(2.0)
                    }
                    _ => {}
                }
            }
            stats.cpu_seconds += cpu * (1.0 + 0.1 * (self.rng.random::<f64>() - 0.5));
            let memory_mib = if paused {
                1.0
            } else {
                spec.memory_mib * (1.0 + 0.02 * (self.rng.random::<f64>() - 0.5)) + state.stress_mib
            };
            stats.memory_bytes = memory_mib * 1_048_576.0;
            state.served_this_tick = 0;
        }
    }

    /// Every series a Prometheus scrape stores: the pods' metrics ([`MeshMetrics::snapshot`])
    /// and `scrape_duration_seconds` per pod ([`Self::scrape_durations`]), which Prometheus
    /// records itself (a pod never exposes it).
    #[must_use]
    pub fn scrape_snapshot(&self) -> Vec<(SeriesKey, f64)> {
        let mut out = self.metrics.snapshot();
        out.extend(self.scrape_durations());
        out
    }

    /// `scrape_duration_seconds` of each pod as a query sees it now: the duration of the latest
    /// completed scrape (the one that started at the previous 15-second tick; the scrape
    /// starting at this instant has not finished).
    #[must_use]
    pub fn scrape_durations(&self) -> Vec<(SeriesKey, f64)> {
        self.scrape_seconds
            .iter()
            .enumerate()
            .map(|(index, seconds)| {
                let generation = self.metrics.containers.get(index).map_or(0, |(g, _)| *g);
                (SeriesKey::ScrapeDuration(index, generation), *seconds)
            })
            .collect()
    }

    /// How long Prometheus takes to scrape each pod's merged metrics endpoint
    /// ([`SCRAPE_BYTES`]) starting at `at`, seconds: a few tens of milliseconds (log-normal, from
    /// a hash of the seed, service and time, so it consumes no randomness), plus, behind a
    /// bandwidth limit, the time the bytes already queued and the payload take to leave at the
    /// limited rate, plus, behind an egress delay, about five round trips (TCP slow start after
    /// the 15 s idle: 10 segments doubling to 400 KB). Capped at Prometheus's default 10 s
    /// scrape timeout. A pod that refuses connections fails fast (a few milliseconds).
    fn measure_scrapes(&self, at: Timestamp) -> Vec<f64> {
        self.services
            .iter()
            .enumerate()
            .map(|(index, state)| {
                let noise = scrape_noise(self.config.seed, index, at);
                let mut seconds = if at < state.refusing_until {
                    0.002 * (0.5 + noise.uniform)
                } else {
                    0.025 * (0.3 * noise.normal).exp()
                };
                if let Some(fault) = &self.fault
                    && fault.target == index
                    && fault.active(at)
                    && at >= state.refusing_until
                {
                    seconds += fault.egress_delay_ms(index, at) * 5.0 / 1000.0;
                    if let Some(rate) = fault.bandwidth_limit(index, at) {
                        let queued = (state.backlog_bytes
                            - rate * at.since(state.backlog_at).as_secs_f64())
                        .max(0.0);
                        seconds += (queued + SCRAPE_BYTES) / rate;
                    }
                }
                seconds.min(SCRAPE_TIMEOUT_SECS)
            })
            .collect()
    }

    /// Prometheus scrapes the pod's merged Istio metrics endpoint (Envoy and application stats,
    /// ~400 KB) at `t`, a scrape tick; behind a bandwidth limit that burst delays whatever the
    /// pod sends next.
    fn scrape_bursts(&mut self, t: Timestamp) {
        let Some(fault) = &self.fault else { return };
        let target = fault.target;
        if let Some(rate) = fault.bandwidth_limit(target, t) {
            let at = t.plus(Duration::from_millis(self.rng.random_range(0..1000)));
            self.enqueue_egress(target, at, SCRAPE_BYTES, rate);
        }
    }

    fn queue_master(&mut self, t: Timestamp, out: &mut Emitted) {
        let queue_master = index_of("queue-master").unwrap_or(0);
        let rabbitmq = index_of("rabbitmq").unwrap_or(0);
        let failure = self.tcp_failure(queue_master, rabbitmq, t);
        let flags = if failure.is_some() { "UF" } else { "-" };
        match failure {
            None => {
                if !self.queue_connected {
                    self.queue_connected = true;
                    self.draining_fault_backlog = true;
                    let line = logs::queue_master(t, QueueEvent::Restarting);
                    self.log(out, queue_master, false, t, line);
                }
                let delivered = self.metrics.queue_ready.min(QUEUE_DELIVERIES_PER_TICK);
                self.metrics.queue_ready -= delivered;
                // Only a connection the fault cut leaves a backlog: while it is delivered at
                // full speed, the catch-up is the fault's consequence.
                if self.draining_fault_backlog {
                    self.note_effect(t.plus(Duration::from_secs(1)));
                    self.draining_fault_backlog = delivered >= QUEUE_DELIVERIES_PER_TICK;
                }
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                for message in 0..delivered as u32 {
                    self.counter += 1;
                    let order = format!(
                        "Shipment{{id='{:024x}', name='57a98d98e4b00679b4a830b2'}}",
                        self.counter * 2_654_435_761 + u64::from(message)
                    );
                    let line = logs::queue_master(
                        t.plus(Duration::from_millis(u64::from(message) * 13)),
                        QueueEvent::Received(&order),
                    );
                    self.log(
                        out,
                        queue_master,
                        false,
                        t.plus(Duration::from_millis(u64::from(message) * 13)),
                        line,
                    );
                }
                // AMQP heartbeats and deliveries.
                let bytes = 80.0 + 350.0 * delivered;
                self.record_tcp_pair(queue_master, rabbitmq, bytes * 0.2, bytes, false, flags);
            }
            Some(_) => {
                if self.queue_connected {
                    self.queue_connected = false;
                    self.counter += 1;
                    let line = logs::rabbitmq_missed_heartbeat(
                        t.plus(Duration::from_secs(1)),
                        self.counter,
                    );
                    self.log(out, rabbitmq, false, t.plus(Duration::from_secs(1)), line);
                }
                if t.as_secs() % 5 == 0 && !self.paused(queue_master, t) {
                    let line = logs::queue_master(t, QueueEvent::ConsumerFailed);
                    self.log(out, queue_master, false, t, line);
                    self.metrics.record_tcp(
                        TcpKey {
                            reporter: Reporter::Source,
                            source: queue_master,
                            destination: rabbitmq,
                            flags,
                        },
                        0.0,
                        0.0,
                        1.0,
                        1.0,
                    );
                }
            }
        }
    }

    fn record_tcp_pair(
        &mut self,
        source: ServiceIndex,
        destination: ServiceIndex,
        sent: f64,
        received: f64,
        new_connection: bool,
        flags: &'static str,
    ) {
        let opened = if new_connection { 1.0 } else { 0.0 };
        self.metrics.record_tcp(
            TcpKey {
                reporter: Reporter::Source,
                source,
                destination,
                flags,
            },
            sent,
            received,
            opened,
            opened,
        );
        if flags == "-" {
            self.metrics.record_tcp(
                TcpKey {
                    reporter: Reporter::Destination,
                    source,
                    destination,
                    flags,
                },
                received,
                sent,
                opened,
                opened,
            );
        }
    }

    fn tcp_failure(
        &self,
        caller: ServiceIndex,
        store: ServiceIndex,
        t: Timestamp,
    ) -> Option<CallFailure> {
        if let Some(fault) = &self.fault
            && fault.partitioned(caller, store, t)
        {
            self.fault_acted.set(true);
            return Some(CallFailure::Timeout);
        }
        if self.paused(store, t) || t < self.services[store].refusing_until {
            self.note_fault_restart(store, t);
            return Some(CallFailure::Refused);
        }
        None
    }

    fn user_request(&mut self, action: Op, t: Timestamp, out: &mut Emitted) {
        let mut trace_bytes = [0_u8; 16];
        self.rng.fill(&mut trace_bytes);
        let sampled = self
            .rng
            .random_bool(self.config.trace_sample_rate.clamp(0.0, 1.0));
        let request_id = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            self.rng.random::<u32>(),
            self.rng.random::<u16>(),
            self.rng.random::<u16>() & 0xfff,
            self.rng.random::<u16>() & 0xfff,
            self.rng.random::<u64>() & 0xffff_ffff_ffff
        );
        let mut context = TraceContext {
            trace_id: TraceId(trace_bytes),
            sampled,
            request_id,
        };
        let first_span = out.spans.len();
        self.fault_acted.set(false);
        let outcome = self.http_call(&mut context, UNKNOWN, action, t, None, out);
        let acted = self.fault_acted.replace(false);
        if acted {
            self.note_effect(t.plus(millis(outcome.duration_ms)));
        }
        if acted
            && out.spans[first_span..]
                .iter()
                .any(|s| s.trace_id == context.trace_id && s.parent_span_id.is_none())
        {
            out.fault_acted.push(context.trace_id);
        }
    }

    fn new_span_id(&mut self) -> SpanId {
        let mut bytes = [0_u8; 8];
        self.rng.fill(&mut bytes);
        SpanId(bytes)
    }

    #[allow(clippy::too_many_arguments)]
    fn envoy_span(
        &self,
        context: &TraceContext,
        span_id: SpanId,
        parent: Option<SpanId>,
        service: ServiceIndex,
        callee: ServiceIndex,
        kind: SpanKind,
        start: Timestamp,
        duration_ms: f64,
        method: &str,
        path: &str,
        status: u16,
        flags: &str,
    ) -> Span {
        let callee_name = SERVICES[callee].name;
        let port = SERVICES[callee].port;
        let attributes = vec![
            (
                "node_id".to_owned(),
                AttributeValue::Str(format!(
                    "sidecar~10.44.0.{}~{}.{NAMESPACE}~{NAMESPACE}.svc.cluster.local",
                    3 + service % 200,
                    self.current_pod(service)
                )),
            ),
            (
                "guid:x-request-id".to_owned(),
                AttributeValue::Str(context.request_id.clone()),
            ),
            (
                "http.url".to_owned(),
                AttributeValue::Str(format!("http://{callee_name}{path}")),
            ),
            (
                "http.method".to_owned(),
                AttributeValue::Str(method.to_owned()),
            ),
            (
                "http.protocol".to_owned(),
                AttributeValue::Str("HTTP/1.1".to_owned()),
            ),
            (
                "http.status_code".to_owned(),
                AttributeValue::Str(status.to_string()),
            ),
            (
                "response_flags".to_owned(),
                AttributeValue::Str(flags.to_owned()),
            ),
            (
                "component".to_owned(),
                AttributeValue::Str("proxy".to_owned()),
            ),
            (
                "upstream_cluster".to_owned(),
                AttributeValue::Str(match kind {
                    SpanKind::Server => format!("inbound|{port}||"),
                    _ => format!("outbound|{port}||{callee_name}.{NAMESPACE}.svc.cluster.local"),
                }),
            ),
            (
                "istio.canonical_service".to_owned(),
                AttributeValue::Str(SERVICES[service].name.to_owned()),
            ),
            (
                "istio.namespace".to_owned(),
                AttributeValue::Str(NAMESPACE.to_owned()),
            ),
            (
                "istio.mesh_id".to_owned(),
                AttributeValue::Str("cluster.local".to_owned()),
            ),
        ];
        let error = status >= 500 || status == 0;
        Span {
            trace_id: context.trace_id,
            span_id,
            parent_span_id: parent,
            name: format!("{callee_name}.{NAMESPACE}.svc.cluster.local:{port}/*"),
            kind,
            service: SERVICES[service].name.to_owned(),
            start,
            end: start.plus(millis(duration_ms)),
            attributes,
            resource: vec![(
                "service.name".to_owned(),
                AttributeValue::Str(format!("{}.{NAMESPACE}", SERVICES[service].name)),
            )],
            status: SpanStatus {
                code: if error {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                },
                message: String::new(),
            },
        }
    }

    /// An HTTP call from `caller` (or the load generator) through both sidecars.
    fn http_call(
        &mut self,
        context: &mut TraceContext,
        caller: ServiceIndex,
        op: Op,
        t: Timestamp,
        parent: Option<SpanId>,
        out: &mut Emitted,
    ) -> CallOutcome {
        let spec = op.spec();
        let callee = index_of(spec.service).unwrap_or(0);
        let client_span = (caller != UNKNOWN && context.sampled).then(|| self.new_span_id());
        let request_egress = if caller == UNKNOWN {
            0.0
        } else {
            self.egress_delay_ms(caller, t, 400.0)
        };
        let hop_ms = self.rng.random_range(0.25..0.9);
        let arrival = t.plus(millis(request_egress + hop_ms / 2.0));
        let (status, flags, details, duration_ms, response_bytes, failure) =
            match self.reachability(caller, callee, spec.method, arrival) {
                Some(failure) => {
                    let (status, flags, details, wait_ms) = match failure {
                        CallFailure::Timeout => (
                            503,
                            "UF",
                            "upstream_reset_before_response_started{connection_timeout}",
                            10_000.0,
                        ),
                        CallFailure::Refused => (
                            503,
                            "URX",
                            "upstream_reset_before_response_started{connection_failure}",
                            self.rng.random_range(2.0..6.0),
                        ),
                        CallFailure::NoHealthyUpstream => (
                            503,
                            "UH",
                            "no_healthy_upstream",
                            self.rng.random_range(0.2..0.6),
                        ),
                        _ => (
                            503,
                            "UC",
                            "upstream_reset_before_response_started{connection_termination}",
                            self.rng.random_range(1.0..3.0),
                        ),
                    };
                    if failure == CallFailure::Reset {
                        // The request reached the pod, whose connection was closed without a
                        // response: the server-side proxy reports response_code 0.
                        let key = HttpKey {
                            reporter: Reporter::Destination,
                            source: caller,
                            destination: callee,
                            code: 0,
                            flags: "DC",
                        };
                        self.metrics.record_http(key, wait_ms);
                    }
                    (
                        status,
                        flags,
                        details,
                        request_egress + wait_ms,
                        91,
                        Some(failure),
                    )
                }
                None => {
                    let server_span = context.sampled.then(|| self.new_span_id());
                    let (status, server_ms, bytes) =
                        self.serve(context, callee, op, arrival, server_span, out);
                    let response_egress =
                        self.egress_delay_ms(callee, arrival.plus(millis(server_ms)), bytes as f64);
                    let server_total = server_ms + response_egress;
                    let flags = "-";
                    self.metrics.record_http(
                        HttpKey {
                            reporter: Reporter::Destination,
                            source: caller,
                            destination: callee,
                            code: status,
                            flags,
                        },
                        server_total,
                    );
                    if let Some(span_id) = server_span {
                        let span = self.envoy_span(
                            context,
                            span_id,
                            client_span.or(parent),
                            callee,
                            callee,
                            SpanKind::Server,
                            arrival,
                            server_total,
                            spec.method,
                            spec.path,
                            status,
                            flags,
                        );
                        out.spans.push(span);
                    }
                    let line = logs::envoy_access(
                        arrival,
                        spec.method,
                        spec.path,
                        status,
                        flags,
                        "via_upstream",
                        120,
                        bytes,
                        server_total,
                        &format!("10.44.0.{}:{}", 3 + callee, SERVICES[callee].port),
                        &format!("inbound|{}||", SERVICES[callee].port),
                        &context.request_id,
                        spec.service,
                    );
                    self.log(out, callee, true, arrival, line);
                    let failure = (status >= 500).then_some(CallFailure::Status(status));
                    (
                        status,
                        flags,
                        "via_upstream",
                        request_egress + hop_ms + server_total,
                        bytes,
                        failure,
                    )
                }
            };
        if caller != UNKNOWN {
            self.metrics.record_http(
                HttpKey {
                    reporter: Reporter::Source,
                    source: caller,
                    destination: callee,
                    code: status,
                    flags,
                },
                duration_ms,
            );
            if let Some(span_id) = client_span {
                let span = self.envoy_span(
                    context,
                    span_id,
                    parent,
                    caller,
                    callee,
                    SpanKind::Client,
                    t,
                    duration_ms,
                    spec.method,
                    spec.path,
                    status,
                    flags,
                );
                out.spans.push(span);
            }
            let cluster = format!(
                "outbound|{}||{}.{NAMESPACE}.svc.cluster.local",
                SERVICES[callee].port, spec.service
            );
            let line = logs::envoy_access(
                t,
                spec.method,
                spec.path,
                status,
                flags,
                details,
                120,
                response_bytes,
                duration_ms,
                &format!("10.44.0.{}:{}", 3 + callee, SERVICES[callee].port),
                &cluster,
                &context.request_id,
                spec.service,
            );
            self.log(out, caller, true, t, line);
        }
        CallOutcome {
            failure,
            duration_ms,
        }
    }

    /// The server side of an operation: own work plus dependency calls. Returns (status, ms, bytes).
    fn serve(
        &mut self,
        context: &mut TraceContext,
        service: ServiceIndex,
        op: Op,
        t: Timestamp,
        span: Option<SpanId>,
        out: &mut Emitted,
    ) -> (u16, f64, u64) {
        let spec = op.spec();
        self.services[service].served_this_tick += 1;
        let own_ms = self.own_latency_ms(service, spec.median_ms, t);
        let mut elapsed = own_ms * 0.4;
        let mut status = 200_u16;
        for step in spec.steps {
            let at = t.plus(millis(elapsed));
            let (outcome, dependency) = match *step {
                Step::Http(next) => (
                    self.http_call(context, service, next, at, span, out),
                    next.spec().service,
                ),
                Step::Store(store, collection, write) => (
                    self.store_call(service, store, collection, write, at, out),
                    store,
                ),
                Step::Publish => (self.publish(service, at, out), "rabbitmq"),
            };
            elapsed += outcome.duration_ms;
            if let Some(failure) = outcome.failure {
                let dependency_index = index_of(dependency).unwrap_or(0);
                let lines = logs::dependency_failed(
                    SERVICES[service].style,
                    t.plus(millis(elapsed)),
                    SERVICES[service].name,
                    dependency,
                    SERVICES[dependency_index].port,
                    failure,
                );
                let log_at = t.plus(millis(elapsed));
                self.log_lines(out, service, log_at, lines);
                // Browsing survives a lost session store (after the timeout); the rest fails.
                if dependency == "session-db" && !spec.needs_session {
                    continue;
                }
                status = 500;
                break;
            }
        }
        elapsed += own_ms * 0.6;
        if status == 200 {
            let app_error = self
                .fault
                .as_ref()
                .map_or(0.0, |fault| fault.application_error_rate(service, t));
            let noise_error = if self.config.noise { 0.0005 } else { 0.0 };
            if self.rng.random_bool((app_error + noise_error).min(1.0)) {
                if app_error > 0.0 {
                    self.fault_acted.set(true);
                }
                status = 500;
                let line = match SERVICES[service].style {
                    LogStyle::SpringBoot => format!(
                        "{} ERROR 1 --- [nio-80-exec-7] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception [Request processing failed; nested exception is java.lang.NullPointerException] with root cause",
                        t.format("%Y-%m-%d %H:%M:%S%.3f")
                    ),
                    LogStyle::GoKit => format!(
                        "ts={} caller=logging.go:44 method={} err=\"unexpected EOF\"",
                        t.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
                        spec.handler
                    ),
                    _ => "Error: Internal Server Error".to_owned(),
                };
                self.log(out, service, false, t.plus(millis(elapsed)), line);
            }
        }
        let bytes = if status == 200 {
            spec.response_bytes
        } else {
            72
        };
        let status = if status == 200 && spec.method == "POST" && spec.service == "shipping" {
            201
        } else {
            status
        };
        if let Some(line) = logs::request_served(
            SERVICES[service].style,
            t.plus(millis(elapsed)),
            spec.method,
            spec.path,
            status,
            elapsed,
            bytes,
            spec.handler,
        ) {
            self.log(out, service, false, t.plus(millis(elapsed)), line);
        }
        (status, elapsed, bytes)
    }

    /// A database or cache operation over TCP.
    fn store_call(
        &mut self,
        caller: ServiceIndex,
        store_name: &str,
        collection: &str,
        write: bool,
        t: Timestamp,
        out: &mut Emitted,
    ) -> CallOutcome {
        let store = index_of(store_name).unwrap_or(0);
        let new_connection = self.rng.random_bool(0.01);
        if let Some(failure) = self.tcp_failure(caller, store, t) {
            // Client libraries wait out their timeouts: Mongo's server selection (10 s), the
            // Redis client (5 s), the MySQL dialer (5 s); a refused Redis connect fails at once.
            let wait_ms = match (SERVICES[store].style, failure) {
                (LogStyle::MongoDb, _) => 10_000.0,
                (LogStyle::Redis, CallFailure::Refused) => 3.0,
                (_, CallFailure::Refused) => 2.0,
                _ => 5_000.0,
            };
            self.metrics.record_tcp(
                TcpKey {
                    reporter: Reporter::Source,
                    source: caller,
                    destination: store,
                    flags: "UF",
                },
                0.0,
                0.0,
                1.0,
                1.0,
            );
            return CallOutcome {
                failure: Some(failure),
                duration_ms: wait_ms,
            };
        }
        self.services[store].served_this_tick += 1;
        let median = match SERVICES[store].style {
            LogStyle::Redis => 0.4,
            LogStyle::MySql => 1.2,
            _ => {
                if write {
                    2.5
                } else {
                    1.6
                }
            }
        };
        let mut duration_ms = self.own_latency_ms(store, median, t);
        let io_failure = self
            .fault
            .as_ref()
            .map_or(0.0, |fault| fault.io_failure_probability(store, t, write));
        let failed = io_failure > 0.0 && self.rng.random_bool(io_failure.min(1.0));
        if failed {
            self.fault_acted.set(true);
            duration_ms += self.rng.random_range(5.0..60.0);
        }
        duration_ms += self.egress_delay_ms(store, t, 600.0);
        let (sent, received) = if write {
            (900.0, 120.0)
        } else {
            (180.0, 700.0)
        };
        self.record_tcp_pair(caller, store, sent, received, new_connection, "-");
        self.counter += 1;
        let connection = u32::try_from(self.counter % 400).unwrap_or(0);
        if let Some(line) = logs::db_operation(
            SERVICES[store].style,
            t.plus(millis(duration_ms)),
            collection,
            duration_ms,
            connection,
        ) {
            self.log(out, store, false, t.plus(millis(duration_ms)), line);
        }
        CallOutcome {
            failure: failed.then_some(CallFailure::DbIo),
            duration_ms,
        }
    }

    /// shipping publishes a shipment task to RabbitMQ.
    fn publish(&mut self, caller: ServiceIndex, t: Timestamp, out: &mut Emitted) -> CallOutcome {
        let outcome = self.store_call(caller, "rabbitmq", "shipping-task", true, t, out);
        if outcome.failure.is_none() {
            self.metrics.queue_ready += 1.0;
        }
        outcome
    }
}
