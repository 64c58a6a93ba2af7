//! Builders for tests, examples and benchmarks: `pod("p").cpu("500m")`, `node("n").cpu("4")`.

use crate::affinity::{PodAffinityDef, PodAffinityTermDef, WeightedPodAffinityTermDef};
use crate::node::{ImageDef, NodeDef, TaintDef};
use crate::pod::{ContainerDef, ContainerPortDef, NodeAffinityDef, PodDef, TolerationDef};
use crate::selector::{LabelSelectorDef, NodeSelectorDef, NodeSelectorTermDef, PreferredSchedulingTermDef};
use crate::taint::{TaintEffect, TolerationOperator};

/// Starts a pod definition in namespace `default`.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder { def: PodDef { name: name.into(), namespace: "default".into(), ..PodDef::default() } }
}

/// Starts a node definition labelled `kubernetes.io/hostname=<name>`, with 110 pod slots.
pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder {
        def: NodeDef {
            name: name.into(),
            labels: vec![("kubernetes.io/hostname".into(), name.into())],
            allocatable: vec![("pods".into(), "110".into())],
            ..NodeDef::default()
        },
    }
}

/// A pod affinity term over `topology_key` selecting pods with all of `labels` (in the owning pod's
/// namespace unless namespaces are set).
pub fn affinity_term(topology_key: &str, labels: &[(&str, &str)]) -> PodAffinityTermDef {
    PodAffinityTermDef {
        label_selector: Some(LabelSelectorDef { match_labels: pairs(labels), match_expressions: Vec::new() }),
        topology_key: topology_key.into(),
        ..PodAffinityTermDef::default()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn set(list: &mut Vec<(String, String)>, key: &str, value: &str) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.into(),
        None => list.push((key.into(), value.into())),
    }
}

/// Builds a [`PodDef`].
#[derive(Clone, Debug)]
pub struct PodBuilder {
    /// The definition built so far.
    pub def: PodDef,
}

impl PodBuilder {
    /// Adds a container with these requests.
    pub fn container(mut self, requests: &[(&str, &str)]) -> Self {
        let name = format!("c{}", self.def.containers.len());
        self.def.containers.push(ContainerDef { name, requests: pairs(requests), ..ContainerDef::default() });
        self
    }

    /// Adds an init container with these requests.
    pub fn init_container(mut self, requests: &[(&str, &str)]) -> Self {
        let name = format!("init{}", self.def.init_containers.len());
        self.def.init_containers.push(ContainerDef { name, requests: pairs(requests), ..ContainerDef::default() });
        self
    }

    /// Adds a sidecar (an init container with `restartPolicy: Always`) with these requests.
    pub fn sidecar(mut self, requests: &[(&str, &str)]) -> Self {
        let name = format!("sidecar{}", self.def.init_containers.len());
        self.def.init_containers.push(ContainerDef {
            name,
            requests: pairs(requests),
            restart_policy_always: true,
            ..ContainerDef::default()
        });
        self
    }

    fn first_container(&mut self) -> &mut ContainerDef {
        if self.def.containers.is_empty() {
            self.def.containers.push(ContainerDef { name: "c0".into(), ..ContainerDef::default() });
        }
        &mut self.def.containers[0]
    }

    /// Sets a request of the first container (created if needed).
    pub fn request(mut self, resource: &str, quantity: &str) -> Self {
        set(&mut self.first_container().requests, resource, quantity);
        self
    }

    /// Sets the first container's CPU request.
    pub fn cpu(self, quantity: &str) -> Self {
        self.request("cpu", quantity)
    }

    /// Asks for `n` whole GPUs (`nvidia.com/gpu` and `alibabacloud.com/gpu-milli`, as the openb importer
    /// writes them).
    pub fn gpus(self, n: u32) -> Self {
        self.request(crate::gpu::GPU_RESOURCE, &n.to_string()).request(crate::gpu::GPU_MILLI_RESOURCE, &(1000 * n).to_string())
    }

    /// Asks for `milli` milli-GPU of one GPU.
    pub fn gpu_share(self, milli: u32) -> Self {
        self.request(crate::gpu::GPU_MILLI_RESOURCE, &milli.to_string())
    }

    /// Sets the first container's memory request.
    pub fn memory(self, quantity: &str) -> Self {
        self.request("memory", quantity)
    }

    /// Sets the first container's image.
    pub fn image(mut self, image: &str) -> Self {
        self.first_container().image = image.into();
        self
    }

    /// Adds a host port to the first container.
    pub fn host_port(mut self, port: i32, protocol: &str, host_ip: &str) -> Self {
        self.first_container().ports.push(ContainerPortDef {
            host_port: port,
            container_port: port,
            protocol: protocol.into(),
            host_ip: host_ip.into(),
        });
        self
    }

    /// Sets the namespace.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.def.namespace = namespace.into();
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        set(&mut self.def.labels, key, value);
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i32) -> Self {
        self.def.priority = Some(priority);
        self
    }

    /// Sets `spec.nodeName`.
    pub fn node_name(mut self, node: &str) -> Self {
        self.def.node_name = node.into();
        self
    }

    /// Sets `spec.schedulerName`.
    pub fn scheduler_name(mut self, name: &str) -> Self {
        self.def.scheduler_name = name.into();
        self
    }

    /// Adds a `nodeSelector` entry.
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        set(self.def.node_selector.get_or_insert_with(Vec::new), key, value);
        self
    }

    /// Adds a required node affinity term.
    pub fn required_term(mut self, term: NodeSelectorTermDef) -> Self {
        let aff = self.def.node_affinity.get_or_insert_with(NodeAffinityDef::default);
        aff.required.get_or_insert_with(NodeSelectorDef::default).terms.push(term);
        self
    }

    /// Adds a preferred node affinity term.
    pub fn preferred_term(mut self, weight: i32, preference: NodeSelectorTermDef) -> Self {
        let aff = self.def.node_affinity.get_or_insert_with(NodeAffinityDef::default);
        aff.preferred.get_or_insert_with(Vec::new).push(PreferredSchedulingTermDef { weight, preference });
        self
    }

    /// Adds a toleration.
    pub fn toleration(mut self, key: &str, operator: TolerationOperator, value: &str, effect: Option<TaintEffect>) -> Self {
        self.def.tolerations.push(TolerationDef { key: key.into(), operator, value: value.into(), effect });
        self
    }

    /// Adds a scheduling gate.
    pub fn gate(mut self, name: &str) -> Self {
        self.def.scheduling_gates.push(name.into());
        self
    }

    /// Adds a required pod affinity term.
    pub fn required_pod_affinity(mut self, term: PodAffinityTermDef) -> Self {
        self.def.pod_affinity.get_or_insert_with(PodAffinityDef::default).required.push(term);
        self
    }

    /// Adds a required pod anti-affinity term.
    pub fn required_pod_anti_affinity(mut self, term: PodAffinityTermDef) -> Self {
        self.def.pod_anti_affinity.get_or_insert_with(PodAffinityDef::default).required.push(term);
        self
    }

    /// Adds a preferred pod affinity term.
    pub fn preferred_pod_affinity(mut self, weight: i32, term: PodAffinityTermDef) -> Self {
        self.def.pod_affinity.get_or_insert_with(PodAffinityDef::default).preferred.push(WeightedPodAffinityTermDef { weight, term });
        self
    }

    /// Adds a preferred pod anti-affinity term.
    pub fn preferred_pod_anti_affinity(mut self, weight: i32, term: PodAffinityTermDef) -> Self {
        self.def.pod_anti_affinity.get_or_insert_with(PodAffinityDef::default).preferred.push(WeightedPodAffinityTermDef { weight, term });
        self
    }
}

/// Builds a [`NodeDef`].
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    /// The definition built so far.
    pub def: NodeDef,
}

impl NodeBuilder {
    /// Sets an allocatable amount.
    pub fn allocatable(mut self, resource: &str, quantity: &str) -> Self {
        set(&mut self.def.allocatable, resource, quantity);
        self
    }

    /// Sets allocatable CPU.
    pub fn cpu(self, quantity: &str) -> Self {
        self.allocatable("cpu", quantity)
    }

    /// Sets allocatable memory.
    pub fn memory(self, quantity: &str) -> Self {
        self.allocatable("memory", quantity)
    }

    /// Gives the node `n` GPUs of model `model` (allocatable `nvidia.com/gpu`, `alibabacloud.com/gpu-milli`
    /// and the model label, as the openb importer writes them).
    pub fn gpus(self, n: u32, model: &str) -> Self {
        self.allocatable(crate::gpu::GPU_RESOURCE, &n.to_string())
            .allocatable(crate::gpu::GPU_MILLI_RESOURCE, &(1000 * n).to_string())
            .label(crate::gpu::GPU_MODEL_LABEL, model)
    }

    /// Sets the pod slots.
    pub fn pods(self, n: u32) -> Self {
        self.allocatable("pods", &n.to_string())
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        set(&mut self.def.labels, key, value);
        self
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: TaintEffect) -> Self {
        self.def.taints.push(TaintDef { key: key.into(), value: value.into(), effect });
        self
    }

    /// Marks the node `spec.unschedulable`.
    pub fn unschedulable(mut self) -> Self {
        self.def.unschedulable = true;
        self
    }

    /// Adds an image with these names.
    pub fn image(mut self, names: &[&str], size_bytes: i64) -> Self {
        self.def.images.push(ImageDef { names: names.iter().map(|n| n.to_string()).collect(), size_bytes });
        self
    }
}
