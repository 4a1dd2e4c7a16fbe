//! What a client may not read unless the operator allows it: the caller is
//! an agent, not the root user at a terminal. By default `cat()` reads only
//! kernel state under /proc and /sys (not another process's files, memory
//! or environment through them), and uprobes stay off credential handlers
//! and TLS libraries' plaintext. `--allow-sensitive` lifts both.

use std::path::Path;

use crate::{
    lang::ast::{Expr, ExprKind},
    probe::UserLocation,
};

/// Programs whose memory holds what users type to authenticate.
const CREDENTIAL_PROGRAMS: &[&str] = &[
    "sshd",
    "sshd-session",
    "sshd-auth",
    "sudo",
    "su",
    "passwd",
    "login",
    "gpg-agent",
    "ssh-agent",
];

/// Functions through which TLS libraries pass plaintext.
const TLS_FUNCTIONS: &[&str] = &[
    "SSL_read",
    "SSL_read_ex",
    "SSL_write",
    "SSL_write_ex",
    "SSL_peek",
    "gnutls_record_recv",
    "gnutls_record_send",
    "PR_Read",
    "PR_Write",
    "PR_Recv",
    "PR_Send",
    "mbedtls_ssl_read",
    "mbedtls_ssl_write",
    "wolfSSL_read",
    "wolfSSL_write",
];

/// Where cat() may read.
const READABLE: &[&str] = &["/proc/", "/sys/"];

/// /proc entries that lead into a process's files, memory or secrets.
const PROC_ESCAPES: &[&str] =
    &["root", "cwd", "exe", "fd", "map_files", "environ", "mem", "kcore", "kmem"];

/// Why a uprobe on `binary` at `location` is refused by default, if it is.
pub fn uprobe(binary: &Path, location: &UserLocation) -> Option<String> {
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if CREDENTIAL_PROGRAMS.contains(&name) {
        return Some(format!(
            "{} handles credentials: a uprobe there could read what users type to it",
            binary.display()
        ));
    }
    match location {
        UserLocation::Symbol { name, .. } if TLS_FUNCTIONS.contains(&name.as_str()) => Some(
            format!("{name} passes TLS plaintext: a uprobe there could read encrypted traffic"),
        ),
        _ => None,
    }
}

/// Why `cat(path)` is refused by default, if it is.
pub fn cat(path: &Expr) -> Option<String> {
    let ExprKind::Str(path) = &path.kind else {
        return Some("cat() reads a path given as a string literal".into());
    };
    let inside = READABLE.iter().any(|root| path.starts_with(root));
    let parts: Vec<&str> = path.split('/').collect();
    let escapes =
        parts.iter().any(|p| *p == ".." || PROC_ESCAPES.contains(p)) || path.contains('%');
    match (inside, escapes) {
        (true, false) => None,
        (false, _) => Some(format!("cat(\"{path}\") reads outside /proc and /sys")),
        (true, true) => Some(format!(
            "cat(\"{path}\") leads out of kernel state (into a process's files, memory or \
             environment)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::ast::Span;

    fn literal(s: &str) -> Expr {
        Expr { kind: ExprKind::Str(s.into()), span: Span::default() }
    }

    #[test]
    fn cat_reads_kernel_state_only() {
        for ok in ["/proc/loadavg", "/proc/1/status", "/sys/kernel/mm/transparent_hugepage/enabled"]
        {
            assert_eq!(cat(&literal(ok)), None, "{ok}");
        }
        for denied in [
            "/etc/shadow",
            "/proc/../etc/shadow",
            "/proc/1/root/etc/shadow",
            "/proc/self/environ",
            "/proc/1/fd/3",
            "/proc/kcore",
            "/proc/%d/status",
            "proc/loadavg",
        ] {
            assert!(cat(&literal(denied)).is_some(), "{denied}");
        }
    }

    #[test]
    fn credential_handlers_and_tls_plaintext_are_off_limits() {
        let sym = |n: &str| UserLocation::Symbol { name: n.into(), offset: 0 };
        assert!(uprobe(Path::new("/usr/bin/sudo"), &sym("main")).is_some());
        assert!(uprobe(Path::new("/usr/sbin/sshd"), &sym("main")).is_some());
        assert!(uprobe(Path::new("/usr/lib/libssl.so.3"), &sym("SSL_write")).is_some());
        assert!(uprobe(Path::new("/usr/bin/curl"), &sym("SSL_read")).is_some());
        assert_eq!(uprobe(Path::new("/usr/lib/libssl.so.3"), &sym("SSL_new")), None);
        assert_eq!(uprobe(Path::new("/bin/bash"), &sym("readline")), None);
    }
}
