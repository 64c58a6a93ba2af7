//! Cluster files with the objects the pod-dependent plugins read: Services, controllers,
//! PodDisruptionBudgets, PriorityClasses.

use std::path::Path;

use scheduler_core::IntOrPercent;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: -5
globalDefault: true
preemptionPolicy: Never
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-rs, uid: u1, controller: true}]
spec: {nodeName: n1, priorityClassName: high, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: batch-1}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: snapshot-1}
spec: {nodeName: n1, priority: 42, priorityClassName: deleted-since, containers: [{name: c}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-rs}
spec: {selector: {matchLabels: {app: web, tier: front}}, template: {metadata: {labels: {app: web, tier: front}}}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec: {template: {metadata: {labels: {app: legacy}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web-pdb}
spec: {minAvailable: "50%", selector: {matchLabels: {app: web}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: snapshot-pdb}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
status: {disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1}
"#;

fn parse(text: &str) -> Result<traces::ClusterInput, String> {
    traces::parse_cluster(text, Path::new("cluster.yaml")).map_err(|e| format!("{}: {}", e.location, e.message))
}

#[test]
fn services_controllers_budgets_and_priority_classes_are_read() {
    let input = parse(OBJECTS).unwrap();
    assert_eq!(input.skipped.summary(), None);
    let priorities: Vec<_> = input.pods.iter().map(|p| (p.def.name.as_str(), p.def.priority, p.def.never_preempt)).collect();
    // A class, the global default (with its preemption policy), and a snapshot's priority kept.
    assert_eq!(priorities, [("web-1", Some(1000), false), ("batch-1", Some(-5), true), ("snapshot-1", Some(42), false)]);
    assert_eq!(input.services.len(), 1);
    assert_eq!(input.controllers.len(), 2);
    // The ReplicationController's absent selector defaults to its template's labels.
    assert_eq!(input.controllers[1].def.selector.as_ref().unwrap().match_labels, [("app".to_string(), "legacy".to_string())]);
    assert_eq!(input.pdbs[0].def.min_available, Some(IntOrPercent::Percent(50)));
    assert_eq!(input.pdbs[1].def.disruptions_allowed, Some(0));

    let mut cluster = traces::build_cluster(&input, Path::new("cluster.yaml")).unwrap();
    assert_eq!(cluster.pdbs().len(), 2);
    // One healthy web pod and minAvailable 50 %: round up to 1 required, none may go.
    assert_eq!(cluster.disruptions_allowed(0), 0);
    // A new pod of the ReplicaSet gets the default spreading selector of its Service and ReplicaSet.
    let mut def = input.pods[0].def.clone();
    def.name = "web-2".into();
    def.node_name.clear();
    let pod = cluster.compile_pod(&def).unwrap();
    assert!(pod.default_spread_selector.is_some());
    def.labels.clear();
    def.owner = None;
    assert!(cluster.compile_pod(&def).unwrap().default_spread_selector.is_none());
}

#[test]
fn bad_objects_are_errors_naming_the_object_and_field() {
    let cases = [
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {nodeName: n1, priorityClassName: gold, containers: [{name: c}]}\n",
            "document.spec.priorityClassName: Forbidden: no PriorityClass with name gold was found",
        ),
        (
            "kind: PriorityClass\nmetadata: {name: system-x}\nvalue: 5\n",
            "document.metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-x is not a known system priority class",
        ),
        (
            "kind: PodDisruptionBudget\nmetadata: {name: b}\nspec: {minAvailable: \"half\"}\n",
            "document.spec.minAvailable: Invalid value: \"half\": must be an integer or percentage (e.g '5%')",
        ),
        (
            "kind: ReplicaSet\nmetadata: {name: r}\nspec: {selector: {matchExpressions: [{key: a, operator: Near}]}}\n",
            "document.spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
        ),
        ("kind: Service\nmetadata: {namespace: x}\nspec: {}\n", "document.metadata.name: Required value"),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).map(|_| ()), Err(expected.to_string()), "{text}");
    }
    // Refused when the cluster is built: a budget with both fields, two Services with one name.
    let both = "kind: PodDisruptionBudget\nmetadata: {name: b}\nspec: {minAvailable: 1, maxUnavailable: 1}\n";
    let twice = "kind: List\nitems:\n- {kind: Service, metadata: {name: s}}\n- {kind: Service, metadata: {name: s}}\n";
    for (text, expected) in [
        (both, "document.spec: minAvailable and maxUnavailable cannot be both set"),
        (twice, "items[1].metadata.name: Duplicate value: \"s\": a Service with this name exists"),
    ] {
        let input = parse(text).unwrap();
        let e = traces::build_cluster(&input, Path::new("cluster.yaml")).map(|_| ()).map_err(|e| format!("{}: {}", e.location, e.message));
        assert_eq!(e, Err(expected.to_string()));
    }
}
