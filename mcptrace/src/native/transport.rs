//! How events travel from the kernel: one ring buffer shared by all CPUs
//! (kernel 5.8+, ordered across CPUs), or per-CPU perf buffers, the fallback
//! for older kernels, selectable so it stays tested.

use std::{
    ops::ControlFlow,
    os::fd::{AsRawFd, RawFd},
};

use aya::{
    Ebpf,
    maps::{MapData, PerfEventArray, RingBuf, perf::PerfEvent},
};
use mcptrace_common::{Event, limits::JOIN_STR_LEN};

use super::NativeError;

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    RingBuffer,
    PerfBuffer,
}

impl Transport {
    /// The value of the object's `TRANSPORT` global.
    pub(super) fn global(self) -> u32 {
        match self {
            Transport::RingBuffer => 0,
            Transport::PerfBuffer => 1,
        }
    }
}

/// Pages per CPU for perf buffers: 256 KiB each.
const PERF_PAGES: usize = 64;

pub(super) enum Events {
    Ring(RingBuf<MapData>),
    /// Losses are counted by the programs (`LOST`): the buffers' own loss
    /// records come only before a later sample, never after the last.
    Perf(Vec<aya::maps::perf::PerfEventArrayBuffer<MapData>>),
}

impl Events {
    pub(super) fn open(ebpf: &mut Ebpf, transport: Transport) -> Result<Self, NativeError> {
        let map = |name: &'static str, ebpf: &mut Ebpf| {
            ebpf.take_map(name).ok_or(NativeError::MissingMap(name))
        };
        Ok(match transport {
            Transport::RingBuffer => Events::Ring(
                RingBuf::try_from(map("EVENTS", ebpf)?)
                    .map_err(|source| NativeError::Map { what: "EVENTS", source })?,
            ),
            Transport::PerfBuffer => {
                let mut array = PerfEventArray::try_from(map("PERF_EVENTS", ebpf)?)
                    .map_err(|source| NativeError::Map { what: "PERF_EVENTS", source })?;
                let cpus = aya::util::online_cpus().map_err(|(_, e)| NativeError::Cpus(e))?;
                let buffers = cpus
                    .into_iter()
                    .map(|cpu| array.open(cpu, Some(PERF_PAGES)))
                    .collect::<Result<_, _>>()
                    .map_err(NativeError::PerfBuffer)?;
                Events::Perf(buffers)
            }
        })
    }

    pub(super) fn fds(&self) -> Vec<RawFd> {
        match self {
            Events::Ring(ring) => vec![ring.as_raw_fd()],
            Events::Perf(buffers) => buffers.iter().map(AsRawFd::as_raw_fd).collect(),
        }
    }

    /// Hands events to `f` until it returns false or none are left.
    pub(super) fn drain(&mut self, f: &mut dyn FnMut(Received) -> bool) -> usize {
        let mut n = 0;
        match self {
            Events::Ring(ring) => {
                while let Some(item) = ring.next() {
                    let Some(event) = decode(&item, &[]) else {
                        continue;
                    };
                    drop(item);
                    n += 1;
                    if !f(event) {
                        break;
                    }
                }
            }
            Events::Perf(buffers) => {
                for buffer in buffers {
                    // Stops right after the sample `f` refuses more at: the
                    // buffer gives up only what was read, the rest stays.
                    let flow = buffer.try_fold((), |(), e| {
                        if let PerfEvent::Sample { head, tail } = e
                            && let Some(event) = decode(head, tail)
                        {
                            n += 1;
                            if !f(event) {
                                return ControlFlow::Break(());
                            }
                        }
                        ControlFlow::Continue(())
                    });
                    if flow.is_break() {
                        break;
                    }
                }
            }
        }
        n
    }
}

/// One event as user space keeps it: the record and, from a slot that
/// joins, the strings join() read (up to the first empty one).
#[derive(Clone, Debug)]
pub struct Received {
    pub event: Event,
    pub joined: Vec<Vec<u8>>,
}

/// An event from a record that may wrap around the buffer's end.
fn decode(head: &[u8], tail: &[u8]) -> Option<Received> {
    // Events arrive cut after their last field in use; the rest reads as 0.
    let size = (head.len() + tail.len()).min(Event::JOINED_LEN as usize);
    if size < Event::len_for(0, 0) as usize {
        return None;
    }
    let whole: Vec<u8>;
    let record = if head.len() >= size {
        &head[..size]
    } else {
        whole = [head, &tail[..size - head.len()]].concat();
        &whole
    };
    let mut bytes = [0u8; size_of::<Event>()];
    let fixed = size.min(size_of::<Event>());
    bytes[..fixed].copy_from_slice(&record[..fixed]);
    // SAFETY: `bytes` holds a whole Event, which is plain old data.
    let event = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<Event>()) };
    let joined = record[fixed..]
        .chunks(JOIN_STR_LEN)
        .map(super::eval::cstr)
        .take_while(|s| !s.is_empty())
        .collect();
    Some(Received { event, joined })
}

#[cfg(test)]
mod tests {
    use mcptrace_common::limits::{MAX_VALUES, STR_LEN};

    use super::*;

    #[test]
    fn events_cut_short_read_as_zero_past_their_end() {
        // Slot 3, two values; the perf path may split a record in two.
        let mut record = Vec::new();
        for word in [3u64, 7, 9] {
            record.extend_from_slice(&word.to_ne_bytes());
        }
        assert_eq!(record.len(), Event::len_for(2, 0) as usize);
        for split in [record.len(), 5, 12] {
            let event = decode(&record[..split], &record[split..]).expect("a whole record").event;
            assert_eq!((event.slot, event.values[0], event.values[1]), (3, 7, 9));
            assert!(event.values[2..].iter().all(|v| *v == 0));
            assert!(event.strings.iter().flatten().all(|b| *b == 0));
        }
        assert!(decode(&record[..4], &[]).is_none(), "shorter than a header");
        assert_eq!(Event::len_for(1, 1) as usize, 8 + 8 * MAX_VALUES + STR_LEN);
    }
}
