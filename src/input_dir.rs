//! The offline telemetry directory: reading a [`Dataset`] from, and writing one to, a directory
//! of wire-format files.
//!
//! | file | content |
//! |---|---|
//! | `traces.json` | OTLP/Tempo trace JSON: one object, an array of objects, or JSON lines |
//! | `logs.json` | a Loki `query_range` streams response, an array of them, or JSON lines |
//! | `metrics.json` | a Prometheus `query_range`/`query` response (matrix or vector), an array of them, or JSON lines |
//! | `graph.json` | optional: Kiali graph JSON or the simple `{"edges":[…]}` form |
//! | `labels.json` | optional: the simulator's [`GroundTruth`] |
//!
//! Invariant: every file is optional but a readable directory holds at least one telemetry file
//! (traces, logs or metrics); every error names the file and what is wrong with it; no file
//! larger than the configured cap is read; [`write_dir`] replaces each file atomically (temp
//! file + rename) and its output reads back to the same dataset.

mod write;

pub use write::write_dir;

use crate::model::{Dataset, GroundTruth};
use crate::wire::WireError;
use crate::wire::kiali::decode_graph;
use crate::wire::loki::{LokiData, decode_query_range_value};
use crate::wire::otlp::decode_traces;
use crate::wire::prometheus::{PromData, decode_query_value};
use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Trace file name.
pub const TRACES_FILE: &str = "traces.json";
/// Log file name.
pub const LOGS_FILE: &str = "logs.json";
/// Metric file name.
pub const METRICS_FILE: &str = "metrics.json";
/// Graph file name.
pub const GRAPH_FILE: &str = "graph.json";
/// Ground-truth file name.
pub const LABELS_FILE: &str = "labels.json";

/// Default cap on the size of one input file: 2 GiB.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Options of [`read_dir_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Files larger than this many bytes are refused.
    pub max_file_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: MAX_FILE_BYTES,
        }
    }
}

/// Why an input directory could not be read or written.
#[derive(Debug, Error)]
pub enum InputDirError {
    /// The path does not exist or is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// None of the telemetry files exists.
    #[error(
        "{path}: no telemetry found; expected at least one of traces.json, logs.json, metrics.json \
         (optional: graph.json, labels.json)"
    )]
    NoTelemetry {
        /// The directory.
        path: PathBuf,
    },
    /// A file is over the size cap.
    #[error("{path}: {size} bytes is over the limit of {limit} bytes; split or trim the file")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's content does not decode.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the file.
        source: WireError,
    },
    /// A file decodes but holds the wrong kind of data.
    #[error("{path}: {message}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `labels.json` is not a ground-truth object.
    #[error("{path}: not a ground-truth object: {source}")]
    Labels {
        /// The file.
        path: PathBuf,
        /// The parse error (with line and column).
        source: serde_json::Error,
    },
    /// Writing JSON failed.
    #[error("{path}: cannot write JSON: {source}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The serializer's error.
        source: serde_json::Error,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> InputDirError + '_ {
    move |source| InputDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads a directory with the default options.
///
/// # Errors
/// See [`read_dir_with`].
pub fn read_dir(path: &Path) -> Result<Dataset, InputDirError> {
    read_dir_with(path, &ReadOptions::default())
}

/// Reads the telemetry files of `path` into a [`Dataset`]. Series are kept as decoded; logs
/// and spans in file order.
///
/// # Errors
/// [`InputDirError::NotADirectory`], [`InputDirError::NoTelemetry`] when none of the telemetry
/// files exists, [`InputDirError::TooLarge`] for files over the cap, and I/O, decode and content
/// errors naming the file.
pub fn read_dir_with(path: &Path, options: &ReadOptions) -> Result<Dataset, InputDirError> {
    if !path.is_dir() {
        return Err(InputDirError::NotADirectory {
            path: path.to_owned(),
        });
    }
    let traces = read_optional(&path.join(TRACES_FILE), options)?;
    let logs = read_optional(&path.join(LOGS_FILE), options)?;
    let metrics = read_optional(&path.join(METRICS_FILE), options)?;
    if traces.is_none() && logs.is_none() && metrics.is_none() {
        return Err(InputDirError::NoTelemetry {
            path: path.to_owned(),
        });
    }
    let mut dataset = Dataset::default();
    if let Some((file, bytes)) = traces {
        dataset.spans =
            decode_traces(&bytes).map_err(|source| InputDirError::Decode { path: file, source })?;
    }
    if let Some((file, bytes)) = logs {
        dataset.logs = read_logs(&file, &bytes)?;
    }
    if let Some((file, bytes)) = metrics {
        dataset.series = read_metrics(&file, &bytes)?;
    }
    if let Some((file, bytes)) = read_optional(&path.join(GRAPH_FILE), options)? {
        dataset.graph = Some(
            decode_graph(&bytes).map_err(|source| InputDirError::Decode { path: file, source })?,
        );
    }
    if let Some((file, bytes)) = read_optional(&path.join(LABELS_FILE), options)? {
        dataset.ground_truth = Some(
            serde_json::from_slice::<GroundTruth>(&bytes)
                .map_err(|source| InputDirError::Labels { path: file, source })?,
        );
    }
    Ok(dataset)
}

/// The file's bytes, `None` when it does not exist.
fn read_optional(
    file: &Path,
    options: &ReadOptions,
) -> Result<Option<(PathBuf, Vec<u8>)>, InputDirError> {
    let metadata = match fs::metadata(file) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(file)(error)),
    };
    if !metadata.is_file() {
        return Err(InputDirError::Content {
            path: file.to_owned(),
            message: "not a regular file".to_owned(),
        });
    }
    if metadata.len() > options.max_file_bytes {
        return Err(InputDirError::TooLarge {
            path: file.to_owned(),
            size: metadata.len(),
            limit: options.max_file_bytes,
        });
    }
    let bytes = fs::read(file).map_err(io_error(file))?;
    // The file may have grown between the size check and the read.
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > options.max_file_bytes {
        return Err(InputDirError::TooLarge {
            path: file.to_owned(),
            size,
            limit: options.max_file_bytes,
        });
    }
    Ok(Some((file.to_owned(), bytes)))
}

/// Calls `visit` with the place (`line 3, [1]`; empty for a lone document) and value of every
/// response in the file: one document, the elements of a top-level array, or JSON lines.
fn for_each_response(
    file: &Path,
    bytes: &[u8],
    mut visit: impl FnMut(&str, &serde_json::Value) -> Result<(), InputDirError>,
) -> Result<(), InputDirError> {
    crate::wire::json::for_each_document(
        bytes,
        |source| InputDirError::Decode {
            path: file.to_owned(),
            source,
        },
        |path, value| match value {
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    visit(&path.index(i).render(), item)?;
                }
                Ok(())
            }
            other => {
                let place = path.render();
                visit(if place == "top level" { "" } else { &place }, other)
            }
        },
    )
}

fn place_error(file: &Path, place: &str, source: WireError) -> InputDirError {
    if place.is_empty() {
        return InputDirError::Decode {
            path: file.to_owned(),
            source,
        };
    }
    InputDirError::Content {
        path: file.to_owned(),
        message: format!("{place}: {source}"),
    }
}

fn prefix(place: &str) -> String {
    if place.is_empty() {
        String::new()
    } else {
        format!("{place}: ")
    }
}

fn read_logs(file: &Path, bytes: &[u8]) -> Result<Vec<crate::model::LogRecord>, InputDirError> {
    let mut logs = Vec::new();
    for_each_response(
        file,
        bytes,
        |place, value| match decode_query_range_value(value)
            .map_err(|e| place_error(file, place, e))?
        {
            LokiData::Streams(records) => {
                logs.extend(records);
                Ok(())
            }
            other => Err(InputDirError::Content {
                path: file.to_owned(),
                message: format!(
                    "{}a Loki {} result; logs.json must hold log streams \
                     (put metric series in metrics.json)",
                    prefix(place),
                    match other {
                        LokiData::Matrix(_) => "matrix",
                        LokiData::Vector(_) => "vector",
                        _ => "scalar",
                    }
                ),
            }),
        },
    )?;
    Ok(logs)
}

fn read_metrics(file: &Path, bytes: &[u8]) -> Result<Vec<crate::model::Series>, InputDirError> {
    let mut series = Vec::new();
    for_each_response(file, bytes, |place, value| {
        match decode_query_value(value).map_err(|e| place_error(file, place, e))? {
            PromData::Matrix(list) | PromData::Vector(list) => {
                series.extend(list);
                Ok(())
            }
            PromData::Scalar(_) | PromData::String(_) => Err(InputDirError::Content {
                path: file.to_owned(),
                message: format!(
                    "{}a scalar or string result has no series; metrics.json must hold \
                     matrix or vector responses",
                    prefix(place)
                ),
            }),
        }
    })?;
    Ok(series)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fixture;
    use crate::model::{CallEdge, FaultClass, LogRecord, Protocol, ServiceGraph, Span, Timestamp};
    use crate::wire::testgen::same_series;

    fn dataset() -> Dataset {
        let spans = decode_traces(fixture!("tempo/trace_v1.json").as_bytes()).unwrap();
        let mut more = decode_traces(fixture!("tempo/otlp_hex.json").as_bytes()).unwrap();
        for span in &mut more {
            // NaN attributes survive but never compare equal.
            span.attributes.retain(|(key, _)| key != "ratio");
            if span.service == "unknown" {
                // Round trips need the resource to name the service (the encoder adds it).
                span.resource.insert(
                    0,
                    (
                        "service.name".into(),
                        crate::model::AttributeValue::Str("unknown".into()),
                    ),
                );
            }
        }
        let logs =
            match crate::wire::loki::decode_query_range(fixture!("loki/streams.json").as_bytes())
                .unwrap()
            {
                LokiData::Streams(records) => records,
                _ => Vec::new(),
            };
        let series = match crate::wire::prometheus::decode_query(
            fixture!("prometheus/matrix.json").as_bytes(),
        )
        .unwrap()
        {
            PromData::Matrix(series) => series,
            _ => Vec::new(),
        };
        let mut graph = ServiceGraph::new();
        graph.set_edge(
            "front-end",
            "carts",
            CallEdge {
                request_rate: 12.5,
                error_rate: 0.25,
                latency_ms: 950.0,
                ..CallEdge::default()
            },
        );
        graph.set_edge(
            "carts",
            "carts-db",
            CallEdge {
                protocol: Protocol::Tcp,
                bytes_rate: 830.0,
                ..CallEdge::default()
            },
        );
        Dataset {
            logs,
            spans: spans.into_iter().chain(more).collect(),
            series,
            graph: Some(graph),
            ground_truth: Some(GroundTruth {
                scenario: "carts-pod-failure".into(),
                fault_class: FaultClass::PodFailure,
                root_cause: "carts".into(),
                peer: None,
                fault_start: Timestamp::from_secs(1_735_689_900),
                fault_end: Timestamp::from_secs(1_735_690_200),
                start: Timestamp::from_secs(1_735_689_600),
                end: Timestamp::from_secs(1_735_690_500),
                seed: 7,
                acted_traces: vec![crate::model::TraceId([0xab; 16])],
                effects_end: Some(Timestamp::from_secs(1_735_690_245)),
            }),
        }
    }

    fn sorted_spans(mut spans: Vec<Span>) -> Vec<Span> {
        spans.sort_by_key(|s| (s.trace_id, s.span_id));
        spans
    }

    fn sorted_logs(mut logs: Vec<LogRecord>) -> Vec<LogRecord> {
        logs.sort_by_key(|r| (r.timestamp, r.line.clone()));
        logs
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run-1");
        let original = dataset();
        write_dir(&target, &original).unwrap();
        let traces = fs::read_to_string(target.join(TRACES_FILE)).unwrap();
        assert_eq!(traces.lines().count(), 2, "one Tempo body per trace");
        assert!(traces.lines().all(|l| l.starts_with("{\"batches\":[")));
        let leftovers: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "no temp files left: {leftovers:?}");

        let back = read_dir(&target).unwrap();
        assert_eq!(sorted_spans(back.spans), sorted_spans(original.spans));
        assert_eq!(sorted_logs(back.logs), sorted_logs(original.logs));
        assert_eq!(back.series.len(), original.series.len());
        assert!(
            back.series
                .iter()
                .zip(&original.series)
                .all(|(a, b)| same_series(a, b))
        );
        assert_eq!(back.ground_truth, original.ground_truth);
        let graph = back.graph.unwrap();
        assert_eq!(graph.edge("front-end", "carts").unwrap().latency_ms, 950.0);
        assert_eq!(
            graph.edge("carts", "carts-db").unwrap().protocol,
            Protocol::Tcp
        );

        // Writing again without graph and labels removes the stale files.
        let bare = Dataset {
            graph: None,
            ground_truth: None,
            ..dataset()
        };
        write_dir(&target, &bare).unwrap();
        let back = read_dir(&target).unwrap();
        assert!(back.graph.is_none() && back.ground_truth.is_none());

        // An empty dataset still writes readable files.
        write_dir(&target, &Dataset::default()).unwrap();
        assert!(read_dir(&target).unwrap().is_empty());
    }

    #[test]
    fn missing_and_empty_directories_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("traces.json, logs.json, metrics.json"),
            "{error}"
        );
        fs::write(dir.path().join(LABELS_FILE), "{}").unwrap();
        assert!(matches!(
            read_dir(dir.path()),
            Err(InputDirError::NoTelemetry { .. })
        ));
        assert!(matches!(
            read_dir(&dir.path().join("nope")),
            Err(InputDirError::NotADirectory { .. })
        ));
    }

    #[test]
    fn inputs_in_every_accepted_shape() {
        let dir = tempfile::tempdir().unwrap();
        let loki = fixture!("loki/streams.json").replace('\n', " ");
        fs::write(dir.path().join(LOGS_FILE), format!("[{loki},{loki}]")).unwrap();
        let prom = fixture!("prometheus/matrix.json").replace('\n', " ");
        let vector = fixture!("prometheus/vector.json").replace('\n', " ");
        fs::write(dir.path().join(METRICS_FILE), format!("{prom}\n{vector}\n")).unwrap();
        fs::write(
            dir.path().join(TRACES_FILE),
            fixture!("tempo/trace_v2.json"),
        )
        .unwrap();
        fs::write(dir.path().join(GRAPH_FILE), fixture!("kiali/graph.json")).unwrap();
        let data = read_dir(dir.path()).unwrap();
        assert_eq!(data.logs.len(), 6);
        assert_eq!(data.series.len(), 7);
        assert_eq!(data.spans.len(), 1);
        assert_eq!(data.graph.unwrap().edge_count(), 2);
        assert!(data.ground_truth.is_none());
    }

    #[test]
    fn errors_name_the_file_and_place() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(TRACES_FILE), "{}\n{\"batches\": 5}\n").unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.ends_with("traces.json: line 2, batches: expected an array, found a number"),
            "{error}"
        );
        fs::remove_file(dir.path().join(TRACES_FILE)).unwrap();

        let matrix = fixture!("loki/matrix.json").replace('\n', " ");
        fs::write(dir.path().join(LOGS_FILE), format!("[{matrix}]")).unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("logs.json: [0]: a Loki matrix result"),
            "{error}"
        );

        fs::write(dir.path().join(LOGS_FILE), "no org id").unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.ends_with("logs.json: the response is not JSON; it says: no org id"),
            "{error}"
        );
        fs::remove_file(dir.path().join(LOGS_FILE)).unwrap();

        fs::write(
            dir.path().join(METRICS_FILE),
            fixture!("prometheus/error.json"),
        )
        .unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("metrics.json: the server reported an error (bad_data)"),
            "{error}"
        );
        fs::write(
            dir.path().join(METRICS_FILE),
            fixture!("prometheus/matrix.json"),
        )
        .unwrap();

        fs::write(dir.path().join(LABELS_FILE), "{\"scenario\": 1}").unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("labels.json: not a ground-truth object"),
            "{error}"
        );
        fs::remove_file(dir.path().join(LABELS_FILE)).unwrap();

        fs::write(dir.path().join(GRAPH_FILE), "{\"edges\": [{}]}").unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("graph.json: edges[0]: edge has no `source`"),
            "{error}"
        );
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(METRICS_FILE),
            fixture!("prometheus/matrix.json"),
        )
        .unwrap();
        let options = ReadOptions { max_file_bytes: 64 };
        let error = read_dir_with(dir.path(), &options).unwrap_err();
        assert!(matches!(error, InputDirError::TooLarge { limit: 64, .. }));
        assert!(error.to_string().contains("over the limit of 64 bytes"));
        assert!(read_dir(dir.path()).is_ok());
    }
}
