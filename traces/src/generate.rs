//! Synthetic workloads: identical nodes, and pods with Poisson arrivals, a duration distribution and request
//! shapes drawn from a small catalogue, all from one seeded Xoshiro256++ (same seed, same workload).
//!
//! The pods are produced lazily, so a million pods cost no memory until the consumer keeps them. Every pod
//! of one catalogue shape shares one `Arc<PodDef>`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use scheduler_core::{NodeDef, PodDef};

use crate::error::InvalidValue;
use crate::shape::{check_quantity, single_container_pod};
use crate::workload::{MAX_MICROS, MICROS_PER_SECOND, Micros, PodArrival, WorkloadItem, WorkloadStream};

/// One request shape of the catalogue, with its relative weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodShape {
    /// CPU request.
    pub cpu: &'static str,
    /// Memory request.
    pub memory: &'static str,
    /// Relative frequency (the weights add up to 100).
    pub weight: u32,
}

/// The catalogue of request shapes: many small pods, a few large ones, with about 1–4 GiB of memory per
/// core, as in the request distributions of published cluster traces (most pods ask for at most one core).
pub const SHAPES: [PodShape; 8] = [
    PodShape { cpu: "100m", memory: "128Mi", weight: 20 },
    PodShape { cpu: "250m", memory: "256Mi", weight: 20 },
    PodShape { cpu: "500m", memory: "512Mi", weight: 18 },
    PodShape { cpu: "500m", memory: "1Gi", weight: 12 },
    PodShape { cpu: "1", memory: "2Gi", weight: 14 },
    PodShape { cpu: "2", memory: "4Gi", weight: 8 },
    PodShape { cpu: "4", memory: "16Gi", weight: 5 },
    PodShape { cpu: "8", memory: "32Gi", weight: 3 },
];

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Number of nodes (`node-0`, `node-1`, …).
    pub nodes: usize,
    /// Number of pods (`pod-0`, `pod-1`, …).
    pub pods: usize,
    /// When pods arrive.
    pub arrival: Arrival,
    /// How long pods run.
    pub duration: DurationDist,
    /// Seed of the random generator.
    pub seed: u64,
    /// Allocatable CPU of every node (default `32`).
    pub node_cpu: String,
    /// Allocatable memory of every node (default `128Gi`).
    pub node_memory: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            nodes: 100,
            pods: 10_000,
            arrival: Arrival::Poisson { rate_per_second: 10.0 },
            duration: DurationDist::LogNormal { mu: 5.0, sigma: 1.0 },
            seed: 1,
            node_cpu: "32".to_string(),
            node_memory: "128Gi".to_string(),
        }
    }
}

/// An arrival process. Written `poisson:RATE` (pods per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrival {
    /// Exponential gaps between arrivals, `rate_per_second` pods per second on average.
    Poisson {
        /// Mean arrivals per second, > 0.
        rate_per_second: f64,
    },
}

impl FromStr for Arrival {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || InvalidValue(format!("expected an arrival process such as poisson:10 (pods per second), got {s:?}"));
        let rate = s.strip_prefix("poisson:").ok_or_else(expected)?.parse::<f64>().map_err(|_| expected())?;
        let arrival = Arrival::Poisson { rate_per_second: rate };
        arrival.check()?;
        Ok(arrival)
    }
}

impl fmt::Display for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrival::Poisson { rate_per_second } => write!(f, "poisson:{rate_per_second}"),
        }
    }
}

impl Arrival {
    fn check(&self) -> Result<(), InvalidValue> {
        match *self {
            Arrival::Poisson { rate_per_second } if rate_per_second.is_finite() && rate_per_second > 0.0 => Ok(()),
            Arrival::Poisson { rate_per_second } => {
                Err(InvalidValue(format!("the Poisson rate must be a positive number of pods per second, got {rate_per_second}")))
            }
        }
    }
}

/// A distribution of run times, in seconds. Written `lognormal:MU,SIGMA` or `constant:SECONDS`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DurationDist {
    /// `exp(N(mu, sigma²))` seconds: the median is `exp(mu)`.
    LogNormal {
        /// Mean of the logarithm of the seconds.
        mu: f64,
        /// Standard deviation of the logarithm, ≥ 0.
        sigma: f64,
    },
    /// Always the same number of seconds.
    Constant(f64),
}

impl FromStr for DurationDist {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected =
            || InvalidValue(format!("expected a duration distribution such as lognormal:5,1 or constant:60 (seconds), got {s:?}"));
        let number = |text: &str| text.trim().parse::<f64>().map_err(|_| expected());
        let dist = if let Some(params) = s.strip_prefix("lognormal:") {
            let (mu, sigma) = params.split_once(',').ok_or_else(expected)?;
            DurationDist::LogNormal { mu: number(mu)?, sigma: number(sigma)? }
        } else if let Some(seconds) = s.strip_prefix("constant:") {
            DurationDist::Constant(number(seconds)?)
        } else {
            return Err(expected());
        };
        dist.check()?;
        Ok(dist)
    }
}

impl fmt::Display for DurationDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationDist::LogNormal { mu, sigma } => write!(f, "lognormal:{mu},{sigma}"),
            DurationDist::Constant(seconds) => write!(f, "constant:{seconds}"),
        }
    }
}

impl DurationDist {
    fn check(&self) -> Result<(), InvalidValue> {
        match *self {
            DurationDist::LogNormal { mu, sigma } if mu.is_finite() && sigma.is_finite() && sigma >= 0.0 => Ok(()),
            DurationDist::LogNormal { mu, sigma } => {
                Err(InvalidValue(format!("lognormal needs a finite mu and a finite sigma ≥ 0, got mu {mu} and sigma {sigma}")))
            }
            DurationDist::Constant(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(()),
            DurationDist::Constant(seconds) => Err(InvalidValue(format!("a constant duration must be seconds ≥ 0, got {seconds}"))),
        }
    }
}

/// Generates the nodes and a lazy stream of pods, or says which option is not valid.
pub fn generate(opts: &GenerateOptions) -> Result<(Vec<NodeDef>, GeneratedPods), InvalidValue> {
    opts.arrival.check()?;
    opts.duration.check()?;
    check_quantity(&opts.node_cpu, true).map_err(|m| InvalidValue(format!("node cpu: {m}")))?;
    check_quantity(&opts.node_memory, false).map_err(|m| InvalidValue(format!("node memory: {m}")))?;
    let nodes = (0..opts.nodes)
        .map(|idx| {
            let name = format!("node-{idx}");
            NodeDef {
                labels: vec![("kubernetes.io/hostname".to_string(), name.clone())],
                allocatable: vec![
                    ("cpu".to_string(), opts.node_cpu.clone()),
                    ("memory".to_string(), opts.node_memory.clone()),
                    ("pods".to_string(), "110".to_string()),
                ],
                name,
                ..NodeDef::default()
            }
        })
        .collect();
    let Arrival::Poisson { rate_per_second } = opts.arrival;
    let gap = Exp::new(rate_per_second).map_err(|e| InvalidValue(format!("poisson rate: {e}")))?;
    let duration = match opts.duration {
        DurationDist::LogNormal { mu, sigma } => {
            DurationSampler::LogNormal(LogNormal::new(mu, sigma).map_err(|e| InvalidValue(format!("lognormal: {e}")))?)
        }
        DurationDist::Constant(seconds) => DurationSampler::Constant(seconds_to_micros(seconds)),
    };
    let pods = GeneratedPods {
        rng: Xoshiro256PlusPlus::seed_from_u64(opts.seed),
        shapes: SHAPES.map(|shape| {
            Arc::new(single_container_pod(vec![
                ("cpu".to_string(), shape.cpu.to_string()),
                ("memory".to_string(), shape.memory.to_string()),
            ]))
        }),
        total_weight: SHAPES.iter().map(|s| s.weight).sum(),
        gap,
        duration,
        seconds: 0.0,
        next_idx: 0,
        n_pods: opts.pods,
    };
    Ok((nodes, pods))
}

enum DurationSampler {
    LogNormal(LogNormal<f64>),
    Constant(Micros),
}

/// The generated pods, in arrival order. Each pod takes three draws in a fixed order (gap, shape,
/// duration), so the same seed gives the same pods.
pub struct GeneratedPods {
    rng: Xoshiro256PlusPlus,
    shapes: [Arc<PodDef>; SHAPES.len()],
    total_weight: u32,
    gap: Exp<f64>,
    duration: DurationSampler,
    seconds: f64,
    next_idx: usize,
    n_pods: usize,
}

impl GeneratedPods {
    /// The pods as a workload stream (which never fails and skips nothing).
    pub fn into_stream(self) -> WorkloadStream {
        WorkloadStream::new(Box::new(self.map(Ok)), Arc::new(AtomicU64::new(0)))
    }
}

impl Iterator for GeneratedPods {
    type Item = WorkloadItem;

    fn next(&mut self) -> Option<WorkloadItem> {
        if self.next_idx >= self.n_pods {
            return None;
        }
        self.seconds += self.gap.sample(&mut self.rng);
        let mut ticket = self.rng.random_range(0..self.total_weight);
        let mut shape_idx = 0;
        while shape_idx + 1 < SHAPES.len() && ticket >= SHAPES[shape_idx].weight {
            ticket -= SHAPES[shape_idx].weight;
            shape_idx += 1;
        }
        let duration = match &self.duration {
            DurationSampler::LogNormal(dist) => seconds_to_micros(dist.sample(&mut self.rng)),
            DurationSampler::Constant(micros) => *micros,
        };
        let pod = PodArrival {
            time: seconds_to_micros(self.seconds),
            name: format!("pod-{}", self.next_idx),
            spec: self.shapes[shape_idx].clone(),
            duration: Some(duration),
            job: None,
        };
        self.next_idx += 1;
        Some(WorkloadItem::Pod(pod))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.n_pods - self.next_idx;
        (left, Some(left))
    }
}

/// Seconds → microseconds, rounded, capped at [`MAX_MICROS`].
fn seconds_to_micros(seconds: f64) -> Micros {
    let micros = (seconds * MICROS_PER_SECOND as f64).round();
    if micros.is_nan() || micros <= 0.0 {
        0
    } else if micros >= MAX_MICROS as f64 {
        MAX_MICROS
    } else {
        micros as Micros
    }
}
