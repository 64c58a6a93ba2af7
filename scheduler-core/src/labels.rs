//! Label sets as sorted (key, value) symbol pairs.

use smallvec::SmallVec;

use crate::intern::{Interner, Symbol};

/// A set of labels, sorted by key, each key at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(SmallVec<[(Symbol, Symbol); 4]>);

impl Labels {
    /// Interns `pairs`; a repeated key keeps its last value, as a YAML or JSON map would.
    pub fn new<'a>(interner: &mut Interner, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        let mut labels = Labels::default();
        for (key, value) in pairs {
            labels.insert(interner.intern(key), interner.intern(value));
        }
        labels
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: Symbol, value: Symbol) {
        match self.0.binary_search_by_key(&key, |&(k, _)| k) {
            Ok(idx) => self.0[idx].1 = value,
            Err(idx) => self.0.insert(idx, (key, value)),
        }
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: Symbol) -> Option<Symbol> {
        // Label sets are small: a linear scan beats a binary search.
        self.0.iter().find(|&&(k, _)| k == key).map(|&(_, v)| v)
    }

    /// Whether `key` is present.
    #[inline]
    pub fn has(&self, key: Symbol) -> bool {
        self.get(key).is_some()
    }

    /// The (key, value) pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (Symbol, Symbol)> + '_ {
        self.0.iter().copied()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every pair of `subset` is in `self` (a `nodeSelector` match).
    pub fn contains_all(&self, subset: &Labels) -> bool {
        subset.iter().all(|(k, v)| self.get(k) == Some(v))
    }
}
