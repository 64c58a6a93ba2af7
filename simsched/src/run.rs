//! `simsched run`: one simulation of a workload on a cluster under one policy, and its summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::ValueEnum;

use simulator::{Progress, Recorder, SimOptions, Summary, Timing, simulate};

use crate::demand::{DemandInput, SweepSettings, TieBreakArg};
use crate::prefetch::prefetched;
use crate::progress::DelayedProgress;
use crate::setup::{PolicyChoice, Scenario, SimSettings, WorkloadArgs, print_notes};
use crate::table::{ResultTable, human_seconds, percent};

pub const LONG_ABOUT: &str = "Replay a workload on a cluster in simulated time under one scheduling policy, and summarise how it went.

Pods arrive when the workload says, wait in kube-scheduler's scheduling queue (activeQ, backoff, unschedulable pods), are placed by the policy's plugins, run for their duration and free their resources. DAG jobs release a task's pods when its parent tasks have finished; node events add, remove or fail nodes.

The summary gives job completion time (JCT) and queueing delay (mean, p50, p90, p99, max), makespan, time-weighted allocation per resource, pending pods, and the scheduler's attempts. --out DIR also writes summary.json, timing.json, pods.csv (one row per pod), jobs.csv (one row per job) and timeseries.csv (allocation, pending and running pods at every --interval). --report PATH.html writes an HTML report: the summary, allocation and pods over time, and the distributions of JCT and queueing delay (`simsched report DIR` builds the same from --out DIR).";

pub const EXAMPLES: &str = "\
Examples:
  # The openb GPU trace under kube-scheduler's default profile
  simsched run --cluster traces/samples/openb/openb_node_list_all_node.csv \\
               --workload traces/samples/openb/openb_pod_list_default.csv

  # Bin-packing with shortest-job-first, all records written to out/, and a report with charts
  simsched run --cluster cluster.yaml --workload workload.csv --policy binpack/sjf --out out/ --report run.html

  # Your own KubeSchedulerConfiguration, a 2 ms scheduling cost, the first day only
  simsched run --cluster cluster.yaml --workload workload.csv --config sched.yaml --attempt-cost 2ms --until 24h";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// The summary as JSON (the same object as summary.json).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Cluster at time 0: kubectl YAML/JSON, compact YAML, or an openb node list CSV
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,

    /// Workload: native CSV or YAML, an openb pod list, an Alibaba 2018 batch_task CSV
    #[arg(long, value_name = "FILE")]
    workload: PathBuf,

    #[command(flatten)]
    workload_args: WorkloadArgs,

    /// Built-in policy, optionally with a queue order (see `simsched policies`) [default: default]
    #[arg(long, value_name = "NAME[/QUEUE]", conflicts_with = "config")]
    policy: Option<String>,

    /// A KubeSchedulerConfiguration to simulate instead of a built-in policy
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Seed of the scheduler's random choices (tie-breaks, the random policy)
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Write summary.json, timing.json, pods.csv, jobs.csv and timeseries.csv into this directory
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,

    /// Also write an HTML report (summary table and SVG charts, one self-contained file) to this path
    #[arg(long, value_name = "PATH.html")]
    report: Option<PathBuf>,

    /// The FGD paper's evaluation instead of a replay (see `simsched compare --help`): --out DIR writes
    /// demand.csv (one row per percent of arrived GPU demand), demand-summary.csv and demand.json
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..=1000))]
    demand_sweep: Option<u32>,

    /// How ties between the best nodes are broken [default: node-rank with --demand-sweep, as the paper's simulator; else uniform]
    #[arg(long, value_enum, value_name = "HOW")]
    tie_break: Option<TieBreakArg>,

    #[command(flatten)]
    settings: SimSettings,
}

pub fn run(args: &Args) -> Result<()> {
    if let Some(path) = &args.report {
        crate::report::check_destination(path)?;
    }
    let mut scenario = Scenario::load(&args.cluster, &args.workload, &args.workload_args)?;
    let choice = match (&args.policy, &args.config) {
        (_, Some(path)) => PolicyChoice::file(path)?,
        (Some(spec), None) => PolicyChoice::builtin(spec)?,
        (None, None) => PolicyChoice::builtin("default")?,
    };
    let (demand_input, registry) = DemandInput::load_if(&mut scenario, args.demand_sweep.is_some() || choice.uses("FGD"))?;
    let policy_notes = vec![(choice.label.clone(), choice.check(&scenario.cluster, &registry)?)];
    if !args.settings.quiet {
        print_notes(&scenario.notes, &policy_notes);
    }
    if let (Some(target), Some(input)) = (args.demand_sweep, &demand_input) {
        let settings = SweepSettings {
            target_percent: target,
            tie_break: args.tie_break.unwrap_or(TieBreakArg::NodeRank).into(),
            threads: 1,
            out: args.out.as_deref(),
            report: args.report.as_deref(),
            quiet: args.settings.quiet,
            json: args.output == Output::Json,
        };
        return crate::demand::compare(&scenario, input, &[choice], &[args.seed], &settings);
    }

    let mut recorder = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("failed to create the output directory {}", dir.display()))?;
            Some(Recorder::create(dir)?)
        }
        None => None,
    };
    // Parsing the workload overlaps with the simulation (a run is otherwise one thread).
    let workload = prefetched(scenario.open_workload().context("failed to load the workload")?);
    let progress = DelayedProgress::new(None, args.settings.quiet);
    let started = Instant::now();
    let summary = simulate(
        scenario.cluster,
        &choice.config,
        &registry,
        workload,
        &SimOptions {
            typical_pods: demand_input.as_ref().map(|i| i.typical.clone()),
            ..args.settings.sim_options(&choice.label, args.seed, args.tie_break.unwrap_or(TieBreakArg::Uniform).into())
        },
        recorder.as_mut(),
        &mut |p: &Progress| progress.set_message(progress_message(p)),
    )
    .context("failed to simulate")?;
    let timing = Timing::measured(started.elapsed(), summary.events);
    progress.finish();

    if let (Some(dir), Some(recorder)) = (&args.out, recorder) {
        recorder.finish()?;
        write_json(&dir.join("summary.json"), &summary)?;
        write_json(&dir.join("timing.json"), &timing)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        Output::Json => out.write_all(pretty_json(&summary)?.as_bytes())?,
        Output::Table => write_summary(&mut out, &summary, &timing)?,
    }
    if let Some(path) = &args.report {
        crate::report::write(path, &crate::report::Source::Run(&summary), args.settings.quiet)?;
    }
    Ok(())
}

pub fn progress_message(p: &Progress) -> String {
    format!("simulated {} · {} pods arrived · {} finished · {} pending", human_seconds(p.time.seconds()), p.arrived, p.finished, p.pending)
}

/// Writes `value` as [`pretty_json`].
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    std::fs::write(path, pretty_json(value)?).with_context(|| format!("failed to write {}", path.display()))
}

/// `value` as indented JSON with a final newline, an array of numbers on one line (a timeline's thousand
/// values would otherwise take a thousand lines).
pub fn pretty_json<T: serde::Serialize>(value: &T) -> Result<String> {
    let pretty = serde_json::to_string_pretty(value)?;
    let is_number = |line: &str| {
        let v = line.trim().trim_end_matches(',');
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    };
    let lines: Vec<&str> = pretty.lines().collect();
    let mut out = String::with_capacity(pretty.len());
    let mut idx = 0;
    while idx < lines.len() {
        let line = lines[idx];
        idx += 1;
        if line.ends_with('[') {
            let end = lines[idx..].iter().position(|l| !is_number(l)).map(|n| idx + n);
            if let Some(end) = end.filter(|&e| e > idx && lines[e].trim().trim_end_matches(',') == "]") {
                let values: Vec<&str> = lines[idx..end].iter().map(|l| l.trim().trim_end_matches(',')).collect();
                let close = lines[end].trim();
                out.push_str(line);
                out.push_str(&values.join(", "));
                out.push_str(close);
                out.push('\n');
                idx = end + 1;
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// The summary as `KEY   VALUE` lines.
pub fn write_summary(out: &mut impl Write, s: &Summary, timing: &Timing) -> Result<()> {
    let mut t = summary_table(s);
    t.rows.push(vec!["Wall time:".to_string(), format!("{:.3}s ({:.0} events/s)", timing.wall_seconds, timing.events_per_second)]);
    t.write(out)
}

/// The summary as the terminal and the report show it, but for the wall time (which the report, the same
/// for the same inputs, leaves out).
pub fn summary_table(s: &Summary) -> ResultTable {
    let distribution = |d: &simulator::Distribution| {
        if d.count == 0 {
            return "none finished".to_string();
        }
        format!(
            "mean {}   p50 {}   p90 {}   p99 {}   max {}",
            human_seconds(d.mean),
            human_seconds(d.p50),
            human_seconds(d.p90),
            human_seconds(d.p99),
            human_seconds(d.max)
        )
    };
    let p = &s.pods;
    let mut pods = format!(
        "{} arrived   {} scheduled   {} finished   {} running at end   {} pending at end",
        p.arrived, p.scheduled, p.finished, p.running_at_end, p.pending_at_end
    );
    for (count, what) in [(p.gated, "gated"), (p.lost, "lost"), (p.recreated, "recreated"), (p.preempted, "preempted")] {
        if count > 0 {
            pods.push_str(&format!("   {count} {what}"));
        }
    }
    // cpu and memory first, then the other resources by name.
    let mut resources: Vec<(&String, &f64)> = s.allocation.iter().collect();
    resources.sort_by_key(|(r, _)| (r.as_str() != "cpu", r.as_str() != "memory", r.as_str()));
    let allocation: Vec<String> = resources.iter().map(|(resource, v)| format!("{resource} {}", percent(**v))).collect();
    let rows = [
        ("Policy", s.policy.clone()),
        ("Seed", s.seed.to_string()),
        ("Simulated", format!("{} ({} events)", human_seconds(s.simulated_seconds), s.events)),
        ("Pods", pods),
        ("Jobs", format!("{} finished   {} unfinished", s.jobs_finished, s.jobs_unfinished)),
        ("JCT", distribution(&s.jct)),
        ("Queueing delay", distribution(&s.queueing_delay)),
        ("Makespan", human_seconds(s.makespan_seconds)),
        ("Allocation", allocation.join("   ")),
        ("Pending", format!("peak {}   mean {:.1}", s.pending.peak, s.pending.mean)),
        ("Attempts", format!("{} total   {} unschedulable   {} errors", s.attempts.total, s.attempts.unschedulable, s.attempts.errors)),
        ("Skipped rows", s.skipped_rows.to_string()),
    ];
    ResultTable {
        rows: rows.into_iter().map(|(key, value)| vec![format!("{key}:"), value]).collect(),
        numbers_from: 2,
        ..ResultTable::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_of_numbers_take_one_line() {
        let value = serde_json::json!({"a": [1, 2.5, -3e-7], "b": [], "c": [{"d": 1}], "e": ["x"], "f": [[1, 2], [3]]});
        let text = pretty_json(&value).unwrap();
        let expected = r#"{
  "a": [1, 2.5, -3e-7],
  "b": [],
  "c": [
    {
      "d": 1
    }
  ],
  "e": [
    "x"
  ],
  "f": [
    [1, 2],
    [3]
  ]
}
"#;
        assert_eq!(text, expected);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }
}
