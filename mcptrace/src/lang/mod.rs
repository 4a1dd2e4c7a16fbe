//! The bpftrace language: syntax tree, parser, errors, printer, and the
//! catalog of builtins.

pub mod ast;
pub mod catalog;
