//! Whether this kernel can run the native engine at all, found by asking it
//! once: the generic slot programs step their captures, expressions and map
//! updates with the `bpf_loop` helper (Linux 5.17+, or a backport) and send
//! events through a BPF ring buffer (5.8+). Version numbers lie about
//! backports (RHEL's 5.14); the kernel's own answer does not.

use std::{io, sync::OnceLock};

use super::{bpf_syscall, features::Support};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_FUNC_LOOP: i32 = 181;

/// The native engine's kernel requirements, tried once per process.
pub fn support() -> Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT
        .get_or_init(|| match (has_bpf_loop(), has_ring_buffer()) {
            (Ok(true), Ok(())) => Support::Yes,
            (Ok(false), _) => Support::No(
                "this kernel has no bpf_loop helper (Linux 5.17+), with which the native \
             engine's programs step through their work"
                    .into(),
            ),
            (_, Err(e)) if e.raw_os_error() == Some(libc::EINVAL) => Support::No(
                "this kernel has no BPF ring buffer (Linux 5.8+), through which the native \
             engine sends events"
                    .into(),
            ),
            // Without the privilege to ask, the answer is unknown; planning
            // goes on as if native, and running says which privilege is missing.
            (Err(e), _) | (_, Err(e))
                if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) =>
            {
                Support::Yes
            }
            (Err(e), _) | (_, Err(e)) => Support::No(format!(
                "the kernel could not be asked about bpf_loop and ring buffers: {e}"
            )),
        })
        .clone()
}

/// `union bpf_attr` for BPF_MAP_CREATE, up to `max_entries`.
#[repr(C)]
#[derive(Default)]
struct MapCreate {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
}

fn has_ring_buffer() -> io::Result<()> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    let mut attr =
        MapCreate { map_type: BPF_MAP_TYPE_RINGBUF, max_entries: page, ..Default::default() };
    // SAFETY: BPF_MAP_CREATE's bpf_attr, with no pointers; the map closes
    // when the returned descriptor drops.
    unsafe { bpf_syscall::call_for_fd(BPF_MAP_CREATE, &mut attr) }.map(drop)
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to `log_buf`.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
}

/// Loads `call bpf_loop; exit` with the verifier's log on: a kernel without
/// the helper says "unknown func" (older ones "invalid func"); one with it
/// refuses the missing callback instead, or loads.
fn has_bpf_loop() -> io::Result<bool> {
    // BPF_JMP|BPF_CALL with imm = helper id; then BPF_JMP|BPF_EXIT.
    let call = 0x85u64 | (u64::from(BPF_FUNC_LOOP as u32) << 32);
    let insns: [u64; 2] = [call, 0x95];
    let license = c"GPL";
    let mut log = vec![0u8; 4096];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_RAW_TRACEPOINT,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
    };
    // SAFETY: BPF_PROG_LOAD's bpf_attr; `insns`, `license` and `log` outlive
    // the call, and `log_size` is the log's length.
    match unsafe { bpf_syscall::call_for_fd(BPF_PROG_LOAD, &mut attr) } {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => Err(e),
        Err(_) => {
            let text = String::from_utf8_lossy(&log);
            Ok(!(text.contains("unknown func") || text.contains("invalid func")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel the project tests on (5.17+) has both: the probe must
    /// say so rather than misread the verifier.
    #[test]
    fn this_kernel_runs_the_native_engine() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "this test loads a BPF program: run it as root");
        assert_eq!(support(), Support::Yes);
    }
}
