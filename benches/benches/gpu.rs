//! GPU sharing: the FGD paper's demand sweep on the bundled openb trace (its 1,213 GPU nodes, 8,152 pods
//! resampled to 130 % of GPU capacity) under the paper's six policies, against a baseline measured in the
//! same run: compiling the workload and computing its typical pods, which every sweep does first. And one
//! node's fragmentation against the trace's typical pods, against summing its free GPUs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use scheduler_core::{Cluster, TieBreak};
use simulator::{DemandOptions, DemandPool, sweep};
use traces::ReadOptions;

fn openb(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/samples/openb").join(file)
}

fn setup() -> (Cluster, DemandPool) {
    let nodes = openb("openb_node_list_gpu_node.csv");
    let input = traces::read_cluster(&nodes).expect("bundled cluster");
    let cluster = traces::build_cluster(&input, &nodes).expect("bundled cluster");
    let workload = traces::open_workload(&openb("openb_pod_list_default.csv"), None, &ReadOptions::default()).expect("bundled trace");
    (cluster, DemandPool::read(workload).expect("bundled trace"))
}

fn bench_sweep(c: &mut Criterion) {
    let (mut cluster, pool) = setup();
    let typical = Arc::new(pool.typical_pods(&mut cluster).expect("bundled trace"));
    let registry = plugins::registry_for_workload(typical.clone());
    let mut group = c.benchmark_group("DemandSweep/openb_1213GpuNodes_130pct");
    for policy in plugins::FGD_PAPER_POLICIES {
        let config = plugins::policy_config(policy).expect("built-in policy");
        let opts = DemandOptions { policy: policy.to_string(), seed: 42, target_percent: 130, tie_break: TieBreak::NodeRank };
        group.bench_function(policy, |b| b.iter(|| sweep(cluster.clone(), &config, &registry, &pool, &typical, &opts).expect("runs")));
    }
    group.bench_function("baseline_typical_pods", |b| b.iter(|| pool.typical_pods(&mut cluster.clone()).expect("bundled trace")));
    group.finish();
}

fn bench_fragmentation(c: &mut Criterion) {
    let (mut cluster, pool) = setup();
    let typical = pool.typical_pods(&mut cluster).expect("bundled trace");
    let node = cluster.node(cluster.node_order()[cluster.node_order().len() - 1]);
    let free = [1000, 460, 0, 1000, 190, 1000, 810, 0];
    let mut group = c.benchmark_group("Fragmentation/openb_typical_pods");
    group.bench_function("node_8Gpus", |b| {
        b.iter(|| typical.of_state(&node.node, std::hint::black_box(&free), std::hint::black_box(20_000), cluster.interner()))
    });
    group.bench_function("baseline_sum_free", |b| b.iter(|| std::hint::black_box(&free).iter().map(|&f| i64::from(f)).sum::<i64>()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_sweep, bench_fragmentation
}
criterion_main!(benches);
