//! NodeUnschedulable (Filter): rejects nodes with `spec.unschedulable: true` unless the pod tolerates the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/nodeunschedulable`. No arguments.

use std::sync::Arc;

use scheduler_core::{
    CycleContext, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, StateSlot, Status, Taint, TaintEffect, tolerated, well_known,
};

/// Upstream `ErrReasonUnschedulable`.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";

/// Rejects cordoned nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &str {
        "NodeUnschedulable"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { filter: Some(self), ..ExtensionPoints::default() }
    }
}

impl FilterPlugin for NodeUnschedulable {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    #[inline]
    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        if !node.node.unschedulable {
            return Status::success();
        }
        let taint = Taint { key: well_known::TAINT_UNSCHEDULABLE, value: well_known::EMPTY, effect: TaintEffect::NoSchedule };
        if tolerated(&pod.tolerations, &taint) { Status::success() } else { Status::unresolvable(ERR_REASON_UNSCHEDULABLE) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};
    use scheduler_core::{Code, TaintEffect::*, TolerationOperator::*};

    fn check(p: scheduler_core::testing::PodBuilder, want: Code) {
        let mut w = World::new(vec![node("cordoned").unschedulable(), node("open")]);
        let p = w.pod(p);
        let got = w.filter(Arc::new(NodeUnschedulable), &p);
        assert_eq!(got[0].code(), want);
        assert!(got[1].is_success());
        if want != Code::Success {
            assert_eq!(got[0].reasons(), [ERR_REASON_UNSCHEDULABLE]);
        }
    }

    #[test]
    fn cordoned_node_rejects_a_plain_pod() {
        check(pod("p"), Code::UnschedulableAndUnresolvable);
    }

    #[test]
    fn toleration_of_the_unschedulable_taint_admits() {
        check(pod("p").toleration("node.kubernetes.io/unschedulable", Exists, "", Some(NoSchedule)), Code::Success);
        check(pod("p").toleration("", Exists, "", None), Code::Success);
        check(pod("p").toleration("node.kubernetes.io/unschedulable", Equal, "", None), Code::Success);
    }

    #[test]
    fn other_tolerations_do_not_admit() {
        check(pod("p").toleration("node.kubernetes.io/unschedulable", Exists, "", Some(NoExecute)), Code::UnschedulableAndUnresolvable);
        check(pod("p").toleration("node.kubernetes.io/unschedulable", Equal, "true", None), Code::UnschedulableAndUnresolvable);
    }
}
