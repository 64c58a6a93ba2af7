//! Whole simulations: the bundled openb trace (1,523 nodes, 8,152 pods) under every built-in policy, and
//! generated workloads on 10,000 nodes under `spread`; each against a baseline measured in the same run,
//! reading (or generating) the same workload without simulating it.

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use scheduler_core::Cluster;
use simulator::{SimOptions, simulate};
use traces::{GenerateOptions, ReadOptions, WorkloadStream};

fn openb(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/samples/openb").join(file)
}

fn openb_workload() -> WorkloadStream {
    traces::open_workload(&openb("openb_pod_list_default.csv"), None, &ReadOptions::default()).expect("bundled trace")
}

fn bench_openb(c: &mut Criterion) {
    let nodes = openb("openb_node_list_all_node.csv");
    let input = traces::read_cluster(&nodes).expect("bundled cluster");
    let mut cluster = traces::build_cluster(&input, &nodes).expect("bundled cluster");
    let n_pods = openb_workload().count() as u64;
    // FGD measures fragmentation against the trace's typical pods.
    let pool = simulator::DemandPool::read(openb_workload()).expect("bundled trace");
    let registry = plugins::registry_for_workload(std::sync::Arc::new(pool.typical_pods(&mut cluster).expect("bundled trace")));
    let mut group = c.benchmark_group("Simulate/openb");
    group.throughput(Throughput::Elements(n_pods));
    for policy in plugins::POLICIES {
        let config = plugins::policy_config(policy.name).expect("built-in policy");
        let opts = SimOptions { policy: policy.name.to_string(), ..SimOptions::default() };
        group.bench_function(policy.name, |b| {
            b.iter(|| simulate(cluster.clone(), &config, &registry, openb_workload(), &opts, None, &mut |_| {}).expect("runs"))
        });
    }
    group.bench_function("baseline_read_trace", |b| b.iter(|| openb_workload().count()));
    group.finish();
}

fn bench_generated(c: &mut Criterion) {
    let gen_opts = GenerateOptions { nodes: 10_000, pods: 100_000, ..GenerateOptions::default() };
    let (nodes, _) = traces::generate(&gen_opts).expect("valid options");
    let mut cluster = Cluster::new();
    for node in &nodes {
        cluster.add_node(node).expect("generated node");
    }
    let config = plugins::policy_config("spread").expect("built-in policy");
    let opts = SimOptions { policy: "spread".to_string(), ..SimOptions::default() };
    let pods = || traces::generate(&gen_opts).expect("valid options").1;
    let mut group = c.benchmark_group("Simulate/generated_10000Nodes");
    group.throughput(Throughput::Elements(gen_opts.pods as u64));
    group.bench_function("spread_100000Pods", |b| {
        b.iter(|| simulate(cluster.clone(), &config, &plugins::registry(), pods().into_stream(), &opts, None, &mut |_| {}).expect("runs"))
    });
    group.bench_function("baseline_generate_100000Pods", |b| b.iter(|| pods().count()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_openb, bench_generated
}
criterion_main!(benches);
