//! The core of simsched: the cluster model, kube-scheduler's plugin framework, and its scheduling cycle.
//!
//! Key design decision: strings stop at the edge. Node and pod definitions ([`NodeDef`], [`PodDef`]) are
//! plain data with strings, as in a manifest; compiling them into a [`Cluster`] interns every label,
//! namespace, resource name and taint key into a [`Symbol`], converts quantities into the scheduler's
//! integer units, and compiles selectors and tolerations into matchers over symbols. The scheduling
//! cycle then never hashes or compares a string, and a node's hot data (allocatable, requested,
//! pod count) sits in one contiguous [`NodeInfo`].
//!
//! The crate `plugins` provides kube-scheduler's plugins and a registry of them; its documentation shows
//! a complete program.

mod affinity;
mod cluster;
mod config;
mod disruption;
mod divisor;
mod error;
mod explain;
pub mod fragmentation;
mod framework;
pub mod gpu;
mod intern;
mod labels;
mod memo;
mod node;
mod owners;
mod pod;
mod preemption;
mod profile;
mod quantity;
mod registry;
mod resources;
mod scheduler;
mod selector;
mod spread;
mod status;
mod taint;
pub mod testing;

pub use affinity::{AffinityTerm, PodAffinity, PodAffinityDef, PodAffinityTermDef, WeightedAffinityTerm, WeightedPodAffinityTermDef};
pub use cluster::{BoundPod, Cluster, ClusterError, ImageState, NominatedPod};
pub use config::{
    API_VERSION, ConfigError, DEFAULT_MULTI_POINT, DefaultedProfile, KubeSchedulerConfiguration, PluginConfig, PluginRef, PluginSet,
    Plugins, ProfileConfig, SchedulerConfig, merge_plugins, yaml_error,
};
pub use disruption::{IntOrPercent, PodDisruptionBudget, PodDisruptionBudgetDef};
pub use divisor::Divisor;
pub use error::ModelError;
pub use explain::{Explanation, FilterVerdict, NodeExplanation, PluginScore, PostFilterExplanation};
pub use framework::{
    CycleContext, ExtensionPoint, ExtensionPoints, FilterPlugin, MAX_NODE_SCORE, MIN_NODE_SCORE, Plugin, PostFilterPlugin,
    PostFilterResult, PreEnqueuePlugin, PreFilterExtensions, PreFilterPlugin, PreFilterResult, PreScorePlugin, QueueSortPlugin,
    QueuedPodInfo, ReservePlugin, ScorePlugin, StateData, StateSlot, default_normalize_score,
};
pub use intern::{Interner, Symbol, parse_go_int64, well_known};
pub use labels::Labels;
pub use node::{ImageDef, Node, NodeDef, NodeId, NodeInfo, PodId, TaintDef};
pub use owners::{ControllerDef, ControllerKind, OwnerReferenceDef, ServiceDef};
pub use pod::{
    ContainerDef, ContainerPortDef, DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, HostPort, NodeAffinityDef, Pod, PodDef,
    TolerationDef, normalized_image_name,
};
pub use preemption::{PostFilterHandle, SimulatedState};
pub use profile::{MissingPlugin, Profile};
pub use quantity::{Quantity, QuantityError, format_milli, format_units};
pub use registry::{Lookup, PluginArgs, PluginFactory, Registry, UnavailablePlugin};
pub use resources::{
    MAX_AMOUNT, ResourceKind, ResourceList, Resources, Scalars, is_dns1123_label, is_dns1123_subdomain, is_label_value, is_qualified_name,
};
pub use scheduler::{
    Diagnosis, FitError, NodeScores, NodeStatus, NodeVerdicts, ScheduleError, ScheduleResult, Scheduler, TieBreak, node_rank,
    num_feasible_nodes_to_find,
};
pub use selector::{
    LabelOperator, LabelSelector, LabelSelectorDef, LabelSelectorRequirementDef, NodeFacts, NodeSelector, NodeSelectorDef,
    NodeSelectorOperator, NodeSelectorRequirementDef, NodeSelectorTerm, NodeSelectorTermDef, PreferredSchedulingTermDef, PreferredTerm,
};
pub use spread::{NodeInclusionPolicy, TopologySpreadConstraint, TopologySpreadConstraintDef, WhenUnsatisfiable};
pub use status::{Code, Reason, Status};
pub use taint::{Taint, TaintEffect, Toleration, TolerationOperator, tolerated};
