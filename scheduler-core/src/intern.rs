//! String interning: label keys and values, namespaces, resource names and taint keys become `Symbol`s once.

use foldhash::HashMap;
use foldhash::HashMapExt;

/// An interned string. Comparing two symbols is comparing two `u32`s.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Symbol(u32);

impl Symbol {
    /// The symbol's index in its interner.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Well-known strings, interned at fixed indices by every [`Interner`] so that plugins can name them as constants.
pub mod well_known {
    use super::Symbol;

    /// The empty string.
    pub const EMPTY: Symbol = Symbol(0);
    /// Resource `cpu`.
    pub const CPU: Symbol = Symbol(1);
    /// Resource `memory`.
    pub const MEMORY: Symbol = Symbol(2);
    /// Resource `ephemeral-storage`.
    pub const EPHEMERAL_STORAGE: Symbol = Symbol(3);
    /// Resource `pods`.
    pub const PODS: Symbol = Symbol(4);
    /// Label `kubernetes.io/hostname`.
    pub const LABEL_HOSTNAME: Symbol = Symbol(5);
    /// Label `topology.kubernetes.io/zone`.
    pub const LABEL_ZONE: Symbol = Symbol(6);
    /// Label `topology.kubernetes.io/region`.
    pub const LABEL_REGION: Symbol = Symbol(7);
    /// Deprecated label `failure-domain.beta.kubernetes.io/zone`, preferred by the scheduler's node tree.
    pub const LABEL_ZONE_BETA: Symbol = Symbol(8);
    /// Deprecated label `failure-domain.beta.kubernetes.io/region`, preferred by the scheduler's node tree.
    pub const LABEL_REGION_BETA: Symbol = Symbol(9);
    /// Taint key `node.kubernetes.io/unschedulable`.
    pub const TAINT_UNSCHEDULABLE: Symbol = Symbol(10);
    /// Namespace `default`.
    pub const NAMESPACE_DEFAULT: Symbol = Symbol(11);
    /// Scheduler name `default-scheduler`.
    pub const DEFAULT_SCHEDULER: Symbol = Symbol(12);
    /// Host IP `0.0.0.0`, the wildcard of host ports.
    pub const WILDCARD_IP: Symbol = Symbol(13);
    /// Protocol `TCP`.
    pub const TCP: Symbol = Symbol(14);
    /// Label `kubernetes.io/metadata.name`, which the API server sets on every namespace to its name.
    pub const LABEL_METADATA_NAME: Symbol = Symbol(15);
    /// Resource `nvidia.com/gpu` (whole GPUs).
    pub const GPU: Symbol = Symbol(16);
    /// Resource `alibabacloud.com/gpu-milli` (thousandths of a GPU).
    pub const GPU_MILLI: Symbol = Symbol(17);
    /// Label `alibabacloud.com/gpu-card-model` (a node's GPU model).
    pub const LABEL_GPU_MODEL: Symbol = Symbol(18);

    pub(super) const ALL: [&str; 19] = [
        "",
        "cpu",
        "memory",
        "ephemeral-storage",
        "pods",
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "node.kubernetes.io/unschedulable",
        "default",
        "default-scheduler",
        "0.0.0.0",
        "TCP",
        "kubernetes.io/metadata.name",
        crate::gpu::GPU_RESOURCE,
        crate::gpu::GPU_MILLI_RESOURCE,
        crate::gpu::GPU_MODEL_LABEL,
    ];
}

/// Maps strings to [`Symbol`]s and back. Append-only: a symbol stays valid for the interner's lifetime.
///
/// Each string's value as a base-10 `int64` (Go's `strconv.ParseInt(s, 10, 64)`) is computed once at interning,
/// so that `Gt`/`Lt` selector operators compare integers without parsing in the hot loop.
#[derive(Clone, Debug)]
pub struct Interner {
    map: HashMap<Box<str>, Symbol>,
    strings: Vec<Box<str>>,
    ints: Vec<Option<i64>>,
}

impl Default for Interner {
    fn default() -> Self {
        Self::new()
    }
}

impl Interner {
    /// An interner holding the [`well_known`] strings at their fixed indices.
    pub fn new() -> Self {
        let mut interner = Interner { map: HashMap::with_capacity(1024), strings: Vec::new(), ints: Vec::new() };
        for s in well_known::ALL {
            interner.intern(s);
        }
        interner
    }

    /// The symbol for `s`, adding it if it is new.
    pub fn intern(&mut self, s: &str) -> Symbol {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = Symbol(u32::try_from(self.strings.len()).expect("more than 2^32 distinct strings"));
        self.map.insert(s.into(), sym);
        self.strings.push(s.into());
        self.ints.push(parse_go_int64(s));
        sym
    }

    /// The symbol for `s` if it has been interned.
    pub fn get(&self, s: &str) -> Option<Symbol> {
        self.map.get(s).copied()
    }

    /// The string of `sym`.
    ///
    /// # Panics
    /// If `sym` came from another interner with more strings than this one.
    pub fn resolve(&self, sym: Symbol) -> &str {
        &self.strings[sym.index()]
    }

    /// The string as a base-10 `int64`, if it is one.
    pub fn int_value(&self, sym: Symbol) -> Option<i64> {
        self.ints[sym.index()]
    }

    /// Number of interned strings.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Always false: the well-known strings are always present.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, at least one ASCII digit, no spaces, no overflow.
pub fn parse_go_int64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_symbols_are_at_their_indices() {
        let interner = Interner::new();
        assert_eq!(interner.resolve(well_known::CPU), "cpu");
        assert_eq!(interner.resolve(well_known::LABEL_HOSTNAME), "kubernetes.io/hostname");
        assert_eq!(interner.resolve(well_known::DEFAULT_SCHEDULER), "default-scheduler");
        assert_eq!(interner.get("node.kubernetes.io/unschedulable"), Some(well_known::TAINT_UNSCHEDULABLE));
    }

    #[test]
    fn interning_twice_gives_the_same_symbol() {
        let mut interner = Interner::new();
        let a = interner.intern("app");
        assert_eq!(interner.intern("app"), a);
        assert_ne!(interner.intern("web"), a);
    }

    #[test]
    fn go_int64_parsing() {
        let check = |s: &str, want: Option<i64>| assert_eq!(parse_go_int64(s), want, "{s:?}");
        check("42", Some(42));
        check("-7", Some(-7));
        check("+7", Some(7));
        check("", None);
        check("-", None);
        check(" 1", None);
        check("1.0", None);
        check("9223372036854775807", Some(i64::MAX));
        check("9223372036854775808", None);
    }
}
