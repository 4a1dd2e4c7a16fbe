//! Every program of `tests/corpus/` through mcptrace's front end and through
//! `bpftrace -d`; both must agree on accept/reject, except where a file
//! documents why they differ (see `tests/corpus/README.md`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use mcptrace::{
    check::{self, SystemHost},
    host::{features, fentry},
    lang, plan,
    policy::Policy,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    ParseError,
    CheckError,
}

struct Case {
    path: PathBuf,
    source: String,
    expect: Outcome,
    /// Text the error message must contain, after the expected outcome.
    message: Option<String>,
    /// bpftrace's expected acceptance, when a header says it differs from mcptrace's.
    bpftrace_accepts: Option<bool>,
    /// bpftrace's expected acceptance of the program as mcptrace prints it for
    /// bpftrace 0.17, when that differs from the original's.
    rewritten_accepts: Option<bool>,
}

/// Header `key`'s value; `// KEY without FEATURE:` wins where this host
/// lacks FEATURE (kprobe, fentry), so one file states what each kind of
/// kernel does.
fn header(source: &str, key: &str) -> Option<String> {
    let value = |key: &str| {
        source
            .lines()
            .take_while(|l| l.starts_with("//"))
            .find_map(|l| l.strip_prefix(&format!("// {key}:")))
            .map(|v| v.trim().to_string())
    };
    missing_features()
        .iter()
        .find_map(|f| value(&format!("{key} without {f}")))
        .or_else(|| value(key))
}

/// The kernel-function probe kinds this host cannot attach.
fn missing_features() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !features::get().kprobe.is_yes() {
        missing.push("kprobe");
    }
    if !fentry::support().is_yes() {
        missing.push("fentry");
    }
    missing
}

fn load(path: &Path) -> Case {
    let source = fs::read_to_string(path).expect("readable corpus file");
    let expectation = header(&source, "expect").unwrap_or_else(|| "ok".into());
    let (outcome, message) = match expectation.split_once(' ') {
        Some((o, m)) => (o.to_string(), Some(m.trim().to_string())),
        None => (expectation, None),
    };
    let expect = match outcome.as_str() {
        "ok" => Outcome::Ok,
        "parse-error" => Outcome::ParseError,
        "check-error" => Outcome::CheckError,
        other => panic!("{}: unknown expectation `{other}`", path.display()),
    };
    let verdict = |key: &str| {
        header(&source, key).map(|v| {
            let (verdict, why) = v.split_once(';').unwrap_or((&v, ""));
            assert!(
                !why.trim().is_empty(),
                "{}: a bpftrace disagreement needs a reason",
                path.display()
            );
            match verdict {
                "accepts" => true,
                "rejects" => false,
                other => panic!("{}: unknown bpftrace verdict `{other}`", path.display()),
            }
        })
    };
    let bpftrace_accepts = verdict("bpftrace");
    let rewritten_accepts = verdict("bpftrace-after-rewrite");
    Case { path: path.to_path_buf(), source, expect, message, bpftrace_accepts, rewritten_accepts }
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/corpus exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// What mcptrace's front end makes of the case, with the rendered error if any.
fn mcptrace_outcome(case: &Case) -> Result<(Outcome, String), String> {
    let program = match lang::parse(&case.source) {
        Ok(p) => p,
        Err(e) => return Ok((Outcome::ParseError, e.render(&case.source, "corpus"))),
    };
    match check::check(program, SystemHost::shared(), &Policy::default()) {
        Ok(checked) => {
            let plan = plan::plan(&checked, &case.source, SystemHost::shared());
            if plan.attach_count == 0 {
                return Err("a checked program attaches no probe".into());
            }
            Ok((Outcome::Ok, String::new()))
        }
        Err(e) => Ok((Outcome::CheckError, e.render(&case.source, "corpus"))),
    }
}

/// Whether `bpftrace -d ARGS` accepts the program, and its stderr for messages.
fn bpftrace_accepts(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new("bpftrace")
        .arg("-d")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("bpftrace is installed");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn corpus_is_large_and_has_negative_cases() {
    let cases = corpus();
    assert!(cases.len() >= 100, "only {} programs", cases.len());
    assert!(cases.iter().any(|c| c.expect == Outcome::ParseError));
    assert!(cases.iter().any(|c| c.expect == Outcome::CheckError));
}

#[test]
fn mcptrace_and_bpftrace_agree_on_the_corpus() {
    mcptrace_tests::require_root();
    let cases = corpus();
    let workers = 2;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let cases = &cases;
                s.spawn(move || {
                    let mut failures = Vec::new();
                    for case in cases.iter().skip(w).step_by(workers) {
                        let name = case.path.file_name().unwrap().to_string_lossy().into_owned();
                        match mcptrace_outcome(case) {
                            Ok((got, message)) if got != case.expect => failures.push(format!(
                                "{name}: mcptrace gave {got:?}, expected {:?}\n{message}",
                                case.expect
                            )),
                            Ok((_, message)) => {
                                if let Some(want) = &case.message
                                    && !message.contains(want.as_str())
                                {
                                    failures.push(format!(
                                        "{name}: the error does not mention `{want}`:\n{message}"
                                    ));
                                }
                            }
                            Err(e) => failures.push(format!("{name}: {e}")),
                        }
                        let want = case.bpftrace_accepts.unwrap_or(case.expect == Outcome::Ok);
                        let (accepted, stderr) = bpftrace_accepts(&[case.path.as_os_str()]);
                        if accepted != want {
                            failures.push(format!(
                                "{name}: bpftrace -d {} it, expected it to {}:\n{stderr}",
                                if accepted { "accepted" } else { "rejected" },
                                if want { "accept" } else { "reject" },
                            ));
                        }
                        // The printer's output, in bpftrace 0.17's dialect, is
                        // what the fallback backend hands to bpftrace.
                        if let Ok(program) = lang::parse(&case.source) {
                            let text = lang::pretty::program(&lang::dialect::for_bpftrace_017(&program));
                            let want = case.rewritten_accepts.unwrap_or(want);
                            let (accepted, stderr) = bpftrace_accepts(&["-e".as_ref(), text.as_ref()]);
                            if accepted != want {
                                failures.push(format!(
                                    "{name}: bpftrace -d {} the printed program, expected it to {}:\n{text}\n{stderr}",
                                    if accepted { "accepted" } else { "rejected" },
                                    if want { "accept" } else { "reject" },
                                ));
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker")).collect()
    });
    assert!(failures.is_empty(), "{} disagreement(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn corpus_programs_round_trip_through_the_printer() {
    for case in corpus() {
        let Ok(program) = lang::parse(&case.source) else { continue };
        let printed = lang::pretty::program(&program);
        let again = lang::parse(&printed).unwrap_or_else(|e| {
            panic!("{}: printed text does not parse:\n{printed}\n{e}", case.path.display())
        });
        assert_eq!(
            program,
            again,
            "{}: round trip changed the tree:\n{printed}",
            case.path.display()
        );
    }
}

/// The inputs that once broke the front end under the fuzzer
/// (`mcptrace/fuzz/regressions/`), replayed as the `frontend` fuzz target
/// runs them: whatever parses prints and parses back to the same tree, and
/// checking and planning end with a result or a rendered error.
#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcptrace/fuzz/regressions");
    let mut replayed = 0;
    for entry in fs::read_dir(&dir).expect("the fuzz regressions exist") {
        let path = entry.expect("directory entry").path();
        let bytes = fs::read(&path).expect("readable regression");
        let Ok(source) = std::str::from_utf8(&bytes) else { continue };
        replayed += 1;
        let program = match lang::parse(source) {
            Ok(p) => p,
            Err(e) => {
                e.render(source, "fuzz");
                continue;
            }
        };
        let printed = lang::pretty::program(&program);
        let again = lang::parse(&printed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(program, again, "{}: the round trip changed the tree", path.display());
        let for_bpftrace = lang::pretty::program(&lang::dialect::for_bpftrace_017(&program));
        lang::parse(&for_bpftrace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match check::check(program, SystemHost::shared(), &Policy::default()) {
            Ok(checked) => drop(plan::plan(&checked, source, SystemHost::shared())),
            Err(e) => drop(e.render(source, "fuzz")),
        }
    }
    assert!(replayed >= 8, "only {replayed} regressions in {}", dir.display());
}
