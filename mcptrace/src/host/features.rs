//! What this kernel can attach, detected once per process. Probe kinds the
//! host lacks must fail fast with the reason, never at attach time.

use std::{path::Path, sync::OnceLock};

use super::tracefs;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Why not, in words a user can act on.
    No(String),
}

impl Support {
    pub fn is_yes(&self) -> bool {
        matches!(self, Support::Yes)
    }
}

#[derive(Clone, Debug)]
pub struct Features {
    pub kprobe: Support,
    pub uprobe: Support,
    pub btf: Support,
}

pub fn get() -> &'static Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    FEATURES.get_or_init(detect)
}

fn detect() -> Features {
    let tracefs_has = |file: &str| tracefs::root().is_ok_and(|r| r.join(file).exists());
    let pmu = |name: &str| Path::new("/sys/bus/event_source/devices").join(name).exists();
    Features {
        kprobe: if pmu("kprobe") || tracefs_has("kprobe_events") {
            Support::Yes
        } else {
            Support::No(
                "this kernel has no kprobe support (CONFIG_KPROBE_EVENTS is not set: \
                 no kprobe PMU and no kprobe_events in tracefs)"
                    .into(),
            )
        },
        uprobe: if pmu("uprobe") || tracefs_has("uprobe_events") {
            Support::Yes
        } else {
            Support::No(
                "this kernel has no uprobe support (CONFIG_UPROBE_EVENTS is not set)".into(),
            )
        },
        btf: if Path::new("/sys/kernel/btf/vmlinux").exists() {
            Support::Yes
        } else {
            Support::No("the kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing)".into())
        },
    }
}
