//! NodeResourcesFit (PreFilter, Filter, PreScore, Score): rejects nodes without room for the pod's requests,
//! and scores nodes by a resource strategy.
//!
//! Filter collects every insufficiency: `Too many pods`, `Insufficient cpu`, `Insufficient memory`,
//! `Insufficient ephemeral-storage`, `Insufficient <scalar>` (extended resources listed in
//! `ignoredResources` or whose domain is in `ignoredResourceGroups` are not checked). The status is
//! `UnschedulableAndUnresolvable` when some request exceeds the node's allocatable outright (preemption
//! cannot help), else `Unschedulable`. Scoring strategies, over the configured resources with their
//! weights, in integer arithmetic: `LeastAllocated` (default) `(cap − req)·100/cap`, `MostAllocated`
//! `req·100/cap`, `RequestedToCapacityRatio` a broken-linear function of utilisation.
//! ```yaml
//! pluginConfig:
//! - name: NodeResourcesFit
//!   args:
//!     ignoredResourceGroups: [example.com]
//!     scoringStrategy:
//!       type: MostAllocated
//!       resources: [{name: cpu, weight: 1}, {name: nvidia.com/gpu, weight: 3}]
//! ```
//! Source: kube-scheduler 1.36 `pkg/scheduler/framework/plugins/noderesources/{fit,least_allocated,
//! most_allocated,requested_to_capacity_ratio,resource_allocation}.go`. Deviation: scalar reasons are
//! listed in a fixed order (upstream iterates a Go map). DRA extended-resource delegation does not apply:
//! simsched models no DeviceClasses.

use std::sync::Arc;

use serde::Deserialize;
use smallvec::SmallVec;

use scheduler_core::{
    Code, ConfigError, CycleContext, Divisor, ExtensionPoints, FilterPlugin, Interner, NodeInfo, Plugin, PluginArgs, Pod, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, Reason, ResourceKind, ScorePlugin, StateSlot, Status, Symbol, is_qualified_name,
};

use super::resource_allocation::{
    PodRequests, Requests, ResourceSpec, ScoringResource, compile_resources, default_resources, validate_weights,
};

/// `NodeResourcesFitArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter does not check.
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    /// Domains (the part before `/`) of extended resources the filter does not check.
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    /// How nodes are scored.
    #[serde(default)]
    pub scoring_strategy: Option<ScoringStrategy>,
}

/// `scoringStrategy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoringStrategy {
    /// `LeastAllocated`, `MostAllocated` or `RequestedToCapacityRatio`.
    #[serde(default, rename = "type")]
    pub strategy: String,
    /// Resources and weights; empty means cpu and memory with weight 1.
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    /// The shape for `RequestedToCapacityRatio`.
    #[serde(default)]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatio>,
}

/// `requestedToCapacityRatio`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedToCapacityRatio {
    /// Points (utilisation 0–100 strictly increasing, score 0–10).
    #[serde(default)]
    pub shape: Vec<ShapePoint>,
}

/// A point of the utilisation→score function.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapePoint {
    /// Utilisation, percent.
    pub utilization: i32,
    /// Score, 0–10.
    pub score: i32,
}

#[derive(Clone, Debug)]
enum Strategy {
    LeastAllocated,
    MostAllocated,
    /// (utilisation, score × 10) points.
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

/// The resource fit filter and scorer.
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    ignored_resources: Vec<Symbol>,
    ignored_groups: Vec<String>,
    resources: Vec<ScoringResource>,
    total_weight: Divisor,
    strategy: Strategy,
}

/// PreFilter state: the scalar requests to check, with their reasons.
#[derive(Clone, Debug, Default)]
struct ScalarChecks(SmallVec<[(Symbol, i64, Reason); 1]>);

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit::new(&PluginArgs::none("NodeResourcesFit"), &mut Interner::new()).expect("default args are valid")
    }
}

impl NodeResourcesFit {
    /// Builds the plugin from its arguments, defaulting and validating them as upstream does.
    pub fn new(args: &PluginArgs<'_>, interner: &mut Interner) -> Result<NodeResourcesFit, ConfigError> {
        let parsed: NodeResourcesFitArgs = args.decode()?;
        let path = args.path();
        for (idx, name) in parsed.ignored_resources.iter().enumerate() {
            if !is_qualified_name(name) {
                return Err(ConfigError::new(
                    format!("{path}.ignoredResources[{idx}]"),
                    format!("Invalid value: {name:?}: must be a qualified name"),
                ));
            }
        }
        for (idx, group) in parsed.ignored_resource_groups.iter().enumerate() {
            if group.contains('/') {
                return Err(ConfigError::new(
                    format!("{path}.ignoredResourceGroups[{idx}]"),
                    format!("Invalid value: {group:?}: resource group name can't contain '/'"),
                ));
            }
            if !is_qualified_name(group) {
                return Err(ConfigError::new(
                    format!("{path}.ignoredResourceGroups[{idx}]"),
                    format!("Invalid value: {group:?}: must be a qualified name"),
                ));
            }
        }
        let mut strategy_args = parsed.scoring_strategy.unwrap_or(ScoringStrategy {
            strategy: "LeastAllocated".into(),
            resources: default_resources(),
            requested_to_capacity_ratio: None,
        });
        if strategy_args.resources.is_empty() {
            strategy_args.resources = default_resources();
        }
        for r in &mut strategy_args.resources {
            if r.weight == 0 {
                r.weight = 1;
            }
        }
        let strategy = match strategy_args.strategy.as_str() {
            "LeastAllocated" => Strategy::LeastAllocated,
            "MostAllocated" => Strategy::MostAllocated,
            "RequestedToCapacityRatio" => {
                let Some(rtcr) = &strategy_args.requested_to_capacity_ratio else {
                    return Err(ConfigError::new(
                        format!("{path}.scoringStrategy.requestedToCapacityRatio"),
                        "Required value: the shape of RequestedToCapacityRatio must be specified",
                    ));
                };
                validate_shape(&rtcr.shape, &format!("{path}.scoringStrategy.shape"))?;
                Strategy::RequestedToCapacityRatio(rtcr.shape.iter().map(|p| (i64::from(p.utilization), i64::from(p.score) * 10)).collect())
            }
            other => {
                return Err(ConfigError::new(
                    format!("{path}.scoringStrategy.type"),
                    format!(
                        "Unsupported value: {other:?}: supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\""
                    ),
                ));
            }
        };
        validate_weights(&strategy_args.resources, &format!("{path}.scoringStrategy.resources"))?;
        if let (Strategy::LeastAllocated | Strategy::MostAllocated, Some(rtcr)) = (&strategy, &strategy_args.requested_to_capacity_ratio) {
            validate_shape(&rtcr.shape, &format!("{path}.scoringStrategy.shape"))?;
        }
        Ok(NodeResourcesFit {
            ignored_resources: parsed.ignored_resources.iter().map(|n| interner.intern(n)).collect(),
            ignored_groups: parsed.ignored_resource_groups,
            resources: compile_resources(&strategy_args.resources, interner),
            total_weight: Divisor::new(strategy_args.resources.iter().map(|r| r.weight).sum()),
            strategy,
        })
    }

    /// Upstream `resourceAllocationScorer.score` with the least- or most-allocated per-resource score `f`:
    /// the weighted mean over resources the node has.
    #[inline(always)]
    fn weighted_mean(&self, node: &NodeInfo, pod_requests: &[i64], f: impl Fn(i64, Divisor) -> i64) -> i64 {
        let mut node_score = 0i64;
        let mut weight_sum = 0i64;
        for (res, &pod_req) in self.resources.iter().zip(pod_requests) {
            let (cap, used) = res.node_amounts_divisor(node, pod_req, Requests::NonZero);
            if cap.get() == 0 {
                continue;
            }
            node_score += f(used.saturating_add(pod_req), cap) * res.weight;
            weight_sum += res.weight;
        }
        if weight_sum == 0 { 0 } else { self.weight_divisor(weight_sum).divide(node_score) }
    }

    /// The sum of all weights as a divisor when every resource counts (the usual case), else a new one.
    #[inline]
    fn weight_divisor(&self, weight_sum: i64) -> Divisor {
        if weight_sum == self.total_weight.get() { self.total_weight } else { Divisor::new(weight_sum) }
    }

    /// Upstream's `RequestedToCapacityRatio` scorer: resources scoring 0 are left out of the mean.
    fn requested_to_capacity_ratio(&self, node: &NodeInfo, pod_requests: &[i64], shape: &[(i64, i64)]) -> i64 {
        let mut node_score = 0i64;
        let mut weight_sum = 0i64;
        for (res, &pod_req) in self.resources.iter().zip(pod_requests) {
            let (cap, used) = res.node_amounts(node, pod_req, Requests::NonZero);
            if cap == 0 {
                continue;
            }
            let req = used.saturating_add(pod_req);
            let utilization = if req > cap { 100 } else { req * 100 / cap };
            let s = broken_linear(shape, utilization);
            if s > 0 {
                node_score += s * res.weight;
                weight_sum += res.weight;
            }
        }
        if weight_sum == 0 { 0 } else { (node_score as f64 / weight_sum as f64).round() as i64 }
    }

    fn node_score(&self, node: &NodeInfo, pod_requests: &[i64]) -> i64 {
        match &self.strategy {
            Strategy::LeastAllocated => self.weighted_mean(node, pod_requests, least_requested_score),
            Strategy::MostAllocated => self.weighted_mean(node, pod_requests, most_requested_score),
            Strategy::RequestedToCapacityRatio(shape) => self.requested_to_capacity_ratio(node, pod_requests, shape),
        }
    }

    fn scalar_checks(&self, cx: &CycleContext<'_>, pod: &Pod) -> ScalarChecks {
        let interner = cx.cluster.interner();
        let mut checks = ScalarChecks::default();
        for (name, q) in pod.requests.scalars.iter() {
            if q == 0 {
                continue;
            }
            let text = interner.resolve(name);
            if ResourceKind::of(text) == Some(ResourceKind::Extended) {
                let group = text.split('/').next().unwrap_or("");
                if self.ignored_resources.contains(&name) || self.ignored_groups.iter().any(|g| g == group) {
                    continue;
                }
            }
            checks.0.push((name, q, Reason::from(format!("Insufficient {text}"))));
        }
        checks
    }
}

/// Upstream `validateFunctionShape`.
fn validate_shape(shape: &[ShapePoint], path: &str) -> Result<(), ConfigError> {
    if shape.is_empty() {
        return Err(ConfigError::new(path, "Required value: at least one point must be specified"));
    }
    for i in 1..shape.len() {
        if shape[i - 1].utilization >= shape[i].utilization {
            return Err(ConfigError::new(
                format!("{path}[{i}].utilization"),
                format!("Invalid value: {}: values must be sorted in increasing order", shape[i].utilization),
            ));
        }
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            return Err(ConfigError::new(
                format!("{path}[{i}].utilization"),
                format!("Invalid value: {}: not in valid range [0, 100]", p.utilization),
            ));
        }
        if !(0..=10).contains(&p.score) {
            return Err(ConfigError::new(format!("{path}[{i}].score"), format!("Invalid value: {}: not in valid range [0, 10]", p.score)));
        }
    }
    Ok(())
}

/// Upstream `leastRequestedScore`.
#[inline]
fn least_requested_score(requested: i64, capacity: Divisor) -> i64 {
    let cap = capacity.get();
    if cap == 0 || requested > cap {
        return 0;
    }
    // requested <= cap <= MAX_AMOUNT: no overflow.
    capacity.divide((cap - requested) * 100)
}

/// Upstream `mostRequestedScore`.
#[inline]
fn most_requested_score(requested: i64, capacity: Divisor) -> i64 {
    let cap = capacity.get();
    if cap == 0 {
        return 0;
    }
    capacity.divide(requested.min(cap) * 100)
}

/// Upstream `helper.BuildBrokenLinearFunction`.
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s;
            }
            let (u0, s0) = shape[i - 1];
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape.last().map_or(0, |&(_, s)| s)
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &str {
        "NodeResourcesFit"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints {
            pre_filter: Some(self.clone()),
            filter: Some(self.clone()),
            pre_score: Some(self.clone()),
            score: Some(self),
            ..ExtensionPoints::default()
        }
    }
}

impl PreFilterPlugin for NodeResourcesFit {
    fn pre_filter(&self, cx: &CycleContext<'_>, pod: &Pod, state: &mut StateSlot) -> PreFilterResult {
        state.put(self.scalar_checks(cx, pod));
        Status::success().into()
    }
}

// Allocatable amounts are at most MAX_AMOUNT and requested sums at most i64::MAX (they saturate), so
// `allocatable - requested` cannot overflow.

/// Whether a pod without scalar requests fits the node's pod slots, cpu, memory and ephemeral storage
/// (the common case, decided without building a status).
#[inline(always)]
fn fits_without_scalars(pod: &Pod, node: &NodeInfo) -> bool {
    let req = &pod.requests;
    let alloc = &node.node.allocatable;
    let used = &node.requested;
    req.scalars.is_empty()
        && (node.n_pods() as i64) < alloc.allowed_pods
        && (req.milli_cpu == 0 || req.milli_cpu <= alloc.milli_cpu - used.milli_cpu)
        && (req.memory == 0 || req.memory <= alloc.memory - used.memory)
        && (req.ephemeral_storage == 0 || req.ephemeral_storage <= alloc.ephemeral_storage - used.ephemeral_storage)
}

impl FilterPlugin for NodeResourcesFit {
    /// The verdict reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn filter_nodes(&self, cx: &CycleContext<'_>, pod: &Pod, nodes: &[&NodeInfo], state: &StateSlot, rejected: &mut Vec<(u32, Status)>) {
        let fallback;
        let checks = match state.get::<ScalarChecks>() {
            Some(c) => c,
            None if pod.requests.scalars.is_empty() => &ScalarChecks::default(),
            None => {
                fallback = self.scalar_checks(cx, pod);
                &fallback
            }
        };
        for (idx, node) in nodes.iter().enumerate() {
            if fits_without_scalars(pod, node) {
                continue;
            }
            let status = fit_status(cx, pod, node, checks);
            if !status.is_success() {
                rejected.push((idx as u32, status));
            }
        }
    }

    fn filter(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Status {
        match state.get::<ScalarChecks>() {
            Some(checks) => fit_status(cx, pod, node, checks),
            None => fit_status(cx, pod, node, &self.scalar_checks(cx, pod)),
        }
    }
}

/// Upstream `fitsRequest`: whether `node` has room for `pod`'s requests, with the extended resources of
/// `checks`.
fn fit_status(cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, checks: &ScalarChecks) -> Status {
    let req = &pod.requests;
    let alloc = &node.node.allocatable;
    let used = &node.requested;
    let mut status = Status::success();
    let mut unresolvable = false;
    let with_reasons = cx.failure_reasons;
    let mut reject = |status: &mut Status, reason: &Reason, over_capacity: bool| {
        if status.is_success() {
            *status = Status::code_only(Code::Unschedulable);
        }
        if with_reasons {
            status.push_reason(reason.clone());
        }
        unresolvable |= over_capacity;
    };
    if node.n_pods() as i64 + 1 > alloc.allowed_pods {
        reject(&mut status, &Reason::Static("Too many pods"), false);
    }
    if req.milli_cpu == 0 && req.memory == 0 && req.ephemeral_storage == 0 && req.scalars.is_empty() {
        return status;
    }
    if req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        reject(&mut status, &Reason::Static("Insufficient cpu"), req.milli_cpu > alloc.milli_cpu);
    }
    if req.memory > 0 && req.memory > alloc.memory - used.memory {
        reject(&mut status, &Reason::Static("Insufficient memory"), req.memory > alloc.memory);
    }
    if req.ephemeral_storage > 0 && req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage {
        reject(&mut status, &Reason::Static("Insufficient ephemeral-storage"), req.ephemeral_storage > alloc.ephemeral_storage);
    }
    for (name, q, reason) in &checks.0 {
        let cap = alloc.scalars.get(*name);
        if *q > cap - used.scalars.get(*name) {
            reject(&mut status, reason, *q > cap);
        }
    }
    if unresolvable { status.with_code(Code::UnschedulableAndUnresolvable) } else { status }
}

impl PreScorePlugin for NodeResourcesFit {
    fn pre_score(&self, _cx: &CycleContext<'_>, pod: &Pod, _nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        state.put(PodRequests::of(&self.resources, pod, Requests::NonZero));
        Status::success()
    }
}

impl ScorePlugin for NodeResourcesFit {
    /// The score reads only the pod and this node.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        Ok(self.node_score(node, &PodRequests::from_state(state, &self.resources, pod, Requests::NonZero).0))
    }

    fn score_nodes(
        &self,
        _cx: &CycleContext<'_>,
        pod: &Pod,
        nodes: &[&NodeInfo],
        state: &StateSlot,
        out: &mut [i64],
    ) -> Result<(), Status> {
        let reqs = PodRequests::from_state(state, &self.resources, pod, Requests::NonZero).0;
        let scored = nodes.iter().zip(out.iter_mut());
        // One loop per strategy, so that the per-resource score inlines.
        match &self.strategy {
            Strategy::LeastAllocated => scored.for_each(|(node, score)| *score = self.weighted_mean(node, &reqs, least_requested_score)),
            Strategy::MostAllocated => scored.for_each(|(node, score)| *score = self.weighted_mean(node, &reqs, most_requested_score)),
            Strategy::RequestedToCapacityRatio(shape) => {
                scored.for_each(|(node, score)| *score = self.requested_to_capacity_ratio(node, &reqs, shape))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use proptest::prelude::*;
    use scheduler_core::testing::{NodeBuilder, PodBuilder, node, pod};

    /// Arguments as JSON; the plugin is built against the world's interner when the test runs.
    type Args = &'static str;

    fn build(w: &mut World, args: Args) -> Arc<NodeResourcesFit> {
        let value: serde_json::Value = serde_json::from_str(args).unwrap();
        Arc::new(NodeResourcesFit::new(&PluginArgs::new("NodeResourcesFit", Some(&value), "args"), w.cluster.interner_mut()).unwrap())
    }

    fn args_error(args: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(args).unwrap();
        NodeResourcesFit::new(&PluginArgs::new("NodeResourcesFit", Some(&value), "args"), &mut Interner::new()).unwrap_err().to_string()
    }

    /// Filter verdict of `p` on a node `n` already running `running`.
    fn check(n: NodeBuilder, running: &[PodBuilder], p: PodBuilder, want: Status) {
        check_with("{}", n, running, p, want);
    }

    fn check_with(args: Args, n: NodeBuilder, running: &[PodBuilder], p: PodBuilder, want: Status) {
        let mut w = World::new(vec![n]);
        let pl = build(&mut w, args);
        for r in running {
            w.run(0, r.clone());
        }
        let p = w.pod(p);
        assert_eq!(w.filter(pl, &p)[0], want);
    }

    fn unsched(reasons: &[&'static str]) -> Status {
        Status::with_reasons(Code::Unschedulable, reasons.iter().map(|&r| Reason::Static(r)))
    }

    fn unresolvable(reasons: &[&'static str]) -> Status {
        Status::with_reasons(Code::UnschedulableAndUnresolvable, reasons.iter().map(|&r| Reason::Static(r)))
    }

    #[test]
    fn fits_when_there_is_room() {
        check(node("n").cpu("4").memory("8Gi"), &[pod("r").cpu("3")], pod("p").cpu("1").memory("8Gi"), Status::success());
    }

    #[test]
    fn insufficient_cpu_and_memory_are_both_reported() {
        check(
            node("n").cpu("4").memory("8Gi"),
            &[pod("r").cpu("3").memory("7Gi")],
            pod("p").cpu("2").memory("2Gi"),
            unsched(&["Insufficient cpu", "Insufficient memory"]),
        );
    }

    #[test]
    fn a_request_above_allocatable_is_unresolvable() {
        check(node("n").cpu("4").memory("8Gi"), &[], pod("p").cpu("5"), unresolvable(&["Insufficient cpu"]));
        check(
            node("n").cpu("4").memory("8Gi"),
            &[pod("r").memory("1Gi")],
            pod("p").cpu("5").memory("8Gi"),
            unresolvable(&["Insufficient cpu", "Insufficient memory"]),
        );
    }

    #[test]
    fn too_many_pods_is_checked_even_for_empty_requests_and_never_unresolvable() {
        check(node("n").cpu("4").pods(1), &[pod("r")], pod("p"), unsched(&["Too many pods"]));
        check(node("n").cpu("4").pods(1), &[pod("r")], pod("p").cpu("5"), unresolvable(&["Too many pods", "Insufficient cpu"]));
    }

    #[test]
    fn extended_resources_and_ignored_ones() {
        let gpu_node = || node("n").cpu("4").allocatable("example.com/gpu", "2");
        check(
            gpu_node(),
            &[pod("r").request("example.com/gpu", "2")],
            pod("p").request("example.com/gpu", "1"),
            unsched(&["Insufficient example.com/gpu"]),
        );
        check(node("n").cpu("4"), &[], pod("p").request("example.com/gpu", "1"), unresolvable(&["Insufficient example.com/gpu"]));
        check_with(
            r#"{"ignoredResources": ["example.com/gpu"]}"#,
            node("n").cpu("4"),
            &[],
            pod("p").request("example.com/gpu", "1"),
            Status::success(),
        );
        check_with(
            r#"{"ignoredResourceGroups": ["example.com"]}"#,
            node("n").cpu("4"),
            &[],
            pod("p").request("example.com/gpu", "1"),
            Status::success(),
        );
        // Hugepages are scalar but not extended: never ignored.
        check_with(
            r#"{"ignoredResourceGroups": ["hugepages-2Mi"]}"#,
            node("n").cpu("4"),
            &[],
            pod("p").request("hugepages-2Mi", "2Mi"),
            unresolvable(&["Insufficient hugepages-2Mi"]),
        );
    }

    #[test]
    fn ephemeral_storage() {
        check(
            node("n").allocatable("ephemeral-storage", "10Gi"),
            &[pod("r").request("ephemeral-storage", "8Gi")],
            pod("p").request("ephemeral-storage", "4Gi"),
            unsched(&["Insufficient ephemeral-storage"]),
        );
    }

    fn scores(args: Args, nodes: Vec<NodeBuilder>, running: &[(usize, PodBuilder)], p: PodBuilder) -> Vec<i64> {
        let mut w = World::new(nodes);
        let pl = build(&mut w, args);
        for (idx, r) in running {
            w.run(*idx, r.clone());
        }
        let p = w.pod(p);
        w.score(pl, &p).unwrap().1
    }

    #[test]
    fn spec_example_least_allocated_62_most_allocated_37() {
        // alloc 4000m/8Gi, NonZeroRequested 1000m/2Gi, pod 500m/1Gi.
        let n = || vec![node("n").cpu("4").memory("8Gi")];
        let running = [(0, pod("r").cpu("1").memory("2Gi"))];
        let p = || pod("p").cpu("500m").memory("1Gi");
        assert_eq!(scores("{}", n(), &running, p()), [62]);
        assert_eq!(scores(r#"{"scoringStrategy": {"type": "MostAllocated"}}"#, n(), &running, p()), [37]);
    }

    #[test]
    fn missing_requests_count_as_100m_and_200mi_for_scoring() {
        // Node 1000m / 1000Mi; pod without requests counts as 100m/200Mi: cpu 90, memory 80 ⇒ 85.
        assert_eq!(scores("{}", vec![node("n").cpu("1").memory("1000Mi")], &[], pod("p").container(&[])), [85]);
    }

    #[test]
    fn weights_and_scalar_resources() {
        let pl = r#"{"scoringStrategy": {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "example.com/gpu", "weight": 3}]}}"#;
        // cpu: (4000-1000)*100/4000 = 75; gpu: (4-2)*100/4 = 50; (75 + 150) / 4 = 56.
        assert_eq!(
            scores(
                pl,
                vec![node("n").cpu("4").allocatable("example.com/gpu", "4")],
                &[],
                pod("p").cpu("1").request("example.com/gpu", "2")
            ),
            [56]
        );
        // A pod without the scalar skips it: cpu only ⇒ 75.
        assert_eq!(scores(pl, vec![node("n").cpu("4").allocatable("example.com/gpu", "4")], &[], pod("p").cpu("1")), [75]);
        // A node without the scalar skips it too.
        assert_eq!(scores(pl, vec![node("n").cpu("4")], &[], pod("p").cpu("1").request("example.com/gpu", "2")), [75]);
    }

    #[test]
    fn requested_to_capacity_ratio() {
        let pl = r#"{"scoringStrategy": {"type": "RequestedToCapacityRatio", "resources": [{"name": "cpu"}, {"name": "memory"}],
            "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}}"#;
        // cpu 50% ⇒ 50; memory 25% ⇒ 25; round(75/2) = 38.
        assert_eq!(scores(pl, vec![node("n").cpu("4").memory("8Gi")], &[], pod("p").cpu("2").memory("2Gi")), [38]);
        // A zero-score resource is left out of the average: cpu 0% (pod asks 0 cpu) ⇒ memory only, 25.
        assert_eq!(scores(pl, vec![node("n").cpu("4").memory("8Gi")], &[], pod("p").cpu("0").memory("2Gi")), [25]);
    }

    #[test]
    fn broken_linear_function() {
        let shape = [(10, 100), (50, 40), (90, 80)];
        let f = |p| broken_linear(&shape, p);
        assert_eq!((f(0), f(10), f(30), f(50), f(70), f(90), f(100)), (100, 100, 70, 40, 60, 80, 80));
        assert_eq!(broken_linear(&[(0, 100), (100, 0)], 33), 67);
    }

    #[test]
    fn args_are_validated_with_upstream_messages() {
        assert_eq!(
            args_error(r#"{"scoringStrategy": {"type": "Fancy"}}"#),
            "args.scoringStrategy.type: Unsupported value: \"Fancy\": supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\""
        );
        assert_eq!(
            args_error(r#"{"scoringStrategy": {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 101}]}}"#),
            "args.scoringStrategy.resources[0].weight: Invalid value: 101: resource weight of cpu not in valid range (0, 100]"
        );
        assert_eq!(
            args_error(r#"{"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": []}}}"#),
            "args.scoringStrategy.shape: Required value: at least one point must be specified"
        );
        assert_eq!(
            args_error(
                r#"{"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [{"utilization": 50, "score": 1}, {"utilization": 50, "score": 2}]}}}"#
            ),
            "args.scoringStrategy.shape[1].utilization: Invalid value: 50: values must be sorted in increasing order"
        );
        assert_eq!(
            args_error(
                r#"{"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 11}]}}}"#
            ),
            "args.scoringStrategy.shape[0].score: Invalid value: 11: not in valid range [0, 10]"
        );
        assert_eq!(
            args_error(r#"{"ignoredResourceGroups": ["example.com/x"]}"#),
            "args.ignoredResourceGroups[0]: Invalid value: \"example.com/x\": resource group name can't contain '/'"
        );
        let unknown = args_error(r#"{"scoringStrategy": {"kind": "x"}}"#);
        assert!(unknown.starts_with("args.scoringStrategy.kind: unknown field `kind`"), "{unknown}");
        assert_eq!(
            args_error(r#"{"kind": "NodeAffinityArgs"}"#),
            "args.kind: args for plugin NodeResourcesFit were not of type NodeResourcesFitArgs, got \"NodeAffinityArgs\""
        );
    }

    proptest! {
        /// A node that passes the filter has room for the pod on every resource it checks.
        #[test]
        fn a_passing_node_has_room(
            alloc_cpu in 0i64..8000, alloc_mem in 0i64..16_000, used_cpu in 0i64..8000, used_mem in 0i64..16_000,
            req_cpu in 0i64..8000, req_mem in 0i64..16_000, pods in 0u32..3, running in 0usize..3,
        ) {
            let mut w = World::new(vec![node("n").cpu(&format!("{alloc_cpu}m")).memory(&format!("{alloc_mem}Mi")).pods(pods)]);
            for i in 0..running {
                let share = |v: i64| v / running as i64 + i64::from(i == 0) * (v % running as i64);
                w.run(0, pod(&format!("r{i}")).cpu(&format!("{}m", share(used_cpu))).memory(&format!("{}Mi", share(used_mem))));
            }
            let p = w.pod(pod("p").cpu(&format!("{req_cpu}m")).memory(&format!("{req_mem}Mi")));
            let verdict = w.filter(Arc::new(NodeResourcesFit::default()), &p)[0].clone();
            let info = w.cluster.node(w.nodes[0]);
            let room = info.n_pods() < pods as usize
                && (req_cpu == 0 || info.requested.milli_cpu + req_cpu <= alloc_cpu)
                && (req_mem == 0 || info.requested.memory + req_mem * (1 << 20) <= alloc_mem * (1 << 20));
            prop_assert_eq!(verdict.is_success(), room);
        }

        /// Every strategy's score stays in 0..=100.
        #[test]
        fn scores_stay_in_range(cap in 1i64..10_000, used in 0i64..20_000, req in 0i64..20_000, most in any::<bool>()) {
            let pl = if most { r#"{"scoringStrategy": {"type": "MostAllocated"}}"# } else { "{}" };
            let s = scores(pl, vec![node("n").cpu(&format!("{cap}m")).memory("1Gi")], &[(0, pod("r").cpu(&format!("{used}m")))], pod("p").cpu(&format!("{req}m")));
            prop_assert!((0..=100).contains(&s[0]), "{}", s[0]);
        }
    }
}
