//! Tables of per-node values derived from the nodes' pods, kept in step with the cluster through its
//! change record ([`Cluster::nodes_changed_since`]): a plugin that keeps counts visits the nodes whose pods
//! changed since it last looked, or every node when that is no longer known.

use scheduler_core::{Cluster, NodeId, NodeInfo};

/// Where a table stands relative to the cluster.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cursor {
    /// The cluster's state generation the table was last brought up to (0: never).
    pub(crate) state: u64,
    /// The cluster's node-set generation then.
    pub(crate) nodes: u64,
}

pub(crate) enum CatchUp<I> {
    UpToDate,
    Nodes(I),
    Rebuild,
}

impl Cursor {
    pub(crate) fn catch_up<'c>(&mut self, cluster: &'c Cluster) -> CatchUp<impl Iterator<Item = NodeId> + 'c> {
        let same_nodes = self.nodes == cluster.nodes_generation() && self.state != 0;
        let step = if same_nodes && self.state == cluster.state_generation() {
            CatchUp::UpToDate
        } else if let Some(changed) = cluster.nodes_changed_since(self.state).filter(|_| same_nodes) {
            CatchUp::Nodes(changed)
        } else {
            CatchUp::Rebuild
        };
        self.state = cluster.state_generation();
        self.nodes = cluster.nodes_generation();
        step
    }
}

/// A table of per-node values derived from the nodes' pods, kept in step with the cluster.
pub(crate) trait NodeTable {
    fn cursor(&mut self) -> &mut Cursor;

    /// Recomputes `node`'s value if the node changed since it was computed.
    fn update(&mut self, cluster: &Cluster, node: &NodeInfo);

    /// Forgets every value, before a full recount.
    fn reset(&mut self);

    /// Brings the table up to date: the nodes changed since it last looked, or all of them.
    fn sync(&mut self, cluster: &Cluster) {
        match self.cursor().catch_up(cluster) {
            CatchUp::UpToDate => {}
            CatchUp::Nodes(changed) => {
                for id in changed {
                    if let Some(node) = cluster.get_node(id) {
                        self.update(cluster, node);
                    }
                }
            }
            CatchUp::Rebuild => {
                self.reset();
                for &id in cluster.node_order() {
                    self.update(cluster, cluster.node(id));
                }
            }
        }
    }
}
