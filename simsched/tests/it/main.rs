//! The `simsched` command line, run as a user runs it.

mod deploy;
mod report;
mod serve;
mod simulate;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn sample(name: &str) -> String {
    root().join("traces/samples").join(name).display().to_string()
}

fn simsched(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("simsched").unwrap().current_dir(root()).args(args).assert()
}

/// Compares `actual` with the golden file; `SIMSCHED_BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden").join(name);
    if std::env::var_os("SIMSCHED_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run with SIMSCHED_BLESS=1)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

const CLUSTER: &str = "traces/samples/explain/cluster.yaml";
const POD: &str = "traces/samples/explain/pod.yaml";

#[test]
fn explain_table_golden() {
    let a = simsched(&["explain", "--cluster", CLUSTER, "--pod", POD]).success();
    golden("explain.txt", &stdout(&a));
}

#[test]
fn explain_pod_affinity_golden() {
    let a =
        simsched(&["explain", "--cluster", CLUSTER, "--pod", "traces/samples/explain/pod-affinity.yaml", "--score-all-nodes"]).success();
    golden("explain-pod-affinity.txt", &stdout(&a));
}

#[test]
fn explain_unschedulable_golden() {
    let a = simsched(&["explain", "--cluster", CLUSTER, "--pod", "traces/samples/explain/pod-unschedulable.yaml"]).success();
    golden("explain-unschedulable.txt", &stdout(&a));
}

/// Default topology spreading from a Service in the cluster file, and a PriorityClass resolved for the pod.
#[test]
fn explain_default_spread_golden() {
    let dir = "traces/samples/default-spread";
    let a = simsched(&["explain", "--cluster", &format!("{dir}/cluster.yaml"), "--pod", &format!("{dir}/pod.yaml")]).success();
    golden("explain-default-spread.txt", &stdout(&a));
}

#[test]
fn explain_score_all_nodes_golden() {
    let a = simsched(&["explain", "--cluster", CLUSTER, "--pod", POD, "--score-all-nodes"]).success();
    golden("explain-score-all-nodes.txt", &stdout(&a));
}

#[test]
fn explain_json_has_the_documented_shape() {
    let a = simsched(&["explain", "--cluster", CLUSTER, "--pod", POD, "-o", "json"]).success();
    let out = stdout(&a);
    golden("explain.json", &out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["message", "nodes", "pod", "postFilter", "preFilterSkipped", "preScoreSkipped", "selected"]);
    let node = &v["nodes"][0];
    let node_keys: Vec<&str> = node.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(node_keys, ["filter", "name", "scores", "total"]);
    let filter_keys: Vec<&str> = node["filter"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(filter_keys, ["plugin", "reasons", "status"]);
    let score = &node["scores"]["NodeResourcesFit"];
    assert!(score["raw"].is_i64() && score["normalized"].is_i64() && score["weighted"].is_i64());
    assert_eq!(v["selected"], "node-a2");
    // Notes go to stderr so that stdout stays one JSON document.
    assert!(stderr(&a).contains("note: plugins of this profile not provided by simsched"));
}

#[test]
fn explain_with_a_config() {
    let dir = tempdir("config");
    let config = dir.join("binpack.yaml");
    std::fs::write(
        &config,
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: MostAllocated\n",
    )
    .unwrap();
    let a = simsched(&["explain", "--cluster", CLUSTER, "--pod", POD, "--config", config.to_str().unwrap(), "-o", "json"]).success();
    let v: serde_json::Value = serde_json::from_str(&stdout(&a)).unwrap();
    // node-a1 is fuller: MostAllocated prefers it.
    assert_eq!(v["selected"], "node-a1");
}

#[test]
fn explain_shows_the_gpus_a_sharing_pod_gets() {
    let dir = tempdir("gpu");
    let cluster = dir.join("cluster.yaml");
    std::fs::write(
        &cluster,
        "apiVersion: v1\nkind: List\nitems:\n\
         - {kind: Node, metadata: {name: g1}, status: {allocatable: {cpu: '32', memory: 64Gi, pods: '110', nvidia.com/gpu: '2', alibabacloud.com/gpu-milli: '2000'}}}\n\
         - {kind: Pod, metadata: {name: a, namespace: default}, spec: {nodeName: g1, containers: [{name: c, image: i, resources: {requests: {alibabacloud.com/gpu-milli: '700'}}}]}}\n",
    )
    .unwrap();
    let pod = dir.join("pod.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec: {containers: [{name: c, image: i, resources: {requests: {cpu: '1', alibabacloud.com/gpu-milli: '200'}}}]}\n",
    )
    .unwrap();
    let config = dir.join("gpu-packing.yaml");
    std::fs::write(&config, stdout(&simsched(&["policies", "gpu-packing"]).success())).unwrap();
    let refs = ["explain", "--cluster", cluster.to_str().unwrap(), "--pod", pod.to_str().unwrap(), "--config", config.to_str().unwrap()];
    let out = stdout(&simsched(&refs).success());
    // Pod a holds 700 milli-GPU of GPU 0 (the default choice); the 200 milli-GPU share goes to that GPU.
    assert!(out.contains("Selected:  g1\nGPUs:      0\n"), "{out}");
    let json = [&refs[..], &["-o", "json"]].concat();
    let v: serde_json::Value = serde_json::from_str(&stdout(&simsched(&json).success())).unwrap();
    assert_eq!(v["gpus"], serde_json::json!([0]));
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simsched-it-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each class of bad input: a non-zero exit, a message naming the file and the field, no panic.
#[test]
fn bad_inputs_fail_clearly() {
    let dir = tempdir("bad");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--cluster".into(), write("syntax.yaml", "kind: List\nitems: [\n"), "--pod".into(), sample("explain/pod.yaml")],
            "syntax.yaml: line 2 column 8: unclosed bracket '['\n".into(),
        ),
        (
            vec![
                "--cluster".into(),
                write("qty.yaml", "kind: List\nitems:\n- kind: Node\n  metadata: {name: n}\n  status: {allocatable: {cpu: four}}\n"),
                "--pod".into(),
                sample("explain/pod.yaml"),
            ],
            "qty.yaml: items[0] (node n).status.allocatable.cpu: invalid quantity \"four\"".into(),
        ),
        (
            vec![
                "--cluster".into(),
                sample("explain/cluster.yaml"),
                "--pod".into(),
                write("noname.yaml", "kind: Pod\nmetadata: {}\nspec: {containers: [{name: c}]}\n"),
            ],
            "noname.yaml: metadata.name: Required value".into(),
        ),
        (
            vec![
                "--cluster".into(),
                sample("explain/cluster.yaml"),
                "--pod".into(),
                sample("explain/pod.yaml"),
                "--config".into(),
                write("unknown-plugin.yaml", "profiles:\n- plugins:\n    score:\n      enabled: [{name: NodeResourceFit}]\n"),
            ],
            "unknown-plugin.yaml: profiles[0].plugins.score.enabled[0]: plugin \"NodeResourceFit\" does not exist; available plugins:"
                .into(),
        ),
        (
            vec![
                "--cluster".into(),
                sample("explain/cluster.yaml"),
                "--pod".into(),
                sample("explain/pod.yaml"),
                "--config".into(),
                write(
                    "unknown-arg.yaml",
                    "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: MostAllocated, shape: []}}\n",
                ),
            ],
            "unknown-arg.yaml: profiles[0].pluginConfig[0].args.scoringStrategy.shape: unknown field `shape`".into(),
        ),
        (
            vec![
                "--cluster".into(),
                sample("explain/cluster.yaml"),
                "--pod".into(),
                sample("explain/pod.yaml"),
                "--config".into(),
                write("config-syntax.yaml", "profiles:\n  - plugins: {score: [}\n"),
            ],
            "config-syntax.yaml: line ".into(),
        ),
        (
            vec!["--cluster".into(), dir.join("missing.yaml").display().to_string(), "--pod".into(), sample("explain/pod.yaml")],
            "missing.yaml: file: cannot read:".into(),
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["explain".to_string()];
        full.extend(args);
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let a = simsched(&refs).failure();
        let err = stderr(&a);
        assert!(err.starts_with("error: ") && err.contains(&expected), "expected {expected:?} in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn help_reads_like_kubectl() {
    let a = simsched(&["--help"]).success();
    assert!(stdout(&a).contains("explain"));
    let a = simsched(&["explain", "--help"]).success();
    let out = stdout(&a);
    assert!(out.contains("--cluster <FILE>") && out.contains("-o, --output <OUTPUT>") && out.contains("Examples:"), "{out}");
}
