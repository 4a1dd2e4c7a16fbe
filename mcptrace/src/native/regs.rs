//! x86-64 `struct pt_regs` layout: where uprobe arguments, return values and
//! syscall arguments live in the copied registers.

/// Size of `struct pt_regs`.
pub const SIZE: u32 = 168;
pub const AX: u32 = 80;
pub const ORIG_AX: u32 = 120;

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
