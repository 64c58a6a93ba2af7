//! The Alibaba GPU 2023 (openb) importer on the bundled trace.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use scheduler_core::{NodeSelectorOperator, PodDef};
use traces::{ReadOptions, WorkloadFormat};

use super::{pods, read_workload, sample, scratch_file};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Data rows of a CSV sample, split naively (the openb files have no quoted cells).
fn rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(sample(name)).unwrap();
    text.lines().skip(1).map(|line| line.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn node_lists_are_cluster_files() {
    let all = traces::read_cluster(&sample("openb/openb_node_list_all_node.csv")).unwrap();
    assert_eq!(all.nodes.len(), 1_523);
    let gpu = traces::read_cluster(&sample("openb/openb_node_list_gpu_node.csv")).unwrap();
    assert_eq!(gpu.nodes.len(), 1_213);
    let first = &gpu.nodes[0];
    assert_eq!(first.origin, "line 2");
    assert_eq!(first.def.name, "openb-node-0000");
    assert_eq!(
        first.def.allocatable,
        pairs(&[
            ("cpu", "64000m"),
            ("memory", "262144Mi"),
            ("pods", "110"),
            ("nvidia.com/gpu", "2"),
            ("alibabacloud.com/gpu-milli", "2000")
        ])
    );
    assert_eq!(first.def.labels, pairs(&[("kubernetes.io/hostname", "openb-node-0000"), ("alibabacloud.com/gpu-card-model", "P100")]));
    let cpu_only = &all.nodes[0].def;
    assert_eq!(cpu_only.allocatable, pairs(&[("cpu", "32000m"), ("memory", "262144Mi"), ("pods", "110")]));
    assert_eq!(cpu_only.labels, pairs(&[("kubernetes.io/hostname", "openb-node-0000")]));
    let n_gpus: u64 = gpu
        .nodes
        .iter()
        .flat_map(|n| n.def.allocatable.iter().filter(|(k, _)| k == "nvidia.com/gpu").map(|(_, v)| v.parse::<u64>().unwrap()))
        .sum();
    assert_eq!(n_gpus, 6_212);
    let cluster = traces::build_cluster(&gpu, Path::new("gpu.csv")).unwrap();
    let node = cluster.node(cluster.node_id("openb-node-0000").unwrap());
    assert_eq!((node.node.allocatable.milli_cpu, node.node.allocatable.memory), (64_000, 262_144 << 20));
}

#[test]
fn the_pod_list_imports() {
    let path = sample("openb/openb_pod_list_default.csv");
    let items = read_workload(&path, None, &ReadOptions::default()).unwrap();
    let pods = pods(&items);
    let csv_rows = rows("openb/openb_pod_list_default.csv");
    assert_eq!((pods.len(), csv_rows.len()), (8_152, 8_152));
    // Independently: a pod runs until the end exactly when the trace never scheduled it.
    let never_scheduled = csv_rows.iter().filter(|r| r[10].is_empty()).count();
    assert_eq!(never_scheduled, 897);
    assert_eq!(pods.iter().filter(|p| p.duration.is_none()).count(), never_scheduled);
    // openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0: one whole GPU.
    assert_eq!((pods[0].name.as_str(), pods[0].time, pods[0].duration), ("openb-pod-0000", 0, Some(12_537_496_000_000)));
    let whole = PodDef {
        labels: pairs(&[("alibabacloud.com/qos", "LS")]),
        containers: vec![scheduler_core::ContainerDef {
            name: "main".into(),
            requests: pairs(&[("cpu", "12000m"), ("memory", "16384Mi"), ("nvidia.com/gpu", "1"), ("alibabacloud.com/gpu-milli", "1000")]),
            ..Default::default()
        }],
        namespace: "default".into(),
        ..PodDef::default()
    };
    assert_eq!(*pods[0].spec, whole);
    // openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061: shares 46 % of one GPU.
    assert_eq!((pods[1].time, pods[1].duration), (427_061_000_000, Some((12_902_960 - 427_061) * 1_000_000)));
    assert_eq!(
        pods[1].spec.containers[0].requests,
        pairs(&[("cpu", "6000m"), ("memory", "12288Mi"), ("alibabacloud.com/gpu-milli", "460")])
    );
    // openb-pod-0061 was pending when deleted: it never ran in the trace.
    let pending = pods.iter().find(|p| p.name == "openb-pod-0061").unwrap();
    assert_eq!((pending.time, pending.duration), (10_001_278_000_000, None));
    assert_eq!(pending.spec.labels, pairs(&[("alibabacloud.com/qos", "BE")]));
    // Eight whole GPUs.
    let eight = pods.iter().find(|p| p.spec.containers[0].requests.contains(&("nvidia.com/gpu".into(), "8".into()))).unwrap();
    assert!(eight.spec.containers[0].requests.contains(&("alibabacloud.com/gpu-milli".into(), "8000".into())));
    let n_sharing = pods
        .iter()
        .filter(|p| !p.spec.containers[0].requests.iter().any(|(k, _)| k == "nvidia.com/gpu") && p.spec.containers[0].requests.len() == 3)
        .count();
    assert_eq!(n_sharing, csv_rows.iter().filter(|r| r[3] == "1" && r[4] != "1000").count());
    assert_eq!(n_sharing, 3_078);
    // Identical rows share one spec.
    let distinct: HashSet<*const PodDef> = pods.iter().map(|p| Arc::as_ptr(&p.spec)).collect();
    let distinct_rows: HashSet<&[String]> = csv_rows.iter().map(|r| &r[1..7]).collect();
    assert_eq!(distinct.len(), distinct_rows.len());
    assert!(distinct.len() < 1_000, "{}", distinct.len());
    // The importer's pods compile against the importer's nodes.
    let nodes = traces::read_cluster(&sample("openb/openb_node_list_gpu_node.csv")).unwrap();
    let mut cluster = traces::build_cluster(&nodes, Path::new("gpu.csv")).unwrap();
    for pod in &pods[..100] {
        let mut def = (*pod.spec).clone();
        def.name.clone_from(&pod.name);
        cluster.compile_pod(&def).unwrap();
    }
}

#[test]
fn gpu_models_become_node_affinity_and_bad_rows_are_located() {
    let header = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";
    let path = scratch_file("openb-spec.csv", &format!("{header}p,1000,1024,2,1000,V100M16|V100M32,LS,Running,5,100,10\n"));
    let items = read_workload(&path, None, &ReadOptions::default()).unwrap();
    let pod = pods(&items)[0];
    assert_eq!((pod.time, pod.duration), (5_000_000, Some(90_000_000)));
    let required = pod.spec.node_affinity.as_ref().unwrap().required.as_ref().unwrap();
    let requirement = &required.terms[0].match_expressions[0];
    assert_eq!(
        (requirement.key.as_str(), requirement.operator, requirement.values.as_slice()),
        ("alibabacloud.com/gpu-card-model", NodeSelectorOperator::In, &["V100M16".to_string(), "V100M32".to_string()][..])
    );
    let cases = [
        (
            "p,1000,1024,2,500,,LS,Running,0,1,0\n",
            "line 2 column 5 (gpu_milli): expected 1000 (whole GPUs), 1 to 999 with num_gpu 1 (a share of one GPU), or 0 with num_gpu 0; got gpu_milli 500 with num_gpu 2",
        ),
        ("p,1000,1024,0,0,,LS,Running,0,1,2\n", "line 2 column 10 (deletion_time): deletion_time 1 is earlier than scheduled_time 2"),
        ("p,-1,1024,0,0,,LS,Running,0,1,0\n", "line 2 column 2 (cpu_milli): expected a whole number, got \"-1\""),
        ("p,1,1024,0,0,,LS,Running,,1,0\n", "line 2 column 9 (creation_time): Required value: seconds from the start of the trace"),
        (
            "p,1,1024,0,0,,LS,Running,5,9,5\nq,1,1024,0,0,,LS,Running,4,9,5\n",
            "line 3 column 9 (creation_time): creation_time 4 is earlier than the previous row's 5: rows must be sorted by creation_time",
        ),
        (
            "p,1,1024,0,0,,LS,Running,5,9,5\np,1,1024,0,0,,LS,Running,5,9,5\n",
            "line 3 column 1 (name): pod name \"p\" is already used on line 2",
        ),
    ];
    for (idx, (rows, expected)) in cases.into_iter().enumerate() {
        let path = scratch_file(&format!("openb-error-{idx}.csv"), &format!("{header}{rows}"));
        assert_eq!(read_workload(&path, Some(WorkloadFormat::Openb), &ReadOptions::default()).map(|i| i.len()), Err(expected.to_string()));
    }
    let path = scratch_file("openb-missing.csv", "name,cpu_milli\n");
    assert_eq!(
        read_workload(&path, Some(WorkloadFormat::Openb), &ReadOptions::default()).map(|i| i.len()),
        Err("line 1: missing column \"memory_mib\": required columns are name, cpu_milli, memory_mib, num_gpu, gpu_milli, creation_time, deletion_time, scheduled_time".to_string())
    );
    let path = scratch_file("openb-twice.csv", "sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1,0,\nn1,1000,1,0,\n");
    assert_eq!(traces::read_cluster(&path).unwrap_err().message, "node name \"n1\" is already used on line 2");
    let path = scratch_file("openb-bad-node.csv", "sn,cpu_milli,memory_mib,gpu,model\nn1,1000,x,0,\n");
    assert_eq!(
        traces::read_cluster(&path).unwrap_err().to_string(),
        format!("{}: line 2 column 3 (memory_mib): expected a whole number, got \"x\"", path.display())
    );
}

#[test]
fn formats_are_detected() {
    let detect = |name: &str| traces::format::detect(&sample(name)).map_err(|e| e.to_string());
    assert_eq!(detect("openb/openb_pod_list_default.csv"), Ok(WorkloadFormat::Openb));
    assert_eq!(detect("alibaba-2018/batch_task_sample.csv"), Ok(WorkloadFormat::Alibaba2018));
    assert_eq!(detect("compact-cluster.yaml"), Ok(WorkloadFormat::Yaml));
    let node_list = sample("openb/openb_node_list_gpu_node.csv");
    assert_eq!(
        detect("openb/openb_node_list_gpu_node.csv"),
        Err(format!("{}: line 1: this is an openb node list: a cluster file, not a workload", node_list.display()))
    );
    let unknown = scratch_file("unknown.csv", "a,b,c\n");
    assert_eq!(
        traces::format::detect(&unknown).unwrap_err().message,
        "cannot tell the workload format: expected a .yaml/.yml file, the line \"#simsched workload v1\", an openb pod-list header, or an Alibaba 2018 batch_task header or row; or name the format (native, yaml, openb, alibaba2018)"
    );
    let native = scratch_file("detected.csv", "#simsched workload v1\nname,arrival,cpu,memory\n");
    assert_eq!(traces::format::detect(&native).unwrap(), WorkloadFormat::Native);
    for format in WorkloadFormat::ALL {
        assert_eq!(format.to_string().parse::<WorkloadFormat>(), Ok(format));
    }
    assert_eq!(
        "csv".parse::<WorkloadFormat>().unwrap_err().to_string(),
        "unknown workload format \"csv\": expected native, yaml, openb, alibaba2018"
    );
}

#[test]
fn a_csv_cluster_file_that_is_not_a_node_list_is_a_clear_error() {
    let path = scratch_file("not-a-node-list.csv", "host,cores,memory\nn1,4,16Gi\n");
    assert_eq!(
        traces::read_cluster(&path).unwrap_err().to_string(),
        format!(
            "{}: line 1: a CSV cluster file must be an openb node list: expected a header with the columns sn,cpu_milli,memory_mib,gpu,model, got \"host,cores,memory\"",
            path.display()
        )
    );
    // A node list missing a column is not a node list either.
    let err = traces::parse_cluster("sn,cpu_milli,memory_mib,gpu\nn1,1000,1,0\n", Path::new("nodes.CSV")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "nodes.CSV: line 1: a CSV cluster file must be an openb node list: expected a header with the columns sn,cpu_milli,memory_mib,gpu,model, got \"sn,cpu_milli,memory_mib,gpu\""
    );
    let err = traces::parse_cluster("", Path::new("empty.csv")).unwrap_err();
    assert_eq!(
        err.message,
        "a CSV cluster file must be an openb node list: expected a header with the columns sn,cpu_milli,memory_mib,gpu,model, got \"\""
    );
    // A workload given as a cluster file is named as one.
    let err = traces::read_cluster(&sample("openb/openb_pod_list_default.csv")).unwrap_err();
    assert_eq!(
        (err.location.as_str(), err.message.ends_with("(this is a workload in the openb format, not a cluster file)")),
        ("line 1", true),
        "{err}"
    );
    let err = traces::parse_cluster("#simsched workload v1\nname,arrival,cpu,memory\n", Path::new("w.csv")).unwrap_err();
    assert!(err.message.ends_with("(this is a workload in the native format, not a cluster file)"), "{err}");
}

/// Imports openb pod-list `rows` (after the header); an error is `location: message`.
fn import_pods(name: &str, rows: &str, opts: &ReadOptions) -> Result<Vec<traces::WorkloadItem>, String> {
    let header = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";
    let path = scratch_file(name, &format!("{header}{rows}"));
    read_workload(&path, Some(WorkloadFormat::Openb), opts)
}

#[test]
fn qos_takes_the_documented_values_or_nothing() {
    let rows = "a,1,1,0,0,,LS,Running,0,1,0\nb,1,1,0,0,,BE,Running,0,1,0\nc,1,1,0,0,,Burstable,Running,0,1,0\nd,1,1,0,0,,Guaranteed,Running,0,1,0\ne,1,1,0,0,,,Running,0,1,0\n";
    let items = import_pods("openb-qos.csv", rows, &ReadOptions::default()).unwrap();
    let labels: Vec<_> = pods(&items).iter().map(|p| p.spec.labels.clone()).collect();
    let qos = |value: &str| pairs(&[("alibabacloud.com/qos", value)]);
    assert_eq!(labels, [qos("LS"), qos("BE"), qos("Burstable"), qos("Guaranteed"), Vec::new()]);
    for (idx, value) in ["Weird QoS!", "ls", "BestEffort", " LS"].into_iter().enumerate() {
        assert_eq!(
            import_pods(&format!("openb-bad-qos-{idx}.csv"), &format!("p,1,1,0,0,,{value},Running,0,1,0\n"), &ReadOptions::default())
                .map(|i| i.len()),
            Err(format!("line 2 column 7 (qos): expected LS, BE, Burstable, Guaranteed, or an empty cell, got {value:?}"))
        );
    }
    // A bad QoS is a bad row: skipped and counted with skip_bad_rows.
    let path = scratch_file(
        "openb-bad-qos-skipped.csv",
        &format!(
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n{rows}f,1,1,0,0,,Weird,Running,0,1,0\n"
        ),
    );
    let stream = traces::open_workload(&path, None, &ReadOptions { skip_bad_rows: true, ..ReadOptions::default() }).unwrap();
    let skipped = stream.skipped_counter();
    assert_eq!(stream.count(), 5);
    assert_eq!(skipped.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn gpu_models_must_be_label_values() {
    let items = import_pods("openb-models.csv", "p,1,1,1,1000,A10|G2|V100M16|a-b_c.d,LS,Running,0,1,0\n", &ReadOptions::default()).unwrap();
    let required = pods(&items)[0].spec.node_affinity.as_ref().unwrap().required.as_ref().unwrap();
    assert_eq!(required.terms[0].match_expressions[0].values, ["A10", "G2", "V100M16", "a-b_c.d"]);
    let long = "V".repeat(64);
    let cases = [
        (
            "V100 M16|T4",
            "GPU model \"V100 M16\" is not a valid label value: expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ),
        (
            "T4|-T4",
            "GPU model \"-T4\" is not a valid label value: expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ),
        (
            "T4.",
            "GPU model \"T4.\" is not a valid label value: expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ),
        (
            "Tésla",
            "GPU model \"Tésla\" is not a valid label value: expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ),
        (long.as_str(), &*format!("GPU model {long:?} is not a valid label value: it has 64 characters, at most 63")),
    ];
    for (idx, (spec, expected)) in cases.into_iter().enumerate() {
        let rows = format!("p,1,1,1,1000,{spec},LS,Running,0,1,0\n");
        assert_eq!(
            import_pods(&format!("openb-bad-spec-{idx}.csv"), &rows, &ReadOptions::default()).map(|i| i.len()),
            Err(format!("line 2 column 6 (gpu_spec): {expected}"))
        );
    }
    // The node list's model becomes a label value too.
    let ok = traces::parse_cluster("sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1,1,V100M16\nn2,1000,1,0,\n", Path::new("n.csv")).unwrap();
    assert_eq!(ok.nodes[0].def.labels[1], ("alibabacloud.com/gpu-card-model".to_string(), "V100M16".to_string()));
    let err = traces::parse_cluster("sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1,1,Tesla V100\n", Path::new("n.csv")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "n.csv: line 2 column 5 (model): GPU model \"Tesla V100\" is not a valid label value: expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    );
}

#[test]
fn oversized_gpu_counts_are_quoted_as_written() {
    let err =
        traces::parse_cluster("sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1,9223372036854775807,T4\n", Path::new("n.csv")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "n.csv: line 2 column 4 (gpu): \"9223372036854775807\" GPUs is more than simsched accounts: at most 9007199254740 (2^53 milli-GPUs)"
    );
    let err = traces::parse_cluster("sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1,9007199254741,T4\n", Path::new("n.csv")).unwrap_err();
    assert_eq!(err.message, "\"9007199254741\" GPUs is more than simsched accounts: at most 9007199254740 (2^53 milli-GPUs)");
    let most = traces::parse_cluster("sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1,9007199254740,T4\n", Path::new("n.csv")).unwrap();
    assert!(most.nodes[0].def.allocatable.contains(&("alibabacloud.com/gpu-milli".to_string(), "9007199254740000".to_string())));
    assert_eq!(
        import_pods("openb-many-gpus.csv", "p,1,1,9223372036854775807,1000,,LS,Running,0,1,0\n", &ReadOptions::default()).map(|i| i.len()),
        Err("line 2 column 4 (num_gpu): \"9223372036854775807\" GPUs is more than simsched accounts: at most 9007199254740 (2^53 milli-GPUs)".to_string())
    );
}

#[test]
fn a_pod_without_a_duration_runs_until_the_end() {
    // Never scheduled (the 897 pending pods of the default list), or scheduled and not deleted when the
    // trace ended (none in the default list).
    let rows = "never,1,1,0,0,,BE,Pending,5,9,\nstill-running,1,1,0,0,,LS,Running,6,,7\nended,1,1,0,0,,LS,Running,8,20,10\n";
    let items = import_pods("openb-durations.csv", rows, &ReadOptions::default()).unwrap();
    let durations: Vec<_> = pods(&items).iter().map(|p| (p.name.as_str(), p.time, p.duration)).collect();
    assert_eq!(durations, [("never", 5_000_000, None), ("still-running", 6_000_000, None), ("ended", 8_000_000, Some(10_000_000))]);
}
