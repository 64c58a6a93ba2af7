//! Runs SchedulingBasic at 5,000 nodes outside criterion, for profilers:
//! `cargo build --release -p benches --example scheduling_basic && perf record -g target/release/examples/scheduling_basic`.

use std::time::Instant;

fn main() {
    let n_pods: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let (mut cluster, mut scheduler) = benches::scheduling_basic(5000, 1000);
    scheduler.set_parallel_min_nodes(usize::MAX);
    let pods = benches::measure_pods(&mut cluster, n_pods, 1000);
    let start = Instant::now();
    for p in pods {
        let r = scheduler.schedule_one(&cluster, &p).expect("fits");
        cluster.add_pod(p, r.node);
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{n_pods} pods in {secs:.3} s: {:.0} pods/s", n_pods as f64 / secs);
}
