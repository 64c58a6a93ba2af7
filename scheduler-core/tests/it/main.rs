//! The framework's rules (upstream `framework/runtime` and `schedule_one.go`), checked with small plugins
//! that return chosen statuses and scores.

use std::sync::Arc;

use scheduler_core::testing::{node, pod};
use scheduler_core::{
    Cluster, Code, CycleContext, ExtensionPoint, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, Pod, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, QueueSortPlugin, QueuedPodInfo, Registry, ScheduleError, Scheduler, SchedulerConfig, ScorePlugin, StateSlot, Status,
    UnavailablePlugin,
};

/// A plugin whose every extension point is a closure over the node's name.
#[derive(Default)]
struct Probe {
    name: &'static str,
    pre_filter: Option<fn() -> PreFilterResult>,
    filter: Option<fn(&str) -> Status>,
    pre_score: Option<fn() -> Status>,
    score: Option<fn(&str) -> i64>,
}

impl Plugin for Probe {
    fn name(&self) -> &str {
        self.name
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: self.pre_filter.is_some().then(|| self.clone() as Arc<dyn PreFilterPlugin>),
            filter: self.filter.is_some().then(|| self.clone() as Arc<dyn FilterPlugin>),
            pre_score: self.pre_score.is_some().then(|| self.clone() as Arc<dyn PreScorePlugin>),
            score: self.score.is_some().then(|| self.clone() as Arc<dyn ScorePlugin>),
            ..ExtensionPoints::default()
        }
    }
}

impl PreFilterPlugin for Probe {
    fn pre_filter(&self, _: &CycleContext<'_>, _: &Pod, _: &mut StateSlot) -> PreFilterResult {
        (self.pre_filter.unwrap())()
    }
}

impl FilterPlugin for Probe {
    fn filter(&self, _: &CycleContext<'_>, _: &Pod, node: &NodeInfo, _: &StateSlot) -> Status {
        (self.filter.unwrap())(&node.node.name)
    }
}

impl PreScorePlugin for Probe {
    fn pre_score(&self, _: &CycleContext<'_>, _: &Pod, _: &[&NodeInfo], _: &mut StateSlot) -> Status {
        (self.pre_score.unwrap())()
    }
}

impl ScorePlugin for Probe {
    fn score(&self, _: &CycleContext<'_>, _: &Pod, node: &NodeInfo, _: &StateSlot) -> Result<i64, Status> {
        Ok((self.score.unwrap())(&node.node.name))
    }
}

struct Fifo;

impl Plugin for Fifo {
    fn name(&self) -> &str {
        "Fifo"
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { queue_sort: Some(self), ..ExtensionPoints::default() }
    }
}

impl QueueSortPlugin for Fifo {
    fn less(&self, a: &QueuedPodInfo<'_>, b: &QueuedPodInfo<'_>) -> bool {
        a.timestamp < b.timestamp
    }
}

/// A scheduler over nodes a, b, c with the given probes (each enabled through multiPoint, weight 1).
fn setup(probes: Vec<Probe>) -> (Cluster, Scheduler) {
    let mut cluster = Cluster::new();
    for n in ["a", "b", "c"] {
        cluster.add_node(&node(n).cpu("1").def).unwrap();
    }
    let mut registry = Registry::new();
    registry.register("Fifo", |_, _| Ok(Arc::new(Fifo)));
    registry.register_unavailable("Binder", UnavailablePlugin { points: &[ExtensionPoint::Bind], affects_decisions: false, note: "" });
    let mut enabled = String::from("{name: Fifo}, {name: Binder}");
    for p in probes {
        enabled.push_str(&format!(", {{name: {}}}", p.name));
        let p = Arc::new(p);
        registry.register(p.name, move |_, _| Ok(p.clone()));
    }
    let config = SchedulerConfig::from_yaml(&format!(
        "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{{name: '*'}}]\n      enabled: [{enabled}]\n"
    ))
    .unwrap();
    let scheduler = Scheduler::from_config(&config, &registry, &mut cluster, 0).unwrap();
    (cluster, scheduler)
}

fn run(probes: Vec<Probe>) -> Result<String, ScheduleError> {
    let (mut cluster, mut scheduler) = setup(probes);
    let p = cluster.compile_pod(&pod("p").def).unwrap();
    scheduler.schedule_one(&cluster, &p).map(|r| cluster.node(r.node).node.name.to_string())
}

fn fit_message(r: Result<String, ScheduleError>) -> String {
    match r {
        Err(ScheduleError::Unschedulable(fit)) => fit.message(),
        other => panic!("expected a FitError, got {other:?}"),
    }
}

#[test]
fn prefilter_unresolvable_stops_and_becomes_every_nodes_status() {
    let r = run(vec![
        Probe {
            name: "First",
            pre_filter: Some(|| Status::unresolvable("no way").into()),
            filter: Some(|_| Status::success()),
            ..Probe::default()
        },
        Probe { name: "Second", pre_filter: Some(|| panic!("not reached")), filter: Some(|_| Status::success()), ..Probe::default() },
    ]);
    assert_eq!(fit_message(r), "0/3 nodes are available: no way.");
}

#[test]
fn prefilter_unschedulable_lets_later_prefilters_run_and_the_last_one_wins() {
    let r = run(vec![
        Probe {
            name: "First",
            pre_filter: Some(|| Status::unschedulable("first").into()),
            filter: Some(|_| Status::success()),
            ..Probe::default()
        },
        Probe {
            name: "Second",
            pre_filter: Some(|| Status::unschedulable("second").into()),
            filter: Some(|_| Status::success()),
            ..Probe::default()
        },
    ]);
    assert_eq!(fit_message(r), "0/3 nodes are available: second.");
}

#[test]
fn prefilter_skip_skips_the_plugins_filter() {
    let r = run(vec![Probe {
        name: "Skipper",
        pre_filter: Some(|| Status::skip().into()),
        filter: Some(|_| panic!("filter of a skipped plugin ran")),
        ..Probe::default()
    }]);
    assert!(r.is_ok());
}

#[test]
fn prefilter_errors_abort_the_cycle() {
    let r = run(vec![Probe {
        name: "Broken",
        pre_filter: Some(|| Status::error("boom").into()),
        filter: Some(|_| Status::success()),
        ..Probe::default()
    }]);
    assert_eq!(r, Err(ScheduleError::Internal("running PreFilter plugin \"Broken\": boom".into())));
}

#[test]
fn empty_prefilter_intersection_is_unresolvable() {
    let r = run(vec![Probe {
        name: "OnlyA",
        pre_filter: Some(|| PreFilterResult { status: Status::success(), node_names: Some(vec![]) }),
        filter: Some(|_| Status::success()),
        ..Probe::default()
    }]);
    assert_eq!(fit_message(r), "0/3 nodes are available: node(s) didn't satisfy plugin OnlyA.");
}

#[test]
fn first_rejecting_filter_decides_and_reasons_are_counted() {
    let r = run(vec![
        Probe {
            name: "Cpu",
            filter: Some(|n| if n == "c" { Status::success() } else { Status::unschedulable("Insufficient cpu") }),
            ..Probe::default()
        },
        Probe { name: "Never", filter: Some(|_| Status::unresolvable("never")), ..Probe::default() },
    ]);
    assert_eq!(fit_message(r), "0/3 nodes are available: 1 never, 2 Insufficient cpu.");
}

#[test]
fn filter_errors_abort_the_cycle() {
    let r = run(vec![Probe {
        name: "Broken",
        filter: Some(|n| if n == "b" { Status::error("boom") } else { Status::success() }),
        ..Probe::default()
    }]);
    assert_eq!(r, Err(ScheduleError::Internal("running \"Broken\" filter plugin: boom".into())));
}

#[test]
fn without_score_plugins_the_first_feasible_node_wins() {
    let r = run(vec![Probe {
        name: "OnlyBC",
        filter: Some(|n| if n == "a" { Status::unschedulable("no") } else { Status::success() }),
        ..Probe::default()
    }]);
    assert_eq!(r.unwrap(), "b");
}

#[test]
fn highest_weighted_total_wins() {
    let r = run(vec![
        Probe { name: "PreferC", score: Some(|n| if n == "c" { 90 } else { 10 }), ..Probe::default() },
        Probe { name: "PreferB", score: Some(|n| if n == "b" { 60 } else { 0 }), ..Probe::default() },
    ]);
    assert_eq!(r.unwrap(), "c");
}

#[test]
fn prescore_skip_removes_the_plugin_from_the_sum() {
    let r = run(vec![
        Probe { name: "Skipped", pre_score: Some(Status::skip), score: Some(|n| if n == "a" { 100 } else { 0 }), ..Probe::default() },
        Probe { name: "PreferB", score: Some(|n| if n == "b" { 1 } else { 0 }), ..Probe::default() },
    ]);
    assert_eq!(r.unwrap(), "b");
}

#[test]
fn scores_out_of_range_abort_the_cycle() {
    let r = run(vec![Probe { name: "TooHigh", score: Some(|_| 101), ..Probe::default() }]);
    assert_eq!(
        r,
        Err(ScheduleError::Internal(
            "applying score defaultWeights on Score plugins: plugin \"TooHigh\" returns an invalid score 101, it should in the range of [0, 100] after normalizing".into()
        ))
    );
}

#[test]
fn explain_reports_skips_and_every_score() {
    let (mut cluster, mut scheduler) = setup(vec![
        Probe { name: "Skipper", pre_filter: Some(|| Status::skip().into()), filter: Some(|_| Status::success()), ..Probe::default() },
        Probe {
            name: "NotA",
            filter: Some(|n| if n == "a" { Status::unschedulable("not a") } else { Status::success() }),
            ..Probe::default()
        },
        Probe { name: "Score", score: Some(|n| if n == "b" { 40 } else { 70 }), ..Probe::default() },
    ]);
    let p = cluster.compile_pod(&pod("p").def).unwrap();
    let e = scheduler.explain(&cluster, &p, false).unwrap();
    assert_eq!(e.selected.as_deref(), Some("c"));
    assert_eq!(e.pre_filter_skipped, ["Skipper"]);
    let a = &e.nodes[0];
    assert_eq!((a.filter.code, a.filter.plugin.as_str(), a.scores.len()), (Code::Unschedulable, "NotA", 0));
    let b = &e.nodes[1];
    assert_eq!((b.scores[0].raw, b.scores[0].weighted, b.total), (40, 40, 40));
    let all = scheduler.explain(&cluster, &p, true).unwrap();
    assert_eq!((all.nodes[0].total, all.selected.as_deref()), (70, Some("c")));
}
