use crate::host::tracefs::TracefsError;

#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error(
        "loading the eBPF object failed: {0}; loading BPF programs needs root or \
         CAP_BPF and CAP_PERFMON"
    )]
    Load(#[source] aya::EbpfError),
    #[error("eBPF program {program} is missing from the embedded object")]
    MissingProgram { program: String },
    #[error("eBPF map {0} is missing from the embedded object")]
    MissingMap(&'static str),
    #[error("no free {kind} slot (the native backend has {max} per probe kind)")]
    NoSlot { kind: &'static str, max: u32 },
    #[error(transparent)]
    Program(aya::programs::ProgramError),
    /// Attaching one probe of the program failed.
    #[error("{probe}: {source}")]
    Attach {
        probe: String,
        #[source]
        source: Box<NativeError>,
    },
    #[error("{what}: {source}")]
    Map {
        what: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error("counting CPUs: {0}")]
    Cpus(#[source] std::io::Error),
    #[error("waiting for events: {0}")]
    Poll(#[source] std::io::Error),
    #[error("opening perf buffers: {0}")]
    PerfBuffer(#[source] aya::maps::perf::PerfBufferError),
}
