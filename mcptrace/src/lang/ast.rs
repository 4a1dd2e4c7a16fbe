//! The syntax tree of a bpftrace program. Every node carries the [`Span`] of
//! the text it came from, so later stages can point at it.

use serde::Serialize;

/// Where a node was written: 1-based line and column (in characters), byte
/// offset and byte length.
///
/// Spans compare equal whatever their positions: two trees are equal when they
/// say the same thing, which is what the parse → print → parse round trip checks.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    pub offset: u32,
    pub len: u32,
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Span {}

impl Span {
    /// The span from the start of `self` to the end of `end`.
    pub fn to(self, end: Span) -> Span {
        Span { len: (end.offset + end.len).saturating_sub(self.offset), ..self }
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Program {
    /// `#include` lines and C definitions before the probes, kept verbatim.
    pub preamble: Vec<Preamble>,
    /// `config = { key = value; ... }` (bpftrace 0.20+), before the probes.
    pub config: Vec<ConfigEntry>,
    pub probes: Vec<Probe>,
}

/// One `key = value` of a config block, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigEntry {
    pub key: String,
    pub value: ConfigValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConfigValue {
    Int(u64),
    Str(String),
    Bool(bool),
    /// A bare word: `perf`, `PER_PID`.
    Word(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Preamble {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

/// Probe kinds, in bpftrace's long names. The discriminant orders a bit set
/// (see `catalog::ProbeKinds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum ProbeKind {
    Begin,
    End,
    Tracepoint,
    RawTracepoint,
    Kprobe,
    Kretprobe,
    Uprobe,
    Uretprobe,
    Usdt,
    Profile,
    Interval,
    Software,
    Hardware,
    Watchpoint,
    AsyncWatchpoint,
    Kfunc,
    Kretfunc,
    Iter,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 18] = [
        Self::Begin,
        Self::End,
        Self::Tracepoint,
        Self::RawTracepoint,
        Self::Kprobe,
        Self::Kretprobe,
        Self::Uprobe,
        Self::Uretprobe,
        Self::Usdt,
        Self::Profile,
        Self::Interval,
        Self::Software,
        Self::Hardware,
        Self::Watchpoint,
        Self::AsyncWatchpoint,
        Self::Kfunc,
        Self::Kretfunc,
        Self::Iter,
    ];

    /// The kind a written probe type (long name or alias) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            // Lower case since bpftrace 0.21.
            "BEGIN" | "begin" => Self::Begin,
            "END" | "end" => Self::End,
            "tracepoint" | "t" => Self::Tracepoint,
            "rawtracepoint" | "rt" => Self::RawTracepoint,
            "kprobe" | "k" => Self::Kprobe,
            "kretprobe" | "kr" => Self::Kretprobe,
            "uprobe" | "u" => Self::Uprobe,
            "uretprobe" | "ur" => Self::Uretprobe,
            "usdt" | "U" => Self::Usdt,
            "profile" | "p" => Self::Profile,
            "interval" | "i" => Self::Interval,
            "software" | "s" => Self::Software,
            "hardware" | "h" => Self::Hardware,
            "watchpoint" | "w" => Self::Watchpoint,
            "asyncwatchpoint" | "aw" => Self::AsyncWatchpoint,
            "kfunc" | "f" | "fentry" => Self::Kfunc,
            "kretfunc" | "fr" | "fexit" => Self::Kretfunc,
            "iter" => Self::Iter,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Begin => "BEGIN",
            Self::End => "END",
            Self::Tracepoint => "tracepoint",
            Self::RawTracepoint => "rawtracepoint",
            Self::Kprobe => "kprobe",
            Self::Kretprobe => "kretprobe",
            Self::Uprobe => "uprobe",
            Self::Uretprobe => "uretprobe",
            Self::Usdt => "usdt",
            Self::Profile => "profile",
            Self::Interval => "interval",
            Self::Software => "software",
            Self::Hardware => "hardware",
            Self::Watchpoint => "watchpoint",
            Self::AsyncWatchpoint => "asyncwatchpoint",
            Self::Kfunc => "kfunc",
            Self::Kretfunc => "kretfunc",
            Self::Iter => "iter",
        }
    }
}

/// One attach point: `tracepoint:syscalls:sys_enter_*`, `uprobe:/bin/bash:readline`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttachPoint {
    pub kind: ProbeKind,
    /// The probe type as written (`t`, `tracepoint`), kept for printing.
    pub kind_text: String,
    /// The `:`-separated parts after the probe type, as written.
    pub parts: Vec<String>,
    pub span: Span,
}

impl AttachPoint {
    /// The full text, `kind:part:part`.
    pub fn text(&self) -> String {
        std::iter::once(self.kind_text.as_str())
            .chain(self.parts.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(":")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum StmtKind {
    Expr(Expr),
    /// `target = value`, or `target op= value` when `op` is set. The target is
    /// a map or a `$variable`.
    Assign {
        target: Expr,
        op: Option<BinaryOp>,
        value: Expr,
    },
    /// `let $var[: TYPE][ = value]` (bpftrace 0.22+): a declaration, typed
    /// or not, with or without a first value.
    Let {
        var: String,
        ty: Option<TypeName>,
        value: Option<Expr>,
    },
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Else>,
    },
    Unroll {
        count: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for ($var : @map) { … }` (bpftrace 0.21+) or `for ($var : a..b)`
    /// (0.24+): the body once per map element or per integer of the range.
    For {
        var: String,
        iter: ForIter,
        body: Block,
    },
    Break,
    Continue,
    Return,
}

/// What a `for` loop walks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ForIter {
    /// A whole map (`@m`, no keys): the variable is `(key, value)`, the key
    /// a tuple when the map has several key parts.
    Map(Expr),
    /// `start..end`: from `start` up to, not including, `end`; both
    /// evaluated once, before the first iteration.
    Range { start: Expr, end: Expr },
}

impl ForIter {
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            ForIter::Map(map) => vec![map],
            ForIter::Range { start, end } => vec![start, end],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Else {
    Block(Block),
    If(Box<Stmt>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ExprKind {
    Int(u64),
    /// The decoded value of a string literal.
    Str(String),
    /// A bare name: a builtin variable (`pid`, `arg0`) or, where bpftrace
    /// allows it, a name such as a signal or register in a call.
    Ident(String),
    /// `$1`, `$2`, ...
    Positional(u32),
    /// `$#`
    PositionalCount,
    /// `$name`
    Var(String),
    /// `@name[keys]`; the name is empty for `@`.
    Map {
        name: String,
        keys: Vec<Expr>,
    },
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `sizeof(TYPE)`; `sizeof(expr)` is a call.
    SizeofType(TypeName),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    /// `++x`, `x++`, `--x`, `x--`
    Step {
        increment: bool,
        prefix: bool,
        target: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `expr.field` or `expr->field` (`arrow`); tuple elements are `t.0`.
    Field {
        expr: Box<Expr>,
        field: String,
        arrow: bool,
    },
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    Cast {
        ty: TypeName,
        expr: Box<Expr>,
    },
    Tuple(Vec<Expr>),
}

/// A C type as written in casts and `sizeof`: `uint32`, `struct task_struct *`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypeName {
    /// The base name, with its `struct`/`union`/`enum` keyword if any.
    pub name: String,
    pub pointers: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    Neg,
    Not,
    BitNot,
    Deref,
    AddrOf,
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Neg => "-",
            Self::Not => "!",
            Self::BitNot => "~",
            Self::Deref => "*",
            Self::AddrOf => "&",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    Or,
    And,
    BitOr,
    BitXor,
    BitAnd,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Or => "||",
            Self::And => "&&",
            Self::BitOr => "|",
            Self::BitXor => "^",
            Self::BitAnd => "&",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Shl => "<<",
            Self::Shr => ">>",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
        }
    }

    /// C binding strength: higher binds tighter. Operators of one level
    /// associate to the left.
    pub fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And => 2,
            Self::BitOr => 3,
            Self::BitXor => 4,
            Self::BitAnd => 5,
            Self::Eq | Self::Ne => 6,
            Self::Lt | Self::Le | Self::Gt | Self::Ge => 7,
            Self::Shl | Self::Shr => 8,
            Self::Add | Self::Sub => 9,
            Self::Mul | Self::Div | Self::Mod => 10,
        }
    }

    /// Operators usable in compound assignment (`+=`, `<<=`, ...).
    pub fn is_compound(self) -> bool {
        !matches!(
            self,
            Self::Or | Self::And | Self::Eq | Self::Ne | Self::Lt | Self::Le | Self::Gt | Self::Ge
        )
    }
}

/// The map element the arguments of `delete` or `has_key` name, as
/// `@m[keys]`: written `delete(@m[k1, k2])` (bpftrace 0.17), or `delete(@m,
/// key)` and `has_key(@m, key)` (0.22+, where a tuple key `(k1, k2)` stands
/// for the keys of a multi-key map). None when they name no element.
pub fn map_element(args: &[Expr]) -> Option<Expr> {
    match args {
        [element @ Expr { kind: ExprKind::Map { .. }, .. }] => Some(element.clone()),
        [Expr { kind: ExprKind::Map { name, keys }, span }, key] if keys.is_empty() => {
            let keys = match &key.kind {
                ExprKind::Tuple(items) => items.clone(),
                _ => vec![key.clone()],
            };
            Some(Expr { kind: ExprKind::Map { name: name.clone(), keys }, span: span.to(key.span) })
        }
        _ => None,
    }
}

impl Block {
    /// Every statement, nested blocks included, in source order.
    pub fn each_stmt<'a>(&'a self, f: &mut dyn FnMut(&'a Stmt)) {
        for stmt in &self.stmts {
            f(stmt);
            match &stmt.kind {
                StmtKind::If { then, otherwise, .. } => {
                    then.each_stmt(f);
                    let mut nested = otherwise.as_ref();
                    while let Some(branch) = nested {
                        match branch {
                            Else::Block(b) => {
                                b.each_stmt(f);
                                nested = None;
                            }
                            Else::If(stmt) => {
                                f(stmt);
                                let StmtKind::If { then, otherwise, .. } = &stmt.kind else {
                                    break;
                                };
                                then.each_stmt(f);
                                nested = otherwise.as_ref();
                            }
                        }
                    }
                }
                StmtKind::While { body, .. }
                | StmtKind::Unroll { body, .. }
                | StmtKind::For { body, .. } => body.each_stmt(f),
                _ => {}
            }
        }
    }
}

impl Stmt {
    /// The expressions written directly in this statement (not in nested blocks).
    pub fn exprs(&self) -> Vec<&Expr> {
        match &self.kind {
            StmtKind::Expr(e) => vec![e],
            StmtKind::Assign { target, value, .. } => vec![target, value],
            StmtKind::Let { value, .. } => value.iter().collect(),
            StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => vec![cond],
            StmtKind::Unroll { count, .. } => vec![count],
            StmtKind::For { iter, .. } => iter.exprs(),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => vec![],
        }
    }
}

impl Expr {
    /// This expression and every sub-expression, parents first.
    pub fn each<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        for child in self.children() {
            child.each(f);
        }
    }

    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Ident(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::Var(_)
            | ExprKind::SizeofType(_) => vec![],
            ExprKind::Map { keys: items, .. }
            | ExprKind::Call { args: items, .. }
            | ExprKind::Tuple(items) => items.iter().collect(),
            ExprKind::Unary { expr, .. }
            | ExprKind::Field { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::Step { target: expr, .. } => vec![expr],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            ExprKind::Index { expr, index } => vec![expr, index],
            ExprKind::Ternary { cond, then, otherwise } => vec![cond, then, otherwise],
        }
    }

    /// The direct subexpressions, for rewriting in place.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Ident(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::Var(_)
            | ExprKind::SizeofType(_) => vec![],
            ExprKind::Map { keys: items, .. }
            | ExprKind::Call { args: items, .. }
            | ExprKind::Tuple(items) => items.iter_mut().collect(),
            ExprKind::Unary { expr, .. }
            | ExprKind::Field { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::Step { target: expr, .. } => vec![expr],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            ExprKind::Index { expr, index } => vec![expr, index],
            ExprKind::Ternary { cond, then, otherwise } => vec![cond, then, otherwise],
        }
    }
}
