//! `schedule_one` with the default profile on upstream's SchedulingBasic workload, with and without the
//! memo of node-local results, against a baseline measured in the same run: one pass over every node
//! computing LeastAllocated by hand (the least work any scheduler that looks at every node must do).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use benches::{bench_baseline, bench_scheduler, measure_pods, scheduling_basic};

const MEASURE_PODS: usize = 1000;

fn bench(c: &mut Criterion) {
    for (n_nodes, init_pods) in [(500, 500), (5000, 1000)] {
        let (mut cluster, mut scheduler) = scheduling_basic(n_nodes, init_pods);
        // One thread: never hand chunks to rayon.
        scheduler.set_parallel_min_nodes(usize::MAX);
        let pods = measure_pods(&mut cluster, MEASURE_PODS, init_pods);
        let mut group = c.benchmark_group(format!("SchedulingBasic/{n_nodes}Nodes"));
        group.throughput(Throughput::Elements(MEASURE_PODS as u64));
        bench_scheduler(&mut group, "schedule_one", &cluster, &scheduler, &pods);
        let mut without_memo = scheduler.clone();
        without_memo.set_memo(false);
        bench_scheduler(&mut group, "schedule_one_without_memo", &cluster, &without_memo, &pods);
        bench_baseline(&mut group, &cluster, &pods);
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
