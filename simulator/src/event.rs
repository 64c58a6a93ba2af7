//! The event queue: one closed event type, ordered by (time, sequence) so that events at the same instant
//! run in the order they were scheduled. This ordering is the simulator's determinism contract.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// Index of a pod in the simulation's pod table, with its incarnation (a pod recreated after a node
/// failure gets a new one, so that events of the lost incarnation are ignored).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct PodRef {
    /// Slot in the pod table.
    pub slot: u32,
    /// Incarnation of the slot.
    pub incarnation: u32,
}

/// Everything that can happen.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Event {
    /// A pod's binding completes: it starts running.
    BindDone(PodRef),
    /// A pod finishes and leaves its node.
    Finish(PodRef),
    /// The scheduler is free for its next attempt (cost model).
    SchedulerFree,
    /// Pods whose backoff has expired move to the active queue (every second, aligned).
    FlushBackoff,
    /// Pods unschedulable for more than five minutes are retried (every 30 seconds).
    FlushUnschedulable,
    /// A time-series sample is taken.
    Sample,
}

impl Event {
    /// Whether the event can change the cluster or finish work (timers cannot: a simulation with only
    /// timers left is over).
    pub fn is_work(self) -> bool {
        matches!(self, Event::BindDone(_) | Event::Finish(_))
    }
}

/// Events ordered by (time, sequence).
#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<(SimTime, u64, Event)>>,
    next_seq: u64,
    n_work: usize,
}

impl EventQueue {
    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: Event) {
        if event.is_work() {
            self.n_work += 1;
        }
        self.heap.push(Reverse((time, self.next_seq, event)));
        self.next_seq += 1;
    }

    /// The time of the next event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Removes the next event.
    pub fn pop(&mut self) -> Option<(SimTime, Event)> {
        let Reverse((t, _, e)) = self.heap.pop()?;
        if e.is_work() {
            self.n_work -= 1;
        }
        Some((t, e))
    }

    /// Number of work events (binds and finishes) still scheduled.
    pub fn work_left(&self) -> usize {
        self.n_work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_keep_their_order() {
        let mut q = EventQueue::default();
        let r = |slot| PodRef { slot, incarnation: 0 };
        q.push(SimTime(5), Event::Finish(r(2)));
        q.push(SimTime(1), Event::Sample);
        q.push(SimTime(5), Event::Finish(r(1)));
        q.push(SimTime(5), Event::SchedulerFree);
        let order: Vec<(SimTime, Event)> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                (SimTime(1), Event::Sample),
                (SimTime(5), Event::Finish(r(2))),
                (SimTime(5), Event::Finish(r(1))),
                (SimTime(5), Event::SchedulerFree)
            ]
        );
        assert_eq!(q.work_left(), 0);
    }
}
