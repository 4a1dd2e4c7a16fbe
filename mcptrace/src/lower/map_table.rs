//! The program's user maps: one id and one shape (aggregation and key parts)
//! per name, however many probes use it and in whatever order they read and
//! write it.

use std::collections::BTreeMap;

use super::{NotNative, Unsupported};
use crate::{
    ir::{KeyKind, MapAgg, MapInfo},
    lang::{ast::Span, stack::DEFAULT_LIMIT},
};

#[derive(Clone, Default)]
pub struct MapTable {
    ids: BTreeMap<String, u16>,
    /// The shape the first write gave each map.
    shapes: BTreeMap<String, (MapAgg, Vec<KeyKind>)>,
    /// Reads to check against the shapes once every probe is lowered.
    reads: Vec<(String, Vec<KeyKind>, Span)>,
    /// Other uses (delete with its key; print, clear, zero with none), which
    /// need the map to exist and, with a key, the same key parts.
    touches: Vec<(String, Option<Vec<KeyKind>>, Span)>,
    /// Maps user space updates on the events, with the first such update;
    /// and maps a kernel probe updates or reads, with the first such use. A
    /// map cannot be both: the kernel's copy and user space's would part.
    in_user_space: BTreeMap<String, Span>,
    in_kernel: BTreeMap<String, Span>,
}

impl MapTable {
    fn id(&mut self, name: &str) -> u16 {
        let next = self.ids.len() as u16;
        *self.ids.entry(name.to_string()).or_insert(next)
    }

    /// Map `name` written as `agg` under keys `key`; every write must agree.
    pub fn write(
        &mut self,
        name: &str,
        agg: MapAgg,
        key: Vec<KeyKind>,
        span: Span,
    ) -> Result<u16, Unsupported> {
        // Stacks cut to their first frames share one key in bpftrace, whose
        // stack map keeps only those frames: aggregations merge such keys
        // when they print, plain values have nothing to merge by.
        let cut_stack = key.iter().any(|k| match k {
            KeyKind::KStack { depth, .. } | KeyKind::UStack { depth, .. } => *depth < DEFAULT_LIMIT,
            _ => false,
        });
        if cut_stack && matches!(agg, MapAgg::Value { .. }) {
            return Err(Unsupported::new(
                span,
                NotNative::Map,
                format!(
                    "map {name} holds values under a stack key with a frame limit: not native yet"
                ),
            ));
        }
        let id = self.id(name);
        let shape =
            self.shapes.entry(name.to_string()).or_insert_with(|| (agg.clone(), key.clone()));
        let same_agg = match (&shape.0, &agg) {
            (MapAgg::Value { signed: a }, MapAgg::Value { signed: b })
            | (MapAgg::Sum { signed: a }, MapAgg::Sum { signed: b }) => {
                // The wider kind wins: one signed write makes the map signed.
                let signed = *a || *b;
                shape.0 = if matches!(agg, MapAgg::Sum { .. }) {
                    MapAgg::Sum { signed }
                } else {
                    MapAgg::Value { signed }
                };
                true
            }
            (a, b) => a == b,
        };
        if !same_agg || !same_keys(&shape.1, &key) {
            return Err(Unsupported::new(
                span,
                NotNative::Map,
                format!("map {name} is used with different keys or values"),
            ));
        }
        Ok(id)
    }

    /// Map `name` read under keys `key` (keyed state); returns its id and
    /// whether its values are signed, as far as known yet.
    pub fn read(&mut self, name: &str, key: Vec<KeyKind>, span: Span) -> (u16, bool) {
        let signed = matches!(self.shapes.get(name), Some((MapAgg::Value { signed: true }, _)));
        self.reads.push((name.to_string(), key, span));
        (self.id(name), signed)
    }

    /// Map `name` used by delete (with `key`) or whole (print, clear, zero).
    pub fn touch(&mut self, name: &str, key: Option<Vec<KeyKind>>, span: Span) -> u16 {
        self.touches.push((name.to_string(), key, span));
        self.id(name)
    }

    /// Whether map `name` aggregates (count, sum, hist...) rather than holds
    /// plain values; None when no probe writes it.
    pub fn is_aggregate(&self, name: &str) -> Option<bool> {
        self.shapes.get(name).map(|(agg, _)| !matches!(agg, MapAgg::Value { .. } | MapAgg::Text))
    }

    /// Whether map `name` holds strings (as far as the writes lowered so
    /// far say): user space keeps it.
    pub fn is_text(&self, name: &str) -> bool {
        matches!(self.shapes.get(name), Some((MapAgg::Text, _)))
    }

    /// Map `name` is updated by user space on an event, at `span`.
    pub fn update_in_user_space(&mut self, name: &str, span: Span) {
        self.in_user_space.entry(name.to_string()).or_insert(span);
    }

    /// Map `name` is updated or read by a kernel probe, at `span`.
    pub fn use_in_kernel(&mut self, name: &str, span: Span) {
        self.in_kernel.entry(name.to_string()).or_insert(span);
    }

    /// Whether user space keeps map `name` (as far as known yet).
    pub fn is_in_user_space(&self, name: &str) -> bool {
        self.is_text(name) || self.in_user_space.contains_key(name)
    }

    /// The shape (aggregation, key parts) of map `name`, if written yet.
    pub fn shape_of(&self, name: &str) -> Option<&(MapAgg, Vec<KeyKind>)> {
        self.shapes.get(name)
    }

    /// The aggregation map `name` was written as, if written yet.
    pub fn agg_of(&self, name: &str) -> Option<MapAgg> {
        self.shapes.get(name).map(|(agg, _)| agg.clone())
    }

    /// Every map with its shape, after checking that reads match writes.
    pub fn finish(self) -> Result<Vec<MapInfo>, Unsupported> {
        for (name, key, span) in &self.reads {
            match self.shapes.get(name) {
                None => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!("map {name} is read but never written"),
                    ));
                }
                Some((MapAgg::Value { .. }, k)) if same_keys(k, key) => {}
                Some((MapAgg::Value { .. }, _)) => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!("map {name} is read with other keys than it is written with"),
                    ));
                }
                Some((MapAgg::Text, _)) => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!(
                            "map {name} holds strings (kept in user space) but is read in the kernel: \
                             not native yet"
                        ),
                    ));
                }
                Some(_) => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!("reading aggregation map {name} as a value is not native yet"),
                    ));
                }
            }
        }
        for (name, key, span) in &self.touches {
            match (self.shapes.get(name), key) {
                (None, _) => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!("map {name} is never written"),
                    ));
                }
                (Some((MapAgg::Hist | MapAgg::Lhist { .. }, _)), Some(_)) => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!("delete() from histogram {name} is not native yet"),
                    ));
                }
                (Some((_, k)), Some(key)) if !same_keys(k, key) => {
                    return Err(Unsupported::new(
                        *span,
                        NotNative::Map,
                        format!("map {name} is used with different keys"),
                    ));
                }
                _ => {}
            }
        }
        for (name, user) in &self.in_user_space {
            if let Some(kernel) = self.in_kernel.get(name) {
                return Err(Unsupported::new(
                    *kernel,
                    NotNative::Map,
                    format!(
                        "map {name} is used in the kernel here, but updated in user space at \
                         {user} (under a condition evaluated there, in a loop or after a \
                         `return`): not native yet"
                    ),
                ));
            }
        }
        Ok(self
            .shapes
            .into_iter()
            .map(|(name, (agg, key))| MapInfo {
                id: self.ids[&name],
                in_user_space: agg == MapAgg::Text || self.in_user_space.contains_key(&name),
                name,
                agg,
                key,
            })
            .collect())
    }
}

/// Keys match when their parts are stored alike; an integer's signedness
/// only changes how the writer's keys print.
fn same_keys(a: &[KeyKind], b: &[KeyKind]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (KeyKind::Int { .. }, KeyKind::Int { .. }) => true,
            _ => x == y,
        })
}
