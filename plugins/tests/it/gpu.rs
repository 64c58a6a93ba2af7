//! GPU sharing end to end: Reserve's choice is checked, bound pods keep and give back their GPUs, and the
//! paper's policies place shares where their formulas say.

use std::sync::Arc;

use scheduler_core::gpu::GpuSet;
use scheduler_core::testing::{node, pod};
use scheduler_core::{
    CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ReservePlugin, ScheduleError, Scheduler, SchedulerConfig, Status,
};

use super::{cluster, name, schedule, scheduler};

/// A Reserve plugin that always chooses GPU 7.
struct Seventh;

impl Plugin for Seventh {
    fn name(&self) -> &str {
        "Seventh"
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { reserve: Some(self), ..ExtensionPoints::default() }
    }
}

impl ReservePlugin for Seventh {
    fn reserve(&self, _: &CycleContext<'_>, _: &Pod, _: &NodeInfo, _: &mut dyn FnMut(usize) -> usize) -> Result<Option<GpuSet>, Status> {
        Ok(Some(GpuSet::EMPTY.with(7)))
    }
}

#[test]
fn a_reserve_choice_without_room_is_an_error() {
    let mut c = cluster(&[node("g").cpu("8").gpus(2, "T4")]);
    let mut registry = plugins::registry();
    registry.register("Seventh", |_, _| Ok(Arc::new(Seventh)));
    let config = SchedulerConfig::from_yaml("profiles:\n- plugins:\n    reserve:\n      enabled: [{name: Seventh}]\n").unwrap();
    let mut s = Scheduler::from_config(&config, &registry, &mut c, 0).unwrap();
    let p = c.compile_pod(&pod("p").gpu_share(500).def).unwrap();
    match s.schedule_one(&c, &p) {
        Err(ScheduleError::Internal(message)) => assert_eq!(
            message,
            "running \"Seventh\" reserve plugin: it chose GPUs [7] of node \"g\" for 500 milli-GPU of one GPU, which do not have room for it"
        ),
        other => panic!("{other:?}"),
    }
    // A pod without GPUs never reaches Reserve.
    assert_eq!(schedule(&mut c, &mut s, pod("q").cpu("1")).unwrap(), "g");
}

#[test]
fn shares_fill_gpus_and_leaving_pods_give_them_back() {
    let mut c = cluster(&[node("g").cpu("8").gpus(2, "T4")]);
    let mut s = scheduler(&mut c, &plugins::policy_spec_yaml("gpu-packing").unwrap(), 0);
    let mut ids = Vec::new();
    for (i, want) in [(0, "0"), (1, "0"), (2, "1")] {
        let p = c.compile_pod(&pod(&format!("p{i}")).gpu_share(450).def).unwrap();
        let d = s.schedule_one(&c, &p).unwrap();
        assert_eq!((name(&c, d.node), d.gpus.to_string().as_str()), ("g", want), "p{i}");
        let mut placed = p;
        placed.gpus = d.gpus;
        ids.push(c.add_pod(placed, d.node));
    }
    let g = c.node_id("g").unwrap();
    assert_eq!(c.node(g).gpus.free(), [100, 550]);
    // A fourth 600 milli-GPU share fits on neither GPU, although 650 milli-GPU are free in all.
    let err = schedule(&mut c, &mut s, pod("big").gpu_share(600)).unwrap_err();
    assert!(err.to_string().contains("node(s) didn't have a GPU with 600 milli-GPU free"), "{err}");
    let removed = c.remove_pod(ids[0]).unwrap();
    assert!(removed.gpus.is_empty(), "an unbound pod has no GPUs");
    assert_eq!(c.node(g).gpus.free(), [550, 550]);
}
