//! The API-server watch and bind, against a local fake API server that serves list and watch responses
//! and records Bindings.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use extender::{PodSource, ServerOptions};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::http::request;
use crate::state;

struct FakeApi {
    /// A path whose list never answers (an API server that is slow to list one kind).
    stuck_list: Option<&'static str>,
    nodes: Vec<Value>,
    pods: Vec<Value>,
    node_events: broadcast::Sender<String>,
    pod_events: broadcast::Sender<String>,
    bindings: Mutex<Vec<Value>>,
}

fn node(name: &str, cpu: &str) -> Value {
    json!({"metadata": {"name": name, "resourceVersion": "1", "labels": {"kubernetes.io/hostname": name}},
           "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}})
}

fn pod(name: &str, uid: &str, node: &str, cpu: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "1"},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu}}}]},
           "status": {"phase": "Running"}})
}

fn list(kind: &str, items: &[Value]) -> Response {
    let body = json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items});
    (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response()
}

fn status(code: u16, message: &str, reason: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": if code < 300 { "Success" } else { "Failure" },
                      "message": message, "reason": reason, "code": code});
    (StatusCode::from_u16(code).unwrap(), [("content-type", "application/json")], body.to_string()).into_response()
}

fn watch_stream(events: Option<&broadcast::Sender<String>>) -> Response {
    let body = match events {
        Some(sender) => {
            let rx = sender.subscribe();
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                let line = rx.recv().await.ok()?;
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(line + "\n")), rx))
            });
            Body::from_stream(stream)
        }
        // Kinds the test does not change: a watch that stays open and quiet.
        None => Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>()),
    };
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

async fn api(AxumState(fake): AxumState<Arc<FakeApi>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path();
    let watching = uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    if method == Method::POST {
        // /api/v1/namespaces/<ns>/pods/<name>/binding
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ["api", "v1", "namespaces", ns, "pods", name, "binding"] = parts[..] {
            let binding: Value = serde_json::from_slice(&body).unwrap();
            return match name {
                "taken" | "retried" => status(
                    409,
                    &format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node"),
                    "Conflict",
                ),
                _ => {
                    fake.bindings.lock().unwrap().push(json!({"namespace": ns, "binding": binding}));
                    status(201, "", "")
                }
            };
        }
        return status(404, "not found", "NotFound");
    }
    if let Some(rest) = path.strip_prefix("/api/v1/namespaces/default/pods/") {
        let node = if rest == "retried" { "n2" } else { "elsewhere" };
        let body = pod(rest, "u-x", node, "1").to_string();
        return (StatusCode::OK, [("content-type", "application/json")], body).into_response();
    }
    if !watching && fake.stuck_list == Some(path) {
        std::future::pending::<()>().await;
    }
    let (kind, items, events) = match path {
        "/api/v1/nodes" => ("NodeList", fake.nodes.clone(), Some(&fake.node_events)),
        "/api/v1/pods" => ("PodList", fake.pods.clone(), Some(&fake.pod_events)),
        _ => ("List", Vec::new(), None),
    };
    if watching { watch_stream(events) } else { list(kind, &items) }
}

async fn start_fake(fake: Arc<FakeApi>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(api).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A fake API server with these nodes and pods (the list of `stuck_list` never answers).
fn fake(stuck_list: Option<&'static str>, nodes: Vec<Value>, pods: Vec<Value>) -> Arc<FakeApi> {
    Arc::new(FakeApi {
        stuck_list,
        nodes,
        pods,
        node_events: broadcast::channel(16).0,
        pod_events: broadcast::channel(16).0,
        bindings: Mutex::new(Vec::new()),
    })
}

/// The extender talking to `fake`, watching or not; its address, its stop signal and its task.
async fn extender_on(
    fake: Arc<FakeApi>,
    source: PodSource,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let api_addr = start_fake(fake).await;
    let client = kube::Client::try_from(kube::Config::new(format!("http://{api_addr}").parse().unwrap())).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watch = source == PodSource::Watch;
    let server = tokio::spawn(extender::run(listener, state(source), Some(client), watch, ServerOptions::default(), async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

async fn health(addr: SocketAddr) -> Value {
    let (status, body) = request(addr, "GET", "/healthz", b"").await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

/// Waits until `/healthz` satisfies `ok`.
async fn wait_for(addr: SocketAddr, what: &str, ok: impl Fn(&Value) -> bool) {
    for _ in 0..200 {
        let h = health(addr).await;
        if ok(&h) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}: {}", health(addr).await);
}

async fn wait_for_watchers(sender: &broadcast::Sender<String>) {
    for _ in 0..200 {
        if sender.receiver_count() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the extender never started watching");
}

const NEW_POD: &str = r#"{"metadata":{"name":"new","namespace":"default","uid":"u-new"},"spec":{"containers":[{"name":"c","image":"i","resources":{"requests":{"cpu":"2"}}}]}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_keeps_the_cache_and_bind_creates_bindings() {
    let fake = fake(None, vec![node("n1", "4"), node("n2", "4")], vec![pod("big", "u-big", "n1", "3")]);
    let (addr, stop, server) = extender_on(fake.clone(), PodSource::Watch).await;

    wait_for(addr, "the initial lists", |h| h["synced"] == true).await;
    assert_eq!(request(addr, "GET", "/readyz", b"").await.0, 200);
    let h = health(addr).await;
    assert_eq!((h["nodes"].as_u64(), h["boundPods"].as_u64()), (Some(2), Some(1)), "{h}");
    assert_eq!(h["pods"], "watching the API server");

    // The listed pod fills n1.
    let filter = format!(r#"{{"Pod":{NEW_POD},"NodeNames":["n1","n2"]}}"#);
    let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
    assert_eq!(
        got,
        r#"{"Nodes":null,"NodeNames":["n2"],"FailedNodes":{"n1":"Insufficient cpu"},"FailedAndUnresolvableNodes":{},"Error":""}"#
    );

    // Watch events: the pod goes, a node comes.
    wait_for_watchers(&fake.pod_events).await;
    wait_for_watchers(&fake.node_events).await;
    fake.pod_events.send(json!({"type": "DELETED", "object": pod("big", "u-big", "n1", "3")}).to_string()).unwrap();
    fake.node_events.send(json!({"type": "ADDED", "object": node("n3", "8")}).to_string()).unwrap();
    wait_for(addr, "the watch events", |h| h["boundPods"] == 0 && h["nodes"] == 3).await;
    let filter = format!(r#"{{"Pod":{NEW_POD},"NodeNames":["n1","n2","n3"]}}"#);
    let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
    assert_eq!(got, r#"{"Nodes":null,"NodeNames":["n1","n2","n3"],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}"#);

    // Node objects in a call do not add nodes the watch has not reported (a call in flight must not bring
    // back a deleted node).
    let ghost = json!({"metadata": {"name": "ghost", "resourceVersion": "9"}, "status": {"allocatable": {"cpu": "64", "pods": "110"}}});
    let filter = format!(r#"{{"Pod":{NEW_POD},"Nodes":{{"items":[{ghost},{}]}}}}"#, node("n3", "8"));
    let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
    assert!(got.contains(r#""FailedNodes":{"ghost":"node \"ghost\" is not in simsched's node cache"}"#), "{got}");
    assert!(got.contains(r#""name":"n3""#), "{got}");
    assert_eq!(health(addr).await["nodes"], 3);

    // Bind creates the Binding, and the pod counts on its node at once.
    let (status, got) = request(addr, "POST", "/bind", br#"{"PodName":"new","PodNamespace":"default","PodUID":"u-new","Node":"n2"}"#).await;
    assert_eq!((status, got.as_str()), (200, r#"{"Error":""}"#));
    let bindings = fake.bindings.lock().unwrap().clone();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0]["namespace"], "default");
    assert_eq!(bindings[0]["binding"]["metadata"]["name"], "new");
    assert_eq!(bindings[0]["binding"]["metadata"]["uid"], "u-new");
    assert_eq!(bindings[0]["binding"]["target"]["kind"], "Node");
    assert_eq!(bindings[0]["binding"]["target"]["name"], "n2");
    assert_eq!(health(addr).await["boundPods"], 1);

    // A retried bind of a pod already on the requested node succeeds; a pod bound elsewhere fails.
    let (_, got) = request(addr, "POST", "/bind", br#"{"PodName":"retried","PodNamespace":"default","PodUID":"u-x","Node":"n2"}"#).await;
    assert_eq!(got, r#"{"Error":""}"#);
    let (_, got) = request(addr, "POST", "/bind", br#"{"PodName":"taken","PodNamespace":"default","PodUID":"u-y","Node":"n2"}"#).await;
    assert!(got.contains("failed to bind pod default/taken to node \\\"n2\\\"") && got.contains("already assigned"), "{got}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_api_server_that_is_down_is_an_error_not_a_crash() {
    // The TLS stack (rustls with ring) is set up when the client is built: an in-cluster API server is HTTPS.
    let mut config = kube::Config::new("https://127.0.0.1:9".parse().unwrap());
    config.connect_timeout = Some(Duration::from_millis(500));
    let client = kube::Client::try_from(config).unwrap();
    let binder = extender::Binder::new(client);
    let args = extender::wire::ExtenderBindingArgs {
        pod_name: "p".into(),
        pod_namespace: "default".into(),
        pod_uid: "u".into(),
        node: "n".into(),
    };
    let error = binder.bind(&args, scheduler_core::gpu::GpuSet::EMPTY).await.unwrap_err();
    assert!(error.starts_with("failed to bind pod default/p to node \"n\":"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_every_kind_is_listed() {
    let fake = fake(Some("/apis/apps/v1/statefulsets"), vec![node("n1", "4")], Vec::new());
    let (addr, stop, server) = extender_on(fake, PodSource::Watch).await;
    // The nodes are listed, the StatefulSets never are: alive, serving, not ready.
    wait_for(addr, "the node list", |h| h["nodes"] == 1).await;
    assert_eq!(health(addr).await["synced"], false);
    let (status, body) = request(addr, "GET", "/readyz", b"").await;
    assert_eq!((status, body.as_str()), (503, r#"{"status":"listing the cluster"}"#));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_watch_the_pods_counted_are_those_it_bound() {
    let fake = fake(None, Vec::new(), Vec::new());
    let (addr, stop, server) = extender_on(fake.clone(), PodSource::SelfBound).await;
    let h = health(addr).await;
    assert!(h["pods"].as_str().unwrap().starts_with("self-bound"), "{h}");
    // Nodes come with the calls; the pod is counted once this server bound it.
    let filter = format!(r#"{{"Pod":{NEW_POD},"Nodes":{{"items":[{},{}]}}}}"#, node("n1", "2"), node("n2", "4"));
    let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
    assert!(got.ends_with(r#""FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}"#), "{got}");
    assert_eq!(health(addr).await["boundPods"], 0);
    let (_, got) = request(addr, "POST", "/bind", br#"{"PodName":"new","PodNamespace":"default","PodUID":"u-new","Node":"n1"}"#).await;
    assert_eq!(got, r#"{"Error":""}"#);
    assert_eq!(fake.bindings.lock().unwrap().len(), 1);
    assert_eq!(health(addr).await["boundPods"], 1);
    // n1 (2 CPU) is now full for a second pod of 2 CPU.
    let second = NEW_POD.replace("\"new\"", "\"second\"").replace("u-new", "u-second");
    let filter = format!(r#"{{"Pod":{second},"NodeNames":["n1","n2"]}}"#);
    let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
    assert_eq!(
        got,
        r#"{"Nodes":null,"NodeNames":["n2"],"FailedNodes":{"n1":"Insufficient cpu"},"FailedAndUnresolvableNodes":{},"Error":""}"#
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_sharing_pod_is_bound_with_its_gpu_index() {
    let gpu_node = json!({"metadata": {"name": "g1", "resourceVersion": "1"}, "status": {"allocatable":
        {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "2", "alibabacloud.com/gpu-milli": "2000"}}});
    let fake = fake(None, vec![gpu_node], Vec::new());
    let (addr, stop, server) = extender_on(fake.clone(), PodSource::SelfBound).await;
    let share = |name: &str, uid: &str| {
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"default","uid":"{uid}"}},"spec":{{"containers":[{{"name":"c","image":"i","resources":{{"requests":{{"cpu":"1","alibabacloud.com/gpu-milli":"700"}}}}}}]}}}}"#
        )
    };
    // Two pods of 700 milli-GPU cannot share a GPU: the second one gets the other GPU.
    for (name, uid, gpu) in [("s1", "u-s1", "0"), ("s2", "u-s2", "1")] {
        let filter = format!(r#"{{"Pod":{},"Nodes":{{"items":[{}]}}}}"#, share(name, uid), fake.nodes[0]);
        let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
        assert!(got.contains(r#""FailedNodes":{}"#), "{got}");
        let bind = format!(r#"{{"PodName":"{name}","PodNamespace":"default","PodUID":"{uid}","Node":"g1"}}"#);
        let (_, got) = request(addr, "POST", "/bind", bind.as_bytes()).await;
        assert_eq!(got, r#"{"Error":""}"#);
        let last = fake.bindings.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last["binding"]["metadata"]["annotations"]["alibabacloud.com/gpu-index"], gpu, "{last}");
    }
    // A third does not fit: 600 milli-GPU are left (kube-scheduler's default profile checks the total).
    let filter = format!(r#"{{"Pod":{},"NodeNames":["g1"]}}"#, share("s3", "u-s3"));
    let (_, got) = request(addr, "POST", "/filter", filter.as_bytes()).await;
    assert!(got.contains(r#""FailedNodes":{"g1":"Insufficient alibabacloud.com/gpu-milli"}"#), "{got}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
