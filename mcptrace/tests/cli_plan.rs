//! `mcptrace plan` as a user runs it: the binary, its stdout, stderr and exit status.

use std::process::{Command, Output};

fn plan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcptrace")).arg("plan").args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn text_output_names_backend_reason_and_probes() {
    let out = plan(&["-e", "BEGIN { print(sizeof(int)); } END { printf(\"%d\\n\", 1); }"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "backend: bpftrace\n\
         fallback: `sizeof(int)` at 1:15: `sizeof` of this type is not native yet\n\
         attaching 2 probes:\n  BEGIN\n  END\n"
    );
}

#[test]
fn json_output_carries_the_same_decision() {
    let out = plan(&["--json", "-e", "BEGIN { printf(\"hi\\n\"); exit(); }"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["backend"], "native");
    assert_eq!(json["fallback"], serde_json::Value::Null);
    assert_eq!(json["attach_count"], 1);
    assert_eq!(json["attach_points"], serde_json::json!(["BEGIN"]));
}

#[test]
fn json_fallback_has_the_construct_and_its_span() {
    let out = plan(&["--json", "-e", "BEGIN { $x = 1; print(sizeof(int)); }"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fallback = &json["fallback"];
    assert_eq!(fallback["kind"], "unsupported");
    assert_eq!(fallback["construct"], "`sizeof(int)`");
    assert_eq!(fallback["span"]["line"], 1);
    assert_eq!(fallback["span"]["col"], 23);
}

#[test]
fn programs_are_read_from_files() {
    let path = std::env::temp_dir().join(format!("mcptrace-cli-plan-{}.bt", std::process::id()));
    std::fs::write(&path, "BEGIN\n{\n  @x = ;\n}\n").unwrap();
    let out = plan(&[path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let origin = path.display().to_string();
    assert_eq!(
        stderr,
        format!(
            "{origin}:3:8-9: ERROR: syntax error, unexpected `;`, expecting an expression\n  @x = ;\n       ^\n"
        )
    );
}

#[test]
fn errors_exit_1_with_a_rendered_message() {
    let out = plan(&["-e", "BEGIN { frob(); }"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "stdin:1:9-15: ERROR: unknown function `frob`\nBEGIN { frob(); }\n        ^~~~~~\n"
    );
    let out = plan(&["/nonexistent/prog.bt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("mcptrace: cannot read /nonexistent/prog.bt:"));
}

#[test]
fn a_program_or_a_file_is_required() {
    let out = plan(&[]);
    assert!(!out.status.success());
    let out = plan(&["-e", "BEGIN { }", "file.bt"]);
    assert!(!out.status.success());
}

#[test]
fn warnings_show_with_their_position_and_excerpt() {
    let out = plan(&["-e", "tracepoint:raw_syscalls:sys_exit { printf(\"%d\\n\", pid); }"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let warning = stdout.split_once("warning: 1:1: ").map(|(_, w)| w).unwrap_or_default();
    assert!(warning.contains("without a predicate"), "{stdout}");
    let probe = "tracepoint:raw_syscalls:sys_exit";
    let excerpt =
        format!("{probe} {{ printf(\"%d\\n\", pid); }}\n^{}\n", "~".repeat(probe.len() - 1));
    assert!(warning.ends_with(&excerpt), "{stdout}");
}
