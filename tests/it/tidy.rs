//! Architecture rules as a test: the pure core never imports I/O, async runtimes, the terminal
//! or the clock.
use std::path::Path;

/// Pure modules, each as `src/x.rs` plus `src/x/`. (`scenario::load` is the one sanctioned file
/// read, so `scenario.rs` is not listed.)
const PURE: [&str; 15] = [
    "src/model",
    "src/bayes",
    "src/wire",
    "src/sim",
    "src/detect",
    "src/knowledge/record",
    "src/knowledge/signature",
    "src/knowledge/vectors",
    "src/knowledge/draft",
    "src/knowledge/retrieval",
    "src/knowledge/sparse",
    "src/knowledge/terms",
    "src/knowledge/qdrant/wire",
    "src/source/query",
    "src/live/recording",
];
const FORBIDDEN: [&str; 9] = [
    "std::fs",
    "std::net",
    "tokio",
    "reqwest",
    "axum",
    "ratatui",
    "crossterm",
    "SystemTime",
    "Instant::now",
];

fn rust_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn the_pure_core_does_no_io_and_reads_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for module in PURE {
        let path = root.join(module);
        rust_files(&path, &mut files);
        rust_files(&path.with_extension("rs"), &mut files);
    }
    files.sort();
    files.dedup();
    assert!(files.len() > 20, "found {} files", files.len());
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut in_tests = false;
        for (number, line) in text.lines().enumerate() {
            if line.starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if !in_tests && code.contains(word) {
                    offences.push(format!(
                        "{}:{}: uses `{word}`: {}",
                        file.strip_prefix(root).unwrap().display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "I/O in the pure core:\n{}",
        offences.join("\n")
    );
}
