//! The native workload CSV (version 1): one pod per row, read lazily; and its writer.
//!
//! ```text
//! #simsched workload v1
//! name,arrival,duration,cpu,memory,resources,priority,job,labels,namespace,scheduler,owner
//! web-0,0,300,500m,1Gi,,,,app=web,,,ReplicaSet/web-5d8f
//! train-0,12.5,,8,32Gi,nvidia.com/gpu=1,100,train,app=train;team=ml,ml,,
//! ```
//! The first line is the version marker; then a header row naming the columns, in any order. Required:
//! `name` (unique), `arrival` (seconds from the start of the trace, at most 6 decimals), `cpu` and `memory`
//! (Kubernetes quantities; an empty cell requests none). Optional: `duration` (seconds; empty = runs until
//! the simulation ends), `resources` (`name=quantity;…`), `priority` (int32), `job` (pods with the same job
//! name form one job), `labels` (`key=value;…`), `namespace` (default `default`), `scheduler`
//! (`spec.schedulerName`), `owner` (the controlling owner as `Kind/name`, one of [`OWNER_KINDS`]). Rows are
//! sorted by arrival.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use csv::ByteRecord;
use scheduler_core::{OwnerReferenceDef, PodDef, ResourceKind, is_dns1123_subdomain, is_label_value, is_qualified_name};

use crate::csv_input::{CsvRows, Header, RowError, RowParser, SeenNames, cell, first_line_with, open_csv};
use crate::error::TraceError;
use crate::format::ReadOptions;
use crate::shape::{ShapeCache, check_quantity, single_container_pod};
use crate::workload::{Micros, PodArrival, WorkloadItem, WorkloadStream, format_seconds, parse_seconds};

/// The first line of a native workload file.
pub const MARKER: &str = "#simsched workload v1";

/// Every column, in the order the writer uses.
pub const COLUMNS: [&str; 12] =
    ["name", "arrival", "duration", "cpu", "memory", "resources", "priority", "job", "labels", "namespace", "scheduler", "owner"];

/// The owner kinds the `owner` column takes, with their API versions.
pub const OWNER_KINDS: [(&str, &str); 6] = [
    ("ReplicaSet", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("ReplicationController", "v1"),
    ("Job", "batch/v1"),
    ("PodGroup", "scheduling.x-k8s.io/v1alpha1"),
];

const REQUIRED_COLUMNS: [&str; 4] = ["name", "arrival", "cpu", "memory"];

/// Where each column is in the file.
#[derive(Clone, Copy, Debug)]
struct Columns {
    name: usize,
    arrival: usize,
    duration: Option<usize>,
    cpu: usize,
    memory: usize,
    resources: Option<usize>,
    priority: Option<usize>,
    job: Option<usize>,
    labels: Option<usize>,
    namespace: Option<usize>,
    scheduler: Option<usize>,
    owner: Option<usize>,
}

impl Columns {
    fn from_header(header: &Header, path: &Path) -> Result<Columns, TraceError> {
        for (idx, name) in header.names.iter().enumerate() {
            let location = crate::csv_input::cell_location(header.line, idx, name);
            if !COLUMNS.contains(&name.as_str()) {
                return Err(TraceError::new(path, location, format!("unknown column {name:?}: valid columns are {}", COLUMNS.join(", "))));
            }
            if header.names[..idx].contains(name) {
                return Err(TraceError::new(path, location, format!("column {name:?} appears twice")));
            }
        }
        let required = |name: &str| header.require(name, &REQUIRED_COLUMNS, path);
        Ok(Columns {
            name: required("name")?,
            arrival: required("arrival")?,
            duration: header.find("duration"),
            cpu: required("cpu")?,
            memory: required("memory")?,
            resources: header.find("resources"),
            priority: header.find("priority"),
            job: header.find("job"),
            labels: header.find("labels"),
            namespace: header.find("namespace"),
            scheduler: header.find("scheduler"),
            owner: header.find("owner"),
        })
    }
}

/// Opens a native workload file. Rows are read as the stream is consumed; a bad row is an error at that
/// point of the stream, or, with `skip_bad_rows`, skipped and counted.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<WorkloadStream, TraceError> {
    let mut csv_file = open_csv(path, Some(MARKER))?;
    let header = Header::read(&mut csv_file, path)?;
    let columns = Columns::from_header(&header, path)?;
    let skipped = Arc::new(AtomicU64::new(0));
    let parser = NativeParser {
        path: path.to_path_buf(),
        columns,
        shapes: ShapeCache::default(),
        names: SeenNames::default(),
        confirm_duplicates: !opts.skip_bad_rows,
        previous_arrival: 0,
        last_job: None,
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

struct NativeParser {
    path: PathBuf,
    columns: Columns,
    shapes: ShapeCache,
    names: SeenNames,
    /// Read the file again to confirm a duplicate name (and name its first line); when skipping bad rows, a
    /// name whose hash was seen is taken as a duplicate without reading again.
    confirm_duplicates: bool,
    previous_arrival: Micros,
    last_job: Option<Arc<str>>,
}

impl RowParser for NativeParser {
    fn parse(&mut self, record: &ByteRecord, line: u64) -> Result<WorkloadItem, RowError> {
        let columns = self.columns;
        let name = cell(record, columns.name, line, "name")?;
        if name.is_empty() {
            return Err(RowError::cell(line, columns.name, "name", "Required value: every pod has a name"));
        }
        let arrival_text = cell(record, columns.arrival, line, "arrival")?;
        let arrival = parse_seconds(arrival_text).ok_or_else(|| {
            RowError::cell(
                line,
                columns.arrival,
                "arrival",
                format!("expected seconds such as 12.5 (at most 6 decimals), got {arrival_text:?}"),
            )
        })?;
        if arrival < self.previous_arrival {
            return Err(RowError::cell(
                line,
                columns.arrival,
                "arrival",
                format!(
                    "arrival {arrival_text} is earlier than the previous row's {}: rows must be sorted by arrival",
                    format_seconds(self.previous_arrival)
                ),
            ));
        }
        let duration = match columns.duration {
            None => None,
            Some(idx) => match cell(record, idx, line, "duration")? {
                "" => None,
                text => Some(parse_seconds(text).ok_or_else(|| {
                    RowError::cell(
                        line,
                        idx,
                        "duration",
                        format!("expected seconds such as 300 (at most 6 decimals), or nothing, got {text:?}"),
                    )
                })?),
            },
        };
        let spec = self.shape(record, line)?;
        let job = match columns.job {
            None => None,
            Some(idx) => match cell(record, idx, line, "job")? {
                "" => None,
                text => match &self.last_job {
                    Some(last) if &**last == text => Some(last.clone()),
                    _ => {
                        let job: Arc<str> = Arc::from(text);
                        self.last_job = Some(job.clone());
                        Some(job)
                    }
                },
            },
        };
        let name_hash = SeenNames::hash(name);
        if self.names.contains(name_hash) {
            let message = if self.confirm_duplicates {
                let first_line = open_csv(&self.path, Some(MARKER)).ok().and_then(|f| first_line_with(f, columns.name, name, line));
                // No earlier row with this name: two names with the same hash, not a duplicate.
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
        Ok(WorkloadItem::Pod(PodArrival { time: arrival, name: name.to_string(), spec, duration, job }))
    }
}

impl NativeParser {
    /// The shape of the row: from the cache when the same cells were seen before (they were valid then).
    fn shape(&mut self, record: &ByteRecord, line: u64) -> Result<Arc<PodDef>, RowError> {
        let columns = self.columns;
        let cell_of = |idx: Option<usize>| idx.and_then(|i| record.get(i)).unwrap_or_default();
        let cells = [
            cell_of(Some(columns.cpu)),
            cell_of(Some(columns.memory)),
            cell_of(columns.resources),
            cell_of(columns.priority),
            cell_of(columns.labels),
            cell_of(columns.namespace),
            cell_of(columns.scheduler),
            cell_of(columns.owner),
        ];
        let hash = ShapeCache::hash(&cells);
        if let Some(spec) = self.shapes.get(hash, &cells) {
            return Ok(spec);
        }
        let def = build_shape(record, line, &columns)?;
        Ok(self.shapes.insert(hash, &cells, def))
    }
}

fn build_shape(record: &ByteRecord, line: u64, columns: &Columns) -> Result<PodDef, RowError> {
    let mut requests = Vec::new();
    for (idx, column_name, is_cpu) in [(columns.cpu, "cpu", true), (columns.memory, "memory", false)] {
        let text = cell(record, idx, line, column_name)?;
        if !text.is_empty() {
            check_quantity(text, is_cpu).map_err(|m| RowError::cell(line, idx, column_name, m))?;
            requests.push((column_name.to_string(), text.to_string()));
        }
    }
    if let Some(idx) = columns.resources {
        let text = cell(record, idx, line, "resources")?;
        let error = |message: String| RowError::cell(line, idx, "resources", message);
        let n_standard = requests.len();
        for piece in text.split(';').filter(|p| !p.is_empty()) {
            let Some((resource, quantity)) = piece.split_once('=') else {
                return Err(error(format!("expected name=quantity pairs separated by ';', such as nvidia.com/gpu=1, got {piece:?}")));
            };
            match ResourceKind::of(resource) {
                None => {
                    return Err(error(format!(
                        "{resource:?} is not a resource name: expected ephemeral-storage, hugepages-<size> or a domain-prefixed extended resource such as nvidia.com/gpu"
                    )));
                }
                Some(ResourceKind::Cpu | ResourceKind::Memory) => {
                    return Err(error(format!("{resource:?} has its own column")));
                }
                Some(_) => {}
            }
            check_quantity(quantity, false).map_err(|m| error(format!("{resource}: {m}")))?;
            if requests[n_standard..].iter().any(|(r, _)| r == resource) {
                return Err(error(format!("resource {resource:?} appears twice")));
            }
            requests.push((resource.to_string(), quantity.to_string()));
        }
    }
    let mut def = single_container_pod(requests);
    if let Some(idx) = columns.priority {
        let text = cell(record, idx, line, "priority")?;
        if !text.is_empty() {
            def.priority = Some(
                text.parse::<i32>()
                    .map_err(|_| RowError::cell(line, idx, "priority", format!("expected an int32 priority, got {text:?}")))?,
            );
        }
    }
    if let Some(idx) = columns.labels {
        let text = cell(record, idx, line, "labels")?;
        for piece in text.split(';').filter(|p| !p.is_empty()) {
            let error = |message: String| RowError::cell(line, idx, "labels", message);
            let Some((key, value)) = piece.split_once('=') else {
                return Err(error(format!("expected key=value pairs separated by ';', such as app=web, got {piece:?}")));
            };
            if !is_qualified_name(key) {
                return Err(error(format!("label key {key:?} is not a qualified name (such as app or example.com/tier)")));
            }
            if !is_label_value(value) {
                return Err(error(format!(
                    "label value {value:?} of {key:?} is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
                )));
            }
            if def.labels.iter().any(|(k, _)| k == key) {
                return Err(error(format!("label {key:?} appears twice")));
            }
            def.labels.push((key.to_string(), value.to_string()));
        }
    }
    if let Some(idx) = columns.namespace {
        let text = cell(record, idx, line, "namespace")?;
        if !text.is_empty() {
            def.namespace = text.to_string();
        }
    }
    if let Some(idx) = columns.scheduler {
        def.scheduler_name = cell(record, idx, line, "scheduler")?.to_string();
    }
    if let Some(idx) = columns.owner {
        let text = cell(record, idx, line, "owner")?;
        if !text.is_empty() {
            def.owner = Some(parse_owner(text).map_err(|m| RowError::cell(line, idx, "owner", m))?);
        }
    }
    Ok(def)
}

/// An `owner` cell, `Kind/name`.
fn parse_owner(text: &str) -> Result<OwnerReferenceDef, String> {
    let kinds = || OWNER_KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
    let Some((kind, name)) = text.split_once('/') else {
        return Err(format!("expected Kind/name, such as ReplicaSet/web-5d8f, got {text:?}"));
    };
    let Some((_, api_version)) = OWNER_KINDS.iter().find(|(k, _)| *k == kind) else {
        return Err(format!("unknown owner kind {kind:?}: expected one of {}", kinds()));
    };
    if !is_dns1123_subdomain(name) {
        return Err(format!("owner name {name:?} is not a valid object name (lower case letters, digits, '-' and '.')"));
    }
    Ok(OwnerReferenceDef { api_version: api_version.to_string(), kind: kind.to_string(), name: name.to_string() })
}

/// The `owner` cell of `owner`, or why it cannot be written.
fn owner_cell(owner: &OwnerReferenceDef) -> Result<String, String> {
    match OWNER_KINDS.iter().find(|(k, v)| *k == owner.kind && *v == owner.api_version) {
        Some(_) if !owner.name.contains('/') => Ok(format!("{}/{}", owner.kind, owner.name)),
        _ => Err(format!("owner {}/{} of API version {}", owner.kind, owner.name, owner.api_version)),
    }
}

/// Writes pods as a native workload file, in the order given (which must be time order). A DAG job or a
/// node event cannot be written in this format; neither can a pod that uses more than one container's
/// requests, labels, priority, namespace and scheduler name: both are errors that point to the YAML format.
pub fn write_native(items: impl IntoIterator<Item = WorkloadItem>, path: &Path) -> Result<(), TraceError> {
    let io_error = |e: std::io::Error| TraceError::new(path, "file", format!("cannot write: {e}"));
    let csv_error = |e: csv::Error| TraceError::new(path, "file", format!("cannot write: {e}"));
    let mut file = BufWriter::with_capacity(1 << 16, File::create(path).map_err(io_error)?);
    writeln!(file, "{MARKER}").map_err(io_error)?;
    let mut writer = csv::Writer::from_writer(file);
    writer.write_record(COLUMNS).map_err(csv_error)?;
    let mut previous_time: Micros = 0;
    let mut last_shape: Option<(Arc<PodDef>, [String; 8])> = None;
    for item in items {
        let pod = match item {
            WorkloadItem::Pod(pod) => pod,
            WorkloadItem::Dag(job) => {
                return Err(TraceError::new(
                    path,
                    format!("job {:?}", job.name),
                    "a DAG job cannot be written in the native CSV format: use the YAML format",
                ));
            }
            WorkloadItem::Node(_) => {
                return Err(TraceError::new(
                    path,
                    "node event",
                    "a node event cannot be written in the native CSV format: use the YAML format",
                ));
            }
        };
        if pod.time < previous_time {
            return Err(TraceError::new(path, format!("pod {:?}", pod.name), "pods must be written in time order"));
        }
        previous_time = pod.time;
        let same_shape = last_shape.as_ref().is_some_and(|(spec, _)| Arc::ptr_eq(spec, &pod.spec));
        if !same_shape {
            let cells = shape_cells(&pod.spec).map_err(|what| {
                TraceError::new(
                    path,
                    format!("pod {:?}", pod.name),
                    format!("cannot be written in the native CSV format ({what}): use the YAML format"),
                )
            })?;
            last_shape = Some((pod.spec.clone(), cells));
        }
        let Some((_, cells)) = &last_shape else { continue };
        let arrival = format_seconds(pod.time);
        let duration = pod.duration.map(format_seconds).unwrap_or_default();
        let [cpu, memory, resources, priority, labels, namespace, scheduler, owner] = cells;
        let job = pod.job.as_deref().unwrap_or("");
        writer
            .write_record([
                pod.name.as_str(),
                &arrival,
                &duration,
                cpu,
                memory,
                resources,
                priority,
                job,
                labels,
                namespace,
                scheduler,
                owner,
            ])
            .map_err(csv_error)?;
    }
    let mut file = writer.into_inner().map_err(|e| io_error(std::io::Error::other(e.to_string())))?;
    file.flush().map_err(io_error)
}

/// The cells cpu, memory, resources, priority, labels, namespace, scheduler and owner of a pod, or what the
/// format cannot hold.
fn shape_cells(spec: &PodDef) -> Result<[String; 8], String> {
    let mut unsupported = Vec::new();
    let mut note = |present: bool, what: &str| {
        if present {
            unsupported.push(what.to_string());
        }
    };
    // Destructured so that a field added to PodDef cannot be forgotten here.
    let PodDef {
        namespace: _,
        name: _,
        labels: _,
        priority: _,
        scheduler_name: _,
        start_time: _,
        never_preempt,
        uid,
        node_name,
        containers,
        init_containers,
        overhead,
        pod_requests,
        pod_limits,
        node_selector,
        node_affinity,
        tolerations,
        scheduling_gates,
        image_volumes,
        topology_spread_constraints,
        pod_affinity,
        pod_anti_affinity,
        owner,
    } = spec;
    note(containers.len() != 1, "not exactly one container");
    if let Some(container) = containers.first() {
        note(!container.image.is_empty(), "an image");
        note(!container.limits.is_empty(), "limits");
        note(!container.ports.is_empty(), "ports");
    }
    note(!uid.is_empty(), "a uid");
    note(*never_preempt, "preemptionPolicy Never");
    note(!node_name.is_empty(), "a node name");
    note(!init_containers.is_empty(), "init containers");
    note(!overhead.is_empty(), "overhead");
    note(!pod_requests.is_empty() || !pod_limits.is_empty(), "pod-level resources");
    note(node_selector.is_some(), "a node selector");
    note(node_affinity.is_some(), "node affinity");
    note(!tolerations.is_empty(), "tolerations");
    note(!scheduling_gates.is_empty(), "scheduling gates");
    note(!image_volumes.is_empty(), "image volumes");
    note(!topology_spread_constraints.is_empty(), "topology spread constraints");
    note(pod_affinity.is_some() || pod_anti_affinity.is_some(), "pod affinity");
    let mut cpu = String::new();
    let mut memory = String::new();
    let mut resources = Vec::new();
    for (resource, quantity) in spec.containers.first().map(|c| c.requests.as_slice()).unwrap_or_default() {
        match resource.as_str() {
            "cpu" => cpu.clone_from(quantity),
            "memory" => memory.clone_from(quantity),
            _ => {
                if resource.contains(['=', ';']) || quantity.contains(';') {
                    unsupported.push(format!("resource {resource:?} contains '=' or ';'"));
                }
                resources.push(format!("{resource}={quantity}"));
            }
        }
    }
    let mut labels = Vec::new();
    for (key, value) in &spec.labels {
        if !is_qualified_name(key) || !is_label_value(value) {
            unsupported.push(format!("label {key:?}={value:?} is not a valid label"));
        }
        labels.push(format!("{key}={value}"));
    }
    let owner = match owner {
        None => String::new(),
        Some(o) => owner_cell(o).unwrap_or_else(|what| {
            unsupported.push(what);
            String::new()
        }),
    };
    if !unsupported.is_empty() {
        return Err(unsupported.join(", "));
    }
    let namespace = if spec.namespace == "default" { String::new() } else { spec.namespace.clone() };
    Ok([
        cpu,
        memory,
        resources.join(";"),
        spec.priority.map(|p| p.to_string()).unwrap_or_default(),
        labels.join(";"),
        namespace,
        spec.scheduler_name.clone(),
        owner,
    ])
}
