//! GpuPacking (Score): prefers putting a GPU share on a GPU already shared, then on a used node, then on an
//! idle node; whole-GPU pods prefer used nodes.
//!
//! The `GpuPacking` policy of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
//! Fragmentation Gradient Descent" (USENIX ATC 2023, §6.1), exactly as their simulator computes it
//! (`gpu_packing_score.go`, integer arithmetic): on an idle node (every GPU idle) max(33 − n, n) for n
//! GPUs; else the pod's GPUs are the tightest ones that fit; if any of them is idle, max(50 − k, 33) for k
//! idle GPUs taken; else 100 − Σ(free × 100 / 1000) / 10, at least 50. Pods without GPUs score 0. The
//! pod's GPUs are chosen by simsched's default (the tightest, the authors' `best`). No arguments.

use std::sync::Arc;

use scheduler_core::gpu::MILLI_PER_GPU;
use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

/// Shared GPUs first, then used nodes, then idle nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuPacking;

impl Plugin for GpuPacking {
    fn name(&self) -> &str {
        "GpuPacking"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

impl ScorePlugin for GpuPacking {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        if pod.gpu.is_none() {
            return Ok(0);
        }
        let free = node.gpus.free();
        let idle = MILLI_PER_GPU as i32;
        let n_idle = free.iter().filter(|&&f| f == idle).count() as i64;
        if n_idle == free.len() as i64 {
            return Ok((100 / 3 - n_idle).max(n_idle));
        }
        let mut order: smallvec::SmallVec<[usize; 8]> = (0..free.len()).collect();
        order.sort_by_key(|&i| (free[i], i));
        let (mut wanted, mut idle_taken, mut taken_free) = (pod.gpu.count, 0i64, 0i64);
        for i in order {
            if wanted == 0 {
                break;
            }
            if free[i] >= pod.gpu.milli as i32 {
                wanted -= 1;
                taken_free += i64::from(free[i]) * 100 / 1000;
                idle_taken += i64::from(free[i] == idle);
            }
        }
        if wanted != 0 {
            return Ok(0);
        }
        if idle_taken > 0 {
            return Ok((100 / 2 - idle_taken).max(100 / 3));
        }
        Ok((100 - taken_free / 10).max(100 / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn shared_gpus_then_used_nodes_then_idle_nodes() {
        let mut w = World::new(vec![node("shared").gpus(2, "T4"), node("used").gpus(2, "T4"), node("idle").gpus(8, "T4")]);
        w.run(0, pod("a").gpu_share(500));
        w.run(1, pod("b").gpus(1));
        let share = w.pod(pod("p").gpu_share(300));
        // shared: GPU 0 has 500 free ⇒ 100 − 50/10 = 95; used: takes its idle GPU ⇒ 50 − 1; idle: max(33 − 8, 8).
        assert_eq!(w.score(Arc::new(GpuPacking), &share).unwrap().0, [95, 49, 25]);
        let whole = w.pod(pod("q").gpus(1));
        assert_eq!(w.score(Arc::new(GpuPacking), &whole).unwrap().0, [49, 49, 25]);
    }
}
