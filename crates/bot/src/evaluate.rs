//! Measuring a bot definition on a held-aside test file: `{"pt-BR": [["text", "intent" or null],
//! …], "en": […]}`, `null` meaning the bot must not answer (out of scope).

use crate::engine::Bot;
use serde::Serialize;
use std::collections::BTreeMap;

pub type TestSet = BTreeMap<String, Vec<(String, Option<String>)>>;

pub fn parse_test_set(json: &str) -> Result<TestSet, String> {
    serde_json::from_str(json).map_err(|e| {
        format!("expected {{\"<language>\": [[\"text\", \"intent\" or null], …]}}: {e}")
    })
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Score {
    pub cases: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// In-scope cases answered with the right intent.
    pub in_scope_accuracy: f64,
    /// Out-of-scope cases the bot declined.
    pub out_of_scope_recall: f64,
    /// Cases whose two best intents were too close to call (the bot would hand over).
    pub too_close: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub overall: Score,
    pub by_language: BTreeMap<String, Score>,
    /// `(language, text, expected, got)` of each miss.
    pub misses: Vec<(String, String, Option<String>, Option<String>)>,
}

pub fn evaluate(bot: &Bot, set: &TestSet) -> Evaluation {
    let mut by_language = BTreeMap::new();
    let mut all = Tally::default();
    let mut misses = Vec::new();
    for (lang, cases) in set {
        let mut t = Tally::default();
        for (text, want) in cases {
            let r = bot.classify(text);
            let close = match &r.runner_up {
                Some((o, c)) => {
                    r.intent.is_some()
                        && o != crate::intent::OOS
                        && r.confidence - c < bot.def.thresholds.margin
                }
                None => false,
            };
            let ok = r.intent == *want;
            t.add(want.is_some(), ok, close);
            all.add(want.is_some(), ok, close);
            if !ok {
                misses.push((lang.clone(), text.clone(), want.clone(), r.intent.clone()));
            }
        }
        by_language.insert(lang.clone(), t.score());
    }
    Evaluation {
        overall: all.score(),
        by_language,
        misses,
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    correct: usize,
    in_scope: (usize, usize),
    oos: (usize, usize),
    close: usize,
}

impl Tally {
    fn add(&mut self, in_scope: bool, ok: bool, close: bool) {
        self.cases += 1;
        self.correct += ok as usize;
        self.close += close as usize;
        let part = if in_scope {
            &mut self.in_scope
        } else {
            &mut self.oos
        };
        part.0 += ok as usize;
        part.1 += 1;
    }
    fn score(&self) -> Score {
        let r = |(a, b): (usize, usize)| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Score {
            cases: self.cases,
            correct: self.correct,
            accuracy: r((self.correct, self.cases)),
            in_scope_accuracy: r(self.in_scope),
            out_of_scope_recall: r(self.oos),
            too_close: self.close,
        }
    }
}
