//! CSV traces read lazily: the header, cells located by line and column in errors, bad rows skipped and counted.

use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::ByteRecord;

use crate::error::TraceError;
use crate::workload::WorkloadItem;

/// What is wrong with one row: where (`line 12 column 4 (cpu)`) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowError {
    pub location: String,
    pub message: String,
}

impl RowError {
    /// An error in the cell of `column` (0-based index, and its name) on `line`.
    pub fn cell(line: u64, column_idx: usize, column_name: &str, message: impl Into<String>) -> RowError {
        RowError { location: cell_location(line, column_idx, column_name), message: message.into() }
    }

    /// An error about the whole of `line`.
    pub fn line(line: u64, message: impl Into<String>) -> RowError {
        RowError { location: format!("line {line}"), message: message.into() }
    }

    pub fn into_trace_error(self, path: &Path) -> TraceError {
        TraceError::new(path, self.location, self.message)
    }
}

/// `line L column C (name)`, with a 1-based column number.
pub(crate) fn cell_location(line: u64, column_idx: usize, column_name: &str) -> String {
    format!("line {line} column {} ({column_name})", column_idx + 1)
}

/// A CSV reader over a file, with the number of lines before the CSV part (a marker line).
pub(crate) struct CsvFile {
    pub reader: csv::Reader<BufReader<File>>,
    pub line_offset: u64,
}

/// Opens `path` as CSV. With `marker`, the first line must be exactly the marker (it is not part of the CSV);
/// the returned error then names line 1.
pub(crate) fn open_csv(path: &Path, marker: Option<&str>) -> Result<CsvFile, TraceError> {
    let file = File::open(path).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let mut line_offset = 0;
    if let Some(marker) = marker {
        let mut first = Vec::new();
        buffered.read_until(b'\n', &mut first).map_err(|e| TraceError::new(path, "file", format!("cannot read: {e}")))?;
        let first = String::from_utf8_lossy(&first);
        let first = first.trim_start_matches('\u{feff}').trim_end_matches(['\n', '\r']);
        if first != marker {
            let shown: String = first.chars().take(60).collect();
            return Err(TraceError::new(path, "line 1", format!("expected {marker:?}, got {shown:?}")));
        }
        line_offset = 1;
    }
    let reader = csv::ReaderBuilder::new().has_headers(false).from_reader(buffered);
    Ok(CsvFile { reader, line_offset })
}

/// The header row: column names in file order.
pub(crate) struct Header {
    pub names: Vec<String>,
    /// The header's line in the file.
    pub line: u64,
}

impl Header {
    /// Reads the header row (the first CSV record) of a CSV file.
    pub fn read(csv_file: &mut CsvFile, path: &Path) -> Result<Header, TraceError> {
        Header::read_from(&mut csv_file.reader, csv_file.line_offset, path)
    }

    /// Reads the header row from `reader`, which starts after `line_offset` lines of the file.
    pub fn read_from<R: Read>(reader: &mut csv::Reader<R>, line_offset: u64, path: &Path) -> Result<Header, TraceError> {
        let mut record = ByteRecord::new();
        let line = line_offset + 1;
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Err(TraceError::new(path, format!("line {line}"), "expected a header row, found the end of the file")),
            Err(e) => return Err(read_failure(e, path, line_offset).into_trace_error(path)),
        }
        let mut names = Vec::with_capacity(record.len());
        for (idx, field) in record.iter().enumerate() {
            let name = std::str::from_utf8(field)
                .map_err(|_| TraceError::new(path, format!("line {line} column {}", idx + 1), "expected UTF-8 text"))?;
            let name = if idx == 0 { name.trim_start_matches('\u{feff}') } else { name };
            names.push(name.trim().to_string());
        }
        Ok(Header { names, line })
    }

    /// The index of column `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The index of column `name`, or an error naming the header line and the columns it needs.
    pub fn require(&self, name: &str, required: &[&str], path: &Path) -> Result<usize, TraceError> {
        self.find(name).ok_or_else(|| {
            TraceError::new(
                path,
                format!("line {}", self.line),
                format!("missing column {name:?}: required columns are {}", required.join(", ")),
            )
        })
    }
}

/// The text of cell `idx` of a record; a missing cell is empty.
pub(crate) fn cell<'r>(record: &'r ByteRecord, idx: usize, line: u64, column_name: &str) -> Result<&'r str, RowError> {
    let bytes = record.get(idx).unwrap_or_default();
    std::str::from_utf8(bytes).map_err(|_| RowError::cell(line, idx, column_name, "expected UTF-8 text"))
}

/// A failure of the CSV reader itself: a row with the wrong number of fields (a bad row), or an I/O error.
pub(crate) enum ReadFailure {
    Row(RowError),
    Fatal(TraceError),
}

impl ReadFailure {
    pub fn into_trace_error(self, path: &Path) -> TraceError {
        match self {
            ReadFailure::Row(row_error) => row_error.into_trace_error(path),
            ReadFailure::Fatal(e) => e,
        }
    }
}

pub(crate) fn read_failure(error: csv::Error, path: &Path, line_offset: u64) -> ReadFailure {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => {
            let line = pos.as_ref().map_or(0, |p| p.line()) + line_offset;
            ReadFailure::Row(RowError::line(line, format!("expected {expected_len} fields as in the header, found {len}")))
        }
        csv::ErrorKind::Io(e) => ReadFailure::Fatal(TraceError::new(path, "file", format!("cannot read: {e}"))),
        _ => {
            let location = error.position().map_or_else(|| "file".to_string(), |p| format!("line {}", p.line() + line_offset));
            ReadFailure::Fatal(TraceError::new(path, location, error.to_string()))
        }
    }
}

/// Turns one CSV row into a workload item.
pub(crate) trait RowParser: Send {
    /// Parses the row that starts on `line`.
    fn parse(&mut self, record: &ByteRecord, line: u64) -> Result<WorkloadItem, RowError>;
}

/// A lazy stream of workload items, one per CSV row: a bad row ends the stream with an error, or, with
/// `skip_bad_rows`, is counted and skipped.
pub(crate) struct CsvRows<P: RowParser> {
    pub path: PathBuf,
    pub csv_file: CsvFile,
    pub record: ByteRecord,
    pub parser: P,
    pub skip_bad_rows: bool,
    pub skipped: Arc<AtomicU64>,
    pub finished: bool,
}

impl<P: RowParser> CsvRows<P> {
    fn bad_row(&mut self, row_error: RowError) -> Option<Result<WorkloadItem, TraceError>> {
        if self.skip_bad_rows {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            None
        } else {
            self.finished = true;
            Some(Err(row_error.into_trace_error(&self.path)))
        }
    }
}

impl<P: RowParser> Iterator for CsvRows<P> {
    type Item = Result<WorkloadItem, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            match self.csv_file.reader.read_byte_record(&mut self.record) {
                Ok(false) => self.finished = true,
                Ok(true) => {
                    let line = self.record.position().map_or(0, |p| p.line()) + self.csv_file.line_offset;
                    match self.parser.parse(&self.record, line) {
                        Ok(item) => return Some(Ok(item)),
                        Err(row_error) => {
                            if let Some(error) = self.bad_row(row_error) {
                                return Some(error);
                            }
                        }
                    }
                }
                Err(e) => match read_failure(e, &self.path, self.csv_file.line_offset) {
                    ReadFailure::Row(row_error) => {
                        if let Some(error) = self.bad_row(row_error) {
                            return Some(error);
                        }
                    }
                    ReadFailure::Fatal(error) => {
                        self.finished = true;
                        return Some(Err(error));
                    }
                },
            }
        }
        None
    }
}

/// Names seen so far, kept as 64-bit hashes (8 bytes per name, not the names): a hash seen before means the
/// name may be a duplicate, which [`first_line_with`] confirms by reading the file again.
#[derive(Default)]
pub(crate) struct SeenNames {
    hashes: HashSet<u64, BuildHasherDefault<IdentityHasher>>,
}

impl SeenNames {
    pub fn hash(name: &str) -> u64 {
        foldhash::fast::FixedState::with_seed(1).hash_one(name)
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.hashes.contains(&hash)
    }

    pub fn insert(&mut self, hash: u64) {
        self.hashes.insert(hash);
    }
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Reads `csv_file` again from the start (after its header) and returns the first line before `before_line`
/// whose cell `column_idx` is `name`.
pub(crate) fn first_line_with(mut csv_file: CsvFile, column_idx: usize, name: &str, before_line: u64) -> Option<u64> {
    let mut record = ByteRecord::new();
    let mut is_header = true;
    loop {
        match csv_file.reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) => continue,
            Err(_) => return None,
        }
        if std::mem::take(&mut is_header) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line()) + csv_file.line_offset;
        if line >= before_line {
            return None;
        }
        if record.get(column_idx) == Some(name.as_bytes()) {
            return Some(line);
        }
    }
}
