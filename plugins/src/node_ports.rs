//! NodePorts (PreFilter, Filter): rejects nodes where a host port the pod wants is already in use.
//!
//! A wanted `(protocol, port)` conflicts with a used one on the same host IP, and a wildcard IP `0.0.0.0`
//! (or empty) on either side conflicts with every IP. Ports of containers and sidecars with `hostPort > 0`
//! count. Source: kube-scheduler `pkg/scheduler/framework/plugins/nodeports` and `HostPortInfo`. No arguments.

use std::sync::Arc;

use scheduler_core::{
    CycleContext, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, PreFilterPlugin, PreFilterResult, StateSlot, Status,
};

/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Host-port conflicts.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &str {
        "NodePorts"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { pre_filter: Some(self.clone()), filter: Some(self), ..ExtensionPoints::default() }
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, _cx: &CycleContext<'_>, pod: &Pod, _state: &mut StateSlot) -> PreFilterResult {
        if pod.host_ports.is_empty() { Status::skip().into() } else { Status::success().into() }
    }
}

impl FilterPlugin for NodePorts {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    #[inline]
    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        if pod.host_ports.iter().any(|want| node.port_conflicts(want)) { Status::unschedulable(ERR_REASON) } else { Status::success() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    /// A node running a pod that uses `used`, and a pod wanting `want`; `(port, protocol, ip)`.
    fn check(used: (i32, &str, &str), want: (i32, &str, &str), conflict: bool) {
        let mut w = World::new(vec![node("n")]);
        w.run(0, pod("running").host_port(used.0, used.1, used.2));
        let p = w.pod(pod("p").host_port(want.0, want.1, want.2));
        let got = w.filter(Arc::new(NodePorts), &p);
        assert_eq!(!got[0].is_success(), conflict, "used {used:?} want {want:?}");
        if conflict {
            assert_eq!(got[0], Status::unschedulable(ERR_REASON));
        }
    }

    #[test]
    fn same_port_protocol_and_ip_conflict() {
        check((8080, "TCP", "10.0.0.1"), (8080, "TCP", "10.0.0.1"), true);
        check((8080, "", ""), (8080, "TCP", "0.0.0.0"), true);
    }

    #[test]
    fn wildcard_ip_conflicts_with_every_ip() {
        check((8080, "TCP", ""), (8080, "TCP", "10.0.0.1"), true);
        check((8080, "TCP", "10.0.0.1"), (8080, "TCP", "0.0.0.0"), true);
    }

    #[test]
    fn different_ip_protocol_or_port_do_not_conflict() {
        check((8080, "TCP", "10.0.0.1"), (8080, "TCP", "10.0.0.2"), false);
        check((8080, "TCP", ""), (8080, "UDP", ""), false);
        check((8080, "TCP", ""), (8081, "TCP", ""), false);
    }

    #[test]
    fn pods_without_host_ports_skip() {
        let mut w = World::new(vec![node("n")]);
        let p = w.pod(pod("p"));
        let cx = CycleContext::new(&w.cluster);
        assert!(NodePorts.pre_filter(&cx, &p, &mut StateSlot::default()).status.is_skip());
    }

    #[test]
    fn a_removed_pod_frees_its_port() {
        let mut w = World::new(vec![node("n")]);
        let running = w.cluster.compile_pod(&pod("r").host_port(80, "", "").def).unwrap();
        let id = w.cluster.add_pod(running, w.nodes[0]);
        w.cluster.remove_pod(id);
        let p = w.pod(pod("p").host_port(80, "", ""));
        assert!(w.filter(Arc::new(NodePorts), &p)[0].is_success());
    }
}
