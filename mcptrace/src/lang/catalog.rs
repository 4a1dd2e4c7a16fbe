//! Every builtin variable, function and map function of bpftrace 0.17 (and
//! the newer ones mcptrace runs, marked so), in one table. Two users read it: the checker validates programs against it and the
//! MCP `list_helpers` tool serves it, with `native` from the lowering
//! (`lower::is_native`), the one place that knows what runs natively.

use serde::Serialize;

use super::ast::ProbeKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A name read without a call: `pid`, `comm`, `arg0`.
    BuiltinVariable,
    /// A call whose value (or effect) does not involve a map: `printf`, `str`.
    Function,
    /// A call that aggregates into a map (`@x = count()`) or acts on one (`delete`).
    MapFunction,
}

/// A set of probe kinds, as a bit set over [`ProbeKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeKinds(u32);

impl ProbeKinds {
    pub const ALL: Self = Self(u32::MAX);

    pub const fn of(kinds: &[ProbeKind]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= 1 << kinds[i] as u32;
            i += 1;
        }
        Self(bits)
    }

    pub const fn contains(self, kind: ProbeKind) -> bool {
        self.0 & (1 << kind as u32) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = ProbeKind> {
        ProbeKind::ALL.iter().copied().filter(move |k| self.contains(*k))
    }
}

impl Serialize for ProbeKinds {
    /// `"all"` or the list of probe kind names.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if *self == Self::ALL {
            s.serialize_str("all")
        } else {
            s.collect_seq(self.iter().map(ProbeKind::name))
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// The name as written; families are named by their pattern (`argN`, `sargN`, `$N`).
    pub name: &'static str,
    pub kind: EntryKind,
    pub signature: &'static str,
    pub description: &'static str,
    pub min_args: u8,
    /// `None`: no upper bound (printf and friends).
    pub max_args: Option<u8>,
    pub valid_in: ProbeKinds,
    /// Needs `--unsafe`: it changes the system rather than observing it.
    #[serde(rename = "unsafe")]
    pub is_unsafe: bool,
    /// The kind of value it gives: the checker's one source for what a map
    /// assigned from it holds.
    pub value: Yields,
}

/// The kind of value a builtin variable or call gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Yields {
    Integer,
    String,
    Stack,
    /// An aggregation, only assignable to a map (`@m = count()`).
    Aggregation,
    /// An action with no value: `printf`, `delete`.
    Nothing,
    /// A type that depends on the program: `args`, `$1`, `ctx`.
    Other,
}

impl Entry {
    const fn yields(self, value: Yields) -> Entry {
        Entry { value, ..self }
    }
}

use EntryKind::{BuiltinVariable as V, Function as F, MapFunction as M};
use ProbeKind as P;
use Yields as Y;

const ARG_PROBES: ProbeKinds = ProbeKinds::of(&[P::Kprobe, P::Uprobe, P::Usdt]);
const RETURN_PROBES: ProbeKinds = ProbeKinds::of(&[P::Kretprobe, P::Uretprobe, P::Kretfunc]);
const FUNCTION_PROBES: ProbeKinds =
    ProbeKinds::of(&[P::Kprobe, P::Kretprobe, P::Uprobe, P::Uretprobe, P::Kfunc, P::Kretfunc]);
const ARGS_PROBES: ProbeKinds =
    ProbeKinds::of(&[P::Tracepoint, P::Kfunc, P::Kretfunc, P::Uprobe, P::Iter]);
const REGISTER_PROBES: ProbeKinds =
    ProbeKinds::of(&[P::Kprobe, P::Kretprobe, P::Uprobe, P::Uretprobe, P::Usdt, P::Profile]);
/// Where `override` may run: only before the kernel function body.
const OVERRIDE_PROBES: ProbeKinds = ProbeKinds::of(&[P::Kprobe]);
const ALL: ProbeKinds = ProbeKinds::ALL;

const fn entry(
    name: &'static str,
    kind: EntryKind,
    signature: &'static str,
    description: &'static str,
    args: (u8, Option<u8>),
    valid_in: ProbeKinds,
    is_unsafe: bool,
) -> Entry {
    Entry {
        name,
        kind,
        signature,
        description,
        min_args: args.0,
        max_args: args.1,
        valid_in,
        is_unsafe,
        value: Yields::Other,
    }
}

const fn var(name: &'static str, signature: &'static str, description: &'static str) -> Entry {
    entry(name, V, signature, description, (0, Some(0)), ALL, false)
}

const NONE: (u8, Option<u8>) = (0, Some(0));
const fn n(min: u8, max: u8) -> (u8, Option<u8>) {
    (min, Some(max))
}
const fn at_least(min: u8) -> (u8, Option<u8>) {
    (min, None)
}

pub static CATALOG: &[Entry] = &[
    // Builtin variables.
    var("pid", "pid: uint64", "Process ID (kernel tgid)").yields(Y::Integer),
    var("tid", "tid: uint64", "Thread ID (kernel pid)").yields(Y::Integer),
    var("uid", "uid: uint64", "User ID").yields(Y::Integer),
    var("gid", "gid: uint64", "Group ID").yields(Y::Integer),
    var("nsecs", "nsecs: uint64", "Nanosecond timestamp (monotonic clock)").yields(Y::Integer),
    var("elapsed", "elapsed: uint64", "Nanoseconds since the program started").yields(Y::Integer),
    var("numaid", "numaid: uint64", "NUMA node ID").yields(Y::Integer),
    var("cpu", "cpu: uint64", "Processor ID").yields(Y::Integer),
    var("comm", "comm: string[16]", "Process name").yields(Y::String),
    var("kstack", "kstack: kstack", "Kernel stack trace").yields(Y::Stack),
    var("ustack", "ustack: ustack", "User stack trace").yields(Y::Stack),
    entry(
        "argN",
        V,
        "arg0, arg1, ...: uint64",
        "Arguments of the traced function, from registers",
        NONE,
        ARG_PROBES,
        false,
    )
    .yields(Y::Integer),
    entry(
        "sargN",
        V,
        "sarg0, sarg1, ...: uint64",
        "Arguments of the traced function, from the stack",
        NONE,
        ARG_PROBES,
        false,
    )
    .yields(Y::Integer),
    entry(
        "retval",
        V,
        "retval: uint64",
        "Return value of the traced function",
        NONE,
        RETURN_PROBES,
        false,
    )
    .yields(Y::Integer),
    entry("func", V, "func: string", "Name of the traced function", NONE, FUNCTION_PROBES, false)
        .yields(Y::String),
    var("probe", "probe: string", "Full name of the probe that fired").yields(Y::String),
    var("curtask", "curtask: uint64", "Pointer to the current task_struct").yields(Y::Integer),
    var("rand", "rand: uint32", "Random number").yields(Y::Integer),
    var("cgroup", "cgroup: uint64", "Cgroup v2 ID of the current process").yields(Y::Integer),
    var("cpid", "cpid: uint64", "PID of the child started with -c").yields(Y::Integer),
    var("username", "username: string", "Name of the current user").yields(Y::String),
    entry(
        "args",
        V,
        "args: struct",
        "Arguments of the tracepoint or function (args->name, args.name)",
        NONE,
        ARGS_PROBES,
        false,
    ),
    var("ctx", "ctx: pointer", "Raw pointer to the probe context"),
    var("$N", "$1, $2, ...: int64 or string", "Positional parameters of the program"),
    var("$#", "$#: int64", "Number of positional parameters").yields(Y::Integer),
    // Functions.
    entry("printf", F, "printf(char *fmt, ...)", "Print formatted text", at_least(1), ALL, false)
        .yields(Y::Nothing),
    entry(
        "print",
        F,
        "print(@map [, top [, div]]) | print(value)",
        "Print a map or a value",
        n(1, 3),
        ALL,
        false,
    )
    .yields(Y::Nothing),
    entry("time", F, "time([char *fmt])", "Print the current time", n(0, 1), ALL, false)
        .yields(Y::Nothing),
    entry(
        "join",
        F,
        "join(char *arr[] [, char *sep])",
        "Print an array of strings joined",
        n(1, 2),
        ALL,
        false,
    )
    .yields(Y::Nothing),
    entry(
        "str",
        F,
        "str(char *s [, int length])",
        "Read a NUL-terminated string",
        n(1, 2),
        ALL,
        false,
    )
    .yields(Y::String),
    entry(
        "buf",
        F,
        "buf(void *d [, int length])",
        "Read a buffer, printed hex-escaped",
        n(1, 2),
        ALL,
        false,
    )
    .yields(Y::String),
    entry(
        "kstack",
        F,
        "kstack([bpftrace|perf] [, int limit])",
        "Kernel stack trace, printed in a mode, at most limit frames",
        n(0, 2),
        ALL,
        false,
    )
    .yields(Y::Stack),
    entry(
        "ustack",
        F,
        "ustack([bpftrace|perf] [, int limit])",
        "User stack trace, printed in a mode, at most limit frames",
        n(0, 2),
        ALL,
        false,
    )
    .yields(Y::Stack),
    entry("ksym", F, "ksym(void *p)", "Resolve a kernel address to a symbol", n(1, 1), ALL, false)
        .yields(Y::String),
    entry("usym", F, "usym(void *p)", "Resolve a user address to a symbol", n(1, 1), ALL, false)
        .yields(Y::String),
    entry("kaddr", F, "kaddr(char *name)", "Address of a kernel symbol", n(1, 1), ALL, false)
        .yields(Y::Integer),
    entry("uaddr", F, "uaddr(char *name)", "Address of a user symbol", n(1, 1), ALL, false)
        .yields(Y::Integer),
    entry("kptr", F, "kptr(void *p)", "Mark a pointer as kernel memory", n(1, 1), ALL, false)
        .yields(Y::Integer),
    entry("uptr", F, "uptr(void *p)", "Mark a pointer as user memory", n(1, 1), ALL, false)
        .yields(Y::Integer),
    entry("reg", F, "reg(char *name)", "Value of a CPU register", n(1, 1), REGISTER_PROBES, false)
        .yields(Y::Integer),
    entry(
        "ntop",
        F,
        "ntop([int af,] int|char[4|16] addr)",
        "Format an IP address",
        n(1, 2),
        ALL,
        false,
    )
    .yields(Y::String),
    entry("pton", F, "pton(const string *addr)", "Parse an IP address", n(1, 1), ALL, false),
    entry("macaddr", F, "macaddr(char[6] addr)", "Format a MAC address", n(1, 1), ALL, false)
        .yields(Y::String),
    entry("cgroupid", F, "cgroupid(char *path)", "Cgroup ID of a cgroup path", n(1, 1), ALL, false)
        .yields(Y::Integer),
    entry(
        "cgroup_path",
        F,
        "cgroup_path(int cgroupid [, string filter])",
        "Path of a cgroup ID",
        n(1, 2),
        ALL,
        false,
    )
    .yields(Y::String),
    entry(
        "strftime",
        F,
        "strftime(char *fmt, int nsecs)",
        "Format a timestamp",
        n(2, 2),
        ALL,
        false,
    )
    .yields(Y::String),
    entry(
        "strncmp",
        F,
        "strncmp(char *s1, char *s2, int length)",
        "Compare string prefixes",
        n(3, 3),
        ALL,
        false,
    )
    .yields(Y::Integer),
    entry(
        "strcontains",
        F,
        "strcontains(char *haystack, char *needle)",
        "Whether a string contains another",
        n(2, 2),
        ALL,
        false,
    )
    .yields(Y::Integer),
    entry("strerror", F, "strerror(int errno)", "Text of an errno value", n(1, 1), ALL, false)
        .yields(Y::String),
    entry("bswap", F, "bswap(uint[8|16|32|64] n)", "Reverse byte order", n(1, 1), ALL, false)
        .yields(Y::Integer),
    entry(
        "sizeof",
        F,
        "sizeof(TYPE | expression)",
        "Size of a type or expression",
        n(1, 1),
        ALL,
        false,
    )
    .yields(Y::Integer),
    entry("path", F, "path(struct path *path)", "Full path of a struct path", n(1, 1), ALL, false)
        .yields(Y::String),
    entry("exit", F, "exit()", "End the program", NONE, ALL, false).yields(Y::Nothing),
    entry("cat", F, "cat(char *format [, ...])", "Print a file's contents", n(1, 8), ALL, false)
        .yields(Y::Nothing),
    entry("system", F, "system(char *fmt, ...)", "Run a shell command", at_least(1), ALL, true)
        .yields(Y::Nothing),
    entry(
        "signal",
        F,
        "signal(char *name | int num)",
        "Send a signal to the current process",
        n(1, 1),
        ALL,
        true,
    )
    .yields(Y::Nothing),
    entry(
        "override",
        F,
        "override(u64 rc)",
        "Override a kernel function's return value",
        n(1, 1),
        OVERRIDE_PROBES,
        true,
    )
    .yields(Y::Nothing),
    entry("unwatch", F, "unwatch(void *addr)", "Remove a watchpoint", n(1, 1), ALL, false)
        .yields(Y::Nothing),
    entry(
        "skboutput",
        F,
        "skboutput(char *path, struct sk_buff *skb, uint64 length, uint64 offset)",
        "Write a socket buffer to a pcap file",
        n(4, 4),
        ALL,
        false,
    )
    .yields(Y::Nothing),
    entry(
        "debugf",
        F,
        "debugf(char *fmt, ...)",
        "Print to the kernel trace pipe",
        at_least(1),
        ALL,
        false,
    )
    .yields(Y::Nothing),
    // Map functions.
    entry("count", M, "@m = count()", "Count calls", NONE, ALL, false).yields(Y::Aggregation),
    entry("sum", M, "@m = sum(int n)", "Sum a value", n(1, 1), ALL, false).yields(Y::Aggregation),
    entry("avg", M, "@m = avg(int n)", "Average a value", n(1, 1), ALL, false)
        .yields(Y::Aggregation),
    entry("min", M, "@m = min(int n)", "Minimum of a value", n(1, 1), ALL, false)
        .yields(Y::Aggregation),
    entry("max", M, "@m = max(int n)", "Maximum of a value", n(1, 1), ALL, false)
        .yields(Y::Aggregation),
    entry(
        "stats",
        M,
        "@m = stats(int n)",
        "Count, average and total of a value",
        n(1, 1),
        ALL,
        false,
    )
    .yields(Y::Aggregation),
    entry("hist", M, "@m = hist(int n)", "Log2 histogram of a value", n(1, 1), ALL, false)
        .yields(Y::Aggregation),
    entry(
        "lhist",
        M,
        "@m = lhist(int n, int min, int max, int step)",
        "Linear histogram of a value",
        n(4, 4),
        ALL,
        false,
    )
    .yields(Y::Aggregation),
    entry(
        "delete",
        M,
        "delete(@m[key]) | delete(@m, key)",
        "Delete a map element",
        n(1, 2),
        ALL,
        false,
    )
    .yields(Y::Nothing),
    entry(
        "has_key",
        M,
        "has_key(@m, key)",
        "Whether a map has an element under key (bpftrace 0.22+; not in 0.17)",
        n(2, 2),
        ALL,
        false,
    )
    .yields(Y::Integer),
    entry("clear", M, "clear(@m)", "Delete every element of a map", n(1, 1), ALL, false)
        .yields(Y::Nothing),
    entry("zero", M, "zero(@m)", "Set every value of a map to zero", n(1, 1), ALL, false)
        .yields(Y::Nothing),
];

/// The entry for a builtin variable, resolving the `argN`/`sargN` families.
pub fn variable(name: &str) -> Option<&'static Entry> {
    let family = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
    };
    let key = if family("sarg") {
        "sargN"
    } else if family("arg") {
        "argN"
    } else {
        name
    };
    CATALOG.iter().find(|e| e.kind == V && e.name == key)
}

/// What the builtin variable or call `name` gives, when the catalog knows it.
pub fn yields(name: &str, called: bool) -> Option<Yields> {
    if called { function(name) } else { variable(name) }.map(|e| e.value)
}

/// Whether `name` is an aggregation (`count`, `hist`, …), whose value exists
/// only inside a map.
pub fn is_aggregation(name: &str) -> bool {
    yields(name, true) == Some(Yields::Aggregation)
}

/// The entry for a called name (function or map function).
pub fn function(name: &str) -> Option<&'static Entry> {
    CATALOG.iter().find(|e| e.kind != V && e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_namespace() {
        for (i, a) in CATALOG.iter().enumerate() {
            for b in &CATALOG[i + 1..] {
                let same_namespace = (a.kind == V) == (b.kind == V);
                assert!(!(same_namespace && a.name == b.name), "duplicate entry {}", a.name);
            }
        }
    }

    #[test]
    fn argument_families_resolve() {
        assert_eq!(variable("arg0").unwrap().name, "argN");
        assert_eq!(variable("arg12").unwrap().name, "argN");
        assert_eq!(variable("sarg3").unwrap().name, "sargN");
        assert!(variable("arg").is_none());
        assert!(variable("argx").is_none());
        assert!(function("pid").is_none());
        assert_eq!(function("count").unwrap().kind, M);
    }

    #[test]
    fn retval_only_in_return_probes() {
        let retval = variable("retval").unwrap();
        assert!(retval.valid_in.contains(P::Uretprobe));
        assert!(!retval.valid_in.contains(P::Uprobe));
        assert!(!retval.valid_in.contains(P::Tracepoint));
    }

    #[test]
    fn unsafe_functions_are_marked() {
        for name in ["system", "signal", "override"] {
            assert!(function(name).unwrap().is_unsafe, "{name}");
        }
        assert!(!function("printf").unwrap().is_unsafe);
    }

    #[test]
    fn arg_bounds_are_ordered() {
        for e in CATALOG {
            assert!(e.max_args.is_none_or(|max| max >= e.min_args), "{}", e.name);
        }
    }
}
