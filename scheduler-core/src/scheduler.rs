//! The scheduling cycle (upstream `schedulePod`): PreEnqueue, PreFilter, filtering from a rotating start
//! index with `numFeasibleNodesToFind` sampling, the single-feasible-node shortcut, PreScore, Score,
//! NormalizeScore, weighting, and a seeded uniform tie-break.
//!
//! Filtering is evaluated in chunks: every Filter plugin runs over a chunk of nodes before the next plugin
//! runs over the chunk's survivors, and the verdicts are then walked in node order exactly as upstream's
//! search with `parallelism: 1` walks them. Chunks may be evaluated on rayon threads; the walk is
//! sequential, so the result never depends on the thread count.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use smallvec::SmallVec;

use crate::cluster::Cluster;
use crate::config::{ConfigError, SchedulerConfig};
use crate::framework::{CycleContext, MAX_NODE_SCORE, MIN_NODE_SCORE, PostFilterResult, StateSlot, reset_cycle_state};
use crate::gpu::GpuSet;
use crate::intern::Symbol;
use crate::memo::{Memo, Memos};
use crate::node::{NodeId, NodeInfo};
use crate::pod::Pod;
use crate::profile::Profile;
use crate::registry::Registry;
use crate::status::{Code, Status};

mod given_nodes;
pub use given_nodes::{NodeScores, NodeVerdicts};

/// Upstream `minFeasibleNodesToFind`.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream `minFeasibleNodesPercentageToFind`.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// Nodes filtered per plugin call.
const FILTER_CHUNK: usize = 128;
/// Nodes scored per plugin call on one thread.
const SCORE_CHUNK: usize = 256;

/// Upstream `numFeasibleNodesToFind`: how many feasible nodes the search looks for among `n_nodes`.
pub fn num_feasible_nodes_to_find(percentage: i32, n_nodes: usize) -> usize {
    if n_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return n_nodes;
    }
    let mut pct = percentage as i64;
    if pct == 0 {
        pct = (50 - n_nodes as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND as i64);
    }
    let n = (n_nodes as i64 * pct / 100) as usize;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// A successful decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: NodeId,
    /// Nodes whose filters ran.
    pub evaluated_nodes: usize,
    /// Nodes that passed the filters.
    pub feasible_nodes: usize,
    /// The GPUs chosen for the pod on the node (Reserve); empty for a pod without GPUs.
    pub gpus: GpuSet,
}

/// A node's filter verdict in a [`Diagnosis`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeId,
    /// Index of the rejecting plugin in the profile, `None` for statuses not from a plugin.
    pub plugin: Option<usize>,
    /// The status.
    pub status: Status,
}

/// Why no node fits (upstream `framework.Diagnosis`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Nodes rejected by a filter, in evaluation order.
    pub node_statuses: Vec<NodeStatus>,
    /// Status of nodes without an explicit entry: PreFilter's rejection, the "didn't satisfy plugin(s)"
    /// status of nodes excluded by a PreFilter result, or a reasonless `UnschedulableAndUnresolvable`.
    pub absent_status: Status,
    /// Plugins that rejected the pod (profile indices, sorted).
    pub unschedulable_plugins: BTreeSet<usize>,
    /// PreFilter's message when PreFilter rejected the pod.
    pub pre_filter_msg: String,
    /// PostFilter's message (preemption), if any ran.
    pub post_filter_msg: String,
    /// The nodes a filter rejected with `Unschedulable` (not `UnschedulableAndUnresolvable`), in
    /// evaluation order, kept even when the cycle keeps no failure reasons when the profile has PostFilter
    /// plugins: where preemption might help.
    pub unschedulable_nodes: Vec<NodeId>,
}

/// The pod fits no node (upstream `FitError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    /// Nodes in the cluster.
    pub num_all_nodes: usize,
    /// Why.
    pub diagnosis: Diagnosis,
    /// What the PostFilter plugins decided, when the profile has any: the deciding plugin (profile index)
    /// and its result (preemption's nominated node and victims, for the caller to carry out).
    pub post_filter: Option<(Option<usize>, PostFilterResult)>,
}

impl FitError {
    /// Upstream `FitError.Error()`: `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s).`
    /// The histogram is sorted as strings, as upstream does (`"10 …"` before `"2 …"`).
    pub fn message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        let d = &self.diagnosis;
        if !d.pre_filter_msg.is_empty() {
            let _ = write!(msg, " {}.", d.pre_filter_msg);
        } else {
            let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
            for ns in &d.node_statuses {
                for r in ns.status.reasons() {
                    *counts.entry(r).or_default() += 1;
                }
            }
            if d.node_statuses.len() < self.num_all_nodes {
                for r in d.absent_status.reasons() {
                    *counts.entry(r).or_default() += self.num_all_nodes - d.node_statuses.len();
                }
            }
            let mut lines: Vec<String> = counts.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
            lines.sort();
            if !lines.is_empty() {
                let _ = write!(msg, " {}.", lines.join(", "));
            }
        }
        if !d.post_filter_msg.is_empty() {
            let _ = write!(msg, " {}", d.post_filter_msg);
        }
        msg
    }
}

/// Why `schedule_one` chose no node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// No profile has the pod's `schedulerName`.
    #[error("no profile has schedulerName {0:?}")]
    UnknownProfile(String),
    /// A PreEnqueue plugin keeps the pod out of the queue.
    #[error("pod is not admitted to the scheduling queue by {plugin}: {}", status.message())]
    Gated {
        /// The plugin.
        plugin: String,
        /// Its status.
        status: Status,
    },
    /// The cluster has no nodes.
    #[error("no nodes available to schedule pods")]
    NoNodes,
    /// No node fits.
    #[error("{}", .0.message())]
    Unschedulable(Box<FitError>),
    /// A plugin failed internally; the cycle was aborted.
    #[error("{0}")]
    Internal(String),
}

/// Options of one cycle.
#[derive(Clone, Copy, Debug)]
struct CycleOptions {
    /// Stop the search at `numFeasibleNodesToFind` (false: evaluate every node).
    sample: bool,
    /// Score every node, feasible or not (explain only).
    score_all_nodes: bool,
    /// Whether this is a real cycle that advances the rotating start index.
    advance: bool,
}

/// What explain records of a cycle.
#[derive(Default)]
pub(crate) struct Trace {
    pub(crate) pre_filter_skipped: Vec<usize>,
    pub(crate) pre_score_skipped: Vec<usize>,
    pub(crate) feasible: Vec<NodeId>,
    pub(crate) scored_nodes: Vec<NodeId>,
    /// Per score plugin (in profile order): (plugin index, weight, raw scores, normalised scores), aligned with `scored_nodes`.
    pub(crate) scores: Vec<(usize, i64, Vec<i64>, Vec<i64>)>,
    pub(crate) totals: Vec<i64>,
    pub(crate) diagnosis: Diagnosis,
}

/// Buffers of the scoring phase, kept between cycles so that a cycle allocates little.
#[derive(Clone, Default)]
struct Scratch {
    totals: Vec<i64>,
    scores: Vec<i64>,
    computed: Vec<i64>,
    hits: Vec<bool>,
    misses: Vec<usize>,
    miss_rows: Vec<i64>,
    weights: Vec<i64>,
    /// The highest total and how many nodes have it, when scoring found them on the way.
    best: Option<(i64, usize)>,
}

/// A scheduler: profiles, the rotating start index, and the tie-breaking RNG.
#[derive(Clone)]
pub struct Scheduler {
    profiles: Vec<Profile>,
    percentage_of_nodes_to_score: i32,
    next_start_node_index: usize,
    rng: Xoshiro256PlusPlus,
    parallel_min_nodes: usize,
    memos: Vec<Memos>,
    use_memo: bool,
    failure_reasons: bool,
    scratch: Scratch,
    search_buffers: SearchBuffers,
    state: CycleState,
    seed: u64,
    n_cycles: u64,
    tie_break: TieBreak,
}

/// How the scheduler chooses among nodes with the highest total score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TieBreak {
    /// Uniformly at random (kube-scheduler's `selectHost`).
    #[default]
    Uniform,
    /// The node first in a random order of the nodes fixed by the seed (the FGD authors' simulator: its
    /// `selectHost` takes the smallest node name, and it prefixes node names with a seeded permutation).
    /// Ties then keep going to the same nodes, which packs.
    NodeRank,
}

/// The rank of a node named `name` in the random node order of `seed` ([`TieBreak::NodeRank`]): FNV-1a of
/// the name mixed with the seed by SplitMix64, so that it does not depend on the order nodes were added.
pub fn node_rank(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64(seed ^ h)
}

/// SplitMix64's output function.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The plugins' cycle state, kept between cycles (emptied at the start of each) so that a cycle allocates
/// little.
#[derive(Clone, Default)]
struct CycleState {
    filter: Vec<StateSlot>,
    skip_filter: Vec<bool>,
    score: Vec<StateSlot>,
    skip_score: Vec<bool>,
}

impl Scheduler {
    /// A scheduler with these profiles; `seed` seeds the tie-breaking RNG.
    pub fn new(profiles: Vec<Profile>, percentage_of_nodes_to_score: i32, seed: u64) -> Scheduler {
        let n_profiles = profiles.len();
        Scheduler {
            profiles,
            percentage_of_nodes_to_score,
            next_start_node_index: 0,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            parallel_min_nodes: 2048,
            memos: vec![Memos::default(); n_profiles],
            use_memo: true,
            failure_reasons: true,
            scratch: Scratch::default(),
            search_buffers: SearchBuffers::default(),
            state: CycleState::default(),
            seed,
            n_cycles: 0,
            tie_break: TieBreak::Uniform,
        }
    }

    /// How ties between the best nodes are broken (default [`TieBreak::Uniform`]).
    pub fn set_tie_break(&mut self, tie_break: TieBreak) {
        self.tie_break = tie_break;
    }

    /// The current cycle's seed ([`CycleContext::seed`]).
    fn cycle_seed(&self) -> u64 {
        splitmix64(self.seed ^ self.n_cycles.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn context<'a>(&self, cluster: &'a Cluster) -> CycleContext<'a> {
        CycleContext { cluster, failure_reasons: self.failure_reasons, seed: self.cycle_seed() }
    }

    /// Builds the profiles of `config` from `registry`.
    pub fn from_config(config: &SchedulerConfig, registry: &Registry, cluster: &mut Cluster, seed: u64) -> Result<Scheduler, ConfigError> {
        let profiles = Profile::build_all(config, registry, cluster.interner_mut())?;
        Ok(Scheduler::new(profiles, config.percentage_of_nodes_to_score, seed))
    }

    /// Evaluates chunks of nodes on rayon threads when a cycle filters or scores at least `n` nodes
    /// (default 2048). Results are identical either way.
    pub fn set_parallel_min_nodes(&mut self, n: usize) {
        self.parallel_min_nodes = n.max(1);
    }

    /// Whether node-local plugins' verdicts and raw scores are reused for consecutive pods with the same
    /// scheduling spec on nodes that have not changed (default on). Decisions are the same either way.
    pub fn set_memo(&mut self, on: bool) {
        self.use_memo = on;
    }

    /// Whether a cycle keeps each rejected node's status and reasons (default on), as the FitError message
    /// and `explain` need. Off, filters may return their codes alone and a FitError's diagnosis lists the
    /// rejecting plugins but no node statuses, which makes rejecting a node several times cheaper;
    /// decisions and the rejecting plugins are the same either way.
    pub fn set_failure_reasons(&mut self, on: bool) {
        if on != self.failure_reasons {
            // Remembered verdicts were computed with the other setting.
            self.memos.iter_mut().for_each(|m| *m = Memos::default());
        }
        self.failure_reasons = on;
    }

    /// The profiles.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The profile for `scheduler_name`.
    pub fn profile(&self, scheduler_name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.scheduler_name == scheduler_name)
    }

    fn profile_index(&self, cluster: &Cluster, pod: &Pod) -> Result<usize, ScheduleError> {
        let name = cluster.interner().resolve(pod.scheduler_name);
        self.profiles.iter().position(|p| p.scheduler_name == name).ok_or_else(|| ScheduleError::UnknownProfile(name.to_string()))
    }

    /// Runs the PreEnqueue plugins: whether the pod may enter the scheduling queue.
    pub fn pre_enqueue(&self, cluster: &Cluster, pod: &Pod) -> Result<(), ScheduleError> {
        let profile = &self.profiles[self.profile_index(cluster, pod)?];
        for slot in &profile.pre_enqueue {
            let status = slot.imp.pre_enqueue(pod);
            if !status.is_success() {
                return Err(ScheduleError::Gated { plugin: profile.plugin_name(slot.plugin).to_string(), status });
            }
        }
        Ok(())
    }

    /// One scheduling cycle for `pod` on `cluster`: the node upstream kube-scheduler would choose, with
    /// ties broken uniformly at random by the seeded RNG. The cluster is not modified; bind with
    /// [`Cluster::add_pod`].
    pub fn schedule_one(&mut self, cluster: &Cluster, pod: &Pod) -> Result<ScheduleResult, ScheduleError> {
        let profile_idx = self.profile_index(cluster, pod)?;
        self.pre_enqueue(cluster, pod)?;
        self.cycle(profile_idx, cluster, pod, CycleOptions { sample: true, score_all_nodes: false, advance: true }, None)
    }

    /// Explains the decision for `pod`: every node evaluated (no sampling), every filter verdict and score.
    /// With `score_all_nodes`, every node is scored and normalised over, feasible or not. The rotating start
    /// index is not used or advanced; the tie-breaking RNG is.
    pub fn explain(&mut self, cluster: &Cluster, pod: &Pod, score_all_nodes: bool) -> Result<crate::explain::Explanation, ScheduleError> {
        let profile_idx = self.profile_index(cluster, pod)?;
        let mut trace = Trace::default();
        let gate = self.pre_enqueue(cluster, pod);
        let outcome = match gate {
            Err(e) => Err(e),
            Ok(()) => {
                self.cycle(profile_idx, cluster, pod, CycleOptions { sample: false, score_all_nodes, advance: false }, Some(&mut trace))
            }
        };
        Ok(crate::explain::Explanation::new(&self.profiles[profile_idx], cluster, pod, outcome, trace))
    }

    /// One scheduling cycle. A real cycle for a pod whose spec failed on this very cluster state fails again
    /// the same way without running: same filters, same nodes, same verdicts, and the rotating start index
    /// advanced as the failed cycle advanced it (a pending pod retried after an event that did not change
    /// the cluster, or the replicas of a job that does not fit, cost no node evaluations).
    fn cycle(
        &mut self,
        profile_idx: usize,
        cluster: &Cluster,
        pod: &Pod,
        opts: CycleOptions,
        trace: Option<&mut Trace>,
    ) -> Result<ScheduleResult, ScheduleError> {
        // Nominations make a cycle depend on the pod's own uid and nominated node: no reuse then.
        let reuse_failures = opts.advance && self.use_memo && trace.is_none() && cluster.nominations().is_empty();
        let n_nodes = cluster.node_order().len().max(1);
        let mut reused = false;
        let mut result = match self.memos[profile_idx].repeated_failure(pod, cluster).filter(|_| reuse_failures) {
            Some((advance, error)) => {
                let error = ScheduleError::Unschedulable(Box::new(error.clone()));
                self.next_start_node_index = (self.next_start_node_index + advance) % n_nodes;
                reused = true;
                Err(error)
            }
            None => {
                let start_index = self.next_start_node_index;
                let result = self.run_cycle(profile_idx, cluster, pod, opts, trace);
                if reuse_failures && let Err(ScheduleError::Unschedulable(error)) = &result {
                    let advance = (self.next_start_node_index + n_nodes - start_index % n_nodes) % n_nodes;
                    self.memos[profile_idx].record_failure(pod, cluster, advance, error);
                }
                result
            }
        };
        if let Err(ScheduleError::Unschedulable(fit)) = &mut result
            && !self.profiles[profile_idx].post_filter.is_empty()
        {
            if reused {
                // The reused failure ran no PreFilter: fill the cycle state PostFilter works from.
                let profile = &self.profiles[profile_idx];
                let cx = self.context(cluster);
                let CycleState { filter, skip_filter, .. } = &mut self.state;
                reset_cycle_state(filter, skip_filter, profile.plugin_names().len());
                if let Err(ScheduleError::Internal(e)) = pre_filter(&cx, profile, pod, (filter, skip_filter), None) {
                    return Err(ScheduleError::Internal(e));
                }
            }
            self.post_filter(profile_idx, cluster, pod, fit);
        }
        if let Ok(r) = &mut result {
            r.gpus = self.reserve(profile_idx, cluster, pod, r.node)?;
        }
        result
    }

    /// The Reserve plugins on the chosen node, for a pod asking for GPUs: the first GPU choice a plugin
    /// makes, else [`NodeInfo::assignment_of`]. A choice that is not GPUs of the node with room for the
    /// pod is an error.
    pub fn reserve(&mut self, profile_idx: usize, cluster: &Cluster, pod: &Pod, node: NodeId) -> Result<GpuSet, ScheduleError> {
        if pod.gpu.is_none() {
            return Ok(GpuSet::EMPTY);
        }
        let profile = &self.profiles[profile_idx];
        let info = cluster.node(node);
        let cx = self.context(cluster);
        let rng = &mut self.rng;
        let mut draw = |n: usize| if n <= 1 { 0 } else { rng.random_range(0..n) };
        for slot in &profile.reserve {
            let name = profile.plugin_name(slot.plugin);
            match slot.imp.reserve(&cx, pod, info, &mut draw) {
                Ok(None) => {}
                Ok(Some(gpus)) => {
                    let room = gpus.iter().all(|idx| info.gpus.free().get(idx).is_some_and(|&f| f >= pod.gpu.milli as i32));
                    if gpus.len() != pod.gpu.count || !room {
                        return Err(ScheduleError::Internal(format!(
                            "running {name:?} reserve plugin: it chose GPUs [{gpus}] of node {:?} for {}, which do not have room for it",
                            &*info.node.name, pod.gpu
                        )));
                    }
                    return Ok(gpus);
                }
                Err(status) => return Err(ScheduleError::Internal(format!("running {name:?} reserve plugin: {}", status.message()))),
            }
        }
        Ok(info.assignment_of(pod))
    }

    /// The PostFilter plugins (upstream `RunPostFilterPlugins`) after `fit`: in order until one succeeds,
    /// rejects as unresolvable, or fails; otherwise all run, the last result that changes the nominated
    /// node is kept, and the status is `Unschedulable` with every plugin's reasons. The status message
    /// becomes the FitError's PostFilter message.
    fn post_filter(&mut self, profile_idx: usize, cluster: &Cluster, pod: &Pod, fit: &mut FitError) {
        let profile = &self.profiles[profile_idx];
        let d = &fit.diagnosis;
        let potential: Vec<NodeId> = if d.absent_status.code() == Code::Unschedulable && d.unschedulable_nodes.is_empty() {
            // PreFilter rejected the pod as Unschedulable: every node has that status.
            cluster.node_order().to_vec()
        } else {
            let mut nodes = d.unschedulable_nodes.clone();
            nodes.sort_unstable_by_key(|&n| cluster.node_rank(n));
            nodes
        };
        let CycleState { filter, skip_filter, .. } = &self.state;
        let mut handle = crate::preemption::PostFilterHandle {
            cx: CycleContext { cluster, failure_reasons: self.failure_reasons, seed: self.cycle_seed() },
            profile,
            state: filter,
            skip: skip_filter,
            rng: &mut self.rng,
            potential: &potential,
            num_all_nodes: fit.num_all_nodes,
        };
        let mut kept: Option<PostFilterResult> = None;
        let mut reasons = Vec::new();
        let mut rejector = None;
        for slot in &profile.post_filter {
            let result = slot.imp.post_filter(&mut handle, pod);
            if !result.status.is_rejected() || result.status.code() == Code::UnschedulableAndUnresolvable {
                // Success, unresolvable, or an error (upstream logs it; the pod stays unschedulable).
                fit.diagnosis.post_filter_msg = result.status.message();
                fit.post_filter = Some((Some(slot.plugin), result));
                return;
            }
            reasons.extend(result.status.reasons().iter().cloned());
            rejector.get_or_insert(slot.plugin);
            if result.nominated_node.is_some() {
                kept = Some(result);
            }
        }
        let status = Status::with_reasons(Code::Unschedulable, reasons);
        fit.diagnosis.post_filter_msg = status.message();
        let result = PostFilterResult { status, ..kept.unwrap_or_default() };
        fit.post_filter = Some((rejector, result));
    }

    fn run_cycle(
        &mut self,
        profile_idx: usize,
        cluster: &Cluster,
        pod: &Pod,
        opts: CycleOptions,
        mut trace: Option<&mut Trace>,
    ) -> Result<ScheduleResult, ScheduleError> {
        self.n_cycles += 1;
        let cx = self.context(cluster);
        let profile = &self.profiles[profile_idx];
        let all_nodes = cluster.node_order();
        if all_nodes.is_empty() {
            return Err(ScheduleError::NoNodes);
        }
        let n_plugins = profile.plugin_names().len();
        let CycleState { filter: filter_state, skip_filter, score: score_state, skip_score } = &mut self.state;
        reset_cycle_state(filter_state, skip_filter, n_plugins);

        let (narrowed, plugins_with_nodes) = pre_filter(&cx, profile, pod, (filter_state, skip_filter), trace.as_deref_mut())?;

        // Upstream `evaluateNominatedNode`: a pod nominated by an earlier preemption tries that node first
        // and takes it if it passes (no other node is evaluated, nothing is scored).
        let mut nominated_failed = None;
        if opts.advance
            && let Some(nominated) = cluster.nomination(&pod.uid)
            && let Some(node) = cluster.get_node(nominated)
        {
            let run = crate::preemption::ProfileRun { cx: &cx, profile, skip: skip_filter };
            match run.filters_with_nominated(filter_state, pod, node) {
                None => return Ok(ScheduleResult { node: nominated, evaluated_nodes: 1, feasible_nodes: 1, gpus: GpuSet::EMPTY }),
                Some((plugin, status)) if !status.is_rejected() => {
                    return Err(ScheduleError::Internal(format!(
                        "running {:?} filter plugin: {}",
                        profile.plugin_name(plugin),
                        status.message()
                    )));
                }
                Some(_) => nominated_failed = Some(nominated),
            }
        }

        // The nodes to filter: all, or those a PreFilter result allows, in node order.
        let narrowed_ids: Option<Vec<NodeId>> = narrowed.map(|names| {
            // Upstream iterates a Go map here (random order); simsched keeps the node order.
            let allowed: foldhash::HashSet<NodeId> = names.iter().filter_map(|&n| cluster.node_id_by_symbol(n)).collect();
            all_nodes.iter().copied().filter(|n| allowed.contains(n)).collect()
        });
        let nodes: &[NodeId] = narrowed_ids.as_deref().unwrap_or(all_nodes);
        let absent_status = if narrowed_ids.is_some() {
            let names: Vec<&str> = plugins_with_nodes.iter().map(|&p| profile.plugin_name(p)).collect();
            Status::unresolvable(format!("node(s) didn't satisfy plugin(s) [{}]", names.join(" ")))
        } else {
            Status::code_only(Code::UnschedulableAndUnresolvable)
        };

        // Filter.
        let has_scoring = !profile.score.is_empty();
        let mut num_to_find = if opts.sample {
            let pct = profile.percentage_of_nodes_to_score.unwrap_or(self.percentage_of_nodes_to_score);
            num_feasible_nodes_to_find(pct, nodes.len())
        } else {
            nodes.len()
        };
        if !has_scoring && opts.sample {
            num_to_find = 1;
        }
        let start = if opts.advance && !nodes.is_empty() { self.next_start_node_index % nodes.len() } else { 0 };
        let filters: SmallVec<[&FilterSlot; 16]> =
            profile.filter.iter().filter(|s| !skip_filter[s.plugin] && s.imp.applies_to(pod)).collect();
        let mut memo = if opts.advance && self.use_memo { self.memos[profile_idx].begin(pod, cluster, profile.score.len()) } else { None };
        // Nominated pods make a verdict depend on more than the node: no remembered verdicts then.
        let filter_memo =
            if filters.iter().all(|f| f.imp.node_local()) && cluster.nominations().is_empty() { memo.as_deref_mut() } else { None };
        let search = search_feasible(
            &cx,
            pod,
            nodes,
            start,
            num_to_find,
            &filters,
            (filter_state, skip_filter),
            self.parallel_min_nodes,
            profile,
            filter_memo,
            &mut self.search_buffers,
        )?;
        let evaluated = search.feasible.len() + search.n_failures;
        if opts.advance {
            // Upstream advances by the statuses recorded too: the nominated node's, if the search did not
            // visit it again.
            let revisited = nominated_failed
                .is_none_or(|n| nodes.iter().position(|&id| id == n).is_some_and(|p| (p + nodes.len() - start) % nodes.len() < evaluated));
            let advance = evaluated + usize::from(!revisited);
            self.next_start_node_index = (self.next_start_node_index + advance) % all_nodes.len();
        }
        let feasible = search.feasible;
        if feasible.is_empty() || trace.is_some() {
            // The diagnosis: for the FitError, or for explain.
            let mut diagnosis = Diagnosis { absent_status, unschedulable_plugins: plugins_with_nodes, ..Diagnosis::default() };
            // Every status in the failures is a rejection (search_feasible turns anything else into an error).
            diagnosis.unschedulable_plugins.extend(search.rejecting_plugins.iter().enumerate().filter(|&(_, &r)| r).map(|(p, _)| p));
            diagnosis.node_statuses = search.failures;
            diagnosis.unschedulable_nodes = search.unschedulable;
            if feasible.is_empty() {
                if let Some(t) = trace.as_deref_mut() {
                    t.feasible = Vec::new();
                }
                return Err(unschedulable(all_nodes.len(), diagnosis, trace));
            }
            if let Some(t) = trace.as_deref_mut() {
                t.feasible = feasible.clone();
                t.diagnosis = diagnosis;
            }
        }
        if feasible.len() == 1 && !opts.score_all_nodes {
            return Ok(ScheduleResult { node: feasible[0], evaluated_nodes: evaluated, feasible_nodes: 1, gpus: GpuSet::EMPTY });
        }

        // Score.
        let scored: &[NodeId] = if opts.score_all_nodes { all_nodes } else { &feasible };
        let mut infos: Vec<&NodeInfo> = recycle(std::mem::take(&mut self.search_buffers.infos));
        infos.extend(cluster.nodes_in_order(scored));
        let score_memo = memo;
        let scratch = &mut self.scratch;
        // What the filter walk saw of the memo, aligned with the feasible list (so not when scoring all nodes).
        let known = (!opts.score_all_nodes && self.search_buffers.memo_walk).then_some(self.search_buffers.score_misses.as_slice());
        let states = (score_state, skip_score);
        prioritize(&cx, pod, profile, scored, &infos, known, self.parallel_min_nodes, score_memo, scratch, states, trace.as_deref_mut())?;
        let totals = &scratch.totals;
        if let Some(t) = trace {
            t.scored_nodes = scored.to_vec();
            t.totals = totals.to_vec();
        }

        // Select: the highest total among feasible nodes, ties broken uniformly at random with one draw
        // (upstream pre-1.36 drew once per tied node; the distribution is the same).
        let eligible = |i: usize| !opts.score_all_nodes || feasible.contains(&scored[i]);
        let (mut best, mut n_ties) = (i64::MIN, 0usize);
        if let Some(found) = scratch.best.filter(|_| !opts.score_all_nodes) {
            (best, n_ties) = found;
        } else if opts.score_all_nodes {
            for (_, &total) in totals.iter().enumerate().filter(|&(i, _)| eligible(i)) {
                if total > best {
                    (best, n_ties) = (total, 1);
                } else if total == best {
                    n_ties += 1;
                }
            }
        } else {
            for &total in totals.iter() {
                if total > best {
                    (best, n_ties) = (total, 1);
                } else if total == best {
                    n_ties += 1;
                }
            }
        }
        let pick = if n_ties == 1 || self.tie_break == TieBreak::NodeRank { 0 } else { self.rng.random_range(0..n_ties) };
        let picked = if n_ties > 1 && self.tie_break == TieBreak::NodeRank {
            let rank = |i: usize| node_rank(self.seed, &cluster.node(scored[i]).node.name);
            (0..scored.len()).filter(|&i| totals[i] == best && eligible(i)).min_by_key(|&i| (rank(i), i))
        } else if opts.score_all_nodes {
            (0..scored.len()).filter(|&i| totals[i] == best && eligible(i)).nth(pick)
        } else {
            totals.iter().enumerate().filter(|&(_, &t)| t == best).nth(pick).map(|(i, _)| i)
        };
        let node = picked.map(|i| scored[i]).expect("pick < ties");
        let result = ScheduleResult { node, evaluated_nodes: evaluated, feasible_nodes: feasible.len(), gpus: GpuSet::EMPTY };
        self.search_buffers.infos = recycle(infos);
        self.search_buffers.feasible = feasible;
        Ok(result)
    }
}

/// The PreFilter plugins (upstream `RunPreFilterPlugins`): fills the cycle state; returns the nodes a
/// PreFilter result allows (`None`: all) and the plugins that narrowed them, or the cycle's failure.
fn pre_filter(
    cx: &CycleContext<'_>,
    profile: &Profile,
    pod: &Pod,
    (filter_state, skip_filter): (&mut [StateSlot], &mut [bool]),
    mut trace: Option<&mut Trace>,
) -> Result<(Option<Vec<Symbol>>, BTreeSet<usize>), ScheduleError> {
    let mut narrowed: Option<Vec<Symbol>> = None;
    let mut plugins_with_nodes: BTreeSet<usize> = BTreeSet::new();
    let mut rejection: Option<(usize, Status)> = None;
    for slot in &profile.pre_filter {
        let result = slot.imp.pre_filter(cx, pod, &mut filter_state[slot.plugin]);
        match result.status.code() {
            Code::Skip => {
                skip_filter[slot.plugin] = true;
                if let Some(t) = trace.as_deref_mut() {
                    t.pre_filter_skipped.push(slot.plugin);
                }
                continue;
            }
            Code::Success => {}
            Code::UnschedulableAndUnresolvable => {
                rejection = Some((slot.plugin, result.status));
                break;
            }
            Code::Unschedulable => {
                rejection = Some((slot.plugin, result.status));
                continue;
            }
            _ => {
                return Err(ScheduleError::Internal(format!(
                    "running PreFilter plugin {:?}: {}",
                    profile.plugin_name(slot.plugin),
                    result.status.message()
                )));
            }
        }
        if let Some(names) = result.node_names {
            plugins_with_nodes.insert(slot.plugin);
            narrowed = Some(match narrowed {
                None => names,
                Some(prev) => prev.into_iter().filter(|n| names.contains(n)).collect(),
            });
            if narrowed.as_ref().is_some_and(Vec::is_empty) {
                let names: Vec<&str> = plugins_with_nodes.iter().map(|&p| profile.plugin_name(p)).collect();
                let msg = if names.len() == 1 {
                    format!("node(s) didn't satisfy plugin {}", names[0])
                } else {
                    format!("node(s) didn't satisfy plugin(s) [{}] simultaneously", names.join(" "))
                };
                let diagnosis = Diagnosis {
                    absent_status: Status::unresolvable(msg.clone()),
                    unschedulable_plugins: plugins_with_nodes,
                    pre_filter_msg: msg,
                    ..Diagnosis::default()
                };
                return Err(unschedulable(cx.cluster.node_order().len(), diagnosis, trace));
            }
        }
    }
    if let Some((plugin, status)) = rejection {
        let diagnosis = Diagnosis {
            pre_filter_msg: status.message(),
            absent_status: status,
            unschedulable_plugins: BTreeSet::from([plugin]),
            ..Diagnosis::default()
        };
        return Err(unschedulable(cx.cluster.node_order().len(), diagnosis, trace));
    }
    Ok((narrowed, plugins_with_nodes))
}

fn unschedulable(num_all_nodes: usize, diagnosis: Diagnosis, trace: Option<&mut Trace>) -> ScheduleError {
    if let Some(t) = trace {
        t.diagnosis = diagnosis.clone();
    }
    ScheduleError::Unschedulable(Box::new(FitError { num_all_nodes, diagnosis, post_filter: None }))
}

struct Search {
    feasible: Vec<NodeId>,
    /// The rejected nodes' statuses, when the cycle keeps failure reasons.
    failures: Vec<NodeStatus>,
    /// Nodes rejected.
    n_failures: usize,
    /// Plugins that rejected a node (by profile index).
    rejecting_plugins: SmallVec<[bool; 32]>,
    /// Nodes rejected as `Unschedulable`.
    unschedulable: Vec<NodeId>,
}

type FilterSlot = crate::profile::Slot<dyn crate::framework::FilterPlugin>;

/// Buffers of the filter search, kept between cycles so that a cycle allocates little.
#[derive(Clone, Default)]
struct SearchBuffers {
    /// The feasible nodes' list, lent to each cycle's search and returned after scoring.
    feasible: Vec<NodeId>,
    /// The allocation of the cycle's list of scored nodes' references (kept empty between cycles).
    infos: Vec<&'static NodeInfo>,
    /// Whether the search walked the memo's verdicts; if so, `score_misses` holds the positions in the
    /// feasible list of the nodes the memo holds no raw scores for.
    memo_walk: bool,
    score_misses: Vec<usize>,
    ids: Vec<NodeId>,
    miss_ids: Vec<NodeId>,
    rejections: Vec<(u32, usize, Status)>,
    chunk: ChunkBuffers<'static>,
}

/// An empty vector of references with `refs`' allocation, for references of another lifetime (so that a
/// buffer of references into the cluster outlives a cycle without holding any).
#[expect(clippy::unnecessary_filter_map, reason = "the element type changes (its lifetime), which filter cannot do")]
fn recycle<'b>(mut refs: Vec<&NodeInfo>) -> Vec<&'b NodeInfo> {
    refs.clear();
    // An in-place collect: same element layout, so the allocation is reused.
    refs.into_iter().filter_map(|_| None).collect()
}

/// Buffers of one chunk evaluation, reused across chunks.
#[derive(Clone, Default)]
struct ChunkBuffers<'a> {
    alive: Vec<u32>,
    refs: Vec<&'a NodeInfo>,
    rejected: Vec<(u32, Status)>,
    removed: Vec<usize>,
}

impl ChunkBuffers<'_> {
    /// The same buffers, emptied, for references of another lifetime.
    fn recycled<'b>(self) -> ChunkBuffers<'b> {
        let ChunkBuffers { mut alive, refs, mut rejected, mut removed } = self;
        alive.clear();
        rejected.clear();
        removed.clear();
        ChunkBuffers { alive, refs: recycle(refs), rejected, removed }
    }
}

/// Runs every filter over `ids`, each plugin over the previous plugins' survivors. Appends the rejections
/// to `out` as (index in `ids`, plugin, status), sorted by index.
fn evaluate_chunk<'a>(
    cx: &CycleContext<'a>,
    pod: &Pod,
    ids: &[NodeId],
    filters: &[&FilterSlot],
    state: &[StateSlot],
    buf: &mut ChunkBuffers<'a>,
    out: &mut Vec<(u32, usize, Status)>,
) {
    let first = out.len();
    buf.alive.clear();
    buf.alive.extend(0..ids.len() as u32);
    buf.refs.clear();
    buf.refs.extend(cx.cluster.nodes_in_order(ids));
    for slot in filters {
        if buf.alive.is_empty() {
            break;
        }
        buf.rejected.clear();
        slot.imp.filter_nodes(cx, pod, &buf.refs, &state[slot.plugin], &mut buf.rejected);
        if buf.rejected.is_empty() {
            continue;
        }
        buf.removed.clear();
        for (i, status) in buf.rejected.drain(..) {
            buf.removed.push(i as usize);
            out.push((buf.alive[i as usize], slot.plugin, status));
        }
        // Drop the rejected nodes from the survivors (the rejections are in node order).
        let mut next = buf.removed.iter().copied().peekable();
        let mut keep = 0;
        for pos in 0..buf.alive.len() {
            if next.peek() == Some(&pos) {
                next.next();
                continue;
            }
            buf.alive[keep] = buf.alive[pos];
            buf.refs[keep] = buf.refs[pos];
            keep += 1;
        }
        buf.alive.truncate(keep);
        buf.refs.truncate(keep);
    }
    if filters.len() > 1 {
        out[first..].sort_unstable_by_key(|&(i, _, _)| i);
    }
}

/// The filters of a cycle, run over lists of nodes.
struct FilterRun<'a, 'c> {
    cx: &'a CycleContext<'c>,
    pod: &'a Pod,
    filters: &'a [&'a FilterSlot],
    state: &'a [StateSlot],
    parallel: bool,
}

impl<'c> FilterRun<'_, 'c> {
    /// Rejections among `ids` as (index in `ids`, plugin, status), sorted by index, into `out`.
    fn evaluate(&self, ids: &[NodeId], buf: &mut ChunkBuffers<'c>, out: &mut Vec<(u32, usize, Status)>) {
        out.clear();
        if !self.parallel {
            evaluate_chunk(self.cx, self.pod, ids, self.filters, self.state, buf, out);
            return;
        }
        let per_chunk: Vec<Vec<(u32, usize, Status)>> = ids
            .par_chunks(FILTER_CHUNK)
            .enumerate()
            .map_init(ChunkBuffers::default, |b, (c, chunk)| {
                let offset = (c * FILTER_CHUNK) as u32;
                let mut rejections = Vec::new();
                evaluate_chunk(self.cx, self.pod, chunk, self.filters, self.state, b, &mut rejections);
                rejections.iter_mut().for_each(|r| r.0 += offset);
                rejections
            })
            .collect();
        out.extend(per_chunk.into_iter().flatten());
    }
}

/// The feasible nodes among `nodes` from the rotated position `start`, at most `num_to_find`, with the
/// memo's verdicts when given; `buf` holds one chunk evaluation.
#[expect(clippy::too_many_arguments, reason = "the cycle's pieces, passed explicitly to keep borrows apart")]
fn search_feasible(
    cx: &CycleContext<'_>,
    pod: &Pod,
    nodes: &[NodeId],
    start: usize,
    num_to_find: usize,
    filters: &[&FilterSlot],
    state: (&[StateSlot], &[bool]),
    parallel_min_nodes: usize,
    profile: &Profile,
    memo: Option<&mut Memo>,
    bufs: &mut SearchBuffers,
) -> Result<Search, ScheduleError> {
    // The chunk buffers are lent to the search for the cluster's lifetime, and kept afterwards.
    let mut chunk = std::mem::take(&mut bufs.chunk).recycled();
    let search =
        search_feasible_with(cx, pod, nodes, start, num_to_find, filters, state, parallel_min_nodes, profile, memo, bufs, &mut chunk);
    bufs.chunk = chunk.recycled();
    search
}

#[expect(clippy::too_many_arguments, reason = "the cycle's pieces, passed explicitly to keep borrows apart")]
fn search_feasible_with<'c>(
    cx: &CycleContext<'c>,
    pod: &Pod,
    nodes: &[NodeId],
    start: usize,
    num_to_find: usize,
    filters: &[&FilterSlot],
    (state, skip): (&[StateSlot], &[bool]),
    parallel_min_nodes: usize,
    profile: &Profile,
    mut memo: Option<&mut Memo>,
    bufs: &mut SearchBuffers,
    buf: &mut ChunkBuffers<'c>,
) -> Result<Search, ScheduleError> {
    let n = nodes.len();
    bufs.score_misses.clear();
    bufs.memo_walk = false;
    let mut search = Search {
        feasible: {
            let mut feasible = std::mem::take(&mut bufs.feasible);
            feasible.clear();
            feasible.reserve(num_to_find.min(n));
            feasible
        },
        failures: Vec::new(),
        n_failures: 0,
        rejecting_plugins: smallvec::smallvec![false; profile.plugin_names().len()],
        unschedulable: Vec::new(),
    };
    if n == 0 {
        return Ok(search);
    }
    if filters.is_empty() {
        let begin = start % n;
        search.feasible.extend(nodes.iter().cycle().skip(begin).take(num_to_find.min(n)));
        return Ok(search);
    }
    // Node at rotated position i is nodes[(start + i) % n]; walk it without a division per node.
    let rotated = |from: usize, len: usize, out: &mut Vec<NodeId>| {
        let begin = (start + from) % n;
        let first = (n - begin).min(len);
        out.extend_from_slice(&nodes[begin..begin + first]);
        out.extend_from_slice(&nodes[..len - first]);
    };
    let parallel = num_to_find >= parallel_min_nodes && rayon::current_num_threads() > 1;
    let run = FilterRun { cx, pod, filters, state, parallel };
    let wave = if parallel { FILTER_CHUNK * rayon::current_num_threads() * 2 } else { FILTER_CHUNK };
    // From here on, every feasible node comes from the memo walk when there is a memo.
    bufs.memo_walk = memo.is_some();
    let SearchBuffers { ids, miss_ids, rejections, score_misses, .. } = bufs;
    let mut pos = 0;
    while pos < n {
        let wave_len = wave.min(n - pos);
        ids.clear();
        rotated(pos, wave_len, ids);
        let Some(memo) = memo.as_deref_mut() else {
            run.evaluate(ids, buf, rejections);
            if !cx.cluster.nominations().is_empty() {
                nominated_verdicts(cx, profile, (state, skip), pod, ids, rejections);
            }
            let mut next = rejections.drain(..).peekable();
            for (k, &id) in ids.iter().enumerate() {
                match next.next_if(|r| r.0 as usize == k) {
                    Some((_, plugin, status)) => search.reject(cx, profile, id, plugin, status)?,
                    None if search.feasible.len() == num_to_find => return Ok(search),
                    None => search.feasible.push(id),
                }
            }
            pos += wave_len;
            continue;
        };
        // With the memo: walk the wave in order on the memo's verdicts; at the first node it holds no verdict
        // for, evaluate every such node of the rest of the wave at once, remember their verdicts, and go on.
        let mut evaluated_misses = false;
        let mut k = 0;
        while k < ids.len() {
            let id = ids[k];
            match memo.verdict(id, cx.cluster.node_generation(id)) {
                Some((None, _)) if search.feasible.len() == num_to_find => return Ok(search),
                Some((None, scored)) => {
                    if !scored {
                        score_misses.push(search.feasible.len());
                    }
                    search.feasible.push(id);
                }
                Some((Some((plugin, status)), _)) => search.reject(cx, profile, id, *plugin, status.clone())?,
                None if !evaluated_misses => {
                    evaluated_misses = true;
                    miss_ids.clear();
                    miss_ids.extend(ids[k..].iter().copied().filter(|&id| memo.verdict(id, cx.cluster.node_generation(id)).is_none()));
                    run.evaluate(miss_ids, buf, rejections);
                    let mut next = rejections.drain(..).peekable();
                    for (m, &id) in miss_ids.iter().enumerate() {
                        let verdict = next.next_if(|r| r.0 as usize == m).map(|(_, plugin, status)| (plugin, status));
                        memo.store_verdict(id, cx.cluster.node_generation(id), verdict.as_ref());
                    }
                    // Look at this node again, now with its verdict.
                    continue;
                }
                None => {
                    // Not remembered (the memo's table of distinct rejections is full): evaluate it alone.
                    run.evaluate(&[id], buf, rejections);
                    match rejections.pop() {
                        Some((_, plugin, status)) => search.reject(cx, profile, id, plugin, status)?,
                        None if search.feasible.len() == num_to_find => return Ok(search),
                        None => {
                            if !memo.has_scores(id, cx.cluster.node_generation(id)) {
                                score_misses.push(search.feasible.len());
                            }
                            search.feasible.push(id);
                        }
                    }
                }
            }
            k += 1;
        }
        pos += wave_len;
    }
    Ok(search)
}

/// Upstream's first pass of `RunFilterPluginsWithNominatedPods` for the nodes of `ids` that have
/// nominated pods: a node that fails with them gets that pass's verdict (upstream runs that pass first), in
/// place of the verdict without them in `rejections` (sorted by index, as it stays).
fn nominated_verdicts(
    cx: &CycleContext<'_>,
    profile: &Profile,
    (state, skip): (&[StateSlot], &[bool]),
    pod: &Pod,
    ids: &[NodeId],
    rejections: &mut Vec<(u32, usize, Status)>,
) {
    for (k, &id) in ids.iter().enumerate() {
        if !cx.cluster.has_nominated_pods(id) {
            continue;
        }
        let run = crate::preemption::ProfileRun { cx, profile, skip };
        let Some((plugin, status)) = run.nominated_pass(state, pod, cx.cluster.node(id)) else {
            continue;
        };
        let k = k as u32;
        match rejections.binary_search_by_key(&k, |r| r.0) {
            Ok(pos) => rejections[pos] = (k, plugin, status),
            Err(pos) => rejections.insert(pos, (k, plugin, status)),
        }
    }
}

impl Search {
    /// Records that `plugin` rejected node `id` with `status`; a status that is not a rejection is the
    /// plugin's error, which aborts the cycle.
    fn reject(&mut self, cx: &CycleContext<'_>, profile: &Profile, id: NodeId, plugin: usize, status: Status) -> Result<(), ScheduleError> {
        if !status.is_rejected() {
            return Err(ScheduleError::Internal(format!("running {:?} filter plugin: {}", profile.plugin_name(plugin), status.message())));
        }
        self.n_failures += 1;
        if status.code() == Code::Unschedulable && !profile.post_filter.is_empty() {
            self.unschedulable.push(id);
        }
        if let Some(rejected) = self.rejecting_plugins.get_mut(plugin) {
            *rejected = true;
        }
        if cx.failure_reasons {
            self.failures.push(NodeStatus { node: id, plugin: Some(plugin), status });
        }
        Ok(())
    }
}

/// PreScore, Score, NormalizeScore and weighting over `nodes`; returns each node's total.
#[expect(clippy::too_many_arguments, reason = "the cycle's pieces, passed explicitly to keep borrows apart")]
fn prioritize(
    cx: &CycleContext<'_>,
    pod: &Pod,
    profile: &Profile,
    ids: &[NodeId],
    nodes: &[&NodeInfo],
    known: Option<&[usize]>,
    parallel_min_nodes: usize,
    mut memo: Option<&mut Memo>,
    scratch: &mut Scratch,
    (score_state, skip_score): (&mut Vec<StateSlot>, &mut Vec<bool>),
    mut trace: Option<&mut Trace>,
) -> Result<(), ScheduleError> {
    scratch.best = None;
    let Scratch { totals, scores, computed, hits, misses, miss_rows, .. } = scratch;
    totals.clear();
    if profile.score.is_empty() {
        totals.resize(nodes.len(), 1);
        return Ok(());
    }
    let n_plugins = profile.plugin_names().len();
    reset_cycle_state(score_state, skip_score, n_plugins);
    for slot in &profile.pre_score {
        let status = slot.imp.pre_score(cx, pod, nodes, &mut score_state[slot.plugin]);
        if status.is_skip() {
            skip_score[slot.plugin] = true;
            if let Some(t) = trace.as_deref_mut() {
                t.pre_score_skipped.push(slot.plugin);
            }
        } else if !status.is_success() {
            return Err(ScheduleError::Internal(format!(
                "running PreScore plugin {:?}: {}",
                profile.plugin_name(slot.plugin),
                status.message()
            )));
        }
    }
    if let Some(m) = memo.as_deref_mut()
        && trace.is_none()
        && profile.score.iter().all(|s| skip_score[s.plugin] || (s.imp.node_local() && !s.imp.has_normalize()))
    {
        return score_from_memo(cx, pod, profile, ids, nodes, known, score_state, skip_score, m, scratch);
    }
    let parallel = nodes.len() >= parallel_min_nodes && rayon::current_num_threads() > 1;
    // With the memo, node-local plugins score only the nodes whose raw scores it does not hold.
    hits.clear();
    misses.clear();
    if let Some(m) = memo.as_deref() {
        for (i, &id) in ids.iter().enumerate() {
            let hit = m.has_scores(id, cx.cluster.node_generation(id));
            hits.push(hit);
            if !hit {
                misses.push(i);
            }
        }
    }
    let miss_nodes: SmallVec<[&NodeInfo; 16]> = misses.iter().map(|&i| nodes[i]).collect();
    let n_slots = profile.score.len();
    miss_rows.clear();
    miss_rows.resize(misses.len() * n_slots, 0);
    totals.resize(nodes.len(), 0);
    scores.clear();
    scores.resize(nodes.len(), 0);
    for (slot_idx, slot) in profile.score.iter().enumerate().filter(|(_, s)| !skip_score[s.plugin]) {
        let name = profile.plugin_name(slot.plugin);
        let state = &score_state[slot.plugin];
        let failed = |s: Status| ScheduleError::Internal(format!("running Score plugins: plugin {name:?} failed with: {}", s.message()));
        match memo.as_deref() {
            Some(m) if slot.imp.node_local() => {
                computed.clear();
                computed.resize(misses.len(), 0);
                slot.imp.score_nodes(cx, pod, &miss_nodes, state, computed).map_err(failed)?;
                for (k, &s) in computed.iter().enumerate() {
                    miss_rows[k * n_slots + slot_idx] = s;
                }
                let mut next_miss = computed.iter();
                for ((score, &hit), id) in scores.iter_mut().zip(hits.iter()).zip(ids) {
                    *score = if hit { m.rows()[id.index() * n_slots + slot_idx] } else { next_miss.next().copied().unwrap_or_default() };
                }
            }
            _ if parallel => {
                let results: Vec<Result<(), Status>> = scores
                    .par_chunks_mut(SCORE_CHUNK)
                    .zip(nodes.par_chunks(SCORE_CHUNK))
                    .map(|(out, chunk)| slot.imp.score_nodes(cx, pod, chunk, state, out))
                    .collect();
                results.into_iter().collect::<Result<(), Status>>().map_err(failed)?;
            }
            _ => slot.imp.score_nodes(cx, pod, nodes, state, scores).map_err(failed)?,
        }
        let raw = trace.as_ref().map(|_| scores.clone());
        if slot.imp.has_normalize() {
            let status = slot.imp.normalize(cx, pod, nodes, state, scores);
            if !status.is_success() {
                return Err(ScheduleError::Internal(format!(
                    "running Normalize on Score plugins: plugin {name:?} failed with: {}",
                    status.message()
                )));
            }
        }
        // Accumulate and validate in one pass; report the first bad score if there is one.
        let weight = slot.weight;
        let mut in_range = true;
        for (total, &s) in totals.iter_mut().zip(scores.iter()) {
            in_range &= (MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&s);
            *total += s * weight;
        }
        if !in_range {
            let s = scores.iter().find(|&&s| !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&s)).copied().unwrap_or_default();
            return Err(invalid_score(name, s));
        }
        if let (Some(t), Some(raw)) = (trace.as_deref_mut(), raw) {
            t.scores.push((slot.plugin, slot.weight, raw, scores.clone()));
        }
    }
    // Every plugin ran without error: remember the new raw scores.
    if let Some(m) = memo {
        for (k, &i) in misses.iter().enumerate() {
            // A node the memo cannot hold is simply scored again next time.
            let _stored =
                m.store_scores(ids[i], cx.cluster.node_generation(ids[i]), miss_rows[k * n_slots..(k + 1) * n_slots].iter().copied());
        }
    }
    Ok(())
}

/// Scoring when every Score plugin that runs is node-local and has no NormalizeScore, with the memo: the
/// plugins score only the nodes the memo holds no raw scores for, and one pass over the nodes adds up each
/// node's weighted row and finds the highest total and its ties (into `scratch.best`). `known`, when given,
/// lists the positions of the nodes the memo holds no scores for (as the filter walk found).
#[expect(clippy::too_many_arguments, reason = "the cycle's pieces, passed explicitly to keep borrows apart")]
fn score_from_memo(
    cx: &CycleContext<'_>,
    pod: &Pod,
    profile: &Profile,
    ids: &[NodeId],
    nodes: &[&NodeInfo],
    known: Option<&[usize]>,
    score_state: &[StateSlot],
    skip_score: &[bool],
    memo: &mut Memo,
    scratch: &mut Scratch,
) -> Result<(), ScheduleError> {
    let Scratch { totals, computed, misses, miss_rows, weights, best, .. } = scratch;
    let n_slots = profile.score.len();
    weights.clear();
    weights.extend(profile.score.iter().map(|s| if skip_score[s.plugin] { 0 } else { s.weight }));
    misses.clear();
    match known {
        // The filter walk saw which nodes the memo holds scores for.
        Some(known) => misses.extend_from_slice(known),
        None => {
            misses.extend(ids.iter().enumerate().filter(|&(_, &id)| !memo.has_scores(id, cx.cluster.node_generation(id))).map(|(i, _)| i))
        }
    }
    miss_rows.clear();
    miss_rows.resize(misses.len() * n_slots, 0);
    if !misses.is_empty() {
        let miss_nodes: SmallVec<[&NodeInfo; 16]> = misses.iter().map(|&i| nodes[i]).collect();
        for (slot_idx, slot) in profile.score.iter().enumerate().filter(|(_, s)| !skip_score[s.plugin]) {
            let name = profile.plugin_name(slot.plugin);
            computed.clear();
            computed.resize(misses.len(), 0);
            slot.imp
                .score_nodes(cx, pod, &miss_nodes, &score_state[slot.plugin], computed)
                .map_err(|s| ScheduleError::Internal(format!("running Score plugins: plugin {name:?} failed with: {}", s.message())))?;
            // Stored scores were in range when stored, so the first bad score is among the new ones.
            if let Some(&bad) = computed.iter().find(|s| !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(s)) {
                return Err(invalid_score(name, bad));
            }
            for (k, &s) in computed.iter().enumerate() {
                miss_rows[k * n_slots + slot_idx] = s;
            }
        }
        for (k, &i) in misses.iter().enumerate() {
            let row = miss_rows[k * n_slots..(k + 1) * n_slots].iter().copied();
            if !memo.store_scores(ids[i], cx.cluster.node_generation(ids[i]), row) {
                return Err(ScheduleError::Internal(format!("node {} is not in the scoring memo", ids[i].index())));
            }
        }
    }
    // Every node's raw scores are in the memo now.
    totals.clear();
    let stored = memo.rows();
    match weights[..] {
        [weight] => totals.extend(ids.iter().map(|id| stored[id.index()] * weight)),
        _ => totals.extend(
            ids.iter().map(|id| stored[id.index() * n_slots..][..n_slots].iter().zip(weights.iter()).map(|(&s, &w)| s * w).sum::<i64>()),
        ),
    }
    let top = totals.iter().copied().max().unwrap_or(i64::MIN);
    let n_top = totals.iter().filter(|&&t| t == top).count();
    *best = Some((top, n_top));
    Ok(())
}

/// Upstream's error for a score outside the node score range after normalisation.
fn invalid_score(plugin: &str, score: i64) -> ScheduleError {
    ScheduleError::Internal(format!(
        "applying score defaultWeights on Score plugins: plugin {plugin:?} returns an invalid score {score}, it should in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_reference_buffers_keep_their_allocation() {
        let mut cluster = Cluster::new();
        let id = cluster.add_node(&crate::testing::node("n").def).unwrap();
        let mut refs: Vec<&NodeInfo> = Vec::with_capacity(500);
        refs.push(cluster.node(id));
        let ptr = refs.as_ptr() as usize;
        let kept: Vec<&NodeInfo> = recycle(refs);
        assert!(kept.is_empty() && kept.capacity() >= 500 && kept.as_ptr() as usize == ptr);
    }

    #[test]
    fn num_feasible_nodes_to_find_spec_vectors() {
        let check = |pct: i32, n: usize, want: usize| assert_eq!(num_feasible_nodes_to_find(pct, n), want, "pct={pct} n={n}");
        for (n, want) in
            [(50, 50), (100, 100), (200, 100), (500, 230), (1000, 420), (3000, 780), (5000, 500), (5625, 281), (6000, 300), (15000, 750)]
        {
            check(0, n, want);
        }
        check(30, 500, 150);
        check(100, 5000, 5000);
        check(1, 5000, 100);
    }

    #[test]
    fn fit_error_message_sorts_counts_as_strings() {
        let node = |i: u32, reasons: &[&'static str]| NodeStatus {
            node: NodeId(i),
            plugin: Some(0),
            status: Status::with_reasons(Code::Unschedulable, reasons.iter().map(|&r| r.into())),
        };
        let mut statuses: Vec<NodeStatus> = (0..10).map(|i| node(i, &["Insufficient cpu"])).collect();
        statuses.push(node(10, &["node(s) had untolerated taint(s)"]));
        statuses.push(node(11, &["node(s) had untolerated taint(s)"]));
        statuses.push(node(12, &["Insufficient cpu", "Insufficient memory"]));
        let err =
            FitError { num_all_nodes: 14, diagnosis: Diagnosis { node_statuses: statuses, ..Diagnosis::default() }, post_filter: None };
        assert_eq!(
            err.message(),
            "0/14 nodes are available: 1 Insufficient memory, 11 Insufficient cpu, 2 node(s) had untolerated taint(s)."
        );
    }

    #[test]
    fn fit_error_counts_absent_nodes_only_when_their_status_has_reasons() {
        let statuses = vec![NodeStatus { node: NodeId(0), plugin: Some(0), status: Status::unschedulable("Insufficient cpu") }];
        let mut err =
            FitError { num_all_nodes: 5, diagnosis: Diagnosis { node_statuses: statuses, ..Diagnosis::default() }, post_filter: None };
        err.diagnosis.absent_status = Status::code_only(Code::UnschedulableAndUnresolvable);
        assert_eq!(err.message(), "0/5 nodes are available: 1 Insufficient cpu.");
        err.diagnosis.absent_status = Status::unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]");
        assert_eq!(err.message(), "0/5 nodes are available: 1 Insufficient cpu, 4 node(s) didn't satisfy plugin(s) [NodeAffinity].");
        err.diagnosis.pre_filter_msg = "node(s) didn't satisfy plugin NodeAffinity".into();
        assert_eq!(err.message(), "0/5 nodes are available: node(s) didn't satisfy plugin NodeAffinity.");
    }
}
