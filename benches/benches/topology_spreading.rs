//! Upstream scheduler_perf's `TopologySpreading` and `PreferredTopologySpreading` workloads
//! (test/integration/scheduler_perf/topology_spreading/performance-config.yaml) at 5,000 nodes: `makeBaseNode`
//! nodes labelled `topology.kubernetes.io/zone` = moon-1, moon-2, moon-3 (round robin here), 5,000
//! `pod-default.yaml` init pods, then pods of `pod-with-topology-spreading.yaml` (label `color: blue`, a zone
//! constraint with maxSkew 5 on `color: blue`, `DoNotSchedule`) or its `ScheduleAnyway` twin; default profile,
//! one thread. Each iteration schedules 1,000 of them on a fresh copy of the cluster. Baseline in the same run:
//! the all-node scan.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use benches::{bench_baseline, bench_scheduler, default_pod};
use scheduler_core::{Cluster, LabelSelectorDef, PodDef, Scheduler, SchedulerConfig, TopologySpreadConstraintDef, WhenUnsatisfiable};

const N_NODES: usize = 5000;
const INIT_PODS: usize = 5000;
const MEASURE_PODS: usize = 1000;

fn spreading_pod(i: usize, when: WhenUnsatisfiable) -> PodDef {
    let mut def = default_pod(i);
    def.name = format!("spreading-pod-{i}");
    def.labels = vec![("color".into(), "blue".into())];
    def.topology_spread_constraints = vec![TopologySpreadConstraintDef {
        max_skew: 5,
        topology_key: "topology.kubernetes.io/zone".into(),
        when_unsatisfiable: when,
        label_selector: Some(LabelSelectorDef { match_labels: vec![("color".into(), "blue".into())], match_expressions: Vec::new() }),
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }];
    def
}

fn bench(c: &mut Criterion) {
    let mut cluster = Cluster::new();
    for i in 0..N_NODES {
        let mut node = benches::base_node(i);
        node.labels.push(("topology.kubernetes.io/zone".into(), format!("moon-{}", i % 3 + 1)));
        cluster.add_node(&node).expect("valid node");
    }
    let mut scheduler =
        Scheduler::from_config(&SchedulerConfig::default(), &plugins::registry(), &mut cluster, 1).expect("default profile");
    scheduler.set_parallel_min_nodes(usize::MAX);
    for i in 0..INIT_PODS {
        let p = cluster.compile_pod(&default_pod(i)).expect("valid pod");
        let r = scheduler.schedule_one(&cluster, &p).expect("fits");
        cluster.add_pod(p, r.node);
    }
    let mut group = c.benchmark_group(format!("TopologySpreading/{N_NODES}Nodes"));
    group.throughput(Throughput::Elements(MEASURE_PODS as u64));
    for (name, when) in
        [("TopologySpreading", WhenUnsatisfiable::DoNotSchedule), ("PreferredTopologySpreading", WhenUnsatisfiable::ScheduleAnyway)]
    {
        let pods: Vec<_> = (0..MEASURE_PODS).map(|i| cluster.compile_pod(&spreading_pod(i, when)).expect("valid pod")).collect();
        bench_scheduler(&mut group, name, &cluster, &scheduler, &pods);
    }
    let pods: Vec<_> = (0..MEASURE_PODS).map(|i| cluster.compile_pod(&default_pod(INIT_PODS + i)).expect("valid pod")).collect();
    bench_baseline(&mut group, &cluster, &pods);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
