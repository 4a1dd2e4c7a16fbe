//! Named bearer tokens with roles, from a TOML file the operator owns
//! (`serve --tokens FILE`), or the one token of MCPTRACE_TOKEN. A file
//! entry holds the SHA-256 of its secret (`sha256`), so the file itself
//! gives no one access; `secret` in clear is read too. Unknown keys are
//! errors naming their line, as in the policy file.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::{Deserialize, Deserializer, de::Error as _};
use sha2::{Digest, Sha256};

use super::private::{self, PrivateFileError};
use crate::{
    mcp::caller::{Caller, Role},
    scope::Scope,
};

/// The name MCPTRACE_TOKEN's token has in the audit log.
pub const ENV_NAME: &str = "env";

type Hash = [u8; 32];

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error(transparent)]
    Private(#[from] PrivateFileError),
    /// toml's message names the line, the column and the key.
    #[error("tokens file {}: {source}", path.display())]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("tokens file {}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default, deserialize_with = "hex_hash")]
    sha256: Option<Hash>,
    role: Role,
    #[serde(default)]
    scope: Option<Scope>,
}

/// The callers a server knows, each by its secret's hash.
#[derive(Debug)]
pub struct Tokens(Vec<(Hash, Arc<Caller>)>);

impl Tokens {
    /// The tokens of `path`, which must be private to the operator.
    pub fn load(path: &Path) -> Result<Self, TokensError> {
        let bytes = private::read(path)?;
        Self::parse(&bytes).map_err(|e| match e {
            Problem::Toml(source) => TokensError::Parse { path: path.into(), source },
            Problem::Invalid(problem) => TokensError::Invalid { path: path.into(), problem },
        })
    }

    /// MCPTRACE_TOKEN's one token: named `env`, role trace, as before
    /// tokens files.
    pub fn single(secret: &str) -> Self {
        Self(vec![(hash(secret.as_bytes()), Caller::trusted(ENV_NAME))])
    }

    fn parse(bytes: &[u8]) -> Result<Self, Problem> {
        let file: File = toml::from_slice(bytes).map_err(Problem::Toml)?;
        if file.token.is_empty() {
            return Err(Problem::Invalid("no [[token]] entries".into()));
        }
        let mut names = HashSet::new();
        let mut tokens = Vec::new();
        for entry in file.token {
            let invalid = |what: &str| Problem::Invalid(format!("token `{}`: {what}", entry.name));
            if entry.name.is_empty() {
                return Err(Problem::Invalid("a token has an empty name".into()));
            }
            if !names.insert(entry.name.clone()) {
                return Err(invalid("the name is given twice"));
            }
            let hash = match (&entry.secret, entry.sha256) {
                (Some(secret), None) if !secret.is_empty() => hash(secret.as_bytes()),
                (None, Some(hash)) => hash,
                (Some(_), Some(_)) => return Err(invalid("give secret or sha256, not both")),
                _ => return Err(invalid("needs sha256 (or secret)")),
            };
            if tokens.iter().any(|(h, _)| *h == hash) {
                return Err(invalid("its secret is another token's too"));
            }
            let caller = Caller { name: entry.name, role: entry.role, scope: entry.scope };
            tokens.push((hash, Arc::new(caller)));
        }
        Ok(Self(tokens))
    }

    /// The caller whose secret is `secret`. Hashes are compared, so the
    /// time taken tells nothing about a guess's likeness to a secret.
    pub fn find(&self, secret: &[u8]) -> Option<&Arc<Caller>> {
        let given = hash(secret);
        self.0.iter().find(|(h, _)| *h == given).map(|(_, caller)| caller)
    }
}

enum Problem {
    Toml(toml::de::Error),
    Invalid(String),
}

fn hash(secret: &[u8]) -> Hash {
    Sha256::digest(secret).into()
}

/// 64 hex digits, as `sha256sum` prints them.
fn hex_hash<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
    let text = String::deserialize(d)?;
    let bad =
        || D::Error::custom("expected 64 hex digits, as `printf %s SECRET | sha256sum` prints");
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(bad());
    }
    let mut hash = [0; 32];
    for (byte, pair) in hash.iter_mut().zip(bytes.chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(Some(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        match Tokens::parse(text.as_bytes()) {
            Ok(tokens) => panic!("accepted: {tokens:?}"),
            Err(Problem::Toml(e)) => e.to_string(),
            Err(Problem::Invalid(p)) => p,
        }
    }

    #[test]
    fn tokens_are_found_by_secret_or_hash() {
        let digest: String = hash(b"s3cret").iter().map(|b| format!("{b:02x}")).collect();
        let text = format!(
            "[[token]]\nname = \"a\"\nsha256 = \"{digest}\"\nrole = \"observe\"\n\
             [[token]]\nname = \"b\"\nsecret = \"other\"\nrole = \"trace\"\n"
        );
        let tokens = Tokens::parse(text.as_bytes()).ok().unwrap();
        let a = tokens.find(b"s3cret").unwrap();
        assert_eq!((a.name.as_str(), a.role), ("a", Role::Observe));
        assert_eq!(tokens.find(b"other").unwrap().role, Role::Trace);
        assert!(tokens.find(b"s3cre").is_none() && tokens.find(digest.as_bytes()).is_none());
        assert_eq!(Tokens::single("x").find(b"x").unwrap().name, ENV_NAME);
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = problem(
            "[[token]]\nname = \"a\"\nsecret = \"x\"\nrole = \"trace\"\nscop = \"pid=1\"\n",
        );
        assert!(unknown.contains("line 5") && unknown.contains("scop"), "{unknown}");
        let role = problem("[[token]]\nname = \"a\"\nsecret = \"x\"\nrole = \"admin\"\n");
        assert!(role.contains("line 4") && role.contains("observe"), "{role}");
        let short = problem("[[token]]\nname = \"a\"\nsha256 = \"abc\"\nrole = \"trace\"\n");
        assert!(short.contains("line 3") && short.contains("64 hex digits"), "{short}");
        let both = format!(
            "[[token]]\nname = \"a\"\nsecret = \"x\"\nsha256 = \"{}\"\nrole = \"trace\"\n",
            "ab".repeat(32)
        );
        assert_eq!(problem(&both), "token `a`: give secret or sha256, not both");
        let twice = "[[token]]\nname = \"a\"\nsecret = \"x\"\nrole = \"trace\"\n\
                     [[token]]\nname = \"a\"\nsecret = \"y\"\nrole = \"trace\"\n";
        assert_eq!(problem(twice), "token `a`: the name is given twice");
        let shared = "[[token]]\nname = \"a\"\nsecret = \"x\"\nrole = \"trace\"\n\
                      [[token]]\nname = \"b\"\nsecret = \"x\"\nrole = \"trace\"\n";
        assert_eq!(problem(shared), "token `b`: its secret is another token's too");
        assert_eq!(problem(""), "no [[token]] entries");
        let none = problem("[[token]]\nname = \"a\"\nrole = \"trace\"\n");
        assert_eq!(none, "token `a`: needs sha256 (or secret)");
    }
}
