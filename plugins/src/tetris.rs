//! Tetris (Score): the node whose free resources best align with the pod's request vector.
//!
//! Grandl et al., "Multi-Resource Packing for Cluster Schedulers", SIGCOMM 2014: the alignment score is the
//! dot product of the pod's demand vector and the node's free-resource vector, both normalised by the node's
//! capacity, over the resources the pod requests (cpu, memory, ephemeral storage, scalars). Nodes are
//! normalised so that the best alignment scores 100. The built-in `tetris` policy sets
//! `percentageOfNodesToScore: 100`. No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status, default_normalize_score};

/// Dot-product alignment of demand and free capacity.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tetris;

/// Fixed-point scale of the raw alignment (the dot product of two vectors of fractions).
const SCALE: f64 = 1_000_000.0;

impl Plugin for Tetris {
    fn name(&self) -> &str {
        "Tetris"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

impl ScorePlugin for Tetris {
    /// The raw alignment reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        let (req, alloc, used) = (&pod.requests, &node.node.allocatable, &node.requested);
        let core = [
            (req.milli_cpu, used.milli_cpu, alloc.milli_cpu),
            (req.memory, used.memory, alloc.memory),
            (req.ephemeral_storage, used.ephemeral_storage, alloc.ephemeral_storage),
        ];
        let scalars = req.scalars.iter().map(|(name, q)| (q, used.scalars.get(name), alloc.scalars.get(name)));
        let mut dot = 0.0f64;
        for (demand, in_use, capacity) in core.into_iter().chain(scalars) {
            if demand <= 0 || capacity <= 0 {
                continue;
            }
            let free = (capacity - in_use).max(0) as f64 / capacity as f64;
            dot += demand as f64 / capacity as f64 * free;
        }
        Ok((dot * SCALE).round() as i64)
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
    use scheduler_core::testing::{node, pod};

    #[test]
    fn aligned_free_capacity_wins() {
        // A cpu-heavy pod: the node with free cpu aligns best, the one with only free memory worst.
        let mut w = World::new(vec![node("cpu-free").cpu("8").memory("8Gi"), node("mem-free").cpu("8").memory("8Gi")]);
        w.run(0, pod("r0").cpu("1").memory("7Gi"));
        w.run(1, pod("r1").cpu("7").memory("1Gi"));
        let p = w.pod(pod("p").cpu("1").memory("128Mi"));
        let (raw, normalized) = w.score(Arc::new(Tetris), &p).unwrap();
        assert!(raw[0] > raw[1], "{raw:?}");
        assert_eq!(normalized[0], 100);
    }
}
