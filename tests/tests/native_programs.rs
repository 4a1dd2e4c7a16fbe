//! Every generic program kind loads on this kernel, attaches, and delivers
//! exactly what its configuration asks for.

use std::collections::BTreeMap;

use mcptrace::{
    host::tracefs,
    ir::{
        AttachPoint, Sample, UserLocation, regs,
        slot::{SlotBuilder, op},
    },
    native::{Session, Transport},
    probe::Software,
};
use mcptrace_common::{
    Event,
    limits::{CTX_COPY, MAX_VALUES},
    slot::{op, source},
};
use mcptrace_tests::{
    HeldWorkload, WORKLOAD_COMM, require_root, target_bin, unique_path, workload,
};

fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Adds `comm == WORKLOAD_COMM` to the predicate (captured as string 0).
fn only_workload(b: &mut SlotBuilder) {
    let comm = b.string(source::COMM, 0, 16).unwrap();
    let c = b.const_string(WORKLOAD_COMM.as_bytes()).unwrap();
    b.predicate([op(op::STR_EQ, comm.0, c)]);
}

fn run_workload(args: &[&str]) -> u64 {
    let mut child = workload().args(args).spawn().unwrap();
    let pid = u64::from(child.id());
    assert!(child.wait().unwrap().success());
    pid
}

fn events_of(session: &mut Session, slot: u32) -> Vec<Event> {
    let mut out = Vec::new();
    session.drain(|r| {
        if r.event.slot == slot {
            out.push(r.event);
        }
        true
    });
    out
}

#[test]
fn tracepoint_with_in_kernel_comm_filter() {
    tracepoint_opens(Transport::RingBuffer);
}

#[test]
fn perf_buffer_transport_delivers_the_same() {
    tracepoint_opens(Transport::PerfBuffer);
}

fn tracepoint_opens(transport: Transport) {
    require_root();
    let format = tracefs::format("syscalls", "sys_enter_openat").unwrap();
    let filename = format.field("filename").unwrap();
    let mut b = SlotBuilder::new();
    only_workload(&mut b);
    let pid_ref = b.builtin(source::PID).unwrap();
    let path_ref = b.string(source::USER_STR, filename.offset, 64).unwrap();
    let point =
        AttachPoint::Tracepoint { category: "syscalls".into(), name: "sys_enter_openat".into() };

    let mut session = Session::load(transport).unwrap();
    let slot = session.attach(std::slice::from_ref(&point), &b.build().unwrap()).unwrap();
    let path = unique_path("tp-filter");
    let pid = run_workload(&["open", path.to_str().unwrap(), "5"]);

    let events = events_of(&mut session, slot);
    // The filter keeps everything but the workload's opens in the kernel:
    // its loader's opens (libc, ...) plus exactly our five.
    assert!(events.iter().all(|e| cstr(&e.strings[0]) == WORKLOAD_COMM));
    let ours: Vec<u64> = events
        .iter()
        .filter(|e| cstr(&e.strings[path_ref.0 as usize]) == path.to_str().unwrap())
        .map(|e| e.values[pid_ref.0 as usize])
        .collect();
    assert_eq!(ours, [pid; 5], "exactly the child's five opens of its unique path");
}

#[test]
fn raw_syscall_tracepoint_with_syscall_number_set() {
    require_root();
    let mut b = SlotBuilder::new();
    // raw_syscalls:sys_enter(struct pt_regs *regs, long id)
    b.deref(0, regs::SIZE);
    let nr = b.field(8, 8, true).unwrap();
    let pid = b.builtin(source::PID).unwrap();
    b.predicate([op(op::VALUE, nr.0, 0), op(op::IN_NR_SET, 0, 0)]);
    b.add_syscall_nr(libc::SYS_getpid as u32);
    b.add_syscall_nr(libc::SYS_write as u32);
    only_workload(&mut b);
    b.predicate([op(op::LAND, 0, 0)]);
    // write()'s byte count: only the dereferenced registers hold it.
    let size = b.field(CTX_COPY as u32 + regs::SYSCALL_ARGS[2], 8, false).unwrap();

    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let slot = session
        .attach(&[AttachPoint::RawTracepoint { name: "sys_enter".into() }], &b.build().unwrap())
        .unwrap();
    let child = run_workload(&["getpid", "1000", "write", "3", "4097"]);

    // Other tests run workloads concurrently: look at this child only.
    let events = events_of(&mut session, slot);
    let mut by_nr: BTreeMap<u64, usize> = BTreeMap::new();
    let mut sizes = Vec::new();
    for e in events.iter().filter(|e| e.values[pid.0 as usize] == child) {
        let n = e.values[nr.0 as usize];
        *by_nr.entry(n).or_default() += 1;
        if n == libc::SYS_write as u64 {
            sizes.push(e.values[size.0 as usize]);
        }
    }
    // getpid and write, and only those, exactly as often as the workload
    // made them, with write's third argument read through the pointer.
    let want = [(libc::SYS_getpid as u64, 1000), (libc::SYS_write as u64, 3)];
    assert_eq!(by_nr, BTreeMap::from(want));
    assert_eq!(sizes, [4097; 3]);
    assert_eq!(session.lost_events(), 0);
}

/// A timer's perf-event slot interrupts raw tracepoint slots mid-way, in
/// hard interrupt context on the same CPU, and writes all its captures: each
/// program still sees only its own (its own scratch memory).
#[test]
fn slots_that_interrupt_one_another_keep_apart() {
    require_root();
    let mut victim = SlotBuilder::new();
    victim.deref(0, regs::SIZE);
    let nr = victim.field(8, 8, true).unwrap();
    let pid = victim.builtin(source::PID).unwrap();
    victim.predicate([op(op::VALUE, nr.0, 0), op(op::IN_NR_SET, 0, 0)]);
    victim.add_syscall_nr(libc::SYS_getpid as u32);
    only_workload(&mut victim);
    victim.predicate([op(op::LAND, 0, 0)]);
    let marker = victim.constant(0xa1).unwrap();
    // Every value and string of the interloper's event, overwritten at each
    // of its hits; it sends nothing.
    let mut interloper = SlotBuilder::new();
    interloper.emit(false);
    interloper.string(source::COMM, 0, 16).unwrap();
    for _ in 0..MAX_VALUES {
        interloper.constant(0xb2).unwrap();
    }
    // 100k samples a second per CPU: the shortest period the kernel's
    // timer-based software events take (10 µs).
    let timer = AttachPoint::PerfEvent {
        event: Software::CpuClock,
        sample: Sample::Period(10_000),
        every_cpu: true,
    };

    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let slot = session
        .attach(
            &[AttachPoint::RawTracepoint { name: "sys_enter".into() }],
            &victim.build().unwrap(),
        )
        .unwrap();
    session.attach(std::slice::from_ref(&timer), &interloper.build().unwrap()).unwrap();
    let child = run_workload(&["getpid", "20000"]);

    // A hit interrupted while it shared its memory would lose its event
    // (slot, comm or number overwritten) or carry the interloper's values.
    let ours: Vec<Event> = events_of(&mut session, slot)
        .into_iter()
        .filter(|e| e.values[pid.0 as usize] == child)
        .collect();
    let foreign = ours
        .iter()
        .filter(|e| {
            e.values[nr.0 as usize] != libc::SYS_getpid as u64
                || e.values[marker.0 as usize] != 0xa1
                || cstr(&e.strings[0]) != WORKLOAD_COMM
        })
        .count();
    assert_eq!((ours.len(), foreign), (20_000, 0), "events of the child's getpid calls, altered");
    assert_eq!(session.lost_events(), 0);
}

#[test]
fn perf_event_cpu_clock_samples_a_busy_process() {
    require_root();
    let mut b = SlotBuilder::new();
    only_workload(&mut b);
    let pid = b.builtin(source::PID).unwrap();
    let point = AttachPoint::PerfEvent {
        event: Software::CpuClock,
        sample: Sample::Frequency(199),
        every_cpu: true,
    };
    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let slot = session.attach(std::slice::from_ref(&point), &b.build().unwrap()).unwrap();
    let child = run_workload(&["spin", "300"]);
    // Sampling is statistical: ~60 samples expected; demand a clear signal.
    // Other tests run workloads concurrently: count this child's only.
    let events = events_of(&mut session, slot);
    let ours = events.iter().filter(|e| e.values[pid.0 as usize] == child).count();
    assert!(ours >= 10, "only {ours} samples of a 300 ms spin");
}

#[test]
fn uprobe_and_uretprobe_see_arguments_and_return_values() {
    require_root();
    // Scoped to one held workload: other tests call the same function.
    let held = HeldWorkload::spawn(&["call", "50"]);
    let binary = target_bin("mcpt-workload");
    let symbol = UserLocation::Symbol { name: "mcpt_target".into(), offset: 0 };
    let attach = |ret| AttachPoint::Uprobe {
        binary: binary.clone(),
        location: symbol.clone(),
        ret,
        pid: Some(held.pid()),
    };
    let slot_for = |reg: u32| {
        let mut b = SlotBuilder::new();
        let v = b.field(reg, 8, false).unwrap();
        (b.build().unwrap(), v)
    };
    let (entry_cfg, arg0) = slot_for(regs::CALL_ARGS[0]);
    let (ret_cfg, retval) = slot_for(regs::AX);

    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let entry = session.attach(&[attach(false)], &entry_cfg).unwrap();
    let ret = session.attach(&[attach(true)], &ret_cfg).unwrap();
    held.go();

    let mut args = Vec::new();
    let mut rets = Vec::new();
    session.drain(|r| {
        let e = &r.event;
        if e.slot == entry {
            args.push(e.values[arg0.0 as usize]);
        } else if e.slot == ret {
            rets.push(e.values[retval.0 as usize]);
        }
        true
    });
    assert_eq!(args, (1..=50).collect::<Vec<u64>>());
    assert_eq!(rets, (1..=50).map(|i| i * 2).collect::<Vec<u64>>());
}

#[test]
fn predicate_arithmetic_and_unsigned_comparisons() {
    require_root();
    // uprobe arg0 in 1..=50; keep (arg0 * 3) % 7 == 2 && arg0 >= 10.
    let binary = target_bin("mcpt-workload");
    let mut b = SlotBuilder::new();
    let a = b.field(regs::CALL_ARGS[0], 8, false).unwrap();
    for (code, imm) in [
        (op::VALUE, 0),
        (op::IMM, 3),
        (op::MUL, 0),
        (op::IMM, 7),
        (op::MOD, 0),
        (op::IMM, 2),
        (op::EQ, 0),
        (op::VALUE, 0),
        (op::IMM, 10),
        (op::UGE, 0),
        (op::LAND, 0),
    ] {
        b.predicate([op(code, a.0, imm)]);
    }
    let held = HeldWorkload::spawn(&["call", "50"]);
    let point = AttachPoint::Uprobe {
        binary,
        location: UserLocation::Symbol { name: "mcpt_target".into(), offset: 0 },
        ret: false,
        pid: Some(held.pid()),
    };
    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let slot = session.attach(std::slice::from_ref(&point), &b.build().unwrap()).unwrap();
    held.go();
    let got: Vec<u64> = events_of(&mut session, slot).iter().map(|e| e.values[0]).collect();
    let want: Vec<u64> = (10..=50).filter(|x| (x * 3) % 7 == 2).collect();
    assert_eq!(got, want);
}
