//! Kernel symbols from /proc/kallsyms: the functions a kprobe or fentry could
//! target, and address → symbol lookup for kernel stacks.

use std::{fs, io};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSymbol {
    pub address: u64,
    pub name: String,
    /// `t`/`T` for text; see nm(1).
    pub kind: char,
    /// The module, for symbols that live in one.
    pub module: Option<String>,
}

impl KernelSymbol {
    pub fn is_function(&self) -> bool {
        matches!(self.kind, 't' | 'T')
    }
}

/// Every symbol, sorted by address.
#[derive(Clone, Debug, Default)]
pub struct Kallsyms {
    symbols: Vec<KernelSymbol>,
}

impl Kallsyms {
    pub fn load() -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string("/proc/kallsyms")?))
    }

    pub fn parse(text: &str) -> Self {
        let mut symbols: Vec<KernelSymbol> = text.lines().filter_map(parse_line).collect();
        symbols.sort_by_key(|s| s.address);
        Self { symbols }
    }

    /// Function symbols, each name once, in address order. Compiler-made
    /// clones (`foo.isra.0`, `foo.cold`) are left out: probes name functions.
    pub fn functions(&self) -> impl Iterator<Item = &KernelSymbol> {
        let mut seen = std::collections::HashSet::new();
        self.symbols
            .iter()
            .filter(|s| s.is_function() && !s.name.contains('.'))
            .filter(move |s| seen.insert(s.name.as_str()))
    }

    pub fn contains_function(&self, name: &str) -> bool {
        self.symbols.iter().any(|s| s.is_function() && s.name == name)
    }

    /// Whether addresses are real (kptr_restrict hides them from non-root).
    pub fn has_addresses(&self) -> bool {
        self.symbols.iter().any(|s| s.address != 0)
    }

    /// The symbol containing `address`, with the offset into it.
    pub fn resolve(&self, address: u64) -> Option<(&KernelSymbol, u64)> {
        let i = self.symbols.partition_point(|s| s.address <= address);
        let sym = self.symbols.get(i.checked_sub(1)?)?;
        (sym.address != 0).then_some((sym, address - sym.address))
    }
}

fn parse_line(line: &str) -> Option<KernelSymbol> {
    let mut parts = line.split_ascii_whitespace();
    let address = u64::from_str_radix(parts.next()?, 16).ok()?;
    let kind = parts.next()?.chars().next()?;
    let name = parts.next()?.to_string();
    let module = parts.next().map(|m| m.trim_matches(|c| c == '[' || c == ']').to_string());
    Some(KernelSymbol { address, name, kind, module })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "ffffffff81000000 T _stext
ffffffff81001000 t do_one_initcall
ffffffff81002000 T vfs_read
ffffffff81002100 t vfs_read.cold
ffffffff81003000 D some_data
ffffffffc0001000 t nf_hook [nf_tables]
";

    #[test]
    fn lists_functions_without_clones_or_data() {
        let k = Kallsyms::parse(TEXT);
        let names: Vec<_> = k.functions().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["_stext", "do_one_initcall", "vfs_read", "nf_hook"]);
        assert!(k.contains_function("vfs_read"));
        assert!(!k.contains_function("some_data"));
        let hook = k.functions().last().unwrap();
        assert_eq!(hook.module.as_deref(), Some("nf_tables"));
    }

    #[test]
    fn resolves_addresses_to_symbol_and_offset() {
        let k = Kallsyms::parse(TEXT);
        let (sym, off) = k.resolve(0xffffffff81002010).unwrap();
        assert_eq!((sym.name.as_str(), off), ("vfs_read", 0x10));
        assert!(k.resolve(0x10).is_none());
    }

    #[test]
    fn hidden_addresses_resolve_to_nothing() {
        let k = Kallsyms::parse("0000000000000000 T vfs_read\n");
        assert!(!k.has_addresses());
        assert!(k.resolve(0x1234).is_none());
    }
}
