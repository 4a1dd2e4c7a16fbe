//! What the keys of a config block (bpftrace 0.20+) mean: their names as
//! bpftrace reads them (any case, an optional `BPFTRACE_` prefix, the names
//! 0.20 renamed), the values each takes, whether the native engine honors
//! the value, and its bpftrace 0.17 form — the environment variable 0.17
//! reads, nothing where the key changes no output, or the release that
//! first has it.

use mcptrace_common::limits::{MAP_ENTRIES, STR_LEN};

use super::{
    ast::{ConfigEntry, ConfigValue},
    pretty,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    MaxStrlen,
    MaxMapKeys,
    MaxCatBytes,
    MaxProbes,
    MaxBpfProgs,
    LogSize,
    PerfRbPages,
    OnStackLimit,
    CppDemangle,
    LazySymbolication,
    License,
    CacheUserSymbols,
    StackMode,
    StrTruncTrailer,
    MissingProbes,
    PrintMapsOnExit,
    UseBlazesym,
    ShowDebugInfo,
    /// `unstable_*`: feature flags for constructs neither backend has.
    Unstable,
}

/// The values a key takes.
enum Takes {
    Uint,
    Bool,
    Text,
    /// One of these words (any case, as a word or a string).
    Word(&'static [&'static str]),
}

/// A key's value, checked against what the key takes; words lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Uint(u64),
    Bool(bool),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("`{0}` is not a known configuration option")]
    UnknownKey(String),
    #[error("`{0}` can only be set as an environment variable")]
    EnvironmentOnly(String),
    #[error("config `{key}` takes {expected}")]
    BadValue { key: &'static str, expected: String },
}

/// A checked `key = value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: Key,
    pub value: Value,
}

impl Key {
    const ALL: [(&'static str, Key); 18] = [
        ("max_strlen", Key::MaxStrlen),
        ("max_map_keys", Key::MaxMapKeys),
        ("max_cat_bytes", Key::MaxCatBytes),
        ("max_probes", Key::MaxProbes),
        ("max_bpf_progs", Key::MaxBpfProgs),
        ("log_size", Key::LogSize),
        ("perf_rb_pages", Key::PerfRbPages),
        ("on_stack_limit", Key::OnStackLimit),
        ("cpp_demangle", Key::CppDemangle),
        ("lazy_symbolication", Key::LazySymbolication),
        ("license", Key::License),
        ("cache_user_symbols", Key::CacheUserSymbols),
        ("stack_mode", Key::StackMode),
        ("str_trunc_trailer", Key::StrTruncTrailer),
        ("missing_probes", Key::MissingProbes),
        ("print_maps_on_exit", Key::PrintMapsOnExit),
        ("use_blazesym", Key::UseBlazesym),
        ("show_debug_info", Key::ShowDebugInfo),
    ];

    /// The key `written` names, as bpftrace reads it.
    pub fn from_name(written: &str) -> Result<Key, ConfigError> {
        let lower = written.to_ascii_lowercase();
        let name = lower.strip_prefix("bpftrace_").unwrap_or(&lower);
        let name = match name {
            "strlen" => "max_strlen",
            "cat_bytes_max" => "max_cat_bytes",
            "map_keys_max" => "max_map_keys",
            other => other,
        };
        if name.starts_with("unstable_") {
            return Ok(Key::Unstable);
        }
        if ["btf", "kernel_build", "kernel_source", "vmlinux"].contains(&name) {
            return Err(ConfigError::EnvironmentOnly(written.into()));
        }
        Key::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| ConfigError::UnknownKey(written.into()))
    }

    pub fn name(self) -> &'static str {
        Key::ALL.iter().find(|(_, k)| *k == self).map_or("unstable_*", |(n, _)| n)
    }

    fn takes(self) -> Takes {
        match self {
            Key::MaxStrlen
            | Key::MaxMapKeys
            | Key::MaxCatBytes
            | Key::MaxProbes
            | Key::MaxBpfProgs
            | Key::LogSize
            | Key::PerfRbPages
            | Key::OnStackLimit => Takes::Uint,
            Key::CppDemangle
            | Key::LazySymbolication
            | Key::PrintMapsOnExit
            | Key::UseBlazesym
            | Key::ShowDebugInfo => Takes::Bool,
            Key::License | Key::StrTruncTrailer => Takes::Text,
            Key::CacheUserSymbols => Takes::Word(&["per_pid", "per_program", "none"]),
            Key::StackMode => Takes::Word(&["bpftrace", "perf", "raw", "build_id"]),
            Key::MissingProbes => Takes::Word(&["error", "warn", "ignore"]),
            Key::Unstable => Takes::Word(&["enable", "warn", "error"]),
        }
    }
}

impl Setting {
    /// Checks one `key = value` of a config block.
    pub fn of(entry: &ConfigEntry) -> Result<Setting, ConfigError> {
        let key = Key::from_name(&entry.key)?;
        let bad = |expected: String| ConfigError::BadValue { key: key.name(), expected };
        let value = match (key.takes(), &entry.value) {
            (Takes::Uint, ConfigValue::Int(n)) => Value::Uint(*n),
            (Takes::Uint, _) => return Err(bad("an integer".into())),
            (Takes::Bool, ConfigValue::Bool(b)) => Value::Bool(*b),
            (Takes::Bool, ConfigValue::Int(n @ (0 | 1))) => Value::Bool(*n == 1),
            (Takes::Bool, _) => return Err(bad("true, false, 1 or 0".into())),
            (Takes::Text, ConfigValue::Str(s)) => Value::Text(s.clone()),
            (Takes::Text, _) => return Err(bad("a string".into())),
            (Takes::Word(words), ConfigValue::Word(w) | ConfigValue::Str(w))
                if words.contains(&w.to_ascii_lowercase().as_str()) =>
            {
                Value::Text(w.to_ascii_lowercase())
            }
            (Takes::Word(words), _) => return Err(bad(format!("one of {}", words.join(", ")))),
        };
        Ok(Setting { key, value })
    }

    /// Why the native engine cannot run under this setting, if it cannot.
    /// Keys that change no output are honored by doing nothing: the sizes
    /// of bpftrace's own buffers, logs and program counts, symbol caching
    /// and symbolization (the native engine reads a process's mappings
    /// itself, and prints symbols undemangled either way), the license, and
    /// feature flags for constructs it does not run.
    pub fn native(&self) -> Result<(), String> {
        let text = |v: &Value| match v {
            Value::Text(s) => s.clone(),
            _ => String::new(),
        };
        match (self.key, &self.value) {
            (Key::MaxStrlen, Value::Uint(n)) if *n != STR_LEN as u64 => Err(format!(
                "config max_strlen = {n}: the native engine's strings hold {STR_LEN} bytes"
            )),
            // Maps hold MAP_ENTRIES keys; like bpftrace's default bound
            // (4096), a lower one is not enforced per map, which matters
            // only where bpftrace would drop updates with a warning.
            (Key::MaxMapKeys, Value::Uint(n)) if *n > u64::from(MAP_ENTRIES) => Err(format!(
                "config max_map_keys = {n}: the native engine's maps hold {MAP_ENTRIES} keys"
            )),
            (Key::StackMode, v) if text(v) != "bpftrace" => Err(format!(
                "config stack_mode = {}: the native engine prints stacks in bpftrace mode only",
                text(v)
            )),
            (Key::StrTruncTrailer, v) if !text(v).is_empty() => {
                Err("config str_trunc_trailer: the native engine cuts strings without a trailer, \
                 as bpftrace 0.17 does"
                    .into())
            }
            // The checker refuses a probe that does not exist: `error`.
            (Key::MissingProbes, v) if text(v) != "error" => Err(format!(
                "config missing_probes = {}: the native engine refuses missing probes",
                text(v)
            )),
            _ => Ok(()),
        }
    }

    /// The environment variable and value that say this to bpftrace 0.17;
    /// None where the setting changes no output there (or is 0.17's own
    /// behavior); Err with the release that first has it otherwise.
    pub fn for_017(&self) -> Result<Option<(&'static str, String)>, &'static str> {
        let uint = |var: &'static str, n: &u64| Ok(Some((var, n.to_string())));
        let text = |v: &Value| match v {
            Value::Text(s) => s.clone(),
            _ => String::new(),
        };
        match (self.key, &self.value) {
            // 0.17 refuses more than 200 bytes; 0.21 lifted the bound.
            (Key::MaxStrlen, Value::Uint(n)) if *n > 200 => Err("0.21.0"),
            (Key::MaxStrlen, Value::Uint(n)) => uint("BPFTRACE_STRLEN", n),
            (Key::MaxMapKeys, Value::Uint(n)) => uint("BPFTRACE_MAP_KEYS_MAX", n),
            (Key::MaxCatBytes, Value::Uint(n)) => uint("BPFTRACE_CAT_BYTES_MAX", n),
            (Key::MaxProbes, Value::Uint(n)) => uint("BPFTRACE_MAX_PROBES", n),
            (Key::MaxBpfProgs, Value::Uint(n)) => uint("BPFTRACE_MAX_BPF_PROGS", n),
            (Key::LogSize, Value::Uint(n)) => uint("BPFTRACE_LOG_SIZE", n),
            (Key::PerfRbPages, Value::Uint(n)) => uint("BPFTRACE_PERF_RB_PAGES", n),
            (Key::CppDemangle, Value::Bool(b)) => {
                Ok(Some(("BPFTRACE_NO_CPP_DEMANGLE", u8::from(!b).to_string())))
            }
            // 0.17 caches per program or not at all; not caching is as
            // accurate as caching per pid.
            (Key::CacheUserSymbols, v) => Ok(Some((
                "BPFTRACE_CACHE_USER_SYMBOLS",
                u8::from(text(v) == "per_program").to_string(),
            ))),
            (Key::StackMode, v) if text(v) != "bpftrace" => Err("0.18.0"),
            (Key::StrTruncTrailer, v) if !text(v).is_empty() => Err("0.18.0"),
            (Key::MissingProbes, v) if text(v) != "error" => Err("0.21.0"),
            (Key::PrintMapsOnExit, Value::Bool(false)) => Err("0.22.0"),
            _ => Ok(None),
        }
    }
}

/// Whether the program's config lets maps print when it ends (the
/// default), its last word on it counting.
pub fn prints_maps_on_exit(config: &[ConfigEntry]) -> bool {
    config.iter().filter_map(|e| Setting::of(e).ok()).fold(true, |prints, s| match s {
        Setting { key: Key::PrintMapsOnExit, value: Value::Bool(b) } => b,
        _ => prints,
    })
}

/// `key = value` as written, for messages.
pub fn written(entry: &ConfigEntry) -> String {
    format!("{} = {}", entry.key, pretty::config_value(&entry.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse;

    fn settings(src: &str) -> Vec<Result<Setting, ConfigError>> {
        parse(src).unwrap().config.iter().map(Setting::of).collect()
    }

    #[test]
    fn keys_read_as_bpftrace_reads_them() {
        let got = settings(
            "config = { BPFTRACE_MAX_STRLEN = 32; strlen = 16; Stack_Mode = PERF; \
             missing_probes = \"warn\"; cpp_demangle = 0; unstable_macro = enable }\nBEGIN { }",
        );
        let keys: Vec<Key> = got.iter().map(|s| s.as_ref().unwrap().key).collect();
        assert_eq!(
            keys,
            [
                Key::MaxStrlen,
                Key::MaxStrlen,
                Key::StackMode,
                Key::MissingProbes,
                Key::CppDemangle,
                Key::Unstable
            ]
        );
        assert_eq!(got[2].as_ref().unwrap().value, Value::Text("perf".into()));
        assert_eq!(got[4].as_ref().unwrap().value, Value::Bool(false));
        let bad = settings(
            "config = { nope = 1; btf = \"/x\"; max_strlen = big; stack_mode = fancy; }\nBEGIN { }",
        );
        assert_eq!(bad[0], Err(ConfigError::UnknownKey("nope".into())));
        assert_eq!(bad[1], Err(ConfigError::EnvironmentOnly("btf".into())));
        assert_eq!(
            bad[2].as_ref().unwrap_err().to_string(),
            "config `max_strlen` takes an integer"
        );
        assert_eq!(
            bad[3].as_ref().unwrap_err().to_string(),
            "config `stack_mode` takes one of bpftrace, perf, raw, build_id"
        );
    }

    #[test]
    fn native_honors_or_names_the_key() {
        let native = |src: &str| settings(src)[0].as_ref().unwrap().native();
        assert_eq!(native("config = { max_strlen = 64 } BEGIN { }"), Ok(()));
        assert!(native("config = { max_strlen = 128 } BEGIN { }").unwrap_err().contains("64"));
        assert_eq!(native("config = { max_map_keys = 10000 } BEGIN { }"), Ok(()));
        assert!(native("config = { max_map_keys = 1000000 } BEGIN { }").is_err());
        assert!(native("config = { stack_mode = perf } BEGIN { }").is_err());
        assert_eq!(native("config = { str_trunc_trailer = \"\" } BEGIN { }"), Ok(()));
        assert_eq!(native("config = { perf_rb_pages = 512 } BEGIN { }"), Ok(()));
        assert_eq!(native("config = { print_maps_on_exit = false } BEGIN { }"), Ok(()));
        let p = parse("config = { print_maps_on_exit = false } BEGIN { }").unwrap();
        assert!(!prints_maps_on_exit(&p.config));
        assert!(prints_maps_on_exit(&[]));
    }

    #[test]
    fn bpftrace_017_gets_environment_variables_or_a_release() {
        let old = |src: &str| settings(src)[0].as_ref().unwrap().for_017();
        assert_eq!(
            old("config = { max_strlen = 128 } BEGIN { }"),
            Ok(Some(("BPFTRACE_STRLEN", "128".into())))
        );
        assert_eq!(old("config = { max_strlen = 1024 } BEGIN { }"), Err("0.21.0"));
        assert_eq!(
            old("config = { max_map_keys = 8192 } BEGIN { }"),
            Ok(Some(("BPFTRACE_MAP_KEYS_MAX", "8192".into())))
        );
        assert_eq!(
            old("config = { cpp_demangle = false } BEGIN { }"),
            Ok(Some(("BPFTRACE_NO_CPP_DEMANGLE", "1".into())))
        );
        assert_eq!(old("config = { license = \"GPL\" } BEGIN { }"), Ok(None));
        assert_eq!(old("config = { stack_mode = bpftrace } BEGIN { }"), Ok(None));
        assert_eq!(old("config = { stack_mode = raw } BEGIN { }"), Err("0.18.0"));
        assert_eq!(old("config = { print_maps_on_exit = false } BEGIN { }"), Err("0.22.0"));
    }
}
