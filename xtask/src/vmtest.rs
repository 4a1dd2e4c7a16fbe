//! `cargo xtask vmtest`: the kernel-dependent tests inside guests that run
//! Debian 12's stock kernels (6.1 and 6.12), one guest per kernel, reported
//! per kernel, per test executable and per failed test.
//!
//! Why it is built this way:
//! - virtme-ng boots each kernel with this machine's root file system shared
//!   read-only (9p), so the test executables built here run unchanged in the
//!   guest, with bpftrace and the workload beside them. One folder per kernel,
//!   target/vmtest/<kernel>/, is shared writable: the guest script, the logs
//!   and the results live there.
//! - On the project's machines `/dev/kvm` exists but a KVM guest hangs after
//!   "Probing EDD" (or qemu aborts on an MSR). KVM is used only when a short
//!   probe boot succeeds (once per run); otherwise qemu emulates (TCG), which
//!   is ~5–10× slower than the host: hence only the tests whose outcome
//!   depends on the kernel run in guests (GUEST_TESTS), one at a time.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{
    bench::{
        self,
        json::{self, Value},
    },
    kernels::{self, Series},
    setup,
    shell::{self, root},
};

/// The test executables run in guests, by cargo target (kind, name), and why.
const GUEST_TESTS: &[(&str, &str, &str)] = &[
    ("lib", "mcptrace", "unit tests; some load the BPF object and probe the kernel's features"),
    ("test", "native_programs", "every slot program kind against the workload"),
    ("test", "native_run", "`mcptrace run` end to end on the native engine"),
    ("test", "native_maps", "the in-kernel maps"),
    ("test", "differential", "tests/cases natively and through bpftrace, against stated truths"),
    ("test", "kernel_functions", "kprobe/fentry support differs per kernel"),
    ("test", "attach_count", "wildcard expansion against the kernel's own probe lists"),
    ("test", "native_fentry", "fentry/fexit attach where the kernel runs tracing programs"),
];

/// Test executables that stay on the host (`cargo xtask test`), and why; a
/// trailing `*` matches a prefix.
const HOST_ONLY: &[(&str, &str)] = &[
    ("corpus", "front end vs `bpftrace -d` per program: LLVM start-up, minutes under TCG"),
    ("hardening", "counts the machine's BPF programs and times faults: host-wide, timing-bound"),
    ("mcp_*", "the MCP protocol; the native engine under it is covered by the guest tests"),
    ("library_programs", "the program library over MCP against this host; not yet run in guests"),
    (
        "scope",
        "makes a cgroup in the host's v2 hierarchy (guests may mount none); a scope is an \
         ordinary in-kernel predicate, which the guests' cases run",
    ),
    ("inspector_cli", "needs npm and the network"),
    ("python_sdk", "needs pip and the network"),
    ("cli_plan", "planning only, loads nothing"),
    ("native_refused", "the refusal is forced (MCPTRACE_TEST_EMPTY_MAP), the same on every kernel"),
    ("mcptrace", "the binary's own unit tests load nothing"),
    ("mcptrace_common", "no kernel"),
    ("mcptrace_tests", "helpers, no tests"),
    ("mcpt-workload", "no kernel"),
    ("xtask", "no kernel"),
];

/// Set in guests: tests leave bpftrace out (see `guest_script`).
const NATIVE_ONLY: &str = "MCPTRACE_NATIVE_ONLY";

/// Guest size: the CI machines have 2 cores.
const CPUS: &str = "2";
const MEMORY: &str = "2G";
/// One test executable in a guest is stopped after this long: the whole
/// differential test, every case natively, took over 20 min under TCG on
/// a busy 2-core host.
const BINARY_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// A whole guest is killed after this long (a hung boot, a wedged kernel).
const GUEST_TIMEOUT: Duration = Duration::from_secs(90 * 60);
/// A KVM guest boots in a few seconds where KVM works.
const KVM_PROBE_TIMEOUT: Duration = Duration::from_secs(20);

struct Options {
    kernels: Vec<&'static Series>,
    list: bool,
    /// Run the bench in the guests instead of the tests.
    bench: bool,
    /// Passed to every test executable (libtest filters and options), or
    /// to the bench.
    filter: Vec<String>,
}

/// The bench's arguments in a guest unless given: the per-event overhead
/// cases (a probe kind each), one run, fewer calls (emulation is slow).
const GUEST_BENCH: &[&str] = &["--only", "overhead", "--runs", "1", "--calls", "1000000"];

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut opts =
        Options { kernels: kernels::parse_flag("all")?, list: false, bench: false, filter: vec![] };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kernel" => {
                opts.kernels = kernels::parse_flag(args.next().ok_or("--kernel needs a value")?)?
            }
            "--list" => opts.list = true,
            "--bench" => opts.bench = true,
            "--" => opts.filter = args.by_ref().cloned().collect(),
            other => return Err(format!("vmtest: unknown argument `{other}`")),
        }
    }
    Ok(opts)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse_options(args)?;
    if opts.list {
        print_table();
        return Ok(());
    }
    setup::run()?;
    let tools = setup::vm_extras(&opts.kernels)?;
    let (selected, filter) = if opts.bench {
        bench::build()?;
        let filter = match opts.filter.is_empty() {
            true => GUEST_BENCH.iter().map(|a| a.to_string()).collect(),
            false => opts.filter.clone(),
        };
        (vec![bench_job()?], filter)
    } else {
        let selected = select(build()?, &opts.filter)?;
        if selected.is_empty() {
            return Err(format!("no test in the guest executables matches {:?}", opts.filter));
        }
        (snapshot(selected)?, opts.filter.clone())
    };
    let kvm = kvm_works(&tools.vng, &tools.releases[0]);
    let mut verdicts = Vec::new();
    for (series, release) in opts.kernels.iter().zip(&tools.releases) {
        let guest = Guest { vng: &tools.vng, name: series.name, release, kvm };
        let mut report = guest.run(&selected, &filter);
        // Under emulation the guest kernel now and then dies patching its
        // own code (an int3 Oops where a tracepoint's jump is rewritten
        // while another vCPU runs it): that is the emulator's, not the
        // tests'. The executables it took down run once more in a fresh
        // boot, and the report says so.
        if let Some(crash) = guest.kernel_crash() {
            let rest: Vec<TestExe> =
                selected.iter().filter(|e| !report.ran.contains(&e.name)).cloned().collect();
            if !rest.is_empty() {
                let name = format!("{}-again", series.name);
                let again = Guest { name: &name, ..guest };
                let second = again.run(&rest, &filter);
                report = Report {
                    ok: report.ran_ok && second.ok,
                    ran_ok: report.ran_ok && second.ran_ok,
                    ran: report.ran.into_iter().chain(second.ran).collect(),
                    text: format!(
                        "{}\n   the guest kernel crashed ({crash}); once more for what did not \
                         run:\n{}",
                        report.text, second.text
                    ),
                };
            }
        }
        println!("{}", report.text);
        let _ = fs::write(guest.dir().join("summary.txt"), &report.text);
        verdicts.push(format!("{} {}", series.name, if report.ok { "passed" } else { "FAILED" }));
    }
    let dir = root().join("target/vmtest");
    println!("vmtest: {} (logs in {}/<kernel>/)", verdicts.join(", "), dir.display());
    if verdicts.iter().all(|v| v.ends_with("passed")) {
        Ok(())
    } else {
        Err("some kernel failed; see above".into())
    }
}

fn print_table() {
    println!("in guests (cargo xtask vmtest):");
    for (kind, name, why) in GUEST_TESTS {
        println!("  {name:<18} {kind:<5} {why}");
    }
    println!("on the host only (cargo xtask test):");
    for (name, why) in HOST_ONLY {
        println!("  {name:<18}       {why}");
    }
}

/// A test executable cargo built.
#[derive(Clone, Debug, PartialEq)]
struct TestExe {
    kind: String,
    name: String,
    path: PathBuf,
    /// Its package's folder, where `cargo test` would run it.
    dir: PathBuf,
}

/// Builds the binaries the tests run and the test executables, and returns
/// the executables.
fn build() -> Result<Vec<TestExe>, String> {
    // The integration tests find `mcptrace` and `mcpt-workload` beside their
    // deps folder (tests/src/lib.rs, target_bin).
    shell::cargo(&["build", "-p", "mcptrace", "--bins"])?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["test", "--workspace", "--no-run", "--message-format=json"])
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building the tests failed: {}", out.status));
    }
    test_executables(&String::from_utf8_lossy(&out.stdout))
}

/// The test executables in cargo's `--message-format=json` output.
fn test_executables(messages: &str) -> Result<Vec<TestExe>, String> {
    let mut exes = Vec::new();
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let m = json::parse(line)?;
        let (Some(path), Some(manifest)) =
            (m.get("executable").as_str(), m.get("manifest_path").as_str())
        else {
            continue;
        };
        if m.get("reason").as_str() != Some("compiler-artifact")
            || m.get("profile").get("test") != &Value::Bool(true)
        {
            continue;
        }
        let target = m.get("target");
        exes.push(TestExe {
            kind: target
                .get("kind")
                .as_array()
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            name: target.get("name").as_str().unwrap_or("").into(),
            path: path.into(),
            dir: Path::new(manifest).parent().unwrap_or(Path::new("/")).into(),
        });
    }
    Ok(exes)
}

/// The guest executables from GUEST_TESTS that have a test matching `filter`
/// (asked of each executable's `--list` on the host: it loads nothing).
fn select(exes: Vec<TestExe>, filter: &[String]) -> Result<Vec<TestExe>, String> {
    for exe in &exes {
        let guest = GUEST_TESTS.iter().any(|(k, n, _)| *k == exe.kind && *n == exe.name);
        let host = HOST_ONLY.iter().any(|(n, _)| match n.strip_suffix('*') {
            Some(prefix) => exe.name.starts_with(prefix),
            None => *n == exe.name,
        });
        if !guest && !host {
            eprintln!(
                "vmtest: note: test target `{}` is in neither table of xtask/src/vmtest.rs",
                exe.name
            );
        }
    }
    let mut selected = Vec::new();
    for (kind, name, _) in GUEST_TESTS {
        let Some(exe) = exes.iter().find(|e| e.kind == *kind && e.name == *name) else {
            eprintln!(
                "vmtest: note: cargo built no test executable for {kind} `{name}` \
                 (GUEST_TESTS in xtask/src/vmtest.rs)"
            );
            continue;
        };
        let list = Command::new(&exe.path)
            .arg("--list")
            .args(filter)
            .output()
            .map_err(|e| format!("{}: {e}", exe.path.display()))?;
        let count =
            String::from_utf8_lossy(&list.stdout).lines().filter(|l| l.ends_with(": test")).count();
        if count > 0 {
            selected.push(exe.clone());
        }
    }
    Ok(selected)
}

/// Copies the executables to target/vmtest/bin/deps/, with the binaries the
/// integration tests run beside them (tests/src/lib.rs, target_bin), so that
/// builds made while the guests run do not change what they test.
fn snapshot(exes: Vec<TestExe>) -> Result<Vec<TestExe>, String> {
    let dir = root().join("target/vmtest/bin");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("deps")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = |from: &Path, to: PathBuf| {
        fs::copy(from, &to).map(|_| to).map_err(|e| format!("copying {}: {e}", from.display()))
    };
    if let Some(profile) = exes[0].path.parent().and_then(Path::parent) {
        for bin in ["mcptrace", "mcpt-workload"] {
            copy(&profile.join(bin), dir.join(bin))?;
        }
    }
    exes.into_iter()
        .map(|exe| {
            let path = copy(&exe.path, dir.join("deps").join(exe.path.file_name().unwrap()))?;
            Ok(TestExe { path, ..exe })
        })
        .collect()
}

/// The bench as a guest job: this xtask, run from the workspace root with
/// the release binaries built here.
fn bench_job() -> Result<TestExe, String> {
    let path = std::env::current_exe().map_err(|e| format!("finding xtask itself: {e}"))?;
    Ok(TestExe { kind: BENCH.into(), name: BENCH.into(), path, dir: root() })
}

const BENCH: &str = "bench";

/// `vng` with the options every guest here gets.
fn vng(vng: &Path, release: &str, kvm: bool) -> Command {
    let mut cmd = Command::new(vng);
    // vng runs `virtme-run` through the shell: the venv's, not another one.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let venv_bin = vng.parent().unwrap_or(Path::new("/")).to_path_buf();
    let paths = std::iter::once(venv_bin).chain(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(paths).unwrap_or(path));
    cmd.arg("--run").arg(format!("/boot/vmlinuz-{release}"));
    // --verbose: the kernel's console goes to console.log (panics, OOM).
    cmd.args(["--user", "root", "--cpus", CPUS, "--memory", MEMORY, "--force-9p", "--verbose"]);
    if !kvm {
        // One host thread runs every vCPU: with a thread each (MTTCG), a
        // guest CPU sometimes ran a breakpoint the kernel had already
        // patched out of a tracepoint's jump, and 6.12 died of it
        // (`Oops: int3` in `__schedule`; twice in one CI run).
        cmd.args(["--disable-kvm", "--qemu-opts=-accel tcg,thread=single"]);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Whether a KVM guest boots here: a trivial command under a short timeout.
fn kvm_works(vng_path: &Path, release: &str) -> bool {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("vmtest: no /dev/kvm: qemu emulates (TCG)");
        return false;
    }
    let log = root().join("target/vmtest/kvm-probe.log");
    let _ = fs::create_dir_all(log.parent().unwrap());
    let started = fs::File::create(&log).and_then(|f| {
        let err = f.try_clone()?;
        vng(vng_path, release, true)
            .args(["--exec", "echo kvm-boots"])
            .stdout(f)
            .stderr(err)
            .spawn()
    });
    let works = match started {
        Ok(child) => {
            matches!(wait_for(child, KVM_PROBE_TIMEOUT, || false), Ok((Some(_), _)))
                && fs::read_to_string(&log).is_ok_and(|s| s.contains("kvm-boots"))
        }
        Err(_) => false,
    };
    if !works {
        eprintln!(
            "vmtest: a KVM guest did not boot ({} s at most, see {}): qemu emulates (TCG)",
            KVM_PROBE_TIMEOUT.as_secs(),
            log.display()
        );
    }
    works
}

/// Waits for `child` at most `timeout`, calling `tick` meanwhile, and kills
/// it with its descendants (qemu is vng's child) when the time is up.
/// Returns its exit status (None when killed) and when `tick` first said true.
fn wait_for(
    mut child: Child,
    timeout: Duration,
    mut tick: impl FnMut() -> bool,
) -> Result<(Option<std::process::ExitStatus>, Option<Duration>), String> {
    let start = Instant::now();
    let mut marked = None;
    loop {
        if marked.is_none() && tick() {
            marked = Some(start.elapsed());
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok((Some(status), marked));
        }
        if start.elapsed() > timeout {
            kill_tree(child.id());
            let _ = child.wait();
            return Ok((None, marked));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Kills `pid` and its descendants, children first, by their ids.
fn kill_tree(pid: u32) {
    let children =
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        kill_tree(child);
    }
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

struct Guest<'a> {
    vng: &'a Path,
    name: &'a str,
    release: &'a str,
    kvm: bool,
}

struct Report {
    ok: bool,
    /// Every executable that ran passed.
    ran_ok: bool,
    /// The executables that ran to an exit status.
    ran: Vec<String>,
    text: String,
}

impl Report {
    fn failed(text: String) -> Report {
        Report { ok: false, ran_ok: false, ran: Vec::new(), text }
    }
}

impl Guest<'_> {
    fn dir(&self) -> PathBuf {
        root().join("target/vmtest").join(self.name)
    }

    /// Boots the guest, runs `exes` in it and reports; never an error, so
    /// the next kernel still runs.
    fn run(&self, exes: &[TestExe], filter: &[String]) -> Report {
        let dir = self.dir();
        let _ = fs::remove_dir_all(&dir);
        let script = dir.join("guest.sh");
        let written = fs::create_dir_all(&dir)
            .and_then(|()| fs::write(&script, guest_script(&dir, exes, filter)));
        let console = dir.join("console.log");
        let spawned = written.and_then(|()| {
            let f = fs::File::create(&console)?;
            let err = f.try_clone()?;
            vng(self.vng, self.release, self.kvm)
                .arg(format!("--rwdir={}", dir.display()))
                .arg("--exec")
                .arg(format!("sh {}", script.display()))
                .stdout(f)
                .stderr(err)
                .spawn()
        });
        let mode = if self.kvm { "KVM" } else { "TCG" };
        let head = format!("== {} ({}, {mode})", self.name, self.release);
        let child = match spawned {
            Ok(child) => child,
            Err(e) => return Report::failed(format!("{head}: cannot start vng: {e}")),
        };
        let start = Instant::now();
        let waited = wait_for(child, GUEST_TIMEOUT, || dir.join("started").exists());
        let total = start.elapsed();
        let (status, booted) = match waited {
            Ok(w) => w,
            Err(e) => return Report::failed(format!("{head}: {e}")),
        };
        let Some(boot) = booted else {
            let why = match status {
                None => format!("did not boot within {} s", GUEST_TIMEOUT.as_secs()),
                Some(s) => format!("vng exited ({s}) before the guest script started"),
            };
            return Report::failed(format!("{head}: {why}; see {}", console.display()));
        };
        let mut text = format!(
            "{head}: boot {:.1} s, suite {:.1} s\n",
            boot.as_secs_f64(),
            (total - boot).as_secs_f64()
        );
        let mut ok = true;
        match status {
            None => text += &format!("   killed after {} s\n", GUEST_TIMEOUT.as_secs()),
            Some(s) if !s.success() => text += &format!("   the guest ended with vng {s}\n"),
            Some(_) => {}
        }
        if !status.is_some_and(|s| s.success()) {
            ok = false;
            text += &format!("   console: {}\n", console.display());
        }
        let results = fs::read_to_string(dir.join("results")).unwrap_or_default();
        let (mut ran, mut ran_ok) = (Vec::new(), true);
        for exe in exes {
            let Some((rc, ms)) = results.lines().find_map(|l| parse_result(l, &exe.name)) else {
                ok = false;
                text += &format!("   {:<17} did not run\n", exe.name);
                continue;
            };
            let log = fs::read_to_string(dir.join(format!("{}.log", exe.name))).unwrap_or_default();
            ok &= rc == 0;
            ran_ok &= rc == 0;
            ran.push(exe.name.clone());
            if exe.kind == BENCH {
                // Its table, and the cases this kernel had to skip.
                let status = if rc == 0 { "done".into() } else { format!("exit {rc}") };
                text += &format!("   bench {status}, {:.1} s\n", ms as f64 / 1000.0);
                for line in log.lines().filter(|l| !l.starts_with("bench: ") || rc != 0) {
                    text += &format!("   {line}\n");
                }
                continue;
            }
            let summary = summarize(&log);
            let counts = match summary.counts {
                Some((p, f, i)) => {
                    let mut c = format!("{p} passed");
                    if f > 0 {
                        c += &format!(", {f} failed");
                    }
                    if i > 0 {
                        c += &format!(", {i} ignored");
                    }
                    c
                }
                None => match (rc, &summary.running) {
                    (124 | 137, Some(t)) => format!("timed out in {t}"),
                    (_, Some(t)) => format!("exit {rc} in {t}"),
                    _ => format!("exit {rc}, no test result"),
                },
            };
            text += &format!("   {:<17} {counts:<32} {:>6.1} s\n", exe.name, ms as f64 / 1000.0);
            for (test, error) in &summary.failed {
                text += &format!("     FAILED {test}: {error}\n");
            }
        }
        text += &format!("   logs: {}/", dir.display());
        Report { ok, ran_ok, ran, text }
    }

    /// The line where the guest kernel died, if its console shows one.
    fn kernel_crash(&self) -> Option<String> {
        let console = fs::read_to_string(self.dir().join("console.log")).ok()?;
        kernel_crash_in(&console)
    }
}

/// The first line of a kernel oops or panic in a console log, without its
/// timestamp.
fn kernel_crash_in(console: &str) -> Option<String> {
    let line = console.lines().find(|l| l.contains("Oops:") || l.contains("Kernel panic"))?;
    Some(line.split_once("] ").map_or(line, |(_, rest)| rest).trim().to_string())
}

/// `NAME RC MS` from the guest's results file.
fn parse_result(line: &str, name: &str) -> Option<(i32, u64)> {
    let mut words = line.split_whitespace();
    if words.next()? != name {
        return None;
    }
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script the guest runs: each executable from its package's folder, one
/// test at a time, its output in `<dir>/<name>.log`, `NAME RC MS` appended to
/// `<dir>/results`; `<dir>/started` tells the host that the guest is up.
fn guest_script(dir: &Path, exes: &[TestExe], filter: &[String]) -> String {
    let mut s = format!(
        "#!/bin/sh\n\
         # Written by `cargo xtask vmtest`; runs as root in the guest.\n\
         out={}\n\
         echo \"$(uname -r) up $(cut -d' ' -f1 /proc/uptime) s\" > \"$out/started\"\n\
         [ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing\n\
         run() {{\n\
         \x20   name=$1 dir=$2; shift 2\n\
         \x20   start=$(date +%s%N)\n\
         \x20   (cd \"$dir\" && timeout -k 10 {} \"$@\") > \"$out/$name.log\" 2>&1\n\
         \x20   rc=$?\n\
         \x20   echo \"$name $rc $(( ($(date +%s%N) - start) / 1000000 ))\" >> \"$out/results\"\n\
         }}\n",
        sh_quote(&dir.display().to_string()),
        BINARY_TIMEOUT.as_secs()
    );
    // The guest starts with a clean environment: pass on the tests' own
    // knobs (e.g. MCPTRACE_CASE, which cases the differential test runs).
    // bpftrace takes about a minute to start under emulation: unless told
    // otherwise, the tests hold the native backend to their stated truths
    // and leave the comparison with bpftrace to the host.
    let mut native_only = false;
    for (key, value) in std::env::vars() {
        if key.starts_with("MCPTRACE_") || key == "RUST_BACKTRACE" {
            native_only |= key == NATIVE_ONLY;
            s += &format!("export {key}={}\n", sh_quote(&value));
        }
    }
    if !native_only {
        s += &format!("export {NATIVE_ONLY}=1\n");
    }
    for exe in exes {
        let mut line = format!(
            "run {} {} {}",
            exe.name,
            sh_quote(&exe.dir.display().to_string()),
            sh_quote(&exe.path.display().to_string())
        );
        line += match exe.kind == BENCH {
            true => " bench --no-build --out \"$out/bench\"",
            false => " --test-threads=1",
        };
        for f in filter {
            line += " ";
            line += &sh_quote(f);
        }
        s += &line;
        s.push('\n');
    }
    s
}

/// What a libtest log says.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    /// passed, failed, ignored, from the `test result:` line.
    counts: Option<(u32, u32, u32)>,
    /// Each failed test with the first line of its panic message.
    failed: Vec<(String, String)>,
    /// The test that started last without a result (when the log stops short).
    running: Option<String>,
}

fn summarize(log: &str) -> Summary {
    let mut s = Summary::default();
    let mut section: Option<String> = None;
    let mut lines = log.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |what: &str| {
                rest.split(';')
                    .find_map(|p| p.trim().trim_end_matches('.').strip_suffix(what))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    .unwrap_or(0)
            };
            s.counts = Some((count("passed"), count("failed"), count("ignored")));
        } else if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, result)) = rest.split_once(" ... ") {
                let done = ["ok", "FAILED", "ignored"].iter().any(|r| result.starts_with(r));
                s.running = (!done).then(|| name.to_string());
                if result == "FAILED" && !s.failed.iter().any(|(n, _)| n == name) {
                    s.failed.push((name.to_string(), String::new()));
                }
            }
        } else if let Some(name) =
            line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----"))
        {
            section = Some(name.to_string());
        } else if line.contains("panicked at")
            && let Some(name) = section.take()
        {
            // Since Rust 1.73 the message follows on the next line.
            let mut message = match line.rsplit_once("panicked at ") {
                Some((_, at)) if at.ends_with(':') => {
                    let text = lines.peek().copied().unwrap_or("").trim();
                    format!("{text} (at {})", at.trim_end_matches(':'))
                }
                _ => line.trim().to_string(),
            };
            if message.len() > 200 {
                let cut = (0..=200).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
                message = format!("{}…", &message[..cut]);
            }
            match s.failed.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = message,
                None => s.failed.push((name, message)),
            }
        }
    }
    if s.counts.is_some() {
        s.running = None;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse_options(&args(&["--kernel", "6.12", "--", "native_", "--exact"])).unwrap();
        assert_eq!(o.kernels, vec![&kernels::SERIES[1]]);
        assert_eq!(o.filter, ["native_", "--exact"]);
        assert_eq!(parse_options(&[]).unwrap().kernels.len(), 2);
        assert!(parse_options(&args(&["--kernel"])).is_err());
        assert!(parse_options(&args(&["--kernel", "5.10"])).is_err());
        assert!(parse_options(&args(&["native"])).is_err());
    }

    #[test]
    fn test_executables_from_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","package_id":"x","manifest_path":"/w/tests/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"native_maps","src_path":"/w/tests/tests/native_maps.rs","edition":"2024","doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":true},"features":[],"filenames":["/w/target/debug/deps/native_maps-7e01"],"executable":"/w/target/debug/deps/native_maps-7e01","fresh":true}
{"reason":"compiler-artifact","package_id":"y","manifest_path":"/w/mcptrace/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"mcptrace","src_path":"/w/mcptrace/src/main.rs","edition":"2024","doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/w/target/debug/mcptrace"],"executable":"/w/target/debug/mcptrace","fresh":true}
{"reason":"compiler-artifact","package_id":"z","manifest_path":"/w/mcptrace/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"mcptrace","src_path":"/w/mcptrace/src/lib.rs","edition":"2024","doctest":true,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/w/target/debug/deps/libmcptrace-1.rlib"],"executable":null,"fresh":true}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            test_executables(messages).unwrap(),
            [TestExe {
                kind: "test".into(),
                name: "native_maps".into(),
                path: "/w/target/debug/deps/native_maps-7e01".into(),
                dir: "/w/tests".into(),
            }]
        );
    }

    #[test]
    fn a_failing_libtest_log() {
        let log = "
running 3 tests
test a_passes ... ok
test b_fails ... FAILED
test c_skipped ... ignored

failures:

---- b_fails stdout ----
some output
thread 'b_fails' panicked at tests/tests/native_programs.rs:10:5:
load tp_0: BPF_PROG_LOAD failed: Permission denied
second line
note: run with `RUST_BACKTRACE=1`

failures:
    b_fails

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 3.2s
";
        let s = summarize(log);
        assert_eq!(s.counts, Some((1, 1, 1)));
        assert_eq!(
            s.failed,
            [(
                "b_fails".into(),
                "load tp_0: BPF_PROG_LOAD failed: Permission denied \
                 (at tests/tests/native_programs.rs:10:5)"
                    .into()
            )]
        );
        assert_eq!(s.running, None);
    }

    #[test]
    fn a_kernel_crash_is_found_in_the_console() {
        let console = "[   15.8] virtme-ng-init: starting script\n\
                       [  101.9] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n\
                       [  103.6] Kernel panic - not syncing: Fatal exception in interrupt\n";
        assert_eq!(
            kernel_crash_in(console).as_deref(),
            Some("Oops: int3: 0000 [#1] PREEMPT SMP NOPTI")
        );
        assert_eq!(kernel_crash_in("[ 1.0] virtme-ng-init: starting script\n"), None);
    }

    #[test]
    fn a_log_cut_short_names_the_running_test() {
        let s = summarize("running 2 tests\ntest a ... ok\ntest b ... child output\n");
        assert_eq!(s.counts, None);
        assert_eq!(s.running.as_deref(), Some("b"));
        let s = summarize(
            "test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; finished in 1s\n",
        );
        assert_eq!(s.counts, Some((7, 0, 0)));
    }

    #[test]
    fn results_lines_and_quoting() {
        assert_eq!(parse_result("native_run 101 5230", "native_run"), Some((101, 5230)));
        assert_eq!(parse_result("native_run 0 5230", "native_maps"), None);
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
