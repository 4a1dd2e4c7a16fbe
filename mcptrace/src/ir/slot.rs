//! Builds a `SlotConfig` piece by piece, handing out value, string and key
//! positions and refusing, with a typed error, what the fixed layout cannot
//! hold. The planner lowers a probe through it; tests use it directly.

use mcptrace_common::{
    Capture, Event, SlotConfig,
    limits::{
        CTX_COPY, KEY_WORDS, MAX_CAPTURES, MAX_COMPUTES, MAX_CONST_STRINGS, MAX_KEY_PARTS,
        MAX_KEYS, MAX_LOOKUPS, MAX_MAP_OPS, MAX_OPS, MAX_STRINGS, MAX_VALUES, OP_STACK,
    },
    slot::{
        Compute, ConstString, KeyPart, KeySpec, Lookup, MapOp, Op, action, flags, is_string_source,
        op, source,
    },
    tier_of,
};

/// A fixed-size part of the slot layout ran out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the probe needs more {what} than a native slot holds ({max})")]
pub struct SlotFull {
    pub what: &'static str,
    pub max: usize,
}

fn full(what: &'static str, max: usize) -> SlotFull {
    SlotFull { what, max }
}

/// Position of an integer in `Event::values` (captured or looked up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueRef(pub u16);

/// Position of a captured string in `Event::strings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StrRef(pub u16);

/// A key spec of this slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef(pub u16);

/// One part of a map key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Value(ValueRef),
    /// The first `words` 8-byte words of a string (comm: 2, str(): 8).
    Str(StrRef, u8),
}

/// An expression program: operations for the stack machine.
pub type Ops = Vec<Op>;

pub fn op(code: u16, arg: u16, imm: u64) -> Op {
    Op { code, arg, _pad: 0, imm }
}

#[derive(Clone, Debug, Default)]
pub struct SlotBuilder {
    config: SlotConfig,
    values: u16,
    strings: u16,
    consts: u16,
    key_words: Vec<usize>,
    predicate: Ops,
    map_ops: Vec<PendingMapOp>,
    computes: Vec<(ValueRef, Ops)>,
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

    /// Whether hits that pass send an event to user space (default: yes).
    pub fn emit(&mut self, emit: bool) -> &mut Self {
        self.config.action = if emit { action::EMIT } else { 0 };
        self
    }

    fn push(&mut self, capture: Capture) -> Result<(), SlotFull> {
        let n = self.config.ncaptures as usize;
        if n >= MAX_CAPTURES {
            return Err(full("captures", MAX_CAPTURES));
        }
        self.config.captures[n] = capture;
        self.config.ncaptures += 1;
        Ok(())
    }

    fn next_value(&mut self) -> Result<ValueRef, SlotFull> {
        if self.values as usize >= MAX_VALUES {
            return Err(full("integer values", MAX_VALUES));
        }
        self.values += 1;
        Ok(ValueRef(self.values - 1))
    }

    /// A builtin integer (`source::PID`, `NSECS`, ...).
    pub fn builtin(&mut self, src: u32) -> Result<ValueRef, SlotFull> {
        self.value(Capture { source: src, ..Default::default() })
    }

    /// A small constant (a probe's index, for `probe` map keys).
    pub fn constant(&mut self, value: u16) -> Result<ValueRef, SlotFull> {
        self.value(Capture { source: source::CONST, offset: value, ..Default::default() })
    }

    /// An integer of `size` bytes at record offset `offset`.
    pub fn field(&mut self, offset: u32, size: u32, signed: bool) -> Result<ValueRef, SlotFull> {
        self.need(offset, size);
        self.value(Capture {
            source: source::FIELD,
            offset: offset as u16,
            size: size as u16,
            flags: if signed { flags::SIGNED } else { 0 },
            ..Default::default()
        })
    }

    /// An integer of `size` bytes in user memory at the address in the 8
    /// bytes at record offset `base`, plus `displacement`.
    pub fn user_int(
        &mut self,
        base: u32,
        displacement: i32,
        size: u32,
        signed: bool,
    ) -> Result<ValueRef, SlotFull> {
        self.need(base, 8);
        self.value(Capture {
            source: source::USER_INT,
            offset: base as u16,
            size: size as u16,
            flags: if signed { flags::SIGNED } else { 0 },
            displacement,
            ..Default::default()
        })
    }

    fn value(&mut self, mut capture: Capture) -> Result<ValueRef, SlotFull> {
        let at = self.next_value()?;
        capture.dest = at.0;
        self.push(capture)?;
        Ok(at)
    }

    /// A string (`source::COMM`, `USER_STR`, ...) of at most `size` bytes.
    pub fn string(&mut self, src: u32, offset: u32, size: u32) -> Result<StrRef, SlotFull> {
        // The kernel reads a pointer, or a __data_loc's offset/length word,
        // from the record copy; only the string itself is read in place.
        match src {
            source::USER_STR | source::KERNEL_STR | source::ANY_STR => self.need(offset, 8),
            source::DATA_LOC_STR => self.need(offset, 4),
            _ => {}
        }
        let capture =
            Capture { source: src, offset: offset as u16, size: size as u16, ..Default::default() };
        self.string_slot(capture)
    }

    /// `buf()`'s bytes (`source::USER_BUF` or `KERNEL_BUF`) whose pointer
    /// is at record offset `offset`: `size` of them, or with `len`, as many
    /// as that captured value says, `size` at most.
    pub fn buffer(
        &mut self,
        src: u32,
        offset: u32,
        size: u32,
        len: Option<ValueRef>,
    ) -> Result<StrRef, SlotFull> {
        self.need(offset, 8);
        let capture = Capture {
            source: src,
            offset: offset as u16,
            size: size as u16,
            flags: if len.is_some() { flags::LEN_VALUE } else { 0 },
            arg: len.map_or(0, |v| v.0),
            ..Default::default()
        };
        self.string_slot(capture)
    }

    fn string_slot(&mut self, mut capture: Capture) -> Result<StrRef, SlotFull> {
        if self.strings as usize >= MAX_STRINGS {
            return Err(full("strings", MAX_STRINGS));
        }
        capture.dest = self.strings;
        self.push(capture)?;
        self.strings += 1;
        Ok(StrRef(capture.dest))
    }

    /// A string (`source::USER_STR`, `KERNEL_STR`, `ANY_STR`) of at most
    /// `size` bytes at the pointer value `at` holds: a keyed-state read,
    /// so the capture must come after the lookups, which lowering sees to.
    pub fn string_at_value(
        &mut self,
        src: u32,
        at: ValueRef,
        size: u32,
    ) -> Result<StrRef, SlotFull> {
        let capture = Capture {
            source: src,
            offset: at.0,
            size: size as u16,
            flags: flags::FROM_VALUE,
            ..Default::default()
        };
        self.string_slot(capture)
    }

    /// join() of the array whose pointer is at record offset `offset`, its
    /// pointers and strings in user memory (`source::USER_STR`) or kernel
    /// memory (`KERNEL_STR`). A slot reads one array.
    pub fn join(&mut self, src: u32, offset: u32) -> &mut Self {
        self.need(offset, 8);
        self.config.join = Capture { source: src, offset: offset as u16, ..Default::default() };
        self
    }

    /// The record offset of the array join() reads, if the slot joins.
    pub fn joined_offset(&self) -> Option<u32> {
        (self.config.join.source != source::NONE).then_some(self.config.join.offset as u32)
    }

    /// The capture that fills value `v`, if it is captured (not looked up).
    pub fn capture_of(&self, v: ValueRef) -> Option<Capture> {
        self.config.captures[..self.config.ncaptures as usize]
            .iter()
            .find(|c| !is_string_source(c.source) && c.dest == v.0)
            .copied()
    }

    /// Registers a string constant for `op::STR_EQ`; returns its index.
    pub fn const_string(&mut self, s: &[u8]) -> Result<u64, SlotFull> {
        let i = self.consts as usize;
        if i >= MAX_CONST_STRINGS {
            return Err(full("string constants", MAX_CONST_STRINGS));
        }
        self.config.consts[i] = ConstString::new(s);
        self.consts += 1;
        Ok(i as u64)
    }

    /// Registers the first `n` bytes of `s` (its NUL too, when `s` is
    /// shorter) for `op::STR_EQ`: what `strncmp(str, s, n)` compares.
    pub fn const_prefix(&mut self, s: &[u8], n: usize) -> Result<u64, SlotFull> {
        let i = self.const_string(s)?;
        let c = &mut self.config.consts[i as usize];
        for (w, mask) in c.mask.iter_mut().enumerate() {
            // Bytes are in memory order: byte j of a word is its j-th
            // native-endian byte.
            let keep = n.saturating_sub(w * 8).min(8);
            let bytes: [u8; 8] = std::array::from_fn(|j| if j < keep { 0xff } else { 0 });
            *mask &= u64::from_ne_bytes(bytes);
        }
        Ok(i)
    }

    pub fn add_syscall_nr(&mut self, nr: u32) -> &mut Self {
        self.config.add_nr(nr);
        self
    }

    /// Appends operations to the predicate.
    pub fn predicate(&mut self, ops: impl IntoIterator<Item = Op>) -> &mut Self {
        self.predicate.extend(ops);
        self
    }

    /// A key of user map `map` made of `parts`, in order.
    pub fn key(&mut self, map: u16, parts: &[Part]) -> Result<KeyRef, SlotFull> {
        let i = self.config.keys.iter().take(self.key_words.len()).position(|k| {
            k.map == map
                && k.nparts as usize == parts.len()
                && k.parts[..parts.len()] == key_parts(parts)[..]
        });
        if let Some(i) = i {
            return Ok(KeyRef(i as u16));
        }
        if self.key_words.len() >= MAX_KEYS {
            return Err(full("map keys", MAX_KEYS));
        }
        if parts.len() > MAX_KEY_PARTS {
            return Err(full("key parts", MAX_KEY_PARTS));
        }
        let words: usize = parts
            .iter()
            .map(|p| match p {
                Part::Value(_) => 1,
                Part::Str(_, w) => *w as usize,
            })
            .sum();
        if words > KEY_WORDS {
            return Err(full("key bytes", KEY_WORDS * 8));
        }
        let mut spec =
            KeySpec { map, nparts: parts.len() as u8, tier: tier_of(words), ..Default::default() };
        spec.parts[..parts.len()].copy_from_slice(&key_parts(parts));
        let i = self.key_words.len();
        self.config.keys[i] = spec;
        self.key_words.push(words);
        Ok(KeyRef(i as u16))
    }

    /// Reads keyed state under `key` into a value (0 when absent), or with
    /// `presence`, whether there is any (1 or 0); one read per key and kind
    /// serves every use.
    pub fn lookup(&mut self, key: KeyRef, presence: bool) -> Result<ValueRef, SlotFull> {
        let n = self.config.nlookups as usize;
        let presence = u16::from(presence);
        let same = |l: &&Lookup| l.key == key.0 && l.presence == presence;
        if let Some(l) = self.config.lookups[..n].iter().find(same) {
            return Ok(ValueRef(l.dest));
        }
        if n >= MAX_LOOKUPS {
            return Err(full("keyed-state reads", MAX_LOOKUPS));
        }
        let dest = self.next_value()?;
        self.config.lookups[n] = Lookup { key: key.0, dest: dest.0, presence, _pad: 0 };
        self.config.nlookups += 1;
        Ok(dest)
    }

    /// A value computed by `ops` before the map updates (a computed key).
    pub fn compute(&mut self, ops: Ops) -> Result<ValueRef, SlotFull> {
        if self.computes.len() >= MAX_COMPUTES {
            return Err(full("computed values", MAX_COMPUTES));
        }
        let v = self.next_value()?;
        self.computes.push((v, ops));
        Ok(v)
    }

    /// How many map updates the slot makes so far.
    pub fn map_op_count(&self) -> usize {
        self.map_ops.len()
    }

    /// A map update of `kind` (see `map_op`) under `key`, whose operand is
    /// the result of `value` (empty for count and delete), made only when
    /// `guard` leaves a non-zero value (empty: always).
    pub fn map_op(
        &mut self,
        kind: u16,
        key: KeyRef,
        value: Ops,
        guard: Ops,
    ) -> Result<&mut MapOp, SlotFull> {
        if self.map_ops.len() >= MAX_MAP_OPS {
            return Err(full("map updates", MAX_MAP_OPS));
        }
        let m = MapOp { kind, key: key.0, ..Default::default() };
        self.map_ops.push(PendingMapOp { op: m, value, guard });
        Ok(&mut self.map_ops.last_mut().unwrap().op)
    }

    /// The configuration: predicate and map operands laid out in the op
    /// array, and the captures the predicate or lookups read (and all before
    /// them) run ahead of it.
    pub fn build(&self) -> Result<SlotConfig, SlotFull> {
        let mut config = self.config;
        let mut layout = OpLayout::default();
        config.npred = layout.place(&self.predicate)?.1 as u32;
        for (i, m) in self.map_ops.iter().enumerate() {
            let (value_start, value_len) = layout.place(&m.value)?;
            let (guard_start, guard_len) = layout.place(&m.guard)?;
            config.map_ops[i] = MapOp { value_start, value_len, guard_start, guard_len, ..m.op };
        }
        config.nmap_ops = self.map_ops.len() as u32;
        for (i, (dest, ops)) in self.computes.iter().enumerate() {
            let (start, len) = layout.place(ops)?;
            config.computes[i] = Compute { start, len, dest: dest.0, _pad: 0 };
        }
        config.ncomputes = self.computes.len() as u32;
        config.event_len = match config.join.source {
            source::NONE => Event::len_for(self.values as usize, self.strings as usize),
            _ => Event::JOINED_LEN,
        };
        config.ops = layout.ops;

        let captures = &config.captures[..config.ncaptures as usize];
        let position = |is_string: bool, dest: u16| {
            captures.iter().position(|c| is_string_source(c.source) == is_string && c.dest == dest)
        };
        let from_predicate = self.predicate.iter().filter_map(|o| match o.code {
            op::VALUE => position(false, o.arg),
            op::STR_EQ => position(true, o.arg),
            _ => None,
        });
        let lookups = &config.lookups[..config.nlookups as usize];
        let from_lookups = lookups.iter().flat_map(|l| {
            let spec = &config.keys[l.key as usize];
            spec.parts[..spec.nparts as usize]
                .iter()
                .filter_map(|p| position(p.words != 0, p.index as u16))
        });
        config.nphase1 =
            from_predicate.chain(from_lookups).map(|p| p as u32 + 1).max().unwrap_or(0);
        Ok(config)
    }
}

/// A map update waiting for its operand and guard to be laid out.
#[derive(Clone, Debug)]
struct PendingMapOp {
    op: MapOp,
    value: Ops,
    guard: Ops,
}

/// The slot's one op array, filled with sequences in order; a sequence
/// already there (a guard shared by several updates) is placed once.
#[derive(Default)]
struct OpLayout {
    ops: [Op; MAX_OPS],
    len: usize,
}

impl OpLayout {
    /// Places `seq` and returns where it starts and its length.
    fn place(&mut self, seq: &[Op]) -> Result<(u16, u16), SlotFull> {
        if seq.is_empty() {
            return Ok((0, 0));
        }
        let placed = &self.ops[..self.len];
        if let Some(at) = placed.windows(seq.len()).position(|w| w == seq) {
            return Ok((at as u16, seq.len() as u16));
        }
        if self.len + seq.len() > MAX_OPS {
            return Err(full("expression operations", MAX_OPS));
        }
        // The kernel's stack index wraps rather than fail: refuse here.
        if stack_depth(seq) > OP_STACK {
            return Err(full("expression stack depth", OP_STACK));
        }
        let at = self.len;
        self.ops[at..at + seq.len()].copy_from_slice(seq);
        self.len += seq.len();
        Ok((at as u16, seq.len() as u16))
    }
}

/// The deepest the evaluation stack gets running `seq`.
fn stack_depth(seq: &[Op]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for o in seq {
        match o.code {
            op::VALUE | op::IMM | op::STR_EQ => depth += 1,
            op::LNOT | op::NOT | op::NEG | op::IN_NR_SET => {}
            _ => depth = depth.saturating_sub(1),
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// Key parts with their word positions, packed in order.
fn key_parts(parts: &[Part]) -> Vec<KeyPart> {
    let mut at = 0u8;
    parts
        .iter()
        .map(|p| {
            let part = match *p {
                Part::Value(v) => KeyPart { index: v.0 as u8, words: 0, at },
                Part::Str(s, w) => KeyPart { index: s.0 as u8, words: w, at },
            };
            at += part.words.max(1);
            part
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcptrace_common::slot::map_op;

    /// strncmp's constant masks its first n bytes, the NUL within them.
    #[test]
    fn a_prefix_constant_masks_n_bytes() {
        let bytes = |w: u64| w.to_ne_bytes();
        let prefix = |s: &[u8], n| {
            let mut b = SlotBuilder::new();
            let i = b.const_prefix(s, n).unwrap() as usize;
            b.config.consts[i]
        };
        let c = prefix(b"/etc", 4);
        assert_eq!(bytes(c.mask[0]), [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(c.mask[1..].iter().all(|m| *m == 0));
        let c = prefix(b"ab", 10);
        assert_eq!(bytes(c.mask[0]), [0xff, 0xff, 0xff, 0, 0, 0, 0, 0], "a, b and the NUL");
        let c = prefix(b"0123456789", 9);
        assert_eq!((c.mask[0], bytes(c.mask[1])), (u64::MAX, [0xff, 0, 0, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn hands_out_positions_in_order_and_refuses_overflow() {
        let mut b = SlotBuilder::new();
        assert_eq!(b.builtin(source::PID).unwrap(), ValueRef(0));
        assert_eq!(b.string(source::COMM, 0, 16).unwrap(), StrRef(0));
        assert_eq!(b.field(16, 4, true).unwrap(), ValueRef(1));
        for _ in 2..MAX_VALUES {
            b.builtin(source::NSECS).unwrap();
        }
        assert_eq!(b.builtin(source::TID), Err(full("integer values", 8)));
        let c = b.build().unwrap();
        assert_eq!(c.ncaptures as usize, MAX_VALUES + 1);
        assert_eq!(c.captures[2].flags, flags::SIGNED);
    }

    #[test]
    fn the_predicate_runs_after_the_captures_it_reads() {
        let mut b = SlotBuilder::new();
        b.builtin(source::NSECS).unwrap();
        let comm = b.string(source::COMM, 0, 16).unwrap();
        let pid = b.builtin(source::PID).unwrap();
        b.string(source::USER_STR, 24, 64).unwrap();
        assert_eq!(b.build().unwrap().nphase1, 0, "no predicate: nothing runs ahead");
        b.predicate([op(op::VALUE, pid.0, 0), op(op::IMM, 0, 42), op(op::EQ, 0, 0)]);
        let c = b.build().unwrap();
        assert_eq!((c.nphase1, c.npred), (3, 3), "up to pid, the third capture");
        let s = b.const_string(b"bash").unwrap();
        b.predicate([op(op::STR_EQ, comm.0, s), op(op::LAND, 0, 0)]);
        assert_eq!(b.build().unwrap().nphase1, 3);
        b.predicate((0..MAX_OPS).map(|_| op(op::IMM, 0, 0)));
        assert_eq!(b.build(), Err(full("expression operations", MAX_OPS)));
        // 1 + (1 + (… + 1)): nine values on the stack at once.
        let mut b = SlotBuilder::new();
        let deep = (0..=OP_STACK).map(|_| op(op::IMM, 0, 1));
        b.predicate(deep.chain((0..OP_STACK).map(|_| op(op::ADD, 0, 0))));
        assert_eq!(b.build(), Err(full("expression stack depth", OP_STACK)));
    }

    #[test]
    fn lookups_pull_their_key_parts_ahead_and_map_operands_follow_the_predicate() {
        let mut b = SlotBuilder::new();
        b.builtin(source::NSECS).unwrap();
        let tid = b.builtin(source::TID).unwrap();
        let key = b.key(3, &[Part::Value(tid)]).unwrap();
        assert_eq!(b.key(3, &[Part::Value(tid)]).unwrap(), key, "same key, same spec");
        let start = b.lookup(key, false).unwrap();
        assert_eq!(start, ValueRef(2));
        b.predicate([op(op::VALUE, start.0, 0)]);
        let hist = b.key(4, &[]).unwrap();
        b.map_op(
            map_op::HIST,
            hist,
            vec![op(op::VALUE, 0, 0), op(op::VALUE, 2, 0), op(op::SUB, 0, 0)],
            vec![],
        )
        .unwrap();
        b.map_op(map_op::DELETE, key, vec![], vec![]).unwrap();
        let c = b.build().unwrap();
        assert_eq!(c.nphase1, 2, "tid is a lookup key part");
        assert_eq!((c.npred, c.nmap_ops, c.nlookups), (1, 2, 1));
        assert_eq!((c.map_ops[0].value_start, c.map_ops[0].value_len), (1, 3));
        assert_eq!((c.map_ops[1].value_start, c.map_ops[1].value_len), (0, 0));
        assert_eq!(c.keys[1].map, 4);
    }

    #[test]
    fn deref_copies_the_pointer_word_too() {
        let mut b = SlotBuilder::new();
        b.deref(8, 168);
        let c = b.build().unwrap();
        assert_eq!((c.ctx_len, c.deref_offset, c.deref_len), (16, 8, 168));
        // Fields in the dereferenced part do not grow the context copy.
        b.field(CTX_COPY as u32 + 112, 8, false).unwrap();
        assert_eq!(b.build().unwrap().ctx_len, 16);
        b.field(40, 4, true).unwrap();
        assert_eq!(b.build().unwrap().ctx_len, 44);
    }

    #[test]
    fn a_data_loc_string_copies_its_location_word() {
        let mut b = SlotBuilder::new();
        b.string(source::DATA_LOC_STR, 8, 64).unwrap();
        assert_eq!(b.build().unwrap().ctx_len, 12);
        // A char array is read from the context itself, not the copy.
        let mut b = SlotBuilder::new();
        b.string(source::CTX_STR, 8, 16).unwrap();
        assert_eq!(b.build().unwrap().ctx_len, 0);
    }
}
