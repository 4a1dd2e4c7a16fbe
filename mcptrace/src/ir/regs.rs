//! x86-64 `struct pt_regs` layout: where uprobe arguments, return values and
//! syscall arguments live in the copied registers.

/// Size of `struct pt_regs`.
pub const SIZE: u32 = 168;
pub const AX: u32 = 80;
pub const ORIG_AX: u32 = 120;
pub const IP: u32 = 128;

/// Offsets of the function-call argument registers (System V ABI), for
/// `arg0`..`arg5` of uprobes.
pub const CALL_ARGS: [u32; 6] = [DI, SI, DX, CX, R8, R9];

/// Offsets of the syscall argument registers: the fourth is r10, not rcx.
pub const SYSCALL_ARGS: [u32; 6] = [DI, SI, DX, R10, R8, R9];

const R10: u32 = 56;
const R9: u32 = 64;
const R8: u32 = 72;
const CX: u32 = 88;
const DX: u32 = 96;
const SI: u32 = 104;
const DI: u32 = 112;

/// `struct pt_regs` in order, by the names bpftrace's `reg()` takes.
const NAMED: [&str; 21] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss",
];

/// The offset of register `name` in `struct pt_regs`.
pub fn named(name: &str) -> Option<u32> {
    NAMED.iter().position(|n| *n == name).map(|i| 8 * i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_with_the_offsets() {
        assert_eq!(named("ip"), Some(IP));
        for (name, offset) in [("r10", R10), ("ax", AX), ("di", DI), ("orig_ax", ORIG_AX)] {
            assert_eq!(named(name), Some(offset), "{name}");
        }
        assert_eq!(named("ss"), Some(SIZE - 8));
        assert_eq!(named("eax"), None);
    }
}
