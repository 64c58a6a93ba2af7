//! `schedule_one` with the default profile on upstream's SchedulingBasic workload, with and without the
//! memo of node-local results, against a baseline measured in the same run: one pass over every node
//! computing LeastAllocated by hand (the least work any scheduler that looks at every node must do).

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

use benches::{measure_pods, scheduling_basic};
use scheduler_core::{Cluster, Pod, Scheduler};

const MEASURE_PODS: usize = 1000;

/// Schedules and binds `pods` one by one.
fn schedule_batch(cluster: &mut Cluster, scheduler: &mut Scheduler, pods: Vec<Pod>) {
    for p in pods {
        let r = scheduler.schedule_one(cluster, &p).expect("fits");
        cluster.add_pod(p, r.node);
    }
}

/// Each iteration schedules the measured pods on a fresh copy of the initial cluster and scheduler.
fn bench_scheduler(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, cluster: &Cluster, scheduler: &Scheduler, pods: &[Pod]) {
    group.bench_function(name, |b| {
        b.iter_batched(
            || (cluster.clone(), scheduler.clone(), pods.to_vec()),
            |(mut cl, mut s, batch)| {
                schedule_batch(&mut cl, &mut s, batch);
                (cl, s)
            },
            BatchSize::LargeInput,
        )
    });
}

/// Baseline: a hand-written LeastAllocated pass over all nodes, picking the best.
fn scan_all_nodes(cluster: &Cluster, pod: &Pod) -> usize {
    let mut best = (i64::MIN, 0);
    for (idx, &id) in cluster.node_order().iter().enumerate() {
        let n = cluster.node(id);
        let alloc = &n.node.allocatable;
        let cpu = n.non_zero_requested_milli_cpu + pod.non_zero_milli_cpu;
        let mem = n.non_zero_requested_memory + pod.non_zero_memory;
        if cpu > alloc.milli_cpu || mem > alloc.memory || n.n_pods() as i64 >= alloc.allowed_pods {
            continue;
        }
        let score = ((alloc.milli_cpu - cpu) * 100 / alloc.milli_cpu + (alloc.memory - mem) * 100 / alloc.memory) / 2;
        if score > best.0 {
            best = (score, idx);
        }
    }
    best.1
}

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
        group.bench_function("baseline_scan_all_nodes", |b| b.iter(|| pods.iter().map(|p| scan_all_nodes(&cluster, p)).sum::<usize>()));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
