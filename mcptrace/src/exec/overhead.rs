//! The overhead guard: an execution whose probes take more than the
//! policy's share of one CPU (`limits.max_probe_cpu_percent`), averaged since it started, is stopped gracefully (END
//! runs, maps are printed) with `stop_reason: overhead_budget`. The first
//! second is not judged: attaching and a burst at the start are not a
//! program's steady cost.

use std::time::{Duration, Instant};

/// How often the runners measure.
pub const EVERY: Duration = Duration::from_secs(1);

pub struct Guard {
    budget: f64,
    started: Instant,
}

impl Guard {
    /// A guard for `percent` of one CPU.
    pub fn new(percent: f64) -> Self {
        Self { budget: percent / 100.0, started: Instant::now() }
    }

    /// The share of one CPU that `run_time` of the probes' programs is of
    /// the time since the start, and whether it breaks the budget.
    pub fn judge(&self, run_time: Duration) -> (f64, bool) {
        let elapsed = self.started.elapsed();
        let share = run_time.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
        (share, elapsed >= EVERY && share > self.budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_judged_after_the_first_second() {
        let guard = Guard { budget: 0.05, started: Instant::now() - Duration::from_secs(2) };
        let (share, over) = guard.judge(Duration::from_millis(200));
        assert!((share - 0.1).abs() < 0.01 && over, "{share}");
        assert!(!guard.judge(Duration::from_millis(50)).1);
        let fresh = Guard::new(0.05);
        assert!(!fresh.judge(Duration::from_secs(1)).1, "not within the first second");
    }
}
