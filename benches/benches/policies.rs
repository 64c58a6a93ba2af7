//! The per-decision cost of every built-in policy on the same cluster (SchedulingBasic: 5,000 nodes on which
//! the default profile placed 1,000 pods), against the all-node scan baseline measured in the same run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use benches::{bench_baseline, bench_scheduler, measure_pods, scheduling_basic};
use scheduler_core::Scheduler;
use scheduler_core::fragmentation::TypicalPods;

const N_NODES: usize = 5000;
const INIT_PODS: usize = 1000;
const MEASURE_PODS: usize = 1000;

fn bench(c: &mut Criterion) {
    let (mut cluster, _) = scheduling_basic(N_NODES, INIT_PODS);
    let pods = measure_pods(&mut cluster, MEASURE_PODS, INIT_PODS);
    // FGD measures fragmentation against the measured pods as the workload's typical pods.
    let registry = plugins::registry_for_workload(std::sync::Arc::new(TypicalPods::from_pods(&pods)));
    let mut group = c.benchmark_group(format!("Policies/{N_NODES}Nodes"));
    group.throughput(Throughput::Elements(MEASURE_PODS as u64));
    for policy in plugins::POLICIES {
        let config = plugins::policy_config(policy.name).expect("built-in policy");
        let mut scheduler = Scheduler::from_config(&config, &registry, &mut cluster, 1).expect("built-in policy");
        scheduler.set_parallel_min_nodes(usize::MAX);
        bench_scheduler(&mut group, policy.name, &cluster, &scheduler, &pods);
    }
    bench_baseline(&mut group, &cluster, &pods);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
