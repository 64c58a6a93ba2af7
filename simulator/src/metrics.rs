//! Metrics aggregated as the simulation runs, in memory independent of the number of pods: log-bucketed
//! histograms for distributions, integrals for time-weighted means.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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

    /// The values at the quantiles `qs` (each as [`Histogram::quantile`] gives it), sorting once.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<u64> {
        let rank = |q: f64| ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        if self.n == 0 {
            return vec![0; qs.len()];
        }
        if self.exact.len() as u64 == self.n {
            let mut sorted = self.exact.clone();
            sorted.sort_unstable();
            return qs.iter().map(|&q| sorted[rank(q) as usize - 1]).collect();
        }
        qs.iter().map(|&q| self.quantile(q)).collect()
    }

    /// Summary statistics, in seconds.
    pub fn distribution(&self) -> Distribution {
        let s = |v: u64| v as f64 / SECOND as f64;
        // Every percent at once (one sort); p50, p90 and p99 are among them (k / 100 is the literal 0.k).
        let levels: Vec<f64> = (0..=100).map(|p| f64::from(p) / 100.0).collect();
        let percentiles: Vec<f64> = self.quantiles(&levels).into_iter().map(s).collect();
        Distribution {
            count: self.n,
            mean: if self.n == 0 { 0.0 } else { (self.sum / u128::from(self.n)) as f64 / SECOND as f64 },
            p50: percentiles[50],
            p90: percentiles[90],
            p99: percentiles[99],
            max: s(self.max),
            percentiles: if self.n == 0 { Vec::new() } else { percentiles },
        }
    }
}

/// A distribution summary, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// The values at 0 %, 1 %, …, 100 % (101 of them, as precise as the percentiles above; none when
    /// nothing was measured): the distribution function, for charts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percentiles: Vec<f64>,
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempts {
    /// Every attempt.
    pub total: u64,
    /// Attempts that found no node.
    pub unschedulable: u64,
    /// Attempts that failed with a plugin error.
    pub errors: u64,
}

/// Pending pods over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Most pods pending at once.
    pub peak: u64,
    /// Time-weighted mean over the run.
    pub mean: f64,
}

/// Everything a run measured. Deterministic: the same inputs and seed give the same summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// The cluster over simulated time, at most 1,024 points (none without time-series samples).
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub timeline: Timeline,
}

/// Points kept by a [`Timeline`] before it halves them.
const TIMELINE_POINTS: usize = 1024;

/// The cluster over simulated time, for charts: the time-series samples averaged over windows of 2^k samples,
/// k the smallest that keeps at most 1,024 points. Memory is bounded whatever the length of the run; the
/// same samples give the same points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Samples averaged per point (a power of two; the last point may have fewer).
    pub samples_per_point: u64,
    /// Mean time of each point's samples, seconds.
    pub time: Vec<f64>,
    /// Mean pending pods.
    pub pending: Vec<f64>,
    /// Mean running pods.
    pub running: Vec<f64>,
    /// Mean allocated / allocatable, per resource with capacity at the first sample.
    pub allocation: BTreeMap<String, Vec<f64>>,
    /// Mean GPU capacity fragmented for the workload's typical pods, as a fraction of GPU capacity (runs
    /// that measure it only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_fragmentation: Vec<f64>,
    /// The samples of the point being filled: their count and sums, in the order time, pending, running,
    /// allocation per resource, fragmentation.
    #[serde(skip)]
    partial: (u64, Vec<f64>),
}

impl Timeline {
    /// A timeline of the allocation of these resources (whose samples [`Timeline::push`] takes in name
    /// order), measuring fragmentation or not.
    pub fn new(resources: &[String], fragmentation: bool) -> Timeline {
        Timeline {
            samples_per_point: 1,
            allocation: resources.iter().map(|r| (r.clone(), Vec::new())).collect(),
            gpu_fragmentation: Vec::new(),
            partial: (0, vec![0.0; 3 + resources.len() + usize::from(fragmentation)]),
            ..Timeline::default()
        }
    }

    /// No points.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty() && self.partial.0 == 0
    }

    /// Adds a sample: `values` are time (seconds), pending, running, the allocation of each resource in
    /// name order, then the fragmentation if measured.
    pub fn push(&mut self, values: &[f64]) {
        let (n, sums) = &mut self.partial;
        for (sum, v) in sums.iter_mut().zip(values) {
            *sum += v;
        }
        *n += 1;
        if *n == self.samples_per_point {
            self.close_point();
        }
        if self.time.len() == TIMELINE_POINTS {
            self.halve();
        }
    }

    /// Closes the last, partial point (a run ended) and rounds every value to six decimals (what a chart
    /// can show, and short in JSON).
    pub fn finish(&mut self) {
        if self.partial.0 > 0 {
            self.close_point();
        }
        let round = |series: &mut Vec<f64>| series.iter_mut().for_each(|v| *v = (*v * 1e6).round() / 1e6);
        round(&mut self.time);
        round(&mut self.pending);
        round(&mut self.running);
        self.allocation.values_mut().for_each(round);
        round(&mut self.gpu_fragmentation);
    }

    fn close_point(&mut self) {
        let (n, sums) = &mut self.partial;
        let mean: Vec<f64> = sums.iter().map(|s| *s / *n as f64).collect();
        sums.iter_mut().for_each(|s| *s = 0.0);
        *n = 0;
        self.time.push(mean[0]);
        self.pending.push(mean[1]);
        self.running.push(mean[2]);
        for (series, v) in self.allocation.values_mut().zip(&mean[3..]) {
            series.push(*v);
        }
        if let Some(frag) = mean.get(3 + self.allocation.len()) {
            self.gpu_fragmentation.push(*frag);
        }
    }

    /// Merges neighbouring points: windows twice as long.
    fn halve(&mut self) {
        fn pairs(series: &mut Vec<f64>) {
            *series = series.chunks(2).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
        }
        pairs(&mut self.time);
        pairs(&mut self.pending);
        pairs(&mut self.running);
        self.allocation.values_mut().for_each(pairs);
        pairs(&mut self.gpu_fragmentation);
        self.samples_per_point *= 2;
    }
}

/// The run's own cost, which varies between runs and is kept apart from [`Summary`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

    #[test]
    fn percentiles_are_the_distribution_function() {
        let mut h = Histogram::default();
        (1..=200u64).for_each(|v| h.record(v * SECOND));
        let d = h.distribution();
        assert_eq!(d.percentiles.len(), 101);
        assert_eq!((d.percentiles[0], d.percentiles[50], d.percentiles[99], d.percentiles[100]), (1.0, d.p50, d.p99, d.max));
        assert!(d.percentiles.windows(2).all(|w| w[0] <= w[1]));
        assert!(Histogram::default().distribution().percentiles.is_empty());
        assert_eq!((0.5, 0.9, 0.99), (50.0 / 100.0, 90.0 / 100.0, 99.0 / 100.0));
    }

    /// A timeline of `n` samples `(t, t, 2t, t/10)` of one resource, finished.
    fn timeline(n: u64) -> Timeline {
        let mut t = Timeline::new(&["cpu".to_string()], false);
        for i in 0..n {
            let x = i as f64;
            t.push(&[x, x, 2.0 * x, x / 10.0]);
        }
        t.finish();
        t
    }

    #[test]
    fn timeline_keeps_every_sample_up_to_1023() {
        let t = timeline(1023);
        assert_eq!((t.samples_per_point, t.time.len()), (1, 1023));
        assert_eq!((t.time[7], t.pending[7], t.running[7], t.allocation["cpu"][7]), (7.0, 7.0, 14.0, 0.7));
        assert_eq!(t.allocation["cpu"][1], 0.1);
    }

    #[test]
    fn timeline_averages_windows_of_a_power_of_two() {
        let t = timeline(1024);
        assert_eq!((t.samples_per_point, t.time.len()), (2, 512));
        assert_eq!((t.time[0], t.running[0], t.time[511]), (0.5, 1.0, 1022.5));
        // 5,000 samples: windows of 8; 625 points, the last one full.
        let t = timeline(5000);
        assert_eq!((t.samples_per_point, t.time.len()), (8, 625));
        assert_eq!(t.time[624], (4992..5000).sum::<u64>() as f64 / 8.0);
        // A partial last window is the mean of what it has.
        let t = timeline(5003);
        assert_eq!((t.time.len(), t.time[625]), (626, 5001.0));
    }

    #[test]
    fn timeline_stays_bounded() {
        for n in [0, 1, 1025, 2047, 2048, 100_000] {
            let t = timeline(n);
            assert!(t.time.len() <= TIMELINE_POINTS, "{n}");
            assert!([t.pending.len(), t.running.len(), t.allocation["cpu"].len()].iter().all(|&l| l == t.time.len()));
            assert_eq!(t.is_empty(), n == 0);
        }
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
