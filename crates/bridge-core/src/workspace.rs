//! One workspace: its hub process, started on first use, the MCP session
//! the core holds with it, and the request path of its calls.
//!
//! # Theory of operation
//!
//! A call first takes a place in the workspace's bounded priority queue
//! ([`crate::queue`]): it gets a concurrency slot at once, waits for one, or
//! is refused with `QUEUE_FULL`. Its deadline runs from the call, so queue
//! wait counts. Holding a slot, it gets the live [`Connection`], starting
//! the process when there is none: the start runs in its own task and is
//! shared by every call waiting for it, so a caller that gives up does not
//! cancel it. The call then registers a reply channel under a fresh request
//! id in the connection's [`Pending`] map and sends the request from a
//! separate task. It settles on the first of: the response (routed by id
//! by the connection's inbox), a send failure, its deadline, its abort
//! signal, or the bridge closing. On timeout or abort after the request was
//! sent, it removes its entry and sends `notifications/cancelled`. A send
//! that surely never reached the server is retried with backoff, within
//! the deadline, up to `maxRetries` times; anything else is never sent twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures_util::future::{BoxFuture, Shared};
use futures_util::FutureExt;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::call::CallOptions;
use crate::config::HubCommand;
use crate::error::{Error, Result};
use crate::jsonrpc::{self, Message};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::pending::{Entry, Pending, Progress};
use crate::process::HubProcess;
use crate::queue::Limiter;
use crate::transport::http::HttpTransport;
use crate::transport::{Inbox, SendError, Transport};

/// The MCP revision the core asks for in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// MCP revisions the core accepts from a server.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// Stderr lines carried by start failures and crashes.
const STDERR_LINES: usize = 20;
/// First retry delay; doubles each retry.
const RETRY_BASE: Duration = Duration::from_millis(50);

/// Called with `(workspace id, message)` for each server notification not
/// tied to a call.
pub type NotificationHandler = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// A started hub process and the MCP session on it.
pub(crate) struct Connection {
    process: HubProcess,
    transport: Arc<dyn Transport>,
    pending: Arc<Pending>,
    /// The server's `InitializeResult`.
    init: Value,
}

/// Routes what the server sends: responses and progress to waiting calls,
/// other notifications to the bridge's handler, and answers server requests.
struct Router {
    workspace: String,
    pending: Arc<Pending>,
    transport: OnceLock<Weak<dyn Transport>>,
    notifications: Option<NotificationHandler>,
}

impl Router {
    fn reply(&self, response: Value) {
        let Some(transport) = self.transport.get().and_then(Weak::upgrade) else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = transport.send(response).await {
                tracing::warn!(error = %e.error, "could not answer a server request");
            }
        });
    }
}

impl Inbox for Router {
    fn deliver(&self, message: Value, _related: Option<&Value>) {
        match Message::classify(&message) {
            Ok(Message::Response { id }) => {
                if !self.pending.complete(message) {
                    tracing::warn!(workspace = self.workspace, %id, "response to no waiting call; dropped");
                }
            }
            Ok(Message::Notification { method }) => {
                if method == "notifications/progress" {
                    let params = message.get("params").cloned().unwrap_or(Value::Null);
                    if let (Some(token), Some(progress)) =
                        (params.get("progressToken"), Progress::from_params(&params))
                    {
                        if self.pending.progress(token, progress) {
                            return;
                        }
                    }
                }
                match &self.notifications {
                    Some(handler) => handler(&self.workspace, message),
                    None => tracing::debug!(workspace = self.workspace, method, "server notification"),
                }
            }
            Ok(Message::Request { id, method }) => {
                let response = if method == "ping" {
                    json!({ "jsonrpc": "2.0", "id": id, "result": {} })
                } else {
                    json!({ "jsonrpc": "2.0", "id": id,
                            "error": { "code": -32601, "message": format!("Method not found: {method}") } })
                };
                self.reply(response);
            }
            Err(e) => tracing::warn!(workspace = self.workspace, error = %e, "invalid message from server; dropped"),
        }
    }
}

type Starting = Shared<BoxFuture<'static, Result<Arc<Connection>>>>;

enum State {
    Idle,
    Starting(Starting),
    Ready(Arc<Connection>),
}

/// Limits and defaults of a workspace's calls.
#[derive(Debug, Clone)]
pub(crate) struct CallLimits {
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_message_bytes: usize,
}

/// One workspace of a [`Bridge`](crate::Bridge).
pub struct Workspace {
    id: String,
    command: HubCommand,
    limits: CallLimits,
    closing: CancellationToken,
    notifications: Option<NotificationHandler>,
    state: Mutex<State>,
    limiter: Limiter,
    metrics: Metrics,
    next_id: Arc<AtomicU64>,
}

impl Workspace {
    pub(crate) fn new(
        id: String,
        command: HubCommand,
        limiter: Limiter,
        limits: CallLimits,
        closing: CancellationToken,
        notifications: Option<NotificationHandler>,
    ) -> Self {
        Workspace {
            id,
            command,
            limits,
            closing,
            notifications,
            state: Mutex::new(State::Idle),
            limiter,
            metrics: Metrics::default(),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The workspace id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The live connection, starting the process when there is none or the
    /// last one's process has exited. Every caller waits for the same start.
    async fn connection(&self) -> Result<Arc<Connection>> {
        let starting = {
            let mut state = self.state.lock();
            if self.closing.is_cancelled() {
                return Err(Error::Closed);
            }
            match &*state {
                State::Ready(conn) if conn.process.is_running() => return Ok(conn.clone()),
                State::Starting(starting) => starting.clone(),
                State::Ready(_) | State::Idle => {
                    let start = Self::start(
                        self.id.clone(),
                        self.command.clone(),
                        self.limits.max_message_bytes,
                        self.next_id.clone(),
                        self.notifications.clone(),
                    );
                    let task = tokio::spawn(start);
                    let starting = async move {
                        task.await.unwrap_or_else(|e| Err(Error::Transport(format!("start task: {e}"))))
                    }
                    .boxed()
                    .shared();
                    *state = State::Starting(starting.clone());
                    starting
                }
            }
        };
        let outcome = starting.await;
        {
            let mut state = self.state.lock();
            if let State::Starting(_) = &*state {
                *state = match &outcome {
                    Ok(conn) if !self.closing.is_cancelled() => State::Ready(conn.clone()),
                    _ => State::Idle,
                };
            }
        }
        if self.closing.is_cancelled() {
            if let Ok(conn) = outcome {
                conn.process.stop().await;
            }
            return Err(Error::Closed);
        }
        outcome
    }

    async fn start(
        id: String,
        command: HubCommand,
        max_message_bytes: usize,
        next_id: Arc<AtomicU64>,
        notifications: Option<NotificationHandler>,
    ) -> Result<Arc<Connection>> {
        let process = HubProcess::spawn(&id, &command).await?;
        tracing::info!(workspace = id, pid = process.pid(), url = process.url(), "workspace ready");
        let pending = Arc::new(Pending::new());
        let router = Arc::new(Router {
            workspace: id.clone(),
            pending: pending.clone(),
            transport: OnceLock::new(),
            notifications,
        });
        let session = async {
            let transport: Arc<dyn Transport> =
                Arc::new(HttpTransport::new(process.url(), router.clone(), max_message_bytes)?);
            let _ = router.transport.set(Arc::downgrade(&transport));
            let init = initialize(&*transport, &pending, &next_id).await?;
            Ok::<_, Error>((transport, init))
        };
        match session.await {
            Ok((transport, init)) => Ok(Arc::new(Connection {
                process,
                transport,
                pending,
                init,
            })),
            Err(e) => {
                let stderr = process.stderr_tail(STDERR_LINES);
                process.stop().await;
                Err(Error::StartFailed {
                    workspace: id,
                    reason: format!("MCP initialize failed: {e}"),
                    stderr,
                })
            }
        }
    }

    /// Sends a JSON-RPC request and resolves with its `result`.
    ///
    /// The call takes its place in the queue when this function is called,
    /// not when the future is first polled, so calls are queued in the
    /// order they are made.
    ///
    /// # Errors
    ///
    /// `QUEUE_FULL` at once when the queue is full; `TIMEOUT`, `ABORTED`,
    /// `CLOSED`; `START_FAILED` when the process cannot start;
    /// `WORKSPACE_CRASHED` when it exits with the call in flight;
    /// `PAYLOAD_TOO_LARGE`; [`Error::JsonRpc`] for the server's error
    /// response; `TRANSPORT_ERROR` / `PROTOCOL_ERROR`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future releases the call's queue place or slot and
    /// forgets its pending entry, but sends no `notifications/cancelled`:
    /// use [`CallOptions::cancel`] for that.
    pub fn call(
        self: &Arc<Self>,
        method: &str,
        params: Option<Value>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Value>> + Send + 'static {
        let started = Instant::now();
        self.metrics.started();
        let admitted = if self.closing.is_cancelled() {
            Err(Error::Closed)
        } else if options.cancel.as_ref().is_some_and(CancellationToken::is_cancelled) {
            Err(Error::Aborted)
        } else {
            self.limiter.acquire(options.priority)
        };
        let this = self.clone();
        let method = method.to_owned();
        async move {
            let result = match admitted {
                Ok(acquire) => this.call_inner(&method, params, options, started, acquire).await,
                Err(e) => Err(e),
            };
            this.metrics.settled(result.as_ref().map(|_| ()), started.elapsed());
            result
        }
    }

    async fn call_inner(
        &self,
        method: &str,
        params: Option<Value>,
        options: CallOptions,
        started: Instant,
        acquire: crate::queue::Acquire,
    ) -> Result<Value> {
        let cancel = options.cancel.clone().unwrap_or_default();
        let timeout = options.timeout.unwrap_or(self.limits.timeout);
        let mut deadline = Deadline::new(started, timeout, options.max_total_timeout);
        let interrupted = |deadline: &Deadline| {
            let expired = deadline.expired();
            let closing = self.closing.clone();
            let cancel = cancel.clone();
            async move {
                tokio::select! {
                    biased;
                    _ = closing.cancelled() => Error::Closed,
                    _ = cancel.cancelled() => Error::Aborted,
                    e = expired => e,
                }
            }
        };

        let _permit = tokio::select! {
            permit = acquire => permit,
            e = interrupted(&deadline) => return Err(e),
        };

        let mut request = jsonrpc::request(0, method, params);
        let size = serde_json::to_vec(&request).map(|v| v.len()).unwrap_or(0);
        if size > self.limits.max_message_bytes {
            return Err(Error::PayloadTooLarge {
                what: "request",
                max: self.limits.max_message_bytes,
            });
        }

        let mut attempt = 0;
        loop {
            let conn = tokio::select! {
                conn = self.connection() => conn?,
                e = interrupted(&deadline) => return Err(e),
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            request["id"] = json!(id);
            let (progress_tx, mut progress_rx) = match options.on_progress {
                Some(_) => {
                    set_progress_token(&mut request, id);
                    let (tx, rx) = mpsc::unbounded_channel();
                    (Some(tx), Some(rx))
                }
                None => (None, None),
            };
            let (reply, mut replied) = oneshot::channel();
            if conn.pending.insert(id, Entry { reply, progress: progress_tx }).is_err() {
                return Err(Error::Protocol(format!("request id {id} already in use")));
            }
            let sent = spawn_send(conn.clone(), id, request.clone());
            let outcome = loop {
                tokio::select! {
                    biased;
                    reply = &mut replied => break reply.unwrap_or(Err(SendError::delivered(Error::Closed))),
                    Some(progress) = recv_progress(&mut progress_rx) => {
                        if options.reset_timeout_on_progress {
                            deadline.reset();
                        }
                        if let Some(handler) = &options.on_progress {
                            handler(progress);
                        }
                    }
                    e = interrupted(&deadline) => {
                        conn.pending.remove(id);
                        sent.abort();
                        if !matches!(e, Error::Closed) {
                            let reason = e.to_string();
                            cancel_request(&conn, id, &reason);
                        }
                        return Err(e);
                    }
                }
            };
            // Progress sent before the response is delivered before it.
            if let (Some(rx), Some(handler)) = (progress_rx.as_mut(), &options.on_progress) {
                while let Ok(progress) = rx.try_recv() {
                    handler(progress);
                }
            }
            match outcome {
                Ok(response) => return jsonrpc::into_result(response),
                Err(SendError { error: Error::Transport(reason), maybe_delivered: false }) => {
                    attempt += 1;
                    if attempt > self.limits.max_retries {
                        return Err(Error::Transport(reason));
                    }
                    let delay = RETRY_BASE * 2u32.saturating_pow(attempt - 1);
                    tracing::debug!(workspace = self.id, attempt, ?delay, "request never reached the server; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        e = interrupted(&deadline) => return Err(e),
                    }
                }
                Err(SendError { error: Error::Transport(reason), .. }) => {
                    return Err(match conn.process.exit_status().await {
                        Some(status) => Error::WorkspaceCrashed {
                            workspace: self.id.clone(),
                            status,
                            stderr: conn.process.stderr_tail(STDERR_LINES),
                        },
                        None => Error::Transport(reason),
                    })
                }
                Err(SendError { error, .. }) => return Err(error),
            }
        }
    }

    /// The server's `InitializeResult` (protocol version, capabilities,
    /// serverInfo, instructions), starting the process if needed.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `CLOSED`.
    pub async fn server_info(&self) -> Result<Value> {
        Ok(self.connection().await?.init.clone())
    }

    /// The OS process id, when a process is running.
    pub fn pid(&self) -> Option<u32> {
        match &*self.state.lock() {
            State::Ready(conn) => conn.process.pid(),
            _ => None,
        }
    }

    /// Counters, gauges and latency percentiles of this workspace's calls.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot(self.limiter.in_flight(), self.limiter.queued())
    }

    /// Calls waiting for a response on the live connection.
    pub fn pending(&self) -> usize {
        match &*self.state.lock() {
            State::Ready(conn) => conn.pending.len(),
            _ => 0,
        }
    }

    /// Ends the MCP session and stops the process; calls in flight fail with
    /// `CLOSED` (when the bridge closes) or `TRANSPORT_ERROR`. Idempotent.
    pub async fn stop(&self) {
        let previous = std::mem::replace(&mut *self.state.lock(), State::Idle);
        let conn = match previous {
            State::Ready(conn) => Some(conn),
            // A start in flight sees `closing` and stops its own process.
            State::Starting(_) | State::Idle => None,
        };
        if let Some(conn) = conn {
            conn.pending.fail_all(|| Error::Closed);
            conn.transport.close().await;
            conn.process.stop().await;
        }
    }
}

/// MCP initialization (MCP 2025-06-18, Basic / Lifecycle): `initialize`,
/// then `notifications/initialized`.
async fn initialize(transport: &dyn Transport, pending: &Pending, next_id: &AtomicU64) -> Result<Value> {
    let id = next_id.fetch_add(1, Ordering::Relaxed);
    let params = json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": "fastmcp-bridge", "version": env!("CARGO_PKG_VERSION") },
    });
    let (reply, replied) = oneshot::channel();
    let _ = pending.insert(id, Entry { reply, progress: None });
    if let Err(e) = transport.send(jsonrpc::request(id, "initialize", Some(params))).await {
        pending.remove(id);
        return Err(e.error);
    }
    let response = replied
        .await
        .unwrap_or(Err(SendError::delivered(Error::Closed)))
        .map_err(|e| e.error)?;
    let init = jsonrpc::into_result(response)?;
    let version = init
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?;
    if !SUPPORTED_PROTOCOL_VERSIONS.contains(&version) {
        return Err(Error::Protocol(format!("unsupported MCP protocol version {version:?}")));
    }
    transport.set_protocol_version(version);
    transport
        .send(jsonrpc::notification("notifications/initialized", None))
        .await
        .map_err(|e| e.error)?;
    Ok(init)
}

/// Sends a request from its own task; a failure settles the pending entry.
fn spawn_send(conn: Arc<Connection>, id: u64, request: Value) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = conn.transport.send(request).await {
            conn.pending.fail(id, error);
        }
    })
}

/// Tells the server to stop working on request `id` (MCP 2025-06-18, Basic /
/// Utilities / Cancellation), in the background.
fn cancel_request(conn: &Arc<Connection>, id: u64, reason: &str) {
    let notification = jsonrpc::notification(
        "notifications/cancelled",
        Some(json!({ "requestId": id, "reason": reason })),
    );
    let conn = conn.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.transport.send(notification).await {
            tracing::debug!(error = %e.error, "notifications/cancelled not delivered");
        }
    });
}

fn set_progress_token(request: &mut Value, id: u64) {
    let params = request
        .as_object_mut()
        .expect("requests are objects")
        .entry("params")
        .or_insert_with(|| json!({}));
    if let Some(params) = params.as_object_mut() {
        let meta = params.entry("_meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("progressToken".into(), json!(id));
        }
    }
}

async fn recv_progress(rx: &mut Option<mpsc::UnboundedReceiver<Progress>>) -> Option<Progress> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A call's deadline: `timeout` from the start (or from the last progress,
/// once reset), never past `max_total` from the start.
struct Deadline {
    started: Instant,
    timeout: Duration,
    max_total: Option<Duration>,
    at: Instant,
}

impl Deadline {
    fn new(started: Instant, timeout: Duration, max_total: Option<Duration>) -> Self {
        let mut deadline = Deadline {
            started,
            timeout,
            max_total,
            at: started,
        };
        deadline.at = deadline.capped(started + timeout);
        deadline
    }

    fn capped(&self, at: Instant) -> Instant {
        match self.max_total {
            Some(total) => at.min(self.started + total),
            None => at,
        }
    }

    fn reset(&mut self) {
        self.at = self.capped(Instant::now() + self.timeout);
    }

    /// Resolves with `TIMEOUT` when the deadline passes.
    fn expired(&self) -> impl std::future::Future<Output = Error> + 'static {
        let at = self.at;
        let ms = match self.max_total {
            Some(total) if self.started + total <= at => total,
            _ => self.timeout,
        }
        .as_millis() as u64;
        async move {
            tokio::time::sleep_until(at).await;
            Error::Timeout { ms }
        }
    }
}
