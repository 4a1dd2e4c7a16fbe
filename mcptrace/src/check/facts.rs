//! What the checker needs to know about the machine, behind a trait so tests
//! of grammar-level rules do not depend on the machine they run on. The live
//! implementation reads tracefs, kallsyms and ELF files once and caches them.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use crate::{
    host::{
        btf::{self, BtfError},
        elf::{self, ElfError, UsdtNote},
        features::{self, Support},
        traceable::KernelFunctions,
        tracefs::{self, Format, TracefsError},
    },
    lang::{ast::ProbeKind, c_layout::Shape},
};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error(transparent)]
    Elf(#[from] ElfError),
    #[error("reading /proc/kallsyms: {0}")]
    Kallsyms(io::Error),
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("{0} is larger than {MAX_BINARY_BYTES} bytes; not reading its symbols")]
    TooLarge(PathBuf),
    #[error("reading the tracepoint list {path}: {source}")]
    Events { path: PathBuf, source: io::Error },
}

/// The facts about the machine that checking a program depends on.
pub trait Host: Sync {
    /// Whether probes of this kind can attach here, and if not, why.
    fn support(&self, kind: ProbeKind) -> Support;
    /// Whether this kernel can run the native engine at all.
    fn native_engine(&self) -> Support;
    /// Every tracepoint, as `category:name`, sorted.
    fn tracepoints(&self) -> Result<Arc<[String]>, HostError>;
    fn tracepoint_format(&self, category: &str, name: &str) -> Result<Arc<Format>, HostError>;
    /// The kernel's functions and which of them probes can attach to.
    fn kernel_functions(&self) -> Result<Arc<KernelFunctions>, HostError>;
    /// The resolved path of a uprobe target and its function names, sorted.
    fn user_functions(&self, binary: &str) -> Result<UserFunctions, HostError>;
    /// The resolved path of a usdt target and its USDT probes' locations.
    fn usdt_notes(&self, binary: &str) -> Result<UsdtNotes, HostError>;
    /// A kernel function's prototype from the kernel's BTF, for fentry.
    fn kernel_prototype(&self, function: &str) -> Result<Arc<btf::Function>, BtfError>;
    /// The value of enumerator `name` in the kernel's BTF.
    fn kernel_enumerator(&self, name: &str) -> Result<Option<i128>, BtfError>;
    /// The type the kernel's BTF calls `name` (`struct task_struct`, `u64`).
    fn kernel_type(&self, name: &str) -> Result<Option<Shape>, BtfError>;
    /// Where `#include <…>` looks for headers.
    fn include_dirs(&self) -> Vec<PathBuf>;
}

/// A uprobe target's resolved path and its function names.
pub type UserFunctions = (PathBuf, Arc<[String]>);

/// A usdt target's resolved path and its notes.
pub type UsdtNotes = (PathBuf, Arc<[UsdtNote]>);

/// The running machine. Reads are cached for the life of the process: the
/// set of tracepoints and symbols does not change while a server runs in a
/// way that matters for checking.
#[derive(Default)]
pub struct SystemHost {
    tracepoints: OnceLock<Arc<[String]>>,
    kernel_functions: OnceLock<Arc<KernelFunctions>>,
    formats: Mutex<HashMap<String, Arc<Format>>>,
    binaries: Mutex<HashMap<String, UserFunctions>>,
    usdt: Mutex<HashMap<String, UsdtNotes>>,
}

impl SystemHost {
    /// The process-wide instance, so every caller shares one cache.
    pub fn shared() -> &'static SystemHost {
        static HOST: OnceLock<SystemHost> = OnceLock::new();
        HOST.get_or_init(SystemHost::default)
    }
}

/// Looks `key` up in `cache`, computing and storing it on a miss. Errors are
/// not cached: the next call tries again.
fn cached<V: Clone>(
    cache: &Mutex<HashMap<String, V>>,
    key: &str,
    load: impl FnOnce() -> Result<V, HostError>,
) -> Result<V, HostError> {
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Ok(v.clone());
    }
    let v = load()?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), v.clone());
    Ok(v)
}

fn once<V: Clone>(
    cell: &OnceLock<V>,
    load: impl FnOnce() -> Result<V, HostError>,
) -> Result<V, HostError> {
    if let Some(v) = cell.get() {
        return Ok(v.clone());
    }
    let v = load()?;
    Ok(cell.get_or_init(|| v).clone())
}

/// Uprobe targets are read whole to list their symbols; this bounds the read.
const MAX_BINARY_BYTES: u64 = 1 << 30;

/// Library directories searched for `uprobe:libc:...`-style short names.
const LIBRARY_DIRS: [&str; 5] =
    ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib", "/lib"];

/// A uprobe target: a path, a program on PATH, or a library short name (`libc`).
fn resolve_target(name: &str) -> Result<PathBuf, HostError> {
    match elf::resolve_binary(name) {
        Ok(path) => Ok(path),
        Err(ElfError::NotFound(_)) => {
            let stem =
                if name.starts_with("lib") { name.to_string() } else { format!("lib{name}") };
            LIBRARY_DIRS
                .iter()
                .filter_map(|dir| std::fs::read_dir(dir).ok())
                .flat_map(|entries| entries.flatten())
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        // Versioned names (`libc.so.6`) are the shared objects;
                        // a bare `libc.so` is often a linker script.
                        .is_some_and(|n| n.starts_with(&format!("{stem}.so.")))
                })
                .min()
                .ok_or_else(|| ElfError::NotFound(name.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A user probe target's path, once it is known to be a file small enough
/// to read whole: device files and pseudo files would never end or be huge.
fn readable_target(binary: &str) -> Result<PathBuf, HostError> {
    let path = resolve_target(binary)?;
    match std::fs::metadata(&path) {
        Ok(meta) if !meta.is_file() => Err(HostError::NotAFile(path)),
        Ok(meta) if meta.len() > MAX_BINARY_BYTES => Err(HostError::TooLarge(path)),
        _ => Ok(path),
    }
}

impl Host for SystemHost {
    fn support(&self, kind: ProbeKind) -> Support {
        let f = features::get();
        match kind {
            ProbeKind::Kprobe | ProbeKind::Kretprobe => f.kprobe.clone(),
            ProbeKind::Uprobe | ProbeKind::Uretprobe | ProbeKind::Usdt => f.uprobe.clone(),
            ProbeKind::Kfunc | ProbeKind::Kretfunc => match &f.btf {
                Support::No(why) => Support::No(why.clone()),
                Support::Yes => crate::host::fentry::support(),
            },
            ProbeKind::Hardware => {
                if Path::new("/sys/bus/event_source/devices/cpu/events").is_dir() {
                    Support::Yes
                } else {
                    Support::No("this machine exposes no hardware performance counters".into())
                }
            }
            _ => Support::Yes,
        }
    }

    fn native_engine(&self) -> Support {
        crate::host::native_support::support()
    }

    fn tracepoints(&self) -> Result<Arc<[String]>, HostError> {
        once(&self.tracepoints, || {
            let path = tracefs::root()?.join("available_events");
            let text = std::fs::read_to_string(&path)
                .map_err(|source| HostError::Events { path, source })?;
            let mut names: Vec<String> = text.lines().map(str::to_string).collect();
            names.sort();
            Ok(names.into())
        })
    }

    fn tracepoint_format(&self, category: &str, name: &str) -> Result<Arc<Format>, HostError> {
        cached(&self.formats, &format!("{category}:{name}"), || {
            Ok(Arc::new(tracefs::format(category, name)?))
        })
    }

    fn kernel_functions(&self) -> Result<Arc<KernelFunctions>, HostError> {
        once(&self.kernel_functions, || {
            Ok(Arc::new(KernelFunctions::load().map_err(HostError::Kallsyms)?))
        })
    }

    fn user_functions(&self, binary: &str) -> Result<UserFunctions, HostError> {
        cached(&self.binaries, binary, || {
            let path = readable_target(binary)?;
            let names: Vec<String> = elf::functions(&path)?.into_iter().map(|f| f.name).collect();
            Ok((path, names.into()))
        })
    }

    fn usdt_notes(&self, binary: &str) -> Result<UsdtNotes, HostError> {
        cached(&self.usdt, binary, || {
            let path = readable_target(binary)?;
            let notes = elf::usdt_notes(&path)?;
            Ok((path, notes.into()))
        })
    }

    fn kernel_prototype(&self, function: &str) -> Result<Arc<btf::Function>, BtfError> {
        btf::function(function).map(Arc::new)
    }

    fn kernel_enumerator(&self, name: &str) -> Result<Option<i128>, BtfError> {
        btf::enumerator(name)
    }

    fn kernel_type(&self, name: &str) -> Result<Option<Shape>, BtfError> {
        btf::shape(name)
    }

    fn include_dirs(&self) -> Vec<PathBuf> {
        crate::host::headers::system_dirs()
    }
}
