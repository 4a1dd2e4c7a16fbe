//! Every case in tests/cases runs natively and through bpftrace; the outputs
//! must agree with each other and with the truth each case states.

use std::{path::PathBuf, sync::Mutex, thread, time::Instant};

use mcptrace_tests::{
    differential::{Case, check},
    require_root,
};

/// Cases run a few at a time: each starts two tracers per mode.
const WORKERS: usize = 3;

#[test]
fn native_and_bpftrace_agree_on_every_case() {
    require_root();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    // MCPTRACE_CASE: comma-separated parts of the case names to run.
    let filter = std::env::var("MCPTRACE_CASE").unwrap_or_default();
    files.retain(|f| {
        let name = f.file_stem().unwrap().to_string_lossy();
        filter.split(',').any(|part| name.contains(part))
    });
    assert!(!files.is_empty(), "no cases in {}", dir.display());

    let queue = Mutex::new(files.clone());
    let failures = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                while let Some(file) = queue.lock().unwrap().pop() {
                    let case = Case::load(&file);
                    let name = file.file_stem().unwrap().to_string_lossy().into_owned();
                    let missing = case.missing();
                    if !missing.is_empty() {
                        eprintln!("{name}: skipped, this kernel lacks {}", missing.join(", "));
                        continue;
                    }
                    let started = Instant::now();
                    let found = check(&case);
                    // Progress, for logs of long runs (emulated guests).
                    eprintln!(
                        "{name}: {} in {:.1} s",
                        if found.is_empty() { "ok" } else { "FAILED" },
                        started.elapsed().as_secs_f64()
                    );
                    for f in found {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{name} ({}): {f}", case.description));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures in {} cases:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
