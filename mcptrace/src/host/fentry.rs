//! Whether this kernel runs BPF tracing programs (fentry/fexit), found by
//! trying: load a two-instruction fentry program against a kernel function
//! from BTF and attach it for an instant. Config files and version numbers
//! lie (a kernel may have BTF but no ftrace direct calls, or refuse tracing
//! programs by policy); the kernel's own answer does not.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::OnceLock,
};

use aya::{Btf, BtfError};
use aya_obj::btf::BtfKind;

use super::features::Support;

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

/// `r0 = 0; exit`, as a program of `prog_type` (for fentry: attached to BTF
/// function `btf_id`).
fn load(prog_type: u32, attach_type: u32, btf_id: u32) -> io::Result<OwnedFd> {
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = c"GPL";
    // union bpf_attr for BPF_PROG_LOAD, up to attach_btf_id (offset 108).
    let mut attr = [0u8; 128];
    put32(&mut attr, 0, prog_type);
    put32(&mut attr, 4, insns.len() as u32);
    put64(&mut attr, 8, insns.as_ptr() as u64);
    put64(&mut attr, 16, license.as_ptr() as u64);
    put32(&mut attr, 68, attach_type);
    put32(&mut attr, 108, btf_id);
    bpf(BPF_PROG_LOAD, &attr)
}

/// Attaches a tracing program (BPF_RAW_TRACEPOINT_OPEN with no name).
fn attach(prog: &OwnedFd) -> io::Result<OwnedFd> {
    let mut attr = [0u8; 16];
    put32(&mut attr, 8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &attr)
}

fn bpf(cmd: libc::c_long, attr: &[u8]) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a zero-padded bpf_attr of the size passed, and every
    // pointer in it outlives the call; a non-negative result is a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_ptr(), attr.len() as u32) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn put32(attr: &mut [u8], at: usize, v: u32) {
    attr[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(attr: &mut [u8], at: usize, v: u64) {
    attr[at..at + 8].copy_from_slice(&v.to_ne_bytes());
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
