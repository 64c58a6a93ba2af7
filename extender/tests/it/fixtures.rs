//! Golden answers to the payloads a real kube-scheduler sent (tests/fixtures, see its INDEX.md), checked
//! against the scheduler's acceptance rules, and the spec's examples.

use extender::server::decide;
use extender::wire::{self, ExtenderArgs, ExtenderBindingResult, ExtenderFilterResult, ExtenderPreemptionResult, HostPriority, to_go_json};
use extender::{PodSource, State, Verb};
use k8s_openapi::api::core::v1 as k8s;

use crate::{fixture, golden, state};

/// The preemption victim of the full capture (low-filler on node-small).
const VICTIM_UID: &str = "31a9ad03-d2d3-4260-b6d8-de94d14a997f";
/// The UID the nodecache capture names for the same victim (another run of the rig).
const NODECACHE_VICTIM_UID: &str = "b3ffa603-71ff-4afd-a5e5-13fe352b638a";

/// The captured cluster in the cache: the four nodes of the later capture, node-gpu, and the preemption
/// victim on node-small, under `victim_uid` (the nodecache capture names it by another UID).
fn captured_state_with(victim_uid: Option<&str>) -> State {
    let mut st = state(PodSource::Static);
    for case in ["filter-html-escaping-and-quantities-request", "filter-single-node-toleration-extended-resource-request"] {
        let v: serde_json::Value = serde_json::from_slice(&fixture(case)).unwrap();
        for item in v["Nodes"]["items"].as_array().unwrap() {
            let node: k8s::Node = serde_json::from_value(item.clone()).unwrap();
            let version = node.metadata.resource_version.clone().unwrap_or_default();
            st.apply_node(traces::kube::node_def(&node).unwrap(), &version).unwrap();
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&fixture("preempt-request")).unwrap();
    for victims in v["NodeNameToVictims"].as_object().unwrap().values() {
        for pod in victims["Pods"].as_array().unwrap() {
            let pod: k8s::Pod = serde_json::from_value(pod.clone()).unwrap();
            let (mut def, facts) = traces::kube::pod_def(&pod).unwrap();
            if let Some(uid) = victim_uid {
                def.uid = uid.to_string();
            }
            st.apply_pod(def, &facts.phase).unwrap();
        }
    }
    st
}

fn captured_state() -> State {
    captured_state_with(None)
}

fn answer(st: &mut State, verb: Verb, body: &[u8]) -> String {
    String::from_utf8(decide(st, verb, body).unwrap_or_else(|f| panic!("{verb:?} failed: {}", f.message))).unwrap()
}

/// What the scheduler checks of a filter answer: nodes returned are nodes it sent (the very objects, with
/// `Nodes`), and no node both passes and fails.
fn check_acceptable_filter(request: &[u8], response: &str) {
    let args: ExtenderArgs<'_> = wire::decode(request).unwrap();
    let result: ExtenderFilterResult<'_> = wire::decode(response.as_bytes()).unwrap();
    assert!(result.error.is_empty(), "{}", result.error);
    let mut passed: Vec<String> = Vec::new();
    match (&args.node_names, &args.nodes) {
        (Some(names), _) => {
            assert!(result.nodes.is_none());
            for name in result.node_names.as_ref().expect("NodeNames answered") {
                assert!(names.contains(name), "{name:?} was not sent");
                passed.push(name.to_string());
            }
        }
        (None, Some(list)) => {
            assert!(result.node_names.is_none());
            let sent: Vec<&str> = list.items.iter().map(|r| r.get()).collect();
            for item in &result.nodes.as_ref().expect("Nodes answered").items {
                assert!(sent.contains(&item.get()), "a node object that was not sent, or not verbatim");
                let v: serde_json::Value = serde_json::from_str(item.get()).unwrap();
                passed.push(v["metadata"]["name"].as_str().unwrap().to_string());
            }
        }
        (None, None) => panic!("request without nodes"),
    }
    for failed in [&result.failed_nodes, &result.failed_and_unresolvable_nodes] {
        for name in failed.as_ref().expect("maps are written as {}, not null").keys() {
            assert!(!passed.contains(name), "{name} both passes and fails");
        }
    }
}

#[test]
fn filter_answers_to_captured_requests() {
    for case in [
        "filter",
        "filter-affinity",
        "filter-html-escaping-and-quantities",
        "filter-nodecache",
        "filter-nodeselector",
        "filter-nominated-node-after-preemption",
        "filter-single-node-toleration-extended-resource",
    ] {
        let request = fixture(&format!("{case}-request"));
        let mut st = captured_state();
        if case == "filter-nominated-node-after-preemption" {
            // This call came once the victim was gone.
            st.delete_pod(VICTIM_UID);
        }
        let response = answer(&mut st, Verb::Filter, &request);
        check_acceptable_filter(&request, &response);
        golden(&format!("{case}-response.json"), &response);
    }
}

#[test]
fn prioritize_answers_to_captured_requests() {
    for case in ["prioritize", "prioritize-nodecache"] {
        let request = fixture(&format!("{case}-request"));
        let response = answer(&mut captured_state(), Verb::Prioritize, &request);
        let scores: Vec<HostPriority> = wire::decode(response.as_bytes()).unwrap();
        assert_eq!(scores.len(), 4, "{response}");
        assert!(scores.iter().all(|s| (0..=10).contains(&s.score)), "{response}");
        golden(&format!("{case}-response.json"), &response);
    }
}

#[test]
fn preempt_agrees_with_the_captured_victims() {
    // The scheduler proposed evicting low-filler (priority 100) on node-small for high-preemptor
    // (priority 1000000); DefaultPreemption's victim selection agrees, and the answer is what the captured
    // extender answered.
    for case in ["preempt", "preempt-nodecache"] {
        let request = fixture(&format!("{case}-request"));
        let uid = (case == "preempt-nodecache").then_some(NODECACHE_VICTIM_UID);
        let response = answer(&mut captured_state_with(uid), Verb::Preempt, &request);
        let ours: ExtenderPreemptionResult = wire::decode(response.as_bytes()).unwrap();
        let captured: ExtenderPreemptionResult = wire::decode(&fixture(&format!("{case}-response"))).unwrap();
        assert_eq!(ours, captured, "{case}: {response}");
        golden(&format!("{case}-response.json"), &response);
    }
}

#[test]
fn captured_responses_decode_and_encode_as_go_does() {
    // Every answer the scheduler accepted decodes with our types, and our encoding of it is the same JSON.
    let same_json = |a: &[u8], b: &[u8]| {
        let a: serde_json::Value = serde_json::from_slice(a).unwrap();
        let b: serde_json::Value = serde_json::from_slice(b).unwrap();
        assert_eq!(a, b);
    };
    for case in ["filter", "filter-affinity", "filter-nodecache", "filter-html-escaping-and-quantities"] {
        let raw = fixture(&format!("{case}-response"));
        let decoded: ExtenderFilterResult<'_> = wire::decode(&raw).unwrap();
        same_json(&to_go_json(&decoded), &raw);
    }
    for case in ["prioritize", "prioritize-nodecache"] {
        let raw = fixture(&format!("{case}-response"));
        let decoded: Vec<HostPriority> = wire::decode(&raw).unwrap();
        same_json(&to_go_json(&decoded), &raw);
    }
    for case in ["preempt", "preempt-nodecache"] {
        let raw = fixture(&format!("{case}-response"));
        let decoded: ExtenderPreemptionResult = wire::decode(&raw).unwrap();
        same_json(&to_go_json(&decoded), &raw);
    }
    for case in ["bind", "bind-nodecache"] {
        let raw = fixture(&format!("{case}-response"));
        let decoded: ExtenderBindingResult = wire::decode(&raw).unwrap();
        same_json(&to_go_json(&decoded), &raw);
        let args: wire::ExtenderBindingArgs = wire::decode(&fixture(&format!("{case}-request"))).unwrap();
        // The request as the scheduler wrote it is byte for byte our encoding.
        assert_eq!(to_go_json(&args), fixture(&format!("{case}-request")));
    }
}

const SPEC_POD: &str = r#"{"metadata":{"name":"trainer-0","namespace":"ml","uid":"6f1c2d3e-0000-4000-8000-000000000001","labels":{"app":"trainer"}},
        "spec":{"containers":[{"name":"main","image":"registry.example/trainer:1.4",
                 "resources":{"requests":{"cpu":"2","memory":"4Gi","example.com/gpu":"1"},"limits":{"example.com/gpu":"1"}}}],
                "schedulerName":"default-scheduler","priority":0},
        "status":{"phase":"Pending"}}"#;

const SPEC_NODE_A: &str = r#"{"metadata":{"name":"node-a","labels":{"kubernetes.io/hostname":"node-a"}},"spec":{},
    "status":{"allocatable":{"cpu":"8","memory":"32Gi","pods":"110","example.com/gpu":"2"}}}"#;
const SPEC_NODE_B: &str = r#"{"metadata":{"name":"node-b","labels":{"kubernetes.io/hostname":"node-b"}},"spec":{},
    "status":{"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"}}}"#;

#[test]
fn spec_example_filter_with_nodes() {
    let request = format!(r#"{{"Pod":{SPEC_POD},"Nodes":{{"metadata":{{}},"items":[{SPEC_NODE_A},{SPEC_NODE_B}]}},"NodeNames":null}}"#);
    let response = answer(&mut state(PodSource::Static), Verb::Filter, request.as_bytes());
    assert_eq!(
        response,
        format!(
            r#"{{"Nodes":{{"metadata":{{}},"items":[{SPEC_NODE_A}]}},"NodeNames":null,"FailedNodes":{{}},"FailedAndUnresolvableNodes":{{"node-b":"Insufficient example.com/gpu"}},"Error":""}}"#
        )
    );
}

#[test]
fn spec_example_filter_and_prioritize_with_node_names() {
    let mut st = state(PodSource::Static);
    // The nodes reach the cache through a call that carries them.
    let seed = format!(r#"{{"Pod":{SPEC_POD},"Nodes":{{"items":[{SPEC_NODE_A},{SPEC_NODE_B}]}}}}"#);
    answer(&mut st, Verb::Filter, seed.as_bytes());
    let request = format!(r#"{{"Pod":{SPEC_POD},"Nodes":null,"NodeNames":["node-a","node-b","node-c"]}}"#);
    let response = answer(&mut st, Verb::Filter, request.as_bytes());
    assert_eq!(
        response,
        r#"{"Nodes":null,"NodeNames":["node-a"],"FailedNodes":{"node-c":"node \"node-c\" is not in simsched's node cache"},"FailedAndUnresolvableNodes":{"node-b":"Insufficient example.com/gpu"},"Error":""}"#
    );
    let request = format!(r#"{{"Pod":{SPEC_POD},"Nodes":null,"NodeNames":["node-a","node-c"]}}"#);
    let response = answer(&mut st, Verb::Prioritize, request.as_bytes());
    let scores: Vec<HostPriority> = wire::decode(response.as_bytes()).unwrap();
    assert_eq!(scores.iter().map(|s| s.host.as_str()).collect::<Vec<_>>(), ["node-a", "node-c"]);
    assert_eq!(scores[1].score, 0, "an unknown node scores 0");
    assert!((1..=10).contains(&scores[0].score), "{response}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// No request makes a verb panic: captured payloads with bytes replaced, cut short, or spliced.
    #[test]
    fn mangled_payloads_get_answers_not_panics(
        case in 0usize..6,
        verb in 0usize..3,
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 0..8),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
        truncate in proptest::prelude::any::<bool>(),
    ) {
        let name = ["filter-request", "filter-nodecache-request", "prioritize-request", "preempt-request", "preempt-nodecache-request", "filter-affinity-request"][case];
        let mut body = fixture(name);
        for (at, byte) in &edits {
            let i = at.index(body.len());
            body[i] = *byte;
        }
        if truncate {
            body.truncate(cut.index(body.len() + 1));
        }
        let verb = [Verb::Filter, Verb::Prioritize, Verb::Preempt][verb];
        // Ok or a failure with a message: either way, an answer.
        if let Err(failure) = decide(&mut captured_state(), verb, &body) {
            proptest::prop_assert!(!failure.message.is_empty());
        }
    }
}

#[test]
fn preempt_leaves_out_nodes_whose_victims_the_scheduler_did_not_propose() {
    // The captured call with the proposed victim's UID changed: simsched's victim on node-small is not
    // among the proposed ones, so it does not agree with that node.
    let request = String::from_utf8(fixture("preempt-nodecache-request")).unwrap().replace(NODECACHE_VICTIM_UID, "someone-else");
    let response = answer(&mut captured_state_with(Some(NODECACHE_VICTIM_UID)), Verb::Preempt, request.as_bytes());
    assert_eq!(response, r#"{"NodeNameToMetaVictims":{}}"#);
}

#[test]
fn a_node_listed_twice_is_one_node_its_last_version() {
    let mut st = state(PodSource::Static);
    let small = r#"{"metadata":{"name":"n1","resourceVersion":"1"},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"0"}}}"#;
    let large = r#"{"metadata":{"name":"n1","resourceVersion":"2"},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"}}}"#;
    let other = r#"{"metadata":{"name":"n2","resourceVersion":"1"},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"}}}"#;
    let body = format!(r#"{{"Pod":{SPEC_POD_SMALL},"Nodes":{{"items":[{small},{other},{large}]}}}}"#);
    let response = answer(&mut st, Verb::Filter, body.as_bytes());
    // n1 (as its last version) passes, at both places it was listed.
    assert_eq!(
        response,
        format!(
            r#"{{"Nodes":{{"metadata":{{}},"items":[{small},{other},{large}]}},"NodeNames":null,"FailedNodes":{{}},"FailedAndUnresolvableNodes":{{}},"Error":""}}"#
        )
    );
    let response = answer(&mut st, Verb::Prioritize, body.as_bytes());
    let scores: Vec<HostPriority> = wire::decode(response.as_bytes()).unwrap();
    assert_eq!(scores.iter().map(|s| s.host.as_str()).collect::<Vec<_>>(), ["n1", "n2", "n1"]);
    assert_eq!(scores[0].score, scores[2].score);
}

const SPEC_POD_SMALL: &str = r#"{"metadata":{"name":"p","namespace":"default","uid":"u-1"},"spec":{"containers":[{"name":"c","image":"i","resources":{"requests":{"cpu":"1"}}}]}}"#;
