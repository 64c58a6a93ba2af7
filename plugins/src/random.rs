//! Random (PreScore, Score, Reserve): one feasible node chosen uniformly at random scores 100, the others 0;
//! a pod sharing a GPU gets one of the node's GPUs with room for it, uniformly at random.
//!
//! The usual baseline of scheduling studies, and the `Random` policy of Weng et al., "Beware of
//! Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent" (USENIX ATC 2023,
//! §6.1; their simulator's `random_score.go`, and its `random` GPU selection for shared GPUs). The choice
//! is derived from the cycle's seed ([`scheduler_core::CycleContext::seed`]), so a run is a function of
//! its seed whatever the tie-breaking. With `percentageOfNodesToScore: 100` (as the built-in `random`
//! policy sets) it is uniform over all feasible nodes. Pods asking for whole GPUs get the idle GPUs of
//! lowest index, as in the authors' simulator. No arguments.

use std::sync::Arc;

use scheduler_core::gpu::GpuSet;
use scheduler_core::{
    CycleContext, ExtensionPoints, MAX_NODE_SCORE, NodeId, NodeInfo, Plugin, Pod, PreScorePlugin, ReservePlugin, ScorePlugin, StateSlot,
    Status,
};

/// Uniform random placement among feasible nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

/// The node PreScore chose.
#[derive(Clone, Copy)]
struct Chosen(NodeId);

impl Plugin for Random {
    fn name(&self) -> &str {
        "Random"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { pre_score: Some(self.clone()), score: Some(self.clone()), reserve: Some(self), ..ExtensionPoints::default() }
    }
}

impl PreScorePlugin for Random {
    fn pre_score(&self, cx: &CycleContext<'_>, _pod: &Pod, nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        if let Some(node) = nodes.get((cx.seed % nodes.len().max(1) as u64) as usize) {
            state.put(Chosen(node.id));
        }
        Status::success()
    }
}

impl ScorePlugin for Random {
    fn score(&self, _cx: &CycleContext<'_>, _pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        Ok(if state.get::<Chosen>().is_some_and(|c| c.0 == node.id) { MAX_NODE_SCORE } else { 0 })
    }
}

impl ReservePlugin for Random {
    fn reserve(
        &self,
        _cx: &CycleContext<'_>,
        pod: &Pod,
        node: &NodeInfo,
        draw: &mut dyn FnMut(usize) -> usize,
    ) -> Result<Option<GpuSet>, Status> {
        if !pod.gpu.is_share() {
            return Ok(None);
        }
        let fitting: Vec<usize> =
            node.gpus.free().iter().enumerate().filter(|&(_, &f)| f >= pod.gpu.milli as i32).map(|(i, _)| i).collect();
        if fitting.is_empty() {
            return Ok(None);
        }
        Ok(Some(GpuSet::EMPTY.with(fitting[draw(fitting.len())])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn one_node_scores_100() {
        let mut w = World::new(vec![node("a"), node("b"), node("c")]);
        let p = w.pod(pod("p"));
        let (raw, _) = w.score(Arc::new(Random), &p).unwrap();
        assert_eq!(raw.iter().filter(|&&s| s == 100).count(), 1);
        assert_eq!(raw.iter().sum::<i64>(), 100);
    }

    #[test]
    fn a_share_goes_to_a_gpu_with_room_drawn_at_random() {
        let mut w = World::new(vec![node("n").gpus(4, "T4")]);
        w.run(0, pod("a").gpu_share(800));
        let p = w.pod(pod("p").gpu_share(500));
        let whole = w.pod(pod("w").gpus(2));
        let info = w.cluster.node(w.nodes[0]);
        let cx = CycleContext::new(&w.cluster);
        // GPU 0 holds 800 milli: the draw is among GPUs 1, 2, 3.
        let mut asked = Vec::new();
        let got = Random.reserve(&cx, &p, info, &mut |n| {
            asked.push(n);
            n - 1
        });
        assert_eq!(got.unwrap(), Some(GpuSet::EMPTY.with(3)));
        assert_eq!(asked, [3]);
        let mut draws = 0;
        let got = Random.reserve(&cx, &whole, info, &mut |_| {
            draws += 1;
            0
        });
        assert_eq!((got.unwrap(), draws), (None, 0));
    }
}
