//! Wall-clock text as bpftrace prints it: `time(fmt)` for now, and
//! `strftime(fmt, nsecs)` for a timestamp taken in the kernel, both through
//! the C library's strftime(3) on local time.

use std::sync::OnceLock;

/// bpftrace formats into a string of this many bytes, NUL included.
const STRING_SIZE: usize = 64;

/// `time(fmt)`: now, as local time.
pub fn local_time(fmt: &str) -> Vec<u8> {
    // SAFETY: time(NULL) takes no pointer.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    format(fmt, now, 256 + fmt.len() * 4).unwrap_or_default()
}

/// `strftime(fmt, nsecs)`: bpftrace takes `nsecs` as nanoseconds since boot
/// and adds the wall time the machine booted at, read once (so a kernel
/// `nsecs`, CLOCK_MONOTONIC, drifts from it by the time spent suspended, as
/// in bpftrace). `%f` is the microseconds, zero-padded to 6 digits. A result
/// that does not fit bpftrace's 64-byte string prints as `(?)`, as there.
pub fn strftime(fmt: &str, nsecs: u64) -> Vec<u8> {
    let (boot_sec, boot_nsec) = boot_wall_time();
    let since = boot_nsec.wrapping_add(nsecs);
    let secs = boot_sec.wrapping_add((since / 1_000_000_000) as i64);
    let micros = format!("{:06}", (since % 1_000_000_000) / 1000);
    let fmt = fmt.replace("%f", &micros);
    format(&fmt, secs as libc::time_t, STRING_SIZE).unwrap_or_else(|| b"(?)".to_vec())
}

/// The wall time at boot, as (seconds, nanoseconds): CLOCK_REALTIME less
/// CLOCK_BOOTTIME, read back to back.
fn boot_wall_time() -> (i64, u64) {
    static BOOT: OnceLock<(i64, u64)> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let now = |clock| {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: a valid pointer to a timespec.
            unsafe { libc::clock_gettime(clock, &mut ts) };
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        };
        let boot = now(libc::CLOCK_REALTIME) - now(libc::CLOCK_BOOTTIME);
        let (sec, nsec) = (boot.div_euclid(1_000_000_000), boot.rem_euclid(1_000_000_000));
        (sec as i64, nsec as u64)
    })
}

/// `t` as local time through strftime(3) into a buffer of `size` bytes;
/// None when the text does not fit (or is empty, which strftime cannot
/// tell apart).
fn format(fmt: &str, t: libc::time_t, size: usize) -> Option<Vec<u8>> {
    let cfmt = std::ffi::CString::new(fmt).ok()?;
    // SAFETY: localtime_r with valid pointers; strftime writes at most
    // buf.len() bytes and returns how many (0 when they did not fit).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        let mut buf = vec![0u8; size];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        (n > 0).then(|| {
            buf.truncate(n);
            buf
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{boot_wall_time, local_time, strftime};

    #[test]
    fn time_formats_with_strftime() {
        let t = local_time("%Y");
        assert_eq!(t.len(), 4);
        assert!(t.iter().all(u8::is_ascii_digit));
    }

    #[test]
    fn strftime_counts_from_boot_and_expands_microseconds() {
        let (sec, nsec) = boot_wall_time();
        // 1.5 s after boot, minus the boot's own fraction, is .500000 s past
        // the second after boot.
        let nsecs = 1_500_000_000 - nsec;
        assert_eq!(strftime("%s.%f", nsecs), format!("{}.500000", sec + 1).into_bytes());
        assert_eq!(strftime("[%f]", nsecs + 1_234), b"[500001]");
        // Too long for bpftrace's 64-byte string.
        assert_eq!(strftime(&"x".repeat(64), 0), b"(?)");
    }
}
