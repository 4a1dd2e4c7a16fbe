//! The eBPF object built by build.rs from `mcptrace-ebpf`.

/// ELF object holding every generic program, aligned for the ELF parser.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/mcptrace.bpf.o"));

#[cfg(test)]
mod tests {
    use aya::{EbpfLoader, programs::Program};
    use aya_obj::ProgramSection;
    use mcptrace_common::{
        limits::{KINDS, SLOTS_PER_KIND},
        slot::kind,
    };

    use super::{
        super::{fentry, session::program_name},
        OBJECT,
    };
    use crate::host::{features::Support, fentry as host_fentry};

    /// Whether a program of `section` serves slots of kind `k`.
    fn serves(section: &ProgramSection, k: u32) -> bool {
        match k {
            kind::TRACEPOINT => matches!(section, ProgramSection::TracePoint),
            kind::RAW_TRACEPOINT => matches!(section, ProgramSection::RawTracePoint),
            kind::PERF_EVENT => matches!(section, ProgramSection::PerfEvent),
            kind::UPROBE => matches!(section, ProgramSection::UProbe { .. }),
            kind::URETPROBE => matches!(section, ProgramSection::URetProbe { .. }),
            kind::KPROBE => matches!(section, ProgramSection::KProbe),
            kind::KRETPROBE => matches!(section, ProgramSection::KRetProbe),
            kind::FENTRY => matches!(section, ProgramSection::FEntry { .. }),
            kind::FEXIT => matches!(section, ProgramSection::FExit { .. }),
            _ => false,
        }
    }

    /// The names user space attaches are the object's, with the program
    /// type each kind needs, and the object has no slot program beyond them.
    #[test]
    fn every_slot_user_space_attaches_is_in_the_object() {
        let object = aya_obj::Object::parse(OBJECT).expect("the object parses");
        for k in 0..KINDS {
            for n in 0..SLOTS_PER_KIND {
                let name = program_name(k, n);
                let program = object.programs.get(&name).unwrap_or_else(|| panic!("{name}"));
                assert!(serves(&program.section, k), "{name}: {:?}", program.section);
            }
        }
        assert_eq!(object.programs.len(), (KINDS * SLOTS_PER_KIND) as usize);
    }

    /// Each program kind passes this kernel's verifier, kprobes too where
    /// the kernel cannot attach them: what a host with them runs is known
    /// to load. (The Debian guests of `cargo xtask vmtest` run this on
    /// their verifiers.)
    #[test]
    fn every_slot_kind_passes_the_verifier() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "this test loads BPF programs: run it as root");
        let mut ebpf = EbpfLoader::new().btf(None).load(OBJECT).expect("the object loads");
        for k in 0..KINDS {
            for n in [0, SLOTS_PER_KIND - 1] {
                let name = program_name(k, n);
                if matches!(k, kind::FENTRY | kind::FEXIT) {
                    // Loaded for a function, by its BTF id: where the kernel
                    // runs tracing programs it must load; where it refuses
                    // them (found at start-up), it must refuse this too.
                    let attached = fentry::attach(&mut ebpf, &name, "vfs_read");
                    match host_fentry::support() {
                        Support::Yes => drop(attached.unwrap_or_else(|e| panic!("{name}: {e}"))),
                        Support::No(why) => assert!(attached.is_err(), "{name} loaded: {why}"),
                    }
                    continue;
                }
                let program = ebpf.program_mut(&name).unwrap_or_else(|| panic!("{name}"));
                let loaded = match program {
                    Program::TracePoint(p) => p.load(),
                    Program::RawTracePoint(p) => p.load(),
                    Program::PerfEvent(p) => p.load(),
                    Program::UProbe(p) => p.load(),
                    Program::KProbe(p) => p.load(),
                    other => panic!("{name}: unexpected {:?}", other.prog_type()),
                };
                loaded.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}
