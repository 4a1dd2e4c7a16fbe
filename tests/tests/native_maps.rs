//! In-kernel aggregation and keyed state: the workload calls
//! `mcpt_target(i)` for i in 1..=100, and every map must hold exactly what
//! those calls imply.

use std::collections::BTreeMap;

use mcptrace::{
    ir::{
        AttachPoint, UserLocation, regs,
        slot::{Ops, Part, SlotBuilder, op},
    },
    native::{Session, Transport},
};
use mcptrace_common::{
    Agg, MapKey,
    slot::{map_op, op, source},
};
use mcptrace_tests::{HeldWorkload, WORKLOAD_COMM, require_root, target_bin};

const CALLS: u64 = 100;

/// Aggregates merged across CPUs, by (map, bucket, key words).
type Merged = BTreeMap<(u16, u32, Vec<u64>), Agg>;

/// `mcpt_target` of one process: tests run concurrently, each with its own
/// workload.
fn target(pid: u32, ret: bool) -> AttachPoint {
    AttachPoint::Uprobe {
        binary: target_bin("mcpt-workload"),
        location: UserLocation::Symbol { name: "mcpt_target".into(), offset: 0 },
        ret,
        pid: Some(pid),
    }
}

/// Runs the workload once with probes `(ret, slot)` on `mcpt_target` and
/// returns the maps, merged across CPUs.
fn run(slots: &[(bool, SlotBuilder)]) -> (Merged, Session) {
    let calls = CALLS.to_string();
    let held = HeldWorkload::spawn(&["call", &calls]);
    let mut session = Session::load(Transport::RingBuffer).unwrap();
    for (ret, b) in slots {
        session.attach(&[target(held.pid(), *ret)], &b.build().unwrap()).unwrap();
    }
    held.go();
    let mut merged = BTreeMap::new();
    for (key, per_cpu) in session.keyed().aggregates().unwrap() {
        let MapKey { map, bucket, words, .. } = key;
        let mut total = Agg { count: 0, sum: 0, min: i64::MAX, max: i64::MIN };
        for a in per_cpu.iter().filter(|a| a.count > 0) {
            total.count += a.count;
            total.sum = total.sum.wrapping_add(a.sum);
            total.min = total.min.min(a.min);
            total.max = total.max.max(a.max);
        }
        merged.insert((map, bucket, words.to_vec()), total);
    }
    (merged, session)
}

/// Keys of a map without key parts: all words zero.
fn no_key(map: u16, bucket: u32) -> (u16, u32, Vec<u64>) {
    (map, bucket, vec![0; mcptrace_common::limits::KEY_WORDS])
}

fn arg0(b: &mut SlotBuilder) -> Ops {
    let a = b.field(regs::CALL_ARGS[0], 8, true).unwrap();
    vec![op(op::VALUE, a.0, 0)]
}

#[test]
fn count_sum_min_max_hist_lhist() {
    require_root();
    let mut first = SlotBuilder::new();
    first.emit(false);
    let v = arg0(&mut first);
    for (map, kind) in [(0, map_op::COUNT), (1, map_op::SUM), (2, map_op::MIN), (3, map_op::MAX)] {
        let key = first.key(map, &[]).unwrap();
        let value = if kind == map_op::COUNT { vec![] } else { v.clone() };
        first.map_op(kind, key, value, vec![]).unwrap();
    }
    let mut second = SlotBuilder::new();
    second.emit(false);
    let v = arg0(&mut second);
    let hist = second.key(4, &[]).unwrap();
    second.map_op(map_op::HIST, hist, v.clone(), vec![]).unwrap();
    let lhist = second.key(5, &[]).unwrap();
    let m = second.map_op(map_op::LHIST, lhist, v, vec![]).unwrap();
    (m.min, m.max, m.step) = (0, 50, 10);

    let (maps, _session) = run(&[(false, first), (false, second)]);
    let get = |map, bucket| maps.get(&no_key(map, bucket)).copied().unwrap_or_default();
    assert_eq!(get(0, 0).count, CALLS);
    assert_eq!(get(1, 0).sum, CALLS * (CALLS + 1) / 2);
    assert_eq!(get(2, 0).min, 1);
    assert_eq!(get(3, 0).max, CALLS as i64);
    // log2 buckets: index 2 + floor(log2 v), stored + 1.
    let hist: Vec<(u32, u64)> =
        maps.iter().filter(|(k, _)| k.0 == 4).map(|(k, a)| (k.1 - 1, a.count)).collect();
    assert_eq!(hist, [(2, 1), (3, 2), (4, 4), (5, 8), (6, 16), (7, 32), (8, 37)]);
    // lhist(v, 0, 50, 10): [0,10) holds 1..9, four full buckets, 51 overflow.
    let lhist: Vec<(u32, u64)> =
        maps.iter().filter(|(k, _)| k.0 == 5).map(|(k, a)| (k.1 - 1, a.count)).collect();
    assert_eq!(lhist, [(1, 9), (2, 10), (3, 10), (4, 10), (5, 10), (6, 51)]);
}

#[test]
fn keyed_state_pairs_entry_and_return() {
    require_root();
    // uprobe: @start[tid] = arg0
    let mut entry = SlotBuilder::new();
    entry.emit(false);
    let v = arg0(&mut entry);
    let tid = entry.builtin(source::TID).unwrap();
    let start = entry.key(6, &[Part::Value(tid)]).unwrap();
    entry.map_op(map_op::ASSIGN, start, v, vec![]).unwrap();
    // uretprobe /@start[tid]/ { @d = sum(retval - @start[tid]); delete(@start[tid]); }
    let mut ret = SlotBuilder::new();
    ret.emit(false);
    let retval = ret.field(regs::AX, 8, true).unwrap();
    let tid = ret.builtin(source::TID).unwrap();
    let key = ret.key(6, &[Part::Value(tid)]).unwrap();
    let begun = ret.lookup(key, false).unwrap();
    ret.predicate([op(op::VALUE, begun.0, 0)]);
    let d = ret.key(7, &[]).unwrap();
    let diff = vec![op(op::VALUE, retval.0, 0), op(op::VALUE, begun.0, 0), op(op::SUB, 0, 0)];
    ret.map_op(map_op::SUM, d, diff, vec![]).unwrap();
    ret.map_op(map_op::DELETE, key, vec![], vec![]).unwrap();

    let (maps, session) = run(&[(false, entry), (true, ret)]);
    let d = maps[&no_key(7, 0)];
    // retval is 2i, so each difference is i.
    assert_eq!((d.count, d.sum), (CALLS, CALLS * (CALLS + 1) / 2));
    let left: Vec<_> =
        session.keyed().state().unwrap().into_iter().filter(|(k, _)| k.map == 6).collect();
    assert!(left.is_empty(), "delete() left {left:?}");
}

#[test]
fn multi_part_keys_with_strings() {
    require_root();
    // @[comm, arg0] = count(), with the argument's low byte as the value.
    let mut b = SlotBuilder::new();
    b.emit(false);
    let comm = b.string(source::COMM, 0, 16).unwrap();
    let low = b.field(regs::CALL_ARGS[0], 1, false).unwrap();
    let key = b.key(8, &[Part::Str(comm, 2), Part::Value(low)]).unwrap();
    b.map_op(map_op::COUNT, key, vec![], vec![]).unwrap();
    let (maps, _session) = run(&[(false, b)]);
    let entries: Vec<_> = maps.iter().filter(|(k, _)| k.0 == 8).collect();
    assert_eq!(entries.len(), CALLS as usize, "one key per distinct argument");
    for ((_, _, words), agg) in entries {
        let comm: Vec<u8> = words[..2].iter().flat_map(|w| w.to_ne_bytes()).collect();
        let end = comm.iter().position(|&b| b == 0).unwrap();
        assert_eq!(&comm[..end], WORKLOAD_COMM.as_bytes());
        assert!((1..=CALLS).contains(&words[2]));
        assert_eq!(agg.count, 1);
    }
}

#[test]
fn stacks_as_keys_resolve_to_symbols() {
    require_root();
    use mcptrace::{
        host::symbolize::UserSymbols,
        ir::{KeyKind, MapAgg, MapInfo},
        lang::stack::StackMode,
        native::map_read::dump,
        output::{MapValue, Value},
    };
    // uprobe:mcpt_target { @u[ustack] = count(); }
    let mut u = SlotBuilder::new();
    u.emit(false);
    let stack = u.builtin(source::USTACK).unwrap();
    let pid = u.builtin(source::PID).unwrap();
    let key = u.key(9, &[Part::Value(stack), Part::Value(pid)]).unwrap();
    u.map_op(map_op::COUNT, key, vec![], vec![]).unwrap();
    // rawtracepoint:sys_enter /pid == child && args->id == getpid/ { @k[kstack] = count(); }
    // A raw tracepoint, not tracepoint:syscalls:sys_enter_getpid: kernels
    // before 6.x (Debian's 6.1) take no stack in syscall tracepoints, for
    // bpftrace as for us. The workload waits again after its calls, so its
    // mappings still exist when user frames are resolved.
    let mut held = HeldWorkload::spawn(&["call", &CALLS.to_string(), "getpid", "10", "wait"]);
    let mut k = SlotBuilder::new();
    k.emit(false);
    let kpid = k.builtin(source::PID).unwrap();
    let nr = k.field(8, 8, false).unwrap();
    k.predicate([
        op(op::VALUE, kpid.0, 0),
        op(op::IMM, 0, held.pid() as u64),
        op(op::EQ, 0, 0),
        op(op::VALUE, nr.0, 0),
        op(op::IMM, 0, libc::SYS_getpid as u64),
        op(op::EQ, 0, 0),
        op(op::LAND, 0, 0),
    ]);
    let kstack = k.builtin(source::KSTACK).unwrap();
    let kkey = k.key(10, &[Part::Value(kstack)]).unwrap();
    k.map_op(map_op::COUNT, kkey, vec![], vec![]).unwrap();

    let mut session = Session::load(Transport::RingBuffer).unwrap();
    session.attach(&[target(held.pid(), false)], &u.build().unwrap()).unwrap();
    let sys_enter = AttachPoint::RawTracepoint { name: "sys_enter".into() };
    session.attach(std::slice::from_ref(&sys_enter), &k.build().unwrap()).unwrap();
    let child = held.pid();
    held.step();
    let symbols = UserSymbols::default();
    let info = |id, key| MapInfo {
        id,
        name: format!("@m{id}"),
        agg: MapAgg::Count,
        key,
        in_user_space: false,
    };
    let kinfo = info(10, vec![KeyKind::KStack { depth: 127, mode: StackMode::Bpftrace }]);
    let count = |dump: &mcptrace::output::MapDump| -> u64 {
        dump.entries
            .iter()
            .map(|(_, v)| match v {
                MapValue::Scalar(Value::Int { bits, .. }) => *bits,
                _ => 0,
            })
            .sum()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&dump(&session, &symbols, &kinfo).unwrap()) < 10 {
        assert!(std::time::Instant::now() < deadline, "the workload never made its getpid calls");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let user = dump(
        &session,
        &symbols,
        &info(9, vec![KeyKind::UStack { depth: 127, mode: StackMode::Bpftrace }]),
    )
    .unwrap();
    assert_eq!(user.entries.len(), 1, "one call path: {user:?}");
    let (key, value) = &user.entries[0];
    assert_eq!(value, &MapValue::Scalar(Value::uint(CALLS)));
    let Value::Str(text) = &key[0] else { panic!("{key:?}") };
    let text = String::from_utf8_lossy(text);
    assert!(text.starts_with("\n    mcpt_target+0\n"), "innermost frame first: {text:?}");
    // The kernel walks user stacks by frame pointers, which Rust binaries
    // keep only partly: expect the caller, not the whole path.
    assert!(text.lines().filter(|l| !l.is_empty()).count() >= 2, "the caller too: {text:?}");
    let kernel = dump(&session, &symbols, &kinfo).unwrap();
    assert_eq!(count(&kernel), 10, "getpid calls of {child}");
    let Value::Str(frames) = &kernel.entries[0].0[0] else { panic!() };
    let frames = String::from_utf8_lossy(frames);
    assert!(frames.contains("syscall"), "kernel frames resolve through kallsyms: {frames}");
    held.go();
}
