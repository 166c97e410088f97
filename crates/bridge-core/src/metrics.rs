//! Per-workspace call counters and latency histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

use crate::error::Error;

/// Counters of one workspace's calls, plus the latency of settled calls.
pub struct Metrics {
    requests: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    aborted: AtomicU64,
    rejected: AtomicU64,
    /// Latency of every call that was admitted (not rejected), in µs.
    latency: Mutex<Histogram<u64>>,
}

/// A point-in-time copy of a workspace's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    /// Calls made.
    pub requests: u64,
    /// Calls that resolved with a result.
    pub ok: u64,
    /// Calls that failed other than by timeout, abort or queue refusal
    /// (server errors included).
    pub errors: u64,
    /// Calls that failed with `TIMEOUT`.
    pub timeouts: u64,
    /// Calls that failed with `ABORTED`.
    pub aborted: u64,
    /// Calls refused with `QUEUE_FULL`.
    pub rejected: u64,
    /// Calls holding a concurrency slot now.
    pub in_flight: u64,
    /// Calls waiting in the queue now.
    pub queued: u64,
    /// Latency percentiles of admitted calls, in ms (queue wait included).
    pub p50: f64,
    /// 90th percentile, in ms.
    pub p90: f64,
    /// 99th percentile, in ms.
    pub p99: f64,
    /// Largest, in ms.
    pub max: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            aborted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            // Two significant digits (1% error); auto-resizing, so an idle
            // workspace costs little memory.
            latency: Mutex::new(Histogram::new(2).expect("2 significant digits is valid")),
        }
    }
}

impl Metrics {
    /// Counts a call being made.
    pub fn started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a settled call with its outcome and latency.
    pub fn settled(&self, outcome: Result<(), &Error>, elapsed: Duration) {
        let counter = match outcome {
            Ok(()) => &self.ok,
            Err(Error::Timeout { .. }) => &self.timeouts,
            Err(Error::Aborted) => &self.aborted,
            Err(Error::QueueFull { .. }) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(_) => &self.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
        // An auto-resizing histogram only fails to record on allocation limits.
        let _ = self.latency.lock().record(micros);
    }

    /// A snapshot, with the queue's current gauges.
    pub fn snapshot(&self, in_flight: usize, queued: usize) -> MetricsSnapshot {
        let histogram = self.latency.lock();
        let ms = |micros: u64| micros as f64 / 1000.0;
        let (p50, p90, p99, max) = if histogram.is_empty() {
            (0.0, 0.0, 0.0, 0.0)
        } else {
            (
                ms(histogram.value_at_quantile(0.50)),
                ms(histogram.value_at_quantile(0.90)),
                ms(histogram.value_at_quantile(0.99)),
                ms(histogram.max()),
            )
        };
        MetricsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            aborted: self.aborted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            in_flight: in_flight as u64,
            queued: queued as u64,
            p50,
            p90,
            p99,
            max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_land_in_their_counters_and_latency_in_ms() {
        let metrics = Metrics::default();
        for _ in 0..5 {
            metrics.started();
        }
        metrics.settled(Ok(()), Duration::from_millis(10));
        metrics.settled(Err(&Error::Timeout { ms: 1 }), Duration::from_millis(20));
        metrics.settled(Err(&Error::Aborted), Duration::from_millis(30));
        metrics.settled(Err(&Error::QueueFull { max_queue: 1 }), Duration::ZERO);
        metrics.settled(Err(&Error::Closed), Duration::from_millis(40));
        let s = metrics.snapshot(2, 3);
        assert_eq!(
            (s.requests, s.ok, s.timeouts, s.aborted, s.rejected, s.errors),
            (5, 1, 1, 1, 1, 1)
        );
        assert_eq!((s.in_flight, s.queued), (2, 3));
        assert!((s.max - 40.0).abs() < 0.5, "{}", s.max);
        assert!(s.p50 >= 19.8 && s.p50 <= 30.3, "{}", s.p50);
    }
}
