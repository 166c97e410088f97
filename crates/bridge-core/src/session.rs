//! MCP sessions on a workspace process.
//!
//! A `Session` is one MCP session (MCP 2025-06-18, Basic / Lifecycle) on
//! one process: its own transport connection, `Mcp-Session-Id`, pending map
//! and inbox. Every process has a default session, used by
//! [`Bridge::call`](crate::Bridge::call). A [`SessionHandle`] is a further
//! session a caller opens with its own `clientInfo`, capabilities and
//! request handler; it outlives process restarts by initializing again, on
//! its next call, against the new process.
//!
//! Over streamable HTTP the transport keeps a session alive on its own
//! ([`crate::transport::http`]): it listens on the session's `GET` stream,
//! whose messages reach the same `Router` as those of responses, and when
//! the server ends the session (HTTP 404) it initializes a new one with the
//! same `initialize` parameters, so a `Session` outlives that too.
//!
//! With the sessionless 2026-07-28 revision ([`Protocol::Sessionless`], or
//! What a client sets on its MCP session and the server keeps, its logging
//! level (`logging/setLevel`) and its resource subscriptions
//! (`resources/subscribe`, `resources/unsubscribe`), is recorded as the
//! server accepts it (`SessionState`) and set again on every new MCP
//! session that replaces it: after a process restart, and after the server
//! ended the session (HTTP 404), so a client that set them does not see the
//! replacement.
//!
//! With the sessionless 2026-07-28 revision ([`Protocol::Sessionless`], or
//! [`Protocol::Auto`] against a server that offers it) a session is
//! client-side state only: `server/discover` replaces `initialize`, every
//! request carries the session's identity in `_meta` (`stamp`),
//! and the server's requests during a call arrive as an
//! `InputRequiredResult`, which the call answers with the same request
//! handlers and sends again (`Session::fulfill`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::call::{NotificationHandler, Progress, RequestHandler};
use crate::config::Protocol;
use crate::error::{Error, Result};
use crate::jsonrpc::{Incoming, Message, Outgoing, Params};
use crate::pending::{Entry, Pending};
use crate::transport::http::HttpTransport;
use crate::transport::{Inbox, SendError, Transport};

/// The MCP revision the core asks for in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// MCP revisions the core accepts from a server in `initialize`.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// The sessionless MCP revision, spoken with [`Protocol::Sessionless`] (and
/// [`Protocol::Auto`] when the server offers it).
pub const SESSIONLESS_PROTOCOL_VERSION: &str = "2026-07-28";

// `_meta` keys of the sessionless revision (MCP 2026-07-28, Basic).
const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";
const CLIENT_INFO_META: &str = "io.modelcontextprotocol/clientInfo";
const CLIENT_CAPABILITIES_META: &str = "io.modelcontextprotocol/clientCapabilities";
const SERVER_INFO_META: &str = "io.modelcontextprotocol/serverInfo";
const DISCOVER: &str = "server/discover";

/// Puts `envelope`'s keys into `params._meta` (creating it when absent;
/// params that are not an object are left as they are).
fn stamp(envelope: &Map<String, Value>, params: &mut Value) {
    let Some(params) = params.as_object_mut() else {
        return;
    };
    if let Some(meta) = params.entry("_meta").or_insert_with(|| json!({})).as_object_mut() {
        for (key, value) in envelope {
            meta.insert(key.clone(), value.clone());
        }
    }
}

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
    state: Arc<SessionState>,
) -> impl FnOnce(Arc<dyn Inbox>) -> Result<Arc<dyn Transport>> + '_ {
    move |inbox| {
        let transport = HttpTransport::new(url, connector, inbox, max_message_bytes)?.restoring(state);
        Ok(Arc::new(transport) as Arc<dyn Transport>)
    }
}

/// What a client set on its MCP session that the server keeps for the
/// session, recorded from requests the server answered with a result:
/// the last `logging/setLevel` (MCP 2025-06-18, Server Features / Utilities
/// / Logging) and the URIs of `resources/subscribe` not undone by a
/// `resources/unsubscribe` (Server Features / Resources / Subscriptions).
/// Shared by the MCP sessions that succeed one another for one client, so
/// that each new one is set up as the last one was ([`SessionState::requests`]).
#[derive(Default, Debug)]
pub(crate) struct SessionState {
    inner: parking_lot::Mutex<RecordedState>,
}

#[derive(Default, Debug)]
struct RecordedState {
    /// Params of the last accepted `logging/setLevel`.
    level: Option<Value>,
    /// Subscribed URIs, in the order they were first subscribed.
    subscriptions: Vec<String>,
}

impl SessionState {
    /// Whether requests of `method` change the recorded state.
    pub(crate) fn records(method: &str) -> bool {
        matches!(method, "logging/setLevel" | "resources/subscribe" | "resources/unsubscribe")
    }

    /// Records a request of `method` with `params` that the server answered
    /// with a result; other methods, and params without the member the
    /// method needs, change nothing.
    pub(crate) fn record(&self, method: &str, params: Option<&Value>) {
        let mut state = self.inner.lock();
        let uri = || params.and_then(|p| p.get("uri")).and_then(Value::as_str).map(str::to_owned);
        match method {
            "logging/setLevel" => {
                if let Some(level) = params.and_then(|p| p.get("level")) {
                    state.level = Some(json!({ "level": level }));
                }
            }
            "resources/subscribe" => {
                if let Some(uri) = uri() {
                    if !state.subscriptions.contains(&uri) {
                        state.subscriptions.push(uri);
                    }
                }
            }
            "resources/unsubscribe" => {
                if let Some(uri) = uri() {
                    state.subscriptions.retain(|s| *s != uri);
                }
            }
            _ => {}
        }
    }

    /// The requests that set a new MCP session up as recorded, in order:
    /// the logging level first, then one `resources/subscribe` per URI.
    pub(crate) fn requests(&self) -> Vec<(&'static str, Value)> {
        let state = self.inner.lock();
        let level = state.level.iter().map(|params| ("logging/setLevel", params.clone()));
        let subscriptions = state.subscriptions.iter().map(|uri| ("resources/subscribe", json!({ "uri": uri })));
        level.chain(subscriptions).collect()
    }
}

/// One initialized MCP session on a process.
pub(crate) struct Session {
    pub transport: Arc<dyn Transport>,
    pub pending: Arc<Pending>,
    /// The server's `InitializeResult`; with the sessionless revision, its
    /// `DiscoverResult` plus `protocolVersion` and `serverInfo`.
    pub init: Value,
    /// With the sessionless revision: the `_meta` keys every request
    /// carries (protocol version, client info and capabilities).
    envelope: Option<Map<String, Value>>,
    /// Answers server requests not tied to a call; with the sessionless
    /// revision, the input requests of an `InputRequiredResult`.
    requests: Option<RequestHandler>,
    /// A view of another session's transport and pending map (see
    /// [`Session::view`]); closing it leaves them alone.
    view: bool,
    /// What the client set on this MCP session and the ones before it.
    pub state: Arc<SessionState>,
}

impl Session {
    /// Connects over `connect` and performs MCP initialization as
    /// `protocol` says: `initialize` then `notifications/initialized` (MCP
    /// 2025-06-18, Basic / Lifecycle), or `server/discover` for the
    /// sessionless revision (MCP 2026-07-28, Basic / Lifecycle). A session
    /// with a handshake is then set up as `state` records
    /// ([`Session::restore`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open(
        workspace: &str,
        connect: impl FnOnce(Arc<dyn Inbox>) -> Result<Arc<dyn Transport>>,
        identity: &ClientIdentity,
        protocol: Protocol,
        next_id: &AtomicU64,
        notifications: Option<NotificationHandler>,
        requests: Option<RequestHandler>,
        state: Arc<SessionState>,
    ) -> Result<Session> {
        let pending = Arc::new(Pending::new());
        let router = Arc::new(Router {
            workspace: workspace.to_owned(),
            pending: pending.clone(),
            transport: OnceLock::new(),
            notifications,
            requests: requests.clone(),
        });
        let transport = connect(router.clone())?;
        let _ = router.transport.set(Arc::downgrade(&transport));
        let mut session = Session {
            transport,
            pending,
            init: Value::Null,
            envelope: None,
            requests,
            view: false,
            state,
        };
        if protocol != Protocol::Stateful {
            match session.discover(identity, next_id.fetch_add(1, Ordering::Relaxed)).await {
                Ok(Some((init, envelope))) => {
                    session.init = init;
                    session.envelope = Some(envelope);
                    return Ok(session);
                }
                Ok(None) if protocol == Protocol::Sessionless => {
                    return Err(Error::Protocol(format!(
                        "the server does not offer the sessionless MCP revision {SESSIONLESS_PROTOCOL_VERSION}"
                    )))
                }
                Err(e) if protocol == Protocol::Sessionless => return Err(e),
                // `auto`: a server that refuses or does not know
                // `server/discover` speaks the handshake revisions.
                Ok(None) | Err(Error::JsonRpc { .. } | Error::Protocol(_)) => {
                    session.transport.set_protocol_version(None);
                }
                Err(e) => return Err(e),
            }
        }
        session.init = session.initialize(identity, next_id.fetch_add(1, Ordering::Relaxed)).await?;
        session.restore(workspace, next_id).await;
        Ok(session)
    }

    /// Sends the requests of [`SessionState::requests`] on this new
    /// session, one after another. A request the server refuses is logged
    /// and skipped: the session is usable all the same, as it would be had
    /// the client never set that state.
    async fn restore(&self, workspace: &str, next_id: &AtomicU64) {
        for (method, params) in self.state.requests() {
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let sent = match self.encode(id, method, Some(Params::Value(params.clone())), false) {
                Ok(request) => self.exchange(request).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(_) => tracing::debug!(workspace, method, %params, "restored on a new MCP session"),
                Err(e) => tracing::warn!(workspace, method, %params, error = %e, "not restored on a new MCP session"),
            }
        }
    }

    /// `initialize`, then `notifications/initialized`; the
    /// `InitializeResult`.
    async fn initialize(&self, identity: &ClientIdentity, id: u64) -> Result<Value> {
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": identity.capabilities,
            "clientInfo": identity.client_info,
        });
        let init = self.exchange(self.encode(id, "initialize", Some(Params::Value(params)), false)?).await?;
        let version = init
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?;
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&version) {
            return Err(Error::Protocol(format!("unsupported MCP protocol version {version:?}")));
        }
        self.transport.set_protocol_version(Some(version));
        self.transport
            .send(Outgoing::notification("notifications/initialized", None))
            .await
            .map_err(|e| e.error)?;
        Ok(init)
    }

    /// `server/discover` at the sessionless revision. `None` when the server
    /// answers but does not offer that revision; else the result, with
    /// `protocolVersion` and `serverInfo` added where absent, and the
    /// request envelope.
    async fn discover(&self, identity: &ClientIdentity, id: u64) -> Result<Option<(Value, Map<String, Value>)>> {
        let mut envelope = Map::with_capacity(3);
        envelope.insert(PROTOCOL_VERSION_META.into(), json!(SESSIONLESS_PROTOCOL_VERSION));
        envelope.insert(CLIENT_INFO_META.into(), identity.client_info.clone());
        envelope.insert(CLIENT_CAPABILITIES_META.into(), identity.capabilities.clone());
        self.transport.set_protocol_version(Some(SESSIONLESS_PROTOCOL_VERSION));
        let mut params = json!({});
        stamp(&envelope, &mut params);
        let request = Outgoing::request(id, DISCOVER, Some(&Params::Value(params)), false)?;
        let Value::Object(mut result) = self.exchange(request).await? else {
            return Err(Error::Protocol("DiscoverResult is not an object".into()));
        };
        let offered = result
            .get("supportedVersions")
            .and_then(Value::as_array)
            .is_some_and(|versions| versions.iter().any(|v| v == SESSIONLESS_PROTOCOL_VERSION));
        if !offered {
            return Ok(None);
        }
        result.insert("protocolVersion".into(), json!(SESSIONLESS_PROTOCOL_VERSION));
        if !result.contains_key("serverInfo") {
            let info = result.get("_meta").and_then(|m| m.get(SERVER_INFO_META)).cloned();
            result.insert("serverInfo".into(), info.unwrap_or_else(|| json!({})));
        }
        Ok(Some((Value::Object(result), envelope)))
    }

    /// Sends one request and waits for its `result`, parsed.
    async fn exchange(&self, request: Outgoing) -> Result<Value> {
        let id = match request.kind() {
            Message::Request { id, .. } => id.as_u64().expect("requests the core makes have numeric ids"),
            _ => unreachable!("exchange sends requests"),
        };
        let (reply, replied) = oneshot::channel();
        let _ = self.pending.insert(id, Entry::new(reply));
        if let Err(e) = self.transport.send(request).await {
            self.pending.remove(id);
            return Err(e.error);
        }
        let result = replied
            .await
            .unwrap_or(Err(SendError::delivered(Error::Closed)))
            .map_err(|e| e.error)?;
        serde_json::from_str(result.get()).map_err(|e| Error::Protocol(format!("result: {e}")))
    }

    /// This sessionless session's transport and pending map with another
    /// client identity and request handler: over stdio, where a process
    /// has one connection, each session still declares its own `clientInfo`
    /// and capabilities in every request (MCP 2026-07-28 keeps no state
    /// between requests). `None` for a session with a handshake.
    pub(crate) fn view(&self, identity: &ClientIdentity, requests: Option<RequestHandler>) -> Option<Session> {
        let mut envelope = self.envelope.clone()?;
        envelope.insert(CLIENT_INFO_META.into(), identity.client_info.clone());
        envelope.insert(CLIENT_CAPABILITIES_META.into(), identity.capabilities.clone());
        Some(Session {
            transport: self.transport.clone(),
            pending: self.pending.clone(),
            init: self.init.clone(),
            envelope: Some(envelope),
            requests: requests.or_else(|| self.requests.clone()),
            view: true,
            state: self.state.clone(),
        })
    }

    /// Whether the session speaks the sessionless 2026-07-28 revision.
    pub(crate) fn is_sessionless(&self) -> bool {
        self.envelope.is_some()
    }

    /// Encodes a request on this session (see [`Outgoing::request`]). With
    /// the sessionless revision the params get the revision's `_meta` keys
    /// (MCP 2026-07-28: every request carries the protocol version, client
    /// info and capabilities): raw params are parsed for that, and params
    /// that are an array are sent as they are.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for raw params that cannot be parsed.
    pub(crate) fn encode(&self, id: u64, method: &str, params: Option<Params>, progress: bool) -> Result<Outgoing> {
        let Some(envelope) = &self.envelope else {
            return Outgoing::request(id, method, params.as_ref(), progress);
        };
        let mut params = match params {
            None => json!({}),
            Some(Params::Value(value)) => value,
            Some(Params::Raw(raw)) => {
                serde_json::from_str(raw.get()).map_err(|e| Error::InvalidArgument(format!("params: {e}")))?
            }
        };
        stamp(envelope, &mut params);
        Outgoing::request(id, method, Some(&Params::Value(params)), progress)
    }

    /// Answers the `inputRequests` of an `InputRequiredResult` (MCP
    /// 2026-07-28: the sessionless revision's server requests) with
    /// `handler`, else the session's handler; resolves with the
    /// `inputResponses` keyed as the requests.
    ///
    /// # Errors
    ///
    /// A handler's error; [`Error::JsonRpc`] -32601 when no handler is set.
    pub(crate) async fn fulfill(&self, result: &Value, handler: Option<RequestHandler>) -> Result<Map<String, Value>> {
        let mut responses = Map::new();
        let Some(requests) = result.get("inputRequests").and_then(Value::as_object) else {
            return Ok(responses);
        };
        for (key, request) in requests {
            let method = request.get("method").and_then(Value::as_str).unwrap_or("").to_owned();
            let mut message = json!({ "jsonrpc": "2.0", "id": key, "method": method });
            if let Some(params) = request.get("params") {
                message["params"] = params.clone();
            }
            let answer = match handler.clone().or_else(|| self.requests.clone()) {
                Some(handler) => handler(message).await?,
                None => {
                    return Err(Error::JsonRpc {
                        code: -32601,
                        message: format!("Method not found: {method}"),
                        data: None,
                    })
                }
            };
            responses.insert(key.clone(), answer);
        }
        Ok(responses)
    }

    /// Checks that the server answers (MCP 2025-06-18, Basic / Utilities /
    /// Ping; the sessionless revision has no `ping`, so `server/discover`),
    /// within `timeout`.
    pub(crate) async fn ping(&self, id: u64, timeout: std::time::Duration) -> std::result::Result<(), String> {
        let method = if self.is_sessionless() { DISCOVER } else { "ping" };
        let request = match self.encode(id, method, None, false) {
            Ok(request) => request,
            Err(e) => return Err(e.to_string()),
        };
        let outcome = tokio::time::timeout(timeout, self.exchange(request)).await;
        self.pending.remove(id);
        match outcome {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer to ping within {} ms", timeout.as_millis())),
        }
    }

    /// Ends the session: waiting calls fail with `error`, and the server is
    /// told (HTTP DELETE).
    pub(crate) async fn close(&self, error: impl Fn() -> Error + Copy) {
        if self.view {
            return;
        }
        self.pending.fail_all(error);
        self.transport.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Map<String, Value> {
        let mut envelope = Map::new();
        envelope.insert(PROTOCOL_VERSION_META.into(), json!(SESSIONLESS_PROTOCOL_VERSION));
        envelope.insert(CLIENT_INFO_META.into(), json!({ "name": "c", "version": "1" }));
        envelope
    }

    #[test]
    fn stamp_adds_the_envelope_to_params_meta_and_keeps_what_is_there() {
        let mut bare = json!({});
        stamp(&envelope(), &mut bare);
        assert_eq!(bare["_meta"][PROTOCOL_VERSION_META], SESSIONLESS_PROTOCOL_VERSION);
        assert_eq!(bare["_meta"][CLIENT_INFO_META]["name"], "c");

        let mut call = json!({ "name": "t", "_meta": { "traceparent": "00-1-2-01" } });
        stamp(&envelope(), &mut call);
        assert_eq!(call["name"], "t");
        assert_eq!(call["_meta"]["traceparent"], "00-1-2-01");
        assert_eq!(call["_meta"][PROTOCOL_VERSION_META], SESSIONLESS_PROTOCOL_VERSION);
        // A call that asks for progress carries both.
        let request = Outgoing::request(5, "tools/call", Some(&Params::Value(call)), true).unwrap();
        let sent: Value = serde_json::from_slice(request.bytes()).unwrap();
        assert_eq!(sent["params"]["_meta"]["progressToken"], 5);
        assert_eq!(sent["params"]["_meta"][CLIENT_INFO_META]["name"], "c");

        // Array params cannot carry `_meta`: left as they are.
        let mut positional = json!([1, 2]);
        stamp(&envelope(), &mut positional);
        assert_eq!(positional, json!([1, 2]));
    }

    #[test]
    fn session_state_keeps_the_last_level_and_the_subscriptions_left_in_first_order() {
        let state = SessionState::default();
        assert!(state.requests().is_empty());
        state.record("logging/setLevel", Some(&json!({ "level": "debug" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://1" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://2" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://1" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://3" })));
        state.record("resources/unsubscribe", Some(&json!({ "uri": "a://2" })));
        state.record("logging/setLevel", Some(&json!({ "level": "error", "_meta": { "x": 1 } })));
        assert_eq!(
            state.requests(),
            vec![
                ("logging/setLevel", json!({ "level": "error" })),
                ("resources/subscribe", json!({ "uri": "a://1" })),
                ("resources/subscribe", json!({ "uri": "a://3" })),
            ]
        );
    }

    #[test]
    fn session_state_ignores_other_methods_and_params_without_their_member() {
        let state = SessionState::default();
        assert!(SessionState::records("resources/subscribe"));
        assert!(!SessionState::records("tools/call"));
        state.record("tools/call", Some(&json!({ "uri": "a://1", "level": "debug" })));
        state.record("resources/subscribe", None);
        state.record("resources/subscribe", Some(&json!({ "uri": 7 })));
        state.record("logging/setLevel", Some(&json!({})));
        assert!(state.requests().is_empty());
    }
}
