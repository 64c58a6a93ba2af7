//! Kubernetes `v1.Node` and `v1.Pod` objects (k8s-openapi types, at the edge only) converted to the core's
//! [`NodeDef`] and [`PodDef`].
//!
//! The conversion applies the API server's defaulting that the scheduler relies on: a node without
//! `status.allocatable` uses `status.capacity`; a pod without a namespace is in `default`. Fields the
//! scheduler does not read are ignored; enumerations (taint effects, operators) that are not valid are
//! errors naming the field.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use scheduler_core::{
    ContainerDef, ContainerPortDef, ControllerDef, ControllerKind, ImageDef, IntOrPercent, LabelOperator, LabelSelectorDef,
    LabelSelectorRequirementDef, NodeAffinityDef, NodeDef, NodeInclusionPolicy, NodeSelectorDef, NodeSelectorOperator,
    NodeSelectorRequirementDef, NodeSelectorTermDef, OwnerReferenceDef, PodAffinityDef, PodAffinityTermDef, PodDef, PodDisruptionBudgetDef,
    PreferredSchedulingTermDef, ServiceDef, TaintDef, TaintEffect, TolerationDef, TolerationOperator, TopologySpreadConstraintDef,
    WeightedPodAffinityTermDef, WhenUnsatisfiable,
};

/// A field path and what is wrong there.
pub type FieldError = (String, String);

fn pairs(map: &Option<BTreeMap<String, String>>) -> Vec<(String, String)> {
    map.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn quantities(map: &Option<BTreeMap<String, Quantity>>) -> Vec<(String, String)> {
    map.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect()
}

/// Parses a taint effect, naming `field` when it is not one.
pub fn taint_effect(s: &str, field: &str) -> Result<TaintEffect, FieldError> {
    TaintEffect::parse(s).ok_or_else(|| {
        (field.to_string(), format!("Unsupported value: {s:?}: supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\""))
    })
}

/// Converts a `v1.Node`.
pub fn node_def(node: &k8s::Node) -> Result<NodeDef, FieldError> {
    let name = node.metadata.name.clone().filter(|n| !n.is_empty()).ok_or(("metadata.name".to_string(), "Required value".to_string()))?;
    let spec = node.spec.clone().unwrap_or_default();
    let status = node.status.clone().unwrap_or_default();
    let mut taints = Vec::new();
    for (idx, t) in spec.taints.iter().flatten().enumerate() {
        taints.push(TaintDef {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: taint_effect(&t.effect, &format!("spec.taints[{idx}].effect"))?,
        });
    }
    let allocatable = if status.allocatable.is_some() { quantities(&status.allocatable) } else { quantities(&status.capacity) };
    let images = status
        .images
        .iter()
        .flatten()
        .map(|i| ImageDef { names: i.names.clone().unwrap_or_default(), size_bytes: i.size_bytes.unwrap_or(0) })
        .collect();
    Ok(NodeDef {
        name,
        labels: pairs(&node.metadata.labels),
        taints,
        unschedulable: spec.unschedulable.unwrap_or(false),
        allocatable,
        images,
    })
}

/// A `v1.Namespace`: its name and labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceDef {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Vec<(String, String)>,
}

fn required_name(name: &Option<String>) -> Result<String, FieldError> {
    name.clone().filter(|n| !n.is_empty()).ok_or(("metadata.name".to_string(), "Required value".to_string()))
}

/// Converts a `v1.Namespace` (its name checked as the API server checks it).
pub fn namespace_def(ns: &k8s::Namespace) -> Result<NamespaceDef, FieldError> {
    let name = ns
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(("metadata.name".to_string(), "Required value: a Namespace has a name".to_string()))?;
    if !scheduler_core::is_dns1123_label(&name) {
        return Err((
            "metadata.name".to_string(),
            format!("Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"),
        ));
    }
    Ok(NamespaceDef { name, labels: pairs(&ns.metadata.labels) })
}

/// Converts a `v1.Service` (what default topology spreading reads of it).
pub fn service_def(service: &k8s::Service) -> Result<ServiceDef, FieldError> {
    Ok(ServiceDef {
        namespace: service.metadata.namespace.clone().unwrap_or_default(),
        name: required_name(&service.metadata.name)?,
        selector: service.spec.as_ref().and_then(|s| s.selector.clone()).map(|m| m.into_iter().collect()),
    })
}

/// Converts a `v1.ReplicationController`; an absent selector is the pod template's labels, as the API
/// server defaults it.
pub fn replication_controller_def(rc: &k8s::ReplicationController) -> Result<ControllerDef, FieldError> {
    let spec = rc.spec.clone().unwrap_or_default();
    let selector = spec.selector.or_else(|| spec.template.and_then(|t| t.metadata).and_then(|m| m.labels));
    Ok(ControllerDef {
        kind: ControllerKind::ReplicationController,
        namespace: rc.metadata.namespace.clone().unwrap_or_default(),
        name: required_name(&rc.metadata.name)?,
        selector: selector.map(|m| LabelSelectorDef { match_labels: m.into_iter().collect(), match_expressions: Vec::new() }),
    })
}

/// Converts an `apps/v1` ReplicaSet.
pub fn replica_set_def(rs: &k8s_openapi::api::apps::v1::ReplicaSet) -> Result<ControllerDef, FieldError> {
    workload_controller(ControllerKind::ReplicaSet, &rs.metadata, rs.spec.as_ref().map(|s| &s.selector))
}

/// Converts an `apps/v1` StatefulSet.
pub fn stateful_set_def(ss: &k8s_openapi::api::apps::v1::StatefulSet) -> Result<ControllerDef, FieldError> {
    workload_controller(ControllerKind::StatefulSet, &ss.metadata, ss.spec.as_ref().map(|s| &s.selector))
}

fn workload_controller(
    kind: ControllerKind,
    metadata: &meta::ObjectMeta,
    selector: Option<&meta::LabelSelector>,
) -> Result<ControllerDef, FieldError> {
    Ok(ControllerDef {
        kind,
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: required_name(&metadata.name)?,
        selector: selector.map(|s| label_selector(s, "spec.selector")).transpose()?,
    })
}

/// Converts a `policy/v1` PodDisruptionBudget (spec and the status fields preemption reads).
pub fn pdb_def(pdb: &k8s_openapi::api::policy::v1::PodDisruptionBudget) -> Result<PodDisruptionBudgetDef, FieldError> {
    let spec = pdb.spec.clone().unwrap_or_default();
    let int_or_percent = |v: Option<IntOrString>, field: &str| -> Result<Option<IntOrPercent>, FieldError> {
        match v {
            None => Ok(None),
            Some(IntOrString::Int(n)) => Ok(Some(IntOrPercent::Int(n))),
            Some(IntOrString::String(s)) => IntOrPercent::parse_percent(&s)
                .map(Some)
                .ok_or_else(|| (format!("spec.{field}"), format!("Invalid value: {s:?}: must be an integer or percentage (e.g '5%')"))),
        }
    };
    let status = pdb.status.as_ref();
    Ok(PodDisruptionBudgetDef {
        namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
        name: required_name(&pdb.metadata.name)?,
        selector: spec.selector.as_ref().map(|s| label_selector(s, "spec.selector")).transpose()?,
        min_available: int_or_percent(spec.min_available, "minAvailable")?,
        max_unavailable: int_or_percent(spec.max_unavailable, "maxUnavailable")?,
        disruptions_allowed: status.and_then(|s| s.disruptions_allowed),
        disrupted_pods: status.and_then(|s| s.disrupted_pods.clone()).map(|m| m.into_keys().collect()).unwrap_or_default(),
    })
}

/// The parts of a pod beyond its [`PodDef`] that loaders need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFacts {
    /// `status.phase`.
    pub phase: String,
    /// Scheduling features the pod uses that need plugins simsched does not provide yet, by plugin.
    pub unsupported: Vec<(&'static str, &'static str)>,
    /// `spec.priorityClassName`.
    pub priority_class_name: String,
    /// `spec.preemptionPolicy`: `Some(true)` for `Never`, `None` when absent.
    pub preemption_policy_never: Option<bool>,
}

impl PodFacts {
    /// Applies the Priority admission to `def` (this pod's definition) with `classes`; an error names the
    /// field.
    pub fn admit(&self, def: &mut PodDef, classes: &crate::PriorityClasses) -> Result<(), FieldError> {
        let (priority, never_preempt) = classes.admit(&self.priority_class_name, def.priority, self.preemption_policy_never)?;
        def.priority = priority;
        def.never_preempt = never_preempt;
        Ok(())
    }
}

/// Converts a `v1.Pod`.
pub fn pod_def(pod: &k8s::Pod) -> Result<(PodDef, PodFacts), FieldError> {
    let name = pod.metadata.name.clone().filter(|n| !n.is_empty()).ok_or(("metadata.name".to_string(), "Required value".to_string()))?;
    let spec = pod.spec.clone().ok_or(("spec".to_string(), "Required value".to_string()))?;
    let mut unsupported = Vec::new();
    if spec.containers.is_empty() {
        return Err(("spec.containers".to_string(), "Required value: a pod has at least one container".to_string()));
    }
    let containers = containers(&spec.containers, "spec.containers")?;
    let init_containers = containers_opt(&spec.init_containers, "spec.initContainers")?;
    let node_affinity = match spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()) {
        None => None,
        Some(na) => Some(node_affinity(na, "spec.affinity.nodeAffinity")?),
    };
    let pod_affinity = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .map(|a| {
            pod_affinity_def(
                &a.required_during_scheduling_ignored_during_execution,
                &a.preferred_during_scheduling_ignored_during_execution,
                "spec.affinity.podAffinity",
            )
        })
        .transpose()?;
    let pod_anti_affinity = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .map(|a| {
            pod_affinity_def(
                &a.required_during_scheduling_ignored_during_execution,
                &a.preferred_during_scheduling_ignored_during_execution,
                "spec.affinity.podAntiAffinity",
            )
        })
        .transpose()?;
    if spec.volumes.iter().flatten().any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some()) {
        unsupported.push(("VolumeBinding", "spec.volumes[].persistentVolumeClaim"));
    }
    if spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty()) {
        unsupported.push(("DynamicResources", "spec.resourceClaims"));
    }
    let mut tolerations = Vec::new();
    for (idx, t) in spec.tolerations.iter().flatten().enumerate() {
        let op = t.operator.clone().unwrap_or_default();
        let operator = TolerationOperator::parse(&op).ok_or_else(|| {
            (format!("spec.tolerations[{idx}].operator"), format!("Unsupported value: {op:?}: supported values: \"Equal\", \"Exists\""))
        })?;
        let effect = match t.effect.as_deref() {
            None | Some("") => None,
            Some(e) => Some(taint_effect(e, &format!("spec.tolerations[{idx}].effect"))?),
        };
        tolerations.push(TolerationDef {
            key: t.key.clone().unwrap_or_default(),
            operator,
            value: t.value.clone().unwrap_or_default(),
            effect,
        });
    }
    let topology_spread_constraints = spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
        .map(|(idx, c)| spread_constraint(c, &format!("spec.topologySpreadConstraints[{idx}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let pod_resources = spec.resources.clone().unwrap_or_default();
    let never_preempt = match spec.preemption_policy.as_deref() {
        None | Some("") | Some("PreemptLowerPriority") => false,
        Some("Never") => true,
        Some(other) => {
            return Err((
                "spec.preemptionPolicy".to_string(),
                format!("Unsupported value: {other:?}: supported values: \"Never\", \"PreemptLowerPriority\""),
            ));
        }
    };
    let def = PodDef {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name,
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        labels: pairs(&pod.metadata.labels),
        priority: spec.priority,
        never_preempt,
        start_time: pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.as_second()),
        scheduler_name: spec.scheduler_name.clone().unwrap_or_default(),
        node_name: spec.node_name.clone().unwrap_or_default(),
        containers,
        init_containers,
        overhead: quantities(&spec.overhead),
        pod_requests: quantities(&pod_resources.requests),
        pod_limits: quantities(&pod_resources.limits),
        node_selector: spec.node_selector.as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        node_affinity,
        tolerations,
        scheduling_gates: spec.scheduling_gates.iter().flatten().map(|g| g.name.clone()).collect(),
        image_volumes: spec.volumes.iter().flatten().filter_map(|v| v.image.as_ref().and_then(|i| i.reference.clone())).collect(),
        topology_spread_constraints,
        pod_affinity,
        pod_anti_affinity,
        owner: controller_of(&pod.metadata),
    };
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    let facts = PodFacts {
        phase,
        unsupported,
        priority_class_name: spec.priority_class_name.clone().unwrap_or_default(),
        preemption_policy_never: spec.preemption_policy.is_some().then_some(never_preempt),
    };
    Ok((def, facts))
}

/// Upstream `metav1.GetControllerOf`: the first owner reference with `controller: true`.
fn controller_of(metadata: &meta::ObjectMeta) -> Option<OwnerReferenceDef> {
    metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true)).map(|r| OwnerReferenceDef {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        name: r.name.clone(),
    })
}

/// A `metav1.LabelSelector`; an operator that is not one is an error naming its field, as the API server
/// words it.
pub(crate) fn label_selector(sel: &meta::LabelSelector, field: &str) -> Result<LabelSelectorDef, FieldError> {
    let match_expressions = sel
        .match_expressions
        .iter()
        .flatten()
        .enumerate()
        .map(|(idx, r)| {
            let operator = LabelOperator::parse(&r.operator).ok_or_else(|| {
                (
                    format!("{field}.matchExpressions[{idx}].operator"),
                    format!("Invalid value: {:?}: not a valid selector operator", r.operator),
                )
            })?;
            Ok(LabelSelectorRequirementDef { key: r.key.clone(), operator, values: r.values.clone().unwrap_or_default() })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(LabelSelectorDef { match_labels: pairs(&sel.match_labels), match_expressions })
}

fn pod_affinity_def(
    required: &Option<Vec<k8s::PodAffinityTerm>>,
    preferred: &Option<Vec<k8s::WeightedPodAffinityTerm>>,
    field: &str,
) -> Result<PodAffinityDef, FieldError> {
    let term = |t: &k8s::PodAffinityTerm, field: &str| -> Result<PodAffinityTermDef, FieldError> {
        Ok(PodAffinityTermDef {
            label_selector: t.label_selector.as_ref().map(|sel| label_selector(sel, &format!("{field}.labelSelector"))).transpose()?,
            namespaces: t.namespaces.clone().unwrap_or_default(),
            namespace_selector: t
                .namespace_selector
                .as_ref()
                .map(|sel| label_selector(sel, &format!("{field}.namespaceSelector")))
                .transpose()?,
            topology_key: t.topology_key.clone(),
            match_label_keys: t.match_label_keys.clone().unwrap_or_default(),
            mismatch_label_keys: t.mismatch_label_keys.clone().unwrap_or_default(),
        })
    };
    let required = required
        .iter()
        .flatten()
        .enumerate()
        .map(|(idx, t)| term(t, &format!("{field}.requiredDuringSchedulingIgnoredDuringExecution[{idx}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let preferred = preferred
        .iter()
        .flatten()
        .enumerate()
        .map(|(idx, w)| {
            let field = format!("{field}.preferredDuringSchedulingIgnoredDuringExecution[{idx}].podAffinityTerm");
            Ok(WeightedPodAffinityTermDef { weight: w.weight, term: term(&w.pod_affinity_term, &field)? })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(PodAffinityDef { required, preferred })
}

fn spread_constraint(c: &k8s::TopologySpreadConstraint, field: &str) -> Result<TopologySpreadConstraintDef, FieldError> {
    let when_unsatisfiable = WhenUnsatisfiable::parse(&c.when_unsatisfiable).ok_or_else(|| {
        (
            format!("{field}.whenUnsatisfiable"),
            format!("Unsupported value: {:?}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\"", c.when_unsatisfiable),
        )
    })?;
    let policy = |value: &Option<String>, name: &str| -> Result<Option<NodeInclusionPolicy>, FieldError> {
        value
            .as_deref()
            .map(|v| {
                NodeInclusionPolicy::parse(v).ok_or_else(|| {
                    (format!("{field}.{name}"), format!("Unsupported value: {v:?}: supported values: \"Honor\", \"Ignore\""))
                })
            })
            .transpose()
    };
    Ok(TopologySpreadConstraintDef {
        max_skew: c.max_skew,
        topology_key: c.topology_key.clone(),
        when_unsatisfiable,
        label_selector: c.label_selector.as_ref().map(|sel| label_selector(sel, &format!("{field}.labelSelector"))).transpose()?,
        min_domains: c.min_domains,
        node_affinity_policy: policy(&c.node_affinity_policy, "nodeAffinityPolicy")?,
        node_taints_policy: policy(&c.node_taints_policy, "nodeTaintsPolicy")?,
        match_label_keys: c.match_label_keys.clone().unwrap_or_default(),
    })
}

fn containers_opt(list: &Option<Vec<k8s::Container>>, field: &str) -> Result<Vec<ContainerDef>, FieldError> {
    match list {
        None => Ok(Vec::new()),
        Some(l) => containers(l, field),
    }
}

fn containers(list: &[k8s::Container], field: &str) -> Result<Vec<ContainerDef>, FieldError> {
    let mut out = Vec::with_capacity(list.len());
    for (idx, c) in list.iter().enumerate() {
        let resources = c.resources.clone().unwrap_or_default();
        let mut ports = Vec::new();
        for p in c.ports.iter().flatten() {
            ports.push(ContainerPortDef {
                host_port: p.host_port.unwrap_or(0),
                container_port: p.container_port,
                protocol: p.protocol.clone().unwrap_or_default(),
                host_ip: p.host_ip.clone().unwrap_or_default(),
            });
        }
        let restart_always = match c.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                return Err((
                    format!("{field}[{idx}].restartPolicy"),
                    format!("Unsupported value: {other:?}: supported values: \"Always\""),
                ));
            }
        };
        out.push(ContainerDef {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            requests: quantities(&resources.requests),
            limits: quantities(&resources.limits),
            ports,
            restart_policy_always: restart_always,
        });
    }
    Ok(out)
}

fn node_selector_operator(op: &str, field: &str) -> Result<NodeSelectorOperator, FieldError> {
    NodeSelectorOperator::parse(op).ok_or_else(|| {
        (
            field.to_string(),
            format!("Unsupported value: {op:?}: supported values: \"DoesNotExist\", \"Exists\", \"Gt\", \"In\", \"Lt\", \"NotIn\""),
        )
    })
}

fn term(t: &k8s::NodeSelectorTerm, field: &str) -> Result<NodeSelectorTermDef, FieldError> {
    let convert = |list: &Option<Vec<k8s::NodeSelectorRequirement>>, kind: &str| -> Result<Vec<NodeSelectorRequirementDef>, FieldError> {
        list.iter()
            .flatten()
            .enumerate()
            .map(|(idx, r)| {
                Ok(NodeSelectorRequirementDef {
                    key: r.key.clone(),
                    operator: node_selector_operator(&r.operator, &format!("{field}.{kind}[{idx}].operator"))?,
                    values: r.values.clone().unwrap_or_default(),
                })
            })
            .collect()
    };
    Ok(NodeSelectorTermDef {
        match_expressions: convert(&t.match_expressions, "matchExpressions")?,
        match_fields: convert(&t.match_fields, "matchFields")?,
    })
}

fn node_affinity(na: &k8s::NodeAffinity, field: &str) -> Result<NodeAffinityDef, FieldError> {
    let required = match &na.required_during_scheduling_ignored_during_execution {
        None => None,
        Some(sel) => {
            let path = format!("{field}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
            let terms =
                sel.node_selector_terms.iter().enumerate().map(|(i, t)| term(t, &format!("{path}[{i}]"))).collect::<Result<_, _>>()?;
            Some(NodeSelectorDef { terms })
        }
    };
    let preferred = match &na.preferred_during_scheduling_ignored_during_execution {
        None => None,
        Some(list) => {
            let path = format!("{field}.preferredDuringSchedulingIgnoredDuringExecution");
            Some(
                list.iter()
                    .enumerate()
                    .map(|(i, p)| {
                        Ok(PreferredSchedulingTermDef {
                            weight: p.weight,
                            preference: term(&p.preference, &format!("{path}[{i}].preference"))?,
                        })
                    })
                    .collect::<Result<Vec<_>, FieldError>>()?,
            )
        }
    };
    Ok(NodeAffinityDef { required, preferred })
}

/// The `v1.Pod` manifest of a [`PodDef`]: the inverse of [`pod_def`] (`pod_def(&pod_manifest(d))` gives `d`
/// back, up to the order of labels and node-selector entries, which a manifest keeps sorted).
pub fn pod_manifest(def: &PodDef) -> k8s::Pod {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let map = |pairs: &[(String, String)]| -> Option<BTreeMap<String, String>> {
        (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    let quantity_map = |pairs: &[(String, String)]| -> Option<BTreeMap<String, Quantity>> {
        (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.clone(), Quantity(v.clone()))).collect())
    };
    let resources = |requests: &[(String, String)], limits: &[(String, String)]| {
        (!requests.is_empty() || !limits.is_empty()).then(|| k8s::ResourceRequirements {
            requests: quantity_map(requests),
            limits: quantity_map(limits),
            ..k8s::ResourceRequirements::default()
        })
    };
    let containers = |list: &[ContainerDef]| -> Vec<k8s::Container> {
        list.iter()
            .map(|c| k8s::Container {
                name: c.name.clone(),
                image: non_empty(&c.image),
                resources: resources(&c.requests, &c.limits),
                ports: (!c.ports.is_empty()).then(|| {
                    c.ports
                        .iter()
                        .map(|p| k8s::ContainerPort {
                            container_port: p.container_port,
                            host_port: (p.host_port != 0).then_some(p.host_port),
                            protocol: non_empty(&p.protocol),
                            host_ip: non_empty(&p.host_ip),
                            ..k8s::ContainerPort::default()
                        })
                        .collect()
                }),
                restart_policy: c.restart_policy_always.then(|| "Always".to_string()),
                ..k8s::Container::default()
            })
            .collect()
    };
    let term = |t: &NodeSelectorTermDef| {
        let requirements = |list: &[NodeSelectorRequirementDef]| {
            (!list.is_empty()).then(|| {
                list.iter()
                    .map(|r| k8s::NodeSelectorRequirement {
                        key: r.key.clone(),
                        operator: node_selector_operator_name(r.operator).to_string(),
                        values: (!r.values.is_empty()).then(|| r.values.clone()),
                    })
                    .collect()
            })
        };
        k8s::NodeSelectorTerm { match_expressions: requirements(&t.match_expressions), match_fields: requirements(&t.match_fields) }
    };
    let node_affinity = def.node_affinity.as_ref().map(|na| k8s::NodeAffinity {
        required_during_scheduling_ignored_during_execution: na
            .required
            .as_ref()
            .map(|sel| k8s::NodeSelector { node_selector_terms: sel.terms.iter().map(term).collect() }),
        preferred_during_scheduling_ignored_during_execution: na
            .preferred
            .as_ref()
            .map(|list| list.iter().map(|p| k8s::PreferredSchedulingTerm { weight: p.weight, preference: term(&p.preference) }).collect()),
    });
    let pod_terms = |a: &PodAffinityDef| {
        (
            (!a.required.is_empty()).then(|| a.required.iter().map(pod_affinity_term_manifest).collect::<Vec<_>>()),
            (!a.preferred.is_empty()).then(|| {
                a.preferred
                    .iter()
                    .map(|w| k8s::WeightedPodAffinityTerm { weight: w.weight, pod_affinity_term: pod_affinity_term_manifest(&w.term) })
                    .collect::<Vec<_>>()
            }),
        )
    };
    let pod_affinity = def.pod_affinity.as_ref().map(|a| {
        let (required, preferred) = pod_terms(a);
        k8s::PodAffinity {
            required_during_scheduling_ignored_during_execution: required,
            preferred_during_scheduling_ignored_during_execution: preferred,
        }
    });
    let pod_anti_affinity = def.pod_anti_affinity.as_ref().map(|a| {
        let (required, preferred) = pod_terms(a);
        k8s::PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: required,
            preferred_during_scheduling_ignored_during_execution: preferred,
        }
    });
    let affinity = (node_affinity.is_some() || pod_affinity.is_some() || pod_anti_affinity.is_some()).then_some(k8s::Affinity {
        node_affinity,
        pod_affinity,
        pod_anti_affinity,
    });
    let tolerations = (!def.tolerations.is_empty()).then(|| {
        def.tolerations
            .iter()
            .map(|t| k8s::Toleration {
                key: non_empty(&t.key),
                operator: Some(toleration_operator_name(t.operator).to_string()),
                value: non_empty(&t.value),
                effect: t.effect.map(|e| e.as_str().to_string()),
                ..k8s::Toleration::default()
            })
            .collect()
    });
    let volumes = (!def.image_volumes.is_empty()).then(|| {
        def.image_volumes
            .iter()
            .enumerate()
            .map(|(idx, reference)| k8s::Volume {
                name: format!("image-{idx}"),
                image: Some(k8s::ImageVolumeSource { reference: Some(reference.clone()), ..k8s::ImageVolumeSource::default() }),
                ..k8s::Volume::default()
            })
            .collect()
    });
    k8s::Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: non_empty(&def.name),
            namespace: non_empty(&def.namespace),
            uid: non_empty(&def.uid),
            labels: map(&def.labels),
            owner_references: def.owner.as_ref().map(|o| {
                vec![meta::OwnerReference {
                    api_version: o.api_version.clone(),
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    controller: Some(true),
                    ..meta::OwnerReference::default()
                }]
            }),
            ..Default::default()
        },
        spec: Some(k8s::PodSpec {
            priority: def.priority,
            preemption_policy: def.never_preempt.then(|| "Never".to_string()),
            scheduler_name: non_empty(&def.scheduler_name),
            node_name: non_empty(&def.node_name),
            containers: containers(&def.containers),
            init_containers: (!def.init_containers.is_empty()).then(|| containers(&def.init_containers)),
            overhead: quantity_map(&def.overhead),
            resources: resources(&def.pod_requests, &def.pod_limits),
            node_selector: def.node_selector.as_ref().map(|pairs| pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            affinity,
            tolerations,
            scheduling_gates: (!def.scheduling_gates.is_empty())
                .then(|| def.scheduling_gates.iter().map(|name| k8s::PodSchedulingGate { name: name.clone() }).collect()),
            volumes,
            topology_spread_constraints: (!def.topology_spread_constraints.is_empty())
                .then(|| def.topology_spread_constraints.iter().map(spread_constraint_manifest).collect()),
            ..k8s::PodSpec::default()
        }),
        status: def.start_time.and_then(|t| k8s_openapi::jiff::Timestamp::from_second(t).ok()).map(|t| k8s::PodStatus {
            start_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t)),
            ..k8s::PodStatus::default()
        }),
    }
}

fn spread_constraint_manifest(c: &TopologySpreadConstraintDef) -> k8s::TopologySpreadConstraint {
    let policy = |p: Option<NodeInclusionPolicy>| {
        p.map(|p| match p {
            NodeInclusionPolicy::Honor => "Honor".to_string(),
            NodeInclusionPolicy::Ignore => "Ignore".to_string(),
        })
    };
    k8s::TopologySpreadConstraint {
        max_skew: c.max_skew,
        topology_key: c.topology_key.clone(),
        when_unsatisfiable: c.when_unsatisfiable.as_str().to_string(),
        label_selector: c.label_selector.as_ref().map(label_selector_manifest),
        min_domains: c.min_domains,
        node_affinity_policy: policy(c.node_affinity_policy),
        node_taints_policy: policy(c.node_taints_policy),
        match_label_keys: (!c.match_label_keys.is_empty()).then(|| c.match_label_keys.clone()),
    }
}

fn label_selector_manifest(sel: &LabelSelectorDef) -> meta::LabelSelector {
    meta::LabelSelector {
        match_labels: (!sel.match_labels.is_empty()).then(|| sel.match_labels.iter().cloned().collect()),
        match_expressions: (!sel.match_expressions.is_empty()).then(|| {
            sel.match_expressions
                .iter()
                .map(|r| meta::LabelSelectorRequirement {
                    key: r.key.clone(),
                    operator: label_operator_name(r.operator).to_string(),
                    values: (!r.values.is_empty()).then(|| r.values.clone()),
                })
                .collect()
        }),
    }
}

fn pod_affinity_term_manifest(t: &PodAffinityTermDef) -> k8s::PodAffinityTerm {
    k8s::PodAffinityTerm {
        label_selector: t.label_selector.as_ref().map(label_selector_manifest),
        namespaces: (!t.namespaces.is_empty()).then(|| t.namespaces.clone()),
        namespace_selector: t.namespace_selector.as_ref().map(label_selector_manifest),
        topology_key: t.topology_key.clone(),
        match_label_keys: (!t.match_label_keys.is_empty()).then(|| t.match_label_keys.clone()),
        mismatch_label_keys: (!t.mismatch_label_keys.is_empty()).then(|| t.mismatch_label_keys.clone()),
    }
}

fn label_operator_name(operator: LabelOperator) -> &'static str {
    match operator {
        LabelOperator::In => "In",
        LabelOperator::NotIn => "NotIn",
        LabelOperator::Exists => "Exists",
        LabelOperator::DoesNotExist => "DoesNotExist",
    }
}

fn node_selector_operator_name(operator: NodeSelectorOperator) -> &'static str {
    match operator {
        NodeSelectorOperator::In => "In",
        NodeSelectorOperator::NotIn => "NotIn",
        NodeSelectorOperator::Exists => "Exists",
        NodeSelectorOperator::DoesNotExist => "DoesNotExist",
        NodeSelectorOperator::Gt => "Gt",
        NodeSelectorOperator::Lt => "Lt",
    }
}

fn toleration_operator_name(operator: TolerationOperator) -> &'static str {
    match operator {
        TolerationOperator::Equal => "Equal",
        TolerationOperator::Exists => "Exists",
        TolerationOperator::Lt => "Lt",
        TolerationOperator::Gt => "Gt",
    }
}
