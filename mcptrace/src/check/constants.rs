//! Names that are neither builtins nor variables, which bpftrace takes as
//! constants: integer macros of the program's `#define`s and `#include`d
//! headers, and the kernel's enum values from its BTF; and the sizes of
//! structs and unions (see `sizes`). Each source is read only once a name
//! needs it, so a program without such names pays for neither (the BTF
//! costs ~25 ms).

mod sizes;

use std::{collections::HashMap, fmt, os::unix::fs::MetadataExt, path::PathBuf};

use super::facts::Host;
use crate::{
    host::headers::Macros,
    lang::{
        ast::{Preamble, Span},
        c_layout::Definitions,
    },
};

/// The constants one program uses, resolved as the checker meets them.
pub struct Constants<'a> {
    host: &'a dyn Host,
    preamble: &'a [Preamble],
    macros: Option<Macros>,
    /// The program's struct and unions, once read; None inside where the
    /// preamble is not only definitions understood here.
    definitions: Option<Option<Definitions>>,
    /// Each resolved name's (or size's) value, by the offset it is written
    /// at.
    pub found: HashMap<u32, i128>,
}

/// Why a name is no constant: where it was looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// The headers the program includes, as written.
    pub included: Vec<String>,
    /// How many header files were read, nested ones included.
    pub files: usize,
    /// Included headers not found on this host, and where they were sought.
    pub missing: Vec<String>,
    pub searched: Vec<PathBuf>,
    /// Why the kernel's enum values could not be read, if they could not.
    pub enums: Option<String>,
}

impl<'a> Constants<'a> {
    pub fn new(host: &'a dyn Host, preamble: &'a [Preamble]) -> Self {
        Self { host, preamble, macros: None, definitions: None, found: HashMap::new() }
    }

    /// Resolves `name`, written at `span`: a macro first (the preprocessor
    /// replaces it before bpftrace reads names), then an enum value.
    pub fn resolve(&mut self, name: &str, span: Span) -> Result<(), Unresolved> {
        let dirs = self.host.include_dirs();
        let preamble = self.preamble;
        let macros = self
            .macros
            .get_or_insert_with(|| Macros::read(preamble.iter().map(|p| p.text.as_str()), &dirs));
        let enums = match macros.value(name) {
            Some(v) => Ok(Some(v)),
            None => self.host.kernel_enumerator(name),
        };
        match enums {
            Ok(Some(value)) => {
                self.found.insert(span.offset, value);
                Ok(())
            }
            found => Err(Unresolved {
                included: macros.included.clone(),
                files: macros.files,
                missing: macros.missing.clone(),
                searched: if macros.missing.is_empty() { Vec::new() } else { dirs },
                enums: found.err().map(|e| e.to_string()),
            }),
        }
    }
}

impl Constants<'_> {
    /// Resolves `cgroupid(path)`, written at `span`: the cgroup's id, which
    /// in cgroup v2 is its directory's inode number, as bpftrace reads it
    /// when it compiles the program.
    pub fn cgroup_id(&mut self, path: &str, span: Span) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_dir() {
            return Err("not a cgroup directory".into());
        }
        self.found.insert(span.offset, i128::from(meta.ino()));
        Ok(())
    }
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ": not a builtin, a variable or an enum value of the kernel's BTF")?;
        if !self.included.is_empty() {
            let names: Vec<String> = self.included.iter().map(|h| format!("<{h}>")).collect();
            write!(
                f,
                ", nor an integer macro of {} ({} header file(s) read)",
                names.join(", "),
                self.files
            )?;
        }
        if !self.missing.is_empty() {
            let names: Vec<String> = self.missing.iter().map(|h| format!("<{h}>")).collect();
            let dirs: Vec<String> = self.searched.iter().map(|d| d.display().to_string()).collect();
            write!(
                f,
                "; {} not found on this host (searched {})",
                names.join(", "),
                dirs.join(", ")
            )?;
        }
        if let Some(why) = &self.enums {
            write!(f, "; the kernel's enum values are unavailable: {why}")?;
        }
        Ok(())
    }
}
