//! ShortestRemainingJobFirst (QueueSort): pods of the job with the least work left first; ties in queue
//! order.
//!
//! A job-level order that minimises mean job completion time: shortest remaining processing time applied
//! to jobs (Schrage, 1968; as in job-aware cluster schedulers such as Tiresias, NSDI 2019). A job's work
//! is the sum of its unfinished pods' durations, known to the simulator from the trace
//! (`job_remaining_work`, taken when the pod is queued); pods without it come last. No arguments.

use std::sync::Arc;

use scheduler_core::{ExtensionPoints, Plugin, QueueSortPlugin, QueuedPodInfo};

/// Shortest remaining job work first.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShortestRemainingJobFirst;

impl Plugin for ShortestRemainingJobFirst {
    fn name(&self) -> &str {
        "ShortestRemainingJobFirst"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { queue_sort: Some(self), ..ExtensionPoints::default() }
    }
}

impl QueueSortPlugin for ShortestRemainingJobFirst {
    fn less(&self, a: &QueuedPodInfo<'_>, b: &QueuedPodInfo<'_>) -> bool {
        let key = |p: &QueuedPodInfo<'_>| (p.job_remaining_work.unwrap_or(u64::MAX), p.timestamp);
        key(a) < key(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shortest_job_first::ShortestJobFirst;
    use scheduler_core::Cluster;
    use scheduler_core::testing::pod;

    #[test]
    fn queue_orders() {
        let mut c = Cluster::new();
        let p = c.compile_pod(&pod("p").def).unwrap();
        let q = |ts: u64, duration: Option<u64>, work: Option<u64>| QueuedPodInfo {
            pod: &p,
            timestamp: ts,
            expected_duration: duration,
            job_remaining_work: work,
        };
        let sjf = ShortestJobFirst;
        assert!(sjf.less(&q(5, Some(10), None), &q(1, Some(20), None)));
        assert!(sjf.less(&q(1, Some(10), None), &q(2, Some(10), None)));
        assert!(sjf.less(&q(9, Some(10), None), &q(1, None, None)));
        let srjf = ShortestRemainingJobFirst;
        assert!(srjf.less(&q(5, Some(100), Some(10)), &q(1, Some(1), Some(20))));
        assert!(!srjf.less(&q(1, None, None), &q(2, None, Some(5))));
        let fifo = crate::fifo::Fifo;
        assert!(fifo.less(&q(1, Some(100), Some(100)), &q(2, Some(1), Some(1))));
    }
}
