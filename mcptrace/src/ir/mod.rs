//! The native IR: a program as the native backend runs it — kernel probes
//! with their slot configurations, and the statements user space runs for
//! each event, for BEGIN and for END. Lowering produces it; the native
//! runtime runs it. Nothing here touches the kernel (no aya): `attach` says
//! where a slot attaches, `slot` builds a slot's configuration.

pub mod attach;
pub mod listing;
pub mod regs;
pub mod slot;
pub mod usdt_args;

use mcptrace_common::SlotConfig;

pub use self::attach::{AttachPoint, Sample};
use self::slot::{StrRef, ValueRef};
use crate::lang::{int_type::IntType, printf::FormatString, stack::StackMode};
pub use crate::probe::UserLocation;

#[derive(Clone, Debug)]
pub struct NativeProgram {
    /// bpftrace's "Attaching N probes" count: wildcard matches, BEGIN and END
    /// included, whatever the native attach points are.
    pub attach_count: usize,
    pub begin: Vec<Block>,
    pub probes: Vec<KernelProbe>,
    pub end: Vec<Block>,
    /// Every user map, printed at exit in name order unless
    /// `print_maps_on_exit` is off (`config = { print_maps_on_exit = false }`).
    pub maps: Vec<MapInfo>,
    pub print_maps_on_exit: bool,
}

impl NativeProgram {
    /// Whether running it needs the eBPF object loaded: a program of BEGIN
    /// and END alone has no probe to attach and no map to read (only kernel
    /// probes write maps), and runs in user space alone.
    pub fn needs_kernel(&self) -> bool {
        !self.probes.is_empty() || !self.maps.is_empty()
    }
}

/// A user map (`@name`) held in the kernel maps under id `id`, or in user
/// space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    pub id: u16,
    /// With the `@`.
    pub name: String,
    pub agg: MapAgg,
    pub key: Vec<KeyKind>,
    /// Kept in user space rather than the kernel maps: maps of strings, and
    /// maps that user-space statements update on the events (under a
    /// condition only user space evaluates, in a loop, after a `return`).
    pub in_user_space: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapAgg {
    Count,
    Sum {
        signed: bool,
    },
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist {
        min: i64,
        max: i64,
        step: u64,
    },
    /// Keyed state assigned with `=` or `+=`.
    Value {
        signed: bool,
    },
    /// Strings, which the kernel maps do not hold (so the map is kept in
    /// user space).
    Text,
}

/// How one key part is stored and printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Int {
        signed: bool,
    },
    /// A string of `words` 8-byte words (comm: 2, str(): 8).
    Str {
        words: u8,
    },
    /// The index of the probe that fired, printed as its name.
    Probe {
        names: Vec<String>,
    },
    /// The index of the probe that fired, printed as the function it probes.
    Func {
        names: Vec<String>,
    },
    /// A syscall number, printed as `prefix` + the syscall's name.
    SyscallProbe {
        prefix: String,
    },
    /// A kernel address, printed as `kprobe:` + the function holding it
    /// (`probe` of a kprobe slot serving several functions).
    FunctionProbe,
    /// A kernel stack id, printed as its frames (at most `depth`) in `mode`.
    KStack {
        depth: usize,
        mode: StackMode,
    },
    /// A user stack id and then the pid it belongs to (two words).
    UStack {
        depth: usize,
        mode: StackMode,
    },
    /// An address printed as its symbol (`ksym()`); with `user`, then the
    /// pid whose mappings resolve it (`usym()`, two words).
    Symbol {
        user: bool,
    },
    /// A uid printed as its user name (`username`).
    User,
    /// A cgroup id printed as its paths in the hierarchies `filter` passes
    /// (`cgroup_path()`), looked up when printed.
    CgroupPath {
        filter: String,
    },
}

impl KeyKind {
    /// 8-byte words the part takes in the key.
    pub fn words(&self) -> usize {
        match self {
            KeyKind::Str { words } => *words as usize,
            KeyKind::UStack { .. } | KeyKind::Symbol { user: true } => 2,
            _ => 1,
        }
    }
}

#[derive(Clone, Debug)]
pub struct KernelProbe {
    /// Where the slot attaches: one place, or the tracepoints of one
    /// wildcard that share the slot (never empty).
    pub points: Vec<AttachPoint>,
    pub config: SlotConfig,
    /// What the `probe` builtin says for an event of this probe.
    pub name: ProbeName,
    /// The part of the predicate evaluated in user space, if any; the rest
    /// is in `config` and already held in the kernel.
    pub predicate: Option<Expr>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeName {
    Fixed(String),
    /// One raw syscall slot serves many syscall tracepoints: the name is
    /// `prefix` + the syscall's name, from the captured number.
    Syscall {
        prefix: String,
        nr: ValueRef,
    },
    /// One tracepoint slot serves the tracepoints of a wildcard and cannot
    /// tell which fired: `probe` has no value there.
    Shared {
        first: String,
        more: usize,
    },
    /// One kprobe slot serves the entries of several kernel functions: the
    /// name is `kprobe:` + the function holding the captured instruction
    /// pointer `ip`.
    Functions {
        ip: ValueRef,
        first: String,
        more: usize,
    },
}

impl std::fmt::Display for ProbeName {
    /// The name, or for a syscall slot the family it serves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeName::Fixed(name) => f.write_str(name),
            ProbeName::Syscall { prefix, .. } => write!(f, "{prefix}*"),
            ProbeName::Shared { first, more } | ProbeName::Functions { first, more, .. } => {
                write!(f, "{first} and {more} more")
            }
        }
    }
}

pub type Block = Vec<Stmt>;

#[derive(Clone, Debug)]
pub enum Stmt {
    Printf {
        format: FormatString,
        args: Vec<Expr>,
    },
    Print(Expr),
    /// `join(array, delim)`: the strings the kernel read into the event's
    /// join area, joined by `delim`.
    Join {
        delim: Vec<u8>,
    },
    /// `time(fmt)`; bpftrace's default format is `%H:%M:%S\n`.
    Time(String),
    /// `cat(format, args...)`: the file at the formatted path, as it is.
    Cat {
        format: FormatString,
        args: Vec<Expr>,
    },
    Exit,
    /// `$var = value`; variables live for one probe invocation.
    Assign {
        var: usize,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Block,
        otherwise: Block,
    },
    /// `print(@m, top, div)`.
    PrintMap {
        map: u16,
        top: u64,
        div: u64,
    },
    /// `for ($var : start..end)`: the body with `$var` = start, start + 1,
    /// … below end; both ends are evaluated once, before the first pass.
    ForRange {
        var: usize,
        start: Expr,
        end: Expr,
        body: Block,
    },
    /// `for ($var : @m)`: the body once per element of map `map` (by id),
    /// with `$var` = (key, value); the key is a tuple when the map has
    /// several key parts.
    ForMap {
        var: usize,
        map: u16,
        body: Block,
    },
    /// `while (cond) body`, at most `MAX_LOOPS` passes (see native::eval).
    While {
        cond: Expr,
        body: Block,
    },
    /// `unroll (N) body`: the body `count` times over. Not a loop: a
    /// `break` or `continue` in it acts on the loop around it.
    Unroll {
        count: u64,
        body: Block,
    },
    /// `break` and `continue` end the innermost loop or its pass; `return`
    /// ends the probe's statements.
    Break,
    Continue,
    Return,
    /// `@m[key] = value`, or with `add`, `@m[key] += value`, in BEGIN or
    /// END: keyed state written from user space.
    MapStore {
        map: u16,
        key: Vec<Expr>,
        value: Expr,
        add: bool,
    },
    /// `delete(@m[key])` in BEGIN or END.
    MapDelete {
        map: u16,
        key: Vec<Expr>,
    },
    /// `clear(@m)`.
    Clear(u16),
    /// `zero(@m)`.
    Zero(u16),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Int {
        bits: u64,
        signed: bool,
    },
    Str(Vec<u8>),
    /// A captured integer.
    Captured {
        at: ValueRef,
        signed: bool,
    },
    /// A captured string.
    CapturedStr(StrRef),
    Var(usize),
    Probe,
    /// `elapsed`: nanoseconds since the run started, from captured `nsecs`.
    Elapsed {
        nsecs: ValueRef,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Tuple(Vec<Expr>),
    /// `t.N`: element N of a tuple.
    TupleIndex(Box<Expr>, usize),
    /// `has_key(@m, key)` in BEGIN or END: whether map `map` (by id) has
    /// an element under the key's parts, asked of the maps in user space.
    HasKey {
        map: u16,
        key: Vec<Expr>,
    },
    /// `@m[key]` read in user space (in BEGIN or END, or of a map of
    /// strings): the element's plain value (bpftrace reads no aggregation
    /// in an expression); where there is none, 0, or "" in a map of
    /// `strings`, as bpftrace reads a missing key.
    MapValue {
        map: u16,
        key: Vec<Expr>,
        strings: bool,
    },
    /// `kstack` / `ustack` in printf or print: the captured stack id (and,
    /// for user stacks, the pid whose mappings resolve it).
    Stack {
        id: ValueRef,
        pid: Option<ValueRef>,
        depth: usize,
        mode: StackMode,
    },
    /// `ksym(addr)`, or with the pid whose mappings resolve it, `usym(addr)`.
    Symbol {
        addr: Box<Expr>,
        pid: Option<ValueRef>,
    },
    /// `username`: the name of a captured uid.
    Username(ValueRef),
    /// `strncmp(a, b, n)`: 0 when the strings agree in their first `n`
    /// bytes (up to a NUL both have), else 1.
    StrNcmp(Box<Expr>, Box<Expr>, u64),
    /// `strcontains(haystack, needle)`: 1 when needle is in haystack.
    StrContains(Box<Expr>, Box<Expr>),
    /// `strftime(format, nsecs)`: nsecs since boot as local wall time.
    Strftime {
        format: String,
        nsecs: Box<Expr>,
    },
    /// `ntop(addr)`: an IPv4 address held in an integer, as text.
    Ntop(Box<Expr>),
    /// `strerror(errno)`: the C library's text for an errno value.
    Strerror(Box<Expr>),
    /// `cgroup_path(id, filter)`: where cgroup `id` is in the hierarchies
    /// `filter` passes, looked up when evaluated.
    CgroupPath {
        id: Box<Expr>,
        filter: String,
    },
    /// The first `len` bytes of string `text` (`str(buf, n)` with `n`
    /// computed).
    Prefix {
        text: Box<Expr>,
        len: Box<Expr>,
    },
    /// `buf(ptr, len)`: the first `len` bytes (at most `STR_LEN`, as
    /// bpftrace caps them) of the buffer captured into string slot `bytes`.
    Buf {
        bytes: StrRef,
        len: Box<Expr>,
    },
    /// A builtin in BEGIN or END, which run in the tracing process (as
    /// bpftrace's run in bpftrace): that process's pid, comm, ...
    Tracer(TracerBuiltin),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TracerBuiltin {
    Pid,
    Tid,
    Uid,
    Gid,
    Cpu,
    Nsecs,
    Comm,
}

impl TracerBuiltin {
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "pid" => Self::Pid,
            "tid" => Self::Tid,
            "uid" => Self::Uid,
            "gid" => Self::Gid,
            "cpu" => Self::Cpu,
            "nsecs" => Self::Nsecs,
            "comm" => Self::Comm,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    BitNot,
    Neg,
    /// `(uint8)x` …: truncate, and sign-extend for a signed type.
    Cast(IntType),
    /// `bswap(x)` of an integer this many bytes wide: unsigned.
    Bswap(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}
