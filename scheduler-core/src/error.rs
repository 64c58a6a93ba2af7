//! Errors raised while compiling node and pod definitions into the core model.

/// A definition that cannot be compiled: the field (a path such as `spec.containers[0].resources.requests.cpu`)
/// and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ModelError {
    /// Path of the offending field inside the object.
    pub field: String,
    /// What was expected.
    pub message: String,
}

impl ModelError {
    /// An error at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ModelError {
        ModelError { field: field.into(), message: message.into() }
    }
}
