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
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, Shared};
use futures_util::FutureExt;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::call::{CallOptions, RequestHandler};
use crate::config::HubCommand;
use crate::error::{Error, Result};
use crate::jsonrpc;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::pending::{Entry, Progress};
use crate::process::HubProcess;
use crate::queue::Limiter;
use crate::session::{ClientIdentity, Session, SessionHandle};
use crate::transport::SendError;

/// Stderr lines carried by start failures and crashes.
const STDERR_LINES: usize = 20;
/// First retry delay; doubles each retry.
const RETRY_BASE: Duration = Duration::from_millis(50);

/// Called with `(workspace id, message)` for each server notification not
/// tied to a call.
pub type NotificationHandler = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// A started hub process and its default MCP session.
pub(crate) struct Connection {
    process: HubProcess,
    /// Distinguishes this process from earlier ones of the workspace.
    generation: u64,
    default: Arc<Session>,
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
    identity: ClientIdentity,
    notifications: Option<NotificationHandler>,
    requests: Option<RequestHandler>,
    state: Mutex<State>,
    limiter: Limiter,
    metrics: Metrics,
    next_id: Arc<AtomicU64>,
    generations: AtomicU64,
}

/// What a workspace's default session declares and where server messages
/// that are not tied to a call go.
#[derive(Default, Clone)]
pub(crate) struct Handlers {
    pub identity: ClientIdentity,
    pub notifications: Option<NotificationHandler>,
    pub requests: Option<RequestHandler>,
}

impl Workspace {
    pub(crate) fn new(
        id: String,
        command: HubCommand,
        limiter: Limiter,
        limits: CallLimits,
        closing: CancellationToken,
        handlers: Handlers,
    ) -> Self {
        Workspace {
            id,
            command,
            limits,
            closing,
            identity: handlers.identity,
            notifications: handlers.notifications,
            requests: handlers.requests,
            state: Mutex::new(State::Idle),
            limiter,
            metrics: Metrics::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            generations: AtomicU64::new(0),
        }
    }

    pub(crate) fn max_message_bytes(&self) -> usize {
        self.limits.max_message_bytes
    }

    /// The request id counter shared by all sessions of the workspace.
    pub(crate) fn ids(&self) -> &AtomicU64 {
        &self.next_id
    }

    pub(crate) fn notification_handler(&self) -> Option<NotificationHandler> {
        self.notifications.clone()
    }

    /// The live process's generation and MCP endpoint URL, starting it if
    /// needed.
    pub(crate) async fn live_process(&self) -> Result<(u64, String)> {
        let conn = self.connection().await?;
        Ok((conn.generation, conn.process.url().to_owned()))
    }

    /// Opens a further MCP session on this workspace's process. Its server
    /// notifications go to `notifications`, else to the bridge's handler.
    pub fn session(
        self: &Arc<Self>,
        identity: ClientIdentity,
        requests: Option<RequestHandler>,
        notifications: Option<NotificationHandler>,
    ) -> Arc<SessionHandle> {
        SessionHandle::new(self.clone(), identity, requests, notifications)
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
                        self.generations.fetch_add(1, Ordering::Relaxed) + 1,
                        self.limits.max_message_bytes,
                        self.next_id.clone(),
                        Handlers {
                            identity: self.identity.clone(),
                            notifications: self.notifications.clone(),
                            requests: self.requests.clone(),
                        },
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
        generation: u64,
        max_message_bytes: usize,
        next_id: Arc<AtomicU64>,
        handlers: Handlers,
    ) -> Result<Arc<Connection>> {
        let process = HubProcess::spawn(&id, &command).await?;
        tracing::info!(workspace = id, pid = process.pid(), url = process.url(), "workspace ready");
        let session = Session::open(
            &id,
            process.url(),
            &handlers.identity,
            max_message_bytes,
            &next_id,
            handlers.notifications,
            handlers.requests,
        )
        .await;
        match session {
            Ok(session) => Ok(Arc::new(Connection {
                process,
                generation,
                default: Arc::new(session),
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
        self.call_on(None, method, params, options)
    }

    /// [`Workspace::call`] on `session`, or on the default session.
    pub(crate) fn call_on(
        self: &Arc<Self>,
        session: Option<Arc<SessionHandle>>,
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
                Ok(acquire) => this.call_inner(session, &method, params, options, started, acquire).await,
                Err(e) => Err(e),
            };
            this.metrics.settled(result.as_ref().map(|_| ()), started.elapsed());
            result
        }
    }

    async fn call_inner(
        &self,
        target: Option<Arc<SessionHandle>>,
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
            let session = tokio::select! {
                session = self.session_of(target.as_deref()) => session?,
                e = interrupted(&deadline) => return Err(e),
            };
            let (conn, session) = session;
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
            let entry = Entry {
                reply,
                progress: progress_tx,
                on_request: options.on_request.clone(),
            };
            if session.pending.insert(id, entry).is_err() {
                return Err(Error::Protocol(format!("request id {id} already in use")));
            }
            let sent = spawn_send(session.clone(), id, request.clone());
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
                        session.pending.remove(id);
                        sent.abort();
                        if !matches!(e, Error::Closed) {
                            let reason = e.to_string();
                            cancel_request(&session, id, &reason);
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

    /// The live connection and the session a call goes on.
    async fn session_of(&self, target: Option<&SessionHandle>) -> Result<(Arc<Connection>, Arc<Session>)> {
        let conn = self.connection().await?;
        let session = match target {
            None => conn.default.clone(),
            Some(handle) => handle.session_for(conn.generation, conn.process.url()).await?,
        };
        Ok((conn, session))
    }

    /// The server's `InitializeResult` (protocol version, capabilities,
    /// serverInfo, instructions), starting the process if needed.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `CLOSED`.
    pub async fn server_info(&self) -> Result<Value> {
        Ok(self.connection().await?.default.init.clone())
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
            State::Ready(conn) => conn.default.pending.len(),
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
            conn.default.close(|| Error::Closed).await;
            conn.process.stop().await;
        }
    }
}

/// Sends a request from its own task; a failure settles the pending entry.
fn spawn_send(session: Arc<Session>, id: u64, request: Value) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = session.transport.send(request).await {
            session.pending.fail(id, error);
        }
    })
}

/// Tells the server to stop working on request `id` (MCP 2025-06-18, Basic /
/// Utilities / Cancellation), in the background.
fn cancel_request(session: &Arc<Session>, id: u64, reason: &str) {
    let notification = jsonrpc::notification(
        "notifications/cancelled",
        Some(json!({ "requestId": id, "reason": reason })),
    );
    let session = session.clone();
    tokio::spawn(async move {
        if let Err(e) = session.transport.send(notification).await {
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
