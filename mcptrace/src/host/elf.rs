//! Function symbols of an ELF binary, for `uprobe:BINARY:FUNCTION`.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

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
    fn bare_names_resolve_on_path() {
        assert!(resolve_binary("sh").unwrap().is_absolute());
        assert!(matches!(resolve_binary("no-such-binary-xyz"), Err(ElfError::NotFound(_))));
    }
}
