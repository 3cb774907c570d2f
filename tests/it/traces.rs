use crate::support::ok;
use std::path::Path;
use std::process::Command;

fn baynet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baynet"))
        .args(args)
        .output()
        .unwrap()
}

fn sim(out: &Path, fault: &[&str], seed: &str) {
    let mut args = vec!["sim", "run"];
    args.extend_from_slice(fault);
    args.extend_from_slice(&[
        "--seed",
        seed,
        "--load",
        "4",
        "--trace-sampling",
        "1",
        "--baseline",
        "1m",
        "--fault-duration",
        "1m",
        "--recovery",
        "30s",
        "--out",
    ]);
    args.push(out.to_str().unwrap());
    ok(&baynet(&args));
}

/// Train on a Parquet table exported from a simulated run, evaluate an IO fault with both
/// labels: the fault-acted label is a strict subset of the touch label (only the failed reads).
#[test]
fn train_on_parquet_and_evaluate_with_both_labels() {
    let root = tempfile::tempdir().unwrap();
    let normal = root.path().join("normal");
    let test = root.path().join("test");
    let fault = root.path().join("io");
    sim(&normal, &["--no-fault"], "3");
    sim(&test, &["--no-fault"], "4");
    sim(
        &fault,
        &["--fault", "io-fault", "--target", "catalogue-db"],
        "5",
    );
    let table = root.path().join("normal.parquet");
    let exported = ok(&baynet(&[
        "traces",
        "export-parquet",
        "--input",
        normal.to_str().unwrap(),
        "--out",
        table.to_str().unwrap(),
    ]));
    assert!(exported.contains("spans written"), "{exported}");
    let model = root.path().join("model");
    ok(&baynet(&[
        "traces",
        "train",
        "--input",
        table.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "2",
        "--json",
    ]));
    let run_evaluate = |label: &str| {
        baynet(&[
            "traces",
            "evaluate",
            "--model",
            model.to_str().unwrap(),
            "--normal",
            test.to_str().unwrap(),
            "--abnormal",
            fault.to_str().unwrap(),
            "--label",
            label,
            "--json",
        ])
    };
    let evaluate = |label: &str| -> serde_json::Value {
        serde_json::from_str(&ok(&run_evaluate(label))).unwrap()
    };
    let acted = evaluate("acted");
    let touch = evaluate("touch");
    assert_eq!(acted["runs"][0]["label"], "acted");
    assert_eq!(touch["runs"][0]["label"], "touch");
    let count = |v: &serde_json::Value| v["overall"]["abnormal"].as_u64().unwrap();
    assert!(count(&acted) > 0);
    assert!(
        count(&acted) < count(&touch),
        "acted {} vs touch {}",
        count(&acted),
        count(&touch)
    );
    let bad = run_evaluate("guess");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--label must be acted or touch"));
}

/// A file that is not Parquet is refused, naming the file (missing columns: unit tests).
#[test]
fn a_file_that_is_not_parquet_is_refused_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("bad.parquet");
    std::fs::write(&path, b"PAR1 not really").unwrap();
    let out = baynet(&[
        "traces",
        "train",
        "--input",
        path.to_str().unwrap(),
        "--out",
        root.path().join("m").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.parquet") && stderr.contains("not a Parquet file"),
        "{stderr}"
    );
}
