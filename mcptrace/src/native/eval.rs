//! Evaluates user-space statements and expressions over one event's captured
//! values, with C's integer rules (unsigned when either side is unsigned).

use mcptrace_common::{Event, limits::STR_LEN, slot::bswap};

use super::{
    cat, tracer,
    wall_time::{local_time, strftime},
};
use crate::{
    host::{
        cgroups,
        symbolize::{StackFrame, StackLayout, format_stack},
        users,
    },
    ir::{BinOp, Block, Expr, Stmt, UnOp, slot::ValueRef},
    output::{MapValue, Record, Value, printf::Arg},
};

/// What one invocation sees: the event (none for BEGIN/END) and the strings
/// its join() read, its probe name, its variables, and when the run started.
pub struct Frame<'a> {
    pub event: Option<&'a Event>,
    pub joined: &'a [Vec<u8>],
    pub probe: &'a str,
    pub start_ns: u64,
    vars: Vec<Option<Value>>,
}

/// Spaces before each frame of a stack printed as a value, in bpftrace's mode.
const VALUE_INDENT: usize = 8;

/// What statements do to the world: emit records and act on maps.
pub trait Effects {
    /// Stack `id` as printed frames (user frames of `pid` when given).
    /// Stack `id`'s frames; None when the kernel could not take it.
    fn stack(&self, id: u64, pid: Option<u32>, depth: usize) -> Option<Vec<StackFrame>>;
    /// The symbol holding `address`: in process `pid` when given, else in
    /// the kernel.
    fn symbol(&self, address: u64, pid: Option<u32>) -> String;
    fn emit(&mut self, record: Record);
    fn print_map(&mut self, map: u16, top: u64, div: u64);
    fn clear(&mut self, map: u16);
    fn zero(&mut self, map: u16);
    /// Map `map`'s element under `key` (its parts); a map that cannot be
    /// read has none, as a stack that cannot be read prints none.
    fn lookup(&self, map: u16, key: &[Value]) -> Option<MapValue>;
    /// Writes `value` (with `add`, adds it) under `key` in map `map`.
    fn store(&mut self, map: u16, key: &[Value], value: Value, add: bool);
    fn delete(&mut self, map: u16, key: &[Value]);
    /// The elements of map `map` as (key parts, value), in the order print
    /// shows them; a map that cannot be read has none.
    fn entries(&self, map: u16) -> Vec<(Vec<Value>, Value)>;
}

/// What running a block asks of the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on with the next statement.
    Continue,
    Exit,
    /// `break`: leave the innermost loop.
    Break,
    /// `continue`: on to the loop's next pass.
    NextPass,
    /// `return`: leave the probe's statements.
    Return,
}

/// bpf_loop's bound (BPF_MAX_LOOPS): bpftrace runs a range with more
/// passes not at all, as the helper refuses it. A `while` stops after as
/// many: bpftrace's verifier would refuse a loop it cannot bound, and user
/// space must not spin forever on one.
const MAX_LOOPS: i64 = 1 << 23;

/// How many passes `for ($i : start..end)` makes in bpftrace: end - start
/// taken as a 32-bit count, none when it is not positive or over bpf_loop's
/// bound.
fn range_passes(start: u64, end: u64) -> u64 {
    let n = i64::from(end.wrapping_sub(start) as i32);
    if n <= 0 || n > MAX_LOOPS { 0 } else { n as u64 }
}

impl<'a> Frame<'a> {
    pub fn new(event: Option<&'a Event>, probe: &'a str, start_ns: u64) -> Self {
        Self { event, joined: &[], probe, start_ns, vars: Vec::new() }
    }

    /// Runs `block` against `fx`.
    pub fn run(&mut self, block: &Block, fx: &mut dyn Effects) -> Control {
        for stmt in block {
            let control = self.stmt(stmt, fx);
            if control != Control::Continue {
                return control;
            }
        }
        Control::Continue
    }

    /// One pass of a loop body with `$var` = `value`: None to go on to the
    /// next pass, or what the loop ends with.
    fn pass(
        &mut self,
        var: usize,
        value: Value,
        body: &Block,
        fx: &mut dyn Effects,
    ) -> Option<Control> {
        self.set(var, value);
        self.run_pass(body, fx)
    }

    /// One pass of a loop body: None to go on, or what the loop ends with.
    fn run_pass(&mut self, body: &Block, fx: &mut dyn Effects) -> Option<Control> {
        match self.run(body, fx) {
            Control::Continue | Control::NextPass => None,
            Control::Break => Some(Control::Continue),
            end @ (Control::Exit | Control::Return) => Some(end),
        }
    }

    fn set(&mut self, var: usize, value: Value) {
        if self.vars.len() <= var {
            self.vars.resize(var + 1, None);
        }
        self.vars[var] = Some(value);
    }

    fn stmt(&mut self, stmt: &Stmt, fx: &mut dyn Effects) -> Control {
        match stmt {
            Stmt::Printf { format, args } => {
                let args: Vec<Arg> = args.iter().map(|a| to_arg(self.eval(a, fx))).collect();
                let mut out = Vec::new();
                format.render(&args, &mut out);
                fx.emit(Record::Printf(out));
            }
            Stmt::Print(e) => {
                let v = self.eval(e, fx);
                fx.emit(Record::Value(v));
            }
            Stmt::Join { delim } => fx.emit(Record::Join(self.joined.join(delim.as_slice()))),
            Stmt::Time(fmt) => fx.emit(Record::Time(local_time(fmt))),
            Stmt::Cat { format, args } => {
                let args: Vec<Arg> = args.iter().map(|a| to_arg(self.eval(a, fx))).collect();
                let mut path = Vec::new();
                format.render(&args, &mut path);
                fx.emit(cat::read(&path));
            }
            Stmt::PrintMap { map, top, div } => fx.print_map(*map, *top, *div),
            Stmt::MapStore { map, key, value, add } => {
                let key = self.key(key, fx);
                let value = self.eval(value, fx);
                fx.store(*map, &key, value, *add);
            }
            Stmt::MapDelete { map, key } => {
                let key = self.key(key, fx);
                fx.delete(*map, &key);
            }
            Stmt::Clear(map) => fx.clear(*map),
            Stmt::Zero(map) => fx.zero(*map),
            Stmt::Exit => return Control::Exit,
            Stmt::Assign { var, value } => {
                let v = self.eval(value, fx);
                self.set(*var, v);
            }
            Stmt::If { cond, then, otherwise } => {
                let branch = if truthy(&self.eval(cond, fx)) { then } else { otherwise };
                return self.run(branch, fx);
            }
            Stmt::ForRange { var, start, end, body } => {
                let (first, signed) = int(&self.eval(start, fx));
                let (last, _) = int(&self.eval(end, fx));
                for i in 0..range_passes(first, last) {
                    let value = Value::Int { bits: first.wrapping_add(i), signed };
                    if let Some(end) = self.pass(*var, value, body, fx) {
                        return end;
                    }
                }
            }
            Stmt::ForMap { var, map, body } => {
                for (mut key, value) in fx.entries(*map) {
                    let key = match key.len() {
                        1 => key.swap_remove(0),
                        _ => Value::Tuple(key),
                    };
                    if let Some(end) = self.pass(*var, Value::Tuple(vec![key, value]), body, fx) {
                        return end;
                    }
                }
            }
            Stmt::While { cond, body } => {
                for _ in 0..MAX_LOOPS {
                    if !truthy(&self.eval(cond, fx)) {
                        break;
                    }
                    if let Some(end) = self.run_pass(body, fx) {
                        return end;
                    }
                }
            }
            Stmt::Unroll { count, body } => {
                for _ in 0..*count {
                    let control = self.run(body, fx);
                    if control != Control::Continue {
                        return control;
                    }
                }
            }
            Stmt::Break => return Control::Break,
            Stmt::Continue => return Control::NextPass,
            Stmt::Return => return Control::Return,
        }
        Control::Continue
    }

    /// A map key's parts, evaluated.
    fn key(&self, parts: &[Expr], fx: &dyn Effects) -> Vec<Value> {
        parts.iter().map(|k| self.eval(k, fx)).collect()
    }

    pub fn eval(&self, e: &Expr, fx: &dyn Effects) -> Value {
        let value = |at: &ValueRef| self.event.map_or(0, |ev| ev.values[at.0 as usize]);
        match e {
            Expr::Int { bits, signed } => Value::Int { bits: *bits, signed: *signed },
            Expr::Str(s) => Value::Str(s.clone()),
            Expr::Captured { at, signed } => Value::Int { bits: value(at), signed: *signed },
            Expr::CapturedStr(at) => {
                Value::Str(self.event.map_or_else(Vec::new, |ev| cstr(&ev.strings[at.0 as usize])))
            }
            Expr::Var(i) => self.vars.get(*i).cloned().flatten().unwrap_or(Value::int(0)),
            Expr::Probe => Value::Str(self.probe.as_bytes().to_vec()),
            Expr::Elapsed { nsecs } => {
                let now = if self.event.is_some() { value(nsecs) } else { self.start_ns };
                Value::uint(now.saturating_sub(self.start_ns))
            }
            Expr::Unary(op, a) => unary(*op, self.eval(a, fx)),
            Expr::Binary(op, a, b) => binary(*op, self.eval(a, fx), self.eval(b, fx)),
            Expr::Ternary(c, a, b) => {
                if truthy(&self.eval(c, fx)) {
                    self.eval(a, fx)
                } else {
                    self.eval(b, fx)
                }
            }
            Expr::Tuple(items) => Value::Tuple(items.iter().map(|i| self.eval(i, fx)).collect()),
            Expr::HasKey { map, key } => {
                Value::int(i64::from(fx.lookup(*map, &self.key(key, fx)).is_some()))
            }
            Expr::MapValue { map, key, strings } => match fx.lookup(*map, &self.key(key, fx)) {
                Some(MapValue::Scalar(v)) => v,
                _ if *strings => Value::Str(Vec::new()),
                _ => Value::int(0),
            },
            // The lowering checked the index against the tuple's type.
            Expr::TupleIndex(tuple, i) => match self.eval(tuple, fx) {
                Value::Tuple(mut items) if *i < items.len() => items.swap_remove(*i),
                _ => Value::int(0),
            },
            Expr::Stack { id, pid, depth, mode } => {
                let frames = fx.stack(value(id), pid.as_ref().map(|p| value(p) as u32), *depth);
                let layout = StackLayout::of(*mode, VALUE_INDENT);
                Value::Str(format_stack(frames.as_deref(), layout).into_bytes())
            }
            Expr::Symbol { addr, pid } => {
                let Value::Int { bits, .. } = self.eval(addr, fx) else {
                    return Value::Str(Vec::new());
                };
                Value::Str(fx.symbol(bits, pid.as_ref().map(|p| value(p) as u32)).into_bytes())
            }
            Expr::Username(uid) => Value::Str(users::name(value(uid)).into_bytes()),
            Expr::StrNcmp(a, b, n) => {
                let (a, b) = (self.eval(a, fx), self.eval(b, fx));
                Value::uint(u64::from(!same_prefix(bytes(&a), bytes(&b), *n)))
            }
            Expr::StrContains(h, n) => {
                let (h, n) = (self.eval(h, fx), self.eval(n, fx));
                let (h, n) = (bytes(&h), bytes(&n));
                Value::uint(u64::from(n.is_empty() || h.windows(n.len()).any(|w| w == n)))
            }
            Expr::Strftime { format, nsecs } => {
                Value::Str(strftime(format, int(&self.eval(nsecs, fx)).0))
            }
            Expr::Ntop(addr) => Value::Str(ntop(int(&self.eval(addr, fx)).0 as u32)),
            Expr::Tracer(builtin) => tracer::value(*builtin),
            Expr::Strerror(errno) => Value::Str(strerror(int(&self.eval(errno, fx)).0)),
            // Unreadable mounts name no hierarchy: empty, as in bpftrace.
            Expr::CgroupPath { id, filter } => {
                Value::Str(cgroups::path(int(&self.eval(id, fx)).0, filter).unwrap_or_default())
            }
            Expr::Buf { bytes, len } => {
                let len = int(&self.eval(len, fx)).0.min(STR_LEN as u64) as usize;
                Value::Buf(
                    self.event
                        .map_or_else(Vec::new, |ev| ev.strings[bytes.0 as usize][..len].to_vec()),
                )
            }
            Expr::Prefix { text, len } => {
                let mut text = bytes(&self.eval(text, fx)).to_vec();
                text.truncate(int(&self.eval(len, fx)).0.try_into().unwrap_or(usize::MAX));
                Value::Str(text)
            }
        }
    }
}

/// The C library's text for errno value `errno`, as bpftrace's strerror().
fn strerror(errno: u64) -> Vec<u8> {
    let Ok(errno) = i32::try_from(errno) else {
        return format!("Unknown error {errno}").into_bytes();
    };
    // SAFETY: strerror returns a valid NUL-terminated string, which is
    // copied before the next call from this thread could change it.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) };
    text.to_bytes().to_vec()
}

/// A string value's bytes (none for other values).
fn bytes(v: &Value) -> &[u8] {
    match v {
        Value::Str(s) => s,
        _ => &[],
    }
}

/// C's `strncmp(a, b, n) == 0`: the first `n` bytes agree, the ends of
/// the strings (their NULs) included.
fn same_prefix(a: &[u8], b: &[u8], n: u64) -> bool {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    for i in 0..usize::try_from(n).unwrap_or(usize::MAX) {
        let (x, y) = (at(a, i), at(b, i));
        if x != y {
            return false;
        }
        if x == 0 {
            return true;
        }
    }
    true
}

/// An IPv4 address held in an integer, as bpftrace's ntop() prints it: the
/// integer's bytes in memory order, dotted as inet_ntop(3) writes them.
fn ntop(addr: u32) -> Vec<u8> {
    std::net::Ipv4Addr::from(addr.to_ne_bytes()).to_string().into_bytes()
}

/// Bytes up to the first NUL.
pub fn cstr(bytes: &[u8]) -> Vec<u8> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].to_vec()
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Int { bits, .. } => *bits != 0,
        Value::Str(s) | Value::Buf(s) => !s.is_empty(),
        Value::Tuple(t) => !t.is_empty(),
    }
}

fn to_arg(v: Value) -> Arg {
    match v {
        Value::Int { bits, .. } => Arg::Int(bits),
        Value::Str(s) | Value::Buf(s) => Arg::Str(s),
        Value::Tuple(_) => Arg::Int(0),
    }
}

fn int(v: &Value) -> (u64, bool) {
    match v {
        Value::Int { bits, signed } => (*bits, *signed),
        _ => (0, true),
    }
}

fn unary(op: UnOp, a: Value) -> Value {
    let (bits, signed) = int(&a);
    match op {
        UnOp::Not => Value::int(!truthy(&a) as i64),
        UnOp::BitNot => Value::Int { bits: !bits, signed },
        UnOp::Neg => Value::Int { bits: bits.wrapping_neg(), signed: true },
        UnOp::Cast(ty) => Value::Int { bits: ty.wrap(bits), signed: ty.signed },
        UnOp::Bswap(bytes) => Value::uint(bswap(bits, bytes)),
    }
}

/// C semantics on 64-bit integers: the result is unsigned when either operand
/// is; comparisons of strings compare bytes.
pub fn binary(op: BinOp, a: Value, b: Value) -> Value {
    if let (Value::Str(x), Value::Str(y)) = (&a, &b) {
        return match op {
            BinOp::Eq => Value::int((x == y) as i64),
            BinOp::Ne => Value::int((x != y) as i64),
            _ => Value::int(0),
        };
    }
    let bool_ = |b: bool| Value::int(b as i64);
    match op {
        BinOp::And => return bool_(truthy(&a) && truthy(&b)),
        BinOp::Or => return bool_(truthy(&a) || truthy(&b)),
        _ => {}
    }
    let ((x, xs), (y, ys)) = (int(&a), int(&b));
    let signed = xs && ys;
    let cmp = |o: std::cmp::Ordering| {
        if signed { (x as i64).cmp(&(y as i64)) == o } else { x.cmp(&y) == o }
    };
    use std::cmp::Ordering::*;
    let bits = match op {
        BinOp::Add => x.wrapping_add(y),
        BinOp::Sub => x.wrapping_sub(y),
        BinOp::Mul => x.wrapping_mul(y),
        // Division by zero gives 0, as in BPF.
        BinOp::Div if signed => (x as i64).checked_div(y as i64).unwrap_or(0) as u64,
        BinOp::Div => x.checked_div(y).unwrap_or(0),
        BinOp::Mod if signed => (x as i64).checked_rem(y as i64).unwrap_or(0) as u64,
        BinOp::Mod => x.checked_rem(y).unwrap_or(0),
        BinOp::BitAnd => x & y,
        BinOp::BitOr => x | y,
        BinOp::BitXor => x ^ y,
        BinOp::Shl => x.wrapping_shl(y as u32),
        BinOp::Shr if signed => ((x as i64).wrapping_shr(y as u32)) as u64,
        BinOp::Shr => x.wrapping_shr(y as u32),
        BinOp::Eq => return bool_(x == y),
        BinOp::Ne => return bool_(x != y),
        BinOp::Lt => return bool_(cmp(Less)),
        BinOp::Gt => return bool_(cmp(Greater)),
        BinOp::Le => return bool_(!cmp(Greater)),
        BinOp::Ge => return bool_(!cmp(Less)),
        BinOp::And | BinOp::Or => unreachable!("handled above"),
    };
    Value::Int { bits, signed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::printf::FormatString;

    fn lit(v: i64) -> Expr {
        Expr::Int { bits: v as u64, signed: true }
    }
    fn ulit(v: u64) -> Expr {
        Expr::Int { bits: v, signed: false }
    }
    fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    #[test]
    fn c_integer_rules() {
        let f = Frame::new(None, "BEGIN", 0);
        assert_eq!(f.eval(&bin(BinOp::Lt, lit(-1), lit(0)), &Records::default()), Value::int(1));
        // -1 as unsigned is the largest value.
        assert_eq!(f.eval(&bin(BinOp::Lt, lit(-1), ulit(0)), &Records::default()), Value::int(0));
        assert_eq!(f.eval(&bin(BinOp::Div, lit(-7), lit(2)), &Records::default()), Value::int(-3));
        assert_eq!(f.eval(&bin(BinOp::Div, lit(7), lit(0)), &Records::default()), Value::int(0));
        assert_eq!(f.eval(&bin(BinOp::Shr, lit(-8), lit(1)), &Records::default()), Value::int(-4));
        let s = |t: &str| Expr::Str(t.as_bytes().to_vec());
        assert_eq!(
            f.eval(&bin(BinOp::Eq, s("bash"), s("bash")), &Records::default()),
            Value::int(1)
        );
        assert_eq!(
            f.eval(&bin(BinOp::Ne, s("bash"), s("bas")), &Records::default()),
            Value::int(1)
        );
    }

    /// Records emitted, and the elements stored, beside two fixed maps.
    #[derive(Default)]
    struct Records {
        out: Vec<Record>,
        stored: Vec<(u16, Vec<Value>, Value)>,
    }

    impl Records {
        /// The text of the printf records, which are all the records.
        fn printed(self) -> String {
            let text = self.out.into_iter().flat_map(|r| match r {
                Record::Printf(bytes) => bytes,
                other => panic!("{other:?}"),
            });
            String::from_utf8(text.collect()).unwrap()
        }
    }

    impl Effects for Records {
        fn emit(&mut self, record: Record) {
            self.out.push(record);
        }
        fn stack(&self, id: u64, _: Option<u32>, _: usize) -> Option<Vec<StackFrame>> {
            Some(vec![StackFrame {
                address: id,
                symbol: Some((format!("frame{id}"), 0)),
                module: None,
            }])
        }
        fn symbol(&self, address: u64, pid: Option<u32>) -> String {
            format!("sym{address}@{pid:?}")
        }
        fn print_map(&mut self, _: u16, _: u64, _: u64) {}
        fn clear(&mut self, _: u16) {}
        fn zero(&mut self, _: u16) {}
        fn lookup(&self, map: u16, key: &[Value]) -> Option<MapValue> {
            let stored = self.stored.iter().map(|(m, k, v)| (*m, k.clone(), v.clone()));
            let fixed = [0, 1]
                .into_iter()
                .flat_map(|m| self.entries(m).into_iter().map(move |(k, v)| (m, k, v)));
            let (.., v) = stored.chain(fixed).find(|(m, k, _)| *m == map && k == key)?;
            Some(MapValue::Scalar(v))
        }
        fn store(&mut self, map: u16, key: &[Value], value: Value, add: bool) {
            let old = match self.lookup(map, key) {
                Some(MapValue::Scalar(Value::Int { bits, .. })) if add => bits,
                _ => 0,
            };
            self.delete(map, key);
            let Value::Int { bits, signed } = value else { panic!("{value:?}") };
            self.stored.push((map, key.to_vec(), Value::Int { bits: old + bits, signed }));
        }
        fn delete(&mut self, map: u16, key: &[Value]) {
            self.stored.retain(|(m, k, _)| (*m, &k[..]) != (map, key));
        }
        /// Map 0 has one key part, map 1 two.
        fn entries(&self, map: u16) -> Vec<(Vec<Value>, Value)> {
            match map {
                0 => vec![
                    (vec![Value::int(1)], Value::int(10)),
                    (vec![Value::int(2)], Value::int(20)),
                ],
                1 => vec![(vec![Value::int(3), Value::Str(b"x".to_vec())], Value::int(30))],
                _ => Vec::new(),
            }
        }
    }

    #[test]
    fn has_key_asks_the_maps_with_the_evaluated_key() {
        let fx = Records::default();
        let frame = Frame::new(None, "END", 0);
        let ask = |map, k| Expr::HasKey { map, key: vec![lit(k)] };
        assert_eq!(frame.eval(&ask(0, 1), &fx), Value::int(1));
        assert_eq!(frame.eval(&ask(0, 3), &fx), Value::int(0));
        assert_eq!(frame.eval(&ask(1, 1), &fx), Value::int(0));
    }

    #[test]
    fn map_elements_are_stored_read_and_deleted_by_key() {
        let at = |k| vec![lit(k)];
        let store = |k, v, add| Stmt::MapStore { map: 2, key: at(k), value: lit(v), add };
        let read = |k| Expr::MapValue { map: 2, key: at(k), strings: false };
        let block = vec![
            store(1, 5, false),
            store(1, 2, true),
            store(2, 9, true),
            Stmt::MapDelete { map: 2, key: at(2) },
            Stmt::Print(read(1)),
            Stmt::Print(read(2)),
            Stmt::Print(Expr::HasKey { map: 2, key: at(1) }),
            Stmt::Print(Expr::HasKey { map: 2, key: at(2) }),
        ];
        let mut records = Records::default();
        Frame::new(None, "BEGIN", 0).run(&block, &mut records);
        let printed = [7, 0, 1, 0].map(|v| Record::Value(Value::int(v)));
        assert_eq!(records.out, printed, "a missing element reads as 0");
    }

    #[test]
    fn statements_emit_records_and_exit_stops_the_block() {
        let block = vec![
            Stmt::Assign { var: 0, value: lit(41) },
            Stmt::If {
                cond: bin(BinOp::Gt, Expr::Var(0), lit(40)),
                then: vec![Stmt::Assign { var: 0, value: bin(BinOp::Add, Expr::Var(0), lit(1)) }],
                otherwise: vec![],
            },
            Stmt::Printf {
                format: FormatString::parse("%s %d\n"),
                args: vec![Expr::Probe, Expr::Var(0)],
            },
            Stmt::Exit,
            Stmt::Print(lit(1)),
        ];
        let mut records = Records::default();
        let mut f = Frame::new(None, "BEGIN", 0);
        assert_eq!(f.run(&block, &mut records), Control::Exit);
        assert_eq!(records.out, [Record::Printf(b"BEGIN 42\n".to_vec())]);
    }

    #[test]
    fn captured_values_come_from_the_event() {
        use crate::ir::slot::{StrRef, ValueRef};
        use mcptrace_common::limits::{MAX_STRINGS, STR_LEN};
        let mut ev =
            Event { slot: 0, _pad: 0, values: [0; 8], strings: [[0; STR_LEN]; MAX_STRINGS] };
        ev.values[2] = 1_500;
        ev.strings[1][..4].copy_from_slice(b"bash");
        let f = Frame::new(Some(&ev), "p", 1_000);
        assert_eq!(
            f.eval(&Expr::Elapsed { nsecs: ValueRef(2) }, &Records::default()),
            Value::uint(500)
        );
        assert_eq!(
            f.eval(&Expr::CapturedStr(StrRef(1)), &Records::default()),
            Value::Str(b"bash".to_vec())
        );
        let neg = Expr::Captured { at: ValueRef(3), signed: true };
        assert_eq!(f.eval(&neg, &Records::default()), Value::int(0));
    }

    #[test]
    fn string_functions_follow_c() {
        let f = Frame::new(None, "BEGIN", 0);
        let s = |t: &str| Box::new(Expr::Str(t.as_bytes().to_vec()));
        let ncmp = |a, b, n| f.eval(&Expr::StrNcmp(s(a), s(b), n), &Records::default());
        assert_eq!(ncmp("/etc/passwd", "/etc", 4), Value::uint(0));
        assert_eq!(ncmp("/etc/passwd", "/etc", 5), Value::uint(1), "the constant's NUL counts");
        assert_eq!(ncmp("ab", "ab", 10), Value::uint(0), "equal strings shorter than n");
        assert_eq!(ncmp("a", "ab", 2), Value::uint(1));
        assert_eq!(ncmp("x", "y", 0), Value::uint(0));
        let has = |h, n| f.eval(&Expr::StrContains(s(h), s(n)), &Records::default());
        assert_eq!(has("/usr/bin/sh", "bin"), Value::uint(1));
        assert_eq!(has("/usr/bin/sh", "sbin"), Value::uint(0));
        assert_eq!(has("sh", ""), Value::uint(1));
        assert_eq!(has("", "a"), Value::uint(0));
        let ntop = |v: u64| f.eval(&Expr::Ntop(Box::new(ulit(v))), &Records::default());
        assert_eq!(ntop(0x0100007f), Value::Str(b"127.0.0.1".to_vec()));
        assert_eq!(ntop(0xffff_ffff_0a00_00c0), Value::Str(b"192.0.0.10".to_vec()));
    }

    #[test]
    fn ranges_count_passes_as_bpf_loop_does() {
        assert_eq!(range_passes(0, 10), 10);
        assert_eq!(range_passes(5, 5), 0);
        assert_eq!(range_passes(7, 3), 0, "a range that runs backwards makes no pass");
        assert_eq!(range_passes(-3i64 as u64, 2), 5);
        assert_eq!(range_passes(0, 1 << 23), 1 << 23);
        assert_eq!(range_passes(0, (1 << 23) + 1), 0, "over bpf_loop's bound: none");
        // The count is taken as 32 bits, as bpftrace passes it to bpf_loop.
        assert_eq!(range_passes(0, (1 << 32) + 2), 2);
    }

    #[test]
    fn loops_bind_their_variable_and_obey_break_continue_return() {
        let printf = |f: &str, args| Stmt::Printf { format: FormatString::parse(f), args };
        let index = |v, i| Expr::TupleIndex(Box::new(Expr::Var(v)), i);
        let block = vec![
            Stmt::ForRange {
                var: 0,
                start: lit(-1),
                end: lit(5),
                body: vec![
                    Stmt::If {
                        cond: bin(BinOp::Eq, Expr::Var(0), lit(1)),
                        then: vec![Stmt::Continue],
                        otherwise: vec![],
                    },
                    Stmt::If {
                        cond: bin(BinOp::Eq, Expr::Var(0), lit(3)),
                        then: vec![Stmt::Break],
                        otherwise: vec![],
                    },
                    printf("%d ", vec![Expr::Var(0)]),
                ],
            },
            Stmt::ForMap {
                var: 1,
                map: 0,
                body: vec![printf("%d=%d ", vec![index(1, 0), index(1, 1)])],
            },
            Stmt::ForMap {
                var: 1,
                map: 1,
                body: vec![printf(
                    "%d,%s ",
                    vec![
                        Expr::TupleIndex(Box::new(index(1, 0)), 0),
                        Expr::TupleIndex(Box::new(index(1, 0)), 1),
                    ],
                )],
            },
            Stmt::While {
                cond: bin(BinOp::Lt, Expr::Var(3), lit(2)),
                body: vec![
                    Stmt::Assign { var: 3, value: bin(BinOp::Add, Expr::Var(3), lit(1)) },
                    printf("w%d ", vec![Expr::Var(3)]),
                ],
            },
            // A loop that never ends by itself stops at bpf_loop's bound.
            Stmt::While { cond: lit(1), body: vec![] },
            Stmt::ForRange { var: 2, start: lit(0), end: lit(3), body: vec![Stmt::Return] },
            printf("not reached", vec![]),
        ];
        let mut records = Records::default();
        assert_eq!(Frame::new(None, "END", 0).run(&block, &mut records), Control::Return);
        assert_eq!(records.printed(), "-1 0 2 1=10 2=20 3,x w1 w2 ");
    }

    /// `unroll` repeats its body; a `break` in it ends the loop around it.
    #[test]
    fn unroll_repeats_and_its_jumps_reach_the_enclosing_loop() {
        let printf = |f: &str, args| Stmt::Printf { format: FormatString::parse(f), args };
        let block = vec![
            Stmt::Unroll { count: 2, body: vec![printf("u ", vec![])] },
            Stmt::ForRange {
                var: 0,
                start: lit(0),
                end: lit(3),
                body: vec![Stmt::Unroll {
                    count: 3,
                    body: vec![
                        printf("%d ", vec![Expr::Var(0)]),
                        Stmt::If {
                            cond: bin(BinOp::Eq, Expr::Var(0), lit(1)),
                            then: vec![Stmt::Break],
                            otherwise: vec![],
                        },
                    ],
                }],
            },
        ];
        let mut records = Records::default();
        assert_eq!(Frame::new(None, "BEGIN", 0).run(&block, &mut records), Control::Continue);
        assert_eq!(records.printed(), "u u 0 0 0 1 ");
    }

    #[test]
    fn bswap_reverses_the_bytes_of_its_width() {
        let f = Frame::new(None, "BEGIN", 0);
        let swap = |bytes, v| {
            f.eval(&Expr::Unary(UnOp::Bswap(bytes), Box::new(lit(v))), &Records::default())
        };
        assert_eq!(swap(8, 0x1122), Value::uint(0x2211_0000_0000_0000));
        assert_eq!(swap(4, 0x1122_3344), Value::uint(0x4433_2211));
        assert_eq!(swap(2, 0xaa_1122), Value::uint(0x2211), "bytes above the width go");
        assert_eq!(swap(1, 0x12), Value::uint(0x12));
        assert_eq!(swap(8, -1), Value::uint(u64::MAX), "unsigned, as bpftrace types it");
    }
}
