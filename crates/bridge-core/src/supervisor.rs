//! Supervision of a workspace's process: lazy start, crash detection,
//! restart with backoff, health checks, graceful stop.
//!
//! # Theory of operation
//!
//! Each [`Workspace`] holds a `Supervision` record under a mutex; its
//! `phase` is the state machine:
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
//! A start runs in its own task and is shared by every call waiting for it
//! (a caller that gives up does not cancel it). When the process becomes
//! ready, two watchers start: one waits for its exit, which the monitor
//! task of [`crate::process::HubProcess`] reports at once, and
//! one runs the health check every `healthIntervalMs`. An exit that nobody
//! asked for is a crash: every call in flight on the process (all its MCP
//! sessions) fails at once with `WORKSPACE_CRASHED`, and a restart is
//! scheduled after the next [`Backoff`] delay (500 ms doubling to 15 s,
//! with jitter; reset after 30 s of uptime), unless the [`Intensity`] limit
//! (5 restarts in 60 s) is exceeded: then the workspace is `failed`. Calls
//! still queued stay queued and go to the restarted process. A start that
//! fails counts like a crash. `maxHealthFailures` consecutive failed checks
//! kill the process group, which then restarts as a crash. Every state
//! change, restart, crash and health failure is reported as an event.
//!
//! A stop lets calls in flight finish within the grace period, fails the
//! rest with `WORKSPACE_STOPPED` (`CLOSED` when the bridge closes), ends the
//! MCP sessions, sends SIGTERM to the process group and SIGKILL after the
//! grace period. A start that completes after a stop began shuts its own
//! process down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, Shared};
use futures_util::FutureExt;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

use crate::backoff::{Backoff, Intensity};
use crate::config::ResolvedLimits;
use crate::error::{Error, Result};
use crate::health::HealthCheck;
use crate::process::{now_ms, HubProcess};
use crate::config::TransportKind;
use crate::session::{http_connect, Session};
use crate::transport::stdio::{StdioTransport, StrayLines};
use crate::transport::{Inbox, Transport};
use crate::workspace::{Workspace, STDERR_LINES};

/// Receives every supervision event as a JSON object
/// `{ workspaceId, type, at, ... }`.
pub type EventSink = Arc<dyn Fn(Value) + Send + Sync>;

/// Uptime after which the backoff starts again from its first delay.
const BACKOFF_RESET_UPTIME: Duration = Duration::from_secs(30);
/// Grace period of a stop that makes room under `maxRunning` or ends an
/// idle workspace (it has no call in flight).
const EVICTION_GRACE: Duration = Duration::from_secs(5);
/// How long a stop waits for the MCP session DELETEs.
const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How a process's health is checked: `GET /health` over HTTP, MCP `ping`
/// over stdio.
enum Probe {
    Http(Box<HealthCheck>),
    Ping(Weak<Session>, Duration, Arc<std::sync::atomic::AtomicU64>),
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

/// A started hub process and its MCP sessions.
pub(crate) struct Connection {
    pub process: HubProcess,
    /// Distinguishes this process from earlier ones of the workspace.
    pub generation: u64,
    /// The session `Bridge::call` uses.
    pub default: Arc<Session>,
    /// Further sessions opened on this process.
    sessions: Mutex<Vec<Weak<Session>>>,
    /// Set when the exit that follows was asked for.
    stopping: AtomicBool,
}

impl Connection {
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
}

type Starting = Shared<BoxFuture<'static, Result<Arc<Connection>>>>;

pub(crate) enum Phase {
    Stopped,
    Starting { attempt: Starting, restarting: bool },
    Ready(Arc<Connection>),
    Stopping,
    Failed(String),
}

/// A workspace's supervision record.
pub(crate) struct Supervision {
    phase: Phase,
    generation: u64,
    restarts: u32,
    last_exit: Option<String>,
    last_error: Option<String>,
    ready_since: Option<Instant>,
    unhealthy: bool,
    resources: Option<(u64, f32)>,
    backoff: Backoff,
    intensity: Intensity,
}

impl Supervision {
    pub(crate) fn new(limits: &ResolvedLimits) -> Self {
        Supervision {
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
        }
    }

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
}

impl Workspace {
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

    /// The error of a call in flight when the process exited.
    pub(crate) fn crash_error(&self, status: &str) -> Error {
        Error::WorkspaceCrashed {
            workspace: self.id.clone(),
            status: status.to_owned(),
            stderr: self.logs.stderr_tail(STDERR_LINES),
        }
    }

    /// The connection of the running, ready process.
    pub(crate) fn ready(&self) -> Option<Arc<Connection>> {
        match &self.supervision.lock().phase {
            Phase::Ready(conn) => Some(conn.clone()),
            _ => None,
        }
    }

    /// The OS process id, when a process is running.
    pub fn pid(&self) -> Option<u32> {
        self.ready().and_then(|c| c.process.pid())
    }

    /// The supervision state.
    pub fn status(&self) -> WorkspaceStatus {
        let sup = self.supervision.lock();
        let (pid, started_at, resources) = match &sup.phase {
            Phase::Ready(conn) => (conn.process.pid(), Some(conn.process.started_at()), sup.resources),
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
        }
    }

    /// The live connection, starting the process when it is stopped. Every
    /// caller waits for the same start.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `WORKSPACE_FAILED`, `WORKSPACE_STOPPED` (while
    /// stopping), `CLOSED`.
    pub(crate) async fn connection(self: &Arc<Self>) -> Result<Arc<Connection>> {
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::UnknownWorkspace(self.id.clone()));
        }
        if matches!(self.supervision.lock().phase, Phase::Stopped) {
            self.make_room().await;
        }
        let attempt = {
            let mut sup = self.supervision.lock();
            if self.closing.is_cancelled() {
                return Err(Error::Closed);
            }
            if let Phase::Ready(conn) = &sup.phase {
                if conn.process.is_running() {
                    return Ok(conn.clone());
                }
                // Exited, and its watcher has not run yet: handle the crash now.
                let conn = conn.clone();
                let status = conn.process.exit_now().unwrap_or_default();
                self.crashed(&mut sup, &conn, status);
            }
            match &sup.phase {
                Phase::Ready(conn) => return Ok(conn.clone()),
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

    /// Whether a process is running or starting.
    fn is_running(&self) -> bool {
        matches!(self.supervision.lock().phase, Phase::Ready(_) | Phase::Starting { .. })
    }

    /// Whether the process is ready with no call in flight or queued.
    fn is_idle(&self) -> bool {
        matches!(self.supervision.lock().phase, Phase::Ready(_))
            && self.limiter.in_flight() == 0
            && self.limiter.queued() == 0
    }

    /// Under the bridge's `maxRunning` cap, stops the least recently used
    /// idle workspace until this one may start; with none idle, waits (the
    /// caller's deadline bounds the wait).
    async fn make_room(self: &Arc<Self>) {
        let Some(fleet) = self.fleet.upgrade() else { return };
        let Some(max_running) = fleet.max_running else { return };
        loop {
            let others: Vec<Arc<Workspace>> =
                fleet.members().into_iter().filter(|w| !Arc::ptr_eq(w, self)).collect();
            if others.iter().filter(|w| w.is_running()).count() < max_running {
                return;
            }
            let victim = others
                .iter()
                .filter(|w| w.is_idle())
                .min_by_key(|w| w.last_used.load(Ordering::Relaxed))
                .cloned();
            match victim {
                Some(victim) => {
                    victim.emit("evicted", json!({ "for": self.id, "maxRunning": max_running }));
                    victim.stop(EVICTION_GRACE).await;
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Starts a process after `delay`, in its own task.
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

    async fn run_start(workspace: Weak<Workspace>, generation: u64, delay: Duration) -> Result<Arc<Connection>> {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let this = workspace.upgrade().ok_or(Error::Closed)?;
        let stopped = |this: &Workspace| match this.closing.is_cancelled() {
            true => Error::Closed,
            false => Error::WorkspaceStopped {
                workspace: this.id.clone(),
            },
        };
        {
            // A stop or close during the backoff delay: nothing to start.
            let sup = this.supervision.lock();
            if this.closing.is_cancelled() || sup.generation != generation || !matches!(sup.phase, Phase::Starting { .. }) {
                return Err(stopped(&this));
            }
        }
        let outcome = tokio::select! {
            outcome = this.launch(generation) => outcome,
            // A close while the process starts: dropping the launch kills it.
            () = this.closing.cancelled() => Err(Error::Closed),
        };
        let superseded = {
            let mut sup = this.supervision.lock();
            let current = sup.generation == generation
                && matches!(sup.phase, Phase::Starting { .. })
                && !this.closing.is_cancelled();
            match (&outcome, current) {
                (Ok(conn), true) => {
                    sup.ready_since = Some(Instant::now());
                    sup.unhealthy = false;
                    sup.resources = None;
                    this.transition(&mut sup, Phase::Ready(conn.clone()));
                    None
                }
                (Ok(conn), false) => Some(conn.clone()),
                (Err(e), true) => {
                    sup.last_error = Some(e.to_string());
                    this.on_failure(&mut sup, e.to_string());
                    None
                }
                (Err(_), false) => None,
            }
        };
        if let Some(conn) = superseded {
            // A stop or close began while this process started.
            conn.process.stop(Duration::from_secs(5)).await;
            return Err(stopped(&this));
        }
        let conn = outcome?;
        this.watch(&conn);
        Ok(conn)
    }

    /// Spawns the process and opens its default MCP session.
    async fn launch(&self, generation: u64) -> Result<Arc<Connection>> {
        let session;
        let process;
        if self.command.transport == TransportKind::Stdio {
            let (spawned, stdin, stdout) = HubProcess::spawn_stdio(&self.id, &self.command, &self.logs)?;
            let logs = self.logs.clone();
            let stray: StrayLines = Arc::new(move |line| logs.push("stdout", line));
            let max = self.limits.max_message_bytes;
            let connect = move |inbox| Ok(Arc::new(StdioTransport::new(stdin, stdout, inbox, stray, max)) as Arc<dyn Transport>);
            session = self.open_default(connect).await;
            process = spawned;
        } else {
            let spawned = HubProcess::spawn(&self.id, &self.command, &self.logs).await?;
            tracing::info!(workspace = self.id, pid = spawned.pid(), url = spawned.url(), "workspace ready");
            let connect = http_connect(spawned.url(), spawned.connector(), self.limits.max_message_bytes, self.session_state.clone());
            session = self.open_default(connect).await;
            process = spawned;
        }
        match session {
            Ok(session) => Ok(Arc::new(Connection {
                process,
                generation,
                default: Arc::new(session),
                sessions: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
            })),
            Err(e) => {
                // Let the process's last words reach the log buffer.
                let _ = tokio::time::timeout(Duration::from_millis(300), process.exited()).await;
                let stderr = process.stderr_tail(STDERR_LINES);
                process.stop(Duration::from_secs(5)).await;
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
        let open = Session::open(
            &self.id,
            connect,
            &self.identity,
            self.command.protocol,
            &self.next_id,
            self.default_notifications(),
            self.requests.clone(),
            self.session_state.clone(),
        );
        match tokio::time::timeout(self.command.start_timeout, open).await {
            Ok(session) => session,
            Err(_) => Err(Error::Protocol(format!(
                "no answer to MCP initialization (initialize or server/discover) within {} ms",
                self.command.start_timeout.as_millis()
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

    /// Watches a ready process: its exit, and its health.
    fn watch(self: &Arc<Self>, conn: &Arc<Connection>) {
        let weak = Arc::downgrade(self);
        let exited = conn.process.exited();
        let generation = conn.generation;
        tokio::spawn(async move {
            let status = exited.await;
            if let Some(this) = weak.upgrade() {
                this.exited(generation, status);
            }
        });
        if let Some(idle) = self.limits.idle_timeout {
            self.watch_idle(conn, idle);
        }
        let probe = if conn.process.url() == "stdio" {
            Some(Probe::Ping(Arc::downgrade(&conn.default), self.limits.health_timeout, self.next_id.clone()))
        } else {
            HealthCheck::new(conn.process.url(), conn.process.connector(), self.limits.health_timeout).map(|check| Probe::Http(Box::new(check)))
        };
        if let Some(health) = probe {
            let weak = Arc::downgrade(self);
            let exited = conn.process.exited();
            let interval = self.limits.health_interval;
            let max_failures = self.limits.max_health_failures;
            let max_memory = self.limits.max_memory_bytes;
            let pid = conn.process.pid();
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
                    let Some(conn) = this.ready().filter(|c| c.generation == generation) else { return };
                    let sampled = pid.zip(system.as_mut()).and_then(|(pid, system)| this.sample(system, pid));
                    if let Some(rss) = sampled {
                        if max_memory.is_some_and(|max| rss > max) {
                            let max = max_memory.unwrap_or_default();
                            tracing::warn!(workspace = this.id, rss, max, "memory limit exceeded; restarting");
                            this.emit("memory_restart", json!({ "rssBytes": rss, "maxBytes": max }));
                            this.supervision.lock().last_error =
                                Some(format!("resident memory {rss} bytes over the {max}-byte limit"));
                            conn.process.kill();
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
                                this.supervision.lock().last_error =
                                    Some(format!("{failures} health checks failed: {error}"));
                                // The exit watcher restarts it as a crash.
                                conn.process.kill();
                                return;
                            }
                        }
                    }
                }
            });
        }
    }

    /// Samples the process's resident memory (bytes) and CPU use; returns
    /// the memory.
    fn sample(&self, system: &mut sysinfo::System, pid: u32) -> Option<u64> {
        let pid = sysinfo::Pid::from_u32(pid);
        system.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            true,
            sysinfo::ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        let process = system.process(pid)?;
        let (rss, cpu) = (process.memory(), process.cpu_usage());
        self.supervision.lock().resources = Some((rss, cpu));
        Some(rss)
    }

    /// Stops the process once it has had no call for `idle`.
    fn watch_idle(self: &Arc<Self>, conn: &Arc<Connection>, idle: Duration) {
        let weak = Arc::downgrade(self);
        let exited = conn.process.exited();
        let generation = conn.generation;
        let period = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(async move {
            tokio::pin!(exited);
            loop {
                tokio::select! {
                    _ = &mut exited => return,
                    _ = tokio::time::sleep(period) => {}
                }
                let Some(this) = weak.upgrade() else { return };
                if this.ready().is_none_or(|c| c.generation != generation) {
                    return;
                }
                let quiet = now_ms().saturating_sub(this.last_used.load(Ordering::Relaxed));
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
        let mut sup = self.supervision.lock();
        let before = sup.state();
        sup.unhealthy = unhealthy;
        let after = sup.state();
        if before != after {
            self.emit("state", json!({ "from": before, "to": after }));
        }
    }

    /// The process of `generation` exited.
    fn exited(self: &Arc<Self>, generation: u64, status: String) {
        let mut sup = self.supervision.lock();
        let conn = match &sup.phase {
            Phase::Ready(conn) if conn.generation == generation => conn.clone(),
            _ => return,
        };
        self.crashed(&mut sup, &conn, status);
    }

    /// The ready process of `conn` exited unasked: fail its calls in flight
    /// and schedule a restart.
    fn crashed(self: &Arc<Self>, sup: &mut Supervision, conn: &Arc<Connection>, status: String) {
        if conn.stopping.load(Ordering::Acquire) {
            return;
        }
        tracing::warn!(workspace = self.id, status, "workspace process crashed");
        sup.last_exit = Some(status.clone());
        self.emit("crash", json!({ "status": status, "pid": conn.process.pid() }));
        conn.fail_all(|| self.crash_error(&status));
        let reason = format!("process exited ({status})");
        sup.last_error.get_or_insert_with(|| reason.clone());
        self.on_failure(sup, reason);
    }

    /// Starts the process now if it is not running.
    ///
    /// # Errors
    ///
    /// As the start of a call: `START_FAILED`, `WORKSPACE_FAILED`, ...
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        self.connection().await.map(|_| ())
    }

    /// Stops the process: calls in flight may finish within `grace`, then
    /// the rest fail (`WORKSPACE_STOPPED`, or `CLOSED` when the bridge
    /// closes); SIGTERM to the process group, SIGKILL after `grace`.
    /// Idempotent. A later call starts the process again.
    pub async fn stop(self: &Arc<Self>, grace: Duration) {
        let conn = {
            let mut sup = self.supervision.lock();
            match self.transition(&mut sup, Phase::Stopping) {
                Phase::Ready(conn) => Some(conn),
                _ => None,
            }
        };
        if let Some(conn) = conn {
            conn.stopping.store(true, Ordering::Release);
            let deadline = tokio::time::Instant::now() + grace;
            while conn.pending() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let closing = self.closing.is_cancelled();
            let error = || match closing {
                true => Error::Closed,
                false => Error::WorkspaceStopped {
                    workspace: self.id.clone(),
                },
            };
            conn.fail_all(error);
            let sessions = conn.all_sessions();
            let deletes = sessions.iter().map(|s| s.close(error));
            let _ = tokio::time::timeout(SESSION_CLOSE_TIMEOUT, futures_util::future::join_all(deletes)).await;
            conn.process.stop(grace).await;
            let status = conn.process.exit_status().await;
            self.supervision.lock().last_exit = status;
        }
        let mut sup = self.supervision.lock();
        if matches!(sup.phase, Phase::Stopping) {
            self.transition(&mut sup, Phase::Stopped);
        }
    }

    /// Stops the process and starts it again; also takes a `failed`
    /// workspace back into service, with its restart count kept and its
    /// backoff and intensity reset.
    ///
    /// # Errors
    ///
    /// As [`Workspace::start`].
    pub async fn restart(self: &Arc<Self>, grace: Duration) -> Result<()> {
        {
            let mut sup = self.supervision.lock();
            sup.intensity.reset();
            sup.backoff.reset();
            if matches!(sup.phase, Phase::Failed(_)) {
                self.transition(&mut sup, Phase::Stopped);
            }
        }
        self.stop(grace).await;
        self.start().await
    }
}
