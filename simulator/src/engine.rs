//! The simulation: workload arrivals and events in time order, the scheduling queue, the scheduler, and
//! the metrics they produce.
//!
//! Model. Arrivals enter the queue (unless gated); whenever the scheduler is free it pops pods and runs one
//! scheduling cycle per pod at the current instant. A placed pod's resources are held from that instant; it
//! starts when its binding completes (the bind cost later) and leaves its node when its duration is over.
//! A pod leaving a node and a node joining move the unschedulable pods back to the queues. Events at one
//! instant are handled before the scheduler runs, in the order they were scheduled; arrivals at an instant
//! come after the events already scheduled for it.

use std::collections::HashMap;
use std::iter::Peekable;
use std::sync::Arc;

use scheduler_core::{
    Cluster, ClusterError, ConfigError, ModelError, NodeId, Pod, PodDef, PodId, QueueSortPlugin, QueuedPodInfo, Registry, Resources,
    ScheduleError, Scheduler, SchedulerConfig, Symbol, TieBreak,
    fragmentation::{TypicalPods, capacity_milli},
    gpu::GpuSet,
};
use traces::{DagJob, Micros, NodeEvent, TraceError, WorkloadItem, WorkloadStream};

use crate::event::{Event, EventQueue, PodRef};
use crate::metrics::{Histogram, PodCounts, Summary, TimeIntegral, Timeline, micros_between};
use crate::queue::{Backoff, QueuedPod, SchedulingQueue};
use crate::record::{JobRecord, PodRecord, RecordError, Recorder};
use crate::time::{SECOND, SimTime};

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Label of the policy or configuration (reported in the summary).
    pub policy: String,
    /// Seed of the scheduler's random choices.
    pub seed: u64,
    /// Simulated time one scheduling attempt takes (0: attempts are instantaneous).
    pub attempt_cost: Micros,
    /// Simulated time from placement to start (binding).
    pub bind_cost: Micros,
    /// Interval of time-series samples (0: none).
    pub sample_interval: Micros,
    /// Stop at this time, if given.
    pub until: Option<Micros>,
    /// How long a pod evicted by preemption keeps its resources before it is gone (its termination grace
    /// period; Kubernetes' default `terminationGracePeriodSeconds` is 30 s).
    pub grace_period: Micros,
    /// How the scheduler breaks ties between the best nodes.
    pub tie_break: TieBreak,
    /// The workload's typical pods: with them, the time series has the cluster's GPU fragmentation
    /// (`gpu_fragmentation`: fragmented / GPU capacity; `gpu_fragmentation_ratio`: fragmented / idle).
    pub typical_pods: Option<Arc<TypicalPods>>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            policy: "default".into(),
            seed: 0,
            attempt_cost: 0,
            bind_cost: 0,
            sample_interval: 300 * SECOND,
            until: None,
            grace_period: 30 * SECOND,
            tie_break: TieBreak::Uniform,
            typical_pods: None,
        }
    }
}

/// Why a simulation stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The workload could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The scheduler configuration is invalid.
    #[error("failed to build the scheduler: {0}")]
    Config(#[from] ConfigError),
    /// A pod of the workload is invalid.
    #[error("pod {name:?} of the workload: {source}")]
    Pod {
        /// Pod name.
        name: String,
        /// What is wrong.
        source: ModelError,
    },
    /// A DAG job of the workload is invalid.
    #[error("job {name:?} of the workload: {message}")]
    Job {
        /// Job name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A node event cannot be applied.
    #[error("node event at {time} s: {message}")]
    Node {
        /// When.
        time: SimTime,
        /// What is wrong.
        message: String,
    },
    /// An output file could not be written.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The workload goes back in time.
    #[error("the workload is not sorted by time: an item at {at} s comes after one at {after} s")]
    Unsorted {
        /// The item's time.
        at: SimTime,
        /// The time already reached.
        after: SimTime,
    },
}

impl From<ClusterError> for SimError {
    fn from(e: ClusterError) -> Self {
        SimError::Node { time: SimTime(0), message: e.to_string() }
    }
}

/// Where the run is, for progress reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Simulated time reached.
    pub time: SimTime,
    /// Pods arrived.
    pub arrived: u64,
    /// Pods finished.
    pub finished: u64,
    /// Pods pending.
    pub pending: u64,
}

/// Plugins whose rejections a pod joining the cluster can lift (upstream registers them for pod additions):
/// pods they rejected are retried when a pod is bound.
const POD_ADD_PLUGINS: [&str; 2] = ["PodTopologySpread", "InterPodAffinity"];

/// How a pod belongs to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobLink {
    /// A job of its own.
    Own,
    /// Pod of job `job` (task `task` for DAG jobs).
    Job { job: u32, task: Option<u32> },
}

struct SimPod {
    name: Arc<str>,
    spec: Arc<PodDef>,
    /// The compiled pod while it waits; moved into the cluster when placed.
    pod: Option<Pod>,
    arrival: SimTime,
    first_attempt: Option<SimTime>,
    /// When a scheduling cycle placed it (its resources are held from then).
    scheduled: Option<SimTime>,
    bound: Option<SimTime>,
    start: Option<SimTime>,
    cluster_id: Option<(PodId, NodeId)>,
    /// The GPUs it was given where it was placed.
    gpus: GpuSet,
    attempts: u32,
    duration: Option<Micros>,
    job: JobLink,
    gated: bool,
    retries: u32,
}

#[derive(Default)]
struct Slot {
    incarnation: u32,
    pod: Option<SimPod>,
}

struct TaskState {
    name: String,
    spec: Arc<PodDef>,
    duration: Option<Micros>,
    instances: u32,
    waiting_parents: u32,
    unfinished: u32,
    children: Vec<usize>,
}

struct JobState {
    name: String,
    submit: SimTime,
    pods: u64,
    unfinished: u64,
    last_finish: SimTime,
    remaining_work: Micros,
    tasks: Vec<TaskState>,
    /// Number of DAG tasks (0 for a job of plain pods).
    n_tasks: u32,
    dag: bool,
    done: bool,
}

/// Allocated and allocatable amounts per tracked resource, and their time-weighted ratio.
struct Allocation {
    names: Vec<String>,
    scalar_index: HashMap<Symbol, usize>,
    capacity: Vec<i128>,
    allocated: Vec<i128>,
    integrals: Vec<TimeIntegral>,
}

impl Allocation {
    fn new() -> Allocation {
        Allocation {
            names: vec!["cpu".into(), "memory".into(), "ephemeral-storage".into()],
            scalar_index: HashMap::new(),
            capacity: vec![0; 3],
            allocated: vec![0; 3],
            integrals: vec![TimeIntegral::default(); 3],
        }
    }

    /// Adds `sign × r` to `target` (capacity or allocated), creating scalar resources when `create`.
    fn apply(&mut self, r: &Resources, sign: i128, capacity: bool, cluster: &Cluster) {
        let add = |this: &mut Allocation, idx: usize, v: i64| {
            let target = if capacity { &mut this.capacity } else { &mut this.allocated };
            target[idx] += sign * i128::from(v);
        };
        add(self, 0, r.milli_cpu);
        add(self, 1, r.memory);
        add(self, 2, r.ephemeral_storage);
        for (name, v) in r.scalars.iter() {
            let idx = match self.scalar_index.get(&name) {
                Some(&i) => i,
                None if capacity => {
                    let i = self.names.len();
                    self.names.push(cluster.interner().resolve(name).to_string());
                    self.capacity.push(0);
                    self.allocated.push(0);
                    self.integrals.push(TimeIntegral::default());
                    self.scalar_index.insert(name, i);
                    i
                }
                None => continue,
            };
            add(self, idx, v);
        }
    }

    fn ratio(&self, idx: usize) -> f64 {
        if self.capacity[idx] <= 0 { 0.0 } else { self.allocated[idx] as f64 / self.capacity[idx] as f64 }
    }

    fn advance(&mut self, now: SimTime) {
        for idx in 0..self.names.len() {
            let r = self.ratio(idx);
            self.integrals[idx].advance(now, r);
        }
    }

    /// The resources worth reporting: those some node has.
    fn reported(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.names.len()).filter(|&i| self.capacity[i] > 0 || i < 2)
    }
}

/// A simulation in progress.
struct Simulation<'r> {
    opts: SimOptions,
    cluster: Cluster,
    scheduler: Scheduler,
    queue: SchedulingQueue,
    queue_sort: Arc<dyn QueueSortPlugin>,
    events: EventQueue,
    stream: Peekable<WorkloadStream>,
    skipped: Arc<std::sync::atomic::AtomicU64>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    by_cluster_pod: Vec<u32>,
    compiled: HashMap<usize, (Arc<PodDef>, Pod)>,
    jobs: Vec<JobState>,
    job_index: HashMap<Arc<str>, u32>,
    now: SimTime,
    scheduler_free_at: SimTime,
    flush_backoff_at: Option<SimTime>,
    flush_unschedulable_at: Option<SimTime>,
    counts: PodCounts,
    jct: Histogram,
    delay: Histogram,
    makespan: SimTime,
    jobs_finished: u64,
    jobs_unfinished: u64,
    pending: u64,
    pending_peak: u64,
    pending_integral: TimeIntegral,
    running: u64,
    allocation: Allocation,
    /// The resources of the time series' columns, fixed at the first sample (a resource that appears later
    /// is in the summary only).
    series_resources: Option<Vec<usize>>,
    /// The time series for charts, from the first sample on, with the allocation resources in name order
    /// and a buffer for a sample.
    timeline: Option<(Timeline, Vec<usize>, Vec<f64>)>,
    /// The cluster's GPU fragmentation, kept up to date for the samples.
    fragmentation: FragmentationTotals,
    attempts: crate::metrics::Attempts,
    n_events: u64,
    last_progress: u64,
    recorder: Option<&'r mut Recorder>,
    /// Preemption victims waiting out their grace period, with the number of their eviction event.
    evictions: HashMap<PodId, u64>,
    next_eviction: u64,
}

/// The cluster's GPU fragmentation for its typical pods, updated from the nodes that changed since the
/// last measure (the cluster's journal) rather than from every node. Sums are fixed-point integers, so an
/// update gives exactly what a sum over every node would.
#[derive(Default)]
struct FragmentationTotals {
    /// The cluster state measured last, if any.
    generation: Option<u64>,
    /// Per node (by id): the node generation measured, its fragmented and idle milli-GPU (fixed point).
    per_node: Vec<(u64, i128, i128)>,
    fragmented: i128,
    idle: i128,
    capacity_milli: i64,
}

/// The fixed-point scale of [`FragmentationTotals`]: 2^32.
const FIXED_POINT: f64 = 4_294_967_296.0;

impl FragmentationTotals {
    /// Fragmented milli-GPU / GPU capacity, and fragmented / idle (0 when there is nothing to divide by).
    fn measure(&mut self, cluster: &Cluster, typical: &TypicalPods) -> (f64, f64) {
        let fixed = |v: f64| (v * FIXED_POINT).round() as i128;
        let of = |id: NodeId| {
            let f = typical.of_node(cluster.node(id), cluster.interner());
            (fixed(f.fragmented), fixed(f.idle))
        };
        let known = self.per_node.len();
        let changed: Option<Vec<NodeId>> = self
            .generation
            .and_then(|g| cluster.nodes_changed_since(g))
            .map(|nodes| nodes.collect())
            .filter(|nodes: &Vec<NodeId>| nodes.iter().all(|id| id.index() < known));
        match changed {
            Some(nodes) => {
                for id in nodes {
                    // The journal names a node once per change; its generation says whether it is done.
                    let generation = cluster.node_generation(id);
                    if self.per_node[id.index()].0 == generation {
                        continue;
                    }
                    let (fragmented, idle) = of(id);
                    let old = &mut self.per_node[id.index()];
                    self.fragmented += fragmented - old.1;
                    self.idle += idle - old.2;
                    *old = (generation, fragmented, idle);
                }
            }
            None => {
                *self = FragmentationTotals::default();
                for &id in cluster.node_order() {
                    if self.per_node.len() <= id.index() {
                        self.per_node.resize(id.index() + 1, (0, 0, 0));
                    }
                    let (fragmented, idle) = of(id);
                    self.per_node[id.index()] = (cluster.node_generation(id), fragmented, idle);
                    self.fragmented += fragmented;
                    self.idle += idle;
                    self.capacity_milli += capacity_milli(&cluster.node(id).node);
                }
            }
        }
        self.generation = Some(cluster.state_generation());
        let (fragmented, idle) = (self.fragmented as f64 / FIXED_POINT, self.idle as f64 / FIXED_POINT);
        let of_capacity = if self.capacity_milli > 0 { fragmented / self.capacity_milli as f64 } else { 0.0 };
        let of_idle = if idle > 0.0 { fragmented / idle } else { 0.0 };
        (of_capacity, of_idle)
    }
}

/// Bound on the cache of compiled pod specs (workloads whose every pod differs would grow it forever).
const MAX_COMPILED: usize = 65_536;

/// Runs a simulation of `workload` on `cluster` (its pods run for ever) with a scheduler built from
/// `config` and `registry`. Per-pod, per-job and time-series records go to `recorder` when given;
/// `progress` is called now and then.
pub fn simulate(
    cluster: Cluster,
    config: &SchedulerConfig,
    registry: &Registry,
    workload: WorkloadStream,
    opts: &SimOptions,
    recorder: Option<&mut Recorder>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, SimError> {
    let mut cluster = cluster;
    let mut scheduler = Scheduler::from_config(config, registry, &mut cluster, opts.seed)?;
    scheduler.set_tie_break(opts.tie_break);
    // Each simulation runs on one thread; compare runs simulations in parallel.
    scheduler.set_parallel_min_nodes(usize::MAX);
    // Nothing reads the reasons a node rejected a pod for; only whether it did.
    scheduler.set_failure_reasons(false);
    let queue_sort =
        scheduler.profiles().first().and_then(|p| p.queue_sort()).cloned().ok_or_else(|| ConfigError::new("profiles", "no profile"))?;
    let backoff =
        Backoff { initial: config.pod_initial_backoff_seconds as Micros * SECOND, max: config.pod_max_backoff_seconds as Micros * SECOND };
    let skipped = workload.skipped_counter();
    let mut sim = Simulation {
        opts: opts.clone(),
        cluster,
        scheduler,
        queue: SchedulingQueue::new(backoff),
        queue_sort,
        events: EventQueue::default(),
        stream: workload.peekable(),
        skipped,
        slots: Vec::new(),
        free_slots: Vec::new(),
        by_cluster_pod: Vec::new(),
        compiled: HashMap::new(),
        jobs: Vec::new(),
        job_index: HashMap::new(),
        now: SimTime(0),
        scheduler_free_at: SimTime(0),
        flush_backoff_at: None,
        flush_unschedulable_at: None,
        counts: PodCounts::default(),
        jct: Histogram::default(),
        delay: Histogram::default(),
        makespan: SimTime(0),
        jobs_finished: 0,
        jobs_unfinished: 0,
        pending: 0,
        pending_peak: 0,
        pending_integral: TimeIntegral::default(),
        running: 0,
        allocation: Allocation::new(),
        series_resources: None,
        timeline: None,
        fragmentation: FragmentationTotals::default(),
        attempts: Default::default(),
        n_events: 0,
        last_progress: 0,
        recorder,
        evictions: HashMap::new(),
        next_eviction: 0,
    };
    sim.init();
    sim.run(progress)?;
    sim.finish()
}

impl Simulation<'_> {
    fn init(&mut self) {
        let ids: Vec<NodeId> = self.cluster.node_order().to_vec();
        for id in ids {
            let alloc = self.cluster.node(id).node.allocatable.clone();
            self.allocation.apply(&alloc, 1, true, &self.cluster);
        }
        let running: Vec<Resources> = self.cluster.pods().map(|(_, b)| b.pod.requests.clone()).collect();
        for r in &running {
            self.allocation.apply(r, 1, false, &self.cluster);
        }
        if self.opts.sample_interval > 0 {
            self.events.push(SimTime(0), Event::Sample);
        }
    }

    fn next_arrival_time(&mut self) -> Option<Result<SimTime, SimError>> {
        match self.stream.peek()? {
            Ok(item) => Some(Ok(SimTime(item.time()))),
            Err(_) => match self.stream.next() {
                Some(Err(e)) => Some(Err(e.into())),
                _ => None,
            },
        }
    }

    fn run(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<(), SimError> {
        loop {
            let arrival = self.next_arrival_time().transpose()?;
            let event = self.events.peek_time();
            let now = match (arrival, event) {
                (None, None) => break,
                (Some(a), Some(e)) => a.min(e),
                (Some(a), None) => a,
                (None, Some(e)) => e,
            };
            if now < self.now {
                return Err(SimError::Unsorted { at: now, after: self.now });
            }
            if self.opts.until.is_some_and(|u| now.micros() > u) {
                break;
            }
            self.advance(now);
            // Events already scheduled for this instant, then arrivals, then whatever they scheduled.
            while self.events.peek_time() == Some(now) {
                let (_, event) = self.events.pop().expect("peeked");
                self.handle(event)?;
            }
            while let Some(t) = self.next_arrival_time().transpose()? {
                if t != now {
                    if t < now {
                        return Err(SimError::Unsorted { at: t, after: now });
                    }
                    break;
                }
                let item = self.stream.next().expect("peeked").expect("checked");
                self.n_events += 1;
                self.arrive(item)?;
            }
            while self.events.peek_time() == Some(now) {
                let (_, event) = self.events.pop().expect("peeked");
                self.handle(event)?;
            }
            if self.scheduler_free_at <= now {
                self.schedule_pending()?;
            }
            self.arm_timers();
            if self.n_events - self.last_progress >= 4096 {
                self.last_progress = self.n_events;
                progress(&Progress { time: now, arrived: self.counts.arrived, finished: self.counts.finished, pending: self.pending });
            }
            let arrivals_left = self.stream.peek().is_some();
            if !arrivals_left && self.events.work_left() == 0 && !self.queue.has_poppable() {
                break;
            }
        }
        Ok(())
    }

    /// Accumulates time-weighted quantities up to `now`.
    fn advance(&mut self, now: SimTime) {
        self.allocation.advance(now);
        self.pending_integral.advance(now, self.pending as f64);
        self.now = now;
    }

    fn arm_timers(&mut self) {
        if self.queue.n_backoff() > 0 && self.flush_backoff_at.is_none() {
            let at = self.now.truncate_to_second().after(SECOND);
            self.flush_backoff_at = Some(at);
            self.events.push(at, Event::FlushBackoff);
        }
        if self.queue.n_unschedulable() > 0 && self.flush_unschedulable_at.is_none() {
            let at = self.now.after(30 * SECOND);
            self.flush_unschedulable_at = Some(at);
            self.events.push(at, Event::FlushUnschedulable);
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        self.n_events += 1;
        match event {
            Event::BindDone(r) => self.bind_done(r),
            Event::Finish(r) => self.pod_finished(r)?,
            Event::SchedulerFree => {}
            Event::FlushBackoff => {
                self.flush_backoff_at = None;
                let (slots, sort) = (&self.slots, &self.queue_sort);
                self.queue.flush_backoff(self.now, &mut |a, b| less(sort.as_ref(), slots, a, b));
            }
            Event::FlushUnschedulable => {
                self.flush_unschedulable_at = None;
                let (slots, sort) = (&self.slots, &self.queue_sort);
                self.queue.flush_unschedulable(self.now, &mut |a, b| less(sort.as_ref(), slots, a, b));
            }
            Event::Evict(pod, token) => self.evict(pod, token)?,
            Event::Sample => {
                self.sample()?;
                let arrivals_left = self.stream.peek().is_some();
                if arrivals_left || self.events.work_left() > 0 || self.queue.has_poppable() {
                    self.events.push(self.now.after(self.opts.sample_interval), Event::Sample);
                }
            }
        }
        Ok(())
    }

    /// Records a time-series sample: in the timeline, and in the recorder if any.
    fn sample(&mut self) -> Result<(), SimError> {
        let resources = self.series_resources.get_or_insert_with(|| self.allocation.reported().collect());
        let fragmentation = self.opts.typical_pods.as_ref().map(|typical| self.fragmentation.measure(&self.cluster, typical));
        let (timeline, by_name, point) = self.timeline.get_or_insert_with(|| {
            let names: Vec<String> = resources.iter().map(|&idx| self.allocation.names[idx].clone()).collect();
            let mut by_name: Vec<usize> = resources.clone();
            by_name.sort_by(|a, b| self.allocation.names[*a].cmp(&self.allocation.names[*b]));
            (Timeline::new(&names, fragmentation.is_some()), by_name, Vec::new())
        });
        point.clear();
        point.extend([self.now.seconds(), self.pending as f64, self.running as f64]);
        point.extend(by_name.iter().map(|&idx| self.allocation.ratio(idx)));
        point.extend(fragmentation.map(|f| f.0));
        timeline.push(point);

        let Some(rec) = self.recorder.as_deref_mut() else { return Ok(()) };
        let mut columns = vec!["pending".to_string(), "running".to_string()];
        let mut values = vec![self.pending.to_string(), self.running.to_string()];
        for &idx in resources.iter() {
            columns.push(format!("allocated_{}", self.allocation.names[idx]));
            values.push(format!("{:.6}", self.allocation.ratio(idx)));
        }
        if let Some((fragmented, ratio)) = fragmentation {
            columns.push("gpu_fragmentation".into());
            values.push(format!("{fragmented:.6}"));
            columns.push("gpu_fragmentation_ratio".into());
            values.push(format!("{ratio:.6}"));
        }
        rec.sample(self.now, &columns, &values)?;
        Ok(())
    }

    fn arrive(&mut self, item: WorkloadItem) -> Result<(), SimError> {
        match item {
            WorkloadItem::Pod(p) => {
                let job = match &p.job {
                    None => JobLink::Own,
                    Some(name) => {
                        let idx = match self.job_index.get(name) {
                            Some(&i) => i,
                            None => {
                                let i = self.jobs.len() as u32;
                                self.jobs.push(JobState {
                                    name: name.to_string(),
                                    submit: self.now,
                                    pods: 0,
                                    unfinished: 0,
                                    last_finish: self.now,
                                    remaining_work: 0,
                                    tasks: Vec::new(),
                                    n_tasks: 0,
                                    dag: false,
                                    done: false,
                                });
                                self.job_index.insert(name.clone(), i);
                                i
                            }
                        };
                        let j = &mut self.jobs[idx as usize];
                        j.remaining_work = j.remaining_work.saturating_add(p.duration.unwrap_or(0));
                        JobLink::Job { job: idx, task: None }
                    }
                };
                self.admit(p.name.into(), p.spec, p.duration, job, 0)
            }
            WorkloadItem::Dag(j) => self.dag_arrives(j),
            WorkloadItem::Node(e) => self.node_event(e),
        }
    }

    fn dag_arrives(&mut self, j: DagJob) -> Result<(), SimError> {
        for (i, t) in j.tasks.iter().enumerate() {
            if let Some(&p) = t.parents.iter().find(|&&p| p >= j.tasks.len() || p == i) {
                return Err(SimError::Job {
                    name: j.name.clone(),
                    message: format!("task {:?} names task index {p} as a parent: expected another task of the job", t.name),
                });
            }
        }
        let idx = self.jobs.len() as u32;
        let mut tasks: Vec<TaskState> = j
            .tasks
            .iter()
            .map(|t| TaskState {
                name: t.name.clone(),
                spec: t.spec.clone(),
                duration: t.duration,
                instances: t.instances,
                waiting_parents: t.parents.len() as u32,
                unfinished: t.instances,
                children: Vec::new(),
            })
            .collect();
        for (i, t) in j.tasks.iter().enumerate() {
            for &p in &t.parents {
                tasks[p].children.push(i);
            }
        }
        let work = tasks.iter().fold(0u64, |acc, t| acc.saturating_add(u64::from(t.instances).saturating_mul(t.duration.unwrap_or(0))));
        self.jobs.push(JobState {
            name: j.name,
            submit: self.now,
            pods: 0,
            unfinished: 0,
            last_finish: self.now,
            remaining_work: work,
            n_tasks: u32::try_from(j.tasks.len()).unwrap_or(u32::MAX),
            tasks,
            dag: true,
            done: false,
        });
        let roots: Vec<usize> =
            (0..self.jobs[idx as usize].tasks.len()).filter(|&t| self.jobs[idx as usize].tasks[t].waiting_parents == 0).collect();
        if roots.is_empty() {
            self.job_done(idx);
            self.record_job(idx)?;
        }
        for t in roots {
            self.release(idx, t)?;
        }
        Ok(())
    }

    /// Creates the pods of task `task` of DAG job `job`.
    fn release(&mut self, job: u32, task: usize) -> Result<(), SimError> {
        let (name, spec, duration, instances) = {
            let j = &self.jobs[job as usize];
            let t = &j.tasks[task];
            (format!("{}-{}", j.name, t.name), t.spec.clone(), t.duration, t.instances)
        };
        if instances == 0 {
            return self.task_done(job, task);
        }
        for i in 0..instances {
            self.admit(format!("{name}-{i}").into(), spec.clone(), duration, JobLink::Job { job, task: Some(task as u32) }, 0)?;
        }
        Ok(())
    }

    /// A compiled copy of `spec` named `name`.
    fn compile(&mut self, name: &str, spec: &Arc<PodDef>) -> Result<Pod, SimError> {
        let key = Arc::as_ptr(spec) as usize;
        if !self.compiled.contains_key(&key) {
            if self.compiled.len() >= MAX_COMPILED {
                self.compiled.clear();
            }
            let mut def = (**spec).clone();
            def.name = name.to_string();
            let pod = self.cluster.compile_pod(&def).map_err(|source| SimError::Pod { name: name.to_string(), source })?;
            self.compiled.insert(key, (spec.clone(), pod));
        }
        let mut pod = self.compiled[&key].1.clone();
        let uid: Box<str> = format!("{}/{name}", self.cluster.interner().resolve(pod.namespace)).into();
        pod.name = name.into();
        pod.uid = uid;
        Ok(pod)
    }

    fn admit(&mut self, name: Arc<str>, spec: Arc<PodDef>, duration: Option<Micros>, job: JobLink, retries: u32) -> Result<(), SimError> {
        let pod = self.compile(&name, &spec)?;
        self.counts.arrived += 1;
        let job_work = match job {
            JobLink::Own => duration,
            JobLink::Job { job, .. } => {
                let j = &mut self.jobs[job as usize];
                j.pods += 1;
                j.unfinished += 1;
                Some(j.remaining_work)
            }
        };
        let profile_exists = self.scheduler.profile(self.cluster.interner().resolve(pod.scheduler_name)).is_some();
        let gated = !profile_exists || self.scheduler.pre_enqueue(&self.cluster, &pod).is_err();
        let slot = self.new_slot(SimPod {
            name,
            spec,
            pod: Some(pod),
            arrival: self.now,
            first_attempt: None,
            scheduled: None,
            bound: None,
            start: None,
            cluster_id: None,
            gpus: GpuSet::EMPTY,
            attempts: 0,
            duration,
            job,
            gated,
            retries,
        });
        if gated {
            self.counts.gated += 1;
            return Ok(());
        }
        self.pending += 1;
        self.pending_peak = self.pending_peak.max(self.pending);
        let queued = QueuedPod {
            slot,
            timestamp: self.now,
            unschedulable_count: 0,
            consecutive_errors: 0,
            expected_duration: duration,
            job_remaining_work: job_work,
            retry_on_pod_add: false,
        };
        let (slots, sort) = (&self.slots, &self.queue_sort);
        self.queue.add(queued, self.now, &mut |a, b| less(sort.as_ref(), slots, a, b));
        Ok(())
    }

    fn new_slot(&mut self, pod: SimPod) -> u32 {
        match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize].pod = Some(pod);
                s
            }
            None => {
                self.slots.push(Slot { incarnation: 0, pod: Some(pod) });
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn free_slot(&mut self, slot: u32) -> Option<SimPod> {
        let s = &mut self.slots[slot as usize];
        let pod = s.pod.take();
        s.incarnation = s.incarnation.wrapping_add(1);
        self.free_slots.push(slot);
        pod
    }

    fn pod_ref(&self, slot: u32) -> PodRef {
        PodRef { slot, incarnation: self.slots[slot as usize].incarnation }
    }

    fn live(&self, r: PodRef) -> bool {
        let s = &self.slots[r.slot as usize];
        s.incarnation == r.incarnation && s.pod.is_some()
    }

    /// Runs scheduling attempts while the scheduler is free and pods are waiting.
    fn schedule_pending(&mut self) -> Result<(), SimError> {
        loop {
            let popped = {
                let (slots, sort) = (&self.slots, &self.queue_sort);
                self.queue.pop(&mut |a, b| less(sort.as_ref(), slots, a, b))
            };
            let Some(queued) = popped else { return Ok(()) };
            self.attempt(queued);
            if self.opts.attempt_cost > 0 {
                self.scheduler_free_at = self.now.after(self.opts.attempt_cost);
                self.events.push(self.scheduler_free_at, Event::SchedulerFree);
                return Ok(());
            }
        }
    }

    fn attempt(&mut self, queued: QueuedPod) {
        let now = self.now;
        self.attempts.total += 1;
        let slot = queued.slot;
        {
            let sim_pod = self.slots[slot as usize].pod.as_mut().expect("queued pods are live");
            sim_pod.attempts += 1;
            sim_pod.first_attempt.get_or_insert(now);
        }
        let pod = self.slots[slot as usize].pod.as_ref().and_then(|p| p.pod.as_ref()).expect("queued pods are pending");
        let result = self.scheduler.schedule_one(&self.cluster, pod);
        match result {
            Ok(decision) => {
                let sim_pod = self.slots[slot as usize].pod.as_mut().expect("live");
                let mut pod = sim_pod.pod.take().expect("pending");
                let requests = pod.requests.clone();
                let bound = now.after(self.opts.bind_cost);
                // Its start ranks it among preemption victims (earlier started = more important).
                pod.start_time = Some(bound.0 as i64);
                if !self.cluster.nominations().is_empty() {
                    self.cluster.clear_nomination(&pod.uid);
                }
                sim_pod.scheduled = Some(now);
                sim_pod.bound = Some(bound);
                sim_pod.gpus = decision.gpus;
                pod.gpus = decision.gpus;
                let arrival = sim_pod.arrival;
                let pod_id = self.cluster.add_pod(pod, decision.node);
                self.slots[slot as usize].pod.as_mut().expect("live").cluster_id = Some((pod_id, decision.node));
                if self.by_cluster_pod.len() <= pod_id.index() {
                    self.by_cluster_pod.resize(pod_id.index() + 1, u32::MAX);
                }
                self.by_cluster_pod[pod_id.index()] = slot;
                self.allocation.apply(&requests, 1, false, &self.cluster);
                self.delay.record(micros_between(arrival, bound));
                self.pending -= 1;
                self.running += 1;
                self.counts.scheduled += 1;
                let r = self.pod_ref(slot);
                if self.opts.bind_cost == 0 {
                    self.bind_done(r);
                } else {
                    self.events.push(bound, Event::BindDone(r));
                }
            }
            Err(ScheduleError::Internal(_)) => {
                self.attempts.errors += 1;
                self.queue.failed(queued, now, true);
            }
            Err(e) => {
                self.attempts.unschedulable += 1;
                let mut queued = queued;
                queued.retry_on_pod_add = match &e {
                    ScheduleError::Unschedulable(fit) => {
                        self.scheduler.profile(self.cluster.interner().resolve(pod.scheduler_name)).is_some_and(|profile| {
                            fit.diagnosis.unschedulable_plugins.iter().any(|&p| POD_ADD_PLUGINS.contains(&profile.plugin_name(p)))
                        })
                    }
                    _ => false,
                };
                if let ScheduleError::Unschedulable(fit) = &e
                    && let Some((_, outcome)) = &fit.post_filter
                {
                    let pod = pod.clone();
                    self.carry_out_preemption(pod, outcome);
                }
                self.queue.failed(queued, now, false);
            }
        }
    }

    /// Carries out what preemption decided: the preemptor's nominated node, the nominations it clears, and
    /// the victims, which terminate now and leave after the grace period.
    fn carry_out_preemption(&mut self, pod: Pod, outcome: &scheduler_core::PostFilterResult) {
        match outcome.nominated_node {
            Some(Some(node)) => self.cluster.nominate(pod, node),
            Some(None) => {
                self.cluster.clear_nomination(&pod.uid);
            }
            None => {}
        }
        for uid in &outcome.cleared_nominations {
            self.cluster.clear_nomination(uid);
        }
        for &victim in &outcome.victims {
            if self.cluster.pod(victim).is_none_or(|b| b.terminating) {
                continue;
            }
            self.cluster.set_terminating(victim);
            let token = self.next_eviction;
            self.next_eviction += 1;
            self.evictions.insert(victim, token);
            self.events.push(self.now.after(self.opts.grace_period), Event::Evict(victim, token));
        }
    }

    /// A preemption victim's grace period is over: it leaves its node; a pod of a job is created again.
    fn evict(&mut self, pid: PodId, token: u64) -> Result<(), SimError> {
        if self.evictions.get(&pid) != Some(&token) {
            return Ok(());
        }
        self.evictions.remove(&pid);
        let now = self.now;
        let slot = self.by_cluster_pod.get(pid.index()).copied().unwrap_or(u32::MAX);
        let ours = slot != u32::MAX && self.slots[slot as usize].pod.as_ref().and_then(|p| p.cluster_id).map(|c| c.0) == Some(pid);
        if let Some(pod) = self.cluster.remove_pod(pid) {
            self.allocation.apply(&pod.requests, -1, false, &self.cluster);
        }
        self.counts.preempted += 1;
        if ours {
            let sim_pod = self.free_slot(slot).expect("live");
            let node = sim_pod.cluster_id.map(|c| c.1);
            self.running -= 1;
            self.record_pod(&sim_pod, Some(now), node, false, true)?;
            self.pod_gone(&sim_pod)?;
        }
        let (slots, sort) = (&self.slots, &self.queue_sort);
        self.queue.move_all(now, &mut |a, b| less(sort.as_ref(), slots, a, b));
        Ok(())
    }

    /// A pod that did not finish is gone (lost with its node, or preempted): its job loses it, or, for a
    /// pod of a job with other pods, gets a new pod in its place.
    fn pod_gone(&mut self, sim_pod: &SimPod) -> Result<(), SimError> {
        match sim_pod.job {
            JobLink::Own => self.jobs_unfinished += 1,
            JobLink::Job { job, .. } => {
                self.jobs[job as usize].unfinished -= 1;
                self.counts.recreated += 1;
                let retries = sim_pod.retries + 1;
                let base = sim_pod.name.split("-retry").next().unwrap_or(&sim_pod.name).to_string();
                self.admit(format!("{base}-retry{retries}").into(), sim_pod.spec.clone(), sim_pod.duration, sim_pod.job, retries)?;
            }
        }
        Ok(())
    }

    fn bind_done(&mut self, r: PodRef) {
        if !self.live(r) {
            return;
        }
        let now = self.now;
        let sim_pod = self.slots[r.slot as usize].pod.as_mut().expect("live");
        sim_pod.start = Some(now);
        if let Some(d) = sim_pod.duration {
            self.events.push(now.after(d), Event::Finish(r));
        }
        // The pod is now on its node, as the scheduler's informers see it: pods rejected by plugins that
        // register for pod additions are retried.
        let (slots, sort) = (&self.slots, &self.queue_sort);
        self.queue.move_waiting_on_pod_adds(now, &mut |a, b| less(sort.as_ref(), slots, a, b));
    }

    fn pod_finished(&mut self, r: PodRef) -> Result<(), SimError> {
        if !self.live(r) {
            return Ok(());
        }
        let now = self.now;
        let sim_pod = self.free_slot(r.slot).expect("live");
        let (pod_id, node) = sim_pod.cluster_id.expect("a finishing pod runs");
        self.evictions.remove(&pod_id);
        if let Some(pod) = self.cluster.remove_pod(pod_id) {
            self.allocation.apply(&pod.requests, -1, false, &self.cluster);
        }
        self.running -= 1;
        self.counts.finished += 1;
        self.record_pod(&sim_pod, Some(now), Some(node), false, false)?;
        match sim_pod.job {
            JobLink::Own => {
                self.jct.record(micros_between(sim_pod.arrival, now));
                self.jobs_finished += 1;
                self.makespan = self.makespan.max(now);
            }
            JobLink::Job { job, task } => {
                let j = &mut self.jobs[job as usize];
                j.unfinished -= 1;
                j.last_finish = now;
                j.remaining_work = j.remaining_work.saturating_sub(sim_pod.duration.unwrap_or(0));
                if let Some(task) = task {
                    let t = &mut j.tasks[task as usize];
                    t.unfinished -= 1;
                    if t.unfinished == 0 {
                        self.task_done(job, task as usize)?;
                    }
                }
            }
        }
        let (slots, sort) = (&self.slots, &self.queue_sort);
        self.queue.move_all(now, &mut |a, b| less(sort.as_ref(), slots, a, b));
        Ok(())
    }

    fn task_done(&mut self, job: u32, task: usize) -> Result<(), SimError> {
        let children = self.jobs[job as usize].tasks[task].children.clone();
        for c in children {
            let t = &mut self.jobs[job as usize].tasks[c];
            t.waiting_parents -= 1;
            if t.waiting_parents == 0 {
                self.release(job, c)?;
            }
        }
        let j = &self.jobs[job as usize];
        if j.dag && !j.done && j.tasks.iter().all(|t| t.unfinished == 0) {
            self.job_done(job);
            self.record_job(job)?;
        }
        Ok(())
    }

    fn job_done(&mut self, job: u32) {
        let j = &mut self.jobs[job as usize];
        j.done = true;
        self.jct.record(micros_between(j.submit, j.last_finish));
        self.jobs_finished += 1;
        self.makespan = self.makespan.max(j.last_finish);
        j.tasks = Vec::new();
    }

    fn record_job(&mut self, job: u32) -> Result<(), SimError> {
        let j = &self.jobs[job as usize];
        if let Some(rec) = self.recorder.as_deref_mut() {
            rec.job(&JobRecord {
                name: j.name.clone(),
                submit: j.submit,
                finish: j.done.then_some(j.last_finish),
                pods: j.pods,
                tasks: j.n_tasks,
            })?;
        }
        Ok(())
    }

    fn record_pod(
        &mut self,
        p: &SimPod,
        finish: Option<SimTime>,
        node: Option<NodeId>,
        lost: bool,
        preempted: bool,
    ) -> Result<(), SimError> {
        let Some(rec) = self.recorder.as_deref_mut() else { return Ok(()) };
        let job = match p.job {
            JobLink::Own => p.name.to_string(),
            JobLink::Job { job, .. } => self.jobs[job as usize].name.clone(),
        };
        let node = node.and_then(|n| self.cluster.get_node(n)).map(|n| n.node.name.to_string());
        rec.pod(&PodRecord {
            name: p.name.to_string(),
            job,
            arrival: p.arrival,
            first_attempt: p.first_attempt,
            scheduled: p.scheduled,
            // A binding that had not completed when the pod was lost, or when the run ended, did not happen.
            bound: p.start.and(p.bound),
            start: p.start,
            finish,
            node,
            gpus: p.gpus.to_string(),
            attempts: p.attempts,
            preempted,
            lost,
        })?;
        Ok(())
    }

    fn node_event(&mut self, e: NodeEvent) -> Result<(), SimError> {
        let now = self.now;
        match e {
            NodeEvent::Add { node, .. } => {
                let id = self.cluster.add_node(&node).map_err(|err| SimError::Node { time: now, message: err.to_string() })?;
                let alloc = self.cluster.node(id).node.allocatable.clone();
                self.allocation.apply(&alloc, 1, true, &self.cluster);
                let (slots, sort) = (&self.slots, &self.queue_sort);
                self.queue.move_all(now, &mut |a, b| less(sort.as_ref(), slots, a, b));
            }
            NodeEvent::Remove { name, .. } | NodeEvent::Fail { name, .. } => {
                let Some(id) = self.cluster.node_id(&name) else {
                    return Err(SimError::Node { time: now, message: format!("node {name:?} is not in the cluster") });
                };
                let pod_ids: Vec<PodId> = self.cluster.node(id).pods.clone();
                for pid in pod_ids {
                    let slot = self.by_cluster_pod.get(pid.index()).copied().unwrap_or(u32::MAX);
                    if slot == u32::MAX || self.slots[slot as usize].pod.as_ref().and_then(|p| p.cluster_id).map(|c| c.0) != Some(pid) {
                        // A pod of the initial cluster state: it just goes.
                        continue;
                    }
                    let sim_pod = self.free_slot(slot).expect("live");
                    let requests = self.cluster.pod(pid).map(|b| b.pod.requests.clone()).unwrap_or_default();
                    self.allocation.apply(&requests, -1, false, &self.cluster);
                    self.running -= 1;
                    self.counts.lost += 1;
                    self.evictions.remove(&pid);
                    self.record_pod(&sim_pod, Some(now), Some(id), true, false)?;
                    self.pod_gone(&sim_pod)?;
                }
                let alloc = self.cluster.node(id).node.allocatable.clone();
                self.allocation.apply(&alloc, -1, true, &self.cluster);
                self.cluster.remove_node(id);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Summary, SimError> {
        let end = self.now;
        self.advance(end);
        for slot in 0..self.slots.len() {
            let Some(p) = self.slots[slot].pod.take() else { continue };
            if p.gated {
                self.jobs_unfinished += u64::from(p.job == JobLink::Own);
            } else if p.start.is_some() || p.bound.is_some() {
                self.counts.running_at_end += 1;
                self.jobs_unfinished += u64::from(p.job == JobLink::Own);
            } else {
                self.counts.pending_at_end += 1;
                self.jobs_unfinished += u64::from(p.job == JobLink::Own);
            }
            let node = p.cluster_id.map(|c| c.1);
            self.record_pod(&p, None, node, false, false)?;
        }
        for job in 0..self.jobs.len() {
            let j = &self.jobs[job];
            if j.dag {
                if !j.done {
                    self.jobs_unfinished += 1;
                    self.record_job(job as u32)?;
                }
                continue;
            }
            if j.unfinished == 0 {
                self.job_done(job as u32);
            } else {
                self.jobs_unfinished += 1;
            }
            self.record_job(job as u32)?;
        }
        let mut allocation = std::collections::BTreeMap::new();
        for idx in self.allocation.reported() {
            allocation.insert(self.allocation.names[idx].clone(), self.allocation.integrals[idx].mean(end));
        }
        Ok(Summary {
            policy: self.opts.policy.clone(),
            seed: self.opts.seed,
            simulated_seconds: end.seconds(),
            makespan_seconds: self.makespan.seconds(),
            pods: self.counts.clone(),
            jobs_finished: self.jobs_finished,
            jobs_unfinished: self.jobs_unfinished,
            jct: self.jct.distribution(),
            queueing_delay: self.delay.distribution(),
            allocation,
            pending: crate::metrics::Pending { peak: self.pending_peak, mean: self.pending_integral.mean(end) },
            attempts: self.attempts.clone(),
            skipped_rows: self.skipped.load(std::sync::atomic::Ordering::Relaxed),
            events: self.n_events,
            timeline: self
                .timeline
                .take()
                .map(|(mut t, _, _)| {
                    t.finish();
                    t
                })
                .unwrap_or_default(),
        })
    }
}

/// The QueueSort order of two queued pods.
fn less(sort: &dyn QueueSortPlugin, slots: &[Slot], a: &QueuedPod, b: &QueuedPod) -> bool {
    let info = |q: &QueuedPod| -> Option<QueuedPodInfo<'_>> {
        let pod = slots[q.slot as usize].pod.as_ref()?.pod.as_ref()?;
        Some(QueuedPodInfo {
            pod,
            timestamp: q.timestamp.micros(),
            expected_duration: q.expected_duration,
            job_remaining_work: q.job_remaining_work,
        })
    };
    match (info(a), info(b)) {
        (Some(ia), Some(ib)) => sort.less(&ia, &ib),
        _ => (a.timestamp, a.slot) < (b.timestamp, b.slot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::testing::{node, pod};

    #[test]
    fn fragmentation_from_changed_nodes_equals_a_sum_over_every_node() {
        let mut cluster = Cluster::new();
        for i in 0..6 {
            let gpus = if i % 2 == 0 { 8 } else { 2 };
            cluster.add_node(&node(&format!("n{i}")).cpu("64").memory("256Gi").gpus(gpus, "T4").def).unwrap();
        }
        let shapes = [pod("s").cpu("4").gpu_share(300), pod("h").cpu("8").gpu_share(700), pod("w").cpu("8").gpus(1), pod("c").cpu("2")];
        let pods: Vec<Pod> = shapes.iter().map(|p| cluster.compile_pod(&p.def).unwrap()).collect();
        let typical = TypicalPods::from_pods(&pods);
        let nodes: Vec<NodeId> = cluster.node_order().to_vec();
        let mut incremental = FragmentationTotals::default();
        let mut placed = Vec::new();
        // Pods come and go in a fixed pseudo-random order; after each change the incremental totals match
        // a measure from scratch exactly.
        for step in 0..200usize {
            // At most 12 pods on the 6 nodes, about 2 per node: they always fit.
            let leave = (step % 3 == 2 || placed.len() == 12) && !placed.is_empty();
            if leave {
                let victim = placed.swap_remove((step * 7) % placed.len());
                cluster.remove_pod(victim);
            } else {
                let node = nodes[(step * 5) % nodes.len()];
                placed.push(cluster.add_pod(pods[step % pods.len()].clone(), node));
            }
            if step % 4 == 0 {
                continue; // several changes between two measures
            }
            let measured = incremental.measure(&cluster, &typical);
            assert_eq!(measured, FragmentationTotals::default().measure(&cluster, &typical), "step {step}");
        }
        let (of_capacity, of_idle) = incremental.measure(&cluster, &typical);
        assert!(of_capacity > 0.0 && of_idle > 0.0 && of_idle <= 1.0, "{of_capacity} {of_idle}");
    }
}
