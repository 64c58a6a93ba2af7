//! Inter-pod affinity (`spec.affinity.podAffinity` / `podAntiAffinity`): the terms a pod carries, checked as
//! the API server checks them, with `matchLabelKeys`/`mismatchLabelKeys` merged into the selector as the API
//! server does at pod creation, and compiled into upstream's `AffinityTerm` (framework `types.go`).
//!
//! The `plugins` crate's InterPodAffinity evaluates them.

use smallvec::SmallVec;

use crate::error::ModelError;
use crate::intern::{Interner, Symbol};
use crate::labels::Labels;
use crate::resources::is_qualified_name;
use crate::selector::{LabelOperator, LabelSelector, LabelSelectorDef, LabelSelectorRequirementDef};

/// One `v1.PodAffinityTerm` as plain data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinityTermDef {
    /// `labelSelector`; `None` when absent (the term then matches no pod).
    pub label_selector: Option<LabelSelectorDef>,
    /// `namespaces`.
    pub namespaces: Vec<String>,
    /// `namespaceSelector`; `None` when absent (matches no namespace), `{}` matches every namespace.
    pub namespace_selector: Option<LabelSelectorDef>,
    /// `topologyKey`.
    pub topology_key: String,
    /// `matchLabelKeys`.
    pub match_label_keys: Vec<String>,
    /// `mismatchLabelKeys`.
    pub mismatch_label_keys: Vec<String>,
}

/// One `v1.WeightedPodAffinityTerm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeightedPodAffinityTermDef {
    /// `weight`, 1–100.
    pub weight: i32,
    /// `podAffinityTerm`.
    pub term: PodAffinityTermDef,
}

/// `podAffinity` or `podAntiAffinity`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinityDef {
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    pub required: Vec<PodAffinityTermDef>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred: Vec<WeightedPodAffinityTermDef>,
}

impl PodAffinityDef {
    /// Whether there are no terms.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// A compiled pod affinity term (upstream `framework.AffinityTerm`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AffinityTerm {
    /// The namespaces named by the term, sorted; the owning pod's namespace when the term lists none and
    /// has no `namespaceSelector`.
    pub namespaces: SmallVec<[Symbol; 1]>,
    /// `namespaceSelector` ([`LabelSelector::Nothing`] when absent).
    pub namespace_selector: LabelSelector,
    /// `labelSelector`, with `matchLabelKeys`/`mismatchLabelKeys` merged.
    pub selector: LabelSelector,
    /// `topologyKey`.
    pub topology_key: Symbol,
}

impl AffinityTerm {
    /// Upstream `AffinityTerm.Matches`: the pod (its namespace and labels; `ns_labels` are its namespace's
    /// labels) is in the term's namespaces or selected namespaces, and its labels match the selector.
    #[inline]
    pub fn matches(&self, namespace: Symbol, labels: &Labels, ns_labels: &Labels) -> bool {
        (self.namespaces.contains(&namespace) || self.namespace_selector.matches(ns_labels)) && self.selector.matches(labels)
    }

    /// Whether the term matches a pod of `namespace` with `labels` through its namespace list alone (the
    /// incoming pod's terms, once their `namespaceSelector` has been resolved into names).
    #[inline]
    pub fn matches_by_name(&self, namespace: Symbol, labels: &Labels) -> bool {
        self.namespaces.contains(&namespace) && self.selector.matches(labels)
    }
}

/// A compiled `WeightedPodAffinityTerm`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WeightedAffinityTerm {
    /// `weight`.
    pub weight: i32,
    /// The term.
    pub term: AffinityTerm,
}

/// A pod's compiled inter-pod affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PodAffinity {
    /// Required affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred affinity terms.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// Preferred anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
}

impl PodAffinity {
    /// Checks and compiles a pod's `podAffinity` and `podAntiAffinity` (`None` when both are empty).
    /// `namespace` is the pod's namespace, `pod_labels` its labels (for `matchLabelKeys`).
    pub fn compile(
        affinity: Option<&PodAffinityDef>,
        anti_affinity: Option<&PodAffinityDef>,
        namespace: Symbol,
        pod_labels: &[(String, String)],
        interner: &mut Interner,
    ) -> Result<Option<PodAffinity>, ModelError> {
        let mut out = PodAffinity::default();
        for (def, field, required, preferred) in [
            (affinity, "spec.affinity.podAffinity", &mut out.required_affinity, &mut out.preferred_affinity),
            (anti_affinity, "spec.affinity.podAntiAffinity", &mut out.required_anti_affinity, &mut out.preferred_anti_affinity),
        ] {
            let Some(def) = def else { continue };
            for (idx, t) in def.required.iter().enumerate() {
                let field = format!("{field}.requiredDuringSchedulingIgnoredDuringExecution[{idx}]");
                required.push(compile_term(t, namespace, pod_labels, interner, &field)?);
            }
            for (idx, w) in def.preferred.iter().enumerate() {
                let field = format!("{field}.preferredDuringSchedulingIgnoredDuringExecution[{idx}]");
                if !(1..=100).contains(&w.weight) {
                    return Err(ModelError::new(
                        format!("{field}.weight"),
                        format!("Invalid value: {}: must be in the range 1-100", w.weight),
                    ));
                }
                let term = compile_term(&w.term, namespace, pod_labels, interner, &format!("{field}.podAffinityTerm"))?;
                preferred.push(WeightedAffinityTerm { weight: w.weight, term });
            }
        }
        let empty = out.required_affinity.is_empty()
            && out.required_anti_affinity.is_empty()
            && out.preferred_affinity.is_empty()
            && out.preferred_anti_affinity.is_empty();
        Ok((!empty).then_some(out))
    }

    /// Whether the pod has preferred affinity or anti-affinity terms.
    pub fn has_preferred(&self) -> bool {
        !self.preferred_affinity.is_empty() || !self.preferred_anti_affinity.is_empty()
    }
}

fn compile_term(
    def: &PodAffinityTermDef,
    namespace: Symbol,
    pod_labels: &[(String, String)],
    interner: &mut Interner,
    field: &str,
) -> Result<AffinityTerm, ModelError> {
    if def.topology_key.is_empty() {
        return Err(ModelError::new(format!("{field}.topologyKey"), "Required value: can not be empty"));
    }
    if !is_qualified_name(&def.topology_key) {
        return Err(ModelError::new(
            format!("{field}.topologyKey"),
            format!("Invalid value: {:?}: a label key must be a qualified name (such as app or example.com/tier)", def.topology_key),
        ));
    }
    for (list, name) in [(&def.match_label_keys, "matchLabelKeys"), (&def.mismatch_label_keys, "mismatchLabelKeys")] {
        for (k, key) in list.iter().enumerate() {
            if !is_qualified_name(key) {
                return Err(ModelError::new(
                    format!("{field}.{name}[{k}]"),
                    format!("Invalid value: {key:?}: a label key must be a qualified name (such as app or example.com/tier)"),
                ));
            }
            if def.label_selector.is_none() {
                return Err(ModelError::new(format!("{field}.{name}"), "Forbidden: must not be specified when labelSelector is not set"));
            }
        }
    }
    if let Some(key) = def.match_label_keys.iter().find(|k| def.mismatch_label_keys.contains(k)) {
        return Err(ModelError::new(
            format!("{field}.matchLabelKeys"),
            format!("Invalid value: {key:?}: exists in both matchLabelKeys and mismatchLabelKeys"),
        ));
    }
    for (k, ns) in def.namespaces.iter().enumerate() {
        if !crate::resources::is_dns1123_label(ns) {
            return Err(ModelError::new(
                format!("{field}.namespaces[{k}]"),
                format!("Invalid value: {ns:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"),
            ));
        }
    }
    // The API server's merge at pod creation (`applyMatchLabelKeysAndMismatchLabelKeys`): only into a
    // present selector, only for keys the pod has.
    let mut selector = def.label_selector.clone();
    if let Some(selector) = selector.as_mut() {
        for (keys, operator) in [(&def.match_label_keys, LabelOperator::In), (&def.mismatch_label_keys, LabelOperator::NotIn)] {
            for key in keys {
                if let Some((_, value)) = pod_labels.iter().rev().find(|(k, _)| k == key) {
                    selector.match_expressions.push(LabelSelectorRequirementDef {
                        key: key.clone(),
                        operator,
                        values: vec![value.clone()],
                    });
                }
            }
        }
    }
    let mut namespaces: SmallVec<[Symbol; 1]> = if def.namespaces.is_empty() && def.namespace_selector.is_none() {
        SmallVec::from_elem(namespace, 1)
    } else {
        def.namespaces.iter().map(|ns| interner.intern(ns)).collect()
    };
    namespaces.sort_unstable();
    namespaces.dedup();
    Ok(AffinityTerm {
        namespaces,
        namespace_selector: LabelSelector::compile(def.namespace_selector.as_ref(), interner, &format!("{field}.namespaceSelector"))?,
        selector: LabelSelector::compile(selector.as_ref(), interner, &format!("{field}.labelSelector"))?,
        topology_key: interner.intern(&def.topology_key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(key: &str) -> PodAffinityTermDef {
        PodAffinityTermDef {
            label_selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "web".into())], match_expressions: Vec::new() }),
            topology_key: key.into(),
            ..PodAffinityTermDef::default()
        }
    }

    fn compile(aff: PodAffinityDef, labels: &[(&str, &str)], interner: &mut Interner) -> Result<Option<PodAffinity>, String> {
        let labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let ns = interner.intern("team-a");
        PodAffinity::compile(Some(&aff), None, ns, &labels, interner).map_err(|e| format!("{}: {}", e.field, e.message))
    }

    #[test]
    fn namespaces_default_to_the_pods_own_unless_a_namespace_selector_is_given() {
        let mut interner = Interner::new();
        let own = compile(PodAffinityDef { required: vec![term("zone")], preferred: Vec::new() }, &[], &mut interner).unwrap().unwrap();
        let team_a = interner.intern("team-a");
        let team_b = interner.intern("team-b");
        let web = Labels::new(&mut interner, [("app", "web")]);
        let t = &own.required_affinity[0];
        assert_eq!(t.namespaces.as_slice(), &[team_a]);
        assert!(t.matches(team_a, &web, &Labels::default()) && !t.matches(team_b, &web, &Labels::default()));

        // `namespaceSelector: {}` selects every namespace and the own namespace is no longer implied.
        let all = PodAffinityTermDef { namespace_selector: Some(LabelSelectorDef::default()), ..term("zone") };
        let c = compile(PodAffinityDef { required: vec![all], preferred: Vec::new() }, &[], &mut interner).unwrap().unwrap();
        assert!(c.required_affinity[0].namespaces.is_empty());
        assert!(c.required_affinity[0].matches(team_b, &web, &Labels::default()));

        // Listed namespaces only.
        let listed = PodAffinityTermDef { namespaces: vec!["team-b".into()], ..term("zone") };
        let c = compile(PodAffinityDef { required: vec![listed], preferred: Vec::new() }, &[], &mut interner).unwrap().unwrap();
        let t = &c.required_affinity[0];
        assert!(t.matches(team_b, &web, &Labels::default()) && !t.matches(team_a, &web, &Labels::default()));
    }

    #[test]
    fn label_keys_are_merged_into_a_present_selector_only() {
        let mut interner = Interner::new();
        let t = PodAffinityTermDef { match_label_keys: vec!["rev".into()], mismatch_label_keys: vec!["tenant".into()], ..term("zone") };
        let c = compile(
            PodAffinityDef { required: vec![t], preferred: Vec::new() },
            &[("app", "web"), ("rev", "1"), ("tenant", "x")],
            &mut interner,
        )
        .unwrap()
        .unwrap();
        let ns = interner.intern("team-a");
        let same = Labels::new(&mut interner, [("app", "web"), ("rev", "1"), ("tenant", "y")]);
        let other_rev = Labels::new(&mut interner, [("app", "web"), ("rev", "2"), ("tenant", "y")]);
        let same_tenant = Labels::new(&mut interner, [("app", "web"), ("rev", "1"), ("tenant", "x")]);
        let t = &c.required_affinity[0];
        assert!(t.matches(ns, &same, &Labels::default()));
        assert!(!t.matches(ns, &other_rev, &Labels::default()) && !t.matches(ns, &same_tenant, &Labels::default()));
    }

    #[test]
    fn the_api_servers_checks() {
        let mut interner = Interner::new();
        let p = "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]";
        let r = "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]";
        let cases = vec![
            (
                PodAffinityDef { required: Vec::new(), preferred: vec![WeightedPodAffinityTermDef { weight: 0, term: term("zone") }] },
                format!("{p}.weight: Invalid value: 0: must be in the range 1-100"),
            ),
            (
                PodAffinityDef { required: vec![term("")], preferred: Vec::new() },
                format!("{r}.topologyKey: Required value: can not be empty"),
            ),
            (
                PodAffinityDef {
                    required: vec![PodAffinityTermDef { label_selector: None, match_label_keys: vec!["rev".into()], ..term("zone") }],
                    preferred: Vec::new(),
                },
                format!("{r}.matchLabelKeys: Forbidden: must not be specified when labelSelector is not set"),
            ),
            (
                PodAffinityDef {
                    required: vec![PodAffinityTermDef {
                        match_label_keys: vec!["rev".into()],
                        mismatch_label_keys: vec!["rev".into()],
                        ..term("zone")
                    }],
                    preferred: Vec::new(),
                },
                format!("{r}.matchLabelKeys: Invalid value: \"rev\": exists in both matchLabelKeys and mismatchLabelKeys"),
            ),
            (
                PodAffinityDef {
                    required: vec![PodAffinityTermDef { namespaces: vec!["Bad_NS".into()], ..term("zone") }],
                    preferred: Vec::new(),
                },
                format!(
                    "{r}.namespaces[0]: Invalid value: \"Bad_NS\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
                ),
            ),
        ];
        for (aff, want) in cases {
            assert_eq!(compile(aff, &[], &mut interner).unwrap_err(), want);
        }
        assert_eq!(compile(PodAffinityDef::default(), &[], &mut interner).unwrap(), None);
    }
}
