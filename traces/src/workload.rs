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
}

impl WorkloadStream {
    /// A stream over `items`; `skipped` counts the rows the reader skipped.
    pub fn new(items: Box<dyn Iterator<Item = Result<WorkloadItem, TraceError>> + Send>, skipped: Arc<AtomicU64>) -> WorkloadStream {
        WorkloadStream { items, skipped }
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

impl Iterator for WorkloadStream {
    type Item = Result<WorkloadItem, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }
}
