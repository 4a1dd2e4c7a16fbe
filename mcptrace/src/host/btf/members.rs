//! Members of the kernel's structs and unions by name, for BTF-typed
//! access (`curtask->real_parent->pid`, `((struct sock *)arg0)->sk_family`):
//! where a member is and what it holds. A member of an anonymous struct or
//! union inside the record is found as C finds it, by its own name.

use super::{
    Btf, BtfError,
    format::{Kind, Raw},
    layout::underlying,
    prototype::{Type, deeper, resolve},
};

/// A member: its byte offset in the record, and its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAt {
    pub offset: u32,
    pub ty: Type,
}

impl Btf {
    /// Member `field` of the struct (or, with `union`, union) named
    /// `record`; None where the record or the member is not there. A
    /// bit-field is an error: it has no byte of its own to read.
    pub fn member(
        &self,
        record: &str,
        union: bool,
        field: &str,
    ) -> Result<Option<MemberAt>, BtfError> {
        let kind = if union { Kind::Union } else { Kind::Struct };
        let Some(id) = self.raw.named(&[kind], record) else { return Ok(None) };
        find(&self.raw, id, field, 0)
    }
}

fn find(raw: &Raw, id: u32, field: &str, depth: usize) -> Result<Option<MemberAt>, BtfError> {
    let depth = deeper(depth)?;
    let r = raw.record(id)?;
    for i in 0..usize::from(r.vlen) {
        let (name_off, ty, offset) = raw.member(&r, i);
        let (bits, bitfield) = match r.kind_flag {
            true => (offset & 0xff_ffff, offset >> 24 != 0),
            false => (offset, false),
        };
        let name = raw.name(name_off)?;
        if name.is_empty() {
            // An anonymous struct or union: its members are the record's.
            let inner = underlying(raw, ty, depth)?;
            if matches!(raw.record(inner)?.kind, Kind::Struct | Kind::Union)
                && let Some(mut found) = find(raw, inner, field, depth)?
            {
                found.offset += bits / 8;
                return Ok(Some(found));
            }
            continue;
        }
        if name != field {
            continue;
        }
        if bitfield || bits % 8 != 0 {
            return Err(BtfError::Malformed(format!("{field} is a bit-field")));
        }
        return Ok(Some(MemberAt { offset: bits / 8, ty: resolve(raw, ty, depth)? }));
    }
    Ok(None)
}
