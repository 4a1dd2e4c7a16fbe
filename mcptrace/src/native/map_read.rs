//! Reads a user map out of the kernel maps and shapes it for printing:
//! per-CPU aggregates merged, histogram buckets gathered per key, key words
//! decoded by the key's parts.

use std::collections::BTreeMap;

use mcptrace_common::{Agg, MapKey};

use super::{NativeError, Session, eval::cstr};
use crate::host::{
    cgroups,
    symbolize::{self, StackFrame, StackLayout, UserSymbols, format_stack},
    syscalls, users,
};
use crate::ir::{KeyKind, MapAgg, MapInfo};
use crate::output::{MapDump, MapKind, MapValue, Value};

/// One key's aggregates to merge, per histogram bucket (stored as bucket + 1;
/// 0 for the other aggregations).
type Buckets = BTreeMap<u32, Vec<Agg>>;

/// The map `info` as it stands in the kernel now.
pub fn dump(
    session: &Session,
    symbols: &UserSymbols,
    info: &MapInfo,
) -> Result<MapDump, NativeError> {
    let decode_key = |key: &MapKey| decode_key(session, symbols, info, key);
    let kind = kind_of(&info.agg);
    let mut entries: Vec<(Vec<Value>, MapValue)> = Vec::new();
    if let MapAgg::Value { signed } = info.agg {
        for (key, bits) in session.keyed().state()? {
            if key.map == info.id {
                entries.push((decode_key(&key), MapValue::Scalar(Value::Int { bits, signed })));
            }
        }
    } else {
        // Gather buckets under their key, merging CPUs and the keys whose
        // stacks are alike in the frames they print.
        let mut by_key: BTreeMap<Vec<u64>, (MapKey, Buckets)> = BTreeMap::new();
        for (key, per_cpu) in session.keyed().aggregates()? {
            if key.map == info.id {
                let (_, buckets) = by_key
                    .entry(identity(&info.key, &key.words, &|id| {
                        session.stack(u32::try_from(id).ok()?)
                    }))
                    .or_insert_with(|| (key, Buckets::new()));
                buckets.entry(key.bucket).or_default().extend(per_cpu);
            }
        }
        for (key, buckets) in by_key.into_values() {
            let aggs: Vec<(u32, Agg)> = buckets.iter().map(|(b, a)| (*b, merge(a))).collect();
            entries.push((decode_key(&key), value(&info.agg, &aggs)));
        }
    }
    // A key-less count() map always exists in bpftrace and prints `@c: 0`.
    if entries.is_empty() && info.key.is_empty() && info.agg == MapAgg::Count {
        entries.push((Vec::new(), MapValue::Scalar(Value::uint(0))));
    }
    Ok(MapDump { name: info.name.clone(), kind, entries })
}

/// How a map aggregating by `agg` prints.
pub fn kind_of(agg: &MapAgg) -> MapKind {
    match *agg {
        MapAgg::Avg => MapKind::Avg,
        MapAgg::Stats => MapKind::Stats,
        MapAgg::Hist => MapKind::Hist,
        MapAgg::Lhist { min, max, step } => MapKind::Lhist { min, max, step },
        _ => MapKind::Scalar,
    }
}

/// What tells key `words` (stored in `parts`) from the map's other keys:
/// the words, with each stack id replaced by the frames the key prints
/// (`frames` looks a stack up). bpftrace's `kstack(N)` keeps N frames in its
/// stack map, so stacks that differ only below them share one id, and one
/// key; here stacks are taken whole.
fn identity(
    parts: &[KeyKind],
    words: &[u64],
    frames: &dyn Fn(u64) -> Option<Vec<u64>>,
) -> Vec<u64> {
    let mut out = Vec::with_capacity(words.len());
    let mut at = 0;
    for part in parts {
        let part_words = &words[at.min(words.len())..(at + part.words()).min(words.len())];
        at += part.words();
        let (KeyKind::KStack { depth, .. } | KeyKind::UStack { depth, .. }) = part else {
            out.extend(part_words);
            continue;
        };
        let Some((&id, rest)) = part_words.split_first() else { continue };
        match frames(id) {
            Some(ips) => {
                let shown = &ips[..ips.len().min(*depth)];
                out.push(shown.len() as u64);
                out.extend(shown);
            }
            // No frames (an error code): the id alone, after a length no stack has.
            None => out.extend([u64::MAX, id]),
        }
        // A user stack's pid.
        out.extend(rest);
    }
    out
}

/// Aggregates of one key (per CPU, or of keys merged) as one.
fn merge(per_cpu: &[Agg]) -> Agg {
    let seen = per_cpu.iter().filter(|a| a.count > 0);
    let mut total = Agg { count: 0, sum: 0, min: i64::MAX, max: i64::MIN };
    for a in seen {
        total.count += a.count;
        total.sum = total.sum.wrapping_add(a.sum);
        total.min = total.min.min(a.min);
        total.max = total.max.max(a.max);
    }
    if total.count == 0 {
        // Zeroed (`zero()`) on every CPU.
        (total.min, total.max) = (0, 0);
    }
    total
}

/// One key's value from its merged aggregates (several for histograms:
/// one per bucket, stored with bucket + 1).
pub fn value(agg: &MapAgg, aggs: &[(u32, Agg)]) -> MapValue {
    let a = aggs.first().map_or(Agg::default(), |(_, a)| *a);
    match *agg {
        MapAgg::Count => MapValue::Scalar(Value::uint(a.count)),
        MapAgg::Sum { signed } => MapValue::Scalar(Value::Int { bits: a.sum, signed }),
        MapAgg::Min => MapValue::Scalar(Value::int(a.min)),
        MapAgg::Max => MapValue::Scalar(Value::int(a.max)),
        MapAgg::Avg | MapAgg::Stats => MapValue::Average { count: a.count, total: a.sum as i64 },
        MapAgg::Hist | MapAgg::Lhist { .. } => MapValue::Buckets(
            aggs.iter().filter(|(b, _)| *b > 0).map(|(b, a)| (b - 1, a.count)).collect(),
        ),
        MapAgg::Value { signed } => MapValue::Scalar(Value::Int { bits: a.sum, signed }),
        // Kept in user space as values, never folded.
        MapAgg::Text => MapValue::Scalar(Value::Str(Vec::new())),
    }
}

fn decode_key(
    session: &Session,
    symbols: &UserSymbols,
    info: &MapInfo,
    key: &MapKey,
) -> Vec<Value> {
    let mut at = 0;
    info.key
        .iter()
        .map(|part| {
            let words = &key.words[at..(at + part.words()).min(key.words.len())];
            at += part.words();
            let first = words.first().copied().unwrap_or(0);
            // The pid that follows a user address.
            let second = || words.get(1).copied().unwrap_or(0) as u32;
            match part {
                KeyKind::Int { .. } => Value::int(first as i64),
                KeyKind::Str { .. } => {
                    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
                    Value::Str(cstr(&bytes))
                }
                KeyKind::Probe { names } | KeyKind::Func { names } => {
                    Value::Str(names.get(first as usize).cloned().unwrap_or_default().into_bytes())
                }
                KeyKind::FunctionProbe => {
                    Value::Str(format!("kprobe:{}", symbolize::kernel_name(first)).into_bytes())
                }
                KeyKind::SyscallProbe { prefix } => {
                    let name = syscalls::tracepoint_name(first);
                    Value::Str(format!("{prefix}{name}").into_bytes())
                }
                KeyKind::KStack { depth, mode } => {
                    let frames = stack_frames(session, symbols, first, None, *depth);
                    let layout = StackLayout::of(*mode, KEY_INDENT);
                    Value::Str(format_stack(frames.as_deref(), layout).into_bytes())
                }
                KeyKind::UStack { depth, mode } => {
                    let frames = stack_frames(session, symbols, first, Some(second()), *depth);
                    let layout = StackLayout::of(*mode, KEY_INDENT);
                    Value::Str(format_stack(frames.as_deref(), layout).into_bytes())
                }
                KeyKind::Symbol { user } => {
                    let pid = user.then(second);
                    Value::Str(symbol(symbols, first, pid).into_bytes())
                }
                KeyKind::User => Value::Str(users::name(first).into_bytes()),
                KeyKind::CgroupPath { filter } => {
                    Value::Str(cgroups::path(first, filter).unwrap_or_default())
                }
            }
        })
        .collect()
}

/// The frames of stack `id`, innermost first, at most `depth`, resolved in
/// the kernel or (with `pid`) in that process; None when the kernel could
/// not take the stack (its id is an error code).
/// Spaces before each frame of a stack in a map key, in bpftrace's mode.
const KEY_INDENT: usize = 4;

pub fn stack_frames(
    session: &Session,
    symbols: &UserSymbols,
    id: u64,
    pid: Option<u32>,
    depth: usize,
) -> Option<Vec<StackFrame>> {
    let ips = session.stack(u32::try_from(id).ok()?)?;
    let frames = ips.into_iter().take(depth).map(|ip| match pid {
        Some(pid) => symbols.frame(pid, ip),
        None => symbolize::kernel_frame(ip),
    });
    Some(frames.collect())
}

/// The symbol holding `address`: in process `pid`'s mappings, or the kernel's.
pub fn symbol(symbols: &UserSymbols, address: u64, pid: Option<u32>) -> String {
    match pid {
        Some(pid) => symbols.name(pid, address),
        None => symbolize::kernel_name(address),
    }
}

#[cfg(test)]
mod tests {
    use super::identity;
    use crate::ir::KeyKind;
    use crate::lang::stack::StackMode;

    /// Stacks 1 and 2 share their first two frames; 3 is an error code.
    fn frames(id: u64) -> Option<Vec<u64>> {
        match id {
            1 => Some(vec![10, 20, 30]),
            2 => Some(vec![10, 20, 40]),
            _ => None,
        }
    }

    #[test]
    fn stacks_cut_to_shared_frames_are_one_key() {
        let mode = StackMode::Bpftrace;
        let key = |depth| [KeyKind::Int { signed: false }, KeyKind::KStack { depth, mode }];
        let of = |depth, id| identity(&key(depth), &[7, id], &frames);
        assert_eq!(of(2, 1), of(2, 2));
        assert_ne!(of(3, 1), of(3, 2));
        assert_ne!(of(2, 1), of(2, 3), "an error code is no stack");
        assert_ne!(identity(&key(2), &[8, 1], &frames), of(2, 1), "other words still count");
        // A user stack keeps its pid apart.
        let user = [KeyKind::UStack { depth: 1, mode }];
        assert_eq!(identity(&user, &[1, 99], &frames), identity(&user, &[2, 99], &frames));
        assert_ne!(identity(&user, &[1, 99], &frames), identity(&user, &[1, 98], &frames));
    }
}
