//! Built-in policies: named scheduler configurations, usable without writing YAML (`--policy binpack`),
//! and queue orders (`--policy binpack/sjf`).

use scheduler_core::{ConfigError, SchedulerConfig};

/// A named placement policy.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Name on the command line.
    pub name: &'static str,
    /// What it does, and its source.
    pub description: &'static str,
    /// The profile's Score plugin (`None`: kube-scheduler's default scoring).
    score: Option<&'static str>,
    /// Whether the Score plugin also has a PreScore.
    pre_score: bool,
    /// `pluginConfig` entries, as YAML list items.
    plugin_config: &'static str,
    /// `percentageOfNodesToScore`, when the policy looks at every node.
    percentage_of_nodes_to_score: Option<u32>,
    /// Whether the Score plugin also chooses GPUs (Reserve).
    reserve: bool,
    /// Whether GpuShare checks GPU devices (every policy but kube-scheduler's default profile, which
    /// knows only totals).
    gpu_share: bool,
}

impl Policy {
    /// A policy of one Score plugin without PreScore or arguments that looks at every node and checks GPU
    /// devices; `reserve`: the plugin also chooses GPUs.
    const fn every_node(name: &'static str, description: &'static str, score: &'static str, reserve: bool) -> Policy {
        Policy {
            name,
            description,
            score: Some(score),
            pre_score: false,
            plugin_config: "",
            percentage_of_nodes_to_score: Some(100),
            reserve,
            gpu_share: true,
        }
    }
}

/// The placement policies.
pub const POLICIES: [Policy; 13] = [
    Policy {
        name: "default",
        description: "kube-scheduler 1.36's default profile (the plugins simsched provides; GPUs checked as totals only)",
        score: None,
        pre_score: false,
        plugin_config: "",
        percentage_of_nodes_to_score: None,
        reserve: false,
        gpu_share: false,
    },
    Policy {
        name: "spread",
        description: "NodeResourcesFit LeastAllocated only: the emptiest node (kube-scheduler's scoring strategy)",
        score: Some("NodeResourcesFit"),
        pre_score: true,
        plugin_config: "",
        percentage_of_nodes_to_score: None,
        reserve: false,
        gpu_share: true,
    },
    Policy {
        name: "binpack",
        description: "NodeResourcesFit MostAllocated only: the fullest node (kube-scheduler's bin-packing strategy)",
        score: Some("NodeResourcesFit"),
        pre_score: true,
        plugin_config: "  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: MostAllocated\n",
        percentage_of_nodes_to_score: None,
        reserve: false,
        gpu_share: true,
    },
    Policy {
        name: "balanced",
        description: "NodeResourcesBalancedAllocation only: the node whose cpu and memory use the pod balances best",
        score: Some("NodeResourcesBalancedAllocation"),
        pre_score: true,
        plugin_config: "",
        percentage_of_nodes_to_score: None,
        reserve: false,
        gpu_share: true,
    },
    Policy {
        name: "random",
        description: "a feasible node uniformly at random, a shared GPU at random (Random; Weng et al., ATC 2023; every node considered)",
        score: Some("Random"),
        pre_score: true,
        plugin_config: "",
        percentage_of_nodes_to_score: Some(100),
        reserve: true,
        gpu_share: true,
    },
    Policy {
        name: "first-fit",
        description: "the first feasible node in node order (first fit, Johnson 1974; every node considered)",
        score: Some("FirstFit"),
        pre_score: true,
        plugin_config: "",
        percentage_of_nodes_to_score: Some(100),
        reserve: false,
        gpu_share: true,
    },
    Policy {
        name: "best-fit",
        description: "the node left with the least free capacity over the requested resources (best fit, Johnson 1974; every node considered)",
        score: Some("BestFit"),
        pre_score: false,
        plugin_config: "",
        percentage_of_nodes_to_score: Some(100),
        reserve: false,
        gpu_share: true,
    },
    Policy {
        name: "tetris",
        description: "the node whose free resources align best with the request (Tetris, Grandl et al., SIGCOMM 2014; every node considered)",
        score: Some("Tetris"),
        pre_score: false,
        plugin_config: "",
        percentage_of_nodes_to_score: Some(100),
        reserve: false,
        gpu_share: true,
    },
    Policy::every_node(
        "dot-product",
        "the smallest dot product of free (CPU, GPU) and request (DotProduct; Weng et al., ATC 2023; every node considered)",
        "DotProduct",
        false,
    ),
    Policy::every_node(
        "gpu-clustering",
        "nodes running pods of the same GPU request first (GpuClustering; Weng et al., ATC 2023; every node considered)",
        "GpuClustering",
        false,
    ),
    Policy::every_node(
        "gpu-packing",
        "shared GPUs first, then used nodes, then idle nodes (GpuPacking; Weng et al., ATC 2023; every node considered)",
        "GpuPacking",
        false,
    ),
    Policy::every_node(
        "gpu-best-fit",
        "the least free (CPU, GPU) after placement (GpuBestFit, the paper's BestFit; Weng et al., ATC 2023; every node considered)",
        "GpuBestFit",
        false,
    ),
    Policy::every_node("fgd", "the least growth of GPU fragmentation (FGD; Weng et al., ATC 2023; every node considered)", "FGD", true),
];

/// The policies of Weng et al.'s evaluation (USENIX ATC 2023, Fig. 9), in the paper's order.
pub const FGD_PAPER_POLICIES: [&str; 6] = ["random", "dot-product", "gpu-clustering", "gpu-packing", "gpu-best-fit", "fgd"];

/// Queue orders: (name, QueueSort plugin, description).
pub const QUEUE_ORDERS: [(&str, &str, &str); 4] = [
    ("priority", "PrioritySort", "higher priority first, then arrival (kube-scheduler's default)"),
    ("fifo", "Fifo", "arrival order, whatever the priority"),
    ("sjf", "ShortestJobFirst", "the shortest pod first (its duration from the trace)"),
    ("mjct", "ShortestRemainingJobFirst", "pods of the job with the least remaining work first, to minimise mean job completion time"),
];

/// The configuration of a policy spec `NAME` or `NAME/QUEUE` (e.g. `binpack/sjf`).
pub fn policy_config(spec: &str) -> Result<SchedulerConfig, ConfigError> {
    SchedulerConfig::from_yaml(&policy_spec_yaml(spec)?)
}

/// The `KubeSchedulerConfiguration` YAML of a policy spec `NAME` or `NAME/QUEUE`: what to start from to
/// write a configuration of one's own.
pub fn policy_spec_yaml(spec: &str) -> Result<String, ConfigError> {
    let (name, queue) = spec.split_once('/').unwrap_or((spec, "priority"));
    let Some(policy) = POLICIES.iter().find(|p| p.name == name) else {
        let names: Vec<&str> = POLICIES.iter().map(|p| p.name).collect();
        return Err(ConfigError::new("policy", format!("unknown policy {name:?}; built-in policies: {}", names.join(", "))));
    };
    let Some(&(_, queue_plugin, _)) = QUEUE_ORDERS.iter().find(|(q, _, _)| *q == queue) else {
        let names: Vec<&str> = QUEUE_ORDERS.iter().map(|(q, _, _)| *q).collect();
        return Err(ConfigError::new("policy", format!("unknown queue order {queue:?}; queue orders: {}", names.join(", "))));
    };
    Ok(policy_yaml(policy, queue_plugin))
}

/// The `KubeSchedulerConfiguration` of a policy with a queue order.
pub fn policy_yaml(policy: &Policy, queue_plugin: &str) -> String {
    let mut yaml = String::from(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n",
    );
    if let Some(pct) = policy.percentage_of_nodes_to_score {
        yaml.push_str(&format!("  percentageOfNodesToScore: {pct}\n"));
    }
    yaml.push_str("  plugins:\n");
    if policy.gpu_share {
        yaml.push_str("    filter:\n      enabled: [{name: GpuShare}]\n");
    }
    if queue_plugin != "PrioritySort" {
        yaml.push_str(&format!("    queueSort:\n      disabled: [{{name: '*'}}]\n      enabled: [{{name: {queue_plugin}}}]\n"));
    }
    if let Some(score) = policy.score {
        let pre_score = if policy.pre_score { format!("[{{name: {score}}}]") } else { "[]".to_string() };
        yaml.push_str(&format!("    preScore:\n      disabled: [{{name: '*'}}]\n      enabled: {pre_score}\n"));
        yaml.push_str(&format!("    score:\n      disabled: [{{name: '*'}}]\n      enabled: [{{name: {score}, weight: 1}}]\n"));
        if policy.reserve {
            yaml.push_str(&format!("    reserve:\n      enabled: [{{name: {score}}}]\n"));
        }
    }
    if !policy.plugin_config.is_empty() {
        yaml.push_str("  pluginConfig:\n");
        yaml.push_str(policy.plugin_config);
    }
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::fragmentation::{TypicalPod, TypicalPods};
    use scheduler_core::gpu::GpuRequest;
    use scheduler_core::{Cluster, ExtensionPoint, Scheduler};
    use std::sync::Arc;

    #[test]
    fn every_policy_and_queue_order_builds() {
        let one_kind =
            TypicalPod { milli_cpu: 1000, gpu: GpuRequest { count: 1, milli: 500 }, node_affinity: None, count: 1, frequency: 1.0 };
        let registry = crate::registry_for_workload(Arc::new(TypicalPods::new(vec![one_kind])));
        for p in POLICIES {
            for (q, queue_plugin, _) in QUEUE_ORDERS {
                let config = policy_config(&format!("{}/{q}", p.name)).unwrap();
                let s = Scheduler::from_config(&config, &registry, &mut Cluster::new(), 0).unwrap();
                let profile = &s.profiles()[0];
                assert_eq!(profile.plugins_at(ExtensionPoint::QueueSort), [queue_plugin], "{}/{q}", p.name);
                if let Some(score) = p.score {
                    assert_eq!(profile.plugins_at(ExtensionPoint::Score), [score], "{}", p.name);
                }
                let reserve: &[&str] = if p.reserve { &[p.score.unwrap()] } else { &[] };
                assert_eq!(profile.plugins_at(ExtensionPoint::Reserve), reserve, "{}", p.name);
                assert_eq!(profile.plugins_at(ExtensionPoint::Filter).contains(&"GpuShare"), p.gpu_share, "{}", p.name);
            }
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        assert_eq!(
            policy_config("pack").unwrap_err().to_string(),
            "policy: unknown policy \"pack\"; built-in policies: default, spread, binpack, balanced, random, first-fit, best-fit, tetris, dot-product, gpu-clustering, gpu-packing, gpu-best-fit, fgd"
        );
        assert_eq!(
            policy_config("spread/lifo").unwrap_err().to_string(),
            "policy: unknown queue order \"lifo\"; queue orders: priority, fifo, sjf, mjct"
        );
    }
}
