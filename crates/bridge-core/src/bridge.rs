//! The bridge: workspaces by id, each reached through its own process.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::call::{CallOptions, NotificationHandler, RequestHandler};
use crate::config::{BridgeConfig, LaunchSpec, ResolvedLimits, SessionMode, TransportKind, WorkspaceSpec};
#[cfg(target_os = "linux")]
use crate::config::LauncherKind;
#[cfg(target_os = "linux")]
use crate::launcher::{ForkLauncher, ForkServers};
use crate::launcher::{Launcher, LocalProcess, RemoteLauncher};
use crate::request_log::RequestLog;
use crate::error::{Error, Result};
use crate::isolation::Confinement;
use crate::metrics::MetricsSnapshot;
use crate::logs::LogLine;
use crate::session::ClientIdentity;
use crate::supervisor::{EventSink, WorkspaceStatus};
use crate::fleet::Fleet;
use crate::workspace::{Handlers, SessionHandle, Workspace};

/// Supervision events kept for [`Bridge::events`].
pub const EVENT_BUFFER: usize = 500;
/// Grace period of the stops done by [`Bridge::close`].
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Answers server requests not handled by a call or session: given the
/// workspace id and the whole JSON-RPC request, as [`RequestHandler`].
pub type BridgeRequestHandler =
    Arc<dyn Fn(&str, serde_json::Value) -> futures_util::future::BoxFuture<'static, Result<serde_json::Value>> + Send + Sync>;

/// Where a bridge's server-initiated traffic goes.
#[derive(Default, Clone)]
pub struct BridgeHandlers {
    /// Server notifications not tied to a call, with their workspace id.
    pub notifications: Option<NotificationHandler>,
    /// Server requests not answered by a call's or session's handler.
    pub requests: Option<BridgeRequestHandler>,
    /// Supervision events (`{ id, workspaceId, type, at, ... }`).
    pub events: Option<EventSink>,
}

/// Runs and talks to one hub process per workspace.
pub struct Bridge {
    workspaces: RwLock<HashMap<String, Arc<Workspace>>>,
    /// Their supervisors, for the `maxRunning` cap.
    fleet: Arc<Fleet>,
    config: BridgeConfig,
    handlers: BridgeHandlers,
    sink: EventSink,
    closing: CancellationToken,
    events: Arc<Mutex<EventLog>>,
    /// Private directory (mode 0700) of the workspaces' Unix sockets.
    socket_dir: Option<std::path::PathBuf>,
    /// The fork servers of forked hub workspaces, one per interpreter.
    #[cfg(target_os = "linux")]
    fork_servers: ForkServers,
    /// The specs of the stdio workspaces with `session: 'per-client'`, by id.
    per_client: RwLock<HashMap<String, WorkspaceSpec>>,
    /// The processes of their sessions (not in `workspaces`), stopped by
    /// [`Bridge::close`] if their sessions are still open.
    private: Mutex<Vec<std::sync::Weak<Workspace>>>,
    /// Numbers the private processes: `<workspace>~<n>` in logs and events.
    next_private: std::sync::atomic::AtomicU64,
    /// The uids given to workspaces with `user: 'auto'`, by workspace id.
    uids: Mutex<HashMap<String, u32>>,
    /// Where every call is recorded, when configured.
    request_log: Option<Arc<RequestLog>>,
}

/// Creates a private directory for Unix sockets, readable by this user only.
fn private_socket_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("fastmcp-bridge-{}-{:08x}", std::process::id(), fastrand::u32(..)));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(&dir) {
        Ok(()) => Some(dir),
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "cannot create the socket directory");
            None
        }
    }
}

/// The last [`EVENT_BUFFER`] events, each numbered.
#[derive(Default)]
struct EventLog {
    next_id: u64,
    recent: VecDeque<Value>,
}

impl Bridge {
    /// A bridge over the configured workspaces. Starts nothing: each process
    /// is spawned on its workspace's first call. `handlers` receive the
    /// server notifications and requests not tied to a call.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` when [`BridgeConfig::validate`] refuses `config`.
    pub fn new(config: BridgeConfig, handlers: BridgeHandlers) -> Result<Self> {
        config.validate()?;
        let closing = CancellationToken::new();
        let events = Arc::new(Mutex::new(EventLog::default()));
        let sink: EventSink = {
            let events = events.clone();
            let forward = handlers.events.clone();
            Arc::new(move |mut event: Value| {
                {
                    let mut log = events.lock();
                    log.next_id += 1;
                    event["id"] = Value::from(log.next_id);
                    if log.recent.len() == EVENT_BUFFER {
                        log.recent.pop_front();
                    }
                    log.recent.push_back(event.clone());
                }
                if let Some(forward) = &forward {
                    forward(event);
                }
            })
        };
        let uses_unix = config
            .workspaces
            .values()
            .any(|spec| spec.transport_in(config.transport) == TransportKind::Unix);
        let socket_dir = if uses_unix { private_socket_dir() } else { None };
        let prewarm = config.prewarm;
        let request_log = config.request_log.clone().map(RequestLog::open).transpose()?;
        let bridge = Bridge {
            workspaces: RwLock::new(HashMap::new()),
            fleet: Arc::new(Fleet::new(config.max_running)),
            config,
            handlers,
            sink,
            closing,
            events,
            socket_dir,
            #[cfg(target_os = "linux")]
            fork_servers: ForkServers::new(prewarm),
            per_client: RwLock::default(),
            private: Mutex::default(),
            next_private: std::sync::atomic::AtomicU64::new(1),
            uids: Mutex::default(),
            request_log,
        };
        let specs: Vec<(String, WorkspaceSpec)> =
            bridge.config.workspaces.iter().map(|(id, spec)| (id.clone(), spec.clone())).collect();
        for (id, spec) in specs {
            bridge.note_session_mode(&id, &spec);
            let workspace = bridge.make_workspace(&id, &spec);
            bridge.fleet.join(&id, workspace.supervisor().clone());
            bridge.workspaces.write().insert(id, workspace);
        }
        Ok(bridge)
    }

    /// How `command`'s server comes to exist: forked from the fork server
    /// of its interpreter, or spawned.
    fn launcher(&self, command: &LaunchSpec) -> Box<dyn Launcher> {
        if let Some(remote) = &command.remote {
            return Box::new(RemoteLauncher::new(remote.clone()));
        }
        #[cfg(target_os = "linux")]
        if command.launcher == LauncherKind::Fork && command.transport != TransportKind::Stdio {
            return Box::new(ForkLauncher::new(self.fork_servers.of(&command.python), command.clone()));
        }
        Box::new(LocalProcess::new(command.clone()))
    }

    fn make_workspace(&self, id: &str, spec: &WorkspaceSpec) -> Arc<Workspace> {
        let requests = self.handlers.requests.clone().map(|bridge_handler| {
            let workspace = id.to_owned();
            Arc::new(move |request| bridge_handler(&workspace, request)) as RequestHandler
        });
        let handlers = Handlers {
            identity: ClientIdentity {
                capabilities: self.config.capabilities.clone().unwrap_or_else(|| serde_json::json!({})),
                ..ClientIdentity::default()
            },
            notifications: self.handlers.notifications.clone(),
            requests,
        };
        self.make_workspace_with(id, spec, handlers)
    }

    fn make_workspace_with(&self, id: &str, spec: &WorkspaceSpec, handlers: Handlers) -> Arc<Workspace> {
        let mut command = LaunchSpec::new(&self.config, spec);
        command.socket_dir = self.socket_dir.clone();
        // A private process of a per-client session (`<id>~<n>`) runs as its workspace's user.
        let tenant = id.split('~').next().unwrap_or(id);
        command.workspace = tenant.to_owned();
        // A remote workspace runs no process here: nothing to confine.
        command.confinement = match command.remote {
            Some(_) => None,
            None => Confinement::resolve(&spec.isolation.or(&self.config.isolation), |base| {
                let mut uids = self.uids.lock();
                let next = base + uids.len() as u32;
                *uids.entry(tenant.to_owned()).or_insert(next)
            }),
        };
        let launcher = self.launcher(&command);
        Arc::new(Workspace::new(
            id.to_owned(),
            command,
            launcher,
            ResolvedLimits::new(&self.config, spec),
            self.closing.clone(),
            handlers,
            self.sink.clone(),
            Arc::downgrade(&self.fleet),
            self.request_log.clone(),
        ))
    }

    /// Records a stdio workspace whose sessions each get a process.
    fn note_session_mode(&self, id: &str, spec: &WorkspaceSpec) {
        if spec.session == Some(SessionMode::PerClient) {
            self.per_client.write().insert(id.to_owned(), spec.clone());
        }
    }

    fn members(&self) -> Vec<Arc<Workspace>> {
        self.workspaces.read().values().cloned().collect()
    }

    /// Whether [`Bridge::add_workspace`] would take `spec` under `id` (an id
    /// already in use aside): its options, its isolation against the
    /// bridge's, a Unix socket directory for a unix workspace.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` naming the workspace and the option.
    pub fn check_workspace(&self, id: &str, spec: &WorkspaceSpec) -> Result<()> {
        spec.validate(id)?;
        self.config.validate_isolation(id, spec)?;
        if spec.transport_in(self.config.transport) == TransportKind::Unix && self.socket_dir.is_none() {
            return Err(Error::InvalidArgument(
                "transport 'unix' needs a bridge created with a unix workspace or transport: 'unix'".into(),
            ));
        }
        Ok(())
    }

    /// Adds a workspace at run time; it starts on its first call.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` when the id is taken or
    /// [`WorkspaceSpec::validate`] refuses `spec`; `CLOSED`.
    pub fn add_workspace(&self, id: &str, spec: WorkspaceSpec) -> Result<()> {
        if self.closing.is_cancelled() {
            return Err(Error::Closed);
        }
        self.check_workspace(id, &spec)?;
        let workspace = self.make_workspace(id, &spec);
        let mut workspaces = self.workspaces.write();
        if workspaces.contains_key(id) {
            return Err(Error::InvalidArgument(format!("workspace {id:?} already exists")));
        }
        self.fleet.join(id, workspace.supervisor().clone());
        workspaces.insert(id.to_owned(), workspace);
        self.note_session_mode(id, &spec);
        Ok(())
    }

    /// Removes a workspace, stopping its process with `grace` (its calls in
    /// flight past the grace period fail with `WORKSPACE_STOPPED`).
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub async fn remove_workspace(&self, id: &str, grace: Duration) -> Result<()> {
        if self.closing.is_cancelled() {
            return Err(Error::Closed);
        }
        let workspace = self
            .workspaces
            .write()
            .remove(id)
            .ok_or_else(|| Error::UnknownWorkspace(id.to_owned()))?;
        self.fleet.leave(id);
        self.per_client.write().remove(id);
        workspace.retire();
        workspace.stop(grace).await;
        Ok(())
    }

    /// The workspace with this id.
    ///
    /// # Errors
    ///
    /// `CLOSED` after [`Bridge::close`]; `UNKNOWN_WORKSPACE`.
    pub fn workspace(&self, id: &str) -> Result<Arc<Workspace>> {
        if self.closing.is_cancelled() {
            return Err(Error::Closed);
        }
        self.workspaces
            .read()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownWorkspace(id.to_owned()))
    }

    /// Whether `id` is a configured workspace: one lookup, where
    /// [`Bridge::workspace_ids`] copies every id.
    pub fn has_workspace(&self, id: &str) -> bool {
        self.workspaces.read().contains_key(id)
    }

    /// The configured workspace ids, sorted.
    pub fn workspace_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.workspaces.read().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Sends a JSON-RPC request to a workspace and resolves with its `result`.
    /// The call is queued when this function is called (see
    /// [`Workspace::call`]).
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, then as [`Workspace::call`].
    ///
    /// # Cancel safety
    ///
    /// As [`Workspace::call`].
    pub fn call(
        &self,
        workspace: &str,
        method: &str,
        params: Option<Value>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Value>> + Send + 'static {
        let call = self
            .workspace(workspace)
            .map(|w| w.call(method, params, options));
        async move { call?.await }
    }

    /// [`Bridge::call`] with params of either kind (JSON text is spliced
    /// into the request unparsed), resolving with the `result` as the
    /// server's JSON text (see [`Workspace::call_raw`]).
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, then as [`Workspace::call_raw`].
    pub fn call_raw(
        &self,
        workspace: &str,
        method: &str,
        params: Option<crate::jsonrpc::Params>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Box<serde_json::value::RawValue>>> + Send + 'static {
        let call = self
            .workspace(workspace)
            .map(|w| w.call_raw(method, params, options));
        async move { call?.await }
    }

    /// Opens a further MCP session on a workspace's process, with its own
    /// client identity, request handler (without one: `-32601`) and
    /// notification handler (without one: the bridge's).
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub fn session(
        &self,
        workspace: &str,
        identity: ClientIdentity,
        requests: Option<RequestHandler>,
        notifications: Option<NotificationHandler>,
    ) -> Result<Arc<SessionHandle>> {
        let shared = self.workspace(workspace)?;
        let Some(spec) = self.per_client.read().get(workspace).cloned() else {
            return Ok(shared.session(identity, requests, notifications));
        };
        if self.closing.is_cancelled() {
            return Err(Error::Closed);
        }
        // `session: 'per-client'`: a process of its own, whose default MCP
        // session is this client's (its identity in `initialize`, its
        // handler for server requests).
        let n = self.next_private.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{workspace}~{n}");
        let handlers = Handlers { identity: identity.clone(), notifications: None, requests: requests.clone() };
        let private = self.make_workspace_with(&id, &spec, handlers);
        self.fleet.join(&id, private.supervisor().clone());
        let mut tracked = self.private.lock();
        tracked.retain(|w| w.strong_count() > 0);
        tracked.push(Arc::downgrade(&private));
        drop(tracked);
        Ok(SessionHandle::new(private, identity, requests, notifications, Some(Arc::downgrade(&self.fleet))))
    }

    /// The workspace server's `InitializeResult`, starting it if needed.
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `START_FAILED`, `CLOSED`.
    pub async fn server_info(&self, workspace: &str) -> Result<Value> {
        self.workspace(workspace)?.server_info().await
    }

    /// Metrics of one workspace.
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub fn metrics(&self, workspace: &str) -> Result<MetricsSnapshot> {
        Ok(self.workspace(workspace)?.metrics())
    }

    /// Supervision state of one workspace.
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub fn status(&self, workspace: &str) -> Result<WorkspaceStatus> {
        Ok(self.workspace(workspace)?.status())
    }

    /// Supervision state of every workspace, sorted by id.
    pub fn statuses(&self) -> Vec<WorkspaceStatus> {
        let mut all: Vec<WorkspaceStatus> = self.members().iter().map(|w| w.status()).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The last `lines` output lines of a workspace's processes.
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub fn logs(&self, workspace: &str, lines: usize) -> Result<Vec<LogLine>> {
        Ok(self.workspace(workspace)?.logs(lines))
    }

    /// Calls `watcher` with each line a workspace's processes write from now
    /// on, until the returned watch is dropped or closed (or the workspace
    /// removed); returns with it the last `tail` lines before them, each
    /// line in one or the other. Also see [`Bridge::logs`].
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub fn watch_logs(
        &self,
        workspace: &str,
        tail: usize,
        watcher: crate::logs::LogWatcher,
    ) -> Result<(Vec<LogLine>, crate::logs::LogWatch)> {
        Ok(self.workspace(workspace)?.watch_logs(tail, watcher))
    }

    /// The last supervision events (at most 500), of one workspace or all,
    /// oldest first.
    pub fn events(&self, workspace: Option<&str>) -> Vec<Value> {
        self.events
            .lock()
            .recent
            .iter()
            .filter(|e| workspace.is_none_or(|id| e["workspaceId"] == id))
            .cloned()
            .collect()
    }

    /// Starts a workspace's process now.
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `START_FAILED`, `WORKSPACE_FAILED`, `CLOSED`.
    pub async fn start(&self, workspace: &str) -> Result<()> {
        self.workspace(workspace)?.start().await
    }

    /// Stops a workspace's process; see [`Workspace::stop`].
    ///
    /// # Errors
    ///
    /// `UNKNOWN_WORKSPACE`, `CLOSED`.
    pub async fn stop(&self, workspace: &str, grace: Duration) -> Result<()> {
        self.workspace(workspace)?.stop(grace).await;
        Ok(())
    }

    /// Restarts a workspace's process, also out of `failed`.
    ///
    /// # Errors
    ///
    /// As [`Bridge::start`].
    pub async fn restart(&self, workspace: &str, grace: Duration) -> Result<()> {
        self.workspace(workspace)?.restart(grace).await
    }

    /// Stops every process the bridge started; calls queued or in flight
    /// fail with `CLOSED`, and so do later calls. Idempotent.
    pub async fn close(&self) {
        self.closing.cancel();
        let mut members = self.members();
        members.extend(self.private.lock().drain(..).filter_map(|w| w.upgrade()));
        let stops = members.iter().map(|w| w.stop(CLOSE_GRACE));
        futures_util::future::join_all(stops).await;
        #[cfg(target_os = "linux")]
        self.fork_servers.shutdown().await;
        if let Some(dir) = &self.socket_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(log) = &self.request_log {
            // Writes what is pending; a blocking join of the writer thread.
            let log = log.clone();
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
    }

    /// The request log, when [`BridgeConfig::request_log`] is set.
    pub fn request_log(&self) -> Option<&Arc<RequestLog>> {
        self.request_log.as_ref()
    }
}
