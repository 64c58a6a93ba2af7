//! Fifo (QueueSort): pods in the order they entered the queue, whatever their priority.
//!
//! The classic first-come-first-served baseline. No arguments.

use std::sync::Arc;

use scheduler_core::{ExtensionPoints, Plugin, QueueSortPlugin, QueuedPodInfo};

/// First in, first out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl Plugin for Fifo {
    fn name(&self) -> &str {
        "Fifo"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { queue_sort: Some(self), ..ExtensionPoints::default() }
    }
}

impl QueueSortPlugin for Fifo {
    fn less(&self, a: &QueuedPodInfo<'_>, b: &QueuedPodInfo<'_>) -> bool {
        a.timestamp < b.timestamp
    }
}
