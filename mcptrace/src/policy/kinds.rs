//! The probe kinds a policy lets attach, written as bpftrace names.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::lang::ast::ProbeKind;

/// A set of probe kinds, kept in [`ProbeKind::ALL`]'s order so that two
/// policies listing the same kinds are equal and print alike. BEGIN and END
/// are never in it: they attach to nothing and are always allowed.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(with = "Vec<String>")]
pub struct ProbeKinds(Vec<ProbeKind>);

impl ProbeKinds {
    pub fn contains(&self, kind: ProbeKind) -> bool {
        always_allowed(kind) || self.0.contains(&kind)
    }

    fn of(mut kinds: Vec<ProbeKind>) -> Self {
        kinds.sort_by_key(|k| ProbeKind::ALL.iter().position(|a| a == k));
        kinds.dedup();
        Self(kinds)
    }
}

/// Every kind that attaches to something.
impl Default for ProbeKinds {
    fn default() -> Self {
        Self(ProbeKind::ALL.into_iter().filter(|k| !always_allowed(*k)).collect())
    }
}

fn always_allowed(kind: ProbeKind) -> bool {
    matches!(kind, ProbeKind::Begin | ProbeKind::End)
}

impl Serialize for ProbeKinds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|k| k.name()))
    }
}

impl<'de> Deserialize<'de> for ProbeKinds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let kinds = names
            .iter()
            .map(|name| match ProbeKind::from_name(name) {
                Some(kind) if always_allowed(kind) => Err(D::Error::custom(format!(
                    "{name} is always allowed; leave it out of probes.kinds"
                ))),
                Some(kind) => Ok(kind),
                None => Err(D::Error::custom(format!(
                    "unknown probe kind `{name}`; expected one of {}",
                    Self::default().0.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::of(kinds))
    }
}
