//! `simsched explain`: one scheduling cycle for one pod, every node's verdict and score.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use comfy_table::CellAlignment;
use serde::Serialize;

use scheduler_core::{Explanation, Scheduler, SchedulerConfig};

use crate::table::{table, write_rows};

pub const LONG_ABOUT: &str = "Show why a pod would be placed on a node, or why it fits nowhere.

Runs one kube-scheduler scheduling cycle for the pod against the cluster, evaluating every node (no sampling): each node's filter verdict (status, rejecting plugin, reasons), each score plugin's raw, normalized and weighted score, the total, and the node the scheduler picks or kube-scheduler's \"0/N nodes are available\" message.

The cluster is what `kubectl get nodes,pods -A -o yaml` (or -o json) prints, multi-document YAML of Node and Pod objects, or simsched's compact cluster format. The pod is one v1 Pod. The configuration is a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1); without one, kube-scheduler's default profile is used.";

pub const EXAMPLES: &str = "\
Examples:
  # Why would this pod land where it lands?
  simsched explain --cluster cluster.yaml --pod pod.yaml

  # The same against a live cluster's state, as JSON
  kubectl get nodes,pods -A -o yaml > cluster.yaml
  simsched explain --cluster cluster.yaml --pod pod.yaml -o json

  # With your scheduler's configuration, scoring even the nodes that fail the filters
  simsched explain --cluster cluster.yaml --pod pod.yaml --config sched.yaml --score-all-nodes";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable tables.
    Table,
    /// One JSON object (shape documented in the README).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Cluster state: kubectl YAML/JSON (v1 List, NodeList, PodList, Node/Pod documents) or compact YAML
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,

    /// The pod to schedule: one v1 Pod (YAML or JSON)
    #[arg(long, value_name = "FILE")]
    pod: PathBuf,

    /// A KubeSchedulerConfiguration; default: kube-scheduler's default profile
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,

    /// Score (and normalize over) every node, including those that fail the filters
    #[arg(long)]
    score_all_nodes: bool,

    /// Seed of the random tie-break between equally scored nodes
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: &Args) -> Result<()> {
    let config = match &args.config {
        None => SchedulerConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("failed to read scheduler config {}", path.display()))?;
            SchedulerConfig::from_yaml(&text).with_context(|| format!("failed to load scheduler config {}", path.display()))?
        }
    };
    let input = traces::read_cluster(&args.cluster).context("failed to load the cluster")?;
    let mut cluster = traces::build_cluster(&input, &args.cluster).context("failed to load the cluster")?;
    let (mut pod_def, facts) = traces::read_pod(&args.pod).context("failed to load the pod")?;
    facts
        .admit(&mut pod_def, &input.priority_classes)
        .map_err(|(field, message)| anyhow::anyhow!("{}: {field}: {message}", args.pod.display()))
        .context("failed to load the pod")?;
    let pod = cluster
        .compile_pod(&pod_def)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", args.pod.display(), e.field, e.message))
        .context("failed to load the pod")?;
    let mut scheduler =
        Scheduler::from_config(&config, &plugins::registry(), &mut cluster, args.seed).with_context(|| match &args.config {
            Some(path) => format!("failed to build the scheduler from {}", path.display()),
            None => "failed to build the default scheduler".to_string(),
        })?;
    let explanation = scheduler.explain(&cluster, &pod, args.score_all_nodes)?;

    let mut notes = Vec::new();
    if let Some(summary) = input.skipped.summary() {
        notes.push(format!("not part of the cluster state: {summary} in {}", args.cluster.display()));
    }
    for (plugin, field) in &facts.unsupported {
        notes.push(format!(
            "the pod sets {field}, which {plugin} evaluates; simsched does not provide {plugin} yet, so it is not taken into account"
        ));
    }
    let missing: Vec<&str> = explanation.missing_plugins.iter().filter(|m| m.affects_decisions).map(|m| m.name.as_str()).collect();
    if !missing.is_empty() {
        notes.push(format!("plugins of this profile not provided by simsched (not evaluated): {}", missing.join(", ")));
    }
    notes.extend(explanation.warnings.iter().cloned());

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        Output::Json => {
            for note in &notes {
                eprintln!("note: {note}");
            }
            serde_json::to_writer_pretty(&mut out, &json(&explanation))?;
            writeln!(out)?;
        }
        Output::Table => write_table(&mut out, &explanation, &notes)?,
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonExplanation<'a> {
    pod: &'a str,
    selected: Option<&'a str>,
    #[serde(skip_serializing_if = "<[usize]>::is_empty")]
    gpus: &'a [usize],
    message: &'a str,
    pre_filter_skipped: &'a [String],
    pre_score_skipped: &'a [String],
    nodes: Vec<JsonNode<'a>>,
    post_filter: Option<JsonPostFilter<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonPostFilter<'a> {
    plugin: &'a str,
    status: &'static str,
    nominated_node: Option<&'a str>,
    victims: &'a [String],
    cleared_nominations: &'a [String],
    message: &'a str,
}

#[derive(Serialize)]
struct JsonNode<'a> {
    name: &'a str,
    filter: JsonFilter<'a>,
    #[serde(serialize_with = "ordered_map")]
    scores: Vec<(&'a str, JsonScore)>,
    total: i64,
}

#[derive(Serialize)]
struct JsonFilter<'a> {
    status: &'static str,
    plugin: &'a str,
    reasons: &'a [String],
}

#[derive(Serialize)]
struct JsonScore {
    raw: i64,
    normalized: i64,
    weighted: i64,
}

fn ordered_map<S: serde::Serializer>(entries: &[(&str, JsonScore)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

fn json(e: &Explanation) -> JsonExplanation<'_> {
    JsonExplanation {
        pod: &e.pod,
        selected: e.selected.as_deref(),
        gpus: &e.gpus,
        message: &e.message,
        pre_filter_skipped: &e.pre_filter_skipped,
        pre_score_skipped: &e.pre_score_skipped,
        nodes: e
            .nodes
            .iter()
            .map(|n| JsonNode {
                name: &n.name,
                filter: JsonFilter { status: n.filter.code.as_str(), plugin: &n.filter.plugin, reasons: &n.filter.reasons },
                scores: n
                    .scores
                    .iter()
                    .map(|s| (s.plugin.as_str(), JsonScore { raw: s.raw, normalized: s.normalized, weighted: s.weighted }))
                    .collect(),
                total: n.total,
            })
            .collect(),
        post_filter: e.post_filter.as_ref().map(|p| JsonPostFilter {
            plugin: &p.plugin,
            status: p.code.as_str(),
            nominated_node: p.nominated_node.as_deref(),
            victims: &p.victims,
            cleared_nominations: &p.cleared_nominations,
            message: &p.message,
        }),
    }
}

fn write_table(out: &mut impl Write, e: &Explanation, notes: &[String]) -> Result<()> {
    writeln!(out, "Pod:       {}", e.pod)?;
    writeln!(out, "Profile:   {}", e.profile)?;
    match &e.selected {
        Some(node) => writeln!(out, "Selected:  {node}")?,
        None => writeln!(out, "Selected:  <none>")?,
    }
    if !e.gpus.is_empty() {
        let gpus: Vec<String> = e.gpus.iter().map(usize::to_string).collect();
        writeln!(out, "GPUs:      {}", gpus.join(","))?;
    }
    if !e.message.is_empty() {
        writeln!(out, "Message:   {}", e.message)?;
    }
    if let Some(p) = &e.post_filter {
        match &p.nominated_node {
            Some(node) => {
                writeln!(out, "Preempt:   {} nominates {node}; evicts {} pod(s): {}", p.plugin, p.victims.len(), p.victims.join(", "))?;
                if !p.cleared_nominations.is_empty() {
                    writeln!(out, "           clears the nomination of {}", p.cleared_nominations.join(", "))?;
                }
            }
            None => writeln!(out, "Preempt:   {} cannot help ({})", p.plugin, p.code.as_str())?,
        }
    }
    let mut skipped = Vec::new();
    if !e.pre_filter_skipped.is_empty() {
        skipped.push(format!("PreFilter {}", e.pre_filter_skipped.join(", ")));
    }
    if !e.pre_score_skipped.is_empty() {
        skipped.push(format!("PreScore {}", e.pre_score_skipped.join(", ")));
    }
    if !skipped.is_empty() {
        writeln!(out, "Skipped:   {}", skipped.join("; "))?;
    }
    for note in notes {
        writeln!(out, "Note:      {note}")?;
    }
    if e.nodes.is_empty() {
        return Ok(());
    }

    writeln!(out, "\nFilter:")?;
    let mut t = table();
    t.set_header(vec!["NODE", "STATUS", "PLUGIN", "REASONS"]);
    for n in &e.nodes {
        t.add_row(vec![n.name.clone(), n.filter.code.as_str().to_string(), n.filter.plugin.clone(), n.filter.reasons.join(", ")]);
    }
    write_rows(out, t)?;

    let scored: Vec<_> = e.nodes.iter().filter(|n| !n.scores.is_empty()).collect();
    if scored.is_empty() {
        if e.selected.is_some() {
            writeln!(out, "\nScores:    none (a single feasible node is chosen without scoring; --score-all-nodes scores every node)")?;
        }
        return Ok(());
    }
    writeln!(out, "\nScores (raw → normalized × weight = weighted):")?;
    let mut t = table();
    let plugins: Vec<&str> = scored[0].scores.iter().map(|s| s.plugin.as_str()).collect();
    let mut header = vec!["NODE".to_string()];
    header.extend(plugins.iter().map(|p| p.to_string()));
    header.push("TOTAL".into());
    t.set_header(header);
    for n in &scored {
        let mut row = vec![n.name.clone()];
        for s in &n.scores {
            let weight = e.score_plugins.iter().find(|(p, _)| *p == s.plugin).map_or(1, |&(_, w)| w);
            let cell = if s.raw == s.normalized {
                format!("{} ×{weight} = {}", s.normalized, s.weighted)
            } else {
                format!("{} → {} ×{weight} = {}", s.raw, s.normalized, s.weighted)
            };
            row.push(cell);
        }
        row.push(n.total.to_string());
        t.add_row(row);
    }
    if let Some(col) = t.column_mut(plugins.len() + 1) {
        col.set_cell_alignment(CellAlignment::Right);
    }
    write_rows(out, t)?;
    Ok(())
}
