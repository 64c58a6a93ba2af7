//! The deployment example in `deploy/`: every manifest parses as its Kubernetes type with no field lost, and
//! the pieces fit together: the second scheduler's extender stanza reaches the extender's Service and URL
//! prefix, the extender's ClusterRole covers what `simsched serve --in-cluster` watches and binds (and no
//! more), the bindings name accounts and roles that exist. Nothing here talks to a cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::simsched;

/// The manifests every deployment of the example needs.
const FILES: [&str; 4] = ["example-pod.yaml", "extender.yaml", "rbac.yaml", "second-scheduler.yaml"];

/// What `simsched serve --in-cluster` lists and watches: (API group, resource).
const WATCHED: [(&str, &str); 8] = [
    ("", "nodes"),
    ("", "pods"),
    ("", "namespaces"),
    ("", "services"),
    ("", "replicationcontrollers"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("policy", "poddisruptionbudgets"),
];

/// The fields of an entry of `KubeSchedulerConfiguration.extenders` (kubescheduler.config.k8s.io/v1).
const EXTENDER_FIELDS: [&str; 12] = [
    "urlPrefix",
    "filterVerb",
    "preemptVerb",
    "prioritizeVerb",
    "weight",
    "bindVerb",
    "enableHTTPS",
    "tlsConfig",
    "httpTimeout",
    "nodeCacheCapable",
    "managedResources",
    "ignorable",
];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("deploy")
}

/// Every document of `deploy/*.yaml`, typed by its kind; each entry carries where it came from.
#[derive(Default)]
struct Manifests {
    service_accounts: Vec<(String, ServiceAccount)>,
    services: Vec<(String, Service)>,
    config_maps: Vec<(String, ConfigMap)>,
    pods: Vec<(String, Pod)>,
    deployments: Vec<(String, Deployment)>,
    cluster_roles: Vec<(String, ClusterRole)>,
    cluster_role_bindings: Vec<(String, ClusterRoleBinding)>,
    roles: Vec<(String, Role)>,
    role_bindings: Vec<(String, RoleBinding)>,
}

/// The text of each document of a multi-document YAML file: the parts between `---` lines, leaving out
/// those with nothing but comments and blank lines.
fn split_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().unwrap();
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.retain(|doc| {
        doc.lines().any(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#')
        })
    });
    docs
}

/// Where `written` (the document as YAML says) and `read` (the typed object serialized back) differ:
/// fields the type does not have (misspelled, misplaced) are dropped by k8s-openapi, so they show up
/// here. A number written where the type holds a string (`cpu: 1` for a quantity) reads back as that
/// string, as the API server reads it, and is not a difference.
fn differences(path: &str, written: &Value, read: &Value, out: &mut Vec<String>) {
    match (written, read) {
        (Value::Object(w), Value::Object(r)) => {
            for (key, wv) in w {
                let p = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match r.get(key) {
                    Some(rv) => differences(&p, wv, rv, out),
                    None => out.push(format!("{p}: not a field of this type (written {wv})")),
                }
            }
            for key in r.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}.{key}: appears when read back"));
            }
        }
        (Value::Array(w), Value::Array(r)) if w.len() == r.len() => {
            for (i, (wv, rv)) in w.iter().zip(r).enumerate() {
                differences(&format!("{path}[{i}]"), wv, rv, out);
            }
        }
        (Value::Number(n), Value::String(s)) if n.to_string() == *s => {}
        _ if written == read => {}
        _ => out.push(format!("{path}: written {written}, read back {read}")),
    }
}

/// Deserializes `text` as a `T` and checks that nothing written was lost on the way.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(text: &str, written: &Value, origin: &str) -> (String, T) {
    let object: T = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{origin}: {e}"));
    let read = serde_json::to_value(&object).unwrap();
    let mut diffs = Vec::new();
    differences("", written, &read, &mut diffs);
    assert!(diffs.is_empty(), "{origin}: the document does not read back as written:\n  {}", diffs.join("\n  "));
    (origin.to_string(), object)
}

fn load() -> Manifests {
    let dir = deploy_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"))
        .collect();
    files.sort();
    let names: BTreeSet<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for file in FILES {
        assert!(names.contains(file), "deploy/{file} is missing (found {names:?})");
    }

    let mut m = Manifests::default();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        // The whole file as the YAML library reads a multi-document stream, to check the split below.
        let all = serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text).unwrap_or_else(|e| panic!("deploy/{file}: {e}"));
        let docs = split_documents(&text);
        assert_eq!(docs.len(), all.len(), "deploy/{file}: documents split at `---` lines differ from the YAML stream's");
        for (i, (doc, value)) in docs.iter().zip(&all).enumerate() {
            let origin = format!("deploy/{file} document {}", i + 1);
            let written: Value = serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{origin}: {e}"));
            assert_eq!(&written, value, "{origin}: differs from the same document read from the whole stream");
            let kind = written.get("kind").and_then(Value::as_str).unwrap_or_else(|| panic!("{origin}: no kind"));
            match kind {
                "ServiceAccount" => m.service_accounts.push(typed(doc, &written, &origin)),
                "Service" => m.services.push(typed(doc, &written, &origin)),
                "ConfigMap" => m.config_maps.push(typed(doc, &written, &origin)),
                "Pod" => m.pods.push(typed(doc, &written, &origin)),
                "Deployment" => m.deployments.push(typed(doc, &written, &origin)),
                "ClusterRole" => m.cluster_roles.push(typed(doc, &written, &origin)),
                "ClusterRoleBinding" => m.cluster_role_bindings.push(typed(doc, &written, &origin)),
                "Role" => m.roles.push(typed(doc, &written, &origin)),
                "RoleBinding" => m.role_bindings.push(typed(doc, &written, &origin)),
                other => panic!("{origin}: kind {other:?} is not one this test knows; add it to the test"),
            }
        }
    }
    m
}

fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// The namespace of a namespaced object; `default` when the manifest leaves it to kubectl.
fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn pod_spec(deployment: &Deployment) -> &PodSpec {
    deployment.spec.as_ref().and_then(|s| s.template.spec.as_ref()).unwrap_or_else(|| panic!("{}: no pod spec", name(&deployment.metadata)))
}

fn template_labels(deployment: &Deployment) -> BTreeMap<String, String> {
    deployment.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default()
}

fn args(container: &Container) -> &[String] {
    container.args.as_deref().unwrap_or_default()
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, arg)| {
        if arg == flag { args.get(i + 1).map(String::as_str) } else { arg.strip_prefix(flag).and_then(|rest| rest.strip_prefix('=')) }
    })
}

/// The `simsched serve` Deployment and its container.
fn extender(m: &Manifests) -> (&Deployment, &Container) {
    let found: Vec<(&Deployment, &Container)> = m
        .deployments
        .iter()
        .flat_map(|(_, d)| pod_spec(d).containers.iter().map(move |c| (d, c)))
        .filter(|(_, c)| args(c).first().map(String::as_str) == Some("serve"))
        .collect();
    assert_eq!(found.len(), 1, "expected one container running `simsched serve`");
    found[0]
}

/// The kube-scheduler Deployment and its container.
fn scheduler(m: &Manifests) -> (&Deployment, &Container) {
    let found: Vec<(&Deployment, &Container)> = m
        .deployments
        .iter()
        .flat_map(|(_, d)| pod_spec(d).containers.iter().map(move |c| (d, c)))
        .filter(|(_, c)| c.image.as_deref().is_some_and(|i| i.starts_with("registry.k8s.io/kube-scheduler:")))
        .collect();
    assert_eq!(found.len(), 1, "expected one kube-scheduler container");
    found[0]
}

/// The KubeSchedulerConfiguration the kube-scheduler container reads (`--config=PATH`), found through the
/// volume mounted at PATH's directory and the ConfigMap behind it.
fn scheduler_config(m: &Manifests) -> Value {
    let (deployment, container) = scheduler(m);
    let command: Vec<String> = container.command.iter().chain(container.args.iter()).flatten().cloned().collect();
    let path = flag(&command, "--config").expect("kube-scheduler is started with --config");
    let (dir, file) = path.rsplit_once('/').unwrap();
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|v| v.mount_path.trim_end_matches('/') == dir)
        .unwrap_or_else(|| panic!("no volume mounted at {dir}"));
    let volume = pod_spec(deployment).volumes.iter().flatten().find(|v| v.name == mount.name).expect("the mounted volume is declared");
    let config_map = volume.config_map.as_ref().expect("the configuration volume is a ConfigMap");
    let ns = namespace(&deployment.metadata);
    let (origin, cm) = m
        .config_maps
        .iter()
        .find(|(_, cm)| name(&cm.metadata) == config_map.name && namespace(&cm.metadata) == ns)
        .unwrap_or_else(|| panic!("no ConfigMap {ns}/{}", config_map.name));
    let text = cm.data.as_ref().and_then(|d| d.get(file)).unwrap_or_else(|| panic!("{origin}: no key {file:?}"));
    let config: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{origin} {file}: {e}"));
    assert_eq!(config["apiVersion"], "kubescheduler.config.k8s.io/v1", "{origin}");
    assert_eq!(config["kind"], "KubeSchedulerConfiguration", "{origin}");
    config
}

/// Splits `http://host:port/path` into its parts.
fn split_url(url: &str) -> (&str, u16, &str) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("{url}: the extender serves plain HTTP: expected http://"));
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let (host, port) = authority.rsplit_once(':').unwrap_or_else(|| panic!("{url}: no port"));
    (host, port.parse().unwrap_or_else(|e| panic!("{url}: port {port:?}: {e}")), path)
}

#[test]
fn every_manifest_parses_as_its_kubernetes_type() {
    let m = load();
    assert_eq!(m.deployments.len(), 2, "the extender and the second scheduler");
    assert_eq!(m.services.len(), 1);
    assert_eq!(m.pods.len(), 1);
}

#[test]
fn the_extender_stanza_reaches_the_extender_service_and_prefix() {
    let m = load();
    let (deployment, container) = extender(&m);
    let serve_args = args(container);
    let prefix = flag(serve_args, "--prefix").expect("simsched serve is given --prefix");
    let listen = flag(serve_args, "--listen").expect("simsched serve is given --listen");
    let listen_port: i32 = listen.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or_else(|| panic!("--listen {listen}"));
    assert!(container.ports.iter().flatten().any(|p| p.container_port == listen_port), "the container declares port {listen_port}");

    // The Service in front of the extender's pods, and its port that leads to the listening port.
    let labels = template_labels(deployment);
    let (origin, service) = m
        .services
        .iter()
        .find(|(_, s)| {
            let selector = s.spec.as_ref().and_then(|s| s.selector.as_ref());
            selector.is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
        .expect("a Service selects the extender's pods");
    assert_eq!(namespace(&service.metadata), namespace(&deployment.metadata), "{origin}");
    let ports = service.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let service_port = ports
        .iter()
        .find(|p| match &p.target_port {
            None => p.port == listen_port,
            Some(IntOrString::Int(port)) => *port == listen_port,
            Some(IntOrString::String(port_name)) => {
                container.ports.iter().flatten().any(|c| c.name.as_deref() == Some(port_name.as_str()) && c.container_port == listen_port)
            }
        })
        .unwrap_or_else(|| panic!("{origin}: no port leads to the extender's port {listen_port}"))
        .port;

    let config = scheduler_config(&m);
    let extenders = config["extenders"].as_array().expect("the scheduler configuration has extenders");
    for stanza in extenders {
        for key in stanza.as_object().expect("an extender is a mapping").keys() {
            assert!(EXTENDER_FIELDS.contains(&key.as_str()), "extender field {key:?} does not exist in kubescheduler.config.k8s.io/v1");
        }
    }
    assert!(extenders.iter().filter(|e| e.get("bindVerb").is_some_and(|v| v != "")).count() <= 1, "at most one extender may bind");

    let host = format!("{}.{}.svc", name(&service.metadata), namespace(&service.metadata));
    let stanza = extenders
        .iter()
        .find(|e| e["urlPrefix"].as_str().is_some_and(|url| split_url(url).0 == host))
        .unwrap_or_else(|| panic!("no extender's urlPrefix is on {host}"));
    let url = stanza["urlPrefix"].as_str().unwrap();
    let (_, port, path) = split_url(url);
    assert_eq!(i32::from(port), service_port, "{url}: port of Service {host}");
    // kube-scheduler calls TrimRight(urlPrefix, "/") + "/" + verb; simsched serves <prefix>/<verb>.
    assert_eq!(path.trim_end_matches('/'), prefix.trim_end_matches('/'), "{url}: path against `simsched serve --prefix`");
    assert_eq!(path, "/scheduler");

    // simsched serves each verb under its own name, and with API-server access all four by default.
    let served: Vec<&str> = match flag(serve_args, "--verbs") {
        Some(list) => list.split(',').map(str::trim).collect(),
        None => vec!["filter", "prioritize", "preempt", "bind"],
    };
    for (field, verb) in [("filterVerb", "filter"), ("prioritizeVerb", "prioritize"), ("preemptVerb", "preempt"), ("bindVerb", "bind")] {
        assert_eq!(stanza[field], verb, "{field}");
        assert!(served.contains(&verb), "simsched serve does not serve {verb}");
    }
    assert!(stanza["weight"].as_i64().is_some_and(|w| w > 0), "weight must be positive with prioritizeVerb");
    assert_eq!(stanza["ignorable"], false);
    assert_eq!(stanza["httpTimeout"], "5s");
    // Names only: the extender must know the nodes itself, from its own watch.
    assert_eq!(stanza["nodeCacheCapable"], true);
    assert!(serve_args.iter().any(|a| a == "--in-cluster"), "bind and the node cache need API-server access");
    assert!(!serve_args.iter().any(|a| a == "--no-watch"), "nodeCacheCapable: true needs the extender's node watch");
}

#[test]
fn the_scheduler_profile_is_valid_and_is_the_one_the_example_pod_asks_for() {
    let m = load();
    let mut config = scheduler_config(&m);
    assert_eq!(config["leaderElection"]["leaderElect"], false);
    // simsched's own reading of KubeSchedulerConfiguration (unknown fields refused, upstream's validation)
    // on everything but the extenders, which simsched's scheduler does not call.
    config.as_object_mut().unwrap().remove("extenders");
    let parsed = scheduler_core::SchedulerConfig::from_yaml(&serde_json::to_string(&config).unwrap())
        .unwrap_or_else(|e| panic!("the scheduler configuration: {e}"));
    let profiles: Vec<&str> = parsed.profiles.iter().map(|p| p.scheduler_name.as_str()).collect();
    assert_eq!(profiles, ["simsched-scheduler"]);

    let (origin, pod) = &m.pods[0];
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.scheduler_name.as_deref(), Some("simsched-scheduler"), "{origin}");
    for c in &spec.containers {
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        assert!(
            requests.is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory")),
            "{origin}: {} requests cpu and memory",
            c.name
        );
    }
}

/// The rules of the ClusterRoles bound to `account` (namespace, name), each as (group, resource, verb).
fn cluster_grants(m: &Manifests, account: (&str, &str)) -> BTreeSet<(String, String, String)> {
    let mut grants = BTreeSet::new();
    for (_, binding) in &m.cluster_role_bindings {
        if !binds(binding.subjects.as_deref(), account) {
            continue;
        }
        let role = &binding.role_ref.name;
        let (_, role) = m.cluster_roles.iter().find(|(_, r)| name(&r.metadata) == role).unwrap_or_else(|| panic!("no ClusterRole {role}"));
        for rule in role.rules.iter().flatten() {
            assert!(
                rule.resource_names.is_none() && rule.non_resource_urls.is_none(),
                "{}: unexpected rule {rule:?}",
                name(&role.metadata)
            );
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    for verb in &rule.verbs {
                        grants.insert((group.clone(), resource.clone(), verb.clone()));
                    }
                }
            }
        }
    }
    grants
}

fn binds(subjects: Option<&[Subject]>, (ns, account): (&str, &str)) -> bool {
    subjects.unwrap_or_default().iter().any(|s| s.kind == "ServiceAccount" && s.name == account && s.namespace.as_deref() == Some(ns))
}

#[test]
fn the_extender_cluster_role_grants_its_watches_and_bind_and_nothing_more() {
    let m = load();
    let (deployment, _) = extender(&m);
    let account = pod_spec(deployment).service_account_name.as_deref().expect("the extender runs as its own ServiceAccount");
    let grants = cluster_grants(&m, (namespace(&deployment.metadata), account));
    let grant = |group: &str, resource: &str, verb: &str| (group.to_string(), resource.to_string(), verb.to_string());

    let mut needed = BTreeSet::new();
    for (group, resource) in WATCHED {
        needed.insert(grant(group, resource, "list"));
        needed.insert(grant(group, resource, "watch"));
    }
    // Bind: create the Binding; on 409 Conflict, read the pod.
    needed.insert(grant("", "pods/binding", "create"));
    needed.insert(grant("", "pods", "get"));
    let missing: Vec<_> = needed.difference(&grants).collect();
    assert!(missing.is_empty(), "the extender's ClusterRole lacks (group, resource, verb) {missing:?}");

    let mut allowed = needed.clone();
    for (group, resource) in WATCHED {
        allowed.insert(grant(group, resource, "get"));
    }
    let extra: Vec<_> = grants.difference(&allowed).collect();
    assert!(extra.is_empty(), "the extender's ClusterRole grants more than it needs: {extra:?}");
}

#[test]
fn the_second_scheduler_has_the_upstream_scheduler_roles() {
    let m = load();
    let (deployment, _) = scheduler(&m);
    let ns = namespace(&deployment.metadata);
    let account = pod_spec(deployment).service_account_name.as_deref().expect("the scheduler runs as its own ServiceAccount");
    let cluster_roles: BTreeSet<&str> = m
        .cluster_role_bindings
        .iter()
        .filter(|(_, b)| binds(b.subjects.as_deref(), (ns, account)))
        .map(|(_, b)| b.role_ref.name.as_str())
        .collect();
    assert_eq!(cluster_roles, BTreeSet::from(["system:kube-scheduler", "system:volume-scheduler"]));
    let roles: BTreeSet<(&str, &str)> = m
        .role_bindings
        .iter()
        .filter(|(_, b)| binds(b.subjects.as_deref(), (ns, account)))
        .map(|(_, b)| (namespace(&b.metadata), b.role_ref.name.as_str()))
        .collect();
    assert_eq!(roles, BTreeSet::from([("kube-system", "extension-apiserver-authentication-reader")]));
}

/// Roles the API server creates itself (bootstrap policy), which the manifests may refer to.
fn built_in(role_ref: &RoleRef) -> bool {
    role_ref.name.starts_with("system:") || (role_ref.kind == "Role" && role_ref.name == "extension-apiserver-authentication-reader")
}

#[test]
fn accounts_roles_and_selectors_refer_to_what_exists() {
    let m = load();
    let accounts: BTreeSet<(&str, &str)> = m.service_accounts.iter().map(|(_, a)| (namespace(&a.metadata), name(&a.metadata))).collect();
    let cluster_roles: BTreeSet<&str> = m.cluster_roles.iter().map(|(_, r)| name(&r.metadata)).collect();
    let roles: BTreeSet<(&str, &str)> = m.roles.iter().map(|(_, r)| (namespace(&r.metadata), name(&r.metadata))).collect();

    let bindings = m.cluster_role_bindings.iter().map(|(o, b)| (o, None::<&str>, &b.role_ref, b.subjects.as_deref()));
    let bindings =
        bindings.chain(m.role_bindings.iter().map(|(o, b)| (o, Some(namespace(&b.metadata)), &b.role_ref, b.subjects.as_deref())));
    for (origin, binding_ns, role_ref, subjects) in bindings {
        assert_eq!(role_ref.api_group.as_deref(), Some("rbac.authorization.k8s.io"), "{origin}");
        let exists = match (role_ref.kind.as_str(), binding_ns) {
            ("ClusterRole", _) => cluster_roles.contains(role_ref.name.as_str()),
            ("Role", Some(ns)) => roles.contains(&(ns, role_ref.name.as_str())),
            (kind, _) => panic!("{origin}: roleRef kind {kind:?}"),
        };
        assert!(exists || built_in(role_ref), "{origin}: {} {} is neither in deploy/ nor built in", role_ref.kind, role_ref.name);
        let subjects = subjects.unwrap_or_default();
        assert!(!subjects.is_empty(), "{origin}: no subjects");
        for s in subjects {
            assert_eq!(s.kind, "ServiceAccount", "{origin}");
            let ns = s.namespace.as_deref().unwrap_or_else(|| panic!("{origin}: subject {} has no namespace", s.name));
            assert!(accounts.contains(&(ns, s.name.as_str())), "{origin}: no ServiceAccount {ns}/{}", s.name);
        }
    }

    for (origin, d) in &m.deployments {
        let ns = namespace(&d.metadata);
        let account = pod_spec(d).service_account_name.as_deref().unwrap_or("default");
        assert!(accounts.contains(&(ns, account)), "{origin}: no ServiceAccount {ns}/{account}");
        let selector = d.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
        let labels = template_labels(d);
        assert!(
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{origin}: selector against template labels"
        );
    }
}

#[test]
fn the_extender_args_are_the_image_cmd_and_simsched_accepts_them() {
    let m = load();
    let (_, container) = extender(&m);
    let serve_args = args(container);
    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    let cmd = dockerfile.lines().find_map(|l| l.strip_prefix("CMD ")).expect("deploy/Dockerfile has a CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("the CMD is in exec (JSON) form");
    assert_eq!(serve_args, cmd.as_slice(), "the Deployment's args and the image's CMD");
    // Clap parses (and validates) every argument before it acts on --help, which then exits 0 without serving.
    let mut argv: Vec<&str> = serve_args.iter().map(String::as_str).collect();
    argv.push("--help");
    simsched(&argv).success();
}
