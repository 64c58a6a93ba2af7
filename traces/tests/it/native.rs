//! The native workload CSV: reading, errors, skipping, laziness, and the writer's round trip.

use std::io::Write;
use std::sync::Arc;

use proptest::prelude::*;
use scheduler_core::{ContainerDef, OwnerReferenceDef, PodDef};
use traces::{PodArrival, ReadOptions, WorkloadFormat, WorkloadItem};

use super::{pods, read_workload, scratch, scratch_file};

const HEADER: &str = "#simsched workload v1\nname,arrival,duration,cpu,memory,resources,priority,job,labels,namespace,scheduler\n";

fn read(name: &str, text: &str) -> Result<Vec<WorkloadItem>, String> {
    read_workload(&scratch_file(name, text), None, &ReadOptions::default())
}

fn pod_def(requests: &[(&str, &str)]) -> PodDef {
    PodDef {
        namespace: "default".into(),
        containers: vec![ContainerDef {
            name: "main".into(),
            requests: requests.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..ContainerDef::default()
        }],
        ..PodDef::default()
    }
}

#[test]
fn rows_become_pods_with_shared_shapes() {
    let text = format!(
        "{HEADER}web-0,0,300,500m,1Gi,,,,app=web,,\nweb-1,0.5,300,500m,1Gi,,,,app=web,,\ntrain-0,12.000001,,8,32Gi,nvidia.com/gpu=1,100,train,app=train;team=ml,ml,my-scheduler\ntrain-1,13,1.5,8,32Gi,nvidia.com/gpu=1,100,train,app=train;team=ml,ml,my-scheduler\n"
    );
    let items = read("rows.csv", &text).unwrap();
    let pods = pods(&items);
    assert_eq!(pods.len(), 4);
    assert_eq!((pods[0].name.as_str(), pods[0].time, pods[0].duration, pods[0].job.as_deref()), ("web-0", 0, Some(300_000_000), None));
    assert_eq!((pods[2].time, pods[2].duration, pods[2].job.as_deref()), (12_000_001, None, Some("train")));
    assert_eq!(pods[3].duration, Some(1_500_000));
    let mut web = pod_def(&[("cpu", "500m"), ("memory", "1Gi")]);
    web.labels = vec![("app".into(), "web".into())];
    assert_eq!(*pods[0].spec, web);
    let mut train = pod_def(&[("cpu", "8"), ("memory", "32Gi"), ("nvidia.com/gpu", "1")]);
    train.labels = vec![("app".into(), "train".into()), ("team".into(), "ml".into())];
    train.priority = Some(100);
    train.namespace = "ml".into();
    train.scheduler_name = "my-scheduler".into();
    assert_eq!(*pods[2].spec, train);
    assert!(Arc::ptr_eq(&pods[0].spec, &pods[1].spec) && Arc::ptr_eq(&pods[2].spec, &pods[3].spec));
    assert!(!Arc::ptr_eq(&pods[0].spec, &pods[2].spec));
}

#[test]
fn columns_in_any_order_and_optional_ones_absent() {
    let items = read("order.csv", "#simsched workload v1\nmemory,cpu,arrival,name\n1Gi,1,0,a\n,,2,b\n").unwrap();
    let pods = pods(&items);
    assert_eq!(*pods[0].spec, pod_def(&[("cpu", "1"), ("memory", "1Gi")]));
    assert_eq!((pods[1].time, pods[1].duration), (2_000_000, None));
    assert_eq!(*pods[1].spec, pod_def(&[]), "an empty cpu or memory cell requests none");
}

#[test]
fn errors_name_line_and_column() {
    let cases: &[(&str, &str)] = &[
        ("name,arrival,cpu,memory\na,0,1,1Gi\n", "line 1: expected \"#simsched workload v1\", got \"name,arrival,cpu,memory\""),
        ("#simsched workload v2\nname,arrival,cpu,memory\n", "line 1: expected \"#simsched workload v1\", got \"#simsched workload v2\""),
        ("#simsched workload v1\n", "line 2: expected a header row, found the end of the file"),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,gpu\n",
            "line 2 column 5 (gpu): unknown column \"gpu\": valid columns are name, arrival, duration, cpu, memory, resources, priority, job, labels, namespace, scheduler, owner",
        ),
        ("#simsched workload v1\nname,arrival,cpu,memory,cpu\n", "line 2 column 5 (cpu): column \"cpu\" appears twice"),
        ("#simsched workload v1\nname,arrival,cpu\n", "line 2: missing column \"memory\": required columns are name, arrival, cpu, memory"),
        (
            "#simsched workload v1\nname,arrival,cpu,memory\na,0,1,1Gi\nb,1,4cores,1Gi\n",
            "line 4 column 3 (cpu): invalid quantity \"4cores\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory\na,0,1,-1Gi\n",
            "line 3 column 4 (memory): must be greater than or equal to 0, got \"-1Gi\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory\na,1.2345678,1,1Gi\n",
            "line 3 column 2 (arrival): expected seconds such as 12.5 (at most 6 decimals), got \"1.2345678\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory\na,-1,1,1Gi\n",
            "line 3 column 2 (arrival): expected seconds such as 12.5 (at most 6 decimals), got \"-1\"",
        ),
        (
            "#simsched workload v1\nname,arrival,duration,cpu,memory\na,0,forever,1,1Gi\n",
            "line 3 column 3 (duration): expected seconds such as 300 (at most 6 decimals), or nothing, got \"forever\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory\na,10,1,1Gi\nb,9.5,1,1Gi\n",
            "line 4 column 2 (arrival): arrival 9.5 is earlier than the previous row's 10: rows must be sorted by arrival",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory\na,0,1,1Gi\nb,0,1,1Gi\na,1,1,1Gi\n",
            "line 5 column 1 (name): pod name \"a\" is already used on line 3",
        ),
        ("#simsched workload v1\nname,arrival,cpu,memory\n,0,1,1Gi\n", "line 3 column 1 (name): Required value: every pod has a name"),
        ("#simsched workload v1\nname,arrival,cpu,memory\na,0,1\n", "line 3: expected 4 fields as in the header, found 3"),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,resources\na,0,1,1Gi,gpu=1\n",
            "line 3 column 5 (resources): \"gpu\" is not a resource name: expected ephemeral-storage, hugepages-<size> or a domain-prefixed extended resource such as nvidia.com/gpu",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,resources\na,0,1,1Gi,cpu=1\n",
            "line 3 column 5 (resources): \"cpu\" has its own column",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,resources\na,0,1,1Gi,nvidia.com/gpu\n",
            "line 3 column 5 (resources): expected name=quantity pairs separated by ';', such as nvidia.com/gpu=1, got \"nvidia.com/gpu\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,resources\na,0,1,1Gi,nvidia.com/gpu=1;nvidia.com/gpu=2\n",
            "line 3 column 5 (resources): resource \"nvidia.com/gpu\" appears twice",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,priority\na,0,1,1Gi,high\n",
            "line 3 column 5 (priority): expected an int32 priority, got \"high\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,owner\na,0,1,1Gi,web-1\n",
            "line 3 column 5 (owner): expected Kind/name, such as ReplicaSet/web-5d8f, got \"web-1\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,owner\na,0,1,1Gi,Deployment/web\n",
            "line 3 column 5 (owner): unknown owner kind \"Deployment\": expected one of ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job, PodGroup",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,owner\na,0,1,1Gi,ReplicaSet/Web\n",
            "line 3 column 5 (owner): owner name \"Web\" is not a valid object name (lower case letters, digits, '-' and '.')",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,labels\na,0,1,1Gi,app\n",
            "line 3 column 5 (labels): expected key=value pairs separated by ';', such as app=web, got \"app\"",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,labels\na,0,1,1Gi,-x=1\n",
            "line 3 column 5 (labels): label key \"-x\" is not a qualified name (such as app or example.com/tier)",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,labels\na,0,1,1Gi,a=1;a=2\n",
            "line 3 column 5 (labels): label \"a\" appears twice",
        ),
        (
            "#simsched workload v1\nname,arrival,cpu,memory,labels\na,0,1,1Gi,app=web server\n",
            "line 3 column 5 (labels): label value \"web server\" of \"app\" is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
        ),
    ];
    for (idx, (text, expected)) in cases.iter().enumerate() {
        let path = scratch_file(&format!("error-{idx}.csv"), text);
        let got = read_workload(&path, Some(WorkloadFormat::Native), &ReadOptions::default()).map(|items| items.len());
        assert_eq!(got, Err(expected.to_string()), "case {idx}: {text}");
    }
}

#[test]
fn a_quoted_cell_may_hold_commas_quotes_and_newlines() {
    let items = read("quoted.csv", "#simsched workload v1\nname,arrival,cpu,memory\n\"a, \"\"b\"\"\nc\",0,1,1Gi\nd,1,x,1Gi\n");
    assert_eq!(
        items.unwrap_err(),
        "line 5 column 3 (cpu): invalid quantity \"x\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    let items = read("quoted-ok.csv", "#simsched workload v1\nname,arrival,cpu,memory\n\"a, \"\"b\"\"\nc\",0,1,1Gi\n").unwrap();
    assert_eq!(pods(&items)[0].name, "a, \"b\"\nc");
}

#[test]
fn bad_rows_are_skipped_and_counted_when_asked() {
    let text = "#simsched workload v1\nname,arrival,cpu,memory\na,0,1,1Gi\nb,1,bad,1Gi\nc,2,1,1Gi\nd,1,1,1Gi\ne,3\na,4,1,1Gi\nf,5,1,1Gi\n";
    let path = scratch_file("skip.csv", text);
    let opts = ReadOptions { skip_bad_rows: true, ..ReadOptions::default() };
    let mut stream = traces::open_workload(&path, None, &opts).unwrap();
    let names: Vec<String> = stream.by_ref().map(|item| pods(&[item.unwrap()])[0].name.clone()).collect();
    assert_eq!(names, ["a", "c", "f"]);
    assert_eq!(stream.skipped_rows(), 4, "a bad quantity, an unsorted row, a short row and a duplicate name");
    assert!(stream.notes().is_empty());
    let without = read_workload(&path, None, &ReadOptions::default());
    assert_eq!(
        without.unwrap_err(),
        "line 4 column 3 (cpu): invalid quantity \"bad\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

/// A million rows: the reader hands out the first pod before it has read the rest (a bad row appended to
/// the file after the first pod was read is still seen), reads row by row (all pods share two specs), and
/// fails only at the bad row.
#[test]
fn a_million_rows_are_read_lazily() {
    let path = scratch("million.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write!(file, "#simsched workload v1\nname,arrival,duration,cpu,memory\n").unwrap();
    for idx in 0..999_999u32 {
        let (cpu, memory) = if idx % 3 == 0 { ("500m", "1Gi") } else { ("2", "4Gi") };
        writeln!(file, "pod-{idx},{}.{:06},60,{cpu},{memory}", idx / 1000, (idx % 1000) * 1000).unwrap();
    }
    drop(file);
    let mut stream = traces::open_workload(&path, None, &ReadOptions::default()).unwrap();
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.time(), 0);
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(file, "pod-last,999999,60,1,bad").unwrap();
    drop(file);
    let mut n_pods = 1;
    let mut specs: Vec<Arc<PodDef>> = Vec::new();
    let error = loop {
        match stream.next() {
            Some(Ok(WorkloadItem::Pod(pod))) => {
                n_pods += 1;
                if !specs.iter().any(|s| Arc::ptr_eq(s, &pod.spec)) {
                    specs.push(pod.spec.clone());
                }
            }
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            Some(Err(e)) => break e,
            None => panic!("the bad row was not reported"),
        }
    };
    assert_eq!(n_pods, 999_999);
    assert_eq!(specs.len(), 2);
    assert_eq!(error.location, "line 1000002 column 5 (memory)");
    assert!(stream.next().is_none(), "the stream ends after an error");
}

fn arrival(time: u64, name: &str, spec: &Arc<PodDef>, duration: Option<u64>, job: Option<&str>) -> WorkloadItem {
    WorkloadItem::Pod(PodArrival { time, name: name.into(), spec: spec.clone(), duration, job: job.map(Arc::from) })
}

fn same_pods(read: &[WorkloadItem], written: &[WorkloadItem]) {
    assert_eq!(read.len(), written.len());
    for (r, w) in pods(read).into_iter().zip(pods(written)) {
        assert_eq!((r.time, &r.name, r.duration, &r.job, &*r.spec), (w.time, &w.name, w.duration, &w.job, &*w.spec));
    }
}

#[test]
fn writer_round_trip() {
    let web = Arc::new(PodDef { labels: vec![("app".into(), "web".into())], ..pod_def(&[("cpu", "500m"), ("memory", "1Gi")]) });
    let mut gpu = pod_def(&[("cpu", "8"), ("memory", "32Gi"), ("nvidia.com/gpu", "1"), ("ephemeral-storage", "10Gi")]);
    gpu.priority = Some(-5);
    gpu.namespace = "ml".into();
    gpu.scheduler_name = "other".into();
    gpu.owner = Some(OwnerReferenceDef { api_version: "batch/v1".into(), kind: "Job".into(), name: "train".into() });
    let gpu = Arc::new(gpu);
    let items = vec![
        arrival(0, "web,0", &web, Some(300_000_000), None),
        arrival(1, "web \"1\"", &web, None, Some("j")),
        arrival(2_500_000, "train", &gpu, Some(1), Some("j")),
    ];
    let path = scratch("roundtrip.csv");
    traces::write_native(items.clone(), &path).unwrap();
    let read = read_workload(&path, None, &ReadOptions::default()).unwrap();
    same_pods(&read, &items);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(HEADER.replace("scheduler\n", "scheduler,owner\n").as_str()), "{text}");
    assert!(text.contains("train,2.5,0.000001,8,32Gi,nvidia.com/gpu=1;ephemeral-storage=10Gi,-5,j,,ml,other,Job/train\n"), "{text}");
}

#[test]
fn writer_refuses_what_the_format_cannot_hold() {
    let path = scratch("refused.csv");
    let mut tolerant = pod_def(&[("cpu", "1")]);
    tolerant.tolerations = vec![scheduler_core::TolerationDef::default()];
    let err = traces::write_native([arrival(0, "p", &Arc::new(tolerant), None, None)], &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: pod \"p\": cannot be written in the native CSV format (tolerations): use the YAML format", path.display())
    );
    let mut spread = pod_def(&[("cpu", "1")]);
    spread.topology_spread_constraints = vec![scheduler_core::TopologySpreadConstraintDef {
        max_skew: 1,
        topology_key: "zone".into(),
        when_unsatisfiable: scheduler_core::WhenUnsatisfiable::ScheduleAnyway,
        label_selector: None,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }];
    let err = traces::write_native([arrival(0, "p", &Arc::new(spread), None, None)], &path).unwrap_err();
    assert!(
        err.to_string().ends_with("cannot be written in the native CSV format (topology spread constraints): use the YAML format"),
        "{err}"
    );
    let mut labelled = pod_def(&[("cpu", "1")]);
    labelled.labels = vec![("app".into(), "web;x".into())];
    let err = traces::write_native([arrival(0, "p", &Arc::new(labelled), None, None)], &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: pod \"p\": cannot be written in the native CSV format (label \"app\"=\"web;x\" is not a valid label): use the YAML format",
            path.display()
        )
    );
    let job = traces::DagJob { time: 0, name: "etl".into(), tasks: Vec::new() };
    let err = traces::write_native([WorkloadItem::Dag(job)], &path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: job \"etl\": a DAG job cannot be written in the native CSV format: use the YAML format", path.display())
    );
    let spec = Arc::new(pod_def(&[]));
    let err = traces::write_native([arrival(5, "a", &spec, None, None), arrival(4, "b", &spec, None, None)], &path).unwrap_err();
    assert_eq!(err.message, "pods must be written in time order");
}

fn quantity() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("100m".to_string()),
        Just("1".to_string()),
        Just("1.5".to_string()),
        Just("250m".to_string()),
        (1u32..64).prop_map(|n| format!("{n}Gi"))
    ]
}

fn row() -> impl Strategy<Value = (String, u64, Option<u64>, PodDef, Option<String>)> {
    let labels = proptest::collection::btree_map("[a-z]{1,3}", "([a-zA-Z0-9]([a-zA-Z0-9_.-]{0,4}[a-zA-Z0-9])?)?", 0..3);
    let resources = proptest::option::of(prop_oneof![Just("nvidia.com/gpu"), Just("example.com/fpga"), Just("hugepages-2Mi")]);
    (
        "[a-zA-Z0-9,\"; -]{0,6}",
        0u64..5_000_000,
        proptest::option::of(0u64..10_000_000_000),
        (quantity(), quantity(), resources, 1u32..9, labels),
        (proptest::option::of(any::<i32>()), prop_oneof![Just("default"), Just("ml")], prop_oneof![Just(""), Just("custom")]),
        proptest::option::of("[a-z]{1,4}"),
    )
        .prop_map(|(name, gap, duration, (cpu, memory, resource, amount, labels), (priority, namespace, scheduler), job)| {
            let mut requests = vec![("cpu", cpu.as_str()), ("memory", memory.as_str())];
            let amount = amount.to_string();
            if let Some(resource) = resource {
                requests.push((resource, amount.as_str()));
            }
            let mut def = pod_def(&requests);
            def.labels = labels.into_iter().collect();
            def.priority = priority;
            def.namespace = namespace.to_string();
            def.scheduler_name = scheduler.to_string();
            (name, gap, duration, def, job)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_rows_survive_write_then_parse(rows in proptest::collection::vec(row(), 0..40)) {
        let mut time = 0;
        let items: Vec<WorkloadItem> = rows
            .into_iter()
            .enumerate()
            .map(|(idx, (name, gap, duration, def, job))| {
                time += gap;
                arrival(time, &format!("{name}#{idx}"), &Arc::new(def), duration, job.as_deref())
            })
            .collect();
        let path = scratch(&format!("proptest-{:?}.csv", std::thread::current().id()));
        traces::write_native(items.clone(), &path).unwrap();
        let read = read_workload(&path, None, &ReadOptions::default()).unwrap();
        same_pods(&read, &items);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the bytes, every reader returns items or errors, and never panics.
    #[test]
    fn no_input_makes_a_reader_panic(body in "[a-z0-9_.,;=|\"\n -]{0,300}", header_idx in 0usize..5, skip in any::<bool>()) {
        let headers = [
            "#simsched workload v1\nname,arrival,duration,cpu,memory,resources,priority,job,labels,namespace,scheduler\n",
            "#simsched workload v1\n",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n",
            "task_name,instance_num,job_name,task_type,status,start_time,end_time,plan_cpu,plan_mem\n",
            "apiVersion: simsched/v1\nkind: Workload\n",
        ];
        let formats = [WorkloadFormat::Native, WorkloadFormat::Native, WorkloadFormat::Openb, WorkloadFormat::Alibaba2018, WorkloadFormat::Yaml];
        let path = scratch(&format!("fuzz-{:?}.txt", std::thread::current().id()));
        std::fs::write(&path, format!("{}{body}", headers[header_idx])).unwrap();
        let opts = ReadOptions { skip_bad_rows: skip, ..ReadOptions::default() };
        if let Ok(stream) = traces::open_workload(&path, Some(formats[header_idx]), &opts) {
            for item in stream {
                let _ = item;
            }
        }
        let _ = traces::read_cluster(&path);
    }
}
