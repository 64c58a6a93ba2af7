//! `--demand-sweep`: the FGD paper's evaluation (GPU allocation and fragmentation against arrived GPU
//! demand) for `simsched compare`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use scheduler_core::fragmentation::TypicalPods;
use scheduler_core::{Registry, TieBreak};
use simulator::compare::MetricSpread;
use simulator::{DemandOptions, DemandPool, DemandResult, sweep};

use crate::progress::DelayedProgress;
use crate::setup::{PolicyChoice, Scenario};
use crate::table::ResultTable;

/// How ties between the best nodes are broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TieBreakArg {
    /// Uniformly at random (kube-scheduler's selectHost)
    Uniform,
    /// The first node of a random node order fixed by the seed (the FGD authors' simulator)
    NodeRank,
}

impl From<TieBreakArg> for TieBreak {
    fn from(t: TieBreakArg) -> TieBreak {
        match t {
            TieBreakArg::Uniform => TieBreak::Uniform,
            TieBreakArg::NodeRank => TieBreak::NodeRank,
        }
    }
}

/// The workload's pods and typical pods, read once for every sweep.
pub struct DemandInput {
    pub pool: DemandPool,
    pub typical: Arc<TypicalPods>,
}

impl DemandInput {
    /// Reads the workload when fragmentation is measured against its typical pods: by FGD or a demand sweep
    /// (`needed`), and in the time series of a cluster with GPUs; with the registry whose FGD uses them.
    pub fn load_if(scenario: &mut Scenario, needed: bool) -> Result<(Option<DemandInput>, Registry)> {
        if !needed && !scenario.has_gpus() {
            return Ok((None, plugins::registry()));
        }
        let input = DemandInput::load(scenario)?;
        let registry = plugins::registry_for_workload(input.typical.clone());
        Ok((Some(input), registry))
    }

    /// Reads the workload of `scenario` (its cluster's interner learns the pods' symbols, so that every
    /// clone of the cluster can run them).
    pub fn load(scenario: &mut Scenario) -> Result<DemandInput> {
        let workload = scenario.open_workload().context("failed to load the workload")?;
        let pool = DemandPool::read(workload).context("failed to load the workload")?;
        if pool.skipped_node_events > 0 {
            scenario.notes.push(format!("--demand-sweep: {} node events of the workload are left out", pool.skipped_node_events));
        }
        let typical = pool.typical_pods(&mut scenario.cluster).context("failed to load the workload")?;
        Ok(DemandInput { pool, typical: Arc::new(typical) })
    }
}

/// One policy's sweeps over the seeds.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PolicySweeps {
    pub policy: String,
    pub runs: Vec<DemandResult>,
}

/// What demand.json holds: the sweeps, best first, as `-o json` prints them, and their target.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct DemandReport {
    pub target_percent: u32,
    pub policies: Vec<PolicySweeps>,
}

/// How the sweeps of `run` and `compare` run and report.
pub struct SweepSettings<'a> {
    /// Arrived GPU demand to reach, percent of GPU capacity.
    pub target_percent: u32,
    /// How ties between the best nodes are broken.
    pub tie_break: TieBreak,
    /// Sweeps run at once.
    pub threads: usize,
    /// Where demand.csv, demand-summary.csv and demand.json go.
    pub out: Option<&'a Path>,
    /// Where the HTML report goes.
    pub report: Option<&'a Path>,
    /// No progress line.
    pub quiet: bool,
    /// Print every sweep as JSON (policies best first) instead of the ranking table.
    pub json: bool,
}

/// Runs every (policy, seed) sweep in parallel; prints the ranking at the target (or the sweeps as JSON)
/// and writes demand.csv and demand-summary.csv into `out`.
pub fn compare(
    scenario: &Scenario,
    input: &DemandInput,
    choices: &[PolicyChoice],
    seeds: &[u64],
    settings: &SweepSettings<'_>,
) -> Result<()> {
    use rayon::prelude::*;
    let SweepSettings { target_percent, tie_break, threads, out, report, quiet, json } = *settings;
    let registry = plugins::registry_for_workload(input.typical.clone());
    let jobs: Vec<(usize, u64)> = (0..choices.len()).flat_map(|p| seeds.iter().map(move |&s| (p, s))).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("failed to start the worker threads")?;
    let progress = DelayedProgress::new(Some(jobs.len() as u64), quiet);
    progress.set_message("sweeping demand".to_string());
    let started = Instant::now();
    let results: Vec<Result<DemandResult, simulator::SimError>> = pool.install(|| {
        jobs.par_iter()
            .map(|&(p, seed)| {
                let opts = DemandOptions { policy: choices[p].label.clone(), seed, target_percent, tie_break };
                let r = sweep(scenario.cluster.clone(), &choices[p].config, &registry, &input.pool, &input.typical, &opts);
                progress.inc();
                r
            })
            .collect()
    });
    let wall_seconds = started.elapsed().as_secs_f64();
    progress.finish();
    let mut per_policy: Vec<PolicySweeps> = choices.iter().map(|c| PolicySweeps { policy: c.label.clone(), runs: Vec::new() }).collect();
    for ((p, _), r) in jobs.iter().zip(results) {
        per_policy[*p].runs.push(r.with_context(|| format!("failed to sweep {}", choices[*p].label))?);
    }
    if per_policy.iter().flat_map(|p| &p.runs).all(|r| r.capacity_milli == 0) {
        bail!("--demand-sweep needs GPUs: no node of the cluster has any (nvidia.com/gpu or alibabacloud.com/gpu-milli)");
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("failed to create the output directory {}", dir.display()))?;
        write_runs(&dir.join("demand.csv"), &per_policy)?;
        write_summary(&dir.join("demand-summary.csv"), &per_policy, target_percent)?;
    }
    rank(&mut per_policy);
    let saved = DemandReport { target_percent, policies: per_policy };
    if let Some(dir) = out {
        crate::run::write_json(&dir.join("demand.json"), &saved)?;
    }
    let per_policy = saved.policies;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    if json {
        stdout.write_all(crate::run::pretty_json(&per_policy)?.as_bytes())?;
    } else {
        ranking_table(&per_policy, target_percent, seeds.len()).write(&mut stdout)?;
    }
    if let Some(path) = report {
        crate::report::write(path, &crate::report::Source::Demand { target_percent, policies: &per_policy }, quiet)?;
    }
    if !quiet {
        eprintln!("{} sweeps in {wall_seconds:.2}s on {threads} threads", jobs.len());
    }
    Ok(())
}

/// The mean ± std of a metric of the target row over the seeds.
pub fn at_target(runs: &[DemandResult], metric: impl Fn(&simulator::DemandRow) -> f64) -> MetricSpread {
    let values: Vec<f64> = runs.iter().filter_map(|r| r.at_target()).map(metric).collect();
    MetricSpread::of(&values)
}

/// Best first: the highest mean GPU allocation at the target, then by name.
fn rank(per_policy: &mut [PolicySweeps]) {
    per_policy.sort_by(|a, b| {
        let (ka, kb) = (at_target(&a.runs, |r| r.gpu_allocation).mean, at_target(&b.runs, |r| r.gpu_allocation).mean);
        kb.total_cmp(&ka).then_with(|| a.policy.cmp(&b.policy))
    });
}

/// The ranking at the target, as the terminal and the report show it.
pub fn ranking_table(per_policy: &[PolicySweeps], target: u32, n_seeds: usize) -> ResultTable {
    let spread_note = if n_seeds > 1 { format!("mean ± standard deviation over {n_seeds} seeds") } else { "one seed".to_string() };
    let metrics = target_metrics();
    let means: Vec<Vec<f64>> = per_policy.iter().map(|p| metrics.iter().map(|m| at_target(&p.runs, m.value).mean).collect()).collect();
    let mut rows = Vec::new();
    for (rank, (policy, row_means)) in per_policy.iter().zip(&means).enumerate() {
        let mut cells = vec![(rank + 1).to_string(), policy.policy.clone()];
        for (col, metric) in metrics.iter().enumerate() {
            let column: Vec<f64> = means.iter().map(|m| m[col]).collect();
            let best =
                if metric.higher_is_better { column.iter().copied().reduce(f64::max) } else { column.iter().copied().reduce(f64::min) };
            let marker = if best == Some(row_means[col]) && column.iter().any(|v| *v != row_means[col]) { "*" } else { "" };
            let s = at_target(&policy.runs, metric.value);
            let cell = if !metric.percent {
                if n_seeds > 1 { format!("{:.0} ± {:.0}", s.mean, s.std) } else { format!("{:.0}", s.mean) }
            } else if n_seeds > 1 {
                format!("{:.2}% ± {:.2}", s.mean, s.std)
            } else {
                format!("{:.2}%", s.mean)
            };
            cells.push(format!("{marker}{cell}"));
        }
        rows.push(cells);
    }
    let mut header = vec!["RANK".to_string(), "POLICY".to_string()];
    header.extend(metrics.iter().map(|m| m.header.to_string()));
    ResultTable {
        note: format!("At {target}% arrived GPU demand, ranked by GPU allocation (higher is better); {spread_note}; * best in column."),
        header,
        rows,
        numbers_from: 2,
    }
}

/// A metric of a sweep's rows.
pub struct TargetMetric {
    /// The table's header.
    pub header: &'static str,
    /// What the report's charts call it.
    pub title: &'static str,
    /// Its value in a row.
    pub value: fn(&simulator::DemandRow) -> f64,
    pub higher_is_better: bool,
    /// A percentage (else a count).
    pub percent: bool,
}

/// The metrics of the ranking, in its column order.
pub fn target_metrics() -> [TargetMetric; 4] {
    [
        TargetMetric {
            header: "GPU ALLOCATED",
            title: "GPUs allocated (% of capacity)",
            value: |r| r.gpu_allocation,
            higher_is_better: true,
            percent: true,
        },
        TargetMetric {
            header: "GPU FRAGMENTED",
            title: "GPUs fragmented (% of capacity)",
            value: |r| r.gpu_fragmentation,
            higher_is_better: false,
            percent: true,
        },
        TargetMetric {
            header: "FRAG / IDLE",
            title: "Fragmented / idle GPUs (%)",
            value: |r| r.gpu_fragmentation_ratio,
            higher_is_better: false,
            percent: true,
        },
        TargetMetric {
            header: "PODS FAILED",
            title: "Pods that fit nowhere",
            value: |r| r.pods_failed as f64,
            higher_is_better: false,
            percent: false,
        },
    ]
}

fn csv_writer(path: &Path) -> Result<csv::Writer<std::fs::File>> {
    csv::Writer::from_path(path).with_context(|| format!("failed to write {}", path.display()))
}

fn write_runs(path: &Path, per_policy: &[PolicySweeps]) -> Result<()> {
    let mut w = csv_writer(path)?;
    let header =
        ["policy", "seed", "arrived_demand", "arrivals", "gpu_allocation", "gpu_fragmentation", "gpu_fragmentation_ratio", "pods_failed"];
    w.write_record(header).with_context(|| format!("failed to write {}", path.display()))?;
    for policy in per_policy {
        for run in &policy.runs {
            for row in &run.rows {
                w.write_record([
                    policy.policy.clone(),
                    run.seed.to_string(),
                    row.arrived_percent.to_string(),
                    row.arrivals.to_string(),
                    format!("{:.4}", row.gpu_allocation),
                    format!("{:.4}", row.gpu_fragmentation),
                    format!("{:.4}", row.gpu_fragmentation_ratio),
                    row.pods_failed.to_string(),
                ])
                .with_context(|| format!("failed to write {}", path.display()))?;
            }
        }
    }
    w.flush().with_context(|| format!("failed to write {}", path.display()))
}

fn write_summary(path: &Path, per_policy: &[PolicySweeps], target: u32) -> Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record([
        "policy",
        "arrived_demand",
        "gpu_allocation_mean",
        "gpu_allocation_std",
        "gpu_fragmentation_mean",
        "gpu_fragmentation_ratio_mean",
    ])
    .with_context(|| format!("failed to write {}", path.display()))?;
    for policy in per_policy {
        for x in 0..=target {
            let rows: Vec<&simulator::DemandRow> =
                policy.runs.iter().filter_map(|r| r.rows.iter().find(|row| row.arrived_percent == x)).collect();
            if rows.is_empty() {
                continue;
            }
            let spread = |f: fn(&simulator::DemandRow) -> f64| MetricSpread::of(&rows.iter().map(|r| f(r)).collect::<Vec<f64>>());
            let alloc = spread(|r| r.gpu_allocation);
            w.write_record([
                policy.policy.clone(),
                x.to_string(),
                format!("{:.4}", alloc.mean),
                format!("{:.4}", alloc.std),
                format!("{:.4}", spread(|r| r.gpu_fragmentation).mean),
                format!("{:.4}", spread(|r| r.gpu_fragmentation_ratio).mean),
            ])
            .with_context(|| format!("failed to write {}", path.display()))?;
        }
    }
    w.flush().with_context(|| format!("failed to write {}", path.display()))
}
