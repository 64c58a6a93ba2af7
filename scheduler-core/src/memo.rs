//! Reuse of node-local filter verdicts and raw scores across pods with the same scheduling spec.
//!
//! A verdict or score computed for a node is stamped with the node's generation (a process-wide unique
//! number per node state) and the memo's epoch (one per pod spec and set of nodes). It is reused only when
//! both still match, so a result is reused exactly when recomputing it would give the same value. A
//! profile keeps memos for its few most recently seen specs ([`Memos`]), so that pods of several shapes
//! arriving interleaved, and a pending pod tried again, each find their own.

use crate::cluster::Cluster;
use crate::node::{NodeId, NodeInfo};
use crate::pod::Pod;
use crate::status::Status;

/// A node's filter verdict: `None` passed, else (plugin, status).
pub(crate) type Verdict = Option<(usize, Status)>;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Stamp {
    epoch: u32,
    generation: u64,
}

/// How many specs a profile remembers results for.
const SPECS_REMEMBERED: usize = 4;

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
            None if self.entries.len() < SPECS_REMEMBERED => {
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
}

/// The results remembered for one pod spec.
#[derive(Clone, Default)]
pub(crate) struct Memo {
    /// The spec the current epoch's entries were computed for.
    spec: Option<Pod>,
    nodes_generation: u64,
    epoch: u32,
    /// Whether the current pod repeats the previous one: only then are results stored and reused.
    active: bool,
    verdict_stamps: Vec<Stamp>,
    verdicts: Vec<Verdict>,
    score_stamps: Vec<Stamp>,
    /// `scores[slot × n_nodes + node]`: raw scores of the profile's Score plugins.
    scores: Vec<i64>,
    n_nodes: usize,
}

impl Memo {
    /// Starts a cycle for `pod`; returns whether the memo is in use for it.
    fn begin(&mut self, pod: &Pod, cluster: &Cluster, n_score_slots: usize) -> bool {
        let same = self.nodes_generation == cluster.nodes_generation() && self.spec.as_ref().is_some_and(|s| s.same_scheduling_spec(pod));
        if !same {
            self.epoch = self.epoch.wrapping_add(1);
            self.spec = Some(pod.clone());
            self.nodes_generation = cluster.nodes_generation();
            self.active = false;
            return false;
        }
        if !self.active {
            // The second pod of a run: size the tables; entries of older epochs are never read.
            let n = cluster.node_capacity();
            self.verdict_stamps.resize(n, Stamp::default());
            self.verdicts.resize(n, None);
            self.score_stamps.resize(n, Stamp::default());
            self.n_nodes = n;
            self.scores.clear();
            self.scores.resize(n * n_score_slots, 0);
            self.active = true;
        }
        true
    }

    fn stamp(&self, node: &NodeInfo) -> Stamp {
        Stamp { epoch: self.epoch, generation: node.generation }
    }

    /// The stored verdict of `id`, if still valid.
    #[inline]
    pub(crate) fn verdict(&self, id: NodeId, node: &NodeInfo) -> Option<&Verdict> {
        let idx = id.index();
        (self.verdict_stamps.get(idx) == Some(&self.stamp(node))).then(|| &self.verdicts[idx])
    }

    /// Stores the verdict of `id`.
    pub(crate) fn store_verdict(&mut self, id: NodeId, node: &NodeInfo, verdict: Verdict) {
        let idx = id.index();
        if idx < self.verdicts.len() {
            self.verdict_stamps[idx] = self.stamp(node);
            self.verdicts[idx] = verdict;
        }
    }

    /// Whether the raw scores of `id` are stored and still valid.
    #[inline]
    pub(crate) fn has_scores(&self, id: NodeId, node: &NodeInfo) -> bool {
        self.score_stamps.get(id.index()) == Some(&self.stamp(node))
    }

    /// The stored raw scores of Score plugin `slot`, by node index; meaningful only for nodes where
    /// [`Memo::has_scores`].
    #[inline]
    pub(crate) fn slot_scores(&self, slot: usize) -> &[i64] {
        &self.scores[slot * self.n_nodes..(slot + 1) * self.n_nodes]
    }

    /// Stores the raw scores of `id` (one per Score plugin slot) and marks them valid for `node`'s state.
    pub(crate) fn store_scores(&mut self, id: NodeId, node: &NodeInfo, row: impl Iterator<Item = i64>) {
        let idx = id.index();
        if idx >= self.score_stamps.len() {
            return;
        }
        self.score_stamps[idx] = self.stamp(node);
        for (slot, score) in row.enumerate() {
            self.scores[slot * self.n_nodes + idx] = score;
        }
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
        for cpu in ["3", "4", "5", "6"] {
            let p = c.compile_pod(&pod("x").cpu(cpu).def).unwrap();
            assert!(memos.begin(&p, &c, 1).is_none());
        }
        assert!(memos.begin(&p1, &c, 1).is_none(), "four newer specs pushed p1's out");
    }

    #[test]
    fn entries_hold_for_the_node_state_they_were_computed_on() {
        let (mut c, p1, p2) = setup();
        let mut m = Memo::default();
        m.begin(&p1, &c, 2);
        m.begin(&p2, &c, 2);
        let a = c.node_id("a").unwrap();
        m.store_verdict(a, c.node(a), Some((3, Status::unschedulable("no"))));
        m.store_scores(a, c.node(a), [7, 9].into_iter());
        assert_eq!(m.verdict(a, c.node(a)), Some(&Some((3, Status::unschedulable("no")))));
        assert!(m.has_scores(a, c.node(a)) && m.slot_scores(1)[a.index()] == 9);
        let b = c.node_id("b").unwrap();
        assert_eq!(m.verdict(b, c.node(b)), None);
        // Binding a pod to a changes its state: its entries no longer hold.
        c.add_pod(p1, a);
        assert_eq!(m.verdict(a, c.node(a)), None);
        assert!(!m.has_scores(a, c.node(a)));
    }
}
