//! The first native path end to end: a prebuilt tracepoint program, configured
//! from the tracepoint's format file, delivers exactly the child's opens.

use mcptrace::{host::tracefs, native::Session};
use mcptrace_common::{Capture, SlotConfig, slot::source};
use mcptrace_tests::{WORKLOAD_COMM, require_root, unique_path, workload};

fn cstr(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap()
}

#[test]
fn sys_enter_openat_records_arrive_exactly_once_per_open() {
    require_root();
    let format = tracefs::format("syscalls", "sys_enter_openat").unwrap();
    let filename = format.field("filename").expect("openat has a filename field");

    let mut config = SlotConfig { record_len: format.record_len(), ..Default::default() };
    let captures = [
        Capture { source: source::PID, dest: 0, ..Default::default() },
        Capture { source: source::COMM, dest: 0, ..Default::default() },
        Capture {
            source: source::FIELD_USER_STR,
            offset: filename.offset as u16,
            size: 64,
            dest: 1,
            ..Default::default()
        },
    ];
    config.captures[..captures.len()].copy_from_slice(&captures);
    config.ncaptures = captures.len() as u32;

    let mut session = Session::load().unwrap();
    session.attach_tracepoint(0, "syscalls", "sys_enter_openat", &config).unwrap();

    const OPENS: usize = 7;
    let path = unique_path("openat");
    let mut child =
        workload().args(["open", path.to_str().unwrap(), &OPENS.to_string()]).spawn().unwrap();
    let child_pid = u64::from(child.id());
    assert!(child.wait().unwrap().success());

    let mut seen = Vec::new();
    session.drain(|e| {
        if cstr(&e.strings[1]) == path.to_str().unwrap() {
            seen.push((e.values[0], cstr(&e.strings[0]).to_string()));
        }
    });
    assert_eq!(seen.len(), OPENS, "records for {}: {seen:?}", path.display());
    assert!(seen.iter().all(|(_, comm)| comm == WORKLOAD_COMM), "{seen:?}");
    assert!(seen.iter().all(|(pid, _)| *pid == child_pid), "{seen:?}");
    assert_eq!(session.lost_events(), 0);
}
