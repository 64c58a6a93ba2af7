//! Simulations of small workloads whose outcome can be worked out by hand, invariants on generated
//! workloads, and determinism.

mod demand;
mod invariants;

use std::sync::Arc;

use scheduler_core::testing::{node, pod};
use scheduler_core::{Cluster, PodDef, SchedulerConfig};
use simulator::{SimOptions, Summary, simulate};
use traces::{DagJob, DagTask, MICROS_PER_SECOND as S, NodeEvent, PodArrival, WorkloadItem, WorkloadStream};

fn cluster(n: usize, cpu: &str) -> Cluster {
    let mut c = Cluster::new();
    for i in 0..n {
        c.add_node(&node(&format!("n{i}")).cpu(cpu).memory("16Gi").def).unwrap();
    }
    c
}

fn spec(cpu: &str) -> Arc<PodDef> {
    Arc::new(pod("tmpl").cpu(cpu).memory("1Gi").def)
}

fn arrival(name: &str, t: u64, cpu: &Arc<PodDef>, duration: u64, job: Option<&str>) -> WorkloadItem {
    WorkloadItem::Pod(PodArrival {
        time: t * S,
        name: name.into(),
        spec: cpu.clone(),
        duration: Some(duration * S),
        job: job.map(Into::into),
    })
}

fn run(c: Cluster, items: Vec<WorkloadItem>, policy: &str) -> Summary {
    let config = plugins::policy_config(policy).unwrap();
    run_with(c, items, &config, &SimOptions { policy: policy.into(), ..SimOptions::default() })
}

fn run_with(c: Cluster, items: Vec<WorkloadItem>, config: &SchedulerConfig, opts: &SimOptions) -> Summary {
    simulate(c, config, &plugins::registry(), WorkloadStream::from_items(items), opts, None, &mut |_| {}).unwrap()
}

#[test]
fn pods_wait_for_room_and_run_their_duration() {
    // One node with 4 CPUs; three 2-CPU pods at t=0 running 10 s: two run at once, the third waits 10 s.
    let s2 = spec("2");
    let items = vec![arrival("a", 0, &s2, 10, None), arrival("b", 0, &s2, 10, None), arrival("c", 0, &s2, 10, None)];
    let sum = run(cluster(1, "4"), items, "default");
    assert_eq!((sum.pods.arrived, sum.pods.scheduled, sum.pods.finished), (3, 3, 3));
    assert_eq!(sum.simulated_seconds, 20.0);
    assert_eq!(sum.makespan_seconds, 20.0);
    assert_eq!(sum.queueing_delay.max, 10.0);
    assert_eq!(sum.jct.max, 20.0);
    assert_eq!(sum.jobs_finished, 3);
    // cpu: 4 of 4 for 10 s, 2 of 4 for 10 s ⇒ 0.75.
    assert_eq!(sum.allocation["cpu"], 0.75);
    // All three were pending at t=0, before the scheduler ran.
    assert_eq!(sum.pending.peak, 3);
}

#[test]
fn jobs_complete_when_their_last_pod_does() {
    let s1 = spec("1");
    let items = vec![arrival("a", 0, &s1, 5, Some("j")), arrival("b", 2, &s1, 10, Some("j")), arrival("c", 3, &s1, 1, None)];
    let sum = run(cluster(2, "4"), items, "spread");
    assert_eq!(sum.jobs_finished, 2);
    // Job j: submitted at 0, last pod finishes at 12 ⇒ JCT 12; pod c: 1.
    assert_eq!((sum.jct.max, sum.jct.p50), (12.0, 1.0));
}

#[test]
fn dag_tasks_wait_for_their_parents() {
    let s1 = spec("1");
    let job = DagJob {
        time: S,
        name: "etl".into(),
        tasks: vec![
            DagTask { name: "extract".into(), instances: 3, spec: s1.clone(), duration: Some(4 * S), parents: vec![] },
            DagTask { name: "transform".into(), instances: 2, spec: s1.clone(), duration: Some(6 * S), parents: vec![0] },
            DagTask { name: "load".into(), instances: 1, spec: s1.clone(), duration: Some(2 * S), parents: vec![1] },
        ],
    };
    let sum = run(cluster(1, "8"), vec![WorkloadItem::Dag(job)], "default");
    assert_eq!(sum.pods.finished, 6);
    // 1 + 4 + 6 + 2 = 13.
    assert_eq!((sum.jobs_finished, sum.jct.max, sum.makespan_seconds), (1, 12.0, 13.0));
}

#[test]
fn a_failed_nodes_job_pods_are_created_again() {
    let s1 = spec("1");
    let items = vec![
        arrival("a", 0, &s1, 100, Some("j")),
        arrival("b", 0, &s1, 100, None),
        WorkloadItem::Node(NodeEvent::Fail { time: 10 * S, name: "n0".into() }),
    ];
    let sum = run(cluster(1, "4").tap_add("n1"), items, "first-fit");
    assert_eq!((sum.pods.lost, sum.pods.recreated), (2, 1));
    // The recreated pod runs 100 s on n1 from t=10.
    assert_eq!(sum.makespan_seconds, 110.0);
    assert_eq!(sum.jobs_unfinished, 1);
}

trait TapAdd {
    fn tap_add(self, name: &str) -> Self;
}

impl TapAdd for Cluster {
    fn tap_add(mut self, name: &str) -> Self {
        self.add_node(&node(name).cpu("4").memory("16Gi").def).unwrap();
        self
    }
}

#[test]
fn unschedulable_pods_are_reported_pending() {
    let big = spec("16");
    let sum = run(cluster(2, "4"), vec![arrival("huge", 0, &big, 10, None)], "default");
    assert_eq!((sum.pods.pending_at_end, sum.pods.scheduled), (1, 0));
    assert!(sum.attempts.unschedulable >= 1);
    assert_eq!(sum.jobs_unfinished, 1);
}

#[test]
fn the_cost_model_delays_placements() {
    let s1 = spec("1");
    let items: Vec<WorkloadItem> = (0..4).map(|i| arrival(&format!("p{i}"), 0, &s1, 10, None)).collect();
    let config = plugins::policy_config("default").unwrap();
    let opts = SimOptions { attempt_cost: S / 2, bind_cost: S, ..SimOptions::default() };
    let sum = run_with(cluster(2, "8"), items, &config, &opts);
    // Attempts at 0, 0.5, 1, 1.5 s; each bound 1 s later: delays 1, 1.5, 2, 2.5.
    assert_eq!((sum.queueing_delay.mean, sum.queueing_delay.max), (1.75, 2.5));
}

#[test]
fn pods_held_back_by_topology_spread_are_retried_when_a_pod_joins() {
    // Zones a and b, one node each. x (zone a) runs for ever; s must keep the app's zone skew ≤ 1, counting
    // zone b although s cannot go there (nodeAffinityPolicy: Ignore): a holds 1, b 0, so s waits. When y
    // binds in zone b at t=10, PodTopologySpread's rejection no longer holds and s is retried at once,
    // not at the five-minute flush.
    let mut c = Cluster::new();
    for (name, zone) in [("na", "a"), ("nb", "b")] {
        c.add_node(&node(name).cpu("4").memory("16Gi").label("topology.kubernetes.io/zone", zone).def).unwrap();
    }
    let web = |zone: &str| pod("tmpl").cpu("1").memory("1Gi").label("app", "web").node_selector("topology.kubernetes.io/zone", zone);
    let mut spreading = web("a").def;
    spreading.topology_spread_constraints = vec![scheduler_core::TopologySpreadConstraintDef {
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone".into(),
        when_unsatisfiable: scheduler_core::WhenUnsatisfiable::DoNotSchedule,
        label_selector: Some(scheduler_core::LabelSelectorDef {
            match_labels: vec![("app".into(), "web".into())],
            match_expressions: vec![],
        }),
        min_domains: None,
        node_affinity_policy: Some(scheduler_core::NodeInclusionPolicy::Ignore),
        node_taints_policy: None,
        match_label_keys: vec![],
    }];
    let forever = |name: &str, t: u64, spec: PodDef| {
        WorkloadItem::Pod(PodArrival { time: t * S, name: name.into(), spec: Arc::new(spec), duration: None, job: None })
    };
    let items = vec![forever("x", 0, web("a").def), forever("s", 1, spreading), forever("y", 10, web("b").def)];
    let sum = run(c, items, "default");
    assert_eq!((sum.pods.scheduled, sum.attempts.unschedulable), (3, 1));
    // s arrived at 1 and was placed when y joined at 10.
    assert_eq!(sum.queueing_delay.max, 9.0);
}

#[test]
fn preemption_evicts_victims_after_their_grace_period_and_recreates_job_pods() {
    // Upstream's PreemptionBasic shape on one 4-CPU node: four 900m pods of priority 0 (three of job "low",
    // one on its own); at t=10 a 3-CPU pod of priority 10 arrives and evicts three of them.
    let low = Arc::new(pod("tmpl").cpu("900m").memory("1Gi").def);
    let high = Arc::new(pod("tmpl").cpu("3").memory("1Gi").priority(10).def);
    let items = vec![
        arrival("solo", 0, &low, 1000, None),
        arrival("l1", 1, &low, 1000, Some("low")),
        arrival("l2", 2, &low, 1000, Some("low")),
        arrival("l3", 3, &low, 1000, Some("low")),
        arrival("high", 10, &high, 100, None),
    ];
    let config = plugins::policy_config("default").unwrap();
    let opts = SimOptions { grace_period: 20 * S, ..SimOptions::default() };
    let sum = run_with(cluster(1, "4"), items.clone(), &config, &opts);
    // The earliest-started pod (solo) is the most important of equals and stays; l1..l3 are evicted.
    assert_eq!((sum.pods.preempted, sum.pods.recreated), (3, 3));
    // high waits out the 20 s grace period and runs from t=30 to t=130; the job's pods, re-created at t=30,
    // wait for it: 100 s, the longest queueing delay.
    assert_eq!(sum.queueing_delay.max, 100.0);
    // Without DefaultPreemption nothing is evicted and high waits for room.
    let no_preemption =
        SchedulerConfig::from_yaml("profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: DefaultPreemption}]\n").unwrap();
    let sum = run_with(cluster(1, "4"), items, &no_preemption, &SimOptions::default());
    assert_eq!(sum.pods.preempted, 0);
}
