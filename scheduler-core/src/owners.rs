//! Services and pod controllers (ReplicationControllers, ReplicaSets, StatefulSets): the objects whose
//! selectors give a pod without topology spread constraints of its own the selector of its default
//! constraints (upstream `helper.DefaultSelector`, `pkg/scheduler/framework/plugins/helper/spread.go`).
//!
//! The selector is the union of the selectors of the Services in the pod's namespace that select the pod
//! (a Service without a selector selects nothing), then, if the pod's controlling owner is a
//! ReplicationController (`v1`), its selector map merged in; if it is a ReplicaSet or StatefulSet
//! (`apps/v1`), its selector's requirements added. An owner that is not in the cluster adds nothing.

use std::collections::BTreeMap;

use crate::error::ModelError;
use crate::intern::Interner;
use crate::selector::{LabelSelector, LabelSelectorDef};

/// A pod's controlling owner (`metadata.ownerReferences[]` with `controller: true`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerReferenceDef {
    /// `apiVersion` (`apps/v1` for a ReplicaSet or StatefulSet, `v1` for a ReplicationController).
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
}

/// A `v1.Service`, as default spreading reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceDef {
    /// `metadata.namespace`; empty means `default`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.selector`; `None` (absent) selects no pod, an empty map selects every pod of the namespace.
    pub selector: Option<Vec<(String, String)>>,
}

/// The kinds of controllers whose selector default spreading reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerKind {
    /// `v1` ReplicationController: a selector map.
    ReplicationController,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl ControllerKind {
    /// The kind of an owner reference, matched by group, version and kind as upstream does.
    pub fn of_owner(owner: &OwnerReferenceDef) -> Option<ControllerKind> {
        match (owner.api_version.as_str(), owner.kind.as_str()) {
            ("v1", "ReplicationController") => Some(ControllerKind::ReplicationController),
            ("apps/v1", "ReplicaSet") => Some(ControllerKind::ReplicaSet),
            ("apps/v1", "StatefulSet") => Some(ControllerKind::StatefulSet),
            _ => None,
        }
    }

    /// The API kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ControllerKind::ReplicationController => "ReplicationController",
            ControllerKind::ReplicaSet => "ReplicaSet",
            ControllerKind::StatefulSet => "StatefulSet",
        }
    }
}

/// A ReplicationController, ReplicaSet or StatefulSet, as default spreading reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerDef {
    /// The kind.
    pub kind: ControllerKind,
    /// `metadata.namespace`; empty means `default`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.selector` (a ReplicationController's map as `matchLabels`); `None` when absent.
    pub selector: Option<LabelSelectorDef>,
}

fn namespace_or_default(namespace: &str) -> &str {
    if namespace.is_empty() { "default" } else { namespace }
}

/// A Service's selector: `None` for an absent one.
type ServiceSelector = Option<Vec<(String, String)>>;

/// The Services and controllers of a cluster, by namespace and name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Owners {
    /// Services by namespace, then name: their selectors.
    services: BTreeMap<String, BTreeMap<String, ServiceSelector>>,
    controllers: BTreeMap<(ControllerKind, String, String), Option<LabelSelectorDef>>,
}

impl Owners {
    pub(crate) fn is_empty(&self) -> bool {
        self.services.is_empty() && self.controllers.is_empty()
    }

    /// Adds a Service; a second one with the same namespace and name is an error.
    pub(crate) fn add_service(&mut self, def: &ServiceDef) -> Result<(), ModelError> {
        if def.name.is_empty() {
            return Err(ModelError::new("metadata.name", "Required value"));
        }
        let services = self.services.entry(namespace_or_default(&def.namespace).to_string()).or_default();
        if services.contains_key(&def.name) {
            return Err(ModelError::new("metadata.name", format!("Duplicate value: {:?}: a Service with this name exists", def.name)));
        }
        services.insert(def.name.clone(), def.selector.clone());
        Ok(())
    }

    /// Adds a controller after checking its selector; a second one of the same kind, namespace and name is
    /// an error.
    pub(crate) fn add_controller(&mut self, def: &ControllerDef, interner: &mut Interner) -> Result<(), ModelError> {
        if def.name.is_empty() {
            return Err(ModelError::new("metadata.name", "Required value"));
        }
        if let Some(selector) = &def.selector {
            LabelSelector::compile(Some(selector), interner, "spec.selector")?;
        }
        let key = (def.kind, namespace_or_default(&def.namespace).to_string(), def.name.clone());
        if self.controllers.contains_key(&key) {
            return Err(ModelError::new(
                "metadata.name",
                format!("Duplicate value: {:?}: a {} with this name exists", def.name, def.kind.as_str()),
            ));
        }
        self.controllers.insert(key, def.selector.clone());
        Ok(())
    }

    /// Upstream `DefaultSelector` for a pod in `namespace` with `labels` and controlling `owner`; `None`
    /// when it has no requirement (then no default constraint applies).
    pub(crate) fn default_selector(
        &self,
        namespace: &str,
        labels: &[(String, String)],
        owner: Option<&OwnerReferenceDef>,
        interner: &mut Interner,
    ) -> Option<LabelSelector> {
        let namespace = namespace_or_default(namespace);
        let has = |k: &str, v: &str| labels.iter().any(|(lk, lv)| lk == k && lv == v);
        // Services that select the pod agree with its labels, so merging their selectors cannot conflict.
        let mut set: BTreeMap<&str, &str> = BTreeMap::new();
        for selector in self.services.get(namespace).into_iter().flat_map(BTreeMap::values).flatten() {
            if selector.iter().all(|(k, v)| has(k, v)) {
                set.extend(selector.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            }
        }
        // A ReplicaSet's or StatefulSet's requirements are added beside the merged map, not merged into
        // it: a key both have with different values then matches no pod, as upstream's `selector.Add`.
        let mut added = LabelSelectorDef::default();
        if let Some(owner) = owner
            && let Some(kind) = ControllerKind::of_owner(owner)
            && let Some(Some(selector)) = self.controllers.get(&(kind, namespace.to_string(), owner.name.clone()))
        {
            if kind == ControllerKind::ReplicationController {
                // labels.Merge: the controller's value wins for a key both have.
                set.extend(selector.match_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            } else {
                added = selector.clone();
            }
        }
        if set.is_empty() && added.match_labels.is_empty() && added.match_expressions.is_empty() {
            return None;
        }
        let mut def = LabelSelectorDef {
            match_labels: set.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            match_expressions: added.match_expressions,
        };
        def.match_labels.extend(added.match_labels);
        // Every selector here was checked when its object was added.
        let selector = LabelSelector::compile(Some(&def), interner, "spec.selector").ok()?;
        Some(selector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::selector::{LabelOperator, LabelSelectorRequirementDef};

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn service(name: &str, selector: Option<&[(&str, &str)]>) -> ServiceDef {
        ServiceDef { namespace: String::new(), name: name.into(), selector: selector.map(pairs) }
    }

    fn owner(api_version: &str, kind: &str, name: &str) -> OwnerReferenceDef {
        OwnerReferenceDef { api_version: api_version.into(), kind: kind.into(), name: name.into() }
    }

    /// Which of `candidates` (label sets) the default selector of a pod with `labels` matches.
    fn selected(
        owners: &Owners,
        labels: &[(&str, &str)],
        owner: Option<&OwnerReferenceDef>,
        candidates: &[&[(&str, &str)]],
    ) -> Option<Vec<bool>> {
        let mut interner = Interner::new();
        let selector = owners.default_selector("", &pairs(labels), owner, &mut interner)?;
        Some(candidates.iter().map(|c| selector.matches(&Labels::new(&mut interner, c.iter().copied()))).collect())
    }

    #[test]
    fn services_that_select_the_pod_are_merged_and_others_ignored() {
        let mut owners = Owners::default();
        owners.add_service(&service("web", Some(&[("app", "web")]))).unwrap();
        owners.add_service(&service("tier", Some(&[("tier", "front")]))).unwrap();
        owners.add_service(&service("other", Some(&[("app", "db")]))).unwrap();
        owners.add_service(&service("headless", None)).unwrap();
        let pod = [("app", "web"), ("tier", "front"), ("pod", "1")];
        let got =
            selected(&owners, &pod, None, &[&[("app", "web"), ("tier", "front")], &[("app", "web")], &[("app", "db"), ("tier", "front")]]);
        assert_eq!(got, Some(vec![true, false, false]));
        // No Service selects a pod of another app, and it has no owner: no default selector.
        assert_eq!(selected(&owners, &[("app", "cache")], None, &[]), None);
    }

    #[test]
    fn a_service_with_an_empty_selector_selects_every_pod_but_adds_no_requirement() {
        let mut owners = Owners::default();
        owners.add_service(&service("all", Some(&[]))).unwrap();
        assert_eq!(selected(&owners, &[("app", "web")], None, &[]), None);
    }

    #[test]
    fn a_replica_set_adds_its_requirements_and_a_replication_controller_merges_its_map() {
        let mut owners = Owners::default();
        let mut interner = Interner::new();
        owners.add_service(&service("web", Some(&[("app", "web")]))).unwrap();
        let rs = ControllerDef {
            kind: ControllerKind::ReplicaSet,
            namespace: "default".into(),
            name: "web-1".into(),
            selector: Some(LabelSelectorDef {
                match_labels: pairs(&[("app", "other")]),
                match_expressions: vec![LabelSelectorRequirementDef {
                    key: "track".into(),
                    operator: LabelOperator::In,
                    values: vec!["stable".into()],
                }],
            }),
        };
        owners.add_controller(&rs, &mut interner).unwrap();
        let rc = ControllerDef {
            kind: ControllerKind::ReplicationController,
            namespace: String::new(),
            name: "web-rc".into(),
            selector: Some(LabelSelectorDef { match_labels: pairs(&[("app", "legacy")]), match_expressions: Vec::new() }),
        };
        owners.add_controller(&rc, &mut interner).unwrap();
        let pod = [("app", "web"), ("track", "stable")];
        // ReplicaSet: `app=web` from the Service and `app=other` from the ReplicaSet are both required.
        let by_rs = selected(&owners, &pod, Some(&owner("apps/v1", "ReplicaSet", "web-1")), &[&[("app", "web"), ("track", "stable")]]);
        assert_eq!(by_rs, Some(vec![false]));
        // ReplicationController: its `app=legacy` replaces the Service's `app=web`.
        let by_rc =
            selected(&owners, &pod, Some(&owner("v1", "ReplicationController", "web-rc")), &[&[("app", "legacy")], &[("app", "web")]]);
        assert_eq!(by_rc, Some(vec![true, false]));
        // Another group version, or an owner not in the cluster, adds nothing.
        for other in [owner("apps/v1beta2", "ReplicaSet", "web-1"), owner("apps/v1", "ReplicaSet", "gone")] {
            assert_eq!(selected(&owners, &pod, Some(&other), &[&[("app", "web")]]), Some(vec![true]));
        }
    }

    #[test]
    fn duplicates_and_bad_selectors_are_errors() {
        let mut owners = Owners::default();
        let mut interner = Interner::new();
        owners.add_service(&service("web", None)).unwrap();
        let e = owners.add_service(&ServiceDef { namespace: "default".into(), ..service("web", None) }).unwrap_err();
        assert_eq!(e.field, "metadata.name");
        let bad = ControllerDef {
            kind: ControllerKind::StatefulSet,
            namespace: String::new(),
            name: "db".into(),
            selector: Some(LabelSelectorDef {
                match_labels: Vec::new(),
                match_expressions: vec![LabelSelectorRequirementDef { key: "a".into(), operator: LabelOperator::In, values: Vec::new() }],
            }),
        };
        let e = owners.add_controller(&bad, &mut interner).unwrap_err();
        assert_eq!(e.field, "spec.selector.matchExpressions[0].values");
    }
}
