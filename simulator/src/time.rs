//! Simulated time: integer microseconds from the start of the trace.

use std::fmt;

use traces::Micros;

/// A simulated instant, microseconds from the start of the trace.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct SimTime(pub Micros);

/// One simulated second.
pub const SECOND: Micros = 1_000_000;

impl SimTime {
    /// The instant `micros` after the start.
    pub fn from_micros(micros: Micros) -> SimTime {
        SimTime(micros)
    }

    /// Microseconds since the start.
    pub fn micros(self) -> Micros {
        self.0
    }

    /// Seconds since the start, as a float (for reports only).
    pub fn seconds(self) -> f64 {
        self.0 as f64 / SECOND as f64
    }

    /// `self + d`, saturating.
    pub fn after(self, d: Micros) -> SimTime {
        SimTime(self.0.saturating_add(d))
    }

    /// Rounded down to a whole second (upstream's backoff window alignment).
    pub fn truncate_to_second(self) -> SimTime {
        SimTime(self.0 - self.0 % SECOND)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with six decimals: `12.500000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / SECOND, self.0 % SECOND)
    }
}

/// Formats a duration in microseconds as seconds with six decimals.
pub fn format_seconds(micros: Micros) -> String {
    SimTime(micros).to_string()
}
