//! Native fentry and fexit slots. Where the kernel runs BPF tracing programs
//! (Debian's 6.1 and 6.12), a slot loaded for a kernel function by BTF id
//! reads the function's arguments at the offsets and widths its BTF gives,
//! and fexit its return value, on exactly the workload's calls. Where the
//! kernel refuses tracing programs (this project's 6.18 host), attaching
//! fails with the kernel's own answer.

use mcptrace::{
    host::{
        btf::{self, Function},
        features::Support,
        fentry,
    },
    ir::{
        AttachPoint,
        slot::{SlotBuilder, ValueRef, op},
    },
    native::{NativeError, Session, Transport, fentry::FentryError},
};
use mcptrace_common::{
    SlotConfig,
    slot::{op, source},
};
use mcptrace_tests::{HeldWorkload, WORKLOAD_COMM, require_root, unique_path};

fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A slot that only passes hits of process `pid`.
fn for_pid(pid: u32) -> SlotBuilder {
    let mut b = SlotBuilder::new();
    let p = b.builtin(source::PID).unwrap();
    b.predicate([op(op::VALUE, p.0, 0), op(op::IMM, 0, u64::from(pid)), op(op::EQ, 0, 0)]);
    b
}

/// Argument `name` of `f`, captured at its context offset with its BTF
/// width and sign.
fn arg(b: &mut SlotBuilder, f: &Function, name: &str) -> ValueRef {
    let (i, param) = f.param(name).unwrap_or_else(|| panic!("{}: no {name}", f.name));
    let scalar = param.ty.scalar().unwrap_or_else(|| panic!("{name}: {:?}", param.ty));
    b.field(f.arg_offset(i).unwrap(), scalar.size.into(), scalar.signed).unwrap()
}

/// `f`'s return value, at the end of an fexit context.
fn retval(b: &mut SlotBuilder, f: &Function) -> ValueRef {
    let scalar = f.ret.scalar().unwrap();
    b.field(f.ret_offset(), scalar.size.into(), scalar.signed).unwrap()
}

/// The (user) string whose pointer is argument `name` of `f`.
fn user_string_arg(b: &mut SlotBuilder, f: &Function, name: &str) -> usize {
    let (i, _) = f.param(name).unwrap();
    b.string(source::USER_STR, f.arg_offset(i).unwrap(), 64).unwrap().0.into()
}

/// The refusal of a kernel that runs no tracing programs: the kernel's
/// errno, the same the start-up trial got.
fn assert_kernel_refusal(why: &str, err: &NativeError) {
    let NativeError::Fentry(FentryError::Load { errno, .. }) = err else {
        panic!("expected the kernel's refusal to load, got: {err}");
    };
    let errno = errno.raw_os_error().expect("an errno from the kernel");
    let message = err.to_string();
    let os_error = format!("(os error {errno})");
    assert!(message.contains(&os_error), "{message}");
    assert!(why.contains(&os_error), "the trial saw another answer: {why}; the slot: {message}");
    eprintln!("refused, as the trial found: {message}");
}

#[test]
fn fentry_and_fexit_read_typed_arguments_and_return_values() {
    require_root();
    let openat2 = btf::function("do_sys_openat2").unwrap();
    let vfs_read = btf::function("vfs_read").unwrap();
    let path = unique_path("fentry");
    let path = path.to_str().unwrap();
    let held = HeldWorkload::spawn(&["open", path, "3", "read", "5", "123"]);

    // fentry:do_sys_openat2: dfd, filename and comm.
    let mut entry = for_pid(held.pid());
    let dfd = arg(&mut entry, &openat2, "dfd");
    let entry_name = user_string_arg(&mut entry, &openat2, "filename");
    let comm: usize = entry.string(source::COMM, 0, 16).unwrap().0.into();
    // fexit:do_sys_openat2: filename and the return value.
    let mut exit = for_pid(held.pid());
    let exit_name = user_string_arg(&mut exit, &openat2, "filename");
    let open_ret = retval(&mut exit, &openat2);
    // fexit:vfs_read: count and the return value.
    let mut read = for_pid(held.pid());
    let count = arg(&mut read, &vfs_read, "count");
    let read_ret = retval(&mut read, &vfs_read);

    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let attach = |s: &mut Session, f: &str, ret, b: SlotBuilder| {
        let config: SlotConfig = b.build().unwrap();
        s.attach(&[AttachPoint::Fentry { function: f.into(), ret }], &config)
    };
    let entry_slot = match (fentry::support(), attach(&mut session, "do_sys_openat2", false, entry))
    {
        (Support::Yes, Ok(slot)) => slot,
        (Support::No(why), Err(e)) => return assert_kernel_refusal(&why, &e),
        (support, result) => panic!("fentry support: {support:?}, but attaching gave {result:?}"),
    };
    let exit_slot = attach(&mut session, "do_sys_openat2", true, exit).unwrap();
    let read_slot = attach(&mut session, "vfs_read", true, read).unwrap();
    held.go();

    let (mut entries, mut exits, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    session.drain(|r| {
        let e = &r.event;
        let v = |r: ValueRef| e.values[usize::from(r.0)];
        match e.slot {
            s if s == entry_slot && cstr(&e.strings[entry_name]) == path => {
                entries.push((v(dfd) as i64, cstr(&e.strings[comm])));
            }
            s if s == exit_slot && cstr(&e.strings[exit_name]) == path => {
                exits.push(v(open_ret) as i64);
            }
            // Reads of other sizes are the loader's and the held stdin's.
            s if s == read_slot && v(count) == 123 => reads.push(v(read_ret) as i64),
            _ => {}
        }
        true
    });
    // Three opens of a missing path, relative to the working directory:
    // dfd is AT_FDCWD, sign-extended from its 4-byte int; each fails with
    // -ENOENT, read through the BTF's signed return type.
    assert_eq!(entries, vec![(i64::from(libc::AT_FDCWD), WORKLOAD_COMM.to_owned()); 3]);
    assert_eq!(exits, [-i64::from(libc::ENOENT); 3]);
    // Five reads of 123 bytes from /dev/zero, each returning 123.
    assert_eq!(reads, [123; 5]);
    assert_eq!(session.lost_events(), 0);
}

#[test]
fn unknown_functions_fail_by_name_before_the_kernel_is_asked() {
    require_root();
    let mut session = Session::load(Transport::RingBuffer).unwrap();
    let point = AttachPoint::Fentry { function: "mcptrace_no_such_function".into(), ret: false };
    let err = session.attach(std::slice::from_ref(&point), &SlotConfig::default());
    assert!(
        matches!(
            err,
            Err(NativeError::Fentry(FentryError::Btf(btf::BtfError::NoFunction(ref f))))
                if f == "mcptrace_no_such_function"
        ),
        "{err:?}"
    );
}
