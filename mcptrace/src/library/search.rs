//! Finding library programs by keyword: every word of the query must occur
//! somewhere in a program's name, title, description, keywords or probe
//! kinds; programs whose name, title or keywords hold the words come first.

use super::{PROGRAMS, Program};
use crate::lang::ast::ProbeKind;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error(
        "unknown probe kind `{0}` (e.g. tracepoint, uprobe, uretprobe, profile, software, interval, kprobe)"
    )]
    UnknownKind(String),
}

/// The programs matching `query` (words, any case; empty matches all) that
/// attach a probe of `kind` when given (`tracepoint`, `uprobe`, or an alias
/// such as `t`), best matches first, catalog order among equals.
pub fn search(query: &str, kind: Option<&str>) -> Result<Vec<&'static Program>, SearchError> {
    let kind = match kind {
        Some(name) => {
            Some(ProbeKind::from_name(name).ok_or_else(|| SearchError::UnknownKind(name.into()))?)
        }
        None => None,
    };
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut found: Vec<(usize, &'static Program)> = PROGRAMS
        .iter()
        .filter(|p| kind.is_none_or(|k| p.probe_kinds().contains(&k)))
        .filter_map(|p| Some((score(p, &words)?, p)))
        .collect();
    found.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// How well `program` matches every one of `words`, or `None` if one is
/// missing: a word in the name, title or keywords counts more than one
/// only in the description or probe kinds.
fn score(program: &Program, words: &[String]) -> Option<usize> {
    let strong = format!(
        "{} {} {}",
        program.name.replace('_', " "),
        program.title,
        program.keywords.join(" ")
    )
    .to_lowercase();
    let kinds: Vec<&str> = program.probe_kinds().into_iter().map(ProbeKind::name).collect();
    let weak = format!("{} {}", program.description, kinds.join(" ")).to_lowercase();
    words.iter().try_fold(0, |total, word| {
        if strong.contains(word.as_str()) {
            Some(total + 2)
        } else if weak.contains(word.as_str()) {
            Some(total + 1)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(query: &str, kind: Option<&str>) -> Vec<&'static str> {
        search(query, kind).unwrap().iter().map(|p| p.name).collect()
    }

    #[test]
    fn every_word_must_match_in_any_case() {
        assert_eq!(names("", None).len(), PROGRAMS.len());
        let tcp = names("TCP connect", None);
        assert!(tcp.contains(&"tcp_connects_by_process"), "{tcp:?}");
        assert!(!tcp.contains(&"tcp_send_sizes"), "{tcp:?}");
        assert_eq!(names("tcp KPROBE", None), ["tcp_send_sizes"]);
        assert!(names("no-such-thing", None).is_empty());
    }

    #[test]
    fn stronger_matches_come_first_and_kind_filters() {
        let latency = names("latency", None);
        assert!(latency.len() > 3, "{latency:?}");
        let malloc = names("malloc", Some("uprobe"));
        assert_eq!(malloc, ["malloc_sizes_of_pid", "malloc_bytes_by_stack_of_pid"]);
        assert!(names("malloc", Some("tracepoint")).is_empty());
        let kprobes = names("", Some("kprobe"));
        assert_eq!(kprobes, ["tcp_send_sizes", "vfs_calls_by_process"]);
        assert_eq!(names("", Some("u")), names("", Some("uprobe")));
        let unknown = search("", Some("kprob")).map(|found| found.len());
        assert_eq!(unknown, Err(SearchError::UnknownKind("kprob".into())));
    }
}
