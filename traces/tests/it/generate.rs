//! The synthetic workload generator.

use std::collections::HashMap;
use std::sync::Arc;

use traces::{Arrival, DurationDist, GenerateOptions, WorkloadItem};

use super::{pods, scratch};

type Requests = Vec<(String, String)>;

fn summary(items: &[WorkloadItem]) -> Vec<(u64, String, Option<u64>, Requests)> {
    pods(items).into_iter().map(|p| (p.time, p.name.clone(), p.duration, p.spec.containers[0].requests.clone())).collect()
}

#[test]
fn the_same_seed_gives_the_same_workload() {
    let opts = GenerateOptions { nodes: 3, pods: 2_000, seed: 7, ..GenerateOptions::default() };
    let (nodes_a, pods_a) = traces::generate(&opts).unwrap();
    let (nodes_b, pods_b) = traces::generate(&opts).unwrap();
    assert_eq!(nodes_a, nodes_b);
    let (a, b): (Vec<_>, Vec<_>) = (pods_a.collect(), pods_b.collect());
    assert_eq!(summary(&a), summary(&b));
    let (_, pods_d) = traces::generate(&opts).unwrap();
    let streamed: Vec<_> = pods_d.into_stream().map(Result::unwrap).collect();
    assert_eq!(summary(&streamed), summary(&a));
    let (_, pods_c) = traces::generate(&GenerateOptions { seed: 8, ..opts.clone() }).unwrap();
    assert_ne!(summary(&a), summary(&pods_c.collect::<Vec<_>>()));
    assert_eq!(a.len(), 2_000);
    assert!(a.windows(2).all(|w| w[0].time() <= w[1].time()), "arrivals are in order");
    // 2,000 pods at 10 per second: about 200 seconds.
    let last = a.last().unwrap().time() as f64 / 1e6;
    assert!((150.0..250.0).contains(&last), "{last}");
    assert_eq!(nodes_a[2].name, "node-2");
    assert_eq!(
        nodes_a[2].allocatable,
        [("cpu".to_string(), "32".to_string()), ("memory".into(), "128Gi".into()), ("pods".into(), "110".into())]
    );
}

#[test]
fn shapes_repeat_with_the_catalogue_weights() {
    let opts = GenerateOptions { nodes: 1, pods: 20_000, duration: DurationDist::Constant(60.0), ..GenerateOptions::default() };
    let (_, generated) = traces::generate(&opts).unwrap();
    let items: Vec<_> = generated.collect();
    let mut counts: HashMap<*const scheduler_core::PodDef, (usize, Requests)> = HashMap::new();
    for pod in pods(&items) {
        assert_eq!(pod.duration, Some(60_000_000));
        counts.entry(Arc::as_ptr(&pod.spec)).or_insert((0, pod.spec.containers[0].requests.clone())).0 += 1;
    }
    assert_eq!(counts.len(), traces::generate::SHAPES.len(), "one spec per shape");
    for shape in traces::generate::SHAPES {
        let (n, _) = counts.values().find(|(_, requests)| requests[0].1 == shape.cpu && requests[1].1 == shape.memory).unwrap();
        let expected = 20_000.0 * f64::from(shape.weight) / 100.0;
        assert!((*n as f64 - expected).abs() < 5.0 * expected.sqrt() + 10.0, "{shape:?}: {n}");
    }
}

#[test]
fn distributions_parse_and_print() {
    assert_eq!("poisson:2.5".parse::<Arrival>(), Ok(Arrival::Poisson { rate_per_second: 2.5 }));
    assert_eq!("lognormal:4,1.5".parse::<DurationDist>(), Ok(DurationDist::LogNormal { mu: 4.0, sigma: 1.5 }));
    assert_eq!("constant:30".parse::<DurationDist>(), Ok(DurationDist::Constant(30.0)));
    for text in ["poisson:2.5", "lognormal:4,1.5", "constant:30"] {
        let printed = match text.parse::<Arrival>() {
            Ok(arrival) => arrival.to_string(),
            Err(_) => text.parse::<DurationDist>().unwrap().to_string(),
        };
        assert_eq!(printed, text);
    }
    assert_eq!(
        "poisson:0".parse::<Arrival>().unwrap_err().to_string(),
        "the Poisson rate must be a positive number of pods per second, got 0"
    );
    assert_eq!(
        "uniform:1".parse::<Arrival>().unwrap_err().to_string(),
        "expected an arrival process such as poisson:10 (pods per second), got \"uniform:1\""
    );
    assert_eq!(
        "lognormal:1,-1".parse::<DurationDist>().unwrap_err().to_string(),
        "lognormal needs a finite mu and a finite sigma ≥ 0, got mu 1 and sigma -1"
    );
    assert_eq!(
        "constant:x".parse::<DurationDist>().unwrap_err().to_string(),
        "expected a duration distribution such as lognormal:5,1 or constant:60 (seconds), got \"constant:x\""
    );
    let bad = GenerateOptions { node_memory: "lots".into(), ..GenerateOptions::default() };
    assert!(traces::generate(&bad).is_err_and(|e| e.to_string().starts_with("node memory: invalid quantity \"lots\"")));
    let bad = GenerateOptions { arrival: Arrival::Poisson { rate_per_second: f64::NAN }, ..GenerateOptions::default() };
    assert!(traces::generate(&bad).is_err());
}

#[test]
fn generated_clusters_are_one_node_group() {
    let (nodes, _) = traces::generate(&GenerateOptions { nodes: 50, ..GenerateOptions::default() }).unwrap();
    let path = scratch("generated-cluster.yaml");
    traces::write_cluster(&nodes, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("{name: node, count: 50, cpu: 32, memory: 128Gi}") && text.matches("name: ").count() == 1, "{text}");
    let read: Vec<_> = traces::read_cluster(&path).unwrap().nodes.into_iter().map(|n| n.def).collect();
    assert_eq!(read, nodes);
}
