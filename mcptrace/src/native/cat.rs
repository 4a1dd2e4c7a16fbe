//! `cat()`: a file's bytes, read when the statement runs (in BEGIN/END, or
//! as its event arrives), as bpftrace reads them in its own process. The
//! policy checked the path's format before the program ran.

use std::{ffi::OsStr, io::Read, os::unix::ffi::OsStrExt};

use crate::output::Record;

/// bpftrace's default `cat_bytes_max`: at most this much of a file is read.
const CAT_BYTES_MAX: u64 = 10240;

/// The file's bytes, or bpftrace's error line when it cannot be read.
pub fn read(path: &[u8]) -> Record {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(OsStr::from_bytes(path))
        .and_then(|f| f.take(CAT_BYTES_MAX).read_to_end(&mut bytes));
    match read {
        Ok(_) => Record::Cat(bytes),
        Err(e) => {
            let path = String::from_utf8_lossy(path);
            // The OS's words alone, as bpftrace writes them.
            let reason = e.to_string();
            let reason = reason.split(" (os error").next().unwrap_or(&reason);
            Record::Text(format!("ERROR: failed to open file '{path}': {reason}\n").into_bytes())
        }
    }
}
