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
    /// `"stdout"` or `"stderr"` of the process, or `"bridge"` for a line of
    /// the bridge's own about the workspace (a remote workspace's
    /// connection attempts).
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

/// Called with each line a workspace process writes, as it is read (see
/// [`LogBuffer::watch`]).
pub type LogWatcher = Arc<dyn Fn(&LogLine) + Send + Sync>;

/// Bounded buffer of a workspace's most recent output lines, kept across
/// restarts, and the watchers of new lines. Cheap to clone.
#[derive(Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
    capacity: usize,
    watchers: Arc<Mutex<Watchers>>,
}

#[derive(Default)]
struct Watchers {
    next_id: u64,
    by_id: Vec<(u64, LogWatcher)>,
}

impl std::fmt::Debug for LogBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuffer")
            .field("capacity", &self.capacity)
            .field("watchers", &self.watchers.lock().by_id.len())
            .finish_non_exhaustive()
    }
}

/// A watch of a workspace's output ([`LogBuffer::watch`]); dropping it (or
/// [`LogWatch::close`]) ends it.
pub struct LogWatch {
    watchers: std::sync::Weak<Mutex<Watchers>>,
    id: u64,
}

impl LogWatch {
    /// Ends the watch: its watcher is called no more (a call under way on
    /// another thread may still finish). Idempotent.
    pub fn close(&self) {
        if let Some(watchers) = self.watchers.upgrade() {
            watchers.lock().by_id.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        self.close();
    }
}

impl LogBuffer {
    /// A buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            lines: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(1024)))),
            capacity,
            watchers: Arc::default(),
        }
    }

    /// Calls `watcher` with every line pushed from now on, on the thread
    /// that reads the process's output, until the returned watch is
    /// dropped or closed; returns with it the last `tail` lines before
    /// them: each line is in the tail or goes to the watcher, never both.
    /// Lines are delivered whatever the buffer's capacity (also with
    /// `logLines: 0`).
    pub fn watch(&self, tail: usize, watcher: LogWatcher) -> (Vec<LogLine>, LogWatch) {
        // The lines' lock first, as in `push`.
        let lines = self.lines.lock();
        let mut watchers = self.watchers.lock();
        watchers.next_id += 1;
        let id = watchers.next_id;
        watchers.by_id.push((id, watcher));
        let tail = lines.iter().skip(lines.len().saturating_sub(tail)).cloned().collect();
        (tail, LogWatch { watchers: Arc::downgrade(&self.watchers), id })
    }

    /// Appends a line, dropping the oldest beyond capacity, and hands it to
    /// the watchers.
    pub fn push(&self, stream: &'static str, line: String) {
        let line = LogLine { at: now_ms(), stream, line };
        // Under the lines' lock, so that a new watch sees this line either
        // in its tail or live; called out of it, since a watcher may watch
        // or close in turn.
        let watchers: Vec<LogWatcher> = {
            let mut lines = self.lines.lock();
            let watchers = self.watchers.lock().by_id.iter().map(|(_, w)| w.clone()).collect();
            if self.capacity > 0 {
                if lines.len() == self.capacity {
                    lines.pop_front();
                }
                lines.push_back(line.clone());
            }
            watchers
        };
        for watcher in &watchers {
            watcher(&line);
        }
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

    #[test]
    fn watchers_get_new_lines_until_their_watch_ends() {
        let logs = LogBuffer::new(2);
        for line in ["old", "before 1", "before 2"] {
            logs.push("stdout", line.into());
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let (tail, watch) = logs.watch(5, Arc::new(move |l: &LogLine| sink.lock().push(l.line.clone())));
        assert_eq!(tail.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["before 1", "before 2"]);
        logs.push("stderr", "one".into());
        logs.push("stdout", "two".into());
        watch.close();
        logs.push("stdout", "after".into());
        assert_eq!(*seen.lock(), ["one", "two"]);
        drop(watch);
        // Capacity 0 keeps nothing, and still delivers.
        let empty = LogBuffer::new(0);
        let count = Arc::new(Mutex::new(0));
        let counter = count.clone();
        let (tail, _watch) = empty.watch(5, Arc::new(move |_: &LogLine| *counter.lock() += 1));
        empty.push("stdout", "x".into());
        assert!(tail.is_empty() && empty.tail(5).is_empty());
        assert_eq!(*count.lock(), 1);
    }
}
