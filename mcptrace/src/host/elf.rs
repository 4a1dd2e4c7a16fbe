//! Function symbols and USDT notes of an ELF binary, for `uprobe:BINARY:FUNCTION`
//! and `usdt:BINARY:PROVIDER:NAME`.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};

#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not an ELF object: {source}")]
    NotElf { path: PathBuf, source: object::Error },
    #[error("no binary named `{0}` on PATH")]
    NotFound(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfFunction {
    pub name: String,
    /// The symbol's virtual address in the file.
    pub address: u64,
    pub size: u64,
}

/// A loadable segment: file bytes at `offset` are mapped at `address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub offset: u64,
    pub size: u64,
    pub address: u64,
}

/// What symbolizing addresses in a mapped file needs.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    pub functions: Vec<ElfFunction>,
    pub segments: Vec<Segment>,
}

impl Symbols {
    pub fn load(path: &Path) -> Result<Self, ElfError> {
        let data = read(path)?;
        let file = parse(path, &data)?;
        let segments = file
            .segments()
            .map(|s| {
                let (offset, size) = s.file_range();
                Segment { offset, size, address: s.address() }
            })
            .collect();
        Ok(Self { functions: function_symbols(&file), segments })
    }

    /// The file offset that virtual address `address` is loaded from.
    pub fn offset_of_address(&self, address: u64) -> Option<u64> {
        let s =
            self.segments.iter().find(|s| (s.address..s.address + s.size).contains(&address))?;
        Some(address - s.address + s.offset)
    }

    /// The virtual address that file offset `offset` is loaded at.
    pub fn address_of_offset(&self, offset: u64) -> Option<u64> {
        let s = self.segments.iter().find(|s| (s.offset..s.offset + s.size).contains(&offset))?;
        Some(offset - s.offset + s.address)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ElfError> {
    fs::read(path).map_err(|source| ElfError::Read { path: path.into(), source })
}

fn parse<'d>(path: &Path, data: &'d [u8]) -> Result<object::File<'d>, ElfError> {
    object::File::parse(data).map_err(|source| ElfError::NotElf { path: path.into(), source })
}

/// Defined function symbols from `.symtab` and `.dynsym`, each name once,
/// sorted by name.
pub fn functions(path: &Path) -> Result<Vec<ElfFunction>, ElfError> {
    let data = read(path)?;
    Ok(function_symbols(&parse(path, &data)?))
}

fn function_symbols(file: &object::File<'_>) -> Vec<ElfFunction> {
    let mut out: Vec<ElfFunction> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
        .filter_map(|s| {
            Some(ElfFunction {
                name: s.name().ok()?.to_string(),
                address: s.address(),
                size: s.size(),
            })
        })
        .filter(|f| !f.name.is_empty())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// A USDT probe, from a `.note.stapsdt` ELF note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtNote {
    pub provider: String,
    pub name: String,
    /// The probe site's virtual address in the file (see [`prelinked`]).
    pub address: u64,
    /// The is-enabled semaphore's virtual address; 0 when the probe has none.
    pub semaphore: u64,
    /// The argument specs as the assembler wrote them (`-4@%eax 8@%rdx`).
    pub args: String,
}

/// USDT probes of the binary at `path`; empty when it has none.
pub fn usdt_notes(path: &Path) -> Result<Vec<UsdtNote>, ElfError> {
    let data = read(path)?;
    let file = parse(path, &data)?;
    let Some(section) = file.section_by_name(".note.stapsdt") else { return Ok(Vec::new()) };
    let Ok(notes) = section.data() else { return Ok(Vec::new()) };
    let base = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let mut found = parse_stapsdt(notes, file.is_little_endian(), if file.is_64() { 8 } else { 4 });
    for (note, written_base) in &mut found {
        note.address = prelinked(note.address, *written_base, base);
        if note.semaphore != 0 {
            note.semaphore = prelinked(note.semaphore, *written_base, base);
        }
    }
    Ok(found.into_iter().map(|(note, _)| note).collect())
}

/// A note's address where the file has it. A note records the address
/// of `.stapsdt.base` it was linked with; a tool that moved the sections
/// since (prelink) left the note as it was, so every address moves by as
/// much as that section did. Without the section nothing says it moved.
fn prelinked(address: u64, written_base: u64, base: Option<u64>) -> u64 {
    match base {
        Some(base) if written_base != 0 => address.wrapping_add(base.wrapping_sub(written_base)),
        _ => address,
    }
}

/// Walks ELF notes (namesz, descsz, type, name, desc; each padded to 4
/// bytes) and decodes those named `stapsdt` of type 3: three addresses (pc,
/// base, semaphore), then provider, name and arguments as C strings. Each
/// note comes with the base address it records.
fn parse_stapsdt(mut notes: &[u8], little: bool, word: usize) -> Vec<(UsdtNote, u64)> {
    const NT_STAPSDT: u32 = 3;
    let pad = |n: usize| n.div_ceil(4) * 4;
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if little { u32::from_le_bytes(bytes) } else { u32::from_be_bytes(bytes) })
    };
    let word_at = |b: &[u8], at: usize| -> Option<u64> {
        let bytes = b.get(at..at + word)?;
        let mut full = [0u8; 8];
        if little {
            full[..word].copy_from_slice(bytes);
            Some(u64::from_le_bytes(full))
        } else {
            full[8 - word..].copy_from_slice(bytes);
            Some(u64::from_be_bytes(full))
        }
    };
    let mut out = Vec::new();
    while let (Some(namesz), Some(descsz), Some(kind)) =
        (u32_at(notes, 0), u32_at(notes, 4), u32_at(notes, 8))
    {
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        let name_end = 12 + pad(namesz);
        let Some(desc) = notes.get(name_end..name_end + descsz) else { break };
        if kind == NT_STAPSDT && notes.get(12..12 + namesz) == Some(b"stapsdt\0") {
            let mut strings = desc.get(3 * word..).unwrap_or_default().split(|&b| b == 0);
            let mut text =
                || String::from_utf8_lossy(strings.next().unwrap_or_default()).into_owned();
            if let (Some(address), Some(base), Some(semaphore)) =
                (word_at(desc, 0), word_at(desc, word), word_at(desc, 2 * word))
            {
                let note =
                    UsdtNote { provider: text(), name: text(), address, semaphore, args: text() };
                out.push((note, base));
            }
        }
        notes = notes.get(name_end + pad(descsz)..).unwrap_or_default();
    }
    out
}

/// An absolute path for a uprobe target: paths are taken as they are, bare
/// names are looked up on PATH as bpftrace does.
pub fn resolve_binary(name: &str) -> Result<PathBuf, ElfError> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ElfError::NotFound(name.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_functions_of_a_real_binary() {
        // The test binary itself is an ELF file with a symbol table.
        let exe = std::env::current_exe().unwrap();
        let funcs = functions(&exe).unwrap();
        assert!(funcs.iter().any(|f| f.name == "main"), "no main in {}", exe.display());
        assert!(funcs.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn a_text_file_is_not_elf() {
        let path = std::env::temp_dir().join(format!("mcptrace-not-elf-{}", std::process::id()));
        fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
        let err = functions(&path).unwrap_err();
        fs::remove_file(&path).unwrap();
        assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
    }

    #[test]
    fn decodes_stapsdt_notes_and_skips_others() {
        let mut notes = Vec::new();
        let mut note = |name: &[u8], kind: u32, desc: &[u8]| {
            notes.extend((name.len() as u32).to_le_bytes());
            notes.extend((desc.len() as u32).to_le_bytes());
            notes.extend(kind.to_le_bytes());
            notes.extend(name);
            notes.resize(notes.len().div_ceil(4) * 4, 0);
            notes.extend(desc);
            notes.resize(notes.len().div_ceil(4) * 4, 0);
        };
        note(b"GNU\0", 1, &[0; 16]);
        let mut desc = Vec::new();
        for word in [0x1234u64, 0x2000, 0x3000] {
            desc.extend(word.to_le_bytes());
        }
        desc.extend(b"python\0function__entry\08@%rbx -4@%eax\0");
        note(b"stapsdt\0", 3, &desc);
        let found = parse_stapsdt(&notes, true, 8);
        assert_eq!(
            found,
            [(
                UsdtNote {
                    provider: "python".into(),
                    name: "function__entry".into(),
                    address: 0x1234,
                    semaphore: 0x3000,
                    args: "8@%rbx -4@%eax".into(),
                },
                0x2000
            )]
        );
    }

    #[test]
    fn addresses_move_with_the_stapsdt_base() {
        // Linked with the base at 0x2000, found at 0x2100: moved by 0x100.
        assert_eq!(prelinked(0x1234, 0x2000, Some(0x2100)), 0x1334);
        assert_eq!(prelinked(0x1234, 0x2000, Some(0x1f00)), 0x1134);
        assert_eq!(prelinked(0x1234, 0x2000, Some(0x2000)), 0x1234);
        assert_eq!(prelinked(0x1234, 0x2000, None), 0x1234);
        assert_eq!(prelinked(0x1234, 0, Some(0x2100)), 0x1234);
    }

    #[test]
    fn bare_names_resolve_on_path() {
        assert!(resolve_binary("sh").unwrap().is_absolute());
        assert!(matches!(resolve_binary("no-such-binary-xyz"), Err(ElfError::NotFound(_))));
    }
}
