//! TaintToleration (Filter, PreScore, Score): rejects nodes with a `NoSchedule`/`NoExecute` taint the pod does
//! not tolerate, and prefers nodes with fewer untolerated `PreferNoSchedule` taints.
//!
//! Score is the number of untolerated `PreferNoSchedule` taints, normalised reversed
//! (`100 − 100·count/max`; all 100 when no node has one). Source: kube-scheduler
//! `pkg/scheduler/framework/plugins/tainttoleration` (1.35+ message). No arguments.

use std::sync::Arc;

use scheduler_core::{
    CycleContext, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, PreScorePlugin, ScorePlugin, StateSlot, Status, TaintEffect,
    Toleration, default_normalize_score, tolerated,
};

/// Upstream's Filter reason since 1.35.
pub const ERR_REASON_NOT_MATCH: &str = "node(s) had untolerated taint(s)";

/// Taints and tolerations.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaintToleration;

/// PreScore state: the pod's tolerations with an empty or `PreferNoSchedule` effect.
#[derive(Clone, Debug, Default)]
struct PreferTolerations(Vec<Toleration>);

impl Plugin for TaintToleration {
    fn name(&self) -> &str {
        "TaintToleration"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { filter: Some(self.clone()), pre_score: Some(self.clone()), score: Some(self), ..ExtensionPoints::default() }
    }
}

impl FilterPlugin for TaintToleration {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    #[inline]
    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        if !node.node.has_hard_taints {
            return Status::success();
        }
        let untolerated = node.node.taints.iter().filter(|t| t.effect.is_hard()).any(|t| !tolerated(&pod.tolerations, t));
        if untolerated { Status::unresolvable(ERR_REASON_NOT_MATCH) } else { Status::success() }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(&self, _cx: &CycleContext<'_>, pod: &Pod, _nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        state.put(PreferTolerations(prefer_tolerations(pod)));
        Status::success()
    }
}

/// Upstream's score: untolerated `PreferNoSchedule` taints of the node.
#[inline]
fn count_intolerable(node: &NodeInfo, tolerations: &[Toleration]) -> i64 {
    if node.node.n_prefer_no_schedule_taints == 0 {
        return 0;
    }
    node.node.taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(tolerations, t)).count() as i64
}

/// The pod's tolerations with an empty or `PreferNoSchedule` effect.
fn prefer_tolerations(pod: &Pod) -> Vec<Toleration> {
    pod.tolerations.iter().filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule)).copied().collect()
}

impl ScorePlugin for TaintToleration {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        Ok(match state.get::<PreferTolerations>() {
            Some(t) => count_intolerable(node, &t.0),
            None => count_intolerable(node, &prefer_tolerations(pod)),
        })
    }

    fn score_nodes(
        &self,
        _cx: &CycleContext<'_>,
        pod: &Pod,
        nodes: &[&NodeInfo],
        state: &StateSlot,
        out: &mut [i64],
    ) -> Result<(), Status> {
        let fallback;
        let tolerations = match state.get::<PreferTolerations>() {
            Some(t) => &t.0,
            None => {
                fallback = prefer_tolerations(pod);
                &fallback
            }
        };
        for (node, score) in nodes.iter().zip(out.iter_mut()) {
            *score = count_intolerable(node, tolerations);
        }
        Ok(())
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _cx: &CycleContext<'_>, _pod: &Pod, _nodes: &[&NodeInfo], _state: &StateSlot, scores: &mut [i64]) -> Status {
        default_normalize_score(scheduler_core::MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::Code;
    use scheduler_core::TaintEffect::*;
    use scheduler_core::TolerationOperator::*;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn untolerated_hard_taint_is_unresolvable() {
        let mut w = World::new(vec![node("a").taint("gpu", "true", NoSchedule), node("b").taint("evict", "", NoExecute), node("c")]);
        let p = w.pod(pod("p"));
        let got = w.filter(Arc::new(TaintToleration), &p);
        assert_eq!(got[0], Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_NOT_MATCH));
        assert_eq!(got[1].code(), Code::UnschedulableAndUnresolvable);
        assert!(got[2].is_success());
    }

    #[test]
    fn tolerated_hard_taints_and_prefer_no_schedule_pass_the_filter() {
        let mut w = World::new(vec![node("a").taint("gpu", "true", NoSchedule).taint("soft", "", PreferNoSchedule)]);
        let p = w.pod(pod("p").toleration("gpu", Equal, "true", Some(NoSchedule)));
        assert!(w.filter(Arc::new(TaintToleration), &p)[0].is_success());
    }

    #[test]
    fn spec_example_counts_0_1_2_score_100_50_0() {
        let w = &mut World::new(vec![
            node("zero"),
            node("one").taint("a", "", PreferNoSchedule),
            node("two").taint("a", "", PreferNoSchedule).taint("b", "", PreferNoSchedule),
        ]);
        let p = w.pod(pod("p"));
        let (raw, normalized) = w.score(Arc::new(TaintToleration), &p).unwrap();
        assert_eq!(raw, [0, 1, 2]);
        assert_eq!(normalized, [100, 50, 0]);
    }

    #[test]
    fn only_empty_or_prefer_no_schedule_tolerations_count_for_scoring() {
        let w = &mut World::new(vec![node("one").taint("a", "", PreferNoSchedule), node("zero")]);
        let noschedule = w.pod(pod("p").toleration("a", Exists, "", Some(NoSchedule)));
        assert_eq!(w.score(Arc::new(TaintToleration), &noschedule).unwrap().0, [1, 0]);
        let any_effect = w.pod(pod("q").toleration("a", Exists, "", None));
        assert_eq!(w.score(Arc::new(TaintToleration), &any_effect).unwrap(), (vec![0, 0], vec![100, 100]));
    }
}
