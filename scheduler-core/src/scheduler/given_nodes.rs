//! Cycle pieces run on a list of nodes someone else chose, as a scheduler extender is asked to: filter
//! every node of the list, score every node of the list, or dry-run preemption on the list's nodes.
//!
//! None of these samples nodes, advances the rotating start index or draws from the tie-breaking RNG
//! (except preemption's random candidate offset, which the callback decides whether to use).

use smallvec::SmallVec;

use super::{FilterSlot, Scheduler, pre_filter, prioritize, recycle, search_feasible};
use crate::cluster::Cluster;
use crate::framework::{CycleContext, MAX_NODE_SCORE, reset_cycle_state};
use crate::node::{NodeId, NodeInfo};
use crate::pod::Pod;
use crate::preemption::PostFilterHandle;
use crate::scheduler::{CycleState, ScheduleError};
use crate::status::Status;

/// The filters' verdicts on a list of nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeVerdicts {
    /// The nodes that passed, in the order given.
    pub feasible: Vec<NodeId>,
    /// The nodes rejected, with the rejecting plugin's name (empty for a status not from one plugin) and its
    /// status (`Unschedulable` or `UnschedulableAndUnresolvable`).
    pub rejected: Vec<(NodeId, String, Status)>,
}

/// The scores of a list of nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeScores {
    /// Each node's weighted total, in the order given.
    pub totals: Vec<i64>,
    /// The highest total a node can get: 100 × the sum of the weights of the Score plugins that ran (a
    /// plugin whose PreScore returned Skip does not count). 0 when the profile has no Score plugins.
    pub max_total: i64,
}

impl Scheduler {
    /// The index of the profile for `pod`: the one named by its `schedulerName`, else `fallback`'s
    /// (a scheduler extender serves pods of whatever profile calls it).
    pub fn profile_index_or(&self, cluster: &Cluster, pod: &Pod, fallback: usize) -> usize {
        self.profile_index(cluster, pod).unwrap_or(fallback.min(self.profiles.len().saturating_sub(1)))
    }

    /// PreFilter and Filter of profile `profile_idx` on every node of `nodes` (no sampling): which pass and
    /// why the others do not. A PreFilter rejection rejects every node with its status; nodes a PreFilter
    /// result leaves out are rejected as upstream's cycle rejects them. Nominated pods are taken into
    /// account as a cycle takes them.
    pub fn filter_nodes(
        &mut self,
        profile_idx: usize,
        cluster: &Cluster,
        pod: &Pod,
        nodes: &[NodeId],
    ) -> Result<NodeVerdicts, ScheduleError> {
        let profile = &self.profiles[profile_idx];
        let cx = CycleContext { cluster, failure_reasons: true, seed: self.cycle_seed() };
        let CycleState { filter: filter_state, skip_filter, .. } = &mut self.state;
        reset_cycle_state(filter_state, skip_filter, profile.plugin_names().len());
        let plugin_names =
            |plugins: &std::collections::BTreeSet<usize>| plugins.iter().map(|&p| profile.plugin_name(p)).collect::<Vec<_>>().join(", ");
        let (narrowed, plugins_with_nodes) = match pre_filter(&cx, profile, pod, (filter_state, skip_filter), None) {
            Ok(found) => found,
            Err(ScheduleError::Unschedulable(fit)) => {
                let d = fit.diagnosis;
                let plugin = plugin_names(&d.unschedulable_plugins);
                let rejected = nodes.iter().map(|&n| (n, plugin.clone(), d.absent_status.clone())).collect();
                return Ok(NodeVerdicts { feasible: Vec::new(), rejected });
            }
            Err(e) => return Err(e),
        };
        let mut rejected = Vec::new();
        let in_scope: Vec<NodeId> = match narrowed {
            None => nodes.to_vec(),
            Some(names) => {
                let allowed: foldhash::HashSet<NodeId> = names.iter().filter_map(|&n| cluster.node_id_by_symbol(n)).collect();
                let names: Vec<&str> = plugins_with_nodes.iter().map(|&p| profile.plugin_name(p)).collect();
                let status = Status::unresolvable(format!("node(s) didn't satisfy plugin(s) [{}]", names.join(" ")));
                let plugin = plugin_names(&plugins_with_nodes);
                let (kept, out): (Vec<NodeId>, Vec<NodeId>) = nodes.iter().partition(|n| allowed.contains(n));
                rejected.extend(out.into_iter().map(|n| (n, plugin.clone(), status.clone())));
                kept
            }
        };
        let filters: SmallVec<[&FilterSlot; 16]> =
            profile.filter.iter().filter(|s| !skip_filter[s.plugin] && s.imp.applies_to(pod)).collect();
        // Nominated pods make a verdict depend on more than the node: no remembered verdicts then.
        let filter_memo = if self.use_memo && filters.iter().all(|f| f.imp.node_local()) && cluster.nominations().is_empty() {
            self.memos[profile_idx].begin(pod, cluster, profile.score.len())
        } else {
            None
        };
        let search = search_feasible(
            &cx,
            pod,
            &in_scope,
            0,
            in_scope.len(),
            &filters,
            (filter_state, skip_filter),
            self.parallel_min_nodes,
            profile,
            filter_memo,
            &mut self.search_buffers,
        )?;
        rejected.extend(
            search
                .failures
                .into_iter()
                .map(|s| (s.node, s.plugin.map(|p| profile.plugin_name(p).to_string()).unwrap_or_default(), s.status)),
        );
        let feasible = search.feasible.clone();
        self.search_buffers.feasible = search.feasible;
        Ok(NodeVerdicts { feasible, rejected })
    }

    /// PreScore, Score, NormalizeScore and weighting of profile `profile_idx` over `nodes` (assumed
    /// feasible, as a scheduler extender's prioritize is given the nodes that passed filtering).
    pub fn score_nodes(&mut self, profile_idx: usize, cluster: &Cluster, pod: &Pod, nodes: &[NodeId]) -> Result<NodeScores, ScheduleError> {
        let profile = &self.profiles[profile_idx];
        if nodes.is_empty() {
            // Upstream never scores an empty list (the cycle stops before); PreScore would see no nodes.
            return Ok(NodeScores::default());
        }
        let cx = self.context(cluster);
        let mut infos: Vec<&NodeInfo> = recycle(std::mem::take(&mut self.search_buffers.infos));
        infos.extend(cluster.nodes_in_order(nodes));
        let memo = if self.use_memo { self.memos[profile_idx].begin(pod, cluster, profile.score.len()) } else { None };
        let CycleState { score, skip_score, .. } = &mut self.state;
        let result =
            prioritize(&cx, pod, profile, nodes, &infos, None, self.parallel_min_nodes, memo, &mut self.scratch, (score, skip_score), None);
        self.search_buffers.infos = recycle(infos);
        result?;
        let max_total = if profile.score.is_empty() {
            0
        } else {
            profile.score.iter().filter(|s| !skip_score[s.plugin]).map(|s| s.weight * MAX_NODE_SCORE).sum()
        };
        let totals = if profile.score.is_empty() { vec![0; nodes.len()] } else { self.scratch.totals.clone() };
        Ok(NodeScores { totals, max_total })
    }

    /// Runs PreFilter of profile `profile_idx` for `pod` and hands `f` the PostFilter handle preemption
    /// works with, with `nodes` as the nodes where preemption might help (as a scheduler extender's
    /// preempt is given candidate nodes). A PreFilter rejection does not stop it (upstream's preemption runs
    /// after one too); a plugin error does.
    pub fn with_preemption<R>(
        &mut self,
        profile_idx: usize,
        cluster: &Cluster,
        pod: &Pod,
        nodes: &[NodeId],
        f: impl FnOnce(&mut PostFilterHandle<'_, '_>) -> R,
    ) -> Result<R, ScheduleError> {
        let profile = &self.profiles[profile_idx];
        let cx = self.context(cluster);
        let CycleState { filter, skip_filter, .. } = &mut self.state;
        reset_cycle_state(filter, skip_filter, profile.plugin_names().len());
        match pre_filter(&cx, profile, pod, (filter, skip_filter), None) {
            Ok(_) | Err(ScheduleError::Unschedulable(_)) => {}
            Err(e) => return Err(e),
        }
        let mut handle = PostFilterHandle {
            cx,
            profile,
            state: filter,
            skip: skip_filter,
            rng: &mut self.rng,
            potential: nodes,
            num_all_nodes: cluster.node_order().len(),
        };
        Ok(f(&mut handle))
    }
}
