//! `simsched serve` as a process: it starts, answers, refuses bad flags, and stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{root, simsched, stderr};

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Kills the server if the test fails before it stops.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serves_the_sample_cluster_and_stops_on_sigterm() {
    let child = Command::new(assert_cmd::cargo::cargo_bin("simsched"))
        .current_dir(root())
        .args(["serve", "--listen", "127.0.0.1:0", "--prefix", "/scheduler", "--cluster", super::CLUSTER])
        .env("SIMSCHED_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let addr = loop {
        let line = lines.next().expect("the server logs where it listens").unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(!log.contains('\u{1b}'), "no colours when stderr is not a terminal: {log}");
    let health = get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""boundPods":4,"nodes":4,"#) && health.contains("static: no API server"), "{health}");
    let status = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}

#[test]
fn refuses_bad_flags_with_clear_errors() {
    for (args, expected) in [
        (
            &["serve", "--verbs", "filter,bind"][..],
            "--verbs bind needs API-server access to create Bindings: give --kubeconfig or --in-cluster",
        ),
        (&["serve", "--verbs", "filter,frob"][..], "invalid --verbs entry \"frob\": expected filter, prioritize, preempt or bind"),
        (&["serve", "--max-body", "0"][..], "invalid --max-body \"0\": expected a positive size such as 64Mi"),
        (&["serve", "--deadline", "soon"][..], "invalid --deadline: invalid duration \"soon\""),
        (&["serve", "--kubeconfig", "/nonexistent/kubeconfig"][..], "failed to read kubeconfig /nonexistent/kubeconfig"),
        (&["serve", "--prefix", "/:x"][..], "invalid URL prefix \"/:x\": only plain path segments are allowed"),
        (&["serve", "--in-cluster", "--cluster", "c.yaml"][..], "--cluster cannot be combined with watching the API server"),
    ] {
        let a = simsched(args).failure();
        assert!(stderr(&a).contains(expected), "{args:?}: {}", stderr(&a));
    }
}
