//! `concierge bot eval`: intent recognition measured on CLINC150 (or any `text,category` CSV),
//! next to the reference figures of the project's Python baselines.

use anyhow::{Context, Result};
use concierge_bot::intent::{Model, TrainOptions, OOS};
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
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    learning_rate: f32,
    #[arg(long, default_value_t = TrainOptions::default().l2)]
    l2: f32,
    /// How many times each out-of-scope training example is seen per epoch.
    #[arg(long, default_value_t = TrainOptions::default().oos_repeat)]
    oos_repeat: usize,
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

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

pub fn eval(args: EvalArgs) -> Result<()> {
    let opts = TrainOptions {
        epochs: args.epochs,
        learning_rate: args.learning_rate,
        l2: args.l2,
        oos_repeat: args.oos_repeat,
        oos_class: !args.no_oos_class,
        hinge: !args.logistic,
        ..Default::default()
    };
    if args.dataset == "csv" {
        let train = read_csv(args.train.as_ref().context("--train FILE")?)?;
        let test = read_csv(args.test.as_ref().context("--test FILE")?)?;
        let refs: Vec<(&str, &str)> = train
            .iter()
            .map(|(t, l)| (t.as_str(), l.as_str()))
            .collect();
        let t = Instant::now();
        let model = Model::train(
            &refs,
            &TrainOptions {
                oos_class: true,
                ..opts
            },
        );
        let train_s = t.elapsed().as_secs_f64();
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
        return Ok(());
    }
    let path = args.file.context("--file data_full.json")?;
    let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&raw).context("not CLINC150 JSON")?;
    let mut train = pairs(&v, "train")?;
    if opts.oos_class {
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
    let t = Instant::now();
    let mut model = Model::train(&refs, &opts);
    let train_s = t.elapsed().as_secs_f64();
    let held: Vec<(&str, Option<&str>)> = val
        .iter()
        .map(|(t, l)| (t.as_str(), (l != OOS).then_some(l.as_str())))
        .collect();
    let t = Instant::now();
    let val_acc151 = model.tune_threshold(&held);
    let tune_s = t.elapsed().as_secs_f64();

    let (mut in_n, mut in_right, mut oos_n, mut oos_caught, mut pred_oos, mut right151) =
        (0, 0, 0, 0, 0, 0);
    for (text, label) in &test {
        let p = model.predict(text);
        let truth_oos = label == OOS;
        match (truth_oos, p.intent) {
            (false, Some(i)) => {
                in_n += 1;
                if i == label {
                    in_right += 1;
                    right151 += 1;
                }
            }
            (false, None) => {
                in_n += 1;
                pred_oos += 1;
            }
            (true, None) => {
                oos_n += 1;
                oos_caught += 1;
                pred_oos += 1;
                right151 += 1;
            }
            (true, Some(_)) => oos_n += 1,
        }
    }
    let in_acc = in_right as f64 / in_n.max(1) as f64;
    let oos_rec = oos_caught as f64 / oos_n.max(1) as f64;
    let oos_prec = oos_caught as f64 / pred_oos.max(1) as f64;
    let acc151 = right151 as f64 / test.len().max(1) as f64;
    let queries: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
    let (p50, p99) = latencies(&model, &queries);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "in_scope_accuracy": in_acc, "oos_recall": oos_rec, "oos_precision": oos_prec,
                "accuracy_151": acc151, "threshold": model.threshold,
                "val_accuracy_151": val_acc151,
                "train_seconds": train_s, "tune_seconds": tune_s,
                "query_p50_ms": p50, "query_p99_ms": p99,
                "train": train.len(), "oos_class": opts.oos_class,
                "reference": REFERENCE.iter().map(|(m, a, r)| serde_json::json!({"model": m, "in_scope_accuracy": a, "oos_recall": r})).collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "CLINC150 {}: {} training texts ({}), tuned on {} val texts, tested on {} ({} out of scope)",
            path.display(),
            train.len(),
            if opts.oos_class { "oos_train as a class" } else { "in-scope only" },
            val.len(),
            test.len(),
            oos_n
        );
        println!();
        println!(
            "  {:<52} {:>9} {:>9} {:>9}",
            "model", "in-scope", "oos rec", "oos prec"
        );
        println!(
            "  {:<52} {:>8.1}% {:>8.1}% {:>8.1}%",
            if opts.hinge {
                "Concierge (TF-IDF + linear SVM, threshold)"
            } else {
                "Concierge (TF-IDF + logistic regression, threshold)"
            },
            in_acc * 100.0,
            oos_rec * 100.0,
            oos_prec * 100.0
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
            "  accuracy over 151 classes {:.1} % (validation {:.1} %), threshold {:.3}",
            acc151 * 100.0,
            val_acc151 * 100.0,
            model.threshold
        );
        println!("  training {train_s:.2} s (+ {tune_s:.2} s threshold tuning), single query p50 {p50:.3} ms, p99 {p99:.3} ms");
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
