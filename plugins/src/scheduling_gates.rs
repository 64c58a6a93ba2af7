//! SchedulingGates (PreEnqueue): a pod with `spec.schedulingGates` does not enter the active queue.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/schedulinggates`. No arguments.

use std::sync::Arc;

use scheduler_core::{Code, ExtensionPoints, Plugin, Pod, PreEnqueuePlugin, Status};

/// Keeps gated pods out of the queue.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedulingGates;

impl Plugin for SchedulingGates {
    fn name(&self) -> &str {
        "SchedulingGates"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { pre_enqueue: Some(self), ..ExtensionPoints::default() }
    }
}

impl PreEnqueuePlugin for SchedulingGates {
    fn pre_enqueue(&self, pod: &Pod) -> Status {
        if pod.scheduling_gates.is_empty() {
            return Status::success();
        }
        // Go's %v of a []string: "[a b]".
        Status::new(Code::UnschedulableAndUnresolvable, format!("waiting for scheduling gates: [{}]", pod.scheduling_gates.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::Cluster;
    use scheduler_core::testing::pod;

    #[test]
    fn gates_keep_the_pod_out() {
        let mut c = Cluster::new();
        let gated = c.compile_pod(&pod("p").gate("example.com/a").gate("b").def).unwrap();
        let s = SchedulingGates.pre_enqueue(&gated);
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s.message(), "waiting for scheduling gates: [example.com/a b]");
        let free = c.compile_pod(&pod("q").def).unwrap();
        assert!(SchedulingGates.pre_enqueue(&free).is_success());
    }
}
