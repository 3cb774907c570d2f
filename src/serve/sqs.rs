//! An AWS SQS consumer over the JSON protocol: long polling, delete after processing, malformed
//! messages left for retry (and the queue's dead-letter redrive), credentials from the standard
//! environment variables or the shared credentials file.

use super::events::{AnomalyEvent, EventError, parse_event};
use super::sigv4::{Credentials, SignableRequest, sign};
use crate::model::Timestamp;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Where and how to consume.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The queue URL (`https://sqs.eu-west-1.amazonaws.com/123456789012/anomalies`).
    pub queue_url: String,
    /// Endpoint to POST to; defaults to the queue URL's scheme and host (set it for LocalStack
    /// or moto).
    pub endpoint: Option<String>,
    /// AWS region (from `AWS_REGION`/`AWS_DEFAULT_REGION` or the queue URL when not given).
    pub region: String,
    /// Long-polling wait, 0–20 s.
    pub wait_time_secs: u32,
    /// Visibility timeout after receive.
    pub visibility_timeout_secs: u32,
    /// Messages per receive, 1–10.
    pub max_messages: u32,
}

/// Errors talking to SQS.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// No credentials found.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add a profile to ~/.aws/credentials (AWS_PROFILE selects it)"
    )]
    NoCredentials,
    /// The HTTP request failed (network, timeout).
    #[error("SQS request to {endpoint} failed: {message} (check the endpoint and network)")]
    Transport {
        /// Endpoint.
        endpoint: String,
        /// Cause.
        message: String,
    },
    /// SQS answered with an error.
    #[error("SQS error {code} (HTTP {status}): {message}")]
    Service {
        /// HTTP status.
        status: u16,
        /// Error name (`QueueDoesNotExist`, `RequestThrottled`, …).
        code: String,
        /// Message.
        message: String,
    },
    /// The answer was not what the protocol promises.
    #[error("unexpected SQS response: {0}")]
    Protocol(String),
}

impl SqsError {
    /// Whether retrying later can help (throttling, 5xx, network).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Service { status, code, .. } => {
                *status >= 500
                    || code == "RequestThrottled"
                    || code == "ThrottlingException"
                    || code == "KmsThrottled"
            }
            _ => false,
        }
    }
}

/// One received message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// SQS id.
    pub message_id: String,
    /// Handle needed to delete it (new on every receive).
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// How many times it has been received.
    pub receive_count: u32,
}

/// Reads credentials: environment first, then the shared credentials file's profile.
///
/// # Errors
/// [`SqsError::NoCredentials`] when neither has them.
pub fn credentials_from_environment() -> Result<Credentials, SqsError> {
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: std::env::var("AWS_SESSION_TOKEN").ok(),
        });
    }
    let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".aws/credentials"))
        })
        .ok_or(SqsError::NoCredentials)?;
    let text = std::fs::read_to_string(path).map_err(|_| SqsError::NoCredentials)?;
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned());
    parse_credentials_file(&text, &profile).ok_or(SqsError::NoCredentials)
}

/// Parses one profile of an INI credentials file.
#[must_use]
pub fn parse_credentials_file(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_profile = line.trim_matches(['[', ']']).trim() == profile;
        } else if in_profile && let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_owned();
            match key.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                _ => {}
            }
        }
    }
    Some(Credentials {
        access_key_id: id?,
        secret_access_key: secret?,
        session_token: token,
    })
}

/// Installs rustls' ring provider once (reqwest is built without a default provider).
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A signed SQS JSON-protocol client.
#[derive(Debug, Clone)]
pub struct SqsClient {
    http: reqwest::Client,
    config: SqsConfig,
    credentials: Credentials,
    endpoint: reqwest::Url,
}

impl SqsClient {
    /// Builds a client.
    ///
    /// # Errors
    /// When the queue URL or endpoint is not a URL.
    pub fn new(config: SqsConfig, credentials: Credentials) -> Result<Self, SqsError> {
        ensure_crypto_provider();
        let base = config
            .endpoint
            .clone()
            .unwrap_or_else(|| config.queue_url.clone());
        let mut endpoint = reqwest::Url::parse(&base)
            .map_err(|e| SqsError::Protocol(format!("`{base}` is not a URL: {e}")))?;
        endpoint.set_path("/");
        endpoint.set_query(None);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(u64::from(config.wait_time_secs) + 15))
            .build()
            .map_err(|e| SqsError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            config,
            credentials,
            endpoint,
        })
    }

    async fn call(&self, operation: &str, body: &Value) -> Result<Value, SqsError> {
        let payload = serde_json::to_vec(body).map_err(|e| SqsError::Protocol(e.to_string()))?;
        let host = match (self.endpoint.host_str(), self.endpoint.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(SqsError::Protocol("endpoint has no host".to_owned())),
        };
        let target = format!("AmazonSQS.{operation}");
        let unsigned = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
            ("host".to_owned(), host),
            ("x-amz-target".to_owned(), target.clone()),
        ];
        let now = {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
        };
        let signed = sign(
            &SignableRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: unsigned.clone(),
                body: &payload,
            },
            &self.credentials,
            &self.config.region,
            "sqs",
            now,
        );
        let mut request = self.http.post(self.endpoint.clone()).body(payload);
        for (name, value) in unsigned
            .iter()
            .filter(|(name, _)| name != "host")
            .chain(signed.iter())
        {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(|e| SqsError::Transport {
            endpoint: self.endpoint.to_string(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let query_error = response
            .headers()
            .get("x-amzn-query-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| SqsError::Transport {
            endpoint: self.endpoint.to_string(),
            message: e.to_string(),
        })?;
        let value: Value = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(
                |_| json!({"message": String::from_utf8_lossy(&bytes[..bytes.len().min(300)])}),
            )
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let code = value["__type"]
            .as_str()
            .and_then(|t| t.rsplit('#').next())
            .map(str::to_owned)
            .or_else(|| query_error.and_then(|q| q.split(';').next().map(str::to_owned)))
            .unwrap_or_else(|| "Unknown".to_owned());
        let message = value["message"]
            .as_str()
            .or_else(|| value["Message"].as_str())
            .unwrap_or("")
            .to_owned();
        Err(SqsError::Service {
            status,
            code,
            message,
        })
    }

    /// One long-poll receive.
    ///
    /// # Errors
    /// Transport, service or protocol errors.
    pub async fn receive(&self) -> Result<Vec<Message>, SqsError> {
        let answer = self
            .call(
                "ReceiveMessage",
                &json!({
                    "QueueUrl": self.config.queue_url,
                    "MaxNumberOfMessages": self.config.max_messages.clamp(1, 10),
                    "WaitTimeSeconds": self.config.wait_time_secs.min(20),
                    "VisibilityTimeout": self.config.visibility_timeout_secs,
                    "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
                }),
            )
            .await?;
        // No messages: the key is absent, not an empty list.
        let Some(messages) = answer.get("Messages") else {
            return Ok(Vec::new());
        };
        let messages = messages
            .as_array()
            .ok_or_else(|| SqsError::Protocol("`Messages` is not a list".to_owned()))?;
        let mut out = Vec::with_capacity(messages.len());
        for message in messages {
            let text = |key: &str| message.get(key).and_then(Value::as_str).map(str::to_owned);
            let (Some(message_id), Some(receipt_handle)) =
                (text("MessageId"), text("ReceiptHandle"))
            else {
                return Err(SqsError::Protocol(
                    "a message lacks MessageId or ReceiptHandle".to_owned(),
                ));
            };
            let body = text("Body").unwrap_or_default();
            if let Some(expected) = text("MD5OfBody") {
                let actual: String = Md5::digest(body.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if !actual.eq_ignore_ascii_case(&expected) {
                    return Err(SqsError::Protocol(format!(
                        "message {message_id}: MD5OfBody does not match the body"
                    )));
                }
            }
            let receive_count = message
                .pointer("/Attributes/ApproximateReceiveCount")
                .and_then(Value::as_str)
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            out.push(Message {
                message_id,
                receipt_handle,
                body,
                receive_count,
            });
        }
        Ok(out)
    }

    /// Deletes a processed message.
    ///
    /// # Errors
    /// Transport, service or protocol errors.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), SqsError> {
        self.call(
            "DeleteMessage",
            &json!({"QueueUrl": self.config.queue_url, "ReceiptHandle": receipt_handle}),
        )
        .await
        .map(|_| ())
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Parsed and handed to the handler, then deleted.
    Accepted(AnomalyEvent),
    /// Malformed: left on the queue for retry and, after the redrive limit, the dead-letter queue.
    Rejected {
        /// Message id.
        message_id: String,
        /// Why.
        error: EventError,
    },
}

/// Receives once and processes every message: valid events go to `handle` and are deleted;
/// malformed ones are left for retry/dead-letter. Returns what happened to each.
///
/// # Errors
/// When receiving fails; a failed delete is reported the same way (the event was handled
/// and will come back; the handler must be idempotent, as at-least-once delivery requires).
pub async fn poll_once(
    client: &SqsClient,
    mut handle: impl FnMut(AnomalyEvent),
) -> Result<Vec<Outcome>, SqsError> {
    let mut outcomes = Vec::new();
    for message in client.receive().await? {
        match parse_event(message.body.as_bytes()) {
            Ok(event) => {
                handle(event.clone());
                client.delete(&message.receipt_handle).await?;
                outcomes.push(Outcome::Accepted(event));
            }
            Err(error) => outcomes.push(Outcome::Rejected {
                message_id: message.message_id,
                error,
            }),
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_file_profiles() {
        let text = "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n[ops]\naws_access_key_id=AKIA2\naws_secret_access_key=s2\naws_session_token=t2\n";
        let default = parse_credentials_file(text, "default").expect("default");
        assert_eq!(
            (
                default.access_key_id.as_str(),
                default.session_token.as_deref()
            ),
            ("AKIA1", None)
        );
        let ops = parse_credentials_file(text, "ops").expect("ops");
        assert_eq!(ops.session_token.as_deref(), Some("t2"));
        assert!(parse_credentials_file(text, "missing").is_none());
    }

    #[test]
    fn throttling_and_5xx_are_transient() {
        let throttled = SqsError::Service {
            status: 400,
            code: "RequestThrottled".into(),
            message: String::new(),
        };
        let missing = SqsError::Service {
            status: 400,
            code: "QueueDoesNotExist".into(),
            message: String::new(),
        };
        assert!(throttled.is_transient());
        assert!(!missing.is_transient());
        assert!(
            SqsError::Service {
                status: 503,
                code: "X".into(),
                message: String::new()
            }
            .is_transient()
        );
    }
}
