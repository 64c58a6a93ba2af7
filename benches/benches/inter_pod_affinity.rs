//! Upstream scheduler_perf's inter-pod affinity workloads (test/integration/scheduler_perf/affinity/
//! performance-config.yaml) at 5,000 nodes, with upstream's templates, default profile, one thread:
//!
//! | Workload | nodes | init pods (ns sched-0) | measured (ns sched-1) | upstream CI floor |
//! |---|---|---|---|---|
//! | SchedulingPodAntiAffinity/5000Nodes_2000Pods | `makeBaseNode` + hostname | 1,000 | 2,000 | 60 pods/s |
//! | SchedulingPodAffinity/5000Nodes_5000Pods | `node-default.yaml`, zone `zone1` | 5,000 | 5,000 | 35 pods/s |
//! | SchedulingPreferredPodAffinity/5000Nodes_5000Pods | `makeBaseNode` + hostname | 5,000 | 5,000 | 90 pods/s |
//! | SchedulingPreferredPodAntiAffinity/5000Nodes_5000Pods | `makeBaseNode` + hostname | 5,000 | 5,000 | 90 pods/s |
//!
//! Init and measured pods share the template (`pod-with-pod-anti-affinity.yaml` and its siblings: label
//! `color`, one term on that label listing namespaces sched-1 and sched-0, 100m / 500Mi). Each iteration
//! schedules the measured pods on a fresh copy of the initialised cluster. Baseline in the same run: the
//! all-node scan of SchedulingBasic's pods on the same cluster.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use benches::{bench_baseline, bench_scheduler, default_pod};
use scheduler_core::testing::affinity_term;
use scheduler_core::{Cluster, PodAffinityDef, PodAffinityTermDef, PodDef, Scheduler, SchedulerConfig, WeightedPodAffinityTermDef};

const N_NODES: usize = 5000;
const ZONE: &str = "topology.kubernetes.io/zone";
const HOST: &str = "kubernetes.io/hostname";

#[derive(Clone, Copy)]
enum Workload {
    AntiRequired,
    Required,
    Preferred,
    AntiPreferred,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::AntiRequired => "SchedulingPodAntiAffinity",
            Workload::Required => "SchedulingPodAffinity",
            Workload::Preferred => "SchedulingPreferredPodAffinity",
            Workload::AntiPreferred => "SchedulingPreferredPodAntiAffinity",
        }
    }

    /// (init pods, measured pods).
    fn sizes(self) -> (usize, usize) {
        match self {
            Workload::AntiRequired => (1000, 2000),
            _ => (5000, 5000),
        }
    }

    fn pod(self, i: usize, namespace: &str) -> PodDef {
        let mut def = default_pod(i);
        def.namespace = namespace.into();
        let (color, key) = match self {
            Workload::AntiRequired => ("green", HOST),
            Workload::Required => ("blue", ZONE),
            Workload::Preferred => ("red", HOST),
            Workload::AntiPreferred => ("yellow", HOST),
        };
        def.labels = vec![("color".into(), color.into())];
        let term = PodAffinityTermDef { namespaces: vec!["sched-1".into(), "sched-0".into()], ..affinity_term(key, &[("color", color)]) };
        let required = PodAffinityDef { required: vec![term.clone()], preferred: Vec::new() };
        let preferred = PodAffinityDef { required: Vec::new(), preferred: vec![WeightedPodAffinityTermDef { weight: 1, term }] };
        match self {
            Workload::AntiRequired => def.pod_anti_affinity = Some(required),
            Workload::Required => def.pod_affinity = Some(required),
            Workload::Preferred => def.pod_affinity = Some(preferred),
            Workload::AntiPreferred => def.pod_anti_affinity = Some(preferred),
        }
        def
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("InterPodAffinity/{N_NODES}Nodes"));
    let mut baseline: Option<Cluster> = None;
    for workload in [Workload::AntiRequired, Workload::Required, Workload::Preferred, Workload::AntiPreferred] {
        let mut cluster = Cluster::new();
        for i in 0..N_NODES {
            let mut node = benches::base_node(i);
            node.labels.push((HOST.into(), node.name.clone()));
            if matches!(workload, Workload::Required) {
                node.labels.push((ZONE.into(), "zone1".into()));
            }
            cluster.add_node(&node).expect("valid node");
        }
        let mut scheduler =
            Scheduler::from_config(&SchedulerConfig::default(), &plugins::registry(), &mut cluster, 1).expect("default profile");
        scheduler.set_parallel_min_nodes(usize::MAX);
        let (init, measured) = workload.sizes();
        for i in 0..init {
            let p = cluster.compile_pod(&workload.pod(i, "sched-0")).expect("valid pod");
            let r = scheduler.schedule_one(&cluster, &p).expect("fits");
            cluster.add_pod(p, r.node);
        }
        let pods: Vec<_> = (0..measured).map(|i| cluster.compile_pod(&workload.pod(init + i, "sched-1")).expect("valid pod")).collect();
        group.throughput(Throughput::Elements(measured as u64));
        bench_scheduler(&mut group, workload.name(), &cluster, &scheduler, &pods);
        baseline.get_or_insert(cluster);
    }
    let mut cluster = baseline.expect("a workload ran");
    let pods = benches::measure_pods(&mut cluster, 1000, 0);
    group.throughput(Throughput::Elements(pods.len() as u64));
    bench_baseline(&mut group, &cluster, &pods);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
