//! The BTF wire format (`include/uapi/linux/btf.h`): a header, a section of
//! variable-length type records, and a section of NUL-terminated names. Only
//! the walk and the fields that function prototypes need are decoded; aya-obj
//! parses the same bytes but keeps its accessors private to the crate.

use super::BtfError;

const MAGIC: u16 = 0xeb9f;
/// `struct btf_header` up to `str_len`; `hdr_len` may announce more.
const HEADER_LEN: usize = 24;
/// `struct btf_type`: name offset, info, then size or type.
const RECORD_LEN: usize = 12;

/// BTF kinds, numbered as `BTF_KIND_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Int = 1,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    const ALL: [Kind; 19] = [
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
        Kind::Func,
        Kind::FuncProto,
        Kind::Var,
        Kind::Datasec,
        Kind::Float,
        Kind::DeclTag,
        Kind::TypeTag,
        Kind::Enum64,
    ];

    fn from_raw(raw: u32) -> Option<Kind> {
        Kind::ALL.get((raw as usize).checked_sub(1)?).copied()
    }

    /// Bytes that follow the common record, given its `vlen`. Without it the
    /// walk cannot go on, so an unknown kind is an error, not skipped.
    fn trailer_len(self, vlen: usize) -> usize {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            _ => 0,
        }
    }

    /// Kinds that qualify the type they reference without changing how
    /// it is read.
    pub(super) fn is_qualifier(self) -> bool {
        matches!(self, Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag)
    }

    /// How messages name the kind.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Ptr => "pointer",
            Kind::Array => "array",
            Kind::Struct => "struct",
            Kind::Union => "union",
            Kind::Enum | Kind::Enum64 => "enum",
            Kind::Fwd => "forward declaration",
            Kind::Typedef => "typedef",
            Kind::Volatile => "volatile",
            Kind::Const => "const",
            Kind::Restrict => "restrict",
            Kind::Func => "function",
            Kind::FuncProto => "function prototype",
            Kind::Var => "variable",
            Kind::Datasec => "data section",
            Kind::Float => "float",
            Kind::DeclTag => "declaration tag",
            Kind::TypeTag => "type tag",
        }
    }
}

/// One type record.
#[derive(Clone, Copy, Debug)]
pub(super) struct Record {
    pub kind: Kind,
    pub name_off: u32,
    pub vlen: u16,
    pub kind_flag: bool,
    /// `size` for sized kinds, the referenced type id for the others.
    pub size_or_type: u32,
    /// Where the record's trailer starts in the data.
    trailer: usize,
}

/// BTF bytes with every type record's position and the ids of the FUNCs.
pub(super) struct Raw {
    data: Vec<u8>,
    strings: std::ops::Range<usize>,
    /// Start of type id `i`'s record at index `i - 1` (id 0 is `void`).
    records: Vec<u32>,
    /// Name offset and id of each FUNC, searched by name on each lookup: a
    /// hash index of the ~56k kernel functions took ~40 ms to build here,
    /// a search takes ~0.5 ms.
    funcs: Vec<(u32, u32)>,
}

impl Raw {
    pub fn parse(data: Vec<u8>) -> Result<Raw, BtfError> {
        let bad = |what: &str| BtfError::Malformed(what.to_owned());
        if data.len() < HEADER_LEN || u16::from_ne_bytes([data[0], data[1]]) != MAGIC {
            return Err(bad("no BTF header"));
        }
        let word = |at: usize| u32_at(&data, at) as usize;
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (word(4), word(8), word(12), word(16), word(20));
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            let end = start.checked_add(len)?;
            (end <= data.len()).then_some(start..end)
        };
        let types = section(type_off, type_len).ok_or_else(|| bad("type section out of bounds"))?;
        let strings =
            section(str_off, str_len).ok_or_else(|| bad("string section out of bounds"))?;
        let mut raw = Raw { data, strings, records: Vec::new(), funcs: Vec::new() };
        let mut at = types.start;
        while at < types.end {
            if at + RECORD_LEN > types.end {
                return Err(bad("truncated type record"));
            }
            let record = raw.record_at(at)?;
            let next = record.trailer + record.kind.trailer_len(record.vlen as usize);
            if next > types.end {
                return Err(bad("truncated type record"));
            }
            raw.records.push(at as u32);
            if record.kind == Kind::Func {
                raw.funcs.push((record.name_off, raw.records.len() as u32));
            }
            at = next;
        }
        Ok(raw)
    }

    fn record_at(&self, at: usize) -> Result<Record, BtfError> {
        let info = u32_at(&self.data, at + 4);
        let kind = Kind::from_raw((info >> 24) & 0x1f).ok_or_else(|| {
            BtfError::Malformed(format!("unknown BTF kind {}", (info >> 24) & 0x1f))
        })?;
        Ok(Record {
            kind,
            name_off: u32_at(&self.data, at),
            vlen: info as u16,
            kind_flag: info >> 31 != 0,
            size_or_type: u32_at(&self.data, at + 8),
            trailer: at + RECORD_LEN,
        })
    }

    /// The record of type `id` (not 0, which is `void`).
    pub fn record(&self, id: u32) -> Result<Record, BtfError> {
        let at = id
            .checked_sub(1)
            .and_then(|i| self.records.get(i as usize))
            .ok_or_else(|| BtfError::Malformed(format!("no type id {id}")))?;
        self.record_at(*at as usize)
    }

    /// The BTF as read.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The id of the first FUNC named `name`: the first, as in aya's
    /// lookup that picks the attach target.
    pub fn func_id(&self, name: &str) -> Option<u32> {
        let strings = &self.data[self.strings.clone()];
        let named = |off: usize| {
            let rest = strings.get(off..).unwrap_or_default();
            rest.starts_with(name.as_bytes()) && rest.get(name.len()) == Some(&0)
        };
        self.funcs.iter().find(|(off, _)| named(*off as usize)).map(|&(_, id)| id)
    }

    /// The kind of the first type other than FUNC named `name`: a slow walk,
    /// only taken to explain why a name is not a function.
    pub fn other_kind_named(&self, name: &str) -> Option<Kind> {
        (1..=self.records.len() as u32).find_map(|id| {
            let r = self.record(id).ok()?;
            (r.kind != Kind::Func && self.name(r.name_off).ok()? == name).then_some(r.kind)
        })
    }

    pub fn name(&self, off: u32) -> Result<&str, BtfError> {
        let bytes = self
            .data
            .get(self.strings.start + off as usize..self.strings.end)
            .ok_or_else(|| BtfError::Malformed(format!("name offset {off} out of bounds")))?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        std::str::from_utf8(&bytes[..end])
            .map_err(|_| BtfError::Malformed(format!("name at {off} is not UTF-8")))
    }

    /// An INT's encoding bits (`BTF_INT_SIGNED`, `_CHAR`, `_BOOL`).
    pub fn int_encoding(&self, r: &Record) -> u32 {
        u32_at(&self.data, r.trailer) >> 24
    }

    /// An ARRAY's element type and length.
    pub fn array(&self, r: &Record) -> (u32, u32) {
        (u32_at(&self.data, r.trailer), u32_at(&self.data, r.trailer + 8))
    }

    /// Every enumerator of every ENUM and ENUM64, in type order: its name
    /// offset and value, signed where the kind flag says so (an ENUM's
    /// values are 32 bits, an ENUM64's 64).
    pub fn enumerators(&self) -> impl Iterator<Item = (u32, i128)> + '_ {
        (1..=self.records.len() as u32)
            .filter_map(|id| self.record(id).ok())
            .filter(|r| matches!(r.kind, Kind::Enum | Kind::Enum64))
            .flat_map(move |r| {
                let wide = r.kind == Kind::Enum64;
                let step = if wide { 12 } else { 8 };
                (0..r.vlen as usize).map(move |i| {
                    let at = r.trailer + step * i;
                    let low = u32_at(&self.data, at + 4);
                    let value = match (wide, r.kind_flag) {
                        (false, false) => i128::from(low),
                        (false, true) => i128::from(low as i32),
                        (true, signed) => {
                            let bits = u64::from(low) | u64::from(u32_at(&self.data, at + 8)) << 32;
                            if signed { i128::from(bits as i64) } else { i128::from(bits) }
                        }
                    };
                    (u32_at(&self.data, at), value)
                })
            })
    }

    /// Member `i` of a STRUCT or UNION: its name offset, type id, and bit
    /// offset, with the bit-field's width in the top byte if the kind flag
    /// is set.
    pub fn member(&self, r: &Record, i: usize) -> (u32, u32, u32) {
        let at = r.trailer + 12 * i;
        (u32_at(&self.data, at), u32_at(&self.data, at + 4), u32_at(&self.data, at + 8))
    }

    /// The id of the first type of one of `kinds` named `name`: a walk,
    /// taken for the few names a program sizes.
    pub fn named(&self, kinds: &[Kind], name: &str) -> Option<u32> {
        (1..=self.records.len() as u32).find(|&id| {
            self.record(id)
                .is_ok_and(|r| kinds.contains(&r.kind) && self.name(r.name_off) == Ok(name))
        })
    }

    /// Parameter `i` of a FUNC_PROTO: its name offset and type id.
    pub fn param(&self, r: &Record, i: usize) -> (u32, u32) {
        let at = r.trailer + 8 * i;
        (u32_at(&self.data, at), u32_at(&self.data, at + 4))
    }
}

/// The native-endian u32 at `at`; the caller has checked the bounds.
fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(data[at..at + 4].try_into().expect("four bytes"))
}
