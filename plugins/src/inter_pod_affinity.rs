//! InterPodAffinity (PreFilter, Filter, PreScore, Score, NormalizeScore): places a pod with or away from
//! the pods its `podAffinity`/`podAntiAffinity` terms select, and keeps existing pods' anti-affinity.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/interpodaffinity/{filtering,scoring,plugin}.go`,
//! as summarised in the project's reference §3.6.
//!
//! - PreFilter: the pods matching all the pod's required affinity terms, and those matching each required
//!   anti-affinity term, per topology domain; the existing pods' required anti-affinity terms that match the
//!   pod, per domain. Skip when the pod has no required terms and no existing term matches it.
//! - Filter, in order: every required affinity term's key on the node and a matching pod in the node's
//!   domain (unless no pod anywhere matches and the pod matches its own terms: the first of a group),
//!   else `UnschedulableAndUnresolvable`; no pod matching a required anti-affinity term in the node's
//!   domain, else `Unschedulable`; no existing pod whose required anti-affinity term matches the pod in the
//!   node's domain, else `Unschedulable`.
//! - PreScore/Score: per topology domain, `+w` per pod matching a preferred affinity term of weight `w`,
//!   `−w` per pod matching a preferred anti-affinity term, `+hardPodAffinityWeight` per existing pod whose
//!   required affinity term matches the pod, `±w` per existing pod whose preferred (anti-)affinity term
//!   matches the pod; a node scores the sum over the domains it is in. NormalizeScore: min–max to 0–100.
//!
//! Upstream recomputes these counts from every pod (with affinity) at each cycle, which is why its
//! scheduler_perf floors for these workloads are 35–60 pods/s at 5,000 nodes. Here they are kept between
//! cycles per (selector, topology key, domain) and per (existing term, domain), and brought up to date by
//! visiting only the nodes whose pods changed since ([`Cluster::nodes_changed_since`]): a cycle costs in
//! proportion to the pod's terms and the nodes it filters or scores.

use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use foldhash::HashMap;

use crate::tables::{Cursor, NodeTable};
use serde::Deserialize;
use smallvec::SmallVec;

use scheduler_core::{
    AffinityTerm, Cluster, ConfigError, CycleContext, ExtensionPoints, FilterPlugin, LabelSelector, Labels, MAX_NODE_SCORE, NodeInfo,
    Plugin, PluginArgs, Pod, PreFilterExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin, StateSlot, Status, Symbol,
};

/// Upstream's Filter reason for a node failing the pod's required affinity.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// Upstream's Filter reason for a node failing the pod's required anti-affinity.
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod anti-affinity rules";
/// Upstream's Filter reason for a node where an existing pod's anti-affinity excludes the pod.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Upstream's default `hardPodAffinityWeight`.
pub const DEFAULT_HARD_POD_AFFINITY_WEIGHT: i32 = 1;

/// The plugin's arguments (`InterPodAffinityArgs`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InterPodAffinityArgs {
    #[serde(default)]
    hard_pod_affinity_weight: Option<i32>,
    #[serde(default)]
    ignore_preferred_terms_of_existing_pods: bool,
}

/// Inter-pod affinity and anti-affinity.
#[derive(Debug)]
pub struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
    ignore_preferred_terms_of_existing_pods: bool,
    index: RwLock<Index>,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity {
            hard_pod_affinity_weight: i64::from(DEFAULT_HARD_POD_AFFINITY_WEIGHT),
            ignore_preferred_terms_of_existing_pods: false,
            index: RwLock::default(),
        }
    }
}

impl InterPodAffinity {
    /// Builds the plugin from its arguments, validated as upstream's `ValidateInterPodAffinityArgs`.
    pub fn new(args: &PluginArgs<'_>) -> Result<InterPodAffinity, ConfigError> {
        let parsed: InterPodAffinityArgs = args.decode()?;
        let weight = parsed.hard_pod_affinity_weight.unwrap_or(DEFAULT_HARD_POD_AFFINITY_WEIGHT);
        if !(0..=100).contains(&weight) {
            return Err(ConfigError::new(
                format!("{}.hardPodAffinityWeight", args.path()),
                format!("Invalid value: {weight}: not in valid range [0, 100]"),
            ));
        }
        Ok(InterPodAffinity {
            hard_pod_affinity_weight: i64::from(weight),
            ignore_preferred_terms_of_existing_pods: parsed.ignore_preferred_terms_of_existing_pods,
            index: RwLock::default(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A poisoned lock only means another thread panicked while reading or syncing: every table entry is
        // stamped with what it was computed from, and a half-synced table is synced again.
        self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &str {
        "InterPodAffinity"
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

/// Which namespaces a term of the pod being scheduled selects, once its `namespaceSelector` is resolved
/// (upstream `mergeAffinityTermNamespacesIfNotEmpty`: an empty selector `{}` is kept as "every namespace").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Namespaces {
    All,
    Names(SmallVec<[Symbol; 2]>),
}

/// A term of the pod being scheduled as a matcher of existing pods (upstream `AffinityTerm.Matches` with
/// the namespace selector merged into names).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PodMatcher {
    namespaces: Namespaces,
    selector: LabelSelector,
}

impl PodMatcher {
    fn new(cluster: &Cluster, incoming: &Pod, term: &AffinityTerm) -> PodMatcher {
        let namespaces = match &term.namespace_selector {
            LabelSelector::All(reqs) if reqs.is_empty() => Namespaces::All,
            LabelSelector::Nothing => Namespaces::Names(term.namespaces.iter().copied().collect()),
            selector => {
                let mut names: SmallVec<[Symbol; 2]> = term.namespaces.iter().copied().collect();
                let own = cluster.namespace_labels(incoming.namespace);
                let listed = cluster.namespaces().chain(std::iter::once((incoming.namespace, &own)));
                names.extend(listed.filter(|(_, labels)| selector.matches(labels)).map(|(name, _)| name));
                names.sort_unstable();
                names.dedup();
                Namespaces::Names(names)
            }
        };
        PodMatcher { namespaces, selector: term.selector.clone() }
    }

    #[inline]
    fn matches(&self, pod: &Pod) -> bool {
        let in_namespace = match &self.namespaces {
            Namespaces::All => true,
            Namespaces::Names(names) => names.contains(&pod.namespace),
        };
        in_namespace && self.selector.matches(&pod.labels)
    }
}

fn adjust(map: &mut HashMap<Symbol, u32>, key: Symbol, delta: i64) {
    let entry = map.entry(key).or_insert(0);
    *entry = (i64::from(*entry) + delta) as u32;
    if *entry == 0 {
        map.remove(&key);
    }
}

/// Per node and per topology domain, how many pods match all of a list of matchers.
#[derive(Debug, Default)]
struct SelectorTable {
    matchers: SmallVec<[PodMatcher; 1]>,
    cursor: Cursor,
    /// Per node (by index): the node generation the count was taken at, and the count.
    per_node: Vec<(u64, u32)>,
    /// Per topology key asked for: the non-zero counts per value of the key (nodes without it excluded).
    domains: Vec<(Symbol, HashMap<Symbol, u32>)>,
}

impl SelectorTable {
    /// The index in `domains` of topology key `key`, computed from the per-node counts the first time.
    fn domain(&mut self, cluster: &Cluster, key: Symbol) -> usize {
        if let Some(idx) = self.domains.iter().position(|(k, _)| *k == key) {
            return idx;
        }
        let mut map = HashMap::default();
        for &id in cluster.node_order() {
            let node = cluster.node(id);
            let count = self.per_node.get(id.index()).map_or(0, |&(_, c)| c);
            if count > 0
                && let Some(value) = node.node.labels.get(key)
            {
                adjust(&mut map, value, i64::from(count));
            }
        }
        self.domains.push((key, map));
        self.domains.len() - 1
    }
    fn count(&self, cluster: &Cluster, node: &NodeInfo) -> u32 {
        node.pods.iter().filter_map(|&id| cluster.pod(id)).filter(|b| self.matchers.iter().all(|m| m.matches(&b.pod))).count() as u32
    }
}

impl NodeTable for SelectorTable {
    fn cursor(&mut self) -> &mut Cursor {
        &mut self.cursor
    }

    fn reset(&mut self) {
        self.per_node.clear();
        self.domains.iter_mut().for_each(|(_, map)| map.clear());
    }

    fn update(&mut self, cluster: &Cluster, node: &NodeInfo) {
        let idx = node.id.index();
        if self.per_node.len() <= idx {
            self.per_node.resize(idx + 1, (0, 0));
        }
        if self.per_node[idx].0 == node.generation {
            return;
        }
        let new = self.count(cluster, node);
        let old = std::mem::replace(&mut self.per_node[idx], (node.generation, new)).1;
        if new != old {
            for (key, map) in &mut self.domains {
                if let Some(value) = node.node.labels.get(*key) {
                    adjust(map, value, i64::from(new) - i64::from(old));
                }
            }
        }
    }
}

/// The kinds of an existing pod's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TermKind {
    Required,
    RequiredAnti,
    Preferred,
    PreferredAnti,
}

impl TermKind {
    const ALL: [TermKind; 4] = [TermKind::Required, TermKind::RequiredAnti, TermKind::Preferred, TermKind::PreferredAnti];
}

/// Existing pods' terms that are the same (kind, weight, term) are counted together.
#[derive(Clone, Debug)]
struct GroupKey {
    kind: TermKind,
    weight: i32,
    term: AffinityTerm,
}

#[derive(Debug)]
struct Group {
    key: GroupKey,
    /// Per value of the term's topology key, how many (pod, term) pairs of the group sit on nodes with it.
    domains: HashMap<Symbol, u32>,
}

/// A node's (group, pairs) sorted by group.
type GroupCounts = SmallVec<[(u32, u32); 2]>;

/// The terms of existing pods, grouped, per node and per domain of each group's topology key.
#[derive(Debug, Default)]
struct TermTable {
    cursor: Cursor,
    groups: Vec<Group>,
    /// Group ids by the hash of their key, so that finding a pod's group clones nothing.
    ids: HashMap<u64, SmallVec<[u32; 1]>>,
    /// Group ids by kind, in first-seen order.
    by_kind: [Vec<u32>; 4],
    /// Per node: the generation it was counted at, and (group, pairs) sorted by group.
    per_node: Vec<(u64, GroupCounts)>,
}

impl TermTable {
    fn group(&mut self, kind: TermKind, weight: i32, term: &AffinityTerm) -> u32 {
        let hash = self.ids.hasher().hash_one((kind, weight, term));
        let same = |g: &Group| g.key.kind == kind && g.key.weight == weight && g.key.term == *term;
        let candidates = self.ids.entry(hash).or_default();
        if let Some(&id) = candidates.iter().find(|&&id| same(&self.groups[id as usize])) {
            return id;
        }
        let id = self.groups.len() as u32;
        candidates.push(id);
        self.by_kind[kind as usize].push(id);
        self.groups.push(Group { key: GroupKey { kind, weight, term: term.clone() }, domains: HashMap::default() });
        id
    }

    /// The groups of `kind` with pairs somewhere whose term matches the incoming pod.
    fn matching<'a>(&'a self, kind: TermKind, pod: &'a Pod, ns_labels: &'a Labels) -> impl Iterator<Item = u32> + 'a {
        self.by_kind[kind as usize].iter().copied().filter(move |&g| {
            let g = &self.groups[g as usize];
            !g.domains.is_empty() && g.key.term.matches(pod.namespace, &pod.labels, ns_labels)
        })
    }
}

impl NodeTable for TermTable {
    fn cursor(&mut self) -> &mut Cursor {
        &mut self.cursor
    }

    /// Starts over, which also forgets groups no pod has any more.
    fn reset(&mut self) {
        let cursor = self.cursor;
        *self = TermTable { cursor, ..TermTable::default() };
    }

    fn update(&mut self, cluster: &Cluster, node: &NodeInfo) {
        let idx = node.id.index();
        if self.per_node.len() <= idx {
            self.per_node.resize(idx + 1, (0, SmallVec::new()));
        }
        if self.per_node[idx].0 == node.generation {
            return;
        }
        let mut new = GroupCounts::new();
        for bound in node.pods.iter().filter_map(|&id| cluster.pod(id)) {
            let Some(affinity) = bound.pod.affinity.as_deref() else { continue };
            let required = [(TermKind::Required, &affinity.required_affinity), (TermKind::RequiredAnti, &affinity.required_anti_affinity)];
            for (kind, terms) in required {
                for term in terms {
                    new.push((self.group(kind, 0, term), 1));
                }
            }
            let preferred =
                [(TermKind::Preferred, &affinity.preferred_affinity), (TermKind::PreferredAnti, &affinity.preferred_anti_affinity)];
            for (kind, terms) in preferred {
                for w in terms {
                    new.push((self.group(kind, w.weight, &w.term), 1));
                }
            }
        }
        new.sort_unstable();
        new.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 += later.1;
            }
            same
        });
        let old = std::mem::replace(&mut self.per_node[idx], (node.generation, SmallVec::new())).1;
        let mut apply = |group: u32, delta: i64| {
            let g = &mut self.groups[group as usize];
            if let Some(value) = node.node.labels.get(g.key.term.topology_key) {
                adjust(&mut g.domains, value, delta);
            }
        };
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(&(go, co)), Some(&(gn, cn))) if go == gn => {
                    if co != cn {
                        apply(go, i64::from(cn) - i64::from(co));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(&(go, co)), Some(&(gn, _))) if go < gn => {
                    apply(go, -i64::from(co));
                    i += 1;
                }
                (Some(&(go, co)), None) => {
                    apply(go, -i64::from(co));
                    i += 1;
                }
                (_, Some(&(gn, cn))) => {
                    apply(gn, i64::from(cn));
                    j += 1;
                }
                (None, None) => unreachable!("loop condition"),
            }
        }
        self.per_node[idx].1 = new;
    }
}

/// What the plugin keeps between cycles.
#[derive(Debug, Default)]
struct Index {
    selectors: Vec<SelectorTable>,
    selector_ids: HashMap<SmallVec<[PodMatcher; 1]>, u32>,
    terms: TermTable,
}

/// Selector tables remembered at most; beyond, PreFilter starts the tables over.
const SELECTORS_REMEMBERED: usize = 256;

impl Index {
    /// The table of pods matching all `matchers`, brought up to date.
    fn selector(&mut self, cluster: &Cluster, matchers: SmallVec<[PodMatcher; 1]>) -> u32 {
        let id = match self.selector_ids.get(&matchers) {
            Some(&id) => id,
            None => {
                let id = self.selectors.len() as u32;
                self.selector_ids.insert(matchers.clone(), id);
                self.selectors.push(SelectorTable { matchers, ..SelectorTable::default() });
                id
            }
        };
        self.selectors[id as usize].sync(cluster);
        id
    }

    /// The table of pods matching `term`, and the index of its counts per value of the term's key.
    fn term_counts(&mut self, cluster: &Cluster, pod: &Pod, term: &AffinityTerm) -> Counts {
        let table = self.selector(cluster, SmallVec::from_elem(PodMatcher::new(cluster, pod, term), 1));
        let domain = self.selectors[table as usize].domain(cluster, term.topology_key) as u32;
        Counts::Selector { table, domain }
    }
}

/// Pods per value of a topology key: a selector table's domain, or an existing-term group.
#[derive(Clone, Copy, Debug)]
enum Counts {
    Selector { table: u32, domain: u32 },
    Group(u32),
}

/// Counts resolved for a cycle: the topology key and the non-zero counts per value.
#[derive(Clone, Copy)]
struct View<'a> {
    key: Symbol,
    counts: &'a HashMap<Symbol, u32>,
}

impl<'a> View<'a> {
    /// How many counted pods are in `node`'s domain; `None` when the node lacks the key.
    #[inline]
    fn in_domain(self, node: &NodeInfo) -> Option<u32> {
        let value = node.node.labels.get(self.key)?;
        Some(self.counts.get(&value).copied().unwrap_or(0))
    }
}

impl Counts {
    /// The counts as they were when the cycle's PreFilter or PreScore looked (`at`); `None` when the
    /// tables have since been moved to another cluster state (a clone of the scheduler, sharing this
    /// plugin, scheduling at the same time on another thread).
    fn view(self, index: &Index, at: (u64, u64)) -> Option<View<'_>> {
        match self {
            Counts::Selector { table, domain } => {
                let t = index.selectors.get(table as usize).filter(|t| (t.cursor.state, t.cursor.nodes) == at)?;
                t.domains.get(domain as usize).map(|(key, counts)| View { key: *key, counts })
            }
            Counts::Group(g) => {
                let terms = &index.terms;
                let group = terms.groups.get(g as usize).filter(|_| (terms.cursor.state, terms.cursor.nodes) == at)?;
                Some(View { key: group.key.term.topology_key, counts: &group.domains })
            }
        }
    }
}

/// The message when the remembered counts moved on during a cycle.
const MOVED: &str = "InterPodAffinity: the counts this cycle read were moved to another cluster state by a concurrent cycle of a \
                     scheduler sharing the plugin (clone the scheduler per thread only to use the clones one at a time)";

/// PreFilter state.
#[derive(Clone, Debug, Default)]
struct FilterState {
    /// The cluster's (state, node set) generations the counts were taken at.
    at: (u64, u64),
    /// Pods matching all required affinity terms, one entry per term (with its topology key).
    affinity: SmallVec<[Counts; 1]>,
    /// Whether no pod matching all required affinity terms is on a node with the terms' keys.
    affinity_counts_empty: bool,
    /// Whether the pod matches all its own required affinity terms.
    matches_own_affinity: bool,
    /// Pods matching each required anti-affinity term.
    anti_affinity: SmallVec<[Counts; 1]>,
    /// Existing pods' required anti-affinity groups that match the pod.
    existing_anti_affinity: SmallVec<[Counts; 2]>,
    /// What simulated pod adds and removals changed (nominated pods, preemption), on top of the counts.
    overlay: Option<Box<Overlay>>,
}

/// Changes to a [`FilterState`]'s counts by upstream's `updateWithPod` (PreFilterExtensions), per
/// (topology key, value): upstream keeps its counts in maps by topology pair, which is what these add to.
#[derive(Clone, Debug, Default)]
struct Overlay {
    /// Per required affinity term (aligned with `FilterState::affinity`).
    affinity: SmallVec<[HashMap<Symbol, i64>; 1]>,
    /// The sum of the affinity counts before the changes, and the changes' sum: upstream's
    /// "no pod matches the terms anywhere" is this total being 0.
    affinity_total: (i64, i64),
    /// Per required anti-affinity term (aligned with `FilterState::anti_affinity`).
    anti_affinity: SmallVec<[HashMap<Symbol, i64>; 1]>,
    /// Existing pods' anti-affinity terms matching the pod, per (key, value).
    existing: HashMap<(Symbol, Symbol), i64>,
}

/// A [`FilterState`] resolved against the index for a batch of nodes.
struct FilterViews<'a> {
    affinity: SmallVec<[View<'a>; 1]>,
    affinity_counts_empty: bool,
    matches_own_affinity: bool,
    anti_affinity: SmallVec<[View<'a>; 1]>,
    existing_anti_affinity: SmallVec<[View<'a>; 2]>,
    overlay: Option<&'a Overlay>,
}

impl FilterState {
    fn views<'a>(&self, index: &'a Index) -> Option<FilterViews<'a>> {
        Some(FilterViews {
            affinity: self.affinity.iter().map(|c| c.view(index, self.at)).collect::<Option<_>>()?,
            affinity_counts_empty: self.affinity_counts_empty,
            matches_own_affinity: self.matches_own_affinity,
            anti_affinity: self.anti_affinity.iter().map(|c| c.view(index, self.at)).collect::<Option<_>>()?,
            existing_anti_affinity: self.existing_anti_affinity.iter().map(|c| c.view(index, self.at)).collect::<Option<_>>()?,
            overlay: None,
        })
    }
}

fn generations(cluster: &Cluster) -> (u64, u64) {
    (cluster.state_generation(), cluster.nodes_generation())
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, cx: &CycleContext<'_>, pod: &Pod, state: &mut StateSlot) -> PreFilterResult {
        let cluster = cx.cluster;
        let affinity = pod.affinity.as_deref();
        let has_required = affinity.is_some_and(|a| !a.required_affinity.is_empty() || !a.required_anti_affinity.is_empty());
        if !has_required && cluster.n_pods_with_required_anti_affinity() == 0 {
            return Status::skip().into();
        }
        let mut index = self.write();
        if index.selectors.len() > SELECTORS_REMEMBERED {
            index.selectors.clear();
            index.selector_ids.clear();
        }
        index.terms.sync(cluster);
        let ns_labels = cluster.namespace_labels(pod.namespace);
        let existing_anti_affinity: SmallVec<[Counts; 2]> =
            index.terms.matching(TermKind::RequiredAnti, pod, &ns_labels).map(Counts::Group).collect();
        let mut s = FilterState { at: generations(cluster), existing_anti_affinity, ..FilterState::default() };
        let Some(affinity) = affinity.filter(|_| has_required) else {
            // Upstream skips when `existingAntiAffinityCounts` is empty: no existing pod's required
            // anti-affinity term that matches the pod counts on a node with its key. Nominated pods do not
            // count there (the Skip then also leaves their terms out of the nominated-pods pass, as upstream).
            let no_counts = s.existing_anti_affinity.iter().all(|c| c.view(&index, s.at).is_none_or(|v| v.counts.is_empty()));
            if no_counts {
                return Status::skip().into();
            }
            state.put(s);
            return Status::success().into();
        };
        if !affinity.required_affinity.is_empty() {
            let matchers: SmallVec<[PodMatcher; 1]> = affinity.required_affinity.iter().map(|t| PodMatcher::new(cluster, pod, t)).collect();
            s.matches_own_affinity = matchers.iter().all(|m| m.matches(pod));
            let table = index.selector(cluster, matchers);
            for term in &affinity.required_affinity {
                let domain = index.selectors[table as usize].domain(cluster, term.topology_key) as u32;
                s.affinity.push(Counts::Selector { table, domain });
            }
            s.affinity_counts_empty = s.affinity.iter().all(|c| c.view(&index, s.at).is_none_or(|v| v.counts.is_empty()));
        }
        for term in &affinity.required_anti_affinity {
            let counts = index.term_counts(cluster, pod, term);
            s.anti_affinity.push(counts);
        }
        state.put(s);
        Status::success().into()
    }
}

impl FilterViews<'_> {
    fn check(&self, node: &NodeInfo) -> Status {
        if let Some(overlay) = self.overlay {
            return self.check_with(overlay, node);
        }
        // Upstream `satisfyPodAffinity`.
        let mut pods_exist = true;
        for view in &self.affinity {
            match view.in_domain(node) {
                None => return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH),
                Some(0) => pods_exist = false,
                Some(_) => {}
            }
        }
        if !(pods_exist || self.affinity_counts_empty && self.matches_own_affinity) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        // Upstream `satisfyPodAntiAffinity`.
        if self.anti_affinity.iter().any(|v| v.in_domain(node).is_some_and(|n| n > 0)) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        // Upstream `satisfyExistingPodsAntiAffinity`.
        if self.existing_anti_affinity.iter().any(|v| v.in_domain(node).is_some_and(|n| n > 0)) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        Status::success()
    }
}

impl FilterViews<'_> {
    /// [`FilterViews::check`] with the counts changed by `overlay`.
    fn check_with(&self, overlay: &Overlay, node: &NodeInfo) -> Status {
        let with = |view: &View<'_>, deltas: Option<&HashMap<Symbol, i64>>| -> Option<i64> {
            let value = node.node.labels.get(view.key)?;
            let base = i64::from(view.counts.get(&value).copied().unwrap_or(0));
            Some(base + deltas.and_then(|d| d.get(&value)).copied().unwrap_or(0))
        };
        let mut pods_exist = true;
        for (i, view) in self.affinity.iter().enumerate() {
            match with(view, overlay.affinity.get(i)) {
                None => return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH),
                Some(n) if n <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        let counts_empty = overlay.affinity_total.0 + overlay.affinity_total.1 == 0;
        if !(pods_exist || counts_empty && self.matches_own_affinity) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        if self.anti_affinity.iter().enumerate().any(|(i, v)| with(v, overlay.anti_affinity.get(i)).is_some_and(|n| n > 0)) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        // Per topology pair of the node: the groups with that key and the changes.
        let mut keys: SmallVec<[Symbol; 4]> = self.existing_anti_affinity.iter().map(|v| v.key).collect();
        keys.extend(overlay.existing.keys().map(|&(k, _)| k));
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let Some(value) = node.node.labels.get(key) else { continue };
            let groups: i64 = self
                .existing_anti_affinity
                .iter()
                .filter(|v| v.key == key)
                .map(|v| i64::from(v.counts.get(&value).copied().unwrap_or(0)))
                .sum();
            if groups + overlay.existing.get(&(key, value)).copied().unwrap_or(0) > 0 {
                return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
            }
        }
        Status::success()
    }
}

impl PreFilterExtensions for InterPodAffinity {
    fn add_pod(&self, cx: &CycleContext<'_>, pod: &Pod, added: &Pod, node: &NodeInfo, state: &mut StateSlot) -> Status {
        self.update_with_pod(cx, pod, added, node, state, 1)
    }

    fn remove_pod(&self, cx: &CycleContext<'_>, pod: &Pod, removed: &Pod, node: &NodeInfo, state: &mut StateSlot) -> Status {
        self.update_with_pod(cx, pod, removed, node, state, -1)
    }
}

impl InterPodAffinity {
    /// Upstream `preFilterState.updateWithPod`: `updated` (with `multiplier` +1 added, −1 removed) on `node`
    /// changes the counts of the pod's required terms it matches, and of its own required anti-affinity
    /// terms that match the pod.
    fn update_with_pod(
        &self,
        cx: &CycleContext<'_>,
        pod: &Pod,
        updated: &Pod,
        node: &NodeInfo,
        state: &mut StateSlot,
        multiplier: i64,
    ) -> Status {
        let Some(s) = state.get_mut::<FilterState>() else { return Status::error(FILTER_STATE_MISSING) };
        let cluster = cx.cluster;
        let mut overlay = match s.overlay.take() {
            Some(overlay) => overlay,
            None => {
                let index = self.read();
                let Some(views) = s.views(&index) else { return Status::error(MOVED) };
                let base: i64 = views.affinity.iter().map(|v| v.counts.values().map(|&n| i64::from(n)).sum::<i64>()).sum();
                Box::new(Overlay {
                    affinity: SmallVec::from_elem(HashMap::default(), s.affinity.len()),
                    affinity_total: (base, 0),
                    anti_affinity: SmallVec::from_elem(HashMap::default(), s.anti_affinity.len()),
                    existing: HashMap::default(),
                })
            }
        };
        let bump = |map: &mut HashMap<Symbol, i64>, key: Symbol| -> i64 {
            match node.node.labels.get(key) {
                Some(value) => {
                    *map.entry(value).or_insert(0) += multiplier;
                    multiplier
                }
                None => 0,
            }
        };
        // The updated pod's required anti-affinity terms that match the pod (upstream
        // `existingAntiAffinityCounts.updateWithAntiAffinityTerms`, with the pod's namespace labels).
        if let Some(theirs) = updated.affinity.as_deref().filter(|a| !a.required_anti_affinity.is_empty()) {
            let ns_labels = cluster.namespace_labels(pod.namespace);
            for term in theirs.required_anti_affinity.iter().filter(|t| t.matches(pod.namespace, &pod.labels, &ns_labels)) {
                if let Some(value) = node.node.labels.get(term.topology_key) {
                    *overlay.existing.entry((term.topology_key, value)).or_insert(0) += multiplier;
                }
            }
        }
        if let Some(mine) = pod.affinity.as_deref() {
            // `affinityCounts.updateWithAffinityTerms`: only a pod matching every term counts.
            if !mine.required_affinity.is_empty()
                && mine.required_affinity.iter().all(|t| PodMatcher::new(cluster, pod, t).matches(updated))
            {
                for (i, term) in mine.required_affinity.iter().enumerate() {
                    let changed = bump(&mut overlay.affinity[i], term.topology_key);
                    overlay.affinity_total.1 += changed;
                }
            }
            // `antiAffinityCounts.updateWithAntiAffinityTerms`.
            for (i, term) in mine.required_anti_affinity.iter().enumerate() {
                if PodMatcher::new(cluster, pod, term).matches(updated) {
                    bump(&mut overlay.anti_affinity[i], term.topology_key);
                }
            }
        }
        s.overlay = Some(overlay);
        Status::success()
    }
}

const FILTER_STATE_MISSING: &str = "reading \"PreFilterInterPodAffinity\" from cycleState: not found";
const SCORE_STATE_MISSING: &str = "reading \"PreScoreInterPodAffinity\" from cycleState: not found";

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, _cx: &CycleContext<'_>, _pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Status {
        let Some(s) = state.get::<FilterState>() else { return Status::error(FILTER_STATE_MISSING) };
        let index = self.read();
        match s.views(&index) {
            Some(mut views) => {
                views.overlay = s.overlay.as_deref();
                views.check(node)
            }
            None => Status::error(MOVED),
        }
    }

    fn filter_nodes(&self, _cx: &CycleContext<'_>, _pod: &Pod, nodes: &[&NodeInfo], state: &StateSlot, rejected: &mut Vec<(u32, Status)>) {
        let index = self.read();
        let views = match state.get::<FilterState>().map(|s| (s.views(&index), s.overlay.as_deref())) {
            Some((Some(mut views), overlay)) => {
                views.overlay = overlay;
                views
            }
            problem => {
                let status = if problem.is_none() { Status::error(FILTER_STATE_MISSING) } else { Status::error(MOVED) };
                rejected.extend((0..nodes.len() as u32).map(|i| (i, status.clone())));
                return;
            }
        };
        for (idx, node) in nodes.iter().enumerate() {
            let status = views.check(node);
            if !status.is_success() {
                rejected.push((idx as u32, status));
            }
        }
    }
}

/// PreScore state: the counts that make up the node scores, each with its signed weight.
#[derive(Clone, Debug, Default)]
struct ScoreState {
    at: (u64, u64),
    terms: Vec<(i64, Counts)>,
}

impl ScoreState {
    fn views<'a>(&self, index: &'a Index) -> Result<Vec<(i64, View<'a>)>, Status> {
        self.terms.iter().map(|&(w, c)| c.view(index, self.at).map(|v| (w, v)).ok_or_else(|| Status::error(MOVED))).collect()
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(&self, cx: &CycleContext<'_>, pod: &Pod, nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        if nodes.is_empty() {
            return Status::success();
        }
        let cluster = cx.cluster;
        let affinity = pod.affinity.as_deref();
        let has_preferred = affinity.is_some_and(|a| a.has_preferred());
        if self.ignore_preferred_terms_of_existing_pods && !has_preferred {
            return Status::skip();
        }
        if !has_preferred && cluster.n_pods_with_affinity() == 0 {
            return Status::skip();
        }
        let mut index = self.write();
        index.terms.sync(cluster);
        let mut terms = Vec::new();
        if let Some(affinity) = affinity {
            for (sign, list) in [(1, &affinity.preferred_affinity), (-1, &affinity.preferred_anti_affinity)] {
                for w in list {
                    terms.push((sign * i64::from(w.weight), index.term_counts(cluster, pod, &w.term)));
                }
            }
        }
        let ns_labels = cluster.namespace_labels(pod.namespace);
        for kind in TermKind::ALL {
            let sign = match kind {
                TermKind::Required if self.hard_pod_affinity_weight > 0 => 1,
                TermKind::Preferred => 1,
                TermKind::PreferredAnti => -1,
                TermKind::Required | TermKind::RequiredAnti => continue,
            };
            for g in index.terms.matching(kind, pod, &ns_labels) {
                let weight = match kind {
                    TermKind::Required => self.hard_pod_affinity_weight,
                    _ => i64::from(index.terms.groups[g as usize].key.weight),
                };
                terms.push((sign * weight, Counts::Group(g)));
            }
        }
        let at = generations(cluster);
        // Upstream skips when no (topology key, value) got a contribution.
        if terms.iter().all(|&(_, counts)| counts.view(&index, at).is_none_or(|v| v.counts.is_empty())) {
            return Status::skip();
        }
        state.put(ScoreState { at, terms });
        Status::success()
    }
}

fn node_score(views: &[(i64, View<'_>)], node: &NodeInfo) -> i64 {
    views.iter().map(|&(weight, view)| weight * i64::from(view.in_domain(node).unwrap_or(0))).sum()
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, _cx: &CycleContext<'_>, _pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        let s = state.get::<ScoreState>().ok_or_else(|| Status::error(SCORE_STATE_MISSING))?;
        let index = self.read();
        Ok(node_score(&s.views(&index)?, node))
    }

    fn score_nodes(
        &self,
        _cx: &CycleContext<'_>,
        _pod: &Pod,
        nodes: &[&NodeInfo],
        state: &StateSlot,
        out: &mut [i64],
    ) -> Result<(), Status> {
        let s = state.get::<ScoreState>().ok_or_else(|| Status::error(SCORE_STATE_MISSING))?;
        let index = self.read();
        let views = s.views(&index)?;
        for (node, score) in nodes.iter().zip(out.iter_mut()) {
            *score = node_score(&views, node);
        }
        Ok(())
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize(&self, _cx: &CycleContext<'_>, _pod: &Pod, _nodes: &[&NodeInfo], state: &StateSlot, scores: &mut [i64]) -> Status {
        if state.get::<ScoreState>().is_none() {
            return Status::error(SCORE_STATE_MISSING);
        }
        // Upstream: int64(100 · (float64(s − min) / float64(max − min))), all 0 when max = min.
        let (min, max) = scores.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let diff = max.wrapping_sub(min);
        for score in scores.iter_mut() {
            let f = if diff > 0 { MAX_NODE_SCORE as f64 * ((*score - min) as f64 / diff as f64) } else { 0.0 };
            *score = f as i64;
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{HOST, World, ZONE};
    use scheduler_core::testing::{PodBuilder, affinity_term, node, pod};
    use scheduler_core::{LabelSelectorDef, NodeId, PodAffinityTermDef};

    fn plugin() -> Arc<dyn Plugin> {
        Arc::new(InterPodAffinity::default())
    }

    fn codes(statuses: &[Status]) -> Vec<String> {
        statuses.iter().map(|s| if s.is_success() { "ok".to_string() } else { format!("{:?}: {}", s.code(), s.message()) }).collect()
    }

    fn affinity_fail() -> String {
        format!("UnschedulableAndUnresolvable: {ERR_REASON_AFFINITY_RULES_NOT_MATCH}")
    }
    fn anti_fail() -> String {
        format!("Unschedulable: {ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH}")
    }
    fn existing_fail() -> String {
        format!("Unschedulable: {ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH}")
    }

    /// Zones a (a1, a2) and b (b1), and a node x without a zone.
    fn zones() -> World {
        World::new(vec![node("a1").label(ZONE, "a"), node("a2").label(ZONE, "a"), node("b1").label(ZONE, "b"), node("x")])
    }

    fn app(name: &str, value: &str) -> PodBuilder {
        pod(name).label("app", value)
    }

    #[test]
    fn required_affinity_needs_a_matching_pod_in_the_nodes_domain() {
        let mut w = zones();
        w.run(0, app("db", "db"));
        let p = w.pod(app("web", "web").required_pod_affinity(affinity_term(ZONE, &[("app", "db")])));
        // Zone a holds the db pod; zone b does not; x has no zone label.
        assert_eq!(codes(&w.filter(plugin(), &p)), ["ok", "ok", &affinity_fail(), &affinity_fail()]);
    }

    #[test]
    fn the_first_pod_of_a_self_affine_group_goes_anywhere_with_the_key() {
        let mut w = zones();
        w.run(0, app("other", "db"));
        let p = w.pod(app("web-0", "web").required_pod_affinity(affinity_term(ZONE, &[("app", "web")])));
        assert_eq!(codes(&w.filter(plugin(), &p)), ["ok", "ok", "ok", &affinity_fail()]);
        // A pod that does not match its own term gets no such pass.
        let q = w.pod(app("web-0", "api").required_pod_affinity(affinity_term(ZONE, &[("app", "web")])));
        assert_eq!(codes(&w.filter(plugin(), &q))[..3], [affinity_fail(), affinity_fail(), affinity_fail()]);
        // Matching pods only on a node without the key leave the counts empty: the pass still applies.
        w.run(3, app("web-x", "web"));
        assert_eq!(codes(&w.filter(plugin(), &p)), ["ok", "ok", "ok", &affinity_fail()]);
        // Once a matching pod sits in zone b, only zone b passes.
        w.run(2, app("web-b", "web"));
        assert_eq!(codes(&w.filter(plugin(), &p)), [affinity_fail(), affinity_fail(), "ok".to_string(), affinity_fail()]);
    }

    #[test]
    fn several_required_terms_count_pods_matching_all_of_them() {
        let mut w = zones();
        // Zone a has a db pod and a cache pod (neither matches both terms); zone b a pod matching both.
        w.run(0, app("db", "db")).run(1, pod("cache").label("tier", "cache"));
        w.run(2, app("both", "db").label("tier", "cache"));
        let p = w.pod(
            app("web", "web")
                .required_pod_affinity(affinity_term(ZONE, &[("app", "db")]))
                .required_pod_affinity(affinity_term(HOST, &[("tier", "cache")])),
        );
        assert_eq!(codes(&w.filter(plugin(), &p)), [affinity_fail(), affinity_fail(), "ok".to_string(), affinity_fail()]);
    }

    #[test]
    fn required_anti_affinity_and_the_existing_pods_anti_affinity() {
        let mut w = zones();
        w.run(0, app("web-0", "web"));
        let p = w.pod(app("web-1", "web").required_pod_anti_affinity(affinity_term(ZONE, &[("app", "web")])));
        // Zone a holds a web pod; x has no zone: anti-affinity does not apply there.
        assert_eq!(codes(&w.filter(plugin(), &p)), [anti_fail(), anti_fail(), "ok".to_string(), "ok".to_string()]);

        // Symmetry: a pod on b1 that refuses web pods on its host keeps a plain web pod off b1 only.
        w.run(2, app("loner", "db").required_pod_anti_affinity(affinity_term(HOST, &[("app", "web")])));
        let plain = w.pod(app("web-2", "web"));
        assert_eq!(codes(&w.filter(plugin(), &plain)), ["ok".to_string(), "ok".to_string(), existing_fail(), "ok".to_string()]);
        // A pod the existing term does not select is not affected, and without terms of its own is skipped.
        let other = w.pod(app("api", "api"));
        let cx = CycleContext::new(&w.cluster);
        let r = InterPodAffinity::default().pre_filter(&cx, &other, &mut StateSlot::default());
        assert!(r.status.is_skip());
    }

    #[test]
    fn failures_are_reported_in_upstreams_order() {
        let mut w = zones();
        w.run(0, app("db", "db")).run(2, app("web-0", "web"));
        w.run(2, app("guard", "guard").required_pod_anti_affinity(affinity_term(ZONE, &[("app", "web")])));
        // On b1: affinity fails first (no db in zone b) although both anti-affinity checks fail too.
        let p = w.pod(
            app("web-1", "web")
                .required_pod_affinity(affinity_term(ZONE, &[("app", "db")]))
                .required_pod_anti_affinity(affinity_term(ZONE, &[("app", "web")])),
        );
        assert_eq!(codes(&w.filter(plugin(), &p))[2], affinity_fail());
        // Without the affinity term: the pod's own anti-affinity before the existing pod's.
        let q = w.pod(app("web-1", "web").required_pod_anti_affinity(affinity_term(ZONE, &[("app", "web")])));
        assert_eq!(codes(&w.filter(plugin(), &q))[2], anti_fail());
        let r = w.pod(app("web-1", "web"));
        assert_eq!(codes(&w.filter(plugin(), &r))[2], existing_fail());
    }

    #[test]
    fn namespaces_and_namespace_selectors() {
        let mut w = zones();
        w.cluster.add_namespace("team-a", &[("team".into(), "a".into())]);
        w.cluster.add_namespace("team-b", &[("team".into(), "b".into())]);
        w.run(0, app("db-a", "db").namespace("team-a")).run(2, app("db-b", "db").namespace("team-b"));
        // Default: the pod's own namespace only.
        let own = w.pod(app("web", "web").namespace("team-b").required_pod_affinity(affinity_term(ZONE, &[("app", "db")])));
        assert_eq!(codes(&w.filter(plugin(), &own))[..3], [affinity_fail(), affinity_fail(), "ok".to_string()]);
        // Listed namespaces replace the own one.
        let listed = PodAffinityTermDef { namespaces: vec!["team-a".into()], ..affinity_term(ZONE, &[("app", "db")]) };
        let p = w.pod(app("web", "web").namespace("team-b").required_pod_affinity(listed));
        assert_eq!(codes(&w.filter(plugin(), &p))[..3], ["ok".to_string(), "ok".to_string(), affinity_fail()]);
        // A namespace selector over the Namespace objects' labels.
        let team_a = LabelSelectorDef { match_labels: vec![("team".into(), "a".into())], match_expressions: Vec::new() };
        let selected = PodAffinityTermDef { namespace_selector: Some(team_a), ..affinity_term(ZONE, &[("app", "db")]) };
        let p = w.pod(app("web", "web").namespace("team-b").required_pod_affinity(selected));
        assert_eq!(codes(&w.filter(plugin(), &p))[..3], ["ok".to_string(), "ok".to_string(), affinity_fail()]);
        // `{}` selects every namespace.
        let all = PodAffinityTermDef { namespace_selector: Some(LabelSelectorDef::default()), ..affinity_term(ZONE, &[("app", "db")]) };
        let p = w.pod(app("web", "web").namespace("team-c").required_pod_affinity(all));
        assert_eq!(codes(&w.filter(plugin(), &p))[..3], ["ok", "ok", "ok"]);
        // An existing pod's term with a namespace selector is evaluated on the incoming pod's namespace.
        let guard = PodAffinityTermDef {
            namespace_selector: Some(LabelSelectorDef { match_labels: vec![("team".into(), "b".into())], match_expressions: Vec::new() }),
            ..affinity_term(HOST, &[("app", "web")])
        };
        w.run(1, app("guard", "guard").namespace("team-a").required_pod_anti_affinity(guard));
        let from_b = w.pod(app("web", "web").namespace("team-b"));
        let from_a = w.pod(app("web", "web").namespace("team-a"));
        assert_eq!(codes(&w.filter(plugin(), &from_b))[1], existing_fail());
        assert!(w.filter(plugin(), &from_a).iter().all(Status::is_success));
    }

    #[test]
    fn preferred_terms_score_per_domain_and_normalise_min_max() {
        let mut w = zones();
        w.run(0, app("db-0", "db")).run(1, app("db-1", "db")).run(2, app("db-2", "db")).run(2, app("web-0", "web"));
        let p = w.pod(
            app("web-1", "web")
                .preferred_pod_affinity(5, affinity_term(ZONE, &[("app", "db")]))
                .preferred_pod_anti_affinity(3, affinity_term(HOST, &[("app", "web")])),
        );
        // Zone a: 2 db pods ⇒ +10 on a1 and a2; zone b: 1 db ⇒ +5, and b1 hosts a web pod ⇒ −3; x: nothing.
        let (raw, normalized) = w.score(plugin(), &p).unwrap();
        assert_eq!(raw, [10, 10, 2, 0]);
        assert_eq!(normalized, [100, 100, 20, 0]);
    }

    #[test]
    fn existing_pods_terms_score_the_incoming_pod() {
        let mut w = zones();
        // An existing pod requires web pods in its zone (hardPodAffinityWeight), another prefers them away
        // from its host.
        w.run(0, app("db", "db").required_pod_affinity(affinity_term(ZONE, &[("app", "web")])));
        w.run(2, app("cache", "cache").preferred_pod_anti_affinity(7, affinity_term(HOST, &[("app", "web")])));
        let p = w.pod(app("web", "web"));
        let (raw, normalized) = w.score(plugin(), &p).unwrap();
        assert_eq!(raw, [1, 1, -7, 0]);
        // 100·(s − min)/(max − min) with min −7, max 1: 100, 100, 0, 87.5 → 87.
        assert_eq!(normalized, [100, 100, 0, 87]);
        // A heavier hard weight, and ignorePreferredTermsOfExistingPods (Skip: the pod has no preferences).
        let heavy: Arc<dyn Plugin> = Arc::new(InterPodAffinity { hard_pod_affinity_weight: 10, ..InterPodAffinity::default() });
        assert_eq!(w.score(heavy, &p).unwrap().0, [10, 10, -7, 0]);
        let ignoring: Arc<dyn Plugin> =
            Arc::new(InterPodAffinity { ignore_preferred_terms_of_existing_pods: true, ..InterPodAffinity::default() });
        assert!(w.score(ignoring, &p).unwrap_err().is_skip());
        // hardPodAffinityWeight 0 leaves only the preferred term.
        let zero: Arc<dyn Plugin> = Arc::new(InterPodAffinity { hard_pod_affinity_weight: 0, ..InterPodAffinity::default() });
        assert_eq!(w.score(zero, &p).unwrap().0, [0, 0, -7, 0]);
        // Nothing matching anywhere: Skip.
        let api = w.pod(app("api", "api"));
        assert!(w.score(plugin(), &api).unwrap_err().is_skip());
    }

    #[test]
    fn equal_scores_normalise_to_zero() {
        let mut w = zones();
        w.run(0, app("db", "db")).run(2, app("db", "db"));
        w.run(1, app("db", "db")).run(3, app("db", "db"));
        let p = w.pod(app("web", "web").preferred_pod_affinity(1, affinity_term(HOST, &[("app", "db")])));
        assert_eq!(w.score(plugin(), &p).unwrap(), (vec![1, 1, 1, 1], vec![0, 0, 0, 0]));
    }

    #[test]
    fn a_cycle_whose_counts_moved_on_reports_an_error_not_a_wrong_verdict() {
        let mut w = zones();
        w.run(0, app("web-0", "web"));
        let p = w.pod(app("web-1", "web").required_pod_anti_affinity(affinity_term(ZONE, &[("app", "web")])));
        let shared = InterPodAffinity::default();
        let cx = CycleContext::new(&w.cluster);
        let mut state = StateSlot::default();
        assert!(shared.pre_filter(&cx, &p, &mut state).status.is_success());
        // Another scheduler sharing the plugin runs a cycle on a changed copy of the cluster meanwhile.
        let mut other = w.cluster.clone();
        let moved = other.compile_pod(&app("web-2", "web").def).unwrap();
        other.add_pod(moved, w.nodes[2]);
        assert!(shared.pre_filter(&CycleContext::new(&other), &p, &mut StateSlot::default()).status.is_success());
        let status = shared.filter(&cx, &p, w.cluster.node(w.nodes[2]), &state);
        assert_eq!((status.code(), status.message()), (scheduler_core::Code::Error, MOVED.to_string()));
    }

    #[test]
    fn arguments_are_checked() {
        let check = |json: &str| {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            InterPodAffinity::new(&PluginArgs::new("InterPodAffinity", Some(&value), "args"))
                .map(|p| (p.hard_pod_affinity_weight, p.ignore_preferred_terms_of_existing_pods))
                .map_err(|e| e.to_string())
        };
        assert_eq!(check("{}"), Ok((1, false)));
        assert_eq!(check(r#"{"hardPodAffinityWeight": 0, "ignorePreferredTermsOfExistingPods": true}"#), Ok((0, true)));
        assert_eq!(
            check(r#"{"hardPodAffinityWeight": 101}"#).unwrap_err(),
            "args.hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]"
        );
        assert_eq!(
            check(r#"{"hardPodAffinityWeight": -1}"#).unwrap_err(),
            "args.hardPodAffinityWeight: Invalid value: -1: not in valid range [0, 100]"
        );
        assert!(check(r#"{"bogus": 1}"#).is_err());
    }

    /// Upstream's algorithm literally, from every pod of every node each time (the reference for the
    /// remembered counts): the Filter verdict per node, and the raw scores or `None` for a PreScore Skip.
    fn reference(cluster: &Cluster, order: &[NodeId], pod: &Pod, hard_weight: i64) -> (Vec<Status>, Option<Vec<i64>>) {
        type Counts = std::collections::HashMap<(Symbol, Symbol), i64>;
        let nodes: Vec<&NodeInfo> = order.iter().map(|&id| cluster.node(id)).collect();
        let existing = |node: &NodeInfo| node.pods.iter().filter_map(|&id| cluster.pod(id)).map(|b| &b.pod).collect::<Vec<_>>();
        let incoming_ns = cluster.namespace_labels(pod.namespace);
        // An incoming term matches an existing pod through the names listed or its namespace's labels.
        let incoming_matches = |t: &AffinityTerm, e: &Pod| t.matches(e.namespace, &e.labels, &cluster.namespace_labels(e.namespace));
        let empty = scheduler_core::PodAffinity::default();
        let aff = pod.affinity.as_deref().unwrap_or(&empty);
        let (mut existing_anti, mut affinity, mut anti) = (Counts::new(), Counts::new(), Counts::new());
        for node in &nodes {
            for e in existing(node) {
                if let Some(ea) = e.affinity.as_deref() {
                    for t in &ea.required_anti_affinity {
                        if let Some(v) =
                            node.node.labels.get(t.topology_key).filter(|_| t.matches(pod.namespace, &pod.labels, &incoming_ns))
                        {
                            *existing_anti.entry((t.topology_key, v)).or_default() += 1;
                        }
                    }
                }
                if !aff.required_affinity.is_empty() && aff.required_affinity.iter().all(|t| incoming_matches(t, e)) {
                    for t in &aff.required_affinity {
                        if let Some(v) = node.node.labels.get(t.topology_key) {
                            *affinity.entry((t.topology_key, v)).or_default() += 1;
                        }
                    }
                }
                for t in aff.required_anti_affinity.iter().filter(|t| incoming_matches(t, e)) {
                    if let Some(v) = node.node.labels.get(t.topology_key) {
                        *anti.entry((t.topology_key, v)).or_default() += 1;
                    }
                }
            }
        }
        let skip = existing_anti.is_empty() && aff.required_affinity.is_empty() && aff.required_anti_affinity.is_empty();
        let verdicts = nodes
            .iter()
            .map(|node| {
                if skip {
                    return Status::success();
                }
                let mut exist = true;
                for t in &aff.required_affinity {
                    match node.node.labels.get(t.topology_key) {
                        None => return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH),
                        Some(v) if affinity.get(&(t.topology_key, v)).copied().unwrap_or(0) <= 0 => exist = false,
                        Some(_) => {}
                    }
                }
                let own = !aff.required_affinity.is_empty() && aff.required_affinity.iter().all(|t| incoming_matches(t, pod));
                if !(exist || affinity.is_empty() && own) {
                    return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
                }
                for t in &aff.required_anti_affinity {
                    if node.node.labels.get(t.topology_key).is_some_and(|v| anti.get(&(t.topology_key, v)).copied().unwrap_or(0) > 0) {
                        return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
                    }
                }
                if node.node.labels.iter().any(|pair| existing_anti.get(&pair).copied().unwrap_or(0) > 0) {
                    return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
                }
                Status::success()
            })
            .collect();
        let mut topology: std::collections::HashMap<Symbol, std::collections::HashMap<Symbol, i64>> = Default::default();
        let mut add = |t: &AffinityTerm, node: &NodeInfo, weight: i64| {
            if let Some(v) = node.node.labels.get(t.topology_key) {
                *topology.entry(t.topology_key).or_default().entry(v).or_default() += weight;
            }
        };
        for node in &nodes {
            for e in existing(node) {
                for w in &aff.preferred_affinity {
                    if incoming_matches(&w.term, e) {
                        add(&w.term, node, i64::from(w.weight));
                    }
                }
                for w in &aff.preferred_anti_affinity {
                    if incoming_matches(&w.term, e) {
                        add(&w.term, node, -i64::from(w.weight));
                    }
                }
                let Some(ea) = e.affinity.as_deref() else { continue };
                if hard_weight > 0 {
                    for t in ea.required_affinity.iter().filter(|t| t.matches(pod.namespace, &pod.labels, &incoming_ns)) {
                        add(t, node, hard_weight);
                    }
                }
                for w in ea.preferred_affinity.iter().filter(|w| w.term.matches(pod.namespace, &pod.labels, &incoming_ns)) {
                    add(&w.term, node, i64::from(w.weight));
                }
                for w in ea.preferred_anti_affinity.iter().filter(|w| w.term.matches(pod.namespace, &pod.labels, &incoming_ns)) {
                    add(&w.term, node, -i64::from(w.weight));
                }
            }
        }
        let scores = (!topology.is_empty()).then(|| {
            nodes
                .iter()
                .map(|node| {
                    topology.iter().filter_map(|(k, values)| node.node.labels.get(*k).map(|v| values.get(&v).copied().unwrap_or(0))).sum()
                })
                .collect()
        });
        (verdicts, scores)
    }

    /// A pod from a small pool: labels app ∈ {a, b} and a mix of terms over zone and hostname, some with
    /// namespaces listed or selected.
    fn random_pod(name: &str, seed: u8, namespace: &str) -> PodBuilder {
        let app_value = if seed & 1 == 0 { "a" } else { "b" };
        let mut p = pod(name).namespace(namespace).label("app", app_value);
        let other = if seed & 1 == 0 { "b" } else { "a" };
        let across = |t: PodAffinityTermDef| PodAffinityTermDef { namespaces: vec!["ns-0".into(), "ns-1".into()], ..t };
        let selected = |t: PodAffinityTermDef| PodAffinityTermDef {
            namespace_selector: Some(LabelSelectorDef { match_labels: vec![("team".into(), "x".into())], match_expressions: Vec::new() }),
            ..t
        };
        match (seed >> 1) % 8 {
            0 => {}
            1 => p = p.required_pod_anti_affinity(affinity_term(HOST, &[("app", app_value)])),
            2 => p = p.required_pod_affinity(across(affinity_term(ZONE, &[("app", other)]))),
            3 => p = p.preferred_pod_affinity(3, affinity_term(ZONE, &[("app", other)])),
            4 => p = p.preferred_pod_anti_affinity(2, selected(affinity_term(HOST, &[("app", app_value)]))),
            5 => p = p.required_pod_anti_affinity(selected(affinity_term(ZONE, &[("app", other)]))),
            6 => {
                p = p
                    .required_pod_affinity(affinity_term(ZONE, &[("app", app_value)]))
                    .preferred_pod_anti_affinity(4, affinity_term(HOST, &[("app", app_value)]))
            }
            _ => {
                p = p
                    .required_pod_affinity(affinity_term(HOST, &[("app", other)]))
                    .required_pod_affinity(across(affinity_term(ZONE, &[("app", app_value)])))
            }
        }
        p
    }

    /// PreFilter (a Skip: every node passes), AddPod for each nominated pod of the cluster, then Filter.
    fn filter_with_nominated(w: &World, plugin: Arc<dyn Plugin>, p: &Pod) -> Vec<String> {
        let points = plugin.extension_points();
        let cx = CycleContext::new(&w.cluster);
        let mut state = StateSlot::default();
        let pre = points.pre_filter.as_ref().unwrap().pre_filter(&cx, p, &mut state);
        if pre.status.is_skip() {
            return codes(&vec![Status::success(); w.nodes.len()]);
        }
        for n in w.cluster.nominations() {
            let status = points.pre_filter_extensions.as_ref().unwrap().add_pod(&cx, p, &n.pod, w.cluster.node(n.node), &mut state);
            assert!(status.is_success(), "{status}");
        }
        let filter = points.filter.unwrap();
        let verdicts: Vec<Status> = w.nodes.iter().map(|&n| filter.filter(&cx, p, w.cluster.node(n), &state)).collect();
        codes(&verdicts)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

        /// After any sequence of pod additions, removals and nominations, a plugin that kept its counts from
        /// cycle to cycle decides exactly as upstream's from-scratch computation; nominated pods, added
        /// through AddPod as the scheduler's two-pass filter does, count as if bound.
        #[test]
        fn remembered_counts_equal_a_recount(
            ops in proptest::collection::vec((0usize..6, proptest::prelude::any::<u8>(), 0u8..3, proptest::prelude::any::<bool>()), 1..50),
            hard_weight in 0i64..3,
        ) {
            let mut w = World::new(vec![
                node("a1").label(ZONE, "a"), node("a2").label(ZONE, "a"), node("b1").label(ZONE, "b"),
                node("b2").label(ZONE, "b"), node("c1").label(ZONE, "c"), node("x"),
            ]);
            w.cluster.add_namespace("ns-1", &[("team".into(), "x".into())]);
            let kept = Arc::new(InterPodAffinity { hard_pod_affinity_weight: hard_weight, ..InterPodAffinity::default() });
            let mut bound = Vec::new();
            for (step, (node_idx, seed, ns, remove)) in ops.into_iter().enumerate() {
                let namespace = format!("ns-{ns}");
                if remove && !bound.is_empty() {
                    let id = bound.remove(usize::from(seed) % bound.len());
                    w.cluster.remove_pod(id);
                } else {
                    let p = w.pod(random_pod(&format!("p{step}"), seed, &namespace));
                    if seed % 5 == 0 && w.cluster.nominations().len() < 3 {
                        w.cluster.nominate(p, w.nodes[node_idx]);
                    } else {
                        bound.push(w.cluster.add_pod(p, w.nodes[node_idx]));
                    }
                }
                if !w.cluster.nominations().is_empty() {
                    let incoming = w.pod(random_pod("incoming", seed.wrapping_mul(31).wrapping_add(7), &namespace));
                    // Upstream's PreFilter skips (nominated pods aside) when the pod has no required term and
                    // no existing pod's anti-affinity rejects a node; otherwise nominated pods count as bound.
                    let has_required = incoming.affinity.as_ref().is_some_and(|a| !a.required_affinity.is_empty() || !a.required_anti_affinity.is_empty());
                    let (bound_only, _) = reference(&w.cluster, &w.nodes, &incoming, hard_weight);
                    let skipped = !has_required && bound_only.iter().all(Status::is_success);
                    let mut with_nominated = w.cluster.clone();
                    if !skipped {
                        for n in w.cluster.nominations() {
                            with_nominated.add_pod(n.pod.clone(), n.node);
                        }
                    }
                    let (want, _) = reference(&with_nominated, &w.nodes, &incoming, hard_weight);
                    proptest::prop_assert_eq!(filter_with_nominated(&w, kept.clone(), &incoming), codes(&want), "nominated, step {}", step);
                    continue;
                }
                let incoming = w.pod(random_pod("incoming", seed.wrapping_mul(31).wrapping_add(7), &namespace));
                let (want_filter, want_scores) = reference(&w.cluster, &w.nodes, &incoming, hard_weight);
                let got_filter = w.filter(kept.clone(), &incoming);
                proptest::prop_assert_eq!(codes(&got_filter), codes(&want_filter), "filter after step {}", step);
                match (w.score(kept.clone(), &incoming), want_scores) {
                    (Ok((raw, _)), Some(want)) => proptest::prop_assert_eq!(raw, want, "scores after step {}", step),
                    (Err(status), None) => proptest::prop_assert!(status.is_skip()),
                    (got, want) => proptest::prop_assert!(false, "step {}: got {:?}, want {:?}", step, got.map(|g| g.0), want),
                }
            }
        }
    }
}
