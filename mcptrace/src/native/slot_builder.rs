//! Builds a `SlotConfig` piece by piece, handing out value and string
//! positions and refusing, with a typed error, what the fixed layout cannot
//! hold. The planner lowers a probe through it; tests use it directly.

use mcptrace_common::{
    Capture, SlotConfig,
    limits::{CTX_COPY, MAX_CAPTURES, MAX_FILTER_OPS, MAX_FILTER_STRINGS, MAX_STRINGS, MAX_VALUES},
    slot::{FilterOp, FilterString, flags, op, source},
};

fn is_string_source(src: u32) -> bool {
    matches!(
        src,
        source::COMM
            | source::USER_STR
            | source::KERNEL_STR
            | source::CTX_STR
            | source::DATA_LOC_STR
    )
}

/// A fixed-size part of the slot layout ran out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the probe needs more {what} than a native slot holds ({max})")]
pub struct SlotFull {
    pub what: &'static str,
    pub max: usize,
}

/// Position of a captured integer in `Event::values`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueRef(pub u16);

/// Position of a captured string in `Event::strings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StrRef(pub u16);

#[derive(Clone, Debug, Default)]
pub struct SlotBuilder {
    config: SlotConfig,
    values: u16,
    strings: u16,
    filter_strings: u16,
}

impl SlotBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the context copy cover `offset..offset + len` when that range
    /// lies in the context part of the record.
    fn need(&mut self, offset: u32, len: u32) {
        if offset < CTX_COPY as u32 {
            self.config.ctx_len = self.config.ctx_len.max((offset + len).min(CTX_COPY as u32));
        }
    }

    /// Also copy `len` bytes from the pointer at context offset `offset`;
    /// they land at record offset `CTX_COPY`.
    pub fn deref(&mut self, offset: u32, len: u32) -> &mut Self {
        self.need(offset, 8);
        self.config.deref_offset = offset;
        self.config.deref_len = len.min(CTX_COPY as u32);
        self
    }

    fn push(&mut self, capture: Capture) -> Result<(), SlotFull> {
        let n = self.config.ncaptures as usize;
        if n >= MAX_CAPTURES {
            return Err(SlotFull { what: "captures", max: MAX_CAPTURES });
        }
        self.config.captures[n] = capture;
        self.config.ncaptures += 1;
        Ok(())
    }

    /// A builtin integer (`source::PID`, `NSECS`, ...).
    pub fn builtin(&mut self, src: u32) -> Result<ValueRef, SlotFull> {
        self.value(Capture { source: src, ..Default::default() })
    }

    /// An integer of `size` bytes at record offset `offset`.
    pub fn field(&mut self, offset: u32, size: u32, signed: bool) -> Result<ValueRef, SlotFull> {
        self.need(offset, size);
        self.value(Capture {
            source: source::FIELD,
            offset: offset as u16,
            size: size as u16,
            flags: if signed { flags::SIGNED } else { 0 },
            dest: 0,
        })
    }

    fn value(&mut self, mut capture: Capture) -> Result<ValueRef, SlotFull> {
        if self.values as usize >= MAX_VALUES {
            return Err(SlotFull { what: "integer values", max: MAX_VALUES });
        }
        capture.dest = self.values;
        self.push(capture)?;
        self.values += 1;
        Ok(ValueRef(capture.dest))
    }

    /// A string (`source::COMM`, `USER_STR`, ...) of at most `size` bytes.
    pub fn string(&mut self, src: u32, offset: u32, size: u32) -> Result<StrRef, SlotFull> {
        if self.strings as usize >= MAX_STRINGS {
            return Err(SlotFull { what: "strings", max: MAX_STRINGS });
        }
        let dest = self.strings;
        if matches!(src, source::USER_STR | source::KERNEL_STR) {
            self.need(offset, 8);
        }
        self.push(Capture {
            source: src,
            offset: offset as u16,
            size: size as u16,
            flags: 0,
            dest,
        })?;
        self.strings += 1;
        Ok(StrRef(dest))
    }

    /// Appends a predicate operation.
    pub fn op(&mut self, code: u16, arg: u16, imm: u64) -> Result<&mut Self, SlotFull> {
        let n = self.config.nfilter as usize;
        if n >= MAX_FILTER_OPS {
            return Err(SlotFull { what: "predicate operations", max: MAX_FILTER_OPS });
        }
        self.config.filter[n] = FilterOp { code, arg, _pad: 0, imm };
        self.config.nfilter += 1;
        Ok(self)
    }

    /// Registers a string constant for `op::STR_EQ`; returns its index.
    pub fn filter_string(&mut self, s: &[u8]) -> Result<u64, SlotFull> {
        let i = self.filter_strings as usize;
        if i >= MAX_FILTER_STRINGS {
            return Err(SlotFull { what: "string constants", max: MAX_FILTER_STRINGS });
        }
        self.config.filter_strings[i] = FilterString::new(s);
        self.filter_strings += 1;
        Ok(i as u64)
    }

    pub fn add_syscall_nr(&mut self, nr: u32) -> &mut Self {
        self.config.add_nr(nr);
        self
    }

    /// The configuration, with the captures the predicate reads (and all
    /// before them) run ahead of it, and the rest only for hits that pass.
    pub fn build(&self) -> SlotConfig {
        let mut config = self.config;
        let captures = &config.captures[..config.ncaptures as usize];
        let position = |is_string: bool, dest: u16| {
            captures.iter().position(|c| is_string_source(c.source) == is_string && c.dest == dest)
        };
        config.nphase1 = config.filter[..config.nfilter as usize]
            .iter()
            .filter_map(|o| match o.code {
                op::VALUE => position(false, o.arg),
                op::STR_EQ => position(true, o.arg),
                _ => None,
            })
            .map(|p| p as u32 + 1)
            .max()
            .unwrap_or(0);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_positions_in_order_and_refuses_overflow() {
        let mut b = SlotBuilder::new();
        assert_eq!(b.builtin(source::PID).unwrap(), ValueRef(0));
        assert_eq!(b.string(source::COMM, 0, 16).unwrap(), StrRef(0));
        assert_eq!(b.field(16, 4, true).unwrap(), ValueRef(1));
        for _ in 2..MAX_VALUES {
            b.builtin(source::NSECS).unwrap();
        }
        assert_eq!(b.builtin(source::TID), Err(SlotFull { what: "integer values", max: 8 }));
        let c = b.build();
        assert_eq!(c.ncaptures as usize, MAX_VALUES + 1);
        assert_eq!(c.captures[2].flags, flags::SIGNED);
    }

    #[test]
    fn the_predicate_runs_after_the_captures_it_reads() {
        let mut b = SlotBuilder::new();
        let nsecs = b.builtin(source::NSECS).unwrap();
        let comm = b.string(source::COMM, 0, 16).unwrap();
        let pid = b.builtin(source::PID).unwrap();
        b.string(source::USER_STR, 24, 64).unwrap();
        assert_eq!(b.build().nphase1, 0, "no predicate: nothing runs ahead");
        b.op(op::VALUE, pid.0, 0).unwrap().op(op::IMM, 0, 42).unwrap().op(op::EQ, 0, 0).unwrap();
        let c = b.build();
        assert_eq!((c.nphase1, c.nfilter), (3, 3), "up to pid, the third capture");
        let s = b.filter_string(b"bash").unwrap();
        b.op(op::STR_EQ, comm.0, s).unwrap();
        assert_eq!(b.build().nphase1, 3);
        let _ = nsecs;
        for _ in b.build().nfilter as usize..MAX_FILTER_OPS {
            b.op(op::IMM, 0, 0).unwrap();
        }
        assert!(b.op(op::IMM, 0, 0).is_err());
    }

    #[test]
    fn deref_copies_the_pointer_word_too() {
        let mut b = SlotBuilder::new();
        b.deref(8, 168);
        let c = b.build();
        assert_eq!((c.ctx_len, c.deref_offset, c.deref_len), (16, 8, 168));
        // Fields in the dereferenced part do not grow the context copy.
        b.field(CTX_COPY as u32 + 112, 8, false).unwrap();
        assert_eq!(b.build().ctx_len, 16);
        b.field(40, 4, true).unwrap();
        assert_eq!(b.build().ctx_len, 44);
    }
}
