//! Plugin outcomes: a [`Code`] and reasons, as upstream's `framework.Status`.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

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

/// A reason string: static for the fixed reasons, shared for the ones made at run time (`Insufficient
/// nvidia.com/gpu`), so that rejecting a node never allocates.
/// Two reasons are equal when their texts are, however they are stored.
#[derive(Clone, Debug)]
pub enum Reason {
    /// A fixed text.
    Static(&'static str),
    /// A text made once and shared.
    Shared(Arc<str>),
}

impl Deref for Reason {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match self {
            Reason::Static(s) => s,
            Reason::Shared(s) => s,
        }
    }
}

impl Borrow<str> for Reason {
    fn borrow(&self) -> &str {
        self
    }
}

impl AsRef<str> for Reason {
    fn as_ref(&self) -> &str {
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl From<&'static str> for Reason {
    fn from(s: &'static str) -> Reason {
        Reason::Static(s)
    }
}

impl From<String> for Reason {
    fn from(s: String) -> Reason {
        Reason::Shared(s.into())
    }
}

impl PartialEq for Reason {
    fn eq(&self, other: &Reason) -> bool {
        **self == **other
    }
}

impl Eq for Reason {}

impl std::hash::Hash for Reason {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialOrd for Reason {
    fn partial_cmp(&self, other: &Reason) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reason {
    fn cmp(&self, other: &Reason) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

/// A plugin outcome: a code and its reasons. 32 bytes, and copied without allocating: a rejected node's
/// status is made, moved and dropped thousands of times per cycle.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Status {
    code: Code,
    reasons: Reasons,
}

const _: () = assert!(std::mem::size_of::<Status>() <= 32);

/// The reasons of a status: none, one (the common case), or several, shared.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
enum Reasons {
    #[default]
    None,
    One(Reason),
    Many(Arc<[Reason]>),
}

impl Reasons {
    fn as_slice(&self) -> &[Reason] {
        match self {
            Reasons::None => &[],
            Reasons::One(r) => std::slice::from_ref(r),
            Reasons::Many(rs) => rs,
        }
    }
}

impl Status {
    /// Success.
    #[inline]
    pub fn success() -> Status {
        Status::default()
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Reason>) -> Status {
        Status { code, reasons: Reasons::One(reason.into()) }
    }

    /// A status with several reasons.
    pub fn with_reasons(code: Code, reasons: impl IntoIterator<Item = Reason>) -> Status {
        let mut reasons: SmallVec<[Reason; 2]> = reasons.into_iter().collect();
        let reasons = match reasons.len() {
            0 => Reasons::None,
            1 => reasons.pop().map_or(Reasons::None, Reasons::One),
            _ => Reasons::Many(reasons.into_iter().collect()),
        };
        Status { code, reasons }
    }

    /// A status with no reason.
    #[inline]
    pub fn code_only(code: Code) -> Status {
        Status { code, reasons: Reasons::None }
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
        self.reasons.as_slice()
    }

    /// Adds a reason.
    pub fn push_reason(&mut self, reason: impl Into<Reason>) {
        let reason = reason.into();
        self.reasons = match std::mem::take(&mut self.reasons) {
            Reasons::None => Reasons::One(reason),
            Reasons::One(first) => Reasons::Many(Arc::from([first, reason])),
            Reasons::Many(rs) => Reasons::Many(rs.iter().cloned().chain(std::iter::once(reason)).collect()),
        };
    }

    /// The same reasons under another code.
    pub fn with_code(mut self, code: Code) -> Status {
        self.code = code;
        self
    }

    /// Upstream `Message`: the reasons joined by `", "`.
    pub fn message(&self) -> String {
        self.reasons().join(", ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reasons().is_empty() { write!(f, "{}", self.code) } else { write!(f, "{}: {}", self.code, self.message()) }
    }
}
