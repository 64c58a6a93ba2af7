//! Everything simsched reads from outside: Kubernetes objects, the compact cluster format, pod files, and
//! workloads (the native CSV and YAML formats, the Alibaba openb and 2018 traces, synthetic generators).
//!
//! Key design decision: outside types (k8s-openapi's `Node` and `Pod`, trace rows) stop here. They are
//! converted into the core's plain definitions (`NodeDef`, `PodDef`) with the API server's defaulting
//! applied, and every error names the file, then the line and column or the object and field. Workloads
//! are streams: CSV traces are read lazily row by row, and rows with the same requests share one
//! `Arc<PodDef>`, so that a million-pod trace costs neither memory nor a million compilations. The formats
//! are documented in `traces/README.md`.

pub mod alibaba2018;
pub mod cluster_file;
pub mod compact;
mod csv_input;
pub mod error;
pub mod format;
pub mod generate;
pub mod kube;
pub mod native;
pub mod openb;
pub mod priority;
mod shape;
pub mod workload;
pub mod workload_yaml;
mod yaml_writer;

pub use alibaba2018::Alibaba2018Report;
pub use cluster_file::{ClusterInput, Located, Skipped, build_cluster, parse_cluster, parse_pod, read_cluster, read_pod};
pub use compact::write_cluster;
pub use error::{InvalidValue, TraceError};
pub use format::{Alibaba2018Options, ReadOptions, WorkloadFormat, open_workload};
pub use generate::{Arrival, DurationDist, GenerateOptions, GeneratedPods, generate};
pub use kube::{NamespaceDef, PodFacts};
pub use native::write_native;
pub use priority::{PriorityClassDef, PriorityClasses};
pub use workload::{
    DagJob, DagTask, MAX_MICROS, MICROS_PER_SECOND, Micros, NodeEvent, PodArrival, WorkloadItem, WorkloadStream, format_seconds,
    parse_seconds,
};
pub use workload_yaml::write_yaml;
