//! x86-64 syscall numbers and the names their tracepoints carry, both ways.
//! A syscall tracepoint is named after the kernel's `SYSCALL_DEFINE`, which
//! for a few syscalls is not the syscall's own name (`sys_enter_newfstat`
//! traces `fstat`): the table below is the one place that knows.

/// (tracepoint name, syscall name) where the two differ.
const RENAMED: [(&str, &str); 6] = [
    ("newfstat", "fstat"),
    ("newlstat", "lstat"),
    ("newstat", "stat"),
    ("newuname", "uname"),
    ("sendfile64", "sendfile"),
    ("umount", "umount2"),
];

/// The number of the syscall that tracepoint `sys_{enter,exit}_NAME` traces.
pub fn number(tracepoint_name: &str) -> Option<u32> {
    let name = RENAMED
        .iter()
        .find(|(tp, _)| *tp == tracepoint_name)
        .map_or(tracepoint_name, |(_, syscall)| syscall);
    Some(name.parse::<syscalls::Sysno>().ok()?.id() as u32)
}

/// The NAME of the tracepoints `sys_{enter,exit}_NAME` of syscall `nr`:
/// what bpftrace's `probe` builtin prints after the prefix.
pub fn tracepoint_name(nr: u64) -> &'static str {
    let Some(syscall) = usize::try_from(nr).ok().and_then(syscalls::Sysno::new) else {
        return "unknown";
    };
    let name = syscall.name();
    RENAMED.iter().find(|(_, s)| *s == name).map_or(name, |(tp, _)| tp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_syscalls_go_both_ways() {
        let fstat = number("newfstat").unwrap();
        assert_eq!(fstat, 5);
        assert_eq!(tracepoint_name(fstat.into()), "newfstat");
        let openat = number("openat").unwrap();
        assert_eq!(tracepoint_name(openat.into()), "openat");
        assert_eq!(number("no_such_syscall"), None);
        assert_eq!(tracepoint_name(100_000), "unknown");
    }
}
