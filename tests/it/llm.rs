//! The LLM clients against a local test server (127.0.0.1) speaking the documented streaming
//! protocols: OpenAI-compatible SSE and Ollama NDJSON, with every error case.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use baynet::chat::client::{LlmClient, LlmConfig, LlmError, Provider, Secret, cancellation};
use baynet::chat::{Message, Role};
use std::time::Duration;

fn chunk(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
            "choices":[{"index":0,"delta":{"content":text},"finish_reason":null}]})
    )
}

fn streamed(parts: Vec<String>, delay: Duration, content_type: &str) -> Response {
    let stream = futures_util::stream::unfold(parts.into_iter(), move |mut rest| async move {
        let next = rest.next()?;
        tokio::time::sleep(delay).await;
        Some((Ok::<_, std::io::Error>(Bytes::from(next)), rest))
    });
    (
        [("content-type", content_type.to_owned())],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn openai(path: axum::extract::Path<String>, headers: HeaderMap, body: String) -> Response {
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    match path.0.as_str() {
        "ok" => {
            let authorized = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                == Some("Bearer test-key");
            if !authorized {
                return (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                )
                    .into_response();
            }
            assert_eq!(request["stream"], true);
            assert_eq!(request["model"], "test-model");
            assert!(request.get("max_completion_tokens").is_none());
            let question = request["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or_default()
                .to_owned();
            // One event split over two writes, a keep-alive comment, then the rest.
            let first = chunk("carts");
            let (a, b) = first.split_at(17);
            streamed(
                vec![
                    a.to_owned(),
                    b.to_owned(),
                    ": keep-alive\n\n".to_owned(),
                    chunk("-db is failing"),
                    chunk(&format!(" ({} chars asked)", question.len())),
                    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".to_owned(),
                    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":41,\"completion_tokens\":6,\"total_tokens\":47}}\n\n".to_owned(),
                    "data: [DONE]\n\n".to_owned(),
                ],
                Duration::from_millis(10),
                "text/event-stream",
            )
        }
        "missing" => (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#).into_response(),
        "forbidden" => (StatusCode::FORBIDDEN, r#"{"error":"no access to this model"}"#).into_response(),
        "limited" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "7")],
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
        )
            .into_response(),
        "broken" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}"#,
        )
            .into_response(),
        "html" => (StatusCode::BAD_GATEWAY, "<html><body>502 Bad Gateway</body></html>").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            streamed(vec![chunk("late")], Duration::ZERO, "text/event-stream")
        }
        "malformed" => streamed(
            vec![chunk("ok"), "data: {\"choices\":[{\"delta\":\n\n".to_owned()],
            Duration::from_millis(5),
            "text/event-stream",
        ),
        "cut" => streamed(
            vec![chunk("half an "), chunk("answer")],
            Duration::from_millis(5),
            "text/event-stream",
        ),
        "instream" => streamed(
            vec![
                chunk("starting"),
                "data: {\"error\":{\"message\":\"The server had an error while processing your request\",\"type\":\"server_error\"}}\n\n".to_owned(),
            ],
            Duration::from_millis(5),
            "text/event-stream",
        ),
        "llamacpp" => streamed(
            vec![chunk("x"), "error: {\"code\":500,\"message\":\"context shift disabled\"}\n\n".to_owned()],
            Duration::from_millis(5),
            "text/event-stream",
        ),
        "endless" => streamed(
            (0..300).map(|i| chunk(&format!("{i} "))).collect(),
            Duration::from_millis(20),
            "text/event-stream",
        ),
        _ => (StatusCode::NOT_FOUND, "no such test route").into_response(),
    }
}

async fn ollama(path: axum::extract::Path<String>, body: String) -> Response {
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    match path.0.as_str() {
        "ok" => {
            assert_eq!(request["model"], "llama3.2");
            assert!(request["options"]["temperature"].is_number());
            streamed(
                vec![
                    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"ship\"},\"done\":false}\n".to_owned(),
                    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"ping\"},\"done\":false}\n{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":26,\"eval_count\":2}\n".to_owned(),
                ],
                Duration::from_millis(5),
                "application/x-ndjson",
            )
        }
        "missing" => (
            StatusCode::NOT_FOUND,
            r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
        )
            .into_response(),
        "midstream" => streamed(
            vec![
                "{\"message\":{\"content\":\"a\"},\"done\":false}\n".to_owned(),
                "{\"error\":\"an error was encountered while running the model\"}\n".to_owned(),
            ],
            Duration::from_millis(5),
            "application/x-ndjson",
        ),
        "cut" => streamed(
            vec!["{\"message\":{\"content\":\"a\"},\"done\":false}\n".to_owned()],
            Duration::from_millis(5),
            "application/x-ndjson",
        ),
        _ => (StatusCode::NOT_FOUND, "no such test route").into_response(),
    }
}

struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
}

fn start() -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/{case}/v1/chat/completions", post(openai))
        .route("/{case}/api/chat", post(ollama));
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { base, runtime }
}

fn messages() -> Vec<Message> {
    vec![
        Message::new(Role::System, "You are an SRE assistant."),
        Message::new(Role::User, "What is failing?"),
    ]
}

impl Server {
    fn client(&self, provider: Provider, case: &str, model: &str) -> LlmClient {
        let base = match provider {
            Provider::OpenAi => format!("{}/{case}/v1", self.base),
            Provider::Ollama => format!("{}/{case}", self.base),
        };
        let mut config = LlmConfig::new(provider, &base, model);
        config.api_key = Some(Secret::new("test-key"));
        config.idle_timeout = Duration::from_millis(800);
        LlmClient::new(config).unwrap()
    }

    fn ask(&self, provider: Provider, case: &str) -> (Result<String, LlmError>, Vec<String>) {
        let model = if provider == Provider::Ollama {
            "llama3.2"
        } else {
            "test-model"
        };
        let client = self.client(provider, case, model);
        let mut pieces = Vec::new();
        let (_keep, token) = cancellation();
        let result = self.runtime.block_on(async {
            client
                .chat(&messages(), &mut |t: &str| pieces.push(t.to_owned()), token)
                .await
        });
        (result.map(|c| c.text), pieces)
    }
}

#[test]
fn openai_compatible_stream_arrives_piece_by_piece() {
    let server = start();
    let client = server.client(Provider::OpenAi, "ok", "test-model");
    let mut pieces = Vec::new();
    let (_keep, token) = cancellation();
    let completion = server
        .runtime
        .block_on(client.chat(&messages(), &mut |t: &str| pieces.push(t.to_owned()), token))
        .unwrap();
    assert_eq!(completion.text, "carts-db is failing (16 chars asked)");
    assert_eq!(pieces[0], "carts");
    assert_eq!(pieces.len(), 3);
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert_eq!(completion.usage, Some((41, 6)));
}

#[test]
fn ollama_native_stream() {
    let server = start();
    let (text, pieces) = server.ask(Provider::Ollama, "ok");
    assert_eq!(text.unwrap(), "shipping");
    assert_eq!(pieces, ["ship", "ping"]);
}

#[test]
fn every_error_is_classified_with_advice() {
    let server = start();
    let mut bad_key = LlmConfig::new(
        Provider::OpenAi,
        &format!("{}/ok/v1", server.base),
        "test-model",
    );
    bad_key.api_key = Some(Secret::new("wrong-secret-value"));
    let client = LlmClient::new(bad_key).unwrap();
    let (_keep, token) = cancellation();
    let error = server
        .runtime
        .block_on(client.chat(&messages(), &mut |_: &str| {}, token))
        .unwrap_err();
    assert!(
        matches!(error, LlmError::Unauthorized(ref m) if m.contains("Incorrect API key")),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong-secret-value"));
    assert!(error.to_string().contains("BAYNET_LLM_API_KEY"));

    type Check = Box<dyn Fn(&LlmError) -> bool>;
    let cases: Vec<(Provider, &str, Check)> = vec![
        (
            Provider::OpenAi,
            "missing",
            Box::new(|e| matches!(e, LlmError::NotFound(m) if m == "Not Found")),
        ),
        (
            Provider::OpenAi,
            "forbidden",
            Box::new(|e| matches!(e, LlmError::Forbidden(m) if m.contains("no access"))),
        ),
        (
            Provider::OpenAi,
            "limited",
            Box::new(
                |e| matches!(e, LlmError::RateLimited { retry_after: Some(7), message } if message.contains("Rate limit")),
            ),
        ),
        (
            Provider::OpenAi,
            "broken",
            Box::new(
                |e| matches!(e, LlmError::Server { status: 500, message } if message.contains("CUDA")),
            ),
        ),
        (
            Provider::OpenAi,
            "html",
            Box::new(
                |e| matches!(e, LlmError::Server { status: 502, message } if message.contains("Bad Gateway")),
            ),
        ),
        (
            Provider::OpenAi,
            "slow",
            Box::new(|e| matches!(e, LlmError::Timeout(_))),
        ),
        (
            Provider::OpenAi,
            "malformed",
            Box::new(|e| matches!(e, LlmError::Stream(_)) && e.to_string().contains("malformed")),
        ),
        (
            Provider::OpenAi,
            "cut",
            Box::new(|e| matches!(e, LlmError::Cut { partial } if partial == "half an answer")),
        ),
        (
            Provider::OpenAi,
            "instream",
            Box::new(|e| e.to_string().contains("The server had an error")),
        ),
        (
            Provider::OpenAi,
            "llamacpp",
            Box::new(|e| e.to_string().contains("context shift disabled")),
        ),
        (
            Provider::Ollama,
            "missing",
            Box::new(|e| matches!(e, LlmError::NotFound(m) if m.contains("try pulling it first"))),
        ),
        (
            Provider::Ollama,
            "midstream",
            Box::new(|e| e.to_string().contains("while running the model")),
        ),
        (
            Provider::Ollama,
            "cut",
            Box::new(|e| matches!(e, LlmError::Cut { .. })),
        ),
    ];
    for (provider, case, expected) in cases {
        let (result, _) = server.ask(provider, case);
        let error = result.expect_err(case);
        assert!(expected(&error), "{provider:?} {case}: {error:?}");
    }
}

#[test]
fn a_dead_port_is_a_connection_error() {
    let server = start();
    let port = crate::support::free_port();
    let config = LlmConfig::new(
        Provider::OpenAi,
        &format!("http://127.0.0.1:{port}/v1"),
        "m",
    );
    let client = LlmClient::new(config).unwrap();
    let (_keep, token) = cancellation();
    let error = server
        .runtime
        .block_on(client.chat(&messages(), &mut |_: &str| {}, token))
        .unwrap_err();
    assert!(matches!(error, LlmError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot reach"));
}

#[test]
fn a_running_answer_can_be_cancelled() {
    let server = start();
    let client = server.client(Provider::OpenAi, "endless", "test-model");
    let (canceller, token) = cancellation();
    let started = std::time::Instant::now();
    let result = server.runtime.block_on(async {
        let mut seen = 0;
        let canceller = std::sync::Mutex::new(Some(canceller));
        client
            .chat(
                &messages(),
                &mut |_: &str| {
                    seen += 1;
                    if seen == 5
                        && let Ok(mut c) = canceller.lock()
                        && let Some(c) = c.take()
                    {
                        c.cancel();
                    }
                },
                token,
            )
            .await
    });
    match result {
        Err(LlmError::Cancelled { partial }) => {
            assert!(partial.starts_with("0 1 2 3 4"), "{partial}")
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cancelled promptly, not after 300 chunks"
    );
}
