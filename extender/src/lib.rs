//! A Kubernetes scheduler-extender backend: simsched's plugins served over HTTP to a stock kube-scheduler.
pub mod wire;
