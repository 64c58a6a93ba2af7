//! ShortestJobFirst (QueueSort): the pod with the shortest known run time first; pods of unknown duration
//! last; ties in queue order.
//!
//! Shortest job first minimises mean waiting time on one server (Conway, Maxwell and Miller, "Theory of
//! Scheduling", 1967). It needs durations, which the simulator knows from the trace (`expected_duration`);
//! outside the simulator every pod's duration is unknown and the order is FIFO. No arguments.

use std::sync::Arc;

use scheduler_core::{ExtensionPoints, Plugin, QueueSortPlugin, QueuedPodInfo};

/// Shortest job first.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShortestJobFirst;

impl Plugin for ShortestJobFirst {
    fn name(&self) -> &str {
        "ShortestJobFirst"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { queue_sort: Some(self), ..ExtensionPoints::default() }
    }
}

impl QueueSortPlugin for ShortestJobFirst {
    fn less(&self, a: &QueuedPodInfo<'_>, b: &QueuedPodInfo<'_>) -> bool {
        let key = |p: &QueuedPodInfo<'_>| (p.expected_duration.unwrap_or(u64::MAX), p.timestamp);
        key(a) < key(b)
    }
}
