//! Errors reading outside formats: always the file, then where in it, then what was expected.

use std::path::{Path, PathBuf};

/// A file that cannot be read as what it should be.
#[derive(Debug, thiserror::Error)]
#[error("{}: {location}: {message}", file.display())]
pub struct TraceError {
    /// The file.
    pub file: PathBuf,
    /// `line L column C`, or a field path such as `items[3].spec.containers[0].resources.requests.cpu`.
    pub location: String,
    /// What was wrong, and what was expected.
    pub message: String,
}

impl TraceError {
    /// An error in `file` at `location`.
    pub fn new(file: &Path, location: impl Into<String>, message: impl Into<String>) -> TraceError {
        TraceError { file: file.to_path_buf(), location: location.into(), message: message.into() }
    }
}

/// A value given by the user (a format name, a distribution, a generator option) that is not valid; the
/// message says what is expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);
