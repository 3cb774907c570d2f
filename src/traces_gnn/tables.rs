//! Parquet trace tables (adapter: files): one row per span.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `trace_id` | string (hex) or bytes (16 or 8) | the trace |
//! | `span_id` | string (hex) or bytes (8) | the span |
//! | `parent_span_id` | same as `span_id`, nullable; null, empty or all zeros = root | the parent |
//! | `span_name` | string | the operation |
//! | `primary_service` | string | the service that emitted the span |
//! | `start_time` | timestamp, or an integer / float since the epoch: its magnitude picks seconds, ms, µs or ns | start |
//! | `duration` | integer or float, **microseconds** | length |
//!
//! Optional columns: `status_code` / `http_status` (integer HTTP status, kept as the span's
//! `http.status_code`), `error` / `is_error` (boolean or 0/1: an error status), `span_kind`
//! (`server`, `client`, `producer`, `consumer`, `internal`). Any other column (the seed's
//! aggregated features) is ignored: the model computes its own features from the spans.
//!
//! Every error names the file and, for a cell, the column and row.

use crate::model::{AttributeValue, Span, SpanId, SpanKind, SpanStatus, StatusCode, Timestamp};
use crate::model::{Dataset, TraceId};
use ::parquet::basic::{Compression, Repetition};
use ::parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::record::Field;
use ::parquet::schema::types::Type;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// Columns every table must have.
pub const REQUIRED_COLUMNS: [&str; 7] = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "span_name",
    "primary_service",
    "start_time",
    "duration",
];

/// Why a Parquet trace table could not be read or written.
#[derive(Debug, Error)]
pub enum TableError {
    /// Opening, reading or writing the file failed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A required column is absent.
    #[error(
        "{path}: no column `{column}`; a trace table needs the columns trace_id, span_id, \
         parent_span_id, span_name, primary_service, start_time, duration"
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// A cell has the wrong type or value.
    #[error("{path}: row {row}, column `{column}`: {message}")]
    Cell {
        /// The file.
        path: PathBuf,
        /// Row number (0-based).
        row: usize,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
}

fn file_error(path: &Path) -> impl Fn(String) -> TableError + '_ {
    move |message| TableError::File {
        path: path.to_owned(),
        message,
    }
}

#[derive(Default)]
struct RowValues {
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
    parent: Option<SpanId>,
    name: Option<String>,
    service: Option<String>,
    start: Option<Timestamp>,
    duration_us: Option<f64>,
    status: Option<i64>,
    error: bool,
    kind: SpanKind,
}

fn describe(field: &Field) -> String {
    let text = format!("{field:?}");
    text.split('(').next().unwrap_or("?").to_owned()
}

fn hex_or_bytes<T>(
    field: &Field,
    from_hex: impl Fn(&str) -> Option<T>,
    from_bytes: impl Fn(&[u8]) -> Option<T>,
) -> Result<Option<T>, String> {
    match field {
        Field::Null => Ok(None),
        Field::Str(text) if text.trim().is_empty() => Ok(None),
        Field::Str(text) => from_hex(text)
            .map(Some)
            .ok_or_else(|| format!("`{text}` is not a hex id")),
        Field::Bytes(bytes) if bytes.data().is_empty() => Ok(None),
        Field::Bytes(bytes) => match std::str::from_utf8(bytes.data()).ok().and_then(&from_hex) {
            Some(id) => Ok(Some(id)),
            None => from_bytes(bytes.data())
                .map(Some)
                .ok_or_else(|| format!("{} bytes is not an id", bytes.data().len())),
        },
        Field::Long(value) => from_bytes(&value.to_be_bytes())
            .map(Some)
            .ok_or_else(|| "not an id".to_owned()),
        other => Err(format!(
            "expected a hex string or bytes, found {}",
            describe(other)
        )),
    }
}

fn number(field: &Field) -> Result<Option<f64>, String> {
    #[allow(clippy::cast_precision_loss)]
    match field {
        Field::Null => Ok(None),
        Field::Byte(v) => Ok(Some(f64::from(*v))),
        Field::Short(v) => Ok(Some(f64::from(*v))),
        Field::Int(v) => Ok(Some(f64::from(*v))),
        Field::Long(v) => Ok(Some(*v as f64)),
        Field::UByte(v) => Ok(Some(f64::from(*v))),
        Field::UShort(v) => Ok(Some(f64::from(*v))),
        Field::UInt(v) => Ok(Some(f64::from(*v))),
        Field::ULong(v) => Ok(Some(*v as f64)),
        Field::Float(v) => Ok(Some(f64::from(*v))),
        Field::Double(v) => Ok(Some(*v)),
        Field::Bool(v) => Ok(Some(if *v { 1.0 } else { 0.0 })),
        other => Err(format!("expected a number, found {}", describe(other))),
    }
}

/// Seconds, milliseconds, microseconds or nanoseconds since the epoch, told apart by magnitude
/// (any time after 1973 in the unit chosen).
#[allow(clippy::cast_possible_truncation)]
fn epoch_to_nanos(value: f64) -> i64 {
    let scale = match value.abs() {
        v if v >= 1e17 => 1.0,
        v if v >= 1e14 => 1e3,
        v if v >= 1e11 => 1e6,
        _ => 1e9,
    };
    (value * scale).round() as i64
}

fn timestamp(field: &Field) -> Result<Option<Timestamp>, String> {
    match field {
        Field::TimestampMicros(v) => Ok(Some(Timestamp(v.saturating_mul(1_000)))),
        Field::TimestampMillis(v) => Ok(Some(Timestamp(v.saturating_mul(1_000_000)))),
        other => Ok(number(other)?
            .filter(|v| v.is_finite())
            .map(|v| Timestamp(epoch_to_nanos(v)))),
    }
}

fn text(field: &Field) -> Result<Option<String>, String> {
    match field {
        Field::Null => Ok(None),
        Field::Str(text) => Ok(Some(text.clone())),
        Field::Bytes(bytes) => std::str::from_utf8(bytes.data())
            .map(|t| Some(t.to_owned()))
            .map_err(|_| "not UTF-8 text".to_owned()),
        other => Err(format!("expected a string, found {}", describe(other))),
    }
}

fn kind(field: &Field) -> Result<SpanKind, String> {
    Ok(
        match text(field)?
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "server" | "span_kind_server" => SpanKind::Server,
            "client" | "span_kind_client" => SpanKind::Client,
            "producer" | "span_kind_producer" => SpanKind::Producer,
            "consumer" | "span_kind_consumer" => SpanKind::Consumer,
            "internal" | "span_kind_internal" => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    )
}

fn set(values: &mut RowValues, column: &str, field: &Field) -> Result<(), String> {
    match column {
        "trace_id" => {
            values.trace_id = hex_or_bytes(field, TraceId::from_hex, TraceId::from_bytes)?
        }
        "span_id" => values.span_id = hex_or_bytes(field, SpanId::from_hex, SpanId::from_bytes)?,
        "parent_span_id" => {
            values.parent = hex_or_bytes(field, SpanId::from_hex, SpanId::from_bytes)?
                .filter(|id| id.0 != [0; 8]);
        }
        "span_name" => values.name = text(field)?,
        "primary_service" => values.service = text(field)?,
        "start_time" => values.start = timestamp(field)?,
        "duration" => values.duration_us = number(field)?,
        "status_code" | "http_status" => {
            #[allow(clippy::cast_possible_truncation)]
            let status = number(field)?.map(|v| v as i64);
            values.status = values.status.or(status);
        }
        "error" | "is_error" => values.error |= number(field)?.is_some_and(|v| v != 0.0),
        "span_kind" => values.kind = kind(field)?,
        _ => {}
    }
    Ok(())
}

fn span(values: RowValues) -> Result<Span, (&'static str, String)> {
    let missing = |column: &'static str| (column, "null".to_owned());
    let start = values.start.ok_or_else(|| missing("start_time"))?;
    let duration_us = values.duration_us.ok_or_else(|| missing("duration"))?;
    if !duration_us.is_finite() || duration_us < 0.0 {
        return Err(("duration", format!("{duration_us} is not a duration")));
    }
    #[allow(clippy::cast_possible_truncation)]
    let end = Timestamp(start.0.saturating_add((duration_us * 1e3).round() as i64));
    let mut attributes = Vec::new();
    if let Some(status) = values.status {
        attributes.push(("http.status_code".to_owned(), AttributeValue::Int(status)));
    }
    Ok(Span {
        trace_id: values.trace_id.ok_or_else(|| missing("trace_id"))?,
        span_id: values.span_id.ok_or_else(|| missing("span_id"))?,
        parent_span_id: values.parent,
        name: values.name.ok_or_else(|| missing("span_name"))?,
        kind: values.kind,
        service: values.service.ok_or_else(|| missing("primary_service"))?,
        start,
        end,
        attributes,
        resource: Vec::new(),
        status: SpanStatus {
            code: if values.error {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            message: String::new(),
        },
    })
}

/// Reads the spans of a Parquet trace table.
///
/// # Errors
/// [`TableError::MissingColumn`] naming the first required column absent, [`TableError::Cell`]
/// for a cell of the wrong type, [`TableError::File`] for anything else.
pub fn read_spans(path: &Path) -> Result<Vec<Span>, TableError> {
    let fail = file_error(path);
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let reader =
        SerializedFileReader::new(file).map_err(|e| fail(format!("not a Parquet file ({e})")))?;
    let columns: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    if let Some(column) = REQUIRED_COLUMNS
        .iter()
        .find(|c| !columns.iter().any(|name| name == *c))
    {
        return Err(TableError::MissingColumn {
            path: path.to_owned(),
            column: (*column).to_owned(),
        });
    }
    let mut spans = Vec::new();
    for (row_number, row) in reader
        .get_row_iter(None)
        .map_err(|e| fail(e.to_string()))?
        .enumerate()
    {
        let row = row.map_err(|e| fail(format!("row {row_number}: {e}")))?;
        let mut values = RowValues::default();
        for (column, field) in row.get_column_iter() {
            set(&mut values, column, field).map_err(|message| TableError::Cell {
                path: path.to_owned(),
                row: row_number,
                column: column.clone(),
                message,
            })?;
        }
        spans.push(span(values).map_err(|(column, message)| TableError::Cell {
            path: path.to_owned(),
            row: row_number,
            column: column.to_owned(),
            message,
        })?);
    }
    Ok(spans)
}

/// The file name of a trace table inside an input directory.
pub const TRACES_PARQUET: &str = "traces.parquet";

/// Reads a trace table into a dataset: `path` is a `.parquet` file, or a directory holding
/// `traces.parquet` (its `logs.json`, `graph.json` and `labels.json`, if any, are read too).
/// `None` when `path` is neither.
///
/// # Errors
/// See [`read_spans`]; errors of the directory's other files, as text naming the file.
pub fn read_input(path: &Path) -> Option<Result<Dataset, String>> {
    let (table, dir) = if path.is_file() {
        (path.to_owned(), None)
    } else if path.join(TRACES_PARQUET).is_file() {
        (path.join(TRACES_PARQUET), Some(path))
    } else {
        return None;
    };
    Some(read_table_dir(&table, dir))
}

fn read_table_dir(table: &Path, dir: Option<&Path>) -> Result<Dataset, String> {
    let spans = read_spans(table).map_err(|e| e.to_string())?;
    let mut dataset = match dir {
        Some(dir)
            if [crate::input_dir::LOGS_FILE, crate::input_dir::METRICS_FILE]
                .iter()
                .any(|f| dir.join(f).exists()) =>
        {
            crate::input_dir::read_dir(dir).map_err(|e| e.to_string())?
        }
        Some(dir) => {
            let mut dataset = Dataset::default();
            let labels = dir.join(crate::input_dir::LABELS_FILE);
            if labels.is_file() {
                let bytes =
                    std::fs::read(&labels).map_err(|e| format!("{}: {e}", labels.display()))?;
                dataset.ground_truth = Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{}: {e}", labels.display()))?,
                );
            }
            dataset
        }
        None => Dataset::default(),
    };
    dataset.spans = spans;
    Ok(dataset)
}

fn hex_column(values: impl Iterator<Item = Option<String>>) -> (Vec<ByteArray>, Vec<i16>) {
    let mut out = Vec::new();
    let mut levels = Vec::new();
    for value in values {
        match value {
            Some(text) => {
                out.push(ByteArray::from(text.into_bytes()));
                levels.push(1);
            }
            None => levels.push(0),
        }
    }
    (out, levels)
}

/// Writes spans as a trace table (the required columns plus `status_code`, `error` and
/// `span_kind`), uncompressed, in one row group.
///
/// # Errors
/// [`TableError::File`] when the file cannot be written.
pub fn write_spans(path: &Path, spans: &[Span]) -> Result<(), TableError> {
    let fail = file_error(path);
    let schema = ::parquet::schema::parser::parse_message_type(
        "message trace_table {
            REQUIRED BYTE_ARRAY trace_id (UTF8);
            REQUIRED BYTE_ARRAY span_id (UTF8);
            OPTIONAL BYTE_ARRAY parent_span_id (UTF8);
            REQUIRED BYTE_ARRAY span_name (UTF8);
            REQUIRED BYTE_ARRAY primary_service (UTF8);
            REQUIRED INT64 start_time (TIMESTAMP(MICROS, true));
            REQUIRED INT64 duration;
            OPTIONAL INT64 status_code;
            REQUIRED INT64 error;
            REQUIRED BYTE_ARRAY span_kind (UTF8);
        }",
    )
    .map_err(|e| fail(e.to_string()))?;
    write_table(path, Arc::new(schema), spans).map_err(|e| fail(e.to_string()))
}

fn write_table(
    path: &Path,
    schema: Arc<Type>,
    spans: &[Span],
) -> Result<(), ::parquet::errors::ParquetError> {
    let temp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&temp)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .build();
    let mut writer = SerializedFileWriter::new(file, schema.clone(), Arc::new(properties))?;
    let mut group = writer.next_row_group()?;
    let mut index = 0;
    while let Some(mut column) = group.next_column()? {
        let field = &schema.get_fields()[index];
        let optional = field.get_basic_info().repetition() == Repetition::OPTIONAL;
        let name = field.name();
        index += 1;
        let strings: Option<Vec<Option<String>>> = match name {
            "trace_id" => Some(spans.iter().map(|s| Some(s.trace_id.to_hex())).collect()),
            "span_id" => Some(spans.iter().map(|s| Some(s.span_id.to_hex())).collect()),
            "parent_span_id" => Some(
                spans
                    .iter()
                    .map(|s| s.parent_span_id.map(|p| p.to_hex()))
                    .collect(),
            ),
            "span_name" => Some(spans.iter().map(|s| Some(s.name.clone())).collect()),
            "primary_service" => Some(spans.iter().map(|s| Some(s.service.clone())).collect()),
            "span_kind" => Some(
                spans
                    .iter()
                    .map(|s| Some(format!("{:?}", s.kind).to_ascii_lowercase()))
                    .collect(),
            ),
            _ => None,
        };
        if let Some(strings) = strings {
            let (values, levels) = hex_column(strings.into_iter());
            column.typed::<ByteArrayType>().write_batch(
                &values,
                optional.then_some(levels.as_slice()),
                None,
            )?;
        } else {
            let numbers: Vec<Option<i64>> = match name {
                "start_time" => spans.iter().map(|s| Some(s.start.0 / 1_000)).collect(),
                "duration" => spans
                    .iter()
                    .map(|s| Some(s.end.0.saturating_sub(s.start.0) / 1_000))
                    .collect(),
                "status_code" => spans
                    .iter()
                    .map(|s| s.http_status().map(i64::from))
                    .collect(),
                _ => spans
                    .iter()
                    .map(|s| Some(i64::from(s.status.code == StatusCode::Error)))
                    .collect(),
            };
            let levels: Vec<i16> = numbers.iter().map(|v| i16::from(v.is_some())).collect();
            let values: Vec<i64> = numbers.into_iter().flatten().collect();
            column.typed::<Int64Type>().write_batch(
                &values,
                optional.then_some(levels.as_slice()),
                None,
            )?;
        }
        column.close()?;
    }
    group.close()?;
    writer.close()?;
    std::fs::rename(&temp, path)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spans() -> Vec<Span> {
        let trace = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        let root = SpanId::from_hex("b7ad6b7169203331").unwrap();
        let child = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let start = Timestamp(1_700_000_000_123_456_000);
        vec![
            Span {
                trace_id: trace,
                span_id: root,
                parent_span_id: None,
                name: "GET /orders".into(),
                kind: SpanKind::Server,
                service: "front-end".into(),
                start,
                end: Timestamp(start.0 + 12_345_000),
                attributes: vec![("http.status_code".into(), AttributeValue::Int(500))],
                resource: Vec::new(),
                status: SpanStatus {
                    code: StatusCode::Error,
                    message: String::new(),
                },
            },
            Span {
                trace_id: trace,
                span_id: child,
                parent_span_id: Some(root),
                name: "orders.create".into(),
                kind: SpanKind::Client,
                service: "orders".into(),
                start: Timestamp(start.0 + 1_000_000),
                end: Timestamp(start.0 + 9_000_000),
                attributes: Vec::new(),
                resource: Vec::new(),
                status: SpanStatus::default(),
            },
        ]
    }

    #[test]
    fn a_written_table_reads_back_to_the_same_spans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let original = spans();
        write_spans(&path, &original).unwrap();
        let read = read_spans(&path).unwrap();
        assert_eq!(read, original);
        let graphs = crate::traces_gnn::graph::build_graphs(&read);
        assert_eq!(graphs.len(), 1);
        assert_eq!(graphs[0].nodes.len(), 2);
        assert_eq!(graphs[0].edges.len(), 1);
        // A directory holding traces.parquet (and labels-free) reads the same spans.
        std::fs::rename(&path, dir.path().join(TRACES_PARQUET)).unwrap();
        let dataset = read_input(dir.path()).unwrap().unwrap();
        assert_eq!(dataset.spans, original);
        assert!(read_input(&dir.path().join("nothing")).is_none());
    }

    fn write_raw(path: &Path, message: &str, columns: &[Vec<ByteArray>]) {
        let schema = Arc::new(::parquet::schema::parser::parse_message_type(message).unwrap());
        let file = std::fs::File::create(path).unwrap();
        let mut writer =
            SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::default())).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let mut i = 0;
        while let Some(mut column) = group.next_column().unwrap() {
            column
                .typed::<ByteArrayType>()
                .write_batch(&columns[i], None, None)
                .unwrap();
            column.close().unwrap();
            i += 1;
        }
        group.close().unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn missing_columns_and_bad_cells_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        let cell = |text: &str| vec![ByteArray::from(text.as_bytes().to_vec())];
        write_raw(
            &path,
            "message m { REQUIRED BYTE_ARRAY trace_id (UTF8); REQUIRED BYTE_ARRAY span_id (UTF8); }",
            &[cell("ab"), cell("cd")],
        );
        let error = read_spans(&path).unwrap_err().to_string();
        assert!(error.contains("no column `parent_span_id`"), "{error}");
        assert!(error.contains("bad.parquet"), "{error}");

        // All columns present, but start_time holds text.
        let all = "message m { REQUIRED BYTE_ARRAY trace_id (UTF8); \
                   REQUIRED BYTE_ARRAY span_id (UTF8); REQUIRED BYTE_ARRAY parent_span_id (UTF8); \
                   REQUIRED BYTE_ARRAY span_name (UTF8); REQUIRED BYTE_ARRAY primary_service (UTF8); \
                   REQUIRED BYTE_ARRAY start_time (UTF8); REQUIRED BYTE_ARRAY duration (UTF8); }";
        let columns = [
            cell("0af7651916cd43dd8448eb211c80319c"),
            cell("b7ad6b7169203331"),
            cell(""),
            cell("GET /"),
            cell("front-end"),
            cell("yesterday"),
            cell("5"),
        ];
        write_raw(&path, all, &columns);
        let error = read_spans(&path).unwrap_err().to_string();
        assert!(
            error.contains("row 0, column `start_time`: expected a number, found Str"),
            "{error}"
        );

        std::fs::write(&path, b"not parquet at all").unwrap();
        let error = read_spans(&path).unwrap_err().to_string();
        assert!(error.contains("not a Parquet file"), "{error}");
    }

    #[test]
    fn epoch_units_are_told_apart_by_magnitude() {
        let nanos = 1_700_000_000_000_000_000_i64;
        #[allow(clippy::cast_precision_loss)]
        for value in [1.7e9, 1.7e12, 1.7e15, nanos as f64] {
            assert_eq!(epoch_to_nanos(value), nanos, "{value}");
        }
    }
}
