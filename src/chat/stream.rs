//! Incremental decoders of the two streaming protocols (pure): Server-Sent Events carrying
//! OpenAI-style `chat.completion.chunk` objects, and Ollama's NDJSON. Bytes go in as they arrive
//! (any split, including inside a UTF-8 character); events come out. See
//! `shared/reference/llm-apis.md` for the traps handled here.

use serde_json::Value;

/// One thing a stream said.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Answer text to append.
    Text(String),
    /// The model finished (`stop`, `length`, …).
    Finished(String),
    /// Token usage, when the server reports it.
    Usage {
        /// Prompt tokens.
        prompt: u64,
        /// Completion tokens.
        completion: u64,
    },
    /// The end-of-stream marker (`[DONE]` or Ollama's `done: true`).
    Done,
}

/// A stream that cannot be understood or that reported an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The server sent an error inside a 200 stream.
    #[error("the model server reported an error mid-answer: {0}")]
    Server(String),
    /// A chunk that is not the expected JSON.
    #[error("malformed stream chunk ({reason}): {excerpt}")]
    Malformed {
        /// What was wrong.
        reason: String,
        /// The start of the offending chunk.
        excerpt: String,
    },
    /// Buffered data exceeded the cap without forming an event.
    #[error("a stream event exceeded {0} bytes; refusing to buffer more")]
    TooLarge(usize),
}

const MAX_EVENT_BYTES: usize = 4 << 20;

fn excerpt(text: &str) -> String {
    text.chars().take(120).collect()
}

/// The message of an error value in any of the servers' shapes: a string, `{"message": …}`,
/// `{"message": {"detail": …}}`.
#[must_use]
pub fn error_message(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        Value::Object(map) => match map.get("message") {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => map.get("detail").map_or_else(
                || error.to_string(),
                |d| d.as_str().map_or_else(|| d.to_string(), str::to_owned),
            ),
        },
        other => other.to_string(),
    }
}

/// Splits a byte stream into complete lines (`\n`, `\r\n` or `\r`), keeping partial lines
/// and partial UTF-8 across reads.
#[derive(Debug, Default)]
struct LineBuffer {
    pending: Vec<u8>,
    /// The last read ended in `\r`: a `\n` starting the next read belongs to it.
    skip_lf: bool,
}

impl LineBuffer {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, StreamError> {
        let mut lines = Vec::new();
        for &b in bytes {
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' {
                    continue;
                }
            }
            if b == b'\n' || b == b'\r' {
                lines.push(String::from_utf8_lossy(&self.pending).into_owned());
                self.pending.clear();
                self.skip_lf = b == b'\r';
            } else {
                if self.pending.len() >= MAX_EVENT_BYTES {
                    return Err(StreamError::TooLarge(MAX_EVENT_BYTES));
                }
                self.pending.push(b);
            }
        }
        Ok(lines)
    }

    fn rest(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            None
        } else {
            let text = String::from_utf8_lossy(&self.pending).into_owned();
            self.pending.clear();
            Some(text)
        }
    }
}

/// Decodes an OpenAI-compatible SSE stream.
#[derive(Debug, Default)]
pub struct SseDecoder {
    lines: LineBuffer,
    data: Vec<String>,
    event: Option<String>,
    finished: bool,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `[DONE]` was seen.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished
    }

    /// Feeds bytes; returns the events completed by them.
    ///
    /// # Errors
    /// On an in-stream error or a malformed chunk.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        let mut out = Vec::new();
        for line in self.lines.push(bytes)? {
            self.line(&line, &mut out)?;
        }
        Ok(out)
    }

    /// Flushes a last event not followed by a blank line.
    ///
    /// # Errors
    /// As [`Self::push`].
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        let mut out = Vec::new();
        if let Some(line) = self.lines.rest() {
            self.line(&line, &mut out)?;
        }
        self.dispatch(&mut out)?;
        Ok(out)
    }

    fn line(&mut self, line: &str, out: &mut Vec<StreamEvent>) -> Result<(), StreamError> {
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            // Older llama.cpp servers: a non-standard `error: {json}` line.
            "error" => {
                let message = serde_json::from_str::<Value>(value)
                    .map_or_else(|_| value.to_owned(), |v| error_message(&v));
                return Err(StreamError::Server(message));
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), StreamError> {
        if self.data.is_empty() {
            self.event = None;
            return Ok(());
        }
        let data = self.data.join("\n");
        self.data.clear();
        let event = self.event.take();
        if data.trim() == "[DONE]" {
            self.finished = true;
            out.push(StreamEvent::Done);
            return Ok(());
        }
        let value: Value = serde_json::from_str(&data).map_err(|e| StreamError::Malformed {
            reason: e.to_string(),
            excerpt: excerpt(&data),
        })?;
        if let Some(error) = value.get("error") {
            return Err(StreamError::Server(error_message(error)));
        }
        if event.as_deref() == Some("error") {
            return Err(StreamError::Server(error_message(&value)));
        }
        if value.get("object").and_then(Value::as_str) == Some("error") {
            return Err(StreamError::Server(error_message(&value)));
        }
        let Some(object) = value.as_object() else {
            return Err(StreamError::Malformed {
                reason: "not a JSON object".to_owned(),
                excerpt: excerpt(&data),
            });
        };
        match object.get("choices") {
            Some(Value::Array(choices)) => {
                for choice in choices {
                    if let Some(text) = choice
                        .get("delta")
                        .and_then(|d| d.get("content"))
                        .and_then(Value::as_str)
                        && !text.is_empty()
                    {
                        out.push(StreamEvent::Text(text.to_owned()));
                    }
                    if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                        out.push(StreamEvent::Finished(reason.to_owned()));
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => {
                return Err(StreamError::Malformed {
                    reason: "`choices` is not an array".to_owned(),
                    excerpt: excerpt(&data),
                });
            }
        }
        if let Some(usage) = object.get("usage").filter(|u| u.is_object()) {
            out.push(StreamEvent::Usage {
                prompt: usage
                    .get("prompt_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                completion: usage
                    .get("completion_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            });
        }
        Ok(())
    }
}

/// Decodes Ollama's NDJSON `/api/chat` stream.
#[derive(Debug, Default)]
pub struct NdjsonDecoder {
    lines: LineBuffer,
    finished: bool,
}

impl NdjsonDecoder {
    /// A decoder at the start of a stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the final `done: true` object was seen.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished
    }

    /// Feeds bytes; returns the events completed by them.
    ///
    /// # Errors
    /// On an in-stream error or a malformed line.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        let mut out = Vec::new();
        for line in self.lines.push(bytes)? {
            self.line(&line, &mut out)?;
        }
        Ok(out)
    }

    /// Flushes a last line without a newline.
    ///
    /// # Errors
    /// As [`Self::push`].
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        let mut out = Vec::new();
        if let Some(line) = self.lines.rest() {
            self.line(&line, &mut out)?;
        }
        Ok(out)
    }

    fn line(&mut self, line: &str, out: &mut Vec<StreamEvent>) -> Result<(), StreamError> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(line).map_err(|e| StreamError::Malformed {
            reason: e.to_string(),
            excerpt: excerpt(line),
        })?;
        if let Some(error) = value.get("error") {
            return Err(StreamError::Server(error_message(error)));
        }
        if let Some(text) = value
            .get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(StreamEvent::Text(text.to_owned()));
        }
        if value.get("done").and_then(Value::as_bool) == Some(true) {
            if let Some(reason) = value.get("done_reason").and_then(Value::as_str) {
                out.push(StreamEvent::Finished(reason.to_owned()));
            }
            out.push(StreamEvent::Usage {
                prompt: value
                    .get("prompt_eval_count")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                completion: value.get("eval_count").and_then(Value::as_u64).unwrap_or(0),
            });
            self.finished = true;
            out.push(StreamEvent::Done);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OPENAI: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n: keep-alive\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"carts\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"-db é\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":41,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n";

    fn text(events: &[StreamEvent]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sse_any_split_gives_the_same_events() {
        let bytes = OPENAI.as_bytes();
        let mut whole = SseDecoder::new();
        let expected = whole.push(bytes).unwrap();
        assert_eq!(text(&expected), "carts-db é");
        assert!(expected.contains(&StreamEvent::Finished("stop".into())));
        assert!(expected.contains(&StreamEvent::Usage {
            prompt: 41,
            completion: 6
        }));
        assert_eq!(expected.last(), Some(&StreamEvent::Done));
        for split in 1..bytes.len() {
            let mut decoder = SseDecoder::new();
            let mut events = decoder.push(&bytes[..split]).unwrap();
            events.extend(decoder.push(&bytes[split..]).unwrap());
            events.extend(decoder.finish().unwrap());
            assert_eq!(events, expected, "split at {split}");
        }
    }

    #[test]
    fn crlf_split_between_reads_is_one_line_end() {
        let body = b"data: {\"choices\":\r\ndata: [{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n";
        for split in 1..body.len() {
            let mut decoder = SseDecoder::new();
            let mut events = decoder.push(&body[..split]).unwrap();
            events.extend(decoder.push(&body[split..]).unwrap());
            assert_eq!(
                events,
                vec![StreamEvent::Text("a".into())],
                "split at {split}"
            );
        }
    }

    #[test]
    fn sse_handles_crlf_multiline_data_and_null_choices() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .push(b"data: {\"choices\":\r\ndata: [{\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: {\"choices\":null,\"usage\":null}\r\n\r\n")
            .unwrap();
        assert_eq!(events, vec![StreamEvent::Text("a".into())]);
    }

    #[test]
    fn sse_in_stream_errors_in_every_shape() {
        for body in [
            "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":503}}\n\n",
            "event: error\ndata: {\"message\":\"overloaded\"}\n\n",
            "error: {\"code\":500,\"message\":\"overloaded\"}\n",
            "data: {\"object\":\"error\",\"message\":\"overloaded\",\"code\":500}\n\n",
        ] {
            let mut decoder = SseDecoder::new();
            let error = decoder.push(body.as_bytes()).expect_err(body);
            assert_eq!(error, StreamError::Server("overloaded".into()), "{body}");
        }
    }

    #[test]
    fn sse_malformed_chunks_are_errors_not_panics() {
        let mut decoder = SseDecoder::new();
        let error = decoder
            .push(b"data: {\"choices\": [\n\n")
            .expect_err("bad json");
        assert!(matches!(error, StreamError::Malformed { .. }));
        let mut decoder = SseDecoder::new();
        assert!(decoder.push(b"data: {\"choices\": 3}\n\n").is_err());
        let mut decoder = SseDecoder::new();
        assert!(decoder.push(b"data: [1,2]\n\n").is_err());
    }

    #[test]
    fn ndjson_stream_and_mid_stream_error() {
        let body = "{\"message\":{\"role\":\"assistant\",\"content\":\"carts\"},\"done\":false}\n{\"message\":{\"role\":\"assistant\",\"content\":\"-db\"},\"done\":false}\n{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":26,\"eval_count\":282}\n";
        let bytes = body.as_bytes();
        for split in 1..bytes.len() {
            let mut decoder = NdjsonDecoder::new();
            let mut events = decoder.push(&bytes[..split]).unwrap();
            events.extend(decoder.push(&bytes[split..]).unwrap());
            events.extend(decoder.finish().unwrap());
            assert_eq!(text(&events), "carts-db");
            assert!(decoder.is_done());
            assert!(events.contains(&StreamEvent::Usage {
                prompt: 26,
                completion: 282
            }));
        }
        let mut decoder = NdjsonDecoder::new();
        let error = decoder
            .push(b"{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"error\":\"model crashed\"}\n")
            .expect_err("error line");
        assert_eq!(error, StreamError::Server("model crashed".into()));
    }

    #[test]
    fn error_messages_in_each_server_shape() {
        let parse = |s: &str| error_message(&serde_json::from_str::<Value>(s).unwrap());
        assert_eq!(parse("{\"message\":\"bad key\",\"type\":\"x\"}"), "bad key");
        assert_eq!(parse("\"model not found\""), "model not found");
        assert!(parse("{\"message\":{\"detail\":[{\"msg\":\"extra\"}]}}").contains("extra"));
        assert_eq!(parse("{\"detail\":\"Not Found\"}"), "Not Found");
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut sse = SseDecoder::new();
            let _ = sse.push(&bytes);
            let _ = sse.finish();
            let mut nd = NdjsonDecoder::new();
            let _ = nd.push(&bytes);
            let _ = nd.finish();
        }
    }
}
