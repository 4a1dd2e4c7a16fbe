//! Checker rules against a fake host, so they hold whatever machine runs them.

use super::{CheckErrorKind, Checked, Host, HostError, check, fake_host::FakeHost};
use crate::{
    lang::parse,
    policy::{Policy, Rule},
    probe::{Probe, UserLocation},
};

fn ok(src: &str) -> Checked {
    let program = parse(src).unwrap_or_else(|e| panic!("{}", e.render(src, "stdin")));
    check(program, &FakeHost, &Policy::default())
        .unwrap_or_else(|e| panic!("{}", e.render(src, "stdin")))
}

fn errors(src: &str) -> Vec<CheckErrorKind> {
    let program = parse(src).unwrap_or_else(|e| panic!("{}", e.render(src, "stdin")));
    match check(program, &FakeHost, &Policy::default()) {
        Ok(_) => panic!("{src}: accepted"),
        Err(e) => e.0.into_iter().map(|e| e.kind).collect(),
    }
}

#[test]
fn wildcards_expand_and_count() {
    let checked =
        ok("BEGIN { } tracepoint:syscalls:sys_enter_* { } uprobe:bash:readline* { } END { }");
    assert_eq!(checked.attach_count(), 6);
    let names: Vec<String> = checked.probes[1].probes().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_enter_read"]
    );
    let readline = UserLocation::Symbol { name: "readline".into(), offset: 0 };
    assert_eq!(
        checked.probes[2].attach_points[0][0],
        Probe::Uprobe { binary: "/bin/bash".into(), location: readline, ret: false }
    );
    assert_eq!(ok("rawtracepoint:sched_switch { }").attach_count(), 1);
    assert_eq!(ok("profile:hz:99 { } interval:s:1 { } software:faults:10 { }").attach_count(), 3);
}

/// A uprobe inside a function or at an address may split an instruction;
/// nothing here can check, so only the operator's --allow-unsafe lets it by.
#[test]
fn uprobe_offsets_and_addresses_need_allow_unsafe() {
    for (src, written) in [
        ("uprobe:bash:readline+4 { }", "uprobe:/bin/bash:readline+4"),
        ("uprobe:bash:readline+0x10 { }", "uprobe:/bin/bash:readline+16"),
        ("uprobe:bash:0x1234 { }", "uprobe:/bin/bash:0x1234"),
        ("uretprobe:bash:4660 { }", "uretprobe:/bin/bash:0x1234"),
    ] {
        assert_eq!(errors(src), [CheckErrorKind::UncheckedUprobe(written.into())], "{src}");
        let allowed = Policy { allow_unsafe: true, ..Policy::default() };
        let checked = check(parse(src).unwrap(), &FakeHost, &allowed).unwrap();
        assert_eq!(checked.all_probes().next().unwrap().to_string(), written);
    }
    ok("uprobe:bash:readline+0 { }");
    assert!(matches!(
        &errors("uretprobe:bash:readline+4 { }")[0],
        CheckErrorKind::BadAttachPoint(_)
    ));
}

#[test]
fn missing_probes_are_reported() {
    assert_eq!(
        errors("tracepoint:syscalls:nope { }"),
        [CheckErrorKind::NoMatch { kind: "tracepoint", pattern: "syscalls:nope".into() }]
    );
    assert!(matches!(errors("uprobe:bash:nope { }")[0], CheckErrorKind::NoMatch { .. }));
    assert!(matches!(errors("uprobe:nobinary:f { }")[0], CheckErrorKind::Host { .. }));
    assert!(matches!(errors("tracepoint:onlyone { }")[0], CheckErrorKind::BadAttachPoint(_)));
    assert!(matches!(errors("interval:parsec:1 { }")[0], CheckErrorKind::BadAttachPoint(_)));
    assert!(matches!(errors("interval:s:0 { }")[0], CheckErrorKind::BadAttachPoint(_)));
    assert!(matches!(errors("software:nope:1 { }")[0], CheckErrorKind::BadAttachPoint(_)));
}

#[test]
fn unsupported_kinds_suggest_an_equivalent() {
    let [CheckErrorKind::Unsupported { kind, suggestion, .. }] =
        &errors("kprobe:do_sys_openat2 { }")[..]
    else {
        panic!("not one Unsupported error")
    };
    assert_eq!(*kind, "kprobe");
    assert_eq!(suggestion.as_deref(), Some("tracepoint:syscalls:sys_enter_openat"));
    let [CheckErrorKind::Unsupported { suggestion, .. }] = &errors("kretprobe:vfs_read { }")[..]
    else {
        panic!()
    };
    assert_eq!(suggestion.as_deref(), Some("tracepoint:syscalls:sys_exit_read"));
}

#[test]
fn kernel_functions_that_cannot_be_probed_are_named() {
    let names =
        |src: &str| -> Vec<String> { ok(src).all_probes().map(ToString::to_string).collect() };
    // The blacklisted do_int3 is left out of the wildcard.
    assert_eq!(names("kfunc:do_* { }"), ["kfunc:do_sys_openat2"]);
    assert_eq!(
        errors("kfunc:do_int3 { }"),
        [CheckErrorKind::Blacklisted { function: "do_int3".into() }]
    );
    assert_eq!(
        errors("kretfunc:inlined_away { }"),
        [CheckErrorKind::NoKernelFunction { function: "inlined_away".into() }]
    );
    assert!(matches!(errors("kfunc:nothing_* { }")[0], CheckErrorKind::NoMatch { .. }));
}

#[test]
fn tracepoint_fields_exist() {
    let checked = ok(
        "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->filename)); @[args.flags] = count() }",
    );
    assert!(checked.formats.contains_key("syscalls:sys_enter_openat"));
    let [CheckErrorKind::UnknownField { field, available, .. }] =
        &errors("tracepoint:syscalls:sys_enter_openat { @ = args->nope }")[..]
    else {
        panic!()
    };
    assert_eq!(field, "nope");
    assert_eq!(available, &["__syscall_nr", "dfd", "filename", "flags"]);
    // With a wildcard, every matched tracepoint must have the field.
    ok("tracepoint:syscalls:sys_exit_* { @ = hist(args->ret) }");
    assert!(matches!(
        errors("tracepoint:syscalls:sys_e*_openat { @ = args->flags }")[0],
        CheckErrorKind::UnknownField { .. }
    ));
}

#[test]
fn builtins_fit_the_probe_kind() {
    ok("uretprobe:bash:readline { @ = retval } uprobe:bash:readline { @a = arg0 }");
    let [CheckErrorKind::NotValidHere { name, kind, .. }] =
        &errors("uprobe:bash:readline { @ = retval }")[..]
    else {
        panic!()
    };
    assert_eq!((name.as_str(), *kind), ("retval", "uprobe"));
    assert!(matches!(
        errors("tracepoint:sched:sched_switch { @ = arg0 }")[0],
        CheckErrorKind::NotValidHere { .. }
    ));
    assert!(matches!(errors("BEGIN { @ = func }")[0], CheckErrorKind::NotValidHere { .. }));
    assert!(matches!(
        &errors("BEGIN { @ = nonsense }")[..],
        [CheckErrorKind::UnknownIdentifier { name, .. }] if name == "nonsense"
    ));
}

#[test]
fn calls_match_the_catalog() {
    assert_eq!(errors("BEGIN { frob() }"), [CheckErrorKind::UnknownFunction("frob".into())]);
    assert!(matches!(
        &errors("BEGIN { @ = lhist(1, 2) }")[0],
        CheckErrorKind::ArgumentCount { got: 2, expected, .. } if expected == "4"
    ));
    assert!(matches!(&errors("BEGIN { exit(1) }")[0], CheckErrorKind::ArgumentCount { .. }));
    assert!(matches!(
        &errors("BEGIN { system(\"ls\") }")[..],
        [CheckErrorKind::Policy(d)] if d.rule == Rule::AllowUnsafe && d.what.contains("system()")
    ));
    let program = parse("BEGIN { system(\"ls\") }").unwrap();
    assert!(check(program, &FakeHost, &Policy { allow_unsafe: true, ..Policy::default() }).is_ok());
    // Reading files: kernel state by default, anything with --allow-sensitive.
    assert!(matches!(
        &errors("BEGIN { cat(\"/etc/shadow\") }")[..],
        [CheckErrorKind::Policy(d)] if d.rule == Rule::CatPaths
            && d.what.contains("outside /proc and /sys")
    ));
    ok("BEGIN { cat(\"/proc/loadavg\") }");
    let program = parse("BEGIN { cat(\"/etc/shadow\") }").unwrap();
    assert!(check(program, &FakeHost, &Policy::default().allowing_sensitive()).is_ok());
    assert_eq!(errors("BEGIN { count() }"), [CheckErrorKind::NotAssignedToMap("count".into())]);
    assert_eq!(errors("BEGIN { $x = hist(1) }"), [CheckErrorKind::NotAssignedToMap("hist".into())]);
    assert!(matches!(
        &errors("BEGIN { @x = 1; delete(1) }")[0],
        CheckErrorKind::BadArgument { .. }
    ));
    assert!(matches!(
        &errors("BEGIN { @x[1] = 1; clear(@x[1]) }")[0],
        CheckErrorKind::BadArgument { .. }
    ));
    assert!(matches!(&errors("BEGIN { time(1) }")[0], CheckErrorKind::BadArgument { .. }));
    ok(
        "BEGIN { @x[1] = count(); @s = stats(2); delete(@x[1]); clear(@x); zero(@s); print(@x); time(\"%H\") }",
    );
}

#[test]
fn printf_arguments_match_the_format() {
    ok("BEGIN { printf(\"%d %s %%\\n\", pid, comm) }");
    assert_eq!(
        errors("BEGIN { printf(\"%d %d\\n\", pid) }"),
        [CheckErrorKind::FormatArgs { name: "printf".into(), conversions: 2, args: 1 }]
    );
    // As in bpftrace, what is not a conversion is text: `%q` and a lone `%`
    // take no argument.
    ok("BEGIN { printf(\"%q 50%\\n\") }");
    assert_eq!(
        errors("BEGIN { printf(\"%q\", 1) }"),
        [CheckErrorKind::FormatArgs { name: "printf".into(), conversions: 0, args: 1 }]
    );
    assert!(matches!(&errors("BEGIN { printf(comm) }")[0], CheckErrorKind::BadArgument { .. }));
    // cat() takes a format too (`cat("/proc/%d/status", pid)`).
    ok("BEGIN { cat(\"/proc/%d/status\", pid) }");
    assert_eq!(
        errors("BEGIN { cat(\"/proc/%d/status\") }"),
        [CheckErrorKind::FormatArgs { name: "cat".into(), conversions: 1, args: 0 }]
    );
}

#[test]
fn variables_and_maps_are_defined_before_use() {
    ok("BEGIN { $a = 1; $a += 2; $a++; @m = $a } END { @n = @m; @c++; print(@c) }");
    assert_eq!(errors("BEGIN { @ = $x }"), [CheckErrorKind::UndefinedVariable("x".into())]);
    assert_eq!(errors("BEGIN { $x += 1 }"), [CheckErrorKind::UndefinedVariable("x".into())]);
    assert_eq!(errors("BEGIN { print(@nope) }"), [CheckErrorKind::UndefinedMap("nope".into())]);
    assert_eq!(errors("BEGIN { 1++ }"), [CheckErrorKind::NotAssignable]);
    // A literal must fit the declared integer type; a cast says to truncate.
    ok("BEGIN { let $a: uint16 = 65535; let $b: int8 = -128; let $c: uint16 = (uint16)-1 }");
    assert_eq!(
        errors("BEGIN { let $a: uint16 = -1; let $b: int8 = 128 }"),
        [
            CheckErrorKind::LiteralRange { literal: "-1".into(), ty: "uint16".into() },
            CheckErrorKind::LiteralRange { literal: "128".into(), ty: "int8".into() },
        ]
    );
    // A declaration defines the variable, with or without a value.
    ok("BEGIN { let $a: uint8 = 1; let $s: string; let $n; @ = $a; @t = $n; print($s) }");
    assert_eq!(errors("BEGIN { let $a = $b }"), [CheckErrorKind::UndefinedVariable("b".into())]);
    assert!(matches!(
        &errors("BEGIN { let $a = \"x\"; $a = 1 }")[..],
        [CheckErrorKind::ValueKind { name, .. }] if name == "$a"
    ));
}

#[test]
fn every_error_is_reported_in_source_order() {
    let errs = errors("BEGIN { @ = $x; frob(); printf(\"%d\") } tracepoint:x:y { }");
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(matches!(errs[0], CheckErrorKind::UndefinedVariable(_)));
    assert!(matches!(errs[3], CheckErrorKind::NoMatch { .. }));
}

#[test]
fn errors_render_with_their_span() {
    let src = "BEGIN {\n  @ = retval;\n}";
    let err = check(parse(src).unwrap(), &FakeHost, &Policy::default()).unwrap_err();
    let text = err.render(src, "stdin");
    assert!(
        text.starts_with("stdin:2:7-13: ERROR: `retval` is not valid in BEGIN probes"),
        "{text}"
    );
    assert!(text.ends_with("  @ = retval;\n      ^~~~~~"), "{text}");
}

#[test]
fn uprobe_targets_must_be_regular_files() {
    let host = super::SystemHost::default();
    assert!(matches!(host.user_functions("/dev/zero"), Err(HostError::NotAFile(_))));
    assert!(matches!(host.user_functions("/"), Err(HostError::NotAFile(_))));
}

#[test]
fn maps_keep_one_key_count_and_one_value_kind() {
    ok(
        "BEGIN { @x[1] = 1; @x[2] = 3; @c = count(); @c = count(); @s = sum(1); @y = @c; clear(@x); print(@s); @n = 1; @n++; @n += 2; @t = \"a\"; @t = comm }",
    );
    assert_eq!(
        errors("BEGIN { @x[1] = 1; @x[1, 2] = 2 }"),
        [CheckErrorKind::MapKeys { name: "x".into(), expected: 1, got: 2 }]
    );
    assert_eq!(
        errors("BEGIN { @x[1] = 1; @x = 2 }"),
        [CheckErrorKind::MapKeys { name: "x".into(), expected: 1, got: 0 }]
    );
    assert_eq!(
        errors("BEGIN { @x = count(); @x = 1 }"),
        [CheckErrorKind::ValueKind {
            name: "@x".into(),
            existing: "count()".into(),
            new: "integer".into()
        }]
    );
    assert!(matches!(
        &errors("BEGIN { @x = hist(1) } END { @x = count() }")[0],
        CheckErrorKind::ValueKind { .. }
    ));
    assert!(matches!(&errors("BEGIN { @x = 1; @x = \"s\" }")[0], CheckErrorKind::ValueKind { .. }));
    assert_eq!(
        errors("BEGIN { $v = 1; $v = \"s\" }"),
        [CheckErrorKind::ValueKind {
            name: "$v".into(),
            existing: "integer".into(),
            new: "string".into()
        }]
    );
    ok("BEGIN { $v = 1 } END { $v = \"s\" }");
    // Value kinds come from the catalog, for every builtin and call it types.
    assert_eq!(
        errors("BEGIN { @x = elapsed; @x = strftime(\"%H\", nsecs) }"),
        [CheckErrorKind::ValueKind {
            name: "@x".into(),
            existing: "integer".into(),
            new: "string".into()
        }]
    );
    assert!(matches!(
        &errors("tracepoint:sched:sched_switch { @x = kstack; @x = cpu }")[0],
        CheckErrorKind::ValueKind { .. }
    ));
    assert_eq!(
        errors("BEGIN { @x = count(); @x++ }"),
        [CheckErrorKind::AggregationUpdate { name: "x".into(), function: "count".into() }]
    );
    assert!(matches!(
        &errors("BEGIN { @x = sum(1); @x += 1 }")[0],
        CheckErrorKind::AggregationUpdate { .. }
    ));
}

#[test]
fn stacks_take_a_mode_and_a_limit() {
    ok("tracepoint:sched:sched_switch { @[kstack(5)] = count(); @u[ustack(perf, 3)] = count(); \
        printf(\"%s %s\\n\", kstack(bpftrace), ustack()); }");
    let bad = |src: &str| match &errors(src)[..] {
        [CheckErrorKind::BadStack { reason, .. }] => reason.to_string(),
        other => panic!("{src}: {other:?}"),
    };
    assert_eq!(bad("BEGIN { print(kstack(raw)) }"), "unknown stack mode `raw` (bpftrace, perf)");
    assert_eq!(bad("BEGIN { print(ustack(2000)) }"), "the limit must be from 1 to 1024, not 2000");
    assert_eq!(bad("BEGIN { print(kstack(pid)) }"), "unknown stack mode `pid` (bpftrace, perf)");
    assert_eq!(bad("BEGIN { print(kstack(perf, pid)) }"), "the limit must be an integer literal");
    assert!(matches!(
        &errors("BEGIN { print(kstack(perf, 1, 2)) }")[0],
        CheckErrorKind::ArgumentCount { .. }
    ));
    assert!(matches!(
        &errors("tracepoint:sched:sched_switch { @x = kstack(3); @x = cpu }")[0],
        CheckErrorKind::ValueKind { .. }
    ));
}

#[test]
fn delete_takes_the_map_and_key_apart() {
    ok(
        "BEGIN { @m[1] = 1; delete(@m, 1); @n[1, 2] = count(); delete(@n, (1, 2)); delete(@n[3, 4]) }",
    );
    assert!(matches!(
        &errors("BEGIN { @m[1] = 1; delete(@m[1], 2) }")[0],
        CheckErrorKind::BadArgument { .. }
    ));
    assert_eq!(
        errors("BEGIN { @m[1, 2] = 1; delete(@m, 1) }"),
        [CheckErrorKind::MapKeys { name: "m".into(), expected: 2, got: 1 }]
    );
    assert!(matches!(
        &errors("BEGIN { @m[1] = 1; delete(@m, 1, 2) }")[0],
        CheckErrorKind::ArgumentCount { .. }
    ));
    assert_eq!(
        errors("BEGIN { delete(@never, 1) }"),
        [CheckErrorKind::UndefinedMap("never".into())]
    );
}

#[test]
fn newer_probe_forms_expand_like_the_old() {
    use crate::probe::{Rate, RateUnit};
    let checked = ok("begin { } end { } interval:1s { } interval:100ms, i:5us, { } profile:99 { }");
    let probes: Vec<&Probe> = checked.all_probes().collect();
    let every = |unit, count| Probe::Interval(Rate { unit, count });
    assert_eq!(
        probes,
        [
            &Probe::Begin,
            &Probe::End,
            &every(RateUnit::S, 1),
            &every(RateUnit::Ms, 100),
            &every(RateUnit::Us, 5),
            &Probe::Profile(Rate { unit: RateUnit::Hz, count: 99 }),
        ]
    );
    let bad = |src: &str| match &errors(src)[..] {
        [CheckErrorKind::BadAttachPoint(message)] => message.clone(),
        other => panic!("{src}: {other:?}"),
    };
    assert_eq!(bad("interval:1x { }"), "interval:1x: unknown unit `x` (ns, us, ms, s, m, h, d)");
    assert!(bad("interval:1500ns { }").contains("not a whole number of microseconds"));
}

/// bpftrace takes an unroll count only as a literal from 1 to 100.
#[test]
fn unroll_counts_are_literals_from_1_to_100() {
    ok("BEGIN { unroll(1) { } unroll (100) { printf(\"x\\n\") } }");
    assert_eq!(
        errors("BEGIN { unroll(101) { } }"),
        [CheckErrorKind::Unroll("unroll maximum value is 100")]
    );
    assert_eq!(
        errors("BEGIN { unroll(0) { } }"),
        [CheckErrorKind::Unroll("unroll minimum value is 1")]
    );
    assert_eq!(
        errors("BEGIN { unroll(-2) { } }"),
        [CheckErrorKind::Unroll("unroll minimum value is 1")]
    );
    assert_eq!(
        errors("BEGIN { $n = 2; unroll($n) { } }"),
        [CheckErrorKind::Unroll("invalid unroll value: it must be an integer literal")]
    );
}

/// A name that is no builtin or variable is a constant where bpftrace
/// takes one: a macro of the program or its headers, or a kernel enum value.
/// The checked program holds the integer, for both backends.
#[test]
fn constants_become_integers_and_unknown_names_say_where_they_were_sought() {
    use crate::lang::pretty;
    let checked = ok("#define EIGHT (1 << 3)\n#define MASK (EIGHT | 1)\n\
         BEGIN { printf(\"%d %d %d %d\\n\", TCP_ESTABLISHED, TCP_CLOSE, MASK, NEGATIVE_ENUMERATOR); }");
    let text = pretty::program(&checked.program);
    assert!(text.contains("1, 7, 9, -2)"), "{text}");
    let [CheckErrorKind::UnknownIdentifier { unresolved, .. }] =
        &errors("#include <linux/nope.h>\nBEGIN { print(MAP_NOPE) }")[..]
    else {
        panic!("not an unknown identifier");
    };
    assert_eq!(unresolved.missing, ["linux/nope.h"]);
    let message = CheckErrorKind::UnknownIdentifier {
        name: "MAP_NOPE".into(),
        unresolved: unresolved.clone(),
    }
    .to_string();
    assert_eq!(
        message,
        "unknown identifier `MAP_NOPE`: not a builtin, a variable or an enum value of the \
         kernel's BTF, nor an integer macro of <linux/nope.h> (0 header file(s) read); \
         <linux/nope.h> not found on this host (searched /nonexistent/include)"
    );
}

/// A config block's keys and values are checked as bpftrace checks them.
#[test]
fn config_keys_and_values_are_checked() {
    ok("config = { max_strlen = 32; stack_mode = perf } BEGIN { }");
    let kinds = errors("config = { nope = 1; max_strlen = \"x\" } BEGIN { }");
    assert_eq!(kinds.len(), 2);
    assert!(kinds.iter().all(|k| k.code() == "config"), "{kinds:?}");
}

/// `sizeof` of a struct or union, or of a member through a cast pointer, is
/// a uint64 constant from the program's definitions or the kernel's BTF;
/// an unknown record or member is an error; what cannot be sized here
/// (a definition not understood, a header) stays for bpftrace.
#[test]
fn record_sizes_become_constants() {
    use crate::lang::pretty;
    let checked = ok("struct Foo { int x; char c; u64 v; }\n\
         BEGIN { print((sizeof(struct Foo), sizeof(((struct Foo *)0)->c), \
         sizeof(struct task_struct), sizeof(((struct task_struct *)0)->pid))) }");
    let text = pretty::program(&checked.program);
    assert!(text.contains("print(((uint64)16, (uint64)1, (uint64)3264, (uint64)4))"), "{text}");
    for kept in [
        "struct Foo { int f:3; }\nBEGIN { print(sizeof(struct Foo)) }",
        "#include <linux/sched.h>\nBEGIN { print(sizeof(struct task_struct)) }",
    ] {
        let text = pretty::program(&ok(kept).program);
        assert!(text.contains("print(sizeof(struct "), "{text}");
    }
    assert_eq!(
        errors("BEGIN { print(sizeof(struct nope)) }"),
        [CheckErrorKind::UnknownType("struct nope".into())]
    );
    assert_eq!(
        errors("struct Foo { int x; }\nBEGIN { print(sizeof(((struct Foo *)0)->y)) }"),
        [CheckErrorKind::UnknownMember { record: "struct Foo".into(), field: "y".into() }]
    );
}

#[test]
fn usdt_probes_expand_to_their_notes_locations() {
    let names =
        |src: &str| -> Vec<String> { ok(src).all_probes().map(|p| p.to_string()).collect() };
    assert_eq!(names("usdt:/bin/app:app:start { }"), ["usdt:/bin/app:app:start"]);
    assert_eq!(
        names("usdt:/bin/app:app:* { }"),
        ["usdt:/bin/app:app:start", "usdt:/bin/app:app:stop", "usdt:/bin/app:app:gated"]
    );
    // No provider: any; a probe at two locations is two probes.
    assert_eq!(ok("usdt:/bin/app:start { }").attach_count(), 3);
    assert_eq!(
        errors("usdt:/bin/app:app:nope { }"),
        [CheckErrorKind::NoMatch { kind: "usdt probe", pattern: "/bin/app:app:nope".into() }]
    );
    assert!(matches!(errors("usdt:/bin/app { }")[0], CheckErrorKind::BadAttachPoint(_)));
}
