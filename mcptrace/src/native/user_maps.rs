//! The maps user space keeps (`MapInfo::in_user_space`): maps of strings,
//! and maps that user-space statements update on the events. Elements are
//! folded as the kernel folds its own (`Agg::fold`, `map::bucket`), and read
//! back in the shape the kernel maps are printed in.

use std::collections::{BTreeMap, HashMap};

use mcptrace_common::{Agg, map::bucket, slot::map_op};

use super::{map_read, map_write::normalize_key};
use crate::{
    ir::{MapAgg, MapInfo},
    output::{MapDump, MapValue, Value},
};

/// One element: a value, or an aggregate per histogram bucket + 1 (0 for
/// aggregations without buckets), as the kernel stores them.
#[derive(Clone, Debug)]
enum Element {
    Value(Value),
    Folded(BTreeMap<u32, Agg>),
}

#[derive(Default)]
pub struct UserMaps {
    maps: HashMap<u16, HashMap<Vec<Value>, Element>>,
}

impl UserMaps {
    /// `@m[key] = value`, `+= value` (`add`), or `= f(value)` for map `info`
    /// aggregating by `f`.
    pub fn store(&mut self, info: &MapInfo, key: &[Value], value: Value, add: bool) {
        let key = normalize_key(info, key);
        let elements = self.maps.entry(info.id).or_default();
        let Some(kind) = fold_op(&info.agg) else {
            let old = match elements.get(&key) {
                Some(Element::Value(Value::Int { bits, .. })) if add => *bits,
                _ => 0,
            };
            // Typed as the map is (bpftrace types it by all its writes),
            // not as this write's operand is.
            let value = match (value, &info.agg) {
                (Value::Int { bits, .. }, MapAgg::Value { signed }) => {
                    Value::Int { bits: old.wrapping_add(bits), signed: *signed }
                }
                (value, _) => value,
            };
            elements.insert(key, Element::Value(value));
            return;
        };
        let bits = match value {
            Value::Int { bits, .. } => bits,
            _ => 0,
        };
        let (min, max, step) = match info.agg {
            MapAgg::Lhist { min, max, step } => (min, max, step),
            _ => (0, 0, 0),
        };
        let element = elements.entry(key).or_insert_with(|| Element::Folded(BTreeMap::new()));
        let Element::Folded(buckets) = element else { return };
        buckets.entry(bucket(kind, bits, min, max, step)).or_default().fold(kind, bits);
    }

    pub fn lookup(&self, info: &MapInfo, key: &[Value]) -> Option<MapValue> {
        let element = self.maps.get(&info.id)?.get(&normalize_key(info, key))?;
        Some(value(info, element))
    }

    pub fn delete(&mut self, info: &MapInfo, key: &[Value]) {
        if let Some(elements) = self.maps.get_mut(&info.id) {
            elements.remove(&normalize_key(info, key));
        }
    }

    pub fn clear(&mut self, info: &MapInfo) {
        self.maps.remove(&info.id);
    }

    /// Every element back to zero (or ""), its key kept.
    pub fn zero(&mut self, info: &MapInfo) {
        for element in self.maps.get_mut(&info.id).into_iter().flat_map(|m| m.values_mut()) {
            match element {
                Element::Value(Value::Str(s)) => s.clear(),
                Element::Value(v) => *v = Value::Int { bits: 0, signed: true },
                Element::Folded(buckets) => buckets.values_mut().for_each(|a| *a = Agg::default()),
            }
        }
    }

    pub fn dump(&self, info: &MapInfo) -> MapDump {
        let elements = self.maps.get(&info.id).into_iter().flatten();
        let entries = elements.map(|(k, e)| (k.clone(), value(info, e))).collect();
        MapDump { name: info.name.clone(), kind: map_read::kind_of(&info.agg), entries }
    }
}

/// The kernel's map operation for an aggregation; None for plain values.
fn fold_op(agg: &MapAgg) -> Option<u16> {
    Some(match agg {
        MapAgg::Count => map_op::COUNT,
        MapAgg::Sum { .. } | MapAgg::Avg | MapAgg::Stats => map_op::SUM,
        MapAgg::Min => map_op::MIN,
        MapAgg::Max => map_op::MAX,
        MapAgg::Hist => map_op::HIST,
        MapAgg::Lhist { .. } => map_op::LHIST,
        MapAgg::Value { .. } | MapAgg::Text => return None,
    })
}

fn value(info: &MapInfo, element: &Element) -> MapValue {
    match element {
        Element::Value(v) => MapValue::Scalar(v.clone()),
        Element::Folded(buckets) => {
            let aggs: Vec<(u32, Agg)> = buckets.iter().map(|(b, a)| (*b, *a)).collect();
            map_read::value(&info.agg, &aggs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::KeyKind;

    fn map(agg: MapAgg) -> MapInfo {
        let key = vec![KeyKind::Int { signed: false }];
        MapInfo { id: 1, name: "@m".into(), agg, key, in_user_space: true }
    }

    #[test]
    fn elements_fold_as_the_kernel_folds_them() {
        let mut maps = UserMaps::default();
        let k = |v| [Value::int(v)];
        let count = map(MapAgg::Count);
        for _ in 0..3 {
            maps.store(&count, &k(1), Value::uint(1), false);
        }
        assert_eq!(maps.lookup(&count, &k(1)), Some(MapValue::Scalar(Value::uint(3))));
        let hist = MapInfo { id: 2, ..map(MapAgg::Hist) };
        for v in [0, 1, 5, 7] {
            maps.store(&hist, &k(1), Value::int(v), false);
        }
        let buckets = MapValue::Buckets(vec![(1, 1), (2, 1), (4, 2)]);
        assert_eq!(maps.lookup(&hist, &k(1)), Some(buckets));
        let plain = MapInfo { id: 3, ..map(MapAgg::Value { signed: true }) };
        maps.store(&plain, &k(2), Value::uint(5), false);
        maps.store(&plain, &k(2), Value::int(-7), true);
        assert_eq!(maps.lookup(&plain, &k(2)), Some(MapValue::Scalar(Value::int(-2))));
        maps.zero(&plain);
        assert_eq!(maps.lookup(&plain, &k(2)), Some(MapValue::Scalar(Value::int(0))));
        maps.delete(&plain, &k(2));
        assert_eq!(maps.lookup(&plain, &k(2)), None);
        maps.clear(&count);
        assert_eq!(maps.dump(&count).entries, []);
    }
}
