//! `baynet traces …`: train the learned trace anomaly model (GAT autoencoder) on normal traces
//! and evaluate it against labelled abnormal runs.

use anyhow::{Context, bail};
use baynet::model::{Dataset, FaultClass};
use baynet::traces_gnn::features::FeatureSpace;
use baynet::traces_gnn::graph::TraceGraph;
use baynet::traces_gnn::metrics::{Report, quantile, roc_curve};
use baynet::traces_gnn::model::{AdamSettings, ModelConfig};
use baynet::traces_gnn::store::{self, FORMAT, ModelMeta, TrainingMeta};
use baynet::traces_gnn::templates::TemplateMiner;
use baynet::traces_gnn::train::{Aggregation, GraphScore, Trainer, score_graphs};
use baynet::traces_gnn::{encode, plot, score_traces, trace_graphs};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Train the trace autoencoder on normal traces (resumes from MODEL_DIR's checkpoint).
    Train(TrainArgs),
    /// Score normal and abnormal directories: ROC/PR AUC, precision, recall, F1, specificity,
    /// confusion matrix, per fault class; writes ROC and score-distribution PNGs.
    Evaluate(EvaluateArgs),
    /// Write the spans of an input directory as a Parquet trace table (the columns `--input`
    /// reads: trace_id, span_id, parent_span_id, span_name, primary_service, start_time,
    /// duration, status_code, error, span_kind).
    ExportParquet(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Offline input directory (traces.json).
    #[arg(long)]
    input: PathBuf,
    /// Parquet file to write (e.g. DIR/traces.parquet).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Offline input directories of normal operation (e.g. `baynet sim run --no-fault`), or
    /// Parquet trace tables (a `.parquet` file, or a directory holding `traces.parquet`; see
    /// `traces export-parquet` for the columns).
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Model directory to write (model.json, model.safetensors, checkpoints).
    #[arg(long)]
    out: PathBuf,
    /// Training epochs (in total, counting those of a resumed checkpoint).
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Latent dimension per span.
    #[arg(long, default_value_t = 8)]
    latent_dim: usize,
    /// Traces per mini-batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Hidden width per attention head.
    #[arg(long, default_value_t = 16)]
    hidden: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Weight of the Deep SVDD term (0 = plain autoencoder).
    #[arg(long, default_value_t = 0.0)]
    svdd_weight: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 1e-4)]
    weight_decay: f64,
    /// Quantile of the training scores used as the threshold.
    #[arg(long, default_value_t = 0.995)]
    threshold_quantile: f64,
    /// Use at most this many traces (the earliest).
    #[arg(long)]
    max_traces: Option<usize>,
    /// Initialisation and shuffling seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ignore an existing checkpoint and start again.
    #[arg(long)]
    restart: bool,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model directory written by `baynet traces train`.
    #[arg(long)]
    model: PathBuf,
    /// Directories of normal operation (held out from training).
    #[arg(long, required = true, num_args = 1..)]
    normal: Vec<PathBuf>,
    /// Directories with a fault. With the simulator's labels.json, the abnormal traces are
    /// those starting during the fault that touch the faulty service (or, for a service no span
    /// shows, one of its callers); without labels, every trace.
    #[arg(long, required = true, num_args = 1..)]
    abnormal: Vec<PathBuf>,
    /// Which traces of an abnormal run count as abnormal: `acted` = those the simulator marks
    /// as changed by the fault (`acted_traces` in labels.json; runs without it
    /// fall back to `touch`), `touch` = those starting during the fault that touch the faulty
    /// service (or, for a service no span shows, one of its callers).
    #[arg(long, default_value = "acted")]
    label: String,
    /// How span errors become a trace score.
    #[arg(long, default_value = "max")]
    aggregation: String,
    /// Threshold for the confusion matrix (default: the model's, from the training scores).
    #[arg(long)]
    threshold: Option<f64>,
    /// Directory for roc.png and scores.png (default: MODEL_DIR/evaluation).
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(command: TracesCommand) -> anyhow::Result<()> {
    match command {
        TracesCommand::Train(args) => train(&args),
        TracesCommand::Evaluate(args) => evaluate(&args),
        TracesCommand::ExportParquet(args) => {
            let dataset = read(&args.input)?;
            baynet::traces_gnn::tables::write_spans(&args.out, &dataset.spans)?;
            println!(
                "{} spans written to {}",
                dataset.spans.len(),
                args.out.display()
            );
            Ok(())
        }
    }
}

/// An input directory, or a Parquet trace table (file, or directory with `traces.parquet`).
fn read(dir: &Path) -> anyhow::Result<Dataset> {
    let dataset = match baynet::traces_gnn::tables::read_input(dir) {
        Some(table) => table.map_err(anyhow::Error::msg)?,
        None => baynet::input_dir::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?,
    };
    if dataset.spans.is_empty() {
        bail!("{} holds no traces (traces.json)", dir.display());
    }
    Ok(dataset)
}

/// Progress on stderr: a redrawn line on a terminal, a line per epoch otherwise.
struct Progress {
    terminal: bool,
    last: Instant,
    started: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: Instant::now(),
            started: Instant::now(),
        }
    }

    fn batch(&mut self, epoch: usize, epochs: usize, done: usize, total: usize, loss: f64) {
        if !self.terminal || (self.last.elapsed() < Duration::from_millis(200) && done < total) {
            return;
        }
        self.last = Instant::now();
        let width = 30;
        let filled = done * width / total.max(1);
        let elapsed = self.started.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let eta = elapsed / done.max(1) as f64 * (total - done) as f64;
        let _ = write!(
            std::io::stderr(),
            "\repoch {epoch}/{epochs} [{}{}] {done}/{total} batches  loss {loss:.4}  eta {eta:.0}s   ",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
    }

    fn epoch(&mut self, epoch: usize, epochs: usize, loss: f64, took: Duration) {
        let prefix = if self.terminal { "\r" } else { "" };
        eprintln!(
            "{prefix}epoch {epoch}/{epochs}: loss {loss:.5} ({:.1} s){}",
            took.as_secs_f64(),
            " ".repeat(40)
        );
        self.started = Instant::now();
    }
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    if args.epochs == 0
        || args.batch_size == 0
        || args.latent_dim == 0
        || args.hidden == 0
        || args.heads == 0
    {
        bail!("--epochs, --batch-size, --latent-dim, --hidden and --heads must be positive");
    }
    if !(args.lr > 0.0 && args.lr < 1.0) {
        bail!("--lr must be between 0 and 1");
    }
    if !(0.5..1.0).contains(&args.threshold_quantile) {
        bail!("--threshold-quantile must be in [0.5, 1)");
    }
    let started = Instant::now();
    let checkpoint = if args.restart {
        None
    } else {
        store::load_checkpoint(&args.out)?
    };
    let datasets: Vec<Dataset> = args
        .input
        .iter()
        .map(|dir| read(dir))
        .collect::<anyhow::Result<_>>()?;
    let read_ms = started.elapsed().as_millis();
    // Templates: mine every joined line first, then attach with the frozen miner so that
    // training sees the final templates, as evaluation will.
    let miner_templates = match &checkpoint {
        Some((meta, _, _)) => meta.miner_templates.clone(),
        None => {
            let mut learning = TemplateMiner::learning();
            for dataset in &datasets {
                let _ = trace_graphs(&dataset.spans, &dataset.logs, &mut learning);
            }
            learning.templates()
        }
    };
    let mut frozen = TemplateMiner::from_templates(&miner_templates);
    let mut graphs: Vec<TraceGraph> = Vec::new();
    let mut joined = 0;
    for dataset in &datasets {
        let (g, j) = trace_graphs(&dataset.spans, &dataset.logs, &mut frozen);
        graphs.extend(g);
        joined += j;
    }
    drop(datasets);
    if let Some(limit) = args.max_traces {
        graphs.truncate(limit);
    }
    if graphs.is_empty() {
        bail!("no traces to train on");
    }
    let spans: usize = graphs.iter().map(|g| g.nodes.len()).sum();
    let (features, config, mut trainer, mut training) = match checkpoint {
        Some((meta, params, adam)) => {
            let wanted = ModelConfig {
                input_dim: meta.model.input_dim,
                hidden: args.hidden,
                heads: args.heads,
                latent: args.latent_dim,
                svdd_weight: args.svdd_weight,
            };
            if wanted != meta.model {
                bail!(
                    "{} holds a checkpoint of another shape ({:?}); pass the same options or --restart",
                    args.out.display(),
                    meta.model
                );
            }
            eprintln!(
                "resuming from the checkpoint after epoch {}",
                meta.training.epochs_done
            );
            let mut trainer = Trainer::new(meta.model, meta.training.adam, meta.training.seed)
                .map_err(anyhow::Error::msg)?;
            trainer.params = params;
            trainer.adam = adam;
            trainer.center = meta.center.clone();
            trainer.history = meta.training.history.clone();
            (meta.features, meta.model, trainer, meta.training)
        }
        None => {
            let features = FeatureSpace::fit(&graphs, 256, 48);
            let config = ModelConfig {
                input_dim: features.dim(),
                hidden: args.hidden,
                heads: args.heads,
                latent: args.latent_dim,
                svdd_weight: args.svdd_weight,
            };
            let adam = AdamSettings {
                lr: args.lr,
                weight_decay: args.weight_decay,
                ..AdamSettings::default()
            };
            let trainer = Trainer::new(config, adam, args.seed).map_err(anyhow::Error::msg)?;
            let training = TrainingMeta {
                traces: graphs.len(),
                epochs_done: 0,
                batch_size: args.batch_size,
                adam,
                adam_step: 0,
                seed: args.seed,
                history: Vec::new(),
                joined_log_records: joined,
            };
            (features, config, trainer, training)
        }
    };
    let data = encode(&features, &graphs);
    let prepare_ms = started.elapsed().as_millis() - read_ms;
    eprintln!(
        "{} traces, {spans} spans, {joined} log records joined to spans, {} features, {} parameters",
        graphs.len(),
        features.dim(),
        trainer.params.count()
    );
    trainer
        .init_center(&data, args.batch_size)
        .map_err(anyhow::Error::msg)?;
    let meta_for = |trainer: &Trainer, training: &TrainingMeta| ModelMeta {
        format: FORMAT,
        model: config,
        features: features.clone(),
        miner_templates: miner_templates.clone(),
        center: trainer.center.clone(),
        training: TrainingMeta {
            adam_step: trainer.adam.step,
            history: trainer.history.clone(),
            epochs_done: trainer.history.len(),
            ..training.clone()
        },
        threshold_quantile: args.threshold_quantile,
        thresholds: BTreeMap::new(),
        train_quantiles: BTreeMap::new(),
    };
    let mut progress = Progress::new();
    let train_started = Instant::now();
    let mut epoch_seconds = Vec::new();
    while trainer.history.len() < args.epochs {
        let epoch = trainer.history.len() + 1;
        let epoch_started = Instant::now();
        let loss = trainer
            .epoch(&data, training.batch_size, &mut |done, total, loss| {
                progress.batch(epoch, args.epochs, done, total, loss)
            })
            .map_err(anyhow::Error::msg)?;
        epoch_seconds.push(epoch_started.elapsed().as_secs_f64());
        progress.epoch(epoch, args.epochs, loss, epoch_started.elapsed());
        store::save_checkpoint(
            &args.out,
            &meta_for(&trainer, &training),
            &trainer.params,
            &trainer.adam,
        )?;
    }
    let train_ms = train_started.elapsed().as_millis();
    training.epochs_done = trainer.history.len();
    let scores = score_graphs(
        &trainer.params,
        &config,
        trainer.center.as_deref(),
        &data,
        256,
    )
    .map_err(anyhow::Error::msg)?;
    let mut meta = meta_for(&trainer, &training);
    for aggregation in Aggregation::ALL {
        let values: Vec<f64> = scores
            .iter()
            .map(|s| s.score(aggregation, config.svdd_weight))
            .collect();
        let quantiles: Vec<(f64, f64)> = [0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0]
            .iter()
            .filter_map(|&q| quantile(&values, q).map(|v| (q, v)))
            .collect();
        if let Some(threshold) = quantile(&values, args.threshold_quantile) {
            meta.thresholds.insert(aggregation, threshold);
        }
        meta.train_quantiles.insert(aggregation, quantiles);
    }
    store::save_model(&args.out, &meta, &trainer.params)?;
    let summary = serde_json::json!({
        "out": args.out.display().to_string(),
        "traces": graphs.len(),
        "spans": spans,
        "joined_log_records": joined,
        "features": features.dim(),
        "parameters": trainer.params.count(),
        "epochs": trainer.history.len(),
        "loss": trainer.history,
        "epoch_seconds": epoch_seconds,
        "thresholds": meta.thresholds,
        "read_ms": read_ms,
        "prepare_ms": prepare_ms,
        "train_ms": train_ms,
        "total_ms": started.elapsed().as_millis(),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "trained on {} traces ({spans} spans) in {:.1} s; model in {}; threshold (max, q{}) {:.4}",
            graphs.len(),
            started.elapsed().as_secs_f64(),
            args.out.display(),
            args.threshold_quantile,
            meta.thresholds
                .get(&Aggregation::Max)
                .copied()
                .unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// The traces of an abnormal directory that count as abnormal (see `--label`); the bool is
/// true when the simulator's `fault_acted` marks were used.
fn abnormal_selection(
    dataset: &Dataset,
    graphs: &[TraceGraph],
    acted: bool,
) -> (Option<FaultClass>, Vec<bool>, bool) {
    let Some(truth) = &dataset.ground_truth else {
        return (None, vec![true; graphs.len()], false);
    };
    if acted {
        let marked: std::collections::HashSet<_> = truth.acted_traces.iter().collect();
        if !marked.is_empty() {
            let selected = graphs
                .iter()
                .map(|g| marked.contains(&g.trace_id))
                .collect();
            return (Some(truth.fault_class), selected, true);
        }
    }
    let root = truth.root_cause.as_str();
    let visible = graphs.iter().any(|g| g.touches(root));
    let callers: Vec<String> = if visible {
        Vec::new()
    } else {
        dataset
            .graph
            .as_ref()
            .map(|g| g.callers(root).into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let selected = graphs
        .iter()
        .map(|g| {
            g.start >= truth.fault_start
                && g.start < truth.fault_end
                && (g.touches(root) || callers.iter().any(|c| g.touches(c)))
        })
        .collect();
    (Some(truth.fault_class), selected, false)
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    let aggregation: Aggregation = args.aggregation.parse().map_err(anyhow::Error::msg)?;
    let acted = match args.label.as_str() {
        "acted" => true,
        "touch" => false,
        other => bail!("--label must be acted or touch, not `{other}`"),
    };
    let (meta, params) = store::load_model(&args.model)?;
    let threshold = match args.threshold {
        Some(t) => t,
        None => *meta.thresholds.get(&aggregation).with_context(|| {
            format!(
                "{} has no threshold for {aggregation}; pass --threshold",
                args.model.display()
            )
        })?,
    };
    let score_dir = |dir: &Path| -> anyhow::Result<(Dataset, Vec<TraceGraph>, Vec<GraphScore>)> {
        let dataset = read(dir)?;
        let (graphs, scores) = score_traces(&meta, &params, &dataset.spans, &dataset.logs, 256)
            .map_err(anyhow::Error::msg)?;
        Ok((dataset, graphs, scores))
    };
    let value = |s: &GraphScore| s.score(aggregation, meta.model.svdd_weight);
    let mut normal: Vec<f64> = Vec::new();
    for dir in &args.normal {
        let (_, _, scores) = score_dir(dir)?;
        normal.extend(scores.iter().map(value));
    }
    let mut abnormal: Vec<f64> = Vec::new();
    let mut by_class: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut runs = Vec::new();
    for dir in &args.abnormal {
        let (dataset, graphs, scores) = score_dir(dir)?;
        let (class, selected, used_marks) = abnormal_selection(&dataset, &graphs, acted);
        let picked: Vec<f64> = scores
            .iter()
            .zip(&selected)
            .filter(|(_, s)| **s)
            .map(|(score, _)| value(score))
            .collect();
        let class_name = class.map_or_else(|| "unlabelled".to_owned(), |c| c.to_string());
        let run_report = Report::new(&normal, &picked, threshold);
        runs.push(serde_json::json!({
            "dir": dir.display().to_string(),
            "fault_class": class_name,
            "root_cause": dataset.ground_truth.as_ref().map(|t| t.root_cause.clone()),
            "traces": graphs.len(),
            "abnormal": picked.len(),
            "label": if used_marks { "acted" } else { "touch" },
            "roc_auc": run_report.roc_auc,
            "recall": run_report.recall,
        }));
        by_class.entry(class_name).or_default().extend(&picked);
        abnormal.extend(picked);
    }
    if normal.is_empty() || abnormal.is_empty() {
        bail!(
            "nothing to compare: {} normal and {} abnormal traces",
            normal.len(),
            abnormal.len()
        );
    }
    let overall = Report::new(&normal, &abnormal, threshold);
    let classes: BTreeMap<String, Report> = by_class
        .iter()
        .map(|(c, s)| (c.clone(), Report::new(&normal, s, threshold)))
        .collect();
    let plots = args
        .plots
        .clone()
        .unwrap_or_else(|| args.model.join("evaluation"));
    std::fs::create_dir_all(&plots).with_context(|| format!("creating {}", plots.display()))?;
    let mut series = vec![(
        "all".to_owned(),
        overall.roc_auc.unwrap_or(f64::NAN),
        roc_curve(&normal, &abnormal),
    )];
    for (class, scores) in &by_class {
        series.push((
            class.clone(),
            classes[class].roc_auc.unwrap_or(f64::NAN),
            roc_curve(&normal, scores),
        ));
    }
    let roc_path = plots.join("roc.png");
    let scores_path = plots.join("scores.png");
    std::fs::write(
        &roc_path,
        plot::roc_png(&format!("ROC, {aggregation} aggregation"), &series),
    )
    .with_context(|| format!("writing {}", roc_path.display()))?;
    std::fs::write(
        &scores_path,
        plot::distribution_png(
            &format!("SCORES, {aggregation} aggregation"),
            &normal,
            &abnormal,
            threshold,
        ),
    )
    .with_context(|| format!("writing {}", scores_path.display()))?;
    if args.json {
        let out = serde_json::json!({
            "model": args.model.display().to_string(),
            "aggregation": aggregation,
            "label": args.label,
            "threshold": threshold,
            "overall": overall,
            "classes": classes,
            "runs": runs,
            "plots": [roc_path.display().to_string(), scores_path.display().to_string()],
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let print_row = |name: &str, r: &Report| {
        println!(
            "{name:<26} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6}   tp {} fp {} tn {} fn {}",
            r.normal,
            r.abnormal,
            r.roc_auc.map_or("n/a".to_owned(), |v| format!("{v:.3}")),
            r.pr_auc.map_or("n/a".to_owned(), |v| format!("{v:.3}")),
            format!("{:.3}", r.precision),
            format!("{:.3}", r.recall),
            format!("{:.3}", r.f1),
            format!("{:.3}", r.specificity),
            r.confusion.true_positives,
            r.confusion.false_positives,
            r.confusion.true_negatives,
            r.confusion.false_negatives,
        );
    };
    println!(
        "aggregation {aggregation}, threshold {threshold:.4}, label {}",
        args.label
    );
    println!(
        "{:<26} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6}",
        "class", "normal", "abn.", "ROC AUC", "PR AUC", "prec.", "recall", "F1", "spec."
    );
    print_row("all", &overall);
    for (class, report) in &classes {
        print_row(class, report);
    }
    println!();
    print!(
        "{}",
        plot::roc_text(&roc_curve(&normal, &abnormal), overall.roc_auc, 60, 18)
    );
    println!();
    print!(
        "{}",
        plot::distribution_text(&normal, &abnormal, threshold, 16, 28)
    );
    println!("\nplots: {} {}", roc_path.display(), scores_path.display());
    Ok(())
}
