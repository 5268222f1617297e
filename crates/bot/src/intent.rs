//! Intent recognition: TF-IDF features (words, word pairs, character n-grams inside words, with
//! sublinear term frequency, each block L2-normalised) and a linear model trained by SGD with the
//! weights of the later epochs averaged: a multiclass linear SVM (Crammer-Singer hinge loss) by
//! default, or a multinomial logistic regression.
//!
//! Out of scope (the bot's cue to hand over rather than guess): a query whose confidence is below
//! a threshold tuned on held-out data. The confidence is the top class's ([`OosScore::Top`]) or,
//! with an `oos` class in training, how far the best intent's decision value is above the `oos`
//! class's ([`OosScore::OverOos`]).
//!
//! [`TrainOptions::default`] is the plain setting the bot runtime was tuned with.
//! [`TrainOptions::clinc150`] is what `concierge bot eval` chose on CLINC150's validation split:
//! the over-oos score, features never seen in training counted in a text's norm
//! ([`TrainOptions::unseen_norm`], so that a query made mostly of unknown words keeps a short
//! vector instead of having its few known words blown up to unit length), and feature dropout.

use crate::text::{features, Feature};
use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The label of out-of-scope examples in training data (CLINC150's convention).
pub const OOS: &str = "oos";

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub epochs: usize,
    /// Character n-grams seen in fewer training texts than this are dropped.
    pub min_df_chars: u32,
    pub learning_rate: f32,
    /// L2 penalty, applied as weight decay.
    pub l2: f32,
    /// Train `oos` examples as a class of their own (else they are left out).
    pub oos_class: bool,
    /// Multiclass hinge loss (a linear SVM) instead of the logistic loss.
    pub hinge: bool,
    /// Each `oos` example is seen this many times per epoch (there are few of them).
    pub oos_repeat: usize,
    pub seed: u64,
    /// Features never seen in training count in a text's norm, at the IDF of a feature in no
    /// training text, so that unknown words shrink the known part of the vector.
    pub unseen_norm: bool,
    /// Each time a training text is seen, each of its features is left out with this
    /// probability (the others scaled up to make up for it): feature noising, which keeps the
    /// model from leaning on a few features. Needs more epochs than without.
    pub dropout: f32,
    /// What the model's confidence measures (see [`Model::oos_score`]).
    pub oos_score: OosScore,
}

impl Default for TrainOptions {
    /// The plain setting: top score, no unseen features in the norm, no dropout. Callers tuned
    /// against it (thresholds, too-close margins) see the same scale of confidences as before.
    fn default() -> Self {
        TrainOptions {
            epochs: 16,
            min_df_chars: 2,
            learning_rate: 0.1,
            l2: 1e-5,
            oos_class: true,
            hinge: true,
            oos_repeat: 1,
            seed: 0x1e57,
            unseen_norm: false,
            dropout: 0.0,
            oos_score: OosScore::Top,
        }
    }
}

impl TrainOptions {
    /// What `concierge bot eval` chose on CLINC150's validation split (see the README's bot
    /// section): the over-oos score, unseen features in the norm, dropout 0.3 with 32 epochs,
    /// L2 5e-6. It catches far more out-of-scope queries there at the same in-scope accuracy.
    /// Not the default: its confidences are on another scale, and dropout's noise separates
    /// intents trained on identical examples by about 0.1, more than a small too-close margin.
    pub fn clinc150() -> TrainOptions {
        TrainOptions {
            epochs: 32,
            l2: 5e-6,
            unseen_norm: true,
            dropout: 0.3,
            oos_score: OosScore::OverOos,
            ..TrainOptions::default()
        }
    }
}

/// What [`Prediction::confidence`] (and the threshold) measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OosScore {
    /// The top class's confidence: a probability (logistic) or decision value (hinge). When the
    /// top class is `oos`, the query is out of scope whatever the threshold.
    Top,
    /// The best intent's decision value minus the `oos` class's (for a logistic model, the
    /// log-odds of the best intent against `oos`). Needs an `oos` class; without one, it is
    /// [`OosScore::Top`].
    OverOos,
}

/// Vocabulary, IDF and blocks: text → sparse vector.
#[derive(Clone)]
struct Vectorizer {
    vocab: Map<String, u32>,
    idf: Vec<f32>,
    block: Vec<u8>,
    /// The IDF of features not in the vocabulary, when they count in the norm.
    unseen_idf: Option<f32>,
}

impl Vectorizer {
    fn new(texts: &[&str], opts: &TrainOptions) -> Vectorizer {
        let mut df: Map<String, (u32, u8)> = Map::default();
        for text in texts {
            let mut seen: Map<String, u8> = Map::default();
            features(text, |f| {
                seen.insert(f.key(), f.block() as u8);
            });
            for (k, b) in seen {
                df.entry(k).or_insert((0, b)).0 += 1;
            }
        }
        let n = texts.len() as f32;
        let mut keys: Vec<(String, (u32, u8))> = df
            .into_iter()
            .filter(|(_, (d, b))| *b == 0 || *d >= opts.min_df_chars)
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut vocab = Map::default();
        let mut idf = Vec::with_capacity(keys.len());
        let mut block = Vec::with_capacity(keys.len());
        for (i, (k, (d, b))) in keys.into_iter().enumerate() {
            vocab.insert(k, i as u32);
            idf.push(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0);
            block.push(b);
        }
        Vectorizer {
            vocab,
            idf,
            block,
            // The IDF a feature in none of the n texts would have.
            unseen_idf: opts.unseen_norm.then(|| (1.0 + n).ln() + 1.0),
        }
    }

    fn dims(&self) -> usize {
        self.idf.len()
    }

    /// The text as a sparse TF-IDF vector, each block L2-normalised, sorted by feature.
    fn vectorize(&self, text: &str) -> Vec<(u32, f32)> {
        let mut counts: Map<u32, f32> = Map::default();
        let mut unseen: Vec<(String, u8)> = Vec::new();
        features(text, |f: Feature<'_>| {
            let key = f.key();
            if let Some(&i) = self.vocab.get(&key) {
                *counts.entry(i).or_default() += 1.0;
            } else if self.unseen_idf.is_some() {
                unseen.push((key, f.block() as u8));
            }
        });
        let mut v: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(i, tf)| (i, (1.0 + tf.ln()) * self.idf[i as usize]))
            .collect();
        // Sorted before summing: the same text gives the same bits in every process.
        v.sort_unstable_by_key(|(i, _)| *i);
        let mut norms = [0.0f32; 2];
        if let Some(idf) = self.unseen_idf {
            unseen.sort_unstable();
            for run in unseen.chunk_by(|a, b| a == b) {
                let x = (1.0 + (run.len() as f32).ln()) * idf;
                norms[run[0].1 as usize] += x * x;
            }
        }
        for (i, x) in &v {
            norms[self.block[*i as usize] as usize] += x * x;
        }
        for (i, x) in &mut v {
            let n = norms[self.block[*i as usize] as usize].sqrt();
            if n > 0.0 {
                *x /= n;
            }
        }
        v
    }
}

/// Training texts turned into vectors once, so that several models can be fitted on them (a
/// hyperparameter search) without redoing the vocabulary: see [`Model::fit`].
pub struct TrainSet {
    vectorizer: Vectorizer,
    labels: Vec<String>,
    /// Sparse rows: `feats[offsets[i]..offsets[i + 1]]`, class `classes[i]`.
    feats: Vec<(u32, f32)>,
    offsets: Vec<usize>,
    classes: Vec<usize>,
}

impl TrainSet {
    /// Uses the feature options of `opts`: `oos_class`, `min_df_chars`, `unseen_norm`.
    pub fn new(examples: &[(&str, &str)], opts: &TrainOptions) -> TrainSet {
        let examples: Vec<(&str, &str)> = examples
            .iter()
            .copied()
            .filter(|(_, l)| opts.oos_class || *l != OOS)
            .collect();
        let texts: Vec<&str> = examples.iter().map(|(t, _)| *t).collect();
        let vectorizer = Vectorizer::new(&texts, opts);
        let mut labels: Vec<String> = examples.iter().map(|(_, l)| l.to_string()).collect();
        labels.sort_unstable();
        labels.dedup();
        let index: Map<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let mut set = TrainSet {
            labels: labels.clone(),
            feats: Vec::new(),
            offsets: vec![0],
            classes: Vec::with_capacity(examples.len()),
            vectorizer,
        };
        for (text, label) in &examples {
            let v = set.vectorizer.vectorize(text);
            set.feats.extend(v);
            set.offsets.push(set.feats.len());
            set.classes.push(index[label]);
        }
        set
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    fn row(&self, i: usize) -> &[(u32, f32)] {
        &self.feats[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// A trained model.
#[derive(Clone)]
pub struct Model {
    vectorizer: Vectorizer,
    labels: Vec<String>,
    /// Feature-major: `weights[f * classes + c]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// Below this confidence, a query is out of scope.
    pub threshold: f32,
    /// What the confidence (and so the threshold) measures: [`TrainOptions::oos_score`] at
    /// first. [`OosScore::OverOos`] without an `oos` class is [`OosScore::Top`]. Changing it
    /// calls for [`Model::tune_threshold`] again.
    pub oos_score: OosScore,
    /// Trained with the hinge loss: confidences are decision values, not probabilities.
    hinge: bool,
    /// The index of the `oos` class, if trained with one.
    oos: Option<usize>,
}

/// What the model makes of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction<'a> {
    /// `None` when out of scope (below the threshold, or the `oos` class won).
    pub intent: Option<&'a str>,
    /// On the scale of [`Model::oos_score`], the one the threshold is on.
    pub confidence: f32,
    /// The best intent even when out of scope, and the runner-up: two close intents are a reason
    /// to ask or hand over. (With [`OosScore::Top`], `best` can be `oos`.)
    pub best: &'a str,
    pub runner_up: Option<(&'a str, f32)>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl Model {
    pub fn train(examples: &[(&str, &str)], opts: &TrainOptions) -> Model {
        Model::fit(&TrainSet::new(examples, opts), opts)
    }

    /// Fits a model on prepared training data. Uses the learning options of `opts` (`epochs`,
    /// `learning_rate`, `l2`, `hinge`, `oos_repeat`, `seed`, `dropout`, `oos_score`); the
    /// feature options are those `set` was made with.
    pub fn fit(set: &TrainSet, opts: &TrainOptions) -> Model {
        let classes = set.labels.len();
        let oos = set.labels.iter().position(|l| l == OOS);
        let mut model = Model {
            vectorizer: set.vectorizer.clone(),
            labels: set.labels.clone(),
            weights: vec![0.0; set.vectorizer.dims() * classes],
            bias: vec![0.0; classes],
            threshold: 0.0,
            oos_score: opts.oos_score,
            hinge: opts.hinge,
            oos,
        };
        let mut order: Vec<usize> = (0..set.len())
            .flat_map(|i| {
                let k = if Some(set.classes[i]) == oos {
                    opts.oos_repeat.max(1)
                } else {
                    1
                };
                std::iter::repeat_n(i, k)
            })
            .collect();
        let mut rng = Rng(opts.seed | 1);
        let mut scores = vec![0.0f32; classes];
        let mut kept: Vec<(u32, f32)> = Vec::new();
        // Features are kept when 32 random bits fall at or above this.
        let dropout = opts.dropout.clamp(0.0, 0.95);
        let cut = (dropout as f64 * 4_294_967_296.0) as u64;
        let mut step = 0usize;
        // Weight decay applied lazily through a shared scale factor.
        let mut scale = 1.0f32;
        // The weights of the later epochs are averaged: steadier than the last SGD step.
        let mut avg_w = vec![0.0f32; model.weights.len()];
        let mut avg_b = vec![0.0f32; classes];
        let mut averaged = 0usize;
        for epoch in 0..opts.epochs {
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
            }
            for &i in &order {
                let (mut x, y) = (set.row(i), set.classes[i]);
                if cut > 0 {
                    kept.clear();
                    for &(f, v) in x {
                        if rng.next() >> 32 >= cut {
                            kept.push((f, v / (1.0 - dropout)));
                        }
                    }
                    x = &kept;
                }
                let lr = opts.learning_rate
                    / (1.0 + step as f32 * opts.learning_rate * opts.l2 * 50.0).sqrt();
                step += 1;
                model.raw_scores(x, scale, &mut scores);
                // The hinge gradient touches two classes at most: only those are updated.
                let mut pair = None;
                if opts.hinge {
                    // Crammer-Singer: push the true class a margin above the best wrong one.
                    let (mut j, mut sj) = (usize::MAX, f32::NEG_INFINITY);
                    for (c, &s) in scores.iter().enumerate() {
                        if c != y && s > sj {
                            (j, sj) = (c, s);
                        }
                    }
                    if j != usize::MAX && scores[y] - sj < 1.0 {
                        pair = Some(j);
                    }
                } else {
                    softmax(&mut scores);
                    scores[y] -= 1.0;
                }
                scale *= 1.0 - lr * opts.l2;
                if scale < 1e-3 {
                    for w in &mut model.weights {
                        *w *= scale;
                    }
                    scale = 1.0;
                }
                let step_size = lr / scale;
                if let Some(j) = pair {
                    for &(f, v) in x {
                        let row = f as usize * classes;
                        model.weights[row + y] += step_size * v;
                        model.weights[row + j] -= step_size * v;
                    }
                    model.bias[y] += lr;
                    model.bias[j] -= lr;
                } else if !opts.hinge {
                    for &(f, v) in x {
                        let row =
                            &mut model.weights[f as usize * classes..(f as usize + 1) * classes];
                        for (w, g) in row.iter_mut().zip(&scores) {
                            *w -= step_size * v * g;
                        }
                    }
                    for (b, g) in model.bias.iter_mut().zip(&scores) {
                        *b -= lr * g;
                    }
                }
            }
            if epoch >= opts.epochs / 2 {
                for (a, w) in avg_w.iter_mut().zip(&model.weights) {
                    *a += w * scale;
                }
                for (a, b) in avg_b.iter_mut().zip(&model.bias) {
                    *a += b;
                }
                averaged += 1;
            }
        }
        if averaged > 0 {
            let k = averaged as f32;
            model.weights = avg_w.into_iter().map(|w| w / k).collect();
            model.bias = avg_b.into_iter().map(|b| b / k).collect();
        } else {
            for w in &mut model.weights {
                *w *= scale;
            }
        }
        model
    }

    #[doc(hidden)]
    pub fn lab_avg(&mut self, others: &[Model]) {
        let k = (others.len() + 1) as f32;
        for o in others {
            for (a, b) in self.weights.iter_mut().zip(&o.weights) {
                *a += b;
            }
            for (a, b) in self.bias.iter_mut().zip(&o.bias) {
                *a += b;
            }
        }
        self.weights.iter_mut().for_each(|w| *w /= k);
        self.bias.iter_mut().for_each(|w| *w /= k);
    }

    fn raw_scores(&self, x: &[(u32, f32)], scale: f32, out: &mut [f32]) {
        let classes = self.labels.len();
        out.copy_from_slice(&self.bias);
        for &(f, v) in x {
            let row = &self.weights[f as usize * classes..(f as usize + 1) * classes];
            let v = v * scale;
            for (o, w) in out.iter_mut().zip(row) {
                *o += v * w;
            }
        }
    }

    /// The `oos` class, when confidences are measured against it.
    fn over_oos(&self) -> Option<usize> {
        match self.oos_score {
            OosScore::OverOos if self.labels.len() > 1 => self.oos,
            _ => None,
        }
    }

    /// Per-class confidences for `text`, in the order of [`Model::labels`], on the scale of
    /// [`Prediction::confidence`]: with [`OosScore::OverOos`], decision values (log-odds for a
    /// logistic model) minus the `oos` class's, which is 0; with [`OosScore::Top`],
    /// probabilities for a logistic model, decision values for a hinge-loss one.
    pub fn confidences(&self, text: &str) -> Vec<f32> {
        let mut s = vec![0.0; self.labels.len()];
        self.raw_scores(&self.vectorizer.vectorize(text), 1.0, &mut s);
        if let Some(o) = self.over_oos() {
            let base = s[o];
            s.iter_mut().for_each(|x| *x -= base);
        } else if !self.hinge {
            softmax(&mut s);
        }
        s
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn predict(&self, text: &str) -> Prediction<'_> {
        let p = self.confidences(text);
        let skip = self.over_oos();
        // The best two classes (leaving out `oos` when confidences are measured against it).
        let (mut first, mut second): (Option<usize>, Option<usize>) = (None, None);
        for c in (0..p.len()).filter(|c| Some(*c) != skip) {
            if first.is_none_or(|f| p[c] > p[f]) {
                second = first;
                first = Some(c);
            } else if second.is_none_or(|s| p[c] > p[s]) {
                second = Some(c);
            }
        }
        let best = first.expect("a model has at least one class");
        let label = self.labels[best].as_str();
        let intent = (label != OOS && p[best] >= self.threshold).then_some(label);
        Prediction {
            intent,
            confidence: p[best],
            best: label,
            runner_up: second.map(|i| (self.labels[i].as_str(), p[i])),
        }
    }

    /// Sets the threshold that maximises accuracy over `held_out` (`None` = out of scope),
    /// counting out of scope as one more class: the rule of the CLINC150 paper. Among equally
    /// good thresholds, takes the middle of the lowest range of them. Returns that accuracy.
    pub fn tune_threshold(&mut self, held_out: &[(&str, Option<&str>)]) -> f64 {
        let scored: Vec<Scored> = held_out
            .iter()
            .map(|(t, want)| {
                let p = self.predict(t);
                Scored {
                    confidence: p.confidence,
                    forced_oos: p.best == OOS,
                    best_right: p.best != OOS && Some(p.best) == *want,
                    truth_oos: want.is_none(),
                }
            })
            .collect();
        let (threshold, right) = best_threshold(scored);
        self.threshold = threshold;
        right as f64 / held_out.len().max(1) as f64
    }
}

/// A held-out query as the threshold sees it.
#[derive(Debug, Clone, Copy)]
struct Scored {
    confidence: f32,
    /// Out of scope whatever the threshold (the `oos` class won).
    forced_oos: bool,
    /// The best intent is the right one.
    best_right: bool,
    truth_oos: bool,
}

/// The threshold with the most queries right (below it = out of scope), and that count.
/// Candidates: below everything, between consecutive confidences, above everything. Of a run of
/// consecutive equally good candidates, the middle one (furthest from either edge); of two
/// separate runs, the lower (answering more), as a tiny held-out set can tie "answer all" with
/// "answer nothing".
fn best_threshold(mut scored: Vec<Scored>) -> (f32, usize) {
    scored.sort_unstable_by(|a, b| a.confidence.total_cmp(&b.confidence));
    // With the threshold below everything, only forced ones are out of scope.
    let mut right = scored
        .iter()
        .filter(|s| {
            if s.forced_oos {
                s.truth_oos
            } else {
                s.best_right
            }
        })
        .count() as i64;
    let mut best = right;
    // The first run of consecutive candidates with the best count.
    let mut run = vec![f32::NEG_INFINITY];
    let mut in_run = true;
    let mut i = 0;
    while i < scored.len() {
        // Raise the threshold past every query with this confidence.
        let c = scored[i].confidence;
        while i < scored.len() && scored[i].confidence == c {
            let s = scored[i];
            if !s.forced_oos {
                right += s.truth_oos as i64 - s.best_right as i64;
            }
            i += 1;
        }
        let t = match scored.get(i) {
            Some(next) => {
                let mid = c + (next.confidence - c) / 2.0;
                if mid > c {
                    mid
                } else {
                    next.confidence
                }
            }
            None => f32::INFINITY,
        };
        if right > best {
            best = right;
            run.clear();
            in_run = true;
        }
        if right == best && in_run {
            run.push(t);
        } else {
            in_run = false;
        }
    }
    (run[run.len() / 2], best as usize)
}

fn softmax(s: &mut [f32]) {
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in s.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in s.iter_mut() {
        *x /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRAIN: [(&str, &str); 10] = [
        ("onde está meu pedido", "order_status"),
        ("cadê meu pedido", "order_status"),
        ("meu pedido não chegou", "order_status"),
        ("where is my order", "order_status"),
        ("quero falar com um atendente", "human"),
        ("falar com uma pessoa", "human"),
        ("talk to a human please", "human"),
        ("quero cancelar o pedido", "cancel"),
        ("cancel my order", "cancel"),
        ("cancela tudo", "cancel"),
    ];

    /// TRAIN plus out-of-scope examples.
    fn with_oos() -> Vec<(&'static str, &'static str)> {
        let mut t = TRAIN.to_vec();
        t.extend([
            ("qual a previsão do tempo", "oos"),
            ("what is the weather like", "oos"),
            ("tell me a joke", "oos"),
            ("quem ganhou o jogo ontem", "oos"),
        ]);
        t
    }

    #[test]
    fn learns_a_small_task_and_refuses_the_unknown() {
        let mut m = Model::train(
            &TRAIN,
            &TrainOptions {
                oos_class: false,
                ..Default::default()
            },
        );
        assert_eq!(m.oos_score, OosScore::Top);
        assert_eq!(m.predict("cade o meu pedidoo").intent, Some("order_status"));
        assert_eq!(
            m.predict("Quero falar com atendente!").intent,
            Some("human")
        );
        m.tune_threshold(&[
            ("onde esta o pedido", Some("order_status")),
            ("qual a previsão do tempo amanhã", None),
        ]);
        assert!(m.predict("onde esta o pedido").intent.is_some());
    }

    #[test]
    fn learns_with_and_without_dropout_and_dropout_changes_the_fit() {
        let fit = |dropout| {
            Model::train(
                &TRAIN,
                &TrainOptions {
                    oos_class: false,
                    dropout,
                    ..TrainOptions::clinc150()
                },
            )
        };
        let (plain, noised) = (fit(0.0), fit(0.5));
        for m in [&plain, &noised] {
            assert_eq!(m.predict("cade o meu pedidoo").best, "order_status");
            assert_eq!(m.predict("quero cancelar tudo").best, "cancel");
        }
        assert_ne!(
            plain.confidences("cancel my order"),
            noised.confidences("cancel my order")
        );
    }

    #[test]
    fn unseen_features_shrink_the_vector() {
        let texts = ["where is my order", "cancel my order"];
        let norms = |unseen_norm, text| {
            let v = Vectorizer::new(
                &texts,
                &TrainOptions {
                    min_df_chars: 1,
                    unseen_norm,
                    ..Default::default()
                },
            );
            let mut n = [0.0f32; 2];
            for (i, x) in v.vectorize(text) {
                n[v.block[i as usize] as usize] += x * x;
            }
            n.map(f32::sqrt)
        };
        // All features known: unit blocks either way.
        for unseen in [false, true] {
            for n in norms(unseen, "where is my order") {
                assert!((n - 1.0).abs() < 1e-5, "{n}");
            }
        }
        // An unknown word: the known part is rescaled to unit length, unless unseen features
        // count in the norm.
        for n in norms(false, "where is my zebra") {
            assert!((n - 1.0).abs() < 1e-5, "{n}");
        }
        for n in norms(true, "where is my zebra") {
            assert!(n < 0.9, "{n}");
        }
        // Only unknown words: nothing left.
        assert_eq!(norms(true, "zzz qqq"), [0.0, 0.0]);
    }

    #[test]
    fn over_oos_measures_intents_against_the_oos_class() {
        assert_eq!(TrainOptions::default().oos_score, OosScore::Top);
        let mut m = Model::train(&with_oos(), &TrainOptions::clinc150());
        assert_eq!(m.oos_score, OosScore::OverOos);
        let oos = m.labels().iter().position(|l| l == OOS).unwrap();
        for text in ["what is the weather like", "cancel my order", "blah"] {
            let c = m.confidences(text);
            assert_eq!(c[oos], 0.0);
            let p = m.predict(text);
            assert_ne!(p.best, OOS, "{text}");
            let best = m.labels().iter().position(|l| l == p.best).unwrap();
            assert_eq!(p.confidence, c[best]);
            let (second, sc) = p.runner_up.unwrap();
            assert_ne!(second, OOS);
            assert!(sc <= p.confidence);
        }
        // Threshold 0: out of scope exactly when the `oos` class beats every intent.
        m.threshold = 0.0;
        assert_eq!(m.predict("what is the weather like").intent, None);
        assert!(m.predict("what is the weather like").confidence < 0.0);
        assert_eq!(m.predict("cancel my order").intent, Some("cancel"));
        // The top score instead: `oos` is a class like the others, and wins outright.
        m.oos_score = OosScore::Top;
        let p = m.predict("what is the weather like");
        assert_eq!((p.best, p.intent), (OOS, None));
    }

    #[test]
    fn fit_on_a_train_set_is_train_and_training_is_repeatable() {
        for opts in [TrainOptions::default(), TrainOptions::clinc150()] {
            let a = Model::train(&with_oos(), &opts);
            let b = Model::fit(&TrainSet::new(&with_oos(), &opts), &opts);
            assert_eq!(a.oos_score, opts.oos_score);
            for text in ["where is my order", "tell me a joke about zebras", "x"] {
                assert_eq!(a.confidences(text), b.confidences(text), "{text}");
            }
        }
        let opts = TrainOptions::default();
        let set = TrainSet::new(&with_oos(), &opts);
        assert_eq!(set.len(), 14);
        assert_eq!(set.labels(), ["cancel", "human", OOS, "order_status"]);
        let without = TrainSet::new(
            &with_oos(),
            &TrainOptions {
                oos_class: false,
                ..opts
            },
        );
        assert_eq!(without.len(), 10);
    }

    #[test]
    fn tuned_threshold_gives_the_accuracy_it_reports() {
        let mut m = Model::train(&with_oos(), &TrainOptions::clinc150());
        let held = [
            ("onde esta o pedido", Some("order_status")),
            ("cancela o pedido", Some("cancel")),
            ("falar com atendente", Some("human")),
            ("where's my order", Some("order_status")),
            ("como vai o tempo hoje", None),
            ("a joke please", None),
            ("what time is it", None),
        ];
        for score in [OosScore::Top, OosScore::OverOos] {
            m.oos_score = score;
            let acc = m.tune_threshold(&held);
            let right = held
                .iter()
                .filter(|(t, want)| m.predict(t).intent == *want)
                .count();
            assert_eq!(acc, right as f64 / held.len() as f64, "{score:?}");
            assert!(acc >= 4.0 / 7.0, "{score:?}: no worse than all in scope");
        }
    }

    fn q(confidence: f32, forced_oos: bool, best_right: bool, truth_oos: bool) -> Scored {
        Scored {
            confidence,
            forced_oos,
            best_right,
            truth_oos,
        }
    }

    /// How many are right with this threshold.
    fn right_at(scored: &[Scored], t: f32) -> usize {
        scored
            .iter()
            .filter(|s| {
                if s.forced_oos || s.confidence < t {
                    s.truth_oos
                } else {
                    s.best_right
                }
            })
            .count()
    }

    #[test]
    fn threshold_sweep_finds_the_best_and_the_middle_of_ties() {
        // Out of scope at 1, wrong intents at 2 and 3, a right one at 4: any threshold in
        // (1, 4] gets two right; of the candidates 1.5, 2.5 and 3.5, the middle one.
        let s = vec![
            q(3.0, false, false, false),
            q(1.0, false, false, true),
            q(4.0, false, true, false),
            q(2.0, false, false, false),
        ];
        assert_eq!(best_threshold(s.clone()), (2.5, 2));
        // Of two, the upper one.
        assert_eq!(best_threshold(s[..3].to_vec()), (3.5, 2));
        // Everything out of scope is best: the threshold goes above everything.
        let s = vec![q(1.0, false, false, true), q(2.0, false, true, true)];
        assert_eq!(best_threshold(s), (f32::INFINITY, 2));
        // Nothing out of scope is best.
        let s = vec![q(1.0, false, true, false), q(2.0, true, false, true)];
        assert_eq!(best_threshold(s), (f32::NEG_INFINITY, 2));
        assert_eq!(best_threshold(vec![]), (f32::NEG_INFINITY, 0));
        // Answering all ties with answering nothing (two separate runs): the lower one.
        let s = vec![q(1.0, false, true, false), q(2.0, false, false, true)];
        assert_eq!(best_threshold(s), (f32::NEG_INFINITY, 1));
    }

    #[test]
    fn threshold_sweep_agrees_with_counting_every_candidate() {
        let mut rng = Rng(0x5eed);
        for round in 0..200 {
            let n = 1 + round % 40;
            let scored: Vec<Scored> = (0..n)
                .map(|_| {
                    let r = rng.next();
                    // Few distinct confidences, so that there are ties.
                    let c = (r % 7) as f32 * 0.5 - 1.0;
                    q(c, r >> 8 & 7 == 0, r >> 12 & 1 == 1, r >> 16 & 3 == 0)
                })
                .collect();
            let (t, right) = best_threshold(scored.clone());
            assert_eq!(right_at(&scored, t), right, "{scored:?}");
            let mut cands: Vec<f32> = scored.iter().map(|s| s.confidence).collect();
            cands.extend([f32::NEG_INFINITY, f32::INFINITY]);
            let brute = cands
                .iter()
                .map(|&c| right_at(&scored, c).max(right_at(&scored, c + 0.25)))
                .max()
                .unwrap();
            assert_eq!(right, brute, "{scored:?}");
        }
    }
}
