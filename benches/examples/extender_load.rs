//! A bounded load on the scheduler extender over loopback HTTP, as kube-scheduler calls it: one
//! connection kept alive, a filter then a prioritize per pod, one pod at a time, on SchedulingBasic's
//! 5,000-node cluster (1,000 pods running) with the default profile. Prints latency percentiles per call.
//!
//! `cargo run --release -p benches --example extender_load -- [pods] [nodes]` (defaults 2000 and 5000).
//! Each pod is sent with `NodeNames` (a nodeCacheCapable extender), then a tenth as many with full
//! `Nodes` objects (about 3 KB each).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use benches::extender_workload::{request, state};
use extender::Metrics;
use extender::server::{self, App, ServerOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Connection {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Connection {
    async fn post(&mut self, path: &str, body: &[u8]) -> Vec<u8> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(body).await.expect("write");
        let mut length = 0;
        let mut status = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("read");
            if status.is_empty() {
                status = line.clone();
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
        }
        assert!(status.contains(" 200 "), "{status}");
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer).await.expect("body");
        answer
    }
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<28} n={:<5} p50 {:>7.3} ms  p90 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(*samples.last().expect("samples"))
    );
}

async fn run(conn: &mut Connection, bodies: &[Vec<u8>], n: usize, label: &str) {
    let (mut filter, mut prioritize, mut pair) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let body = &bodies[i % bodies.len()];
        let t0 = Instant::now();
        let answer = conn.post("/filter", body).await;
        let t1 = Instant::now();
        assert!(answer.ends_with(br#""Error":""}"#), "{}", String::from_utf8_lossy(&answer[answer.len().saturating_sub(200)..]));
        conn.post("/prioritize", body).await;
        let t2 = Instant::now();
        filter.push(t1 - t0);
        prioritize.push(t2 - t1);
        pair.push(t2 - t0);
    }
    percentiles(&format!("filter/{label}"), filter);
    percentiles(&format!("prioritize/{label}"), prioritize);
    percentiles(&format!("filter+prioritize/{label}"), pair);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n_pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let n_nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let st = Arc::new(Mutex::new(state(n_nodes, 1000)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let addr = listener.local_addr().expect("address");
        let app = Arc::new(App::new(st, Arc::new(Metrics::default()), None, ServerOptions::default(), Arc::new(|| true)));
        tokio::spawn(server::serve(listener, app, std::future::pending()));
        let mut conn = Connection { reader: BufReader::new(TcpStream::connect(addr).await.expect("connect")), addr };
        conn.reader.get_mut().set_nodelay(true).expect("nodelay");
        let names: Vec<Vec<u8>> = (0..8).map(|i| request(10 + i, n_nodes, true)).collect();
        println!(
            "{n_nodes} nodes, 1000 pods running, default profile; {n_pods} pods with NodeNames ({} KB per call)",
            names[0].len() / 1024
        );
        run(&mut conn, &names, n_pods, "NodeNames").await;
        let nodes: Vec<Vec<u8>> = (0..2).map(|i| request(20 + i, n_nodes, false)).collect();
        println!("{} pods with full Nodes ({} MB per call)", n_pods / 10, nodes[0].len() >> 20);
        run(&mut conn, &nodes, n_pods / 10, "Nodes").await;
    });
}
