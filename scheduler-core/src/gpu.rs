//! GPU devices: a pod's GPU request, a node's GPUs with the milli-GPU free on each, and which GPUs a pod
//! was given.
//!
//! The model is GPU sharing as Alibaba's clusters run it (Weng et al., "Beware of Fragmentation", USENIX
//! ATC 2023): every GPU has 1000 milli-GPU; a pod asks either for whole GPUs or for a share (< 1000
//! milli) of one GPU. In Kubernetes terms a node's GPUs are its allocatable `nvidia.com/gpu` (or, without
//! it, `alibabacloud.com/gpu-milli` ÷ 1000); a pod asking `nvidia.com/gpu: n` wants n whole GPUs (with
//! `alibabacloud.com/gpu-milli`, if present, equal to 1000 × n), and a pod asking only
//! `alibabacloud.com/gpu-milli: m` wants a share of one GPU when m < 1000, or m ÷ 1000 whole GPUs when m
//! is a multiple of 1000.

use std::fmt;

use smallvec::SmallVec;

use crate::error::ModelError;
use crate::intern::well_known;
use crate::resources::Resources;

/// Milli-GPU in one GPU.
pub const MILLI_PER_GPU: u32 = 1000;
/// The most GPUs a node may have (a [`GpuSet`] is a 64-bit mask).
pub const MAX_GPUS_PER_NODE: u32 = 64;
/// Whole GPUs, the resource NVIDIA's device plugin advertises.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// GPU capacity in thousandths of a GPU (Alibaba's GPU-sharing resource).
pub const GPU_MILLI_RESOURCE: &str = "alibabacloud.com/gpu-milli";
/// The node label holding the GPU model.
pub const GPU_MODEL_LABEL: &str = "alibabacloud.com/gpu-card-model";
/// The pod annotation naming the GPUs a pod was given, indices joined by `-` (Alibaba's GPU sharing and the
/// FGD authors' simulator).
pub const GPU_INDEX_ANNOTATION: &str = "alibabacloud.com/gpu-index";

/// What a pod asks of GPUs: `count` GPUs with `milli` milli-GPU free on each. `count` is 0 for a pod
/// without GPUs; `milli` is 1000 for whole GPUs, less for a share of one GPU (then `count` is 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GpuRequest {
    /// Number of GPUs.
    pub count: u32,
    /// Milli-GPU wanted on each of them.
    pub milli: u32,
}

impl GpuRequest {
    /// No GPUs.
    pub const NONE: GpuRequest = GpuRequest { count: 0, milli: 0 };

    /// Whether the pod asks for no GPU.
    #[inline]
    pub fn is_none(self) -> bool {
        self.count == 0
    }

    /// Whether the pod asks for a share of one GPU.
    #[inline]
    pub fn is_share(self) -> bool {
        self.count == 1 && self.milli < MILLI_PER_GPU
    }

    /// Milli-GPU asked in all.
    #[inline]
    pub fn total_milli(self) -> i64 {
        i64::from(self.count) * i64::from(self.milli)
    }

    /// The request of a pod with effective requests `requests` (see the module documentation).
    pub fn of(requests: &Resources) -> Result<GpuRequest, ModelError> {
        let gpus = requests.scalars.get(well_known::GPU);
        let milli = requests.scalars.get(well_known::GPU_MILLI);
        let field = |name: &str| format!("resources.requests[{name:?}]");
        if gpus > 0 {
            if gpus > i64::from(MAX_GPUS_PER_NODE) {
                return Err(ModelError::new(field(GPU_RESOURCE), format!("{gpus} GPUs: no node has more than {MAX_GPUS_PER_NODE}")));
            }
            if milli != 0 && milli != gpus * i64::from(MILLI_PER_GPU) {
                return Err(ModelError::new(
                    field(GPU_MILLI_RESOURCE),
                    format!("{milli} with {GPU_RESOURCE} {gpus}: whole GPUs ask {} milli-GPU (1000 per GPU)", gpus * 1000),
                ));
            }
            return Ok(GpuRequest { count: gpus as u32, milli: MILLI_PER_GPU });
        }
        match milli {
            0 => Ok(GpuRequest::NONE),
            1..1000 => Ok(GpuRequest { count: 1, milli: milli as u32 }),
            m if m > 0 && m % 1000 == 0 && m / 1000 <= i64::from(MAX_GPUS_PER_NODE) => {
                Ok(GpuRequest { count: (m / 1000) as u32, milli: MILLI_PER_GPU })
            }
            m => Err(ModelError::new(
                field(GPU_MILLI_RESOURCE),
                format!(
                    "{m} is neither a share of one GPU (1 to 999) nor whole GPUs (a multiple of 1000, at most {})",
                    MAX_GPUS_PER_NODE * 1000
                ),
            )),
        }
    }
}

impl fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.count, self.milli) {
            (0, _) => f.write_str("no GPU"),
            (1, m) if m < MILLI_PER_GPU => write!(f, "{m} milli-GPU of one GPU"),
            (1, _) => f.write_str("1 GPU"),
            (n, _) => write!(f, "{n} GPUs"),
        }
    }
}

/// The number of GPUs of a node with allocatable `allocatable`.
pub fn node_gpu_count(allocatable: &Resources) -> Result<u32, ModelError> {
    let gpus = allocatable.scalars.get(well_known::GPU);
    let milli = allocatable.scalars.get(well_known::GPU_MILLI);
    let field = |name: &str| format!("status.allocatable[{name:?}]");
    let count = if gpus > 0 {
        if milli != 0 && milli != gpus * i64::from(MILLI_PER_GPU) {
            return Err(ModelError::new(
                field(GPU_MILLI_RESOURCE),
                format!("{milli} with {GPU_RESOURCE} {gpus}: every GPU has 1000 milli-GPU, so {} was expected", gpus * 1000),
            ));
        }
        gpus
    } else if milli > 0 {
        if milli % 1000 != 0 {
            return Err(ModelError::new(field(GPU_MILLI_RESOURCE), format!("{milli} is not a whole number of GPUs (1000 milli-GPU each)")));
        }
        milli / 1000
    } else {
        0
    };
    if count > i64::from(MAX_GPUS_PER_NODE) {
        let name = if gpus > 0 { GPU_RESOURCE } else { GPU_MILLI_RESOURCE };
        return Err(ModelError::new(field(name), format!("{count} GPUs: simsched models at most {MAX_GPUS_PER_NODE} GPUs per node")));
    }
    Ok(count as u32)
}

/// A set of GPU indices on one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GpuSet(pub u64);

impl GpuSet {
    /// No GPU.
    pub const EMPTY: GpuSet = GpuSet(0);

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of GPUs.
    #[inline]
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The set with GPU `idx` added (`idx` < 64).
    #[inline]
    pub fn with(self, idx: usize) -> GpuSet {
        GpuSet(self.0 | (1u64 << idx))
    }

    /// Whether GPU `idx` is in the set.
    #[inline]
    pub fn contains(self, idx: usize) -> bool {
        idx < 64 && self.0 & (1u64 << idx) != 0
    }

    /// The indices, ascending.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let idx = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                idx
            })
        })
    }
}

/// Indices joined by `,` (`0,1`); empty for no GPU.
impl fmt::Display for GpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, idx) in self.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{idx}")?;
        }
        Ok(())
    }
}

/// The milli-GPU free on each GPU of a node. A pod recorded where it does not fit (a cluster file, a
/// watched cluster) can drive a GPU below zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GpuDevices {
    free: SmallVec<[i32; 8]>,
}

impl GpuDevices {
    /// `count` idle GPUs.
    pub fn new(count: u32) -> GpuDevices {
        GpuDevices { free: std::iter::repeat_n(MILLI_PER_GPU as i32, count as usize).collect() }
    }

    /// Number of GPUs.
    #[inline]
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// Whether the node has no GPU.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    /// Milli-GPU free on each GPU, by index.
    #[inline]
    pub fn free(&self) -> &[i32] {
        &self.free
    }

    /// Milli-GPU free in all (negative GPUs count as 0).
    pub fn total_free(&self) -> i64 {
        self.free.iter().map(|&f| i64::from(f.max(0))).sum()
    }

    /// Milli-GPU in use in all (what the pods were given).
    pub fn total_used(&self) -> i64 {
        self.free.iter().map(|&f| i64::from(MILLI_PER_GPU as i32 - f)).sum()
    }

    /// Whether `request` fits: `count` GPUs each with `milli` free.
    #[inline]
    pub fn fits(&self, request: GpuRequest) -> bool {
        request.is_none() || self.n_fitting(request.milli) >= request.count as usize
    }

    /// Number of GPUs with at least `milli` free.
    #[inline]
    pub fn n_fitting(&self, milli: u32) -> usize {
        self.free.iter().filter(|&&f| f >= milli as i32).count()
    }

    /// The GPUs simsched gives `request` when no plugin chose: for a share, the GPU with the least free
    /// milli-GPU that fits it (lowest index among equals); for whole GPUs, the idle GPUs of lowest index.
    /// `None` when it does not fit.
    pub fn default_assignment(&self, request: GpuRequest) -> Option<GpuSet> {
        if request.is_none() {
            return Some(GpuSet::EMPTY);
        }
        if request.is_share() {
            let milli = request.milli as i32;
            let best = self.free.iter().enumerate().filter(|&(_, &f)| f >= milli).min_by_key(|&(idx, &f)| (f, idx))?;
            return Some(GpuSet::EMPTY.with(best.0));
        }
        self.lowest_fitting(request)
    }

    /// The `count` GPUs of lowest index with `milli` free each, if there are that many.
    pub fn lowest_fitting(&self, request: GpuRequest) -> Option<GpuSet> {
        let milli = request.milli as i32;
        let mut set = GpuSet::EMPTY;
        for (idx, _) in self.free.iter().enumerate().filter(|&(_, &f)| f >= milli).take(request.count as usize) {
            set = set.with(idx);
        }
        (set.len() == request.count).then_some(set)
    }

    /// The GPUs of a pod recorded without fitting: the `count` GPUs with the most free (lowest index among
    /// equals), or all of them when the node has fewer.
    pub fn forced_assignment(&self, request: GpuRequest) -> GpuSet {
        let mut order: SmallVec<[usize; 8]> = (0..self.free.len()).collect();
        order.sort_by_key(|&idx| (std::cmp::Reverse(self.free[idx]), idx));
        order.into_iter().take(request.count as usize).fold(GpuSet::EMPTY, GpuSet::with)
    }

    /// Takes `milli` from each GPU of `set` (indices past the last GPU are ignored).
    pub fn take(&mut self, set: GpuSet, milli: u32) {
        for idx in set.iter() {
            if let Some(f) = self.free.get_mut(idx) {
                *f = f.saturating_sub(milli as i32);
            }
        }
    }

    /// Gives `milli` back to each GPU of `set`.
    pub fn give_back(&mut self, set: GpuSet, milli: u32) {
        for idx in set.iter() {
            if let Some(f) = self.free.get_mut(idx) {
                *f = f.saturating_add(milli as i32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::Interner;
    use crate::resources::ResourceList;

    fn request(pairs: &[(&str, &str)]) -> Result<GpuRequest, String> {
        let mut interner = Interner::new();
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let list = ResourceList::parse(&pairs, &mut interner, "requests").unwrap();
        GpuRequest::of(&Resources::from_list(&list)).map_err(|e| e.to_string())
    }

    fn devices(free: &[i32]) -> GpuDevices {
        GpuDevices { free: free.iter().copied().collect() }
    }

    #[test]
    fn requests_read_from_the_two_resources() {
        assert_eq!(request(&[("cpu", "1")]), Ok(GpuRequest::NONE));
        assert_eq!(request(&[("alibabacloud.com/gpu-milli", "460")]), Ok(GpuRequest { count: 1, milli: 460 }));
        assert_eq!(request(&[("alibabacloud.com/gpu-milli", "2000")]), Ok(GpuRequest { count: 2, milli: 1000 }));
        assert_eq!(request(&[("nvidia.com/gpu", "4")]), Ok(GpuRequest { count: 4, milli: 1000 }));
        assert_eq!(request(&[("nvidia.com/gpu", "2"), ("alibabacloud.com/gpu-milli", "2000")]), Ok(GpuRequest { count: 2, milli: 1000 }));
    }

    #[test]
    fn inconsistent_requests_name_the_resource() {
        assert_eq!(
            request(&[("nvidia.com/gpu", "2"), ("alibabacloud.com/gpu-milli", "500")]).unwrap_err(),
            "resources.requests[\"alibabacloud.com/gpu-milli\"]: 500 with nvidia.com/gpu 2: whole GPUs ask 2000 milli-GPU (1000 per GPU)"
        );
        assert_eq!(
            request(&[("alibabacloud.com/gpu-milli", "1500")]).unwrap_err(),
            "resources.requests[\"alibabacloud.com/gpu-milli\"]: 1500 is neither a share of one GPU (1 to 999) nor whole GPUs (a multiple of 1000, at most 64000)"
        );
    }

    #[test]
    fn a_share_goes_to_the_tightest_gpu_that_fits() {
        let d = devices(&[1000, 300, 600, 600]);
        assert_eq!(d.default_assignment(GpuRequest { count: 1, milli: 500 }), Some(GpuSet(0b0100)));
        assert_eq!(d.default_assignment(GpuRequest { count: 1, milli: 200 }), Some(GpuSet(0b0010)));
        assert_eq!(d.default_assignment(GpuRequest { count: 1, milli: 1000 }), Some(GpuSet(0b0001)));
        assert_eq!(d.default_assignment(GpuRequest { count: 2, milli: 1000 }), None);
        assert!(d.fits(GpuRequest { count: 3, milli: 600 }));
        assert!(!d.fits(GpuRequest { count: 4, milli: 600 }));
    }

    #[test]
    fn whole_gpus_take_the_lowest_idle_ones() {
        let d = devices(&[1000, 0, 1000, 1000]);
        assert_eq!(d.default_assignment(GpuRequest { count: 2, milli: 1000 }), Some(GpuSet(0b0101)));
        assert_eq!(d.forced_assignment(GpuRequest { count: 4, milli: 1000 }), GpuSet(0b1111));
    }

    #[test]
    fn take_and_give_back_are_inverse() {
        let mut d = GpuDevices::new(2);
        d.take(GpuSet(0b10), 460);
        assert_eq!(d.free(), [1000, 540]);
        assert_eq!(d.total_used(), 460);
        d.give_back(GpuSet(0b10), 460);
        assert_eq!(d, GpuDevices::new(2));
        assert_eq!(GpuSet(0b1011).to_string(), "0,1,3");
    }
}
