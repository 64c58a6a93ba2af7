//! kube-scheduler's plugins with exact 1.36 semantics, and the registry that names them.
//!
//! Key design decision: every plugin reads the pod and node in their compiled form (symbols and integer
//! units from `scheduler-core`), so a Filter or Score on a node is a few comparisons on one `NodeInfo`;
//! what depends on the pod alone is computed once per cycle, in PreFilter or PreScore.
//!
//! A complete program: build a cluster, add a running pod, register a plugin of your own next to the
//! built-in ones, and schedule.
//! ```
//! use std::sync::Arc;
//! use scheduler_core::testing::{node, pod};
//! use scheduler_core::{
//!     Cluster, CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, Scheduler, SchedulerConfig, StateSlot, Status,
//! };
//!
//! /// Prefers nodes whose name sorts first (a toy policy).
//! struct PreferEarlyNames;
//! impl Plugin for PreferEarlyNames {
//!     fn name(&self) -> &str { "PreferEarlyNames" }
//!     fn extension_points(self: Arc<Self>) -> ExtensionPoints { ExtensionPoints { score: Some(self), ..Default::default() } }
//! }
//! impl ScorePlugin for PreferEarlyNames {
//!     fn score(&self, _: &CycleContext<'_>, _: &Pod, node: &NodeInfo, _: &StateSlot) -> Result<i64, Status> {
//!         Ok(if node.node.name.as_ref() < "node-b" { 100 } else { 0 })
//!     }
//! }
//!
//! let mut cluster = Cluster::new();
//! let a = cluster.add_node(&node("node-a").cpu("4").memory("16Gi").def)?;
//! cluster.add_node(&node("node-b").cpu("4").memory("16Gi").def)?;
//! let web = cluster.compile_pod(&pod("web-0").cpu("3").memory("1Gi").def)?;
//! cluster.add_pod(web, a);
//!
//! let mut registry = plugins::registry();
//! registry.register("PreferEarlyNames", |_, _| Ok(Arc::new(PreferEarlyNames)));
//! let config = SchedulerConfig::from_yaml(
//!     "profiles:\n- plugins:\n    multiPoint:\n      enabled:\n      - name: PreferEarlyNames\n        weight: 10\n",
//! )?;
//! let mut scheduler = Scheduler::from_config(&config, &registry, &mut cluster, 42)?;
//!
//! // node-a has 1 CPU left: a 2-CPU pod goes to node-b whatever the custom plugin prefers.
//! let big = cluster.compile_pod(&pod("batch-0").cpu("2").memory("1Gi").def)?;
//! let decision = scheduler.schedule_one(&cluster, &big)?;
//! assert_eq!(&*cluster.node(decision.node).node.name, "node-b");
//!
//! // A small pod fits both; the custom plugin's weight 10 outweighs the built-in scores.
//! let small = cluster.compile_pod(&pod("batch-1").cpu("100m").memory("100Mi").def)?;
//! let decision = scheduler.schedule_one(&cluster, &small)?;
//! assert_eq!(&*cluster.node(decision.node).node.name, "node-a");
//! cluster.add_pod(small, decision.node);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod best_fit;
pub mod default_preemption;
pub mod dot_product;
pub mod fgd;
pub mod fifo;
pub mod first_fit;
pub mod gpu_best_fit;
pub mod gpu_clustering;
pub mod gpu_node;
pub mod gpu_packing;
pub mod gpu_share;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_unschedulable;
pub mod noderesources;
pub mod pod_topology_spread;
pub mod policy;
pub mod priority_sort;
pub mod random;
pub mod registry;
pub mod scheduling_gates;
pub mod shortest_job_first;
pub mod shortest_remaining_job_first;
mod tables;
pub mod taint_toleration;
#[cfg(test)]
mod testing;
pub mod tetris;

pub use policy::{FGD_PAPER_POLICIES, POLICIES, Policy, QUEUE_ORDERS, policy_config, policy_spec_yaml};
pub use registry::{registry, registry_for_workload};
