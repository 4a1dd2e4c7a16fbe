//! Expressions: to user-space IR (evaluated on an event's captures) and, where
//! every leaf is captured in the kernel, to expression-machine operations
//! (predicates pushed into the kernel, map operands).

use std::collections::HashMap;

use mcptrace_common::{
    limits::{KEY_WORDS, STR_LEN},
    slot::{Op, op, source},
};

use super::{
    NotNative, Unsupported, bswap, btf_access,
    map_table::MapTable,
    site::{ProbeCx, Site},
    sizeof::type_size,
    strings,
};
use crate::{
    ir::{
        self, BinOp, KeyKind, ProbeName, TracerBuiltin, UnOp,
        slot::{Ops, Part, StrRef, ValueRef, op as mk},
    },
    lang::{
        ast::{self, BinaryOp, Expr, ExprKind, Span, TypeName, UnaryOp},
        int_type::IntType,
        stack::{self, Stack},
    },
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Int {
        signed: bool,
    },
    Str,
    Stack,
    /// A `buf()` value: bytes printed with `%r`.
    Buf,
    /// A tuple: its element types are `Exprs::tuples[i]`.
    Tuple(usize),
}

/// A leaf the kernel captures (or a constant).
#[derive(Clone, Debug)]
pub(super) enum Leaf {
    Int(ValueRef, bool),
    Str(StrRef),
    ConstInt(u64, bool),
    ConstStr(Vec<u8>),
}

/// A variable's widths, as bpftrace 0.17 types it from its first value:
/// its `sizeof`, where known, and the bytes `bswap` swaps, which differ
/// (`-(uint8)1` has size 8 there, but `bswap` swaps one byte of it).
#[derive(Clone, Copy, Debug)]
pub struct VarWidth {
    pub size: Option<u64>,
    pub bytes: u16,
}

/// Lowers the expressions of one probe (or BEGIN/END, with no `cx`).
pub struct Exprs<'a> {
    pub cx: Option<&'a mut ProbeCx>,
    pub maps: &'a mut MapTable,
    /// `$name` → (slot, type), for the probe invocation.
    pub vars: HashMap<String, (usize, Ty)>,
    /// `$name` → the expression it stands for where the kernel needs it
    /// (see `inline`).
    pub defs: HashMap<String, Expr>,
    /// Element types of the tuples lowered so far, by `Ty::Tuple` index.
    pub tuples: Vec<Vec<Ty>>,
    /// Variables declared with an integer type (`let $x: uint8`): every
    /// value assigned to one is cast to that type.
    pub int_vars: HashMap<String, TypeName>,
    /// Each variable's widths, which its first value gives it.
    pub var_widths: HashMap<String, VarWidth>,
    /// The if/else conditions around the statement being lowered.
    pub guard: Guard,
    /// Maps this probe has updated so far, with where the first update is
    /// written: keyed state is read once per hit, before any update, so a
    /// read written after one would see the old value. (A read written
    /// before it but inlined after, with its variable, reads what the
    /// variable holds.)
    pub updated: HashMap<String, u32>,
    /// Whether the probe's predicate is being lowered: the kernel tests it
    /// before it reads strings at map values (`str(@m[k])`).
    pub in_predicate: bool,
    /// The innermost loop around the statement being lowered: its passes
    /// run in user space (see `loops`).
    pub loop_at: Option<Span>,
    /// A `return` lowered so far: the statements after it run in user space
    /// only when it did not return, which a kernel map update cannot know.
    pub returned: Option<Span>,
}

/// What must hold for the statement being lowered to run.
#[derive(Clone, Debug)]
pub enum Guard {
    Always,
    /// The expression machine evaluates it: these ops leave it on the stack.
    Kernel(Ops),
    /// Some enclosing condition is evaluated only in user space, here.
    User(Span),
}

impl Guard {
    /// This guard and `cond` (or its negation) both.
    pub fn and(&self, cond: Option<&Ops>, negate: bool, span: Span) -> Guard {
        let Some(cond) = cond else { return Guard::User(span) };
        let mut ops = cond.clone();
        if negate {
            ops.push(mk(op::LNOT, 0, 0));
        }
        match self {
            Guard::Always => Guard::Kernel(ops),
            Guard::Kernel(outer) => {
                let mut both = outer.clone();
                both.extend(ops);
                both.push(mk(op::LAND, 0, 0));
                Guard::Kernel(both)
            }
            Guard::User(span) => Guard::User(*span),
        }
    }
}

fn unsupported(span: Span, kind: NotNative, what: impl Into<String>) -> Unsupported {
    Unsupported::new(span, kind, what.into())
}

/// `probe` where one slot serves a wildcard's tracepoints, which a hit
/// cannot tell apart.
fn shared_probe(span: Span, more: usize) -> Unsupported {
    let what = format!("`probe` where one slot serves {} tracepoints", more + 1);
    unsupported(span, NotNative::TooManyProbes, what)
}

impl<'a> Exprs<'a> {
    pub fn new(cx: Option<&'a mut ProbeCx>, maps: &'a mut MapTable) -> Self {
        Self {
            cx,
            maps,
            vars: HashMap::new(),
            defs: HashMap::new(),
            tuples: Vec::new(),
            int_vars: HashMap::new(),
            var_widths: HashMap::new(),
            guard: Guard::Always,
            updated: HashMap::new(),
            in_predicate: false,
            loop_at: None,
            returned: None,
        }
    }

    pub(super) fn cx(&mut self, span: Span, what: &str) -> Result<&mut ProbeCx, Unsupported> {
        self.cx.as_deref_mut().ok_or_else(|| {
            unsupported(span, NotNative::Expression, format!("`{what}` in BEGIN or END"))
        })
    }

    /// A leaf: a builtin, field, argument, keyed-state read, or constant.
    pub(super) fn leaf(&mut self, e: &Expr) -> Result<Option<Leaf>, Unsupported> {
        let span = e.span;
        Ok(Some(match &e.kind {
            ExprKind::Int(v) => Leaf::ConstInt(*v, true),
            ExprKind::Str(s) => Leaf::ConstStr(s.as_bytes().to_vec()),
            ExprKind::Ident(name) => {
                let src = match name.as_str() {
                    "pid" => source::PID,
                    "tid" => source::TID,
                    "uid" => source::UID,
                    "gid" => source::GID,
                    "cpu" => source::CPU,
                    "nsecs" => source::NSECS,
                    "cgroup" => source::CGROUP,
                    "comm" => return Ok(Some(Leaf::Str(self.cx(span, name)?.comm(span)?))),
                    "retval" => {
                        let (v, signed) = self.cx(span, name)?.retval(span)?;
                        return Ok(Some(Leaf::Int(v, signed)));
                    }
                    n if n.starts_with("arg") && n[3..].parse::<usize>().is_ok() => {
                        let i = n[3..].parse().unwrap_or(0);
                        return Ok(Some(self.cx(span, name)?.arg_n(i, span)?));
                    }
                    _ => return Ok(None),
                };
                Leaf::Int(self.cx(span, name)?.builtin(src, span)?, false)
            }
            ExprKind::SizeofType(ty) => match type_size(ty) {
                Some(size) => Leaf::ConstInt(size, false),
                None => return Ok(None),
            },
            ExprKind::Call { name, args } if name == "sizeof" => match self.size_of(&args[0]) {
                Some(size) => Leaf::ConstInt(size, false),
                None => return Ok(None),
            },
            ExprKind::Field { expr, field, .. } if is_args(expr) => {
                let cx = self.cx(span, "args")?;
                if cx.arg_is_text(field) {
                    return Ok(Some(Leaf::Str(cx.arg_string(field, STR_LEN as u32, span)?)));
                }
                let (r, signed) = cx.arg_field(field, span)?;
                Leaf::Int(r, signed)
            }
            // An element of a tracepoint's array field, at a constant index.
            ExprKind::Index { expr, index } if is_args_field(expr) => {
                let (ExprKind::Field { field, .. }, ExprKind::Int(i)) = (&expr.kind, &index.kind)
                else {
                    return Ok(None);
                };
                let (r, signed) = self.cx(span, "args")?.arg_element(field, *i, span)?;
                Leaf::Int(r, signed)
            }
            // A byte of an address that pton() reads from a literal.
            ExprKind::Index { expr, index } => match (&expr.kind, &index.kind) {
                (ExprKind::Call { name, args }, ExprKind::Int(i)) if name == "pton" => {
                    let [Expr { kind: ExprKind::Str(text), .. }] = args.as_slice() else {
                        return Ok(None);
                    };
                    let Some(byte) = pton(text).and_then(|b| b.get(*i as usize).copied()) else {
                        return Ok(None);
                    };
                    Leaf::ConstInt(u64::from(byte), false)
                }
                _ => return Ok(None),
            },
            ExprKind::Call { name, args } if name == "reg" => {
                let [Expr { kind: ExprKind::Str(reg), .. }] = args.as_slice() else {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        "reg() takes one register name",
                    ));
                };
                Leaf::Int(self.cx(span, name)?.reg(reg, span)?, false)
            }
            ExprKind::Call { name, args } if name == "str" => {
                let size = match args.get(1) {
                    None => STR_LEN as u32,
                    Some(Expr { kind: ExprKind::Int(n), .. }) => {
                        (*n as u32).saturating_add(1).min(STR_LEN as u32)
                    }
                    Some(other) => {
                        return Err(unsupported(
                            other.span,
                            NotNative::Expression,
                            "str() with a computed length",
                        ));
                    }
                };
                let constant =
                    |s: &[u8]| Leaf::ConstStr(s[..s.len().min(size as usize - 1)].to_vec());
                match args.first().map(|a| &a.kind) {
                    None => return Ok(None),
                    // `str($1)` with a string parameter: a constant.
                    Some(ExprKind::Str(s)) => constant(s.as_bytes()),
                    // `str($1 + N)`: bpftrace adds to the string's address
                    // (and refuses N past its end).
                    Some(ExprKind::Binary { op: BinaryOp::Add, lhs, rhs }) => {
                        match (&lhs.kind, &rhs.kind) {
                            (ExprKind::Str(s), ExprKind::Int(n)) if *n as usize <= s.len() => {
                                constant(&s.as_bytes()[*n as usize..])
                            }
                            _ => Leaf::Str(self.string_of(&args[0], size, span)?),
                        }
                    }
                    Some(_) => Leaf::Str(self.string_of(&args[0], size, span)?),
                }
            }
            // A map user space keeps is read there alone.
            ExprKind::Map { name, .. } if self.maps.is_in_user_space(&map_name(name)) => {
                return Ok(None);
            }
            ExprKind::Map { name, keys } => {
                let (v, signed) = self.keyed_read(name, keys, false, span)?;
                Leaf::Int(v, signed)
            }
            // Whether the element is there, by a presence lookup: a stored 0
            // is there, so the value cannot tell.
            ExprKind::Call { name, args } if name == "has_key" => {
                let Some(Expr { kind: ExprKind::Map { name, keys }, .. }) = ast::map_element(args)
                else {
                    return Ok(None);
                };
                let (v, _) = self.keyed_read(&name, &keys, true, span)?;
                Leaf::Int(v, true)
            }
            _ => return Ok(None),
        }))
    }

    /// Keyed state of `@name[keys]` read before the predicate: its value
    /// (and whether it is signed) or, with `presence`, whether it is there.
    fn keyed_read(
        &mut self,
        name: &str,
        keys: &[Expr],
        presence: bool,
        span: Span,
    ) -> Result<(ValueRef, bool), Unsupported> {
        if self.updated.get(&map_name(name)).is_some_and(|at| *at < span.offset) {
            return Err(unsupported(
                span,
                NotNative::Map,
                format!("reading @{name} after updating it in the same probe is not native yet"),
            ));
        }
        if self.maps.is_aggregate(name) == Some(true) {
            return Err(unsupported(
                span,
                NotNative::Map,
                format!("reading aggregation map @{name} as a value"),
            ));
        }
        let (key, kinds) = self.key(keys, span)?;
        let cx = self.cx(span, "map read")?;
        // Lookups run before computes and other lookups: a key part must be
        // captured, or the read would use the last hit's key.
        let captured = |p: &Part| match p {
            Part::Value(v) => cx.builder.capture_of(*v).is_some(),
            Part::Str(..) => true,
        };
        if !key.iter().all(captured) {
            return Err(unsupported(
                span,
                NotNative::Map,
                format!("reading @{name} under a computed key is not native yet"),
            ));
        }
        let (id, signed) = self.maps.read(&map_name(name), kinds, span);
        self.maps.use_in_kernel(&map_name(name), span);
        let cx = self.cx(span, "map read")?;
        let spec = cx.builder.key(id, &key).map_err(super::site::slot_full(span))?;
        let v = cx.builder.lookup(spec, presence).map_err(super::site::slot_full(span))?;
        Ok((v, signed))
    }

    /// The string `str(arg, size)` reads.
    fn string_of(&mut self, arg: &Expr, size: u32, span: Span) -> Result<StrRef, Unsupported> {
        match &arg.kind {
            ExprKind::Field { expr, field, .. } if is_args(expr) => {
                self.cx(span, "args")?.arg_string(field, size, span)
            }
            ExprKind::Ident(n) if n.starts_with("arg") || n == "retval" => {
                // A pointer in a register: a user string for uprobes and
                // usdt probes; for kprobes either kind (a syscall's path is
                // a user pointer, most kernel functions' strings are not),
                // user first.
                let cx = self.cx(span, n)?;
                let source = match cx.site {
                    Site::Function { kernel: false, .. } | Site::Usdt { .. } => source::USER_STR,
                    Site::Function { kernel: true, .. } => source::ANY_STR,
                    _ => {
                        return Err(unsupported(
                            span,
                            NotNative::Expression,
                            format!("str({n}) outside uprobes, kprobes and usdt probes"),
                        ));
                    }
                };
                // The string source reads a pointer from the record copy:
                // a usdt argument in memory or a constant is not there.
                let in_record = |cx: &ProbeCx, v| {
                    cx.builder.capture_of(v).is_some_and(|c| c.source == source::FIELD)
                };
                let v = match self.leaf(arg)? {
                    Some(Leaf::Int(v, _)) if in_record(self.cx(span, n)?, v) => v,
                    _ => {
                        let what = format!("str({n}) of a pointer that is not in a register");
                        return Err(unsupported(span, NotNative::Expression, what));
                    }
                };
                let cx = self.cx(span, n)?;
                let offset = cx_field_offset(cx, v);
                cx.string(source, offset, size, span)
            }
            // A pointer a probe stored (opensnoop's `@filename[tid]`), read
            // after the lookups, which the predicate comes after as well:
            // so not in a predicate (see `kernel`).
            ExprKind::Map { name, .. } if !self.maps.is_text(&map_name(name)) => {
                let Some(Leaf::Int(at, _)) = self.leaf(arg)? else {
                    return Err(not_native(arg, Some("str()")));
                };
                self.cx(span, "str()")?.string_at(at, size, span)
            }
            _ => Err(unsupported(arg.span, NotNative::Expression, "str() of this expression")),
        }
    }

    /// Map key parts with how each is stored and printed.
    pub fn key(
        &mut self,
        keys: &[Expr],
        span: Span,
    ) -> Result<(Vec<Part>, Vec<KeyKind>), Unsupported> {
        let mut parts = Vec::new();
        let mut kinds = Vec::new();
        for k in keys {
            let k = &self.inlined(k);
            let cx_span = k.span;
            match &k.kind {
                ExprKind::Ident(n) if n == "probe" => {
                    let cx = self.cx(cx_span, "probe")?;
                    match cx.name.clone() {
                        ProbeName::Syscall { prefix, nr } => {
                            parts.push(Part::Value(nr));
                            kinds.push(KeyKind::SyscallProbe { prefix });
                        }
                        ProbeName::Shared { more, .. } => return Err(shared_probe(cx_span, more)),
                        ProbeName::Functions { ip, .. } => {
                            parts.push(Part::Value(ip));
                            kinds.push(KeyKind::FunctionProbe);
                        }
                        ProbeName::Fixed(_) => {
                            let c = cx.constant(cx.index, cx_span)?;
                            parts.push(Part::Value(c));
                            kinds.push(KeyKind::Probe { names: Vec::new() });
                        }
                    }
                }
                // The probed function: a constant per kernel probe, printed
                // as that probe's function name.
                ExprKind::Ident(n) if n == "func" => {
                    let cx = self.cx(cx_span, "func")?;
                    if let ProbeName::Functions { ip, .. } = cx.name {
                        parts.push(Part::Value(ip));
                        kinds.push(KeyKind::Symbol { user: false });
                        continue;
                    }
                    if cx.site.function_name().is_none() {
                        return Err(unsupported(
                            cx_span,
                            NotNative::Expression,
                            "`func` outside probes of a named function",
                        ));
                    }
                    let c = cx.constant(cx.index, cx_span)?;
                    parts.push(Part::Value(c));
                    kinds.push(KeyKind::Func { names: Vec::new() });
                }
                _ if stack::stack_of(k).is_some() => {
                    let (id, pid, stack) = self.stack(k)?;
                    let (depth, mode) = (stack.limit, stack.mode);
                    parts.push(Part::Value(id));
                    match pid {
                        Some(pid) => {
                            parts.push(Part::Value(pid));
                            kinds.push(KeyKind::UStack { depth, mode });
                        }
                        None => kinds.push(KeyKind::KStack { depth, mode }),
                    }
                }
                ExprKind::Ident(n) if n == "username" => {
                    let uid = self.cx(cx_span, n)?.builtin(source::UID, cx_span)?;
                    parts.push(Part::Value(uid));
                    kinds.push(KeyKind::User);
                }
                ExprKind::Call { name, args }
                    if name == "cgroup_path" && matches!(args.len(), 1 | 2) =>
                {
                    let filter = strings::cgroup_filter(args.get(1))?;
                    let leaf = self.leaf(&args[0])?;
                    let (id, _) = self.kernel_int(&args[0], leaf)?;
                    parts.push(Part::Value(id));
                    kinds.push(KeyKind::CgroupPath { filter });
                }
                ExprKind::Call { name, args } if is_symbol_call(name, args) => {
                    let leaf = self.leaf(&args[0])?;
                    let (addr, _) = self.kernel_int(&args[0], leaf)?;
                    parts.push(Part::Value(addr));
                    let user = name == "usym";
                    if user {
                        let pid = self.cx(cx_span, name)?.builtin(source::PID, cx_span)?;
                        parts.push(Part::Value(pid));
                    }
                    kinds.push(KeyKind::Symbol { user });
                }
                _ => {
                    let leaf = self.leaf(k)?;
                    if let Some(Leaf::Str(s)) = leaf {
                        let words = if self.is_comm(k) { 2 } else { (STR_LEN / 8) as u8 };
                        parts.push(Part::Str(s, words));
                        kinds.push(KeyKind::Str { words });
                    } else {
                        let (v, signed) = self.kernel_int(k, leaf)?;
                        parts.push(Part::Value(v));
                        kinds.push(KeyKind::Int { signed });
                    }
                }
            }
        }
        let _ = span;
        Ok((parts, kinds))
    }

    /// Map key parts evaluated in user space (BEGIN, END), stored as the
    /// kernel stores integers and strings.
    pub fn user_key(
        &mut self,
        keys: &[Expr],
    ) -> Result<(Vec<ir::Expr>, Vec<KeyKind>), Unsupported> {
        let mut parts = Vec::new();
        let mut kinds = Vec::new();
        for k in keys {
            let (part, ty) = self.user(k)?;
            kinds.push(match ty {
                Ty::Int { signed } => KeyKind::Int { signed },
                Ty::Str => {
                    KeyKind::Str { words: if self.is_comm(k) { 2 } else { (STR_LEN / 8) as u8 } }
                }
                _ => return Err(not_native(k, Some("map key"))),
            });
            parts.push(part);
        }
        if kinds.iter().map(KeyKind::words).sum::<usize>() > KEY_WORDS {
            let span = keys[0].span;
            return Err(unsupported(
                span,
                NotNative::SlotFull,
                format!("a map key of more than {} bytes", KEY_WORDS * 8),
            ));
        }
        Ok((parts, kinds))
    }

    /// An integer known in the kernel: `e`'s captured `leaf`, or computed
    /// just before the map operation that uses it.
    fn kernel_int(
        &mut self,
        e: &Expr,
        leaf: Option<Leaf>,
    ) -> Result<(ValueRef, bool), Unsupported> {
        let span = e.span;
        if let Some(Leaf::Int(v, signed)) = leaf {
            return Ok((v, signed));
        }
        match self.kernel(e)? {
            Some((ops, Ty::Int { signed })) => {
                let cx = self.cx(span, "map key")?;
                let v = cx.builder.compute(ops).map_err(super::site::slot_full(span))?;
                Ok((v, signed))
            }
            _ => Err(not_native(e, Some("map key"))),
        }
    }

    fn is_comm(&self, e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Ident(n) if n == "comm")
    }

    /// Stack expression `e`'s id capture (and the pid, for user stacks), and
    /// how many frames it prints.
    fn stack(&mut self, e: &Expr) -> Result<(ValueRef, Option<ValueRef>, Stack), Unsupported> {
        let span = e.span;
        let stack = match stack::stack_of(e) {
            Some(Ok(stack)) => stack,
            Some(Err(why)) => {
                return Err(unsupported(span, NotNative::Expression, why.to_string()));
            }
            None => return Err(not_native(e, None)),
        };
        let name = if stack.user { "ustack" } else { "kstack" };
        let cx = self.cx(span, name)?;
        if stack.user {
            let id = cx.builtin(source::USTACK, span)?;
            let pid = cx.builtin(source::PID, span)?;
            Ok((id, Some(pid), stack))
        } else {
            Ok((cx.builtin(source::KSTACK, span)?, None, stack))
        }
    }

    /// Expression-machine operations for `e`, or None when some part of it
    /// can only be evaluated in user space.
    pub fn kernel(&mut self, e: &Expr) -> Result<Option<(Ops, Ty)>, Unsupported> {
        let e = &self.inlined(e);
        if self.cx.is_none() || !kernel_shaped(e) || (self.in_predicate && str_of_map(e)) {
            return Ok(None);
        }
        let mut ops = Vec::new();
        let ty = self.kernel_into(e, &mut ops)?;
        Ok(ty.map(|ty| (ops, ty)))
    }

    pub(super) fn kernel_into(
        &mut self,
        e: &Expr,
        ops: &mut Ops,
    ) -> Result<Option<Ty>, Unsupported> {
        if bswap::is_bswap(e) {
            return self.kernel_bswap(e, ops);
        }
        if btf_access::is_typed_access(e) {
            let typed = self.typed_value(e)?;
            let Some(scalar) = typed.ty.scalar() else { return Ok(None) };
            ops.extend(typed.ops);
            return Ok(Some(Ty::Int { signed: scalar.signed }));
        }
        if let ExprKind::Call { name, args } = &e.kind
            && name == "strncmp"
        {
            return self.kernel_strncmp(args, e.span, ops);
        }
        if let ExprKind::Binary { op, lhs, rhs } = &e.kind {
            // String (in)equality against a constant: STR_EQ.
            if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                let l = self.leaf_if_string(lhs)?;
                let r = self.leaf_if_string(rhs)?;
                if let (Some(a), Some(b)) = (l, r) {
                    let (s, c) = match (a, b) {
                        (Leaf::Str(s), Leaf::ConstStr(c)) | (Leaf::ConstStr(c), Leaf::Str(s)) => {
                            (s, c)
                        }
                        _ => return Ok(None),
                    };
                    let cx = self.cx(e.span, "string comparison")?;
                    let Ok(idx) = cx.builder.const_string(&c) else { return Ok(None) };
                    ops.push(mk(op::STR_EQ, s.0, idx));
                    if *op == BinaryOp::Ne {
                        ops.push(mk(op::LNOT, 0, 0));
                    }
                    return Ok(Some(Ty::Int { signed: true }));
                }
            }
            let Some(a) = self.kernel_into(lhs, ops)? else { return Ok(None) };
            let Some(b) = self.kernel_into(rhs, ops)? else { return Ok(None) };
            let (Ty::Int { signed: sa }, Ty::Int { signed: sb }) = (a, b) else { return Ok(None) };
            let signed = sa && sb;
            let code = match (op, signed) {
                (BinaryOp::Or, _) => op::LOR,
                (BinaryOp::And, _) => op::LAND,
                (BinaryOp::BitOr, _) => op::OR,
                (BinaryOp::BitXor, _) => op::XOR,
                (BinaryOp::BitAnd, _) => op::AND,
                (BinaryOp::Eq, _) => op::EQ,
                (BinaryOp::Ne, _) => op::NE,
                (BinaryOp::Lt, true) => op::LT,
                (BinaryOp::Lt, false) => op::ULT,
                (BinaryOp::Le, true) => op::LE,
                (BinaryOp::Le, false) => op::ULE,
                (BinaryOp::Gt, true) => op::GT,
                (BinaryOp::Gt, false) => op::UGT,
                (BinaryOp::Ge, true) => op::GE,
                (BinaryOp::Ge, false) => op::UGE,
                (BinaryOp::Shl, _) => op::SHL,
                (BinaryOp::Shr, true) => op::SAR,
                (BinaryOp::Shr, false) => op::SHR,
                (BinaryOp::Add, _) => op::ADD,
                (BinaryOp::Sub, _) => op::SUB,
                (BinaryOp::Mul, _) => op::MUL,
                (BinaryOp::Div, true) => op::SDIV,
                (BinaryOp::Div, false) => op::DIV,
                (BinaryOp::Mod, true) => op::SMOD,
                (BinaryOp::Mod, false) => op::MOD,
            };
            ops.push(mk(code, 0, 0));
            let result_signed = if is_comparison(*op) { true } else { signed };
            return Ok(Some(Ty::Int { signed: result_signed }));
        }
        // `c ? a : b` as !!c * a + !c * b: the machine has no jumps, and
        // both branches only read. A comparison is 0 or 1 already.
        if let ExprKind::Ternary { cond, then, otherwise } = &e.kind {
            let mut c = Vec::new();
            let Some(Ty::Int { .. }) = self.kernel_into(cond, &mut c)? else { return Ok(None) };
            let truth: &[Op] = match is_boolean(cond) {
                true => &[],
                false => &[mk(op::LNOT, 0, 0), mk(op::LNOT, 0, 0)],
            };
            let mut branch = |e: &Expr, test: &[Op], ops: &mut Ops| {
                ops.extend(c.iter().chain(test).copied());
                let ty = self.kernel_into(e, ops)?;
                ops.push(mk(op::MUL, 0, 0));
                Ok::<_, Unsupported>(ty)
            };
            let Some(Ty::Int { signed: sa }) = branch(then, truth, ops)? else { return Ok(None) };
            let Some(Ty::Int { signed: sb }) = branch(otherwise, &[mk(op::LNOT, 0, 0)], ops)?
            else {
                return Ok(None);
            };
            ops.push(mk(op::ADD, 0, 0));
            return Ok(Some(Ty::Int { signed: sa && sb }));
        }
        if let ExprKind::Cast { ty, expr } = &e.kind {
            let Some(int) = IntType::of(ty) else { return Ok(None) };
            let Some(Ty::Int { .. }) = self.kernel_into(expr, ops)? else { return Ok(None) };
            // Truncate to the width by a mask, or sign-extend from it by
            // shifting its sign bit to the top and back.
            let shift = 64 - u64::from(int.bits);
            match (shift, int.signed) {
                (0, _) => {}
                (_, false) => ops.extend([mk(op::IMM, 0, u64::MAX >> shift), mk(op::AND, 0, 0)]),
                (_, true) => ops.extend([
                    mk(op::IMM, 0, shift),
                    mk(op::SHL, 0, 0),
                    mk(op::IMM, 0, shift),
                    mk(op::SAR, 0, 0),
                ]),
            }
            return Ok(Some(Ty::Int { signed: int.signed }));
        }
        if let ExprKind::Unary { op: u, expr } = &e.kind {
            let Some(Ty::Int { signed }) = self.kernel_into(expr, ops)? else { return Ok(None) };
            let (code, signed) = match u {
                UnaryOp::Not => (op::LNOT, true),
                UnaryOp::BitNot => (op::NOT, signed),
                UnaryOp::Neg => (op::NEG, true),
                _ => return Ok(None),
            };
            ops.push(mk(code, 0, 0));
            return Ok(Some(Ty::Int { signed }));
        }
        Ok(match self.leaf(e)? {
            Some(Leaf::Int(v, signed)) => {
                ops.push(mk(op::VALUE, v.0, 0));
                Some(Ty::Int { signed })
            }
            Some(Leaf::ConstInt(v, signed)) => {
                ops.push(mk(op::IMM, 0, v));
                Some(Ty::Int { signed })
            }
            _ => None,
        })
    }

    /// A string leaf (captured or constant), if `e` is one.
    pub(super) fn leaf_if_string(&mut self, e: &Expr) -> Result<Option<Leaf>, Unsupported> {
        if !self.is_string_valued(e) {
            return Ok(None);
        }
        self.leaf(e)
    }

    /// Whether `e` is a string, by its form (before it is lowered).
    pub(super) fn is_string_valued(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Str(_) => true,
            ExprKind::Ident(n) => matches!(n.as_str(), "comm" | "func" | "probe" | "username"),
            ExprKind::Call { name, .. } => {
                matches!(
                    name.as_str(),
                    "str" | "ksym" | "usym" | "strftime" | "ntop" | "strerror" | "cgroup_path"
                )
            }
            ExprKind::Field { expr, field, .. } if is_args(expr) => {
                self.cx.as_deref().is_some_and(|cx| cx.arg_is_text(field))
            }
            ExprKind::Var(name) => matches!(self.vars.get(name), Some((_, Ty::Str))),
            ExprKind::Map { name, .. } => self.maps.is_text(&map_name(name)),
            _ => false,
        }
    }

    /// `e` for user space, with its type.
    pub fn user(&mut self, e: &Expr) -> Result<(ir::Expr, Ty), Unsupported> {
        let span = e.span;
        match &e.kind {
            ExprKind::Var(name) => {
                let (slot, ty) = *self.vars.get(name).ok_or_else(|| {
                    unsupported(
                        span,
                        NotNative::Expression,
                        format!("${name} is used before it is assigned"),
                    )
                })?;
                return Ok((ir::Expr::Var(slot), ty));
            }
            ExprKind::Ident(n) if self.cx.is_none() && TracerBuiltin::named(n).is_some() => {
                let builtin = TracerBuiltin::named(n).expect("matched");
                let ty = match builtin {
                    TracerBuiltin::Comm => Ty::Str,
                    _ => Ty::Int { signed: false },
                };
                return Ok((ir::Expr::Tracer(builtin), ty));
            }
            ExprKind::Ident(n) if n == "probe" => {
                if let ProbeName::Shared { more, .. } = self.cx(span, "probe")?.name {
                    return Err(shared_probe(span, more));
                }
                return Ok((ir::Expr::Probe, Ty::Str));
            }
            ExprKind::Ident(n) if n == "func" => {
                let cx = self.cx(span, "func")?;
                if let ProbeName::Functions { ip, .. } = cx.name {
                    let addr = Box::new(ir::Expr::Captured { at: ip, signed: false });
                    return Ok((ir::Expr::Symbol { addr, pid: None }, Ty::Str));
                }
                let Some(symbol) = cx.site.function_name() else {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        "`func` outside probes of a named function",
                    ));
                };
                return Ok((ir::Expr::Str(symbol.as_bytes().to_vec()), Ty::Str));
            }
            ExprKind::Ident(n) if n == "elapsed" => {
                let nsecs = self.cx(span, "elapsed")?.builtin(source::NSECS, span)?;
                return Ok((ir::Expr::Elapsed { nsecs }, Ty::Int { signed: false }));
            }
            _ if stack::stack_of(e).is_some() => {
                let (id, pid, stack) = self.stack(e)?;
                let (depth, mode) = (stack.limit, stack.mode);
                return Ok((ir::Expr::Stack { id, pid, depth, mode }, Ty::Stack));
            }
            ExprKind::Ident(n) if n == "username" => {
                let uid = self.cx(span, n)?.builtin(source::UID, span)?;
                return Ok((ir::Expr::Username(uid), Ty::Str));
            }
            ExprKind::Call { name, args } if is_symbol_call(name, args) => {
                let (addr, _) = self.user(&args[0])?;
                let pid = match name.as_str() {
                    "usym" => Some(self.cx(span, name)?.builtin(source::PID, span)?),
                    _ => None,
                };
                return Ok((ir::Expr::Symbol { addr: Box::new(addr), pid }, Ty::Str));
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, ta) = self.user(lhs)?;
                let (b, tb) = self.user(rhs)?;
                let ty = match (ta, tb) {
                    (Ty::Str, Ty::Str) if matches!(op, BinaryOp::Eq | BinaryOp::Ne) => {
                        Ty::Int { signed: true }
                    }
                    (Ty::Int { signed: x }, Ty::Int { signed: y }) => {
                        Ty::Int { signed: is_comparison(*op) || (x && y) }
                    }
                    _ => {
                        return Err(unsupported(
                            span,
                            NotNative::Expression,
                            format!("`{}` on these operand types", op.symbol()),
                        ));
                    }
                };
                return Ok((ir::Expr::Binary(bin_op(*op), Box::new(a), Box::new(b)), ty));
            }
            ExprKind::Unary { op, expr } => {
                let (a, ty) = self.user(expr)?;
                let (u, ty) = match op {
                    UnaryOp::Not => (UnOp::Not, Ty::Int { signed: true }),
                    UnaryOp::BitNot => (UnOp::BitNot, ty),
                    UnaryOp::Neg => (UnOp::Neg, Ty::Int { signed: true }),
                    _ => {
                        return Err(unsupported(
                            span,
                            NotNative::Expression,
                            format!("unary `{}`", op.symbol()),
                        ));
                    }
                };
                return Ok((ir::Expr::Unary(u, Box::new(a)), ty));
            }
            ExprKind::Cast { ty, expr } if IntType::of(ty).is_some() => {
                let int = IntType::of(ty).expect("matched");
                let (a, Ty::Int { .. }) = self.user(expr)? else {
                    return Err(unsupported(
                        span,
                        NotNative::Types,
                        format!("a cast of a non-integer to {}", ty.name),
                    ));
                };
                return Ok((
                    ir::Expr::Unary(UnOp::Cast(int), Box::new(a)),
                    Ty::Int { signed: int.signed },
                ));
            }
            ExprKind::Ternary { cond, then, otherwise } => {
                let (c, _) = self.user(cond)?;
                let (a, ta) = self.user(then)?;
                let (b, tb) = self.user(otherwise)?;
                if std::mem::discriminant(&ta) != std::mem::discriminant(&tb) {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        "a ternary whose branches differ in type",
                    ));
                }
                return Ok((ir::Expr::Ternary(Box::new(c), Box::new(a), Box::new(b)), ta));
            }
            // Outside a kernel probe, maps are asked in user space.
            ExprKind::Call { name, args } if name == "has_key" && self.cx.is_none() => {
                let Some(Expr { kind: ExprKind::Map { name: m, keys }, .. }) =
                    ast::map_element(args)
                else {
                    return Err(not_native(e, None));
                };
                let (key, _) = self.user_key(&keys)?;
                let map = self.maps.touch(&map_name(&m), None, span);
                return Ok((ir::Expr::HasKey { map, key }, Ty::Int { signed: true }));
            }
            ExprKind::Map { name, keys } if self.maps.is_text(&map_name(name)) => {
                let (key, kinds) = self.user_key(keys)?;
                let map = self.maps.touch(&map_name(name), Some(kinds), span);
                return Ok((ir::Expr::MapValue { map, key, strings: true }, Ty::Str));
            }
            ExprKind::Map { name, keys }
                if self.cx.is_none() || self.maps.is_in_user_space(&map_name(name)) =>
            {
                let (key, kinds) = self.user_key(keys)?;
                let (map, signed) = self.maps.read(&map_name(name), kinds, span);
                return Ok((ir::Expr::MapValue { map, key, strings: false }, Ty::Int { signed }));
            }
            _ if bswap::is_bswap(e) => return self.user_bswap(e),
            ExprKind::Call { name, args } if name == "buf" && self.cx.is_some() => {
                return self.buffer(args, span);
            }
            // `str(buf, n)` with `n` known only per event: the kernel reads
            // the most a string holds, up to a NUL, and user space keeps `n`
            // bytes of it, as bpftrace's read of `n` bytes would.
            ExprKind::Call { name, args }
                if name == "str"
                    && args.len() == 2
                    && !matches!(args[1].kind, ExprKind::Int(_)) =>
            {
                let text = self.string_of(&args[0], STR_LEN as u32, span)?;
                let (len, Ty::Int { .. }) = self.user(&args[1])? else {
                    return Err(not_native(&args[1], Some("str() length")));
                };
                let text = Box::new(ir::Expr::CapturedStr(text));
                return Ok((ir::Expr::Prefix { text, len: Box::new(len) }, Ty::Str));
            }
            ExprKind::Call { name, args } if strings::is_string_function(name) => {
                return self.string_call(name, args, span);
            }
            ExprKind::Tuple(items) => {
                let (lowered, types): (Vec<_>, Vec<_>) = items
                    .iter()
                    .map(|i| self.user(i))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .unzip();
                self.tuples.push(types);
                return Ok((ir::Expr::Tuple(lowered), Ty::Tuple(self.tuples.len() - 1)));
            }
            ExprKind::Field { expr: base, field, .. }
                if !is_args(base) && field.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let (tuple, ty) = self.user(base)?;
                let Ty::Tuple(id) = ty else {
                    return Err(unsupported(
                        span,
                        NotNative::Types,
                        format!("`.{field}` on a value that is not a tuple"),
                    ));
                };
                let types = &self.tuples[id];
                let element = field.parse::<usize>().ok().filter(|i| *i < types.len());
                let Some(index) = element else {
                    return Err(unsupported(
                        span,
                        NotNative::Types,
                        format!("tuple index {field} is past the end of a {}-tuple", types.len()),
                    ));
                };
                return Ok((ir::Expr::TupleIndex(Box::new(tuple), index), types[index]));
            }
            _ => {}
        }
        if btf_access::is_typed_access(e) {
            let (value, signed) = self.typed_for_user(e)?;
            return Ok((value, Ty::Int { signed }));
        }
        match self.leaf(e)? {
            Some(Leaf::Int(at, signed)) => {
                Ok((ir::Expr::Captured { at, signed }, Ty::Int { signed }))
            }
            Some(Leaf::Str(at)) => Ok((ir::Expr::CapturedStr(at), Ty::Str)),
            Some(Leaf::ConstInt(bits, signed)) => {
                Ok((ir::Expr::Int { bits, signed }, Ty::Int { signed }))
            }
            Some(Leaf::ConstStr(s)) => Ok((ir::Expr::Str(s), Ty::Str)),
            None => Err(not_native(e, None)),
        }
    }
}

/// The register offset a captured argument was read from (for `str(argN)`).
pub(super) fn cx_field_offset(cx: &ProbeCx, v: ValueRef) -> u32 {
    let c = cx.builder.capture_of(v);
    c.map_or(0, |c| c.offset as u32)
}

pub fn is_args(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n) if n == "args")
}

pub fn map_name(name: &str) -> String {
    format!("@{name}")
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::And
            | BinaryOp::Or
    )
}

/// `ksym(addr)` or `usym(addr)`.
fn is_symbol_call(name: &str, args: &[Expr]) -> bool {
    matches!(name, "ksym" | "usym") && args.len() == 1
}

/// Whether `e` is made only of what the expression machine evaluates.
/// Whether `e` is 0 or 1 by construction (a comparison, `&&`, `||`, `!`).
fn is_boolean(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Binary { op, .. } => {
            is_comparison(*op) || matches!(op, BinaryOp::And | BinaryOp::Or)
        }
        ExprKind::Unary { op: UnaryOp::Not, .. } => true,
        _ => false,
    }
}

/// `args->f` (or `args.f`).
fn is_args_field(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Field { expr, .. } if is_args(expr))
}

/// The bytes of IPv4 or IPv6 address `text`, as pton() gives them.
fn pton(text: &str) -> Option<Vec<u8>> {
    match text.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) => Some(a.octets().to_vec()),
        std::net::IpAddr::V6(a) => Some(a.octets().to_vec()),
    }
}

impl Exprs<'_> {
    /// Whether `e` (as its variables stand) reads a map user space keeps,
    /// which the kernel cannot.
    pub(super) fn reads_user_space_map(&self, e: &Expr) -> bool {
        let mut found = false;
        self.inlined(e).each(&mut |e| {
            if let ExprKind::Map { name, .. } = &e.kind {
                found |= self.maps.is_in_user_space(&map_name(name));
            }
        });
        found
    }
}

/// Whether `e` reads a string at a map's value (`str(@m[k])`).
fn str_of_map(e: &Expr) -> bool {
    let mut found = false;
    e.each(&mut |e| {
        found |= matches!(&e.kind, ExprKind::Call { name, args } if name == "str"
            && matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map { .. })));
    });
    found
}

fn kernel_shaped(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Map { .. } => true,
        ExprKind::SizeofType(_) => true,
        ExprKind::Index { expr, index } => {
            matches!(index.kind, ExprKind::Int(_))
                && (is_args_field(expr)
                    || matches!(&expr.kind, ExprKind::Call { name, .. } if name == "pton"))
        }
        ExprKind::Ident(n) => {
            !matches!(n.as_str(), "probe" | "func" | "elapsed" | "kstack" | "ustack")
        }
        ExprKind::Field { expr, .. } => {
            is_args(expr) || (btf_access::is_typed_access(e) && kernel_shaped(expr))
        }
        ExprKind::Call { name, args } if name == "bswap" => args.iter().all(kernel_shaped),
        ExprKind::Call { name, .. } => {
            matches!(name.as_str(), "str" | "reg" | "has_key" | "strncmp" | "sizeof")
        }
        ExprKind::Binary { lhs, rhs, .. } => kernel_shaped(lhs) && kernel_shaped(rhs),
        ExprKind::Ternary { cond, then, otherwise } => {
            kernel_shaped(cond) && kernel_shaped(then) && kernel_shaped(otherwise)
        }
        ExprKind::Unary { op, expr } => {
            matches!(op, UnaryOp::Not | UnaryOp::BitNot | UnaryOp::Neg) && kernel_shaped(expr)
        }
        ExprKind::Cast { ty, expr } => {
            (IntType::of(ty).is_some() || btf_access::is_typed_access(e)) && kernel_shaped(expr)
        }
        _ => false,
    }
}

fn bin_op(op: BinaryOp) -> BinOp {
    match op {
        BinaryOp::Or => BinOp::Or,
        BinaryOp::And => BinOp::And,
        BinaryOp::BitOr => BinOp::BitOr,
        BinaryOp::BitXor => BinOp::BitXor,
        BinaryOp::BitAnd => BinOp::BitAnd,
        BinaryOp::Eq => BinOp::Eq,
        BinaryOp::Ne => BinOp::Ne,
        BinaryOp::Lt => BinOp::Lt,
        BinaryOp::Le => BinOp::Le,
        BinaryOp::Gt => BinOp::Gt,
        BinaryOp::Ge => BinOp::Ge,
        BinaryOp::Shl => BinOp::Shl,
        BinaryOp::Shr => BinOp::Shr,
        BinaryOp::Add => BinOp::Add,
        BinaryOp::Sub => BinOp::Sub,
        BinaryOp::Mul => BinOp::Mul,
        BinaryOp::Div => BinOp::Div,
        BinaryOp::Mod => BinOp::Mod,
    }
}

/// Names the construct for a fallback reason.
pub fn describe(e: &Expr) -> (NotNative, String) {
    let (kind, text) = match &e.kind {
        ExprKind::Ident(n) => (NotNative::Function, format!("`{n}` is")),
        ExprKind::Call { name, .. } => (NotNative::Function, format!("`{name}()` is")),
        ExprKind::Positional(_) | ExprKind::PositionalCount => {
            (NotNative::Expression, "positional parameters are".into())
        }
        ExprKind::Field { .. } => {
            (NotNative::Types, "field access on this expression (BTF-typed access) is".into())
        }
        ExprKind::Index { .. } => (NotNative::Types, "indexing is".into()),
        ExprKind::Cast { ty, .. } => (
            NotNative::Types,
            format!(
                "casts to `{}` (only to int8 … uint64) are",
                crate::lang::pretty::type_name(ty)
            ),
        ),
        ExprKind::SizeofType(_) => (NotNative::Types, "`sizeof` of this type is".into()),
        ExprKind::Step { .. } => {
            (NotNative::Expression, "`++`/`--` inside an expression is".into())
        }
        ExprKind::Map { .. } => (NotNative::Map, "reading this map here is".into()),
        _ => (NotNative::Expression, "this expression is".into()),
    };
    (kind, format!("{text} not native yet"))
}

/// `e` as not native, with `context` ("map key") before what it is.
pub fn not_native(e: &Expr, context: Option<&str>) -> Unsupported {
    let (kind, text) = describe(e);
    let reason = match context {
        Some(c) => format!("{c}: {text}"),
        None => text,
    };
    Unsupported::new(e.span, kind, reason)
}
