//! NodeName (Filter): a pod with `spec.nodeName` fits only the node of that name.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/nodename`. No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, StateSlot, Status};

/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Honours `spec.nodeName`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &str {
        "NodeName"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { filter: Some(self), ..ExtensionPoints::default() }
    }
}

impl FilterPlugin for NodeName {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn applies_to(&self, pod: &Pod) -> bool {
        pod.node_name.is_some()
    }

    #[inline]
    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        match pod.node_name {
            Some(name) if name != node.node.name_symbol => Status::unresolvable(ERR_REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::Code;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn only_the_named_node_fits() {
        let mut w = World::new(vec![node("a"), node("b")]);
        let p = w.pod(pod("p").node_name("b"));
        let got = w.filter(Arc::new(NodeName), &p);
        assert_eq!(got[0], Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON));
        assert!(got[1].is_success());
    }

    #[test]
    fn no_node_name_fits_everywhere() {
        let mut w = World::new(vec![node("a"), node("b")]);
        let p = w.pod(pod("p"));
        assert!(w.filter(Arc::new(NodeName), &p).iter().all(Status::is_success));
    }
}
