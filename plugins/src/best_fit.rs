//! BestFit (Score): the node left with the least free capacity, over the resources the pod requests.
//!
//! Best fit from bin packing (Johnson, 1974), in several dimensions: score = 100 × (1 − mean over the
//! requested resources the node has of free-after-placement / allocatable), with real requests (no
//! defaults for missing ones). A pod requesting nothing scores every node 0. The built-in `best-fit` policy
//! sets `percentageOfNodesToScore: 100` so that every node is a candidate. No arguments.
//!
//! Unlike MostAllocated it counts every resource the pod requests (GPUs included) and rounds once, at the
//! end, instead of truncating each resource's score.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

/// Tightest fit first.
#[derive(Clone, Copy, Debug, Default)]
pub struct BestFit;

impl Plugin for BestFit {
    fn name(&self) -> &str {
        "BestFit"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

/// The (requested, allocatable) pairs of the resources the pod requests that the node has, with the pod
/// placed: cpu, memory, ephemeral storage and scalar resources.
pub(crate) fn requested_and_allocatable(pod: &Pod, node: &NodeInfo) -> impl Iterator<Item = (i64, i64)> {
    let (req, alloc, used) = (&pod.requests, &node.node.allocatable, &node.requested);
    let core = [
        (req.milli_cpu, used.milli_cpu, alloc.milli_cpu),
        (req.memory, used.memory, alloc.memory),
        (req.ephemeral_storage, used.ephemeral_storage, alloc.ephemeral_storage),
    ];
    let scalars = req.scalars.iter().map(move |(name, q)| (q, used.scalars.get(name), alloc.scalars.get(name)));
    core.into_iter().chain(scalars).filter(|&(q, _, cap)| q > 0 && cap > 0).map(|(q, u, cap)| (u.saturating_add(q), cap))
}

impl ScorePlugin for BestFit {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        let (mut free_sum, mut n) = (0.0f64, 0u32);
        for (requested, allocatable) in requested_and_allocatable(pod, node) {
            free_sum += ((allocatable - requested) as f64 / allocatable as f64).clamp(0.0, 1.0);
            n += 1;
        }
        if n == 0 {
            return Ok(0);
        }
        Ok(((1.0 - free_sum / f64::from(n)) * scheduler_core::MAX_NODE_SCORE as f64).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn fuller_nodes_score_higher() {
        let mut w = World::new(vec![node("empty").cpu("4").memory("8Gi"), node("half").cpu("4").memory("8Gi")]);
        w.run(1, pod("r").cpu("2").memory("4Gi"));
        let p = w.pod(pod("p").cpu("1").memory("2Gi"));
        // empty: free 3/4 and 6/8 ⇒ 25; half: free 1/4 and 2/8 ⇒ 75.
        assert_eq!(w.score(Arc::new(BestFit), &p).unwrap().1, [25, 75]);
    }

    #[test]
    fn gpus_count_when_requested() {
        let mut w =
            World::new(vec![node("a").cpu("4").allocatable("nvidia.com/gpu", "4"), node("b").cpu("4").allocatable("nvidia.com/gpu", "1")]);
        let p = w.pod(pod("p").cpu("1").request("nvidia.com/gpu", "1"));
        // a: cpu 3/4 free, gpu 3/4 free ⇒ 25; b: cpu 3/4, gpu 0 ⇒ 63.
        assert_eq!(w.score(Arc::new(BestFit), &p).unwrap().1, [25, 63]);
    }
}
