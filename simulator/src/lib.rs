//! simsched's discrete-event simulator: it replays a workload (pods and DAG jobs arriving, nodes joining
//! and failing) in simulated time through the scheduler library, and measures job completion time,
//! queueing delay, utilisation and the scheduler's effort.
//!
//! Key design decision: time is an integer (microseconds) and every happening is one variant of a closed
//! [`event::Event`] enum in a heap ordered by (time, sequence); arrivals stream in lazily from the workload
//! reader, pods are forgotten when they finish, and metrics are aggregated as they occur. A run is
//! therefore deterministic (same inputs and seed, same output, byte for byte) and its memory does not grow
//! with the number of finished pods.

pub mod compare;
pub mod demand;
pub mod engine;
pub mod event;
pub mod metrics;
pub mod queue;
pub mod record;
pub mod time;

pub use compare::{CompareRow, Comparison, MetricSpread, compare, lower_is_better, metrics_of};
pub use demand::{DemandOptions, DemandPool, DemandResult, DemandRow, sweep};
pub use engine::{Progress, SimError, SimOptions, simulate};
pub use metrics::{Distribution, Summary, Timeline, Timing};
pub use record::Recorder;
pub use time::SimTime;
