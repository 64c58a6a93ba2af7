//! Random (Score): every feasible node scores the same, so that the framework's seeded uniform tie-break
//! picks one of them at random.
//!
//! With `percentageOfNodesToScore: 100` (as the built-in `random` policy sets) the choice is uniform over
//! all feasible nodes. The usual baseline of scheduling studies; no arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

/// Uniform random placement among feasible nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

impl Plugin for Random {
    fn name(&self) -> &str {
        "Random"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

impl ScorePlugin for Random {
    /// The score reads nothing.
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, _cx: &CycleContext<'_>, _pod: &Pod, _node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        Ok(0)
    }
}
