//! Pod topology spread constraints (`spec.topologySpreadConstraints`): the data a pod carries, checked as
//! the API server checks it (`validateTopologySpreadConstraints`), and compiled with the scheduler's defaults
//! (`minDomains` 1, `nodeAffinityPolicy: Honor`, `nodeTaintsPolicy: Ignore`) and `matchLabelKeys` merged into
//! the selector.
//!
//! The `plugins` crate's PodTopologySpread evaluates them.

use crate::error::ModelError;
use crate::intern::{Interner, Symbol};
use crate::resources::is_qualified_name;
use crate::selector::{LabelOperator, LabelSelector, LabelSelectorDef, LabelSelectorRequirementDef};

/// `whenUnsatisfiable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WhenUnsatisfiable {
    /// A hard constraint: Filter.
    DoNotSchedule,
    /// A soft constraint: Score.
    ScheduleAnyway,
}

impl WhenUnsatisfiable {
    /// Parses the API value.
    pub fn parse(s: &str) -> Option<WhenUnsatisfiable> {
        match s {
            "DoNotSchedule" => Some(WhenUnsatisfiable::DoNotSchedule),
            "ScheduleAnyway" => Some(WhenUnsatisfiable::ScheduleAnyway),
            _ => None,
        }
    }

    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
            WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
        }
    }
}

/// `nodeAffinityPolicy` / `nodeTaintsPolicy`: whether a node that the pod's node affinity (or taint
/// tolerations) would exclude counts in the spreading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeInclusionPolicy {
    /// Only nodes the pod could be placed on by that criterion count.
    Honor,
    /// Every node counts.
    Ignore,
}

impl NodeInclusionPolicy {
    /// Parses the API value.
    pub fn parse(s: &str) -> Option<NodeInclusionPolicy> {
        match s {
            "Honor" => Some(NodeInclusionPolicy::Honor),
            "Ignore" => Some(NodeInclusionPolicy::Ignore),
            _ => None,
        }
    }
}

/// One `spec.topologySpreadConstraints[]` entry as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologySpreadConstraintDef {
    /// `maxSkew`.
    pub max_skew: i32,
    /// `topologyKey`.
    pub topology_key: String,
    /// `whenUnsatisfiable`.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// `labelSelector`; `None` when absent (the constraint then counts no pods).
    pub label_selector: Option<LabelSelectorDef>,
    /// `minDomains`.
    pub min_domains: Option<i32>,
    /// `nodeAffinityPolicy` (absent: Honor).
    pub node_affinity_policy: Option<NodeInclusionPolicy>,
    /// `nodeTaintsPolicy` (absent: Ignore).
    pub node_taints_policy: Option<NodeInclusionPolicy>,
    /// `matchLabelKeys`.
    pub match_label_keys: Vec<String>,
}

/// A compiled topology spread constraint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopologySpreadConstraint {
    /// `maxSkew`.
    pub max_skew: i32,
    /// `topologyKey`.
    pub topology_key: Symbol,
    /// `whenUnsatisfiable`.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// The pods counted: `labelSelector` with, for each `matchLabelKeys` key the pod has, `key In (value)`
    /// (upstream ANDs them into the selector; an absent selector stays one that matches nothing).
    pub selector: LabelSelector,
    /// `minDomains`, 1 when absent.
    pub min_domains: i32,
    /// `nodeAffinityPolicy`, Honor when absent.
    pub node_affinity_policy: NodeInclusionPolicy,
    /// `nodeTaintsPolicy`, Ignore when absent.
    pub node_taints_policy: NodeInclusionPolicy,
}

impl TopologySpreadConstraint {
    /// Checks and compiles a pod's constraints (`field` is the list's path, `spec.topologySpreadConstraints`);
    /// `pod_labels` are the pod's labels, for `matchLabelKeys`. The first problem is an error naming the
    /// field, in the API server's words.
    pub fn compile_all(
        defs: &[TopologySpreadConstraintDef],
        pod_labels: &[(String, String)],
        interner: &mut Interner,
        field: &str,
    ) -> Result<Vec<TopologySpreadConstraint>, ModelError> {
        let mut out = Vec::with_capacity(defs.len());
        for (idx, def) in defs.iter().enumerate() {
            let field = format!("{field}[{idx}]");
            if def.max_skew <= 0 {
                return Err(ModelError::new(
                    format!("{field}.maxSkew"),
                    format!("Invalid value: {}: must be greater than zero", def.max_skew),
                ));
            }
            if def.topology_key.is_empty() {
                return Err(ModelError::new(format!("{field}.topologyKey"), "Required value: can not be empty"));
            }
            let repeated = defs[idx + 1..]
                .iter()
                .any(|other| other.topology_key == def.topology_key && other.when_unsatisfiable == def.when_unsatisfiable);
            if repeated {
                return Err(ModelError::new(
                    format!("{field}.{{topologyKey, whenUnsatisfiable}}"),
                    format!("Duplicate value: \"{{{}, {}}}\"", def.topology_key, def.when_unsatisfiable.as_str()),
                ));
            }
            if let Some(min) = def.min_domains {
                if min <= 0 {
                    return Err(ModelError::new(format!("{field}.minDomains"), format!("Invalid value: {min}: must be greater than zero")));
                }
                if def.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
                    return Err(ModelError::new(
                        format!("{field}.minDomains"),
                        format!(
                            "Invalid value: {min}: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                            def.when_unsatisfiable.as_str()
                        ),
                    ));
                }
            }
            let mut selector = def.label_selector.clone();
            for (k, key) in def.match_label_keys.iter().enumerate() {
                if !is_qualified_name(key) {
                    return Err(ModelError::new(
                        format!("{field}.matchLabelKeys[{k}]"),
                        format!("Invalid value: {key:?}: a label key must be a qualified name (such as app or example.com/tier)"),
                    ));
                }
                if let (Some(selector), Some((_, value))) = (selector.as_mut(), pod_labels.iter().find(|(k, _)| k == key)) {
                    selector.match_expressions.push(LabelSelectorRequirementDef {
                        key: key.clone(),
                        operator: LabelOperator::In,
                        values: vec![value.clone()],
                    });
                }
            }
            out.push(TopologySpreadConstraint {
                max_skew: def.max_skew,
                topology_key: interner.intern(&def.topology_key),
                when_unsatisfiable: def.when_unsatisfiable,
                selector: LabelSelector::compile(selector.as_ref(), interner, &format!("{field}.labelSelector"))?,
                min_domains: def.min_domains.unwrap_or(1),
                node_affinity_policy: def.node_affinity_policy.unwrap_or(NodeInclusionPolicy::Honor),
                node_taints_policy: def.node_taints_policy.unwrap_or(NodeInclusionPolicy::Ignore),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    fn def(key: &str, when: WhenUnsatisfiable) -> TopologySpreadConstraintDef {
        TopologySpreadConstraintDef {
            max_skew: 1,
            topology_key: key.into(),
            when_unsatisfiable: when,
            label_selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "web".into())], match_expressions: Vec::new() }),
            min_domains: None,
            node_affinity_policy: None,
            node_taints_policy: None,
            match_label_keys: Vec::new(),
        }
    }

    fn compile(defs: &[TopologySpreadConstraintDef], labels: &[(&str, &str)]) -> Result<Vec<TopologySpreadConstraint>, String> {
        let labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        TopologySpreadConstraint::compile_all(defs, &labels, &mut Interner::new(), "spec.topologySpreadConstraints")
            .map_err(|e| format!("{}: {}", e.field, e.message))
    }

    #[test]
    fn defaults_when_fields_are_absent() {
        let c = &compile(&[def("zone", WhenUnsatisfiable::DoNotSchedule)], &[]).unwrap()[0];
        assert_eq!((c.max_skew, c.min_domains), (1, 1));
        assert_eq!((c.node_affinity_policy, c.node_taints_policy), (NodeInclusionPolicy::Honor, NodeInclusionPolicy::Ignore));
    }

    #[test]
    fn the_api_servers_checks() {
        let cases: Vec<(TopologySpreadConstraintDef, &str)> = vec![
            (
                TopologySpreadConstraintDef { max_skew: 0, ..def("zone", WhenUnsatisfiable::DoNotSchedule) },
                "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
            ),
            (def("", WhenUnsatisfiable::DoNotSchedule), "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty"),
            (
                TopologySpreadConstraintDef { min_domains: Some(0), ..def("zone", WhenUnsatisfiable::DoNotSchedule) },
                "spec.topologySpreadConstraints[0].minDomains: Invalid value: 0: must be greater than zero",
            ),
            (
                TopologySpreadConstraintDef { min_domains: Some(2), ..def("zone", WhenUnsatisfiable::ScheduleAnyway) },
                "spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
            ),
            (
                TopologySpreadConstraintDef { match_label_keys: vec!["-bad".into()], ..def("zone", WhenUnsatisfiable::DoNotSchedule) },
                "spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: \"-bad\": a label key must be a qualified name (such as app or example.com/tier)",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(compile(&[d], &[]).unwrap_err(), want);
        }
        let twice = [def("zone", WhenUnsatisfiable::DoNotSchedule), def("zone", WhenUnsatisfiable::DoNotSchedule)];
        assert_eq!(
            compile(&twice, &[]).unwrap_err(),
            "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, DoNotSchedule}\""
        );
        let hard_and_soft = [def("zone", WhenUnsatisfiable::DoNotSchedule), def("zone", WhenUnsatisfiable::ScheduleAnyway)];
        assert_eq!(compile(&hard_and_soft, &[]).unwrap().len(), 2);
    }

    #[test]
    fn match_label_keys_narrow_the_selector_to_the_pods_values() {
        let mut interner = Interner::new();
        let d = TopologySpreadConstraintDef {
            match_label_keys: vec!["pod-template-hash".into(), "absent".into()],
            ..def("zone", WhenUnsatisfiable::DoNotSchedule)
        };
        let pod_labels = vec![("app".to_string(), "web".to_string()), ("pod-template-hash".to_string(), "abc".to_string())];
        let c = &TopologySpreadConstraint::compile_all(std::slice::from_ref(&d), &pod_labels, &mut interner, "c").unwrap()[0];
        let same_rollout = Labels::new(&mut interner, [("app", "web"), ("pod-template-hash", "abc")]);
        let other_rollout = Labels::new(&mut interner, [("app", "web"), ("pod-template-hash", "def")]);
        assert!(c.selector.matches(&same_rollout) && !c.selector.matches(&other_rollout));
        // Without a labelSelector the constraint counts no pods, matchLabelKeys or not.
        let none = TopologySpreadConstraintDef { label_selector: None, ..d };
        let c = &TopologySpreadConstraint::compile_all(&[none], &pod_labels, &mut interner, "c").unwrap()[0];
        assert!(!c.selector.matches(&same_rollout));
    }
}
