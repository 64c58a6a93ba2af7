//! FGD (Score, Reserve): Fragmentation Gradient Descent, the policy of Weng et al., "Beware of
//! Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent" (USENIX ATC 2023,
//! §4): place the pod where the cluster's GPU fragmentation grows least.
//!
//! A node's fragmentation is measured against the workload's typical pods
//! (`scheduler_core::fragmentation`); the score of a node is ⌊100 × σ((F_before − F_after) / 1000)⌋ with
//! σ the logistic function and F in milli-GPU, as the authors' simulator computes it (`fgd_score.go`): for
//! a pod sharing a GPU, every GPU of the node with room for it is tried and the best (truncated) score is
//! the node's; other pods take their GPUs as the simulator's `NodeResource.Sub` does (the tightest GPUs
//! that fit). Reserve gives a shared-GPU pod the GPU of that best score (lowest index among equals); whole
//! GPUs are the idle GPUs of lowest index (simsched's default, the authors' `AllocateExclusiveGpuId`). A
//! pod that asks for nothing scores 100 everywhere. No normalisation.
//!
//! Arguments: the typical pods, as the workload's distribution of requests. `simsched run`, `compare` and
//! `serve --workload` compute them from the workload when they are not given.
//! ```yaml
//! - name: FGD
//!   args:
//!     typicalPods:
//!     - {milliCpu: 3152, gpuCount: 1, gpuMilli: 810, frequency: 0.135}
//!     - {milliCpu: 11300, gpuCount: 1, gpuMilli: 1000, frequency: 0.113}
//!     - {milliCpu: 12500, frequency: 0.047}            # a pod without GPUs
//!     - {milliCpu: 8000, gpuCount: 2, gpuMilli: 1000, gpuModels: [V100M32], frequency: 0.01}
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use scheduler_core::fragmentation::{TypicalPod, TypicalPods};
use scheduler_core::gpu::{GPU_MODEL_LABEL, GpuRequest, GpuSet, MILLI_PER_GPU};
use scheduler_core::{
    ConfigError, CycleContext, ExtensionPoints, Interner, MAX_NODE_SCORE, NodeInfo, NodeSelector, NodeSelectorDef, NodeSelectorOperator,
    NodeSelectorRequirementDef, NodeSelectorTermDef, Plugin, PluginArgs, Pod, ReservePlugin, ScorePlugin, StateSlot, Status,
};
use serde::Deserialize;

use crate::gpu_node::{cpu_left, pod_cpu, take_tightest};

/// Least fragmentation growth first.
#[derive(Debug)]
pub struct Fgd {
    typical: Arc<TypicalPods>,
    /// Each node's fragmentation as it is, by node id, with the node generation it was computed for: only
    /// the node a pod went to changes between two decisions.
    before: Mutex<Vec<(u64, f64)>>,
}

impl Clone for Fgd {
    fn clone(&self) -> Fgd {
        Fgd::new(self.typical.clone())
    }
}

/// `FGDArgs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FgdArgs {
    typical_pods: Vec<TypicalPodArgs>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TypicalPodArgs {
    milli_cpu: i64,
    #[serde(default)]
    gpu_count: u32,
    #[serde(default)]
    gpu_milli: u32,
    #[serde(default)]
    gpu_models: Vec<String>,
    frequency: f64,
}

impl Fgd {
    /// FGD against `typical`.
    pub fn new(typical: Arc<TypicalPods>) -> Fgd {
        Fgd { typical, before: Mutex::new(Vec::new()) }
    }

    /// The fragmentation of `node` as it is, remembered per node generation.
    fn fragmentation_before(&self, interner: &Interner, node: &NodeInfo) -> f64 {
        let idx = node.id.index();
        let mut cache = self.before.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&(generation, f)) = cache.get(idx)
            && generation == node.generation
        {
            return f;
        }
        let f = self.typical.of_state(&node.node, node.gpus.free(), cpu_left(node), interner).fragmented;
        if cache.len() <= idx {
            cache.resize(idx + 1, (0, 0.0));
        }
        cache[idx] = (node.generation, f);
        f
    }

    /// FGD from its arguments; without `typicalPods` there, against `workload` (the typical pods of the
    /// workload being scheduled), else an error.
    pub fn from_args(args: &PluginArgs<'_>, interner: &mut Interner, workload: Option<&Arc<TypicalPods>>) -> Result<Fgd, ConfigError> {
        let decoded: FgdArgs = args.decode()?;
        let path = format!("{}.typicalPods", args.path());
        if decoded.typical_pods.is_empty()
            && let Some(typical) = workload.filter(|t| !t.is_empty())
        {
            return Ok(Fgd::new(typical.clone()));
        }
        if decoded.typical_pods.is_empty() {
            return Err(ConfigError::new(
                path,
                "FGD needs the workload's typical pods: list them here, or let simsched compute them from the workload (`run`, `compare`, `serve --workload`)",
            ));
        }
        let mut pods = Vec::with_capacity(decoded.typical_pods.len());
        for (idx, t) in decoded.typical_pods.iter().enumerate() {
            let at = |field: &str| format!("{path}[{idx}].{field}");
            if !(0.0..=1.0).contains(&t.frequency) {
                return Err(ConfigError::new(at("frequency"), format!("{} is not a frequency between 0 and 1", t.frequency)));
            }
            if t.gpu_milli > MILLI_PER_GPU || (t.gpu_milli == 0) != (t.gpu_count == 0) || (t.gpu_milli < MILLI_PER_GPU && t.gpu_count > 1) {
                return Err(ConfigError::new(
                    at("gpuMilli"),
                    format!(
                        "gpuCount {} with gpuMilli {}: expected no GPU (both 0), a share of one GPU (gpuCount 1, gpuMilli 1–999) or whole GPUs (gpuMilli 1000)",
                        t.gpu_count, t.gpu_milli
                    ),
                ));
            }
            let node_affinity = if t.gpu_models.is_empty() {
                None
            } else {
                let requirement = NodeSelectorRequirementDef {
                    key: GPU_MODEL_LABEL.into(),
                    operator: NodeSelectorOperator::In,
                    values: t.gpu_models.clone(),
                };
                let def =
                    NodeSelectorDef { terms: vec![NodeSelectorTermDef { match_expressions: vec![requirement], match_fields: vec![] }] };
                Some(NodeSelector::compile(&def, interner, &at("gpuModels")).map_err(|e| ConfigError::new(e.field, e.message))?)
            };
            let gpu = GpuRequest { count: t.gpu_count, milli: t.gpu_milli };
            pods.push(TypicalPod { milli_cpu: t.milli_cpu, gpu, node_affinity, count: 0, frequency: t.frequency });
        }
        Ok(Fgd::new(Arc::new(TypicalPods::new(pods))))
    }

    /// The node's score and, for a shared-GPU pod, the GPU it is for.
    fn score_and_gpu(&self, interner: &Interner, pod: &Pod, node: &NodeInfo) -> (i64, Option<usize>) {
        let cpu = cpu_left(node);
        let free = node.gpus.free();
        let before = self.fragmentation_before(interner, node);
        let score_of = |after_free: &[i32]| {
            let after = self.typical.of_state(&node.node, after_free, cpu - pod_cpu(pod), interner).fragmented;
            (100.0 * sigmoid((before - after) / 1000.0)) as i64
        };
        if pod.gpu.is_share() {
            let mut best: Option<(i64, usize)> = None;
            let mut tried: smallvec::SmallVec<[i32; 8]> = free.iter().copied().collect();
            for (idx, &f) in free.iter().enumerate() {
                // GPUs with as much free give the same score (fragmentation does not depend on the order of
                // the GPUs): the first of them stands for all, as the lowest index wins ties.
                if f < pod.gpu.milli as i32 || free[..idx].contains(&f) {
                    continue;
                }
                tried[idx] -= pod.gpu.milli as i32;
                let score = score_of(&tried);
                tried[idx] = f;
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, idx));
                }
            }
            return best.map_or((0, None), |(s, idx)| (s, Some(idx)));
        }
        let after = take_tightest(free, pod.gpu.count, pod.gpu.milli).unwrap_or_else(|| free.iter().copied().collect());
        (score_of(&after), None)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Plugin for Fgd {
    fn name(&self) -> &str {
        "FGD"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self.clone()), reserve: Some(self), ..ExtensionPoints::default() }
    }
}

impl ScorePlugin for Fgd {
    /// The score reads only the pod, this node and the fixed typical pods.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        if pod.requests.is_zero_request() && pod.gpu.is_none() {
            return Ok(MAX_NODE_SCORE);
        }
        Ok(self.score_and_gpu(cx.cluster.interner(), pod, node).0.clamp(0, MAX_NODE_SCORE))
    }
}

impl ReservePlugin for Fgd {
    fn reserve(
        &self,
        cx: &CycleContext<'_>,
        pod: &Pod,
        node: &NodeInfo,
        _draw: &mut dyn FnMut(usize) -> usize,
    ) -> Result<Option<GpuSet>, Status> {
        if !pod.gpu.is_share() {
            return Ok(None);
        }
        Ok(self.score_and_gpu(cx.cluster.interner(), pod, node).1.map(|idx| GpuSet::EMPTY.with(idx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    fn fgd(json: &str) -> Result<Fgd, String> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        Fgd::from_args(&PluginArgs::new("FGD", Some(&value), "args"), &mut Interner::new(), None).map_err(|e| e.to_string())
    }

    #[test]
    fn a_share_goes_where_it_strands_least() {
        // Half the pods want 500 milli-GPU, half a whole GPU.
        let plugin = fgd(r#"{"typicalPods": [{"milliCpu": 1000, "gpuCount": 1, "gpuMilli": 500, "frequency": 0.5},
                                    {"milliCpu": 1000, "gpuCount": 1, "gpuMilli": 1000, "frequency": 0.5}]}"#)
        .unwrap();
        let mut w = World::new(vec![node("half").cpu("32").gpus(2, "T4"), node("idle").cpu("32").gpus(2, "T4")]);
        w.run(0, pod("a").cpu("1").gpu_share(500));
        let p = w.pod(pod("p").cpu("1").gpu_share(500));
        // half: F = 0.5 × 500 (the half GPU cannot take a whole-GPU pod) = 250 before; filling GPU 0 leaves
        // F = 0 ⇒ σ(0.25) ⇒ 56. idle: F = 0 before; taking GPU 0 leaves 500 on it ⇒ F = 250 ⇒ σ(−0.25) ⇒ 43.
        assert_eq!(w.score(Arc::new(plugin.clone()), &p).unwrap().0, [56, 43]);
        let cx = CycleContext::new(&w.cluster);
        let got = plugin.reserve(&cx, &p, w.cluster.node(w.nodes[0]), &mut |_| 0).unwrap();
        assert_eq!(got, Some(GpuSet::EMPTY.with(0)));
    }

    #[test]
    fn bad_arguments_name_the_field() {
        assert_eq!(
            fgd(r#"{"typicalPods": []}"#).unwrap_err(),
            "args.typicalPods: FGD needs the workload's typical pods: list them here, or let simsched compute them from the workload (`run`, `compare`, `serve --workload`)"
        );
        assert_eq!(
            fgd(r#"{"typicalPods": [{"milliCpu": 1, "gpuCount": 2, "gpuMilli": 500, "frequency": 0.5}]}"#).unwrap_err(),
            "args.typicalPods[0].gpuMilli: gpuCount 2 with gpuMilli 500: expected no GPU (both 0), a share of one GPU (gpuCount 1, gpuMilli 1–999) or whole GPUs (gpuMilli 1000)"
        );
        assert_eq!(
            fgd(r#"{"typicalPods": [{"milliCpu": 1, "frequency": 2}]}"#).unwrap_err(),
            "args.typicalPods[0].frequency: 2 is not a frequency between 0 and 1"
        );
    }
}
