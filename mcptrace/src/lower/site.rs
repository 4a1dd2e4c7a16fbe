//! What one kernel probe can read, and the captures that read it: builtins,
//! tracepoint fields, raw-syscall registers, uprobe and USDT arguments. Captures are
//! made once per probe and shared by every expression that reads them.

use std::{collections::HashMap, sync::Arc};

use mcptrace_common::{
    limits::{CTX_COPY, STR_LEN},
    slot::source,
};

use super::{NotNative, Unsupported, expr::Leaf};
use crate::{
    host::{
        btf::{Function, Type},
        tracefs::{Field, Format},
    },
    ir::{
        ProbeName, regs,
        slot::{SlotBuilder, SlotFull, StrRef, ValueRef},
        usdt_args::{self, ArgSpecError, Operand, UsdtArg},
    },
    lang::ast::Span,
};

/// The kind of place a kernel probe sits.
#[derive(Clone, Debug)]
pub enum Site {
    /// One tracepoint, or the tracepoints of one wildcard sharing a slot
    /// (then a field is read only where every format agrees on it).
    Tracepoint {
        formats: Vec<Format>,
        syscall: bool,
    },
    /// Syscall tracepoints served by one raw syscall tracepoint; with
    /// `every`, raw_syscalls:sys_enter or sys_exit itself, whose fields are
    /// the syscall's number (`id`) and on exit its result (`ret`).
    RawSyscall {
        enter: bool,
        formats: Vec<Format>,
        every: bool,
    },
    RawTracepoint,
    /// A function's entry or return: uprobes, or with `kernel`, kprobes.
    /// The context is the registers either way.
    Function {
        ret: bool,
        /// None for a uprobe at an address: nothing here names its function;
        /// for kprobes, a slot that serves several functions' entries, which
        /// a hit tells apart by its instruction pointer.
        symbol: Option<String>,
        kernel: bool,
    },
    /// A kernel function's entry or return through fentry/fexit: the
    /// context is the arguments (then the return value) as 8-byte words,
    /// typed by the function's BTF.
    Fentry {
        function: Arc<Function>,
        ret: bool,
    },
    /// A USDT probe's location: a uprobe whose arguments are where the
    /// note's specs (`args`) say.
    Usdt {
        args: String,
    },
    Perf,
}

impl Site {
    /// The probed function's name (`func`), for function probes.
    pub fn function_name(&self) -> Option<&str> {
        match self {
            Site::Function { symbol, .. } => symbol.as_deref(),
            Site::Fentry { function, .. } => Some(&function.name),
            _ => None,
        }
    }
}

/// What a captured integer is, for the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Cap {
    Builtin(u32),
    Field {
        offset: u32,
        size: u32,
        signed: bool,
    },
    Const(u16),
    /// An integer in user memory at a register's value plus a displacement.
    UserMemory {
        base: u32,
        displacement: i32,
        size: u32,
        signed: bool,
    },
}

/// What a captured string (or buffer) is, for the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StrCap {
    source: u32,
    /// A record offset, or with `from_value`, a value's index.
    offset: u32,
    size: u32,
    /// A string at the pointer a value holds (`str(@m[k])`), not at
    /// `offset` of the record: `offset` is then the value's index.
    from_value: bool,
    /// A buffer's captured length.
    len: Option<ValueRef>,
}

/// A kernel probe being lowered: its site, its slot, and its captures.
pub struct ProbeCx {
    pub site: Site,
    pub builder: SlotBuilder,
    pub name: ProbeName,
    /// Index of this probe among the program's kernel probes, or of the
    /// first with its name: what `probe` and `func` keys hold.
    pub index: u16,
    values: HashMap<Cap, ValueRef>,
    strings: HashMap<StrCap, StrRef>,
    /// What tells apart the places a shared slot serves: the syscall
    /// number (raw syscall sites), the instruction pointer (kprobes on
    /// several functions).
    pub which: Option<ValueRef>,
}

pub fn slot_full(span: Span) -> impl Fn(SlotFull) -> Unsupported {
    move |e| Unsupported::new(span, NotNative::SlotFull, e.to_string())
}

impl ProbeCx {
    pub fn new(site: Site, name: ProbeName, index: u16) -> Self {
        let mut builder = SlotBuilder::new();
        let mut values = HashMap::new();
        let mut which = None;
        if let Site::RawSyscall { enter, .. } = &site {
            // raw_syscalls:sys_{enter,exit}(struct pt_regs *regs, long id|ret):
            // copy the registers; the number is `id` on entry, orig_ax on exit.
            builder.deref(0, regs::SIZE);
            let (offset, cap) = if *enter {
                (8, Cap::Field { offset: 8, size: 8, signed: true })
            } else {
                let at = CTX_COPY as u32 + regs::ORIG_AX;
                (at, Cap::Field { offset: at, size: 8, signed: true })
            };
            let r = builder.field(offset, 8, true).expect("an empty slot has room");
            values.insert(cap, r);
            which = Some(r);
        }
        if let Site::Function { kernel: true, ret: false, symbol: None } = &site {
            // At a kprobe the instruction pointer is one past the probed
            // address, so it lies in the function that fired.
            let cap = Cap::Field { offset: regs::IP, size: 8, signed: false };
            let r = builder.field(regs::IP, 8, false).expect("an empty slot has room");
            values.insert(cap, r);
            which = Some(r);
        }
        Self { site, builder, name, index, values, strings: HashMap::new(), which }
    }

    fn value(&mut self, cap: Cap, span: Span) -> Result<ValueRef, Unsupported> {
        if let Some(v) = self.values.get(&cap) {
            return Ok(*v);
        }
        let r = match cap {
            Cap::Builtin(src) => self.builder.builtin(src),
            Cap::Field { offset, size, signed } => self.builder.field(offset, size, signed),
            Cap::Const(c) => self.builder.constant(c),
            Cap::UserMemory { base, displacement, size, signed } => {
                self.builder.user_int(base, displacement, size, signed)
            }
        }
        .map_err(slot_full(span))?;
        self.values.insert(cap, r);
        Ok(r)
    }

    pub fn builtin(&mut self, src: u32, span: Span) -> Result<ValueRef, Unsupported> {
        self.value(Cap::Builtin(src), span)
    }

    pub fn constant(&mut self, c: u16, span: Span) -> Result<ValueRef, Unsupported> {
        self.value(Cap::Const(c), span)
    }

    pub fn string(
        &mut self,
        source: u32,
        offset: u32,
        size: u32,
        span: Span,
    ) -> Result<StrRef, Unsupported> {
        let cap = StrCap { source, offset, size, from_value: false, len: None };
        self.string_slot(cap, span)
    }

    /// `buf()`'s bytes from the pointer at record offset `offset`: `size`,
    /// or the captured `len` and at most `size`.
    pub fn buffer(
        &mut self,
        source: u32,
        offset: u32,
        size: u32,
        len: Option<ValueRef>,
        span: Span,
    ) -> Result<StrRef, Unsupported> {
        self.string_slot(StrCap { source, offset, size, from_value: false, len }, span)
    }

    fn string_slot(&mut self, cap: StrCap, span: Span) -> Result<StrRef, Unsupported> {
        if let Some(s) = self.strings.get(&cap) {
            return Ok(*s);
        }
        let r = match cap.source {
            _ if cap.from_value => {
                self.builder.string_at_value(cap.source, ValueRef(cap.offset as u16), cap.size)
            }
            source::USER_BUF | source::KERNEL_BUF => {
                self.builder.buffer(cap.source, cap.offset, cap.size, cap.len)
            }
            _ => self.builder.string(cap.source, cap.offset, cap.size),
        }
        .map_err(slot_full(span))?;
        self.strings.insert(cap, r);
        Ok(r)
    }

    /// `str(@m[k])`: the string at the pointer keyed state holds, user or
    /// kernel memory (a map holds either: `args->filename`, a kernel
    /// function's `char *`).
    pub fn string_at(
        &mut self,
        at: ValueRef,
        size: u32,
        span: Span,
    ) -> Result<StrRef, Unsupported> {
        let offset = u32::from(at.0);
        let cap = StrCap { source: source::ANY_STR, offset, size, from_value: true, len: None };
        self.string_slot(cap, span)
    }

    /// Tracepoint field `name` as a pointer that buf() or join() (`what`)
    /// reads through: its place in the record, whether it points to user
    /// memory (a syscall's arguments do), and its description.
    pub fn arg_pointer(
        &self,
        name: &str,
        what: &str,
        span: Span,
    ) -> Result<(u32, bool, Field), Unsupported> {
        if let Site::Fentry { .. } = self.site {
            return Err(Unsupported::new(
                span,
                NotNative::Expression,
                format!("{what} of a kfunc argument (args.{name}) is not native yet"),
            ));
        }
        let (offset, f) = self.field_location(name, span)?;
        let user =
            matches!(self.site, Site::RawSyscall { .. } | Site::Tracepoint { syscall: true, .. });
        Ok((offset, user, f))
    }

    pub fn comm(&mut self, span: Span) -> Result<StrRef, Unsupported> {
        self.string(source::COMM, 0, 16, span)
    }

    /// `args->name` / `args.name` as an integer: (value, signed).
    pub fn arg_field(&mut self, name: &str, span: Span) -> Result<(ValueRef, bool), Unsupported> {
        if let Site::Fentry { function, .. } = &self.site {
            let (offset, ty) = fentry_arg(function, name, span)?;
            let Some(scalar) = ty.scalar() else {
                return Err(Unsupported::new(
                    span,
                    NotNative::Types,
                    format!("args.{name} is not an integer or pointer (BTF-typed access)"),
                ));
            };
            let (size, signed) = (u32::from(scalar.size.min(8)), scalar.signed);
            let r = self.value(Cap::Field { offset, size, signed }, span)?;
            return Ok((r, signed));
        }
        let (offset, f) = self.field_location(name, span)?;
        if f.array_len.is_some() || f.data_loc {
            return Err(Unsupported::new(
                span,
                NotNative::Expression,
                format!("args->{name} is not an integer; use str()"),
            ));
        }
        let size = f.width.min(8);
        let r = self.value(Cap::Field { offset, size, signed: f.signed }, span)?;
        Ok((r, f.signed))
    }

    /// Element `index` of tracepoint array field `name` (`args->daddr[0]`):
    /// (value, signed).
    pub fn arg_element(
        &mut self,
        name: &str,
        index: u64,
        span: Span,
    ) -> Result<(ValueRef, bool), Unsupported> {
        let (offset, f) = self.field_location(name, span)?;
        let not_native = |what: String| Err(Unsupported::new(span, NotNative::Types, what));
        // bpftrace 0.17 types a char array as a string, which it does not index.
        let Some(len) = f.array_len.filter(|n| *n > 0 && !self.arg_is_text(name)) else {
            return not_native(format!("args->{name} is not an array of integers"));
        };
        if index >= u64::from(len) {
            return not_native(format!("args->{name}[{index}] is past its {len} elements"));
        }
        let size = f.size / len;
        if !matches!(size, 1 | 2 | 4 | 8) {
            return not_native(format!("elements of args->{name} are not integers"));
        }
        let at = offset + index as u32 * size;
        let r = self.value(Cap::Field { offset: at, size, signed: f.signed }, span)?;
        Ok((r, f.signed))
    }

    /// Whether tracepoint field `name` is text, as bpftrace 0.17 types it:
    /// an array of `char` (`args->comm` is a string without `str()`; a
    /// `__data_loc` string still needs `str()` there).
    pub fn arg_is_text(&self, name: &str) -> bool {
        let Site::Tracepoint { formats, .. } = &self.site else { return false };
        let field = formats.first().and_then(|f| f.field(name));
        field.is_some_and(|f| f.array_len.is_some() && f.c_type.starts_with("char"))
    }

    /// The width in bytes bpftrace 0.17 types `args->name` with (for
    /// `bswap`): its BTF type's size, or the size its tracepoint format
    /// gives the field, which for a syscall's `int` argument is 8.
    pub fn arg_bytes(&self, name: &str, span: Span) -> Result<u16, Unsupported> {
        if let Site::Fentry { function, .. } = &self.site {
            let (_, ty) = fentry_arg(function, name, span)?;
            return Ok(ty.scalar().map_or(8, |s| u16::from(s.size.min(8))));
        }
        let (_, f) = self.field_location(name, span)?;
        Ok(f.size.min(8) as u16)
    }

    /// `str(args->name [, n])`.
    pub fn arg_string(&mut self, name: &str, size: u32, span: Span) -> Result<StrRef, Unsupported> {
        if let Site::Fentry { function, .. } = &self.site {
            let (offset, ty) = fentry_arg(function, name, span)?;
            if !ty.is_string() {
                return Err(Unsupported::new(
                    span,
                    NotNative::Expression,
                    format!("str() of args.{name}, which is not a string"),
                ));
            }
            // The kernel's BTF does not mark user pointers.
            return self.string(source::ANY_STR, offset, size.min(STR_LEN as u32), span);
        }
        let (offset, f) = self.field_location(name, span)?;
        let user =
            matches!(self.site, Site::RawSyscall { .. } | Site::Tracepoint { syscall: true, .. });
        let source = if f.data_loc {
            source::DATA_LOC_STR
        } else if f.array_len.is_some() {
            source::CTX_STR
        } else if f.is_pointer() {
            if user { source::USER_STR } else { source::KERNEL_STR }
        } else {
            return Err(Unsupported::new(
                span,
                NotNative::Expression,
                format!("str() of args->{name}, which is not a string"),
            ));
        };
        let size = match source {
            source::CTX_STR => size.min(f.size),
            _ => size,
        };
        self.string(source, offset, size.min(STR_LEN as u32), span)
    }

    /// Where field `name` is in the record copy, and its description.
    fn field_location(&self, name: &str, span: Span) -> Result<(u32, Field), Unsupported> {
        match &self.site {
            Site::Tracepoint { formats, .. } => {
                agreed_field(formats, name, "tracepoints", span, |_, f| Ok(f.offset))
            }
            Site::RawSyscall { enter, every: true, formats } => {
                // `id` is the number captured for every raw syscall site;
                // `ret` is where syscall groups read it too. The syscall's
                // arguments, `args->args[i]`, are an array: not native.
                let at = match name {
                    "id" if *enter => 8,
                    "id" => CTX_COPY as u32 + regs::ORIG_AX,
                    "ret" if !*enter => 8,
                    _ => {
                        return Err(Unsupported::new(
                            span,
                            NotNative::Expression,
                            format!("args->{name} of raw_syscalls is not native yet"),
                        ));
                    }
                };
                let field = formats.first().and_then(|f| f.field(name)).ok_or_else(|| {
                    Unsupported::new(
                        span,
                        NotNative::Expression,
                        format!("the tracepoint has no field `{name}`"),
                    )
                })?;
                Ok((at, field.clone()))
            }
            Site::RawSyscall { enter, formats, every: false } => {
                // A syscall's arguments are in the registers, in order.
                agreed_field(formats, name, "syscalls", span, |format, _| {
                    let not_native =
                        |what: String| Err(Unsupported::new(span, NotNative::Expression, what));
                    if !*enter {
                        return match name {
                            "ret" => Ok(8),
                            _ => not_native(format!("args->{name} on syscall exit")),
                        };
                    }
                    let index = format
                        .args()
                        .filter(|a| a.name != "__syscall_nr")
                        .position(|a| a.name == name);
                    match index {
                        Some(i) if i < regs::SYSCALL_ARGS.len() => {
                            Ok(CTX_COPY as u32 + regs::SYSCALL_ARGS[i])
                        }
                        _ => not_native(format!("args->{name} is not a syscall argument")),
                    }
                })
            }
            _ => Err(Unsupported::new(
                span,
                NotNative::Expression,
                "`args` exists only in tracepoints".to_string(),
            )),
        }
    }

    /// `argN`: call arguments at a function entry, raw tracepoint
    /// arguments, or a USDT probe's arguments.
    pub fn arg_n(&mut self, n: usize, span: Span) -> Result<Leaf, Unsupported> {
        let offset = match &self.site {
            Site::Function { ret: false, .. } if n < regs::CALL_ARGS.len() => regs::CALL_ARGS[n],
            Site::RawTracepoint if n < 8 => 8 * n as u32,
            Site::Usdt { args } => return self.usdt_arg(usdt_args::arg(args, n), n, span),
            _ => return Err(Unsupported::new(span, NotNative::Expression, format!("arg{n} here"))),
        };
        Ok(Leaf::Int(self.value(Cap::Field { offset, size: 8, signed: false }, span)?, false))
    }

    /// Argument `n` of a USDT probe, from its spec (none: the note has
    /// fewer): read at the width the spec gives, sign-extended where it
    /// says so, and typed as bpftrace 0.17 types it, unsigned 64-bit (a -1
    /// prints as 18446744073709551615).
    fn usdt_arg(
        &mut self,
        spec: Option<Result<UsdtArg, ArgSpecError>>,
        n: usize,
        span: Span,
    ) -> Result<Leaf, Unsupported> {
        let not_native = |what: String| Unsupported::new(span, NotNative::Expression, what);
        let arg = spec
            .ok_or_else(|| not_native(format!("arg{n}: the probe has fewer arguments")))?
            .map_err(|e| not_native(format!("arg{n} of a usdt probe: {e}")))?;
        let (size, signed) = (u32::from(arg.size), arg.signed);
        Ok(match arg.operand {
            Operand::Register(offset) => {
                Leaf::Int(self.value(Cap::Field { offset, size, signed }, span)?, false)
            }
            Operand::Constant(c) => Leaf::ConstInt(narrow(c as u64, size, signed), false),
            Operand::Memory { base, displacement } => {
                let displacement = i32::try_from(displacement).map_err(|_| {
                    not_native(format!("arg{n} of a usdt probe: displacement {displacement}"))
                })?;
                let cap = Cap::UserMemory { base, displacement, size, signed };
                Leaf::Int(self.value(cap, span)?, false)
            }
        })
    }

    /// `reg(name)`: a register at the probed instruction (function probes,
    /// whose context is the registers).
    pub fn reg(&mut self, name: &str, span: Span) -> Result<ValueRef, Unsupported> {
        if !matches!(self.site, Site::Function { .. } | Site::Usdt { .. }) {
            return Err(Unsupported::new(
                span,
                NotNative::Expression,
                "reg() outside uprobes, kprobes and usdt probes".to_string(),
            ));
        }
        let offset = regs::named(name).ok_or_else(|| {
            Unsupported::new(
                span,
                NotNative::Expression,
                format!("reg(\"{name}\"): no such register"),
            )
        })?;
        self.value(Cap::Field { offset, size: 8, signed: false }, span)
    }

    /// `retval` of a uretprobe, kretprobe or fexit probe, and whether it is
    /// signed.
    pub fn retval(&mut self, span: Span) -> Result<(ValueRef, bool), Unsupported> {
        match &self.site {
            Site::Function { ret: true, .. } => {
                let r =
                    self.value(Cap::Field { offset: regs::AX, size: 8, signed: false }, span)?;
                Ok((r, false))
            }
            Site::Fentry { function, ret: true } => {
                let Some(scalar) = function.ret.scalar() else {
                    return Err(Unsupported::new(
                        span,
                        NotNative::Types,
                        format!("`retval` of {}, which returns no integer", function.name),
                    ));
                };
                let (offset, size, signed) =
                    (function.ret_offset(), u32::from(scalar.size.min(8)), scalar.signed);
                let r = self.value(Cap::Field { offset, size, signed }, span)?;
                Ok((r, signed))
            }
            _ => Err(Unsupported::new(
                span,
                NotNative::Expression,
                "`retval` outside return probes".to_string(),
            )),
        }
    }
}

/// The low `size` bytes of `value`, sign-extended when `signed`: a
/// constant as a register of that width would hold it.
fn narrow(value: u64, size: u32, signed: bool) -> u64 {
    let shift = 64 - 8 * size.min(8);
    match signed {
        true => (((value << shift) as i64) >> shift) as u64,
        false => (value << shift) >> shift,
    }
}

/// Field `name` where every one of `formats` (the places one slot serves)
/// has it, at the same place (`at` says where) with the same type; the
/// record copy offset and the first format's description.
fn agreed_field(
    formats: &[Format],
    name: &str,
    places: &str,
    span: Span,
    at: impl Fn(&Format, &Field) -> Result<u32, Unsupported>,
) -> Result<(u32, Field), Unsupported> {
    let differs = |what: String| Unsupported::new(span, NotNative::Expression, what);
    let mut found: Option<(u32, Field)> = None;
    for format in formats {
        let Some(f) = format.field(name) else {
            return Err(differs(match formats.len() {
                1 => format!("the tracepoint has no field `{name}`"),
                _ => format!("not every matched tracepoint has args->{name}"),
            }));
        };
        let here = at(format, f)?;
        match &found {
            Some((prev, pf))
                if *prev != here
                    || pf.width != f.width
                    || pf.signed != f.signed
                    || pf.data_loc != f.data_loc
                    || pf.array_len != f.array_len =>
            {
                return Err(differs(format!("args->{name} differs across the matched {places}")));
            }
            Some(_) => {}
            None => found = Some((here, f.clone())),
        }
    }
    found.ok_or_else(|| differs(format!("no {places} matched")))
}

/// Where fentry argument `name` is in the record copy, and its type.
fn fentry_arg<'f>(
    function: &'f Function,
    name: &str,
    span: Span,
) -> Result<(u32, &'f Type), Unsupported> {
    let missing = || {
        let names: Vec<&str> = function.params.iter().map(|p| p.name.as_str()).collect();
        Unsupported::new(
            span,
            NotNative::Expression,
            format!(
                "{} has no argument `{name}`; its arguments: {}",
                function.name,
                names.join(", ")
            ),
        )
    };
    let (i, param) = function.param(name).ok_or_else(missing)?;
    let offset = function.arg_offset(i).ok_or_else(missing)?;
    Ok((offset, &param.ty))
}

#[cfg(test)]
mod tests {
    use super::narrow;

    #[test]
    fn constants_take_their_width() {
        assert_eq!(narrow(-1i64 as u64, 4, true), -1i64 as u64);
        assert_eq!(narrow(-1i64 as u64, 4, false), 0xffff_ffff);
        assert_eq!(narrow(0x1_0000_0005, 4, false), 5);
        assert_eq!(narrow(0x80, 1, true), -128i64 as u64);
        assert_eq!(narrow(42, 8, true), 42);
    }
}
