//! Watches of the API server (kube-rs watchers) feeding the extender's state: Nodes, Pods (bound ones,
//! by field selector), Namespaces, Services, ReplicationControllers, ReplicaSets, StatefulSets and
//! PodDisruptionBudgets.
//!
//! Each watcher lists, then watches, and re-lists after a lost watch; objects missing from a re-list are
//! deleted at its end. An object the model refuses is logged and counted, never fatal.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

use crate::metrics::Metrics;
use crate::server::lock;
use crate::state::State;

/// The number of kinds watched.
pub const N_KINDS: usize = 8;

/// One watched kind: how to key, apply and delete its objects.
trait Kind: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static {
    /// The key deletions use (`namespace/name`, or the UID for pods).
    fn key(&self) -> String;
    fn apply(&self, state: &mut State) -> Result<(), String>;
    fn delete(key: &str, state: &mut State);
}

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

fn split(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

fn field_error(kind: &str, key: String) -> impl FnOnce((String, String)) -> String {
    move |(field, message)| format!("{kind} {key}: {field}: {message}")
}

impl Kind for Node {
    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
    fn apply(&self, state: &mut State) -> Result<(), String> {
        let def = traces::kube::node_def(self).map_err(field_error("Node", self.key()))?;
        state.apply_node(def, self.metadata.resource_version.as_deref().unwrap_or("")).map_err(|e| e.0)
    }
    fn delete(key: &str, state: &mut State) {
        state.delete_node(key);
    }
}

impl Kind for Pod {
    fn key(&self) -> String {
        self.metadata.uid.clone().unwrap_or_default()
    }
    fn apply(&self, state: &mut State) -> Result<(), String> {
        let (def, facts) = traces::kube::pod_def(self).map_err(field_error("Pod", ns_name(&self.metadata)))?;
        state.apply_pod(def, &facts.phase).map_err(|e| e.0)
    }
    fn delete(key: &str, state: &mut State) {
        state.delete_pod(key);
    }
}

impl Kind for Namespace {
    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
    fn apply(&self, state: &mut State) -> Result<(), String> {
        state.apply_namespace(traces::kube::namespace_def(self).map_err(field_error("Namespace", self.key()))?);
        Ok(())
    }
    fn delete(key: &str, state: &mut State) {
        state.delete_namespace(key);
    }
}

/// A namespaced kind whose definition `$convert` makes and `$apply` stores, and `$delete` forgets by
/// namespace and name.
macro_rules! namespaced_kind {
    ($kind:ty, $name:literal, $convert:path, $apply:ident, |$state:ident, $ns:ident, $n:ident| $delete:expr) => {
        impl Kind for $kind {
            fn key(&self) -> String {
                ns_name(&self.metadata)
            }
            fn apply(&self, state: &mut State) -> Result<(), String> {
                state.$apply($convert(self).map_err(field_error($name, self.key()))?);
                Ok(())
            }
            fn delete(key: &str, $state: &mut State) {
                let ($ns, $n) = split(key);
                $delete
            }
        }
    };
}

namespaced_kind!(Service, "Service", traces::kube::service_def, apply_service, |state, ns, name| state.delete_service(ns, name));
namespaced_kind!(
    ReplicationController,
    "ReplicationController",
    traces::kube::replication_controller_def,
    apply_controller,
    |state, ns, name| state.delete_controller("ReplicationController", ns, name)
);
namespaced_kind!(ReplicaSet, "ReplicaSet", traces::kube::replica_set_def, apply_controller, |state, ns, name| {
    state.delete_controller("ReplicaSet", ns, name)
});
namespaced_kind!(StatefulSet, "StatefulSet", traces::kube::stateful_set_def, apply_controller, |state, ns, name| {
    state.delete_controller("StatefulSet", ns, name)
});
namespaced_kind!(PodDisruptionBudget, "PodDisruptionBudget", traces::kube::pdb_def, apply_pdb, |state, ns, name| {
    state.delete_pdb(ns, name)
});

/// Starts one watcher task per kind; `synced` counts the kinds whose first list has been applied.
pub fn spawn_watches(client: kube::Client, state: Arc<Mutex<State>>, metrics: Arc<Metrics>, synced: Arc<AtomicUsize>) {
    let pods = watcher::Config::default().fields("spec.nodeName!=");
    spawn::<Node>(Api::all(client.clone()), watcher::Config::default(), &state, &metrics, &synced);
    spawn::<Pod>(Api::all(client.clone()), pods, &state, &metrics, &synced);
    spawn::<Namespace>(Api::all(client.clone()), watcher::Config::default(), &state, &metrics, &synced);
    spawn::<Service>(Api::all(client.clone()), watcher::Config::default(), &state, &metrics, &synced);
    spawn::<ReplicationController>(Api::all(client.clone()), watcher::Config::default(), &state, &metrics, &synced);
    spawn::<ReplicaSet>(Api::all(client.clone()), watcher::Config::default(), &state, &metrics, &synced);
    spawn::<StatefulSet>(Api::all(client.clone()), watcher::Config::default(), &state, &metrics, &synced);
    spawn::<PodDisruptionBudget>(Api::all(client), watcher::Config::default(), &state, &metrics, &synced);
}

fn spawn<K: Kind>(api: Api<K>, config: watcher::Config, state: &Arc<Mutex<State>>, metrics: &Arc<Metrics>, synced: &Arc<AtomicUsize>) {
    let (state, metrics, synced) = (state.clone(), metrics.clone(), synced.clone());
    tokio::spawn(async move {
        let kind = K::kind(&()).to_string();
        let mut stream = std::pin::pin!(watcher::watcher(api, config));
        // Keys present before a re-list; those not listed again are deleted when it ends.
        let mut known: HashSet<String> = HashSet::new();
        let mut listed: Option<HashSet<String>> = None;
        let mut first_list = true;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    // The watcher retries by itself (re-listing if needed); wait a little so that an
                    // unreachable API server is not hammered.
                    tracing::warn!(kind = %kind, error = %e, "watch failed; retrying");
                    metrics.watch_event(true);
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            // The state may be held by a decision for a while: wait for it off the async workers, so that
            // the requests' deadlines keep running.
            tokio::task::block_in_place(|| {
                let mut state = lock(&state);
                match event {
                    Event::Init => listed = Some(HashSet::new()),
                    Event::InitApply(obj) | Event::Apply(obj) => {
                        let key = obj.key();
                        let result = obj.apply(&mut state);
                        metrics.watch_event(result.is_err());
                        if let Err(e) = result {
                            tracing::warn!(kind = %kind, error = %e, "object left out of the extender's cluster");
                        }
                        if let Some(listed) = listed.as_mut() {
                            listed.insert(key.clone());
                        }
                        known.insert(key);
                    }
                    Event::Delete(obj) => {
                        let key = obj.key();
                        K::delete(&key, &mut state);
                        metrics.watch_event(false);
                        known.remove(&key);
                    }
                    Event::InitDone => {
                        if let Some(listed) = listed.take() {
                            for gone in known.difference(&listed) {
                                K::delete(gone, &mut state);
                            }
                            known = listed;
                        }
                        if first_list {
                            first_list = false;
                            synced.fetch_add(1, Ordering::SeqCst);
                            tracing::info!(kind = %kind, objects = known.len(), "initial list applied");
                        }
                    }
                }
            });
        }
    });
}
