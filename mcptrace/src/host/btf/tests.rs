use aya_obj::btf::BtfKind;

use super::*;

fn int(size: u8, signed: bool) -> Type {
    Type::Int { size, signed, char: false }
}

fn record(name: &str) -> Type {
    Type::Record { union: false, name: name.to_owned(), size: None }
}

/// Clears record sizes, which differ between kernel builds.
fn sizeless(t: &Type) -> Type {
    match t {
        Type::Record { union, name, .. } => {
            Type::Record { union: *union, name: name.clone(), size: None }
        }
        Type::Pointer(to) => Type::Pointer(Box::new(sizeless(to))),
        other => other.clone(),
    }
}

// The running kernel's BTF: every kernel this project runs on has these
// functions with these prototypes.

#[test]
fn vfs_read_has_four_named_typed_parameters() {
    let f = function("vfs_read").unwrap();
    let got: Vec<(&str, Type, &str)> = f
        .params
        .iter()
        .filter(|p| p.name != "buf")
        .map(|p| (p.name.as_str(), sizeless(&p.ty), p.c_type.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("file", Type::Pointer(Box::new(record("file"))), "struct file *"),
            ("count", int(8, false), "size_t"),
            ("pos", Type::Pointer(Box::new(int(8, true))), "loff_t *"),
        ]
    );
    // `char` is signed before 6.2 and unsigned since (-funsigned-char).
    assert!(
        matches!(f.params[1].ty, Type::Pointer(ref to) if matches!(**to, Type::Int { size: 1, char: true, .. }))
    );
    assert_eq!((f.params[1].name.as_str(), f.params[1].c_type.as_str()), ("buf", "char *"));
    assert!(f.params[1].ty.is_string());
    assert_eq!(
        (f.ret.clone(), f.ret_c_type.as_str(), f.variadic),
        (int(8, true), "ssize_t", false)
    );
    assert_eq!(f.params[2].ty.scalar(), Some(Scalar { size: 8, signed: false }));
    assert_eq!(f.params[0].ty.scalar(), Some(Scalar { size: 8, signed: false }));
    assert_eq!(f.param("count").map(|(i, _)| i), Some(2));
    assert_eq!((f.arg_offset(0), f.arg_offset(3), f.arg_offset(4)), (Some(0), Some(24), None));
    assert_eq!(f.ret_offset(), 32);
}

#[test]
fn do_sys_openat2_takes_a_character_pointer() {
    let f = function("do_sys_openat2").unwrap();
    let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["dfd", "filename", "how"]);
    let (i, filename) = f.param("filename").unwrap();
    assert_eq!((i, filename.c_type.as_str()), (1, "const char *"));
    assert!(filename.ty.is_string());
    assert!(!f.params[2].ty.is_string(), "struct open_how * is not a string");
    assert_eq!(f.params[0].ty, int(4, true));
    // `long` before 6.5, `int` since: signed either way.
    assert!(matches!(f.ret, Type::Int { signed: true, size: 4 | 8, .. }), "{:?}", f.ret);
}

#[test]
fn void_and_bool_returns() {
    let kfree = function("kfree").unwrap();
    assert_eq!((kfree.ret.clone(), kfree.ret_c_type.as_str()), (Type::Void, "void"));
    assert_eq!(kfree.params[0].c_type, "const void *");
    let capable = function("capable").unwrap();
    assert_eq!((capable.ret.clone(), capable.ret_c_type.as_str()), (Type::Bool, "bool"));
    assert_eq!(capable.ret.scalar(), Some(Scalar { size: 1, signed: false }));
}

#[test]
fn missing_functions_and_other_kinds_are_told_apart() {
    assert_eq!(
        function("mcptrace_no_such_function"),
        Err(BtfError::NoFunction("mcptrace_no_such_function".into()))
    );
    assert_eq!(
        function("task_struct"),
        Err(BtfError::NotAFunction { name: "task_struct".into(), kind: "struct" })
    );
}

/// aya's parse, which picks the attach target at load time, agrees with
/// the index on the id.
#[test]
fn aya_finds_the_same_btf_id() {
    let btf = kernel().unwrap();
    let id = btf.aya().unwrap().id_by_type_name_kind("vfs_read", BtfKind::Func).unwrap();
    assert_eq!(id, function("vfs_read").unwrap().btf_id);
}

/// BTF written by hand, for what the kernel's BTF may not show.
#[derive(Default)]
struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    count: u32,
}

impl Builder {
    fn new() -> Self {
        Self { strings: vec![0], ..Self::default() }
    }

    fn name(&mut self, name: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }

    /// Adds a type record and returns its id.
    fn add(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32, trailer: &[u32]) -> u32 {
        let name = if name.is_empty() { 0 } else { self.name(name) };
        for w in [name, kind << 24 | vlen, size_or_type].iter().chain(trailer) {
            self.types.extend_from_slice(&w.to_ne_bytes());
        }
        self.count += 1;
        self.count
    }

    fn build(self) -> Vec<u8> {
        let (tl, sl) = (self.types.len() as u32, self.strings.len() as u32);
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9f_u16.to_ne_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [24, 0, tl, tl, sl] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend(self.types);
        out.extend(self.strings);
        out
    }
}

#[test]
fn a_struct_by_value_takes_two_context_words() {
    let mut b = Builder::new();
    let long = b.add("long", 1, 0, 8, &[1 << 24 | 64]);
    let pair = b.add("pair", 4, 0, 16, &[]);
    let (x, p, y) = (b.name("x"), b.name("p"), b.name("y"));
    let proto = b.add("", 13, 4, long, &[x, long, p, pair, y, long, 0, 0]);
    b.add("f", 12, 0, proto, &[]);
    let f = Btf::parse(b.build()).unwrap().function("f").unwrap();
    assert!(f.variadic);
    assert_eq!(f.params[1].ty, Type::Record { union: false, name: "pair".into(), size: Some(16) });
    assert_eq!(f.params[1].ty.scalar(), None);
    assert_eq!((f.arg_offset(1), f.arg_offset(2)), (Some(8), Some(24)));
    assert_eq!(f.ret_offset(), 32);
}

#[test]
fn qualifiers_typedefs_and_enums_resolve() {
    let mut b = Builder::new();
    let uchar = b.add("unsigned char", 1, 0, 1, &[8]);
    let volatile = b.add("", 9, 0, uchar, &[]);
    let ptr = b.add("", 2, 0, volatile, &[]);
    let cptr = b.add("", 10, 0, ptr, &[]);
    let mode = b.add("mode", 6, 1, 4, &[0, 0]);
    let mode_t = b.add("mode_t", 8, 0, mode, &[]);
    let (s, m) = (b.name("s"), b.name("m"));
    let proto = b.add("", 13, 2, mode_t, &[s, cptr, m, mode_t]);
    b.add("g", 12, 0, proto, &[]);
    let f = Btf::parse(b.build()).unwrap().function("g").unwrap();
    assert_eq!(f.params[0].c_type, "volatile unsigned char * const");
    assert!(f.params[0].ty.is_string());
    assert_eq!(f.params[1].ty, Type::Enum { size: 4, signed: false });
    assert_eq!(
        (f.ret_c_type.as_str(), f.ret.scalar()),
        ("mode_t", Some(Scalar { size: 4, signed: false }))
    );
}

#[test]
fn malformed_btf_is_an_error_not_a_panic() {
    assert!(matches!(Btf::parse(vec![0; 8]), Err(BtfError::Malformed(_))));
    let mut b = Builder::new();
    // A typedef naming itself.
    let t = b.add("loop", 8, 0, 1, &[]);
    let proto = b.add("", 13, 0, t, &[]);
    b.add("h", 12, 0, proto, &[]);
    let btf = Btf::parse(b.build()).unwrap();
    assert!(matches!(btf.function("h"), Err(BtfError::Malformed(_))));
    let mut bytes = Builder::new().build();
    bytes[12] = 0xff; // type section longer than the data
    assert!(matches!(Btf::parse(bytes), Err(BtfError::Malformed(_))));
}

#[test]
fn enumerators_come_by_name_with_their_values() {
    assert_eq!(enumerator("TCP_ESTABLISHED"), Ok(Some(1)));
    assert_eq!(enumerator("TCP_CLOSE"), Ok(Some(7)));
    assert_eq!(enumerator("BPF_PROG_TYPE_KPROBE"), Ok(Some(2)));
    assert_eq!(enumerator("NO_SUCH_ENUMERATOR_HERE"), Ok(None));
}

#[test]
fn kernel_types_have_sizes_alignments_and_members() {
    use crate::lang::c_layout::Layout;
    let task = shape("struct task_struct").unwrap().unwrap();
    assert!(task.layout.size > 1000 && task.layout.size.is_multiple_of(task.layout.align));
    let pid = task.member("pid").unwrap();
    assert_eq!(pid.layout, Some(Layout { size: 4, align: 4 }));
    assert_eq!(task.member("comm").unwrap().layout.map(|l| l.size), Some(16));
    // `struct sk_buff` names members of its anonymous unions as its own.
    let skb = shape("struct sk_buff").unwrap().unwrap();
    assert_eq!(skb.member("len").unwrap().layout.map(|l| l.size), Some(4));
    assert!(skb.member("next").is_some());
    assert_eq!(shape("u64").unwrap().map(|s| s.layout), Some(Layout { size: 8, align: 8 }));
    assert!(shape("union bpf_attr").unwrap().is_some());
    assert_eq!(shape("struct no_such_struct_here").unwrap(), None);
}
