//! A Kubernetes scheduler-extender backend: simsched's plugins served over HTTP to a stock kube-scheduler
//! (`simsched serve`).
//!
//! The key design decision: the extender is the simulator's scheduler on a live copy of the cluster. A
//! [`State`] holds a `Cluster` fed by API-server watches (or by the pods this server binds itself) and a
//! `Scheduler` built from the user's KubeSchedulerConfiguration; each verb runs the same plugins the
//! simulator runs, on the nodes the call names (no sampling). The wire types ([`wire`]) are upstream's
//! `extender/v1` encoded byte for byte as Go encodes them.

pub mod binder;
pub mod metrics;
pub mod server;
pub mod state;
pub mod watch;
pub mod wire;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use binder::Binder;
pub use metrics::{Metrics, Verb};
pub use server::{App, ServerOptions};
pub use state::{PodSource, State};

/// A kube client from a kubeconfig file, or from the pod's service account (`in_cluster`).
pub async fn kube_client(kubeconfig: Option<&Path>, in_cluster: bool) -> anyhow::Result<kube::Client> {
    use anyhow::Context as _;
    let config = if in_cluster {
        kube::Config::incluster().context("failed to read the in-cluster service account configuration")?
    } else if let Some(path) = kubeconfig {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(path).with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .with_context(|| format!("failed to load kubeconfig {}", path.display()))?
    } else {
        anyhow::bail!("no API server: give --kubeconfig or --in-cluster");
    };
    kube::Client::try_from(config).context("failed to create the API-server client")
}

/// Serves the extender on `listener` until `shutdown` completes: watches the API server when `watch`
/// and a client are given, binds with the client when there is one.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: State,
    client: Option<kube::Client>,
    watch: bool,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Err(e) = server::checked_prefix(&options.prefix) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
    }
    let state = Arc::new(Mutex::new(state));
    let metrics = Arc::new(Metrics::default());
    let synced = Arc::new(AtomicUsize::new(0));
    let watching = watch && client.is_some();
    if let (true, Some(client)) = (watching, &client) {
        watch::spawn_watches(client.clone(), state.clone(), metrics.clone(), synced.clone());
    }
    let synced_fn: Arc<dyn Fn() -> bool + Send + Sync> = Arc::new(move || !watching || synced.load(Ordering::SeqCst) >= watch::N_KINDS);
    let app = Arc::new(App::new(state, metrics, client.map(Binder::new), options, synced_fn));
    server::serve(listener, app, shutdown).await
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// How `simsched serve` reaches the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiAccess {
    /// No API server: no watch, no bind.
    None,
    /// A kubeconfig file.
    Kubeconfig(std::path::PathBuf),
    /// The pod's service account.
    InCluster,
}

/// Everything `simsched serve` decides before serving.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: std::net::SocketAddr,
    /// API-server access.
    pub api: ApiAccess,
    /// Whether to watch the API server (with access); otherwise pods are those this server binds.
    pub watch: bool,
    /// Server options.
    pub options: ServerOptions,
}

/// Runs the extender on its own tokio runtime until SIGTERM or Ctrl-C (the CLI stays synchronous).
pub fn serve_blocking(state: State, config: ServeConfig) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let client = match &config.api {
            ApiAccess::None => None,
            ApiAccess::Kubeconfig(path) => Some(kube_client(Some(path), false).await?),
            ApiAccess::InCluster => Some(kube_client(None, true).await?),
        };
        let listener =
            tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("failed to listen on {}", config.listen))?;
        let local = listener.local_addr().context("failed to read the listening address")?;
        let verbs: Vec<&str> = config.options.verbs.iter().map(|v| v.as_str()).collect();
        tracing::info!(
            address = %local,
            prefix = %config.options.prefix,
            verbs = %verbs.join(","),
            pods = state.source().describe(),
            "simsched extender listening"
        );
        if state.source() != PodSource::Watch {
            tracing::warn!("pods are not watched: {}", state.source().describe());
        }
        run(listener, state, client, config.watch, config.options, shutdown_signal()).await.context("server failed")
    })
}
