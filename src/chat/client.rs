//! LLM clients (adapter): OpenAI-compatible Chat Completions streamed over SSE (OpenAI,
//! Mistral, vLLM, llama.cpp, LM Studio, Ollama's `/v1`) and Ollama's native `/api/chat`
//! (NDJSON). No tool calling. The API key never appears in `Debug` output, logs or errors.

use super::Message;
use super::stream::{NdjsonDecoder, SseDecoder, StreamError, StreamEvent, error_message};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::watch;

/// Which protocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `POST {base}/chat/completions` with SSE.
    OpenAi,
    /// `POST {base}/api/chat` with NDJSON.
    Ollama,
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "openai" | "openai-compatible" => Ok(Self::OpenAi),
            "ollama" => Ok(Self::Ollama),
            other => Err(format!(
                "unknown LLM provider `{other}`: use `openai` (any OpenAI-compatible server) or `ollama`"
            )),
        }
    }
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Protocol.
    pub provider: Provider,
    /// Base URL: `https://api.openai.com/v1`, `http://localhost:11434/v1` (OpenAI-compatible) or
    /// `http://localhost:11434` (Ollama native).
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key (Bearer), if the server needs one.
    pub api_key: Option<Secret>,
    /// Sampling temperature.
    pub temperature: f64,
    /// Maximum answer tokens.
    pub max_tokens: u32,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Longest wait for the first byte and between chunks.
    pub idle_timeout: Duration,
}

impl LlmConfig {
    /// Defaults for a provider and model at `base_url`.
    #[must_use]
    pub fn new(provider: Provider, base_url: &str, model: &str) -> Self {
        Self {
            provider,
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key: None,
            temperature: 0.2,
            max_tokens: 1024,
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a chat request failed. Each message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// 401.
    #[error(
        "the LLM server rejected the API key (401: {0}); check BAYNET_LLM_API_KEY or the key file"
    )]
    Unauthorized(String),
    /// 403.
    #[error("the API key may not use this model or endpoint (403: {0})")]
    Forbidden(String),
    /// 404.
    #[error(
        "model or endpoint not found (404: {0}); check the model name and the base URL (OpenAI-compatible servers usually end in /v1)"
    )]
    NotFound(String),
    /// 429.
    #[error("rate limited by the LLM server (429: {message}){}", retry_after.map_or_else(String::new, |s| format!("; retry after {s} s")))]
    RateLimited {
        /// The server's message.
        message: String,
        /// Seconds from `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Another 4xx.
    #[error("the LLM server refused the request ({status}: {message})")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// 5xx.
    #[error("the LLM server failed ({status}: {message}); it may be overloaded or restarting")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Nothing arrived in time.
    #[error(
        "no answer from the LLM server within {0:?}; is the model loaded? raise the timeout for slow local models"
    )]
    Timeout(Duration),
    /// The connection failed.
    #[error("cannot reach the LLM server at {url}: {reason}")]
    Connect {
        /// The URL tried.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The stream said something wrong.
    #[error("{0}")]
    Stream(#[from] StreamError),
    /// The stream ended before the answer was complete.
    #[error("the answer was cut off mid-stream after {} characters; the server closed the connection", partial.len())]
    Cut {
        /// What arrived before the cut.
        partial: String,
    },
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled {
        /// What arrived before cancelling.
        partial: String,
    },
    /// The client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The text.
    pub text: String,
    /// Why it stopped (`stop`, `length`, …), when the server said.
    pub finish_reason: Option<String>,
    /// Prompt and completion tokens, when reported.
    pub usage: Option<(u64, u64)>,
}

/// Cancels a running answer.
#[derive(Debug)]
pub struct Canceller(watch::Sender<bool>);

/// Handed to the request; observes the [`Canceller`].
#[derive(Debug, Clone)]
pub struct CancelToken(watch::Receiver<bool>);

/// A canceller and its token.
#[must_use]
pub fn cancellation() -> (Canceller, CancelToken) {
    let (tx, rx) = watch::channel(false);
    (Canceller(tx), CancelToken(rx))
}

impl Canceller {
    /// Stops the answer.
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}

impl CancelToken {
    async fn cancelled(&mut self) {
        loop {
            if *self.0.borrow() {
                return;
            }
            if self.0.changed().await.is_err() {
                // The canceller is gone: never cancelled.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// An LLM client.
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmConfig,
}

enum Decoder {
    Sse(SseDecoder),
    Ndjson(NdjsonDecoder),
}

impl Decoder {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        match self {
            Self::Sse(d) => d.push(bytes),
            Self::Ndjson(d) => d.push(bytes),
        }
    }
    fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        match self {
            Self::Sse(d) => d.finish(),
            Self::Ndjson(d) => d.finish(),
        }
    }
}

impl LlmClient {
    /// A client for `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| LlmError::Setup(e.to_string()))?;
        Ok(Self { http, config })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    fn request_body(&self, messages: &[Message]) -> (String, Value) {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        match self.config.provider {
            // Only fields every OpenAI-compatible server accepts (Mistral rejects unknown ones).
            Provider::OpenAi => (
                format!("{}/chat/completions", self.config.base_url),
                json!({
                    "model": self.config.model,
                    "messages": messages,
                    "stream": true,
                    "temperature": self.config.temperature,
                    "max_tokens": self.config.max_tokens,
                }),
            ),
            Provider::Ollama => (
                format!("{}/api/chat", self.config.base_url),
                json!({
                    "model": self.config.model,
                    "messages": messages,
                    "stream": true,
                    "options": {
                        "temperature": self.config.temperature,
                        "num_predict": self.config.max_tokens,
                    },
                }),
            ),
        }
    }

    /// Streams an answer, calling `on_text` with every piece as it arrives.
    ///
    /// # Errors
    /// See [`LlmError`]; a cancelled or cut answer carries what arrived.
    pub async fn chat(
        &self,
        messages: &[Message],
        on_text: &mut (dyn FnMut(&str) + Send),
        mut cancel: CancelToken,
    ) -> Result<Completion, LlmError> {
        let (url, body) = self.request_body(messages);
        let mut request = self.http.post(&url).json(&body);
        if self.config.provider == Provider::OpenAi {
            request = request.header("Accept", "text/event-stream");
        }
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let idle = self.config.idle_timeout;
        let response = tokio::select! {
            () = cancel.cancelled() => return Err(LlmError::Cancelled { partial: String::new() }),
            sent = tokio::time::timeout(idle, request.send()) => match sent {
                Err(_) => return Err(LlmError::Timeout(idle)),
                Ok(Err(error)) if error.is_timeout() => return Err(LlmError::Timeout(idle)),
                Ok(Err(error)) => return Err(LlmError::Connect { url, reason: error.to_string() }),
                Ok(Ok(response)) => response,
            },
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = tokio::time::timeout(idle, response.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text).map_or_else(
                |_| super::short(&text, 200),
                |v| super::short(&error_message(v.get("error").unwrap_or(&v)), 200),
            );
            return Err(match status.as_u16() {
                401 => LlmError::Unauthorized(message),
                403 => LlmError::Forbidden(message),
                404 => LlmError::NotFound(message),
                429 => LlmError::RateLimited {
                    message,
                    retry_after,
                },
                code @ 500..=599 => LlmError::Server {
                    status: code,
                    message,
                },
                code => LlmError::Rejected {
                    status: code,
                    message,
                },
            });
        }
        let mut decoder = match self.config.provider {
            Provider::OpenAi => Decoder::Sse(SseDecoder::new()),
            Provider::Ollama => Decoder::Ndjson(NdjsonDecoder::new()),
        };
        let mut stream = response.bytes_stream();
        let mut completion = Completion {
            text: String::new(),
            finish_reason: None,
            usage: None,
        };
        let mut done = false;
        let mut apply = |events: Vec<StreamEvent>, completion: &mut Completion, done: &mut bool| {
            for event in events {
                match event {
                    StreamEvent::Text(text) => {
                        on_text(&text);
                        completion.text.push_str(&text);
                    }
                    StreamEvent::Finished(reason) => completion.finish_reason = Some(reason),
                    StreamEvent::Usage {
                        prompt,
                        completion: c,
                    } => {
                        completion.usage = Some((prompt, c));
                    }
                    StreamEvent::Done => *done = true,
                }
            }
        };
        while !done {
            let next = tokio::select! {
                () = cancel.cancelled() => {
                    return Err(LlmError::Cancelled { partial: completion.text });
                }
                next = tokio::time::timeout(idle, stream.next()) => next,
            };
            match next {
                Err(_) => return Err(LlmError::Timeout(idle)),
                Ok(None) => {
                    let events = decoder.finish()?;
                    apply(events, &mut completion, &mut done);
                    break;
                }
                Ok(Some(Err(error))) => {
                    tracing::debug!(%error, "LLM stream read failed");
                    return Err(LlmError::Cut {
                        partial: completion.text,
                    });
                }
                Ok(Some(Ok(bytes))) => {
                    let events = decoder.push(&bytes)?;
                    apply(events, &mut completion, &mut done);
                }
            }
        }
        // A finish reason without [DONE] is complete enough; neither means the stream was cut.
        if !done && completion.finish_reason.is_none() {
            return Err(LlmError::Cut {
                partial: completion.text,
            });
        }
        Ok(completion)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let mut config = LlmConfig::new(Provider::OpenAi, "http://x/v1/", "m");
        config.api_key = Some(Secret::new("sk-very-secret"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert_eq!(config.base_url, "http://x/v1");
    }

    #[test]
    fn providers_parse_with_a_helpful_error() {
        assert_eq!("ollama".parse::<Provider>(), Ok(Provider::Ollama));
        let error = "gpt".parse::<Provider>().expect_err("unknown");
        assert!(error.contains("openai"));
    }
}
