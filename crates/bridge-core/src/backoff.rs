//! Restart delays: exponential backoff with jitter, and the OTP-style
//! restart intensity limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Exponential backoff with full jitter over the upper half: the n-th delay
/// is uniformly random in `[d/2, d]` where `d = min(initial * factor^n, max)`.
///
/// # Default
///
/// initial 500 ms, factor 2, max 15 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    factor: u32,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), 2, Duration::from_secs(15))
    }
}

impl Backoff {
    /// A backoff starting at `initial`, multiplied by `factor` each step, at
    /// most `max`.
    pub fn new(initial: Duration, factor: u32, max: Duration) -> Self {
        Backoff {
            initial,
            factor: factor.max(1),
            max,
            attempt: 0,
        }
    }

    /// Starts again from `initial`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next delay without jitter.
    fn ceiling(&self) -> Duration {
        let factor = self.factor.saturating_pow(self.attempt);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter = fastrand::u64(0..=(ceiling - half).as_millis() as u64);
        Some(half + Duration::from_millis(jitter))
    }
}

/// At most `max_restarts` restarts within `window`; beyond it the
/// supervisor gives up (OTP's restart intensity).
///
/// # Default
///
/// 5 restarts in 60 s.
#[derive(Debug, Clone)]
pub struct Intensity {
    max_restarts: usize,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::new(5, Duration::from_secs(60))
    }
}

impl Intensity {
    /// A limit of `max_restarts` within `window`.
    pub fn new(max_restarts: usize, window: Duration) -> Self {
        Intensity {
            max_restarts,
            window,
            recent: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; `false` when it exceeds the limit.
    pub fn allow(&mut self, now: Instant) -> bool {
        while self.recent.front().is_some_and(|t| now.duration_since(*t) > self.window) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.max_restarts {
            return false;
        }
        self.recent.push_back(now);
        true
    }

    /// Forgets past restarts.
    pub fn reset(&mut self) {
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_by_the_factor_within_jitter_and_cap_at_max() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = backoff.by_ref().take(8).collect();
        let ceilings = [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000];
        for (delay, ceiling) in delays.iter().zip(ceilings) {
            let ceiling = Duration::from_millis(ceiling);
            assert!(*delay >= ceiling / 2 && *delay <= ceiling, "{delay:?} vs {ceiling:?}");
        }
        backoff.reset();
        assert!(backoff.next().unwrap() <= Duration::from_millis(500));
    }

    #[test]
    fn intensity_refuses_beyond_the_limit_and_forgets_old_restarts() {
        let mut intensity = Intensity::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(intensity.allow(t0));
        assert!(intensity.allow(t0 + Duration::from_secs(1)));
        assert!(!intensity.allow(t0 + Duration::from_secs(2)));
        assert!(intensity.allow(t0 + Duration::from_secs(62)));
    }
}
