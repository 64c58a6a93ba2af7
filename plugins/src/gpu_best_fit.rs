//! GpuBestFit (Score, NormalizeScore): the node left with the least free CPU and GPU after placement.
//!
//! The `BestFit` policy of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
//! Fragmentation Gradient Descent" (USENIX ATC 2023, §6.1), as their simulator computes it
//! (`best_fit_score.go`): score = ⌊100 × (1 − Σ wᵢ (freeᵢ − requestᵢ) / maxᵢ)⌋ over CPU (max 128,000
//! millicores) and GPU (max 8,000 milli-GPU over all GPUs), weights ½ each, 0 when a resource does not fit;
//! then scores are mapped linearly onto 0–100 over the scored nodes with integer division (all 0 when they
//! are equal). simsched's `BestFit` is a different best fit (every requested resource, relative to the
//! node's allocatable); this one keeps the paper's name apart from it. The pod's GPUs are chosen by
//! simsched's default (the authors' `best`). No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, MAX_NODE_SCORE, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

use crate::gpu_node::{MAX_SPEC_CPU, MAX_SPEC_GPU, cpu_left, gpu_left, pod_cpu};

/// Tightest (CPU, GPU) fit first.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuBestFit;

impl Plugin for GpuBestFit {
    fn name(&self) -> &str {
        "GpuBestFit"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

impl ScorePlugin for GpuBestFit {
    /// The raw score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        let free = [cpu_left(node) as f64, gpu_left(node) as f64];
        let request = [pod_cpu(pod) as f64, pod.gpu.total_milli() as f64];
        let max = [MAX_SPEC_CPU, MAX_SPEC_GPU];
        let mut score = 0.0;
        for i in 0..2 {
            if free[i] < request[i] {
                return Ok(0);
            }
            score += (free[i] - request[i]) / max[i] * 0.5;
        }
        Ok((((1.0 - score) * 100.0) as i64).clamp(0, MAX_NODE_SCORE))
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _cx: &CycleContext<'_>, _pod: &Pod, _nodes: &[&NodeInfo], _state: &StateSlot, scores: &mut [i64]) -> Status {
        let (lowest, highest) = scores.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let range = highest - lowest;
        for s in scores.iter_mut() {
            *s = if range == 0 { 0 } else { (*s - lowest) * MAX_NODE_SCORE / range };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn fuller_nodes_score_higher_then_spread_over_0_to_100() {
        let mut w =
            World::new(vec![node("a").cpu("64").gpus(8, "T4"), node("b").cpu("64").gpus(8, "T4"), node("c").cpu("32").gpus(2, "T4")]);
        w.run(1, pod("r").cpu("32").gpus(4));
        let p = w.pod(pod("p").cpu("8").gpus(1));
        // a: 1 − (56000/128000 + 7000/8000)/2 = 0.34375 ⇒ 34; b: 1 − (24000/128000 + 3000/8000)/2 ⇒ 71;
        // c: 1 − (24000/128000 + 1000/8000)/2 ⇒ 84. Normalised: (s − 34) × 100 / 50.
        assert_eq!(w.score(Arc::new(GpuBestFit), &p).unwrap(), (vec![34, 71, 84], vec![0, 74, 100]));
    }
}
