//! The request log: every call the core makes (from `Bridge::call`,
//! sessions and the Express endpoint alike), recorded when it settles, in
//! SQLite (rusqlite with its bundled SQLite).
//!
//! # Theory of operation
//!
//! The call path never waits on the disk: [`RequestLog::record`] appends the
//! entry to a bounded list under a lock and returns, waking nobody; when the
//! list holds [`QUEUE_CAPACITY`] entries a new one is dropped and counted
//! ([`RequestLog::dropped`], a `warn` log on the first drop and every
//! 1,000th). One writer thread takes the whole list every [`BATCH_MS`] ms
//! (at once for a flush or close) and writes it in one transaction. The
//! database is in WAL mode with `synchronous = NORMAL`: a committed batch
//! survives the process being killed (SIGKILL), which loses at most the
//! entries of the last [`BATCH_MS`] ms (those not yet taken, and those of
//! a batch being written), and never leaves a corrupt file. Retention (by
//! row count and by age) runs at most once a second, after a batch.
//!
//! A bounded channel woke the writer for each entry (a futex wake, and the
//! writer's wake-up, per call); measured in BENCHMARKS.md, that cost more
//! than writing the rows.
//!
//! Reads ([`RequestLog::query`], [`RequestLog::stats`]) go through a
//! connection of their own, which WAL lets read while the writer writes;
//! `:memory:` has one connection, shared under a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};
use rusqlite::{params_from_iter, Connection};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};

/// How often the writer takes the entries recorded since it last did, in ms.
pub const BATCH_MS: u64 = 100;
/// Entries waiting for the writer before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 65_536;
/// Default cap on a captured body, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4096;
/// Most entries one [`RequestLog::query`] page returns.
pub const MAX_PAGE: usize = 1000;
/// Most entries [`RequestLog::stats`] reads (the newest).
const MAX_STATS_ROWS: i64 = 200_000;

/// Options of the request log.
///
/// # Default
///
/// No row or age limit, bodies not captured, 4096-byte body cap, nothing
/// redacted.
#[derive(Debug, Clone, Default)]
pub struct RequestLogConfig {
    /// The SQLite file (created when missing), or `:memory:`.
    pub path: String,
    /// Oldest rows beyond this many are deleted.
    pub max_rows: Option<u64>,
    /// Rows older than this are deleted.
    pub max_age: Option<Duration>,
    /// Whether the params and the result (or error) are kept, each cut to
    /// `max_body_bytes`.
    pub capture_bodies: bool,
    /// Cap on a captured body, in bytes; 0 means [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// Argument names whose values a captured request body shows as
    /// `"[redacted]"`, at any depth of the params.
    pub redact: Vec<String>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A result.
    Ok,
    /// An error: the bridge's or the server's.
    Error,
    /// Aborted by its caller (`ABORTED`).
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// `"ok"`, `"error"` or `"cancelled"`.
    pub fn parse(text: &str) -> Option<Outcome> {
        match text {
            "ok" => Some(Outcome::Ok),
            "error" => Some(Outcome::Error),
            "cancelled" => Some(Outcome::Cancelled),
            _ => None,
        }
    }
}

/// One recorded call: what the call path hands to [`RequestLog::record`]
/// (with `id` 0; SQLite gives it), and what reads return.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEntry {
    /// Row id, increasing; pages go by it.
    pub id: i64,
    /// When the call was made, ms since the Unix epoch.
    pub at: i64,
    pub workspace: String,
    /// The MCP session the call came on, as its caller names it (the
    /// Express endpoint: its `Mcp-Session-Id`); `None` for the bridge's own.
    pub session: Option<String>,
    pub method: String,
    /// The tool or prompt name (`tools/call`, `prompts/get`) or resource URI
    /// (`resources/read`).
    pub name: Option<String>,
    /// From the call to its settling, queue wait included, in ms.
    pub duration_ms: f64,
    /// Of which waiting in the workspace's queue, in ms.
    pub queue_ms: f64,
    pub outcome: Outcome,
    /// The bridge's error code (`TIMEOUT`, ...), the server's JSON-RPC
    /// code, as text, or [`TOOL_ERROR`] for a `tools/call` result with
    /// `isError: true`.
    pub error_code: Option<String>,
    /// Bytes of the params sent, and of the result received.
    pub request_bytes: i64,
    pub response_bytes: i64,
    /// The downstream principal, when the caller names it.
    pub principal: Option<String>,
    /// With `capture_bodies`: the params (redacted) and the result or error.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

impl Outcome {
    /// The outcome and error code of a call's result.
    pub fn of<T>(result: &Result<T>) -> (Outcome, Option<String>) {
        match result {
            Ok(_) => (Outcome::Ok, None),
            Err(Error::Aborted) => (Outcome::Cancelled, Some("ABORTED".into())),
            Err(e) => (
                Outcome::Error,
                Some(
                    e.name()
                        .map_or_else(|| e.rpc_code().to_string(), str::to_owned),
                ),
            ),
        }
    }
}

/// The error code recorded for a `tools/call` whose result says the tool
/// failed (`isError: true`; MCP 2025-06-18, Server Features / Tools, Error
/// Handling): the call is an [`Outcome::Error`] though its JSON-RPC response
/// is a result.
pub const TOOL_ERROR: &str = "TOOL_ERROR";

/// How a call of `method` ended, from its `result` as the server wrote it:
/// [`Outcome::of`], except that a `tools/call` result with `isError: true`
/// is an error ([`TOOL_ERROR`]).
pub fn outcome_of_call(method: &str, result: &Result<Box<RawValue>>) -> (Outcome, Option<String>) {
    match result {
        Ok(raw) if method == "tools/call" && tool_failed(raw.get()) => (Outcome::Error, Some(TOOL_ERROR.to_owned())),
        _ => Outcome::of(result),
    }
}

/// Whether a `tools/call` result's text has `isError: true` at its top
/// level. Parsed only when the text holds `"isError"` followed by `true`
/// somewhere (FastMCP writes `"isError":false` on every other result), and
/// then only that member is built.
fn tool_failed(result: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Failed {
        #[serde(rename = "isError")]
        is_error: Option<bool>,
    }
    let says_true = result.match_indices("\"isError\"").any(|(at, key)| {
        result[at + key.len()..]
            .trim_start()
            .strip_prefix(':')
            .is_some_and(|value| value.trim_start().starts_with("true"))
    });
    says_true && serde_json::from_str::<Failed>(result).is_ok_and(|r| r.is_error == Some(true))
}

/// The tool or prompt name (`tools/call`, `prompts/get`) or resource URI
/// (`resources/read`) in a request's params text; other members are
/// skipped, not built.
pub fn named(method: &str, params: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        name: Option<String>,
        uri: Option<String>,
    }
    let named = || serde_json::from_str::<Named>(params).ok();
    match method {
        "tools/call" | "prompts/get" => named()?.name,
        "resources/read" => named()?.uri,
        _ => None,
    }
}

/// Filters of [`RequestLog::query`] and [`RequestLog::stats`]; every one optional.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub workspace: Option<String>,
    pub method: Option<String>,
    pub name: Option<String>,
    pub outcome: Option<Outcome>,
    /// From this time on (ms since the Unix epoch, inclusive).
    pub since: Option<i64>,
    /// Before this time (exclusive).
    pub until: Option<i64>,
    /// Page size, at most [`MAX_PAGE`]; default 100.
    pub limit: Option<usize>,
    /// The `cursor` of the previous page: entries older than it.
    pub cursor: Option<i64>,
}

/// One page of entries, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct RequestPage {
    pub entries: Vec<RequestEntry>,
    /// Pass as `cursor` for the next (older) page; `None` on the last.
    pub cursor: Option<i64>,
}

/// Figures of one workspace and tool (or method, for calls without a name).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    pub workspace: String,
    pub method: String,
    pub name: Option<String>,
    pub count: u64,
    /// Calls that did not end `ok`.
    pub errors: u64,
    /// `errors / count`.
    pub error_rate: f64,
    /// Duration percentiles (nearest rank), in ms.
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// What the call path and the writer share.
#[derive(Default)]
struct Queue {
    /// Entries not yet taken by the writer.
    entries: Mutex<Vec<RequestEntry>>,
    /// Flush waiters, and whether the log is closing; the writer waits on
    /// `wake` between batches.
    control: Mutex<Control>,
    wake: Condvar,
    /// Entries dropped: refused when the queue was full, or lost with a
    /// batch that could not be written.
    dropped: AtomicU64,
    /// Set by close: later entries are not queued.
    closed: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Control {
    /// Each answered once every entry recorded before it is written.
    flushes: Vec<mpsc::Sender<()>>,
    closing: bool,
}

/// The request log of a bridge. See the module docs.
pub struct RequestLog {
    queue: Arc<Queue>,
    reader: Arc<Mutex<Connection>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    config: RequestLogConfig,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    session TEXT,
    method TEXT NOT NULL,
    name TEXT,
    duration_ms REAL NOT NULL,
    queue_ms REAL NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    principal TEXT,
    request_body TEXT,
    response_body TEXT
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at);
CREATE INDEX IF NOT EXISTS requests_workspace ON requests (workspace, id);
";

fn sql_error(e: rusqlite::Error) -> Error {
    Error::InvalidArgument(format!("request log: {e}"))
}

impl RequestLog {
    /// Opens (or creates) the log at `config.path` and starts its writer
    /// thread.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the file cannot be opened or is not
    /// a request log.
    pub fn open(config: RequestLogConfig) -> Result<Arc<RequestLog>> {
        let memory = config.path == ":memory:";
        let writer = Connection::open(&config.path).map_err(sql_error)?;
        if !memory {
            writer
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(sql_error)?;
            writer
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(sql_error)?;
        }
        writer
            .busy_timeout(Duration::from_secs(5))
            .map_err(sql_error)?;
        writer.execute_batch(SCHEMA).map_err(sql_error)?;
        let writer = Arc::new(Mutex::new(writer));
        let reader = if memory {
            writer.clone()
        } else {
            let reader = Connection::open(&config.path).map_err(sql_error)?;
            reader
                .busy_timeout(Duration::from_secs(5))
                .map_err(sql_error)?;
            Arc::new(Mutex::new(reader))
        };
        let queue = Arc::new(Queue::default());
        let retention = Retention {
            max_rows: config.max_rows,
            max_age: config.max_age,
            last: None,
        };
        let shared = queue.clone();
        let thread = std::thread::Builder::new()
            .name("fastmcp-bridge-request-log".into())
            .spawn(move || write_loop(&writer, &shared, retention))
            .map_err(|e| Error::InvalidArgument(format!("request log: writer thread: {e}")))?;
        Ok(Arc::new(RequestLog {
            queue,
            reader,
            writer: Mutex::new(Some(thread)),
            config,
        }))
    }

    /// Whether bodies are captured.
    pub fn captures_bodies(&self) -> bool {
        self.config.capture_bodies
    }

    /// A captured body: `text` cut to the cap (at a character boundary).
    pub fn body(&self, text: &str) -> String {
        let cap = if self.config.max_body_bytes == 0 {
            DEFAULT_MAX_BODY_BYTES
        } else {
            self.config.max_body_bytes
        };
        if text.len() <= cap {
            return text.to_owned();
        }
        let mut end = cap;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }

    /// A captured request body: the params with the values of the redacted
    /// names replaced, cut to the cap.
    pub fn request_body(&self, params: &str) -> String {
        // Parsed only when a redacted name may be in it: written as it is,
        // or with escapes (`pass\u0077ord`).
        let named = |name: &String| params.contains(name.as_str());
        if self.config.redact.is_empty()
            || (!self.config.redact.iter().any(named) && !params.contains('\\'))
        {
            return self.body(params);
        }
        match serde_json::from_str::<Value>(params) {
            Ok(mut value) => {
                redact(&mut value, &self.config.redact);
                self.body(&value.to_string())
            }
            Err(_) => self.body(params),
        }
    }

    /// Records a settled call without waiting: dropped (and counted) when
    /// the writer is this far behind.
    pub fn record(&self, record: RequestEntry) {
        if self.queue.closed.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut entries = self.queue.entries.lock();
            if entries.len() < QUEUE_CAPACITY {
                entries.push(record);
                return;
            }
        }
        let dropped = self.queue.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped == 1 || dropped.is_multiple_of(1000) {
            tracing::warn!(dropped, "request log writer behind; entries dropped");
        }
    }

    /// Entries dropped because the writer was behind, or lost with a batch
    /// that could not be written (the disk full, the file locked by
    /// another process beyond the 5 s busy timeout).
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every entry recorded before the call is written.
    pub fn flush(&self) {
        let (done, written) = mpsc::channel();
        {
            let mut control = self.queue.control.lock();
            if control.closing {
                return;
            }
            control.flushes.push(done);
        }
        self.queue.wake.notify_one();
        let _ = written.recv();
    }

    /// Writes what is pending and stops the writer; entries recorded later
    /// are not written. Idempotent.
    pub fn close(&self) {
        self.queue.closed.store(true, Ordering::Relaxed);
        self.queue.control.lock().closing = true;
        self.queue.wake.notify_one();
        if let Some(thread) = self.writer.lock().take() {
            let _ = thread.join();
        }
    }

    /// A page of entries matching `filter`, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the database cannot be read.
    pub fn query(&self, filter: &RequestFilter) -> Result<RequestPage> {
        let limit = filter.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let (clause, mut args) = where_clause(filter);
        let mut sql = format!(
            "SELECT id, at, workspace, session, method, name, duration_ms, queue_ms, outcome, error_code, \
             request_bytes, response_bytes, principal, request_body, response_body FROM requests{clause}"
        );
        if let Some(cursor) = filter.cursor {
            sql.push_str(if clause.is_empty() {
                " WHERE id < ?"
            } else {
                " AND id < ?"
            });
            args.push(cursor.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push((limit as i64).into());
        let reader = self.reader.lock();
        let mut statement = reader.prepare_cached(&sql).map_err(sql_error)?;
        let entries = statement
            .query_map(params_from_iter(args.iter()), |row| {
                Ok(RequestEntry {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    workspace: row.get(2)?,
                    session: row.get(3)?,
                    method: row.get(4)?,
                    name: row.get(5)?,
                    duration_ms: row.get(6)?,
                    queue_ms: row.get(7)?,
                    outcome: Outcome::parse(&row.get::<_, String>(8)?).unwrap_or(Outcome::Error),
                    error_code: row.get(9)?,
                    request_bytes: row.get(10)?,
                    response_bytes: row.get(11)?,
                    principal: row.get(12)?,
                    request_body: row.get(13)?,
                    response_body: row.get(14)?,
                })
            })
            .map_err(sql_error)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_error)?;
        let cursor = (entries.len() == limit)
            .then(|| entries.last().map(|e| e.id))
            .flatten();
        Ok(RequestPage { entries, cursor })
    }

    /// Count, error rate and duration percentiles per workspace and tool
    /// (or method) of the entries matching `filter` (its `limit` and
    /// `cursor` aside), over the newest 200,000 of them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the database cannot be read.
    pub fn stats(&self, filter: &RequestFilter) -> Result<Vec<RequestStats>> {
        let (clause, mut args) = where_clause(filter);
        let sql = format!(
            "SELECT workspace, method, name, duration_ms, outcome FROM \
             (SELECT * FROM requests{clause} ORDER BY id DESC LIMIT ?) ORDER BY workspace, method, name"
        );
        args.push(MAX_STATS_ROWS.into());
        let reader = self.reader.lock();
        let mut statement = reader.prepare_cached(&sql).map_err(sql_error)?;
        let mut rows = statement
            .query(params_from_iter(args.iter()))
            .map_err(sql_error)?;
        let mut stats: Vec<RequestStats> = Vec::new();
        let mut durations: Vec<f64> = Vec::new();
        let finish = |stats: &mut Vec<RequestStats>, durations: &mut Vec<f64>| {
            if let Some(last) = stats.last_mut() {
                durations.sort_by(f64::total_cmp);
                last.p50_ms = percentile(durations, 0.50);
                last.p95_ms = percentile(durations, 0.95);
                last.error_rate = last.errors as f64 / last.count.max(1) as f64;
            }
            durations.clear();
        };
        while let Some(row) = rows.next().map_err(sql_error)? {
            let workspace: String = row.get(0).map_err(sql_error)?;
            let method: String = row.get(1).map_err(sql_error)?;
            let name: Option<String> = row.get(2).map_err(sql_error)?;
            let duration: f64 = row.get(3).map_err(sql_error)?;
            let ok = row.get::<_, String>(4).map_err(sql_error)? == "ok";
            let same = stats
                .last()
                .is_some_and(|s| s.workspace == workspace && s.method == method && s.name == name);
            if !same {
                finish(&mut stats, &mut durations);
                stats.push(RequestStats {
                    workspace,
                    method,
                    name,
                    count: 0,
                    errors: 0,
                    error_rate: 0.0,
                    p50_ms: 0.0,
                    p95_ms: 0.0,
                });
            }
            let current = stats.last_mut().expect("pushed above");
            current.count += 1;
            current.errors += u64::from(!ok);
            durations.push(duration);
        }
        finish(&mut stats, &mut durations);
        Ok(stats)
    }

    /// The number of rows, for tests and the management API.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the database cannot be read.
    pub fn count(&self) -> Result<u64> {
        let reader = self.reader.lock();
        reader
            .query_row("SELECT COUNT(*) FROM requests", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(sql_error)
            .map(|n| n as u64)
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn where_clause(filter: &RequestFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut conditions = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut text = |column: &str, value: &Option<String>| {
        if let Some(value) = value {
            conditions.push(format!("{column} = ?"));
            args.push(value.clone().into());
        }
    };
    text("workspace", &filter.workspace);
    text("method", &filter.method);
    text("name", &filter.name);
    text("outcome", &filter.outcome.map(|o| o.as_str().to_owned()));
    if let Some(since) = filter.since {
        conditions.push("at >= ?".into());
        args.push(since.into());
    }
    if let Some(until) = filter.until {
        conditions.push("at < ?".into());
        args.push(until.into());
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, args)
}

fn redact(value: &mut Value, names: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if names.iter().any(|n| n == key) {
                    *inner = Value::String("[redacted]".into());
                } else {
                    redact(inner, names);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, names)),
        _ => {}
    }
}

struct Retention {
    max_rows: Option<u64>,
    max_age: Option<Duration>,
    last: Option<Instant>,
}

impl Retention {
    fn apply(&mut self, db: &Connection) {
        if self.max_rows.is_none() && self.max_age.is_none() {
            return;
        }
        if self
            .last
            .is_some_and(|last| last.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last = Some(Instant::now());
        if let Some(age) = self.max_age {
            let oldest =
                epoch_ms(SystemTime::now()) - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            if let Err(e) = db.execute("DELETE FROM requests WHERE at < ?", [oldest]) {
                tracing::warn!(error = %e, "request log retention by age failed");
            }
        }
        if let Some(rows) = self.max_rows {
            let sql = "DELETE FROM requests WHERE id <= (SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET ?)";
            if let Err(e) = db.execute(sql, [rows as i64]) {
                tracing::warn!(error = %e, "request log retention by rows failed");
            }
        }
    }
}

/// `at` in ms since the Unix epoch (0 before it), as entries keep times.
pub fn epoch_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn write_loop(db: &Mutex<Connection>, queue: &Queue, mut retention: Retention) {
    loop {
        let (flushes, closing) = {
            let mut control = queue.control.lock();
            if control.flushes.is_empty() && !control.closing {
                queue
                    .wake
                    .wait_for(&mut control, Duration::from_millis(BATCH_MS));
            }
            (std::mem::take(&mut control.flushes), control.closing)
        };
        // The next batch's vector is allocated here, as large as this one,
        // so that the call path does not grow it entry by entry.
        let room = Vec::with_capacity(queue.entries.lock().len().clamp(1024, QUEUE_CAPACITY));
        let batch = std::mem::replace(&mut *queue.entries.lock(), room);
        {
            let mut db = db.lock();
            if !batch.is_empty() {
                if let Err(e) = write_batch(&mut db, &batch) {
                    queue
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::warn!(error = %e, rows = batch.len(), "request log batch not written; its entries dropped");
                }
            }
            retention.apply(&db);
        }
        for done in flushes {
            let _ = done.send(());
        }
        if closing {
            return;
        }
    }
}

fn write_batch(db: &mut Connection, batch: &[RequestEntry]) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO requests (at, workspace, session, method, name, duration_ms, queue_ms, outcome, error_code, \
             request_bytes, response_bytes, principal, request_body, response_body) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?;
        for r in batch {
            insert.execute(rusqlite::params![
                r.at,
                r.workspace,
                r.session,
                r.method,
                r.name,
                r.duration_ms,
                r.queue_ms,
                r.outcome.as_str(),
                r.error_code,
                r.request_bytes,
                r.response_bytes,
                r.principal,
                r.request_body,
                r.response_body,
            ])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(workspace: &str, name: &str, ms: u64, outcome: Outcome) -> RequestEntry {
        RequestEntry {
            id: 0,
            at: epoch_ms(SystemTime::now()),
            workspace: workspace.into(),
            session: None,
            method: "tools/call".into(),
            name: Some(name.into()),
            duration_ms: ms as f64,
            queue_ms: 0.0,
            outcome,
            error_code: (outcome != Outcome::Ok).then(|| "TIMEOUT".into()),
            request_bytes: 10,
            response_bytes: 20,
            principal: None,
            request_body: None,
            response_body: None,
        }
    }

    fn memory() -> Arc<RequestLog> {
        RequestLog::open(RequestLogConfig {
            path: ":memory:".into(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_tool_result_with_is_error_is_an_error() {
        let raw = |text: &str| Ok(RawValue::from_string(text.to_owned()).unwrap());
        let failed = raw(r#"{"content":[{"type":"text","text":"boom"}],"isError":true}"#);
        assert_eq!(outcome_of_call("tools/call", &failed), (Outcome::Error, Some(TOOL_ERROR.to_owned())));
        // Only tools/call results, and only the top level's member.
        assert_eq!(outcome_of_call("prompts/get", &failed).0, Outcome::Ok);
        let nested = raw(r#"{"content":[],"structuredContent":{"isError":true},"isError":false}"#);
        assert_eq!(outcome_of_call("tools/call", &nested).0, Outcome::Ok);
        let quoted = raw(r#"{"content":[{"type":"text","text":"\"isError\":true"}]}"#);
        assert_eq!(outcome_of_call("tools/call", &quoted).0, Outcome::Ok);
        let clean = raw(r#"{"content":[],"isError":false}"#);
        assert_eq!(outcome_of_call("tools/call", &clean).0, Outcome::Ok);
        let spaced = raw(r#"{"content": [], "isError" : true}"#);
        assert_eq!(outcome_of_call("tools/call", &spaced).0, Outcome::Error);
    }

    #[test]
    fn records_are_written_and_read_back_newest_first_in_pages() {
        let log = memory();
        for i in 0..5 {
            log.record(record("a", &format!("t{i}"), i, Outcome::Ok));
        }
        log.flush();
        let page = log
            .query(&RequestFilter {
                limit: Some(2),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            page.entries
                .iter()
                .map(|e| e.name.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["t4", "t3"]
        );
        let next = log
            .query(&RequestFilter {
                limit: Some(2),
                cursor: page.cursor,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            next.entries
                .iter()
                .map(|e| e.name.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["t2", "t1"]
        );
        let last = log
            .query(&RequestFilter {
                limit: Some(2),
                cursor: next.cursor,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(last.entries.len(), 1);
        assert_eq!(last.cursor, None);
    }

    #[test]
    fn filters_and_stats_per_workspace_and_tool() {
        let log = memory();
        for ms in [10, 20, 30, 40] {
            log.record(record("a", "slow", ms, Outcome::Ok));
        }
        log.record(record("a", "slow", 100, Outcome::Error));
        log.record(record("b", "fast", 1, Outcome::Ok));
        log.flush();
        let errors = log
            .query(&RequestFilter {
                outcome: Some(Outcome::Error),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(errors.entries.len(), 1);
        assert_eq!(errors.entries[0].error_code.as_deref(), Some("TIMEOUT"));
        let b = log
            .query(&RequestFilter {
                workspace: Some("b".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(b.entries.len(), 1);
        let stats = log.stats(&RequestFilter::default()).unwrap();
        assert_eq!(stats.len(), 2);
        let slow = &stats[0];
        assert_eq!(
            (slow.workspace.as_str(), slow.count, slow.errors),
            ("a", 5, 1)
        );
        assert!((slow.error_rate - 0.2).abs() < 1e-9);
        assert_eq!((slow.p50_ms, slow.p95_ms), (30.0, 100.0));
    }

    #[test]
    fn retention_keeps_the_newest_rows() {
        let log = RequestLog::open(RequestLogConfig {
            path: ":memory:".into(),
            max_rows: Some(3),
            ..Default::default()
        })
        .unwrap();
        for i in 0..10 {
            log.record(record("a", &format!("t{i}"), 1, Outcome::Ok));
        }
        log.flush();
        assert_eq!(log.count().unwrap(), 3);
        let page = log.query(&RequestFilter::default()).unwrap();
        assert_eq!(page.entries[0].name.as_deref(), Some("t9"));
    }

    #[test]
    fn bodies_are_capped_and_redacted() {
        let log = RequestLog::open(RequestLogConfig {
            path: ":memory:".into(),
            capture_bodies: true,
            max_body_bytes: 40,
            redact: vec!["password".into()],
            ..Default::default()
        })
        .unwrap();
        let body = log.request_body(r#"{"name":"login","arguments":{"user":"u","password":"p"}}"#);
        assert!(body.contains("[redac") && !body.contains("\"p\""), "{body}");
        let escaped = log.request_body(r#"{"arguments":{"pass\u0077ord":"p"}}"#);
        assert!(!escaped.contains("\"p\""), "{escaped}");
        assert!(body.len() <= 40);
        assert_eq!(log.body("éé"), "éé");
    }

    #[test]
    fn a_file_log_survives_a_reopen() {
        let dir =
            std::env::temp_dir().join(format!("fastmcp-bridge-request-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("requests.db").to_string_lossy().into_owned();
        {
            let log = RequestLog::open(RequestLogConfig {
                path: path.clone(),
                ..Default::default()
            })
            .unwrap();
            log.record(record("a", "t", 1, Outcome::Ok));
            log.close();
        }
        let log = RequestLog::open(RequestLogConfig {
            path,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(log.count().unwrap(), 1);
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
