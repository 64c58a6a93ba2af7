//! Invariants of every run, checked on random workloads (pods, jobs, DAG jobs, nodes failing and joining)
//! under random policies, from the records the run writes: conservation of pods at every sample instant,
//! no node over-committed at any instant, no pod started before it arrived or before its DAG parents finished.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use scheduler_core::testing::{node, pod};
use scheduler_core::{Cluster, NodeDef, PodDef, TieBreak};
use simulator::{Recorder, SimOptions, Summary, simulate};
use traces::{DagJob, DagTask, Micros, NodeEvent, PodArrival, WorkloadItem, WorkloadStream, parse_seconds};

const S: Micros = 1_000_000;

/// Sample interval: a whole number of microseconds that no event time of these workloads (multiples of
/// 0.1 s before 27 hours) is a multiple of, so that a sample never shares an instant with another event.
const SAMPLE_INTERVAL: Micros = 999_983;

/// (milli-CPU, MiB) of the pod shapes, and of the node shapes.
const POD_SHAPES: [(i64, i64); 5] = [(250, 512), (500, 1024), (1000, 1024), (2000, 4096), (3000, 2048)];
const NODE_SHAPES: [(i64, i64); 3] = [(2000, 8192), (4000, 8192), (8000, 16384)];
/// The GPUs each pod shape asks for, (count, milli-GPU per GPU), and each node shape's GPUs.
const POD_GPUS: [(u32, i64); 5] = [(0, 0), (1, 300), (1, 600), (1, 1000), (2, 1000)];
const NODE_GPUS: [u32; 3] = [0, 2, 4];

fn pod_spec(shape: usize, priority: i32) -> Arc<PodDef> {
    let (cpu, mem) = POD_SHAPES[shape];
    let mut b = pod("tmpl").cpu(&format!("{cpu}m")).memory(&format!("{mem}Mi")).priority(priority);
    b = match POD_GPUS[shape] {
        (0, _) => b,
        (1, milli) if milli < 1000 => b.gpu_share(milli as u32),
        (n, _) => b.gpus(n),
    };
    Arc::new(b.def)
}

fn node_def(name: &str, shape: usize) -> NodeDef {
    let (cpu, mem) = NODE_SHAPES[shape];
    let b = node(name).cpu(&format!("{cpu}m")).memory(&format!("{mem}Mi"));
    if NODE_GPUS[shape] > 0 { b.gpus(NODE_GPUS[shape], "T4").def } else { b.def }
}

#[derive(Clone, Debug)]
struct GenPod {
    arrival: u64,
    shape: usize,
    duration: Option<u64>,
    job: Option<u8>,
    /// 0, 10 or 20: pods of a higher priority preempt lower ones under policies with DefaultPreemption.
    priority: i32,
}

#[derive(Clone, Debug)]
struct GenTask {
    shape: usize,
    instances: u32,
    duration: u64,
    parents: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Case {
    nodes: Vec<usize>,
    pods: Vec<GenPod>,
    dags: Vec<(u64, Vec<GenTask>)>,
    fail: Option<(u64, usize)>,
    add: Option<(u64, usize)>,
    policy: String,
    attempt_cost: Micros,
    bind_cost: Micros,
}

fn gen_task(idx: usize) -> impl Strategy<Value = GenTask> {
    (0..POD_SHAPES.len(), 1u32..4, 1u64..40, prop::collection::vec(any::<prop::sample::Index>(), 0..3)).prop_map(
        move |(shape, instances, duration, parents)| {
            let mut parents: Vec<usize> = if idx == 0 { Vec::new() } else { parents.iter().map(|p| p.index(idx)).collect() };
            parents.sort_unstable();
            parents.dedup();
            GenTask { shape, instances, duration, parents }
        },
    )
}

fn gen_dag() -> impl Strategy<Value = (u64, Vec<GenTask>)> {
    (1u64..150, 1usize..5).prop_flat_map(|(arrival, n)| {
        let tasks: Vec<_> = (0..n).map(gen_task).collect();
        (Just(arrival), tasks)
    })
}

fn gen_case() -> impl Strategy<Value = Case> {
    let pods = prop::collection::vec(
        (1u64..200, 0..POD_SHAPES.len(), prop::option::weighted(0.9, 1u64..100), prop::option::of(0u8..3), 0i32..3)
            .prop_map(|(arrival, shape, duration, job, priority)| GenPod { arrival, shape, duration, job, priority: priority * 10 }),
        1..50,
    );
    let policies: Vec<String> =
        plugins::POLICIES.iter().flat_map(|p| plugins::QUEUE_ORDERS.iter().map(move |(q, _, _)| format!("{}/{q}", p.name))).collect();
    (
        prop::collection::vec(0..NODE_SHAPES.len(), 1..5),
        pods,
        prop::collection::vec(gen_dag(), 0..3),
        prop::option::of((1u64..200, any::<prop::sample::Index>())),
        prop::option::of((1u64..200, 0..NODE_SHAPES.len())),
        prop::sample::select(policies),
        prop::sample::select(vec![0, S / 10]),
        prop::sample::select(vec![0, S]),
    )
        .prop_map(|(nodes, pods, dags, fail, add, policy, attempt_cost, bind_cost)| Case {
            fail: fail.map(|(t, i)| (t, i.index(nodes.len()))),
            nodes,
            pods,
            dags,
            add,
            policy,
            attempt_cost,
            bind_cost,
        })
}

/// The workload of a case, in time order (ties: as generated, pods, then DAG jobs, then node events).
fn workload(case: &Case) -> Vec<WorkloadItem> {
    let mut items = Vec::new();
    for (i, p) in case.pods.iter().enumerate() {
        items.push(WorkloadItem::Pod(PodArrival {
            time: p.arrival * S,
            name: format!("p{i}"),
            spec: pod_spec(p.shape, p.priority),
            duration: p.duration.map(|d| d * S),
            job: p.job.map(|j| Arc::from(format!("job{j}").as_str())),
        }));
    }
    for (j, (arrival, tasks)) in case.dags.iter().enumerate() {
        let tasks = tasks
            .iter()
            .enumerate()
            .map(|(t, g)| DagTask {
                name: format!("t{t}"),
                instances: g.instances,
                spec: pod_spec(g.shape, 0),
                duration: Some(g.duration * S),
                parents: g.parents.clone(),
            })
            .collect();
        items.push(WorkloadItem::Dag(DagJob { time: arrival * S, name: format!("d{j}"), tasks }));
    }
    if let Some((t, idx)) = case.fail {
        items.push(WorkloadItem::Node(NodeEvent::Fail { time: t * S, name: format!("n{idx}") }));
    }
    if let Some((t, shape)) = case.add {
        items.push(WorkloadItem::Node(NodeEvent::Add { time: t * S, node: node_def("added", shape) }));
    }
    items.sort_by_key(WorkloadItem::time);
    items
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir =
            std::env::temp_dir().join(format!("simsched-invariants-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A row of pods.csv, times in microseconds.
#[derive(Debug)]
struct Row {
    name: String,
    arrival: Micros,
    first_attempt: Option<Micros>,
    scheduled: Option<Micros>,
    bound: Option<Micros>,
    start: Option<Micros>,
    finish: Option<Micros>,
    node: String,
    gpus: Vec<usize>,
    lost: bool,
    preempted: bool,
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_string)).collect()).collect()
}

fn time(cell: &str) -> Option<Micros> {
    if cell.is_empty() { None } else { Some(parse_seconds(cell).unwrap_or_else(|| panic!("bad time {cell:?}"))) }
}

fn pods_csv(dir: &Path) -> Vec<Row> {
    read_csv(&dir.join("pods.csv"))
        .into_iter()
        .map(|r| Row {
            name: r["name"].clone(),
            arrival: time(&r["arrival"]).unwrap(),
            first_attempt: time(&r["first_attempt"]),
            scheduled: time(&r["scheduled"]),
            bound: time(&r["bound"]),
            start: time(&r["start"]),
            finish: time(&r["finish"]),
            node: r["node"].clone(),
            gpus: r["gpus"].split(',').filter(|g| !g.is_empty()).map(|g| g.parse().unwrap()).collect(),
            lost: r["lost"] == "true",
            preempted: r["preempted"] == "true",
        })
        .collect()
}

/// The requests of a recorded pod, from its name: `p<i>` or `d<j>-t<k>-<n>`, with `-retry<r>` when re-created.
fn requests_of(case: &Case, name: &str) -> (i64, i64) {
    POD_SHAPES[shape_of(case, name)]
}

/// The shape of a recorded pod, from its name.
fn shape_of(case: &Case, name: &str) -> usize {
    let base = name.split("-retry").next().unwrap();
    if let Some(i) = base.strip_prefix('p') {
        case.pods[i.parse::<usize>().unwrap()].shape
    } else {
        let mut parts = base.split('-');
        let job: usize = parts.next().unwrap()[1..].parse().unwrap();
        let task: usize = parts.next().unwrap()[1..].parse().unwrap();
        case.dags[job].1[task].shape
    }
}

/// The cluster of a case, and every node's (milli-CPU, MiB) capacity, including the node added later.
fn cluster_of(case: &Case) -> (Cluster, HashMap<String, (i64, i64)>) {
    let mut cluster = Cluster::new();
    let mut capacity: HashMap<String, (i64, i64)> = HashMap::new();
    for (i, &shape) in case.nodes.iter().enumerate() {
        cluster.add_node(&node_def(&format!("n{i}"), shape)).unwrap();
        capacity.insert(format!("n{i}"), NODE_SHAPES[shape]);
    }
    if let Some((_, shape)) = case.add {
        capacity.insert("added".to_string(), NODE_SHAPES[shape]);
    }
    (cluster, capacity)
}

fn options(case: &Case, seed: u64) -> SimOptions {
    SimOptions {
        policy: case.policy.clone(),
        seed,
        attempt_cost: case.attempt_cost,
        bind_cost: case.bind_cost,
        sample_interval: SAMPLE_INTERVAL,
        until: None,
        grace_period: 30 * S,
        tie_break: if seed.is_multiple_of(2) { TieBreak::Uniform } else { TieBreak::NodeRank },
        typical_pods: None,
    }
}

/// The case's cluster, and the registry with FGD measuring against the case's typical pods.
fn cluster_and_registry(case: &Case) -> (Cluster, scheduler_core::Registry) {
    let mut cluster = cluster_of(case).0;
    let pool = simulator::DemandPool::read(WorkloadStream::from_items(workload(case))).unwrap();
    let typical = pool.typical_pods(&mut cluster).unwrap();
    (cluster, plugins::registry_for_workload(std::sync::Arc::new(typical)))
}

/// Runs a case, its records written into `dir`.
fn run_case(case: &Case, seed: u64, dir: &Path) -> Summary {
    let config = plugins::policy_config(&case.policy).unwrap();
    let mut recorder = Recorder::create(dir).unwrap();
    let (cluster, registry) = cluster_and_registry(case);
    let summary = simulate(
        cluster,
        &config,
        &registry,
        WorkloadStream::from_items(workload(case)),
        &options(case, seed),
        Some(&mut recorder),
        &mut |_| {},
    )
    .unwrap();
    recorder.finish().unwrap();
    summary
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let capacity = cluster_of(case).1;
    let dir = TempDir::new();
    let summary = run_case(case, 7, &dir.0);
    let rows = pods_csv(&dir.0);
    let c = &summary.pods;

    // Conservation: every pod that arrived is finished, running, pending, lost or preempted at the end, and
    // recorded once.
    prop_assert_eq!(c.arrived, c.finished + c.running_at_end + c.pending_at_end + c.gated + c.lost + c.preempted);
    prop_assert_eq!(rows.iter().filter(|r| r.preempted).count() as u64, c.preempted);
    prop_assert_eq!(rows.len() as u64, c.arrived);
    let n_dag_pods: u64 = case.dags.iter().flat_map(|(_, tasks)| tasks).map(|t| u64::from(t.instances)).sum();
    prop_assert!(c.arrived <= case.pods.len() as u64 + n_dag_pods + c.recreated);
    prop_assert_eq!(rows.iter().filter(|r| r.finish.is_some() && !r.lost && !r.preempted).count() as u64, c.finished);
    prop_assert_eq!(rows.iter().filter(|r| r.lost).count() as u64, c.lost);

    // Order of a pod's life: arrival ≤ first attempt ≤ scheduled ≤ bound ≤ start ≤ finish.
    for r in &rows {
        let times = [Some(r.arrival), r.first_attempt, r.scheduled, r.bound, r.start, r.finish];
        let present: Vec<Micros> = times.iter().flatten().copied().collect();
        prop_assert!(present.windows(2).all(|w| w[0] <= w[1]), "{:?}", r);
        prop_assert_eq!(r.scheduled.is_some(), !r.node.is_empty(), "{:?}", r);
        prop_assert!(r.start.is_none() || r.bound == r.start, "{:?}", r);
        if r.finish.is_some() && !r.lost {
            prop_assert!(r.start.is_some(), "{:?}", r);
        }
    }

    // No node over-committed at any instant: resources are held from `scheduled` to `finish` (or the end);
    // at one instant, the pods that leave free their resources before new ones are placed.
    let mut changes: HashMap<&str, Vec<(Micros, i8, i64, i64)>> = HashMap::new();
    for r in rows.iter().filter(|r| r.scheduled.is_some()) {
        let (cpu, mem) = requests_of(case, &r.name);
        let list = changes.entry(r.node.as_str()).or_default();
        list.push((r.scheduled.unwrap(), 1, cpu, mem));
        if let Some(finish) = r.finish {
            list.push((finish, 0, -cpu, -mem));
        }
    }
    for (node_name, mut list) in changes {
        list.sort();
        let (cap_cpu, cap_mem) = capacity[node_name];
        let (mut cpu, mut mem) = (0, 0);
        for (t, _, d_cpu, d_mem) in list {
            cpu += d_cpu;
            mem += d_mem;
            prop_assert!(
                cpu <= cap_cpu && mem <= cap_mem,
                "node {node_name} holds {cpu}m / {mem}Mi at {t} µs, capacity {cap_cpu}m / {cap_mem}Mi"
            );
        }
    }

    // No GPU over-committed at any instant, under every policy that checks GPU devices (kube-scheduler's
    // default profile knows only totals); a pod holds as many GPUs as it asks, on its node.
    let node_gpus = |name: &str| case.nodes.iter().enumerate().find(|(i, _)| format!("n{i}") == name).map(|(_, &s)| NODE_GPUS[s]);
    /// (time, 0 for a departure / 1 for a placement, milli-GPU change).
    type Change = (Micros, i8, i64);
    let mut gpu_changes: HashMap<(&str, usize), Vec<Change>> = HashMap::new();
    for r in rows.iter().filter(|r| r.scheduled.is_some()) {
        let (count, milli) = POD_GPUS[shape_of(case, &r.name)];
        if !case.policy.starts_with("default") {
            prop_assert_eq!(r.gpus.len(), count as usize, "{:?}", r);
        }
        if let Some(n) = node_gpus(&r.node) {
            prop_assert!(r.gpus.iter().all(|&g| g < n as usize), "{:?} on a node with {} GPUs", r, n);
        }
        for &g in &r.gpus {
            let list = gpu_changes.entry((r.node.as_str(), g)).or_default();
            list.push((r.scheduled.unwrap(), 1, milli));
            if let Some(finish) = r.finish {
                list.push((finish, 0, -milli));
            }
        }
    }
    if !case.policy.starts_with("default") {
        for ((node_name, g), mut list) in gpu_changes {
            list.sort();
            let mut used = 0;
            for (t, _, d) in list {
                used += d;
                prop_assert!(used <= 1000, "GPU {} of {} holds {} milli-GPU at {} µs", g, node_name, used, t);
            }
        }
    }

    // DAG order: a task's pods arrive, and so start, only after every pod of every parent task finished.
    for (j, (_, tasks)) in case.dags.iter().enumerate() {
        let task_rows = |t: usize| rows.iter().filter(move |r| r.name.starts_with(&format!("d{j}-t{t}-")));
        for (t, task) in tasks.iter().enumerate() {
            for &parent in &task.parents {
                let parent_pods: Vec<&Row> = task_rows(parent).filter(|r| !r.lost && !r.preempted).collect();
                let all_finished = parent_pods.len() == tasks[parent].instances as usize && parent_pods.iter().all(|r| r.finish.is_some());
                let done = parent_pods.iter().filter_map(|r| r.finish).max().filter(|_| all_finished);
                for child in task_rows(t) {
                    match done {
                        None => prop_assert!(false, "{} arrived before its parent task t{} finished", child.name, parent),
                        Some(done) => prop_assert!(
                            child.arrival >= done,
                            "{} arrived at {} before t{} finished at {}",
                            child.name,
                            child.arrival,
                            parent,
                            done
                        ),
                    }
                }
            }
        }
    }

    // At every sample instant, the simulator's pending and running counts are what the records say.
    for sample in read_csv(&dir.0.join("timeseries.csv")) {
        let t = time(&sample["time"]).unwrap();
        if t == 0 {
            continue;
        }
        let pending = rows.iter().filter(|r| r.arrival < t && r.scheduled.is_none_or(|s| s > t)).count();
        let running = rows.iter().filter(|r| r.scheduled.is_some_and(|s| s < t) && r.finish.is_none_or(|f| f > t)).count();
        prop_assert_eq!(sample["pending"].parse::<usize>().unwrap(), pending, "pending at {} µs", t);
        prop_assert_eq!(sample["running"].parse::<usize>().unwrap(), running, "running at {} µs", t);
    }
    Ok(())
}

/// Everything a run writes: the summary as JSON and the three record files.
fn outputs(case: &Case, seed: u64) -> Vec<Vec<u8>> {
    let dir = TempDir::new();
    let summary = run_case(case, seed, &dir.0);
    let mut out = vec![serde_json::to_vec(&summary).unwrap()];
    for file in ["pods.csv", "jobs.csv", "timeseries.csv"] {
        out.push(std::fs::read(dir.0.join(file)).unwrap());
    }
    out
}

/// A comparison of every built-in policy on a case, in a pool of `threads` threads, as JSON.
fn comparison(case: &Case, threads: usize) -> String {
    let policies: Vec<String> = plugins::POLICIES.iter().map(|p| p.name.to_string()).collect();
    let configs: Vec<_> = policies.iter().map(|p| plugins::policy_config(p).unwrap()).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let result = pool.install(|| {
        simulator::compare(
            &policies,
            &[1, 2, 3],
            None,
            |p, seed| {
                let opts = SimOptions { policy: policies[p].clone(), ..options(case, seed) };
                let workload = WorkloadStream::from_items(workload(case));
                let (cluster, registry) = cluster_and_registry(case);
                simulate(cluster, &configs[p], &registry, workload, &opts, None, &mut |_| {})
            },
            &|| {},
        )
    });
    serde_json::to_string(&result.unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn runs_conserve_pods_never_overcommit_and_respect_arrivals_and_dags(case in gen_case()) {
        check_case(&case)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn the_same_inputs_and_seed_give_byte_identical_outputs(case in gen_case(), seed in any::<u64>()) {
        prop_assert_eq!(outputs(&case, seed), outputs(&case, seed));
    }

    #[test]
    fn comparisons_do_not_depend_on_the_number_of_threads(case in gen_case()) {
        prop_assert_eq!(comparison(&case, 1), comparison(&case, 4));
    }
}
