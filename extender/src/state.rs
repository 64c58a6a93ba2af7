//! The extender's view of the cluster (nodes, the pods bound to them, and the objects the plugins read),
//! kept as a [`Cluster`], and the verbs' decisions on it.
//!
//! Nodes, pods and namespace labels are applied incrementally; Services, controllers and
//! PodDisruptionBudgets are replaced as sets before the next decision (a bound pod's default spreading
//! selector, the one thing Services and controllers change in a compiled pod, is only read when that pod
//! is scheduled, so no pod is compiled again); a deleted namespace, or node slots left behind by changed
//! nodes, make the cluster stale and it is rebuilt from the stored definitions.

use std::collections::{BTreeMap, VecDeque};

use foldhash::HashMap;
use k8s_openapi::api::core::v1 as k8s;
use serde_json::value::RawValue;

use scheduler_core::gpu::GpuSet;
use scheduler_core::{Cluster, ControllerDef, NodeDef, NodeId, Pod, PodDef, PodDisruptionBudgetDef, PodId, Scheduler, ServiceDef};
use traces::NamespaceDef;

use crate::wire::{
    ExtenderArgs, ExtenderFilterResult, ExtenderPreemptionArgs, ExtenderPreemptionResult, FailedNodesMap, HostPriority,
    MAX_EXTENDER_PRIORITY, MetaPod, MetaVictims, Name, NodeList,
};

/// Where the server learns which pods run where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodSource {
    /// A watch of the API server's Nodes, Pods, Namespaces, Services, controllers and PDBs.
    Watch,
    /// The API server is used to bind, not watched: the pods counted are those this server bound itself
    /// (and those of the `--cluster` file); pods bound by another scheduler or deleted are not seen.
    SelfBound,
    /// No API server: the pods counted are those of the `--cluster` file.
    Static,
}

impl PodSource {
    /// How `/healthz` and the logs describe it.
    pub fn describe(self) -> &'static str {
        match self {
            PodSource::Watch => "watching the API server",
            PodSource::SelfBound => {
                "self-bound: only the pods this server bound (and those of --cluster) are counted; pods bound elsewhere or deleted are not seen"
            }
            PodSource::Static => "static: no API server; only the pods of --cluster are counted",
        }
    }
}

/// Pods remembered from filter and prioritize calls, so that a bind can account for the pod it binds.
const RECENT_PODS: usize = 4096;

#[derive(Clone, Debug)]
struct NodeEntry {
    id: NodeId,
    def: NodeDef,
    resource_version: String,
}

#[derive(Clone, Debug)]
struct PodEntry {
    def: PodDef,
    /// `None` while its node is not known.
    id: Option<PodId>,
    /// The GPUs this server chose for it at bind (Reserve); empty: simsched's default choice.
    gpus: GpuSet,
}

impl PodEntry {
    /// Adds the pod to `cluster` on its node, with its GPUs.
    fn add_to(&self, cluster: &mut Cluster) -> Option<PodId> {
        if self.gpus.is_empty() {
            return cluster.add_running_pod(&self.def).ok();
        }
        let node = cluster.node_id(&self.def.node_name)?;
        let mut pod = cluster.compile_pod(&self.def).ok()?;
        pod.gpus = self.gpus;
        Some(cluster.add_pod(pod, node))
    }
}

/// Counts for `/healthz` and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// Nodes known.
    pub nodes: usize,
    /// Pods bound to a known node.
    pub pods: usize,
    /// Pods bound to a node not known (yet).
    pub orphan_pods: usize,
}

/// The cluster as the extender sees it, and the scheduler that decides on it.
pub struct State {
    cluster: Cluster,
    scheduler: Scheduler,
    nodes: BTreeMap<String, NodeEntry>,
    pods: HashMap<String, PodEntry>,
    namespaces: BTreeMap<String, NamespaceDef>,
    services: BTreeMap<(String, String), ServiceDef>,
    controllers: BTreeMap<(String, String, String), ControllerDef>,
    pdbs: BTreeMap<(String, String), PodDisruptionBudgetDef>,
    stale: bool,
    /// Budgets changed (and nothing else that needs a rebuild).
    pdbs_stale: bool,
    /// Services or controllers changed (and nothing else that needs a rebuild).
    owners_stale: bool,
    recent: HashMap<String, PodDef>,
    recent_order: VecDeque<String>,
    source: PodSource,
}

/// A request the verbs cannot answer, with the message for its `Error` field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

fn request_error(msg: impl Into<String>) -> RequestError {
    RequestError(msg.into())
}

impl State {
    /// An empty state around `scheduler`, whose profiles were compiled against `cluster`'s interner.
    pub fn new(cluster: Cluster, scheduler: Scheduler, source: PodSource) -> State {
        State {
            cluster,
            scheduler,
            nodes: BTreeMap::new(),
            pods: HashMap::default(),
            namespaces: BTreeMap::new(),
            services: BTreeMap::new(),
            controllers: BTreeMap::new(),
            pdbs: BTreeMap::new(),
            stale: false,
            pdbs_stale: false,
            owners_stale: false,
            recent: HashMap::default(),
            recent_order: VecDeque::new(),
            source,
        }
    }

    /// Applies what a cluster file holds (`--cluster`): namespaces, Services, controllers, budgets,
    /// nodes and their pods.
    pub fn load(&mut self, input: &traces::ClusterInput) -> Result<(), RequestError> {
        for ns in &input.namespaces {
            self.apply_namespace(ns.def.clone());
        }
        for s in &input.services {
            self.apply_service(s.def.clone());
        }
        for c in &input.controllers {
            self.apply_controller(c.def.clone());
        }
        for b in &input.pdbs {
            self.apply_pdb(b.def.clone());
        }
        for n in &input.nodes {
            self.apply_node(n.def.clone(), "").map_err(|e| request_error(format!("{}: {e}", n.origin)))?;
        }
        for p in &input.pods {
            self.apply_pod(p.def.clone(), "Running").map_err(|e| request_error(format!("{}: {e}", p.origin)))?;
        }
        self.refresh();
        Ok(())
    }

    /// Where pods are learnt from.
    pub fn source(&self) -> PodSource {
        self.source
    }

    /// Node and pod counts.
    pub fn counts(&self) -> StateCounts {
        let orphan_pods = self.pods.values().filter(|p| p.id.is_none()).count();
        StateCounts { nodes: self.nodes.len(), pods: self.pods.len() - orphan_pods, orphan_pods }
    }

    /// Adds or replaces a node (by name); `resource_version` lets later requests carrying the same object
    /// skip parsing it. Its pods stay bound to it.
    pub fn apply_node(&mut self, def: NodeDef, resource_version: &str) -> Result<(), RequestError> {
        if let Some(entry) = self.nodes.get_mut(&def.name)
            && entry.def == def
        {
            entry.resource_version = resource_version.to_string();
            return Ok(());
        }
        let name = def.name.clone();
        if let Some(old) = self.nodes.remove(&name) {
            self.cluster.remove_node(old.id);
            self.unbind_pods_of(&name);
        }
        let id = self.cluster.add_node(&def).map_err(|e| request_error(e.to_string()))?;
        self.nodes.insert(name.clone(), NodeEntry { id, def, resource_version: resource_version.to_string() });
        self.bind_orphans_of(&name);
        // A changed node leaves its old slot behind in the cluster: rebuild (which compacts) once the
        // removed slots outnumber the live nodes.
        if self.cluster.node_capacity() > 2 * self.nodes.len() + 64 {
            self.stale = true;
        }
        Ok(())
    }

    /// Removes a node; its pods wait for it to come back.
    pub fn delete_node(&mut self, name: &str) {
        if let Some(old) = self.nodes.remove(name) {
            self.cluster.remove_node(old.id);
            self.unbind_pods_of(name);
        }
    }

    /// Marks the pods of node `name` as orphans (their cluster entries went with the node).
    fn unbind_pods_of(&mut self, name: &str) {
        for entry in self.pods.values_mut().filter(|p| p.def.node_name == name) {
            entry.id = None;
        }
    }

    fn bind_orphans_of(&mut self, name: &str) {
        let State { pods, cluster, .. } = self;
        for entry in pods.values_mut().filter(|p| p.id.is_none() && p.def.node_name == name) {
            entry.id = entry.add_to(cluster);
        }
    }

    /// Records a pod as the API server reports it: bound and not finished, it counts on its node;
    /// otherwise it is forgotten.
    pub fn apply_pod(&mut self, def: PodDef, phase: &str) -> Result<(), RequestError> {
        let running = !def.node_name.is_empty() && phase != "Succeeded" && phase != "Failed";
        let key = pod_key(&def);
        if let Some(old) = self.pods.get(&key)
            && running
            && old.def == def
        {
            return Ok(());
        }
        if running {
            // Compile first: an update the model refuses leaves the pod as it was.
            self.cluster
                .compile_pod(&def)
                .map_err(|e| request_error(format!("pod {}/{}: {}: {}", def.namespace, def.name, e.field, e.message)))?;
        }
        // The GPUs chosen at bind stay the pod's while it stays on that node.
        let gpus = self.pods.get(&key).filter(|old| old.def.node_name == def.node_name).map_or(GpuSet::EMPTY, |old| old.gpus);
        self.delete_pod(&key);
        if !running {
            return Ok(());
        }
        let mut entry = PodEntry { def, id: None, gpus };
        if self.nodes.contains_key(&entry.def.node_name) {
            entry.id = entry.add_to(&mut self.cluster);
        }
        self.pods.insert(key, entry);
        Ok(())
    }

    /// Forgets a pod (by UID; `<namespace>/<name>` for a pod without one, as the core names it).
    pub fn delete_pod(&mut self, uid: &str) {
        if let Some(old) = self.pods.remove(uid)
            && let Some(id) = old.id
        {
            self.cluster.remove_pod(id);
        }
    }

    /// Adds or replaces a Namespace.
    pub fn apply_namespace(&mut self, def: NamespaceDef) {
        if self.namespaces.get(&def.name) != Some(&def) {
            // Labels are replaced in place; only a deletion needs a rebuild.
            self.cluster.add_namespace(&def.name, &def.labels);
            self.namespaces.insert(def.name.clone(), def);
        }
    }

    /// Removes a Namespace.
    pub fn delete_namespace(&mut self, name: &str) {
        self.stale |= self.namespaces.remove(name).is_some();
    }

    /// Adds or replaces a Service.
    pub fn apply_service(&mut self, def: ServiceDef) {
        let key = (def.namespace.clone(), def.name.clone());
        if self.services.get(&key) != Some(&def) {
            self.services.insert(key, def);
            self.owners_stale = true;
        }
    }

    /// Removes a Service.
    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        self.owners_stale |= self.services.remove(&(namespace.to_string(), name.to_string())).is_some();
    }

    /// Adds or replaces a ReplicationController, ReplicaSet or StatefulSet.
    pub fn apply_controller(&mut self, def: ControllerDef) {
        let key = (def.kind.as_str().to_string(), def.namespace.clone(), def.name.clone());
        if self.controllers.get(&key) != Some(&def) {
            self.controllers.insert(key, def);
            self.owners_stale = true;
        }
    }

    /// Removes a controller.
    pub fn delete_controller(&mut self, kind: &str, namespace: &str, name: &str) {
        self.owners_stale |= self.controllers.remove(&(kind.to_string(), namespace.to_string(), name.to_string())).is_some();
    }

    /// Adds or replaces a PodDisruptionBudget (its status changes with its pods' readiness: budgets are
    /// replaced in the cluster without a rebuild).
    pub fn apply_pdb(&mut self, def: PodDisruptionBudgetDef) {
        let key = (def.namespace.clone(), def.name.clone());
        if self.pdbs.get(&key) != Some(&def) {
            self.pdbs.insert(key, def);
            self.pdbs_stale = true;
        }
    }

    /// Removes a PodDisruptionBudget.
    pub fn delete_pdb(&mut self, namespace: &str, name: &str) {
        self.pdbs_stale |= self.pdbs.remove(&(namespace.to_string(), name.to_string())).is_some();
    }

    fn add_owners(
        cluster: &mut Cluster,
        services: &BTreeMap<(String, String), ServiceDef>,
        controllers: &BTreeMap<(String, String, String), ControllerDef>,
    ) {
        for s in services.values() {
            if let Err(e) = cluster.add_service(s) {
                tracing::warn!(error = %e, "service left out of the extender's cluster");
            }
        }
        for c in controllers.values() {
            if let Err(e) = cluster.add_controller(c) {
                tracing::warn!(error = %e, "controller left out of the extender's cluster");
            }
        }
    }

    fn add_pdbs(cluster: &mut Cluster, pdbs: &BTreeMap<(String, String), PodDisruptionBudgetDef>) {
        for b in pdbs.values() {
            if let Err(e) = cluster.add_pdb(b) {
                tracing::warn!(error = %e, "PodDisruptionBudget left out of the extender's cluster");
            }
        }
    }

    /// Rebuilds the cluster from the stored definitions if a non-node, non-pod object changed. Objects the
    /// model refuses are logged and left out (the API server accepted them; they are not the request's fault).
    fn refresh(&mut self) {
        if !self.stale {
            if self.pdbs_stale {
                self.pdbs_stale = false;
                self.cluster.clear_pdbs();
                State::add_pdbs(&mut self.cluster, &self.pdbs);
            }
            if self.owners_stale {
                // Only pods compiled from now on (the calls' pods) read the owners: no pod is recompiled.
                self.owners_stale = false;
                self.cluster.clear_owners();
                State::add_owners(&mut self.cluster, &self.services, &self.controllers);
            }
            return;
        }
        self.stale = false;
        self.pdbs_stale = false;
        self.owners_stale = false;
        let mut cluster = Cluster::with_interner(self.cluster.interner().clone());
        for ns in self.namespaces.values() {
            cluster.add_namespace(&ns.name, &ns.labels);
        }
        State::add_owners(&mut cluster, &self.services, &self.controllers);
        State::add_pdbs(&mut cluster, &self.pdbs);
        self.nodes.retain(|_, entry| match cluster.add_node(&entry.def) {
            Ok(id) => {
                entry.id = id;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "node left out of the extender's cluster");
                false
            }
        });
        for entry in self.pods.values_mut() {
            entry.id = if self.nodes.contains_key(&entry.def.node_name) { entry.add_to(&mut cluster) } else { None };
        }
        self.cluster = cluster;
    }

    /// Decodes and compiles the pod of a call, and remembers it for a later bind.
    fn pod(&mut self, raw: Option<&RawValue>, field: &str) -> Result<Pod, RequestError> {
        let raw = raw.ok_or_else(|| request_error(format!("{field}: Required value: the call carries no pod")))?;
        let pod: k8s::Pod = serde_json::from_str(raw.get()).map_err(|e| request_error(format!("{field}: {e}")))?;
        let (def, _facts) = traces::kube::pod_def(&pod).map_err(|(f, m)| request_error(format!("{field}.{f}: {m}")))?;
        let compiled = self.cluster.compile_pod(&def).map_err(|e| request_error(format!("{field}.{}: {}", e.field, e.message)))?;
        if !def.uid.is_empty() && !self.recent.contains_key(&def.uid) {
            if self.recent_order.len() == RECENT_PODS
                && let Some(oldest) = self.recent_order.pop_front()
            {
                self.recent.remove(&oldest);
            }
            self.recent_order.push_back(def.uid.clone());
        }
        if !def.uid.is_empty() {
            self.recent.insert(def.uid.clone(), def);
        }
        Ok(compiled)
    }

    /// The names and cached ids of the nodes of a `Nodes` list, in order. Without a watch, the call's objects add nodes to the cache
    /// or update them (a node is parsed only when the cache lacks it at that `resourceVersion`); with a
    /// watch, the watch alone decides which nodes exist, and a node it has not reported is `None` (a call
    /// in flight must not bring back a deleted node).
    fn sync_nodes(&mut self, items: &[&RawValue]) -> Result<Vec<(String, Option<NodeId>)>, RequestError> {
        let mut names = Vec::with_capacity(items.len());
        for (idx, raw) in items.iter().enumerate() {
            let field = || format!("Nodes.items[{idx}]");
            let (name, version) = node_header(raw.get());
            let cached = self.nodes.get(&name).is_some_and(|e| !version.is_empty() && e.resource_version == version);
            if cached || (self.source == PodSource::Watch && !name.is_empty()) {
                names.push(name);
                continue;
            }
            let node: k8s::Node = serde_json::from_str(raw.get()).map_err(|e| request_error(format!("{}: {e}", field())))?;
            let def = traces::kube::node_def(&node).map_err(|(f, m)| request_error(format!("{}.{f}: {m}", field())))?;
            // The full parse decides the name (the header read the first `name` key of a possibly odd object).
            let name = def.name.clone();
            if self.source != PodSource::Watch {
                self.apply_node(def, &version).map_err(|e| request_error(format!("{}: {e}", field())))?;
            }
            names.push(name);
        }
        // Looked up once every item is applied: a name listed twice is one node, its last version.
        Ok(names
            .into_iter()
            .map(|n| {
                let id = self.cluster.node_id(&n);
                (n, id)
            })
            .collect())
    }

    /// The cached nodes of `names`, in order; `None` for names the cache does not have.
    fn cached_nodes<S: AsRef<str>>(&self, names: &[S]) -> Vec<Option<NodeId>> {
        names.iter().map(|n| self.cluster.node_id(n.as_ref())).collect()
    }

    fn profile_for(&self, pod: &Pod) -> usize {
        self.scheduler.profile_index_or(&self.cluster, pod, 0)
    }

    /// The filter verb: the nodes of the call that pass the profile's PreFilter and Filter plugins.
    /// A node the cache does not know is failed (resolvably: it may be known on the next attempt).
    pub fn filter<'a>(&mut self, args: &ExtenderArgs<'a>) -> Result<ExtenderFilterResult<'a>, RequestError> {
        self.refresh();
        let pod = self.pod(args.pod, "Pod")?;
        let mut failed = FailedNodesMap::new();
        let mut unresolvable = FailedNodesMap::new();
        // The nodes to filter, with their positions in the call's list.
        let mut ids = Vec::new();
        let mut positions = Vec::new();
        match (&args.node_names, &args.nodes) {
            (Some(names), _) => {
                ids.reserve(names.len());
                positions.reserve(names.len());
                for (pos, name) in names.iter().enumerate() {
                    match self.cluster.node_id(name) {
                        Some(id) => {
                            ids.push(id);
                            positions.push(pos);
                        }
                        None => {
                            failed.insert(name.to_string(), format!("node {:?} is not in simsched's node cache", name.as_str()));
                        }
                    }
                }
            }
            (None, Some(list)) => {
                for (pos, (name, id)) in self.sync_nodes(&list.items)?.into_iter().enumerate() {
                    match id {
                        Some(id) => {
                            ids.push(id);
                            positions.push(pos);
                        }
                        None => {
                            let message = format!("node {name:?} is not in simsched's node cache");
                            failed.insert(name, message);
                        }
                    }
                }
            }
            (None, None) => return Err(request_error("Nodes and NodeNames: Required value: the call carries neither")),
        }
        let profile = self.profile_for(&pod);
        let verdicts = self.scheduler.filter_nodes(profile, &self.cluster, &pod, &ids).map_err(|e| request_error(e.to_string()))?;
        for (node, _plugin, status) in &verdicts.rejected {
            let name = self.cluster.node(*node).node.name.to_string();
            let map = if status.code() == scheduler_core::Code::UnschedulableAndUnresolvable { &mut unresolvable } else { &mut failed };
            map.insert(name, status.message());
        }
        let mut passed = vec![false; self.cluster.node_capacity()];
        for id in &verdicts.feasible {
            passed[id.index()] = true;
        }
        let passed_positions = ids.iter().zip(&positions).filter(|(id, _)| passed[id.index()]).map(|(_, &pos)| pos);
        let mut result = ExtenderFilterResult {
            failed_nodes: Some(failed),
            failed_and_unresolvable_nodes: Some(unresolvable),
            ..ExtenderFilterResult::default()
        };
        match (&args.node_names, &args.nodes) {
            (Some(names), _) => result.node_names = Some(passed_positions.map(|pos| names[pos].clone()).collect()),
            (None, Some(list)) => result.nodes = Some(NodeList { items: passed_positions.map(|pos| list.items[pos]).collect() }),
            (None, None) => {}
        }
        Ok(result)
    }

    /// The prioritize verb: each node's weighted total mapped onto 0..=10 (see [`extender_score`]), in the
    /// order of the call; nodes the cache does not know score 0.
    pub fn prioritize<'a>(&mut self, args: &ExtenderArgs<'a>) -> Result<Vec<HostPriority<'a>>, RequestError> {
        self.refresh();
        let pod = self.pod(args.pod, "Pod")?;
        let (slots, names): (Vec<Option<NodeId>>, Vec<Name<'a>>) = match (&args.node_names, &args.nodes) {
            (Some(names), _) => (self.cached_nodes(names), names.clone()),
            (None, Some(list)) => self.sync_nodes(&list.items)?.into_iter().map(|(name, id)| (id, Name::from(name))).unzip(),
            (None, None) => return Err(request_error("Nodes and NodeNames: Required value: the call carries neither")),
        };
        let known: Vec<NodeId> = slots.iter().flatten().copied().collect();
        let profile = self.profile_for(&pod);
        let scores = self.scheduler.score_nodes(profile, &self.cluster, &pod, &known).map_err(|e| request_error(e.to_string()))?;
        let mut totals = scores.totals.iter();
        Ok(slots
            .iter()
            .zip(names)
            .map(|(slot, host)| {
                let score = match slot {
                    Some(_) => extender_score(totals.next().copied().unwrap_or(0), scores.max_total),
                    None => 0,
                };
                HostPriority { host, score }
            })
            .collect())
    }

    /// The preempt verb: DefaultPreemption's victim selection on each candidate node of the call; the
    /// nodes where it finds victims are returned with its victims (UIDs), the others are left out.
    pub fn preempt(&mut self, args: &ExtenderPreemptionArgs<'_>) -> Result<ExtenderPreemptionResult, RequestError> {
        self.refresh();
        let pod = self.pod(args.pod, "Pod")?;
        // The victims the scheduler proposes per node, as UIDs.
        let proposed: BTreeMap<String, Vec<String>> = match (&args.node_name_to_meta_victims, &args.node_name_to_victims) {
            (Some(meta), _) => meta
                .iter()
                .map(|(node, v)| {
                    let uids = v.iter().flat_map(|v| v.pods.iter().flatten()).flatten().map(|p| p.uid.clone()).collect();
                    (node.clone(), uids)
                })
                .collect(),
            (None, Some(full)) => full
                .iter()
                .map(|(node, v)| {
                    let uids = v.iter().flat_map(|v| v.pods.iter().flatten()).flatten().map(|raw| pod_uid(raw.get())).collect();
                    (node.clone(), uids)
                })
                .collect(),
            (None, None) => return Ok(ExtenderPreemptionResult { node_name_to_meta_victims: Some(BTreeMap::new()) }),
        };
        let names: Vec<&String> = proposed.keys().collect();
        let candidates: Vec<NodeId> = self.cached_nodes(&names).into_iter().flatten().collect();
        let profile = self.profile_for(&pod);
        let cluster = &self.cluster;
        let found = self
            .scheduler
            .with_preemption(profile, cluster, &pod, &candidates, |handle| {
                candidates.iter().map(|&node| (node, plugins::default_preemption::victims_on_node(handle, &pod, node))).collect::<Vec<_>>()
            })
            .map_err(|e| request_error(e.to_string()))?;
        let mut out = BTreeMap::new();
        for (node, victims) in found {
            let Ok(victims) = victims else { continue };
            let name = cluster.node(node).node.name.to_string();
            // Agreeing means evicting only pods the scheduler proposed on that node (it maps the answer's
            // UIDs back to its own pods and fails the whole preemption on one it does not know).
            let Some(offered) = proposed.get(&name) else { continue };
            let uids: Vec<String> = victims.pods.iter().filter_map(|&id| cluster.pod(id)).map(|b| b.pod.uid.to_string()).collect();
            if uids.is_empty() || !uids.iter().all(|u| offered.contains(u)) {
                continue;
            }
            let pods = uids.into_iter().map(|uid| Some(MetaPod { uid })).collect();
            out.insert(name, Some(MetaVictims { pods: Some(pods), num_pdb_violations: victims.pdb_violations as i64 }));
        }
        Ok(ExtenderPreemptionResult { node_name_to_meta_victims: Some(out) })
    }

    /// Records that this server bound pod `uid` to `node`: the pod, remembered from a filter or
    /// prioritize call, counts there from now on (until the watch, if any, reports it).
    pub fn record_binding(&mut self, uid: &str, node: &str, gpus: GpuSet) -> Result<(), RequestError> {
        if self.source == PodSource::Watch
            && let Some(entry) = self.pods.get_mut(uid)
        {
            // The watch reported the pod already: its record is the better one, with the GPUs chosen here.
            if entry.def.node_name == node && entry.gpus != gpus {
                entry.gpus = gpus;
                if let Some(id) = entry.id.take() {
                    self.cluster.remove_pod(id);
                    entry.id = entry.add_to(&mut self.cluster);
                }
            }
            return Ok(());
        }
        let Some(def) = self.recent.get(uid) else {
            return Err(request_error(format!("PodUID: pod {uid:?} was not seen in a filter or prioritize call, so it cannot be counted")));
        };
        let mut def = def.clone();
        def.node_name = node.to_string();
        let key = pod_key(&def);
        self.delete_pod(&key);
        let mut entry = PodEntry { def, id: None, gpus };
        if self.nodes.contains_key(node) {
            entry.id = entry.add_to(&mut self.cluster);
        }
        self.pods.insert(key, entry);
        Ok(())
    }

    /// The GPUs the scheduler's Reserve chooses for pod `uid` (seen in a filter or prioritize call) on
    /// node `node`: what bind gives it. Empty for a pod without GPUs, or one this server does not know.
    pub fn reserve_gpus(&mut self, uid: &str, node: &str) -> Result<GpuSet, RequestError> {
        let (Some(def), Some(node_id)) = (self.recent.get(uid), self.cluster.node_id(node)) else { return Ok(GpuSet::EMPTY) };
        let pod = self.cluster.compile_pod(&def.clone()).map_err(|e| request_error(format!("{}: {}", e.field, e.message)))?;
        if pod.gpu.is_none() {
            return Ok(GpuSet::EMPTY);
        }
        let profile = self.scheduler.profile_index_or(&self.cluster, &pod, 0);
        self.scheduler.reserve(profile, &self.cluster, &pod, node_id).map_err(|e| request_error(e.to_string()))
    }
}

/// A pod object's `metadata.uid` (empty when it has none).
fn pod_uid(raw: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        uid: String,
    }
    #[derive(serde::Deserialize)]
    struct Header {
        metadata: Meta,
    }
    serde_json::from_str::<Header>(raw).map(|h| h.metadata.uid).unwrap_or_default()
}

/// The key of a pod: its UID, or `<namespace>/<name>` without one (a pod of a cluster file), as
/// `Pod::compile` names it.
fn pod_key(def: &PodDef) -> String {
    if def.uid.is_empty() { format!("{}/{}", def.namespace, def.name) } else { def.uid.clone() }
}

/// A node object's `metadata.name` and `metadata.resourceVersion`, read without parsing the rest of
/// it: the API server writes `metadata` first and, in it, the name before the resource version, so
/// reading stops after a few hundred bytes of a node object of several kilobytes. Empty strings when the
/// object is not laid out that way (the node is then parsed in full).
fn node_header(raw: &str) -> (String, String) {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

    /// Stops the parse once both fields are read.
    #[derive(Debug)]
    struct Done;
    impl std::fmt::Display for Done {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("header read")
        }
    }
    struct Found<'f>(&'f mut (String, String));
    impl<'de> Visitor<'de> for Found<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a node object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            // The object: only its first key is looked at.
            match map.next_key::<std::borrow::Cow<'de, str>>()? {
                Some(key) if key == "metadata" => map.next_value_seed(Metadata(self.0)),
                _ => Err(serde::de::Error::custom(Done)),
            }
        }
    }
    struct Metadata<'f>(&'f mut (String, String));
    impl<'de> DeserializeSeed<'de> for Metadata<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Metadata<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("metadata")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match &*key {
                    "name" => self.0.0 = map.next_value()?,
                    "resourceVersion" => {
                        self.0.1 = map.next_value()?;
                        // The name comes first: everything needed is read.
                        return Err(serde::de::Error::custom(Done));
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut found = (String::new(), String::new());
    let mut de = serde_json::Deserializer::from_str(raw);
    let _ = de.deserialize_map(Found(&mut found));
    if found.0.is_empty() {
        found.1.clear();
    }
    found
}

/// Maps a weighted total onto the extender's 0..=10 range: `round(10 × total / max_total)`, where
/// `max_total` is 100 × the sum of the weights of the Score plugins that ran, so a node every plugin
/// scores 100 gets 10 and one every plugin scores 0 gets 0. kube-scheduler multiplies the answer by
/// 10 × the extender's `weight`, putting the extender on the same 0–100 scale as an in-tree plugin.
pub fn extender_score(total: i64, max_total: i64) -> i64 {
    if max_total <= 0 {
        return 0;
    }
    let total = total.clamp(0, max_total);
    ((total * MAX_EXTENDER_PRIORITY * 2 + max_total) / (2 * max_total)).clamp(0, MAX_EXTENDER_PRIORITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        let mut cluster = Cluster::new();
        let scheduler = Scheduler::from_config(&scheduler_core::SchedulerConfig::default(), &plugins::registry(), &mut cluster, 0).unwrap();
        State::new(cluster, scheduler, PodSource::Static)
    }

    #[test]
    fn pods_without_uid_are_told_apart_by_name_and_follow_their_node() {
        let yaml = "apiVersion: v1\nkind: List\nitems:\n\
            - {kind: Node, metadata: {name: n1}, status: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}}\n\
            - {kind: Pod, metadata: {name: a, namespace: x}, spec: {nodeName: n1, containers: [{name: c, image: i}]}}\n\
            - {kind: Pod, metadata: {name: b, namespace: x}, spec: {nodeName: n1, containers: [{name: c, image: i}]}}\n";
        let input = traces::parse_cluster(yaml, std::path::Path::new("c.yaml")).unwrap();
        let mut st = state();
        st.load(&input).unwrap();
        assert_eq!(st.counts(), StateCounts { nodes: 1, pods: 2, orphan_pods: 0 });
        // The node changes: its pods stay on it. It goes: they wait for it. It comes back: they are on it again.
        let mut node = input.nodes[0].def.clone();
        node.labels.push(("zone".into(), "z1".into()));
        st.apply_node(node.clone(), "2").unwrap();
        assert_eq!(st.counts(), StateCounts { nodes: 1, pods: 2, orphan_pods: 0 });
        st.delete_node("n1");
        assert_eq!(st.counts(), StateCounts { nodes: 0, pods: 0, orphan_pods: 2 });
        st.apply_node(node, "3").unwrap();
        assert_eq!(st.counts(), StateCounts { nodes: 1, pods: 2, orphan_pods: 0 });
        assert_eq!(st.cluster.n_pods(), 2);
        // A finished pod is forgotten.
        let mut a = input.pods[0].def.clone();
        a.start_time = None;
        st.apply_pod(a, "Succeeded").unwrap();
        assert_eq!(st.counts(), StateCounts { nodes: 1, pods: 1, orphan_pods: 0 });
        assert_eq!(st.cluster.n_pods(), 1);
    }

    #[test]
    fn services_reach_the_calls_pods_without_a_rebuild_and_a_rebuild_keeps_everything() {
        let yaml = "apiVersion: v1\nkind: List\nitems:\n\
            - {kind: Namespace, metadata: {name: x}}\n\
            - {kind: Node, metadata: {name: n1}, status: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}}\n\
            - {kind: Pod, metadata: {name: a, namespace: x, labels: {app: w}}, spec: {nodeName: n1, containers: [{name: c, image: i}]}}\n";
        let input = traces::parse_cluster(yaml, std::path::Path::new("c.yaml")).unwrap();
        let mut st = state();
        st.load(&input).unwrap();
        let generation = st.cluster.nodes_generation();
        st.apply_service(ServiceDef { namespace: "x".into(), name: "w".into(), selector: Some(vec![("app".into(), "w".into())]) });
        st.refresh();
        assert_eq!(st.cluster.nodes_generation(), generation, "no rebuild for a Service");
        let pod = st.cluster.compile_pod(&input.pods[0].def).unwrap();
        assert!(pod.default_spread_selector.is_some(), "a pod compiled now gets the Service's selector");
        st.delete_service("x", "w");
        st.refresh();
        assert!(st.cluster.compile_pod(&input.pods[0].def).unwrap().default_spread_selector.is_none());
        // A deleted namespace rebuilds: nodes, pods and ids stay consistent.
        st.delete_namespace("x");
        st.refresh();
        assert_ne!(st.cluster.nodes_generation(), generation);
        assert_eq!(st.counts(), StateCounts { nodes: 1, pods: 1, orphan_pods: 0 });
        assert_eq!((st.cluster.n_nodes(), st.cluster.n_pods()), (1, 1));
        assert_eq!(st.nodes["n1"].id, st.cluster.node_id("n1").unwrap());
    }

    #[test]
    fn gpu_sharing_pods_go_where_fgd_puts_them_and_keep_the_gpus_chosen_at_bind() {
        use scheduler_core::fragmentation::{TypicalPod, TypicalPods};
        use scheduler_core::gpu::GpuRequest;
        let node = |name: &str| {
            format!(
                "- {{kind: Node, metadata: {{name: {name}, labels: {{alibabacloud.com/gpu-card-model: T4}}}}, status: {{allocatable: \
                 {{cpu: '32', memory: 64Gi, pods: '110', nvidia.com/gpu: '2', alibabacloud.com/gpu-milli: '2000'}}}}}}\n"
            )
        };
        let yaml = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}{}\
             - {{kind: Pod, metadata: {{name: r, namespace: x, uid: r}}, spec: {{nodeName: a, containers: [{{name: c, image: i, \
             resources: {{requests: {{cpu: '1', alibabacloud.com/gpu-milli: '500'}}}}}}]}}}}\n",
            node("a"),
            node("b")
        );
        let input = traces::parse_cluster(&yaml, std::path::Path::new("c.yaml")).unwrap();
        // Half the pods want 500 milli-GPU, half a whole GPU.
        let kind =
            |milli| TypicalPod { milli_cpu: 1000, gpu: GpuRequest { count: 1, milli }, node_affinity: None, count: 1, frequency: 0.5 };
        let registry = plugins::registry_for_workload(std::sync::Arc::new(TypicalPods::new(vec![kind(500), kind(1000)])));
        let mut cluster = Cluster::new();
        let scheduler = Scheduler::from_config(&plugins::policy_config("fgd").unwrap(), &registry, &mut cluster, 0).unwrap();
        let mut st = State::new(cluster, scheduler, PodSource::Static);
        st.load(&input).unwrap();
        let body = br#"{"Pod": {"metadata": {"name": "p", "namespace": "x", "uid": "u1"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "1", "alibabacloud.com/gpu-milli": "500"}}}]}}, "NodeNames": ["a", "b"]}"#;
        let args: ExtenderArgs<'_> = crate::wire::decode(body).unwrap();
        assert_eq!(st.filter(&args).unwrap().node_names.unwrap().len(), 2);
        // a: the share fills r's half-used GPU (FGD 56 ⇒ 6 of 10); b: it would half-fill an idle GPU (43 ⇒ 4).
        let scores: Vec<i64> = st.prioritize(&args).unwrap().iter().map(|h| h.score).collect();
        assert_eq!(scores, [6, 4]);
        // Bind: Reserve gives it r's GPU, which the cluster then counts as full.
        let r_gpu = st.cluster.pods().find(|(_, b)| &*b.pod.name == "r").unwrap().1.pod.gpus;
        let gpus = st.reserve_gpus("u1", "a").unwrap();
        assert_eq!(gpus, r_gpu);
        st.record_binding("u1", "a", gpus).unwrap();
        let a = st.cluster.node(st.cluster.node_id("a").unwrap());
        assert_eq!(a.gpus.free().iter().filter(|&&f| f == 0).count(), 1);
        assert_eq!(st.reserve_gpus("unknown", "a").unwrap(), GpuSet::EMPTY);
    }

    #[test]
    fn extender_score_rounds_to_nearest() {
        let check = |total, max, expected| assert_eq!(extender_score(total, max), expected, "{total}/{max}");
        check(0, 300, 0);
        check(300, 300, 10);
        check(14, 300, 0);
        check(15, 300, 1);
        check(149, 300, 5);
        check(135, 300, 5);
        check(134, 300, 4);
        check(500, 300, 10);
        check(-5, 300, 0);
        check(50, 0, 0);
    }
}
