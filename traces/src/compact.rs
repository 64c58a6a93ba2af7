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
//! ```
//! Every node gets the label `kubernetes.io/hostname: <name>` unless the group sets it.

use std::collections::BTreeMap;

use serde::Deserialize;

use scheduler_core::{NodeDef, TaintDef};

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
    pub node_groups: Vec<NodeGroup>,
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
#[derive(Clone, Debug, Deserialize)]
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
        for (g_idx, g) in self.node_groups.iter().enumerate() {
            let path = format!("nodeGroups[{g_idx}]");
            if g.name.is_empty() {
                return Err((format!("{path}.name"), "Required value".into()));
            }
            let mut allocatable = vec![
                ("cpu".to_string(), g.cpu.0.clone()),
                ("memory".to_string(), g.memory.0.clone()),
                ("pods".to_string(), g.pods.to_string()),
            ];
            if let Some(e) = &g.ephemeral_storage {
                allocatable.push(("ephemeral-storage".into(), e.0.clone()));
            }
            allocatable.extend(g.resources.iter().map(|(k, v)| (k.clone(), v.0.clone())));
            let mut taints = Vec::new();
            for (t_idx, t) in g.taints.iter().enumerate() {
                let effect = crate::kube::taint_effect(&t.effect, &format!("{path}.taints[{t_idx}].effect"))?;
                taints.push(TaintDef { key: t.key.clone(), value: t.value.clone(), effect });
            }
            for i in 0..g.count {
                let name = format!("{}-{i}", g.name);
                let mut labels: Vec<(String, String)> = g.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                if !g.labels.contains_key("kubernetes.io/hostname") {
                    labels.push(("kubernetes.io/hostname".into(), name.clone()));
                }
                nodes.push((
                    path.clone(),
                    NodeDef {
                        name,
                        labels,
                        taints: taints.clone(),
                        unschedulable: g.unschedulable,
                        allocatable: allocatable.clone(),
                        images: Vec::new(),
                    },
                ));
            }
        }
        Ok(nodes)
    }
}
