//! Dispatch of what the server sends on one MCP session: the session's
//! inbox.

use std::sync::{Arc, OnceLock, Weak};

use serde_json::{json, Value};

use crate::call::{NotificationHandler, Progress, RequestHandler};
use crate::error::Error;
use crate::jsonrpc::{Incoming, Message, Outgoing};
use crate::pending::Pending;
use crate::protocol::listen::{Listener, ACKNOWLEDGED};
use crate::transport::{Inbox, SendError, Transport};

/// Routes what the server sends on one session: responses and progress to
/// waiting calls, other notifications to the bridge's handler, and server
/// requests to the call's, the session's handler, or -32601.
pub(crate) struct SessionInbox {
    pub workspace: String,
    pub pending: Arc<Pending>,
    /// The transport its answers to server requests go back on, set once
    /// the transport exists.
    pub transport: OnceLock<Weak<dyn Transport>>,
    pub notifications: Option<NotificationHandler>,
    pub requests: Option<RequestHandler>,
    /// The session's `subscriptions/listen`, which takes its
    /// acknowledgments (sessionless revision), set once it starts.
    pub listener: OnceLock<Arc<Listener>>,
}

impl SessionInbox {
    /// Whether its transport cannot tie server requests to calls (a stdio
    /// process's one MCP session, shared by every session of the workspace).
    fn shared(&self) -> bool {
        self.transport.get().and_then(Weak::upgrade).is_some_and(|t| !t.relates_server_requests())
    }

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

impl Inbox for SessionInbox {
    fn deliver(&self, incoming: Incoming, related: Option<&Value>) {
        match incoming.kind.clone() {
            Message::Response { id } => {
                // The listen request's response is no call's.
                let mut incoming = Some(incoming);
                let take = || incoming.take().expect("taken once").into_result().map_err(SendError::delivered);
                if self.listener.get().is_some_and(|listener| listener.settle(&id, take)) {
                    return;
                }
                if !self.pending.complete(incoming.expect("not taken")) {
                    tracing::warn!(workspace = self.workspace, %id, "response to no waiting call; dropped");
                }
            }
            Message::Notification { method } => {
                let message = incoming.message;
                if method == ACKNOWLEDGED {
                    if let Some(listener) = self.listener.get() {
                        listener.acknowledge(message.get("params").unwrap_or(&Value::Null));
                        return;
                    }
                }
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
                let handler = match related {
                    Some(related) => self.pending.request_handler(related),
                    // Over stdio a server request is tied to no call: it
                    // goes to the one MCP session with calls waiting, when
                    // there is exactly one.
                    None if self.shared() => self.pending.sole_session_handler(),
                    None => None,
                }
                .or_else(|| self.requests.clone());
                self.answer(id, incoming.message, handler);
            }
        }
    }

    fn fail(&self, id: &Value, error: Error) {
        let mut error = Some(error);
        if let Some(listener) = self.listener.get() {
            if listener.settle(id, || Err(SendError::delivered(error.take().expect("taken once")))) {
                return;
            }
        }
        let error = error.expect("not taken");
        if !id.as_u64().is_some_and(|id| self.pending.fail(id, SendError::delivered(error))) {
            tracing::warn!(workspace = self.workspace, %id, "unreadable response to no waiting call; dropped");
        }
    }
}

