//! The event queue: one closed event type, ordered by (time, sequence) so that events at the same instant
//! run in the order they were scheduled. This ordering is the simulator's determinism contract.

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
    /// A preemption victim's termination grace period ends: it leaves its node (the number tells this
    /// eviction from a later one of a pod that reused the id).
    Evict(scheduler_core::PodId, u64),
}

impl Event {
    /// Whether the event can change the cluster or finish work (timers cannot: a simulation with only
    /// timers left is over).
    pub fn is_work(self) -> bool {
        matches!(self, Event::BindDone(_) | Event::Finish(_) | Event::Evict(..))
    }
}

/// Events ordered by (time, sequence), in a radix heap: simulated time never goes back, so every key pushed
/// is at least the last key popped, and an event costs O(1) amortised instead of a binary heap's
/// O(log n) cache-missing levels (the queue holds one finish event per running pod: hundreds of thousands).
///
/// A key packs (time, sequence) into one integer, unique per event. Bucket `b` holds keys whose highest
/// bit differing from the last popped key is bit `b - 1` (bucket 0: the key equal to it, just before it
/// is popped).
pub struct EventQueue {
    buckets: Vec<Vec<(u128, Event)>>,
    /// The last key popped: every key in the queue is greater.
    last: u128,
    /// The smallest key in the queue, once looked for since the last pop.
    min: Option<u128>,
    len: usize,
    next_seq: u64,
    n_work: usize,
}

impl Default for EventQueue {
    fn default() -> Self {
        // Sequences start at 1, so every key is above the initial `last`.
        EventQueue { buckets: vec![Vec::new(); 129], last: 0, min: None, len: 0, next_seq: 1, n_work: 0 }
    }
}

impl EventQueue {
    fn bucket(&self, key: u128) -> usize {
        128 - (key ^ self.last).leading_zeros() as usize
    }

    /// Schedules `event` at `time`, which is not before the last event taken out (the simulation never
    /// schedules into the past; if it did, the event would be taken as due at that last event's time).
    pub fn push(&mut self, time: SimTime, event: Event) {
        if event.is_work() {
            self.n_work += 1;
        }
        let key = (u128::from(time.micros()) << 64) | u128::from(self.next_seq);
        debug_assert!(key > self.last, "an event scheduled into the past");
        let key = key.max(self.last + 1);
        self.next_seq += 1;
        let bucket = self.bucket(key);
        self.buckets[bucket].push((key, event));
        self.len += 1;
        if let Some(min) = self.min {
            self.min = Some(min.min(key));
        }
    }

    /// The smallest key.
    fn min_key(&mut self) -> Option<u128> {
        if self.min.is_none() && self.len > 0 {
            let bucket = self.buckets.iter().find(|b| !b.is_empty())?;
            self.min = bucket.iter().map(|&(key, _)| key).min();
        }
        self.min
    }

    /// The time of the next event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.min_key().map(|key| SimTime((key >> 64) as u64))
    }

    /// Removes the next event.
    pub fn pop(&mut self) -> Option<(SimTime, Event)> {
        let min = self.min_key()?;
        // Re-bucket the lowest bucket around its minimum: the minimum lands alone in bucket 0 (keys are
        // unique), every other key in a lower bucket than before.
        let idx = self.buckets.iter().position(|b| !b.is_empty())?;
        self.last = min;
        let mut items = std::mem::take(&mut self.buckets[idx]);
        for &(key, event) in &items {
            let bucket = self.bucket(key);
            self.buckets[bucket].push((key, event));
        }
        items.clear();
        if self.buckets[idx].is_empty() {
            // Keep the allocation of the emptied bucket.
            self.buckets[idx] = items;
        }
        let (key, event) = self.buckets[0].pop()?;
        self.len -= 1;
        self.min = None;
        if event.is_work() {
            self.n_work -= 1;
        }
        Some((SimTime((key >> 64) as u64), event))
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

    proptest::proptest! {
        #[test]
        fn pops_in_time_then_push_order(ops in proptest::collection::vec((0u64..50, proptest::bool::ANY), 1..300)) {
            // Pushes at `now + delay` interleaved with pops, as a simulation does; the reference is a sort.
            let mut q = EventQueue::default();
            let mut reference: Vec<(u64, u64)> = Vec::new();
            let (mut now, mut seq) = (0u64, 0u32);
            for (delay, pop) in ops {
                if pop {
                    let got = q.pop().map(|(t, e)| (t.micros(), e));
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    proptest::prop_assert_eq!(got.map(|(t, _)| t), want.map(|(t, _)| t));
                    if let (Some((_, Event::Finish(r))), Some((_, s))) = (got, want) {
                        proptest::prop_assert_eq!(u64::from(r.slot), s);
                    }
                    if let Some((t, _)) = want {
                        now = t;
                    }
                } else {
                    q.push(SimTime(now + delay), Event::Finish(PodRef { slot: seq, incarnation: 0 }));
                    reference.push((now + delay, u64::from(seq)));
                    seq += 1;
                }
            }
        }
    }
}
