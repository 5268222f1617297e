//! Text normalisation and features for intent recognition.
//!
//! Customers write without accents, with typos and abbreviations, so features are built on a
//! folded form (lower case, accents removed) and include character n-grams inside words
//! (`char_wb` 2–5), which survive typos, plus words and word pairs.

/// Lower-cases and folds Latin accents (`Não` → `nao`); keeps other scripts as they are.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let f = match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        };
        out.push(f);
    }
    out
}

/// Words: runs of letters and digits.
pub fn words(folded: &str) -> Vec<&str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The features of a text, as strings: `w:word`, `b:word word`, `c: ab` (char n-grams of each
/// word padded with spaces, n = 2..=5).
pub fn features(text: &str, mut emit: impl FnMut(Feature<'_>)) {
    let folded = fold(text);
    let ws = words(&folded);
    for w in &ws {
        emit(Feature::Word(w));
    }
    for pair in ws.windows(2) {
        emit(Feature::Pair(pair[0], pair[1]));
    }
    let mut padded = String::new();
    for w in &ws {
        padded.clear();
        padded.push(' ');
        padded.push_str(w);
        padded.push(' ');
        let idx: Vec<usize> = padded
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(padded.len()))
            .collect();
        let chars = idx.len() - 1;
        for n in 2..=5 {
            if n > chars {
                break;
            }
            for s in 0..=chars - n {
                emit(Feature::Chars(&padded[idx[s]..idx[s + n]]));
            }
        }
    }
}

/// One feature of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature<'a> {
    Word(&'a str),
    Pair(&'a str, &'a str),
    Chars(&'a str),
}

impl Feature<'_> {
    /// Which block (words, char n-grams) the feature belongs to: each block is L2-normalised on
    /// its own, as two vectorisers side by side would be.
    pub fn block(&self) -> usize {
        match self {
            Feature::Word(_) | Feature::Pair(..) => 0,
            Feature::Chars(_) => 1,
        }
    }
    pub fn key(&self) -> String {
        match self {
            Feature::Word(w) => format!("w:{w}"),
            Feature::Pair(a, b) => format!("b:{a} {b}"),
            Feature::Chars(c) => format!("c:{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_splits() {
        assert_eq!(fold("Não SEI, Você?"), "nao sei, voce?");
        assert_eq!(words("nao sei, voce?"), ["nao", "sei", "voce"]);
        let mut f = Vec::new();
        features("Oi vc", |x| f.push(x.key()));
        assert!(f.contains(&"w:oi".to_string()));
        assert!(f.contains(&"b:oi vc".to_string()));
        assert!(f.contains(&"c: o".to_string()));
        assert!(f.contains(&"c: vc ".to_string()));
        // Other scripts are kept whole, never split inside a character.
        let mut g = Vec::new();
        features("שלום مرحبا", |x| g.push(x.key()));
        assert!(g.contains(&"w:שלום".to_string()));
    }
}
