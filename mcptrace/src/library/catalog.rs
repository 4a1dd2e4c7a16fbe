//! The programs themselves. Each states a truth: what it must show when
//! run against the `mcpt-workload` helper doing a known number of
//! operations; `tests/tests/library_programs.rs` holds every program to it.

use super::{
    Program,
    arguments::{ArgKind, Argument},
};

const PID: Argument = Argument {
    name: "pid",
    description: "The process id to trace.",
    kind: ArgKind::Pid,
    default: None,
    example: "1",
};

const COMM: Argument = Argument {
    name: "comm",
    description: "The process name (as `ps -o comm` shows it, at most 15 characters).",
    kind: ArgKind::Comm,
    default: None,
    example: "systemd",
};

const HZ: Argument = Argument {
    name: "hz",
    description: "Samples per second per CPU (default 99).",
    kind: ArgKind::Hz,
    default: Some("99"),
    example: "99",
};

const BINARY: Argument = Argument {
    name: "binary",
    description: "The executable or library holding the function: an absolute path, or a \
                  library name such as `libc`.",
    kind: ArgKind::Binary,
    default: None,
    example: "libc",
};

const SYMBOL: Argument = Argument {
    name: "function",
    description: "The function's symbol name.",
    kind: ArgKind::Symbol,
    default: None,
    example: "malloc",
};

pub const PROGRAMS: &[Program] = &[
    // System calls.
    Program {
        name: "syscall_counts_by_process",
        title: "System calls by process name",
        description: "Count system calls by process name, system-wide.",
        keywords: &["syscall", "rate", "busy", "process", "top"],
        arguments: &[],
        template: "tracepoint:raw_syscalls:sys_enter { @syscalls[comm] = count(); }",
        truth: "After N getpid() calls, @syscalls[mcpt-workload] is at least N.",
    },
    Program {
        name: "syscall_counts_of_pid",
        title: "System calls of one process, by number",
        description: "Count one process's system calls by system call number (see \
                      `ausyscall --dump` or unistd.h for the names).",
        keywords: &["syscall", "rate", "pid"],
        arguments: &[PID],
        template: "tracepoint:raw_syscalls:sys_enter /pid == {pid}/ { @calls[args.id] = count(); }",
        truth: "After N getpid() calls, @calls[<getpid's number>] is exactly N.",
    },
    Program {
        name: "syscall_latency_by_pid",
        title: "System call latency of one process",
        description: "Latency histograms in microseconds of a process's system calls, by \
                      system call number.",
        keywords: &["syscall", "latency", "slow", "pid", "histogram"],
        arguments: &[PID],
        template: "tracepoint:raw_syscalls:sys_enter /pid == {pid}/ { @start[tid] = nsecs; } \
                   tracepoint:raw_syscalls:sys_exit /pid == {pid} && @start[tid]/ \
                   { @usecs[args.id] = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }",
        truth: "After N getpid() calls, a histogram @usecs[<getpid's number>] holds exactly N \
                samples.",
    },
    Program {
        name: "failed_syscalls_of_pid",
        title: "Failing system calls of one process",
        description: "Count a process's failing system calls by system call number and errno.",
        keywords: &["syscall", "error", "errno", "fail", "pid"],
        arguments: &[PID],
        template: "tracepoint:raw_syscalls:sys_exit /pid == {pid} && args.ret < 0/ \
                   { @errors[args.id, -args.ret] = count(); }",
        truth: "After N opens of a missing path, @errors[<openat's number>, 2] (ENOENT) is \
                exactly N.",
    },
    Program {
        name: "syscall_rate_of_comm",
        title: "System calls per period of processes by name",
        description: "Print how many system calls processes with a given name made in each \
                      period, then reset the count.",
        keywords: &["syscall", "rate", "per second", "interval", "comm"],
        arguments: &[
            COMM,
            Argument {
                name: "period_ms",
                description: "The period in milliseconds (default 1000).",
                kind: ArgKind::Millis,
                default: Some("1000"),
                example: "1000",
            },
        ],
        template: "tracepoint:raw_syscalls:sys_enter /comm == \"{comm}\"/ { @calls = count(); } \
                   interval:ms:{period_ms} { print(@calls); clear(@calls); }",
        truth: "After N getpid() calls by mcpt-workload, the printed @calls values add up to \
                at least N.",
    },
    Program {
        name: "sleep_latency_of_pid",
        title: "How long one process's sleeps last",
        description: "Histogram in microseconds of how long a process's clock_nanosleep() \
                      calls (sleep, usleep, nanosleep) take.",
        keywords: &["sleep", "latency", "timer", "nanosleep", "pid", "histogram"],
        arguments: &[PID],
        template: "tracepoint:syscalls:sys_enter_clock_nanosleep /pid == {pid}/ \
                   { @asleep[tid] = nsecs; } \
                   tracepoint:syscalls:sys_exit_clock_nanosleep /pid == {pid} && @asleep[tid]/ \
                   { @sleep_us = hist((nsecs - @asleep[tid]) / 1000); delete(@asleep[tid]); }",
        truth: "After N sleeps of 2 ms, @sleep_us holds exactly N samples, none below 1024 µs.",
    },
    // Files.
    Program {
        name: "file_opens_by_pid",
        title: "Files one process opens",
        description: "Print each file a process opens, with the flags.",
        keywords: &["file", "open", "path", "pid"],
        arguments: &[PID],
        template: "tracepoint:syscalls:sys_enter_openat /pid == {pid}/ \
                   { printf(\"%s %s flags=%d\\n\", comm, str(args.filename), args.flags); }",
        truth: "After N read-only opens of PATH, exactly N lines read `mcpt-workload PATH \
                flags=0`.",
    },
    Program {
        name: "opens_by_path_of_comm",
        title: "Files opened by processes with a name",
        description: "Count the paths processes with a given name pass to openat().",
        keywords: &["file", "open", "path", "comm"],
        arguments: &[COMM],
        template: "tracepoint:syscalls:sys_enter_openat /comm == \"{comm}\"/ \
                   { @opens[str(args.filename)] = count(); }",
        truth: "After N opens of a fresh PATH by mcpt-workload, @opens[PATH] is exactly N.",
    },
    Program {
        name: "openers_of_path",
        title: "Who opens a file",
        description: "Count, by process name and pid, the openat() calls naming a given path \
                      (exactly as passed, up to 63 bytes).",
        keywords: &["file", "open", "path", "who"],
        arguments: &[Argument {
            name: "path",
            description: "The path as processes pass it to openat(), e.g. `/etc/passwd`.",
            kind: ArgKind::Path,
            default: None,
            example: "/etc/passwd",
        }],
        template: "tracepoint:syscalls:sys_enter_openat /str(args.filename) == \"{path}\"/ \
                   { @openers[comm, pid] = count(); }",
        truth: "After N opens of a fresh PATH, @openers[mcpt-workload, <its pid>] is exactly N.",
    },
    Program {
        name: "failed_opens_by_process",
        title: "Failing opens by process and errno",
        description: "Count openat() failures by process name and errno (2 ENOENT, 13 EACCES, \
                      24 EMFILE, ...), system-wide.",
        keywords: &["file", "open", "error", "errno", "fail", "missing"],
        arguments: &[],
        template: "tracepoint:syscalls:sys_exit_openat /args.ret < 0/ \
                   { @failed[comm, -args.ret] = count(); }",
        truth: "After N opens of a missing path, @failed[mcpt-workload, 2] is at least N.",
    },
    Program {
        name: "read_size_histogram",
        title: "Read sizes of processes with a name",
        description: "Histogram of the bytes each successful read() returns, for processes \
                      with a given name.",
        keywords: &["read", "size", "io", "histogram", "comm"],
        arguments: &[COMM],
        template: "tracepoint:syscalls:sys_exit_read /comm == \"{comm}\" && args.ret > 0/ \
                   { @bytes = hist(args.ret); }",
        truth: "After N reads of 4096 bytes by mcpt-workload, the [4K, 8K) bucket holds at \
                least N.",
    },
    Program {
        name: "write_size_histogram",
        title: "Write sizes of processes with a name",
        description: "Histogram of the bytes each successful write() takes, for processes \
                      with a given name.",
        keywords: &["write", "size", "io", "histogram", "comm"],
        arguments: &[COMM],
        template: "tracepoint:syscalls:sys_exit_write /comm == \"{comm}\" && args.ret > 0/ \
                   { @bytes = hist(args.ret); }",
        truth: "After N writes of 512 bytes by mcpt-workload, the [512, 1K) bucket holds at \
                least N.",
    },
    Program {
        name: "write_bytes_by_fd_of_pid",
        title: "Bytes one process writes, by file descriptor",
        description: "Sum the bytes a process asks write() to write, by file descriptor (see \
                      /proc/PID/fd for what each is).",
        keywords: &["write", "bytes", "fd", "io", "pid"],
        arguments: &[PID],
        template: "tracepoint:syscalls:sys_enter_write /pid == {pid}/ \
                   { @bytes[args.fd] = sum(args.count); }",
        truth: "After N writes of 512 bytes, the @bytes values add up to exactly N × 512.",
    },
    // Processes.
    Program {
        name: "process_execs",
        title: "Programs being executed",
        description: "Print each successful exec, system-wide: pid, new process name and the \
                      file executed.",
        keywords: &["process", "exec", "new", "spawn", "command"],
        arguments: &[],
        template: "tracepoint:sched:sched_process_exec \
                   { printf(\"exec pid=%d %s %s\\n\", pid, comm, str(args.filename)); }",
        truth: "After N execs of the workload binary, at least N lines name its path.",
    },
    Program {
        name: "process_exit_codes",
        title: "Processes exiting, with their exit codes",
        description: "Print each process exit (exit_group) with its exit code, system-wide; \
                      processes killed by a signal do not call it.",
        keywords: &["process", "exit", "code", "status", "crash"],
        arguments: &[],
        template: "tracepoint:syscalls:sys_enter_exit_group \
                   { printf(\"exit pid=%d %s code=%d\\n\", pid, comm, args.error_code); }",
        truth: "After N children of the workload exit with code 3, at least N lines read \
                `exit pid=<child> mcpt-workload code=3`.",
    },
    Program {
        name: "failing_exits_by_name",
        title: "Non-zero exit codes by process name",
        description: "Count process exits with a non-zero code, by process name and code.",
        keywords: &["process", "exit", "code", "fail", "error"],
        arguments: &[],
        template: "tracepoint:syscalls:sys_enter_exit_group /args.error_code != 0/ \
                   { @failures[comm, args.error_code] = count(); }",
        truth: "After N children exit with code 3, @failures[mcpt-workload, 3] is at least N.",
    },
    Program {
        name: "forks_of_pid",
        title: "Children one process creates",
        description: "Count the processes and threads a process creates.",
        keywords: &["process", "fork", "clone", "spawn", "children", "pid"],
        arguments: &[PID],
        template: "tracepoint:sched:sched_process_fork /args.parent_pid == {pid}/ \
                   { @children = count(); }",
        truth: "After the workload forks N children, @children is exactly N.",
    },
    Program {
        name: "child_lifetimes_of_pid",
        title: "How long one process's children live",
        description: "Histogram in microseconds of the lifetimes of the children a process \
                      creates, from fork to exit.",
        keywords: &["process", "fork", "exit", "lifetime", "short-lived", "pid", "histogram"],
        arguments: &[PID],
        template: "tracepoint:sched:sched_process_fork /args.parent_pid == {pid}/ \
                   { @born[args.child_pid] = nsecs; } \
                   tracepoint:sched:sched_process_exit /@born[tid]/ \
                   { @lifetime_us = hist((nsecs - @born[tid]) / 1000); delete(@born[tid]); }",
        truth: "After the workload forks N children that exit, @lifetime_us holds exactly N \
                samples.",
    },
    // Signals.
    Program {
        name: "signals_sent_by_pid",
        title: "Signals one process sends",
        description: "Count the signals a process sends, by signal number and target pid \
                      (ignored signals included).",
        keywords: &["signal", "kill", "send", "pid"],
        arguments: &[PID],
        template: "tracepoint:signal:signal_generate /pid == {pid}/ \
                   { @sent[args.sig, args.pid] = count(); }",
        truth: "After the workload sends itself SIGUSR1 N times, @sent[10, <its pid>] is \
                exactly N.",
    },
    Program {
        name: "signals_delivered_to_pid",
        title: "Signals one process receives",
        description: "Count the signals delivered to a process (acted on: handled or \
                      defaulted), by signal number.",
        keywords: &["signal", "deliver", "receive", "pid"],
        arguments: &[PID],
        template: "tracepoint:signal:signal_deliver /pid == {pid}/ \
                   { @delivered[args.sig] = count(); }",
        truth: "After the workload handles SIGUSR1 N times, @delivered[10] is exactly N.",
    },
    Program {
        name: "kill_calls",
        title: "kill() calls",
        description: "Print each kill() system call, system-wide: who sends which signal to \
                      which pid.",
        keywords: &["signal", "kill", "send", "who"],
        arguments: &[],
        template: "tracepoint:syscalls:sys_enter_kill \
                   { printf(\"%s pid=%d sends signal %d to %d\\n\", comm, pid, args.sig, \
                   args.pid); }",
        truth: "After the workload sends itself SIGUSR1 N times, exactly N lines read \
                `mcpt-workload pid=<pid> sends signal 10 to <pid>`.",
    },
    // Scheduler and CPU.
    Program {
        name: "context_switches_of_pid",
        title: "Context switches of one process, by state",
        description: "Count how often a process's threads leave the CPU, by the state they \
                      leave in: 0 preempted (still runnable), 1 sleeping, 2 in disk wait.",
        keywords: &["scheduler", "context switch", "preempt", "sleep", "pid"],
        arguments: &[PID],
        template: "tracepoint:sched:sched_switch /args.prev_pid == {pid}/ \
                   { @switches[args.prev_state] = count(); }",
        truth: "After N sleeps, @switches[1] (sleeping) is at least N.",
    },
    Program {
        name: "run_queue_latency_of_pid",
        title: "Run-queue latency of one process",
        description: "Histogram in microseconds of how long a process's threads wait for a \
                      CPU after being woken up.",
        keywords: &["scheduler", "run queue", "latency", "wakeup", "cpu", "pid", "histogram"],
        arguments: &[PID],
        template: "tracepoint:sched:sched_wakeup /args.pid == {pid}/ { @woken[args.pid] = nsecs; } \
                   tracepoint:sched:sched_switch /@woken[args.next_pid]/ \
                   { @runq_us = hist((nsecs - @woken[args.next_pid]) / 1000); \
                   delete(@woken[args.next_pid]); }",
        truth: "After N sleeps (each ends in a wake-up), @runq_us holds at least N samples.",
    },
    Program {
        name: "off_cpu_time_of_pid",
        title: "Time one process spends off the CPU",
        description: "Total microseconds a process's threads spend switched out (sleeping, \
                      blocked or preempted).",
        keywords: &["scheduler", "off-cpu", "blocked", "sleep", "wait", "pid"],
        arguments: &[PID],
        template: "tracepoint:sched:sched_switch /args.prev_pid == {pid}/ \
                   { @left[args.prev_pid] = nsecs; } \
                   tracepoint:sched:sched_switch /@left[args.next_pid]/ \
                   { @off_cpu_us = sum((nsecs - @left[args.next_pid]) / 1000); \
                   delete(@left[args.next_pid]); }",
        truth: "After N sleeps of 2 ms, @off_cpu_us is at least N × 2000.",
    },
    Program {
        name: "off_cpu_stacks_of_pid",
        title: "Where one process blocks",
        description: "Count the kernel stacks a process's threads leave the CPU from: why \
                      they block (I/O, locks, sleeps, polls).",
        keywords: &["scheduler", "off-cpu", "blocked", "stack", "wait", "pid"],
        arguments: &[PID],
        template: "tracepoint:sched:sched_switch /args.prev_pid == {pid}/ \
                   { @blocked[kstack] = count(); }",
        truth: "After N sleeps, the stack counts add up to at least N and a stack passes \
                through a nanosleep function.",
    },
    Program {
        name: "cpu_profile_of_pid",
        title: "CPU profile of one process",
        description: "Sample a process's user and kernel stacks on every CPU and count them.",
        keywords: &["cpu", "profile", "stack", "hot", "flame", "pid"],
        arguments: &[PID, HZ],
        template: "profile:hz:{hz} /pid == {pid}/ { @stacks[ustack, kstack] = count(); }",
        truth: "While the workload spins for 300 ms of CPU time, at least one stack is \
                sampled.",
    },
    Program {
        name: "cpu_samples_by_process",
        title: "Who is on the CPUs",
        description: "Sample every CPU and count what runs by process name (idle CPUs show \
                      as swapper).",
        keywords: &["cpu", "profile", "busy", "top", "process"],
        arguments: &[HZ],
        template: "profile:hz:{hz} { @samples[comm] = count(); }",
        truth: "While the workload spins for 300 ms of CPU time at 99 Hz, \
                @samples[mcpt-workload] is at least 10.",
    },
    // Memory.
    Program {
        name: "page_faults_by_process",
        title: "User page faults by process",
        description: "Count page faults taken in user space, by process name and pid.",
        keywords: &["memory", "page fault", "fault", "process"],
        arguments: &[],
        template: "tracepoint:exceptions:page_fault_user { @faults[comm, pid] = count(); }",
        truth: "After the workload touches N fresh pages, @faults[mcpt-workload, <its pid>] \
                is at least N.",
    },
    Program {
        name: "page_fault_stacks_of_pid",
        title: "Where one process faults pages in",
        description: "Count the user stacks a process takes page faults from (a software \
                      perf event).",
        keywords: &["memory", "page fault", "fault", "stack", "pid"],
        arguments: &[PID],
        template: "software:page-faults:1 /pid == {pid}/ { @faults[ustack] = count(); }",
        truth: "After the workload touches N fresh pages, the stack counts add up to at \
                least N.",
    },
    Program {
        name: "malloc_sizes_of_pid",
        title: "malloc() request sizes of one process",
        description: "Count a process's libc malloc() calls by requested size (a uprobe on \
                      libc).",
        keywords: &["memory", "malloc", "allocation", "heap", "libc", "pid"],
        arguments: &[PID],
        template: "uprobe:libc:malloc /pid == {pid}/ { @requests[arg0] = count(); }",
        truth: "After N malloc(12345) calls, @requests[12345] is exactly N.",
    },
    Program {
        name: "malloc_bytes_by_stack_of_pid",
        title: "Where one process allocates memory",
        description: "Sum the bytes a process requests from libc malloc(), by user stack.",
        keywords: &["memory", "malloc", "allocation", "heap", "stack", "libc", "pid"],
        arguments: &[PID],
        template: "uprobe:libc:malloc /pid == {pid}/ { @bytes[ustack] = sum(arg0); }",
        truth: "After N malloc(12345) calls, the sums add up to at least N × 12345.",
    },
    Program {
        name: "oom_kills",
        title: "Out-of-memory kills",
        description: "Print each process the OOM killer picks, with its memory at the time \
                      (kB).",
        keywords: &["memory", "oom", "kill", "out of memory"],
        arguments: &[],
        template: "tracepoint:oom:mark_victim \
                   { printf(\"oom victim pid=%d %s anon_rss_kb=%d\\n\", args.pid, \
                   str(args.comm), args.anon_rss); }",
        truth: "While the workload does no more than run (no OOM kill is provoked: that \
                would risk the host), nothing is printed.",
    },
    // Functions in user space.
    Program {
        name: "function_calls",
        title: "Calls of a user-space function",
        description: "Count calls of a function in a binary or library, by process name and \
                      pid.",
        keywords: &["uprobe", "function", "calls", "user"],
        arguments: &[BINARY, SYMBOL],
        template: "uprobe:{binary}:{function} { @calls[comm, pid] = count(); }",
        truth: "After N calls of the workload's mcpt_target, @calls[mcpt-workload, <its pid>] \
                is exactly N.",
    },
    Program {
        name: "function_latency_of_pid",
        title: "Latency of a user-space function in one process",
        description: "Histogram in nanoseconds of how long a function takes in a process, \
                      entry to return.",
        keywords: &["uprobe", "uretprobe", "function", "latency", "slow", "pid", "histogram"],
        arguments: &[BINARY, SYMBOL, PID],
        template: "uprobe:{binary}:{function} /pid == {pid}/ { @entered[tid] = nsecs; } \
                   uretprobe:{binary}:{function} /pid == {pid} && @entered[tid]/ \
                   { @ns = hist(nsecs - @entered[tid]); delete(@entered[tid]); }",
        truth: "After N calls of mcpt_target, @ns holds exactly N samples.",
    },
    Program {
        name: "function_returns_of_pid",
        title: "Return values of a user-space function in one process",
        description: "Count, average and total of the values a function returns in a \
                      process.",
        keywords: &["uretprobe", "function", "return", "retval", "pid"],
        arguments: &[BINARY, SYMBOL, PID],
        template: "uretprobe:{binary}:{function} /pid == {pid}/ { @returned = stats(retval); }",
        truth: "After calls mcpt_target(1..=N), which returns twice its argument, @returned \
                reads count N, total N × (N + 1).",
    },
    // Network.
    Program {
        name: "tcp_connects_by_process",
        title: "Outgoing TCP connections by process",
        description: "Count TCP connection attempts (sockets entering SYN_SENT) by process \
                      name and pid.",
        keywords: &["network", "tcp", "connect", "socket", "outgoing"],
        arguments: &[],
        template: "tracepoint:sock:inet_sock_set_state /args.protocol == 6 && args.newstate == 2/ \
                   { @connects[comm, pid] = count(); }",
        truth: "After the workload makes N loopback connections, @connects[mcpt-workload, \
                <its pid>] is exactly N.",
    },
    Program {
        name: "tcp_state_changes",
        title: "TCP state transitions",
        description: "Count TCP socket state transitions (old, new) system-wide: 1 \
                      ESTABLISHED, 2 SYN_SENT, 3 SYN_RECV, 4 FIN_WAIT1, 7 CLOSE, 8 CLOSE_WAIT, \
                      10 LISTEN, 12 NEW_SYN_RECV.",
        keywords: &["network", "tcp", "state", "socket", "connection"],
        arguments: &[],
        template: "tracepoint:sock:inet_sock_set_state /args.protocol == 6/ \
                   { @transitions[args.oldstate, args.newstate] = count(); }",
        truth: "After N loopback connections, @transitions[7, 2] (CLOSE to SYN_SENT) and \
                @transitions[2, 1] (SYN_SENT to ESTABLISHED) are each at least N.",
    },
    Program {
        name: "connect_latency_of_pid",
        title: "connect() latency of one process",
        description: "Histogram in microseconds of how long a process's connect() calls take.",
        keywords: &["network", "tcp", "connect", "latency", "pid", "histogram"],
        arguments: &[PID],
        template: "tracepoint:syscalls:sys_enter_connect /pid == {pid}/ { @began[tid] = nsecs; } \
                   tracepoint:syscalls:sys_exit_connect /pid == {pid} && @began[tid]/ \
                   { @connect_us = hist((nsecs - @began[tid]) / 1000); delete(@began[tid]); }",
        truth: "After N loopback connections, @connect_us holds exactly N samples.",
    },
    Program {
        name: "tcp_send_sizes",
        title: "TCP send sizes by process (kprobe)",
        description: "Histogram of the bytes passed to tcp_sendmsg(), by process name: needs \
                      kprobes.",
        keywords: &["network", "tcp", "send", "size", "kprobe", "histogram"],
        arguments: &[],
        template: "kprobe:tcp_sendmsg { @send_bytes[comm] = hist(arg2); }",
        truth: "Where kprobes attach: after N loopback sends of 1000 bytes, \
                @send_bytes[mcpt-workload] holds at least N in [512, 1K); elsewhere refused \
                with the kernel's reason.",
    },
    // Block devices and file systems.
    Program {
        name: "block_io_latency",
        title: "Block I/O latency",
        description: "Histogram in microseconds of block device requests, issue to \
                      completion, system-wide.",
        keywords: &["disk", "block", "io", "latency", "storage", "histogram"],
        arguments: &[],
        template: "tracepoint:block:block_rq_issue { @issued[args.dev, args.sector] = nsecs; } \
                   tracepoint:block:block_rq_complete /@issued[args.dev, args.sector]/ \
                   { @io_us = hist((nsecs - @issued[args.dev, args.sector]) / 1000); \
                   delete(@issued[args.dev, args.sector]); }",
        truth: "After N direct (O_DIRECT) writes, synced, @io_us holds at least N samples.",
    },
    Program {
        name: "block_bytes_by_process",
        title: "Block I/O submitted by process",
        description: "Sum the bytes each process submits to block devices (writeback shows as \
                      kworker threads).",
        keywords: &["disk", "block", "io", "bytes", "storage", "process"],
        arguments: &[],
        template: "tracepoint:block:block_bio_queue { @bytes[comm] = sum(args.nr_sector * 512); }",
        truth: "After N direct writes of 4096 bytes, @bytes[mcpt-workload] is at least N × \
                4096.",
    },
    Program {
        name: "vfs_calls_by_process",
        title: "VFS reads and writes by process (kprobe)",
        description: "Count vfs_read() and vfs_write() calls by function and process name: \
                      needs kprobes.",
        keywords: &["file", "vfs", "read", "write", "kprobe"],
        arguments: &[],
        template: "kprobe:vfs_read, kprobe:vfs_write { @calls[func, comm] = count(); }",
        truth: "Where kprobes attach: after N reads, @calls[vfs_read, mcpt-workload] is at \
                least N; elsewhere refused with the kernel's reason.",
    },
];
