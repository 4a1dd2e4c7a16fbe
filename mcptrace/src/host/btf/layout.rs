//! Types' sizes and alignments by their C names (`struct task_struct`,
//! `u64`), for `sizeof` and for the C definitions of a program that use the
//! kernel's types. BTF records no alignment: a record's is its members'
//! largest, as clang finds compiling the definitions bpftrace 0.17
//! generates from BTF, or 1 where a member sits off its alignment (a packed
//! struct).

use super::{
    Btf, BtfError,
    format::{Kind, Raw},
    kernel,
    prototype::deeper,
};
use crate::lang::c_layout::{Layout, Member, Shape};

impl Btf {
    /// The type C calls `name`: `struct NAME`, `union NAME`, `enum NAME`,
    /// or a typedef's name. None where there is none, or it has no size.
    pub fn shape(&self, name: &str) -> Result<Option<Shape>, BtfError> {
        let (kinds, bare): (&[Kind], &str) = match name.split_once(' ') {
            Some(("struct", tag)) => (&[Kind::Struct], tag),
            Some(("union", tag)) => (&[Kind::Union], tag),
            Some(("enum", tag)) => (&[Kind::Enum, Kind::Enum64], tag),
            _ => (&[Kind::Typedef], name),
        };
        let Some(id) = self.raw.named(kinds, bare) else { return Ok(None) };
        let Some(layout) = layout(&self.raw, id, 0)? else { return Ok(None) };
        Ok(Some(Shape { layout, members: members(&self.raw, id, 0)? }))
    }
}

/// The type the running kernel's BTF calls `name` (see [`Btf::shape`]).
pub fn shape(name: &str) -> Result<Option<Shape>, BtfError> {
    kernel()?.shape(name)
}

/// Type `id` seen through typedefs and qualifiers.
pub(super) fn underlying(raw: &Raw, id: u32, depth: usize) -> Result<u32, BtfError> {
    let r = raw.record(id)?;
    match r.kind {
        k if k == Kind::Typedef || k.is_qualifier() => {
            underlying(raw, r.size_or_type, deeper(depth)?)
        }
        _ => Ok(id),
    }
}

fn layout(raw: &Raw, id: u32, depth: usize) -> Result<Option<Layout>, BtfError> {
    if id == 0 {
        return Ok(None);
    }
    let depth = deeper(depth)?;
    let r = raw.record(id)?;
    let size = u64::from(r.size_or_type);
    Ok(match r.kind {
        // A forward-declared enum has no size.
        Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => {
            (size > 0).then_some(Layout { size, align: size })
        }
        Kind::Ptr => Some(Layout { size: 8, align: 8 }),
        Kind::Array => {
            let (elem, len) = raw.array(&r);
            layout(raw, elem, depth)?
                .map(|l| Layout { size: l.size * u64::from(len), align: l.align })
        }
        Kind::Struct | Kind::Union => {
            let mut align = 1;
            for i in 0..usize::from(r.vlen) {
                let (_, ty, offset) = raw.member(&r, i);
                let Some(m) = layout(raw, ty, depth)? else { continue };
                let (bits, bitfield) = match r.kind_flag {
                    true => (offset & 0xff_ffff, offset >> 24 != 0),
                    false => (offset, false),
                };
                if !bitfield && !u64::from(bits).is_multiple_of(8 * m.align.max(1)) {
                    return Ok(Some(Layout { size, align: 1 }));
                }
                align = align.max(m.align);
            }
            Some(Layout { size, align: if size.is_multiple_of(align) { align } else { 1 } })
        }
        k if k == Kind::Typedef || k.is_qualifier() => layout(raw, r.size_or_type, depth)?,
        _ => None,
    })
}

/// The members of record `id` (none for other types), an anonymous
/// member's own included.
fn members(raw: &Raw, id: u32, depth: usize) -> Result<Vec<Member>, BtfError> {
    let depth = deeper(depth)?;
    let r = raw.record(underlying(raw, id, depth)?)?;
    if !matches!(r.kind, Kind::Struct | Kind::Union) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for i in 0..usize::from(r.vlen) {
        let (name_off, ty, offset) = raw.member(&r, i);
        let name = raw.name(name_off)?;
        if name.is_empty() {
            out.extend(members(raw, ty, depth)?);
            continue;
        }
        let bitfield = r.kind_flag && offset >> 24 != 0;
        let layout = if bitfield { None } else { layout(raw, ty, depth)? };
        out.push(Member { name: name.to_owned(), layout });
    }
    Ok(out)
}
