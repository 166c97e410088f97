//! [`SessionHandle`]: a further MCP session a caller opens on a workspace,
//! with its own client identity and handlers, outliving server restarts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use super::Workspace;
use crate::call::{CallOptions, NotificationHandler, RequestHandler};
use crate::config::Protocol;
use crate::error::{Error, Result};
use crate::jsonrpc::Params;
use crate::session::{http_connect, ClientIdentity, Session, SessionState};
use crate::supervisor::Running;

/// A further MCP session on a workspace's process, with its own client
/// identity and request handler, opened with
/// [`Bridge::session`](crate::Bridge::session).
///
/// Calls go through the workspace's queue like [`Bridge::call`](crate::Bridge::call). The MCP
/// session is initialized on the first call, and again after the process
/// restarts; the handle stays valid until [`SessionHandle::close`].
pub struct SessionHandle {
    workspace: Arc<Workspace>,
    identity: ClientIdentity,
    requests: Option<RequestHandler>,
    notifications: Option<NotificationHandler>,
    current: tokio::sync::Mutex<Option<(u64, Arc<Session>)>>,
    closed: AtomicBool,
    /// What this client set on its MCP sessions, set again on each new one.
    state: Arc<SessionState>,
    /// Its place in the workspace's stdio notification fan-out.
    listener: Option<u64>,
    /// With `session: 'per-client'`: the handle owns its workspace (a
    /// process of its own), stopped and taken off the fleet on close.
    owns: Option<std::sync::Weak<crate::fleet::Fleet>>,
}

impl SessionHandle {
    /// A further MCP session on `workspace`'s process. With `owns` (a
    /// workspace of its own, `session: 'per-client'`),
    /// [`SessionHandle::close`] stops the workspace and takes it off that
    /// fleet.
    pub(crate) fn new(
        workspace: Arc<Workspace>,
        identity: ClientIdentity,
        requests: Option<RequestHandler>,
        notifications: Option<NotificationHandler>,
        owns: Option<std::sync::Weak<crate::fleet::Fleet>>,
    ) -> Arc<Self> {
        let listener = notifications.clone().and_then(|handler| workspace.listen(handler));
        Arc::new(SessionHandle {
            workspace,
            identity,
            requests,
            notifications,
            current: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
            state: Arc::default(),
            listener,
            owns,
        })
    }

    /// The session on `running`, initializing one when there is none yet or
    /// the server changed.
    pub(crate) async fn session_for(&self, running: &Running) -> Result<Arc<Session>> {
        if running.http.is_none() && !running.default.is_sessionless() {
            // A stdio process has one MCP session: every session shares it.
            return Ok(running.default.clone());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let generation = running.generation;
        let mut current = self.current.lock().await;
        if let Some((gen, session)) = current.as_ref() {
            if *gen == generation {
                return Ok(session.clone());
            }
        }
        let session = match &running.http {
            // Sessionless over stdio: the process's one connection, with
            // this session's identity in every request.
            None => Arc::new(running.default.view(&self.identity, self.requests.clone()).expect("a sessionless session")),
            Some(http) => {
                let session = Arc::new(
                    Session::open(
                        self.workspace.id(),
                        http_connect(&http.url, http.connector.clone(), &http.headers, self.workspace.max_message_bytes(), self.state.clone()),
                        &self.identity,
                        // The revision the default session settled on (`auto`
                        // resolved once per process).
                        if running.default.is_sessionless() { Protocol::Sessionless } else { Protocol::Stateful },
                        self.workspace.ids(),
                        self.notifications.clone().or_else(|| self.workspace.notification_handler()),
                        self.requests.clone(),
                        self.state.clone(),
                    )
                    .await?,
                );
                running.register(&session);
                session
            }
        };
        *current = Some((generation, session.clone()));
        Ok(session)
    }

    /// Sends a JSON-RPC request on this session; as
    /// [`Workspace::call`](crate::Workspace::call), plus `CLOSED` after
    /// [`SessionHandle::close`].
    pub fn call(
        self: &Arc<Self>,
        method: &str,
        params: Option<Value>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Value>> + Send + 'static {
        super::parsed(self.workspace.call_on(Some(self.clone()), method, params.map(Params::Value), options))
    }

    /// [`SessionHandle::call`] with params of either kind, resolving with
    /// the `result` as the server's JSON text (see
    /// [`Workspace::call_raw`](crate::Workspace::call_raw)).
    pub fn call_raw(
        self: &Arc<Self>,
        method: &str,
        params: Option<Params>,
        options: CallOptions,
    ) -> impl std::future::Future<Output = Result<Box<serde_json::value::RawValue>>> + Send + 'static {
        self.workspace.call_on(Some(self.clone()), method, params, options)
    }

    /// The server's `InitializeResult` for this session.
    ///
    /// # Errors
    ///
    /// `START_FAILED`, `CLOSED`, or an initialization failure.
    pub async fn server_info(&self) -> Result<Value> {
        let running = self.workspace.running().await?;
        Ok(self.session_for(&running).await?.init.clone())
    }

    /// Ends the session (its calls fail with `CLOSED`); idempotent.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(id) = self.listener {
            self.workspace.unlisten(id);
        }
        if let Some((_, session)) = self.current.lock().await.take() {
            session.close(|| Error::Closed).await;
        }
        if let Some(fleet) = &self.owns {
            if let Some(fleet) = fleet.upgrade() {
                fleet.leave(self.workspace.id());
            }
            self.workspace.retire();
            self.workspace.stop(OWNED_STOP_GRACE).await;
        }
    }
}

/// How long the calls of a per-client process may finish after its session
/// closes, before the process is stopped.
const OWNED_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Drop for SessionHandle {
    /// A handle dropped without [`SessionHandle::close`] leaves the stdio
    /// notification fan-out all the same.
    fn drop(&mut self) {
        if let Some(id) = self.listener {
            self.workspace.unlisten(id);
        }
    }
}

