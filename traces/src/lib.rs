//! Everything simsched reads from outside: Kubernetes objects, the compact cluster format, and pod files.
//!
//! Key design decision: outside types (k8s-openapi's `Node` and `Pod`) stop here. They are converted into
//! the core's plain definitions (`NodeDef`, `PodDef`) with the API server's defaulting applied, and every
//! error names the file, the object and the field. The formats are documented in `traces/README.md`.

pub mod cluster_file;
pub mod compact;
pub mod error;
pub mod kube;
pub mod workload;

pub use cluster_file::{ClusterInput, Located, Skipped, build_cluster, parse_cluster, parse_pod, read_cluster, read_pod};
pub use error::TraceError;
pub use kube::PodFacts;
pub use workload::{DagJob, DagTask, MICROS_PER_SECOND, Micros, NodeEvent, PodArrival, WorkloadItem, WorkloadStream};
