//! End-to-end scheduling cycles with the in-tree plugins and upstream's default configuration.

mod gpu;
mod preemption;

use proptest::prelude::*;
use scheduler_core::testing::{NodeBuilder, PodBuilder, node, pod};
use scheduler_core::{Cluster, NodeId, ScheduleError, Scheduler, SchedulerConfig, TaintEffect};

fn cluster(nodes: &[NodeBuilder]) -> Cluster {
    let mut c = Cluster::new();
    for n in nodes {
        c.add_node(&n.def).unwrap();
    }
    c
}

fn scheduler(c: &mut Cluster, yaml: &str, seed: u64) -> Scheduler {
    let config = SchedulerConfig::from_yaml(yaml).unwrap();
    Scheduler::from_config(&config, &plugins::registry(), c, seed).unwrap()
}

fn name(c: &Cluster, id: NodeId) -> &str {
    &c.node(id).node.name
}

fn schedule(c: &mut Cluster, s: &mut Scheduler, p: PodBuilder) -> Result<String, ScheduleError> {
    let p = c.compile_pod(&p.def).unwrap();
    s.schedule_one(c, &p).map(|r| name(c, r.node).to_string())
}

#[test]
fn fit_error_message_matches_upstream() {
    let mut c = cluster(&[
        node("a").cpu("1").memory("4Gi"),
        node("b").cpu("8").memory("4Gi").taint("dedicated", "gpu", TaintEffect::NoSchedule),
        node("c").cpu("8").memory("4Gi").taint("dedicated", "gpu", TaintEffect::NoExecute),
    ]);
    let mut s = scheduler(&mut c, "", 1);
    let err = schedule(&mut c, &mut s, pod("p").cpu("2")).unwrap_err();
    // Node a is too small even when empty: NodeResourcesFit says UnschedulableAndUnresolvable (1.36), so
    // preemption has no node to try.
    assert_eq!(
        err.to_string(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 3 \
         Preemption is not helpful for scheduling."
    );
    let ScheduleError::Unschedulable(fit) = err else { panic!("not a FitError") };
    let profile = &s.profiles()[0];
    let plugins: Vec<&str> = fit.diagnosis.unschedulable_plugins.iter().map(|&p| profile.plugin_name(p)).collect();
    assert_eq!(plugins, ["NodeResourcesFit", "TaintToleration"]);
}

#[test]
fn least_allocated_and_balance_pick_the_emptier_node() {
    let mut c = cluster(&[node("busy").cpu("4").memory("8Gi"), node("idle").cpu("4").memory("8Gi")]);
    let busy = c.node_id("busy").unwrap();
    let running = c.compile_pod(&pod("r").cpu("3").memory("6Gi").def).unwrap();
    c.add_pod(running, busy);
    let mut s = scheduler(&mut c, "", 7);
    assert_eq!(schedule(&mut c, &mut s, pod("p").cpu("500m").memory("1Gi")).unwrap(), "idle");
}

#[test]
fn most_allocated_profile_packs() {
    let yaml = r#"
profiles:
- schedulerName: binpack
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
  plugins:
    multiPoint:
      disabled: [{name: NodeResourcesBalancedAllocation}]
"#;
    let mut c = cluster(&[node("busy").cpu("4").memory("8Gi"), node("idle").cpu("4").memory("8Gi")]);
    let busy = c.node_id("busy").unwrap();
    let running = c.compile_pod(&pod("r").cpu("2").memory("4Gi").def).unwrap();
    c.add_pod(running, busy);
    let mut s = scheduler(&mut c, yaml, 7);
    assert_eq!(schedule(&mut c, &mut s, pod("p").scheduler_name("binpack").cpu("500m").memory("1Gi")).unwrap(), "busy");
    let err = schedule(&mut c, &mut s, pod("q").cpu("1")).unwrap_err();
    assert_eq!(err.to_string(), "no profile has schedulerName \"default-scheduler\"");
}

#[test]
fn single_feasible_node_is_chosen_without_scoring() {
    let mut c = cluster(&[node("a").cpu("1"), node("b").cpu("4")]);
    let mut s = scheduler(&mut c, "", 3);
    let p = c.compile_pod(&pod("p").cpu("2").def).unwrap();
    let r = s.schedule_one(&c, &p).unwrap();
    assert_eq!((name(&c, r.node), r.feasible_nodes, r.evaluated_nodes), ("b", 1, 2));
}

#[test]
fn gated_pods_are_not_scheduled() {
    let mut c = cluster(&[node("a").cpu("1")]);
    let mut s = scheduler(&mut c, "", 3);
    let err = schedule(&mut c, &mut s, pod("p").gate("example.com/wait")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pod is not admitted to the scheduling queue by SchedulingGates: waiting for scheduling gates: [example.com/wait]"
    );
}

#[test]
fn no_nodes() {
    let mut c = Cluster::new();
    let mut s = scheduler(&mut c, "", 3);
    assert_eq!(schedule(&mut c, &mut s, pod("p")).unwrap_err(), ScheduleError::NoNodes);
}

#[test]
fn node_name_narrowing_reports_excluded_nodes() {
    let term = scheduler_core::NodeSelectorTermDef {
        match_expressions: vec![],
        match_fields: vec![scheduler_core::NodeSelectorRequirementDef {
            key: "metadata.name".into(),
            operator: scheduler_core::NodeSelectorOperator::In,
            values: vec!["b".into()],
        }],
    };
    let mut c = cluster(&[node("a").cpu("4"), node("b").cpu("1"), node("c").cpu("4")]);
    let mut s = scheduler(&mut c, "", 3);
    let err = schedule(&mut c, &mut s, pod("p").cpu("2").required_term(term)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are \
         available: 3 Preemption is not helpful for scheduling."
    );
}

#[test]
fn sampling_visits_nodes_from_a_rotating_start() {
    // 200 identical nodes: numFeasibleNodesToFind = 100, so each cycle sees the next 100 nodes.
    let nodes: Vec<NodeBuilder> = (0..200).map(|i| node(&format!("n{i:03}")).cpu("4").memory("8Gi")).collect();
    let mut c = cluster(&nodes);
    let mut s = scheduler(&mut c, "", 11);
    let index = |n: String| n[1..].parse::<usize>().unwrap();
    for round in 0..4 {
        let p = c.compile_pod(&pod("p").cpu("1").def).unwrap();
        let r = s.schedule_one(&c, &p).unwrap();
        assert_eq!((r.evaluated_nodes, r.feasible_nodes), (100, 100));
        let chosen = index(name(&c, r.node).to_string());
        let window = (round % 2) * 100;
        assert!((window..window + 100).contains(&chosen), "round {round} chose n{chosen}");
    }
}

#[test]
fn failures_after_the_last_needed_feasible_node_are_counted() {
    // 100 nodes, percentage 1 ⇒ numFeasibleNodesToFind = 100 would be all; use 150 nodes with pct 50 ⇒ 100.
    // Nodes 0..100 fit, 100..110 are tainted, 110.. fit: the search records the 10 failures before it meets
    // the 101st feasible node, and the next cycle starts there.
    let nodes: Vec<NodeBuilder> = (0..150)
        .map(|i| {
            let n = node(&format!("n{i:03}")).cpu("4").memory("8Gi");
            if (100..110).contains(&i) { n.taint("x", "", TaintEffect::NoSchedule) } else { n }
        })
        .collect();
    let mut c = cluster(&nodes);
    let mut s = scheduler(&mut c, "percentageOfNodesToScore: 50", 5);
    let p = c.compile_pod(&pod("p").cpu("1").def).unwrap();
    let r = s.schedule_one(&c, &p).unwrap();
    assert_eq!((r.feasible_nodes, r.evaluated_nodes), (100, 110));
    // Next cycle starts at n110: it sees n110..n149 (40), wraps to n000..n059 (60) = 100 feasible.
    let r = s.schedule_one(&c, &p).unwrap();
    assert_eq!((r.feasible_nodes, r.evaluated_nodes), (100, 100));
    let chosen: usize = name(&c, r.node)[1..].parse().unwrap();
    assert!(!(60..110).contains(&chosen), "chose n{chosen}");
}

#[test]
fn ties_are_broken_uniformly_and_reproducibly() {
    let nodes: Vec<NodeBuilder> = (0..4).map(|i| node(&format!("n{i}")).cpu("4").memory("8Gi")).collect();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let mut c = cluster(&nodes);
        let mut s1 = scheduler(&mut c, "", seed);
        let mut s2 = scheduler(&mut c, "", seed);
        let a = schedule(&mut c, &mut s1, pod("p").cpu("1")).unwrap();
        let b = schedule(&mut c, &mut s2, pod("p").cpu("1")).unwrap();
        assert_eq!(a, b, "seed {seed}");
        seen.insert(a);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[test]
fn configuration_errors_name_the_field() {
    let err = |yaml: &str| {
        let config = SchedulerConfig::from_yaml(yaml).unwrap();
        Scheduler::from_config(&config, &plugins::registry(), &mut Cluster::new(), 0).err().unwrap().to_string()
    };
    let unknown = err("profiles:\n- plugins:\n    score:\n      enabled: [{name: NodeResourceFit}]\n");
    assert!(unknown.starts_with("profiles[0].plugins.score.enabled[0]: plugin \"NodeResourceFit\" does not exist; available plugins: BestFit, DefaultPreemption, DotProduct, FGD, Fifo, FirstFit,"), "{unknown}");
    assert_eq!(
        err("profiles:\n- plugins:\n    filter:\n      enabled: [{name: PrioritySort}]\n"),
        "profiles[0].plugins.filter.enabled[0]: plugin \"PrioritySort\" does not extend FilterPlugin plugin"
    );
    assert_eq!(
        err("profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        typ: MostAllocated\n"),
        "profiles[0].pluginConfig[0].args.scoringStrategy.typ: unknown field `typ`, expected one of `type`, `resources`, `requestedToCapacityRatio`"
    );
    assert_eq!(
        err("profiles:\n- pluginConfig:\n  - name: TaintToleration\n    args: {x: 1}\n"),
        "profiles[0].pluginConfig[0].args.x: unknown field `x`, there are no fields"
    );
    assert_eq!(
        err("profiles:\n- plugins:\n    queueSort:\n      disabled: [{name: '*'}]\n"),
        "profiles[0].plugins.queueSort: only one queue sort plugin required for profile with scheduler name \"default-scheduler\", but got 0"
    );
}

#[test]
fn multi_point_expansion_follows_upstream() {
    let yaml = r#"
profiles:
- plugins:
    score:
      enabled:
      - name: ImageLocality
        weight: 5
      - name: NodeResourcesFit
      disabled:
      - name: TaintToleration
    filter:
      disabled:
      - name: '*'
      enabled:
      - name: NodeResourcesFit
"#;
    let mut c = Cluster::new();
    let s = scheduler(&mut c, yaml, 0);
    let p = &s.profiles()[0];
    // Explicit score entries that are also in multiPoint come first (in their explicit order), then the
    // multiPoint-only ones; TaintToleration is disabled at Score only.
    assert_eq!(
        p.plugins_at(scheduler_core::ExtensionPoint::Score),
        ["ImageLocality", "NodeResourcesFit", "NodeAffinity", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation"]
    );
    let weights: Vec<(&str, i64)> = p.score_plugins().collect();
    assert_eq!(
        weights,
        [
            ("ImageLocality", 5),
            ("NodeResourcesFit", 1),
            ("NodeAffinity", 2),
            ("PodTopologySpread", 2),
            ("InterPodAffinity", 2),
            ("NodeResourcesBalancedAllocation", 1)
        ]
    );
    assert_eq!(p.plugins_at(scheduler_core::ExtensionPoint::Filter), ["NodeResourcesFit"]);
    assert_eq!(
        p.plugins_at(scheduler_core::ExtensionPoint::PreScore),
        ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation"]
    );
    let missing: Vec<&str> = p.missing_plugins().iter().map(|m| m.name.as_str()).collect();
    assert!(missing.contains(&"DefaultBinder") && !missing.contains(&"DefaultPreemption"), "{missing:?}");
}

#[test]
fn default_profile_membership_matches_upstream_for_available_plugins() {
    let mut c = Cluster::new();
    let s = scheduler(&mut c, "", 0);
    let p = &s.profiles()[0];
    use scheduler_core::ExtensionPoint::*;
    assert_eq!(p.plugins_at(PreEnqueue), ["SchedulingGates"]);
    assert_eq!(p.plugins_at(QueueSort), ["PrioritySort"]);
    assert_eq!(p.plugins_at(PreFilter), ["NodeAffinity", "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]);
    assert_eq!(
        p.plugins_at(Filter),
        [
            "NodeUnschedulable",
            "NodeName",
            "TaintToleration",
            "NodeAffinity",
            "NodePorts",
            "NodeResourcesFit",
            "PodTopologySpread",
            "InterPodAffinity"
        ]
    );
    assert_eq!(p.plugins_at(PostFilter), ["DefaultPreemption"]);
    assert_eq!(
        p.plugins_at(PreScore),
        ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation"]
    );
    let weights: Vec<(&str, i64)> = p.score_plugins().collect();
    assert_eq!(
        weights,
        [
            ("TaintToleration", 3),
            ("NodeAffinity", 2),
            ("NodeResourcesFit", 1),
            ("PodTopologySpread", 2),
            ("InterPodAffinity", 2),
            ("NodeResourcesBalancedAllocation", 1),
            ("ImageLocality", 1)
        ]
    );
    let missing: Vec<&str> = p.missing_plugins().iter().filter(|m| m.affects_decisions).map(|m| m.name.as_str()).collect();
    assert_eq!(
        missing,
        ["VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone", "DynamicResources", "NodeDeclaredFeatures"]
    );
}

fn decisions(threads: usize, n_nodes: usize, pods: &[(u32, u32)], seed: u64) -> Vec<Option<String>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let nodes: Vec<NodeBuilder> = (0..n_nodes)
            .map(|i| {
                let n = node(&format!("n{i}"))
                    .cpu(&format!("{}", 2 + i % 5))
                    .memory(&format!("{}Gi", 4 + i % 7))
                    .label("topology.kubernetes.io/zone", &format!("z{}", i % 3));
                if i % 11 == 0 { n.taint("spot", "", TaintEffect::PreferNoSchedule) } else { n }
            })
            .collect();
        let mut c = cluster(&nodes);
        let mut s = scheduler(&mut c, "", seed);
        s.set_parallel_min_nodes(1);
        pods.iter()
            .enumerate()
            .map(|(i, &(cpu, mem))| {
                let p = c.compile_pod(&pod(&format!("p{i}")).cpu(&format!("{cpu}m")).memory(&format!("{mem}Mi")).def).unwrap();
                let r = s.schedule_one(&c, &p).ok()?;
                let chosen = name(&c, r.node).to_string();
                c.add_pod(p, r.node);
                Some(chosen)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// `schedule_one`'s decisions do not depend on the rayon thread count.
    #[test]
    fn decisions_do_not_depend_on_thread_count(
        n_nodes in 1usize..400,
        pods in prop::collection::vec((1u32..3000, 1u32..6000), 1..40),
        seed in any::<u64>(),
    ) {
        let one = decisions(1, n_nodes, &pods, seed);
        prop_assert_eq!(&one, &decisions(2, n_nodes, &pods, seed));
        prop_assert_eq!(&one, &decisions(4, n_nodes, &pods, seed));
    }
}

/// A random cluster and pod: zones, PreferNoSchedule taints, images, preferred node affinity, and
/// quantities from tiny to the largest upstream accepts.
fn random_world(seed: u64, n_nodes: usize, n_running: usize, extreme: bool) -> (Cluster, scheduler_core::Pod) {
    let mut rng = seed;
    let mut next = move |m: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % m.max(1)
    };
    let qty = |v: u64, extreme: bool| if extreme && v.is_multiple_of(7) { "9e12".to_string() } else { format!("{}", v + 1) };
    let mut c = Cluster::new();
    for i in 0..n_nodes {
        let mut n = node(&format!("n{i}"))
            .cpu(&qty(next(64), extreme))
            .memory(&format!("{}Gi", next(256) + 1))
            .label("topology.kubernetes.io/zone", &format!("z{}", next(3)));
        if next(4) == 0 {
            n = n.taint("spot", "", TaintEffect::PreferNoSchedule);
        }
        if next(3) == 0 {
            n = n.image(&["app:v1"], (next(2000) as i64 + 1) << 20);
        }
        c.add_node(&n.def).unwrap();
    }
    let ids: Vec<NodeId> = c.node_order().to_vec();
    for i in 0..n_running {
        let p = c.compile_pod(&pod(&format!("r{i}")).cpu(&format!("{}m", next(4000))).memory(&format!("{}Mi", next(8000))).def).unwrap();
        c.add_pod(p, ids[next(ids.len() as u64) as usize]);
    }
    let zone_term = scheduler_core::NodeSelectorTermDef {
        match_expressions: vec![scheduler_core::NodeSelectorRequirementDef {
            key: "topology.kubernetes.io/zone".into(),
            operator: scheduler_core::NodeSelectorOperator::In,
            values: vec!["z1".into()],
        }],
        match_fields: vec![],
    };
    let p = c
        .compile_pod(
            &pod("p")
                .cpu(&qty(next(8000), extreme))
                .memory(&format!("{}Mi", next(8000)))
                .image("app:v1")
                .preferred_term(next(100) as i32 + 1, zone_term)
                .def,
        )
        .unwrap();
    (c, p)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the cluster, explain runs without panicking, every normalised score is in 0..=100, weighted
    /// scores and totals add up, and the chosen node is a feasible node with the best total.
    #[test]
    fn scores_are_normalised_and_add_up(seed in any::<u64>(), n_nodes in 1usize..60, n_running in 0usize..80, extreme in any::<bool>(), all in any::<bool>()) {
        let (mut c, p) = random_world(seed, n_nodes, n_running, extreme);
        let mut s = scheduler(&mut c, "", seed);
        let e = s.explain(&c, &p, all).unwrap();
        let weights: std::collections::BTreeMap<&str, i64> = e.score_plugins.iter().map(|(n, w)| (n.as_str(), *w)).collect();
        let mut best: Option<i64> = None;
        for n in &e.nodes {
            for sc in &n.scores {
                prop_assert!((0..=100).contains(&sc.normalized), "{} on {}: {}", sc.plugin, n.name, sc.normalized);
                prop_assert_eq!(sc.weighted, sc.normalized * weights[sc.plugin.as_str()]);
            }
            if !n.scores.is_empty() {
                prop_assert_eq!(n.total, n.scores.iter().map(|s| s.weighted).sum::<i64>());
            }
            if n.filter.code == scheduler_core::Code::Success && !n.scores.is_empty() {
                best = Some(best.map_or(n.total, |b| b.max(n.total)));
            }
        }
        if let Some(selected) = &e.selected {
            let chosen = e.nodes.iter().find(|n| &n.name == selected).unwrap();
            prop_assert_eq!(chosen.filter.code, scheduler_core::Code::Success);
            if let Some(b) = best {
                prop_assert_eq!(chosen.total, b);
            }
        }
        // The sampled cycle agrees with explain's full evaluation on feasibility.
        let decision = s.schedule_one(&c, &p);
        prop_assert_eq!(decision.is_ok(), e.selected.is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The extender's pieces agree with explain's full evaluation: `filter_nodes` on a node list (any
    /// order, any subset) passes and rejects the nodes explain passes and rejects, with the same statuses,
    /// keeping the list's order; `score_nodes` on the feasible nodes gives explain's totals.
    #[test]
    fn given_node_lists_agree_with_explain(seed in any::<u64>(), n_nodes in 1usize..60, n_running in 0usize..80, drop_every in 2usize..5) {
        let (mut c, p) = random_world(seed, n_nodes, n_running, false);
        let mut s = scheduler(&mut c, "", seed);
        let e = s.explain(&c, &p, false).unwrap();
        // A subset of the nodes, reversed.
        let list: Vec<NodeId> = c.node_order().iter().rev().enumerate().filter(|(i, _)| i % drop_every != 0).map(|(_, &n)| n).collect();
        let verdicts = s.filter_nodes(0, &c, &p, &list).unwrap();
        let expected_feasible: Vec<NodeId> =
            list.iter().copied().filter(|&n| e.nodes.iter().any(|x| x.node == n && x.filter.code == scheduler_core::Code::Success)).collect();
        prop_assert_eq!(&verdicts.feasible, &expected_feasible);
        prop_assert_eq!(verdicts.feasible.len() + verdicts.rejected.len(), list.len());
        for (node, plugin, status) in &verdicts.rejected {
            let x = e.nodes.iter().find(|x| x.node == *node).unwrap();
            prop_assert_eq!(status.code(), x.filter.code);
            prop_assert_eq!(status.reasons().iter().map(|r| r.to_string()).collect::<Vec<_>>(), x.filter.reasons.clone());
            prop_assert_eq!(plugin, &x.filter.plugin);
        }
        let feasible_all: Vec<NodeId> = e.nodes.iter().filter(|x| x.filter.code == scheduler_core::Code::Success).map(|x| x.node).collect();
        if feasible_all.len() >= 2 {
            let scores = s.score_nodes(0, &c, &p, &feasible_all).unwrap();
            let totals: Vec<i64> = feasible_all.iter().map(|&n| e.nodes.iter().find(|x| x.node == n).unwrap().total).collect();
            prop_assert_eq!(&scores.totals, &totals);
            prop_assert!(scores.totals.iter().all(|&t| (0..=scores.max_total).contains(&t)));
        }
    }
}

/// Decisions over a pod sequence with runs of identical pods, binds and removals, with or without the memo.
fn memo_decisions(memo: bool, n_nodes: usize, script: &[(u8, u32, u32)], seed: u64) -> Vec<Option<String>> {
    let nodes: Vec<NodeBuilder> = (0..n_nodes)
        .map(|i| {
            let n = node(&format!("n{i}"))
                .cpu(&format!("{}", 2 + i % 3))
                .memory("8Gi")
                .label("topology.kubernetes.io/zone", &format!("z{}", i % 2));
            if i % 5 == 0 { n.taint("spot", "", TaintEffect::PreferNoSchedule).image(&["app:v1"], 300 << 20) } else { n }
        })
        .collect();
    let mut c = cluster(&nodes);
    let mut s = scheduler(&mut c, "", seed);
    s.set_memo(memo);
    let mut bound = Vec::new();
    let mut out = Vec::new();
    for (i, &(op, cpu, mem)) in script.iter().enumerate() {
        match op % 4 {
            // Remove the oldest bound pod: its node changes.
            0 if !bound.is_empty() => {
                c.remove_pod(bound.remove(0));
                out.push(None);
            }
            // Add a node: the set of nodes changes.
            1 if i % 7 == 0 => {
                c.add_node(&node(&format!("extra{i}")).cpu("4").memory("8Gi").def).unwrap();
                out.push(None);
            }
            _ => {
                let mut def =
                    pod(&format!("p{i}")).cpu(&format!("{}m", cpu)).memory(&format!("{mem}Mi")).image("app:v1").label("app", "web").def;
                // Some pods spread over zones (hard) or hosts (soft): plugins that depend on other pods.
                let spread = |key: &str, when| scheduler_core::TopologySpreadConstraintDef {
                    max_skew: 1,
                    topology_key: key.into(),
                    when_unsatisfiable: when,
                    label_selector: Some(scheduler_core::LabelSelectorDef {
                        match_labels: vec![("app".into(), "web".into())],
                        match_expressions: vec![],
                    }),
                    min_domains: None,
                    node_affinity_policy: None,
                    node_taints_policy: None,
                    match_label_keys: vec![],
                };
                let term = |key: &str| scheduler_core::testing::affinity_term(key, &[("app", "web")]);
                let anti = |mut d: scheduler_core::PodDef, key: &str| {
                    d.pod_anti_affinity = Some(scheduler_core::PodAffinityDef { required: vec![term(key)], preferred: vec![] });
                    d
                };
                match (op / 4) % 5 {
                    1 => {
                        def.topology_spread_constraints =
                            vec![spread("topology.kubernetes.io/zone", scheduler_core::WhenUnsatisfiable::DoNotSchedule)]
                    }
                    2 => {
                        def.topology_spread_constraints =
                            vec![spread("kubernetes.io/hostname", scheduler_core::WhenUnsatisfiable::ScheduleAnyway)]
                    }
                    // Inter-pod affinity: one web pod per host (required), or near other web pods (preferred).
                    3 => def = anti(def, "kubernetes.io/hostname"),
                    4 => {
                        let preferred =
                            scheduler_core::WeightedPodAffinityTermDef { weight: 10, term: term("topology.kubernetes.io/zone") };
                        def.pod_affinity = Some(scheduler_core::PodAffinityDef { required: vec![], preferred: vec![preferred] });
                    }
                    _ => {}
                }
                let p = c.compile_pod(&def).unwrap();
                match s.schedule_one(&c, &p) {
                    Ok(r) => {
                        out.push(Some(name(&c, r.node).to_string()));
                        bound.push(c.add_pod(p, r.node));
                    }
                    Err(e) => out.push(Some(e.to_string())),
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Reusing node-local results never changes a decision.
    #[test]
    fn memo_does_not_change_decisions(
        n_nodes in 1usize..150,
        shapes in prop::collection::vec((any::<u8>(), prop::sample::select(vec![100u32, 500, 1500]), prop::sample::select(vec![200u32, 1000])), 1..25),
        repeats in 1usize..8,
        seed in any::<u64>(),
    ) {
        // Each shape repeated, so that runs of identical pods occur.
        let script: Vec<(u8, u32, u32)> = shapes.iter().flat_map(|&s| std::iter::repeat_n(s, repeats)).collect();
        prop_assert_eq!(memo_decisions(true, n_nodes, &script, seed), memo_decisions(false, n_nodes, &script, seed));
    }
}
