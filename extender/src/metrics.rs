//! Request counters and latency histograms per verb, rendered in the Prometheus text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::state::{PodSource, StateCounts};

/// The extender's verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// `filter`.
    Filter,
    /// `prioritize`.
    Prioritize,
    /// `preempt`.
    Preempt,
    /// `bind`.
    Bind,
}

impl Verb {
    /// Every verb.
    pub const ALL: [Verb; 4] = [Verb::Filter, Verb::Prioritize, Verb::Preempt, Verb::Bind];

    /// The verb's name, as in the URL and in `--verbs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Filter => "filter",
            Verb::Prioritize => "prioritize",
            Verb::Preempt => "preempt",
            Verb::Bind => "bind",
        }
    }

    /// Parses a verb name.
    pub fn parse(s: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Upper bounds of the latency buckets, in seconds (the scheduler gives up after 5 s by default).
const BUCKETS: [f64; 14] = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct VerbMetrics {
    requests: AtomicU64,
    errors: AtomicU64,
    /// Cumulative counts per bucket, then +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    verbs: [VerbMetrics; 4],
    watch_events: AtomicU64,
    watch_errors: AtomicU64,
}

impl Metrics {
    /// Records one request of `verb` that took `elapsed`; `failed` when its answer was an error.
    pub fn observe(&self, verb: Verb, elapsed: Duration, failed: bool) {
        let m = &self.verbs[verb as usize];
        m.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            m.errors.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let first = BUCKETS.iter().position(|&b| secs <= b).unwrap_or(BUCKETS.len());
        for bucket in &m.buckets[first..] {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        m.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Records one watch event applied (or refused, `failed`).
    pub fn watch_event(&self, failed: bool) {
        self.watch_events.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.watch_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of every metric; the state's gauges are left out when `state` is
    /// `None` (the state was busy).
    pub fn render(&self, state: Option<(StateCounts, PodSource)>) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP simsched_extender_requests_total Requests answered, by verb.");
        let _ = writeln!(out, "# TYPE simsched_extender_requests_total counter");
        for v in Verb::ALL {
            let _ = writeln!(out, "simsched_extender_requests_total{{verb=\"{}\"}} {}", v.as_str(), load(&self.verbs[v as usize].requests));
        }
        let _ = writeln!(out, "# HELP simsched_extender_errors_total Requests answered with an error, by verb.");
        let _ = writeln!(out, "# TYPE simsched_extender_errors_total counter");
        for v in Verb::ALL {
            let _ = writeln!(out, "simsched_extender_errors_total{{verb=\"{}\"}} {}", v.as_str(), load(&self.verbs[v as usize].errors));
        }
        let _ = writeln!(out, "# HELP simsched_extender_request_duration_seconds Time from the request's arrival to its answer, by verb.");
        let _ = writeln!(out, "# TYPE simsched_extender_request_duration_seconds histogram");
        for v in Verb::ALL {
            let m = &self.verbs[v as usize];
            for (bound, count) in BUCKETS.iter().map(|b| b.to_string()).chain(["+Inf".to_string()]).zip(&m.buckets) {
                let _ = writeln!(
                    out,
                    "simsched_extender_request_duration_seconds_bucket{{verb=\"{}\",le=\"{bound}\"}} {}",
                    v.as_str(),
                    load(count)
                );
            }
            let sum = load(&m.sum_nanos) as f64 / 1e9;
            let _ = writeln!(out, "simsched_extender_request_duration_seconds_sum{{verb=\"{}\"}} {sum}", v.as_str());
            let _ = writeln!(out, "simsched_extender_request_duration_seconds_count{{verb=\"{}\"}} {}", v.as_str(), load(&m.requests));
        }
        if let Some((counts, source)) = state {
            Metrics::render_state(&mut out, counts, source);
        }
        let _ = writeln!(out, "# HELP simsched_extender_watch_events_total Watch events received.");
        let _ = writeln!(out, "# TYPE simsched_extender_watch_events_total counter");
        let _ = writeln!(out, "simsched_extender_watch_events_total {}", load(&self.watch_events));
        let _ = writeln!(
            out,
            "# HELP simsched_extender_watch_errors_total Watch events whose object the model refused, and watch stream errors."
        );
        let _ = writeln!(out, "# TYPE simsched_extender_watch_errors_total counter");
        let _ = writeln!(out, "simsched_extender_watch_errors_total {}", load(&self.watch_errors));
        out
    }

    fn render_state(out: &mut String, counts: StateCounts, source: PodSource) {
        let _ = writeln!(out, "# HELP simsched_extender_nodes Nodes in the extender's cache.");
        let _ = writeln!(out, "# TYPE simsched_extender_nodes gauge");
        let _ = writeln!(out, "simsched_extender_nodes {}", counts.nodes);
        let _ = writeln!(out, "# HELP simsched_extender_pods Pods counted on a cached node.");
        let _ = writeln!(out, "# TYPE simsched_extender_pods gauge");
        let _ = writeln!(out, "simsched_extender_pods {}", counts.pods);
        let _ = writeln!(
            out,
            "# HELP simsched_extender_watching Whether pods come from a watch of the API server (1) or only from this server's own bindings (0)."
        );
        let _ = writeln!(out, "# TYPE simsched_extender_watching gauge");
        let _ = writeln!(out, "simsched_extender_watching {}", u8::from(source == PodSource::Watch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe(Verb::Filter, Duration::from_micros(700), false);
        m.observe(Verb::Filter, Duration::from_millis(3), true);
        m.observe(Verb::Filter, Duration::from_secs(9), false);
        let text = m.render(Some((StateCounts::default(), PodSource::SelfBound)));
        for line in [
            "simsched_extender_requests_total{verb=\"filter\"} 3",
            "simsched_extender_errors_total{verb=\"filter\"} 1",
            "simsched_extender_request_duration_seconds_bucket{verb=\"filter\",le=\"0.0005\"} 0",
            "simsched_extender_request_duration_seconds_bucket{verb=\"filter\",le=\"0.001\"} 1",
            "simsched_extender_request_duration_seconds_bucket{verb=\"filter\",le=\"0.005\"} 2",
            "simsched_extender_request_duration_seconds_bucket{verb=\"filter\",le=\"5\"} 2",
            "simsched_extender_request_duration_seconds_bucket{verb=\"filter\",le=\"+Inf\"} 3",
            "simsched_extender_request_duration_seconds_count{verb=\"filter\"} 3",
            "simsched_extender_requests_total{verb=\"bind\"} 0",
            "simsched_extender_watching 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
