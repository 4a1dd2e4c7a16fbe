//! One loaded copy of the eBPF object: its maps, the slot programs attached so
//! far, and the ring buffer they write to. Dropping it detaches everything.

use std::{
    os::fd::{AsRawFd, BorrowedFd},
    time::Duration,
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, PerCpuArray, RingBuf},
    programs::TracePoint,
};
use mcptrace_common::{Event, SlotConfig, limits::SLOTS_PER_KIND};

use super::{NativeError, object::OBJECT};

pub struct Session {
    ebpf: Ebpf,
    slots: Array<MapData, SlotConfig>,
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
}

impl Session {
    /// Loads the object's maps; programs are loaded into the kernel only when
    /// a slot is attached, so unused copies cost nothing.
    pub fn load() -> Result<Self, NativeError> {
        // The object has no CO-RE relocations: skip parsing kernel BTF.
        let mut ebpf = EbpfLoader::new().btf(None).load(OBJECT).map_err(NativeError::Load)?;
        let slots = take_map(&mut ebpf, "SLOTS")?;
        let ring = take_map(&mut ebpf, "EVENTS")?;
        let lost = take_map(&mut ebpf, "LOST")?;
        Ok(Self { ebpf, slots, ring, lost })
    }

    /// Configures tracepoint slot `slot` and attaches it to `category:name`.
    pub fn attach_tracepoint(
        &mut self,
        slot: u32,
        category: &str,
        name: &str,
        config: &SlotConfig,
    ) -> Result<(), NativeError> {
        if slot >= SLOTS_PER_KIND {
            return Err(NativeError::NoSlot { slot, max: SLOTS_PER_KIND });
        }
        self.slots
            .set(slot, config, 0)
            .map_err(|source| NativeError::Map { what: "writing slot configuration", source })?;
        let name_in_object = format!("tp_{slot}");
        let program: &mut TracePoint = self
            .ebpf
            .program_mut(&name_in_object)
            .and_then(|p| p.try_into().ok())
            .ok_or(NativeError::MissingProgram { program: name_in_object.clone() })?;
        let what = || format!("attaching tracepoint:{category}:{name}");
        program.load().map_err(|source| NativeError::Program { what: what(), source })?;
        program
            .attach(category, name)
            .map_err(|source| NativeError::Program { what: what(), source })?;
        Ok(())
    }

    /// Waits until events are ready, `wake` becomes readable, or `timeout`
    /// passes. Returns whether `wake` fired.
    pub fn wait(
        &self,
        wake: Option<BorrowedFd<'_>>,
        timeout: Option<Duration>,
    ) -> Result<bool, NativeError> {
        let mut fds = [
            libc::pollfd { fd: self.ring.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd {
                fd: wake.map_or(-1, |w| w.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: `fds` is a valid array of two pollfd; a negative fd is ignored.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(NativeError::Poll(err));
        }
        Ok(fds[1].revents != 0)
    }

    /// Hands every event in the ring buffer to `f`; returns how many.
    pub fn drain(&mut self, mut f: impl FnMut(&Event)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if item.len() >= size_of::<Event>() {
                // SAFETY: the record is at least an Event; read unaligned
                // because ring-buffer records are only 8-byte aligned.
                let event = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<Event>()) };
                f(&event);
                n += 1;
            }
        }
        n
    }

    /// Events dropped because the ring buffer was full, over all CPUs.
    pub fn lost_events(&self) -> u64 {
        self.lost.get(&0, 0).map(|per_cpu| per_cpu.iter().sum()).unwrap_or(0)
    }
}

fn take_map<M>(ebpf: &mut Ebpf, name: &'static str) -> Result<M, NativeError>
where
    M: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(NativeError::MissingMap(name))?;
    M::try_from(map).map_err(|source| NativeError::Map { what: name, source })
}
