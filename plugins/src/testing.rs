//! Test harness: runs one plugin's extension points the way the framework does.

use std::sync::Arc;

use scheduler_core::testing::{NodeBuilder, PodBuilder};
use scheduler_core::{Cluster, CycleContext, NodeId, NodeInfo, Plugin, Pod, StateSlot, Status};

/// The zone label.
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// The hostname label.
pub const HOST: &str = "kubernetes.io/hostname";

/// A cluster built from node builders, and a pod compiled against it.
pub struct World {
    pub cluster: Cluster,
    pub nodes: Vec<NodeId>,
}

impl World {
    pub fn new(nodes: Vec<NodeBuilder>) -> World {
        let mut cluster = Cluster::new();
        let nodes = nodes.iter().map(|n| cluster.add_node(&n.def).unwrap()).collect();
        World { cluster, nodes }
    }

    /// Binds a running pod to node `idx`.
    pub fn run(&mut self, idx: usize, pod: PodBuilder) -> &mut World {
        let p = self.cluster.compile_pod(&pod.def).unwrap();
        self.cluster.add_pod(p, self.nodes[idx]);
        self
    }

    pub fn pod(&mut self, pod: PodBuilder) -> Pod {
        self.cluster.compile_pod(&pod.def).unwrap()
    }

    fn infos(&self) -> Vec<&NodeInfo> {
        self.nodes.iter().map(|&n| self.cluster.node(n)).collect()
    }

    /// PreFilter (if implemented; a Skip means Success for every node) then Filter on every node.
    pub fn filter(&self, plugin: Arc<dyn Plugin>, pod: &Pod) -> Vec<Status> {
        let points = plugin.extension_points();
        let cx = CycleContext::new(&self.cluster);
        let mut state = StateSlot::default();
        if let Some(pre) = &points.pre_filter {
            let r = pre.pre_filter(&cx, pod, &mut state);
            if r.status.is_skip() {
                return vec![Status::success(); self.nodes.len()];
            }
            if !r.status.is_success() {
                return vec![r.status; self.nodes.len()];
            }
        }
        let filter = points.filter.expect("plugin has a filter");
        let infos = self.infos();
        let mut rejected = Vec::new();
        filter.filter_nodes(&cx, pod, &infos, &state, &mut rejected);
        let mut out = vec![Status::success(); infos.len()];
        for (idx, status) in rejected {
            out[idx as usize] = status;
        }
        // The batch path must agree with the per-node path.
        for (node, verdict) in infos.iter().zip(&out) {
            assert_eq!(&filter.filter(&cx, pod, node, &state), verdict);
        }
        out
    }

    /// PreScore (if implemented) then Score and NormalizeScore over every node: (raw, normalised), or the
    /// PreScore status when it is not Success.
    pub fn score(&self, plugin: Arc<dyn Plugin>, pod: &Pod) -> Result<(Vec<i64>, Vec<i64>), Status> {
        let points = plugin.extension_points();
        let cx = CycleContext::new(&self.cluster);
        let infos = self.infos();
        let mut state = StateSlot::default();
        if let Some(pre) = &points.pre_score {
            let status = pre.pre_score(&cx, pod, &infos, &mut state);
            if !status.is_success() {
                return Err(status);
            }
        }
        let score = points.score.expect("plugin has a score");
        let mut raw = vec![0; infos.len()];
        score.score_nodes(&cx, pod, &infos, &state, &mut raw)?;
        let mut normalized = raw.clone();
        if score.has_normalize() {
            let status = score.normalize(&cx, pod, &infos, &state, &mut normalized);
            assert!(status.is_success(), "{status}");
        }
        Ok((raw, normalized))
    }
}
