//! The `baynet` command line: parses arguments, sets up logging, runs a command and maps
//! errors to exit codes (0 success, 1 failure, 2 usage error).

mod commands;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the console's analysis worker allocates and frees
/// hundreds of megabytes per run, and glibc keeps most of it in per-thread arenas, so the
/// process's RSS stayed far above its live heap (BENCHMARKS.md, "Console memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status of a process killed by SIGPIPE (128 + 13), what `yes | head -1` leaves behind.
const BROKEN_PIPE_EXIT: i32 = 141;

/// `baynet … | head` closes our stdout early: `println!` then panics. Leave quietly with the
/// status a Unix tool killed by SIGPIPE has, instead of printing a panic.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    if !cli.opens_console() {
        quiet_on_broken_pipe();
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("BAYNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    if cli.opens_console() {
        // The console owns the terminal: logs go to $BAYNET_LOG_FILE, or nowhere.
        let file = std::env::var_os("BAYNET_LOG_FILE").and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        });
        if let Some(file) = file {
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
