//! What NodeResourcesFit's scoring and NodeResourcesBalancedAllocation share: configured scoring resources,
//! and each resource's (allocatable, requested) pair on a node (upstream `resource_allocation.go`).

use serde::Deserialize;
use smallvec::SmallVec;

use scheduler_core::{ConfigError, Divisor, Interner, NodeInfo, Pod, ResourceKind, StateSlot, Symbol};

/// A resource and its weight in `scoringStrategy.resources` or BalancedAllocation's `resources`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// Resource name.
    pub name: String,
    /// Weight; 0 (or absent) means 1.
    #[serde(default)]
    pub weight: i64,
}

/// The default scoring resources: cpu and memory, weight 1 each.
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec { name: "cpu".into(), weight: 1 }, ResourceSpec { name: "memory".into(), weight: 1 }]
}

/// How a configured scoring resource is read from nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accounting {
    Cpu,
    Memory,
    EphemeralStorage,
    Scalar,
    /// Neither (`pods`, unknown names): always skipped.
    None,
}

/// A configured scoring resource, compiled.
#[derive(Clone, Copy, Debug)]
pub struct ScoringResource {
    name: Symbol,
    accounting: Accounting,
    /// Weight.
    pub weight: i64,
}

/// Compiles configured resources (weights must already be defaulted).
pub fn compile_resources(specs: &[ResourceSpec], interner: &mut Interner) -> Vec<ScoringResource> {
    specs
        .iter()
        .map(|spec| {
            let accounting = match ResourceKind::of(&spec.name) {
                Some(ResourceKind::Cpu) => Accounting::Cpu,
                Some(ResourceKind::Memory) => Accounting::Memory,
                Some(ResourceKind::EphemeralStorage) => Accounting::EphemeralStorage,
                Some(kind) if kind.is_scalar() => Accounting::Scalar,
                _ => Accounting::None,
            };
            ScoringResource { name: interner.intern(&spec.name), accounting, weight: spec.weight }
        })
        .collect()
}

/// Upstream `validateResources`: weights in (0, 100].
pub fn validate_weights(specs: &[ResourceSpec], path: &str) -> Result<(), ConfigError> {
    for (idx, r) in specs.iter().enumerate() {
        if r.weight <= 0 || r.weight > 100 {
            return Err(ConfigError::new(
                format!("{path}[{idx}].weight"),
                format!("Invalid value: {}: resource weight of {} not in valid range (0, 100]", r.weight, r.name),
            ));
        }
    }
    Ok(())
}

/// Which requests a scorer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requests {
    /// Non-zero requests for cpu and memory (100m / 200Mi per container lacking one): NodeResourcesFit.
    NonZero,
    /// Real requests: NodeResourcesBalancedAllocation.
    Real,
}

impl ScoringResource {
    /// The pod's request of this resource (upstream `calculatePodResourceRequest`).
    #[inline]
    pub fn pod_request(&self, pod: &Pod, requests: Requests) -> i64 {
        match (self.accounting, requests) {
            (Accounting::Cpu, Requests::NonZero) => pod.non_zero_milli_cpu,
            (Accounting::Memory, Requests::NonZero) => pod.non_zero_memory,
            (Accounting::Cpu, Requests::Real) => pod.requests.milli_cpu,
            (Accounting::Memory, Requests::Real) => pod.requests.memory,
            (Accounting::EphemeralStorage, _) => pod.requests.ephemeral_storage,
            (Accounting::Scalar, _) => pod.requests.scalars.get(self.name),
            (Accounting::None, _) => pod.requests.get(self.name),
        }
    }

    /// Upstream `calculateResourceAllocatableRequest`: (allocatable, already requested on the node); an
    /// allocatable of 0 means the resource is skipped. Add the pod's request for "requested with the pod".
    #[inline]
    pub fn node_amounts(&self, node: &NodeInfo, pod_request: i64, requests: Requests) -> (i64, i64) {
        let (cap, used) = self.node_amounts_divisor(node, pod_request, requests);
        (cap.get(), used)
    }

    /// [`ScoringResource::node_amounts`] with the allocatable as a [`Divisor`] (precomputed for cpu and memory).
    #[inline]
    pub fn node_amounts_divisor(&self, node: &NodeInfo, pod_request: i64, requests: Requests) -> (Divisor, i64) {
        let alloc = &node.node.allocatable;
        match self.accounting {
            Accounting::Cpu => {
                let used = if requests == Requests::NonZero { node.non_zero_requested_milli_cpu } else { node.requested.milli_cpu };
                (node.node.allocatable_divisors[0], used)
            }
            Accounting::Memory => {
                let used = if requests == Requests::NonZero { node.non_zero_requested_memory } else { node.requested.memory };
                (node.node.allocatable_divisors[1], used)
            }
            Accounting::EphemeralStorage => (Divisor::new(alloc.ephemeral_storage), node.requested.ephemeral_storage),
            Accounting::Scalar if pod_request == 0 => (Divisor::new(0), 0),
            Accounting::Scalar => (Divisor::new(alloc.scalars.get(self.name)), node.requested.scalars.get(self.name)),
            Accounting::None => (Divisor::new(0), 0),
        }
    }
}

/// PreScore state of the resource scorers: the pod's request of each configured resource.
#[derive(Clone, Debug, Default)]
pub struct PodRequests(pub SmallVec<[i64; 4]>);

impl PodRequests {
    /// The pod's requests of `resources`, counted as `requests` says.
    pub fn of(resources: &[ScoringResource], pod: &Pod, requests: Requests) -> PodRequests {
        PodRequests(resources.iter().map(|r| r.pod_request(pod, requests)).collect())
    }

    /// The requests PreScore stored in `state`, or computed now if it did not run.
    pub fn from_state(state: &StateSlot, resources: &[ScoringResource], pod: &Pod, requests: Requests) -> PodRequests {
        state.get::<PodRequests>().cloned().unwrap_or_else(|| PodRequests::of(resources, pod, requests))
    }
}
