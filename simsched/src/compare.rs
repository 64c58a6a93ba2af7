//! `simsched compare`: every (policy, seed) simulated in parallel, each metric's mean and spread per policy,
//! policies ranked best first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::Serialize;

use simulator::{Comparison, MetricSpread, SimOptions, Summary, Timing, compare, lower_is_better, metrics_of, simulate};

use crate::demand::{DemandInput, SweepSettings, TieBreakArg};
use crate::progress::DelayedProgress;
use crate::run::{pretty_json, write_json};
use crate::setup::{PolicyChoice, Scenario, SimSettings, WorkloadArgs, bundled_cluster, bundled_workload, print_notes};
use crate::table::{ResultTable, human_seconds, percent, seconds_in_unit};

pub const LONG_ABOUT: &str = "Compare scheduling policies on the same cluster and workload.

Every (policy, seed) pair is an independent simulation (as `simsched run` does it); they run in parallel across cores. For each policy and metric the table gives the mean over the seeds and its standard deviation, policies ranked best first by --rank-by. --out DIR writes compare.json (every run's summary and each metric's mean, std, min, max), compare.csv (one row per policy and metric), runs.csv (one row per run) and timing.json. --report PATH.html writes an HTML report: the ranking table, allocation and pending pods over time, the distributions of JCT and queueing delay, and a bar chart per metric with its spread across seeds (`simsched report DIR` builds the same from --out DIR).

Without --cluster and --workload, the bundled sample is replayed: the Alibaba GPU trace v2023 (openb): 1,523 nodes and 8,152 pods. Without --policy and --config, every built-in policy is compared.";

pub const EXAMPLES: &str = "\
Examples:
  # Every built-in policy on the bundled openb sample, 3 seeds each, with an HTML report
  simsched compare --report compare.html

  # Two built-in policies and your configuration, 5 seeds, on your own trace
  simsched compare --policy default --policy binpack --config mine.yaml --seeds 5 \\
                   --cluster cluster.yaml --workload workload.csv --out results/

  # Queue orders for the same placement, ranked by the 99th percentile of queueing delay
  simsched compare --policy spread/fifo --policy spread/sjf --policy spread/mjct --rank-by queueing_delay.p99

  # The FGD paper's evaluation: its six policies, 10 seeds, GPU demand up to 130 % of capacity
  simsched compare --cluster traces/samples/openb/openb_node_list_gpu_node.csv \\
                   --workload traces/samples/openb/openb_pod_list_default.csv --demand-sweep 130 --seeds 10 --seed 42";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A ranking table for people.
    Table,
    /// The comparison as JSON (the same object as compare.json).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Cluster at time 0 [default: the bundled openb sample's nodes]
    #[arg(long, value_name = "FILE", requires = "workload")]
    cluster: Option<PathBuf>,

    /// Workload [default: the bundled openb sample's pods]
    #[arg(long, value_name = "FILE", requires = "cluster")]
    workload: Option<PathBuf>,

    #[command(flatten)]
    workload_args: WorkloadArgs,

    /// A built-in policy to compare, NAME or NAME/QUEUE; repeatable [default: every built-in policy unless --config is given]
    #[arg(long = "policy", value_name = "NAME[/QUEUE]")]
    policies: Vec<String>,

    /// A KubeSchedulerConfiguration to compare, named by its file name; repeatable
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,

    /// Seeds per policy: --seed, --seed + 1, …
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    seeds: u64,

    /// The first seed
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// The metric that ranks the policies (a key of compare.csv's metric column) [default: jct.mean]
    #[arg(long, value_name = "METRIC")]
    rank_by: Option<String>,

    /// Simulations run at once [default: the number of CPUs]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Write compare.json, compare.csv, runs.csv and timing.json into this directory
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,

    /// Also write an HTML report (summary table and SVG charts, one self-contained file) to this path
    #[arg(long, value_name = "PATH.html")]
    report: Option<PathBuf>,

    /// The FGD paper's evaluation instead of a replay: the workload's pods in shuffled order, resampled
    /// until they ask for PERCENT of the cluster's GPUs (the paper: 130), arriving one by one and never
    /// leaving; GPU allocation and fragmentation per percent of arrived demand (--out DIR: demand.csv,
    /// demand-summary.csv, demand.json). Default policies: the paper's six
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..=1000))]
    demand_sweep: Option<u32>,

    /// How ties between the best nodes are broken [default: node-rank with --demand-sweep, as the paper's simulator; else uniform]
    #[arg(long, value_enum, value_name = "HOW")]
    tie_break: Option<TieBreakArg>,

    #[command(flatten)]
    settings: SimSettings,
}

/// One run's cost, for timing.json.
#[derive(Serialize)]
struct RunTiming {
    policy: String,
    seed: u64,
    #[serde(flatten)]
    timing: Timing,
}

#[derive(Serialize)]
struct CompareTiming {
    wall_seconds: f64,
    threads: usize,
    runs: Vec<RunTiming>,
}

pub fn run(args: &Args) -> Result<()> {
    let (cluster_path, workload_path) = match (&args.cluster, &args.workload) {
        (Some(cluster), Some(workload)) => (cluster.clone(), workload.clone()),
        _ => {
            let (cluster, workload) = (bundled_cluster(), bundled_workload());
            if !cluster.exists() || !workload.exists() {
                bail!(
                    "the bundled sample is not at {} (simsched was built from a source tree that has moved); give --cluster and --workload",
                    cluster.display()
                );
            }
            (cluster, workload)
        }
    };
    if let Some(path) = &args.report {
        crate::report::check_destination(path)?;
    }
    let mut scenario = Scenario::load(&cluster_path, &workload_path, &args.workload_args)?;
    let default_policies: &[&str] = if args.demand_sweep.is_some() { &plugins::FGD_PAPER_POLICIES } else { &ALL_POLICIES };
    let choices = policy_choices(&args.policies, &args.configs, default_policies)?;
    let (demand_input, registry) =
        DemandInput::load_if(&mut scenario, args.demand_sweep.is_some() || choices.iter().any(|c| c.uses("FGD")))?;
    if let Some(metric) = &args.rank_by {
        check_metric(metric)?;
    }
    let mut policy_notes = Vec::new();
    for choice in &choices {
        policy_notes.push((choice.label.clone(), choice.check(&scenario.cluster, &registry)?));
    }
    if !args.settings.quiet {
        print_notes(&scenario.notes, &policy_notes);
    }
    let seeds: Vec<u64> = (0..args.seeds).map(|i| args.seed.wrapping_add(i)).collect();
    let threads = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from);
    if let (Some(target), Some(input)) = (args.demand_sweep, &demand_input) {
        let settings = SweepSettings {
            target_percent: target,
            tie_break: args.tie_break.unwrap_or(TieBreakArg::NodeRank).into(),
            threads,
            out: args.out.as_deref(),
            report: args.report.as_deref(),
            quiet: args.settings.quiet,
            json: args.output == Output::Json,
        };
        return crate::demand::compare(&scenario, input, &choices, &seeds, &settings);
    }

    let labels: Vec<String> = choices.iter().map(|c| c.label.clone()).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("failed to start the worker threads")?;
    let timings = Mutex::new(Vec::new());
    let progress = DelayedProgress::new(Some(labels.len() as u64 * seeds.len() as u64), args.settings.quiet);
    progress.set_message("simulating".to_string());
    let started = Instant::now();
    let comparison = pool
        .install(|| {
            compare(
                &labels,
                &seeds,
                args.rank_by.as_deref(),
                |policy_idx, seed| {
                    let choice = &choices[policy_idx];
                    let label = &choice.label;
                    let workload = scenario.open_workload()?;
                    let run_started = Instant::now();
                    let summary = simulate(
                        scenario.cluster.clone(),
                        &choice.config,
                        &registry,
                        workload,
                        &SimOptions {
                            typical_pods: demand_input.as_ref().map(|i| i.typical.clone()),
                            ..args.settings.sim_options(label, seed, args.tie_break.unwrap_or(TieBreakArg::Uniform).into())
                        },
                        None,
                        &mut |_| {},
                    )?;
                    let timing = Timing::measured(run_started.elapsed(), summary.events);
                    if let Ok(mut timings) = timings.lock() {
                        timings.push(RunTiming { policy: label.to_string(), seed, timing });
                    }
                    Ok(summary)
                },
                &|| progress.inc(),
            )
        })
        .context("failed to simulate")?;
    let wall_seconds = started.elapsed().as_secs_f64();
    progress.finish();
    if !comparison.rows.iter().any(|row| row.metrics.contains_key(&comparison.rank_by)) {
        bail!("no run measured {:?}, the metric to rank by", comparison.rank_by);
    }

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("failed to create the output directory {}", dir.display()))?;
        write_json(&dir.join("compare.json"), &comparison)?;
        write_metrics_csv(&dir.join("compare.csv"), &comparison)?;
        write_runs_csv(&dir.join("runs.csv"), &comparison)?;
        let mut runs = timings.into_inner().unwrap_or_default();
        runs.sort_by(|a, b| {
            (labels.iter().position(|l| *l == a.policy), a.seed).cmp(&(labels.iter().position(|l| *l == b.policy), b.seed))
        });
        write_json(&dir.join("timing.json"), &CompareTiming { wall_seconds, threads, runs })?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        Output::Json => out.write_all(pretty_json(&comparison)?.as_bytes())?,
        Output::Table => write_ranking(&mut out, &comparison)?,
    }
    if let Some(path) = &args.report {
        crate::report::write(path, &crate::report::Source::Compare(&comparison), args.settings.quiet)?;
    }
    if !args.settings.quiet {
        eprintln!("{} simulations in {wall_seconds:.2}s on {threads} threads", labels.len() * seeds.len());
    }
    Ok(())
}

/// Every built-in policy, the default of a replay.
const ALL_POLICIES: [&str; plugins::POLICIES.len()] = {
    let mut names = [""; plugins::POLICIES.len()];
    let mut idx = 0;
    while idx < names.len() {
        names[idx] = plugins::POLICIES[idx].name;
        idx += 1;
    }
    names
};

/// The policies to compare, with unique labels.
fn policy_choices(policies: &[String], configs: &[PathBuf], defaults: &[&str]) -> Result<Vec<PolicyChoice>> {
    let mut choices = Vec::new();
    if policies.is_empty() && configs.is_empty() {
        for name in defaults {
            choices.push(PolicyChoice::builtin(name)?);
        }
    }
    for spec in policies {
        choices.push(PolicyChoice::builtin(spec)?);
    }
    for path in configs {
        choices.push(PolicyChoice::file(path)?);
    }
    for (idx, choice) in choices.iter().enumerate() {
        if choices[..idx].iter().any(|c| c.label == choice.label) {
            bail!("{:?} is given twice: every compared policy and configuration file needs its own name", choice.label);
        }
    }
    Ok(choices)
}

/// Checks that `metric` is one the comparison reports.
fn check_metric(metric: &str) -> Result<()> {
    let known = metrics_of(&Summary::default());
    if known.contains_key(metric) || metric.strip_prefix("allocation.").is_some_and(|r| !r.is_empty()) {
        return Ok(());
    }
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    bail!("unknown metric {metric:?} for --rank-by: expected one of {}, or allocation.<resource>", names.join(", "))
}

/// A table column: the metric, its header, what a chart calls it, and how its values are written.
pub struct Column {
    pub metric: String,
    pub header: String,
    pub title: String,
    pub kind: ColumnKind,
}

#[derive(Clone, Copy)]
pub enum ColumnKind {
    Seconds,
    Fraction,
    Count,
}

/// The columns of the ranking table (and the report's bar charts).
pub fn columns(comparison: &Comparison) -> Vec<Column> {
    let column = |metric: &str, header: &str, title: &str, kind| Column {
        metric: metric.to_string(),
        header: header.to_string(),
        title: title.to_string(),
        kind,
    };
    let mut columns = vec![
        column("jct.mean", "JCT MEAN", "Job completion time, mean", ColumnKind::Seconds),
        column("jct.p99", "JCT P99", "Job completion time, p99", ColumnKind::Seconds),
        column("queueing_delay.mean", "QUEUEING MEAN", "Queueing delay, mean", ColumnKind::Seconds),
        column("queueing_delay.p99", "QUEUEING P99", "Queueing delay, p99", ColumnKind::Seconds),
        column("makespan", "MAKESPAN", "Makespan", ColumnKind::Seconds),
    ];
    let mut resources: Vec<&str> = comparison
        .rows
        .iter()
        .flat_map(|row| row.metrics.iter())
        .filter(|(metric, spread)| metric.starts_with("allocation.") && spread.max > 0.0)
        .filter_map(|(metric, _)| metric.strip_prefix("allocation."))
        .collect();
    resources.sort_by_key(|r| (!matches!(*r, "cpu" | "memory"), *r != "cpu", *r));
    resources.dedup();
    for resource in resources {
        columns.push(column(
            &format!("allocation.{resource}"),
            &resource.to_uppercase(),
            &format!("{resource} allocated, time-weighted"),
            ColumnKind::Fraction,
        ));
    }
    columns.push(column("pending.mean", "PENDING MEAN", "Pending pods, time-weighted mean", ColumnKind::Count));
    columns.push(column("pods.pending_at_end", "NEVER PLACED", "Pods never placed", ColumnKind::Count));
    columns
}

/// The ranking as a table: one row per policy, best first; each cell the mean ± the standard deviation,
/// the best mean of each column marked with `*`.
pub fn write_ranking(out: &mut impl Write, comparison: &Comparison) -> Result<()> {
    ranking_table(comparison).write(out)
}

/// The ranking table of the terminal and the report.
pub fn ranking_table(comparison: &Comparison) -> ResultTable {
    let n_seeds = comparison.seeds.len();
    let direction = if lower_is_better(&comparison.rank_by) { "lower is better" } else { "higher is better" };
    let spread_note = if n_seeds > 1 { format!("mean ± standard deviation over {n_seeds} seeds") } else { "one seed".to_string() };
    let columns = columns(comparison);
    let mut header = vec!["RANK".to_string(), "POLICY".to_string()];
    header.extend(columns.iter().map(|c| c.header.clone()));
    let best = best_means(comparison, &columns);
    let mut rows = Vec::new();
    for (rank, row) in comparison.rows.iter().enumerate() {
        let mut cells = vec![(rank + 1).to_string(), row.policy.clone()];
        for (column, best) in columns.iter().zip(&best) {
            let cell = match row.metrics.get(&column.metric) {
                None => "-".to_string(),
                Some(spread) => {
                    let marker = if best.is_some_and(|b| b == spread.mean) { "*" } else { "" };
                    format!("{marker}{}", format_spread(spread, column.kind, n_seeds > 1))
                }
            };
            cells.push(cell);
        }
        rows.push(cells);
    }
    ResultTable {
        note: format!("Ranked by {} ({direction}); {spread_note}; * best in column.", comparison.rank_by),
        header,
        rows,
        numbers_from: 2,
    }
}

/// The best mean of each column, unless every policy has it.
fn best_means(comparison: &Comparison, columns: &[Column]) -> Vec<Option<f64>> {
    columns
        .iter()
        .map(|c| {
            let means: Vec<f64> = comparison.rows.iter().filter_map(|row| row.metrics.get(&c.metric)).map(|m| m.mean).collect();
            let best =
                if lower_is_better(&c.metric) { means.iter().copied().reduce(f64::min) } else { means.iter().copied().reduce(f64::max) };
            best.filter(|b| means.iter().any(|m| m != b))
        })
        .collect()
}

fn format_spread(spread: &MetricSpread, kind: ColumnKind, with_std: bool) -> String {
    match kind {
        ColumnKind::Seconds => {
            let mean = human_seconds(spread.mean);
            if !with_std {
                return mean;
            }
            let (std, unit) = seconds_in_unit(spread.std, spread.mean);
            let decimals = if unit == "h" {
                2
            } else if unit == "ms" {
                0
            } else {
                1
            };
            format!("{mean} ±{std:.decimals$}")
        }
        ColumnKind::Fraction => {
            let mean = percent(spread.mean);
            if with_std { format!("{mean} ±{:.1}", spread.std * 100.0) } else { mean }
        }
        ColumnKind::Count => {
            if with_std {
                format!("{:.1} ±{:.1}", spread.mean, spread.std)
            } else {
                format!("{:.1}", spread.mean)
            }
        }
    }
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("failed to write {}: {e}", path.display())
}

/// compare.csv: `rank,policy,metric,mean,std,min,max`.
fn write_metrics_csv(path: &Path, comparison: &Comparison) -> Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(csv_error(path))?;
    w.write_record(["rank", "policy", "metric", "mean", "std", "min", "max"]).map_err(csv_error(path))?;
    for (rank, row) in comparison.rows.iter().enumerate() {
        for (metric, m) in &row.metrics {
            let rank = (rank + 1).to_string();
            w.write_record([&rank, &row.policy, metric, &m.mean.to_string(), &m.std.to_string(), &m.min.to_string(), &m.max.to_string()])
                .map_err(csv_error(path))?;
        }
    }
    w.flush().with_context(|| format!("failed to write {}", path.display()))
}

/// runs.csv: `policy,seed,<metric>…`, one row per run.
fn write_runs_csv(path: &Path, comparison: &Comparison) -> Result<()> {
    let per_run: Vec<(&str, u64, BTreeMap<String, f64>)> =
        comparison.rows.iter().flat_map(|row| row.runs.iter().map(|s| (row.policy.as_str(), s.seed, metrics_of(s)))).collect();
    let mut metrics: Vec<&String> = per_run.iter().flat_map(|(_, _, m)| m.keys()).collect();
    metrics.sort();
    metrics.dedup();
    let mut w = csv::Writer::from_path(path).map_err(csv_error(path))?;
    let mut header = vec!["policy".to_string(), "seed".to_string()];
    header.extend(metrics.iter().map(|m| m.to_string()));
    w.write_record(&header).map_err(csv_error(path))?;
    for (policy, seed, values) in &per_run {
        let mut record = vec![policy.to_string(), seed.to_string()];
        record.extend(metrics.iter().map(|m| values.get(*m).map(f64::to_string).unwrap_or_default()));
        w.write_record(&record).map_err(csv_error(path))?;
    }
    w.flush().with_context(|| format!("failed to write {}", path.display()))
}
