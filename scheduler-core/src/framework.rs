//! The plugin framework: one small trait per extension point, per-cycle plugin state, and the plugin handle.
//!
//! A plugin is a type implementing [`Plugin`] plus the extension-point traits it needs; its
//! [`Plugin::extension_points`] hands the framework one trait object per point, once, when the profile is
//! built. Weights and normalisation order belong to the framework, never to plugins.

use std::any::Any;
use std::sync::Arc;

use crate::cluster::Cluster;
use crate::gpu::GpuSet;
use crate::intern::Symbol;
use crate::node::{NodeId, NodeInfo, PodId};
use crate::pod::Pod;
use crate::status::Status;

/// Upstream `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// Upstream `MinNodeScore`.
pub const MIN_NODE_SCORE: i64 = 0;

/// The extension points of upstream's framework, in the order upstream lists them in configuration.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ExtensionPoint {
    /// `preEnqueue`.
    PreEnqueue,
    /// `queueSort`.
    QueueSort,
    /// `preFilter`.
    PreFilter,
    /// `filter`.
    Filter,
    /// `postFilter`.
    PostFilter,
    /// `preScore`.
    PreScore,
    /// `score`.
    Score,
    /// `reserve`.
    Reserve,
    /// `permit`.
    Permit,
    /// `preBind`.
    PreBind,
    /// `bind`.
    Bind,
    /// `postBind`.
    PostBind,
}

impl ExtensionPoint {
    /// Every point.
    pub const ALL: [ExtensionPoint; 12] = [
        ExtensionPoint::PreEnqueue,
        ExtensionPoint::QueueSort,
        ExtensionPoint::PreFilter,
        ExtensionPoint::Filter,
        ExtensionPoint::PostFilter,
        ExtensionPoint::PreScore,
        ExtensionPoint::Score,
        ExtensionPoint::Reserve,
        ExtensionPoint::Permit,
        ExtensionPoint::PreBind,
        ExtensionPoint::Bind,
        ExtensionPoint::PostBind,
    ];

    /// The configuration key (`preFilter`).
    pub fn config_name(self) -> &'static str {
        match self {
            ExtensionPoint::PreEnqueue => "preEnqueue",
            ExtensionPoint::QueueSort => "queueSort",
            ExtensionPoint::PreFilter => "preFilter",
            ExtensionPoint::Filter => "filter",
            ExtensionPoint::PostFilter => "postFilter",
            ExtensionPoint::PreScore => "preScore",
            ExtensionPoint::Score => "score",
            ExtensionPoint::Reserve => "reserve",
            ExtensionPoint::Permit => "permit",
            ExtensionPoint::PreBind => "preBind",
            ExtensionPoint::Bind => "bind",
            ExtensionPoint::PostBind => "postBind",
        }
    }

    /// Upstream's interface name, used in its error messages (`FilterPlugin`).
    pub fn interface_name(self) -> &'static str {
        match self {
            ExtensionPoint::PreEnqueue => "PreEnqueuePlugin",
            ExtensionPoint::QueueSort => "QueueSortPlugin",
            ExtensionPoint::PreFilter => "PreFilterPlugin",
            ExtensionPoint::Filter => "FilterPlugin",
            ExtensionPoint::PostFilter => "PostFilterPlugin",
            ExtensionPoint::PreScore => "PreScorePlugin",
            ExtensionPoint::Score => "ScorePlugin",
            ExtensionPoint::Reserve => "ReservePlugin",
            ExtensionPoint::Permit => "PermitPlugin",
            ExtensionPoint::PreBind => "PreBindPlugin",
            ExtensionPoint::Bind => "BindPlugin",
            ExtensionPoint::PostBind => "PostBindPlugin",
        }
    }

    /// Whether simsched runs plugins at this point. Permit, PreBind, Bind and PostBind act after the node
    /// is chosen; simsched's decision ends at the chosen node (and, through Reserve, its GPUs) and the
    /// caller binds.
    pub fn is_executed(self) -> bool {
        matches!(
            self,
            ExtensionPoint::PreEnqueue
                | ExtensionPoint::QueueSort
                | ExtensionPoint::PreFilter
                | ExtensionPoint::Filter
                | ExtensionPoint::PostFilter
                | ExtensionPoint::PreScore
                | ExtensionPoint::Score
                | ExtensionPoint::Reserve
        )
    }
}

/// A plugin. Implement the extension-point traits it needs and return them from
/// [`Plugin::extension_points`].
pub trait Plugin: Send + Sync + 'static {
    /// The plugin's name, as used in configuration (`NodeResourcesFit`).
    fn name(&self) -> &str;

    /// The extension points the plugin implements, as trait objects of itself.
    fn extension_points(self: Arc<Self>) -> ExtensionPoints;
}

/// The extension points one plugin implements.
#[derive(Clone, Default)]
pub struct ExtensionPoints {
    /// PreEnqueue.
    pub pre_enqueue: Option<Arc<dyn PreEnqueuePlugin>>,
    /// QueueSort.
    pub queue_sort: Option<Arc<dyn QueueSortPlugin>>,
    /// PreFilter.
    pub pre_filter: Option<Arc<dyn PreFilterPlugin>>,
    /// PreFilterExtensions of the PreFilter plugin: keep its PreFilter state true when the framework
    /// simulates adding or removing a pod (nominated pods, preemption).
    pub pre_filter_extensions: Option<Arc<dyn PreFilterExtensions>>,
    /// Filter.
    pub filter: Option<Arc<dyn FilterPlugin>>,
    /// PostFilter.
    pub post_filter: Option<Arc<dyn PostFilterPlugin>>,
    /// PreScore.
    pub pre_score: Option<Arc<dyn PreScorePlugin>>,
    /// Score.
    pub score: Option<Arc<dyn ScorePlugin>>,
    /// Reserve.
    pub reserve: Option<Arc<dyn ReservePlugin>>,
}

impl ExtensionPoints {
    /// Whether the plugin implements `point`.
    pub fn implements(&self, point: ExtensionPoint) -> bool {
        match point {
            ExtensionPoint::PreEnqueue => self.pre_enqueue.is_some(),
            ExtensionPoint::QueueSort => self.queue_sort.is_some(),
            ExtensionPoint::PreFilter => self.pre_filter.is_some(),
            ExtensionPoint::Filter => self.filter.is_some(),
            ExtensionPoint::PostFilter => self.post_filter.is_some(),
            ExtensionPoint::PreScore => self.pre_score.is_some(),
            ExtensionPoint::Score => self.score.is_some(),
            ExtensionPoint::Reserve => self.reserve.is_some(),
            _ => false,
        }
    }
}

/// What a plugin sees of the world during a cycle.
#[derive(Clone, Copy)]
pub struct CycleContext<'a> {
    /// The cluster snapshot being scheduled on.
    pub cluster: &'a Cluster,
    /// Whether rejections need their reasons. When not (a simulator that only counts failures), a Filter
    /// may return the code alone and skip building reason texts; the code must be the same either way.
    pub failure_reasons: bool,
    /// A number derived from the scheduler's seed and the cycle's sequence number: a plugin that chooses at
    /// random (Random) derives its choice from it, so that a run stays a function of its seed.
    pub seed: u64,
}

impl<'a> CycleContext<'a> {
    /// A context on `cluster` whose rejections carry their reasons, with seed 0.
    pub fn new(cluster: &'a Cluster) -> CycleContext<'a> {
        CycleContext { cluster, failure_reasons: true, seed: 0 }
    }
}

/// A plugin's per-cycle data, written at PreFilter or PreScore and read at Filter or Score.
pub trait StateData: Any + Send + Sync {
    /// A copy (upstream `StateData.Clone`), used when the cycle state is cloned.
    fn clone_data(&self) -> Box<dyn StateData>;
    /// `self` as `Any`, to downcast.
    fn as_any(&self) -> &dyn Any;
    /// `self` as mutable `Any`, to downcast.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Sync + Clone> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One plugin's slot in the cycle state. Each plugin owns one slot per cycle, shared by its PreFilter and
/// Filter, and another shared by its PreScore and Score. A scheduler keeps its slots from cycle to cycle,
/// emptied at the start of each: what a plugin stored in an earlier cycle is never visible, but its
/// allocation is reused when the plugin stores data of the same type again.
#[derive(Default)]
pub struct StateSlot {
    data: Option<Box<dyn StateData>>,
    /// Whether `data` was stored in this cycle.
    live: bool,
}

impl StateSlot {
    /// Stores `data`, replacing what was there.
    pub fn put<T: StateData>(&mut self, data: T) {
        match self.data.as_deref_mut().and_then(|d| d.as_any_mut().downcast_mut::<T>()) {
            Some(stored) => *stored = data,
            None => self.data = Some(Box::new(data)),
        }
        self.live = true;
    }

    /// The stored data, if it is a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        if !self.live {
            return None;
        }
        self.data.as_deref().and_then(|d| d.as_any().downcast_ref())
    }

    /// The stored data, mutably, if it is a `T`.
    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        if !self.live {
            return None;
        }
        self.data.as_deref_mut().and_then(|d| d.as_any_mut().downcast_mut())
    }

    /// Empties the slot.
    pub fn clear(&mut self) {
        self.live = false;
    }
}

impl Clone for StateSlot {
    fn clone(&self) -> Self {
        StateSlot { data: self.data.as_deref().filter(|_| self.live).map(|d| d.clone_data()), live: self.live }
    }
}

/// Empties `slots` and `skips` for a cycle of a profile with `n` plugins, keeping their allocations.
pub(crate) fn reset_cycle_state(slots: &mut Vec<StateSlot>, skips: &mut Vec<bool>, n: usize) {
    slots.iter_mut().for_each(StateSlot::clear);
    slots.resize_with(n, StateSlot::default);
    skips.clear();
    skips.resize(n, false);
}

/// PreEnqueue: whether the pod may enter the active queue at all.
pub trait PreEnqueuePlugin: Send + Sync {
    /// Success admits the pod; anything else gates it.
    fn pre_enqueue(&self, pod: &Pod) -> Status;
}

/// A pod waiting in the scheduling queue, as QueueSort sees it.
#[derive(Clone, Copy)]
pub struct QueuedPodInfo<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// When the pod was last added to the queue, in the caller's time unit.
    pub timestamp: u64,
    /// How long the pod will run, when the caller knows (a simulator replaying a trace does). Not in
    /// upstream's `QueuedPodInfo`; read by research queue orders such as shortest-job-first.
    pub expected_duration: Option<u64>,
    /// The work left in the pod's job (the sum of its unfinished pods' durations) when the pod was queued,
    /// when the caller knows. Not upstream; read by job-level queue orders.
    pub job_remaining_work: Option<u64>,
}

impl<'a> QueuedPodInfo<'a> {
    /// A queued pod with only what upstream's queue knows.
    pub fn new(pod: &'a Pod, timestamp: u64) -> QueuedPodInfo<'a> {
        QueuedPodInfo { pod, timestamp, expected_duration: None, job_remaining_work: None }
    }
}

/// QueueSort: the order of the active queue.
pub trait QueueSortPlugin: Send + Sync {
    /// Whether `a` is scheduled before `b`.
    fn less(&self, a: &QueuedPodInfo<'_>, b: &QueuedPodInfo<'_>) -> bool;
}

/// What a PreFilter plugin returns.
#[derive(Clone, Debug, Default)]
pub struct PreFilterResult {
    /// Success, Skip (this plugin's Filter is skipped), or a rejection.
    pub status: Status,
    /// The only nodes worth filtering (upstream `PreFilterResult.NodeNames`); `None` means all nodes.
    pub node_names: Option<Vec<Symbol>>,
}

impl From<Status> for PreFilterResult {
    fn from(status: Status) -> Self {
        PreFilterResult { status, node_names: None }
    }
}

/// PreFilter: per-cycle checks and precomputation before filtering.
pub trait PreFilterPlugin: Send + Sync {
    /// Runs once per cycle over all nodes.
    fn pre_filter(&self, cx: &CycleContext<'_>, pod: &Pod, state: &mut StateSlot) -> PreFilterResult;
}

/// PreFilterExtensions (upstream `PreFilterExtensions`): a PreFilter plugin whose state depends on the pods
/// of the cluster updates it when the framework simulates adding a pod to a node (a nominated pod) or
/// removing one (a preemption victim). `node` is the node as it is after the change.
pub trait PreFilterExtensions: Send + Sync {
    /// `added` now runs on `node`.
    fn add_pod(&self, cx: &CycleContext<'_>, pod: &Pod, added: &Pod, node: &NodeInfo, state: &mut StateSlot) -> Status;
    /// `removed` no longer runs on `node`.
    fn remove_pod(&self, cx: &CycleContext<'_>, pod: &Pod, removed: &Pod, node: &NodeInfo, state: &mut StateSlot) -> Status;
}

/// Filter: whether the pod can run on a node.
pub trait FilterPlugin: Send + Sync {
    /// Whether the filter can reject any node for this pod. `false` lets the framework leave it out of
    /// this cycle; results are the same. (NodeName, for a pod without `spec.nodeName`.)
    fn applies_to(&self, _pod: &Pod) -> bool {
        true
    }

    /// Whether the verdict on a node depends only on the pod's scheduling spec (everything but its name
    /// and uid), that node's [`NodeInfo`], the set of nodes, and what this plugin's PreFilter derived from
    /// those. The scheduler then reuses verdicts for consecutive pods with the same spec on nodes that have
    /// not changed. Default `false`.
    fn node_local(&self) -> bool {
        false
    }

    /// The verdict for one node: Success, Unschedulable or UnschedulableAndUnresolvable with reasons.
    fn filter(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Status;

    /// The verdicts for several nodes: pushes `(index in nodes, status)` for each rejected node, in node
    /// order; nodes not pushed passed. The default calls [`FilterPlugin::filter`] for each node (statically
    /// dispatched); override it only to share work across nodes.
    fn filter_nodes(&self, cx: &CycleContext<'_>, pod: &Pod, nodes: &[&NodeInfo], state: &StateSlot, rejected: &mut Vec<(u32, Status)>) {
        for (idx, node) in nodes.iter().enumerate() {
            let status = self.filter(cx, pod, node, state);
            if !status.is_success() {
                rejected.push((idx as u32, status));
            }
        }
    }
}

/// What a PostFilter plugin decides (upstream `PostFilterResult` plus what its actuation does).
///
/// simsched's scheduler never changes the cluster, so a plugin that would act on it (preemption deleting
/// victims) reports the actions here and the caller carries them out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostFilterResult {
    /// Success (the pod may fit once the actions are done), Unschedulable, UnschedulableAndUnresolvable or
    /// an error.
    pub status: Status,
    /// Upstream `NominatingInfo`: `None` leaves the pod's nominated node as it is (`ModeNoop`);
    /// `Some(node)` sets it, `Some(None)` clears it (`ModeOverride`).
    pub nominated_node: Option<Option<NodeId>>,
    /// Bound pods to evict (in the order upstream deletes them).
    pub victims: Vec<PodId>,
    /// Uids of nominated pods whose nomination is to be cleared.
    pub cleared_nominations: Vec<Box<str>>,
}

/// PostFilter: runs when no node passed the filters (preemption).
pub trait PostFilterPlugin: Send + Sync {
    /// What to do about the unschedulable pod.
    fn post_filter(&self, handle: &mut crate::preemption::PostFilterHandle<'_, '_>, pod: &Pod) -> PostFilterResult;
}

/// PreScore: per-cycle precomputation over the feasible nodes.
pub trait PreScorePlugin: Send + Sync {
    /// Success, Skip (this plugin's Score contributes nothing this cycle), or an error.
    fn pre_score(&self, cx: &CycleContext<'_>, pod: &Pod, nodes: &[&NodeInfo], state: &mut StateSlot) -> Status;
}

/// Score: how much the plugin likes a node, and optionally a normalisation over all scored nodes.
pub trait ScorePlugin: Send + Sync {
    /// Whether the raw score of a node depends only on the pod's scheduling spec (everything but its name
    /// and uid), that node's [`NodeInfo`], the set of nodes, and what this plugin's PreScore derived from the
    /// pod alone. The scheduler then reuses raw scores for consecutive pods with the same spec on nodes
    /// that have not changed. Default `false`.
    fn node_local(&self) -> bool {
        false
    }

    /// The raw score for one node.
    fn score(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status>;

    /// Raw scores for several nodes into `out`. The default calls [`ScorePlugin::score`] per node.
    fn score_nodes(&self, cx: &CycleContext<'_>, pod: &Pod, nodes: &[&NodeInfo], state: &StateSlot, out: &mut [i64]) -> Result<(), Status> {
        for (node, score) in nodes.iter().zip(out.iter_mut()) {
            *score = self.score(cx, pod, node, state)?;
        }
        Ok(())
    }

    /// Whether [`ScorePlugin::normalize`] does anything (upstream: `ScoreExtensions() != nil`).
    fn has_normalize(&self) -> bool {
        false
    }

    /// Rewrites `scores` (aligned with `nodes`) into 0..=100.
    fn normalize(&self, _cx: &CycleContext<'_>, _pod: &Pod, _nodes: &[&NodeInfo], _state: &StateSlot, _scores: &mut [i64]) -> Status {
        Status::success()
    }
}

/// Reserve: runs on the chosen node before the caller binds the pod. In simsched it chooses the GPUs of a
/// pod that asks for GPUs (upstream GPU-sharing schedulers do this in Reserve); it is not called for other
/// pods, and has no Unreserve since nothing is assumed.
pub trait ReservePlugin: Send + Sync {
    /// The GPUs to give `pod` on `node` (as many as it asks, each with room for its share), or `None` to
    /// leave the choice to the next Reserve plugin and in the end to [`NodeInfo::assignment_of`].
    /// `draw(n)` is a uniform draw in `0..n` from the scheduler's seeded RNG.
    fn reserve(
        &self,
        cx: &CycleContext<'_>,
        pod: &Pod,
        node: &NodeInfo,
        draw: &mut dyn FnMut(usize) -> usize,
    ) -> Result<Option<GpuSet>, Status>;
}

/// Upstream `helper.DefaultNormalizeScore`: scales scores so the largest becomes `max_priority`, optionally
/// reversed. Scores are assumed non-negative.
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max_count = scores.iter().copied().fold(0, i64::max);
    if max_count == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = max_priority * *s / max_count;
        if reverse {
            *s = max_priority - *s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_score_cases() {
        let check = |input: &[i64], reverse: bool, want: &[i64]| {
            let mut s = input.to_vec();
            default_normalize_score(100, reverse, &mut s);
            assert_eq!(s, want, "{input:?} reverse={reverse}");
        };
        // Spec §3.4: counts 0, 1, 2 reversed ⇒ 100, 50, 0.
        check(&[0, 1, 2], true, &[100, 50, 0]);
        check(&[0, 1, 2], false, &[0, 50, 100]);
        check(&[0, 0], true, &[100, 100]);
        check(&[0, 0], false, &[0, 0]);
        check(&[1, 3], false, &[33, 100]);
    }

    #[test]
    fn state_slots_downcast_to_their_type() {
        let mut slot = StateSlot::default();
        slot.put(42u32);
        assert_eq!(slot.get::<u32>(), Some(&42));
        assert_eq!(slot.get::<i64>(), None);
        *slot.get_mut::<u32>().unwrap() += 1;
        assert_eq!(slot.clone().get::<u32>(), Some(&43));
    }

    #[test]
    fn cleared_slots_hide_old_data_and_reuse_the_allocation() {
        let mut slots = vec![StateSlot::default()];
        let mut skips = vec![true];
        slots[0].put(String::from("first cycle"));
        let boxed = slots[0].data.as_deref().map(|d| d as *const dyn StateData as *const u8 as usize);
        reset_cycle_state(&mut slots, &mut skips, 2);
        assert_eq!((slots.len(), skips.as_slice()), (2, [false, false].as_slice()));
        assert_eq!(slots[0].get::<String>(), None);
        assert!(slots[0].get_mut::<String>().is_none() && slots[0].clone().get::<String>().is_none());
        slots[0].put(String::from("second cycle"));
        assert_eq!(slots[0].get::<String>().map(String::as_str), Some("second cycle"));
        assert_eq!(slots[0].data.as_deref().map(|d| d as *const dyn StateData as *const u8 as usize), boxed);
        slots[0].put(7u8);
        assert_eq!((slots[0].get::<u8>(), slots[0].get::<String>()), (Some(&7), None));
    }
}
