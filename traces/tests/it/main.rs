//! Reading cluster, pod and workload files, the trace importers and the generator.

mod alibaba2018;
mod cluster_objects;
mod compact_nodes;
mod generate;
mod native;
mod openb;
mod workload_yaml;

use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(name)
}

/// A path for a file a test writes (`name` is unique per test).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("traces-it");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes `text` to a scratch file and returns its path.
fn scratch_file(name: &str, text: &str) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads a whole workload; an error is `location: message` (the file is checked to be named first).
fn read_workload(
    path: &Path,
    format: Option<traces::WorkloadFormat>,
    opts: &traces::ReadOptions,
) -> Result<Vec<traces::WorkloadItem>, String> {
    let located = |e: traces::TraceError| {
        assert_eq!(e.file, path, "{e}");
        assert!(e.to_string().starts_with(&format!("{}: ", path.display())), "{e}");
        format!("{}: {}", e.location, e.message)
    };
    traces::open_workload(path, format, opts).map_err(located)?.collect::<Result<Vec<_>, _>>().map_err(located)
}

fn pods(items: &[traces::WorkloadItem]) -> Vec<&traces::PodArrival> {
    items
        .iter()
        .map(|item| match item {
            traces::WorkloadItem::Pod(pod) => pod,
            other => panic!("expected a pod, got {other:?}"),
        })
        .collect()
}

fn cluster(text: &str) -> Result<traces::ClusterInput, String> {
    traces::parse_cluster(text, Path::new("c.yaml")).map_err(|e| e.to_string())
}

fn pod(text: &str) -> Result<scheduler_core::PodDef, String> {
    traces::parse_pod(text, Path::new("p.yaml")).map(|(d, _)| d).map_err(|e| e.to_string())
}

#[test]
fn kubectl_list_sample() {
    let input = traces::read_cluster(&sample("explain/cluster.yaml")).unwrap();
    let nodes: Vec<&str> = input.nodes.iter().map(|n| n.def.name.as_str()).collect();
    assert_eq!(nodes, ["node-a1", "node-a2", "node-b1", "node-b2"]);
    assert_eq!(input.pods.len(), 4);
    assert_eq!(input.skipped.finished_pods, 1);
    let c = traces::build_cluster(&input, Path::new("cluster.yaml")).unwrap();
    let a1 = c.node(c.node_id("node-a1").unwrap());
    assert_eq!((a1.requested.milli_cpu, a1.node.allocatable.milli_cpu, a1.n_pods()), (3000, 7910, 2));
    assert_eq!(a1.node.allocatable.memory, 31_613_740 * 1024);
    let b2 = c.node(c.node_id("node-b2").unwrap());
    assert!(b2.node.unschedulable && b2.node.has_hard_taints);
}

#[test]
fn compact_sample() {
    let input = traces::read_cluster(&sample("compact-cluster.yaml")).unwrap();
    assert_eq!(input.nodes.len(), 14);
    let gpu = &input.nodes[12].def;
    assert_eq!(gpu.name, "gpu-0");
    assert!(gpu.labels.contains(&("kubernetes.io/hostname".into(), "gpu-0".into())));
    assert!(gpu.allocatable.contains(&("nvidia.com/gpu".into(), "8".into())));
    assert!(gpu.allocatable.contains(&("cpu".into(), "96".into())));
}

#[test]
fn json_node_list_without_item_kinds_and_capacity_fallback() {
    let json = r#"{"apiVersion": "v1", "kind": "NodeList", "items": [
        {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}]}"#;
    let input = cluster(json).unwrap();
    assert_eq!(
        input.nodes[0].def.allocatable,
        [("cpu".to_string(), "2".to_string()), ("memory".into(), "4Gi".into()), ("pods".into(), "110".into())]
    );
}

#[test]
fn multi_document_yaml_and_other_kinds() {
    let yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeName: n1\n  containers: [{name: c, resources: {requests: {cpu: 1}}}]\n";
    let input = cluster(yaml).unwrap();
    assert_eq!((input.nodes.len(), input.pods.len()), (1, 1));
    assert_eq!(input.skipped.summary().unwrap(), "1 ConfigMap object(s)");
    assert_eq!(input.pods[0].def.containers[0].requests, [("cpu".to_string(), "1".to_string())]);
}

#[test]
fn pending_pods_are_not_cluster_state() {
    let yaml = "kind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n  spec: {containers: [{name: c}]}\n";
    assert_eq!(cluster(yaml).unwrap().skipped.unbound_pods, 1);
}

#[test]
fn errors_name_file_line_and_field() {
    assert!(
        cluster("kind: List\nitems: [\n").unwrap_err().starts_with("c.yaml: line "),
        "{}",
        cluster("kind: List\nitems: [\n").unwrap_err()
    );
    assert_eq!(
        cluster("kind: List\nitems:\n- kind: Node\n  metadata: {name: n1}\n  spec: {taints: [{key: k, effect: Never}]}\n").unwrap_err(),
        "c.yaml: items[0].spec.taints[0].effect: Unsupported value: \"Never\": supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\""
    );
    assert_eq!(
        cluster("kind: List\nitems:\n- kind: Node\n  metadata: {}\n").unwrap_err(),
        "c.yaml: items[0].metadata.name: Required value"
    );
    assert_eq!(
        cluster("apiVersion: v1\nmetadata: {name: x}\n").unwrap_err(),
        "c.yaml: kind: Required value: expected Node, Pod, List, NodeList, PodList or a simsched/v1 Cluster"
    );
    let err = cluster("kind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n  spec: {nodeName: n, containers: 3}\n").unwrap_err();
    assert!(err.starts_with("c.yaml: items[0].spec.containers: invalid type"), "{err}");
    let err = cluster("{\"kind\": \"List\", \"items\": [}").unwrap_err();
    assert!(err.starts_with("c.yaml: line 1 column 28: "), "{err}");
}

#[test]
fn compact_errors() {
    let err = cluster("apiVersion: simsched/v1\nkind: Cluster\nnodeGroups:\n- name: a\n  cpu: 4\n").unwrap_err();
    assert!(err.starts_with("c.yaml: line 5 column 3: missing field `memory`"), "{err}");
    let err = cluster("apiVersion: simsched/v1\nkind: Cluster\nnodeGroups:\n- name: a\n  cpu: 4\n  memory: 1Gi\n  gpus: 2\n").unwrap_err();
    assert!(err.starts_with("c.yaml: line 7 column 3: unknown field `gpus`"), "{err}");
    assert_eq!(
        cluster("apiVersion: simsched/v2\nkind: Cluster\nnodeGroups: []\n").unwrap_err(),
        "c.yaml: apiVersion: expected \"simsched/v1\", got \"simsched/v2\""
    );
}

#[test]
fn bad_quantities_are_reported_when_the_cluster_is_built() {
    let input = cluster("kind: List\nitems:\n- kind: Node\n  metadata: {name: n1}\n  status: {allocatable: {cpu: 4cores}}\n").unwrap();
    let err = traces::build_cluster(&input, Path::new("c.yaml")).unwrap_err().to_string();
    assert_eq!(
        err,
        "c.yaml: items[0] (node n1).status.allocatable.cpu: invalid quantity \"4cores\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    let input =
        cluster("kind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n  spec: {nodeName: gone, containers: [{name: c}]}\n").unwrap();
    assert_eq!(
        traces::build_cluster(&input, Path::new("c.yaml")).unwrap_err().to_string(),
        "c.yaml: items[0].spec.nodeName: node \"gone\" is not in the cluster"
    );
}

#[test]
fn pod_files() {
    let p = pod("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers: [{name: c, image: nginx, resources: {requests: {cpu: 0.5}}}]\n  tolerations: [{operator: Exists}]\n").unwrap();
    assert_eq!((p.namespace.as_str(), p.containers[0].requests[0].1.as_str()), ("ns", "0.5"));
    assert_eq!(
        pod("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: c}]}\n").unwrap_err(),
        "p.yaml: metadata.name: Required value"
    );
    assert_eq!(pod("kind: Deployment\n").unwrap_err(), "p.yaml: kind: expected \"Pod\", got \"Deployment\"");
    assert_eq!(
        pod("kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  tolerations: [{key: k, operator: Matches}]\n")
            .unwrap_err(),
        "p.yaml: spec.tolerations[0].operator: Unsupported value: \"Matches\": supported values: \"Equal\", \"Exists\""
    );
    assert_eq!(
        pod("kind: Pod\nmetadata: {name: p}\nspec: {}\n").unwrap_err(),
        "p.yaml: spec.containers: Required value: a pod has at least one container"
    );
}

#[test]
fn pod_features_without_a_plugin_are_reported() {
    let (_, facts) = traces::parse_pod(
        "kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity: {podAntiAffinity: {}}\n  resourceClaims: [{name: gpu}]\n  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]\n",
        Path::new("p.yaml"),
    )
    .unwrap();
    assert_eq!(facts.unsupported, [("DynamicResources", "spec.resourceClaims")]);
}

#[test]
fn pod_affinity_is_read_checked_and_written_back() {
    let text = "kind: Pod
metadata: {name: p, namespace: shop, labels: {app: web, rev: '1'}}
spec:
  containers: [{name: c}]
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: db}}
        topologyKey: topology.kubernetes.io/zone
        namespaces: [data]
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 40
        podAffinityTerm:
          labelSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}
          namespaceSelector: {}
          topologyKey: kubernetes.io/hostname
          matchLabelKeys: [rev]
";
    let (def, _) = traces::parse_pod(text, Path::new("p.yaml")).unwrap();
    let aff = def.pod_affinity.as_ref().unwrap();
    assert_eq!(
        (aff.required[0].topology_key.as_str(), aff.required[0].namespaces.as_slice()),
        ("topology.kubernetes.io/zone", ["data".to_string()].as_slice())
    );
    let anti = &def.pod_anti_affinity.as_ref().unwrap().preferred[0];
    assert_eq!(
        (anti.weight, anti.term.namespace_selector.is_some(), anti.term.match_label_keys.as_slice()),
        (40, true, ["rev".to_string()].as_slice())
    );
    let mut cluster = scheduler_core::Cluster::new();
    let compiled = cluster.compile_pod(&def).unwrap().affinity.unwrap();
    assert_eq!(compiled.preferred_anti_affinity[0].weight, 40);
    // Written back and read again: the same definition.
    let yaml = serde_json::to_string(&traces::kube::pod_manifest(&def)).unwrap();
    assert_eq!(traces::parse_pod(&yaml, Path::new("p.json")).unwrap().0, def);
    // The API server's checks, naming the field.
    let bad = text.replace("weight: 40", "weight: 400");
    assert_eq!(
        cluster.compile_pod(&traces::parse_pod(&bad, Path::new("p.yaml")).unwrap().0).map(|_| ()).unwrap_err().to_string(),
        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 400: must be in the range 1-100"
    );
}

#[test]
fn namespaces_in_cluster_files_carry_their_labels() {
    let input = traces::parse_cluster(
        "apiVersion: v1\nkind: List\nitems:\n- {kind: Namespace, metadata: {name: team-a, labels: {team: a}}}\n- {kind: Node, metadata: {name: n1}, status: {allocatable: {cpu: '1'}}}\n",
        Path::new("c.yaml"),
    )
    .unwrap();
    assert_eq!(input.namespaces[0].def, traces::NamespaceDef { name: "team-a".into(), labels: vec![("team".into(), "a".into())] });
    let cluster = traces::build_cluster(&input, Path::new("c.yaml")).unwrap();
    let ns = cluster.interner().get("team-a").unwrap();
    let labels = cluster.namespace_labels(ns);
    let team = cluster.interner().get("team").unwrap();
    assert_eq!(labels.get(team).map(|v| cluster.interner().resolve(v)), Some("a"));
    assert_eq!(labels.get(scheduler_core::well_known::LABEL_METADATA_NAME), Some(ns));
    let err = traces::parse_cluster("kind: Namespace\nmetadata: {name: Team_A}\n", Path::new("c.yaml")).unwrap_err();
    assert!(err.to_string().contains("metadata.name: Invalid value: \"Team_A\""), "{err}");
}

#[test]
fn topology_spread_constraints_are_read_and_checked() {
    let spec = |constraint: &str| {
        format!("kind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: c}}]\n  topologySpreadConstraints: [{constraint}]\n")
    };
    let (def, _) = traces::parse_pod(
        &spec("{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}, minDomains: 3}"),
        Path::new("p.yaml"),
    )
    .unwrap();
    let c = &def.topology_spread_constraints[0];
    assert_eq!((c.max_skew, c.topology_key.as_str(), c.min_domains), (1, "zone", Some(3)));
    assert_eq!(c.label_selector.as_ref().unwrap().match_labels, [("app".to_string(), "web".to_string())]);
    let cases = [
        (
            "{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: Maybe}",
            "p.yaml: spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
        ),
        (
            "{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Always}",
            "p.yaml: spec.topologySpreadConstraints[0].nodeTaintsPolicy: Unsupported value: \"Always\": supported values: \"Honor\", \"Ignore\"",
        ),
        (
            "{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchExpressions: [{key: a, operator: Is}]}}",
            "p.yaml: spec.topologySpreadConstraints[0].labelSelector.matchExpressions[0].operator: Invalid value: \"Is\": not a valid selector operator",
        ),
    ];
    for (constraint, want) in cases {
        assert_eq!(traces::parse_pod(&spec(constraint), Path::new("p.yaml")).unwrap_err().to_string(), want);
    }
}
