//! Resource amounts: CPU in millicores, memory and storage in bytes, pod slots, and scalar resources.

use crate::error::ModelError;
use crate::intern::{Interner, Symbol, well_known};
use crate::quantity::Quantity;

/// The largest amount of one resource in one list: 2^53 millicores of CPU (9·10^12 cores), bytes of memory
/// (8 PiB), or units. Scoring arithmetic is exact and cannot overflow below this bound.
pub const MAX_AMOUNT: i64 = 1 << 53;

/// How the scheduler accounts a resource name (upstream `Resource.Add` and `IsScalarResourceName`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ResourceKind {
    /// `cpu`, counted in millicores.
    Cpu,
    /// `memory`, in bytes.
    Memory,
    /// `ephemeral-storage`, in bytes.
    EphemeralStorage,
    /// `pods`, the node's pod slots.
    Pods,
    /// An extended resource (`vendor.example/name`, not under `kubernetes.io/`), in units.
    Extended,
    /// `hugepages-<size>`, prefixed native (`*kubernetes.io/*`) or `attachable-volumes-*`, in units.
    OtherScalar,
    /// A standard name the scheduler does not account (`storage`, `requests.*`, `limits.*`, ...).
    Ignored,
}

impl ResourceKind {
    /// Classifies `name`; `None` if it is neither a standard resource nor a valid qualified name.
    pub fn of(name: &str) -> Option<ResourceKind> {
        Some(match name {
            "cpu" => ResourceKind::Cpu,
            "memory" => ResourceKind::Memory,
            "ephemeral-storage" => ResourceKind::EphemeralStorage,
            "pods" => ResourceKind::Pods,
            _ if name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") => ResourceKind::OtherScalar,
            _ if name.contains("kubernetes.io/") => ResourceKind::OtherScalar,
            _ if name.contains('/') => {
                if name.starts_with("requests.") || !is_qualified_name(&format!("requests.{name}")) {
                    return None;
                }
                ResourceKind::Extended
            }
            "storage"
            | "services"
            | "persistentvolumeclaims"
            | "configmaps"
            | "secrets"
            | "replicationcontrollers"
            | "resourcequotas"
            | "services.loadbalancers"
            | "services.nodeports" => ResourceKind::Ignored,
            _ if name.starts_with("requests.") || name.starts_with("limits.") => ResourceKind::Ignored,
            _ => return None,
        })
    }

    /// Whether the name is a scalar resource (extended or other).
    pub fn is_scalar(self) -> bool {
        matches!(self, ResourceKind::Extended | ResourceKind::OtherScalar)
    }
}

/// Upstream `validation.IsQualifiedName`: an optional DNS-subdomain prefix and `/`, then a name of at most
/// 63 characters that starts and ends with an alphanumeric and has `-`, `_`, `.` inside.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(prefix) = prefix
        && !is_dns1123_subdomain(prefix)
    {
        return false;
    }
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Upstream `validation.IsValidLabelValue`: empty, or at most 63 characters that start and end with an
/// alphanumeric and have `-`, `_`, `.` inside.
pub fn is_label_value(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= 63
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
}

/// Upstream `validation.IsDNS1123Subdomain` (most object names): at most 253 characters, dot-separated
/// parts of lower-case alphanumerics or `-`, each starting and ending with an alphanumeric.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_part)
}

/// Upstream `validation.IsDNS1123Label` (a namespace name): at most 63 lower-case alphanumerics or `-`,
/// starting and ending with an alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_dns1123_part(s)
}

fn is_dns1123_part(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Scalar resource amounts, sorted by name symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scalars(Vec<(Symbol, i64)>);

impl Scalars {
    /// The amount of `name` (0 if absent).
    #[inline]
    pub fn get(&self, name: Symbol) -> i64 {
        self.0.iter().find(|&&(n, _)| n == name).map_or(0, |&(_, v)| v)
    }

    /// Adds `amount` to `name`.
    pub fn add(&mut self, name: Symbol, amount: i64) {
        match self.0.binary_search_by_key(&name, |&(n, _)| n) {
            Ok(idx) => self.0[idx].1 = self.0[idx].1.saturating_add(amount),
            Err(idx) => self.0.insert(idx, (name, amount)),
        }
    }

    /// Sets `name` to `amount`.
    pub fn set(&mut self, name: Symbol, amount: i64) {
        match self.0.binary_search_by_key(&name, |&(n, _)| n) {
            Ok(idx) => self.0[idx].1 = amount,
            Err(idx) => self.0.insert(idx, (name, amount)),
        }
    }

    /// The (name, amount) pairs in symbol order, zero amounts included.
    pub fn iter(&self) -> impl Iterator<Item = (Symbol, i64)> + '_ {
        self.0.iter().copied()
    }

    /// Whether no scalar is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Resource amounts as the scheduler's `framework.Resource` holds them. The layout is fixed (`repr(C)`),
/// most-read fields first: see [`crate::NodeInfo`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Resources {
    /// CPU, millicores.
    pub milli_cpu: i64,
    /// Memory, bytes.
    pub memory: i64,
    /// Pod slots (`pods`); only meaningful for node allocatable.
    pub allowed_pods: i64,
    /// Ephemeral storage, bytes.
    pub ephemeral_storage: i64,
    /// Scalar resources (extended, hugepages, prefixed native, attachable volumes), in units.
    pub scalars: Scalars,
}

impl Resources {
    /// The amount of the resource named by `name`, in the units the scheduler uses for it.
    #[inline]
    pub fn get(&self, name: Symbol) -> i64 {
        match name {
            well_known::CPU => self.milli_cpu,
            well_known::MEMORY => self.memory,
            well_known::EPHEMERAL_STORAGE => self.ephemeral_storage,
            well_known::PODS => self.allowed_pods,
            _ => self.scalars.get(name),
        }
    }

    /// Adds `other` (upstream `Resource.Add` of an already converted resource). Sums saturate at the int64
    /// bounds (upstream wraps); only absurd quantities get there.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_add(other.allowed_pods);
        for (name, amount) in other.scalars.iter() {
            self.scalars.add(name, amount);
        }
    }

    /// Subtracts `other`.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_sub(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_sub(other.allowed_pods);
        for (name, amount) in other.scalars.iter() {
            self.scalars.add(name, amount.saturating_neg());
        }
    }

    /// Whether the pod asks for nothing the fit filter checks beyond a pod slot.
    pub fn is_zero_request(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalars.is_empty()
    }

    /// Converts exact per-resource sums into scheduler units, as `Resource.Add` does.
    pub fn from_list(list: &ResourceList) -> Resources {
        let mut r = Resources::default();
        for entry in &list.0 {
            let q = Quantity::from_nanos(entry.nanos);
            match entry.kind {
                ResourceKind::Cpu => r.milli_cpu += q.milli_value(),
                ResourceKind::Memory => r.memory += q.value(),
                ResourceKind::EphemeralStorage => r.ephemeral_storage += q.value(),
                ResourceKind::Pods => r.allowed_pods += q.value(),
                ResourceKind::Extended | ResourceKind::OtherScalar => r.scalars.add(entry.name, q.value()),
                ResourceKind::Ignored => {}
            }
        }
        r
    }
}

/// One entry of a [`ResourceList`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceEntry {
    /// Resource name.
    pub name: Symbol,
    /// How it is accounted.
    pub kind: ResourceKind,
    /// Exact amount, nano-units.
    pub nanos: i128,
}

/// An exact resource map (upstream `v1.ResourceList` after parsing), sorted by name symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResourceList(pub Vec<ResourceEntry>);

impl ResourceList {
    /// Parses `(name, quantity)` string pairs; `field` names the map for errors
    /// (`spec.containers[0].resources.requests`). Negative amounts are rejected, as API validation does.
    pub fn parse(pairs: &[(String, String)], interner: &mut Interner, field: &str) -> Result<ResourceList, ModelError> {
        let mut list = ResourceList::default();
        for (name, value) in pairs {
            let Some(kind) = ResourceKind::of(name) else {
                return Err(ModelError::new(
                    format!("{field}.{name}"),
                    "not a resource name: expected cpu, memory, ephemeral-storage, pods, hugepages-<size> or a domain-prefixed extended resource such as nvidia.com/gpu",
                ));
            };
            // Upstream decodes quantities from JSON/YAML after trimming white space.
            let q = Quantity::parse(value.trim())
                .map_err(|e| ModelError::new(format!("{field}.{name}"), format!("invalid quantity {value:?}: {e}")))?;
            if q.nanos() < 0 {
                return Err(ModelError::new(format!("{field}.{name}"), format!("must be greater than or equal to 0, got {value:?}")));
            }
            let units = if kind == ResourceKind::Cpu { q.milli_value() } else { q.value() };
            if units > MAX_AMOUNT {
                let unit = if kind == ResourceKind::Cpu { "millicores" } else { "units" };
                return Err(ModelError::new(
                    format!("{field}.{name}"),
                    format!("{value:?} is more than simsched accounts: at most 2^53 {unit}"),
                ));
            }
            list.set(interner.intern(name), kind, q.nanos());
        }
        Ok(list)
    }

    /// The exact amount of `name`, if present.
    pub fn get(&self, name: Symbol) -> Option<i128> {
        self.0.iter().find(|e| e.name == name).map(|e| e.nanos)
    }

    /// Sets `name` to `nanos`.
    pub fn set(&mut self, name: Symbol, kind: ResourceKind, nanos: i128) {
        match self.0.binary_search_by_key(&name, |e| e.name) {
            Ok(idx) => self.0[idx].nanos = nanos,
            Err(idx) => self.0.insert(idx, ResourceEntry { name, kind, nanos }),
        }
    }

    /// Adds `other` entry-wise.
    pub fn add(&mut self, other: &ResourceList) {
        for e in &other.0 {
            let sum = self.get(e.name).unwrap_or(0) + e.nanos;
            self.set(e.name, e.kind, sum);
        }
    }

    /// Entry-wise maximum with `other` (upstream `maxResourceList`).
    pub fn max(&mut self, other: &ResourceList) {
        for e in &other.0 {
            match self.get(e.name) {
                Some(v) if v >= e.nanos => {}
                _ => self.set(e.name, e.kind, e.nanos),
            }
        }
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: Symbol) -> bool {
        self.get(name).is_some()
    }

    /// Iterates the entries.
    pub fn iter(&self) -> impl Iterator<Item = &ResourceEntry> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_kinds() {
        let check = |name: &str, want: Option<ResourceKind>| assert_eq!(ResourceKind::of(name), want, "{name}");
        check("cpu", Some(ResourceKind::Cpu));
        check("memory", Some(ResourceKind::Memory));
        check("nvidia.com/gpu", Some(ResourceKind::Extended));
        check("alibabacloud.com/gpu-milli", Some(ResourceKind::Extended));
        check("hugepages-2Mi", Some(ResourceKind::OtherScalar));
        check("kubernetes.io/batch-cpu", Some(ResourceKind::OtherScalar));
        check("attachable-volumes-csi-x", Some(ResourceKind::OtherScalar));
        check("storage", Some(ResourceKind::Ignored));
        check("gpu", None);
        check("Example.com/gpu", None);
        check("example.com/", None);
        check("example.com/bad name", None);
    }

    #[test]
    fn parse_rejects_bad_names_quantities_and_negatives() {
        let i = &mut Interner::new();
        let mut err = |name: &str, value: &str| ResourceList::parse(&[(name.into(), value.into())], i, "requests").unwrap_err().to_string();
        assert!(err("cpu", "lots").starts_with("requests.cpu: invalid quantity \"lots\": quantities must match"));
        assert_eq!(err("cpu", "-1"), "requests.cpu: must be greater than or equal to 0, got \"-1\"");
        assert_eq!(err("cpu", "1E"), "requests.cpu: \"1E\" is more than simsched accounts: at most 2^53 millicores");
        assert_eq!(err("memory", "8Ei"), "requests.memory: \"8Ei\" is more than simsched accounts: at most 2^53 units");
        assert!(err("gpu", "1").starts_with("requests.gpu: not a resource name"));
        assert!(ResourceList::parse(&[("memory".into(), "8Pi".into()), ("cpu".into(), "9e12".into())], i, "r").is_ok());
    }

    #[test]
    fn conversion_rounds_each_resource_up() {
        let i = &mut Interner::new();
        let pairs: Vec<(String, String)> = [("cpu", "0.1m"), ("memory", "1.5Ki"), ("nvidia.com/gpu", "2"), ("pods", "110")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let r = Resources::from_list(&ResourceList::parse(&pairs, i, "x").unwrap());
        assert_eq!((r.milli_cpu, r.memory, r.allowed_pods), (1, 1536, 110));
        assert_eq!(r.scalars.get(i.intern("nvidia.com/gpu")), 2);
    }
}
