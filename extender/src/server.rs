//! The HTTP server: one route per verb under the URL prefix, `/healthz`, `/readyz` and `/metrics`, with a body limit,
//! a deadline on every request, bounded concurrency and graceful shutdown.
//!
//! Every answer is JSON. A verb whose result type has an `Error` field (filter, bind) answers failures
//! with HTTP 200 and that field set, as the protocol intends; the others answer HTTP 400 (bad request) or
//! 503 (deadline or overload) with `{"Error":"…"}`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::Semaphore;

use crate::binder::Binder;
use crate::metrics::{Metrics, Verb};
use crate::state::{PodSource, State, StateCounts};
use crate::wire::{self, ExtenderBindingArgs, ExtenderBindingResult, ExtenderFilterResult, to_go_json};
use scheduler_core::gpu::GpuSet;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// URL prefix of the verbs (`/scheduler` serves `/scheduler/filter`); `/` or empty for none.
    pub prefix: String,
    /// The verbs served; others answer 404.
    pub verbs: Vec<Verb>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Every request is answered within this time (below the scheduler's 5 s `httpTimeout`).
    pub deadline: Duration,
    /// Requests evaluated at once; more wait (within their deadline).
    pub max_concurrency: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            prefix: String::new(),
            verbs: Verb::ALL.to_vec(),
            body_limit: 64 << 20,
            deadline: Duration::from_secs(4),
            max_concurrency: 8,
        }
    }
}

/// What the handlers share.
pub struct App {
    state: Arc<Mutex<State>>,
    metrics: Arc<Metrics>,
    binder: Option<Binder>,
    options: ServerOptions,
    permits: Arc<Semaphore>,
    synced: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl App {
    /// The app around `state`; `binder` creates Bindings (the bind verb needs one); `synced` tells
    /// `/healthz` whether the watches have listed everything once.
    pub fn new(
        state: Arc<Mutex<State>>,
        metrics: Arc<Metrics>,
        binder: Option<Binder>,
        options: ServerOptions,
        synced: Arc<dyn Fn() -> bool + Send + Sync>,
    ) -> App {
        let permits = Arc::new(Semaphore::new(options.max_concurrency.max(1)));
        App { state, metrics, binder, options, permits, synced }
    }
}

/// Locks the state, whether or not an earlier holder panicked (its update is then partial, as a failed
/// request's is; the next watch event or request repairs it).
pub fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The URL prefix as the router uses it (no trailing `/`, empty for none), or why it is not a path such
/// as the extender stanza's `urlPrefix` has (`/scheduler`).
pub fn checked_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim_end_matches('/');
    let bad = |why: &str| {
        Err(format!(
            "invalid URL prefix {prefix:?}: {why}; expected a path such as /scheduler (the path of the extender stanza's urlPrefix)"
        ))
    };
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') {
        return bad("it does not start with /");
    }
    if trimmed.contains("//") {
        return bad("it has an empty segment");
    }
    if trimmed.split('/').any(|seg| seg.starts_with(':') || seg.starts_with('*')) || trimmed.contains(['{', '}', '?', '#', ' ']) {
        return bad("only plain path segments are allowed");
    }
    Ok(trimmed.to_string())
}

/// The router: `POST <prefix>/<verb>` for each served verb, `GET /healthz`, `GET /readyz`, `GET /metrics`.
/// The prefix must pass [`checked_prefix`]; one that does not serves the verbs at the root.
pub fn router(app: Arc<App>) -> Router {
    let prefix = checked_prefix(&app.options.prefix).unwrap_or_default();
    let mut router = Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics));
    for verb in app.options.verbs.clone() {
        router = router.route(
            &format!("{prefix}/{}", verb.as_str()),
            post(move |AxumState(app): AxumState<Arc<App>>, body: Body| handle(app, verb, body)),
        );
    }
    router.fallback(not_found).method_not_allowed_fallback(method_not_allowed).with_state(app)
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app).into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        to_go_json(&ExtenderBindingResult {
            error: "no such path; the extender serves POST <prefix>/<verb>, GET /healthz, GET /readyz and GET /metrics".into(),
        }),
    )
}

async fn method_not_allowed() -> Response {
    json(
        StatusCode::METHOD_NOT_ALLOWED,
        to_go_json(&ExtenderBindingResult {
            error: "method not allowed: the verbs take POST, /healthz, /readyz and /metrics take GET".into(),
        }),
    )
}

/// The state's counts and pod source without waiting for it: `None` while a decision or an update holds
/// it (a probe must not wait behind a rebuild).
fn peek(app: &App) -> Option<(StateCounts, PodSource)> {
    let state = match app.state.try_lock() {
        Ok(state) => state,
        Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    Some((state.counts(), state.source()))
}

async fn healthz(AxumState(app): AxumState<Arc<App>>) -> Response {
    let mut body = serde_json::json!({
        "status": "ok",
        "synced": (app.synced)(),
        "verbs": app.options.verbs.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
    });
    match peek(&app) {
        Some((counts, source)) => {
            body["pods"] = source.describe().into();
            body["nodes"] = counts.nodes.into();
            body["boundPods"] = counts.pods.into();
            body["podsOnUnknownNodes"] = counts.orphan_pods.into();
        }
        None => body["busy"] = true.into(),
    }
    json(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
}

/// 200 once every watch has listed its kind (at once without watches), 503 before: a readiness probe.
async fn readyz(AxumState(app): AxumState<Arc<App>>) -> Response {
    if (app.synced)() {
        json(StatusCode::OK, br#"{"status":"ready"}"#.to_vec())
    } else {
        json(StatusCode::SERVICE_UNAVAILABLE, br#"{"status":"listing the cluster"}"#.to_vec())
    }
}

async fn metrics(AxumState(app): AxumState<Arc<App>>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render(peek(&app))).into_response()
}

/// A failed request: the message, and the HTTP status for verbs whose result has no `Error` field.
#[derive(Debug)]
pub struct Failure {
    /// The message.
    pub message: String,
    /// The HTTP status (prioritize and preempt).
    pub status: StatusCode,
}

impl Failure {
    fn bad_request(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), status: StatusCode::BAD_REQUEST }
    }

    fn unavailable(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), status: StatusCode::SERVICE_UNAVAILABLE }
    }

    /// The answer for `verb`.
    fn into_response(self, verb: Verb) -> Response {
        match verb {
            Verb::Filter => {
                json(StatusCode::OK, to_go_json(&ExtenderFilterResult { error: self.message, ..ExtenderFilterResult::default() }))
            }
            Verb::Bind => json(StatusCode::OK, to_go_json(&ExtenderBindingResult { error: self.message })),
            Verb::Prioritize | Verb::Preempt => json(self.status, to_go_json(&ExtenderBindingResult { error: self.message })),
        }
    }
}

async fn handle(app: Arc<App>, verb: Verb, body: Body) -> Response {
    let started = Instant::now();
    let deadline = app.options.deadline;
    let outcome = match tokio::time::timeout(deadline, answer(&app, verb, body, started.checked_add(deadline))).await {
        Ok(outcome) => outcome,
        Err(_) => {
            Err(Failure::unavailable(format!("simsched extender: {} did not finish within its {deadline:?} deadline", verb.as_str())))
        }
    };
    app.metrics.observe(verb, started.elapsed(), outcome.is_err());
    match outcome {
        Ok(body) => json(StatusCode::OK, body),
        Err(failure) => {
            tracing::warn!(verb = verb.as_str(), error = %failure.message, "request failed");
            failure.into_response(verb)
        }
    }
}

async fn answer(app: &Arc<App>, verb: Verb, body: Body, deadline: Option<Instant>) -> Result<Vec<u8>, Failure> {
    let permit = app.permits.clone().acquire_owned().await.map_err(|_| Failure::unavailable("simsched extender is shutting down"))?;
    let limit = app.options.body_limit;
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(Failure {
                message: format!("request body exceeds the limit of {limit} bytes (--max-body)"),
                status: StatusCode::PAYLOAD_TOO_LARGE,
            });
        }
        Err(e) => return Err(Failure::bad_request(format!("failed to read the request body: {e}"))),
    };
    if verb == Verb::Bind {
        return bind(app, &bytes).await;
    }
    let state = app.state.clone();
    // The permit goes with the work: a request whose deadline passed still holds its slot until its
    // blocking task ends, so timed-out requests cannot pile up beyond --max-concurrency; and a task that
    // gets the state after the deadline does not compute an answer nobody reads.
    let computed = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut state = lock(&state);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Failure::unavailable("simsched extender: the deadline passed while waiting for the cluster state"));
        }
        decide(&mut state, verb, &bytes)
    })
    .await;
    match computed {
        Ok(result) => result,
        Err(e) => Err(Failure::unavailable(format!("simsched extender: internal error while answering {}: {e}", verb.as_str()))),
    }
}

/// Decodes a filter, prioritize or preempt request and answers it from `state`.
pub fn decide(state: &mut State, verb: Verb, body: &[u8]) -> Result<Vec<u8>, Failure> {
    let decode_error = |what: &str, e: wire::DecodeError| Failure::bad_request(format!("failed to decode {what}: {e}"));
    let logical = |e: crate::state::RequestError| Failure::bad_request(e.0);
    match verb {
        Verb::Filter => {
            let args: wire::ExtenderArgs<'_> = wire::decode(body).map_err(|e| decode_error("ExtenderArgs", e))?;
            let result = state.filter(&args).map_err(logical)?;
            let capacity = if result.nodes.is_some() { body.len() } else { 64 + 24 * result.node_names.as_ref().map_or(0, Vec::len) };
            Ok(wire::encode_filter_result(&result, capacity))
        }
        Verb::Prioritize => {
            let args: wire::ExtenderArgs<'_> = wire::decode(body).map_err(|e| decode_error("ExtenderArgs", e))?;
            Ok(wire::encode_host_priorities(&state.prioritize(&args).map_err(logical)?))
        }
        Verb::Preempt => {
            let args: wire::ExtenderPreemptionArgs<'_> = wire::decode(body).map_err(|e| decode_error("ExtenderPreemptionArgs", e))?;
            Ok(to_go_json(&state.preempt(&args).map_err(logical)?))
        }
        Verb::Bind => Err(Failure::bad_request("bind is answered by the server, not decided from the state")),
    }
}

async fn bind(app: &Arc<App>, body: &[u8]) -> Result<Vec<u8>, Failure> {
    let args: ExtenderBindingArgs =
        wire::decode(body).map_err(|e| Failure::bad_request(format!("failed to decode ExtenderBindingArgs: {e}")))?;
    for (field, value) in [("PodName", &args.pod_name), ("PodNamespace", &args.pod_namespace), ("Node", &args.node)] {
        if value.is_empty() {
            return Err(Failure::bad_request(format!("{field}: Required value")));
        }
    }
    let Some(binder) = &app.binder else {
        return Err(Failure::bad_request("bind needs API-server access (--kubeconfig or --in-cluster)"));
    };
    // The state may be held by a decision for a while: wait for it off the async workers.
    let gpus = tokio::task::block_in_place(|| lock(&app.state).reserve_gpus(&args.pod_uid, &args.node)).unwrap_or_else(|e| {
        tracing::warn!(pod = %format!("{}/{}", args.pod_namespace, args.pod_name), error = %e, "no GPUs chosen at bind");
        GpuSet::EMPTY
    });
    binder.bind(&args, gpus).await.map_err(Failure::bad_request)?;
    let recorded = tokio::task::block_in_place(|| lock(&app.state).record_binding(&args.pod_uid, &args.node, gpus));
    if let Err(e) = recorded {
        tracing::warn!(pod = %format!("{}/{}", args.pod_namespace, args.pod_name), error = %e, "bound a pod this server cannot count yet");
    }
    Ok(to_go_json(&ExtenderBindingResult::default()))
}

#[cfg(test)]
mod tests {
    use super::checked_prefix;

    #[test]
    fn prefixes_are_plain_paths() {
        for (given, expected) in [("", ""), ("/", ""), ("/scheduler", "/scheduler"), ("/a/b/", "/a/b")] {
            assert_eq!(checked_prefix(given).as_deref(), Ok(expected), "{given:?}");
        }
        for bad in ["scheduler", "http://host:8888/scheduler", "/:x", "/*", "/a//b", "/a?b", "/{v}"] {
            assert!(checked_prefix(bad).is_err(), "{bad:?} accepted");
        }
    }
}
