//! A Rust program that builds a cluster in code, adds running pods, registers a plugin of its own next to
//! the built-in ones, and schedules pods one by one, binding each where the scheduler puts it.
//!
//! Run it with `cargo run -p plugins --example custom_plugin`.

use std::sync::Arc;

use scheduler_core::testing::{node, pod};
use scheduler_core::{
    Cluster, CycleContext, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, Scheduler, SchedulerConfig, StateSlot, Status,
};

/// A filter of our own: keeps at least `headroom_milli` CPU free on every node (a safety margin for
/// daemons the cluster does not know about).
struct CpuHeadroom {
    headroom_milli: i64,
}

#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CpuHeadroomArgs {
    #[serde(default)]
    headroom_milli: i64,
}

impl Plugin for CpuHeadroom {
    fn name(&self) -> &str {
        "CpuHeadroom"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { filter: Some(self), ..ExtensionPoints::default() }
    }
}

impl FilterPlugin for CpuHeadroom {
    fn filter(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Status {
        let free = node.node.allocatable.milli_cpu - node.requested.milli_cpu - pod.requests.milli_cpu;
        if free < self.headroom_milli { Status::unschedulable("node(s) would keep less than the CPU headroom") } else { Status::success() }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cluster = Cluster::new();
    for (name, zone) in [("node-a", "zone-1"), ("node-b", "zone-1"), ("node-c", "zone-2")] {
        cluster.add_node(&node(name).cpu("4").memory("16Gi").label("topology.kubernetes.io/zone", zone).def)?;
    }
    // A pod already running on node-a.
    let running = cluster.compile_pod(&pod("database-0").cpu("2").memory("8Gi").def)?;
    let node_a = cluster.node_id("node-a").expect("node-a exists");
    cluster.add_pod(running, node_a);

    // The built-in plugins plus ours, enabled through a KubeSchedulerConfiguration like any plugin.
    let mut registry = plugins::registry();
    registry.register("CpuHeadroom", |args, _interner| {
        let args: CpuHeadroomArgs = args.decode()?;
        Ok(Arc::new(CpuHeadroom { headroom_milli: args.headroom_milli }))
    });
    let config = SchedulerConfig::from_yaml(
        r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      enabled:
      - name: CpuHeadroom
  pluginConfig:
  - name: CpuHeadroom
    args:
      headroomMilli: 500
"#,
    )?;
    let mut scheduler = Scheduler::from_config(&config, &registry, &mut cluster, 42)?;

    for i in 0..8 {
        let web = cluster.compile_pod(&pod(&format!("web-{i}")).cpu("1").memory("2Gi").def)?;
        match scheduler.schedule_one(&cluster, &web) {
            Ok(decision) => {
                println!("web-{i} -> {}", cluster.node(decision.node).node.name);
                cluster.add_pod(web, decision.node);
            }
            Err(why) => println!("web-{i} is pending: {why}"),
        }
    }
    Ok(())
}
