//! Writing a [`Dataset`] as an offline telemetry directory.
//!
//! Invariant: each file is replaced atomically (written to a temporary name in the same
//! directory, synced, then renamed), no temporary file survives a failure, and the written
//! directory reads back to the same dataset with [`super::read_dir`].

use super::{
    GRAPH_FILE, InputDirError, LABELS_FILE, LOGS_FILE, METRICS_FILE, TRACES_FILE, io_error,
};
use crate::model::{Dataset, Trace};
use crate::wire::kiali::encode_simple_graph;
use crate::wire::loki::{Direction, encode_streams};
use crate::wire::otlp::encode_tempo_v1;
use crate::wire::prometheus::encode_matrix;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes `dataset` into `path` (created if missing): `traces.json` as JSON lines of Tempo v1
/// bodies (one `{"batches":[…]}` per trace), `logs.json` as one Loki streams response
/// (forward), `metrics.json` as one Prometheus matrix response, `graph.json` (simple form) and
/// `labels.json` when present. The three telemetry files are always written (possibly empty),
/// and a stale `graph.json`/`labels.json` is removed when the dataset has none, so the
/// directory reads back to the same dataset. Each file is written to a temporary name and
/// renamed into place.
///
/// # Errors
/// I/O and serialization errors naming the file.
pub fn write_dir(path: &Path, dataset: &Dataset) -> Result<(), InputDirError> {
    fs::create_dir_all(path).map_err(io_error(path))?;
    write_atomic(&path.join(TRACES_FILE), |out, file| {
        for trace in Trace::group(dataset.spans.clone()) {
            serde_json::to_writer(&mut *out, &encode_tempo_v1(&trace.spans))
                .map_err(encode_error(file))?;
            out.write_all(b"\n").map_err(io_error(file))?;
        }
        Ok(())
    })?;
    write_atomic(&path.join(LOGS_FILE), |out, file| {
        serde_json::to_writer(
            &mut *out,
            &encode_streams(&dataset.logs, Direction::Forward),
        )
        .map_err(encode_error(file))
    })?;
    write_atomic(&path.join(METRICS_FILE), |out, file| {
        serde_json::to_writer(&mut *out, &encode_matrix(&dataset.series))
            .map_err(encode_error(file))
    })?;
    match &dataset.graph {
        Some(graph) => write_atomic(&path.join(GRAPH_FILE), |out, file| {
            serde_json::to_writer_pretty(&mut *out, &encode_simple_graph(graph))
                .map_err(encode_error(file))
        })?,
        None => remove_if_present(&path.join(GRAPH_FILE))?,
    }
    match &dataset.ground_truth {
        Some(truth) => write_atomic(&path.join(LABELS_FILE), |out, file| {
            serde_json::to_writer_pretty(&mut *out, truth).map_err(encode_error(file))
        })?,
        None => remove_if_present(&path.join(LABELS_FILE))?,
    }
    Ok(())
}

fn encode_error(file: &Path) -> impl FnOnce(serde_json::Error) -> InputDirError + '_ {
    move |source| InputDirError::Encode {
        path: file.to_owned(),
        source,
    }
}

fn remove_if_present(file: &Path) -> Result<(), InputDirError> {
    match fs::remove_file(file) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(file)(error)),
        _ => Ok(()),
    }
}

/// Writes through a buffered temporary file next to `file`, then renames it over `file`. The
/// temporary file is removed when anything fails.
fn write_atomic(
    file: &Path,
    write: impl FnOnce(&mut BufWriter<File>, &Path) -> Result<(), InputDirError>,
) -> Result<(), InputDirError> {
    let name = file
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let temp = file.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let handle = File::create(&temp).map_err(io_error(&temp))?;
        let mut out = BufWriter::new(handle);
        write(&mut out, file)?;
        let handle = out
            .into_inner()
            .map_err(|error| io_error(file)(error.into_error()))?;
        handle.sync_all().map_err(io_error(file))?;
        fs::rename(&temp, file).map_err(io_error(file))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn failed_writes_leave_no_temp_file_and_keep_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(LOGS_FILE);
        fs::write(&file, "old").unwrap();
        let result = write_atomic(&file, |out, file| {
            out.write_all(b"partial").map_err(io_error(file))?;
            Err(InputDirError::Content {
                path: file.to_owned(),
                message: "boom".into(),
            })
        });
        assert!(result.is_err());
        assert_eq!(fs::read_to_string(&file).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let blocked = dir.path().join("missing-dir").join(LOGS_FILE);
        assert!(matches!(
            write_atomic(&blocked, |_, _| Ok(())),
            Err(InputDirError::Io { .. })
        ));
    }
}
