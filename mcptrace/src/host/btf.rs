//! Kernel functions' prototypes from the kernel's BTF, for fentry/fexit:
//! whether a function exists, its BTF id (the attach target), and each
//! parameter's name and type as bpftrace reads it; the kernel's enum
//! values by name; and types' sizes by C name, for `sizeof`. The BTF
//! (~5 MB) is read and indexed once per process, on first use.

mod enums;
mod format;
mod layout;
mod members;
mod prototype;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use enums::enumerator;
use format::Raw;
pub use layout::shape;
pub use members::MemberAt;
pub use prototype::{Function, Param, Scalar, Type};

const PATH: &str = "/sys/kernel/btf/vmlinux";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("the kernel's BTF ({PATH}) could not be read: {0}")]
    Unreadable(String),
    #[error("the kernel's BTF is malformed: {0}")]
    Malformed(String),
    #[error("{0} is not a function in the kernel's BTF")]
    NoFunction(String),
    #[error("{name} is a {kind} in the kernel's BTF, not a function")]
    NotAFunction { name: String, kind: &'static str },
}

/// One BTF, indexed, with aya's parse of it made on demand.
pub struct Btf {
    raw: Raw,
    aya: OnceLock<Result<aya::Btf, BtfError>>,
}

impl Btf {
    /// Indexes BTF bytes (kernel BTF: no split, no base).
    pub fn parse(data: Vec<u8>) -> Result<Btf, BtfError> {
        Ok(Btf { raw: Raw::parse(data)?, aya: OnceLock::new() })
    }

    /// The prototype of function `name`.
    pub fn function(&self, name: &str) -> Result<Function, BtfError> {
        let Some(id) = self.raw.func_id(name) else {
            return Err(match self.raw.other_kind_named(name) {
                Some(kind) => BtfError::NotAFunction { name: name.to_owned(), kind: kind.name() },
                None => BtfError::NoFunction(name.to_owned()),
            });
        };
        prototype::of(&self.raw, name, id)
    }

    /// aya's parse of the same bytes, which aya's fentry and fexit loaders
    /// take to find the attach target; made once, on first use.
    pub fn aya(&self) -> Result<&aya::Btf, BtfError> {
        self.aya
            .get_or_init(|| {
                aya::Btf::parse(self.raw.bytes(), object::Endianness::default())
                    .map_err(|e| BtfError::Malformed(e.to_string()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The running kernel's BTF, read on first use; a failure is kept too, so
/// a kernel without BTF is asked once.
pub fn kernel() -> Result<&'static Btf, BtfError> {
    static KERNEL: OnceLock<Result<Btf, BtfError>> = OnceLock::new();
    KERNEL
        .get_or_init(|| {
            let data = std::fs::read(PATH).map_err(|e| BtfError::Unreadable(e.to_string()))?;
            Btf::parse(data)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The prototype of kernel function `name`, from the running kernel's BTF.
pub fn function(name: &str) -> Result<Function, BtfError> {
    kernel()?.function(name)
}
