//! What `run` and `compare` set a simulation up from: the cluster, the workload, the policies, the settings.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use scheduler_core::{Cluster, Quantity, Registry, Scheduler, SchedulerConfig, TieBreak};
use simulator::SimOptions;
use traces::{Alibaba2018Options, Micros, ReadOptions, TraceError, WorkloadFormat, WorkloadStream};

use crate::duration::parse_duration;

/// The bundled sample `simsched compare` replays without arguments: the openb trace's 1,523 nodes and
/// 8,152 pods, as checked into the source tree simsched was built from.
pub const BUNDLED_SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/samples/openb");

/// The bundled sample's cluster file.
pub fn bundled_cluster() -> PathBuf {
    Path::new(BUNDLED_SAMPLE).join("openb_node_list_all_node.csv")
}

/// The bundled sample's workload file.
pub fn bundled_workload() -> PathBuf {
    Path::new(BUNDLED_SAMPLE).join("openb_pod_list_default.csv")
}

/// A workload format on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// simsched's workload CSV (`#simsched workload v1`)
    Native,
    /// simsched's YAML workload (pod templates, DAG jobs, node events)
    Yaml,
    /// Alibaba GPU trace v2023 pod list (openb_pod_list_*.csv)
    Openb,
    /// Alibaba cluster trace v2018 batch_task table (DAG jobs)
    Alibaba2018,
}

impl From<FormatArg> for WorkloadFormat {
    fn from(arg: FormatArg) -> WorkloadFormat {
        match arg {
            FormatArg::Native => WorkloadFormat::Native,
            FormatArg::Yaml => WorkloadFormat::Yaml,
            FormatArg::Openb => WorkloadFormat::Openb,
            FormatArg::Alibaba2018 => WorkloadFormat::Alibaba2018,
        }
    }
}

/// How to read the workload.
#[derive(clap::Args, Debug)]
pub struct WorkloadArgs {
    /// Format of the workload file [default: detected from its extension or first line]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub workload_format: Option<FormatArg>,

    /// Skip bad workload rows and count them (the count is in the summary) instead of stopping at the first
    #[arg(long)]
    pub skip_bad_rows: bool,

    /// alibaba2018: the CPU that 100 units of plan_cpu stand for
    #[arg(long, value_name = "QUANTITY", default_value = "1")]
    pub alibaba_cpu_per_100: String,

    /// alibaba2018: the memory that 100 units of plan_mem stand for (memory is normalised in the trace)
    #[arg(long, value_name = "QUANTITY", default_value = "384Gi")]
    pub alibaba_memory_per_100: String,
}

impl WorkloadArgs {
    /// The reader options these arguments ask for.
    pub fn read_options(&self) -> Result<ReadOptions> {
        let quantity = |flag: &str, text: &str| -> Result<Quantity> {
            let q = Quantity::parse(text).map_err(|e| anyhow::anyhow!("invalid {flag} {text:?}: {e}"))?;
            if q.nanos() <= 0 {
                bail!("invalid {flag} {text:?}: must be greater than 0");
            }
            Ok(q)
        };
        let cpu = quantity("--alibaba-cpu-per-100", &self.alibaba_cpu_per_100)?;
        let memory = quantity("--alibaba-memory-per-100", &self.alibaba_memory_per_100)?;
        Ok(ReadOptions {
            skip_bad_rows: self.skip_bad_rows,
            alibaba2018: Alibaba2018Options { milli_cpu_per_100: cpu.milli_value(), memory_bytes_per_100: memory.value() },
        })
    }
}

/// Simulation settings shared by `run` and `compare`.
#[derive(clap::Args, Debug)]
pub struct SimSettings {
    /// Simulated time one scheduling attempt takes (e.g. 2ms); 0: attempts take no time
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub attempt_cost: Micros,

    /// Simulated time from placement to start (binding, image pull)
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub bind_cost: Micros,

    /// Interval of the time-series samples (timeseries.csv, the report's charts over time); 0: none
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub interval: Micros,

    /// Stop at this simulated time (e.g. 24h) instead of when the workload is over
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub until: Option<Micros>,

    /// How long a pod evicted by preemption keeps its resources (its termination grace period)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub grace_period: Micros,

    /// No progress bar and no notes on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

impl SimSettings {
    /// The simulator's options for `policy` and `seed`.
    pub fn sim_options(&self, policy: &str, seed: u64, tie_break: TieBreak) -> SimOptions {
        SimOptions {
            policy: policy.to_string(),
            seed,
            attempt_cost: self.attempt_cost,
            bind_cost: self.bind_cost,
            sample_interval: self.interval,
            until: self.until,
            grace_period: self.grace_period,
            tie_break,
            typical_pods: None,
        }
    }
}

/// A cluster and a workload, ready to be simulated any number of times.
pub struct Scenario {
    /// The cluster at time 0 (its pods run for ever).
    pub cluster: Cluster,
    /// The workload file.
    pub workload_path: PathBuf,
    format: Option<WorkloadFormat>,
    read_options: ReadOptions,
    /// What the readers reported (objects that are not cluster state, jobs that cannot be replayed).
    pub notes: Vec<String>,
}

impl Scenario {
    /// Reads the cluster and checks that the workload can be opened.
    pub fn load(cluster_path: &Path, workload_path: &Path, args: &WorkloadArgs) -> Result<Scenario> {
        let input = traces::read_cluster(cluster_path).context("failed to load the cluster")?;
        let cluster = traces::build_cluster(&input, cluster_path).context("failed to load the cluster")?;
        let mut notes = Vec::new();
        if let Some(summary) = input.skipped.summary() {
            notes.push(format!("not part of the cluster state: {summary} in {}", cluster_path.display()));
        }
        let mut scenario = Scenario {
            cluster,
            workload_path: workload_path.to_path_buf(),
            format: args.workload_format.map(WorkloadFormat::from),
            read_options: args.read_options()?,
            notes,
        };
        let stream = scenario.open_workload().context("failed to load the workload")?;
        scenario.notes.extend(stream.notes().iter().map(|note| format!("{}: {note}", workload_path.display())));
        Ok(scenario)
    }

    /// Whether some node of the cluster has GPUs.
    pub fn has_gpus(&self) -> bool {
        self.cluster.node_order().iter().any(|&n| self.cluster.node(n).node.gpu_count > 0)
    }

    /// Opens the workload from its start.
    pub fn open_workload(&self) -> Result<WorkloadStream, TraceError> {
        traces::open_workload(&self.workload_path, self.format, &self.read_options)
    }
}

/// A scheduling policy to simulate: a built-in policy or a configuration file.
#[derive(Clone, Debug)]
pub struct PolicyChoice {
    /// How it is named in tables and files: the policy spec (`binpack/sjf`) or the file's stem (`mine`).
    pub label: String,
    /// Its configuration.
    pub config: SchedulerConfig,
}

impl PolicyChoice {
    /// A built-in policy, `NAME` or `NAME/QUEUE`.
    pub fn builtin(spec: &str) -> Result<PolicyChoice> {
        let config = plugins::policy_config(spec).with_context(|| format!("failed to use --policy {spec}"))?;
        Ok(PolicyChoice { label: spec.to_string(), config })
    }

    /// Whether a profile enables plugin `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.config.profiles.iter().any(|p| p.plugins.needed().contains(name))
    }

    /// A KubeSchedulerConfiguration file.
    pub fn file(path: &Path) -> Result<PolicyChoice> {
        let text = std::fs::read_to_string(path).with_context(|| format!("failed to read scheduler config {}", path.display()))?;
        let config = SchedulerConfig::from_yaml(&text).with_context(|| format!("failed to load scheduler config {}", path.display()))?;
        let label = path.file_stem().map_or_else(|| path.display().to_string(), |stem| stem.to_string_lossy().into_owned());
        Ok(PolicyChoice { label, config })
    }

    /// Builds the scheduler once on `cluster` to check the configuration, and returns what a user should
    /// know about it: plugins of its profiles that simsched does not provide, and configuration warnings.
    pub fn check(&self, cluster: &Cluster, registry: &Registry) -> Result<Vec<String>> {
        let mut cluster = cluster.clone();
        let scheduler = Scheduler::from_config(&self.config, registry, &mut cluster, 0)
            .with_context(|| format!("failed to build the scheduler of {}", self.label))?;
        let mut notes = Vec::new();
        for profile in scheduler.profiles() {
            let missing: Vec<&str> = profile.missing_plugins().iter().filter(|m| m.affects_decisions).map(|m| m.name.as_str()).collect();
            if !missing.is_empty() {
                notes.push(format!(
                    "plugins of profile {} not provided by simsched yet, so not evaluated: {}",
                    profile.scheduler_name,
                    missing.join(", ")
                ));
            }
            notes.extend(profile.warnings().iter().cloned());
        }
        Ok(notes)
    }
}

/// Prints notes on stderr, each once, naming the policies it concerns when there are several policies.
pub fn print_notes(general: &[String], per_policy: &[(String, Vec<String>)]) {
    for note in general {
        eprintln!("note: {note}");
    }
    let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
    for (label, notes) in per_policy {
        for note in notes {
            match grouped.iter_mut().find(|(n, _)| *n == note.as_str()) {
                Some((_, labels)) => labels.push(label),
                None => grouped.push((note, vec![label])),
            }
        }
    }
    for (note, labels) in grouped {
        if per_policy.len() == 1 {
            eprintln!("note: {note}");
        } else if labels.len() == per_policy.len() {
            eprintln!("note: every policy: {note}");
        } else {
            eprintln!("note: {}: {note}", labels.join(", "));
        }
    }
}
