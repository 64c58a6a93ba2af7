//! PodDisruptionBudgets, as DefaultPreemption reads them: a namespace, a selector, and how many of the
//! selected pods may be disrupted now (`status.disruptionsAllowed`).
//!
//! A budget given with its status uses that number as it is (a snapshot of a real cluster). A budget given
//! without one has it computed from its spec over the pods bound now, the way the disruption controller
//! computes it, with one simplification: the expected number of pods is the number the selector matches,
//! not the scale of the owning controller (the same once every replica exists).

use crate::error::ModelError;
use crate::intern::{Interner, Symbol, well_known};
use crate::selector::{LabelSelector, LabelSelectorDef};

/// `intstr.IntOrString` as PDBs use it: a number of pods or a percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    /// A number of pods.
    Int(i32),
    /// A percentage (`"25%"`).
    Percent(i32),
}

impl IntOrPercent {
    /// Parses the string form (`"25%"`); a bare number in a string is refused, as the API server does.
    pub fn parse_percent(s: &str) -> Option<IntOrPercent> {
        let digits = s.strip_suffix('%')?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok().map(IntOrPercent::Percent))?
    }

    /// Upstream `GetScaledValueFromIntOrPercent(v, total, roundUp)`.
    fn scaled(self, total: i64, round_up: bool) -> i64 {
        match self {
            IntOrPercent::Int(n) => i64::from(n),
            IntOrPercent::Percent(p) => {
                let product = i64::from(p) * total;
                if round_up { (product + 99).div_euclid(100) } else { product.div_euclid(100) }
            }
        }
    }
}

/// A `policy/v1` PodDisruptionBudget as plain data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodDisruptionBudgetDef {
    /// `metadata.namespace`; empty means `default`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.selector`; absent selects nothing.
    pub selector: Option<LabelSelectorDef>,
    /// `spec.minAvailable`.
    pub min_available: Option<IntOrPercent>,
    /// `spec.maxUnavailable`.
    pub max_unavailable: Option<IntOrPercent>,
    /// `status.disruptionsAllowed`; absent: computed from the spec.
    pub disruptions_allowed: Option<i32>,
    /// `status.disruptedPods` (pod names): pods already being disrupted, not counted again.
    pub disrupted_pods: Vec<String>,
}

/// A compiled PodDisruptionBudget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodDisruptionBudget {
    /// Namespace.
    pub namespace: Symbol,
    /// Name.
    pub name: Box<str>,
    /// The selector; `None` for an absent one.
    pub selector: Option<LabelSelector>,
    /// `spec.minAvailable`.
    pub min_available: Option<IntOrPercent>,
    /// `spec.maxUnavailable`.
    pub max_unavailable: Option<IntOrPercent>,
    /// `status.disruptionsAllowed`, when given.
    pub disruptions_allowed: Option<i32>,
    /// `status.disruptedPods`.
    pub disrupted_pods: Vec<Box<str>>,
}

impl PodDisruptionBudget {
    /// Compiles `def`, checking what the API server checks of these fields.
    pub fn compile(def: &PodDisruptionBudgetDef, interner: &mut Interner) -> Result<PodDisruptionBudget, ModelError> {
        if def.name.is_empty() {
            return Err(ModelError::new("metadata.name", "is required"));
        }
        if def.min_available.is_some() && def.max_unavailable.is_some() {
            return Err(ModelError::new("spec", "minAvailable and maxUnavailable cannot be both set"));
        }
        for (field, value) in [("spec.minAvailable", def.min_available), ("spec.maxUnavailable", def.max_unavailable)] {
            match value {
                Some(IntOrPercent::Int(n)) if n < 0 => return Err(ModelError::new(field, "must be greater than or equal to 0")),
                Some(IntOrPercent::Percent(p)) if !(0..=100).contains(&p) => {
                    return Err(ModelError::new(field, "must not be greater than 100%"));
                }
                _ => {}
            }
        }
        let selector = def.selector.as_ref().map(|s| LabelSelector::compile(Some(s), interner, "spec.selector")).transpose()?;
        Ok(PodDisruptionBudget {
            namespace: if def.namespace.is_empty() { well_known::NAMESPACE_DEFAULT } else { interner.intern(&def.namespace) },
            name: def.name.as_str().into(),
            selector,
            min_available: def.min_available,
            max_unavailable: def.max_unavailable,
            disruptions_allowed: def.disruptions_allowed,
            disrupted_pods: def.disrupted_pods.iter().map(|p| p.as_str().into()).collect(),
        })
    }

    /// Whether the budget covers a pod in `namespace` with `labels`, as preemption decides it: same
    /// namespace and a selector with at least one requirement that matches (an empty or absent selector
    /// covers nothing there).
    pub fn covers(&self, namespace: Symbol, labels: &crate::labels::Labels) -> bool {
        namespace == self.namespace && matches!(&self.selector, Some(s @ LabelSelector::All(reqs)) if !reqs.is_empty() && s.matches(labels))
    }

    /// The disruption controller's `disruptionsAllowed` for `expected` selected pods of which `healthy` are
    /// running and not terminating: `healthy − desiredHealthy`, at least 0. Without `minAvailable` or
    /// `maxUnavailable`, every healthy pod may go.
    pub fn computed_disruptions_allowed(&self, expected: i64, healthy: i64) -> i32 {
        let desired_healthy = match (self.min_available, self.max_unavailable) {
            (Some(min), _) => min.scaled(expected, true),
            (None, Some(max)) => expected - max.scaled(expected, true),
            (None, None) => 0,
        };
        (healthy - desired_healthy).clamp(0, i64::from(i32::MAX)) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb(min: Option<IntOrPercent>, max: Option<IntOrPercent>) -> PodDisruptionBudget {
        let def = PodDisruptionBudgetDef { name: "b".into(), min_available: min, max_unavailable: max, ..Default::default() };
        PodDisruptionBudget::compile(&def, &mut Interner::new()).unwrap()
    }

    #[test]
    fn disruptions_allowed_follow_the_disruption_controller() {
        use IntOrPercent::{Int, Percent};
        assert_eq!(pdb(Some(Int(2)), None).computed_disruptions_allowed(4, 4), 2);
        assert_eq!(pdb(Some(Int(2)), None).computed_disruptions_allowed(4, 1), 0);
        // 50 % of 3 rounds up to 2 pods that must stay.
        assert_eq!(pdb(Some(Percent(50)), None).computed_disruptions_allowed(3, 3), 1);
        assert_eq!(pdb(None, Some(Int(1))).computed_disruptions_allowed(3, 3), 1);
        assert_eq!(pdb(None, Some(Int(1))).computed_disruptions_allowed(3, 2), 0);
        // maxUnavailable 25 % of 5 rounds up to 2.
        assert_eq!(pdb(None, Some(Percent(25))).computed_disruptions_allowed(5, 5), 2);
        assert_eq!(pdb(None, None).computed_disruptions_allowed(3, 3), 3);
    }

    #[test]
    fn the_api_servers_checks() {
        let mut interner = Interner::new();
        let bad = |def: PodDisruptionBudgetDef| PodDisruptionBudget::compile(&def, &mut Interner::new()).unwrap_err().to_string();
        let named = || PodDisruptionBudgetDef { name: "b".into(), ..Default::default() };
        assert_eq!(bad(PodDisruptionBudgetDef::default()), "metadata.name: is required");
        assert_eq!(
            bad(PodDisruptionBudgetDef {
                min_available: Some(IntOrPercent::Int(1)),
                max_unavailable: Some(IntOrPercent::Int(1)),
                ..named()
            }),
            "spec: minAvailable and maxUnavailable cannot be both set"
        );
        assert_eq!(
            bad(PodDisruptionBudgetDef { min_available: Some(IntOrPercent::Int(-1)), ..named() }),
            "spec.minAvailable: must be greater than or equal to 0"
        );
        assert_eq!(
            bad(PodDisruptionBudgetDef { max_unavailable: Some(IntOrPercent::Percent(101)), ..named() }),
            "spec.maxUnavailable: must not be greater than 100%"
        );
        assert_eq!(IntOrPercent::parse_percent("25%"), Some(IntOrPercent::Percent(25)));
        assert_eq!(IntOrPercent::parse_percent("25"), None);
        assert_eq!(IntOrPercent::parse_percent("%"), None);
        let empty =
            PodDisruptionBudget::compile(&PodDisruptionBudgetDef { selector: Some(LabelSelectorDef::default()), ..named() }, &mut interner)
                .unwrap();
        let labels = crate::labels::Labels::new(&mut interner, [("app", "web")]);
        assert!(!empty.covers(well_known::NAMESPACE_DEFAULT, &labels), "an empty selector covers nothing in preemption");
        let web = PodDisruptionBudgetDef {
            selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "web".into())], ..Default::default() }),
            ..named()
        };
        let web = PodDisruptionBudget::compile(&web, &mut interner).unwrap();
        assert!(web.covers(well_known::NAMESPACE_DEFAULT, &labels));
        assert!(!web.covers(interner.intern("other"), &labels));
    }
}
