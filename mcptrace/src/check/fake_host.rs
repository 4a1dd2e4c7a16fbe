//! A host for tests of rules that must hold whatever machine runs them: a
//! few tracepoints with known formats, two kernel functions, a `bash` with
//! two functions, an `/bin/app` with four USDT probes (one at two locations), no kprobes and no
//! BTF prototypes, two enum values, two types (`struct task_struct` with its `pid`, `u64`) and
//! no headers.

use std::{path::PathBuf, sync::Arc};

use super::{Host, HostError, facts::UsdtNotes};
use crate::{
    host::{
        btf::{self, BtfError},
        elf::UsdtNote,
        features::Support,
        traceable::KernelFunctions,
        tracefs::{Format, TracefsError, parse_format},
    },
    lang::{
        ast::ProbeKind,
        c_layout::{Layout, Member, Shape},
    },
};

pub struct FakeHost;

const OPENAT_FORMAT: &str = "name: sys_enter_openat\nID: 1\nformat:\n\
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
    \tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
    \tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\
    \tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\
    \tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n";

impl Host for FakeHost {
    fn support(&self, kind: ProbeKind) -> Support {
        match kind {
            ProbeKind::Kprobe | ProbeKind::Kretprobe => Support::No("no kprobes here".into()),
            _ => Support::Yes,
        }
    }
    fn native_engine(&self) -> Support {
        Support::Yes
    }
    fn tracepoints(&self) -> Result<Arc<[String]>, HostError> {
        let mut tps: Vec<String> = [
            "sched:sched_switch",
            "syscalls:sys_enter_openat",
            "syscalls:sys_enter_read",
            "syscalls:sys_exit_openat",
            "syscalls:sys_exit_read",
        ]
        .map(String::from)
        .into();
        tps.sort();
        Ok(tps.into())
    }
    fn tracepoint_format(&self, category: &str, name: &str) -> Result<Arc<Format>, HostError> {
        if (category, name) == ("syscalls", "sys_enter_openat") {
            return Ok(Arc::new(parse_format(OPENAT_FORMAT).expect("valid format")));
        }
        let format = "ID: 2\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
            \tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n";
        match name {
            "sys_exit_openat" | "sys_exit_read" => Ok(Arc::new(parse_format(format).unwrap())),
            _ => Err(TracefsError::UnknownTracepoint {
                category: category.into(),
                name: name.into(),
            }
            .into()),
        }
    }
    fn kernel_functions(&self) -> Result<Arc<KernelFunctions>, HostError> {
        let kallsyms = "ffffffff81000000 T do_int3\nffffffff81000100 T do_sys_openat2\n\
                        ffffffff81000200 T vfs_read\n";
        let blacklist = "0xffffffff81000000-0xffffffff81000010\tdo_int3\n";
        Ok(Arc::new(KernelFunctions::parse(kallsyms, None, Some(blacklist))))
    }
    fn user_functions(&self, binary: &str) -> Result<(PathBuf, Arc<[String]>), HostError> {
        match binary {
            "bash" | "/bin/bash" => Ok((
                PathBuf::from("/bin/bash"),
                vec!["readline".to_string(), "readline_internal".to_string()].into(),
            )),
            other => Err(crate::host::elf::ElfError::NotFound(other.into()).into()),
        }
    }
    fn usdt_notes(&self, binary: &str) -> Result<UsdtNotes, HostError> {
        let note = |provider: &str, name: &str, address, semaphore, args: &str| UsdtNote {
            provider: provider.into(),
            name: name.into(),
            address,
            semaphore,
            args: args.into(),
        };
        match binary {
            "/bin/app" => Ok((
                PathBuf::from("/bin/app"),
                vec![
                    note("app", "start", 0x1000, 0, "8@%rdi -4@%esi 8@$7"),
                    note("app", "stop", 0x1100, 0, "8@-8(%rbp) 8@sym(%rip)"),
                    note("app", "gated", 0x1200, 0x4000, "8@%rdi"),
                    note("lib", "start", 0x1300, 0, ""),
                    note("lib", "start", 0x1380, 0, ""),
                ]
                .into(),
            )),
            other => Err(crate::host::elf::ElfError::NotFound(other.into()).into()),
        }
    }
    fn kernel_prototype(&self, function: &str) -> Result<Arc<btf::Function>, BtfError> {
        Err(BtfError::NoFunction(function.into()))
    }
    fn kernel_enumerator(&self, name: &str) -> Result<Option<i128>, BtfError> {
        Ok(match name {
            "TCP_ESTABLISHED" => Some(1),
            "TCP_CLOSE" => Some(7),
            "NEGATIVE_ENUMERATOR" => Some(-2),
            _ => None,
        })
    }
    fn kernel_type(&self, name: &str) -> Result<Option<Shape>, BtfError> {
        let layout = |size, align| Shape { layout: Layout { size, align }, members: Vec::new() };
        Ok(match name {
            "struct task_struct" => Some(Shape {
                members: vec![Member {
                    name: "pid".into(),
                    layout: Some(Layout { size: 4, align: 4 }),
                }],
                ..layout(3264, 8)
            }),
            "u64" => Some(layout(8, 8)),
            _ => None,
        })
    }
    fn include_dirs(&self) -> Vec<PathBuf> {
        vec![PathBuf::from("/nonexistent/include")]
    }
}
