//! Cluster state: nodes in a dense arena, bound pods in a slab, and the zone-interleaved node order.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use foldhash::HashMap;

use crate::disruption::{PodDisruptionBudget, PodDisruptionBudgetDef};
use crate::error::ModelError;
use crate::gpu::GpuSet;
use crate::intern::{Interner, Symbol, well_known};
use crate::labels::Labels;
use crate::node::{Node, NodeDef, NodeId, NodeInfo, PodId};
use crate::owners::{ControllerDef, Owners, ServiceDef};
use crate::pod::{Pod, PodDef};

/// A pod bound to a node.
#[derive(Clone, Debug)]
pub struct BoundPod {
    /// The pod.
    pub pod: Pod,
    /// Its node.
    pub node: NodeId,
    /// Its position in the node's [`NodeInfo::pods`], so that removing it takes no search.
    index_in_node: u32,
    /// Whether the pod is being deleted because preemption chose it as a victim (upstream: a deletion
    /// timestamp and the `DisruptionTarget` condition with reason `PreemptionByScheduler`). It keeps its
    /// resources until it is removed.
    pub terminating: bool,
}

/// A pod nominated to a node by preemption (upstream `status.nominatedNodeName`, kept by the scheduling
/// queue's nominator): it is not bound, but pods of lower or equal priority must leave it room there.
#[derive(Clone, Debug)]
pub struct NominatedPod {
    /// The pod.
    pub pod: Pod,
    /// The node it is nominated to.
    pub node: NodeId,
}

/// Why a cluster update was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// A node definition did not compile.
    #[error("failed to add node {name:?}: {source}")]
    Node {
        /// Node name.
        name: String,
        /// The field error.
        source: ModelError,
    },
    /// A pod definition did not compile.
    #[error("failed to add pod {pod:?}: {source}")]
    Pod {
        /// Pod name.
        pod: String,
        /// The field error.
        source: ModelError,
    },
    /// Two nodes with one name.
    #[error("node {0:?} already exists")]
    DuplicateNode(String),
    /// A Service or controller definition was refused.
    #[error("failed to add {kind} {name:?}: {source}")]
    Object {
        /// The object's kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The field error.
        source: ModelError,
    },
    /// A PodDisruptionBudget definition did not compile.
    #[error("failed to add PodDisruptionBudget {name:?}: {source}")]
    Budget {
        /// Budget name.
        name: String,
        /// The field error.
        source: ModelError,
    },
    /// A pod names a node the cluster does not have.
    #[error("pod {pod} is bound to node {node:?}, which is not in the cluster")]
    UnknownNode {
        /// `<namespace>/<name>`.
        pod: String,
        /// The node name.
        node: String,
    },
}

#[derive(Clone, Debug)]
struct Zone {
    key: (Symbol, Symbol),
    nodes: Vec<NodeId>,
}

/// The cluster: nodes, pods bound to them, and the interner their symbols come from.
///
/// Adding or removing a pod updates its node's aggregates in O(1) (plus the node's port list); adding or
/// removing a node rebuilds the node order in O(nodes).
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    interner: Interner,
    /// Nodes by id. A removed node stays as a tombstone (its pods gone, generation 0 in `generations`), so
    /// that finding a node by id is address arithmetic, with no read of its memory.
    nodes: Vec<NodeInfo>,
    node_by_name: HashMap<Symbol, NodeId>,
    zones: Vec<Zone>,
    /// The node order, rebuilt on first use after nodes change, with each node's position in it.
    order: OnceLock<(Vec<NodeId>, Vec<u32>)>,
    pods: Vec<Option<BoundPod>>,
    free_pod_slots: Vec<PodId>,
    n_pods: usize,
    images: HashMap<Symbol, ImageState>,
    /// Changes whenever a node is added or removed (a process-wide unique number, like node generations).
    nodes_generation: u64,
    /// Changes whenever anything in the cluster changes (a pod or a node added or removed).
    state_generation: u64,
    /// Each node's generation ([`NodeInfo::generation`]), densely by id, 0 for removed nodes: whether a
    /// node is there, and what the scheduler's memo checks for every node of a cycle, 8 bytes each instead
    /// of a NodeInfo's cache line.
    generations: Vec<u64>,
    /// Namespaces by name with their labels: those given, and those of pods added (with the label the API
    /// server puts on every namespace, `kubernetes.io/metadata.name`).
    namespaces: BTreeMap<Symbol, Labels>,
    /// The nodes whose pods changed, each with the state generation the change produced, oldest first
    /// (emptied when nodes change, halved when long): what lets a plugin that keeps counts per node catch up
    /// with the cluster by visiting only the nodes that changed since it last looked.
    journal: Vec<(u64, NodeId)>,
    /// Pods with inter-pod affinity terms, and those among them with required anti-affinity terms.
    n_pods_with_affinity: usize,
    n_pods_with_required_anti_affinity: usize,
    /// Pods nominated to nodes, in nomination order.
    nominated: Vec<NominatedPod>,
    /// How many nominated pods each node has, so that a node without any costs one lookup.
    nominated_per_node: HashMap<NodeId, u32>,
    /// Changes whenever a nomination is added or removed.
    nominations_generation: u64,
    /// PodDisruptionBudgets.
    pdbs: Vec<PodDisruptionBudget>,
    /// How many bound pods have each priority.
    priorities: BTreeMap<i32, u32>,
    /// Services and controllers, for default topology spreading.
    owners: Owners,
}

fn implicit_namespace_labels(name: Symbol) -> Labels {
    let mut labels = Labels::default();
    labels.insert(well_known::LABEL_METADATA_NAME, name);
    labels
}

/// What the cluster knows of an image name (upstream `ImageStateSummary`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageState {
    /// Size in bytes, as reported by the first node that listed the name.
    pub size_bytes: i64,
    /// Number of nodes listing the name.
    pub n_nodes: u32,
}

impl Cluster {
    /// An empty cluster.
    pub fn new() -> Cluster {
        Cluster::default()
    }

    /// An empty cluster reusing `interner` (so symbols compiled elsewhere stay valid).
    pub fn with_interner(interner: Interner) -> Cluster {
        Cluster { interner, ..Cluster::default() }
    }

    /// The interner.
    #[inline]
    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// The interner, to compile definitions against this cluster.
    pub fn interner_mut(&mut self) -> &mut Interner {
        &mut self.interner
    }

    /// Compiles a pod definition against this cluster's interner. The pod's default spreading selector comes from the Services and controllers added before.
    pub fn compile_pod(&mut self, def: &PodDef) -> Result<Pod, ModelError> {
        let mut pod = Pod::compile(def, &mut self.interner)?;
        if !self.owners.is_empty() {
            pod.default_spread_selector = self.owners.default_selector(&def.namespace, &def.labels, def.owner.as_ref(), &mut self.interner);
        }
        Ok(pod)
    }

    /// Adds a Service: pods it selects, compiled from now on, get its selector in their default topology
    /// spreading.
    pub fn add_service(&mut self, def: &ServiceDef) -> Result<(), ClusterError> {
        self.owners.add_service(def).map_err(|source| ClusterError::Object { kind: "Service", name: def.name.clone(), source })
    }

    /// Forgets every Service and controller (to add the current set again). Pods already compiled keep
    /// their default spreading selector: it is read only when that pod is scheduled.
    pub fn clear_owners(&mut self) {
        self.owners = Owners::default();
    }

    /// Adds a ReplicationController, ReplicaSet or StatefulSet: pods it controls, compiled from now on, get
    /// its selector in their default topology spreading.
    pub fn add_controller(&mut self, def: &ControllerDef) -> Result<(), ClusterError> {
        self.owners.add_controller(def, &mut self.interner).map_err(|source| ClusterError::Object {
            kind: def.kind.as_str(),
            name: def.name.clone(),
            source,
        })
    }

    /// Compiles and adds a node.
    pub fn add_node(&mut self, def: &NodeDef) -> Result<NodeId, ClusterError> {
        let node = Node::compile(def, &mut self.interner).map_err(|source| ClusterError::Node { name: def.name.clone(), source })?;
        self.insert_node(node)
    }

    /// Adds a compiled node. Its place in the node order follows upstream's node tree: appended to its zone.
    pub fn insert_node(&mut self, node: Node) -> Result<NodeId, ClusterError> {
        if self.node_by_name.contains_key(&node.name_symbol) {
            return Err(ClusterError::DuplicateNode(node.name.to_string()));
        }
        let id = NodeId(u32::try_from(self.nodes.len()).expect("more than 2^32 nodes"));
        for &(image, size_bytes) in &node.images {
            self.images.entry(image).or_insert(ImageState { size_bytes, n_nodes: 0 }).n_nodes += 1;
        }
        self.node_by_name.insert(node.name_symbol, id);
        match self.zones.iter_mut().find(|z| z.key == node.zone_key) {
            Some(zone) => zone.nodes.push(id),
            None => self.zones.push(Zone { key: node.zone_key, nodes: vec![id] }),
        }
        let info = NodeInfo::new(node, id);
        self.generations.push(info.generation);
        self.nodes.push(info);
        self.order = OnceLock::new();
        self.nodes_generation = crate::node::next_generation();
        self.state_generation = self.nodes_generation;
        self.journal.clear();
        Ok(id)
    }

    /// Removes a node and every pod bound to it; returns the removed pods.
    pub fn remove_node(&mut self, id: NodeId) -> Vec<Pod> {
        if self.node_generation(id) == 0 {
            return Vec::new();
        }
        self.generations[id.index()] = 0;
        let tombstone = &mut self.nodes[id.index()];
        let info = NodeInfo {
            pods: std::mem::take(&mut tombstone.pods),
            used_ports: std::mem::take(&mut tombstone.used_ports),
            requested: std::mem::take(&mut tombstone.requested),
            gpus: std::mem::take(&mut tombstone.gpus),
            node: tombstone.node.clone(),
            ..*tombstone
        };
        for &(image, _) in &info.node.images {
            if let Some(state) = self.images.get_mut(&image) {
                state.n_nodes -= 1;
                if state.n_nodes == 0 {
                    self.images.remove(&image);
                }
            }
        }
        self.node_by_name.remove(&info.node.name_symbol);
        if let Some(zone_idx) = self.zones.iter().position(|z| z.key == info.node.zone_key) {
            self.zones[zone_idx].nodes.retain(|&n| n != id);
            if self.zones[zone_idx].nodes.is_empty() {
                self.zones.remove(zone_idx);
            }
        }
        self.order = OnceLock::new();
        self.nodes_generation = crate::node::next_generation();
        self.state_generation = self.nodes_generation;
        self.journal.clear();
        let nominated_here: Vec<Box<str>> = self.nominated.iter().filter(|n| n.node == id).map(|n| n.pod.uid.clone()).collect();
        for uid in nominated_here {
            self.clear_nomination(&uid);
        }
        let mut removed = Vec::with_capacity(info.pods.len());
        for pod_id in info.pods {
            if let Some(bound) = self.pods[pod_id.index()].take() {
                self.free_pod_slots.push(pod_id);
                self.n_pods -= 1;
                self.count_affinity(&bound.pod, false);
                self.count_priority(bound.pod.priority, false);
                let mut pod = bound.pod;
                pod.gpus = GpuSet::EMPTY;
                removed.push(pod);
            }
        }
        removed
    }

    /// Upstream `nodeTree.list()`: zones in first-seen order, interleaved round-robin.
    fn interleaved_order(&self) -> Vec<NodeId> {
        let mut order = Vec::with_capacity(self.node_by_name.len());
        let longest = self.zones.iter().map(|z| z.nodes.len()).max().unwrap_or(0);
        for idx in 0..longest {
            for zone in &self.zones {
                if let Some(&n) = zone.nodes.get(idx) {
                    order.push(n);
                }
            }
        }
        order
    }

    /// Binds `pod` to `node`, accounting its requests there. No fit check: this records what runs. A pod
    /// asking for GPUs keeps the GPUs in [`Pod::gpus`] if set (what a Reserve plugin chose), else gets
    /// [`NodeInfo::assignment_of`].
    pub fn add_pod(&mut self, mut pod: Pod, node: NodeId) -> PodId {
        let id = match self.free_pod_slots.pop() {
            Some(id) => id,
            None => {
                self.pods.push(None);
                PodId(u32::try_from(self.pods.len() - 1).expect("more than 2^32 pods"))
            }
        };
        assert!(self.node_generation(node) != 0, "add_pod on a removed node");
        let info = &mut self.nodes[node.index()];
        if !pod.gpu.is_none() && pod.gpus.is_empty() {
            pod.gpus = info.assignment_of(&pod);
        }
        let index_in_node = info.pods.len() as u32;
        info.add_pod(id, &pod);
        self.generations[node.index()] = info.generation;
        self.state_generation = info.generation;
        self.record_change(node);
        self.count_affinity(&pod, true);
        self.count_priority(pod.priority, true);
        self.namespaces.entry(pod.namespace).or_insert_with(|| implicit_namespace_labels(pod.namespace));
        self.pods[id.index()] = Some(BoundPod { pod, node, index_in_node, terminating: false });
        self.n_pods += 1;
        id
    }

    /// Compiles a pod definition and binds it to the node its `spec.nodeName` names.
    pub fn add_running_pod(&mut self, def: &PodDef) -> Result<PodId, ClusterError> {
        let pod = self.compile_pod(def).map_err(|source| ClusterError::Pod { pod: def.name.clone(), source })?;
        let node = pod.node_name.and_then(|n| self.node_by_name.get(&n).copied());
        let Some(node) = node else {
            return Err(ClusterError::UnknownNode { pod: pod.key(&self.interner), node: def.node_name.clone() });
        };
        Ok(self.add_pod(pod, node))
    }

    /// Unbinds a pod and returns it, without its GPUs.
    pub fn remove_pod(&mut self, id: PodId) -> Option<Pod> {
        let bound = self.pods.get_mut(id.index())?.take()?;
        if self.node_generation(bound.node) != 0 {
            let info = &mut self.nodes[bound.node.index()];
            let moved = info.remove_pod_at(bound.index_in_node as usize, id, &bound.pod);
            self.generations[bound.node.index()] = info.generation;
            self.state_generation = info.generation;
            self.record_change(bound.node);
            if let Some(moved_bound) = moved.and_then(|m| self.pods.get_mut(m.index())).and_then(Option::as_mut) {
                moved_bound.index_in_node = bound.index_in_node;
            }
        } else {
            self.state_generation = crate::node::next_generation();
        }
        self.free_pod_slots.push(id);
        self.n_pods -= 1;
        self.count_affinity(&bound.pod, false);
        self.count_priority(bound.pod.priority, false);
        let mut pod = bound.pod;
        pod.gpus = GpuSet::EMPTY;
        Some(pod)
    }

    fn record_change(&mut self, node: NodeId) {
        if self.journal.len() >= 4 * self.nodes.len().max(1024) {
            self.journal.drain(..self.journal.len() / 2);
        }
        self.journal.push((self.state_generation, node));
    }

    fn count_priority(&mut self, priority: i32, added: bool) {
        if added {
            *self.priorities.entry(priority).or_default() += 1;
        } else if let Some(n) = self.priorities.get_mut(&priority) {
            *n -= 1;
            if *n == 0 {
                self.priorities.remove(&priority);
            }
        }
    }

    /// The lowest priority of a bound pod; `None` without pods.
    pub fn min_pod_priority(&self) -> Option<i32> {
        self.priorities.keys().next().copied()
    }

    fn count_affinity(&mut self, pod: &Pod, added: bool) {
        if let Some(affinity) = &pod.affinity {
            let anti = usize::from(!affinity.required_anti_affinity.is_empty());
            if added {
                self.n_pods_with_affinity += 1;
                self.n_pods_with_required_anti_affinity += anti;
            } else {
                self.n_pods_with_affinity -= 1;
                self.n_pods_with_required_anti_affinity -= anti;
            }
        }
    }

    /// The nodes whose pods changed after the cluster was at state `generation` (a value of
    /// [`Cluster::state_generation`]), oldest first, possibly repeated; `None` when that is no longer known
    /// (nodes were added or removed since, the record was shortened, or the generation is not one of this
    /// cluster's): the caller then starts over from the whole cluster.
    pub fn nodes_changed_since(&self, generation: u64) -> Option<impl ExactSizeIterator<Item = NodeId> + '_> {
        let start = if generation == self.state_generation {
            self.journal.len()
        } else {
            let idx = self.journal.binary_search_by_key(&generation, |&(g, _)| g).ok()?;
            idx + 1
        };
        Some(self.journal[start..].iter().map(|&(_, n)| n))
    }

    /// Adds a namespace (or replaces its labels); the API server's `kubernetes.io/metadata.name` label is
    /// set to the name whatever `labels` say.
    pub fn add_namespace(&mut self, name: &str, labels: &[(String, String)]) {
        let name = self.interner.intern(name);
        let mut set = Labels::new(&mut self.interner, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        set.insert(well_known::LABEL_METADATA_NAME, name);
        self.namespaces.insert(name, set);
        self.state_generation = crate::node::next_generation();
        self.journal.clear();
    }

    /// The labels of namespace `name`: those given to [`Cluster::add_namespace`], else (a namespace known
    /// only from pods, or not at all) the one label the API server sets, `kubernetes.io/metadata.name`.
    pub fn namespace_labels(&self, name: Symbol) -> Labels {
        self.namespaces.get(&name).cloned().unwrap_or_else(|| implicit_namespace_labels(name))
    }

    /// The namespaces known, by name: those added and those of pods bound.
    pub fn namespaces(&self) -> impl Iterator<Item = (Symbol, &Labels)> {
        self.namespaces.iter().map(|(&n, l)| (n, l))
    }

    /// Number of bound pods with inter-pod affinity or anti-affinity terms.
    pub fn n_pods_with_affinity(&self) -> usize {
        self.n_pods_with_affinity
    }

    /// Number of bound pods with required anti-affinity terms.
    pub fn n_pods_with_required_anti_affinity(&self) -> usize {
        self.n_pods_with_required_anti_affinity
    }

    /// A number for the cluster's current state: it changes whenever a pod or a node is added or removed
    /// (a process-wide unique number, like node generations).
    #[inline]
    pub fn state_generation(&self) -> u64 {
        self.state_generation
    }

    /// The generation of node `id`'s current state ([`NodeInfo::generation`]); 0 for a removed node.
    #[inline]
    pub fn node_generation(&self, id: NodeId) -> u64 {
        self.generations.get(id.index()).copied().unwrap_or(0)
    }

    /// The nodes of `ids`, which come from [`Cluster::node_order`] (so none was removed): no check beyond
    /// the index, which is what a cycle wants for hundreds of nodes at a time.
    pub fn nodes_in_order<'a, 'b>(&'a self, ids: &'b [NodeId]) -> impl ExactSizeIterator<Item = &'a NodeInfo> + use<'a, 'b> {
        ids.iter().map(|id| &self.nodes[id.index()])
    }

    /// A node by id.
    ///
    /// # Panics
    /// If the node was removed.
    #[inline]
    pub fn node(&self, id: NodeId) -> &NodeInfo {
        assert!(self.node_generation(id) != 0, "node was removed");
        &self.nodes[id.index()]
    }

    /// A node by id, if it exists.
    pub fn get_node(&self, id: NodeId) -> Option<&NodeInfo> {
        (self.node_generation(id) != 0).then(|| &self.nodes[id.index()])
    }

    /// The id of the node named `name`.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_by_name.get(&self.interner.get(name)?).copied()
    }

    /// The id of the node whose interned name is `name`.
    pub fn node_id_by_symbol(&self, name: Symbol) -> Option<NodeId> {
        self.node_by_name.get(&name).copied()
    }

    /// Nodes in the scheduler's order (upstream's node tree list: zones interleaved).
    #[inline]
    pub fn node_order(&self) -> &[NodeId] {
        &self.order_and_ranks().0
    }

    /// The position of a node in [`Cluster::node_order`].
    #[inline]
    pub fn node_rank(&self, id: NodeId) -> usize {
        self.order_and_ranks().1.get(id.index()).map_or(usize::MAX, |&r| r as usize)
    }

    fn order_and_ranks(&self) -> &(Vec<NodeId>, Vec<u32>) {
        self.order.get_or_init(|| {
            let order = self.interleaved_order();
            let mut ranks = vec![u32::MAX; self.nodes.len()];
            for (rank, id) in order.iter().enumerate() {
                ranks[id.index()] = rank as u32;
            }
            (order, ranks)
        })
    }

    /// Number of nodes.
    #[inline]
    pub fn n_nodes(&self) -> usize {
        self.node_by_name.len()
    }

    /// Number of bound pods.
    pub fn n_pods(&self) -> usize {
        self.n_pods
    }

    /// A bound pod.
    pub fn pod(&self, id: PodId) -> Option<&BoundPod> {
        self.pods.get(id.index()).and_then(Option::as_ref)
    }

    /// Bound pods with their ids.
    pub fn pods(&self) -> impl Iterator<Item = (PodId, &BoundPod)> {
        self.pods.iter().enumerate().filter_map(|(idx, p)| p.as_ref().map(|p| (PodId(idx as u32), p)))
    }

    /// Changes whenever a node is added or removed; equal values mean the same set of nodes.
    pub fn nodes_generation(&self) -> u64 {
        self.nodes_generation
    }

    /// One more than the largest node id ever used (the size of per-node tables).
    pub fn node_capacity(&self) -> usize {
        self.nodes.len()
    }

    /// Nominates `pod` to `node` (replacing its earlier nomination, if any): pods of lower or equal
    /// priority are then filtered as if it ran there (upstream's filters with nominated pods).
    pub fn nominate(&mut self, pod: Pod, node: NodeId) {
        self.clear_nomination(&pod.uid);
        *self.nominated_per_node.entry(node).or_default() += 1;
        self.nominated.push(NominatedPod { pod, node });
        self.nominations_generation = crate::node::next_generation();
    }

    /// Removes the nomination of the pod with `uid`; returns it.
    pub fn clear_nomination(&mut self, uid: &str) -> Option<NominatedPod> {
        let idx = self.nominated.iter().position(|n| &*n.pod.uid == uid)?;
        let nominated = self.nominated.remove(idx);
        if let Some(count) = self.nominated_per_node.get_mut(&nominated.node) {
            *count -= 1;
            if *count == 0 {
                self.nominated_per_node.remove(&nominated.node);
            }
        }
        self.nominations_generation = crate::node::next_generation();
        Some(nominated)
    }

    /// The node the pod with `uid` is nominated to.
    pub fn nomination(&self, uid: &str) -> Option<NodeId> {
        if self.nominated.is_empty() {
            return None;
        }
        self.nominated.iter().find(|n| &*n.pod.uid == uid).map(|n| n.node)
    }

    /// Every nomination, oldest first.
    pub fn nominations(&self) -> &[NominatedPod] {
        &self.nominated
    }

    /// The pods nominated to `node`, oldest first.
    pub fn nominated_pods(&self, node: NodeId) -> impl Iterator<Item = &Pod> {
        let any = self.nominated_per_node.contains_key(&node);
        self.nominated.iter().filter(move |n| any && n.node == node).map(|n| &n.pod)
    }

    /// Whether any pod is nominated to `node`.
    #[inline]
    pub fn has_nominated_pods(&self, node: NodeId) -> bool {
        !self.nominated_per_node.is_empty() && self.nominated_per_node.contains_key(&node)
    }

    /// Changes whenever a nomination is added or removed.
    pub fn nominations_generation(&self) -> u64 {
        self.nominations_generation
    }

    /// Marks a bound pod as terminating because preemption evicts it; `false` if there is no such pod.
    pub fn set_terminating(&mut self, id: PodId) -> bool {
        let Some(bound) = self.pods.get_mut(id.index()).and_then(Option::as_mut) else { return false };
        if bound.terminating {
            return true;
        }
        bound.terminating = true;
        // A state change of the node: PodTopologySpread stops counting the pod.
        let node = bound.node;
        if self.node_generation(node) != 0 {
            let generation = crate::node::next_generation();
            self.nodes[node.index()].generation = generation;
            self.generations[node.index()] = generation;
            self.state_generation = generation;
            self.record_change(node);
        }
        true
    }

    /// Compiles and adds a PodDisruptionBudget.
    pub fn add_pdb(&mut self, def: &PodDisruptionBudgetDef) -> Result<(), ClusterError> {
        let pdb = PodDisruptionBudget::compile(def, &mut self.interner)
            .map_err(|source| ClusterError::Budget { name: def.name.clone(), source })?;
        self.pdbs.push(pdb);
        Ok(())
    }

    /// Removes every PodDisruptionBudget (to add the current set again: budgets change nothing else).
    pub fn clear_pdbs(&mut self) {
        self.pdbs.clear();
    }

    /// The PodDisruptionBudgets.
    pub fn pdbs(&self) -> &[PodDisruptionBudget] {
        &self.pdbs
    }

    /// How many more pods budget `pdb` (an index in [`Cluster::pdbs`]) lets be disrupted now: its
    /// `status.disruptionsAllowed` when given, else computed from its spec over the bound pods it covers
    /// (terminating ones count as expected, not as healthy).
    pub fn disruptions_allowed(&self, pdb: usize) -> i32 {
        let budget = &self.pdbs[pdb];
        if let Some(allowed) = budget.disruptions_allowed {
            return allowed;
        }
        let (mut expected, mut healthy) = (0i64, 0i64);
        for (_, bound) in self.pods().filter(|(_, b)| budget.covers(b.pod.namespace, &b.pod.labels)) {
            expected += 1;
            healthy += i64::from(!bound.terminating);
        }
        budget.computed_disruptions_allowed(expected, healthy)
    }

    /// The cluster-wide state of an image name: its size and how many nodes have it (ImageLocality).
    #[inline]
    pub fn image_state(&self, name: Symbol) -> Option<ImageState> {
        self.images.get(&name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn node_order_interleaves_zones_in_first_seen_order() {
        let mut c = Cluster::new();
        for (name, zone) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")] {
            c.add_node(&node(name).label("topology.kubernetes.io/zone", zone).def).unwrap();
        }
        let names: Vec<&str> = c.node_order().iter().map(|&id| &*c.node(id).node.name).collect();
        assert_eq!(names, ["a1", "b1", "c1", "a2", "b2", "a3"]);
        c.remove_node(c.node_id("b1").unwrap());
        let names: Vec<&str> = c.node_order().iter().map(|&id| &*c.node(id).node.name).collect();
        assert_eq!(names, ["a1", "b2", "c1", "a2", "a3"]);
    }

    #[test]
    fn beta_zone_label_wins() {
        let mut c = Cluster::new();
        c.add_node(&node("x").label("topology.kubernetes.io/zone", "a").label("failure-domain.beta.kubernetes.io/zone", "b").def).unwrap();
        let zone = c.node(c.node_id("x").unwrap()).node.zone_key.1;
        assert_eq!(c.interner().resolve(zone), "b");
    }

    #[test]
    fn adding_and_removing_pods_updates_aggregates() {
        let mut c = Cluster::new();
        let n = c.add_node(&node("n").cpu("4").memory("8Gi").def).unwrap();
        let p1 = c.compile_pod(&pod("p1").container(&[("cpu", "1")]).def).unwrap();
        let p2 = c.compile_pod(&pod("p2").container(&[("memory", "1Gi")]).def).unwrap();
        let id1 = c.add_pod(p1, n);
        let _id2 = c.add_pod(p2, n);
        let info = c.node(n);
        assert_eq!((info.requested.milli_cpu, info.requested.memory, info.n_pods()), (1000, 1 << 30, 2));
        assert_eq!((info.non_zero_requested_milli_cpu, info.non_zero_requested_memory), (1100, (1 << 30) + (200 << 20)));
        c.remove_pod(id1);
        let info = c.node(n);
        assert_eq!((info.requested.milli_cpu, info.n_pods(), c.n_pods()), (0, 1, 1));
    }

    #[test]
    fn duplicate_node_names_are_refused() {
        let mut c = Cluster::new();
        c.add_node(&node("n").def).unwrap();
        assert_eq!(c.add_node(&node("n").def), Err(ClusterError::DuplicateNode("n".into())));
    }

    proptest::proptest! {
        #[test]
        fn pods_stay_where_they_were_bound_through_any_adds_and_removes(ops in proptest::collection::vec((0usize..3, 0usize..40, proptest::bool::ANY), 1..200)) {
            let mut c = Cluster::new();
            let nodes: Vec<NodeId> = (0..3).map(|i| c.add_node(&node(&format!("n{i}")).cpu("100").def).unwrap()).collect();
            let mut bound: Vec<(PodId, NodeId)> = Vec::new();
            for (k, (node_idx, pick, add)) in ops.into_iter().enumerate() {
                if add || bound.is_empty() {
                    let p = c.compile_pod(&pod(&format!("p{k}")).container(&[("cpu", "1")]).def).unwrap();
                    bound.push((c.add_pod(p, nodes[node_idx]), nodes[node_idx]));
                } else {
                    let (id, _) = bound.swap_remove(pick % bound.len());
                    proptest::prop_assert!(c.remove_pod(id).is_some());
                }
                for &n in &nodes {
                    let mut want: Vec<PodId> = bound.iter().filter(|&&(_, on)| on == n).map(|&(id, _)| id).collect();
                    let mut got = c.node(n).pods.clone();
                    want.sort();
                    got.sort();
                    proptest::prop_assert_eq!(&got, &want);
                    proptest::prop_assert_eq!(c.node(n).requested.milli_cpu, 1000 * want.len() as i64);
                }
            }
        }
    }
}
