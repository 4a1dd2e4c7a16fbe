//! Waiting for the event buffers, a wake-up descriptor, or a timeout.

use std::{
    os::fd::{AsRawFd, BorrowedFd, RawFd},
    time::Duration,
};

use super::NativeError;

/// Waits until one of `events` has data, `wake` becomes readable, or
/// `timeout` passes (None: no limit). Returns whether `wake` fired; an
/// interrupted wait returns early with false, as a timeout does.
pub fn readable(
    events: &[RawFd],
    wake: Option<BorrowedFd<'_>>,
    timeout: Option<Duration>,
) -> Result<bool, NativeError> {
    let pollfd = |fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let mut fds: Vec<libc::pollfd> = events.iter().copied().map(pollfd).collect();
    fds.push(pollfd(wake.map_or(-1, |w| w.as_raw_fd())));
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    // SAFETY: `fds` is a valid array of pollfd; a negative fd is ignored.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(NativeError::Poll(err));
    }
    Ok(fds.last().is_some_and(|w| w.revents != 0))
}
