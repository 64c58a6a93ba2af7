//! DefaultPreemption end to end: eligibility, victims and reprieve, budgets, the node choice, messages,
//! nominations and the two-pass filter, and the PreFilter extensions of the pod-dependent plugins.

use scheduler_core::testing::{PodBuilder, affinity_term, node, pod};
use scheduler_core::{
    Cluster, Code, IntOrPercent, LabelSelectorDef, PodDisruptionBudgetDef, PodId, PostFilterResult, ScheduleError, Scheduler,
};

use super::{cluster, scheduler};

/// Binds a pod to a node by name; returns its id.
fn run(c: &mut Cluster, node: &str, p: PodBuilder) -> PodId {
    let p = c.compile_pod(&p.def).unwrap();
    let id = c.node_id(node).unwrap();
    c.add_pod(p, id)
}

/// The failed cycle's message and PostFilter result.
fn preempt(c: &mut Cluster, s: &mut Scheduler, p: PodBuilder) -> (String, PostFilterResult) {
    let p = c.compile_pod(&p.def).unwrap();
    match s.schedule_one(c, &p) {
        Err(ScheduleError::Unschedulable(fit)) => (fit.message(), fit.post_filter.expect("DefaultPreemption ran").1),
        other => panic!("expected a FitError, got {other:?}"),
    }
}

fn names(c: &Cluster, ids: &[PodId]) -> Vec<String> {
    ids.iter().map(|&id| c.pod(id).unwrap().pod.name.to_string()).collect()
}

/// Upstream's PreemptionBasic shape: four 900m pods of priority 0 on a 4-CPU node; a 3-CPU pod of
/// priority 10 evicts three and reprieves the most important (here: the earliest started).
#[test]
fn the_fewest_least_important_victims_are_chosen() {
    let mut c = cluster(&[node("n").cpu("4").memory("32Gi")]);
    for (i, start) in [(0, 40), (1, 10), (2, 30), (3, 20)] {
        let mut p = pod(&format!("low-{i}")).cpu("900m");
        p.def.start_time = Some(start);
        run(&mut c, "n", p);
    }
    let mut s = scheduler(&mut c, "", 1);
    let (message, r) = preempt(&mut c, &mut s, pod("high").cpu("3").priority(10));
    assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.");
    assert_eq!(r.status.code(), Code::Success);
    assert_eq!(r.nominated_node, Some(c.node_id("n")));
    // low-1 started first, so it is the most important of equals and is put back.
    assert_eq!(names(&c, &r.victims), ["low-3", "low-2", "low-0"]);
}

#[test]
fn only_strictly_lower_priorities_are_victims_and_the_message_is_upstreams() {
    let mut c = cluster(&[node("a").cpu("2"), node("b").cpu("2"), node("c").cpu("2")]);
    for n in ["a", "b", "c"] {
        run(&mut c, n, pod(&format!("p-{n}")).cpu("2").priority(5));
    }
    let mut s = scheduler(&mut c, "", 1);
    let (message, r) = preempt(&mut c, &mut s, pod("same").cpu("1").priority(5));
    assert_eq!(
        message,
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
    assert_eq!((r.status.code(), r.nominated_node, r.victims.len()), (Code::Unschedulable, Some(None), 0));
    // With a lower priority on one node only.
    run(&mut c, "b", pod("tiny").cpu("1m").priority(1));
    let (message, _) = preempt(&mut c, &mut s, pod("same").cpu("1").priority(5));
    assert!(
        message.ends_with("preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for incoming pod."),
        "{message}"
    );
}

#[test]
fn preemption_policy_never_is_not_eligible() {
    let mut c = cluster(&[node("n").cpu("1")]);
    run(&mut c, "n", pod("low").cpu("1"));
    let mut s = scheduler(&mut c, "", 1);
    let mut p = pod("polite").cpu("1").priority(100);
    p.def.never_preempt = true;
    let (message, r) = preempt(&mut c, &mut s, p);
    assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
    assert_eq!((r.nominated_node, r.victims.len()), (None, 0), "a pod not eligible keeps its nominated node");
}

#[test]
fn nodes_rejected_as_unresolvable_are_never_candidates() {
    let mut c = cluster(&[node("small").cpu("1"), node("big").cpu("4").label("disk", "hdd")]);
    run(&mut c, "small", pod("low").cpu("1"));
    let mut s = scheduler(&mut c, "", 1);
    let (message, r) = preempt(&mut c, &mut s, pod("high").cpu("1").priority(10).node_selector("disk", "ssd"));
    assert_eq!(
        message,
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption \
         is not helpful for scheduling."
    );
    assert_eq!(r.nominated_node, Some(None), "the nominated node is cleared");
}

/// Criteria in order: budget violations, then the highest victim priority, then the sum, then the count,
/// then the latest start.
#[test]
fn the_node_choice_follows_the_five_criteria() {
    let choose = |setup: &dyn Fn(&mut Cluster)| {
        let mut c = cluster(&[node("a").cpu("2"), node("b").cpu("2")]);
        setup(&mut c);
        let mut s = scheduler(&mut c, "", 1);
        let (_, r) = preempt(&mut c, &mut s, pod("high").cpu("2").priority(100));
        c.node(r.nominated_node.flatten().expect("a node")).node.name.to_string()
    };
    // Highest victim priority: 5 on a, 1 on b.
    assert_eq!(
        choose(&|c| {
            run(c, "a", pod("a1").cpu("2").priority(5));
            run(c, "b", pod("b1").cpu("2").priority(1));
        }),
        "b"
    );
    // Same highest priority; sum: a has two pods of 3, b one pod of 3 and one of 1.
    assert_eq!(
        choose(&|c| {
            run(c, "a", pod("a1").cpu("1").priority(3));
            run(c, "a", pod("a2").cpu("1").priority(3));
            run(c, "b", pod("b1").cpu("1").priority(3));
            run(c, "b", pod("b2").cpu("1").priority(1));
        }),
        "b"
    );
    // Equal priorities, sums and counts: the node whose highest-priority victims started last.
    assert_eq!(
        choose(&|c| {
            let mut a = pod("a1").cpu("2").priority(3);
            a.def.start_time = Some(100);
            run(c, "a", a);
            let mut b = pod("b1").cpu("2").priority(3);
            b.def.start_time = Some(50);
            run(c, "b", b);
        }),
        "a"
    );
    // A budget that allows no disruption on a's pods: b wins although its victim is more important.
    assert_eq!(
        choose(&|c| {
            run(c, "a", pod("a1").cpu("2").priority(1).label("app", "db"));
            run(c, "b", pod("b1").cpu("2").priority(5));
            c.add_pdb(&PodDisruptionBudgetDef {
                name: "db".into(),
                selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "db".into())], ..Default::default() }),
                min_available: Some(IntOrPercent::Int(1)),
                ..Default::default()
            })
            .unwrap();
        }),
        "b"
    );
}

#[test]
fn budget_violating_victims_are_reprieved_first() {
    // Two pods of equal priority; either one's eviction frees enough. The budget covers the earlier one,
    // which is tried first for reprieve and stays.
    let mut c = cluster(&[node("n").cpu("2")]);
    let mut guarded = pod("guarded").cpu("1").label("app", "db");
    guarded.def.start_time = Some(20);
    run(&mut c, "n", guarded);
    let mut free = pod("free").cpu("1");
    free.def.start_time = Some(10);
    run(&mut c, "n", free);
    c.add_pdb(&PodDisruptionBudgetDef {
        name: "db".into(),
        selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "db".into())], ..Default::default() }),
        disruptions_allowed: Some(0),
        ..Default::default()
    })
    .unwrap();
    let mut s = scheduler(&mut c, "", 1);
    let (_, r) = preempt(&mut c, &mut s, pod("high").cpu("1").priority(10));
    assert_eq!(names(&c, &r.victims), ["free"]);
}

/// The nominated pod reserves room against pods of lower or equal priority (the two-pass filter), the
/// nominated node is tried first, and a pending preemption's terminating victim makes the pod wait.
#[test]
fn nominations_reserve_room_and_are_tried_first() {
    let mut c = cluster(&[node("a").cpu("2"), node("b").cpu("2")]);
    let victim = run(&mut c, "a", pod("low").cpu("2"));
    run(&mut c, "b", pod("other").cpu("2").priority(50));
    let mut s = scheduler(&mut c, "", 1);
    let high = c.compile_pod(&pod("high").cpu("2").priority(10).def).unwrap();
    let (_, r) = preempt(&mut c, &mut s, pod("high").cpu("2").priority(10));
    assert_eq!(r.nominated_node, Some(c.node_id("a")));
    assert_eq!(r.victims, [victim]);
    c.set_terminating(victim);
    c.nominate(high.clone(), c.node_id("a").unwrap());
    // While the victim terminates the preemptor waits (no second preemption).
    let (message, r) = preempt(&mut c, &mut s, pod("high").cpu("2").priority(10));
    assert!(message.ends_with("preemption: not eligible due to a terminating pod on the nominated node."), "{message}");
    assert_eq!(r.nominated_node, None);
    c.remove_pod(victim);
    // A pod of lower priority cannot take the reserved room on a; one of higher priority can.
    let low = c.compile_pod(&pod("late").cpu("1").priority(5).def).unwrap();
    let err = s.schedule_one(&c, &low).unwrap_err().to_string();
    assert!(err.starts_with("0/2 nodes are available: 2 Insufficient cpu."), "{err}");
    let urgent = c.compile_pod(&pod("urgent").cpu("1").priority(20).def).unwrap();
    assert_eq!(s.schedule_one(&c, &urgent).map(|r| r.node), Ok(c.node_id("a").unwrap()));
    // The preemptor itself is not held back by its own nomination and goes to its node at once.
    let got = s.schedule_one(&c, &high).unwrap();
    assert_eq!((got.node, got.evaluated_nodes), (c.node_id("a").unwrap(), 1));
}

/// RemovePod on InterPodAffinity's state: the preemptor's anti-affinity to a lower-priority pod is solved
/// by evicting it, and only it.
#[test]
fn evicting_a_pod_the_preemptor_is_anti_affine_to() {
    let mut c = cluster(&[node("n").cpu("4").label("kubernetes.io/hostname", "n")]);
    let cache = run(&mut c, "n", pod("cache").cpu("100m").label("app", "cache").priority(1));
    run(&mut c, "n", pod("web").cpu("100m").label("app", "web").priority(1));
    let mut s = scheduler(&mut c, "", 1);
    let p = pod("high").cpu("100m").priority(10).required_pod_anti_affinity(affinity_term("kubernetes.io/hostname", &[("app", "cache")]));
    let (message, r) = preempt(&mut c, &mut s, p);
    assert_eq!(message, "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.");
    assert_eq!(r.victims, [cache]);
}

/// RemovePod on PodTopologySpread's state: with maxSkew 1 over two hosts, evicting a matching pod of
/// lower priority from the crowded host makes room.
#[test]
fn evicting_a_pod_to_restore_the_spread() {
    let mut c =
        cluster(&[node("h1").cpu("4").label("kubernetes.io/hostname", "h1"), node("h2").cpu("1").label("kubernetes.io/hostname", "h2")]);
    run(&mut c, "h1", pod("w1").cpu("100m").label("app", "w").priority(1));
    run(&mut c, "h1", pod("w2").cpu("100m").label("app", "w").priority(1));
    run(&mut c, "h2", pod("filler").cpu("1").priority(100));
    let mut s = scheduler(&mut c, "", 1);
    let mut p = pod("w3").cpu("100m").label("app", "w").priority(10);
    p.def.topology_spread_constraints = vec![scheduler_core::TopologySpreadConstraintDef {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".into(),
        when_unsatisfiable: scheduler_core::WhenUnsatisfiable::DoNotSchedule,
        label_selector: Some(LabelSelectorDef { match_labels: vec![("app".into(), "w".into())], ..Default::default() }),
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }];
    let (_, r) = preempt(&mut c, &mut s, p);
    // h1 holds 2 matching pods and h2 none: the skew on h1 would be 3 − 0. With both evicted it is 1; putting
    // either back makes it 2 again, so both are victims (h2's pod has a higher priority).
    assert_eq!(r.nominated_node, Some(c.node_id("h1")));
    assert_eq!(r.victims.len(), 2, "{:?}", names(&c, &r.victims));
}

#[test]
fn arguments_are_checked() {
    let err = |args: &str| {
        let yaml = format!("profiles:\n- pluginConfig:\n  - name: DefaultPreemption\n    args: {args}\n");
        let config = scheduler_core::SchedulerConfig::from_yaml(&yaml).unwrap();
        Scheduler::from_config(&config, &plugins::registry(), &mut Cluster::new(), 0).err().map(|e| e.to_string())
    };
    assert_eq!(err("{minCandidateNodesPercentage: 5, minCandidateNodesAbsolute: 1}"), None);
    assert_eq!(
        err("{minCandidateNodesPercentage: 101}").unwrap(),
        "profiles[0].pluginConfig[0].args.minCandidateNodesPercentage: Invalid value: 101: not in valid range [0, 100]"
    );
    assert_eq!(
        err("{minCandidateNodesAbsolute: -1}").unwrap(),
        "profiles[0].pluginConfig[0].args.minCandidateNodesAbsolute: Invalid value: -1: not in valid range [0, inf)"
    );
    assert_eq!(
        err("{minCandidateNodesPercentage: 0, minCandidateNodesAbsolute: 0}").unwrap(),
        "profiles[0].pluginConfig[0].args.minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as \
         minCandidateNodesAbsolute"
    );
    assert!(err("{minCandidates: 3}").unwrap().contains("minCandidates"));
}
