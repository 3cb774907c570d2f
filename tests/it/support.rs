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
        eprintln!(
            "SKIPPED: {program} is not installed; set {require_env}=1 to make this test mandatory (.ci/run does)"
        );
    }
    found
}
