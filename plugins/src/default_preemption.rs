//! DefaultPreemption (PostFilter): when no node fits a pod, finds a node where evicting pods of lower
//! priority makes it fit, and the fewest and least important such pods.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go` and
//! `pkg/scheduler/framework/preemption/preemption.go` (1.36), as summarised in the project's reference §4.
//!
//! 1. Eligibility: `preemptionPolicy: Never` is not eligible; a pod already nominated to a node that its
//!    filters did not find unresolvable waits while a lower-priority pod there is terminating.
//! 2. Candidates: the nodes the filters rejected as `Unschedulable`, from a random offset, dry-run until
//!    `max(n·minCandidateNodesPercentage/100, minCandidateNodesAbsolute)` (at most all) candidates are
//!    found with at least one that violates no PodDisruptionBudget.
//! 3. Victims on a node: remove every pod of strictly lower priority; if the pod then passes the filters
//!    (with nominated pods), put them back one by one — those whose eviction would violate a budget first,
//!    then the others, each group from the most important (higher priority, then earlier start) — keeping
//!    each that still lets the pod fit. The rest are the victims.
//! 4. The node: fewest budget violations, then the lowest highest victim priority, the lowest sum of
//!    (priority + 2³¹), the fewest victims, the latest earliest start among the highest-priority victims.
//!
//! The result nominates the node, names the victims to evict and the lower-priority pods nominated there
//! whose nomination is cleared; the caller carries them out (simsched's scheduler changes nothing).
//!
//! Deviations, all where upstream is nondeterministic: the offset comes from the scheduler's seeded
//! generator; the dry run visits nodes one at a time (upstream runs 16 at once and keeps whichever finish
//! first); victims of equal priority and start time keep their order on the node (upstream's `sort.Slice`
//! is unstable); a tie after the five criteria goes to the first candidate found (upstream takes the first
//! of a Go map iteration). Async preemption's PreEnqueue gate is not needed: the caller evicts at once.

use std::sync::Arc;

use serde::Deserialize;

use scheduler_core::{
    BoundPod, ConfigError, Diagnosis, ExtensionPoints, FitError, NodeId, NodeStatus, Plugin, PluginArgs, Pod, PodId, PostFilterHandle,
    PostFilterPlugin, PostFilterResult, Status,
};

/// The reason for a node without pods of lower priority.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// The reason counted for every node preemption did not dry-run.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// Upstream's default `minCandidateNodesPercentage`.
pub const DEFAULT_MIN_CANDIDATE_NODES_PERCENTAGE: i32 = 10;
/// Upstream's default `minCandidateNodesAbsolute`.
pub const DEFAULT_MIN_CANDIDATE_NODES_ABSOLUTE: i32 = 100;

/// The plugin's arguments (`DefaultPreemptionArgs`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DefaultPreemptionArgs {
    #[serde(default)]
    min_candidate_nodes_percentage: Option<i32>,
    #[serde(default)]
    min_candidate_nodes_absolute: Option<i32>,
}

/// Preemption of lower-priority pods.
#[derive(Debug)]
pub struct DefaultPreemption {
    min_candidate_nodes_percentage: i32,
    min_candidate_nodes_absolute: i32,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: DEFAULT_MIN_CANDIDATE_NODES_PERCENTAGE,
            min_candidate_nodes_absolute: DEFAULT_MIN_CANDIDATE_NODES_ABSOLUTE,
        }
    }
}

impl DefaultPreemption {
    /// Builds the plugin from its arguments, validating them as upstream does
    /// (`ValidateDefaultPreemptionArgs`; the first problem is the error).
    pub fn new(args: &PluginArgs<'_>) -> Result<DefaultPreemption, ConfigError> {
        let parsed: DefaultPreemptionArgs = args.decode()?;
        let path = args.path();
        let percentage = parsed.min_candidate_nodes_percentage.unwrap_or(DEFAULT_MIN_CANDIDATE_NODES_PERCENTAGE);
        let absolute = parsed.min_candidate_nodes_absolute.unwrap_or(DEFAULT_MIN_CANDIDATE_NODES_ABSOLUTE);
        let percentage_path = format!("{path}.minCandidateNodesPercentage");
        if !(0..=100).contains(&percentage) {
            return Err(ConfigError::new(percentage_path, format!("Invalid value: {percentage}: not in valid range [0, 100]")));
        }
        if absolute < 0 {
            return Err(ConfigError::new(
                format!("{path}.minCandidateNodesAbsolute"),
                format!("Invalid value: {absolute}: not in valid range [0, inf)"),
            ));
        }
        if percentage == 0 && absolute == 0 {
            return Err(ConfigError::new(
                percentage_path,
                "Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute",
            ));
        }
        Ok(DefaultPreemption { min_candidate_nodes_percentage: percentage, min_candidate_nodes_absolute: absolute })
    }

    /// Upstream `calculateNumCandidates`.
    fn num_candidates(&self, n_nodes: usize) -> usize {
        let n_nodes = n_nodes as i64;
        let n = (n_nodes * i64::from(self.min_candidate_nodes_percentage) / 100).max(i64::from(self.min_candidate_nodes_absolute));
        n.min(n_nodes) as usize
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &str {
        "DefaultPreemption"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { post_filter: Some(self), ..ExtensionPoints::default() }
    }
}

/// A node where preemption would let the pod fit.
#[derive(Debug)]
struct Candidate {
    node: NodeId,
    /// Most important first.
    victims: Vec<PodId>,
    pdb_violations: usize,
}

/// Upstream `MoreImportantPod`: higher priority, then the earlier start (no start time counts as now).
fn more_important(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    b.priority.cmp(&a.priority).then(start(a).cmp(&start(b)))
}

fn start(pod: &Pod) -> i64 {
    pod.start_time.unwrap_or(i64::MAX)
}

/// Upstream prefixes every message of its Evaluator with this.
fn prefixed(status: Status) -> Status {
    if status.reasons().is_empty() {
        return status;
    }
    Status::new(status.code(), format!("preemption: {}", status.message()))
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(&self, handle: &mut PostFilterHandle<'_, '_>, pod: &Pod) -> PostFilterResult {
        let noop = |status: Status| PostFilterResult { status: prefixed(status), ..PostFilterResult::default() };
        if let Err(reason) = eligible(handle, pod) {
            return noop(Status::unschedulable(reason));
        }
        let cluster = handle.cluster();
        let reasons = handle.context().failure_reasons;
        let potential = handle.potential_nodes().to_vec();
        let num_all_nodes = handle.num_all_nodes();
        let not_found = |statuses: Vec<NodeStatus>| {
            let status = if reasons {
                let fit = FitError {
                    num_all_nodes,
                    diagnosis: Diagnosis {
                        node_statuses: statuses,
                        absent_status: Status::unresolvable(NOT_HELPFUL),
                        ..Diagnosis::default()
                    },
                    post_filter: None,
                };
                Status::unschedulable(fit.message())
            } else {
                Status::code_only(scheduler_core::Code::Unschedulable)
            };
            PostFilterResult { status: prefixed(status), nominated_node: Some(None), ..PostFilterResult::default() }
        };
        if potential.is_empty() {
            return not_found(Vec::new());
        }
        let offset = handle.random_below(potential.len());
        let wanted = self.num_candidates(potential.len());
        // No pod anywhere has a lower priority: every node would say so (the dry run visits them all).
        if cluster.min_pod_priority().is_none_or(|min| min >= pod.priority) {
            let statuses = if reasons {
                (0..potential.len())
                    .map(|i| NodeStatus {
                        node: potential[(offset + i) % potential.len()],
                        plugin: None,
                        status: Status::unresolvable(NO_VICTIMS),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            return not_found(statuses);
        }
        let allowed: Vec<i32> = (0..cluster.pdbs().len()).map(|i| cluster.disruptions_allowed(i)).collect();

        // Upstream `DryRunPreemption`, one node at a time.
        let (mut non_violating, mut violating) = (Vec::new(), Vec::new());
        let mut statuses = Vec::new();
        for i in 0..potential.len() {
            let node = potential[(offset + i) % potential.len()];
            match select_victims(handle, pod, node, &allowed) {
                Ok(candidate) => {
                    let list = if candidate.pdb_violations == 0 { &mut non_violating } else { &mut violating };
                    if list.len() < wanted {
                        list.push(candidate);
                    }
                    if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
                        break;
                    }
                }
                Err(status) => statuses.push(NodeStatus { node, plugin: None, status }),
            }
        }
        non_violating.append(&mut violating);
        let candidates = non_violating;
        if candidates.is_empty() {
            if let Some(error) = statuses.iter().find(|s| !s.status.is_rejected()) {
                return noop(Status::error(error.status.message()));
            }
            return not_found(statuses);
        }
        let best = pick_one(cluster, &candidates);
        let chosen = &candidates[best];
        let cleared_nominations =
            cluster.nominated_pods(chosen.node).filter(|p| p.priority < pod.priority).map(|p| p.uid.clone()).collect();
        PostFilterResult {
            status: Status::success(),
            nominated_node: Some(Some(chosen.node)),
            victims: chosen.victims.clone(),
            cleared_nominations,
        }
    }
}

/// The victims preemption would evict on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeVictims {
    /// The victims, most important first.
    pub pods: Vec<PodId>,
    /// How many of them are evicted against a PodDisruptionBudget.
    pub pdb_violations: usize,
}

/// Upstream `SelectVictimsOnNode` on its own, for a caller handed candidate nodes (a scheduler extender's
/// preempt verb): the victims on `node`, or the status that rules the node out.
pub fn victims_on_node(handle: &PostFilterHandle<'_, '_>, pod: &Pod, node: NodeId) -> Result<NodeVictims, Status> {
    let cluster = handle.cluster();
    let allowed: Vec<i32> = (0..cluster.pdbs().len()).map(|i| cluster.disruptions_allowed(i)).collect();
    select_victims(handle, pod, node, &allowed).map(|c| NodeVictims { pods: c.victims, pdb_violations: c.pdb_violations })
}

/// Upstream `PodEligibleToPreemptOthers`.
fn eligible(handle: &PostFilterHandle<'_, '_>, pod: &Pod) -> Result<(), &'static str> {
    if pod.never_preempt {
        return Err("not eligible due to preemptionPolicy=Never.");
    }
    let cluster = handle.cluster();
    let Some(nominated) = cluster.nomination(&pod.uid) else { return Ok(()) };
    // A nominated node the filters found unresolvable this cycle: preempt elsewhere.
    if !handle.potential_nodes().contains(&nominated) {
        return Ok(());
    }
    let terminating_victim = cluster
        .get_node(nominated)
        .is_some_and(|info| info.pods.iter().filter_map(|&id| cluster.pod(id)).any(|b| b.pod.priority < pod.priority && b.terminating));
    if terminating_victim {
        return Err("not eligible due to a terminating pod on the nominated node.");
    }
    Ok(())
}

/// Upstream `SelectVictimsOnNode`: the victims on `node`, or the status that rules the node out.
fn select_victims(handle: &PostFilterHandle<'_, '_>, pod: &Pod, node: NodeId, allowed: &[i32]) -> Result<Candidate, Status> {
    let cluster = handle.cluster();
    let info = cluster.node(node);
    let mut potential: Vec<(PodId, &BoundPod)> =
        info.pods.iter().filter_map(|&id| cluster.pod(id).map(|b| (id, b))).filter(|(_, b)| b.pod.priority < pod.priority).collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    let mut copy = info.clone();
    let mut state = handle.state();
    let checked = |status: Status| if status.is_success() { Ok(()) } else { Err(status) };
    for &(id, bound) in &potential {
        copy.remove_pod(id, &bound.pod);
        checked(handle.remove_pod(&mut state, pod, &bound.pod, &copy))?;
    }
    checked(handle.filter_with_nominated(&state, pod, &copy))?;
    potential.sort_by(|a, b| more_important(&a.1.pod, &b.1.pod));

    // Upstream `filterPodsWithPDBViolation`: walking the sorted pods, each covering budget not already
    // counting the pod as disrupted loses one allowed disruption; a pod driving one below zero violates.
    let mut left = allowed.to_vec();
    let (mut violating, mut non_violating) = (Vec::new(), Vec::new());
    for &(id, bound) in &potential {
        let mut violates = false;
        if !bound.pod.labels.is_empty() {
            for (i, pdb) in cluster.pdbs().iter().enumerate() {
                if !pdb.covers(bound.pod.namespace, &bound.pod.labels) || pdb.disrupted_pods.contains(&bound.pod.name) {
                    continue;
                }
                left[i] -= 1;
                violates |= left[i] < 0;
            }
        }
        if violates { violating.push((id, bound)) } else { non_violating.push((id, bound)) }
    }

    let mut victims: Vec<(PodId, &BoundPod)> = Vec::new();
    let mut pdb_violations = 0;
    for (group, is_violating) in [(&violating, true), (&non_violating, false)] {
        for &(id, bound) in group {
            copy.add_pod(id, &bound.pod);
            checked(handle.add_pod(&mut state, pod, &bound.pod, &copy))?;
            if !handle.filter_with_nominated(&state, pod, &copy).is_success() {
                copy.remove_pod(id, &bound.pod);
                checked(handle.remove_pod(&mut state, pod, &bound.pod, &copy))?;
                victims.push((id, bound));
                pdb_violations += usize::from(is_violating);
            }
        }
    }
    if !violating.is_empty() && !non_violating.is_empty() {
        victims.sort_by(|a, b| more_important(&a.1.pod, &b.1.pod));
    }
    if victims.is_empty() {
        return Err(Status::error(format!("expected at least one victim pod on node {:?}", &*info.node.name)));
    }
    Ok(Candidate { node, victims: victims.into_iter().map(|(id, _)| id).collect(), pdb_violations })
}

/// Upstream `pickOneNodeForPreemption`: each criterion keeps the candidates with the best value; the first
/// criterion that leaves one decides; a tie after all goes to the first candidate.
fn pick_one(cluster: &scheduler_core::Cluster, candidates: &[Candidate]) -> usize {
    let pod = |id: PodId| &cluster.pod(id).expect("victims are bound").pod;
    let criteria: [&dyn Fn(&Candidate) -> i64; 5] = [
        &|c| -(c.pdb_violations as i64),
        &|c| -i64::from(pod(c.victims[0]).priority),
        &|c| -c.victims.iter().map(|&v| i64::from(pod(v).priority) + (1i64 << 31)).sum::<i64>(),
        &|c| -(c.victims.len() as i64),
        &|c| {
            // Upstream `GetEarliestPodStartTime`: the earliest start among the highest-priority victims.
            let top = pod(c.victims[0]).priority;
            c.victims.iter().map(|&v| pod(v)).filter(|p| p.priority == top).map(start).min().unwrap_or(i64::MAX)
        },
    ];
    let mut left: Vec<usize> = (0..candidates.len()).collect();
    for score in criteria {
        let best = left.iter().map(|&i| score(&candidates[i])).max().unwrap_or(i64::MIN);
        left.retain(|&i| score(&candidates[i]) == best);
        if left.len() == 1 {
            break;
        }
    }
    left[0]
}
