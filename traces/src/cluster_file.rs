//! Reading cluster and pod files: `kubectl get nodes,pods -A -o yaml|json` output (a `v1.List`, `NodeList`,
//! `PodList`, single objects, or multi-document YAML), the compact cluster format, or an openb node list CSV.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1 as k8s;
use serde::de::DeserializeOwned;

use scheduler_core::{Cluster, ClusterError, ControllerDef, NodeDef, PodDef, PodDisruptionBudgetDef, ServiceDef};

use crate::compact::CompactCluster;
use crate::error::TraceError;
use crate::kube::{
    NamespaceDef, PodFacts, namespace_def, node_def, pdb_def, pod_def, replica_set_def, replication_controller_def, service_def,
    stateful_set_def,
};
use crate::priority::{PriorityClasses, priority_class_def};

/// A definition with where it came from in its file (`items[3]`, `document 2`, `nodeGroups[0]`).
#[derive(Clone, Debug)]
pub struct Located<T> {
    /// Path of the object in the file.
    pub origin: String,
    /// The definition.
    pub def: T,
}

/// What a cluster file holds.
#[derive(Clone, Debug, Default)]
pub struct ClusterInput {
    /// Nodes, in file order.
    pub nodes: Vec<Located<NodeDef>>,
    /// Pods bound to a node and not finished, in file order.
    pub pods: Vec<Located<PodDef>>,
    /// Namespaces (their labels are what pod affinity's `namespaceSelector` selects).
    pub namespaces: Vec<Located<NamespaceDef>>,
    /// Services (their selectors give pods their default topology spreading).
    pub services: Vec<Located<ServiceDef>>,
    /// ReplicationControllers, ReplicaSets and StatefulSets (likewise, for the pods they control).
    pub controllers: Vec<Located<ControllerDef>>,
    /// PodDisruptionBudgets (preemption prefers victims whose budgets allow their disruption).
    pub pdbs: Vec<Located<PodDisruptionBudgetDef>>,
    /// PriorityClasses, with the system ones: what resolves a pod's `priorityClassName`.
    pub priority_classes: PriorityClasses,
    /// What the file held that is not part of the cluster's state.
    pub skipped: Skipped,
    /// The bound pods' priority class names and preemption policies, admitted once every class is read.
    admissions: Vec<(usize, PodFacts)>,
}

/// Objects read but not part of the scheduler's view of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Pods without `spec.nodeName` (pending): not running anywhere.
    pub unbound_pods: usize,
    /// Pods in phase `Succeeded` or `Failed`: the scheduler does not count them.
    pub finished_pods: usize,
    /// Objects of other kinds, by kind (Deployments, ConfigMaps, …: nothing the scheduler reads).
    pub other_kinds: BTreeMap<String, usize>,
}

impl Skipped {
    /// A one-line summary, or `None` when nothing was skipped.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.unbound_pods > 0 {
            parts.push(format!("{} pending pod(s) without a node", self.unbound_pods));
        }
        if self.finished_pods > 0 {
            parts.push(format!("{} finished pod(s)", self.finished_pods));
        }
        for (kind, n) in &self.other_kinds {
            parts.push(format!("{n} {kind} object(s)"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Budgets for large, trusted files (the defaults stop at 250,000 YAML nodes), and YAML 1.2 booleans so
/// that a name such as `n` or `no` stays a string.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_events: usize::MAX,
            max_nodes: usize::MAX,
            max_total_scalar_bytes: usize::MAX,
            max_documents: usize::MAX,
            max_reader_input_bytes: None,
        },
    }
}

fn read(path: &Path) -> Result<String, TraceError> {
    std::fs::read_to_string(path).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))
}

fn is_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// Parses a JSON document, or YAML documents, into values.
fn documents(text: &str, path: &Path) -> Result<Vec<serde_json::Value>, TraceError> {
    if is_json(text) {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| TraceError::new(path, format!("line {} column {}", e.line(), e.column()), json_message(&e)))?;
        return Ok(vec![v]);
    }
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_str_multiple_with_options(text, yaml_options()).map_err(|e| yaml_error(path, &e))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(idx) => s[..idx].to_string(),
        None => s,
    }
}

pub(crate) fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> TraceError {
    let c = scheduler_core::yaml_error(e);
    TraceError::new(path, c.path, c.message)
}

/// Deserialises an object, naming the field path of an error.
pub(crate) fn object<T: DeserializeOwned>(value: serde_json::Value, origin: &str, path: &Path) -> Result<T, TraceError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        TraceError::new(path, if field == "." { origin.to_string() } else { format!("{origin}.{field}") }, e.into_inner().to_string())
    })
}

fn kind_of(v: &serde_json::Value) -> &str {
    v.get("kind").and_then(serde_json::Value::as_str).unwrap_or("")
}

/// Reads a cluster file (recognised by its content: an openb node-list header, JSON, or YAML; a `.csv` file
/// must be an openb node list).
pub fn read_cluster(path: &Path) -> Result<ClusterInput, TraceError> {
    parse_cluster(&read(path)?, path)
}

/// Parses a cluster file's text; `path` names it in errors, and its `.csv` extension says it must be an
/// openb node list.
pub fn parse_cluster(text: &str, path: &Path) -> Result<ClusterInput, TraceError> {
    let first_line = text.lines().next().unwrap_or_default();
    if crate::openb::is_node_list_header(first_line) {
        let nodes = crate::openb::parse_nodes(text, path)?;
        let nodes = nodes.into_iter().map(|(line, def)| Located { origin: format!("line {line}"), def }).collect();
        return Ok(ClusterInput { nodes, ..ClusterInput::default() });
    }
    if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("csv")) {
        return Err(not_a_node_list(first_line, path));
    }
    let docs = documents(text, path)?;
    let mut input = ClusterInput::default();
    let multi = docs.len() > 1;
    for (d_idx, doc) in docs.into_iter().enumerate() {
        let doc_origin = if multi { format!("document {}", d_idx + 1) } else { String::new() };
        let join = |a: &str, b: &str| if a.is_empty() { b.to_string() } else { format!("{a}: {b}") };
        match kind_of(&doc) {
            "Cluster" => {
                if multi {
                    return Err(TraceError::new(
                        path,
                        join(&doc_origin, "kind"),
                        "a simsched/v1 Cluster must be the only document of its file",
                    ));
                }
                let compact: CompactCluster = if is_json(text) {
                    object(doc, "", path)?
                } else {
                    serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| yaml_error(path, &e))?
                };
                let nodes = compact.nodes().map_err(|(field, message)| TraceError::new(path, field, message))?;
                input.nodes.extend(nodes.into_iter().map(|(origin, def)| Located { origin, def }));
            }
            kind @ ("List" | "NodeList" | "PodList") => {
                let item_kind = match kind {
                    "NodeList" => "Node",
                    "PodList" => "Pod",
                    _ => "",
                };
                let items = match doc.get("items") {
                    None | Some(serde_json::Value::Null) => Vec::new(),
                    Some(serde_json::Value::Array(items)) => items.clone(),
                    Some(_) => return Err(TraceError::new(path, join(&doc_origin, "items"), "expected a list of objects")),
                };
                for (i_idx, item) in items.into_iter().enumerate() {
                    let kind = match kind_of(&item) {
                        "" => item_kind.to_string(),
                        k => k.to_string(),
                    };
                    add_object(&mut input, &kind, item, &join(&doc_origin, &format!("items[{i_idx}]")), path)?;
                }
            }
            "" => {
                return Err(TraceError::new(
                    path,
                    join(&doc_origin, "kind"),
                    "Required value: expected Node, Pod, List, NodeList, PodList or a simsched/v1 Cluster",
                ));
            }
            kind => {
                let kind = kind.to_string();
                let origin = if doc_origin.is_empty() { "document".to_string() } else { doc_origin.clone() };
                add_object(&mut input, &kind, doc, &origin, path)?;
            }
        }
    }
    for (idx, facts) in std::mem::take(&mut input.admissions) {
        let pod = &mut input.pods[idx];
        facts
            .admit(&mut pod.def, &input.priority_classes)
            .map_err(|(field, message)| TraceError::new(path, format!("{}.{field}", pod.origin), message))?;
    }
    Ok(input)
}

/// The error for a CSV cluster file whose header is not an openb node list's.
fn not_a_node_list(first_line: &str, path: &Path) -> TraceError {
    let first_line = first_line.trim_start_matches('\u{feff}');
    let shown: String = first_line.chars().take(80).collect();
    let shown = if shown.len() < first_line.len() { format!("{shown}…") } else { shown };
    let mut message = format!(
        "a CSV cluster file must be an openb node list: expected a header with the columns {}, got {shown:?}",
        crate::openb::NODE_COLUMNS.join(",")
    );
    if let Some(format) = crate::format::format_of_first_line(first_line) {
        message.push_str(&format!(" (this is a workload in the {format} format, not a cluster file)"));
    }
    TraceError::new(path, "line 1", message)
}

fn add_object(input: &mut ClusterInput, kind: &str, value: serde_json::Value, origin: &str, path: &Path) -> Result<(), TraceError> {
    match kind {
        "Node" => {
            let node: k8s::Node = object(value, origin, path)?;
            let def = node_def(&node).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            input.nodes.push(Located { origin: origin.to_string(), def });
        }
        "Pod" => {
            let pod: k8s::Pod = object(value, origin, path)?;
            let (def, facts) = pod_def(&pod).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            if def.node_name.is_empty() {
                input.skipped.unbound_pods += 1;
            } else if facts.phase == "Succeeded" || facts.phase == "Failed" {
                input.skipped.finished_pods += 1;
            } else {
                input.admissions.push((input.pods.len(), facts));
                input.pods.push(Located { origin: origin.to_string(), def });
            }
        }
        "Service" => {
            let service: k8s::Service = object(value, origin, path)?;
            let def = service_def(&service).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            input.services.push(Located { origin: origin.to_string(), def });
        }
        "ReplicationController" | "ReplicaSet" | "StatefulSet" => {
            let def = match kind {
                "ReplicationController" => replication_controller_def(&object(value, origin, path)?),
                "ReplicaSet" => replica_set_def(&object(value, origin, path)?),
                _ => stateful_set_def(&object(value, origin, path)?),
            }
            .map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            input.controllers.push(Located { origin: origin.to_string(), def });
        }
        "PodDisruptionBudget" => {
            let pdb: k8s_openapi::api::policy::v1::PodDisruptionBudget = object(value, origin, path)?;
            let def = pdb_def(&pdb).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            input.pdbs.push(Located { origin: origin.to_string(), def });
        }
        "PriorityClass" => {
            let pc: k8s_openapi::api::scheduling::v1::PriorityClass = object(value, origin, path)?;
            let def = priority_class_def(&pc).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            input.priority_classes.add(def).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
        }
        "Namespace" => {
            let ns: k8s::Namespace = object(value, origin, path)?;
            let def = namespace_def(&ns).map_err(|(field, message)| TraceError::new(path, format!("{origin}.{field}"), message))?;
            input.namespaces.push(Located { origin: origin.to_string(), def });
        }
        other => *input.skipped.other_kinds.entry(other.to_string()).or_default() += 1,
    }
    Ok(())
}

/// Builds a cluster from what a file holds; errors name the file and the object.
pub fn build_cluster(input: &ClusterInput, path: &Path) -> Result<Cluster, TraceError> {
    let mut cluster = Cluster::new();
    for ns in &input.namespaces {
        cluster.add_namespace(&ns.def.name, &ns.def.labels);
    }
    let object_error = |origin: &str, e: ClusterError| match e {
        ClusterError::Object { source, .. } | ClusterError::Budget { source, .. } => {
            TraceError::new(path, format!("{origin}.{}", source.field), source.message)
        }
        other => TraceError::new(path, origin, other.to_string()),
    };
    for s in &input.services {
        cluster.add_service(&s.def).map_err(|e| object_error(&s.origin, e))?;
    }
    for c in &input.controllers {
        cluster.add_controller(&c.def).map_err(|e| object_error(&c.origin, e))?;
    }
    for b in &input.pdbs {
        cluster.add_pdb(&b.def).map_err(|e| object_error(&b.origin, e))?;
    }
    for n in &input.nodes {
        cluster.add_node(&n.def).map_err(|e| match e {
            ClusterError::Node { source, .. } => {
                TraceError::new(path, format!("{} (node {}).{}", n.origin, n.def.name, source.field), source.message)
            }
            other => TraceError::new(path, &n.origin, other.to_string()),
        })?;
    }
    for p in &input.pods {
        let pod = cluster
            .compile_pod(&p.def)
            .map_err(|e| TraceError::new(path, format!("{} (pod {}).{}", p.origin, p.def.name, e.field), e.message))?;
        let Some(node) = pod.node_name.and_then(|n| cluster.node_id_by_symbol(n)) else {
            return Err(TraceError::new(
                path,
                format!("{}.spec.nodeName", p.origin),
                format!("node {:?} is not in the cluster", p.def.node_name),
            ));
        };
        cluster.add_pod(pod, node);
    }
    Ok(cluster)
}

/// Reads a pod file: one `v1.Pod` (YAML or JSON).
pub fn read_pod(path: &Path) -> Result<(PodDef, PodFacts), TraceError> {
    parse_pod(&read(path)?, path)
}

/// Parses a pod file's text.
pub fn parse_pod(text: &str, path: &Path) -> Result<(PodDef, PodFacts), TraceError> {
    let mut docs = documents(text, path)?;
    if docs.len() != 1 {
        return Err(TraceError::new(path, "document", format!("expected one Pod, found {} documents", docs.len())));
    }
    let doc = docs.remove(0);
    match kind_of(&doc) {
        "Pod" | "" => {}
        other => return Err(TraceError::new(path, "kind", format!("expected \"Pod\", got {other:?}"))),
    }
    let pod: k8s::Pod = object(doc, "", path).map_err(|mut e| {
        e.location = e.location.trim_start_matches('.').to_string();
        e
    })?;
    pod_def(&pod).map_err(|(field, message)| TraceError::new(path, field, message))
}
