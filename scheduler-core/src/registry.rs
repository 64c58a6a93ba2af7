//! The plugin registry: plugin names mapped to constructors that take typed, validated arguments.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::config::ConfigError;
use crate::framework::{ExtensionPoint, Plugin};
use crate::intern::Interner;

/// A plugin's `pluginConfig` arguments, with the path they came from for error messages.
#[derive(Clone, Copy, Debug)]
pub struct PluginArgs<'a> {
    plugin: &'a str,
    value: Option<&'a serde_json::Value>,
    path: &'a str,
}

impl<'a> PluginArgs<'a> {
    /// Arguments `value` of `plugin`, found at `path` (`profiles[0].pluginConfig[1].args`).
    pub fn new(plugin: &'a str, value: Option<&'a serde_json::Value>, path: &'a str) -> PluginArgs<'a> {
        PluginArgs { plugin, value, path }
    }

    /// No arguments (the plugin's defaults).
    pub fn none(plugin: &'a str) -> PluginArgs<'a> {
        PluginArgs { plugin, value: None, path: "args" }
    }

    /// Where the arguments came from.
    pub fn path(&self) -> &str {
        self.path
    }

    /// Decodes the arguments into `T`; absent arguments give `T::default()`. An optional `kind` must be
    /// `<Plugin>Args`; `apiVersion` is accepted. Unknown fields are errors if `T` denies them.
    pub fn decode<T: DeserializeOwned + Default>(&self) -> Result<T, ConfigError> {
        let Some(value) = self.value else { return Ok(T::default()) };
        let mut map = match value {
            serde_json::Value::Null => return Ok(T::default()),
            serde_json::Value::Object(map) => map.clone(),
            other => return Err(ConfigError::new(self.path, format!("expected a mapping of {}Args fields, got {other}", self.plugin))),
        };
        if let Some(kind) = map.remove("kind") {
            let want = format!("{}Args", self.plugin);
            if kind.as_str() != Some(want.as_str()) {
                return Err(ConfigError::new(
                    format!("{}.kind", self.path),
                    format!("args for plugin {} were not of type {want}, got {kind}", self.plugin),
                ));
            }
        }
        map.remove("apiVersion");
        serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." { self.path.to_string() } else { format!("{}.{inner}", self.path) };
            ConfigError::new(path, e.into_inner().to_string())
        })
    }
}

/// Builds a plugin from its arguments; may intern strings (resource names, label keys) it needs.
pub type PluginFactory = Arc<dyn Fn(&PluginArgs<'_>, &mut Interner) -> Result<Arc<dyn Plugin>, ConfigError> + Send + Sync>;

/// An upstream plugin that simsched does not provide (yet), with the extension points it has upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnavailablePlugin {
    /// Upstream's extension points of the plugin.
    pub points: &'static [ExtensionPoint],
    /// Whether its absence can change a placement decision. `DefaultBinder` cannot: simsched's callers bind.
    pub affects_decisions: bool,
    /// Why it is absent or what it would do.
    pub note: &'static str,
}

#[derive(Clone)]
enum Entry {
    Available(PluginFactory),
    Unavailable(UnavailablePlugin),
}

/// Plugin names mapped to constructors. Build the in-tree set with `plugins::registry()` and add your own
/// plugins with [`Registry::register`].
#[derive(Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
}

/// What the registry holds under a name.
pub enum Lookup<'a> {
    /// A constructor.
    Available(&'a PluginFactory),
    /// A known upstream plugin simsched does not provide.
    Unavailable(&'a UnavailablePlugin),
    /// Nothing.
    Unknown,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers (or replaces) a plugin constructor under `name`.
    pub fn register<F>(&mut self, name: &str, factory: F)
    where
        F: Fn(&PluginArgs<'_>, &mut Interner) -> Result<Arc<dyn Plugin>, ConfigError> + Send + Sync + 'static,
    {
        self.entries.insert(name.to_string(), Entry::Available(Arc::new(factory)));
    }

    /// Records an upstream plugin that is known but not provided, so that profiles naming it build and
    /// report it instead of failing.
    pub fn register_unavailable(&mut self, name: &str, plugin: UnavailablePlugin) {
        self.entries.insert(name.to_string(), Entry::Unavailable(plugin));
    }

    /// What is registered under `name`.
    pub fn lookup(&self, name: &str) -> Lookup<'_> {
        match self.entries.get(name) {
            Some(Entry::Available(f)) => Lookup::Available(f),
            Some(Entry::Unavailable(u)) => Lookup::Unavailable(u),
            None => Lookup::Unknown,
        }
    }

    /// Names of the plugins that can be instantiated, sorted.
    pub fn available(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter(|(_, e)| matches!(e, Entry::Available(_))).map(|(n, _)| n.as_str())
    }
}
