//! The YAML workload: pod templates, pods, DAG jobs and node events, read whole and sorted by time; and its
//! writer.
//!
//! ```yaml
//! apiVersion: simsched/v1
//! kind: Workload
//! priorityClasses:      # scheduling.k8s.io/v1 PriorityClasses the templates' priorityClassName refer to
//! - {metadata: {name: batch}, value: -10, preemptionPolicy: Never}
//! templates:            # v1 Pod manifests (metadata and spec; apiVersion and kind optional)
//!   web: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, resources: {requests: {cpu: 500m, memory: 1Gi}}}]}}
//! pods:                 # count pods named web-0, web-1, … arriving every `every` seconds
//! - {name: web, template: web, arrival: 0, duration: 300, count: 3, every: 10, job: frontend}
//! dagJobs:
//! - name: etl
//!   arrival: 100
//!   tasks:
//!   - {name: extract, template: web, instances: 4, duration: 60}
//!   - {name: load, template: web, instances: 2, duration: 30, after: [extract]}
//! nodeEvents:
//! - {time: 3600, fail: node-3}
//! - {time: 7200, remove: node-4}
//! - {time: 9000, add: {name: new-1, cpu: 8, memory: 32Gi}}
//! ```
//! Times are seconds from the start of the workload. At equal times, node events come first, then pods,
//! then DAG jobs, each in file order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use petgraph::graphmap::DiGraphMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use scheduler_core::PodDef;

use crate::cluster_file::{object, yaml_error, yaml_options};
use crate::compact::{API_VERSION, CompactNode};
use crate::error::TraceError;
use crate::kube::{pod_def, pod_manifest};
use crate::priority::{PriorityClasses, priority_class_def};
use crate::shape::check_quantity;
use crate::workload::{
    DagJob, DagTask, MAX_MICROS, MICROS_PER_SECOND, Micros, NodeEvent, PodArrival, WorkloadItem, WorkloadStream, format_seconds,
};
use crate::yaml_writer::Yaml;

/// The `kind` of a workload file.
pub const KIND: &str = "Workload";

/// The most pods a YAML workload may expand to (it is held in memory); larger workloads belong in CSV.
pub const MAX_YAML_PODS: usize = 10_000_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WorkloadFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    priority_classes: Vec<serde_json::Value>,
    #[serde(default)]
    templates: BTreeMap<String, Template>,
    #[serde(default)]
    pods: Vec<PodEntry>,
    #[serde(default)]
    dag_jobs: Vec<DagJobEntry>,
    #[serde(default)]
    node_events: Vec<NodeEventEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Template {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: serde_json::Value,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PodEntry {
    name: Spanned<String>,
    template: Spanned<String>,
    arrival: Spanned<f64>,
    #[serde(default)]
    duration: Option<Spanned<f64>>,
    #[serde(default)]
    count: Option<Spanned<u32>>,
    #[serde(default)]
    every: Option<Spanned<f64>>,
    #[serde(default)]
    job: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DagJobEntry {
    name: Spanned<String>,
    arrival: Spanned<f64>,
    tasks: Vec<TaskEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TaskEntry {
    name: Spanned<String>,
    template: Spanned<String>,
    #[serde(default)]
    instances: Option<Spanned<u32>>,
    #[serde(default)]
    duration: Option<Spanned<f64>>,
    #[serde(default)]
    after: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NodeEventEntry {
    time: Spanned<f64>,
    #[serde(default)]
    fail: Option<String>,
    #[serde(default)]
    remove: Option<String>,
    #[serde(default)]
    add: Option<CompactNode>,
}

/// `line L column C` of a spanned value.
fn at<T>(value: &Spanned<T>) -> String {
    format!("line {} column {}", value.referenced.line(), value.referenced.column())
}

/// Reads a YAML workload file.
pub fn read(path: &Path) -> Result<WorkloadStream, TraceError> {
    let text = std::fs::read_to_string(path).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
    Ok(WorkloadStream::from_items(parse(&text, path)?))
}

/// Parses a YAML workload's text into items sorted by time; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<WorkloadItem>, TraceError> {
    let file: WorkloadFile = serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| yaml_error(path, &e))?;
    if file.api_version != API_VERSION {
        return Err(TraceError::new(path, "apiVersion", format!("expected {API_VERSION:?}, got {:?}", file.api_version)));
    }
    if file.kind != KIND {
        return Err(TraceError::new(path, "kind", format!("expected {KIND:?}, got {:?}", file.kind)));
    }
    let mut classes = PriorityClasses::default();
    for (idx, value) in file.priority_classes.iter().enumerate() {
        let field = format!("priorityClasses[{idx}]");
        let pc: k8s_openapi::api::scheduling::v1::PriorityClass = object(value.clone(), &field, path)?;
        priority_class_def(&pc)
            .and_then(|def| classes.add(def))
            .map_err(|(f, message)| TraceError::new(path, format!("{field}.{f}"), message))?;
    }
    let mut templates: HashMap<&str, Arc<PodDef>> = HashMap::new();
    for (name, template) in &file.templates {
        templates.insert(name, Arc::new(template_def(name, template, &classes, path)?));
    }
    let template_names = || {
        if file.templates.is_empty() {
            "no templates are defined".to_string()
        } else {
            format!("templates are {}", file.templates.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
        }
    };
    let find_template = |reference: &Spanned<String>, field: &str| -> Result<Arc<PodDef>, TraceError> {
        templates.get(reference.value.as_str()).cloned().ok_or_else(|| {
            TraceError::new(path, at(reference), format!("unknown template {:?} in {field}: {}", reference.value, template_names()))
        })
    };
    let seconds = |value: &Spanned<f64>, field: &str| -> Result<Micros, TraceError> {
        seconds_to_micros(value.value).ok_or_else(|| {
            TraceError::new(
                path,
                at(value),
                format!("{field}: expected seconds, at least 0 and at most {}, got {}", MAX_MICROS / MICROS_PER_SECOND, value.value),
            )
        })
    };

    let mut node_items = Vec::new();
    for (e_idx, event) in file.node_events.iter().enumerate() {
        let field = format!("nodeEvents[{e_idx}]");
        let time = seconds(&event.time, &format!("{field}.time"))?;
        let item = match (&event.fail, &event.remove, &event.add) {
            (Some(name), None, None) => NodeEvent::Fail { time, name: name.clone() },
            (None, Some(name), None) => NodeEvent::Remove { time, name: name.clone() },
            (None, None, Some(node)) => {
                let node = node.node_def(&format!("{field}.add")).map_err(|(field, message)| TraceError::new(path, field, message))?;
                NodeEvent::Add { time, node }
            }
            _ => return Err(TraceError::new(path, at(&event.time), format!("{field}: expected exactly one of add, remove and fail"))),
        };
        node_items.push(WorkloadItem::Node(item));
    }

    let mut pod_names: HashSet<String> = HashSet::new();
    let mut pod_items = Vec::new();
    for (p_idx, entry) in file.pods.iter().enumerate() {
        let field = format!("pods[{p_idx}]");
        let spec = find_template(&entry.template, &format!("{field}.template"))?;
        let arrival = seconds(&entry.arrival, &format!("{field}.arrival"))?;
        let duration = entry.duration.as_ref().map(|d| seconds(d, &format!("{field}.duration"))).transpose()?;
        let every = entry.every.as_ref().map(|e| seconds(e, &format!("{field}.every"))).transpose()?.unwrap_or(0);
        let count = entry.count.as_ref().map_or(1, |c| c.value);
        if count == 0 {
            let location = entry.count.as_ref().map_or_else(|| at(&entry.name), at);
            return Err(TraceError::new(path, location, format!("{field}.count: expected at least 1")));
        }
        if pod_items.len() + count as usize > MAX_YAML_PODS {
            let location = entry.count.as_ref().map_or_else(|| at(&entry.name), at);
            return Err(TraceError::new(
                path,
                location,
                format!("{field}.count: more than {MAX_YAML_PODS} pods in a YAML workload: use the native CSV format"),
            ));
        }
        let job: Option<Arc<str>> = entry.job.as_deref().map(Arc::from);
        for idx in 0..count {
            let name = if count == 1 { entry.name.value.clone() } else { format!("{}-{idx}", entry.name.value) };
            let time = every
                .checked_mul(Micros::from(idx))
                .and_then(|offset| arrival.checked_add(offset))
                .filter(|t| *t <= MAX_MICROS)
                .ok_or_else(|| {
                    TraceError::new(
                        path,
                        at(&entry.arrival),
                        format!("{field}: the last pod arrives after {} seconds", MAX_MICROS / MICROS_PER_SECOND),
                    )
                })?;
            if name.is_empty() {
                return Err(TraceError::new(path, at(&entry.name), format!("{field}.name: Required value")));
            }
            if !pod_names.insert(name.clone()) {
                return Err(TraceError::new(path, at(&entry.name), format!("{field}.name: pod name {name:?} is already used")));
            }
            pod_items.push(WorkloadItem::Pod(PodArrival { time, name, spec: spec.clone(), duration, job: job.clone() }));
        }
    }

    let mut job_names: HashSet<&str> = HashSet::new();
    let mut dag_items = Vec::new();
    for (j_idx, entry) in file.dag_jobs.iter().enumerate() {
        let field = format!("dagJobs[{j_idx}]");
        let job_name = entry.name.value.as_str();
        if job_name.is_empty() {
            return Err(TraceError::new(path, at(&entry.name), format!("{field}.name: Required value")));
        }
        if !job_names.insert(job_name) {
            return Err(TraceError::new(path, at(&entry.name), format!("{field}.name: job name {job_name:?} is already used")));
        }
        let time = seconds(&entry.arrival, &format!("{field}.arrival"))?;
        let mut task_idx_by_name: HashMap<&str, usize> = HashMap::new();
        for (t_idx, task) in entry.tasks.iter().enumerate() {
            if task_idx_by_name.insert(task.name.value.as_str(), t_idx).is_some() {
                return Err(TraceError::new(
                    path,
                    at(&task.name),
                    format!("{field}.tasks[{t_idx}].name: job {job_name:?} has task {:?} twice", task.name.value),
                ));
            }
        }
        let mut graph: DiGraphMap<usize, ()> = DiGraphMap::new();
        let mut tasks = Vec::with_capacity(entry.tasks.len());
        for (t_idx, task) in entry.tasks.iter().enumerate() {
            let task_field = format!("{field}.tasks[{t_idx}]");
            graph.add_node(t_idx);
            let mut parents = Vec::with_capacity(task.after.len());
            for (a_idx, parent) in task.after.iter().enumerate() {
                let Some(parent_idx) = task_idx_by_name.get(parent.value.as_str()) else {
                    let known: Vec<&str> = entry.tasks.iter().map(|t| t.name.value.as_str()).collect();
                    return Err(TraceError::new(
                        path,
                        at(parent),
                        format!(
                            "{task_field}.after[{a_idx}]: job {job_name:?} has no task {:?}; its tasks are {}",
                            parent.value,
                            known.join(", ")
                        ),
                    ));
                };
                if !parents.contains(parent_idx) {
                    parents.push(*parent_idx);
                    graph.add_edge(*parent_idx, t_idx, ());
                }
            }
            let instances = task.instances.as_ref().map_or(1, |i| i.value);
            if instances == 0 {
                let location = task.instances.as_ref().map_or_else(|| at(&task.name), at);
                return Err(TraceError::new(path, location, format!("{task_field}.instances: expected at least 1")));
            }
            tasks.push(DagTask {
                name: task.name.value.clone(),
                instances,
                spec: find_template(&task.template, &format!("{task_field}.template"))?,
                duration: task.duration.as_ref().map(|d| seconds(d, &format!("{task_field}.duration"))).transpose()?,
                parents,
            });
        }
        if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
            let task_name = entry.tasks.get(cycle.node_id()).map_or("", |t| t.name.value.as_str());
            return Err(TraceError::new(
                path,
                at(&entry.name),
                format!("{field}: the tasks of job {job_name:?} form a cycle through task {task_name:?}"),
            ));
        }
        dag_items.push(WorkloadItem::Dag(DagJob { time, name: job_name.to_string(), tasks }));
    }

    let mut items = node_items;
    items.extend(pod_items);
    items.extend(dag_items);
    items.sort_by_key(WorkloadItem::time);
    Ok(items)
}

/// Seconds as a YAML number → microseconds, rounded to the nearest.
fn seconds_to_micros(seconds: f64) -> Option<Micros> {
    let micros = (seconds * MICROS_PER_SECOND as f64).round();
    (seconds.is_finite() && micros >= 0.0 && micros <= MAX_MICROS as f64).then_some(micros as Micros)
}

/// A template's pod: the manifest converted as a pod file is, its quantities checked; its name is
/// `metadata.name`, or the template's name.
fn template_def(name: &str, template: &Template, classes: &PriorityClasses, path: &Path) -> Result<PodDef, TraceError> {
    let field = format!("templates.{name}");
    if let Some(kind) = &template.kind
        && kind != "Pod"
    {
        return Err(TraceError::new(path, format!("{field}.kind"), format!("expected \"Pod\", got {kind:?}")));
    }
    if let Some(api_version) = &template.api_version
        && api_version != "v1"
    {
        return Err(TraceError::new(path, format!("{field}.apiVersion"), format!("expected \"v1\", got {api_version:?}")));
    }
    let mut metadata = match &template.metadata {
        serde_json::Value::Null => serde_json::Map::new(),
        serde_json::Value::Object(map) => map.clone(),
        _ => return Err(TraceError::new(path, format!("{field}.metadata"), "expected an object")),
    };
    metadata.entry("name").or_insert_with(|| serde_json::Value::String(name.to_string()));
    let manifest = serde_json::json!({"metadata": metadata, "spec": template.spec});
    let pod: k8s_openapi::api::core::v1::Pod = object(manifest, &field, path)?;
    let (mut def, facts) = pod_def(&pod).map_err(|(f, message)| TraceError::new(path, format!("{field}.{f}"), message))?;
    facts.admit(&mut def, classes).map_err(|(f, message)| TraceError::new(path, format!("{field}.{f}"), message))?;
    let check_all = |pairs: &[(String, String)], list_field: String| -> Result<(), TraceError> {
        for (resource, quantity) in pairs {
            check_quantity(quantity, resource == "cpu").map_err(|m| TraceError::new(path, format!("{list_field}.{resource}"), m))?;
        }
        Ok(())
    };
    for (list, list_name) in [(&def.containers, "containers"), (&def.init_containers, "initContainers")] {
        for (c_idx, container) in list.iter().enumerate() {
            check_all(&container.requests, format!("{field}.spec.{list_name}[{c_idx}].resources.requests"))?;
            check_all(&container.limits, format!("{field}.spec.{list_name}[{c_idx}].resources.limits"))?;
        }
    }
    check_all(&def.overhead, format!("{field}.spec.overhead"))?;
    check_all(&def.pod_requests, format!("{field}.spec.resources.requests"))?;
    check_all(&def.pod_limits, format!("{field}.spec.resources.limits"))?;
    Ok(def)
}

/// Writes items as a YAML workload, one template per distinct pod spec. The reader gives them back in time
/// order, node events before pods before DAG jobs at equal times.
pub fn write_yaml(items: impl IntoIterator<Item = WorkloadItem>, path: &Path) -> Result<(), TraceError> {
    let mut templates = Templates::default();
    let mut pods = Vec::new();
    let mut dag_jobs = Vec::new();
    let mut node_events = Vec::new();
    for item in items {
        match item {
            WorkloadItem::Pod(pod) => {
                let mut entry = vec![
                    ("name".to_string(), Yaml::str(&pod.name)),
                    ("template".to_string(), Yaml::str(templates.name_of(&pod.spec))),
                    ("arrival".to_string(), Yaml::Plain(format_seconds(pod.time))),
                ];
                if let Some(duration) = pod.duration {
                    entry.push(("duration".to_string(), Yaml::Plain(format_seconds(duration))));
                }
                if let Some(job) = &pod.job {
                    entry.push(("job".to_string(), Yaml::str(job)));
                }
                pods.push(Yaml::Map(entry));
            }
            WorkloadItem::Dag(job) => {
                let mut seen = HashSet::new();
                if let Some(task) = job.tasks.iter().find(|t| !seen.insert(t.name.as_str())) {
                    return Err(TraceError::new(path, format!("job {:?}", job.name), format!("task name {:?} is used twice", task.name)));
                }
                let mut tasks = Vec::with_capacity(job.tasks.len());
                for task in &job.tasks {
                    let mut entry = vec![
                        ("name".to_string(), Yaml::str(&task.name)),
                        ("template".to_string(), Yaml::str(templates.name_of(&task.spec))),
                        ("instances".to_string(), Yaml::Plain(task.instances.to_string())),
                    ];
                    if let Some(duration) = task.duration {
                        entry.push(("duration".to_string(), Yaml::Plain(format_seconds(duration))));
                    }
                    if !task.parents.is_empty() {
                        let mut after = Vec::with_capacity(task.parents.len());
                        for parent in &task.parents {
                            let parent_task = job.tasks.get(*parent).ok_or_else(|| {
                                TraceError::new(
                                    path,
                                    format!("job {:?}", job.name),
                                    format!("task {:?} has parent index {parent}, out of range", task.name),
                                )
                            })?;
                            after.push(Yaml::str(&parent_task.name));
                        }
                        entry.push(("after".to_string(), Yaml::Seq(after)));
                    }
                    tasks.push(Yaml::Map(entry));
                }
                dag_jobs.push(Yaml::Map(vec![
                    ("name".to_string(), Yaml::str(&job.name)),
                    ("arrival".to_string(), Yaml::Plain(format_seconds(job.time))),
                    ("tasks".to_string(), Yaml::Seq(tasks)),
                ]));
            }
            WorkloadItem::Node(event) => {
                let time = ("time".to_string(), Yaml::Plain(format_seconds(event.time())));
                let entry = match &event {
                    NodeEvent::Fail { name, .. } => vec![time, ("fail".to_string(), Yaml::str(name))],
                    NodeEvent::Remove { name, .. } => vec![time, ("remove".to_string(), Yaml::str(name))],
                    NodeEvent::Add { node, .. } => {
                        let compact = CompactNode::from_node_def(node).map_err(|message| {
                            TraceError::new(
                                path,
                                format!("node {:?}", node.name),
                                format!("cannot be written in the compact format: {message}"),
                            )
                        })?;
                        vec![time, ("add".to_string(), compact.to_yaml(true))]
                    }
                };
                node_events.push(Yaml::Map(entry));
            }
        }
    }
    let mut document = vec![("apiVersion".to_string(), Yaml::str(API_VERSION)), ("kind".to_string(), Yaml::str(KIND))];
    if !templates.entries.is_empty() {
        let mut entries = Vec::with_capacity(templates.entries.len());
        for (name, def) in &templates.entries {
            entries.push((name.clone(), template_yaml(name, def, path)?));
        }
        document.push(("templates".to_string(), Yaml::Map(entries)));
    }
    for (key, list) in [("pods", pods), ("dagJobs", dag_jobs), ("nodeEvents", node_events)] {
        if !list.is_empty() {
            document.push((key.to_string(), Yaml::Seq(list)));
        }
    }
    std::fs::write(path, Yaml::Map(document).to_document()).map_err(|e| TraceError::new(path, "file", format!("cannot write: {e}")))
}

/// The templates a writer has named so far: one per distinct spec.
#[derive(Default)]
struct Templates {
    entries: Vec<(String, Arc<PodDef>)>,
    /// Specs seen, by address; the `Arc` is kept so that the address is not reused by another spec.
    idx_by_pointer: HashMap<*const PodDef, (usize, Arc<PodDef>)>,
    names: HashSet<String>,
}

impl Templates {
    /// The template of `spec`: its name when it has one, else `template-<n>`.
    fn name_of(&mut self, spec: &Arc<PodDef>) -> &str {
        let idx = match self.idx_by_pointer.get(&Arc::as_ptr(spec)) {
            Some((idx, _)) => *idx,
            None => {
                let idx = match self.entries.iter().position(|(_, def)| **def == **spec) {
                    Some(idx) => idx,
                    None => {
                        let mut name = spec.name.clone();
                        let mut n = self.entries.len();
                        while name.is_empty() || self.names.contains(&name) {
                            name = format!("template-{n}");
                            n += 1;
                        }
                        self.names.insert(name.clone());
                        self.entries.push((name, spec.clone()));
                        self.entries.len() - 1
                    }
                };
                self.idx_by_pointer.insert(Arc::as_ptr(spec), (idx, spec.clone()));
                idx
            }
        };
        &self.entries[idx].0
    }
}

/// A template as `{metadata, spec}`, without `metadata.name` when it is the template's name.
fn template_yaml(name: &str, def: &PodDef, path: &Path) -> Result<Yaml, TraceError> {
    let manifest = serde_json::to_value(pod_manifest(def))
        .map_err(|e| TraceError::new(path, format!("templates.{name}"), format!("cannot write the pod manifest: {e}")))?;
    let mut entries = Vec::new();
    if let Some(serde_json::Value::Object(mut metadata)) = manifest.get("metadata").cloned() {
        if metadata.get("name").and_then(serde_json::Value::as_str) == Some(name) {
            metadata.remove("name");
        }
        if !metadata.is_empty() {
            entries.push(("metadata".to_string(), Yaml::from_json(&serde_json::Value::Object(metadata))));
        }
    }
    if let Some(spec) = manifest.get("spec") {
        entries.push(("spec".to_string(), Yaml::from_json(spec)));
    }
    Ok(Yaml::Map(entries))
}
