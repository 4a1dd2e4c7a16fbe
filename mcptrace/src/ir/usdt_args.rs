//! USDT argument specs, as `sys/sdt.h` has the assembler write them into a
//! probe's note (`-4@%edi 8@-80(%rbx) 8@$5`): per argument, its size and
//! signedness (`[-]N@`) and where its value is at the probe site, in x86-64
//! AT&T operand syntax.

use super::regs;

/// One argument of a USDT probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsdtArg {
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
    pub signed: bool,
    pub operand: Operand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A register, by its offset in `struct pt_regs`: a narrow name
    /// (`%edi`, `%al`) is the low bytes of its full register there, `%ah`
    /// the byte after.
    Register(u32),
    /// An immediate (`$5`).
    Constant(i64),
    /// User memory at a register's value plus a displacement (`-80(%rbx)`).
    Memory { base: u32, displacement: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgSpecError {
    #[error("`{0}` is not SIZE@OPERAND")]
    Shape(String),
    #[error("`{0}`: the size is not 1, 2, 4 or 8 bytes")]
    Size(String),
    #[error("`{0}`: no such register")]
    Register(String),
    #[error("`{0}`: only %REGISTER, $CONSTANT and OFFSET(%REGISTER) operands are read")]
    Operand(String),
}

/// Argument `n` of the specs `specs` (a note's argument string), or None
/// when the probe has fewer arguments.
pub fn arg(specs: &str, n: usize) -> Option<Result<UsdtArg, ArgSpecError>> {
    specs.split_whitespace().nth(n).map(parse)
}

/// One argument spec: `[-]SIZE@OPERAND`.
pub fn parse(spec: &str) -> Result<UsdtArg, ArgSpecError> {
    let (size, operand) = spec.split_once('@').ok_or_else(|| ArgSpecError::Shape(spec.into()))?;
    let (signed, size) = match size.strip_prefix('-') {
        Some(size) => (true, size),
        None => (false, size),
    };
    let size = match size.parse::<u8>() {
        Ok(size @ (1 | 2 | 4 | 8)) => size,
        _ => return Err(ArgSpecError::Size(spec.into())),
    };
    Ok(UsdtArg { size, signed, operand: operand_of(operand, spec)? })
}

fn operand_of(text: &str, spec: &str) -> Result<Operand, ArgSpecError> {
    let unsupported = || ArgSpecError::Operand(spec.into());
    if let Some(constant) = text.strip_prefix('$') {
        return number(constant).map(Operand::Constant).ok_or_else(unsupported);
    }
    if text.starts_with('%') {
        return register(text).map(Operand::Register);
    }
    let (displacement, rest) = text.split_once('(').ok_or_else(unsupported)?;
    let base = rest.strip_suffix(')').filter(|r| !r.contains(',')).ok_or_else(unsupported)?;
    let displacement = match displacement {
        "" => 0,
        d => number(d).ok_or_else(unsupported)?,
    };
    // An address relative to the instruction is a global: a symbol, not a
    // register's value plus a number.
    if base == "%rip" {
        return Err(unsupported());
    }
    Ok(Operand::Memory { base: register(base)?, displacement })
}

/// A decimal or `0x` hexadecimal integer, optionally negative.
fn number(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i64>().ok()?,
    };
    Some(if negative { -value } else { value })
}

/// The `struct pt_regs` offset of register `%name`, any width.
fn register(text: &str) -> Result<u32, ArgSpecError> {
    let missing = || ArgSpecError::Register(text.into());
    let name = text.strip_prefix('%').ok_or_else(missing)?;
    let (full, high_byte) = full_register(name).ok_or_else(missing)?;
    let offset = regs::named(full).ok_or_else(missing)?;
    Ok(offset + u32::from(high_byte))
}

/// The full register `name` is part of, by `reg()`'s names, and whether it
/// is the second byte of it (`%ah`).
fn full_register(name: &str) -> Option<(&'static str, bool)> {
    const LEGACY: [&str; 8] = ["ax", "bx", "cx", "dx", "si", "di", "bp", "sp"];
    const NUMBERED: [&str; 8] = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    if name == "rip" {
        return Some(("ip", false));
    }
    for full in LEGACY {
        let letter = &full[..1];
        // `%al` for the a/b/c/d registers, `%sil` for the others.
        let low = if full.ends_with('x') { format!("{letter}l") } else { format!("{full}l") };
        let widths = [format!("r{full}"), format!("e{full}"), full.to_string(), low];
        if widths.iter().any(|w| w == name) {
            return Some((full, false));
        }
        if full.ends_with('x') && name == format!("{letter}h") {
            return Some((full, true));
        }
    }
    NUMBERED.into_iter().find_map(|full| {
        let suffix = name.strip_prefix(full)?;
        matches!(suffix, "" | "d" | "w" | "b" | "l").then_some((full, false))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str) -> u32 {
        regs::named(name).unwrap()
    }

    #[test]
    fn registers_of_every_width() {
        let ok = |size, signed, operand| Ok(UsdtArg { size, signed, operand });
        assert_eq!(parse("8@%rdi"), ok(8, false, Operand::Register(reg("di"))));
        assert_eq!(parse("-4@%edi"), ok(4, true, Operand::Register(reg("di"))));
        assert_eq!(parse("2@%ax"), ok(2, false, Operand::Register(reg("ax"))));
        assert_eq!(parse("-1@%al"), ok(1, true, Operand::Register(reg("ax"))));
        assert_eq!(parse("1@%ah"), ok(1, false, Operand::Register(reg("ax") + 1)));
        assert_eq!(parse("1@%sil"), ok(1, false, Operand::Register(reg("si"))));
        assert_eq!(parse("8@%r12"), ok(8, false, Operand::Register(reg("r12"))));
        assert_eq!(parse("-4@%r9d"), ok(4, true, Operand::Register(reg("r9"))));
        assert_eq!(parse("2@%r15w"), ok(2, false, Operand::Register(reg("r15"))));
        assert_eq!(parse("1@%r8b"), ok(1, false, Operand::Register(reg("r8"))));
        assert_eq!(parse("8@%rsp"), ok(8, false, Operand::Register(reg("sp"))));
    }

    #[test]
    fn constants_and_memory() {
        let ok = |size, signed, operand| Ok(UsdtArg { size, signed, operand });
        assert_eq!(parse("8@$5"), ok(8, false, Operand::Constant(5)));
        assert_eq!(parse("-4@$-1"), ok(4, true, Operand::Constant(-1)));
        assert_eq!(parse("8@$0x10"), ok(8, false, Operand::Constant(16)));
        let memory = |base: &str, displacement| Operand::Memory { base: reg(base), displacement };
        assert_eq!(parse("8@-80(%rbx)"), ok(8, false, memory("bx", -80)));
        assert_eq!(parse("-4@112(%rsp)"), ok(4, true, memory("sp", 112)));
        assert_eq!(parse("8@(%rax)"), ok(8, false, memory("ax", 0)));
        assert_eq!(parse("8@0x10(%r13)"), ok(8, false, memory("r13", 16)));
    }

    #[test]
    fn what_is_not_read() {
        let operand = |s: &str| Err(ArgSpecError::Operand(s.into()));
        assert_eq!(parse("8@counter(%rip)"), operand("8@counter(%rip)"));
        assert_eq!(parse("8@8(%rax,%rbx,8)"), operand("8@8(%rax,%rbx,8)"));
        assert_eq!(parse("%rdi"), Err(ArgSpecError::Shape("%rdi".into())));
        assert_eq!(parse("3@%rdi"), Err(ArgSpecError::Size("3@%rdi".into())));
        assert_eq!(parse("8@%xmm0"), Err(ArgSpecError::Register("%xmm0".into())));
        assert_eq!(parse("8@%eh"), Err(ArgSpecError::Register("%eh".into())));
    }

    #[test]
    fn arguments_by_position() {
        let specs = "8@%rdx 8@-80(%rbx)";
        assert_eq!(arg(specs, 0).unwrap().unwrap().operand, Operand::Register(reg("dx")));
        assert!(matches!(arg(specs, 1), Some(Ok(UsdtArg { operand: Operand::Memory { .. }, .. }))));
        assert_eq!(arg(specs, 2), None);
    }
}
