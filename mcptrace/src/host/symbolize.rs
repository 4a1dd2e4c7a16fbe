//! Addresses to `symbol+offset`, as bpftrace prints stack frames: kernel
//! addresses through /proc/kallsyms, user addresses through the process's
//! mappings and the mapped files' ELF symbols.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use super::{elf, kallsyms::Kallsyms};

/// The kernel symbol table, loaded on first use.
fn kallsyms() -> &'static Kallsyms {
    static K: OnceLock<Kallsyms> = OnceLock::new();
    K.get_or_init(|| Kallsyms::load().unwrap_or_default())
}

/// `sym+off` for a kernel address, or `0x…` when it resolves to nothing.
pub fn kernel(address: u64) -> String {
    match kallsyms().resolve(address) {
        Some((sym, off)) => format!("{}+{off}", sym.name),
        None => hex(address),
    }
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
    /// `sym+off` for `address` in process `pid`, or `0x…` when the process
    /// is gone or the address is in no symbol.
    pub fn resolve(&self, pid: u32, address: u64) -> String {
        self.lookup(pid, address)
            .map_or_else(|| hex(address), |(name, off)| format!("{name}+{off}"))
    }

    /// The symbol holding `address` in process `pid` (`usym()`), or `0x…`.
    pub fn name(&self, pid: u32, address: u64) -> String {
        self.lookup(pid, address).map_or_else(|| hex(address), |(name, _)| name)
    }

    /// The function holding `address` in process `pid`, and the offset in it.
    fn lookup(&self, pid: u32, address: u64) -> Option<(String, u64)> {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
        let m =
            maps.lines().filter_map(parse_mapping).find(|m| (m.start..m.end).contains(&address))?;
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

/// A stack as bpftrace prints it: a newline, then one frame per line at
/// `indent` spaces (4 for map keys, 8 for printf and print); nothing at all
/// for a stack the kernel could not take (bpftrace's failed lookup).
pub fn format_stack(frames: Option<&[String]>, indent: usize) -> String {
    let Some(frames) = frames else { return String::new() };
    let mut s = String::from("\n");
    for f in frames {
        s.push_str(&" ".repeat(indent));
        s.push_str(f);
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
        let s = symbols.resolve(std::process::id(), here() + 1);
        assert!(s.contains("here") && s.ends_with("+1"), "{s}");
    }

    #[test]
    fn unknown_addresses_print_as_hex() {
        assert_eq!(UserSymbols::default().resolve(std::process::id(), 0x10), "0x10");
        assert_eq!(format_stack(Some(&["a+1".into(), "b+2".into()]), 4), "\n    a+1\n    b+2\n");
        assert_eq!(format_stack(Some(&[]), 4), "\n");
        assert_eq!(format_stack(None, 4), "");
    }

    #[test]
    fn parses_maps_lines() {
        let m = parse_mapping("7f00-7f10 r-xp 00001000 08:01 42    /usr/lib/libc.so.6").unwrap();
        assert_eq!((m.start, m.end, m.offset), (0x7f00, 0x7f10, 0x1000));
        assert!(parse_mapping("7f00-7f10 rw-p 00000000 00:00 0 [heap]").is_none());
    }
}
