//! Comparing policies: every (policy, seed) run is an independent simulation, run in parallel; the
//! comparison reports each metric's mean and spread over seeds, policies ranked best first.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::SimError;
use crate::metrics::Summary;

/// A metric over seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSpread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl MetricSpread {
    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> MetricSpread {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 { values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        MetricSpread {
            mean,
            std: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One policy's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// The policy.
    pub policy: String,
    /// Each metric over the seeds.
    pub metrics: BTreeMap<String, MetricSpread>,
    /// The runs, in seed order.
    pub runs: Vec<Summary>,
}

/// A comparison of policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The metric ranking the policies.
    pub rank_by: String,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Policies, best first.
    pub rows: Vec<CompareRow>,
}

/// Whether a lower value of `metric` is better (utilisation is the only metric where higher is better).
pub fn lower_is_better(metric: &str) -> bool {
    !metric.starts_with("allocation.")
}

/// The comparable metrics of a summary, by name.
pub fn metrics_of(s: &Summary) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    m.insert("jct.mean".into(), s.jct.mean);
    m.insert("jct.p50".into(), s.jct.p50);
    m.insert("jct.p90".into(), s.jct.p90);
    m.insert("jct.p99".into(), s.jct.p99);
    m.insert("queueing_delay.mean".into(), s.queueing_delay.mean);
    m.insert("queueing_delay.p50".into(), s.queueing_delay.p50);
    m.insert("queueing_delay.p99".into(), s.queueing_delay.p99);
    m.insert("makespan".into(), s.makespan_seconds);
    for (r, v) in &s.allocation {
        m.insert(format!("allocation.{r}"), *v);
    }
    m.insert("pending.peak".into(), s.pending.peak as f64);
    m.insert("pending.mean".into(), s.pending.mean);
    m.insert("pods.pending_at_end".into(), s.pods.pending_at_end as f64);
    m.insert("attempts.total".into(), s.attempts.total as f64);
    m.insert("attempts.unschedulable".into(), s.attempts.unschedulable as f64);
    m
}

/// Runs `run(policy_index, seed)` for every policy and seed, in parallel, and ranks the policies by
/// `rank_by` (a metric name; `None`: `jct.mean`, or `queueing_delay.mean` when no job finished). `done` is
/// called after each run. The result does not depend on the order in which the runs finish.
pub fn compare<F>(
    policies: &[String],
    seeds: &[u64],
    rank_by: Option<&str>,
    run: F,
    done: &(dyn Fn() + Sync),
) -> Result<Comparison, SimError>
where
    F: Fn(usize, u64) -> Result<Summary, SimError> + Sync,
{
    let jobs: Vec<(usize, u64)> = (0..policies.len()).flat_map(|p| seeds.iter().map(move |&s| (p, s))).collect();
    let results: Vec<Result<Summary, SimError>> = jobs
        .par_iter()
        .map(|&(p, seed)| {
            let r = run(p, seed);
            done();
            r
        })
        .collect();
    let mut runs: Vec<Vec<Summary>> = vec![Vec::new(); policies.len()];
    for ((p, _), r) in jobs.iter().zip(results) {
        runs[*p].push(r?);
    }
    let any_jobs = runs.iter().flatten().any(|s| s.jct.count > 0);
    let rank_by = rank_by.map(str::to_string).unwrap_or_else(|| if any_jobs { "jct.mean".into() } else { "queueing_delay.mean".into() });
    let mut rows: Vec<CompareRow> = policies
        .iter()
        .zip(runs)
        .map(|(policy, runs)| {
            let per_seed: Vec<BTreeMap<String, f64>> = runs.iter().map(metrics_of).collect();
            let mut names: Vec<&String> = per_seed.iter().flat_map(|m| m.keys()).collect();
            names.sort();
            names.dedup();
            let metrics = names
                .into_iter()
                .map(|name| {
                    let values: Vec<f64> = per_seed.iter().map(|m| m.get(name).copied().unwrap_or(0.0)).collect();
                    (name.clone(), MetricSpread::of(&values))
                })
                .collect();
            CompareRow { policy: policy.clone(), metrics, runs }
        })
        .collect();
    let key = |r: &CompareRow| r.metrics.get(&rank_by).map_or(f64::NAN, |m| m.mean);
    let lower = lower_is_better(&rank_by);
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let ord = if lower { ka.total_cmp(&kb) } else { kb.total_cmp(&ka) };
        ord.then_with(|| a.policy.cmp(&b.policy))
    });
    Ok(Comparison { rank_by, seeds: seeds.to_vec(), rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_values() {
        let s = MetricSpread::of(&[1.0, 2.0, 3.0]);
        assert_eq!((s.mean, s.std, s.min, s.max), (2.0, 1.0, 1.0, 3.0));
        assert_eq!(MetricSpread::of(&[5.0]).std, 0.0);
    }
}
