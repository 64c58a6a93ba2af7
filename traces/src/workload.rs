//! The workload model every workload reader produces and the simulator consumes: pods and jobs arriving
//! over time, and changes to the cluster, as a stream ordered by time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use scheduler_core::{NodeDef, PodDef};

use crate::error::TraceError;

/// A time offset from the start of the trace, in microseconds.
pub type Micros = u64;

/// Microseconds in a second.
pub const MICROS_PER_SECOND: Micros = 1_000_000;

/// One thing that happens in a workload.
#[derive(Clone, Debug)]
pub enum WorkloadItem {
    /// A pod arrives, alone or as one pod of a job.
    Pod(PodArrival),
    /// A job of tasks that depend on each other arrives; the simulator releases a task's pods when every
    /// pod of every parent task has finished.
    Dag(DagJob),
    /// The cluster changes.
    Node(NodeEvent),
}

impl WorkloadItem {
    /// When it happens.
    pub fn time(&self) -> Micros {
        match self {
            WorkloadItem::Pod(p) => p.time,
            WorkloadItem::Dag(j) => j.time,
            WorkloadItem::Node(e) => e.time(),
        }
    }
}

/// A pod arriving.
#[derive(Clone, Debug)]
pub struct PodArrival {
    /// Arrival time.
    pub time: Micros,
    /// The pod's name (unique in the workload); it replaces `spec.name`.
    pub name: String,
    /// What the pod asks for. Identical pods share one spec, so that it is compiled once.
    pub spec: Arc<PodDef>,
    /// How long it runs once started; `None`: until the simulation ends.
    pub duration: Option<Micros>,
    /// The job the pod belongs to; `None`: a job of its own.
    pub job: Option<Arc<str>>,
}

/// A job whose tasks form a DAG.
#[derive(Clone, Debug)]
pub struct DagJob {
    /// Submission time: tasks without parents arrive then.
    pub time: Micros,
    /// Job name (unique in the workload).
    pub name: String,
    /// Tasks; `parents` index into this list. Readers guarantee the graph is acyclic.
    pub tasks: Vec<DagTask>,
}

/// One task of a DAG job: `instances` identical pods.
#[derive(Clone, Debug)]
pub struct DagTask {
    /// Task name (unique in the job).
    pub name: String,
    /// Number of pods.
    pub instances: u32,
    /// What each pod asks for.
    pub spec: Arc<PodDef>,
    /// How long each pod runs; `None`: until the simulation ends.
    pub duration: Option<Micros>,
    /// Tasks that must finish first (indices into the job's tasks).
    pub parents: Vec<usize>,
}

/// A change to the cluster.
#[derive(Clone, Debug)]
pub enum NodeEvent {
    /// A node joins.
    Add {
        /// When.
        time: Micros,
        /// The node.
        node: NodeDef,
    },
    /// A node leaves: its pods are lost; pods of jobs are created again.
    Remove {
        /// When.
        time: Micros,
        /// Node name.
        name: String,
    },
    /// A node fails: its pods are lost; pods of jobs are created again.
    Fail {
        /// When.
        time: Micros,
        /// Node name.
        name: String,
    },
}

impl NodeEvent {
    /// When it happens.
    pub fn time(&self) -> Micros {
        match self {
            NodeEvent::Add { time, .. } | NodeEvent::Remove { time, .. } | NodeEvent::Fail { time, .. } => *time,
        }
    }
}

/// A workload read lazily, in time order. Bad rows are errors, or, when the reader was asked to skip them,
/// skipped and counted.
pub struct WorkloadStream {
    items: Box<dyn Iterator<Item = Result<WorkloadItem, TraceError>> + Send>,
    skipped: Arc<AtomicU64>,
    notes: Vec<String>,
}

impl WorkloadStream {
    /// A stream over `items`; `skipped` counts the rows the reader skipped.
    pub fn new(items: Box<dyn Iterator<Item = Result<WorkloadItem, TraceError>> + Send>, skipped: Arc<AtomicU64>) -> WorkloadStream {
        WorkloadStream { items, skipped, notes: Vec::new() }
    }

    /// The same stream, carrying `notes`: what the reader decided while importing (jobs it could not
    /// replay, names it had to shorten), as human-readable lines.
    pub fn with_notes(mut self, notes: Vec<String>) -> WorkloadStream {
        self.notes = notes;
        self
    }

    /// What the reader reported while opening the workload, one line each (empty for most formats).
    /// Skipped bad rows are not notes: see [`WorkloadStream::skipped_rows`].
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A stream over items already in memory.
    pub fn from_items(items: Vec<WorkloadItem>) -> WorkloadStream {
        WorkloadStream::new(Box::new(items.into_iter().map(Ok)), Arc::new(AtomicU64::new(0)))
    }

    /// Rows skipped so far.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The counter of skipped rows, to read after the stream is consumed.
    pub fn skipped_counter(&self) -> Arc<AtomicU64> {
        self.skipped.clone()
    }
}

/// The largest time a trace may name: 2^53 microseconds (about 285 years), so that every time is also exact
/// as an `f64` number of microseconds.
pub const MAX_MICROS: Micros = 1 << 53;

/// Parses seconds written as a decimal with at most six decimals (`12`, `12.5`, `0.000001`) into
/// microseconds; `None` when the text is not such a number or is above [`MAX_MICROS`].
pub fn parse_seconds(text: &str) -> Option<Micros> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !all_digits(whole) || fraction.len() > 6 || !all_digits(fraction) {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let mut micros: Micros = 0;
    for b in whole.bytes() {
        micros = micros * 10 + Micros::from(b - b'0');
    }
    let mut fraction_micros: Micros = 0;
    for idx in 0..6 {
        let digit = fraction.as_bytes().get(idx).map_or(0, |b| Micros::from(b - b'0'));
        fraction_micros = fraction_micros * 10 + digit;
    }
    let total = micros.checked_mul(MICROS_PER_SECOND)?.checked_add(fraction_micros)?;
    (total <= MAX_MICROS).then_some(total)
}

/// Writes microseconds as seconds, with as few decimals as are exact (`12`, `12.5`, `0.000001`); the inverse
/// of [`parse_seconds`].
pub fn format_seconds(micros: Micros) -> String {
    let whole = micros / MICROS_PER_SECOND;
    let fraction = micros % MICROS_PER_SECOND;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Iterator for WorkloadStream {
    type Item = Result<WorkloadItem, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<Micros>) {
        assert_eq!(parse_seconds(text), expected, "{text}");
        if let Some(micros) = expected {
            assert_eq!(parse_seconds(&format_seconds(micros)), Some(micros), "{text} round trip");
        }
    }

    #[test]
    fn seconds() {
        check("0", Some(0));
        check("12", Some(12_000_000));
        check("12.5", Some(12_500_000));
        check("0.000001", Some(1));
        check("007.10", Some(7_100_000));
        check("9007199254.740992", Some(MAX_MICROS));
        check("9007199254.740993", None);
        check("0.0000001", None);
        check("1.", None);
        check(".5", None);
        check("-1", None);
        check("+1", None);
        check("1e3", None);
        check("", None);
        check("999999999999999", None);
        assert_eq!(format_seconds(12_500_000), "12.5");
        assert_eq!(format_seconds(1), "0.000001");
        assert_eq!(format_seconds(60_000_000), "60");
    }
}
