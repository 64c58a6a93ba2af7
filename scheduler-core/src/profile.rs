//! A built scheduling profile: instantiated plugins, ordered per extension point, with score weights.
//!
//! Building follows upstream's `NewFramework`: instantiate every plugin enabled anywhere, fill each
//! extension point from its explicit list, expand `multiPoint` into the points each plugin implements
//! (explicit entries override, per-point `disabled` entries and `"*"` suppress), then take score weights
//! from the Score list first and `multiPoint` second.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{ConfigError, DefaultedProfile, PluginSet, Plugins, SchedulerConfig};
use crate::framework::{
    ExtensionPoint, ExtensionPoints, FilterPlugin, MAX_NODE_SCORE, PostFilterPlugin, PreEnqueuePlugin, PreFilterExtensions,
    PreFilterPlugin, PreScorePlugin, QueueSortPlugin, ReservePlugin, ScorePlugin,
};
use crate::intern::Interner;
use crate::registry::{Lookup, PluginArgs, Registry, UnavailablePlugin};

/// A plugin at one extension point: its index in [`Profile::plugin_names`] and the trait object.
pub struct Slot<T: ?Sized> {
    /// Index of the plugin in the profile.
    pub plugin: usize,
    /// The plugin as the point's trait object.
    pub imp: Arc<T>,
}

impl<T: ?Sized> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Slot { plugin: self.plugin, imp: Arc::clone(&self.imp) }
    }
}

/// A Score plugin with its weight.
#[derive(Clone)]
pub struct ScoreSlot {
    /// Index of the plugin in the profile.
    pub plugin: usize,
    /// The plugin.
    pub imp: Arc<dyn ScorePlugin>,
    /// Weight (0 in the configuration means 1).
    pub weight: i64,
}

/// A configured plugin that simsched does not provide, and the points where it was enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingPlugin {
    /// Plugin name.
    pub name: String,
    /// Points it would have run at in this profile.
    pub points: Vec<ExtensionPoint>,
    /// Whether its absence can change a placement.
    pub affects_decisions: bool,
    /// What it does upstream.
    pub note: &'static str,
}

/// A scheduling profile ready to run.
#[derive(Clone)]
pub struct Profile {
    /// Pods with this `spec.schedulerName` use the profile.
    pub scheduler_name: String,
    /// Profile override of `percentageOfNodesToScore`.
    pub percentage_of_nodes_to_score: Option<i32>,
    names: Vec<String>,
    pub(crate) pre_enqueue: Vec<Slot<dyn PreEnqueuePlugin>>,
    pub(crate) queue_sort: Option<Slot<dyn QueueSortPlugin>>,
    pub(crate) pre_filter: Vec<Slot<dyn PreFilterPlugin>>,
    pub(crate) pre_filter_extensions: Vec<Slot<dyn PreFilterExtensions>>,
    pub(crate) filter: Vec<Slot<dyn FilterPlugin>>,
    pub(crate) post_filter: Vec<Slot<dyn PostFilterPlugin>>,
    pub(crate) pre_score: Vec<Slot<dyn PreScorePlugin>>,
    pub(crate) score: Vec<ScoreSlot>,
    pub(crate) reserve: Vec<Slot<dyn ReservePlugin>>,
    missing: Vec<MissingPlugin>,
    warnings: Vec<String>,
}

enum Built {
    Instance(ExtensionPoints),
    Missing(UnavailablePlugin),
}

impl Built {
    fn implements(&self, point: ExtensionPoint) -> bool {
        match self {
            Built::Instance(points) => points.implements(point),
            Built::Missing(u) => u.points.contains(&point),
        }
    }
}

impl Profile {
    /// Builds every profile of `config`.
    pub fn build_all(config: &SchedulerConfig, registry: &Registry, interner: &mut Interner) -> Result<Vec<Profile>, ConfigError> {
        config.profiles.iter().enumerate().map(|(idx, p)| Profile::build(p, &format!("profiles[{idx}]"), registry, interner)).collect()
    }

    /// Builds one profile; `path` prefixes error locations.
    pub fn build(profile: &DefaultedProfile, path: &str, registry: &Registry, interner: &mut Interner) -> Result<Profile, ConfigError> {
        let plugins = &profile.plugins;
        let mut warnings = Vec::new();
        let args_by_name: BTreeMap<&str, (usize, &Option<serde_json::Value>)> =
            profile.plugin_config.iter().enumerate().map(|(idx, c)| (c.name.as_str(), (idx, &c.args))).collect();

        let needed = plugins.needed();
        let mut built: BTreeMap<&str, Built> = BTreeMap::new();
        for &name in &needed {
            match registry.lookup(name) {
                Lookup::Available(factory) => {
                    let (args_path, value) = match args_by_name.get(name) {
                        Some(&(idx, value)) => (format!("{path}.pluginConfig[{idx}].args"), value.as_ref()),
                        None => (format!("{path}.pluginConfig[{name}].args"), None),
                    };
                    let plugin = factory(&PluginArgs::new(name, value, &args_path), interner)?;
                    built.insert(name, Built::Instance(plugin.extension_points()));
                }
                Lookup::Unavailable(u) => {
                    built.insert(name, Built::Missing(u.clone()));
                }
                Lookup::Unknown => {
                    let valid: Vec<&str> = registry.available().collect();
                    return Err(ConfigError::new(
                        format!("{path}.plugins.{}", where_enabled(plugins, name)),
                        format!("plugin {name:?} does not exist; available plugins: {}", valid.join(", ")),
                    ));
                }
            }
        }
        for c in &profile.plugin_config {
            if !needed.contains(c.name.as_str()) {
                warnings.push(format!("{path}: pluginConfig for {:?} has no effect: the plugin is not enabled", c.name));
            }
        }

        let mut per_point: BTreeMap<ExtensionPoint, Vec<&str>> = BTreeMap::new();
        for point in ExtensionPoint::ALL {
            let set = plugins.point(point);
            let explicit = explicit_list(set, point, &built, &format!("{path}.plugins.{}.enabled", point.config_name()))?;
            let list =
                if plugins.multi_point.enabled.is_empty() { explicit } else { expand_multi_point(set, explicit, point, plugins, &built)? };
            per_point.insert(point, list);
        }

        let n_sort = per_point[&ExtensionPoint::QueueSort].len();
        if n_sort != 1 {
            return Err(ConfigError::new(
                format!("{path}.plugins.queueSort"),
                format!(
                    "only one queue sort plugin required for profile with scheduler name {:?}, but got {n_sort}",
                    profile.scheduler_name
                ),
            ));
        }
        if per_point[&ExtensionPoint::Bind].is_empty() {
            return Err(ConfigError::new(
                format!("{path}.plugins.bind"),
                format!("at least one bind plugin is needed for profile with scheduler name {:?}", profile.scheduler_name),
            ));
        }

        // Score weights: the Score list first, then multiPoint; the first occurrence wins; 0 means 1.
        let mut weights: BTreeMap<&str, i64> = BTreeMap::new();
        let mut total: i64 = 0;
        for p in plugins.score.enabled.iter().chain(&plugins.multi_point.enabled) {
            let Some(b) = built.get(p.name.as_str()) else { continue };
            if !b.implements(ExtensionPoint::Score) || weights.contains_key(p.name.as_str()) {
                continue;
            }
            let weight = match p.weight.unwrap_or(0) {
                0 => 1,
                w => i64::from(w),
            };
            if weight.saturating_mul(MAX_NODE_SCORE) > i64::MAX - total {
                return Err(ConfigError::new(format!("{path}.plugins.score"), "total score of Score plugins could overflow"));
            }
            total += weight * MAX_NODE_SCORE;
            weights.insert(&p.name, weight);
        }

        let names: Vec<String> = built.keys().map(|n| n.to_string()).collect();
        let index_of = |name: &str| names.iter().position(|n| n == name).expect("built plugin has an index");
        let mut profile_out = Profile {
            scheduler_name: profile.scheduler_name.clone(),
            percentage_of_nodes_to_score: profile.percentage_of_nodes_to_score,
            names: names.clone(),
            pre_enqueue: Vec::new(),
            queue_sort: None,
            pre_filter: Vec::new(),
            pre_filter_extensions: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            missing: Vec::new(),
            warnings,
        };
        for (point, list) in &per_point {
            for &name in list {
                let plugin = index_of(name);
                match &built[name] {
                    Built::Missing(u) => match profile_out.missing.iter_mut().find(|m| m.name == name) {
                        Some(m) => m.points.push(*point),
                        None => profile_out.missing.push(MissingPlugin {
                            name: name.to_string(),
                            points: vec![*point],
                            affects_decisions: u.affects_decisions,
                            note: u.note,
                        }),
                    },
                    Built::Instance(points) => match point {
                        ExtensionPoint::PreEnqueue => {
                            profile_out.pre_enqueue.push(Slot { plugin, imp: points.pre_enqueue.clone().expect("checked") })
                        }
                        ExtensionPoint::QueueSort => {
                            profile_out.queue_sort = Some(Slot { plugin, imp: points.queue_sort.clone().expect("checked") })
                        }
                        ExtensionPoint::PreFilter => {
                            profile_out.pre_filter.push(Slot { plugin, imp: points.pre_filter.clone().expect("checked") });
                            if let Some(ext) = points.pre_filter_extensions.clone() {
                                profile_out.pre_filter_extensions.push(Slot { plugin, imp: ext });
                            }
                        }
                        ExtensionPoint::Filter => profile_out.filter.push(Slot { plugin, imp: points.filter.clone().expect("checked") }),
                        ExtensionPoint::PostFilter => {
                            profile_out.post_filter.push(Slot { plugin, imp: points.post_filter.clone().expect("checked") })
                        }
                        ExtensionPoint::PreScore => {
                            profile_out.pre_score.push(Slot { plugin, imp: points.pre_score.clone().expect("checked") })
                        }
                        ExtensionPoint::Score => profile_out.score.push(ScoreSlot {
                            plugin,
                            imp: points.score.clone().expect("checked"),
                            weight: weights.get(name).copied().unwrap_or(1),
                        }),
                        ExtensionPoint::Reserve => profile_out.reserve.push(Slot { plugin, imp: points.reserve.clone().expect("checked") }),
                        // Instances only implement executed points (ExtensionPoints has no others).
                        _ => {}
                    },
                }
            }
        }
        // Report missing plugins in configuration order.
        let order = |name: &str| plugins.multi_point.enabled.iter().position(|p| p.name == name).unwrap_or(usize::MAX);
        profile_out.missing.sort_by_key(|m| order(&m.name));
        Ok(profile_out)
    }

    /// Names of the profile's plugins, indexed by the `plugin` field of its slots.
    pub fn plugin_names(&self) -> &[String] {
        &self.names
    }

    /// The name of plugin `idx`.
    pub fn plugin_name(&self, idx: usize) -> &str {
        &self.names[idx]
    }

    /// Configured plugins that simsched does not provide.
    pub fn missing_plugins(&self) -> &[MissingPlugin] {
        &self.missing
    }

    /// Notes about the configuration that do not stop it from working (arguments for disabled plugins).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The QueueSort plugin.
    pub fn queue_sort(&self) -> Option<&Arc<dyn QueueSortPlugin>> {
        self.queue_sort.as_ref().map(|s| &s.imp)
    }

    /// The Score plugins with their weights, in order.
    pub fn score_plugins(&self) -> impl Iterator<Item = (&str, i64)> {
        self.score.iter().map(|s| (self.names[s.plugin].as_str(), s.weight))
    }

    /// Names of the plugins at `point`, in order (executed points only).
    pub fn plugins_at(&self, point: ExtensionPoint) -> Vec<&str> {
        let idx: Vec<usize> = match point {
            ExtensionPoint::PreEnqueue => self.pre_enqueue.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::QueueSort => self.queue_sort.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::PreFilter => self.pre_filter.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::Filter => self.filter.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::PostFilter => self.post_filter.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::PreScore => self.pre_score.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::Score => self.score.iter().map(|s| s.plugin).collect(),
            ExtensionPoint::Reserve => self.reserve.iter().map(|s| s.plugin).collect(),
            _ => Vec::new(),
        };
        idx.into_iter().map(|i| self.names[i].as_str()).collect()
    }
}

/// Where a plugin name is enabled, for error paths.
fn where_enabled(plugins: &Plugins, name: &str) -> String {
    if let Some(idx) = plugins.multi_point.enabled.iter().position(|p| p.name == name) {
        return format!("multiPoint.enabled[{idx}]");
    }
    for point in ExtensionPoint::ALL {
        if let Some(idx) = plugins.point(point).enabled.iter().position(|p| p.name == name) {
            return format!("{}.enabled[{idx}]", point.config_name());
        }
    }
    "enabled".to_string()
}

/// Upstream `updatePluginList`.
fn explicit_list<'a>(
    set: &'a PluginSet,
    point: ExtensionPoint,
    built: &BTreeMap<&str, Built>,
    path: &str,
) -> Result<Vec<&'a str>, ConfigError> {
    let mut list: Vec<&str> = Vec::new();
    for (idx, p) in set.enabled.iter().enumerate() {
        let path = format!("{path}[{idx}]");
        let b = built
            .get(p.name.as_str())
            .ok_or_else(|| ConfigError::new(&path, format!("{} {:?} does not exist", point.interface_name(), p.name)))?;
        if !b.implements(point) {
            return Err(ConfigError::new(&path, format!("plugin {:?} does not extend {} plugin", p.name, point.interface_name())));
        }
        if list.contains(&p.name.as_str()) {
            return Err(ConfigError::new(&path, format!("plugin {:?} already registered as {:?}", p.name, point.interface_name())));
        }
        list.push(&p.name);
    }
    Ok(list)
}

/// Upstream `expandMultiPointPlugins` for one point: explicit entries that are also in multiPoint first
/// (in explicit order), then multiPoint-only plugins, then the other explicit entries.
fn expand_multi_point<'a>(
    set: &PluginSet,
    explicit: Vec<&'a str>,
    point: ExtensionPoint,
    plugins: &'a Plugins,
    built: &BTreeMap<&str, Built>,
) -> Result<Vec<&'a str>, ConfigError> {
    if set.disabled.iter().any(|d| d.name == "*") {
        return Ok(explicit);
    }
    let mut multi: Vec<&str> = Vec::new();
    let mut overrides: Vec<&str> = Vec::new();
    for (idx, p) in plugins.multi_point.enabled.iter().enumerate() {
        let path = format!("plugins.multiPoint.enabled[{idx}]");
        let b = built
            .get(p.name.as_str())
            .ok_or_else(|| ConfigError::new(&path, format!("{} {:?} does not exist", point.interface_name(), p.name)))?;
        if !b.implements(point) || set.disabled.iter().any(|d| d.name == p.name) {
            continue;
        }
        if explicit.contains(&p.name.as_str()) {
            if !overrides.contains(&p.name.as_str()) {
                overrides.push(&p.name);
            }
            continue;
        }
        if multi.contains(&p.name.as_str()) {
            return Err(ConfigError::new(&path, format!("plugin {:?} already registered as {:?}", p.name, point.interface_name())));
        }
        multi.push(&p.name);
    }
    let mut list: Vec<&str> = explicit.iter().copied().filter(|n| overrides.contains(n)).collect();
    list.extend(multi);
    list.extend(explicit.iter().copied().filter(|n| !overrides.contains(n)));
    Ok(list)
}
