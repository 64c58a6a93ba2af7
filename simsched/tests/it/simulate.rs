//! `simsched run`, `compare`, `generate`, `import` and `policies`, run as a user runs them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{golden, sample, simsched, stderr, stdout};

pub const OPENB_NODES: &str = "traces/samples/openb/openb_node_list_all_node.csv";
pub const OPENB_PODS: &str = "traces/samples/openb/openb_pod_list_default.csv";

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("simsched-cli-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small generated cluster and workload in `dir`: 20 nodes, 400 pods arriving faster than they leave.
pub fn generated(dir: &TempDir) -> (String, String) {
    let out = dir.path("gen");
    simsched(&[
        "generate",
        "--nodes",
        "20",
        "--pods",
        "400",
        "--arrival",
        "poisson:2",
        "--node-cpu",
        "4",
        "--node-memory",
        "16Gi",
        "-o",
        &out,
    ])
    .success();
    (format!("{out}/cluster.yaml"), format!("{out}/workload.csv"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn bundled_sample_summary_under_two_policies_golden() {
    for policy in ["default", "binpack"] {
        let a = simsched(&["run", "--cluster", OPENB_NODES, "--workload", OPENB_PODS, "--policy", policy, "-o", "json"]).success();
        golden(&format!("run-openb-{policy}.json"), &stdout(&a));
    }
}

#[test]
fn run_writes_every_output_file_byte_for_byte_the_same_twice() {
    let dir = TempDir::new();
    let (cluster, workload) = generated(&dir);
    let runs: Vec<Vec<Vec<u8>>> = ["a", "b"]
        .iter()
        .map(|name| {
            let out = dir.path(name);
            simsched(&[
                "run",
                "--cluster",
                &cluster,
                "--workload",
                &workload,
                "--policy",
                "random",
                "--seed",
                "7",
                "--interval",
                "30s",
                "--out",
                &out,
                "-q",
            ])
            .success();
            ["summary.json", "pods.csv", "jobs.csv", "timeseries.csv"].iter().map(|f| read(&Path::new(&out).join(f))).collect()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    let pods = String::from_utf8(runs[0][1].clone()).unwrap();
    assert_eq!(pods.lines().next(), Some("name,job,arrival,first_attempt,scheduled,bound,start,finish,node,gpus,attempts,preempted,lost"));
    assert_eq!(pods.lines().count(), 401, "one row per pod");
    let timing: serde_json::Value = serde_json::from_slice(&read(&Path::new(&dir.path("a")).join("timing.json"))).unwrap();
    assert!(timing["wall_seconds"].is_number() && timing["events_per_second"].is_number());
}

#[test]
fn compare_outputs_do_not_depend_on_the_number_of_threads() {
    let dir = TempDir::new();
    let (cluster, workload) = generated(&dir);
    // Per thread count: the table, compare.json, compare.csv, runs.csv and the report.
    let outputs: Vec<[Vec<u8>; 5]> = ["1", "3"]
        .iter()
        .map(|jobs| {
            let out = dir.path(&format!("cmp{jobs}"));
            let args = [
                "compare",
                "--cluster",
                &cluster,
                "--workload",
                &workload,
                "--policy",
                "spread",
                "--policy",
                "random",
                "--policy",
                "tetris/sjf",
                "--seeds",
                "3",
                "-j",
                jobs,
                "--out",
                &out,
                "--report",
                &format!("{out}.html"),
                "-q",
            ];
            let a = simsched(&args).success();
            let dir = Path::new(&out);
            [
                stdout(&a).into_bytes(),
                read(&dir.join("compare.json")),
                read(&dir.join("compare.csv")),
                read(&dir.join("runs.csv")),
                read(Path::new(&format!("{out}.html"))),
            ]
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
    let table = String::from_utf8(outputs[0][0].clone()).unwrap();
    assert!(table.starts_with("Ranked by jct.mean (lower is better); mean ± standard deviation over 3 seeds"), "{table}");
    for policy in ["spread", "random", "tetris/sjf"] {
        assert!(table.lines().any(|l| l.split_whitespace().nth(1) == Some(policy)), "{policy} missing from\n{table}");
    }
    let csv = String::from_utf8(outputs[0][2].clone()).unwrap();
    assert!(csv.starts_with("rank,policy,metric,mean,std,min,max\n"));
    let runs = String::from_utf8(outputs[0][3].clone()).unwrap();
    assert_eq!(runs.lines().count(), 1 + 3 * 3, "one row per (policy, seed)");
}

#[test]
fn compare_without_arguments_replays_the_bundled_sample() {
    let a = simsched(&["compare", "--seeds", "1", "--policy", "first-fit", "--policy", "spread"]).success();
    let out = stdout(&a);
    assert!(out.contains("first-fit") && out.contains("ALIBABACLOUD.COM/GPU-MILLI"), "{out}");
}

#[test]
fn bad_rows_stop_the_run_or_are_skipped_and_counted() {
    let dir = TempDir::new();
    let workload = dir.path("w.csv");
    std::fs::write(&workload, "#simsched workload v1\nname,arrival,duration,cpu,memory\na,0,10,1,1Gi\nb,1,10,lots,1Gi\nc,2,10,1,1Gi\n")
        .unwrap();
    let cluster = "traces/samples/compact-cluster.yaml";
    let a = simsched(&["run", "--cluster", cluster, "--workload", &workload]).failure();
    let err = stderr(&a);
    assert!(err.contains("w.csv") && err.contains("line 4 column 4 (cpu)") && err.contains("\"lots\""), "{err}");
    let a = simsched(&["run", "--cluster", cluster, "--workload", &workload, "--skip-bad-rows", "-o", "json"]).success();
    let summary: serde_json::Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(summary["skipped_rows"], 1);
    assert_eq!(summary["pods"]["arrived"], 2);
}

#[test]
fn alibaba_dag_jobs_replay_with_their_notes() {
    let dir = TempDir::new();
    let out = dir.path("ali");
    let a = simsched(&[
        "run",
        "--cluster",
        "traces/samples/alibaba-2018/cluster.yaml",
        "--workload",
        "traces/samples/alibaba-2018/batch_task_sample.csv",
        "--policy",
        "binpack/mjct",
        "--until",
        "6h",
        "--out",
        &out,
    ])
    .success();
    assert!(stderr(&a).contains("left out 9 job(s)"), "{}", stderr(&a));
    let jobs = String::from_utf8(read(&Path::new(&out).join("jobs.csv"))).unwrap();
    assert_eq!(jobs.lines().next(), Some("job,submit,finish,jct,pods,tasks"));
}

#[test]
fn generate_and_import_write_native_files_that_run() {
    let dir = TempDir::new();
    let (cluster, workload) = generated(&dir);
    let text = String::from_utf8(read(Path::new(&workload))).unwrap();
    assert!(text.starts_with("#simsched workload v1\nname,arrival,duration,cpu,memory,"));
    assert_eq!(text.lines().count(), 402);
    let again = TempDir::new();
    let (_, workload_again) = generated(&again);
    assert_eq!(read(Path::new(&workload)), read(Path::new(&workload_again)), "same seed, same workload");
    simsched(&["run", "--cluster", &cluster, "--workload", &workload, "-q"]).success();

    let out = dir.path("imported");
    let a = simsched(&["import", "--workload", OPENB_PODS, "--nodes", OPENB_NODES, "-o", &out]).success();
    assert!(stdout(&a).contains("(1523 nodes)") && stdout(&a).contains("8152 pods"), "{}", stdout(&a));
    let imported = Path::new(&out);
    let original =
        simsched(&["run", "--cluster", OPENB_NODES, "--workload", OPENB_PODS, "--policy", "spread", "-o", "json", "-q"]).success();
    let converted = simsched(&[
        "run",
        "--cluster",
        &imported.join("cluster.yaml").display().to_string(),
        "--workload",
        &imported.join("workload.csv").display().to_string(),
        "--policy",
        "spread",
        "-o",
        "json",
        "-q",
    ])
    .success();
    assert_eq!(stdout(&original), stdout(&converted), "the imported files replay exactly as the trace");
}

#[test]
fn policies_are_listed_and_printable_as_configurations() {
    let a = simsched(&["policies"]).success();
    let out = stdout(&a);
    for name in ["default", "spread", "binpack", "balanced", "random", "first-fit", "best-fit", "tetris", "fifo", "sjf", "mjct"] {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    let a = simsched(&["policies", "binpack/sjf"]).success();
    let yaml = stdout(&a);
    assert!(
        yaml.contains("kind: KubeSchedulerConfiguration") && yaml.contains("ShortestJobFirst") && yaml.contains("MostAllocated"),
        "{yaml}"
    );
}

#[test]
fn mistakes_get_clear_errors() {
    let cases: [(&[&str], &str); 6] = [
        (&["run", "--cluster", OPENB_NODES, "--workload", OPENB_PODS, "--policy", "fastest"], "unknown policy \"fastest\""),
        (&["run", "--cluster", OPENB_NODES, "--workload", OPENB_PODS, "--policy", "spread/lifo"], "unknown queue order \"lifo\""),
        (&["run", "--cluster", OPENB_NODES, "--workload", OPENB_PODS, "--attempt-cost", "2"], "expected a number with a unit"),
        (&["compare", "--rank-by", "speed"], "unknown metric \"speed\" for --rank-by"),
        (&["compare", "--policy", "spread", "--policy", "spread"], "\"spread\" is given twice"),
        (&["generate", "--nodes", "1", "--pods", "1", "--arrival", "poisson:-1", "-o", "/tmp/x"], "positive number"),
    ];
    for (args, expected) in cases {
        let a = simsched(args).failure();
        assert!(stderr(&a).contains(expected), "{args:?}: {}", stderr(&a));
    }
}

/// Checks that every web pod of the spread sample's run in `out` was placed where its zone then held at most
/// one more web pod than the emptiest zone (maxSkew 1, counting the web pods running at that instant). Pods
/// placed at the same instant were placed one after the other: some order of them must satisfy the rule.
fn zone_skew_kept(out: &str) -> Result<(), String> {
    let mut reader = csv::Reader::from_path(Path::new(out).join("pods.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (name, node, scheduled, finish) = (col("name"), col("node"), col("scheduled"), col("finish"));
    // (zone, placed at, finished at) of every web pod; nodes are named <zone>-<n>.
    let web: Vec<(String, f64, f64)> = reader
        .records()
        .map(Result::unwrap)
        .filter(|r| r[name].starts_with("web-"))
        .map(|r| (r[node].split('-').next().unwrap().to_string(), r[scheduled].parse().unwrap(), r[finish].parse().unwrap_or(f64::MAX)))
        .collect();
    assert_eq!(web.len(), 24);
    let mut instants: Vec<f64> = web.iter().map(|w| w.1).collect();
    instants.sort_by(f64::total_cmp);
    instants.dedup();
    for at in instants {
        let mut counts: Vec<i64> =
            ["a", "b", "c"].iter().map(|z| web.iter().filter(|(wz, s, f)| wz == z && *s < at && *f > at).count() as i64).collect();
        let mut placed: Vec<usize> = web.iter().filter(|w| w.1 == at).map(|w| usize::from(w.0.as_bytes()[0] - b'a')).collect();
        // Placing into a zone with the fewest pods never blocks another valid placement, so greedy order works.
        while !placed.is_empty() {
            let min = *counts.iter().min().unwrap();
            let Some(next) = placed.iter().position(|&z| counts[z] + 1 - min <= 1) else {
                return Err(format!("the web pods placed at {at}s break the zone skew: zones {placed:?} onto counts {counts:?}"));
            };
            counts[placed.swap_remove(next)] += 1;
        }
    }
    Ok(())
}

/// The spread sample under policies with PodTopologySpread keeps the zone skew; the same packing policy
/// without the plugin does not (so the check above can tell).
#[test]
fn spread_sample_keeps_the_zone_skew_at_every_placement() {
    let run = |choice: &[&str]| {
        let dir = TempDir::new();
        let out = dir.path("out");
        let mut args =
            vec!["run", "--cluster", "traces/samples/spread/cluster.yaml", "--workload", "traces/samples/spread/workload.yaml", "-q"];
        args.extend_from_slice(choice);
        args.extend_from_slice(&["--out", &out]);
        simsched(&args).success();
        zone_skew_kept(&out)
    };
    for policy in ["default", "binpack"] {
        assert_eq!(run(&["--policy", policy]), Ok(()), "{policy}");
    }
    assert!(run(&["--config", "traces/samples/spread/no-spread.yaml"]).is_err());
}

/// Checks the affinity sample's run in `out`: no two web pods on one host at once (their required
/// anti-affinity), and every cache pod placed in a zone where a web pod was running (its required affinity).
fn affinity_kept(out: &str) -> Result<(), String> {
    let mut reader = csv::Reader::from_path(Path::new(out).join("pods.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (name, node, scheduled, finish) = (col("name"), col("node"), col("scheduled"), col("finish"));
    // (name, node, placed at, finished at); nodes are named <zone>-<n>.
    let pods: Vec<(String, String, f64, f64)> = reader
        .records()
        .map(Result::unwrap)
        .map(|r| (r[name].to_string(), r[node].to_string(), r[scheduled].parse().unwrap(), r[finish].parse().unwrap_or(f64::MAX)))
        .collect();
    let web: Vec<_> = pods.iter().filter(|p| p.0.starts_with("web-")).collect();
    let caches: Vec<_> = pods.iter().filter(|p| p.0.starts_with("cache")).collect();
    assert_eq!((web.len(), caches.len()), (6, 10));
    for (i, a) in web.iter().enumerate() {
        for b in &web[i + 1..] {
            if a.1 == b.1 && a.2 < b.3 && b.2 < a.3 {
                return Err(format!("{} and {} share host {}", a.0, b.0, a.1));
            }
        }
    }
    for c in &caches {
        let zone = &c.1[..1];
        if !web.iter().any(|w| &w.1[..1] == zone && w.2 <= c.2 && c.2 < w.3) {
            return Err(format!("{} was placed on {} at {}s with no web pod in its zone", c.0, c.1, c.2));
        }
    }
    Ok(())
}

/// The affinity sample keeps its required terms under the default and binpack policies; binpack without
/// InterPodAffinity breaks them (so the check above can tell).
#[test]
fn affinity_sample_keeps_the_required_terms_at_every_placement() {
    let run = |choice: &[&str]| {
        let dir = TempDir::new();
        let out = dir.path("out");
        let mut args =
            vec!["run", "--cluster", "traces/samples/affinity/cluster.yaml", "--workload", "traces/samples/affinity/workload.yaml", "-q"];
        args.extend_from_slice(choice);
        args.extend_from_slice(&["--out", &out]);
        simsched(&args).success();
        affinity_kept(&out)
    };
    for policy in ["default", "binpack", "spread"] {
        assert_eq!(run(&["--policy", policy]), Ok(()), "{policy}");
    }
    assert!(run(&["--config", "traces/samples/affinity/no-affinity.yaml"]).is_err());
}

pub const OPENB_GPU_NODES: &str = "traces/samples/openb/openb_node_list_gpu_node.csv";

#[test]
fn demand_sweep_golden_and_independent_of_the_number_of_threads() {
    let dir = TempDir::new();
    let outputs: Vec<[Vec<u8>; 3]> = ["1", "2"]
        .iter()
        .map(|jobs| {
            let out = dir.path(&format!("sweep{jobs}"));
            let args = [
                "compare",
                "--cluster",
                OPENB_GPU_NODES,
                "--workload",
                OPENB_PODS,
                "--demand-sweep",
                "130",
                "--policy",
                "fgd",
                "--policy",
                "gpu-packing",
                "--seeds",
                "2",
                "--seed",
                "42",
                "-j",
                jobs,
                "--out",
                &out,
                "-q",
            ];
            let a = simsched(&args).success();
            let dir = Path::new(&out);
            [stdout(&a).into_bytes(), read(&dir.join("demand.csv")), read(&dir.join("demand-summary.csv"))]
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
    let table = String::from_utf8(outputs[0][0].clone()).unwrap();
    golden("demand-sweep.txt", &table);
    let runs = String::from_utf8(outputs[0][1].clone()).unwrap();
    assert!(runs.starts_with("policy,seed,arrived_demand,arrivals,gpu_allocation,gpu_fragmentation,gpu_fragmentation_ratio,pods_failed\n"));
    assert_eq!(runs.lines().count(), 1 + 2 * 2 * 131, "a row per (policy, seed, percent 0–130)");
    let summary = String::from_utf8(outputs[0][2].clone()).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2 * 131);
}

#[test]
fn demand_sweep_json_has_every_row() {
    let args =
        ["run", "--cluster", OPENB_GPU_NODES, "--workload", OPENB_PODS, "--demand-sweep", "20", "--policy", "fgd", "-o", "json", "-q"];
    let v: serde_json::Value = serde_json::from_str(&stdout(&simsched(&args).success())).unwrap();
    let run = &v[0]["runs"][0];
    assert_eq!(v[0]["policy"], "fgd");
    assert_eq!(run["capacity_milli"], 6_212_000);
    let rows = run["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 21, "percents 0 to 20");
    assert_eq!(rows[20]["arrived_percent"], 20);
    assert!(rows[20]["gpu_allocation"].as_f64().unwrap() > 19.0, "{}", rows[20]);
}

#[test]
fn demand_sweep_needs_gpus() {
    let (cluster, workload) = (sample("spread/cluster.yaml"), sample("spread/workload.yaml"));
    let a = simsched(&["run", "--cluster", &cluster, "--workload", &workload, "--demand-sweep", "130", "-q"]).failure();
    assert!(stderr(&a).contains("--demand-sweep needs GPUs: no node of the cluster has any"), "{}", stderr(&a));
}
