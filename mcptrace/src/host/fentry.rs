//! Whether this kernel runs BPF tracing programs (fentry/fexit), found by
//! trying: load a two-instruction fentry program against a kernel function
//! from BTF and attach it for an instant. Config files and version numbers
//! lie (a kernel may have BTF but no ftrace direct calls, or refuse tracing
//! programs by policy); the kernel's own answer does not.

use std::{
    io,
    os::fd::{AsRawFd, OwnedFd},
    sync::OnceLock,
};

use aya::{Btf, BtfError};
use aya_obj::btf::BtfKind;

use super::{bpf_syscall, features::Support};

/// Functions tried as the trial program's target, the first present wins:
/// `bpf_fentry_test1` exists for exactly this; the others are always built.
const TARGETS: [&str; 3] = ["bpf_fentry_test1", "do_sys_openat2", "__x64_sys_getpid"];

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_FENTRY: u32 = 24;

#[derive(Debug, thiserror::Error)]
enum Trial {
    #[error("the kernel's BTF could not be read: {0}")]
    Btf(#[from] BtfError),
    #[error("none of {TARGETS:?} is a function in the kernel's BTF")]
    NoTarget,
    #[error(
        "the kernel refused to load a BPF tracing program (fentry on {target}): {source}{}",
        if source.raw_os_error() == Some(libc::EPERM) { ", even to root" } else { "" }
    )]
    Load { target: &'static str, source: io::Error },
    #[error("the kernel refused to attach a BPF tracing program (fentry on {target}): {source}")]
    Attach { target: &'static str, source: io::Error },
}

/// fentry/fexit support, tried once per process.
pub fn support() -> Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT
        .get_or_init(|| match trial() {
            Ok(()) => Support::Yes,
            Err(e) => Support::No(e.to_string()),
        })
        .clone()
}

fn trial() -> Result<(), Trial> {
    let btf = Btf::from_sys_fs()?;
    let (target, btf_id) = TARGETS
        .iter()
        .find_map(|t| btf.id_by_type_name_kind(t, BtfKind::Func).ok().map(|id| (*t, id)))
        .ok_or(Trial::NoTarget)?;
    let prog = load(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, btf_id)
        .map_err(|source| Trial::Load { target, source })?;
    // The link detaches when its descriptor closes, at the end of this scope.
    let _link = attach(&prog).map_err(|source| Trial::Attach { target, source })?;
    Ok(())
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to `attach_btf_id`.
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
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
}

const _: () = assert!(std::mem::offset_of!(ProgLoad, attach_btf_id) == 108);

/// `union bpf_attr` for BPF_RAW_TRACEPOINT_OPEN.
#[repr(C)]
#[derive(Default)]
struct RawTracepointOpen {
    name: u64,
    prog_fd: u32,
    _pad: u32,
}

/// `r0 = 0; exit`, as a program of `prog_type` (for fentry: attached to BTF
/// function `btf_id`).
fn load(prog_type: u32, attach_type: u32, btf_id: u32) -> io::Result<OwnedFd> {
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = c"GPL";
    let mut attr = ProgLoad {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        expected_attach_type: attach_type,
        attach_btf_id: btf_id,
        ..ProgLoad::default()
    };
    // SAFETY: BPF_PROG_LOAD's bpf_attr; `insns` and `license` outlive the call.
    unsafe { bpf_syscall::call_for_fd(BPF_PROG_LOAD, &mut attr) }
}

/// Attaches a tracing program (BPF_RAW_TRACEPOINT_OPEN with no name).
fn attach(prog: &OwnedFd) -> io::Result<OwnedFd> {
    let mut attr = RawTracepointOpen { prog_fd: prog.as_raw_fd() as u32, ..Default::default() };
    // SAFETY: BPF_RAW_TRACEPOINT_OPEN's bpf_attr, with no pointers set.
    unsafe { bpf_syscall::call_for_fd(BPF_RAW_TRACEPOINT_OPEN, &mut attr) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

    /// The loader itself works, so a refusal is the kernel's answer about
    /// tracing programs and not a malformed request.
    #[test]
    fn the_trial_loader_loads_what_the_kernel_allows() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "this test loads a BPF program: run it as root");
        let prog =
            load(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0).expect("a raw tracepoint program loads");
        assert!(prog.as_raw_fd() >= 0);
    }
}
