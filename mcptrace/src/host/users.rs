//! User names by uid, as `username` prints them: from /etc/passwd, read once.

use std::{collections::HashMap, sync::OnceLock};

/// The name of user `uid`, or the uid itself when /etc/passwd lacks it.
pub fn name(uid: u64) -> String {
    static USERS: OnceLock<HashMap<u64, String>> = OnceLock::new();
    let users =
        USERS.get_or_init(|| parse(&std::fs::read_to_string("/etc/passwd").unwrap_or_default()));
    users.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// `name:password:uid:...` lines; the first line for a uid wins.
fn parse(passwd: &str) -> HashMap<u64, String> {
    let mut users = HashMap::new();
    for line in passwd.lines() {
        let mut fields = line.split(':');
        if let (Some(name), Some(Ok(uid))) = (fields.next(), fields.nth(1).map(str::parse)) {
            users.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_by_uid() {
        let users = parse(
            "root:x:0:0:root:/root:/bin/bash\nbad line\nnobody:x:65534:65534::/:/sbin/nologin\nroot2:x:0:0::/:/bin/sh\n",
        );
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(users.len(), 2);
    }
}
