//! Nodes: [`NodeDef`] is the plain-data definition; [`Node`] the compiled static part; [`NodeInfo`] adds
//! the aggregates of the pods bound to it, kept up to date incrementally by the cluster.

use std::sync::atomic::{AtomicU64, Ordering};

use smallvec::SmallVec;

use crate::divisor::Divisor;
use crate::error::ModelError;
use crate::gpu::{GpuDevices, GpuSet, node_gpu_count};
use crate::intern::{Interner, Symbol, well_known};
use crate::labels::Labels;
use crate::pod::{HostPort, Pod};
use crate::resources::{ResourceList, Resources};
use crate::selector::NodeFacts;
use crate::taint::{Taint, TaintEffect};

/// A node taint as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaintDef {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// An image present on a node (`status.images[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageDef {
    /// Every name the image is known by.
    pub names: Vec<String>,
    /// Size in bytes.
    pub size_bytes: i64,
}

/// A node as plain data: the parts of a `v1.Node` the scheduler reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeDef {
    /// `metadata.name`; required.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Vec<(String, String)>,
    /// `spec.taints`.
    pub taints: Vec<TaintDef>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// `status.allocatable`: (name, quantity) pairs.
    pub allocatable: Vec<(String, String)>,
    /// `status.images`.
    pub images: Vec<ImageDef>,
}

/// The static part of a node. The layout is fixed (`repr(C)`): the fields filters and scorers read on
/// every node come first (see [`NodeInfo`]).
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub struct Node {
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// Whether any taint has effect `NoSchedule` or `NoExecute`.
    pub has_hard_taints: bool,
    /// Number of `PreferNoSchedule` taints.
    pub n_prefer_no_schedule_taints: u32,
    /// Allocatable resources.
    pub allocatable: Resources,
    /// Allocatable CPU and memory as divisors (resource scorers divide by them on every node).
    pub allocatable_divisors: [Divisor; 2],
    /// Name, interned (for `matchFields` on `metadata.name`).
    pub name_symbol: Symbol,
    /// Name.
    pub name: Box<str>,
    /// Labels.
    pub labels: Labels,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Image names (each name of each image, first listing wins) with the image's size, sorted by symbol.
    pub images: Vec<(Symbol, i64)>,
    /// The node tree's zone key: (region, zone), preferring the deprecated beta labels as upstream does.
    pub zone_key: (Symbol, Symbol),
    /// Number of GPU devices (see [`crate::gpu`]).
    pub gpu_count: u32,
}

impl Node {
    /// Compiles `def`; errors name the field.
    pub fn compile(def: &NodeDef, interner: &mut Interner) -> Result<Node, ModelError> {
        if def.name.is_empty() {
            return Err(ModelError::new("metadata.name", "is required"));
        }
        let labels = Labels::new(interner, def.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let taints: Vec<Taint> =
            def.taints.iter().map(|t| Taint { key: interner.intern(&t.key), value: interner.intern(&t.value), effect: t.effect }).collect();
        let allocatable = Resources::from_list(&ResourceList::parse(&def.allocatable, interner, "status.allocatable")?);
        let mut images: Vec<(Symbol, i64)> = Vec::new();
        for image in &def.images {
            for name in &image.names {
                let sym = interner.intern(name);
                if !images.iter().any(|&(s, _)| s == sym) {
                    images.push((sym, image.size_bytes));
                }
            }
        }
        images.sort_unstable();
        let zone = labels.get(well_known::LABEL_ZONE_BETA).or_else(|| labels.get(well_known::LABEL_ZONE)).unwrap_or(well_known::EMPTY);
        let region =
            labels.get(well_known::LABEL_REGION_BETA).or_else(|| labels.get(well_known::LABEL_REGION)).unwrap_or(well_known::EMPTY);
        let gpu_count = node_gpu_count(&allocatable)?;
        Ok(Node {
            gpu_count,
            name: def.name.as_str().into(),
            name_symbol: interner.intern(&def.name),
            has_hard_taints: taints.iter().any(|t| t.effect.is_hard()),
            n_prefer_no_schedule_taints: taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule).count() as u32,
            labels,
            taints,
            unschedulable: def.unschedulable,
            allocatable_divisors: [Divisor::new(allocatable.milli_cpu), Divisor::new(allocatable.memory)],
            allocatable,
            images,
            zone_key: (region, zone),
        })
    }

    /// The facts a node selector reads.
    #[inline]
    pub fn facts(&self) -> NodeFacts<'_> {
        NodeFacts { name: self.name_symbol, labels: &self.labels }
    }

    /// Whether the node lists an image named `name`.
    #[inline]
    pub fn has_image(&self, name: Symbol) -> bool {
        self.images.binary_search_by_key(&name, |&(s, _)| s).is_ok()
    }
}

/// Index of a node in its [`crate::Cluster`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a pod bound in a [`crate::Cluster`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PodId(pub u32);

impl PodId {
    /// The id a pod that is not bound (a nominated pod) has in a copy of a node it is simulated on.
    pub const UNBOUND: PodId = PodId(u32::MAX);

    /// The index as `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A node with the aggregates of its pods (upstream `framework.NodeInfo`).
///
/// The layout is fixed (`repr(C)`) so that what every filter and scorer reads (requested and non-zero
/// requested amounts, pod count, node flags, allocatable cpu, memory and pods) lies in the first two
/// cache lines; names, labels, taints and images follow.
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub struct NodeInfo {
    /// Sum of the pods' effective requests.
    pub requested: Resources,
    /// Sum of the pods' CPU requests with non-zero defaults (scoring), millicores.
    pub non_zero_requested_milli_cpu: i64,
    /// Sum of the pods' memory requests with non-zero defaults (scoring), bytes.
    pub non_zero_requested_memory: i64,
    /// A process-wide unique number for this state of the node: every change takes a new one, and a clone
    /// keeps it. Equal generations mean equal states, which lets the scheduler reuse per-node results.
    pub generation: u64,
    /// Pods bound to the node.
    pub pods: Vec<PodId>,
    /// The node.
    pub node: Node,
    /// Host ports in use, one entry per pod port (a multiset).
    pub used_ports: SmallVec<[HostPort; 2]>,
    /// The node's id in its cluster.
    pub id: NodeId,
    /// The milli-GPU free on each of the node's GPUs.
    pub gpus: GpuDevices,
}

/// A number no node state has had.
pub(crate) fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl NodeInfo {
    /// A node with no pods, known by `id` in its cluster.
    pub fn new(node: Node, id: NodeId) -> NodeInfo {
        NodeInfo {
            gpus: GpuDevices::new(node.gpu_count),
            node,
            requested: Resources::default(),
            non_zero_requested_milli_cpu: 0,
            non_zero_requested_memory: 0,
            pods: Vec::new(),
            used_ports: SmallVec::new(),
            id,
            generation: next_generation(),
        }
    }

    /// Number of pods on the node.
    #[inline]
    pub fn n_pods(&self) -> usize {
        self.pods.len()
    }

    /// Accounts `pod` (bound as `id`) on this node.
    pub fn add_pod(&mut self, id: PodId, pod: &Pod) {
        self.requested.add(&pod.requests);
        self.non_zero_requested_milli_cpu = self.non_zero_requested_milli_cpu.saturating_add(pod.non_zero_milli_cpu);
        self.non_zero_requested_memory = self.non_zero_requested_memory.saturating_add(pod.non_zero_memory);
        self.used_ports.extend(pod.host_ports.iter().copied());
        if !pod.gpu.is_none() {
            // A pod never bound through the cluster (a nominated pod placed in a copy) has no GPUs yet.
            let gpus = if pod.gpus.is_empty() { self.assignment_of(pod) } else { pod.gpus };
            self.gpus.take(gpus, pod.gpu.milli);
        }
        self.pods.push(id);
        self.generation = next_generation();
    }

    /// Removes `pod` (bound as `id`); the last pod takes its place in [`NodeInfo::pods`], as upstream does.
    pub fn remove_pod(&mut self, id: PodId, pod: &Pod) {
        if let Some(idx) = self.pods.iter().position(|&p| p == id) {
            self.remove_pod_at(idx, id, pod);
        }
    }

    /// Removes `pod` (bound as `id`, at `idx` in [`NodeInfo::pods`]); the last pod takes its place, as
    /// upstream does, and is returned. Nothing happens when `idx` does not hold `id`.
    pub fn remove_pod_at(&mut self, idx: usize, id: PodId, pod: &Pod) -> Option<PodId> {
        if self.pods.get(idx) == Some(&id) {
            self.pods.swap_remove(idx);
            self.requested.sub(&pod.requests);
            self.non_zero_requested_milli_cpu = self.non_zero_requested_milli_cpu.saturating_sub(pod.non_zero_milli_cpu);
            self.non_zero_requested_memory = self.non_zero_requested_memory.saturating_sub(pod.non_zero_memory);
            for port in &pod.host_ports {
                if let Some(pos) = self.used_ports.iter().position(|p| p == port) {
                    self.used_ports.swap_remove(pos);
                }
            }
            self.gpus.give_back(pod.gpus, pod.gpu.milli);
            self.generation = next_generation();
            return self.pods.get(idx).copied();
        }
        None
    }

    /// The GPUs `pod` gets here when no plugin chose: [`GpuDevices::default_assignment`], or where it does
    /// not fit, [`GpuDevices::forced_assignment`].
    pub fn assignment_of(&self, pod: &Pod) -> GpuSet {
        self.gpus.default_assignment(pod.gpu).unwrap_or_else(|| self.gpus.forced_assignment(pod.gpu))
    }

    /// Upstream `HostPortInfo.CheckConflict`: whether `want` collides with a port in use. A wildcard IP
    /// (`0.0.0.0`) on either side collides with any IP.
    pub fn port_conflicts(&self, want: &HostPort) -> bool {
        let wildcard = well_known::WILDCARD_IP;
        self.used_ports.iter().any(|used| {
            used.port == want.port && used.protocol == want.protocol && (want.ip == wildcard || used.ip == wildcard || used.ip == want.ip)
        })
    }
}
