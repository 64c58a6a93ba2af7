//! PodTopologySpread (PreFilter, Filter, PreScore, Score, NormalizeScore): spreads pods matching a pod's
//! `topologySpreadConstraints` across topology domains.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/podtopologyspread/{common,filtering,scoring}.go`,
//! as summarised in the project's reference §3.7.
//!
//! - PreFilter (hard constraints, `DoNotSchedule`): over every node that has all the constraints' topology
//!   keys, per constraint that the node passes the inclusion policies of (`nodeAffinityPolicy: Honor`: the
//!   pod's node selector and required node affinity; `nodeTaintsPolicy: Honor`: the pod tolerates the node's
//!   `NoSchedule`/`NoExecute` taints), the matching pods (the incoming pod's namespace, the constraint's
//!   selector; an empty selector counts none) per domain, the number of domains and the global minimum.
//!   No hard constraint: Skip.
//! - Filter: a node without a constraint's key is `UnschedulableAndUnresolvable`; a node where
//!   `count(domain) + (1 if the pod matches its own selector) − min` exceeds `maxSkew` is `Unschedulable`
//!   (`min` is 0 when there are fewer domains than `minDomains`).
//! - PreScore (soft constraints, `ScheduleAnyway`): feasible nodes missing a key are ignored (score 0);
//!   per non-hostname constraint the domains of the other feasible nodes, weighted `ln(domains + 2)`
//!   (hostname: `ln(nodes + 2)`), and the matching pods per domain over all nodes. No soft constraint: Skip.
//! - Score: `round(Σ count·weight + maxSkew − 1)` over the constraints whose key the node has;
//!   NormalizeScore: `100·(max + min − s)/max` over the non-ignored nodes (all 100 when `max` is 0).
//!
//! A pod without constraints of its own gets the default constraints (`defaultingType: System`:
//! `kubernetes.io/hostname` maxSkew 3 and `topology.kubernetes.io/zone` maxSkew 5, both `ScheduleAnyway`;
//! `List`: the configured `defaultConstraints`), with the selector the cluster gives it from the Services,
//! ReplicationController, ReplicaSet or StatefulSet selecting it ([`Pod::default_spread_selector`]); none
//! when that selector is empty. Under System defaulting, scoring does not require every topology key on a
//! node: a feasible node without the zone label counts under the empty value (upstream
//! `requireAllTopologies`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use foldhash::HashMap;

use crate::tables::{Cursor, NodeTable};

use serde::Deserialize;
use smallvec::SmallVec;

use scheduler_core::{
    Cluster, ConfigError, CycleContext, ExtensionPoints, FilterPlugin, Interner, LabelSelector, MAX_NODE_SCORE, NodeInclusionPolicy,
    NodeInfo, Plugin, PluginArgs, Pod, PreFilterExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin, StateSlot,
    Status, Symbol, TopologySpreadConstraint, WhenUnsatisfiable, is_qualified_name, tolerated, well_known,
};

/// Upstream's Filter reason for a node without a constraint's topology key.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
/// Upstream's Filter reason for a node where the skew would exceed `maxSkew`.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";

/// The plugin's arguments (`PodTopologySpreadArgs`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PodTopologySpreadArgs {
    #[serde(default)]
    default_constraints: Vec<DefaultConstraint>,
    #[serde(default)]
    defaulting_type: Option<String>,
}

/// A `v1.TopologySpreadConstraint` of `defaultConstraints`: the fields validation reads; the others are
/// accepted as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DefaultConstraint {
    #[serde(default)]
    max_skew: i32,
    #[serde(default)]
    topology_key: String,
    #[serde(default)]
    when_unsatisfiable: String,
    #[serde(default)]
    label_selector: Option<serde_json::Value>,
    #[serde(default)]
    min_domains: Option<i32>,
    #[serde(default)]
    node_affinity_policy: Option<String>,
    #[serde(default)]
    node_taints_policy: Option<String>,
    /// Accepted and, as upstream, without effect: the default selector replaces the constraint's.
    #[serde(default, rename = "matchLabelKeys")]
    _match_label_keys: Option<serde_json::Value>,
}

/// Topology spreading of the pod's own constraints, or of the default ones.
#[derive(Debug)]
pub struct PodTopologySpread {
    counts: MatchCounts,
    domains: DomainTables,
    /// The constraints of pods without their own; their selectors are unused (each pod's default selector
    /// replaces them).
    defaults: Vec<TopologySpreadConstraint>,
    /// `defaultingType: System`.
    system_defaulted: bool,
}

impl Default for PodTopologySpread {
    /// The plugin with `defaultingType: System`, as in the default profile.
    fn default() -> PodTopologySpread {
        PodTopologySpread {
            counts: MatchCounts::default(),
            domains: DomainTables::default(),
            defaults: system_default_constraints(),
            system_defaulted: true,
        }
    }
}

/// Upstream `systemDefaultConstraints`.
fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    [(well_known::LABEL_HOSTNAME, 3), (well_known::LABEL_ZONE, 5)]
        .into_iter()
        .map(|(topology_key, max_skew)| TopologySpreadConstraint {
            max_skew,
            topology_key,
            when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
            selector: LabelSelector::Nothing,
            min_domains: 1,
            node_affinity_policy: NodeInclusionPolicy::Honor,
            node_taints_policy: NodeInclusionPolicy::Ignore,
        })
        .collect()
}

/// A constraint that applies to a pod, with the selector it counts pods by.
#[derive(Clone, Copy, Debug)]
struct Spread<'a> {
    c: &'a TopologySpreadConstraint,
    selector: &'a LabelSelector,
}

const NOTHING: &LabelSelector = &LabelSelector::Nothing;

/// How many of a node's pods a (namespace, selector) matches, remembered per node with the node's
/// generation (a process-wide unique number per node state): a count is reused exactly when recounting
/// would give the same number, so a cycle visits the pods of the nodes that changed, not all pods. Only
/// the cost depends on it.
#[derive(Debug, Default)]
struct MatchCounts {
    tables: Mutex<HashMap<(Symbol, LabelSelector), StampedCounts>>,
}

/// Per node (by index): the generation a count was taken at, and the count.
type StampedCounts = Vec<(u64, u32)>;

/// Selectors remembered at most; beyond, the tables start over.
const SELECTORS_REMEMBERED: usize = 64;

impl MatchCounts {
    /// Runs `f` with a counter for `(namespace, selector)`.
    fn with<R>(
        &self,
        cx: &CycleContext<'_>,
        namespace: Symbol,
        selector: &LabelSelector,
        f: impl FnOnce(&mut dyn FnMut(&NodeInfo) -> i64) -> R,
    ) -> R {
        // A poisoned lock only means another thread panicked while counting: the table is still valid
        // (every entry is stamped), so keep using it.
        let mut tables = self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (namespace, selector.clone());
        if tables.len() >= SELECTORS_REMEMBERED && !tables.contains_key(&key) {
            tables.clear();
        }
        let table = tables.entry(key).or_default();
        let mut count = |node: &NodeInfo| {
            let idx = node.id.index();
            if table.len() <= idx {
                table.resize(idx + 1, (0, 0));
            }
            let entry = &mut table[idx];
            if entry.0 != node.generation {
                *entry = (node.generation, count_matching(cx.cluster, node, selector, namespace) as u32);
            }
            i64::from(entry.1)
        };
        f(&mut count)
    }
}

impl PodTopologySpread {
    /// Builds the plugin from its arguments, validating them as upstream does (`ValidatePodTopologySpreadArgs`;
    /// the first problem is the error).
    pub fn new(args: &PluginArgs<'_>, interner: &mut Interner) -> Result<PodTopologySpread, ConfigError> {
        let parsed: PodTopologySpreadArgs = args.decode()?;
        let path = args.path();
        let defaulting = parsed.defaulting_type.as_deref().unwrap_or("System");
        if !matches!(defaulting, "System" | "List") {
            return Err(ConfigError::new(
                format!("{path}.defaultingType"),
                format!("Unsupported value: {defaulting:?}: supported values: \"System\", \"List\""),
            ));
        }
        if defaulting == "System" && !parsed.default_constraints.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.defaultingType"),
                "Invalid value: \"System\": when .defaultConstraints are not empty",
            ));
        }
        for (idx, c) in parsed.default_constraints.iter().enumerate() {
            let field = format!("{path}.defaultConstraints[{idx}]");
            if c.max_skew <= 0 {
                return Err(ConfigError::new(
                    format!("{field}.maxSkew"),
                    format!("Invalid value: {}: not in valid range (0, inf)", c.max_skew),
                ));
            }
            if c.topology_key.is_empty() {
                return Err(ConfigError::new(format!("{field}.topologyKey"), "Required value: can not be empty"));
            }
            if !is_qualified_name(&c.topology_key) {
                return Err(ConfigError::new(
                    format!("{field}.topologyKey"),
                    format!("Invalid value: {:?}: must be a qualified name", c.topology_key),
                ));
            }
            if c.when_unsatisfiable.is_empty() {
                return Err(ConfigError::new(format!("{field}.whenUnsatisfiable"), "Required value: can not be empty"));
            }
            if WhenUnsatisfiable::parse(&c.when_unsatisfiable).is_none() {
                return Err(ConfigError::new(
                    format!("{field}.whenUnsatisfiable"),
                    format!("Unsupported value: {:?}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\"", c.when_unsatisfiable),
                ));
            }
            if c.label_selector.as_ref().is_some_and(|s| !s.is_null()) {
                return Err(ConfigError::new(
                    format!("{field}.labelSelector"),
                    "Forbidden: constraint must not define a selector, as they deduced for each pod",
                ));
            }
            if parsed.default_constraints[..idx]
                .iter()
                .any(|other| other.topology_key == c.topology_key && other.when_unsatisfiable == c.when_unsatisfiable)
            {
                return Err(ConfigError::new(field, format!("Duplicate value: \"{{{}, {}}}\"", c.topology_key, c.when_unsatisfiable)));
            }
        }
        if defaulting == "System" {
            return Ok(PodTopologySpread::default());
        }
        let mut defaults = Vec::with_capacity(parsed.default_constraints.len());
        for (idx, c) in parsed.default_constraints.iter().enumerate() {
            let field = format!("{path}.defaultConstraints[{idx}]");
            let policy = |value: &Option<String>, name: &str, absent: NodeInclusionPolicy| match value.as_deref() {
                None => Ok(absent),
                Some(v) => NodeInclusionPolicy::parse(v).ok_or_else(|| {
                    ConfigError::new(
                        format!("{field}.{name}"),
                        format!("Unsupported value: {v:?}: supported values: \"Honor\", \"Ignore\""),
                    )
                }),
            };
            defaults.push(TopologySpreadConstraint {
                max_skew: c.max_skew,
                topology_key: interner.intern(&c.topology_key),
                when_unsatisfiable: WhenUnsatisfiable::parse(&c.when_unsatisfiable).unwrap_or(WhenUnsatisfiable::ScheduleAnyway),
                selector: LabelSelector::Nothing,
                min_domains: c.min_domains.unwrap_or(1),
                node_affinity_policy: policy(&c.node_affinity_policy, "nodeAffinityPolicy", NodeInclusionPolicy::Honor)?,
                node_taints_policy: policy(&c.node_taints_policy, "nodeTaintsPolicy", NodeInclusionPolicy::Ignore)?,
            });
        }
        Ok(PodTopologySpread { counts: MatchCounts::default(), domains: DomainTables::default(), defaults, system_defaulted: false })
    }

    /// How many constraints apply to `pod`: its own, else the defaults when it has a default selector.
    fn n_constraints(&self, pod: &Pod) -> usize {
        match (pod.topology_spread_constraints.len(), &pod.default_spread_selector) {
            (0, Some(_)) => self.defaults.len(),
            (n, _) => n,
        }
    }

    /// The `index`-th constraint that applies to `pod`.
    fn nth<'a>(&'a self, pod: &'a Pod, index: usize) -> Spread<'a> {
        if pod.topology_spread_constraints.is_empty() {
            Spread { c: &self.defaults[index], selector: pod.default_spread_selector.as_ref().unwrap_or(NOTHING) }
        } else {
            let c = &pod.topology_spread_constraints[index];
            Spread { c, selector: &c.selector }
        }
    }

    /// The constraints of `pod` with `when`, with their indices.
    fn constraints_with<'a>(&'a self, pod: &'a Pod, when: WhenUnsatisfiable) -> Vec<(usize, Spread<'a>)> {
        (0..self.n_constraints(pod)).map(|i| (i, self.nth(pod, i))).filter(|(_, s)| s.c.when_unsatisfiable == when).collect()
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &str {
        "PodTopologySpread"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: Some(self.clone()),
            pre_filter_extensions: Some(self.clone()),
            filter: Some(self.clone()),
            pre_score: Some(self.clone()),
            score: Some(self),
            ..ExtensionPoints::default()
        }
    }
}

/// Whether `node` counts for `c` under its inclusion policies (upstream `matchNodeInclusionPolicies`).
fn included(cx: &CycleContext<'_>, c: &TopologySpreadConstraint, pod: &Pod, node: &NodeInfo) -> bool {
    if c.node_affinity_policy == NodeInclusionPolicy::Honor && !required_affinity_matches(cx, pod, node) {
        return false;
    }
    if c.node_taints_policy == NodeInclusionPolicy::Honor
        && node.node.has_hard_taints
        && node.node.taints.iter().any(|t| t.effect.is_hard() && !tolerated(&pod.tolerations, t))
    {
        return false;
    }
    true
}

/// Upstream `GetRequiredNodeAffinity(pod).Match(node)`: the pod's node selector and required node affinity.
fn required_affinity_matches(cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo) -> bool {
    if let Some(sel) = &pod.node_selector
        && !node.node.labels.contains_all(sel)
    {
        return false;
    }
    pod.required_node_affinity.as_ref().is_none_or(|r| r.matches(node.node.facts(), cx.cluster.interner()))
}

/// Upstream `countPodsMatchSelector`: the node's pods in `namespace` that `selector` matches, terminating
/// ones left out; none for a selector without requirements.
fn count_matching(cluster: &Cluster, node: &NodeInfo, selector: &LabelSelector, namespace: Symbol) -> i64 {
    if matches!(selector, LabelSelector::All(reqs) if reqs.is_empty()) {
        return 0;
    }
    node.pods
        .iter()
        .filter_map(|&id| cluster.pod(id))
        .filter(|bound| !bound.terminating && bound.pod.namespace == namespace && selector.matches(&bound.pod.labels))
        .count() as i64
}

/// Whether every node with the constraint's keys counts for `pod` (no inclusion policy excludes one): then
/// the per-domain totals of [`DomainTables`] apply.
fn every_node_counts(c: &TopologySpreadConstraint, pod: &Pod) -> bool {
    (c.node_affinity_policy == NodeInclusionPolicy::Ignore || (pod.node_selector.is_none() && pod.required_node_affinity.is_none()))
        && c.node_taints_policy == NodeInclusionPolicy::Ignore
}

/// What a [`DomainTable`] counts: the pods of `namespace` matching `selector`, per value of `key`, over the
/// nodes having every key of `required`; a node without `key` counts under the empty value when
/// `missing_as_empty` (System default constraints in scoring).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DomainKey {
    namespace: Symbol,
    selector: LabelSelector,
    key: Symbol,
    required: SmallVec<[Symbol; 2]>,
    missing_as_empty: bool,
}

impl DomainKey {
    /// What constraint `s` of `pod` counts, over the nodes having every key of `required`.
    fn of(pod: &Pod, s: Spread<'_>, required: &SmallVec<[Symbol; 2]>, missing_as_empty: bool) -> DomainKey {
        DomainKey {
            namespace: pod.namespace,
            selector: s.selector.clone(),
            key: s.c.topology_key,
            required: required.clone(),
            missing_as_empty,
        }
    }
}

/// Per-domain totals kept in step with the cluster's pods, so that a cycle costs the nodes that changed
/// since the last one plus the domains it reads, not a visit of every node.
#[derive(Debug)]
struct DomainTable {
    what: DomainKey,
    cursor: Cursor,
    /// Per node (by index): the node generation at counting, its domain (`None`: not counted), its count.
    per_node: Vec<(u64, Option<Symbol>, u32)>,
    /// Matching pods per domain; every domain with a counted node is present, with 0 if need be. Shared
    /// with the cycle states that read it (copied only if one is still held when it changes).
    counts: Arc<HashMap<Symbol, i64>>,
    /// Counted nodes per domain.
    nodes: HashMap<Symbol, u32>,
    /// How many domains have each count, to find the smallest.
    histogram: BTreeMap<i64, u32>,
}

impl DomainTable {
    fn new(what: DomainKey) -> DomainTable {
        DomainTable {
            what,
            cursor: Cursor::default(),
            per_node: Vec::new(),
            counts: Arc::default(),
            nodes: HashMap::default(),
            histogram: BTreeMap::new(),
        }
    }

    fn move_histogram(&mut self, from: Option<i64>, to: Option<i64>) {
        if let Some(from) = from
            && let Some(n) = self.histogram.get_mut(&from)
        {
            *n -= 1;
            if *n == 0 {
                self.histogram.remove(&from);
            }
        }
        if let Some(to) = to {
            *self.histogram.entry(to).or_insert(0) += 1;
        }
    }

    /// Adds `delta` nodes with `count` matching pods to `domain`.
    fn change(&mut self, domain: Symbol, count: i64, delta: i32) {
        let nodes = self.nodes.entry(domain).or_insert(0);
        let was_present = *nodes > 0;
        *nodes = nodes.saturating_add_signed(delta);
        let present = *nodes > 0;
        if !present {
            self.nodes.remove(&domain);
        }
        let counts = Arc::make_mut(&mut self.counts);
        let before = counts.get(&domain).copied().filter(|_| was_present);
        let after = before.unwrap_or(0) + i64::from(delta) * count;
        if present {
            counts.insert(domain, after);
        } else {
            counts.remove(&domain);
        }
        self.move_histogram(before, present.then_some(after));
    }

    /// The smallest count over the domains; `i32::MAX` when there is none.
    fn min(&self) -> i64 {
        self.histogram.keys().next().copied().unwrap_or(i64::from(i32::MAX))
    }
}

impl NodeTable for DomainTable {
    fn cursor(&mut self) -> &mut Cursor {
        &mut self.cursor
    }

    fn update(&mut self, cluster: &Cluster, node: &NodeInfo) {
        let idx = node.id.index();
        if self.per_node.len() <= idx {
            self.per_node.resize(idx + 1, (0, None, 0));
        }
        let (generation, old_domain, old_count) = self.per_node[idx];
        if generation == node.generation {
            return;
        }
        let labels = &node.node.labels;
        let w = &self.what;
        let domain = if w.required.iter().all(|&k| labels.has(k)) {
            labels.get(w.key).or(w.missing_as_empty.then_some(well_known::EMPTY))
        } else {
            None
        };
        let count = if domain.is_some() { count_matching(cluster, node, &w.selector, w.namespace) as u32 } else { 0 };
        if let Some(d) = old_domain {
            self.change(d, i64::from(old_count), -1);
        }
        if let Some(d) = domain {
            self.change(d, i64::from(count), 1);
        }
        self.per_node[idx] = (node.generation, domain, count);
    }

    fn reset(&mut self) {
        self.per_node.clear();
        self.counts = Arc::default();
        self.nodes.clear();
        self.histogram.clear();
    }
}

/// The domain tables in use, at most [`SELECTORS_REMEMBERED`]; beyond, they start over.
#[derive(Debug, Default)]
struct DomainTables {
    tables: Mutex<HashMap<DomainKey, DomainTable>>,
}

impl DomainTables {
    /// The totals of `what`, brought up to date with `cluster`, and their smallest count.
    fn totals(&self, cluster: &Cluster, what: DomainKey) -> (Arc<HashMap<Symbol, i64>>, i64) {
        // A poisoned lock means another thread panicked while updating a table, maybe halfway: start over.
        let mut tables = self.tables.lock().unwrap_or_else(|poisoned| {
            self.tables.clear_poison();
            let mut tables = poisoned.into_inner();
            tables.clear();
            tables
        });
        if tables.len() >= SELECTORS_REMEMBERED && !tables.contains_key(&what) {
            tables.clear();
        }
        // The key moves into the lookup; it is cloned only for a new table.
        let table = match tables.entry(what) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let what = entry.key().clone();
                entry.insert(DomainTable::new(what))
            }
        };
        table.sync(cluster);
        (table.counts.clone(), table.min())
    }
}

/// The keys of `constraints`, sorted, without repeats.
fn keys_of(constraints: &[(usize, Spread<'_>)]) -> SmallVec<[Symbol; 2]> {
    let mut keys: SmallVec<[Symbol; 2]> = constraints.iter().map(|(_, s)| s.c.topology_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn has_all_keys(node: &NodeInfo, constraints: &[(usize, Spread<'_>)]) -> bool {
    constraints.iter().all(|(_, s)| node.node.labels.has(s.c.topology_key))
}

/// PreFilter state: per hard constraint, the matching pods per domain, the number of domains and the
/// smallest count.
#[derive(Clone, Debug, Default)]
struct HardState {
    constraints: Vec<HardConstraint>,
}

#[derive(Clone, Debug)]
struct HardConstraint {
    /// Index among the constraints that apply to the pod.
    index: usize,
    counts: Arc<HashMap<Symbol, i64>>,
    /// The smallest count over the domains; `i32::MAX` when there is none (upstream's initial critical path).
    min: i64,
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, cx: &CycleContext<'_>, pod: &Pod, state: &mut StateSlot) -> PreFilterResult {
        let hard = self.constraints_with(pod, WhenUnsatisfiable::DoNotSchedule);
        if hard.is_empty() {
            return Status::skip().into();
        }
        let required = keys_of(&hard);
        let mut constraints = Vec::with_capacity(hard.len());
        for &(index, s) in &hard {
            if every_node_counts(s.c, pod) {
                let (counts, min) = self.domains.totals(cx.cluster, DomainKey::of(pod, s, &required, false));
                constraints.push(HardConstraint { index, counts, min });
                continue;
            }
            let mut counts = HashMap::default();
            self.counts.with(cx, pod.namespace, s.selector, |count| {
                for &id in cx.cluster.node_order() {
                    let node = cx.cluster.node(id);
                    if !has_all_keys(node, &hard) || !included(cx, s.c, pod, node) {
                        continue;
                    }
                    let Some(value) = node.node.labels.get(s.c.topology_key) else { continue };
                    *counts.entry(value).or_insert(0) += count(node);
                }
            });
            let min = counts.values().copied().min().unwrap_or(i64::from(i32::MAX));
            constraints.push(HardConstraint { index, counts: Arc::new(counts), min });
        }
        state.put(HardState { constraints });
        Status::success().into()
    }
}

impl PreFilterExtensions for PodTopologySpread {
    fn add_pod(&self, cx: &CycleContext<'_>, pod: &Pod, added: &Pod, node: &NodeInfo, state: &mut StateSlot) -> Status {
        self.update_with_pod(cx, pod, added, node, state, 1)
    }

    fn remove_pod(&self, cx: &CycleContext<'_>, pod: &Pod, removed: &Pod, node: &NodeInfo, state: &mut StateSlot) -> Status {
        self.update_with_pod(cx, pod, removed, node, state, -1)
    }
}

impl PodTopologySpread {
    /// Upstream `updateWithPod`: `updated` (in the pod's namespace) added to or removed from `node` changes the
    /// count of its domain for each hard constraint whose selector matches it (note: `Matches`, so an empty
    /// selector counts it here although PreFilter counts no pod for one) and whose inclusion policies include
    /// the node. The smallest count is then recomputed exactly; upstream's two-entry critical-path cache can
    /// hold a stale minimum after several updates in one cycle, depending on Go's map order.
    fn update_with_pod(
        &self,
        cx: &CycleContext<'_>,
        pod: &Pod,
        updated: &Pod,
        node: &NodeInfo,
        state: &mut StateSlot,
        delta: i64,
    ) -> Status {
        let Some(s) = state.get_mut::<HardState>() else {
            return Status::error("reading \"PreFilterPodTopologySpread\" from cycleState: not found");
        };
        if updated.namespace != pod.namespace {
            return Status::success();
        }
        let hard: Vec<(usize, Spread<'_>)> = s.constraints.iter().map(|h| (h.index, self.nth(pod, h.index))).collect();
        if !has_all_keys(node, &hard) {
            return Status::success();
        }
        for (h, (_, spread)) in s.constraints.iter_mut().zip(&hard) {
            if !spread.selector.matches(&updated.labels) || !included(cx, spread.c, pod, node) {
                continue;
            }
            let Some(value) = node.node.labels.get(spread.c.topology_key) else { continue };
            let counts = Arc::make_mut(&mut h.counts);
            *counts.entry(value).or_insert(0) += delta;
            h.min = counts.values().copied().min().unwrap_or(i64::from(i32::MAX));
        }
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    /// Only pods with hard constraints are filtered (PreFilter skips the others).
    fn applies_to(&self, pod: &Pod) -> bool {
        (0..self.n_constraints(pod)).any(|i| self.nth(pod, i).c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule)
    }

    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Status {
        let Some(s) = state.get::<HardState>() else {
            return Status::error("reading \"PreFilterPodTopologySpread\" from cycleState: not found");
        };
        for h in &s.constraints {
            let Spread { c, selector } = self.nth(pod, h.index);
            let Some(value) = node.node.labels.get(c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let min = if (h.counts.len() as i64) < i64::from(c.min_domains) { 0 } else { h.min };
            let self_match = i64::from(selector.matches(&pod.labels));
            let skew = h.counts.get(&value).copied().unwrap_or(0) + self_match - min;
            if skew > i64::from(c.max_skew) {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

/// PreScore state: per soft constraint, its weight and the matching pods per domain of the feasible
/// nodes; the feasible nodes missing a key.
#[derive(Clone, Debug, Default)]
struct SoftState {
    constraints: Vec<SoftConstraint>,
    ignored: Vec<Symbol>,
}

#[derive(Clone, Debug)]
struct SoftConstraint {
    index: usize,
    weight: f64,
    /// Matching pods per domain of a feasible node (not used for the hostname key: counted per node).
    counts: HashMap<Symbol, i64>,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(&self, cx: &CycleContext<'_>, pod: &Pod, nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        let soft = self.constraints_with(pod, WhenUnsatisfiable::ScheduleAnyway);
        if soft.is_empty() || cx.cluster.node_order().is_empty() {
            return Status::skip();
        }
        // Upstream `requireAllTopologies`: with System defaults, a node without a key counts under the
        // empty value instead of being ignored.
        let require_all = !pod.topology_spread_constraints.is_empty() || !self.system_defaulted;
        let value_of = |node: &NodeInfo, key: Symbol| node.node.labels.get(key).or((!require_all).then_some(well_known::EMPTY));
        let hostname = well_known::LABEL_HOSTNAME;
        let mut ignored = Vec::new();
        let mut counts: Vec<HashMap<Symbol, i64>> = vec![HashMap::default(); soft.len()];
        for node in nodes {
            if require_all && !has_all_keys(node, &soft) {
                ignored.push(node.node.name_symbol);
                continue;
            }
            for (i, (_, s)) in soft.iter().enumerate() {
                if s.c.topology_key != hostname
                    && let Some(value) = value_of(node, s.c.topology_key)
                {
                    counts[i].entry(value).or_insert(0);
                }
            }
        }
        let weights: Vec<f64> = soft
            .iter()
            .zip(&counts)
            .map(|((_, s), domains)| {
                let size = if s.c.topology_key == hostname { nodes.len() - ignored.len() } else { domains.len() };
                ((size + 2) as f64).ln()
            })
            .collect();
        let required = if require_all { keys_of(&soft) } else { SmallVec::new() };
        for (i, (_, s)) in soft.iter().enumerate() {
            if s.c.topology_key == hostname {
                // Counted per node by Score.
                continue;
            }
            if every_node_counts(s.c, pod) {
                let (totals, _) = self.domains.totals(cx.cluster, DomainKey::of(pod, *s, &required, !require_all));
                for (value, total) in counts[i].iter_mut() {
                    *total = totals.get(value).copied().unwrap_or(0);
                }
                continue;
            }
            self.counts.with(cx, pod.namespace, s.selector, |count| {
                for &id in cx.cluster.node_order() {
                    let node = cx.cluster.node(id);
                    if (require_all && !has_all_keys(node, &soft)) || !included(cx, s.c, pod, node) {
                        continue;
                    }
                    let Some(value) = value_of(node, s.c.topology_key) else { continue };
                    if let Some(total) = counts[i].get_mut(&value) {
                        *total += count(node);
                    }
                }
            });
        }
        let constraints =
            soft.iter().zip(counts).zip(weights).map(|((&(index, _), counts), weight)| SoftConstraint { index, weight, counts }).collect();
        ignored.sort_unstable();
        state.put(SoftState { constraints, ignored });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        let Some(s) = state.get::<SoftState>() else {
            return Err(Status::error("reading \"PreScorePodTopologySpread\" from cycleState: not found"));
        };
        if s.ignored.binary_search(&node.node.name_symbol).is_ok() {
            return Ok(0);
        }
        let mut score = 0.0f64;
        for sc in &s.constraints {
            let Spread { c, selector } = self.nth(pod, sc.index);
            let Some(value) = node.node.labels.get(c.topology_key) else { continue };
            let count = if c.topology_key == well_known::LABEL_HOSTNAME {
                count_matching(cx.cluster, node, selector, pod.namespace)
            } else {
                sc.counts.get(&value).copied().unwrap_or(0)
            };
            score += count as f64 * sc.weight + f64::from(c.max_skew - 1);
        }
        // Go's math.Round: half away from zero, as Rust's round.
        Ok(score.round() as i64)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _cx: &CycleContext<'_>, _pod: &Pod, nodes: &[&NodeInfo], state: &StateSlot, scores: &mut [i64]) -> Status {
        let Some(s) = state.get::<SoftState>() else {
            return Status::error("reading \"PreScorePodTopologySpread\" from cycleState: not found");
        };
        let is_ignored = |node: &NodeInfo| s.ignored.binary_search(&node.node.name_symbol).is_ok();
        let (mut min, mut max) = (i64::MAX, 0i64);
        for (node, &score) in nodes.iter().zip(scores.iter()) {
            if !is_ignored(node) {
                min = min.min(score);
                max = max.max(score);
            }
        }
        for (node, score) in nodes.iter().zip(scores.iter_mut()) {
            *score = if is_ignored(node) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *score) / max
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{HOST, World, ZONE};
    use scheduler_core::testing::{PodBuilder, node, pod};
    use scheduler_core::{
        ControllerDef, ControllerKind, LabelOperator, LabelSelectorDef, LabelSelectorRequirementDef, OwnerReferenceDef, ServiceDef,
        TaintEffect, TopologySpreadConstraintDef,
    };

    fn plugin() -> Arc<dyn Plugin> {
        Arc::new(PodTopologySpread::default())
    }

    fn constraint(key: &str, max_skew: i32, when: WhenUnsatisfiable) -> TopologySpreadConstraintDef {
        TopologySpreadConstraintDef {
            max_skew,
            topology_key: key.into(),
            when_unsatisfiable: when,
            label_selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "web".into())], match_expressions: Vec::new() }),
            min_domains: None,
            node_affinity_policy: None,
            node_taints_policy: None,
            match_label_keys: Vec::new(),
        }
    }

    fn web(name: &str) -> PodBuilder {
        pod(name).label("app", "web")
    }

    fn spreading(name: &str, constraints: Vec<TopologySpreadConstraintDef>) -> PodBuilder {
        let mut p = web(name);
        p.def.topology_spread_constraints = constraints;
        p
    }

    fn codes(statuses: &[Status]) -> Vec<String> {
        statuses.iter().map(|s| if s.is_success() { "ok".to_string() } else { format!("{:?}: {}", s.code(), s.message()) }).collect()
    }

    /// Zones a (2 nodes) and b (1 node), and a node without a zone.
    fn zones() -> World {
        World::new(vec![node("a1").label(ZONE, "a"), node("a2").label(ZONE, "a"), node("b1").label(ZONE, "b"), node("x")])
    }

    #[test]
    fn filter_keeps_the_skew_within_max_skew() {
        let mut w = zones();
        w.run(0, web("w0")).run(1, web("w1")).run(2, web("w2")).run(0, pod("other").label("app", "db"));
        // Zone a holds 2 matching pods, zone b 1: min 1. Into a: 2 + 1 − 1 = 2 > 1; into b: 1 + 1 − 1 = 1.
        let p = w.pod(spreading("new", vec![constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule)]));
        let skewed = format!("Unschedulable: {ERR_REASON_CONSTRAINTS_NOT_MATCH}");
        let unlabelled = format!("UnschedulableAndUnresolvable: {ERR_REASON_NODE_LABEL_NOT_MATCH}");
        assert_eq!(codes(&w.filter(plugin(), &p)), [skewed.clone(), skewed, "ok".to_string(), unlabelled]);
        // maxSkew 2 allows zone a too.
        let p = w.pod(spreading("new", vec![constraint(ZONE, 2, WhenUnsatisfiable::DoNotSchedule)]));
        assert_eq!(codes(&w.filter(plugin(), &p))[..3], ["ok", "ok", "ok"]);
    }

    #[test]
    fn pods_of_other_namespaces_and_a_pod_not_matching_itself() {
        let mut w = zones();
        w.run(0, web("w0").namespace("other")).run(0, web("w1"));
        // The pod does not match its own selector: no self count. Zone a has 1, zone b 0: a gives 1 − 0 = 1.
        let mut p = spreading("new", vec![constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule)]);
        p.def.labels.clear();
        let p = w.pod(p);
        assert_eq!(codes(&w.filter(plugin(), &p))[..3], ["ok", "ok", "ok"]);
    }

    #[test]
    fn min_domains_makes_the_global_minimum_zero() {
        let mut w = zones();
        w.run(0, web("w0")).run(2, web("w1"));
        // Two domains with one pod each: min 1, so zone a takes a second pod (1 + 1 − 1 = 1)...
        let mut c = constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule);
        let p = w.pod(spreading("new", vec![c.clone()]));
        assert_eq!(codes(&w.filter(plugin(), &p))[..3], ["ok", "ok", "ok"]);
        // ...but with minDomains 3 and only 2 domains the minimum is 0: 1 + 1 − 0 = 2 > 1 everywhere.
        c.min_domains = Some(3);
        let p = w.pod(spreading("new", vec![c]));
        assert!(w.filter(plugin(), &p)[..3].iter().all(|s| s.message() == ERR_REASON_CONSTRAINTS_NOT_MATCH));
    }

    #[test]
    fn inclusion_policies_decide_which_nodes_count() {
        let mut w = World::new(vec![
            node("a1").label(ZONE, "a").label("disk", "ssd"),
            node("b1").label(ZONE, "b").label("disk", "hdd").taint("dedicated", "x", TaintEffect::NoSchedule),
        ]);
        w.run(1, web("w0")).run(1, web("w1"));
        // Honor node affinity (the default): b1 does not match the pod's node selector, so zone b is not a
        // domain; zone a alone, min 0: 0 + 1 − 0 = 1, fine.
        let p = w.pod(spreading("new", vec![constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule)]).node_selector("disk", "ssd"));
        assert!(w.filter(plugin(), &p)[0].is_success());
        // Ignore node affinity: zone b counts 2, min 0 in a: a gives 0 + 1 − 0 = 1; but b: 2 + 1 − 0 = 3.
        let mut c = constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule);
        c.node_affinity_policy = Some(NodeInclusionPolicy::Ignore);
        let p = w.pod(spreading("new", vec![c.clone()]).node_selector("disk", "ssd"));
        assert_eq!(codes(&w.filter(plugin(), &p)), ["ok".to_string(), format!("Unschedulable: {ERR_REASON_CONSTRAINTS_NOT_MATCH}")]);
        // Honor taints: b1's taint is not tolerated, so its pods do not count: b1 itself passes (0 + 1 − 0).
        c.node_taints_policy = Some(NodeInclusionPolicy::Honor);
        let p = w.pod(spreading("new", vec![c]));
        assert_eq!(codes(&w.filter(plugin(), &p)), ["ok", "ok"]);
    }

    #[test]
    fn pods_without_constraints_skip_both_phases() {
        let mut w = zones();
        let p = w.pod(web("plain"));
        let points = plugin().extension_points();
        let cx = CycleContext::new(&w.cluster);
        assert!(points.pre_filter.unwrap().pre_filter(&cx, &p, &mut StateSlot::default()).status.is_skip());
        assert!(!points.filter.unwrap().applies_to(&p));
        assert!(w.score(plugin(), &p).unwrap_err().is_skip());
        // Soft constraints only: no filtering.
        let p = w.pod(spreading("soft", vec![constraint(ZONE, 1, WhenUnsatisfiable::ScheduleAnyway)]));
        assert!(w.filter(plugin(), &p).iter().all(Status::is_success));
    }

    /// The reference's worked example: a hostname constraint with maxSkew 1 on three feasible nodes holding
    /// 0, 1 and 2 matching pods: weight ln 5, raw 0, 2, 3, normalised 100, 33, 0.
    #[test]
    fn score_spec_example_hostname() {
        let mut w = World::new(vec![node("n0"), node("n1"), node("n2")]);
        w.run(1, web("w0")).run(2, web("w1")).run(2, web("w2"));
        let p = w.pod(spreading("new", vec![constraint(HOST, 1, WhenUnsatisfiable::ScheduleAnyway)]));
        assert_eq!(w.score(plugin(), &p).unwrap(), (vec![0, 2, 3], vec![100, 33, 0]));
    }

    #[test]
    fn score_zones_and_ignored_nodes() {
        let mut w = zones();
        w.run(0, web("w0")).run(1, web("w1")).run(2, web("w2"));
        // Domains a and b (x has no zone: ignored, 0): weight ln 4; a: round(2 ln 4) = 3, b: round(ln 4) = 1;
        // normalised over a and b: 100·(3 + 1 − s)/3.
        let p = w.pod(spreading("new", vec![constraint(ZONE, 1, WhenUnsatisfiable::ScheduleAnyway)]));
        assert_eq!(w.score(plugin(), &p).unwrap(), (vec![3, 3, 1, 0], vec![33, 33, 100, 0]));
        // maxSkew 3 adds 2 to every scored node: 5, 5, 3 → 100·(5 + 3 − s)/5.
        let p = w.pod(spreading("new", vec![constraint(ZONE, 3, WhenUnsatisfiable::ScheduleAnyway)]));
        assert_eq!(w.score(plugin(), &p).unwrap(), (vec![5, 5, 3, 0], vec![60, 60, 100, 0]));
        // No matching pod anywhere: every raw score is 0, so every scored node gets 100.
        let p = w.pod(spreading(
            "new",
            vec![TopologySpreadConstraintDef { label_selector: None, ..constraint(ZONE, 1, WhenUnsatisfiable::ScheduleAnyway) }],
        ));
        assert_eq!(w.score(plugin(), &p).unwrap(), (vec![0, 0, 0, 0], vec![100, 100, 100, 0]));
    }

    /// Nodes a and b in zone mars, c and d without a zone; a ReplicaSet `rs1` selecting `foo` exists.
    fn mars_with_replica_set() -> World {
        let mut w = World::new(vec![node("a").label(ZONE, "mars"), node("b").label(ZONE, "mars"), node("c"), node("d")]);
        let selector = LabelSelectorDef {
            match_labels: Vec::new(),
            match_expressions: vec![LabelSelectorRequirementDef { key: "foo".into(), operator: LabelOperator::Exists, values: Vec::new() }],
        };
        w.cluster
            .add_controller(&ControllerDef {
                kind: ControllerKind::ReplicaSet,
                namespace: "default".into(),
                name: "rs1".into(),
                selector: Some(selector),
            })
            .unwrap();
        w
    }

    fn owned_by_rs1(name: &str) -> PodBuilder {
        let mut p = pod(name).label("foo", "tar").label("baz", "sup");
        p.def.owner = Some(OwnerReferenceDef { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), name: "rs1".into() });
        p
    }

    fn list_plugin(args: &str, w: &mut World) -> Arc<dyn Plugin> {
        let value: serde_json::Value = serde_json::from_str(args).unwrap();
        Arc::new(PodTopologySpread::new(&PluginArgs::new("PodTopologySpread", Some(&value), "args"), w.cluster.interner_mut()).unwrap())
    }

    /// Upstream scoring_test.go "system defaulting, nodes don't have zone, pods match service": the same
    /// scores as one explicit hostname constraint with maxSkew 3.
    #[test]
    fn system_defaults_take_the_selector_of_the_services_selecting_the_pod() {
        let mut w = World::new(vec![node("node-a"), node("node-b"), node("node-c"), node("node-d")]);
        w.cluster
            .add_service(&ServiceDef { namespace: String::new(), name: "svc".into(), selector: Some(vec![("foo".into(), String::new())]) })
            .unwrap();
        for (n, count) in [4, 3, 2, 1].into_iter().enumerate() {
            for i in 0..count {
                w.run(n, pod(&format!("p-{n}-{i}")).label("foo", ""));
            }
        }
        let p = w.pod(pod("p").label("foo", ""));
        assert_eq!(w.score(plugin(), &p).unwrap().1, [44, 66, 77, 100]);
        // A pod that no Service selects, without an owner, has no default constraint: Skip.
        let lone = w.pod(pod("q").label("app", "other"));
        assert!(w.score(plugin(), &lone).unwrap_err().is_skip());
    }

    /// Upstream scoring_test.go "system default constraints and a replicaset": hostname maxSkew 3 and zone
    /// maxSkew 5 with the ReplicaSet's selector; nodes without a zone are not ignored but form the zone "",
    /// so the zone weight is ln(2 + 2) (domains mars and ""), the hostname weight ln(4 + 2).
    #[test]
    fn system_defaults_count_nodes_without_a_zone_as_the_empty_zone() {
        let mut w = mars_with_replica_set();
        for i in 0..3 {
            w.run(0, owned_by_rs1(&format!("m{i}")));
        }
        let p = w.pod(owned_by_rs1("p"));
        // a: 3 ln 6 + 2 + 3 ln 4 + 4 = 15.53; b: 2 + 3 ln 4 + 4 = 10.16; c, d: 2 (no zone term).
        // With ln 3 (no "" domain) b would be 9.30, so the rounding tells the two apart.
        assert_eq!(w.score(plugin(), &p).unwrap(), (vec![16, 10, 2, 2], vec![12, 50, 100, 100]));
        // The same constraints as a List: every key required, c and d ignored; hostname ln(2 + 2), zone
        // ln(1 + 2): a: 3 ln 4 + 2 + 3 ln 3 + 4 = 13.45, b: 2 + 3 ln 3 + 4 = 9.30.
        let listed = list_plugin(
            r#"{"defaultingType": "List", "defaultConstraints": [
                {"maxSkew": 3, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"},
                {"maxSkew": 5, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]}"#,
            &mut w,
        );
        assert_eq!(w.score(listed, &p).unwrap(), (vec![13, 9, 0, 0], vec![69, 100, 0, 0]));
        // A pod with constraints of its own ignores the defaults.
        let mut own = owned_by_rs1("own");
        own.def.topology_spread_constraints = vec![TopologySpreadConstraintDef {
            label_selector: Some(LabelSelectorDef { match_labels: vec![("baz".into(), "sup".into())], match_expressions: Vec::new() }),
            ..constraint(ZONE, 1, WhenUnsatisfiable::ScheduleAnyway)
        }];
        let own = w.pod(own);
        // Zone mars holds the 3 pods matching baz=sup; c and d lack the key and are ignored: round(3 ln 3).
        assert_eq!(w.score(plugin(), &own).unwrap().0, [3, 3, 0, 0]);
    }

    /// Upstream filtering_test.go, List defaulting: a DoNotSchedule default constraint filters pods without
    /// constraints of their own, with the owner's selector; without a resolvable owner PreFilter skips.
    #[test]
    fn list_defaults_with_do_not_schedule_filter() {
        let mut w = mars_with_replica_set();
        let listed = list_plugin(
            r#"{"defaultingType": "List", "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"},
                {"maxSkew": 2, "topologyKey": "rack", "whenUnsatisfiable": "ScheduleAnyway"}]}"#,
            &mut w,
        );
        w.run(0, owned_by_rs1("m0")).run(0, owned_by_rs1("m1")).run(1, owned_by_rs1("m2"));
        let p = w.pod(owned_by_rs1("p"));
        let skewed = format!("Unschedulable: {ERR_REASON_CONSTRAINTS_NOT_MATCH}");
        // Per host: 2, 1, 0, 0; min 0; self 1: a 3 > 1, b 2 > 1, c and d 1.
        assert_eq!(codes(&w.filter(listed.clone(), &p)), [skewed.clone(), skewed, "ok".to_string(), "ok".to_string()]);
        let mut orphan = owned_by_rs1("orphan");
        orphan.def.owner.as_mut().unwrap().name = "rs2".into();
        let orphan = w.pod(orphan);
        assert_eq!(codes(&w.filter(listed, &orphan)), ["ok"; 4]);
        // System defaults are ScheduleAnyway only: no filtering.
        assert_eq!(codes(&w.filter(plugin(), &p)), ["ok"; 4]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// The per-domain totals kept in step with the cluster give the verdicts of a recount from scratch
        /// (done here by hand), and the scores of a fresh plugin, after any sequence of pods added, removed
        /// and marked terminating; pods nominated to nodes, added through AddPod as the scheduler's
        /// two-pass filter does, count as if bound.
        #[test]
        fn remembered_counts_equal_a_recount(ops in proptest::collection::vec((0usize..6, 0u8..6, 0u8..4), 1..60)) {
            // n5 has no zone: it counts nowhere and is unresolvable for the hard constraint.
            let mut w = World::new((0..6).map(|i| if i == 5 { node("n5") } else { node(&format!("n{i}")).label(ZONE, &format!("z{}", i % 3)) }).collect());
            let long_lived: Arc<dyn Plugin> = plugin();
            let mut bound = Vec::new();
            let mut nominated: Vec<(Pod, usize)> = Vec::new();
            let hard = constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule);
            let soft = constraint(ZONE, 2, WhenUnsatisfiable::ScheduleAnyway);
            for (step, (node_idx, kind, action)) in ops.into_iter().enumerate() {
                match action {
                    0 if !bound.is_empty() => {
                        w.cluster.remove_pod(bound.remove(step % bound.len()));
                    }
                    1 if !bound.is_empty() => {
                        w.cluster.set_terminating(bound[step % bound.len()]);
                    }
                    _ => {
                        let p = match kind {
                            0 | 4 => web(&format!("p{step}")),
                            1 => web(&format!("p{step}")).namespace("other"),
                            2 => pod(&format!("p{step}")).label("app", "db"),
                            _ => spreading(&format!("p{step}"), vec![hard.clone()]),
                        };
                        let compiled = w.pod(p);
                        if action == 2 && nominated.len() < 4 {
                            nominated.push((compiled, node_idx));
                        } else {
                            bound.push(w.cluster.add_pod(compiled, w.nodes[node_idx]));
                        }
                    }
                }
                let p = w.pod(spreading("new", vec![hard.clone(), soft.clone()]));
                proptest::prop_assert_eq!(codes(&w.filter(long_lived.clone(), &p)), codes(&w.filter(plugin(), &p)));
                proptest::prop_assert_eq!(w.score(long_lived.clone(), &p).unwrap(), w.score(plugin(), &p).unwrap());
                proptest::prop_assert_eq!(filter_with_nominated(&w, long_lived.clone(), &p, &nominated), recount_verdicts(&w, &p, &nominated));
            }
        }
    }

    /// PreFilter, AddPod for each nominated pod, then Filter on every node.
    fn filter_with_nominated(w: &World, plugin: Arc<dyn Plugin>, p: &Pod, nominated: &[(Pod, usize)]) -> Vec<String> {
        let points = plugin.extension_points();
        let cx = CycleContext::new(&w.cluster);
        let mut state = StateSlot::default();
        let pre = points.pre_filter.as_ref().unwrap().pre_filter(&cx, p, &mut state);
        assert!(pre.status.is_success(), "{}", pre.status);
        for (added, idx) in nominated {
            let status = points.pre_filter_extensions.as_ref().unwrap().add_pod(&cx, p, added, w.cluster.node(w.nodes[*idx]), &mut state);
            assert!(status.is_success());
        }
        let filter = points.filter.unwrap();
        let verdicts: Vec<Status> = w.nodes.iter().map(|&n| filter.filter(&cx, p, w.cluster.node(n), &state)).collect();
        codes(&verdicts)
    }

    /// The hard zone constraint (maxSkew 1, app=web in the default namespace) recounted from the cluster's
    /// pods and the nominated ones: per zone the non-terminating matching pods, the smallest count over the
    /// zones, and the skew the pod (which matches itself) would make on each node.
    fn recount_verdicts(w: &World, p: &Pod, nominated: &[(Pod, usize)]) -> Vec<String> {
        let zone_key = w.cluster.interner().get(ZONE).unwrap();
        let zone_of = |idx: usize| w.cluster.node(w.nodes[idx]).node.labels.get(zone_key);
        let matches = |q: &Pod| q.namespace == p.namespace && p.topology_spread_constraints[0].selector.matches(&q.labels);
        let mut counts: HashMap<Symbol, i64> = HashMap::default();
        for idx in 0..w.nodes.len() {
            if let Some(zone) = zone_of(idx) {
                let node = w.cluster.node(w.nodes[idx]);
                let bound = node.pods.iter().filter_map(|&id| w.cluster.pod(id)).filter(|b| !b.terminating && matches(&b.pod)).count();
                *counts.entry(zone).or_insert(0) += bound as i64;
            }
        }
        for (q, idx) in nominated {
            if let Some(zone) = zone_of(*idx).filter(|_| matches(q)) {
                *counts.entry(zone).or_insert(0) += 1;
            }
        }
        let min = counts.values().copied().min().unwrap_or(0);
        let verdicts: Vec<Status> = (0..w.nodes.len())
            .map(|idx| match zone_of(idx) {
                None => Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH),
                Some(zone) if counts[&zone] + 1 - min > 1 => Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH),
                Some(_) => Status::success(),
            })
            .collect();
        codes(&verdicts)
    }

    #[test]
    fn arguments_are_checked() {
        let check = |json: &str| {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            PodTopologySpread::new(&PluginArgs::new("PodTopologySpread", Some(&value), "args"), &mut Interner::new())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let constraint = |fields: &str| format!(r#"{{"defaultingType": "List", "defaultConstraints": [{fields}]}}"#);
        assert_eq!(check(&constraint(r#"{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}"#)), Ok(()));
        let cases = [
            (
                r#"{"defaultingType": "Sometimes"}"#.to_string(),
                r#"args.defaultingType: Unsupported value: "Sometimes": supported values: "System", "List""#,
            ),
            (
                r#"{"defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]}"#.to_string(),
                r#"args.defaultingType: Invalid value: "System": when .defaultConstraints are not empty"#,
            ),
            (
                constraint(r#"{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}"#),
                "args.defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf)",
            ),
            (
                constraint(r#"{"maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"}"#),
                "args.defaultConstraints[0].topologyKey: Required value: can not be empty",
            ),
            (
                constraint(r#"{"maxSkew": 1, "topologyKey": "zone"}"#),
                "args.defaultConstraints[0].whenUnsatisfiable: Required value: can not be empty",
            ),
            (
                constraint(r#"{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Never"}"#),
                r#"args.defaultConstraints[0].whenUnsatisfiable: Unsupported value: "Never": supported values: "DoNotSchedule", "ScheduleAnyway""#,
            ),
            (
                constraint(r#"{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {}}"#),
                "args.defaultConstraints[0].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod",
            ),
            (
                constraint(
                    r#"{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}, {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}"#,
                ),
                r#"args.defaultConstraints[1]: Duplicate value: "{zone, ScheduleAnyway}""#,
            ),
        ];
        for (json, want) in cases {
            assert_eq!(check(&json).unwrap_err(), want, "{json}");
        }
    }
}
