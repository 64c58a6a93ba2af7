//! Workload formats, how to read them, and opening a workload file whatever its format.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use crate::error::{InvalidValue, TraceError};
use crate::workload::WorkloadStream;

/// A workload file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadFormat {
    /// The native CSV (`#simsched workload v1`): one pod per row.
    Native,
    /// The YAML workload (`kind: Workload`): pod templates, pods, DAG jobs, node events.
    Yaml,
    /// Alibaba GPU cluster trace v2023 (`openb_pod_list_*.csv`).
    Openb,
    /// Alibaba cluster trace v2018, `batch_task` table: DAG jobs.
    Alibaba2018,
}

impl WorkloadFormat {
    /// Every format, in the order help texts list them.
    pub const ALL: [WorkloadFormat; 4] = [WorkloadFormat::Native, WorkloadFormat::Yaml, WorkloadFormat::Openb, WorkloadFormat::Alibaba2018];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadFormat::Native => "native",
            WorkloadFormat::Yaml => "yaml",
            WorkloadFormat::Openb => "openb",
            WorkloadFormat::Alibaba2018 => "alibaba2018",
        }
    }
}

impl fmt::Display for WorkloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WorkloadFormat {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkloadFormat::ALL
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| InvalidValue(format!("unknown workload format {s:?}: expected {}", format_names())))
    }
}

fn format_names() -> String {
    WorkloadFormat::ALL.map(WorkloadFormat::name).join(", ")
}

/// How to read a workload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip bad rows and count them ([`WorkloadStream::skipped_rows`]) instead of failing on the first.
    pub skip_bad_rows: bool,
    /// Unit conversions of the Alibaba 2018 importer.
    pub alibaba2018: Alibaba2018Options,
}

/// Unit conversions of the Alibaba 2018 importer: the trace gives CPU and memory per instance in percent
/// units (`plan_cpu` 100 = one core; `plan_mem` normalised to 0–100 of a machine's memory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alibaba2018Options {
    /// Millicores per 100 units of `plan_cpu`; default 1000 (100 = one core, as the trace documents).
    pub milli_cpu_per_100: i64,
    /// Bytes per 100 units of `plan_mem`; default 384 GiB. The trace normalises memory to the largest
    /// machine and does not publish its size: 100 is assumed to be a whole machine of 384 GiB, the memory
    /// of the 96-core machines of that generation (and of `samples/alibaba-2018/cluster.yaml`).
    pub memory_bytes_per_100: i64,
}

impl Default for Alibaba2018Options {
    fn default() -> Self {
        Alibaba2018Options { milli_cpu_per_100: 1000, memory_bytes_per_100: 384 << 30 }
    }
}

/// Opens a workload file. With `format` `None`, the format is detected: `.yaml`/`.yml` files are YAML;
/// CSV files are recognised by their first line (the native marker, the openb pod-list header, the
/// Alibaba 2018 `batch_task` header, or, for the official headerless `batch_task.csv`, a first row of its
/// shape). The Alibaba 2018 importer reads the whole file before returning; its report is in
/// [`WorkloadStream::notes`].
pub fn open_workload(path: &Path, format: Option<WorkloadFormat>, opts: &ReadOptions) -> Result<WorkloadStream, TraceError> {
    let format = match format {
        Some(format) => format,
        None => detect(path)?,
    };
    match format {
        WorkloadFormat::Native => crate::native::read(path, opts),
        WorkloadFormat::Yaml => crate::workload_yaml::read(path),
        WorkloadFormat::Openb => crate::openb::read_pods(path, opts),
        WorkloadFormat::Alibaba2018 => {
            let (stream, report) = crate::alibaba2018::read(path, opts)?;
            Ok(stream.with_notes(report.notes()))
        }
    }
}

/// Detects the format of a workload file from its extension or its first line.
pub fn detect(path: &Path) -> Result<WorkloadFormat, TraceError> {
    if let Some(extension) = path.extension().and_then(|e| e.to_str())
        && matches!(extension.to_ascii_lowercase().as_str(), "yaml" | "yml")
    {
        return Ok(WorkloadFormat::Yaml);
    }
    let file = File::open(path).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
    let mut first_line = Vec::new();
    // At most 64 KiB: a file without newlines is not read whole.
    BufReader::new(file.take(1 << 16))
        .read_until(b'\n', &mut first_line)
        .map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
    let first_line = String::from_utf8_lossy(&first_line);
    let first_line = first_line.trim_start_matches('\u{feff}').trim_end_matches(['\n', '\r']);
    if let Some(format) = format_of_first_line(first_line) {
        return Ok(format);
    }
    if crate::openb::is_node_list_header(first_line) {
        return Err(TraceError::new(path, "line 1", "this is an openb node list: a cluster file, not a workload"));
    }
    Err(TraceError::new(
        path,
        "line 1",
        format!(
            "cannot tell the workload format: expected a .yaml/.yml file, the line {:?}, an openb pod-list header, or an Alibaba 2018 batch_task header or row; or name the format ({})",
            crate::native::MARKER,
            format_names()
        ),
    ))
}

/// The CSV workload format that a file's first line (without its line break) shows: the native marker, an
/// openb pod-list header, an Alibaba 2018 `batch_task` header, or a headerless `batch_task` row.
pub(crate) fn format_of_first_line(first_line: &str) -> Option<WorkloadFormat> {
    let first_line = first_line.trim_start_matches('\u{feff}');
    if first_line.starts_with("#simsched workload") {
        return Some(WorkloadFormat::Native);
    }
    let columns: Vec<&str> = first_line.split(',').map(str::trim).collect();
    let has_all = |names: &[&str]| names.iter().all(|name| columns.contains(name));
    if has_all(&crate::openb::POD_COLUMNS) {
        return Some(WorkloadFormat::Openb);
    }
    if has_all(&crate::alibaba2018::COLUMNS) || crate::alibaba2018::is_headerless_row(first_line) {
        return Some(WorkloadFormat::Alibaba2018);
    }
    None
}
