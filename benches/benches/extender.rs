//! The scheduler extender's filter + prioritize at 5,000 nodes (SchedulingBasic's cluster and pods, default
//! profile), decided in process from the request bytes: decode, the cache lookup or node sync, the
//! plugins, and the answer's encoding. HTTP is measured by the `extender_load` example.
//!
//! - `filter+prioritize/NodeNames`: a `nodeCacheCapable` extender, 5,000 names per call.
//! - `filter+prioritize/Nodes`: full node objects (about 3 KB each, 15 MB per call) that the cache already
//!   holds at the same resourceVersion.
//! - `decode/Nodes`: splitting that body into raw node objects alone.
//!
//! Baselines in the same run: `baseline_scan_all_nodes` (a hand-written LeastAllocated pass over all
//! nodes, per pod) and `baseline_parse_json/Nodes` (serde_json parsing the `Nodes` body into a `Value`).

use criterion::{Criterion, criterion_group, criterion_main};

use benches::extender_workload::{request, state};
use extender::Verb;
use extender::server::decide;

const N_NODES: usize = 5000;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("Extender/{N_NODES}Nodes"));
    group.sample_size(20);
    let mut st = state(N_NODES, 1000);
    let names = request(1, N_NODES, true);
    let nodes = request(2, N_NODES, false);
    group.bench_function("filter+prioritize/NodeNames", |b| {
        b.iter(|| {
            decide(&mut st, Verb::Filter, &names).expect("filter").len()
                + decide(&mut st, Verb::Prioritize, &names).expect("prioritize").len()
        })
    });
    group.bench_function("filter+prioritize/Nodes", |b| {
        b.iter(|| {
            decide(&mut st, Verb::Filter, &nodes).expect("filter").len()
                + decide(&mut st, Verb::Prioritize, &nodes).expect("prioritize").len()
        })
    });
    group.bench_function("decode/Nodes", |b| {
        b.iter(|| extender::wire::decode::<extender::wire::ExtenderArgs<'_>>(&nodes).expect("decodes").nodes.map_or(0, |n| n.items.len()))
    });
    group.bench_function("baseline_parse_json/Nodes", |b| b.iter(|| serde_json::from_slice::<serde_json::Value>(&nodes).expect("JSON")));
    let (mut cluster, _) = benches::scheduling_basic(N_NODES, 1000);
    let pods = benches::measure_pods(&mut cluster, 1, 1000);
    benches::bench_baseline(&mut group, &cluster, &pods);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
