//! What the framework offers PostFilter plugins (upstream's framework handle as preemption uses it): the
//! nodes where removing pods might help, copies of the cycle state updated through the PreFilter plugins'
//! extensions, and the filters run on a modified copy of a node with nominated pods taken into account
//! (upstream `RunFilterPluginsWithNominatedPods`).

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::cluster::Cluster;
use crate::framework::{CycleContext, StateSlot};
use crate::node::{NodeId, NodeInfo, PodId};
use crate::pod::Pod;
use crate::profile::Profile;
use crate::status::Status;

/// A copy of the cycle's PreFilter state that a PostFilter plugin changes by simulating pod adds and
/// removals (upstream `CycleState.Clone`).
#[derive(Clone)]
pub struct SimulatedState {
    slots: Vec<StateSlot>,
}

/// The framework as a PostFilter plugin sees it, for one failed cycle.
pub struct PostFilterHandle<'a, 'b> {
    pub(crate) cx: CycleContext<'a>,
    pub(crate) profile: &'a Profile,
    pub(crate) state: &'b [StateSlot],
    pub(crate) skip: &'b [bool],
    pub(crate) rng: &'b mut Xoshiro256PlusPlus,
    pub(crate) potential: &'b [NodeId],
    pub(crate) num_all_nodes: usize,
}

impl<'a> PostFilterHandle<'a, '_> {
    /// The cluster of the cycle.
    pub fn cluster(&self) -> &'a Cluster {
        self.cx.cluster
    }

    /// The cycle's context.
    pub fn context(&self) -> &CycleContext<'a> {
        &self.cx
    }

    /// The nodes whose filter verdict this cycle was `Unschedulable` (not `UnschedulableAndUnresolvable`),
    /// in node order: where removing pods might make the pod fit (upstream `nodesWherePreemptionMightHelp`).
    pub fn potential_nodes(&self) -> &[NodeId] {
        self.potential
    }

    /// The number of nodes in the cluster.
    pub fn num_all_nodes(&self) -> usize {
        self.num_all_nodes
    }

    /// A uniformly random number in `0..n` from the scheduler's seeded generator (upstream's random
    /// candidate offset); 0 when `n` is 0.
    pub fn random_below(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.rng.random_range(0..n) }
    }

    /// A copy of the cycle's PreFilter state.
    pub fn state(&self) -> SimulatedState {
        SimulatedState { slots: self.state.to_vec() }
    }

    /// Updates `state` as if `added` ran on `node` (upstream `RunPreFilterExtensionAddPod`).
    pub fn add_pod(&self, state: &mut SimulatedState, pod: &Pod, added: &Pod, node: &NodeInfo) -> Status {
        self.run().extensions(&mut state.slots, pod, added, node, true).err().map_or_else(Status::success, |e| e.1)
    }

    /// Updates `state` as if `removed` no longer ran on `node` (upstream `RunPreFilterExtensionRemovePod`).
    pub fn remove_pod(&self, state: &mut SimulatedState, pod: &Pod, removed: &Pod, node: &NodeInfo) -> Status {
        self.run().extensions(&mut state.slots, pod, removed, node, false).err().map_or_else(Status::success, |e| e.1)
    }

    /// The filters' verdict on `node` (a modified copy of a cluster node) with `state`, nominated pods
    /// included (upstream `RunFilterPluginsWithNominatedPods`).
    pub fn filter_with_nominated(&self, state: &SimulatedState, pod: &Pod, node: &NodeInfo) -> Status {
        self.run().filters_with_nominated(&state.slots, pod, node).map_or_else(Status::success, |(_, status)| status)
    }

    fn run(&self) -> ProfileRun<'_, 'a> {
        ProfileRun { cx: &self.cx, profile: self.profile, skip: self.skip }
    }
}

/// A profile's PreFilterExtensions and filters as one cycle runs them: its context, and the plugins whose
/// PreFilter skipped (their Filter and extensions do not run).
#[derive(Clone, Copy)]
pub(crate) struct ProfileRun<'a, 'c> {
    pub(crate) cx: &'a CycleContext<'c>,
    pub(crate) profile: &'a Profile,
    pub(crate) skip: &'a [bool],
}

impl ProfileRun<'_, '_> {
    /// Runs every PreFilterExtensions of the plugins whose PreFilter ran; the first failure is returned as
    /// (plugin, error status).
    pub(crate) fn extensions(
        &self,
        slots: &mut [StateSlot],
        pod: &Pod,
        other: &Pod,
        node: &NodeInfo,
        add: bool,
    ) -> Result<(), (usize, Status)> {
        for ext in self.profile.pre_filter_extensions.iter().filter(|e| !self.skip[e.plugin]) {
            let state = &mut slots[ext.plugin];
            let status =
                if add { ext.imp.add_pod(self.cx, pod, other, node, state) } else { ext.imp.remove_pod(self.cx, pod, other, node, state) };
            if !status.is_success() {
                let verb = if add { "AddPod" } else { "RemovePod" };
                let message =
                    format!("running {verb} on PreFilter plugin {:?}: {}", self.profile.plugin_name(ext.plugin), status.message());
                return Err((ext.plugin, Status::error(message)));
            }
        }
        Ok(())
    }

    /// The filters on one node, in profile order: the first non-success as (plugin, status), or `None`.
    pub(crate) fn filters(&self, slots: &[StateSlot], pod: &Pod, node: &NodeInfo) -> Option<(usize, Status)> {
        for f in self.profile.filter.iter().filter(|f| !self.skip[f.plugin] && f.imp.applies_to(pod)) {
            let status = f.imp.filter(self.cx, pod, node, &slots[f.plugin]);
            if !status.is_success() {
                return Some((f.plugin, status));
            }
        }
        None
    }

    /// Upstream `addGENominatedPods` and the first pass of `RunFilterPluginsWithNominatedPods`: when pods of
    /// priority at least the pod's (other than itself) are nominated to the node, the filters' verdict on a
    /// copy of the node with them added; `None` when there are none or the node passes with them.
    pub(crate) fn nominated_pass(&self, slots: &[StateSlot], pod: &Pod, node: &NodeInfo) -> Option<(usize, Status)> {
        let cluster = self.cx.cluster;
        if !cluster.has_nominated_pods(node.id) {
            return None;
        }
        let mut added = cluster.nominated_pods(node.id).filter(|n| n.priority >= pod.priority && n.uid != pod.uid).peekable();
        added.peek()?;
        let mut copy = node.clone();
        let mut state = slots.to_vec();
        for nominated in added {
            copy.add_pod(PodId::UNBOUND, nominated);
            if let Err(failure) = self.extensions(&mut state, pod, nominated, &copy, true) {
                return Some(failure);
            }
        }
        self.filters(&state, pod, &copy)
    }

    /// Upstream `RunFilterPluginsWithNominatedPods`: the first pass with the nominated pods of priority at
    /// least the pod's, then (if it passed) the node as it is; the first failure.
    pub(crate) fn filters_with_nominated(&self, slots: &[StateSlot], pod: &Pod, node: &NodeInfo) -> Option<(usize, Status)> {
        self.nominated_pass(slots, pod, node).or_else(|| self.filters(slots, pod, node))
    }
}
