//! Cgroup hierarchies and where a cgroup id sits in them, as bpftrace's
//! `cgroup_path(id [, filter])` prints it: `name:/path` for each mounted
//! hierarchy holding a node whose inode number is the id, joined by commas;
//! the cgroup v2 hierarchy first as `unified`, then the v1 hierarchies by
//! the name of their mount point's directory (`cpu`, `memory`, `systemd`).
//! An id is a v2 cgroup's inode number; a v1 hierarchy numbers its nodes
//! on its own, so there the same number names some other node (maybe a
//! file), and bpftrace lists it all the same, as this module does.

use std::{
    collections::HashMap,
    ffi::OsStr,
    fs,
    os::unix::{ffi::OsStrExt, fs::MetadataExt},
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock, PoisonError},
};

const MOUNTINFO: &str = "/proc/self/mountinfo";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {MOUNTINFO}: {0}")]
    Mounts(#[source] std::io::Error),
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// `unified` for cgroup v2; for v1 the last component of the mount
    /// point (`cpu,cpuacct`), as bpftrace names them.
    pub name: String,
    pub root: PathBuf,
    pub v2: bool,
}

/// The cgroup hierarchies mounted here, in mount order.
pub fn hierarchies() -> Result<Vec<Hierarchy>, CgroupError> {
    fs::read_to_string(MOUNTINFO).map(|text| parse_mountinfo(&text)).map_err(CgroupError::Mounts)
}

/// The cgroup mounts of a mountinfo file: `ID PARENT MAJ:MIN ROOT POINT
/// OPTIONS... - FSTYPE SOURCE SUPER_OPTIONS`, the mount point with octal
/// escapes.
fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    text.lines()
        .filter_map(|line| {
            let (fields, fs) = line.split_once(" - ")?;
            let v2 = match fs.split(' ').next()? {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let root = PathBuf::from(OsStr::from_bytes(&unescape(fields.split(' ').nth(4)?)));
            let name = match v2 {
                true => "unified".to_string(),
                false => root.file_name()?.to_string_lossy().into_owned(),
            };
            Some(Hierarchy { name, root, v2 })
        })
        .collect()
}

/// A mountinfo field with its octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let digits = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], digits) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `cgroup_path(id, filter)`'s text, looked up now: empty when no
/// hierarchy the filter passes holds the id.
pub fn path(id: u64, filter: &str) -> Result<Vec<u8>, CgroupError> {
    Ok(describe(filter, &hierarchies()?, &|root| locate(id, root)))
}

/// The text for the hierarchies `filter` passes, where `find` gives the
/// path under a hierarchy's root (None: the id is not there).
fn describe(
    filter: &str,
    hierarchies: &[Hierarchy],
    find: &dyn Fn(&Path) -> Option<Vec<u8>>,
) -> Vec<u8> {
    let mut chosen: Vec<&Hierarchy> =
        hierarchies.iter().filter(|h| filter_passes(filter, &h.name)).collect();
    // v2 first, in mount order; then v1 by name.
    chosen.sort_by_key(|h| (!h.v2, (!h.v2).then(|| h.name.clone())));
    let mut out = Vec::new();
    for h in chosen {
        let Some(at) = find(&h.root) else { continue };
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(h.name.as_bytes());
        out.push(b':');
        out.extend(at);
    }
    out
}

/// Whether `filter` (`*` for any run of characters) passes hierarchy
/// `name`, matched as bpftrace matches it: each piece between stars where
/// it first occurs after the one before, so `*r` fails `freezer` (its first
/// `r` is not at the end) where a glob would pass it. bpftrace crashes on
/// an empty filter; here it passes nothing.
fn filter_passes(filter: &str, name: &str) -> bool {
    let mut pieces = filter.split('*');
    // What comes before the first star starts the name.
    let head = pieces.next().unwrap_or_default();
    if filter.is_empty() || !name.starts_with(head) {
        return false;
    }
    let mut next = head.len();
    for piece in pieces.filter(|p| !p.is_empty()) {
        match name[next..].find(piece) {
            Some(at) => next += at + piece.len(),
            None => return false,
        }
    }
    filter.ends_with('*') || next == name.len()
}

/// Where under `root` the node with inode number `id` is: `/` for the root
/// itself, else `/a/b`. Found by walking the hierarchy depth first, and
/// remembered while the node stays there.
fn locate(id: u64, root: &Path) -> Option<Vec<u8>> {
    static FOUND: OnceLock<Mutex<HashMap<(u64, PathBuf), PathBuf>>> = OnceLock::new();
    let found = FOUND.get_or_init(Default::default);
    let key = (id, root.to_path_buf());
    let known = found.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
    let at = match known.filter(|p| fs::metadata(p).is_ok_and(|m| m.ino() == id)) {
        Some(at) => at,
        None => {
            let at = find(id, root)?;
            found.lock().unwrap_or_else(PoisonError::into_inner).insert(key, at.clone());
            at
        }
    };
    let below = at.strip_prefix(root).unwrap_or(&at);
    Some([b"/", below.as_os_str().as_bytes()].concat())
}

/// The node under `root` (or `root` itself) whose inode number is `id`,
/// as stat reports it (a directory entry's own number can differ from it
/// on some file systems, 9p among them); a directory it cannot read holds
/// nothing.
fn find(id: u64, root: &Path) -> Option<PathBuf> {
    if fs::metadata(root).ok()?.ino() == id {
        return Some(root.to_path_buf());
    }
    walk(id, root)
}

fn walk(id: u64, dir: &Path) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        if entry.metadata().is_ok_and(|m| m.ino() == id) {
            return Some(entry.path());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && let Some(at) = walk(id, &entry.path())
        {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
25 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
33 25 0:27 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755
35 33 0:29 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
36 33 0:30 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
39 33 0:33 / /sys/fs/cgroup/cpu,cpuacct rw shared:16 - cgroup cgroup rw,cpu,cpuacct
40 33 0:34 / /sys/fs/cgroup/blkio rw shared:17 - cgroup cgroup rw,blkio
41 33 0:35 / /mnt/my\\040cgroups rw - cgroup2 none rw
";

    fn hierarchy(name: &str, root: &str, v2: bool) -> Hierarchy {
        Hierarchy { name: name.into(), root: root.into(), v2 }
    }

    #[test]
    fn mountinfo_names_v2_unified_and_v1_by_mount_point() {
        assert_eq!(
            parse_mountinfo(SAMPLE),
            [
                hierarchy("unified", "/sys/fs/cgroup/unified", true),
                hierarchy("systemd", "/sys/fs/cgroup/systemd", false),
                hierarchy("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct", false),
                hierarchy("blkio", "/sys/fs/cgroup/blkio", false),
                hierarchy("unified", "/mnt/my cgroups", true),
            ]
        );
        assert_eq!(unescape(r"a\134b\040"), b"a\\b ");
        assert_eq!(unescape(r"end\04"), b"end\\04");
    }

    #[test]
    fn the_text_lists_v2_first_then_v1_by_name_where_the_id_is() {
        let all = parse_mountinfo(SAMPLE);
        let find = |root: &Path| match root.to_str() {
            Some("/sys/fs/cgroup/unified") => Some(b"/a/b".to_vec()),
            Some("/sys/fs/cgroup/cpu,cpuacct" | "/sys/fs/cgroup/blkio") => Some(b"/".to_vec()),
            _ => None,
        };
        let text = |filter| String::from_utf8(describe(filter, &all, &find)).unwrap();
        assert_eq!(text("*"), "unified:/a/b,blkio:/,cpu,cpuacct:/");
        assert_eq!(text("unified"), "unified:/a/b");
        assert_eq!(text("c*"), "cpu,cpuacct:/");
        assert_eq!(text("systemd"), "");
        assert_eq!(text(""), "");
    }

    #[test]
    fn filters_match_pieces_where_they_first_occur_as_bpftrace() {
        let passes = |f: &str, names: &[&str]| {
            let got: Vec<&str> = ["cpu", "cpuacct", "freezer", "memory", "unified"]
                .into_iter()
                .filter(|n| filter_passes(f, n))
                .collect();
            assert_eq!(got, names, "filter {f:?}");
        };
        passes("*", &["cpu", "cpuacct", "freezer", "memory", "unified"]);
        passes("**", &["cpu", "cpuacct", "freezer", "memory", "unified"]);
        passes("cpu", &["cpu"]);
        passes("c*u", &["cpu"]);
        passes("c*", &["cpu", "cpuacct"]);
        passes("*e*r", &["freezer"]);
        // A glob would pass freezer and memory; bpftrace does not.
        passes("*r", &[]);
        passes("*y", &["memory"]);
        passes("", &[]);
    }

    #[test]
    fn the_walk_finds_a_node_by_inode_number_below_its_root() {
        let root = std::env::temp_dir().join(format!("mcptrace-cgroups-{}", std::process::id()));
        let deep = root.join("a/b");
        fs::create_dir_all(&deep).unwrap();
        fs::write(root.join("a/file"), "").unwrap();
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(locate(ino(&root), &root).as_deref(), Some(&b"/"[..]));
        assert_eq!(locate(ino(&deep), &root).as_deref(), Some(&b"/a/b"[..]));
        // Asked again, from what it remembered.
        assert_eq!(locate(ino(&deep), &root).as_deref(), Some(&b"/a/b"[..]));
        assert_eq!(locate(ino(&root.join("a/file")), &root).as_deref(), Some(&b"/a/file"[..]));
        let gone = ino(&deep);
        fs::remove_dir(&deep).unwrap();
        assert_eq!(locate(gone, &root), None);
        fs::remove_dir_all(&root).unwrap();
    }
}
