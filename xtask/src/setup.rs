//! `cargo xtask setup`: everything a fresh machine of the project's kind lacks.
//! Each step checks first and stays silent when there is nothing to do.

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    kernels,
    shell::{output, status},
};

/// bpf-linker is pinned: its LLVM feature must match rustc's LLVM major.
const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn run() -> Result<(), String> {
    rust_src()?;
    bpf_linker()?;
    debian_packages()?;
    tracefs()?;
    Ok(())
}

/// What `cargo xtask vmtest` needs on top of [`run`]: the programs that boot
/// a guest and the kernels to boot.
pub struct VmTools {
    /// virtme-ng's `vng`, from its own venv.
    pub vng: PathBuf,
    /// The release (`uname -r`) of each kernel asked for, in order.
    pub releases: Vec<String>,
}

/// virtme-ng is pinned to the release verified with this machine's qemu and
/// Debian's kernels; its wheel carries a prebuilt guest init.
const VIRTME_NG_VERSION: &str = "1.42";

pub fn vm_extras(series: &[&'static kernels::Series]) -> Result<VmTools, String> {
    // qemu boots the guests; virtme-ng puts busybox (static: it runs before
    // any library is mounted) into each guest's initramfs; python3-venv
    // holds virtme-ng.
    apt_install(
        &["qemu-system-x86", "busybox-static", "python3-venv"]
            .into_iter()
            .filter(|p| !dpkg_installed(p))
            .collect::<Vec<_>>(),
    )?;
    let vng = virtme_ng()?;
    let releases = kernels::install_newest(series, &cache_dir())?;
    Ok(VmTools { vng, releases })
}

pub fn dpkg_installed(package: &str) -> bool {
    output("dpkg-query", &["-W", "-f=${Status}", package])
        .is_some_and(|s| s.trim() == "install ok installed")
}

/// virtme-ng in a venv of Debian's python under the cache dir, not in
/// whichever python is first on PATH.
fn virtme_ng() -> Result<PathBuf, String> {
    let venv = cache_dir().join("vng-venv");
    let vng = venv.join("bin/vng");
    let want = format!("virtme-ng {VIRTME_NG_VERSION}");
    if output(vng.to_str().unwrap_or_default(), &["--version"]).is_some_and(|v| v.trim() == want) {
        return Ok(vng);
    }
    step(&format!("installing {want} into {}", venv.display()));
    let hint = format!(
        "by hand: python3 -m venv {0} && {0}/bin/pip install virtme-ng=={VIRTME_NG_VERSION}",
        venv.display()
    );
    let python =
        if Path::new("/usr/bin/python3").is_file() { "/usr/bin/python3" } else { "python3" };
    status(Command::new(python).args(["-m", "venv", "--clear"]).arg(&venv))
        .and_then(|()| {
            status(
                Command::new(venv.join("bin/pip"))
                    .args(["install", "-q", "--disable-pip-version-check"])
                    .arg(format!("virtme-ng=={VIRTME_NG_VERSION}")),
            )
        })
        .map_err(|e| format!("{e}\n{hint}"))?;
    Ok(vng)
}

fn step(what: &str) {
    eprintln!("setup: {what}");
}

fn sysroot() -> Result<PathBuf, String> {
    output("rustc", &["--print", "sysroot"])
        .map(|s| PathBuf::from(s.trim()))
        .ok_or_else(|| "cannot run `rustc --print sysroot`: is Rust installed?".into())
}

fn rust_src() -> Result<(), String> {
    if sysroot()?.join("lib/rustlib/src/rust/library/core").is_dir() {
        return Ok(());
    }
    step("adding the rust-src component (the eBPF crate builds `core` from source)");
    status(Command::new("rustup").args(["component", "add", "rust-src"]))
        .map_err(|e| format!("{e}\nrun `rustup component add rust-src` by hand"))
}

/// bpf-linker linked against rustc's own libLLVM, so the two agree on the
/// bitcode format. A stamp records which rustc it was built for.
fn bpf_linker() -> Result<(), String> {
    let verbose = output("rustc", &["-vV"]).ok_or("cannot run `rustc -vV`")?;
    let llvm = verbose
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .ok_or("`rustc -vV` names no LLVM version")?
        .trim()
        .to_string();
    let major = llvm.split('.').next().unwrap_or_default().to_string();
    let stamp_text = format!("bpf-linker {BPF_LINKER_VERSION} for {}", verbose.trim());
    let cache = cache_dir();
    let stamp = cache.join("bpf-linker.stamp");
    let linker = cargo_bin().join("bpf-linker");
    let works = Command::new(&linker).arg("--version").output().is_ok_and(|o| o.status.success());
    if works && fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_text) {
        return Ok(());
    }

    step(&format!("building bpf-linker {BPF_LINKER_VERSION} against rustc's LLVM {llvm}"));
    let lib_dir = sysroot()?.join("lib");
    let libllvm = fs::read_dir(&lib_dir)
        .map_err(|e| format!("reading {}: {e}", lib_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libLLVM.so.") && !p.is_symlink())
        })
        .ok_or_else(|| format!("no libLLVM.so.* in {}", lib_dir.display()))?;
    // A prefix whose lib/ has libLLVM.so and the real soname, for llvm-sys.
    let prefix = cache.join(format!("llvm-{llvm}"));
    let prefix_lib = prefix.join("lib");
    fs::create_dir_all(&prefix_lib).map_err(|e| format!("{}: {e}", prefix_lib.display()))?;
    for name in [PathBuf::from("libLLVM.so"), PathBuf::from(libllvm.file_name().unwrap())] {
        let link = prefix_lib.join(name);
        let _ = fs::remove_file(&link);
        symlink(&libllvm, &link).map_err(|e| format!("{}: {e}", link.display()))?;
    }
    status(
        Command::new("cargo")
            .args(["install", "--locked", "--force", "bpf-linker", "--version", BPF_LINKER_VERSION])
            .args(["--no-default-features", "--features", &format!("llvm-{major}")])
            .env("LLVM_PREFIX", &prefix),
    )
    .map_err(|e| {
        format!(
            "{e}\nby hand: LLVM_PREFIX={} cargo install bpf-linker --no-default-features \
             --features llvm-{major}",
            prefix.display()
        )
    })?;
    fs::write(&stamp, stamp_text).map_err(|e| format!("{}: {e}", stamp.display()))
}

fn debian_packages() -> Result<(), String> {
    // python3 (with venv) runs the MCP Python SDK test and has the USDT
    // notes probe_info is tested on; readelf counts those notes independently;
    // npm installs the MCP Inspector for its test; GNU time reports the peak
    // RSS `cargo xtask bench` shows; openssl makes the HTTPS test's
    // certificate.
    let missing: Vec<&str> = [
        ("bpftrace", "bpftrace"),
        ("bpftool", "bpftool"),
        ("python3", "python3-venv"),
        ("readelf", "binutils"),
        ("npm", "npm"),
        ("time", "time"),
        ("openssl", "openssl"),
    ]
    .into_iter()
    .filter(|(bin, _)| !on_path(bin))
    .map(|(_, pkg)| pkg)
    .collect();
    apt_install(&missing)
}

/// Installs the Debian packages `missing` (none: nothing to do).
fn apt_install(missing: &[&str]) -> Result<(), String> {
    if missing.is_empty() {
        return Ok(());
    }
    let hint = format!("install them by hand: apt-get install {}", missing.join(" "));
    step(&format!("installing Debian packages: {}", missing.join(" ")));
    status(Command::new("apt-get").args(["update", "-qq"])).map_err(|e| format!("{e}\n{hint}"))?;
    status(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .map_err(|e| format!("{e}\n{hint}"))
}

fn tracefs() -> Result<(), String> {
    let target = Path::new("/sys/kernel/tracing");
    if target.join("events").is_dir() || Path::new("/sys/kernel/debug/tracing/events").is_dir() {
        return Ok(());
    }
    step("mounting tracefs at /sys/kernel/tracing");
    status(Command::new("mount").args(["-t", "tracefs", "tracefs"]).arg(target))
        .map_err(|e| format!("{e}\nmount it as root: mount -t tracefs tracefs /sys/kernel/tracing"))
}

fn on_path(bin: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .any(|dir| dir.join(bin).is_file())
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/root".into())
}

fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"))
        .join("bin")
}

pub fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache"))
        .join("mcptrace");
    let _ = fs::create_dir_all(&dir);
    dir
}
