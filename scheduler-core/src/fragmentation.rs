//! GPU fragmentation as Weng et al. define it ("Beware of Fragmentation: Scheduling GPU-Sharing Workloads
//! with Fragmentation Gradient Descent", USENIX ATC 2023, §3): the idle GPU capacity of a node that the
//! workload's typical pods could not use, weighted by how often each kind of pod arrives.
//!
//! Reimplemented from the authors' simulator (`pkg/utils/frag.go` and `GetTypicalPods` in
//! `hkust-adsl/kubernetes-scheduler-simulator`), including its floating-point order, because the FGD
//! score truncates it:
//! - the *typical pods* are the workload's pods grouped by (CPU request with kube-scheduler's non-zero
//!   default, GPU request, GPU-model constraint), most frequent first, the fewest groups that cover 95 % of
//!   the pods, frequencies renormalised to sum to 1;
//! - against one typical pod a node's idle milli-GPU are all fragment, except when the pod fits on the
//!   node (CPU and GPUs, and the node is one it may use): then only the GPUs with less free than the pod's
//!   per-GPU request are fragment (the paper's Q-III case). A pod without GPUs sees every idle GPU as
//!   fragment. Memory is not considered (the paper's definition has no memory);
//! - a node's fragmentation is the frequency-weighted sum over the typical pods; a node without GPUs has
//!   none.

use smallvec::SmallVec;

use crate::gpu::{GpuRequest, MILLI_PER_GPU};
use crate::intern::Interner;
use crate::node::{Node, NodeInfo};
use crate::pod::Pod;
use crate::selector::NodeSelector;

/// The share of pods the typical pods cover (the authors' `podPopularityThreshold: 95`).
pub const POPULARITY_PERCENT: f64 = 95.0;

/// One kind of pod of the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct TypicalPod {
    /// CPU request, millicores, with kube-scheduler's non-zero default (100m for a container without one).
    pub milli_cpu: i64,
    /// GPU request.
    pub gpu: GpuRequest,
    /// The pod's required node affinity (its GPU-model constraint): nodes it does not match are of no use
    /// to it.
    pub node_affinity: Option<NodeSelector>,
    /// Pods of this kind in the workload.
    pub count: u64,
    /// Frequency among the typical pods (they sum to 1).
    pub frequency: f64,
}

impl TypicalPod {
    fn may_use(&self, node: &Node, interner: &Interner) -> bool {
        self.node_affinity.as_ref().is_none_or(|sel| sel.matches(node.facts(), interner))
    }
}

/// The typical pods of a workload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypicalPods {
    pods: Vec<TypicalPod>,
    /// Pods read.
    n_pods: u64,
}

/// A node's or cluster's GPU fragmentation, milli-GPU.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fragmentation {
    /// Idle milli-GPU weighted by the typical pods' frequencies (equal to the idle milli-GPU).
    pub idle: f64,
    /// The fragmented part of it.
    pub fragmented: f64,
}

impl Fragmentation {
    /// Adds another node's.
    pub fn add(&mut self, other: Fragmentation) {
        self.idle += other.idle;
        self.fragmented += other.fragmented;
    }

    /// Removes a node's.
    pub fn sub(&mut self, other: Fragmentation) {
        self.idle -= other.idle;
        self.fragmented -= other.fragmented;
    }

    /// Fragmented / idle, in percent (0 when nothing is idle).
    pub fn ratio_percent(&self) -> f64 {
        if self.idle > 0.0 { 100.0 * self.fragmented / self.idle } else { 0.0 }
    }
}

/// The (CPU, GPU, affinity) kind of a pod, by which the typical pods are grouped.
fn kind_of(pod: &Pod) -> (i64, GpuRequest, &Option<NodeSelector>) {
    (pod.non_zero_milli_cpu, pod.gpu, &pod.required_node_affinity)
}

impl TypicalPods {
    /// The typical pods of a workload's pods (the authors' `GetTypicalPods` with threshold 95 %, step 1,
    /// CPU-only pods included).
    pub fn from_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> TypicalPods {
        let mut kinds: Vec<TypicalPod> = Vec::new();
        let mut n_pods = 0u64;
        for pod in pods {
            n_pods += 1;
            let (milli_cpu, gpu, affinity) = kind_of(pod);
            match kinds.iter_mut().find(|k| k.milli_cpu == milli_cpu && k.gpu == gpu && &k.node_affinity == affinity) {
                Some(k) => k.count += 1,
                None => kinds.push(TypicalPod { milli_cpu, gpu, node_affinity: affinity.clone(), count: 1, frequency: 0.0 }),
            }
        }
        // Most frequent first; among equals the larger CPU, then per-GPU milli, then GPU count first, then a
        // constrained kind before an unconstrained one (upstream's GPU-type string order puts "" last);
        // first seen first after that (a stable sort).
        kinds.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.milli_cpu.cmp(&a.milli_cpu))
                .then(b.gpu.milli.cmp(&a.gpu.milli))
                .then(b.gpu.count.cmp(&a.gpu.count))
                .then(b.node_affinity.is_some().cmp(&a.node_affinity.is_some()))
        });
        let total = n_pods as f64;
        let expected = POPULARITY_PERCENT * total / 100.0;
        let mut cumulative = 0.0f64;
        let mut kept = 0;
        while cumulative < expected && kept < kinds.len() {
            cumulative += kinds[kept].count as f64;
            kinds[kept].frequency = kinds[kept].count as f64 / total;
            kept += 1;
        }
        if kept < kinds.len() {
            kinds.truncate(kept);
            let covered = cumulative / total;
            for k in &mut kinds {
                k.frequency /= covered;
            }
        }
        TypicalPods { pods: kinds, n_pods }
    }

    /// Typical pods given as they are (their frequencies are used as given).
    pub fn new(pods: Vec<TypicalPod>) -> TypicalPods {
        let n_pods = pods.iter().map(|p| p.count).sum();
        TypicalPods { pods, n_pods }
    }

    /// The typical pods, most frequent first.
    pub fn pods(&self) -> &[TypicalPod] {
        &self.pods
    }

    /// Number of pods they were computed from.
    pub fn n_pods(&self) -> u64 {
        self.n_pods
    }

    /// Whether there are none (an empty workload).
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// The fragmentation of `node` as it is.
    pub fn of_node(&self, node: &NodeInfo, interner: &Interner) -> Fragmentation {
        let cpu_left = node.node.allocatable.milli_cpu - node.requested.milli_cpu;
        self.of_state(&node.node, node.gpus.free(), cpu_left, interner)
    }

    /// The fragmentation of `node` with `free` milli-GPU on its GPUs and `cpu_left` millicores free
    /// (upstream `NodeGpuShareFragAmount`: per category, then summed in category order).
    pub fn of_state(&self, node: &Node, free: &[i32], cpu_left: i64, interner: &Interner) -> Fragmentation {
        // Upstream's categories: Q1 lack both, Q2 lack GPU, Q3 satisfied, Q4 lack CPU, XL, XR, no access.
        const Q1: usize = 0;
        const Q2: usize = 1;
        const Q3: usize = 2;
        const Q4: usize = 3;
        const XL: usize = 4;
        const XR: usize = 5;
        const NO_ACCESS: usize = 6;
        if free.is_empty() {
            return Fragmentation::default();
        }
        // The free milli-GPU in ascending order with prefix sums: per typical pod, the GPUs too small for it
        // are a prefix, found by binary search.
        let mut sorted: SmallVec<[i32; 8]> = free.iter().copied().collect();
        sorted.sort_unstable();
        let mut below: SmallVec<[i64; 9]> = SmallVec::with_capacity(sorted.len() + 1);
        below.push(0);
        for &f in &sorted {
            below.push(below[below.len() - 1] + i64::from(f));
        }
        let idle = below[sorted.len()];
        let mut data = [0.0f64; 7];
        for tp in &self.pods {
            let cpu_fits = cpu_left >= tp.milli_cpu;
            let n_small = sorted.partition_point(|&f| f < tp.gpu.milli as i32);
            let category = if tp.gpu.is_none() {
                if cpu_fits { XL } else { XR }
            } else if !tp.may_use(node, interner) {
                NO_ACCESS
            } else {
                let gpus_fit = sorted.len() - n_small >= tp.gpu.count as usize;
                match (gpus_fit, cpu_fits) {
                    (true, true) => Q3,
                    (true, false) => Q4,
                    (false, true) => Q2,
                    (false, false) => Q1,
                }
            };
            if category == Q3 {
                let too_small = below[n_small];
                data[Q2] += tp.frequency * too_small as f64;
                data[Q3] += tp.frequency * (idle - too_small) as f64;
            } else {
                data[category] += tp.frequency * idle as f64;
            }
        }
        let mut fragmented = 0.0;
        let mut all = 0.0;
        for (k, v) in data.iter().enumerate() {
            if k != Q3 {
                fragmented += v;
            }
            all += v;
        }
        Fragmentation { idle: all, fragmented }
    }
}

/// Total milli-GPU of a node's GPUs.
pub fn capacity_milli(node: &Node) -> i64 {
    i64::from(node.gpu_count) * i64::from(MILLI_PER_GPU)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::Interner;
    use crate::node::NodeDef;

    fn kind(milli_cpu: i64, milli: u32, count: u32, frequency: f64) -> TypicalPod {
        TypicalPod { milli_cpu, gpu: GpuRequest { count, milli }, node_affinity: None, count: 0, frequency }
    }

    /// A typical pod restricted to GPU model `model` ("" = any), as the openb importer writes `gpu_spec`.
    fn typed(milli_cpu: i64, milli: u32, count: u32, model: &str, percent: f64, interner: &mut Interner) -> TypicalPod {
        use crate::selector::{NodeSelectorDef, NodeSelectorOperator, NodeSelectorRequirementDef, NodeSelectorTermDef};
        let node_affinity = (!model.is_empty()).then(|| {
            let requirement = NodeSelectorRequirementDef {
                key: crate::gpu::GPU_MODEL_LABEL.into(),
                operator: NodeSelectorOperator::In,
                values: vec![model.into()],
            };
            let def = NodeSelectorDef { terms: vec![NodeSelectorTermDef { match_expressions: vec![requirement], match_fields: vec![] }] };
            NodeSelector::compile(&def, interner, "affinity").unwrap()
        });
        TypicalPod { node_affinity, frequency: percent / 100.0, ..kind(milli_cpu, milli, count, 0.0) }
    }

    /// `TestingGenerateGetTypicalPods` of the authors' `pkg/utils/frag_test.go` (35 kinds, some restricted
    /// to a GPU model; their frequencies sum to 0.9506, not 1).
    const AUTHORS_TYPICAL: [(i64, u32, u32, &str, f64); 35] = [
        (6000, 465, 1, "", 9.33),
        (8000, 440, 1, "2080", 9.15),
        (8000, 475, 1, "T4", 8.76),
        (8000, 440, 1, "P100", 8.72),
        (2000, 465, 1, "", 8.68),
        (12000, 900, 1, "", 8.65),
        (4000, 900, 1, "", 8.43),
        (16000, 678, 1, "T4", 8.36),
        (8000, 500, 1, "", 8.29),
        (6000, 511, 1, "", 8.11),
        (14000, 1000, 2, "2080", 0.54),
        (4000, 1000, 1, "2080", 0.43),
        (32000, 1000, 2, "T4", 0.43),
        (16000, 1000, 1, "V100M16", 0.40),
        (64000, 1000, 2, "", 0.40),
        (10000, 1000, 2, "", 0.40),
        (11400, 1000, 1, "T4", 0.36),
        (16000, 1000, 1, "T4", 0.36),
        (4000, 1000, 2, "", 0.36),
        (14000, 1000, 2, "V100M16", 0.36),
        (8000, 1000, 4, "", 0.36),
        (16000, 1000, 2, "", 0.32),
        (2000, 1000, 1, "T4", 0.32),
        (6000, 1000, 1, "", 0.32),
        (4000, 1000, 1, "", 0.32),
        (5000, 1000, 1, "", 0.32),
        (32000, 1000, 4, "V100M16", 0.32),
        (32000, 1000, 2, "", 0.32),
        (24000, 1000, 8, "2080", 0.32),
        (40000, 1000, 4, "", 0.29),
        (32000, 1000, 8, "", 0.29),
        (32000, 1000, 1, "T4", 0.29),
        (16000, 1000, 1, "", 0.25),
        (7000, 1000, 1, "V100M16", 0.25),
        (24000, 1000, 1, "T4", 0.25),
    ];

    /// `TestingGenerateGetTypicalPodsWithNonGpu` of the same file (CPU-only kinds included).
    const AUTHORS_TYPICAL_WITH_CPU_ONLY: [(i64, u32, u32, f64); 31] = [
        (15700, 1000, 1, 28.69),
        (11900, 1000, 1, 18.93),
        (11400, 1000, 1, 12.27),
        (1000, 0, 0, 7.36),
        (18710, 1000, 1, 4.85),
        (8200, 1000, 1, 3.79),
        (16400, 1000, 1, 3.31),
        (9810, 1000, 1, 1.97),
        (15200, 1000, 1, 1.87),
        (11200, 1000, 1, 1.81),
        (14200, 1000, 1, 1.76),
        (12000, 0, 0, 1.65),
        (14900, 1000, 1, 1.39),
        (60200, 1000, 4, 1.23),
        (64200, 1000, 8, 1.07),
        (32200, 1000, 4, 1.01),
        (17400, 1000, 2, 0.91),
        (30200, 1000, 2, 0.69),
        (16000, 1000, 1, 0.64),
        (15000, 1000, 1, 0.59),
        (64000, 1000, 8, 0.53),
        (15000, 0, 0, 0.53),
        (11910, 1000, 1, 0.53),
        (120200, 1000, 8, 0.48),
        (11300, 1000, 1, 0.37),
        (30000, 1000, 2, 0.32),
        (9800, 1000, 1, 0.32),
        (8000, 1000, 1, 0.32),
        (2000, 1000, 1, 0.27),
        (2000, 80, 1, 0.27),
        (1000, 1000, 1, 0.27),
    ];

    fn authors_typical_pods(interner: &mut Interner) -> TypicalPods {
        let pods = AUTHORS_TYPICAL.iter().map(|&(c, m, n, model, pct)| typed(c, m, n, model, pct, interner)).collect();
        TypicalPods { pods, n_pods: 0 }
    }

    fn node(gpus: u32, model: &str, interner: &mut Interner) -> Node {
        let def = NodeDef {
            name: "n".into(),
            allocatable: vec![("cpu".into(), "128".into()), ("nvidia.com/gpu".into(), gpus.to_string())],
            labels: vec![(crate::gpu::GPU_MODEL_LABEL.into(), model.into())],
            ..NodeDef::default()
        };
        Node::compile(&def, interner).unwrap()
    }

    fn check(typical: &TypicalPods, model: &str, free: &[i32], cpu_left: i64, want: f64, interner: &mut Interner) {
        let node = node(free.len() as u32, model, interner);
        let got = typical.of_state(&node, free, cpu_left, interner).fragmented;
        assert!((got - want).abs() < 0.01, "free {free:?}, cpu {cpu_left}: {got} != {want}");
    }

    #[test]
    fn the_authors_test_vectors() {
        // TestNodeGpuShareFragAmountScore: nodes of model "1080", which no restricted kind may use.
        let i = &mut Interner::new();
        let typical = authors_typical_pods(i);
        check(&typical, "1080", &[200, 1000, 1000, 500], 1000, 2566.62, i);
        check(&typical, "1080", &[1000; 4], 1000, 3802.40, i);
        check(&typical, "1080", &[1000; 8], 1000, 7604.80, i);
        // Q4: the GPUs fit but the CPU does not: every idle GPU is fragment.
        let one = TypicalPods { pods: vec![typed(6000, 465, 1, "", 9.33, i)], n_pods: 0 };
        check(&one, "1080", &[200, 1000, 1000, 500], 1000, 251.91, i);
        // TestNodeGpuShareFragAmountWithNonGpu: CPU-only kinds see every idle GPU as fragment.
        let pods = AUTHORS_TYPICAL_WITH_CPU_ONLY.iter().map(|&(c, m, n, pct)| typed(c, m, n, "", pct, i)).collect();
        let with_cpu_only = TypicalPods { pods, n_pods: 0 };
        check(&with_cpu_only, "P100", &[1000; 8], 64000, 887.20, i);
        check(&with_cpu_only, "P100", &[1000, 1000, 1000, 1000, 0, 0, 0, 0], 32000, 554.4, i);
    }

    #[test]
    fn a_fitting_pod_leaves_only_too_small_gpus_fragmented() {
        let i = &mut Interner::new();
        let one = TypicalPods { pods: vec![kind(1000, 500, 1, 1.0)], n_pods: 0 };
        check(&one, "T4", &[200, 1000, 300, 500], 8000, 500.0, i);
        let cpu_only = TypicalPods { pods: vec![kind(1000, 0, 0, 1.0)], n_pods: 0 };
        check(&cpu_only, "T4", &[200, 1000], 8000, 1200.0, i);
        check(&one, "T4", &[], 8000, 0.0, i);
    }

    #[test]
    fn typical_pods_cover_95_percent_most_frequent_first() {
        let mut interner = Interner::new();
        let mut pods = Vec::new();
        let shapes: [(&str, &str, u32); 4] = [("1", "500", 60), ("2", "1000", 30), ("1", "0", 6), ("4", "250", 4)];
        for (cpu, milli, n) in shapes {
            for i in 0..n {
                let mut b = crate::testing::pod(&format!("p{cpu}-{milli}-{i}")).cpu(cpu);
                if milli != "0" {
                    b = b.request("alibabacloud.com/gpu-milli", milli);
                }
                pods.push(Pod::compile(&b.def, &mut interner).unwrap());
            }
        }
        let typical = TypicalPods::from_pods(&pods);
        let got: Vec<(i64, u32, u64)> = typical.pods().iter().map(|t| (t.milli_cpu, t.gpu.milli, t.count)).collect();
        // 60 + 30 + 6 = 96 ≥ 95 of 100: the 4 pods of the last kind are left out.
        assert_eq!(got, [(1000, 500, 60), (2000, 1000, 30), (1000, 0, 6)]);
        let sum: f64 = typical.pods().iter().map(|t| t.frequency).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        assert!((typical.pods()[0].frequency - 60.0 / 96.0).abs() < 1e-12);
    }
}
