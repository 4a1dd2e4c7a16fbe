//! The eBPF object built by build.rs from `mcptrace-ebpf`.

/// ELF object holding every generic program, aligned for the ELF parser.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/mcptrace.bpf.o"));

#[cfg(test)]
mod tests {
    use aya::{EbpfLoader, programs::KProbe};

    use super::OBJECT;

    /// The kprobe slots pass the verifier here even though this kernel may
    /// have no kprobes to attach them to: what a kprobe-capable host runs is
    /// at least known to load.
    #[test]
    fn kprobe_slots_load() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "this test loads BPF programs: run it as root");
        let mut ebpf = EbpfLoader::new().btf(None).load(OBJECT).expect("the object loads");
        for name in ["kp_0", "krp_15"] {
            let program: &mut KProbe =
                ebpf.program_mut(name).expect(name).try_into().expect("a kprobe program");
            program.load().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
