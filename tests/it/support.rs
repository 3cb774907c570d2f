//! Helpers shared by integration tests: child processes that die with the test, free ports,
//! bounded polling.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stdout of a finished command, after asserting it succeeded (its stderr on failure).
pub fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `baynet` with arguments.
pub fn spawn_baynet(args: &[&str]) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("baynet starts");
    ChildGuard(child)
}

/// A line on the real stderr, shown even when the test passes (libtest captures `eprintln!` of
/// passing tests, and a skipped test must say so and why).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A detached tmux session (a real terminal) running a shell script; killed when dropped.
pub struct TmuxSession(pub String);

impl TmuxSession {
    /// Starts `script` in a new `width` × `height` session named `name`.
    pub fn start(name: String, width: u16, height: u16, script: &str) -> Self {
        let (width, height) = (width.to_string(), height.to_string());
        let started = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                &width,
                "-y",
                &height,
                script,
            ])
            .status()
            .expect("tmux starts");
        assert!(started.success(), "tmux new-session failed");
        Self(name)
    }

    /// Runs a tmux command; its stdout.
    pub fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux").args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The visible screen.
    pub fn capture(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    /// Types keys, one at a time.
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", &self.0, key]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }
}

impl Drop for TmuxSession {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

/// Polls `check` every `every` until it returns `Some` or `limit` passes.
pub fn poll<T>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(value) = check() {
            return Some(value);
        }
        std::thread::sleep(every);
    }
    None
}

/// GET a URL with query parameters; returns status and body (or `None` if unreachable).
pub fn http_get(url: &str, query: &[(&str, &str)]) -> Option<(u16, String)> {
    let mut request = ureq::get(url).config().http_status_as_error(false).build();
    for (key, value) in query {
        request = request.query(*key, *value);
    }
    let mut response = request.call().ok()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().ok()?;
    Some((status, body))
}

/// Whether an external program is on PATH; when it is not, either skip loudly or fail if
/// `require_env` is set (CI sets it so the real thing is mandatory there).
pub fn require_program(program: &str, require_env: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    if !found {
        assert!(
            std::env::var_os(require_env).is_none(),
            "{program} is required ({require_env} is set) but not on PATH"
        );
        say(&format!(
            "SKIPPED: {program} is not installed; set {require_env}=1 to make this test mandatory (.ci/run does)"
        ));
    }
    found
}

/// The simulator serving the Loki and Tempo APIs on 127.0.0.1 with data already recorded: the
/// scenario started `ago` before now (baseline, fault and recovery as given), and the server
/// holds everything up to now. Returns the runtime serving it (keep it alive), the base URL and
/// the simulation's start.
pub fn serve_past_simulation(
    scenario: &str,
    seed: u64,
    phases: (Duration, Duration, Duration),
    ago: Duration,
) -> (tokio::runtime::Runtime, String, baynet::model::Timestamp) {
    let scenario = baynet::scenario::resolve(scenario).unwrap();
    let mut config = baynet::sim::run::config_for(&scenario, seed);
    (config.baseline, config.fault_duration, config.recovery) = phases;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = baynet::model::Timestamp::from_secs(i64::try_from(now).unwrap());
    config.start = now.minus(ago);
    // The daily load curve as if the simulation started at midnight UTC, the quietest hour,
    // whatever the wall clock says (a checkout-only service such as payment then sees about
    // three traced requests a minute).
    config.diurnal_shift_secs = -config.start.as_secs().rem_euclid(86_400);
    let start = config.start;
    let simulation = baynet::sim::Simulation::new(config).unwrap();
    let mut host = baynet::sim_server::SimHost::new(simulation, 2_000_000, 200_000);
    host.advance_to(now);
    let host = std::sync::Arc::new(std::sync::Mutex::new(host));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = baynet::sim_server::router(std::sync::Arc::clone(&host));
    runtime.spawn(async move { axum::serve(listener, app).await });
    // Keep the simulation up with the wall clock (as `sim serve` does), so a client that asks
    // for "the last N minutes" a few seconds later, on a loaded machine, still finds data up to
    // its now.
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(250));
        loop {
            interval.tick().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            if let Ok(mut host) = host.lock() {
                host.advance_to(baynet::model::Timestamp::from_secs(
                    i64::try_from(now).unwrap(),
                ));
            }
        }
    });
    (runtime, format!("http://{addr}"), start)
}
