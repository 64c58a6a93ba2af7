//! Reading a workload on a second thread while the simulation runs on the first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use traces::{TraceError, WorkloadItem, WorkloadStream};

/// Items per batch handed from the reader thread to the simulation.
const BATCH: usize = 4096;

/// Batches read ahead at most.
const BATCHES_AHEAD: usize = 8;

type Batch = (Vec<Result<WorkloadItem, TraceError>>, u64);

/// The same stream, parsed on a reader thread in batches, at most a few batches ahead of the consumer.
/// Items come in the same order. The skipped-row count the stream reports is the reader's count at the
/// end of each batch as the consumer takes it, so it does not depend on how far ahead the reader got.
pub fn prefetched(stream: WorkloadStream) -> WorkloadStream {
    let notes = stream.notes().to_vec();
    let reader_skipped = stream.skipped_counter();
    let (sender, receiver) = sync_channel::<Batch>(BATCHES_AHEAD);
    std::thread::spawn(move || {
        let mut stream = stream;
        loop {
            let batch: Vec<_> = stream.by_ref().take(BATCH).collect();
            let last = batch.len() < BATCH;
            // A closed channel: the simulation stopped early and dropped its end.
            if sender.send((batch, reader_skipped.load(Ordering::Relaxed))).is_err() || last {
                return;
            }
        }
    });
    let skipped = Arc::new(AtomicU64::new(0));
    let items = Prefetched { receiver, current: Vec::new().into_iter(), skipped: skipped.clone() };
    WorkloadStream::new(Box::new(items), skipped).with_notes(notes)
}

struct Prefetched {
    receiver: Receiver<Batch>,
    current: std::vec::IntoIter<Result<WorkloadItem, TraceError>>,
    skipped: Arc<AtomicU64>,
}

impl Iterator for Prefetched {
    type Item = Result<WorkloadItem, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            // The reader ends the channel after its last batch (or if it panicked).
            let (batch, skipped) = self.receiver.recv().ok()?;
            self.skipped.store(skipped, Ordering::Relaxed);
            if batch.is_empty() {
                return None;
            }
            self.current = batch.into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use traces::{NodeEvent, WorkloadItem};

    fn items(n: u64) -> Vec<WorkloadItem> {
        (0..n).map(|t| WorkloadItem::Node(NodeEvent::Remove { time: t, name: format!("n{t}") })).collect()
    }

    #[test]
    fn same_items_in_the_same_order() {
        for n in [0, 1, BATCH as u64 - 1, BATCH as u64, 3 * BATCH as u64 + 5] {
            let times: Vec<u64> = prefetched(WorkloadStream::from_items(items(n))).map(|i| i.unwrap().time()).collect();
            assert_eq!(times, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_reader_stays_a_few_batches_ahead_and_stops_when_dropped() {
        let total = 100 * BATCH as u64;
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = pulled.clone();
        let source = items(total).into_iter().map(move |item| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(item)
        });
        let mut stream = prefetched(WorkloadStream::new(Box::new(source), Arc::new(AtomicU64::new(0))));
        assert!(stream.next().is_some());
        drop(stream);
        // Wait until the reader has stopped pulling items.
        let mut last = u64::MAX;
        for _ in 0..200 {
            let now = pulled.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(last <= (BATCHES_AHEAD as u64 + 3) * BATCH as u64, "the reader pulled {last} of {total} items");
    }
}
