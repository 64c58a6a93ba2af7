//! NodeAffinity (PreFilter, Filter, PreScore, Score): required node selector and node affinity, and the
//! weighted sum of matching preferred terms.
//!
//! `addedAffinity` applies to every pod of the profile:
//! ```yaml
//! pluginConfig:
//! - name: NodeAffinity
//!   args:
//!     addedAffinity:
//!       requiredDuringSchedulingIgnoredDuringExecution:
//!         nodeSelectorTerms:
//!         - matchExpressions: [{key: pool, operator: In, values: [batch]}]
//! ```
//! PreFilter narrows the nodes to those named by `metadata.name In` fields when every required term has
//! one. Score is normalised so the best node gets 100. Source: kube-scheduler
//! `pkg/scheduler/framework/plugins/nodeaffinity` and `component-helpers/scheduling/corev1/nodeaffinity`.

use std::sync::Arc;

use serde::Deserialize;

use scheduler_core::{
    ConfigError, CycleContext, ExtensionPoints, FilterPlugin, Interner, NodeInfo, NodeSelector, NodeSelectorDef, NodeSelectorOperator,
    NodeSelectorRequirementDef, NodeSelectorTermDef, Plugin, PluginArgs, Pod, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    PreferredSchedulingTermDef, PreferredTerm, ScorePlugin, StateSlot, Status, Symbol, default_normalize_score,
};

/// Upstream `ErrReasonPod`.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Upstream `errReasonEnforced`.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// Upstream `errReasonConflict`.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// `NodeAffinityArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAffinityArgs {
    /// Node affinity added to every pod.
    #[serde(default)]
    pub added_affinity: Option<NodeAffinityYaml>,
}

/// A `v1.NodeAffinity` as written in YAML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAffinityYaml {
    /// Required terms.
    #[serde(default, rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    pub required: Option<NodeSelectorYaml>,
    /// Preferred terms.
    #[serde(default, rename = "preferredDuringSchedulingIgnoredDuringExecution")]
    pub preferred: Vec<PreferredTermYaml>,
}

/// A `v1.NodeSelector` as written in YAML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSelectorYaml {
    /// Terms, ORed.
    #[serde(default)]
    pub node_selector_terms: Vec<TermYaml>,
}

/// A `v1.NodeSelectorTerm` as written in YAML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TermYaml {
    /// Label expressions.
    #[serde(default)]
    pub match_expressions: Vec<RequirementYaml>,
    /// Field expressions.
    #[serde(default)]
    pub match_fields: Vec<RequirementYaml>,
}

/// A `v1.NodeSelectorRequirement` as written in YAML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementYaml {
    /// Key.
    pub key: String,
    /// Operator.
    pub operator: String,
    /// Values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A `v1.PreferredSchedulingTerm` as written in YAML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferredTermYaml {
    /// Weight.
    pub weight: i32,
    /// Preference.
    pub preference: TermYaml,
}

impl TermYaml {
    fn to_def(&self, path: &str) -> Result<NodeSelectorTermDef, ConfigError> {
        let convert = |list: &[RequirementYaml], kind: &str| -> Result<Vec<NodeSelectorRequirementDef>, ConfigError> {
            list.iter()
                .enumerate()
                .map(|(idx, r)| {
                    let operator = NodeSelectorOperator::parse(&r.operator).ok_or_else(|| {
                        ConfigError::new(
                            format!("{path}.{kind}[{idx}].operator"),
                            format!("Unsupported value: {:?}: supported values: \"DoesNotExist\", \"Exists\", \"Gt\", \"In\", \"Lt\", \"NotIn\"", r.operator),
                        )
                    })?;
                    Ok(NodeSelectorRequirementDef { key: r.key.clone(), operator, values: r.values.clone() })
                })
                .collect()
        };
        Ok(NodeSelectorTermDef {
            match_expressions: convert(&self.match_expressions, "matchExpressions")?,
            match_fields: convert(&self.match_fields, "matchFields")?,
        })
    }
}

/// Node affinity.
#[derive(Clone, Debug, Default)]
pub struct NodeAffinity {
    added_required: Option<NodeSelector>,
    added_preferred: Option<Vec<PreferredTerm>>,
}

impl NodeAffinity {
    /// Builds the plugin from its arguments.
    pub fn new(args: &PluginArgs<'_>, interner: &mut Interner) -> Result<NodeAffinity, ConfigError> {
        let parsed: NodeAffinityArgs = args.decode()?;
        let Some(added) = parsed.added_affinity else { return Ok(NodeAffinity::default()) };
        let base = format!("{}.addedAffinity", args.path());
        let added_required = match &added.required {
            None => None,
            Some(sel) => {
                let path = format!("{base}.requiredDuringSchedulingIgnoredDuringExecution");
                let terms = sel
                    .node_selector_terms
                    .iter()
                    .enumerate()
                    .map(|(i, t)| t.to_def(&format!("{path}.nodeSelectorTerms[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(NodeSelector::compile(&NodeSelectorDef { terms }, interner, &path).map_err(|e| ConfigError::new(e.field, e.message))?)
            }
        };
        let added_preferred = if added.preferred.is_empty() {
            None
        } else {
            let path = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution");
            let defs = added
                .preferred
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Ok(PreferredSchedulingTermDef {
                        weight: t.weight,
                        preference: t.preference.to_def(&format!("{path}[{i}].preference"))?,
                    })
                })
                .collect::<Result<Vec<_>, ConfigError>>()?;
            Some(PreferredTerm::compile_all(&defs, interner, &path).map_err(|e| ConfigError::new(e.field, e.message))?)
        };
        Ok(NodeAffinity { added_required, added_preferred })
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &str {
        "NodeAffinity"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: Some(self.clone()),
            filter: Some(self.clone()),
            pre_score: Some(self.clone()),
            score: Some(self),
            ..ExtensionPoints::default()
        }
    }
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(&self, _cx: &CycleContext<'_>, pod: &Pod, _state: &mut StateSlot) -> PreFilterResult {
        let Some(required) = &pod.required_node_affinity else {
            if self.added_required.is_none() && pod.node_selector.is_none() {
                return Status::skip().into();
            }
            return Status::success().into();
        };
        if required.has_empty_terms || required.terms.is_empty() {
            return Status::success().into();
        }
        // Union over terms of each term's `metadata.name In` set; a term without one allows every node.
        let mut names: Vec<Symbol> = Vec::new();
        for term in &required.terms {
            let Some(term_names) = term.required_node_names() else { return Status::success().into() };
            for n in term_names {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        if names.is_empty() {
            return Status::unresolvable(ERR_REASON_CONFLICT).into();
        }
        PreFilterResult { status: Status::success(), node_names: Some(names) }
    }
}

impl FilterPlugin for NodeAffinity {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    #[inline]
    fn filter(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        let interner = cx.cluster.interner();
        if let Some(added) = &self.added_required
            && !added.matches(node.node.facts(), interner)
        {
            return Status::unresolvable(ERR_REASON_ENFORCED);
        }
        if let Some(sel) = &pod.node_selector
            && !node.node.labels.contains_all(sel)
        {
            return Status::unresolvable(ERR_REASON_POD);
        }
        if let Some(required) = &pod.required_node_affinity
            && !required.matches(node.node.facts(), interner)
        {
            return Status::unresolvable(ERR_REASON_POD);
        }
        Status::success()
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(&self, _cx: &CycleContext<'_>, pod: &Pod, _nodes: &[&NodeInfo], _state: &mut StateSlot) -> Status {
        if pod.preferred_node_affinity.is_none() && self.added_preferred.is_none() { Status::skip() } else { Status::success() }
    }
}

impl ScorePlugin for NodeAffinity {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    #[inline]
    fn score(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        let interner = cx.cluster.interner();
        let facts = node.node.facts();
        let sum = |terms: &Option<Vec<PreferredTerm>>| -> i64 {
            terms.iter().flatten().filter(|t| t.term.matches(facts, interner)).map(|t| i64::from(t.weight)).sum()
        };
        Ok(sum(&self.added_preferred) + sum(&pod.preferred_node_affinity))
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _cx: &CycleContext<'_>, _pod: &Pod, _nodes: &[&NodeInfo], _state: &StateSlot, scores: &mut [i64]) -> Status {
        default_normalize_score(scheduler_core::MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::Code;
    use scheduler_core::NodeSelectorOperator::*;
    use scheduler_core::testing::{node, pod};

    fn term(exprs: &[(&str, NodeSelectorOperator, &[&str])]) -> NodeSelectorTermDef {
        NodeSelectorTermDef {
            match_expressions: exprs
                .iter()
                .map(|(k, op, vs)| NodeSelectorRequirementDef {
                    key: k.to_string(),
                    operator: *op,
                    values: vs.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
            match_fields: vec![],
        }
    }

    fn name_term(names: &[&str]) -> NodeSelectorTermDef {
        NodeSelectorTermDef {
            match_expressions: vec![],
            match_fields: names
                .iter()
                .map(|n| NodeSelectorRequirementDef { key: "metadata.name".into(), operator: In, values: vec![n.to_string()] })
                .collect(),
        }
    }

    fn world() -> World {
        World::new(vec![node("a").label("zone", "z1").label("disk", "ssd"), node("b").label("zone", "z2"), node("c")])
    }

    fn plugin(w: &mut World, json_args: &str) -> Arc<NodeAffinity> {
        let value: serde_json::Value = serde_json::from_str(json_args).unwrap();
        Arc::new(NodeAffinity::new(&PluginArgs::new("NodeAffinity", Some(&value), "args"), w.cluster.interner_mut()).unwrap())
    }

    #[test]
    fn node_selector_and_required_terms() {
        let mut w = world();
        let p = w.pod(pod("p").node_selector("zone", "z1"));
        let got = w.filter(Arc::new(NodeAffinity::default()), &p);
        assert!(got[0].is_success());
        assert_eq!(got[1], Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_POD));
        let p = w.pod(pod("p").required_term(term(&[("zone", In, &["z2"])])).required_term(term(&[("disk", Exists, &[])])));
        let got: Vec<bool> = w.filter(Arc::new(NodeAffinity::default()), &p).iter().map(Status::is_success).collect();
        assert_eq!(got, [true, true, false]);
    }

    #[test]
    fn pods_without_constraints_skip_prefilter_and_prescore() {
        let mut w = world();
        let p = w.pod(pod("p"));
        let cx = CycleContext::new(&w.cluster);
        let pl = NodeAffinity::default();
        assert!(pl.pre_filter(&cx, &p, &mut StateSlot::default()).status.is_skip());
        assert!(pl.pre_score(&cx, &p, &[], &mut StateSlot::default()).is_skip());
    }

    #[test]
    fn an_empty_but_present_node_selector_does_not_skip() {
        let mut w = world();
        let mut def = pod("p").def;
        def.node_selector = Some(vec![]);
        let p = w.cluster.compile_pod(&def).unwrap();
        let cx = CycleContext::new(&w.cluster);
        assert!(NodeAffinity::default().pre_filter(&cx, &p, &mut StateSlot::default()).status.is_success());
    }

    #[test]
    fn metadata_name_fields_narrow_the_nodes() {
        let mut w = world();
        let cx_pod = w.pod(pod("p").required_term(name_term(&["a"])).required_term(name_term(&["c"])));
        let cx = CycleContext::new(&w.cluster);
        let r = NodeAffinity::default().pre_filter(&cx, &cx_pod, &mut StateSlot::default());
        let names: Vec<&str> = r.node_names.unwrap().iter().map(|&s| w.cluster.interner().resolve(s)).collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn conflicting_name_fields_are_unresolvable() {
        let mut w = world();
        let p = w.pod(pod("p").required_term(name_term(&["a", "b"])));
        let cx = CycleContext::new(&w.cluster);
        let r = NodeAffinity::default().pre_filter(&cx, &p, &mut StateSlot::default());
        assert_eq!(r.status, Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_CONFLICT));
    }

    #[test]
    fn a_term_without_name_fields_disables_narrowing() {
        let mut w = world();
        let p = w.pod(pod("p").required_term(name_term(&["a"])).required_term(term(&[("zone", In, &["z2"])])));
        let cx = CycleContext::new(&w.cluster);
        let r = NodeAffinity::default().pre_filter(&cx, &p, &mut StateSlot::default());
        assert!(r.status.is_success() && r.node_names.is_none());
    }

    #[test]
    fn added_affinity_is_enforced_first() {
        let mut w = world();
        let pl = plugin(
            &mut w,
            r#"{"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}"#,
        );
        let p = w.pod(pod("p"));
        let got = w.filter(pl, &p);
        assert!(got[0].is_success());
        assert_eq!(got[1], Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_ENFORCED));
    }

    #[test]
    fn preferred_terms_sum_weights_and_normalise_to_100() {
        let mut w = world();
        let p = w.pod(
            pod("p")
                .preferred_term(20, term(&[("zone", In, &["z1"])]))
                .preferred_term(60, term(&[("zone", Exists, &[])]))
                .preferred_term(0, term(&[("disk", Exists, &[])])),
        );
        let (raw, normalized) = w.score(Arc::new(NodeAffinity::default()), &p).unwrap();
        assert_eq!(raw, [80, 60, 0]);
        assert_eq!(normalized, [100, 75, 0]);
    }

    #[test]
    fn added_preferred_terms_add_to_the_pods() {
        let mut w = world();
        let pl = plugin(
            &mut w,
            r#"{"addedAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z2"]}]}}]}}"#,
        );
        let p = w.pod(pod("p"));
        assert_eq!(w.score(pl, &p).unwrap(), (vec![0, 5, 0], vec![0, 100, 0]));
    }

    #[test]
    fn bad_added_affinity_names_the_field() {
        let value: serde_json::Value = serde_json::from_str(r#"{"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["z1"]}]}]}}}"#).unwrap();
        let err = NodeAffinity::new(&PluginArgs::new("NodeAffinity", Some(&value), "args"), &mut Interner::new()).unwrap_err();
        assert_eq!(
            err.path,
            "args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator"
        );
        let value: serde_json::Value = serde_json::from_str(r#"{"addedAffinity": {"required": {}}}"#).unwrap();
        let err = NodeAffinity::new(&PluginArgs::new("NodeAffinity", Some(&value), "args"), &mut Interner::new()).unwrap_err();
        assert!(err.message.contains("unknown field `required`"), "{err}");
    }
}
