//! Pod shapes: rows that ask for the same thing share one `Arc<PodDef>`, so the simulator compiles it once.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;

use scheduler_core::{ContainerDef, MAX_AMOUNT, PodDef, Quantity};

use crate::csv_input::IdentityHasher;

/// The name of the one container of a pod read from a trace.
pub const CONTAINER_NAME: &str = "main";

/// Shapes by the raw text of the cells that define them. A row whose cells were seen before costs one hash
/// over its cells and one comparison, without copying or allocating. Past [`ShapeCache::MAX_SHAPES`]
/// distinct shapes the cache starts again, so that memory stays bounded on traces where every row differs.
#[derive(Default)]
pub(crate) struct ShapeCache {
    /// By the hash of the cells: the shapes with that hash.
    shapes: HashMap<u64, Vec<KnownShape>, BuildHasherDefault<IdentityHasher>>,
    n_shapes: usize,
}

impl ShapeCache {
    const MAX_SHAPES: usize = 1 << 16;

    /// The hash of a row's shape cells.
    pub fn hash(cells: &[&[u8]]) -> u64 {
        let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
        for cell in cells {
            hasher.write_usize(cell.len());
            hasher.write(cell);
        }
        hasher.finish()
    }

    /// The shape of `cells` (whose hash is `hash`), if known.
    pub fn get(&self, hash: u64, cells: &[&[u8]]) -> Option<Arc<PodDef>> {
        let bucket = self.shapes.get(&hash)?;
        bucket.iter().find(|(key, _)| key_matches(key, cells)).map(|(_, def)| def.clone())
    }

    /// Remembers `def` as the shape of `cells`.
    pub fn insert(&mut self, hash: u64, cells: &[&[u8]], def: PodDef) -> Arc<PodDef> {
        if self.n_shapes >= Self::MAX_SHAPES {
            self.shapes.clear();
            self.n_shapes = 0;
        }
        let mut key = Vec::with_capacity(cells.iter().map(|c| c.len() + 4).sum());
        for cell in cells {
            let len = u32::try_from(cell.len()).unwrap_or(u32::MAX);
            key.extend_from_slice(&len.to_le_bytes());
            key.extend_from_slice(cell);
        }
        let def = Arc::new(def);
        self.shapes.entry(hash).or_default().push((key.into_boxed_slice(), def.clone()));
        self.n_shapes += 1;
        def
    }
}

/// The cells of a shape (length-prefixed, concatenated) and the shape.
type KnownShape = (Box<[u8]>, Arc<PodDef>);

/// Whether a stored key holds exactly `cells`.
fn key_matches(mut key: &[u8], cells: &[&[u8]]) -> bool {
    for cell in cells {
        let Some((len, rest)) = key.split_first_chunk::<4>() else { return false };
        let len = u32::from_le_bytes(*len) as usize;
        if len != cell.len() || rest.get(..len) != Some(*cell) {
            return false;
        }
        key = &rest[len..];
    }
    key.is_empty()
}

/// A pod with one container that requests `requests`.
pub fn single_container_pod(requests: Vec<(String, String)>) -> PodDef {
    PodDef {
        namespace: "default".to_string(),
        containers: vec![ContainerDef { name: CONTAINER_NAME.to_string(), requests, ..ContainerDef::default() }],
        ..PodDef::default()
    }
}

/// Checks a quantity as the core will when it compiles the pod: Kubernetes syntax, not negative, at most
/// 2^53 units (millicores for CPU). The message says what is wrong.
pub fn check_quantity(text: &str, is_cpu: bool) -> Result<(), String> {
    let quantity = Quantity::parse(text).map_err(|e| format!("invalid quantity {text:?}: {e}"))?;
    if quantity.nanos() < 0 {
        return Err(format!("must be greater than or equal to 0, got {text:?}"));
    }
    let units = if is_cpu { quantity.milli_value() } else { quantity.value() };
    if units > MAX_AMOUNT {
        let unit = if is_cpu { "millicores" } else { "units" };
        return Err(format!("{text:?} is more than simsched accounts: at most 2^53 {unit}"));
    }
    Ok(())
}
