//! Per-pod, per-job and time-series records, streamed to CSV files as the simulation produces them.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::time::SimTime;

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
#[error("failed to write {}: {source}", path.display())]
pub struct RecordError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    pub source: csv::Error,
}

/// One pod's history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRecord {
    /// Pod name.
    pub name: String,
    /// Job name (the pod's own name for a pod without a job).
    pub job: String,
    /// Arrival.
    pub arrival: SimTime,
    /// First scheduling attempt.
    pub first_attempt: Option<SimTime>,
    /// When the scheduling cycle that placed it ran; its resources are held from then.
    pub scheduled: Option<SimTime>,
    /// Binding done: `scheduled` plus the bind cost.
    pub bound: Option<SimTime>,
    /// Started running: when bound (container start-up is not modelled); empty when the node was lost
    /// before the binding completed.
    pub start: Option<SimTime>,
    /// Finished, or lost with its node.
    pub finish: Option<SimTime>,
    /// Node it ran on.
    pub node: Option<String>,
    /// The GPUs it was given there (`0,1`); empty for a pod without GPUs.
    pub gpus: String,
    /// Scheduling attempts.
    pub attempts: u32,
    /// Evicted by preemption.
    pub preempted: bool,
    /// Lost with its node.
    pub lost: bool,
}

/// One job's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// Job name.
    pub name: String,
    /// Submission.
    pub submit: SimTime,
    /// Last pod finished, if the job finished.
    pub finish: Option<SimTime>,
    /// Pods the job ran (recreated pods count again).
    pub pods: u64,
    /// DAG tasks (0 for a job of plain pods).
    pub tasks: u32,
}

/// Writes `pods.csv`, `jobs.csv` and `timeseries.csv` into a directory.
pub struct Recorder {
    pods: (PathBuf, csv::Writer<BufWriter<File>>),
    jobs: (PathBuf, csv::Writer<BufWriter<File>>),
    series: (PathBuf, csv::Writer<BufWriter<File>>),
    series_header_written: bool,
}

fn time(t: Option<SimTime>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

fn open(dir: &Path, name: &str) -> Result<(PathBuf, csv::Writer<BufWriter<File>>), RecordError> {
    let path = dir.join(name);
    let file = File::create(&path).map_err(|e| RecordError { path: path.clone(), source: e.into() })?;
    Ok((path, csv::Writer::from_writer(BufWriter::new(file))))
}

impl Recorder {
    /// Creates the three files in `dir` (which must exist).
    pub fn create(dir: &Path) -> Result<Recorder, RecordError> {
        let mut recorder = Recorder {
            pods: open(dir, "pods.csv")?,
            jobs: open(dir, "jobs.csv")?,
            series: open(dir, "timeseries.csv")?,
            series_header_written: false,
        };
        let header = [
            "name",
            "job",
            "arrival",
            "first_attempt",
            "scheduled",
            "bound",
            "start",
            "finish",
            "node",
            "gpus",
            "attempts",
            "preempted",
            "lost",
        ];
        write(&mut recorder.pods, &header)?;
        write(&mut recorder.jobs, &["job", "submit", "finish", "jct", "pods", "tasks"])?;
        Ok(recorder)
    }

    /// Appends a pod.
    pub fn pod(&mut self, r: &PodRecord) -> Result<(), RecordError> {
        let row = [
            r.name.clone(),
            r.job.clone(),
            r.arrival.to_string(),
            time(r.first_attempt),
            time(r.scheduled),
            time(r.bound),
            time(r.start),
            time(r.finish),
            r.node.clone().unwrap_or_default(),
            r.gpus.clone(),
            r.attempts.to_string(),
            r.preempted.to_string(),
            r.lost.to_string(),
        ];
        write(&mut self.pods, &row)
    }

    /// Appends a job.
    pub fn job(&mut self, r: &JobRecord) -> Result<(), RecordError> {
        let jct = r.finish.map(|f| SimTime(f.micros() - r.submit.micros()));
        write(&mut self.jobs, &[r.name.clone(), r.submit.to_string(), time(r.finish), time(jct), r.pods.to_string(), r.tasks.to_string()])
    }

    /// Appends a time-series sample: `columns` names the values (written as the header with the first
    /// sample).
    pub fn sample(&mut self, t: SimTime, columns: &[String], values: &[String]) -> Result<(), RecordError> {
        if !self.series_header_written {
            let mut header = vec!["time".to_string()];
            header.extend(columns.iter().cloned());
            write(&mut self.series, &header)?;
            self.series_header_written = true;
        }
        let mut row = vec![t.to_string()];
        row.extend(values.iter().cloned());
        write(&mut self.series, &row)
    }

    /// Flushes the files.
    pub fn finish(mut self) -> Result<(), RecordError> {
        for (path, w) in [&mut self.pods, &mut self.jobs, &mut self.series] {
            w.flush().map_err(|e| RecordError { path: path.clone(), source: e.into() })?;
        }
        Ok(())
    }
}

fn write<S: AsRef<[u8]>>(w: &mut (PathBuf, csv::Writer<BufWriter<File>>), row: &[S]) -> Result<(), RecordError> {
    w.1.write_record(row).map_err(|source| RecordError { path: w.0.clone(), source })
}
