//! Taints and tolerations, and upstream's `ToleratesTaint` matching rule.

use crate::intern::Symbol;

/// A taint's effect.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TaintEffect {
    /// `NoSchedule`: new pods that do not tolerate it are not scheduled here.
    NoSchedule,
    /// `PreferNoSchedule`: the scheduler tries to avoid the node.
    PreferNoSchedule,
    /// `NoExecute`: like `NoSchedule`, and running pods that do not tolerate it are evicted.
    NoExecute,
}

impl TaintEffect {
    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<TaintEffect> {
        match s {
            "NoSchedule" => Some(TaintEffect::NoSchedule),
            "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
            "NoExecute" => Some(TaintEffect::NoExecute),
            _ => None,
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }

    /// `NoSchedule` or `NoExecute`: the effects the TaintToleration filter enforces.
    pub fn is_hard(self) -> bool {
        matches!(self, TaintEffect::NoSchedule | TaintEffect::NoExecute)
    }
}

/// A node taint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Taint {
    /// Taint key.
    pub key: Symbol,
    /// Taint value (the empty symbol when absent).
    pub value: Symbol,
    /// Effect.
    pub effect: TaintEffect,
}

/// A toleration's operator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum TolerationOperator {
    /// `Equal` (also the empty operator): the values must be equal.
    #[default]
    Equal,
    /// `Exists`: any value.
    Exists,
    /// `Lt`: alpha in 1.36 (`TaintTolerationComparisonOperators`, off by default), so it tolerates nothing.
    Lt,
    /// `Gt`: alpha in 1.36 (`TaintTolerationComparisonOperators`, off by default), so it tolerates nothing.
    Gt,
}

impl TolerationOperator {
    /// Parses the API spelling; the empty string is `Equal`.
    pub fn parse(s: &str) -> Option<TolerationOperator> {
        match s {
            "" | "Equal" => Some(TolerationOperator::Equal),
            "Exists" => Some(TolerationOperator::Exists),
            "Lt" => Some(TolerationOperator::Lt),
            "Gt" => Some(TolerationOperator::Gt),
            _ => None,
        }
    }
}

/// A pod toleration, compiled.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Toleration {
    /// Key; `None` (an empty key) matches every key.
    pub key: Option<Symbol>,
    /// Operator.
    pub operator: TolerationOperator,
    /// Value (the empty symbol when absent).
    pub value: Symbol,
    /// Effect; `None` (an empty effect) matches every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// Upstream `Toleration.ToleratesTaint` with comparison operators disabled (their 1.36 default).
    #[inline]
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if self.key.is_some_and(|k| k != taint.key) {
            return false;
        }
        match self.operator {
            TolerationOperator::Equal => self.value == taint.value,
            TolerationOperator::Exists => true,
            TolerationOperator::Lt | TolerationOperator::Gt => false,
        }
    }
}

/// Whether any of `tolerations` tolerates `taint` (upstream `TolerationsTolerateTaint`).
#[inline]
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::Interner;

    fn taint(i: &mut Interner, key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint { key: i.intern(key), value: i.intern(value), effect }
    }

    fn tol(i: &mut Interner, key: &str, op: TolerationOperator, value: &str, effect: Option<TaintEffect>) -> Toleration {
        Toleration { key: (!key.is_empty()).then(|| i.intern(key)), operator: op, value: i.intern(value), effect }
    }

    #[test]
    fn toleration_rules() {
        use TaintEffect::*;
        use TolerationOperator::*;
        let i = &mut Interner::new();
        let t = taint(i, "gpu", "true", NoSchedule);
        let check = |tol: Toleration, want: bool| assert_eq!(tol.tolerates(&t), want, "{tol:?}");
        check(tol(i, "gpu", Equal, "true", Some(NoSchedule)), true);
        check(tol(i, "gpu", Equal, "true", None), true);
        check(tol(i, "gpu", Equal, "false", None), false);
        check(tol(i, "gpu", Exists, "", None), true);
        check(tol(i, "", Exists, "", None), true);
        check(tol(i, "", Exists, "", Some(NoExecute)), false);
        check(tol(i, "other", Exists, "", None), false);
        check(tol(i, "gpu", Equal, "true", Some(PreferNoSchedule)), false);
        check(tol(i, "gpu", Gt, "1", None), false);
        check(tol(i, "gpu", Lt, "1", None), false);
    }
}
