//! A lowered program in readable form (`mcptrace plan --emit slots`): for
//! each kernel probe, where it attaches and its slot configuration in the
//! order one hit runs it (see docs/slot-abi.md), then the user maps.

use std::fmt::Write;

use mcptrace_common::{
    SlotConfig,
    slot::{Capture, MapOp, Op, action, flags, map_op, op, source},
};

use super::{AttachPoint, NativeProgram};

/// The whole program as text, one line per item.
pub fn listing(program: &NativeProgram) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} kernel probe(s); BEGIN blocks: {}; END blocks: {}",
        program.probes.len(),
        program.begin.len(),
        program.end.len()
    );
    for (i, probe) in program.probes.iter().enumerate() {
        let places: Vec<String> = probe.points.iter().map(attach).collect();
        let _ = writeln!(out, "probe {i}: {} at {}", probe.name, places.join(", "));
        slot(&probe.config, &mut out);
        if probe.predicate.is_some() {
            let _ = writeln!(out, "  user-space predicate: yes");
        }
        let _ = writeln!(out, "  user-space statements: {}", probe.body.len());
    }
    for m in &program.maps {
        let _ = writeln!(out, "map {} (id {}): {:?}, key {:?}", m.name, m.id, m.agg, m.key);
    }
    out
}

fn attach(point: &AttachPoint) -> String {
    match point {
        AttachPoint::Tracepoint { category, name } => format!("tracepoint {category}:{name}"),
        AttachPoint::RawTracepoint { name } => format!("raw tracepoint {name}"),
        AttachPoint::PerfEvent { event, sample, every_cpu } => {
            let cpus = if *every_cpu { "every CPU" } else { "one CPU" };
            format!("perf event {event:?} {sample:?} on {cpus}")
        }
        AttachPoint::Uprobe { binary, location, ret, .. } => {
            let kind = if *ret { "uretprobe" } else { "uprobe" };
            format!("{kind} {}:{location}", binary.display())
        }
        AttachPoint::Kprobe { function, offset, ret } => {
            let kind = if *ret { "kretprobe" } else { "kprobe" };
            format!("{kind} {function}+{offset}")
        }
        AttachPoint::Fentry { function, ret } => {
            format!("{} {function}", if *ret { "fexit" } else { "fentry" })
        }
    }
}

/// One slot's configuration, in the order a hit runs it.
fn slot(c: &SlotConfig, out: &mut String) {
    let _ = writeln!(
        out,
        "  copy: context bytes 0..{}{}",
        c.ctx_len,
        if c.deref_len == 0 {
            String::new()
        } else {
            format!(
                ", then {} bytes at the pointer in context word {}",
                c.deref_len, c.deref_offset
            )
        }
    );
    let captures = &c.captures[..c.ncaptures as usize];
    for (i, cap) in captures.iter().enumerate() {
        let phase = if (i as u32) < c.nphase1 { "before" } else { "after" };
        let _ = writeln!(out, "  capture {i} ({phase} the predicate): {}", capture(cap));
    }
    for l in &c.lookups[..c.nlookups as usize] {
        let what = if l.presence != 0 { "whether there is keyed state" } else { "keyed state" };
        let _ = writeln!(out, "  lookup: v{} = {what} under key {}", l.dest, l.key);
    }
    let ops = |start: u16, len: u16| -> String {
        c.ops[start as usize..(start + len) as usize].iter().map(op).collect::<Vec<_>>().join("; ")
    };
    if c.npred != 0 {
        let _ = writeln!(out, "  predicate: {}", ops(0, c.npred as u16));
    }
    for comp in &c.computes[..c.ncomputes as usize] {
        let _ = writeln!(out, "  compute: v{} = {}", comp.dest, ops(comp.start, comp.len));
    }
    let mut used: Vec<u16> = c.map_ops[..c.nmap_ops as usize].iter().map(|m| m.key).collect();
    used.extend(c.lookups[..c.nlookups as usize].iter().map(|l| l.key));
    used.sort_unstable();
    used.dedup();
    for i in used {
        let k = &c.keys[i as usize];
        let parts: Vec<String> = k.parts[..k.nparts as usize]
            .iter()
            .map(|p| match p.words {
                0 => format!("v{}@{}", p.index, p.at),
                w => format!("s{}[{w} words]@{}", p.index, p.at),
            })
            .collect();
        let _ = writeln!(out, "  key {i}: map {} tier {} [{}]", k.map, k.tier, parts.join(", "));
    }
    for m in &c.map_ops[..c.nmap_ops as usize] {
        let _ = writeln!(out, "  map op: {}", map_update(m, &ops));
    }
    if c.action & action::EMIT != 0 {
        let _ = writeln!(out, "  emit: {} bytes to user space", c.event_len);
    }
}

fn capture(c: &Capture) -> String {
    let int = |what: &str| format!("v{} = {what}", c.dest);
    match c.source {
        source::PID => int("pid"),
        source::TID => int("tid"),
        source::UID => int("uid"),
        source::GID => int("gid"),
        source::CPU => int("cpu"),
        source::NSECS => int("nsecs"),
        source::CGROUP => int("cgroup"),
        source::FIELD => {
            let sign = if c.flags & flags::SIGNED != 0 { "signed" } else { "unsigned" };
            int(&format!("record[{}..+{}] {sign}", c.offset, c.size))
        }
        source::USER_INT => {
            let sign = if c.flags & flags::SIGNED != 0 { "signed" } else { "unsigned" };
            let at = format!("user memory at record[{}..+8] {:+}", c.offset, c.displacement);
            int(&format!("{at}, {} bytes {sign}", c.size))
        }
        source::CONST => int(&format!("constant {}", c.offset)),
        source::KSTACK => int("kernel stack id"),
        source::USTACK => int("user stack id"),
        source::COMM => format!("s{} = comm", c.dest),
        source::USER_STR => {
            format!("s{} = user string at record[{}] ({} bytes)", c.dest, c.offset, c.size)
        }
        source::KERNEL_STR => {
            format!("s{} = kernel string at record[{}] ({} bytes)", c.dest, c.offset, c.size)
        }
        source::CTX_STR => {
            format!("s{} = context bytes at {} ({} bytes)", c.dest, c.offset, c.size)
        }
        source::DATA_LOC_STR => format!("s{} = __data_loc string at {}", c.dest, c.offset),
        source::ANY_STR if c.flags & flags::FROM_VALUE != 0 => {
            format!("s{} = user or kernel string at v{} ({} bytes)", c.dest, c.offset, c.size)
        }
        source::ANY_STR => {
            format!(
                "s{} = user or kernel string at record[{}] ({} bytes)",
                c.dest, c.offset, c.size
            )
        }
        other => format!("unknown source {other}"),
    }
}

fn op(o: &Op) -> String {
    let name = match o.code {
        op::VALUE => return format!("push v{}", o.arg),
        op::IMM => return format!("push {}", o.imm as i64),
        op::STR_EQ => return format!("s{} == const {}", o.arg, o.imm),
        op::BSWAP => return format!("bswap{}", u32::from(o.arg) * 8),
        op::IN_NR_SET => "in syscall set",
        op::EQ => "==",
        op::NE => "!=",
        op::LT => "<s",
        op::LE => "<=s",
        op::GT => ">s",
        op::GE => ">=s",
        op::ULT => "<",
        op::ULE => "<=",
        op::UGT => ">",
        op::UGE => ">=",
        op::LAND => "&&",
        op::LOR => "||",
        op::ADD => "+",
        op::SUB => "-",
        op::MUL => "*",
        op::DIV => "/",
        op::MOD => "%",
        op::SDIV => "/s",
        op::SMOD => "%s",
        op::AND => "&",
        op::OR => "|",
        op::XOR => "^",
        op::SHL => "<<",
        op::SHR => ">>",
        op::SAR => ">>s",
        op::LNOT => "!",
        op::NOT => "~",
        op::NEG => "neg",
        _ => "?",
    };
    name.to_string()
}

fn map_update(m: &MapOp, ops: &dyn Fn(u16, u16) -> String) -> String {
    let kind = match m.kind {
        map_op::COUNT => "count",
        map_op::SUM => "sum",
        map_op::MIN => "min",
        map_op::MAX => "max",
        map_op::HIST => "hist",
        map_op::LHIST => "lhist",
        map_op::ASSIGN => "assign",
        map_op::DELETE => "delete",
        map_op::ADD => "add",
        _ => "?",
    };
    let mut text = format!("{kind} under key {}", m.key);
    if m.value_len != 0 {
        let _ = write!(text, " of ({})", ops(m.value_start, m.value_len));
    }
    if m.kind == map_op::LHIST {
        let _ = write!(text, " in [{}, {}) step {}", m.min, m.max, m.step);
    }
    if m.guard_len != 0 {
        let _ = write!(text, " if ({})", ops(m.guard_start, m.guard_len));
    }
    text
}
