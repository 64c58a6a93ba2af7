//! Alibaba cluster trace v2018, `batch_task` table: jobs whose tasks form DAGs, imported as DAG jobs.
//!
//! Columns (by name when the file has a header, else in the official order): `task_name, instance_num,
//! job_name, task_type, status, start_time, end_time, plan_cpu, plan_mem`. A task name encodes the DAG:
//! a letter prefix, the task number, then the numbers of its parents, separated by `_` (`M1`, `R2_1`,
//! `J8_6_7`); a name starting with `task_` is an independent task. The trace cuts task names at 50
//! characters: in a name of exactly 50 characters the last `_`-separated piece may be cut, so it is dropped
//! with the dependencies that followed it (the report counts these names).
//!
//! Per task: `instance_num` pods, each running `end_time − start_time` seconds and requesting
//! `plan_cpu × milli_cpu_per_100 / 100` millicores and `plan_mem × memory_bytes_per_100 / 100` bytes
//! (computed exactly from at most 19 significant digits, rounded up; see [`Alibaba2018Options`]). A job is
//! submitted at the earliest `start_time` of its tasks without parents.
//!
//! Two kinds of jobs cannot be replayed; they are left out and counted in the [`Alibaba2018Report`], which
//! is not an error: a job that did not complete in the trace (a task not `Terminated`, a `start_time` of 0,
//! an `end_time` before its `start_time`, or no `instance_num`), and a job whose tasks do not form a DAG (a
//! parent the job does not have, a task twice, or a cycle). A malformed row (a wrong number of fields, an
//! unparsable cell) is an error naming the line and column, or, with `skip_bad_rows`, leaves its job out
//! with every row of the job counted as skipped.
//!
//! The official `batch_task.csv` has no header; [`is_headerless_row`] recognises its first row, so that
//! the format can be detected.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::ByteRecord;
use petgraph::graphmap::DiGraphMap;
use scheduler_core::PodDef;

use crate::csv_input::{Header, ReadFailure, RowError, cell, read_failure};
use crate::error::TraceError;
use crate::format::{Alibaba2018Options, ReadOptions};
use crate::shape::{check_quantity, single_container_pod};
use crate::workload::{DagJob, DagTask, Micros, WorkloadItem, WorkloadStream, parse_seconds};

/// The columns of the `batch_task` table, in the official order.
pub const COLUMNS: [&str; 9] =
    ["task_name", "instance_num", "job_name", "task_type", "status", "start_time", "end_time", "plan_cpu", "plan_mem"];

/// The length at which the trace cuts task names.
pub const TASK_NAME_LIMIT: usize = 50;

/// What an import kept and left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alibaba2018Report {
    /// Jobs imported.
    pub jobs: usize,
    /// Tasks of the imported jobs.
    pub tasks: usize,
    /// Pods of the imported jobs (the sum of their tasks' instances).
    pub instances: u64,
    /// Jobs left out because they did not complete in the trace.
    pub incomplete_jobs: usize,
    /// Tasks (rows) of those jobs.
    pub incomplete_tasks: usize,
    /// Jobs left out because their tasks do not form a DAG: a parent the job does not have, a task twice, or
    /// a cycle. Such a job is not replayable, like an incomplete one; it is not an error.
    pub invalid_dag_jobs: usize,
    /// Tasks (rows) of those jobs.
    pub invalid_dag_tasks: usize,
    /// The first of those jobs' problems, located (`line 3 column 1 (task_name): task "R2_3" of job "j_7"
    /// depends on task 3, which the job does not have`).
    pub first_invalid_dag: Option<String>,
    /// Jobs left out because a row of theirs is malformed (only with `skip_bad_rows`; their rows are counted
    /// in the stream's skipped rows).
    pub malformed_jobs: usize,
    /// Task names of imported jobs that the trace cut at 50 characters.
    pub truncated_task_names: usize,
}

impl Alibaba2018Report {
    /// The report as human-readable lines.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = vec![format!("imported {} DAG job(s) with {} task(s) and {} pod(s)", self.jobs, self.tasks, self.instances)];
        if self.incomplete_jobs > 0 {
            notes.push(format!(
                "left out {} job(s) ({} task(s)) that did not complete in the trace: a task not Terminated, not started, ending before it started, or without an instance count",
                self.incomplete_jobs, self.incomplete_tasks
            ));
        }
        if self.invalid_dag_jobs > 0 {
            notes.push(format!(
                "left out {} job(s) ({} task(s)) whose tasks do not form a DAG: a parent the job does not have, a task twice, or a cycle; the first: {}",
                self.invalid_dag_jobs,
                self.invalid_dag_tasks,
                self.first_invalid_dag.as_deref().unwrap_or_default()
            ));
        }
        if self.malformed_jobs > 0 {
            notes.push(format!("skipped {} job(s) with a malformed row", self.malformed_jobs));
        }
        if self.truncated_task_names > 0 {
            notes.push(format!(
                "{} task name(s) were cut at {TASK_NAME_LIMIT} characters by the trace: the dependencies after the cut are lost",
                self.truncated_task_names
            ));
        }
        notes
    }
}

/// Reads a `batch_task` file whole and returns its completed jobs as DAG jobs, sorted by submission time
/// (ties by job name), with what was left out.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<(WorkloadStream, Alibaba2018Report), TraceError> {
    let options = &opts.alibaba2018;
    if options.milli_cpu_per_100 <= 0 || options.memory_bytes_per_100 <= 0 {
        return Err(TraceError::new(path, "options", "milli_cpu_per_100 and memory_bytes_per_100 must be positive"));
    }
    let file = File::open(path).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(BufReader::with_capacity(1 << 16, file));
    let header = Header::read_from(&mut reader, 0, path)?;
    let (columns, first_row_is_data) = if header.find("task_name").is_some() {
        let required = |name: &str| header.require(name, &COLUMNS, path);
        let columns = Columns {
            task_name: required("task_name")?,
            instance_num: required("instance_num")?,
            job_name: required("job_name")?,
            status: required("status")?,
            start_time: required("start_time")?,
            end_time: required("end_time")?,
            plan_cpu: required("plan_cpu")?,
            plan_mem: required("plan_mem")?,
        };
        (columns, false)
    } else {
        (Columns { task_name: 0, instance_num: 1, job_name: 2, status: 4, start_time: 5, end_time: 6, plan_cpu: 7, plan_mem: 8 }, true)
    };
    let skipped = Arc::new(AtomicU64::new(0));
    let mut jobs: Vec<JobRows> = Vec::new();
    let mut job_idx_by_name: HashMap<String, usize> = HashMap::new();
    let mut record = ByteRecord::new();
    if first_row_is_data {
        record = ByteRecord::from(header.names.clone());
        let mut position = csv::Position::new();
        position.set_line(1);
        record.set_position(Some(position));
    }
    let mut have_record = first_row_is_data;
    loop {
        if !have_record {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let failure = read_failure(e, path, 0);
                    match failure {
                        ReadFailure::Row(_) if opts.skip_bad_rows => {
                            skipped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        failure => return Err(failure.into_trace_error(path)),
                    }
                }
            }
        }
        have_record = false;
        let line = record.position().map_or(0, |p| p.line());
        let job_name = match cell(&record, columns.job_name, line, "job_name") {
            Ok(name) => name,
            Err(_) if opts.skip_bad_rows => {
                skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(row_error) => return Err(row_error.into_trace_error(path)),
        };
        let job_idx = match job_idx_by_name.get(job_name) {
            Some(idx) => *idx,
            None => {
                job_idx_by_name.insert(job_name.to_string(), jobs.len());
                jobs.push(JobRows { name: job_name.to_string(), rows: Vec::new(), n_rows: 0, malformed: false });
                jobs.len() - 1
            }
        };
        let job = &mut jobs[job_idx];
        job.n_rows += 1;
        match task_row(&record, line, &columns) {
            Ok(row) => job.rows.push(row),
            Err(_) if opts.skip_bad_rows => job.malformed = true,
            Err(row_error) => return Err(row_error.into_trace_error(path)),
        }
    }
    let mut report = Alibaba2018Report::default();
    let mut shapes: HashMap<(i64, i64), Arc<PodDef>> = HashMap::new();
    let mut dag_jobs = Vec::new();
    for job in jobs {
        if job.malformed {
            report.malformed_jobs += 1;
            skipped.fetch_add(job.n_rows, Ordering::Relaxed);
            continue;
        }
        if job.rows.iter().any(|row| !row.completed) {
            report.incomplete_jobs += 1;
            report.incomplete_tasks += job.rows.len();
            continue;
        }
        match dag_job(&job, &columns, options, &mut shapes) {
            Ok(dag) => {
                report.jobs += 1;
                report.tasks += dag.tasks.len();
                report.instances += dag.tasks.iter().map(|t| u64::from(t.instances)).sum::<u64>();
                report.truncated_task_names += job.rows.iter().filter(|row| row.truncated).count();
                dag_jobs.push(dag);
            }
            Err(JobError::NotADag(row_error)) => {
                report.invalid_dag_jobs += 1;
                report.invalid_dag_tasks += job.rows.len();
                report.first_invalid_dag.get_or_insert_with(|| format!("{}: {}", row_error.location, row_error.message));
            }
            Err(JobError::Malformed(_)) if opts.skip_bad_rows => {
                report.malformed_jobs += 1;
                skipped.fetch_add(job.n_rows, Ordering::Relaxed);
            }
            Err(JobError::Malformed(row_error)) => return Err(row_error.into_trace_error(path)),
        }
    }
    dag_jobs.sort_by(|a, b| (a.time, &a.name).cmp(&(b.time, &b.name)));
    let items: Vec<WorkloadItem> = dag_jobs.into_iter().map(WorkloadItem::Dag).collect();
    let stream = WorkloadStream::new(Box::new(items.into_iter().map(Ok)), skipped);
    Ok((stream, report))
}

/// Whether a CSV line (without its line break) is a row of a headerless `batch_task` file: 9 fields, a task
/// name, a job name `j_<digits>`, whole-second start and end times, and numbers (or nothing) for
/// `instance_num`, `plan_cpu` and `plan_mem`. A header line or a native marker never passes.
pub fn is_headerless_row(line: &str) -> bool {
    let fields: Vec<&str> = line.split(',').collect();
    let [task, instance_num, job, _task_type, _status, start, end, plan_cpu, plan_mem] = fields[..] else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number_or_empty = |s: &str| s.is_empty() || !matches!(Decimal::parse(s), Err(DecimalError::Syntax));
    !task.is_empty()
        && job.strip_prefix("j_").is_some_and(digits)
        && digits(start)
        && digits(end)
        && number_or_empty(instance_num)
        && number_or_empty(plan_cpu)
        && number_or_empty(plan_mem)
}

#[derive(Clone, Copy, Debug)]
struct Columns {
    task_name: usize,
    instance_num: usize,
    job_name: usize,
    status: usize,
    start_time: usize,
    end_time: usize,
    plan_cpu: usize,
    plan_mem: usize,
}

struct JobRows {
    name: String,
    rows: Vec<TaskRow>,
    n_rows: u64,
    malformed: bool,
}

/// One row, its syntax checked.
struct TaskRow {
    line: u64,
    name: String,
    /// `None` for an independent `task_…` task.
    number: Option<u32>,
    parents: Vec<u32>,
    truncated: bool,
    /// Whether the task completed in the trace: `Terminated`, started, ended after it started, with an
    /// instance count.
    completed: bool,
    instances: u32,
    start: Micros,
    end: Micros,
    plan_cpu: Option<Decimal>,
    plan_mem: Option<Decimal>,
}

fn task_row(record: &ByteRecord, line: u64, columns: &Columns) -> Result<TaskRow, RowError> {
    let name = cell(record, columns.task_name, line, "task_name")?;
    let (number, parents, truncated) = match task_name(name) {
        Some(parsed) => parsed,
        None => {
            return Err(RowError::cell(
                line,
                columns.task_name,
                "task_name",
                format!(
                    "expected a task name such as M1, R2_1 or J8_6_7 (a letter, the task number, then the numbers of the tasks it depends on, separated by '_') or task_…, got {name:?}"
                ),
            ));
        }
    };
    let instances_text = cell(record, columns.instance_num, line, "instance_num")?;
    let instances = match instances_text {
        "" => None,
        text => Some(instance_count(text).ok_or_else(|| {
            RowError::cell(
                line,
                columns.instance_num,
                "instance_num",
                format!("expected a whole number of instances, at least 1, such as 4.0, got {text:?}"),
            )
        })?),
    };
    let status = cell(record, columns.status, line, "status")?;
    let time = |idx: usize, column_name: &str| -> Result<Micros, RowError> {
        let text = cell(record, idx, line, column_name)?;
        parse_seconds(text)
            .ok_or_else(|| RowError::cell(line, idx, column_name, format!("expected seconds from the start of the trace, got {text:?}")))
    };
    let start = time(columns.start_time, "start_time")?;
    let end = time(columns.end_time, "end_time")?;
    let decimal = |idx: usize, column_name: &str| -> Result<Option<Decimal>, RowError> {
        match cell(record, idx, line, column_name)? {
            "" => Ok(None),
            text => Decimal::parse(text).map(Some).map_err(|e| {
                let message = match e {
                    DecimalError::Syntax => format!("expected a non-negative number such as 50.0, got {text:?}"),
                    DecimalError::TooPrecise(n) => {
                        format!("too many significant digits: expected at most {MAX_SIGNIFICANT_DIGITS}, got {n} in {text:?}")
                    }
                };
                RowError::cell(line, idx, column_name, message)
            }),
        }
    };
    let plan_cpu = decimal(columns.plan_cpu, "plan_cpu")?;
    let plan_mem = decimal(columns.plan_mem, "plan_mem")?;
    Ok(TaskRow {
        line,
        name: name.to_string(),
        number,
        parents,
        truncated,
        completed: status == "Terminated" && start > 0 && end >= start && instances.is_some(),
        instances: instances.unwrap_or(0),
        start,
        end,
        plan_cpu,
        plan_mem,
    })
}

/// Parses a task name: `(number, parents, truncated)`, with `number` `None` for `task_…` names.
fn task_name(name: &str) -> Option<(Option<u32>, Vec<u32>, bool)> {
    if name.starts_with("task_") {
        return Some((None, Vec::new(), false));
    }
    let digits = name.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    if digits.len() == name.len() {
        return None;
    }
    let mut pieces: Vec<&str> = digits.split('_').collect();
    let truncated = name.len() == TASK_NAME_LIMIT && pieces.len() > 1;
    if truncated {
        pieces.pop();
    }
    let mut numbers = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers.push(piece.parse::<u32>().ok()?);
    }
    let number = *numbers.first()?;
    let mut parents = numbers.split_off(1);
    parents.sort_unstable();
    parents.dedup();
    Some((Some(number), parents, truncated))
}

/// `instance_num` is written as a float (`4.0`): a whole number, at least 1.
fn instance_count(text: &str) -> Option<u32> {
    let whole = match text.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole,
        Some(_) => return None,
        None => text,
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse::<u32>().ok().filter(|n| *n >= 1)
}

/// The most significant digits a `plan_cpu` or `plan_mem` value may have: the digits then fit in 64 bits,
/// so that scaling is exact.
const MAX_SIGNIFICANT_DIGITS: usize = 19;

/// A non-negative decimal number as written (`0.39`, `100.0`, `1e-05`): `mantissa × 10^exponent`, with
/// at most [`MAX_SIGNIFICANT_DIGITS`] digits in the mantissa.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    exponent: i64,
}

/// Why a cell is not a [`Decimal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DecimalError {
    /// Not a non-negative number.
    Syntax,
    /// More significant digits than [`MAX_SIGNIFICANT_DIGITS`] (the count).
    TooPrecise(usize),
}

impl Decimal {
    fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let (number, exponent) = match text.split_once(['e', 'E']) {
            Some((number, exponent)) => (number, exponent.parse::<i32>().map_err(|_| DecimalError::Syntax)?),
            None => (text, 0),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.len() + fraction.len() == 0 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(DecimalError::Syntax);
        }
        // The significant digits: without leading and trailing zeros.
        let digits: Vec<u8> = whole.bytes().chain(fraction.bytes()).collect();
        let Some(first) = digits.iter().position(|b| *b != b'0') else {
            return Ok(Decimal { mantissa: 0, exponent: 0 });
        };
        let last = digits.iter().rposition(|b| *b != b'0').unwrap_or(first);
        let significant = &digits[first..=last];
        if significant.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(DecimalError::TooPrecise(significant.len()));
        }
        let mantissa = significant.iter().fold(0u128, |m, b| m * 10 + u128::from(b - b'0'));
        let trailing_zeros = digits.len() - 1 - last;
        let exponent =
            i64::from(exponent) + i64::try_from(trailing_zeros).unwrap_or(i64::MAX) - i64::try_from(fraction.len()).unwrap_or(i64::MAX);
        Ok(Decimal { mantissa, exponent })
    }

    /// `self × per_100 / 100`, exactly, rounded up (a positive amount however small is at least 1); `None`
    /// when more than an `i64`.
    fn scaled_per_100(self, per_100: i64) -> Option<i64> {
        let per_100 = u128::try_from(per_100).ok()?;
        // Below 10^19 × 2^63 < 2^127: no overflow.
        let product = self.mantissa * per_100;
        let scaled = if self.exponent >= 0 {
            let power = 10u128.checked_pow(u32::try_from(self.exponent).ok()?)?;
            product.checked_mul(power)?.div_ceil(100)
        } else {
            let denominator = u32::try_from(self.exponent.unsigned_abs()).ok().and_then(|k| 10u128.checked_pow(k)?.checked_mul(100));
            match denominator {
                Some(denominator) => product.div_ceil(denominator),
                // A denominator beyond 2^128 is more than the product: a positive amount rounds up to 1.
                None => u128::from(product > 0),
            }
        };
        i64::try_from(scaled).ok()
    }
}

/// Why a job is left out of the import.
enum JobError {
    /// A row is malformed: an error, or, with `skip_bad_rows`, the job is skipped and its rows counted.
    Malformed(RowError),
    /// The tasks do not form a DAG (a parent the job does not have, a task twice, a cycle): the job cannot
    /// be replayed, so it is left out and counted in the report.
    NotADag(RowError),
}

fn dag_job(
    job: &JobRows,
    columns: &Columns,
    options: &Alibaba2018Options,
    shapes: &mut HashMap<(i64, i64), Arc<PodDef>>,
) -> Result<DagJob, JobError> {
    // Tasks by number, then independent tasks by name.
    let mut order: Vec<&TaskRow> = job.rows.iter().collect();
    order.sort_by(|a, b| (a.number.is_none(), a.number, &a.name).cmp(&(b.number.is_none(), b.number, &b.name)));
    // Malformed rows first, so that a job that is both malformed and not a DAG is reported as malformed.
    let specs =
        order.iter().map(|row| task_spec(row, columns, options, shapes)).collect::<Result<Vec<_>, _>>().map_err(JobError::Malformed)?;
    let not_a_dag = |row: &TaskRow, message: String| JobError::NotADag(RowError::cell(row.line, columns.task_name, "task_name", message));
    for pair in order.windows(2) {
        let (previous, row) = (pair[0], pair[1]);
        if (row.number.is_some() && row.number == previous.number)
            || (row.number.is_none() && previous.number.is_none() && row.name == previous.name)
        {
            let later = if row.line > previous.line { (row, previous) } else { (previous, row) };
            return Err(not_a_dag(later.0, format!("job {:?} has this task twice (also on line {})", job.name, later.1.line)));
        }
    }
    let idx_by_number: HashMap<u32, usize> =
        order.iter().enumerate().filter_map(|(idx, row)| row.number.map(|number| (number, idx))).collect();
    let mut graph: DiGraphMap<usize, ()> = DiGraphMap::new();
    let mut tasks = Vec::with_capacity(order.len());
    let mut submit: Option<Micros> = None;
    for ((idx, row), spec) in order.iter().enumerate().zip(specs) {
        graph.add_node(idx);
        let mut parents = Vec::with_capacity(row.parents.len());
        for parent in &row.parents {
            let Some(parent_idx) = idx_by_number.get(parent) else {
                return Err(not_a_dag(
                    row,
                    format!("task {:?} of job {:?} depends on task {parent}, which the job does not have", row.name, job.name),
                ));
            };
            if *parent_idx == idx {
                return Err(not_a_dag(row, format!("task {:?} of job {:?} depends on itself", row.name, job.name)));
            }
            graph.add_edge(*parent_idx, idx, ());
            parents.push(*parent_idx);
        }
        if parents.is_empty() {
            submit = Some(submit.map_or(row.start, |s| s.min(row.start)));
        }
        tasks.push(DagTask { name: row.name.clone(), instances: row.instances, spec, duration: Some(row.end - row.start), parents });
    }
    if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
        let row = order[cycle.node_id()];
        return Err(not_a_dag(row, format!("the tasks of job {:?} form a cycle through task {:?}", job.name, row.name)));
    }
    // Without a cycle some task has no parents: this is a safeguard.
    let Some(time) = submit else {
        return Err(JobError::NotADag(RowError {
            location: format!("job {:?}", job.name),
            message: "no task without parents".to_string(),
        }));
    };
    Ok(DagJob { time, name: job.name.clone(), tasks })
}

/// The pod definition of a task's instances, shared with every task that asks for the same.
fn task_spec(
    row: &TaskRow,
    columns: &Columns,
    options: &Alibaba2018Options,
    shapes: &mut HashMap<(i64, i64), Arc<PodDef>>,
) -> Result<Arc<PodDef>, RowError> {
    let resources = |value: Option<Decimal>, idx: usize, column_name: &str, per_100: i64, what: &str, unit: &str| {
        let value = value.ok_or_else(|| RowError::cell(row.line, idx, column_name, format!("Required value: {what} per instance")))?;
        value.scaled_per_100(per_100).ok_or_else(|| {
            RowError::cell(row.line, idx, column_name, format!("{what} per instance is more than simsched accounts: at most 2^53 {unit}"))
        })
    };
    let milli_cpu = resources(row.plan_cpu, columns.plan_cpu, "plan_cpu", options.milli_cpu_per_100, "CPU", "millicores")?;
    let memory = resources(row.plan_mem, columns.plan_mem, "plan_mem", options.memory_bytes_per_100, "memory", "bytes")?;
    if let Some(spec) = shapes.get(&(milli_cpu, memory)) {
        return Ok(spec.clone());
    }
    let cpu = format!("{milli_cpu}m");
    check_quantity(&cpu, true).map_err(|m| RowError::cell(row.line, columns.plan_cpu, "plan_cpu", m))?;
    let memory_text = memory.to_string();
    check_quantity(&memory_text, false).map_err(|m| RowError::cell(row.line, columns.plan_mem, "plan_mem", m))?;
    let spec = Arc::new(single_container_pod(vec![("cpu".to_string(), cpu), ("memory".to_string(), memory_text)]));
    shapes.insert((milli_cpu, memory), spec.clone());
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_name(name: &str, expected: Option<(Option<u32>, &[u32], bool)>) {
        let parsed = task_name(name);
        assert_eq!(parsed.as_ref().map(|(n, p, t)| (*n, p.as_slice(), *t)), expected, "{name}");
    }

    #[test]
    fn task_names() {
        check_name("M1", Some((Some(1), &[], false)));
        check_name("R2_1", Some((Some(2), &[1], false)));
        check_name("J8_7_6_7", Some((Some(8), &[6, 7], false)));
        check_name("task_LTg0MTUwNTA5Mjg2MDU5NjU0Mw==", Some((None, &[], false)));
        check_name("R28_1_2_3_4_5_6_7_8_9_10_11_12_13_14_15_16_17_18_1", Some((Some(28), &(1..=18).collect::<Vec<_>>(), true)));
        check_name(
            "J28_4_5_6_7_8_10_11_12_14_15_16_17_19_20_22_23_24_",
            Some((Some(28), &[4, 5, 6, 7, 8, 10, 11, 12, 14, 15, 16, 17, 19, 20, 22, 23, 24], true)),
        );
        check_name("R2_", None);
        check_name("2_1", None);
        check_name("M", None);
        check_name("Mx", None);
        check_name("M1__2", None);
        check_name("M99999999999", None);
    }

    /// `Ok(None)`: a number, but too large to scale.
    fn check_scaled(text: &str, per_100: i64, expected: Result<Option<i64>, DecimalError>) {
        assert_eq!(Decimal::parse(text).map(|d| d.scaled_per_100(per_100)), expected, "{text}");
    }

    #[test]
    fn decimals_scale_exactly_and_round_up() {
        check_scaled("100.0", 1000, Ok(Some(1000)));
        check_scaled("50", 1000, Ok(Some(500)));
        check_scaled("1.5e2", 1000, Ok(Some(1500)));
        check_scaled("000100.000", 1000, Ok(Some(1000)));
        check_scaled("0.39", 384 << 30, Ok(Some(((384u128 << 30) * 39).div_ceil(10_000) as i64)));
        check_scaled("1e-05", 100_000_000, Ok(Some(10)));
        check_scaled("0.0", 1000, Ok(Some(0)));
        check_scaled("0e999", 1000, Ok(Some(0)));
        check_scaled("-1", 1000, Err(DecimalError::Syntax));
        check_scaled("1.2.3", 1000, Err(DecimalError::Syntax));
        check_scaled("", 1000, Err(DecimalError::Syntax));
        check_scaled(".", 1000, Err(DecimalError::Syntax));
        check_scaled("1e", 1000, Err(DecimalError::Syntax));
        check_scaled("e5", 1000, Err(DecimalError::Syntax));
        check_scaled("1e40", 1000, Ok(None));
        check_scaled("9223372036854775807", 1000, Ok(None));
    }

    #[test]
    fn many_decimals_are_exact_and_tiny_amounts_round_up_to_one_unit() {
        // 0.1234567890123456789 × 384 GiB / 100 = 509,033,156.4… bytes.
        check_scaled("0.1234567890123456789", 384 << 30, Ok(Some(509_033_157)));
        check_scaled("0.12345678901234567890000", 384 << 30, Ok(Some(509_033_157)));
        check_scaled("1e-40", 1000, Ok(Some(1)));
        check_scaled("0.00000000000000000000000000000000000000000000000001", 1000, Ok(Some(1)));
        check_scaled("5e-2147483648", i64::MAX, Ok(Some(1)));
        check_scaled("0.12345678901234567891", 384 << 30, Err(DecimalError::TooPrecise(20)));
        check_scaled("99999999999999999999999999999", i64::MAX, Err(DecimalError::TooPrecise(29)));
    }

    fn check_headerless(line: &str, expected: bool) {
        assert_eq!(is_headerless_row(line), expected, "{line}");
    }

    #[test]
    fn headerless_batch_task_rows_are_recognised() {
        check_headerless("M1,1.0,j_1,1,Terminated,419912,419912,100.0,0.2", true);
        check_headerless("task_LTg0MTUwNTA5Mjg2MDU5NjU0Mw==,3.0,j_3,1,Terminated,157213,157295,50.0,1e-05", true);
        check_headerless("R2_1,,j_1000000,1,Running,0,0,,", true);
        check_headerless("task_name,instance_num,job_name,task_type,status,start_time,end_time,plan_cpu,plan_mem", false);
        check_headerless("#simsched workload v1", false);
        check_headerless(
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time",
            false,
        );
        check_headerless("openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0", false);
        check_headerless("openb-node-0000,64000,262144,2,P100", false);
        check_headerless("p,0,10,1,1Gi,,,j_1,app=x", false);
        check_headerless("M1,1.0,j_x,1,Terminated,1,2,100,1", false);
        check_headerless("M1,1.0,j_,1,Terminated,1,2,100,1", false);
        check_headerless("M1,1.0,job_1,1,Terminated,1,2,100,1", false);
        check_headerless("M1,1.0,j_1,1,Terminated,1.5,2,100,1", false);
        check_headerless("M1,1.0,j_1,1,Terminated,,2,100,1", false);
        check_headerless("M1,1.0,j_1,1,Terminated,1,2,lots,1", false);
        check_headerless("M1,four,j_1,1,Terminated,1,2,100,1", false);
        check_headerless(",1.0,j_1,1,Terminated,1,2,100,1", false);
        check_headerless("M1,1.0,j_1,1,Terminated,1,2,100,1,extra", false);
        check_headerless("M1,1.0,j_1,1,Terminated,1,2,100", false);
    }

    #[test]
    fn instance_counts() {
        assert_eq!(instance_count("4.0"), Some(4));
        assert_eq!(instance_count("1"), Some(1));
        assert_eq!(instance_count("0.0"), None);
        assert_eq!(instance_count("1.5"), None);
        assert_eq!(instance_count("-1.0"), None);
        assert_eq!(instance_count(".0"), None);
    }
}
