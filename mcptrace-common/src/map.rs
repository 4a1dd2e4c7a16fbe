//! Keys and values of the in-kernel maps that hold aggregations and keyed
//! state for every user map of a program.

use crate::limits::KEY_WORDS;

/// A key of the aggregation and keyed-state maps.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapKey {
    /// The user map (`@name`) this entry belongs to.
    pub map: u16,
    pub _pad: u16,
    /// Histogram bucket + 1 for hist/lhist maps, 0 otherwise.
    pub bucket: u32,
    /// The key's parts, packed in order; unused words are zero.
    pub words: [u64; KEY_WORDS],
}

impl Default for MapKey {
    fn default() -> Self {
        Self { map: 0, _pad: 0, bucket: 0, words: [0; KEY_WORDS] }
    }
}

/// One CPU's aggregate for a key. `count == 0` means this CPU never saw the
/// key, which matters when min and max are merged across CPUs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agg {
    pub count: u64,
    pub sum: u64,
    pub min: i64,
    pub max: i64,
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for MapKey {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for Agg {}
