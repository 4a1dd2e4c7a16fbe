//! `sizeof` of a struct or union, and of a member reached through a cast
//! pointer (`sizeof(((struct Foo *)0)->c)`, C's idiom, which reads no
//! memory): constants known at check time, from the program's definitions
//! and then the kernel's BTF, as bpftrace 0.17 has clang size them. Where a
//! size cannot be known here (a definition not understood, a header
//! included, which may define the type, no BTF), the `sizeof` stays, for
//! bpftrace.

use super::Constants;
use crate::{
    check::error::CheckErrorKind,
    lang::{
        ast::Span,
        c_layout::{Definitions, Shape},
    },
};

impl Constants<'_> {
    /// Resolves `sizeof(record)` (`struct Foo`), written at `span`.
    pub fn record_size(&mut self, record: &str, span: Span) -> Result<(), CheckErrorKind> {
        if let Some(shape) = self.record(record)? {
            self.found.insert(span.offset, i128::from(shape.layout.size));
        }
        Ok(())
    }

    /// Resolves `sizeof(((record *)e)->field)`, written at `span`.
    pub fn member_size(
        &mut self,
        record: &str,
        field: &str,
        span: Span,
    ) -> Result<(), CheckErrorKind> {
        let Some(shape) = self.record(record)? else { return Ok(()) };
        let Some(member) = shape.member(field) else {
            return Err(CheckErrorKind::UnknownMember {
                record: record.into(),
                field: field.into(),
            });
        };
        // A bit-field has no size of its own: bpftrace says what it makes of it.
        if let Some(layout) = member.layout {
            self.found.insert(span.offset, i128::from(layout.size));
        }
        Ok(())
    }

    /// The struct or union called `name`: the program's, else the kernel's.
    /// None where it cannot be known here.
    fn record(&mut self, name: &str) -> Result<Option<Shape>, CheckErrorKind> {
        let (host, preamble) = (self.host, self.preamble);
        let definitions = self.definitions.get_or_insert_with(|| {
            let known = |n: &str| host.kernel_type(n).ok().flatten().map(|s| s.layout);
            Definitions::parse(preamble.iter().map(|p| p.text.as_str()), &known)
        });
        let Some(definitions) = definitions else { return Ok(None) };
        if let Some(shape) = definitions.get(name) {
            return Ok(Some(shape.clone()));
        }
        match host.kernel_type(name) {
            Ok(Some(shape)) => Ok(Some(shape)),
            Ok(None) => Err(CheckErrorKind::UnknownType(name.into())),
            Err(_) => Ok(None),
        }
    }
}
