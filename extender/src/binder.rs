//! Binding pods through the API server, as kube-scheduler's DefaultBinder does: `POST
//! /api/v1/namespaces/<ns>/pods/<name>/binding` with a `v1.Binding` to the node.
//!
//! A bind is idempotent: the scheduler sends a second, concurrent bind when the first is slower than its
//! timeout, so a 409 Conflict for a pod already bound to the requested node is a success.

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use scheduler_core::gpu::{GPU_INDEX_ANNOTATION, GpuSet};

use crate::wire::ExtenderBindingArgs;

/// Creates Bindings with a kube client.
#[derive(Clone)]
pub struct Binder {
    client: kube::Client,
}

impl Binder {
    /// A binder using `client`.
    pub fn new(client: kube::Client) -> Binder {
        Binder { client }
    }

    /// Binds the pod of `args` to its node; the error is the message for the bind answer's `Error`. A pod
    /// given GPUs gets their indices in the annotation `alibabacloud.com/gpu-index` (`0-1`), which the API
    /// server copies from the Binding onto the pod, for a GPU-sharing device plugin to honour.
    pub async fn bind(&self, args: &ExtenderBindingArgs, gpus: GpuSet) -> Result<(), String> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &args.pod_namespace);
        let annotations = (!gpus.is_empty()).then(|| {
            let indices: Vec<String> = gpus.iter().map(|i| i.to_string()).collect();
            [(GPU_INDEX_ANNOTATION.to_string(), indices.join("-"))].into_iter().collect()
        });
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(args.pod_name.clone()),
                namespace: Some(args.pod_namespace.clone()),
                uid: (!args.pod_uid.is_empty()).then(|| args.pod_uid.clone()),
                annotations,
                ..ObjectMeta::default()
            },
            target: ObjectReference { kind: Some("Node".into()), name: Some(args.node.clone()), ..ObjectReference::default() },
        };
        let pod = format!("{}/{}", args.pod_namespace, args.pod_name);
        match pods.create_subresource::<Binding, serde_json::Value>("binding", &args.pod_name, &PostParams::default(), &binding).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // Already bound: fine if to this node (a retried bind), else the conflict is real.
                match pods.get(&args.pod_name).await {
                    Ok(current) if current.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(args.node.as_str()) => Ok(()),
                    _ => Err(format!("failed to bind pod {pod} to node {:?}: {}", args.node, status.message)),
                }
            }
            Err(kube::Error::Api(status)) => {
                Err(format!("failed to bind pod {pod} to node {:?}: {} ({})", args.node, status.message, status.code))
            }
            Err(e) => Err(format!("failed to bind pod {pod} to node {:?}: {e}", args.node)),
        }
    }
}
