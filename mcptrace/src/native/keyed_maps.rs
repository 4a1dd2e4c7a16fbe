//! The kernel's aggregation and keyed-state maps: one pair per key width
//! (tier, see `limits::KEY_TIERS`). User space sees every key at the widest
//! width, whichever tier holds it.

use aya::{
    Ebpf,
    maps::{HashMap, MapData, PerCpuHashMap, PerCpuValues},
};
use mcptrace_common::{Agg, MapKey, TierKey, limits::KEY_TIERS, tier_of};

use super::{NativeError, session::take_map};

pub struct KeyedMaps {
    narrow: TierMaps<{ KEY_TIERS[0] }>,
    small: TierMaps<{ KEY_TIERS[1] }>,
    medium: TierMaps<{ KEY_TIERS[2] }>,
    wide: TierMaps<{ KEY_TIERS[3] }>,
}

struct TierMaps<const W: usize> {
    agg: PerCpuHashMap<MapData, TierKey<W>, Agg>,
    state: HashMap<MapData, TierKey<W>, u64>,
}

impl KeyedMaps {
    /// The object's names of the maps, each tier's aggregation and keyed
    /// state, narrowest first.
    pub const NAMES: [&'static str; 8] = [
        "AGG_NARROW",
        "STATE_NARROW",
        "AGG_SMALL",
        "STATE_SMALL",
        "AGG_MEDIUM",
        "STATE_MEDIUM",
        "AGG_WIDE",
        "STATE_WIDE",
    ];

    pub fn take(ebpf: &mut Ebpf) -> Result<Self, NativeError> {
        let [an, sn, asm, ss, am, sm, aw, sw] = Self::NAMES;
        Ok(Self {
            narrow: TierMaps::take(ebpf, an, sn)?,
            small: TierMaps::take(ebpf, asm, ss)?,
            medium: TierMaps::take(ebpf, am, sm)?,
            wide: TierMaps::take(ebpf, aw, sw)?,
        })
    }

    fn tiers(&self) -> [&dyn Tier; 4] {
        [&self.narrow, &self.small, &self.medium, &self.wide]
    }

    fn tiers_mut(&mut self) -> [&mut dyn Tier; 4] {
        [&mut self.narrow, &mut self.small, &mut self.medium, &mut self.wide]
    }

    /// Every aggregation entry with its per-CPU values (CPUs that never saw
    /// the key have `count == 0`).
    pub fn aggregates(&self) -> Result<Vec<(MapKey, Vec<Agg>)>, NativeError> {
        let mut out = Vec::new();
        for tier in self.tiers() {
            tier.aggregates(&mut out)
                .map_err(|source| NativeError::Map { what: "reading aggregations", source })?;
        }
        Ok(out)
    }

    /// Every keyed-state entry.
    pub fn state(&self) -> Result<Vec<(MapKey, u64)>, NativeError> {
        let mut out = Vec::new();
        for tier in self.tiers() {
            tier.state(&mut out)
                .map_err(|source| NativeError::Map { what: "reading keyed state", source })?;
        }
        Ok(out)
    }

    /// Sets every value of user map `map` to zero, keeping its keys (`zero()`).
    pub fn zero(&mut self, map: u16) -> Result<(), NativeError> {
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| NativeError::Cpus(e))?;
        for tier in self.tiers_mut() {
            tier.zero(map, cpus)
                .map_err(|source| NativeError::Map { what: "zeroing a map", source })?;
        }
        Ok(())
    }

    /// The keyed state under `key`, whose data takes `words` words (which
    /// picks its tier, as the kernel picks it).
    pub fn state_at(&self, key: &MapKey, words: usize) -> Result<Option<u64>, NativeError> {
        self.tiers()[usize::from(tier_of(words))]
            .state_at(key)
            .map_err(|source| NativeError::Map { what: "reading keyed state", source })
    }

    /// Sets the keyed state under `key` (of `words` words) to `value`.
    pub fn set_state(&mut self, key: &MapKey, words: usize, value: u64) -> Result<(), NativeError> {
        self.tiers_mut()[usize::from(tier_of(words))]
            .set_state(key, value)
            .map_err(|source| NativeError::Map { what: "writing keyed state", source })
    }

    /// Deletes the element under `key` (of `words` words), whichever kind.
    pub fn remove(&mut self, key: &MapKey, words: usize) -> Result<(), NativeError> {
        self.tiers_mut()[usize::from(tier_of(words))]
            .remove(key)
            .map_err(|source| NativeError::Map { what: "deleting a map element", source })
    }

    /// Deletes every entry of user map `map` (`clear()`).
    pub fn clear(&mut self, map: u16) -> Result<(), NativeError> {
        for tier in self.tiers_mut() {
            tier.clear(map)
                .map_err(|source| NativeError::Map { what: "clearing a map", source })?;
        }
        Ok(())
    }
}

/// What every tier offers, whatever its key width.
trait Tier {
    fn aggregates(&self, out: &mut Vec<(MapKey, Vec<Agg>)>) -> Result<(), aya::maps::MapError>;
    fn state(&self, out: &mut Vec<(MapKey, u64)>) -> Result<(), aya::maps::MapError>;
    fn zero(&mut self, map: u16, cpus: usize) -> Result<(), aya::maps::MapError>;
    fn clear(&mut self, map: u16) -> Result<(), aya::maps::MapError>;
    fn state_at(&self, key: &MapKey) -> Result<Option<u64>, aya::maps::MapError>;
    fn set_state(&mut self, key: &MapKey, value: u64) -> Result<(), aya::maps::MapError>;
    fn remove(&mut self, key: &MapKey) -> Result<(), aya::maps::MapError>;
}

impl<const W: usize> TierMaps<W> {
    fn take(ebpf: &mut Ebpf, agg: &'static str, state: &'static str) -> Result<Self, NativeError> {
        Ok(Self { agg: take_map(ebpf, agg)?, state: take_map(ebpf, state)? })
    }

    fn agg_keys(&self, map: u16) -> Vec<TierKey<W>> {
        self.agg.keys().filter_map(Result::ok).filter(|k| k.map == map).collect()
    }

    fn state_keys(&self, map: u16) -> Vec<TierKey<W>> {
        self.state.keys().filter_map(Result::ok).filter(|k| k.map == map).collect()
    }
}

impl<const W: usize> Tier for TierMaps<W> {
    fn aggregates(&self, out: &mut Vec<(MapKey, Vec<Agg>)>) -> Result<(), aya::maps::MapError> {
        for entry in self.agg.iter() {
            let (key, per_cpu) = entry?;
            out.push((key.resize(), per_cpu.iter().copied().collect()));
        }
        Ok(())
    }

    fn state(&self, out: &mut Vec<(MapKey, u64)>) -> Result<(), aya::maps::MapError> {
        for entry in self.state.iter() {
            let (key, value) = entry?;
            out.push((key.resize(), value));
        }
        Ok(())
    }

    fn zero(&mut self, map: u16, cpus: usize) -> Result<(), aya::maps::MapError> {
        for key in self.agg_keys(map) {
            let zeros = PerCpuValues::try_from(vec![Agg::default(); cpus])
                .map_err(aya::maps::MapError::from)?;
            self.agg.insert(key, zeros, 0)?;
        }
        for key in self.state_keys(map) {
            self.state.insert(key, 0, 0)?;
        }
        Ok(())
    }

    fn clear(&mut self, map: u16) -> Result<(), aya::maps::MapError> {
        for key in self.agg_keys(map) {
            self.agg.remove(&key)?;
        }
        for key in self.state_keys(map) {
            self.state.remove(&key)?;
        }
        Ok(())
    }

    fn state_at(&self, key: &MapKey) -> Result<Option<u64>, aya::maps::MapError> {
        match self.state.get(&key.resize(), 0) {
            Ok(v) => Ok(Some(v)),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_state(&mut self, key: &MapKey, value: u64) -> Result<(), aya::maps::MapError> {
        self.state.insert(key.resize(), value, 0)
    }

    /// From both maps, as the kernel's delete does: a key is in one of them.
    fn remove(&mut self, key: &MapKey) -> Result<(), aya::maps::MapError> {
        for removed in [self.state.remove(&key.resize()), self.agg.remove(&key.resize())] {
            match removed {
                Err(aya::maps::MapError::SyscallError(e))
                    if e.io_error.raw_os_error() != Some(libc::ENOENT) =>
                {
                    return Err(aya::maps::MapError::SyscallError(e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
