//! `baynet chat`: the guided root-cause chat over a saved incident, answered by an LLM when one
//! is configured and by the offline analyst otherwise.

use anyhow::Context;
use baynet::analysis::AnalysisConfig;
use baynet::chat::analyst;
use baynet::chat::client::{LlmClient, LlmConfig, Provider, Secret, cancellation};
use baynet::chat::prompt::{PromptBuilder, render};
use baynet::chat::situation::Situation;
use baynet::chat::{Message, Role, clean};
use clap::Args;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Offline input directory of the incident (as written by `baynet sim run` or saved from a
    /// cluster with `baynet fetch`).
    #[arg(
        long,
        required_unless_present_any = ["incident", "live"],
        conflicts_with_all = ["incident", "live"]
    )]
    input: Option<PathBuf>,
    /// A recorded incident or experiment in the knowledge base (its id, see `baynet kb list`).
    #[arg(long, conflicts_with = "live")]
    incident: Option<String>,
    /// Discuss what the live cluster shows now: the last `--since` of telemetry is read from
    /// the configured sources (see `baynet doctor`) and analysed.
    #[arg(long)]
    live: bool,
    /// With --live: how much recent telemetry to read (the baseline and the incident).
    #[arg(long, default_value = "40m", requires = "live")]
    since: String,
    #[command(flatten)]
    sources: super::doctor::SourceArgs,
    /// The user knowledge directory searched for similar past incidents (default
    /// `$XDG_DATA_HOME/baynet/knowledge`; the curated `knowledge/` is always included).
    #[arg(long, env = "BAYNET_KB_DIR")]
    kb_dir: Option<PathBuf>,
    /// Similar past incidents to retrieve into the conversation (0 turns retrieval off).
    #[arg(long, default_value_t = 3)]
    similar: usize,
    /// The question; without one, an interactive conversation starts (type a number to pick a
    /// suggested question, an empty line or Ctrl-D to leave).
    question: Option<String>,
    /// LLM protocol: `openai` (any OpenAI-compatible server) or `ollama` (native API). Without
    /// `--llm-url` the offline analyst answers.
    #[arg(long, env = "BAYNET_LLM_PROVIDER", default_value = "openai")]
    llm_provider: String,
    /// LLM base URL, e.g. `http://localhost:11434/v1` or `https://api.openai.com/v1`.
    #[arg(long, env = "BAYNET_LLM_URL")]
    llm_url: Option<String>,
    /// Model name.
    #[arg(long, env = "BAYNET_LLM_MODEL", default_value = "llama3.2")]
    llm_model: String,
    /// File holding the API key (otherwise BAYNET_LLM_API_KEY). Never printed.
    #[arg(long)]
    llm_api_key_file: Option<PathBuf>,
    /// Seconds to wait for the first byte and between streamed chunks.
    #[arg(long, default_value_t = 60)]
    llm_timeout: u64,
    /// Print the exact prompt that is (or would be) sent to the LLM.
    #[arg(long)]
    show_prompt: bool,
    /// Print the answer as JSON (text, citations, suggestions).
    #[arg(long)]
    json: bool,
}

fn situation(args: &ChatArgs) -> anyhow::Result<Situation> {
    if let Some(id) = &args.incident {
        let mut kb = super::kb::open(args.kb_dir.clone())?;
        let record = kb
            .store
            .get(id)
            .map(baynet::knowledge::store::StoredRecord::postmortem)
            .with_context(|| {
                format!("no knowledge record with id `{id}`; `baynet kb list` shows the ids")
            })?;
        let similar = if args.similar == 0 {
            Vec::new()
        } else {
            baynet::knowledge::similar_to_record(&mut kb.store, &record, args.similar)?
        };
        return Ok(baynet::knowledge::recall::situation_of(&record, similar));
    }
    if args.live {
        let analysis = live_analysis(args)?;
        return Ok(with_similar(args, &analysis));
    }
    let input = args
        .input
        .as_deref()
        .context("give --input DIR, --incident ID or --live")?;
    let analysis = super::analyze::analyze_dir(input, None, None, &AnalysisConfig::default())?;
    Ok(with_similar(args, &analysis))
}

/// Reads the last `--since` from the live sources and analyses it.
fn live_analysis(args: &ChatArgs) -> anyhow::Result<baynet::analysis::Analysis> {
    use baynet::source::fetch::{FetchOptions, fetch};
    let config = args.sources.load()?;
    let length = baynet::model::time::parse_duration(&args.since)
        .map_err(anyhow::Error::msg)
        .context("--since")?;
    // The newest seconds may not be ingested yet.
    let end = super::doctor::now().minus(std::time::Duration::from_secs(15));
    let range = baynet::model::TimeRange::new(end.minus(length), end)
        .context("--since must be a positive duration")?;
    // Sample traces minute by minute (newest first), so the baseline and the incident are
    // both represented rather than the first few hundred traces of one search. 100 a minute:
    // with 50, a fault on a rarely called service (payment, only on checkout) left so few of
    // its traces that its P(outage) swung between 12 % and 37 % from one second to the next.
    let mut config = config;
    let minutes = length.as_secs().div_ceil(60).max(1);
    config.limits.tempo_search_window = std::time::Duration::from_secs(60);
    config.limits.tempo_search_limit = config.limits.tempo_search_limit.min(100);
    let limit = usize::try_from(minutes)
        .unwrap_or(usize::MAX)
        .saturating_mul(config.limits.tempo_search_limit)
        .min(config.limits.max_traces);
    let source = baynet::source::LiveSource::new(&config)?;
    let options = FetchOptions {
        range,
        logs: baynet::source::LogSelection::default(),
        traces: baynet::source::TraceSelection {
            limit,
            ..baynet::source::TraceSelection::default()
        },
    };
    let (dataset, report) = super::doctor::runtime()?.block_on(fetch(&source, &options));
    for part in &report.parts {
        if let Some(error) = &part.error {
            eprintln!("warning: {}: {error}", part.part);
        }
    }
    super::analyze::analyze_dataset(
        &dataset,
        &format!("the live cluster ({})", report.source),
        None,
        None,
        &AnalysisConfig::default(),
        None,
    )
}

/// The situation of `analysis` with the similar past incidents the knowledge base holds.
fn with_similar(args: &ChatArgs, analysis: &baynet::analysis::Analysis) -> Situation {
    let similar = if args.similar == 0 {
        Vec::new()
    } else {
        // A broken knowledge base must not keep the chat from answering about the incident.
        match super::kb::open(args.kb_dir.clone()).and_then(|mut kb| {
            baynet::knowledge::similar_incidents(&mut kb.store, analysis, args.similar)
                .map_err(anyhow::Error::from)
        }) {
            Ok(similar) => similar,
            Err(error) => {
                eprintln!(
                    "warning: no similar past incidents ({error:#}); the chat goes on without them"
                );
                Vec::new()
            }
        }
    };
    Situation::from_analysis(analysis, similar)
}

fn llm(args: &ChatArgs) -> anyhow::Result<Option<LlmClient>> {
    let Some(url) = &args.llm_url else {
        return Ok(None);
    };
    let provider: Provider = args.llm_provider.parse().map_err(anyhow::Error::msg)?;
    let mut config = LlmConfig::new(provider, url, &args.llm_model);
    config.idle_timeout = std::time::Duration::from_secs(args.llm_timeout.max(1));
    let key = match &args.llm_api_key_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the API key file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("BAYNET_LLM_API_KEY").ok(),
    };
    config.api_key = key.filter(|k| !k.is_empty()).map(Secret::new);
    Ok(Some(LlmClient::new(config)?))
}

struct Turn {
    text: String,
    suggestions: Vec<String>,
}

fn ask(
    runtime: &tokio::runtime::Runtime,
    client: Option<&LlmClient>,
    situation: &Situation,
    history: &[Message],
    question: &str,
    args: &ChatArgs,
) -> anyhow::Result<Turn> {
    let offline = analyst::answer(question, situation);
    let prompt = PromptBuilder::default().build(situation, history, question);
    if args.show_prompt {
        println!(
            "{}\n=== end of prompt ({} tokens estimated) ===",
            render(&prompt),
            prompt.tokens
        );
    }
    let Some(client) = client else {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&offline)?);
        } else {
            println!("{}", offline.text);
        }
        return Ok(Turn {
            text: offline.text,
            suggestions: offline.suggestions,
        });
    };
    let (canceller, token) = cancellation();
    let mut out = std::io::stdout();
    let mut print = |piece: &str| {
        let _ = write!(out, "{}", baynet::chat::strip_controls(piece));
        let _ = out.flush();
    };
    let result = runtime.block_on(async {
        let chat = client.chat(&prompt.messages, &mut print, token);
        tokio::select! {
            result = chat => result,
            _ = tokio::signal::ctrl_c() => {
                canceller.cancel();
                Err(baynet::chat::client::LlmError::Cancelled { partial: String::new() })
            }
        }
    });
    println!();
    match result {
        Ok(completion) => Ok(Turn {
            text: completion.text,
            suggestions: offline.suggestions,
        }),
        Err(error) => {
            eprintln!("LLM failed: {error}\nThe offline analyst answers instead:");
            println!("{}", offline.text);
            Ok(Turn {
                text: offline.text,
                suggestions: offline.suggestions,
            })
        }
    }
}

pub fn run(args: ChatArgs) -> anyhow::Result<()> {
    let situation = situation(&args)?;
    let client = llm(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(question) = &args.question {
        let turn = ask(&runtime, client.as_ref(), &situation, &[], question, &args)?;
        if !args.json {
            print_suggestions(&turn.suggestions);
        }
        return Ok(());
    }
    println!("{}", clean(&situation.verdict));
    let mut suggestions = analyst::opening_suggestions(&situation);
    print_suggestions(&suggestions);
    let mut history: Vec<Message> = Vec::new();
    let stdin = std::io::stdin();
    loop {
        print!("> ");
        std::io::stdout().flush().ok();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        let question = line
            .parse::<usize>()
            .ok()
            .and_then(|n| suggestions.get(n.wrapping_sub(1)).cloned())
            .unwrap_or_else(|| line.to_owned());
        let turn = ask(
            &runtime,
            client.as_ref(),
            &situation,
            &history,
            &question,
            &args,
        )?;
        history.push(Message::new(Role::User, question));
        history.push(Message::new(Role::Assistant, turn.text));
        suggestions = turn.suggestions;
        print_suggestions(&suggestions);
    }
    Ok(())
}

fn print_suggestions(suggestions: &[String]) {
    if suggestions.is_empty() {
        return;
    }
    println!();
    for (i, question) in suggestions.iter().enumerate() {
        println!("  {}. {question}", i + 1);
    }
}
