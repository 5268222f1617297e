//! A Bloom filter of every identifier in the store, so the writer knows a new identifier is new
//! without a look-up that would find nothing. False positives only cost that look-up; there are no
//! false negatives, since identifiers are only ever added (erased ones merely linger as positives).

use concierge_types::Identifier;
use std::hash::{Hash, Hasher};

const BITS_PER_ITEM: usize = 10;
const HASHES: u64 = 7;

pub(crate) struct Bloom {
    bits: Vec<u64>,
    items: usize,
    capacity: usize,
}

impl Bloom {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1 << 16);
        let words = (capacity * BITS_PER_ITEM).div_ceil(64);
        Bloom {
            bits: vec![0; words],
            items: 0,
            capacity,
        }
    }

    fn positions(&self, id: &Identifier) -> impl Iterator<Item = usize> {
        let mut h = std::hash::DefaultHasher::new();
        id.hash(&mut h);
        let h1 = h.finish();
        let h2 = h1.rotate_left(32) | 1;
        let m = (self.bits.len() * 64) as u64;
        (0..HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    pub(crate) fn insert(&mut self, id: &Identifier) {
        let positions: Vec<usize> = self.positions(id).collect();
        for p in positions {
            self.bits[p / 64] |= 1 << (p % 64);
        }
        self.items += 1;
    }

    pub(crate) fn may_contain(&self, id: &Identifier) -> bool {
        self.positions(id)
            .all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }

    /// Past its capacity the false-positive rate climbs; the owner then rebuilds it bigger.
    pub(crate) fn is_full(&self) -> bool {
        self.items > self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concierge_types::IdentifierKind;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut b = Bloom::with_capacity(100_000);
        let id = |i: usize| {
            Identifier::from_stored(IdentifierKind::Email, format!("person{i}@example.com"))
        };
        for i in 0..100_000 {
            b.insert(&id(i));
        }
        assert!((0..100_000).all(|i| b.may_contain(&id(i))));
        let false_positives = (100_000..200_000)
            .filter(|i| b.may_contain(&id(*i)))
            .count();
        assert!(
            false_positives < 2_000,
            "{false_positives} false positives in 100,000"
        );
        assert!(!b.is_full());
    }
}
