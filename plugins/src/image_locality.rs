//! ImageLocality (Score): prefers nodes that already have the pod's container images, weighted by image
//! size and by how widely the image is spread over the cluster.
//!
//! `sum = Σ size · (nodes having the image / all nodes)` over init containers, containers and image
//! volumes whose (normalised, `:latest`-completed) image the node lists; clamped to
//! `[23 MiB, 1000 MiB × containers]` and scaled to 0–100. Node-side names are matched as listed.
//! Source: kube-scheduler 1.36 `pkg/scheduler/framework/plugins/imagelocality`. No arguments.

use std::sync::Arc;

use scheduler_core::{CycleContext, ExtensionPoints, NodeInfo, Plugin, Pod, ScorePlugin, StateSlot, Status};

const MB: i64 = 1024 * 1024;
/// Upstream `minThreshold`.
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Upstream `maxContainerThreshold`.
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// Image locality.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &str {
        "ImageLocality"
    }

    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints { score: Some(self), ..ExtensionPoints::default() }
    }
}

/// Upstream `sumImageScores`.
#[inline]
fn sum_image_scores(cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo) -> i64 {
    let mut sum = 0i64;
    if !node.node.images.is_empty() {
        let total_nodes = cx.cluster.n_nodes() as f64;
        for &image in &pod.images {
            if node.node.has_image(image)
                && let Some(state) = cx.cluster.image_state(image)
            {
                sum = sum.saturating_add((state.size_bytes as f64 * (f64::from(state.n_nodes) / total_nodes)) as i64);
            }
        }
    }
    sum
}

impl ScorePlugin for ImageLocality {
    /// The score reads only the pod and this node (and, for image spread, the set of nodes).
    fn node_local(&self) -> bool {
        true
    }

    fn score(&self, cx: &CycleContext<'_>, pod: &Pod, node: &NodeInfo, _state: &StateSlot) -> Result<i64, Status> {
        Ok(calculate_priority(sum_image_scores(cx, pod, node), i64::from(pod.n_containers)))
    }

    fn score_nodes(
        &self,
        cx: &CycleContext<'_>,
        pod: &Pod,
        nodes: &[&NodeInfo],
        _state: &StateSlot,
        out: &mut [i64],
    ) -> Result<(), Status> {
        let n_containers = i64::from(pod.n_containers);
        let without_images = calculate_priority(0, n_containers);
        if pod.images.iter().all(|&image| cx.cluster.image_state(image).is_none()) {
            // No node has any of the pod's images.
            out.fill(without_images);
            return Ok(());
        }
        for (node, score) in nodes.iter().zip(out.iter_mut()) {
            let sum = sum_image_scores(cx, pod, node);
            *score = if sum == 0 { without_images } else { calculate_priority(sum, n_containers) };
        }
        Ok(())
    }
}

/// Upstream `calculatePriority`.
fn calculate_priority(sum: i64, n_containers: i64) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD.saturating_mul(n_containers);
    let sum = if sum < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else if sum > max_threshold {
        max_threshold
    } else {
        sum
    };
    scheduler_core::MAX_NODE_SCORE.saturating_mul(sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;
    use scheduler_core::testing::{NodeBuilder, node, pod};

    #[test]
    fn spec_example_500mib_on_half_the_nodes_scores_23() {
        let nodes: Vec<NodeBuilder> =
            (0..10).map(|i| if i < 5 { node(&format!("n{i}")).image(&["app:v1"], 500 * MB) } else { node(&format!("n{i}")) }).collect();
        let mut w = World::new(nodes);
        let p = w.pod(pod("p").image("app:v1"));
        let (raw, _) = w.score(Arc::new(ImageLocality), &p).unwrap();
        assert_eq!(raw, [23, 23, 23, 23, 23, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn untagged_images_match_latest_only() {
        let mut w = World::new(vec![node("a").image(&["nginx:latest"], 300 * MB), node("b").image(&["nginx"], 300 * MB)]);
        let p = w.pod(pod("p").image("nginx"));
        let (raw, _) = w.score(Arc::new(ImageLocality), &p).unwrap();
        // 300 MiB × 1/2 = 150 MiB ⇒ 100·(150−23)/(1000−23) = 12.
        assert_eq!(raw, [12, 0]);
    }

    #[test]
    fn small_images_score_zero_and_huge_ones_cap_at_100() {
        assert_eq!(calculate_priority(10 * MB, 1), 0);
        assert_eq!(calculate_priority(5000 * MB, 1), 100);
        assert_eq!(calculate_priority(5000 * MB, 2), 100);
        assert_eq!(calculate_priority(1000 * MB, 2), 49);
    }

    #[test]
    fn size_comes_from_the_first_node_reporting_the_name() {
        let mut w = World::new(vec![node("a").image(&["app:v1"], 600 * MB), node("b").image(&["app:v1"], 100 * MB)]);
        let p = w.pod(pod("p").image("app:v1"));
        let (raw, _) = w.score(Arc::new(ImageLocality), &p).unwrap();
        // Both nodes: 600 MiB × 2/2 ⇒ 100·(600−23)/977 = 59.
        assert_eq!(raw, [59, 59]);
    }
}
