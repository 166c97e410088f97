//! One workspace: its queue, its `Supervisor` ([`crate::supervisor`]), the
//! MCP sessions callers open on it ([`SessionHandle`]), and the request path
//! of its calls.
//!
//! # Theory of operation
//!
//! A call first takes a place in the workspace's bounded priority queue
//! ([`crate::queue`]): it gets a concurrency slot at once, waits for one, or
//! is refused with `QUEUE_FULL`. Its deadline runs from the call, so queue
//! wait counts. Holding a slot, it asks the supervisor for the running
//! server, which starts one when there is none: the start runs in its own
//! task and is shared by every call waiting for it, so a caller that gives
//! up does not cancel it. The call's request is encoded once, under a fresh request id
//! (its progress token too, when it asks for progress), and checked against
//! `maxMessageBytes`. The call registers a reply channel under that id in
//! the session's [`Pending`](crate::pending::Pending) map and sends the request from a separate
//! task. It settles on the first of: the response (routed by id by the
//! session's inbox), a send failure, its deadline, its abort signal, or the
//! bridge closing. On timeout or abort after the request was
//! sent, it removes its entry and sends `notifications/cancelled`. A send
//! that surely never reached the server is retried with backoff (50 ms
//! doubling, with jitter), within
//! the deadline, up to `maxRetries` times, as the same bytes under the same
//! id; anything else is never sent twice. The response's `result` reaches
//! the caller as the server's JSON text ([`Workspace::call_raw`]), or parsed
//! ([`Workspace::call`]).

mod handle;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::call::CallTags;
use crate::request_log::{self, RequestEntry, RequestLog};
use crate::fleet::Fleet;
use crate::call::{CallOptions, NotificationHandler, Progress, RequestHandler};
use crate::config::{LaunchSpec, ResolvedLimits, TransportKind};
use crate::error::{Error, Result};
use crate::jsonrpc::{Outgoing, Params};
use crate::launcher::Launcher;
use crate::logs::{LogBuffer, LogLine};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::pending::Entry;
use crate::queue::Queue;
use crate::session::{ClientIdentity, Session, SessionState};
use crate::supervisor::{DefaultSession, EventSink, Running, Supervisor, WorkspaceStatus};
use crate::transport::SendError;

pub use handle::SessionHandle;

/// Delays between the sends of a request that surely never reached the
/// server: 50 ms doubling, at most 1 s, with jitter ([`Backoff`]).
fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(50), 2, Duration::from_secs(1))
}
/// Most `InputRequiredResult`s one call answers before it fails with
/// `PROTOCOL_ERROR` (a server that keeps asking).
const MAX_INPUT_ROUNDS: u32 = 16;

/// One workspace of a [`Bridge`](crate::Bridge).
pub struct Workspace {
    id: String,
    limits: ResolvedLimits,
    transport: TransportKind,
    closing: CancellationToken,
    /// The bridge's handler of notifications not tied to a call.
    notifications: Option<NotificationHandler>,
    supervisor: Arc<Supervisor>,
    logs: LogBuffer,
    queue: Queue,
    metrics: Metrics,
    next_id: Arc<AtomicU64>,
    /// The bridge's workspaces, for the `maxRunning` cap.
    fleet: Weak<Fleet>,
    /// Notification handlers of the open [`SessionHandle`]s, by handle id:
    /// over stdio every handle shares the process's one MCP session, whose
    /// notifications go to each of them (see [`Workspace::session`]).
    shared_listeners: Arc<Mutex<Vec<(u64, NotificationHandler)>>>,
    next_listener: AtomicU64,
    /// Where its calls are recorded, when the bridge keeps a request log.
    request_log: Option<Arc<RequestLog>>,
    /// Its id in the request log: a per-client session's process
    /// (`<id>~<n>`) is logged under its workspace's id.
    log_name: String,
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
    #[allow(clippy::too_many_arguments)] // what the bridge hands each workspace, built once
    pub(crate) fn new(
        id: String,
        command: LaunchSpec,
        launcher: Box<dyn Launcher>,
        limits: ResolvedLimits,
        closing: CancellationToken,
        handlers: Handlers,
        events: EventSink,
        fleet: Weak<Fleet>,
        request_log: Option<Arc<RequestLog>>,
    ) -> Self {
        let transport = command.transport;
        let logs = LogBuffer::new(limits.log_lines);
        let queue = Queue::new(limits.max_concurrent, limits.max_queue);
        let next_id = Arc::new(AtomicU64::new(1));
        let shared_listeners: Arc<Mutex<Vec<(u64, NotificationHandler)>>> = Arc::default();
        let session = DefaultSession {
            identity: handlers.identity,
            protocol: command.protocol,
            notifications: default_notifications(transport, handlers.notifications.clone(), &shared_listeners),
            requests: handlers.requests,
            state: Arc::default(),
            ids: next_id.clone(),
            max_message_bytes: limits.max_message_bytes,
            start_timeout: command.start_timeout,
        };
        let supervisor = Supervisor::new(
            id.clone(),
            launcher,
            session,
            limits.clone(),
            queue.clone(),
            closing.clone(),
            events,
            logs.clone(),
        );
        let log_name = id.split('~').next().unwrap_or(&id).to_owned();
        Workspace {
            id,
            limits,
            transport,
            closing,
            notifications: handlers.notifications,
            supervisor: Arc::new(supervisor),
            logs,
            queue,
            metrics: Metrics::default(),
            next_id,
            fleet,
            shared_listeners,
            next_listener: AtomicU64::new(1),
            log_name,
            request_log,
        }
    }

    /// Marks the workspace removed: it starts no process any more.
    pub(crate) fn retire(&self) {
        self.supervisor.retire();
    }

    pub(crate) fn max_message_bytes(&self) -> usize {
        self.limits.max_message_bytes
    }

    /// The request id counter shared by all sessions of the workspace.
    pub(crate) fn ids(&self) -> &Arc<AtomicU64> {
        &self.next_id
    }

    /// The workspace's supervisor.
    pub(crate) fn supervisor(&self) -> &Arc<Supervisor> {
        &self.supervisor
    }

    pub(crate) fn notification_handler(&self) -> Option<NotificationHandler> {
        self.notifications.clone()
    }

    /// Adds a session's notification handler to the stdio fan-out; the
    /// returned id takes it out again ([`Workspace::unlisten`]). `None`
    /// for other transports, where each session has its own.
    pub(crate) fn listen(&self, handler: NotificationHandler) -> Option<u64> {
        if self.transport != TransportKind::Stdio {
            return None;
        }
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        self.shared_listeners.lock().push((id, handler));
        Some(id)
    }

    pub(crate) fn unlisten(&self, id: u64) {
        self.shared_listeners.lock().retain(|(listener, _)| *listener != id);
    }

    /// Opens a further MCP session on this workspace's process. Its server
    /// notifications go to `notifications`, else to the bridge's handler.
    ///
    /// Over stdio a process has one MCP session, which every session
    /// shares: its notifications not tied to a call go to the bridge's
    /// handler and to the `notifications` of every open session.
    pub fn session(
        self: &Arc<Self>,
        identity: ClientIdentity,
        requests: Option<RequestHandler>,
        notifications: Option<NotificationHandler>,
    ) -> Arc<SessionHandle> {
        SessionHandle::new(self.clone(), identity, requests, notifications, None)
    }

    /// The workspace id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The last `lines` lines the workspace's processes wrote, oldest first.
    pub fn logs(&self, lines: usize) -> Vec<LogLine> {
        self.logs.tail(lines)
    }

    /// Calls `watcher` with each line the workspace's processes write from
    /// now on, across restarts, until the watch ends; returns the last
    /// `tail` lines before them (see [`crate::logs::LogBuffer::watch`]).
    pub fn watch_logs(&self, tail: usize, watcher: crate::logs::LogWatcher) -> (Vec<LogLine>, crate::logs::LogWatch) {
        self.logs.watch(tail, watcher)
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
    /// response; `TRANSPORT_ERROR` / `PROTOCOL_ERROR` (also for a result
    /// holding a number out of the range of an f64, which
    /// [`Workspace::call_raw`] passes on as text).
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
        parsed(self.call_on(None, method, params.map(Params::Value), options))
    }

    /// [`Workspace::call`] with params of either kind (JSON text is spliced
    /// into the request unparsed), resolving with the `result` as the
    /// server's JSON text, unparsed.
    ///
    /// # Errors
    ///
    /// As [`Workspace::call`]; `PAYLOAD_TOO_LARGE` when the encoded request
    /// is over `maxMessageBytes`.
    ///
    /// # Cancel safety
    ///
    /// As [`Workspace::call`].
    pub fn call_raw(
        self: &Arc<Self>,
        method: &str,
        params: Option<Params>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Box<RawValue>>> + Send + 'static {
        self.call_on(None, method, params, options)
    }

    /// [`Workspace::call_raw`] on `session`, or on the default session.
    pub(crate) fn call_on(
        self: &Arc<Self>,
        session: Option<Arc<SessionHandle>>,
        method: &str,
        params: Option<Params>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Box<RawValue>>> + Send + 'static {
        let started = Instant::now();
        self.metrics.started();
        self.supervisor.touch();
        let admitted = if self.closing.is_cancelled() {
            Err(Error::Closed)
        } else if options.cancel.as_ref().is_some_and(CancellationToken::is_cancelled) {
            Err(Error::Aborted)
        } else {
            self.queue.acquire(options.priority, flow_of(&session))
        };
        let this = self.clone();
        let method = method.to_owned();
        let logged = self.request_log.as_ref().map(|log| Logged::new(log, &method, params.as_ref(), &options.tags));
        let queue_wait = options.queue_wait.clone();
        async move {
            // Set when the call leaves the queue (µs from its start).
            let waited = AtomicU64::new(u64::MAX);
            // Boxed: the request path's state is several KiB (about 7 in
            // this version), which would otherwise be moved with the
            // call's future at every hand-over (into a task, into a join)
            // and allocated even for a call that fails before it.
            let result = match admitted {
                Ok(acquire) => {
                    Box::pin(Self::call_inner(&this, session, &method, params, options, started, acquire, &waited)).await
                }
                Err(e) => Err(e),
            };
            let elapsed = started.elapsed();
            this.metrics.settled(result.as_ref().map(|_| ()), elapsed);
            if let Some(queue_wait) = queue_wait {
                let micros = match waited.load(Ordering::Relaxed) {
                    u64::MAX => u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX - 1),
                    micros => micros,
                };
                queue_wait.store(micros, Ordering::Relaxed);
            }
            if let (Some(logged), Some(log)) = (logged, &this.request_log) {
                let queue = match waited.load(Ordering::Relaxed) {
                    u64::MAX => elapsed,
                    micros => Duration::from_micros(micros),
                };
                logged.finish(log, &this.log_name, method, &result, elapsed, queue);
            }
            result
        }
    }

    #[allow(clippy::too_many_arguments)] // the call's parts, handed over once from `call_on`
    async fn call_inner(
        self: &Arc<Self>,
        target: Option<Arc<SessionHandle>>,
        method: &str,
        params: Option<Params>,
        options: CallOptions,
        started: Instant,
        acquire: crate::queue::Acquire,
        waited: &AtomicU64,
    ) -> Result<Box<RawValue>> {
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
        waited.store(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX - 1), Ordering::Relaxed);

        // One id and one encoding for every attempt: a request is sent again
        // only when it surely never reached the server. Encoded on the first
        // attempt, by the session (a sessionless one adds its `_meta`), and
        // again only for the next round of a multi round-trip request.
        let mut id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut params = params;
        let mut encoded: Option<Outgoing> = None;

        let mut attempt = 0;
        let mut retry = retry_backoff();
        let mut input_rounds = 0;
        loop {
            let session = tokio::select! {
                session = self.session_of(target.as_deref()) => session?,
                e = interrupted(&deadline) => return Err(e),
            };
            let (running, session) = session;
            if session.is_sessionless() && matches!(method, "resources/subscribe" | "resources/unsubscribe") {
                let params = match params.take() {
                    None => None,
                    Some(Params::Value(value)) => Some(value),
                    Some(Params::Raw(raw)) => Some(
                        serde_json::from_str(raw.get()).map_err(|e| Error::InvalidArgument(format!("params: {e}")))?,
                    ),
                };
                let answered = tokio::select! {
                    answered = session.subscription(method, params.as_ref()) => answered?,
                    e = interrupted(&deadline) => return Err(e),
                };
                return RawValue::from_string(answered.to_string()).map_err(|e| Error::Protocol(e.to_string()));
            }
            let request = match &encoded {
                Some(request) => request.clone(),
                None => {
                    let request = session.encode(id, method, params.take(), options.on_progress.is_some())?;
                    if request.len() > self.limits.max_message_bytes {
                        return Err(Error::PayloadTooLarge {
                            what: "request",
                            max: Some(self.limits.max_message_bytes),
                        });
                    }
                    encoded = Some(request.clone());
                    request
                }
            };
            let (progress_tx, mut progress_rx) = match options.on_progress {
                Some(_) => {
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
                flow: flow_of(&target),
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
                        if let Some(sent) = &sent {
                            sent.abort();
                        }
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
                Ok(result) => {
                    let Some(input) = input_required(&session, &result) else {
                        if SessionState::records(method) {
                            let sent: Option<Value> = serde_json::from_slice(request.bytes()).ok();
                            session.state.record(method, sent.as_ref().and_then(|m| m.get("params")));
                        }
                        return Ok(result);
                    };
                    // MCP 2026-07-28, Basic / Multi round-trip requests: answer
                    // the server's input requests, then send the request
                    // again, as a new request, with the answers and the
                    // server's state.
                    input_rounds += 1;
                    if input_rounds > MAX_INPUT_ROUNDS {
                        return Err(Error::Protocol(format!(
                            "the server asked for input more than {MAX_INPUT_ROUNDS} times"
                        )));
                    }
                    let responses = tokio::select! {
                        responses = session.fulfill(&input, options.on_request.clone()) => responses?,
                        e = interrupted(&deadline) => return Err(e),
                    };
                    let mut next: Value = serde_json::from_slice(request.bytes())
                        .map_err(|e| Error::Protocol(format!("request: {e}")))?;
                    let mut next_params = next.get_mut("params").map(Value::take).unwrap_or_else(|| json!({}));
                    with_input(&mut next_params, responses, input.get("requestState").cloned());
                    params = Some(Params::Value(next_params));
                    encoded = None;
                    id = self.next_id.fetch_add(1, Ordering::Relaxed);
                }
                Err(SendError { error: Error::Transport(reason), maybe_delivered: false }) => {
                    attempt += 1;
                    if attempt > self.limits.max_retries {
                        return Err(Error::Transport(reason));
                    }
                    let delay = retry.next().unwrap_or_default();
                    tracing::debug!(workspace = self.id, attempt, ?delay, "request never reached the server; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        e = interrupted(&deadline) => return Err(e),
                    }
                }
                Err(SendError { error: Error::Transport(reason), .. }) => {
                    return Err(match running.process.exit_status().await {
                        Some(status) => {
                            let limit = running.process.limit_reason(&status);
                            self.supervisor.crash_error(&status, limit)
                        }
                        None => Error::Transport(reason),
                    })
                }
                Err(SendError { error, .. }) => return Err(error),
            }
        }
    }

    /// The running server and the session a call goes on.
    async fn session_of(self: &Arc<Self>, target: Option<&SessionHandle>) -> Result<(Arc<Running>, Arc<Session>)> {
        let running = self.running().await?;
        let session = match target {
            None => running.default.clone(),
            Some(handle) => handle.session_for(&running).await?,
        };
        Ok((running, session))
    }

    /// The server's `InitializeResult` (protocol version, capabilities,
    /// serverInfo, instructions), starting the process if needed.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `WORKSPACE_FAILED`, `CLOSED`.
    pub async fn server_info(self: &Arc<Self>) -> Result<Value> {
        Ok(self.running().await?.default.init.clone())
    }

    /// Counters, gauges and latency percentiles of this workspace's calls.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot(self.queue.in_flight(), self.queue.queued())
    }

    /// Calls waiting for a response on the live process, all sessions.
    pub fn pending(&self) -> usize {
        self.supervisor.ready().map_or(0, |running| running.pending())
    }

    /// The running server, starting it when it is stopped (after making
    /// room under the bridge's `maxRunning`).
    ///
    /// # Errors
    ///
    /// As [`Workspace::start`].
    pub(crate) async fn running(self: &Arc<Self>) -> Result<Arc<Running>> {
        if self.supervisor.is_stopped() {
            if let Some(fleet) = self.fleet.upgrade() {
                fleet.make_room(&self.supervisor).await;
            }
        }
        self.supervisor.running().await
    }

    /// The OS process id, when a process is running.
    pub fn pid(&self) -> Option<u32> {
        self.supervisor.ready().and_then(|running| running.process.pid())
    }

    /// The supervision state.
    pub fn status(&self) -> WorkspaceStatus {
        self.supervisor.status()
    }

    /// Starts the process now if it is not running.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `WORKSPACE_FAILED`, `WORKSPACE_STOPPED` (while
    /// stopping), `UNKNOWN_WORKSPACE` (once removed), `CLOSED`.
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        self.running().await.map(|_| ())
    }

    /// Stops the process: calls in flight may finish within `grace`, then
    /// the rest fail (`WORKSPACE_STOPPED`, or `CLOSED` when the bridge
    /// closes); SIGTERM to the process group, SIGKILL after `grace`.
    /// Idempotent. A later call starts the process again.
    pub async fn stop(&self, grace: Duration) {
        self.supervisor.stop(grace).await;
    }

    /// Stops the process and starts it again; also takes a `failed`
    /// workspace back into service, with its restart count kept and its
    /// backoff and intensity reset.
    ///
    /// # Errors
    ///
    /// As [`Workspace::start`].
    pub async fn restart(self: &Arc<Self>, grace: Duration) -> Result<()> {
        self.supervisor.reset();
        self.supervisor.stop(grace).await;
        self.start().await
    }
}

/// Where the notifications of a process's default MCP session go: the
/// bridge's handler and, over stdio, where that session is every session's,
/// also each open session's own handler.
fn default_notifications(
    transport: TransportKind,
    bridge: Option<NotificationHandler>,
    listeners: &Arc<Mutex<Vec<(u64, NotificationHandler)>>>,
) -> Option<NotificationHandler> {
    if transport != TransportKind::Stdio {
        return bridge;
    }
    let listeners = listeners.clone();
    Some(Arc::new(move |workspace: &str, message: Value| {
        let sessions: Vec<NotificationHandler> = listeners.lock().iter().map(|(_, h)| h.clone()).collect();
        for handler in &sessions {
            handler(workspace, message.clone());
        }
        if let Some(handler) = &bridge {
            handler(workspace, message);
        }
    }))
}

/// Parses the `result` of a call.
pub(crate) async fn parsed(call: impl std::future::Future<Output = Result<Box<RawValue>>>) -> Result<Value> {
    let result = call.await?;
    serde_json::from_str(result.get()).map_err(|e| Error::Protocol(format!("result: {e}")))
}

/// Sends a request from its own task; a failure settles the pending entry.
/// Sends `request` on `session`, failing call `id` if that fails: first
/// here, in the call's task, then in a task of its own for whatever is left
/// (over HTTP, reading the answer; over stdio, a full pipe or a writer
/// ahead in the stdin lock's queue). `None` when it finished here.
///
/// The first step runs here so that requests are written, or queue for the
/// writer, in the order their calls' tasks run, which is the order the calls
/// were made: a task spawned from a runtime task goes through the worker's
/// LIFO slot and local queue, and could pass the send of an earlier call.
fn spawn_send(session: Arc<Session>, id: u64, request: Outgoing) -> Option<tokio::task::JoinHandle<()>> {
    let mut send = Box::pin(async move {
        if let Err(error) = session.transport.send(request).await {
            session.pending.fail(id, error);
        }
    });
    // Polled once with a waker that does nothing: the spawned task polls it
    // again at once, with its own, before it waits for anything.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::future::Future::poll(send.as_mut(), &mut cx) {
        std::task::Poll::Ready(()) => None,
        std::task::Poll::Pending => Some(tokio::spawn(send)),
    }
}

/// Tells the server to stop working on request `id` (MCP 2025-06-18, Basic /
/// Utilities / Cancellation), in the background.
fn cancel_request(session: &Arc<Session>, id: u64, reason: &str) {
    let notification = Outgoing::notification(
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

/// The `InputRequiredResult` a sessionless session's call got instead of
/// its result (MCP 2026-07-28, `resultType: "input_required"`), parsed;
/// `None` for any other result, which stays text.
fn input_required(session: &Session, result: &RawValue) -> Option<Value> {
    if !session.is_sessionless() || !result.get().contains("input_required") {
        return None;
    }
    let value: Value = serde_json::from_str(result.get()).ok()?;
    (value.get("resultType")? == "input_required").then_some(value)
}

/// Sets a retried request's `inputResponses` and `requestState` in its
/// params (MCP 2026-07-28, Basic / Multi round-trip requests); removes a
/// key the latest `InputRequiredResult` did not call for.
fn with_input(params: &mut Value, responses: serde_json::Map<String, Value>, state: Option<Value>) {
    let Some(params) = params.as_object_mut() else {
        return;
    };
    params.remove("inputResponses");
    params.remove("requestState");
    if !responses.is_empty() {
        params.insert("inputResponses".into(), Value::Object(responses));
    }
    if let Some(state) = state {
        params.insert("requestState".into(), state);
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

/// The flow of a call on `session` (the default session when `None`), for
/// fairness between clients in the queue and for routing stdio server
/// requests: each MCP session is a flow of its own.
fn flow_of(session: &Option<Arc<SessionHandle>>) -> crate::queue::Flow {
    session.as_ref().map_or(0, |s| Arc::as_ptr(s) as usize as u64)
}

/// What the request log keeps of a call from before it is made.
struct Logged {
    started: std::time::SystemTime,
    tags: CallTags,
    name: Option<String>,
    request_bytes: usize,
    request_body: Option<String>,
}

impl Logged {
    fn new(log: &RequestLog, method: &str, params: Option<&Params>, tags: &CallTags) -> Logged {
        let text: Option<std::borrow::Cow<'_, str>> = params.map(|params| match params {
            Params::Raw(raw) => std::borrow::Cow::Borrowed(raw.get()),
            Params::Value(value) => std::borrow::Cow::Owned(value.to_string()),
        });
        let text = text.as_deref();
        Logged {
            started: std::time::SystemTime::now(),
            tags: tags.clone(),
            name: text.and_then(|t| request_log::named(method, t)),
            request_bytes: text.map_or(0, str::len),
            request_body: text.filter(|_| log.captures_bodies()).map(|t| log.request_body(t)),
        }
    }

    fn finish(self, log: &RequestLog, workspace: &str, method: String, result: &Result<Box<RawValue>>, duration: Duration, queue: Duration) {
        let (outcome, error_code) = request_log::outcome_of_call(&method, result);
        let response_bytes = result.as_ref().map_or(0, |r| r.get().len());
        let response_body = log.captures_bodies().then(|| match result {
            Ok(raw) => log.body(raw.get()),
            Err(e) => log.body(&json!({ "code": e.rpc_code(), "message": e.to_string(), "data": e.data() }).to_string()),
        });
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        log.record(RequestEntry {
            id: 0,
            at: request_log::epoch_ms(self.started),
            workspace: workspace.to_owned(),
            session: self.tags.session,
            method,
            name: self.name,
            duration_ms: ms(duration),
            queue_ms: ms(queue.min(duration)),
            outcome,
            error_code,
            request_bytes: self.request_bytes as i64,
            response_bytes: response_bytes as i64,
            principal: self.tags.principal,
            request_body: self.request_body,
            response_body,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_input_replaces_the_previous_round() {
        let mut params = json!({ "name": "t" });
        let mut answers = serde_json::Map::new();
        answers.insert("ask".into(), json!({ "action": "accept" }));
        with_input(&mut params, answers, Some(json!("s1")));
        assert_eq!(params["inputResponses"]["ask"]["action"], "accept");
        assert_eq!(params["requestState"], "s1");
        // A later round with state only drops the earlier answers.
        with_input(&mut params, serde_json::Map::new(), Some(json!("s2")));
        assert!(params.get("inputResponses").is_none());
        assert_eq!(params["requestState"], "s2");
        assert_eq!(params["name"], "t");
    }
}
