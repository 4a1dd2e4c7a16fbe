//! The policy as a TOML file: read with `--policy FILE`, written by
//! `mcptrace policy`. Every key is optional (a missing one keeps its
//! default) and an unknown one is an error naming it and its line, so a
//! typo never silently leaves a default in force.

use std::path::{Path, PathBuf};

use super::Policy;

#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read the policy file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// toml's message names the line, the column and the key.
    #[error("policy file {}: {source}", path.display())]
    Parse { path: PathBuf, source: toml::de::Error },
}

impl Policy {
    /// Reads the policy in `path`; denials will name that file.
    pub fn load(path: &Path) -> Result<Self, PolicyFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyFileError::Read { path: path.into(), source })?;
        let policy = Self::from_toml(&text)
            .map_err(|source| PolicyFileError::Parse { path: path.into(), source })?;
        Ok(Self { file: Some(path.into()), ..policy })
    }

    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The whole policy as a file [`Policy::load`] reads back to the same.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a policy is plain data that TOML holds")
    }
}
