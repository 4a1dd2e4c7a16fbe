use std::sync::Arc;

use super::{Backend, plan};
use crate::{
    check::{
        Checked, Host, HostError, check,
        facts::{UsdtNotes, UserFunctions},
        fake_host::FakeHost,
    },
    host::{
        btf::{self, BtfError},
        features::Support,
        traceable::KernelFunctions,
        tracefs::Format,
    },
    lang::{ast::ProbeKind, c_layout::Shape, parse},
    policy::Policy,
};

fn checked(src: &str) -> Checked {
    check(parse(src).unwrap(), &FakeHost, &Policy::default()).unwrap()
}

#[test]
fn native_programs_carry_their_lowered_form() {
    for src in [
        "BEGIN { printf(\"hi\\n\"); exit() }",
        "interval:s:1 { print(nsecs) } profile:hz:99 { @[cpu] = count() } END { }",
        "uretprobe:/bin/bash:readline { printf(\"%d\\n\", retval) }",
    ] {
        let p = plan(&checked(src), src, &FakeHost);
        assert_eq!(p.backend, Backend::Native, "{src}: {:?}", p.fallback);
        assert!(p.fallback.is_none() && p.native.is_some());
    }
}

#[test]
fn fallbacks_name_the_construct_and_its_position() {
    let cases = [
        (
            "hardware:cache-misses:1000 { }",
            "`hardware:cache-misses:1000 { }` at 1:1: hardware probes are not native yet",
        ),
        (
            "BEGIN { print(sizeof(int)) }",
            "`sizeof(int)` at 1:15: `sizeof` of this type is not native yet",
        ),
        ("BEGIN { printf(\"%d\", $1) }", "`$1` at 1:22: positional parameters are not native yet"),
        (
            "tracepoint:syscalls:sys_enter_read { @c = count(); if (comm == \"x\") { return } \
             @c = count() }",
            "`@c = count()` at 1:38: map @c is used in the kernel here, but updated in user \
             space at 1:80 (under a condition evaluated there, in a loop or after a `return`): \
             not native yet",
        ),
    ];
    for (src, want) in cases {
        let p = plan(&checked(src), src, &FakeHost);
        assert_eq!(p.backend, Backend::Bpftrace);
        assert_eq!(p.fallback.unwrap().to_string(), want, "{src}");
    }
}

#[test]
fn multi_line_constructs_are_cut_to_their_first_line() {
    let src =
        "tracepoint:syscalls:sys_enter_read {\n  @m[1] = 1; for ($kv : @m) {\n    exit();\n  }\n}";
    let p = plan(&checked(src), src, &FakeHost);
    let why = p.fallback.unwrap().to_string();
    assert!(
        why.starts_with("`for ($kv : @m) {…` at 2:14: `for` over a map in a kernel probe"),
        "{why}"
    );
}

/// The fake host, with a kernel too old for the native engine.
struct OldKernel;

impl Host for OldKernel {
    fn support(&self, kind: ProbeKind) -> Support {
        FakeHost.support(kind)
    }
    fn native_engine(&self) -> Support {
        Support::No("this kernel has no bpf_loop helper (Linux 5.17+)".into())
    }
    fn tracepoints(&self) -> Result<Arc<[String]>, HostError> {
        FakeHost.tracepoints()
    }
    fn tracepoint_format(&self, category: &str, name: &str) -> Result<Arc<Format>, HostError> {
        FakeHost.tracepoint_format(category, name)
    }
    fn kernel_functions(&self) -> Result<Arc<KernelFunctions>, HostError> {
        FakeHost.kernel_functions()
    }
    fn user_functions(&self, binary: &str) -> Result<UserFunctions, HostError> {
        FakeHost.user_functions(binary)
    }
    fn usdt_notes(&self, binary: &str) -> Result<UsdtNotes, HostError> {
        FakeHost.usdt_notes(binary)
    }
    fn kernel_prototype(&self, function: &str) -> Result<Arc<btf::Function>, BtfError> {
        FakeHost.kernel_prototype(function)
    }
    fn kernel_enumerator(&self, name: &str) -> Result<Option<i128>, BtfError> {
        FakeHost.kernel_enumerator(name)
    }
    fn kernel_type(&self, name: &str) -> Result<Option<Shape>, BtfError> {
        FakeHost.kernel_type(name)
    }
    fn include_dirs(&self) -> Vec<std::path::PathBuf> {
        FakeHost.include_dirs()
    }
}

#[test]
fn a_kernel_without_the_native_engine_falls_back_with_its_reason() {
    let src = "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }";
    let checked = check(parse(src).unwrap(), &OldKernel, &Policy::default()).unwrap();
    let p = plan(&checked, src, &OldKernel);
    assert_eq!(p.backend, Backend::Bpftrace);
    assert!(p.native.is_none());
    let fallback = p.fallback.unwrap();
    assert_eq!(
        fallback.to_string(),
        "this kernel cannot run the native engine: this kernel has no bpf_loop helper (Linux 5.17+)"
    );
    assert_eq!(fallback.diagnostic().code, "kernel");
}

/// bpftrace 0.21+ syntax and 0.17's looser forms run natively.
#[test]
fn newer_syntax_plans_natively() {
    for src in [
        "begin { printf(\"%d %d\\n\", true, 1e3) } end { }",
        "interval:1s, interval:100ms, { exit() }",
        "tracepoint:sched:sched_switch { @[kstack(3)] = count(); @u[ustack(5)] = count(); \
         printf(\"%s\", kstack(bpftrace, 2)); }",
        "tracepoint:syscalls:sys_enter_read { @s[tid] = nsecs; } \
         tracepoint:syscalls:sys_exit_read { @n = count(); delete(@s, tid); }",
        "tracepoint:sched:sched_switch { @[ustack(perf, 3)] = count(); }",
    ] {
        let p = plan(&checked(src), src, &FakeHost);
        assert_eq!(p.backend, Backend::Native, "{src}: {:?}", p.fallback);
    }
    let src = "tracepoint:sched:sched_switch { @[kstack(3)] = nsecs; }";
    let p = plan(&checked(src), src, &FakeHost);
    assert!(p.fallback.unwrap().to_string().contains("stack key with a frame limit"));
}

/// A program bpftrace 0.17 cannot read runs natively or is refused before
/// anything runs, naming both reasons.
#[test]
fn has_key_runs_natively_or_not_at_all() {
    use crate::frontend::{FrontendError, prepare};
    let native = "tracepoint:syscalls:sys_enter_read { @s[tid] = 1; } \
                  tracepoint:syscalls:sys_exit_read /has_key(@s, tid)/ { @n = count(); }";
    let (_, p) = prepare(native, &FakeHost).unwrap();
    assert_eq!(p.backend, Backend::Native, "{:?}", p.fallback);
    let neither = "tracepoint:syscalls:sys_enter_read { @s[tid] = 1; } \
                   tracepoint:syscalls:sys_exit_read /has_key(@s, tid)/ { print(sizeof(int)) }";
    let Err(e @ FrontendError::NoBackend { .. }) = prepare(neither, &FakeHost) else {
        panic!("{neither}: not refused");
    };
    assert_eq!(
        e.to_string(),
        "`has_key()` at 1:88 needs bpftrace ≥ 0.22.0; bpftrace 0.17 has no form for it, and the \
         native backend cannot run the program: `sizeof(int)` at 1:114: `sizeof` of this type is \
         not native yet"
    );
    assert_eq!(e.diagnostics()[0].code, "needs_newer_bpftrace");
}

/// bpftrace 0.17 has no `for`: a loop the native backend cannot take is
/// refused before anything runs, naming the loop, where it is and the
/// release that reads it.
#[test]
fn for_loops_run_natively_or_not_at_all() {
    use crate::frontend::{FrontendError, prepare};
    let native = "tracepoint:syscalls:sys_enter_read { @n[tid] = count(); } \
                  END { for ($kv : @n) { print($kv.1) } for ($i : 0..2) { print($i) } }";
    let (_, p) = prepare(native, &FakeHost).unwrap();
    assert_eq!(p.backend, Backend::Native, "{:?}", p.fallback);
    for (src, want) in [
        (
            "tracepoint:syscalls:sys_enter_read { @n[tid] = count();\n  \
             for ($i : 0..2) { @n[$i] = count(); } }",
            "`for` over a range at 2:3 needs bpftrace ≥ 0.24.0; bpftrace 0.17 has no form for \
             it, and the native backend cannot run the program: `@n[tid] = count()` at 1:38: \
             map @n is used in the kernel here, but updated in user space at 2:21",
        ),
        (
            "tracepoint:syscalls:sys_enter_read { @n[tid] = 1; for ($kv : @n) { } }",
            "`for` over a map at 1:51 needs bpftrace ≥ 0.21.0; bpftrace 0.17 has no form for it",
        ),
    ] {
        let Err(e @ FrontendError::NoBackend { .. }) = prepare(src, &FakeHost) else {
            panic!("{src}: not refused");
        };
        assert!(e.to_string().starts_with(want), "{src}: {e}");
        assert_eq!(e.diagnostics()[0].code, "needs_newer_bpftrace");
    }
}

#[test]
fn usdt_probes_run_natively_where_their_arguments_can_be_read() {
    use mcptrace_common::slot::{flags, source};

    use crate::ir::{AttachPoint, UserLocation};

    let native = |src: &str| {
        let p = plan(&checked(src), src, &FakeHost);
        assert_eq!(p.backend, Backend::Native, "{src}: {:?}", p.fallback);
        p.native.unwrap().0
    };
    let src = "usdt:/bin/app:app:start { printf(\"%d %d %d\\n\", arg0, arg1, arg2) }";
    let program = native(src);
    let probe = &program.probes[0];
    assert_eq!(probe.name.to_string(), "usdt:/bin/app:app:start");
    let AttachPoint::Uprobe { location: UserLocation::Address(0x1000), ret: false, .. } =
        &probe.points[0]
    else {
        panic!("{:?}", probe.points);
    };
    // arg0 is %rdi, 8 bytes; arg1 %esi, 4 bytes signed; arg2 the constant 7.
    let captures = &probe.config.captures[..probe.config.ncaptures as usize];
    let fields: Vec<(u16, u16, u16)> =
        captures.iter().map(|c| (c.offset, c.size, c.flags)).collect();
    assert_eq!(fields, [(112, 8, 0), (104, 4, flags::SIGNED)]);

    // Any provider; each location a probe of its own, the locations of one
    // probe one `probe` key.
    let program = native("usdt:/bin/app:start { @[probe] = count() }");
    let names: Vec<String> = program.probes.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(
        names,
        ["usdt:/bin/app:app:start", "usdt:/bin/app:lib:start", "usdt:/bin/app:lib:start"]
    );
    let key: Vec<(u32, u16)> = program
        .probes
        .iter()
        .map(|p| (p.config.captures[0].source, p.config.captures[0].offset))
        .collect();
    assert_eq!(key, [(source::CONST, 0), (source::CONST, 1), (source::CONST, 1)]);

    // An argument in memory: read from user memory at %rbp - 8.
    let program = native("usdt:/bin/app:app:stop { printf(\"%d\\n\", arg0) }");
    let c = program.probes[0].config.captures[0];
    assert_eq!((c.source, c.offset, c.displacement, c.size), (source::USER_INT, 32, -8, 8));

    let fallback = |src: &str| {
        let p = plan(&checked(src), src, &FakeHost);
        assert_eq!(p.backend, Backend::Bpftrace, "{src}");
        p.fallback.unwrap().to_string()
    };
    let why = fallback("usdt:/bin/app:app:stop { printf(\"%d\\n\", arg1) }");
    assert!(why.contains("arg1 of a usdt probe: `8@sym(%rip)`: only %REGISTER"), "{why}");
    let why = fallback("usdt:/bin/app:app:stop { printf(\"%s\\n\", str(arg0)) }");
    assert!(why.contains("str(arg0) of a pointer that is not in a register"), "{why}");
    let why = fallback("usdt:/bin/app:app:start { printf(\"%d\\n\", arg3) }");
    assert!(why.contains("arg3: the probe has fewer arguments"), "{why}");
    let why = fallback("usdt:/bin/app:app:gated { printf(\"%d\\n\", arg0) }");
    assert!(why.contains("usdt:/bin/app:app:gated has a semaphore"), "{why}");
    assert!(why.contains("ref_ctr_offset"), "{why}");
}
