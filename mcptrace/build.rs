//! Builds `mcptrace-ebpf` for `bpfel-unknown-none` and leaves the object in
//! OUT_DIR, so every build of mcptrace embeds the current eBPF programs.
//!
//! The stable toolchain builds `core` for the BPF target with
//! `-Z build-std=core`, allowed by RUSTC_BOOTSTRAP=1 for this one nested build.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

const TARGET: &str = "bpfel-unknown-none";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let ebpf_dir = root.join("mcptrace-ebpf");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    for watched in [
        "mcptrace-ebpf/src",
        "mcptrace-ebpf/Cargo.toml",
        "mcptrace-ebpf/.cargo",
        "mcptrace-common/src",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // A separate target dir: the outer cargo holds the lock on its own.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("bpf");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ebpf_dir)
        .args(["build", "--release", "--target", TARGET, "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    add_cargo_bin_to_path(&mut cmd);

    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run cargo for mcptrace-ebpf: {e}");
    });
    if !status.success() {
        panic!(
            "building mcptrace-ebpf failed ({status}); it needs the rust-src component \
             and bpf-linker built against rustc's LLVM: run `cargo xtask setup`"
        );
    }

    let object = target_dir.join(TARGET).join("release").join("mcptrace");
    copy(&object, &out_dir.join("mcptrace.bpf.o"));
}

/// bpf-linker is installed by `cargo install`; make sure its directory is on
/// PATH even when the shell that started cargo does not have it.
fn add_cargo_bin_to_path(cmd: &mut Command) {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        let mut paths = vec![home.join("bin")];
        paths.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
        cmd.env("PATH", env::join_paths(paths).unwrap());
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
}
