//! MCP sessions on a workspace's server.
//!
//! A `Session` is one MCP session (MCP 2025-06-18, Basic / Lifecycle) on
//! one server: its own transport connection, `Mcp-Session-Id`, pending map
//! and inbox (`SessionInbox`, [`crate::protocol::dispatch`]). Every server has a default session, used by
//! [`Bridge::call`](crate::Bridge::call). A
//! [`SessionHandle`](crate::SessionHandle) is a further session a caller
//! opens with its own `clientInfo`, capabilities and request handler; it
//! outlives server restarts by initializing again, on its next call, against
//! the new server. The handshake itself is the protocol layer's
//! ([`crate::protocol::handshake`]).
//!
//! Over streamable HTTP the transport keeps a session alive on its own
//! ([`crate::transport::http`]): it listens on the session's `GET` stream,
//! whose messages reach the same inbox as those of responses, and when the
//! server ends the session (HTTP 404) it initializes a new one with the same
//! `initialize` parameters, checked as the first handshake checks them, so a
//! `Session` outlives that too (streamable HTTP's own session management:
//! MCP 2025-06-18, Basic / Transports / Streamable HTTP, "Session
//! Management").
//!
//! What a client sets on its MCP session and the server keeps, its logging
//! level (`logging/setLevel`) and its resource subscriptions
//! (`resources/subscribe`, `resources/unsubscribe`), is recorded as the
//! server accepts it (`SessionState`, [`crate::protocol::replay`]) and set again on every new MCP
//! session that replaces it: after a server restart, and after the server
//! ended the session (HTTP 404), so a client that set them does not see the
//! replacement.
//!
//! With the sessionless 2026-07-28 revision ([`Protocol::Sessionless`], or
//! [`Protocol::Auto`] against a server that offers it) a session is
//! client-side state only: `server/discover` replaces `initialize`, every
//! request carries the session's identity in `_meta`, and the server's
//! requests during a call arrive as an `InputRequiredResult`, which the call
//! answers with the same request handlers and sends again
//! (`Session::fulfill`). Server notifications come on a
//! `subscriptions/listen` request the session keeps open
//! ([`crate::protocol::listen`]), which also carries the updates of the
//! resources subscribed with `resources/subscribe` (`Session::subscription`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::call::{NotificationHandler, RequestHandler};
use crate::config::Protocol;
use crate::error::{Error, Result};
use crate::jsonrpc::{Message, Outgoing, Params};
use crate::pending::{Entry, Pending};
use crate::protocol::dispatch::SessionInbox;
use crate::protocol::handshake::{self, Renewer, DISCOVER};
use crate::protocol::listen::{Listener, Wiring};
use crate::protocol::version::Revision;
use crate::transport::http::HttpTransport;
use crate::transport::{Inbox, SendError, Transport};

pub use crate::protocol::handshake::ClientIdentity;
pub(crate) use crate::protocol::replay::SessionState;

/// Connects a session to a server's streamable HTTP endpoint, sending
/// `headers` with every request.
pub(crate) fn http_connect<'a>(
    url: &'a str,
    connector: crate::transport::connect::Connector,
    headers: &'a [(String, String)],
    max_message_bytes: usize,
    state: Arc<SessionState>,
) -> impl FnOnce(Arc<dyn Inbox>) -> Result<Arc<dyn Transport>> + 'a {
    move |inbox| {
        let transport = HttpTransport::new(url, connector, inbox, max_message_bytes)?
            .with_headers(headers)?
            .renewing(Arc::new(Renewer { state }));
        Ok(Arc::new(transport) as Arc<dyn Transport>)
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
    /// With the sessionless revision: the `subscriptions/listen` request
    /// kept open ([`crate::protocol::listen`]), shared with views.
    listener: Option<Arc<Listener>>,
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
        next_id: &Arc<AtomicU64>,
        notifications: Option<NotificationHandler>,
        requests: Option<RequestHandler>,
        state: Arc<SessionState>,
    ) -> Result<Session> {
        let pending = Arc::new(Pending::new());
        let router = Arc::new(SessionInbox {
            workspace: workspace.to_owned(),
            pending: pending.clone(),
            transport: OnceLock::new(),
            notifications,
            requests: requests.clone(),
            listener: OnceLock::new(),
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
            listener: None,
        };
        if protocol != Protocol::Stateful {
            match session.discover(identity, next_id.fetch_add(1, Ordering::Relaxed)).await {
                Ok(Some((init, envelope))) => {
                    let wiring = Wiring {
                        transport: session.transport.clone(),
                        envelope: envelope.clone(),
                        state: session.state.clone(),
                        workspace: workspace.to_owned(),
                    };
                    let listener = Listener::start(wiring, next_id.clone());
                    let _ = router.listener.set(listener.clone());
                    session.listener = Some(listener);
                    session.init = init;
                    session.envelope = Some(envelope);
                    return Ok(session);
                }
                Ok(None) if protocol == Protocol::Sessionless => {
                    return Err(Error::Protocol(format!(
                        "the server does not offer the sessionless MCP revision {}",
                        Revision::SESSIONLESS
                    )))
                }
                Err(e) if protocol == Protocol::Sessionless => return Err(e),
                // `auto`: a server that refuses or does not know
                // `server/discover` speaks the handshake revisions.
                Ok(None) | Err(Error::JsonRpc { .. } | Error::Protocol(_)) => {
                    session.transport.set_protocol_version(None, false);
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
        let params = handshake::initialize_params(identity);
        let init = self.exchange(self.encode(id, "initialize", Some(Params::Value(params)), false)?).await?;
        let revision = handshake::negotiated(&init)?;
        self.transport.set_protocol_version(Some(revision.as_str()), false);
        self.transport
            .send(Outgoing::notification("notifications/initialized", None))
            .await
            .map_err(|e| e.error)?;
        Ok(init)
    }

    /// `server/discover` at the sessionless revision. `None` when the server
    /// answers but does not offer that revision; else the result (see
    /// [`handshake::discovered`]) and the request envelope.
    async fn discover(&self, identity: &ClientIdentity, id: u64) -> Result<Option<(Value, Map<String, Value>)>> {
        let envelope = handshake::envelope(identity);
        self.transport.set_protocol_version(Some(Revision::SESSIONLESS.as_str()), true);
        let mut params = json!({});
        handshake::stamp(&envelope, &mut params);
        let request = Outgoing::request(id, DISCOVER, Some(&Params::Value(params)), false)?;
        Ok(handshake::discovered(self.exchange(request).await?)?.map(|result| (result, envelope)))
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
        let envelope = handshake::with_identity(self.envelope.clone()?, identity);
        Some(Session {
            transport: self.transport.clone(),
            pending: self.pending.clone(),
            init: self.init.clone(),
            envelope: Some(envelope),
            requests: requests.or_else(|| self.requests.clone()),
            view: true,
            state: self.state.clone(),
            listener: self.listener.clone(),
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
        handshake::stamp(envelope, &mut params);
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

    /// `resources/subscribe` or `resources/unsubscribe` on a sessionless
    /// session, which the revision replaced with `subscriptions/listen`:
    /// records it as the handshake revisions' sessions do, opens the listen
    /// request again with the session's subscriptions, and answers `{}` once
    /// the server acknowledged it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] without a string `uri`; [`Error::JsonRpc`]
    /// -32602 when the acknowledgment leaves a subscribed URI out (the
    /// server offers no resource subscriptions, or not that one);
    /// [`Error::Transport`] when the new listen request failed before any
    /// acknowledgment; [`Error::Closed`] when the session closed first. A
    /// subscription that ends in an error, or whose future is dropped
    /// before the acknowledgment, is not kept.
    pub(crate) async fn subscription(&self, method: &str, params: Option<&Value>) -> Result<Value> {
        let Some(listener) = &self.listener else {
            return Err(Error::InvalidArgument(format!("{method} needs a sessionless session")));
        };
        let Some(uri) = params.and_then(|p| p.get("uri")).and_then(Value::as_str) else {
            return Err(Error::InvalidArgument(format!("{method}: params.uri must be a string")));
        };
        self.state.record(method, params);
        // A subscription not acknowledged (refused, failed, or the call
        // abandoned: this future dropped) is not kept.
        let mut undo = (method == "resources/subscribe").then(|| UndoSubscribe { state: &self.state, params });
        let honored = listener.renew().await?;
        let accepted = honored
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .is_some_and(|uris| uris.iter().any(|u| u.as_str() == Some(uri)));
        if undo.is_some() && !accepted {
            return Err(Error::JsonRpc {
                code: -32602,
                message: format!("the server did not accept a subscription to {uri} (subscriptions/listen)"),
                data: None,
            });
        }
        if let Some(undo) = undo.take() {
            std::mem::forget(undo);
        }
        Ok(json!({}))
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

    /// Ends its `subscriptions/listen` request, if any, for good (its
    /// process is gone). A view's is its base session's.
    pub(crate) fn stop_listening(&self) {
        if let Some(listener) = &self.listener {
            listener.close();
        }
    }

    /// Ends the session: waiting calls fail with `error`, and the server is
    /// told (HTTP DELETE).
    pub(crate) async fn close(&self, error: impl Fn() -> Error + Copy) {
        if self.view {
            return;
        }
        if let Some(listener) = &self.listener {
            listener.close();
        }
        self.pending.fail_all(error);
        self.transport.close().await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let (false, Some(listener)) = (self.view, &self.listener) {
            listener.close();
        }
    }
}

/// Takes back a `resources/subscribe` recorded in a session's state when
/// dropped, unless forgotten once the server acknowledged it.
struct UndoSubscribe<'a> {
    state: &'a SessionState,
    params: Option<&'a Value>,
}

impl Drop for UndoSubscribe<'_> {
    fn drop(&mut self) {
        self.state.record("resources/unsubscribe", self.params);
    }
}
