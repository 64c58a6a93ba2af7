//! Alibaba GPU cluster trace v2023 ("openb"): its node lists as clusters, its pod list as a workload.
//!
//! Nodes (`openb_node_list_*.csv`: `sn,cpu_milli,memory_mib,gpu,model`): allocatable `cpu` = `cpu_milli`m,
//! `memory` = `memory_mib`Mi, `pods` = 110 (the trace has no pod limit; 110 is the kubelet default), and
//! for GPU nodes `nvidia.com/gpu` = `gpu` and `alibabacloud.com/gpu-milli` = 1000 × `gpu`; labels
//! `kubernetes.io/hostname` = `sn` and `alibabacloud.com/gpu-card-model` = `model` when present (a valid
//! Kubernetes label value, else the row is an error).
//!
//! Pods (`openb_pod_list_*.csv`, columns read by name): arrival = `creation_time`; duration =
//! `deletion_time − scheduled_time`, or none (the pod runs until the simulation ends) when either is empty:
//! the pod was never scheduled in the trace (no `scheduled_time`), or it was scheduled and still running when
//! the trace ended (no `deletion_time`); requests `cpu_milli`m and `memory_mib`Mi; a whole-GPU pod
//! (`gpu_milli` = 1000) requests `nvidia.com/gpu` = `num_gpu` and `alibabacloud.com/gpu-milli` = 1000 ×
//! `num_gpu`; a GPU-sharing pod (`num_gpu` = 1, `gpu_milli` < 1000) requests only
//! `alibabacloud.com/gpu-milli` = `gpu_milli`. GPU sharing is accounted in milli-GPU per node, not per
//! device, until devices are modelled. `gpu_spec` (models joined by `|`, each a valid label value) becomes a
//! required node affinity on the model label; `qos` (`LS`, `BE`, `Burstable`, `Guaranteed`, or empty)
//! becomes the label `alibabacloud.com/qos`. `pod_phase` is not read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use csv::ByteRecord;
use scheduler_core::{
    MAX_AMOUNT, NodeAffinityDef, NodeDef, NodeSelectorDef, NodeSelectorOperator, NodeSelectorRequirementDef, NodeSelectorTermDef, PodDef,
};

use crate::csv_input::{CsvRows, Header, RowError, RowParser, SeenNames, cell, first_line_with, open_csv, read_failure};
use crate::error::TraceError;
use crate::format::ReadOptions;
use crate::shape::{ShapeCache, check_quantity, single_container_pod};
use crate::workload::{Micros, PodArrival, WorkloadItem, WorkloadStream, format_seconds, parse_seconds};

/// The columns of a node list.
pub const NODE_COLUMNS: [&str; 5] = ["sn", "cpu_milli", "memory_mib", "gpu", "model"];

/// The columns of a pod list that the importer needs (`gpu_spec` and `qos` are read when present).
pub const POD_COLUMNS: [&str; 8] =
    ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "creation_time", "deletion_time", "scheduled_time"];

/// Whole GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// GPU capacity in thousandths of a GPU, as the trace's authors model it.
pub const GPU_MILLI_RESOURCE: &str = "alibabacloud.com/gpu-milli";
/// The node label holding the GPU model.
pub const GPU_MODEL_LABEL: &str = "alibabacloud.com/gpu-card-model";
/// The pod label holding the trace's QoS class.
pub const QOS_LABEL: &str = "alibabacloud.com/qos";
/// Pods per node: the trace has no limit; this is the kubelet's default.
pub const PODS_PER_NODE: u32 = 110;
/// The values of the `qos` column (an empty cell is accepted too: no label).
pub const QOS_CLASSES: [&str; 4] = ["LS", "BE", "Burstable", "Guaranteed"];

/// Reads a node list.
pub fn read_nodes(path: &Path) -> Result<Vec<NodeDef>, TraceError> {
    let text = std::fs::read_to_string(path).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
    Ok(parse_nodes(&text, path)?.into_iter().map(|(_, node)| node).collect())
}

/// Whether a CSV header line is a node list's.
pub fn is_node_list_header(first_line: &str) -> bool {
    let columns: Vec<&str> = first_line.trim_start_matches('\u{feff}').trim_end_matches(['\n', '\r']).split(',').map(str::trim).collect();
    NODE_COLUMNS.iter().all(|name| columns.contains(name))
}

/// Parses a node list's text; each node comes with its line.
pub fn parse_nodes(text: &str, path: &Path) -> Result<Vec<(u64, NodeDef)>, TraceError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    let header = Header::read_from(&mut reader, 0, path)?;
    let columns = NODE_COLUMNS.map(|name| header.require(name, &NODE_COLUMNS, path));
    let [sn, cpu_milli, memory_mib, gpu, model] = columns;
    let (sn, cpu_milli, memory_mib, gpu, model) = (sn?, cpu_milli?, memory_mib?, gpu?, model?);
    let mut record = ByteRecord::new();
    let mut nodes = Vec::new();
    let mut line_by_name: HashMap<String, u64> = HashMap::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(read_failure(e, path, 0).into_trace_error(path)),
        }
        let line = record.position().map_or(0, |p| p.line());
        let node = (|| {
            let name = cell(&record, sn, line, "sn")?;
            if name.is_empty() {
                return Err(RowError::cell(line, sn, "sn", "Required value: every node has a name"));
            }
            let cpu = whole_number(&record, cpu_milli, line, "cpu_milli")?;
            let memory = whole_number(&record, memory_mib, line, "memory_mib")?;
            let n_gpus = whole_number(&record, gpu, line, "gpu")?;
            let model_name = cell(&record, model, line, "model")?;
            check_gpu_model(model_name).map_err(|m| RowError::cell(line, model, "model", m))?;
            let mut allocatable = vec![
                ("cpu".to_string(), checked(format!("{cpu}m"), true, line, cpu_milli, "cpu_milli")?),
                ("memory".to_string(), checked(format!("{memory}Mi"), false, line, memory_mib, "memory_mib")?),
                ("pods".to_string(), PODS_PER_NODE.to_string()),
            ];
            if n_gpus > 0 {
                allocatable.push((GPU_RESOURCE.to_string(), n_gpus.to_string()));
                allocatable.push((GPU_MILLI_RESOURCE.to_string(), milli_gpus(n_gpus, &record, line, gpu, "gpu")?));
            }
            let mut labels = vec![("kubernetes.io/hostname".to_string(), name.to_string())];
            if !model_name.is_empty() {
                labels.push((GPU_MODEL_LABEL.to_string(), model_name.to_string()));
            }
            Ok(NodeDef { name: name.to_string(), labels, allocatable, ..NodeDef::default() })
        })()
        .map_err(|e: RowError| e.into_trace_error(path))?;
        if let Some(first_line) = line_by_name.insert(node.name.clone(), line) {
            let message = format!("node name {:?} is already used on line {first_line}", node.name);
            return Err(RowError::cell(line, sn, "sn", message).into_trace_error(path));
        }
        nodes.push((line, node));
    }
    Ok(nodes)
}

/// Opens a pod list as a workload, read lazily like the native format.
pub fn read_pods(path: &Path, opts: &ReadOptions) -> Result<WorkloadStream, TraceError> {
    let mut csv_file = open_csv(path, None)?;
    let header = Header::read(&mut csv_file, path)?;
    let required = |name: &str| header.require(name, &POD_COLUMNS, path);
    let columns = PodColumns {
        name: required("name")?,
        cpu_milli: required("cpu_milli")?,
        memory_mib: required("memory_mib")?,
        num_gpu: required("num_gpu")?,
        gpu_milli: required("gpu_milli")?,
        gpu_spec: header.find("gpu_spec"),
        qos: header.find("qos"),
        creation_time: required("creation_time")?,
        deletion_time: required("deletion_time")?,
        scheduled_time: required("scheduled_time")?,
    };
    let skipped = Arc::new(AtomicU64::new(0));
    let parser = PodParser {
        path: path.to_path_buf(),
        columns,
        shapes: ShapeCache::default(),
        names: SeenNames::default(),
        confirm_duplicates: !opts.skip_bad_rows,
        previous_arrival: 0,
    };
    let rows = CsvRows {
        path: path.to_path_buf(),
        csv_file,
        record: ByteRecord::new(),
        parser,
        skip_bad_rows: opts.skip_bad_rows,
        skipped: skipped.clone(),
        finished: false,
    };
    Ok(WorkloadStream::new(Box::new(rows), skipped))
}

#[derive(Clone, Copy, Debug)]
struct PodColumns {
    name: usize,
    cpu_milli: usize,
    memory_mib: usize,
    num_gpu: usize,
    gpu_milli: usize,
    gpu_spec: Option<usize>,
    qos: Option<usize>,
    creation_time: usize,
    deletion_time: usize,
    scheduled_time: usize,
}

struct PodParser {
    path: PathBuf,
    columns: PodColumns,
    shapes: ShapeCache,
    names: SeenNames,
    confirm_duplicates: bool,
    previous_arrival: Micros,
}

impl RowParser for PodParser {
    fn parse(&mut self, record: &ByteRecord, line: u64) -> Result<WorkloadItem, RowError> {
        let columns = self.columns;
        let name = cell(record, columns.name, line, "name")?;
        if name.is_empty() {
            return Err(RowError::cell(line, columns.name, "name", "Required value: every pod has a name"));
        }
        let arrival = time(record, columns.creation_time, line, "creation_time")?.ok_or_else(|| {
            RowError::cell(line, columns.creation_time, "creation_time", "Required value: seconds from the start of the trace")
        })?;
        if arrival < self.previous_arrival {
            return Err(RowError::cell(
                line,
                columns.creation_time,
                "creation_time",
                format!(
                    "creation_time {} is earlier than the previous row's {}: rows must be sorted by creation_time",
                    format_seconds(arrival),
                    format_seconds(self.previous_arrival)
                ),
            ));
        }
        let scheduled = time(record, columns.scheduled_time, line, "scheduled_time")?;
        let deletion = time(record, columns.deletion_time, line, "deletion_time")?;
        let duration = match (scheduled, deletion) {
            (Some(scheduled), Some(deletion)) => Some(deletion.checked_sub(scheduled).ok_or_else(|| {
                RowError::cell(
                    line,
                    columns.deletion_time,
                    "deletion_time",
                    format!("deletion_time {} is earlier than scheduled_time {}", format_seconds(deletion), format_seconds(scheduled)),
                )
            })?),
            _ => None,
        };
        let spec = self.shape(record, line)?;
        let name_hash = SeenNames::hash(name);
        if self.names.contains(name_hash) {
            let message = if self.confirm_duplicates {
                let first_line = open_csv(&self.path, None).ok().and_then(|f| first_line_with(f, columns.name, name, line));
                first_line.map(|first| format!("pod name {name:?} is already used on line {first}"))
            } else {
                Some(format!("pod name {name:?} is already used on an earlier line"))
            };
            if let Some(message) = message {
                return Err(RowError::cell(line, columns.name, "name", message));
            }
        }
        self.names.insert(name_hash);
        self.previous_arrival = arrival;
        Ok(WorkloadItem::Pod(PodArrival { time: arrival, name: name.to_string(), spec, duration, job: None }))
    }
}

impl PodParser {
    fn shape(&mut self, record: &ByteRecord, line: u64) -> Result<Arc<PodDef>, RowError> {
        let columns = self.columns;
        let cell_of = |idx: Option<usize>| idx.and_then(|i| record.get(i)).unwrap_or_default();
        let cells = [
            cell_of(Some(columns.cpu_milli)),
            cell_of(Some(columns.memory_mib)),
            cell_of(Some(columns.num_gpu)),
            cell_of(Some(columns.gpu_milli)),
            cell_of(columns.gpu_spec),
            cell_of(columns.qos),
        ];
        let hash = ShapeCache::hash(&cells);
        if let Some(spec) = self.shapes.get(hash, &cells) {
            return Ok(spec);
        }
        let def = pod_shape(record, line, &columns)?;
        Ok(self.shapes.insert(hash, &cells, def))
    }
}

fn pod_shape(record: &ByteRecord, line: u64, columns: &PodColumns) -> Result<PodDef, RowError> {
    let cpu = whole_number(record, columns.cpu_milli, line, "cpu_milli")?;
    let memory = whole_number(record, columns.memory_mib, line, "memory_mib")?;
    let n_gpus = whole_number(record, columns.num_gpu, line, "num_gpu")?;
    let gpu_milli = whole_number(record, columns.gpu_milli, line, "gpu_milli")?;
    let mut requests = vec![
        ("cpu".to_string(), checked(format!("{cpu}m"), true, line, columns.cpu_milli, "cpu_milli")?),
        ("memory".to_string(), checked(format!("{memory}Mi"), false, line, columns.memory_mib, "memory_mib")?),
    ];
    match (n_gpus, gpu_milli) {
        (0, 0) => {}
        (1.., 1000) => {
            requests.push((GPU_RESOURCE.to_string(), n_gpus.to_string()));
            requests.push((GPU_MILLI_RESOURCE.to_string(), milli_gpus(n_gpus, record, line, columns.num_gpu, "num_gpu")?));
        }
        (1, 1..1000) => requests.push((GPU_MILLI_RESOURCE.to_string(), gpu_milli.to_string())),
        _ => {
            return Err(RowError::cell(
                line,
                columns.gpu_milli,
                "gpu_milli",
                format!(
                    "expected 1000 (whole GPUs), 1 to 999 with num_gpu 1 (a share of one GPU), or 0 with num_gpu 0; got gpu_milli {gpu_milli} with num_gpu {n_gpus}"
                ),
            ));
        }
    }
    let mut def = single_container_pod(requests);
    if let Some(idx) = columns.gpu_spec {
        let models: Vec<String> = cell(record, idx, line, "gpu_spec")?.split('|').filter(|m| !m.is_empty()).map(str::to_string).collect();
        for model in &models {
            check_gpu_model(model).map_err(|m| RowError::cell(line, idx, "gpu_spec", m))?;
        }
        if !models.is_empty() {
            let requirement =
                NodeSelectorRequirementDef { key: GPU_MODEL_LABEL.to_string(), operator: NodeSelectorOperator::In, values: models };
            let term = NodeSelectorTermDef { match_expressions: vec![requirement], match_fields: Vec::new() };
            def.node_affinity = Some(NodeAffinityDef { required: Some(NodeSelectorDef { terms: vec![term] }), preferred: None });
        }
    }
    if let Some(idx) = columns.qos {
        match cell(record, idx, line, "qos")? {
            "" => {}
            qos if QOS_CLASSES.contains(&qos) => def.labels.push((QOS_LABEL.to_string(), qos.to_string())),
            qos => {
                let message = format!("expected {}, or an empty cell, got {qos:?}", QOS_CLASSES.join(", "));
                return Err(RowError::cell(line, idx, "qos", message));
            }
        }
    }
    Ok(def)
}

/// A cell holding a whole non-negative number.
fn whole_number(record: &ByteRecord, idx: usize, line: u64, column_name: &str) -> Result<i64, RowError> {
    let text = cell(record, idx, line, column_name)?;
    text.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0 && !text.starts_with('+'))
        .ok_or_else(|| RowError::cell(line, idx, column_name, format!("expected a whole number, got {text:?}")))
}

/// `1000 × n_gpus` milli-GPUs, the GPUs read from cell `idx`; an error quotes the cell when simsched cannot
/// account that many.
fn milli_gpus(n_gpus: i64, record: &ByteRecord, line: u64, idx: usize, column_name: &str) -> Result<String, RowError> {
    match n_gpus.checked_mul(1000).filter(|milli| *milli <= MAX_AMOUNT) {
        Some(milli) => Ok(milli.to_string()),
        None => {
            let text = cell(record, idx, line, column_name)?;
            let message = format!("{text:?} GPUs is more than simsched accounts: at most {} (2^53 milli-GPUs)", MAX_AMOUNT / 1000);
            Err(RowError::cell(line, idx, column_name, message))
        }
    }
}

/// A GPU model, which becomes a label value (of a node, or of a pod's node-affinity requirement): empty, or
/// what upstream's `validation.IsValidLabelValue` accepts: at most 63 characters, alphanumeric at both ends,
/// alphanumeric, `-`, `_` or `.` inside.
fn check_gpu_model(model: &str) -> Result<(), String> {
    if model.len() > 63 {
        return Err(format!("GPU model {model:?} is not a valid label value: it has {} characters, at most 63", model.len()));
    }
    if !scheduler_core::is_label_value(model) {
        return Err(format!(
            "GPU model {model:?} is not a valid label value: expected letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A quantity built from a cell, checked as the core will check it.
fn checked(quantity: String, is_cpu: bool, line: u64, idx: usize, column_name: &str) -> Result<String, RowError> {
    check_quantity(&quantity, is_cpu).map_err(|m| RowError::cell(line, idx, column_name, m))?;
    Ok(quantity)
}

/// A cell holding seconds from the start of the trace, or nothing.
fn time(record: &ByteRecord, idx: usize, line: u64, column_name: &str) -> Result<Option<Micros>, RowError> {
    match cell(record, idx, line, column_name)? {
        "" => Ok(None),
        text => parse_seconds(text)
            .map(Some)
            .ok_or_else(|| RowError::cell(line, idx, column_name, format!("expected seconds from the start of the trace, got {text:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_model(model: &str, valid: bool) {
        assert_eq!(check_gpu_model(model).is_ok(), valid, "{model}");
    }

    #[test]
    fn gpu_models_are_label_values() {
        check_model("", true);
        check_model("V100M16", true);
        check_model("A10", true);
        check_model("1", true);
        check_model("a-b_c.d", true);
        check_model(&"x".repeat(63), true);
        check_model(&"x".repeat(64), false);
        check_model("-a", false);
        check_model("a-", false);
        check_model("_a", false);
        check_model(".a", false);
        check_model("a b", false);
        check_model("a/b", false);
        check_model("Tésla", false);
        check_model("Weird!", false);
    }
}
