//! The kernel's enumerators by name (`TCP_ESTABLISHED` → 1), which
//! bpftrace lets a program use as constants. The table is built from the
//! kernel's BTF once per process, on the first name asked for: a program
//! that uses none never pays for it.

use std::{collections::HashMap, sync::OnceLock};

use super::{Btf, BtfError, kernel};

/// Enumerator names and values; the first of a name wins.
pub struct Enumerators(HashMap<String, i128>);

impl Enumerators {
    pub fn of(btf: &Btf) -> Enumerators {
        let mut table = HashMap::new();
        for (name, value) in btf.raw.enumerators() {
            if let Ok(name) = btf.raw.name(name) {
                table.entry(name.to_owned()).or_insert(value);
            }
        }
        Enumerators(table)
    }

    pub fn get(&self, name: &str) -> Option<i128> {
        self.0.get(name).copied()
    }
}

/// The value of enumerator `name` in the running kernel's BTF.
pub fn enumerator(name: &str) -> Result<Option<i128>, BtfError> {
    static TABLE: OnceLock<Result<Enumerators, BtfError>> = OnceLock::new();
    let table = TABLE.get_or_init(|| kernel().map(Enumerators::of));
    table.as_ref().map(|t| t.get(name)).map_err(Clone::clone)
}
