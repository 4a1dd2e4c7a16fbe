//! The bpf(2) system call for the few commands aya does not expose (trial
//! loads, queries about other processes' descriptors): one place for the
//! unsafe call, each caller with its `union bpf_attr` prefix as a struct.

use std::{
    io,
    os::fd::{FromRawFd, OwnedFd},
};

/// `bpf(cmd, attr, sizeof attr)`; its non-negative result, or the error.
///
/// # Safety
/// `attr` must be a `#[repr(C)]` prefix of `union bpf_attr` laid out as
/// command `cmd` reads it, and every pointer in it must be valid for the call.
pub unsafe fn call<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<i64> {
    // SAFETY: the caller vouches for `attr`; its size is passed with it.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size_of::<T>() as u32) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

/// As [`call`], for commands that return a new descriptor.
///
/// # Safety
/// As for [`call`].
pub unsafe fn call_for_fd<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<OwnedFd> {
    // SAFETY: forwarded; a successful result is a descriptor the kernel just
    // gave this process alone.
    unsafe { call(cmd, attr).map(|fd| OwnedFd::from_raw_fd(fd as i32)) }
}
