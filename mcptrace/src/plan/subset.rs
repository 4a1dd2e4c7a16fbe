//! The native subset: the constructs the native backend is meant to run.
//! Data, not logic, so extending it is a matter of adding entries here (and
//! the reason a construct falls back is stated beside it).

use crate::lang::ast::{BinaryOp, ProbeKind, UnaryOp};

pub struct Subset {
    pub probe_kinds: &'static [ProbeKind],
    /// Builtin variables by catalog name (`argN` stands for the family).
    pub builtins: &'static [&'static str],
    /// Highest `argN` index captured.
    pub max_arg: u32,
    pub functions: &'static [&'static str],
    pub binary_ops: &'static [BinaryOp],
    pub unary_ops: &'static [UnaryOp],
    /// Fallback reasons for builtins that need a whole feature, by name.
    pub builtin_reasons: &'static [(&'static str, &'static str)],
}

pub const NATIVE: Subset = Subset {
    probe_kinds: &[
        ProbeKind::Tracepoint,
        ProbeKind::RawTracepoint,
        ProbeKind::Begin,
        ProbeKind::End,
        ProbeKind::Interval,
        ProbeKind::Profile,
        ProbeKind::Uprobe,
        ProbeKind::Uretprobe,
    ],
    builtins: &[
        "pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "comm", "probe", "args", "argN",
        "retval",
    ],
    max_arg: 5,
    functions: &["printf", "print", "time", "exit", "str"],
    binary_ops: &[
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::And,
        BinaryOp::Or,
    ],
    unary_ops: &[UnaryOp::Not],
    builtin_reasons: &[
        ("kstack", "stack capture is not native yet"),
        ("ustack", "stack capture is not native yet"),
        ("curtask", "task_struct access needs BTF-typed reads: not native yet"),
        ("func", "function-name resolution is not native yet"),
        ("cgroup", "cgroup capture is not native yet"),
    ],
};

#[cfg(test)]
mod tests {
    use super::NATIVE;
    use crate::lang::catalog;

    #[test]
    fn subset_names_exist_in_the_catalog() {
        for name in NATIVE.builtins.iter().chain(NATIVE.builtin_reasons.iter().map(|(n, _)| n)) {
            assert!(catalog::CATALOG.iter().any(|e| e.name == *name), "{name}");
        }
        for name in NATIVE.functions {
            assert!(catalog::function(name).is_some(), "{name}");
        }
    }
}
