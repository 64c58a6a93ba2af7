//! Workloads shared by the benchmarks: upstream scheduler_perf's node and pod templates.
//!
//! `SchedulingBasic` (test/integration/scheduler_perf/misc/performance-config.yaml): nodes from
//! `makeBaseNode` (4 CPU, 32Gi, 110 pods, no labels), pods from `templates/pod-default.yaml` (one
//! `pause` container, 100m / 500Mi requests and limits, container port 80 without a host port).

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup};
use scheduler_core::testing::{node, pod};
use scheduler_core::{Cluster, Pod, PodDef, Scheduler, SchedulerConfig};

/// A `makeBaseNode` node.
pub fn base_node(i: usize) -> scheduler_core::NodeDef {
    let mut def = node(&format!("scheduler-perf-{i}")).cpu("4").memory("32Gi").pods(110).def;
    def.labels.clear();
    def
}

/// A `pod-default.yaml` pod.
pub fn default_pod(i: usize) -> PodDef {
    let mut def = pod(&format!("pod-{i}")).image("registry.k8s.io/pause:3.10.1").def;
    let c = &mut def.containers[0];
    c.requests = vec![("cpu".into(), "100m".into()), ("memory".into(), "500Mi".into())];
    c.limits = c.requests.clone();
    c.ports.push(scheduler_core::ContainerPortDef { container_port: 80, ..Default::default() });
    def
}

/// A cluster of `n_nodes` base nodes on which `init_pods` default pods were scheduled by the default
/// profile, and that scheduler.
pub fn scheduling_basic(n_nodes: usize, init_pods: usize) -> (Cluster, Scheduler) {
    scheduling_basic_with(&SchedulerConfig::default(), n_nodes, init_pods)
}

/// A cluster of `n_nodes` base nodes on which `init_pods` default pods were scheduled by a scheduler of
/// `config`, and that scheduler.
pub fn scheduling_basic_with(config: &SchedulerConfig, n_nodes: usize, init_pods: usize) -> (Cluster, Scheduler) {
    let mut cluster = Cluster::new();
    for i in 0..n_nodes {
        cluster.add_node(&base_node(i)).expect("valid node");
    }
    let mut scheduler = Scheduler::from_config(config, &plugins::registry(), &mut cluster, 1).expect("valid configuration");
    for i in 0..init_pods {
        let p = cluster.compile_pod(&default_pod(i)).expect("valid pod");
        let r = scheduler.schedule_one(&cluster, &p).expect("fits");
        cluster.add_pod(p, r.node);
    }
    (cluster, scheduler)
}

/// Compiled pods to measure.
pub fn measure_pods(cluster: &mut Cluster, n: usize, offset: usize) -> Vec<Pod> {
    (0..n).map(|i| cluster.compile_pod(&default_pod(offset + i)).expect("valid pod")).collect()
}

/// Schedules and binds `pods` one by one.
pub fn schedule_batch(cluster: &mut Cluster, scheduler: &mut Scheduler, pods: Vec<Pod>) {
    for p in pods {
        let r = scheduler.schedule_one(cluster, &p).expect("fits");
        cluster.add_pod(p, r.node);
    }
}

/// Benchmarks scheduling `pods`: each iteration schedules them on a fresh copy of the initial cluster and
/// scheduler.
pub fn bench_scheduler(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, cluster: &Cluster, scheduler: &Scheduler, pods: &[Pod]) {
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

/// Benchmarks the same-run baseline, `baseline_scan_all_nodes`: [`scan_all_nodes`] for each pod.
pub fn bench_baseline(group: &mut BenchmarkGroup<'_, WallTime>, cluster: &Cluster, pods: &[Pod]) {
    group.bench_function("baseline_scan_all_nodes", |b| b.iter(|| pods.iter().map(|p| scan_all_nodes(cluster, p)).sum::<usize>()));
}

/// The baseline of scheduling benchmarks: a hand-written LeastAllocated pass over all nodes, picking the
/// best; the least work any scheduler that looks at every node must do.
pub fn scan_all_nodes(cluster: &Cluster, pod: &Pod) -> usize {
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

/// The scheduler-extender workload: SchedulingBasic's cluster as the extender's cache, and the request
/// bodies a kube-scheduler sends for a `pod-default.yaml` pod.
pub mod extender_workload {
    use extender::{PodSource, State};
    use scheduler_core::{Cluster, Scheduler, SchedulerConfig};

    /// A node object as a real kube-scheduler sends it: the captured `node-a` (about 3 KB with its
    /// annotations, managedFields and status, 3800m CPU and 7Gi allocatable), renamed, with its fields in
    /// the API server's order.
    pub fn node_json(template: &str, i: usize) -> String {
        template.replace("node-a", &format!("scheduler-perf-{i}")).replace("\"resourceVersion\":\"201\"", "\"resourceVersion\":\"1\"")
    }

    /// The captured `node-a` object, verbatim.
    pub fn node_template() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../extender/tests/fixtures/filter-request.raw.json");
        let bytes = std::fs::read(&path).expect("the captured filter request");
        let args: extender::wire::ExtenderArgs<'_> = extender::wire::decode(&bytes).expect("a filter request");
        let node = args.nodes.expect("nodes").items[0].get().to_string();
        assert!(node.contains("\"name\":\"node-a\"") && node.contains("\"resourceVersion\":\"201\""));
        node
    }

    /// The request body of a filter or prioritize call for `pod-default.yaml` pod `i`: `NodeNames` (a
    /// `nodeCacheCapable` extender) or full `Nodes`.
    pub fn request(i: usize, n_nodes: usize, node_cache: bool) -> Vec<u8> {
        let mut def = crate::default_pod(i);
        def.uid = format!("pod-uid-{i}");
        let pod = serde_json::to_string(&traces::kube::pod_manifest(&def)).expect("JSON");
        let body = if node_cache {
            let names: Vec<String> = (0..n_nodes).map(|n| format!("\"scheduler-perf-{n}\"")).collect();
            format!(r#"{{"Pod":{pod},"Nodes":null,"NodeNames":[{}]}}"#, names.join(","))
        } else {
            let template = node_template();
            let nodes: Vec<String> = (0..n_nodes).map(|n| node_json(&template, n)).collect();
            format!(r#"{{"Pod":{pod},"Nodes":{{"metadata":{{}},"items":[{}]}},"NodeNames":null}}"#, nodes.join(","))
        };
        body.into_bytes()
    }

    /// The extender's state with the default profile: `n_nodes` nodes (learnt from a `Nodes` call, as
    /// a non-cache-capable extender learns them) and `init_pods` pods spread round-robin.
    pub fn state(n_nodes: usize, init_pods: usize) -> State {
        let mut cluster = Cluster::new();
        let scheduler =
            Scheduler::from_config(&SchedulerConfig::default(), &plugins::registry(), &mut cluster, 1).expect("valid configuration");
        let mut state = State::new(cluster, scheduler, PodSource::Static);
        extender::server::decide(&mut state, extender::Verb::Filter, &request(0, n_nodes, false)).expect("nodes learnt");
        for i in 0..init_pods {
            let mut def = crate::default_pod(i);
            def.uid = format!("init-{i}");
            def.node_name = format!("scheduler-perf-{}", i % n_nodes);
            state.apply_pod(def, "Running").expect("valid pod");
        }
        state
    }
}
