//! Keys and values of the in-kernel maps that hold aggregations and keyed
//! state for every user map of a program.

use crate::{
    limits::{KEY_TIERS, KEY_WORDS},
    slot::map_op,
};

/// A key of the aggregation and keyed-state maps of the tier `W` words wide.
/// Every width shares one layout, so a key built at the widest width is, by
/// its first bytes, the same key at any narrower width that holds its data.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TierKey<const W: usize> {
    /// The user map (`@name`) this entry belongs to.
    pub map: u16,
    pub _pad: u16,
    /// Histogram bucket + 1 for hist/lhist maps, 0 otherwise.
    pub bucket: u32,
    /// The key's parts, packed in order; unused words are zero.
    pub words: [u64; W],
}

/// A key at the widest width: how keys are built and handled in user space.
pub type MapKey = TierKey<KEY_WORDS>;
pub type NarrowKey = TierKey<{ KEY_TIERS[0] }>;
pub type SmallKey = TierKey<{ KEY_TIERS[1] }>;
pub type MediumKey = TierKey<{ KEY_TIERS[2] }>;

impl<const W: usize> Default for TierKey<W> {
    fn default() -> Self {
        Self { map: 0, _pad: 0, bucket: 0, words: [0; W] }
    }
}

impl<const W: usize> TierKey<W> {
    /// The same key at width `V`: cut (the words beyond the key's data are
    /// zero) or padded with zeros.
    pub fn resize<const V: usize>(&self) -> TierKey<V> {
        let mut words = [0; V];
        let n = W.min(V);
        words[..n].copy_from_slice(&self.words[..n]);
        TierKey { map: self.map, _pad: 0, bucket: self.bucket, words }
    }
}

/// The tier (index into `KEY_TIERS`) for a key of `words` words.
pub const fn tier_of(words: usize) -> u8 {
    let mut t = 0;
    while t + 1 < KEY_TIERS.len() && KEY_TIERS[t] < words {
        t += 1;
    }
    t as u8
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

impl Agg {
    /// Adds `value` by map operation `kind` (count only counts). One
    /// definition for the kernel's updates and user space's.
    #[inline(always)]
    pub fn fold(&mut self, kind: u16, value: u64) {
        let v = value as i64;
        match kind {
            map_op::SUM => self.sum = self.sum.wrapping_add(value),
            map_op::MIN if self.count == 0 || v < self.min => self.min = v,
            map_op::MAX if self.count == 0 || v > self.max => self.max = v,
            _ => {}
        }
        self.count += 1;
    }
}

/// The histogram bucket + 1 of `value` for hist and lhist (with the
/// latter's `min`, `max`, `step`); 0 for the other operations.
#[inline(always)]
pub fn bucket(kind: u16, value: u64, min: i64, max: i64, step: u64) -> u32 {
    match kind {
        map_op::HIST => log2_bucket(value as i64) + 1,
        map_op::LHIST => linear_bucket(value as i64, min, max, step) + 1,
        _ => 0,
    }
}

/// bpftrace's log2 buckets: 0 for negatives, 1 for zero, 2 + floor(log2 v)
/// otherwise (without 0.17's cap at 2^31).
#[inline(always)]
fn log2_bucket(v: i64) -> u32 {
    if v < 0 {
        0
    } else if v == 0 {
        1
    } else {
        1 + (64 - (v as u64).leading_zeros())
    }
}

/// lhist buckets: 0 below min, then one per step, then the overflow bucket,
/// which also holds v == max.
#[inline(always)]
fn linear_bucket(v: i64, min: i64, max: i64, step: u64) -> u32 {
    let step = if step == 0 { 1 } else { step };
    if v < min {
        0
    } else if v >= max {
        1 + ((max - min) as u64 / step) as u32
    } else {
        1 + ((v - min) as u64 / step) as u32
    }
}

#[cfg(feature = "user")]
unsafe impl<const W: usize> aya::Pod for TierKey<W> {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for Agg {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::STR_LEN;

    #[test]
    fn a_key_takes_the_narrowest_tier_that_holds_it() {
        let tiers: [usize; 6] = [0, 1, 2, 3, STR_LEN / 8, KEY_WORDS];
        let got = tiers.map(tier_of);
        assert_eq!(got, [0, 0, 0, 1, 2, 3]);
        // Wider than any tier: the widest, where the slot builder refuses it.
        assert_eq!(tier_of(KEY_WORDS + 1) as usize, KEY_TIERS.len() - 1);
    }

    #[test]
    fn resizing_keeps_the_header_and_the_data_words() {
        let mut k = MapKey { map: 3, bucket: 7, ..Default::default() };
        k.words[..2].copy_from_slice(&[11, 22]);
        let n: NarrowKey = k.resize();
        assert_eq!((n.map, n.bucket, n.words), (3, 7, [11, 22]));
        assert_eq!(n.resize::<KEY_WORDS>(), k);
    }
}
