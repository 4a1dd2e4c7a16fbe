//! Fentry and fexit slots. The context is an array of u64 words: the
//! arguments (a struct of 9 to 16 bytes passed by value takes two), then,
//! for fexit, the return value. The slot copies those words into its record
//! like any context, so captures read arguments as fields.
//!
//! The aya macros name no function: the section is plain `fentry`/`fexit`,
//! and user space picks the kernel function (its BTF id) when it loads the
//! program.

use aya_ebpf::programs::{FEntryContext, FExitContext};
use mcptrace_common::slot::kind;

crate::slots!(fentry, FEntryContext, kind::FENTRY, [
    fe_0 = 0, fe_1 = 1, fe_2 = 2, fe_3 = 3, fe_4 = 4, fe_5 = 5, fe_6 = 6, fe_7 = 7,
    fe_8 = 8, fe_9 = 9, fe_10 = 10, fe_11 = 11, fe_12 = 12, fe_13 = 13, fe_14 = 14, fe_15 = 15,
]);

crate::slots!(fexit, FExitContext, kind::FEXIT, [
    fx_0 = 0, fx_1 = 1, fx_2 = 2, fx_3 = 3, fx_4 = 4, fx_5 = 5, fx_6 = 6, fx_7 = 7,
    fx_8 = 8, fx_9 = 9, fx_10 = 10, fx_11 = 11, fx_12 = 12, fx_13 = 13, fx_14 = 14, fx_15 = 15,
]);
