//! bpftrace's fixed-width integer types (`uint8` … `int64`), as casts and
//! typed declarations name them: what a value becomes in one.

use super::ast::TypeName;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntType {
    pub bits: u8,
    pub signed: bool,
}

impl IntType {
    /// The integer type `ty` names; None for any other type (pointers,
    /// structs, strings, C names such as `unsigned int`).
    pub fn of(ty: &TypeName) -> Option<Self> {
        if ty.pointers != 0 {
            return None;
        }
        let (signed, width) = match ty.name.strip_prefix('u') {
            Some(rest) => (false, rest.strip_prefix("int")?),
            None => (true, ty.name.strip_prefix("int")?),
        };
        let bits = match width {
            "8" => 8,
            "16" => 16,
            "32" => 32,
            "64" => 64,
            _ => return None,
        };
        Some(Self { bits, signed })
    }

    /// Whether this type holds `value` unchanged.
    pub fn holds(self, value: i128) -> bool {
        let bits = u32::from(self.bits);
        match self.signed {
            true => (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&value),
            false => (0..(1i128 << bits)).contains(&value),
        }
    }

    /// `value` (64 bits, as every integer is held) in this type: truncated to
    /// its width, then sign-extended if it is signed, as bpftrace casts.
    pub fn wrap(self, value: u64) -> u64 {
        let shift = 64 - u32::from(self.bits);
        match self.signed {
            true => (((value << shift) as i64) >> shift) as u64,
            false => (value << shift) >> shift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IntType;
    use crate::lang::ast::TypeName;

    fn ty(name: &str, pointers: u8) -> Option<IntType> {
        IntType::of(&TypeName { name: name.into(), pointers })
    }

    #[test]
    fn names_and_widths() {
        assert_eq!(ty("uint8", 0), Some(IntType { bits: 8, signed: false }));
        assert_eq!(ty("int32", 0), Some(IntType { bits: 32, signed: true }));
        assert_eq!(ty("uint64", 0), Some(IntType { bits: 64, signed: false }));
        for other in ["int", "uint", "int128", "unsigned int", "string", "uint8x"] {
            assert_eq!(ty(other, 0), None, "{other}");
        }
        assert_eq!(ty("int8", 1), None, "a pointer");
    }

    #[test]
    fn ranges() {
        let holds = |name, v: i128| ty(name, 0).unwrap().holds(v);
        assert!(holds("uint8", 255) && !holds("uint8", 256) && !holds("uint8", -1));
        assert!(holds("int8", -128) && !holds("int8", -129) && !holds("int8", 128));
        assert!(holds("uint64", u64::MAX.into()) && !holds("int64", u64::MAX.into()));
    }

    #[test]
    fn values_truncate_and_sign_extend() {
        let wrap = |name, v: i64| ty(name, 0).unwrap().wrap(v as u64);
        assert_eq!(wrap("uint8", 0x1ff), 0xff);
        assert_eq!(wrap("int8", 200), (-56i64) as u64);
        assert_eq!(wrap("int8", 100), 100);
        assert_eq!(wrap("uint16", -1), 0xffff);
        assert_eq!(wrap("int32", 0xffff_ffff), u64::MAX);
        assert_eq!(wrap("uint32", -2), 0xffff_fffe);
        assert_eq!(wrap("uint64", -1), u64::MAX);
        assert_eq!(wrap("int64", -1), u64::MAX);
    }
}
