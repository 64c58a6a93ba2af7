//! NodeResourcesBalancedAllocation (PreScore, Score): prefers nodes whose resource usage the pod makes more
//! balanced, by the standard deviation of the used fractions of the configured resources (default cpu and
//! memory).
//!
//! 1.36 formula (kubernetes PR #135573): `score = 50 + (50 + balance(with pod) − balance(without pod)) / 2`,
//! where `balance = int((1 − std) · 100)`; a pod that leaves the balance unchanged scores 75. Real
//! requests are used (no defaults for missing ones); a pod requesting none of the resources is skipped
//! at PreScore. Weights must be 1.
//! ```yaml
//! pluginConfig:
//! - name: NodeResourcesBalancedAllocation
//!   args:
//!     resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}, {name: nvidia.com/gpu, weight: 1}]
//! ```
//! Source: kube-scheduler 1.36 `pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go`.

use std::sync::Arc;

use serde::Deserialize;

use scheduler_core::{
    ConfigError, CycleContext, ExtensionPoints, Interner, NodeInfo, Plugin, PluginArgs, Pod, PreScorePlugin, ScorePlugin, StateSlot, Status,
};

use super::resource_allocation::{PodRequests, Requests, ResourceSpec, ScoringResource, compile_resources, default_resources};

/// `NodeResourcesBalancedAllocationArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeResourcesBalancedAllocationArgs {
    /// Resources to balance; empty means cpu and memory.
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
}

/// Resource balance scorer.
#[derive(Clone, Debug)]
pub struct NodeResourcesBalancedAllocation {
    resources: Vec<ScoringResource>,
}

impl Default for NodeResourcesBalancedAllocation {
    fn default() -> Self {
        NodeResourcesBalancedAllocation::new(&PluginArgs::none("NodeResourcesBalancedAllocation"), &mut Interner::new())
            .expect("defaults are valid")
    }
}

impl NodeResourcesBalancedAllocation {
    /// Builds the plugin, defaulting and validating its arguments as upstream does.
    pub fn new(args: &PluginArgs<'_>, interner: &mut Interner) -> Result<NodeResourcesBalancedAllocation, ConfigError> {
        let mut parsed: NodeResourcesBalancedAllocationArgs = args.decode()?;
        if parsed.resources.is_empty() {
            parsed.resources = default_resources();
        }
        for (idx, r) in parsed.resources.iter_mut().enumerate() {
            if r.weight == 0 {
                r.weight = 1;
            }
            if r.weight != 1 {
                return Err(ConfigError::new(
                    format!("{}.resources[{idx}].weight", args.path()),
                    format!("Invalid value: {}: must be 1", r.weight),
                ));
            }
        }
        for (idx, r) in parsed.resources.iter().enumerate() {
            if parsed.resources[..idx].iter().any(|p| p.name == r.name) {
                return Err(ConfigError::new(format!("{}.resources[{idx}].name", args.path()), format!("Duplicate value: {:?}", r.name)));
            }
        }
        Ok(NodeResourcesBalancedAllocation { resources: compile_resources(&parsed.resources, interner) })
    }

    /// Writes the used fractions with and without the pod of the resources the node has; returns how many.
    fn fractions(&self, node: &NodeInfo, pod_requests: &[i64], with_pod: &mut [f64], without_pod: &mut [f64]) -> usize {
        let mut n = 0;
        for (res, &pod_req) in self.resources.iter().zip(pod_requests) {
            let (cap, used) = res.node_amounts(node, pod_req, Requests::Real);
            if cap == 0 {
                continue;
            }
            with_pod[n] = fraction(used.saturating_add(pod_req), cap);
            without_pod[n] = fraction(used, cap);
            n += 1;
        }
        n
    }

    #[inline(always)]
    fn node_score(&self, node: &NodeInfo, pod_requests: &[i64]) -> i64 {
        // Up to two resources (cpu and memory by default) the deviation has a closed form, as upstream
        // computes it; keep the fractions in registers.
        let (mut with_pod, mut without_pod) = ([0.0; 2], [0.0; 2]);
        let mut n = 0;
        for (res, &pod_req) in self.resources.iter().zip(pod_requests) {
            let (cap, used) = res.node_amounts(node, pod_req, Requests::Real);
            if cap == 0 {
                continue;
            }
            if n == 2 {
                return self.node_score_many(node, pod_requests);
            }
            with_pod[n] = fraction(used.saturating_add(pod_req), cap);
            without_pod[n] = fraction(used, cap);
            n += 1;
        }
        let (score_with, score_without) = (balanced_resource_score(&with_pod[..n]), balanced_resource_score(&without_pod[..n]));
        combine(score_with, score_without)
    }

    /// The score with more than two resources on the node.
    fn node_score_many(&self, node: &NodeInfo, pod_requests: &[i64]) -> i64 {
        let (mut with_pod, mut without_pod) = (vec![0.0; self.resources.len()], vec![0.0; self.resources.len()]);
        let n = self.fractions(node, pod_requests, &mut with_pod, &mut without_pod);
        combine(balanced_resource_score(&with_pod[..n]), balanced_resource_score(&without_pod[..n]))
    }
}

/// The 1.36 score from the balance with and without the pod.
#[inline(always)]
fn combine(score_with: i64, score_without: i64) -> i64 {
    scheduler_core::MAX_NODE_SCORE / 2 + (scheduler_core::MAX_NODE_SCORE / 2 + score_with - score_without) / 2
}

/// A used fraction, capped at 1.
#[inline]
fn fraction(requested: i64, allocatable: i64) -> f64 {
    (requested as f64 / allocatable as f64).min(1.0)
}

/// Upstream `balancedResourceScorer`'s balance: `int64((1 − std) · 100)` over the used fractions of
/// resources with non-zero allocatable, in upstream's float evaluation order.
#[inline(always)]
fn balanced_resource_score(fractions: &[f64]) -> i64 {
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let total = fractions.iter().fold(0.0, |acc, f| acc + f);
            let mean = total / n as f64;
            let sum = fractions.iter().fold(0.0, |acc, f| acc + (f - mean) * (f - mean));
            (sum / n as f64).sqrt()
        }
    };
    ((1.0 - std) * scheduler_core::MAX_NODE_SCORE as f64) as i64
}

impl Plugin for NodeResourcesBalancedAllocation {
    fn name(&self) -> &str {
        "NodeResourcesBalancedAllocation"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { pre_score: Some(self.clone()), score: Some(self), ..ExtensionPoints::default() }
    }
}

impl PreScorePlugin for NodeResourcesBalancedAllocation {
    fn pre_score(&self, _cx: &CycleContext<'_>, pod: &Pod, _nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        let requests = PodRequests::of(&self.resources, pod, Requests::Real);
        if requests.0.iter().all(|&r| r == 0) {
            return Status::skip();
        }
        state.put(requests);
        Status::success()
    }
}

impl ScorePlugin for NodeResourcesBalancedAllocation {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        let requests = PodRequests::from_state(state, &self.resources, pod, Requests::Real).0;
        Ok(if requests.iter().all(|&r| r == 0) { 0 } else { self.node_score(node, &requests) })
    }

    fn score_nodes(
        &self,
        _cx: &CycleContext<'_>,
        pod: &Pod,
        nodes: &[&NodeInfo],
        state: &StateSlot,
        out: &mut [i64],
    ) -> Result<(), Status> {
        let requests = PodRequests::from_state(state, &self.resources, pod, Requests::Real).0;
        let best_effort = requests.iter().all(|&r| r == 0);
        for (node, score) in nodes.iter().zip(out.iter_mut()) {
            *score = if best_effort { 0 } else { self.node_score(node, &requests) };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use proptest::prelude::*;
    use scheduler_core::testing::{NodeBuilder, PodBuilder, node, pod};

    fn score(n: NodeBuilder, running: Option<PodBuilder>, p: PodBuilder) -> Result<i64, Status> {
        let mut w = World::new(vec![n]);
        if let Some(r) = running {
            w.run(0, r);
        }
        let p = w.pod(p);
        w.score(Arc::new(NodeResourcesBalancedAllocation::default()), &p).map(|(_, n)| n[0])
    }

    #[test]
    fn spec_example_scores_79() {
        // alloc 4000m/8Gi, requested 1000m/4Gi, pod 1000m/0.5Gi ⇒ with 96, without 87 ⇒ 50 + (50+96−87)/2 = 79.
        assert_eq!(
            score(node("n").cpu("4").memory("8Gi"), Some(pod("r").cpu("1").memory("4Gi")), pod("p").cpu("1").memory("512Mi")),
            Ok(79)
        );
    }

    #[test]
    fn unchanged_balance_scores_75() {
        assert_eq!(score(node("n").cpu("4").memory("4Gi"), Some(pod("r").cpu("1").memory("1Gi")), pod("p").cpu("1").memory("1Gi")), Ok(75));
    }

    #[test]
    fn balanced_to_imbalanced_scores_50_and_back_100() {
        assert_eq!(score(node("n").cpu("4").memory("4Gi"), None, pod("p").cpu("4").memory("1")), Ok(50));
        assert_eq!(score(node("n").cpu("4").memory("4Gi"), Some(pod("r").cpu("4")), pod("p").memory("4Gi")), Ok(100));
    }

    #[test]
    fn best_effort_pods_are_skipped() {
        assert_eq!(score(node("n").cpu("4").memory("4Gi"), None, pod("p").container(&[])), Err(Status::skip()));
        // Only non-configured resources requested: still best effort for this plugin.
        assert_eq!(
            score(node("n").cpu("4").allocatable("example.com/gpu", "1"), None, pod("p").request("example.com/gpu", "1")),
            Err(Status::skip())
        );
    }

    #[test]
    fn three_resources_use_the_full_standard_deviation() {
        // Fractions 0.5, 0.25, 0 ⇒ mean 0.25, std = sqrt((0.0625+0+0.0625)/3) = 0.2041 ⇒ 79; without: 0,0,0 ⇒ 100.
        let value: serde_json::Value =
            serde_json::from_str(r#"{"resources": [{"name": "cpu"}, {"name": "memory"}, {"name": "ephemeral-storage"}]}"#).unwrap();
        let pl = Arc::new(
            NodeResourcesBalancedAllocation::new(
                &PluginArgs::new("NodeResourcesBalancedAllocation", Some(&value), "args"),
                &mut Interner::new(),
            )
            .unwrap(),
        );
        let mut w = World::new(vec![node("n").cpu("4").memory("4Gi").allocatable("ephemeral-storage", "10Gi")]);
        let p = w.pod(pod("p").cpu("2").memory("1Gi"));
        assert_eq!(w.score(pl, &p).unwrap().1, [50 + (50 + 79 - 100) / 2]);
    }

    #[test]
    fn args_validation() {
        let err = |args: &str| {
            let value: serde_json::Value = serde_json::from_str(args).unwrap();
            NodeResourcesBalancedAllocation::new(
                &PluginArgs::new("NodeResourcesBalancedAllocation", Some(&value), "args"),
                &mut Interner::new(),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(err(r#"{"resources": [{"name": "cpu", "weight": 2}]}"#), "args.resources[0].weight: Invalid value: 2: must be 1");
        assert_eq!(err(r#"{"resources": [{"name": "cpu"}, {"name": "cpu"}]}"#), "args.resources[1].name: Duplicate value: \"cpu\"");
    }

    proptest! {
        #[test]
        fn score_stays_in_50_to_100(cpu in 1i64..10_000, mem in 1i64..10_000, used_cpu in 0i64..12_000, used_mem in 0i64..12_000, req_cpu in 0i64..12_000, req_mem in 1i64..12_000) {
            let s = score(
                node("n").cpu(&format!("{cpu}m")).memory(&format!("{mem}Mi")),
                Some(pod("r").cpu(&format!("{used_cpu}m")).memory(&format!("{used_mem}Mi"))),
                pod("p").cpu(&format!("{req_cpu}m")).memory(&format!("{req_mem}Mi")),
            ).unwrap();
            prop_assert!((50..=100).contains(&s), "{}", s);
        }
    }
}
