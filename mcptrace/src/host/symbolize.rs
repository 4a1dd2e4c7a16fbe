//! Addresses to `symbol+offset`, as bpftrace prints stack frames: kernel
//! addresses through /proc/kallsyms, user addresses through the process's
//! mappings and the mapped files' ELF symbols.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use super::{elf, kallsyms::Kallsyms};
use crate::lang::stack::StackMode;

/// The kernel symbol table, loaded on first use.
fn kallsyms() -> &'static Kallsyms {
    static K: OnceLock<Kallsyms> = OnceLock::new();
    K.get_or_init(|| Kallsyms::load().unwrap_or_default())
}

/// One stack frame: its address and, where it resolves, the symbol and
/// offset in it, and for a user frame the file mapped there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackFrame {
    pub address: u64,
    pub symbol: Option<(String, u64)>,
    /// Some for a user frame: the mapped file, when one holds the address.
    pub module: Option<Option<PathBuf>>,
}

impl StackFrame {
    /// `sym+off`, or `0x…` when the address resolves to nothing.
    pub fn name(&self) -> String {
        match &self.symbol {
            Some((sym, off)) => format!("{sym}+{off}"),
            None => hex(self.address),
        }
    }

    /// As `perf script` writes a frame, and bpftrace's perf stack mode:
    /// the address in hex, the name, and for a user frame its file.
    fn perf(&self) -> String {
        let mut s = format!("{:x} {}", self.address, self.name());
        match &self.module {
            Some(Some(path)) => s.push_str(&format!(" ({})", path.display())),
            Some(None) => s.push_str(" ([unknown])"),
            None => {}
        }
        s
    }
}

/// A kernel address's frame, through /proc/kallsyms.
pub fn kernel_frame(address: u64) -> StackFrame {
    let symbol = kallsyms().resolve(address).map(|(sym, off)| (sym.name.clone(), off));
    StackFrame { address, symbol, module: None }
}

/// The kernel symbol holding `address` (`ksym()`), or `0x…`.
pub fn kernel_name(address: u64) -> String {
    kallsyms().resolve(address).map_or_else(|| hex(address), |(sym, _)| sym.name.clone())
}

fn hex(address: u64) -> String {
    format!("0x{address:x}")
}

/// Resolves user addresses of processes, caching each file's symbols.
#[derive(Default)]
pub struct UserSymbols {
    files: Mutex<HashMap<PathBuf, Arc<elf::Symbols>>>,
}

struct Mapping {
    start: u64,
    end: u64,
    offset: u64,
    path: PathBuf,
}

impl UserSymbols {
    /// The frame of `address` in process `pid`: unresolved when the process
    /// is gone or the address is in no symbol.
    pub fn frame(&self, pid: u32, address: u64) -> StackFrame {
        let mapping = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok().and_then(|maps| {
            maps.lines().filter_map(parse_mapping).find(|m| (m.start..m.end).contains(&address))
        });
        let symbol = mapping.as_ref().and_then(|m| self.lookup(m, address));
        StackFrame { address, symbol, module: Some(mapping.map(|m| m.path)) }
    }

    /// The symbol holding `address` in process `pid` (`usym()`), or `0x…`.
    pub fn name(&self, pid: u32, address: u64) -> String {
        match self.frame(pid, address).symbol {
            Some((name, _)) => name,
            None => hex(address),
        }
    }

    /// The function holding `address`, mapped by `m`, and the offset in it.
    fn lookup(&self, m: &Mapping, address: u64) -> Option<(String, u64)> {
        let symbols = self.symbols(&m.path)?;
        let file_address = symbols.address_of_offset(address - m.start + m.offset)?;
        let f = symbols
            .functions
            .iter()
            .filter(|f| f.address <= file_address && file_address < f.address + f.size.max(1))
            .max_by_key(|f| f.address)?;
        Some((f.name.clone(), file_address - f.address))
    }

    fn symbols(&self, path: &Path) -> Option<Arc<elf::Symbols>> {
        let mut files = self.files.lock().ok()?;
        if let Some(f) = files.get(path) {
            return Some(f.clone());
        }
        let f = Arc::new(elf::Symbols::load(path).ok()?);
        files.insert(path.to_path_buf(), f.clone());
        Some(f)
    }
}

/// `start-end perms offset dev inode path` for file-backed mappings.
fn parse_mapping(line: &str) -> Option<Mapping> {
    let mut parts = line.split_ascii_whitespace();
    let (start, end) = parts.next()?.split_once('-')?;
    let _perms = parts.next()?;
    let offset = u64::from_str_radix(parts.next()?, 16).ok()?;
    let path = parts.nth(2)?;
    if !path.starts_with('/') {
        return None;
    }
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset,
        path: PathBuf::from(path),
    })
}

/// How a stack prints: bpftrace's mode indents names (4 spaces in map keys,
/// 8 in printf and print); perf mode writes a tab, the address, the name
/// and a user frame's file, as `perf script` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackLayout {
    Indented(usize),
    Perf,
}

impl StackLayout {
    /// The layout of a stack in `mode`, indented `indent` in bpftrace's.
    pub fn of(mode: StackMode, indent: usize) -> Self {
        match mode {
            StackMode::Bpftrace => Self::Indented(indent),
            StackMode::Perf => Self::Perf,
        }
    }
}

/// A stack as bpftrace prints it: a newline, then one frame per line;
/// nothing at all for a stack the kernel could not take (bpftrace's failed
/// lookup).
pub fn format_stack(frames: Option<&[StackFrame]>, layout: StackLayout) -> String {
    let Some(frames) = frames else { return String::new() };
    let mut s = String::from("\n");
    for f in frames {
        match layout {
            StackLayout::Indented(indent) => {
                s.push_str(&" ".repeat(indent));
                s.push_str(&f.name());
            }
            StackLayout::Perf => {
                s.push('\t');
                s.push_str(&f.perf());
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn here() -> u64 {
        here as *const () as u64
    }

    #[test]
    fn resolves_a_function_of_this_process() {
        let symbols = UserSymbols::default();
        let f = symbols.frame(std::process::id(), here() + 1);
        let s = f.name();
        assert!(s.contains("here") && s.ends_with("+1"), "{s}");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(f.module, Some(Some(exe.canonicalize().unwrap())));
    }

    #[test]
    fn unknown_addresses_print_as_hex() {
        let f = UserSymbols::default().frame(std::process::id(), 0x10);
        assert_eq!(f.name(), "0x10");
        assert_eq!(format_stack(Some(&[f]), StackLayout::Perf), "\n\t10 0x10 ([unknown])\n");
    }

    #[test]
    fn stacks_print_in_either_mode() {
        let frame = |address, name: &str, module: Option<&str>| StackFrame {
            address,
            symbol: Some((name.into(), 1)),
            module: module.map(|m| Some(PathBuf::from(m))),
        };
        let frames = [frame(0xa1, "a", None), frame(0xb2, "b", Some("/lib/x.so"))];
        let indented = format_stack(Some(&frames), StackLayout::Indented(4));
        assert_eq!(indented, "\n    a+1\n    b+1\n");
        let perf = format_stack(Some(&frames), StackLayout::Perf);
        assert_eq!(perf, "\n\ta1 a+1\n\tb2 b+1 (/lib/x.so)\n");
        assert_eq!(format_stack(Some(&[]), StackLayout::Indented(4)), "\n");
        assert_eq!(format_stack(None, StackLayout::Perf), "");
    }

    #[test]
    fn parses_maps_lines() {
        let m = parse_mapping("7f00-7f10 r-xp 00001000 08:01 42    /usr/lib/libc.so.6").unwrap();
        assert_eq!((m.start, m.end, m.offset), (0x7f00, 0x7f10, 0x1000));
        assert!(parse_mapping("7f00-7f10 rw-p 00000000 00:00 0 [heap]").is_none());
    }
}
