//! Where a running program's records go: the server's execution buffer, or
//! the command line's stdout. Both backends write to one of these.

use super::Record;

/// Receives records; returns false when it can take no more (output cap).
pub trait RecordSink {
    fn record(&mut self, record: Record) -> bool;
    /// Called once the records at hand are handed over: a sink that batches
    /// its writes delivers them now, so output is prompt without a write per
    /// event. False when it can take no more.
    fn flush(&mut self) -> bool {
        true
    }
}

impl<F: FnMut(Record) -> bool> RecordSink for F {
    fn record(&mut self, record: Record) -> bool {
        self(record)
    }
}
