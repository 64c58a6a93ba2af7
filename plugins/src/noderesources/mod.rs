//! The resource plugins, which share their accounting of requests against allocatable.

pub mod node_resources_balanced_allocation;
pub mod node_resources_fit;
pub mod resource_allocation;
