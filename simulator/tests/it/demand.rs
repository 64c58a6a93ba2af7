//! The FGD paper's demand sweep: its invariants on a small cluster, and the paper's result on the openb trace.

use std::path::PathBuf;
use std::sync::Arc;

use scheduler_core::testing::{node, pod};
use scheduler_core::{Cluster, TieBreak};
use simulator::{DemandOptions, DemandPool, DemandResult, sweep};
use traces::{PodArrival, ReadOptions, WorkloadItem, WorkloadStream};

fn small_cluster() -> Cluster {
    let mut c = Cluster::new();
    for i in 0..6 {
        let gpus = if i % 2 == 0 { 8 } else { 2 };
        c.add_node(&node(&format!("n{i}")).cpu("64").memory("256Gi").gpus(gpus, "T4").def).unwrap();
    }
    c
}

/// 40 pods asking for 46,400 milli-GPU in all (more than 130 % of the small cluster's 30 GPUs); the first
/// `n` of them.
fn small_pool_of(n: u64) -> Vec<WorkloadItem> {
    let shapes = [
        pod("s").cpu("4").gpu_share(300),
        pod("h").cpu("8").gpu_share(500),
        pod("w").cpu("8").gpus(1),
        pod("m").cpu("16").gpus(4),
        pod("c").cpu("2"),
    ];
    (0..n)
        .map(|i| {
            WorkloadItem::Pod(PodArrival {
                time: i,
                name: format!("p{i}"),
                spec: Arc::new(shapes[i as usize % shapes.len()].def.clone()),
                duration: None,
                job: None,
            })
        })
        .collect()
}

fn small_pool() -> Vec<WorkloadItem> {
    small_pool_of(40)
}

fn run(mut cluster: Cluster, items: Vec<WorkloadItem>, policy: &str, seed: u64, tie_break: TieBreak) -> DemandResult {
    let pool = DemandPool::read(WorkloadStream::from_items(items)).unwrap();
    let typical = Arc::new(pool.typical_pods(&mut cluster).unwrap());
    let registry = plugins::registry_for_workload(typical.clone());
    let config = plugins::policy_config(policy).unwrap();
    let opts = DemandOptions { policy: policy.into(), seed, target_percent: 130, tie_break };
    sweep(cluster, &config, &registry, &pool, &typical, &opts).unwrap()
}

#[test]
fn a_sweep_reaches_the_target_without_ever_freeing_a_gpu() {
    for policy in plugins::FGD_PAPER_POLICIES {
        for tie_break in [TieBreak::Uniform, TieBreak::NodeRank] {
            // 10 pods ask for 11,600 milli-GPU; 6 nodes of 8 or 2 GPUs have 30: pods are resampled until they
            // ask for 130 % of them.
            let r = run(small_cluster(), small_pool_of(10), policy, 7, tie_break);
            assert_eq!(r.capacity_milli, 30_000);
            assert!(r.arrived_milli <= 39_000 && r.arrived_milli > 39_000 - 300, "{policy}: {}", r.arrived_milli);
            assert!(r.pods_arrived > 10, "{policy}: the workload was resampled");
            assert_eq!(r.at_target().unwrap().arrived_percent, 130);
            // Nothing leaves: allocation and failures never go down, and allocation stays within capacity.
            for pair in r.rows.windows(2) {
                assert!(pair[1].gpu_allocation >= pair[0].gpu_allocation - 1e-9, "{policy}: {:?}", pair);
                assert!(pair[1].pods_failed >= pair[0].pods_failed, "{policy}: {:?}", pair);
            }
            for row in &r.rows {
                assert!((0.0..=100.0).contains(&row.gpu_allocation), "{policy}: {row:?}");
                assert!(row.gpu_allocation + row.gpu_fragmentation <= 100.0 + 1e-9, "{policy}: {row:?}");
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_sweep_and_another_seed_another_order() {
    let a = run(small_cluster(), small_pool(), "fgd", 3, TieBreak::NodeRank);
    assert_eq!(a, run(small_cluster(), small_pool(), "fgd", 3, TieBreak::NodeRank));
    let b = run(small_cluster(), small_pool(), "random", 3, TieBreak::Uniform);
    assert_eq!(b, run(small_cluster(), small_pool(), "random", 3, TieBreak::Uniform));
    let c = run(small_cluster(), small_pool(), "fgd", 4, TieBreak::NodeRank);
    assert_ne!(a.rows, c.rows);
}

fn openb(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces/samples/openb").join(file)
}

/// Weng et al. (ATC 2023), openb default trace on the 1,213 GPU nodes, GPU allocation at 130 % arrived
/// demand, their simulator's mean over seeds 42–51 (`expected_results/analysis_allo_discrete.csv`):
/// Random 87.47, FGD 95.39. One seed each here (the spread over seeds is 0.1–0.3 points).
#[test]
fn on_openb_fgd_and_random_land_near_the_papers_numbers() {
    let nodes = traces::openb::read_nodes(&openb("openb_node_list_gpu_node.csv")).unwrap();
    let mut cluster = Cluster::new();
    for n in &nodes {
        cluster.add_node(n).unwrap();
    }
    let items: Vec<WorkloadItem> =
        traces::openb::read_pods(&openb("openb_pod_list_default.csv"), &ReadOptions::default()).unwrap().map(Result::unwrap).collect();
    let fgd = run(cluster.clone(), items.clone(), "fgd", 42, TieBreak::NodeRank).at_target().unwrap().gpu_allocation;
    let random = run(cluster, items, "random", 42, TieBreak::NodeRank).at_target().unwrap().gpu_allocation;
    assert!((fgd - 95.39).abs() < 1.0, "FGD {fgd}");
    assert!((random - 87.47).abs() < 1.0, "Random {random}");
}

#[test]
fn a_workload_asking_for_more_than_the_target_is_thinned() {
    // 40 pods asking for 46,400 milli-GPU on 30 GPUs: pods leave until at most 39,000 remain (then the
    // list is topped up to within the smallest request, 300).
    let r = run(small_cluster(), small_pool(), "fgd", 1, TieBreak::NodeRank);
    assert!((39_000 - 300..=39_000).contains(&r.arrived_milli), "{} milli-GPU in {} pods", r.arrived_milli, r.pods_arrived);
}
