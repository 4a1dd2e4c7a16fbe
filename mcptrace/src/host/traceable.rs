//! Which kernel functions a probe can attach to. /proc/kallsyms says what
//! exists (an inlined function does not); tracefs' available_filter_functions,
//! where readable, what ftrace can hook (what bpftrace expands wildcards
//! over); the kprobe blacklist in debugfs, what the kernel refuses to probe.

use std::{collections::HashSet, fs, io};

use super::{kallsyms::Kallsyms, tracefs};

/// The kernel's probe-able functions, read once.
#[derive(Clone, Debug, Default)]
pub struct KernelFunctions {
    /// Every function in kallsyms, sorted, each name once.
    all: Vec<String>,
    /// Functions ftrace can hook, when the kernel says.
    ftrace: Option<HashSet<String>>,
    /// Functions the kernel refuses to probe.
    blacklist: HashSet<String>,
}

/// Whether one function can be probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Traceability {
    Traceable,
    /// Not in /proc/kallsyms: inlined, or not in this kernel.
    Missing,
    /// On the kernel's kprobe blacklist.
    Blacklisted,
}

const BLACKLIST: &str = "/sys/kernel/debug/kprobes/blacklist";

impl KernelFunctions {
    pub fn load() -> io::Result<Self> {
        let kallsyms = fs::read_to_string("/proc/kallsyms")?;
        let ftrace = tracefs::root()
            .ok()
            .and_then(|root| fs::read_to_string(root.join("available_filter_functions")).ok());
        let blacklist = fs::read_to_string(BLACKLIST).ok();
        Ok(Self::parse(&kallsyms, ftrace.as_deref(), blacklist.as_deref()))
    }

    /// From the texts of kallsyms, available_filter_functions and the
    /// blacklist (the last two when readable).
    pub fn parse(kallsyms: &str, ftrace: Option<&str>, blacklist: Option<&str>) -> Self {
        let mut all: Vec<String> =
            Kallsyms::parse(kallsyms).functions().map(|s| s.name.clone()).collect();
        all.sort_unstable();
        all.dedup();
        // `name` or `name [module]`, one per line.
        let ftrace = ftrace.map(|text| {
            text.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
        });
        // `0xSTART-0xEND\tname` (addresses are zero to non-root readers).
        let blacklist = blacklist
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(String::from)
            .collect();
        Self { all, ftrace, blacklist }
    }

    /// Every function that exists, sorted.
    pub fn all(&self) -> &[String] {
        &self.all
    }

    /// What a wildcard stands for: functions that exist, that ftrace can
    /// hook where the kernel says which, and that are not blacklisted.
    pub fn traceable(&self) -> impl Iterator<Item = &String> {
        self.all.iter().filter(|f| {
            self.ftrace.as_ref().is_none_or(|ftrace| ftrace.contains(*f))
                && !self.blacklist.contains(*f)
        })
    }

    /// Whether `function`, named exactly, can be probed. A function ftrace
    /// cannot hook is still one a kprobe can: the kernel decides at attach.
    pub fn traceability(&self, function: &str) -> Traceability {
        if self.all.binary_search_by(|f| f.as_str().cmp(function)).is_err() {
            Traceability::Missing
        } else if self.blacklist.contains(function) {
            Traceability::Blacklisted
        } else {
            Traceability::Traceable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KALLSYMS: &str = "ffffffff81000000 T vfs_read
ffffffff81000100 T vfs_write
ffffffff81000200 t do_int3
ffffffff81000300 T vfs_noftrace
ffffffff81000400 D vfs_data
";

    #[test]
    fn wildcards_cover_what_ftrace_hooks_and_the_blacklist_spares() {
        let ftrace = "vfs_read\nvfs_write [some_module]\ndo_int3\n";
        let blacklist = "0xffffffff81000200-0xffffffff81000210\tdo_int3\n";
        let k = KernelFunctions::parse(KALLSYMS, Some(ftrace), Some(blacklist));
        let names: Vec<&str> = k.traceable().map(String::as_str).collect();
        assert_eq!(names, ["vfs_read", "vfs_write"]);
        assert_eq!(k.traceability("do_int3"), Traceability::Blacklisted);
        assert_eq!(k.traceability("vfs_noftrace"), Traceability::Traceable);
        assert_eq!(k.traceability("vfs_data"), Traceability::Missing);
        assert_eq!(k.traceability("inlined_away"), Traceability::Missing);
    }

    #[test]
    fn without_ftrace_every_function_but_the_blacklisted_is_traceable() {
        let k = KernelFunctions::parse(KALLSYMS, None, None);
        assert_eq!(k.traceable().count(), 4);
        assert_eq!(k.all().len(), 4);
    }
}
