//! MCP sessions on a workspace process.
//!
//! A [`Session`] is one MCP session (MCP 2025-06-18, Basic / Lifecycle) on
//! one process: its own transport connection, `Mcp-Session-Id`, pending map
//! and inbox. Every process has a default session, used by
//! [`Bridge::call`](crate::Bridge::call). A [`SessionHandle`] is a further
//! session a caller opens with its own `clientInfo`, capabilities and
//! request handler; it outlives process restarts by initializing again, on
//! its next call, against the new process.
//!
//! Over streamable HTTP the transport keeps a session alive on its own
//! ([`crate::transport::http`]): it listens on the session's `GET` stream,
//! whose messages reach the same [`Router`] as those of responses, and when
//! the server ends the session (HTTP 404) it initializes a new one with the
//! same `initialize` parameters, so a [`Session`] outlives that too.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::call::{CallOptions, RequestHandler};
use crate::error::{Error, Result};
use crate::jsonrpc::{Incoming, Message, Outgoing, Params};
use crate::pending::{Entry, Pending, Progress};
use crate::transport::http::HttpTransport;
use crate::transport::{Inbox, SendError, Transport};
use crate::supervisor::Connection;
use crate::workspace::{NotificationHandler, Workspace};

/// The MCP revision the core asks for in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// MCP revisions the core accepts from a server.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// What a session declares in `initialize`.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// `clientInfo`: `{ name, version, ... }`.
    pub client_info: Value,
    /// Client capabilities (`sampling`, `elicitation`, `roots`, ...).
    pub capabilities: Value,
}

impl Default for ClientIdentity {
    fn default() -> Self {
        ClientIdentity {
            client_info: json!({ "name": "fastmcp-bridge", "version": env!("CARGO_PKG_VERSION") }),
            capabilities: json!({}),
        }
    }
}

/// Routes what the server sends on one session: responses and progress to
/// waiting calls, other notifications to the bridge's handler, and server
/// requests to the call's, the session's handler, or -32601.
struct Router {
    workspace: String,
    pending: Arc<Pending>,
    transport: OnceLock<Weak<dyn Transport>>,
    notifications: Option<NotificationHandler>,
    requests: Option<RequestHandler>,
}

impl Router {
    fn answer(&self, id: Value, request: Value, handler: Option<RequestHandler>) {
        let Some(transport) = self.transport.get().and_then(Weak::upgrade) else {
            return;
        };
        let workspace = self.workspace.clone();
        tokio::spawn(async move {
            let method = request.get("method").and_then(Value::as_str).unwrap_or("").to_owned();
            let outcome = match (method.as_str(), handler) {
                ("ping", _) => Ok(json!({})),
                (_, Some(handler)) => handler(request).await,
                (_, None) => Err(Error::JsonRpc {
                    code: -32601,
                    message: format!("Method not found: {method}"),
                    data: None,
                }),
            };
            let response = match outcome {
                Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
                Err(Error::JsonRpc { code, message, data }) => {
                    let mut error = json!({ "code": code, "message": message });
                    if let Some(data) = data {
                        error["data"] = data;
                    }
                    json!({ "jsonrpc": "2.0", "id": id, "error": error })
                }
                Err(other) => json!({ "jsonrpc": "2.0", "id": id,
                    "error": { "code": -32603, "message": other.to_string() } }),
            };
            let response = Outgoing::encode(&response).expect("a response is a JSON-RPC message");
            if let Err(e) = transport.send(response).await {
                tracing::warn!(workspace, method, error = %e.error, "could not answer a server request");
            }
        });
    }
}

impl Inbox for Router {
    fn deliver(&self, incoming: Incoming, related: Option<&Value>) {
        match incoming.kind.clone() {
            Message::Response { id } => {
                if !self.pending.complete(incoming) {
                    tracing::warn!(workspace = self.workspace, %id, "response to no waiting call; dropped");
                }
            }
            Message::Notification { method } => {
                let message = incoming.message;
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
            Message::Request { id, .. } => {
                let handler = related
                    .and_then(|r| self.pending.request_handler(r))
                    .or_else(|| self.requests.clone());
                self.answer(id, incoming.message, handler);
            }
        }
    }

    fn fail(&self, id: &Value, error: Error) {
        if !id.as_u64().is_some_and(|id| self.pending.fail(id, SendError::delivered(error))) {
            tracing::warn!(workspace = self.workspace, %id, "unreadable response to no waiting call; dropped");
        }
    }
}

/// Connects a session to a process's streamable HTTP endpoint.
pub(crate) fn http_connect(
    url: &str,
    connector: crate::transport::connect::Connector,
    max_message_bytes: usize,
) -> impl FnOnce(Arc<dyn Inbox>) -> Result<Arc<dyn Transport>> + '_ {
    move |inbox| Ok(Arc::new(HttpTransport::new(url, connector, inbox, max_message_bytes)?) as Arc<dyn Transport>)
}

/// One initialized MCP session on a process.
pub(crate) struct Session {
    pub transport: Arc<dyn Transport>,
    pub pending: Arc<Pending>,
    /// The server's `InitializeResult`.
    pub init: Value,
}

impl Session {
    /// Connects to `url` and performs MCP initialization: `initialize`, then
    /// `notifications/initialized`.
    pub(crate) async fn open(
        workspace: &str,
        connect: impl FnOnce(Arc<dyn Inbox>) -> Result<Arc<dyn Transport>>,
        identity: &ClientIdentity,
        next_id: &AtomicU64,
        notifications: Option<NotificationHandler>,
        requests: Option<RequestHandler>,
    ) -> Result<Session> {
        let pending = Arc::new(Pending::new());
        let router = Arc::new(Router {
            workspace: workspace.to_owned(),
            pending: pending.clone(),
            transport: OnceLock::new(),
            notifications,
            requests,
        });
        let transport = connect(router.clone())?;
        let _ = router.transport.set(Arc::downgrade(&transport));

        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": identity.capabilities,
            "clientInfo": identity.client_info,
        });
        let (reply, replied) = oneshot::channel();
        let _ = pending.insert(id, Entry::new(reply));
        let request = Outgoing::request(id, "initialize", Some(&Params::Value(params)), false)?;
        if let Err(e) = transport.send(request).await {
            pending.remove(id);
            return Err(e.error);
        }
        let response = replied
            .await
            .unwrap_or(Err(SendError::delivered(Error::Closed)))
            .map_err(|e| e.error)?;
        let init: Value = serde_json::from_str(response.get())
            .map_err(|e| Error::Protocol(format!("InitializeResult: {e}")))?;
        let version = init
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?;
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&version) {
            return Err(Error::Protocol(format!("unsupported MCP protocol version {version:?}")));
        }
        transport.set_protocol_version(version);
        transport
            .send(Outgoing::notification("notifications/initialized", None))
            .await
            .map_err(|e| e.error)?;
        Ok(Session {
            transport,
            pending,
            init,
        })
    }

    /// Sends MCP `ping` and waits up to `timeout` for its answer (MCP
    /// 2025-06-18, Basic / Utilities / Ping).
    pub(crate) async fn ping(&self, id: u64, timeout: std::time::Duration) -> std::result::Result<(), String> {
        let (reply, replied) = oneshot::channel();
        let _ = self.pending.insert(id, Entry::new(reply));
        let exchange = async {
            let request = Outgoing::request(id, "ping", None, false).map_err(|e| e.to_string())?;
            self.transport.send(request).await.map_err(|e| e.error.to_string())?;
            match replied.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.error.to_string()),
                Err(_) => Err("ping abandoned".to_owned()),
            }
        };
        let outcome = tokio::time::timeout(timeout, exchange).await;
        self.pending.remove(id);
        outcome.unwrap_or_else(|_| Err(format!("no answer to ping within {} ms", timeout.as_millis())))
    }

    /// Ends the session: waiting calls fail with `error`, and the server is
    /// told (HTTP DELETE).
    pub(crate) async fn close(&self, error: impl Fn() -> Error + Copy) {
        self.pending.fail_all(error);
        self.transport.close().await;
    }
}

/// A further MCP session on a workspace's process, with its own client
/// identity and request handler, opened with
/// [`Bridge::session`](crate::Bridge::session).
///
/// Calls go through the workspace's queue like [`Bridge::call`]. The MCP
/// session is initialized on the first call, and again after the process
/// restarts; the handle stays valid until [`SessionHandle::close`].
pub struct SessionHandle {
    workspace: Arc<Workspace>,
    identity: ClientIdentity,
    requests: Option<RequestHandler>,
    notifications: Option<NotificationHandler>,
    current: tokio::sync::Mutex<Option<(u64, Arc<Session>)>>,
    closed: AtomicBool,
}

impl SessionHandle {
    pub(crate) fn new(
        workspace: Arc<Workspace>,
        identity: ClientIdentity,
        requests: Option<RequestHandler>,
        notifications: Option<NotificationHandler>,
    ) -> Arc<Self> {
        Arc::new(SessionHandle {
            workspace,
            identity,
            requests,
            notifications,
            current: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// The session on the process of `conn`, initializing one when there is
    /// none yet or the process changed.
    pub(crate) async fn session_for(&self, conn: &Connection) -> Result<Arc<Session>> {
        let generation = conn.generation;
        if conn.process.url() == "stdio" {
            // A stdio process has one MCP session: every session shares it.
            return Ok(conn.default.clone());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let mut current = self.current.lock().await;
        if let Some((gen, session)) = current.as_ref() {
            if *gen == generation {
                return Ok(session.clone());
            }
        }
        let session = Arc::new(
            Session::open(
                self.workspace.id(),
                http_connect(conn.process.url(), conn.process.connector(), self.workspace.max_message_bytes()),
                &self.identity,
                self.workspace.ids(),
                self.notifications.clone().or_else(|| self.workspace.notification_handler()),
                self.requests.clone(),
            )
            .await?,
        );
        conn.register(&session);
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
        crate::workspace::parsed(self.workspace.call_on(Some(self.clone()), method, params.map(Params::Value), options))
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
        let conn = self.workspace.connection().await?;
        Ok(self.session_for(&conn).await?.init.clone())
    }

    /// Ends the session (its calls fail with `CLOSED`); idempotent.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some((_, session)) = self.current.lock().await.take() {
            session.close(|| Error::Closed).await;
        }
    }
}
