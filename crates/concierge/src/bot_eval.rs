//! `concierge bot eval`: intent recognition measured on CLINC150 (or any `text,category` CSV),
//! next to the reference figures of the project's Python baselines.
//!
//! On CLINC150, the hyperparameters (L2, feature dropout, whether unseen features count in the
//! norm, the out-of-scope score and its threshold; epochs and the weight of `oos_train` when
//! given several values) are chosen on `val` + `oos_val` only, by accuracy over 151 classes (the
//! CLINC150 paper's rule); `test` + `oos_test` are used once, for the figures printed.

use crate::bench::percentile;
use anyhow::{Context, Result};
use concierge_bot::intent::{Model, OosScore, TrainOptions, TrainSet, OOS};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// `clinc150` (with out-of-scope queries) or `csv` (`text,category` rows).
    #[arg(long, value_parser = ["clinc150", "csv"])]
    dataset: String,
    /// CLINC150 JSON file (e.g. data_full.json).
    #[arg(long)]
    file: Option<PathBuf>,
    /// CSV training file.
    #[arg(long)]
    train: Option<PathBuf>,
    /// CSV test file.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Leave CLINC150's `oos_train` out of training (threshold only).
    #[arg(long)]
    no_oos_class: bool,
    /// Train a logistic regression instead of the linear SVM (multiclass hinge loss).
    #[arg(long)]
    logistic: bool,
    /// SGD epochs; with several (`16,32`), each is tried on val. Default: 32.
    #[arg(long, value_delimiter = ',')]
    epochs: Vec<usize>,
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    learning_rate: f32,
    /// L2 penalties to try on val. Default: 5e-6,1e-5,2e-5.
    #[arg(long, value_delimiter = ',')]
    l2: Vec<f32>,
    /// Feature dropout rates to try on val. Default: 0,0.3.
    #[arg(long, value_delimiter = ',')]
    dropout: Vec<f32>,
    /// How many times each out-of-scope training example is seen per epoch; with several
    /// (`1,4`), each is tried on val. Default: 1.
    #[arg(long, value_delimiter = ',')]
    oos_repeat: Vec<usize>,
    /// Fix whether features unseen in training count in a text's norm (else chosen on val).
    #[arg(long)]
    unseen_norm: Option<bool>,
    /// Fix the out-of-scope score: `top` (the top class's decision value) or `over-oos` (the
    /// best intent's decision value minus the `oos` class's). Else chosen on val.
    #[arg(long, value_parser = ["top", "over-oos"])]
    oos_score: Option<String>,
    /// Print every setting tried, with its validation figures.
    #[arg(long)]
    verbose: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Reference figures (CLINC150 data_full, test + oos_test) from `../shared/tools/intent_baseline.py`
/// and the CLINC150 paper, as the issue quotes them: (model, in-scope accuracy, oos recall).
const REFERENCE: [(&str, f64, f64); 3] = [
    ("TF-IDF + linear SVM (intent_baseline.py)", 0.926, 0.392),
    (
        "small sentence encoder (intent_baseline.py --embed)",
        0.943,
        0.682,
    ),
    ("BERT (CLINC150 paper)", 0.962, 0.523),
];

/// Single-query latencies in ms, over up to 2,000 queries.
fn latencies(model: &Model, queries: &[&str]) -> (f64, f64) {
    let mut lat: Vec<f64> = queries
        .iter()
        .take(2000)
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(model.predict(q));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    (percentile(&lat, 0.5), percentile(&lat, 0.99))
}

fn pairs(v: &serde_json::Value, split: &str) -> Result<Vec<(String, String)>> {
    let arr = v[split]
        .as_array()
        .with_context(|| format!("no {split:?} split"))?;
    arr.iter()
        .map(|p| {
            Ok((
                p[0].as_str().context("text")?.to_string(),
                p[1].as_str().context("label")?.to_string(),
            ))
        })
        .collect()
}

fn read_csv(path: &PathBuf) -> Result<Vec<(String, String)>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = r.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{} has no {name} column", path.display()))
    };
    let (t, c) = (col("text")?, col("category")?);
    let mut out = Vec::new();
    for row in r.records() {
        let row = row?;
        out.push((row[t].to_string(), row[c].to_string()));
    }
    Ok(out)
}

/// Figures over a labelled set where `oos` marks out-of-scope queries.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    in_scope_accuracy: f64,
    oos_recall: f64,
    oos_precision: f64,
    accuracy_151: f64,
    /// The chance that an in-scope query scores above an out-of-scope one: how well the score
    /// separates them, whatever the threshold.
    oos_auroc: f64,
    oos: usize,
}

fn figures(model: &Model, data: &[(String, String)]) -> Figures {
    let (mut in_n, mut in_right, mut oos_n, mut oos_caught, mut pred_oos) = (0, 0, 0, 0, 0);
    // (score, in scope); a query the `oos` class takes outright scores lowest.
    let mut ranked: Vec<(f32, bool)> = Vec::with_capacity(data.len());
    for (text, label) in data {
        let p = model.predict(text);
        let score = if p.best == OOS {
            f32::NEG_INFINITY
        } else {
            p.confidence
        };
        ranked.push((score, label != OOS));
        if label == OOS {
            oos_n += 1;
            if p.intent.is_none() {
                oos_caught += 1;
                pred_oos += 1;
            }
        } else {
            in_n += 1;
            match p.intent {
                Some(i) if i == label => in_right += 1,
                Some(_) => {}
                None => pred_oos += 1,
            }
        }
    }
    Figures {
        in_scope_accuracy: in_right as f64 / in_n.max(1) as f64,
        oos_recall: oos_caught as f64 / oos_n.max(1) as f64,
        oos_precision: oos_caught as f64 / pred_oos.max(1) as f64,
        accuracy_151: (in_right + oos_caught) as f64 / data.len().max(1) as f64,
        oos_auroc: auroc(ranked),
        oos: oos_n,
    }
}

/// Area under the ROC curve of in-scope against out-of-scope scores (ties count half).
fn auroc(mut ranked: Vec<(f32, bool)>) -> f64 {
    ranked.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let (mut oos_below, mut pairs_won, mut i) = (0.0f64, 0.0f64, 0);
    while i < ranked.len() {
        let j = i + ranked[i..]
            .iter()
            .take_while(|r| r.0 == ranked[i].0)
            .count();
        let group = &ranked[i..j];
        let (ins, oos) =
            group.iter().fold(
                (0.0, 0.0),
                |(a, b), r| {
                    if r.1 {
                        (a + 1.0, b)
                    } else {
                        (a, b + 1.0)
                    }
                },
            );
        pairs_won += ins * (oos_below + oos / 2.0);
        oos_below += oos;
        i = j;
    }
    let ins = ranked.iter().filter(|r| r.1).count() as f64;
    if ins == 0.0 || oos_below == 0.0 {
        return f64::NAN;
    }
    pairs_won / (ins * oos_below)
}

/// An f32 as the f64 that prints the same (5e-6, not 4.999999873689376e-6).
fn short(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

fn score_name(s: OosScore) -> &'static str {
    match s {
        OosScore::Top => "top",
        OosScore::OverOos => "over-oos",
    }
}

/// One setting tried, with what it scored on val.
#[derive(Debug, Clone)]
struct Candidate {
    opts: TrainOptions,
    score: OosScore,
    threshold: f32,
    val: Figures,
    /// Vocabulary and vectors plus the fit, as `Model::train` would take.
    train_seconds: f64,
}

impl Candidate {
    fn setting(&self) -> String {
        format!(
            "l2 {:e}, dropout {}, {} epochs, oos_repeat {}, unseen_norm {}, score {}, threshold {:.3}",
            self.opts.l2,
            self.opts.dropout,
            self.opts.epochs,
            self.opts.oos_repeat,
            if self.opts.unseen_norm { "on" } else { "off" },
            score_name(self.score),
            self.threshold
        )
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "l2": short(self.opts.l2), "dropout": short(self.opts.dropout), "epochs": self.opts.epochs, "oos_repeat": self.opts.oos_repeat,
            "unseen_norm": self.opts.unseen_norm, "oos_score": score_name(self.score),
            "threshold": short(self.threshold), "val_accuracy_151": self.val.accuracy_151,
            "val_in_scope_accuracy": self.val.in_scope_accuracy, "val_oos_recall": self.val.oos_recall,
            "val_oos_auroc": self.val.oos_auroc,
            "train_seconds": self.train_seconds,
        })
    }
}

/// The values tried for each hyperparameter (the command line's lists). A tie on val goes to the
/// earlier setting, so simpler values come first.
struct Grid {
    unseen_norm: Vec<bool>,
    epochs: Vec<usize>,
    l2: Vec<f32>,
    dropout: Vec<f32>,
    oos_repeat: Vec<usize>,
    score: Vec<OosScore>,
}

impl Grid {
    fn new(args: &EvalArgs) -> Grid {
        let score = match args.oos_score.as_deref() {
            Some("top") => vec![OosScore::Top],
            Some(_) => vec![OosScore::OverOos],
            // Without an `oos` class, over-oos is top.
            None if args.no_oos_class => vec![OosScore::Top],
            None => vec![OosScore::Top, OosScore::OverOos],
        };
        Grid {
            unseen_norm: args.unseen_norm.map_or(vec![false, true], |v| vec![v]),
            epochs: or(&args.epochs, &[TrainOptions::clinc150().epochs]),
            l2: or(&args.l2, &[5e-6, 1e-5, 2e-5]),
            dropout: or(&args.dropout, &[0.0, TrainOptions::clinc150().dropout]),
            oos_repeat: if args.no_oos_class {
                vec![1]
            } else {
                or(&args.oos_repeat, &[1])
            },
            score,
        }
    }
}

/// The values given, else the default ones.
fn or<T: Clone>(given: &[T], default: &[T]) -> Vec<T> {
    if given.is_empty() { default } else { given }.to_vec()
}

/// Every combination of four lists, the last varying fastest.
fn product4<'a, A, B, C, D>(
    a: &'a [A],
    b: &'a [B],
    c: &'a [C],
    d: &'a [D],
) -> impl Iterator<Item = (&'a A, &'a B, &'a C, &'a D)> {
    a.iter().flat_map(move |a| {
        b.iter().flat_map(move |b| {
            c.iter()
                .flat_map(move |c| d.iter().map(move |d| (a, b, c, d)))
        })
    })
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let base = TrainOptions {
        learning_rate: args.learning_rate,
        oos_class: !args.no_oos_class,
        hinge: !args.logistic,
        // The grid sets the rest.
        ..TrainOptions::clinc150()
    };
    if args.dataset == "csv" {
        return eval_csv(&args, base);
    }
    let path = args.file.as_ref().context("--file data_full.json")?;
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&raw).context("not CLINC150 JSON")?;
    let mut train = pairs(&v, "train")?;
    if base.oos_class {
        train.extend(pairs(&v, "oos_train")?);
    }
    let mut val = pairs(&v, "val")?;
    val.extend(pairs(&v, "oos_val")?);
    let mut test = pairs(&v, "test")?;
    test.extend(pairs(&v, "oos_test")?);

    let refs: Vec<(&str, &str)> = train
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str()))
        .collect();
    let held: Vec<(&str, Option<&str>)> = val
        .iter()
        .map(|(t, l)| (t.as_str(), (l != OOS).then_some(l.as_str())))
        .collect();

    // Model selection on val only.
    let grid = Grid::new(&args);
    let started = Instant::now();
    let mut tried: Vec<Candidate> = Vec::new();
    let mut chosen: Option<(Model, Candidate)> = None;
    let mut fits = 0;
    for &unseen_norm in &grid.unseen_norm {
        let t = Instant::now();
        let set = TrainSet::new(
            &refs,
            &TrainOptions {
                unseen_norm,
                ..base.clone()
            },
        );
        let prep_s = t.elapsed().as_secs_f64();
        for (&epochs, &l2, &dropout, &oos_repeat) in
            product4(&grid.epochs, &grid.l2, &grid.dropout, &grid.oos_repeat)
        {
            let opts = TrainOptions {
                unseen_norm,
                epochs,
                l2,
                dropout,
                oos_repeat,
                ..base.clone()
            };
            let t = Instant::now();
            let mut model = Model::fit(&set, &opts);
            let fit_s = t.elapsed().as_secs_f64();
            fits += 1;
            for &score in &grid.score {
                model.oos_score = score;
                model.tune_threshold(&held);
                let c = Candidate {
                    opts: opts.clone(),
                    score,
                    threshold: model.threshold,
                    val: figures(&model, &val),
                    train_seconds: prep_s + fit_s,
                };
                let better = chosen
                    .as_ref()
                    .is_none_or(|(_, b)| c.val.accuracy_151 > b.val.accuracy_151);
                if better {
                    chosen = Some((model.clone(), c.clone()));
                }
                tried.push(c);
            }
        }
    }
    let select_s = started.elapsed().as_secs_f64();
    let (model, pick) = chosen.context("no setting to try")?;

    // Test, once.
    let fig = figures(&model, &test);
    let queries: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
    let (p50, p99) = latencies(&model, &queries);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "in_scope_accuracy": fig.in_scope_accuracy, "oos_recall": fig.oos_recall,
                "oos_precision": fig.oos_precision, "accuracy_151": fig.accuracy_151,
                "oos_auroc": fig.oos_auroc, "val_oos_auroc": pick.val.oos_auroc,
                "threshold": short(pick.threshold), "val_accuracy_151": pick.val.accuracy_151,
                "val_in_scope_accuracy": pick.val.in_scope_accuracy,
                "val_oos_recall": pick.val.oos_recall,
                "chosen": pick.json(),
                "train_seconds": pick.train_seconds, "select_seconds": select_s,
                "fits": fits, "settings": tried.len(),
                "query_p50_ms": p50, "query_p99_ms": p99,
                "train": train.len(), "oos_class": base.oos_class,
                "grid": tried.iter().map(Candidate::json).collect::<Vec<_>>(),
                "reference": REFERENCE.iter().map(|(m, a, r)| serde_json::json!({"model": m, "in_scope_accuracy": a, "oos_recall": r})).collect::<Vec<_>>(),
            })
        );
        return Ok(());
    }
    println!(
        "CLINC150 {}: {} training texts ({}), settings chosen on {} val texts, tested on {} ({} out of scope)",
        path.display(),
        train.len(),
        if base.oos_class { "oos_train as a class" } else { "in-scope only" },
        val.len(),
        test.len(),
        fig.oos
    );
    if args.verbose {
        println!();
        println!("  val acc151  in-scope  oos rec  AUROC  setting");
        for c in &tried {
            println!(
                "  {:>9.2}% {:>8.2}% {:>7.1}%  {:.3}  {}",
                c.val.accuracy_151 * 100.0,
                c.val.in_scope_accuracy * 100.0,
                c.val.oos_recall * 100.0,
                c.val.oos_auroc,
                c.setting()
            );
        }
    }
    println!();
    println!(
        "  {:<52} {:>9} {:>9} {:>9}",
        "model (test + oos_test)", "in-scope", "oos rec", "oos prec"
    );
    println!(
        "  {:<52} {:>8.1}% {:>8.1}% {:>8.1}%",
        if base.hinge {
            "Concierge (TF-IDF + linear SVM, threshold)"
        } else {
            "Concierge (TF-IDF + logistic regression, threshold)"
        },
        fig.in_scope_accuracy * 100.0,
        fig.oos_recall * 100.0,
        fig.oos_precision * 100.0
    );
    for (m, a, r) in REFERENCE {
        println!(
            "  {m:<52} {:>8.1}% {:>8.1}% {:>9}",
            a * 100.0,
            r * 100.0,
            ""
        );
    }
    println!();
    println!(
        "  chosen on val among {} settings ({fits} fits): {}",
        tried.len(),
        pick.setting()
    );
    println!(
        "  val: {:.1} % over 151 classes, {:.1} % in-scope, {:.1} % oos recall, AUROC {:.3}",
        pick.val.accuracy_151 * 100.0,
        pick.val.in_scope_accuracy * 100.0,
        pick.val.oos_recall * 100.0,
        pick.val.oos_auroc,
    );
    println!(
        "  test: {:.1} % over 151 classes, AUROC {:.3} (in-scope against out-of-scope scores, whatever the threshold)",
        fig.accuracy_151 * 100.0,
        fig.oos_auroc
    );
    println!(
        "  training {:.2} s (the chosen setting; selection took {select_s:.1} s), single query p50 {p50:.3} ms, p99 {p99:.3} ms",
        pick.train_seconds
    );
    Ok(())
}

/// A `text,category` CSV: no validation split, so the settings are those CLINC150's validation
/// chose (`TrainOptions::clinc150`), or the first value of each flag.
fn eval_csv(args: &EvalArgs, base: TrainOptions) -> Result<()> {
    let train = read_csv(args.train.as_ref().context("--train FILE")?)?;
    let test = read_csv(args.test.as_ref().context("--test FILE")?)?;
    let refs: Vec<(&str, &str)> = train
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str()))
        .collect();
    // The first value of each list given, else what CLINC150 validation chose.
    let opts = TrainOptions {
        oos_class: true,
        epochs: args.epochs.first().copied().unwrap_or(base.epochs),
        l2: args.l2.first().copied().unwrap_or(base.l2),
        dropout: args.dropout.first().copied().unwrap_or(base.dropout),
        oos_repeat: args.oos_repeat.first().copied().unwrap_or(base.oos_repeat),
        unseen_norm: args.unseen_norm.unwrap_or(base.unseen_norm),
        ..base
    };
    let t = Instant::now();
    let mut model = Model::train(&refs, &opts);
    let train_s = t.elapsed().as_secs_f64();
    // Plain argmax over the classes (an `oos` row, if any, is a class like the others).
    model.oos_score = OosScore::Top;
    let right = test
        .iter()
        .filter(|(t, l)| model.predict(t).best == l)
        .count();
    let accuracy = right as f64 / test.len().max(1) as f64;
    let queries: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
    let (p50, p99) = latencies(&model, &queries);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"accuracy": accuracy, "train_seconds": train_s,
                "query_p50_ms": p50, "query_p99_ms": p99, "train": train.len(), "test": test.len(),
                "classes": model.labels().len()})
        );
    } else {
        println!(
            "{} training texts, {} classes, {} test texts",
            train.len(),
            model.labels().len(),
            test.len()
        );
        println!("  accuracy            {:.1} %", accuracy * 100.0);
        println!("  training            {train_s:.2} s");
        println!("  single query        p50 {p50:.3} ms, p99 {p99:.3} ms");
    }
    Ok(())
}

/// `concierge bot train`: checks and trains a definition, prints the training report and, with a
/// test file, accuracy per language.
pub fn train_definition(
    body: &str,
    test: Option<&std::path::Path>,
) -> Result<concierge_bot::engine::Bot> {
    use concierge_bot::definition::Definition;
    use concierge_bot::engine::Bot;
    use concierge_bot::evaluate::{evaluate, parse_test_set};
    let def = Definition::parse(body).map_err(|problems| {
        anyhow::anyhow!("the definition has problems:\n  {}", problems.join("\n  "))
    })?;
    let bot = Bot::train(def);
    let r = &bot.report;
    println!(
        "trained {:?}: {} intents, {} examples, {} out-of-scope examples in {} ms",
        bot.def.name, r.intents, r.examples, r.out_of_scope_examples, r.train_ms
    );
    println!(
        "held out {} examples to set the out-of-scope threshold: accuracy {:.1}%",
        r.held_out,
        r.held_out_accuracy * 100.0
    );
    if let Some(path) = test {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let set = parse_test_set(&text).map_err(|e| anyhow::anyhow!(e))?;
        let e = evaluate(&bot, &set);
        println!("test set {}:", path.display());
        println!(
            "  {:<8} {:>6} {:>9} {:>10} {:>13} {:>9}",
            "language", "cases", "accuracy", "in-scope", "out-of-scope", "too close"
        );
        let row = |name: &str, s: &concierge_bot::evaluate::Score| {
            println!(
                "  {:<8} {:>6} {:>8.1}% {:>9.1}% {:>12.1}% {:>9}",
                name,
                s.cases,
                s.accuracy * 100.0,
                s.in_scope_accuracy * 100.0,
                s.out_of_scope_recall * 100.0,
                s.too_close
            )
        };
        for (lang, s) in &e.by_language {
            row(lang, s);
        }
        row("all", &e.overall);
        for (lang, text, want, got) in e.misses.iter().take(40) {
            println!(
                "  miss [{lang}] {text:?}: expected {}, got {}",
                want.as_deref().unwrap_or("out of scope"),
                got.as_deref().unwrap_or("out of scope")
            );
        }
    }
    Ok(bot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_counts_pairs_won_and_ties_half() {
        // In scope at 3 and 1, out of scope at 2 and 0: 3 of 4 pairs won.
        let r = vec![(3.0, true), (2.0, false), (1.0, true), (0.0, false)];
        assert_eq!(auroc(r), 0.75);
        assert_eq!(auroc(vec![(1.0, true), (0.0, false)]), 1.0);
        assert_eq!(auroc(vec![(0.0, true), (1.0, false)]), 0.0);
        // A tie is half a pair; forced out of scope (-inf) ranks lowest.
        let r = vec![(1.0, true), (1.0, false), (f32::NEG_INFINITY, false)];
        assert_eq!(auroc(r), 0.75);
        assert!(auroc(vec![(1.0, true)]).is_nan());
    }
}
