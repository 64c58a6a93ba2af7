//! The compact format's `nodes:` list and the cluster writer.

use scheduler_core::{NodeDef, TaintDef, TaintEffect};

use super::{cluster, sample, scratch};

/// Nodes with labels and allocatable sorted, to compare what the writer and the reader order differently.
fn normalised(nodes: &[NodeDef]) -> Vec<NodeDef> {
    nodes
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n.labels.sort();
            n.allocatable.sort();
            n
        })
        .collect()
}

fn round_trip(nodes: &[NodeDef], name: &str) -> (String, Vec<NodeDef>) {
    let path = scratch(name);
    traces::write_cluster(nodes, &path).unwrap();
    let read = traces::read_cluster(&path).unwrap().nodes.into_iter().map(|n| n.def).collect();
    (std::fs::read_to_string(&path).unwrap(), read)
}

#[test]
fn openb_nodes_survive_the_compact_format() {
    let nodes: Vec<NodeDef> =
        traces::read_cluster(&sample("openb/openb_node_list_all_node.csv")).unwrap().nodes.into_iter().map(|n| n.def).collect();
    let (text, read) = round_trip(&nodes, "openb-compact.yaml");
    assert_eq!(normalised(&read), normalised(&nodes));
    assert!(text.contains("\nnodes:\n- {name: openb-node-0000, cpu: 32000m, memory: 262144Mi}\n"), "{}", &text[..300]);
}

#[test]
fn groups_keep_the_node_order() {
    let node = |name: &str, cpu: &str| NodeDef {
        name: name.into(),
        labels: vec![("kubernetes.io/hostname".into(), name.into())],
        allocatable: vec![("cpu".into(), cpu.into()), ("memory".into(), "1Gi".into()), ("pods".into(), "110".into())],
        ..NodeDef::default()
    };
    let mut tainted = node("t-0", "4");
    tainted.taints = vec![TaintDef { key: "k".into(), value: String::new(), effect: TaintEffect::NoSchedule }];
    tainted.unschedulable = true;
    let nodes = vec![
        node("a-0", "4"),
        node("a-1", "4"),
        node("a-2", "4"),
        node("b-0", "2"),
        node("b-1", "8"),
        node("c-0", "1"),
        node("c-1", "1"),
        tainted,
    ];
    let (text, read) = round_trip(&nodes, "groups.yaml");
    for line in [
        "{name: a, count: 3, cpu: 4, memory: 1Gi}",
        "- {name: b-0, cpu: 2, memory: 1Gi}\n- {name: b-1, cpu: 8, memory: 1Gi}\n- {name: c-0, cpu: 1, memory: 1Gi}\n- {name: c-1, cpu: 1, memory: 1Gi}\n",
        "- {name: t-0, cpu: 4, memory: 1Gi, taints: [{key: k, effect: NoSchedule}], unschedulable: true}\n",
    ] {
        assert!(text.contains(line), "{text}");
    }
    assert_eq!(text.matches("name: ").count(), 6, "one group and five nodes: {text}");
    assert_eq!(read, nodes);
}

#[test]
fn nodes_entries_are_read_and_checked() {
    let input = cluster("apiVersion: simsched/v1\nkind: Cluster\nnodeGroups:\n- {name: g, count: 2, cpu: 1, memory: 1Gi}\nnodes:\n- {name: big, cpu: 64, memory: 1Ti, pods: 250, resources: {nvidia.com/gpu: 8}, labels: {zone: a}}\n").unwrap();
    let names: Vec<&str> = input.nodes.iter().map(|n| n.def.name.as_str()).collect();
    assert_eq!(names, ["g-0", "g-1", "big"]);
    assert_eq!(input.nodes[2].origin, "nodes[0]");
    assert_eq!(input.nodes[2].def.labels, [("zone".to_string(), "a".to_string()), ("kubernetes.io/hostname".into(), "big".into())]);
    let err = cluster("apiVersion: simsched/v1\nkind: Cluster\nnodes:\n- {name: n, cpu: 1, memory: 1Gi, count: 2}\n").unwrap_err();
    assert!(err.starts_with("c.yaml: line 4 column 34: unknown field `count`"), "{err}");
    let err = cluster("apiVersion: simsched/v1\nkind: Cluster\nnodes:\n- {name: '', cpu: 1, memory: 1Gi}\n").unwrap_err();
    assert_eq!(err, "c.yaml: nodes[0].name: Required value");
    let with_images = NodeDef { name: "n".into(), images: vec![scheduler_core::ImageDef::default()], ..NodeDef::default() };
    let path = scratch("images.yaml");
    assert_eq!(
        traces::write_cluster(&[with_images], &path).unwrap_err().to_string(),
        format!(
            "{}: node \"n\": cannot be written in the compact format: it lists images, which the compact format does not hold",
            path.display()
        )
    );
}
