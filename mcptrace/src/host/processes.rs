//! The processes running now, from /proc: their ids, and the names their
//! threads go by (what a program's `comm` sees).

use std::{collections::BTreeSet, fs, path::Path};

/// Every process id, ascending.
pub fn pids() -> Vec<u32> {
    let mut pids: Vec<u32> = numbered(Path::new("/proc")).collect();
    pids.sort_unstable();
    pids
}

/// Every thread's name, each once, sorted. Threads may be named apart from
/// their process (`tokio-runtime-w`), and `comm` is the thread's name.
pub fn comms() -> BTreeSet<String> {
    let tasks = numbered(Path::new("/proc")).flat_map(|pid| {
        numbered(Path::new(&format!("/proc/{pid}/task"))).map(move |tid| (pid, tid))
    });
    tasks
        .filter_map(|(pid, tid)| fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).ok())
        .map(|comm| comm.trim_end_matches('\n').to_string())
        .collect()
}

/// The numbers among `dir`'s entries (processes or threads); those that
/// end while it is read are simply missing.
fn numbered(dir: &Path) -> impl Iterator<Item = u32> + use<> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_its_name_are_found() {
        assert!(pids().contains(&std::process::id()));
        let own = fs::read_to_string("/proc/self/comm").unwrap();
        assert!(comms().contains(own.trim_end()));
    }
}
