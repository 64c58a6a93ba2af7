//! kube-scheduler's scheduling queue (spec §5): an active queue ordered by the profile's QueueSort, a
//! backoff queue ordered by backoff expiry, and the unschedulable pods waiting for a cluster event.
//!
//! Semantics kept from upstream (1.36, `SchedulerPopFromBackoffQ` on): a pod that fails is parked as
//! unschedulable with `unschedulableCount + 1` and a fresh timestamp; a cluster event that may help (a pod
//! leaving a node, a node joining) moves every unschedulable pod to the backoff queue if its backoff
//! (1 s doubling to 10 s, expiry truncated to whole seconds) has not expired, else to the active queue;
//! backoff expiries are flushed every second; pods unschedulable for more than five minutes are retried;
//! when the active queue is empty the head of the backoff queue is popped even if still backing off.

use traces::Micros;

use crate::time::{SECOND, SimTime};

/// Upstream `DefaultPodMaxInUnschedulablePodsDuration`.
pub const MAX_IN_UNSCHEDULABLE: Micros = 5 * 60 * SECOND;

/// A pod in the queue.
#[derive(Clone, Copy, Debug)]
pub struct QueuedPod {
    /// Slot in the simulation's pod table.
    pub slot: u32,
    /// When the pod was last added (upstream `Timestamp`).
    pub timestamp: SimTime,
    /// Attempts rejected by plugins.
    pub unschedulable_count: u32,
    /// Attempts that failed with an error since the last rejection.
    pub consecutive_errors: u32,
    /// The pod's duration, for queue orders that read it.
    pub expected_duration: Option<Micros>,
    /// Its job's remaining work when queued, for job-level queue orders.
    pub job_remaining_work: Option<Micros>,
    /// The last rejection involved a plugin that a pod joining the cluster can satisfy (PodTopologySpread
    /// registers for pod additions): the pod is retried when one does.
    pub retry_on_pod_add: bool,
}

/// Backoff parameters (`podInitialBackoffSeconds`, `podMaxBackoffSeconds`).
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Initial backoff.
    pub initial: Micros,
    /// Maximum backoff.
    pub max: Micros,
}

impl Backoff {
    /// Upstream `calculateBackoffDuration`.
    fn duration(self, count: u32) -> Micros {
        if count == 0 {
            return 0;
        }
        let shift = count - 1;
        if shift >= 63 || self.initial > self.max >> shift { self.max } else { self.initial << shift }
    }

    /// Upstream `getBackoffTime`, aligned to the one-second window; `None` when there is no backoff.
    fn expiration(self, pod: &QueuedPod) -> Option<SimTime> {
        let count = if pod.consecutive_errors > 0 { pod.consecutive_errors } else { pod.unschedulable_count };
        if count == 0 || self.max == 0 {
            return None;
        }
        Some(pod.timestamp.after(self.duration(count)).truncate_to_second())
    }

    /// Upstream `isPodBackingoff`: the expiry is not before the current second.
    fn backing_off(self, pod: &QueuedPod, now: SimTime) -> bool {
        self.expiration(pod).is_some_and(|e| e >= now.truncate_to_second())
    }
}

/// A binary heap ordered by a comparator given at each call (the QueueSort plugin needs the pod table).
#[derive(Default)]
struct Heap(Vec<QueuedPod>);

impl Heap {
    fn push(&mut self, pod: QueuedPod, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        self.0.push(pod);
        let mut i = self.0.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !less(&self.0[i], &self.0[parent]) {
                break;
            }
            self.0.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) -> Option<QueuedPod> {
        if self.0.is_empty() {
            return None;
        }
        let last = self.0.len() - 1;
        self.0.swap(0, last);
        let top = self.0.pop();
        let n = self.0.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && less(&self.0[l], &self.0[best]) {
                best = l;
            }
            if r < n && less(&self.0[r], &self.0[best]) {
                best = r;
            }
            if best == i {
                break;
            }
            self.0.swap(i, best);
            i = best;
        }
        top
    }

    fn peek(&self) -> Option<&QueuedPod> {
        self.0.first()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The scheduling queue.
pub struct SchedulingQueue {
    backoff_params: Backoff,
    active: Heap,
    backoff: Heap,
    unschedulable: Vec<QueuedPod>,
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new(backoff: Backoff) -> SchedulingQueue {
        SchedulingQueue { backoff_params: backoff, active: Heap::default(), backoff: Heap::default(), unschedulable: Vec::new() }
    }

    /// A new pod arrives.
    pub fn add(&mut self, mut pod: QueuedPod, now: SimTime, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        pod.timestamp = now;
        self.active.push(pod, less);
    }

    /// The next pod to attempt: the head of the active queue, else of the backoff queue.
    pub fn pop(&mut self, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) -> Option<QueuedPod> {
        if let Some(pod) = self.active.pop(less) {
            return Some(pod);
        }
        let params = self.backoff_params;
        self.backoff.pop(&mut |a, b| backoff_less(params, a, b, less))
    }

    /// An attempt failed: rejected by plugins (`error = false`) or by an internal error.
    pub fn failed(&mut self, mut pod: QueuedPod, now: SimTime, error: bool) {
        if error {
            pod.consecutive_errors += 1;
        } else {
            pod.unschedulable_count += 1;
            pod.consecutive_errors = 0;
        }
        pod.timestamp = now;
        self.unschedulable.push(pod);
    }

    /// A cluster event that may help happened: every unschedulable pod goes to the backoff queue if still
    /// backing off, else to the active queue.
    pub fn move_all(&mut self, now: SimTime, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        let pods = std::mem::take(&mut self.unschedulable);
        for pod in pods {
            self.requeue(pod, now, less);
        }
    }

    /// A pod was added to the cluster: the unschedulable pods waiting for that move as in
    /// [`SchedulingQueue::move_all`], the others stay.
    pub fn move_waiting_on_pod_adds(&mut self, now: SimTime, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        if !self.unschedulable.iter().any(|p| p.retry_on_pod_add) {
            return;
        }
        let (moving, staying): (Vec<QueuedPod>, Vec<QueuedPod>) =
            std::mem::take(&mut self.unschedulable).into_iter().partition(|p| p.retry_on_pod_add);
        self.unschedulable = staying;
        for pod in moving {
            self.requeue(pod, now, less);
        }
    }

    fn requeue(&mut self, pod: QueuedPod, now: SimTime, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        let params = self.backoff_params;
        if params.backing_off(&pod, now) {
            self.backoff.push(pod, &mut |a, b| backoff_less(params, a, b, less));
        } else {
            self.active.push(pod, less);
        }
    }

    /// Moves pods whose backoff has expired to the active queue (upstream `flushBackoffQCompleted`).
    pub fn flush_backoff(&mut self, now: SimTime, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        let params = self.backoff_params;
        while let Some(head) = self.backoff.peek() {
            if params.backing_off(head, now) {
                break;
            }
            if let Some(pod) = self.backoff.pop(&mut |a, b| backoff_less(params, a, b, less)) {
                self.active.push(pod, less);
            }
        }
    }

    /// Retries pods unschedulable for more than five minutes (upstream `flushUnschedulablePodsLeftover`).
    pub fn flush_unschedulable(&mut self, now: SimTime, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) {
        let (stale, waiting): (Vec<QueuedPod>, Vec<QueuedPod>) = std::mem::take(&mut self.unschedulable)
            .into_iter()
            .partition(|p| now.micros().saturating_sub(p.timestamp.micros()) > MAX_IN_UNSCHEDULABLE);
        self.unschedulable = waiting;
        for pod in stale {
            self.requeue(pod, now, less);
        }
    }

    /// Whether a pod can be popped.
    pub fn has_poppable(&self) -> bool {
        self.active.len() > 0 || self.backoff.len() > 0
    }

    /// Pods waiting in the backoff queue.
    pub fn n_backoff(&self) -> usize {
        self.backoff.len()
    }

    /// Pods parked as unschedulable.
    pub fn n_unschedulable(&self) -> usize {
        self.unschedulable.len()
    }

    /// The unschedulable pods' slots.
    pub fn unschedulable_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.unschedulable.iter().map(|p| p.slot)
    }

    /// Drops every queued entry of `slot` (its pod is gone).
    pub fn forget(&mut self, slot: u32) {
        self.unschedulable.retain(|p| p.slot != slot);
    }
}

/// Backoff queue order: expiry, then (in the same one-second window) the QueueSort order.
fn backoff_less(params: Backoff, a: &QueuedPod, b: &QueuedPod, less: &mut impl FnMut(&QueuedPod, &QueuedPod) -> bool) -> bool {
    let (ea, eb) = (params.expiration(a), params.expiration(b));
    if ea != eb {
        return ea < eb;
    }
    less(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(slot: u32) -> QueuedPod {
        QueuedPod {
            slot,
            timestamp: SimTime(0),
            unschedulable_count: 0,
            consecutive_errors: 0,
            expected_duration: None,
            job_remaining_work: None,
            retry_on_pod_add: false,
        }
    }

    fn fifo(a: &QueuedPod, b: &QueuedPod) -> bool {
        (a.timestamp, a.slot) < (b.timestamp, b.slot)
    }

    const B: Backoff = Backoff { initial: SECOND, max: 10 * SECOND };

    #[test]
    fn backoff_durations_double_to_the_maximum() {
        let d: Vec<Micros> = (0..7).map(|c| B.duration(c) / SECOND).collect();
        assert_eq!(d, [0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn active_queue_follows_queue_sort() {
        let mut q = SchedulingQueue::new(B);
        for (slot, t) in [(3, 30), (1, 10), (2, 20)] {
            q.add(pod(slot), SimTime(t), &mut fifo);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop(&mut fifo)).map(|p| p.slot).collect();
        assert_eq!(order, [1, 2, 3]);
    }

    #[test]
    fn failed_pods_wait_for_an_event_then_back_off() {
        let mut q = SchedulingQueue::new(B);
        q.add(pod(1), SimTime(0), &mut fifo);
        let p = q.pop(&mut fifo).unwrap();
        q.failed(p, SimTime(500_000), false);
        assert!(!q.has_poppable());
        // An event at 0.7 s: backoff expires at truncate(0.5 + 1 s) = 1 s, not before the current second.
        q.move_all(SimTime(700_000), &mut fifo);
        assert_eq!(q.n_backoff(), 1);
        // At 1.9 s the expiry (1 s) is not before the current second (1 s): still backing off.
        q.flush_backoff(SimTime(1_900_000), &mut fifo);
        assert_eq!(q.n_backoff(), 1);
        q.flush_backoff(SimTime(2_000_000), &mut fifo);
        assert_eq!(q.n_backoff(), 0);
        assert_eq!(q.pop(&mut fifo).unwrap().unschedulable_count, 1);
    }

    #[test]
    fn an_empty_active_queue_pops_the_backoff_queue() {
        let mut q = SchedulingQueue::new(B);
        q.failed(pod(7), SimTime(0), false);
        q.move_all(SimTime(100), &mut fifo);
        assert_eq!(q.n_backoff(), 1);
        assert_eq!(q.pop(&mut fifo).map(|p| p.slot), Some(7));
    }

    #[test]
    fn unschedulable_pods_are_retried_after_five_minutes() {
        let mut q = SchedulingQueue::new(B);
        q.failed(pod(1), SimTime(0), false);
        q.flush_unschedulable(SimTime(MAX_IN_UNSCHEDULABLE), &mut fifo);
        assert_eq!(q.n_unschedulable(), 1);
        q.flush_unschedulable(SimTime(MAX_IN_UNSCHEDULABLE + 1), &mut fifo);
        assert_eq!(q.n_unschedulable(), 0);
        assert!(q.has_poppable());
    }
}
