//! The single integration-test binary; one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analyze; // `baynet analyze` ranks the root cause of saved incidents
mod chat; // `baynet chat` with the offline analyst and an unreachable LLM
mod cli; // exit codes, JSON output and error messages of the binary
mod console; // the real console in tmux: a red service, the graph, a clean exit
mod detect; // trace and metric detectors against the simulator's ground truth (subset)
mod embed; // candle embeddings vs sentence-transformers, `baynet embed` (needs the model)
mod experiment; // `baynet experiment`: 12 scenarios recorded, postmortems, stand-in kubectl
mod kb; // `baynet kb`: knowledge base end to end, bad input, SIGKILL crash safety
mod kb_qdrant; // the Qdrant backend against a local fake (and a real Qdrant when QDRANT_URL is set)
mod llm; // LLM clients against local servers speaking the OpenAI SSE and Ollama NDJSON protocols
mod logs; // `baynet logs templates` on small files
mod prometheus; // a real Prometheus server scrapes `baynet sim serve` and sees sock-shop
mod qdrant_fake; // an in-process fake of the Qdrant REST subset the backend uses
mod readme; // every command of the README runs as written in a fresh HOME (consoles in tmux)
mod scenarios; // every file in scenarios/ parses and carries the fields Baynet relies on
mod serve; // `baynet serve`: Node Graph API, /metrics, events, auth, SQS against moto
mod serve_e2e; // the real `baynet serve` binary: every endpoint, token, events, SIGTERM/SIGINT
mod sim_run; // `baynet sim run` for all 12 scenarios reads back with the right labels
mod sim_serve; // `baynet sim serve` answers the Loki and Tempo APIs
mod sources; // live clients vs sim serve, a real Prometheus, bad servers; doctor and fetch
mod support; // child processes, free ports, bounded polling
mod tidy; // the pure core does no I/O and reads no clock
mod traces; // `baynet traces`: Parquet input, train, evaluate with both labels
