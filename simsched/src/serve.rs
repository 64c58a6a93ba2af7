//! `simsched serve`: the scheduler-extender backend.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;

use extender::{ApiAccess, PodSource, ServeConfig, ServerOptions, State, Verb};
use scheduler_core::{Cluster, Scheduler, SchedulerConfig};

pub const LONG_ABOUT: &str = "Serve simsched's plugins to a stock kube-scheduler over HTTP, as a scheduler extender \
(the `extenders:` stanza of a KubeSchedulerConfiguration). POST <prefix>/filter, /prioritize, /preempt and /bind answer \
in upstream's extender/v1 wire format; GET /healthz, /readyz and /metrics (Prometheus text) report state.\n\n\
With --kubeconfig or --in-cluster, the server watches Nodes, Pods, Namespaces, Services, controllers and \
PodDisruptionBudgets, and bind creates the pod's Binding (with --no-watch it only binds, and counts the pods it \
bound). Without API-server access it knows the nodes sent to it (nodeCacheCapable: false) and those of --cluster, \
and counts only the pods of --cluster; bind is then not served. Preempt is served by default only when watching.";

pub const EXAMPLES: &str = "Examples:
  simsched serve --listen 127.0.0.1:8888 --prefix /scheduler --kubeconfig ~/.kube/config
  simsched serve --config sched.yaml --in-cluster
  simsched serve --cluster cluster.yaml --verbs filter,prioritize
  # GPU sharing: FGD against the typical pods of a workload, GPUs chosen at bind
  simsched serve --policy fgd --workload pods.csv --in-cluster";

#[derive(Parser)]
pub struct Args {
    /// A KubeSchedulerConfiguration whose first profile decides (or the profile named by the pod's
    /// schedulerName); default: kube-scheduler's default profile
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// A built-in policy instead of --config (`simsched policies`; `fgd` for GPU sharing)
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    policy: Option<String>,

    /// A workload (any format `simsched run` reads) whose pods are the typical pods FGD measures
    /// fragmentation against, when its pluginConfig lists none
    #[arg(long, value_name = "FILE")]
    workload: Option<PathBuf>,

    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8888")]
    listen: SocketAddr,

    /// URL prefix of the verbs: the extender stanza's urlPrefix path (`/scheduler` serves /scheduler/filter)
    #[arg(long, value_name = "PATH", default_value = "/")]
    prefix: String,

    /// Watch and bind through the API server of this kubeconfig
    #[arg(long, value_name = "PATH", conflicts_with = "in_cluster")]
    kubeconfig: Option<PathBuf>,

    /// Watch and bind through the API server of the pod's service account
    #[arg(long)]
    in_cluster: bool,

    /// With API-server access, do not watch: count only the pods this server binds
    #[arg(long)]
    no_watch: bool,

    /// A cluster file (kubectl get nodes,pods,... -o yaml, or simsched's formats) to start from
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,

    /// Verbs to serve, comma-separated; default: filter and prioritize, plus preempt when watching and bind
    /// with API-server access
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    verbs: Vec<String>,

    /// Largest request body accepted (a quantity: 64Mi, 512Ki, 1000000)
    #[arg(long, value_name = "SIZE", default_value = "64Mi")]
    max_body: String,

    /// Every request is answered within this time; keep it below the extender stanza's httpTimeout (5s)
    #[arg(long, value_name = "DURATION", default_value = "4s")]
    deadline: String,

    /// Requests evaluated at once; more wait within their deadline
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_concurrency: usize,

    /// Seed of the scheduler's random choices (preemption's candidate offset)
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: &Args) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIMSCHED_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();

    let config = match (&args.config, &args.policy) {
        (None, None) => SchedulerConfig::default(),
        (None, Some(spec)) => plugins::policy_config(spec).with_context(|| format!("failed to use --policy {spec}"))?,
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("failed to read scheduler config {}", path.display()))?;
            SchedulerConfig::from_yaml(&text).with_context(|| format!("failed to load scheduler config {}", path.display()))?
        }
    };
    let api = match (&args.kubeconfig, args.in_cluster) {
        (Some(path), _) => ApiAccess::Kubeconfig(path.clone()),
        (None, true) => ApiAccess::InCluster,
        (None, false) => ApiAccess::None,
    };
    let has_api = api != ApiAccess::None;
    let verbs = if args.verbs.is_empty() {
        // Preempt answers with pods the server must know as the scheduler knows them: a watch's.
        let mut verbs = vec![Verb::Filter, Verb::Prioritize];
        if has_api && !args.no_watch {
            verbs.push(Verb::Preempt);
        }
        if has_api {
            verbs.push(Verb::Bind);
        }
        verbs
    } else {
        let mut verbs = Vec::new();
        for name in &args.verbs {
            let verb = Verb::parse(name.trim())
                .with_context(|| format!("invalid --verbs entry {name:?}: expected filter, prioritize, preempt or bind"))?;
            if !verbs.contains(&verb) {
                verbs.push(verb);
            }
        }
        verbs
    };
    if verbs.contains(&Verb::Bind) && !has_api {
        bail!("--verbs bind needs API-server access to create Bindings: give --kubeconfig or --in-cluster");
    }
    let body_limit = scheduler_core::Quantity::parse(&args.max_body)
        .ok()
        .map(|q| q.value())
        .filter(|&v| v > 0)
        .and_then(|v| usize::try_from(v).ok())
        .with_context(|| format!("invalid --max-body {:?}: expected a positive size such as 64Mi", args.max_body))?;
    let deadline_micros = crate::duration::parse_duration(&args.deadline).map_err(|e| anyhow::anyhow!("invalid --deadline: {e}"))?;
    if deadline_micros == 0 {
        bail!("invalid --deadline {:?}: expected a positive duration such as 4s", args.deadline);
    }
    if deadline_micros >= 5_000_000 {
        eprintln!(
            "warning: --deadline {} is not below kube-scheduler's default extender httpTimeout (5s): raise the stanza's httpTimeout above it",
            args.deadline
        );
    }
    let prefix = extender::server::checked_prefix(&args.prefix).map_err(|e| anyhow::anyhow!("{e}"))?;
    if has_api && !args.no_watch && args.cluster.is_some() {
        bail!("--cluster cannot be combined with watching the API server (the watch is the cluster); add --no-watch or drop --cluster");
    }

    let mut cluster = Cluster::new();
    let registry = match &args.workload {
        None => plugins::registry(),
        Some(path) => {
            let workload = traces::open_workload(path, None, &traces::ReadOptions::default()).context("failed to load the workload")?;
            let pool = simulator::DemandPool::read(workload).context("failed to load the workload")?;
            let typical = pool.typical_pods(&mut cluster).context("failed to load the workload")?;
            plugins::registry_for_workload(std::sync::Arc::new(typical))
        }
    };
    let scheduler =
        Scheduler::from_config(&config, &registry, &mut cluster, args.seed).with_context(|| match (&args.config, &args.policy) {
            (Some(path), _) => format!("failed to build the scheduler from {}", path.display()),
            (None, Some(spec)) => format!("failed to build the scheduler of --policy {spec}"),
            (None, None) => "failed to build the default scheduler".to_string(),
        })?;
    let watch = has_api && !args.no_watch;
    let source = match (watch, has_api) {
        (true, _) => PodSource::Watch,
        (false, true) => PodSource::SelfBound,
        (false, false) => PodSource::Static,
    };
    let mut state = State::new(cluster, scheduler, source);
    if let Some(path) = &args.cluster {
        let input = traces::read_cluster(path).context("failed to load the cluster")?;
        state.load(&input).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())).context("failed to load the cluster")?;
    }
    let options = ServerOptions {
        prefix,
        verbs,
        body_limit,
        deadline: std::time::Duration::from_micros(deadline_micros),
        max_concurrency: args.max_concurrency.max(1),
    };
    extender::serve_blocking(state, ServeConfig { listen: args.listen, api, watch, options })
}
