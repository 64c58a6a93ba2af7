//! The evaluation of Weng et al. ("Beware of Fragmentation", USENIX ATC 2023, §6.1): GPU allocation and
//! fragmentation as a function of arrived GPU demand.
//!
//! The workload's pods are taken without their times: shuffled (seeded), then pods drawn uniformly from the
//! workload (with replacement) are appended until the requested milli-GPU reach `target_percent` of the
//! cluster's GPU capacity, within one smallest GPU request (a workload that asks for more loses pods drawn at
//! random until it is within it), as the authors' simulator tunes workloads. They arrive one by one and never leave; a pod that does
//! not fit is not tried again (with nothing leaving, it never would fit). After each arrival the GPU
//! allocation (allocated / capacity), the fragmentation (`scheduler_core::fragmentation`, against the
//! workload's typical pods) as a share of capacity and of idle GPUs are measured; a row per whole percent
//! of arrived demand averages the arrivals whose demand rounds to it, as the authors' analysis scripts do
//! (`merge_alloc_discrete`), using the neighbouring percents when none does.

use std::collections::HashMap;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use scheduler_core::fragmentation::{Fragmentation, TypicalPods, capacity_milli};
use scheduler_core::{Cluster, Pod, PodDef, Registry, ScheduleError, Scheduler, SchedulerConfig, TieBreak};
use serde::{Deserialize, Serialize};
use traces::{WorkloadItem, WorkloadStream};

use crate::engine::SimError;

/// How a demand sweep runs.
#[derive(Clone, Debug)]
pub struct DemandOptions {
    /// Label of the policy or configuration.
    pub policy: String,
    /// Seed of the shuffle, the resampling and the scheduler.
    pub seed: u64,
    /// Arrived GPU demand to reach, percent of the cluster's GPU capacity (the paper: 130).
    pub target_percent: u32,
    /// How the scheduler breaks ties between the best nodes.
    pub tie_break: TieBreak,
}

/// The pods of a workload, as a sweep draws them.
#[derive(Clone, Debug)]
pub struct DemandPool {
    /// Pod names and specs in workload order (each DAG task instance once).
    pub pods: Vec<(Arc<str>, Arc<PodDef>)>,
    /// Workload items that are not pods (node events), left out.
    pub skipped_node_events: u64,
}

impl DemandPool {
    /// Reads every pod of `workload` (a DAG task counts once per instance; node events are left out and
    /// counted).
    pub fn read(workload: WorkloadStream) -> Result<DemandPool, SimError> {
        let mut pods = Vec::new();
        let mut skipped_node_events = 0;
        for item in workload {
            match item? {
                WorkloadItem::Pod(p) => pods.push((p.name.into(), p.spec)),
                WorkloadItem::Dag(job) => {
                    for task in &job.tasks {
                        for i in 0..task.instances {
                            pods.push((format!("{}-{}-{i}", job.name, task.name).into(), task.spec.clone()));
                        }
                    }
                }
                WorkloadItem::Node(_) => skipped_node_events += 1,
            }
        }
        Ok(DemandPool { pods, skipped_node_events })
    }

    /// The typical pods of the workload, compiled against `cluster` (whose interner it extends).
    pub fn typical_pods(&self, cluster: &mut Cluster) -> Result<TypicalPods, SimError> {
        let compiled = self.compile(cluster)?;
        Ok(TypicalPods::from_pods(&compiled))
    }

    fn compile(&self, cluster: &mut Cluster) -> Result<Vec<Pod>, SimError> {
        let mut compiled: Vec<Pod> = Vec::with_capacity(self.pods.len());
        // Rows of one shape share a spec: each spec is compiled once, then named.
        let mut by_spec: HashMap<*const PodDef, usize> = HashMap::default();
        for (name, spec) in &self.pods {
            let mut pod = match by_spec.get(&Arc::as_ptr(spec)) {
                Some(&idx) => compiled[idx].clone(),
                None => {
                    let mut def = (**spec).clone();
                    def.name = name.to_string();
                    let pod = cluster.compile_pod(&def).map_err(|source| SimError::Pod { name: name.to_string(), source })?;
                    by_spec.insert(Arc::as_ptr(spec), compiled.len());
                    pod
                }
            };
            pod.name = name.as_ref().into();
            pod.uid = format!("{}/{name}", cluster.interner().resolve(pod.namespace)).into();
            compiled.push(pod);
        }
        Ok(compiled)
    }
}

/// The metrics of one percent of arrived demand.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DemandRow {
    /// Arrived GPU demand, percent of capacity.
    pub arrived_percent: u32,
    /// Arrivals averaged (0: the row borrows its neighbours').
    pub arrivals: u32,
    /// Allocated milli-GPU / capacity, percent.
    pub gpu_allocation: f64,
    /// Fragmented milli-GPU / capacity, percent.
    pub gpu_fragmentation: f64,
    /// Fragmented / idle milli-GPU, percent.
    pub gpu_fragmentation_ratio: f64,
    /// Pods that did not fit so far (at the last arrival averaged).
    pub pods_failed: u64,
}

/// A sweep's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemandResult {
    /// The policy.
    pub policy: String,
    /// The seed.
    pub seed: u64,
    /// The cluster's GPU capacity, milli-GPU.
    pub capacity_milli: i64,
    /// Pods that arrived.
    pub pods_arrived: u64,
    /// Pods that did not fit.
    pub pods_failed: u64,
    /// Milli-GPU the arrived pods asked for.
    pub arrived_milli: i64,
    /// One row per percent of arrived demand, 0 to the target.
    pub rows: Vec<DemandRow>,
}

impl DemandResult {
    /// The row at the target percent (the paper's headline number).
    pub fn at_target(&self) -> Option<&DemandRow> {
        self.rows.last()
    }
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    n: u32,
    allocation: f64,
    fragmentation: f64,
    ratio: f64,
    failed: u64,
}

/// Runs the sweep of `pool` on `cluster` with the scheduler of `config`.
pub fn sweep(
    mut cluster: Cluster,
    config: &SchedulerConfig,
    registry: &Registry,
    pool: &DemandPool,
    typical: &TypicalPods,
    opts: &DemandOptions,
) -> Result<DemandResult, SimError> {
    let mut scheduler = Scheduler::from_config(config, registry, &mut cluster, opts.seed)?;
    scheduler.set_tie_break(opts.tie_break);
    scheduler.set_failure_reasons(false);
    let compiled = pool.compile(&mut cluster)?;
    let capacity: i64 = cluster.node_order().iter().map(|&n| capacity_milli(&cluster.node(n).node)).sum();
    let target = capacity as f64 * f64::from(opts.target_percent) / 100.0;

    // The arrival order: the workload shuffled, then resampled pods until the target.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
    let mut order: Vec<usize> = (0..compiled.len()).collect();
    order.shuffle(&mut rng);
    let mut planned: i64 = order.iter().map(|&i| compiled[i].gpu.total_milli()).sum();
    // More than the target: pods drawn at random leave the list until it is within the target.
    while planned as f64 > target && !order.is_empty() {
        let idx = rng.random_range(0..order.len());
        planned -= compiled[order.remove(idx)].gpu.total_milli();
    }
    // Fewer: pods drawn at random join until the next would pass the target. A draw that would pass it is
    // put back while there is still room for the smallest request, so that the demand ends within one
    // smallest pod of the target whatever the sizes of the pods and of the cluster.
    let smallest = compiled.iter().map(|p| p.gpu.total_milli()).filter(|&m| m > 0).min();
    if let Some(smallest) = smallest {
        loop {
            let idx = rng.random_range(0..compiled.len());
            let milli = compiled[idx].gpu.total_milli();
            if (planned + milli) as f64 > target {
                if target - (planned as f64) < smallest as f64 {
                    break;
                }
                continue;
            }
            planned += milli;
            order.push(idx);
        }
    }

    let mut node_frag: Vec<Fragmentation> = vec![Fragmentation::default(); cluster.node_capacity()];
    let mut total = Fragmentation::default();
    for &n in cluster.node_order() {
        let f = typical.of_node(cluster.node(n), cluster.interner());
        node_frag[n.index()] = f;
        total.add(f);
    }
    let n_buckets = opts.target_percent as usize + 2;
    let mut buckets = vec![Bucket::default(); n_buckets];
    let (mut arrived, mut allocated, mut failed) = (0i64, 0i64, 0u64);
    let percent = |milli: i64| if capacity > 0 { 100.0 * milli as f64 / capacity as f64 } else { 0.0 };
    for &idx in &order {
        let pod = &compiled[idx];
        arrived += pod.gpu.total_milli();
        match scheduler.schedule_one(&cluster, pod) {
            Ok(decision) => {
                let mut placed = pod.clone();
                placed.gpus = decision.gpus;
                cluster.add_pod(placed, decision.node);
                allocated += pod.gpu.total_milli();
                let f = typical.of_node(cluster.node(decision.node), cluster.interner());
                total.sub(node_frag[decision.node.index()]);
                total.add(f);
                node_frag[decision.node.index()] = f;
            }
            Err(ScheduleError::Internal(message)) => {
                return Err(SimError::Job { name: pod.name.to_string(), message: format!("scheduling failed: {message}") });
            }
            Err(_) => failed += 1,
        }
        let bucket = percent(arrived).round() as usize;
        if let Some(b) = buckets.get_mut(bucket) {
            b.n += 1;
            b.allocation += percent(allocated);
            b.fragmentation += percent(total.fragmented.round() as i64);
            b.ratio += total.ratio_percent();
            b.failed = failed;
        }
    }

    let mut rows = Vec::with_capacity(opts.target_percent as usize + 1);
    for x in 0..=opts.target_percent as usize {
        let (from, to) = if buckets[x].n > 0 { (x, x) } else { (x.saturating_sub(1), (x + 1).min(n_buckets - 1)) };
        let sum = buckets[from..=to].iter().fold(Bucket::default(), |mut acc, b| {
            acc.n += b.n;
            acc.allocation += b.allocation;
            acc.fragmentation += b.fragmentation;
            acc.ratio += b.ratio;
            acc.failed = acc.failed.max(b.failed);
            acc
        });
        if sum.n == 0 {
            continue;
        }
        let n = f64::from(sum.n);
        rows.push(DemandRow {
            arrived_percent: x as u32,
            arrivals: buckets[x].n,
            gpu_allocation: sum.allocation / n,
            gpu_fragmentation: sum.fragmentation / n,
            gpu_fragmentation_ratio: sum.ratio / n,
            pods_failed: sum.failed,
        });
    }
    Ok(DemandResult {
        policy: opts.policy.clone(),
        seed: opts.seed,
        capacity_milli: capacity,
        pods_arrived: order.len() as u64,
        pods_failed: failed,
        arrived_milli: arrived,
        rows,
    })
}
