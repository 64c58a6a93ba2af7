//! The compact cluster format: node groups instead of node objects.
//!
//! ```yaml
//! apiVersion: simsched/v1
//! kind: Cluster
//! nodeGroups:
//! - name: gpu                  # nodes gpu-0 … gpu-3
//!   count: 4
//!   cpu: 96
//!   memory: 768Gi
//!   pods: 110                  # default 110
//!   ephemeralStorage: 1Ti      # optional
//!   resources: {nvidia.com/gpu: 8}
//!   labels: {topology.kubernetes.io/zone: zone-a}
//!   taints: [{key: nvidia.com/gpu, value: "true", effect: NoSchedule}]
//!   unschedulable: false       # default false
//! nodes:                       # individual nodes, after the groups: the same fields, without count
//! - {name: big-1, cpu: 128, memory: 1Ti}
//! ```
//! Every node gets the label `kubernetes.io/hostname: <name>` unless its group or entry sets it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use scheduler_core::{NodeDef, TaintDef};

use crate::error::TraceError;
use crate::yaml_writer::Yaml;

/// The compact format's `apiVersion`.
pub const API_VERSION: &str = "simsched/v1";

/// A compact cluster file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompactCluster {
    /// Must be `simsched/v1`.
    pub api_version: String,
    /// Must be `Cluster`.
    pub kind: String,
    /// Node groups, in order.
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// Individual nodes, after the groups' nodes.
    #[serde(default)]
    pub nodes: Vec<CompactNode>,
}

/// One node.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompactNode {
    /// Node name.
    pub name: String,
    /// Allocatable CPU (a quantity: `96`, `3500m`).
    pub cpu: QuantityText,
    /// Allocatable memory (`768Gi`).
    pub memory: QuantityText,
    /// Pod slots (default 110).
    #[serde(default = "default_pods")]
    pub pods: u32,
    /// Allocatable ephemeral storage.
    #[serde(default)]
    pub ephemeral_storage: Option<QuantityText>,
    /// Extended resources (`nvidia.com/gpu: 8`).
    #[serde(default)]
    pub resources: BTreeMap<String, QuantityText>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Taints.
    #[serde(default)]
    pub taints: Vec<CompactTaint>,
    /// Cordoned.
    #[serde(default)]
    pub unschedulable: bool,
}

/// A group of identical nodes.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroup {
    /// Name prefix: nodes are `<name>-0`, `<name>-1`, ….
    pub name: String,
    /// Number of nodes (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Allocatable CPU (a quantity: `96`, `3500m`).
    pub cpu: QuantityText,
    /// Allocatable memory (`768Gi`).
    pub memory: QuantityText,
    /// Pod slots (default 110).
    #[serde(default = "default_pods")]
    pub pods: u32,
    /// Allocatable ephemeral storage.
    #[serde(default)]
    pub ephemeral_storage: Option<QuantityText>,
    /// Extended resources (`nvidia.com/gpu: 8`).
    #[serde(default)]
    pub resources: BTreeMap<String, QuantityText>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Taints.
    #[serde(default)]
    pub taints: Vec<CompactTaint>,
    /// Cordoned.
    #[serde(default)]
    pub unschedulable: bool,
}

/// A taint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactTaint {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// A quantity written as a string or a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantityText(pub String);

impl<'de> Deserialize<'de> for QuantityText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = QuantityText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a quantity such as 4, 3500m or 32Gi")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn one() -> u32 {
    1
}

fn default_pods() -> u32 {
    110
}

impl NodeGroup {
    /// The group's node number `idx`.
    fn node(&self, idx: u32) -> CompactNode {
        CompactNode {
            name: format!("{}-{idx}", self.name),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            pods: self.pods,
            ephemeral_storage: self.ephemeral_storage.clone(),
            resources: self.resources.clone(),
            labels: self.labels.clone(),
            taints: self.taints.clone(),
            unschedulable: self.unschedulable,
        }
    }
}

impl CompactNode {
    /// The node; `path` names its entry in errors, which are (field path, message).
    pub fn node_def(&self, path: &str) -> Result<NodeDef, (String, String)> {
        if self.name.is_empty() {
            return Err((format!("{path}.name"), "Required value".into()));
        }
        let mut allocatable = vec![
            ("cpu".to_string(), self.cpu.0.clone()),
            ("memory".to_string(), self.memory.0.clone()),
            ("pods".to_string(), self.pods.to_string()),
        ];
        if let Some(e) = &self.ephemeral_storage {
            allocatable.push(("ephemeral-storage".into(), e.0.clone()));
        }
        allocatable.extend(self.resources.iter().map(|(k, v)| (k.clone(), v.0.clone())));
        let mut taints = Vec::new();
        for (t_idx, t) in self.taints.iter().enumerate() {
            let effect = crate::kube::taint_effect(&t.effect, &format!("{path}.taints[{t_idx}].effect"))?;
            taints.push(TaintDef { key: t.key.clone(), value: t.value.clone(), effect });
        }
        let mut labels: Vec<(String, String)> = self.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if !self.labels.contains_key(HOSTNAME_LABEL) {
            labels.push((HOSTNAME_LABEL.into(), self.name.clone()));
        }
        Ok(NodeDef { name: self.name.clone(), labels, taints, unschedulable: self.unschedulable, allocatable, images: Vec::new() })
    }

    /// A node as an entry of the compact format, or why it cannot be one. The hostname label is left out
    /// when it is the node's name (the reader adds it back).
    pub fn from_node_def(node: &NodeDef) -> Result<CompactNode, String> {
        if !node.images.is_empty() {
            return Err("it lists images, which the compact format does not hold".to_string());
        }
        let mut cpu = None;
        let mut memory = None;
        let mut pods = None;
        let mut ephemeral_storage = None;
        let mut resources = BTreeMap::new();
        for (resource, quantity) in &node.allocatable {
            let quantity_text = QuantityText(quantity.clone());
            let duplicate = match resource.as_str() {
                "cpu" => cpu.replace(quantity_text).is_some(),
                "memory" => memory.replace(quantity_text).is_some(),
                "ephemeral-storage" => ephemeral_storage.replace(quantity_text).is_some(),
                "pods" => {
                    let n_pods = quantity.parse::<u32>().map_err(|_| format!("its pods {quantity:?} is not a whole number"))?;
                    pods.replace(n_pods).is_some()
                }
                _ => resources.insert(resource.clone(), quantity_text).is_some(),
            };
            if duplicate {
                return Err(format!("it has {resource:?} twice"));
            }
        }
        let mut labels = BTreeMap::new();
        for (key, value) in &node.labels {
            if key == HOSTNAME_LABEL && *value == node.name {
                continue;
            }
            if labels.insert(key.clone(), value.clone()).is_some() {
                return Err(format!("it has label {key:?} twice"));
            }
        }
        Ok(CompactNode {
            name: node.name.clone(),
            cpu: cpu.ok_or("it has no allocatable cpu")?,
            memory: memory.ok_or("it has no allocatable memory")?,
            pods: pods.ok_or("it has no allocatable pods")?,
            ephemeral_storage,
            resources,
            labels,
            taints: node
                .taints
                .iter()
                .map(|t| CompactTaint { key: t.key.clone(), value: t.value.clone(), effect: t.effect.as_str().to_string() })
                .collect(),
            unschedulable: node.unschedulable,
        })
    }

    /// The entry as YAML, fields in the documented order; `with_name: false` for a group's template.
    pub(crate) fn to_yaml(&self, with_name: bool) -> Yaml {
        let mut entries = Vec::new();
        if with_name {
            entries.push(("name".to_string(), Yaml::str(&self.name)));
        }
        entries.push(("cpu".to_string(), Yaml::quantity(&self.cpu.0)));
        entries.push(("memory".to_string(), Yaml::quantity(&self.memory.0)));
        if self.pods != default_pods() {
            entries.push(("pods".to_string(), Yaml::Plain(self.pods.to_string())));
        }
        if let Some(e) = &self.ephemeral_storage {
            entries.push(("ephemeralStorage".to_string(), Yaml::quantity(&e.0)));
        }
        if !self.resources.is_empty() {
            let resources = self.resources.iter().map(|(k, v)| (k.clone(), Yaml::quantity(&v.0))).collect();
            entries.push(("resources".to_string(), Yaml::Map(resources)));
        }
        if !self.labels.is_empty() {
            entries.push(("labels".to_string(), Yaml::Map(self.labels.iter().map(|(k, v)| (k.clone(), Yaml::str(v))).collect())));
        }
        if !self.taints.is_empty() {
            let taints = self
                .taints
                .iter()
                .map(|t| {
                    let mut taint = vec![("key".to_string(), Yaml::str(&t.key))];
                    if !t.value.is_empty() {
                        taint.push(("value".to_string(), Yaml::str(&t.value)));
                    }
                    taint.push(("effect".to_string(), Yaml::str(&t.effect)));
                    Yaml::Map(taint)
                })
                .collect();
            entries.push(("taints".to_string(), Yaml::Seq(taints)));
        }
        if self.unschedulable {
            entries.push(("unschedulable".to_string(), Yaml::Plain("true".to_string())));
        }
        Yaml::Map(entries)
    }
}

/// The label every node gets unless its entry sets it.
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// Writes nodes as a compact cluster file. Runs of identical nodes named `<group>-0`, `<group>-1`, … become
/// node groups, as long as no individual node came before them (so the file keeps the nodes' order); the
/// other nodes are written as `nodes:` entries. A node the format cannot hold (images, no cpu, memory or
/// pods) is an error naming it.
pub fn write_cluster(nodes: &[NodeDef], path: &Path) -> Result<(), TraceError> {
    let mut compact_nodes = Vec::with_capacity(nodes.len());
    for node in nodes {
        let compact = CompactNode::from_node_def(node).map_err(|message| {
            TraceError::new(path, format!("node {:?}", node.name), format!("cannot be written in the compact format: {message}"))
        })?;
        compact_nodes.push(compact);
    }
    let mut groups = Vec::new();
    let mut node_idx = 0;
    while node_idx < compact_nodes.len() {
        let Some(group_name) = compact_nodes[node_idx].name.strip_suffix("-0") else { break };
        let first = &compact_nodes[node_idx];
        let mut count: u32 = 1;
        while let Some(next) = compact_nodes.get(node_idx + count as usize) {
            let same_but_name = CompactNode { name: next.name.clone(), ..first.clone() } == *next;
            if !same_but_name || next.name != format!("{group_name}-{count}") || count == u32::MAX {
                break;
            }
            count += 1;
        }
        if count < 2 {
            break;
        }
        let mut entries = vec![("name".to_string(), Yaml::str(group_name)), ("count".to_string(), Yaml::Plain(count.to_string()))];
        if let Yaml::Map(fields) = first.to_yaml(false) {
            entries.extend(fields);
        }
        groups.push(Yaml::Map(entries));
        node_idx += count as usize;
    }
    let mut document = vec![("apiVersion".to_string(), Yaml::str(API_VERSION)), ("kind".to_string(), Yaml::str("Cluster"))];
    let has_groups = !groups.is_empty();
    if has_groups {
        document.push(("nodeGroups".to_string(), Yaml::Seq(groups)));
    }
    if node_idx < compact_nodes.len() || !has_groups {
        let individual = compact_nodes[node_idx..].iter().map(|n| n.to_yaml(true)).collect();
        document.push(("nodes".to_string(), Yaml::Seq(individual)));
    }
    std::fs::write(path, Yaml::Map(document).to_document()).map_err(|e| TraceError::new(path, "file", format!("cannot write: {e}")))
}

impl CompactCluster {
    /// The nodes, each with the path of the group that defines it; errors are (field path, message).
    pub fn nodes(&self) -> Result<Vec<(String, NodeDef)>, (String, String)> {
        if self.api_version != API_VERSION {
            return Err(("apiVersion".into(), format!("expected {API_VERSION:?}, got {:?}", self.api_version)));
        }
        if self.kind != "Cluster" {
            return Err(("kind".into(), format!("expected \"Cluster\", got {:?}", self.kind)));
        }
        let mut nodes = Vec::new();
        for (g_idx, group) in self.node_groups.iter().enumerate() {
            let path = format!("nodeGroups[{g_idx}]");
            if group.name.is_empty() {
                return Err((format!("{path}.name"), "Required value".into()));
            }
            for idx in 0..group.count {
                nodes.push((path.clone(), group.node(idx).node_def(&path)?));
            }
        }
        for (n_idx, node) in self.nodes.iter().enumerate() {
            let path = format!("nodes[{n_idx}]");
            nodes.push((path.clone(), node.node_def(&path)?));
        }
        Ok(nodes)
    }
}
