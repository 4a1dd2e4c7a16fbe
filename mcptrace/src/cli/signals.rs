//! SIGINT and SIGTERM as a graceful stop: END runs and maps print, as with
//! bpftrace. The handler only writes to the run's eventfd, which is
//! async-signal-safe.

use std::{
    os::fd::AsRawFd,
    sync::atomic::{AtomicI32, Ordering},
};

use crate::exec::StopSignal;

static STOP_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = STOP_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: write(2) is async-signal-safe; 8 bytes from a valid u64.
        unsafe { libc::write(fd, (&raw const one).cast(), 8) };
    }
}

/// Routes SIGINT and SIGTERM to `stop` for the rest of the process.
pub fn stop_on_signals(stop: &StopSignal) {
    STOP_FD.store(stop.as_raw_fd(), Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only calls write(2).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}
