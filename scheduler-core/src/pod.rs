//! Pods: [`PodDef`] is the plain-data definition (strings, as in a manifest); [`Pod`] is its compiled form.

use smallvec::SmallVec;

use crate::affinity::{PodAffinity, PodAffinityDef};
use crate::error::ModelError;
use crate::gpu::{GpuRequest, GpuSet};
use crate::intern::{Interner, Symbol, well_known};
use crate::labels::Labels;
use crate::owners::OwnerReferenceDef;
use crate::quantity::Quantity;
use crate::resources::{ResourceKind, ResourceList, Resources};
use crate::selector::{LabelSelector, NodeSelector, NodeSelectorDef, PreferredSchedulingTermDef, PreferredTerm};
use crate::spread::{TopologySpreadConstraint, TopologySpreadConstraintDef};
use crate::taint::{TaintEffect, Toleration, TolerationOperator};

/// Upstream `DefaultMilliCPURequest`: the CPU a container without a CPU request counts as, for scoring only.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Upstream `DefaultMemoryRequest`: the memory (200 MiB) a container without a memory request counts as, for scoring.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A container port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerPortDef {
    /// `hostPort`; 0 when not exposed on the host.
    pub host_port: i32,
    /// `containerPort`.
    pub container_port: i32,
    /// `protocol`; empty means TCP.
    pub protocol: String,
    /// `hostIP`; empty means 0.0.0.0.
    pub host_ip: String,
}

/// A container or init container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerDef {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// `resources.requests`: (name, quantity) pairs.
    pub requests: Vec<(String, String)>,
    /// `resources.limits`: a limit without a request also sets the request, as API defaulting does.
    pub limits: Vec<(String, String)>,
    /// `ports`.
    pub ports: Vec<ContainerPortDef>,
    /// `restartPolicy: Always` on an init container: a sidecar.
    pub restart_policy_always: bool,
}

/// A toleration as written in a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TolerationDef {
    /// Key; empty matches every key.
    pub key: String,
    /// Operator.
    pub operator: TolerationOperator,
    /// Value.
    pub value: String,
    /// Effect; `None` matches every effect.
    pub effect: Option<TaintEffect>,
}

/// `spec.affinity.nodeAffinity`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAffinityDef {
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    pub required: Option<NodeSelectorDef>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`; `None` when absent (an empty list present stops
    /// NodeAffinity's PreScore from skipping, as upstream).
    pub preferred: Option<Vec<PreferredSchedulingTermDef>>,
}

/// A pod as plain data: the parts of a `v1.Pod` the scheduler reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodDef {
    /// `metadata.namespace`; empty means `default`.
    pub namespace: String,
    /// `metadata.name`; required.
    pub name: String,
    /// `metadata.uid`; empty means `<namespace>/<name>`.
    pub uid: String,
    /// `metadata.labels`.
    pub labels: Vec<(String, String)>,
    /// `spec.priority`; absent means 0.
    pub priority: Option<i32>,
    /// `spec.preemptionPolicy`: `false` for `Never`; absent means `PreemptLowerPriority`.
    pub never_preempt: bool,
    /// `status.startTime`, in the caller's time unit (seconds since the epoch in cluster files, microseconds
    /// of simulated time in the simulator); read only to rank preemption victims.
    pub start_time: Option<i64>,
    /// `spec.schedulerName`; empty means `default-scheduler`.
    pub scheduler_name: String,
    /// `spec.nodeName`; empty when unset.
    pub node_name: String,
    /// `spec.containers`.
    pub containers: Vec<ContainerDef>,
    /// `spec.initContainers`, in order.
    pub init_containers: Vec<ContainerDef>,
    /// `spec.overhead`.
    pub overhead: Vec<(String, String)>,
    /// `spec.resources.requests` (pod-level resources).
    pub pod_requests: Vec<(String, String)>,
    /// `spec.resources.limits` (pod-level resources).
    pub pod_limits: Vec<(String, String)>,
    /// `spec.nodeSelector`; `None` when absent (an empty map present stops NodeAffinity's PreFilter from
    /// skipping, as upstream).
    pub node_selector: Option<Vec<(String, String)>>,
    /// `spec.affinity.nodeAffinity`.
    pub node_affinity: Option<NodeAffinityDef>,
    /// `spec.tolerations`.
    pub tolerations: Vec<TolerationDef>,
    /// `spec.schedulingGates[].name`.
    pub scheduling_gates: Vec<String>,
    /// `spec.volumes[].image.reference` (image volumes count for ImageLocality).
    pub image_volumes: Vec<String>,
    /// `spec.topologySpreadConstraints`.
    pub topology_spread_constraints: Vec<TopologySpreadConstraintDef>,
    /// `spec.affinity.podAffinity`.
    pub pod_affinity: Option<PodAffinityDef>,
    /// `spec.affinity.podAntiAffinity`.
    pub pod_anti_affinity: Option<PodAffinityDef>,
    /// The controlling owner (`metadata.ownerReferences[]` with `controller: true`): where the selector
    /// of default topology spreading comes from, with the Services selecting the pod.
    pub owner: Option<OwnerReferenceDef>,
}

/// A host port a pod uses, after upstream's defaulting (empty IP → `0.0.0.0`, empty protocol → `TCP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP.
    pub ip: Symbol,
    /// Protocol.
    pub protocol: Symbol,
    /// Port, > 0.
    pub port: i32,
}

/// A compiled pod: requests in scheduler units, selectors and tolerations over symbols.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.uid`.
    pub uid: Box<str>,
    /// Namespace.
    pub namespace: Symbol,
    /// Name.
    pub name: Box<str>,
    /// Labels.
    pub labels: Labels,
    /// `spec.priority` (0 if absent).
    pub priority: i32,
    /// `spec.preemptionPolicy: Never`.
    pub never_preempt: bool,
    /// `status.startTime` in the caller's time unit; `None` counts as "now" (later than any start).
    pub start_time: Option<i64>,
    /// Profile that schedules the pod.
    pub scheduler_name: Symbol,
    /// `spec.nodeName`, if set.
    pub node_name: Option<Symbol>,
    /// Effective requests (upstream `PodRequests`: containers, init containers and sidecars, pod-level
    /// resources, overhead), without defaults for missing requests.
    pub requests: Resources,
    /// CPU request with 100m for each container lacking one (scoring only), millicores.
    pub non_zero_milli_cpu: i64,
    /// Memory request with 200 MiB for each container lacking one (scoring only), bytes.
    pub non_zero_memory: i64,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// `spec.nodeSelector`, if present (possibly empty).
    pub node_selector: Option<Labels>,
    /// Required node affinity, if any.
    pub required_node_affinity: Option<NodeSelector>,
    /// Preferred node affinity terms, if the list is present; terms of weight 0 or with an empty
    /// preference are dropped, as upstream does.
    pub preferred_node_affinity: Option<Vec<PreferredTerm>>,
    /// Host ports of containers and sidecars, with `hostPort > 0`.
    pub host_ports: SmallVec<[HostPort; 1]>,
    /// Images of init containers, containers and image volumes, normalised (`:latest` added when untagged).
    pub images: Vec<Symbol>,
    /// Number of init containers plus containers (ImageLocality's threshold multiplier).
    pub n_containers: u32,
    /// Scheduling gates.
    pub scheduling_gates: Vec<Box<str>>,
    /// Topology spread constraints, with the scheduler's defaults and `matchLabelKeys` merged.
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Inter-pod affinity and anti-affinity terms, `None` when the pod has none.
    pub affinity: Option<Box<PodAffinity>>,
    /// The selector of default topology spread constraints (upstream `DefaultSelector`: the Services
    /// selecting the pod and its controlling ReplicationController, ReplicaSet or StatefulSet), set by
    /// [`crate::Cluster::compile_pod`] from the objects the cluster has then; `None` when it would have no
    /// requirement.
    pub default_spread_selector: Option<LabelSelector>,
    /// What the pod asks of GPU devices, read from its requests (see [`GpuRequest::of`]).
    pub gpu: GpuRequest,
    /// The GPUs the pod was given on its node; empty until it is bound ([`crate::Cluster::add_pod`]).
    pub gpus: GpuSet,
}

impl Pod {
    /// Compiles `def`, validating it; errors name the field (`spec.containers[0].resources.requests.cpu`).
    pub fn compile(def: &PodDef, interner: &mut Interner) -> Result<Pod, ModelError> {
        if def.name.is_empty() {
            return Err(ModelError::new("metadata.name", "is required"));
        }
        let namespace = if def.namespace.is_empty() { well_known::NAMESPACE_DEFAULT } else { interner.intern(&def.namespace) };
        let containers = compile_containers(&def.containers, "spec.containers", interner)?;
        let init_containers = compile_containers(&def.init_containers, "spec.initContainers", interner)?;
        let overhead = ResourceList::parse(&def.overhead, interner, "spec.overhead")?;
        let pod_limits = ResourceList::parse(&def.pod_limits, interner, "spec.resources.limits")?;
        let mut pod_requests = ResourceList::parse(&def.pod_requests, interner, "spec.resources.requests")?;
        default_requests_from_limits(&mut pod_requests, &pod_limits);

        let requests = pod_requests_sum(interner, &containers, &init_containers, &pod_requests, &overhead, None);
        let defaults = NonMissing {
            cpu: Quantity::from_milli(DEFAULT_MILLI_CPU_REQUEST).nanos(),
            memory: Quantity::from_units(DEFAULT_MEMORY_REQUEST).nanos(),
        };
        let non_zero = pod_requests_sum(interner, &containers, &init_containers, &pod_requests, &overhead, Some(defaults));
        let non_zero_milli_cpu = Quantity::from_nanos(non_zero.get(well_known::CPU).unwrap_or(0)).milli_value();
        let non_zero_memory = Quantity::from_nanos(non_zero.get(well_known::MEMORY).unwrap_or(0)).value();

        let mut tolerations = Vec::with_capacity(def.tolerations.len());
        for t in &def.tolerations {
            tolerations.push(Toleration {
                key: (!t.key.is_empty()).then(|| interner.intern(&t.key)),
                operator: t.operator,
                value: interner.intern(&t.value),
                effect: t.effect,
            });
        }

        let (required_node_affinity, preferred_node_affinity) = match &def.node_affinity {
            None => (None, None),
            Some(aff) => {
                let field = "spec.affinity.nodeAffinity";
                let required = match &aff.required {
                    None => None,
                    Some(sel) => {
                        Some(NodeSelector::compile(sel, interner, &format!("{field}.requiredDuringSchedulingIgnoredDuringExecution"))?)
                    }
                };
                let preferred = match &aff.preferred {
                    None => None,
                    Some(terms) => Some(PreferredTerm::compile_all(
                        terms,
                        interner,
                        &format!("{field}.preferredDuringSchedulingIgnoredDuringExecution"),
                    )?),
                };
                (required, preferred)
            }
        };

        let mut host_ports = SmallVec::new();
        let sidecars = def.init_containers.iter().filter(|c| c.restart_policy_always);
        for c in def.containers.iter().chain(sidecars) {
            for p in &c.ports {
                if p.host_port > 0 {
                    host_ports.push(host_port(interner, &p.host_ip, &p.protocol, p.host_port));
                }
            }
        }

        let images = def
            .init_containers
            .iter()
            .chain(&def.containers)
            .map(|c| c.image.as_str())
            .chain(def.image_volumes.iter().map(String::as_str))
            .map(|image| interner.intern(&normalized_image_name(image)))
            .collect();

        let requests = Resources::from_list(&requests);
        let gpu = GpuRequest::of(&requests)?;
        Ok(Pod {
            gpu,
            gpus: GpuSet::EMPTY,
            uid: if def.uid.is_empty() { format!("{}/{}", interner.resolve(namespace), def.name).into() } else { def.uid.as_str().into() },
            namespace,
            name: def.name.as_str().into(),
            labels: Labels::new(interner, def.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            priority: def.priority.unwrap_or(0),
            never_preempt: def.never_preempt,
            start_time: def.start_time,
            scheduler_name: if def.scheduler_name.is_empty() {
                well_known::DEFAULT_SCHEDULER
            } else {
                interner.intern(&def.scheduler_name)
            },
            node_name: (!def.node_name.is_empty()).then(|| interner.intern(&def.node_name)),
            requests,
            non_zero_milli_cpu,
            non_zero_memory,
            tolerations,
            node_selector: def.node_selector.as_ref().map(|sel| Labels::new(interner, sel.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
            required_node_affinity,
            preferred_node_affinity,
            host_ports,
            images,
            n_containers: (def.init_containers.len() + def.containers.len()) as u32,
            scheduling_gates: def.scheduling_gates.iter().map(|g| g.as_str().into()).collect(),
            topology_spread_constraints: TopologySpreadConstraint::compile_all(
                &def.topology_spread_constraints,
                &def.labels,
                interner,
                "spec.topologySpreadConstraints",
            )?,
            affinity: PodAffinity::compile(def.pod_affinity.as_ref(), def.pod_anti_affinity.as_ref(), namespace, &def.labels, interner)?
                .map(Box::new),
            default_spread_selector: None,
        })
    }

    /// Whether the two pods ask the scheduler for the same thing: every field but `uid`, `name` and
    /// `start_time`.
    pub fn same_scheduling_spec(&self, other: &Pod) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Pod {
            uid: _,
            name: _,
            start_time: _,
            namespace,
            labels,
            priority,
            never_preempt,
            scheduler_name,
            node_name,
            requests,
            non_zero_milli_cpu,
            non_zero_memory,
            tolerations,
            node_selector,
            required_node_affinity,
            preferred_node_affinity,
            host_ports,
            images,
            n_containers,
            scheduling_gates,
            topology_spread_constraints,
            affinity,
            default_spread_selector,
            gpu,
            gpus: _,
        } = self;
        *namespace == other.namespace
            && *priority == other.priority
            && *never_preempt == other.never_preempt
            && *scheduler_name == other.scheduler_name
            && *node_name == other.node_name
            && *non_zero_milli_cpu == other.non_zero_milli_cpu
            && *non_zero_memory == other.non_zero_memory
            && *n_containers == other.n_containers
            && *requests == other.requests
            && *labels == other.labels
            && *tolerations == other.tolerations
            && *node_selector == other.node_selector
            && *required_node_affinity == other.required_node_affinity
            && *preferred_node_affinity == other.preferred_node_affinity
            && *host_ports == other.host_ports
            && *images == other.images
            && *scheduling_gates == other.scheduling_gates
            && *topology_spread_constraints == other.topology_spread_constraints
            && *affinity == other.affinity
            && *default_spread_selector == other.default_spread_selector
            && *gpu == other.gpu
    }

    /// `<namespace>/<name>`.
    pub fn key(&self, interner: &Interner) -> String {
        format!("{}/{}", interner.resolve(self.namespace), self.name)
    }
}

/// A host port with upstream's defaults applied.
pub fn host_port(interner: &mut Interner, ip: &str, protocol: &str, port: i32) -> HostPort {
    HostPort {
        ip: interner.intern(if ip.is_empty() { "0.0.0.0" } else { ip }),
        protocol: interner.intern(if protocol.is_empty() { "TCP" } else { protocol }),
        port,
    }
}

/// Upstream ImageLocality `normalizedImageName`: adds `:latest` to an image reference without a tag.
pub fn normalized_image_name(name: &str) -> String {
    let last_colon = name.rfind(':').map_or(-1, |i| i as isize);
    let last_slash = name.rfind('/').map_or(-1, |i| i as isize);
    if last_colon <= last_slash { format!("{name}:latest") } else { name.to_string() }
}

struct CompiledContainer {
    requests: ResourceList,
    sidecar: bool,
}

fn compile_containers(defs: &[ContainerDef], field: &str, interner: &mut Interner) -> Result<Vec<CompiledContainer>, ModelError> {
    let mut out = Vec::with_capacity(defs.len());
    for (idx, c) in defs.iter().enumerate() {
        let field = format!("{field}[{idx}].resources");
        let mut requests = ResourceList::parse(&c.requests, interner, &format!("{field}.requests"))?;
        let limits = ResourceList::parse(&c.limits, interner, &format!("{field}.limits"))?;
        default_requests_from_limits(&mut requests, &limits);
        out.push(CompiledContainer { requests, sidecar: c.restart_policy_always });
    }
    Ok(out)
}

/// API defaulting: a resource with a limit and no request gets the limit as its request.
fn default_requests_from_limits(requests: &mut ResourceList, limits: &ResourceList) {
    for e in limits.iter() {
        if !requests.contains(e.name) {
            requests.set(e.name, e.kind, e.nanos);
        }
    }
}

#[derive(Clone, Copy)]
struct NonMissing {
    cpu: i128,
    memory: i128,
}

fn with_non_missing(requests: &ResourceList, non_missing: Option<NonMissing>) -> ResourceList {
    let mut r = requests.clone();
    if let Some(d) = non_missing {
        if !r.contains(well_known::CPU) {
            r.set(well_known::CPU, ResourceKind::Cpu, d.cpu);
        }
        if !r.contains(well_known::MEMORY) {
            r.set(well_known::MEMORY, ResourceKind::Memory, d.memory);
        }
    }
    r
}

/// Upstream `resourcehelper.PodRequests` with pod-level resources enabled.
fn pod_requests_sum(
    interner: &Interner,
    containers: &[CompiledContainer],
    init_containers: &[CompiledContainer],
    pod_requests: &ResourceList,
    overhead: &ResourceList,
    non_missing: Option<NonMissing>,
) -> ResourceList {
    let mut reqs = ResourceList::default();
    for c in containers {
        reqs.add(&with_non_missing(&c.requests, non_missing));
    }
    let mut sidecar_sum = ResourceList::default();
    let mut init_max = ResourceList::default();
    for c in init_containers {
        let c_reqs = with_non_missing(&c.requests, non_missing);
        let in_use = if c.sidecar {
            reqs.add(&c_reqs);
            sidecar_sum.add(&c_reqs);
            sidecar_sum.clone()
        } else {
            let mut tmp = c_reqs;
            tmp.add(&sidecar_sum);
            tmp
        };
        init_max.max(&in_use);
    }
    reqs.max(&init_max);
    for e in pod_requests.iter() {
        if is_supported_pod_level_resource(e.kind, interner.resolve(e.name)) {
            reqs.set(e.name, e.kind, e.nanos);
        }
    }
    reqs.add(overhead);
    reqs
}

/// Upstream `supportedPodLevelResources`: cpu, memory and `hugepages-*`.
fn is_supported_pod_level_resource(kind: ResourceKind, name: &str) -> bool {
    matches!(kind, ResourceKind::Cpu | ResourceKind::Memory) || name.starts_with("hugepages-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn requests(p: &PodDef) -> (i64, i64, i64, i64) {
        let i = &mut Interner::new();
        let pod = Pod::compile(p, i).unwrap();
        (pod.requests.milli_cpu, pod.requests.memory, pod.non_zero_milli_cpu, pod.non_zero_memory)
    }

    #[test]
    fn spec_example_init_containers_take_the_max() {
        // Spec §3.0: IC1 2cpu/1G, IC2 2cpu/3G, C1 2cpu/1G, C2 1cpu/1G ⇒ 3cpu/3G.
        let p = pod("p")
            .init_container(&[("cpu", "2"), ("memory", "1G")])
            .init_container(&[("cpu", "2"), ("memory", "3G")])
            .container(&[("cpu", "2"), ("memory", "1G")])
            .container(&[("cpu", "1"), ("memory", "1G")])
            .def;
        assert_eq!(requests(&p), (3000, 3_000_000_000, 3000, 3_000_000_000));
    }

    #[test]
    fn sidecars_add_to_containers_and_to_later_init_containers() {
        let p = pod("p").sidecar(&[("cpu", "1")]).init_container(&[("cpu", "3")]).container(&[("cpu", "1")]).def;
        // Containers 1 + sidecar 1 = 2; init container 3 runs beside the sidecar: 4.
        assert_eq!(requests(&p).0, 4000);
    }

    #[test]
    fn overhead_and_pod_level_requests() {
        let mut p = pod("p").container(&[("cpu", "1"), ("memory", "1Gi")]).def;
        p.overhead = vec![("cpu".into(), "250m".into())];
        p.pod_requests = vec![("memory".into(), "2Gi".into())];
        let (cpu, mem, _, _) = requests(&p);
        assert_eq!((cpu, mem), (1250, 2 << 30));
    }

    #[test]
    fn non_zero_defaults_apply_per_container_missing_the_key() {
        let p = pod("p").container(&[("cpu", "0")]).container(&[]).def;
        // Explicit 0 cpu stays 0; the second container gets 100m; both get 200Mi memory.
        assert_eq!(requests(&p), (0, 0, 100, 2 * DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn limits_default_requests() {
        let mut p = pod("p").def;
        p.containers.push(ContainerDef { limits: vec![("cpu".into(), "2".into())], ..Default::default() });
        assert_eq!(requests(&p).0, 2000);
    }

    #[test]
    fn sub_milli_amounts_are_summed_before_rounding() {
        let p = pod("p").container(&[("cpu", "0.5m")]).container(&[("cpu", "0.5m")]).def;
        assert_eq!(requests(&p).0, 1);
    }

    #[test]
    fn image_names_are_normalised() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.25"), "nginx:1.25");
        assert_eq!(normalized_image_name("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalized_image_name("registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10");
    }

    #[test]
    fn errors_name_the_field() {
        let i = &mut Interner::new();
        let mut err = |p: PodDef| Pod::compile(&p, i).unwrap_err().to_string();
        assert_eq!(err(PodDef::default()), "metadata.name: is required");
        assert!(
            err(pod("p").container(&[("cpu", "1x")]).def).starts_with("spec.containers[0].resources.requests.cpu: invalid quantity \"1x\"")
        );
    }
}
