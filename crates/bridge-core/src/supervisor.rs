//! The supervisor of one workspace's server: lazy start, crash detection,
//! restart with backoff, health checks, idle stop, graceful stop.
//!
//! # Theory of operation
//!
//! A `Supervisor` owns the lifecycle of one workspace's server. How the
//! server comes to exist is its [`Launcher`]'s business (a child process
//! today); the supervisor launches it, opens its default MCP session over
//! the endpoint the launcher reports, and watches the [`Process`] the
//! launcher hands back. Its verbs: `running` (the ready server, started
//! when there is none), `stop`, and `reset` (which, followed by a stop
//! and a start, is a restart). Its state is a
//! `Supervision` record under a mutex, whose `phase` is the state machine:
//!
//! ```text
//!  stopped ──call/start──▶ starting ──ready──▶ ready ◀──health ok── unhealthy
//!     ▲                       │  ▲               │ exit / health      │
//!     │                       │  └── restarting ◀┘ failures ──────────┘
//!     │                  failure │ (backoff delay)
//!     └── stopping ◀── stop()    └─▶ failed (restart intensity exceeded;
//!                                     calls fail at once until restart())
//! ```
//!
//! Unlike watchexec's supervisor, whose job is an actor fed through a
//! channel, the state sits under a mutex: every call reads the ready
//! server (`Supervisor::running`) on its hot path, and a lock taken for a
//! few instructions costs less than a message round trip to a task.
//!
//! A start runs in its own task and is shared by every call waiting for it
//! (a caller that gives up does not cancel it). When the server becomes
//! ready, two watchers start: one waits for its exit, which the
//! [`Process`] reports at once, and one runs the health check every
//! `healthIntervalMs` (the hub's `GET /health`; MCP `ping` over stdio and to
//! a remote workspace) and
//! samples the process's resident memory and CPU. An exit that nobody asked
//! for is a crash: every call in flight on the server (all its MCP
//! sessions) fails at once with `WORKSPACE_CRASHED`, and a restart is
//! scheduled after the next [`Backoff`] delay (500 ms doubling to 15 s,
//! with jitter; reset after 30 s of uptime), unless the [`Intensity`] limit
//! (5 restarts in 60 s) is exceeded: then the workspace is `failed`. Calls
//! still queued stay queued and go to the restarted server. A start that
//! fails counts like a crash. `maxHealthFailures` consecutive failed checks,
//! or resident memory over `maxMemoryMb`, kill the process group, which then
//! restarts as a crash. With `idleTimeoutMs`, a third watcher stops a server
//! that has had no call for that long. Every state change, restart, crash
//! and health failure is reported as an event.
//!
//! A stop lets calls in flight finish within the grace period, fails the
//! rest with `WORKSPACE_STOPPED` (`CLOSED` when the bridge closes), ends the
//! MCP sessions, and stops the process (SIGTERM to its process group,
//! SIGKILL after the grace period). A start that completes after a stop
//! began shuts its own server down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, Shared};
use futures_util::FutureExt;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::backoff::{Backoff, Intensity};
use crate::call::{NotificationHandler, RequestHandler};
use crate::config::{Protocol, ResolvedLimits};
use crate::error::{Error, Result};
use crate::health::HealthCheck;
use crate::isolation::LimitReason;
use crate::launcher::{Endpoint, HttpEndpoint, Launched, Launcher, Process};
use crate::logs::{now_ms, LogBuffer};
use crate::queue::Queue;
use crate::session::{http_connect, ClientIdentity, Session, SessionState};
use crate::transport::stdio::{StdioTransport, StrayLines};
use crate::transport::{Inbox, Transport};

/// Receives every supervision event as a JSON object
/// `{ workspaceId, type, at, ... }`.
pub type EventSink = Arc<dyn Fn(Value) + Send + Sync>;

/// Stderr lines carried by start failures and crashes.
pub(crate) const STDERR_LINES: usize = 20;
/// Uptime after which the backoff starts again from its first delay.
const BACKOFF_RESET_UPTIME: Duration = Duration::from_secs(30);
/// Grace period of a stop that ends an idle server (it has no call in
/// flight) or makes room under `maxRunning`.
pub(crate) const EVICTION_GRACE: Duration = Duration::from_secs(5);
/// How long a stop waits for the MCP session DELETEs.
const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Grace period of a server whose start completed after a stop began.
const SUPERSEDED_GRACE: Duration = Duration::from_secs(5);

/// What the default MCP session of each server declares, and where the
/// server messages it gets that are not tied to a call go.
pub(crate) struct DefaultSession {
    /// `clientInfo` and capabilities.
    pub identity: ClientIdentity,
    /// `initialize`, `server/discover`, or a probe of the latter.
    pub protocol: Protocol,
    /// Server notifications not tied to a call.
    pub notifications: Option<NotificationHandler>,
    /// Server requests not tied to a call.
    pub requests: Option<RequestHandler>,
    /// What calls set on the default session, set again on the next one.
    pub state: Arc<SessionState>,
    /// The workspace's request ids, shared by all its sessions.
    pub ids: Arc<AtomicU64>,
    /// Largest message read or written, in bytes.
    pub max_message_bytes: usize,
    /// How long the MCP handshake may take.
    pub start_timeout: Duration,
}

/// How a server's health is checked: the hub's `GET /health`, MCP `ping`
/// over stdio and to a remote workspace.
enum Probe {
    Http(Box<HealthCheck>),
    Ping(Weak<Session>, Duration, Arc<AtomicU64>),
}

impl Probe {
    async fn check(&self) -> std::result::Result<(), String> {
        match self {
            Probe::Http(check) => check.check().await,
            Probe::Ping(session, timeout, ids) => match session.upgrade() {
                Some(session) => session.ping(ids.fetch_add(1, Ordering::Relaxed), *timeout).await,
                None => Ok(()),
            },
        }
    }
}

/// A running server and its MCP sessions.
pub(crate) struct Running {
    /// Its lifetime: watch its end, stop it.
    pub process: Box<dyn Process>,
    /// Its streamable HTTP endpoint, where further sessions connect;
    /// `None` over stdio, where the process has one MCP session.
    pub http: Option<HttpEndpoint>,
    /// Distinguishes this server from earlier ones of the workspace.
    pub generation: u64,
    /// The session `Bridge::call` uses.
    pub default: Arc<Session>,
    /// Further sessions opened on this server.
    sessions: Mutex<Vec<Weak<Session>>>,
    /// Set when the exit that follows was asked for.
    stopping: AtomicBool,
}

impl Running {
    fn all_sessions(&self) -> Vec<Arc<Session>> {
        let mut sessions = self.sessions.lock();
        sessions.retain(|s| s.strong_count() > 0);
        std::iter::once(self.default.clone())
            .chain(sessions.iter().filter_map(Weak::upgrade))
            .collect()
    }

    /// Tracks a further session so that a crash or stop settles its calls.
    pub fn register(&self, session: &Arc<Session>) {
        self.sessions.lock().push(Arc::downgrade(session));
    }

    /// Calls waiting for a response, all sessions.
    pub fn pending(&self) -> usize {
        self.all_sessions().iter().map(|s| s.pending.len()).sum()
    }

    fn fail_all(&self, error: impl Fn() -> Error) {
        for session in self.all_sessions() {
            session.pending.fail_all(&error);
        }
    }

    /// Ends the `subscriptions/listen` requests of its sessions (the
    /// sessionless revision), which would otherwise go on retrying a
    /// process that is gone until each session is next used or closed.
    fn stop_listening(&self) {
        for session in self.all_sessions() {
            session.stop_listening();
        }
    }
}

type Starting = Shared<BoxFuture<'static, Result<Arc<Running>>>>;

enum Phase {
    Stopped,
    Starting { attempt: Starting, restarting: bool },
    Ready(Arc<Running>),
    Stopping,
    Failed(String),
}

/// A supervisor's state.
struct Supervision {
    phase: Phase,
    generation: u64,
    restarts: u32,
    last_exit: Option<String>,
    last_error: Option<String>,
    ready_since: Option<Instant>,
    unhealthy: bool,
    /// The last sample: resident memory (bytes), CPU (percent of a core)
    /// and, for a forked process, its private memory (bytes).
    resources: Option<(u64, f32, Option<u64>)>,
    backoff: Backoff,
    intensity: Intensity,
}

impl Supervision {
    fn state(&self) -> &'static str {
        match &self.phase {
            Phase::Stopped => "stopped",
            Phase::Starting { restarting: false, .. } => "starting",
            Phase::Starting { restarting: true, .. } => "restarting",
            Phase::Ready(_) if self.unhealthy => "unhealthy",
            Phase::Ready(_) => "ready",
            Phase::Stopping => "stopping",
            Phase::Failed(_) => "failed",
        }
    }
}

/// A workspace's supervision state, as `bridge.status(id)` reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceStatus {
    /// Workspace id.
    pub id: String,
    /// `stopped`, `starting`, `ready`, `unhealthy`, `restarting`,
    /// `stopping` or `failed`.
    pub state: &'static str,
    /// OS process id of the running process.
    pub pid: Option<u32>,
    /// When the running process became ready, in ms since the Unix epoch.
    pub started_at: Option<u64>,
    /// Restarts after crashes, failed starts or health failures.
    pub restarts: u32,
    /// How the last process ended (`exit status N` or `signal N`).
    pub last_exit: Option<String>,
    /// The last start failure, crash or health failure, in one line.
    pub last_error: Option<String>,
    /// Resident memory of the running process, in bytes (sampled every
    /// `healthIntervalMs`).
    pub rss_bytes: Option<u64>,
    /// CPU use of the running process since the previous sample, in percent
    /// of one core.
    pub cpu_percent: Option<f32>,
    /// Private memory (USS: `Private_Clean` + `Private_Dirty` of
    /// `/proc/<pid>/smaps_rollup`) of a forked process, in bytes: what it
    /// holds beyond the pages it shares with its fork server, and what
    /// `maxMemoryMb` limits for it (its resident memory counts the fork
    /// server's shared pages in every child).
    pub uss_bytes: Option<u64>,
}

/// Supervises one workspace's server. Shared as `Arc<Supervisor>`; its
/// watchers hold it weakly.
pub(crate) struct Supervisor {
    id: String,
    launcher: Box<dyn Launcher>,
    session: DefaultSession,
    limits: ResolvedLimits,
    /// The workspace's queue: a server with calls in flight or queued is
    /// not idle.
    queue: Queue,
    closing: CancellationToken,
    events: EventSink,
    logs: LogBuffer,
    /// When the last call was made, in ms since the Unix epoch.
    last_used: AtomicU64,
    /// Set when the workspace is removed from its bridge.
    retired: AtomicBool,
    state: Mutex<Supervision>,
}

impl Supervisor {
    #[allow(clippy::too_many_arguments)] // each is a distinct part of a workspace, set once
    pub(crate) fn new(
        id: String,
        launcher: Box<dyn Launcher>,
        session: DefaultSession,
        limits: ResolvedLimits,
        queue: Queue,
        closing: CancellationToken,
        events: EventSink,
        logs: LogBuffer,
    ) -> Self {
        let state = Supervision {
            phase: Phase::Stopped,
            generation: 0,
            restarts: 0,
            last_exit: None,
            last_error: None,
            ready_since: None,
            unhealthy: false,
            resources: None,
            backoff: Backoff::default(),
            intensity: Intensity::new(limits.max_restarts, limits.restart_window),
        };
        Supervisor {
            id,
            launcher,
            session,
            limits,
            queue,
            closing,
            events,
            logs,
            last_used: AtomicU64::new(now_ms()),
            retired: AtomicBool::new(false),
            state: Mutex::new(state),
        }
    }

    /// The workspace id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Reports an event `{ workspaceId, type: kind, at, ...event }`.
    pub(crate) fn emit(&self, kind: &str, mut event: Value) {
        if let Some(fields) = event.as_object_mut() {
            fields.insert("workspaceId".into(), json!(self.id));
            fields.insert("type".into(), json!(kind));
            fields.insert("at".into(), json!(now_ms()));
        }
        (self.events)(event);
    }

    /// Sets the phase, reporting a state change as a `state` event.
    fn transition(&self, sup: &mut Supervision, phase: Phase) -> Phase {
        let before = sup.state();
        let previous = std::mem::replace(&mut sup.phase, phase);
        let after = sup.state();
        if before != after {
            tracing::info!(workspace = self.id, from = before, to = after, "workspace state");
            self.emit("state", json!({ "from": before, "to": after }));
        }
        previous
    }

    /// Records a call: the server is not idle.
    pub(crate) fn touch(&self) {
        self.last_used.store(now_ms(), Ordering::Relaxed);
    }

    /// When the last call was made, in ms since the Unix epoch.
    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Marks the workspace removed: it starts no server any more.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// The error of a call in flight when the server exited (`reason`: the
    /// isolation limit that ended it, if one did).
    pub(crate) fn crash_error(&self, status: &str, reason: Option<LimitReason>) -> Error {
        Error::WorkspaceCrashed {
            workspace: self.id.clone(),
            status: status.to_owned(),
            reason,
            stderr: self.logs.stderr_tail(STDERR_LINES),
        }
    }

    /// The running, ready server.
    pub(crate) fn ready(&self) -> Option<Arc<Running>> {
        match &self.state.lock().phase {
            Phase::Ready(running) => Some(running.clone()),
            _ => None,
        }
    }

    /// Whether no server runs or starts (a call would start one).
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(self.state.lock().phase, Phase::Stopped)
    }

    /// Whether a server runs or starts.
    pub(crate) fn is_active(&self) -> bool {
        matches!(self.state.lock().phase, Phase::Ready(_) | Phase::Starting { .. })
    }

    /// Whether the server is ready with no call in flight or queued.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state.lock().phase, Phase::Ready(_)) && self.queue.in_flight() == 0 && self.queue.queued() == 0
    }

    /// The supervision state.
    pub(crate) fn status(&self) -> WorkspaceStatus {
        let sup = self.state.lock();
        let (pid, started_at, resources) = match &sup.phase {
            Phase::Ready(running) => (running.process.pid(), Some(running.process.started_at()), sup.resources),
            _ => (None, None, None),
        };
        WorkspaceStatus {
            id: self.id.clone(),
            state: sup.state(),
            pid,
            started_at,
            restarts: sup.restarts,
            last_exit: sup.last_exit.clone(),
            last_error: sup.last_error.clone(),
            rss_bytes: resources.map(|r| r.0),
            cpu_percent: resources.map(|r| r.1),
            uss_bytes: resources.and_then(|r| r.2),
        }
    }

    /// The running server, starting it when it is stopped. Every caller
    /// waits for the same start.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `WORKSPACE_FAILED`, `WORKSPACE_STOPPED` (while
    /// stopping), `UNKNOWN_WORKSPACE` (once retired), `CLOSED`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the start running for the next caller.
    pub(crate) async fn running(self: &Arc<Self>) -> Result<Arc<Running>> {
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::UnknownWorkspace(self.id.clone()));
        }
        let attempt = {
            let mut sup = self.state.lock();
            if self.closing.is_cancelled() {
                return Err(Error::Closed);
            }
            if let Phase::Ready(running) = &sup.phase {
                if running.process.is_running() {
                    return Ok(running.clone());
                }
                // Exited, and its watcher has not run yet: handle the crash now.
                let running = running.clone();
                let status = running.process.exit_now().unwrap_or_default();
                self.crashed(&mut sup, &running, status);
            }
            match &sup.phase {
                Phase::Ready(running) => return Ok(running.clone()),
                Phase::Starting { attempt, .. } => attempt.clone(),
                Phase::Failed(reason) => {
                    return Err(Error::WorkspaceFailed {
                        workspace: self.id.clone(),
                        reason: reason.clone(),
                    })
                }
                Phase::Stopping => {
                    return Err(Error::WorkspaceStopped {
                        workspace: self.id.clone(),
                    })
                }
                Phase::Stopped => self.begin_start(&mut sup, Duration::ZERO, false),
            }
        };
        attempt.await
    }

    /// Starts a server after `delay`, in its own task.
    fn begin_start(self: &Arc<Self>, sup: &mut Supervision, delay: Duration, restarting: bool) -> Starting {
        sup.generation += 1;
        let task = tokio::spawn(Self::run_start(Arc::downgrade(self), sup.generation, delay));
        let attempt = async move {
            task.await
                .unwrap_or_else(|e| Err(Error::Transport(format!("start task: {e}"))))
        }
        .boxed()
        .shared();
        self.transition(
            sup,
            Phase::Starting {
                attempt: attempt.clone(),
                restarting,
            },
        );
        attempt
    }

    async fn run_start(supervisor: Weak<Supervisor>, generation: u64, delay: Duration) -> Result<Arc<Running>> {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let this = supervisor.upgrade().ok_or(Error::Closed)?;
        let stopped = |this: &Supervisor| match this.closing.is_cancelled() {
            true => Error::Closed,
            false => Error::WorkspaceStopped {
                workspace: this.id.clone(),
            },
        };
        {
            // A stop or close during the backoff delay: nothing to start.
            let sup = this.state.lock();
            if this.closing.is_cancelled() || sup.generation != generation || !matches!(sup.phase, Phase::Starting { .. }) {
                return Err(stopped(&this));
            }
        }
        let outcome = tokio::select! {
            outcome = this.launch(generation) => outcome,
            // A close while the server starts: dropping the launch stops it.
            () = this.closing.cancelled() => Err(Error::Closed),
        };
        let superseded = {
            let mut sup = this.state.lock();
            let current = sup.generation == generation
                && matches!(sup.phase, Phase::Starting { .. })
                && !this.closing.is_cancelled();
            match (&outcome, current) {
                (Ok(running), true) => {
                    sup.ready_since = Some(Instant::now());
                    sup.unhealthy = false;
                    sup.resources = None;
                    this.transition(&mut sup, Phase::Ready(running.clone()));
                    None
                }
                (Ok(running), false) => Some(running.clone()),
                (Err(e), true) => {
                    sup.last_error = Some(e.to_string());
                    this.on_failure(&mut sup, e.to_string());
                    None
                }
                (Err(_), false) => None,
            }
        };
        if let Some(running) = superseded {
            // A stop or close began while this server started.
            running.process.stop(SUPERSEDED_GRACE).await;
            return Err(stopped(&this));
        }
        let running = outcome?;
        this.watch(&running);
        Ok(running)
    }

    /// Launches a server and opens its default MCP session.
    async fn launch(&self, generation: u64) -> Result<Arc<Running>> {
        let Launched { endpoint, process } = self.launcher.launch(&self.id, &self.logs).await?;
        let max = self.session.max_message_bytes;
        let (session, http) = match endpoint {
            Endpoint::Stdio { stdin, stdout } => {
                let logs = self.logs.clone();
                let stray: StrayLines = Arc::new(move |line| logs.push("stdout", line));
                let connect = move |inbox| Ok(Arc::new(StdioTransport::new(stdin, stdout, inbox, stray, max)) as Arc<dyn Transport>);
                (self.open_default(connect).await, None)
            }
            Endpoint::Http(http) => {
                tracing::info!(workspace = self.id, pid = process.pid(), url = http.url, "workspace ready");
                let connect = http_connect(&http.url, http.connector.clone(), &http.headers, max, self.session.state.clone());
                (self.open_default(connect).await, Some(http))
            }
        };
        match session {
            Ok(session) => Ok(Arc::new(Running {
                process,
                http,
                generation,
                default: Arc::new(session),
                sessions: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
            })),
            Err(e) => {
                // Let the process's last words reach the log buffer (a
                // remote server has no process, and no last words).
                if process.pid().is_some() {
                    let _ = tokio::time::timeout(Duration::from_millis(300), process.exited()).await;
                }
                let stderr = self.logs.stderr_tail(STDERR_LINES);
                process.stop(SUPERSEDED_GRACE).await;
                Err(Error::StartFailed {
                    workspace: self.id.clone(),
                    reason: format!("MCP initialization failed: {e}"),
                    stderr,
                })
            }
        }
    }

    /// Opens the default MCP session over the transport `connect` makes,
    /// within the start timeout.
    async fn open_default(&self, connect: impl FnOnce(Arc<dyn Inbox>) -> Result<Arc<dyn Transport>>) -> Result<Session> {
        let setup = &self.session;
        let open = Session::open(
            &self.id,
            connect,
            &setup.identity,
            setup.protocol,
            &setup.ids,
            setup.notifications.clone(),
            setup.requests.clone(),
            setup.state.clone(),
        );
        match tokio::time::timeout(setup.start_timeout, open).await {
            Ok(session) => session,
            Err(_) => Err(Error::Protocol(format!(
                "no answer to MCP initialization (initialize or server/discover) within {} ms",
                setup.start_timeout.as_millis()
            ))),
        }
    }

    /// After a crash or failed start: schedules a restart after the next
    /// backoff delay, or fails the workspace beyond the restart intensity.
    fn on_failure(self: &Arc<Self>, sup: &mut Supervision, reason: String) {
        if self.closing.is_cancelled() {
            self.transition(sup, Phase::Stopped);
            return;
        }
        let now = Instant::now();
        if sup.ready_since.is_some_and(|since| now.duration_since(since) >= BACKOFF_RESET_UPTIME) {
            sup.backoff.reset();
        }
        sup.ready_since = None;
        if !sup.intensity.allow(now) {
            tracing::error!(workspace = self.id, reason, "restart intensity exceeded; workspace failed");
            self.emit("failed", json!({ "reason": reason }));
            self.transition(sup, Phase::Failed(reason));
            return;
        }
        let delay = sup.backoff.next().unwrap_or_default();
        sup.restarts += 1;
        tracing::warn!(workspace = self.id, reason, ?delay, "restarting workspace");
        self.emit(
            "restart",
            json!({ "reason": reason, "delayMs": delay.as_millis() as u64, "restarts": sup.restarts }),
        );
        // The start runs in its own task; callers find it in the phase.
        drop(self.begin_start(sup, delay, true));
    }

    /// Watches a ready server: its exit, its health, and its idleness.
    fn watch(self: &Arc<Self>, running: &Arc<Running>) {
        let weak = Arc::downgrade(self);
        let exited = running.process.exited();
        let generation = running.generation;
        tokio::spawn(async move {
            let status = exited.await;
            if let Some(this) = weak.upgrade() {
                this.exited(generation, status);
            }
        });
        if let Some(idle) = self.limits.idle_timeout {
            self.watch_idle(running, idle);
        }
        let probe = match &running.http {
            Some(http) if http.health_route => HealthCheck::new(&http.url, http.connector.clone(), self.limits.health_timeout)
                .map(|check| Probe::Http(Box::new(check))),
            _ => Some(Probe::Ping(
                Arc::downgrade(&running.default),
                self.limits.health_timeout,
                self.session.ids.clone(),
            )),
        };
        if let Some(health) = probe {
            self.watch_health(running, health);
        }
    }

    /// Runs the health check every `healthIntervalMs` and samples the
    /// process's resources; kills it after `maxHealthFailures` failed
    /// checks in a row or over `maxMemoryMb` of resident memory.
    fn watch_health(self: &Arc<Self>, running: &Arc<Running>, health: Probe) {
        let weak = Arc::downgrade(self);
        let exited = running.process.exited();
        let generation = running.generation;
        let interval = self.limits.health_interval;
        let max_failures = self.limits.max_health_failures;
        let max_memory = self.limits.max_memory_bytes;
        let pid = running.process.pid();
        let shares_memory = running.process.shares_memory();
        tokio::spawn(async move {
            tokio::pin!(exited);
            let mut failures = 0;
            // Resource sampling is best effort: without it, no limit applies.
            let mut system = sysinfo::System::new().ok();
            loop {
                tokio::select! {
                    _ = &mut exited => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                let outcome = health.check().await;
                let Some(this) = weak.upgrade() else { return };
                let Some(running) = this.ready().filter(|r| r.generation == generation) else { return };
                let sampled = pid.zip(system.as_mut()).and_then(|(pid, system)| this.sample(system, pid, shares_memory));
                if let Some((figure, used)) = sampled {
                    if max_memory.is_some_and(|max| used > max) {
                        let max = max_memory.unwrap_or_default();
                        tracing::warn!(workspace = this.id, used, figure, max, "memory limit exceeded; restarting");
                        let key = if shares_memory { "ussBytes" } else { "rssBytes" };
                        this.emit("memory_restart", json!({ key: used, "maxBytes": max }));
                        this.state.lock().last_error =
                            Some(format!("{figure} memory {used} bytes over the {max}-byte limit"));
                        running.process.kill();
                        return;
                    }
                }
                match outcome {
                    Ok(()) if failures > 0 => {
                        failures = 0;
                        this.set_unhealthy(false);
                    }
                    Ok(()) => {}
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(workspace = this.id, failures, error, "health check failed");
                        this.emit("health_failure", json!({ "failures": failures, "error": error }));
                        this.set_unhealthy(true);
                        if failures >= max_failures {
                            this.state.lock().last_error = Some(format!("{failures} health checks failed: {error}"));
                            // The exit watcher restarts it as a crash.
                            running.process.kill();
                            return;
                        }
                    }
                }
            }
        });
    }

    /// Samples the process's resident memory (bytes) and CPU use, and the
    /// private memory of a process that `shares_memory` with its fork
    /// server; returns the figure `maxMemoryMb` limits (`"private"` or
    /// `"resident"`) and its value.
    fn sample(&self, system: &mut sysinfo::System, pid: u32, shares_memory: bool) -> Option<(&'static str, u64)> {
        let uss = shares_memory.then(|| private_memory(pid)).flatten();
        let pid = sysinfo::Pid::from_u32(pid);
        system.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            true,
            sysinfo::ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        let process = system.process(pid)?;
        let (rss, cpu) = (process.memory(), process.cpu_usage());
        self.state.lock().resources = Some((rss, cpu, uss));
        Some(match uss {
            Some(uss) => ("private", uss),
            None => ("resident", rss),
        })
    }

    /// Stops the server once it has had no call for `idle`.
    fn watch_idle(self: &Arc<Self>, running: &Arc<Running>, idle: Duration) {
        let weak = Arc::downgrade(self);
        let exited = running.process.exited();
        let generation = running.generation;
        let period = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(async move {
            tokio::pin!(exited);
            loop {
                tokio::select! {
                    _ = &mut exited => return,
                    _ = tokio::time::sleep(period) => {}
                }
                let Some(this) = weak.upgrade() else { return };
                if this.ready().is_none_or(|r| r.generation != generation) {
                    return;
                }
                let quiet = now_ms().saturating_sub(this.last_used());
                if this.is_idle() && quiet >= idle.as_millis() as u64 {
                    tracing::info!(workspace = this.id, quiet, "idle; stopping");
                    this.emit("idle_stop", json!({ "idleMs": quiet }));
                    this.stop(EVICTION_GRACE).await;
                    return;
                }
            }
        });
    }

    fn set_unhealthy(&self, unhealthy: bool) {
        let mut sup = self.state.lock();
        let before = sup.state();
        sup.unhealthy = unhealthy;
        let after = sup.state();
        if before != after {
            self.emit("state", json!({ "from": before, "to": after }));
        }
    }

    /// The server of `generation` exited.
    fn exited(self: &Arc<Self>, generation: u64, status: String) {
        let mut sup = self.state.lock();
        let running = match &sup.phase {
            Phase::Ready(running) if running.generation == generation => running.clone(),
            _ => return,
        };
        self.crashed(&mut sup, &running, status);
    }

    /// The ready server `running` exited unasked: fail its calls in flight
    /// and schedule a restart.
    fn crashed(self: &Arc<Self>, sup: &mut Supervision, running: &Arc<Running>, status: String) {
        if running.stopping.load(Ordering::Acquire) {
            return;
        }
        let limit = running.process.limit_reason(&status);
        tracing::warn!(workspace = self.id, status, limit = limit.map(LimitReason::as_str), "workspace process crashed");
        sup.last_exit = Some(status.clone());
        let mut event = json!({ "status": status, "pid": running.process.pid() });
        if let Some(limit) = limit {
            event["reason"] = limit.as_str().into();
            self.logs.push("bridge", format!("ended by its isolation limit ({}): {status}", limit.as_str()));
        }
        self.emit("crash", event);
        running.fail_all(|| self.crash_error(&status, limit));
        running.stop_listening();
        let remote = running.process.pid().is_none() && running.http.is_some();
        if remote {
            // A server that is still there (slow, not gone) keeps its MCP
            // sessions unless told: end them, best effort, in the background.
            let sessions = running.all_sessions();
            let id = self.id.clone();
            tokio::spawn(async move {
                let closed = || Error::WorkspaceStopped { workspace: id.clone() };
                let deletes = sessions.iter().map(|s| s.close(closed));
                let _ = tokio::time::timeout(SESSION_CLOSE_TIMEOUT, futures_util::future::join_all(deletes)).await;
            });
        }
        let reason = match (limit, remote) {
            (Some(limit), _) => format!("process exited ({status}, {})", limit.as_str()),
            (None, true) => format!("connection dropped ({status})"),
            (None, false) => format!("process exited ({status})"),
        };
        sup.last_error.get_or_insert_with(|| reason.clone());
        self.on_failure(sup, reason);
    }

    /// Stops the server: calls in flight may finish within `grace`, then
    /// the rest fail (`WORKSPACE_STOPPED`, or `CLOSED` when the bridge
    /// closes); the MCP sessions end and the process stops (SIGTERM to its
    /// process group, SIGKILL after `grace`). Idempotent. A later call
    /// starts a server again.
    pub(crate) async fn stop(self: &Arc<Self>, grace: Duration) {
        let running = {
            let mut sup = self.state.lock();
            match self.transition(&mut sup, Phase::Stopping) {
                Phase::Ready(running) => Some(running),
                _ => None,
            }
        };
        if let Some(running) = running {
            running.stopping.store(true, Ordering::Release);
            let deadline = tokio::time::Instant::now() + grace;
            while running.pending() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let closing = self.closing.is_cancelled();
            let error = || match closing {
                true => Error::Closed,
                false => Error::WorkspaceStopped {
                    workspace: self.id.clone(),
                },
            };
            running.fail_all(error);
            let sessions = running.all_sessions();
            let deletes = sessions.iter().map(|s| s.close(error));
            let _ = tokio::time::timeout(SESSION_CLOSE_TIMEOUT, futures_util::future::join_all(deletes)).await;
            running.process.stop(grace).await;
            let status = running.process.exit_status().await;
            self.state.lock().last_exit = status;
        }
        let mut sup = self.state.lock();
        if matches!(sup.phase, Phase::Stopping) {
            self.transition(&mut sup, Phase::Stopped);
        }
    }

    /// Prepares a restart: resets the backoff and the restart intensity,
    /// and takes a `failed` workspace back to `stopped` (its restart count
    /// kept), so that [`Supervisor::stop`] then [`Supervisor::running`]
    /// bring it back into service.
    pub(crate) fn reset(&self) {
        let mut sup = self.state.lock();
        sup.intensity.reset();
        sup.backoff.reset();
        if matches!(sup.phase, Phase::Failed(_)) {
            self.transition(&mut sup, Phase::Stopped);
        }
    }
}

/// The private memory of `pid` (USS: `Private_Clean` + `Private_Dirty` of
/// `/proc/<pid>/smaps_rollup`, Linux 4.14), in bytes.
fn private_memory(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kib = rollup
        .lines()
        .filter(|line| line.starts_with("Private_Clean:") || line.starts_with("Private_Dirty:"))
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>();
    Some(kib * 1024)
}
