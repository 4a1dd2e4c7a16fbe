//! Lowering on parsed programs with hand-resolved attach points: which
//! constructs run natively, what lands in the kernel, and what falls back.

use mcptrace_common::slot::{map_op, op, source};

use std::{collections::BTreeMap, sync::Arc};

use super::lower;
use crate::{
    check::{Checked, CheckedProbe},
    host::{btf::BtfError, tracefs::parse_format},
    ir::{self, AttachPoint, KeyKind, MapAgg, NativeProgram, ProbeName, Stmt, UnOp},
    lang::{parse, stack::StackMode},
    probe::{Probe, UserLocation},
};

const OPENAT: &str = "ID: 1
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;
";
const EXIT: &str = "ID: 2
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;
";

fn tp(name: &str) -> Probe {
    Probe::Tracepoint { category: "syscalls".into(), name: name.into() }
}

/// `src` as checked, each probe expanding to `probes` (one list per probe);
/// syscall tracepoints get the entry or exit format above.
fn checked(src: &str, probes: Vec<Vec<Probe>>) -> Checked {
    let mut formats = BTreeMap::new();
    for p in probes.iter().flatten() {
        if let Probe::Tracepoint { category, name } = p {
            let text = if name.starts_with("sys_enter") { OPENAT } else { EXIT };
            formats.insert(format!("{category}:{name}"), Arc::new(parse_format(text).unwrap()));
        }
    }
    let probes =
        probes.into_iter().map(|p| CheckedProbe { attach_points: vec![p] }).collect::<Vec<_>>();
    // No function has a prototype here: fentry lowering is tested against
    // the kernel's BTF in host::btf and the kernel-function cases.
    let prototypes = probes
        .iter()
        .flat_map(CheckedProbe::probes)
        .filter_map(|p| match p {
            Probe::Kfunc { function, .. } => {
                Some((function.clone(), Err(BtfError::NoFunction(function.clone()))))
            }
            _ => None,
        })
        .collect();
    Checked { program: parse(src).unwrap(), probes, formats, prototypes }
}

fn lowered(src: &str, probes: Vec<Vec<Probe>>) -> NativeProgram {
    lower(&checked(src, probes)).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn reason(src: &str, probes: Vec<Vec<Probe>>) -> String {
    match lower(&checked(src, probes)) {
        Ok(_) => panic!("{src} lowered natively"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_filtered_printf_pushes_the_predicate_and_captures_the_args() {
    let p = lowered(
        r#"tracepoint:syscalls:sys_enter_openat /comm == "bash" && args->dfd < 0/ { printf("%s %s\n", comm, str(args->filename)); }"#,
        vec![vec![tp("sys_enter_openat")]],
    );
    assert_eq!(p.attach_count, 1);
    let k = &p.probes[0];
    assert!(
        matches!(&k.points[..], [AttachPoint::Tracepoint { name, .. }] if name == "sys_enter_openat")
    );
    assert!(k.predicate.is_none(), "pushed into the kernel");
    let ops: Vec<u16> = k.config.ops[..k.config.npred as usize].iter().map(|o| o.code).collect();
    // comm == "bash" && dfd (signed int) < 0 (signed literal): signed compare.
    assert_eq!(ops, [op::STR_EQ, op::VALUE, op::IMM, op::LT, op::LAND]);
    assert_eq!(k.config.action, 1, "events go to user space for printf");
    let dfd = k.config.captures.iter().find(|c| c.offset == 16).unwrap();
    assert_eq!((dfd.size, dfd.flags), (4, 1), "int width and sign from the C type");
    assert!(matches!(k.body[..], [Stmt::Printf { .. }]));
}

#[test]
fn aggregations_stay_in_the_kernel_and_send_no_events() {
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); @s = sum(args->dfd); @h = hist(args->flags); }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let k = &p.probes[0];
    assert_eq!(k.config.action, 0, "nothing for user space per event");
    let kinds: Vec<u16> =
        k.config.map_ops[..k.config.nmap_ops as usize].iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [map_op::COUNT, map_op::SUM, map_op::HIST]);
    let by_name = |n: &str| p.maps.iter().find(|m| m.name == n).unwrap();
    assert_eq!(by_name("@").key, [KeyKind::Str { words: 2 }]);
    assert_eq!(by_name("@s").agg, MapAgg::Sum { signed: true });
    assert_eq!(by_name("@h").agg, MapAgg::Hist);
}

#[test]
fn syscall_wildcards_share_one_raw_tracepoint() {
    let p = lowered(
        "tracepoint:syscalls:sys_exit_openat, tracepoint:syscalls:sys_exit_read /args->ret < 0/ { @[probe] = count(); }",
        vec![vec![tp("sys_exit_openat"), tp("sys_exit_read")]],
    );
    assert_eq!(p.attach_count, 2, "bpftrace's count: both tracepoints");
    assert_eq!(p.probes.len(), 1);
    let k = &p.probes[0];
    assert_eq!(k.points, [AttachPoint::RawTracepoint { name: "sys_exit".into() }]);
    assert!(matches!(k.name, ProbeName::Syscall { .. }));
    let set = k.config.nr_set;
    let has = |nr: i64| set[nr as usize / 64] & (1 << (nr % 64)) != 0;
    assert!(has(libc::SYS_openat) && has(libc::SYS_read) && !has(libc::SYS_write));
    assert!(matches!(&p.maps[0].key[..], [KeyKind::SyscallProbe { .. }]));
}

/// open's filename is its first argument, openat's its second: one raw
/// syscall slot cannot read both, so each takes its tracepoint's slot.
#[test]
fn syscalls_that_disagree_on_a_field_take_a_slot_each() {
    let src = "tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat { @[tid] = args->filename; }";
    let mut c = checked(src, vec![vec![tp("sys_enter_open"), tp("sys_enter_openat")]]);
    let open = OPENAT.replace("\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n", "");
    c.formats.insert("syscalls:sys_enter_open".into(), Arc::new(parse_format(&open).unwrap()));
    let p = lower(&c).unwrap_or_else(|e| panic!("{e}"));
    let points: Vec<&AttachPoint> = p.probes.iter().flat_map(|k| &k.points).collect();
    let tracepoint =
        |n: &str| AttachPoint::Tracepoint { category: "syscalls".into(), name: n.into() };
    assert_eq!(points, [&tracepoint("sys_enter_open"), &tracepoint("sys_enter_openat")]);
    assert_eq!(p.maps.len(), 1, "the shared attempt's map use is undone");
}

#[test]
fn latency_pairs_read_keyed_state_before_the_predicate() {
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { @start[tid] = nsecs; }
         tracepoint:syscalls:sys_exit_openat /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }",
        vec![vec![tp("sys_enter_openat")], vec![tp("sys_exit_openat")]],
    );
    let exit = &p.probes[1].config;
    assert_eq!(exit.nlookups, 1, "one read, shared by predicate and value");
    let kinds: Vec<u16> = exit.map_ops[..exit.nmap_ops as usize].iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [map_op::HIST, map_op::DELETE]);
    let start = p.maps.iter().find(|m| m.name == "@start").unwrap();
    assert_eq!(start.agg, MapAgg::Value { signed: false });
}

#[test]
fn begin_and_end_run_in_user_space() {
    let p = lowered(
        r#"BEGIN { printf("hi\n"); } END { time("%H\n"); exit(); }"#,
        vec![vec![Probe::Begin], vec![Probe::End]],
    );
    assert_eq!((p.begin.len(), p.end.len(), p.probes.len(), p.attach_count), (1, 1, 0, 2));
}

/// Declarations lower to assignments; an integer type casts every value
/// the variable is given. Other types fall back, naming the type.
#[test]
fn declarations_and_integer_casts() {
    use crate::ir::{Expr as E, UnOp};
    use crate::lang::int_type::IntType;
    let p = lowered(
        "BEGIN { let $a: uint8 = 300; $a += 1; let $s: string; let $n; let $b = (int32)$a; }",
        vec![vec![Probe::Begin]],
    );
    let u8_cast = |e: &E| matches!(e, E::Unary(UnOp::Cast(IntType { bits: 8, signed: false }), _));
    let assigned: Vec<&E> = p.begin[0]
        .iter()
        .map(|s| match s {
            Stmt::Assign { value, .. } => value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(assigned.len(), 4, "`let $n;` alone assigns nothing: {assigned:?}");
    assert!(u8_cast(assigned[0]) && u8_cast(assigned[1]), "{assigned:?}");
    assert_eq!(*assigned[2], E::Str(Vec::new()));
    assert!(matches!(assigned[3], E::Unary(UnOp::Cast(IntType { bits: 32, signed: true }), _)));
    let why = reason("BEGIN { let $p: struct task_struct * = 0; }", vec![vec![Probe::Begin]]);
    assert!(why.contains("declaration of type `struct task_struct *`"), "{why}");
    let why = reason("BEGIN { @ = (unsigned int)1; }", vec![vec![Probe::Begin]]);
    assert!(why.contains("casts to `unsigned int`"), "{why}");
}

#[test]
fn fallback_reasons_name_the_construct_and_its_position() {
    let tps = || vec![vec![tp("sys_enter_openat")]];
    assert_eq!(
        reason("tracepoint:syscalls:sys_enter_openat { @[numaid] = count(); }", tps()),
        "map key: `numaid` is not native yet (at 1:42)"
    );
    assert_eq!(
        reason(
            "tracepoint:syscalls:sys_enter_openat { @c[tid] = count(); \
             if (strcontains(comm, \"x\")) { @c[tid] = count(); } }",
            tps()
        ),
        "map @c is used in the kernel here, but updated in user space at 1:89 (under a \
         condition evaluated there, in a loop or after a `return`): not native yet (at 1:40)"
    );
    assert_eq!(
        reason("tracepoint:syscalls:sys_enter_openat { @c[tid]++; @d = sum(@c[tid]); }", tps()),
        "reading @c after updating it in the same probe is not native yet (at 1:60)"
    );
    assert!(
        reason("tracepoint:syscalls:sys_enter_openat { printf(\"%d\\n\", $1); }", tps())
            .starts_with("positional parameters are not native yet")
    );
    assert!(
        reason("tracepoint:syscalls:sys_enter_openat { @x = args->nope; }", tps())
            .contains("no field `nope`")
    );
    let kfunc = Probe::Kfunc { function: "f".into(), ret: false };
    assert_eq!(
        reason("kfunc:f { }", vec![vec![kfunc]]),
        "kfunc:f needs the function's BTF: f is not a function in the kernel's BTF (at 1:1)"
    );
}

#[test]
fn map_updates_under_if_else_carry_their_guards() {
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { if (pid > 1) { @a = count(); @b = count(); } \
         else { @c = count(); } }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let c = &p.probes[0].config;
    assert_eq!(c.npred, 0, "the condition is no predicate");
    let guard = |i: usize| {
        let m = &c.map_ops[i];
        let ops = &c.ops[m.guard_start as usize..(m.guard_start + m.guard_len) as usize];
        ops.iter().map(|o| o.code).collect::<Vec<_>>()
    };
    assert_eq!(guard(0), [op::VALUE, op::IMM, op::UGT]);
    assert_eq!(c.map_ops[0].guard_start, c.map_ops[1].guard_start, "one guard, placed once");
    assert_eq!(guard(2), [op::VALUE, op::IMM, op::UGT, op::LNOT]);
}

/// `NATIVE_HELPERS` stays true to the code: a program using each listed
/// name lowers, and names outside the list do not.
#[test]
fn the_native_helper_list_matches_what_lowers() {
    let main = UserLocation::Symbol { name: "main".into(), offset: 0 };
    let uprobe = |ret| Probe::Uprobe { binary: "/bin/sh".into(), location: main.clone(), ret };
    let open = || vec![vec![tp("sys_enter_openat")]];
    let samples: &[(&str, &str, Vec<Vec<Probe>>)] = &[
        ("pid", "u:/bin/sh:main { @[pid] = count(); }", vec![vec![uprobe(false)]]),
        ("tid", "u:/bin/sh:main { @[tid] = count(); }", vec![vec![uprobe(false)]]),
        ("uid", "u:/bin/sh:main { @[uid] = count(); }", vec![vec![uprobe(false)]]),
        ("gid", "u:/bin/sh:main { @[gid] = count(); }", vec![vec![uprobe(false)]]),
        ("cpu", "u:/bin/sh:main { @[cpu] = count(); }", vec![vec![uprobe(false)]]),
        ("nsecs", "u:/bin/sh:main { @[nsecs] = count(); }", vec![vec![uprobe(false)]]),
        ("cgroup", "u:/bin/sh:main { @[cgroup] = count(); }", vec![vec![uprobe(false)]]),
        ("elapsed", "u:/bin/sh:main { printf(\"%d\\n\", elapsed); }", vec![vec![uprobe(false)]]),
        ("comm", "u:/bin/sh:main { @[comm] = count(); }", vec![vec![uprobe(false)]]),
        ("kstack", "u:/bin/sh:main { @[kstack] = count(); }", vec![vec![uprobe(false)]]),
        ("ustack", "u:/bin/sh:main { @[ustack] = count(); }", vec![vec![uprobe(false)]]),
        ("argN", "u:/bin/sh:main { @[arg0] = count(); }", vec![vec![uprobe(false)]]),
        ("retval", "ur:/bin/sh:main { @[retval] = count(); }", vec![vec![uprobe(true)]]),
        (
            "func",
            "u:/bin/sh:main { printf(\"%s\\n\", func); @[func] = count(); }",
            vec![vec![uprobe(false)]],
        ),
        ("probe", "u:/bin/sh:main { @[probe] = count(); }", vec![vec![uprobe(false)]]),
        ("args", "tracepoint:syscalls:sys_enter_openat { @[args->dfd] = count(); }", open()),
        (
            "str",
            "tracepoint:syscalls:sys_enter_openat { @[str(args->filename)] = count(); }",
            open(),
        ),
        ("join", "u:/bin/sh:main { join(arg1); join(arg1, \",\"); }", vec![vec![uprobe(false)]]),
        (
            "buf",
            "u:/bin/sh:main { printf(\"%r %rx\\n\", buf(arg0, arg1), buf(arg0, 8)); }",
            vec![vec![uprobe(false)]],
        ),
        ("ksym", "u:/bin/sh:main { @[ksym(arg0)] = count(); }", vec![vec![uprobe(false)]]),
        ("usym", "u:/bin/sh:main { printf(\"%s\\n\", usym(arg0)); }", vec![vec![uprobe(false)]]),
        ("reg", "u:/bin/sh:main { @[reg(\"ip\")] = count(); }", vec![vec![uprobe(false)]]),
        ("username", "u:/bin/sh:main { @[username] = count(); }", vec![vec![uprobe(false)]]),
        (
            "strncmp",
            "tracepoint:syscalls:sys_enter_openat /strncmp(str(args->filename), \"/etc\", 4) == 0/ \
             { @c = count(); }",
            open(),
        ),
        (
            "strcontains",
            "u:/bin/sh:main { printf(\"%d\\n\", strcontains(comm, \"sh\")); }",
            vec![vec![uprobe(false)]],
        ),
        (
            "strftime",
            "u:/bin/sh:main { printf(\"%s\\n\", strftime(\"%H:%M\", nsecs)); }",
            vec![vec![uprobe(false)]],
        ),
        ("ntop", "u:/bin/sh:main { printf(\"%s\\n\", ntop(arg0)); }", vec![vec![uprobe(false)]]),
        ("strerror", "BEGIN { print(strerror(2)); }", vec![vec![Probe::Begin]]),
        (
            "curtask",
            "tracepoint:syscalls:sys_enter_openat { @[curtask->real_parent->pid] = count(); \
             printf(\"%d\\n\", ((struct task_struct *)curtask)->se.load.weight); }",
            vec![vec![tp("sys_enter_openat")]],
        ),
        (
            "cgroup_path",
            "u:/bin/sh:main { @[cgroup_path(cgroup)] = count(); \
             printf(\"%s\\n\", cgroup_path(cgroup, \"unified\")); }",
            vec![vec![uprobe(false)]],
        ),
        ("bswap", "u:/bin/sh:main { @[bswap(arg0)] = count(); }", vec![vec![uprobe(false)]]),
        ("printf", "BEGIN { printf(\"x\\n\"); }", vec![vec![Probe::Begin]]),
        ("cat", "u:/bin/sh:main { cat(\"/proc/%d/status\", pid); }", vec![vec![uprobe(false)]]),
        ("sizeof", "BEGIN { print(sizeof(comm)); }", vec![vec![Probe::Begin]]),
        ("print", "BEGIN { print(1); }", vec![vec![Probe::Begin]]),
        ("time", "BEGIN { time(); }", vec![vec![Probe::Begin]]),
        ("exit", "BEGIN { exit(); }", vec![vec![Probe::Begin]]),
        ("count", "u:/bin/sh:main { @c = count(); }", vec![vec![uprobe(false)]]),
        ("sum", "u:/bin/sh:main { @c = sum(arg0); }", vec![vec![uprobe(false)]]),
        ("avg", "u:/bin/sh:main { @c = avg(arg0); }", vec![vec![uprobe(false)]]),
        ("min", "u:/bin/sh:main { @c = min(arg0); }", vec![vec![uprobe(false)]]),
        ("max", "u:/bin/sh:main { @c = max(arg0); }", vec![vec![uprobe(false)]]),
        ("stats", "u:/bin/sh:main { @c = stats(arg0); }", vec![vec![uprobe(false)]]),
        ("hist", "u:/bin/sh:main { @c = hist(arg0); }", vec![vec![uprobe(false)]]),
        ("lhist", "u:/bin/sh:main { @c = lhist(arg0, 0, 10, 1); }", vec![vec![uprobe(false)]]),
        (
            "delete",
            "u:/bin/sh:main { @c[1] = count(); delete(@c[arg0]); }",
            vec![vec![uprobe(false)]],
        ),
        (
            "has_key",
            "u:/bin/sh:main { @s[tid] = 0; } ur:/bin/sh:main { if (has_key(@s, tid)) { exit(); } }",
            vec![vec![uprobe(false)], vec![uprobe(true)]],
        ),
        (
            "clear",
            "u:/bin/sh:main { @c = count(); } END { clear(@c); }",
            vec![vec![uprobe(false)], vec![Probe::End]],
        ),
        (
            "zero",
            "u:/bin/sh:main { @c = count(); } END { zero(@c); }",
            vec![vec![uprobe(false)], vec![Probe::End]],
        ),
    ];
    for (name, src, resolved) in samples {
        assert!(super::is_native(name), "{name} is not in NATIVE_HELPERS");
        lowered(src, resolved.clone());
    }
    let listed: Vec<&str> = samples.iter().map(|s| s.0).collect();
    for name in super::NATIVE_HELPERS {
        assert!(listed.contains(name), "{name} is listed native but has no sample here");
    }
    for (name, src) in [
        ("numaid", "u:/bin/sh:main { @[numaid] = count(); }"),
        ("kptr", "u:/bin/sh:main { print(kptr(arg0)); }"),
        ("system", "u:/bin/sh:main { system(\"true\"); }"),
    ] {
        assert!(!super::is_native(name));
        reason(src, vec![vec![uprobe(false)]]);
    }
}

#[test]
fn cgroup_path_keys_and_prints_by_the_id_the_kernel_captures() {
    let p = lowered(
        r#"tracepoint:syscalls:sys_enter_openat { @[cgroup_path(cgroup, "unified")] = count(); printf("%s\n", cgroup_path(cgroup)); }"#,
        vec![vec![tp("sys_enter_openat")]],
    );
    assert_eq!(p.maps[0].key, [KeyKind::CgroupPath { filter: "unified".into() }]);
    let [Stmt::Printf { args, .. }] = &p.probes[0].body[..] else { panic!("{:?}", p.probes) };
    assert!(
        matches!(&args[..], [ir::Expr::CgroupPath { id, filter }]
            if filter == "*" && matches!(**id, ir::Expr::Captured { .. })),
        "{args:?}"
    );
    let why = reason(
        r#"tracepoint:syscalls:sys_enter_openat { print(cgroup_path(cgroup, str(args->filename))); }"#,
        vec![vec![tp("sys_enter_openat")]],
    );
    assert!(why.contains("cgroup_path() with a filter that is not a string literal"), "{why}");
}

#[test]
fn kprobes_lower_like_uprobes_on_kernel_registers() {
    let kprobe = |ret| Probe::Kprobe { function: "vfs_read".into(), offset: 0, ret };
    let entry = lowered(
        r#"kprobe:vfs_read /arg2 > 100/ { printf("%s %d %x\n", func, arg2, reg("ip")); }"#,
        vec![vec![kprobe(false)]],
    );
    let k = &entry.probes[0];
    assert_eq!(
        k.points,
        [AttachPoint::Kprobe { function: "vfs_read".into(), offset: 0, ret: false }]
    );
    assert!(k.predicate.is_none(), "arg2 > 100 runs in the kernel");
    let offsets: Vec<u16> =
        k.config.captures[..k.config.ncaptures as usize].iter().map(|c| c.offset).collect();
    // arg2 is rdx (offset 96 in pt_regs), ip is at 128.
    assert_eq!(offsets, [96, 128]);
    let exit = lowered("kretprobe:vfs_read { @ = hist(retval); }", vec![vec![kprobe(true)]]);
    assert_eq!(
        exit.probes[0].points[0],
        AttachPoint::Kprobe { function: "vfs_read".into(), offset: 0, ret: true }
    );
    assert_eq!(exit.probes[0].config.action, 0, "the histogram stays in the kernel");
    // bpftrace types a kretprobe's retval uint64: keys print unsigned.
    let keyed = lowered("kretprobe:vfs_read { @[retval] = count(); }", vec![vec![kprobe(true)]]);
    assert_eq!(keyed.maps[0].key, [KeyKind::Int { signed: false }]);
    // A string behind a register: user memory first, then kernel memory.
    let text =
        lowered("kprobe:vfs_read { printf(\"%s\\n\", str(arg1)); }", vec![vec![kprobe(false)]]);
    let config = &text.probes[0].config;
    let string = config.captures[..config.ncaptures as usize]
        .iter()
        .find(|c| c.source == source::ANY_STR)
        .expect("a string capture");
    assert_eq!(string.offset, 104, "arg1 is rsi");
    assert!(
        reason("kretprobe:vfs_read { @[arg0] = count(); }", vec![vec![kprobe(true)]])
            .contains("arg0")
    );
}

/// A client tells the kinds of fallback apart by their code, not the words.
#[test]
fn fallbacks_say_what_kind_of_construct_they_are() {
    use super::NotNative;
    let kind = |src: &str, probes: Vec<Vec<Probe>>| match lower(&checked(src, probes)) {
        Ok(_) => panic!("{src} lowered natively"),
        Err(e) => e.kind,
    };
    let open = || vec![vec![tp("sys_enter_openat")]];
    assert_eq!(
        kind("tracepoint:syscalls:sys_enter_openat { @m = 1; for ($kv : @m) { } }", open()),
        NotNative::Loop
    );
    assert_eq!(
        kind("tracepoint:syscalls:sys_enter_openat { @[(int)pid] = count(); }", open()),
        NotNative::Types
    );
    assert_eq!(
        kind("tracepoint:syscalls:sys_enter_openat { @[numaid] = count(); }", open()),
        NotNative::Function
    );
    let kfunc = Probe::Kfunc { function: "f".into(), ret: false };
    assert_eq!(kind("kfunc:f { }", vec![vec![kfunc]]), NotNative::ProbeKind);
    // 17 tracepoints that `probe` tells apart: one more than the slots.
    let src = "tracepoint:sched:t* { @[probe] = count(); }";
    assert_eq!(kind(src, vec![sched(17)]), NotNative::TooManyProbes);
}

fn sched(n: usize) -> Vec<Probe> {
    (0..n).map(|i| Probe::Tracepoint { category: "sched".into(), name: format!("t{i}") }).collect()
}

/// One slot serves any number of a wildcard's tracepoints, attached at
/// each, unless the program tells them apart (`probe`).
#[test]
fn a_wildcards_tracepoints_share_one_slot() {
    let p = lowered("tracepoint:sched:t* { @[comm] = count(); }", vec![sched(40)]);
    assert_eq!(p.probes.len(), 1);
    assert_eq!(p.probes[0].points.len(), 40);
    assert!(p.probes[0].points.iter().all(|a| matches!(a, AttachPoint::Tracepoint { .. })));
    let p = lowered("tracepoint:sched:t* { @[probe] = count(); }", vec![sched(3)]);
    let names: Vec<String> = p.probes.iter().map(|k| k.name.to_string()).collect();
    assert_eq!(names, ["tracepoint:sched:t0", "tracepoint:sched:t1", "tracepoint:sched:t2"]);
    assert_eq!(
        reason(r#"tracepoint:sched:t* { printf("%s\n", probe); }"#, vec![sched(20)]),
        "`probe` where one slot serves 20 tracepoints (at 1:38)"
    );
}

/// `has_key` is a presence lookup, apart from a value read of the same key.
#[test]
fn has_key_reads_presence_in_the_kernel() {
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { @s[tid] = nsecs; } \
         tracepoint:syscalls:sys_exit_openat /has_key(@s, tid)/ { @d = sum(nsecs - @s[tid]); }",
        vec![vec![tp("sys_enter_openat")], vec![tp("sys_exit_openat")]],
    );
    let c = &p.probes[1].config;
    let lookups = &c.lookups[..c.nlookups as usize];
    assert_eq!(lookups.len(), 2, "{lookups:?}");
    assert_eq!(lookups[0].key, lookups[1].key, "one key spec");
    assert_eq!(lookups.iter().map(|l| l.presence).collect::<Vec<_>>(), [1, 0]);
    assert!(p.probes[1].predicate.is_none(), "the predicate is in the kernel");
    let why = reason(
        "tracepoint:syscalls:sys_enter_openat { @c[tid] = count(); } \
         tracepoint:syscalls:sys_exit_openat /has_key(@c, tid)/ { }",
        vec![vec![tp("sys_enter_openat")], vec![tp("sys_exit_openat")]],
    );
    assert!(why.contains("aggregation map @c"), "{why}");
    // In END, maps are asked in user space, aggregations too.
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { @c[tid, 1] = count(); } \
         END { print(has_key(@c, (1, 1))); }",
        vec![vec![tp("sys_enter_openat")], vec![Probe::End]],
    );
    assert!(
        matches!(&p.end[0][..], [Stmt::Print(ir::Expr::HasKey { map: 0, key })] if key.len() == 2),
        "{:?}",
        p.end
    );
    // Lookups run before computed values: a computed key would be stale.
    for read in ["has_key(@s, tid + 1)", "@s[tid / 2]", "@s[1]"] {
        let why = reason(
            &format!(
                "tracepoint:syscalls:sys_enter_openat {{ @s[tid] = 1; }} \
                 tracepoint:syscalls:sys_exit_openat {{ @r = sum({read}); }}"
            ),
            vec![vec![tp("sys_enter_openat")], vec![tp("sys_exit_openat")]],
        );
        assert!(why.contains("reading @s under a computed key"), "{read}: {why}");
    }
}

/// `t.N` picks a tuple element, typed as that element; an index past the
/// end or on a non-tuple falls back, saying so.
#[test]
fn tuple_elements_by_index() {
    use crate::ir::Expr as E;
    let p = lowered(
        r#"BEGIN { $t = (1, "a"); $u = ($t, 2); printf("%s %d\n", $u.0.1, $t.0); }"#,
        vec![vec![Probe::Begin]],
    );
    let Some(Stmt::Printf { args, .. }) = p.begin[0].last() else { panic!("{:?}", p.begin) };
    assert!(
        matches!(&args[0], E::TupleIndex(inner, 1) if matches!(**inner, E::TupleIndex(_, 0))),
        "{args:?}"
    );
    assert!(matches!(&args[1], E::TupleIndex(_, 0)), "{args:?}");
    let why = reason("BEGIN { $t = (1, 2); print($t.2); }", vec![vec![Probe::Begin]]);
    assert!(why.contains("tuple index 2 is past the end of a 2-tuple"), "{why}");
    let why = reason("BEGIN { $t = 1; print($t.0); }", vec![vec![Probe::Begin]]);
    assert!(why.contains("`.0` on a value that is not a tuple"), "{why}");
}

/// Integer casts run in the kernel: a mask truncates, two shifts sign-extend.
#[test]
fn integer_casts_run_in_the_kernel() {
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat /(uint8)pid == 1 && (int16)args->flags < 0/ { @[(int32)pid] = count(); }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let c = &p.probes[0].config;
    let codes: Vec<u16> = c.ops.iter().map(|o| o.code).collect();
    let cast_u8 = [op::VALUE, op::IMM, op::AND];
    let cast_i16 = [op::VALUE, op::IMM, op::SHL, op::IMM, op::SAR];
    assert!(codes.windows(3).any(|w| w == cast_u8), "{codes:?}");
    assert!(codes.windows(5).any(|w| w == cast_i16), "{codes:?}");
    assert!(p.probes[0].predicate.is_none(), "the whole predicate is in the kernel");
    assert_eq!(p.maps[0].key, [KeyKind::Int { signed: true }]);
}

/// An offset or address the checker let through reaches the attach point
/// whole, and the listing (`mcptrace plan --emit slots`) shows it.
#[test]
fn uprobe_offsets_and_addresses_reach_the_attach_point() {
    for location in
        [UserLocation::Symbol { name: "readline".into(), offset: 4 }, UserLocation::Address(0x1234)]
    {
        let probe = Probe::Uprobe { binary: "/bin/bash".into(), location, ret: false };
        let p = lowered("u:/bin/bash:readline+4 { @ = count(); }", vec![vec![probe.clone()]]);
        let Probe::Uprobe { location, .. } = probe else { unreachable!() };
        assert!(
            matches!(&p.probes[0].points[0], AttachPoint::Uprobe { location: l, .. } if *l == location)
        );
        let text = crate::ir::listing::listing(&p);
        assert!(text.contains(&format!("at uprobe /bin/bash:{location}\n")), "{text}");
    }
    // Nothing names the function at an address: `func` there falls back.
    let at = Probe::Uprobe {
        binary: "/bin/bash".into(),
        location: UserLocation::Address(0x1234),
        ret: false,
    };
    let why = reason(r#"u:/bin/bash:0x1234 { printf("%s\n", func); }"#, vec![vec![at]]);
    assert!(why.contains("`func` outside probes of a named function"), "{why}");
}

#[test]
fn stack_limits_and_two_argument_delete() {
    let main = UserLocation::Symbol { name: "main".into(), offset: 0 };
    let uprobe = vec![vec![Probe::Uprobe { binary: "/bin/sh".into(), location: main, ret: false }]];
    let p = lowered(
        "u:/bin/sh:main { @k[kstack(3)] = count(); @u[ustack(perf, 7), kstack] = count(); \
         printf(\"%s\", ustack(2)); }",
        uprobe.clone(),
    );
    let by_name = |n: &str| p.maps.iter().find(|m| m.name == n).unwrap();
    let (bpftrace, perf) = (StackMode::Bpftrace, StackMode::Perf);
    assert_eq!(by_name("@k").key, [KeyKind::KStack { depth: 3, mode: bpftrace }]);
    let u =
        [KeyKind::UStack { depth: 7, mode: perf }, KeyKind::KStack { depth: 127, mode: bpftrace }];
    assert_eq!(by_name("@u").key, u);
    assert!(matches!(
        &p.probes[0].body[..],
        [Stmt::Printf { args, .. }] if matches!(args[..], [ir::Expr::Stack { depth: 2, .. }])
    ));
    let p = lowered("u:/bin/sh:main { @s[arg0, tid] = nsecs; delete(@s, (arg0, tid)); }", uprobe);
    let c = &p.probes[0].config;
    let kinds: Vec<u16> = c.map_ops[..c.nmap_ops as usize].iter().map(|m| m.kind).collect();
    assert_eq!(kinds[1], map_op::DELETE);
}

/// `for` runs its passes in user space: over a map in END, over a range in
/// any probe; a map update in a pass, a map walked in a kernel probe, or a
/// map update after `return` falls back.
#[test]
fn for_loops_run_in_user_space() {
    let enter = || vec![tp("sys_enter_openat")];
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { @m[pid, comm] = count(); \
         for ($i : 0..args.flags) { if ($i == 2) { continue } printf(\"%d\\n\", $i); } } \
         END { for ($kv : @m) { printf(\"%d %s %d\\n\", $kv.0.0, $kv.0.1, $kv.1); break; } }",
        vec![enter(), vec![Probe::End]],
    );
    assert!(matches!(p.probes[0].body[..], [Stmt::ForRange { .. }]), "{:?}", p.probes[0].body);
    let [Stmt::ForMap { map, body, .. }] = &p.end[0][..] else { panic!("{:?}", p.end) };
    assert_eq!(p.maps[usize::from(*map)].name, "@m");
    assert!(matches!(body[..], [Stmt::Printf { .. }, Stmt::Break]));
    for (src, want) in [
        (
            "tracepoint:syscalls:sys_enter_openat { @c[0] = count(); \
             for ($i : 0..3) { @c[$i] = count(); } }",
            "map @c is used in the kernel here, but updated in user space",
        ),
        (
            "tracepoint:syscalls:sys_enter_openat { @m[1] = 1; for ($kv : @m) { } }",
            "`for` over a map in a kernel probe is not native yet",
        ),
        (
            "tracepoint:syscalls:sys_enter_openat { @h = hist(pid); } END { for ($kv : @h) { } }",
            "`for` over @h, an avg/stats/hist map, is not native yet",
        ),
        ("END { for ($kv : @m) { } } tracepoint:syscalls:sys_enter_openat { @m = 1; }", "before"),
        ("BEGIN { break }", "`break`/`continue` outside a loop"),
    ] {
        let probes = src
            .split(" } ")
            .map(|p| {
                if p.starts_with("trace") {
                    enter()
                } else if p.starts_with("END") {
                    vec![Probe::End]
                } else {
                    vec![Probe::Begin]
                }
            })
            .collect();
        let why = reason(src, probes);
        assert!(why.contains(want), "{src}: {why}");
    }
}

/// `while` runs in user space like `for`: passes may print and assign,
/// not update maps in a kernel probe.
#[test]
fn while_loops_run_in_user_space() {
    let p = lowered(
        "BEGIN { $i = 0; while ($i < 3) { $i++; if ($i == 2) { break } } print($i) }",
        vec![vec![Probe::Begin]],
    );
    assert!(matches!(p.begin[0][..], [Stmt::Assign { .. }, Stmt::While { .. }, Stmt::Print(_)]));
    // A map the passes update is kept in user space, which runs them.
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { $i = 0; while ($i < 3) { @c = count(); $i++ } }",
        vec![vec![tp("sys_enter_openat")]],
    );
    assert!(p.maps[0].in_user_space, "{:?}", p.maps);
    assert_eq!(p.probes[0].config.nmap_ops, 0);
}

/// BEGIN and END run in the tracing process: their builtins read it.
#[test]
fn begin_builtins_read_the_tracing_process() {
    use crate::ir::{Expr, TracerBuiltin};
    let p =
        lowered(r#"BEGIN { printf("%s %d %d\n", comm, pid, nsecs); }"#, vec![vec![Probe::Begin]]);
    let [Stmt::Printf { args, .. }] = &p.begin[0][..] else { panic!("{:?}", p.begin) };
    let want = [TracerBuiltin::Comm, TracerBuiltin::Pid, TracerBuiltin::Nsecs];
    assert!(
        args.iter().zip(want).all(|(a, w)| matches!(a, Expr::Tracer(b) if *b == w)),
        "{args:?}"
    );
    // In a kernel probe they stay the event's.
    let k = lowered(
        "tracepoint:syscalls:sys_enter_openat { printf(\"%d\\n\", pid); }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let [Stmt::Printf { args, .. }] = &k.probes[0].body[..] else { panic!() };
    assert!(matches!(args[0], Expr::Captured { .. }));
}

/// `unroll` loops in user space, and repeats a body that updates maps in
/// the kernel, up to what a slot holds.
#[test]
fn unroll_repeats_kernel_updates_and_loops_in_user_space() {
    let p = lowered("BEGIN { $i = 0; unroll(3) { $i++; } print($i) }", vec![vec![Probe::Begin]]);
    assert!(
        matches!(
            p.begin[0][..],
            [Stmt::Assign { .. }, Stmt::Unroll { count: 3, .. }, Stmt::Print(_)]
        ),
        "{:?}",
        p.begin
    );
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { unroll(2) { @c[pid] = count(); printf(\"x\\n\"); } }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let k = &p.probes[0];
    let kinds: Vec<u16> =
        k.config.map_ops[..k.config.nmap_ops as usize].iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [map_op::COUNT, map_op::COUNT]);
    let [Stmt::Unroll { count: 1, body }] = &k.body[..] else { panic!("{:?}", k.body) };
    assert!(matches!(body[..], [Stmt::Printf { .. }, Stmt::Printf { .. }]));
    let why = reason(
        "tracepoint:syscalls:sys_enter_openat { unroll(9) { @c = count(); } }",
        vec![vec![tp("sys_enter_openat")]],
    );
    assert!(why.contains("map updates"), "{why}");
}

/// `bswap` swaps as many bytes as bpftrace 0.17 types its argument with, in
/// user space and in the kernel.
#[test]
fn bswap_swaps_the_width_of_its_argument() {
    use crate::ir::{Expr as E, UnOp};
    let p = lowered(
        "BEGIN { $x = (uint16)0x1122; printf(\"%x %x %x %x %x %x\\n\", bswap($x), \
         bswap((int32)0x11223344), bswap(0x1122), bswap((uint8)7), bswap(-$x), bswap($x + 1)); }",
        vec![vec![Probe::Begin]],
    );
    let [_, Stmt::Printf { args, .. }] = &p.begin[0][..] else { panic!("{:?}", p.begin) };
    let widths: Vec<u16> = args
        .iter()
        .map(|a| match a {
            E::Unary(UnOp::Bswap(bytes), _) => *bytes,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(widths, [2, 4, 8, 1, 2, 8]);
    // A variable keeps the width of its first value, as bpftrace types it.
    let p = lowered(
        "BEGIN { $z = 5; $z = (uint16)3; $y = (uint16)3; $y = 5; print(bswap($z)); print(bswap($y)); }",
        vec![vec![Probe::Begin]],
    );
    let widths: Vec<u16> = p.begin[0]
        .iter()
        .filter_map(|s| match s {
            Stmt::Print(E::Unary(UnOp::Bswap(bytes), _)) => Some(*bytes),
            _ => None,
        })
        .collect();
    assert_eq!(widths, [8, 2]);
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat /bswap((uint16)args->flags) == 0x100/ \
         { @[bswap(args->flags)] = count(); }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let c = &p.probes[0].config;
    let swaps: Vec<u16> = c.ops.iter().filter(|o| o.code == op::BSWAP).map(|o| o.arg).collect();
    assert_eq!(swaps, [2, 8], "the predicate's, then the key's (the field is 8 bytes)");
}

/// Config keys the native engine honors run natively (print_maps_on_exit
/// reaches the program); others fall back naming the key.
#[test]
fn config_settings_are_honored_or_named() {
    let p = lowered(
        "config = { print_maps_on_exit = false; perf_rb_pages = 64 } BEGIN { exit(); }",
        vec![vec![Probe::Begin]],
    );
    assert!(!p.print_maps_on_exit);
    assert!(lowered("BEGIN { exit(); }", vec![vec![Probe::Begin]]).print_maps_on_exit);
    let why = reason("config = { max_strlen = 200 } BEGIN { }", vec![vec![Probe::Begin]]);
    assert!(why.contains("max_strlen = 200") && why.contains("at 1:12"), "{why}");
}

/// One kprobe slot serves a wildcard's functions, however many; a hit's
/// instruction pointer names the function for `func` and `probe`.
#[test]
fn a_kprobe_wildcard_shares_one_slot() {
    let kprobes = |n: usize, ret: bool| -> Vec<Probe> {
        (0..n).map(|i| Probe::Kprobe { function: format!("vfs_{i}"), offset: 0, ret }).collect()
    };
    let p = lowered(
        "kprobe:vfs_* { @[func] = count(); @p[probe] = count(); printf(\"%s %s\\n\", func, probe); }",
        vec![kprobes(40, false)],
    );
    assert_eq!(p.probes.len(), 1);
    assert_eq!(p.probes[0].points.len(), 40);
    assert!(matches!(p.probes[0].name, ProbeName::Functions { more: 39, .. }));
    let by_name = |n: &str| p.maps.iter().find(|m| m.name == n).unwrap();
    assert_eq!(by_name("@").key, [KeyKind::Symbol { user: false }]);
    assert_eq!(by_name("@p").key, [KeyKind::FunctionProbe]);
    let [Stmt::Printf { args, .. }] = &p.probes[0].body[..] else { panic!() };
    assert!(matches!(args[..], [ir::Expr::Symbol { pid: None, .. }, ir::Expr::Probe]));
    // At a return nothing says whose it is: a slot each, while they last.
    let why = reason("kretprobe:vfs_* { @[func] = count(); }", vec![kprobes(17, true)]);
    assert!(why.contains("more than 16 kretprobe probes"), "{why}");
}

/// In BEGIN and END maps are written and read from user space, under keys
/// stored as a probe stores them; aggregations there stay on bpftrace.
#[test]
fn begin_and_end_write_and_read_keyed_state() {
    let p = lowered(
        "BEGIN { @m[\"a\", 1] = 2; @m[\"a\", 1] -= 1; delete(@m[\"b\", 2]); } \
         tracepoint:syscalls:sys_enter_openat { @m[str(args->filename), tid] = 3; } \
         END { print(@m[\"a\", 1]); }",
        vec![vec![Probe::Begin], vec![tp("sys_enter_openat")], vec![Probe::End]],
    );
    let info = &p.maps[0];
    assert_eq!(info.agg, MapAgg::Value { signed: true });
    assert_eq!(info.key, [KeyKind::Str { words: 8 }, KeyKind::Int { signed: true }]);
    assert!(
        matches!(
            &p.begin[0][..],
            [
                Stmt::MapStore { map: 0, add: false, .. },
                Stmt::MapStore { map: 0, add: true, value: ir::Expr::Unary(UnOp::Neg, _), .. },
                Stmt::MapDelete { map: 0, .. },
            ]
        ),
        "{:?}",
        p.begin
    );
    assert!(matches!(&p.end[0][..], [Stmt::Print(ir::Expr::MapValue { map: 0, .. })]));
    // Aggregations there are kept in user space.
    let p = lowered("BEGIN { @c = count(); }", vec![vec![Probe::Begin]]);
    assert!(p.maps[0].in_user_space && p.maps[0].agg == MapAgg::Count);
}

/// Struct and union definitions only supply `sizeof`s, which the checker
/// has made constants: they lower; a use of the type that reads memory
/// keeps the program on bpftrace by itself, and enum and typedef
/// definitions keep it there.
#[test]
fn struct_definitions_lower_and_their_other_uses_do_not() {
    let open = || vec![vec![tp("sys_enter_openat")]];
    lowered(
        "struct Foo { int x; }\nunion U { char c; }\nBEGIN { print((uint64)4); }",
        vec![vec![Probe::Begin]],
    );
    assert_eq!(
        reason(
            "struct Foo { int x; }\ntracepoint:syscalls:sys_enter_openat \
             { @[((struct Foo *)args->filename)->x] = count(); }",
            open()
        ),
        "struct Foo has no member `x` in the kernel's BTF (at 2:42)"
    );
    assert_eq!(
        reason(
            "struct Foo { int f:3; }\nBEGIN { print(sizeof(struct Foo)); }",
            vec![vec![Probe::Begin]]
        ),
        "`sizeof` of this type is not native yet (at 2:15)"
    );
    for definition in ["enum E { A }", "typedef int myint;"] {
        assert_eq!(
            reason(&format!("{definition}\nBEGIN {{ print(1); }}"), vec![vec![Probe::Begin]]),
            "C definitions other than structs and unions (enums, typedefs, preprocessor \
             conditionals) are not native yet (at 1:1)"
        );
    }
}

/// A variable stands for the expression last assigned to it where the
/// kernel needs it, while statements run straight: not after a branch or
/// loop that may assign it, and not for a read a pass of `unroll` makes
/// after the previous pass's update.
#[test]
fn variables_stand_for_their_expressions_in_the_kernel() {
    let one = || vec![vec![tp("sys_enter_openat")]];
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { $s = @t[tid]; $k = tid; @t[$k] = 5; \
         @u = sum($s + 1); }",
        one(),
    );
    let c = &p.probes[0].config;
    assert_eq!(c.nlookups, 1, "the read the variable holds, before the update");
    assert_eq!(c.lookups[0].key, c.map_ops[0].key, "@t[$k] is @t[tid]: one key spec");
    for (src, at) in [
        ("$x = 1; if (pid > 0) { $x = 2; } @a[$x] = count();", "`$x`"),
        ("$x = 1; while ($x < 3) { $x++; } @a[$x] = count();", "`$x`"),
        ("$x = 1; unroll(2) { @a[$x] = count(); $x++; }", "`$x`"),
    ] {
        let why = reason(&format!("tracepoint:syscalls:sys_enter_openat {{ {src} }}"), one());
        assert!(why.contains("map key") && why.contains("not native"), "{src}: {why} ({at})");
    }
    let why = reason(
        "tracepoint:syscalls:sys_enter_openat { unroll(2) { @m[tid] = @m[tid] + 1; } }",
        one(),
    );
    assert!(why.contains("reading @m after updating it"), "{why}");
}

/// BTF-typed access: `->` loads through a pointer at the member's offset,
/// `.` moves within a record; what is not an integer or a pointer, a
/// tuple's element and a struct the kernel does not know stay apart.
#[test]
fn typed_access_loads_members_at_their_btf_offsets() {
    use super::btf_access::is_typed_access;
    use crate::lang::parse;
    let expr = |src: &str| {
        let program = parse(&format!("BEGIN {{ print({src}); }}")).unwrap();
        let crate::lang::ast::StmtKind::Expr(call) = &program.probes[0].body.stmts[0].kind else {
            panic!()
        };
        let crate::lang::ast::ExprKind::Call { args, .. } = &call.kind else { panic!() };
        args[0].clone()
    };
    assert!(is_typed_access(&expr("curtask->pid")));
    assert!(is_typed_access(&expr("((struct sock *)arg0)->sk_family")));
    assert!(!is_typed_access(&expr("args->filename")));
    assert!(!is_typed_access(&expr("$t.0")));
    let p = lowered(
        "tracepoint:syscalls:sys_enter_openat { @[curtask->real_parent->tgid] = count(); }",
        vec![vec![tp("sys_enter_openat")]],
    );
    let c = &p.probes[0].config;
    let loads: Vec<_> = c.ops.iter().filter(|o| o.code == op::LOAD).collect();
    assert_eq!(loads.len(), 2, "{:?}", &c.ops[..8]);
    assert_eq!(loads[0].arg, 8, "real_parent: an 8-byte kernel pointer");
    assert_eq!(loads[1].arg, 4 | op::LOAD_SIGNED, "tgid: a pid_t");
    let why = reason(
        "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", curtask->comm); }",
        vec![vec![tp("sys_enter_openat")]],
    );
    assert!(why.contains("an array member read through a pointer"), "{why}");
}
