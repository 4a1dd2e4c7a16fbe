//! A FUNC's prototype, resolved into what bpftrace needs of each type: how
//! wide, whether signed, whether it points to characters. Typedefs and
//! qualifiers are followed for the type and kept for the C spelling.

use super::{
    BtfError,
    format::{Kind, Raw},
};

/// Deepest chain of pointers, typedefs and qualifiers followed: real types
/// stay far below it, and a cycle in a malformed BTF stops there.
const MAX_DEPTH: usize = 32;

/// `BTF_INT_*` encoding bits.
const INT_SIGNED: u32 = 1;
const INT_CHAR: u32 = 2;
const INT_BOOL: u32 = 4;

/// A value's type as bpftrace reads it. Typedefs, `const`, `volatile`,
/// `restrict` and type tags (`__user`) are seen through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Void,
    /// An integer; `char` marks C's character types, whose pointers are
    /// strings to `str()`.
    Int {
        size: u8,
        signed: bool,
        char: bool,
    },
    Bool,
    Enum {
        size: u8,
        signed: bool,
    },
    Float {
        size: u8,
    },
    Pointer(Box<Type>),
    /// A struct or union, by name only: its fields are not described.
    /// `size` is unknown for a forward declaration.
    Record {
        union: bool,
        name: String,
        size: Option<u32>,
    },
    Array {
        elem: Box<Type>,
        len: u32,
    },
    /// A function: what a function pointer points to.
    Function,
}

/// How a capture reads an integer value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scalar {
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
    pub signed: bool,
}

impl Type {
    /// Bytes a value of the type occupies, when it has a size.
    pub fn size(&self) -> Option<u32> {
        match self {
            Type::Int { size, .. } | Type::Enum { size, .. } | Type::Float { size } => {
                Some(u32::from(*size))
            }
            Type::Bool => Some(1),
            Type::Pointer(_) => Some(8),
            Type::Record { size, .. } => *size,
            Type::Array { elem, len } => elem.size()?.checked_mul(*len),
            Type::Void | Type::Function => None,
        }
    }

    /// The value as one integer (pointers are unsigned addresses); `None`
    /// for what bpftrace cannot hold in an integer: records, arrays, floats,
    /// 128-bit integers.
    pub fn scalar(&self) -> Option<Scalar> {
        let (size, signed) = match self {
            Type::Int { size, signed, .. } | Type::Enum { size, signed } => (*size, *signed),
            Type::Bool => (1, false),
            Type::Pointer(_) => (8, false),
            _ => return None,
        };
        matches!(size, 1 | 2 | 4 | 8).then_some(Scalar { size, signed })
    }

    /// Whether the value points to characters: a string `str()` can read.
    pub fn is_string(&self) -> bool {
        matches!(self, Type::Pointer(to) if matches!(**to, Type::Int { char: true, .. }))
    }

    /// 8-byte words the value takes in a tracing program's context: one,
    /// or two for a struct of 9 to 16 bytes passed by value, as the
    /// kernel's trampoline saves argument registers.
    fn context_words(&self) -> u32 {
        self.size().map_or(1, |size| size.div_ceil(8).max(1))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Empty when the BTF gives none.
    pub name: String,
    pub ty: Type,
    /// The declared type as C spells it (`size_t`, `const char *`).
    pub c_type: String,
}

/// A kernel function's prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    /// The FUNC's BTF type id: what fentry and fexit programs attach to.
    pub btf_id: u32,
    pub params: Vec<Param>,
    /// A trailing `...` (not part of `params`); the kernel traces no such
    /// function.
    pub variadic: bool,
    pub ret: Type,
    pub ret_c_type: String,
}

impl Function {
    /// The parameter called `name`, with its index.
    pub fn param(&self, name: &str) -> Option<(usize, &Param)> {
        self.params.iter().enumerate().find(|(_, p)| p.name == name)
    }

    /// Byte offset of argument `i` in an fentry or fexit context, which is
    /// an array of u64 words.
    pub fn arg_offset(&self, i: usize) -> Option<u32> {
        if i >= self.params.len() {
            return None;
        }
        Some(8 * self.params[..i].iter().map(|p| p.ty.context_words()).sum::<u32>())
    }

    /// Byte offset of the return value in an fexit context: after the
    /// arguments.
    pub fn ret_offset(&self) -> u32 {
        8 * self.params.iter().map(|p| p.ty.context_words()).sum::<u32>()
    }
}

/// The prototype of FUNC `id`, called `name`.
pub(super) fn of(raw: &Raw, name: &str, id: u32) -> Result<Function, BtfError> {
    let proto = raw.record(raw.record(id)?.size_or_type)?;
    if proto.kind != Kind::FuncProto {
        return Err(BtfError::Malformed(format!("function {name} has no prototype")));
    }
    let mut params = Vec::new();
    let mut variadic = false;
    for i in 0..usize::from(proto.vlen) {
        let (name_off, ty) = raw.param(&proto, i);
        // `...` is a last parameter without name or type.
        if ty == 0 {
            variadic = true;
            continue;
        }
        params.push(Param {
            name: raw.name(name_off)?.to_owned(),
            ty: resolve(raw, ty, 0)?,
            c_type: spell(raw, ty, 0)?,
        });
    }
    Ok(Function {
        name: name.to_owned(),
        btf_id: id,
        params,
        variadic,
        ret: resolve(raw, proto.size_or_type, 0)?,
        ret_c_type: spell(raw, proto.size_or_type, 0)?,
    })
}

pub(super) fn deeper(depth: usize) -> Result<usize, BtfError> {
    if depth >= MAX_DEPTH {
        return Err(BtfError::Malformed(format!("a type chain deeper than {MAX_DEPTH}")));
    }
    Ok(depth + 1)
}

/// Type `id` as bpftrace reads it.
pub(super) fn resolve(raw: &Raw, id: u32, depth: usize) -> Result<Type, BtfError> {
    if id == 0 {
        return Ok(Type::Void);
    }
    let depth = deeper(depth)?;
    let r = raw.record(id)?;
    let size = || {
        u8::try_from(r.size_or_type)
            .map_err(|_| BtfError::Malformed(format!("type {id}: size {}", r.size_or_type)))
    };
    Ok(match r.kind {
        Kind::Int => {
            let encoding = raw.int_encoding(&r);
            if encoding & INT_BOOL != 0 {
                Type::Bool
            } else {
                let size = size()?;
                let named_char = raw.name(r.name_off)?.ends_with("char");
                Type::Int {
                    size,
                    signed: encoding & INT_SIGNED != 0,
                    char: size == 1 && (encoding & INT_CHAR != 0 || named_char),
                }
            }
        }
        Kind::Enum | Kind::Enum64 => Type::Enum { size: size()?, signed: r.kind_flag },
        Kind::Float => Type::Float { size: size()? },
        Kind::Ptr => Type::Pointer(Box::new(resolve(raw, r.size_or_type, depth)?)),
        Kind::Struct | Kind::Union | Kind::Fwd => Type::Record {
            union: r.kind == Kind::Union || (r.kind == Kind::Fwd && r.kind_flag),
            name: raw.name(r.name_off)?.to_owned(),
            size: (r.kind != Kind::Fwd).then_some(r.size_or_type),
        },
        Kind::Array => {
            let (elem, len) = raw.array(&r);
            Type::Array { elem: Box::new(resolve(raw, elem, depth)?), len }
        }
        Kind::FuncProto => Type::Function,
        k if k == Kind::Typedef || k.is_qualifier() => resolve(raw, r.size_or_type, depth)?,
        k => return Err(BtfError::Malformed(format!("type {id} is a {}, not a value", k.name()))),
    })
}

/// Type `id` as C spells it.
fn spell(raw: &Raw, id: u32, depth: usize) -> Result<String, BtfError> {
    if id == 0 {
        return Ok("void".to_owned());
    }
    let depth = deeper(depth)?;
    let r = raw.record(id)?;
    let name = raw.name(r.name_off)?;
    let tagged = |tag: &str| {
        if name.is_empty() { format!("{tag} (anonymous)") } else { format!("{tag} {name}") }
    };
    Ok(match r.kind {
        Kind::Int | Kind::Float | Kind::Typedef => name.to_owned(),
        Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 => tagged(r.kind.name()),
        Kind::Fwd => tagged(if r.kind_flag { "union" } else { "struct" }),
        Kind::Ptr => match raw.record(r.size_or_type) {
            Ok(to) if to.kind == Kind::FuncProto => {
                let params = (0..usize::from(to.vlen))
                    .map(|i| match raw.param(&to, i) {
                        (_, 0) => Ok("...".to_owned()),
                        (_, ty) => spell(raw, ty, depth),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                format!("{} (*)({})", spell(raw, to.size_or_type, depth)?, params.join(", "))
            }
            _ => {
                let to = spell(raw, r.size_or_type, depth)?;
                if to.ends_with('*') { format!("{to}*") } else { format!("{to} *") }
            }
        },
        // `__user` and friends have no C spelling.
        Kind::TypeTag => spell(raw, r.size_or_type, depth)?,
        k if k.is_qualifier() => {
            let of = spell(raw, r.size_or_type, depth)?;
            // A qualified pointer reads `char * const`.
            if of.ends_with('*') {
                format!("{of} {}", k.name())
            } else {
                format!("{} {of}", k.name())
            }
        }
        Kind::Array => {
            let (elem, len) = raw.array(&r);
            format!("{}[{len}]", spell(raw, elem, depth)?)
        }
        Kind::FuncProto => "function".to_owned(),
        k => return Err(BtfError::Malformed(format!("type {id} is a {}, not a value", k.name()))),
    })
}
