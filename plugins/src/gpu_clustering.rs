//! GpuClustering (Score): prefers nodes already running pods with the same kind of GPU request (a share of
//! a GPU, or k whole GPUs), then idle nodes, then nodes with other kinds; within each band, the fuller node.
//!
//! The `GpuClustering` policy of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
//! Fragmentation Gradient Descent" (USENIX ATC 2023, §6.1), exactly as their simulator computes it
//! (`gpu_clustering_score.go`, integer arithmetic): base = 25 × (8,000 − free milli-GPU) / 8,000; the
//! score is base + 75 when the node runs only pods of the pod's kind, base + 50 when it runs that kind
//! among others, base + 25 when it runs no GPU pod, base otherwise. Pods without GPUs score 0 everywhere.
//! The pod's GPUs are chosen by simsched's default (the authors' `best`). No arguments.

use std::sync::Arc;

use scheduler_core::gpu::GpuRequest;
use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

use crate::gpu_node::gpu_left;

/// Pods with the same GPU request together.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuClustering;

impl Plugin for GpuClustering {
    fn name(&self) -> &str {
        "GpuClustering"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

/// The authors' affinity tag of a GPU request: a share of one GPU, or the number of whole GPUs.
fn tag(request: GpuRequest) -> u32 {
    if request.is_share() { 0 } else { request.count }
}

impl ScorePlugin for GpuClustering {
    /// The score reads only the pod, this node and the pods on it.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        if pod.gpu.is_none() {
            return Ok(0);
        }
        let own = tag(pod.gpu);
        let (mut has_own, mut has_other) = (false, false);
        for bound in node.pods.iter().filter_map(|&id| cx.cluster.pod(id)) {
            if bound.pod.gpu.is_none() {
                continue;
            }
            if tag(bound.pod.gpu) == own { has_own = true } else { has_other = true }
        }
        let base = 100 / 4 * (8000 - gpu_left(node)) / 8000;
        Ok(match (has_own, has_other) {
            (true, false) => base + 100 * 3 / 4,
            (true, true) => base + 100 * 2 / 4,
            (false, false) => base + 100 / 4,
            (false, true) => base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn the_four_bands() {
        let nodes = (0..4).map(|i| node(&format!("n{i}")).cpu("64").gpus(8, "T4")).collect();
        let mut w = World::new(nodes);
        w.run(0, pod("s0").gpu_share(500));
        w.run(1, pod("s1").gpu_share(500)).run(1, pod("w1").gpus(1));
        w.run(3, pod("w3").gpus(2)).run(3, pod("c3").cpu("1"));
        let p = w.pod(pod("p").gpu_share(250));
        // n0: only shares, 7,500 free ⇒ 25 × 500 / 8000 = 1, + 75; n1: shares among others, 6,500 free ⇒ 4 + 50;
        // n2: idle ⇒ 0 + 25; n3: other kinds only, 6,000 free ⇒ 6.
        assert_eq!(w.score(Arc::new(GpuClustering), &p).unwrap().0, [76, 54, 25, 6]);
        let cpu_only = w.pod(pod("c").cpu("1"));
        assert_eq!(w.score(Arc::new(GpuClustering), &cpu_only).unwrap().0, [0, 0, 0, 0]);
    }
}
