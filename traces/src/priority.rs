//! PriorityClasses and the API server's Priority admission: how a pod's `priorityClassName` becomes its
//! `spec.priority` and `spec.preemptionPolicy` (upstream `plugin/pkg/admission/priority/admission.go`,
//! `pkg/apis/scheduling/validation`).
//!
//! A pod that already has `spec.priority` (every pod in a `kubectl get pods` snapshot: the API server set
//! it on creation) keeps it when its class is unknown here; a class that is known must agree with it, as
//! on creation. A pod without `spec.priority` gets its class's value, or without a class name the global
//! default class's (the one of lowest value, if several), else 0.

use std::collections::BTreeMap;

use crate::kube::FieldError;

/// Priority values above this are reserved for the system classes.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The classes every cluster has: `system-cluster-critical` and `system-node-critical`.
pub const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] = [
    ("system-cluster-critical", 2 * HIGHEST_USER_DEFINABLE_PRIORITY),
    ("system-node-critical", 2 * HIGHEST_USER_DEFINABLE_PRIORITY + 1000),
];

/// A `scheduling.k8s.io/v1` PriorityClass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityClassDef {
    /// `metadata.name`.
    pub name: String,
    /// `value`.
    pub value: i32,
    /// `globalDefault`.
    pub global_default: bool,
    /// `preemptionPolicy: Never` (absent means `PreemptLowerPriority`).
    pub never_preempt: bool,
}

/// The priority classes of a cluster, the system ones included.
#[derive(Clone, Debug)]
pub struct PriorityClasses {
    classes: BTreeMap<String, PriorityClassDef>,
}

impl Default for PriorityClasses {
    fn default() -> PriorityClasses {
        let classes = SYSTEM_PRIORITY_CLASSES
            .iter()
            .map(|&(name, value)| {
                (name.to_string(), PriorityClassDef { name: name.to_string(), value, global_default: false, never_preempt: false })
            })
            .collect();
        PriorityClasses { classes }
    }
}

impl PriorityClasses {
    /// Adds a class, validated as the API server validates it; a system class may be listed again (as
    /// `kubectl get priorityclasses` lists it) if it is the system's.
    pub fn add(&mut self, def: PriorityClassDef) -> Result<(), FieldError> {
        if def.name.is_empty() {
            return Err(("metadata.name".into(), "Required value: name or generateName is required".into()));
        }
        if def.name.starts_with("system-") {
            let name = def.name.as_str();
            let known = SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name);
            let problem = match known {
                None => Some(format!("{name} is not a known system priority class")),
                Some((_, value)) if *value != def.value => Some(format!("value of {name} PriorityClass must be {value}")),
                Some(_) if def.global_default => Some(format!("globalDefault of {name} PriorityClass must be false")),
                Some(_) => None,
            };
            return match problem {
                Some(error) => Err((
                    "metadata.name".into(),
                    format!("Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: {error}"),
                )),
                None => Ok(()),
            };
        }
        if def.value > HIGHEST_USER_DEFINABLE_PRIORITY {
            return Err((
                "value".into(),
                format!("Forbidden: maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
            ));
        }
        if self.classes.contains_key(&def.name) {
            return Err(("metadata.name".into(), format!("Duplicate value: {:?}: a PriorityClass with this name exists", def.name)));
        }
        if def.global_default
            && let Some(other) = self.classes.values().find(|c| c.global_default)
        {
            return Err((
                "globalDefault".into(),
                format!("Forbidden: PriorityClass {} is already marked as default. Only one default can exist", other.name),
            ));
        }
        self.classes.insert(def.name.clone(), def);
        Ok(())
    }

    /// The global default class, if any.
    fn global_default(&self) -> Option<&PriorityClassDef> {
        self.classes.values().filter(|c| c.global_default).min_by_key(|c| c.value)
    }

    /// Resolves a pod's priority: `class_name` is its `spec.priorityClassName`, `priority` its
    /// `spec.priority`, `policy_never` its `spec.preemptionPolicy` (`None` when absent, `Some(true)` for
    /// `Never`). Returns the priority and whether the pod never preempts; an error names the field.
    pub fn admit(&self, class_name: &str, priority: Option<i32>, policy_never: Option<bool>) -> Result<(Option<i32>, bool), FieldError> {
        let class = if class_name.is_empty() {
            match (priority, self.global_default()) {
                // Admitted before, or no default class: as given.
                (Some(_), _) | (None, None) => return Ok((priority, policy_never.unwrap_or(false))),
                (None, Some(class)) => class,
            }
        } else {
            match (self.classes.get(class_name), priority) {
                (Some(class), _) => class,
                (None, Some(_)) => return Ok((priority, policy_never.unwrap_or(false))),
                (None, None) => {
                    return Err(("spec.priorityClassName".into(), format!("Forbidden: no PriorityClass with name {class_name} was found")));
                }
            }
        };
        if let Some(p) = priority
            && p != class.value
        {
            return Err((
                "spec.priority".into(),
                format!(
                    "Forbidden: the integer value of priority ({p}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
                    class.value
                ),
            ));
        }
        if let Some(never) = policy_never
            && never != class.never_preempt
        {
            return Err((
                "spec.preemptionPolicy".into(),
                format!(
                    "Forbidden: the string value of PreemptionPolicy ({}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
                    policy_name(never),
                    policy_name(class.never_preempt)
                ),
            ));
        }
        Ok((Some(class.value), class.never_preempt))
    }
}

fn policy_name(never: bool) -> &'static str {
    if never { "Never" } else { "PreemptLowerPriority" }
}

/// Reads a PriorityClass's fields from its object.
pub(crate) fn priority_class_def(pc: &k8s_openapi::api::scheduling::v1::PriorityClass) -> Result<PriorityClassDef, FieldError> {
    let never_preempt = match pc.preemption_policy.as_deref() {
        None | Some("PreemptLowerPriority") => false,
        Some("Never") => true,
        Some(other) => {
            return Err((
                "preemptionPolicy".into(),
                format!("Unsupported value: {other:?}: supported values: \"Never\", \"PreemptLowerPriority\""),
            ));
        }
    };
    Ok(PriorityClassDef {
        name: pc.metadata.name.clone().unwrap_or_default(),
        value: pc.value.unwrap_or(0),
        global_default: pc.global_default.unwrap_or(false),
        never_preempt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i32, global_default: bool, never_preempt: bool) -> PriorityClassDef {
        PriorityClassDef { name: name.into(), value, global_default, never_preempt }
    }

    #[test]
    fn classes_resolve_pods_as_the_admission_plugin_does() {
        let mut classes = PriorityClasses::default();
        classes.add(class("high", 1000, false, false)).unwrap();
        classes.add(class("batch", -10, false, true)).unwrap();
        assert_eq!(classes.admit("high", None, None), Ok((Some(1000), false)));
        assert_eq!(classes.admit("batch", None, None), Ok((Some(-10), true)));
        assert_eq!(classes.admit("system-node-critical", None, None), Ok((Some(2_000_001_000), false)));
        assert_eq!(classes.admit("high", Some(1000), Some(false)), Ok((Some(1000), false)));
        // No class name and no default class: as given, else 0 (absent).
        assert_eq!(classes.admit("", None, None), Ok((None, false)));
        assert_eq!(classes.admit("", Some(7), Some(true)), Ok((Some(7), true)));
        // An unknown class: the priority the pod was admitted with, or an error without one.
        assert_eq!(classes.admit("gone", Some(5), None), Ok((Some(5), false)));
        assert_eq!(
            classes.admit("gone", None, None),
            Err(("spec.priorityClassName".into(), "Forbidden: no PriorityClass with name gone was found".into()))
        );
        assert_eq!(
            classes.admit("high", Some(3), None),
            Err((
                "spec.priority".into(),
                "Forbidden: the integer value of priority (3) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name".into()
            ))
        );
        assert_eq!(
            classes.admit("high", None, Some(true)),
            Err((
                "spec.preemptionPolicy".into(),
                "Forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name".into()
            ))
        );
    }

    #[test]
    fn the_global_default_applies_to_pods_without_a_class_or_priority() {
        let mut classes = PriorityClasses::default();
        classes.add(class("normal", 100, true, false)).unwrap();
        assert_eq!(classes.admit("", None, None), Ok((Some(100), false)));
        assert_eq!(classes.admit("", Some(1), None), Ok((Some(1), false)));
        assert_eq!(
            classes.add(class("other", 5, true, false)),
            Err((
                "globalDefault".into(),
                "Forbidden: PriorityClass normal is already marked as default. Only one default can exist".into()
            ))
        );
    }

    #[test]
    fn classes_are_validated() {
        let mut classes = PriorityClasses::default();
        // The system classes may be listed as they are.
        classes.add(class("system-cluster-critical", 2_000_000_000, false, false)).unwrap();
        let reserved = "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ";
        assert_eq!(
            classes.add(class("system-foo", 1, false, false)),
            Err(("metadata.name".into(), format!("{reserved}system-foo is not a known system priority class")))
        );
        assert_eq!(
            classes.add(class("system-node-critical", 1, false, false)),
            Err(("metadata.name".into(), format!("{reserved}value of system-node-critical PriorityClass must be 2000001000")))
        );
        assert_eq!(
            classes.add(class("huge", 1_000_000_001, false, false)),
            Err(("value".into(), "Forbidden: maximum allowed value of a user defined priority is 1000000000".into()))
        );
        classes.add(class("low", -5, false, false)).unwrap();
        assert!(classes.add(class("low", -5, false, false)).unwrap_err().1.starts_with("Duplicate value"));
    }
}
