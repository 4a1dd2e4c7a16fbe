//! Files that hold secrets (the tokens file, the TLS key) must be the
//! operator's alone: owned by root or the server's user, and neither
//! readable nor writable by anyone else, who could read a secret or add a
//! token of their own.

use std::{
    fs::File,
    io::{self, Read},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{path} may be read or written by its group or others (mode {mode:04o}); it holds \
         secrets: `chmod 600 {path}`",
        path = path.display()
    )]
    Open { path: PathBuf, mode: u32 },
    #[error(
        "{path} is owned by uid {owner}, not root or this server's user (uid {me}); another \
         user could change it: `chown {me} {path}`",
        path = path.display()
    )]
    Owner { path: PathBuf, owner: u32, me: u32 },
}

/// The bytes of `path`, once it is known to be private. The checks read
/// the opened file's metadata, so they are about the bytes read.
pub fn read(path: &Path) -> Result<Vec<u8>, PrivateFileError> {
    let failed = |source| PrivateFileError::Read { path: path.into(), source };
    let mut file = File::open(path).map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PrivateFileError::Open { path: path.into(), mode });
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Err(PrivateFileError::Owner { path: path.into(), owner: meta.uid(), me });
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(failed)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_owner_only_files_are_read() {
        let path = std::env::temp_dir().join(format!("mcptrace-private-{}", std::process::id()));
        std::fs::write(&path, "secret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = read(&path).unwrap_err().to_string();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ok = read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("mode 0640") && err.contains("chmod 600"), "{err}");
        assert_eq!(ok, b"secret");
    }
}
