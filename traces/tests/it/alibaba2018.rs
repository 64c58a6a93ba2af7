//! The Alibaba 2018 batch DAG importer.

use std::collections::{BTreeMap, HashSet};

use traces::{Alibaba2018Report, ReadOptions, WorkloadFormat, WorkloadItem};

use super::{read_workload, sample, scratch_file};

fn jobs(items: &[WorkloadItem]) -> Vec<&traces::DagJob> {
    items
        .iter()
        .map(|item| match item {
            WorkloadItem::Dag(job) => job,
            other => panic!("expected a DAG job, got {other:?}"),
        })
        .collect()
}

fn import(path: &std::path::Path, opts: &ReadOptions) -> Result<(Vec<WorkloadItem>, Alibaba2018Report, u64), String> {
    let (stream, report) = traces::alibaba2018::read(path, opts).map_err(|e| format!("{}: {}", e.location, e.message))?;
    let counter = stream.skipped_counter();
    let items = stream.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    Ok((items, report, counter.load(std::sync::atomic::Ordering::Relaxed)))
}

#[test]
fn the_sample_imports() {
    let path = sample("alibaba-2018/batch_task_sample.csv");
    let (items, report, skipped) = import(&path, &ReadOptions::default()).unwrap();
    assert_eq!(
        report,
        Alibaba2018Report {
            jobs: 415,
            tasks: 10_573,
            instances: 509_116,
            incomplete_jobs: 9,
            incomplete_tasks: 313,
            invalid_dag_jobs: 0,
            invalid_dag_tasks: 0,
            first_invalid_dag: None,
            malformed_jobs: 0,
            truncated_task_names: 66
        }
    );
    assert_eq!(skipped, 0);
    // The same numbers, counted independently from the CSV text.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rows_by_job: BTreeMap<&str, Vec<Vec<&str>>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        rows_by_job.entry(cells[2]).or_default().push(cells);
    }
    let incomplete = |rows: &Vec<Vec<&str>>| {
        rows.iter()
            .any(|r| r[4] != "Terminated" || r[5] == "0" || r[6].parse::<u64>().unwrap() < r[5].parse::<u64>().unwrap() || r[1].is_empty())
    };
    let complete: Vec<&Vec<Vec<&str>>> = rows_by_job.values().filter(|rows| !incomplete(rows)).collect();
    assert_eq!(rows_by_job.len(), 424);
    assert_eq!(complete.len(), report.jobs);
    assert_eq!(complete.iter().map(|rows| rows.len()).sum::<usize>(), report.tasks);
    assert_eq!(complete.iter().flat_map(|rows| rows.iter()).map(|r| r[1].parse::<f64>().unwrap() as u64).sum::<u64>(), report.instances);
    assert_eq!(complete.iter().flat_map(|rows| rows.iter()).filter(|r| r[0].len() == 50).count(), report.truncated_task_names);
    assert_eq!(rows_by_job.len() - complete.len(), report.incomplete_jobs);

    let jobs = jobs(&items);
    assert_eq!(jobs.len(), 415);
    assert!(jobs.windows(2).all(|w| (w[0].time, &w[0].name) <= (w[1].time, &w[1].name)), "sorted by time, then name");
    for job in &jobs {
        for (idx, task) in job.tasks.iter().enumerate() {
            assert!(task.parents.iter().all(|p| *p < job.tasks.len() && *p != idx), "{}", job.name);
        }
    }
    // j_15 is a chain: M1 → R2_1 → R3_2 → M4_3 → R5_4 (the letter does not matter), all started at 119444.
    let j15 = jobs.iter().find(|j| j.name == "j_15").unwrap();
    let summary: Vec<_> = j15.tasks.iter().map(|t| (t.name.as_str(), t.instances, t.duration, t.parents.clone())).collect();
    assert_eq!(j15.time, 119_444_000_000);
    assert_eq!(
        summary,
        [
            ("M1", 1, Some(27_000_000), vec![]),
            ("R2_1", 1, Some(27_000_000), vec![0]),
            ("R3_2", 1, Some(27_000_000), vec![1]),
            ("M4_3", 1, Some(49_000_000), vec![2]),
            ("R5_4", 1, Some(49_000_000), vec![3]),
        ]
    );
    // plan_cpu 100 = 1 core; plan_mem 0.3 of 384 GiB per 100.
    assert_eq!(
        j15.tasks[0].spec.containers[0].requests,
        [("cpu".to_string(), "1000m".to_string()), ("memory".to_string(), ((384u64 << 30) * 3).div_ceil(1000).to_string())]
    );
    // Specs are shared by identical requests.
    let distinct: HashSet<*const scheduler_core::PodDef> =
        jobs.iter().flat_map(|j| j.tasks.iter().map(|t| std::sync::Arc::as_ptr(&t.spec))).collect();
    assert!(distinct.len() < 2_000, "{}", distinct.len());

    let stream = traces::open_workload(&path, None, &ReadOptions::default()).unwrap();
    assert_eq!(
        stream.notes(),
        [
            "imported 415 DAG job(s) with 10573 task(s) and 509116 pod(s)",
            "left out 9 job(s) (313 task(s)) that did not complete in the trace: a task not Terminated, not started, ending before it started, or without an instance count",
            "66 task name(s) were cut at 50 characters by the trace: the dependencies after the cut are lost",
        ]
    );
}

const HEADER: &str = "task_name,instance_num,job_name,task_type,status,start_time,end_time,plan_cpu,plan_mem\n";

#[test]
fn dags_units_and_independent_tasks() {
    let rows = "R2_1,2.0,j_a,1,Terminated,110,150,50.0,0.5\nM1,1.0,j_a,1,Terminated,100,110,100.0,1\ntask_xyz,3.0,j_b,1,Terminated,90,95,25,0.01\nM1,1.0,j_c,1,Running,100,0,100,1\n";
    let path = scratch_file("alibaba-small.csv", &format!("{HEADER}{rows}"));
    let opts = ReadOptions::default();
    let (items, report, _) = import(&path, &opts).unwrap();
    assert_eq!((report.jobs, report.tasks, report.instances, report.incomplete_jobs, report.incomplete_tasks), (2, 3, 6, 1, 1));
    let small = jobs(&items);
    assert_eq!(small.iter().map(|j| (j.name.as_str(), j.time)).collect::<Vec<_>>(), [("j_b", 90_000_000), ("j_a", 100_000_000)]);
    let j_a = small[1];
    assert_eq!(
        j_a.tasks.iter().map(|t| (t.name.as_str(), t.instances, t.duration, t.parents.clone())).collect::<Vec<_>>(),
        [("M1", 1, Some(10_000_000), vec![]), ("R2_1", 2, Some(40_000_000), vec![0])]
    );
    let requests = |task: &traces::DagTask| task.spec.containers[0].requests.clone();
    let gib_384 = 384i64 << 30;
    // 0.5 × 384 GiB / 100 = 2,061,584,302.08 bytes, rounded up.
    assert_eq!(requests(&j_a.tasks[1]), [("cpu".to_string(), "500m".to_string()), ("memory".to_string(), "2061584303".to_string())]);
    assert_eq!(
        requests(&small[0].tasks[0]),
        [("cpu".to_string(), "250m".to_string()), ("memory".to_string(), (gib_384 / 10_000 + 1).to_string())]
    );
    // Other units.
    let opts = ReadOptions {
        alibaba2018: traces::Alibaba2018Options { milli_cpu_per_100: 2000, memory_bytes_per_100: 100 << 30 },
        ..ReadOptions::default()
    };
    let (items, _, _) = import(&path, &opts).unwrap();
    let other_units = jobs(&items);
    assert_eq!(
        requests(&other_units[1].tasks[1]),
        [("cpu".to_string(), "1000m".to_string()), ("memory".to_string(), (1i64 << 29).to_string())]
    );
    // Without a header, the official column order.
    let headerless = scratch_file("alibaba-headerless.csv", rows);
    let (items, report, _) = import(&headerless, &ReadOptions::default()).unwrap();
    assert_eq!((items.len(), report.jobs), (2, 2));
    assert_eq!(read_workload(&headerless, Some(WorkloadFormat::Alibaba2018), &ReadOptions::default()).unwrap().len(), 2);
}

#[test]
fn malformed_rows_are_errors_or_skip_their_job() {
    let good = "M1,1.0,j_ok,1,Terminated,100,110,100,1\n";
    let cases = [
        (
            "2_1,1.0,j_x,1,Terminated,1,2,100,1\n",
            "line 2 column 1 (task_name): expected a task name such as M1, R2_1 or J8_6_7 (a letter, the task number, then the numbers of the tasks it depends on, separated by '_') or task_…, got \"2_1\"",
        ),
        (
            "M1,1.5,j_x,1,Terminated,1,2,100,1\n",
            "line 2 column 2 (instance_num): expected a whole number of instances, at least 1, such as 4.0, got \"1.5\"",
        ),
        (
            "M1,1.0,j_x,1,Terminated,soon,2,100,1\n",
            "line 2 column 6 (start_time): expected seconds from the start of the trace, got \"soon\"",
        ),
        ("M1,1.0,j_x,1,Terminated,1,2,lots,1\n", "line 2 column 8 (plan_cpu): expected a non-negative number such as 50.0, got \"lots\""),
        ("M1,1.0,j_x,1,Terminated,1,2,,1\n", "line 2 column 8 (plan_cpu): Required value: CPU per instance"),
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,0.12345678901234567891\n",
            "line 2 column 9 (plan_mem): too many significant digits: expected at most 19, got 20 in \"0.12345678901234567891\"",
        ),
        (
            "M1,1.0,j_x,1,Terminated,1,2,1e30,1\n",
            "line 2 column 8 (plan_cpu): CPU per instance is more than simsched accounts: at most 2^53 millicores",
        ),
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,1e20\n",
            "line 2 column 9 (plan_mem): memory per instance is more than simsched accounts: at most 2^53 bytes",
        ),
        // Malformed and not a DAG: malformed.
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,1\nR2_3,1.0,j_x,1,Terminated,1,2,,1\n",
            "line 3 column 8 (plan_cpu): Required value: CPU per instance",
        ),
        ("M1,1.0,j_x,1,Terminated,1,2,100\n", "line 2: expected 9 fields as in the header, found 8"),
    ];
    for (idx, (rows, expected)) in cases.into_iter().enumerate() {
        let path = scratch_file(&format!("alibaba-error-{idx}.csv"), &format!("{HEADER}{rows}{good}"));
        assert_eq!(import(&path, &ReadOptions::default()).map(|r| r.1), Err(expected.to_string()), "{rows}");
        let skip = ReadOptions { skip_bad_rows: true, ..ReadOptions::default() };
        let (items, report, skipped) = import(&path, &skip).unwrap();
        assert_eq!(jobs(&items).iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["j_ok"], "{rows}");
        assert_eq!(skipped, rows.lines().count() as u64, "every row of the bad job is counted: {rows}");
        let malformed_jobs = usize::from(!expected.contains("fields"));
        assert_eq!(report.malformed_jobs, malformed_jobs, "{rows}");
    }
}

#[test]
fn jobs_whose_tasks_are_not_a_dag_are_left_out_and_counted() {
    let good = "M1,1.0,j_ok,1,Terminated,100,110,100,1\n";
    let cases = [
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,1\nR2_3,1.0,j_x,1,Terminated,1,2,100,1\n",
            "line 3 column 1 (task_name): task \"R2_3\" of job \"j_x\" depends on task 3, which the job does not have",
        ),
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,1\nR1_1,1.0,j_x,1,Terminated,1,2,100,1\n",
            "line 3 column 1 (task_name): job \"j_x\" has this task twice (also on line 2)",
        ),
        (
            "task_a,1.0,j_x,1,Terminated,1,2,100,1\ntask_a,1.0,j_x,1,Terminated,1,2,100,1\n",
            "line 3 column 1 (task_name): job \"j_x\" has this task twice (also on line 2)",
        ),
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,1\nR2_3,1.0,j_x,1,Terminated,1,2,100,1\nR3_2,1.0,j_x,1,Terminated,1,2,100,1\n",
            "line 4 column 1 (task_name): the tasks of job \"j_x\" form a cycle through task \"R3_2\"",
        ),
        (
            "M1,1.0,j_x,1,Terminated,1,2,100,1\nR2_2,1.0,j_x,1,Terminated,1,2,100,1\n",
            "line 3 column 1 (task_name): task \"R2_2\" of job \"j_x\" depends on itself",
        ),
    ];
    for (idx, (rows, expected)) in cases.into_iter().enumerate() {
        let path = scratch_file(&format!("alibaba-not-a-dag-{idx}.csv"), &format!("{HEADER}{rows}{good}"));
        for skip_bad_rows in [false, true] {
            let opts = ReadOptions { skip_bad_rows, ..ReadOptions::default() };
            let (items, report, skipped) = import(&path, &opts).unwrap();
            assert_eq!(jobs(&items).iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["j_ok"], "{rows}");
            let n_tasks = rows.lines().count();
            assert_eq!(
                report,
                Alibaba2018Report {
                    jobs: 1,
                    tasks: 1,
                    instances: 1,
                    invalid_dag_jobs: 1,
                    invalid_dag_tasks: n_tasks,
                    first_invalid_dag: Some(expected.to_string()),
                    ..Alibaba2018Report::default()
                },
                "{rows}"
            );
            assert_eq!(skipped, 0, "not malformed rows: {rows}");
            assert_eq!(
                report.notes()[1],
                format!(
                    "left out 1 job(s) ({n_tasks} task(s)) whose tasks do not form a DAG: a parent the job does not have, a task twice, or a cycle; the first: {expected}"
                )
            );
        }
    }
    // Counted per job; the note locates the first.
    let rows = "R2_3,1.0,j_y,1,Terminated,1,2,100,1\nM1,1.0,j_y,1,Terminated,1,2,100,1\nM1,1.0,j_x,1,Terminated,1,2,100,1\nR2_2,1.0,j_x,1,Terminated,1,2,100,1\n";
    let path = scratch_file("alibaba-not-a-dag-two.csv", &format!("{HEADER}{rows}{good}"));
    let (_, report, _) = import(&path, &ReadOptions::default()).unwrap();
    assert_eq!((report.jobs, report.invalid_dag_jobs, report.invalid_dag_tasks), (1, 2, 4));
    assert_eq!(
        report.first_invalid_dag.as_deref(),
        Some("line 2 column 1 (task_name): task \"R2_3\" of job \"j_y\" depends on task 3, which the job does not have")
    );
    // A job that did not complete is counted as incomplete, whatever its DAG.
    let rows = "M1,1.0,j_x,1,Running,1,2,100,1\nR2_3,1.0,j_x,1,Terminated,1,2,100,1\n";
    let path = scratch_file("alibaba-not-a-dag-incomplete.csv", &format!("{HEADER}{rows}{good}"));
    let (_, report, _) = import(&path, &ReadOptions::default()).unwrap();
    assert_eq!((report.incomplete_jobs, report.invalid_dag_jobs), (1, 0));
}

#[test]
fn many_decimals_are_exact_and_tiny_amounts_request_one_unit() {
    let rows = "M1,1.0,j_a,1,Terminated,1,2,1e-40,0.0000000000000000000000000000000000000000000000001\nM1,1.0,j_b,1,Terminated,1,2,33.3333333333333333,0.1234567890123456789\n";
    let path = scratch_file("alibaba-decimals.csv", &format!("{HEADER}{rows}"));
    let (items, _, _) = import(&path, &ReadOptions::default()).unwrap();
    let requests: Vec<_> = jobs(&items).iter().map(|j| j.tasks[0].spec.containers[0].requests.clone()).collect();
    let pair = |cpu: &str, memory: &str| vec![("cpu".to_string(), cpu.to_string()), ("memory".to_string(), memory.to_string())];
    // 33.3333333333333333 × 1000m / 100 = 333.33…m → 334m; 0.1234567890123456789 × 384Gi / 100 = 509,033,156.4… bytes.
    assert_eq!(requests, [pair("1m", "1"), pair("334m", "509033157")]);
}

#[test]
fn the_official_headerless_file_is_detected() {
    let text = std::fs::read_to_string(sample("alibaba-2018/batch_task_sample.csv")).unwrap();
    let headerless = scratch_file("batch_task.csv", text.split_once('\n').unwrap().1);
    assert_eq!(traces::format::detect(&headerless).map_err(|e| e.to_string()), Ok(WorkloadFormat::Alibaba2018));
    let detected = traces::open_workload(&headerless, None, &ReadOptions::default()).unwrap();
    let named = traces::open_workload(&sample("alibaba-2018/batch_task_sample.csv"), None, &ReadOptions::default()).unwrap();
    assert_eq!(detected.notes(), named.notes());
    assert_eq!(detected.count(), 415);
    // The first row decides; one that is not of that shape is not guessed at.
    let odd = scratch_file("batch_task-odd.csv", "M1,1.0,job-1,1,Terminated,1,2,100,1\n");
    assert!(traces::format::detect(&odd).unwrap_err().message.starts_with("cannot tell the workload format"));
}
