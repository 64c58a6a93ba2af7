//! Metrics aggregated as the simulation runs, in memory independent of the number of pods: log-bucketed
//! histograms for distributions, integrals for time-weighted means.

use std::collections::BTreeMap;

use serde::Serialize;
use traces::Micros;

use crate::time::{SECOND, SimTime};

/// Mantissa bits kept per power of two: relative error below 2^-7 (0.8 %).
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

/// Values kept exactly before a histogram switches to buckets.
const EXACT_LIMIT: usize = 4096;

/// A histogram of non-negative integers: exact for its first 4,096 values, then buckets exact below 128 and
/// of relative width 2^-7 above (the HdrHistogram layout, integer-only so that results are the same on
/// every machine).
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    exact: Vec<u64>,
    counts: Vec<u64>,
    n: u64,
    sum: u128,
    max: u64,
}

fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let m = v >> (e - SUB_BITS);
    ((e - SUB_BITS + 1) as u64 * SUB + (m - SUB)) as usize
}

/// The middle of a bucket.
fn representative(idx: usize) -> u64 {
    let idx = idx as u64;
    if idx < SUB {
        return idx;
    }
    let shift = (idx / SUB - 1) as u32;
    let m = SUB + idx % SUB;
    let low = m << shift;
    low + ((1u64 << shift) >> 1)
}

impl Histogram {
    /// Records `v`.
    pub fn record(&mut self, v: u64) {
        if (self.n as usize) < EXACT_LIMIT {
            self.exact.push(v);
        }
        let b = bucket(v);
        if b >= self.counts.len() {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        self.n += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The value at quantile `q` (0..=1): exact up to 4,096 values, within 0.8 % beyond; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        if self.exact.len() as u64 == self.n {
            let mut sorted = self.exact.clone();
            sorted.sort_unstable();
            return sorted[rank as usize - 1];
        }
        let mut seen = 0;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return representative(idx).min(self.max);
            }
        }
        self.max
    }

    /// Summary statistics, in seconds.
    pub fn distribution(&self) -> Distribution {
        let s = |v: u64| v as f64 / SECOND as f64;
        Distribution {
            count: self.n,
            mean: if self.n == 0 { 0.0 } else { (self.sum / u128::from(self.n)) as f64 / SECOND as f64 },
            p50: s(self.quantile(0.5)),
            p90: s(self.quantile(0.9)),
            p99: s(self.quantile(0.99)),
            max: s(self.max),
        }
    }
}

/// A distribution summary, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Distribution {
    /// Number of values.
    pub count: u64,
    /// Mean (exact, to the microsecond).
    pub mean: f64,
    /// Median (exact up to 4,096 values, within 0.8 % beyond).
    pub p50: f64,
    /// 90th percentile (exact up to 4,096 values, within 0.8 % beyond).
    pub p90: f64,
    /// 99th percentile (exact up to 4,096 values, within 0.8 % beyond).
    pub p99: f64,
    /// Maximum (exact).
    pub max: f64,
}

/// The time integral of a piecewise-constant quantity.
#[derive(Clone, Debug, Default)]
pub struct TimeIntegral {
    area: f64,
    last: SimTime,
}

impl TimeIntegral {
    /// Accumulates `value`, which held since the last call, up to `now`.
    pub fn advance(&mut self, now: SimTime, value: f64) {
        self.area += value * (now.micros() - self.last.micros()) as f64;
        self.last = now;
    }

    /// The mean over [0, `end`].
    pub fn mean(&self, end: SimTime) -> f64 {
        if end.micros() == 0 { 0.0 } else { self.area / end.micros() as f64 }
    }
}

/// Counts of pods by outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PodCounts {
    /// Pods that arrived (recreated pods counted again).
    pub arrived: u64,
    /// Pods placed on a node.
    pub scheduled: u64,
    /// Pods that ran to completion.
    pub finished: u64,
    /// Pods still running when the simulation ended (durations beyond the end, or unknown).
    pub running_at_end: u64,
    /// Pods never placed: still pending at the end.
    pub pending_at_end: u64,
    /// Pods kept out of the queue by scheduling gates.
    pub gated: u64,
    /// Pods lost with a node that failed or left.
    pub lost: u64,
    /// Lost pods created again because they belong to a job.
    pub recreated: u64,
    /// Pods evicted by preemption (after their grace period), including pods of the initial cluster state.
    pub preempted: u64,
}

/// Scheduling attempts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Attempts {
    /// Every attempt.
    pub total: u64,
    /// Attempts that found no node.
    pub unschedulable: u64,
    /// Attempts that failed with a plugin error.
    pub errors: u64,
}

/// Pending pods over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pending {
    /// Most pods pending at once.
    pub peak: u64,
    /// Time-weighted mean over the run.
    pub mean: f64,
}

/// Everything a run measured. Deterministic: the same inputs and seed give the same summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The policy or configuration run.
    pub policy: String,
    /// The seed.
    pub seed: u64,
    /// Simulated time at the end, seconds.
    pub simulated_seconds: f64,
    /// Completion time of the last job to finish, seconds from the start.
    pub makespan_seconds: f64,
    /// Pods by outcome.
    pub pods: PodCounts,
    /// Jobs that finished.
    pub jobs_finished: u64,
    /// Jobs that had not finished at the end.
    pub jobs_unfinished: u64,
    /// Job completion time: last pod finish − submission (a pod without a job is a job of its own).
    pub jct: Distribution,
    /// Queueing delay: placement − arrival.
    pub queueing_delay: Distribution,
    /// Time-weighted allocated / allocatable, per resource (`cpu`, `memory`, extended resources).
    pub allocation: BTreeMap<String, f64>,
    /// Pending pods.
    pub pending: Pending,
    /// Scheduling attempts.
    pub attempts: Attempts,
    /// Workload rows skipped as bad (`--skip-bad-rows`).
    pub skipped_rows: u64,
    /// Simulation events processed.
    pub events: u64,
}

/// The run's own cost, which varies between runs and is kept apart from [`Summary`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timing {
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// Events per wall-clock second.
    pub events_per_second: f64,
}

impl Timing {
    /// The timing of a run of `events` events that took `wall`.
    pub fn measured(wall: std::time::Duration, events: u64) -> Timing {
        let wall_seconds = wall.as_secs_f64();
        Timing { wall_seconds, events_per_second: if wall_seconds > 0.0 { events as f64 / wall_seconds } else { 0.0 } }
    }
}

/// Helper for jobs: converts microseconds to a histogram value.
pub fn micros_between(from: SimTime, to: SimTime) -> Micros {
    to.micros().saturating_sub(from.micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for v in [1, 2, 3, 4, 100] {
            h.record(v);
        }
        assert_eq!((h.quantile(0.5), h.quantile(1.0), h.quantile(0.0)), (3, 100, 1));
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }

    proptest! {
        #[test]
        fn quantiles_are_within_one_percent(values in prop::collection::vec(0u64..u64::MAX / 2, 1..200), q in 0.0f64..=1.0, bucketed in any::<bool>()) {
            let mut h = Histogram::default();
            for &v in &values {
                h.record(v);
            }
            if bucketed {
                h.exact.clear();
            }
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            let exact = sorted[rank - 1] as f64;
            let got = h.quantile(q) as f64;
            prop_assert!((got - exact).abs() <= exact * 0.008 + 1.0, "q={q} exact={exact} got={got}");
        }
    }
}
