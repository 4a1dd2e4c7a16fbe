//! Per-request limits of the HTTP transport: the body's size, and how many
//! requests a token may make (a token bucket per token name, so one busy
//! client does not slow another).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Limits {
    /// A request body larger than this is refused with 413.
    pub max_request_bytes: u64,
    /// Requests per second a token may make on average; past the burst,
    /// more are refused with 429 and `Retry-After`.
    pub requests_per_second: u32,
    /// Requests a token may make at once after a quiet spell.
    pub request_burst: u32,
}

impl Limits {
    /// Why a body of `length` bytes is refused, if it is.
    pub fn body(&self, length: Option<u64>) -> Result<(), String> {
        match length {
            Some(n) if n > self.max_request_bytes => Err(format!(
                "the request body is {n} bytes; this server takes at most {} (--max-request-bytes)",
                self.max_request_bytes
            )),
            _ => Ok(()),
        }
    }
}

/// The token buckets, one per caller name.
pub struct Rates {
    limits: Limits,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    /// Requests that may be made now; up to the burst.
    available: f64,
    at: Instant,
}

impl Rates {
    pub fn new(limits: Limits) -> Self {
        Self { limits, buckets: Mutex::default() }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes one request from `name`'s bucket; or says when to retry.
    pub fn take(&self, name: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let burst = f64::from(self.limits.request_burst);
        let bucket =
            buckets.entry(name.to_string()).or_insert(Bucket { available: burst, at: now });
        bucket.take(now, f64::from(self.limits.requests_per_second), burst)
    }
}

impl Bucket {
    fn take(&mut self, now: Instant, rate: f64, burst: f64) -> Result<(), Duration> {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * rate;
        self.available = (self.available + refill).min(burst);
        self.at = now;
        if self.available >= 1.0 {
            self.available -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.available) / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket { available: 3.0, at: start };
        for _ in 0..3 {
            assert_eq!(bucket.take(start, 2.0, 3.0), Ok(()));
        }
        assert_eq!(bucket.take(start, 2.0, 3.0), Err(Duration::from_millis(500)));
        let later = start + Duration::from_millis(500);
        assert_eq!(bucket.take(later, 2.0, 3.0), Ok(()));
        assert!(bucket.take(later, 2.0, 3.0).is_err());
        // A long quiet spell refills up to the burst, not beyond.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(much_later, 2.0, 3.0), Ok(()));
        }
        assert!(bucket.take(much_later, 2.0, 3.0).is_err());
    }

    #[test]
    fn bodies_over_the_limit_are_refused_by_their_length() {
        let limits = Limits { max_request_bytes: 10, requests_per_second: 1, request_burst: 1 };
        assert!(limits.body(None).is_ok() && limits.body(Some(10)).is_ok());
        let err = limits.body(Some(11)).unwrap_err();
        assert!(err.contains("11 bytes") && err.contains("at most 10"), "{err}");
    }
}
