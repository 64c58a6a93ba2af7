//! The server over loopback: every kind of bad request gets a clear answer, deadlines hold, shutdown is
//! graceful, `/healthz` and `/metrics` report.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use extender::server::{self, App, ServerOptions};
use extender::{Metrics, PodSource, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::state;

/// One HTTP/1.1 request on a fresh connection: the status and the body.
pub async fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The server may answer (and close) before reading all of an oversized body.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn start(state: State, options: ServerOptions) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(state));
    let app = Arc::new(App::new(state.clone(), Arc::new(Metrics::default()), None, options, Arc::new(|| true)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    Running { addr, state, stop: Some(stop), done }
}

const POD: &str = r#"{"metadata":{"name":"p","namespace":"default","uid":"u-1"},"spec":{"containers":[{"name":"c","image":"i","resources":{"requests":{"cpu":"1"}}}]}}"#;
const NODE: &str = r#"{"metadata":{"name":"n1","resourceVersion":"7"},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"}}}"#;

fn filter_body() -> String {
    format!(r#"{{"Pod":{POD},"Nodes":{{"metadata":{{}},"items":[{NODE}]}},"NodeNames":null}}"#)
}

fn error_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body:?} is not JSON: {e}"));
    v["Error"].as_str().unwrap_or_else(|| panic!("no Error in {body}")).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_answers() {
    let options = ServerOptions { prefix: "/scheduler".into(), body_limit: 4096, ..ServerOptions::default() };
    let mut server = start(state(PodSource::Static), options).await;
    let addr = server.addr;
    let check = |verb: &'static str, body: String, status: u16, error: &'static str| async move {
        let (got_status, got) = request(addr, "POST", &format!("/scheduler/{verb}"), body.as_bytes()).await;
        assert_eq!(got_status, status, "{verb} {body:?}: {got}");
        let message = error_of(&got);
        assert!(message.contains(error), "{verb} {body:?}: {message:?} lacks {error:?}");
        if verb == "filter" {
            // The whole ExtenderFilterResult, with null for what is absent.
            assert!(
                got.starts_with(r#"{"Nodes":null,"NodeNames":null,"FailedNodes":null,"FailedAndUnresolvableNodes":null,"Error":""#),
                "{got}"
            );
        }
    };
    check("filter", "{not json".into(), 200, "failed to decode ExtenderArgs: key must be a string at line 1 column 2").await;
    check("prioritize", "{not json".into(), 400, "failed to decode ExtenderArgs").await;
    check("preempt", "[]".into(), 400, "expected an ExtenderPreemptionArgs JSON object").await;
    check("filter", r#"{"Pod":{},"NodeNames":5}"#.into(), 200, "NodeNames: invalid type: integer `5`, expected a sequence").await;
    check(
        "filter",
        r#"{"Pod":{"metadata":{"name":"p"},"spec":{"containers":"x"}},"NodeNames":[]}"#.into(),
        200,
        "Pod: invalid type: string",
    )
    .await;
    check("filter", r#"{"NodeNames":["n1"]}"#.into(), 200, "Pod: Required value").await;
    check("filter", format!(r#"{{"Pod":{POD}}}"#), 200, "Nodes and NodeNames: Required value").await;
    check(
        "filter",
        format!(r#"{{"Pod":{POD},"Nodes":{{"items":[{{"metadata":{{"name":"n2"}},"status":{{"allocatable":{{"cpu":"x"}}}}}}]}}}}"#),
        200,
        "Nodes.items[0]",
    )
    .await;
    check(
        "filter",
        format!(r#"{{"Pod":{POD},"NodeNames":["n1"],"pad":"{}"}}"#, "x".repeat(5000)),
        200,
        "request body exceeds the limit of 4096 bytes",
    )
    .await;
    check("prioritize", format!(r#"{{"Pod":{POD},"NodeNames":["n1"],"pad":"{}"}}"#, "x".repeat(5000)), 413, "exceeds the limit").await;
    check("bind", r#"{"PodName":"p","PodNamespace":"default","PodUID":"u-1","Node":"n1"}"#.into(), 200, "bind needs API-server access")
        .await;
    check("bind", r#"{"PodName":"","PodNamespace":"default","Node":"n1"}"#.into(), 200, "PodName: Required value").await;

    // An empty node list and an unknown node are answers, not errors.
    let (status, got) = request(addr, "POST", "/scheduler/filter", format!(r#"{{"Pod":{POD},"NodeNames":[]}}"#).as_bytes()).await;
    assert_eq!(
        (status, got.as_str()),
        (200, r#"{"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}"#)
    );
    let (status, got) = request(addr, "POST", "/scheduler/prioritize", format!(r#"{{"Pod":{POD},"NodeNames":[]}}"#).as_bytes()).await;
    assert_eq!((status, got.as_str()), (200, "[]"));
    let (status, got) = request(addr, "POST", "/scheduler/filter", format!(r#"{{"Pod":{POD},"NodeNames":["nope"]}}"#).as_bytes()).await;
    assert_eq!(
        (status, got.as_str()),
        (
            200,
            r#"{"Nodes":null,"NodeNames":[],"FailedNodes":{"nope":"node \"nope\" is not in simsched's node cache"},"FailedAndUnresolvableNodes":{},"Error":""}"#
        )
    );
    let (status, got) = request(
        addr,
        "POST",
        "/scheduler/preempt",
        format!(r#"{{"Pod":{POD},"NodeNameToMetaVictims":{{"nope":{{"Pods":[{{"UID":"x"}}]}}}}}}"#).as_bytes(),
    )
    .await;
    assert_eq!((status, got.as_str()), (200, r#"{"NodeNameToMetaVictims":{}}"#));

    // Wrong method, wrong path.
    let (status, got) = request(addr, "GET", "/scheduler/filter", b"").await;
    assert_eq!(status, 405);
    assert!(error_of(&got).contains("method not allowed"));
    let (status, got) = request(addr, "POST", "/filter", b"{}").await;
    assert_eq!(status, 404);
    assert!(error_of(&got).contains("no such path"));

    // The real thing works, and is counted.
    let (status, got) = request(addr, "POST", "/scheduler/filter", filter_body().as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(
        got,
        format!(
            r#"{{"Nodes":{{"metadata":{{}},"items":[{NODE}]}},"NodeNames":null,"FailedNodes":{{}},"FailedAndUnresolvableNodes":{{}},"Error":""}}"#
        )
    );
    let (status, metrics) = request(addr, "GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("simsched_extender_requests_total{verb=\"filter\"} 10"), "{metrics}");
    assert!(metrics.contains("simsched_extender_errors_total{verb=\"filter\"} 7"), "{metrics}");
    assert!(metrics.contains("simsched_extender_nodes 1"), "{metrics}");
    let (status, health) = request(addr, "GET", "/healthz", b"").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["nodes"], 1);
    assert!(health["pods"].as_str().unwrap().starts_with("static"), "{health}");
    assert_eq!(request(addr, "GET", "/readyz", b"").await, (200, r#"{"status":"ready"}"#.to_string()));
    server.shutdown();
    server.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_answers_even_when_the_state_is_busy() {
    let options = ServerOptions { deadline: Duration::from_millis(200), max_concurrency: 1, ..ServerOptions::default() };
    let server = start(state(PodSource::Static), options).await;
    let addr = server.addr;
    // Hold the state as a long watch update would; both requests (one waiting for the only permit) still
    // get their answers within the deadline.
    let guard_state = server.state.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _guard = server::lock(&guard_state);
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
    });
    locked_rx.recv().unwrap();
    let started = std::time::Instant::now();
    let body = filter_body();
    let (a, b) = tokio::join!(request(addr, "POST", "/filter", body.as_bytes()), request(addr, "POST", "/prioritize", body.as_bytes()));
    assert!(started.elapsed() < Duration::from_secs(2), "answers took {:?}", started.elapsed());
    assert_eq!(a.0, 200);
    assert!(error_of(&a.1).contains("did not finish within its 200ms deadline"), "{}", a.1);
    assert_eq!(b.0, 503);
    assert!(error_of(&b.1).contains("deadline"), "{}", b.1);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    // Released, the server answers again.
    let (status, got) = request(addr, "POST", "/filter", body.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(error_of(&got), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let mut server = start(state(PodSource::Static), ServerOptions::default()).await;
    let addr = server.addr;
    let guard_state = server.state.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let _guard = server::lock(&guard_state);
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    locked_rx.recv().unwrap();
    let body = filter_body();
    let in_flight = tokio::spawn(async move { request(addr, "POST", "/filter", body.as_bytes()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown();
    let (status, got) = in_flight.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(error_of(&got), "", "{got}");
    holder.join().unwrap();
    server.done.await.unwrap().unwrap();
    // And no new connection is accepted.
    assert!(TcpStream::connect(addr).await.is_err());
}
