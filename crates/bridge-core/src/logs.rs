//! What workspace processes write: a bounded buffer of their most recent
//! output lines, kept across restarts, and the timestamps of lines and
//! supervision events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

/// One line a workspace process wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// When it was read, in ms since the Unix epoch.
    pub at: u64,
    /// `"stdout"` or `"stderr"`.
    pub stream: &'static str,
    /// The line, without its newline.
    pub line: String,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Bounded buffer of a workspace's most recent output lines, kept across
/// restarts. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
    capacity: usize,
}

impl LogBuffer {
    /// A buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            lines: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(1024)))),
            capacity,
        }
    }

    /// Appends a line, dropping the oldest beyond capacity.
    pub fn push(&self, stream: &'static str, line: String) {
        if self.capacity == 0 {
            return;
        }
        let mut lines = self.lines.lock();
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            at: now_ms(),
            stream,
            line,
        });
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        let lines = self.lines.lock();
        lines.iter().skip(lines.len().saturating_sub(n)).cloned().collect()
    }

    /// The text of the last `n` stderr lines, oldest first.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock();
        let mut tail: Vec<String> = lines
            .iter()
            .rev()
            .filter(|l| l.stream == "stderr")
            .take(n)
            .map(|l| l.line.clone())
            .collect();
        tail.reverse();
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buffer_keeps_the_most_recent_lines_with_their_stream() {
        let logs = LogBuffer::new(3);
        for i in 0..5 {
            logs.push(if i % 2 == 0 { "stderr" } else { "stdout" }, format!("line {i}"));
        }
        let tail: Vec<_> = logs.tail(10).into_iter().map(|l| (l.stream, l.line)).collect();
        assert_eq!(
            tail,
            [("stderr", "line 2".to_owned()), ("stdout", "line 3".to_owned()), ("stderr", "line 4".to_owned())]
        );
        assert_eq!(logs.stderr_tail(5), ["line 2", "line 4"]);
        assert!(logs.tail(1)[0].at > 0);
    }
}
