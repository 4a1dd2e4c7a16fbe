//! Locating tracefs and reading tracepoint `format` files.

use std::{
    ffi::CString,
    fs, io,
    path::{Path, PathBuf},
    sync::OnceLock,
};

#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    #[error(
        "tracefs is not mounted and could not be mounted at /sys/kernel/tracing ({0}); \
         mount it with `mount -t tracefs tracefs /sys/kernel/tracing` as root"
    )]
    NotMounted(io::Error),
    #[error("tracepoint {category}:{name} does not exist")]
    UnknownTracepoint { category: String, name: String },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("malformed format file {path}: {line}")]
    Malformed { path: PathBuf, line: String },
}

const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs root, mounting it at /sys/kernel/tracing when it is missing.
/// Looked up once per process.
pub fn root() -> Result<&'static Path, TracefsError> {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    if let Some(root) = ROOT.get() {
        return Ok(root);
    }
    let found = match CANDIDATES.iter().map(Path::new).find(|p| is_tracefs(p)) {
        Some(p) => p.to_path_buf(),
        None => mount(CANDIDATES[0]).map_err(TracefsError::NotMounted)?,
    };
    Ok(ROOT.get_or_init(|| found))
}

fn is_tracefs(path: &Path) -> bool {
    path.join("events").is_dir()
}

fn mount(target: &str) -> io::Result<PathBuf> {
    let c = |s: &str| CString::new(s).expect("no NUL");
    let (src, dst, fstype) = (c("tracefs"), c(target), c("tracefs"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc =
        unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PathBuf::from(target))
}

/// One field of a tracepoint record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The C type as declared, array suffix included (`char comm[16]`→`char[16]`).
    pub c_type: String,
    pub offset: u32,
    /// The size the format file states.
    pub size: u32,
    /// The value's width in bytes as the C type gives it; syscall formats
    /// state 8 for `int` arguments, which hold a 4-byte value.
    pub width: u32,
    pub signed: bool,
    /// `__data_loc` fields hold an offset/length pair, not the value.
    pub data_loc: bool,
    pub array_len: Option<u32>,
}

impl Field {
    pub fn is_pointer(&self) -> bool {
        self.c_type.contains('*')
    }
    /// `char *`/`const char *`: a pointer bpftrace would read with `str()`.
    pub fn is_char_pointer(&self) -> bool {
        self.is_pointer() && self.c_type.replace("const ", "").trim_start().starts_with("char")
    }
    /// Fields with names starting `common_` belong to every tracepoint.
    pub fn is_common(&self) -> bool {
        self.name.starts_with("common_")
    }
}

/// A tracepoint's `format` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Format {
    pub id: u32,
    pub fields: Vec<Field>,
}

impl Format {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// Bytes from the record's start to the end of its last field.
    pub fn record_len(&self) -> u32 {
        self.fields.iter().map(|f| f.offset + f.size).max().unwrap_or(0)
    }
    /// Fields a program may read (`args->x`), without the common header.
    pub fn args(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.is_common())
    }
}

/// Reads and parses `events/<category>/<name>/format`.
pub fn format(category: &str, name: &str) -> Result<Format, TracefsError> {
    let dir = root()?.join("events").join(category).join(name);
    let path = dir.join("format");
    let text = fs::read_to_string(&path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            TracefsError::UnknownTracepoint { category: category.into(), name: name.into() }
        } else {
            TracefsError::Read { path: path.clone(), source }
        }
    })?;
    parse_format(&text).map_err(|line| TracefsError::Malformed { path, line })
}

/// Parses a format file; on failure returns the offending line.
pub fn parse_format(text: &str) -> Result<Format, String> {
    let mut id = 0;
    let mut fields = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("ID:") {
            id = v.trim().parse().map_err(|_| line.to_string())?;
        } else if line.starts_with("field:") {
            fields.push(parse_field(line).ok_or_else(|| line.to_string())?);
        }
    }
    Ok(Format { id, fields })
}

fn parse_field(line: &str) -> Option<Field> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, None);
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once(':')?;
        match key {
            "field" => decl = Some(value.trim()),
            "offset" => offset = value.parse().ok(),
            "size" => size = value.parse().ok(),
            "signed" => signed = Some(value == "1"),
            _ => {}
        }
    }
    let decl = decl?;
    let data_loc = decl.starts_with("__data_loc ");
    let decl = decl.trim_start_matches("__data_loc ").trim();
    // `char comm[16]`, `unsigned long args[6]`, `const char * filename`
    let (decl, array_len) = match decl.strip_suffix(']').and_then(|d| d.rsplit_once('[')) {
        Some((d, n)) => (d.trim(), Some(n.parse().unwrap_or(0))),
        None => (decl, None),
    };
    let split = decl.rfind(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    let name = decl[split + 1..].to_string();
    let base = decl[..=split].trim().to_string();
    let size: u32 = size?;
    let signed_field: bool = signed?;
    let (width, signed) = c_width(&base).unwrap_or((size, signed_field));
    let c_type = match array_len {
        Some(n) => format!("{base}[{n}]"),
        None => base,
    };
    Some(Field {
        name,
        c_type,
        offset: offset?,
        size,
        width: if array_len.is_some() || data_loc { size } else { width.min(size) },
        signed: if data_loc { false } else { signed },
        data_loc,
        array_len,
    })
}

/// Width and signedness of a scalar C type, where the name says it.
fn c_width(c_type: &str) -> Option<(u32, bool)> {
    if c_type.contains('*') {
        return Some((8, false));
    }
    let t = c_type.replace("const ", "").replace("volatile ", "");
    let t = t.trim();
    let unsigned = t.starts_with("unsigned") || t.starts_with('u') || t.starts_with("__u");
    let core = t.trim_start_matches("unsigned").trim_start_matches("signed").trim();
    let width = match core {
        "char" | "u8" | "s8" | "__u8" | "__s8" | "bool" | "_Bool" => 1,
        "short" | "short int" | "u16" | "s16" | "__u16" | "__s16" | "umode_t" => 2,
        "int" | "" | "u32" | "s32" | "__u32" | "__s32" | "pid_t" | "uid_t" | "gid_t"
        | "key_serial_t" | "qid_t" | "rwf_t" | "clockid_t" | "mqd_t" | "timer_t" => 4,
        "long" | "long int" | "long long" | "long long int" | "u64" | "s64" | "__u64" | "__s64"
        | "size_t" | "ssize_t" | "loff_t" | "off_t" | "time_t" | "aio_context_t" | "key_t"
        | "cap_user_header_t" | "cap_user_data_t" | "unsigned long" => 8,
        _ => return None,
    };
    let signed =
        !unsigned && !matches!(core, "size_t" | "umode_t" | "bool" | "_Bool") && core != "char";
    Some((width, signed || core == "char" && t.starts_with("signed")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str = "name: sys_enter_openat
ID: 640
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: \"dfd: 0x%08lx\", ((unsigned long)(REC->dfd))
";

    #[test]
    fn parses_syscall_format_with_c_widths() {
        let f = parse_format(OPENAT).unwrap();
        assert_eq!(f.id, 640);
        let dfd = f.field("dfd").unwrap();
        assert_eq!((dfd.offset, dfd.size, dfd.width, dfd.signed), (16, 8, 4, true));
        let filename = f.field("filename").unwrap();
        assert!(filename.is_char_pointer());
        assert_eq!((filename.offset, filename.width, filename.signed), (24, 8, false));
        assert_eq!(f.field("mode").unwrap().width, 2);
        assert_eq!(f.record_len(), 48);
        assert_eq!(f.args().count(), 5);
    }

    #[test]
    fn parses_arrays_and_data_loc() {
        let text = "ID: 1\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
                    \tfield:__data_loc char[] name;\toffset:24;\tsize:4;\tsigned:0;\n";
        let f = parse_format(text).unwrap();
        let comm = f.field("comm").unwrap();
        assert_eq!((comm.c_type.as_str(), comm.array_len, comm.width), ("char[16]", Some(16), 16));
        let name = f.field("name").unwrap();
        assert!(name.data_loc);
        assert_eq!(name.width, 4);
    }

    #[test]
    fn rejects_a_field_without_offset() {
        assert!(parse_format("\tfield:int x;\tsize:4;\tsigned:1;\n").is_err());
    }
}
