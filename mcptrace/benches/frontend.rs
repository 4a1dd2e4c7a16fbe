//! Parse + check + plan of typical programs against the live host (its
//! caches warm after the first iteration, as in a running server).

use criterion::{Criterion, criterion_group, criterion_main};
use mcptrace::{check::SystemHost, frontend, lang};

const ONE_LINER: &str = r#"tracepoint:syscalls:sys_enter_openat /comm != "bash"/ { printf("%s %s\n", comm, str(args->filename)); }"#;

const SCRIPT: &str = r#"
tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }
tracepoint:syscalls:sys_exit_read /@start[tid]/ {
  @ns[comm] = hist(nsecs - @start[tid]);
  delete(@start[tid]);
}
END { clear(@start); }
"#;

fn frontend_benches(c: &mut Criterion) {
    let host = SystemHost::shared();
    c.bench_function("parse one-liner", |b| b.iter(|| lang::parse(ONE_LINER).unwrap()));
    c.bench_function("parse+check+plan one-liner", |b| {
        b.iter(|| frontend::prepare(ONE_LINER, host).unwrap())
    });
    c.bench_function("parse+check+plan latency script", |b| {
        b.iter(|| frontend::prepare(SCRIPT, host).unwrap())
    });
}

criterion_group!(benches, frontend_benches);
criterion_main!(benches);
