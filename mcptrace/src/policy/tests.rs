//! The policy file's parsing, and each rule tried against what it must
//! refuse and what it must let through.

use std::path::Path;

use super::{Policy, Rule};
use crate::{
    check::{CheckErrorKind, check, fake_host::FakeHost},
    frontend::{self, FrontendError},
    lang::{
        ast::{Expr, ExprKind, ProbeKind, Span},
        parse,
    },
};

const FILE: &str = "/etc/mcptrace/policy.toml";

/// The policy in `text`, as if read from [`FILE`].
fn policy(text: &str) -> Policy {
    let policy = Policy::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
    Policy { file: Some(FILE.into()), ..policy }
}

fn parse_error(text: &str) -> String {
    Policy::from_toml(text).expect_err(text).to_string()
}

/// Each error of checking `src` under `policy`: the denial's rule, its
/// rendered text (position, message and remedy).
fn denials(src: &str, policy: &Policy) -> Vec<(Rule, String)> {
    let program = parse(src).unwrap();
    let errors = check(program, &FakeHost, policy).expect_err(src);
    errors
        .0
        .iter()
        .map(|e| match &e.kind {
            CheckErrorKind::Policy(d) => (d.rule, e.diagnostic().render(src, "stdin")),
            other => panic!("{src}: not a policy denial: {other}"),
        })
        .collect()
}

fn literal(s: &str) -> Expr {
    Expr { kind: ExprKind::Str(s.into()), span: Span::default() }
}

#[test]
fn no_file_is_todays_policy() {
    let p = Policy::default();
    assert_eq!(Policy::from_toml("").unwrap(), p);
    assert!(ProbeKind::ALL.iter().all(|k| p.probes.kinds.contains(*k)));
    assert!(!p.allow_unsafe && !p.allows_sensitive());
    assert_eq!(p.user_probes.allow_binaries, None);
    for name in ["sshd", "sudo", "su", "passwd", "login", "gpg-agent", "ssh-agent"] {
        assert!(p.user_probes.deny_binaries.iter().any(|d| d == name), "{name}");
    }
    for name in ["SSL_read", "SSL_write", "gnutls_record_recv", "PR_Read", "wolfSSL_write"] {
        assert!(p.user_probes.deny_functions.iter().any(|d| d == name), "{name}");
    }
    assert_eq!(p.cat.paths, ["/proc", "/sys"]);
    let l = &p.limits;
    assert_eq!(
        (l.max_execution_seconds, l.max_output_lines, l.max_concurrent_executions),
        (60.0, 10_000, 5)
    );
    assert_eq!(l.max_program_bytes, 64 * 1024);
    // Time limits: default 10, clamped to 1..=60.
    assert_eq!(p.timeout(None), 10.0);
    assert_eq!(p.timeout(Some(0.0)), 1.0);
    assert_eq!(p.timeout(Some(-5.0)), 1.0);
    assert_eq!(p.timeout(Some(3.5)), 3.5);
    assert_eq!(p.timeout(Some(600.0)), 60.0);
    assert_eq!(p.timeout(Some(f64::NAN)), 10.0);
}

#[test]
fn a_missing_key_keeps_its_default() {
    let p = policy("[limits]\nmax_execution_seconds = 5\n");
    assert_eq!(p.limits.max_execution_seconds, 5.0);
    assert_eq!(p.limits.max_output_lines, 10_000);
    assert_eq!(p.user_probes, Policy::default().user_probes);
    // A lower maximum also lowers the default time limit.
    assert_eq!(p.timeout(None), 5.0);
    assert_eq!(p.timeout(Some(30.0)), 5.0);
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_its_line() {
    let e = parse_error("allow_unsafe = false\n[limits]\nmax_concurent_executions = 1\n");
    assert!(e.contains("line 3") && e.contains("unknown field `max_concurent_executions`"), "{e}");
    let e = parse_error("[probe]\nkinds = []\n");
    assert!(e.contains("line 1") && e.contains("unknown field `probe`"), "{e}");
}

#[test]
fn bad_values_are_errors_naming_their_line() {
    for (text, says) in [
        ("[probes]\nkinds = [\"kprbe\"]\n", "unknown probe kind `kprbe`"),
        ("[probes]\nkinds = [\"BEGIN\"]\n", "BEGIN is always allowed"),
        ("[limits]\nmax_output_lines = 0\n", "positive"),
        ("[limits]\nmax_execution_seconds = 0.5\n", "expected 1 to 4294967295 seconds"),
        ("[limits]\nmax_execution_seconds = 1e300\n", "expected 1 to"),
        ("[limits]\nmax_execution_seconds = nan\n", "expected 1 to"),
        ("[cat]\npaths = [\"proc\"]\n", "`proc` is not an absolute path"),
        ("[limits]\nmax_program_bytes = \"big\"\n", "invalid type"),
    ] {
        let e = parse_error(text);
        assert!(e.contains("line 2") && e.contains(says), "{text}: {e}");
    }
}

#[test]
fn kinds_read_aliases_and_print_long_names() {
    let p = policy("[probes]\nkinds = [\"fentry\", \"t\", \"tracepoint\"]\n");
    assert!(p.probes.kinds.contains(ProbeKind::Kfunc));
    assert!(p.probes.kinds.contains(ProbeKind::Begin), "BEGIN is always allowed");
    assert!(!p.probes.kinds.contains(ProbeKind::Kprobe));
    assert!(p.to_toml().contains("kinds = [\"tracepoint\", \"kfunc\"]"), "{}", p.to_toml());
}

#[test]
fn printed_policies_read_back_the_same() {
    let custom = policy(
        "allow_unsafe = true\n[probes]\nkinds = [\"uprobe\", \"tracepoint\"]\n\
         [user_probes]\nallow_binaries = [\"/usr/bin/app\", \"bash\"]\ndeny_functions = []\n\
         [cat]\npaths = [\"/proc/\", \"/var/log\"]\n[limits]\nmax_output_lines = 7\n",
    );
    for p in [Policy::default(), Policy::default().allowing_sensitive(), custom] {
        let again = Policy::from_toml(&p.to_toml()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, Policy { file: None, ..p });
    }
}

#[test]
fn a_denied_kind_is_refused_at_its_place_with_the_rule_and_the_remedy() {
    let p = policy("[probes]\nkinds = [\"uprobe\"]\n");
    let src = "BEGIN { }\ntracepoint:sched:sched_switch { }";
    let [(rule, text)] = &denials(src, &p)[..] else { panic!() };
    assert_eq!(*rule, Rule::ProbeKinds);
    assert!(text.starts_with("stdin:2:1-"), "{text}");
    assert!(
        text.contains(
            "policy: probe kind tracepoint is not allowed (rule probes.kinds); \
             add \"tracepoint\" to probes.kinds in /etc/mcptrace/policy.toml"
        ),
        "{text}"
    );
    assert!(check(parse("BEGIN { } END { }").unwrap(), &FakeHost, &p).is_ok());
    assert!(check(parse("uprobe:bash:readline { }").unwrap(), &FakeHost, &p).is_ok());
}

#[test]
fn user_probes_obey_the_binary_and_function_lists() {
    let src = "BEGIN { }\n  uprobe:bash:readline { }";
    let denied = policy("[user_probes]\ndeny_binaries = [\"bash\"]\n");
    let [(rule, text)] = &denials(src, &denied)[..] else { panic!() };
    assert_eq!(*rule, Rule::DenyBinaries);
    assert!(text.starts_with("stdin:2:3-"), "{text}");
    assert!(text.contains("remove \"bash\" from user_probes.deny_binaries"), "{text}");
    assert!(text.contains("--allow-sensitive"), "{text}");

    let elsewhere = policy("[user_probes]\nallow_binaries = [\"/usr/bin/app\"]\n");
    let [(rule, text)] = &denials(src, &elsewhere)[..] else { panic!() };
    assert_eq!(*rule, Rule::AllowBinaries);
    assert!(text.contains("to user_probes.allow_binaries in /etc/mcptrace/policy.toml"), "{text}");
    let listed = policy("[user_probes]\nallow_binaries = [\"bash\"]\n");
    assert!(check(parse(src).unwrap(), &FakeHost, &listed).is_ok());

    let function = policy("[user_probes]\ndeny_functions = [\"readline\"]\n");
    let [(rule, text)] = &denials(src, &function)[..] else { panic!() };
    assert_eq!(*rule, Rule::DenyFunctions);
    assert!(text.contains("readline is denied to uprobes"), "{text}");
    // Only the denied one of a wildcard's matches.
    let glob = denials("uprobe:bash:readline* { }", &function);
    assert_eq!(glob.len(), 1, "{glob:?}");
    // usdt probes name their binary first.
    let usdt = denials("usdt:/usr/sbin/sshd:ssh:auth { }", &Policy::default());
    assert_eq!(usdt[0].0, Rule::DenyBinaries);
}

#[test]
fn credential_handlers_and_tls_plaintext_are_denied_by_default() {
    let p = Policy::default();
    let rule = |binary: &str, function: &str| {
        let denied = p.user_binary(Path::new(binary)).and_then(|()| p.user_function(function));
        denied.err().map(|d| d.rule)
    };
    assert_eq!(rule("/usr/bin/sudo", "main"), Some(Rule::DenyBinaries));
    assert_eq!(rule("/usr/sbin/sshd", "main"), Some(Rule::DenyBinaries));
    assert_eq!(rule("/usr/lib/libssl.so.3", "SSL_write"), Some(Rule::DenyFunctions));
    assert_eq!(rule("/usr/bin/curl", "SSL_read"), Some(Rule::DenyFunctions));
    assert_eq!(rule("/usr/lib/libssl.so.3", "SSL_new"), None);
    assert_eq!(rule("/bin/bash", "readline"), None);
    let d = p.user_function("SSL_write").unwrap_err();
    assert!(d.to_string().contains("TLS plaintext"), "{d}");
    assert!(d.remedy.contains("a policy file given with --policy"), "{}", d.remedy);
    let open = Policy::default().allowing_sensitive();
    assert!(open.user_binary(Path::new("/usr/bin/sudo")).is_ok());
    assert!(open.user_function("SSL_write").is_ok());
}

#[test]
fn a_link_to_a_denied_binary_is_denied() {
    let dir = std::env::temp_dir().join(format!("mcptrace-policy-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("sudo");
    let link = dir.join("innocent");
    std::fs::write(&target, b"").unwrap();
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let denied = Policy::default().user_binary(&link).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(denied.rule, Rule::DenyBinaries);
}

#[test]
fn cat_reads_only_under_its_paths() {
    let p = Policy::default();
    for ok in [
        "/proc/loadavg",
        "/proc/1/status",
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/proc/%d/cmdline",
        "/proc/%u/task/%lx/stat",
    ] {
        assert_eq!(p.cat(&literal(ok)), Ok(()), "{ok}");
    }
    for denied in [
        "/etc/shadow",
        "/proc",
        "/procfs/x",
        "/proc/../etc/shadow",
        "/proc/1/root/etc/shadow",
        "/proc/self/environ",
        "/proc/1/fd/3",
        "/proc/kcore",
        "/proc/%s/status",
        "/proc/%c%c/status",
        "/proc/%d/environ",
        "proc/loadavg",
    ] {
        let d = p.cat(&literal(denied)).unwrap_err();
        assert_eq!(d.rule, Rule::CatPaths, "{denied}");
    }
    let message = p.cat(&literal("/etc/shadow")).unwrap_err().to_string();
    assert!(message.contains("outside /proc and /sys (rule cat.paths)"), "{message}");
    let message = p.cat(&literal("/proc/1/root/etc/shadow")).unwrap_err().to_string();
    assert!(message.contains("leads out of /proc and /sys"), "{message}");
    let variable = Expr { kind: ExprKind::Var("p".into()), span: Span::default() };
    assert!(p.cat(&variable).is_err());

    let logs = policy("[cat]\npaths = [\"/var/log/\"]\n");
    assert_eq!(logs.cat(&literal("/var/log/syslog")), Ok(()));
    assert!(logs.cat(&literal("/proc/loadavg")).is_err());
    assert!(logs.cat(&literal("/var/log/../../etc/shadow")).is_err());
    let none = policy("[cat]\npaths = []\n");
    assert!(none.cat(&literal("/proc/loadavg")).is_err());
    let anything = policy("[cat]\npaths = [\"/\"]\n");
    assert_eq!(anything.cat(&literal("/etc/shadow")), Ok(()));
    assert_eq!(anything.cat(&variable), Ok(()));
}

#[test]
fn cat_denials_point_at_the_path() {
    let src = "BEGIN {\n  cat(\"/etc/shadow\");\n}";
    let [(rule, text)] = &denials(src, &Policy::default())[..] else { panic!() };
    assert_eq!(*rule, Rule::CatPaths);
    assert!(text.starts_with("stdin:2:7-"), "{text}");
    assert!(text.contains("--allow-sensitive"), "{text}");
}

#[test]
fn unsafe_functions_need_allow_unsafe() {
    let src = "BEGIN { system(\"ls\") }";
    let [(rule, text)] = &denials(src, &policy(""))[..] else { panic!() };
    assert_eq!(*rule, Rule::AllowUnsafe);
    assert!(text.contains("system() is an unsafe function (rule allow_unsafe)"), "{text}");
    assert!(text.contains("set allow_unsafe = true in /etc/mcptrace/policy.toml"), "{text}");
    assert!(text.contains("--allow-unsafe"), "{text}");
    assert!(check(parse(src).unwrap(), &FakeHost, &policy("allow_unsafe = true")).is_ok());
}

#[test]
fn programs_over_the_size_limit_are_refused_with_the_sizes() {
    let p = policy("[limits]\nmax_program_bytes = 16\n");
    let src = "BEGIN { exit(); }\n";
    let Err(FrontendError::TooLarge(d)) = frontend::prepare_with(src, &[], &FakeHost, &p) else {
        panic!("accepted")
    };
    assert_eq!(d.rule, Rule::MaxProgramBytes);
    let message = FrontendError::TooLarge(d).to_string();
    assert!(message.contains("the program is 18 bytes; the limit is 16"), "{message}");
    assert!(message.contains("raise limits.max_program_bytes in /etc/mcptrace"), "{message}");
    assert!(frontend::prepare_with("BEGIN { }", &[], &FakeHost, &p).is_ok());
}

#[test]
fn executions_are_capped() {
    let p = policy("[limits]\nmax_concurrent_executions = 2\n");
    assert!(p.another_execution(1).is_ok());
    let d = p.another_execution(2).unwrap_err();
    assert_eq!(d.rule, Rule::MaxConcurrentExecutions);
    assert!(d.to_string().contains("2 executions are already running"), "{d}");
}

#[test]
fn allow_sensitive_keeps_the_operators_own_restrictions() {
    let p = policy("[probes]\nkinds = [\"uprobe\"]\n[user_probes]\nallow_binaries = [\"bash\"]\n")
        .allowing_sensitive();
    assert!(p.allows_sensitive());
    assert!(!p.probes.kinds.contains(ProbeKind::Kprobe));
    assert!(p.user_binary(Path::new("/usr/bin/app")).is_err());
}
