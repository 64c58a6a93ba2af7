//! `simsched import`: a trace converted once into the native formats, to read, edit or replay faster.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use traces::{WorkloadFormat, WorkloadItem};

use crate::setup::WorkloadArgs;

pub const LONG_ABOUT: &str = "Convert a trace into simsched's native formats: DIR/workload.csv (one pod per row) when every item fits the CSV, otherwise DIR/workload.yaml (DAG jobs, full pod templates); with --nodes, the cluster as DIR/cluster.yaml (compact format).

Every importer is also usable directly: `simsched run --workload openb_pod_list_default.csv` reads the trace as it is. Importing shows what the importer made of the trace, and makes a file you can edit.";

pub const EXAMPLES: &str = "\
Examples:
  # The openb GPU trace: pods and nodes
  simsched import --workload-format openb --workload openb_pod_list_default.csv \\
                  --nodes openb_node_list_gpu_node.csv -o openb/

  # Alibaba 2018 DAG jobs, assuming 512Gi machines
  simsched import --workload batch_task.csv --workload-format alibaba2018 --alibaba-memory-per-100 512Gi -o ali/";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace to convert
    #[arg(long, value_name = "FILE")]
    workload: PathBuf,

    #[command(flatten)]
    workload_args: WorkloadArgs,

    /// A cluster file to convert too: an openb node list, kubectl YAML/JSON or compact YAML
    #[arg(long, value_name = "FILE")]
    nodes: Option<PathBuf>,

    /// Directory to write into (created if needed)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: &Args) -> Result<()> {
    let read_options = args.workload_args.read_options()?;
    let format = args.workload_args.workload_format.map(WorkloadFormat::from);
    let stream = traces::open_workload(&args.workload, format, &read_options).context("failed to load the workload")?;
    let skipped = stream.skipped_counter();
    let notes = stream.notes().to_vec();
    let items: Vec<WorkloadItem> = stream.collect::<Result<_, _>>().context("failed to load the workload")?;
    let n_skipped = skipped.load(std::sync::atomic::Ordering::Relaxed);
    std::fs::create_dir_all(&args.out).with_context(|| format!("failed to create the output directory {}", args.out.display()))?;

    if let Some(nodes_path) = &args.nodes {
        let input = traces::read_cluster(nodes_path).context("failed to load the cluster")?;
        if !input.pods.is_empty() {
            bail!(
                "{} has {} running pods: the compact cluster format holds nodes only; give a cluster file without pods",
                nodes_path.display(),
                input.pods.len()
            );
        }
        let nodes: Vec<_> = input.nodes.iter().map(|n| n.def.clone()).collect();
        let path = args.out.join("cluster.yaml");
        traces::write_cluster(&nodes, &path).context("failed to write the cluster")?;
        println!("wrote {} ({} nodes)", path.display(), nodes.len());
    }

    let n_pods: u64 = items
        .iter()
        .map(|item| match item {
            WorkloadItem::Pod(_) => 1,
            WorkloadItem::Dag(job) => job.tasks.iter().map(|t| u64::from(t.instances)).sum(),
            WorkloadItem::Node(_) => 0,
        })
        .sum();
    let only_pods = items.iter().all(|item| matches!(item, WorkloadItem::Pod(_)));
    let csv_path = args.out.join("workload.csv");
    let written = if only_pods {
        match traces::write_native(items.iter().cloned(), &csv_path) {
            Ok(()) => Some(csv_path),
            Err(e) => {
                // Some pod needs what only YAML holds (the message says what): write YAML instead.
                let _ = std::fs::remove_file(&csv_path);
                eprintln!("note: writing YAML: {e}");
                None
            }
        }
    } else {
        None
    };
    let path = match written {
        Some(path) => path,
        None => {
            let path = args.out.join("workload.yaml");
            traces::write_yaml(items.iter().cloned(), &path).context("failed to write the workload")?;
            path
        }
    };
    println!("wrote {} ({} items, {n_pods} pods)", path.display(), items.len());
    if n_skipped > 0 {
        println!("skipped {n_skipped} bad rows of {}", args.workload.display());
    }
    for note in notes {
        println!("note: {note}");
    }
    Ok(())
}
