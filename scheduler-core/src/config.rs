//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`): parsing, validation, and upstream's
//! defaulting (the default plugin set merged with the user's plugins, per extension point).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::framework::ExtensionPoint;

/// The API version simsched reads.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";

/// A configuration error: where (`profiles[0].plugins.score.enabled[1]`, or a YAML line and column) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Field path, or `line L column C` for YAML syntax errors.
    pub path: String,
    /// What was expected.
    pub message: String,
}

impl ConfigError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.into(), message: message.into() }
    }
}

/// A plugin reference in a plugin set.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// Plugin name, or `"*"` in `disabled`.
    pub name: String,
    /// Score weight; absent or 0 means 1.
    #[serde(default)]
    pub weight: Option<i32>,
}

/// `enabled` and `disabled` plugins of one extension point.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PluginSet {
    /// Plugins enabled, in order.
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Plugins disabled; `"*"` disables all defaults.
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// The `plugins` of a profile: a plugin set per extension point, and `multiPoint`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[expect(missing_docs, reason = "one field per extension point, named as in the YAML")]
pub struct Plugins {
    #[serde(default)]
    pub pre_enqueue: PluginSet,
    #[serde(default)]
    pub queue_sort: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub permit: PluginSet,
    #[serde(default)]
    pub pre_bind: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
    #[serde(default)]
    pub post_bind: PluginSet,
    #[serde(default)]
    pub multi_point: PluginSet,
}

impl Plugins {
    /// The plugin set of `point`.
    pub fn point(&self, point: ExtensionPoint) -> &PluginSet {
        match point {
            ExtensionPoint::PreEnqueue => &self.pre_enqueue,
            ExtensionPoint::QueueSort => &self.queue_sort,
            ExtensionPoint::PreFilter => &self.pre_filter,
            ExtensionPoint::Filter => &self.filter,
            ExtensionPoint::PostFilter => &self.post_filter,
            ExtensionPoint::PreScore => &self.pre_score,
            ExtensionPoint::Score => &self.score,
            ExtensionPoint::Reserve => &self.reserve,
            ExtensionPoint::Permit => &self.permit,
            ExtensionPoint::PreBind => &self.pre_bind,
            ExtensionPoint::Bind => &self.bind,
            ExtensionPoint::PostBind => &self.post_bind,
        }
    }

    fn point_mut(&mut self, point: ExtensionPoint) -> &mut PluginSet {
        match point {
            ExtensionPoint::PreEnqueue => &mut self.pre_enqueue,
            ExtensionPoint::QueueSort => &mut self.queue_sort,
            ExtensionPoint::PreFilter => &mut self.pre_filter,
            ExtensionPoint::Filter => &mut self.filter,
            ExtensionPoint::PostFilter => &mut self.post_filter,
            ExtensionPoint::PreScore => &mut self.pre_score,
            ExtensionPoint::Score => &mut self.score,
            ExtensionPoint::Reserve => &mut self.reserve,
            ExtensionPoint::Permit => &mut self.permit,
            ExtensionPoint::PreBind => &mut self.pre_bind,
            ExtensionPoint::Bind => &mut self.bind,
            ExtensionPoint::PostBind => &mut self.post_bind,
        }
    }

    /// Every plugin name enabled at some point or in `multiPoint` (upstream `pluginsNeeded`), sorted.
    pub fn needed(&self) -> BTreeSet<&str> {
        let mut names: BTreeSet<&str> = self.multi_point.enabled.iter().map(|p| p.name.as_str()).collect();
        for point in ExtensionPoint::ALL {
            names.extend(self.point(point).enabled.iter().map(|p| p.name.as_str()));
        }
        names
    }
}

/// One `pluginConfig` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Plugin name.
    pub name: String,
    /// The plugin's arguments, decoded by the plugin's constructor.
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// A scheduling profile.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    /// `schedulerName`; pods choose a profile by `spec.schedulerName`.
    #[serde(default)]
    pub scheduler_name: Option<String>,
    /// Overrides the global `percentageOfNodesToScore`.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugins, merged with the default plugins.
    #[serde(default)]
    pub plugins: Option<Plugins>,
    /// Plugin arguments.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
}

/// A `KubeSchedulerConfiguration` as written. Fields that only concern a running kube-scheduler process
/// (`leaderElection`, `clientConnection`, profiling switches) are accepted and have no effect.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerConfiguration {
    /// Must be `kubescheduler.config.k8s.io/v1`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Must be `KubeSchedulerConfiguration`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Upstream's filter/score parallelism. simsched's results do not depend on it; it is validated only.
    #[serde(default)]
    pub parallelism: Option<i32>,
    /// Global percentage of nodes to score (0 = adaptive).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Initial backoff of unschedulable pods, seconds.
    #[serde(default)]
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Maximum backoff of unschedulable pods, seconds.
    #[serde(default)]
    pub pod_max_backoff_seconds: Option<i64>,
    /// Profiles; none means one default profile.
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
    /// Scheduler extenders. simsched does not call extenders; a non-empty list is refused.
    #[serde(default)]
    pub extenders: Vec<serde_json::Value>,
    /// Accepted, no effect.
    #[serde(default)]
    pub leader_election: Option<IgnoredAny>,
    /// Accepted, no effect.
    #[serde(default)]
    pub client_connection: Option<IgnoredAny>,
    /// Accepted, no effect.
    #[serde(default)]
    pub enable_profiling: Option<IgnoredAny>,
    /// Accepted, no effect.
    #[serde(default)]
    pub enable_contention_profiling: Option<IgnoredAny>,
    /// Accepted, no effect.
    #[serde(default)]
    pub delay_cache_until_active: Option<IgnoredAny>,
}

/// The configuration after validation and defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Global percentage of nodes to score.
    pub percentage_of_nodes_to_score: i32,
    /// Initial backoff, seconds.
    pub pod_initial_backoff_seconds: i64,
    /// Maximum backoff, seconds.
    pub pod_max_backoff_seconds: i64,
    /// Profiles, each with its plugins merged with the defaults and a scheduler name.
    pub profiles: Vec<DefaultedProfile>,
}

/// A profile after defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct DefaultedProfile {
    /// Scheduler name.
    pub scheduler_name: String,
    /// Profile override of `percentageOfNodesToScore`.
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugins after merging with the defaults.
    pub plugins: Plugins,
    /// Plugin arguments as written.
    pub plugin_config: Vec<PluginConfig>,
}

impl Default for SchedulerConfig {
    /// kube-scheduler's default configuration: one `default-scheduler` profile with the default plugins.
    fn default() -> Self {
        SchedulerConfig::from_config(KubeSchedulerConfiguration::default()).expect("the default configuration is valid")
    }
}

/// The default plugins of kube-scheduler 1.36 (`getDefaultPlugins` with its default feature gates applied),
/// all enabled through `multiPoint`, with their weights.
pub const DEFAULT_MULTI_POINT: [(&str, Option<i32>); 20] = [
    ("SchedulingGates", None),
    ("PrioritySort", None),
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("TaintToleration", Some(3)),
    ("NodeAffinity", Some(2)),
    ("NodePorts", None),
    ("NodeResourcesFit", Some(1)),
    ("VolumeRestrictions", None),
    ("NodeVolumeLimits", None),
    ("VolumeBinding", None),
    ("VolumeZone", None),
    ("PodTopologySpread", Some(2)),
    ("InterPodAffinity", Some(2)),
    ("DynamicResources", Some(2)),
    ("DefaultPreemption", None),
    ("NodeResourcesBalancedAllocation", Some(1)),
    ("ImageLocality", Some(1)),
    ("DefaultBinder", None),
    ("NodeDeclaredFeatures", None),
];

fn default_plugins() -> Plugins {
    let mut plugins = Plugins::default();
    plugins.multi_point.enabled = DEFAULT_MULTI_POINT.iter().map(|&(name, weight)| PluginRef { name: name.into(), weight }).collect();
    plugins
}

impl SchedulerConfig {
    /// Parses, validates and defaults a configuration from YAML (or JSON).
    pub fn from_yaml(text: &str) -> Result<SchedulerConfig, ConfigError> {
        let raw: KubeSchedulerConfiguration = serde_saphyr::from_str(text).map_err(|e| yaml_error(&e))?;
        SchedulerConfig::from_config(raw)
    }

    /// Validates and defaults a parsed configuration, following upstream's `SetDefaults_*` and
    /// `ValidateKubeSchedulerConfiguration`.
    pub fn from_config(raw: KubeSchedulerConfiguration) -> Result<SchedulerConfig, ConfigError> {
        if let Some(v) = &raw.api_version
            && v != API_VERSION
        {
            return Err(ConfigError::new("apiVersion", format!("unsupported version {v:?}: expected {API_VERSION:?}")));
        }
        if let Some(k) = &raw.kind
            && k != "KubeSchedulerConfiguration"
        {
            return Err(ConfigError::new("kind", format!("expected \"KubeSchedulerConfiguration\", got {k:?}")));
        }
        if !raw.extenders.is_empty() {
            return Err(ConfigError::new("extenders", "simsched does not call scheduler extenders; remove the extenders list"));
        }
        if let Some(p) = raw.parallelism
            && p <= 0
        {
            return Err(ConfigError::new("parallelism", format!("Invalid value: {p}: should be an integer value greater than zero")));
        }
        let percentage = raw.percentage_of_nodes_to_score.unwrap_or(0);
        check_percentage(percentage, "percentageOfNodesToScore")?;
        let initial = raw.pod_initial_backoff_seconds.unwrap_or(1);
        let max = raw.pod_max_backoff_seconds.unwrap_or(10);
        if initial <= 0 {
            return Err(ConfigError::new("podInitialBackoffSeconds", format!("Invalid value: {initial}: must be greater than 0")));
        }
        if max < initial {
            return Err(ConfigError::new(
                "podMaxBackoffSeconds",
                format!("Invalid value: {max}: must be greater than or equal to PodInitialBackoffSeconds"),
            ));
        }
        let mut raw_profiles = raw.profiles;
        if raw_profiles.is_empty() {
            raw_profiles.push(ProfileConfig::default());
        }
        let single = raw_profiles.len() == 1;
        let mut profiles: Vec<DefaultedProfile> = Vec::with_capacity(raw_profiles.len());
        for (idx, p) in raw_profiles.into_iter().enumerate() {
            let path = format!("profiles[{idx}]");
            let scheduler_name = match p.scheduler_name {
                Some(name) if !name.is_empty() => name,
                None if single => "default-scheduler".to_string(),
                _ => return Err(ConfigError::new(format!("{path}.schedulerName"), "Required value")),
            };
            if let Some(prev) = profiles.iter().position(|q| q.scheduler_name == scheduler_name) {
                return Err(ConfigError::new(
                    format!("{path}.schedulerName"),
                    format!("Duplicate value: {scheduler_name:?} (also profiles[{prev}].schedulerName)"),
                ));
            }
            if let Some(pct) = p.percentage_of_nodes_to_score {
                check_percentage(pct, &format!("{path}.percentageOfNodesToScore"))?;
            }
            let mut seen = BTreeSet::new();
            for (cfg_idx, cfg) in p.plugin_config.iter().enumerate() {
                if !seen.insert(cfg.name.as_str()) {
                    return Err(ConfigError::new(format!("{path}.pluginConfig[{cfg_idx}]"), format!("Duplicate value: {:?}", cfg.name)));
                }
            }
            let plugins = merge_plugins(default_plugins(), p.plugins);
            profiles.push(DefaultedProfile {
                scheduler_name,
                percentage_of_nodes_to_score: p.percentage_of_nodes_to_score,
                plugins,
                plugin_config: p.plugin_config,
            });
        }
        let first_sort = &profiles[0].plugins.queue_sort;
        if first_sort.enabled.len() > 1 {
            return Err(ConfigError::new("profiles[0].plugins.queueSort.Enabled", "only one queue sort plugin can be enabled"));
        }
        for (idx, p) in profiles.iter().enumerate().skip(1) {
            if p.plugins.queue_sort != *first_sort {
                return Err(ConfigError::new(format!("profiles[{idx}].plugins.queueSort"), "must be the same for all profiles"));
            }
        }
        Ok(SchedulerConfig {
            percentage_of_nodes_to_score: percentage,
            pod_initial_backoff_seconds: initial,
            pod_max_backoff_seconds: max,
            profiles,
        })
    }
}

fn check_percentage(value: i32, path: &str) -> Result<(), ConfigError> {
    if !(0..=100).contains(&value) {
        return Err(ConfigError::new(path, format!("Invalid value: {value}: not in valid range [0-100]")));
    }
    Ok(())
}

/// Turns a YAML error into a [`ConfigError`] located by line and column.
pub fn yaml_error(e: &serde_saphyr::Error) -> ConfigError {
    let message = bare_message(&e.without_snippet().to_string());
    match e.location() {
        Some(loc) => ConfigError::new(format!("line {} column {}", loc.line(), loc.column()), message),
        None => ConfigError::new("document", message),
    }
}

/// The message of a rendered serde-saphyr error without its `error: line L column C: ` prefix.
fn bare_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered);
    let mut rest = first.strip_prefix("error: ").unwrap_or(first);
    if rest.starts_with("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains(" column ")
    {
        rest = &rest[idx + 2..];
    }
    // Some messages repeat the location: "unclosed bracket '[' at line 2, column 8".
    if let Some(idx) = rest.rfind(" at line ")
        && rest[idx..].contains(", column ")
    {
        rest = &rest[..idx];
    }
    rest.to_string()
}

/// Upstream `mergePlugins`: per extension point (and `multiPoint`), merges the user's set into the default.
pub fn merge_plugins(defaults: Plugins, custom: Option<Plugins>) -> Plugins {
    let Some(custom) = custom else { return defaults };
    let mut merged = Plugins { multi_point: merge_plugin_set(&defaults.multi_point, &custom.multi_point), ..Plugins::default() };
    for point in ExtensionPoint::ALL {
        *merged.point_mut(point) = merge_plugin_set(defaults.point(point), custom.point(point));
    }
    merged
}

/// Upstream `mergePluginSet`: defaults stay in place unless disabled (or `"*"`), a re-configured default is
/// replaced in place, the remaining custom plugins are appended.
fn merge_plugin_set(default_set: &PluginSet, custom_set: &PluginSet) -> PluginSet {
    let disabled: Vec<PluginRef> =
        custom_set.disabled.iter().chain(&default_set.disabled).map(|p| PluginRef { name: p.name.clone(), weight: None }).collect();
    let is_disabled = |name: &str| disabled.iter().any(|d| d.name == name);
    let mut replaced = BTreeSet::new();
    let mut enabled = Vec::new();
    if !is_disabled("*") {
        for default_plugin in &default_set.enabled {
            if is_disabled(&default_plugin.name) {
                continue;
            }
            // Upstream keeps the last custom entry of a name in its map.
            match custom_set.enabled.iter().rposition(|c| c.name == default_plugin.name) {
                Some(idx) => {
                    replaced.insert(idx);
                    enabled.push(custom_set.enabled[idx].clone());
                }
                None => enabled.push(default_plugin.clone()),
            }
        }
    }
    for (idx, p) in custom_set.enabled.iter().enumerate() {
        if !replaced.contains(&idx) {
            enabled.push(p.clone());
        }
    }
    PluginSet { enabled, disabled }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &PluginSet) -> Vec<&str> {
        set.enabled.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn empty_config_is_the_default_profile() {
        let c = SchedulerConfig::from_yaml("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n").unwrap();
        assert_eq!(c.profiles.len(), 1);
        assert_eq!(c.profiles[0].scheduler_name, "default-scheduler");
        assert_eq!(c.profiles[0].plugins.multi_point.enabled.len(), DEFAULT_MULTI_POINT.len());
        assert_eq!((c.percentage_of_nodes_to_score, c.pod_initial_backoff_seconds, c.pod_max_backoff_seconds), (0, 1, 10));
    }

    #[test]
    fn reconfigured_default_keeps_its_place_and_new_plugins_are_appended() {
        let yaml = r#"
profiles:
- plugins:
    multiPoint:
      enabled:
      - name: MyPlugin
      - name: NodeAffinity
        weight: 7
      disabled:
      - name: ImageLocality
"#;
        let c = SchedulerConfig::from_yaml(yaml).unwrap();
        let mp = &c.profiles[0].plugins.multi_point;
        let n = names(mp);
        assert_eq!(n[5], "NodeAffinity");
        assert_eq!(mp.enabled[5].weight, Some(7));
        assert_eq!(n.last(), Some(&"MyPlugin"));
        assert!(!n.contains(&"ImageLocality"));
    }

    #[test]
    fn star_disables_every_default() {
        let yaml =
            "profiles:\n- plugins:\n    multiPoint:\n      disabled:\n      - name: '*'\n      enabled:\n      - name: PrioritySort\n";
        let c = SchedulerConfig::from_yaml(yaml).unwrap();
        assert_eq!(names(&c.profiles[0].plugins.multi_point), ["PrioritySort"]);
    }

    #[test]
    fn validation_errors_name_the_field() {
        let err = |yaml: &str| SchedulerConfig::from_yaml(yaml).unwrap_err().to_string();
        assert_eq!(err("percentageOfNodesToScore: 101"), "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]");
        assert_eq!(
            err("podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2"),
            "podMaxBackoffSeconds: Invalid value: 2: must be greater than or equal to PodInitialBackoffSeconds"
        );
        assert_eq!(err("profiles:\n- schedulerName: a\n- {}"), "profiles[1].schedulerName: Required value");
        assert_eq!(
            err("profiles:\n- schedulerName: a\n- schedulerName: a"),
            "profiles[1].schedulerName: Duplicate value: \"a\" (also profiles[0].schedulerName)"
        );
        assert_eq!(
            err("profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n  - name: NodeResourcesFit"),
            "profiles[0].pluginConfig[1]: Duplicate value: \"NodeResourcesFit\""
        );
        assert_eq!(
            err("apiVersion: kubescheduler.config.k8s.io/v1beta3"),
            "apiVersion: unsupported version \"kubescheduler.config.k8s.io/v1beta3\": expected \"kubescheduler.config.k8s.io/v1\""
        );
        assert!(
            err("profiles:\n- plugins:\n    filtr: {}").starts_with("line 3 column 5: "),
            "{}",
            err("profiles:\n- plugins:\n    filtr: {}")
        );
        assert!(err("profiles: [").starts_with("line "));
    }

    #[test]
    fn process_only_fields_are_accepted() {
        let yaml = "leaderElection:\n  leaderElect: false\nclientConnection:\n  kubeconfig: /etc/k.conf\nenableProfiling: true\n";
        assert!(SchedulerConfig::from_yaml(yaml).is_ok());
    }
}
