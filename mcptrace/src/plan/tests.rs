use std::collections::BTreeMap;

use super::{Backend, Fallback, plan};
use crate::{
    check::{Checked, CheckedProbe},
    lang::parse,
};

fn checked(src: &str) -> Checked {
    let program = parse(src).unwrap();
    let probes = program
        .probes
        .iter()
        .map(|p| CheckedProbe {
            attach_points: p.attach_points.iter().map(|a| vec![a.text()]).collect(),
        })
        .collect();
    Checked { program, probes, formats: BTreeMap::new() }
}

/// The fallback text for `src`.
fn reason(src: &str) -> String {
    plan(&checked(src)).fallback.expect("always falls back today").to_string()
}

#[test]
fn programs_in_the_subset_fall_back_only_for_the_missing_backend() {
    for src in [
        "BEGIN { printf(\"hi\\n\"); exit() }",
        "tracepoint:syscalls:sys_enter_openat /pid == 1 && !(comm == \"x\") || uid >= 1000/ { printf(\"%s %d\\n\", str(args->filename), args.flags) }",
        "uretprobe:/bin/bash:readline { $s = str(retval); if ($s != \"\") { printf(\"%s\\n\", $s) } else { time() } }",
        "interval:s:1 { print(nsecs) } profile:hz:99 { printf(\"%d\\n\", cpu) } END { }",
        "rawtracepoint:sched_switch { printf(\"%d %d\\n\", arg0, arg5) }",
    ] {
        let p = plan(&checked(src));
        assert_eq!(p.backend, Backend::Bpftrace);
        assert_eq!(p.fallback, Some(Fallback::NativeUnavailable), "{src}");
    }
}

#[test]
fn constructs_outside_the_subset_are_named_with_their_position() {
    let cases = [
        (
            "tracepoint:sched:sched_switch { @[kstack] = count() }",
            "`@[kstack]` at 1:33: maps are not native yet",
        ),
        (
            "tracepoint:sched:sched_switch { printf(\"%s\", kstack) }",
            "`kstack` at 1:46: stack capture is not native yet",
        ),
        ("kprobe:vfs_read { }", "`kprobe:vfs_read` at 1:1: kprobe probes are not native yet"),
        ("BEGIN { $x = 1 + 2 }", "`1 + 2` at 1:14: operator `+` is not native yet"),
        ("BEGIN { $x = -1 }", "`-1` at 1:14: unary `-` is not native yet"),
        ("BEGIN { $x = 1; $x += 1 }", "`+=` at 1:17: compound assignment is not native yet"),
        ("BEGIN { while (1) { } }", "`while` at 1:9: loops are not native yet"),
        ("BEGIN { unroll(2) { } }", "`unroll` at 1:9: loops are not native yet"),
        ("BEGIN { return }", "`return` at 1:9: jump statements are not native yet"),
        ("BEGIN { printf(\"%d\", $1) }", "`$1` at 1:22: positional parameters are not native yet"),
        ("BEGIN { print((1, 2)) }", "`(1, 2)` at 1:15: tuples are not native yet"),
        ("BEGIN { $x = (uint8)1 }", "`(uint8)1` at 1:14: casts are not native yet"),
        (
            "BEGIN { $x = curtask->pid }",
            "`curtask->pid` at 1:14: struct field access needs BTF-typed reads: not native yet",
        ),
        (
            "uprobe:/bin/bash:readline { $x = arg6 }",
            "`arg6` at 1:34: arguments above arg5 are not native yet",
        ),
        ("BEGIN { $x = rand }", "`rand` at 1:14: builtin `rand` is not native yet"),
        ("BEGIN { $x = ksym(1) }", "`ksym(1)` at 1:14: `ksym()` is not native yet"),
        ("BEGIN { clear(@x) }", "`clear(@x)` at 1:9: map function `clear()` is not native yet"),
        ("BEGIN { $x = 1 ? 2 : 3 }", "`1 ? 2 : 3` at 1:14: the ternary operator is not native yet"),
        (
            "#include <linux/fs.h>\nBEGIN { }",
            "`#include <linux/fs.h>` at 1:1: #include and C definitions are not native yet",
        ),
    ];
    for (src, expected) in cases {
        assert_eq!(reason(src), expected, "{src}");
    }
}

#[test]
fn the_first_construct_in_source_order_wins() {
    assert_eq!(
        reason("BEGIN /rand/ { @x = 1 } software:faults:1 { }"),
        "`rand` at 1:8: builtin `rand` is not native yet"
    );
}

#[test]
fn attach_count_comes_from_the_expansion() {
    assert_eq!(plan(&checked("BEGIN { } END { } interval:s:1 { }")).attach_count, 3);
}
