//! `simsched generate`: a synthetic cluster and workload in the native formats.

use std::path::PathBuf;

use anyhow::{Context, Result};

use traces::{Arrival, DurationDist, GenerateOptions};

pub const LONG_ABOUT: &str = "Write a synthetic cluster and workload in the native formats: DIR/cluster.yaml (N identical nodes, compact format) and DIR/workload.csv (M pods, native CSV).

Pods arrive as a Poisson process, run for durations drawn from a log-normal distribution (or a constant), and ask for one of eight request shapes, from 100m/128Mi (20 %) to 8 CPU/32Gi (3 %), about one core on average (the catalogue is in traces/README.md). Everything is drawn from one seeded generator: the same options give the same files, byte for byte.

The offered CPU load is about RATE × 0.96 cores × the mean duration (e^(MU + SIGMA²/2) seconds for lognormal:MU,SIGMA); compare it with N × the node CPU to choose a rate.";

pub const EXAMPLES: &str = "\
Examples:
  # 100 nodes, 10,000 pods, then replay them
  simsched generate --nodes 100 --pods 10000 -o gen/
  simsched run --cluster gen/cluster.yaml --workload gen/workload.csv

  # The million-pod benchmark: 10,000 nodes about 60 % allocated
  simsched generate --nodes 10000 --pods 1000000 --arrival poisson:800 -o big/

  # Short jobs of exactly one minute
  simsched generate --nodes 50 --pods 5000 --arrival poisson:2 --duration constant:60 -o short/";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of nodes (node-0, node-1, …)
    #[arg(long, value_name = "N")]
    nodes: usize,

    /// Number of pods (pod-0, pod-1, …)
    #[arg(long, value_name = "M")]
    pods: usize,

    /// Arrival process: poisson:RATE, RATE pods per second
    #[arg(long, value_name = "PROCESS", default_value = "poisson:10")]
    arrival: Arrival,

    /// Run times in seconds: lognormal:MU,SIGMA (median e^MU) or constant:SECONDS
    #[arg(long, value_name = "DISTRIBUTION", default_value = "lognormal:5,1")]
    duration: DurationDist,

    /// Seed of the generator
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Allocatable CPU of every node
    #[arg(long, value_name = "QUANTITY", default_value = "32")]
    node_cpu: String,

    /// Allocatable memory of every node
    #[arg(long, value_name = "QUANTITY", default_value = "128Gi")]
    node_memory: String,

    /// Directory to write cluster.yaml and workload.csv into (created if needed)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: &Args) -> Result<()> {
    let opts = GenerateOptions {
        nodes: args.nodes,
        pods: args.pods,
        arrival: args.arrival,
        duration: args.duration,
        seed: args.seed,
        node_cpu: args.node_cpu.clone(),
        node_memory: args.node_memory.clone(),
    };
    let (nodes, pods) = traces::generate(&opts).context("failed to generate")?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("failed to create the output directory {}", args.out.display()))?;
    let cluster = args.out.join("cluster.yaml");
    let workload = args.out.join("workload.csv");
    traces::write_cluster(&nodes, &cluster).context("failed to write the cluster")?;
    traces::write_native(pods, &workload).context("failed to write the workload")?;
    println!("wrote {} ({} nodes) and {} ({} pods)", cluster.display(), args.nodes, workload.display(), args.pods);
    Ok(())
}
