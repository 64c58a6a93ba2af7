//! FirstFit (PreScore, Score): the feasible node that comes first in the scheduler's node order.
//!
//! First fit from bin packing (Johnson, 1974): place each item in the first bin it fits. The built-in
//! `first-fit` policy sets `percentageOfNodesToScore: 100` so that every node is considered; with sampling,
//! the first node among those examined wins. No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, PreScorePlugin, ScorePlugin, StateSlot, Status};

/// The first feasible node in node order scores 100, every other 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstFit;

/// PreScore state: the smallest node-order position among the feasible nodes.
#[derive(Clone, Copy, Debug)]
struct FirstRank(usize);

impl Plugin for FirstFit {
    fn name(&self) -> &str {
        "FirstFit"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { pre_score: Some(self.clone()), score: Some(self), ..ExtensionPoints::default() }
    }
}

impl PreScorePlugin for FirstFit {
    fn pre_score(&self, cx: &CycleContext<'_>, _pod: &Pod, nodes: &[&NodeInfo], state: &mut StateSlot) -> Status {
        let first = nodes.iter().map(|n| cx.cluster.node_rank(n.id)).min();
        state.put(FirstRank(first.unwrap_or(usize::MAX)));
        Status::success()
    }
}

impl ScorePlugin for FirstFit {
    fn score(&self, cx: &CycleContext<'_>, _pod: &Pod, node: &NodeInfo, state: &StateSlot) -> Result<i64, Status> {
        let Some(&FirstRank(first)) = state.get::<FirstRank>() else {
            return Err(Status::error("FirstFit scores only after its PreScore"));
        };
        let rank = cx.cluster.node_rank(node.id);
        Ok(if rank == first { scheduler_core::MAX_NODE_SCORE } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn the_first_node_in_order_wins() {
        let mut w = World::new(vec![
            node("a").label("topology.kubernetes.io/zone", "x"),
            node("b").label("topology.kubernetes.io/zone", "y"),
            node("c"),
        ]);
        let p = w.pod(pod("p"));
        assert_eq!(w.score(Arc::new(FirstFit), &p).unwrap().1, [100, 0, 0]);
    }
}
