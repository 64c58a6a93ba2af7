//! GpuShare (Filter): rejects nodes whose GPUs cannot hold the pod's GPU request: `count` GPUs each with
//! `milli` milli-GPU free (a share of one GPU fits on a GPU that other pods already share).
//!
//! NodeResourcesFit checks a node's GPU totals (`nvidia.com/gpu`, `alibabacloud.com/gpu-milli`); two GPUs
//! with 300 milli-GPU free each pass that check for a 500 milli-GPU pod but cannot run it. This filter
//! checks the devices, as the GPU-sharing scheduler of the openb trace's cluster does (Weng et al., "Beware
//! of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC
//! 2023, §2; its simulator's `open-gpu-share` Filter). The GPU model constraint is a required node
//! affinity on `alibabacloud.com/gpu-card-model` (NodeAffinity checks it). Which GPUs the pod gets is
//! chosen at Reserve, by the policy's plugin or by simsched's default (`NodeInfo::assignment_of`).
//! Pods without GPUs are not checked. No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, StateSlot, Status, gpu::MILLI_PER_GPU};

/// Device-level GPU fit.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuShare;

/// The reason for a node without GPUs.
pub const ERR_REASON_NO_GPU: &str = "node(s) had no GPU";

impl Plugin for GpuShare {
    fn name(&self) -> &str {
        "GpuShare"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { filter: Some(self), ..ExtensionPoints::default() }
    }
}

impl FilterPlugin for GpuShare {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn applies_to(&self, pod: &Pod) -> bool {
        !pod.gpu.is_none()
    }

    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        let request = pod.gpu;
        if request.is_none() || node.gpus.fits(request) {
            return Status::success();
        }
        if node.gpus.is_empty() {
            return Status::unresolvable(ERR_REASON_NO_GPU);
        }
        if node.gpus.len() < request.count as usize {
            return Status::unresolvable(format!("node(s) had fewer than {} GPUs", request.count));
        }
        if request.milli >= MILLI_PER_GPU {
            Status::unschedulable(format!("node(s) didn't have {} idle GPU{}", request.count, if request.count == 1 { "" } else { "s" }))
        } else {
            Status::unschedulable(format!("node(s) didn't have a GPU with {} milli-GPU free", request.milli))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::Code;
    use scheduler_core::testing::{PodBuilder, node, pod};

    /// Nodes: `cpu-only`; `two` with 2 GPUs, one of them 700 milli used; `eight` with 8 idle GPUs.
    fn check(p: PodBuilder, want: [&str; 3]) {
        let mut w =
            World::new(vec![node("cpu-only").cpu("8"), node("two").cpu("8").gpus(2, "T4"), node("eight").cpu("8").gpus(8, "V100M16")]);
        w.run(1, pod("r").gpu_share(700));
        let p = w.pod(p);
        let got: Vec<String> = w
            .filter(Arc::new(GpuShare), &p)
            .iter()
            .map(|s| match s.code() {
                Code::Success => "ok".to_string(),
                Code::UnschedulableAndUnresolvable => format!("never: {}", s.message()),
                _ => format!("now: {}", s.message()),
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn pods_without_gpus_pass_everywhere() {
        check(pod("p").cpu("1"), ["ok", "ok", "ok"]);
    }

    #[test]
    fn a_share_fits_on_a_shared_gpu_with_room() {
        check(pod("p").gpu_share(300), ["never: node(s) had no GPU", "ok", "ok"]);
    }

    #[test]
    fn a_share_needs_one_gpu_with_room_not_a_total() {
        let mut w = World::new(vec![node("n").gpus(2, "T4")]);
        w.run(0, pod("a").gpu_share(700)).run(0, pod("b").gpu_share(700));
        let p = w.pod(pod("p").gpu_share(500));
        let got = w.filter(Arc::new(GpuShare), &p);
        assert_eq!(got[0].message(), "node(s) didn't have a GPU with 500 milli-GPU free");
        assert_eq!(got[0].code(), Code::Unschedulable);
    }

    #[test]
    fn whole_gpus_need_idle_gpus() {
        check(pod("p").gpus(1), ["never: node(s) had no GPU", "ok", "ok"]);
        check(pod("p").gpus(2), ["never: node(s) had no GPU", "now: node(s) didn't have 2 idle GPUs", "ok"]);
        check(pod("p").gpus(4), ["never: node(s) had no GPU", "never: node(s) had fewer than 4 GPUs", "ok"]);
    }
}
