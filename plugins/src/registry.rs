//! The in-tree registry: every plugin simsched provides, and the upstream default plugins it does not.

use std::sync::Arc;

use scheduler_core::fragmentation::TypicalPods;
use scheduler_core::{ExtensionPoint, Registry, UnavailablePlugin};

use crate::best_fit::BestFit;
use crate::default_preemption::DefaultPreemption;
use crate::dot_product::DotProduct;
use crate::fgd::Fgd;
use crate::fifo::Fifo;
use crate::first_fit::FirstFit;
use crate::gpu_best_fit::GpuBestFit;
use crate::gpu_clustering::GpuClustering;
use crate::gpu_packing::GpuPacking;
use crate::gpu_share::GpuShare;
use crate::image_locality::ImageLocality;
use crate::inter_pod_affinity::InterPodAffinity;
use crate::node_affinity::NodeAffinity;
use crate::node_name::NodeName;
use crate::node_ports::NodePorts;
use crate::node_unschedulable::NodeUnschedulable;
use crate::noderesources::node_resources_balanced_allocation::NodeResourcesBalancedAllocation;
use crate::noderesources::node_resources_fit::NodeResourcesFit;
use crate::pod_topology_spread::PodTopologySpread;
use crate::priority_sort::PrioritySort;
use crate::random::Random;
use crate::scheduling_gates::SchedulingGates;
use crate::shortest_job_first::ShortestJobFirst;
use crate::shortest_remaining_job_first::ShortestRemainingJobFirst;
use crate::taint_toleration::TaintToleration;
use crate::tetris::Tetris;

use ExtensionPoint::*;

/// Upstream plugins of kube-scheduler 1.36's default profile that simsched does not provide, with their
/// upstream extension points.
pub const UNAVAILABLE: [(&str, UnavailablePlugin); 7] = [
    (
        "VolumeRestrictions",
        UnavailablePlugin {
            points: &[PreFilter, Filter],
            affects_decisions: true,
            note: "volume access-mode conflicts; only pods with volumes",
        },
    ),
    (
        "NodeVolumeLimits",
        UnavailablePlugin { points: &[PreFilter, Filter], affects_decisions: true, note: "CSI attach limits; only pods with volumes" },
    ),
    (
        "VolumeBinding",
        UnavailablePlugin {
            points: &[PreFilter, Filter, Reserve, PreBind, PreScore, Score],
            affects_decisions: true,
            note: "PersistentVolumeClaim binding; only pods with PVCs",
        },
    ),
    (
        "VolumeZone",
        UnavailablePlugin { points: &[PreFilter, Filter], affects_decisions: true, note: "volume zone constraints; only pods with PVs" },
    ),
    (
        "DynamicResources",
        UnavailablePlugin {
            points: &[PreEnqueue, PreFilter, Filter, PostFilter, PreScore, Score, Reserve, PreBind],
            affects_decisions: true,
            note: "dynamic resource allocation; only pods with ResourceClaims",
        },
    ),
    (
        "NodeDeclaredFeatures",
        UnavailablePlugin {
            points: &[PreFilter, Filter],
            affects_decisions: true,
            note: "node feature requirements; only pods needing declared features",
        },
    ),
    (
        "DefaultBinder",
        UnavailablePlugin { points: &[Bind], affects_decisions: false, note: "binding; simsched's callers bind the pod themselves" },
    ),
];

/// A registry of every plugin simsched provides: kube-scheduler's under their upstream names, the research
/// policies (Random, FirstFit, BestFit, Tetris) and queue orders (Fifo, ShortestJobFirst,
/// ShortestRemainingJobFirst), plus the upstream default plugins it does not provide (profiles naming them
/// build and report them as missing).
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("PrioritySort", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(PrioritySort))
    });
    r.register("SchedulingGates", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(SchedulingGates))
    });
    r.register("NodeUnschedulable", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(NodeUnschedulable))
    });
    r.register("NodeName", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(NodeName))
    });
    r.register("NodePorts", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(NodePorts))
    });
    r.register("TaintToleration", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(TaintToleration))
    });
    r.register("ImageLocality", |args, _| {
        args.decode::<NoArgs>()?;
        Ok(Arc::new(ImageLocality))
    });
    for (name, plugin) in research_plugins() {
        r.register(name, move |args, _| {
            args.decode::<NoArgs>()?;
            Ok(plugin())
        });
    }
    r.register("FGD", |args, interner| Ok(Arc::new(Fgd::from_args(args, interner, None)?)));
    r.register("NodeAffinity", |args, interner| Ok(Arc::new(NodeAffinity::new(args, interner)?)));
    r.register("InterPodAffinity", |args, _| Ok(Arc::new(InterPodAffinity::new(args)?)));
    r.register("DefaultPreemption", |args, _| Ok(Arc::new(DefaultPreemption::new(args)?)));
    r.register("PodTopologySpread", |args, interner| Ok(Arc::new(PodTopologySpread::new(args, interner)?)));
    r.register("NodeResourcesFit", |args, interner| Ok(Arc::new(NodeResourcesFit::new(args, interner)?)));
    r.register("NodeResourcesBalancedAllocation", |args, interner| Ok(Arc::new(NodeResourcesBalancedAllocation::new(args, interner)?)));
    for (name, plugin) in UNAVAILABLE {
        r.register_unavailable(name, plugin);
    }
    r
}

/// [`registry`] for scheduling a known workload: FGD, when its arguments list no typical pods, measures
/// fragmentation against `typical` (the workload's, `TypicalPods::from_pods`).
pub fn registry_for_workload(typical: Arc<TypicalPods>) -> Registry {
    let mut r = registry();
    r.register("FGD", move |args, interner| Ok(Arc::new(Fgd::from_args(args, interner, Some(&typical))?)));
    r
}

/// Builds a plugin that takes no arguments.
type Constructor = fn() -> Arc<dyn scheduler_core::Plugin>;

/// The research policies' plugins (no arguments), by name.
fn research_plugins() -> [(&'static str, Constructor); 12] {
    [
        ("DotProduct", || Arc::new(DotProduct)),
        ("GpuClustering", || Arc::new(GpuClustering)),
        ("GpuPacking", || Arc::new(GpuPacking)),
        ("GpuBestFit", || Arc::new(GpuBestFit)),
        ("GpuShare", || Arc::new(GpuShare)),
        ("Random", || Arc::new(Random)),
        ("FirstFit", || Arc::new(FirstFit)),
        ("BestFit", || Arc::new(BestFit)),
        ("Tetris", || Arc::new(Tetris)),
        ("Fifo", || Arc::new(Fifo)),
        ("ShortestJobFirst", || Arc::new(ShortestJobFirst)),
        ("ShortestRemainingJobFirst", || Arc::new(ShortestRemainingJobFirst)),
    ]
}

/// Arguments of plugins that take none: any field is an error.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}
