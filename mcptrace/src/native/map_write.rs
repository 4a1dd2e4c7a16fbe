//! Writes user maps from user space (BEGIN and END): keys built word for
//! word as the kernel builds them, in the tier the kernel would pick, so
//! the probes find what BEGIN stored and END finds what they stored.

use mcptrace_common::{MapKey, limits::KEY_WORDS};

use super::{NativeError, keyed_maps::KeyedMaps};
use crate::{
    ir::{KeyKind, MapInfo},
    output::Value,
};

/// Key `parts` of map `info` as the kernel stores it, with the words its
/// data takes; None for parts user space does not build (lowering lets it
/// build integers and strings) or that do not fit.
pub fn encode_key(info: &MapInfo, parts: &[Value]) -> Option<(MapKey, usize)> {
    if parts.len() != info.key.len() {
        return None;
    }
    let mut key = MapKey { map: info.id, ..Default::default() };
    let mut at = 0;
    for (kind, part) in info.key.iter().zip(parts) {
        let words = key.words.get_mut(at..at + kind.words())?;
        match (kind, part) {
            (KeyKind::Int { .. }, Value::Int { bits, .. }) => words[0] = *bits,
            // NUL-padded, and cut to leave a NUL, as the kernel's string
            // buffers are.
            (KeyKind::Str { .. }, Value::Str(bytes)) => {
                let mut padded = vec![0; words.len() * 8];
                let n = bytes.len().min(padded.len() - 1);
                padded[..n].copy_from_slice(&bytes[..n]);
                for (w, chunk) in words.iter_mut().zip(padded.chunks_exact(8)) {
                    *w = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
                }
            }
            _ => return None,
        }
        at += kind.words();
    }
    debug_assert!(at <= KEY_WORDS);
    Some((key, at))
}

/// Key `parts` of map `info` as the kernel would store them, for maps that
/// user space keeps: integers in the map's signedness (one element, however
/// each write typed its key), strings cut to what a key holds.
pub fn normalize_key(info: &MapInfo, parts: &[Value]) -> Vec<Value> {
    let part = |(kind, part): (&KeyKind, &Value)| match (kind, part) {
        (KeyKind::Int { signed }, Value::Int { bits, .. }) => {
            Value::Int { bits: *bits, signed: *signed }
        }
        (KeyKind::Str { words }, Value::Str(bytes)) => {
            Value::Str(bytes[..bytes.len().min(usize::from(*words) * 8 - 1)].to_vec())
        }
        _ => part.clone(),
    };
    info.key.iter().zip(parts).map(part).collect()
}

/// `@m[key] = value`, or with `add`, `@m[key] += value`, on keyed state.
pub fn store(
    keyed: &mut KeyedMaps,
    info: &MapInfo,
    key: &[Value],
    value: &Value,
    add: bool,
) -> Result<(), NativeError> {
    let (Some((key, words)), Value::Int { bits, .. }) = (encode_key(info, key), value) else {
        return Ok(());
    };
    let old = if add { keyed.state_at(&key, words)?.unwrap_or(0) } else { 0 };
    keyed.set_state(&key, words, old.wrapping_add(*bits))
}

/// `delete(@m[key])`; a key that is not there is no error, as in bpftrace.
pub fn delete(keyed: &mut KeyedMaps, info: &MapInfo, key: &[Value]) -> Result<(), NativeError> {
    match encode_key(info, key) {
        Some((key, words)) => keyed.remove(&key, words),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::MapAgg;

    #[test]
    fn keys_pack_parts_in_order_and_pad_strings() {
        let info = MapInfo {
            id: 3,
            name: "@m".into(),
            agg: MapAgg::Value { signed: true },
            key: vec![KeyKind::Int { signed: true }, KeyKind::Str { words: 2 }],
            in_user_space: false,
        };
        let parts = [Value::int(-1), Value::Str(b"0123456789abcdefXYZ".to_vec())];
        let (key, words) = encode_key(&info, &parts).unwrap();
        assert_eq!((key.map, key.bucket, words), (3, 0, 3));
        assert_eq!(key.words[0], u64::MAX);
        let text: Vec<u8> = key.words[1..3].iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(&text, b"0123456789abcde\0", "cut to leave the NUL");
        assert!(key.words[3..].iter().all(|w| *w == 0));
        assert_eq!(encode_key(&info, &parts[..1]), None, "a part missing");
        let swapped = [parts[1].clone(), parts[0].clone()];
        assert_eq!(encode_key(&info, &swapped), None, "parts of the wrong kind");
    }
}
