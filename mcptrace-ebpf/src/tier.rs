//! The map tiers: aggregation and keyed-state maps per key width, so a key
//! is hashed and compared at the narrowest width that holds it.

use aya_ebpf::maps::{HashMap, PerCpuHashMap};
use mcptrace_common::{Agg, MapKey, MediumKey, NarrowKey, SmallKey};

use crate::maps::{
    AGG_MEDIUM, AGG_NARROW, AGG_SMALL, AGG_WIDE, STATE_MEDIUM, STATE_NARROW, STATE_SMALL,
    STATE_WIDE,
};

/// The maps of one key width.
pub trait Tier {
    /// A `TierKey` no wider than `MapKey`.
    type Key: 'static;
    fn agg() -> &'static PerCpuHashMap<Self::Key, Agg>;
    fn state() -> &'static HashMap<Self::Key, u64>;

    /// `key` at this tier's width: the same bytes, fewer of them.
    #[inline(always)]
    fn key(key: &MapKey) -> &Self::Key {
        // SAFETY: every `TierKey` shares `MapKey`'s layout up to its width.
        unsafe { &*(key as *const MapKey).cast::<Self::Key>() }
    }
}

macro_rules! tiers {
    ($($tier:ident: $key:ty, $agg:ident, $state:ident;)*) => {$(
        pub struct $tier;

        impl Tier for $tier {
            type Key = $key;
            #[inline(always)]
            fn agg() -> &'static PerCpuHashMap<$key, Agg> {
                &$agg
            }
            #[inline(always)]
            fn state() -> &'static HashMap<$key, u64> {
                &$state
            }
        }
    )*};
}

tiers! {
    Narrow: NarrowKey, AGG_NARROW, STATE_NARROW;
    Small: SmallKey, AGG_SMALL, STATE_SMALL;
    Medium: MediumKey, AGG_MEDIUM, STATE_MEDIUM;
    Wide: MapKey, AGG_WIDE, STATE_WIDE;
}

/// Runs `$f::<T>($args)` for the tier numbered `$tier` (an index into
/// `limits::KEY_TIERS`).
macro_rules! by_tier {
    ($tier:expr, $f:ident($($arg:expr),*)) => {
        match $tier {
            0 => $f::<$crate::tier::Narrow>($($arg),*),
            1 => $f::<$crate::tier::Small>($($arg),*),
            2 => $f::<$crate::tier::Medium>($($arg),*),
            _ => $f::<$crate::tier::Wide>($($arg),*),
        }
    };
}
pub(crate) use by_tier;
