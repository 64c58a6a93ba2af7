//! What the GPU-sharing policies of Weng et al. (USENIX ATC 2023) read of a node and a pod: free CPU, free
//! milli-GPU per GPU, and the pod's CPU and GPU request, in their simulator's units.

use scheduler_core::{NodeInfo, Pod};

/// The authors' normalising maxima (`MaxSpecCpu`, `MaxSpecGpu`): the largest node's CPU (millicores) and
/// milli-GPU.
pub const MAX_SPEC_CPU: f64 = 128_000.0;
/// See [`MAX_SPEC_CPU`].
pub const MAX_SPEC_GPU: f64 = 8_000.0;

/// Millicores free on the node (allocatable − the pods' real requests).
#[inline]
pub fn cpu_left(node: &NodeInfo) -> i64 {
    node.node.allocatable.milli_cpu - node.requested.milli_cpu
}

/// Milli-GPU free on the node, over its GPUs.
#[inline]
pub fn gpu_left(node: &NodeInfo) -> i64 {
    node.gpus.free().iter().map(|&f| i64::from(f)).sum()
}

/// The pod's CPU request as the authors read it: with kube-scheduler's non-zero default (100m for a
/// container without one).
#[inline]
pub fn pod_cpu(pod: &Pod) -> i64 {
    pod.non_zero_milli_cpu
}

/// The GPUs a pod asking for whole GPUs (or a share) takes from `free` in the authors' `NodeResource.Sub`:
/// for each GPU asked, the GPU with the least free milli-GPU that still fits (lowest index among equals).
/// Returns the free list after, or `None` if the pod does not fit.
pub fn take_tightest(free: &[i32], count: u32, milli: u32) -> Option<smallvec::SmallVec<[i32; 8]>> {
    let mut after: smallvec::SmallVec<[i32; 8]> = free.iter().copied().collect();
    let mut order: smallvec::SmallVec<[usize; 8]> = (0..free.len()).collect();
    order.sort_by_key(|&i| (free[i], i));
    let mut left = count;
    for i in order {
        if left == 0 {
            break;
        }
        if after[i] >= milli as i32 {
            after[i] -= milli as i32;
            left -= 1;
        }
    }
    (left == 0).then_some(after)
}
