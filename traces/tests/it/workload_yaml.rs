//! The YAML workload: reading, validation errors, and the writer's round trip.

use std::sync::Arc;

use traces::{NodeEvent, ReadOptions, WorkloadItem};

use super::{read_workload, scratch, scratch_file};

const EXAMPLE: &str = "\
apiVersion: simsched/v1
kind: Workload
templates:
  web: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, resources: {requests: {cpu: 500m, memory: 1Gi}}}]}}
  batch:
    apiVersion: v1
    kind: Pod
    metadata: {name: batch-pod}
    spec:
      priority: 10
      containers: [{name: c, resources: {requests: {cpu: 2, memory: 4Gi}}}]
      tolerations: [{key: dedicated, operator: Exists}]
pods:
- {name: web, template: web, arrival: 0, duration: 300, count: 3, every: 10, job: frontend}
- {name: solo, template: batch, arrival: 20.5}
dagJobs:
- name: etl
  arrival: 100
  tasks:
  - {name: extract, template: web, instances: 4, duration: 60}
  - {name: load, template: batch, instances: 2, duration: 30, after: [extract]}
nodeEvents:
- {time: 3600, fail: node-3}
- {time: 7200, remove: node-4}
- {time: 20, add: {name: new-1, cpu: 8, memory: 32Gi}}
";

fn parse(text: &str) -> Result<Vec<WorkloadItem>, String> {
    traces::workload_yaml::parse(text, std::path::Path::new("w.yaml")).map_err(|e| format!("{}: {}", e.location, e.message))
}

#[test]
fn the_documented_example() {
    let path = scratch_file("example.yaml", EXAMPLE);
    let items = read_workload(&path, None, &ReadOptions::default()).unwrap();
    let summary: Vec<(u64, String)> = items
        .iter()
        .map(|item| {
            let what = match item {
                WorkloadItem::Pod(p) => format!("pod {}", p.name),
                WorkloadItem::Dag(j) => format!("job {}", j.name),
                WorkloadItem::Node(NodeEvent::Add { node, .. }) => format!("add {}", node.name),
                WorkloadItem::Node(NodeEvent::Remove { name, .. }) => format!("remove {name}"),
                WorkloadItem::Node(NodeEvent::Fail { name, .. }) => format!("fail {name}"),
            };
            (item.time() / 1_000_000, what)
        })
        .collect();
    let expected = [
        (0, "pod web-0"),
        (10, "pod web-1"),
        (20, "add new-1"),
        (20, "pod web-2"),
        (20, "pod solo"),
        (100, "job etl"),
        (3600, "fail node-3"),
        (7200, "remove node-4"),
    ];
    assert_eq!(summary, expected.map(|(t, w)| (t, w.to_string())));
    let WorkloadItem::Pod(web) = &items[0] else { panic!() };
    assert_eq!((web.duration, web.job.as_deref(), web.spec.name.as_str()), (Some(300_000_000), Some("frontend"), "web"));
    assert_eq!(web.spec.labels, [("app".to_string(), "web".to_string())]);
    let WorkloadItem::Pod(solo) = &items[4] else { panic!() };
    assert_eq!((solo.time, solo.duration, solo.spec.name.as_str(), solo.spec.priority), (20_500_000, None, "batch-pod", Some(10)));
    let WorkloadItem::Dag(etl) = &items[5] else { panic!() };
    assert_eq!(etl.tasks.len(), 2);
    assert_eq!((etl.tasks[1].instances, etl.tasks[1].duration, etl.tasks[1].parents.as_slice()), (2, Some(30_000_000), &[0][..]));
    assert!(Arc::ptr_eq(&etl.tasks[0].spec, &web.spec), "a template is one spec");
    let WorkloadItem::Node(NodeEvent::Add { node, .. }) = &items[2] else { panic!() };
    assert!(node.allocatable.contains(&("memory".to_string(), "32Gi".to_string())));
}

#[test]
fn errors_name_line_and_column_or_field() {
    let head = "apiVersion: simsched/v1\nkind: Workload\ntemplates:\n  web: {spec: {containers: [{name: c}]}}\n";
    let cases: &[(String, &str)] = &[
        (format!("{head}pods:\n- {{name: a, template: db, arrival: 0}}\n"), "line 6 column 23: unknown template \"db\" in pods[0].template: templates are web"),
        (
            "apiVersion: simsched/v1\nkind: Workload\npods:\n- {name: a, template: db, arrival: 0}\n".to_string(),
            "line 4 column 23: unknown template \"db\" in pods[0].template: no templates are defined",
        ),
        (format!("{head}pods:\n- {{name: a, template: web, arrival: 0, cpu: 1}}\n"), "line 6 column 40: unknown field `cpu`, expected one of name, template, arrival, duration, count, every, job"),
        (format!("{head}pods:\n- {{name: a, template: web, arrival: -1}}\n"), "line 6 column 37: pods[0].arrival: expected seconds, at least 0 and at most 9007199254, got -1"),
        (format!("{head}pods:\n- {{name: a, template: web, arrival: 0, count: 2}}\n- {{name: a-1, template: web, arrival: 1}}\n"), "line 7 column 10: pods[1].name: pod name \"a-1\" is already used"),
        (format!("{head}pods:\n- {{name: a, template: web, arrival: 0, count: 0}}\n"), "line 6 column 47: pods[0].count: expected at least 1"),
        (
            format!("{head}dagJobs:\n- name: etl\n  arrival: 0\n  tasks:\n  - {{name: a, template: web, after: [b]}}\n"),
            "line 9 column 38: dagJobs[0].tasks[0].after[0]: job \"etl\" has no task \"b\"; its tasks are a",
        ),
        (
            format!("{head}dagJobs:\n- name: etl\n  arrival: 0\n  tasks:\n  - {{name: a, template: web, after: [b]}}\n  - {{name: b, template: web, after: [a]}}\n"),
            "line 6 column 9: dagJobs[0]: the tasks of job \"etl\" form a cycle through task \"b\"",
        ),
        (
            format!("{head}dagJobs:\n- name: etl\n  arrival: 0\n  tasks:\n  - {{name: a, template: web}}\n  - {{name: a, template: web}}\n"),
            "line 10 column 12: dagJobs[0].tasks[1].name: job \"etl\" has task \"a\" twice",
        ),
        (format!("{head}nodeEvents:\n- {{time: 1, fail: a, remove: b}}\n"), "line 6 column 10: nodeEvents[0]: expected exactly one of add, remove and fail"),
        (format!("{head}nodeEvents:\n- {{time: 1, add: {{name: n, cpu: 1}}}}\n"), "line 6 column 28: missing field `memory`"),
        (format!("{head}nodeEvents:\n- {{time: 1, add: {{name: n, cpu: 1, memory: 1Gi, taints: [{{key: k, effect: Never}}]}}}}\n"), "nodeEvents[0].add.taints[0].effect: Unsupported value: \"Never\": supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\""),
        (
            "apiVersion: simsched/v1\nkind: Workload\ntemplates:\n  web: {spec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}}\n".to_string(),
            "templates.web.spec.containers[0].resources.requests.cpu: invalid quantity \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        ("apiVersion: simsched/v1\nkind: Workload\ntemplates:\n  web: {kind: Deployment, spec: {}}\n".to_string(), "templates.web.kind: expected \"Pod\", got \"Deployment\""),
        ("apiVersion: simsched/v1\nkind: Workload\ntemplates:\n  web: {spec: {}}\n".to_string(), "templates.web.spec.containers: Required value: a pod has at least one container"),
        ("apiVersion: simsched/v1\nkind: Cluster\n".to_string(), "kind: expected \"Workload\", got \"Cluster\""),
        (
            format!("{head}pods:\n- {{name: a, template: web, arrival: 0, count: 4000000000}}\n"),
            "line 6 column 47: pods[0].count: more than 10000000 pods in a YAML workload: use the native CSV format",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).map(|items| items.len()), Err(expected.to_string()), "{text}");
    }
}

fn normalised(items: &[WorkloadItem]) -> Vec<String> {
    items.iter().map(|item| format!("{item:?}")).collect()
}

#[test]
fn writer_round_trip() {
    let path = scratch_file("roundtrip-in.yaml", EXAMPLE);
    let items = read_workload(&path, None, &ReadOptions::default()).unwrap();
    let out = scratch("roundtrip-out.yaml");
    traces::write_yaml(items.clone(), &out).unwrap();
    let again = read_workload(&out, None, &ReadOptions::default()).unwrap();
    assert_eq!(normalised(&again), normalised(&items), "{}", std::fs::read_to_string(&out).unwrap());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("- {name: web-0, template: web, arrival: 0, duration: 300, job: frontend}\n"), "{text}");
    assert!(text.contains("  - {name: load, template: batch-pod, instances: 2, duration: 30, after: [extract]}\n"), "{text}");
    assert!(text.contains("- {time: 20, add: {name: new-1, cpu: 8, memory: 32Gi}}\n"), "{text}");
}

#[test]
fn native_pods_and_dag_jobs_written_as_yaml_read_back_the_same() {
    let opts = ReadOptions::default();
    let alibaba = read_workload(&super::sample("alibaba-2018/batch_task_sample.csv"), None, &opts).unwrap();
    let out = scratch("alibaba.yaml");
    traces::write_yaml(alibaba[..20].to_vec(), &out).unwrap();
    let again = read_workload(&out, None, &opts).unwrap();
    let strip = |items: &[WorkloadItem]| -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                WorkloadItem::Dag(job) => {
                    let tasks: Vec<_> =
                        job.tasks.iter().map(|t| (&t.name, t.instances, t.duration, &t.parents, &t.spec.containers[0].requests)).collect();
                    format!("{} {} {tasks:?}", job.time, job.name)
                }
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(strip(&again), strip(&alibaba[..20]));
}

/// `pod_manifest` is the inverse of the pod conversion (labels and node selectors come back sorted).
#[test]
fn pod_manifests_convert_back_to_the_same_pod() {
    let mut defs: Vec<scheduler_core::PodDef> =
        traces::read_cluster(&super::sample("explain/cluster.yaml")).unwrap().pods.into_iter().map(|p| p.def).collect();
    for name in ["explain/pod.yaml", "explain/pod-unschedulable.yaml"] {
        defs.push(traces::read_pod(&super::sample(name)).unwrap().0);
    }
    let (full, _) = traces::parse_pod(
        "kind: Pod\nmetadata: {name: p, namespace: ns, uid: u1, labels: {b: '2', a: '1'}}\nspec:\n  priority: 7\n  schedulerName: s\n  nodeName: n\n  overhead: {cpu: 10m}\n  resources: {requests: {cpu: 1}, limits: {memory: 1Gi}}\n  nodeSelector: {zone: a}\n  containers: [{name: c, image: i, ports: [{containerPort: 80, hostPort: 8080, protocol: UDP, hostIP: 1.2.3.4}], resources: {limits: {cpu: 2}}}]\n  initContainers: [{name: side, restartPolicy: Always}]\n  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: k, operator: In, values: [v]}], matchFields: [{key: metadata.name, operator: NotIn, values: [x]}]}]}, preferredDuringSchedulingIgnoredDuringExecution: [{weight: 3, preference: {matchExpressions: [{key: k, operator: Exists}]}}]}}\n  tolerations: [{key: k, operator: Equal, value: v, effect: NoExecute}, {operator: Exists}]\n  schedulingGates: [{name: g}]\n  volumes: [{name: img, image: {reference: busybox}}]\n  topologySpreadConstraints: [{maxSkew: 2, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {a: '1'}, matchExpressions: [{key: b, operator: NotIn, values: ['3']}]}, minDomains: 2, nodeAffinityPolicy: Ignore, nodeTaintsPolicy: Honor, matchLabelKeys: [b]}, {maxSkew: 1, topologyKey: host, whenUnsatisfiable: ScheduleAnyway, labelSelector: {}}]\n",
        std::path::Path::new("full.yaml"),
    )
    .unwrap();
    defs.push(full);
    for def in defs {
        let (back, _) = traces::kube::pod_def(&traces::kube::pod_manifest(&def)).unwrap();
        let mut expected = def.clone();
        expected.labels.sort();
        if let Some(selector) = expected.node_selector.as_mut() {
            selector.sort();
        }
        assert_eq!(back, expected);
    }
}

#[test]
fn templates_take_their_priority_from_the_priority_classes_of_the_file() {
    let text = "\
apiVersion: simsched/v1
kind: Workload
priorityClasses:
- {metadata: {name: batch}, value: -10, preemptionPolicy: Never}
- {apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: serving}, value: 1000, globalDefault: true}
templates:
  batch: {metadata: {labels: {app: b}, ownerReferences: [{apiVersion: batch/v1, kind: Job, name: b, uid: u, controller: true}]}, spec: {priorityClassName: batch, containers: [{name: c}]}}
  web: {spec: {containers: [{name: c}]}}
  critical: {spec: {priorityClassName: system-node-critical, containers: [{name: c}]}}
pods:
- {name: b, template: batch, arrival: 0}
- {name: w, template: web, arrival: 1}
- {name: c, template: critical, arrival: 2}
";
    let items = parse(text).unwrap();
    let got: Vec<_> = items
        .iter()
        .map(|item| match item {
            WorkloadItem::Pod(p) => (p.spec.priority, p.spec.never_preempt, p.spec.owner.as_ref().map(|o| o.kind.clone())),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, [(Some(-10), true, Some("Job".to_string())), (Some(1000), false, None), (Some(2_000_001_000), false, None)]);
    let unknown = text.replace("priorityClassName: batch", "priorityClassName: gold");
    assert_eq!(
        parse(&unknown).unwrap_err(),
        "templates.batch.spec.priorityClassName: Forbidden: no PriorityClass with name gold was found"
    );
    let mismatch = text.replace("priorityClassName: batch,", "priorityClassName: batch, priority: 3,");
    assert_eq!(
        parse(&mismatch).unwrap_err(),
        "templates.batch.spec.priority: Forbidden: the integer value of priority (3) must not be provided in pod spec; priority admission controller computed -10 from the given PriorityClass name"
    );
    let too_high = text.replace("value: 1000,", "value: 1000000001,");
    assert_eq!(
        parse(&too_high).unwrap_err(),
        "priorityClasses[1].value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    );
}
