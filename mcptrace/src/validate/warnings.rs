//! Warnings: programs that are valid but likely to hurt. Today one rule: a
//! probe that fires very often, has no predicate, and prints on every event
//! floods the output buffer and loses events.

use crate::{
    check::{Checked, glob},
    diagnostic::{Diagnostic, Severity},
    lang::ast::{ExprKind, Probe},
};

/// Probes that fire on nearly every system call, context switch or interrupt.
const HOT: [&str; 6] = [
    "tracepoint:raw_syscalls:*",
    "rawtracepoint:sys_*",
    "tracepoint:sched:sched_switch",
    "tracepoint:sched:sched_wakeup*",
    "tracepoint:irq:*",
    "tracepoint:timer:*",
];

/// A wildcard standing for more probes than this is hot as a whole
/// (`syscalls:sys_enter_*`, `kprobe:vfs_*`).
const WIDE: usize = 20;

/// Functions that write output each time they run.
const PRINTING: [&str; 5] = ["printf", "print", "cat", "join", "time"];

pub fn of(checked: &Checked) -> Vec<Diagnostic> {
    checked
        .program
        .probes
        .iter()
        .zip(&checked.probes)
        .filter(|(probe, _)| probe.predicate.is_none() && prints(probe))
        .filter_map(|(probe, expanded)| {
            let (ap, why) = probe.attach_points.iter().zip(&expanded.attach_points).find_map(
                |(ap, targets)| {
                    if targets.len() > WIDE {
                        Some((ap, format!("stands for {} probes", targets.len())))
                    } else {
                        let hot = targets
                            .iter()
                            .map(ToString::to_string)
                            .find(|t| HOT.iter().any(|h| glob(h, t)))?;
                        let named =
                            if hot == ap.text() { String::new() } else { format!(" (`{hot}`)") };
                        Some((ap, format!("fires very often{named}")))
                    }
                },
            )?;
            let message = format!(
                "`{}` {why} and this probe prints on every event without a predicate: \
                 output will flood and events will be lost",
                ap.text()
            );
            let hint = "filter it (e.g. `/pid == 1234/` or `/comm == \"name\"/`) or aggregate \
                        into a map (e.g. `@[comm] = count()`)";
            Some(
                Diagnostic::new(Severity::Warning, "flood", ap.span, message)
                    .with_hint(Some(hint.into())),
            )
        })
        .collect()
}

fn prints(probe: &Probe) -> bool {
    let mut found = false;
    probe.body.each_stmt(&mut |stmt| {
        for e in stmt.exprs() {
            e.each(&mut |e| {
                if let ExprKind::Call { name, .. } = &e.kind {
                    found |= PRINTING.contains(&name.as_str());
                }
            });
        }
    });
    found
}
