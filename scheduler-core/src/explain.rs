//! `simsched explain`'s data: every node's filter verdict and every plugin's raw, normalised and weighted
//! score for one pod, and the decision.

use foldhash::{HashMap, HashSet};

use crate::cluster::Cluster;
use crate::node::NodeId;
use crate::pod::Pod;
use crate::profile::{MissingPlugin, Profile};
use crate::scheduler::{ScheduleError, ScheduleResult, Trace};
use crate::status::Code;

/// One plugin's score on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginScore {
    /// Plugin name.
    pub plugin: String,
    /// Score as the plugin returned it.
    pub raw: i64,
    /// After NormalizeScore (the raw score for plugins without one).
    pub normalized: i64,
    /// Normalised × weight.
    pub weighted: i64,
}

/// A node's filter verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterVerdict {
    /// Success, Unschedulable or UnschedulableAndUnresolvable.
    pub code: Code,
    /// The rejecting plugin; empty on success or for statuses not from one plugin.
    pub plugin: String,
    /// The reasons.
    pub reasons: Vec<String>,
}

/// One node in an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeExplanation {
    /// Node id.
    pub node: NodeId,
    /// Node name.
    pub name: String,
    /// Filter verdict.
    pub filter: FilterVerdict,
    /// Scores, in Score plugin order; empty if the node was not scored.
    pub scores: Vec<PluginScore>,
    /// Sum of weighted scores (0 if not scored).
    pub total: i64,
}

/// What the PostFilter plugins (preemption) decided for a pod no node fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostFilterExplanation {
    /// The deciding plugin (empty when none rejected).
    pub plugin: String,
    /// Its status code: Success when preemption found a node.
    pub code: Code,
    /// The node nominated for the pod; `None` when preemption cannot help.
    pub nominated_node: Option<String>,
    /// The pods evicted to make room (`namespace/name`), most important first.
    pub victims: Vec<String>,
    /// Lower-priority pods nominated to the node whose nomination is cleared.
    pub cleared_nominations: Vec<String>,
    /// Its message (why preemption cannot help).
    pub message: String,
}

/// Why a pod goes where it goes, or nowhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// `<namespace>/<name>`.
    pub pod: String,
    /// The profile used.
    pub profile: String,
    /// The chosen node.
    pub selected: Option<String>,
    /// The GPUs chosen for the pod there (indices), when it asks for GPUs.
    pub gpus: Vec<usize>,
    /// The FitError (or other failure) message; empty when a node was chosen.
    pub message: String,
    /// PreFilter plugins that returned Skip.
    pub pre_filter_skipped: Vec<String>,
    /// PreScore plugins that returned Skip.
    pub pre_score_skipped: Vec<String>,
    /// Score plugins with their weights, in order.
    pub score_plugins: Vec<(String, i64)>,
    /// Every node, in the scheduler's node order.
    pub nodes: Vec<NodeExplanation>,
    /// Configured plugins that simsched does not provide.
    pub missing_plugins: Vec<MissingPlugin>,
    /// Configuration notes.
    pub warnings: Vec<String>,
    /// The PostFilter outcome (preemption), when no node fits and the profile has PostFilter plugins.
    pub post_filter: Option<PostFilterExplanation>,
}

impl Explanation {
    pub(crate) fn new(
        profile: &Profile,
        cluster: &Cluster,
        pod: &Pod,
        outcome: Result<ScheduleResult, ScheduleError>,
        trace: Trace,
    ) -> Explanation {
        let name = |idx: usize| profile.plugin_name(idx).to_string();
        let (selected, message) = match &outcome {
            Ok(r) => (Some(cluster.node(r.node).node.name.to_string()), String::new()),
            Err(e) => (None, e.to_string()),
        };
        let gpus = outcome.as_ref().map(|r| r.gpus.iter().collect()).unwrap_or_default();
        let post_filter = match &outcome {
            Err(ScheduleError::Unschedulable(fit)) => fit.post_filter.as_ref().map(|(plugin, r)| PostFilterExplanation {
                plugin: plugin.map(name).unwrap_or_default(),
                code: r.status.code(),
                nominated_node: r.nominated_node.flatten().map(|n| cluster.node(n).node.name.to_string()),
                victims: r.victims.iter().filter_map(|&v| cluster.pod(v)).map(|b| b.pod.key(cluster.interner())).collect(),
                cleared_nominations: r.cleared_nominations.iter().map(|u| u.to_string()).collect(),
                message: r.status.message(),
            }),
            _ => None,
        };
        let d = &trace.diagnosis;
        // With a PreFilter rejection every node carries PreFilter's status and plugin.
        let absent_plugin = if !d.pre_filter_msg.is_empty() && d.unschedulable_plugins.len() == 1 {
            d.unschedulable_plugins.iter().next().map(|&p| name(p)).unwrap_or_default()
        } else {
            String::new()
        };
        let gated = matches!(outcome, Err(ScheduleError::Gated { .. }) | Err(ScheduleError::NoNodes) | Err(ScheduleError::Internal(_)));
        let feasible: HashSet<NodeId> = trace.feasible.iter().copied().collect();
        let rejected: HashMap<NodeId, usize> = d.node_statuses.iter().enumerate().map(|(i, ns)| (ns.node, i)).collect();
        let columns: HashMap<NodeId, usize> = trace.scored_nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let mut nodes = Vec::new();
        if !gated {
            for &node in cluster.node_order() {
                let filter = if feasible.contains(&node) {
                    FilterVerdict { code: Code::Success, plugin: String::new(), reasons: Vec::new() }
                } else if let Some(ns) = rejected.get(&node).map(|&i| &d.node_statuses[i]) {
                    FilterVerdict {
                        code: ns.status.code(),
                        plugin: ns.plugin.map(name).unwrap_or_default(),
                        reasons: ns.status.reasons().iter().map(|r| r.to_string()).collect(),
                    }
                } else {
                    FilterVerdict {
                        code: d.absent_status.code(),
                        plugin: absent_plugin.clone(),
                        reasons: d.absent_status.reasons().iter().map(|r| r.to_string()).collect(),
                    }
                };
                let mut scores = Vec::new();
                let mut total = 0;
                if let Some(&col) = columns.get(&node) {
                    for (plugin, weight, raw, normalized) in &trace.scores {
                        scores.push(PluginScore {
                            plugin: name(*plugin),
                            raw: raw[col],
                            normalized: normalized[col],
                            weighted: normalized[col] * weight,
                        });
                    }
                    total = trace.totals[col];
                }
                nodes.push(NodeExplanation { node, name: cluster.node(node).node.name.to_string(), filter, scores, total });
            }
        }
        Explanation {
            pod: pod.key(cluster.interner()),
            profile: profile.scheduler_name.clone(),
            selected,
            gpus,
            message,
            pre_filter_skipped: trace.pre_filter_skipped.iter().map(|&p| name(p)).collect(),
            pre_score_skipped: trace.pre_score_skipped.iter().map(|&p| name(p)).collect(),
            score_plugins: profile.score_plugins().map(|(n, w)| (n.to_string(), w)).collect(),
            nodes,
            missing_plugins: profile.missing_plugins().to_vec(),
            warnings: profile.warnings().to_vec(),
            post_filter,
        }
    }
}
