//! DotProduct (Score): prefers the node whose free (CPU, GPU) vector has the smallest dot product with the
//! pod's request, i.e. the node the pod fills best along what it asks.
//!
//! The `DotProd` policy of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
//! Fragmentation Gradient Descent" (USENIX ATC 2023, §6.1, after Tetris), as their simulator runs it in
//! the paper (`dot_product_score.go` with `dimExtMethod: merge`, `normMethod: max`): node vector = (free
//! millicores, free milli-GPU over all GPUs), pod vector = (CPU request with the non-zero default, milli-GPU
//! asked in all), each divided by (128,000, 8,000); score = ⌊100 × (1 − (node · pod) / 2)⌋, 0 when the CPU
//! does not fit. No normalisation. The pod's GPUs are chosen by simsched's default (the tightest GPU for a
//! share), which is the authors' `best` GPU selection. No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, MAX_NODE_SCORE, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

use crate::gpu_node::{MAX_SPEC_CPU, MAX_SPEC_GPU, cpu_left, gpu_left, pod_cpu};

/// Smallest dot product of free resources and request first.
#[derive(Clone, Copy, Debug, Default)]
pub struct DotProduct;

impl Plugin for DotProduct {
    fn name(&self) -> &str {
        "DotProduct"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

impl ScorePlugin for DotProduct {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        let (cpu_free, cpu_asked) = (cpu_left(node), pod_cpu(pod));
        if cpu_free < cpu_asked {
            return Ok(0);
        }
        let node_vec = [cpu_free as f64 / MAX_SPEC_CPU, gpu_left(node) as f64 / MAX_SPEC_GPU];
        let pod_vec = [cpu_asked as f64 / MAX_SPEC_CPU, pod.gpu.total_milli() as f64 / MAX_SPEC_GPU];
        let dot = node_vec[0] * pod_vec[0] + node_vec[1] * pod_vec[1];
        let score = 1.0 - dot / 2.0;
        Ok(((100.0 * score) as i64).clamp(0, MAX_NODE_SCORE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn the_smaller_free_vector_along_the_request_wins() {
        let mut w =
            World::new(vec![node("idle").cpu("64").gpus(8, "V100M16"), node("busy").cpu("64").gpus(8, "V100M16"), node("tiny").cpu("1")]);
        w.run(1, pod("r").cpu("48").gpus(6));
        let p = w.pod(pod("p").cpu("8").gpus(1));
        // idle: (64000/128000 × 8000/128000 + 8000/8000 × 1000/8000) / 2 = (0.03125 + 0.125) / 2 ⇒ ⌊92.19⌋;
        // busy: (16000/128000 × 0.0625 + 2000/8000 × 0.125) / 2 = 0.01953 ⇒ ⌊98.05⌋; tiny: CPU short ⇒ 0.
        assert_eq!(w.score(Arc::new(DotProduct), &p).unwrap().0, [92, 98, 0]);
    }
}
