//! Reuse of node-local filter verdicts and raw scores across pods with the same scheduling spec.
//!
//! A verdict or score computed for a node is stamped with the node's generation (a process-wide unique
//! number per node state), in tables emptied whenever they start over for another spec or set of nodes. It
//! is reused only when the node still has that generation, so a result is reused exactly when recomputing
//! it would give the same value. A
//! profile keeps memos for its few most recently seen specs ([`Memos`]), so that pods of several shapes
//! arriving interleaved, and a pending pod tried again, each find their own.

use crate::cluster::Cluster;
use crate::node::NodeId;
use crate::pod::Pod;
use crate::scheduler::FitError;
use crate::status::Status;

/// How many specs a profile remembers results for at least, and at most.
const SPECS_REMEMBERED: (usize, usize) = (16, 256);

/// The memory the memos of a profile may take, within [`SPECS_REMEMBERED`]: a spec's memo takes 16 bytes
/// plus 8 per Score plugin per node (at 10,000 nodes and one Score plugin, 240 KB), so a small cluster
/// remembers many specs (a workload of many pod shapes arriving shuffled keeps finding its results) and a
/// large one few.
const MEMO_BUDGET_BYTES: usize = 32 << 20;

/// The memos of one profile: one per recently seen pod spec, the least recently used replaced first.
#[derive(Clone, Default)]
pub(crate) struct Memos {
    entries: Vec<Memo>,
    last_used: Vec<u64>,
    clock: u64,
}

impl Memos {
    /// Starts a cycle for `pod`; returns the memo to use for it, if any. A spec's memo is used from the
    /// second pod with that spec on (one-off specs cost nothing to remember).
    pub(crate) fn begin(&mut self, pod: &Pod, cluster: &Cluster, n_score_slots: usize) -> Option<&mut Memo> {
        self.clock += 1;
        let found = self.entries.iter().position(|m| m.spec.as_ref().is_some_and(|s| s.same_scheduling_spec(pod)));
        let idx = match found {
            Some(idx) => idx,
            None if self.entries.len() < specs_remembered(cluster.node_capacity(), n_score_slots) => {
                self.entries.push(Memo::default());
                self.last_used.push(0);
                self.entries.len() - 1
            }
            None => self.last_used.iter().enumerate().min_by_key(|&(_, &t)| t).map_or(0, |(idx, _)| idx),
        };
        self.last_used[idx] = self.clock;
        let memo = &mut self.entries[idx];
        memo.begin(pod, cluster, n_score_slots).then_some(memo)
    }

    /// The failure of the last cycle for a pod with `pod`'s spec, if the cluster has not changed since:
    /// the same cycle would fail the same way. Returns how far that cycle advanced the rotating start
    /// index, and its error.
    pub(crate) fn repeated_failure(&self, pod: &Pod, cluster: &Cluster) -> Option<(usize, &FitError)> {
        let memo = self.entries.iter().find(|m| m.spec.as_ref().is_some_and(|s| s.same_scheduling_spec(pod)))?;
        let (state, advance, error) = memo.failure.as_ref()?;
        (*state == (cluster.state_generation(), cluster.nominations_generation())).then_some((*advance, error))
    }

    /// Remembers that a cycle for `pod` failed with `error` on the cluster as it is, advancing the rotating
    /// start index by `advance`; any success or change of the cluster makes it stale.
    pub(crate) fn record_failure(&mut self, pod: &Pod, cluster: &Cluster, advance: usize, error: &FitError) {
        if let Some(memo) = self.entries.iter_mut().find(|m| m.spec.as_ref().is_some_and(|s| s.same_scheduling_spec(pod))) {
            memo.failure = Some(((cluster.state_generation(), cluster.nominations_generation()), advance, error.clone()));
        }
    }
}

/// How many specs a profile remembers at this cluster size.
fn specs_remembered(n_nodes: usize, n_score_slots: usize) -> usize {
    let per_spec = n_nodes.max(1) * (16 + 8 * n_score_slots);
    (MEMO_BUDGET_BYTES / per_spec).clamp(SPECS_REMEMBERED.0, SPECS_REMEMBERED.1)
}

/// The results remembered for one pod spec. Laid out for the cycle's sweep over hundreds of nodes: per
/// node one 16-byte entry (the generation its results were computed on, the filter verdict as an index into
/// a small table of the distinct (plugin, status) rejections, whether raw scores are stored), and the raw
/// scores in a row per node.
#[derive(Clone, Default)]
pub(crate) struct Memo {
    /// The spec the entries were computed for.
    spec: Option<Pod>,
    nodes_generation: u64,
    /// Whether the current pod repeats the previous one with this spec: only then are results stored and
    /// reused.
    active: bool,
    entries: Vec<NodeEntry>,
    rejections: Vec<(usize, Status)>,
    /// `scores[node × n_slots + slot]`: raw scores of the profile's Score plugins, a row per node.
    scores: Vec<i64>,
    n_slots: usize,
    /// The last cycle for this spec failed: (the cluster's state generation then, how far it advanced the
    /// rotating start index, its error).
    failure: Option<((u64, u64), usize, FitError)>,
}

/// What is remembered of one node, for the node state of `generation` (0: nothing, as generations start
/// at 1).
#[derive(Clone, Copy, Debug)]
struct NodeEntry {
    generation: u64,
    /// Index into `rejections`, [`PASSED`] or [`UNKNOWN`].
    verdict: u32,
    has_scores: bool,
}

impl NodeEntry {
    const EMPTY: NodeEntry = NodeEntry { generation: 0, verdict: UNKNOWN, has_scores: false };
}

/// A verdict that the node passed every filter.
const PASSED: u32 = u32::MAX;

/// No verdict stored.
const UNKNOWN: u32 = u32::MAX - 1;

/// At most this many distinct rejections are remembered per spec (they are usually a handful: one per
/// plugin and reason); verdicts beyond them are computed again.
const MAX_REJECTIONS: usize = 1024;

impl Memo {
    /// Starts a cycle for `pod`; returns whether the memo is in use for it.
    fn begin(&mut self, pod: &Pod, cluster: &Cluster, n_score_slots: usize) -> bool {
        let same = self.nodes_generation == cluster.nodes_generation() && self.spec.as_ref().is_some_and(|s| s.same_scheduling_spec(pod));
        if !same {
            self.spec = Some(pod.clone());
            self.nodes_generation = cluster.nodes_generation();
            self.active = false;
            self.failure = None;
            return false;
        }
        if !self.active {
            // The second pod of a run: empty tables.
            let n = cluster.node_capacity();
            self.entries.clear();
            self.entries.resize(n, NodeEntry::EMPTY);
            self.rejections.clear();
            self.n_slots = n_score_slots;
            self.scores.clear();
            self.scores.resize(n * n_score_slots, 0);
            self.active = true;
        }
        true
    }

    /// The entry of `id` for the node state of `generation`, emptied first if it held another state's.
    fn entry_for(&mut self, id: NodeId, generation: u64) -> Option<&mut NodeEntry> {
        let entry = self.entries.get_mut(id.index())?;
        if entry.generation != generation {
            *entry = NodeEntry { generation, ..NodeEntry::EMPTY };
        }
        Some(entry)
    }

    /// The stored verdict of `id` if still valid for the node state of `generation`: `Some((None, _))`
    /// passed, `Some((Some((plugin, status)), _))` rejected; with whether the node's raw scores are stored.
    #[inline]
    pub(crate) fn verdict(&self, id: NodeId, generation: u64) -> Option<(Option<&(usize, Status)>, bool)> {
        let entry = self.entries.get(id.index())?;
        if entry.generation != generation {
            return None;
        }
        match entry.verdict {
            PASSED => Some((None, entry.has_scores)),
            UNKNOWN => None,
            idx => Some((self.rejections.get(idx as usize), entry.has_scores)),
        }
    }

    /// Stores the verdict of `id` (`None`: passed) for the node state of `generation`.
    pub(crate) fn store_verdict(&mut self, id: NodeId, generation: u64, verdict: Option<&(usize, Status)>) {
        let code = match verdict {
            None => PASSED,
            Some(rejection) => match self.rejections.iter().position(|r| r == rejection) {
                Some(pos) => pos as u32,
                None if self.rejections.len() < MAX_REJECTIONS => {
                    self.rejections.push(rejection.clone());
                    (self.rejections.len() - 1) as u32
                }
                None => return,
            },
        };
        if let Some(entry) = self.entry_for(id, generation) {
            entry.verdict = code;
        }
    }

    /// Whether the raw scores of `id` are stored and still valid for the node state of `generation`.
    #[inline]
    pub(crate) fn has_scores(&self, id: NodeId, generation: u64) -> bool {
        self.entries.get(id.index()).is_some_and(|e| e.generation == generation && e.has_scores)
    }

    /// The stored raw scores, a row of one per Score plugin slot per node (`[node × n_slots + slot]`);
    /// meaningful only where [`Memo::has_scores`].
    #[inline]
    pub(crate) fn rows(&self) -> &[i64] {
        &self.scores
    }

    /// Stores the raw scores of `id` (one per Score plugin slot) and marks them valid for the node state of
    /// `generation`. Returns false if `id` is not a node the memo was sized for.
    pub(crate) fn store_scores(&mut self, id: NodeId, generation: u64, row: impl Iterator<Item = i64>) -> bool {
        let n = self.n_slots;
        let Some(stored) = self.scores.get_mut(id.index() * n..(id.index() + 1) * n) else { return false };
        for (stored, score) in stored.iter_mut().zip(row) {
            *stored = score;
        }
        let Some(entry) = self.entry_for(id, generation) else { return false };
        entry.has_scores = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    fn setup() -> (Cluster, Pod, Pod) {
        let mut c = Cluster::new();
        c.add_node(&node("a").cpu("4").def).unwrap();
        c.add_node(&node("b").cpu("4").def).unwrap();
        let p1 = c.compile_pod(&pod("p1").cpu("1").def).unwrap();
        let p2 = c.compile_pod(&pod("p2").cpu("1").def).unwrap();
        (c, p1, p2)
    }

    #[test]
    fn active_from_the_second_pod_with_the_same_spec() {
        let (mut c, p1, p2) = setup();
        let mut m = Memo::default();
        assert!(!m.begin(&p1, &c, 1));
        assert!(m.begin(&p2, &c, 1), "a different name is the same spec");
        let other = c.compile_pod(&pod("p3").cpu("2").def).unwrap();
        assert!(!m.begin(&other, &c, 1), "another spec starts over");
        assert!(m.begin(&other, &c, 1));
        c.add_node(&node("c").def).unwrap();
        assert!(!m.begin(&other, &c, 1), "a new node starts over");
    }

    #[test]
    fn a_profile_remembers_several_specs() {
        let (mut c, p1, p2) = setup();
        let other = c.compile_pod(&pod("p3").cpu("2").def).unwrap();
        let mut memos = Memos::default();
        assert!(memos.begin(&p1, &c, 1).is_none());
        assert!(memos.begin(&other, &c, 1).is_none());
        assert!(memos.begin(&p2, &c, 1).is_some(), "p1's spec is still remembered after another spec");
        assert!(memos.begin(&other, &c, 1).is_some());
        for cpu in 3..3 + specs_remembered(c.node_capacity(), 1) {
            let p = c.compile_pod(&pod("x").cpu(&cpu.to_string()).def).unwrap();
            assert!(memos.begin(&p, &c, 1).is_none());
        }
        assert!(memos.begin(&p1, &c, 1).is_none(), "newer specs pushed p1's out");
    }

    #[test]
    fn small_clusters_remember_more_specs_than_large_ones() {
        assert_eq!(specs_remembered(2, 1), 256);
        assert_eq!(specs_remembered(10_000, 1), 139);
        assert_eq!(specs_remembered(1_000_000, 3), 16);
    }

    #[test]
    fn entries_hold_for_the_node_state_they_were_computed_on() {
        let (mut c, p1, p2) = setup();
        let mut m = Memo::default();
        m.begin(&p1, &c, 2);
        m.begin(&p2, &c, 2);
        let a = c.node_id("a").unwrap();
        m.store_verdict(a, c.node_generation(a), Some(&(3, Status::unschedulable("no"))));
        assert!(m.store_scores(a, c.node_generation(a), [7, 9].into_iter()));
        assert_eq!(m.verdict(a, c.node_generation(a)), Some((Some(&(3, Status::unschedulable("no"))), true)));
        assert!(m.has_scores(a, c.node_generation(a)) && m.rows()[a.index() * 2..][..2] == [7, 9]);
        let b = c.node_id("b").unwrap();
        assert_eq!(m.verdict(b, c.node_generation(b)), None);
        // Binding a pod to a changes its state: its entries no longer hold.
        c.add_pod(p1, a);
        assert_eq!(m.verdict(a, c.node_generation(a)), None);
        assert!(!m.has_scores(a, c.node_generation(a)));
    }
}
