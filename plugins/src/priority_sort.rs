//! PrioritySort (QueueSort): higher `spec.priority` first, then earlier queue timestamp.
//!
//! Source: kube-scheduler `pkg/scheduler/framework/plugins/queuesort/priority_sort.go`. No arguments.

use std::sync::Arc;

use scheduler_core::{ExtensionPoints, Plugin, QueueSortPlugin, QueuedPodInfo};

/// Orders the active queue by priority, then by the time the pod was (re)added.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &str {
        "PrioritySort"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { queue_sort: Some(self), ..ExtensionPoints::default() }
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodInfo<'_>, b: &QueuedPodInfo<'_>) -> bool {
        a.pod.priority > b.pod.priority || (a.pod.priority == b.pod.priority && a.timestamp < b.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::Cluster;
    use scheduler_core::testing::pod;

    fn check(prio_a: i32, ts_a: u64, prio_b: i32, ts_b: u64, want: bool) {
        let mut c = Cluster::new();
        let a = c.compile_pod(&pod("a").priority(prio_a).def).unwrap();
        let b = c.compile_pod(&pod("b").priority(prio_b).def).unwrap();
        let got = PrioritySort.less(&QueuedPodInfo::new(&a, ts_a), &QueuedPodInfo::new(&b, ts_b));
        assert_eq!(got, want, "a=({prio_a},{ts_a}) b=({prio_b},{ts_b})");
    }

    #[test]
    fn higher_priority_first() {
        check(10, 5, 0, 1, true);
        check(0, 1, 10, 5, false);
    }

    #[test]
    fn equal_priority_earlier_timestamp_first() {
        check(3, 1, 3, 2, true);
        check(3, 2, 3, 1, false);
        check(3, 1, 3, 1, false);
    }
}
