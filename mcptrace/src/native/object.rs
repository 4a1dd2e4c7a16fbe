//! The eBPF object built by build.rs from `mcptrace-ebpf`.

/// ELF object holding every generic program, aligned for the ELF parser.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/mcptrace.bpf.o"));
