//! Intent recognition: TF-IDF features (words, word pairs, character n-grams inside words, with
//! sublinear term frequency, each block L2-normalised) and a linear model trained by SGD with the
//! weights of the later epochs averaged: a multiclass linear SVM (Crammer-Singer hinge loss) by
//! default, or a multinomial logistic regression. A query whose top confidence is below a
//! threshold tuned on held-out data is out of scope (the bot's cue to hand over rather than
//! guess).

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
}

impl Default for TrainOptions {
    fn default() -> Self {
        // Chosen on CLINC150's validation split (see the README's bot section).
        TrainOptions {
            epochs: 16,
            min_df_chars: 2,
            learning_rate: 0.1,
            l2: 1e-5,
            oos_class: true,
            hinge: true,
            oos_repeat: 1,
            seed: 0x1e57,
        }
    }
}

/// A trained model.
pub struct Model {
    vocab: Map<String, u32>,
    idf: Vec<f32>,
    block: Vec<u8>,
    labels: Vec<String>,
    /// Feature-major: `weights[f * classes + c]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// Below this top confidence, a query is out of scope.
    pub threshold: f32,
    /// Trained with the hinge loss: confidences are decision values, not probabilities.
    hinge: bool,
}

/// What the model makes of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction<'a> {
    /// `None` when out of scope (below the threshold, or the `oos` class won).
    pub intent: Option<&'a str>,
    pub confidence: f32,
    /// The best intent even when out of scope, and the runner-up: two close intents are a reason
    /// to ask or hand over.
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
        let examples: Vec<(&str, &str)> = examples
            .iter()
            .copied()
            .filter(|(_, l)| opts.oos_class || *l != OOS)
            .collect();
        // Vocabulary and document frequencies.
        let mut df: Map<String, (u32, u8)> = Map::default();
        for (text, _) in &examples {
            let mut seen: Map<String, u8> = Map::default();
            features(text, |f| {
                seen.insert(f.key(), f.block() as u8);
            });
            for (k, b) in seen {
                df.entry(k).or_insert((0, b)).0 += 1;
            }
        }
        let n = examples.len() as f32;
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
        let mut labels: Vec<String> = examples.iter().map(|(_, l)| l.to_string()).collect();
        labels.sort_unstable();
        labels.dedup();
        let index: Map<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let classes = labels.len();
        let mut model = Model {
            vocab,
            idf,
            block,
            weights: vec![0.0; 0],
            bias: vec![0.0; classes],
            labels: labels.clone(),
            threshold: 0.0,
            hinge: opts.hinge,
        };
        model.weights = vec![0.0; model.idf.len() * classes];
        let data: Vec<(Vec<(u32, f32)>, usize)> = examples
            .iter()
            .map(|(t, l)| (model.vectorize(t), index[l]))
            .collect();
        let oos_index = index.get(OOS).copied();
        let mut order: Vec<usize> = (0..data.len())
            .flat_map(|i| {
                let k = if Some(data[i].1) == oos_index {
                    opts.oos_repeat.max(1)
                } else {
                    1
                };
                std::iter::repeat_n(i, k)
            })
            .collect();
        let mut rng = Rng(opts.seed | 1);
        let mut scores = vec![0.0f32; classes];
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
                let (x, y) = &data[i];
                let lr = opts.learning_rate
                    / (1.0 + step as f32 * opts.learning_rate * opts.l2 * 50.0).sqrt();
                step += 1;
                model.raw_scores(x, scale, &mut scores);
                if opts.hinge {
                    // Crammer-Singer: push the true class a margin above the best wrong one.
                    let (mut j, mut sj) = (usize::MAX, f32::NEG_INFINITY);
                    for (c, &s) in scores.iter().enumerate() {
                        if c != *y && s > sj {
                            (j, sj) = (c, s);
                        }
                    }
                    let violated = j != usize::MAX && scores[*y] - sj < 1.0;
                    scores.iter_mut().for_each(|s| *s = 0.0);
                    if violated {
                        scores[*y] = -1.0;
                        scores[j] = 1.0;
                    }
                } else {
                    softmax(&mut scores);
                    scores[*y] -= 1.0;
                }
                scale *= 1.0 - lr * opts.l2;
                if scale < 1e-3 {
                    for w in &mut model.weights {
                        *w *= scale;
                    }
                    scale = 1.0;
                }
                let step_size = lr / scale;
                for &(f, v) in x {
                    let row = &mut model.weights[f as usize * classes..(f as usize + 1) * classes];
                    for (w, g) in row.iter_mut().zip(&scores) {
                        *w -= step_size * v * g;
                    }
                }
                for (b, g) in model.bias.iter_mut().zip(&scores) {
                    *b -= lr * g;
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

    /// The text as a sparse TF-IDF vector, each block L2-normalised.
    fn vectorize(&self, text: &str) -> Vec<(u32, f32)> {
        let mut counts: Map<u32, f32> = Map::default();
        features(text, |f: Feature<'_>| {
            if let Some(&i) = self.vocab.get(&f.key()) {
                *counts.entry(i).or_default() += 1.0;
            }
        });
        let mut v: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(i, tf)| (i, (1.0 + tf.ln()) * self.idf[i as usize]))
            .collect();
        let mut norms = [0.0f32; 2];
        for (i, x) in &v {
            norms[self.block[*i as usize] as usize] += x * x;
        }
        for (i, x) in &mut v {
            let n = norms[self.block[*i as usize] as usize].sqrt();
            if n > 0.0 {
                *x /= n;
            }
        }
        v.sort_unstable_by_key(|(i, _)| *i);
        v
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

    /// Per-class confidences for `text`, in the order of [`Model::labels`]: probabilities for a
    /// logistic model, decision values for a hinge-loss one.
    pub fn confidences(&self, text: &str) -> Vec<f32> {
        let mut s = vec![0.0; self.labels.len()];
        self.raw_scores(&self.vectorize(text), 1.0, &mut s);
        if !self.hinge {
            softmax(&mut s);
        }
        s
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn predict(&self, text: &str) -> Prediction<'_> {
        let p = self.confidences(text);
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_unstable_by(|a, b| p[*b].total_cmp(&p[*a]));
        let best = order[0];
        let label = self.labels[best].as_str();
        let intent = (label != OOS && p[best] >= self.threshold).then_some(label);
        Prediction {
            intent,
            confidence: p[best],
            best: label,
            runner_up: order.get(1).map(|&i| (self.labels[i].as_str(), p[i])),
        }
    }

    /// Sets the threshold that maximises accuracy over `held_out` (`None` = out of scope),
    /// counting out of scope as one more class: the rule of the CLINC150 paper. Returns that
    /// accuracy.
    pub fn tune_threshold(&mut self, held_out: &[(&str, Option<&str>)]) -> f64 {
        self.threshold = f32::NEG_INFINITY;
        // (confidence, the best class is `oos`, the best class is right, the truth is out of scope)
        let scored: Vec<(f32, bool, bool, bool)> = held_out
            .iter()
            .map(|(t, want)| {
                let p = self.predict(t);
                let oos_class = p.best == OOS;
                (
                    p.confidence,
                    oos_class,
                    !oos_class && Some(p.best) == *want,
                    want.is_none(),
                )
            })
            .collect();
        let mut cands: Vec<f32> = scored.iter().map(|s| s.0).collect();
        cands.push(f32::NEG_INFINITY);
        cands.sort_unstable_by(f32::total_cmp);
        cands.dedup();
        let mut best = (0usize, f32::NEG_INFINITY);
        for &t in &cands {
            let right = scored
                .iter()
                .filter(|(c, oos_class, best_right, truth_oos)| {
                    if *c < t || *oos_class {
                        *truth_oos
                    } else {
                        *best_right
                    }
                })
                .count();
            if right > best.0 {
                best = (right, t);
            }
        }
        self.threshold = best.1;
        best.0 as f64 / held_out.len().max(1) as f64
    }
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

    #[test]
    fn learns_a_small_task_and_refuses_the_unknown() {
        let train = [
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
        let mut m = Model::train(
            &train,
            &TrainOptions {
                oos_class: false,
                ..Default::default()
            },
        );
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
}
