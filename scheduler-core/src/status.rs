//! Plugin outcomes: a [`Code`] and reasons, as upstream's `framework.Status`.

use std::borrow::Cow;
use std::fmt;

use smallvec::SmallVec;

/// Upstream status codes, in upstream order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub enum Code {
    /// The plugin ran and found nothing wrong.
    #[default]
    Success,
    /// An internal or unexpected failure; the cycle is aborted.
    Error,
    /// The pod does not fit, and preemption may help.
    Unschedulable,
    /// The pod does not fit, and preemption cannot help.
    UnschedulableAndUnresolvable,
    /// Permit: wait.
    Wait,
    /// PreFilter/PreScore: skip this plugin's Filter/Score for this cycle.
    Skip,
    /// The cycle stopped, not through the pod's fault.
    Pending,
}

impl Code {
    /// Upstream's name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Success => "Success",
            Code::Error => "Error",
            Code::Unschedulable => "Unschedulable",
            Code::UnschedulableAndUnresolvable => "UnschedulableAndUnresolvable",
            Code::Wait => "Wait",
            Code::Skip => "Skip",
            Code::Pending => "Pending",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason string; static for the fixed reasons, so that a rejected node costs no allocation.
pub type Reason = Cow<'static, str>;

/// A plugin outcome: a code and its reasons.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Status {
    code: Code,
    reasons: SmallVec<[Reason; 1]>,
}

impl Status {
    /// Success.
    #[inline]
    pub fn success() -> Status {
        Status::default()
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Reason>) -> Status {
        let mut reasons = SmallVec::new();
        reasons.push(reason.into());
        Status { code, reasons }
    }

    /// A status with several reasons.
    pub fn with_reasons(code: Code, reasons: impl IntoIterator<Item = Reason>) -> Status {
        Status { code, reasons: reasons.into_iter().collect() }
    }

    /// A status with no reason.
    pub fn code_only(code: Code) -> Status {
        Status { code, reasons: SmallVec::new() }
    }

    /// `Unschedulable` with one reason.
    pub fn unschedulable(reason: impl Into<Reason>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    /// `UnschedulableAndUnresolvable` with one reason.
    pub fn unresolvable(reason: impl Into<Reason>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// `Skip`.
    pub fn skip() -> Status {
        Status::code_only(Code::Skip)
    }

    /// `Error` with a message.
    pub fn error(message: impl Into<Reason>) -> Status {
        Status::new(Code::Error, message)
    }

    /// The code.
    #[inline]
    pub fn code(&self) -> Code {
        self.code
    }

    /// Whether the code is `Success`.
    #[inline]
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the code is `Skip`.
    #[inline]
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// Upstream `IsRejected`: Unschedulable, UnschedulableAndUnresolvable or Pending.
    #[inline]
    pub fn is_rejected(&self) -> bool {
        matches!(self.code, Code::Unschedulable | Code::UnschedulableAndUnresolvable | Code::Pending)
    }

    /// The reasons.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// Adds a reason.
    pub fn push_reason(&mut self, reason: impl Into<Reason>) {
        self.reasons.push(reason.into());
    }

    /// Upstream `Message`: the reasons joined by `", "`.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reasons.is_empty() { write!(f, "{}", self.code) } else { write!(f, "{}: {}", self.code, self.message()) }
    }
}
